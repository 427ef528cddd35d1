// scenario: JSON input documents into plain data (see scenario.h).
//
// The fixture spec is our own format, so it is strict: an unknown key is an error (a typo must not
// silently produce a different PKI). Each object kind has one table of accepted keys; the same
// tables drive parsing and mh_pki_spec_print_keys, so the documentation test sees exactly what the
// parser accepts.
#include "input/scenario.h"

#include "base/outcomes.h"

#include <arpa/inet.h>
#include <regex.h>
#include <strings.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SPEC_VERSION 1
#define MAX_DOC_BYTES (16 * 1024 * 1024)
#define MAX_DURATION_S ((int64_t)200 * 366 * 86400)
#define MAX_SERIAL ((uint64_t)1 << 53)  // exact in a JSON number

// pctx is the parser's position: the document, the JSON path of the value being parsed, and where
// errors go.
struct pctx {
  struct mh_arena *a;
  const char *file;
  char path[256];
  size_t path_len;
  struct mh_err *err;
};

static int fail(struct pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct pctx *c, const char *fmt, ...) {
  char msg[MH_ERR_LEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return mh_err_set(c->err, "%s: %s: %s", c->file, c->path, msg);
}

// push_key / push_index extend the JSON path and return the old length, for pop().
static size_t push_key(struct pctx *c, const char *key) {
  size_t old = c->path_len;
  int n = snprintf(c->path + old, sizeof(c->path) - old, ".%s", key);
  if (n > 0) {
    c->path_len = old + (size_t)n < sizeof(c->path) ? old + (size_t)n : sizeof(c->path) - 1;
  }
  return old;
}

static size_t push_index(struct pctx *c, size_t i) {
  size_t old = c->path_len;
  int n = snprintf(c->path + old, sizeof(c->path) - old, "[%zu]", i);
  if (n > 0) {
    c->path_len = old + (size_t)n < sizeof(c->path) ? old + (size_t)n : sizeof(c->path) - 1;
  }
  return old;
}

static void pop(struct pctx *c, size_t old) {
  c->path_len = old;
  c->path[old] = '\0';
}

static const char *json_type_name(const cJSON *v) {
  if (cJSON_IsString(v)) {
    return "a string";
  }
  if (cJSON_IsNumber(v)) {
    return "a number";
  }
  if (cJSON_IsBool(v)) {
    return "a boolean";
  }
  if (cJSON_IsNull(v)) {
    return "null";
  }
  if (cJSON_IsArray(v)) {
    return "an array";
  }
  return "an object";
}

// --- typed getters: each checks the JSON type and reports at the current path ---

static int get_string(struct pctx *c, const cJSON *v, const char **out) {
  if (!cJSON_IsString(v) || v->valuestring == NULL) {
    return fail(c, "expected a string, found %s", json_type_name(v));
  }
  if (v->valuestring[0] == '\0') {
    return fail(c, "must not be empty");
  }
  *out = mh_arena_strdup(c->a, v->valuestring);
  return *out != NULL ? 0 : fail(c, "out of memory");
}

static int get_bool(struct pctx *c, const cJSON *v, int *out) {
  if (!cJSON_IsBool(v)) {
    return fail(c, "expected true or false, found %s", json_type_name(v));
  }
  *out = cJSON_IsTrue(v);
  return 0;
}

static int get_int(struct pctx *c, const cJSON *v, int64_t lo, int64_t hi, int64_t *out) {
  // Defined on every path: the optimiser cannot see that fail() always returns -1.
  *out = 0;
  if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble)) {
    return fail(c, "expected a whole number from %lld to %lld, found %s", (long long)lo,
                (long long)hi, cJSON_IsNumber(v) ? "a fraction" : json_type_name(v));
  }
  if (v->valuedouble < (double)lo || v->valuedouble > (double)hi) {
    return fail(c, "%.0f is out of range (use %lld to %lld)", v->valuedouble, (long long)lo,
                (long long)hi);
  }
  *out = (int64_t)v->valuedouble;
  return 0;
}

// get_string_array parses a non-empty array of non-empty strings.
static int get_string_array(struct pctx *c, const cJSON *v, const char ***out, size_t *out_num) {
  if (!cJSON_IsArray(v)) {
    return fail(c, "expected an array of strings, found %s", json_type_name(v));
  }
  size_t n = (size_t)cJSON_GetArraySize(v);
  const char **arr = mh_arena_alloc_array(c->a, n ? n : 1, sizeof(*arr));
  if (arr == NULL) {
    return fail(c, "out of memory");
  }
  size_t i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, v) {
    size_t old = push_index(c, i);
    if (get_string(c, it, &arr[i]) != 0) {
      return -1;
    }
    pop(c, old);
    i++;
  }
  *out = arr;
  *out_num = n;
  return 0;
}

// join_names writes |names| separated by ", " into |out|.
static void join_names(char *out, size_t out_len, const char *const *names, size_t num) {
  out[0] = '\0';
  for (size_t j = 0; j < num; j++) {
    strncat(out, j ? ", " : "", out_len - strlen(out) - 1);
    strncat(out, names[j], out_len - strlen(out) - 1);
  }
}

// get_keyword_mask parses an array of keywords from |names| into a bit mask.
static int get_keyword_mask(struct pctx *c, const cJSON *v, const char *const *names, size_t num,
                            unsigned *out) {
  const char **arr;
  size_t n;
  if (get_string_array(c, v, &arr, &n) != 0) {
    return -1;
  }
  unsigned mask = 0;
  for (size_t i = 0; i < n; i++) {
    size_t k = 0;
    while (k < num && strcmp(arr[i], names[k]) != 0) {
      k++;
    }
    if (k == num) {
      char known[256];
      join_names(known, sizeof(known), names, num);
      size_t old = push_index(c, i);
      fail(c, "unknown value \"%s\" (use one of: %s)", arr[i], known);
      pop(c, old);
      return -1;
    }
    mask |= 1u << k;
  }
  *out = mask;
  return 0;
}

int mh_scenario_parse_duration(const char *s, int64_t *out_seconds) {
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

static int get_duration(struct pctx *c, const cJSON *v, int64_t *out) {
  const char *s;
  if (get_string(c, v, &s) != 0) {
    return -1;
  }
  if (mh_scenario_parse_duration(s, out) != 0) {
    return fail(c,
                "bad duration \"%s\" (use a signed offset from generation time such as \"90d\", "
                "\"-1h\", \"1d12h\"; units s, m, h, d, w)",
                s);
  }
  return 0;
}

// get_rel_path checks that an output path stays below the output directory.
static int get_rel_path(struct pctx *c, const cJSON *v, const char **out) {
  if (get_string(c, v, out) != 0) {
    return -1;
  }
  const char *p = *out;
  if (p[0] == '/' || strcmp(p, "..") == 0 || strncmp(p, "../", 3) == 0 ||
      strstr(p, "/../") != NULL || (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0)) {
    return fail(c, "\"%s\" must be a relative path below the output directory (no leading / or ..)",
                p);
  }
  if (p[strlen(p) - 1] == '/') {
    return fail(c, "\"%s\" names a directory; give a file name", p);
  }
  return 0;
}

static int check_name(struct pctx *c, const char *name) {
  for (const char *p = name; *p; p++) {
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '-' || *p == '_' || *p == '.')) {
      return fail(c, "\"%s\" may contain only letters, digits, '-', '_' and '.'", name);
    }
  }
  return 0;
}

// --- entities (CAs, identities, identity defaults) ---

// Where a key is accepted.
#define IN_CA 1u
#define IN_ID 2u
#define IN_DEF 4u

// praw holds what an entity declared before references are resolved.
struct praw {
  const char *issuer_name;  // "issuer" of a CA, "ca" of an identity
  int self_signed;
  int has_days;
  int has_not_after;
};

struct efield {
  const char *key;
  const char *doc;  // the JSON path suffix for mh_pki_spec_print_keys ("" or "[]" or ".C" ...)
  unsigned where;
  int (*parse)(struct pctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r);
};

static int p_name(struct pctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  return get_string(c, v, &e->name) != 0 ? -1 : check_name(c, e->name);
}

static int p_key(struct pctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  const char *s;
  if (get_string(c, v, &s) != 0) {
    return -1;
  }
  for (int i = 0; i < MH_KEY_NUM; i++) {
    if (strcmp(s, mh_key_type_names[i]) == 0) {
      e->key_type = (enum mh_key_type)i;
      return 0;
    }
  }
  char known[256];
  join_names(known, sizeof(known), mh_key_type_names, MH_KEY_NUM);
  return fail(c, "unknown key type \"%s\" (use one of: %s)", s, known);
}

static int p_subject(struct pctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  if (!cJSON_IsObject(v)) {
    return fail(c, "expected an object such as {\"CN\": \"host.example\"}, found %s",
                json_type_name(v));
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, v) {
    size_t old = push_key(c, it->string);
    int k = 0;
    while (k < MH_DN_NUM && strcmp(it->string, mh_dn_names[k]) != 0) {
      k++;
    }
    if (k == MH_DN_NUM) {
      return fail(c, "unknown subject attribute (use C, ST, L, O, OU or CN)");
    }
    if (get_string(c, it, &e->subject[k]) != 0) {
      return -1;
    }
    if (k == MH_DN_C && strlen(e->subject[k]) != 2) {
      return fail(c, "a country must be a two-letter code such as \"ZA\"");
    }
    pop(c, old);
  }
  return 0;
}

static int p_days(struct pctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  int64_t d;
  if (get_int(c, v, 1, 73000, &d) != 0) {
    return -1;
  }
  e->not_before = 0;
  e->not_after = d * 86400;
  r->has_days = 1;
  return 0;
}

static int p_not_before(struct pctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  return get_duration(c, v, &e->not_before);
}

static int p_not_after(struct pctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  r->has_not_after = 1;
  return get_duration(c, v, &e->not_after);
}

static int p_serial(struct pctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  int64_t s;
  if (get_int(c, v, 1, (int64_t)MAX_SERIAL, &s) != 0) {
    return -1;
  }
  e->has_serial = 1;
  e->serial = (uint64_t)s;
  return 0;
}

static int p_version(struct pctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  int64_t n;
  if (get_int(c, v, 1, 3, &n) != 0) {
    return -1;
  }
  if (n == 2) {
    return fail(c, "x509_version must be 1 or 3");
  }
  e->x509_version = (int)n;
  return 0;
}

static int p_issuer(struct pctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)e;
  return get_string(c, v, &r->issuer_name);
}

static int p_self_signed(struct pctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)e;
  return get_bool(c, v, &r->self_signed);
}

static int p_path_len(struct pctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  int64_t n;
  if (get_int(c, v, 0, 16, &n) != 0) {
    return -1;
  }
  e->path_len = (int)n;
  return 0;
}

static int p_dns(struct pctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  return get_string_array(c, v, &e->dns, &e->num_dns);
}

static int p_ips(struct pctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  if (get_string_array(c, v, &e->ips, &e->num_ips) != 0) {
    return -1;
  }
  for (size_t i = 0; i < e->num_ips; i++) {
    unsigned char buf[16];
    if (inet_pton(AF_INET, e->ips[i], buf) != 1 && inet_pton(AF_INET6, e->ips[i], buf) != 1) {
      size_t old = push_index(c, i);
      fail(c, "\"%s\" is not an IPv4 or IPv6 address", e->ips[i]);
      pop(c, old);
      return -1;
    }
  }
  return 0;
}

static int p_eku(struct pctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  e->has_eku = 1;
  if (get_keyword_mask(c, v, mh_eku_names, MH_EKU_NUM, &e->eku_mask) != 0) {
    return -1;
  }
  if (e->eku_mask == 0) {
    return fail(c, "an empty extendedKeyUsage is invalid; omit \"eku\" for no extension");
  }
  return 0;
}

static int p_key_usage(struct pctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  e->has_key_usage = 1;
  return get_keyword_mask(c, v, mh_ku_names, MH_KU_NUM, &e->ku_mask);
}

static int p_key_mismatch(struct pctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  return get_bool(c, v, &e->key_mismatch);
}

