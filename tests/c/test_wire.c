// Unit tests for wire.c, the capture reader, on crafted frames: TCP ends, SNI, plaintext alerts,
// reassembly across segments and retransmissions, a TLS 1.3 alert encrypted under a key from the
// key log (the test encrypts it itself), and frames that are truncated or not TCP at all.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/aead.h>
#include <openssl/digest.h>
#include <openssl/hkdf.h>

#include "base/alerts.h"
#include "capture/wire.h"

#define CLIENT_PORT 40000
#define SERVER_PORT 9000
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

struct capture {
  struct mh_packets p;
  uint32_t seq[2];  // next sequence number: [0] client, [1] server
};

// frame appends an Ethernet + IPv4 (or IPv6) + TCP frame from the client (|from| 'c') or the
// server, carrying |n| bytes at the direction's next sequence number (or at |seq_override|).
static void frame6(struct capture *c, char from, uint8_t flags, const void *data, size_t n,
                   int64_t seq_override, int ipv6) {
  size_t ip = ipv6 ? 40 : 20;
  size_t len = 14 + ip + 20 + n;
  uint8_t *f = calloc(1, len);
  assert_non_null(f);
  f[12] = ipv6 ? 0x86 : 0x08;
  f[13] = ipv6 ? 0xDD : 0x00;
  uint8_t *h = f + 14;
  if (ipv6) {
    h[0] = 0x60;
    h[4] = (uint8_t)((20 + n) >> 8);
    h[5] = (uint8_t)(20 + n);
    h[6] = 6;
    h[7] = 64;
    h[23] = 1;  // ::1
    h[39] = 1;
  } else {
    h[0] = 0x45;
    h[2] = (uint8_t)((ip + 20 + n) >> 8);
    h[3] = (uint8_t)(ip + 20 + n);
    h[8] = 64;
    h[9] = 6;
    h[12] = h[16] = 127;
    h[15] = h[19] = 1;
  }
  uint8_t *t = h + ip;
  int d = from == 'c' ? 0 : 1;
  int sport = d == 0 ? CLIENT_PORT : SERVER_PORT, dport = d == 0 ? SERVER_PORT : CLIENT_PORT;
  uint32_t seq = seq_override >= 0 ? (uint32_t)seq_override : c->seq[d];
  t[0] = (uint8_t)(sport >> 8);
  t[1] = (uint8_t)sport;
  t[2] = (uint8_t)(dport >> 8);
  t[3] = (uint8_t)dport;
  t[4] = (uint8_t)(seq >> 24);
  t[5] = (uint8_t)(seq >> 16);
  t[6] = (uint8_t)(seq >> 8);
  t[7] = (uint8_t)seq;
  t[12] = 5 << 4;
  t[13] = flags;
  if (n > 0) {
    memcpy(t + 20, data, n);
  }
  if (seq_override < 0) {
    c->seq[d] += (uint32_t)n + ((flags & (TH_SYN | TH_FIN)) ? 1 : 0);
  }
  if (c->p.num == c->p.cap) {
    c->p.cap = c->p.cap ? c->p.cap * 2 : 16;
    c->p.items = realloc(c->p.items, c->p.cap * sizeof(*c->p.items));
    assert_non_null(c->p.items);
  }
  c->p.items[c->p.num++] =
      (struct mh_packet){.caplen = (uint32_t)len, .origlen = (uint32_t)len, .data = f};
}

static void frame(struct capture *c, char from, uint8_t flags, const void *data, size_t n) {
  frame6(c, from, flags, data, n, -1, 0);
}

static void handshake_tcp(struct capture *c, int ipv6) {
  memset(c, 0, sizeof(*c));
  c->p.linktype = 1;  // Ethernet, as Linux captures loopback
  c->seq[0] = 1000;
  c->seq[1] = 5000;
  frame6(c, 'c', TH_SYN, NULL, 0, -1, ipv6);
  frame6(c, 's', TH_SYN | TH_ACK, NULL, 0, -1, ipv6);
}

// record writes a TLS record header and |n| bytes of body into |out|; returns its length.
static size_t record(uint8_t *out, uint8_t type, const void *body, size_t n) {
  out[0] = type;
  out[1] = 3;
  out[2] = 3;
  out[3] = (uint8_t)(n >> 8);
  out[4] = (uint8_t)n;
  memcpy(out + 5, body, n);
  return 5 + n;
}

