// markdown: the run's report.md: the verdict counts, one matrix per target, the other cases, the
// failures, where the capture disagrees, and the changes since a baseline.
#include "report/internal.h"

#include <stdio.h>

#include "tls/tls.h"

void mh_markdown_write(FILE *f, const struct mh_report *r) {
  size_t counts[MH_VERDICT_NUM] = {0}, failed = 0;
  for (size_t i = 0; i < r->num_cases; i++) {
    counts[r->cases[i].verdict]++;
    failed += r->cases[i].fails;
  }
  fprintf(f, "# mTLS conformance: %s\n\n", r->scenario_name);
  fprintf(f, "Scenario `%s`, %zu cases in %.1f s, %s. Exit code %d%s.\n\n", r->scenario_file,
          r->num_cases, r->duration_ms / 1000.0,
          failed            ? "**some failed**"
          : r->num_warnings ? "all passed, **with warnings**"
                            : "all passed",
          r->exit_code, r->strict ? " (strict)" : "");
  for (size_t i = 0; i < r->num_warnings; i++) {
    fprintf(f, "> **Warning%s:** %s\n\n", r->strict ? " (fails the run under --strict)" : "",
            r->warnings[i].message);
  }
  fprintf(f, "| verdict | cases | meaning |\n|---|---|---|\n");
  for (int v = 0; v < MH_VERDICT_NUM; v++) {
    fprintf(f, "| %s | %zu | %s |\n", mh_verdict_name((enum mh_verdict)v), counts[v],
            mh_verdict_description((enum mh_verdict)v));
  }
  struct mh_grid grids[32];
  size_t ng = mh_grid_collect(r, grids, 32);
  for (size_t k = 0; k < ng; k++) {
    fprintf(f, "\n## %s\n\n| identity | TLS 1.2 | TLS 1.3 |\n|---|---|---|\n", grids[k].target);
    for (size_t j = 0; j < grids[k].num_rows; j++) {
      fprintf(f, "| %s |", grids[k].rows[j]);
      for (int v = 0; v < 2; v++) {
        const struct mh_case_result *c =
            mh_grid_cell(r, grids[k].target, grids[k].rows[j], v ? MH_TLS13 : MH_TLS12);
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
    if (mh_grid_holds(c)) {
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