static int p_key_file(struct pctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  return get_rel_path(c, v, &e->key_file);
}

static int p_cert_file(struct pctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  return get_rel_path(c, v, &e->cert_file);
}

static int p_csr_file(struct pctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  return get_rel_path(c, v, &e->csr_file);
}

static int p_chain_file(struct pctx *c, const cJSON *v, struct mh_pki_entity *e, struct praw *r) {
  (void)r;
  return get_rel_path(c, v, &e->chain_file);
}

static const struct efield entity_fields[] = {
    {"name", "", IN_CA | IN_ID, p_name},
    {"key", "", IN_CA | IN_ID | IN_DEF, p_key},
    {"subject", "", IN_CA | IN_ID | IN_DEF, p_subject},
    {"days", "", IN_CA | IN_ID | IN_DEF, p_days},
    {"not_before", "", IN_CA | IN_ID | IN_DEF, p_not_before},
    {"not_after", "", IN_CA | IN_ID | IN_DEF, p_not_after},
    {"serial", "", IN_CA | IN_ID, p_serial},
    {"x509_version", "", IN_ID | IN_DEF, p_version},
    {"issuer", "", IN_CA, p_issuer},
    {"ca", "", IN_ID | IN_DEF, p_issuer},
    {"self_signed", "", IN_ID, p_self_signed},
    {"path_len", "", IN_CA, p_path_len},
    {"dns", "[]", IN_ID | IN_DEF, p_dns},
    {"ips", "[]", IN_ID | IN_DEF, p_ips},
    {"eku", "[]", IN_ID | IN_DEF, p_eku},
    {"key_usage", "[]", IN_CA | IN_ID | IN_DEF, p_key_usage},
    {"key_mismatch", "", IN_ID, p_key_mismatch},
    {"key_file", "", IN_CA | IN_ID, p_key_file},
    {"cert_file", "", IN_CA | IN_ID, p_cert_file},
    {"csr_file", "", IN_CA | IN_ID, p_csr_file},
    {"chain_file", "", IN_ID, p_chain_file},
};
#define NUM_ENTITY_FIELDS (sizeof(entity_fields) / sizeof(entity_fields[0]))

static const char *where_name(unsigned where) {
  return where == IN_CA ? "a CA" : where == IN_ID ? "an identity" : "\"defaults\"";
}

// parse_entity_fields fills |e| and |r| from the object |obj| declared in context |where|.
static int parse_entity_fields(struct pctx *c, const cJSON *obj, unsigned where,
                               struct mh_pki_entity *e, struct praw *r) {
  if (!cJSON_IsObject(obj)) {
    return fail(c, "expected an object, found %s", json_type_name(obj));
  }
  struct praw seen = {0};
  const cJSON *it;
  cJSON_ArrayForEach(it, obj) {
    size_t old = push_key(c, it->string);
    size_t k = 0;
    while (k < NUM_ENTITY_FIELDS && strcmp(it->string, entity_fields[k].key) != 0) {
      k++;
    }
    if (k == NUM_ENTITY_FIELDS) {
      return fail(c, "unknown key (see docs/pki-spec.md for the keys of %s)", where_name(where));
    }
    if ((entity_fields[k].where & where) == 0) {
      return fail(c, "not allowed in %s (see docs/pki-spec.md)", where_name(where));
    }
    if (entity_fields[k].parse(c, it, e, &seen) != 0) {
      return -1;
    }
    pop(c, old);
  }
  if (seen.has_days &&
      (cJSON_GetObjectItemCaseSensitive(obj, "not_before") != NULL || seen.has_not_after)) {
    size_t old = push_key(c, "days");
    fail(c, "give either \"days\" or \"not_before\"/\"not_after\", not both");
    pop(c, old);
    return -1;
  }
  if (seen.self_signed && seen.issuer_name != NULL) {
    size_t old = push_key(c, "self_signed");
    fail(c, "a self-signed identity has no \"ca\" (remove one of them)");
    pop(c, old);
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
}

// parse_entities parses the array |arr| (key |key| of the top object) into |out| from index
// |first|.
static int parse_entities(struct pctx *c, const cJSON *arr, const char *key, int is_ca,
                          const struct mh_pki_entity *tmpl, const struct praw *tmpl_raw,
                          struct mh_pki_entity *out, struct praw *raws) {
  size_t old = push_key(c, key);
  if (!cJSON_IsArray(arr)) {
    return fail(c, "expected an array of objects, found %s", json_type_name(arr));
  }
  size_t i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, arr) {
    size_t old_i = push_index(c, i);
    struct mh_pki_entity *e = &out[i];
    if (tmpl != NULL) {
      *e = *tmpl;
      raws[i] = *tmpl_raw;
    } else {
      entity_defaults(e, is_ca);
    }
    e->json_path = mh_arena_strdup(c->a, c->path);
    if (e->json_path == NULL) {
      return fail(c, "out of memory");
    }
    if (parse_entity_fields(c, it, is_ca ? IN_CA : IN_ID, e, &raws[i]) != 0) {
      return -1;
    }
    if (e->name == NULL) {
      return fail(c, "\"name\" is required");
    }
    pop(c, old_i);
    i++;
  }
  pop(c, old);
  return 0;
}

// --- zips ---

struct zfield {
  const char *key;
  const char *doc;
  int (*parse)(struct pctx *c, const cJSON *v, struct mh_pki_zip *z);
};

static int z_file(struct pctx *c, const cJSON *v, struct mh_pki_zip *z) {
  return get_rel_path(c, v, &z->file);
}

static int z_members(struct pctx *c, const cJSON *v, struct mh_pki_zip *z) {
  if (get_string_array(c, v, &z->members, &z->num_members) != 0) {
    return -1;
  }
  return z->num_members > 0 ? 0 : fail(c, "a zip needs at least one member");
}

static int z_readme(struct pctx *c, const cJSON *v, struct mh_pki_zip *z) {
  return get_bool(c, v, &z->readme);
}

static int z_title(struct pctx *c, const cJSON *v, struct mh_pki_zip *z) {
  return get_string(c, v, &z->title);
}

static const struct zfield zip_fields[] = {
    {"file", "", z_file},
    {"members", "[]", z_members},
    {"readme", "", z_readme},
    {"title", "", z_title},
};
#define NUM_ZIP_FIELDS (sizeof(zip_fields) / sizeof(zip_fields[0]))

static int parse_zips(struct pctx *c, const cJSON *arr, struct mh_pki_zip *out) {
  size_t old = push_key(c, "zips");
  if (!cJSON_IsArray(arr)) {
    return fail(c, "expected an array of objects, found %s", json_type_name(arr));
  }
  size_t i = 0;
  const cJSON *zj;
  cJSON_ArrayForEach(zj, arr) {
    size_t old_i = push_index(c, i);
    struct mh_pki_zip *z = &out[i];
    z->json_path = mh_arena_strdup(c->a, c->path);
    if (z->json_path == NULL) {
      return fail(c, "out of memory");
    }
    if (!cJSON_IsObject(zj)) {
      return fail(c, "expected an object, found %s", json_type_name(zj));
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, zj) {
      size_t old_k = push_key(c, it->string);
      size_t k = 0;
      while (k < NUM_ZIP_FIELDS && strcmp(it->string, zip_fields[k].key) != 0) {
        k++;
      }
      if (k == NUM_ZIP_FIELDS) {
        return fail(c, "unknown key (a zip has file, members, readme, title)");
      }
      if (zip_fields[k].parse(c, it, z) != 0) {
        return -1;
      }
      pop(c, old_k);
    }
    if (z->file == NULL) {
      return fail(c, "\"file\" is required");
    }
    if (z->members == NULL) {
      return fail(c, "\"members\" is required");
    }
    pop(c, old_i);
    i++;
  }
  pop(c, old);
  return 0;
}

// --- whole-spec checks, after every object parsed ---

static int find_entity(const struct mh_pki_spec *s, size_t limit, const char *name) {
  for (size_t i = 0; i < limit; i++) {
    if (strcmp(s->entities[i].name, name) == 0) {
      return (int)i;
    }
  }
  return -1;
}

