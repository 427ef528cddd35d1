// wire: decoding a captured case (see wire.h).
//
// Frames are Ethernet (loopback on Linux) or Linux cooked captures, IPv4 or IPv6, TCP. Each
// direction is reassembled by sequence number, then cut into TLS records. TLS 1.3 encrypted records
// are tried with the direction's handshake key, then its application key (RFC 8446 §7.1-7.3);
// which key opens a record tells where the handshake is.
#include "capture/wire.h"

#include "base/alerts.h"

#include <arpa/inet.h>
#include <openssl/aead.h>
#include <openssl/digest.h>
#include <openssl/hkdf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LINKTYPE_ETHERNET 1
#define LINKTYPE_LINUX_SLL 113

struct stream {
  uint8_t *data;
  size_t len, cap;
  uint32_t next_seq;
  int have_seq;
  int fin, rst;
};

static void stream_add(struct stream *s, uint32_t seq, const uint8_t *p, size_t n) {
  if (!s->have_seq) {
    s->next_seq = seq;
    s->have_seq = 1;
  }
  int32_t delta = (int32_t)(seq - s->next_seq);
  if (delta < 0) {  // retransmission: keep only what is new
    // Behind by 1 to 2^31, computed unsigned: -delta overflows for 2^31 (a peer picks seq).
    size_t behind = (uint32_t)(s->next_seq - seq);
    if (behind >= n) {
      return;
    }
    p += behind;
    n -= behind;
  }
  if (s->len + n > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 8192;
    while (cap < s->len + n) {
      cap *= 2;
    }
    uint8_t *d = realloc(s->data, cap);
    if (d == NULL) {
      return;
    }
    s->data = d;
    s->cap = cap;
  }
  memcpy(s->data + s->len, p, n);
  s->len += n;
  s->next_seq += (uint32_t)n;
}

// split parses one frame down to TCP; returns 0 and fills the fields, or -1.
static int split(int linktype, const uint8_t *f, size_t n, int *sport, int *dport, uint32_t *seq,
                 uint8_t *flags, const uint8_t **payload, size_t *plen) {
  size_t off;
  uint16_t proto;
  if (linktype == LINKTYPE_ETHERNET && n >= 14) {
    off = 14;
    proto = (uint16_t)(f[12] << 8 | f[13]);
  } else if (linktype == LINKTYPE_LINUX_SLL && n >= 16) {
    off = 16;
    proto = (uint16_t)(f[14] << 8 | f[15]);
  } else {
    return -1;
  }
  size_t tcp;
  if (proto == 0x0800 && n >= off + 20 && f[off + 9] == 6) {
    size_t ihl = (size_t)(f[off] & 0x0f) * 4;
    size_t total = (size_t)(f[off + 2] << 8 | f[off + 3]);
    tcp = off + ihl;
    if (off + total < n) {
      n = off + total;  // trailing Ethernet padding
    }
  } else if (proto == 0x86DD && n >= off + 40 && f[off + 6] == 6) {
    tcp = off + 40;
  } else {
    return -1;
  }
  if (n < tcp + 20) {
    return -1;
  }
  *sport = f[tcp] << 8 | f[tcp + 1];
  *dport = f[tcp + 2] << 8 | f[tcp + 3];
  *seq = (uint32_t)f[tcp + 4] << 24 | (uint32_t)f[tcp + 5] << 16 | (uint32_t)f[tcp + 6] << 8 |
         f[tcp + 7];
  size_t doff = (size_t)(f[tcp + 12] >> 4) * 4;
  *flags = f[tcp + 13];
  if (n < tcp + doff) {
    return -1;
  }
  *payload = f + tcp + doff;
  *plen = n - tcp - doff;
  return 0;
}

int mh_wire_frame_ports(int linktype, const uint8_t *f, size_t n, int *sport, int *dport) {
  uint32_t seq;
  uint8_t flags;
  const uint8_t *payload;
  size_t plen;
  return split(linktype, f, n, sport, dport, &seq, &flags, &payload, &plen);
}

// --- TLS 1.3 keys ---

struct dirkeys {
  int have[2];  // 0 handshake, 1 application
  EVP_AEAD_CTX ctx[2];
  uint8_t iv[2][12];
  uint64_t seq[2];
  int current;  // the key that opened the last record
};

static int hex(const char *s, uint8_t *out, size_t max) {
  size_t n = 0;
  while (s[0] && s[1] && s[0] != ' ' && s[0] != '\n' && n < max) {
    unsigned v;
    if (sscanf(s, "%2x", &v) != 1) {
      return -1;
    }
    out[n++] = (uint8_t)v;
    s += 2;
  }
  return (int)n;
}

