// hist: latency histograms with log-linear buckets and 3 significant figures (the HdrHistogram
// idea; Debian packages no HdrHistogram library for C).
//
// Values are microseconds. 0-2047 are counted exactly; each power-of-two range above is cut into
// 1024 equal buckets, so a recorded value is known to better than 0.1%: three significant figures.
// Values above 2^36 us (19 h) are clamped and counted as such. One histogram per thread; merged at
// the end. No allocation after mh_hist_init.
//
// The layout is one formula with two parameters, SUB_BITS (s) and MAX_EXP (e), written into
// report.json with the counts so that a reader (`merge`, a test) rebuilds the histogram exactly:
// a value v below 2^(s+1) is its own bucket; above, with 2^x <= v < 2^(x+1), its bucket is
// 2^(s+1) + (x - s - 1) * 2^s + (v - 2^x) / 2^(x - s); values from 2^e up are clamped to 2^e - 1.
// A bucket's value is its top, the largest value it holds. The phase histograms use s = 10,
// e = 36; the per-second ones (MH_HIST_SEC_*) s = 5, e = 30: 832 buckets, within 3.2%, up to
// 17 minutes, so that a second of every thread costs 3.3 KB per kind.
#ifndef MH_HIST_H
#define MH_HIST_H

#include <stddef.h>
#include <stdint.h>

#define MH_HIST_LINEAR 2048
#define MH_HIST_SUB 1024
#define MH_HIST_MAX_EXP 36
#define MH_HIST_SUB_BITS 10
#define MH_HIST_BUCKETS (MH_HIST_LINEAR + (MH_HIST_MAX_EXP - 11) * MH_HIST_SUB)
#define MH_HIST_SEC_SUB_BITS 5
#define MH_HIST_SEC_MAX_EXP 30
#define MH_HIST_SEC_BUCKETS       \
  ((2u << MH_HIST_SEC_SUB_BITS) + \
   (MH_HIST_SEC_MAX_EXP - MH_HIST_SEC_SUB_BITS - 1) * (1u << MH_HIST_SEC_SUB_BITS))

struct mh_hist {
  uint64_t counts[MH_HIST_BUCKETS];
  uint64_t total;
  uint64_t min;
  uint64_t max;
  uint64_t clamped;
  double sum;
};

// mh_hist_init empties |h|.
void mh_hist_init(struct mh_hist *h);

// mh_hist_record counts one value of |us| microseconds.
void mh_hist_record(struct mh_hist *h, uint64_t us);

// mh_hist_merge adds |src| into |dst|.
void mh_hist_merge(struct mh_hist *dst, const struct mh_hist *src);

// mh_hist_percentile returns the value at or below which |p| percent of the values fall (the upper
// end of its bucket, never more than 0.1% above a recorded value), 0 if empty. p = 100 is the max.
uint64_t mh_hist_percentile(const struct mh_hist *h, double p);

// mh_hist_mean returns the mean of the recorded values, 0 if empty.
double mh_hist_mean(const struct mh_hist *h);

// mh_hist_layout_index returns the bucket of |v| in the layout (|sub_bits|, |max_exp|) described
// above, clamping |v| to 2^max_exp - 1; sets |*out_clamped| (may be NULL) when it did.
size_t mh_hist_layout_index(uint64_t v, int sub_bits, int max_exp, int *out_clamped);

// mh_hist_layout_top returns the largest value bucket |i| of layout |sub_bits| holds.
uint64_t mh_hist_layout_top(size_t i, int sub_bits);

// mh_hist_layout_buckets returns the number of buckets of the layout (|sub_bits|, |max_exp|).
size_t mh_hist_layout_buckets(int sub_bits, int max_exp);

// mh_hist_counts_percentile returns the top of the bucket at which |p| percent of the |total|
// values counted in |counts| (|n| buckets of layout |sub_bits|) are reached, 0 if |total| is 0.
uint64_t mh_hist_counts_percentile(const uint32_t *counts, size_t n, uint64_t total, int sub_bits,
                                   double p);

#endif