// client_hello builds a handshake record carrying a ClientHello with |random| and SNI |name|.
static size_t client_hello(uint8_t *out, const uint8_t random[32], const char *name) {
  uint8_t b[512];
  size_t n = 0, nl = strlen(name);
  b[n++] = 3;
  b[n++] = 3;
  memcpy(b + n, random, 32);
  n += 32;
  b[n++] = 0;  // session id
  b[n++] = 0;
  b[n++] = 2;
  b[n++] = 0x13;
  b[n++] = 0x01;  // TLS_AES_128_GCM_SHA256
  b[n++] = 1;
  b[n++] = 0;  // null compression
  size_t ext = 4 + 5 + nl;
  b[n++] = (uint8_t)(ext >> 8);
  b[n++] = (uint8_t)ext;
  b[n++] = 0;
  b[n++] = 0;  // server_name
  b[n++] = (uint8_t)((5 + nl) >> 8);
  b[n++] = (uint8_t)(5 + nl);
  b[n++] = (uint8_t)((3 + nl) >> 8);
  b[n++] = (uint8_t)(3 + nl);
  b[n++] = 0;  // host_name
  b[n++] = (uint8_t)(nl >> 8);
  b[n++] = (uint8_t)nl;
  memcpy(b + n, name, nl);
  n += nl;
  uint8_t hs[600];
  hs[0] = 1;
  hs[1] = 0;
  hs[2] = (uint8_t)(n >> 8);
  hs[3] = (uint8_t)n;
  memcpy(hs + 4, b, n);
  return record(out, 22, hs, 4 + n);
}

// server_hello_13 builds a ServerHello that selects TLS 1.3 (supported_versions) and AES-128-GCM.
static size_t server_hello_13(uint8_t *out) {
  uint8_t b[128];
  size_t n = 0;
  b[n++] = 3;
  b[n++] = 3;
  memset(b + n, 0x5a, 32);
  n += 32;
  b[n++] = 0;
  b[n++] = 0x13;
  b[n++] = 0x01;
  b[n++] = 0;
  b[n++] = 0;
  b[n++] = 6;  // extensions length
  b[n++] = 0;
  b[n++] = 43;  // supported_versions
  b[n++] = 0;
  b[n++] = 2;
  b[n++] = 3;
  b[n++] = 4;
  uint8_t hs[160];
  hs[0] = 2;
  hs[1] = 0;
  hs[2] = 0;
  hs[3] = (uint8_t)n;
  memcpy(hs + 4, b, n);
  return record(out, 22, hs, 4 + n);
}

// label derives HKDF-Expand-Label(secret, label, "", len) for SHA-256 (RFC 8446 §7.1).
static void label(const uint8_t *secret, const char *l, uint8_t *out, size_t len) {
  uint8_t info[64];
  size_t ll = strlen(l);
  info[0] = 0;
  info[1] = (uint8_t)len;
  info[2] = (uint8_t)(6 + ll);
  memcpy(info + 3, "tls13 ", 6);
  memcpy(info + 9, l, ll);
  info[9 + ll] = 0;
  assert_int_equal(HKDF_expand(out, len, EVP_sha256(), secret, 32, info, 10 + ll), 1);
}

// encrypted_alert builds a TLS 1.3 record holding alert |desc| encrypted under |secret| (the first
// record of that key: sequence number 0).
static size_t encrypted_alert(uint8_t *out, const uint8_t secret[32], uint8_t desc) {
  uint8_t key[16], iv[12];
  label(secret, "key", key, sizeof(key));
  label(secret, "iv", iv, sizeof(iv));
  uint8_t inner[3] = {2, desc, 21};  // level, description, content type
  size_t n = sizeof(inner) + 16;
  out[0] = 23;
  out[1] = 3;
  out[2] = 3;
  out[3] = 0;
  out[4] = (uint8_t)n;
  EVP_AEAD_CTX ctx;
  assert_int_equal(EVP_AEAD_CTX_init(&ctx, EVP_aead_aes_128_gcm(), key, sizeof(key), 16, NULL), 1);
  size_t out_len;
  assert_int_equal(
      EVP_AEAD_CTX_seal(&ctx, out + 5, &out_len, n, iv, sizeof(iv), inner, sizeof(inner), out, 5),
      1);
  EVP_AEAD_CTX_cleanup(&ctx);
  assert_int_equal(out_len, n);
  return 5 + n;
}

static void free_capture(struct capture *c) {
  mh_capture_packets_free(&c->p);
}

