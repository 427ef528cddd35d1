// semstreams: the parser of a location's embedded SemStreams configuration ("config": its
// components and security blocks) into the location's plain data.
//
// This is the real system's JSON, so it is read the way Go's encoding/json reads it: unknown keys
// are ignored and key names match case-insensitively; messages reproduce SemStreams' own words
// where it has them, prefixed as the real system prefixes them.
#include "input/semstreams.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/infile.h"
#include "input/acme.h"
#include "input/scenario.h"
#include "pki/inspect.h"
#include "base/tls_version.h"

#define GO_WRAP "invalid configuration: security configuration: "

static const cJSON *cfg_get(const cJSON *obj, const char *key) {
  return cJSON_IsObject(obj) ? cJSON_GetObjectItem(obj, key) : NULL;  // case-insensitive, as Go
}

// warn_ignored prints one warning per key of |obj| (at the current path of |c|) that is none of
// the |num| |known| keys of the real system's |what|: SemStreams ignores it (Go's encoding/json
// ignores unknown fields, names matched case-insensitively), and so does the mock; the warning is
// what a typo would otherwise hide ("requre_client_cert" leaves client certificates optional).
static void warn_ignored(const struct mh_json_ctx *c, const struct mh_semstreams_ctx *sc,
                         const cJSON *obj, const char *what, const char *const *known, size_t num) {
  const cJSON *it;
  if (sc->quiet || !cJSON_IsObject(obj)) {
    return;
  }
  cJSON_ArrayForEach(it, obj) {
    size_t k = 0;
    while (k < num && strcasecmp(it->string, known[k]) != 0) {
      k++;
    }
    if (k < num) {
      continue;
    }
    const char *near = mh_json_closest(it->string, known, num);
    fprintf(
        stderr, "%s: %s.%s: warning: unknown %s key, ignored as SemStreams ignores it (%s%s%s)\n",
        c->file, c->path, it->string, what, near ? "did you mean " : "remove it", near ? near : "",
        near ? "?" : ", or check docs/scenarios.md for the keys the mock reads");
  }
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

// warn_ignored_in is warn_ignored for the object |sub|, the value of |key| of the current object.
static void warn_ignored_in(struct mh_json_ctx *c, const struct mh_semstreams_ctx *sc,
                            const cJSON *sub, const char *key, const char *what,
                            const char *const *known, size_t num) {
  size_t old = mh_json_push_key(c, key);
  warn_ignored(c, sc, sub, what, known, num);
  mh_json_pop(c, old);
}

// The keys of the real configuration's structs (pkg/security/config.go, the WebSocket
// components' configs), for warn_ignored.
static const char *const server_keys[] = {"enabled",     "mode", "cert_file", "key_file",
                                          "min_version", "acme", "mtls"};
static const char *const server_mtls_keys[] = {"enabled", "client_ca_files", "require_client_cert",
                                               "allowed_client_cns"};
static const char *const client_keys[] = {"mode",        "ca_files", "insecure_skip_verify",
                                          "min_version", "acme",     "mtls"};
static const char *const client_mtls_keys[] = {"enabled", "cert_file", "key_file"};
static const char *const acme_keys[] = {"enabled",      "directory_url",  "email",
                                        "domains",      "challenge_type", "renew_before",
                                        "storage_path", "ca_bundle"};

// cfg_* read an optional key of the real config: absent or null leaves |out| unchanged; a value of
// the wrong type is an error (Go's encoding/json would refuse it too).
static int cfg_bool(struct mh_json_ctx *c, const cJSON *obj, const char *key, int *out) {
  const cJSON *v = cfg_get(obj, key);
  if (v == NULL || cJSON_IsNull(v)) {
    return 0;
  }
  size_t old = mh_json_push_key(c, key);
  if (mh_json_get_bool(c, v, out) != 0) {
    return -1;
  }
  mh_json_pop(c, old);
  return 0;
}

static int cfg_string(struct mh_json_ctx *c, const cJSON *obj, const char *key, const char **out) {
  const cJSON *v = cfg_get(obj, key);
  if (v == NULL || cJSON_IsNull(v)) {
    return 0;
  }
  size_t old = mh_json_push_key(c, key);
  if (!cJSON_IsString(v)) {
    return mh_json_fail(c, "expected a string, found %s", mh_json_type_name(v));
  }
  *out = mh_arena_strdup(c->a, v->valuestring);
  if (*out == NULL) {
    return mh_json_fail(c, "out of memory");
  }
  mh_json_pop(c, old);
  return 0;
}

static int cfg_strings(struct mh_json_ctx *c, const cJSON *obj, const char *key, const char ***out,
                       size_t *out_num) {
  const cJSON *v = cfg_get(obj, key);
  if (v == NULL || cJSON_IsNull(v)) {
    return 0;
  }
  size_t old = mh_json_push_key(c, key);
  if (mh_json_get_string_array(c, v, out, out_num) != 0) {
    return -1;
  }
  mh_json_pop(c, old);
  return 0;
}

static int cfg_int(struct mh_json_ctx *c, const cJSON *obj, const char *key, int64_t lo, int64_t hi,
                   int64_t *out) {
  const cJSON *v = cfg_get(obj, key);
  if (v == NULL || cJSON_IsNull(v)) {
    return 0;
  }
  size_t old = mh_json_push_key(c, key);
  if (mh_json_get_int(c, v, lo, hi, out) != 0) {
    return -1;
  }
  mh_json_pop(c, old);
  return 0;
}

static int cfg_object(struct mh_json_ctx *c, const cJSON *obj, const char *key, const cJSON **out) {
  const cJSON *v = cfg_get(obj, key);
  *out = NULL;
  if (v == NULL || cJSON_IsNull(v)) {
    return 0;
  }
  if (!cJSON_IsObject(v)) {
    size_t old = mh_json_push_key(c, key);
    mh_json_fail(c, "expected an object, found %s", mh_json_type_name(v));
    mh_json_pop(c, old);
    return -1;
  }
  *out = v;
  return 0;
}

// file_exists says whether |path| names anything (or fails for another reason than absence, a
// symbolic link loop or a permission: check_file names that in its own words); what it is (a
// directory) check_file says.
static int file_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 || (errno != ENOENT && errno != ENOTDIR);
}

