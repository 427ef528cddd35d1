// events: JSON-lines event log and Go-style log lines (see events.h).
//
// Each line is written by the harness's one JSON writer (base/jsonw.h) and handed to the file in
// one fwrite.
#include "mock/events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"

int mh_events_open(struct mh_events *ev, const char *path, struct mh_err *err) {
  memset(ev, 0, sizeof(*ev));
  ev->log_to_stderr = 1;
  pthread_mutex_init(&ev->mu, NULL);
  if (path == NULL) {
    return 0;
  }
  // What would make the first event fail is refused now, while an error can still be returned.
  struct stat st;
  if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
    return mh_err_set(err, "%s: the event log must be a regular file, not a %s (check --events)",
                      path, S_ISLNK(st.st_mode) ? "symbolic link" : "directory or device");
  }
  const char *slash = strrchr(path, '/');
  char dir[4096];
  snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) + (slash == path) : 1,
           slash ? path : ".");
  if (access(dir, W_OK | X_OK) != 0) {
    return mh_err_errno(err, "%s: cannot write the event log in %s (check --events)", path, dir);
  }
  ev->path = strdup(path);
  return ev->path != NULL ? 0 : mh_err_set(err, "out of memory");
}

// open_file creates or appends to the log, with |ev->mu| held. Mode 0644 whatever the umask, like
// the reports beside it: the events name peers and client certificates' CNs, never a secret. An
// existing file keeps its mode; a symbolic link is not followed.
static void open_file(struct mh_events *ev) {
  int fd = open(ev->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd >= 0 && fchmod(fd, 0644) != 0) {
    close(fd);
    fd = -1;
  } else if (fd < 0 && errno == EEXIST) {
    fd = open(ev->path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
  }
  ev->file = fd >= 0 ? fdopen(fd, "a") : NULL;
  if (ev->file == NULL) {
    // The path was checked when the log was opened: only a change since can get here.
    fprintf(stderr, "mtls-harness: %s: cannot write the event log: %s; events are dropped\n",
            ev->path, strerror(errno));
    ev->failed = 1;
    if (fd >= 0) {
      close(fd);
    }
  }
}

void mh_events_close(struct mh_events *ev) {
  if (ev == NULL) {
    return;
  }
  if (ev->file != NULL) {
    fclose(ev->file);
    ev->file = NULL;
  }
  free(ev->path);
  ev->path = NULL;
  pthread_mutex_destroy(&ev->mu);
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
  if (mh_jsonw_finish(&e->w) == 0 && ev->path != NULL) {
    pthread_mutex_lock(&ev->mu);
    if (ev->file == NULL && !ev->failed) {
      open_file(ev);
    }
    if (ev->file != NULL) {
      fwrite(e->w.buf, 1, e->w.len, ev->file);
      fflush(ev->file);
    }
    pthread_mutex_unlock(&ev->mu);
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
