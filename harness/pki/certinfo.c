// certinfo: a certificate's facts for a person, with BoringSSL (see certinfo.h).
#include "pki/certinfo.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bytestring.h>
#include <openssl/digest.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/printable.h"
#include "pki/inspect.h"
#include "pki/name.h"

void mh_certinfo_serial(const ASN1_INTEGER *s, char *out, size_t out_len) {
  size_t n = 0;
  out[0] = '\0';
  if (ASN1_STRING_type(s) == V_ASN1_NEG_INTEGER && out_len > 1) {
    out[n++] = '-';
  }
  const unsigned char *d = ASN1_STRING_get0_data(s);
  int len = ASN1_STRING_length(s);
  for (int i = 0; i < len && n + 3 <= out_len; i++) {
    n += (size_t)snprintf(out + n, out_len - n, "%02X", d[i]);
  }
  if (len == 0 && out_len > 2) {
    snprintf(out, out_len, "00");
  }
}

// append adds "|sep||prefix||text|" to |out| of |out_len|, ending it with "..." when full.
static void append(char *out, size_t out_len, const char *prefix, const char *text, size_t len) {
  size_t n = strlen(out);
  size_t need = (n ? 2 : 0) + strlen(prefix) + len;
  if (n + need + 4 > out_len) {
    if (n + 4 <= out_len && (n < 3 || strcmp(out + n - 3, "...") != 0)) {
      strcat(out, "...");
    }
    return;
  }
  snprintf(out + n, out_len - n, "%s%s%.*s", n ? ", " : "", prefix, (int)len, text);
}

// sans_text lists |x|'s subjectAltName entries (DNS, IP, URI, email); a name holding a NUL byte
// is shown up to it, as a C string can.
static void sans_text(X509 *x, char *out, size_t out_len) {
  out[0] = '\0';
  GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
  for (size_t i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
    const ASN1_STRING *v = NULL;
    const char *prefix = NULL;
    if (g->type == GEN_DNS) {
      v = g->d.dNSName, prefix = "DNS:";
    } else if (g->type == GEN_URI) {
      v = g->d.uniformResourceIdentifier, prefix = "URI:";
    } else if (g->type == GEN_EMAIL) {
      v = g->d.rfc822Name, prefix = "email:";
    } else if (g->type == GEN_IPADD) {
      char ip[64] = "";
      const unsigned char *d = ASN1_STRING_get0_data(g->d.iPAddress);
      int len = ASN1_STRING_length(g->d.iPAddress);
      if (len == 4) {
        snprintf(ip, sizeof(ip), "%u.%u.%u.%u", d[0], d[1], d[2], d[3]);
      } else if (len == 16) {
        size_t n = 0;
        for (int k = 0; k < 16; k += 2) {
          n += (size_t)snprintf(ip + n, sizeof(ip) - n, "%s%X", k ? ":" : "", d[k] << 8 | d[k + 1]);
        }
      }
      append(out, out_len, "IP:", ip, strlen(ip));
      continue;
    }
    if (v != NULL) {
      // A peer's bytes: shown printable (base/printable.h), as every report shows input.
      char raw[512], shown[1024];
      size_t len = (size_t)ASN1_STRING_length(v);
      len = len >= sizeof(raw) ? sizeof(raw) - 1 : len;
      memcpy(raw, ASN1_STRING_get0_data(v), len);
      raw[len] = '\0';
      mh_printable_copy(shown, sizeof(shown), raw);
      append(out, out_len, prefix, shown, strlen(shown));
    }
  }
  GENERAL_NAMES_free(gens);
}

// key_text names |x|'s public key as operators do: algorithm and size, or curve.
static void key_text(X509 *x, char *out, size_t out_len) {
  EVP_PKEY *k = X509_get_pubkey(x);
  int id = k != NULL ? EVP_PKEY_id(k) : NID_undef;
  if (id == EVP_PKEY_RSA) {
    snprintf(out, out_len, "RSA-%d", EVP_PKEY_bits(k));
  } else if (id == EVP_PKEY_EC) {
    const EC_GROUP *g = EC_KEY_get0_group(EVP_PKEY_get0_EC_KEY(k));
    int nid = g != NULL ? EC_GROUP_get_curve_name(g) : NID_undef;
    snprintf(out, out_len, "ECDSA %s",
             nid == NID_X9_62_prime256v1 ? "P-256"
             : nid == NID_secp384r1      ? "P-384"
             : nid == NID_secp521r1      ? "P-521"
                                         : "(unknown curve)");
  } else if (id == EVP_PKEY_ED25519) {
    snprintf(out, out_len, "Ed25519");
  } else {
    // BoringSSL does not parse every key type (DSA, Ed448...): name the certificate's OID.
    ASN1_OBJECT *alg = NULL;
    X509_PUBKEY_get0_param(&alg, NULL, NULL, NULL, X509_get_X509_PUBKEY(x));
    int nid = alg != NULL ? OBJ_obj2nid(alg) : NID_undef;
    snprintf(out, out_len, "%s", nid != NID_undef ? OBJ_nid2sn(nid) : "unknown");
  }
  EVP_PKEY_free(k);
}

