// scenario_cases: the scenario's "matrix" and "cases" (docs/scenarios.md): the cases to run,
// each checked against the locations and the fixture spec it names (see scenario_internal.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/case_file.h"
#include "base/outcomes.h"
#include "base/printable.h"
#include "base/tls_version.h"
#include "input/json.h"
#include "input/scenario_internal.h"

static const char *const matrix_keys[] = {
    "targets",           "identities",       "versions",    "min_tls13_check",
    "wrong_server_name", "cn_only_identity", "untrusted_ca"};
static const char *const case_keys[] = {"name",        "target",   "identity",        "version",
                                        "server_name", "trust_ca", "server_identity", "min_tls13",
                                        "expect"};
static const char *const expect_keys[] = {"result", "reason", "layer", "alerts", "status"};

static int spec_identity(const struct mh_pki_spec *spec, const char *name, int want_ca) {
  for (size_t i = 0; i < spec->num_entities; i++) {
    if (spec->entities[i].is_ca == want_ca && strcmp(spec->entities[i].name, name) == 0) {
      return (int)i;
    }
  }
  return -1;
}

static int parse_version_keyword(struct mh_json_ctx *c, const cJSON *v, int *out) {
  const char *s;
  if (mh_json_get_string(c, v, &s) != 0) {
    return -1;
  }
  *out = mh_tls_version_parse(s);
  if (*out == 0) {
    return mh_json_fail(c, "\"%s\": a version is \"1.2\" or \"1.3\"", s);
  }
  return 0;
}

// check_server_location: a matrix or case target must serve TLS (a mock with an output, or an
// external target).
static int check_server_location(struct mh_json_ctx *c, const struct mh_scenario *s,
                                 const char *name) {
  const struct mh_location *L = mh_scenario_location(s, name);
  if (L == NULL) {
    return mh_json_fail(c, "\"%s\" is not a location of this scenario", name);
  }
  int has_output = L->is_target;
  for (size_t k = 0; k < L->num_components; k++) {
    has_output |= L->components[k].kind == MH_COMP_WS_OUTPUT;
  }
  if (!has_output || !L->server_tls) {
    return mh_json_fail(c,
                        "\"%s\" serves no TLS endpoint to probe (it needs a websocket output with "
                        "tls.server.enabled, or \"target\")",
                        name);
  }
  return 0;
}

static int check_identity(struct mh_json_ctx *c, const struct mh_scenario *s, const char *name,
                          int ca) {
  if (!ca && strcmp(name, "none") == 0) {
    return 0;
  }
  if (spec_identity(&s->spec, name, ca) < 0) {
    return mh_json_fail(c, "\"%s\" is not %s of the fixture spec %s", name,
                        ca ? "a CA" : "an identity", s->spec_file);
  }
  return 0;
}

// check_case_file fails unless case |id| gets a file name (base/case_file.h) of at most
// MH_CASE_FILE_MAX bytes, so that `check` refuses what `run` could not write. |what| says where
// the name comes from.
static int check_case_file(struct mh_json_ctx *c, const char *id, const char *what) {
  char file[8];
  size_t n = mh_case_file_name(id, file, sizeof(file));
  if (n > MH_CASE_FILE_MAX) {
    char shown[64];
    return mh_json_fail(c,
                        "%s \"%s...\" gives a case file name of %zu bytes; at most %d (shorten "
                        "it: letters, digits, '-' and '.' take one byte, others three)",
                        what, mh_printable_copy(shown, sizeof(shown), id), n, MH_CASE_FILE_MAX);
  }
  return 0;
}

// check_matrix_files fails unless every case the matrix |x| generates gets a file name short enough
// (check_case_file): its longest id per target and identity.
static int check_matrix_files(struct mh_json_ctx *c, const struct mh_matrix *x) {
  for (size_t t = 0; t < x->num_targets; t++) {
    char id[1024];
    size_t o = mh_json_push_key(c, "targets");
    snprintf(id, sizeof(id), "%.900s/server-check:cn-only-certificate/tls1.3", x->targets[t]);
    if (check_case_file(c, id, "the matrix case") != 0) {
      return -1;
    }
    mh_json_pop(c, o);
    for (size_t i = 0; i < x->num_identities; i++) {
      o = mh_json_push_key(c, "identities");
      snprintf(id, sizeof(id), "%.500s/%.500s/tls1.3", x->targets[t], x->identities[i]);
      if (check_case_file(c, id, "the matrix case") != 0) {
        return -1;
      }
      mh_json_pop(c, o);
    }
  }
  return 0;
}

