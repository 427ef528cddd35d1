// events: the structured event log of mock locations (one JSON object per line) and the real
// system's log lines on stderr.
//
// The event log is what tests and the runner read to see rejections and message flow. Each line is
// {"ts_ms":<unix ms>,"location":"...","component":"...","event":"...", ...fields}.
#ifndef MH_EVENTS_H
#define MH_EVENTS_H

#include <pthread.h>
#include <stdio.h>

#include "base/err.h"
#include "base/jsonw.h"

// mh_server_record is what a mock saw of one connection, for an in-process observer (the runner).
struct mh_server_record {
  char location[64];
  char peer[64];  // "ip:port" of the client
  int tls_rejected;
  char reason[512];
  int alert_sent;
  int alert_received;
  int http_status;
  char client_cn[256];
};

typedef void (*mh_events_observer)(void *arg, const struct mh_server_record *rec);

struct mh_events {
  // The log file appears with its first event (so that a run stopped before any event leaves no
  // empty file behind); |mu| guards its opening and every line, from any loop's thread.
  char *path;  // NULL: events are not recorded
  FILE *file;  // NULL until the first event
  int failed;  // the file could not be opened: events are dropped (said once on stderr)
  pthread_mutex_t mu;
  int log_to_stderr;
  mh_events_observer observe;  // optional; called on the mocks' thread
  void *observe_arg;
};

// mh_event is one line being built; fields are appended in order.
struct mh_event {
  struct mh_jsonw w;
};

// mh_events_open prepares the event log at |path| (NULL: no event log): the path is checked now
// (its directory exists and is writable, it is not a symbolic link or a directory) and the file
// is created, mode 0644 whatever the umask, with the first event. Returns 0 or -1 with |err| set;
// mh_events_close must be called either way.
int mh_events_open(struct mh_events *ev, const char *path, struct mh_err *err);

// mh_events_close flushes and closes the log. NULL is accepted.
void mh_events_close(struct mh_events *ev);

// mh_events_begin starts an event of |location| / |component| (NULL for none) named |name|. Every
// event begun must be passed to mh_events_write, which frees what it holds.
void mh_events_begin(struct mh_event *e, const char *location, const char *component,
                     const char *name);

// mh_events_str and mh_events_int append a field; strings are JSON-escaped.
void mh_events_str(struct mh_event *e, const char *key, const char *value);
void mh_events_int(struct mh_event *e, const char *key, long long value);

// mh_events_write ends |e|, writes it as one line (flushed, so readers see it at once) and frees
// what |e| holds. A line that could not be built whole (out of memory) is not written.
void mh_events_write(struct mh_events *ev, struct mh_event *e);

// mh_events_log prints a line the way Go's log package does ("<prefix>: 2006/01/02 15:04:05 msg").
void mh_events_log(struct mh_events *ev, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
