// acme: the ACME parts of a scenario (see acme.h): the real config's acme blocks with
// acme.Config.Validate's words, the harness's ACME and rotation keys of a location, and the pebble
// a scenario starts.
#include "input/acme.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "input/json.h"
#include "input/scenario.h"
#include "input/semstreams.h"

static const char *const pebble_keys[] = {"listen",      "management", "http_port",
                                          "tls_port",    "dns",        "certificate",
                                          "private_key", "validity_s", "root_file"};
static const char *const rotate_keys[] = {"at_s", "new_key"};

int mh_acme_go_duration(const char *s, double *out_s) {
  static const struct {
    const char *unit;
    double seconds;
  } units[] = {{"ns", 1e-9}, {"us", 1e-6}, {"\xc2\xb5s", 1e-6}, {"\xce\xbcs", 1e-6},
               {"ms", 1e-3}, {"s", 1},     {"m", 60},           {"h", 3600}};
  double total = 0;
  int neg = 0;
  if (*s == '-' || *s == '+') {
    neg = *s++ == '-';
  }
  if (strcmp(s, "0") == 0) {
    *out_s = 0;
    return 0;
  }
  if (*s == '\0') {
    return -1;
  }
  while (*s != '\0') {
    if (!((*s >= '0' && *s <= '9') || *s == '.')) {
      return -1;  // Go wants a number before every unit
    }
    char *end;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v)) {
      return -1;
    }
    s = end;
    size_t best = 0, best_len = 0;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
      size_t n = strlen(units[i].unit);
      if (strncmp(s, units[i].unit, n) == 0 && n > best_len) {
        best = i;
        best_len = n;
      }
    }
    if (best_len == 0) {
      return -1;  // "missing unit" or an unknown one
    }
    total += v * units[best].seconds;
    s += best_len;
  }
  *out_s = neg ? -total : total;
  return 0;
}

// acme_string reads an optional string of |obj| (absent or null: NULL).
static int acme_string(struct mh_json_ctx *c, const cJSON *obj, const char *key, const char **out) {
  const cJSON *v = cJSON_GetObjectItem(obj, key);  // case-insensitive, as Go
  *out = NULL;
  if (v == NULL || cJSON_IsNull(v)) {
    return 0;
  }
  if (!cJSON_IsString(v)) {
    size_t old = mh_json_push_key(c, key);
    mh_json_fail(c, "expected a string, found %s", mh_json_type_name(v));
    mh_json_pop(c, old);
    return -1;
  }
  *out = mh_arena_strdup(c->a, v->valuestring);  // the tree goes when parsing ends
  return *out != NULL ? 0 : mh_json_fail(c, "out of memory");
}

// validate reproduces acme.Config.Validate, in its order and words; the hint after the words says
// which field to set.
static int validate(struct mh_json_ctx *c, const char *field, const struct mh_acme_config *a,
                    const char *challenge) {
  const char *words = NULL, *key = NULL;
  if (a->directory_url == NULL || a->directory_url[0] == '\0') {
    words = "directory_url is required";
    key = "directory_url";
  } else if (a->email == NULL || a->email[0] == '\0') {
    words = "email is required";
    key = "email";
  } else if (a->num_domains == 0) {
    words = "at least one domain is required";
    key = "domains";
  } else if (challenge != NULL && strcmp(challenge, "http-01") != 0 &&
             strcmp(challenge, "tls-alpn-01") != 0) {
    words = "challenge_type must be 'http-01' or 'tls-alpn-01'";
    key = "challenge_type";
  } else if (a->storage_path == NULL || a->storage_path[0] == '\0') {
    words = "storage_path is required";
    key = "storage_path";
  }
  if (words == NULL) {
    return 0;
  }
  return mh_json_fail(c, "%s (acme.Config.Validate; set %s.%s)", words, field, key);
}

