// verify: certificate verification as the emulated stacks do it, and the verify callbacks.
//
// Certificate verification runs in a custom verify callback, which BoringSSL calls exactly where
// Go's processCertsFromClient runs (after the client's Certificate, before CertificateVerify), so
// the alert goes out at the same point of the handshake with Go's code. Go's checks come in Go's
// order (leaf validity, host name, chain, extended key usage, then SemStreams' CN allow-list) and
// fail with Go's words and Go's alert; nginx's verdict is OpenSSL's, kept for the HTTP layer.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "pki/name.h"
#include "tls/internal.h"

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
      mh_name_cn(X509_get_subject_name(ca), cn, sizeof(cn));
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
  X509_STORE_CTX_trusted_stack(sc, c->cas);  // the roots (tls/ctx.c: no per-certificate store)
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
      X509_STORE_CTX_trusted_stack(sc, c->cas);
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
  mh_name_cn(X509_get_subject_name(leaf), t->info.peer_cn, sizeof(t->info.peer_cn));
  if (!t->ctx->is_server || t->ctx->emulate == MH_EMULATE_NGINX) {
    // Only nginx's $ssl_client_s_dn needs the whole subject of a client: Go's policy reads the CN.
    mh_name_rfc2253(X509_get_subject_name(leaf), t->info.peer_dn, sizeof(t->info.peer_dn));
  }
}

enum ssl_verify_result_t mh_tls_verify_server(SSL *ssl, uint8_t *out_alert) {
  struct mh_tls_conn *t = mh_tls_conn_of(ssl);
  struct mh_tls_ctx *c = t->ctx;
  STACK_OF(X509) *chain = peer_chain(ssl);
  if (chain == NULL) {
    *out_alert = SSL_AD_INTERNAL_ERROR;
    mh_tls_conn_set_reason(t, "tls: failed to parse certificate from client");
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
    mh_tls_conn_set_reason(t, "tls: failed to verify certificate: %s", why);
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
      mh_tls_conn_set_reason(t, "client certificate CN '%s' not in allowed list", t->info.peer_cn);
      *out_alert = SSL_AD_BAD_CERTIFICATE;
      t->rejected = 1;
      res = ssl_verify_invalid;
      goto out;
    }
  }
  t->info.verify_ok = 1;
out:
  if (res == ssl_verify_ok) {
    mh_tls_resume_remember(t);
  }
  sk_X509_pop_free(chain, X509_free);
  return res;
}

// keep_peer_chain copies the certificates the server sent, as received, for
// mh_tls_conn_peer_chain (nothing is kept when out of memory: the facts are then missing).
static void keep_peer_chain(struct mh_tls_conn *t, const SSL *ssl) {
  const STACK_OF(CRYPTO_BUFFER) *bufs = SSL_get0_peer_certificates(ssl);
  size_t len = 0;
  for (size_t i = 0; bufs != NULL && i < sk_CRYPTO_BUFFER_num(bufs); i++) {
    len += CRYPTO_BUFFER_len(sk_CRYPTO_BUFFER_value(bufs, i));
  }
  free(t->peer_chain);
  t->peer_chain = len > 0 ? malloc(len) : NULL;
  t->peer_chain_len = 0;
  for (size_t i = 0; t->peer_chain != NULL && i < sk_CRYPTO_BUFFER_num(bufs); i++) {
    const CRYPTO_BUFFER *b = sk_CRYPTO_BUFFER_value(bufs, i);
    memcpy(t->peer_chain + t->peer_chain_len, CRYPTO_BUFFER_data(b), CRYPTO_BUFFER_len(b));
    t->peer_chain_len += CRYPTO_BUFFER_len(b);
  }
}

const uint8_t *mh_tls_conn_peer_chain(const struct mh_tls_conn *t, size_t *out_len) {
  *out_len = t->peer_chain != NULL ? t->peer_chain_len : 0;
  return t->peer_chain;
}

enum ssl_verify_result_t mh_tls_verify_client(SSL *ssl, uint8_t *out_alert) {
  struct mh_tls_conn *t = mh_tls_conn_of(ssl);
  if (t->ctx->load_mode) {
    // Load: no X.509 parsing on the hot path (CertificateVerify is still checked by the protocol).
    t->info.verify_ok = 1;
    return ssl_verify_ok;
  }
  keep_peer_chain(t, ssl);
  STACK_OF(X509) *chain = peer_chain(ssl);
  if (chain == NULL) {
    *out_alert = SSL_AD_BAD_CERTIFICATE;
    mh_tls_conn_set_reason(t, "tls: server sent no certificate");
    t->info.verify_refused = 1;
    return ssl_verify_invalid;
  }
  record_peer(t, chain);
  enum ssl_verify_result_t res = ssl_verify_ok;
  char why[400];
  if (!t->ctx->insecure_skip_verify &&
      go_verify(t->ctx, chain, XKU_SSL_SERVER, t->server_name, why, sizeof(why), out_alert) != 0) {
    mh_tls_conn_set_reason(t, "tls: failed to verify certificate: %s", why);
    *out_alert = SSL_AD_BAD_CERTIFICATE;  // a Go client sends bad_certificate for every failure
    t->info.verify_refused = 1;
    res = ssl_verify_invalid;
  } else {
    t->info.verify_ok = 1;
  }
  sk_X509_pop_free(chain, X509_free);
  return res;
}
