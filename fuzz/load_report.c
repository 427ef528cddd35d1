// fuzz target: the load report reader (input/load_report.c), a shard's report.json for `merge`,
// on arbitrary bytes.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "input/load_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mh_arena a;
  mh_arena_init(&a);
  struct mh_load_report r;
  memset(&r, 0, sizeof(r));
  struct mh_err err;
  (void)mh_load_report_parse(&a, "report.json", (const char *)data, size, &r, &err);
  mh_arena_free(&a);
  return 0;
}