// is_ca_field says whether |field| (the real system's name, e.g. "tls.client.ca_files[0]") names
// a CA file: the certificates that verify peers.
static int is_ca_field(const char *field) {
  return strstr(field, "ca_files[") != NULL || strstr(field, "ca_bundle") != NULL;
}

// check_file checks an operator's file (not a fixture) named by |field| before anything else is
// done, so that `check` finds what the mocks would refuse: a key by its field's name, a
// certificate, or a CA file.
static int check_file(struct mh_json_ctx *c, const char *field, const char *path) {
  size_t n = strlen(field);
  int is_key = n >= 8 && strcmp(field + n - 8, "key_file") == 0;
  int is_cert = n >= 9 && strcmp(field + n - 9, "cert_file") == 0;
  int is_crl = strstr(field, "crl_files[") != NULL;
  struct mh_err why;
  if (mh_infile_check(path,
                      is_key    ? "private key"
                      : is_cert ? "certificate"
                      : is_crl  ? "CRL file"
                                : "CA file",
                      is_key    ? MH_INFILE_KEY
                      : is_cert ? MH_INFILE_CERT
                      : is_crl  ? MH_INFILE_CRL
                                : MH_INFILE_CERT | MH_INFILE_CA,
                      &why) != 0 ||
      (is_ca_field(field) && mh_inspect_ca_file(path, &why) != 0)) {
    return mh_json_fail(c, "%s", why.msg);
  }
  return 0;
}

