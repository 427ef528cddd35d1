// verdict: what a case's outcome means against its expectation (see verdict.h).
#include "conform/verdict.h"

#include <stdio.h>
#include <string.h>

#include "base/alerts.h"
#include "base/tls_version.h"
#include "input/policy.h"

// server_end writes how the server ended the connection, as a verb phrase.
static void server_end(const struct mh_case_outcome *o, char *out, size_t out_len) {
  if (o->tls.alert_received != MH_ALERT_NONE) {
    snprintf(out, out_len, "sent alert %d %s", o->tls.alert_received,
             mh_alert_name(o->tls.alert_received));
  } else if (o->layer == MH_LAYER_HTTP) {
    snprintf(out, out_len, "answered HTTP %d", o->http_status);
  } else if (o->end == MH_END_RST) {
    snprintf(out, out_len, "reset the connection");
  } else if (o->end == MH_END_FIN || o->end == MH_END_CLOSE_NOTIFY) {
    snprintf(out, out_len, "closed the connection");
  } else {
    snprintf(out, out_len, "ended the handshake (%.200s)", o->client_error);
  }
}

// where_ended writes where in the handshake the server ended it, relative to the
// CertificateRequest (which is what a client certificate rejection needs to follow).
static const char *where_ended(const struct mh_case_outcome *o) {
  if (!o->tls.server_hello) {
    return "after the ClientHello, before asking for a client certificate";
  }
  if (!o->tls.certificate_request && o->layer == MH_LAYER_HTTP && o->tls.version >= MH_TLS13) {
    // mod_ssl's per-directory SSLVerifyClient: it would ask after the handshake, and can only
    // with a client that offered post_handshake_auth.
    return "without asking for a client certificate (a server that asks only after a TLS 1.3 "
           "handshake needs post-handshake authentication, which our client does not offer)";
  }
  if (!o->tls.certificate_request) {
    return "without asking for a client certificate";
  }
  return "after asking for a client certificate, before the client sent its flight";
}

// version_failure explains a rejection that comes from the version: the server chose an older
// version than the one offered, or refused the offer before any ServerHello. Returns 1 if so.
static int version_failure(const struct mh_case_outcome *o, int version, char *why, size_t len) {
  if (o->tls.server_hello && o->tls.server_version != 0 && o->tls.server_version < version) {
    snprintf(why, len, "the server offered only %s (to a client offering %s only)",
             mh_tls_version_name(o->tls.server_version), mh_tls_version_name(version));
    return 1;
  }
  if (!o->tls.server_hello && o->tls.alert_received == MH_ALERT_PROTOCOL_VERSION) {
    snprintf(why, len,
             "the server refused %s (alert 70 protocol_version) before asking for a client "
             "certificate: no version in common",
             mh_tls_version_name(version));
    return 1;
  }
  return 0;
}

// attributable reports whether rejection |o| can be the one |x| expects (see oracle.h); if not,
// it writes why into |why|.
static int attributable(const struct mh_expectation *x, const struct mh_case_outcome *o,
                        int version, char *why, size_t len) {
  char how[300];
  server_end(o, how, sizeof(how));
  if (x->side == 'c') {
    if (o->rejected_by == 's' && !o->tls.server_hello) {
      snprintf(why, len, "the server %s after the ClientHello, before sending its certificate",
               how);
      return 0;
    }
    return 1;
  }
  // A server that chose an older version fails every case the same way; a refusal of the version
  // is what a version case (below the minimum or above the maximum) expects.
  int by_version = x->reason == MH_REASON_VERSION || x->reason == MH_REASON_VERSION_TOO_HIGH;
  int older = o->tls.server_hello && o->tls.server_version != 0 && o->tls.server_version < version;
  if ((older || !by_version) && version_failure(o, version, why, len)) {
    return 0;
  }
  if (o->rejected_by == 'c') {
    snprintf(why, len,
             "the client refused the server's handshake (%.200s), before the server judged the "
             "client certificate",
             o->client_error);
    return 0;
  }
  if (by_version) {
    if (o->tls.server_hello && o->tls.server_version == version) {
      snprintf(why, len, "the server negotiated %s, which the policy refuses, then %s",
               mh_tls_version_name(version), how);
      return 0;
    }
    return 1;
  }
  // An explicit expectation without a reason says nothing about the certificate: it takes any
  // rejection by the server.
  if (x->reason == MH_REASON_NONE || (o->tls.certificate_request && o->tls.client_flight_sent)) {
    return 1;
  }
  snprintf(why, len, "the server %s %s", how, where_ended(o));
  return 0;
}

