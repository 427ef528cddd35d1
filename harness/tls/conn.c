// conn: connections. A connection wraps a non-blocking socket (or, for tests, any BIO), drives
// the handshake, reads and writes, and records in its mh_tls_info what was negotiated; the other
// tls/ files fill in the rest from the library's callbacks.
#include <errno.h>
#include <openssl/err.h>
#include <openssl/mem.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alerts.h"
#include "pki/certinfo.h"
#include "pki/inspect.h"
#include "pki/name.h"
#include "tls/internal.h"

// The ex-data index that maps an SSL to its connection, for the callbacks.
static pthread_once_t conn_once = PTHREAD_ONCE_INIT;
static int conn_index = -1;

static void conn_index_init(void) {
  conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

// Only SSLs made by conn_alloc reach the callbacks, after its thread ran conn_index_init.
struct mh_tls_conn *mh_tls_conn_of(const SSL *ssl) {
  return conn_index < 0 ? NULL : SSL_get_ex_data(ssl, conn_index);
}

void mh_tls_conn_set_reason(struct mh_tls_conn *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->info.reason, sizeof(t->info.reason), fmt, ap);
  va_end(ap);
}

// conn_alloc returns a connection of |c| with its SSL and no I/O yet, or NULL.
static struct mh_tls_conn *conn_alloc(struct mh_tls_ctx *c) {
  pthread_once(&conn_once, conn_index_init);
  struct mh_tls_conn *t = calloc(1, sizeof(*t));
  if (t == NULL) {
    return NULL;
  }
  t->info.alert_sent = MH_ALERT_NONE;
  t->info.alert_received = MH_ALERT_NONE;
  t->info.end = MH_END_NONE;
  t->ssl = SSL_new(c->ssl_ctx);
  if (t->ssl == NULL || conn_index < 0 || !SSL_set_ex_data(t->ssl, conn_index, t)) {
    SSL_free(t->ssl);
    free(t);
    return NULL;
  }
  t->ctx = c;
  c->refs++;
  return t;
}

// conn_start sets |t|'s role from its context; a client sends |server_name| as SNI and checks the
// certificate against it. Returns 0, or -1 if the name cannot be kept (it would go unchecked).
static int conn_start(struct mh_tls_conn *t, const char *server_name) {
  if (t->ctx->is_server) {
    SSL_set_accept_state(t->ssl);
    return 0;
  }
  SSL_set_connect_state(t->ssl);
  // A server may ask for the client certificate by renegotiating (TLS 1.2): follow it, once, so
  // that what it then decides is the server's, not our client's refusal to renegotiate.
  SSL_set_renegotiate_mode(t->ssl, ssl_renegotiate_once);
  if (server_name != NULL) {
    if ((t->server_name = strdup(server_name)) == NULL) {
      return -1;
    }
    SSL_set_tlsext_host_name(t->ssl, server_name);
  }
  return 0;
}

struct mh_tls_conn *mh_tls_conn_new(struct mh_tls_ctx *c, int fd, const char *server_name) {
  struct mh_tls_conn *t = conn_alloc(c);
  if (t == NULL) {
    return NULL;
  }
  if (c->buffered) {
    t->rbuf = malloc(sizeof(*t->rbuf));
    BIO *bio = t->rbuf != NULL ? mh_tls_fdbuf_bio(t->rbuf) : NULL;
    if (bio == NULL) {
      goto fail;
    }
    t->rbuf->fd = fd;
    t->rbuf->maybe_readable = 1;
    t->rbuf->first_send = c->is_server ? NULL : &t->info.first_send_s;
    t->rbuf->off = t->rbuf->len = 0;
    SSL_set_bio(t->ssl, bio, bio);  // one reference, owned by |t->ssl|
  } else if (!SSL_set_fd(t->ssl, fd)) {
    goto fail;
  }
  if (conn_start(t, server_name) != 0) {
    goto fail;
  }
  return t;
fail:
  mh_tls_conn_free(t);
  return NULL;
}

struct mh_tls_conn *mh_tls_conn_new_bio(struct mh_tls_ctx *c, BIO *bio, const char *server_name) {
  struct mh_tls_conn *t = conn_alloc(c);
  if (t == NULL) {
    BIO_free(bio);
    return NULL;
  }
  SSL_set_bio(t->ssl, bio, bio);  // one reference, owned by |t->ssl|
  if (conn_start(t, server_name) != 0) {
    mh_tls_conn_free(t);
    return NULL;
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
  free(t->request_cas);
  free(t->peer_chain);
  if (t->keylog != NULL) {
    OPENSSL_cleanse(t->keylog, MH_TLS_KEYLOG_LEN);  // secrets
    free(t->keylog);
  }
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
    mh_tls_resume_recall(t);
  }
  if (!t->info.peer_cert && t->ctx->is_server) {
    t->info.verify_ok = !t->ctx->mtls || !t->ctx->require_client_cert;
  }
}

// classify turns a failed SSL call into MH_IO_CLOSED or MH_IO_FAILED and explains it in the
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
  enum mh_io io = mh_tls_classify(t, r);
  return io == MH_IO_CLOSED ? MH_IO_FAILED : io;
}

enum mh_io mh_tls_read(struct mh_tls_conn *t, void *buf, size_t len, size_t *out_n) {
  ERR_clear_error();
  errno = 0;
  int cap = len > 1 << 30 ? 1 << 30 : (int)len;
  int r = SSL_read(t->ssl, buf, cap);
  t->info.renegotiations = SSL_total_renegotiations(t->ssl);
  if (r > 0) {
    *out_n = (size_t)r;
    return MH_IO_OK;
  }
  *out_n = 0;
  return mh_tls_classify(t, r);
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
  return mh_tls_classify(t, r);
}

void mh_tls_close_notify(struct mh_tls_conn *t) {
  ERR_clear_error();
  SSL_shutdown(t->ssl);
  ERR_clear_error();
}

const struct mh_tls_info *mh_tls_conn_info(const struct mh_tls_conn *t) {
  return &t->info;
}

const char *mh_tls_conn_request_ca(const struct mh_tls_conn *t, size_t i) {
  return i < t->num_request_cas_kept ? t->request_cas[i] : NULL;
}

int mh_tls_conn_peer_leaf(const struct mh_tls_conn *t, const uint8_t **out_der, size_t *out_len) {
  const STACK_OF(CRYPTO_BUFFER) *bufs = SSL_get0_peer_certificates(t->ssl);
  if (bufs == NULL || sk_CRYPTO_BUFFER_num(bufs) == 0) {
    return -1;
  }
  const CRYPTO_BUFFER *leaf = sk_CRYPTO_BUFFER_value(bufs, 0);
  *out_der = CRYPTO_BUFFER_data(leaf);
  *out_len = CRYPTO_BUFFER_len(leaf);
  return 0;
}

int mh_tls_cert_describe(const uint8_t *der, size_t len, char *serial, size_t serial_len,
                         char *subject, size_t subject_len, int64_t *out_not_after) {
  const uint8_t *p = der;
  X509 *x = d2i_X509(NULL, &p, (long)len);
  if (x == NULL) {
    return -1;
  }
  // Serial, subject and time as the run's reports show them (pki/certinfo.c, pki/name.c).
  mh_certinfo_serial(X509_get0_serialNumber(x), serial, serial_len);
  mh_inspect_posix_time(X509_get0_notAfter(x), out_not_after);
  mh_name_rfc2253(X509_get_subject_name(x), subject, subject_len);
  X509_free(x);
  return 0;
}
