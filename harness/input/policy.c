// policy: the policy model (see policy.h): the SemStreams mapping and the parser of the harness's
// own policy keys in an external target's "policy" block.
//
// The SemStreams keys of the block are read by semstreams.c with Go's rules (case-insensitive,
// as the real system reads them); the harness's keys are the harness's own, read strictly.
#include "input/policy.h"

#include <regex.h>
#include <string.h>
#include <strings.h>

#include "input/json.h"
#include "input/location.h"
#include "input/semstreams.h"
#include "base/tls_version.h"

static const char *const rule_keys[] = {
#define X(e, key) key,
    MH_POLICY_RULES(X)
#undef X
};

static const char *const client_auth_names[] = {
#define X(e, kw) kw,
    MH_CLIENT_AUTHS(X)
#undef X
};

// The SemStreams tls.server keys a policy block may carry (compared as Go does, ignoring case),
// then the harness's own (exact).
static const char *const semstreams_keys[] = {"enabled",     "mode", "cert_file", "key_file",
                                              "min_version", "mtls", "acme"};
static const char *const own_keys[] = {"client_auth", "client_ca_files", "identity",
                                       "max_version", "verify_depth",    "verified_only",
                                       "revocation"};
static const char *const identity_keys[] = {"cn",      "dn_regex",       "dns_san",
                                            "uri_san", "uri_san_prefix", "host"};

void mh_policy_print_keys(FILE *out, const char *prefix) {
  for (size_t i = 0; i < sizeof(own_keys) / sizeof(own_keys[0]); i++) {
    fprintf(out, "%s%s\n", prefix, own_keys[i]);
  }
  for (size_t i = 0; i < sizeof(identity_keys) / sizeof(identity_keys[0]); i++) {
    fprintf(out, "%sidentity.%s\n", prefix, identity_keys[i]);
  }
  fprintf(out, "%srevocation.crl_files\n%srevocation.check\n", prefix, prefix);
}

const char *mh_policy_rule_key(enum mh_policy_rule r) {
  return (unsigned)r < MH_POLICY_RULE_NUM ? rule_keys[r] : "?";
}

int mh_policy_rule_from_key(const char *key) {
  for (int i = 0; i < MH_POLICY_RULE_NUM; i++) {
    if (strcmp(rule_keys[i], key) == 0) {
      return i;
    }
  }
  return -1;
}

const char *mh_policy_client_auth_name(enum mh_client_auth a) {
  return (unsigned)a < MH_CLIENT_AUTH_NUM ? client_auth_names[a] : "?";
}

// semstreams_auth is the client authentication SemStreams' mtls keys in |s| amount to: Go's
// RequireAndVerifyClientCert, VerifyClientCertIfGiven, or no CertificateRequest.
static enum mh_client_auth semstreams_auth(const struct mh_tls_server_policy *s) {
  return !s->mtls                 ? MH_CLIENT_AUTH_NONE
         : s->require_client_cert ? MH_CLIENT_AUTH_REQUIRE
                                  : MH_CLIENT_AUTH_OPTIONAL;
}

// set_rules recomputes |p->rules| from what |p| holds.
static void set_rules(struct mh_policy *p, int has_max, int has_depth) {
  unsigned r = 0;
  if (p->client_auth != MH_CLIENT_AUTH_NONE) {
    r |= (1u << MH_POLICY_CLIENT_AUTH) | (1u << MH_POLICY_CLIENT_CA_FILES);
  }
  r |= p->num_cn ? 1u << MH_POLICY_ID_CN : 0;
  r |= p->dn_regex ? 1u << MH_POLICY_ID_DN_REGEX : 0;
  r |= p->num_dns_san ? 1u << MH_POLICY_ID_DNS_SAN : 0;
  r |= p->num_uri_san ? 1u << MH_POLICY_ID_URI_SAN : 0;
  r |= p->num_uri_san_prefix ? 1u << MH_POLICY_ID_URI_SAN_PREFIX : 0;
  r |= p->num_host ? 1u << MH_POLICY_ID_HOST : 0;
  // Every probe offers 1.2 or 1.3: a minimum of 1.2 has nothing to refuse.
  r |= p->min_version > MH_TLS12 ? 1u << MH_POLICY_MIN_VERSION : 0;
  r |= has_max ? 1u << MH_POLICY_MAX_VERSION : 0;
  r |= has_depth ? 1u << MH_POLICY_VERIFY_DEPTH : 0;
  r |= p->num_crl_files ? 1u << MH_POLICY_REVOCATION : 0;
  p->rules = r;
}

