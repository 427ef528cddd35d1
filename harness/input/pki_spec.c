// spec: the fixture spec parser (docs/pki-spec.md): JSON into the plain data pki.c generates from.
//
// The fixture spec is our own format, so it is strict: an unknown key is an error (a typo must not
// silently produce a different PKI). Each object kind has one table of accepted keys; the same
// tables drive parsing and mh_pki_spec_print_keys, so the documentation test sees exactly what the
// parser accepts.
#include "input/pki_spec.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/printable.h"
#include "input/json.h"
#include "input/pki_spec_internal.h"

#define SPEC_VERSION 1
#define MAX_DURATION_S ((int64_t)200 * 366 * 86400)
#define MAX_SERIAL ((uint64_t)1 << 53)  // exact in a JSON number

int mh_pki_spec_parse_duration(const char *s, int64_t *out_seconds) {
  int64_t sign = 1;
  if (*s == '+' || *s == '-') {
    sign = *s == '-' ? -1 : 1;
    s++;
  }
  if (*s == '\0') {
    return -1;
  }
  int64_t total = 0;
  while (*s != '\0') {
    if (*s < '0' || *s > '9') {
      return -1;
    }
    int64_t n = 0;
    while (*s >= '0' && *s <= '9') {
      n = n * 10 + (*s - '0');
      if (n > MAX_DURATION_S) {
        return -1;
      }
      s++;
    }
    int64_t unit;
    switch (*s) {
      case 's':
        unit = 1;
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 86400;
        break;
      case 'w':
        unit = 7 * 86400;
        break;
      default:
        // A bare number is allowed only as the whole of "0".
        if (*s == '\0' && n == 0 && total == 0) {
          *out_seconds = 0;
          return 0;
        }
        return -1;
    }
    s++;
    if (n > (MAX_DURATION_S - total) / unit) {
      return -1;
    }
    total += n * unit;
  }
  *out_seconds = sign * total;
  return 0;
}

static int get_duration(struct mh_json_ctx *c, const cJSON *v, int64_t *out) {
  const char *s;
  if (mh_json_get_string(c, v, &s) != 0) {
    return -1;
  }
  if (mh_pki_spec_parse_duration(s, out) != 0) {
    return mh_json_fail(
        c,
        "bad duration \"%s\" (use a signed offset from generation time such as \"90d\", "
        "\"-1h\", \"1d12h\"; units s, m, h, d, w)",
        s);
  }
  return 0;
}

// get_rel_path checks that an output path stays below the output directory.
static int get_rel_path(struct mh_json_ctx *c, const cJSON *v, const char **out) {
  if (mh_json_get_string(c, v, out) != 0) {
    return -1;
  }
  const char *p = *out;
  if (p[0] == '/') {
    return mh_json_fail(
        c, "\"%s\" must be a relative path below the output directory (no leading / or ..)", p);
  }
  if (p[0] == '\0' || p[strlen(p) - 1] == '/') {
    return mh_json_fail(c, "\"%s\" names a directory; give a file name", p);
  }
  // Every component a name: "." or an empty one would make the file a directory at commit time,
  // ".." would leave the output directory.
  for (const char *q = p; *q;) {
    size_t n = strcspn(q, "/");
    if (n == 0 || (n == 1 && q[0] == '.') || (n == 2 && q[0] == '.' && q[1] == '.')) {
      return mh_json_fail(c,
                          "\"%s\" must be a relative path below the output directory, each part "
                          "a name (no leading /, no empty part, no . or ..)",
                          p);
    }
    q += n + (q[n] == '/');
  }
  return 0;
}

// --- entities (CAs, identities, identity defaults) ---

// Where a key is accepted.
#define IN_CA 1u
#define IN_ID 2u
#define IN_DEF 4u

struct efield {
  const char *key;
  const char *doc;  // the JSON path suffix for mh_pki_spec_print_keys ("" or "[]" or ".C" ...)
  unsigned where;
  int issues;  // describes a certificate to issue: meaningless beside "import_cert"
  int (*parse)(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r);
};

static int p_name(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  return mh_json_get_string(c, v, &e->name) != 0 ? -1 : mh_json_check_name(c, e->name);
}