// describe fills |out| with |x|'s facts; -1 when its validity cannot be read.
static int describe(X509 *x, struct mh_certinfo *out) {
  memset(out, 0, sizeof(*out));
  mh_name_rfc2253(X509_get_subject_name(x), out->subject, sizeof(out->subject));
  mh_name_rfc2253(X509_get_issuer_name(x), out->issuer, sizeof(out->issuer));
  out->self_signed = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
  mh_certinfo_serial(X509_get0_serialNumber(x), out->serial, sizeof(out->serial));
  sans_text(x, out->sans, sizeof(out->sans));
  key_text(x, out->key, sizeof(out->key));
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned md_len = 0;
  if (X509_digest(x, EVP_sha256(), md, &md_len)) {
    for (unsigned i = 0; i < md_len && i < 32; i++) {
      snprintf(out->sha256 + 2 * i, 3, "%02x", md[i]);
    }
  }
  if (!mh_inspect_posix_time(X509_get0_notBefore(x), &out->not_before) ||
      !mh_inspect_posix_time(X509_get0_notAfter(x), &out->not_after)) {
    return -1;
  }
  return 0;
}

int mh_certinfo_from_der(const uint8_t *der, size_t len, struct mh_certinfo *out, size_t max) {
  CBS cbs;
  CBS_init(&cbs, der, len);
  int n = 0;
  while (CBS_len(&cbs) > 0) {
    CBS cert;
    const uint8_t *start = CBS_data(&cbs);
    if (!CBS_get_asn1_element(&cbs, &cert, CBS_ASN1_SEQUENCE)) {
      return -1;
    }
    if ((size_t)n >= max) {
      continue;
    }
    const uint8_t *p = start;
    X509 *x = d2i_X509(NULL, &p, (long)CBS_len(&cert));
    int bad = x == NULL || describe(x, &out[n]) != 0;
    X509_free(x);
    ERR_clear_error();
    if (bad) {
      return -1;
    }
    n++;
  }
  return n;
}

int mh_certinfo_from_file(const char *path, struct mh_certinfo *out, size_t max,
                          struct mh_err *err) {
  BIO *bio = BIO_new_file(path, "r");
  if (bio == NULL) {
    ERR_clear_error();
    return mh_err_set(err, "%s: cannot read the certificate (check the path and its permissions)",
                      path);
  }
  int n = 0;
  X509 *x;
  while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    int bad = (size_t)n < max && describe(x, &out[n]) != 0;
    X509_free(x);
    if (bad) {
      BIO_free(bio);
      return mh_err_set(err, "%s: certificate %d has a validity that cannot be read", path, n + 1);
    }
    n += (size_t)n < max;
  }
  ERR_clear_error();
  BIO_free(bio);
  if (n == 0) {
    return mh_err_set(err, "%s: no PEM certificate in it (give the identity's certificate file)",
                      path);
  }
  return n;
}

void mh_certinfo_time_left(int64_t seconds, char *out, size_t out_len) {
  int64_t s = seconds < 0 ? -seconds : seconds;
  int64_t d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60;
  char t[48];
  if (d > 0) {
    snprintf(t, sizeof(t), "%lldd %lldh", (long long)d, (long long)h);
  } else if (h > 0) {
    snprintf(t, sizeof(t), "%lldh %lldm", (long long)h, (long long)m);
  } else {
    snprintf(t, sizeof(t), "%lldm", (long long)m);
  }
  if (seconds < 0) {
    snprintf(out, out_len, "expired %s ago", t);
  } else {
    snprintf(out, out_len, "%s", t);
  }
}

void mh_certinfo_utc(int64_t t, char *out, size_t out_len) {
  struct tm tm;
  time_t tt = (time_t)t;
  if (gmtime_r(&tt, &tm) == NULL || strftime(out, out_len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    snprintf(out, out_len, "%lld", (long long)t);
  }
}