void mh_policy_from_semstreams(struct mh_location *L) {
  struct mh_policy *p = &L->policy;
  const struct mh_tls_server_policy *s = &L->server;
  memset(p, 0, sizeof(*p));
  p->client_auth = semstreams_auth(s);
  p->client_ca_files = s->client_ca_files;
  p->num_client_ca_files = s->num_client_ca_files;
  // An nginx mock judges its dn_regex instead of the allow-list (mock/answer.c).
  if (L->nginx_dn_regex != NULL) {
    p->dn_regex = L->nginx_dn_regex;
  } else {
    p->cn = s->allowed_cns;
    p->num_cn = s->num_allowed_cns;
  }
  p->min_version = s->min_version;
  p->verify_depth = -1;
  p->identity_reason = MH_REASON_CN_NOT_ALLOWED;
  set_rules(p, 0, 0);
}

// check_keys refuses a key of the policy object |v| that is neither a SemStreams tls.server key
// nor one of the harness's: a misspelt "identity" would otherwise allow anyone.
static int check_keys(struct mh_json_ctx *c, const cJSON *v) {
  const cJSON *it;
  cJSON_ArrayForEach(it, v) {
    int known = 0;
    for (size_t i = 0; i < sizeof(semstreams_keys) / sizeof(semstreams_keys[0]); i++) {
      known |= strcasecmp(it->string, semstreams_keys[i]) == 0;
    }
    for (size_t i = 0; i < sizeof(own_keys) / sizeof(own_keys[0]); i++) {
      known |= strcmp(it->string, own_keys[i]) == 0;
    }
    if (!known) {
      const char *all[sizeof(semstreams_keys) / sizeof(semstreams_keys[0]) +
                      sizeof(own_keys) / sizeof(own_keys[0])];
      size_t n = 0;
      for (size_t i = 0; i < sizeof(semstreams_keys) / sizeof(semstreams_keys[0]); i++) {
        all[n++] = semstreams_keys[i];
      }
      for (size_t i = 0; i < sizeof(own_keys) / sizeof(own_keys[0]); i++) {
        all[n++] = own_keys[i];
      }
      const char *near = mh_json_closest(it->string, all, n);
      char hint[96] = "";
      if (near != NULL) {
        snprintf(hint, sizeof(hint), ": did you mean %s?", near);
      }
      mh_json_push_key(c, it->string);
      return mh_json_fail(c,
                          "unknown policy key%s (use SemStreams' tls.server keys, or client_auth, "
                          "client_ca_files, identity, max_version, verify_depth, verified_only, "
                          "revocation: see docs/scenarios.md)",
                          hint);
    }
  }
  // The policy is what the operator means the deployment to enforce: a misspelt mtls key (say
  // "allowed_client_cn") would silently drop the rule, so its keys are known or refused too
  // (compared as Go compares them, ignoring case). A mock's SemStreams config keeps Go's rule.
  const cJSON *mtls = NULL;
  cJSON_ArrayForEach(it, v) {
    mtls = strcasecmp(it->string, "mtls") == 0 ? it : mtls;
  }
  static const char *const mtls_keys[] = {"enabled", "require_client_cert", "client_ca_files",
                                          "allowed_client_cns"};
  size_t num = sizeof(mtls_keys) / sizeof(mtls_keys[0]);
  if (!cJSON_IsObject(mtls)) {
    return 0;  // absent, or not an object: the SemStreams parser says so
  }
  const cJSON *m;
  cJSON_ArrayForEach(m, mtls) {
    int known = 0;
    for (size_t i = 0; i < num; i++) {
      known |= strcasecmp(m->string, mtls_keys[i]) == 0;
    }
    if (!known) {
      const char *near = mh_json_closest(m->string, mtls_keys, num);
      char names[160];
      mh_json_join_names(names, sizeof(names), mtls_keys, num);
      mh_json_push_key(c, mtls->string);
      mh_json_push_key(c, m->string);
      return near != NULL
                 ? mh_json_fail(c, "unknown mtls key: did you mean %s? (mtls has: %s)", near, names)
                 : mh_json_fail(c, "unknown mtls key (mtls has: %s)", names);
    }
  }
  return 0;
}

