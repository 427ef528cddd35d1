// crl: building and reading CRLs (see crl.h).
#include "pki/crl.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pki/inspect.h"
#include "pki/name.h"
#include "pki/pki.h"

static X509_CRL *crl_fail(X509_CRL *crl, struct mh_err *err, const char *what, const char *step) {
  uint32_t e = ERR_get_error();
  char buf[256] = "no further detail";
  if (e != 0) {
    ERR_error_string_n(e, buf, sizeof(buf));
  }
  ERR_clear_error();
  X509_CRL_free(crl);
  mh_err_set(err, "%s: cannot make the CRL (%s): %s", what, step, buf);
  return NULL;
}

// add_revoked appends one entry to |crl|; |reason| < 0 writes no reasonCode.
static int add_revoked(X509_CRL *crl, const ASN1_INTEGER *serial, int64_t when, int reason) {
  X509_REVOKED *r = X509_REVOKED_new();
  ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)when);
  int ok = r != NULL && t != NULL && X509_REVOKED_set_serialNumber(r, serial) &&
           X509_REVOKED_set_revocationDate(r, t);
  if (ok && reason >= 0) {
    ASN1_ENUMERATED *code = ASN1_ENUMERATED_new();
    ok = code != NULL && ASN1_ENUMERATED_set(code, mh_crl_reason_codes[reason]) &&
         X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, code, 0, X509V3_ADD_DEFAULT) == 1;
    ASN1_ENUMERATED_free(code);
  }
  ASN1_TIME_free(t);
  if (ok && X509_CRL_add0_revoked(crl, r)) {
    return 1;
  }
  X509_REVOKED_free(r);
  return 0;
}

// add_extra appends |n| made-up serials revoked at |when|.
static int add_extra(X509_CRL *crl, uint32_t n, int64_t when) {
  ASN1_INTEGER *serial = ASN1_INTEGER_new();
  int ok = serial != NULL;
  for (uint32_t i = 0; ok && i < n; i++) {
    // 0x3f then the index in 8 octets: positive, and never the 16 octets of an issued serial.
    uint8_t b[9] = {0x3f};
    for (int k = 0; k < 8; k++) {
      b[8 - k] = (uint8_t)(((uint64_t)i >> (8 * k)) & 0xff);
    }
    ok = ASN1_STRING_set(serial, b, sizeof(b)) && add_revoked(crl, serial, when, -1);
  }
  ASN1_INTEGER_free(serial);
  return ok;
}

// add_crl_extensions writes the authorityKeyIdentifier (the CA's subjectKeyIdentifier, by which
// verifiers find the CRL's signer) and a cRLNumber: the time of issue, which only grows.
static int add_crl_extensions(X509_CRL *crl, X509 *ca, time_t now) {
  int ok = 1;
  const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(ca);
  if (skid != NULL) {
    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
    ok = akid != NULL && (akid->keyid = ASN1_OCTET_STRING_dup(skid)) != NULL &&
         X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0, X509V3_ADD_DEFAULT) == 1;
    AUTHORITY_KEYID_free(akid);
  }
  ASN1_INTEGER *number = ASN1_INTEGER_new();
  ok = ok && number != NULL && ASN1_INTEGER_set_uint64(number, (uint64_t)now) &&
       X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, X509V3_ADD_DEFAULT) == 1;
  ASN1_INTEGER_free(number);
  return ok;
}

static const EVP_MD *crl_digest(const EVP_PKEY *key) {
  // Ed25519 signs the message itself; every other key type hashes it with SHA-256 or SHA-384.
  if (EVP_PKEY_id(key) == EVP_PKEY_ED25519) {
    return NULL;
  }
  return EVP_PKEY_id(key) == EVP_PKEY_EC && EVP_PKEY_bits(key) > 256 ? EVP_sha384() : EVP_sha256();
}

X509_CRL *mh_crl_make(X509 *ca, EVP_PKEY *key, const struct mh_crl_entry *entries, size_t num,
                      uint32_t extra, time_t now, int64_t next_update, const char *what,
                      struct mh_err *err) {
  X509_CRL *crl = X509_CRL_new();
  ASN1_TIME *this_update = ASN1_TIME_set(NULL, now);
  ASN1_TIME *next = ASN1_TIME_set(NULL, now + (time_t)next_update);
  int ok = crl != NULL && this_update != NULL && next != NULL &&
           X509_CRL_set_version(crl, X509_CRL_VERSION_2) &&
           X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) &&
           X509_CRL_set1_lastUpdate(crl, this_update) && X509_CRL_set1_nextUpdate(crl, next);
  ASN1_TIME_free(this_update);
  ASN1_TIME_free(next);
  if (!ok) {
    return crl_fail(crl, err, what, "its fields");
  }
  for (size_t i = 0; i < num; i++) {
    if (!add_revoked(crl, entries[i].serial, entries[i].revoked_at, entries[i].reason)) {
      return crl_fail(crl, err, what, "a revoked certificate");
    }
  }
  if (!add_extra(crl, extra, (int64_t)now) || !X509_CRL_sort(crl) ||
      !add_crl_extensions(crl, ca, now)) {
    return crl_fail(crl, err, what, "its entries");
  }
  if (X509_CRL_sign(crl, key, crl_digest(key)) <= 0) {
    return crl_fail(crl, err, what, "its signature");
  }
  return crl;
}

