// pki: issuing the fixture PKI with BoringSSL's libcrypto (see pki.h).
//
// Generation runs in three steps so that a failure writes nothing: every key and certificate is
// made in memory first, then serialized into a stage, then the stage is committed. Private keys are
// PKCS#8 PEM, mode 0600, and every buffer that held one is wiped before it is freed.
#include "pki/pki.h"

#include <openssl/base.h>
#if !defined(OPENSSL_IS_BORINGSSL)
#error "mtls-harness must be built against BoringSSL, not OpenSSL"
#endif

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec_key.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/stage.h"
#include "pki/bundle.h"
#include "pki/cache.h"
#include "pki/crl.h"
#include "pki/import.h"

#define MODE_SECRET 0600
#define MODE_PUBLIC 0644

const char *const mh_key_type_names[MH_KEY_NUM] = {
#define X(e, kw, desc) kw,
    MH_KEY_TYPES(X)
#undef X
};
const char *const mh_dn_names[MH_DN_NUM] = {
#define X(e, kw, nid) kw,
    MH_DN_ATTRS(X)
#undef X
};
const char *const mh_eku_names[MH_EKU_NUM] = {
#define X(e, kw) kw,
    MH_EKUS(X)
#undef X
};
const char *const mh_ku_names[MH_KU_NUM] = {
#define X(e, kw) kw,
    MH_KUS(X)
#undef X
};
const char *const mh_crl_reason_names[MH_CRL_REASON_NUM] = {
#define X(e, kw, code) kw,
    MH_CRL_REASONS(X)
#undef X
};
const int mh_crl_reason_codes[MH_CRL_REASON_NUM] = {
#define X(e, kw, code) code,
    MH_CRL_REASONS(X)
#undef X
};
// key_type_name returns the spec keyword of |t|.
static const char *key_type_name(enum mh_key_type t) {
  return (unsigned)t < MH_KEY_NUM ? mh_key_type_names[t] : "?";
}

static const int dn_nids[] = {
#define X(e, kw, nid) nid,
    MH_DN_ATTRS(X)
#undef X
};

// issued holds what generation made for one entity.
struct issued {
  EVP_PKEY *key;       // the key the certificate certifies
  EVP_PKEY *file_key;  // the key written to key_file (another one when key_mismatch)
  X509 *cert;
  X509_REQ *csr;
  X509_CRL *crl;  // a CA's CRL: generated, or the imported one
  int key_reused;
};

// crypto_err appends the first BoringSSL error, if any, to a message.
static int crypto_err(struct mh_err *err, const char *what) {
  uint32_t e = ERR_get_error();
  char buf[256] = "no further detail";
  if (e != 0) {
    ERR_error_string_n(e, buf, sizeof(buf));
  }
  ERR_clear_error();
  return mh_err_set(err, "%s: %s", what, buf);
}

static EVP_PKEY *key_generate(enum mh_key_type t) {
  EVP_PKEY *pkey = EVP_PKEY_new();
  if (pkey == NULL) {
    return NULL;
  }
  switch (t) {
    case MH_KEY_ECDSA_P256:
    case MH_KEY_ECDSA_P384: {
      EC_KEY *ec =
          EC_KEY_new_by_curve_name(t == MH_KEY_ECDSA_P256 ? NID_X9_62_prime256v1 : NID_secp384r1);
      if (ec == NULL || !EC_KEY_generate_key(ec) || !EVP_PKEY_assign_EC_KEY(pkey, ec)) {
        EC_KEY_free(ec);
        goto fail;
      }
      return pkey;
    }
    case MH_KEY_RSA_2048:
    case MH_KEY_RSA_3072:
    case MH_KEY_RSA_4096: {
      unsigned bits = t == MH_KEY_RSA_2048 ? 2048 : t == MH_KEY_RSA_3072 ? 3072 : 4096;
      RSA *rsa = RSA_new();
      BIGNUM *e = BN_new();
      int ok = rsa != NULL && e != NULL && BN_set_word(e, RSA_F4) &&
               RSA_generate_key_ex(rsa, (int)bits, e, NULL) && EVP_PKEY_assign_RSA(pkey, rsa);
      BN_free(e);
      if (!ok) {
        RSA_free(rsa);
        goto fail;
      }
      return pkey;
    }
    case MH_KEY_ED25519: {
      EVP_PKEY_free(pkey);
      pkey = NULL;
      EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
      if (ctx == NULL || !EVP_PKEY_keygen_init(ctx) || !EVP_PKEY_keygen(ctx, &pkey)) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
      }
      EVP_PKEY_CTX_free(ctx);
      return pkey;
    }
    case MH_KEY_NUM:
      break;
  }
fail:
  EVP_PKEY_free(pkey);
  return NULL;
}

