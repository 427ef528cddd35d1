// scenario: the scenario parser (docs/scenarios.md): its locations, matrix and explicit cases,
// into plain data the runner and the mocks use. Each location's embedded SemStreams configuration
// is read by semstreams.c, the fixture spec it names by spec.c.
//
// The scenario's own keys are strict, like the spec's: an unknown key is an error.
#include "input/scenario.h"

#include <arpa/inet.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/case_file.h"
#include "base/net.h"
#include "base/printable.h"
#include "base/outcomes.h"
#include "input/json.h"
#include "input/policy.h"
#include "input/semstreams.h"
#include "base/tls_version.h"

#define DEFAULT_CERTS_DIR "/certs"

static const char *const location_keys[] = {
    "description", "host",          "address",       "emulate",    "emit",
    "nginx",       "config",        "faults",        "profile",    "target",
    "server_name", "ca_files",      "path",          "policy",     "bind_beyond_loopback",
    "request",     "first_read_ms", "close_wait_ms", "hot_reload", "acme_check_interval_s",
    "rotate"};
static const char *const fault_names[] = {"ignore_allowlist", "rst_on_reject"};

// parse_request_options reads how a probe asks the location: "request", "first_read_ms",
// "close_wait_ms" (docs/scenarios.md).
static int parse_request_options(struct mh_json_ctx *c, const cJSON *lj, struct mh_location *L) {
  const cJSON *v;
  if ((v = cJSON_GetObjectItemCaseSensitive(lj, "request")) != NULL) {
    size_t o = mh_json_push_key(c, "request");
    const char *kw;
    if (mh_json_get_string(c, v, &kw) != 0) {
      return -1;
    }
    int mode = mh_request_mode_from_name(kw);
    if (mode < 0) {
      return mh_json_fail(c, "\"%s\" is not a request mode: use \"websocket\", \"http\" or \"tls\"",
                          kw);
    }
    L->request = (enum mh_request_mode)mode;
    mh_json_pop(c, o);
  }
  static const char *const ms_keys[] = {"first_read_ms", "close_wait_ms"};
  int *ms_fields[] = {&L->first_read_ms, &L->close_wait_ms};
  for (size_t i = 0; i < 2; i++) {
    if ((v = cJSON_GetObjectItemCaseSensitive(lj, ms_keys[i])) != NULL) {
      size_t o = mh_json_push_key(c, ms_keys[i]);
      int64_t ms;
      if (mh_json_get_int(c, v, 1, 60000, &ms) != 0) {
        return -1;
      }
      *ms_fields[i] = (int)ms;
      mh_json_pop(c, o);
    }
  }
  return 0;
}
static const char *const emit_keys[] = {"rate", "subject"};
static const char *const nginx_keys[] = {"dn_regex"};
static const char *const scenario_keys[] = {"name",      "description", "fixtures",
                                            "certs_dir", "locations",   "matrix",
                                            "cases",     "resolve",     "acme_server"};
static const char *const matrix_keys[] = {
    "targets",           "identities",       "versions",    "min_tls13_check",
    "wrong_server_name", "cn_only_identity", "untrusted_ca"};
static const char *const case_keys[] = {"name",        "target",   "identity",        "version",
                                        "server_name", "trust_ca", "server_identity", "min_tls13",
                                        "expect"};
static const char *const expect_keys[] = {"result", "reason", "layer", "alerts", "status"};

// parse_location_options reads the keys of a mock and a target alike: faults, profile, path.
static int parse_location_options(struct mh_json_ctx *c, const cJSON *lj, struct mh_location *L) {
  const cJSON *v;
  if ((v = cJSON_GetObjectItemCaseSensitive(lj, "faults")) != NULL) {
    size_t o = mh_json_push_key(c, "faults");
    unsigned mask;
    if (mh_json_get_keyword_mask(c, v, fault_names, 2, &mask) != 0) {
      return -1;
    }
    L->fault_ignore_allowlist = (mask & 1) != 0;
    L->fault_rst_on_reject = (mask & 2) != 0;
    mh_json_pop(c, o);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(lj, "profile")) != NULL) {
    size_t o = mh_json_push_key(c, "profile");
    if (mh_json_get_string(c, v, &L->profile) != 0 || mh_json_check_name(c, L->profile) != 0) {
      return -1;
    }
    mh_json_pop(c, o);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(lj, "path")) != NULL) {
    size_t o = mh_json_push_key(c, "path");
    if (mh_json_get_string(c, v, &L->path) != 0) {
      return -1;
    }
    if (L->path[0] != '/') {
      return mh_json_fail(c, "\"%s\" must start with /", L->path);
    }
    mh_json_pop(c, o);
  }
  return parse_request_options(c, lj, L);
}