static int p_key(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  const char *s;
  if (mh_json_get_string(c, v, &s) != 0) {
    return -1;
  }
  for (int i = 0; i < MH_KEY_NUM; i++) {
    if (strcmp(s, mh_key_type_names[i]) == 0) {
      e->key_type = (enum mh_key_type)i;
      return 0;
    }
  }
  char known[256];
  mh_json_join_names(known, sizeof(known), mh_key_type_names, MH_KEY_NUM);
  return mh_json_fail(c, "unknown key type \"%s\" (use one of: %s)", s, known);
}

static int p_subject(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                     struct praw *r) {
  (void)r;
  if (!cJSON_IsObject(v)) {
    return mh_json_fail(c, "expected an object such as {\"CN\": \"host.example\"}, found %s",
                        mh_json_type_name(v));
  }
  // {} is an empty subject: it drops what "defaults" gave; null drops one attribute.
  if (v->child == NULL) {
    memset(e->subject, 0, sizeof(e->subject));
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, v) {
    size_t old = mh_json_push_key(c, it->string);
    int k = 0;
    while (k < MH_DN_NUM && strcmp(it->string, mh_dn_names[k]) != 0) {
      k++;
    }
    if (k == MH_DN_NUM) {
      return mh_json_fail(c, "unknown subject attribute (use C, ST, L, O, OU or CN)");
    }
    if (cJSON_IsNull(it)) {
      e->subject[k] = NULL;
      mh_json_pop(c, old);
      continue;
    }
    if (mh_json_get_string(c, it, &e->subject[k]) != 0) {
      return -1;
    }
    if (k == MH_DN_C && strlen(e->subject[k]) != 2) {
      return mh_json_fail(c, "a country must be a two-letter code such as \"ZA\"");
    }
    mh_json_pop(c, old);
  }
  return 0;
}

static int p_days(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  int64_t d;
  if (mh_json_get_int(c, v, 1, 73000, &d) != 0) {
    return -1;
  }
  e->not_before = 0;
  e->not_after = d * 86400;
  r->has_days = 1;
  return 0;
}

static int p_not_before(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                        struct praw *r) {
  (void)r;
  return get_duration(c, v, &e->not_before);
}

static int p_not_after(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                       struct praw *r) {
  r->has_not_after = 1;
  return get_duration(c, v, &e->not_after);
}

static int p_serial(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                    struct praw *r) {
  (void)r;
  int64_t s;
  if (mh_json_get_int(c, v, 1, (int64_t)MAX_SERIAL, &s) != 0) {
    return -1;
  }
  e->has_serial = 1;
  e->serial = (uint64_t)s;
  return 0;
}

static int p_version(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                     struct praw *r) {
  (void)r;
  int64_t n;
  if (mh_json_get_int(c, v, 1, 3, &n) != 0) {
    return -1;
  }
  if (n == 2) {
    return mh_json_fail(c, "x509_version must be 1 or 3");
  }
  e->x509_version = (int)n;
  return 0;
}

static int p_issuer(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                    struct praw *r) {
  (void)e;
  return mh_json_get_string(c, v, &r->issuer_name);
}

static int p_self_signed(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                         struct praw *r) {
  (void)e;
  return mh_json_get_bool(c, v, &r->self_signed);
}

static int p_path_len(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                      struct praw *r) {
  (void)r;
  int64_t n;
  if (mh_json_get_int(c, v, 0, 16, &n) != 0) {
    return -1;
  }
  e->path_len = (int)n;
  return 0;
}

static int p_dns(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  return mh_json_get_string_array(c, v, &e->dns, &e->num_dns);
}

static int p_ips(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  if (mh_json_get_string_array(c, v, &e->ips, &e->num_ips) != 0) {
    return -1;
  }
  for (size_t i = 0; i < e->num_ips; i++) {
    unsigned char buf[16];
    if (inet_pton(AF_INET, e->ips[i], buf) != 1 && inet_pton(AF_INET6, e->ips[i], buf) != 1) {
      size_t old = mh_json_push_index(c, i);
      mh_json_fail(c, "\"%s\" is not an IPv4 or IPv6 address", e->ips[i]);
      mh_json_pop(c, old);
      return -1;
    }
  }
  return 0;
}

// p_eku reads "eku"; [] drops the extension (an EKU "defaults" gave, for instance), since an empty
// extendedKeyUsage cannot be written (RFC 5280: at least one purpose).
static int p_eku(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  if (mh_json_get_keyword_mask(c, v, mh_eku_names, MH_EKU_NUM, &e->eku_mask) != 0) {
    return -1;
  }
  e->has_eku = e->eku_mask != 0;
  return 0;
}

