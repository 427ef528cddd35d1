// envelope: the SemStreams WebSocket message as far as the mocks need it.
#ifndef MH_INPUT_ENVELOPE_H
#define MH_INPUT_ENVELOPE_H

#include <stddef.h>

// mh_envelope is a SemStreams WebSocket message, as far as the mocks need it.
struct mh_envelope {
  char type[32];
  char id[96];
  long long timestamp;
  char origin[64];  // payload.origin of a synthetic message, "" otherwise
  long long seq;    // payload.seq, -1 if absent
  char *payload;    // payload re-serialized (malloc'd, caller frees), NULL if absent
};

// mh_envelope_parse parses a WebSocket text message of |len| bytes into |out|. Returns 0
// (the caller frees |out->payload|), or -1 if it is not JSON or has no "type" (the real input drops
// such messages).
int mh_envelope_parse(const char *text, size_t len, struct mh_envelope *out);

#endif