int mh_acme_parse_config(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc, const cJSON *acme,
                         const char *role, const char *location, struct mh_acme_config **out) {
  struct mh_acme_config *a = mh_arena_alloc(c->a, sizeof(*a));
  const char *challenge = NULL, *renew = NULL, *bundle = NULL;
  char field[32];
  snprintf(field, sizeof(field), "tls.%s.acme", role);
  if (a == NULL) {
    return mh_json_fail(c, "out of memory");
  }
  memset(a, 0, sizeof(*a));
  a->role = role;
  const cJSON *d = cJSON_GetObjectItem(acme, "domains");
  if (acme_string(c, acme, "directory_url", &a->directory_url) != 0 ||
      acme_string(c, acme, "email", &a->email) != 0 ||
      acme_string(c, acme, "challenge_type", &challenge) != 0 ||
      acme_string(c, acme, "renew_before", &renew) != 0 ||
      acme_string(c, acme, "storage_path", &a->storage_path) != 0 ||
      acme_string(c, acme, "ca_bundle", &bundle) != 0) {
    return -1;
  }
  if (d != NULL && !cJSON_IsNull(d)) {
    size_t old = mh_json_push_key(c, "domains");
    if (mh_json_get_string_array(c, d, &a->domains, &a->num_domains) != 0) {
      return -1;
    }
    mh_json_pop(c, old);
  }
  // The guide documents "http-01" as the default of an absent challenge_type.
  if (challenge != NULL && challenge[0] == '\0') {
    challenge = NULL;
  }
  if (validate(c, field, a, challenge) != 0) {
    return -1;
  }
  a->tls_alpn = challenge != NULL && strcmp(challenge, "tls-alpn-01") == 0;
  // An unparseable (or absent) renew_before silently becomes 8h, as in the real code.
  if (renew == NULL || mh_acme_go_duration(renew, &a->renew_before_s) != 0) {
    a->renew_before_s = MH_ACME_DEFAULT_RENEW_BEFORE_S;
  }
  const char *base = strrchr(a->storage_path, '/');
  base = base != NULL && base[1] != '\0' ? base + 1 : a->storage_path;
  a->storage_dir = mh_arena_sprintf(c->a, "%s/acme/%s/%s", sc->s->fixtures_dir, location, base);
  if (a->storage_dir == NULL) {
    return mh_json_fail(c, "out of memory");
  }
  if (bundle != NULL && bundle[0] != '\0') {
    a->ca_bundle = bundle;
    size_t old = mh_json_push_key(c, "ca_bundle");
    char name[48];
    snprintf(name, sizeof(name), "%s.ca_bundle", field);
    if (a->ca_bundle == NULL || mh_semstreams_resolve_files(c, sc, name, &a->ca_bundle, 1) != 0) {
      return a->ca_bundle == NULL ? mh_json_fail(c, "out of memory") : -1;
    }
    mh_json_pop(c, old);
  }
  *out = a;
  return 0;
}

static int get_number(struct mh_json_ctx *c, const cJSON *obj, const char *key, double lo,
                      double hi, double *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (v == NULL) {
    return 0;
  }
  size_t old = mh_json_push_key(c, key);
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) {
    return mh_json_fail(c, "expected a number of seconds from %g to %g", lo, hi);
  }
  *out = v->valuedouble;
  mh_json_pop(c, old);
  return 0;
}

static int get_bool(struct mh_json_ctx *c, const cJSON *obj, const char *key, int *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (v == NULL) {
    return 0;
  }
  size_t old = mh_json_push_key(c, key);
  if (mh_json_get_bool(c, v, out) != 0) {
    return -1;
  }
  mh_json_pop(c, old);
  return 0;
}

int mh_acme_parse_location(struct mh_json_ctx *c, const cJSON *lj, struct mh_acme_location *out) {
  out->check_interval_s = MH_ACME_DEFAULT_CHECK_INTERVAL_S;
  out->rotate_at_s = -1;
  if (get_bool(c, lj, "hot_reload", &out->hot_reload) != 0 ||
      get_number(c, lj, "acme_check_interval_s", 0.1, 86400, &out->check_interval_s) != 0) {
    return -1;
  }
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(lj, "rotate");
  if (r == NULL) {
    return 0;
  }
  size_t old = mh_json_push_key(c, "rotate");
  if (!cJSON_IsObject(r) || mh_json_check_keys(c, r, rotate_keys, 2, "rotate") != 0) {
    return cJSON_IsObject(r) ? -1 : mh_json_fail(c, "expected {\"at_s\": 5, \"new_key\": true}");
  }
  if (cJSON_GetObjectItemCaseSensitive(r, "at_s") == NULL) {
    return mh_json_fail(c, "\"at_s\" is required: the second of the run the certificate rotates");
  }
  if (get_number(c, r, "at_s", 0, 86400, &out->rotate_at_s) != 0 ||
      get_bool(c, r, "new_key", &out->rotate_new_key) != 0) {
    return -1;
  }
  mh_json_pop(c, old);
  return 0;
}

// pebble_file resolves the fixture named by |key| (required) of |p|.
static int pebble_file(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc, const cJSON *p,
                       const char *key, const char **out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, key);
  size_t old = mh_json_push_key(c, key);
  if (v == NULL || mh_json_get_string(c, v, out) != 0) {
    return v == NULL ? mh_json_fail(c,
                                    "required: pebble's own HTTPS %s (a fixture, e.g. "
                                    "\"/certs/pebble-cert.pem\")",
                                    key)
                     : -1;
  }
  char name[64];
  snprintf(name, sizeof(name), "acme_server.pebble.%s", key);
  if (mh_semstreams_resolve_files(c, sc, name, out, 1) != 0) {
    return -1;
  }
  mh_json_pop(c, old);
  return 0;
}

