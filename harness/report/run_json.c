// run_json: the run's report.json (schema MH_REPORT_SCHEMA, docs/report-schema.json is what a
// reader checks): the run, its summary, then each case as expected, seen and judged.
#include "report/internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alerts.h"
#include "base/interrupt.h"
#include "base/jsonw.h"
#include "base/tls_version.h"

// tls_version_text: a version's name, "" for none (report.json's word for "not known").
static const char *tls_version_text(int v) {
  return v == 0 ? "" : mh_tls_version_name(v);
}

// json_certificate_request writes whether the server asked for a client certificate and the CA
// names it listed (the first MH_TLS_REQUEST_CAS, each cut to MH_TLS_REQUEST_CA_LEN - 1 bytes;
// "cas_total" counts them all).
static void json_certificate_request(struct mh_jsonw *w, const struct mh_case_outcome *o) {
  mh_kv_bool(w, "server_hello", o->tls.server_hello);
  mh_kv_str(w, "server_hello_version", tls_version_text(o->tls.server_version));
  mh_kv_int(w, "renegotiations", o->tls.renegotiations);
  mh_kv_bool(w, "post_handshake_auth", o->tls.post_handshake_auth);
  mh_jsonw_key(w, "certificate_request");
  mh_jsonw_object_begin(w);
  mh_kv_bool(w, "seen", o->tls.certificate_request);
  mh_jsonw_key(w, "cas");
  mh_jsonw_array_begin(w);
  for (size_t i = 0; i < o->num_request_cas_kept; i++) {
    mh_jsonw_string(w, o->request_cas[i]);
  }
  mh_jsonw_array_end(w);
  mh_kv_int(w, "cas_total", o->tls.num_request_cas);
  mh_jsonw_object_end(w);
}

static void json_expected(struct mh_jsonw *w, const struct mh_case_result *c) {
  const struct mh_expectation *x = &c->expect;
  mh_jsonw_key(w, "expected");
  mh_jsonw_object_begin(w);
  mh_kv_str(w, "result", x->reject ? "reject" : "accept");
  mh_kv_str(w, "reason", mh_reason_name(x->reason));
  mh_kv_str(w, "side", x->reject ? (x->side == 'c' ? "client" : "server") : "none");
  mh_kv_str(w, "layer", mh_layer_name(x->layer));
  mh_jsonw_key(w, "alerts");
  mh_jsonw_array_begin(w);
  for (size_t i = 0; i < x->num_alerts; i++) {
    mh_jsonw_int(w, x->alerts[i]);
  }
  mh_jsonw_array_end(w);
  mh_kv_int(w, "http_status", x->status);
  mh_kv_str(w, "source", x->explicit_ ? "explicit" : "oracle");
  mh_kv_str(w, "text", c->expected_text);
  mh_jsonw_object_end(w);
}

static void json_outcome(struct mh_jsonw *w, const struct mh_case_outcome *o) {
  mh_jsonw_key(w, "outcome");
  mh_jsonw_object_begin(w);
  mh_kv_str(w, "request", mh_request_mode_name(o->request));
  mh_kv_str(w, "result", mh_result_name(o->result));
  mh_kv_str(w, "rejected_by",
            o->rejected_by == 's'   ? "server"
            : o->rejected_by == 'c' ? "client"
                                    : "none");
  mh_kv_str(w, "layer", mh_layer_name(o->layer));
  mh_kv_str(w, "phase", mh_phase_name(o->phase));
  mh_kv_str(w, "transport_end", mh_end_name(o->end));
  mh_kv_str(w, "tcp", mh_tcp_name(o->tcp));
  mh_kv_str(w, "handshake", o->handshake_ok ? "ok" : "failed");
  mh_kv_str(w, "version", tls_version_text(o->tls.version));
  json_certificate_request(w, o);
  mh_kv_str(w, "cipher", o->tls.cipher);
  mh_kv_str(w, "group", o->tls.group);
  mh_kv_str(w, "alpn", o->tls.alpn);
  mh_kv_alert(w, "alert_sent", o->tls.alert_sent);
  mh_kv_alert(w, "alert_received", o->tls.alert_received);
  mh_kv_int(w, "http_status", o->http_status);
  mh_kv_bool(w, "http_head_too_large", o->head_too_large);
  mh_kv_bool(w, "websocket_upgrade", o->ws_upgraded);
  mh_kv_str(w, "server_cn", o->tls.peer_cn);
  mh_kv_str(w, "error", o->client_error);
  mh_jsonw_key(w, "timings_ms");
  mh_jsonw_object_begin(w);
  mh_kv_double(w, "tcp", o->tcp_ms, 3);
  mh_kv_double(w, "handshake", o->handshake_ms, 3);
  mh_kv_double(w, "first_read", o->first_read_ms, 3);
  mh_kv_double(w, "total", o->total_ms, 3);
  mh_jsonw_object_end(w);
  mh_jsonw_object_end(w);
}

