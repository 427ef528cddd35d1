// summary: the console lines of `run` on stdout: failures first in full, the changes since the
// baseline, then the counts, where the reports are, the captures, the soonest expiry and the
// warnings.
#include "conform/summary.h"

#include <stdio.h>

#include "base/case_file.h"
#include "base/interrupt.h"
#include "base/printable.h"
#include "conform/lifetimes.h"
#include "conform/observed.h"
#include "conform/warnings.h"

void mh_summary_plan(FILE *f, const struct mh_run_options *o, const struct mh_run_target *targets,
                     size_t num) {
  struct mh_printable_ring g = {.next = 0};
  for (size_t i = 0; i < num && !o->quiet; i++) {
    const struct mh_run_target *t = &targets[i];
    if (t->profile != NULL) {
      fprintf(f, "run: target %s: profile %s, request %s\n", mh_printable_next(&g, t->name),
              mh_printable_next(&g, t->profile), mh_request_mode_name(t->request));
    } else {
      fprintf(f,
              "run: target %s: no profile (how it refuses is recorded, not judged), request %s\n",
              mh_printable_next(&g, t->name), mh_request_mode_name(t->request));
    }
  }
  for (size_t i = 0; i < num; i++) {
    const struct mh_run_target *t = &targets[i];
    if (t->unenforced != 0) {
      char line[1024];
      mh_warnings_cannot_text(line, sizeof(line), t->name, t->unenforced, t->profile,
                              t->cannot_why);
      fprintf(f, "warning: %s\n", mh_printable_next(&g, line));
    }
  }
  fflush(f);
}

void mh_summary_print(FILE *f, const struct mh_run_options *o, const struct mh_run_result *rep) {
  size_t counts[MH_VERDICT_NUM] = {0};
  // Case names and a peer's words may hold control characters: shown as "\xNN", never sent raw to
  // a terminal.
  struct mh_printable_ring g = {.next = 0};
  for (size_t i = 0; i < rep->num_cases; i++) {
    const struct mh_case_result *c = &rep->cases[i];
    counts[c->verdict]++;
    if (!o->quiet || c->fails) {
      fprintf(f, "%-17s %s\n", mh_verdict_name(c->verdict), mh_printable_next(&g, c->id));
      if (c->verdict != MH_VERDICT_PASS) {
        fprintf(f, "    expected %s\n    actual   %s\n", mh_printable_next(&g, c->expected_text),
                mh_printable_next(&g, c->summary));
        if (c->verdict_reason[0] != '\0') {
          fprintf(f, "    why      %s\n", mh_printable_next(&g, c->verdict_reason));
        }
      }
    }
    if (c->wire_mismatch[0] != '\0') {
      fprintf(f, "capture disagrees: %s\n    %s\n", mh_printable_next(&g, c->id),
              mh_printable_next(&g, c->wire_mismatch));
    }
  }
  for (size_t i = 0; i < rep->num_changes; i++) {
    fprintf(f, "changed since baseline: %s\n    before %s\n    now    %s\n",
            mh_printable_next(&g, rep->changes[i].id),
            mh_printable_next(&g, rep->changes[i].before),
            mh_printable_next(&g, rep->changes[i].after));
  }
  if (rep->signo != 0) {
    size_t not_run = 0;
    for (size_t i = 0; i < rep->num_cases; i++) {
      not_run += rep->cases[i].abandoned;
    }
    fprintf(f,
            "run: interrupted by %s: %zu of %zu cases not run (errors in the reports); exit code "
            "%d\n",
            mh_interrupt_name(rep->signo), not_run, rep->num_planned, rep->exit_code);
  } else if (rep->timed_out) {
    fprintf(f, "run: timed out (--timeout %.0f s): the cases not finished are inconclusive\n",
            o->timeout_s);
  }
  // A rate under 10/s keeps a decimal: a short run's "(0 cases/s)" said nothing. The cases an
  // interruption abandoned did not run: they are no part of the rate.
  size_t ran = rep->num_cases;
  for (size_t i = 0; i < rep->num_cases; i++) {
    ran -= rep->cases[i].abandoned != 0;
  }
  double rate = rep->duration_ms > 0 ? ran / (rep->duration_ms / 1000.0) : 0;
  fprintf(f, "run: %zu case%s in %.1f s (%.*f cases/s):", rep->num_cases,
          rep->num_cases == 1 ? "" : "s", rep->duration_ms / 1000.0, rate < 10 ? 1 : 0, rate);
  for (int v = 0; v < MH_VERDICT_NUM; v++) {
    if (counts[v]) {
      fprintf(f, " %zu %s", counts[v], mh_verdict_name((enum mh_verdict)v));
    }
  }
  if (rep->num_warnings > 0) {
    size_t failing = mh_warnings_num_failing(rep->warnings, rep->num_warnings, o->strict);
    fprintf(f, ", %zu warning%s%s", rep->num_warnings, rep->num_warnings == 1 ? "" : "s",
            failing == rep->num_warnings && failing > 0 ? " (failing under --strict)"
            : failing > 0                               ? " (some failing under --strict)"
                                                        : "");
  }
  fprintf(f, "%s\nrun: reports in %s (report.md, report.html, report.json, junit.xml)\n",
          o->strict ? " [strict]" : "", mh_printable_next(&g, o->out_dir));
  for (size_t i = 0; i < rep->num_targets; i++) {
    const struct mh_observed *ob = rep->targets[i].observed;
    if (ob == NULL) {
      continue;
    }
    char file[256];
    mh_case_file_name(ob->target, file, sizeof(file));
    fprintf(f,
            "run: target %s: observed profile (%zu reason%s) in %s/profiles/%s.json; to judge "
            "later runs by it, copy it beside the scenario and set \"profile\": \"<its path>\" "
            "in $.locations.%s\n",
            mh_printable_next(&g, ob->target), ob->num_reasons, ob->num_reasons == 1 ? "" : "s",
            mh_printable_next(&g, o->out_dir), mh_printable_next(&g, file),
            mh_printable_next(&g, ob->target));
  }
  if (o->pcap) {
    size_t captured = 0, skipped = 0, mismatched = 0;
    const char *why = NULL;
    for (size_t i = 0; i < rep->num_cases; i++) {
      captured += rep->cases[i].capture == MH_CAPTURE_CAPTURED;
      skipped += rep->cases[i].capture == MH_CAPTURE_SKIPPED;
      mismatched += rep->cases[i].wire_mismatch[0] != '\0';
      why = rep->cases[i].capture == MH_CAPTURE_SKIPPED ? rep->cases[i].capture_note : why;
    }
    fprintf(
        f,
        "run: captures: %zu written (cases/<case>.pcapng, TLS secrets inside), %zu skipped%s%s, "
        "%zu disagree with the TLS library\n",
        captured, skipped, why ? ": " : "", why ? mh_printable_next(&g, why) : "", mismatched);
  }
  char soonest[512];
  mh_lifetimes_soonest(rep->lifetimes, soonest, sizeof(soonest));
  if (soonest[0] != '\0') {
    fprintf(f, "run: %s\n", mh_printable_next(&g, soonest));
  }
  // Last, where an operator's eye lands: a green run that proves less than it seems.
  for (size_t i = 0; i < rep->num_warnings; i++) {
    fprintf(f, "warning: %s\n", mh_printable_next(&g, rep->warnings[i].message));
  }
}
