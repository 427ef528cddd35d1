// Unit tests for shard.c: the shards' open-loop arrivals are exactly one generator's schedule,
// connections and identities are split as documented, --shard and --start-at are parsed strictly.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "load/shard.h"

// For every shard count and thread count, each global arrival of the schedule belongs to exactly
// one (shard, thread), in that thread's order, and the union has exactly |total| of them.
static void test_arrivals_partition_one_schedule(void **state) {
  (void)state;
  const uint64_t totals[] = {0, 1, 7, 1000, 10007};
  for (size_t t = 0; t < sizeof(totals) / sizeof(totals[0]); t++) {
    uint64_t total = totals[t];
    unsigned char *seen = calloc(total + 1, 1);
    assert_non_null(seen);
    const int counts[] = {1, 2, 3, 4, 7, 1024};
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
      memset(seen, 0, total + 1);
      uint64_t sum = 0;
      for (int shard = 0; shard < counts[c]; shard++) {
        for (int th = 0; th < 3; th++) {
          struct mh_shard_slice s = mh_shard_slice_of(total, shard, counts[c], th, 3);
          sum += s.num;
          for (uint64_t j = 0; j < s.num; j++) {
            uint64_t k = s.first + j * s.stride;
            assert_true(k < total);
            assert_int_equal(k % (uint64_t)counts[c], (uint64_t)shard);
            assert_int_equal(seen[k], 0);
            seen[k] = 1;
          }
        }
      }
      assert_int_equal(sum, total);
    }
    free(seen);
  }
}

static void test_total_arrivals(void **state) {
  (void)state;
  assert_int_equal(mh_shard_total_arrivals(1000, 10), 10000);  // k/R < D: 0..9999
  assert_int_equal(mh_shard_total_arrivals(3, 1), 3);
  assert_int_equal(mh_shard_total_arrivals(2.5, 1), 3);  // 0, 0.4, 0.8
  // The shards' total rate is computed as (R / N) * N: the same count as R itself.
  assert_int_equal(mh_shard_total_arrivals(1000.0 / 3 * 3, 10), 10000);
  assert_int_equal(mh_shard_total_arrivals(250.0 * 4, 10), 10000);
  assert_int_equal(mh_shard_total_arrivals(0, 10), 0);
}

// The pick index is a bijection of the schedule, so the shards' picks together are one
// generator's (exact share), and evenly spaced picks fall on every shard, not on one.
static void test_pick_index_spreads_and_keeps_the_union(void **state) {
  (void)state;
  const int counts[] = {1, 2, 3, 4, 7};
  const uint64_t totals[] = {1, 10, 1600, 1603};
  for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
    for (size_t t = 0; t < sizeof(totals) / sizeof(totals[0]); t++) {
      uint64_t total = totals[t];
      unsigned char *seen = calloc(total, 1);
      assert_non_null(seen);
      unsigned long long picked[8] = {0};
      for (uint64_t g = 0; g < total; g++) {
        uint64_t p = mh_shard_pick_index(g, counts[c], total);
        assert_true(p < total);
        assert_int_equal(seen[p], 0);
        seen[p] = 1;
        picked[g % (uint64_t)counts[c]] += (uint64_t)mh_load_share_hit(p, 0.25);
      }
      free(seen);
      if (total == 1600) {
        unsigned long long sum = 0;
        for (int i = 0; i < counts[c]; i++) {
          sum += picked[i];
          // 400 picks over the shards: each gets a fair part of them (at least half its even
          // part: the rotation is pseudo-random), none all of them.
          assert_true(picked[i] * 2 >= 400 / (unsigned)counts[c]);
        }
        assert_int_equal(sum, 400);
      }
    }
  }
  assert_int_equal(mh_shard_pick_index(7, 1, 8), 7);
}

