// ctx: contexts. A location's TLS policy (server, client, or the runner's probe) becomes an
// SSL_CTX that behaves like the emulated stack: versions, certificates and keys, CA lists, the
// callbacks of the other tls/ files, and the session ticket keys shared by a location's contexts.
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/pem.h>
#include <openssl/pool.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/infile.h"
#include "tls/internal.h"
#include "pki/inspect.h"

#define SYSTEM_ROOTS "/etc/ssl/certs/ca-certificates.crt"

// crypto_fail sets |err| to "<path>: <what> (<library's reason>; <fix>)", FILE in |fix| standing
// for |path|, and returns -1. Only for what mh_infile_check cannot see before the library reads.
static int crypto_fail(struct mh_err *err, const char *path, const char *what, const char *fix) {
  uint32_t e = ERR_peek_last_error();
  const char *r = ERR_reason_error_string(e);
  ERR_clear_error();
  const char *file_at = strstr(fix, "FILE");
  int pre = file_at != NULL ? (int)(file_at - fix) : (int)strlen(fix);
  return mh_err_set(err, "%s: %s (%s; %.*s%s%s)", path, what, r != NULL ? r : "unknown error", pre,
                    fix, file_at != NULL ? path : "", file_at != NULL ? file_at + 4 : "");
}

// ctx_alloc makes a context; with |buffers| one that never builds X.509 objects
// (TLS_with_buffers_method: certificates stay DER in CRYPTO_BUFFERs), for connections that verify
// nothing (load mode): a parsed server certificate and CA list cost each handshake CPU and memory.
static struct mh_tls_ctx *ctx_alloc(int is_server, int buffers) {
  struct mh_tls_ctx *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    return NULL;
  }
  c->is_server = is_server;
  c->refs = 1;
  c->ssl_ctx = SSL_CTX_new(buffers ? TLS_with_buffers_method() : TLS_method());
  c->store = X509_STORE_new();
  c->cas = sk_X509_new_null();
  if (c->ssl_ctx == NULL || c->store == NULL || c->cas == NULL) {
    mh_tls_ctx_free(c);
    return NULL;
  }
  SSL_CTX_set_info_callback(c->ssl_ctx, mh_tls_callbacks_info);
  if (mh_tls_keylog_active()) {
    SSL_CTX_set_keylog_callback(c->ssl_ctx, mh_tls_keylog_cb);
  }
  return c;
}

// load_cas loads every CA file into |c|'s list of roots (verification uses it as the trusted stack,
// tls/verify.c); |what| names the files in messages.
static int load_cas(struct mh_tls_ctx *c, const char *const *files, size_t num, const char *what,
                    struct mh_err *err) {
  for (size_t i = 0; i < num; i++) {
    if (mh_infile_check(files[i], what, MH_INFILE_CERT | MH_INFILE_CA, err) != 0) {
      return -1;
    }
    int n = mh_inspect_ca_certs(files[i], c->cas);  // parsed once per process
    if (n < 0) {
      return mh_infile_open_failed(files[i], what, errno, err);
    }
    if (n == 0) {
      return mh_err_set(err,
                        "%s: the %s holds no certificate BoringSSL can parse: invalid PEM data "
                        "(check it with: openssl x509 -noout -in %s)",
                        files[i], what, files[i]);
    }
  }
  return 0;
}

// read_key reads the PEM private key of |path|, checked first (mh_infile_check). Returns the key
// (the caller frees it), or NULL with |err| set.
static EVP_PKEY *read_key(const char *path, struct mh_err *err) {
  if (mh_infile_check(path, "private key", MH_INFILE_KEY, err) != 0) {
    return NULL;
  }
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    mh_infile_open_failed(path, "private key", errno, err);
    return NULL;
  }
  EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
  fclose(f);
  if (key == NULL) {
    crypto_fail(err, path, "the private key cannot be parsed",
                "check it with: openssl pkey -noout -in FILE");
  }
  return key;
}