// find_secret looks up "<label> <client_random> <secret>" in the key log.
static int find_secret(const char *keylog, const char *label, const uint8_t cr[32], uint8_t *out,
                       size_t *out_len) {
  char crhex[65];
  for (int i = 0; i < 32; i++) {
    snprintf(crhex + 2 * i, 3, "%02x", cr[i]);
  }
  size_t ll = strlen(label);
  for (const char *line = keylog; line && *line;
       line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    // The secret starts after the random and one space: a line that ends with the random has
    // none (and its NUL is the last byte of the key log).
    if (strncmp(line, label, ll) == 0 && line[ll] == ' ' &&
        strncasecmp(line + ll + 1, crhex, 64) == 0 && line[ll + 65] == ' ') {
      int n = hex(line + ll + 66, out, 64);
      if (n > 0) {
        *out_len = (size_t)n;
        return 0;
      }
    }
  }
  return -1;
}

static int expand_label(const EVP_MD *md, const uint8_t *secret, size_t slen, const char *label,
                        uint8_t *out, size_t out_len) {
  uint8_t info[64];
  size_t ll = strlen(label);
  info[0] = (uint8_t)(out_len >> 8);
  info[1] = (uint8_t)out_len;
  info[2] = (uint8_t)(6 + ll);
  memcpy(info + 3, "tls13 ", 6);
  memcpy(info + 9, label, ll);
  info[9 + ll] = 0;
  return HKDF_expand(out, out_len, md, secret, slen, info, 10 + ll);
}

static void setup_key(struct dirkeys *k, int which, uint16_t suite, const uint8_t *secret,
                      size_t slen) {
  const EVP_AEAD *aead = suite == 0x1302   ? EVP_aead_aes_256_gcm()
                         : suite == 0x1303 ? EVP_aead_chacha20_poly1305()
                                           : EVP_aead_aes_128_gcm();
  const EVP_MD *md = suite == 0x1302 ? EVP_sha384() : EVP_sha256();
  uint8_t key[32];
  size_t klen = EVP_AEAD_key_length(aead);
  if (expand_label(md, secret, slen, "key", key, klen) &&
      expand_label(md, secret, slen, "iv", k->iv[which], 12) &&
      EVP_AEAD_CTX_init(&k->ctx[which], aead, key, klen, EVP_AEAD_DEFAULT_TAG_LENGTH, NULL)) {
    k->have[which] = 1;
  }
}

// open_record decrypts a TLS 1.3 record with key |which| at its current sequence number into
// |out| (|out_cap| bytes). A record whose plaintext could exceed |out_cap| is not opened: TLS 1.3
// allows 2^14 + 256 bytes of ciphertext, and a hostile server knows the keys to send more.
static int open_record(struct dirkeys *k, int which, const uint8_t *hdr, const uint8_t *body,
                       size_t blen, uint8_t *out, size_t out_cap, size_t *out_len) {
  if (!k->have[which] || blen > out_cap) {
    return 0;
  }
  uint8_t nonce[12];
  memcpy(nonce, k->iv[which], 12);
  for (int i = 0; i < 8; i++) {
    nonce[4 + i] ^= (uint8_t)(k->seq[which] >> (56 - 8 * i));
  }
  if (!EVP_AEAD_CTX_open(&k->ctx[which], out, out_len, out_cap, nonce, 12, body, blen, hdr, 5)) {
    return 0;
  }
  k->seq[which]++;
  return 1;
}

static void add_alert(struct mh_wire_view *w, char from, int level, int desc, int encrypted) {
  if (w->num_alerts < sizeof(w->alerts) / sizeof(w->alerts[0])) {
    w->alerts[w->num_alerts++] = (struct mh_wire_alert){from, level, desc, encrypted};
  }
}

