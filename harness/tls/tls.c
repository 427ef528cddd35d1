// tls: BoringSSL contexts and connections that behave like the emulated stack (see tls.h).
//
// How the Go server's decisions are reproduced with BoringSSL:
//  - Certificate verification runs in a custom verify callback, which BoringSSL calls exactly where
//    Go's processCertsFromClient runs (after the client's Certificate, before CertificateVerify),
//    so the alert goes out at the same point of the handshake with Go's code.
//  - BoringSSL does not call the verify callback when the client sends an empty Certificate, and
//    its own FAIL_IF_NO_PEER_CERT alert is handshake_failure (40) in TLS 1.2 where Go sends
//    bad_certificate (42). So a message callback inspects the client's Certificate message as it
//    arrives and, when Go would reject, sends Go's alert itself; once a fatal alert is sent
//    BoringSSL refuses to write anything else, so the client sees only that alert, as from Go.
//  - Version negotiation failures are BoringSSL's own (protocol_version, 70, as Go); the offered
//    versions are read from the ClientHello to log Go's message.
#include "tls/tls.h"

#include <openssl/base.h>
#if !defined(OPENSSL_IS_BORINGSSL)
#error "mtls-harness must be built against BoringSSL, not OpenSSL"
#endif

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <stdarg.h>
#include <openssl/base64.h>
#include <openssl/bio.h>
#include <openssl/bytestring.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/alerts.h"
#include "base/clock.h"

#define SYSTEM_ROOTS "/etc/ssl/certs/ca-certificates.crt"
#define MAX_OFFERED 16

struct mh_tls_ctx {
  SSL_CTX *ssl_ctx;
  int is_server;
  int refs;
  enum mh_tls_emulation emulate;
  int mtls;
  int require_client_cert;
  int insecure_skip_verify;
  X509_STORE *store;     // verification roots
  STACK_OF(X509) * cas;  // the same CAs, for Go's "possibly because" hint
  char **allowed_cns;
  size_t num_allowed_cns;
  EVP_PKEY *sign_key;  // probe: the key that signs although it does not match the certificate
  int load_mode;       // probe for load: skip certificate parsing, count session tickets
  int buffered;        // connections read through a struct fdbuf (see "buffered socket I/O")
  // Sessions for resumption (resume contexts): a ring, owned by the context's single thread.
  SSL_SESSION *sessions[256];
  size_t num_sessions, next_session;
  // Server: what was learnt of the client certificates behind the sessions it issued (sessions
  // keep only the certificate's hash), so that a resumed connection reports the same identity
  // and verdict. A ring; a server context is used by one thread.
  struct peer_memo *memos;
  size_t next_memo;
};

#define NUM_MEMOS 64

struct peer_memo {
  uint8_t sha256[SHA256_DIGEST_LENGTH];
  int used;
  int verify_ok;
  char peer_cn[256];
  char peer_dn[512];
  char verify_error[256];
};

struct mh_tls_conn {
  struct mh_tls_ctx *ctx;
  SSL *ssl;
  char *server_name;
  int rejected;  // a callback decided to fail the handshake and sent the alert
  uint16_t offered[MAX_OFFERED];
  size_t num_offered;
  int peer_key_id;  // EVP_PKEY_* of the peer's leaf key
  struct mh_tls_info info;
  char keylog[1536];  // this connection's secrets, NSS key log lines
  size_t keylog_len;
  struct fdbuf *rbuf;  // NULL unless the context is buffered
};

// --- buffered socket I/O ---
// BoringSSL reads exactly what it needs from its BIO: a record header, then the record's body, so
// a socket BIO costs two read(2) per record and a handshake flight of four records eight. This BIO
// reads what the kernel has (up to FDBUF_LEN) in one read(2) and serves those exact-length reads
// from it, as Go's crypto/tls does with its own input buffer. Contract, kept by mh_tls_buffered:
// the BIO asks BoringSSL to retry a read only when its buffer is empty, so after MH_IO_WANT_READ
// nothing is buffered; after any other result bytes may be, and an event loop must call again
// before it waits for the descriptor to become readable.
// It also skips the read(2) that would nearly always fail: the one right after we wrote, before
// any readiness event (the peer cannot have answered yet). Such a read returns "retry" at once; a
// level-triggered poll reports the descriptor readable if bytes did arrive, and the loop passes
// that on with mh_tls_readable.
#define FDBUF_LEN 4096

struct fdbuf {
  int fd;
  int maybe_readable;  // no write since the last readiness event or successful read
  double *first_send;  // set on the first successful send, if not NULL
  size_t off, len;
  uint8_t data[FDBUF_LEN];
};

static int fdbuf_read(BIO *b, char *out, int out_len) {
  struct fdbuf *f = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (out_len <= 0) {
    return 0;
  }
  if (f->off == f->len) {
    f->off = f->len = 0;
    if (!f->maybe_readable) {
      BIO_set_retry_read(b);
      errno = EAGAIN;
      return -1;
    }
    // A large body is read straight into BoringSSL's buffer: copying it would gain nothing.
    ssize_t n = (size_t)out_len >= FDBUF_LEN ? read(f->fd, out, (size_t)out_len)
                                             : read(f->fd, f->data, FDBUF_LEN);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      BIO_set_retry_read(b);
      f->maybe_readable = 0;
    }
    if (n <= 0 || (size_t)out_len >= FDBUF_LEN) {
      return (int)n;
    }
    f->len = (size_t)n;
  }
  size_t take = f->len - f->off < (size_t)out_len ? f->len - f->off : (size_t)out_len;
  memcpy(out, f->data + f->off, take);
  f->off += take;
  return (int)take;
}

static int fdbuf_write(BIO *b, const char *in, int in_len) {
  struct fdbuf *f = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  ssize_t n = send(f->fd, in, (size_t)in_len, MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_write(b);
  }
  if (n > 0) {
    f->maybe_readable = 0;
  }
  if (n > 0 && f->first_send != NULL) {
    *f->first_send = mh_clock_now();
    f->first_send = NULL;
  }
  return (int)n;
}

static long fdbuf_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)b;
  (void)num;
  (void)ptr;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int fdbuf_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static BIO_METHOD *fdbuf_method;
static pthread_once_t index_once = PTHREAD_ONCE_INIT;
static int conn_index = -1;

static void index_init(void) {
  conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
  fdbuf_method = BIO_meth_new(BIO_TYPE_SOURCE_SINK, "mtls-harness buffered socket");
  if (fdbuf_method != NULL) {
    BIO_meth_set_read(fdbuf_method, fdbuf_read);
    BIO_meth_set_write(fdbuf_method, fdbuf_write);
    BIO_meth_set_ctrl(fdbuf_method, fdbuf_ctrl);
    BIO_meth_set_create(fdbuf_method, fdbuf_create);
  }
}

static struct mh_tls_conn *conn_of(const SSL *ssl) {
  return SSL_get_ex_data(ssl, conn_index);
}

static void set_reason(struct mh_tls_conn *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_reason(struct mh_tls_conn *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->info.reason, sizeof(t->info.reason), fmt, ap);
  va_end(ap);
}

// --- certificates ---

// x509_time returns |t| as seconds since the epoch.
static time_t x509_time(const ASN1_TIME *t) {
  ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
  int days = 0, secs = 0;
  int ok = epoch != NULL && ASN1_TIME_diff(&days, &secs, epoch, t);
  ASN1_TIME_free(epoch);
  return ok ? (time_t)days * 86400 + secs : 0;
}

