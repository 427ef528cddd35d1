// markdown: the run's report.md, led by the answer: the verdict counts, the failures (each with
// what was expected and seen, why, and the command that reruns it), the warnings, the certificates
// (report/certs.c), then one matrix per target, the other cases, where the capture disagrees, and
// the changes since a baseline.
#include "report/internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/printable.h"
#include "base/tls_version.h"

// case_link writes the link to case |c|'s file of extension |ext|: (cases/<name>.<ext>), the name
// percent-encoded.
static void case_link(FILE *f, const struct mh_case_result *c, const char *ext) {
  char file[256];
  mh_report_case_file_name(c->id, file, sizeof(file));
  fputs("(cases/", f);
  mh_escape_url_path(f, file);
  fprintf(f, ".%s)", ext);
}

// md_counts writes the title, the answer in one line and the table of verdict counts.
static void md_counts(FILE *f, const struct mh_report *r) {
  size_t counts[MH_VERDICT_NUM] = {0}, failed = 0;
  for (size_t i = 0; i < r->run->num_cases; i++) {
    counts[r->run->cases[i].verdict]++;
    failed += r->run->cases[i].fails;
  }
  fputs("# mTLS conformance: ", f);
  mh_escape_md(f, r->scenario_name);
  fputs("\n\nScenario ", f);
  mh_escape_md(f, r->scenario_file);
  fprintf(f, ", %zu cases in %.1f s: ", r->run->num_cases, r->run->duration_ms / 1000.0);
  if (failed) {
    fprintf(f, "**%zu of %zu failed**", failed, r->run->num_cases);
  } else {
    fputs(r->run->num_warnings ? "all passed, **with warnings**" : "all passed", f);
  }
  fprintf(f, ". Exit code %d%s.\n\n", r->run->exit_code, r->strict ? " (strict)" : "");
  char stopped[300];
  if (mh_report_stopped_text(r, stopped, sizeof(stopped))) {
    fprintf(f, "> **%s**\n\n", stopped);  // our own words, no input in them
  }
  fprintf(f, "| verdict | cases | meaning |\n|---|---|---|\n");
  for (int v = 0; v < MH_VERDICT_NUM; v++) {
    fprintf(f, "| %s | %zu | %s |\n", mh_verdict_name((enum mh_verdict)v), counts[v],
            mh_verdict_description((enum mh_verdict)v));
  }
}

// md_failure writes failing case |c|: its verdict, expected and actual, why, the server's flight,
// its log (and capture), and the command that reruns it alone.
static void md_failure(FILE *f, const struct mh_report *r, const struct mh_case_result *c) {
  fputs("\n### ", f);
  mh_escape_md(f, c->id);
  fprintf(f, "\n\n**%s**: %s\n\n- expected: ", mh_verdict_name(c->verdict),
          mh_verdict_description(c->verdict));
  mh_escape_md(f, c->expected_text);
  fputs("\n- actual: ", f);
  mh_escape_md(f, c->summary);
  if (c->verdict_reason[0] != '\0') {
    fputs("\n- why: ", f);
    mh_escape_md(f, c->verdict_reason);
  }
  char flight[1024];
  mh_failure_flight(&c->outcome, flight, sizeof(flight));
  if (c->kind == MH_CASE_CERTIFICATE) {  // no connection was made: no flight, and no case to rerun
    snprintf(flight, sizeof(flight), "(none: a check of the certificates, not a connection)");
  }
  fputs("\n- server's flight: ", f);
  mh_escape_md(f, flight);
  fputs("\n- [case log]", f);
  case_link(f, c, "log");
  if (c->capture == MH_CAPTURE_CAPTURED) {
    fputs(", [capture]", f);
    case_link(f, c, "pcapng");
  }
  fputc('\n', f);
  char *cmd =
      r->rerun != NULL && c->kind != MH_CASE_CERTIFICATE ? mh_failure_rerun(r->rerun, c->id) : NULL;
  if (cmd != NULL) {
    // A fenced block shows the command as it is; it is one printable line (no fence can close).
    fputs("\nRerun just this case:\n\n```sh\n", f);
    mh_printable_fputs(f, cmd);
    fputs("\n```\n", f);
  }
  free(cmd);
}

