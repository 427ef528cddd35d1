// pcapng: a minimal pcapng writer (see pcapng.h). Blocks are written in host byte order, which the
// Section Header Block's byte-order magic declares.
#include "capture/pcapng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 0x00000001u
#define BT_EPB 0x00000006u
#define BT_DSB 0x0000000Au
#define SECRETS_TLS_KEYLOG 0x544c534bu  // "TLSK"

struct buf {
  uint8_t *data;
  size_t len, cap;
  int failed;
};

static void put(struct buf *b, const void *p, size_t n) {
  if (b->failed) {
    return;
  }
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < b->len + n) {
      cap *= 2;
    }
    uint8_t *d = realloc(b->data, cap);
    if (d == NULL) {
      b->failed = 1;
      return;
    }
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

static void u32(struct buf *b, uint32_t v) {
  put(b, &v, 4);
}
static void u16(struct buf *b, uint16_t v) {
  put(b, &v, 2);
}

static void pad4(struct buf *b, size_t n) {
  static const uint8_t zero[4] = {0};
  put(b, zero, (4 - n % 4) % 4);
}

static size_t padded(size_t n) {
  return (n + 3) & ~(size_t)3;
}

uint8_t *mh_pcapng_build(const struct mh_packets *p, const char *keylog, size_t *out_len) {
  struct buf b = {0};
  // Section Header Block, no options.
  u32(&b, BT_SHB);
  u32(&b, 28);
  u32(&b, 0x1A2B3C4Du);
  u16(&b, 1);
  u16(&b, 0);
  uint64_t unknown_len = UINT64_MAX;
  put(&b, &unknown_len, 8);
  u32(&b, 28);
  // Interface Description Block with if_tsresol = 9 (nanoseconds).
  u32(&b, BT_IDB);
  u32(&b, 32);
  u16(&b, (uint16_t)p->linktype);
  u16(&b, 0);
  u32(&b, p->snaplen);
  u16(&b, 9);  // if_tsresol
  u16(&b, 1);
  uint8_t tsresol[4] = {9, 0, 0, 0};
  put(&b, tsresol, 4);
  u16(&b, 0);  // opt_endofopt
  u16(&b, 0);
  u32(&b, 32);
  // Decryption Secrets Block, before the packets it decrypts.
  size_t klen = keylog != NULL ? strlen(keylog) : 0;
  if (klen > 0) {
    uint32_t total = (uint32_t)(20 + padded(klen));
    u32(&b, BT_DSB);
    u32(&b, total);
    u32(&b, SECRETS_TLS_KEYLOG);
    u32(&b, (uint32_t)klen);
    put(&b, keylog, klen);
    pad4(&b, klen);
    u32(&b, total);
  }
  for (size_t i = 0; i < p->num; i++) {
    const struct mh_packet *k = &p->items[i];
    uint32_t total = (uint32_t)(32 + padded(k->caplen));
    u32(&b, BT_EPB);
    u32(&b, total);
    u32(&b, 0);  // interface 0
    u32(&b, (uint32_t)(k->ts_ns >> 32));
    u32(&b, (uint32_t)k->ts_ns);
    u32(&b, k->caplen);
    u32(&b, k->origlen);
    put(&b, k->data, k->caplen);
    pad4(&b, k->caplen);
    u32(&b, total);
  }
  if (b.failed) {
    free(b.data);
    return NULL;
  }
  *out_len = b.len;
  return b.data;
}
