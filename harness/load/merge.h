// merge: `mtls-harness merge`: the reports of N shards (`load --shard I/N`) become one report, as
// if one generator had run them all: counts are sums, histograms add their buckets (so the
// percentiles are those of every sample together, never averages of percentiles), seconds add by
// their index from the shared --start-at. Shards that disagree on what they measured are refused;
// shards that failed or started late are named.
#ifndef MH_LOAD_MERGE_H
#define MH_LOAD_MERGE_H

#include <stddef.h>

#include "base/err.h"

// The default --max-skew: a shard that started more than this after --start-at started late.
#define MH_MERGE_DEFAULT_MAX_SKEW_MS 1000.0

// mh_merge_command is `merge`'s options, as given.
struct mh_merge_command {
  const char *const *reports;  // REPORT.json files, or directories holding a report.json
  size_t num_reports;
  const char *out_dir;  // --out DIR; NULL: reports/merged-load-<timestamp>
  int force;            // --force: empty an --out that is not empty
  double max_skew_ms;   // --max-skew MS; 0: MH_MERGE_DEFAULT_MAX_SKEW_MS
  int quiet;            // --quiet: no summary on stdout
};

// mh_merge_run reads the reports of |c|, checks that they are the N shards of one load (the same
// schema, target, TLS version, mode, duration and N; each index once), writes the merged report
// directory (report.json, report.md, charts) and prints the summary, and a line on stderr for
// each shard with a problem. Returns 0, 1 when a shard failed, was interrupted, had errors or
// started late, or -1 with |err| set (a report unreadable or disagreeing: the file and the
// field; nothing is written then).
int mh_merge_run(const struct mh_merge_command *c, struct mh_err *err);

#endif
