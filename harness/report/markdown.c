// markdown: the run's report.md: the verdict counts, one matrix per target, the other cases, the
// failures, where the capture disagrees, and the changes since a baseline.
#include "report/internal.h"

#include <stdio.h>

#include "tls/tls.h"

// case_link writes the link to case |c|'s log: (cases/<name>.log), the name percent-encoded.
static void case_link(FILE *f, const struct mh_case_result *c) {
  char file[256];
  mh_report_case_file_name(c->id, file, sizeof(file));
  fputs("(cases/", f);
  mh_escape_url_path(f, file);
  fputs(".log)", f);
}

// header writes the title, the one-line answer, why the run stopped early (if it did) and the
// warnings.
static void header(FILE *f, const struct mh_report *r, size_t failed) {
  fputs("# mTLS conformance: ", f);
  mh_escape_md(f, r->scenario_name);
  fputs("\n\nScenario ", f);
  mh_escape_md(f, r->scenario_file);
  fprintf(f, ", %zu cases in %.1f s, %s. Exit code %d%s.\n\n", r->num_cases,
          r->duration_ms / 1000.0,
          failed            ? "**some failed**"
          : r->num_warnings ? "all passed, **with warnings**"
                            : "all passed",
          r->exit_code, r->strict ? " (strict)" : "");
  char stopped[300];
  if (mh_report_stopped_text(r, stopped, sizeof(stopped))) {
    fprintf(f, "> **%s**\n\n", stopped);  // our own words, no input in them
  }
  for (size_t i = 0; i < r->num_warnings; i++) {
    fprintf(f, "> **Warning%s:** ", r->strict ? " (fails the run under --strict)" : "");
    mh_escape_md(f, r->warnings[i].message);
    fputs("\n\n", f);
  }
}

void mh_markdown_write(FILE *f, const struct mh_report *r) {
  size_t counts[MH_VERDICT_NUM] = {0}, failed = 0;
  for (size_t i = 0; i < r->num_cases; i++) {
    counts[r->cases[i].verdict]++;
    failed += r->cases[i].fails;
  }
  header(f, r, failed);
  fprintf(f, "| verdict | cases | meaning |\n|---|---|---|\n");
  for (int v = 0; v < MH_VERDICT_NUM; v++) {
    fprintf(f, "| %s | %zu | %s |\n", mh_verdict_name((enum mh_verdict)v), counts[v],
            mh_verdict_description((enum mh_verdict)v));
  }
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
        case_link(f, c);
        fputs(": ", f);
        mh_escape_md(f, c->summary);
        fputs(" |", f);
      }
      fputc('\n', f);
    }
  }
  int header = 0;
  for (size_t i = 0; i < r->num_cases; i++) {
    const struct mh_case_result *c = &r->cases[i];
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
    case_link(f, c);
    fprintf(f, " | %s | ", mh_verdict_name(c->verdict));
    mh_escape_md(f, c->expected_text);
    fputs(" | ", f);
    mh_escape_md(f, c->summary);
    fputs(" |\n", f);
  }
  if (failed) {
    fprintf(f, "\n## Failures\n\n");
    for (size_t i = 0; i < r->num_cases; i++) {
      const struct mh_case_result *c = &r->cases[i];
      if (c->fails) {
        fputs("- **", f);
        mh_escape_md(f, c->id);
        fprintf(f, "** %s: expected ", mh_verdict_name(c->verdict));
        mh_escape_md(f, c->expected_text);
        fputs("; actual ", f);
        mh_escape_md(f, c->summary);
        fputc('\n', f);
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
      fputs("- **", f);
      mh_escape_md(f, c->id);
      fputs("**: ", f);
      mh_escape_md(f, c->wire_mismatch);
      fputc('\n', f);
    }
  }
  if (r->baseline_file != NULL) {
    fputs("\n## Changes since ", f);
    mh_escape_md(f, r->baseline_file);
    fputs("\n\n", f);
    if (r->num_changes == 0) {
      fprintf(f, "No case changed.\n");
    }
    for (size_t i = 0; i < r->num_changes; i++) {
      fputs("- **", f);
      mh_escape_md(f, r->changes[i].id);
      fputs("**: ", f);
      mh_escape_md(f, r->changes[i].before);
      fputs(" → ", f);
      mh_escape_md(f, r->changes[i].after);
      fputc('\n', f);
    }
  }
}
