// report: run reports for people and for CI (see report.h).
//
// Every file is built in memory (open_memstream) and staged; nothing appears until all are ready.
// JSON, XML and HTML are written by hand: the values are strings and numbers, so escaping is all it
// takes, and the schema in docs/report-schema.json is what a reader checks.
#include "report/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alerts.h"
#include "load/load.h"
#include "load/sweep.h"
#include "capture/pcapng.h"
#include "base/stage.h"
#include "tls/tls.h"

void mh_case_file_name(const char *id, char *out, size_t out_len) {
  size_t i = 0;
  for (; id[i] != '\0' && i + 1 < out_len; i++) {
    char ch = id[i];
    out[i] = (ch == '/' || ch == ':' || ch == ' ') ? '_' : ch;
  }
  out[i] = '\0';
}

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    if (*p == '"' || *p == '\\') {
      fprintf(f, "\\%c", *p);
    } else if (*p < 0x20) {
      fprintf(f, "\\u%04x", *p);
    } else {
      fputc(*p, f);
    }
  }
  fputc('"', f);
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

static void json_alert(FILE *f, int code) {
  if (code == MH_ALERT_NONE) {
    fputs("null", f);
    return;
  }
  fprintf(f, "{\"code\":%d,\"name\":", code);
  json_str(f, mh_alert_name(code));
  fputc('}', f);
}

