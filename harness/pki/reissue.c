// reissue: renewing an issued certificate from its CA (see reissue.h), with BoringSSL.
#include "pki/reissue.h"

#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static X509 *read_cert(const char *path) {
  FILE *f = fopen(path, "r");
  X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
  if (f != NULL) {
    fclose(f);
  }
  return x;
}

static EVP_PKEY *read_key(const char *path) {
  FILE *f = fopen(path, "r");
  EVP_PKEY *k = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
  if (f != NULL) {
    fclose(f);
  }
  return k;
}

// key_like makes a new key of |old|'s type (curve, modulus size), or NULL.
static EVP_PKEY *key_like(const EVP_PKEY *old) {
  EVP_PKEY *k = NULL;
  if (EVP_PKEY_id(old) == EVP_PKEY_EC) {
    const EC_GROUP *g = EC_KEY_get0_group(EVP_PKEY_get0_EC_KEY(old));
    EC_KEY *ec = EC_KEY_new_by_curve_name(EC_GROUP_get_curve_name(g));
    k = EVP_PKEY_new();
    if (ec == NULL || k == NULL || !EC_KEY_generate_key(ec) || !EVP_PKEY_assign_EC_KEY(k, ec)) {
      EC_KEY_free(ec);
      EVP_PKEY_free(k);
      return NULL;
    }
  } else if (EVP_PKEY_id(old) == EVP_PKEY_RSA) {
    RSA *rsa = RSA_new();
    BIGNUM *e = BN_new();
    k = EVP_PKEY_new();
    int ok = rsa && e && k && BN_set_word(e, RSA_F4) &&
             RSA_generate_key_ex(rsa, (int)EVP_PKEY_bits(old), e, NULL) &&
             EVP_PKEY_assign_RSA(k, rsa);
    BN_free(e);
    if (!ok) {
      RSA_free(rsa);
      EVP_PKEY_free(k);
      return NULL;
    }
  } else if (EVP_PKEY_id(old) == EVP_PKEY_ED25519) {
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    if (c == NULL || !EVP_PKEY_keygen_init(c) || !EVP_PKEY_keygen(c, &k)) {
      k = NULL;
    }
    EVP_PKEY_CTX_free(c);
  }
  return k;
}

// write_pem writes |x| or |k| to |path| with |mode|, through a temporary name.
static int write_pem(const char *path, mode_t mode, X509 *x, EVP_PKEY *k) {
  char tmp[4200];
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  int ok = f != NULL && (x != NULL ? PEM_write_X509(f, x)
                                   : PEM_write_PKCS8PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
  if (f != NULL) {
    ok = fclose(f) == 0 && ok;
  } else if (fd >= 0) {
    close(fd);
  }
  ok = ok && rename(tmp, path) == 0;
  if (!ok) {
    unlink(tmp);
  }
  return ok ? 0 : -1;
}

// drop_ski removes |x|'s subject key identifier, which named the old key. Returns 0 or -1.
static int drop_ski(X509 *x) {
  int i = X509_get_ext_by_NID(x, NID_subject_key_identifier, -1);
  if (i < 0) {
    return 0;
  }
  X509_EXTENSION *e = X509_delete_ext(x, i);
  X509_EXTENSION_free(e);
  return e != NULL ? 0 : -1;
}

int mh_reissue_cert(const char *cert_path, const char *key_path, const char *ca_cert,
                    const char *ca_key, int new_key, const char *out_cert, const char *out_key,
                    struct mh_err *err) {
  X509 *old = read_cert(cert_path), *ca = read_cert(ca_cert), *x = NULL;
  EVP_PKEY *key = read_key(key_path), *signer = read_key(ca_key), *fresh = NULL;
  BIGNUM *serial = BN_new();
  int rc = -1;
  uint8_t rnd[16];
  if (old == NULL || ca == NULL || key == NULL || signer == NULL || serial == NULL) {
    mh_err_set(err, "%s: cannot read the certificate, its key (%s) or its CA (%s, %s)", cert_path,
               key_path, ca_cert, ca_key);
    goto out;
  }
  if (new_key && (fresh = key_like(key)) == NULL) {
    mh_err_set(err, "%s: cannot make a new key of its key's type", cert_path);
    goto out;
  }
  x = X509_dup(old);
  RAND_bytes(rnd, sizeof(rnd));
  rnd[0] &= 0x7f;  // a positive serial
  int64_t life = 0;
  time_t now = time(NULL);
  ASN1_TIME *nb = x != NULL ? X509_getm_notBefore(x) : NULL;
  ASN1_TIME *na = x != NULL ? X509_getm_notAfter(x) : NULL;
  int days = 0, secs = 0;
  if (x == NULL ||
      !ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(old), X509_get0_notAfter(old)) ||
      BN_bin2bn(rnd, sizeof(rnd), serial) == NULL ||
      BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) == NULL) {
    mh_err_set(err, "%s: cannot copy the certificate", cert_path);
    goto out;
  }
  life = (int64_t)days * 86400 + secs;
  if (ASN1_TIME_set(nb, now) == NULL || ASN1_TIME_adj(na, now, 0, (long)life) == NULL ||
      (fresh != NULL && (!X509_set_pubkey(x, fresh) || drop_ski(x) != 0)) ||
      !X509_set_issuer_name(x, X509_get_subject_name(ca)) ||
      X509_sign(x, signer, EVP_PKEY_id(signer) == EVP_PKEY_ED25519 ? NULL : EVP_sha256()) <= 0) {
    mh_err_set(err, "%s: cannot sign its renewal with %s", cert_path, ca_key);
    goto out;
  }
  if (write_pem(out_key, 0600, NULL, fresh != NULL ? fresh : key) != 0 ||
      write_pem(out_cert, 0644, x, NULL) != 0) {
    mh_err_errno(err, "%s: cannot write the renewed certificate or key", out_cert);
    goto out;
  }
  rc = 0;
out:
  X509_free(old);
  X509_free(ca);
  X509_free(x);
  EVP_PKEY_free(key);
  EVP_PKEY_free(signer);
  EVP_PKEY_free(fresh);
  BN_free(serial);
  return rc;
}
