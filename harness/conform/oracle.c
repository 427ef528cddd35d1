// oracle: what the policy expects of a case, from the policy and the certificates (see oracle.h).
#include "conform/oracle.h"

#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/alerts.h"
#include "pki/inspect.h"
#include "base/tls_version.h"

// identity_cert reads what case identity |e| presents: the file the probe sends (its chain file
// when it has one, else its certificate) and the key the probe signs with.
static int identity_cert(const struct mh_scenario *s, const struct mh_pki_entity *e,
                         struct mh_inspect_cert *out, struct mh_err *err) {
  char cert[4096], key[4096];
  mh_scenario_fixture_path(s, e->chain_file ? e->chain_file : e->cert_file, cert, sizeof(cert));
  mh_scenario_fixture_path(s, e->key_file, key, sizeof(key));
  return mh_inspect_load(out, cert, key, err);
}

// judge is what server_reason needs besides the case: the location and its policy. The policy is
// the contract: a rule the stack's profile says it cannot enforce is judged like any other
// (conform/verdict.c names the profile's reason on the acceptance that follows).
struct judge {
  const struct mh_location *L;
  const struct mh_policy *p;
  // Set when the refusal is the application's, by the policy's "verified_only": the TLS layer
  // let the client through (no certificate, or one whose CA optional_no_ca forgives).
  int at_application;
};

// rule_on reports whether the policy sets rule |r|.
static int rule_on(const struct judge *j, enum mh_policy_rule r) {
  return (j->p->rules & (1u << r)) != 0;
}

static int in_list(const char *const *list, size_t num, const char *v, int nocase) {
  for (size_t i = 0; i < num; i++) {
    if ((nocase ? strcasecmp(list[i], v) : strcmp(list[i], v)) == 0) {
      return 1;
    }
  }
  return 0;
}

static int dn_matches(const char *regex, const char *dn) {
  regex_t rx;
  if (regcomp(&rx, regex, REG_EXTENDED | REG_NOSUB) != 0) {
    return 1;  // the scenario parser compiled it already
  }
  int match = regexec(&rx, dn, 0, NULL, 0) == 0;
  regfree(&rx);
  return match;
}

// uri_matches reports whether a URI SAN of |c| is on |list|, exactly or (|prefix|) as a prefix.
static int uri_matches(const struct mh_inspect_cert *c, const char *const *list, size_t num,
                       int prefix) {
  for (size_t u = 0; u < c->num_uris; u++) {
    for (size_t i = 0; c->uris[u][0] != '\0' && i < num; i++) {
      size_t n = strlen(list[i]);
      if (prefix ? strncmp(c->uris[u], list[i], n) == 0 : strcmp(c->uris[u], list[i]) == 0) {
        return 1;
      }
    }
  }
  return 0;
}

// rule_matches reports whether identity rule |r| of |p| admits |c|.
static int rule_matches(const struct mh_policy *p, enum mh_policy_rule r,
                        const struct mh_inspect_cert *c) {
  switch (r) {
    case MH_POLICY_ID_CN:
      return in_list(p->cn, p->num_cn, c->cn, 0);
    case MH_POLICY_ID_DN_REGEX:
      return dn_matches(p->dn_regex, c->dn);
    case MH_POLICY_ID_DNS_SAN:
      for (size_t i = 0; i < c->num_dns; i++) {
        if (c->dns[i][0] != '\0' && in_list(p->dns_san, p->num_dns_san, c->dns[i], 1)) {
          return 1;
        }
      }
      return 0;
    case MH_POLICY_ID_URI_SAN:
      return uri_matches(c, p->uri_san, p->num_uri_san, 0);
    case MH_POLICY_ID_URI_SAN_PREFIX:
      return uri_matches(c, p->uri_san_prefix, p->num_uri_san_prefix, 1);
    case MH_POLICY_ID_HOST:
      for (size_t i = 0; i < p->num_host; i++) {
        if (mh_inspect_check_host(c, p->host[i])) {
          return 1;
        }
      }
      return 0;
    default:
      return 1;
  }
}