int scenario_parse_matrix(struct mh_json_ctx *c, const cJSON *m, struct mh_scenario *s) {
  size_t o = mh_json_push_key(c, "matrix");
  if (!cJSON_IsObject(m)) {
    return mh_json_fail(c, "expected an object");
  }
  if (mh_json_check_keys(c, m, matrix_keys, sizeof(matrix_keys) / sizeof(matrix_keys[0]),
                         "a matrix") != 0) {
    return -1;
  }
  struct mh_matrix *x = &s->matrix;
  s->has_matrix = 1;
  static const char *const required[] = {"targets", "identities", "versions"};
  for (size_t i = 0; i < 3; i++) {
    if (cJSON_GetObjectItemCaseSensitive(m, required[i]) == NULL) {
      return mh_json_fail(c, "\"%s\" is required", required[i]);
    }
  }
  size_t o2 = mh_json_push_key(c, "targets");
  if (mh_json_get_string_array(c, cJSON_GetObjectItemCaseSensitive(m, "targets"),
                               (const char ***)&x->targets, &x->num_targets) != 0) {
    return -1;
  }
  for (size_t i = 0; i < x->num_targets; i++) {
    size_t o3 = mh_json_push_index(c, i);
    if (check_server_location(c, s, x->targets[i]) != 0) {
      return -1;
    }
    mh_json_pop(c, o3);
  }
  mh_json_pop(c, o2);
  o2 = mh_json_push_key(c, "identities");
  if (mh_json_get_string_array(c, cJSON_GetObjectItemCaseSensitive(m, "identities"),
                               (const char ***)&x->identities, &x->num_identities) != 0) {
    return -1;
  }
  for (size_t i = 0; i < x->num_identities; i++) {
    size_t o3 = mh_json_push_index(c, i);
    if (check_identity(c, s, x->identities[i], 0) != 0) {
      return -1;
    }
    mh_json_pop(c, o3);
  }
  mh_json_pop(c, o2);
  o2 = mh_json_push_key(c, "versions");
  const cJSON *vs = cJSON_GetObjectItemCaseSensitive(m, "versions");
  if (!cJSON_IsArray(vs) || cJSON_GetArraySize(vs) < 1 || cJSON_GetArraySize(vs) > 2) {
    return mh_json_fail(c, "expected [\"1.2\", \"1.3\"] or one of them");
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, vs) {
    size_t o3 = mh_json_push_index(c, x->num_versions);
    if (parse_version_keyword(c, it, &x->versions[x->num_versions]) != 0) {
      return -1;
    }
    x->num_versions++;
    mh_json_pop(c, o3);
  }
  mh_json_pop(c, o2);
  const cJSON *v;
  if ((v = cJSON_GetObjectItemCaseSensitive(m, "min_tls13_check")) != NULL) {
    o2 = mh_json_push_key(c, "min_tls13_check");
    if (mh_json_get_bool(c, v, &x->min_tls13_check) != 0) {
      return -1;
    }
    mh_json_pop(c, o2);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(m, "wrong_server_name")) != NULL) {
    o2 = mh_json_push_key(c, "wrong_server_name");
    if (mh_json_get_string(c, v, &x->wrong_server_name) != 0) {
      return -1;
    }
    mh_json_pop(c, o2);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(m, "cn_only_identity")) != NULL) {
    o2 = mh_json_push_key(c, "cn_only_identity");
    if (mh_json_get_string(c, v, &x->cn_only_identity) != 0 ||
        check_identity(c, s, x->cn_only_identity, 0) != 0) {
      return -1;
    }
    mh_json_pop(c, o2);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(m, "untrusted_ca")) != NULL) {
    o2 = mh_json_push_key(c, "untrusted_ca");
    if (mh_json_get_string(c, v, &x->untrusted_ca) != 0 ||
        check_identity(c, s, x->untrusted_ca, 1) != 0) {
      return -1;
    }
    mh_json_pop(c, o2);
  }
  if (check_matrix_files(c, x) != 0) {
    return -1;
  }
  mh_json_pop(c, o);
  return 0;
}

