// alerts: the TLS alert table, defined once (RFC 8446 §6, RFC 5246 §7.2).
// X(enum suffix, code, RFC name, Go crypto/tls text). The Go text is what a Go peer prints after
// "remote error: tls: " (crypto/tls alert.go), so that mocks log in the real system's words.
#ifndef MH_ALERTS_H
#define MH_ALERTS_H

#define MH_ALERTS(X)                                                                             \
  X(CLOSE_NOTIFY, 0, "close_notify", "close notify")                                             \
  X(UNEXPECTED_MESSAGE, 10, "unexpected_message", "unexpected message")                          \
  X(BAD_RECORD_MAC, 20, "bad_record_mac", "bad record MAC")                                      \
  X(DECRYPTION_FAILED, 21, "decryption_failed", "decryption failed")                             \
  X(RECORD_OVERFLOW, 22, "record_overflow", "record overflow")                                   \
  X(DECOMPRESSION_FAILURE, 30, "decompression_failure", "decompression failure")                 \
  X(HANDSHAKE_FAILURE, 40, "handshake_failure", "handshake failure")                             \
  X(NO_CERTIFICATE, 41, "no_certificate", "no certificate")                                      \
  X(BAD_CERTIFICATE, 42, "bad_certificate", "bad certificate")                                   \
  X(UNSUPPORTED_CERTIFICATE, 43, "unsupported_certificate", "unsupported certificate")           \
  X(CERTIFICATE_REVOKED, 44, "certificate_revoked", "revoked certificate")                       \
  X(CERTIFICATE_EXPIRED, 45, "certificate_expired", "expired certificate")                       \
  X(CERTIFICATE_UNKNOWN, 46, "certificate_unknown", "unknown certificate")                       \
  X(ILLEGAL_PARAMETER, 47, "illegal_parameter", "illegal parameter")                             \
  X(UNKNOWN_CA, 48, "unknown_ca", "unknown certificate authority")                               \
  X(ACCESS_DENIED, 49, "access_denied", "access denied")                                         \
  X(DECODE_ERROR, 50, "decode_error", "error decoding message")                                  \
  X(DECRYPT_ERROR, 51, "decrypt_error", "error decrypting message")                              \
  X(EXPORT_RESTRICTION, 60, "export_restriction", "export restriction")                          \
  X(PROTOCOL_VERSION, 70, "protocol_version", "protocol version not supported")                  \
  X(INSUFFICIENT_SECURITY, 71, "insufficient_security", "insufficient security level")           \
  X(INTERNAL_ERROR, 80, "internal_error", "internal error")                                      \
  X(INAPPROPRIATE_FALLBACK, 86, "inappropriate_fallback", "inappropriate fallback")              \
  X(USER_CANCELED, 90, "user_canceled", "user canceled")                                         \
  X(NO_RENEGOTIATION, 100, "no_renegotiation", "no renegotiation")                               \
  X(MISSING_EXTENSION, 109, "missing_extension", "missing extension")                            \
  X(UNSUPPORTED_EXTENSION, 110, "unsupported_extension", "unsupported extension")                \
  X(CERTIFICATE_UNOBTAINABLE, 111, "certificate_unobtainable", "certificate unobtainable")       \
  X(UNRECOGNIZED_NAME, 112, "unrecognized_name", "unrecognized name")                            \
  X(BAD_CERTIFICATE_STATUS_RESPONSE, 113, "bad_certificate_status_response",                     \
    "bad certificate status response")                                                           \
  X(BAD_CERTIFICATE_HASH_VALUE, 114, "bad_certificate_hash_value", "bad certificate hash value") \
  X(UNKNOWN_PSK_IDENTITY, 115, "unknown_psk_identity", "unknown PSK identity")                   \
  X(CERTIFICATE_REQUIRED, 116, "certificate_required", "certificate required")                   \
  X(NO_APPLICATION_PROTOCOL, 120, "no_application_protocol", "no application protocol")          \
  X(ECH_REQUIRED, 121, "ech_required", "encrypted client hello required")

enum mh_alert {
  MH_ALERT_NONE = -1,
#define X(e, code, name, go) MH_ALERT_##e = code,
  MH_ALERTS(X)
#undef X
};

// mh_alert_name returns the RFC name of alert |code|, "none" for MH_ALERT_NONE, or "unknown".
static inline const char *mh_alert_name(int code) {
  switch (code) {
    case MH_ALERT_NONE:
      return "none";
#define X(e, c, name, go) \
  case c:                 \
    return name;
      MH_ALERTS(X)
#undef X
    default:
      return "unknown";
  }
}

// mh_alert_go_text returns Go crypto/tls's text for alert |code|.
static inline const char *mh_alert_go_text(int code) {
  switch (code) {
#define X(e, c, name, go) \
  case c:                 \
    return go;
    MH_ALERTS(X)
#undef X
    default:
      return "alert";
  }
}

#endif
