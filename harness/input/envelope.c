// envelope: the parser of the runtime SemStreams WebSocket message ({"type", "id", "timestamp",
// "payload"}) the mocks receive. Unlike the other parsers it reports no errors: the real input
// drops a message that is not JSON or has no "type", and so do the mocks.
#include "input/envelope.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

// whole_number returns |v| as a long long, or |dflt| if it is outside that type's range: the
// conversion of such a double is undefined, and a peer chooses the number ("seq": 1e42).
static long long whole_number(double v, long long dflt) {
  return v >= -9.2e18 && v <= 9.2e18 ? (long long)v : dflt;
}

int mh_envelope_parse(const char *text, size_t len, struct mh_envelope *out) {
  memset(out, 0, sizeof(*out));
  out->seq = -1;
  cJSON *root = cJSON_ParseWithLength(text, len);
  const cJSON *type = root ? cJSON_GetObjectItemCaseSensitive(root, "type") : NULL;
  if (!cJSON_IsString(type)) {
    cJSON_Delete(root);
    return -1;
  }
  snprintf(out->type, sizeof(out->type), "%s", type->valuestring);
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
  if (cJSON_IsString(id)) {
    snprintf(out->id, sizeof(out->id), "%s", id->valuestring);
  }
  const cJSON *ts = cJSON_GetObjectItemCaseSensitive(root, "timestamp");
  if (cJSON_IsNumber(ts)) {
    out->timestamp = whole_number(ts->valuedouble, 0);
  }
  const cJSON *payload = cJSON_GetObjectItemCaseSensitive(root, "payload");
  if (payload != NULL) {
    const cJSON *origin = cJSON_GetObjectItemCaseSensitive(payload, "origin");
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(payload, "seq");
    if (cJSON_IsString(origin)) {
      snprintf(out->origin, sizeof(out->origin), "%s", origin->valuestring);
    }
    if (cJSON_IsNumber(seq)) {
      out->seq = whole_number(seq->valuedouble, -1);
    }
    out->payload = cJSON_PrintUnformatted(payload);
  }
  cJSON_Delete(root);
  return 0;
}