static int parse_expect(struct mh_json_ctx *c, const cJSON *e, struct mh_case_spec *k) {
  size_t o = mh_json_push_key(c, "expect");
  if (!cJSON_IsObject(e)) {
    return mh_json_fail(c, "expected an object such as {\"result\": \"reject\", \"alerts\": [42]}");
  }
  if (mh_json_check_keys(c, e, expect_keys, sizeof(expect_keys) / sizeof(expect_keys[0]),
                         "expect") != 0) {
    return -1;
  }
  k->has_expect = 1;
  k->expect_reason = -1;
  k->expect_layer = -1;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "result");
  const char *str;
  size_t o2 = mh_json_push_key(c, "result");
  if (v == NULL || mh_json_get_string(c, v, &str) != 0) {
    return v == NULL ? mh_json_fail(c, "\"accept\" or \"reject\" is required") : -1;
  }
  if (strcmp(str, "accept") != 0 && strcmp(str, "reject") != 0) {
    return mh_json_fail(c, "\"%s\": use \"accept\" or \"reject\"", str);
  }
  k->expect_reject = strcmp(str, "reject") == 0;
  mh_json_pop(c, o2);
  if ((v = cJSON_GetObjectItemCaseSensitive(e, "reason")) != NULL) {
    o2 = mh_json_push_key(c, "reason");
    if (mh_json_get_string(c, v, &str) != 0) {
      return -1;
    }
    if ((k->expect_reason = mh_reason_from_name(str)) < 0) {
      return mh_json_fail(c, "unknown reason \"%s\" (see docs/runner.md)", str);
    }
    mh_json_pop(c, o2);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(e, "layer")) != NULL) {
    o2 = mh_json_push_key(c, "layer");
    if (mh_json_get_string(c, v, &str) != 0) {
      return -1;
    }
    if (strcmp(str, "tls") != 0 && strcmp(str, "http") != 0) {
      return mh_json_fail(c, "\"%s\": use \"tls\" or \"http\"", str);
    }
    k->expect_layer = strcmp(str, "tls") == 0 ? MH_LAYER_TLS : MH_LAYER_HTTP;
    mh_json_pop(c, o2);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(e, "alerts")) != NULL) {
    o2 = mh_json_push_key(c, "alerts");
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > 8) {
      return mh_json_fail(c, "expected up to 8 alert codes, e.g. [42, 116]");
    }
    cJSON_ArrayForEach(e, v) {
      int64_t code;
      size_t o3 = mh_json_push_index(c, k->num_expect_alerts);
      if (mh_json_get_int(c, e, 0, 255, &code) != 0) {
        return -1;
      }
      k->expect_alerts[k->num_expect_alerts++] = (int)code;
      mh_json_pop(c, o3);
    }
    mh_json_pop(c, o2);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(e, "status")) != NULL) {
    o2 = mh_json_push_key(c, "status");
    int64_t st;
    if (mh_json_get_int(c, v, 100, 599, &st) != 0) {
      return -1;
    }
    k->expect_status = (int)st;
    mh_json_pop(c, o2);
  }
  mh_json_pop(c, o);
  return 0;
}

// matrix_makes reports whether the matrix of |s| generates a case named |id| (the runner's ids:
// "<target>/<identity>/tls1.x" and the per-server checks), so that an explicit case cannot take
// a matrix case's name, and with it its file.
static int matrix_makes(const struct mh_scenario *s, const char *id) {
  static const char *const checks[] = {
      "tls1.2-only-client-vs-tls1.3-minimum", "server-check:wrong-name/tls1.3",
      "server-check:cn-only-certificate/tls1.3", "server-check:untrusted-server/tls1.3"};
  const struct mh_matrix *m = &s->matrix;
  for (size_t t = 0; s->has_matrix && t < m->num_targets; t++) {
    size_t n = strlen(m->targets[t]);
    if (strncmp(id, m->targets[t], n) != 0 || id[n] != '/') {
      continue;
    }
    const char *rest = id + n + 1;
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
      if (strcmp(rest, checks[i]) == 0) {
        return 1;
      }
    }
    for (size_t i = 0; i < m->num_identities; i++) {
      size_t k = strlen(m->identities[i]);
      if (strncmp(rest, m->identities[i], k) == 0 &&
          (strcmp(rest + k, "/tls1.2") == 0 || strcmp(rest + k, "/tls1.3") == 0)) {
        return 1;
      }
    }
  }
  return 0;
}

