// runner: the conformance run: expands the scenario's matrix and cases, brings up its mock
// locations (and the variants some cases need), probes every case concurrently, judges each against
// the oracle, compares with a baseline and writes the reports.
#ifndef MH_RUNNER_H
#define MH_RUNNER_H

#include "base/err.h"
#include "base/interrupt.h"
#include "input/scenario.h"

struct mh_run_options {
  const char *out_dir;            // the run's report directory (created)
  const char *filter;             // glob on case ids, NULL: all
  int jobs;                       // concurrent cases
  int strict;                     // pass-conceptual and warnings (conform/warnings.h) fail
  const char *baseline;           // earlier report.json, NULL: none
  const char *profiles_dir;       // where stack profiles are
  int quiet;                      // print only the summary
  int pcap;                       // capture every case
  const char *capture_iface;      // NULL: "lo" for a loopback address, "any" for another
  const struct mh_net_pin *pins;  // --resolve NAME:PORT:ADDR, before the scenario's "resolve"
  size_t num_pins;
  double timeout_s;                // > 0: the whole run's bound (--timeout); cases not finished
                                   // by then are inconclusive, "run timed out", and exit is 1
  struct mh_interrupt *interrupt;  // NULL, or SIGINT/SIGTERM to stop at (base/interrupt.h)
  // --min-time-left: a target's or an imported identity's certificate with less time left than
  // |min_time_left_s| at the run's start is a failing case (conform/lifetimes.h).
  int has_min_time_left;
  long long min_time_left_s;
};

// mh_runner_run runs |s| (loaded with its fixtures under out_dir) and returns the exit code: 0 when
// every case passes (and, with |strict|, the run has no warning), 1 otherwise (a case failed, or
// the run timed out); 128 + the signal (130 SIGINT, 143 SIGTERM) when a signal stopped it, after
// the reports of the cases completed were written; -1 with |err| set on a harness or input error.
// A stop takes a second at most: running probes end their waits within 100 ms, then the short
// waits for a server's close (close_wait_ms) and the capture's linger.
int mh_runner_run(const struct mh_scenario *s, const struct mh_run_options *o, struct mh_err *err);

#endif
