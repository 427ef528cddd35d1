// json: the shared reader, syntax errors and JSON-path context of the parsers (see json.h).
#include "input/json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/infile.h"
#include "input/scenario.h"

#define MAX_MIB (MH_JSON_MAX_BYTES / (1024 * 1024))

// read_all reads |f| to its end into |*out|, refusing more than MH_JSON_MAX_BYTES. Returns 0, 1 if
// the file is too large, or -1 on a read error or out of memory (errno set).
static int read_all(FILE *f, size_t size_hint, char **out, size_t *out_len) {
  size_t cap = size_hint > 0 && size_hint <= MH_JSON_MAX_BYTES ? size_hint + 1 : 4096;
  size_t len = 0;
  char *buf = malloc(cap + 1);
  int ret = -1;
  if (buf == NULL) {
    goto out;
  }
  for (;;) {
    if (len == cap) {
      if (cap > MH_JSON_MAX_BYTES) {
        ret = 1;  // one byte past the limit has been read: refuse, never truncate
        goto out;
      }
      size_t ncap = cap * 2 > MH_JSON_MAX_BYTES + 1 ? MH_JSON_MAX_BYTES + 1 : cap * 2;
      char *nbuf = realloc(buf, ncap + 1);
      if (nbuf == NULL) {
        goto out;
      }
      buf = nbuf;
      cap = ncap;
    }
    size_t n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0) {
      break;
    }
  }
  if (ferror(f)) {
    goto out;
  }
  if (len > MH_JSON_MAX_BYTES) {
    ret = 1;
    goto out;
  }
  buf[len] = '\0';
  *out = buf;
  *out_len = len;
  buf = NULL;
  ret = 0;
out:
  free(buf);
  return ret;
}

int mh_json_read_file(const char *path, const char *what, char **out, size_t *out_len,
                      struct mh_err *err) {
  *out = NULL;
  *out_len = 0;
  // Opened without blocking: a FIFO without a writer would block open() (and every signal
  // with it) forever. Only a regular file is read.
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    return mh_infile_open_failed(path, what, errno, err);
  }
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    int e = errno;
    close(fd);
    return mh_infile_open_failed(path, what, e, err);
  }
  if (!S_ISREG(sb.st_mode)) {
    close(fd);
    return mh_err_set(err, "%s: %s, not a %s file (give the path of the %s file itself)", path,
                      S_ISDIR(sb.st_mode)    ? "is a directory"
                      : S_ISFIFO(sb.st_mode) ? "is a FIFO (a pipe), which may never end"
                      : S_ISSOCK(sb.st_mode) ? "is a socket"
                                             : "is a device",
                      what, what);
  }
  FILE *f = fdopen(fd, "rb");
  if (f == NULL) {
    int e = errno;
    close(fd);
    return mh_infile_open_failed(path, what, e, err);
  }
  int ret;
  int r = sb.st_size > MH_JSON_MAX_BYTES ? 1 : read_all(f, (size_t)sb.st_size, out, out_len);
  if (r == 1) {
    ret = mh_err_set(err,
                     "%s: larger than %d MiB, the limit for a %s; refused, not read in part "
                     "(is it the right file?)",
                     path, MAX_MIB, what);
  } else if (r != 0) {
    ret =
        mh_err_errno(err, "%s: cannot read the %s (check that it is a readable file)", path, what);
  } else if (*out_len == 0) {
    free(*out);
    *out = NULL;
    ret = mh_err_set(err, "%s: the %s is empty (was it written completely? give a JSON %s)", path,
                     what, what);
  } else {
    ret = 0;
  }
  fclose(f);
  return ret;
}

void mh_json_ctx_init(struct mh_json_ctx *c, struct mh_arena *a, const char *file,
                      struct mh_err *err) {
  memset(c, 0, sizeof(*c));
  c->a = a;
  c->file = file;
  c->path[0] = '$';
  c->path_len = 1;
  c->err = err;
}