// get_list reads the non-empty string list |key| of |obj| into |out|; absent leaves it empty.
static int get_list(struct mh_json_ctx *c, const cJSON *obj, const char *key,
                    const char *const **out, size_t *out_num) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (v == NULL) {
    return 0;
  }
  size_t o = mh_json_push_key(c, key);
  if (mh_json_get_string_array(c, v, (const char ***)out, out_num) != 0) {
    return -1;
  }
  if (*out_num == 0) {
    return mh_json_fail(c, "an empty list allows nobody (list at least one, or remove \"%s\")",
                        key);
  }
  mh_json_pop(c, o);
  return 0;
}

// parse_dn_regex reads identity.dn_regex and checks that it compiles.
static int parse_dn_regex(struct mh_json_ctx *c, const cJSON *id, struct mh_policy *p) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(id, "dn_regex");
  if (v == NULL) {
    return 0;
  }
  size_t o = mh_json_push_key(c, "dn_regex");
  regex_t rx;
  if (mh_json_get_string(c, v, &p->dn_regex) != 0) {
    return -1;
  }
  int rc = regcomp(&rx, p->dn_regex, REG_EXTENDED | REG_NOSUB);
  if (rc != 0) {
    char why[128];
    regerror(rc, &rx, why, sizeof(why));
    return mh_json_fail(c,
                        "\"%s\" is not a POSIX extended regular expression (%s); write one such "
                        "as \"^CN=client[0-9]+,O=Example$\"",
                        p->dn_regex, why);
  }
  regfree(&rx);
  mh_json_pop(c, o);
  return 0;
}

// parse_identity reads "identity": the rules a certificate must match one of.
static int parse_identity(struct mh_json_ctx *c, const cJSON *id, struct mh_policy *p,
                          int cns_given) {
  size_t o = mh_json_push_key(c, "identity");
  if (!cJSON_IsObject(id)) {
    return mh_json_fail(c, "expected an object such as {\"uri_san_prefix\": [\"spiffe://...\"]}");
  }
  if (mh_json_check_keys(c, id, identity_keys, sizeof(identity_keys) / sizeof(identity_keys[0]),
                         "identity") != 0) {
    return -1;
  }
  if (id->child == NULL) {
    return mh_json_fail(c, "{} sets no rule (remove \"identity\" to allow any certificate)");
  }
  if (cns_given && cJSON_GetObjectItemCaseSensitive(id, "cn") != NULL) {
    mh_json_push_key(c, "cn");
    return mh_json_fail(c,
                        "mtls.allowed_client_cns gives the CN allow-list already (give it once: "
                        "remove one of them)");
  }
  if ((!cns_given && get_list(c, id, "cn", &p->cn, &p->num_cn) != 0) ||
      parse_dn_regex(c, id, p) != 0 ||
      get_list(c, id, "dns_san", &p->dns_san, &p->num_dns_san) != 0 ||
      get_list(c, id, "uri_san", &p->uri_san, &p->num_uri_san) != 0 ||
      get_list(c, id, "uri_san_prefix", &p->uri_san_prefix, &p->num_uri_san_prefix) != 0 ||
      get_list(c, id, "host", &p->host, &p->num_host) != 0) {
    return -1;
  }
  mh_json_pop(c, o);
  return 0;
}

