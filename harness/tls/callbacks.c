// callbacks: the library's callbacks that watch the handshake: handshake messages (a Go server's
// answer to an empty client Certificate; on a client, the server's ServerHello and
// CertificateRequest with its CA names, our flight and tickets), alerts, the versions a client
// offers, and the server's ALPN choice.
//
// BoringSSL does not call the verify callback when the client sends an empty Certificate, and its
// own FAIL_IF_NO_PEER_CERT alert is handshake_failure (40) in TLS 1.2 where Go sends
// bad_certificate (42). So the message callback inspects the client's Certificate message as it
// arrives and, when Go would reject, sends Go's alert itself; once a fatal alert is sent BoringSSL
// refuses to write anything else, so the client sees only that alert, as from Go.
#include <openssl/bio.h>
#include <openssl/bytestring.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pki/name.h"
#include "base/alerts.h"
#include "tls/internal.h"

// server_hello records a ServerHello's chosen version: supported_versions (TLS 1.3) when present,
// else legacy_version. A malformed message records the legacy version: the library rejects it.
static void server_hello(struct mh_tls_conn *t, CBS *body) {
  uint16_t legacy, type, v;
  CBS session_id, exts, ext;
  t->info.server_hello = 1;
  if (!CBS_get_u16(body, &legacy)) {
    return;
  }
  t->info.server_version = legacy;
  if (!CBS_skip(body, 32) || !CBS_get_u8_length_prefixed(body, &session_id) || !CBS_skip(body, 3) ||
      !CBS_get_u16_length_prefixed(body, &exts)) {
    return;
  }
  while (CBS_get_u16(&exts, &type) && CBS_get_u16_length_prefixed(&exts, &ext)) {
    if (type == TLSEXT_TYPE_supported_versions && CBS_get_u16(&ext, &v)) {
      t->info.server_version = v;
    }
  }
}

// keep_ca appends the RFC 2253 text of DER name |dn| to |t|'s CA names, cut to fit; an unreadable
// name is kept as "(unparsable name)": it was sent, and a person should see that.
static void keep_ca(struct mh_tls_conn *t, const CBS *dn) {
  if (t->request_cas == NULL) {
    t->request_cas = calloc(MH_TLS_REQUEST_CAS, sizeof(*t->request_cas));
    if (t->request_cas == NULL) {
      return;
    }
  }
  char *out = t->request_cas[t->num_request_cas_kept++];
  const uint8_t *der = CBS_data(dn);
  X509_NAME *name = d2i_X509_NAME(NULL, &der, (long)CBS_len(dn));
  if (name != NULL) {
    mh_name_rfc2253(name, out, MH_TLS_REQUEST_CA_LEN);
  } else {
    snprintf(out, MH_TLS_REQUEST_CA_LEN, "(unparsable name)");
  }
  X509_NAME_free(name);
  ERR_clear_error();
}

// certificate_request records that the server asked for a client certificate and the CA names it
// listed (TLS 1.2: certificate_authorities; TLS 1.3: the certificate_authorities extension).
static void certificate_request(struct mh_tls_conn *t, CBS *body) {
  CBS skip, list, dn, exts, ext;
  uint16_t type;
  int found = 0;
  t->info.certificate_request = 1;
  if (t->info.server_version >= TLS1_3_VERSION) {
    if (!CBS_get_u8_length_prefixed(body, &skip) || !CBS_get_u16_length_prefixed(body, &exts)) {
      return;
    }
    while (!found && CBS_get_u16(&exts, &type) && CBS_get_u16_length_prefixed(&exts, &ext)) {
      found =
          type == TLSEXT_TYPE_certificate_authorities && CBS_get_u16_length_prefixed(&ext, &list);
    }
  } else {
    found = CBS_get_u8_length_prefixed(body, &skip) &&
            (t->info.server_version < TLS1_2_VERSION || CBS_get_u16_length_prefixed(body, &skip)) &&
            CBS_get_u16_length_prefixed(body, &list);
  }
  while (found && CBS_get_u16_length_prefixed(&list, &dn)) {
    t->info.num_request_cas++;
    if (!t->ctx->load_mode && t->num_request_cas_kept < MH_TLS_REQUEST_CAS) {
      keep_ca(t, &dn);
    }
  }
}