// check_fixture_ca refuses fixture |rel| named by CA field |field| when the spec entity that writes
// it is not a CA: a leaf in a CA file verifies nobody, and the run would only warn that no case
// is admitted.
static int check_fixture_ca(struct mh_json_ctx *c, const struct mh_scenario *s, const char *field,
                            const char *p, const char *rel) {
  const struct mh_pki_entity *e = mh_pki_spec_owner(&s->spec, rel);
  if (!is_ca_field(field) || e == NULL || e->is_ca) {
    return 0;
  }
  const struct mh_pki_entity *ca = e->issuer >= 0 ? &s->spec.entities[e->issuer] : NULL;
  char instead[512] = "a CA's certificate";
  if (ca != NULL) {
    snprintf(instead, sizeof(instead), "%s/%s, its issuer's", s->certs_dir, ca->cert_file);
  } else {  // imported: its issuer is not the spec's to know; the spec's CAs are the candidates
    size_t n = 0;
    for (size_t i = 0; i < s->spec.num_entities && n + 1 < sizeof(instead); i++) {
      if (s->spec.entities[i].is_ca) {
        n += (size_t)snprintf(instead + n, sizeof(instead) - n, "%s%s/%s",
                              n ? " or " : "one of: ", s->certs_dir, s->spec.entities[i].cert_file);
      }
    }
  }
  return mh_json_fail(c,
                      "%s is the certificate of identity \"%s\" of %s, not a CA's: a CA file "
                      "holds the certificates of the CAs that issue the peers' certificates "
                      "(give %s)",
                      p, e->name, s->spec_file, instead);
}

// resolve_file maps a certificate path of the real config to a file on this machine: paths under
// certs_dir are fixtures (the spec must generate them); other absolute paths are used as they are;
// relative paths are relative to the scenario. |field| is the real system's name for messages.
static int resolve_file(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc, const char *field,
                        const char *p, const char **out) {
  const struct mh_scenario *s = sc->s;
  size_t n = strlen(s->certs_dir);
  if (strncmp(p, s->certs_dir, n) == 0 && p[n] == '/') {
    const char *rel = p + n + 1;
    if (s->pebble != NULL && strcmp(rel, s->pebble->root_rel) == 0) {
      *out = s->pebble->root_file;  // written when the scenario's pebble starts
      return 0;
    }
    if (!mh_pki_spec_writes(&s->spec, rel)) {
      return mh_json_fail(
          c,
          GO_WRAP
          "%s: stat %s: no such file or directory (the fixture spec %s generates no "
          "\"%s\"; name one of its outputs)",
          field, p, s->spec_file, rel);
    }
    if (check_fixture_ca(c, s, field, p, rel) != 0) {
      return -1;
    }
    char path[4096];
    mh_pki_spec_file(&s->spec, s->fixtures_dir, rel, path, sizeof(path));
    *out = mh_arena_strdup(c->a, path);
  } else {
    *out = p[0] == '/' ? p : mh_arena_sprintf(c->a, "%s/%s", sc->scenario_dir, p);
    if (*out == NULL) {
      return mh_json_fail(c, "out of memory");
    }
    if (!file_exists(*out)) {
      return mh_json_fail(c, GO_WRAP "%s: stat %s: no such file or directory", field, *out);
    }
    return check_file(c, field, *out);
  }
  return *out != NULL ? 0 : mh_json_fail(c, "out of memory");
}

// resolve_key is resolve_file for the value of |key| in the current object, reported at its path.
static int resolve_key(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc, const char *key,
                       const char *field, const char *p, const char **out) {
  size_t old = mh_json_push_key(c, key);
  if (resolve_file(c, sc, field, p, out) != 0) {
    return -1;
  }
  mh_json_pop(c, old);
  return 0;
}

static int parse_version(struct mh_json_ctx *c, const char *field, const char *v, int *out) {
  // parseTLSVersion: "1.3" is TLS 1.3; anything else, empty included, is TLS 1.2.
  if (v == NULL || v[0] == '\0') {
    *out = MH_TLS12;
    return 0;
  }
  *out = mh_tls_version_parse(v);
  if (*out == 0) {
    return mh_json_fail(c, GO_WRAP "%s: invalid TLS version \"%s\" (must be \"1.2\" or \"1.3\")",
                        field, v);
  }
  return 0;
}

