// inspect: reading certificates and building paths with BoringSSL (see inspect.h).
#include "pki/inspect.h"

#include "pki/crl.h"
#include "pki/name.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pki/pki.h"

int mh_inspect_posix_time(const ASN1_TIME *t, int64_t *out) {
  ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
  int days = 0, secs = 0;
  int ok = epoch != NULL && ASN1_TIME_diff(&days, &secs, epoch, t);
  ASN1_TIME_free(epoch);
  *out = ok ? (int64_t)days * 86400 + secs : 0;
  return ok;
}

// usages reads the extendedKeyUsage and keyUsage of |c->leaf| into |c|.
static void usages(struct mh_inspect_cert *c) {
  uint32_t flags = X509_get_extension_flags(c->leaf);
  c->has_eku = (flags & EXFLAG_XKUSAGE) != 0;
  if (c->has_eku) {
    uint32_t x = X509_get_extended_key_usage(c->leaf);
    c->eku_mask = ((x & XKU_SSL_SERVER) ? 1u << MH_EKU_SERVER_AUTH : 0) |
                  ((x & XKU_SSL_CLIENT) ? 1u << MH_EKU_CLIENT_AUTH : 0) |
                  ((x & XKU_CODE_SIGN) ? 1u << MH_EKU_CODE_SIGNING : 0) |
                  ((x & XKU_SMIME) ? 1u << MH_EKU_EMAIL_PROTECTION : 0);
    c->any_eku = (x & XKU_ANYEKU) != 0;
  }
  c->has_key_usage = (flags & EXFLAG_KUSAGE) != 0;
  if (c->has_key_usage) {
    uint32_t k = X509_get_key_usage(c->leaf);
    c->ku_mask = ((k & KU_DIGITAL_SIGNATURE) ? 1u << MH_KU_DIGITAL_SIGNATURE : 0) |
                 ((k & KU_KEY_ENCIPHERMENT) ? 1u << MH_KU_KEY_ENCIPHERMENT : 0) |
                 ((k & KU_KEY_AGREEMENT) ? 1u << MH_KU_KEY_AGREEMENT : 0) |
                 ((k & KU_KEY_CERT_SIGN) ? 1u << MH_KU_KEY_CERT_SIGN : 0) |
                 ((k & KU_CRL_SIGN) ? 1u << MH_KU_CRL_SIGN : 0);
  }
}

// keep_name appends the IA5String SAN |v| to |names| (see mh_inspect_cert): "" when it does not
// fit or holds a NUL byte, which an exact comparison of C strings would cut short.
static void keep_name(struct mh_inspect_cert *c, const ASN1_IA5STRING *v,
                      char names[][MH_INSPECT_NAME_LEN], size_t *num) {
  if (*num >= MH_INSPECT_NAMES) {
    return;
  }
  size_t len = (size_t)ASN1_STRING_length(v);
  const unsigned char *data = ASN1_STRING_get0_data(v);
  char *out = names[(*num)++];
  if (len >= MH_INSPECT_NAME_LEN || memchr(data, 0, len) != NULL) {
    out[0] = '\0';
    c->long_names++;
    return;
  }
  memcpy(out, data, len);
  out[len] = '\0';
}

// names reads the subject (CN and RFC 2253 text) and counts the DNS and IP SANs of |c->leaf|.
static void names(struct mh_inspect_cert *c) {
  const X509_NAME *subj = X509_get_subject_name(c->leaf);
  mh_name_cn(subj, c->cn, sizeof(c->cn));
  mh_name_rfc2253(subj, c->dn, sizeof(c->dn));
  GENERAL_NAMES *sans = X509_get_ext_d2i(c->leaf, NID_subject_alt_name, NULL, NULL);
  c->num_sans = 0;
  for (size_t i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
    c->num_sans += g->type == GEN_DNS || g->type == GEN_IPADD;
    if (g->type == GEN_DNS) {
      keep_name(c, g->d.dNSName, c->dns, &c->num_dns);
    } else if (g->type == GEN_URI) {
      keep_name(c, g->d.uniformResourceIdentifier, c->uris, &c->num_uris);
    } else if (g->type == GEN_EMAIL) {
      keep_name(c, g->d.rfc822Name, c->emails, &c->num_emails);
    }
  }
  GENERAL_NAMES_free(sans);
}

