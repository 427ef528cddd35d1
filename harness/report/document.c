// document: the run's human report, walked once for every format (see internal.h): which sections
// there are, in which order, which cases each holds and what is said of each (the counts, a
// failure's flight and rerun command). report.md and report.html only render what it hands them.
#include "report/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/tls_version.h"

// walk_failures hands the failing cases, in the run's order, then the run's warnings.
static void walk_failures(FILE *f, const struct mh_report *r, const struct mh_doc_ops *ops,
                          size_t failed) {
  if (failed) {
    ops->failures(f, failed);
  }
  for (size_t i = 0; i < r->run->num_cases; i++) {
    const struct mh_case_result *c = &r->run->cases[i];
    if (!c->fails) {
      continue;
    }
    char flight[1024];
    mh_failure_flight(&c->outcome, flight, sizeof(flight));
    int check = c->kind == MH_CASE_CERTIFICATE;  // no connection: no flight, no case to rerun
    if (check) {
      snprintf(flight, sizeof(flight), "(none: a check of the certificates, not a connection)");
    }
    char *cmd = r->rerun != NULL && !check ? mh_failure_rerun(r->rerun, c->id) : NULL;
    ops->failure(f, c, flight, cmd);
    free(cmd);
  }
  if (r->run->num_warnings) {
    ops->warnings(f);
  }
  for (size_t i = 0; i < r->run->num_warnings; i++) {
    ops->warning(f, r->run->warnings[i].message,
                 mh_warnings_fails(&r->run->warnings[i], r->strict));
  }
}

// target_about writes how the run probed |target|: its profile (or none) and its request; ""
// when the run does not list it.
static void target_about(const struct mh_report *r, const char *target, char *out, size_t len) {
  out[0] = '\0';
  for (size_t i = 0; i < r->run->num_targets; i++) {
    const struct mh_run_target *t = &r->run->targets[i];
    if (strcmp(t->name, target) != 0) {
      continue;
    }
    if (t->profile != NULL) {
      snprintf(out, len, "Profile %s, request %s.", t->profile, mh_request_mode_name(t->request));
    } else {
      snprintf(out, len, "No profile: how it refuses is recorded, not judged. Request %s.",
               mh_request_mode_name(t->request));
    }
    return;
  }
}

// walk_grids hands one matrix per target: identities by TLS versions (NULL: no such case).
static void walk_grids(FILE *f, const struct mh_report *r, const struct mh_doc_ops *ops) {
  struct mh_grid grids[32];
  size_t ng = mh_grid_collect(r, grids, 32);
  for (size_t k = 0; k < ng; k++) {
    char about[600];
    target_about(r, grids[k].target, about, sizeof(about));
    ops->grid(f, grids[k].target, about);
    for (size_t j = 0; j < grids[k].num_rows; j++) {
      const struct mh_case_result *cells[2] = {NULL, NULL};
      for (int v = 0; v < 2; v++) {
        cells[v] = mh_grid_cell(r, grids[k].target, grids[k].rows[j], v ? MH_TLS13 : MH_TLS12);
      }
      ops->grid_row(f, grids[k].rows[j], cells);
    }
    ops->grid_end(f);
  }
}

// walk_rest hands the cases no matrix holds and those whose capture disagrees with the TLS
// library; each section only if it has something.
static void walk_rest(FILE *f, const struct mh_report *r, const struct mh_doc_ops *ops) {
  int header = 0;
  for (size_t i = 0; i < r->run->num_cases; i++) {
    const struct mh_case_result *c = &r->run->cases[i];
    if (mh_grid_holds(c)) {
      continue;
    }
    if (!header) {
      ops->others(f, r);
      header = 1;
    }
    ops->other(f, r, c);
  }
  if (header) {
    ops->others_end(f);
  }
  header = 0;
  for (size_t i = 0; i < r->run->num_cases; i++) {
    const struct mh_case_result *c = &r->run->cases[i];
    if (c->wire_mismatch[0] == '\0') {
      continue;
    }
    if (!header) {
      ops->mismatches(f);
      header = 1;
    }
    ops->mismatch(f, c);
  }
  if (header) {
    ops->mismatches_end(f);
  }
}

// walk_changes hands the changes since a baseline (whenever one was given): CI's headline, so
// right after the answer.
static void walk_changes(FILE *f, const struct mh_report *r, const struct mh_doc_ops *ops) {
  if (r->run->baseline_file != NULL) {
    ops->changes(f, r->run->baseline_file, r->run->num_changes);
    for (size_t i = 0; i < r->run->num_changes; i++) {
      ops->change(f, &r->run->changes[i]);
    }
    ops->changes_end(f, r->run->num_changes);
  }
}

void mh_report_walk(FILE *f, const struct mh_report *r, const struct mh_doc_ops *ops) {
  size_t counts[MH_VERDICT_NUM] = {0}, failed = 0;
  for (size_t i = 0; i < r->run->num_cases; i++) {
    counts[r->run->cases[i].verdict]++;
    failed += r->run->cases[i].fails;
  }
  char stopped[300];
  ops->head(f, r, counts, failed,
            mh_report_stopped_text(r, stopped, sizeof(stopped)) ? stopped : NULL);
  walk_changes(f, r, ops);
  walk_failures(f, r, ops, failed);
  ops->certs(f, r);
  walk_grids(f, r, ops);
  walk_rest(f, r, ops);
  ops->end(f);
}