int mh_semstreams_resolve_files(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc,
                                const char *field, const char **files, size_t num) {
  for (size_t i = 0; i < num; i++) {
    char name[96];
    snprintf(name, sizeof(name), "%s[%zu]", field, i);
    size_t old = mh_json_push_index(c, i);
    if (resolve_file(c, sc, name, files[i], &files[i]) != 0) {
      return -1;
    }
    mh_json_pop(c, old);
  }
  return 0;
}

// parse_server_tls reads tls.server. With |policy_only| (an external target's declared policy)
// there are no certificate files to load and TLS is implied.
int mh_semstreams_parse_server_tls(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc,
                                   const cJSON *srv, struct mh_location *L, int policy_only) {
  const char *cert = NULL, *key = NULL, *minv = NULL, *mode = NULL;
  const cJSON *mtls = NULL, *acme = NULL;
  int acme_enabled = 0;
  if (cfg_bool(c, srv, "enabled", &L->server_tls) != 0 || cfg_string(c, srv, "mode", &mode) != 0 ||
      cfg_string(c, srv, "cert_file", &cert) != 0 || cfg_string(c, srv, "key_file", &key) != 0 ||
      cfg_string(c, srv, "min_version", &minv) != 0 || cfg_object(c, srv, "mtls", &mtls) != 0 ||
      cfg_object(c, srv, "acme", &acme) != 0 || cfg_bool(c, acme, "enabled", &acme_enabled) != 0) {
    return -1;
  }
  if (!policy_only) {  // a target's declared policy refuses unknown keys (input/policy.c)
    warn_ignored(c, sc, srv, "tls.server", server_keys, COUNT(server_keys));
    warn_ignored_in(c, sc, mtls, "mtls", "tls.server.mtls", server_mtls_keys,
                    COUNT(server_mtls_keys));
    warn_ignored_in(c, sc, acme, "acme", "tls.server.acme", acme_keys, COUNT(acme_keys));
  }
  if (policy_only) {
    L->server_tls = 1;
  } else if (L->server_tls) {
    // validateSecurity checks these even in ACME mode.
    if (cert == NULL || cert[0] == '\0') {
      return mh_json_fail(c, GO_WRAP "tls.server.cert_file is required when TLS is enabled");
    }
    if (key == NULL || key[0] == '\0') {
      return mh_json_fail(c, GO_WRAP "tls.server.key_file is required when TLS is enabled");
    }
    if (resolve_key(c, sc, "cert_file", "tls.server.cert_file", cert, &L->server.cert_file) != 0 ||
        resolve_key(c, sc, "key_file", "tls.server.key_file", key, &L->server.key_file) != 0) {
      return -1;
    }
  }
  size_t old = mh_json_push_key(c, "min_version");
  if (parse_version(c, "tls.server.min_version", minv, &L->server.min_version) != 0) {
    return -1;
  }
  mh_json_pop(c, old);
  // ACME is used only when mode is "acme" and acme.enabled; otherwise the manual path runs.
  if (L->server_tls && !policy_only && mode != NULL && strcmp(mode, "acme") == 0 && acme_enabled) {
    struct mh_acme_config *a = NULL;
    old = mh_json_push_key(c, "acme");
    if (mh_acme_parse_config(c, sc, acme, "server", L->name, &a) != 0) {
      return -1;
    }
    mh_json_pop(c, old);
    L->acme.server = a;
  }
  if (mtls != NULL) {
    old = mh_json_push_key(c, "mtls");
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
      size_t old2 = mh_json_push_key(c, "client_ca_files");
      if (mh_semstreams_resolve_files(c, sc, "tls.server.mtls.client_ca_files",
                                      (const char **)L->server.client_ca_files,
                                      L->server.num_client_ca_files) != 0) {
        return -1;
      }
      mh_json_pop(c, old2);
    }
    mh_json_pop(c, old);
  }
  return 0;
}

