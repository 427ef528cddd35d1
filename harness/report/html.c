// html: the run's report.html, in report.md's order: the verdict counts, the failures (each with
// what was expected and seen, why, and the command that reruns it), the warnings, the
// certificates (report/certs.c), the matrices
// with their cells coloured by verdict, the other cases, and the changes since a baseline.
#include "report/internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/tls_version.h"

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

// case_link opens a link to case |c|'s file of extension |ext|: <a href="cases/<name>.<ext>">,
// the name percent-encoded (a case's file name may hold '%').
static void case_link(FILE *f, const struct mh_case_result *c, const char *ext) {
  char file[256];
  mh_report_case_file_name(c->id, file, sizeof(file));
  fputs("<a href=\"cases/", f);
  mh_escape_url_path(f, file);
  fprintf(f, ".%s\">", ext);
}

// html_cell writes case |c| as a table cell coloured by its verdict, linked to its log (and to
// its capture, when there is one).
static void html_cell(FILE *f, const struct mh_case_result *c) {
  fprintf(f, "<td style=\"background:%s\">", verdict_colour(c->verdict));
  case_link(f, c, "log");
  mh_escape_xml(f, mh_verdict_name(c->verdict));
  fputs("</a>", f);
  if (c->capture == MH_CAPTURE_CAPTURED) {
    fputs(" ", f);
    case_link(f, c, "pcapng");
    fputs("pcapng</a>", f);
  }
  fputs("<br><small>", f);
  mh_escape_xml(f, c->summary);
  fputs("</small></td>", f);
}

// html_counts writes the page's head, the answer in one line and the table of verdict counts.
static void html_counts(FILE *f, const struct mh_report *r) {
  size_t counts[MH_VERDICT_NUM] = {0}, failed = 0;
  for (size_t i = 0; i < r->run->num_cases; i++) {
    counts[r->run->cases[i].verdict]++;
    failed += r->run->cases[i].fails;
  }
  fputs(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mTLS "
      "conformance: ",
      f);
  mh_escape_xml(f, r->scenario_name);
  fputs(
      "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
      "margin:1em 0}td,th{border:1px solid #999;padding:4px 8px;vertical-align:top}"
      "small{color:#333}pre{background:#f4f4f4;padding:8px;white-space:pre-wrap;"
      "word-break:break-all}.failure{border-left:4px solid #d04040;padding-left:1em}"
      ".soon{background:#f4b6b6}"
      "</style></head><body>\n<h1>mTLS conformance: ",
      f);
  mh_escape_xml(f, r->scenario_name);
  fputs("</h1>\n<p>Scenario ", f);
  mh_escape_xml(f, r->scenario_file);
  fprintf(f, ", %zu cases in %.1f s: ", r->run->num_cases, r->run->duration_ms / 1000.0);
  if (failed) {
    fprintf(f, "<strong>%zu of %zu failed</strong>", failed, r->run->num_cases);
  } else {
    fputs(r->run->num_warnings ? "all passed, <strong>with warnings</strong>" : "all passed", f);
  }
  fprintf(f, ". Exit code %d%s.</p>\n", r->run->exit_code, r->strict ? " (strict)" : "");
  char stopped[300];
  if (mh_report_stopped_text(r, stopped, sizeof(stopped))) {
    fputs("<p class=\"stopped\" style=\"background:#f5c6a8;padding:8px\"><strong>", f);
    mh_escape_xml(f, stopped);
    fputs("</strong></p>\n", f);
  }
  fputs("<table id=\"counts\"><tr><th>verdict</th><th>cases</th><th>meaning</th></tr>\n", f);
  for (int v = 0; v < MH_VERDICT_NUM; v++) {
    fprintf(f, "<tr><td>%s</td><td>%zu</td><td>%s</td></tr>\n", mh_verdict_name((enum mh_verdict)v),
            counts[v], mh_verdict_description((enum mh_verdict)v));
  }
  fputs("</table>\n", f);
}

// html_failure writes failing case |c|: its verdict, expected and actual, why, the server's
// flight, its log (and capture), and the command that reruns it alone.
static void html_failure(FILE *f, const struct mh_report *r, const struct mh_case_result *c) {
  fputs("<div class=\"failure\"><h3>", f);
  mh_escape_xml(f, c->id);
  fprintf(f,
          "</h3>\n<p><strong>%s</strong>: %s</p>\n<ul><li>expected: ", mh_verdict_name(c->verdict),
          mh_verdict_description(c->verdict));
  mh_escape_xml(f, c->expected_text);
  fputs("</li><li>actual: ", f);
  mh_escape_xml(f, c->summary);
  if (c->verdict_reason[0] != '\0') {
    fputs("</li><li>why: ", f);
    mh_escape_xml(f, c->verdict_reason);
  }
  char flight[1024];
  mh_failure_flight(&c->outcome, flight, sizeof(flight));
  if (c->kind == MH_CASE_CERTIFICATE) {  // no connection was made: no flight, and no case to rerun
    snprintf(flight, sizeof(flight), "(none: a check of the certificates, not a connection)");
  }
  fputs("</li><li>server's flight: ", f);
  mh_escape_xml(f, flight);
  fputs("</li><li>", f);
  case_link(f, c, "log");
  fputs("case log</a>", f);
  if (c->capture == MH_CAPTURE_CAPTURED) {
    fputs(", ", f);
    case_link(f, c, "pcapng");
    fputs("capture</a>", f);
  }
  fputs("</li></ul>\n", f);
  char *cmd =
      r->rerun != NULL && c->kind != MH_CASE_CERTIFICATE ? mh_failure_rerun(r->rerun, c->id) : NULL;
  if (cmd != NULL) {
    fputs("<p>Rerun just this case:</p>\n<pre class=\"rerun\"><code>", f);
    mh_escape_xml(f, cmd);
    fputs("</code></pre>\n", f);
  }
  free(cmd);
  fputs("</div>\n", f);
}