// key_type_of classifies an existing key, or returns MH_KEY_NUM if the spec has no name for it.
static enum mh_key_type key_type_of(const EVP_PKEY *pkey) {
  switch (EVP_PKEY_id(pkey)) {
    case EVP_PKEY_RSA:
      switch (EVP_PKEY_bits(pkey)) {
        case 2048:
          return MH_KEY_RSA_2048;
        case 3072:
          return MH_KEY_RSA_3072;
        case 4096:
          return MH_KEY_RSA_4096;
        default:
          return MH_KEY_NUM;
      }
    case EVP_PKEY_EC: {
      const EC_GROUP *g = EC_KEY_get0_group(EVP_PKEY_get0_EC_KEY(pkey));
      int nid = g != NULL ? EC_GROUP_get_curve_name(g) : 0;
      return nid == NID_X9_62_prime256v1 ? MH_KEY_ECDSA_P256
             : nid == NID_secp384r1      ? MH_KEY_ECDSA_P384
                                         : MH_KEY_NUM;
    }
    case EVP_PKEY_ED25519:
      return MH_KEY_ED25519;
    default:
      return MH_KEY_NUM;
  }
}

// ca_key_reuse loads an existing CA key from |path|. Returns 1 with |*out| set, 0 if there is no
// such file, -1 with |err| set if the file is unusable.
static int ca_key_reuse(const struct mh_pki_entity *e, const char *path, EVP_PKEY **out,
                        struct mh_err *err) {
  // A symbolic link in place of the CA key could make the fixtures trust a key from anywhere.
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ELOOP) {
    return mh_err_set(err, "%s: is a symbolic link; a CA key is never read through one (remove it)",
                      path);
  }
  FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
  if (f == NULL) {
    if (fd >= 0) {
      close(fd);
    }
    return 0;
  }
  EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
  fclose(f);
  if (pkey == NULL) {
    ERR_clear_error();
    return mh_err_set(err,
                      "%s: existing CA key is not a readable unencrypted PEM private key (fix or "
                      "remove it, or pass --force to regenerate the CA)",
                      path);
  }
  enum mh_key_type t = key_type_of(pkey);
  if (t != e->key_type) {
    EVP_PKEY_free(pkey);
    return mh_err_set(err,
                      "%s: existing CA key is %s but %s.key asks for %s (pass --force to "
                      "regenerate the CA)",
                      path, t == MH_KEY_NUM ? "of another type" : key_type_name(t), e->json_path,
                      key_type_name(e->key_type));
  }
  *out = pkey;
  return 1;
}

static const EVP_MD *digest_for(const EVP_PKEY *signer) {
  if (EVP_PKEY_id(signer) == EVP_PKEY_ED25519) {
    return NULL;  // pure EdDSA
  }
  if (key_type_of(signer) == MH_KEY_ECDSA_P384) {
    return EVP_sha384();
  }
  return EVP_sha256();
}

static X509_NAME *name_build(const struct mh_pki_entity *e) {
  X509_NAME *n = X509_NAME_new();
  if (n == NULL) {
    return NULL;
  }
  for (int k = 0; k < MH_DN_NUM; k++) {
    if (e->subject[k] == NULL) {
      continue;
    }
    // Country is a PrintableString; the rest UTF8String, as OpenSSL's req writes them.
    int type = k == MH_DN_C ? MBSTRING_ASC : MBSTRING_UTF8;
    if (!X509_NAME_add_entry_by_NID(n, dn_nids[k], type, (const uint8_t *)e->subject[k], -1, -1,
                                    0)) {
      X509_NAME_free(n);
      return NULL;
    }
  }
  return n;
}

// revoked_serial derives the 16 serial octets of revoked entity |e| from its issuer's public key
// and its name: every re-issue by the same CA key (each run issues its certificates again) has the
// serial the CRL a server loaded earlier lists.
static int revoked_serial(const struct mh_pki_entity *e, EVP_PKEY *issuer_key, uint8_t out[16]) {
  uint8_t *der = NULL;
  int len = i2d_PUBKEY(issuer_key, &der);
  if (len <= 0) {
    return 0;
  }
  uint8_t md[SHA256_DIGEST_LENGTH];
  SHA256_CTX c;
  SHA256_Init(&c);
  SHA256_Update(&c, "mtls-harness revoked serial", 28);
  SHA256_Update(&c, der, (size_t)len);
  SHA256_Update(&c, e->name, strlen(e->name));
  SHA256_Final(md, &c);
  OPENSSL_free(der);
  memcpy(out, md, 16);
  return 1;
}

static int set_serial(X509 *x, const struct mh_pki_entity *e, EVP_PKEY *issuer_key) {
  ASN1_INTEGER *ai = X509_get_serialNumber(x);
  if (e->has_serial) {
    return ASN1_INTEGER_set_uint64(ai, e->serial);
  }
  // 127 bits, random unless revoked: positive, unique in practice, within RFC 5280's 20 octets.
  uint8_t buf[16];
  if (!e->revoked || issuer_key == NULL) {
    RAND_bytes(buf, sizeof(buf));
  } else if (!revoked_serial(e, issuer_key, buf)) {
    return 0;
  }
  buf[0] = (uint8_t)((buf[0] & 0x7f) | 0x40);
  BIGNUM *bn = BN_bin2bn(buf, sizeof(buf), NULL);
  int ok = bn != NULL && BN_to_ASN1_INTEGER(bn, ai) != NULL;
  BN_free(bn);
  return ok;
}