int scenario_parse_cases(struct mh_json_ctx *c, const cJSON *arr, struct mh_scenario *s) {
  size_t o = mh_json_push_key(c, "cases");
  if (!cJSON_IsArray(arr)) {
    return mh_json_fail(c, "expected an array of cases");
  }
  size_t n = (size_t)cJSON_GetArraySize(arr);
  s->cases = mh_arena_alloc_array(c->a, n + 1, sizeof(*s->cases));
  if (s->cases == NULL) {
    return mh_json_fail(c, "out of memory");
  }
  const cJSON *cj;
  cJSON_ArrayForEach(cj, arr) {
    size_t o2 = mh_json_push_index(c, s->num_cases);
    struct mh_case_spec *k = &s->cases[s->num_cases];
    if (!cJSON_IsObject(cj)) {
      return mh_json_fail(c, "expected an object");
    }
    if (mh_json_check_keys(c, cj, case_keys, sizeof(case_keys) / sizeof(case_keys[0]), "a case") !=
        0) {
      return -1;
    }
    static const char *const required[] = {"name", "target", "version"};
    for (size_t i = 0; i < 3; i++) {
      if (cJSON_GetObjectItemCaseSensitive(cj, required[i]) == NULL) {
        return mh_json_fail(c, "\"%s\" is required", required[i]);
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
      size_t o3 = mh_json_push_key(c, names[i]);
      if (mh_json_get_string(c, v, fields[i]) != 0) {
        return -1;
      }
      if ((i == 1 && check_server_location(c, s, k->target) != 0) ||
          ((i == 2 || i == 5) && check_identity(c, s, *fields[i], 0) != 0) ||
          (i == 4 && check_identity(c, s, k->trust_ca, 1) != 0)) {
        return -1;
      }
      mh_json_pop(c, o3);
    }
    for (size_t j = 0; j < s->num_cases; j++) {
      if (strcmp(s->cases[j].id, k->id) == 0) {
        char shown[256];
        mh_json_push_key(c, "name");
        return mh_json_fail(c, "\"%s\" names another case too",
                            mh_printable_copy(shown, sizeof(shown), k->id));
      }
    }
    if (matrix_makes(s, k->id)) {
      char shown[256];
      mh_json_push_key(c, "name");
      return mh_json_fail(c, "\"%s\" is the name of a matrix case too (rename the explicit case)",
                          mh_printable_copy(shown, sizeof(shown), k->id));
    }
    size_t on = mh_json_push_key(c, "name");
    if (check_case_file(c, k->id, "the case name") != 0) {
      return -1;
    }
    mh_json_pop(c, on);
    if (k->identity != NULL && strcmp(k->identity, "none") == 0) {
      k->identity = NULL;
    }
    size_t o3 = mh_json_push_key(c, "version");
    if (parse_version_keyword(c, cJSON_GetObjectItemCaseSensitive(cj, "version"), &k->version) !=
        0) {
      return -1;
    }
    mh_json_pop(c, o3);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cj, "min_tls13");
    if (v != NULL) {
      o3 = mh_json_push_key(c, "min_tls13");
      if (mh_json_get_bool(c, v, &k->min_tls13) != 0) {
        return -1;
      }
      mh_json_pop(c, o3);
    }
    const struct mh_location *L = mh_scenario_location(s, k->target);
    if ((k->min_tls13 || k->server_identity != NULL) && L->is_target) {
      return mh_json_fail(
          c,
          "\"min_tls13\" and \"server_identity\" need a mock target: the harness cannot "
          "reconfigure an external one");
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(cj, "expect")) != NULL &&
        parse_expect(c, v, k) != 0) {
      return -1;
    }
    s->num_cases++;
    mh_json_pop(c, o2);
  }
  mh_json_pop(c, o);
  return 0;
}

void mh_scenario_cases_print_keys(FILE *out) {
  static const struct {
    const char *prefix;
    const char *const *keys;
    size_t num;
  } groups[] = {
      {"$.matrix.", matrix_keys, sizeof(matrix_keys) / sizeof(matrix_keys[0])},
      {"$.cases[].", case_keys, sizeof(case_keys) / sizeof(case_keys[0])},
      {"$.cases[].expect.", expect_keys, sizeof(expect_keys) / sizeof(expect_keys[0])},
  };
  for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
    for (size_t i = 0; i < groups[g].num; i++) {
      fprintf(out, "%s%s\n", groups[g].prefix, groups[g].keys[i]);
    }
  }
}
