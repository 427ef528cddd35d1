// fuzz target: the mocks' HTTP head parser (mock/http.c) fed in chunks, as sockets deliver it.
//
// Input: byte 0 chooses request or response (bit 0) and the chunk size (bits 1-7, 1 to 128 bytes);
// the rest is the byte stream. Chunks are fed until the parser fails, the head completes or the
// stream ends; then the head's lookups run on what was parsed.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mock/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) {
    return 0;
  }
  int is_request = !(data[0] & 1);
  size_t chunk = (size_t)(data[0] >> 1) + 1;
  const char *p = (const char *)data + 1;
  size_t left = size - 1;
  struct mh_http_parser *hp = mh_http_parser_new(is_request);
  if (hp == NULL) {
    return 0;
  }
  static struct mh_http_head head;  // 35 KB: off the stack
  memset(&head, 0, sizeof(head));
  while (left > 0 && !head.complete) {
    size_t n = left < chunk ? left : chunk;
    long used = mh_http_parse(hp, p, n, &head);
    if (used < 0) {
      break;
    }
    if ((size_t)used > n) {
      __builtin_trap();  // the contract: never more consumed than was given
    }
    p += n;
    left -= n;
  }
  (void)mh_http_header(&head, "Sec-WebSocket-Key");
  (void)mh_http_has_token(&head, "Connection", "upgrade");
  (void)mh_http_status_text(head.status);
  mh_http_parser_free(hp);
  return 0;
}
