// tls/internal.h: what the files of the TLS layer share, and nothing outside harness/tls/ may
// include: the context and connection structures and the functions one file provides to another.
// The public API is tls.h.
//
// Where each concern lives:
//   fdbuf.c     the buffered socket BIO (one read(2) per flight, as Go reads)
//   verify.c    Go-style (and nginx-style) certificate verification, the verify callbacks
//   resume.c    resumption: the sessions a client keeps, what a server remembers of its clients
//   callbacks.c the message, info, certificate-selection and ALPN callbacks
//   keylog.c    the NSS key log (file and per connection)
//   ctx.c       contexts: policies to SSL_CTX, certificates, CAs, session ticket keys
//   conn.c      connections: creation, handshake, read, write, what was negotiated
//   classify.c  a failed call to its result, its transport end and its reason in Go's words
//   library.c   the library's description and the few primitives others need (SHA-1, random)
#ifndef MH_TLS_INTERNAL_H
#define MH_TLS_INTERNAL_H

#include <openssl/base.h>
#if !defined(OPENSSL_IS_BORINGSSL)
#error "mtls-harness must be built against BoringSSL, not OpenSSL"
#endif

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "tls/tls.h"

#define MH_TLS_MAX_OFFERED 16
#define MH_TLS_NUM_SESSIONS 256

struct mh_tls_memo;  // resume.c

struct mh_tls_ctx {
  SSL_CTX *ssl_ctx;
  int is_server;
  int refs;
  enum mh_tls_emulation emulate;
  int mtls;
  int require_client_cert;
  int insecure_skip_verify;
  X509_STORE *store;     // empty: verification takes its roots from |cas|, a trusted stack
  STACK_OF(X509) * cas;  // the same CAs, for Go's "possibly because" hint
  char **allowed_cns;
  size_t num_allowed_cns;
  EVP_PKEY *sign_key;  // probe: the key that signs although it does not match the certificate
  int load_mode;       // probe for load: skip certificate parsing, count session tickets
  int buffered;        // connections read through a struct mh_tls_fdbuf (fdbuf.c)
  // Sessions for resumption (resume contexts): a ring, owned by the context's single thread.
  SSL_SESSION *sessions[MH_TLS_NUM_SESSIONS];
  size_t num_sessions, next_session;
  // Server: what was learnt of the client certificates behind the sessions it issued (sessions
  // keep only the certificate's hash), so that a resumed connection reports the same identity
  // and verdict. A ring of MH_TLS_NUM_MEMOS, allocated on first use; one thread per context.
  struct mh_tls_memo *memos;
  size_t next_memo;
};

struct mh_tls_conn {
  struct mh_tls_ctx *ctx;
  SSL *ssl;
  char *server_name;
  int rejected;  // a callback decided to fail the handshake and sent the alert
  uint16_t offered[MH_TLS_MAX_OFFERED];
  size_t num_offered;
  int peer_key_id;  // EVP_PKEY_* of the peer's leaf key
  struct mh_tls_info info;
  // This connection's secrets, NSS key log lines (MH_TLS_KEYLOG_LEN), allocated at the first:
  // only the runner's probes keep them, and a load's thousands of connections do not.
  char *keylog;
  size_t keylog_len;
  struct mh_tls_fdbuf *rbuf;  // NULL unless the context is buffered
  // Probe: the CA names of the CertificateRequest received (callbacks.c), allocated on arrival.
  char (*request_cas)[MH_TLS_REQUEST_CA_LEN];
  size_t num_request_cas_kept;
  // Client: the server's certificates, DER one after the other (verify.c), allocated on arrival.
  uint8_t *peer_chain;
  size_t peer_chain_len;
};

// --- fdbuf.c ---

#define MH_TLS_FDBUF_LEN 4096
#define MH_TLS_KEYLOG_LEN 1536
#define MH_TLS_MAX_CHAIN 16  // certificates of a client chain file (load mode reads no more)