static void rfc3339(time_t t, char *out, size_t out_len) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, out_len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void name_cn(X509_NAME *name, char *out, size_t out_len) {
  out[0] = '\0';
  // Go's pkix.Name keeps the last CN attribute.
  int idx = -1, last = -1;
  while ((idx = X509_NAME_get_index_by_NID(name, NID_commonName, idx)) >= 0) {
    last = idx;
  }
  if (last < 0) {
    return;
  }
  ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, last));
  size_t n = (size_t)ASN1_STRING_length(s);
  if (n >= out_len) {
    n = out_len - 1;
  }
  memcpy(out, ASN1_STRING_get0_data(s), n);
  out[n] = '\0';
}

static void name_rfc2253(X509_NAME *name, char *out, size_t out_len) {
  out[0] = '\0';
  BIO *bio = BIO_new(BIO_s_mem());
  if (bio == NULL) {
    return;
  }
  if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
    const uint8_t *data;
    size_t len;
    BIO_mem_contents(bio, &data, &len);
    if (len >= out_len) {
      len = out_len - 1;
    }
    memcpy(out, data, len);
    out[len] = '\0';
  }
  BIO_free(bio);
}

// load_pem_certs appends every certificate of |path| to |sk|; returns how many, or -1.
static int load_pem_certs(const char *path, STACK_OF(X509) * sk) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    return -1;
  }
  int n = 0;
  X509 *x;
  while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
    if (!sk_X509_push(sk, x)) {
      X509_free(x);
      break;
    }
    n++;
  }
  ERR_clear_error();  // the read that ended the loop
  fclose(f);
  return n;
}

// peer_chain returns the certificates the peer sent, leaf first (caller frees with
// sk_X509_pop_free), or NULL if it sent none.
static STACK_OF(X509) * peer_chain(const SSL *ssl) {
  // The library parsed them already for the session being negotiated: share those.
  STACK_OF(X509) *parsed = SSL_get_peer_full_cert_chain(ssl);
  if (parsed != NULL && sk_X509_num(parsed) > 0) {
    STACK_OF(X509) *sk = sk_X509_dup(parsed);
    for (size_t i = 0; sk != NULL && i < sk_X509_num(sk); i++) {
      X509_up_ref(sk_X509_value(sk, i));
    }
    return sk;
  }
  const STACK_OF(CRYPTO_BUFFER) *bufs = SSL_get0_peer_certificates(ssl);
  if (bufs == NULL || sk_CRYPTO_BUFFER_num(bufs) == 0) {
    return NULL;
  }
  STACK_OF(X509) *sk = sk_X509_new_null();
  for (size_t i = 0; sk != NULL && i < sk_CRYPTO_BUFFER_num(bufs); i++) {
    X509 *x = X509_parse_from_buffer(sk_CRYPTO_BUFFER_value(bufs, i));
    if (x == NULL || !sk_X509_push(sk, x)) {
      X509_free(x);
      sk_X509_pop_free(sk, X509_free);
      return NULL;
    }
  }
  return sk;
}

// go_sig_failure is Go's error text for a bad signature made with |key|'s algorithm.
static const char *go_sig_failure(EVP_PKEY *key) {
  switch (EVP_PKEY_id(key)) {
    case EVP_PKEY_RSA:
      return "crypto/rsa: verification error";
    case EVP_PKEY_ED25519:
      return "ed25519: invalid signature";
    default:
      return "x509: ECDSA verification failure";
  }
}

// unknown_authority writes Go's UnknownAuthorityError for |cert|, with its hint when a trusted CA
// has the right name but did not sign it.
static void unknown_authority(const struct mh_tls_ctx *c, X509 *cert, char *out, size_t out_len) {
  snprintf(out, out_len, "x509: certificate signed by unknown authority");
  for (size_t i = 0; c->cas != NULL && i < sk_X509_num(c->cas); i++) {
    X509 *ca = sk_X509_value(c->cas, i);
    if (X509_NAME_cmp(X509_get_subject_name(ca), X509_get_issuer_name(cert)) != 0) {
      continue;
    }
    EVP_PKEY *key = X509_get_pubkey(ca);
    if (key != NULL && X509_verify(cert, key) != 1) {
      char cn[128];
      name_cn(X509_get_subject_name(ca), cn, sizeof(cn));
      snprintf(out, out_len,
               "x509: certificate signed by unknown authority (possibly because of \"%s\" while "
               "trying to verify candidate authority certificate \"%s\")",
               go_sig_failure(key), cn);
    }
    ERR_clear_error();
    EVP_PKEY_free(key);
    break;
  }
}

static int validity(X509 *x, time_t now, char *out, size_t out_len) {
  time_t nb = x509_time(X509_get0_notBefore(x)), na = x509_time(X509_get0_notAfter(x));
  char a[32], b[32];
  rfc3339(now, a, sizeof(a));
  if (now < nb) {
    rfc3339(nb, b, sizeof(b));
    snprintf(out, out_len,
             "x509: certificate has expired or is not yet valid: current time %s is before %s", a,
             b);
    return -1;
  }
  if (now > na) {
    rfc3339(na, b, sizeof(b));
    snprintf(out, out_len,
             "x509: certificate has expired or is not yet valid: current time %s is after %s", a,
             b);
    return -1;
  }
  return 0;
}

// host_matches is Go's matchHostnames: case-insensitive, "*." matches exactly one label.
static int host_matches(const char *pattern, const char *host) {
  if (strncmp(pattern, "*.", 2) == 0) {
    const char *dot = strchr(host, '.');
    return dot != NULL && dot != host && strcasecmp(pattern + 1, dot) == 0;
  }
  return strcasecmp(pattern, host) == 0;
}

// go_hostname is Go's VerifyHostname for DNS names: SANs only, never the CN.
static int go_hostname(X509 *leaf, const char *host, char *out, size_t out_len) {
  GENERAL_NAMES *gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
  char names[512] = "";
  int num_dns = 0, match = 0;
  for (size_t i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
    GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
    if (g->type != GEN_DNS) {
      continue;
    }
    char dns[256];
    size_t n = (size_t)ASN1_STRING_length(g->d.dNSName);
    n = n < sizeof(dns) - 1 ? n : sizeof(dns) - 1;
    memcpy(dns, ASN1_STRING_get0_data(g->d.dNSName), n);
    dns[n] = '\0';
    match |= host_matches(dns, host);
    strncat(names, num_dns++ ? ", " : "", sizeof(names) - strlen(names) - 1);
    strncat(names, dns, sizeof(names) - strlen(names) - 1);
  }
  int has_san = gens != NULL;
  GENERAL_NAMES_free(gens);
  if (match) {
    return 0;
  }
  if (!has_san) {
    snprintf(out, out_len,
             "x509: certificate relies on legacy Common Name field, use SANs instead");
  } else if (num_dns == 0) {
    snprintf(out, out_len, "x509: certificate is not valid for any names, but wanted to match %s",
             host);
  } else {
    snprintf(out, out_len, "x509: certificate is valid for %s, not %s", names, host);
  }
  return -1;
}