// parse_client_auth reads "client_auth" |v| into |p| and checks it against the SemStreams mtls
// keys the block wrote (|mtls|, may be NULL), which map to |semstreams|.
static int parse_client_auth(struct mh_json_ctx *c, const cJSON *v, const cJSON *mtls,
                             enum mh_client_auth semstreams, struct mh_policy *p) {
  size_t o = mh_json_push_key(c, "client_auth");
  const char *s;
  if (mh_json_get_string(c, v, &s) != 0) {
    return -1;
  }
  int a = 0;
  while (a < MH_CLIENT_AUTH_NUM && strcmp(s, client_auth_names[a]) != 0) {
    a++;
  }
  if (a == MH_CLIENT_AUTH_NUM) {
    char known[128];
    mh_json_join_names(known, sizeof(known), client_auth_names, MH_CLIENT_AUTH_NUM);
    return mh_json_fail(c, "unknown client_auth \"%s\" (use one of: %s)", s, known);
  }
  p->client_auth = (enum mh_client_auth)a;
  int written = cJSON_IsObject(mtls) && (cJSON_GetObjectItem(mtls, "enabled") != NULL ||
                                         cJSON_GetObjectItem(mtls, "require_client_cert") != NULL);
  if (written && p->client_auth != semstreams) {
    return mh_json_fail(c,
                        "\"%s\" contradicts mtls.enabled/mtls.require_client_cert, which say "
                        "\"%s\" (give one of them, or make them agree)",
                        s, client_auth_names[semstreams]);
  }
  mh_json_pop(c, o);
  return 0;
}

// parse_version_key reads "max_version" (the SemStreams parser read min_version).
static int parse_max_version(struct mh_json_ctx *c, const cJSON *v, struct mh_policy *p) {
  size_t o = mh_json_push_key(c, "max_version");
  const char *s;
  if (mh_json_get_string(c, v, &s) != 0) {
    return -1;
  }
  p->max_version = mh_tls_version_parse(s);
  if (p->max_version == 0) {
    return mh_json_fail(c, "\"%s\": a version is \"1.2\" or \"1.3\"", s);
  }
  if (p->max_version < p->min_version) {
    return mh_json_fail(c,
                        "\"%s\" is below min_version \"1.3\": no version would be left (raise "
                        "max_version or lower min_version)",
                        s);
  }
  mh_json_pop(c, o);
  return 0;
}

// parse_verified_only reads "verified_only": {"refusal_statuses": [...]} (default 400, 401, 403),
// which only a policy that asks for the certificate optionally can mean.
static int parse_verified_only(struct mh_json_ctx *c, const cJSON *v, struct mh_policy *p) {
  size_t o = mh_json_push_key(c, "verified_only");
  if (p->client_auth != MH_CLIENT_AUTH_OPTIONAL &&
      p->client_auth != MH_CLIENT_AUTH_OPTIONAL_NO_CA) {
    return mh_json_fail(c,
                        "means a certificate asked for optionally at TLS and required by the "
                        "application: set \"client_auth\" to \"optional\" or \"optional_no_ca\", "
                        "or remove this");
  }
  if (!cJSON_IsObject(v)) {
    return mh_json_fail(c, "expected {\"refusal_statuses\": [403]} (or {} for 400, 401, 403)");
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, v) {
    if (strcmp(it->string, "refusal_statuses") != 0) {
      mh_json_push_key(c, it->string);
      return mh_json_fail(c, "unknown key (the only one is \"refusal_statuses\")");
    }
  }
  p->verified_only = 1;
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(v, "refusal_statuses");
  if (st == NULL) {
    static const int dflt[] = {400, 401, 403};
    memcpy(p->refusal_statuses, dflt, sizeof(dflt));
    p->num_refusal_statuses = 3;
    mh_json_pop(c, o);
    return 0;
  }
  size_t o2 = mh_json_push_key(c, "refusal_statuses");
  if (!cJSON_IsArray(st) || cJSON_GetArraySize(st) < 1 || cJSON_GetArraySize(st) > 8) {
    return mh_json_fail(c, "expected a list of 1 to 8 HTTP statuses, e.g. [403]");
  }
  cJSON_ArrayForEach(it, st) {
    int64_t code;
    size_t o3 = mh_json_push_index(c, p->num_refusal_statuses);
    if (mh_json_get_int(c, it, 100, 599, &code) != 0) {
      return -1;
    }
    p->refusal_statuses[p->num_refusal_statuses++] = (int)code;
    mh_json_pop(c, o3);
  }
  mh_json_pop(c, o2);
  mh_json_pop(c, o);
  return 0;
}