// handshake_msgs notes what matters in handshake messages: SNI, ServerHello's suite and version,
// and the server's Certificate.
static void handshake_msgs(struct mh_wire_view *w, char from, const uint8_t *p, size_t n,
                           uint8_t cr[32], int *have_cr, uint16_t *suite) {
  while (n >= 4) {
    uint8_t type = p[0];
    size_t len = (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    if (len > n - 4) {
      len = n - 4;
    }
    const uint8_t *b = p + 4;
    if (type == 1 && from == 'c' && len >= 38) {  // ClientHello
      memcpy(cr, b + 2, 32);
      *have_cr = 1;
      size_t off = 34;
      off += 1 + b[off];  // session id
      if (off + 2 <= len) {
        off += 2 + (size_t)(b[off] << 8 | b[off + 1]);  // cipher suites
      }
      if (off + 1 <= len) {
        off += 1 + b[off];  // compression
      }
      off += 2;  // extensions length
      while (off + 4 <= len) {
        uint16_t et = (uint16_t)(b[off] << 8 | b[off + 1]);
        size_t el = (size_t)(b[off + 2] << 8 | b[off + 3]);
        if (et == 0 && off + 4 + el <= len && el >= 5) {  // server_name
          size_t nl = (size_t)(b[off + 7] << 8 | b[off + 8]);
          if (nl < sizeof(w->sni) && off + 9 + nl <= len) {
            memcpy(w->sni, b + off + 9, nl);
            w->sni[nl] = '\0';
          }
        }
        off += 4 + el;
      }
    } else if (type == 2 && from == 's' && len >= 38) {  // ServerHello
      size_t off = 34;
      off += 1 + b[off];
      if (off + 2 <= len) {
        *suite = (uint16_t)(b[off] << 8 | b[off + 1]);
      }
      off += 3;
      off += 2;
      while (off + 4 <= len) {
        uint16_t et = (uint16_t)(b[off] << 8 | b[off + 1]);
        size_t el = (size_t)(b[off + 2] << 8 | b[off + 3]);
        if (et == 43 && el == 2 && b[off + 4] == 0x03 && b[off + 5] == 0x04) {
          w->tls13 = 1;
        }
        off += 4 + el;
      }
    } else if (type == 11 && from == 's') {
      w->server_certificate = 1;
    }
    p += 4 + len;
    n -= 4 + len;
  }
}

static void records(struct mh_wire_view *w, char from, const struct stream *s, struct dirkeys *k,
                    uint8_t cr[32], int *have_cr, uint16_t *suite, const char *keylog,
                    int *ccs_seen) {
  size_t off = 0;
  const size_t plain_cap = 16384 + 256;
  uint8_t *plain = malloc(plain_cap);
  if (plain == NULL) {
    return;
  }
  while (off + 5 <= s->len) {
    const uint8_t *hdr = s->data + off;
    size_t len = (size_t)(hdr[3] << 8 | hdr[4]);
    if (off + 5 + len > s->len) {
      break;
    }
    const uint8_t *body = hdr + 5;
    if (hdr[0] == 22 && !(*ccs_seen && !w->tls13)) {
      handshake_msgs(w, from, body, len, cr, have_cr, suite);
    } else if (hdr[0] == 20) {
      *ccs_seen = 1;
    } else if (hdr[0] == 21) {
      if (*ccs_seen && !w->tls13) {
        add_alert(w, from, 0, MH_WIRE_UNDECRYPTED, 1);  // TLS 1.2, after ChangeCipherSpec
        w->undecrypted++;
      } else if (len >= 2) {
        add_alert(w, from, body[0], body[1], 0);
      }
    } else if (hdr[0] == 23 && w->tls13) {
      if (*have_cr && !k->have[0] && !k->have[1]) {
        uint8_t secret[64];
        size_t slen;
        const char *hs =
            from == 'c' ? "CLIENT_HANDSHAKE_TRAFFIC_SECRET" : "SERVER_HANDSHAKE_TRAFFIC_SECRET";
        const char *ap = from == 'c' ? "CLIENT_TRAFFIC_SECRET_0" : "SERVER_TRAFFIC_SECRET_0";
        if (find_secret(keylog, hs, cr, secret, &slen) == 0) {
          setup_key(k, 0, *suite, secret, slen);
        }
        if (find_secret(keylog, ap, cr, secret, &slen) == 0) {
          setup_key(k, 1, *suite, secret, slen);
        }
      }
      size_t plen = 0;
      int ok = 0;
      for (int which = k->current; which < 2 && !ok; which++) {
        if (open_record(k, which, hdr, body, len, plain, plain_cap, &plen)) {
          ok = 1;
          k->current = which;
        }
      }
      if (!ok) {
        w->undecrypted++;
      } else {
        while (plen > 0 && plain[plen - 1] == 0) {
          plen--;  // padding
        }
        if (plen > 0) {
          uint8_t inner = plain[--plen];
          if (inner == 21 && plen >= 2) {
            add_alert(w, from, plain[0], plain[1], 1);
          } else if (inner == 22) {
            handshake_msgs(w, from, plain, plen, cr, have_cr, suite);
          }
        }
      }
    }
    off += 5 + len;
  }
  free(plain);
}

// segment is one TCP segment of a case's connection, as segment_of reads it.
struct segment {
  char from;  // 'c' the client (|client_port|), 's' the server
  uint32_t seq;
  uint8_t flags;
  const uint8_t *payload;
  size_t len;
};

// segment_of reads frame |i| of |p| into |s| when it is a TCP segment of |client_port|'s
// connection; 0, or -1 for any other frame.
static int segment_of(const struct mh_packets *p, size_t i, int client_port, struct segment *s) {
  int sport, dport;
  if (split(p->linktype, p->items[i].data, p->items[i].caplen, &sport, &dport, &s->seq, &s->flags,
            &s->payload, &s->len) != 0 ||
      (sport != client_port && dport != client_port)) {
    return -1;
  }
  s->from = sport == client_port ? 'c' : 's';
  return 0;
}

void mh_wire_analyze(const struct mh_packets *p, int client_port, const char *keylog,
                     struct mh_wire_view *w) {
  memset(w, 0, sizeof(*w));
  struct stream cs = {0}, ss = {0};
  for (size_t i = 0; i < p->num; i++) {
    struct segment g;
    if (segment_of(p, i, client_port, &g) != 0) {
      continue;
    }
    struct stream *s = g.from == 'c' ? &cs : &ss;
    w->frames++;
    if (g.flags & 0x02) {  // SYN: data starts at ISN + 1
      s->next_seq = g.seq + 1;
      s->have_seq = 1;
      continue;
    }
    if (g.flags & 0x04) {
      s->rst = 1;
    }
    if (g.flags & 0x01) {
      s->fin = 1;
    }
    if (g.len > 0) {
      stream_add(s, g.seq, g.payload, g.len);
    }
  }
  uint8_t cr[32];
  int have_cr = 0, ccs_c = 0, ccs_s = 0;
  uint16_t suite = 0x1301;
  struct dirkeys kc, ks;
  memset(&kc, 0, sizeof(kc));
  memset(&ks, 0, sizeof(ks));
  // The client's first flight names the client random; the server's names the suite and version.
  if (cs.len > 5 && cs.data[0] == 22) {
    size_t first = (size_t)(cs.data[3] << 8 | cs.data[4]);
    handshake_msgs(w, 'c', cs.data + 5, first < cs.len - 5 ? first : cs.len - 5, cr, &have_cr,
                   &suite);
  }
  records(w, 's', &ss, &ks, cr, &have_cr, &suite, keylog ? keylog : "", &ccs_s);
  records(w, 'c', &cs, &kc, cr, &have_cr, &suite, keylog ? keylog : "", &ccs_c);
  w->client_end = cs.rst ? MH_END_RST : cs.fin ? MH_END_FIN : MH_END_NONE;
  w->server_end = ss.rst ? MH_END_RST : ss.fin ? MH_END_FIN : MH_END_NONE;
  for (int i = 0; i < 2; i++) {
    if (kc.have[i]) {
      EVP_AEAD_CTX_cleanup(&kc.ctx[i]);
    }
    if (ks.have[i]) {
      EVP_AEAD_CTX_cleanup(&ks.ctx[i]);
    }
  }
  free(cs.data);
  free(ss.data);
}

int mh_wire_closed(const struct mh_packets *p, int client_port) {
  int fin_c = 0, fin_s = 0;
  for (size_t i = 0; i < p->num; i++) {
    struct segment g;
    if (segment_of(p, i, client_port, &g) != 0) {
      continue;
    }
    if (g.flags & 0x04) {
      return 1;  // a RST ends it at once
    }
    if (fin_c && fin_s) {
      return 1;  // a segment after both FINs: the last ACK
    }
    if (g.flags & 0x01) {
      fin_c |= g.from == 'c';
      fin_s |= g.from == 's';
    }
  }
  return 0;
}

int mh_wire_first_fatal(const struct mh_wire_view *w, char from) {
  for (size_t i = 0; i < w->num_alerts; i++) {
    const struct mh_wire_alert *a = &w->alerts[i];
    if (a->from != from) {
      continue;
    }
    if (a->desc == MH_WIRE_UNDECRYPTED) {
      return MH_WIRE_UNDECRYPTED;
    }
    if (a->level == 2) {
      return a->desc;
    }
  }
  return MH_ALERT_NONE;
}