static int set_time(ASN1_TIME *t, time_t now, int64_t offset) {
  return ASN1_TIME_adj(t, now, (int)(offset / 86400), (long)(offset % 86400)) != NULL;
}

// add_ext adds one extension given in OpenSSL's configuration syntax.
static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value) {
  X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
  if (ext == NULL) {
    return 0;
  }
  int ok = X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  return ok;
}

// mask_list joins the keywords of |mask| with commas after |prefix|.
static void mask_list(char *out, size_t out_len, const char *prefix, unsigned mask,
                      const char *const *names, size_t num) {
  snprintf(out, out_len, "%s", prefix);
  int first = 1;
  for (size_t i = 0; i < num; i++) {
    if (mask & (1u << i)) {
      strncat(out, first ? "" : ",", out_len - strlen(out) - 1);
      strncat(out, names[i], out_len - strlen(out) - 1);
      first = 0;
    }
  }
}

// push_name appends a SAN of |type| to |names|: an IA5String |v| (DNS, URI, e-mail) or, for
// GEN_IPADD, the address |v| in text.
static int push_name(GENERAL_NAMES *names, int type, const char *v) {
  GENERAL_NAME *g = GENERAL_NAME_new();
  if (g == NULL) {
    return 0;
  }
  if (type == GEN_IPADD) {
    ASN1_OCTET_STRING *ip = a2i_IPADDRESS(v);
    if (ip == NULL) {
      GENERAL_NAME_free(g);
      return 0;
    }
    GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
  } else {
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();
    if (s == NULL || !ASN1_STRING_set(s, v, (int)strlen(v))) {
      ASN1_IA5STRING_free(s);
      GENERAL_NAME_free(g);
      return 0;
    }
    GENERAL_NAME_set0_value(g, type, s);
  }
  if (!sk_GENERAL_NAME_push(names, g)) {
    GENERAL_NAME_free(g);
    return 0;
  }
  return 1;
}

// add_san adds the subjectAltName of |e|, if it has names: DNS, IP, URI, then e-mail entries,
// built as values (a URI may hold commas, which the configuration syntax would split). With an
// empty subject the extension is critical, as RFC 5280 4.2.1.6 requires.
static int add_san(X509 *x, const struct mh_pki_entity *e) {
  if (e->num_dns + e->num_ips + e->num_uris + e->num_emails == 0) {
    return 1;
  }
  GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
  int ok = names != NULL;
  for (size_t i = 0; ok && i < e->num_dns; i++) {
    ok = push_name(names, GEN_DNS, e->dns[i]);
  }
  for (size_t i = 0; ok && i < e->num_ips; i++) {
    ok = push_name(names, GEN_IPADD, e->ips[i]);
  }
  for (size_t i = 0; ok && i < e->num_uris; i++) {
    ok = push_name(names, GEN_URI, e->uris[i]);
  }
  for (size_t i = 0; ok && i < e->num_emails; i++) {
    ok = push_name(names, GEN_EMAIL, e->emails[i]);
  }
  int empty_subject = 1;
  for (int k = 0; k < MH_DN_NUM; k++) {
    empty_subject &= e->subject[k] == NULL;
  }
  ok = ok &&
       X509_add1_ext_i2d(x, NID_subject_alt_name, names, empty_subject, X509V3_ADD_DEFAULT) == 1;
  GENERAL_NAMES_free(names);
  return ok;
}

static int add_extensions(X509 *x, X509 *issuer_cert, const struct mh_pki_entity *e) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer_cert, x, NULL, NULL, 0);
  char buf[2048];
  if (e->is_ca) {
    if (e->path_len >= 0) {
      snprintf(buf, sizeof(buf), "critical,CA:TRUE,pathlen:%d", e->path_len);
    } else {
      snprintf(buf, sizeof(buf), "critical,CA:TRUE");
    }
  } else {
    snprintf(buf, sizeof(buf), "critical,CA:FALSE");
  }
  if (!add_ext(x, &ctx, NID_basic_constraints, buf)) {
    return 0;
  }
  unsigned ku = e->ku_mask;
  if (!e->has_key_usage) {
    ku = e->is_ca ? (1u << MH_KU_KEY_CERT_SIGN) | (1u << MH_KU_CRL_SIGN)
                  : 1u << MH_KU_DIGITAL_SIGNATURE;
    if (!e->is_ca && (e->key_type == MH_KEY_RSA_2048 || e->key_type == MH_KEY_RSA_3072 ||
                      e->key_type == MH_KEY_RSA_4096)) {
      ku |= 1u << MH_KU_KEY_ENCIPHERMENT;
    }
  }
  if (ku != 0) {
    mask_list(buf, sizeof(buf), "critical,", ku, mh_ku_names, MH_KU_NUM);
    if (!add_ext(x, &ctx, NID_key_usage, buf)) {
      return 0;
    }
  }
  if (e->has_eku) {
    mask_list(buf, sizeof(buf), "", e->eku_mask, mh_eku_names, MH_EKU_NUM);
    if (!add_ext(x, &ctx, NID_ext_key_usage, buf)) {
      return 0;
    }
  }
  // An imported issuer may lack a subjectKeyIdentifier: then name it by issuer and serial.
  const char *akid =
      X509_get_ext_by_NID(issuer_cert, NID_subject_key_identifier, -1) >= 0 || issuer_cert == x
          ? "keyid:always"
          : "keyid,issuer:always";
  if (!add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
      !add_ext(x, &ctx, NID_authority_key_identifier, akid)) {
    return 0;
  }
  return add_san(x, e);
}