// identity_reason judges the identity rules the stack applies: any one matching admits |c|
// (MH_REASON_NONE); none set admits anyone. A failure is named by the policy's identity_reason,
// else by the first rule set in the order of MH_POLICY_RULES: cn, then the DN and SAN rules, then
// host.
static enum mh_reason identity_reason(const struct judge *j, const struct mh_inspect_cert *c) {
  int first = -1;
  for (int r = MH_POLICY_ID_CN; r <= MH_POLICY_ID_HOST; r++) {
    if (!rule_on(j, (enum mh_policy_rule)r)) {
      continue;
    }
    if (rule_matches(j->p, (enum mh_policy_rule)r, c)) {
      return MH_REASON_NONE;
    }
    first = first < 0 ? r : first;
  }
  if (first < 0) {
    return MH_REASON_NONE;
  }
  return j->p->identity_reason != MH_REASON_NONE ? j->p->identity_reason
         : first == MH_POLICY_ID_CN              ? MH_REASON_CN_NOT_ALLOWED
         : first == MH_POLICY_ID_HOST            ? MH_REASON_HOST_MISMATCH
                                                 : MH_REASON_IDENTITY_NOT_ALLOWED;
}

// revocation_reason judges the built path of |c| against the policy's CRL files at |now|, as
// X509_verify_cert checks them: a certificate of the path on its issuer's CRL, a CRL past its
// nextUpdate (which refuses every client of that CA), or a CA of the path without a CRL (which
// refuses its clients too: nginx and haproxy check every CA's). A CRL its CA did not sign is an
// input error, not a verdict.
static int revocation_reason(const struct judge *j, const struct mh_inspect_cert *c, time_t now,
                             enum mh_reason *out, struct mh_err *err) {
  const struct mh_policy *p = j->p;
  for (size_t i = 0; i < p->num_crl_files; i++) {
    if (mh_inspect_crl_file(p->crl_files[i], p->client_ca_files, p->num_client_ca_files, err) !=
        0) {
      return -1;
    }
  }
  enum mh_inspect_path path = MH_INSPECT_PATH_OK;
  if (mh_inspect_verify_revocation(c, p->client_ca_files, p->num_client_ca_files, p->crl_files,
                                   p->num_crl_files, p->crl_leaf_only, now, &path, err) != 0) {
    return -1;
  }
  *out = path == MH_INSPECT_PATH_REVOKED       ? MH_REASON_REVOKED
         : path == MH_INSPECT_PATH_CRL_EXPIRED ? MH_REASON_CRL_EXPIRED
         : path == MH_INSPECT_PATH_CRL_MISSING ? MH_REASON_CRL_MISSING
         : path == MH_INSPECT_PATH_OK          ? MH_REASON_NONE
                                               : MH_REASON_UNKNOWN_CA;
  return 0;
}

// chain_reason judges the path from |c| to the client CA files at |now|: a certificate of the path
// out of its validity, no path (forgiven by optional_no_ca, as nginx and mod_ssl forgive the CA
// errors only), a path to a CA file's intermediate whose root is missing (unknown_ca: both
// servers refuse it under optional_no_ca), another verification error (unknown_ca too), or one
// longer than the verify depth (OpenSSL's depth counts the intermediates: the
// leaf and the trust anchor are not counted; -1 admits only a leaf that is its own anchor).
static int chain_reason(struct judge *j, const struct mh_inspect_cert *c, time_t now,
                        enum mh_reason *out, struct mh_err *err) {
  enum mh_inspect_path path = MH_INSPECT_PATH_OK;
  size_t len = 0;
  *out = MH_REASON_NONE;
  if (mh_inspect_verify_chain(c, j->p->client_ca_files, j->p->num_client_ca_files, now, &path, &len,
                              err) != 0) {
    return -1;
  }
  if (path == MH_INSPECT_PATH_EXPIRED || path == MH_INSPECT_PATH_NOT_YET_VALID) {
    *out = path == MH_INSPECT_PATH_EXPIRED ? MH_REASON_EXPIRED : MH_REASON_NOT_YET_VALID;
  } else if (path != MH_INSPECT_PATH_OK) {
    int forgiven =
        path == MH_INSPECT_PATH_UNKNOWN_CA && j->p->client_auth == MH_CLIENT_AUTH_OPTIONAL_NO_CA;
    *out = forgiven && !j->p->verified_only ? MH_REASON_NONE : MH_REASON_UNKNOWN_CA;
    j->at_application = forgiven && j->p->verified_only;
  } else if (rule_on(j, MH_POLICY_VERIFY_DEPTH) && len >= 2 &&
             (long)len - 2 > (long)j->p->verify_depth) {
    *out = MH_REASON_CHAIN_TOO_LONG;
  } else if (rule_on(j, MH_POLICY_REVOCATION)) {
    return revocation_reason(j, c, now, out, err);
  }
  return 0;
}

