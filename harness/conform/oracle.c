// oracle: expectations from policy and fixtures, and verdicts (see oracle.h).
#include "conform/oracle.h"

#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/alerts.h"

// trusted reports whether CA |ca| (spec index) is among |files| (resolved paths).
static int trusted(const struct mh_scenario *s, int ca, const char *const *files, size_t num) {
  char path[4096];
  mh_scenario_fixture_path(s, s->spec.entities[ca].cert_file, path, sizeof(path));
  for (size_t i = 0; i < num; i++) {
    if (strcmp(files[i], path) == 0) {
      return 1;
    }
  }
  return 0;
}

// chain_trusted: the identity's certificate chains to a trusted CA with what the probe sends (the
// leaf, plus its intermediates when it has a chain file).
static int chain_trusted(const struct mh_scenario *s, const struct mh_pki_entity *e,
                         const char *const *files, size_t num) {
  int ca = e->issuer;
  if (ca < 0) {
    return 0;  // self-signed
  }
  if (trusted(s, ca, files, num)) {
    return 1;
  }
  if (e->chain_file == NULL) {
    return 0;  // the intermediate is not sent
  }
  for (ca = s->spec.entities[ca].issuer; ca >= 0; ca = s->spec.entities[ca].issuer) {
    if (trusted(s, ca, files, num)) {
      return 1;
    }
  }
  return 0;
}

// rfc2253 writes the identity's subject as nginx's $ssl_client_s_dn shows it.
static void rfc2253(const struct mh_pki_entity *e, char *out, size_t len) {
  static const char *const names[] = {
#define X(en, kw, nid) kw,
      MH_DN_ATTRS(X)
#undef X
  };
  out[0] = '\0';
  for (int k = MH_DN_NUM - 1; k >= 0; k--) {
    if (e->subject[k] != NULL) {
      size_t used = strlen(out);
      snprintf(out + used, len - used, "%s%s=%s", used ? "," : "", names[k], e->subject[k]);
    }
  }
}

static enum mh_reason server_reason(const struct mh_scenario *s, const struct mh_location *L,
                                    const struct mh_case_spec *k) {
  const struct mh_tls_server_policy *p = &L->server;
  int min = k->min_tls13 ? MH_TLS13 : p->min_version;
  if (k->version < min) {
    return MH_REASON_VERSION;
  }
  if (!p->mtls) {
    return MH_REASON_NONE;  // no CertificateRequest: nothing is sent, nothing is judged
  }
  int idx = k->identity != NULL ? mh_pki_spec_entity(&s->spec, k->identity) : -1;
  if (idx < 0) {
    if (p->require_client_cert) {
      return MH_REASON_MISSING_CERT;
    }
    return p->num_allowed_cns > 0 && L->emulate == MH_EMULATE_GO && !L->is_target
               ? MH_REASON_NO_VERIFIED_CHAINS
               : MH_REASON_NONE;
  }
  const struct mh_pki_entity *e = &s->spec.entities[idx];
  if (e->not_before > 0) {
    return MH_REASON_NOT_YET_VALID;
  }
  if (e->not_after < 0) {
    return MH_REASON_EXPIRED;
  }
  if (!chain_trusted(s, e, p->client_ca_files, p->num_client_ca_files)) {
    return MH_REASON_UNKNOWN_CA;
  }
  if (e->has_eku && (e->eku_mask & (1u << MH_EKU_CLIENT_AUTH)) == 0) {
    return MH_REASON_BAD_EKU;
  }
  if (L->nginx_dn_regex != NULL) {
    char dn[512];
    regex_t rx;
    rfc2253(e, dn, sizeof(dn));
    if (regcomp(&rx, L->nginx_dn_regex, REG_EXTENDED | REG_NOSUB) == 0) {
      int match = regexec(&rx, dn, 0, NULL, 0) == 0;
      regfree(&rx);
      if (!match) {
        return MH_REASON_CN_NOT_ALLOWED;
      }
    }
  } else if (p->num_allowed_cns > 0) {
    const char *cn = e->subject[MH_DN_CN] ? e->subject[MH_DN_CN] : "";
    int ok = 0;
    for (size_t i = 0; i < p->num_allowed_cns && !ok; i++) {
      ok = strcmp(p->allowed_cns[i], cn) == 0;
    }
    if (!ok) {
      return MH_REASON_CN_NOT_ALLOWED;
    }
  }
  return e->key_mismatch ? MH_REASON_BAD_SIGNATURE : MH_REASON_NONE;
}

