// report: run reports for people and for CI (see report.h).
//
// Every file is built in memory (open_memstream) and staged; nothing appears until all are ready.
// JSON goes through the harness's one writer (base/jsonw.h); XML and HTML are written by hand: the
// values are strings and numbers, so escaping is all it takes. docs/report-schema.json is what a
// reader of report.json checks.
#include "report/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alerts.h"
#include "base/jsonw.h"
#include "load/load.h"
#include "load/sweep.h"
#include "capture/pcapng.h"
#include "base/stage.h"
#include "tls/tls.h"

void mh_report_case_file_name(const char *id, char *out, size_t out_len) {
  size_t i = 0;
  for (; id[i] != '\0' && i + 1 < out_len; i++) {
    char ch = id[i];
    out[i] = (ch == '/' || ch == ':' || ch == ' ') ? '_' : ch;
  }
  out[i] = '\0';
}

static void xml_str(FILE *f, const char *s) {
  for (const char *p = s ? s : ""; *p; p++) {
    switch (*p) {
      case '&':
        fputs("&amp;", f);
        break;
      case '<':
        fputs("&lt;", f);
        break;
      case '>':
        fputs("&gt;", f);
        break;
      case '"':
        fputs("&quot;", f);
        break;
      case '\'':
        fputs("&apos;", f);
        break;
      default:
        if ((unsigned char)*p >= 0x20 || *p == '\n' || *p == '\t') {
          fputc(*p, f);
        }
    }
  }
}

static const char *version_name(int v) {
  return v == MH_TLS13 ? "1.3" : v == MH_TLS12 ? "1.2" : "";
}

// The JSON of report.json goes through the one writer (base/jsonw.h); these name a member and
// write its value in one call.
static void kstr(struct mh_jsonw *w, const char *key, const char *value) {
  mh_jsonw_key(w, key);
  mh_jsonw_string(w, value);
}

static void kint(struct mh_jsonw *w, const char *key, long long value) {
  mh_jsonw_key(w, key);
  mh_jsonw_int(w, value);
}

static void kuint(struct mh_jsonw *w, const char *key, unsigned long long value) {
  mh_jsonw_key(w, key);
  mh_jsonw_uint(w, value);
}

static void kdouble(struct mh_jsonw *w, const char *key, double value, int decimals) {
  mh_jsonw_key(w, key);
  mh_jsonw_double(w, value, decimals);
}

static void kbool(struct mh_jsonw *w, const char *key, int value) {
  mh_jsonw_key(w, key);
  mh_jsonw_bool(w, value);
}

// kalert writes an alert as {"code", "name"}, or null for "no alert".
static void kalert(struct mh_jsonw *w, const char *key, int code) {
  mh_jsonw_key(w, key);
  if (code == MH_ALERT_NONE) {
    mh_jsonw_null(w);
    return;
  }
  mh_jsonw_object_begin(w);
  kint(w, "code", code);
  kstr(w, "name", mh_alert_name(code));
  mh_jsonw_object_end(w);
}

static const char *tls_version_text(int v) {
  return v == MH_TLS13 ? "TLSv1.3" : v == MH_TLS12 ? "TLSv1.2" : "";
}

static void json_expected(struct mh_jsonw *w, const struct mh_case_result *c) {
  const struct mh_expectation *x = &c->expect;
  mh_jsonw_key(w, "expected");
  mh_jsonw_object_begin(w);
  kstr(w, "result", x->reject ? "reject" : "accept");
  kstr(w, "reason", mh_reason_name(x->reason));
  kstr(w, "side", x->reject ? (x->side == 'c' ? "client" : "server") : "none");
  kstr(w, "layer", mh_layer_name(x->layer));
  mh_jsonw_key(w, "alerts");
  mh_jsonw_array_begin(w);
  for (size_t i = 0; i < x->num_alerts; i++) {
    mh_jsonw_int(w, x->alerts[i]);
  }
  mh_jsonw_array_end(w);
  kint(w, "http_status", x->status);
  kstr(w, "source", x->explicit_ ? "explicit" : "oracle");
  kstr(w, "text", c->expected_text);
  mh_jsonw_object_end(w);
}

static void json_outcome(struct mh_jsonw *w, const struct mh_case_outcome *o) {
  mh_jsonw_key(w, "outcome");
  mh_jsonw_object_begin(w);
  kstr(w, "result", mh_result_name(o->result));
  kstr(w, "rejected_by",
       o->rejected_by == 's'   ? "server"
       : o->rejected_by == 'c' ? "client"
                               : "none");
  kstr(w, "layer", mh_layer_name(o->layer));
  kstr(w, "phase", mh_phase_name(o->phase));
  kstr(w, "transport_end", mh_end_name(o->end));
  kstr(w, "tcp", o->tcp);
  kstr(w, "handshake", o->handshake_ok ? "ok" : "failed");
  kstr(w, "version", tls_version_text(o->tls.version));
  kstr(w, "cipher", o->tls.cipher);
  kstr(w, "group", o->tls.group);
  kstr(w, "alpn", o->tls.alpn);
  kalert(w, "alert_sent", o->tls.alert_sent);
  kalert(w, "alert_received", o->tls.alert_received);
  kint(w, "http_status", o->http_status);
  kbool(w, "websocket_upgrade", o->ws_upgraded);
  kstr(w, "server_cn", o->tls.peer_cn);
  kstr(w, "error", o->client_error);
  mh_jsonw_key(w, "timings_ms");
  mh_jsonw_object_begin(w);
  kdouble(w, "tcp", o->tcp_ms, 3);
  kdouble(w, "handshake", o->handshake_ms, 3);
  kdouble(w, "first_read", o->first_read_ms, 3);
  kdouble(w, "total", o->total_ms, 3);
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
  kstr(w, "location", s->location);
  kstr(w, "peer", s->peer);
  kbool(w, "tls_rejected", s->tls_rejected);
  kstr(w, "reason", s->reason);
  kalert(w, "alert_sent", s->alert_sent);
  kalert(w, "alert_received", s->alert_received);
  kint(w, "http_status", s->http_status);
  kstr(w, "client_cn", s->client_cn);
  mh_jsonw_object_end(w);
}

