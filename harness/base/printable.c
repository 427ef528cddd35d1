// printable: text from input shown on a terminal or in a report, escaped byte by byte where it
// could act instead of being read (see printable.h).
#include "base/printable.h"

#include <stdio.h>
#include <string.h>

size_t mh_printable_len(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  if (p[0] >= 0x20 && p[0] < 0x7f) {
    return 1;
  }
  size_t n;
  unsigned cp;
  if (p[0] >= 0xc2 && p[0] <= 0xdf) {
    n = 2;
    cp = p[0] & 0x1fu;
  } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
    n = 3;
    cp = p[0] & 0x0fu;
  } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
    n = 4;
    cp = p[0] & 0x07u;
  } else {
    return 0;  // C0, DEL, a continuation byte, or a byte UTF-8 never uses
  }
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80) {
      return 0;  // cut short (this also stops at the NUL)
    }
    cp = (cp << 6) | (p[i] & 0x3fu);
  }
  // Overlong forms, surrogates, beyond U+10FFFF, and the C1 controls are not printable.
  static const unsigned min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_cp[n] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
      (cp >= 0x80 && cp <= 0x9f)) {
    return 0;
  }
  return n;
}

void mh_printable_fputs(FILE *f, const char *s) {
  for (const char *p = s ? s : ""; *p;) {
    size_t n = mh_printable_len(p);
    if (n == 0) {
      fprintf(f, "\\x%02x", (unsigned char)*p);
      p++;
    } else {
      fwrite(p, 1, n, f);
      p += n;
    }
  }
}

char *mh_printable_copy(char *out, size_t out_len, const char *s) {
  size_t o = 0;
  for (const char *p = s ? s : ""; *p;) {
    size_t n = mh_printable_len(p);
    size_t w = n ? n : 4;
    if (o + w >= out_len) {
      break;
    }
    if (n == 0) {
      snprintf(out + o, out_len - o, "\\x%02x", (unsigned char)*p);
      p++;
    } else {
      memcpy(out + o, p, n);
      p += n;
    }
    o += w;
  }
  out[o] = '\0';
  return out;
}

const char *mh_printable_next(struct mh_printable_ring *g, const char *s) {
  char *b = g->buf[g->next++ % 8];
  return mh_printable_copy(b, sizeof(g->buf[0]), s);
}