// check_ia5 fails unless every name of |names| is ASCII without control characters (an IA5String
// SAN) and, when |need| is not NUL, holds that character: '@' for an e-mail address, ':' after a
// scheme for a URI.
static int check_ia5(struct mh_json_ctx *c, const char **names, size_t num, char need,
                     const char *what, const char *example) {
  for (size_t i = 0; i < num; i++) {
    const unsigned char *p = (const unsigned char *)names[i];
    size_t n = strlen(names[i]);
    int ok = n > 0 && strchr(names[i], need) != NULL;
    for (size_t k = 0; k < n && ok; k++) {
      ok = p[k] > 0x20 && p[k] < 0x7f;
    }
    if (ok && need == ':') {
      size_t scheme = strspn(names[i],
                             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "0123456789+-.");
      ok = scheme > 0 && names[i][scheme] == ':' && isalpha(p[0]);
    }
    if (!ok) {
      size_t old = mh_json_push_index(c, i);
      char shown[128];
      mh_json_fail(c, "\"%s\" is not %s (printable ASCII, no spaces; e.g. \"%s\")",
                   mh_printable_copy(shown, sizeof(shown), names[i]), what, example);
      mh_json_pop(c, old);
      return -1;
    }
  }
  return 0;
}

static int p_uris(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  return mh_json_get_string_array(c, v, &e->uris, &e->num_uris) != 0
             ? -1
             : check_ia5(c, e->uris, e->num_uris, ':', "a URI with a scheme",
                         "spiffe://example.org/ns/prod/sa/billing");
}

static int p_emails(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                    struct praw *r) {
  (void)r;
  return mh_json_get_string_array(c, v, &e->emails, &e->num_emails) != 0
             ? -1
             : check_ia5(c, e->emails, e->num_emails, '@', "an e-mail address", "ops@example.org");
}

static int p_key_usage(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                       struct praw *r) {
  (void)r;
  e->has_key_usage = 1;
  return mh_json_get_keyword_mask(c, v, mh_ku_names, MH_KU_NUM, &e->ku_mask);
}

static int p_key_mismatch(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                          struct praw *r) {
  (void)r;
  return mh_json_get_bool(c, v, &e->key_mismatch);
}

static int p_key_file(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                      struct praw *r) {
  (void)r;
  return get_rel_path(c, v, &e->key_file);
}

static int p_cert_file(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                       struct praw *r) {
  (void)r;
  return get_rel_path(c, v, &e->cert_file);
}

static int p_csr_file(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                      struct praw *r) {
  (void)r;
  return get_rel_path(c, v, &e->csr_file);
}

static int p_chain_file(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                        struct praw *r) {
  (void)r;
  return get_rel_path(c, v, &e->chain_file);
}

// Imported files: kept as written here, resolved against the spec's directory once every entity
// is parsed (resolve_imports).
static int p_import_cert(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                         struct praw *r) {
  (void)r;
  e->imported = 1;
  return mh_json_get_string(c, v, &e->import_cert);
}

static int p_import_key(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                        struct praw *r) {
  (void)r;
  return mh_json_get_string(c, v, &e->import_key);
}

static int p_import_chain(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                          struct praw *r) {
  (void)r;
  return mh_json_get_string(c, v, &e->import_chain);
}

static int p_passphrase_file(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                             struct praw *r) {
  (void)r;
  return mh_json_get_string(c, v, &e->passphrase_file);
}

static int p_passphrase_env(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                            struct praw *r) {
  (void)r;
  return mh_json_get_string(c, v, &e->passphrase_env);
}

static int p_revoked(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                     struct praw *r) {
  (void)r;
  return mh_json_get_bool(c, v, &e->revoked);
}

static int p_revocation_reason(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                               struct praw *r) {
  const char *name;
  r->revocation_detail = "revocation_reason";
  if (mh_json_get_string(c, v, &name) != 0) {
    return -1;
  }
  for (int i = 0; i < MH_CRL_REASON_NUM; i++) {
    if (strcmp(name, mh_crl_reason_names[i]) == 0) {
      e->revocation_reason = i;
      return 0;
    }
  }
  return mh_json_fail(c,
                      "unknown revocation reason \"%s\" (RFC 5280's names: unspecified, "
                      "keyCompromise, cACompromise, affiliationChanged, superseded, "
                      "cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise)",
                      name);
}

