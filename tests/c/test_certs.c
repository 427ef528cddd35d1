// Unit tests for load/certs.c: certificates told apart by their bytes across threads, and the
// switches and mixed periods read from the timeline, with the failures in each one's window.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "load/certs.h"

#define SLOTS 120
#define SLOT MH_CERTS_SLOT_US

// Stand-ins for certificates: any bytes do, the table compares them; the first byte names it.
static uint8_t der_of[4][64];

static int describe(const uint8_t *der, size_t len, struct mh_certs_entry *e) {
  (void)len;
  snprintf(e->serial, sizeof(e->serial), "%02X", der[0]);
  snprintf(e->subject, sizeof(e->subject), "CN=cert-%c", 'a' + der[0]);
  e->not_after = 1700000000 + der[0];
  return 0;
}

struct fixture {
  struct mh_certs_table t;
  struct mh_certs_local l[2];
  struct mh_certs c;
};

static struct fixture *fx_new(void) {
  struct fixture *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  assert_int_equal(mh_certs_table_init(&f->t, SLOTS), 0);
  mh_certs_local_init(&f->l[0]);
  mh_certs_local_init(&f->l[1]);
  for (int i = 0; i < 4; i++) {
    memset(der_of[i], 0x30 + i, sizeof(der_of[i]));
    der_of[i][0] = (uint8_t)i;
  }
  return f;
}

// seen records a handshake with certificate |cert| ending at |us| on thread |th|, from a copy of
// its bytes (the TLS library hands each connection its own buffer).
static void seen(struct fixture *f, int th, int cert, int64_t us) {
  uint8_t copy[64];
  memcpy(copy, der_of[cert], sizeof(copy));
  mh_certs_seen(&f->t, &f->l[th], copy, sizeof(copy), us, describe);
}

// slots_of records |n| handshakes in each slot from |a| to |b| (inclusive) with |cert|, spread
// over the two threads.
static void slots_of(struct fixture *f, int cert, int a, int b, int n) {
  for (int s = a; s <= b; s++) {
    for (int i = 0; i < n; i++) {
      seen(f, i % 2, cert, (int64_t)s * SLOT + 1000 + i * 5000);
    }
  }
}

static size_t changes(struct fixture *f, struct mh_certs_change *out, size_t max) {
  const struct mh_certs_local *locals[2] = {&f->l[0], &f->l[1]};
  mh_certs_collect(&f->c, &f->t, locals, 2);
  return mh_certs_changes(&f->c, out, max);
}

static void fx_free(struct fixture *f) {
  mh_certs_cleanup(&f->c);
  mh_certs_table_cleanup(&f->t);
  free(f);
}

static void test_certificates_told_apart_across_threads(void **state) {
  (void)state;
  struct fixture *f = fx_new();
  seen(f, 0, 0, 5000);
  seen(f, 1, 0, 3000);  // the other thread saw it first
  seen(f, 1, 1, 900000);
  seen(f, 0, 0, 950000);
  seen(f, 0, 1, 990000);
  struct mh_certs_change ch[4];
  changes(f, ch, 4);
  assert_int_equal(f->c.num, 2);
  assert_string_equal(f->c.entries[0].serial, "00");
  assert_string_equal(f->c.entries[1].subject, "CN=cert-b");
  assert_int_equal(f->c.entries[0].handshakes, 3);
  assert_int_equal(f->c.entries[0].first_us, 3000);
  assert_int_equal(f->c.entries[0].last_us, 950000);
  assert_int_equal(f->c.entries[1].handshakes, 2);
  assert_int_equal(f->c.entries[1].first_us, 900000);
  assert_int_equal(f->c.other, 0);
  fx_free(f);
}