static void json_server(struct mh_jsonw *w, const struct mh_case_result *c) {
  mh_jsonw_key(w, "server");
  if (!c->has_server) {
    mh_jsonw_null(w);
    return;
  }
  const struct mh_server_record *s = &c->server;
  mh_jsonw_object_begin(w);
  mh_kv_str(w, "location", s->location);
  mh_kv_str(w, "peer", s->peer);
  mh_kv_bool(w, "tls_rejected", s->tls_rejected);
  mh_kv_str(w, "reason", s->reason);
  mh_kv_alert(w, "alert_sent", s->alert_sent);
  mh_kv_alert(w, "alert_received", s->alert_received);
  mh_kv_int(w, "http_status", s->http_status);
  mh_kv_str(w, "client_cn", s->client_cn);
  mh_jsonw_object_end(w);
}

static void json_capture(struct mh_jsonw *w, const struct mh_case_result *c, const char *file) {
  mh_jsonw_key(w, "capture");
  if (c->capture == MH_CAPTURE_NOT_ASKED) {
    mh_jsonw_null(w);
    return;
  }
  const struct mh_wire_view *v = &c->wire;
  mh_jsonw_object_begin(w);
  mh_kv_str(w, "status", mh_capture_state_name(c->capture));
  mh_jsonw_key(w, "file");
  if (c->capture == MH_CAPTURE_CAPTURED) {
    char rel[300];
    snprintf(rel, sizeof(rel), "cases/%s.pcapng", file);
    mh_jsonw_string(w, rel);
  } else {
    mh_jsonw_null(w);
  }
  mh_kv_str(w, "reason", c->capture_note);
  mh_kv_uint(w, "frames", v->frames);
  mh_kv_str(w, "sni", v->sni);
  mh_kv_bool(w, "server_certificate", v->server_certificate);
  mh_jsonw_key(w, "alerts");
  mh_jsonw_array_begin(w);
  for (size_t i = 0; i < v->num_alerts; i++) {
    const struct mh_wire_alert *a = &v->alerts[i];
    mh_jsonw_object_begin(w);
    mh_kv_str(w, "from", a->from == 'c' ? "client" : "server");
    mh_kv_int(w, "level", a->level);
    mh_kv_int(w, "code", a->desc == MH_WIRE_UNDECRYPTED ? -1 : a->desc);  // -1: "encrypted"
    mh_kv_str(w, "name", a->desc != MH_WIRE_UNDECRYPTED ? mh_alert_name(a->desc) : "encrypted");
    mh_kv_bool(w, "encrypted", a->encrypted);
    mh_jsonw_object_end(w);
  }
  mh_jsonw_array_end(w);
  mh_kv_int(w, "undecrypted_records", v->undecrypted);
  // The report's words for the wire's ends: "" when neither a FIN nor a RST was seen.
  mh_kv_str(w, "client_end", v->client_end == MH_END_NONE ? "" : mh_end_name(v->client_end));
  mh_kv_str(w, "server_end", v->server_end == MH_END_NONE ? "" : mh_end_name(v->server_end));
  mh_kv_bool(w, "consistent", c->wire_mismatch[0] == '\0');
  mh_kv_str(w, "mismatch", c->wire_mismatch);
  mh_jsonw_object_end(w);
}