static int p_revoked_at(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                        struct praw *r) {
  r->revocation_detail = "revoked_at";
  if (get_duration(c, v, &e->revoked_at) != 0) {
    return -1;
  }
  return e->revoked_at <= 0 ? 0
                            : mh_json_fail(c,
                                           "a certificate is revoked now or in the past (give "
                                           "\"0\" or a negative offset such as \"-1h\")");
}

// p_crl reads a CA's "crl" object: {"next_update": DURATION, "extra_entries": N, "file": NAME}.
static int p_crl(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  if (cJSON_IsFalse(v)) {
    e->no_crl = 1;
    return 0;
  }
  if (!cJSON_IsObject(v)) {
    return mh_json_fail(c, "expected an object, or false for no CRL, found %s",
                        mh_json_type_name(v));
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, v) {
    size_t old = mh_json_push_key(c, it->string);
    int64_t n;
    int bad = 0;
    if (strcmp(it->string, "next_update") == 0) {
      bad = get_duration(c, it, &e->crl_next_update);
    } else if (strcmp(it->string, "extra_entries") == 0) {
      bad = mh_json_get_int(c, it, 0, 1000000, &n);
      e->crl_extra_entries = (uint32_t)n;
    } else if (strcmp(it->string, "file") == 0) {
      bad = get_rel_path(c, it, &e->crl_file);
    } else {
      return mh_json_fail(c, "unknown key (a CA's \"crl\" has next_update, extra_entries, file)");
    }
    if (bad != 0) {
      return -1;
    }
    mh_json_pop(c, old);
  }
  return 0;
}

static int p_import_crl(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_entity *e,
                        struct praw *r) {
  (void)r;
  return mh_json_get_string(c, v, &e->import_crl);
}

static const struct efield entity_fields[] = {
    {"name", "", IN_CA | IN_ID, 0, p_name},
    {"key", "", IN_CA | IN_ID | IN_DEF, 1, p_key},
    {"subject", "", IN_CA | IN_ID | IN_DEF, 1, p_subject},
    {"days", "", IN_CA | IN_ID | IN_DEF, 1, p_days},
    {"not_before", "", IN_CA | IN_ID | IN_DEF, 1, p_not_before},
    {"not_after", "", IN_CA | IN_ID | IN_DEF, 1, p_not_after},
    {"serial", "", IN_CA | IN_ID, 1, p_serial},
    {"x509_version", "", IN_ID | IN_DEF, 1, p_version},
    {"issuer", "", IN_CA, 1, p_issuer},
    {"ca", "", IN_ID | IN_DEF, 1, p_issuer},
    {"self_signed", "", IN_ID, 1, p_self_signed},
    {"path_len", "", IN_CA, 1, p_path_len},
    {"dns", "[]", IN_ID | IN_DEF, 1, p_dns},
    {"ips", "[]", IN_ID | IN_DEF, 1, p_ips},
    {"uris", "[]", IN_ID | IN_DEF, 1, p_uris},
    {"emails", "[]", IN_ID | IN_DEF, 1, p_emails},
    {"eku", "[]", IN_ID | IN_DEF, 1, p_eku},
    {"key_usage", "[]", IN_CA | IN_ID | IN_DEF, 1, p_key_usage},
    {"key_mismatch", "", IN_ID, 0, p_key_mismatch},
    {"key_file", "", IN_CA | IN_ID, 0, p_key_file},
    {"cert_file", "", IN_CA | IN_ID, 0, p_cert_file},
    {"csr_file", "", IN_CA | IN_ID, 1, p_csr_file},
    {"chain_file", "", IN_ID, 0, p_chain_file},
    {"import_cert", "", IN_CA | IN_ID, 0, p_import_cert},
    {"import_key", "", IN_CA | IN_ID, 0, p_import_key},
    {"import_chain", "", IN_ID, 0, p_import_chain},
    {"passphrase_file", "", IN_CA | IN_ID, 0, p_passphrase_file},
    {"passphrase_env", "", IN_CA | IN_ID, 0, p_passphrase_env},
    {"revoked", "", IN_CA | IN_ID, 1, p_revoked},
    {"revocation_reason", "", IN_CA | IN_ID, 1, p_revocation_reason},
    {"revoked_at", "", IN_CA | IN_ID, 1, p_revoked_at},
    {"crl", "", IN_CA, 1, p_crl},
    {"import_crl", "", IN_CA, 0, p_import_crl},
};
#define NUM_ENTITY_FIELDS (sizeof(entity_fields) / sizeof(entity_fields[0]))