// parse_target_address reads an external target's "HOST:PORT" |target| into |L|: a DNS name, an
// IPv4 or a bracketed IPv6 address, any of them. It is resolved when each case runs, not here:
// `check` works without the network, and a name that does not resolve is a case's inconclusive
// verdict, not an input error.
static int parse_target_address(struct mh_json_ctx *c, const cJSON *target, struct mh_location *L) {
  size_t o = mh_json_push_key(c, "target");
  const char *hp;
  if (mh_json_get_string(c, target, &hp) != 0) {
    return -1;
  }
  char host[MH_NET_HOST_LEN];
  int port;
  struct mh_err err;
  if (mh_net_split_host_port(hp, host, sizeof(host), &port, &err) != 0) {
    return mh_json_fail(c, "%s", err.msg);
  }
  L->target_host = mh_arena_strdup(c->a, host);
  L->target_port = port;
  mh_json_pop(c, o);
  return L->target_host != NULL ? 0 : mh_json_fail(c, "out of memory");
}

// parse_target reads what an external target declares: where it is, the name and CA of its
// server certificate, and the policy it is meant to enforce.
static int parse_target(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc, const cJSON *lj,
                        const cJSON *target, struct mh_location *L) {
  L->is_target = 1;
  if (parse_target_address(c, target, L) != 0) {
    return -1;
  }
  if (cJSON_GetObjectItemCaseSensitive(lj, "config") != NULL ||
      cJSON_GetObjectItemCaseSensitive(lj, "emit") != NULL) {
    return mh_json_fail(
        c, "an external target has no \"config\" or \"emit\": the harness does not run it");
  }
  // server_name defaults to the host when it is a name; an address cannot be sent as SNI (RFC
  // 6066) and is seldom the name on a server certificate, so the name must then be given.
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(lj, "server_name");
  size_t o;
  if (v == NULL && mh_net_is_numeric(L->target_host)) {
    mh_json_push_key(c, "target");
    return mh_json_fail(c,
                        "\"%s\" is an address: give \"server_name\", the name on the target's "
                        "certificate (it defaults to the host only when the host is a name)",
                        L->target_host);
  }
  if (v == NULL) {
    L->server_name = L->target_host;
  } else {
    o = mh_json_push_key(c, "server_name");
    if (mh_json_get_string(c, v, &L->server_name) != 0) {
      return -1;
    }
    mh_json_pop(c, o);
  }
  L->host = L->server_name;
  o = mh_json_push_key(c, "ca_files");
  v = cJSON_GetObjectItemCaseSensitive(lj, "ca_files");
  if (v == NULL) {
    return mh_json_fail(
        c, "\"ca_files\" is required for an external target (the CA of its server certificate)");
  }
  if (mh_json_get_string_array(c, v, (const char ***)&L->target_ca_files,
                               &L->num_target_ca_files) != 0 ||
      mh_semstreams_resolve_files(c, sc, "ca_files", (const char **)L->target_ca_files,
                                  L->num_target_ca_files) != 0) {
    return -1;
  }
  mh_json_pop(c, o);
  if (L->path == NULL) {
    L->path = "/";
  }
  if (L->profile == NULL) {
    L->profile = "semstreams";
  }
  L->server.min_version = MH_TLS12;
  v = cJSON_GetObjectItemCaseSensitive(lj, "policy");
  if (v == NULL || !cJSON_IsObject(v)) {
    return mh_json_fail(
        c,
        "\"policy\" is required for an external target: the tls.server block it is meant "
        "to enforce, e.g. {\"mtls\": {\"enabled\": true, ...}}");
  }
  o = mh_json_push_key(c, "policy");
  if (mh_semstreams_parse_server_tls(c, sc, v, L, 1) != 0 || mh_policy_parse(c, sc, v, L) != 0) {
    return -1;
  }
  mh_json_pop(c, o);
  return 0;
}

