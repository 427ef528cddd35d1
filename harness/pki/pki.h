// pki: the fixture PKI: a spec of CAs and identities, and the generator that issues them.
//
// The spec is plain data, parsed from JSON by scenario.c (mh_pki_spec_load) and read-only
// afterwards; it lives in the caller's arena. mh_pki_generate turns it into keys, CSRs,
// certificates, chain files and zips with BoringSSL, writing all of them or none (see stage.h).
#ifndef MH_PKI_H
#define MH_PKI_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

// Key types: X(enum suffix, spec keyword, description).
#define MH_KEY_TYPES(X)                      \
  X(ECDSA_P256, "ecdsa-p256", "ECDSA P-256") \
  X(ECDSA_P384, "ecdsa-p384", "ECDSA P-384") \
  X(RSA_2048, "rsa-2048", "RSA 2048")        \
  X(RSA_3072, "rsa-3072", "RSA 3072")        \
  X(RSA_4096, "rsa-4096", "RSA 4096")        \
  X(ED25519, "ed25519", "Ed25519")

enum mh_key_type {
#define X(e, kw, desc) MH_KEY_##e,
  MH_KEY_TYPES(X)
#undef X
      MH_KEY_NUM
};

// Subject attributes, in the order they are written into a name: X(enum suffix, keyword, NID).
#define MH_DN_ATTRS(X)                    \
  X(C, "C", NID_countryName)              \
  X(ST, "ST", NID_stateOrProvinceName)    \
  X(L, "L", NID_localityName)             \
  X(O, "O", NID_organizationName)         \
  X(OU, "OU", NID_organizationalUnitName) \
  X(CN, "CN", NID_commonName)

enum mh_dn_attr {
#define X(e, kw, nid) MH_DN_##e,
  MH_DN_ATTRS(X)
#undef X
      MH_DN_NUM
};

// Extended key usages: X(enum suffix, keyword).
#define MH_EKUS(X)               \
  X(SERVER_AUTH, "serverAuth")   \
  X(CLIENT_AUTH, "clientAuth")   \
  X(CODE_SIGNING, "codeSigning") \
  X(EMAIL_PROTECTION, "emailProtection")

enum mh_eku {
#define X(e, kw) MH_EKU_##e,
  MH_EKUS(X)
#undef X
      MH_EKU_NUM
};

// Key usages: X(enum suffix, keyword).
#define MH_KUS(X)                          \
  X(DIGITAL_SIGNATURE, "digitalSignature") \
  X(KEY_ENCIPHERMENT, "keyEncipherment")   \
  X(KEY_AGREEMENT, "keyAgreement")         \
  X(KEY_CERT_SIGN, "keyCertSign")          \
  X(CRL_SIGN, "cRLSign")

enum mh_ku {
#define X(e, kw) MH_KU_##e,
  MH_KUS(X)
#undef X
      MH_KU_NUM
};

// CRL entry reason codes of RFC 5280 section 5.3.1: X(enum suffix, spec keyword, code). 7 is
// unused and removeFromCRL (8) belongs to delta CRLs only.
#define MH_CRL_REASONS(X)                              \
  X(UNSPECIFIED, "unspecified", 0)                     \
  X(KEY_COMPROMISE, "keyCompromise", 1)                \
  X(CA_COMPROMISE, "cACompromise", 2)                  \
  X(AFFILIATION_CHANGED, "affiliationChanged", 3)      \
  X(SUPERSEDED, "superseded", 4)                       \
  X(CESSATION_OF_OPERATION, "cessationOfOperation", 5) \
  X(CERTIFICATE_HOLD, "certificateHold", 6)            \
  X(PRIVILEGE_WITHDRAWN, "privilegeWithdrawn", 9)      \
  X(AA_COMPROMISE, "aACompromise", 10)

enum mh_crl_reason {
#define X(e, kw, code) MH_CRL_REASON_##e,
  MH_CRL_REASONS(X)
#undef X
      MH_CRL_REASON_NUM
};

