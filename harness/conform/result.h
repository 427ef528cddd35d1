// result: what a conformance run leaves for its reports: each case as run and judged
// (mh_case_result), the changes since a baseline, and the run as a whole (mh_run_result). Types
// only: conform/ fills them, report/ writes them, cmd/run.c hands one to the other.
#ifndef MH_CONFORM_RESULT_H
#define MH_CONFORM_RESULT_H

#include <stddef.h>

#include "base/outcomes.h"
#include "capture/capture.h"
#include "capture/wire.h"
#include "conform/oracle.h"
#include "conform/outcome.h"
#include "mock/events.h"

// mh_case_result is one case as run: what was asked, expected, seen on both sides, and judged.
struct mh_case_result {
  const char *id;
  const char *target;    // location (or external target) name
  const char *endpoint;  // "address:port" probed
  const char *identity;  // NULL: no client certificate
  int version;
  enum mh_case_kind kind;    // MH_CASE_CERTIFICATE: not a probe but a check of the run's
                             // certificates (the time left, conform/lifetimes.h): no connection, so
                             // |expect|, |outcome| and |server| say nothing
  enum mh_case_check check;  // a matrix case's check beyond identity x version
  const char *profile;       // NULL: none (an external target that names none)
  const char *server_name;
  struct mh_expectation expect;
  struct mh_case_outcome outcome;
  int has_server;  // a mock recorded its side
  struct mh_server_record server;
  enum mh_verdict verdict;
  enum mh_manner manner;  // the verdict's second question: was the refusal's manner judged, how
  int fails;              // counts as a failure (given --strict)
  char summary[256];
  char verdict_reason[600];  // why the verdict, when it needs saying (mh_verdict_judge)
  char expected_text[256];
  // --pcap: what was captured, what the capture shows, and whether it agrees with the library.
  enum mh_capture_state capture;
  char capture_note[300];  // why skipped
  struct mh_packets packets;
  struct mh_wire_view wire;
  char wire_mismatch[300];  // "" when the wire agrees with what the TLS library reported
  // --timeout expired before the case finished: it is inconclusive, "run timed out", and its
  // endpoint is MH_CASE_NOT_PROBED.
  int abandoned;
  // How many times the case was probed (--retries): 1, or more when a network fault may have
  // taken the evidence of an earlier probe, whose summary |first_attempt| keeps ("" if none).
  int attempts;
  char first_attempt[256];
};

// MH_CASE_NOT_PROBED is the endpoint of a case the run abandoned when --timeout expired.
#define MH_CASE_NOT_PROBED "(not probed to the end)"

// mh_baseline_change is a case whose verdict or outcome differs from an earlier report's.
struct mh_baseline_change {
  const char *id;
  const char *before;  // "verdict: summary", or "(absent)"
  const char *after;
};

struct mh_run_warning;
struct mh_lifetimes;
struct mh_observed;

// mh_run_target is one location the run probed, as the console and the reports name it: the
// profile that predicts its manner of refusal and the request its probes send.
struct mh_run_target {
  const char *name;
  int external;         // an external target (not a mock)
  const char *profile;  // as the scenario names it (a shipped name or a path); NULL: none
  enum mh_request_mode request;
  unsigned unenforced;  // the policy's rules its profile cannot enforce (enum mh_policy_rule bits)
  const char *cannot_why;  // the profile's reason for them
  // An external target's observed profile (conform/observed.h), once its cases are over; NULL for
  // a mock, or when no case of the target completed.
  const struct mh_observed *observed;
};

// mh_run_result is a run as it ended. Its cases, changes and warnings live as long as the runner
// that made them (conform/runner.h).
struct mh_run_result {
  long long started_ms;  // wall clock, ms since the epoch
  double duration_ms;
  int jobs;  // cases that ran concurrently
  struct mh_case_result *cases;
  size_t num_cases;
  size_t num_planned;         // cases planned; more than num_cases when a signal stopped the run
  int signo;                  // the signal that stopped the run (interrupted), 0: none
  int timed_out;              // --timeout expired: the cases not finished are inconclusive
  const char *baseline_file;  // NULL: no comparison
  struct mh_baseline_change *changes;
  size_t num_changes;
  // What the run's greens cannot prove (conform/warnings.h); under --strict each fails the run
  // unless it only informs (mh_warnings_fails).
  const struct mh_run_warning *warnings;
  size_t num_warnings;
  // The certificates the targets presented and the client identities' (conform/lifetimes.h).
  const struct mh_lifetimes *lifetimes;
  const struct mh_run_target *targets;  // in the order of their first case
  size_t num_targets;
  int exit_code;  // 0, 1, or 128 + the signal (conform/runner.h)
};

#endif
