// hist: log-linear histogram (see hist.h).
#include "load/hist.h"

#include <string.h>

void mh_hist_init(struct mh_hist *h) {
  memset(h, 0, sizeof(*h));
  h->min = UINT64_MAX;
}

// index_of maps a value to its bucket; bucket_top is the largest value the bucket holds.
static size_t index_of(uint64_t v) {
  if (v < MH_HIST_LINEAR) {
    return (size_t)v;
  }
  int exp = 63 - __builtin_clzll(v);  // 2^exp <= v < 2^(exp+1), exp >= 11
  uint64_t width = (uint64_t)1 << (exp - 10);
  size_t sub = (size_t)((v - ((uint64_t)1 << exp)) / width);
  return MH_HIST_LINEAR + (size_t)(exp - 11) * MH_HIST_SUB + sub;
}

static uint64_t bucket_top(size_t i) {
  if (i < MH_HIST_LINEAR) {
    return i;
  }
  size_t k = i - MH_HIST_LINEAR;
  int exp = 11 + (int)(k / MH_HIST_SUB);
  uint64_t width = (uint64_t)1 << (exp - 10);
  return ((uint64_t)1 << exp) + (k % MH_HIST_SUB + 1) * width - 1;
}

void mh_hist_record(struct mh_hist *h, uint64_t us) {
  if (us >= (uint64_t)1 << MH_HIST_MAX_EXP) {
    us = ((uint64_t)1 << MH_HIST_MAX_EXP) - 1;
    h->clamped++;
  }
  h->counts[index_of(us)]++;
  h->total++;
  h->sum += (double)us;
  h->min = us < h->min ? us : h->min;
  h->max = us > h->max ? us : h->max;
}

void mh_hist_merge(struct mh_hist *dst, const struct mh_hist *src) {
  for (size_t i = 0; i < MH_HIST_BUCKETS; i++) {
    dst->counts[i] += src->counts[i];
  }
  dst->total += src->total;
  dst->sum += src->sum;
  dst->clamped += src->clamped;
  dst->min = src->min < dst->min ? src->min : dst->min;
  dst->max = src->max > dst->max ? src->max : dst->max;
}

uint64_t mh_hist_percentile(const struct mh_hist *h, double p) {
  if (h->total == 0) {
    return 0;
  }
  if (p >= 100.0) {
    return h->max;
  }
  // The rank of the value: the smallest count that covers p percent.
  uint64_t rank = (uint64_t)(p / 100.0 * (double)h->total + 0.999999);
  rank = rank == 0 ? 1 : rank;
  uint64_t seen = 0;
  for (size_t i = 0; i < MH_HIST_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen >= rank) {
      uint64_t top = bucket_top(i);
      return top < h->max ? top : h->max;
    }
  }
  return h->max;
}

double mh_hist_mean(const struct mh_hist *h) {
  return h->total ? h->sum / (double)h->total : 0;
}