// read_certs reads every certificate of |path|: the first into |c->leaf|, the rest into |c->chain|.
static int read_certs(struct mh_inspect_cert *c, const char *path, struct mh_err *err) {
  BIO *bio = BIO_new_file(path, "r");
  c->chain = sk_X509_new_null();
  if (bio == NULL || c->chain == NULL ||
      (c->leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
    BIO_free(bio);
    ERR_clear_error();
    return mh_err_set(err, "%s: not a readable PEM certificate (regenerate or re-import it)", path);
  }
  X509 *x;
  while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    if (!sk_X509_push(c->chain, x)) {
      X509_free(x);
      break;
    }
  }
  ERR_clear_error();  // the end of the file
  BIO_free(bio);
  return 0;
}

int mh_inspect_load(struct mh_inspect_cert *out, const char *cert_path, const char *key_path,
                    struct mh_err *err) {
  memset(out, 0, sizeof(*out));
  out->key_matches = -1;
  if (read_certs(out, cert_path, err) != 0) {
    return -1;
  }
  if (!mh_inspect_posix_time(X509_get0_notBefore(out->leaf), &out->not_before) ||
      !mh_inspect_posix_time(X509_get0_notAfter(out->leaf), &out->not_after)) {
    ERR_clear_error();
    return mh_err_set(err, "%s: the certificate's validity cannot be read", cert_path);
  }
  usages(out);
  names(out);
  if (key_path != NULL) {
    BIO *bio = BIO_new_file(key_path, "r");
    EVP_PKEY *key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (key == NULL) {
      ERR_clear_error();
      return mh_err_set(
          err, "%s: not a readable plain PEM private key (regenerate or re-import it)", key_path);
    }
    out->key_matches = X509_check_private_key(out->leaf, key) == 1;
    EVP_PKEY_free(key);
    ERR_clear_error();
  }
  return 0;
}

void mh_inspect_cleanup(struct mh_inspect_cert *c) {
  X509_free(c->leaf);
  sk_X509_pop_free(c->chain, X509_free);
  c->leaf = NULL;
  c->chain = NULL;
}

int mh_inspect_verify(const struct mh_inspect_cert *c, const char *const *ca_files, size_t num,
                      time_t now, enum mh_inspect_path *out, struct mh_err *err) {
  size_t len;
  return mh_inspect_verify_chain(c, ca_files, num, now, out, &len, err);
}

int mh_inspect_check_host(const struct mh_inspect_cert *c, const char *host) {
  // The subject CN only when there is no DNS SAN, as OpenSSL's default flags do.
  int ret = X509_check_host(c->leaf, host, strlen(host), 0, NULL) == 1;
  ERR_clear_error();
  return ret;
}

