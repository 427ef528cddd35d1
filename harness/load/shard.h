// shard: one generator's part of a load shared by N processes (`load --shard I/N`) and the
// wall-clock instant they all start at (`--start-at`). The parts are computed, never negotiated:
// each shard derives its own from I and N alone, so that shards need no coordinator.
#ifndef MH_LOAD_SHARD_H
#define MH_LOAD_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "load/load.h"

#define MH_SHARD_MAX 1024
// --start-at refuses an instant further ahead than this: a typo in the date would otherwise hold
// a job for days.
#define MH_SHARD_MAX_WAIT_S (24 * 3600)

// mh_shard_slice is one thread's arrivals of one shard in open loop: the global arrival indexes
// first, first + stride, ... (num of them). Global arrival k is planned at k / rate seconds after
// the start: the schedule of a single generator at the total rate.
struct mh_shard_slice {
  uint64_t first, stride, num;
};

// mh_shard_parse reads "I/N" (0 <= I < N <= MH_SHARD_MAX) into |out_index|, |out_count|.
// Returns 0, or -1 with |err| naming --shard and giving an example.
int mh_shard_parse(const char *text, int *out_index, int *out_count, struct mh_err *err);

// mh_shard_parse_time reads an RFC 3339 UTC instant ("2026-11-30T12:00:00Z", fractional seconds
// allowed) or "@<unix seconds>" into |out_unix_s|. Returns 0, or -1 with |err| naming --start-at.
int mh_shard_parse_time(const char *text, double *out_unix_s, struct mh_err *err);

// mh_shard_total_arrivals returns the number of arrivals of one generator at |rate| per second
// planned within |duration_s|: those k with k / rate < duration_s.
uint64_t mh_shard_total_arrivals(double rate, double duration_s);

// mh_shard_slice_of returns the arrivals of |thread| (of |threads|) of shard |index| (of |count|)
// among |total| global arrivals: k with k mod count == index, dealt round-robin to the threads.
struct mh_shard_slice mh_shard_slice_of(uint64_t total, int index, int count, int thread,
                                        int threads);

// mh_shard_pick_index returns the index on which the shares (--bad-share, --resume-share picks)
// decide for global arrival |g| of |count| shards, |total| arrivals in all (UINT64_MAX: no end,
// closed loop). Each complete round of |count| arrivals (one per shard) is rotated by a hash of
// its round number, so that evenly spaced picks fall on every shard (about evenly) rather than all
// on one (a share of 1/4 over 4 shards would otherwise be all shard 3's); a bijection of
// [0, total), so the picks of the shards together are exactly those of one generator. |count| 1:
// |g| itself.
uint64_t mh_shard_pick_index(uint64_t g, int count, uint64_t total);

// mh_shard_connections returns shard |index|'s part of |connections| handshakes in flight:
// floor(connections / count), one more for the first connections mod count shards.
int mh_shard_connections(int connections, int index, int count);

// mh_shard_identities fills |out| (room for |n|) with shard |index|'s part of the |n| identities
// |ids| and returns how many: identity j goes to shard j mod count; a list shorter than |count|
// gives shard |index| the one identity index mod n. Returns 0 when |n| is 0.
size_t mh_shard_identities(const struct mh_load_identity *ids, size_t n, int index, int count,
                           struct mh_load_identity *out);

#endif