// mh_tls_callbacks_msg sees each handshake message before BoringSSL processes it. On a Go-emulating
// mTLS server it rejects an empty client Certificate the way Go does (see this file's top comment).
void mh_tls_callbacks_msg(int is_write, int version, int content_type, const void *buf, size_t len,
                          SSL *ssl, void *arg) {
  (void)version;
  (void)arg;
  struct mh_tls_conn *t = mh_tls_conn_of(ssl);
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
  CBS body;
  CBS_init(&body, p + 4, len - 4);
  if (!t->ctx->is_server) {
    if (p[0] == SSL3_MT_NEW_SESSION_TICKET) {
      t->info.tickets_received++;  // in TLS 1.3: the server kept the connection after our Finished
    } else if (p[0] == SSL3_MT_SERVER_HELLO) {
      server_hello(t, &body);
    } else if (p[0] == SSL3_MT_HELLO_REQUEST) {
      t->info.hello_request = 1;
    } else if (p[0] == SSL3_MT_CERTIFICATE_REQUEST && t->info.handshake_done &&
               SSL_version(ssl) >= TLS1_3_VERSION) {
      t->info.post_handshake_auth = 1;
    } else if (p[0] == SSL3_MT_CERTIFICATE_REQUEST) {
      certificate_request(t, &body);
    }
    return;
  }
  if (!t->ctx->mtls || t->ctx->emulate != MH_EMULATE_GO || t->rejected) {
    return;
  }
  if (p[0] != SSL3_MT_CERTIFICATE) {
    return;
  }
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
    mh_tls_conn_set_reason(t, "tls: client didn't provide a certificate");
    alert = tls13 ? SSL_AD_CERTIFICATE_REQUIRED : SSL_AD_BAD_CERTIFICATE;
  } else if (c->num_allowed_cns > 0) {
    // Go calls VerifyPeerCertificate with no chains; SemStreams' allow-list then refuses.
    mh_tls_conn_set_reason(t, "no verified certificate chains");
    alert = SSL_AD_BAD_CERTIFICATE;
  } else {
    return;
  }
  t->rejected = 1;
  SSL_send_fatal_alert(ssl, alert);
}

void mh_tls_callbacks_info(const SSL *ssl, int where, int value) {
  struct mh_tls_conn *t = mh_tls_conn_of(ssl);
  if (t == NULL) {
    return;
  }
  int level = (value >> 8) & 0xff, desc = value & 0xff;
  // close_notify ends the transport (info.end), it rejects nothing: the alert fields keep the
  // first alert of another kind, so that MH_ALERT_NONE is the only "no alert".
  if (desc == SSL_AD_CLOSE_NOTIFY) {
    if ((where & SSL_CB_READ_ALERT) == SSL_CB_READ_ALERT && t->info.end == MH_END_NONE) {
      t->info.end = MH_END_CLOSE_NOTIFY;
    }
    return;
  }
  // SSL_CB_READ_ALERT and SSL_CB_WRITE_ALERT share the SSL_CB_ALERT bit: compare whole masks.
  if ((where & SSL_CB_WRITE_ALERT) == SSL_CB_WRITE_ALERT && level == SSL3_AL_FATAL &&
      t->info.alert_sent == MH_ALERT_NONE) {
    t->info.alert_sent = desc;
  }
  if ((where & SSL_CB_READ_ALERT) == SSL_CB_READ_ALERT && t->info.alert_received == MH_ALERT_NONE) {
    t->info.alert_received = desc;
  }
}

// mh_tls_callbacks_select reads the versions the client offers, for Go's "offered only unsupported
// versions".
enum ssl_select_cert_result_t mh_tls_callbacks_select(const SSL_CLIENT_HELLO *hello) {
  struct mh_tls_conn *t = mh_tls_conn_of(hello->ssl);
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
      while (t->num_offered < MH_TLS_MAX_OFFERED && CBS_get_u16(&list, &v)) {
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

int mh_tls_callbacks_alpn(SSL *ssl, const uint8_t **out, uint8_t *out_len, const uint8_t *in,
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
