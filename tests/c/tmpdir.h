// tmpdir: a fresh directory per test case, removed afterwards (shared by the cmocka tests).
#ifndef MH_TEST_TMPDIR_H
#define MH_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

static char root[256];

static int setup(void **state) {
  (void)state;
  snprintf(root, sizeof(root), "/tmp/mh-test-XXXXXX");
  return mkdtemp(root) == NULL ? -1 : 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
  return system(cmd) == 0 ? 0 : -1;
}

#endif
