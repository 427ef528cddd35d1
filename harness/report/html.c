// html: the run's report.html: the matrices with their cells coloured by verdict, then every case.
#include "report/internal.h"

#include <stdio.h>

#include "tls/tls.h"

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

static void html_cell(FILE *f, const struct mh_case_result *c) {
  fprintf(f, "<td style=\"background:%s\">", verdict_colour(c->verdict));
  case_link(f, c, "log");
  mh_escape_xml(f, mh_verdict_name(c->verdict));
  fputs("</a><br><small>", f);
  mh_escape_xml(f, c->summary);
  fputs("</small></td>", f);
}

void mh_html_write(FILE *f, const struct mh_report *r) {
  size_t failed = 0;
  for (size_t i = 0; i < r->num_cases; i++) {
    failed += r->cases[i].fails;
  }
  fputs(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mTLS "
      "conformance: ",
      f);
  mh_escape_xml(f, r->scenario_name);
  fputs(
      "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
      "margin:1em 0}td,th{border:1px solid #999;padding:4px 8px;vertical-align:top}"
      "small{color:#333}</style></head><body>\n<h1>mTLS conformance: ",
      f);
  mh_escape_xml(f, r->scenario_name);
  fprintf(f, "</h1>\n<p>%zu cases in %.1f s: %s. Exit code %d%s.</p>\n", r->num_cases,
          r->duration_ms / 1000.0,
          failed            ? "<b>some failed</b>"
          : r->num_warnings ? "all passed, <b>with warnings</b>"
                            : "all passed",
          r->exit_code, r->strict ? " (strict)" : "");
  char stopped[300];
  if (mh_report_stopped_text(r, stopped, sizeof(stopped))) {
    fputs("<p class=\"stopped\" style=\"background:#f5c6a8;padding:8px\"><b>", f);
    mh_escape_xml(f, stopped);
    fputs("</b></p>\n", f);
  }
  for (size_t i = 0; i < r->num_warnings; i++) {
    fprintf(f, "<p class=\"warning\" style=\"background:#f5e6a8;padding:8px\"><b>Warning%s:</b> ",
            r->strict ? " (fails the run under --strict)" : "");
    mh_escape_xml(f, r->warnings[i].message);
    fputs("</p>\n", f);
  }
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
  fputs(
      "<h2>All cases</h2>\n<table><tr><th>case</th><th>verdict</th><th>expected</th>"
      "<th>actual</th><th>capture</th></tr>\n",
      f);
  for (size_t i = 0; i < r->num_cases; i++) {
    const struct mh_case_result *c = &r->cases[i];
    fputs("<tr><td>", f);
    mh_escape_xml(f, c->id);
    fputs("</td>", f);
    html_cell(f, c);
    fputs("<td>", f);
    mh_escape_xml(f, c->expected_text);
    fputs("</td><td>", f);
    mh_escape_xml(f, c->summary);
    fputs("</td><td>", f);
    if (c->capture == 1) {
      case_link(f, c, "pcapng");
      fputs("pcapng</a>", f);
      if (c->wire_mismatch[0]) {
        fputs("<br><b>disagrees:</b> ", f);
        mh_escape_xml(f, c->wire_mismatch);
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
      mh_escape_xml(f, r->changes[i].id);
      fputs("</b>: ", f);
      mh_escape_xml(f, r->changes[i].before);
      fputs(" &rarr; ", f);
      mh_escape_xml(f, r->changes[i].after);
      fputs("</li>\n", f);
    }
    fputs(r->num_changes ? "</ul>\n" : "<li>No case changed.</li></ul>\n", f);
  }
  fputs("</body></html>\n", f);
}