static void json_capture(struct mh_jsonw *w, const struct mh_case_result *c, const char *file) {
  mh_jsonw_key(w, "capture");
  if (c->capture == 0) {
    mh_jsonw_null(w);
    return;
  }
  const struct mh_wire_view *v = &c->wire;
  mh_jsonw_object_begin(w);
  kstr(w, "status", c->capture == 1 ? "captured" : "skipped");
  mh_jsonw_key(w, "file");
  if (c->capture == 1) {
    char rel[300];
    snprintf(rel, sizeof(rel), "cases/%s.pcapng", file);
    mh_jsonw_string(w, rel);
  } else {
    mh_jsonw_null(w);
  }
  kstr(w, "reason", c->capture_note);
  kuint(w, "frames", v->frames);
  kstr(w, "sni", v->sni);
  kbool(w, "server_certificate", v->server_certificate);
  mh_jsonw_key(w, "alerts");
  mh_jsonw_array_begin(w);
  for (size_t i = 0; i < v->num_alerts; i++) {
    const struct mh_wire_alert *a = &v->alerts[i];
    mh_jsonw_object_begin(w);
    kstr(w, "from", a->from == 'c' ? "client" : "server");
    kint(w, "level", a->level);
    kint(w, "code", a->desc == MH_WIRE_UNDECRYPTED ? -1 : a->desc);  // -1: "encrypted"
    kstr(w, "name", a->desc != MH_WIRE_UNDECRYPTED ? mh_alert_name(a->desc) : "encrypted");
    kbool(w, "encrypted", a->encrypted);
    mh_jsonw_object_end(w);
  }
  mh_jsonw_array_end(w);
  kint(w, "undecrypted_records", v->undecrypted);
  // The report's words for the wire's ends: "" when neither a FIN nor a RST was seen.
  kstr(w, "client_end", v->client_end == MH_END_NONE ? "" : mh_end_name(v->client_end));
  kstr(w, "server_end", v->server_end == MH_END_NONE ? "" : mh_end_name(v->server_end));
  kbool(w, "consistent", c->wire_mismatch[0] == '\0');
  kstr(w, "mismatch", c->wire_mismatch);
  mh_jsonw_object_end(w);
}

static void json_case(struct mh_jsonw *w, const struct mh_case_result *c) {
  char file[256], log[300];
  mh_report_case_file_name(c->id, file, sizeof(file));
  mh_jsonw_object_begin(w);
  kstr(w, "id", c->id);
  kstr(w, "kind", c->kind);
  kstr(w, "target", c->target);
  kstr(w, "endpoint", c->endpoint);
  kstr(w, "server_name", c->server_name);
  mh_jsonw_key(w, "identity");
  mh_jsonw_string_or_null(w, c->identity);
  kstr(w, "tls_version", version_name(c->version));
  kstr(w, "profile", c->profile);
  json_expected(w, c);
  json_outcome(w, &c->outcome);
  json_server(w, c);
  json_capture(w, c, file);
  kstr(w, "verdict", mh_verdict_name(c->verdict));
  kbool(w, "fails", c->fails);
  kstr(w, "summary", c->summary);
  snprintf(log, sizeof(log), "cases/%s.log", file);
  kstr(w, "log", log);
  mh_jsonw_object_end(w);
}

static void json_baseline(struct mh_jsonw *w, const struct mh_report *r) {
  mh_jsonw_key(w, "baseline");
  if (r->baseline_file == NULL) {
    mh_jsonw_null(w);
    return;
  }
  mh_jsonw_object_begin(w);
  kstr(w, "file", r->baseline_file);
  mh_jsonw_key(w, "changed");
  mh_jsonw_array_begin(w);
  for (size_t i = 0; i < r->num_changes; i++) {
    mh_jsonw_object_begin(w);
    kstr(w, "id", r->changes[i].id);
    kstr(w, "before", r->changes[i].before);
    kstr(w, "after", r->changes[i].after);
    mh_jsonw_object_end(w);
  }
  mh_jsonw_array_end(w);
  mh_jsonw_object_end(w);
}