// cert_issue makes |e|'s certificate for |it->key|, signed by |issuer| (NULL: self-signed).
static int cert_issue(const struct mh_pki_entity *e, struct issued *it, const struct issued *issuer,
                      time_t now, struct mh_err *err) {
  X509 *x = X509_new();
  X509_NAME *subj = name_build(e);
  int ok = x != NULL && subj != NULL && X509_set_version(x, e->x509_version - 1) &&
           set_serial(x, e, issuer ? issuer->key : NULL) && X509_set_subject_name(x, subj) &&
           X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->cert) : subj) &&
           set_time(X509_getm_notBefore(x), now, e->not_before) &&
           set_time(X509_getm_notAfter(x), now, e->not_after) && X509_set_pubkey(x, it->key);
  X509_NAME_free(subj);
  if (ok && e->x509_version == 3) {
    ok = add_extensions(x, issuer ? issuer->cert : x, e);
  }
  EVP_PKEY *signer = issuer ? issuer->key : it->key;
  if (ok) {
    ok = X509_sign(x, signer, digest_for(signer)) > 0;
  }
  if (!ok) {
    X509_free(x);
    return crypto_err(err, e->json_path);
  }
  it->cert = x;
  return 0;
}

static int csr_make(const struct mh_pki_entity *e, struct issued *it, struct mh_err *err) {
  X509_REQ *req = X509_REQ_new();
  X509_NAME *subj = name_build(e);
  int ok = req != NULL && subj != NULL && X509_REQ_set_version(req, 0) &&
           X509_REQ_set_subject_name(req, subj) && X509_REQ_set_pubkey(req, it->key) &&
           X509_REQ_sign(req, it->key, digest_for(it->key)) > 0;
  X509_NAME_free(subj);
  if (!ok) {
    X509_REQ_free(req);
    return crypto_err(err, e->json_path);
  }
  it->csr = req;
  return 0;
}

// pem is one serialized output, kept until the zips are built from it.
struct pem {
  const char *path;
  uint8_t *data;
  size_t len;
  int secret;
};

// pem_take moves the contents of a memory BIO into |out| (wiping the BIO's copy).
static int pem_take(BIO *bio, const char *path, int secret, struct pem *out) {
  const uint8_t *data;
  size_t len;
  if (!BIO_mem_contents(bio, &data, &len)) {
    return 0;
  }
  out->data = malloc(len ? len : 1);
  if (out->data == NULL) {
    return 0;
  }
  memcpy(out->data, data, len);
  OPENSSL_cleanse((void *)data, len);
  out->len = len;
  out->path = path;
  out->secret = secret;
  return 1;
}

struct outputs {
  struct pem *items;
  size_t num;
  size_t cap;
};

static struct pem *outputs_add(struct outputs *o) {
  if (o->num == o->cap) {
    size_t cap = o->cap ? o->cap * 2 : 32;
    struct pem *p = realloc(o->items, cap * sizeof(*p));
    if (p == NULL) {
      return NULL;
    }
    o->items = p;
    o->cap = cap;
  }
  memset(&o->items[o->num], 0, sizeof(o->items[0]));
  return &o->items[o->num++];
}

static void outputs_free(struct outputs *o) {
  for (size_t i = 0; i < o->num; i++) {
    if (o->items[i].data != NULL) {
      OPENSSL_cleanse(o->items[i].data, o->items[i].len);
      free(o->items[i].data);
    }
  }
  free(o->items);
}

static const struct pem *outputs_find(const struct outputs *o, const char *path) {
  for (size_t i = 0; i < o->num; i++) {
    if (strcmp(o->items[i].path, path) == 0) {
      return &o->items[i];
    }
  }
  return NULL;
}