// load_key_pair gives |ctx| the certificate chain of |cert| and the private key of |key|, each
// file checked first, and the key checked against the certificate so that a mismatch names both
// files. With |key_mismatch| (a deliberately wrong key) the key is not installed: it is returned
// in |*out_sign_key| for mismatch_sign. Returns 0, or -1 with |err| set.
static int load_key_pair(SSL_CTX *ctx, const char *cert, const char *key, int key_mismatch,
                         EVP_PKEY **out_sign_key, struct mh_err *err) {
  if (mh_infile_check(cert, "certificate", MH_INFILE_CERT, err) != 0) {
    return -1;
  }
  if (!SSL_CTX_use_certificate_chain_file(ctx, cert)) {
    return crypto_fail(err, cert, "the certificate cannot be loaded",
                       "check it with: openssl x509 -noout -in FILE");
  }
  EVP_PKEY *pkey = read_key(key, err);
  if (pkey == NULL) {
    return -1;
  }
  int ret = -1;
  if (key_mismatch) {
    *out_sign_key = pkey;
    return 0;
  }
  if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), pkey) != 1) {
    ERR_clear_error();
    mh_err_set(err,
               "%s: the private key does not belong to the certificate %s (give the key issued "
               "with it: the public keys of openssl x509 -noout -pubkey -in %s and openssl pkey "
               "-pubout -in %s must be the same)",
               key, cert, cert, key);
    goto out;
  }
  if (!SSL_CTX_use_PrivateKey(ctx, pkey)) {
    crypto_fail(err, key, "the private key cannot be used", "give an RSA, ECDSA or Ed25519 key");
    goto out;
  }
  ret = 0;
out:
  EVP_PKEY_free(pkey);
  return ret;
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
  int ret = -1;
  if (HMAC(EVP_sha512(), ticket_secret, sizeof(ticket_secret), (const uint8_t *)id, strlen(id),
           keys, &keys_len) == NULL ||
      keys_len < 48 || !SSL_CTX_set_tlsext_ticket_keys(ctx, keys, 48)) {
    goto out;
  }
  ret = 0;
out:
  // The keys are secret whether the library took them or not (HMAC may have written them).
  OPENSSL_cleanse(keys, sizeof(keys));
  return ret;
}

struct mh_tls_ctx *mh_tls_server_ctx_new(const struct mh_tls_server_policy *p, struct mh_err *err) {
  struct mh_tls_ctx *c = ctx_alloc(1, 0);
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
  if (load_key_pair(ctx, p->cert_file, p->key_file, 0, NULL, err) != 0) {
    goto fail;
  }
  SSL_CTX_set_select_certificate_cb(ctx, mh_tls_callbacks_select);
  SSL_CTX_set_alpn_select_cb(ctx, mh_tls_callbacks_alpn, NULL);
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
    SSL_CTX_set_custom_verify(ctx, SSL_VERIFY_PEER, mh_tls_verify_server);
    // Sessions keep only the client certificate's hash, so that resuming one does not parse the
    // certificate again; mh_tls_verify_server keeps what the emulations need of it (see
    // tls/resume.c).
    SSL_CTX_set_retain_only_sha256_of_client_certs(ctx, 1);
    if (p->emulate == MH_EMULATE_GO) {
      SSL_CTX_set_msg_callback(ctx, mh_tls_callbacks_msg);
    }
  }
  return c;
fail:
  mh_tls_ctx_free(c);
  return NULL;
}

