// Unit tests for input/acme.c's Go duration parser (renew_before): what time.ParseDuration
// accepts, and what it refuses (then the real code silently takes 8h).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "input/acme.h"

static double parsed(const char *s) {
  double v = -12345;
  assert_int_equal(mh_acme_go_duration(s, &v), 0);
  return v;
}

static void test_go_durations(void **state) {
  (void)state;
  assert_true(parsed("8h") == 8 * 3600.0);
  assert_true(parsed("1h30m") == 5400.0);
  assert_true(parsed("90s") == 90.0);
  assert_true(parsed("1.5h") == 5400.0);
  assert_true(parsed("300ms") > 0.2999 && parsed("300ms") < 0.3001);
  assert_true(parsed("0") == 0.0);
  assert_true(parsed("-2m") == -120.0);
  assert_true(parsed("2h0m0s") == 7200.0);
  assert_true(parsed("1\xc2\xb5s") > 0);  // U+00B5, as Go
}

static void test_not_durations(void **state) {
  (void)state;
  const char *bad[] = {"", "8", "h", "8 hours", "eight hours", "8d", "1h 30m", ".", "-", "8hx"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    double v = 0;
    assert_int_equal(mh_acme_go_duration(bad[i], &v), -1);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_go_durations),
      cmocka_unit_test(test_not_durations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
