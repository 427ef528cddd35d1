// merge: the reports of N shards (`load --shard I/N`, read by input/load_report.h) become one
// result, as if one generator had run them all: counts are sums, histograms add their buckets (so
// the percentiles are those of every sample together, never averages of percentiles), seconds add
// by their index from the shared --start-at. Shards that disagree on what they measured are
// refused; shards that failed or started late are named. The `merge` command (cmd/merge.c) writes
// the merged report.
#ifndef MH_LOAD_MERGE_H
#define MH_LOAD_MERGE_H

#include <stddef.h>

#include "base/arena.h"
#include "base/err.h"
#include "input/load_report.h"
#include "load/load.h"

// The default --max-skew: a shard that started more than this after --start-at started late.
#define MH_MERGE_DEFAULT_MAX_SKEW_MS 1000.0

// mh_merge_shard is one shard of a merge: where its report came from and what it did. Its strings
// live in the merge's arena.
struct mh_merge_shard {
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

// mh_merge is a merge of shard reports, from mh_merge_reports to mh_merge_cleanup.
struct mh_merge {
  struct mh_arena arena;
  struct mh_load_report *in;               // the reports, as given
  const struct mh_load_report **by_index;  // the same, by shard index
  size_t n;
  struct mh_load_options o;       // what the shards were asked together
  struct mh_load_result *r;       // their sum (large: allocated)
  struct mh_merge_shard *shards;  // by index
  struct mh_load_identity *ids;   // the identities' union, good then bad
  size_t num_problems;            // shards with a problem (mh_merge_shard.problem)
};

// mh_merge_reports reads the |num| report files (or directories holding a report.json) |files|,
// checks that they are the N shards of one load (the same schema, target, TLS version, mode,
// duration and N; each index once) and sums them into |m| (zeroed by the caller); a shard that
// started more than |max_skew_ms| after --start-at started late. Returns 0, or -1 with |err| set
// (a report unreadable or disagreeing: the file and the field). mh_merge_cleanup frees |m| either
// way.
int mh_merge_reports(struct mh_merge *m, const char *const *files, size_t num, double max_skew_ms,
                     struct mh_err *err);

// mh_merge_cleanup frees what |m| holds.
void mh_merge_cleanup(struct mh_merge *m);

#endif