// fail_at reports at an entity's or zip's own path plus |key|.
static int fail_at(struct pctx *c, const char *base, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(struct pctx *c, const char *base, const char *key, const char *fmt, ...) {
  char msg[MH_ERR_LEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (key != NULL) {
    return mh_err_set(c->err, "%s: %s.%s: %s", c->file, base, key, msg);
  }
  return mh_err_set(c->err, "%s: %s: %s", c->file, base, msg);
}

static int resolve_entities(struct pctx *c, struct mh_pki_spec *s, const struct praw *raws) {
  char ca_list[512] = "";
  for (size_t i = 0; i < s->num_cas; i++) {
    strncat(ca_list, i ? ", " : "", sizeof(ca_list) - strlen(ca_list) - 1);
    strncat(ca_list, s->entities[i].name, sizeof(ca_list) - strlen(ca_list) - 1);
  }
  for (size_t i = 0; i < s->num_entities; i++) {
    struct mh_pki_entity *e = &s->entities[i];
    const struct praw *r = &raws[i];
    if (find_entity(s, i, e->name) >= 0) {
      return fail_at(c, e->json_path, "name", "\"%s\" is declared twice (names must be unique)",
                     e->name);
    }
    if (e->is_ca) {
      if (r->issuer_name != NULL) {
        int k = find_entity(s, i, r->issuer_name);
        if (k < 0) {
          return fail_at(c, e->json_path, "issuer",
                         "names CA \"%s\", which is not declared before it in $.cas",
                         r->issuer_name);
        }
        e->issuer = k;
      }
    } else {
      if (!r->self_signed) {
        if (r->issuer_name == NULL) {
          return fail_at(c, e->json_path, NULL,
                         "\"ca\" is required (name one of: %s), or set \"self_signed\": true",
                         s->num_cas ? ca_list : "no CA is declared in $.cas");
        }
        int k = find_entity(s, s->num_cas, r->issuer_name);
        if (k < 0) {
          return fail_at(c, e->json_path, "ca", "names a missing CA \"%s\" (declared CAs: %s)",
                         r->issuer_name, s->num_cas ? ca_list : "none");
        }
        e->issuer = k;
      }
    }
    if (e->not_after <= e->not_before) {
      return fail_at(c, e->json_path, "not_after",
                     "the certificate would end before it starts (not_after must be later than "
                     "not_before)");
    }
    if (e->x509_version == 1) {
      const char *ext = e->num_dns                         ? "dns"
                        : e->num_ips                       ? "ips"
                        : e->has_eku                       ? "eku"
                        : (e->has_key_usage && e->ku_mask) ? "key_usage"
                                                           : NULL;
      if (ext != NULL) {
        return fail_at(c, e->json_path, ext,
                       "x509_version 1 certificates carry no extensions (remove \"%s\" or use "
                       "x509_version 3)",
                       ext);
      }
    }
    if (e->key_file == NULL) {
      e->key_file = mh_arena_sprintf(c->a, "%s-key.pem", e->name);
    }
    if (e->cert_file == NULL) {
      e->cert_file = mh_arena_sprintf(c->a, e->is_ca ? "%s.pem" : "%s-cert.pem", e->name);
    }
    if (e->key_file == NULL || e->cert_file == NULL) {
      return fail(c, "out of memory");
    }
  }
  return 0;
}

// output_owner finds which entity writes |path| and whether it is that entity's key.
static const struct mh_pki_entity *output_owner(const struct mh_pki_spec *s, const char *path,
                                                int *out_is_key) {
  for (size_t i = 0; i < s->num_entities; i++) {
    const struct mh_pki_entity *e = &s->entities[i];
    const char *files[] = {e->key_file, e->cert_file, e->csr_file, e->chain_file};
    for (size_t k = 0; k < 4; k++) {
      if (files[k] != NULL && strcmp(files[k], path) == 0) {
        *out_is_key = k == 0;
        return e;
      }
    }
  }
  return NULL;
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

static int check_outputs(struct pctx *c, struct mh_pki_spec *s) {
  // Every output path once.
  for (size_t i = 0; i < s->num_entities; i++) {
    const struct mh_pki_entity *e = &s->entities[i];
    const char *files[] = {e->key_file, e->cert_file, e->csr_file, e->chain_file};
    const char *keys[] = {"key_file", "cert_file", "csr_file", "chain_file"};
    for (size_t k = 0; k < 4; k++) {
      if (files[k] == NULL) {
        continue;
      }
      for (size_t j = 0; j <= i; j++) {
        const struct mh_pki_entity *o = &s->entities[j];
        const char *ofiles[] = {o->key_file, o->cert_file, o->csr_file, o->chain_file};
        for (size_t m = 0; m < (j == i ? k : 4); m++) {
          if (ofiles[m] != NULL && strcmp(ofiles[m], files[k]) == 0) {
            return fail_at(c, e->json_path, keys[k],
                           "\"%s\" is also written by %s (give each file its own path)", files[k],
                           o->json_path);
          }
        }
      }
    }
  }
  for (size_t i = 0; i < s->num_zips; i++) {
    const struct mh_pki_zip *z = &s->zips[i];
    int is_key;
    if (output_owner(s, z->file, &is_key) != NULL) {
      return fail_at(c, z->json_path, "file", "\"%s\" is also a certificate or key output",
                     z->file);
    }
    for (size_t j = 0; j < i; j++) {
      if (strcmp(s->zips[j].file, z->file) == 0) {
        return fail_at(c, z->json_path, "file", "\"%s\" is also written by %s", z->file,
                       s->zips[j].json_path);
      }
    }
    for (size_t m = 0; m < z->num_members; m++) {
      char key[32];
      snprintf(key, sizeof(key), "members[%zu]", m);
      const struct mh_pki_entity *owner = output_owner(s, z->members[m], &is_key);
      if (owner == NULL) {
        return fail_at(c, z->json_path, key,
                       "\"%s\" is not a file this spec writes (use a key_file, cert_file, csr_file "
                       "or chain_file path)",
                       z->members[m]);
      }
      if (owner->is_ca && is_key) {
        return fail_at(c, z->json_path, key,
                       "\"%s\" is the private key of CA \"%s\": a CA key never goes into a zip",
                       z->members[m], owner->name);
      }
      const char *bm = base_name(z->members[m]);
      if (z->readme && strcmp(bm, "README.md") == 0) {
        return fail_at(c, z->json_path, key, "clashes with the generated README.md");
      }
      for (size_t n = 0; n < m; n++) {
        if (strcmp(base_name(z->members[n]), bm) == 0) {
          return fail_at(c, z->json_path, key,
                         "\"%s\" has the same file name as members[%zu] (zips are flat)", bm, n);
        }
      }
    }
  }
  return 0;
}

static const char *const top_keys[] = {"spec_version", "description", "defaults",
                                       "cas",          "identities",  "zips"};

static int parse_spec_doc(struct pctx *c, const cJSON *root, struct mh_pki_spec *out) {
  if (!cJSON_IsObject(root)) {
    return fail(c, "the spec must be a JSON object, found %s", json_type_name(root));
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, root) {
    size_t k = 0;
    while (k < sizeof(top_keys) / sizeof(top_keys[0]) && strcmp(it->string, top_keys[k]) != 0) {
      k++;
    }
    if (k == sizeof(top_keys) / sizeof(top_keys[0])) {
      size_t old = push_key(c, it->string);
      fail(c,
           "unknown key (a spec has spec_version, description, defaults, cas, identities, zips)");
      pop(c, old);
      return -1;
    }
  }
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "spec_version");
  if (ver != NULL) {
    size_t old = push_key(c, "spec_version");
    int64_t v;
    if (get_int(c, ver, SPEC_VERSION, SPEC_VERSION, &v) != 0) {
      return -1;
    }
    pop(c, old);
  }
  const cJSON *desc = cJSON_GetObjectItemCaseSensitive(root, "description");
  if (desc != NULL && !cJSON_IsString(desc)) {
    size_t old = push_key(c, "description");
    fail(c, "expected a string, found %s", json_type_name(desc));
    pop(c, old);
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
    return fail(c, "the spec declares nothing (add \"cas\" and \"identities\")");
  }
  out->entities = mh_arena_alloc_array(c->a, n_cas + n_ids + 1, sizeof(*out->entities));
  struct praw *raws = mh_arena_alloc_array(c->a, n_cas + n_ids + 1, sizeof(*raws));
  out->zips = mh_arena_alloc_array(c->a, n_zips + 1, sizeof(*out->zips));
  if (out->entities == NULL || raws == NULL || out->zips == NULL) {
    return fail(c, "out of memory");
  }
  if (cas != NULL && parse_entities(c, cas, "cas", 1, NULL, NULL, out->entities, raws) != 0) {
    return -1;
  }
  struct mh_pki_entity tmpl;
  struct praw tmpl_raw = {0};
  entity_defaults(&tmpl, 0);
  if (defs != NULL) {
    size_t old = push_key(c, "defaults");
    if (parse_entity_fields(c, defs, IN_DEF, &tmpl, &tmpl_raw) != 0) {
      return -1;
    }
    pop(c, old);
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
  if (resolve_entities(c, out, raws) != 0) {
    return -1;
  }
  return check_outputs(c, out);
}

// json_syntax_error reports where cJSON stopped, as a line and column.
static int json_syntax_error(struct pctx *c, const char *text, size_t len, const char *at) {
  size_t off = (at != NULL && at >= text && at <= text + len) ? (size_t)(at - text) : 0;
  size_t line = 1, col = 1;
  for (size_t i = 0; i < off; i++) {
    if (text[i] == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  return fail(c,
              "malformed JSON at line %zu, column %zu (check for a missing comma, quote or "
              "brace there)",
              line, col);
}

int mh_pki_spec_parse(struct mh_arena *a, const char *name, const char *text, size_t len,
                      struct mh_pki_spec *out, struct mh_err *err) {
  struct pctx c = {.a = a, .file = name, .path = "$", .path_len = 1, .err = err};
  memset(out, 0, sizeof(*out));
  out->file = mh_arena_strdup(a, name);
  if (out->file == NULL) {
    return fail(&c, "out of memory");
  }
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  if (root == NULL) {
    return json_syntax_error(&c, text, len, end != NULL ? end : cJSON_GetErrorPtr());
  }
  int ret = parse_spec_doc(&c, root, out);
  cJSON_Delete(root);
  return ret;
}

int mh_pki_spec_load(struct mh_arena *a, const char *path, struct mh_pki_spec *out,
                     struct mh_err *err) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    return mh_err_errno(err, "%s: cannot open the spec (check the path)", path);
  }
  char *buf = malloc(MAX_DOC_BYTES);
  if (buf == NULL) {
    fclose(f);
    return mh_err_set(err, "%s: out of memory", path);
  }
  size_t n = fread(buf, 1, MAX_DOC_BYTES, f);
  int rerr = ferror(f);
  int more = !rerr && n == MAX_DOC_BYTES && fgetc(f) != EOF;
  fclose(f);
  int ret;
  if (rerr) {
    ret = mh_err_set(err, "%s: read error (is it a regular file?)", path);
  } else if (more) {
    ret = mh_err_set(err, "%s: larger than %d MiB; not a fixture spec", path,
                     MAX_DOC_BYTES / (1024 * 1024));
  } else {
    ret = mh_pki_spec_parse(a, path, buf, n, out, err);
  }
  free(buf);
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

const char *mh_scenario_json_version(void) {
  return cJSON_Version();
}

// ===================================================================================================
// Scenarios.
//
// The scenario's own keys are strict, like the spec's. The embedded "config" is the real system's
// JSON and is read the way Go's encoding/json reads it: unknown keys are ignored and key names
// match case-insensitively; messages reproduce SemStreams' own words where it has them.

#define GO_WRAP "invalid configuration: security configuration: "
#define DEFAULT_CERTS_DIR "/certs"

// sctx is what the scenario parser needs beyond the JSON position.
struct sctx {
  struct mh_scenario *s;
  const char *scenario_dir;
  int quiet;
};

static const cJSON *cfg_get(const cJSON *obj, const char *key) {
  return cJSON_IsObject(obj) ? cJSON_GetObjectItem(obj, key) : NULL;  // case-insensitive, as Go
}

// cfg_* read an optional key of the real config: absent or null leaves |out| unchanged; a value of
// the wrong type is an error (Go's encoding/json would refuse it too).
static int cfg_bool(struct pctx *c, const cJSON *obj, const char *key, int *out) {
  const cJSON *v = cfg_get(obj, key);
  if (v == NULL || cJSON_IsNull(v)) {
    return 0;
  }
  size_t old = push_key(c, key);
  if (get_bool(c, v, out) != 0) {
    return -1;
  }
  pop(c, old);
  return 0;
}

static int cfg_string(struct pctx *c, const cJSON *obj, const char *key, const char **out) {
  const cJSON *v = cfg_get(obj, key);
  if (v == NULL || cJSON_IsNull(v)) {
    return 0;
  }
  size_t old = push_key(c, key);
  if (!cJSON_IsString(v)) {
    return fail(c, "expected a string, found %s", json_type_name(v));
  }
  *out = mh_arena_strdup(c->a, v->valuestring);
  if (*out == NULL) {
    return fail(c, "out of memory");
  }
  pop(c, old);
  return 0;
}

static int cfg_strings(struct pctx *c, const cJSON *obj, const char *key, const char ***out,
                       size_t *out_num) {
  const cJSON *v = cfg_get(obj, key);
  if (v == NULL || cJSON_IsNull(v)) {
    return 0;
  }
  size_t old = push_key(c, key);
  if (get_string_array(c, v, out, out_num) != 0) {
    return -1;
  }
  pop(c, old);
  return 0;
}

static int cfg_int(struct pctx *c, const cJSON *obj, const char *key, int64_t lo, int64_t hi,
                   int64_t *out) {
  const cJSON *v = cfg_get(obj, key);
  if (v == NULL || cJSON_IsNull(v)) {
    return 0;
  }
  size_t old = push_key(c, key);
  if (get_int(c, v, lo, hi, out) != 0) {
    return -1;
  }
  pop(c, old);
  return 0;
}

static int cfg_object(struct pctx *c, const cJSON *obj, const char *key, const cJSON **out) {
  const cJSON *v = cfg_get(obj, key);
  *out = NULL;
  if (v == NULL || cJSON_IsNull(v)) {
    return 0;
  }
  if (!cJSON_IsObject(v)) {
    size_t old = push_key(c, key);
    fail(c, "expected an object, found %s", json_type_name(v));
    pop(c, old);
    return -1;
  }
  *out = v;
  return 0;
}

// spec_writes reports whether the fixture spec writes |rel|.
static int spec_writes(const struct mh_pki_spec *spec, const char *rel) {
  int is_key;
  return output_owner(spec, rel, &is_key) != NULL;
}

static int file_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

// resolve_file maps a certificate path of the real config to a file on this machine: paths under
// certs_dir are fixtures (the spec must generate them); other absolute paths are used as they are;
// relative paths are relative to the scenario. |field| is the real system's name for messages.
static int resolve_file(struct pctx *c, struct sctx *sc, const char *field, const char *p,
                        const char **out) {
  struct mh_scenario *s = sc->s;
  size_t n = strlen(s->certs_dir);
  if (strncmp(p, s->certs_dir, n) == 0 && p[n] == '/') {
    const char *rel = p + n + 1;
    if (!spec_writes(&s->spec, rel)) {
      return fail(c,
                  GO_WRAP
                  "%s: stat %s: no such file or directory (the fixture spec %s generates no "
                  "\"%s\"; name one of its outputs)",
                  field, p, s->spec_file, rel);
    }
    *out = mh_arena_sprintf(c->a, "%s/%s", s->fixtures_dir, rel);
  } else if (p[0] == '/') {
    if (!file_exists(p)) {
      return fail(c, GO_WRAP "%s: stat %s: no such file or directory", field, p);
    }
    *out = p;
  } else {
    *out = mh_arena_sprintf(c->a, "%s/%s", sc->scenario_dir, p);
    if (*out != NULL && !file_exists(*out)) {
      return fail(c, GO_WRAP "%s: stat %s: no such file or directory", field, *out);
    }
  }
  return *out != NULL ? 0 : fail(c, "out of memory");
}

// resolve_key is resolve_file for the value of |key| in the current object, reported at its path.
static int resolve_key(struct pctx *c, struct sctx *sc, const char *key, const char *field,
                       const char *p, const char **out) {
  size_t old = push_key(c, key);
  if (resolve_file(c, sc, field, p, out) != 0) {
    return -1;
  }
  pop(c, old);
  return 0;
}

static int parse_version(struct pctx *c, const char *field, const char *v, int *out) {
  // parseTLSVersion: "1.3" is TLS 1.3; anything else, empty included, is TLS 1.2.
  if (v == NULL || v[0] == '\0') {
    *out = MH_TLS12;
    return 0;
  }
  if (strcmp(v, "1.2") != 0 && strcmp(v, "1.3") != 0) {
    return fail(c, GO_WRAP "%s: invalid TLS version \"%s\" (must be \"1.2\" or \"1.3\")", field, v);
  }
  *out = strcmp(v, "1.3") == 0 ? MH_TLS13 : MH_TLS12;
  return 0;
}

static int resolve_files(struct pctx *c, struct sctx *sc, const char *field, const char **files,
                         size_t num) {
  for (size_t i = 0; i < num; i++) {
    char name[96];
    snprintf(name, sizeof(name), "%s[%zu]", field, i);
    size_t old = push_index(c, i);
    if (resolve_file(c, sc, name, files[i], &files[i]) != 0) {
      return -1;
    }
    pop(c, old);
  }
  return 0;
}

// parse_server_tls reads tls.server. With |policy_only| (an external target's declared policy)
// there are no certificate files to load and TLS is implied.
static int parse_server_tls(struct pctx *c, struct sctx *sc, const cJSON *srv,
                            struct mh_location *L, int policy_only) {
  const char *cert = NULL, *key = NULL, *minv = NULL, *mode = NULL;
  const cJSON *mtls = NULL, *acme = NULL;
  int acme_enabled = 0;
  if (cfg_bool(c, srv, "enabled", &L->server_tls) != 0 || cfg_string(c, srv, "mode", &mode) != 0 ||
      cfg_string(c, srv, "cert_file", &cert) != 0 || cfg_string(c, srv, "key_file", &key) != 0 ||
      cfg_string(c, srv, "min_version", &minv) != 0 || cfg_object(c, srv, "mtls", &mtls) != 0 ||
      cfg_object(c, srv, "acme", &acme) != 0 || cfg_bool(c, acme, "enabled", &acme_enabled) != 0) {
    return -1;
  }
  if (policy_only) {
    L->server_tls = 1;
  } else if (L->server_tls) {
    // validateSecurity checks these even in ACME mode.
    if (cert == NULL || cert[0] == '\0') {
      return fail(c, GO_WRAP "tls.server.cert_file is required when TLS is enabled");
    }
    if (key == NULL || key[0] == '\0') {
      return fail(c, GO_WRAP "tls.server.key_file is required when TLS is enabled");
    }
    if (resolve_key(c, sc, "cert_file", "tls.server.cert_file", cert, &L->server.cert_file) != 0 ||
        resolve_key(c, sc, "key_file", "tls.server.key_file", key, &L->server.key_file) != 0) {
      return -1;
    }
  }
  size_t old = push_key(c, "min_version");
  if (parse_version(c, "tls.server.min_version", minv, &L->server.min_version) != 0) {
    return -1;
  }
  pop(c, old);
  if (L->server_tls && mode != NULL && strcmp(mode, "acme") == 0 && acme_enabled && !sc->quiet) {
    fprintf(stderr,
            "%s: %s: note: ACME mode is not emulated; the mock serves cert_file/key_file, as the "
            "real system does when ACME fails\n",
            c->file, c->path);
  }
  if (mtls != NULL) {
    old = push_key(c, "mtls");
    // The real system does not validate mtls.*: an empty client_ca_files list is accepted and
    // then rejects every client certificate as signed by an unknown authority.
    if (cfg_bool(c, mtls, "enabled", &L->server.mtls) != 0 ||
        cfg_bool(c, mtls, "require_client_cert", &L->server.require_client_cert) != 0 ||
        cfg_strings(c, mtls, "client_ca_files", (const char ***)&L->server.client_ca_files,
                    &L->server.num_client_ca_files) != 0 ||
        cfg_strings(c, mtls, "allowed_client_cns", (const char ***)&L->server.allowed_cns,
                    &L->server.num_allowed_cns) != 0) {
      return -1;
    }
    if (L->server_tls && L->server.mtls) {
      size_t old2 = push_key(c, "client_ca_files");
      if (resolve_files(c, sc, "tls.server.mtls.client_ca_files",
                        (const char **)L->server.client_ca_files,
                        L->server.num_client_ca_files) != 0) {
        return -1;
      }
      pop(c, old2);
    }
    pop(c, old);
  }
  return 0;
}

static int parse_client_tls(struct pctx *c, struct sctx *sc, const cJSON *cli,
                            struct mh_location *L) {
  const char *minv = NULL, *mode = NULL, *cert = NULL, *key = NULL;
  const cJSON *mtls = NULL, *acme = NULL;
  int mtls_enabled = 0, acme_enabled = 0;
  struct mh_tls_client_policy *p = &L->client;
  if (cfg_string(c, cli, "mode", &mode) != 0 ||
      cfg_strings(c, cli, "ca_files", (const char ***)&p->ca_files, &p->num_ca_files) != 0 ||
      cfg_bool(c, cli, "insecure_skip_verify", &p->insecure_skip_verify) != 0 ||
      cfg_string(c, cli, "min_version", &minv) != 0 || cfg_object(c, cli, "mtls", &mtls) != 0 ||
      cfg_object(c, cli, "acme", &acme) != 0 || cfg_bool(c, acme, "enabled", &acme_enabled) != 0 ||
      cfg_bool(c, mtls, "enabled", &mtls_enabled) != 0) {
    return -1;
  }
  size_t old = push_key(c, "min_version");
  if (parse_version(c, "tls.client.min_version", minv, &p->min_version) != 0) {
    return -1;
  }
  pop(c, old);
  old = push_key(c, "ca_files");
  if (resolve_files(c, sc, "tls.client.ca_files", (const char **)p->ca_files, p->num_ca_files) !=
      0) {
    return -1;
  }
  pop(c, old);
  if (p->insecure_skip_verify && !sc->quiet) {
    fprintf(stderr,
            "WARNING: TLS certificate verification is disabled (insecure_skip_verify=true). This "
            "should only be used in development/testing!\n");
  }
  // The websocket_input client applies this TLS config only if one of these holds; otherwise it
  // dials with gorilla's default dialer (system roots only, no client certificate).
  L->client_tls = p->num_ca_files > 0 || p->insecure_skip_verify || (minv && minv[0]) ||
                  mtls_enabled || (mode != NULL && strcmp(mode, "acme") == 0);
  p->system_roots = 1;
  if (mtls_enabled) {
    old = push_key(c, "mtls");
    if (cfg_string(c, mtls, "cert_file", &cert) != 0 ||
        cfg_string(c, mtls, "key_file", &key) != 0) {
      return -1;
    }
    if (cert == NULL || cert[0] == '\0' || key == NULL || key[0] == '\0') {
      return fail(c,
                  "tlsutil.LoadClientTLSConfig: load client certificate failed: open : no such "
                  "file or directory (set cert_file and key_file)");
    }
    if (resolve_key(c, sc, "cert_file", "tls.client.mtls.cert_file", cert, &p->cert_file) != 0 ||
        resolve_key(c, sc, "key_file", "tls.client.mtls.key_file", key, &p->key_file) != 0) {
      return -1;
    }
    pop(c, old);
  }
  return 0;
}

static int parse_security(struct pctx *c, struct sctx *sc, const cJSON *sec,
                          struct mh_location *L) {
  L->server.min_version = MH_TLS12;
  L->client.min_version = MH_TLS12;
  L->client.system_roots = 1;
  L->server.emulate = L->emulate;
  if (sec == NULL) {
    return 0;  // Tier 1: no TLS
  }
  size_t old = push_key(c, "security");
  const cJSON *tls = NULL, *srv = NULL, *cli = NULL;
  if (cfg_object(c, sec, "tls", &tls) != 0) {
    return -1;
  }
  size_t old_tls = push_key(c, "tls");
  if (cfg_object(c, tls, "server", &srv) != 0 || cfg_object(c, tls, "client", &cli) != 0) {
    return -1;
  }
  if (srv != NULL) {
    size_t o = push_key(c, "server");
    if (parse_server_tls(c, sc, srv, L, 0) != 0) {
      return -1;
    }
    pop(c, o);
  }
  if (cli != NULL) {
    size_t o = push_key(c, "client");
    if (parse_client_tls(c, sc, cli, L) != 0) {
      return -1;
    }
    pop(c, o);
  }
  pop(c, old_tls);
  pop(c, old);
  return 0;
}

static void reconnect_defaults(struct mh_reconnect *r) {
  r->enabled = 1;
  r->max_retries = 10;
  r->initial_ms = 1000;
  r->max_ms = 60000;
  r->multiplier = 2.0;
}

// parse_url splits a ws:// or wss:// URL.
static int parse_url(struct pctx *c, struct mh_component *k) {
  const char *u = k->url;
  const char *rest;
  if (strncmp(u, "wss://", 6) == 0) {
    k->url_tls = 1;
    rest = u + 6;
  } else if (strncmp(u, "ws://", 5) == 0) {
    rest = u + 5;
  } else {
    return fail(c, "\"%s\": the URL must start with ws:// or wss://", u);
  }
  const char *slash = strchr(rest, '/');
  size_t hostport_len = slash ? (size_t)(slash - rest) : strlen(rest);
  char hostport[256];
  if (hostport_len == 0 || hostport_len >= sizeof(hostport)) {
    return fail(c, "\"%s\": no host in the URL", u);
  }
  memcpy(hostport, rest, hostport_len);
  hostport[hostport_len] = '\0';
  k->url_port = k->url_tls ? 443 : 80;
  char *colon = strrchr(hostport, ':');
  if (colon != NULL && strchr(hostport, ']') < colon) {
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 1 || port > 65535) {
      return fail(c, "\"%s\": bad port in the URL", u);
    }
    k->url_port = (int)port;
    *colon = '\0';
  }
  k->url_host = mh_arena_strdup(c->a, hostport);
  k->url_path = mh_arena_strdup(c->a, slash ? slash : "/");
  return k->url_host && k->url_path ? 0 : fail(c, "out of memory");
}

static int parse_reconnect_duration(struct pctx *c, const cJSON *obj, const char *key,
                                    int64_t *out_ms) {
  const cJSON *v = cfg_get(obj, key);
  if (v == NULL || cJSON_IsNull(v)) {
    return 0;
  }
  size_t old = push_key(c, key);
  if (cJSON_IsString(v)) {
    // time.Duration is an integer of nanoseconds in JSON; Go rejects "1s".
    return fail(c,
                "json: cannot unmarshal string into Go struct field ReconnectConfig.%s of type "
                "time.Duration (the real system rejects \"%s\" too; write nanoseconds, e.g. "
                "1000000000 for 1s)",
                key, v->valuestring);
  }
  int64_t ns;
  if (get_int(c, v, 0, (int64_t)3600 * 1000000000LL, &ns) != 0) {
    return -1;
  }
  *out_ms = ns / 1000000;
  pop(c, old);
  return 0;
}

static int parse_input_config(struct pctx *c, const cJSON *cfg, struct mh_component *k) {
  const char *mode = NULL;
  const cJSON *client = NULL;
  if (cfg == NULL || (cJSON_IsObject(cfg) && cfg->child == NULL)) {
    // Real defaults apply only to an empty config: server mode on 8081.
    return fail(
        c,
        "websocket_input in server mode (the default for an empty config) is not emulated: "
        "the mock federation needs client mode (\"mode\": \"client\", \"client\": {\"url\": "
        "...})");
  }
  if (cfg_string(c, cfg, "mode", &mode) != 0 || cfg_object(c, cfg, "client", &client) != 0) {
    return -1;
  }
  if (mode == NULL || (strcmp(mode, "client") != 0 && strcmp(mode, "server") != 0)) {
    return fail(c, "invalid mode: %s", mode ? mode : "");
  }
  if (strcmp(mode, "server") == 0) {
    return fail(c,
                "websocket_input server mode is not emulated: the mock federation needs client "
                "mode (see docs/scenarios.md)");
  }
  if (client == NULL) {
    return fail(c, "client config required for client mode");
  }
  size_t old = push_key(c, "client");
  if (cfg_string(c, client, "url", &k->url) != 0) {
    return -1;
  }
  if (k->url == NULL || k->url[0] == '\0') {
    return fail(c, "url is required in client mode");
  }
  size_t o2 = push_key(c, "url");
  if (parse_url(c, k) != 0) {
    return -1;
  }
  pop(c, o2);
  const cJSON *rc = NULL;
  if (cfg_object(c, client, "reconnect", &rc) != 0) {
    return -1;
  }
  if (rc != NULL) {
    // A present block replaces the defaults field by field as Go's zero values would.
    memset(&k->reconnect, 0, sizeof(k->reconnect));
    int64_t retries = 0;
    double mult = 0;
    o2 = push_key(c, "reconnect");
    if (cfg_bool(c, rc, "enabled", &k->reconnect.enabled) != 0 ||
        cfg_int(c, rc, "max_retries", 0, 1000000, &retries) != 0 ||
        parse_reconnect_duration(c, rc, "initial_interval", &k->reconnect.initial_ms) != 0 ||
        parse_reconnect_duration(c, rc, "max_interval", &k->reconnect.max_ms) != 0) {
      return -1;
    }
    const cJSON *m = cfg_get(rc, "multiplier");
    if (m != NULL && !cJSON_IsNull(m)) {
      if (!cJSON_IsNumber(m)) {
        push_key(c, "multiplier");
        return fail(c, "expected a number, found %s", json_type_name(m));
      }
      mult = m->valuedouble;
    }
    k->reconnect.max_retries = (int)retries;
    k->reconnect.multiplier = mult;
    pop(c, o2);
  }
  pop(c, old);
  return 0;
}

static int parse_output_subject(struct pctx *c, const cJSON *cfg, struct mh_component *k) {
  k->port = 8081;
  k->path = "/ws";
  const cJSON *ports = NULL, *outputs;
  if (cfg_object(c, cfg, "ports", &ports) != 0) {
    return -1;
  }
  outputs = cfg_get(ports, "outputs");
  if (cJSON_IsArray(outputs) && cJSON_GetArraySize(outputs) > 0) {
    const char *subject = NULL;
    size_t old = push_key(c, "ports");
    size_t o2 = push_key(c, "outputs");
    size_t o3 = push_index(c, 0);
    if (cfg_string(c, cJSON_GetArrayItem(outputs, 0), "subject", &subject) != 0) {
      return -1;
    }
    if (subject != NULL) {
      int port = 0, n = 0;
      char path[256] = "";
      // The real output parses "http://0.0.0.0:%d%s".
      if (sscanf(subject, "http://0.0.0.0:%d%255s%n", &port, path, &n) < 1) {
        push_key(c, "subject");
        return fail(c, "\"%s\" is not of the form http://0.0.0.0:PORT/PATH", subject);
      }
      k->port = port;
      k->path = mh_arena_strdup(c->a, path[0] ? path : "/ws");
    }
    pop(c, o3);
    pop(c, o2);
    pop(c, old);
  }
  return 0;
}

static int check_port(struct pctx *c, int port) {
  if (port < 1024 || port > 65535) {
    return fail(c, "invalid port %d: the websocket output accepts 1024-65535", port);
  }
  return 0;
}

// parse_component reads one component of either form into |k|. Returns 1 if it is to be skipped.
static int parse_component(struct pctx *c, const char *name, const cJSON *item, int map_form,
                           struct mh_component *k) {
  const char *type = NULL, *id = NULL;
  int enabled = 1;
  const cJSON *cfg = NULL;
  if (!cJSON_IsObject(item)) {
    return fail(c, "expected an object, found %s", json_type_name(item));
  }
  if (cfg_string(c, item, "type", &type) != 0 || cfg_object(c, item, "config", &cfg) != 0) {
    return -1;
  }
  if (map_form) {
    enabled = 0;
    if (cfg_bool(c, item, "enabled", &enabled) != 0) {
      return -1;
    }
    id = name;
  } else if (cfg_string(c, item, "id", &id) != 0) {
    return -1;
  }
  if (id == NULL) {
    return fail(c, "\"id\" is required");
  }
  if (type == NULL) {
    return fail(c, "\"type\" is required");
  }
  k->id = mh_arena_strdup(c->a, id);  // |name| belongs to the JSON tree, freed after parsing
  k->json_path = mh_arena_strdup(c->a, c->path);
  if (k->id == NULL || k->json_path == NULL) {
    return fail(c, "out of memory");
  }
  reconnect_defaults(&k->reconnect);
  int is_output = strcmp(type, map_form ? "websocket" : "websocket_output") == 0 ||
                  (map_form && strcmp(type, "websocket_output") == 0);
  int is_input = strcmp(type, "websocket_input") == 0;
  if (!is_output && !is_input) {
    if (map_form) {
      fprintf(stderr, "%s: %s.type: note: component type \"%s\" is not emulated; ignored\n",
              c->file, c->path, type);
      return 1;
    }
    size_t old = push_key(c, "type");
    fail(c, "unknown component type \"%s\" (use websocket_output or websocket_input)", type);
    pop(c, old);
    return -1;
  }
  if (!enabled) {
    fprintf(stderr, "%s: %s.enabled: note: component \"%s\" is not enabled; not started\n", c->file,
            c->path, id);
    return 1;
  }
  size_t old = push_key(c, "config");
  if (is_output) {
    k->kind = MH_COMP_WS_OUTPUT;
    if (map_form) {
      if (parse_output_subject(c, cfg, k) != 0) {
        return -1;
      }
    } else {
      int64_t port = 8081;
      k->path = "/ws";
      if (cfg_int(c, cfg, "port", 0, 65535, &port) != 0 ||
          cfg_string(c, cfg, "path", &k->path) != 0) {
        return -1;
      }
      k->port = (int)port;
    }
    if (check_port(c, k->port) != 0) {
      return -1;
    }
    if (k->path[0] != '/') {
      return fail(c, "path \"%s\" must start with /", k->path);
    }
  } else {
    k->kind = MH_COMP_WS_INPUT;
    if (map_form) {
      if (parse_input_config(c, cfg, k) != 0) {
        return -1;
      }
    } else {
      if (cfg_string(c, cfg, "url", &k->url) != 0) {
        return -1;
      }
      if (k->url == NULL) {
        return fail(c, "url is required for a websocket_input");
      }
      size_t o2 = push_key(c, "url");
      if (parse_url(c, k) != 0) {
        return -1;
      }
      pop(c, o2);
    }
  }
  pop(c, old);
  return 0;
}

static int parse_components(struct pctx *c, const cJSON *comps, struct mh_location *L) {
  if (comps == NULL || cJSON_IsNull(comps)) {
    return 0;
  }
  size_t old = push_key(c, "components");
  int map_form = cJSON_IsObject(comps);
  if (!map_form && !cJSON_IsArray(comps)) {
    return fail(c, "expected an array (the guide's form) or an object (the real system's form)");
  }
  size_t n = (size_t)cJSON_GetArraySize(comps);
  L->components = mh_arena_alloc_array(c->a, n + 1, sizeof(*L->components));
  if (L->components == NULL) {
    return fail(c, "out of memory");
  }
  size_t i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, comps) {
    size_t o = map_form ? push_key(c, it->string) : push_index(c, i);
    int r = parse_component(c, map_form ? it->string : NULL, it, map_form,
                            &L->components[L->num_components]);
    if (r < 0) {
      return -1;
    }
    if (r == 0) {
      L->num_components++;
    }
    pop(c, o);
    i++;
  }
  pop(c, old);
  return 0;
}

static int is_loopback(const char *addr) {
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton(AF_INET, addr, &a4) == 1) {
    return (ntohl(a4.s_addr) >> 24) == 127;
  }
  return inet_pton(AF_INET6, addr, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

static const char *const location_keys[] = {
    "description", "host",    "address", "emulate",     "emit",     "nginx", "config",
    "faults",      "profile", "target",  "server_name", "ca_files", "path",  "policy"};
static const char *const fault_names[] = {"ignore_allowlist", "rst_on_reject"};
static const char *const emit_keys[] = {"rate", "subject"};
static const char *const nginx_keys[] = {"dn_regex"};
static const char *const scenario_keys[] = {"name",      "description", "fixtures", "certs_dir",
                                            "locations", "matrix",      "cases"};
static const char *const matrix_keys[] = {
    "targets",           "identities",       "versions",    "min_tls13_check",
    "wrong_server_name", "cn_only_identity", "untrusted_ca"};
static const char *const case_keys[] = {"name",        "target",   "identity",        "version",
                                        "server_name", "trust_ca", "server_identity", "min_tls13",
                                        "expect"};
static const char *const expect_keys[] = {"result", "reason", "layer", "alerts", "status"};

// check_keys rejects a key of |obj| that is not in |keys|.
static int check_keys(struct pctx *c, const cJSON *obj, const char *const *keys, size_t num,
                      const char *what) {
  const cJSON *it;
  cJSON_ArrayForEach(it, obj) {
    size_t k = 0;
    while (k < num && strcmp(it->string, keys[k]) != 0) {
      k++;
    }
    if (k == num) {
      char known[256];
      join_names(known, sizeof(known), keys, num);
      size_t old = push_key(c, it->string);
      fail(c, "unknown key (%s has: %s)", what, known);
      pop(c, old);
      return -1;
    }
  }
  return 0;
}

// parse_location_extras reads a location's faults, profile and, for an external target, where it
// is and the policy it is meant to enforce.
static int parse_location_extras(struct pctx *c, struct sctx *sc, const cJSON *lj,
                                 struct mh_location *L) {
  const cJSON *v;
  if ((v = cJSON_GetObjectItemCaseSensitive(lj, "faults")) != NULL) {
    size_t o = push_key(c, "faults");
    unsigned mask;
    if (get_keyword_mask(c, v, fault_names, 2, &mask) != 0) {
      return -1;
    }
    L->fault_ignore_allowlist = (mask & 1) != 0;
    L->fault_rst_on_reject = (mask & 2) != 0;
    pop(c, o);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(lj, "profile")) != NULL) {
    size_t o = push_key(c, "profile");
    if (get_string(c, v, &L->profile) != 0 || check_name(c, L->profile) != 0) {
      return -1;
    }
    pop(c, o);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(lj, "path")) != NULL) {
    size_t o = push_key(c, "path");
    if (get_string(c, v, &L->path) != 0) {
      return -1;
    }
    if (L->path[0] != '/') {
      return fail(c, "\"%s\" must start with /", L->path);
    }
    pop(c, o);
  }
  const cJSON *target = cJSON_GetObjectItemCaseSensitive(lj, "target");
  static const char *const target_only[] = {"server_name", "ca_files", "policy"};
  if (target == NULL) {
    for (size_t i = 0; i < 3; i++) {
      if (cJSON_GetObjectItemCaseSensitive(lj, target_only[i]) != NULL) {
        push_key(c, target_only[i]);
        return fail(c, "only an external target (\"target\": \"HOST:PORT\") has this key");
      }
    }
    return 0;
  }
  L->is_target = 1;
  size_t o = push_key(c, "target");
  const char *hp;
  if (get_string(c, target, &hp) != 0) {
    return -1;
  }
  const char *colon = strrchr(hp, ':');
  char *end;
  long port = colon ? strtol(colon + 1, &end, 10) : 0;
  if (colon == NULL || *end != '\0' || port < 1 || port > 65535) {
    return fail(c, "\"%s\" is not HOST:PORT (e.g. \"127.0.0.1:8443\")", hp);
  }
  char host[128];
  snprintf(host, sizeof(host), "%.*s", (int)(colon - hp), hp);
  if (host[0] == '[' && host[strlen(host) - 1] == ']') {
    memmove(host, host + 1, strlen(host));
    host[strlen(host) - 1] = '\0';
  }
  if (strcmp(host, "localhost") == 0) {
    snprintf(host, sizeof(host), "127.0.0.1");
  }
  if (!is_loopback(host)) {
    return fail(c,
                "\"%s\" is not a loopback address: this harness probes only 127.0.0.0/8, ::1 or "
                "network namespaces you create (run it inside one)",
                host);
  }
  L->target_address = mh_arena_strdup(c->a, host);
  L->target_port = (int)port;
  pop(c, o);
  if (cJSON_GetObjectItemCaseSensitive(lj, "config") != NULL ||
      cJSON_GetObjectItemCaseSensitive(lj, "emit") != NULL) {
    return fail(c, "an external target has no \"config\" or \"emit\": the harness does not run it");
  }
  v = cJSON_GetObjectItemCaseSensitive(lj, "server_name");
  if (v == NULL) {
    return fail(c,
                "\"server_name\" is required for an external target (the name on its certificate)");
  }
  o = push_key(c, "server_name");
  if (get_string(c, v, &L->server_name) != 0) {
    return -1;
  }
  pop(c, o);
  L->host = L->server_name;
  o = push_key(c, "ca_files");
  v = cJSON_GetObjectItemCaseSensitive(lj, "ca_files");
  if (v == NULL) {
    return fail(
        c, "\"ca_files\" is required for an external target (the CA of its server certificate)");
  }
  if (get_string_array(c, v, (const char ***)&L->target_ca_files, &L->num_target_ca_files) != 0 ||
      resolve_files(c, sc, "ca_files", (const char **)L->target_ca_files, L->num_target_ca_files) !=
          0) {
    return -1;
  }
  pop(c, o);
  if (L->path == NULL) {
    L->path = "/";
  }
  if (L->profile == NULL) {
    L->profile = "semstreams";
  }
  L->server.min_version = MH_TLS12;
  v = cJSON_GetObjectItemCaseSensitive(lj, "policy");
  if (v == NULL || !cJSON_IsObject(v)) {
    return fail(c,
                "\"policy\" is required for an external target: the tls.server block it is meant "
                "to enforce, e.g. {\"mtls\": {\"enabled\": true, ...}}");
  }
  o = push_key(c, "policy");
  if (parse_server_tls(c, sc, v, L, 1) != 0) {
    return -1;
  }
  pop(c, o);
  return 0;
}

static int parse_location(struct pctx *c, struct sctx *sc, const char *name, const cJSON *lj,
                          struct mh_location *L) {
  if (!cJSON_IsObject(lj)) {
    return fail(c, "expected an object, found %s", json_type_name(lj));
  }
  if (check_keys(c, lj, location_keys, sizeof(location_keys) / sizeof(location_keys[0]),
                 "a location") != 0) {
    return -1;
  }
  L->name = mh_arena_strdup(c->a, name);
  L->json_path = mh_arena_strdup(c->a, c->path);
  L->host = L->name;
  L->address = "127.0.0.1";
  L->emulate = MH_EMULATE_GO;
  const cJSON *v;
  if ((v = cJSON_GetObjectItemCaseSensitive(lj, "host")) != NULL) {
    size_t o = push_key(c, "host");
    if (get_string(c, v, &L->host) != 0) {
      return -1;
    }
    pop(c, o);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(lj, "address")) != NULL) {
    size_t o = push_key(c, "address");
    if (get_string(c, v, &L->address) != 0) {
      return -1;
    }
    if (!is_loopback(L->address)) {
      return fail(c,
                  "\"%s\" is not a loopback address (mocks bind only 127.0.0.0/8 or ::1, never a "
                  "real network)",
                  L->address);
    }
    pop(c, o);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(lj, "emulate")) != NULL) {
    size_t o = push_key(c, "emulate");
    const char *e;
    if (get_string(c, v, &e) != 0) {
      return -1;
    }
    if (strcmp(e, "nginx") == 0) {
      L->emulate = MH_EMULATE_NGINX;
    } else if (strcmp(e, "semstreams") != 0) {
      return fail(c, "unknown emulation \"%s\" (use \"semstreams\" or \"nginx\")", e);
    }
    pop(c, o);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(lj, "emit")) != NULL) {
    size_t o = push_key(c, "emit");
    if (!cJSON_IsObject(v)) {
      return fail(c, "expected an object such as {\"rate\": 5}");
    }
    if (check_keys(c, v, emit_keys, 2, "emit") != 0) {
      return -1;
    }
    const cJSON *rate = cJSON_GetObjectItemCaseSensitive(v, "rate");
    if (rate == NULL || !cJSON_IsNumber(rate) || rate->valuedouble <= 0 ||
        rate->valuedouble > 10000) {
      push_key(c, "rate");
      return fail(c, "expected a number of messages per second, above 0 and at most 10000");
    }
    L->emit_rate = rate->valuedouble;
    L->emit_subject = "semstreams.federation.demo";
    const cJSON *subj = cJSON_GetObjectItemCaseSensitive(v, "subject");
    if (subj != NULL) {
      size_t o2 = push_key(c, "subject");
      if (get_string(c, subj, &L->emit_subject) != 0) {
        return -1;
      }
      pop(c, o2);
    }
    pop(c, o);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(lj, "nginx")) != NULL) {
    size_t o = push_key(c, "nginx");
    if (L->emulate != MH_EMULATE_NGINX) {
      return fail(c, "\"nginx\" settings need \"emulate\": \"nginx\"");
    }
    if (!cJSON_IsObject(v) || check_keys(c, v, nginx_keys, 1, "nginx") != 0) {
      return cJSON_IsObject(v) ? -1 : fail(c, "expected an object");
    }
    const cJSON *re = cJSON_GetObjectItemCaseSensitive(v, "dn_regex");
    if (re != NULL) {
      size_t o2 = push_key(c, "dn_regex");
      regex_t rx;
      if (get_string(c, re, &L->nginx_dn_regex) != 0) {
        return -1;
      }
      if (regcomp(&rx, L->nginx_dn_regex, REG_EXTENDED | REG_NOSUB) != 0) {
        return fail(c, "\"%s\" is not a POSIX extended regular expression", L->nginx_dn_regex);
      }
      regfree(&rx);
      pop(c, o2);
    }
    pop(c, o);
  }
  if (parse_location_extras(c, sc, lj, L) != 0) {
    return -1;
  }
  if (L->is_target) {
    return 0;
  }
  const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(lj, "config");
  if (cfg == NULL || !cJSON_IsObject(cfg)) {
    return fail(c,
                "\"config\" is required: the location's SemStreams configuration ({\"components\": "
                "..., \"security\": ...})");
  }
  size_t o = push_key(c, "config");
  const cJSON *sec = NULL;
  if (cfg_object(c, cfg, "security", &sec) != 0 || parse_security(c, sc, sec, L) != 0 ||
      parse_components(c, cfg_get(cfg, "components"), L) != 0) {
    return -1;
  }
  pop(c, o);
  for (size_t k = 0; k < L->num_components && L->path == NULL; k++) {
    if (L->components[k].kind == MH_COMP_WS_OUTPUT) {
      L->path = L->components[k].path;
    }
  }
  if (L->profile == NULL) {
    L->profile = L->emulate == MH_EMULATE_NGINX ? "nginx-http" : "semstreams";
  }
  return 0;
}

