// Unit tests for stage.c: files appear only on commit, exactly with the requested mode, and an
// aborted stage removes its temporaries and the directories it created.
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/stage.h"
#include "tmpdir.h"

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) {
    return -1;
  }
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      n++;
    }
  }
  closedir(d);
  return n;
}

static void test_commit_places_files_with_modes(void **state) {
  (void)state;
  char out[300];
  snprintf(out, sizeof(out), "%s/out", root);
  struct mh_stage st;
  struct mh_err err;
  umask(077);  // the mode must not depend on the umask
  assert_int_equal(mh_stage_init(&st, out, &err), 0);
  assert_int_equal(mh_stage_write(&st, "a/b/key.pem", "secret", 6, 0600, &err), 0);
  assert_int_equal(mh_stage_write(&st, "cert.pem", "public", 6, 0644, &err), 0);
  char path[400];
  snprintf(path, sizeof(path), "%s/cert.pem", out);
  assert_int_not_equal(access(path, F_OK), 0);  // not visible before commit
  assert_int_equal(mh_stage_commit(&st, &err), 0);
  mh_stage_cleanup(&st);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0644);
  snprintf(path, sizeof(path), "%s/a/b/key.pem", out);
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  assert_int_equal(sb.st_size, 6);
  assert_int_equal(count_entries(out), 2);  // a/ and cert.pem: no temporaries left
}

static void test_abort_leaves_nothing(void **state) {
  (void)state;
  char out[300];
  snprintf(out, sizeof(out), "%s/never", root);
  struct mh_stage st;
  struct mh_err err;
  assert_int_equal(mh_stage_init(&st, out, &err), 0);
  assert_int_equal(mh_stage_write(&st, "x/y/z.pem", "data", 4, 0644, &err), 0);
  const char *tmp;
  assert_int_equal(mh_stage_reserve(&st, "bundle.zip", 0600, &tmp, &err), 0);
  assert_int_equal(access(tmp, F_OK), 0);
  mh_stage_cleanup(&st);  // no commit
  assert_int_not_equal(access(out, F_OK), 0);
  assert_int_equal(count_entries(root), 0);
}

static void test_abort_keeps_existing_directories(void **state) {
  (void)state;
  struct mh_stage st;
  struct mh_err err;
  assert_int_equal(mh_stage_init(&st, root, &err), 0);
  assert_int_equal(mh_stage_write(&st, "f.pem", "data", 4, 0644, &err), 0);
  mh_stage_cleanup(&st);
  assert_int_equal(access(root, F_OK), 0);
  assert_int_equal(count_entries(root), 0);
}

static void test_rejects_escaping_and_duplicate_paths(void **state) {
  (void)state;
  struct mh_stage st;
  struct mh_err err;
  assert_int_equal(mh_stage_init(&st, root, &err), 0);
  assert_int_equal(mh_stage_write(&st, "../evil.pem", "x", 1, 0644, &err), -1);
  assert_non_null(strstr(err.msg, "must be relative"));
  assert_int_equal(mh_stage_write(&st, "/etc/evil.pem", "x", 1, 0644, &err), -1);
  assert_int_equal(mh_stage_write(&st, "one.pem", "x", 1, 0644, &err), 0);
  assert_int_equal(mh_stage_write(&st, "one.pem", "y", 1, 0644, &err), -1);
  assert_non_null(strstr(err.msg, "written twice"));
  mh_stage_cleanup(&st);
  assert_int_equal(count_entries(root), 0);
}

static void test_file_in_place_of_directory(void **state) {
  (void)state;
  char path[300];
  snprintf(path, sizeof(path), "%s/blocker", root);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fclose(f);
  struct mh_stage st;
  struct mh_err err;
  assert_int_equal(mh_stage_init(&st, root, &err), 0);
  assert_int_equal(mh_stage_write(&st, "blocker/key.pem", "x", 1, 0600, &err), -1);
  assert_non_null(strstr(err.msg, "not a directory"));
  mh_stage_cleanup(&st);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_commit_places_files_with_modes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_abort_keeps_existing_directories, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rejects_escaping_and_duplicate_paths, setup, teardown),
      cmocka_unit_test_setup_teardown(test_file_in_place_of_directory, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
