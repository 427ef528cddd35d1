// location: the mock location a load run targets (`load --location`). Only its TLS websocket
// outputs run, without data flow, on loopback ports of the system's choosing, on one or more
// event loops, each on its own thread with its own SO_REUSEPORT listener on the same port; the
// loops after the first are replicas of it, so a certificate change reaches them all.
#ifndef MH_LOAD_LOCATION_H
#define MH_LOAD_LOCATION_H

#include <stdio.h>

#include "base/arena.h"
#include "base/err.h"
#include "input/scenario.h"
#include "mock/federation.h"
#include "mock/events.h"

struct ev_loop;

// mh_load_location is a running mock location: caller-owned, zeroed before
// mh_load_location_start, released by mh_load_location_stop.
struct mh_load_location {
  struct mh_events events;  // no event log: the loops only count
  struct ev_loop *loops[MH_MAX_LOOPS];
  struct mh_federation *feds[MH_MAX_LOOPS];
  int num_loops;
  const char *address;  // where the first output listens
  int port;
};

// mh_load_location_find returns the location of |s| named |name| if it is a mock location with a
// TLS websocket output; otherwise NULL with |err| set, listing the names that would do.
const struct mh_location *mh_load_location_find(const struct mh_scenario *s, const char *name,
                                                struct mh_err *err);

// mh_load_location_start runs |L|'s TLS websocket outputs (no emitter) on |threads| (1 to
// MH_MAX_LOOPS) loops and fills |m|'s address and port; |a| holds the copy of the location.
// Returns 0, or -1 with |err| set; call mh_load_location_stop either way.
int mh_load_location_start(struct mh_load_location *m, struct mh_arena *a,
                           const struct mh_scenario *s, const struct mh_location *L, int threads,
                           struct mh_err *err);

// mh_load_location_print_accepted writes how many connections each loop accepted, on one line,
// if there is more than one loop.
void mh_load_location_print_accepted(const struct mh_load_location *m, FILE *f);

// mh_load_location_stop stops every loop of |m| and frees them; |m| may be partly started.
void mh_load_location_stop(struct mh_load_location *m);

#endif