// A TLS 1.2 server that refuses with a plaintext fatal alert and resets: the reader names the
// alert, its sender and both TCP ends, and reads the SNI from the ClientHello.
static void test_plaintext_alert_and_rst(void **state) {
  (void)state;
  struct capture c;
  handshake_tcp(&c, 0);
  uint8_t random[32], buf[1024];
  memset(random, 7, sizeof(random));
  frame(&c, 'c', TH_ACK, buf, client_hello(buf, random, "location-a.semstreams.local"));
  uint8_t alert[2] = {2, 42};
  frame(&c, 's', TH_ACK, buf, record(buf, 21, alert, 2));
  frame(&c, 's', TH_RST, NULL, 0);
  frame(&c, 'c', TH_FIN | TH_ACK, NULL, 0);
  struct mh_wire_view w;
  mh_wire_analyze(&c.p, CLIENT_PORT, "", &w);
  assert_int_equal(w.frames, 6);
  assert_string_equal(w.sni, "location-a.semstreams.local");
  assert_int_equal(w.tls13, 0);
  assert_int_equal(w.num_alerts, 1);
  assert_int_equal(w.alerts[0].from, 's');
  assert_int_equal(w.alerts[0].encrypted, 0);
  assert_int_equal(mh_wire_first_fatal(&w, 's'), 42);
  assert_int_equal(mh_wire_first_fatal(&w, 'c'), MH_ALERT_NONE);
  assert_int_equal(w.server_end, MH_END_RST);
  assert_int_equal(w.client_end, MH_END_FIN);
  free_capture(&c);
}

// A record cut over two segments, one of them retransmitted, is read once; a warning alert is not a
// fatal one; frames of another connection are ignored.
static void test_reassembly_and_retransmission(void **state) {
  (void)state;
  struct capture c;
  handshake_tcp(&c, 1);
  uint8_t buf[64];
  uint8_t warn[2] = {1, 0};  // close_notify, warning
  uint8_t fatal[2] = {2, 48};
  size_t n = record(buf, 21, warn, 2);
  n += record(buf + n, 21, fatal, 2);
  uint32_t first = c.seq[1];
  frame6(&c, 's', TH_ACK, buf, 4, -1, 1);
  frame6(&c, 's', TH_ACK, buf, 4, first, 1);  // the same bytes again
  frame6(&c, 's', TH_ACK, buf + 4, n - 4, -1, 1);
  struct capture other;
  handshake_tcp(&other, 0);
  struct mh_wire_view w;
  mh_wire_analyze(&c.p, CLIENT_PORT + 1, "", &w);  // not our port: nothing is ours
  assert_int_equal(w.frames, 0);
  assert_int_equal(w.num_alerts, 0);
  mh_wire_analyze(&c.p, CLIENT_PORT, "", &w);
  assert_int_equal(w.num_alerts, 2);
  assert_int_equal(w.alerts[0].level, 1);
  assert_int_equal(mh_wire_first_fatal(&w, 's'), 48);
  assert_int_equal(w.server_end, MH_END_NONE);
  free_capture(&c);
  free_capture(&other);
}

// A TLS 1.3 server's alert is encrypted: with the key log it is named, without it it is counted as
// undecrypted and never guessed.
static void test_tls13_alert_decrypted_with_key_log(void **state) {
  (void)state;
  uint8_t random[32], secret[32], buf[1024];
  for (int i = 0; i < 32; i++) {
    random[i] = (uint8_t)i;
    secret[i] = (uint8_t)(0xa0 + i);
  }
  char keylog[300];
  size_t k = (size_t)snprintf(keylog, sizeof(keylog), "SERVER_TRAFFIC_SECRET_0 ");
  for (int i = 0; i < 32; i++) {
    k += (size_t)snprintf(keylog + k, sizeof(keylog) - k, "%02x", random[i]);
  }
  k += (size_t)snprintf(keylog + k, sizeof(keylog) - k, " ");
  for (int i = 0; i < 32; i++) {
    k += (size_t)snprintf(keylog + k, sizeof(keylog) - k, "%02x", secret[i]);
  }
  snprintf(keylog + k, sizeof(keylog) - k, "\n");

  struct capture c;
  handshake_tcp(&c, 0);
  frame(&c, 'c', TH_ACK, buf, client_hello(buf, random, "b.example"));
  size_t n = server_hello_13(buf);
  n += encrypted_alert(buf + n, secret, 116);
  frame(&c, 's', TH_ACK, buf, n);
  frame(&c, 's', TH_FIN | TH_ACK, NULL, 0);

  struct mh_wire_view w;
  mh_wire_analyze(&c.p, CLIENT_PORT, keylog, &w);
  assert_int_equal(w.tls13, 1);
  assert_int_equal(w.undecrypted, 0);
  assert_int_equal(w.num_alerts, 1);
  assert_int_equal(w.alerts[0].encrypted, 1);
  assert_int_equal(mh_wire_first_fatal(&w, 's'), 116);
  assert_int_equal(w.server_end, MH_END_FIN);

  mh_wire_analyze(&c.p, CLIENT_PORT, "", &w);
  assert_int_equal(w.tls13, 1);
  assert_int_equal(w.undecrypted, 1);
  assert_int_equal(w.num_alerts, 0);
  assert_int_equal(mh_wire_first_fatal(&w, 's'), MH_ALERT_NONE);
  // A key log for another connection (another client random) opens nothing either.
  keylog[24] = keylog[24] == '0' ? '1' : '0';
  mh_wire_analyze(&c.p, CLIENT_PORT, keylog, &w);
  assert_int_equal(w.undecrypted, 1);
  free_capture(&c);
}