static void json_case(struct mh_jsonw *w, const struct mh_case_result *c) {
  char file[256], log[300];
  mh_report_case_file_name(c->id, file, sizeof(file));
  mh_jsonw_object_begin(w);
  mh_kv_str(w, "id", c->id);
  mh_kv_str(w, "kind", mh_case_kind_name(c->kind));
  mh_kv_str(w, "target", c->target);
  mh_kv_str(w, "endpoint", c->endpoint);
  mh_kv_str(w, "server_name", c->server_name);
  mh_jsonw_key(w, "identity");
  mh_jsonw_string_or_null(w, c->identity);
  mh_kv_str(w, "tls_version", mh_tls_version_keyword(c->version));
  mh_jsonw_key(w, "profile");
  mh_jsonw_string_or_null(w, c->profile);  // null: no profile, the manner is not judged
  if (c->kind == MH_CASE_CERTIFICATE) {    // no connection: nothing was expected of or seen on one
    mh_jsonw_key(w, "expected");
    mh_jsonw_null(w);
    mh_jsonw_key(w, "outcome");
    mh_jsonw_null(w);
  } else {
    json_expected(w, c);
    json_outcome(w, &c->outcome);
  }
  json_server(w, c);
  json_capture(w, c, file);
  mh_kv_str(w, "verdict", mh_verdict_name(c->verdict));
  mh_kv_str(w, "verdict_reason", c->verdict_reason);
  mh_kv_str(w, "manner", mh_manner_name(c->manner));
  mh_kv_bool(w, "fails", c->fails);
  mh_kv_str(w, "summary", c->summary);
  mh_kv_int(w, "attempts", c->attempts);
  mh_jsonw_key(w, "first_attempt");  // null: the first probe is the one judged
  mh_jsonw_string_or_null(w, c->first_attempt[0] ? c->first_attempt : NULL);
  snprintf(log, sizeof(log), "cases/%s.log", file);
  mh_kv_str(w, "log", log);
  mh_jsonw_object_end(w);
}

// json_cert writes certificate |c| (position |i| of its chain) with its time left at |start|.
static void json_cert(struct mh_jsonw *w, const struct mh_certinfo *c, int i, int64_t start) {
  char when[32], left[48];
  mh_jsonw_object_begin(w);
  mh_kv_str(w, "role", i == 0 ? "leaf" : c->self_signed ? "root" : "intermediate");
  mh_kv_str(w, "subject", c->subject);
  mh_kv_str(w, "issuer", c->issuer);
  mh_kv_str(w, "serial", c->serial);
  mh_kv_str(w, "sans", c->sans);
  mh_kv_str(w, "key", c->key);
  mh_certinfo_utc(c->not_before, when, sizeof(when));
  mh_kv_str(w, "not_before", when);
  mh_certinfo_utc(c->not_after, when, sizeof(when));
  mh_kv_str(w, "not_after", when);
  mh_kv_int(w, "time_left_s", (long long)(c->not_after - start));
  mh_certinfo_time_left(c->not_after - start, left, sizeof(left));
  mh_kv_str(w, "time_left", left);
  mh_kv_bool(w, "checked", mh_lifetimes_checkable(c, i));
  mh_kv_str(w, "sha256", c->sha256);
  mh_jsonw_object_end(w);
}

static void json_certs(struct mh_jsonw *w, const struct mh_certinfo *certs, int n, int64_t start) {
  mh_jsonw_key(w, "certificates");
  mh_jsonw_array_begin(w);
  for (int i = 0; i < n; i++) {
    json_cert(w, &certs[i], i, start);
  }
  mh_jsonw_array_end(w);
}

