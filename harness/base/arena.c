// arena: bump allocation in blocks, freed all at once (see arena.h).
#include "base/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK_MIN 16384
#define ARENA_ALIGN _Alignof(max_align_t)

struct mh_arena_block {
  struct mh_arena_block *next;
  size_t cap;
  size_t used;
  _Alignas(max_align_t) unsigned char data[];
};

void mh_arena_init(struct mh_arena *a) {
  a->head = NULL;
}

void mh_arena_free(struct mh_arena *a) {
  if (a == NULL) {
    return;
  }
  struct mh_arena_block *b = a->head;
  while (b != NULL) {
    struct mh_arena_block *next = b->next;
    explicit_bzero(b->data, b->used);
    free(b);
    b = next;
  }
  a->head = NULL;
}

void *mh_arena_alloc(struct mh_arena *a, size_t len) {
  size_t need = (len + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  if (need < len) {
    return NULL;
  }
  struct mh_arena_block *b = a->head;
  if (b == NULL || b->cap - b->used < need) {
    size_t cap = need > ARENA_BLOCK_MIN ? need : ARENA_BLOCK_MIN;
    if (cap > SIZE_MAX - sizeof(*b)) {
      return NULL;
    }
    b = malloc(sizeof(*b) + cap);
    if (b == NULL) {
      return NULL;
    }
    b->cap = cap;
    b->used = 0;
    b->next = a->head;
    a->head = b;
  }
  void *p = b->data + b->used;
  b->used += need;
  memset(p, 0, len);
  return p;
}

void *mh_arena_alloc_array(struct mh_arena *a, size_t num, size_t size) {
  if (size != 0 && num > SIZE_MAX / size) {
    return NULL;
  }
  return mh_arena_alloc(a, num * size);
}

char *mh_arena_strdup(struct mh_arena *a, const char *s) {
  size_t n = strlen(s) + 1;
  char *p = mh_arena_alloc(a, n);
  if (p != NULL) {
    memcpy(p, s, n);
  }
  return p;
}

char *mh_arena_sprintf(struct mh_arena *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    return NULL;
  }
  char *p = mh_arena_alloc(a, (size_t)n + 1);
  if (p == NULL) {
    return NULL;
  }
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}