static void test_hot_swap_is_one_switch_with_the_failures_of_its_window(void **state) {
  (void)state;
  struct fixture *f = fx_new();
  slots_of(f, 0, 0, 19, 10);
  seen(f, 0, 0, 20 * SLOT + 1000);  // the swap's slot saw both
  seen(f, 1, 1, 20 * SLOT + 42000);
  slots_of(f, 1, 21, 39, 10);
  mh_certs_failed(&f->t, 9 * SLOT + 99999);   // before the window (slots 10 to 30)
  mh_certs_failed(&f->t, 10 * SLOT);          // its first slot
  mh_certs_failed(&f->t, 25 * SLOT + 5);      // inside
  mh_certs_failed(&f->t, 30 * SLOT + 99999);  // its last slot
  mh_certs_failed(&f->t, 31 * SLOT);          // after
  struct mh_certs_change ch[4];
  assert_int_equal(changes(f, ch, 4), 1);
  assert_int_equal(ch[0].kind, MH_CERTS_SWITCH);
  assert_int_equal(ch[0].from, 0);
  assert_int_equal(ch[0].to, 1);
  assert_int_equal(ch[0].at_us, 20 * SLOT + 42000);  // exact: the certificate's first handshake
  assert_int_equal(ch[0].until_us, 21 * SLOT);
  assert_int_equal(ch[0].window_from_us, 10 * SLOT);
  assert_int_equal(ch[0].window_to_us, 31 * SLOT);
  assert_int_equal(ch[0].failures, 3);
  assert_int_equal(ch[0].during[0], 1);
  assert_int_equal(ch[0].during[1], 1);
  fx_free(f);
}

static void test_clean_cut_and_rollback(void **state) {
  (void)state;
  struct fixture *f = fx_new();
  slots_of(f, 0, 0, 19, 4);
  slots_of(f, 1, 20, 39, 4);
  slots_of(f, 0, 40, 59, 4);  // back to the first: its first handshake is long before
  struct mh_certs_change ch[4];
  assert_int_equal(changes(f, ch, 4), 2);
  assert_int_equal(ch[0].kind, MH_CERTS_SWITCH);
  assert_int_equal(ch[0].at_us, 20 * SLOT + 1000);
  assert_int_equal(ch[0].until_us, 20 * SLOT);  // the old one's last slot ended as the new began
  assert_int_equal(ch[0].failures, 0);
  assert_int_equal(ch[1].kind, MH_CERTS_SWITCH);
  assert_int_equal(ch[1].from, 1);
  assert_int_equal(ch[1].to, 0);
  assert_int_equal(ch[1].at_us, 40 * SLOT);  // to the slot
  fx_free(f);
}

// A swap and its rollback 1 s later: their windows (1 s either side) overlap, and a failure in
// the overlap is in both changes' counts but only once in the run's total around changes.
static void test_failures_in_overlapping_windows_count_once(void **state) {
  (void)state;
  struct fixture *f = fx_new();
  slots_of(f, 0, 0, 19, 4);
  slots_of(f, 1, 20, 29, 4);  // settled: alone for 1 s
  slots_of(f, 0, 30, 59, 4);
  mh_certs_failed(&f->t, 12 * SLOT);  // the first window only (slots 9 to 30)
  mh_certs_failed(&f->t, 22 * SLOT);  // both
  mh_certs_failed(&f->t, 25 * SLOT);  // both
  mh_certs_failed(&f->t, 35 * SLOT);  // the second only (slots 19 to 40)
  mh_certs_failed(&f->t, 50 * SLOT);  // neither
  struct mh_certs_change ch[4];
  assert_int_equal(changes(f, ch, 4), 2);
  assert_int_equal(ch[0].window_to_us, 31 * SLOT);
  assert_int_equal(ch[1].window_from_us, 19 * SLOT);
  assert_int_equal(ch[0].failures, 3);
  assert_int_equal(ch[1].failures, 3);
  assert_int_equal(mh_certs_failures_around(&f->c, ch, 2), 4);
  assert_int_equal(mh_certs_failures_around(&f->c, ch, 1), 3);
  assert_int_equal(mh_certs_failures_around(&f->c, ch, 0), 0);
  fx_free(f);
}

static void test_alternation_is_one_mixed_period(void **state) {
  (void)state;
  struct fixture *f = fx_new();
  for (int s = 0; s < 60; s++) {
    for (int i = 0; i < 6; i++) {
      seen(f, i % 2, i % 2, (int64_t)s * SLOT + i * 1000);  // a load balancer: every other
    }
  }
  mh_certs_failed(&f->t, 30 * SLOT);
  struct mh_certs_change ch[4];
  assert_int_equal(changes(f, ch, 4), 1);
  assert_int_equal(ch[0].kind, MH_CERTS_MIXED);
  assert_int_equal(ch[0].from, -1);
  assert_int_equal(ch[0].to, -1);
  assert_int_equal(ch[0].at_us, 0);
  assert_int_equal(ch[0].until_us, 60 * SLOT);
  assert_int_equal(ch[0].during[0], 180);
  assert_int_equal(ch[0].during[1], 180);
  assert_int_equal(ch[0].failures, 1);
  fx_free(f);
}

