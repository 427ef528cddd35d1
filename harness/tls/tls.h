// tls: the only layer that sees <openssl/ssl.h> (the files of harness/tls/; tls/internal.h says
// which file holds what). It turns a location's TLS policy into BoringSSL contexts that behave
// like the real system's stack, drives non-blocking handshakes and records, for each connection,
// what the stack did: version, cipher, group, the alert it sent and the one it received, the
// peer's identity, and the reason in the words the real system logs.
//
// Two verification semantics are provided:
//  - "go": Go crypto/tls + crypto/x509 as used by SemStreams (leaf validity first, then chain, then
//    EKU, then the CN allow-list; alerts 116/42 for a missing certificate (TLS 1.3/1.2), 48 unknown
//    CA, 45 expired or not yet valid, 42 otherwise; SANs only for server names);
//  - "nginx": nginx with ssl_verify_client: the handshake completes whatever the client
//    certificate, and the verification result is kept for the HTTP layer to answer 400.
#ifndef MH_TLS_H
#define MH_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"
#include "base/outcomes.h"
#include "base/tls_version.h"

enum mh_tls_emulation {
  MH_EMULATE_GO,     // SemStreams (Go net/http + crypto/tls)
  MH_EMULATE_NGINX,  // nginx, ssl_verify_client on / optional
};

// mh_tls_server_policy is the resolved tls.server block of a location (all paths are real files).
struct mh_tls_server_policy {
  const char *cert_file;
  const char *key_file;
  int min_version;  // MH_TLS12 or MH_TLS13; there is no maximum, as in the real system
  int mtls;         // send a CertificateRequest
  int require_client_cert;
  const char *const *client_ca_files;  // the only roots for client certificates
  size_t num_client_ca_files;
  const char *const *allowed_cns;  // exact, case-sensitive subject CN; empty = any
  size_t num_allowed_cns;
  enum mh_tls_emulation emulate;
  // Read the socket through a buffer (one read(2) per flight, as Go does) instead of reading each
  // record's header and body separately. The caller must then honour mh_tls_buffered.
  int buffered;
  // Session ticket keys are derived from this name (and a per-process secret): the contexts of
  // one location share them, other locations' tickets are refused. NULL: random keys.
  const char *ticket_key_id;
};

// mh_tls_client_policy is the resolved tls.client block of a location's input.
struct mh_tls_client_policy {
  const char *const *ca_files;  // added to the system roots
  size_t num_ca_files;
  int system_roots;  // trust the system store too (Go: SystemCertPool)
  int insecure_skip_verify;
  int min_version;
  const char *cert_file;  // NULL: no client certificate
  const char *key_file;
};

// mh_tls_info is what a connection's TLS layer did. Strings are empty when unknown.
struct mh_tls_info {
  int handshake_done;  // the local handshake call returned success
  int version;         // negotiated protocol version, 0 if none (base/tls_version.h names it)
  char cipher[64];
  char group[32];
  char alpn[32];
  // Alerts are fatal ones (or any alert but close_notify, received): MH_ALERT_NONE is the only
  // "no alert"; a close_notify received is an |end|, not an alert.
  int alert_sent;          // the first fatal alert we sent, MH_ALERT_NONE if none
  int alert_received;      // the first alert the peer sent, MH_ALERT_NONE if none
  enum mh_end end;         // how the peer ended the transport, as the library and the socket
                           // said: MH_END_CLOSE_NOTIFY, MH_END_FIN (EOF without close_notify),
                           // MH_END_RST (ECONNRESET), or MH_END_NONE while nothing said so
  int peer_cert;           // the peer presented a certificate
  int verify_ok;           // the peer certificate passed verification (or was not needed)
  int verify_refused;      // client: our verification refused the server's certificate (its
                           // alert is ours by policy); any other alert we send is our library
                           // refusing a message, which is no refusal of the server's
  char peer_cn[256];       // leaf subject CN
  char peer_dn[512];       // leaf subject, RFC 2253 (nginx's $ssl_client_s_dn)
  char reason[512];        // why it failed, in the emulated stack's words: display text only
  char verify_error[256];  // nginx: the FAILED:<reason> text
  int resumed;
  int http_on_tls;         // the client spoke plain HTTP to the TLS port
  int not_tls_record;      // a record from the peer was not TLS (its version byte was not 3)
  int client_flight_sent;  // client: we sent our Certificate/ClientKeyExchange/Finished
  int tickets_received;    // client: NewSessionTicket messages seen
  // Client: what the server's flight showed, from the messages themselves, so that a rejection can
  // be placed: before or after the ServerHello, before or after a CertificateRequest.
  int server_hello;         // a ServerHello (or HelloRetryRequest) arrived
  int server_version;       // the version it chose (supported_versions, else legacy_version)
  int certificate_request;  // a CertificateRequest arrived
  int num_request_cas;      // the CA names it carried, all of them (mh_tls_conn_request_ca)
  // Client authentication after the handshake: a TLS 1.2 HelloRequest (the server renegotiates,
  // as Apache's per-directory SSLVerifyClient does; the client follows once), how many
  // renegotiations completed, and a TLS 1.3 post-handshake CertificateRequest (which BoringSSL
  // cannot answer: the client never offers post_handshake_auth).
  int hello_request;
  int renegotiations;
  int post_handshake_auth;
  double first_send_s;  // buffered client: CLOCK_MONOTONIC seconds when the kernel first took
                        // our bytes (the ClientHello: the TCP connection was established)
};