// cert_reason judges the client certificate |c| in the order real stacks use: leaf validity at
// |now|, the chain to the client CA files (and its depth), clientAuth EKU, the identity rules,
// then the key (CertificateVerify).
static int cert_reason(struct judge *j, const struct mh_inspect_cert *c, time_t now,
                       enum mh_reason *out, struct mh_err *err) {
  if (c->not_before > (int64_t)now) {
    *out = MH_REASON_NOT_YET_VALID;
  } else if (c->not_after < (int64_t)now) {
    *out = MH_REASON_EXPIRED;
  } else if (chain_reason(j, c, now, out, err) != 0) {
    return -1;
  } else if (*out != MH_REASON_NONE) {
    return 0;
  } else if (c->has_eku && !c->any_eku && (c->eku_mask & (1u << MH_EKU_CLIENT_AUTH)) == 0) {
    *out = MH_REASON_BAD_EKU;
  } else if ((*out = identity_reason(j, c)) != MH_REASON_NONE) {
    return 0;
  } else {
    *out = c->key_matches == 0 ? MH_REASON_BAD_SIGNATURE : MH_REASON_NONE;
  }
  return 0;
}

// version_reason judges the one version case |k| offers: below the minimum (a TLS 1.3-only
// variant's always counts), above the maximum.
static enum mh_reason version_reason(const struct judge *j, const struct mh_case_spec *k) {
  if (k->min_tls13 && k->version < MH_TLS13) {
    return MH_REASON_VERSION;
  }
  if (k->version < j->p->min_version) {
    return MH_REASON_VERSION;
  }
  if (rule_on(j, MH_POLICY_MAX_VERSION) && k->version > j->p->max_version) {
    return MH_REASON_VERSION_TOO_HIGH;
  }
  return MH_REASON_NONE;
}

static int server_reason(const struct mh_scenario *s, struct judge *j, const struct mh_case_spec *k,
                         time_t now, enum mh_reason *out, struct mh_err *err) {
  const struct mh_location *L = j->L;
  enum mh_client_auth auth = j->p->client_auth;
  if ((*out = version_reason(j, k)) != MH_REASON_NONE) {
    return 0;
  }
  if (auth == MH_CLIENT_AUTH_NONE) {
    return 0;  // no CertificateRequest: nothing is sent, nothing is judged
  }
  int idx = k->identity != NULL ? mh_pki_spec_entity(&s->spec, k->identity) : -1;
  if (idx < 0) {
    // verified_only: the TLS layer lets the client in without one, the application refuses it.
    j->at_application = auth != MH_CLIENT_AUTH_REQUIRE && j->p->verified_only;
    *out = auth == MH_CLIENT_AUTH_REQUIRE || j->p->verified_only ? MH_REASON_MISSING_CERT
           : L->server.num_allowed_cns > 0 && L->emulate == MH_EMULATE_GO && !L->is_target
               ? MH_REASON_NO_VERIFIED_CHAINS
               : MH_REASON_NONE;
    return 0;
  }
  struct mh_inspect_cert c;
  int ret = identity_cert(s, &s->spec.entities[idx], &c, err) == 0
                ? cert_reason(j, &c, now, out, err)
                : -1;
  mh_inspect_cleanup(&c);
  return ret;
}