// go_verify checks |chain| (as sent, leaf first) the way Go's x509.Certificate.Verify does: leaf
// validity, then the host name (if |host|), then a path to |c|'s roots, then the extended key usage
// |want_xku| along the chain. On failure it writes Go's error text and the alert Go's server would
// send, and returns -1.
static int go_verify(const struct mh_tls_ctx *c, STACK_OF(X509) * chain, uint32_t want_xku,
                     const char *host, char *out, size_t out_len, uint8_t *out_alert) {
  X509 *leaf = sk_X509_value(chain, 0);
  time_t now = time(NULL);
  if (validity(leaf, now, out, out_len) != 0) {
    *out_alert = SSL_AD_CERTIFICATE_EXPIRED;
    return -1;
  }
  if (host != NULL && go_hostname(leaf, host, out, out_len) != 0) {
    *out_alert = SSL_AD_BAD_CERTIFICATE;
    return -1;
  }
  X509_STORE_CTX *sc = X509_STORE_CTX_new();
  STACK_OF(X509) *untrusted = sk_X509_dup(chain);
  int ret = -1;
  if (sc == NULL || untrusted == NULL) {
    snprintf(out, out_len, "out of memory");
    *out_alert = SSL_AD_INTERNAL_ERROR;
    goto out;
  }
  (void)sk_X509_shift(untrusted);
  if (!X509_STORE_CTX_init(sc, c->store, leaf, untrusted)) {
    snprintf(out, out_len, "out of memory");
    *out_alert = SSL_AD_INTERNAL_ERROR;
    goto out;
  }
  if (X509_verify_cert(sc) != 1) {
    int e = X509_STORE_CTX_get_error(sc);
    X509 *cur = X509_STORE_CTX_get_current_cert(sc);
    switch (e) {
      case X509_V_ERR_CERT_HAS_EXPIRED:
      case X509_V_ERR_CERT_NOT_YET_VALID:
        validity(cur != NULL ? cur : leaf, now, out, out_len);
        *out_alert = SSL_AD_CERTIFICATE_EXPIRED;
        break;
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      case X509_V_ERR_CERT_UNTRUSTED:
        unknown_authority(c, cur != NULL ? cur : leaf, out, out_len);
        *out_alert = SSL_AD_UNKNOWN_CA;
        break;
      case X509_V_ERR_INVALID_CA:
        snprintf(out, out_len, "x509: certificate is not authorized to sign other certificates");
        *out_alert = SSL_AD_BAD_CERTIFICATE;
        break;
      case X509_V_ERR_PATH_LENGTH_EXCEEDED:
        snprintf(out, out_len, "x509: too many intermediates for path length constraint");
        *out_alert = SSL_AD_BAD_CERTIFICATE;
        break;
      default:
        snprintf(out, out_len, "x509: %s", X509_verify_cert_error_string(e));
        *out_alert = SSL_AD_BAD_CERTIFICATE;
        break;
    }
    goto out;
  }
  // Go checks the requested usage along the whole verified chain; no EKU extension means any.
  STACK_OF(X509) *verified = X509_STORE_CTX_get0_chain(sc);
  for (size_t i = 0; verified != NULL && i < sk_X509_num(verified); i++) {
    X509 *x = sk_X509_value(verified, i);
    if ((X509_get_extension_flags(x) & EXFLAG_XKUSAGE) == 0) {
      continue;
    }
    uint32_t xku = X509_get_extended_key_usage(x);
    if ((xku & XKU_ANYEKU) == 0 && (xku & want_xku) == 0) {
      snprintf(out, out_len, "x509: certificate specifies an incompatible key usage");
      *out_alert = SSL_AD_BAD_CERTIFICATE;
      goto out;
    }
  }
  ret = 0;
out:
  ERR_clear_error();
  sk_X509_free(untrusted);
  X509_STORE_CTX_free(sc);
  return ret;
}

// openssl_verify is what nginx does: OpenSSL's chain verification with the SSL client purpose; it
// returns the X509_V_ERR code (X509_V_OK on success).
static int openssl_verify(const struct mh_tls_ctx *c, STACK_OF(X509) * chain) {
  X509_STORE_CTX *sc = X509_STORE_CTX_new();
  STACK_OF(X509) *untrusted = sk_X509_dup(chain);
  int e = X509_V_ERR_UNSPECIFIED;
  if (sc != NULL && untrusted != NULL) {
    (void)sk_X509_shift(untrusted);
    if (X509_STORE_CTX_init(sc, c->store, sk_X509_value(chain, 0), untrusted)) {
      X509_STORE_CTX_set_purpose(sc, X509_PURPOSE_SSL_CLIENT);
      e = X509_verify_cert(sc) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(sc);
    }
  }
  ERR_clear_error();
  sk_X509_free(untrusted);
  X509_STORE_CTX_free(sc);
  return e;
}

static void record_peer(struct mh_tls_conn *t, STACK_OF(X509) * chain) {
  X509 *leaf = sk_X509_value(chain, 0);
  t->info.peer_cert = 1;
  // The key's algorithm, from its OID (EVP_PKEY_* are those NIDs): no need to decode the key.
  ASN1_OBJECT *alg = NULL;
  X509_PUBKEY_get0_param(&alg, NULL, NULL, NULL, X509_get_X509_PUBKEY(leaf));
  t->peer_key_id = alg != NULL ? OBJ_obj2nid(alg) : 0;
  name_cn(X509_get_subject_name(leaf), t->info.peer_cn, sizeof(t->info.peer_cn));
  if (!t->ctx->is_server || t->ctx->emulate == MH_EMULATE_NGINX) {
    // Only nginx's $ssl_client_s_dn needs the whole subject of a client: Go's policy reads the CN.
    name_rfc2253(X509_get_subject_name(leaf), t->info.peer_dn, sizeof(t->info.peer_dn));
  }
}

// --- what a server remembers of its sessions' clients ---

// leaf_sha256 gives the hash the session being negotiated keeps of the client's certificate: the
// library computed it while parsing the Certificate message, before verification.
static int leaf_sha256(const SSL *ssl, uint8_t out[SHA256_DIGEST_LENGTH]) {
  const SSL_SESSION *sess = SSL_get_session(ssl);
  const uint8_t *sha;
  size_t sha_len;
  if (sess == NULL || !SSL_SESSION_has_peer_sha256(sess)) {
    return 0;
  }
  SSL_SESSION_get0_peer_sha256(sess, &sha, &sha_len);
  if (sha_len != SHA256_DIGEST_LENGTH) {
    return 0;
  }
  memcpy(out, sha, SHA256_DIGEST_LENGTH);
  return 1;
}

// memo_remember notes the identity and verdict of |t|'s verified (or, for nginx, judged) client
// certificate under its hash, which is all a session of this server keeps of it.
static void memo_remember(struct mh_tls_conn *t) {
  struct mh_tls_ctx *c = t->ctx;
  uint8_t sha[SHA256_DIGEST_LENGTH];
  if (!leaf_sha256(t->ssl, sha)) {
    return;
  }
  if (c->memos == NULL && (c->memos = calloc(NUM_MEMOS, sizeof(*c->memos))) == NULL) {
    return;
  }
  struct peer_memo *m = NULL;
  for (size_t i = 0; i < NUM_MEMOS && m == NULL; i++) {
    if (c->memos[i].used && memcmp(c->memos[i].sha256, sha, sizeof(sha)) == 0) {
      m = &c->memos[i];
    }
  }
  if (m == NULL) {
    m = &c->memos[c->next_memo++ % NUM_MEMOS];
  }
  memcpy(m->sha256, sha, sizeof(sha));
  m->used = 1;
  m->verify_ok = t->info.verify_ok;
  memcpy(m->peer_cn, t->info.peer_cn, sizeof(m->peer_cn));
  memcpy(m->peer_dn, t->info.peer_dn, sizeof(m->peer_dn));
  memcpy(m->verify_error, t->info.verify_error, sizeof(m->verify_error));
}

