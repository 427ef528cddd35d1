// json: what every parser of harness/input/ shares: the one JSON file reader, the parse step that
// turns a syntax error into "line L, column C", and the JSON-path context that every message of a
// parser is written through ("<file>: $.json.path: what is wrong (how to fix it)").
//
// This header includes cJSON: only files of harness/input/ may include it (scripts/check-layers).
// The public headers of input/ never do, so the rest of the harness sees plain data only.
#ifndef MH_INPUT_JSON_H
#define MH_INPUT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/arena.h"
#include "base/err.h"

// MH_JSON_MAX_BYTES is the largest input document the harness reads. Every input is a hand-written
// configuration or a report of a few thousand cases; a larger file is the wrong file, so it is
// refused whole, never truncated.
#define MH_JSON_MAX_BYTES (16 * 1024 * 1024)

// mh_json_read_file reads the whole file at |path| into a NUL-terminated buffer, set in |*out|
// with its length (without the NUL) in |*out_len|; the caller frees |*out|. |what| names the
// document in messages ("spec", "scenario", "profile", ...). A missing or unreadable file, a
// directory, or a file over MH_JSON_MAX_BYTES is refused with a one-line message naming the file
// and the fix. Returns 0, or -1 with |err| set and |*out| NULL.
int mh_json_read_file(const char *path, const char *what, char **out, size_t *out_len,
                      struct mh_err *err);

// mh_json_ctx is a parser's position: the document, the JSON path of the value being parsed, the
// arena results are allocated from, and where errors go.
struct mh_json_ctx {
  struct mh_arena *a;
  const char *file;
  char path[256];
  size_t path_len;
  struct mh_err *err;
  // go_object, when set, says whether the object at JSON path |path| is read as Go's
  // encoding/json reads it (a SemStreams configuration): a duplicate key there keeps its last
  // value, with a warning on stderr (none if |quiet|), where every other object refuses it.
  int (*go_object)(const char *path);
  int quiet;
};

// mh_json_ctx_init starts |c| at the root ("$") of |file|.
void mh_json_ctx_init(struct mh_json_ctx *c, struct mh_arena *a, const char *file,
                      struct mh_err *err);

// mh_json_parse parses |len| bytes of |text| into a tree the caller frees with cJSON_Delete.
// Returns it, or NULL with the error "malformed JSON at line L, column C" (or the nesting limit,
// or a duplicate key with its JSON path: see |c->go_object|) set through |c|.
cJSON *mh_json_parse(struct mh_json_ctx *c, const char *text, size_t len);

// mh_json_fail sets the error "<file>: <path>: <message>" and returns -1.
int mh_json_fail(struct mh_json_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// mh_json_fail_at is mh_json_fail at |base| (a JSON path kept from earlier) plus ".|key| (|key|
// may be NULL) instead of the current path. Returns -1.
int mh_json_fail_at(struct mh_json_ctx *c, const char *base, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

// mh_json_push_key and mh_json_push_index extend the path by ".key" or "[i]" and return the old
// length, which mh_json_pop restores.
size_t mh_json_push_key(struct mh_json_ctx *c, const char *key);
size_t mh_json_push_index(struct mh_json_ctx *c, size_t i);
void mh_json_pop(struct mh_json_ctx *c, size_t old);

// mh_json_type_name returns "a string", "a number", ... for messages.
const char *mh_json_type_name(const cJSON *v);

// Typed getters: each checks the type of |v|, reports at the current path and returns 0 or -1.
// Strings are copied into the arena.

// mh_json_get_string reads a non-empty string.
int mh_json_get_string(struct mh_json_ctx *c, const cJSON *v, const char **out);

// mh_json_get_bool reads true or false.
int mh_json_get_bool(struct mh_json_ctx *c, const cJSON *v, int *out);

// mh_json_get_int reads a whole number from |lo| to |hi|; |*out| is 0 on failure.
int mh_json_get_int(struct mh_json_ctx *c, const cJSON *v, int64_t lo, int64_t hi, int64_t *out);

// mh_json_get_string_array reads an array of non-empty strings (the array may be empty).
int mh_json_get_string_array(struct mh_json_ctx *c, const cJSON *v, const char ***out,
                             size_t *out_num);

// mh_json_get_keyword_mask reads an array of keywords of |names| into a mask (bit k: names[k]).
int mh_json_get_keyword_mask(struct mh_json_ctx *c, const cJSON *v, const char *const *names,
                             size_t num, unsigned *out);

// mh_json_join_names writes |names| separated by ", " into |out| (truncated to |out_len|), for
// messages that list the valid values.
void mh_json_join_names(char *out, size_t out_len, const char *const *names, size_t num);

// mh_json_closest returns the name of |names| nearest to |key| (edit distance, case ignored) when
// it is near enough to be a typo of it (at most 2 edits, or a third of the key), else NULL.
const char *mh_json_closest(const char *key, const char *const *names, size_t num);

// mh_json_check_keys rejects the first key of |obj| not in |keys|, listing them and the closest
// one ("did you mean ...?"); |what| names the
// object in the message ("a location"). Returns 0 or -1.
int mh_json_check_keys(struct mh_json_ctx *c, const cJSON *obj, const char *const *keys, size_t num,
                       const char *what);

// mh_json_check_name accepts a name made of letters, digits, '-', '_' and '.' (it becomes part of
// file names). Returns 0 or -1.
int mh_json_check_name(struct mh_json_ctx *c, const char *name);

#endif