static int parse_client_tls(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc, const cJSON *cli,
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
  warn_ignored(c, sc, cli, "tls.client", client_keys, COUNT(client_keys));
  warn_ignored_in(c, sc, mtls, "mtls", "tls.client.mtls", client_mtls_keys,
                  COUNT(client_mtls_keys));
  warn_ignored_in(c, sc, acme, "acme", "tls.client.acme", acme_keys, COUNT(acme_keys));
  size_t old = mh_json_push_key(c, "min_version");
  if (parse_version(c, "tls.client.min_version", minv, &p->min_version) != 0) {
    return -1;
  }
  mh_json_pop(c, old);
  old = mh_json_push_key(c, "ca_files");
  if (mh_semstreams_resolve_files(c, sc, "tls.client.ca_files", (const char **)p->ca_files,
                                  p->num_ca_files) != 0) {
    return -1;
  }
  mh_json_pop(c, old);
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
  if (mode != NULL && strcmp(mode, "acme") == 0 && acme_enabled) {
    struct mh_acme_config *a = NULL;
    old = mh_json_push_key(c, "acme");
    if (mh_acme_parse_config(c, sc, acme, "client", L->name, &a) != 0) {
      return -1;
    }
    mh_json_pop(c, old);
    L->acme.client = a;
  }
  if (mtls_enabled) {
    old = mh_json_push_key(c, "mtls");
    if (cfg_string(c, mtls, "cert_file", &cert) != 0 ||
        cfg_string(c, mtls, "key_file", &key) != 0) {
      return -1;
    }
    if (cert == NULL || cert[0] == '\0' || key == NULL || key[0] == '\0') {
      return mh_json_fail(
          c,
          "tlsutil.LoadClientTLSConfig: load client certificate failed: open : no such "
          "file or directory (set cert_file and key_file)");
    }
    if (resolve_key(c, sc, "cert_file", "tls.client.mtls.cert_file", cert, &p->cert_file) != 0 ||
        resolve_key(c, sc, "key_file", "tls.client.mtls.key_file", key, &p->key_file) != 0) {
      return -1;
    }
    mh_json_pop(c, old);
  }
  return 0;
}

static int parse_security(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc, const cJSON *sec,
                          struct mh_location *L) {
  L->server.min_version = MH_TLS12;
  L->client.min_version = MH_TLS12;
  L->client.system_roots = 1;
  L->server.emulate = L->emulate;
  if (sec == NULL) {
    return 0;  // Tier 1: no TLS
  }
  size_t old = mh_json_push_key(c, "security");
  const cJSON *tls = NULL, *srv = NULL, *cli = NULL;
  if (cfg_object(c, sec, "tls", &tls) != 0) {
    return -1;
  }
  static const char *const security_keys[] = {"tls"}, *const tls_keys[] = {"server", "client"};
  warn_ignored(c, sc, sec, "security", security_keys, COUNT(security_keys));
  size_t old_tls = mh_json_push_key(c, "tls");
  if (cfg_object(c, tls, "server", &srv) != 0 || cfg_object(c, tls, "client", &cli) != 0) {
    return -1;
  }
  warn_ignored(c, sc, tls, "security.tls", tls_keys, COUNT(tls_keys));
  if (srv != NULL) {
    size_t o = mh_json_push_key(c, "server");
    if (mh_semstreams_parse_server_tls(c, sc, srv, L, 0) != 0) {
      return -1;
    }
    mh_json_pop(c, o);
  }
  if (cli != NULL) {
    size_t o = mh_json_push_key(c, "client");
    if (parse_client_tls(c, sc, cli, L) != 0) {
      return -1;
    }
    mh_json_pop(c, o);
  }
  mh_json_pop(c, old_tls);
  mh_json_pop(c, old);
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
static int parse_url(struct mh_json_ctx *c, struct mh_component *k) {
  const char *u = k->url;
  const char *rest;
  if (strncmp(u, "wss://", 6) == 0) {
    k->url_tls = 1;
    rest = u + 6;
  } else if (strncmp(u, "ws://", 5) == 0) {
    rest = u + 5;
  } else {
    return mh_json_fail(c, "\"%s\": the URL must start with ws:// or wss://", u);
  }
  const char *slash = strchr(rest, '/');
  size_t hostport_len = slash ? (size_t)(slash - rest) : strlen(rest);
  char hostport[256];
  if (hostport_len == 0 || hostport_len >= sizeof(hostport)) {
    return mh_json_fail(c, "\"%s\": no host in the URL", u);
  }
  memcpy(hostport, rest, hostport_len);
  hostport[hostport_len] = '\0';
  k->url_port = k->url_tls ? 443 : 80;
  char *colon = strrchr(hostport, ':');
  if (colon != NULL && strchr(hostport, ']') < colon) {
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 1 || port > 65535) {
      return mh_json_fail(c, "\"%s\": bad port in the URL", u);
    }
    k->url_port = (int)port;
    *colon = '\0';
  }
  k->url_host = mh_arena_strdup(c->a, hostport);
  k->url_path = mh_arena_strdup(c->a, slash ? slash : "/");
  return k->url_host && k->url_path ? 0 : mh_json_fail(c, "out of memory");
}