// memo_recall fills a resumed server connection's peer facts from its session. The session exists
// only because that certificate was accepted (Go) or judged (nginx) when it was issued; if the
// memo was overwritten since, Go's verdict is still known, nginx's is not.
static void memo_recall(struct mh_tls_conn *t) {
  struct mh_tls_ctx *c = t->ctx;
  SSL_SESSION *sess = SSL_get_session(t->ssl);
  if (sess == NULL || !SSL_SESSION_has_peer_sha256(sess)) {
    return;  // no client certificate behind this session
  }
  const uint8_t *sha;
  size_t sha_len;
  SSL_SESSION_get0_peer_sha256(sess, &sha, &sha_len);
  t->info.peer_cert = 1;
  for (size_t i = 0; c->memos != NULL && i < NUM_MEMOS; i++) {
    const struct peer_memo *m = &c->memos[i];
    if (m->used && sha_len == sizeof(m->sha256) && memcmp(m->sha256, sha, sha_len) == 0) {
      t->info.verify_ok = m->verify_ok;
      memcpy(t->info.peer_cn, m->peer_cn, sizeof(t->info.peer_cn));
      memcpy(t->info.peer_dn, m->peer_dn, sizeof(t->info.peer_dn));
      memcpy(t->info.verify_error, m->verify_error, sizeof(t->info.verify_error));
      return;
    }
  }
  t->info.verify_ok = c->emulate == MH_EMULATE_GO;
  if (!t->info.verify_ok) {
    snprintf(t->info.verify_error, sizeof(t->info.verify_error),
             "FAILED:session issued to a certificate no longer remembered");
  }
}

// --- callbacks ---

static enum ssl_verify_result_t server_verify(SSL *ssl, uint8_t *out_alert) {
  struct mh_tls_conn *t = conn_of(ssl);
  struct mh_tls_ctx *c = t->ctx;
  STACK_OF(X509) *chain = peer_chain(ssl);
  if (chain == NULL) {
    *out_alert = SSL_AD_INTERNAL_ERROR;
    set_reason(t, "tls: failed to parse certificate from client");
    t->rejected = 1;
    return ssl_verify_invalid;
  }
  record_peer(t, chain);
  enum ssl_verify_result_t res = ssl_verify_ok;
  if (c->emulate == MH_EMULATE_NGINX) {
    // nginx completes the handshake and answers in HTTP; keep the verdict.
    int e = openssl_verify(c, chain);
    t->info.verify_ok = e == X509_V_OK;
    if (e != X509_V_OK) {
      snprintf(t->info.verify_error, sizeof(t->info.verify_error), "FAILED:%s",
               X509_verify_cert_error_string(e));
    }
    goto out;
  }
  char why[400];
  if (go_verify(c, chain, XKU_SSL_CLIENT, NULL, why, sizeof(why), out_alert) != 0) {
    set_reason(t, "tls: failed to verify certificate: %s", why);
    t->rejected = 1;
    res = ssl_verify_invalid;
    goto out;
  }
  if (c->num_allowed_cns > 0) {
    int ok = 0;
    for (size_t i = 0; i < c->num_allowed_cns && !ok; i++) {
      ok = strcmp(c->allowed_cns[i], t->info.peer_cn) == 0;
    }
    if (!ok) {
      set_reason(t, "client certificate CN '%s' not in allowed list", t->info.peer_cn);
      *out_alert = SSL_AD_BAD_CERTIFICATE;
      t->rejected = 1;
      res = ssl_verify_invalid;
      goto out;
    }
  }
  t->info.verify_ok = 1;
out:
  if (res == ssl_verify_ok) {
    memo_remember(t);
  }
  sk_X509_pop_free(chain, X509_free);
  return res;
}

static enum ssl_verify_result_t client_verify(SSL *ssl, uint8_t *out_alert) {
  struct mh_tls_conn *t = conn_of(ssl);
  if (t->ctx->load_mode) {
    // Load: no X.509 parsing on the hot path (CertificateVerify is still checked by the protocol).
    t->info.verify_ok = 1;
    return ssl_verify_ok;
  }
  STACK_OF(X509) *chain = peer_chain(ssl);
  if (chain == NULL) {
    *out_alert = SSL_AD_BAD_CERTIFICATE;
    set_reason(t, "tls: server sent no certificate");
    return ssl_verify_invalid;
  }
  record_peer(t, chain);
  enum ssl_verify_result_t res = ssl_verify_ok;
  char why[400];
  if (!t->ctx->insecure_skip_verify &&
      go_verify(t->ctx, chain, XKU_SSL_SERVER, t->server_name, why, sizeof(why), out_alert) != 0) {
    set_reason(t, "tls: failed to verify certificate: %s", why);
    *out_alert = SSL_AD_BAD_CERTIFICATE;  // a Go client sends bad_certificate for every failure
    res = ssl_verify_invalid;
  } else {
    t->info.verify_ok = 1;
  }
  sk_X509_pop_free(chain, X509_free);
  return res;
}

// msg_cb sees each handshake message before BoringSSL processes it. On a Go-emulating mTLS server
// it rejects an empty client Certificate the way Go does (see the file comment).
static void msg_cb(int is_write, int version, int content_type, const void *buf, size_t len,
                   SSL *ssl, void *arg) {
  (void)version;
  (void)arg;
  struct mh_tls_conn *t = conn_of(ssl);
  if (t == NULL || content_type != SSL3_RT_HANDSHAKE || len < 4) {
    return;
  }
  const uint8_t *p = buf;
  if (is_write) {
    if (!t->ctx->is_server && (p[0] == SSL3_MT_CERTIFICATE || p[0] == SSL3_MT_CLIENT_KEY_EXCHANGE ||
                               p[0] == SSL3_MT_FINISHED)) {
      t->info.client_flight_sent = 1;
    }
    return;
  }
  if (!t->ctx->is_server && p[0] == SSL3_MT_NEW_SESSION_TICKET) {
    t->info.tickets_received++;  // in TLS 1.3: the server kept the connection after our Finished
    return;
  }
  if (!t->ctx->is_server || !t->ctx->mtls || t->ctx->emulate != MH_EMULATE_GO || t->rejected) {
    return;
  }
  if (p[0] != SSL3_MT_CERTIFICATE) {
    return;
  }
  CBS body;
  CBS_init(&body, p + 4, len - 4);
  int tls13 = SSL_version(ssl) >= TLS1_3_VERSION;
  CBS context, list;
  if (tls13 && !CBS_get_u8_length_prefixed(&body, &context)) {
    return;
  }
  if (!CBS_get_u24_length_prefixed(&body, &list) || CBS_len(&list) != 0) {
    return;  // not empty: the verify callback decides
  }
  struct mh_tls_ctx *c = t->ctx;
  uint8_t alert;
  if (c->require_client_cert) {
    set_reason(t, "tls: client didn't provide a certificate");
    alert = tls13 ? SSL_AD_CERTIFICATE_REQUIRED : SSL_AD_BAD_CERTIFICATE;
  } else if (c->num_allowed_cns > 0) {
    // Go calls VerifyPeerCertificate with no chains; SemStreams' allow-list then refuses.
    set_reason(t, "no verified certificate chains");
    alert = SSL_AD_BAD_CERTIFICATE;
  } else {
    return;
  }
  t->rejected = 1;
  SSL_send_fatal_alert(ssl, alert);
}

static void info_cb(const SSL *ssl, int where, int value) {
  struct mh_tls_conn *t = conn_of(ssl);
  if (t == NULL) {
    return;
  }
  int level = (value >> 8) & 0xff, desc = value & 0xff;
  // SSL_CB_READ_ALERT and SSL_CB_WRITE_ALERT share the SSL_CB_ALERT bit: compare whole masks.
  if ((where & SSL_CB_WRITE_ALERT) == SSL_CB_WRITE_ALERT &&
      (level == SSL3_AL_FATAL || desc == SSL_AD_CLOSE_NOTIFY)) {
    if (t->info.alert_sent == MH_ALERT_NONE || t->info.alert_sent == SSL_AD_CLOSE_NOTIFY) {
      t->info.alert_sent = desc;
    }
  }
  if ((where & SSL_CB_READ_ALERT) == SSL_CB_READ_ALERT && t->info.alert_received == MH_ALERT_NONE) {
    t->info.alert_received = desc;
  }
}

