// events: JSON-lines event log and Go-style log lines (see events.h).
//
// Each line is written by the harness's one JSON writer (base/jsonw.h) and handed to the file in
// one fwrite.
#include "mock/events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"

int mh_events_open(struct mh_events *ev, const char *path, struct mh_err *err) {
  memset(ev, 0, sizeof(*ev));
  ev->log_to_stderr = 1;
  if (path == NULL) {
    return 0;
  }
  // Mode 0644 whatever the umask, like the reports beside it: the events name peers and client
  // certificates' CNs, never a secret. An existing file keeps its mode; a symbolic link is not
  // followed.
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd >= 0 && fchmod(fd, 0644) != 0) {
    close(fd);
    return mh_err_errno(err, "%s: cannot set the event log's mode", path);
  }
  if (fd < 0 && errno == EEXIST) {
    fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
  }
  ev->file = fd >= 0 ? fdopen(fd, "a") : NULL;
  if (ev->file == NULL) {
    mh_err_errno(err, "%s: cannot open the event log (check --events)", path);
    if (fd >= 0) {
      close(fd);
    }
    return -1;
  }
  return 0;
}

void mh_events_close(struct mh_events *ev) {
  if (ev != NULL && ev->file != NULL) {
    fclose(ev->file);
    ev->file = NULL;
  }
}

void mh_events_begin(struct mh_event *e, const char *location, const char *component,
                     const char *name) {
  mh_jsonw_init(&e->w);
  mh_jsonw_object_begin(&e->w);
  mh_jsonw_key(&e->w, "ts_ms");
  mh_jsonw_int(&e->w, mh_clock_wall_ms());
  if (location != NULL) {
    mh_events_str(e, "location", location);
  }
  if (component != NULL) {
    mh_events_str(e, "component", component);
  }
  mh_events_str(e, "event", name);
}

void mh_events_str(struct mh_event *e, const char *key, const char *value) {
  mh_jsonw_key(&e->w, key);
  mh_jsonw_string(&e->w, value);
}

void mh_events_int(struct mh_event *e, const char *key, long long value) {
  mh_jsonw_key(&e->w, key);
  mh_jsonw_int(&e->w, value);
}

void mh_events_write(struct mh_events *ev, struct mh_event *e) {
  mh_jsonw_object_end(&e->w);
  mh_jsonw_newline(&e->w);
  // One fwrite per line, so that lines of several threads never interleave.
  if (mh_jsonw_finish(&e->w) == 0 && ev->file != NULL) {
    fwrite(e->w.buf, 1, e->w.len, ev->file);
    fflush(ev->file);
  }
  mh_jsonw_cleanup(&e->w);
}

void mh_events_log(struct mh_events *ev, const char *prefix, const char *fmt, ...) {
  if (!ev->log_to_stderr) {
    return;
  }
  char when[32];
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  strftime(when, sizeof(when), "%Y/%m/%d %H:%M:%S", &tm);
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s: %s %s\n", prefix, when, msg);
}
