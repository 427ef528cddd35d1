// fuzz target: the baseline parser (input/baseline.c), an earlier report.json, on arbitrary bytes.
#include <stddef.h>
#include <stdint.h>

#include "input/baseline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mh_arena a;
  mh_arena_init(&a);
  struct mh_baseline_entry *entries = NULL;
  size_t num = 0;
  struct mh_err err;
  (void)mh_baseline_parse(&a, "report.json", (const char *)data, size, &entries, &num, &err);
  mh_arena_free(&a);
  return 0;
}