// write_json writes report.json: one case per line, so that a diff of two reports reads well.
static void write_json(FILE *f, const struct mh_report *r) {
  char when[32];
  time_t t = (time_t)(r->started_ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
  struct mh_jsonw jw, *w = &jw;
  mh_jsonw_init_file(w, f);
  mh_jsonw_object_begin(w);
  kstr(w, "schema", MH_REPORT_SCHEMA);
  mh_jsonw_key(w, "harness");
  mh_jsonw_object_begin(w);
  kstr(w, "version", MH_VERSION);
  kstr(w, "tls", r->tls_library);
  mh_jsonw_object_end(w);
  mh_jsonw_key(w, "scenario");
  mh_jsonw_object_begin(w);
  kstr(w, "name", r->scenario_name);
  kstr(w, "file", r->scenario_file);
  mh_jsonw_object_end(w);
  kstr(w, "started", when);
  kdouble(w, "duration_ms", r->duration_ms, 1);
  kbool(w, "strict", r->strict);
  kint(w, "jobs", r->jobs);
  size_t counts[MH_VERDICT_NUM] = {0}, failed = 0;
  for (size_t i = 0; i < r->num_cases; i++) {
    counts[r->cases[i].verdict]++;
    failed += r->cases[i].fails;
  }
  mh_jsonw_key(w, "summary");
  mh_jsonw_object_begin(w);
  kuint(w, "total", r->num_cases);
  kuint(w, "failed", failed);
  mh_jsonw_key(w, "verdicts");
  mh_jsonw_object_begin(w);
  for (int v = 0; v < MH_VERDICT_NUM; v++) {
    kuint(w, mh_verdict_name((enum mh_verdict)v), counts[v]);
  }
  mh_jsonw_object_end(w);
  mh_jsonw_object_end(w);
  kint(w, "exit_code", r->exit_code);
  mh_jsonw_key(w, "cases");
  mh_jsonw_array_begin(w);
  for (size_t i = 0; i < r->num_cases; i++) {
    mh_jsonw_newline(w);
    json_case(w, &r->cases[i]);
  }
  mh_jsonw_newline(w);
  mh_jsonw_array_end(w);
  json_baseline(w, r);
  mh_jsonw_object_end(w);
  mh_jsonw_newline(w);
  mh_jsonw_finish(w);
  mh_jsonw_cleanup(w);
}

// log_alert writes a case log's alert line: "42 bad_certificate", or "none" when there was no
// alert (MH_ALERT_NONE is a placeholder, not a code to print).
static void log_alert(FILE *f, const char *label, int code) {
  if (code == MH_ALERT_NONE) {
    fprintf(f, "  %s none\n", label);
  } else {
    fprintf(f, "  %s %d %s\n", label, code, mh_alert_name(code));
  }
}

static void write_case_log(FILE *f, const struct mh_case_result *c) {
  const struct mh_case_outcome *o = &c->outcome;
  fprintf(f, "case       %s (%s)\n", c->id, c->kind);
  fprintf(f, "target     %s at %s, server name %s, profile %s\n", c->target, c->endpoint,
          c->server_name, c->profile ? c->profile : "-");
  fprintf(f, "identity   %s, offering TLS %s only\n", c->identity ? c->identity : "(none)",
          version_name(c->version));
  fprintf(f, "expected   %s [%s]\n", c->expected_text, c->expect.explicit_ ? "explicit" : "oracle");
  fprintf(f, "actual     %s\n", c->summary);
  fprintf(f, "verdict    %s: %s%s\n\n", mh_verdict_name(c->verdict),
          mh_verdict_description(c->verdict), c->fails ? " (FAILS)" : "");
  fprintf(f, "client (mtls-harness)\n");
  fprintf(f, "  tcp            %s (%.3f ms)\n", o->tcp, o->tcp_ms);
  fprintf(f, "  handshake      %s (%.3f ms) %s %s %s alpn=%s\n", o->handshake_ok ? "ok" : "failed",
          o->handshake_ms,
          o->tls.version == MH_TLS13   ? "TLSv1.3"
          : o->tls.version == MH_TLS12 ? "TLSv1.2"
                                       : "-",
          o->tls.cipher, o->tls.group, o->tls.alpn[0] ? o->tls.alpn : "-");
  fprintf(f, "  server cert    CN=%s%s\n", o->tls.peer_cn, o->tls.verify_ok ? " (verified)" : "");
  log_alert(f, "alert sent    ", o->tls.alert_sent);
  log_alert(f, "alert received", o->tls.alert_received);
  fprintf(f, "  result         %s, phase %s, transport %s\n", mh_result_name(o->result),
          mh_phase_name(o->phase), mh_end_name(o->end));
  fprintf(f, "  first read     %.3f ms, HTTP %d%s\n", o->first_read_ms, o->http_status,
          o->ws_upgraded ? " (WebSocket upgraded)" : "");
  fprintf(f, "  error          %s\n", o->client_error[0] ? o->client_error : "-");
  if (c->has_server) {
    const struct mh_server_record *s = &c->server;
    fprintf(f, "server (mock %s, saw peer %s)\n", s->location, s->peer);
    if (s->tls_rejected) {
      fprintf(f, "  log            http: TLS handshake error from %s: %s\n", s->peer, s->reason);
    }
    log_alert(f, "alert sent    ", s->alert_sent);
    log_alert(f, "alert received", s->alert_received);
    fprintf(f, "  http status    %d\n", s->http_status);
    fprintf(f, "  client CN      %s\n", s->client_cn[0] ? s->client_cn : "-");
  } else {
    fprintf(f, "server         (external target: only the client side is known)\n");
  }
  if (c->capture == 2) {
    fprintf(f, "capture        skipped: %s\n", c->capture_note);
  } else if (c->capture == 1) {
    const struct mh_wire_view *w = &c->wire;
    char file[256];
    mh_report_case_file_name(c->id, file, sizeof(file));
    fprintf(f, "capture        cases/%s.pcapng: %zu frames, SNI %s, server certificate %s\n", file,
            w->frames, w->sni[0] ? w->sni : "-", w->server_certificate ? "seen" : "not seen");
    for (size_t i = 0; i < w->num_alerts; i++) {
      const struct mh_wire_alert *a = &w->alerts[i];
      fprintf(f, "  on the wire    %s alert %d %s%s\n", a->from == 'c' ? "client" : "server",
              a->desc, a->desc >= 0 ? mh_alert_name(a->desc) : "(encrypted, not decrypted)",
              a->encrypted ? " (decrypted)" : " (plaintext)");
    }
    fprintf(f, "  tcp end        client %s, server %s\n",
            w->client_end == MH_END_NONE ? "-" : mh_end_name(w->client_end),
            w->server_end == MH_END_NONE ? "-" : mh_end_name(w->server_end));
    fprintf(f, "  cross-check    %s\n",
            c->wire_mismatch[0] ? c->wire_mismatch : "the wire agrees with the TLS library");
  }
}

// Cell layout for the human reports: one matrix per target, identities by versions.
struct grid {
  const char *target;
  const char *rows[64];
  size_t num_rows;
};

static size_t collect_grids(const struct mh_report *r, struct grid *g, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < r->num_cases; i++) {
    const struct mh_case_result *c = &r->cases[i];
    if (strcmp(c->kind, "matrix") != 0 || strchr(c->id, ':') != NULL ||
        strstr(c->id, "-vs-") != NULL) {
      continue;
    }
    size_t k = 0;
    while (k < n && strcmp(g[k].target, c->target) != 0) {
      k++;
    }
    if (k == n) {
      if (n == max) {
        continue;
      }
      memset(&g[n], 0, sizeof(g[n]));
      g[n++].target = c->target;
    }
    const char *row = c->identity ? c->identity : "none";
    size_t j = 0;
    while (j < g[k].num_rows && strcmp(g[k].rows[j], row) != 0) {
      j++;
    }
    if (j == g[k].num_rows && j < 64) {
      g[k].rows[g[k].num_rows++] = row;
    }
  }
  return n;
}

static const struct mh_case_result *grid_cell(const struct mh_report *r, const char *target,
                                              const char *row, int version) {
  for (size_t i = 0; i < r->num_cases; i++) {
    const struct mh_case_result *c = &r->cases[i];
    if (strcmp(c->kind, "matrix") == 0 && strcmp(c->target, target) == 0 &&
        strcmp(c->identity ? c->identity : "none", row) == 0 && c->version == version &&
        strchr(c->id, ':') == NULL && strstr(c->id, "-vs-") == NULL) {
      return c;
    }
  }
  return NULL;
}

static int in_grid(const struct mh_case_result *c) {
  return strcmp(c->kind, "matrix") == 0 && strchr(c->id, ':') == NULL &&
         strstr(c->id, "-vs-") == NULL;
}

