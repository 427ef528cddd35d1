// fuzz target: the scenario parser (input/scenario.c) on arbitrary bytes, with the fixture spec and
// every location's SemStreams configuration it names.
//
// The input is named as a scenario of the source tree's scenarios/, so "fixtures":
// "../fixtures/federation.json" loads a shipped spec (a fixed file, read per input). Fixtures are
// never generated: the fixtures directory is a fixed path that need not exist.
#include <stddef.h>
#include <stdint.h>

#include "input/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mh_arena a;
  mh_arena_init(&a);
  struct mh_scenario s;
  struct mh_err err;
  const struct mh_scenario_options opts = {.fixtures_dir = "/nonexistent/mh-fuzz-fixtures",
                                           .quiet = 1};
  (void)mh_scenario_parse(&a, MH_FUZZ_SOURCE_DIR "/scenarios/fuzz-input.json", (const char *)data,
                          size, &opts, &s, &err);
  mh_arena_free(&a);
  return 0;
}