// resolve_links checks that every input dials a location of the scenario (or a loopback name).
static int resolve_links(struct pctx *c, struct mh_scenario *s) {
  for (size_t i = 0; i < s->num_locations; i++) {
    struct mh_location *L = &s->locations[i];
    for (size_t k = 0; k < L->num_components; k++) {
      struct mh_component *comp = &L->components[k];
      if (comp->kind != MH_COMP_WS_INPUT) {
        continue;
      }
      int found = strcasecmp(comp->url_host, "localhost") == 0 || is_loopback(comp->url_host);
      for (size_t j = 0; j < s->num_locations && !found; j++) {
        found = strcasecmp(s->locations[j].host, comp->url_host) == 0;
      }
      if (!found) {
        return mh_err_set(c->err,
                          "%s: %s.config.client.url: host \"%s\" is not a location of this "
                          "scenario (the mock resolves only scenario hosts and loopback names; "
                          "set a location's \"host\")",
                          c->file, comp->json_path, comp->url_host);
      }
    }
  }
  return 0;
}

// --- matrix and explicit cases ---

static int spec_identity(const struct mh_pki_spec *spec, const char *name, int want_ca) {
  for (size_t i = 0; i < spec->num_entities; i++) {
    if (spec->entities[i].is_ca == want_ca && strcmp(spec->entities[i].name, name) == 0) {
      return (int)i;
    }
  }
  return -1;
}