// parse_location_extras reads a location's faults, profile and, for an external target, where it
// is and the policy it is meant to enforce.
static int parse_location_extras(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc,
                                 const cJSON *lj, struct mh_location *L) {
  if (parse_location_options(c, lj, L) != 0) {
    return -1;
  }
  const cJSON *target = cJSON_GetObjectItemCaseSensitive(lj, "target");
  if (target != NULL) {
    return parse_target(c, sc, lj, target, L);
  }
  static const char *const target_only[] = {"server_name", "ca_files", "policy"};
  for (size_t i = 0; i < 3; i++) {
    if (cJSON_GetObjectItemCaseSensitive(lj, target_only[i]) != NULL) {
      mh_json_push_key(c, target_only[i]);
      return mh_json_fail(c, "only an external target (\"target\": \"HOST:PORT\") has this key");
    }
  }
  return 0;
}

// parse_location_identity reads where a mock is and what it emulates: host, address, emulate.
static int parse_location_identity(struct mh_json_ctx *c, const cJSON *lj, struct mh_location *L) {
  const cJSON *v;
  if ((v = cJSON_GetObjectItemCaseSensitive(lj, "host")) != NULL) {
    size_t o = mh_json_push_key(c, "host");
    if (mh_json_get_string(c, v, &L->host) != 0) {
      return -1;
    }
    mh_json_pop(c, o);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(lj, "bind_beyond_loopback")) != NULL) {
    size_t o = mh_json_push_key(c, "bind_beyond_loopback");
    if (mh_json_get_bool(c, v, &L->bind_beyond_loopback) != 0) {
      return -1;
    }
    mh_json_pop(c, o);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(lj, "address")) != NULL) {
    size_t o = mh_json_push_key(c, "address");
    if (mh_json_get_string(c, v, &L->address) != 0) {
      return -1;
    }
    // A mock that answers on a real network is a decision, never a default.
    if (!mh_net_is_loopback(L->address) && !L->bind_beyond_loopback) {
      return mh_json_fail(c,
                          "\"%s\" is not a loopback address: mocks bind only 127.0.0.0/8 or ::1 "
                          "unless the location says \"bind_beyond_loopback\": true",
                          L->address);
    }
    mh_json_pop(c, o);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(lj, "emulate")) != NULL) {
    size_t o = mh_json_push_key(c, "emulate");
    const char *e;
    if (mh_json_get_string(c, v, &e) != 0) {
      return -1;
    }
    if (strcmp(e, "nginx") == 0) {
      L->emulate = MH_EMULATE_NGINX;
    } else if (strcmp(e, "semstreams") != 0) {
      return mh_json_fail(c, "unknown emulation \"%s\" (use \"semstreams\" or \"nginx\")", e);
    }
    mh_json_pop(c, o);
  }
  return 0;
}

// parse_emit reads "emit" |v|: the synthetic data a mock publishes.
static int parse_emit(struct mh_json_ctx *c, const cJSON *v, struct mh_location *L) {
  size_t o = mh_json_push_key(c, "emit");
  if (!cJSON_IsObject(v)) {
    return mh_json_fail(c, "expected an object such as {\"rate\": 5}");
  }
  if (mh_json_check_keys(c, v, emit_keys, 2, "emit") != 0) {
    return -1;
  }
  const cJSON *rate = cJSON_GetObjectItemCaseSensitive(v, "rate");
  if (rate == NULL || !cJSON_IsNumber(rate) || rate->valuedouble <= 0 ||
      rate->valuedouble > 10000) {
    mh_json_push_key(c, "rate");
    return mh_json_fail(c, "expected a number of messages per second, above 0 and at most 10000");
  }
  L->emit_rate = rate->valuedouble;
  L->emit_subject = "semstreams.federation.demo";
  const cJSON *subj = cJSON_GetObjectItemCaseSensitive(v, "subject");
  if (subj != NULL) {
    size_t o2 = mh_json_push_key(c, "subject");
    if (mh_json_get_string(c, subj, &L->emit_subject) != 0) {
      return -1;
    }
    mh_json_pop(c, o2);
  }
  mh_json_pop(c, o);
  return 0;
}

