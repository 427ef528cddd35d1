// probe: one conformance case: a client connection to one target, recording exactly what happened.
//
// A probe is a state machine on a libev loop: many run at once on one loop, none blocks (the
// runner keeps --jobs of them in flight). It connects, handshakes, then asks as the target's
// request mode says: a WebSocket upgrade, an HTTP GET with Connection: close, or nothing (TLS
// only). It then always performs a bounded first read: in TLS 1.3 the server judges the client
// certificate after the client's handshake has returned, so only that read shows whether the
// server kept the connection. After an HTTP answer it waits, briefly and bounded, for the server
// to end the connection, to record how it did. Every wait has a deadline.
#ifndef MH_PROBE_H
#define MH_PROBE_H

#include <stdatomic.h>

#include <ev.h>

#include "base/net.h"
#include "base/outcomes.h"
#include "conform/outcome.h"
#include "tls/tls.h"

struct mh_probe_target {
  const char *host;  // a DNS name or a numeric address (unbracketed); numeric loopback for mocks
  int port;
  // Resolved at each probe: pins first, then the system resolver; every address is tried in
  // order until one connects, all within the connect timeout.
  const struct mh_net_pin *pins;
  size_t num_pins;
  const char *server_name;       // SNI, checked against the certificate when verifying
  const char *path;              // request target
  const char *host_header;       // Host: value
  enum mh_request_mode request;  // never MH_REQUEST_DEFAULT: the caller resolves it
  // HTTP statuses that refuse the client whatever their class (the policy's "verified_only"):
  // an answer with one is a rejection at HTTP, also below 400.
  const int *refusal_statuses;
  size_t num_refusal_statuses;
};

struct mh_probe_timeouts {
  int connect_ms;
  int handshake_ms;
  int first_read_ms;  // from the end of the handshake; with MH_REQUEST_TLS, silence until then is
                      // an acceptance
  int close_wait_ms;  // after a rejection or an HTTP answer: how long the server has to close
  // NULL, or a flag the caller sets to end the probe's long waits (connect, handshake, first read)
  // early, as timeouts: a run interrupted or out of time; it is looked at every 100 ms. The short
  // waits for the server's close (close_wait_ms) still run.
  const atomic_int *stop;
};

// mh_probe_hooks lets the caller act once the address and source port are known, before the SYN
// (to start a capture on the case's own 4-tuple; called once per address tried), and see the
// certificates the server presented (|server_chain|: DER one after the other, leaf first, valid
// during the call only; called once, when the probe ends, if a Certificate arrived). Either may be
// NULL.
struct mh_probe_hooks {
  void (*before_connect)(void *arg, const char *remote_ip, int local_port);
  void (*server_chain)(void *arg, const uint8_t *der, size_t len);
  void *arg;
};

struct mh_probe;

// mh_probe_outcome_release frees what |o| holds outside itself (its CA names, its secrets,
// wiped first) and leaves those fields empty; the rest of |o| stays. Idempotent.
void mh_probe_outcome_release(struct mh_case_outcome *o);

// mh_probe_outcome_forget_keys wipes and frees |o|'s secrets only (a case without a capture needs
// none once its probe is over).
void mh_probe_outcome_forget_keys(struct mh_case_outcome *o);

// mh_probe_start starts one case on |loop| with |ctx| (see mh_tls_probe_ctx_new) and returns at
// once; |out| is filled as the case goes. Once the case is over, the probe releases everything it
// holds (its socket and TLS connection) and calls |done|(|arg|) from |loop|, never from this call;
// the caller then owns |out| again and may free |ctx|. |t|, |to| and |hooks| (which may be NULL)
// are copied, but the strings and pins they point to must live until |done|. It never fails once
// started: a target that cannot be reached is recorded as inconclusive. Returns NULL (nothing
// started, |done| never called) when out of memory.
struct mh_probe *mh_probe_start(struct ev_loop *loop, struct mh_tls_ctx *ctx,
                                const struct mh_probe_target *t, const struct mh_probe_timeouts *to,
                                const struct mh_probe_hooks *hooks, struct mh_case_outcome *out,
                                void (*done)(void *arg), void *arg);

#endif