static const char *where_name(unsigned where) {
  return where == IN_CA ? "a CA" : where == IN_ID ? "an identity" : "\"defaults\"";
}

// check_import_keys refuses, beside "import_cert", the keys that describe a certificate to issue
// (an imported one is used as it is), and the other import keys without it.
static int check_import_keys(struct mh_json_ctx *c, const cJSON *obj) {
  int imported = cJSON_GetObjectItemCaseSensitive(obj, "import_cert") != NULL;
  const cJSON *it;
  cJSON_ArrayForEach(it, obj) {
    size_t k = 0;
    while (strcmp(it->string, entity_fields[k].key) != 0) {
      k++;  // every key was matched by the caller
    }
    int import_key =
        strncmp(it->string, "import_", 7) == 0 || strncmp(it->string, "passph", 6) == 0;
    if ((imported && entity_fields[k].issues) || (!imported && import_key)) {
      size_t old = mh_json_push_key(c, it->string);
      return imported ? mh_json_fail(c,
                                     "an imported certificate is used as it is (remove \"%s\", or "
                                     "remove \"import_cert\" to issue a certificate here)",
                                     it->string)
                      : mh_json_fail(c,
                                     "only an imported entity has this key (add \"import_cert\": "
                                     "the path of its certificate)");
      mh_json_pop(c, old);
    }
  }
  return 0;
}

// parse_entity_fields fills |e| and |r| from the object |obj| declared in context |where|.
static int parse_entity_fields(struct mh_json_ctx *c, const cJSON *obj, unsigned where,
                               struct mh_pki_entity *e, struct praw *r) {
  if (!cJSON_IsObject(obj)) {
    return mh_json_fail(c, "expected an object, found %s", mh_json_type_name(obj));
  }
  struct praw seen = {0};
  const cJSON *it;
  cJSON_ArrayForEach(it, obj) {
    size_t old = mh_json_push_key(c, it->string);
    size_t k = 0;
    while (k < NUM_ENTITY_FIELDS && strcmp(it->string, entity_fields[k].key) != 0) {
      k++;
    }
    if (k == NUM_ENTITY_FIELDS) {
      return mh_json_fail(c, "unknown key (see docs/pki-spec.md for the keys of %s)",
                          where_name(where));
    }
    if ((entity_fields[k].where & where) == 0) {
      return mh_json_fail(c, "not allowed in %s (see docs/pki-spec.md)", where_name(where));
    }
    if (entity_fields[k].parse(c, it, e, &seen) != 0) {
      return -1;
    }
    mh_json_pop(c, old);
  }
  if (where != IN_DEF && check_import_keys(c, obj) != 0) {
    return -1;
  }
  if (seen.has_days &&
      (cJSON_GetObjectItemCaseSensitive(obj, "not_before") != NULL || seen.has_not_after)) {
    size_t old = mh_json_push_key(c, "days");
    mh_json_fail(c, "give either \"days\" or \"not_before\"/\"not_after\", not both");
    mh_json_pop(c, old);
    return -1;
  }
  if (seen.self_signed && seen.issuer_name != NULL) {
    size_t old = mh_json_push_key(c, "self_signed");
    mh_json_fail(c, "a self-signed identity has no \"ca\" (remove one of them)");
    mh_json_pop(c, old);
    return -1;
  }
  // An identity's own "self_signed": true overrides a "ca" inherited from "defaults".
  if (cJSON_GetObjectItemCaseSensitive(obj, "self_signed") != NULL) {
    r->self_signed = seen.self_signed;
    if (seen.self_signed) {
      r->issuer_name = NULL;
    }
  }
  if (seen.issuer_name != NULL) {
    r->issuer_name = seen.issuer_name;
  }
  if (seen.revocation_detail != NULL) {
    r->revocation_detail = seen.revocation_detail;
  }
  return 0;
}

static void entity_defaults(struct mh_pki_entity *e, int is_ca) {
  memset(e, 0, sizeof(*e));
  e->is_ca = is_ca;
  e->key_type = MH_KEY_ECDSA_P256;
  e->not_before = 0;
  e->not_after = (int64_t)(is_ca ? 1825 : 90) * 86400;
  e->x509_version = 3;
  e->issuer = -1;
  e->path_len = -1;
  e->revocation_reason = -1;
  e->crl_next_update = (int64_t)7 * 86400;
}