// json_chains writes the chains the targets presented, grouped by target (the chains are sorted
// by target), each with the cases that saw it.
static void json_chains(struct mh_jsonw *w, const struct mh_lifetimes *l) {
  mh_jsonw_key(w, "targets");
  mh_jsonw_array_begin(w);
  for (size_t i = 0; i < l->num_chains; i++) {
    const struct mh_lifetime_chain *c = &l->chains[i];
    if (i == 0 || strcmp(l->chains[i - 1].target, c->target) != 0) {
      mh_jsonw_object_begin(w);
      mh_kv_str(w, "target", c->target);
      mh_jsonw_key(w, "chains");
      mh_jsonw_array_begin(w);
    }
    mh_jsonw_object_begin(w);
    mh_kv_bool(w, "readable", c->num_certs >= 0);
    json_certs(w, c->certs, c->num_certs, l->start);
    mh_jsonw_key(w, "cases");
    mh_jsonw_array_begin(w);
    for (size_t k = 0; k < c->num_cases; k++) {
      mh_jsonw_string(w, c->cases[k]);
    }
    mh_jsonw_array_end(w);
    mh_jsonw_object_end(w);
    if (i + 1 == l->num_chains || strcmp(l->chains[i + 1].target, c->target) != 0) {
      mh_jsonw_array_end(w);
      mh_jsonw_object_end(w);
    }
  }
  mh_jsonw_array_end(w);
}

// json_certificates writes what the run's certificates say: the targets' chains and the client
// identities', with their time left at the run's start.
static void json_certificates(struct mh_jsonw *w, const struct mh_report *r) {
  const struct mh_lifetimes *l = r->run->lifetimes;
  mh_jsonw_key(w, "certificates");
  if (l == NULL) {
    mh_jsonw_null(w);
    return;
  }
  mh_jsonw_object_begin(w);
  mh_jsonw_key(w, "min_time_left_s");
  if (l->min_left >= 0) {
    mh_jsonw_int(w, (long long)l->min_left);
  } else {
    mh_jsonw_null(w);
  }
  json_chains(w, l);
  mh_jsonw_key(w, "client_identities");
  mh_jsonw_array_begin(w);
  for (size_t i = 0; i < l->num_identities; i++) {
    const struct mh_lifetime_identity *x = &l->identities[i];
    mh_jsonw_object_begin(w);
    mh_kv_str(w, "name", x->name);
    mh_kv_str(w, "source", x->imported ? "imported" : "generated");
    json_certs(w, x->certs, x->num_certs, l->start);
    mh_jsonw_object_end(w);
  }
  mh_jsonw_array_end(w);
  mh_jsonw_object_end(w);
}

static void json_baseline(struct mh_jsonw *w, const struct mh_report *r) {
  mh_jsonw_key(w, "baseline");
  if (r->run->baseline_file == NULL) {
    mh_jsonw_null(w);
    return;
  }
  mh_jsonw_object_begin(w);
  mh_kv_str(w, "file", r->run->baseline_file);
  mh_jsonw_key(w, "changed");
  mh_jsonw_array_begin(w);
  for (size_t i = 0; i < r->run->num_changes; i++) {
    mh_jsonw_object_begin(w);
    mh_kv_str(w, "id", r->run->changes[i].id);
    mh_kv_str(w, "before", r->run->changes[i].before);
    mh_kv_str(w, "after", r->run->changes[i].after);
    mh_jsonw_object_end(w);
  }
  mh_jsonw_array_end(w);
  mh_jsonw_object_end(w);
}

