// markdown: the run's report.md, the document (report/document.c) rendered in Markdown, led by the
// answer: the verdict counts, the failures (each with what was expected and seen, why, and the
// command that reruns it), the warnings, the certificates (report/certs.c), then one matrix per
// target, the other cases, where the capture disagrees, and the changes since a baseline.
#include "report/internal.h"

#include <stdio.h>

#include "base/printable.h"

// case_link writes the link to case |c|'s file of extension |ext|: (cases/<name>.<ext>), the name
// percent-encoded.
static void case_link(FILE *f, const struct mh_case_result *c, const char *ext) {
  char file[256];
  mh_report_case_file_name(c->id, file, sizeof(file));
  fputs("(cases/", f);
  mh_escape_url_path(f, file);
  fprintf(f, ".%s)", ext);
}

static void md_head(FILE *f, const struct mh_report *r, const size_t counts[MH_VERDICT_NUM],
                    size_t failed, const char *stopped) {
  fputs("# mTLS conformance: ", f);
  mh_escape_md(f, r->scenario_name);
  fputs("\n\n", f);
  // A stopped run says so before anything else: what follows is not the whole plan's answer.
  if (stopped != NULL) {
    fprintf(f, "> **%s**\n\n", stopped);  // our own words, no input in them
  }
  fputs("Scenario ", f);
  mh_escape_md(f, r->scenario_file);
  fprintf(f, ", %zu cases in %.1f s: ", r->run->num_cases, r->run->duration_ms / 1000.0);
  if (failed) {
    fprintf(f, "**%zu of %zu failed**", failed, r->run->num_cases);
  } else {
    fputs(r->run->num_warnings ? "all passed, **with warnings**" : "all passed", f);
  }
  fprintf(f, ". Exit code %d%s.\n\n", r->run->exit_code, r->strict ? " (strict)" : "");
  fprintf(f, "| verdict | cases | meaning |\n|---|---|---|\n");
  for (int v = 0; v < MH_VERDICT_NUM; v++) {
    fprintf(f, "| %s | %zu | %s |\n", mh_verdict_name((enum mh_verdict)v), counts[v],
            mh_verdict_description((enum mh_verdict)v));
  }
}

static void md_failures(FILE *f, size_t failed) {
  fprintf(f, "\n## Failures (%zu)\n", failed);
}

static void md_failure(FILE *f, const struct mh_case_result *c, const char *flight,
                       const char *rerun) {
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
  fputs("\n- server's flight: ", f);
  mh_escape_md(f, flight);
  fputs("\n- [case log]", f);
  case_link(f, c, "log");
  if (c->capture == MH_CAPTURE_CAPTURED) {
    fputs(", [capture]", f);
    case_link(f, c, "pcapng");
  }
  fputc('\n', f);
  if (rerun != NULL) {
    // A fenced block shows the command as it is; it is one printable line (no fence can close).
    fputs("\nRerun just this case:\n\n```sh\n", f);
    mh_printable_fputs(f, rerun);
    fputs("\n```\n", f);
  }
}

static void md_warnings(FILE *f) {
  fputc('\n', f);
}

static void md_warning(FILE *f, const char *message, int fails_strict) {
  fprintf(f, "> **Warning%s:** ", fails_strict ? " (fails the run under --strict)" : "");
  mh_escape_md(f, message);
  fputs("\n\n", f);
}

static void md_grid(FILE *f, const char *target, const char *about) {
  fputs("\n## ", f);
  mh_escape_md(f, target);
  if (about[0] != '\0') {
    fputs("\n\n", f);
    mh_escape_md(f, about);
  }
  fputs("\n\n| identity | TLS 1.2 | TLS 1.3 |\n|---|---|---|\n", f);
}

// md_grid_row writes one identity's row: each cell a case's verdict linked to its log.
static void md_grid_row(FILE *f, const char *identity,
                        const struct mh_case_result *const cells[2]) {
  fputs("| ", f);
  mh_escape_md(f, identity);
  fputs(" |", f);
  for (int v = 0; v < 2; v++) {
    const struct mh_case_result *c = cells[v];
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

static void md_nothing(FILE *f) {
  (void)f;
}

static void md_others(FILE *f, const struct mh_report *r) {
  (void)r;
  fprintf(f, "\n## Other cases\n\n| case | verdict | expected | actual |\n|---|---|---|---|\n");
}

static void md_other(FILE *f, const struct mh_report *r, const struct mh_case_result *c) {
  (void)r;
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

static void md_mismatches(FILE *f) {
  fprintf(f, "\n## Where the capture disagrees with the TLS library\n\n");
}

static void md_mismatch(FILE *f, const struct mh_case_result *c) {
  fputs("- **", f);
  mh_escape_md(f, c->id);
  fputs("**: ", f);
  mh_escape_md(f, c->wire_mismatch);
  fputc('\n', f);
}

static void md_changes(FILE *f, const char *baseline_file, size_t num) {
  fputs("\n## Changes since ", f);
  mh_escape_md(f, baseline_file);
  fputs("\n\n", f);
  if (num == 0) {
    fprintf(f, "No case changed.\n");
  }
}

static void md_change(FILE *f, const struct mh_baseline_change *ch) {
  fputs("- **", f);
  mh_escape_md(f, ch->id);
  fputs("**: ", f);
  mh_escape_md(f, ch->before);
  fputs(" → ", f);
  mh_escape_md(f, ch->after);
  fputc('\n', f);
}

static void md_changes_end(FILE *f, size_t num) {
  (void)f;
  (void)num;
}

static const struct mh_doc_ops markdown = {
    .head = md_head,
    .failures = md_failures,
    .failure = md_failure,
    .warnings = md_warnings,
    .warning = md_warning,
    .certs = mh_report_certs_markdown,
    .grid = md_grid,
    .grid_row = md_grid_row,
    .grid_end = md_nothing,
    .others = md_others,
    .other = md_other,
    .others_end = md_nothing,
    .mismatches = md_mismatches,
    .mismatch = md_mismatch,
    .mismatches_end = md_nothing,
    .changes = md_changes,
    .change = md_change,
    .changes_end = md_changes_end,
    .end = md_nothing,
};

void mh_markdown_write(FILE *f, const struct mh_report *r) {
  mh_report_walk(f, r, &markdown);
}
