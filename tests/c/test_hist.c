// Unit tests for hist.c: three significant figures everywhere in the range, percentiles by rank,
// merging, clamping.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exact_below_2048),
      cmocka_unit_test(test_three_significant_figures),
      cmocka_unit_test(test_percentiles_by_rank),
      cmocka_unit_test(test_merge_and_clamp),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