static int parse_version_keyword(struct pctx *c, const cJSON *v, int *out) {
  const char *s;
  if (get_string(c, v, &s) != 0) {
    return -1;
  }
  if (strcmp(s, "1.2") != 0 && strcmp(s, "1.3") != 0) {
    return fail(c, "\"%s\": a version is \"1.2\" or \"1.3\"", s);
  }
  *out = strcmp(s, "1.3") == 0 ? MH_TLS13 : MH_TLS12;
  return 0;
}

// check_server_location: a matrix or case target must serve TLS (a mock with an output, or an
// external target).
static int check_server_location(struct pctx *c, const struct mh_scenario *s, const char *name) {
  const struct mh_location *L = mh_location_find(s, name);
  if (L == NULL) {
    return fail(c, "\"%s\" is not a location of this scenario", name);
  }
  int has_output = L->is_target;
  for (size_t k = 0; k < L->num_components; k++) {
    has_output |= L->components[k].kind == MH_COMP_WS_OUTPUT;
  }
  if (!has_output || !L->server_tls) {
    return fail(c,
                "\"%s\" serves no TLS endpoint to probe (it needs a websocket output with "
                "tls.server.enabled, or \"target\")",
                name);
  }
  return 0;
}

static int check_identity(struct pctx *c, const struct mh_scenario *s, const char *name, int ca) {
  if (!ca && strcmp(name, "none") == 0) {
    return 0;
  }
  if (spec_identity(&s->spec, name, ca) < 0) {
    return fail(c, "\"%s\" is not %s of the fixture spec %s", name, ca ? "a CA" : "an identity",
                s->spec_file);
  }
  return 0;
}

