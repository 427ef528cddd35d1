// fuzz target: the stack profile parser (input/profile.c) on arbitrary bytes.
#include <stddef.h>
#include <stdint.h>

#include "input/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mh_arena a;
  mh_arena_init(&a);
  struct mh_profile p;
  struct mh_err err;
  (void)mh_profile_parse(&a, "fuzz", "profiles/fuzz.json", (const char *)data, size, &p, &err);
  mh_arena_free(&a);
  return 0;
}
