// summary: what `load` prints on the console: the banner before a run, and the summary after it
// (the reports are report/'s).
#ifndef MH_LOAD_SUMMARY_H
#define MH_LOAD_SUMMARY_H

#include <stdio.h>

#include "load/load.h"
#include "load/sweep.h"

// mh_load_summary_banner writes the one line that says what is about to be loaded and how:
// |name| at the address of |o|, the loop model, the version, threads and identities.
void mh_load_summary_banner(FILE *f, const char *name, const struct mh_load_options *o);

// mh_load_summary_print writes the summary of run |r| made with |o|: the sweep's outcome if
// |sweep| is not NULL, the handshakes and their ends, resumption if asked for, the accepted
// latency percentiles. The report directory and per-loop counts are the caller's lines.
void mh_load_summary_print(FILE *f, const struct mh_load_options *o, const struct mh_load_result *r,
                           const struct mh_sweep *sweep);

// mh_load_summary_certs writes one line per server certificate |r| saw and one per switch or
// mixed period, with the handshakes that failed around it (load/certs.h).
void mh_load_summary_certs(FILE *f, const struct mh_load_result *r);

#endif