// verdict_accept judges an accept-expected case.
static enum mh_verdict verdict_accept(const struct mh_expectation *x,
                                      const struct mh_case_outcome *o, int version, char *why,
                                      size_t len) {
  if (o->result == MH_RESULT_ACCEPTED) {
    if (x->cert_request && !o->tls.certificate_request) {
      snprintf(why, len,
               "the server completed the handshake without a CertificateRequest: it admits "
               "clients without a certificate, while the policy requires mTLS");
      return MH_VERDICT_UNEXPECTED_ACCEPT;
    }
    return MH_VERDICT_PASS;
  }
  if (!version_failure(o, version, why, len) && o->rejected_by == 's' &&
      !o->tls.certificate_request) {
    char how[300];
    server_end(o, how, sizeof(how));
    snprintf(why, len, "the server %s %s", how, where_ended(o));
  }
  return MH_VERDICT_UNEXPECTED_REJECT;
}

// manner_seen writes how the server refused |o|: "alert 42 bad_certificate", "HTTP 401", "a
// reset without an alert".
static void manner_seen(const struct mh_case_outcome *o, char *out, size_t len) {
  int alert = o->rejected_by == 'c' ? o->tls.alert_sent : o->tls.alert_received;
  if (o->layer == MH_LAYER_HTTP) {
    snprintf(out, len, "HTTP %d", o->http_status);
  } else if (alert != MH_ALERT_NONE) {
    snprintf(out, len, "alert %d %s", alert, mh_alert_name(alert));
  } else {
    snprintf(out, len, "TLS, %s without an alert",
             o->end == MH_END_RST       ? "a reset"
             : o->end == MH_END_TIMEOUT ? "a stall"
                                        : "a close");
  }
}

// manner_predicted writes how |x| predicts the refusal: "alert 116 certificate_required or 42
// bad_certificate", "HTTP 403", "a refusal at TLS".
static void manner_predicted(const struct mh_expectation *x, char *out, size_t len) {
  if (x->layer == MH_LAYER_HTTP) {
    if (x->status != 0) {
      snprintf(out, len, "HTTP %d", x->status);
    } else {
      snprintf(out, len, "a refusal at HTTP");
    }
    return;
  }
  if (x->num_alerts == 0) {
    snprintf(out, len, "a refusal at TLS");
    return;
  }
  size_t n = (size_t)snprintf(out, len, "alert");
  for (size_t i = 0; i < x->num_alerts && n < len; i++) {
    n += (size_t)snprintf(out + n, len - n, "%s %d %s", i ? " or" : "", x->alerts[i],
                          mh_alert_name(x->alerts[i]));
  }
}

// manner judges how a refusal that the policy expects was made, against the profile's (or the
// scenario's) prediction: MH_VERDICT_PASS when it says nothing or the refusal matches it,
// MH_VERDICT_PASS_CONCEPTUAL with what was predicted and seen otherwise.
static enum mh_verdict manner(const struct mh_expectation *x, const struct mh_case_outcome *o,
                              char *why, size_t len) {
  int matches;
  if (x->layer == MH_LAYER_NONE) {
    matches = 1;  // no prediction: the manner is recorded, not judged
  } else if (o->layer != x->layer) {
    matches = 0;
  } else if (o->layer == MH_LAYER_HTTP) {
    matches = x->status == 0 || o->http_status == x->status;
  } else {
    int got = x->side == 'c' ? o->tls.alert_sent : o->tls.alert_received;
    matches = x->num_alerts == 0;
    for (size_t i = 0; i < x->num_alerts; i++) {
      matches = matches || x->alerts[i] == got;
    }
  }
  if (matches) {
    return MH_VERDICT_PASS;
  }
  char seen[160], predicted[200];
  manner_seen(o, seen, sizeof(seen));
  manner_predicted(x, predicted, sizeof(predicted));
  snprintf(why, len, "refused at %s where %s predicts %s", seen,
           x->explicit_   ? "the scenario"
           : x->by_policy ? "the policy"
                          : "the profile",
           predicted);
  return MH_VERDICT_PASS_CONCEPTUAL;
}