// make_crl signs CA |i|'s CRL into |all[i].crl|: every entity it issued that is revoked, with its
// certificate's serial (issued before: CAs come first, identities after every CA).
static int make_crl(const struct mh_pki_spec *spec, struct issued *all, size_t i, time_t now,
                    struct mh_err *err) {
  const struct mh_pki_entity *ca = &spec->entities[i];
  struct mh_crl_entry *entries = calloc(spec->num_entities + 1, sizeof(*entries));
  size_t n = 0;
  if (entries == NULL) {
    return mh_err_set(err, "%s: out of memory", ca->json_path);
  }
  for (size_t j = 0; j < spec->num_entities; j++) {
    const struct mh_pki_entity *e = &spec->entities[j];
    if (e->revoked && e->issuer == (int)i) {
      entries[n].serial = X509_get_serialNumber(all[j].cert);
      entries[n].revoked_at = (int64_t)now + e->revoked_at;
      entries[n++].reason = e->revocation_reason;
    }
  }
  all[i].crl = mh_crl_make(all[i].cert, all[i].key, entries, n, ca->crl_extra_entries, now,
                           ca->crl_next_update, ca->json_path, err);
  free(entries);
  return all[i].crl != NULL ? 0 : -1;
}

// serialize_crl appends CA |e|'s generated CRL to |o| (an imported one is used where it is).
static int serialize_crl(const struct mh_pki_entity *e, const struct issued *it, struct outputs *o,
                         struct mh_err *err) {
  if (e->crl_file == NULL || e->import_crl != NULL) {
    return 0;
  }
  BIO *bio = BIO_new(BIO_s_mem());
  struct pem *p = bio != NULL && PEM_write_bio_X509_CRL(bio, it->crl) ? outputs_add(o) : NULL;
  int ok = p != NULL && pem_take(bio, e->crl_file, 0, p);
  BIO_free(bio);
  return ok ? 0 : crypto_err(err, e->json_path);
}

// serialize_entity appends |e|'s files to |o|.
static int serialize_entity(const struct mh_pki_spec *spec, const struct issued *all, size_t idx,
                            struct outputs *o, struct mh_err *err) {
  const struct mh_pki_entity *e = &spec->entities[idx];
  const struct issued *it = &all[idx];
  if (serialize_crl(e, it, o, err) != 0) {
    return -1;
  }
  if (e->imported && !mh_pki_key_decrypted(e)) {
    return 0;  // used where it is
  }
  struct {
    const char *path;
    int kind;  // 0 key, 1 cert, 2 csr, 3 chain
  } files[] = {{e->key_file, 0}, {e->cert_file, 1}, {e->csr_file, 2}, {e->chain_file, 3}};
  for (size_t f = 0; f < 4; f++) {
    if (files[f].path == NULL || (e->imported && files[f].kind != 0)) {
      continue;
    }
    BIO *bio = BIO_new(BIO_s_mem());
    int ok = bio != NULL;
    switch (files[f].kind) {
      case 0:
        ok = ok && PEM_write_bio_PKCS8PrivateKey(bio, it->file_key, NULL, NULL, 0, NULL, NULL);
        break;
      case 1:
        ok = ok && PEM_write_bio_X509(bio, it->cert);
        break;
      case 2:
        ok = ok && PEM_write_bio_X509_REQ(bio, it->csr);
        break;
      case 3:
        ok = ok && PEM_write_bio_X509(bio, it->cert);
        // Intermediates up to, not including, the root: what a server or client sends.
        for (int k = e->issuer; ok && k >= 0 && spec->entities[k].issuer >= 0;
             k = spec->entities[k].issuer) {
          ok = PEM_write_bio_X509(bio, all[k].cert);
        }
        break;
    }
    struct pem *p = ok ? outputs_add(o) : NULL;
    ok = p != NULL && pem_take(bio, files[f].path, files[f].kind == 0, p);
    BIO_free(bio);
    if (!ok) {
      return crypto_err(err, e->json_path);
    }
  }
  return 0;
}

// format_time prints |now| + |offset| seconds as UTC; the certificates hold exactly these times.
static void format_time(time_t now, int64_t offset, char *out, size_t out_len) {
  time_t t = now + (time_t)offset;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, out_len, "%Y-%m-%d %H:%M:%SZ", &tm);
}