static int parse_matrix(struct pctx *c, const cJSON *m, struct mh_scenario *s) {
  size_t o = push_key(c, "matrix");
  if (!cJSON_IsObject(m)) {
    return fail(c, "expected an object");
  }
  if (check_keys(c, m, matrix_keys, sizeof(matrix_keys) / sizeof(matrix_keys[0]), "a matrix") !=
      0) {
    return -1;
  }
  struct mh_matrix *x = &s->matrix;
  s->has_matrix = 1;
  static const char *const required[] = {"targets", "identities", "versions"};
  for (size_t i = 0; i < 3; i++) {
    if (cJSON_GetObjectItemCaseSensitive(m, required[i]) == NULL) {
      return fail(c, "\"%s\" is required", required[i]);
    }
  }
  size_t o2 = push_key(c, "targets");
  if (get_string_array(c, cJSON_GetObjectItemCaseSensitive(m, "targets"),
                       (const char ***)&x->targets, &x->num_targets) != 0) {
    return -1;
  }
  for (size_t i = 0; i < x->num_targets; i++) {
    size_t o3 = push_index(c, i);
    if (check_server_location(c, s, x->targets[i]) != 0) {
      return -1;
    }
    pop(c, o3);
  }
  pop(c, o2);
  o2 = push_key(c, "identities");
  if (get_string_array(c, cJSON_GetObjectItemCaseSensitive(m, "identities"),
                       (const char ***)&x->identities, &x->num_identities) != 0) {
    return -1;
  }
  for (size_t i = 0; i < x->num_identities; i++) {
    size_t o3 = push_index(c, i);
    if (check_identity(c, s, x->identities[i], 0) != 0) {
      return -1;
    }
    pop(c, o3);
  }
  pop(c, o2);
  o2 = push_key(c, "versions");
  const cJSON *vs = cJSON_GetObjectItemCaseSensitive(m, "versions");
  if (!cJSON_IsArray(vs) || cJSON_GetArraySize(vs) < 1 || cJSON_GetArraySize(vs) > 2) {
    return fail(c, "expected [\"1.2\", \"1.3\"] or one of them");
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, vs) {
    size_t o3 = push_index(c, x->num_versions);
    if (parse_version_keyword(c, it, &x->versions[x->num_versions]) != 0) {
      return -1;
    }
    x->num_versions++;
    pop(c, o3);
  }
  pop(c, o2);
  const cJSON *v;
  if ((v = cJSON_GetObjectItemCaseSensitive(m, "min_tls13_check")) != NULL) {
    o2 = push_key(c, "min_tls13_check");
    if (get_bool(c, v, &x->min_tls13_check) != 0) {
      return -1;
    }
    pop(c, o2);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(m, "wrong_server_name")) != NULL) {
    o2 = push_key(c, "wrong_server_name");
    if (get_string(c, v, &x->wrong_server_name) != 0) {
      return -1;
    }
    pop(c, o2);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(m, "cn_only_identity")) != NULL) {
    o2 = push_key(c, "cn_only_identity");
    if (get_string(c, v, &x->cn_only_identity) != 0 ||
        check_identity(c, s, x->cn_only_identity, 0) != 0) {
      return -1;
    }
    pop(c, o2);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(m, "untrusted_ca")) != NULL) {
    o2 = push_key(c, "untrusted_ca");
    if (get_string(c, v, &x->untrusted_ca) != 0 || check_identity(c, s, x->untrusted_ca, 1) != 0) {
      return -1;
    }
    pop(c, o2);
  }
  pop(c, o);
  return 0;
}

