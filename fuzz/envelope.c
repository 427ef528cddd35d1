// fuzz target: the WebSocket envelope parser (input/envelope.c) on arbitrary message bytes.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "input/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mh_envelope e;
  if (mh_envelope_parse((const char *)data, size, &e) == 0) {
    free(e.payload);
  }
  return 0;
}
