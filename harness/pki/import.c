// import: reading the operator's certificates and keys for the generator (see import.h).
#include "pki/import.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/infile.h"

// import_fail sets |err| to "<spec>: <json path>.<key>: <message>" and returns -1.
static int import_fail(struct mh_err *err, const struct mh_pki_spec *spec,
                       const struct mh_pki_entity *e, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int import_fail(struct mh_err *err, const struct mh_pki_spec *spec,
                       const struct mh_pki_entity *e, const char *key, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  ERR_clear_error();
  return mh_err_set(err, "%s: %s.%s: %s", spec->file, e->json_path, key, msg);
}

// passphrase fills |buf| from |e|'s passphrase source (the first line of its file, or its
// environment variable); an empty |buf| means there is none. Returns 0, or -1 with |err| set.
static int passphrase(const struct mh_pki_spec *spec, const struct mh_pki_entity *e, char *buf,
                      size_t len, struct mh_err *err) {
  buf[0] = '\0';
  if (e->passphrase_env != NULL) {
    const char *v = getenv(e->passphrase_env);
    if (v == NULL) {
      return import_fail(err, spec, e, "passphrase_env",
                         "the environment variable %s is not set (export it with the key's "
                         "passphrase, or use \"passphrase_file\")",
                         e->passphrase_env);
    }
    snprintf(buf, len, "%s", v);
  } else if (e->passphrase_file != NULL) {
    FILE *f = fopen(e->passphrase_file, "r");
    if (f == NULL || fgets(buf, (int)len, f) == NULL) {
      if (f != NULL) {
        fclose(f);
      }
      return import_fail(err, spec, e, "passphrase_file",
                         "%s: cannot read a passphrase (put it on the file's first line)",
                         e->passphrase_file);
    }
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
  }
  return 0;
}

struct pass {
  const char *pw;  // NULL: no passphrase source
  int asked;       // the key is encrypted
};

static int pass_cb(char *buf, int size, int rwflag, void *arg) {
  (void)rwflag;
  struct pass *p = arg;
  p->asked = 1;
  if (p->pw == NULL || strlen(p->pw) >= (size_t)size) {
    return 0;
  }
  memcpy(buf, p->pw, strlen(p->pw));
  return (int)strlen(p->pw);
}

// read_key reads |e|'s imported key, decrypting it with its passphrase source if it is encrypted.
static int read_key(const struct mh_pki_spec *spec, const struct mh_pki_entity *e, EVP_PKEY **out,
                    struct mh_err *err) {
  char pw[1024];
  if (passphrase(spec, e, pw, sizeof(pw), err) != 0) {
    return -1;
  }
  struct pass p = {.pw = pw[0] != '\0' ? pw : NULL};
  struct mh_err why;
  if (mh_infile_check(e->import_key, "private key", MH_INFILE_KEY | MH_INFILE_ENCRYPTED_OK, &why) !=
      0) {
    OPENSSL_cleanse(pw, sizeof(pw));
    return import_fail(err, spec, e, "import_key", "%s", why.msg);
  }
  BIO *bio = BIO_new_file(e->import_key, "r");
  *out = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, pass_cb, &p) : NULL;
  BIO_free(bio);
  OPENSSL_cleanse(pw, sizeof(pw));
  if (*out != NULL) {
    return 0;
  }
  if (p.asked && p.pw == NULL) {
    return import_fail(err, spec, e, "import_key",
                       "%s is encrypted (add \"passphrase_file\" or \"passphrase_env\", or "
                       "decrypt it: openssl pkey -in %s -out plain-key.pem)",
                       e->import_key, e->import_key);
  }
  if (p.asked) {
    return import_fail(err, spec, e, "import_key",
                       "%s: the passphrase does not decrypt it (check the passphrase source)",
                       e->import_key);
  }
  return import_fail(err, spec, e, "import_key",
                     "%s is not a PEM private key (give the key in PEM, e.g. openssl pkey -inform "
                     "DER -in key.der -out key.pem)",
                     e->import_key);
}

// read_cert reads the first certificate of |path| (key |key| of |e|).
static int read_cert(const struct mh_pki_spec *spec, const struct mh_pki_entity *e, const char *key,
                     const char *path, X509 **out, struct mh_err *err) {
  struct mh_err why;
  *out = NULL;
  if (mh_infile_check(path, "certificate", MH_INFILE_CERT, &why) != 0) {
    return import_fail(err, spec, e, key, "%s", why.msg);
  }
  BIO *bio = BIO_new_file(path, "r");
  *out = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
  BIO_free(bio);
  if (*out == NULL) {
    return import_fail(err, spec, e, key,
                       "%s is not a PEM certificate (give it in PEM, e.g. openssl x509 -inform DER "
                       "-in cert.der -out cert.pem)",
                       path);
  }
  return 0;
}

// check_chain checks that an identity's chain file starts with its certificate.
static int check_chain(const struct mh_pki_spec *spec, const struct mh_pki_entity *e,
                       const X509 *cert, struct mh_err *err) {
  X509 *first;
  if (read_cert(spec, e, "import_chain", e->import_chain, &first, err) != 0) {
    return -1;
  }
  int same = X509_cmp(first, cert) == 0;
  X509_free(first);
  if (!same) {
    return import_fail(err, spec, e, "import_chain",
                       "%s does not start with the certificate of import_cert %s (put the leaf "
                       "first, then its intermediates)",
                       e->import_chain, e->import_cert);
  }
  return 0;
}

int mh_import_entity(const struct mh_pki_spec *spec, const struct mh_pki_entity *e, X509 **out_cert,
                     EVP_PKEY **out_key, struct mh_err *err) {
  X509 *cert = NULL;
  EVP_PKEY *key = NULL;
  *out_cert = NULL;
  *out_key = NULL;
  if (read_cert(spec, e, "import_cert", e->import_cert, &cert, err) != 0) {
    goto fail;
  }
  if (e->is_ca && X509_check_ca(cert) < 1) {
    import_fail(err, spec, e, "import_cert",
                "%s is not a CA certificate (no basicConstraints CA:TRUE): import it as an "
                "identity, or give the certificate of the CA that issued it",
                e->import_cert);
    goto fail;
  }
  if (e->import_key != NULL && read_key(spec, e, &key, err) != 0) {
    goto fail;
  }
  if (key != NULL && !e->key_mismatch && X509_check_private_key(cert, key) != 1) {
    import_fail(err, spec, e, "import_key",
                "%s does not belong to the certificate %s (give the matching key%s)", e->import_key,
                e->import_cert, e->is_ca ? "" : ", or set \"key_mismatch\": true if that is meant");
    goto fail;
  }
  if (e->import_chain != NULL && check_chain(spec, e, cert, err) != 0) {
    goto fail;
  }
  *out_cert = cert;
  *out_key = key;
  return 0;
fail:
  X509_free(cert);
  EVP_PKEY_free(key);
  return -1;
}
