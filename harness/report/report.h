// report: the only writer of run reports: report.json (versioned schema, docs/report-schema.json),
// junit.xml, report.md, report.html and one log per case, written all at once into the run's
// directory.
#ifndef MH_REPORT_H
#define MH_REPORT_H

#include <stddef.h>

#include "base/err.h"
#include "base/net.h"
#include "mock/events.h"
#include "capture/capture.h"
#include "conform/lifetimes.h"
#include "conform/oracle.h"
#include "conform/probe.h"
#include "conform/warnings.h"
#include "capture/wire.h"

#define MH_REPORT_SCHEMA "mtls-harness/report/1"
// load's report.json; 2: lossless histograms, per-second buckets, shards (docs/load.md).
#define MH_LOAD_REPORT_SCHEMA "mtls-harness/load/3"

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
  const char *profile;
  const char *server_name;
  struct mh_expectation expect;
  struct mh_case_outcome outcome;
  int has_server;  // a mock recorded its side
  struct mh_server_record server;
  enum mh_verdict verdict;
  int fails;  // counts as a failure (given --strict)
  char summary[256];
  char verdict_reason[600];  // why the verdict, when it needs saying (mh_oracle_verdict)
  char expected_text[256];
  // --pcap: what was captured, what the capture shows, and whether it agrees with the library.
  enum mh_capture_state capture;
  char capture_note[300];  // why skipped
  struct mh_packets packets;
  struct mh_wire_view wire;
  char wire_mismatch[300];  // "" when the wire agrees with what the TLS library reported
};

// mh_rerun is what a run had that decides a case's verdict, for the command that reruns one case
// (report/failure.c): paths absolute, so that the command works from any directory. Borrowed.
struct mh_rerun {
  const char *program;        // the harness binary; NULL: "mtls-harness"
  const char *scenario_file;  // the scenario as given to run (absolute when it could be made so)
  const char *out_dir;        // the run's directory: reruns go below it, in rerun/<case>
  const char *profiles_dir;   // --profiles, NULL: the default
  int strict;                 // --strict
  int pcap;                   // --pcap
  const char *capture_iface;  // --capture-iface, NULL: none given
  const struct mh_net_pin *pins;  // the command line's --resolve pins
  size_t num_pins;
};

struct mh_baseline_change {
  const char *id;
  const char *before;  // "verdict: summary", or "(absent)"
  const char *after;
};

struct mh_report {
  const char *scenario_name;
  const char *scenario_file;
  const char *out_dir;
  const char *tls_library;
  const char *hostname;  // junit.xml's hostname; NULL: "localhost"
  long long started_ms;  // wall clock, ms since the epoch
  double duration_ms;
  int strict;
  int jobs;
  int exit_code;
  struct mh_case_result *cases;
  size_t num_cases;
  size_t num_planned;         // cases planned; more than num_cases when a signal stopped the run
  int signo;                  // the signal that stopped the run (interrupted), 0: none
  int timed_out;              // --timeout expired: the cases not finished are inconclusive
  const char *baseline_file;  // NULL: no comparison
  struct mh_baseline_change *changes;
  size_t num_changes;
  // What the run's greens cannot prove (conform/warnings.h); under |strict| each fails the run
  // unless it only informs (mh_warnings_fails).
  const struct mh_run_warning *warnings;
  size_t num_warnings;
  int pcap;                      // the run captured (--pcap): the reports show the captures
  const struct mh_rerun *rerun;  // NULL: no command to rerun a failing case is shown
  // The certificates the targets presented and the client identities' (the "Certificates"
  // section); NULL: none.
  const struct mh_lifetimes *lifetimes;
};

// MH_REPORT_NOT_PROBED is the endpoint of a case the run abandoned when --timeout expired.
#define MH_REPORT_NOT_PROBED "(not probed to the end)"

// mh_report_stopped_text writes the sentence that opens report.md and report.html when a signal or
// --timeout stopped the run, and returns 1; writes "" and returns 0 for a run that ended by itself.
int mh_report_stopped_text(const struct mh_report *r, char *out, size_t out_len);

// mh_report_write writes every report file of |r| below |r->out_dir|. Returns 0 or -1 with |err|
// set; on failure no report file is left behind.
int mh_report_write(const struct mh_report *r, struct mh_err *err);

struct mh_load_options;
struct mh_load_result;
struct mh_sweep;

// mh_report_shard is one shard of a merged load report (`mtls-harness merge`): where its report
// came from and what it did. Borrowed.
struct mh_report_shard {
  const char *file;  // the shard's report.json, as given
  int index;         // I of --shard I/N
  double rate;       // its offered part of the rate (open loop), 0 in closed loop
  int connections;   // its part of the connections (closed loop), 0 in open loop
  double achieved_rate;
  unsigned long long accepted, rejected, errors;
  int has_skew;  // it was started with --start-at
  double start_skew_ms;
  int exit_code;
  const char *signal;  // NULL, or the signal that stopped it
  // Why the shard is not to be trusted as it is, NULL if nothing: failed, interrupted, started
  // late (the words report.md, report.json and stderr show).
  const char *problem;
};

// mh_report_write_load writes report.json (schema mtls-harness/load/3), report.md and the charts
// of a load run into |out_dir|, all at once: load (rate and latency over time), percentiles
// (latency by percentile, per phase) and, with a sweep, sweep; each as <name>.dat, <name>.gp and
// <name>.svg, drawn by gnuplot. |target| describes what was loaded; |sweep| (NULL if none) the
// sweep (load/sweep.h), with the limits each step broke. When gnuplot is missing or fails, the
// reports come out without the .svg files and |out_charts_note| (|charts_note_len| bytes, may be
// NULL) says why in one line; it is "" when the charts were drawn. Returns 0 or -1.
int mh_report_write_load(const char *out_dir, const char *target, const struct mh_load_options *o,
                         const struct mh_load_result *r, const struct mh_sweep *sweep,
                         char *out_charts_note, size_t charts_note_len, struct mh_err *err);

// mh_report_write_load_merged writes a merged load report (`mtls-harness merge`) into |out_dir|
// as mh_report_write_load does: |r| is the sum of the |num_shards| |shards| (their histograms'
// buckets added), |o| what they were asked together; report.json and report.md list the shards
// and name those with a problem (a start skew above |max_skew_ms| is one). Returns 0 or -1.
int mh_report_write_load_merged(const char *out_dir, const char *target,
                                const struct mh_load_options *o, const struct mh_load_result *r,
                                const struct mh_report_shard *shards, size_t num_shards,
                                double max_skew_ms, char *out_charts_note, size_t charts_note_len,
                                struct mh_err *err);

// mh_report_case_file_name writes the file-system-safe name of case |id| (no '/').
void mh_report_case_file_name(const char *id, char *out, size_t out_len);

#endif