// parse_nginx reads "nginx" |v|: the settings of an nginx emulation.
static int parse_nginx(struct mh_json_ctx *c, const cJSON *v, struct mh_location *L) {
  size_t o = mh_json_push_key(c, "nginx");
  if (L->emulate != MH_EMULATE_NGINX) {
    return mh_json_fail(c, "\"nginx\" settings need \"emulate\": \"nginx\"");
  }
  if (!cJSON_IsObject(v) || mh_json_check_keys(c, v, nginx_keys, 1, "nginx") != 0) {
    return cJSON_IsObject(v) ? -1 : mh_json_fail(c, "expected an object");
  }
  const cJSON *re = cJSON_GetObjectItemCaseSensitive(v, "dn_regex");
  if (re != NULL) {
    size_t o2 = mh_json_push_key(c, "dn_regex");
    regex_t rx;
    if (mh_json_get_string(c, re, &L->nginx_dn_regex) != 0) {
      return -1;
    }
    if (regcomp(&rx, L->nginx_dn_regex, REG_EXTENDED | REG_NOSUB) != 0) {
      return mh_json_fail(c, "\"%s\" is not a POSIX extended regular expression",
                          L->nginx_dn_regex);
    }
    regfree(&rx);
    mh_json_pop(c, o2);
  }
  mh_json_pop(c, o);
  return 0;
}

static int parse_location(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc, const char *name,
                          const cJSON *lj, struct mh_location *L) {
  if (!cJSON_IsObject(lj)) {
    return mh_json_fail(c, "expected an object, found %s", mh_json_type_name(lj));
  }
  if (mh_json_check_keys(c, lj, location_keys, sizeof(location_keys) / sizeof(location_keys[0]),
                         "a location") != 0) {
    return -1;
  }
  L->name = mh_arena_strdup(c->a, name);
  L->json_path = mh_arena_strdup(c->a, c->path);
  if (L->name == NULL || L->json_path == NULL) {
    return mh_json_fail(c, "out of memory");
  }
  L->host = L->name;
  L->address = "127.0.0.1";
  L->emulate = MH_EMULATE_GO;
  const cJSON *v;
  if (parse_location_identity(c, lj, L) != 0 ||
      ((v = cJSON_GetObjectItemCaseSensitive(lj, "emit")) != NULL && parse_emit(c, v, L) != 0) ||
      ((v = cJSON_GetObjectItemCaseSensitive(lj, "nginx")) != NULL && parse_nginx(c, v, L) != 0) ||
      parse_location_extras(c, sc, lj, L) != 0 || mh_acme_parse_location(c, lj, &L->acme) != 0) {
    return -1;
  }
  if (L->is_target) {
    return 0;
  }
  const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(lj, "config");
  if (cfg == NULL || !cJSON_IsObject(cfg)) {
    return mh_json_fail(
        c,
        "\"config\" is required: the location's SemStreams configuration ({\"components\": "
        "..., \"security\": ...})");
  }
  size_t o = mh_json_push_key(c, "config");
  if (mh_semstreams_parse_config(c, sc, cfg, L) != 0) {
    return -1;
  }
  mh_policy_from_semstreams(L);
  mh_json_pop(c, o);
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
static int resolve_links(struct mh_json_ctx *c, struct mh_scenario *s) {
  for (size_t i = 0; i < s->num_locations; i++) {
    struct mh_location *L = &s->locations[i];
    for (size_t k = 0; k < L->num_components; k++) {
      struct mh_component *comp = &L->components[k];
      if (comp->kind != MH_COMP_WS_INPUT) {
        continue;
      }
      int found =
          strcasecmp(comp->url_host, "localhost") == 0 || mh_net_is_loopback(comp->url_host);
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

static int parse_matrix(struct mh_json_ctx *c, const cJSON *m, struct mh_scenario *s) {
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

static int parse_cases(struct mh_json_ctx *c, const cJSON *arr, struct mh_scenario *s) {
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

const struct mh_location *mh_scenario_location(const struct mh_scenario *s, const char *name) {
  for (size_t i = 0; i < s->num_locations; i++) {
    if (strcmp(s->locations[i].name, name) == 0) {
      return &s->locations[i];
    }
  }
  return NULL;
}

// parse_resolve reads the top-level "resolve": curl-style "NAME:PORT:ADDR" pins for the targets.
static int parse_resolve(struct mh_json_ctx *c, const cJSON *root, struct mh_scenario *s) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "resolve");
  if (v == NULL) {
    return 0;
  }
  size_t o = mh_json_push_key(c, "resolve");
  const char **texts;
  size_t n;
  if (mh_json_get_string_array(c, v, &texts, &n) != 0) {
    return -1;
  }
  s->pins = mh_arena_alloc_array(c->a, n > 0 ? n : 1, sizeof(*s->pins));
  if (s->pins == NULL) {
    return mh_json_fail(c, "out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    struct mh_err err;
    if (mh_net_parse_pin(texts[i], &s->pins[i], &err) != 0) {
      mh_json_push_index(c, i);
      return mh_json_fail(c, "%s", err.msg);
    }
  }
  s->num_pins = n;
  mh_json_pop(c, o);
  return 0;
}

// parse_header reads what names the scenario and where its certificates live: name,
// description, certs_dir.
static int parse_header(struct mh_json_ctx *c, const cJSON *root, struct mh_scenario *s) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "name");
  if (v == NULL) {
    return mh_json_fail(c, "\"name\" is required (it names the run and its reports)");
  }
  size_t o = mh_json_push_key(c, "name");
  if (mh_json_get_string(c, v, &s->name) != 0 || mh_json_check_name(c, s->name) != 0) {
    return -1;
  }
  mh_json_pop(c, o);
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "description")) != NULL) {
    o = mh_json_push_key(c, "description");
    if (mh_json_get_string(c, v, &s->description) != 0) {
      return -1;
    }
    mh_json_pop(c, o);
  }
  s->certs_dir = DEFAULT_CERTS_DIR;
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "certs_dir")) != NULL) {
    o = mh_json_push_key(c, "certs_dir");
    if (mh_json_get_string(c, v, &s->certs_dir) != 0) {
      return -1;
    }
    if (s->certs_dir[0] != '/' || s->certs_dir[strlen(s->certs_dir) - 1] == '/') {
      return mh_json_fail(
          c, "\"%s\" must be an absolute directory without a trailing / (e.g. \"/certs\")",
          s->certs_dir);
    }
    mh_json_pop(c, o);
  }
  return 0;
}