// parse_entities parses the array |arr| (key |key| of the top object) into |out| from index
// |first|.
static int parse_entities(struct mh_json_ctx *c, const cJSON *arr, const char *key, int is_ca,
                          const struct mh_pki_entity *tmpl, const struct praw *tmpl_raw,
                          struct mh_pki_entity *out, struct praw *raws) {
  size_t old = mh_json_push_key(c, key);
  if (!cJSON_IsArray(arr)) {
    return mh_json_fail(c, "expected an array of objects, found %s", mh_json_type_name(arr));
  }
  size_t i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, arr) {
    size_t old_i = mh_json_push_index(c, i);
    struct mh_pki_entity *e = &out[i];
    if (tmpl != NULL) {
      *e = *tmpl;
      raws[i] = *tmpl_raw;
    } else {
      entity_defaults(e, is_ca);
    }
    e->json_path = mh_arena_strdup(c->a, c->path);
    if (e->json_path == NULL) {
      return mh_json_fail(c, "out of memory");
    }
    if (parse_entity_fields(c, it, is_ca ? IN_CA : IN_ID, e, &raws[i]) != 0) {
      return -1;
    }
    if (e->name == NULL) {
      return mh_json_fail(c, "\"name\" is required");
    }
    mh_json_pop(c, old_i);
    i++;
  }
  mh_json_pop(c, old);
  return 0;
}

// --- zips ---

struct zfield {
  const char *key;
  const char *doc;
  int (*parse)(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_zip *z);
};

static int z_file(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_zip *z) {
  return get_rel_path(c, v, &z->file);
}

static int z_members(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_zip *z) {
  if (mh_json_get_string_array(c, v, &z->members, &z->num_members) != 0) {
    return -1;
  }
  return z->num_members > 0 ? 0 : mh_json_fail(c, "a zip needs at least one member");
}

static int z_readme(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_zip *z) {
  return mh_json_get_bool(c, v, &z->readme);
}

static int z_title(struct mh_json_ctx *c, const cJSON *v, struct mh_pki_zip *z) {
  return mh_json_get_string(c, v, &z->title);
}

static const struct zfield zip_fields[] = {
    {"file", "", z_file},
    {"members", "[]", z_members},
    {"readme", "", z_readme},
    {"title", "", z_title},
};
#define NUM_ZIP_FIELDS (sizeof(zip_fields) / sizeof(zip_fields[0]))

static int parse_zips(struct mh_json_ctx *c, const cJSON *arr, struct mh_pki_zip *out) {
  size_t old = mh_json_push_key(c, "zips");
  if (!cJSON_IsArray(arr)) {
    return mh_json_fail(c, "expected an array of objects, found %s", mh_json_type_name(arr));
  }
  size_t i = 0;
  const cJSON *zj;
  cJSON_ArrayForEach(zj, arr) {
    size_t old_i = mh_json_push_index(c, i);
    struct mh_pki_zip *z = &out[i];
    z->json_path = mh_arena_strdup(c->a, c->path);
    if (z->json_path == NULL) {
      return mh_json_fail(c, "out of memory");
    }
    if (!cJSON_IsObject(zj)) {
      return mh_json_fail(c, "expected an object, found %s", mh_json_type_name(zj));
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, zj) {
      size_t old_k = mh_json_push_key(c, it->string);
      size_t k = 0;
      while (k < NUM_ZIP_FIELDS && strcmp(it->string, zip_fields[k].key) != 0) {
        k++;
      }
      if (k == NUM_ZIP_FIELDS) {
        return mh_json_fail(c, "unknown key (a zip has file, members, readme, title)");
      }
      if (zip_fields[k].parse(c, it, z) != 0) {
        return -1;
      }
      mh_json_pop(c, old_k);
    }
    if (z->file == NULL) {
      return mh_json_fail(c, "\"file\" is required");
    }
    if (z->members == NULL) {
      return mh_json_fail(c, "\"members\" is required");
    }
    mh_json_pop(c, old_i);
    i++;
  }
  mh_json_pop(c, old);
  return 0;
}

// pki_spec_output_owner finds which entity writes |path| and whether it is that entity's key.
const struct mh_pki_entity *pki_spec_output_owner(const struct mh_pki_spec *s, const char *path,
                                                  int *out_is_key) {
  for (size_t i = 0; i < s->num_entities; i++) {
    const struct mh_pki_entity *e = &s->entities[i];
    const char *files[] = {e->key_file, e->cert_file, e->csr_file, e->chain_file, e->crl_file};
    for (size_t k = 0; k < 5; k++) {
      if (files[k] != NULL && strcmp(files[k], path) == 0) {
        *out_is_key = k == 0;
        return e;
      }
    }
  }
  return NULL;
}

