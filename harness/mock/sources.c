// sources: how many unauthenticated connections each source address holds on one output, so
// that one address cannot fill an output's connection cap (see internal.h).
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mock/internal.h"

struct mh_source {
  struct mh_source *next;
  uint8_t addr[16];  // IPv4 addresses as IPv4-mapped IPv6
  size_t count;
};

// source_key writes |peer|'s address (without the port) into |out|.
static void source_key(const struct sockaddr *peer, uint8_t out[16]) {
  memset(out, 0, 16);
  if (peer->sa_family == AF_INET6) {
    memcpy(out, &((const struct sockaddr_in6 *)peer)->sin6_addr, 16);
  } else if (peer->sa_family == AF_INET) {
    out[10] = 0xff;
    out[11] = 0xff;
    memcpy(out + 12, &((const struct sockaddr_in *)peer)->sin_addr, 4);
  }
}

// source_bucket hashes |addr| (FNV-1a) into a bucket index.
static size_t source_bucket(const uint8_t addr[16]) {
  uint32_t h = 2166136261u;
  for (int i = 0; i < 16; i++) {
    h = (h ^ addr[i]) * 16777619u;
  }
  return h % SOURCE_BUCKETS;
}

struct mh_source *mh_sources_add(struct mh_sources *s, const struct sockaddr *peer, size_t max) {
  uint8_t addr[16];
  source_key(peer, addr);
  size_t b = source_bucket(addr);
  struct mh_source *src = s->buckets[b];
  while (src != NULL && memcmp(src->addr, addr, 16) != 0) {
    src = src->next;
  }
  if (src == NULL) {
    src = calloc(1, sizeof(*src));
    if (src == NULL) {
      return NULL;
    }
    memcpy(src->addr, addr, 16);
    src->next = s->buckets[b];
    s->buckets[b] = src;
  }
  if (src->count >= max) {
    return NULL;  // count >= max >= 1: the entry is in use and stays
  }
  src->count++;
  return src;
}

void mh_sources_release(struct mh_sources *s, struct mh_source *src) {
  if (src == NULL || --src->count > 0) {
    return;
  }
  struct mh_source **p = &s->buckets[source_bucket(src->addr)];
  while (*p != src) {
    p = &(*p)->next;
  }
  *p = src->next;
  free(src);
}

void mh_sources_clear(struct mh_sources *s) {
  for (size_t b = 0; b < SOURCE_BUCKETS; b++) {
    while (s->buckets[b] != NULL) {
      struct mh_source *src = s->buckets[b];
      s->buckets[b] = src->next;
      free(src);
    }
  }
}