static int pebble_address(struct mh_json_ctx *c, const cJSON *p, const char *key, const char *def,
                          const char **out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, key);
  *out = def;
  if (v == NULL) {
    return 0;
  }
  size_t old = mh_json_push_key(c, key);
  if (mh_json_get_string(c, v, out) != 0) {
    return -1;
  }
  // The harness sends traffic to loopback only: pebble and its DNS listen there.
  if (strncmp(*out, "127.", 4) != 0 || strchr(*out, ':') == NULL) {
    return mh_json_fail(c, "\"%s\" must be a loopback HOST:PORT such as \"%s\"", *out, def);
  }
  mh_json_pop(c, old);
  return 0;
}

static int parse_pebble(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc, const cJSON *p,
                        struct mh_pebble_config *pc) {
  double http = 5002, tls = 5001, validity = 86400;
  const char *root = NULL;
  if (!cJSON_IsObject(p) || mh_json_check_keys(c, p, pebble_keys, 9, "pebble") != 0) {
    return cJSON_IsObject(p) ? -1 : mh_json_fail(c, "expected an object of pebble's settings");
  }
  if (pebble_address(c, p, "listen", "127.0.0.1:14000", &pc->listen) != 0 ||
      pebble_address(c, p, "management", "127.0.0.1:15000", &pc->management) != 0 ||
      pebble_address(c, p, "dns", "127.0.0.1:8053", &pc->dns) != 0 ||
      get_number(c, p, "http_port", 1, 65535, &http) != 0 ||
      get_number(c, p, "tls_port", 1, 65535, &tls) != 0 ||
      get_number(c, p, "validity_s", 60, 400 * 86400, &validity) != 0 ||
      pebble_file(c, sc, p, "certificate", &pc->certificate) != 0 ||
      pebble_file(c, sc, p, "private_key", &pc->private_key) != 0) {
    return -1;
  }
  pc->http_port = (int)http;
  pc->tls_port = (int)tls;
  pc->validity_s = (long long)validity;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, "root_file");
  size_t n = strlen(sc->s->certs_dir), old = mh_json_push_key(c, "root_file");
  if (v != NULL && mh_json_get_string(c, v, &root) != 0) {
    return -1;
  }
  if (root == NULL) {
    root = mh_arena_sprintf(c->a, "%s/pebble-root.pem", sc->s->certs_dir);
  } else if (strncmp(root, sc->s->certs_dir, n) != 0 || root[n] != '/' ||
             strchr(root + n + 1, '/')) {
    return mh_json_fail(c,
                        "\"%s\" must be a file directly under certs_dir (\"%s/pebble-root.pem\")",
                        root, sc->s->certs_dir);
  }
  mh_json_pop(c, old);
  pc->root_rel = root != NULL ? root + n + 1 : NULL;
  pc->work_dir = mh_arena_sprintf(c->a, "%s/acme/pebble", sc->s->fixtures_dir);
  pc->root_file = mh_arena_sprintf(c->a, "%s/%s", sc->s->fixtures_dir, pc->root_rel);
  return pc->root_rel && pc->work_dir && pc->root_file ? 0 : mh_json_fail(c, "out of memory");
}

int mh_acme_parse_server(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc, const cJSON *root,
                         struct mh_pebble_config **out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "acme_server");
  static const char *const server_keys[] = {"pebble"};
  *out = NULL;
  if (v == NULL) {
    return 0;
  }
  size_t old = mh_json_push_key(c, "acme_server");
  if (cJSON_IsObject(v) && mh_json_check_keys(c, v, server_keys, 1, "acme_server") != 0) {
    return -1;
  }
  if (!cJSON_IsObject(v) || cJSON_GetObjectItemCaseSensitive(v, "pebble") == NULL) {
    return mh_json_fail(c,
                        "expected {\"pebble\": {...}} (an external ACME server such as step-ca "
                        "needs no key: name its directory_url in the locations' configs)");
  }
  struct mh_pebble_config *pc = mh_arena_alloc(c->a, sizeof(*pc));
  if (pc == NULL) {
    return mh_json_fail(c, "out of memory");
  }
  memset(pc, 0, sizeof(*pc));
  size_t o2 = mh_json_push_key(c, "pebble");
  if (parse_pebble(c, sc, cJSON_GetObjectItemCaseSensitive(v, "pebble"), pc) != 0) {
    return -1;
  }
  mh_json_pop(c, o2);
  mh_json_pop(c, old);
  *out = pc;
  return 0;
}

void mh_acme_print_keys(FILE *out) {
  fprintf(out, "$.acme_server\n$.acme_server.pebble\n");
  for (size_t i = 0; i < sizeof(pebble_keys) / sizeof(pebble_keys[0]); i++) {
    fprintf(out, "$.acme_server.pebble.%s\n", pebble_keys[i]);
  }
  for (size_t i = 0; i < sizeof(rotate_keys) / sizeof(rotate_keys[0]); i++) {
    fprintf(out, "$.locations.*.rotate.%s\n", rotate_keys[i]);
  }
}