int mh_pki_spec_writes(const struct mh_pki_spec *s, const char *path) {
  int is_key;
  return pki_spec_output_owner(s, path, &is_key) != NULL;
}

const struct mh_pki_entity *mh_pki_spec_owner(const struct mh_pki_spec *s, const char *path) {
  int is_key;
  return pki_spec_output_owner(s, path, &is_key);
}

// pki_spec_imported_file returns the imported file behind name |path| of |e|, or NULL if that name
// is a file generated into the output directory.
const char *pki_spec_imported_file(const struct mh_pki_entity *e, const char *path) {
  if (!e->imported) {
    return NULL;
  }
  if (strcmp(e->cert_file, path) == 0) {
    return e->import_cert;
  }
  if (e->chain_file != NULL && strcmp(e->chain_file, path) == 0) {
    return e->import_chain;
  }
  if (e->crl_file != NULL && strcmp(e->crl_file, path) == 0) {
    return e->import_crl;  // NULL: a CRL generated with the imported CA's key
  }
  return mh_pki_key_decrypted(e) ? NULL : e->import_key;
}

void mh_pki_spec_file(const struct mh_pki_spec *s, const char *out_dir, const char *name, char *out,
                      size_t out_len) {
  int is_key;
  const struct mh_pki_entity *e = pki_spec_output_owner(s, name, &is_key);
  const char *imported = e != NULL ? pki_spec_imported_file(e, name) : NULL;
  if (imported != NULL) {
    snprintf(out, out_len, "%s", imported);
  } else {
    snprintf(out, out_len, "%s/%s", out_dir, name);
  }
}

static const char *const top_keys[] = {"spec_version", "description", "defaults",
                                       "cas",          "identities",  "zips"};

static int parse_spec_doc(struct mh_json_ctx *c, const cJSON *root, struct mh_pki_spec *out) {
  if (!cJSON_IsObject(root)) {
    return mh_json_fail(c, "the spec must be a JSON object, found %s", mh_json_type_name(root));
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, root) {
    size_t k = 0;
    while (k < sizeof(top_keys) / sizeof(top_keys[0]) && strcmp(it->string, top_keys[k]) != 0) {
      k++;
    }
    if (k == sizeof(top_keys) / sizeof(top_keys[0])) {
      size_t old = mh_json_push_key(c, it->string);
      mh_json_fail(
          c, "unknown key (a spec has spec_version, description, defaults, cas, identities, zips)");
      mh_json_pop(c, old);
      return -1;
    }
  }
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "spec_version");
  if (ver != NULL) {
    size_t old = mh_json_push_key(c, "spec_version");
    int64_t v;
    if (mh_json_get_int(c, ver, SPEC_VERSION, SPEC_VERSION, &v) != 0) {
      return -1;
    }
    mh_json_pop(c, old);
  }
  const cJSON *desc = cJSON_GetObjectItemCaseSensitive(root, "description");
  if (desc != NULL && !cJSON_IsString(desc)) {
    size_t old = mh_json_push_key(c, "description");
    mh_json_fail(c, "expected a string, found %s", mh_json_type_name(desc));
    mh_json_pop(c, old);
    return -1;
  }
  const cJSON *cas = cJSON_GetObjectItemCaseSensitive(root, "cas");
  const cJSON *ids = cJSON_GetObjectItemCaseSensitive(root, "identities");
  const cJSON *defs = cJSON_GetObjectItemCaseSensitive(root, "defaults");
  const cJSON *zips = cJSON_GetObjectItemCaseSensitive(root, "zips");
  size_t n_cas = cJSON_IsArray(cas) ? (size_t)cJSON_GetArraySize(cas) : 0;
  size_t n_ids = cJSON_IsArray(ids) ? (size_t)cJSON_GetArraySize(ids) : 0;
  size_t n_zips = cJSON_IsArray(zips) ? (size_t)cJSON_GetArraySize(zips) : 0;
  if (n_cas + n_ids == 0 && cas == NULL && ids == NULL) {
    return mh_json_fail(c, "the spec declares nothing (add \"cas\" and \"identities\")");
  }
  out->entities = mh_arena_alloc_array(c->a, n_cas + n_ids + 1, sizeof(*out->entities));
  struct praw *raws = mh_arena_alloc_array(c->a, n_cas + n_ids + 1, sizeof(*raws));
  out->zips = mh_arena_alloc_array(c->a, n_zips + 1, sizeof(*out->zips));
  if (out->entities == NULL || raws == NULL || out->zips == NULL) {
    return mh_json_fail(c, "out of memory");
  }
  if (cas != NULL && parse_entities(c, cas, "cas", 1, NULL, NULL, out->entities, raws) != 0) {
    return -1;
  }
  struct mh_pki_entity tmpl;
  struct praw tmpl_raw = {0};
  entity_defaults(&tmpl, 0);
  if (defs != NULL) {
    size_t old = mh_json_push_key(c, "defaults");
    if (parse_entity_fields(c, defs, IN_DEF, &tmpl, &tmpl_raw) != 0) {
      return -1;
    }
    mh_json_pop(c, old);
  }
  if (ids != NULL && parse_entities(c, ids, "identities", 0, &tmpl, &tmpl_raw,
                                    out->entities + n_cas, raws + n_cas) != 0) {
    return -1;
  }
  if (zips != NULL && parse_zips(c, zips, out->zips) != 0) {
    return -1;
  }
  out->num_cas = n_cas;
  out->num_entities = n_cas + n_ids;
  out->num_zips = n_zips;
  if (pki_spec_resolve(c, out, raws) != 0) {
    return -1;
  }
  return pki_spec_check_outputs(c, out);
}