X509_CRL *mh_crl_read(const char *path, X509 *ca, const char *what, struct mh_err *err) {
  BIO *bio = BIO_new_file(path, "r");
  if (bio == NULL) {
    ERR_clear_error();
    mh_err_set(err, "%s: cannot read the CRL %s (name a PEM CRL file the CA issued)", what, path);
    return NULL;
  }
  X509_CRL *crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
  BIO_free(bio);
  ERR_clear_error();
  if (crl == NULL) {
    mh_err_set(err,
               "%s: %s holds no PEM CRL (\"-----BEGIN X509 CRL-----\"; convert a DER one with "
               "openssl crl -inform DER -in FILE -out FILE.pem)",
               what, path);
    return NULL;
  }
  EVP_PKEY *pub = X509_get_pubkey(ca);
  int signed_by_ca = X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) == 0 &&
                     pub != NULL && X509_CRL_verify(crl, pub) == 1;
  EVP_PKEY_free(pub);
  if (!signed_by_ca) {
    ERR_clear_error();
    X509_CRL_free(crl);
    mh_err_set(err,
               "%s: the CRL %s is not signed by this CA (give the CRL this CA issued, or import "
               "the CA that issued it)",
               what, path);
    return NULL;
  }
  return crl;
}

// crl_file is a CRL file parsed once (mh_crl_file_load); |crls| lives as long as the process.
struct crl_file {
  char *path;
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  STACK_OF(X509_CRL) * crls;
};

static pthread_mutex_t crl_mu = PTHREAD_MUTEX_INITIALIZER;
static struct crl_file *crl_files;
static size_t num_crl_files, cap_crl_files;

static STACK_OF(X509_CRL) * parse_crl_file(FILE *f) {
  STACK_OF(X509_CRL) *sk = sk_X509_CRL_new_null();
  X509_CRL *x;
  while (sk != NULL && (x = PEM_read_X509_CRL(f, NULL, NULL, NULL)) != NULL) {
    if (!sk_X509_CRL_push(sk, x)) {
      X509_CRL_free(x);
      break;
    }
  }
  ERR_clear_error();  // the end of the file
  return sk;
}

// cached_crl_file returns the parsed CRLs of |path| as it is now (|sb|); NULL when out of memory.
// Called with crl_mu held.
static STACK_OF(X509_CRL) * cached_crl_file(const char *path, FILE *f, const struct stat *sb) {
  for (size_t i = 0; i < num_crl_files; i++) {
    struct crl_file *e = &crl_files[i];
    if (strcmp(e->path, path) == 0 && e->dev == sb->st_dev && e->ino == sb->st_ino &&
        e->size == sb->st_size && e->mtime.tv_sec == sb->st_mtim.tv_sec &&
        e->mtime.tv_nsec == sb->st_mtim.tv_nsec) {
      return e->crls;
    }
  }
  if (num_crl_files == cap_crl_files) {
    size_t cap = cap_crl_files ? 2 * cap_crl_files : 8;
    struct crl_file *grown = realloc(crl_files, cap * sizeof(*grown));
    if (grown == NULL) {
      return NULL;
    }
    crl_files = grown;
    cap_crl_files = cap;
  }
  STACK_OF(X509_CRL) *crls = parse_crl_file(f);
  char *copy = strdup(path);
  if (crls == NULL || copy == NULL) {
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    free(copy);
    return NULL;
  }
  crl_files[num_crl_files++] = (struct crl_file){.path = copy,
                                                 .dev = sb->st_dev,
                                                 .ino = sb->st_ino,
                                                 .size = sb->st_size,
                                                 .mtime = sb->st_mtim,
                                                 .crls = crls};
  return crls;
}

int mh_crl_file_load(const char *path, STACK_OF(X509_CRL) * out) {
  FILE *f = fopen(path, "re");
  struct stat sb;
  if (f == NULL || fstat(fileno(f), &sb) != 0) {
    int e = errno;
    if (f != NULL) {
      fclose(f);
    }
    errno = e;
    return -1;
  }
  pthread_mutex_lock(&crl_mu);
  STACK_OF(X509_CRL) *crls = cached_crl_file(path, f, &sb);
  int n = 0;
  for (size_t i = 0; crls != NULL && i < sk_X509_CRL_num(crls); i++) {
    X509_CRL *x = sk_X509_CRL_value(crls, i);
    X509_CRL_up_ref(x);
    if (!sk_X509_CRL_push(out, x)) {
      X509_CRL_free(x);
      break;
    }
    n++;
  }
  pthread_mutex_unlock(&crl_mu);
  fclose(f);
  if (crls == NULL) {
    errno = ENOMEM;
    return -1;
  }
  return n;
}