static void test_connections_split(void **state) {
  (void)state;
  for (int c = 1; c < 50; c++) {
    for (int n = 1; n < 12; n++) {
      int sum = 0;
      for (int i = 0; i < n; i++) {
        int part = mh_shard_connections(c, i, n);
        assert_true(part == c / n || part == c / n + 1);
        assert_int_equal(part, c / n + (i < c % n ? 1 : 0));
        sum += part;
      }
      assert_int_equal(sum, c);
    }
  }
  assert_int_equal(mh_shard_connections(3, 3, 4), 0);  // the command refuses it
}

static void test_identities_split(void **state) {
  (void)state;
  struct mh_load_identity ids[7], out[7];
  const char *names[] = {"a", "b", "c", "d", "e", "f", "g"};
  for (int i = 0; i < 7; i++) {
    ids[i].name = names[i];
  }
  // 7 identities over 3 shards: j mod 3.
  size_t n = mh_shard_identities(ids, 7, 1, 3, out);
  assert_int_equal(n, 2);
  assert_string_equal(out[0].name, "b");
  assert_string_equal(out[1].name, "e");
  n = mh_shard_identities(ids, 7, 0, 3, out);
  assert_int_equal(n, 3);
  assert_string_equal(out[2].name, "g");
  // Fewer identities than shards: shard I uses identity I mod len.
  n = mh_shard_identities(ids, 2, 3, 4, out);
  assert_int_equal(n, 1);
  assert_string_equal(out[0].name, "b");
  assert_int_equal(mh_shard_identities(ids, 0, 0, 4, out), 0);
  // Every identity is some shard's, once, when there are enough.
  int hits[7] = {0};
  for (int s = 0; s < 4; s++) {
    n = mh_shard_identities(ids, 7, s, 4, out);
    for (size_t i = 0; i < n; i++) {
      hits[out[i].name[0] - 'a']++;
    }
  }
  for (int i = 0; i < 7; i++) {
    assert_int_equal(hits[i], 1);
  }
}

static void test_parse_shard(void **state) {
  (void)state;
  struct mh_err err;
  int i, n;
  assert_int_equal(mh_shard_parse("2/4", &i, &n, &err), 0);
  assert_int_equal(i, 2);
  assert_int_equal(n, 4);
  assert_int_equal(mh_shard_parse("0/1", &i, &n, &err), 0);
  assert_int_equal(mh_shard_parse("1023/1024", &i, &n, &err), 0);
  const char *bad[] = {"4/4", "-1/4", "1/0", "1/1025", "1", "1/", "/4", "a/b", "1/4x", "+1/4"};
  for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
    assert_int_equal(mh_shard_parse(bad[k], &i, &n, &err), -1);
    assert_non_null(strstr(err.msg, "--shard"));
    assert_non_null(strstr(err.msg, "e.g. --shard 2/4"));
  }
}

static void test_parse_start_at(void **state) {
  (void)state;
  struct mh_err err;
  double t;
  assert_int_equal(mh_shard_parse_time("2026-11-30T12:00:00Z", &t, &err), 0);
  assert_true(t == 1796040000.0);
  assert_int_equal(mh_shard_parse_time("2026-11-30T12:00:00.250Z", &t, &err), 0);
  assert_true(t == 1796040000.25);
  assert_int_equal(mh_shard_parse_time("@1796040000.5", &t, &err), 0);
  assert_true(t == 1796040000.5);
  const char *bad[] = {"2026-11-30 12:00:00",
                       "2026-11-30T12:00:00",
                       "2026-11-30T12:00:00+01:00",
                       "2026-13-30T12:00:00Z",
                       "@",
                       "@x",
                       "tomorrow",
                       "2026-11-30T12:00:00.Z"};
  for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
    assert_int_equal(mh_shard_parse_time(bad[k], &t, &err), -1);
    assert_non_null(strstr(err.msg, "--start-at"));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_arrivals_partition_one_schedule),
      cmocka_unit_test(test_total_arrivals),
      cmocka_unit_test(test_pick_index_spreads_and_keeps_the_union),
      cmocka_unit_test(test_connections_split),
      cmocka_unit_test(test_identities_split),
      cmocka_unit_test(test_parse_shard),
      cmocka_unit_test(test_parse_start_at),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
