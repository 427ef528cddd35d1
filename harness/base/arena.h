// arena: a bump allocator for data that lives and dies together (a parsed spec or scenario).
//
// Everything allocated from an arena is freed at once by mh_arena_free; there is no per-object
// free. Allocation failure is reported by returning NULL.
#ifndef MH_ARENA_H
#define MH_ARENA_H

#include <stddef.h>

struct mh_arena_block;

struct mh_arena {
  struct mh_arena_block *head;
};

// mh_arena_init prepares a caller-owned arena; it allocates nothing until first use.
void mh_arena_init(struct mh_arena *a);

// mh_arena_free releases every allocation of |a| (wiping it first, since specs may name key paths
// and parsed documents may hold secrets) and leaves |a| empty and reusable. NULL is accepted.
void mh_arena_free(struct mh_arena *a);

// mh_arena_alloc returns |len| zeroed bytes aligned for any type, or NULL.
void *mh_arena_alloc(struct mh_arena *a, size_t len);

// mh_arena_alloc_array is mh_arena_alloc(num * size) with an overflow check.
void *mh_arena_alloc_array(struct mh_arena *a, size_t num, size_t size);

// mh_arena_strdup copies the NUL-terminated |s| into |a|, or returns NULL.
char *mh_arena_strdup(struct mh_arena *a, const char *s);

// mh_arena_sprintf formats into a new string owned by |a|, or returns NULL.
char *mh_arena_sprintf(struct mh_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
