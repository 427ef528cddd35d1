// classify: what a failed library call means. It turns the result of a failed SSL call into an
// mh_io result, decides from what the library and the socket said how the transport ended (an
// enum mh_end in the connection's info: close_notify, FIN or RST), and explains the failure in the
// emulated stack's words (Go's, for the mocks). The reason is display text: nothing parses it.
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "base/alerts.h"
#include "tls/internal.h"

// set_end records how the transport ended, if nothing ended it before.
static void set_end(struct mh_tls_conn *t, enum mh_end end) {
  if (t->info.end == MH_END_NONE) {
    t->info.end = end;
  }
}

// classify_syscall explains a failure of the socket below the library: the peer's FIN (EOF) or
// RST, or another error of the system call (errno |saved|).
static enum mh_io classify_syscall(struct mh_tls_conn *t, int r, int saved) {
  if (saved == 0 || r == 0) {
    set_end(t, MH_END_FIN);
    mh_tls_conn_set_reason(t, "EOF");
    return t->info.handshake_done ? MH_IO_CLOSED : MH_IO_FAILED;
  }
  if (saved == ECONNRESET) {
    set_end(t, MH_END_RST);
  }
  mh_tls_conn_set_reason(t, "read: %s", strerror(saved));
  return MH_IO_FAILED;
}

// offered_versions writes the versions the client offered as Go prints them ("304 303").
static void offered_versions(const struct mh_tls_conn *t, char *out, size_t out_len) {
  out[0] = '\0';
  for (size_t i = 0; i < t->num_offered; i++) {
    size_t used = strlen(out);
    snprintf(out + used, out_len - used, "%s%x", i ? " " : "", t->offered[i]);
  }
}

// classify_tls explains the library's own error |err| (library |lib|, reason |reason|).
static void classify_tls(struct mh_tls_conn *t, uint32_t err, int lib, int reason) {
  int is_ssl = lib == ERR_LIB_SSL;
  if (is_ssl &&
      (reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_NO_SUPPORTED_VERSIONS_ENABLED) &&
      t->ctx->is_server) {
    char list[128];
    offered_versions(t, list, sizeof(list));
    mh_tls_conn_set_reason(t, "tls: client offered only unsupported versions: [%s]", list);
  } else if (is_ssl && reason == SSL_R_HTTP_REQUEST) {
    t->info.http_on_tls = 1;
    mh_tls_conn_set_reason(t, "tls: first record does not look like a TLS handshake");
  } else if (is_ssl && reason == SSL_R_WRONG_VERSION_NUMBER && t->info.handshake_done) {
    // Not the first record: the peer spoke TLS, then sent bytes that are not a record.
    mh_tls_conn_set_reason(t,
                           "tls: a record after the handshake is not TLS (garbage on the "
                           "connection: a broken middlebox, or a peer that stopped speaking TLS)");
  } else if (is_ssl &&
             (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_HTTPS_PROXY_REQUEST)) {
    t->info.not_tls_record = 1;
    mh_tls_conn_set_reason(t, "tls: first record does not look like a TLS handshake");
  } else if (is_ssl && reason == SSL_R_EXCESSIVE_MESSAGE_SIZE && !t->ctx->is_server &&
             t->info.handshake_done) {
    // After the handshake BoringSSL bounds a client's messages (a NewSessionTicket) to 16 KiB,
    // whatever max_cert_list says: a server whose tickets carry a large client certificate
    // (OpenSSL's do) sends more.
    mh_tls_conn_set_reason(t,
                           "tls: the server sent a post-handshake message (a NewSessionTicket) "
                           "over 16 KiB, BoringSSL's fixed limit for them (Go and OpenSSL "
                           "clients accept it)");
  } else if (is_ssl && reason == SSL_R_EXCESSIVE_MESSAGE_SIZE) {
    // The peer's handshake message is over the library's bound: for a certificate chain, the
    // max cert list (SSL_MAX_CERT_LIST_DEFAULT, 100 KiB).
    mh_tls_conn_set_reason(t,
                           "tls: the %s sent a handshake message over %zu KiB (excessive message "
                           "size: e.g. a certificate chain over the TLS library's limit)",
                           t->ctx->is_server ? "client" : "server",
                           SSL_get_max_cert_list(t->ssl) / 1024);
  } else if (is_ssl && reason == SSL_R_BAD_SIGNATURE && t->ctx->is_server) {
    // Go's verifyHandshakeSignature wording per key type.
    mh_tls_conn_set_reason(t, "tls: invalid signature by the client certificate: %s",
                           t->peer_key_id == EVP_PKEY_RSA       ? "crypto/rsa: verification error"
                           : t->peer_key_id == EVP_PKEY_ED25519 ? "Ed25519 verification failure"
                                                                : "ECDSA verification failure");
  } else {
    const char *text = ERR_reason_error_string(err);
    mh_tls_conn_set_reason(t, "tls: %s", text != NULL ? text : "unknown error");
  }
}

enum mh_io mh_tls_classify(struct mh_tls_conn *t, int r) {
  int saved = errno;  // the socket's error, before anything below can change it
  int e = SSL_get_error(t->ssl, r);
  if (e == SSL_ERROR_WANT_READ) {
    return MH_IO_WANT_READ;
  }
  if (e == SSL_ERROR_WANT_WRITE) {
    return MH_IO_WANT_WRITE;
  }
  // A client knows a version only from a ServerHello it accepted: before one, the library
  // reports its own default (TLS 1.2), which is no fact about the server.
  if (t->info.version == 0 && SSL_version(t->ssl) != 0 &&
      (t->ctx->is_server ||
       (t->info.server_hello && SSL_version(t->ssl) == t->info.server_version))) {
    t->info.version = SSL_version(t->ssl);
  }
  if (e == SSL_ERROR_ZERO_RETURN) {
    set_end(t, MH_END_CLOSE_NOTIFY);
    if (t->info.reason[0] == '\0') {
      mh_tls_conn_set_reason(t, "close_notify");
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
    return classify_syscall(t, r, saved);
  }
  if (lib == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256) {
    int desc = reason - SSL_AD_REASON_OFFSET;
    if (t->info.alert_received == MH_ALERT_NONE && desc != SSL_AD_CLOSE_NOTIFY) {
      t->info.alert_received = desc;
    }
    if (t->info.reason[0] == '\0') {
      mh_tls_conn_set_reason(t, "remote error: tls: %s", mh_alert_go_text(desc));
    }
    return MH_IO_FAILED;
  }
  if (t->info.reason[0] == '\0') {
    classify_tls(t, err, lib, reason);
  }
  return MH_IO_FAILED;
}
