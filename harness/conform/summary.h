// summary: the console lines of `run`: what an operator reads first, before the reports.
#ifndef MH_CONFORM_SUMMARY_H
#define MH_CONFORM_SUMMARY_H

#include <stdio.h>

#include "conform/result.h"
#include "conform/runner.h"

// mh_summary_print writes the run |res| (run with |o|) to |f|: every failing case (with --quiet;
// every case otherwise) with what was expected, seen and why; where the capture disagrees with
// the TLS library; the changes since the baseline; how the run ended, its counts by verdict and
// where its reports are; the captures; the certificate that expires soonest; the warnings last.
// A peer's words are shown as "\xNN" where they are not printable.
void mh_summary_print(FILE *f, const struct mh_run_options *o, const struct mh_run_result *res);

// mh_summary_plan writes to |f|, before the run's first case, one line per target of the |num|
// |targets| (unless o->quiet): the profile that predicts its manner of refusal (or none: recorded,
// not judged) and the request its probes send; then, whatever o->quiet, a warning per target
// whose policy requires what its stack cannot enforce.
void mh_summary_plan(FILE *f, const struct mh_run_options *o, const struct mh_run_target *targets,
                     size_t num);

#endif
