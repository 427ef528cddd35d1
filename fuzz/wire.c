// fuzz target: the capture reader (capture/wire.c): TCP reassembly, TLS records, the ClientHello,
// alerts and TLS 1.3 decryption with a key log, on frames built from the input.
//
// Input layout (fuzz/wire-seeds builds seeds in it):
//   byte 0        bit 0: link type (0 Ethernet, 1 Linux cooked)
//   bytes 1-2     K, big-endian: the key log's length
//   K bytes       the key log (NSS lines), copied and NUL-terminated
//   then frames   each a 2-byte big-endian length and that many bytes (the last one cut short if
//                 the input ends), at most MAX_FRAMES
// The client's port is FUZZ_CLIENT_PORT, as in the seeds.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/wire.h"

#define FUZZ_CLIENT_PORT 40000
#define MAX_FRAMES 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) {
    return 0;
  }
  struct mh_packet items[MAX_FRAMES];
  struct mh_packets p = {.linktype = (data[0] & 1) ? 113 : 1, .snaplen = 65535, .items = items};
  size_t klen = (size_t)(data[1] << 8 | data[2]);
  size_t off = 3;
  if (klen > size - off) {
    klen = size - off;
  }
  char *keylog = malloc(klen + 1);
  if (keylog == NULL) {
    return 0;
  }
  memcpy(keylog, data + off, klen);
  keylog[klen] = '\0';
  off += klen;
  while (off + 2 <= size && p.num < MAX_FRAMES) {
    size_t n = (size_t)(data[off] << 8 | data[off + 1]);
    off += 2;
    if (n > size - off) {
      n = size - off;
    }
    // Each frame in its own allocation, so that ASan sees a read past its end.
    uint8_t *f = malloc(n > 0 ? n : 1);
    if (f == NULL) {
      break;
    }
    memcpy(f, data + off, n);
    items[p.num] = (struct mh_packet){
        .ts_ns = (uint64_t)p.num, .caplen = (uint32_t)n, .origlen = (uint32_t)n, .data = f};
    p.num++;
    off += n;
  }
  struct mh_wire_view w;
  mh_wire_analyze(&p, FUZZ_CLIENT_PORT, keylog, &w);
  (void)mh_wire_first_fatal(&w, 'c');
  (void)mh_wire_first_fatal(&w, 's');
  for (size_t i = 0; i < p.num; i++) {
    free(items[i].data);
  }
  free(keylog);
  return 0;
}