// parse_ca_files reads "client_ca_files", unless mtls.client_ca_files gave them already.
static int parse_ca_files(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc, const cJSON *v,
                          const cJSON *mtls, struct mh_policy *p) {
  size_t o = mh_json_push_key(c, "client_ca_files");
  if (cJSON_IsObject(mtls) && cJSON_GetObjectItem(mtls, "client_ca_files") != NULL) {
    return mh_json_fail(c,
                        "mtls.client_ca_files gives the client CAs already (give them once: "
                        "remove one of them)");
  }
  if (mh_json_get_string_array(c, v, (const char ***)&p->client_ca_files,
                               &p->num_client_ca_files) != 0) {
    return -1;
  }
  if (p->num_client_ca_files == 0) {
    return mh_json_fail(c, "an empty list trusts no client certificate (name the CA files)");
  }
  if (mh_semstreams_resolve_files(c, sc, "client_ca_files", (const char **)p->client_ca_files,
                                  p->num_client_ca_files) != 0) {
    return -1;
  }
  mh_json_pop(c, o);
  return 0;
}

// check_consistent refuses what the model cannot mean: rules about a certificate that is never
// asked for, and a mode that verifies against no CA.
static int check_consistent(struct mh_json_ctx *c, const cJSON *v, const struct mh_policy *p) {
  static const char *const need_cert[] = {"identity", "verify_depth", "client_ca_files",
                                          "revocation"};
  for (size_t i = 0; p->client_auth == MH_CLIENT_AUTH_NONE && i < 4; i++) {
    if (cJSON_GetObjectItemCaseSensitive(v, need_cert[i]) != NULL) {
      mh_json_push_key(c, need_cert[i]);
      return mh_json_fail(c,
                          "client authentication is \"none\": no client certificate is asked "
                          "for (set \"client_auth\", or remove \"%s\")",
                          need_cert[i]);
    }
  }
  if (cJSON_GetObjectItemCaseSensitive(v, "client_auth") != NULL &&
      (p->client_auth == MH_CLIENT_AUTH_REQUIRE || p->client_auth == MH_CLIENT_AUTH_OPTIONAL) &&
      p->num_client_ca_files == 0) {
    mh_json_push_key(c, "client_auth");
    return mh_json_fail(c,
                        "\"%s\" verifies client certificates against client_ca_files, and none "
                        "are given (add \"client_ca_files\")",
                        client_auth_names[p->client_auth]);
  }
  return 0;
}

// parse_revocation reads "revocation": {"crl_files": [...], "check": "chain" | "leaf"}. The CRL
// files are resolved like the CA files; an operator's own is checked now (PEM CRLs, each signed by
// the client CA it names), a fixture's when the oracle reads it.
static int parse_revocation(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc, const cJSON *v,
                            struct mh_policy *p) {
  size_t o = mh_json_push_key(c, "revocation");
  if (!cJSON_IsObject(v)) {
    return mh_json_fail(c, "expected an object (\"crl_files\": [...], \"check\"), found %s",
                        mh_json_type_name(v));
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, v) {
    if (strcmp(it->string, "crl_files") != 0 && strcmp(it->string, "check") != 0) {
      mh_json_push_key(c, it->string);
      return mh_json_fail(c, "unknown key (revocation has crl_files and check)");
    }
  }
  const cJSON *files = cJSON_GetObjectItemCaseSensitive(v, "crl_files");
  const cJSON *check = cJSON_GetObjectItemCaseSensitive(v, "check");
  if (files == NULL) {
    return mh_json_fail(c, "\"crl_files\" is required (the CRL files the deployment loads)");
  }
  size_t o2 = mh_json_push_key(c, "crl_files");
  if (mh_json_get_string_array(c, files, (const char ***)&p->crl_files, &p->num_crl_files) != 0) {
    return -1;
  }
  if (p->num_crl_files == 0) {
    return mh_json_fail(c,
                        "an empty list checks no revocation (name the CRL files, or remove "
                        "\"revocation\")");
  }
  if (mh_semstreams_resolve_files(c, sc, "revocation.crl_files", (const char **)p->crl_files,
                                  p->num_crl_files) != 0) {
    return -1;
  }
  mh_json_pop(c, o2);
  if (check != NULL) {
    const char *how;
    o2 = mh_json_push_key(c, "check");
    if (mh_json_get_string(c, check, &how) != 0) {
      return -1;
    }
    if (strcmp(how, "chain") != 0 && strcmp(how, "leaf") != 0) {
      return mh_json_fail(c,
                          "\"%s\" is no revocation check (\"chain\": every CA's CRL, as nginx "
                          "and haproxy check; \"leaf\": the client certificate's issuer's only)",
                          how);
    }
    p->crl_leaf_only = strcmp(how, "leaf") == 0;
    mh_json_pop(c, o2);
  }
  mh_json_pop(c, o);
  return 0;
}