static void write_md(FILE *f, const struct mh_report *r) {
  size_t counts[MH_VERDICT_NUM] = {0}, failed = 0;
  for (size_t i = 0; i < r->num_cases; i++) {
    counts[r->cases[i].verdict]++;
    failed += r->cases[i].fails;
  }
  fprintf(f, "# mTLS conformance: %s\n\n", r->scenario_name);
  fprintf(f, "Scenario `%s`, %zu cases in %.1f s, %s. Exit code %d%s.\n\n", r->scenario_file,
          r->num_cases, r->duration_ms / 1000.0, failed ? "**some failed**" : "all passed",
          r->exit_code, r->strict ? " (strict)" : "");
  fprintf(f, "| verdict | cases | meaning |\n|---|---|---|\n");
  for (int v = 0; v < MH_VERDICT_NUM; v++) {
    fprintf(f, "| %s | %zu | %s |\n", mh_verdict_name((enum mh_verdict)v), counts[v],
            mh_verdict_description((enum mh_verdict)v));
  }
  struct grid grids[32];
  size_t ng = collect_grids(r, grids, 32);
  for (size_t k = 0; k < ng; k++) {
    fprintf(f, "\n## %s\n\n| identity | TLS 1.2 | TLS 1.3 |\n|---|---|---|\n", grids[k].target);
    for (size_t j = 0; j < grids[k].num_rows; j++) {
      fprintf(f, "| %s |", grids[k].rows[j]);
      for (int v = 0; v < 2; v++) {
        const struct mh_case_result *c =
            grid_cell(r, grids[k].target, grids[k].rows[j], v ? MH_TLS13 : MH_TLS12);
        if (c == NULL) {
          fprintf(f, " - |");
          continue;
        }
        char file[256];
        mh_report_case_file_name(c->id, file, sizeof(file));
        fprintf(f, " [%s](cases/%s.log): %s |", mh_verdict_name(c->verdict), file, c->summary);
      }
      fputc('\n', f);
    }
  }
  int header = 0;
  for (size_t i = 0; i < r->num_cases; i++) {
    const struct mh_case_result *c = &r->cases[i];
    if (in_grid(c)) {
      continue;
    }
    if (!header) {
      fprintf(f, "\n## Other cases\n\n| case | verdict | expected | actual |\n|---|---|---|---|\n");
      header = 1;
    }
    char file[256];
    mh_report_case_file_name(c->id, file, sizeof(file));
    fprintf(f, "| [%s](cases/%s.log) | %s | %s | %s |\n", c->id, file, mh_verdict_name(c->verdict),
            c->expected_text, c->summary);
  }
  if (failed) {
    fprintf(f, "\n## Failures\n\n");
    for (size_t i = 0; i < r->num_cases; i++) {
      const struct mh_case_result *c = &r->cases[i];
      if (c->fails) {
        fprintf(f, "- **%s** %s: expected %s; actual %s\n", c->id, mh_verdict_name(c->verdict),
                c->expected_text, c->summary);
      }
    }
  }
  int mism = 0;
  for (size_t i = 0; i < r->num_cases; i++) {
    const struct mh_case_result *c = &r->cases[i];
    if (c->wire_mismatch[0] != '\0') {
      if (!mism) {
        fprintf(f, "\n## Where the capture disagrees with the TLS library\n\n");
        mism = 1;
      }
      fprintf(f, "- **%s**: %s\n", c->id, c->wire_mismatch);
    }
  }
  if (r->baseline_file != NULL) {
    fprintf(f, "\n## Changes since `%s`\n\n", r->baseline_file);
    if (r->num_changes == 0) {
      fprintf(f, "No case changed.\n");
    }
    for (size_t i = 0; i < r->num_changes; i++) {
      fprintf(f, "- **%s**: %s → %s\n", r->changes[i].id, r->changes[i].before,
              r->changes[i].after);
    }
  }
}

static const char *verdict_colour(enum mh_verdict v) {
  switch (v) {
    case MH_VERDICT_PASS:
      return "#c8f0c8";
    case MH_VERDICT_PASS_CONCEPTUAL:
      return "#f5e6a8";
    case MH_VERDICT_INCONCLUSIVE:
      return "#d8d8d8";
    default:
      return "#f4b6b6";
  }
}

static void html_cell(FILE *f, const struct mh_case_result *c) {
  char file[256];
  mh_report_case_file_name(c->id, file, sizeof(file));
  fprintf(f, "<td style=\"background:%s\"><a href=\"cases/%s.log\">", verdict_colour(c->verdict),
          file);
  xml_str(f, mh_verdict_name(c->verdict));
  fputs("</a><br><small>", f);
  xml_str(f, c->summary);
  fputs("</small></td>", f);
}