// readme_make writes the README.md of a zip: one line per member saying what it is.
static char *readme_make(const struct mh_pki_spec *spec, const struct mh_pki_zip *z, time_t now,
                         size_t *out_len) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (f == NULL) {
    return NULL;
  }
  const char *base = strrchr(z->file, '/') ? strrchr(z->file, '/') + 1 : z->file;
  char when[32];
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%SZ", &tm);
  fprintf(f, "# %s: mTLS credentials\n\n", z->title ? z->title : base);
  fprintf(f, "Generated by mtls-harness from `%s` at %s.\n\n", spec->file, when);
  fprintf(f, "| File | What it is |\n|---|---|\n");
  for (size_t m = 0; m < z->num_members; m++) {
    const char *path = z->members[m];
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    for (size_t i = 0; i < spec->num_entities; i++) {
      const struct mh_pki_entity *e = &spec->entities[i];
      char nb[32], na[32];
      format_time(now, e->not_before, nb, sizeof(nb));
      format_time(now, e->not_after, na, sizeof(na));
      const char *cn = e->subject[MH_DN_CN] ? e->subject[MH_DN_CN] : e->name;
      if (e->key_file && strcmp(e->key_file, path) == 0) {
        fprintf(f, "| `%s` | private key of %s (%s); keep it secret, mode 0600 |\n", name, e->name,
                key_type_name(e->key_type));
      } else if (e->cert_file && strcmp(e->cert_file, path) == 0) {
        if (e->is_ca) {
          fprintf(f, "| `%s` | CA certificate %s (CN=%s): trust it to verify peers |\n", name,
                  e->name, cn);
        } else {
          fprintf(f, "| `%s` | certificate of %s (CN=%s), valid %s to %s |\n", name, e->name, cn,
                  nb, na);
        }
      } else if (e->csr_file && strcmp(e->csr_file, path) == 0) {
        fprintf(f, "| `%s` | certificate signing request of %s |\n", name, e->name);
      } else if (e->chain_file && strcmp(e->chain_file, path) == 0) {
        fprintf(f, "| `%s` | certificate of %s followed by its intermediate CAs |\n", name,
                e->name);
      }
    }
  }
  if (fclose(f) != 0) {
    free(buf);
    return NULL;
  }
  *out_len = len;
  return buf;
}

static int build_zip(struct mh_stage *st, const struct mh_pki_spec *spec, const struct outputs *o,
                     const struct mh_pki_zip *z, time_t now, struct mh_err *err) {
  struct mh_bundle_member *mem = calloc(z->num_members + 1, sizeof(*mem));
  char *readme = NULL;
  int ret = -1;
  if (mem == NULL) {
    mh_err_set(err, "%s: out of memory", z->json_path);
    goto out;
  }
  int any_secret = 0;
  for (size_t m = 0; m < z->num_members; m++) {
    const struct pem *p = outputs_find(o, z->members[m]);
    if (p == NULL) {  // the parser guarantees members are outputs
      mh_err_set(err, "%s: internal error: %s not generated", z->json_path, z->members[m]);
      goto out;
    }
    const char *slash = strrchr(p->path, '/');
    mem[m].name = slash ? slash + 1 : p->path;
    mem[m].data = p->data;
    mem[m].len = p->len;
    mem[m].mode = p->secret ? MODE_SECRET : MODE_PUBLIC;
    any_secret |= p->secret;
  }
  size_t n = z->num_members;
  if (z->readme) {
    size_t rlen;
    readme = readme_make(spec, z, now, &rlen);
    if (readme == NULL) {
      mh_err_set(err, "%s: out of memory", z->json_path);
      goto out;
    }
    mem[n].name = "README.md";
    mem[n].data = readme;
    mem[n].len = rlen;
    mem[n].mode = MODE_PUBLIC;
    n++;
  }
  const char *tmp;
  if (mh_stage_reserve(st, z->file, any_secret ? MODE_SECRET : MODE_PUBLIC, &tmp, err) != 0 ||
      mh_bundle_write_zip(tmp, mem, n, now, err) != 0) {
    goto out;
  }
  ret = 0;
out:
  free(readme);
  free(mem);
  return ret;
}

static void issued_free(struct issued *all, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (all[i].file_key != all[i].key) {
      EVP_PKEY_free(all[i].file_key);
    }
    EVP_PKEY_free(all[i].key);
    X509_free(all[i].cert);
    X509_REQ_free(all[i].csr);
    X509_CRL_free(all[i].crl);
  }
  free(all);
}

static void print_entity(const struct mh_pki_entity *e, const struct issued *it, time_t now) {
  if (e->imported) {
    printf("  %-8s %-22s imported   %s%s\n", e->is_ca ? "ca" : "identity", e->name, e->import_cert,
           e->is_ca && it->key == NULL ? " (no key: cannot issue)" : "");
    return;
  }
  char na[32];
  format_time(now, e->not_after, na, sizeof(na));
  printf("  %-8s %-22s %-10s CN=%s, until %s%s%s%s\n", e->is_ca ? "ca" : "identity", e->name,
         key_type_name(e->key_type), e->subject[MH_DN_CN] ? e->subject[MH_DN_CN] : "-", na,
         it->key_reused ? " (existing key reused)" : "",
         e->key_mismatch ? " (key file deliberately mismatched)" : "",
         e->revoked ? " (revoked: on its issuer's CRL)" : "");
}