static int parse_expect(struct pctx *c, const cJSON *e, struct mh_case_spec *k) {
  size_t o = push_key(c, "expect");
  if (!cJSON_IsObject(e)) {
    return fail(c, "expected an object such as {\"result\": \"reject\", \"alerts\": [42]}");
  }
  if (check_keys(c, e, expect_keys, sizeof(expect_keys) / sizeof(expect_keys[0]), "expect") != 0) {
    return -1;
  }
  k->has_expect = 1;
  k->expect_reason = -1;
  k->expect_layer = -1;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "result");
  const char *str;
  size_t o2 = push_key(c, "result");
  if (v == NULL || get_string(c, v, &str) != 0) {
    return v == NULL ? fail(c, "\"accept\" or \"reject\" is required") : -1;
  }
  if (strcmp(str, "accept") != 0 && strcmp(str, "reject") != 0) {
    return fail(c, "\"%s\": use \"accept\" or \"reject\"", str);
  }
  k->expect_reject = strcmp(str, "reject") == 0;
  pop(c, o2);
  if ((v = cJSON_GetObjectItemCaseSensitive(e, "reason")) != NULL) {
    o2 = push_key(c, "reason");
    if (get_string(c, v, &str) != 0) {
      return -1;
    }
    if ((k->expect_reason = mh_reason_from_name(str)) < 0) {
      return fail(c, "unknown reason \"%s\" (see docs/runner.md)", str);
    }
    pop(c, o2);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(e, "layer")) != NULL) {
    o2 = push_key(c, "layer");
    if (get_string(c, v, &str) != 0) {
      return -1;
    }
    if (strcmp(str, "tls") != 0 && strcmp(str, "http") != 0) {
      return fail(c, "\"%s\": use \"tls\" or \"http\"", str);
    }
    k->expect_layer = strcmp(str, "tls") == 0 ? MH_LAYER_TLS : MH_LAYER_HTTP;
    pop(c, o2);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(e, "alerts")) != NULL) {
    o2 = push_key(c, "alerts");
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > 8) {
      return fail(c, "expected up to 8 alert codes, e.g. [42, 116]");
    }
    cJSON_ArrayForEach(e, v) {
      int64_t code;
      size_t o3 = push_index(c, k->num_expect_alerts);
      if (get_int(c, e, 0, 255, &code) != 0) {
        return -1;
      }
      k->expect_alerts[k->num_expect_alerts++] = (int)code;
      pop(c, o3);
    }
    pop(c, o2);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(e, "status")) != NULL) {
    o2 = push_key(c, "status");
    int64_t st;
    if (get_int(c, v, 100, 599, &st) != 0) {
      return -1;
    }
    k->expect_status = (int)st;
    pop(c, o2);
  }
  pop(c, o);
  return 0;
}

static int parse_cases(struct pctx *c, const cJSON *arr, struct mh_scenario *s) {
  size_t o = push_key(c, "cases");
  if (!cJSON_IsArray(arr)) {
    return fail(c, "expected an array of cases");
  }
  size_t n = (size_t)cJSON_GetArraySize(arr);
  s->cases = mh_arena_alloc_array(c->a, n + 1, sizeof(*s->cases));
  if (s->cases == NULL) {
    return fail(c, "out of memory");
  }
  const cJSON *cj;
  cJSON_ArrayForEach(cj, arr) {
    size_t o2 = push_index(c, s->num_cases);
    struct mh_case_spec *k = &s->cases[s->num_cases];
    if (!cJSON_IsObject(cj)) {
      return fail(c, "expected an object");
    }
    if (check_keys(c, cj, case_keys, sizeof(case_keys) / sizeof(case_keys[0]), "a case") != 0) {
      return -1;
    }
    static const char *const required[] = {"name", "target", "version"};
    for (size_t i = 0; i < 3; i++) {
      if (cJSON_GetObjectItemCaseSensitive(cj, required[i]) == NULL) {
        return fail(c, "\"%s\" is required", required[i]);
      }
    }
    const char **fields[] = {&k->id,          &k->target,   &k->identity,
                             &k->server_name, &k->trust_ca, &k->server_identity};
    static const char *const names[] = {"name",        "target",   "identity",
                                        "server_name", "trust_ca", "server_identity"};
    for (size_t i = 0; i < 6; i++) {
      const cJSON *v = cJSON_GetObjectItemCaseSensitive(cj, names[i]);
      if (v == NULL) {
        continue;
      }
      size_t o3 = push_key(c, names[i]);
      if (get_string(c, v, fields[i]) != 0) {
        return -1;
      }
      if ((i == 1 && check_server_location(c, s, k->target) != 0) ||
          ((i == 2 || i == 5) && check_identity(c, s, *fields[i], 0) != 0) ||
          (i == 4 && check_identity(c, s, k->trust_ca, 1) != 0)) {
        return -1;
      }
      pop(c, o3);
    }
    for (size_t j = 0; j < s->num_cases; j++) {
      if (strcmp(s->cases[j].id, k->id) == 0) {
        push_key(c, "name");
        return fail(c, "\"%s\" names another case too", k->id);
      }
    }
    if (k->identity != NULL && strcmp(k->identity, "none") == 0) {
      k->identity = NULL;
    }
    size_t o3 = push_key(c, "version");
    if (parse_version_keyword(c, cJSON_GetObjectItemCaseSensitive(cj, "version"), &k->version) !=
        0) {
      return -1;
    }
    pop(c, o3);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cj, "min_tls13");
    if (v != NULL) {
      o3 = push_key(c, "min_tls13");
      if (get_bool(c, v, &k->min_tls13) != 0) {
        return -1;
      }
      pop(c, o3);
    }
    const struct mh_location *L = mh_location_find(s, k->target);
    if ((k->min_tls13 || k->server_identity != NULL) && L->is_target) {
      return fail(c,
                  "\"min_tls13\" and \"server_identity\" need a mock target: the harness cannot "
                  "reconfigure an external one");
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(cj, "expect")) != NULL &&
        parse_expect(c, v, k) != 0) {
      return -1;
    }
    s->num_cases++;
    pop(c, o2);
  }
  pop(c, o);
  return 0;
}

const struct mh_location *mh_location_find(const struct mh_scenario *s, const char *name) {
  for (size_t i = 0; i < s->num_locations; i++) {
    if (strcmp(s->locations[i].name, name) == 0) {
      return &s->locations[i];
    }
  }
  return NULL;
}

static int parse_scenario_doc(struct pctx *c, struct sctx *sc, const cJSON *root,
                              const struct mh_scenario_options *opts) {
  struct mh_scenario *s = sc->s;
  if (!cJSON_IsObject(root)) {
    return fail(c, "a scenario must be a JSON object, found %s", json_type_name(root));
  }
  if (check_keys(c, root, scenario_keys, sizeof(scenario_keys) / sizeof(scenario_keys[0]),
                 "a scenario") != 0) {
    return -1;
  }
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "name");
  if (v == NULL) {
    return fail(c, "\"name\" is required (it names the run and its reports)");
  }
  size_t o = push_key(c, "name");
  if (get_string(c, v, &s->name) != 0 || check_name(c, s->name) != 0) {
    return -1;
  }
  pop(c, o);
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "description")) != NULL) {
    o = push_key(c, "description");
    if (get_string(c, v, &s->description) != 0) {
      return -1;
    }
    pop(c, o);
  }
  s->certs_dir = DEFAULT_CERTS_DIR;
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "certs_dir")) != NULL) {
    o = push_key(c, "certs_dir");
    if (get_string(c, v, &s->certs_dir) != 0) {
      return -1;
    }
    if (s->certs_dir[0] != '/' || s->certs_dir[strlen(s->certs_dir) - 1] == '/') {
      return fail(c, "\"%s\" must be an absolute directory without a trailing / (e.g. \"/certs\")",
                  s->certs_dir);
    }
    pop(c, o);
  }
  v = cJSON_GetObjectItemCaseSensitive(root, "fixtures");
  if (v == NULL) {
    return fail(c,
                "\"fixtures\" is required: the fixture spec, e.g. \"../fixtures/federation.json\"");
  }
  o = push_key(c, "fixtures");
  const char *spec_rel;
  if (get_string(c, v, &spec_rel) != 0) {
    return -1;
  }
  s->spec_file =
      spec_rel[0] == '/' ? spec_rel : mh_arena_sprintf(c->a, "%s/%s", sc->scenario_dir, spec_rel);
  struct mh_err spec_err;
  if (s->spec_file == NULL || mh_pki_spec_load(c->a, s->spec_file, &s->spec, &spec_err) != 0) {
    return fail(c, "%s", s->spec_file ? spec_err.msg : "out of memory");
  }
  pop(c, o);
  if (opts != NULL && opts->fixtures_dir != NULL) {
    s->fixtures_dir = opts->fixtures_dir;
  } else {
    const char *base = strrchr(s->spec_file, '/') ? strrchr(s->spec_file, '/') + 1 : s->spec_file;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".json") == 0) {
      n -= 5;
    }
    s->fixtures_dir = mh_arena_sprintf(c->a, "fixtures/out/%.*s", (int)n, base);
  }
  const cJSON *locs = cJSON_GetObjectItemCaseSensitive(root, "locations");
  o = push_key(c, "locations");
  if (locs == NULL || !cJSON_IsObject(locs) || locs->child == NULL) {
    return fail(c, "expected an object of locations, e.g. {\"location-a\": {...}}");
  }
  size_t n = (size_t)cJSON_GetArraySize(locs);
  s->locations = mh_arena_alloc_array(c->a, n, sizeof(*s->locations));
  if (s->locations == NULL) {
    return fail(c, "out of memory");
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, locs) {
    size_t o2 = push_key(c, it->string);
    if (check_name(c, it->string) != 0 ||
        parse_location(c, sc, it->string, it, &s->locations[s->num_locations]) != 0) {
      return -1;
    }
    s->num_locations++;
    pop(c, o2);
  }
  pop(c, o);
  // Two outputs may not claim the same address and port.
  for (size_t i = 0; i < s->num_locations; i++) {
    for (size_t k = 0; k < s->locations[i].num_components; k++) {
      const struct mh_component *a = &s->locations[i].components[k];
      for (size_t j = 0; j <= i && a->kind == MH_COMP_WS_OUTPUT; j++) {
        for (size_t m = 0; m < (j == i ? k : s->locations[j].num_components); m++) {
          const struct mh_component *b = &s->locations[j].components[m];
          if (b->kind == MH_COMP_WS_OUTPUT && a->port == b->port &&
              strcmp(s->locations[i].address, s->locations[j].address) == 0) {
            return mh_err_set(c->err,
                              "%s: %s: port %d on %s is also used by %s (give one location another "
                              "\"address\" such as 127.0.0.2, or another port)",
                              c->file, a->json_path, a->port, s->locations[i].address,
                              b->json_path);
          }
        }
      }
    }
  }
  if (resolve_links(c, s) != 0) {
    return -1;
  }
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "matrix");
  if (m != NULL && parse_matrix(c, m, s) != 0) {
    return -1;
  }
  const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
  return cases != NULL ? parse_cases(c, cases, s) : 0;
}