// mh_tls_probe_policy is the conformance runner's client: it offers exactly one version, presents
// an identity (whose key may deliberately not match its certificate) and checks the server as a Go
// client does, or not at all.
struct mh_tls_probe_policy {
  int version;                  // MH_TLS12 or MH_TLS13, offered alone
  const char *const *ca_files;  // roots for the server certificate
  size_t num_ca_files;
  int verify;             // check the server certificate and name (Go semantics)
  const char *cert_file;  // client chain (leaf first), NULL for none
  const char *key_file;
  int key_mismatch;  // |key_file| does not belong to |cert_file|: sign with it anyway
  int load_mode;     // skip parsing the server's certificate (load generation)
  int resume;        // keep the sessions the server issues, for mh_tls_conn_offer_session
};

struct mh_tls_ctx;
struct mh_tls_conn;

// mh_tls_probe_ctx_new builds a probing client context; NULL with |err| set on failure.
struct mh_tls_ctx *mh_tls_probe_ctx_new(const struct mh_tls_probe_policy *p, struct mh_err *err);

// mh_tls_server_ctx_new builds a server context for |p|. Certificates, keys and CA files are loaded
// and checked now; returns NULL with |err| set ("<file>: <problem>") if any is unusable.
struct mh_tls_ctx *mh_tls_server_ctx_new(const struct mh_tls_server_policy *p, struct mh_err *err);

// mh_tls_client_ctx_new builds a client context for |p|; NULL with |err| set on failure.
struct mh_tls_ctx *mh_tls_client_ctx_new(const struct mh_tls_client_policy *p, struct mh_err *err);

// mh_tls_ctx_free releases |c| (NULL is accepted); connections hold their own reference.
void mh_tls_ctx_free(struct mh_tls_ctx *c);

enum mh_io {
  MH_IO_OK,          // progress: handshake done, or bytes transferred
  MH_IO_WANT_READ,   // wait until the socket is readable and call again
  MH_IO_WANT_WRITE,  // wait until the socket is writable and call again
  MH_IO_CLOSED,      // the peer closed: close_notify or EOF (info.end says which)
  MH_IO_FAILED,      // fatal TLS or transport error (see info.reason)
};

// mh_tls_conn_new wraps the connected non-blocking socket |fd| (not owned). For a client context,
// |server_name| is sent as SNI and checked against the certificate; servers pass NULL. Returns NULL
// on allocation failure.
struct mh_tls_conn *mh_tls_conn_new(struct mh_tls_ctx *c, int fd, const char *server_name);

// mh_tls_conn_new_bio is mh_tls_conn_new over |bio| instead of a socket, for tests that drive a
// client against a server in memory (a BIO pair) through this API. The connection owns |bio| from
// this call on (it is freed on failure too). A buffered context does not buffer such a connection.
// Returns NULL on allocation failure.
struct bio_st;  // BoringSSL's BIO, so that this header does not need <openssl/base.h>
struct mh_tls_conn *mh_tls_conn_new_bio(struct mh_tls_ctx *c, struct bio_st *bio,
                                        const char *server_name);

// mh_tls_conn_offer_session offers a session kept by |t|'s context (a probe context with |resume|),
// before the handshake. TLS 1.3 tickets are used once each; TLS 1.2 sessions are reused. Returns 1
// if one was offered, 0 if none is kept yet. Whether the server resumed it is info.resumed, from
// the library.
int mh_tls_conn_offer_session(struct mh_tls_conn *t);

// mh_tls_buffered says whether |t| holds received bytes that were not handed out yet (in its
// socket buffer or decrypted): an event loop must call mh_tls_read again before waiting for the
// descriptor. Never true right after MH_IO_WANT_READ.
int mh_tls_buffered(const struct mh_tls_conn *t);

// mh_tls_readable tells |t| that its descriptor was reported readable. A buffered connection
// skips the read(2) right after its own write until then (see tls/fdbuf.c): an event loop calls
// this on every readiness event, before it calls the connection again.
void mh_tls_readable(struct mh_tls_conn *t);

// mh_tls_conn_free releases |t| without sending anything. NULL is accepted.
void mh_tls_conn_free(struct mh_tls_conn *t);