// print_crl says what CA |e|'s generated CRL lists and until when.
static void print_crl(const struct mh_pki_entity *e, const struct issued *it, time_t now) {
  if (it->crl == NULL || e->import_crl != NULL) {
    return;
  }
  char nu[32];
  format_time(now, e->crl_next_update, nu, sizeof(nu));
  size_t listed = (size_t)sk_X509_REVOKED_num(X509_CRL_get_REVOKED(it->crl));
  printf("  %-8s %-22s %zu revoked%s, next update %s%s\n", "crl", e->crl_file,
         listed - e->crl_extra_entries, e->crl_extra_entries ? " (and made-up serials)" : "", nu,
         e->crl_next_update < 0 ? " (already expired, as the spec asks)" : "");
}

int mh_pki_key_decrypted(const struct mh_pki_entity *e) {
  return e->imported && !e->is_ca && (e->passphrase_file != NULL || e->passphrase_env != NULL);
}

// issue_entity makes entity |i|'s key and certificate in |all[i]|: read when imported, else
// issued (with an existing CA key reused unless --force).
static int issue_entity(const struct mh_pki_spec *spec, const struct mh_pki_options *opts,
                        struct issued *all, size_t i, time_t now, struct mh_err *err) {
  const struct mh_pki_entity *e = &spec->entities[i];
  struct issued *it = &all[i];
  if (e->imported) {
    if (mh_import_entity(spec, e, &it->cert, &it->key, err) != 0 ||
        (e->import_crl != NULL &&
         (it->crl = mh_crl_read(e->import_crl, it->cert, e->json_path, err)) == NULL)) {
      return -1;
    }
    it->file_key = it->key;
    return 0;
  }
  if (e->is_ca && !opts->force) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", opts->out_dir, e->key_file);
    int r = ca_key_reuse(e, path, &it->key, err);
    if (r < 0) {
      return -1;
    }
    it->key_reused = r;
  }
  if (it->key == NULL && (it->key = key_generate(e->key_type)) == NULL) {
    return crypto_err(err, e->json_path);
  }
  it->file_key = it->key;
  if (e->key_mismatch && (it->file_key = key_generate(e->key_type)) == NULL) {
    return crypto_err(err, e->json_path);
  }
  if (cert_issue(e, it, e->issuer >= 0 ? &all[e->issuer] : NULL, now, err) != 0) {
    return -1;
  }
  return e->csr_file != NULL ? csr_make(e, it, err) : 0;
}

int mh_pki_preflight(const struct mh_pki_spec *spec, struct mh_err *err) {
  for (size_t i = 0; i < spec->num_entities; i++) {
    X509 *cert;
    EVP_PKEY *key;
    if (spec->entities[i].imported) {
      const struct mh_pki_entity *e = &spec->entities[i];
      if (mh_import_entity(spec, e, &cert, &key, err) != 0) {
        return -1;
      }
      X509_CRL *crl =
          e->import_crl != NULL ? mh_crl_read(e->import_crl, cert, e->json_path, err) : NULL;
      X509_free(cert);
      EVP_PKEY_free(key);
      if (e->import_crl != NULL && crl == NULL) {
        return -1;
      }
      X509_CRL_free(crl);
    }
  }
  return 0;
}

#define MH_PKI_MAX_CAS 64