// Truncated frames, frames of another link type or protocol, and records whose length runs past the
// stream are skipped without reading out of bounds (ASan checks it).
// Every alert of the TLS registry (RFC 8446, RFC 5246 and the extensions' RFCs) has its name, so
// that no alert a stack sends is shown as "unknown" (alert 100 was); codes outside it are.
static void test_every_registered_alert_is_named(void **state) {
  (void)state;
  static const int registered[] = {0,   10,  20,  21,  22,  30,  40,  41,  42,  43,  44, 45,
                                   46,  47,  48,  49,  50,  51,  60,  70,  71,  80,  86, 90,
                                   100, 109, 110, 111, 112, 113, 114, 115, 116, 120, 121};
  for (size_t i = 0; i < sizeof(registered) / sizeof(registered[0]); i++) {
    assert_string_not_equal(mh_alert_name(registered[i]), "unknown");
  }
  assert_string_equal(mh_alert_name(100), "no_renegotiation");
  assert_string_equal(mh_alert_go_text(100), "no renegotiation");
  assert_string_equal(mh_alert_name(99), "unknown");
  assert_string_equal(mh_alert_name(255), "unknown");
}

static void test_hostile_frames(void **state) {
  (void)state;
  struct capture c;
  handshake_tcp(&c, 0);
  uint8_t junk[3] = {22, 3, 3};
  frame(&c, 's', TH_ACK, junk, sizeof(junk));  // a record header cut short
  uint8_t lying[5] = {21, 3, 3, 0xff, 0xff};   // claims 64 KiB
  frame(&c, 's', TH_ACK, lying, sizeof(lying));
  uint8_t udp[60] = {0};
  udp[12] = 0x08;
  udp[14] = 0x45;
  udp[23] = 17;
  // A UDP datagram, a frame cut inside its IP header and one cut inside its TCP header.
  struct mh_packet extra[3] = {{.caplen = sizeof(udp), .origlen = sizeof(udp), .data = udp},
                               {.caplen = 20, .origlen = 60, .data = c.p.items[3].data},
                               {.caplen = 40, .origlen = 60, .data = c.p.items[3].data}};
  struct mh_packets p = c.p;
  struct mh_packet all[16];
  size_t num = 0;
  for (size_t i = 0; i < p.num && num < 14; i++) {
    all[num++] = p.items[i];
  }
  for (size_t i = 0; i < 3; i++) {
    all[num++] = extra[i];
  }
  p.items = all;
  p.num = num;
  struct mh_wire_view w;
  mh_wire_analyze(&p, CLIENT_PORT, "garbage\nSERVER_TRAFFIC_SECRET_0 zz", &w);
  assert_int_equal(w.num_alerts, 0);
  assert_int_equal(w.frames, 4);
  p.linktype = 228;  // raw IPv4: not read
  mh_wire_analyze(&p, CLIENT_PORT, "", &w);
  assert_int_equal(w.frames, 0);
  free_capture(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plaintext_alert_and_rst),
      cmocka_unit_test(test_reassembly_and_retransmission),
      cmocka_unit_test(test_tls13_alert_decrypted_with_key_log),
      cmocka_unit_test(test_hostile_frames),
      cmocka_unit_test(test_every_registered_alert_is_named),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
