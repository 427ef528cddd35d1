// jsonw: the JSON writer (see jsonw.h).
//
// Written by hand rather than with cJSON: the harness writes JSON on the mocks' threads per event
// and builds reports of thousands of cases, and a token writer needs no tree, no allocation per
// value and no parser's dependency outside harness/input/. Escaping is the whole of the difficulty,
// and it is in one function below.
#include "base/jsonw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/printable.h"

void mh_jsonw_init(struct mh_jsonw *w) {
  memset(w, 0, sizeof(*w));
}

void mh_jsonw_init_file(struct mh_jsonw *w, FILE *f) {
  memset(w, 0, sizeof(*w));
  w->file = f;
}

void mh_jsonw_cleanup(struct mh_jsonw *w) {
  free(w->buf);
  memset(w, 0, sizeof(*w));
}

// out appends |n| bytes; after a failure nothing more is written.
static void out(struct mh_jsonw *w, const char *s, size_t n) {
  if (w->failed || n == 0) {
    return;
  }
  if (w->file != NULL) {
    if (fwrite(s, 1, n, w->file) != n) {
      w->failed = 1;
    }
    return;
  }
  if (w->len + n + 1 > w->cap) {
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n + 1) {
      cap *= 2;
    }
    char *buf = realloc(w->buf, cap);
    if (buf == NULL) {
      w->failed = 1;
      return;
    }
    w->buf = buf;
    w->cap = cap;
  }
  memcpy(w->buf + w->len, s, n);
  w->len += n;
  w->buf[w->len] = '\0';
}

static void out_str(struct mh_jsonw *w, const char *s) {
  out(w, s, strlen(s));
}

static void flush_newline(struct mh_jsonw *w) {
  if (w->newline) {
    w->newline = 0;
    out(w, "\n", 1);
  }
}

// out_escaped writes |s| as a quoted JSON string: runs of bytes that need no escape are copied
// whole; '"', '\' and control characters (C0, and C1 as U+0080..U+009F) are escaped; well-formed
// UTF-8 passes through. A byte that is not part of well-formed UTF-8 (a peer's HTTP reason or
// close reason can hold anything) is written as the text "\xNN", as the Markdown and HTML
// reports show it (base/printable.h): JSON must be UTF-8, and a report that a CI's JSON reader
// rejects tells nobody anything.
static void out_escaped(struct mh_jsonw *w, const char *s) {
  out(w, "\"", 1);
  const char *run = s;
  for (const char *p = s; *p != '\0';) {
    unsigned char ch = (unsigned char)*p;
    size_t n = ch >= 0x80 ? mh_printable_len(p) : 0;
    if (n > 0 || (ch != '"' && ch != '\\' && ch >= 0x20 && ch < 0x80)) {
      p += n > 0 ? n : 1;
      continue;
    }
    out(w, run, (size_t)(p - run));
    char esc[8];
    size_t used = 1;
    if (ch == '"' || ch == '\\') {
      esc[0] = '\\';
      esc[1] = (char)ch;
      out(w, esc, 2);
    } else if (ch < 0x80) {
      snprintf(esc, sizeof(esc), "\\u%04x", ch);
      out(w, esc, 6);
    } else if (ch == 0xc2 && (unsigned char)p[1] >= 0x80 && (unsigned char)p[1] <= 0x9f) {
      snprintf(esc, sizeof(esc), "\\u%04x", (unsigned char)p[1]);  // a C1 control
      out(w, esc, 6);
      used = 2;
    } else {
      snprintf(esc, sizeof(esc), "\\\\x%02x", ch);
      out(w, esc, 5);
    }
    p += used;
    run = p;
  }
  out_str(w, run);
  out(w, "\"", 1);
}

// before_value places the comma and line break before a value and checks that a value may come
// here (after a key in an object, anywhere in an array, once at the top). Returns 0 or -1.
static int before_value(struct mh_jsonw *w) {
  if (w->failed) {
    return -1;
  }
  int d = w->depth;
  if (w->is_object[d] ? !w->after_key : (d == 0 && w->has_value[0])) {
    w->failed = 1;
    return -1;
  }
  if (!w->after_key && w->has_value[d]) {
    out(w, ",", 1);
  }
  if (!w->after_key) {
    flush_newline(w);
  }
  w->after_key = 0;
  w->has_value[d] = 1;
  return 0;
}

