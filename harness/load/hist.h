// hist: latency histograms with log-linear buckets and 3 significant figures (the HdrHistogram
// idea; Debian packages no HdrHistogram library for C).
//
// Values are microseconds. 0-2047 are counted exactly; each power-of-two range above is cut into
// 1024 equal buckets, so a recorded value is known to better than 0.1%: three significant figures.
// Values above 2^36 us (19 h) are clamped and counted as such. One histogram per thread; merged at
// the end. No allocation after mh_hist_init.
#ifndef MH_HIST_H
#define MH_HIST_H

#include <stddef.h>
#include <stdint.h>

#define MH_HIST_LINEAR 2048
#define MH_HIST_SUB 1024
#define MH_HIST_MAX_EXP 36
#define MH_HIST_BUCKETS (MH_HIST_LINEAR + (MH_HIST_MAX_EXP - 11) * MH_HIST_SUB)

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

#endif