int mh_scenario_load(struct mh_arena *a, const char *path, const struct mh_scenario_options *opts,
                     struct mh_scenario *out, struct mh_err *err) {
  memset(out, 0, sizeof(*out));
  struct pctx c = {.a = a, .file = path, .path = "$", .path_len = 1, .err = err};
  struct sctx sc = {.s = out, .quiet = opts != NULL && opts->quiet};
  out->file = mh_arena_strdup(a, path);
  const char *slash = strrchr(path, '/');
  sc.scenario_dir = slash ? mh_arena_sprintf(a, "%.*s", (int)(slash - path), path) : ".";
  if (out->file == NULL || sc.scenario_dir == NULL) {
    return mh_err_set(err, "%s: out of memory", path);
  }
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    return mh_err_errno(err, "%s: cannot open the scenario (check the path)", path);
  }
  char *buf = malloc(MAX_DOC_BYTES);
  size_t n = buf ? fread(buf, 1, MAX_DOC_BYTES, f) : 0;
  int rerr = ferror(f);
  fclose(f);
  if (buf == NULL || rerr) {
    free(buf);
    return mh_err_set(err, "%s: cannot read the scenario", path);
  }
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(buf, n, &end, 0);
  int ret;
  if (root == NULL) {
    ret = json_syntax_error(&c, buf, n, end != NULL ? end : cJSON_GetErrorPtr());
  } else {
    ret = parse_scenario_doc(&c, &sc, root, opts);
  }
  cJSON_Delete(root);
  free(buf);
  return ret;
}

void mh_scenario_print_keys(FILE *out) {
#define KEYS(prefix, table) \
  { prefix, table, sizeof(table) / sizeof(table[0]) }
  static const struct {
    const char *prefix;
    const char *const *keys;
    size_t num;
  } groups[] = {
      KEYS("$.", scenario_keys),
      KEYS("$.locations.*.", location_keys),
      KEYS("$.locations.*.emit.", emit_keys),
      KEYS("$.locations.*.nginx.", nginx_keys),
      KEYS("$.matrix.", matrix_keys),
      KEYS("$.cases[].", case_keys),
      KEYS("$.cases[].expect.", expect_keys),
  };
#undef KEYS
  for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
    for (size_t i = 0; i < groups[g].num; i++) {
      fprintf(out, "%s%s\n", groups[g].prefix, groups[g].keys[i]);
    }
  }
}

int mh_scenario_parse_envelope(const char *text, size_t len, struct mh_envelope *out) {
  memset(out, 0, sizeof(*out));
  out->seq = -1;
  cJSON *root = cJSON_ParseWithLength(text, len);
  const cJSON *type = root ? cJSON_GetObjectItemCaseSensitive(root, "type") : NULL;
  if (!cJSON_IsString(type)) {
    cJSON_Delete(root);
    return -1;
  }
  snprintf(out->type, sizeof(out->type), "%s", type->valuestring);
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
  if (cJSON_IsString(id)) {
    snprintf(out->id, sizeof(out->id), "%s", id->valuestring);
  }
  const cJSON *ts = cJSON_GetObjectItemCaseSensitive(root, "timestamp");
  if (cJSON_IsNumber(ts)) {
    out->timestamp = (long long)ts->valuedouble;
  }
  const cJSON *payload = cJSON_GetObjectItemCaseSensitive(root, "payload");
  if (payload != NULL) {
    const cJSON *origin = cJSON_GetObjectItemCaseSensitive(payload, "origin");
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(payload, "seq");
    if (cJSON_IsString(origin)) {
      snprintf(out->origin, sizeof(out->origin), "%s", origin->valuestring);
    }
    if (cJSON_IsNumber(seq)) {
      out->seq = (long long)seq->valuedouble;
    }
    out->payload = cJSON_PrintUnformatted(payload);
  }
  cJSON_Delete(root);
  return 0;
}

// --- profiles and baselines ---

static char *slurp(const char *path, size_t *out_len, struct mh_err *err) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    mh_err_errno(err, "%s: cannot open", path);
    return NULL;
  }
  char *buf = malloc(MAX_DOC_BYTES);
  size_t n = buf ? fread(buf, 1, MAX_DOC_BYTES, f) : 0;
  int bad = buf == NULL || ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    mh_err_set(err, "%s: cannot read", path);
    return NULL;
  }
  *out_len = n;
  return buf;
}

static int parse_alert_list(struct pctx *c, const cJSON *v, int *out, size_t *out_num) {
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > 8) {
    return fail(c, "expected a list of up to 8 alert codes");
  }
  const cJSON *it;
  *out_num = 0;
  cJSON_ArrayForEach(it, v) {
    int64_t code;
    size_t o = push_index(c, *out_num);
    if (get_int(c, it, 0, 255, &code) != 0) {
      return -1;
    }
    out[(*out_num)++] = (int)code;
    pop(c, o);
  }
  return 0;
}

static int parse_profile_rule(struct pctx *c, const cJSON *r, struct mh_profile_rule *out) {
  if (!cJSON_IsObject(r)) {
    return fail(c,
                "expected {\"layer\": \"tls\", \"alerts\": [...]} or {\"layer\": \"http\", "
                "\"status\": N}");
  }
  const cJSON *layer = cJSON_GetObjectItemCaseSensitive(r, "layer");
  if (!cJSON_IsString(layer) ||
      (strcmp(layer->valuestring, "tls") != 0 && strcmp(layer->valuestring, "http") != 0)) {
    push_key(c, "layer");
    return fail(c, "\"tls\" or \"http\" is required");
  }
  out->set = 1;
  out->layer = strcmp(layer->valuestring, "tls") == 0 ? MH_LAYER_TLS : MH_LAYER_HTTP;
  if (out->layer == MH_LAYER_HTTP) {
    int64_t st;
    size_t o = push_key(c, "status");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "status");
    if (v == NULL || get_int(c, v, 100, 599, &st) != 0) {
      return v == NULL ? fail(c, "required for the http layer") : -1;
    }
    out->status = (int)st;
    pop(c, o);
    return 0;
  }
  size_t o = push_key(c, "alerts");
  const cJSON *al = cJSON_GetObjectItemCaseSensitive(r, "alerts");
  if (cJSON_IsArray(al)) {
    if (parse_alert_list(c, al, out->alerts12, &out->num_alerts12) != 0) {
      return -1;
    }
    memcpy(out->alerts13, out->alerts12, sizeof(out->alerts12));
    out->num_alerts13 = out->num_alerts12;
  } else if (cJSON_IsObject(al)) {
    const cJSON *v12 = cJSON_GetObjectItemCaseSensitive(al, "1.2");
    const cJSON *v13 = cJSON_GetObjectItemCaseSensitive(al, "1.3");
    if (v12 == NULL || v13 == NULL) {
      return fail(c, "give alerts for both \"1.2\" and \"1.3\"");
    }
    size_t o2 = push_key(c, "1.2");
    if (parse_alert_list(c, v12, out->alerts12, &out->num_alerts12) != 0) {
      return -1;
    }
    pop(c, o2);
    o2 = push_key(c, "1.3");
    if (parse_alert_list(c, v13, out->alerts13, &out->num_alerts13) != 0) {
      return -1;
    }
    pop(c, o2);
  } else {
    return fail(c, "expected a list of alert codes, or {\"1.2\": [...], \"1.3\": [...]}");
  }
  pop(c, o);
  return 0;
}

int mh_profile_load(struct mh_arena *a, const char *dir, const char *name, struct mh_profile *out,
                    struct mh_err *err) {
  memset(out, 0, sizeof(*out));
  char *path = mh_arena_sprintf(a, "%s/%s.json", dir, name);
  if (path == NULL) {
    return mh_err_set(err, "out of memory");
  }
  size_t len;
  char *buf = slurp(path, &len, err);
  if (buf == NULL) {
    return mh_err_set(err, "%s: no such profile \"%s\" (profiles are data files in %s)", path, name,
                      dir);
  }
  struct pctx c = {.a = a, .file = path, .path = "$", .path_len = 1, .err = err};
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
  int ret = -1;
  if (root == NULL) {
    json_syntax_error(&c, buf, len, end);
    goto out;
  }
  out->name = mh_arena_strdup(a, name);
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "description");
  out->description = cJSON_IsString(d) ? mh_arena_strdup(a, d->valuestring) : "";
  const cJSON *reasons = cJSON_GetObjectItemCaseSensitive(root, "reasons");
  size_t o = push_key(&c, "reasons");
  if (!cJSON_IsObject(reasons)) {
    fail(&c, "expected an object: reason -> rule");
    goto out;
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, reasons) {
    size_t o2 = push_key(&c, it->string);
    int r = mh_reason_from_name(it->string);
    if (r <= 0 || mh_reason_side((enum mh_reason)r) != 's') {
      fail(&c, "not a server-side rejection reason (see docs/runner.md)");
      goto out;
    }
    if (parse_profile_rule(&c, it, &out->rules[r]) != 0) {
      goto out;
    }
    pop(&c, o2);
  }
  pop(&c, o);
  ret = 0;
out:
  cJSON_Delete(root);
  free(buf);
  return ret;
}

int mh_baseline_load(struct mh_arena *a, const char *path, struct mh_baseline_entry **out,
                     size_t *out_num, struct mh_err *err) {
  size_t len;
  char *buf = slurp(path, &len, err);
  if (buf == NULL) {
    return -1;
  }
  struct pctx c = {.a = a, .file = path, .path = "$", .path_len = 1, .err = err};
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
  int ret = -1;
  if (root == NULL) {
    json_syntax_error(&c, buf, len, end);
    goto out;
  }
  const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
  const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
  if (!cJSON_IsString(schema) || strncmp(schema->valuestring, "mtls-harness/report/", 20) != 0 ||
      !cJSON_IsArray(cases)) {
    fail(&c, "not an mtls-harness report.json (no \"schema\" and \"cases\")");
    goto out;
  }
  size_t n = (size_t)cJSON_GetArraySize(cases);
  *out = mh_arena_alloc_array(a, n + 1, sizeof(**out));
  *out_num = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, cases) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
    const cJSON *verdict = cJSON_GetObjectItemCaseSensitive(it, "verdict");
    const cJSON *summary = cJSON_GetObjectItemCaseSensitive(it, "summary");
    if (!cJSON_IsString(id) || !cJSON_IsString(verdict) || !cJSON_IsString(summary)) {
      size_t o = push_key(&c, "cases");
      push_index(&c, *out_num);
      fail(&c, "a case needs \"id\", \"verdict\" and \"summary\"");
      (void)o;
      goto out;
    }
    struct mh_baseline_entry *e = &(*out)[(*out_num)++];
    e->id = mh_arena_strdup(a, id->valuestring);
    e->verdict = mh_arena_strdup(a, verdict->valuestring);
    e->outcome = mh_arena_strdup(a, summary->valuestring);
  }
  ret = 0;
out:
  cJSON_Delete(root);
  free(buf);
  return ret;
}