// parse_fixtures loads the fixture spec the scenario names, and decides where its fixtures live.
static int parse_fixtures(struct mh_json_ctx *c, const struct mh_semstreams_ctx *sc,
                          const cJSON *root, const struct mh_scenario_options *opts,
                          struct mh_scenario *s) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "fixtures");
  if (v == NULL) {
    return mh_json_fail(
        c, "\"fixtures\" is required: the fixture spec, e.g. \"../fixtures/federation.json\"");
  }
  size_t o = mh_json_push_key(c, "fixtures");
  const char *spec_rel;
  if (mh_json_get_string(c, v, &spec_rel) != 0) {
    return -1;
  }
  s->spec_file =
      spec_rel[0] == '/' ? spec_rel : mh_arena_sprintf(c->a, "%s/%s", sc->scenario_dir, spec_rel);
  struct mh_err spec_err;
  if (s->spec_file == NULL || mh_pki_spec_load(c->a, s->spec_file, &s->spec, &spec_err) != 0) {
    return mh_json_fail(c, "%s", s->spec_file ? spec_err.msg : "out of memory");
  }
  mh_json_pop(c, o);
  if (opts != NULL && opts->fixtures_dir != NULL) {
    s->fixtures_dir = opts->fixtures_dir;
  } else if (opts != NULL && opts->fixtures_dir_for != NULL) {
    s->fixtures_dir = opts->fixtures_dir_for(opts->arg, c->a, s->name);
  } else {
    const char *base = strrchr(s->spec_file, '/') ? strrchr(s->spec_file, '/') + 1 : s->spec_file;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".json") == 0) {
      n -= 5;
    }
    s->fixtures_dir = mh_arena_sprintf(c->a, "fixtures/out/%.*s", (int)n, base);
  }
  return s->fixtures_dir != NULL ? 0 : mh_json_fail(c, "out of memory");
}