// server_untrusted reports whether the server certificate the case meets does not chain to the
// case's |trust_ca| (its certificate file) at |now|. An external target's certificate is known
// only by its CA files: the case's CA is then trusted if it chains to one of them.
static int server_untrusted(const struct mh_scenario *s, const struct mh_location *L,
                            const struct mh_case_spec *k, const char *server_cert, time_t now,
                            int *out, struct mh_err *err) {
  char ca[4096];
  const struct mh_pki_entity *e = &s->spec.entities[mh_pki_spec_entity(&s->spec, k->trust_ca)];
  mh_scenario_fixture_path(s, e->cert_file, ca, sizeof(ca));
  const char *one[] = {ca};
  const char *const *files = server_cert != NULL ? one : L->target_ca_files;
  size_t num = server_cert != NULL ? 1 : L->num_target_ca_files;
  struct mh_inspect_cert c;
  enum mh_inspect_path path = MH_INSPECT_PATH_OK;
  int ret = mh_inspect_load(&c, server_cert != NULL ? server_cert : ca, NULL, err) == 0
                ? mh_inspect_verify(&c, files, num, now, &path, err)
                : -1;
  mh_inspect_cleanup(&c);
  *out = path != MH_INSPECT_PATH_OK;
  return ret;
}

// client_reason: what our Go-style client must refuse in the server's certificate.
static int client_reason(const struct mh_scenario *s, const struct mh_location *L,
                         const struct mh_case_spec *k, time_t now, enum mh_reason *out,
                         struct mh_err *err) {
  char server_cert[4096];
  const char *cert = L->server.cert_file;
  *out = MH_REASON_NONE;
  if (k->server_identity != NULL) {
    const struct mh_pki_entity *e =
        &s->spec.entities[mh_pki_spec_entity(&s->spec, k->server_identity)];
    mh_scenario_fixture_path(s, e->chain_file ? e->chain_file : e->cert_file, server_cert,
                             sizeof(server_cert));
    cert = server_cert;
  }
  int untrusted = 0;
  if (k->trust_ca != NULL && (cert != NULL || L->is_target) &&
      server_untrusted(s, L, k, cert, now, &untrusted, err) != 0) {
    return -1;
  }
  if (untrusted) {
    *out = MH_REASON_SERVER_UNTRUSTED;
    return 0;
  }
  if (k->server_identity != NULL) {
    struct mh_inspect_cert c;
    int ret = mh_inspect_load(&c, cert, NULL, err);
    size_t sans = c.num_sans;
    mh_inspect_cleanup(&c);
    if (ret != 0) {
      return -1;
    }
    if (sans == 0) {
      *out = MH_REASON_SERVER_CN_ONLY;
      return 0;
    }
  }
  if (k->server_name != NULL && strcasecmp(k->server_name, L->host) != 0) {
    *out = MH_REASON_SERVER_NAME;
  }
  return 0;
}

int mh_oracle_server_root_ca(const struct mh_scenario *s, const struct mh_location *L) {
  for (size_t i = 0; i < s->spec.num_entities; i++) {
    char path[4096];
    mh_scenario_fixture_path(s, s->spec.entities[i].cert_file, path, sizeof(path));
    if (L->server.cert_file != NULL && strcmp(path, L->server.cert_file) == 0) {
      int ca = s->spec.entities[i].issuer;
      while (ca >= 0 && s->spec.entities[ca].issuer >= 0) {
        ca = s->spec.entities[ca].issuer;
      }
      return ca;
    }
  }
  return -1;
}