// dedupe refuses a key given twice in an object below |node| (at the current path of |c|), or, in
// an object c->go_object says is Go's, removes every earlier value so that the last one is the
// one read, warning once per key. Returns 0 or -1. Go matches keys case-insensitively: so do its
// objects here. Recursion is bounded by cJSON's nesting limit.
static int dedupe(struct mh_json_ctx *c, cJSON *node, int go) {
  if (cJSON_IsObject(node)) {
    go = go || (c->go_object != NULL && c->go_object(c->path));
    cJSON *it = node->child;
    while (it != NULL) {
      cJSON *next = it->next, *later = next;
      while (later != NULL && (go ? strcasecmp(later->string, it->string)
                                  : strcmp(later->string, it->string)) != 0) {
        later = later->next;
      }
      if (later != NULL && !go) {
        mh_json_push_key(c, it->string);
        return mh_json_fail(c, "duplicate key (given twice in this object; give it once)");
      }
      if (later != NULL) {
        size_t o = mh_json_push_key(c, it->string);
        if (!c->quiet) {
          fprintf(stderr,
                  "%s: %s: warning: duplicate key, the last value is used (as SemStreams, with "
                  "Go's encoding/json, uses it); give it once\n",
                  c->file, c->path);
        }
        mh_json_pop(c, o);
        cJSON_Delete(cJSON_DetachItemViaPointer(node, it));
      } else {
        size_t o = mh_json_push_key(c, it->string);
        if (dedupe(c, it, go) != 0) {
          return -1;
        }
        mh_json_pop(c, o);
      }
      it = next;
    }
  } else if (cJSON_IsArray(node)) {
    size_t i = 0;
    for (cJSON *it = node->child; it != NULL; it = it->next, i++) {
      size_t o = mh_json_push_index(c, i);
      if (dedupe(c, it, go) != 0) {
        return -1;
      }
      mh_json_pop(c, o);
    }
  }
  return 0;
}

// too_deep says whether |text| nests arrays and objects deeper than cJSON's limit before |off|
// (strings skipped): then that, not a typo, is why it stopped.
static int too_deep(const char *text, size_t off) {
  size_t depth = 0, in_string = 0;
  for (size_t i = 0; i < off; i++) {
    char ch = text[i];
    if (in_string) {
      i += ch == '\\';
      in_string = ch != '"';
    } else if (ch == '"') {
      in_string = 1;
    } else if (ch == '[' || ch == '{') {
      if (++depth > CJSON_NESTING_LIMIT) {
        return 1;
      }
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      depth--;
    }
  }
  return 0;
}

// nul_escape finds a \u0000 escape in |text| (|len| bytes) and returns its offset, or -1. cJSON
// decodes it into a NUL that ends the C string there: a name or path would be cut at it silently.
static long nul_escape(const char *text, size_t len) {
  for (size_t i = 0; i + 6 <= len; i++) {
    if (text[i] == '\\') {
      if (text[i + 1] == 'u' && strncmp(text + i + 2, "0000", 4) == 0) {
        return (long)i;
      }
      i++;  // an escaped character, a backslash included
    }
  }
  return -1;
}

// line_col writes the line and column of offset |off| of |text|.
static void line_col(const char *text, size_t off, size_t *line, size_t *col) {
  *line = 1;
  *col = 1;
  for (size_t i = 0; i < off; i++) {
    if (text[i] == '\n') {
      (*line)++;
      *col = 1;
    } else {
      (*col)++;
    }
  }
}

cJSON *mh_json_parse(struct mh_json_ctx *c, const char *text, size_t len) {
  long nul = nul_escape(text, len);
  if (nul >= 0) {
    size_t line, col;
    line_col(text, (size_t)nul, &line, &col);
    mh_json_fail(c,
                 "\\u0000 (a NUL character) at line %zu, column %zu: no name, path or value "
                 "of this file may hold one (remove it)",
                 line, col);
    return NULL;
  }
  const char *at = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, len, &at, 0);
  if (root != NULL) {
    if (dedupe(c, root, 0) != 0) {
      cJSON_Delete(root);
      return NULL;
    }
    return root;
  }
  if (at == NULL) {
    at = cJSON_GetErrorPtr();
  }
  // Where cJSON stopped, as a line and column a person can find in an editor.
  size_t off = (at != NULL && at >= text && at <= text + len) ? (size_t)(at - text) : 0;
  size_t line, col;
  line_col(text, off, &line, &col);
  if (too_deep(text, off + 1 < len ? off + 1 : len)) {
    mh_json_fail(c,
                 "JSON nested deeper than %d levels at line %zu, column %zu: over the parser's "
                 "limit (no configuration nests so deep: is it the right file?)",
                 CJSON_NESTING_LIMIT, line, col);
    return NULL;
  }
  mh_json_fail(c,
               "malformed JSON at line %zu, column %zu (check for a missing comma, quote or "
               "brace there)",
               line, col);
  return NULL;
}