// verify_path runs X509_verify_cert for |c| against |ca_files| at |now|, with |crls| (NULL:
// none) and verification |flags|, and sorts its error into |*out|.
static int verify_path(const struct mh_inspect_cert *c, const char *const *ca_files, size_t num,
                       STACK_OF(X509_CRL) * crls, unsigned long flags, time_t now,
                       enum mh_inspect_path *out, size_t *out_len, struct mh_err *err) {
  *out_len = 0;
  // The roots as a trusted stack, not a store: adding N certificates to an X509_STORE checks each
  // against those before it, and a bundle of 10,000 took seconds per case.
  X509_STORE *store = X509_STORE_new();
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  STACK_OF(X509) *roots = sk_X509_new_null();
  int ret = -1;
  if (store == NULL || ctx == NULL || roots == NULL) {
    mh_err_set(err, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < num; i++) {
    if (mh_inspect_ca_certs(ca_files[i], roots) <= 0) {
      mh_err_set(err, "%s: not a readable PEM CA file (name a file of PEM certificates)",
                 ca_files[i]);
      goto out;
    }
  }
  if (!X509_STORE_CTX_init(ctx, store, c->leaf, c->chain)) {
    mh_err_set(err, "out of memory");
    goto out;
  }
  X509_STORE_CTX_trusted_stack(ctx, roots);
  X509_STORE_CTX_set_time(ctx, 0, now);
  if (crls != NULL) {
    X509_STORE_CTX_set0_crls(ctx, crls);
    X509_STORE_CTX_set_flags(ctx, flags);
  }
  if (X509_verify_cert(ctx) == 1) {
    *out = MH_INSPECT_PATH_OK;
    *out_len = sk_X509_num(X509_STORE_CTX_get0_chain(ctx));
  } else {
    int e = X509_STORE_CTX_get_error(ctx);
    // The errors nginx's ngx_ssl_verify_error_optional and mod_ssl's
    // ssl_verify_error_is_optional list (the same five). UNABLE_TO_GET_ISSUER_CERT is not one of
    // them: it is a trusted certificate whose own issuer is missing, which both refuse.
    int no_path = e == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
                  e == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
                  e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                  e == X509_V_ERR_CERT_UNTRUSTED || e == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
    *out = e == X509_V_ERR_CERT_HAS_EXPIRED            ? MH_INSPECT_PATH_EXPIRED
           : e == X509_V_ERR_CERT_NOT_YET_VALID        ? MH_INSPECT_PATH_NOT_YET_VALID
           : no_path                                   ? MH_INSPECT_PATH_UNKNOWN_CA
           : e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ? MH_INSPECT_PATH_NO_ROOT
           : e == X509_V_ERR_CERT_REVOKED              ? MH_INSPECT_PATH_REVOKED
           : e == X509_V_ERR_CRL_HAS_EXPIRED           ? MH_INSPECT_PATH_CRL_EXPIRED
           : e == X509_V_ERR_UNABLE_TO_GET_CRL || e == X509_V_ERR_CRL_NOT_YET_VALID
               ? MH_INSPECT_PATH_CRL_MISSING
               : MH_INSPECT_PATH_BAD;
  }
  ret = 0;
out:
  ERR_clear_error();
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  sk_X509_pop_free(roots, X509_free);
  return ret;
}

int mh_inspect_verify_chain(const struct mh_inspect_cert *c, const char *const *ca_files,
                            size_t num, time_t now, enum mh_inspect_path *out, size_t *out_len,
                            struct mh_err *err) {
  return verify_path(c, ca_files, num, NULL, 0, now, out, out_len, err);
}

int mh_inspect_verify_revocation(const struct mh_inspect_cert *c, const char *const *ca_files,
                                 size_t num, const char *const *crl_files, size_t num_crls,
                                 int leaf_only, time_t now, enum mh_inspect_path *out,
                                 struct mh_err *err) {
  STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
  if (crls == NULL) {
    return mh_err_set(err, "out of memory");
  }
  for (size_t i = 0; i < num_crls; i++) {
    if (mh_crl_file_load(crl_files[i], crls) <= 0) {
      sk_X509_CRL_pop_free(crls, X509_CRL_free);
      return mh_err_set(err, "%s: not a readable PEM CRL file (name a file of PEM CRLs)",
                        crl_files[i]);
    }
  }
  size_t len;
  unsigned long flags = X509_V_FLAG_CRL_CHECK | (leaf_only ? 0 : X509_V_FLAG_CRL_CHECK_ALL);
  int ret = verify_path(c, ca_files, num, crls, flags, now, out, &len, err);
  sk_X509_CRL_pop_free(crls, X509_CRL_free);
  return ret;
}

// signed_by_one reports whether a certificate of |cas| whose subject is |crl|'s issuer signed it:
// 1 one did, 0 none of those with that subject did, -1 none has that subject (the CRL of an
// intermediate CA whose certificate comes with the client's chain).
static int signed_by_one(X509_CRL *crl, STACK_OF(X509) * cas) {
  int named = 0;
  for (size_t i = 0; i < sk_X509_num(cas); i++) {
    X509 *ca = sk_X509_value(cas, i);
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) != 0) {
      continue;
    }
    named = 1;
    EVP_PKEY *pub = X509_get_pubkey(ca);
    int ok = pub != NULL && X509_CRL_verify(crl, pub) == 1;
    EVP_PKEY_free(pub);
    ERR_clear_error();
    if (ok) {
      return 1;
    }
  }
  return named ? 0 : -1;
}

int mh_inspect_crl_file(const char *path, const char *const *ca_files, size_t num,
                        struct mh_err *err) {
  STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
  STACK_OF(X509) *cas = sk_X509_new_null();
  int ret = -1;
  int n = crls != NULL && cas != NULL ? mh_crl_file_load(path, crls) : -1;
  if (n < 0) {
    mh_err_set(err, "%s: cannot read the CRL file (%s)", path,
               crls == NULL || cas == NULL ? "out of memory" : strerror(errno));
    goto out;
  }
  if (n == 0) {
    mh_err_set(err,
               "%s: holds no PEM CRL (\"-----BEGIN X509 CRL-----\"; convert a DER one with "
               "openssl crl -inform DER -in FILE -out FILE.pem)",
               path);
    goto out;
  }
  for (size_t i = 0; i < num; i++) {
    mh_inspect_ca_certs(ca_files[i], cas);  // unreadable CA files are named by their own check
  }
  for (size_t i = 0; i < sk_X509_CRL_num(crls); i++) {
    X509_CRL *crl = sk_X509_CRL_value(crls, i);
    if (signed_by_one(crl, cas) == 0) {
      char issuer[512];
      mh_name_rfc2253(X509_CRL_get_issuer(crl), issuer, sizeof(issuer));
      mh_err_set(err,
                 "%s: CRL %zu names issuer %s, but that CA's key did not sign it (give the CRL "
                 "this CA issued: a forged or mismatched CRL revokes nothing)",
                 path, i + 1, issuer[0] ? issuer : "empty");
      goto out;
    }
  }
  ret = 0;
out:
  sk_X509_CRL_pop_free(crls, X509_CRL_free);
  sk_X509_pop_free(cas, X509_free);
  return ret;
}

