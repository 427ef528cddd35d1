// verdict: what a case's outcome means against its expectation (see verdict.h).
#include "conform/verdict.h"

#include <stdio.h>
#include <string.h>

#include "base/alerts.h"
#include "base/tls_version.h"

// server_end writes how the server ended the connection, as a verb phrase.
static void server_end(const struct mh_case_outcome *o, char *out, size_t out_len) {
  if (o->tls.alert_received != MH_ALERT_NONE) {
    snprintf(out, out_len, "sent alert %d %s", o->tls.alert_received,
             mh_alert_name(o->tls.alert_received));
  } else if (o->end == MH_END_RST) {
    snprintf(out, out_len, "reset the connection");
  } else if (o->end == MH_END_FIN || o->end == MH_END_CLOSE_NOTIFY) {
    snprintf(out, out_len, "closed the connection");
  } else if (o->layer == MH_LAYER_HTTP) {
    snprintf(out, out_len, "answered HTTP %d", o->http_status);
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

enum mh_verdict mh_verdict_judge(const struct mh_expectation *x, const struct mh_case_outcome *o,
                                 int version, char *why, size_t why_len) {
  why[0] = '\0';
  if (o->result == MH_RESULT_INCONCLUSIVE) {
    snprintf(why, why_len, "%s", o->client_error);
    return MH_VERDICT_INCONCLUSIVE;
  }
  if (!x->reject) {
    return verdict_accept(x, o, version, why, why_len);
  }
  if (o->result == MH_RESULT_ACCEPTED) {
    if (x->cert_request && !o->tls.certificate_request && x->side == 's') {
      snprintf(why, why_len, "the server never asked for a client certificate");
    }
    return MH_VERDICT_UNEXPECTED_ACCEPT;
  }
  if (!attributable(x, o, version, why, why_len)) {
    return MH_VERDICT_NOT_ATTRIBUTABLE;
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

void mh_verdict_summary(const struct mh_case_outcome *o, char *out, size_t out_len) {
  const char *ver = mh_tls_version_name(o->tls.version);
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