// md_failures writes the failing cases, in the run's order, and then the run's warnings.
static void md_failures(FILE *f, const struct mh_report *r) {
  size_t failed = 0;
  for (size_t i = 0; i < r->run->num_cases; i++) {
    failed += r->run->cases[i].fails;
  }
  if (failed) {
    fprintf(f, "\n## Failures (%zu)\n", failed);
  }
  for (size_t i = 0; i < r->run->num_cases; i++) {
    if (r->run->cases[i].fails) {
      md_failure(f, r, &r->run->cases[i]);
    }
  }
  if (r->run->num_warnings) {
    fputc('\n', f);
  }
  for (size_t i = 0; i < r->run->num_warnings; i++) {
    fprintf(f, "> **Warning%s:** ",
            mh_warnings_fails(&r->run->warnings[i], r->strict) ? " (fails the run under --strict)"
                                                               : "");
    mh_escape_md(f, r->run->warnings[i].message);
    fputs("\n\n", f);
  }
}

// md_grids writes one matrix per target: identities by TLS versions, each cell a case's verdict
// linked to its log.
static void md_grids(FILE *f, const struct mh_report *r) {
  struct mh_grid grids[32];
  size_t ng = mh_grid_collect(r, grids, 32);
  for (size_t k = 0; k < ng; k++) {
    fputs("\n## ", f);
    mh_escape_md(f, grids[k].target);
    fputs("\n\n| identity | TLS 1.2 | TLS 1.3 |\n|---|---|---|\n", f);
    for (size_t j = 0; j < grids[k].num_rows; j++) {
      fputs("| ", f);
      mh_escape_md(f, grids[k].rows[j]);
      fputs(" |", f);
      for (int v = 0; v < 2; v++) {
        const struct mh_case_result *c =
            mh_grid_cell(r, grids[k].target, grids[k].rows[j], v ? MH_TLS13 : MH_TLS12);
        if (c == NULL) {
          fprintf(f, " - |");
          continue;
        }
        fprintf(f, " [%s]", mh_verdict_name(c->verdict));
        case_link(f, c, "log");
        fputs(": ", f);
        mh_escape_md(f, c->summary);
        fputs(" |", f);
      }
      fputc('\n', f);
    }
  }
}

void mh_markdown_write(FILE *f, const struct mh_report *r) {
  md_counts(f, r);
  md_failures(f, r);
  mh_certs_markdown(f, r);
  md_grids(f, r);
  int header = 0;
  for (size_t i = 0; i < r->run->num_cases; i++) {
    const struct mh_case_result *c = &r->run->cases[i];
    if (mh_grid_holds(c)) {
      continue;
    }
    if (!header) {
      fprintf(f, "\n## Other cases\n\n| case | verdict | expected | actual |\n|---|---|---|---|\n");
      header = 1;
    }
    fputs("| [", f);
    mh_escape_md(f, c->id);
    fputs("]", f);
    case_link(f, c, "log");
    fprintf(f, " | %s | ", mh_verdict_name(c->verdict));
    mh_escape_md(f, c->expected_text);
    fputs(" | ", f);
    mh_escape_md(f, c->summary);
    fputs(" |\n", f);
  }
  int mism = 0;
  for (size_t i = 0; i < r->run->num_cases; i++) {
    const struct mh_case_result *c = &r->run->cases[i];
    if (c->wire_mismatch[0] != '\0') {
      if (!mism) {
        fprintf(f, "\n## Where the capture disagrees with the TLS library\n\n");
        mism = 1;
      }
      fputs("- **", f);
      mh_escape_md(f, c->id);
      fputs("**: ", f);
      mh_escape_md(f, c->wire_mismatch);
      fputc('\n', f);
    }
  }
  if (r->run->baseline_file != NULL) {
    fputs("\n## Changes since ", f);
    mh_escape_md(f, r->run->baseline_file);
    fputs("\n\n", f);
    if (r->run->num_changes == 0) {
      fprintf(f, "No case changed.\n");
    }
    for (size_t i = 0; i < r->run->num_changes; i++) {
      fputs("- **", f);
      mh_escape_md(f, r->run->changes[i].id);
      fputs("**: ", f);
      mh_escape_md(f, r->run->changes[i].before);
      fputs(" → ", f);
      mh_escape_md(f, r->run->changes[i].after);
      fputc('\n', f);
    }
  }
}