int mh_inspect_ca_file(const char *path, struct mh_err *err) {
  BIO *bio = BIO_new_file(path, "r");
  if (bio == NULL) {
    ERR_clear_error();
    return mh_err_set(err, "%s: cannot read the CA file", path);
  }
  int ret = 0;
  X509 *x;
  for (int n = 1; ret == 0 && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL; n++) {
    if (X509_check_ca(x) < 1) {
      char subject[512], issuer[512];
      mh_name_rfc2253(X509_get_subject_name(x), subject, sizeof(subject));
      mh_name_rfc2253(X509_get_issuer_name(x), issuer, sizeof(issuer));
      ret = mh_err_set(err,
                       "%s: certificate %d of the CA file (%s) is not a CA's (no basicConstraints "
                       "CA:TRUE): a CA file holds the certificates of the CAs that issue the "
                       "peers' certificates (give its issuer's, %s)",
                       path, n, subject[0] ? subject : "no subject", issuer[0] ? issuer : "?");
    }
    X509_free(x);
  }
  ERR_clear_error();  // the end of the file, or a block the TLS stack will refuse with its words
  BIO_free(bio);
  return ret;
}

// ca_file is a CA file parsed once (mh_inspect_ca_certs); |certs| lives as long as the process.
struct ca_file {
  char *path;
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  STACK_OF(X509) * certs;
};

static pthread_mutex_t ca_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ca_file *ca_files;
static size_t num_ca_files, cap_ca_files;

// parse_ca_file reads every PEM certificate of the open file |f| into a new stack (NULL when out of
// memory); the read that ends the loop is no error.
static STACK_OF(X509) * parse_ca_file(FILE *f) {
  STACK_OF(X509) *sk = sk_X509_new_null();
  X509 *x;
  while (sk != NULL && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
    if (!sk_X509_push(sk, x)) {
      X509_free(x);
      break;
    }
  }
  ERR_clear_error();
  return sk;
}

// cached_ca_file returns the parsed stack of |path| as it is now (|sb|), parsing and keeping it
// when it is not known yet; NULL when out of memory. Called with ca_mu held.
static STACK_OF(X509) * cached_ca_file(const char *path, FILE *f, const struct stat *sb) {
  for (size_t i = 0; i < num_ca_files; i++) {
    struct ca_file *e = &ca_files[i];
    if (strcmp(e->path, path) == 0 && e->dev == sb->st_dev && e->ino == sb->st_ino &&
        e->size == sb->st_size && e->mtime.tv_sec == sb->st_mtim.tv_sec &&
        e->mtime.tv_nsec == sb->st_mtim.tv_nsec) {
      return e->certs;
    }
  }
  if (num_ca_files == cap_ca_files) {
    size_t cap = cap_ca_files ? 2 * cap_ca_files : 8;
    struct ca_file *grown = realloc(ca_files, cap * sizeof(*grown));
    if (grown == NULL) {
      return NULL;
    }
    ca_files = grown;
    cap_ca_files = cap;
  }
  STACK_OF(X509) *certs = parse_ca_file(f);
  char *copy = strdup(path);
  if (certs == NULL || copy == NULL) {
    sk_X509_pop_free(certs, X509_free);
    free(copy);
    return NULL;
  }
  ca_files[num_ca_files++] = (struct ca_file){.path = copy,
                                              .dev = sb->st_dev,
                                              .ino = sb->st_ino,
                                              .size = sb->st_size,
                                              .mtime = sb->st_mtim,
                                              .certs = certs};
  return certs;
}

int mh_inspect_ca_certs(const char *path, STACK_OF(X509) * out) {
  FILE *f = fopen(path, "re");
  if (f == NULL) {
    return -1;
  }
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0) {
    int e = errno;
    fclose(f);
    errno = e;
    return -1;
  }
  pthread_mutex_lock(&ca_mu);
  STACK_OF(X509) *certs = cached_ca_file(path, f, &sb);
  int n = 0;
  for (size_t i = 0; certs != NULL && i < sk_X509_num(certs); i++) {
    X509 *x = sk_X509_value(certs, i);
    X509_up_ref(x);
    if (!sk_X509_push(out, x)) {
      X509_free(x);
      break;
    }
    n++;
  }
  pthread_mutex_unlock(&ca_mu);
  fclose(f);
  if (certs == NULL) {
    errno = ENOMEM;
    return -1;
  }
  return n;
}
