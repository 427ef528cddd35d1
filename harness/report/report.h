// report: the only writer of run reports: report.json (versioned schema, docs/report-schema.json),
// junit.xml, report.md, report.html and one log per case, written all at once into the run's
// directory.
#ifndef MH_REPORT_H
#define MH_REPORT_H

#include <stddef.h>

#include "base/err.h"
#include "base/net.h"
#include "conform/lifetimes.h"
#include "conform/result.h"
#include "load/merge.h"

#define MH_REPORT_SCHEMA "mtls-harness/report/1"

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
  int has_retries;  // --retries was given: it decides what a probe's outcome becomes
  int retries;
};

// mh_report is what run's report files show: the run's result, and what the command knew of it.
struct mh_report {
  const char *scenario_name;
  const char *scenario_file;
  const char *out_dir;
  const char *tls_library;
  const char *hostname;  // junit.xml's hostname; NULL: "localhost"
  int strict;
  int pcap;                      // the run captured (--pcap): the reports show the captures
  const struct mh_rerun *rerun;  // NULL: no command to rerun a failing case is shown
  const struct mh_run_result *run;
};

// mh_report_stopped_text writes the sentence that opens report.md and report.html when a signal or
// --timeout stopped the run, and returns 1; writes "" and returns 0 for a run that ended by itself.
int mh_report_stopped_text(const struct mh_report *r, char *out, size_t out_len);

// mh_report_write writes every report file of |r| below |r->out_dir|. Returns 0 or -1 with |err|
// set; on failure no report file is left behind.
int mh_report_write(const struct mh_report *r, struct mh_err *err);

struct mh_load_options;
struct mh_load_result;
struct mh_sweep;

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
                                const struct mh_merge_shard *shards, size_t num_shards,
                                double max_skew_ms, char *out_charts_note, size_t charts_note_len,
                                struct mh_err *err);

// mh_report_case_file_name writes the file-system-safe name of case |id| (no '/').
void mh_report_case_file_name(const char *id, char *out, size_t out_len);

#endif
