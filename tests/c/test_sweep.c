// Unit tests for sweep.c: the judgement of a step, the decision after it (a failed step is retried
// once, then the sweep stops) and the reason it gives.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "load/sweep.h"

// A step judged from a run of 1 s with |accepted| of |offered| done, |errors| timeouts and every
// accepted handshake taking |latency_us|.
static struct mh_sweep_step judged(double offered, unsigned long long accepted,
                                   unsigned long long errors, uint64_t latency_us) {
  static struct mh_load_result r;
  memset(&r, 0, sizeof(r));
  mh_hist_init(&r.phases[MH_LOAD_PHASE_TOTAL_ACCEPT]);
  r.accepted = accepted;
  r.started = r.planned = accepted + errors;
  r.errors[MH_LOAD_ERR_TIMEOUT] = errors;
  for (unsigned long long i = 0; i < accepted; i++) {
    mh_hist_record(&r.phases[MH_LOAD_PHASE_TOTAL_ACCEPT], latency_us);
  }
  struct mh_sweep_step st = {.offered = offered};
  mh_sweep_judge(&st, &r, 1.0, 10);
  return st;
}

static void test_held_goes_on(void **state) {
  (void)state;
  struct mh_sweep_step st = judged(100, 100, 0, 1000);
  assert_true(st.sustained);
  assert_int_equal(mh_sweep_decide(&st), MH_SWEEP_NEXT);
  st.retry = 1;  // a retry that held goes on too
  assert_int_equal(mh_sweep_decide(&st), MH_SWEEP_NEXT);
  char why[128];
  assert_string_equal(mh_sweep_step_why(&st, 10, why, sizeof(why)), "");
}

static void test_failed_is_retried_once_then_stops(void **state) {
  (void)state;
  struct mh_sweep_step st = judged(100, 100, 0, 20000);  // p99 20 ms > 10 ms
  assert_false(st.sustained);
  assert_int_equal(st.broke, 1u << MH_SWEEP_P99);
  assert_int_equal(mh_sweep_decide(&st), MH_SWEEP_RETRY);
  st.retry = 1;
  assert_int_equal(mh_sweep_decide(&st), MH_SWEEP_STOP);
}

static void test_why_names_each_limit_with_its_value(void **state) {
  (void)state;
  struct mh_sweep_step st = judged(100, 80, 10, 1000);  // 10 errors of 90; 90/s of 100/s
  assert_int_equal(st.broke, (1u << MH_SWEEP_ERRORS) | (1u << MH_SWEEP_RATE));
  char why[128];
  assert_string_equal(mh_sweep_step_why(&st, 10, why, sizeof(why)),
                      "errors 11.11% > 0.1%; achieved 80.0/s < 95% of 100/s");
  // A short buffer is cut, still terminated.
  char small[8];
  assert_int_equal(strlen(mh_sweep_step_why(&st, 10, small, sizeof(small))), 7);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_held_goes_on),
      cmocka_unit_test(test_failed_is_retried_once_then_stops),
      cmocka_unit_test(test_why_names_each_limit_with_its_value),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