// select_cb reads the versions the client offers, for Go's "offered only unsupported versions".
static enum ssl_select_cert_result_t select_cb(const SSL_CLIENT_HELLO *hello) {
  struct mh_tls_conn *t = conn_of(hello->ssl);
  if (t == NULL) {
    return ssl_select_cert_success;
  }
  const uint8_t *data;
  size_t len;
  t->num_offered = 0;
  if (SSL_early_callback_ctx_extension_get(hello, TLSEXT_TYPE_supported_versions, &data, &len)) {
    CBS ext, list;
    CBS_init(&ext, data, len);
    uint16_t v;
    if (CBS_get_u8_length_prefixed(&ext, &list)) {
      while (t->num_offered < MAX_OFFERED && CBS_get_u16(&list, &v)) {
        t->offered[t->num_offered++] = v;
      }
    }
  } else {
    // Go: supportedVersionsFromMax(legacy_version) over {1.3, 1.2, 1.1, 1.0}.
    static const uint16_t go_versions[] = {0x0304, 0x0303, 0x0302, 0x0301};
    for (size_t i = 0; i < 4; i++) {
      if (go_versions[i] <= hello->version) {
        t->offered[t->num_offered++] = go_versions[i];
      }
    }
  }
  return ssl_select_cert_success;
}