static int parse_reconnect_duration(struct mh_json_ctx *c, const cJSON *obj, const char *key,
                                    int64_t *out_ms) {
  const cJSON *v = cfg_get(obj, key);
  if (v == NULL || cJSON_IsNull(v)) {
    return 0;
  }
  size_t old = mh_json_push_key(c, key);
  if (cJSON_IsString(v)) {
    // time.Duration is an integer of nanoseconds in JSON; Go rejects "1s".
    return mh_json_fail(
        c,
        "json: cannot unmarshal string into Go struct field ReconnectConfig.%s of type "
        "time.Duration (the real system rejects \"%s\" too; write nanoseconds, e.g. "
        "1000000000 for 1s)",
        key, v->valuestring);
  }
  int64_t ns;
  if (mh_json_get_int(c, v, 0, (int64_t)3600 * 1000000000LL, &ns) != 0) {
    return -1;
  }
  *out_ms = ns / 1000000;
  mh_json_pop(c, old);
  return 0;
}

static int parse_input_config(struct mh_json_ctx *c, const struct mh_semstreams_ctx *sc,
                              const cJSON *cfg, struct mh_component *k) {
  const char *mode = NULL;
  const cJSON *client = NULL;
  if (cfg == NULL || (cJSON_IsObject(cfg) && cfg->child == NULL)) {
    // Real defaults apply only to an empty config: server mode on 8081.
    return mh_json_fail(
        c,
        "websocket_input in server mode (the default for an empty config) is not emulated: "
        "the mock federation needs client mode (\"mode\": \"client\", \"client\": {\"url\": "
        "...})");
  }
  if (cfg_string(c, cfg, "mode", &mode) != 0 || cfg_object(c, cfg, "client", &client) != 0) {
    return -1;
  }
  static const char *const input_keys[] = {"mode",         "server",        "client", "auth",
                                           "backpressure", "bidirectional", "ports"};
  static const char *const client_keys_ws[] = {"url", "reconnect"};
  warn_ignored(c, sc, cfg, "websocket_input config", input_keys, COUNT(input_keys));
  warn_ignored_in(c, sc, client, "client", "websocket_input client", client_keys_ws,
                  COUNT(client_keys_ws));
  if (mode == NULL || (strcmp(mode, "client") != 0 && strcmp(mode, "server") != 0)) {
    return mh_json_fail(c, "invalid mode: %s", mode ? mode : "");
  }
  if (strcmp(mode, "server") == 0) {
    return mh_json_fail(
        c,
        "websocket_input server mode is not emulated: the mock federation needs client "
        "mode (see docs/scenarios.md)");
  }
  if (client == NULL) {
    return mh_json_fail(c, "client config required for client mode");
  }
  size_t old = mh_json_push_key(c, "client");
  if (cfg_string(c, client, "url", &k->url) != 0) {
    return -1;
  }
  if (k->url == NULL || k->url[0] == '\0') {
    return mh_json_fail(c, "url is required in client mode");
  }
  size_t o2 = mh_json_push_key(c, "url");
  if (parse_url(c, k) != 0) {
    return -1;
  }
  mh_json_pop(c, o2);
  const cJSON *rc = NULL;
  if (cfg_object(c, client, "reconnect", &rc) != 0) {
    return -1;
  }
  if (rc != NULL) {
    static const char *const reconnect_keys[] = {"enabled", "max_retries", "initial_interval",
                                                 "max_interval", "multiplier"};
    warn_ignored_in(c, sc, rc, "reconnect", "websocket_input reconnect", reconnect_keys,
                    COUNT(reconnect_keys));
    // A present block replaces the defaults field by field as Go's zero values would.
    memset(&k->reconnect, 0, sizeof(k->reconnect));
    int64_t retries = 0;
    double mult = 0;
    o2 = mh_json_push_key(c, "reconnect");
    if (cfg_bool(c, rc, "enabled", &k->reconnect.enabled) != 0 ||
        cfg_int(c, rc, "max_retries", 0, 1000000, &retries) != 0 ||
        parse_reconnect_duration(c, rc, "initial_interval", &k->reconnect.initial_ms) != 0 ||
        parse_reconnect_duration(c, rc, "max_interval", &k->reconnect.max_ms) != 0) {
      return -1;
    }
    const cJSON *m = cfg_get(rc, "multiplier");
    if (m != NULL && !cJSON_IsNull(m)) {
      if (!cJSON_IsNumber(m)) {
        mh_json_push_key(c, "multiplier");
        return mh_json_fail(c, "expected a number, found %s", mh_json_type_name(m));
      }
      mult = m->valuedouble;
    }
    k->reconnect.max_retries = (int)retries;
    k->reconnect.multiplier = mult;
    mh_json_pop(c, o2);
  }
  mh_json_pop(c, old);
  return 0;
}

