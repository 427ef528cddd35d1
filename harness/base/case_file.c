// case_file: the injective file name of a case's id (see case_file.h).
#include "base/case_file.h"

#include <stdio.h>

size_t mh_case_file_name(const char *id, char *out, size_t out_len) {
  size_t n = 0;  // the full length
  size_t o = 0;  // what fits in |out|
  for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
    char piece[4];
    unsigned ch = *p;
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
        ch == '-' || ch == '.') {
      piece[0] = (char)ch;
      piece[1] = '\0';
    } else if (ch == '/') {
      piece[0] = '_';
      piece[1] = '\0';
    } else {
      snprintf(piece, sizeof(piece), "%%%02X", ch);
    }
    size_t len = piece[1] == '\0' ? 1 : 3;
    if (o == n && o + len < out_len) {
      for (size_t i = 0; i < len; i++) {
        out[o++] = piece[i];
      }
    }
    n += len;
  }
  if (out_len > 0) {
    out[o] = '\0';
  }
  return n;
}