static void begin(struct mh_jsonw *w, int is_object) {
  if (before_value(w) != 0) {
    return;
  }
  if (w->depth == MH_JSONW_MAX_DEPTH) {
    w->failed = 1;
    return;
  }
  out(w, is_object ? "{" : "[", 1);
  w->depth++;
  w->has_value[w->depth] = 0;
  w->is_object[w->depth] = (unsigned char)is_object;
}

static void end(struct mh_jsonw *w, int is_object) {
  if (w->failed) {
    return;
  }
  if (w->depth == 0 || w->is_object[w->depth] != is_object || w->after_key) {
    w->failed = 1;
    return;
  }
  flush_newline(w);
  out(w, is_object ? "}" : "]", 1);
  w->depth--;
}

void mh_jsonw_object_begin(struct mh_jsonw *w) {
  begin(w, 1);
}

void mh_jsonw_object_end(struct mh_jsonw *w) {
  end(w, 1);
}

void mh_jsonw_array_begin(struct mh_jsonw *w) {
  begin(w, 0);
}

void mh_jsonw_array_end(struct mh_jsonw *w) {
  end(w, 0);
}

void mh_jsonw_key(struct mh_jsonw *w, const char *key) {
  if (w->failed) {
    return;
  }
  if (w->depth == 0 || !w->is_object[w->depth] || w->after_key) {
    w->failed = 1;
    return;
  }
  if (w->has_value[w->depth]) {
    out(w, ",", 1);
  }
  flush_newline(w);
  out_escaped(w, key);
  out(w, ":", 1);
  w->after_key = 1;
}

void mh_jsonw_string(struct mh_jsonw *w, const char *s) {
  if (before_value(w) == 0) {
    out_escaped(w, s != NULL ? s : "");
  }
}

void mh_jsonw_string_or_null(struct mh_jsonw *w, const char *s) {
  if (s == NULL) {
    mh_jsonw_null(w);
  } else {
    mh_jsonw_string(w, s);
  }
}

void mh_jsonw_int(struct mh_jsonw *w, long long v) {
  char num[32];
  int n = snprintf(num, sizeof(num), "%lld", v);
  if (before_value(w) == 0) {
    out(w, num, (size_t)n);
  }
}

void mh_jsonw_uint(struct mh_jsonw *w, unsigned long long v) {
  char num[32];
  int n = snprintf(num, sizeof(num), "%llu", v);
  if (before_value(w) == 0) {
    out(w, num, (size_t)n);
  }
}

void mh_jsonw_double(struct mh_jsonw *w, double v, int decimals) {
  if (!isfinite(v)) {
    mh_jsonw_null(w);
    return;
  }
  char num[352];  // DBL_MAX in %f is 309 digits, plus the decimals asked for (at most 17 used)
  int n = snprintf(num, sizeof(num), "%.*f", decimals < 0 ? 0 : decimals > 17 ? 17 : decimals, v);
  if (before_value(w) == 0) {
    out(w, num, n > 0 && (size_t)n < sizeof(num) ? (size_t)n : 0);
  }
}

void mh_jsonw_bool(struct mh_jsonw *w, int v) {
  if (before_value(w) == 0) {
    out_str(w, v ? "true" : "false");
  }
}

void mh_jsonw_null(struct mh_jsonw *w) {
  if (before_value(w) == 0) {
    out(w, "null", 4);
  }
}

void mh_jsonw_raw(struct mh_jsonw *w, const char *json) {
  if (before_value(w) == 0) {
    out_str(w, json);
  }
}

void mh_jsonw_newline(struct mh_jsonw *w) {
  w->newline = 1;
}

int mh_jsonw_finish(struct mh_jsonw *w) {
  flush_newline(w);
  if (w->file != NULL && !w->failed && ferror(w->file)) {
    w->failed = 1;
  }
  return w->failed || w->depth != 0 || w->after_key || !w->has_value[0] ? -1 : 0;
}
