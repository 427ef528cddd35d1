// Unit tests for hist.c: three significant figures everywhere in the range, percentiles by rank,
// merging, clamping.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "load/hist.h"

static struct mh_hist a, b;

static void test_exact_below_2048(void **state) {
  (void)state;
  mh_hist_init(&a);
  for (uint64_t v = 0; v < 2048; v++) {
    mh_hist_record(&a, v);
  }
  assert_int_equal(a.total, 2048);
  assert_int_equal(mh_hist_percentile(&a, 50), 1023);
  assert_int_equal(mh_hist_percentile(&a, 100), 2047);
  assert_int_equal(a.min, 0);
}

static void test_three_significant_figures(void **state) {
  (void)state;
  // A single value anywhere from 1 us to 10^10 us is reported within 0.1% above it.
  for (double v = 1; v < 1e10; v *= 1.37) {
    mh_hist_init(&a);
    uint64_t x = (uint64_t)v;
    mh_hist_record(&a, x);
    mh_hist_record(&a, x * 2 + 5);  // so that p50 is not clipped to the max
    uint64_t got = mh_hist_percentile(&a, 50);
    assert_true(got >= x);
    if ((double)(got - x) > (double)x * 0.001) {
      print_error("value %llu reported as %llu\n", (unsigned long long)x, (unsigned long long)got);
      fail();
    }
  }
}

static void test_percentiles_by_rank(void **state) {
  (void)state;
  mh_hist_init(&a);
  // 1..100000 us: p50 = 50000, p99 = 99000, p99.9 = 99900 to 3 significant figures.
  for (uint64_t v = 1; v <= 100000; v++) {
    mh_hist_record(&a, v);
  }
  struct {
    double p;
    double want;
  } cases[] = {{50, 50000}, {90, 90000}, {99, 99000}, {99.9, 99900}, {100, 100000}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    double got = (double)mh_hist_percentile(&a, cases[i].p);
    assert_true(got >= cases[i].want && got <= cases[i].want * 1.001 + 1);
  }
  assert_true(fabs(mh_hist_mean(&a) - 50000.5) < 1e-6);
}

static void test_merge_and_clamp(void **state) {
  (void)state;
  mh_hist_init(&a);
  mh_hist_init(&b);
  mh_hist_record(&a, 100);
  mh_hist_record(&b, 300);
  mh_hist_record(&b, (uint64_t)1 << 40);  // clamped
  mh_hist_merge(&a, &b);
  assert_int_equal(a.total, 3);
  assert_int_equal(a.min, 100);
  assert_int_equal(a.clamped, 1);
  assert_int_equal(mh_hist_percentile(&a, 34), 300);
  assert_int_equal(mh_hist_percentile(&a, 100), ((uint64_t)1 << 36) - 1);
  mh_hist_init(&b);
  assert_int_equal(mh_hist_percentile(&b, 99), 0);
}

// The layout a report records rebuilds a histogram exactly: the non-empty buckets of one, added
// into an empty one by index (as merge does), give the same percentiles; and the formula of
// docs/load.md holds for both layouts (each value lies in its bucket, at most 2^-s above it).
static void test_bucket_round_trip(void **state) {
  (void)state;
  mh_hist_init(&a);
  mh_hist_init(&b);
  uint64_t x = 1;
  for (int i = 0; i < 20000; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    mh_hist_record(&a, (x >> 40) % 5000000);  // 0 to 5 s
  }
  for (size_t i = 0; i < MH_HIST_BUCKETS; i++) {
    if (a.counts[i] != 0) {  // what report.json writes: [i, count]
      b.counts[i] += a.counts[i];
      b.total += a.counts[i];
    }
  }
  b.min = a.min;
  b.max = a.max;
  const double ps[] = {1, 50, 90, 99, 99.9, 99.99, 100};
  for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
    assert_int_equal(mh_hist_percentile(&a, ps[k]), mh_hist_percentile(&b, ps[k]));
  }
  assert_int_equal(mh_hist_layout_buckets(MH_HIST_SUB_BITS, MH_HIST_MAX_EXP), MH_HIST_BUCKETS);
  assert_int_equal(mh_hist_layout_buckets(MH_HIST_SEC_SUB_BITS, MH_HIST_SEC_MAX_EXP),
                   MH_HIST_SEC_BUCKETS);
  const int layouts[2][2] = {{MH_HIST_SUB_BITS, MH_HIST_MAX_EXP},
                             {MH_HIST_SEC_SUB_BITS, MH_HIST_SEC_MAX_EXP}};
  for (int l = 0; l < 2; l++) {
    int s = layouts[l][0], e = layouts[l][1];
    size_t last = 0;
    for (double v = 0; v < (double)((uint64_t)1 << e); v = v * 1.01 + 1) {
      uint64_t u = (uint64_t)v;
      int clamped = 1;
      size_t i = mh_hist_layout_index(u, s, e, &clamped);
      assert_int_equal(clamped, 0);
      assert_true(i >= last && i < mh_hist_layout_buckets(s, e));
      last = i;
      uint64_t top = mh_hist_layout_top(i, s);
      assert_true(top >= u);
      assert_true((double)(top - u) <= (double)u / (double)(1u << s));
      assert_int_equal(mh_hist_layout_index(top, s, e, NULL), i);
    }
    int clamped = 0;
    size_t i = mh_hist_layout_index((uint64_t)1 << e, s, e, &clamped);
    assert_int_equal(clamped, 1);
    assert_int_equal(i, mh_hist_layout_buckets(s, e) - 1);
  }
}

// A per-second histogram (counts of the coarser layout) gives its percentiles by rank.
static void test_counts_percentile(void **state) {
  (void)state;
  static uint32_t counts[MH_HIST_SEC_BUCKETS];
  memset(counts, 0, sizeof(counts));
  for (uint64_t v = 1; v <= 100; v++) {
    counts[mh_hist_layout_index(v * 1000, MH_HIST_SEC_SUB_BITS, MH_HIST_SEC_MAX_EXP, NULL)]++;
  }
  uint64_t p99 =
      mh_hist_counts_percentile(counts, MH_HIST_SEC_BUCKETS, 100, MH_HIST_SEC_SUB_BITS, 99);
  assert_true(p99 >= 99000 && p99 <= 99000 + 99000 / 32);
  assert_int_equal(
      mh_hist_counts_percentile(counts, MH_HIST_SEC_BUCKETS, 0, MH_HIST_SEC_SUB_BITS, 99), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bucket_round_trip),   cmocka_unit_test(test_counts_percentile),
      cmocka_unit_test(test_exact_below_2048),    cmocka_unit_test(test_three_significant_figures),
      cmocka_unit_test(test_percentiles_by_rank), cmocka_unit_test(test_merge_and_clamp),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
