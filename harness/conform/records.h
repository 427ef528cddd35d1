// records: what the mocks saw of each case's connection, handed to the case that made it. The
// mocks' thread adds a record when a connection ends its TLS or HTTP part (mh_events' observer);
// a case whose probe is over waits for its own by the client's port, and the record is delivered
// to the case's loop by an ev_async the moment it arrives: no polling.
#ifndef MH_CONFORM_RECORDS_H
#define MH_CONFORM_RECORDS_H

#include <ev.h>
#include <pthread.h>
#include <stddef.h>

#include "mock/events.h"

// mh_record_wait is one case waiting for its record, owned by the case. |loop| and |wake| are the
// case's: |wake| is sent once |*out| holds the record.
struct mh_record_wait {
  const char *location;
  char peer[64];  // "ip:port" of the probe's socket, as the mock sees it
  struct ev_loop *loop;
  ev_async *wake;
  struct mh_server_record *out;
  int found;
  struct mh_record_wait *next;  // in the table's list of waiters
};

struct mh_records {
  pthread_mutex_t mu;
  struct mh_server_record *items;  // not yet claimed, oldest first
  size_t num, cap;
  struct mh_record_wait *waiters;
};

void mh_records_init(struct mh_records *t);
void mh_records_free(struct mh_records *t);

// mh_records_observe adds |rec| (an mh_events_observer; the mocks' thread): to the waiter of its
// location and peer if there is one, else to the table.
void mh_records_observe(void *arg, const struct mh_server_record *rec);

// mh_records_forget drops the records of |location| whose client port is |port|: called when a
// probe connects from that port, so that an earlier connection's record (the port reused) is
// never taken for this one's.
void mh_records_forget(struct mh_records *t, const char *location, int port);

// mh_records_wait claims the record of |w->location| and |w->peer| into |w->out|: returns 1 if it
// is there already; otherwise 0, and |w| waits (until mh_records_done) for it: its arrival sets
// |w->found| and sends |w->wake|.
int mh_records_wait(struct mh_records *t, struct mh_record_wait *w);

// mh_records_done ends |w|'s wait (its record came, or the case gives up) and returns whether the
// record was delivered to |w->out|. After it, nothing touches |w|.
int mh_records_done(struct mh_records *t, struct mh_record_wait *w);

#endif