struct mh_tls_ctx *mh_tls_client_ctx_new(const struct mh_tls_client_policy *p, struct mh_err *err) {
  struct mh_tls_ctx *c = ctx_alloc(0, 0);
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
  if (p->cert_file != NULL && load_key_pair(ctx, p->cert_file, p->key_file, 0, NULL, err) != 0) {
    goto fail;
  }
  static const uint8_t alpn[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
  SSL_CTX_set_custom_verify(ctx, SSL_VERIFY_PEER, mh_tls_verify_client);
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
  struct mh_tls_conn *t = mh_tls_conn_of(ssl);
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

// load_key_pair_buffers is load_key_pair for a context of TLS_with_buffers_method: the chain goes
// in as DER buffers (SSL_CTX_set_chain_and_key); the files are checked once, here, as
// load_key_pair checks them (each certificate parsed, the key matching the leaf).
static int load_key_pair_buffers(SSL_CTX *ctx, const char *cert, const char *key, int key_mismatch,
                                 EVP_PKEY **out_sign_key, struct mh_err *err) {
  if (mh_infile_check(cert, "certificate", MH_INFILE_CERT, err) != 0) {
    return -1;
  }
  CRYPTO_BUFFER *bufs[MH_TLS_MAX_CHAIN];
  size_t n = 0;
  X509 *leaf = NULL, *x;
  FILE *f = fopen(cert, "rb");
  while (f != NULL && n < MH_TLS_MAX_CHAIN && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
    uint8_t *der = NULL;
    int len = i2d_X509(x, &der);
    bufs[n] = len > 0 ? CRYPTO_BUFFER_new(der, (size_t)len, NULL) : NULL;
    OPENSSL_free(der);
    n += bufs[n] != NULL;
    if (leaf == NULL) {
      leaf = x;
    } else {
      X509_free(x);
    }
  }
  ERR_clear_error();  // the end of the file
  if (f != NULL) {
    fclose(f);
  }
  EVP_PKEY *pkey = leaf != NULL ? read_key(key, err) : NULL;
  int ret = -1;
  if (leaf == NULL) {
    crypto_fail(err, cert, "the certificate cannot be loaded",
                "check it with: openssl x509 -noout -in FILE");
  } else if (pkey != NULL && !key_mismatch && X509_check_private_key(leaf, pkey) != 1) {
    ERR_clear_error();
    mh_err_set(err,
               "%s: the private key does not belong to the certificate %s (give the key issued "
               "with it: the public keys of openssl x509 -noout -pubkey -in %s and openssl pkey "
               "-pubout -in %s must be the same)",
               key, cert, cert, key);
  } else if (pkey != NULL && !SSL_CTX_set_chain_and_key(ctx, bufs, n, key_mismatch ? NULL : pkey,
                                                        key_mismatch ? &mismatch_method : NULL)) {
    crypto_fail(err, key, "the private key cannot be used", "give an RSA, ECDSA or Ed25519 key");
  } else if (pkey != NULL) {
    ret = 0;
    if (key_mismatch) {
      *out_sign_key = pkey;  // mismatch_sign's key
      pkey = NULL;
    }
  }
  EVP_PKEY_free(pkey);
  X509_free(leaf);
  for (size_t i = 0; i < n; i++) {
    CRYPTO_BUFFER_free(bufs[i]);
  }
  return ret;
}

struct mh_tls_ctx *mh_tls_probe_ctx_new(const struct mh_tls_probe_policy *p, struct mh_err *err) {
  struct mh_tls_ctx *c = ctx_alloc(0, p->load_mode);
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
    SSL_CTX_set_keylog_callback(ctx, mh_tls_keylog_cb);
  }
  c->buffered = p->load_mode;  // load.c calls again until MH_IO_WANT_READ
  if (p->cert_file != NULL && p->load_mode) {
    if (load_key_pair_buffers(ctx, p->cert_file, p->key_file, p->key_mismatch, &c->sign_key, err) !=
        0) {
      goto fail;
    }
  } else if (p->cert_file != NULL) {
    if (load_key_pair(ctx, p->cert_file, p->key_file, p->key_mismatch, &c->sign_key, err) != 0) {
      goto fail;
    }
    if (p->key_mismatch) {
      SSL_CTX_set_private_key_method(ctx, &mismatch_method);
    }
  }
  static const uint8_t alpn[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
  SSL_CTX_set_custom_verify(ctx, SSL_VERIFY_PEER, mh_tls_verify_client);
  SSL_CTX_set_msg_callback(ctx, mh_tls_callbacks_msg);
  if (p->resume) {
    // Clients have no internal cache: without CLIENT mode the callback never fires.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, mh_tls_resume_keep);
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
  mh_tls_resume_free_all(c);
  X509_STORE_free(c->store);
  sk_X509_pop_free(c->cas, X509_free);
  EVP_PKEY_free(c->sign_key);
  for (size_t i = 0; c->allowed_cns != NULL && i < c->num_allowed_cns; i++) {
    free(c->allowed_cns[i]);
  }
  free(c->allowed_cns);
  free(c);
}