int mh_json_fail(struct mh_json_ctx *c, const char *fmt, ...) {
  char msg[MH_ERR_LEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return mh_err_set(c->err, "%s: %s: %s", c->file, c->path, msg);
}

int mh_json_fail_at(struct mh_json_ctx *c, const char *base, const char *key, const char *fmt,
                    ...) {
  char msg[MH_ERR_LEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (key != NULL) {
    return mh_err_set(c->err, "%s: %s.%s: %s", c->file, base, key, msg);
  }
  return mh_err_set(c->err, "%s: %s: %s", c->file, base, msg);
}

size_t mh_json_push_key(struct mh_json_ctx *c, const char *key) {
  size_t old = c->path_len;
  int n = snprintf(c->path + old, sizeof(c->path) - old, ".%s", key);
  if (n > 0) {
    c->path_len = old + (size_t)n < sizeof(c->path) ? old + (size_t)n : sizeof(c->path) - 1;
  }
  return old;
}

size_t mh_json_push_index(struct mh_json_ctx *c, size_t i) {
  size_t old = c->path_len;
  int n = snprintf(c->path + old, sizeof(c->path) - old, "[%zu]", i);
  if (n > 0) {
    c->path_len = old + (size_t)n < sizeof(c->path) ? old + (size_t)n : sizeof(c->path) - 1;
  }
  return old;
}

void mh_json_pop(struct mh_json_ctx *c, size_t old) {
  c->path_len = old;
  c->path[old] = '\0';
}

const char *mh_json_type_name(const cJSON *v) {
  if (cJSON_IsString(v)) {
    return "a string";
  }
  if (cJSON_IsNumber(v)) {
    return "a number";
  }
  if (cJSON_IsBool(v)) {
    return "a boolean";
  }
  if (cJSON_IsNull(v)) {
    return "null";
  }
  if (cJSON_IsArray(v)) {
    return "an array";
  }
  return "an object";
}

int mh_json_get_string(struct mh_json_ctx *c, const cJSON *v, const char **out) {
  if (!cJSON_IsString(v) || v->valuestring == NULL) {
    return mh_json_fail(c, "expected a string, found %s", mh_json_type_name(v));
  }
  if (v->valuestring[0] == '\0') {
    return mh_json_fail(c, "must not be empty");
  }
  *out = mh_arena_strdup(c->a, v->valuestring);
  return *out != NULL ? 0 : mh_json_fail(c, "out of memory");
}

int mh_json_get_bool(struct mh_json_ctx *c, const cJSON *v, int *out) {
  if (!cJSON_IsBool(v)) {
    return mh_json_fail(c, "expected true or false, found %s", mh_json_type_name(v));
  }
  *out = cJSON_IsTrue(v);
  return 0;
}

int mh_json_get_int(struct mh_json_ctx *c, const cJSON *v, int64_t lo, int64_t hi, int64_t *out) {
  // Defined on every path: the optimiser cannot see that mh_json_fail() always returns -1.
  *out = 0;
  if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble)) {
    return mh_json_fail(c, "expected a whole number from %lld to %lld, found %s", (long long)lo,
                        (long long)hi, cJSON_IsNumber(v) ? "a fraction" : mh_json_type_name(v));
  }
  if (v->valuedouble < (double)lo || v->valuedouble > (double)hi) {
    return mh_json_fail(c, "%.15g is out of range (use %lld to %lld)", v->valuedouble,
                        (long long)lo, (long long)hi);
  }
  *out = (int64_t)v->valuedouble;
  return 0;
}