// sync_server keeps |L->server| saying what |L->policy| says, for the code that reads it.
static void sync_server(struct mh_location *L) {
  const struct mh_policy *p = &L->policy;
  L->server.mtls = p->client_auth != MH_CLIENT_AUTH_NONE;
  L->server.require_client_cert = p->client_auth == MH_CLIENT_AUTH_REQUIRE;
  L->server.client_ca_files = p->client_ca_files;
  L->server.num_client_ca_files = p->num_client_ca_files;
  L->server.allowed_cns = p->cn;
  L->server.num_allowed_cns = p->num_cn;
}

int mh_policy_parse(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc, const cJSON *v,
                    struct mh_location *L) {
  struct mh_policy *p = &L->policy;
  mh_policy_from_semstreams(L);
  if (check_keys(c, v) != 0) {
    return -1;
  }
  const cJSON *mtls = cJSON_GetObjectItem(v, "mtls");
  const cJSON *x;
  int cns_given = cJSON_IsObject(mtls) && cJSON_GetObjectItem(mtls, "allowed_client_cns") != NULL;
  if (((x = cJSON_GetObjectItemCaseSensitive(v, "client_auth")) != NULL &&
       parse_client_auth(c, x, mtls, semstreams_auth(&L->server), p) != 0) ||
      ((x = cJSON_GetObjectItemCaseSensitive(v, "client_ca_files")) != NULL &&
       parse_ca_files(c, sc, x, mtls, p) != 0) ||
      check_consistent(c, v, p) != 0 ||
      ((x = cJSON_GetObjectItemCaseSensitive(v, "identity")) != NULL &&
       parse_identity(c, x, p, cns_given) != 0) ||
      ((x = cJSON_GetObjectItemCaseSensitive(v, "max_version")) != NULL &&
       parse_max_version(c, x, p) != 0) ||
      ((x = cJSON_GetObjectItemCaseSensitive(v, "verified_only")) != NULL &&
       parse_verified_only(c, x, p) != 0) ||
      ((x = cJSON_GetObjectItemCaseSensitive(v, "revocation")) != NULL &&
       parse_revocation(c, sc, x, p) != 0)) {
    return -1;
  }
  int has_depth = 0;
  if ((x = cJSON_GetObjectItemCaseSensitive(v, "verify_depth")) != NULL) {
    size_t o = mh_json_push_key(c, "verify_depth");
    int64_t d;
    has_depth = 1;
    if (mh_json_get_int(c, x, -1, 100, &d) != 0) {
      return -1;
    }
    p->verify_depth = (int)d;
    mh_json_pop(c, o);
  }
  // A policy in the harness's terms names its identity failures by rule kind.
  if (cJSON_GetObjectItemCaseSensitive(v, "identity") != NULL) {
    p->identity_reason = MH_REASON_NONE;
  }
  set_rules(p, p->max_version != 0, has_depth);
  sync_server(L);
  return 0;
}
