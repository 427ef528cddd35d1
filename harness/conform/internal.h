// conform/internal.h: what runner.c (the run) and cases.c (the cases in flight) share; nothing
// outside conform/ may use it.
#ifndef MH_CONFORM_INTERNAL_H
#define MH_CONFORM_INTERNAL_H

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/net.h"
#include "conform/lifetimes.h"
#include "conform/records.h"
#include "conform/runner.h"
#include "conform/warnings.h"
#include "input/baseline.h"
#include "input/profile.h"
#include "input/scenario.h"
#include "mock/events.h"
#include "mock/pebble.h"
#include "conform/result.h"

struct mh_federation;

// case_state is where a planned case is; a loop thread stores it after the case's result, the main
// thread reads it for the progress line and to know which results are complete.
enum case_state { CASE_PENDING, CASE_RUNNING, CASE_DONE, CASE_CUT };

// plan is one case to run.
struct plan {
  struct mh_case_spec spec;
  const struct mh_location *loc;  // the policy (the variant, for variant cases)
  const struct mh_profile *profile;
  enum mh_case_kind kind;
  // What the policy expects of the case: it depends on the plan alone (the policy, the
  // certificates, the profile), so it is computed when the case is planned, before any probe.
  struct mh_expectation expect;
};

#define MAX_PROFILES 16

// mh_runner is one run's state, shared by the main thread (runner.c) and the probe loop threads
// (cases.c), and its result once it is over.
struct mh_runner {
  const struct mh_scenario *s;  // with variant locations appended
  const struct mh_run_options *o;
  struct mh_arena arena;  // everything of the run and its result but the plans and records
  struct mh_arena *a;     // &arena
  struct mh_profile profiles[MAX_PROFILES];  // the stacks of the scenario's locations
  size_t num_profiles;
  struct ev_loop *loop;  // the mocks' loop, on their own thread
  struct mh_events events;
  struct plan *plans;
  size_t num_plans, cap_plans;
  // What --filter left out of the plan, per target (room for every location): the matrix-level
  // warnings are judged on the whole plan.
  struct mh_warnings_unrun *unrun;
  size_t num_unrun;
  struct mh_case_result *results;  // the planned cases, then room for |extra_results| more
  size_t extra_results;            // the time-left cases (one per target and spec entity)
  struct mh_federation *fed;
  struct mh_pebble *pebble;   // the scenario's ACME test server, if it starts one
  struct mh_records records;  // what the mocks saw of the cases' connections
  struct mh_net_pin *pins;    // --resolve first, then the scenario's "resolve"
  size_t num_pins;
  atomic_size_t next;
  // Stopping early (docs/runner.md, "Interrupted and timed-out runs"): |stop| set, no case starts
  // and running probes end their waits; the main thread, the only one that reads the signalfd and
  // the clock's deadline, sets it and records why in |signo| or |timed_out|.
  atomic_int stop;
  int signo;
  int timed_out;
  _Atomic int *states;  // per plan: enum case_state
  double *started_at;   // per plan: mh_clock_now_ms when it started, valid from CASE_RUNNING
  atomic_int workers_left;
  struct mh_capture_hub
      *capture_hub;     // --pcap: the run's captures, from the first case to the last
  int workers_done_fd;  // an eventfd the last loop thread to leave writes: the watch's wake-up
  atomic_int setup_failed;
  struct mh_err setup_err;
  pthread_mutex_t err_mu;
  pthread_mutex_t arena_mu;            // |a| while the loop threads run
  struct mh_lifetimes lifetimes;       // the chains the probes saw (filled by the loop threads)
  struct mh_baseline_entry *baseline;  // --baseline's cases, read before the run
  size_t num_baseline;
  struct mh_run_target *targets;  // the locations the plans probe (set by plan_cases)
  size_t num_targets;
  struct mh_run_result result;  // filled once the cases are over
};

// mh_cases_run runs every planned case of |r|, |jobs| of them in flight at once on a few probe loop
// threads, while the calling (main) thread shows the progress and stops the run on a signal or at
// |deadline| (mh_clock_now_ms; 0: none). It returns how many ran concurrently, or -1 with |err| set
// when a case could not be set up. |r->results|, |r->states| and |r->started_at| are allocated in
// |r->a| here.
int mh_cases_run(struct mh_runner *r, int jobs, double deadline, struct mh_err *err);

// mh_cases_request_mode returns the request mode a location's probes use: its "request", else the
// WebSocket upgrade for a mock and a target with the "semstreams" profile, an HTTP GET for other
// targets (docs/scenarios.md).
enum mh_request_mode mh_cases_request_mode(const struct mh_location *L);

#endif
