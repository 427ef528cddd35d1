// err: the harness's error message buffer.
//
// Errors below main.c are returned, never printed or exit()ed: a function that can fail returns -1
// (or NULL) and writes one line into a caller-supplied `struct mh_err`. The line names the file,
// the JSON path where there is one, what is wrong and how to fix it. main.c prints it and picks the
// exit code.
#ifndef MH_ERR_H
#define MH_ERR_H

#include <stddef.h>

#define MH_ERR_LEN 1024

struct mh_err {
  char msg[MH_ERR_LEN];
};

// mh_err_set formats a message into |err| (which may be NULL) and returns -1, so that callers can
// write `return mh_err_set(err, ...)`.
int mh_err_set(struct mh_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// mh_err_errno is mh_err_set with ": <strerror(errno)>" appended; errno is read on entry.
int mh_err_errno(struct mh_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