// mh_tls_handshake advances the handshake. MH_IO_OK once it is complete.
enum mh_io mh_tls_handshake(struct mh_tls_conn *t);

// mh_tls_read reads up to |len| bytes of application data into |buf|; on MH_IO_OK, |*out_n| > 0.
enum mh_io mh_tls_read(struct mh_tls_conn *t, void *buf, size_t len, size_t *out_n);

// mh_tls_write writes up to |len| bytes; on MH_IO_OK, |*out_n| bytes were taken.
enum mh_io mh_tls_write(struct mh_tls_conn *t, const void *buf, size_t len, size_t *out_n);

// mh_tls_close_notify sends close_notify (best effort, non-blocking).
void mh_tls_close_notify(struct mh_tls_conn *t);

// mh_tls_conn_info returns what the connection's TLS layer did so far.
const struct mh_tls_info *mh_tls_conn_info(const struct mh_tls_conn *t);

// mh_tls_conn_peer_leaf points |*out_der| and |*out_len| at the DER of the certificate the peer
// presented first (its leaf), as the TLS library holds it: borrowed from |t|, valid until it is
// freed, nothing parsed or copied. Returns 0, or -1 when the peer presented none (a resumed
// handshake: the server sends no certificate).
int mh_tls_conn_peer_leaf(const struct mh_tls_conn *t, const uint8_t **out_der, size_t *out_len);

// mh_tls_cert_describe decodes the DER certificate |der|: its serial as the run's reports show it
// (mh_certinfo_serial: upper-case hex, two digits a byte), its subject on one line (RFC 2253, cut
// to |subject_len| - 1 bytes) and its notAfter in unix seconds. Returns 0, or -1 when it is not a
// certificate.
int mh_tls_cert_describe(const uint8_t *der, size_t len, char *serial, size_t serial_len,
                         char *subject, size_t subject_len, int64_t *out_not_after);

// MH_TLS_REQUEST_CAS is how many CA names of a CertificateRequest a probe keeps, each RFC 2253
// text cut to MH_TLS_REQUEST_CA_LEN - 1 bytes: a server may send thousands, a case records a few.
#define MH_TLS_REQUEST_CAS 16
#define MH_TLS_REQUEST_CA_LEN 256

// mh_tls_conn_request_ca returns the |i|th CA name (RFC 2253) of the CertificateRequest |t|
// received, or NULL past the last kept (at most MH_TLS_REQUEST_CAS; info.num_request_cas counts
// them all). Kept by probe connections only (not load mode); the string belongs to |t|.
const char *mh_tls_conn_request_ca(const struct mh_tls_conn *t, size_t i);

// mh_tls_conn_peer_chain returns the certificates the server presented to a client connection
// (not in load mode), DER one after the other, leaf first, and their total length in |*out_len|;
// NULL (|*out_len| 0) when none arrived. Kept from the moment the server's Certificate was read,
// also when verifying it then failed: what a server presents is a fact of its own. Belongs to |t|.
const uint8_t *mh_tls_conn_peer_chain(const struct mh_tls_conn *t, size_t *out_len);

// mh_tls_keylog_open makes every connection of this process append its TLS secrets, in the NSS key
// log format (SSLKEYLOGFILE), to |path|. A regular file is made 0600, also when it exists with a
// wider mode. Without a call, the SSLKEYLOGFILE environment variable is honoured as other TLS
// tools do (the file is opened the same way on first use, and ignored if it cannot be). Returns 0
// or -1 with |err| set.
int mh_tls_keylog_open(const char *path, struct mh_err *err);

// mh_tls_keylog_close closes the process's key log file, if one is open (by mh_tls_keylog_open or
// from SSLKEYLOGFILE); secrets are no longer written to a file afterwards. Call it at exit.
void mh_tls_keylog_close(void);

// mh_tls_conn_keylog returns the NSS key log lines of this connection so far ("" if none). They are
// secrets: they go into capture files, never into logs.
const char *mh_tls_conn_keylog(const struct mh_tls_conn *t);

// mh_tls_library_implementations writes which implementation of ECDSA P-256 and X25519 the
// loaded libcrypto runs (known for Debian's binary and for scripts/boringssl-fast's build).
void mh_tls_library_implementations(char *out, size_t out_len);

// mh_tls_library_describe writes a one-line description of the TLS library this binary runs with
// (API version and the file it was loaded from, so that a user can tell which build is in use) into
// |out| of |out_len| bytes.
void mh_tls_library_describe(char *out, size_t out_len);

// mh_tls_sha1_base64 computes base64(SHA-1(|a| || |b|)) into |out| (at least 29 bytes): the
// WebSocket accept key.
void mh_tls_sha1_base64(const char *a, const char *b, char *out, size_t out_len);

// mh_tls_random fills |buf| with |len| random bytes.
void mh_tls_random(void *buf, size_t len);

#endif
