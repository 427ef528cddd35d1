// Unit tests for the parsers' one JSON file reader (input/json.c): a file over the limit is
// refused whole, never truncated; a missing file and a directory are named with the fix.
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "input/json.h"
#include "input/scenario.h"
#include "tmpdir.h"

// make_file creates |name| in the test's directory with |size| bytes ('x' at the start and end,
// zeros between: the file is sparse, so 16 MiB cost nothing).
static void make_file(const char *name, size_t size, char *out_path, size_t out_len) {
  snprintf(out_path, out_len, "%s/%s", root, name);
  int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, (off_t)size), 0);
  if (size > 0) {
    assert_int_equal(pwrite(fd, "x", 1, 0), 1);
    assert_int_equal(pwrite(fd, "x", 1, (off_t)size - 1), 1);
  }
  close(fd);
}

static void test_reads_a_small_file_whole(void **state) {
  (void)state;
  char path[300];
  snprintf(path, sizeof(path), "%s/small.json", root);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("{\"a\": 1}\n", f);
  fclose(f);
  char *text;
  size_t len;
  struct mh_err err = {{0}};
  assert_int_equal(mh_json_read_file(path, "scenario", &text, &len, &err), 0);
  assert_int_equal(len, 9);
  assert_string_equal(text, "{\"a\": 1}\n");  // NUL-terminated
  free(text);
}

static void test_reads_a_file_of_exactly_the_limit(void **state) {
  (void)state;
  char path[300];
  make_file("limit.json", MH_JSON_MAX_BYTES, path, sizeof(path));
  char *text;
  size_t len;
  struct mh_err err = {{0}};
  assert_int_equal(mh_json_read_file(path, "scenario", &text, &len, &err), 0);
  assert_int_equal(len, MH_JSON_MAX_BYTES);
  assert_int_equal(text[len - 1], 'x');  // the last byte is there: nothing was cut
  free(text);
}

static void test_refuses_an_over_large_file_instead_of_truncating(void **state) {
  (void)state;
  char path[300];
  make_file("big.json", (size_t)MH_JSON_MAX_BYTES + 1, path, sizeof(path));
  char *text = (char *)1;
  size_t len = 7;
  struct mh_err err = {{0}};
  assert_int_equal(mh_json_read_file(path, "scenario", &text, &len, &err), -1);
  assert_null(text);
  assert_int_equal(len, 0);
  char want[400];
  snprintf(want, sizeof(want), "%s: larger than 16 MiB, the limit for a scenario; refused", path);
  assert_non_null(strstr(err.msg, want));
  assert_null(strchr(err.msg, '\n'));  // one line
}

static void test_refuses_an_endless_stream(void **state) {
  (void)state;
  // Not a regular file: an endless device (or a FIFO whose writer never comes) is refused before
  // anything is read, so nothing can block or stream forever.
  char *text;
  size_t len;
  struct mh_err err = {{0}};
  assert_int_equal(mh_json_read_file("/dev/zero", "profile", &text, &len, &err), -1);
  assert_null(text);
  assert_string_equal(err.msg,
                      "/dev/zero: is a device, not a profile file (give the path of the profile "
                      "file itself)");
}

static void test_every_parser_refuses_an_over_large_file(void **state) {
  (void)state;
  char path[300];
  make_file("spec.json", (size_t)MH_JSON_MAX_BYTES + 100, path, sizeof(path));
  struct mh_arena arena, *a = &arena;
  mh_arena_init(a);
  struct mh_pki_spec spec;
  struct mh_scenario s;
  struct mh_baseline_entry *base;
  size_t num_base;
  struct mh_err err = {{0}};
  assert_int_equal(mh_pki_spec_load(a, path, &spec, &err), -1);
  assert_non_null(strstr(err.msg, "larger than 16 MiB, the limit for a spec"));
  assert_int_equal(mh_scenario_load(a, path, NULL, &s, &err), -1);
  assert_non_null(strstr(err.msg, "larger than 16 MiB, the limit for a scenario"));
  assert_int_equal(mh_baseline_load(a, path, &base, &num_base, &err), -1);
  assert_non_null(strstr(err.msg, "larger than 16 MiB, the limit for a baseline report"));
  mh_arena_free(a);
}

static void test_names_a_missing_file_and_the_fix(void **state) {
  (void)state;
  char path[300];
  snprintf(path, sizeof(path), "%s/nope.json", root);
  char *text;
  size_t len;
  struct mh_err err = {{0}};
  assert_int_equal(mh_json_read_file(path, "scenario", &text, &len, &err), -1);
  assert_null(text);
  char want[400];
  snprintf(want, sizeof(want), "%s: no such file (check the path of the scenario)", path);
  assert_non_null(strstr(err.msg, want));
}

static void test_names_a_directory_and_the_fix(void **state) {
  (void)state;
  char *text;
  size_t len;
  struct mh_err err = {{0}};
  assert_int_equal(mh_json_read_file(root, "spec", &text, &len, &err), -1);
  assert_null(text);
  char want[400];
  snprintf(want, sizeof(want),
           "%s: is a directory, not a spec file (give the path of the spec file itself)", root);
  assert_string_equal(err.msg, want);
}

static void test_profile_names_a_missing_profile(void **state) {
  (void)state;
  struct mh_arena arena, *a = &arena;
  mh_arena_init(a);
  struct mh_profile p;
  struct mh_err err = {{0}};
  assert_int_equal(mh_profile_load(a, root, "nope", &p, &err), -1);
  assert_non_null(strstr(err.msg, "no such profile \"nope\""));
  mh_arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_reads_a_small_file_whole, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reads_a_file_of_exactly_the_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refuses_an_over_large_file_instead_of_truncating, setup,
                                      teardown),
      cmocka_unit_test(test_refuses_an_endless_stream),
      cmocka_unit_test_setup_teardown(test_every_parser_refuses_an_over_large_file, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_names_a_missing_file_and_the_fix, setup, teardown),
      cmocka_unit_test_setup_teardown(test_names_a_directory_and_the_fix, setup, teardown),
      cmocka_unit_test_setup_teardown(test_profile_names_a_missing_profile, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