static void json_case(FILE *f, const struct mh_case_result *c) {
  const struct mh_case_outcome *o = &c->outcome;
  const struct mh_expectation *x = &c->expect;
  char file[256];
  mh_case_file_name(c->id, file, sizeof(file));
  fputs("{\"id\":", f);
  json_str(f, c->id);
  fputs(",\"kind\":", f);
  json_str(f, c->kind);
  fputs(",\"target\":", f);
  json_str(f, c->target);
  fputs(",\"endpoint\":", f);
  json_str(f, c->endpoint);
  fputs(",\"server_name\":", f);
  json_str(f, c->server_name);
  fputs(",\"identity\":", f);
  if (c->identity) {
    json_str(f, c->identity);
  } else {
    fputs("null", f);
  }
  fprintf(f, ",\"tls_version\":\"%s\",\"profile\":", version_name(c->version));
  json_str(f, c->profile);
  fprintf(f,
          ",\"expected\":{\"result\":\"%s\",\"reason\":\"%s\",\"side\":\"%s\",\"layer\":\"%s\","
          "\"alerts\":[",
          x->reject ? "reject" : "accept", mh_reason_name(x->reason),
          x->reject ? (x->side == 'c' ? "client" : "server") : "none", mh_layer_name(x->layer));
  for (size_t i = 0; i < x->num_alerts; i++) {
    fprintf(f, "%s%d", i ? "," : "", x->alerts[i]);
  }
  fprintf(f, "],\"http_status\":%d,\"source\":\"%s\",\"text\":", x->status,
          x->explicit_ ? "explicit" : "oracle");
  json_str(f, c->expected_text);
  fprintf(f,
          "},\"outcome\":{\"result\":\"%s\",\"rejected_by\":\"%s\",\"layer\":\"%s\","
          "\"phase\":\"%s\",\"transport_end\":\"%s\",\"tcp\":",
          mh_result_name(o->result),
          o->rejected_by == 's'   ? "server"
          : o->rejected_by == 'c' ? "client"
                                  : "none",
          mh_layer_name(o->layer), mh_phase_name(o->phase), mh_end_name(o->end));
  json_str(f, o->tcp);
  fprintf(f, ",\"handshake\":\"%s\",\"version\":", o->handshake_ok ? "ok" : "failed");
  json_str(f, o->tls.version == MH_TLS13 ? "TLSv1.3" : o->tls.version == MH_TLS12 ? "TLSv1.2" : "");
  fputs(",\"cipher\":", f);
  json_str(f, o->tls.cipher);
  fputs(",\"group\":", f);
  json_str(f, o->tls.group);
  fputs(",\"alpn\":", f);
  json_str(f, o->tls.alpn);
  fputs(",\"alert_sent\":", f);
  json_alert(f, o->tls.alert_sent);
  fputs(",\"alert_received\":", f);
  json_alert(f, o->tls.alert_received);
  fprintf(f, ",\"http_status\":%d,\"websocket_upgrade\":%s,\"server_cn\":", o->http_status,
          o->ws_upgraded ? "true" : "false");
  json_str(f, o->tls.peer_cn);
  fputs(",\"error\":", f);
  json_str(f, o->client_error);
  fprintf(f,
          ",\"timings_ms\":{\"tcp\":%.3f,\"handshake\":%.3f,\"first_read\":%.3f,\"total\":%.3f}}",
          o->tcp_ms, o->handshake_ms, o->first_read_ms, o->total_ms);
  fputs(",\"server\":", f);
  if (c->has_server) {
    const struct mh_server_record *s = &c->server;
    fputs("{\"location\":", f);
    json_str(f, s->location);
    fputs(",\"peer\":", f);
    json_str(f, s->peer);
    fprintf(f, ",\"tls_rejected\":%s,\"reason\":", s->tls_rejected ? "true" : "false");
    json_str(f, s->reason);
    fputs(",\"alert_sent\":", f);
    json_alert(f, s->alert_sent);
    fputs(",\"alert_received\":", f);
    json_alert(f, s->alert_received);
    fprintf(f, ",\"http_status\":%d,\"client_cn\":", s->http_status);
    json_str(f, s->client_cn);
    fputc('}', f);
  } else {
    fputs("null", f);
  }
  fputs(",\"capture\":", f);
  if (c->capture == 0) {
    fputs("null", f);
  } else {
    const struct mh_wire_view *w = &c->wire;
    fprintf(f, "{\"status\":\"%s\",\"file\":", c->capture == 1 ? "captured" : "skipped");
    if (c->capture == 1) {
      fprintf(f, "\"cases/%s.pcapng\"", file);
    } else {
      fputs("null", f);
    }
    fputs(",\"reason\":", f);
    json_str(f, c->capture_note);
    fprintf(f, ",\"frames\":%zu,\"sni\":", w->frames);
    json_str(f, w->sni);
    fprintf(f, ",\"server_certificate\":%s,\"alerts\":[", w->server_certificate ? "true" : "false");
    for (size_t i = 0; i < w->num_alerts; i++) {
      const struct mh_wire_alert *a = &w->alerts[i];
      fprintf(f, "%s{\"from\":\"%s\",\"level\":%d,\"code\":%d,\"name\":", i ? "," : "",
              a->from == 'c' ? "client" : "server", a->level, a->desc);
      json_str(f, a->desc >= 0 ? mh_alert_name(a->desc) : "encrypted");
      fprintf(f, ",\"encrypted\":%s}", a->encrypted ? "true" : "false");
    }
    fprintf(f, "],\"undecrypted_records\":%d,\"client_end\":", w->undecrypted);
    json_str(f, w->client_end);
    fputs(",\"server_end\":", f);
    json_str(f, w->server_end);
    fprintf(f, ",\"consistent\":%s,\"mismatch\":", c->wire_mismatch[0] ? "false" : "true");
    json_str(f, c->wire_mismatch);
    fputc('}', f);
  }
  fprintf(f, ",\"verdict\":\"%s\",\"fails\":%s,\"summary\":", mh_verdict_name(c->verdict),
          c->fails ? "true" : "false");
  json_str(f, c->summary);
  fprintf(f, ",\"log\":\"cases/%s.log\"}", file);
}

