// printable: text from input (case names, a peer's words, file names) shown on a terminal or in a
// report, with every byte that could act instead of being read replaced by a visible "\xNN".
//
// A byte is shown as it is when it belongs to a printable UTF-8 character: not a C0 control, not
// DEL, not a C1 control (U+0080..U+009F, which some terminals obey as ESC sequences), and part of a
// well-formed UTF-8 sequence (a stray byte could complete a sequence with what follows it, and XML
// readers reject it).
#ifndef MH_PRINTABLE_H
#define MH_PRINTABLE_H

#include <stddef.h>
#include <stdio.h>

// mh_printable_len returns the length in bytes (1 to 4) of the printable character that starts at
// |s|, or 0 if the byte at |s| must be shown escaped (or is the terminating NUL).
size_t mh_printable_len(const char *s);

// mh_printable_fputs writes |s| (NULL: nothing) to |f|, every byte outside a printable character
// as "\xNN" (so a newline is "\x0a" and the text stays on one line).
void mh_printable_fputs(FILE *f, const char *s);

// mh_printable_copy writes |s| into |out| (|out_len| > 0 bytes, always terminated) as
// mh_printable_fputs would, cut at a character boundary when it does not fit. Returns |out|.
char *mh_printable_copy(char *out, size_t out_len, const char *s);

// mh_printable_ring holds the printable copies of the strings one printf shows, so that a caller
// can write printf("%s %s", mh_printable_next(&g, a), mh_printable_next(&g, b)). Caller-owned,
// zero-initialised; no cleanup.
struct mh_printable_ring {
  char buf[8][1024];
  unsigned next;
};

// mh_printable_next returns |s| made printable (mh_printable_copy, cut at 1023 bytes) in the next
// buffer of |g|, valid until 8 more calls on |g|.
const char *mh_printable_next(struct mh_printable_ring *g, const char *s);

#endif