// client_reason: what our Go-style client must refuse in the server's certificate.
static enum mh_reason client_reason(const struct mh_scenario *s, const struct mh_location *L,
                                    const struct mh_case_spec *k) {
  if (k->trust_ca != NULL) {
    int ca = mh_pki_spec_entity(&s->spec, k->trust_ca);
    if (ca != mh_oracle_server_root_ca(s, L)) {
      return MH_REASON_SERVER_UNTRUSTED;
    }
  }
  if (k->server_identity != NULL) {
    int idx = mh_pki_spec_entity(&s->spec, k->server_identity);
    const struct mh_pki_entity *e = &s->spec.entities[idx];
    if (e->num_dns == 0 && e->num_ips == 0) {
      return MH_REASON_SERVER_CN_ONLY;
    }
  }
  if (k->server_name != NULL && strcasecmp(k->server_name, L->host) != 0) {
    return MH_REASON_SERVER_NAME;
  }
  return MH_REASON_NONE;
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

void mh_oracle_expect(const struct mh_scenario *s, const struct mh_location *L,
                      const struct mh_case_spec *k, const struct mh_profile *profile,
                      struct mh_expectation *out) {
  memset(out, 0, sizeof(*out));
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
    return;
  }
  enum mh_reason r = client_reason(s, L, k);
  if (r == MH_REASON_NONE) {
    r = server_reason(s, L, k);
  }
  out->reason = r;
  out->reject = r != MH_REASON_NONE;
  out->side = mh_reason_side(r);
  if (!out->reject) {
    return;
  }
  if (out->side == 'c') {
    // Our client is Go's: it sends bad_certificate for every server certificate failure.
    out->layer = MH_LAYER_TLS;
    out->alerts[0] = MH_ALERT_BAD_CERTIFICATE;
    out->num_alerts = 1;
    return;
  }
  const struct mh_profile_rule *rule = &profile->rules[r];
  if (!rule->set) {
    out->layer = MH_LAYER_NONE;  // the profile does not say: any rejection will do
    return;
  }
  out->layer = (enum mh_layer)rule->layer;
  out->status = rule->status;
  const int *al = k->version == MH_TLS13 ? rule->alerts13 : rule->alerts12;
  size_t n = k->version == MH_TLS13 ? rule->num_alerts13 : rule->num_alerts12;
  memcpy(out->alerts, al, n * sizeof(int));
  out->num_alerts = n;
}

enum mh_verdict mh_oracle_verdict(const struct mh_expectation *x, const struct mh_case_outcome *o,
                                  int version) {
  (void)version;
  if (o->result == MH_RESULT_INCONCLUSIVE) {
    return MH_VERDICT_INCONCLUSIVE;
  }
  if (!x->reject) {
    return o->result == MH_RESULT_ACCEPTED ? MH_VERDICT_PASS : MH_VERDICT_UNEXPECTED_REJECT;
  }
  if (o->result == MH_RESULT_ACCEPTED) {
    return MH_VERDICT_UNEXPECTED_ACCEPT;
  }
  if (o->rejected_by != x->side || (x->layer != MH_LAYER_NONE && o->layer != x->layer)) {
    return MH_VERDICT_WRONG_LAYER;
  }
  if (o->layer == MH_LAYER_HTTP) {
    return x->status == 0 || o->http_status == x->status ? MH_VERDICT_PASS
                                                         : MH_VERDICT_PASS_CONCEPTUAL;
  }
  if (x->num_alerts == 0) {
    return MH_VERDICT_PASS;
  }
  int got = x->side == 'c' ? o->tls.alert_sent : o->tls.alert_received;
  for (size_t i = 0; i < x->num_alerts; i++) {
    if (x->alerts[i] == got) {
      return MH_VERDICT_PASS;
    }
  }
  return MH_VERDICT_PASS_CONCEPTUAL;
}

void mh_oracle_describe(const struct mh_expectation *x, char *out, size_t out_len) {
  if (!x->reject) {
    snprintf(out, out_len, "accept");
    return;
  }
  size_t n = (size_t)snprintf(out, out_len, "reject (%s) by %s", mh_reason_name(x->reason),
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

void mh_oracle_outcome_summary(const struct mh_case_outcome *o, char *out, size_t out_len) {
  const char *ver = o->tls.version == MH_TLS13   ? "TLSv1.3"
                    : o->tls.version == MH_TLS12 ? "TLSv1.2"
                                                 : "-";
  switch (o->result) {
    case MH_RESULT_INCONCLUSIVE:
      snprintf(out, out_len, "inconclusive at %s: %s", mh_phase_name(o->phase), o->client_error);
      return;
    case MH_RESULT_ACCEPTED:
      snprintf(out, out_len, "accepted (%s, HTTP %d)", ver, o->http_status);
      return;
    default:
      break;
  }
  if (o->layer == MH_LAYER_HTTP) {
    snprintf(out, out_len, "rejected by server at application: HTTP %d (%s)", o->http_status, ver);
  } else {
    int alert = o->rejected_by == 'c' ? o->tls.alert_sent : o->tls.alert_received;
    snprintf(out, out_len, "rejected by %s at %s: alert %d %s (%s)",
             o->rejected_by == 'c' ? "client" : "server", mh_phase_name(o->phase), alert,
             mh_alert_name(alert), ver);
  }
}
