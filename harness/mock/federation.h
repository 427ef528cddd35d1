// federation: the mock locations of a scenario, running on one libev loop.
//
// Each location runs its components as the real system does: a websocket output is a TLS (or
// plaintext) HTTP/1.1 server that upgrades the configured path and sends the location's data as
// JSON envelopes; a websocket_input in client mode dials another location, acks what it receives
// and publishes it on its location's bus, from which that location's outputs send it on. So data
// flows A -> B -> C as in the federation example. Everything a location does is written to the
// event log (events.h); TLS rejections are also logged on stderr in Go net/http's words.
//
// Every connection has deadlines: 10 s for the TLS handshake, 10 s for the request head, and the
// real output's 60 s WebSocket read deadline; a failed handshake is answered by the alert, a FIN
// and a short drain of what the client still sends, so that the alert is not destroyed by a RST.
#ifndef MH_MOCK_FEDERATION_H
#define MH_MOCK_FEDERATION_H

#include <stdio.h>

#include "base/err.h"
#include "mock/events.h"
#include "input/scenario.h"

struct ev_loop;
struct mh_federation;

#define MH_MAX_LOOPS 16

// mh_mock_limits bounds what hostile peers can take from a mock (docs/scenarios.md, "Limits").
// A field left 0 takes its default (MH_MOCK_LIMITS_DEFAULTS).
struct mh_mock_limits {
  size_t max_conns;  // per output; at the cap the oldest unauthenticated one is evicted
  size_t max_pending_per_source;  // unauthenticated connections per source address, per output
  double ws_write_deadline_s;     // a WebSocket peer that takes none of what is queued this long
  size_t ws_send_queue;           // bytes queued for one WebSocket peer before it is closed
};

#define MH_MOCK_LIMITS_DEFAULTS \
  { 10000, 1000, 10.0, 1 << 20 }

struct mh_federation_options {
  int ephemeral_ports;  // bind port 0 and send inputs to the bound ports
  int shared_port;      // > 0: bind every output to this port with SO_REUSEPORT (a copy of a
                        // federation on another thread shares the first one's listeners)
  int shared;           // bind with SO_REUSEPORT (the first of several copies)
  // A replica of |primary| (created with .shared, from the same scenario): each output joins the
  // listener of the primary's same output (SO_REUSEPORT) on this loop; it neither dials nor
  // emits, renews nor rotates: its clients get what the primary publishes, and its outputs the
  // certificate the primary swaps in. Free replicas before their primary, and stop them only once
  // the primary's loop has stopped (it publishes and hands certificates over; see serve.c).
  struct mh_federation *primary;
  struct mh_mock_limits limits;  // 0 fields: the defaults
};

// mh_federation_new loads every location's certificates into TLS contexts and binds every output,
// so that all input errors are reported before any connection is made. Returns NULL with |err| set
// (and nothing left on |loop|); the caller frees the federation with mh_federation_free.
struct mh_federation *mh_federation_new(struct ev_loop *loop, const struct mh_scenario *s,
                                        struct mh_events *ev,
                                        const struct mh_federation_options *opts,
                                        struct mh_err *err);

// mh_federation_start starts accepting, dialing and emitting.
void mh_federation_start(struct mh_federation *f);

// mh_federation_describe prints one line per endpoint: location, component, URL, bound address and
// policy.
void mh_federation_describe(const struct mh_federation *f, FILE *out);

// mh_federation_schedule_outage takes |location| down (listeners closed, connections dropped,
// inputs stopped) |start_s| seconds from now, for |duration_s| seconds; it then comes back on the
// same ports. Returns 0, or -1 with |err| set if there is no such location (the message lists the
// valid names).
int mh_federation_schedule_outage(struct mh_federation *f, const char *location, double start_s,
                                  double duration_s, struct mh_err *err);

// mh_federation_port finds where |location|'s first output listens. Returns 0, or -1 with |err|
// set if there is no such location (the message lists the valid names) or it has no output.
// |*out_address| points into the scenario.
int mh_federation_port(const struct mh_federation *f, const char *location,
                       const char **out_address, int *out_port, struct mh_err *err);

// mh_federation_start_thread starts |f| (as mh_federation_start) and runs its loop on a thread of
// its own. Returns 0 or -1 with |err| set.
int mh_federation_start_thread(struct mh_federation *f, struct mh_err *err);

// mh_federation_stop_thread stops a federation started with mh_federation_start_thread and joins
// its thread; afterwards |f| may be freed.
void mh_federation_stop_thread(struct mh_federation *f);

// mh_federation_accepted returns how many connections |f|'s outputs have accepted (any thread).
unsigned long long mh_federation_accepted(const struct mh_federation *f);

// mh_federation_stop closes every connection and listener; the loop then has nothing left to do.
void mh_federation_stop(struct mh_federation *f);

// mh_federation_free releases |f| (stopping it first). NULL is accepted.
void mh_federation_free(struct mh_federation *f);

#endif