static void write_html(FILE *f, const struct mh_report *r) {
  size_t failed = 0;
  for (size_t i = 0; i < r->num_cases; i++) {
    failed += r->cases[i].fails;
  }
  fputs(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mTLS "
      "conformance: ",
      f);
  xml_str(f, r->scenario_name);
  fputs(
      "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
      "margin:1em 0}td,th{border:1px solid #999;padding:4px 8px;vertical-align:top}"
      "small{color:#333}</style></head><body>\n<h1>mTLS conformance: ",
      f);
  xml_str(f, r->scenario_name);
  fprintf(f, "</h1>\n<p>%zu cases in %.1f s: %s. Exit code %d%s.</p>\n", r->num_cases,
          r->duration_ms / 1000.0, failed ? "<b>some failed</b>" : "all passed", r->exit_code,
          r->strict ? " (strict)" : "");
  struct grid grids[32];
  size_t ng = collect_grids(r, grids, 32);
  for (size_t k = 0; k < ng; k++) {
    fputs("<h2>", f);
    xml_str(f, grids[k].target);
    fputs("</h2>\n<table><tr><th>identity</th><th>TLS 1.2</th><th>TLS 1.3</th></tr>\n", f);
    for (size_t j = 0; j < grids[k].num_rows; j++) {
      fputs("<tr><th>", f);
      xml_str(f, grids[k].rows[j]);
      fputs("</th>", f);
      for (int v = 0; v < 2; v++) {
        const struct mh_case_result *c =
            grid_cell(r, grids[k].target, grids[k].rows[j], v ? MH_TLS13 : MH_TLS12);
        if (c != NULL) {
          html_cell(f, c);
        } else {
          fputs("<td>-</td>", f);
        }
      }
      fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
  }
  fputs(
      "<h2>All cases</h2>\n<table><tr><th>case</th><th>verdict</th><th>expected</th>"
      "<th>actual</th><th>capture</th></tr>\n",
      f);
  for (size_t i = 0; i < r->num_cases; i++) {
    const struct mh_case_result *c = &r->cases[i];
    fputs("<tr><td>", f);
    xml_str(f, c->id);
    fputs("</td>", f);
    html_cell(f, c);
    fputs("<td>", f);
    xml_str(f, c->expected_text);
    fputs("</td><td>", f);
    xml_str(f, c->summary);
    fputs("</td><td>", f);
    if (c->capture == 1) {
      char file[256];
      mh_report_case_file_name(c->id, file, sizeof(file));
      fprintf(f, "<a href=\"cases/%s.pcapng\">pcapng</a>", file);
      if (c->wire_mismatch[0]) {
        fputs("<br><b>disagrees:</b> ", f);
        xml_str(f, c->wire_mismatch);
      }
    } else if (c->capture == 2) {
      fputs("skipped", f);
    }
    fputs("</td></tr>\n", f);
  }
  fputs("</table>\n", f);
  if (r->baseline_file != NULL) {
    fputs("<h2>Changes since baseline</h2>\n<ul>\n", f);
    for (size_t i = 0; i < r->num_changes; i++) {
      fputs("<li><b>", f);
      xml_str(f, r->changes[i].id);
      fputs("</b>: ", f);
      xml_str(f, r->changes[i].before);
      fputs(" &rarr; ", f);
      xml_str(f, r->changes[i].after);
      fputs("</li>\n", f);
    }
    fputs(r->num_changes ? "</ul>\n" : "<li>No case changed.</li></ul>\n", f);
  }
  fputs("</body></html>\n", f);
}

static void write_junit(FILE *f, const struct mh_report *r) {
  size_t failures = 0, errors = 0;
  for (size_t i = 0; i < r->num_cases; i++) {
    if (r->cases[i].fails) {
      r->cases[i].verdict == MH_VERDICT_INCONCLUSIVE ? errors++ : failures++;
    }
  }
  fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"mtls-harness\"", f);
  fprintf(f, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"%.3f\">\n", r->num_cases,
          failures, errors, r->duration_ms / 1000.0);
  fputs("  <testsuite name=\"", f);
  xml_str(f, r->scenario_name);
  fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"0\" time=\"%.3f\">\n",
          r->num_cases, failures, errors, r->duration_ms / 1000.0);
  for (size_t i = 0; i < r->num_cases; i++) {
    const struct mh_case_result *c = &r->cases[i];
    fputs("    <testcase classname=\"", f);
    xml_str(f, c->target);
    fputs("\" name=\"", f);
    xml_str(f, c->id);
    fprintf(f, "\" time=\"%.3f\"", c->outcome.total_ms / 1000.0);
    char *log = NULL;
    size_t log_len = 0;
    FILE *lf = open_memstream(&log, &log_len);
    if (lf != NULL) {
      write_case_log(lf, c);
      fclose(lf);
    }
    if (c->fails) {
      fprintf(f, ">\n      <%s type=\"%s\" message=\"",
              c->verdict == MH_VERDICT_INCONCLUSIVE ? "error" : "failure",
              mh_verdict_name(c->verdict));
      fputs("expected ", f);
      xml_str(f, c->expected_text);
      fputs("; actual ", f);
      xml_str(f, c->summary);
      fputs("\">", f);
      xml_str(f, log);
      fprintf(f, "</%s>\n    </testcase>\n",
              c->verdict == MH_VERDICT_INCONCLUSIVE ? "error" : "failure");
    } else {
      fputs(">\n      <system-out>", f);
      xml_str(f, log);
      fputs("</system-out>\n    </testcase>\n", f);
    }
    free(log);
  }
  fputs("  </testsuite>\n</testsuites>\n", f);
}

// stage_stream stages the text a writer produces.
static int stage_stream(struct mh_stage *st, const char *rel,
                        void (*fn)(FILE *, const struct mh_report *), const struct mh_report *r,
                        struct mh_err *err) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (f == NULL) {
    return mh_err_set(err, "out of memory");
  }
  fn(f, r);
  fclose(f);
  int ret = mh_stage_write(st, rel, buf, len, 0644, err);
  free(buf);
  return ret;
}

int mh_report_write(const struct mh_report *r, struct mh_err *err) {
  struct mh_stage st;
  int ret = -1;
  if (mh_stage_init(&st, r->out_dir, err) != 0) {
    goto out;
  }
  if (stage_stream(&st, "report.json", write_json, r, err) != 0 ||
      stage_stream(&st, "junit.xml", write_junit, r, err) != 0 ||
      stage_stream(&st, "report.md", write_md, r, err) != 0 ||
      stage_stream(&st, "report.html", write_html, r, err) != 0) {
    goto out;
  }
  for (size_t i = 0; i < r->num_cases; i++) {
    char file[256], rel[300];
    mh_report_case_file_name(r->cases[i].id, file, sizeof(file));
    snprintf(rel, sizeof(rel), "cases/%s.log", file);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
      mh_err_set(err, "out of memory");
      goto out;
    }
    write_case_log(f, &r->cases[i]);
    fclose(f);
    int w = mh_stage_write(&st, rel, buf, len, 0644, err);
    free(buf);
    if (w != 0) {
      goto out;
    }
    if (r->cases[i].capture == 1) {
      size_t plen;
      uint8_t *pcap = mh_pcapng_build(&r->cases[i].packets, r->cases[i].outcome.keylog, &plen);
      if (pcap == NULL) {
        mh_err_set(err, "out of memory");
        goto out;
      }
      snprintf(rel, sizeof(rel), "cases/%s.pcapng", file);
      // It holds the connection's TLS secrets: 0600, and wiped from memory.
      w = mh_stage_write(&st, rel, pcap, plen, 0600, err);
      explicit_bzero(pcap, plen);
      free(pcap);
      if (w != 0) {
        goto out;
      }
    }
  }
  ret = mh_stage_commit(&st, err);
out:
  mh_stage_cleanup(&st);
  return ret;
}

// --- load reports ---