// mh_tls_fdbuf is the state of a buffered socket BIO; the connection owns it, the BIO borrows it.
struct mh_tls_fdbuf {
  int fd;
  int maybe_readable;  // no write since the last readiness event or successful read
  double *first_send;  // set on the first successful send, if not NULL
  size_t off, len;
  uint8_t data[MH_TLS_FDBUF_LEN];
};

// mh_tls_fdbuf_bio returns a new BIO reading and writing |f->fd| through |f| (which must outlive
// it), or NULL if the BIO method or the BIO cannot be allocated. The caller frees the BIO.
BIO *mh_tls_fdbuf_bio(struct mh_tls_fdbuf *f);

// --- verify.c ---

// mh_tls_verify_server is the custom verify callback of mTLS server contexts: Go's
// processCertsFromClient and SemStreams' allow-list, or nginx's verdict kept for HTTP.
enum ssl_verify_result_t mh_tls_verify_server(SSL *ssl, uint8_t *out_alert);

// mh_tls_verify_client is the custom verify callback of client and probe contexts: a Go client's
// check of the server certificate and name (or none with insecure_skip_verify or load_mode).
enum ssl_verify_result_t mh_tls_verify_client(SSL *ssl, uint8_t *out_alert);

// --- resume.c ---

// mh_tls_resume_remember notes the identity and verdict of |t|'s judged client certificate under
// the hash its session keeps, for mh_tls_resume_recall.
void mh_tls_resume_remember(struct mh_tls_conn *t);

// mh_tls_resume_recall fills a resumed server connection's peer facts from its session.
void mh_tls_resume_recall(struct mh_tls_conn *t);

// mh_tls_resume_keep is the new-session callback of resuming probe contexts: it keeps |sess| (and
// its reference) in the context's ring; returns 1.
int mh_tls_resume_keep(SSL *ssl, SSL_SESSION *sess);

// mh_tls_resume_free_all releases what |c| keeps for resumption (sessions and memos).
void mh_tls_resume_free_all(struct mh_tls_ctx *c);

// --- callbacks.c ---

// mh_tls_callbacks_msg: handshake messages; a Go server's answer to an empty client Certificate.
void mh_tls_callbacks_msg(int is_write, int version, int content_type, const void *buf, size_t len,
                          SSL *ssl, void *arg);
// mh_tls_callbacks_info: the alerts sent and received.
void mh_tls_callbacks_info(const SSL *ssl, int where, int value);
// mh_tls_callbacks_select: the versions the client offers, for Go's version message.
enum ssl_select_cert_result_t mh_tls_callbacks_select(const SSL_CLIENT_HELLO *hello);
// mh_tls_callbacks_alpn: the server's ALPN choice (http/1.1 only).
int mh_tls_callbacks_alpn(SSL *ssl, const uint8_t **out, uint8_t *out_len, const uint8_t *in,
                          unsigned in_len, void *arg);

// --- keylog.c ---

// mh_tls_keylog_cb appends |line| to the connection's key log and to the process's key log file.
void mh_tls_keylog_cb(const SSL *ssl, const char *line);

// mh_tls_keylog_active says whether secrets go to a file (--keylog, or SSLKEYLOGFILE, opened on
// first use).
int mh_tls_keylog_active(void);

// --- conn.c ---

// mh_tls_conn_of returns the connection |ssl| belongs to, or NULL.
struct mh_tls_conn *mh_tls_conn_of(const SSL *ssl);

// mh_tls_conn_set_reason writes |t|'s reason (display text, never parsed).
void mh_tls_conn_set_reason(struct mh_tls_conn *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

// --- classify.c ---

// mh_tls_classify turns the failed SSL call that returned |r| into an mh_io result; on a fatal
// error or a close it sets info.end (how the transport ended, as the library and the socket said)
// and the reason in the emulated stack's words.
enum mh_io mh_tls_classify(struct mh_tls_conn *t, int r);

#endif
