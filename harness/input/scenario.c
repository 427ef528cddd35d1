// scenario: the scenario parser (docs/scenarios.md): its locations, matrix and explicit cases,
// into plain data the runner and the mocks use. The matrix and the cases are read by
// scenario_cases.c, each location's embedded SemStreams configuration by semstreams.c, the fixture
// spec it names by pki_spec.c.
//
// The scenario's own keys are strict, like the spec's: an unknown key is an error.
#include "input/scenario.h"

#include <arpa/inet.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/net.h"
#include "base/outcomes.h"
#include "input/json.h"
#include "input/policy.h"
#include "input/scenario_internal.h"
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

// parse_location_options reads the keys of a mock and a target alike: faults, profile, path.
static int parse_location_options(struct mh_json_ctx *c, const struct mh_semstreams_ctx *sc,
                                  const cJSON *lj, struct mh_location *L) {
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
    if (mh_json_get_string(c, v, &L->profile) != 0) {
      return -1;
    }
    // A shipped profile by name, or a profile file by path (relative to the scenario): an
    // observed profile (<out>/profiles/<target>.json) pinned.
    size_t n = strlen(L->profile);
    if (strchr(L->profile, '/') != NULL || (n > 5 && strcmp(L->profile + n - 5, ".json") == 0)) {
      L->profile_file = L->profile[0] == '/'
                            ? L->profile
                            : mh_arena_sprintf(c->a, "%s/%s", sc->scenario_dir, L->profile);
      if (L->profile_file == NULL) {
        return mh_json_fail(c, "out of memory");
      }
    } else if (mh_json_check_name(c, L->profile) != 0) {
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
  // No profile: none. The target's manner of refusal is recorded, not judged, and the probe
  // sends a plain HTTP request (a WebSocket upgrade is SemStreams' own).
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
  if (parse_location_options(c, sc, lj, L) != 0) {
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
  if (m != NULL && scenario_parse_matrix(c, m, s) != 0) {
    return -1;
  }
  const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
  return cases != NULL ? scenario_parse_cases(c, cases, s) : 0;
}

// is_semstreams_config says whether JSON path |path| is a location's embedded SemStreams
// configuration ("$.locations.<name>.config"), which is read as Go reads it.
static int is_semstreams_config(const char *path) {
  static const char prefix[] = "$.locations.";
  if (strncmp(path, prefix, sizeof(prefix) - 1) != 0) {
    return 0;
  }
  const char *dot = strchr(path + sizeof(prefix) - 1, '.');
  return dot != NULL && strcmp(dot, ".config") == 0;
}

int mh_scenario_parse(struct mh_arena *a, const char *path, const char *text, size_t len,
                      const struct mh_scenario_options *opts, struct mh_scenario *out,
                      struct mh_err *err) {
  memset(out, 0, sizeof(*out));
  struct mh_json_ctx c;
  mh_json_ctx_init(&c, a, path, err);
  c.go_object = is_semstreams_config;
  c.quiet = opts != NULL && opts->quiet;
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
  };
#undef KEYS
  for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
    for (size_t i = 0; i < groups[g].num; i++) {
      fprintf(out, "%s%s\n", groups[g].prefix, groups[g].keys[i]);
    }
  }
  mh_scenario_cases_print_keys(out);
  mh_policy_print_keys(out, "$.locations.*.policy.");
  mh_acme_print_keys(out);
}

void mh_scenario_fixture_path(const struct mh_scenario *s, const char *rel, char *out,
                              size_t out_len) {
  mh_pki_spec_file(&s->spec, s->fixtures_dir, rel, out, out_len);
}
