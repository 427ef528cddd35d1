// fuzz target: the fixture spec parser (input/pki_spec.c) on arbitrary bytes.
//
// The input is the spec's text, not NUL-terminated (the parser takes a length). It is named as a
// file of the source tree's fixtures/ so that imported files ("cert_file" of an operator's CA)
// resolve against the shipped directory; nothing is written. Everything lives in one arena, freed
// per input, so LeakSanitizer sees any allocation the parser keeps outside it.
#include <stddef.h>
#include <stdint.h>

#include "input/pki_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mh_arena a;
  mh_arena_init(&a);
  struct mh_pki_spec spec;
  struct mh_err err;
  (void)mh_pki_spec_parse(&a, MH_FUZZ_SOURCE_DIR "/fixtures/fuzz-input.json", (const char *)data,
                          size, &spec, &err);
  mh_arena_free(&a);
  return 0;
}