// unenforced_why explains an acceptance the policy refuses when the reason is a rule the stack's
// profile says it cannot enforce: the profile's reason, never a reason to expect acceptance.
static void unenforced_why(const struct mh_expectation *x, char *why, size_t len) {
  int rule = mh_oracle_reason_rule(x->reason);
  unsigned bits = rule < 0                                 ? 0
                  : (1u << rule) & MH_POLICY_IDENTITY_MASK ? MH_POLICY_IDENTITY_MASK
                                                           : 1u << rule;
  if ((x->unenforced & bits) == 0) {
    return;
  }
  for (int r = 0; r < MH_POLICY_RULE_NUM; r++) {
    if (x->unenforced & bits & (1u << r)) {
      rule = r;  // the rule the profile names
      break;
    }
  }
  snprintf(why, len, "profile %s says its stack cannot enforce %s (%s), and nothing behind it did",
           x->profile != NULL ? x->profile : "?", mh_policy_rule_key((enum mh_policy_rule)rule),
           x->cannot_why != NULL ? x->cannot_why : "");
}

enum mh_verdict mh_verdict_judge(const struct mh_expectation *x, const struct mh_case_outcome *o,
                                 int version, char *why, size_t why_len) {
  why[0] = '\0';
  if (o->result == MH_RESULT_INCONCLUSIVE) {
    snprintf(why, why_len, "%s", o->client_error);
    return MH_VERDICT_INCONCLUSIVE;
  }
  if (o->tls.post_handshake_auth) {
    snprintf(why, why_len,
             "the server asked for a client certificate after the TLS 1.3 handshake "
             "(post-handshake authentication), which our client (BoringSSL) cannot answer: "
             "nothing was judged of the certificate");
    return MH_VERDICT_NOT_ATTRIBUTABLE;
  }
  if (!x->reject) {
    return verdict_accept(x, o, version, why, why_len);
  }
  if (o->result == MH_RESULT_ACCEPTED) {
    if (x->cert_request && !o->tls.certificate_request && x->side == 's') {
      snprintf(why, why_len, "the server never asked for a client certificate");
    } else {
      unenforced_why(x, why, why_len);
    }
    return MH_VERDICT_UNEXPECTED_ACCEPT;
  }
  if (!attributable(x, o, version, why, why_len)) {
    return MH_VERDICT_NOT_ATTRIBUTABLE;
  }
  if (o->rejected_by != x->side) {  // attributable() refused our client's ending of 's' cases
    // The case tests our client's check of the server certificate; the server ended it first.
    char how[300];
    server_end(o, how, sizeof(how));
    snprintf(why, why_len,
             "the server %s before our client judged the server certificate, which is what the "
             "case tests",
             how);
    return MH_VERDICT_NOT_ATTRIBUTABLE;
  }
  return manner(x, o, why, why_len);
}

enum mh_manner mh_verdict_manner(const struct mh_expectation *x, enum mh_verdict v) {
  if (v == MH_VERDICT_PASS_CONCEPTUAL) {
    return MH_MANNER_DIFFERS;
  }
  return v == MH_VERDICT_PASS && x->reject && x->layer != MH_LAYER_NONE ? MH_MANNER_AS_PREDICTED
                                                                        : MH_MANNER_NOT_JUDGED;
}

void mh_verdict_summary(const struct mh_case_outcome *o, char *out, size_t out_len) {
  const char *ver = mh_tls_version_name(o->tls.version);
  switch (o->result) {
    case MH_RESULT_INCONCLUSIVE:
      snprintf(out, out_len, "inconclusive at %s: %s", mh_phase_name(o->phase), o->client_error);
      return;
    case MH_RESULT_ACCEPTED:
      if (o->http_status != 0) {
        snprintf(out, out_len, "accepted (%s, HTTP %d)", ver, o->http_status);
      } else {  // request "tls", or a server that answered without HTTP: no status to show
        snprintf(
            out, out_len, "accepted (%s, %s)", ver,
            o->request == MH_REQUEST_TLS ? "request \"tls\": no HTTP" : "answered without HTTP");
      }
      return;
    default:
      break;
  }
  if (o->layer == MH_LAYER_HTTP) {
    snprintf(out, out_len, "rejected by server at application: HTTP %d (%s)", o->http_status, ver);
  } else {
    int alert = o->rejected_by == 'c' ? o->tls.alert_sent : o->tls.alert_received;
    if (alert == MH_ALERT_NONE) {
      // No alert: how the transport ended is the whole answer (a RST, a FIN).
      snprintf(out, out_len, "rejected by %s at %s: %s, no alert (%s)",
               o->rejected_by == 'c' ? "client" : "server", mh_phase_name(o->phase),
               mh_end_name(o->end), ver);
      return;
    }
    snprintf(out, out_len, "rejected by %s at %s: alert %d %s (%s)",
             o->rejected_by == 'c' ? "client" : "server", mh_phase_name(o->phase), alert,
             mh_alert_name(alert), ver);
  }
}
