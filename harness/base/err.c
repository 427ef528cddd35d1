// err: formatting of one-line error messages (see err.h).
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int mh_err_set(struct mh_err *err, const char *fmt, ...) {
  if (err == NULL) {
    return -1;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
  va_end(ap);
  return -1;
}

int mh_err_errno(struct mh_err *err, const char *fmt, ...) {
  int saved = errno;
  if (err == NULL) {
    return -1;
  }
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
  va_end(ap);
  if (n >= 0 && (size_t)n < sizeof(err->msg)) {
    snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s", strerror(saved));
  }
  return -1;
}