static int alpn_select(SSL *ssl, const uint8_t **out, uint8_t *out_len, const uint8_t *in,
                       unsigned in_len, void *arg) {
  (void)ssl;
  (void)arg;
  // The mocks speak HTTP/1.1 only (a documented difference: Go would also accept h2).
  CBS list, proto;
  CBS_init(&list, in, in_len);
  while (CBS_get_u8_length_prefixed(&list, &proto)) {
    if (CBS_len(&proto) == 8 && memcmp(CBS_data(&proto), "http/1.1", 8) == 0) {
      *out = CBS_data(&proto);
      *out_len = 8;
      return SSL_TLSEXT_ERR_OK;
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

// --- key log ---

static pthread_mutex_t keylog_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *keylog_file;
static int keylog_env_checked;

int mh_tls_keylog_open(const char *path, struct mh_err *err) {
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return mh_err_errno(err, "%s: cannot open the key log", path);
  }
  fchmod(fd, 0600);
  FILE *f = fdopen(fd, "a");
  if (f == NULL) {
    close(fd);
    return mh_err_errno(err, "%s: cannot open the key log", path);
  }
  pthread_mutex_lock(&keylog_mu);
  if (keylog_file != NULL) {
    fclose(keylog_file);
  }
  keylog_file = f;
  keylog_env_checked = 1;
  pthread_mutex_unlock(&keylog_mu);
  return 0;
}

// keylog_open_env opens SSLKEYLOGFILE on first use, unless --keylog opened a file. Call with
// keylog_mu held.
static void keylog_open_env(void) {
  if (!keylog_env_checked) {
    keylog_env_checked = 1;
    const char *env = getenv("SSLKEYLOGFILE");
    if (env != NULL && env[0] != '\0') {
      int fd = open(env, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      keylog_file = fd >= 0 ? fdopen(fd, "a") : NULL;
    }
  }
}

// keylog_active says whether secrets go to a file (--keylog, or SSLKEYLOGFILE). Contexts whose
// connections keep no key log of their own (servers, load) install the key log callback only
// then: it formats every secret and takes a lock.
static int keylog_active(void) {
  pthread_mutex_lock(&keylog_mu);
  keylog_open_env();
  int active = keylog_file != NULL;
  pthread_mutex_unlock(&keylog_mu);
  return active;
}

static void keylog_cb(const SSL *ssl, const char *line) {
  struct mh_tls_conn *t = conn_of(ssl);
  size_t n = strlen(line);
  if (t != NULL && t->keylog_len + n + 2 < sizeof(t->keylog)) {
    memcpy(t->keylog + t->keylog_len, line, n);
    t->keylog_len += n;
    t->keylog[t->keylog_len++] = '\n';
    t->keylog[t->keylog_len] = '\0';
  }
  pthread_mutex_lock(&keylog_mu);
  keylog_open_env();
  if (keylog_file != NULL) {
    fprintf(keylog_file, "%s\n", line);
    fflush(keylog_file);
  }
  pthread_mutex_unlock(&keylog_mu);
}

const char *mh_tls_conn_keylog(const struct mh_tls_conn *t) {
  return t->keylog;
}

// --- contexts ---

static int crypto_fail(struct mh_err *err, const char *prefix) {
  uint32_t e = ERR_peek_last_error();
  const char *r = ERR_reason_error_string(e);
  ERR_clear_error();
  return mh_err_set(err, "%s%s", prefix, r != NULL ? r : "unknown error");
}

static struct mh_tls_ctx *ctx_alloc(int is_server) {
  pthread_once(&index_once, index_init);
  struct mh_tls_ctx *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    return NULL;
  }
  c->is_server = is_server;
  c->refs = 1;
  c->ssl_ctx = SSL_CTX_new(TLS_method());
  c->store = X509_STORE_new();
  c->cas = sk_X509_new_null();
  if (c->ssl_ctx == NULL || c->store == NULL || c->cas == NULL) {
    mh_tls_ctx_free(c);
    return NULL;
  }
  SSL_CTX_set_info_callback(c->ssl_ctx, info_cb);
  if (keylog_active()) {
    SSL_CTX_set_keylog_callback(c->ssl_ctx, keylog_cb);
  }
  return c;
}

// load_cas loads every CA file into |c|'s store and list; |what| names the field in messages.
static int load_cas(struct mh_tls_ctx *c, const char *const *files, size_t num, const char *what,
                    struct mh_err *err) {
  for (size_t i = 0; i < num; i++) {
    size_t before = sk_X509_num(c->cas);
    int n = load_pem_certs(files[i], c->cas);
    if (n < 0) {
      return mh_err_errno(err, "%s: read %s file %s failed", what, what, files[i]);
    }
    if (n == 0) {
      return mh_err_set(err, "%s: parse %s certificate from %s failed: invalid PEM data", what,
                        what, files[i]);
    }
    for (size_t k = before; k < sk_X509_num(c->cas); k++) {
      X509_STORE_add_cert(c->store, sk_X509_value(c->cas, k));
    }
    ERR_clear_error();  // duplicates are not an error
  }
  return 0;
}

static int load_key_pair(SSL_CTX *ctx, const char *cert, const char *key, const char *what,
                         struct mh_err *err) {
  char prefix[600];
  if (!SSL_CTX_use_certificate_chain_file(ctx, cert)) {
    snprintf(prefix, sizeof(prefix), "%s: %s: load certificate failed: ", cert, what);
    return crypto_fail(err, prefix);
  }
  if (!SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM)) {
    snprintf(prefix, sizeof(prefix), "%s: %s: load certificate failed: ", key, what);
    return crypto_fail(err, prefix);
  }
  if (!SSL_CTX_check_private_key(ctx)) {
    ERR_clear_error();
    return mh_err_set(err,
                      "%s: %s: load certificate failed: tls: private key does not match public key",
                      key, what);
  }
  return 0;
}

// set_ticket_keys gives |ctx| the session ticket keys of |id|: derived from a secret drawn once
// per process, so that the server contexts of one location (one per event loop) accept each
// other's tickets, and those of other locations do not.
static pthread_once_t ticket_once = PTHREAD_ONCE_INIT;
static uint8_t ticket_secret[32];

static void ticket_secret_init(void) {
  RAND_bytes(ticket_secret, sizeof(ticket_secret));
}

static int set_ticket_keys(SSL_CTX *ctx, const char *id) {
  pthread_once(&ticket_once, ticket_secret_init);
  uint8_t keys[SHA512_DIGEST_LENGTH];
  unsigned keys_len = 0;
  if (HMAC(EVP_sha512(), ticket_secret, sizeof(ticket_secret), (const uint8_t *)id, strlen(id),
           keys, &keys_len) == NULL ||
      keys_len < 48 || !SSL_CTX_set_tlsext_ticket_keys(ctx, keys, 48)) {
    return -1;
  }
  OPENSSL_cleanse(keys, sizeof(keys));
  return 0;
}

struct mh_tls_ctx *mh_tls_server_ctx_new(const struct mh_tls_server_policy *p, struct mh_err *err) {
  struct mh_tls_ctx *c = ctx_alloc(1);
  if (c == NULL) {
    mh_err_set(err, "out of memory");
    return NULL;
  }
  c->emulate = p->emulate;
  c->mtls = p->mtls;
  c->require_client_cert = p->require_client_cert;
  c->buffered = p->buffered;
  SSL_CTX *ctx = c->ssl_ctx;
  SSL_CTX_set_min_proto_version(ctx, (uint16_t)p->min_version);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  if (load_key_pair(ctx, p->cert_file, p->key_file, "tlsutil.LoadServerTLSConfig", err) != 0) {
    goto fail;
  }
  SSL_CTX_set_select_certificate_cb(ctx, select_cb);
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
  SSL_CTX_set_num_tickets(ctx, 1);  // Go sends one session ticket
  static const uint8_t sid_ctx[] = "mtls-harness";
  SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
  if (p->ticket_key_id != NULL && set_ticket_keys(ctx, p->ticket_key_id) != 0) {
    mh_err_set(err, "out of memory");
    goto fail;
  }
  if (p->mtls) {
    if (load_cas(c, p->client_ca_files, p->num_client_ca_files, "client CA", err) != 0) {
      goto fail;
    }
    STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
    for (size_t i = 0; names != NULL && i < sk_X509_num(c->cas); i++) {
      X509_NAME *n = X509_NAME_dup(X509_get_subject_name(sk_X509_value(c->cas, i)));
      if (n != NULL && !sk_X509_NAME_push(names, n)) {
        X509_NAME_free(n);
      }
    }
    SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
    c->num_allowed_cns = p->num_allowed_cns;
    c->allowed_cns = calloc(p->num_allowed_cns + 1, sizeof(char *));
    if (c->allowed_cns == NULL) {
      mh_err_set(err, "out of memory");
      goto fail;
    }
    for (size_t i = 0; i < p->num_allowed_cns; i++) {
      if ((c->allowed_cns[i] = strdup(p->allowed_cns[i])) == NULL) {
        mh_err_set(err, "out of memory");
        goto fail;
      }
    }
    SSL_CTX_set_custom_verify(ctx, SSL_VERIFY_PEER, server_verify);
    // Sessions keep only the client certificate's hash, so that resuming one does not parse the
    // certificate again; server_verify keeps what the emulations need of it (see memo_recall).
    SSL_CTX_set_retain_only_sha256_of_client_certs(ctx, 1);
    if (p->emulate == MH_EMULATE_GO) {
      SSL_CTX_set_msg_callback(ctx, msg_cb);
    }
  }
  return c;
fail:
  mh_tls_ctx_free(c);
  return NULL;
}

struct mh_tls_ctx *mh_tls_client_ctx_new(const struct mh_tls_client_policy *p, struct mh_err *err) {
  struct mh_tls_ctx *c = ctx_alloc(0);
  if (c == NULL) {
    mh_err_set(err, "out of memory");
    return NULL;
  }
  c->insecure_skip_verify = p->insecure_skip_verify;
  SSL_CTX *ctx = c->ssl_ctx;
  SSL_CTX_set_min_proto_version(ctx, (uint16_t)p->min_version);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  if (p->system_roots && access(SYSTEM_ROOTS, R_OK) == 0) {
    const char *roots[] = {SYSTEM_ROOTS};
    if (load_cas(c, roots, 1, "system CA", err) != 0) {
      goto fail;
    }
  }
  if (load_cas(c, p->ca_files, p->num_ca_files, "CA", err) != 0) {
    goto fail;
  }
  if (p->cert_file != NULL &&
      load_key_pair(ctx, p->cert_file, p->key_file, "tlsutil.LoadClientTLSConfig", err) != 0) {
    goto fail;
  }
  static const uint8_t alpn[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
  SSL_CTX_set_custom_verify(ctx, SSL_VERIFY_PEER, client_verify);
  return c;
fail:
  mh_tls_ctx_free(c);
  return NULL;
}

// mismatch_sign signs with the context's deliberately mismatched key, so that the peer receives a
// CertificateVerify that does not verify against the certificate (BoringSSL refuses to load such a
// pair as a certificate and key).
static enum ssl_private_key_result_t mismatch_sign(SSL *ssl, uint8_t *out, size_t *out_len,
                                                   size_t max_out, uint16_t sigalg,
                                                   const uint8_t *in, size_t in_len) {
  struct mh_tls_conn *t = conn_of(ssl);
  EVP_PKEY *key = t->ctx->sign_key;
  EVP_MD_CTX md;
  EVP_MD_CTX_init(&md);
  EVP_PKEY_CTX *pctx = NULL;
  enum ssl_private_key_result_t ret = ssl_private_key_failure;
  if (EVP_DigestSignInit(&md, &pctx, SSL_get_signature_algorithm_digest(sigalg), NULL, key) &&
      (!SSL_is_signature_algorithm_rsa_pss(sigalg) ||
       (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) &&
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, -1)))) {
    *out_len = max_out;
    if (EVP_DigestSign(&md, out, out_len, in, in_len)) {
      ret = ssl_private_key_success;
    }
  }
  EVP_MD_CTX_cleanup(&md);
  return ret;
}

static enum ssl_private_key_result_t mismatch_complete(SSL *ssl, uint8_t *out, size_t *out_len,
                                                       size_t max_out) {
  (void)ssl;
  (void)out;
  (void)out_len;
  (void)max_out;
  return ssl_private_key_failure;
}

static const SSL_PRIVATE_KEY_METHOD mismatch_method = {
    .sign = mismatch_sign,
    .decrypt = NULL,
    .complete = mismatch_complete,
};

// new_session_cb keeps a session the server issued (TLS 1.2 at the end of the handshake, TLS 1.3
// from a NewSessionTicket after it).
static int new_session_cb(SSL *ssl, SSL_SESSION *sess) {
  struct mh_tls_conn *t = conn_of(ssl);
  struct mh_tls_ctx *c = t->ctx;
  size_t cap = sizeof(c->sessions) / sizeof(c->sessions[0]);
  if (c->num_sessions == cap) {
    SSL_SESSION_free(c->sessions[0]);
    memmove(c->sessions, c->sessions + 1, (cap - 1) * sizeof(c->sessions[0]));
    c->num_sessions--;
  }
  c->sessions[c->num_sessions++] = sess;
  return 1;  // we took the reference
}

