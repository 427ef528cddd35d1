// fuzz target: the SemStreams configuration parser (input/semstreams.c) alone.
//
// The parser reads a location's "config" inside a scenario (it needs the scenario's spec and
// certs_dir to map certificate paths), so the input is wrapped as that one value of a fixed
// scenario whose fixture spec is the shipped fixtures/federation.json. The seeds are the "config"
// objects of the shipped scenarios (scripts/fuzz extracts them).
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "input/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char prefix[] =
    "{\"name\": \"fuzz\", \"fixtures\": \"../fixtures/federation.json\", \"locations\": "
    "{\"location-a\": {\"host\": \"location-a.semstreams.local\", \"config\": ";
static const char suffix[] = "}}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t len = sizeof(prefix) - 1 + size + sizeof(suffix) - 1;
  char *text = malloc(len);
  if (text == NULL) {
    return 0;
  }
  memcpy(text, prefix, sizeof(prefix) - 1);
  if (size > 0) {
    memcpy(text + sizeof(prefix) - 1, data, size);
  }
  memcpy(text + sizeof(prefix) - 1 + size, suffix, sizeof(suffix) - 1);
  struct mh_arena a;
  mh_arena_init(&a);
  struct mh_scenario s;
  struct mh_err err;
  const struct mh_scenario_options opts = {.fixtures_dir = "/nonexistent/mh-fuzz-fixtures",
                                           .quiet = 1};
  (void)mh_scenario_parse(&a, MH_FUZZ_SOURCE_DIR "/scenarios/fuzz-input.json", text, len, &opts, &s,
                          &err);
  mh_arena_free(&a);
  free(text);
  return 0;
}