// mh_pki_entity is one certificate to issue: a CA (root or intermediate) or an end identity.
struct mh_pki_entity {
  const char *name;
  const char *json_path;  // "$.cas[0]": where it was declared, for messages
  int is_ca;
  enum mh_key_type key_type;
  const char *subject[MH_DN_NUM];  // NULL where absent; all NULL: an empty subject, whose SAN
                                   // is then critical (RFC 5280 4.2.1.6)
  int64_t not_before;              // seconds relative to the time of generation
  int64_t not_after;
  int x509_version;  // 1 or 3
  int has_serial;    // else a random 127-bit serial
  uint64_t serial;
  int issuer;        // index into mh_pki_spec.entities, or -1 if self-signed
  int path_len;      // CA only: -1 = no pathLenConstraint
  const char **dns;  // subjectAltName dNSName entries
  size_t num_dns;
  const char **ips;  // subjectAltName iPAddress entries (textual)
  size_t num_ips;
  const char **uris;  // subjectAltName uniformResourceIdentifier entries (SPIFFE IDs...)
  size_t num_uris;
  const char **emails;  // subjectAltName rfc822Name entries
  size_t num_emails;
  int has_eku;        // else no extendedKeyUsage extension at all
  unsigned eku_mask;  // bit (1 << enum mh_eku)
  int has_key_usage;  // else the default for the role and key type
  unsigned ku_mask;   // bit (1 << enum mh_ku); 0 with has_key_usage = no extension
  int key_mismatch;   // the key file holds a different key than the certificate certifies
  // Output files, relative to the output directory; NULL = not written.
  const char *key_file;
  const char *cert_file;
  const char *csr_file;
  const char *chain_file;  // leaf followed by its intermediates (not the root)
  // Imported files (docs/pki-spec.md, "Importing"): paths resolved against the spec's directory,
  // used where they are and never written. The names above stay what configs call them
  // ("/certs/<cert_file>"); mh_pki_spec_file maps a name to the file on disk.
  int imported;                 // the certificate is |import_cert|, not issued here
  const char *import_cert;      // the certificate as it is
  const char *import_key;       // its private key; NULL: a CA that cannot issue, or an identity
                                // without a key (an error: an identity needs one)
  const char *import_chain;     // identity: leaf followed by intermediates, what a peer sends
  const char *passphrase_file;  // the encrypted |import_key|'s passphrase: first line of a file
  const char *passphrase_env;   // ... or an environment variable
  // Revocation (docs/pki-spec.md, "Revocation"). A revoked entity is listed on its issuer's CRL
  // with |revocation_reason| (-1: no reasonCode entry) at |revoked_at| seconds relative to the
  // generation (never after it). Its serial, unless the spec gives one, is derived from its
  // issuer's public key and its name, so that every re-issue is on a CRL a server already loaded.
  int revoked;
  int revocation_reason;  // enum mh_crl_reason, or -1
  int64_t revoked_at;
  // CA: its CRL's file name (NULL: none, an imported CA without key or CRL), the operator's own
  // CRL used as it is (|import_crl|, resolved like the other imports), and for a generated CRL
  // its nextUpdate relative to the generation (a past one makes an expired CRL) and the number of
  // made-up serials it lists beside the revoked entities (to measure servers with big CRLs).
  const char *crl_file;
  const char *import_crl;
  int64_t crl_next_update;
  uint32_t crl_extra_entries;
  int no_crl;  // "crl": false: this CA writes none (a layout that has no place for one)
};

// mh_pki_zip is one bundle: flat members plus an optional generated README.md.
struct mh_pki_zip {
  const char *file;
  const char *json_path;
  const char **members;  // output paths of this spec (never a CA key)
  size_t num_members;
  int readme;
  const char *title;  // README heading; defaults to the zip's base name
};

struct mh_pki_spec {
  const char *file;                // the spec's path, for messages
  struct mh_pki_entity *entities;  // CAs first (in declaration order), then identities
  size_t num_entities;
  size_t num_cas;
  struct mh_pki_zip *zips;
  size_t num_zips;
};

// Spec keywords, indexed by the enums above (generated from the same tables).
extern const char *const mh_key_type_names[MH_KEY_NUM];
extern const char *const mh_dn_names[MH_DN_NUM];
extern const char *const mh_eku_names[MH_EKU_NUM];
extern const char *const mh_ku_names[MH_KU_NUM];
extern const char *const mh_crl_reason_names[MH_CRL_REASON_NUM];
extern const int mh_crl_reason_codes[MH_CRL_REASON_NUM];

// mh_pki_options controls one generation run.
struct mh_pki_options {
  const char *out_dir;
  int force;    // regenerate CA keys even if they exist
  int verbose;  // print one line per file
  int quiet;    // print nothing (the caller reports)
  // The fixtures cache (cache.h), or NULL for none. It is read unless |force|; an entry whose CA
  // keys are not those already below |out_dir| (generation reuses them) is not used.
  const char *cache_dir;
};

// mh_pki_key_decrypted reports whether identity |e|'s key file is a decrypted copy written into
// the output directory (an imported, passphrase-protected key: TLS stacks read a plain PEM file)
// rather than the imported file itself.
int mh_pki_key_decrypted(const struct mh_pki_entity *e);

// mh_pki_preflight reads every file |spec| imports exactly as mh_pki_generate does (the same
// checks: key mode, passphrase, a CA that is a CA, the key matching its certificate, the chain) and
// writes nothing: what `check` runs so that it refuses what `run` would. Returns 0, or -1 with
// |err| set to mh_import_entity's one line.
int mh_pki_preflight(const struct mh_pki_spec *spec, struct mh_err *err);

// mh_pki_generate issues everything |spec| declares below |opts->out_dir| and prints a summary to
// stdout. CA keys that already exist there are reused unless |opts->force| (the type must match the
// spec). With |opts->cache_dir|, the files of a usable cache entry are written instead, and new
// ones are kept there (a cache that cannot be written is a warning on stderr). All files appear
// or none does. Returns 0, or -1 with |err| set.
int mh_pki_generate(const struct mh_pki_spec *spec, const struct mh_pki_options *opts,
                    struct mh_err *err);

#endif
