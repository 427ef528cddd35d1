// runner: the conformance run: expands the scenario's matrix and cases, brings up its mock
// locations (and the variants some cases need), probes every case concurrently, judges each against
// the oracle and compares with a baseline. Writing the reports is the run command's (cmd/run.c).
#ifndef MH_RUNNER_H
#define MH_RUNNER_H

#include <stdio.h>

#include "base/err.h"
#include "base/interrupt.h"
#include "conform/result.h"
#include "input/scenario.h"

struct mh_run_options {
  const char *out_dir;         // the run's report directory (created)
  const char *filter;          // glob on case ids, NULL: all
  int jobs;                    // concurrent cases
  int strict;                  // pass-conceptual and warnings (conform/warnings.h) fail
  const char *baseline;        // earlier report.json, NULL: none
  const char *profiles_dir;    // where stack profiles are
  const char *fixtures_cache;  // pki/cache.h; NULL: none
  int quiet;                   // print only the summary
  // Where the run says, before its first case, which profile and request each target gets and
  // what its policy requires that its stack cannot enforce; NULL: nowhere.
  FILE *plan_out;
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
  // --retries: how many more times a case of an external target is probed when a network fault
  // may have taken its evidence (inconclusive, or refused at TLS without an alert); -1: the
  // default (1 for external targets; mocks, on loopback in this process, are never retried).
  int retries;
};

struct mh_runner;

// mh_runner_run runs |s| (loaded with its fixtures under out_dir): plans its cases, brings up its
// mocks, probes every case, judges each and compares with the baseline; the mocks are stopped
// when it returns. It returns 0, with the run in mh_runner_result(*out), or -1 with |err| set on
// a harness or input error. |*out| is set either way (NULL when out of memory): the caller frees
// it with mh_runner_free, after the reports. A signal (o->interrupt) or --timeout stops the run
// within a second (running probes end their waits within 100 ms, then the short waits for a
// server's close and the capture's linger); the result says so.
int mh_runner_run(const struct mh_scenario *s, const struct mh_run_options *o,
                  struct mh_runner **out, struct mh_err *err);

// mh_runner_result returns the run's result: 0 as exit code when every case passes (and, with
// --strict, the run has no failing warning), 1 otherwise (a case failed, or the run timed out),
// 128 + the signal (130 SIGINT, 143 SIGTERM) when a signal stopped it. Borrowed from |r|.
const struct mh_run_result *mh_runner_result(const struct mh_runner *r);

// mh_runner_free releases |r| and everything its result points to, wiping the cases' TLS
// secrets. NULL is accepted.
void mh_runner_free(struct mh_runner *r);

#endif