int mh_json_get_string_array(struct mh_json_ctx *c, const cJSON *v, const char ***out,
                             size_t *out_num) {
  if (!cJSON_IsArray(v)) {
    return mh_json_fail(c, "expected an array of strings, found %s", mh_json_type_name(v));
  }
  size_t n = (size_t)cJSON_GetArraySize(v);
  const char **arr = mh_arena_alloc_array(c->a, n ? n : 1, sizeof(*arr));
  if (arr == NULL) {
    return mh_json_fail(c, "out of memory");
  }
  size_t i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, v) {
    size_t old = mh_json_push_index(c, i);
    if (mh_json_get_string(c, it, &arr[i]) != 0) {
      return -1;
    }
    mh_json_pop(c, old);
    i++;
  }
  *out = arr;
  *out_num = n;
  return 0;
}

void mh_json_join_names(char *out, size_t out_len, const char *const *names, size_t num) {
  out[0] = '\0';
  for (size_t j = 0; j < num; j++) {
    strncat(out, j ? ", " : "", out_len - strlen(out) - 1);
    strncat(out, names[j], out_len - strlen(out) - 1);
  }
}

int mh_json_get_keyword_mask(struct mh_json_ctx *c, const cJSON *v, const char *const *names,
                             size_t num, unsigned *out) {
  const char **arr;
  size_t n;
  if (mh_json_get_string_array(c, v, &arr, &n) != 0) {
    return -1;
  }
  unsigned mask = 0;
  for (size_t i = 0; i < n; i++) {
    size_t k = 0;
    while (k < num && strcmp(arr[i], names[k]) != 0) {
      k++;
    }
    if (k == num) {
      char known[256];
      mh_json_join_names(known, sizeof(known), names, num);
      size_t old = mh_json_push_index(c, i);
      mh_json_fail(c, "unknown value \"%s\" (use one of: %s)", arr[i], known);
      mh_json_pop(c, old);
      return -1;
    }
    mask |= 1u << k;
  }
  *out = mask;
  return 0;
}

// edit_distance is the Levenshtein distance of |a| and |b|, ignoring case, capped at 64 bytes
// of each (a key longer than that is no typo of a known one).
static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a) < 64 ? strlen(a) : 64, lb = strlen(b) < 64 ? strlen(b) : 64;
  size_t row[65];
  for (size_t j = 0; j <= lb; j++) {
    row[j] = j;
  }
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
      size_t best = diag + cost;
      best = up + 1 < best ? up + 1 : best;
      best = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

const char *mh_json_closest(const char *key, const char *const *names, size_t num) {
  const char *best = NULL;
  size_t best_d = (size_t)-1;
  for (size_t i = 0; i < num; i++) {
    size_t d = edit_distance(key, names[i]);
    if (d < best_d) {
      best = names[i];
      best_d = d;
    }
  }
  size_t len = strlen(key);
  return best != NULL && (best_d <= 2 || best_d * 3 <= len) ? best : NULL;
}

int mh_json_check_keys(struct mh_json_ctx *c, const cJSON *obj, const char *const *keys, size_t num,
                       const char *what) {
  const cJSON *it;
  cJSON_ArrayForEach(it, obj) {
    size_t k = 0;
    while (k < num && strcmp(it->string, keys[k]) != 0) {
      k++;
    }
    if (k == num) {
      char known[256];
      mh_json_join_names(known, sizeof(known), keys, num);
      const char *near = mh_json_closest(it->string, keys, num);
      size_t old = mh_json_push_key(c, it->string);
      if (near != NULL) {
        mh_json_fail(c, "unknown key: did you mean %s? (%s has: %s)", near, what, known);
      } else {
        mh_json_fail(c, "unknown key (%s has: %s)", what, known);
      }
      mh_json_pop(c, old);
      return -1;
    }
  }
  return 0;
}

int mh_json_check_name(struct mh_json_ctx *c, const char *name) {
  for (const char *p = name; *p; p++) {
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '-' || *p == '_' || *p == '.')) {
      return mh_json_fail(c, "\"%s\" may contain only letters, digits, '-', '_' and '.'", name);
    }
  }
  return 0;
}

const char *mh_json_version(void) {
  return cJSON_Version();
}