static void test_rollout_behind_a_balancer_is_one_switch_over_its_mixed_time(void **state) {
  (void)state;
  struct fixture *f = fx_new();
  slots_of(f, 0, 0, 19, 4);
  for (int s = 20; s < 50; s++) {  // both served, one handshake a slot: never one settled
    seen(f, 0, s % 2, (int64_t)s * SLOT + 10);
  }
  slots_of(f, 1, 50, 69, 4);
  mh_certs_failed(&f->t, 58 * SLOT + 5);  // in the window (slots 11 to 58)
  mh_certs_failed(&f->t, 59 * SLOT);      // not
  struct mh_certs_change ch[4];
  assert_int_equal(changes(f, ch, 4), 1);
  assert_int_equal(ch[0].kind, MH_CERTS_SWITCH);
  assert_int_equal(ch[0].at_us, 21 * SLOT + 10);  // the new one's first handshake
  assert_int_equal(ch[0].until_us, 49 * SLOT);    // the old one's last slot (48) ended
  assert_int_equal(ch[0].window_from_us, 11 * SLOT);
  assert_int_equal(ch[0].window_to_us, 59 * SLOT);
  assert_int_equal(ch[0].failures, 1);
  fx_free(f);
}

static void test_a_blip_is_mixed_not_two_switches(void **state) {
  (void)state;
  struct fixture *f = fx_new();
  slots_of(f, 0, 0, 19, 4);
  seen(f, 0, 2, 20 * SLOT);  // one handshake elsewhere
  slots_of(f, 0, 20, 39, 4);
  struct mh_certs_change ch[4];
  assert_int_equal(changes(f, ch, 4), 1);
  assert_int_equal(ch[0].kind, MH_CERTS_MIXED);
  assert_int_equal(ch[0].from, 0);
  assert_int_equal(ch[0].to, 0);
  assert_int_equal(ch[0].during[1], 1);  // the third certificate is the table's second
  fx_free(f);
}

static void test_changes_are_counted_beyond_the_listed(void **state) {
  (void)state;
  struct fixture *f = fx_new();
  for (int k = 0; k < 11; k++) {  // 11 settled runs of 1 s: 10 switches
    slots_of(f, k % 2, k * 10, k * 10 + 9, 2);
  }
  struct mh_certs_change ch[4];
  assert_int_equal(changes(f, ch, 4), 10);
  assert_int_equal(ch[0].to, 1);
  assert_int_equal(ch[0].at_us, 10 * SLOT + 1000);  // its first handshake
  assert_int_equal(ch[3].to, 0);
  assert_int_equal(ch[3].at_us, 40 * SLOT);  // the first's first was long before: to the slot
  fx_free(f);
}

static void test_more_certificates_than_told_apart_are_other(void **state) {
  (void)state;
  struct fixture *f = fx_new();
  for (int i = 0; i < MH_CERTS_MAX + 3; i++) {
    uint8_t d[8] = {(uint8_t)i, 1, 2, 3, 4, 5, 6, (uint8_t)(i >> 8)};
    mh_certs_seen(&f->t, &f->l[0], d, sizeof(d), 1000, describe);
  }
  struct mh_certs_change ch[1];
  changes(f, ch, 1);
  assert_int_equal(f->c.num, MH_CERTS_MAX);
  assert_int_equal(f->c.other, 3);
  fx_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_certificates_told_apart_across_threads),
      cmocka_unit_test(test_hot_swap_is_one_switch_with_the_failures_of_its_window),
      cmocka_unit_test(test_clean_cut_and_rollback),
      cmocka_unit_test(test_failures_in_overlapping_windows_count_once),
      cmocka_unit_test(test_alternation_is_one_mixed_period),
      cmocka_unit_test(test_rollout_behind_a_balancer_is_one_switch_over_its_mixed_time),
      cmocka_unit_test(test_a_blip_is_mixed_not_two_switches),
      cmocka_unit_test(test_changes_are_counted_beyond_the_listed),
      cmocka_unit_test(test_more_certificates_than_told_apart_are_other),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