struct load_doc {
  const char *target;
  const struct mh_load_options *o;
  const struct mh_load_result *r;
  const struct mh_sweep_step *steps;
  size_t num_steps;
  double sustainable;
};

static void json_hist(struct mh_jsonw *w, const char *name, const struct mh_hist *h) {
  mh_jsonw_key(w, name);
  mh_jsonw_object_begin(w);
  kuint(w, "count", (unsigned long long)h->total);
  kdouble(w, "mean_us", mh_hist_mean(h), 1);
  kuint(w, "p50_us", (unsigned long long)mh_hist_percentile(h, 50));
  kuint(w, "p90_us", (unsigned long long)mh_hist_percentile(h, 90));
  kuint(w, "p99_us", (unsigned long long)mh_hist_percentile(h, 99));
  kuint(w, "p999_us", (unsigned long long)mh_hist_percentile(h, 99.9));
  kuint(w, "max_us", (unsigned long long)(h->total ? h->max : 0));
  mh_jsonw_object_end(w);
}

// json_load_options writes what was asked of the load run: mode, rate, identities...
static void json_load_options(struct mh_jsonw *w, const struct load_doc *d) {
  const struct mh_load_options *o = d->o;
  kstr(w, "mode", o->rate > 0 ? "open" : "closed");
  kstr(w, "tls_version", o->version == MH_TLS13 ? "1.3" : "1.2");
  kdouble(w, "rate", o->rate, 3);
  kint(w, "connections", o->connections);
  kdouble(w, "duration_s", o->duration_s, 3);
  kint(w, "threads", o->threads);
  kdouble(w, "bad_share", o->bad_share, 4);
  kdouble(w, "elapsed_s", d->r->elapsed_s, 3);
  // The identities, round-robin: good ones must be accepted, bad ones rejected.
  for (int bad = 0; bad < 2; bad++) {
    const struct mh_load_identity *ids = bad ? o->bad : o->good;
    size_t n = bad ? o->num_bad : o->num_good;
    mh_jsonw_key(w, bad ? "bad_identities" : "identities");
    mh_jsonw_array_begin(w);
    for (size_t i = 0; i < n; i++) {
      mh_jsonw_string(w, ids[i].name);
    }
    mh_jsonw_array_end(w);
  }
}

// json_load_counts writes what happened: counts, errors by kind, the alerts of rejections.
static void json_load_counts(struct mh_jsonw *w, const struct mh_load_result *r) {
  unsigned long long errors = mh_load_result_errors(r);
  mh_jsonw_key(w, "counts");
  mh_jsonw_object_begin(w);
  kuint(w, "planned", r->planned);
  kuint(w, "started", r->started);
  kuint(w, "accepted", r->accepted);
  kuint(w, "rejected", r->rejected);
  kuint(w, "errors", errors);
  kuint(w, "dropped", r->dropped);
  kuint(w, "late", r->late);
  kuint(w, "resume_offered", r->resume_offered);
  kuint(w, "resumed", r->resumed);
  mh_jsonw_object_end(w);
  mh_jsonw_key(w, "errors");
  mh_jsonw_object_begin(w);
  for (int i = 0; i < MH_LOAD_ERR_NUM; i++) {
    kuint(w, mh_load_error_name((enum mh_load_error)i), r->errors[i]);
  }
  mh_jsonw_object_end(w);
  mh_jsonw_key(w, "rejection_alerts");
  mh_jsonw_object_begin(w);
  for (int i = 0; i < 256; i++) {
    if (r->alerts[i]) {
      char code[8];
      snprintf(code, sizeof(code), "%d", i);
      mh_jsonw_key(w, code);
      mh_jsonw_object_begin(w);
      kstr(w, "name", mh_alert_name(i));
      kuint(w, "count", r->alerts[i]);
      mh_jsonw_object_end(w);
    }
  }
  mh_jsonw_object_end(w);
}

static void json_load_seconds(struct mh_jsonw *w, const struct mh_load_result *r) {
  mh_jsonw_key(w, "seconds");
  mh_jsonw_array_begin(w);
  for (size_t i = 0; i < r->num_seconds; i++) {
    const struct mh_load_second *x = &r->seconds[i];
    mh_jsonw_object_begin(w);
    kuint(w, "second", i + 1);
    kuint(w, "accepted", x->accepted);
    kuint(w, "rejected", x->rejected);
    kuint(w, "errors", x->errors);
    kuint(w, "p50_us", x->p50_us);
    kuint(w, "p99_us", x->p99_us);
    mh_jsonw_object_end(w);
  }
  mh_jsonw_array_end(w);
}

static void json_sweep(struct mh_jsonw *w, const struct load_doc *d) {
  mh_jsonw_key(w, "sweep");
  if (d->num_steps == 0) {
    mh_jsonw_null(w);
    return;
  }
  mh_jsonw_object_begin(w);
  kdouble(w, "sustainable_rate", d->sustainable, 1);
  mh_jsonw_key(w, "steps");
  mh_jsonw_array_begin(w);
  for (size_t i = 0; i < d->num_steps; i++) {
    const struct mh_sweep_step *st = &d->steps[i];
    mh_jsonw_object_begin(w);
    kdouble(w, "offered", st->offered, 1);
    kdouble(w, "achieved", st->achieved, 1);
    kuint(w, "p99_us", st->p99_us);
    kdouble(w, "error_share", st->error_share, 5);
    kdouble(w, "drop_share", st->drop_share, 5);
    kbool(w, "sustained", st->sustained);
    mh_jsonw_key(w, "broke");
    mh_jsonw_array_begin(w);
    for (int l = 0; l < MH_SWEEP_LIMIT_NUM; l++) {
      if (st->broke & (1u << l)) {
        mh_jsonw_string(w, mh_sweep_limit_name((enum mh_sweep_limit)l));
      }
    }
    mh_jsonw_array_end(w);
    mh_jsonw_object_end(w);
  }
  mh_jsonw_array_end(w);
  mh_jsonw_object_end(w);
}

// write_broken_limits writes the keywords of the limits |st| broke, each between |quote|s,
// separated by commas, then |end|.
static void write_broken_limits(FILE *f, const struct mh_sweep_step *st, const char *quote,
                                const char *end) {
  int first = 1;
  for (int l = 0; l < MH_SWEEP_LIMIT_NUM; l++) {
    if (st->broke & (1u << l)) {
      fprintf(f, "%s%s%s%s", first ? "" : ",", quote, mh_sweep_limit_name((enum mh_sweep_limit)l),
              quote);
      first = 0;
    }
  }
  fputs(end, f);
}

