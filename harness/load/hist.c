// hist: log-linear histogram (see hist.h).
#include "load/hist.h"

#include <string.h>

void mh_hist_init(struct mh_hist *h) {
  memset(h, 0, sizeof(*h));
  h->min = UINT64_MAX;
}

size_t mh_hist_layout_index(uint64_t v, int sub_bits, int max_exp, int *out_clamped) {
  uint64_t limit = (uint64_t)1 << max_exp;
  if (out_clamped != NULL) {
    *out_clamped = v >= limit;
  }
  v = v >= limit ? limit - 1 : v;
  uint64_t linear = (uint64_t)2 << sub_bits;
  if (v < linear) {
    return (size_t)v;
  }
  int exp = 63 - __builtin_clzll(v);  // 2^exp <= v < 2^(exp+1), exp > sub_bits
  uint64_t width = (uint64_t)1 << (exp - sub_bits);
  size_t sub = (size_t)((v - ((uint64_t)1 << exp)) / width);
  return (size_t)linear + ((size_t)(exp - sub_bits - 1) << sub_bits) + sub;
}

uint64_t mh_hist_layout_top(size_t i, int sub_bits) {
  size_t linear = (size_t)2 << sub_bits;
  if (i < linear) {
    return i;
  }
  size_t k = i - linear;
  int exp = sub_bits + 1 + (int)(k >> sub_bits);
  uint64_t width = (uint64_t)1 << (exp - sub_bits);
  return ((uint64_t)1 << exp) + ((k & (((size_t)1 << sub_bits) - 1)) + 1) * width - 1;
}

size_t mh_hist_layout_buckets(int sub_bits, int max_exp) {
  return ((size_t)2 << sub_bits) + ((size_t)(max_exp - sub_bits - 1) << sub_bits);
}

uint64_t mh_hist_counts_percentile(const uint32_t *counts, size_t n, uint64_t total, int sub_bits,
                                   double p) {
  if (total == 0) {
    return 0;
  }
  uint64_t rank = (uint64_t)(p / 100.0 * (double)total + 0.999999);
  rank = rank == 0 ? 1 : rank;
  uint64_t seen = 0;
  for (size_t i = 0; i < n; i++) {
    seen += counts[i];
    if (seen >= rank) {
      return mh_hist_layout_top(i, sub_bits);
    }
  }
  return n > 0 ? mh_hist_layout_top(n - 1, sub_bits) : 0;
}

static size_t index_of(uint64_t v) {
  return mh_hist_layout_index(v, MH_HIST_SUB_BITS, MH_HIST_MAX_EXP, NULL);
}

static uint64_t bucket_top(size_t i) {
  return mh_hist_layout_top(i, MH_HIST_SUB_BITS);
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