int mh_tls_conn_offer_session(struct mh_tls_conn *t) {
  struct mh_tls_ctx *c = t->ctx;
  if (c->num_sessions == 0) {
    return 0;
  }
  SSL_SESSION *sess;
  if (SSL_SESSION_should_be_single_use(c->sessions[c->num_sessions - 1])) {
    sess = c->sessions[--c->num_sessions];  // TLS 1.3: each ticket once
    SSL_set_session(t->ssl, sess);
    SSL_SESSION_free(sess);
  } else {
    sess = c->sessions[c->next_session++ % c->num_sessions];
    SSL_set_session(t->ssl, sess);
  }
  return 1;
}

struct mh_tls_ctx *mh_tls_probe_ctx_new(const struct mh_tls_probe_policy *p, struct mh_err *err) {
  struct mh_tls_ctx *c = ctx_alloc(0);
  if (c == NULL) {
    mh_err_set(err, "out of memory");
    return NULL;
  }
  c->insecure_skip_verify = !p->verify;
  SSL_CTX *ctx = c->ssl_ctx;
  SSL_CTX_set_min_proto_version(ctx, (uint16_t)p->version);
  SSL_CTX_set_max_proto_version(ctx, (uint16_t)p->version);
  if (load_cas(c, p->ca_files, p->num_ca_files, "CA", err) != 0) {
    goto fail;
  }
  c->load_mode = p->load_mode;
  if (!p->load_mode) {
    // The runner's probe keeps its connection's secrets for the case's capture.
    SSL_CTX_set_keylog_callback(ctx, keylog_cb);
  }
  c->buffered = p->load_mode;  // load.c calls again until MH_IO_WANT_READ
  if (p->cert_file != NULL) {
    char prefix[600];
    if (!SSL_CTX_use_certificate_chain_file(ctx, p->cert_file)) {
      snprintf(prefix, sizeof(prefix), "%s: ", p->cert_file);
      crypto_fail(err, prefix);
      goto fail;
    }
    if (p->key_mismatch) {
      FILE *f = fopen(p->key_file, "r");
      c->sign_key = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
      if (f != NULL) {
        fclose(f);
      }
      if (c->sign_key == NULL) {
        ERR_clear_error();
        mh_err_set(err, "%s: cannot read the private key", p->key_file);
        goto fail;
      }
      SSL_CTX_set_private_key_method(ctx, &mismatch_method);
    } else if (!SSL_CTX_use_PrivateKey_file(ctx, p->key_file, SSL_FILETYPE_PEM) ||
               !SSL_CTX_check_private_key(ctx)) {
      snprintf(prefix, sizeof(prefix), "%s: ", p->key_file);
      crypto_fail(err, prefix);
      goto fail;
    }
  }
  static const uint8_t alpn[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
  SSL_CTX_set_custom_verify(ctx, SSL_VERIFY_PEER, client_verify);
  SSL_CTX_set_msg_callback(ctx, msg_cb);
  if (p->resume) {
    // Clients have no internal cache: without CLIENT mode the callback never fires.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
  }
  return c;
fail:
  mh_tls_ctx_free(c);
  return NULL;
}

void mh_tls_ctx_free(struct mh_tls_ctx *c) {
  if (c == NULL || --c->refs > 0) {
    return;
  }
  SSL_CTX_free(c->ssl_ctx);
  free(c->memos);
  X509_STORE_free(c->store);
  sk_X509_pop_free(c->cas, X509_free);
  EVP_PKEY_free(c->sign_key);
  for (size_t i = 0; i < c->num_sessions; i++) {
    SSL_SESSION_free(c->sessions[i]);
  }
  for (size_t i = 0; c->allowed_cns != NULL && i < c->num_allowed_cns; i++) {
    free(c->allowed_cns[i]);
  }
  free(c->allowed_cns);
  free(c);
}

// --- connections ---

struct mh_tls_conn *mh_tls_conn_new(struct mh_tls_ctx *c, int fd, const char *server_name) {
  struct mh_tls_conn *t = calloc(1, sizeof(*t));
  if (t == NULL) {
    return NULL;
  }
  t->info.alert_sent = MH_ALERT_NONE;
  t->info.alert_received = MH_ALERT_NONE;
  t->ssl = SSL_new(c->ssl_ctx);
  int io_ok;
  if (c->buffered && fdbuf_method != NULL) {
    t->rbuf = malloc(sizeof(*t->rbuf));
    BIO *bio = t->rbuf != NULL ? BIO_new(fdbuf_method) : NULL;
    io_ok = bio != NULL && t->ssl != NULL;
    if (io_ok) {
      t->rbuf->fd = fd;
      t->rbuf->maybe_readable = 1;
      t->rbuf->first_send = c->is_server ? NULL : &t->info.first_send_s;
      t->rbuf->off = t->rbuf->len = 0;
      BIO_set_data(bio, t->rbuf);
      SSL_set_bio(t->ssl, bio, bio);  // one reference, owned by |t->ssl|
    } else {
      BIO_free(bio);
    }
  } else {
    io_ok = t->ssl != NULL && SSL_set_fd(t->ssl, fd);
  }
  if (!io_ok || !SSL_set_ex_data(t->ssl, conn_index, t)) {
    SSL_free(t->ssl);
    free(t->rbuf);
    free(t);
    return NULL;
  }
  t->ctx = c;
  c->refs++;
  if (c->is_server) {
    SSL_set_accept_state(t->ssl);
  } else {
    SSL_set_connect_state(t->ssl);
    if (server_name != NULL) {
      t->server_name = strdup(server_name);
      SSL_set_tlsext_host_name(t->ssl, server_name);
    }
  }
  return t;
}

void mh_tls_conn_free(struct mh_tls_conn *t) {
  if (t == NULL) {
    return;
  }
  SSL_free(t->ssl);
  mh_tls_ctx_free(t->ctx);
  free(t->server_name);
  free(t->rbuf);
  free(t);
}

void mh_tls_readable(struct mh_tls_conn *t) {
  if (t->rbuf != NULL) {
    t->rbuf->maybe_readable = 1;
  }
}

int mh_tls_buffered(const struct mh_tls_conn *t) {
  return (t->rbuf != NULL && t->rbuf->off < t->rbuf->len) || SSL_pending(t->ssl) > 0;
}

static void fill_negotiated(struct mh_tls_conn *t) {
  SSL *ssl = t->ssl;
  t->info.version = SSL_version(ssl);
  snprintf(t->info.version_name, sizeof(t->info.version_name), "%s", SSL_get_version(ssl));
  const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
  if (cipher != NULL) {
    snprintf(t->info.cipher, sizeof(t->info.cipher), "%s", SSL_CIPHER_standard_name(cipher));
  }
  const char *group = SSL_get_curve_name(SSL_get_curve_id(ssl));
  snprintf(t->info.group, sizeof(t->info.group), "%s", group != NULL ? group : "");
  const uint8_t *alpn;
  unsigned alpn_len;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  snprintf(t->info.alpn, sizeof(t->info.alpn), "%.*s", (int)alpn_len, (const char *)alpn);
  t->info.resumed = SSL_session_reused(ssl);
  if (t->info.resumed && t->ctx->is_server) {
    memo_recall(t);
  }
  if (!t->info.peer_cert && t->ctx->is_server) {
    t->info.verify_ok = !t->ctx->mtls || !t->ctx->require_client_cert;
  }
}

// classify turns a failed SSL call into MH_IO_CLOSED or MH_IO_FAILED and explains it in the
// emulated stack's words (Go's, for the mocks).
static enum mh_io classify(struct mh_tls_conn *t, int r) {
  int e = SSL_get_error(t->ssl, r);
  if (e == SSL_ERROR_WANT_READ) {
    return MH_IO_WANT_READ;
  }
  if (e == SSL_ERROR_WANT_WRITE) {
    return MH_IO_WANT_WRITE;
  }
  if (t->info.version == 0 && SSL_version(t->ssl) != 0) {
    t->info.version = SSL_version(t->ssl);
  }
  if (e == SSL_ERROR_ZERO_RETURN) {
    if (t->info.reason[0] == '\0') {
      set_reason(t, "close_notify");
    }
    ERR_clear_error();
    return MH_IO_CLOSED;
  }
  // The TLS layer's own error is pushed last (after, e.g., ECDSA's BAD_SIGNATURE from below it).
  uint32_t err = ERR_peek_last_error();
  if (ERR_GET_LIB(err) != ERR_LIB_SSL) {
    err = ERR_peek_error();
  }
  int lib = ERR_GET_LIB(err), reason = ERR_GET_REASON(err);
  ERR_clear_error();
  if (t->info.reason[0] != '\0' && t->rejected) {
    return MH_IO_FAILED;  // a callback explained it already
  }
  if (e == SSL_ERROR_SYSCALL) {
    int saved = errno;
    if (saved == 0 || r == 0) {
      set_reason(t, "EOF");
      return t->info.handshake_done ? MH_IO_CLOSED : MH_IO_FAILED;
    }
    set_reason(t, "read: %s", strerror(saved));
    return MH_IO_FAILED;
  }
  if (lib == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256) {
    int desc = reason - SSL_AD_REASON_OFFSET;
    if (t->info.alert_received == MH_ALERT_NONE) {
      t->info.alert_received = desc;
    }
    if (t->info.reason[0] == '\0') {
      set_reason(t, "remote error: tls: %s", mh_alert_go_text(desc));
    }
    return MH_IO_FAILED;
  }
  if (t->info.reason[0] != '\0') {
    return MH_IO_FAILED;
  }
  if (lib == ERR_LIB_SSL &&
      (reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_NO_SUPPORTED_VERSIONS_ENABLED) &&
      t->ctx->is_server) {
    char list[128] = "";
    for (size_t i = 0; i < t->num_offered; i++) {
      size_t used = strlen(list);
      snprintf(list + used, sizeof(list) - used, "%s%x", i ? " " : "", t->offered[i]);
    }
    set_reason(t, "tls: client offered only unsupported versions: [%s]", list);
  } else if (lib == ERR_LIB_SSL && reason == SSL_R_HTTP_REQUEST) {
    t->info.http_on_tls = 1;
    set_reason(t, "tls: first record does not look like a TLS handshake");
  } else if (lib == ERR_LIB_SSL &&
             (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_HTTP_REQUEST ||
              reason == SSL_R_HTTPS_PROXY_REQUEST)) {
    set_reason(t, "tls: first record does not look like a TLS handshake");
  } else if (lib == ERR_LIB_SSL && reason == SSL_R_BAD_SIGNATURE && t->ctx->is_server) {
    // Go's verifyHandshakeSignature wording per key type.
    set_reason(t, "tls: invalid signature by the client certificate: %s",
               t->peer_key_id == EVP_PKEY_RSA       ? "crypto/rsa: verification error"
               : t->peer_key_id == EVP_PKEY_ED25519 ? "Ed25519 verification failure"
                                                    : "ECDSA verification failure");
  } else {
    const char *r2 = ERR_reason_error_string(err);
    set_reason(t, "tls: %s", r2 != NULL ? r2 : "unknown error");
  }
  return MH_IO_FAILED;
}

enum mh_io mh_tls_handshake(struct mh_tls_conn *t) {
  ERR_clear_error();
  errno = 0;
  int r = SSL_do_handshake(t->ssl);
  if (t->rejected) {
    t->info.version = SSL_version(t->ssl);  // negotiated before the certificate was judged
    ERR_clear_error();
    return MH_IO_FAILED;
  }
  if (r == 1) {
    t->info.handshake_done = 1;
    fill_negotiated(t);
    if (t->ctx->is_server) {
      // BoringSSL holds TLS 1.3 session tickets until the server writes; Go sends them at once.
      // A zero-byte write flushes them (ssl/tls13_server.cc).
      SSL_write(t->ssl, "", 0);
      ERR_clear_error();
    }
    return MH_IO_OK;
  }
  enum mh_io io = classify(t, r);
  return io == MH_IO_CLOSED ? MH_IO_FAILED : io;
}

enum mh_io mh_tls_read(struct mh_tls_conn *t, void *buf, size_t len, size_t *out_n) {
  ERR_clear_error();
  errno = 0;
  int cap = len > 1 << 30 ? 1 << 30 : (int)len;
  int r = SSL_read(t->ssl, buf, cap);
  if (r > 0) {
    *out_n = (size_t)r;
    return MH_IO_OK;
  }
  *out_n = 0;
  return classify(t, r);
}

enum mh_io mh_tls_write(struct mh_tls_conn *t, const void *buf, size_t len, size_t *out_n) {
  ERR_clear_error();
  errno = 0;
  int cap = len > 1 << 30 ? 1 << 30 : (int)len;
  int r = SSL_write(t->ssl, buf, cap);
  if (r > 0) {
    *out_n = (size_t)r;
    return MH_IO_OK;
  }
  *out_n = 0;
  return classify(t, r);
}

void mh_tls_close_notify(struct mh_tls_conn *t) {
  ERR_clear_error();
  SSL_shutdown(t->ssl);
  ERR_clear_error();
}

const struct mh_tls_info *mh_tls_conn_info(const struct mh_tls_conn *t) {
  return &t->info;
}

void mh_tls_library_describe(char *out, size_t out_len) {
  Dl_info ssl_info, crypto_info;
  const char *ssl = "statically linked", *crypto = "statically linked";
  if (dladdr((void *)SSL_new, &ssl_info) != 0 && ssl_info.dli_fname && ssl_info.dli_fname[0]) {
    ssl = ssl_info.dli_fname;
  }
  if (dladdr((void *)RAND_bytes, &crypto_info) != 0 && crypto_info.dli_fname &&
      crypto_info.dli_fname[0]) {
    crypto = crypto_info.dli_fname;
  }
  // Which build: Debian's binary package lives in .../android/ and is built with OPENSSL_SMALL.
  const char *build = strstr(crypto, "/android/") ? "Debian binary package, OPENSSL_SMALL: slower"
                      : strstr(crypto, "build-boringssl/") ? "full-speed build of Debian's source"
                                                           : "other build";
  snprintf(out, out_len,
           "%s, API version %d (OPENSSL_VERSION_NUMBER 0x%08lx), libssl: %s, libcrypto: %s (%s)",
           OpenSSL_version(OPENSSL_VERSION), BORINGSSL_API_VERSION,
           (unsigned long)OPENSSL_VERSION_NUMBER, ssl, crypto, build);
}

void mh_tls_sha1_base64(const char *a, const char *b, char *out, size_t out_len) {
  SHA_CTX sha;
  uint8_t digest[SHA_DIGEST_LENGTH];
  SHA1_Init(&sha);
  SHA1_Update(&sha, a, strlen(a));
  SHA1_Update(&sha, b, strlen(b));
  SHA1_Final(digest, &sha);
  uint8_t enc[32];
  size_t n = EVP_EncodeBlock(enc, digest, sizeof(digest));
  snprintf(out, out_len, "%.*s", (int)n, (const char *)enc);
}

void mh_tls_random(void *buf, size_t len) {
  RAND_bytes(buf, len);
}