static void write_load_json(FILE *f, const struct load_doc *d) {
  const struct mh_load_options *o = d->o;
  const struct mh_load_result *r = d->r;
  struct mh_jsonw jw, *w = &jw;
  mh_jsonw_init_file(w, f);
  mh_jsonw_object_begin(w);
  kstr(w, "schema", "mtls-harness/load/1");
  mh_jsonw_key(w, "harness");
  mh_jsonw_object_begin(w);
  kstr(w, "version", MH_VERSION);
  mh_jsonw_object_end(w);
  kstr(w, "target", d->target);
  json_load_options(w, d);
  json_load_counts(w, r);
  double cpu = r->cpu_user_s + r->cpu_sys_s;
  unsigned long long done = r->accepted + r->rejected;
  kdouble(w, "achieved_rate", r->elapsed_s > 0 ? (double)done / o->duration_s : 0, 3);
  kdouble(w, "accepted_rate", o->duration_s > 0 ? (double)r->accepted / o->duration_s : 0, 3);
  kdouble(w, "cpu_s", cpu, 3);
  kdouble(w, "cpu_us_per_handshake", done ? cpu * 1e6 / (double)done : 0, 1);
  kint(w, "peak_rss_kb", r->peak_rss_kb);
  mh_jsonw_key(w, "latency");
  mh_jsonw_object_begin(w);
  json_hist(w, "tcp_connect", &r->tcp);
  json_hist(w, "tls_handshake", &r->handshake);
  json_hist(w, "tls_handshake_resumed", &r->handshake_resumed);
  json_hist(w, "first_server_record", &r->first_record);
  json_hist(w, "total_accepted", &r->total_accept);
  json_hist(w, "total_rejected", &r->total_reject);
  mh_jsonw_object_end(w);
  json_load_seconds(w, r);
  json_sweep(w, d);
  mh_jsonw_object_end(w);
  mh_jsonw_newline(w);
  mh_jsonw_finish(w);
  mh_jsonw_cleanup(w);
}

// svg_chart draws series against x in a 760x260 plot: |left| on the left axis, |right| (may be
// NULL) on the right one. Values are plain numbers; labels say the units.
struct series {
  const char *name;
  const char *colour;
  const double *v;
  int right;
};

static void svg_chart(FILE *f, int y0, const char *title, const double *x, size_t n,
                      const char *xlabel, const struct series *ss, size_t ns, const char *llabel,
                      const char *rlabel) {
  double xmax = 1, lmax = 1, rmax = 1;
  for (size_t i = 0; i < n; i++) {
    xmax = x[i] > xmax ? x[i] : xmax;
    for (size_t k = 0; k < ns; k++) {
      double *m = ss[k].right ? &rmax : &lmax;
      *m = ss[k].v[i] > *m ? ss[k].v[i] : *m;
    }
  }
  lmax *= 1.1;
  rmax *= 1.1;
  const int px = 70, pw = 760, py = y0 + 30, ph = 220;
  fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"14\" font-weight=\"bold\">", px, y0 + 18);
  xml_str(f, title);
  fprintf(f,
          "</text>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
          "stroke=\"#999\"/>\n",
          px, py, pw, ph);
  fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%.0f</text>", px - 45, py + 10, lmax);
  fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">0</text>", px - 15, py + ph);
  fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>\n", px - 65, py - 8, llabel);
  if (rlabel != NULL) {
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%.2f</text>", px + pw + 5, py + 10, rmax);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>\n", px + pw - 40, py - 8,
            rlabel);
  }
  fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s (0 to %.0f)</text>\n", px + pw / 2 - 60,
          py + ph + 18, xlabel, xmax);
  for (size_t k = 0; k < ns; k++) {
    double m = ss[k].right ? rmax : lmax;
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", ss[k].colour);
    for (size_t i = 0; i < n; i++) {
      fprintf(f, "%.1f,%.1f ", px + pw * x[i] / xmax, py + ph - ph * ss[k].v[i] / m);
    }
    fprintf(f, "\"/>\n<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"%s\">",
            px + 10 + 150 * (int)k, py + 15, ss[k].colour);
    xml_str(f, ss[k].name);
    fputs("</text>\n", f);
  }
}

static void write_load_svg(FILE *f, const struct load_doc *d) {
  const struct mh_load_result *r = d->r;
  size_t n = r->num_seconds;
  double *x = calloc(n + 1, sizeof(double)), *rate = calloc(n + 1, sizeof(double));
  double *p50 = calloc(n + 1, sizeof(double)), *p99 = calloc(n + 1, sizeof(double));
  fputs(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"300\" "
      "font-family=\"sans-serif\">\n",
      f);
  if (x && rate && p50 && p99) {
    for (size_t i = 0; i < n; i++) {
      x[i] = (double)(i + 1);
      rate[i] = (double)(r->seconds[i].accepted + r->seconds[i].rejected);
      p50[i] = r->seconds[i].p50_us / 1000.0;
      p99[i] = r->seconds[i].p99_us / 1000.0;
    }
    struct series ss[] = {{"handshakes/s", "#1f6feb", rate, 0},
                          {"p50 ms (worst thread)", "#2da44e", p50, 1},
                          {"p99 ms (worst thread)", "#cf222e", p99, 1}};
    svg_chart(f, 0, d->target, x, n, "seconds", ss, 3, "hs/s", "ms");
  }
  fputs("</svg>\n", f);
  free(x);
  free(rate);
  free(p50);
  free(p99);
}

static void write_sweep_svg(FILE *f, const struct load_doc *d) {
  size_t n = d->num_steps;
  double *x = calloc(n + 1, sizeof(double)), *ach = calloc(n + 1, sizeof(double));
  double *p99 = calloc(n + 1, sizeof(double));
  fputs(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"300\" "
      "font-family=\"sans-serif\">\n",
      f);
  if (x && ach && p99) {
    for (size_t i = 0; i < n; i++) {
      x[i] = d->steps[i].offered;
      ach[i] = d->steps[i].achieved;
      p99[i] = d->steps[i].p99_us / 1000.0;
    }
    struct series ss[] = {{"achieved hs/s", "#1f6feb", ach, 0}, {"p99 ms", "#cf222e", p99, 1}};
    char title[300];
    snprintf(title, sizeof(title), "sweep: highest sustained rate %.0f hs/s", d->sustainable);
    svg_chart(f, 0, title, x, n, "offered hs/s", ss, 2, "hs/s", "ms");
  }
  fputs("</svg>\n", f);
  free(x);
  free(ach);
  free(p99);
}

