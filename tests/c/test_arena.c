// Unit tests for arena.c: alignment, growth past a block, overflow refusal, string helpers.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"

static void test_alloc_is_zeroed_and_aligned(void **state) {
  (void)state;
  struct mh_arena a;
  mh_arena_init(&a);
  for (size_t n = 1; n < 200; n += 7) {
    unsigned char *p = mh_arena_alloc(&a, n);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
    for (size_t i = 0; i < n; i++) {
      assert_int_equal(p[i], 0);
    }
    memset(p, 0xab, n);
  }
  mh_arena_free(&a);
  assert_null(a.head);
}

static void test_large_allocation_gets_its_own_block(void **state) {
  (void)state;
  struct mh_arena a;
  mh_arena_init(&a);
  char *small = mh_arena_strdup(&a, "small");
  char *big = mh_arena_alloc(&a, 1 << 20);
  assert_non_null(big);
  memset(big, 1, 1 << 20);
  assert_string_equal(small, "small");
  mh_arena_free(&a);
}

static void test_array_overflow_is_refused(void **state) {
  (void)state;
  struct mh_arena a;
  mh_arena_init(&a);
  assert_null(mh_arena_alloc_array(&a, SIZE_MAX / 2, 4));
  assert_non_null(mh_arena_alloc_array(&a, 10, 4));
  mh_arena_free(&a);
}

static void test_sprintf(void **state) {
  (void)state;
  struct mh_arena a;
  mh_arena_init(&a);
  assert_string_equal(mh_arena_sprintf(&a, "%s-%d.pem", "location", 7), "location-7.pem");
  mh_arena_free(&a);
  mh_arena_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alloc_is_zeroed_and_aligned),
      cmocka_unit_test(test_large_allocation_gets_its_own_block),
      cmocka_unit_test(test_array_overflow_is_refused),
      cmocka_unit_test(test_sprintf),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
