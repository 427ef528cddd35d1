// Unit tests for load/confirm.c and conform/warnings.c: the status line that decides a load
// connection at HTTP, the statuses a profile makes rejections, and the warnings of a run.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/alerts.h"
#include "conform/warnings.h"
#include "load/confirm.h"
#include "report/report.h"

static void test_status_line(void **state) {
  (void)state;
  int st = 0;
  assert_int_equal(mh_confirm_status("HTTP/1.1 400 Bad Request\r\n", 26, &st), 1);
  assert_int_equal(st, 400);
  assert_int_equal(mh_confirm_status("HTTP/1.0 101", 12, &st), 1);
  assert_int_equal(st, 101);
  // Too short to decide, byte by byte: wait for more.
  assert_int_equal(mh_confirm_status("HTTP/1.1 40", 11, &st), 0);
  assert_int_equal(mh_confirm_status("HT", 2, &st), 0);
  assert_int_equal(mh_confirm_status("", 0, &st), 0);
  // Not HTTP/1.x: no answer to count, decided as soon as it shows.
  assert_int_equal(mh_confirm_status("SSH-2", 5, &st), -1);
  assert_int_equal(mh_confirm_status("HTTP/2.0 200", 12, &st), -1);
  assert_int_equal(mh_confirm_status("HTTP/1.1 4x0", 12, &st), -1);
  assert_int_equal(mh_confirm_status("HTTP/1.1 099", 12, &st), -1);
}

static void test_profile_statuses(void **state) {
  (void)state;
  struct mh_arena a;
  mh_arena_init(&a);
  struct mh_profile p;
  memset(&p, 0, sizeof(p));
  p.name = "x";
  struct mh_load_options o;
  memset(&o, 0, sizeof(o));
  struct mh_err err;
  // Only TLS rules: confirmed at TLS.
  p.rules[MH_REASON_UNKNOWN_CA] = (struct mh_profile_rule){.set = 1, .layer = MH_LAYER_TLS};
  assert_int_equal(mh_confirm_from_profile(&o, &a, &p, "h", 443, "/ws", &err), 0);
  assert_null(o.http_request);
  // HTTP rules: each status once, the request built once.
  p.rules[MH_REASON_MISSING_CERT] =
      (struct mh_profile_rule){.set = 1, .layer = MH_LAYER_HTTP, .status = 400};
  p.rules[MH_REASON_EXPIRED] =
      (struct mh_profile_rule){.set = 1, .layer = MH_LAYER_HTTP, .status = 400};
  p.rules[MH_REASON_CN_NOT_ALLOWED] =
      (struct mh_profile_rule){.set = 1, .layer = MH_LAYER_HTTP, .status = 403};
  assert_int_equal(mh_confirm_from_profile(&o, &a, &p, "h", 8443, "/ws", &err), 0);
  assert_string_equal(o.http_request,
                      "GET /ws HTTP/1.1\r\nHost: h:8443\r\nUser-Agent: mtls-harness-load\r\n"
                      "Connection: close\r\n\r\n");
  assert_int_equal(o.http_request_len, strlen(o.http_request));
  assert_int_equal(o.num_reject_statuses, 2);
  assert_true(mh_confirm_rejects(&o, 400) && mh_confirm_rejects(&o, 403));
  assert_false(mh_confirm_rejects(&o, 200) || mh_confirm_rejects(&o, 101) ||
               mh_confirm_rejects(&o, 404));
  mh_arena_free(&a);
}

static void rejected(struct mh_case_result *c, const char *target, int alert) {
  memset(c, 0, sizeof(*c));
  c->target = target;
  c->expect.reject = 1;
  c->outcome.result = MH_RESULT_REJECTED;
  c->outcome.rejected_by = 's';
  c->outcome.layer = MH_LAYER_TLS;
  c->outcome.tls.alert_received = alert;
  c->outcome.tls.alert_sent = MH_ALERT_NONE;
}

static void test_warnings(void **state) {
  (void)state;
  struct mh_case_result c[3];
  struct mh_run_warning w[4];
  rejected(&c[0], "a", 40);
  rejected(&c[1], "a", 40);
  rejected(&c[2], "b", 116);
  c[2].expect.reject = 0;  // b expects acceptance (and was rejected: a failure, not a warning)
  assert_int_equal(mh_warnings_collect(w, c, 3, NULL, 0), 2);
  assert_int_equal(w[0].kind, MH_WARNING_NO_ACCEPT_EXPECTED);
  assert_string_equal(w[0].target, "a");
  assert_int_equal(w[1].kind, MH_WARNING_SAME_REJECTION);
  assert_string_equal(w[1].message,
                      "target a rejected all 2 cases the same way (server, tls, alert 40 "
                      "handshake_failure): a server that rejects every client looks like this "
                      "(does it trust the identities' CA?)");
  // Another alert: no longer the same way. Nobody expects acceptance: one warning for the run.
  c[1].outcome.tls.alert_received = 42;
  c[2].expect.reject = 1;
  assert_int_equal(mh_warnings_collect(w, c, 3, NULL, 0), 1);
  assert_int_equal(w[0].kind, MH_WARNING_NO_ACCEPT_EXPECTED);
  assert_null(w[0].target);
  assert_int_equal(w[0].num_cases, 3);
  // Inconclusive is not rejected.
  c[1].outcome.tls.alert_received = 40;
  c[1].outcome.result = MH_RESULT_INCONCLUSIVE;
  c[0].expect.reject = 0;
  assert_int_equal(mh_warnings_collect(w, c, 3, NULL, 0), 1);
  assert_string_equal(w[0].target, "b");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_status_line),
      cmocka_unit_test(test_profile_statuses),
      cmocka_unit_test(test_warnings),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