static void md_hist(FILE *f, const char *name, const struct mh_hist *h) {
  fprintf(f, "| %s | %llu | %.3f | %.3f | %.3f | %.3f | %.3f |\n", name,
          (unsigned long long)h->total, mh_hist_percentile(h, 50) / 1000.0,
          mh_hist_percentile(h, 90) / 1000.0, mh_hist_percentile(h, 99) / 1000.0,
          mh_hist_percentile(h, 99.9) / 1000.0, (h->total ? h->max : 0) / 1000.0);
}

static void write_load_md(FILE *f, const struct load_doc *d) {
  const struct mh_load_options *o = d->o;
  const struct mh_load_result *r = d->r;
  fprintf(f, "# mTLS handshake load: %s\n\n", d->target);
  if (o->rate > 0) {
    fprintf(f,
            "Open loop at %.1f handshakes/s for %.1f s (latency from each arrival's planned "
            "time), ",
            o->rate, o->duration_s);
  } else {
    fprintf(f, "Closed loop with %d handshakes in flight for %.1f s (latency includes queueing), ",
            o->connections, o->duration_s);
  }
  fprintf(f, "TLS %s, %d threads, bad-identity share %.2f.\n\n",
          o->version == MH_TLS13 ? "1.3" : "1.2", o->threads, o->bad_share);
  for (int bad = 0; bad < 2; bad++) {
    const struct mh_load_identity *ids = bad ? o->bad : o->good;
    size_t n = bad ? o->num_bad : o->num_good;
    if (n > 0) {
      fprintf(f, "%s identities (round-robin):", bad ? "Bad" : "Client");
      for (size_t i = 0; i < n; i++) {
        fprintf(f, "%s `%s`", i ? "," : "", ids[i].name);
      }
      fputs(".\n\n", f);
    }
  }
  fprintf(f,
          "| | count |\n|---|---|\n| planned | %llu |\n| started | %llu |\n| accepted | %llu |\n"
          "| rejected | %llu |\n| dropped (no free connection) | %llu |\n| late (> 1 ms) | %llu |\n"
          "| sessions offered | %llu |\n| resumed (reported by the TLS library) | %llu |\n",
          r->planned, r->started, r->accepted, r->rejected, r->dropped, r->late, r->resume_offered,
          r->resumed);
  for (int i = 0; i < MH_LOAD_ERR_NUM; i++) {
    if (r->errors[i]) {
      fprintf(f, "| error: %s | %llu |\n", mh_load_error_name((enum mh_load_error)i), r->errors[i]);
    }
  }
  double cpu = r->cpu_user_s + r->cpu_sys_s;
  fprintf(f,
          "\nAchieved %.1f handshakes/s (%.1f accepted/s); %.1f us of harness CPU per handshake; "
          "peak RSS %ld KiB.\n\n",
          (double)(r->accepted + r->rejected) / o->duration_s, (double)r->accepted / o->duration_s,
          (r->accepted + r->rejected) ? cpu * 1e6 / (double)(r->accepted + r->rejected) : 0,
          r->peak_rss_kb);
  fprintf(
      f,
      "| latency (ms) | count | p50 | p90 | p99 | p99.9 | max |\n|---|---|---|---|---|---|---|\n");
  md_hist(f, "TCP connect", &r->tcp);
  md_hist(f, "TLS handshake (full)", &r->handshake);
  md_hist(f, "TLS handshake (resumed)", &r->handshake_resumed);
  md_hist(f, "first server record", &r->first_record);
  md_hist(f, "total, accepted", &r->total_accept);
  md_hist(f, "total, rejected", &r->total_reject);
  fprintf(f, "\n![rate and latency over time](load.svg)\n");
  if (d->num_steps > 0) {
    fprintf(f, "\n## Sweep: highest sustained rate %.0f handshakes/s\n\n", d->sustainable);
    fprintf(f,
            "| offered/s | achieved/s | p99 ms | errors | dropped | sustained | limits broken |\n"
            "|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < d->num_steps; i++) {
      const struct mh_sweep_step *st = &d->steps[i];
      fprintf(f, "| %.0f | %.1f | %.3f | %.2f%% | %.2f%% | %s | ", st->offered, st->achieved,
              st->p99_us / 1000.0, 100 * st->error_share, 100 * st->drop_share,
              st->sustained ? "yes" : "no");
      write_broken_limits(f, st, "", " |\n");
    }
    fprintf(f, "\n![sweep](sweep.svg)\n");
  }
}

int mh_report_write_load(const char *out_dir, const char *target, const struct mh_load_options *o,
                         const struct mh_load_result *r, const struct mh_sweep *sweep,
                         struct mh_err *err) {
  struct load_doc d = {target,
                       o,
                       r,
                       sweep ? sweep->steps : NULL,
                       sweep ? sweep->num_steps : 0,
                       sweep ? sweep->sustainable : 0};
  size_t num_steps = d.num_steps;
  struct mh_stage st;
  int ret = -1;
  if (mh_stage_init(&st, out_dir, err) != 0) {
    goto out;
  }
  char *buf = NULL;
  size_t len = 0;
  static const char *const files[] = {"report.json", "report.md", "load.svg", "sweep.svg"};
  for (int k = 0; k < (num_steps ? 4 : 3); k++) {
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
      mh_err_set(err, "out of memory");
      goto out;
    }
    if (k == 0) {
      write_load_json(f, &d);
    } else if (k == 1) {
      write_load_md(f, &d);
    } else if (k == 2) {
      write_load_svg(f, &d);
    } else {
      write_sweep_svg(f, &d);
    }
    fclose(f);
    int w = mh_stage_write(&st, files[k], buf, len, 0644, err);
    free(buf);
    buf = NULL;
    if (w != 0) {
      goto out;
    }
  }
  ret = mh_stage_commit(&st, err);
out:
  mh_stage_cleanup(&st);
  return ret;
}