static void write_json(FILE *f, const struct mh_report *r) {
  char when[32];
  time_t t = (time_t)(r->started_ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
  fprintf(f, "{\"schema\":\"%s\",\"harness\":{\"version\":\"%s\",\"tls\":", MH_REPORT_SCHEMA,
          MH_VERSION);
  json_str(f, r->tls_library);
  fputs("},\"scenario\":{\"name\":", f);
  json_str(f, r->scenario_name);
  fputs(",\"file\":", f);
  json_str(f, r->scenario_file);
  fprintf(f, "},\"started\":\"%s\",\"duration_ms\":%.1f,\"strict\":%s,\"jobs\":%d,\"summary\":{",
          when, r->duration_ms, r->strict ? "true" : "false", r->jobs);
  size_t counts[MH_VERDICT_NUM] = {0}, failed = 0;
  for (size_t i = 0; i < r->num_cases; i++) {
    counts[r->cases[i].verdict]++;
    failed += r->cases[i].fails;
  }
  fprintf(f, "\"total\":%zu,\"failed\":%zu,\"verdicts\":{", r->num_cases, failed);
  for (int v = 0; v < MH_VERDICT_NUM; v++) {
    fprintf(f, "%s\"%s\":%zu", v ? "," : "", mh_verdict_name((enum mh_verdict)v), counts[v]);
  }
  fprintf(f, "}},\"exit_code\":%d,\"cases\":[", r->exit_code);
  for (size_t i = 0; i < r->num_cases; i++) {
    fputs(i ? ",\n" : "\n", f);
    json_case(f, &r->cases[i]);
  }
  fputs("\n],\"baseline\":", f);
  if (r->baseline_file == NULL) {
    fputs("null", f);
  } else {
    fputs("{\"file\":", f);
    json_str(f, r->baseline_file);
    fputs(",\"changed\":[", f);
    for (size_t i = 0; i < r->num_changes; i++) {
      fputs(i ? ",{\"id\":" : "{\"id\":", f);
      json_str(f, r->changes[i].id);
      fputs(",\"before\":", f);
      json_str(f, r->changes[i].before);
      fputs(",\"after\":", f);
      json_str(f, r->changes[i].after);
      fputc('}', f);
    }
    fputs("]}", f);
  }
  fputs("}\n", f);
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
  fprintf(f, "  alert sent     %d %s\n", o->tls.alert_sent, mh_alert_name(o->tls.alert_sent));
  fprintf(f, "  alert received %d %s\n", o->tls.alert_received,
          mh_alert_name(o->tls.alert_received));
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
    fprintf(f, "  alert sent     %d %s\n", s->alert_sent, mh_alert_name(s->alert_sent));
    fprintf(f, "  alert received %d %s\n", s->alert_received, mh_alert_name(s->alert_received));
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
    mh_case_file_name(c->id, file, sizeof(file));
    fprintf(f, "capture        cases/%s.pcapng: %zu frames, SNI %s, server certificate %s\n", file,
            w->frames, w->sni[0] ? w->sni : "-", w->server_certificate ? "seen" : "not seen");
    for (size_t i = 0; i < w->num_alerts; i++) {
      const struct mh_wire_alert *a = &w->alerts[i];
      fprintf(f, "  on the wire    %s alert %d %s%s\n", a->from == 'c' ? "client" : "server",
              a->desc, a->desc >= 0 ? mh_alert_name(a->desc) : "(encrypted, not decrypted)",
              a->encrypted ? " (decrypted)" : " (plaintext)");
    }
    fprintf(f, "  tcp end        client %s, server %s\n", w->client_end[0] ? w->client_end : "-",
            w->server_end[0] ? w->server_end : "-");
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
        mh_case_file_name(c->id, file, sizeof(file));
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
    mh_case_file_name(c->id, file, sizeof(file));
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
  mh_case_file_name(c->id, file, sizeof(file));
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
      mh_case_file_name(c->id, file, sizeof(file));
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
    mh_case_file_name(r->cases[i].id, file, sizeof(file));
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

static void json_hist(FILE *f, const char *name, const struct mh_hist *h) {
  fprintf(
      f,
      "\"%s\":{\"count\":%llu,\"mean_us\":%.1f,\"p50_us\":%llu,\"p90_us\":%llu,"
      "\"p99_us\":%llu,\"p999_us\":%llu,\"max_us\":%llu}",
      name, (unsigned long long)h->total, mh_hist_mean(h),
      (unsigned long long)mh_hist_percentile(h, 50), (unsigned long long)mh_hist_percentile(h, 90),
      (unsigned long long)mh_hist_percentile(h, 99),
      (unsigned long long)mh_hist_percentile(h, 99.9), (unsigned long long)(h->total ? h->max : 0));
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
  fputs("{\"schema\":\"mtls-harness/load/1\",\"harness\":{\"version\":\"" MH_VERSION
        "\"},\"target\":",
        f);
  json_str(f, d->target);
  fprintf(f,
          ",\"mode\":\"%s\",\"tls_version\":\"%s\",\"rate\":%.3f,\"connections\":%d,"
          "\"duration_s\":%.3f,\"threads\":%d,\"bad_share\":%.4f,\"elapsed_s\":%.3f,",
          o->rate > 0 ? "open" : "closed", o->version == MH_TLS13 ? "1.3" : "1.2", o->rate,
          o->connections, o->duration_s, o->threads, o->bad_share, r->elapsed_s);
  // The identities, round-robin: good ones must be accepted, bad ones rejected.
  for (int bad = 0; bad < 2; bad++) {
    const struct mh_load_identity *ids = bad ? o->bad : o->good;
    size_t n = bad ? o->num_bad : o->num_good;
    fputs(bad ? "\"bad_identities\":[" : "\"identities\":[", f);
    for (size_t i = 0; i < n; i++) {
      if (i > 0) {
        fputc(',', f);
      }
      json_str(f, ids[i].name);
    }
    fputs("],", f);
  }
  unsigned long long errors = mh_load_result_errors(r);
  fprintf(f,
          "\"counts\":{\"planned\":%llu,\"started\":%llu,\"accepted\":%llu,\"rejected\":%llu,"
          "\"errors\":%llu,\"dropped\":%llu,\"late\":%llu,\"resume_offered\":%llu,"
          "\"resumed\":%llu},\"errors\":{",
          r->planned, r->started, r->accepted, r->rejected, errors, r->dropped, r->late,
          r->resume_offered, r->resumed);
  for (int i = 0; i < MH_LOAD_ERR_NUM; i++) {
    fprintf(f, "%s\"%s\":%llu", i ? "," : "", mh_load_error_name((enum mh_load_error)i),
            r->errors[i]);
  }
  fputs("},\"rejection_alerts\":{", f);
  int first = 1;
  for (int i = 0; i < 256; i++) {
    if (r->alerts[i]) {
      fprintf(f, "%s\"%d\":{\"name\":\"%s\",\"count\":%llu}", first ? "" : ",", i, mh_alert_name(i),
              r->alerts[i]);
      first = 0;
    }
  }
  double rate = r->elapsed_s > 0 ? (double)(r->accepted + r->rejected) / o->duration_s : 0;
  double cpu = r->cpu_user_s + r->cpu_sys_s;
  fprintf(f,
          "},\"achieved_rate\":%.3f,\"accepted_rate\":%.3f,\"cpu_s\":%.3f,"
          "\"cpu_us_per_handshake\":%.1f,\"peak_rss_kb\":%ld,\"latency\":{",
          rate, o->duration_s > 0 ? (double)r->accepted / o->duration_s : 0, cpu,
          (r->accepted + r->rejected) ? cpu * 1e6 / (double)(r->accepted + r->rejected) : 0,
          r->peak_rss_kb);
  json_hist(f, "tcp_connect", &r->tcp);
  fputc(',', f);
  json_hist(f, "tls_handshake", &r->handshake);
  fputc(',', f);
  json_hist(f, "tls_handshake_resumed", &r->handshake_resumed);
  fputc(',', f);
  json_hist(f, "first_server_record", &r->first_record);
  fputc(',', f);
  json_hist(f, "total_accepted", &r->total_accept);
  fputc(',', f);
  json_hist(f, "total_rejected", &r->total_reject);
  fputs("},\"seconds\":[", f);
  for (size_t i = 0; i < r->num_seconds; i++) {
    const struct mh_load_second *x = &r->seconds[i];
    fprintf(f,
            "%s{\"second\":%zu,\"accepted\":%llu,\"rejected\":%llu,\"errors\":%llu,"
            "\"p50_us\":%llu,\"p99_us\":%llu}",
            i ? "," : "", i + 1, x->accepted, x->rejected, x->errors, x->p50_us, x->p99_us);
  }
  fputs("],\"sweep\":", f);
  if (d->num_steps == 0) {
    fputs("null", f);
  } else {
    fprintf(f, "{\"sustainable_rate\":%.1f,\"steps\":[", d->sustainable);
    for (size_t i = 0; i < d->num_steps; i++) {
      const struct mh_sweep_step *st = &d->steps[i];
      fprintf(f,
              "%s{\"offered\":%.1f,\"achieved\":%.1f,\"p99_us\":%llu,\"error_share\":%.5f,"
              "\"drop_share\":%.5f,\"sustained\":%s,\"broke\":[",
              i ? "," : "", st->offered, st->achieved, st->p99_us, st->error_share, st->drop_share,
              st->sustained ? "true" : "false");
      write_broken_limits(f, st, "\"", "]}");
    }
    fputs("]}", f);
  }
  fputs("}\n", f);
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