// parse_locations reads every location of the scenario.
static int parse_locations(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc, const cJSON *root,
                           struct mh_scenario *s) {
  const cJSON *locs = cJSON_GetObjectItemCaseSensitive(root, "locations");
  size_t o = mh_json_push_key(c, "locations");
  if (locs == NULL || !cJSON_IsObject(locs) || locs->child == NULL) {
    return mh_json_fail(c, "expected an object of locations, e.g. {\"location-a\": {...}}");
  }
  size_t n = (size_t)cJSON_GetArraySize(locs);
  s->locations = mh_arena_alloc_array(c->a, n, sizeof(*s->locations));
  if (s->locations == NULL) {
    return mh_json_fail(c, "out of memory");
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, locs) {
    size_t o2 = mh_json_push_key(c, it->string);
    if (mh_json_check_name(c, it->string) != 0 ||
        parse_location(c, sc, it->string, it, &s->locations[s->num_locations]) != 0) {
      return -1;
    }
    s->num_locations++;
    mh_json_pop(c, o2);
  }
  mh_json_pop(c, o);
  return 0;
}

// check_ports refuses two outputs that claim the same address and port.
static int check_ports(struct mh_json_ctx *c, const struct mh_scenario *s) {
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
  return 0;
}

// parse_acme_server reads "acme_server" (input/acme.c), before the locations that name its root.
static int parse_acme_server(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc, const cJSON *root,
                             struct mh_scenario *s) {
  struct mh_pebble_config *pc = NULL;
  if (mh_acme_parse_server(c, sc, root, &pc) != 0) {
    return -1;
  }
  s->pebble = pc;
  return 0;
}

static int parse_scenario_doc(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc,
                              struct mh_scenario *s, const cJSON *root,
                              const struct mh_scenario_options *opts) {
  if (!cJSON_IsObject(root)) {
    return mh_json_fail(c, "a scenario must be a JSON object, found %s", mh_json_type_name(root));
  }
  if (mh_json_check_keys(c, root, scenario_keys, sizeof(scenario_keys) / sizeof(scenario_keys[0]),
                         "a scenario") != 0 ||
      parse_header(c, root, s) != 0 || parse_resolve(c, root, s) != 0 ||
      parse_fixtures(c, sc, root, opts, s) != 0 || parse_acme_server(c, sc, root, s) != 0 ||
      parse_locations(c, sc, root, s) != 0 || check_ports(c, s) != 0 || resolve_links(c, s) != 0) {
    return -1;
  }
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "matrix");
  if (m != NULL && parse_matrix(c, m, s) != 0) {
    return -1;
  }
  const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
  return cases != NULL ? parse_cases(c, cases, s) : 0;
}

int mh_scenario_parse(struct mh_arena *a, const char *path, const char *text, size_t len,
                      const struct mh_scenario_options *opts, struct mh_scenario *out,
                      struct mh_err *err) {
  memset(out, 0, sizeof(*out));
  struct mh_json_ctx c;
  mh_json_ctx_init(&c, a, path, err);
  struct mh_semstreams_ctx sc = {.s = out, .quiet = opts != NULL && opts->quiet};
  out->file = mh_arena_strdup(a, path);
  const char *slash = strrchr(path, '/');
  sc.scenario_dir = slash ? mh_arena_sprintf(a, "%.*s", (int)(slash - path), path) : ".";
  if (out->file == NULL || sc.scenario_dir == NULL) {
    return mh_err_set(err, "%s: out of memory", path);
  }
  cJSON *root = mh_json_parse(&c, text, len);
  int ret = root != NULL ? parse_scenario_doc(&c, &sc, out, root, opts) : -1;
  cJSON_Delete(root);
  return ret;
}

int mh_scenario_load(struct mh_arena *a, const char *path, const struct mh_scenario_options *opts,
                     struct mh_scenario *out, struct mh_err *err) {
  memset(out, 0, sizeof(*out));
  char *text;
  size_t len;
  if (mh_json_read_file(path, "scenario", &text, &len, err) != 0) {
    return -1;
  }
  int ret = mh_scenario_parse(a, path, text, len, opts, out, err);
  free(text);
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
  mh_policy_print_keys(out, "$.locations.*.policy.");
  mh_acme_print_keys(out);
}

void mh_scenario_fixture_path(const struct mh_scenario *s, const char *rel, char *out,
                              size_t out_len) {
  mh_pki_spec_file(&s->spec, s->fixtures_dir, rel, out, out_len);
}