// from_cache writes the files of |spec|'s cache entry through |st| if there is a usable one whose
// CA keys are those already below the output directory, if any (generation would reuse them).
// Returns 1 (written and committed), 0 (generate them) or -1 with |err| set.
static int from_cache(const struct mh_pki_spec *spec, const struct mh_pki_options *opts,
                      const uint8_t digest[32], struct mh_stage *st, time_t now,
                      struct mh_err *err) {
  time_t made = 0;
  char stale[160];
  const char *keys[MH_PKI_MAX_CAS];
  size_t n = 0;
  for (size_t i = 0; i < spec->num_cas && n < MH_PKI_MAX_CAS; i++) {
    if (!spec->entities[i].imported && spec->entities[i].key_file != NULL) {
      keys[n++] = spec->entities[i].key_file;
    }
  }
  if (n < spec->num_cas && n == MH_PKI_MAX_CAS) {
    return 0;
  }
  int r = mh_pki_cache_restore(opts->cache_dir, digest, opts->out_dir, keys, n, st, now, &made,
                               stale, sizeof(stale), err);
  if (r == 0 && stale[0] != 0) {
    fprintf(stderr,
            "pki: warning: fixtures cache %s: the entry for %s is not used: %s (it is "
            "generated again and replaced)\n",
            opts->cache_dir, spec->file, stale);
  }
  if (r <= 0) {
    return r;
  }
  if (mh_stage_commit(st, err) != 0) {
    return -1;
  }
  if (!opts->quiet) {
    char when[32];
    struct tm tm;
    gmtime_r(&made, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("pki: %s -> %s: unchanged since %s, written from the fixtures cache %s\n", spec->file,
           opts->out_dir, when, opts->cache_dir);
  }
  return 1;
}

// to_cache keeps the files just written from |spec| (|o| and the zips) in the cache.
static void to_cache(const struct mh_pki_spec *spec, const struct mh_pki_options *opts,
                     const uint8_t digest[32], const struct outputs *o, time_t now) {
  const char **paths = calloc(o->num + spec->num_zips + 1, sizeof(*paths));
  struct mh_err err = {0};
  size_t n = 0;
  for (size_t i = 0; paths != NULL && i < o->num; i++) {
    paths[n++] = o->items[i].path;
  }
  for (size_t z = 0; paths != NULL && z < spec->num_zips; z++) {
    paths[n++] = spec->zips[z].file;
  }
  if (paths == NULL ||
      mh_pki_cache_store(opts->cache_dir, digest, spec, opts->out_dir, paths, n, now, &err) != 0) {
    fprintf(stderr,
            "pki: warning: fixtures cache %s not written: %s (the run goes on without it; "
            "--fixtures-cache DIR names another, --no-fixtures-cache stops trying)\n",
            opts->cache_dir, paths == NULL ? "out of memory" : err.msg);
  }
  free(paths);
}

int mh_pki_generate(const struct mh_pki_spec *spec, const struct mh_pki_options *opts,
                    struct mh_err *err) {
  time_t now = time(NULL);
  struct issued *all = calloc(spec->num_entities + 1, sizeof(*all));
  struct outputs o = {0};
  struct mh_stage st;
  int ret = -1;
  if (mh_stage_init(&st, opts->out_dir, err) != 0 || all == NULL) {
    if (all == NULL) {
      mh_err_set(err, "%s: out of memory", spec->file);
    }
    goto out;
  }
  uint8_t digest[32];
  char why[128];
  int cached = opts->cache_dir != NULL && mh_pki_cache_digest(spec, digest) == 1;
  if (cached && !mh_pki_cache_owned(opts->cache_dir, why, sizeof(why))) {
    fprintf(stderr,
            "pki: warning: fixtures cache %s is not used: %s (name one of this user's "
            "with --fixtures-cache DIR, or pass --no-fixtures-cache)\n",
            opts->cache_dir, why);
    cached = 0;
  }
  if (cached && !opts->force) {
    // Imported files pass the checks generation makes (a key's mode...) with or without a cache.
    int r = mh_pki_preflight(spec, err) != 0 ? -1 : from_cache(spec, opts, digest, &st, now, err);
    if (r != 0) {
      ret = r > 0 ? 0 : -1;
      goto out;
    }
  }

  // 1. Keys and certificates, in memory. CAs come first and name only earlier CAs as issuers.
  for (size_t i = 0; i < spec->num_entities; i++) {
    if (issue_entity(spec, opts, all, i, now, err) != 0) {
      goto out;
    }
  }

  // CRLs, once every revoked certificate has its serial.
  for (size_t i = 0; i < spec->num_cas; i++) {
    const struct mh_pki_entity *e = &spec->entities[i];
    if (e->crl_file != NULL && e->import_crl == NULL && make_crl(spec, all, i, now, err) != 0) {
      goto out;
    }
  }

  // 2. Serialize and stage.
  for (size_t i = 0; i < spec->num_entities; i++) {
    if (serialize_entity(spec, all, i, &o, err) != 0) {
      goto out;
    }
  }
  for (size_t i = 0; i < o.num; i++) {
    const struct pem *p = &o.items[i];
    if (mh_stage_write(&st, p->path, p->data, p->len, p->secret ? MODE_SECRET : MODE_PUBLIC, err) !=
        0) {
      goto out;
    }
  }
  for (size_t z = 0; z < spec->num_zips; z++) {
    if (build_zip(&st, spec, &o, &spec->zips[z], now, err) != 0) {
      goto out;
    }
  }

  // 3. All at once.
  if (mh_stage_commit(&st, err) != 0) {
    goto out;
  }
  if (cached) {
    to_cache(spec, opts, digest, &o, now);
  }
  if (opts->quiet) {
    ret = 0;
    goto out;
  }
  printf("pki: %s -> %s\n", spec->file, opts->out_dir);
  for (size_t i = 0; i < spec->num_entities; i++) {
    print_entity(&spec->entities[i], &all[i], now);
    print_crl(&spec->entities[i], &all[i], now);
  }
  if (opts->verbose) {
    for (size_t i = 0; i < o.num; i++) {
      printf("  wrote %s/%s (%s)\n", opts->out_dir, o.items[i].path,
             o.items[i].secret ? "0600" : "0644");
    }
    for (size_t z = 0; z < spec->num_zips; z++) {
      printf("  wrote %s/%s\n", opts->out_dir, spec->zips[z].file);
    }
  }
  printf("pki: wrote %zu files (%zu CAs, %zu identities, %zu zips); private keys are mode 0600\n",
         o.num + spec->num_zips, spec->num_cas, spec->num_entities - spec->num_cas, spec->num_zips);
  ret = 0;
out:
  mh_stage_cleanup(&st);
  outputs_free(&o);
  if (all != NULL) {
    issued_free(all, spec->num_entities);
  }
  return ret;
}
