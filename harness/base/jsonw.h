// jsonw: the one JSON writer of the harness (report.json, the event log, WebSocket messages).
//
// A writer emits one JSON document token by token, into its own growable buffer or straight to a
// FILE *, and places the commas itself. Strings are escaped as RFC 8259 requires: '"' and '\' get a
// backslash, control characters below 0x20 become \u00XX, every other byte (UTF-8 included) is
// copied as it is. Output is compact; mh_jsonw_newline puts a line break between values where a
// person reading the file benefits from one.
//
// Usage:
//   struct mh_jsonw w;
//   mh_jsonw_init(&w);                       // or mh_jsonw_init_file(&w, f)
//   mh_jsonw_object_begin(&w);
//   mh_jsonw_key(&w, "id");
//   mh_jsonw_string(&w, id);
//   mh_jsonw_object_end(&w);
//   if (mh_jsonw_finish(&w) == 0) { use w.buf, w.len }
//   mh_jsonw_cleanup(&w);
#ifndef MH_JSONW_H
#define MH_JSONW_H

#include <stddef.h>
#include <stdio.h>

#define MH_JSONW_MAX_DEPTH 32

struct mh_jsonw {
  // Output: |file| when set, else |buf| (malloc'd, NUL-terminated, |len| bytes; NULL until the
  // first byte). Read |buf| and |len| after mh_jsonw_finish; mh_jsonw_cleanup frees |buf|.
  FILE *file;
  char *buf;
  size_t len;
  size_t cap;
  int failed;  // out of memory, a write error, or misuse (e.g. a value where a key belongs)
  int depth;
  int newline;  // a line break is due before the next token
  // Per open container: whether a value has been written in it (the next one needs a comma),
  // and whether it is an object (a key comes before each value).
  unsigned char has_value[MH_JSONW_MAX_DEPTH + 1];
  unsigned char is_object[MH_JSONW_MAX_DEPTH + 1];
  unsigned char after_key;  // a key has been written; its value comes next
};

// mh_jsonw_init starts a writer that writes into its own growable buffer.
void mh_jsonw_init(struct mh_jsonw *w);

// mh_jsonw_init_file starts a writer that writes to |f| (not closed by the writer).
void mh_jsonw_init_file(struct mh_jsonw *w, FILE *f);

// mh_jsonw_cleanup frees the writer's buffer. The writer may be initialised again afterwards.
void mh_jsonw_cleanup(struct mh_jsonw *w);

// mh_jsonw_finish writes a pending line break and checks the document. Returns 0 if it is complete
// (every container closed) and every byte was written, -1 otherwise.
int mh_jsonw_finish(struct mh_jsonw *w);

// Containers. Inside an object, each value follows mh_jsonw_key.
void mh_jsonw_object_begin(struct mh_jsonw *w);
void mh_jsonw_object_end(struct mh_jsonw *w);
void mh_jsonw_array_begin(struct mh_jsonw *w);
void mh_jsonw_array_end(struct mh_jsonw *w);

// mh_jsonw_key writes the name of the next member of the current object.
void mh_jsonw_key(struct mh_jsonw *w, const char *key);

// Values.

// mh_jsonw_string writes |s| as a JSON string; NULL is written as "".
void mh_jsonw_string(struct mh_jsonw *w, const char *s);

// mh_jsonw_string_or_null writes |s| as a JSON string, or null if |s| is NULL.
void mh_jsonw_string_or_null(struct mh_jsonw *w, const char *s);

void mh_jsonw_int(struct mh_jsonw *w, long long v);
void mh_jsonw_uint(struct mh_jsonw *w, unsigned long long v);

// mh_jsonw_double writes |v| with |decimals| digits after the point ("%.*f"); a NaN or an
// infinity, which JSON cannot express, is written as null.
void mh_jsonw_double(struct mh_jsonw *w, double v, int decimals);

void mh_jsonw_bool(struct mh_jsonw *w, int v);
void mh_jsonw_null(struct mh_jsonw *w);

// mh_jsonw_raw writes |json|, which the caller vouches is one complete JSON value (e.g. a payload
// serialised elsewhere), as the next value.
void mh_jsonw_raw(struct mh_jsonw *w, const char *json);

// mh_jsonw_newline puts a line break before the next token (after its comma), or at the end of the
// document if none follows. JSON ignores it; people reading long arrays do not.
void mh_jsonw_newline(struct mh_jsonw *w);

#endif
