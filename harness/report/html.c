// html: the run's report.html, the document (report/document.c) rendered in HTML, in report.md's
// order: the verdict counts, the failures (each with what was expected and seen, why, and the
// command that reruns it), the warnings, the certificates (report/certs.c), the matrices with
// their cells coloured by verdict, the other cases, and the changes since a baseline.
#include "report/internal.h"

#include <stdio.h>

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

static void html_head(FILE *f, const struct mh_report *r, const size_t counts[MH_VERDICT_NUM],
                      size_t failed, const char *stopped) {
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
  fputs("</h1>\n", f);
  // A stopped run says so before anything else: what follows is not the whole plan's answer.
  if (stopped != NULL) {
    fputs("<p class=\"stopped\" style=\"background:#f5c6a8;padding:8px\"><strong>", f);
    mh_escape_xml(f, stopped);
    fputs("</strong></p>\n", f);
  }
  fputs("<p>Scenario ", f);
  mh_escape_xml(f, r->scenario_file);
  fprintf(f, ", %zu cases in %.1f s: ", r->run->num_cases, r->run->duration_ms / 1000.0);
  if (failed) {
    fprintf(f, "<strong>%zu of %zu failed</strong>", failed, r->run->num_cases);
  } else {
    fputs(r->run->num_warnings ? "all passed, <strong>with warnings</strong>" : "all passed", f);
  }
  fprintf(f, ". Exit code %d%s.</p>\n", r->run->exit_code, r->strict ? " (strict)" : "");
  fputs("<table id=\"counts\"><tr><th>verdict</th><th>cases</th><th>meaning</th></tr>\n", f);
  for (int v = 0; v < MH_VERDICT_NUM; v++) {
    fprintf(f, "<tr><td>%s</td><td>%zu</td><td>%s</td></tr>\n", mh_verdict_name((enum mh_verdict)v),
            counts[v], mh_verdict_description((enum mh_verdict)v));
  }
  fputs("</table>\n", f);
}

static void html_failures(FILE *f, size_t failed) {
  fprintf(f, "<h2 id=\"failures\">Failures (%zu)</h2>\n", failed);
}

static void html_failure(FILE *f, const struct mh_case_result *c, const char *flight,
                         const char *rerun) {
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
  if (rerun != NULL) {
    fputs("<p>Rerun just this case:</p>\n<pre class=\"rerun\"><code>", f);
    mh_escape_xml(f, rerun);
    fputs("</code></pre>\n", f);
  }
  fputs("</div>\n", f);
}

static void html_nothing(FILE *f) {
  (void)f;
}

static void html_warning(FILE *f, const char *message, int fails_strict) {
  fprintf(f, "<p class=\"warning\" style=\"background:#f5e6a8;padding:8px\"><b>Warning%s:</b> ",
          fails_strict ? " (fails the run under --strict)" : "");
  mh_escape_xml(f, message);
  fputs("</p>\n", f);
}

static void html_grid(FILE *f, const char *target, const char *about) {
  fputs("<h2>", f);
  mh_escape_xml(f, target);
  fputs("</h2>\n", f);
  if (about[0] != '\0') {
    fputs("<p>", f);
    mh_escape_xml(f, about);
    fputs("</p>\n", f);
  }
  fputs("<table><tr><th>identity</th><th>TLS 1.2</th><th>TLS 1.3</th></tr>\n", f);
}

static void html_grid_row(FILE *f, const char *identity,
                          const struct mh_case_result *const cells[2]) {
  fputs("<tr><th>", f);
  mh_escape_xml(f, identity);
  fputs("</th>", f);
  for (int v = 0; v < 2; v++) {
    if (cells[v] != NULL) {
      html_cell(f, cells[v]);
    } else {
      fputs("<td>-</td>", f);
    }
  }
  fputs("</tr>\n", f);
}

static void html_table_end(FILE *f) {
  fputs("</table>\n", f);
}

// html_others opens the table of the cases no matrix holds; a capture column only when the run
// captured.
static void html_others(FILE *f, const struct mh_report *r) {
  fprintf(f,
          "<h2>Other cases</h2>\n<table><tr><th>case</th><th>verdict</th><th>expected</th>"
          "<th>actual</th>%s</tr>\n",
          r->pcap ? "<th>capture</th>" : "");
}

static void html_other(FILE *f, const struct mh_report *r, const struct mh_case_result *c) {
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

static void html_mismatches(FILE *f) {
  fputs("<h2>Where the capture disagrees with the TLS library</h2>\n<ul>\n", f);
}

static void html_mismatch(FILE *f, const struct mh_case_result *c) {
  fputs("<li>", f);
  case_link(f, c, "pcapng");
  mh_escape_xml(f, c->id);
  fputs("</a>: ", f);
  mh_escape_xml(f, c->wire_mismatch);
  fputs("</li>\n", f);
}

static void html_list_end(FILE *f) {
  fputs("</ul>\n", f);
}

static void html_changes(FILE *f, const char *baseline_file, size_t num) {
  (void)baseline_file;
  (void)num;
  fputs("<h2>Changes since baseline</h2>\n<ul>\n", f);
}

static void html_change(FILE *f, const struct mh_baseline_change *ch) {
  fputs("<li><b>", f);
  mh_escape_xml(f, ch->id);
  fputs("</b>: ", f);
  mh_escape_xml(f, ch->before);
  fputs(" &rarr; ", f);
  mh_escape_xml(f, ch->after);
  fputs("</li>\n", f);
}

static void html_changes_end(FILE *f, size_t num) {
  fputs(num ? "</ul>\n" : "<li>No case changed.</li></ul>\n", f);
}

static void html_end(FILE *f) {
  fputs("</body></html>\n", f);
}

static const struct mh_doc_ops html = {
    .head = html_head,
    .failures = html_failures,
    .failure = html_failure,
    .warnings = html_nothing,
    .warning = html_warning,
    .certs = mh_report_certs_html,
    .grid = html_grid,
    .grid_row = html_grid_row,
    .grid_end = html_table_end,
    .others = html_others,
    .other = html_other,
    .others_end = html_table_end,
    .mismatches = html_mismatches,
    .mismatch = html_mismatch,
    .mismatches_end = html_list_end,
    .changes = html_changes,
    .change = html_change,
    .changes_end = html_changes_end,
    .end = html_end,
};

void mh_html_write(FILE *f, const struct mh_report *r) {
  mh_report_walk(f, r, &html);
}
