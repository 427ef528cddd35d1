// events: JSON-lines event log and Go-style log lines (see events.h).
//
// JSON is written by hand here: every value is a string or an integer, so escaping strings is all
// there is to it, and it keeps cJSON inside the parser.
#include "mock/events.h"

#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

long long mh_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mh_events_open(struct mh_events *ev, const char *path, struct mh_err *err) {
  memset(ev, 0, sizeof(*ev));
  ev->log_to_stderr = 1;
  if (path == NULL) {
    return 0;
  }
  ev->file = fopen(path, "a");
  if (ev->file == NULL) {
    return mh_err_errno(err, "%s: cannot open the event log (check --events)", path);
  }
  return 0;
}

void mh_events_close(struct mh_events *ev) {
  if (ev != NULL && ev->file != NULL) {
    fclose(ev->file);
    ev->file = NULL;
  }
}

static void put(struct mh_event *e, const char *s, size_t n) {
  if (e->len + n >= sizeof(e->buf) - 2) {
    e->truncated = 1;
    return;
  }
  memcpy(e->buf + e->len, s, n);
  e->len += n;
}

static void put_escaped(struct mh_event *e, const char *s) {
  put(e, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char tmp[8];
    if (*p == '"' || *p == '\\') {
      tmp[0] = '\\';
      tmp[1] = (char)*p;
      put(e, tmp, 2);
    } else if (*p < 0x20) {
      snprintf(tmp, sizeof(tmp), "\\u%04x", *p);
      put(e, tmp, 6);
    } else {
      put(e, (const char *)p, 1);
    }
  }
  put(e, "\"", 1);
}

void mh_event_begin(struct mh_event *e, const char *location, const char *component,
                    const char *name) {
  e->len = 0;
  e->truncated = 0;
  char ts[48];
  int n = snprintf(ts, sizeof(ts), "{\"ts_ms\":%lld", mh_now_ms());
  put(e, ts, (size_t)n);
  if (location != NULL) {
    mh_event_str(e, "location", location);
  }
  if (component != NULL) {
    mh_event_str(e, "component", component);
  }
  mh_event_str(e, "event", name);
}

void mh_event_str(struct mh_event *e, const char *key, const char *value) {
  put(e, ",", 1);
  put_escaped(e, key);
  put(e, ":", 1);
  put_escaped(e, value != NULL ? value : "");
}

void mh_event_int(struct mh_event *e, const char *key, long long value) {
  char num[32];
  int n = snprintf(num, sizeof(num), "%lld", value);
  put(e, ",", 1);
  put_escaped(e, key);
  put(e, ":", 1);
  put(e, num, (size_t)n);
}

void mh_events_write(struct mh_events *ev, struct mh_event *e) {
  if (ev->file == NULL) {
    return;
  }
  e->buf[e->len++] = '}';
  e->buf[e->len++] = '\n';
  fwrite(e->buf, 1, e->len, ev->file);
  fflush(ev->file);
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