int mh_oracle_expect(const struct mh_scenario *s, const struct mh_location *L,
                     const struct mh_case_spec *k, const struct mh_profile *profile,
                     struct mh_expectation *out, struct mh_err *err) {
  memset(out, 0, sizeof(*out));
  out->cert_request = L->policy.client_auth != MH_CLIENT_AUTH_NONE;
  out->unenforced = profile != NULL ? L->policy.rules & profile->cannot : 0;
  out->cannot_why = out->unenforced ? profile->cannot_why : NULL;
  out->profile = profile != NULL ? profile->name : NULL;
  if (k->has_expect) {
    out->explicit_ = 1;
    out->reject = k->expect_reject;
    out->reason = k->expect_reason >= 0 ? (enum mh_reason)k->expect_reason : MH_REASON_NONE;
    out->side = k->expect_reason >= 0 ? mh_reason_side(out->reason) : 's';
    out->layer = k->expect_layer >= 0   ? (enum mh_layer)k->expect_layer
                 : k->expect_status     ? MH_LAYER_HTTP
                 : k->num_expect_alerts ? MH_LAYER_TLS
                                        : MH_LAYER_NONE;
    memcpy(out->alerts, k->expect_alerts, sizeof(out->alerts));
    out->num_alerts = k->num_expect_alerts;
    out->status = k->expect_status;
    return 0;
  }
  // The time of the probe, which runs right after: what "valid now" means for the certificates.
  time_t now = time(NULL);
  enum mh_reason r;
  struct judge j = {.L = L, .p = &L->policy};
  if (client_reason(s, L, k, now, &r, err) != 0 ||
      (r == MH_REASON_NONE && server_reason(s, &j, k, now, &r, err) != 0)) {
    return -1;
  }
  out->reason = r;
  out->reject = r != MH_REASON_NONE;
  out->side = mh_reason_side(r);
  if (!out->reject) {
    return 0;
  }
  if (out->side == 'c') {
    // Our client is Go's: it sends bad_certificate for every server certificate failure.
    out->layer = MH_LAYER_TLS;
    out->alerts[0] = MH_ALERT_BAD_CERTIFICATE;
    out->num_alerts = 1;
    return 0;
  }
  if (j.at_application) {
    // The policy itself says where: the application's refusal, with its status when it names
    // one (several: any of them, which the probe counts as refusals).
    out->layer = MH_LAYER_HTTP;
    out->status = L->policy.num_refusal_statuses == 1 ? L->policy.refusal_statuses[0] : 0;
    out->by_policy = 1;
    return 0;
  }
  const struct mh_profile_rule *rule = profile != NULL ? &profile->rules[r] : NULL;
  if (rule == NULL || !rule->set) {
    out->layer = MH_LAYER_NONE;  // no profile, or it does not say: any refusal will do
    return 0;
  }
  out->layer = (enum mh_layer)rule->layer;
  out->status = rule->status;
  const int *al = k->version == MH_TLS13 ? rule->alerts13 : rule->alerts12;
  size_t n = k->version == MH_TLS13 ? rule->num_alerts13 : rule->num_alerts12;
  memcpy(out->alerts, al, n * sizeof(int));
  out->num_alerts = n;
  return 0;
}

int mh_oracle_reason_rule(enum mh_reason r) {
  switch (r) {
    case MH_REASON_MISSING_CERT:
      return MH_POLICY_CLIENT_AUTH;
    case MH_REASON_UNKNOWN_CA:
      return MH_POLICY_CLIENT_CA_FILES;
    case MH_REASON_CN_NOT_ALLOWED:
      return MH_POLICY_ID_CN;
    case MH_REASON_IDENTITY_NOT_ALLOWED:
      return MH_POLICY_ID_DN_REGEX;
    case MH_REASON_HOST_MISMATCH:
      return MH_POLICY_ID_HOST;
    case MH_REASON_CHAIN_TOO_LONG:
      return MH_POLICY_VERIFY_DEPTH;
    case MH_REASON_VERSION:
      return MH_POLICY_MIN_VERSION;
    case MH_REASON_VERSION_TOO_HIGH:
      return MH_POLICY_MAX_VERSION;
    case MH_REASON_REVOKED:
    case MH_REASON_CRL_EXPIRED:
    case MH_REASON_CRL_MISSING:
      return MH_POLICY_REVOCATION;
    default:
      return -1;
  }
}

void mh_oracle_describe(const struct mh_expectation *x, char *out, size_t out_len) {
  if (!x->reject) {
    snprintf(out, out_len, "accept");
    return;
  }
  // An explicit expectation may name no reason: "reject by server", not "reject (none)".
  int named = x->reason > MH_REASON_NONE && x->reason < MH_REASON_NUM;
  size_t n = (size_t)snprintf(out, out_len, "reject%s%s%s by %s", named ? " (" : "",
                              named ? mh_reason_name(x->reason) : "", named ? ")" : "",
                              x->side == 'c' ? "client" : "server");
  if (x->layer == MH_LAYER_HTTP && n < out_len) {
    snprintf(out + n, out_len - n, " at http: status %d", x->status);
  } else if (x->layer == MH_LAYER_TLS && n < out_len) {
    n += (size_t)snprintf(out + n, out_len - n, " at tls: alert");
    for (size_t i = 0; i < x->num_alerts && n < out_len; i++) {
      n += (size_t)snprintf(out + n, out_len - n, "%s %d %s", i ? " or" : "", x->alerts[i],
                            mh_alert_name(x->alerts[i]));
    }
    if (x->num_alerts == 0 && n < out_len) {
      snprintf(out + n, out_len - n, " (any)");
    }
  }
}