static int parse_output_subject(struct mh_json_ctx *c, const cJSON *cfg, struct mh_component *k) {
  k->port = 8081;
  k->path = "/ws";
  const cJSON *ports = NULL, *outputs;
  if (cfg_object(c, cfg, "ports", &ports) != 0) {
    return -1;
  }
  outputs = cfg_get(ports, "outputs");
  if (cJSON_IsArray(outputs) && cJSON_GetArraySize(outputs) > 0) {
    const char *subject = NULL;
    size_t old = mh_json_push_key(c, "ports");
    size_t o2 = mh_json_push_key(c, "outputs");
    size_t o3 = mh_json_push_index(c, 0);
    if (cfg_string(c, cJSON_GetArrayItem(outputs, 0), "subject", &subject) != 0) {
      return -1;
    }
    if (subject != NULL) {
      int port = 0, n = 0;
      char path[256] = "";
      // The real output parses "http://0.0.0.0:%d%s".
      if (sscanf(subject, "http://0.0.0.0:%d%255s%n", &port, path, &n) < 1) {
        mh_json_push_key(c, "subject");
        return mh_json_fail(c, "\"%s\" is not of the form http://0.0.0.0:PORT/PATH", subject);
      }
      k->port = port;
      k->path = mh_arena_strdup(c->a, path[0] ? path : "/ws");
    }
    mh_json_pop(c, o3);
    mh_json_pop(c, o2);
    mh_json_pop(c, old);
  }
  return 0;
}

static int check_port(struct mh_json_ctx *c, int port) {
  if (port < 1024 || port > 65535) {
    return mh_json_fail(c, "invalid port %d: the websocket output accepts 1024-65535", port);
  }
  return 0;
}