// html_failures writes the failing cases, in the run's order, and then the run's warnings.
static void html_failures(FILE *f, const struct mh_report *r) {
  size_t failed = 0;
  for (size_t i = 0; i < r->run->num_cases; i++) {
    failed += r->run->cases[i].fails;
  }
  if (failed) {
    fprintf(f, "<h2 id=\"failures\">Failures (%zu)</h2>\n", failed);
  }
  for (size_t i = 0; i < r->run->num_cases; i++) {
    if (r->run->cases[i].fails) {
      html_failure(f, r, &r->run->cases[i]);
    }
  }
  for (size_t i = 0; i < r->run->num_warnings; i++) {
    fprintf(f, "<p class=\"warning\" style=\"background:#f5e6a8;padding:8px\"><b>Warning%s:</b> ",
            mh_warnings_fails(&r->run->warnings[i], r->strict) ? " (fails the run under --strict)"
                                                               : "");
    mh_escape_xml(f, r->run->warnings[i].message);
    fputs("</p>\n", f);
  }
}

// html_grids writes one matrix per target: identities by TLS versions.
static void html_grids(FILE *f, const struct mh_report *r) {
  struct mh_grid grids[32];
  size_t ng = mh_grid_collect(r, grids, 32);
  for (size_t k = 0; k < ng; k++) {
    fputs("<h2>", f);
    mh_escape_xml(f, grids[k].target);
    fputs("</h2>\n<table><tr><th>identity</th><th>TLS 1.2</th><th>TLS 1.3</th></tr>\n", f);
    for (size_t j = 0; j < grids[k].num_rows; j++) {
      fputs("<tr><th>", f);
      mh_escape_xml(f, grids[k].rows[j]);
      fputs("</th>", f);
      for (int v = 0; v < 2; v++) {
        const struct mh_case_result *c =
            mh_grid_cell(r, grids[k].target, grids[k].rows[j], v ? MH_TLS13 : MH_TLS12);
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
}

// html_others writes the cases no matrix holds; a capture column only when the run captured.
static void html_others(FILE *f, const struct mh_report *r) {
  int header = 0;
  for (size_t i = 0; i < r->run->num_cases; i++) {
    const struct mh_case_result *c = &r->run->cases[i];
    if (mh_grid_holds(c)) {
      continue;
    }
    if (!header) {
      fprintf(f,
              "<h2>Other cases</h2>\n<table><tr><th>case</th><th>verdict</th><th>expected</th>"
              "<th>actual</th>%s</tr>\n",
              r->pcap ? "<th>capture</th>" : "");
      header = 1;
    }
    fputs("<tr><td>", f);
    mh_escape_xml(f, c->id);
    fputs("</td>", f);
    html_cell(f, c);
    fputs("<td>", f);
    mh_escape_xml(f, c->expected_text);
    fputs("</td><td>", f);
    mh_escape_xml(f, c->summary);
    fputs("</td>", f);
    if (r->pcap) {
      fputs("<td>", f);
      if (c->capture == MH_CAPTURE_SKIPPED) {
        fputs("skipped: ", f);
        mh_escape_xml(f, c->capture_note);
      } else if (c->capture == MH_CAPTURE_NOT_ASKED) {
        fputs("-", f);
      } else {
        fputs("captured", f);
      }
      fputs("</td>", f);
    }
    fputs("</tr>\n", f);
  }
  if (header) {
    fputs("</table>\n", f);
  }
}

// html_disagreements writes the cases whose capture disagrees with what the TLS library reported.
static void html_disagreements(FILE *f, const struct mh_report *r) {
  int header = 0;
  for (size_t i = 0; i < r->run->num_cases; i++) {
    const struct mh_case_result *c = &r->run->cases[i];
    if (c->wire_mismatch[0] == '\0') {
      continue;
    }
    if (!header) {
      fputs("<h2>Where the capture disagrees with the TLS library</h2>\n<ul>\n", f);
      header = 1;
    }
    fputs("<li>", f);
    case_link(f, c, "pcapng");
    mh_escape_xml(f, c->id);
    fputs("</a>: ", f);
    mh_escape_xml(f, c->wire_mismatch);
    fputs("</li>\n", f);
  }
  if (header) {
    fputs("</ul>\n", f);
  }
}

void mh_html_write(FILE *f, const struct mh_report *r) {
  html_counts(f, r);
  html_failures(f, r);
  mh_certs_html(f, r);
  html_grids(f, r);
  html_others(f, r);
  html_disagreements(f, r);
  if (r->run->baseline_file != NULL) {
    fputs("<h2>Changes since baseline</h2>\n<ul>\n", f);
    for (size_t i = 0; i < r->run->num_changes; i++) {
      fputs("<li><b>", f);
      mh_escape_xml(f, r->run->changes[i].id);
      fputs("</b>: ", f);
      mh_escape_xml(f, r->run->changes[i].before);
      fputs(" &rarr; ", f);
      mh_escape_xml(f, r->run->changes[i].after);
      fputs("</li>\n", f);
    }
    fputs(r->run->num_changes ? "</ul>\n" : "<li>No case changed.</li></ul>\n", f);
  }
  fputs("</body></html>\n", f);
}