// json_warnings writes what the run's greens cannot prove: one object per warning, with how the
// cases were rejected for a same_rejection.
static void json_warnings(struct mh_jsonw *w, const struct mh_report *r) {
  mh_jsonw_key(w, "warnings");
  mh_jsonw_array_begin(w);
  for (size_t i = 0; i < r->run->num_warnings; i++) {
    const struct mh_run_warning *x = &r->run->warnings[i];
    mh_jsonw_object_begin(w);
    mh_kv_str(w, "kind", mh_warnings_name(x->kind));
    mh_jsonw_key(w, "target");
    mh_jsonw_string_or_null(w, x->target);
    mh_kv_uint(w, "cases", x->num_cases);
    mh_jsonw_key(w, "rejection");
    if (x->kind == MH_WARNING_SAME_REJECTION) {
      mh_jsonw_object_begin(w);
      mh_kv_str(w, "side", x->side == 'c' ? "client" : "server");
      mh_kv_str(w, "layer", mh_layer_name(x->layer));
      mh_kv_alert(w, "alert", x->alert);
      mh_kv_int(w, "http_status", x->http_status);
      mh_jsonw_object_end(w);
    } else {
      mh_jsonw_null(w);
    }
    mh_kv_bool(w, "fails", mh_warnings_fails(x, r->strict));
    mh_kv_str(w, "message", x->message);
    mh_jsonw_object_end(w);
  }
  mh_jsonw_array_end(w);
}

void mh_run_json_write(FILE *f, const struct mh_report *r) {
  char when[32];
  time_t t = (time_t)(r->run->started_ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
  struct mh_jsonw jw, *w = &jw;
  mh_jsonw_init_file(w, f);
  mh_jsonw_object_begin(w);
  mh_kv_str(w, "schema", MH_REPORT_SCHEMA);
  mh_jsonw_key(w, "harness");
  mh_jsonw_object_begin(w);
  mh_kv_str(w, "version", MH_VERSION);
  mh_kv_str(w, "tls", r->tls_library);
  mh_jsonw_object_end(w);
  mh_jsonw_key(w, "scenario");
  mh_jsonw_object_begin(w);
  mh_kv_str(w, "name", r->scenario_name);
  mh_kv_str(w, "file", r->scenario_file);
  mh_jsonw_object_end(w);
  mh_kv_str(w, "started", when);
  mh_kv_double(w, "duration_ms", r->run->duration_ms, 1);
  mh_kv_bool(w, "strict", r->strict);
  mh_kv_int(w, "jobs", r->run->jobs);
  size_t counts[MH_VERDICT_NUM] = {0}, failed = 0;
  for (size_t i = 0; i < r->run->num_cases; i++) {
    counts[r->run->cases[i].verdict]++;
    failed += r->run->cases[i].fails;
  }
  mh_jsonw_key(w, "summary");
  mh_jsonw_object_begin(w);
  mh_kv_uint(w, "total", r->run->num_cases);
  mh_kv_uint(w, "failed", failed);
  mh_jsonw_key(w, "verdicts");
  mh_jsonw_object_begin(w);
  for (int v = 0; v < MH_VERDICT_NUM; v++) {
    mh_kv_uint(w, mh_verdict_name((enum mh_verdict)v), counts[v]);
  }
  mh_jsonw_object_end(w);
  mh_jsonw_object_end(w);
  mh_kv_int(w, "exit_code", r->run->exit_code);
  mh_kv_bool(w, "interrupted", r->run->signo != 0);
  mh_jsonw_key(w, "signal");
  mh_jsonw_string_or_null(w, r->run->signo != 0 ? mh_interrupt_name(r->run->signo) : NULL);
  mh_kv_bool(w, "timed_out", r->run->timed_out);
  mh_kv_uint(w, "cases_planned", r->run->num_planned);
  json_warnings(w, r);
  json_certificates(w, r);
  mh_jsonw_key(w, "cases");
  mh_jsonw_array_begin(w);
  for (size_t i = 0; i < r->run->num_cases; i++) {
    mh_jsonw_newline(w);
    json_case(w, &r->run->cases[i]);
  }
  mh_jsonw_newline(w);
  mh_jsonw_array_end(w);
  json_baseline(w, r);
  mh_jsonw_object_end(w);
  mh_jsonw_newline(w);
  mh_jsonw_finish(w);
  mh_jsonw_cleanup(w);
}