// parse_component reads one component of either form into |k|. Returns 1 if it is to be skipped.
static int parse_component(struct mh_json_ctx *c, const struct mh_semstreams_ctx *sc,
                           const char *name, const cJSON *item, int map_form,
                           struct mh_component *k) {
  const char *type = NULL, *id = NULL;
  int enabled = 1;
  const cJSON *cfg = NULL;
  if (!cJSON_IsObject(item)) {
    return mh_json_fail(c, "expected an object, found %s", mh_json_type_name(item));
  }
  if (cfg_string(c, item, "type", &type) != 0 || cfg_object(c, item, "config", &cfg) != 0) {
    return -1;
  }
  // The real system's components are a map of {type, name, enabled, config}; the guide's array
  // form names each by "id".
  static const char *const map_keys[] = {"type", "name", "enabled", "config"};
  static const char *const array_keys[] = {"id", "type", "config"};
  warn_ignored(c, sc, item, "component", map_form ? map_keys : array_keys,
               map_form ? COUNT(map_keys) : COUNT(array_keys));
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
    return mh_json_fail(c, "\"id\" is required");
  }
  if (type == NULL) {
    return mh_json_fail(c, "\"type\" is required");
  }
  k->id = mh_arena_strdup(c->a, id);  // |name| belongs to the JSON tree, freed after parsing
  k->json_path = mh_arena_strdup(c->a, c->path);
  if (k->id == NULL || k->json_path == NULL) {
    return mh_json_fail(c, "out of memory");
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
    size_t old = mh_json_push_key(c, "type");
    mh_json_fail(c, "unknown component type \"%s\" (use websocket_output or websocket_input)",
                 type);
    mh_json_pop(c, old);
    return -1;
  }
  if (!enabled) {
    fprintf(stderr, "%s: %s.enabled: note: component \"%s\" is not enabled; not started\n", c->file,
            c->path, id);
    return 1;
  }
  size_t old = mh_json_push_key(c, "config");
  if (is_output) {
    k->kind = MH_COMP_WS_OUTPUT;
    if (map_form) {
      if (parse_output_subject(c, cfg, k) != 0) {
        return -1;
      }
    } else {
      int64_t port = 8081;
      k->path = "/ws";
      static const char *const guide_output_keys[] = {"port", "path"};
      warn_ignored(c, sc, cfg, "websocket_output config", guide_output_keys,
                   COUNT(guide_output_keys));
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
      return mh_json_fail(c, "path \"%s\" must start with /", k->path);
    }
  } else {
    k->kind = MH_COMP_WS_INPUT;
    if (map_form) {
      if (parse_input_config(c, sc, cfg, k) != 0) {
        return -1;
      }
    } else {
      static const char *const guide_input_keys[] = {"url"};
      warn_ignored(c, sc, cfg, "websocket_input config", guide_input_keys, COUNT(guide_input_keys));
      if (cfg_string(c, cfg, "url", &k->url) != 0) {
        return -1;
      }
      if (k->url == NULL) {
        return mh_json_fail(c, "url is required for a websocket_input");
      }
      size_t o2 = mh_json_push_key(c, "url");
      if (parse_url(c, k) != 0) {
        return -1;
      }
      mh_json_pop(c, o2);
    }
  }
  mh_json_pop(c, old);
  return 0;
}

static int parse_components(struct mh_json_ctx *c, const struct mh_semstreams_ctx *sc,
                            const cJSON *comps, struct mh_location *L) {
  if (comps == NULL || cJSON_IsNull(comps)) {
    return 0;
  }
  size_t old = mh_json_push_key(c, "components");
  int map_form = cJSON_IsObject(comps);
  if (!map_form && !cJSON_IsArray(comps)) {
    return mh_json_fail(
        c, "expected an array (the guide's form) or an object (the real system's form)");
  }
  size_t n = (size_t)cJSON_GetArraySize(comps);
  L->components = mh_arena_alloc_array(c->a, n + 1, sizeof(*L->components));
  if (L->components == NULL) {
    return mh_json_fail(c, "out of memory");
  }
  size_t i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, comps) {
    size_t o = map_form ? mh_json_push_key(c, it->string) : mh_json_push_index(c, i);
    int r = parse_component(c, sc, map_form ? it->string : NULL, it, map_form,
                            &L->components[L->num_components]);
    if (r < 0) {
      return -1;
    }
    if (r == 0) {
      L->num_components++;
    }
    mh_json_pop(c, o);
    i++;
  }
  mh_json_pop(c, old);
  return 0;
}

int mh_semstreams_parse_config(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc,
                               const cJSON *cfg, struct mh_location *L) {
  const cJSON *sec = NULL;
  if (cfg_object(c, cfg, "security", &sec) != 0 || parse_security(c, sc, sec, L) != 0 ||
      parse_components(c, sc, cfg_get(cfg, "components"), L) != 0) {
    return -1;
  }
  return 0;
}