int mh_pki_spec_parse(struct mh_arena *a, const char *name, const char *text, size_t len,
                      struct mh_pki_spec *out, struct mh_err *err) {
  struct mh_json_ctx c;
  mh_json_ctx_init(&c, a, name, err);
  memset(out, 0, sizeof(*out));
  out->file = mh_arena_strdup(a, name);
  if (out->file == NULL) {
    return mh_json_fail(&c, "out of memory");
  }
  cJSON *root = mh_json_parse(&c, text, len);
  if (root == NULL) {
    return -1;
  }
  int ret = parse_spec_doc(&c, root, out);
  cJSON_Delete(root);
  return ret;
}

int mh_pki_spec_load(struct mh_arena *a, const char *path, struct mh_pki_spec *out,
                     struct mh_err *err) {
  char *text;
  size_t len;
  if (mh_json_read_file(path, "spec", &text, &len, err) != 0) {
    return -1;
  }
  int ret = mh_pki_spec_parse(a, path, text, len, out, err);
  free(text);
  return ret;
}

void mh_pki_spec_print_keys(FILE *out) {
  for (size_t i = 0; i < sizeof(top_keys) / sizeof(top_keys[0]); i++) {
    fprintf(out, "$.%s\n", top_keys[i]);
  }
  static const struct {
    unsigned where;
    const char *prefix;
  } objs[] = {{IN_CA, "$.cas[]."}, {IN_DEF, "$.defaults."}, {IN_ID, "$.identities[]."}};
  for (size_t o = 0; o < sizeof(objs) / sizeof(objs[0]); o++) {
    for (size_t k = 0; k < NUM_ENTITY_FIELDS; k++) {
      if ((entity_fields[k].where & objs[o].where) == 0) {
        continue;
      }
      fprintf(out, "%s%s%s\n", objs[o].prefix, entity_fields[k].key, entity_fields[k].doc);
      if (entity_fields[k].parse == p_crl) {
        fprintf(out, "%scrl.next_update\n%scrl.extra_entries\n%scrl.file\n", objs[o].prefix,
                objs[o].prefix, objs[o].prefix);
      }
      if (entity_fields[k].parse == p_subject) {
        for (int d = 0; d < MH_DN_NUM; d++) {
          fprintf(out, "%ssubject.%s\n", objs[o].prefix, mh_dn_names[d]);
        }
      }
    }
  }
  for (size_t k = 0; k < NUM_ZIP_FIELDS; k++) {
    fprintf(out, "$.zips[].%s%s\n", zip_fields[k].key, zip_fields[k].doc);
  }
}

int mh_pki_spec_entity(const struct mh_pki_spec *spec, const char *name) {
  for (size_t i = 0; i < spec->num_entities; i++) {
    if (strcmp(spec->entities[i].name, name) == 0) {
      return (int)i;
    }
  }
  return -1;
}
