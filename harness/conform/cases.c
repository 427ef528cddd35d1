// cases: the cases in flight: a few probe loop threads, each keeping its share of --jobs cases
// busy, each case a state machine from its setup to its verdict (probe, capture, the mock's record,
// the oracle); the main thread's watch over them (progress, signals, --timeout). See internal.h.
#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/alerts.h"
#include "base/clock.h"
#include "base/interrupt.h"
#include "base/net.h"
#include "capture/capture.h"
#include "capture/wire.h"
#include "conform/internal.h"
#include "conform/oracle.h"
#include "conform/verdict.h"
#include "conform/probe.h"
#include "conform/progress.h"
#include "mock/federation.h"
#include "pki/pki.h"
#include "tls/tls.h"

#define SERVER_RECORD_WAIT_MS 1500
#define CAPTURE_LINGER_MS 50  // the longest wait for a case's last frames (FIN, RST, the ACK)
#define CAPTURE_POLL_MS 1     // how often the capture is looked at for them

static void set_setup_error(struct mh_runner *r, const struct mh_err *e) {
  pthread_mutex_lock(&r->err_mu);
  if (!atomic_load(&r->setup_failed)) {
    r->setup_err = *e;
    atomic_store(&r->setup_failed, 1);
  }
  pthread_mutex_unlock(&r->err_mu);
}

// capture_hook starts the case's capture once its address and source port are known, before the
// SYN. The filter names the resolved numeric address; without --capture-iface a loopback address
// is captured on "lo" and any other on "any" (the route decides the interface, not the harness).
// The same hooks record the chain the server presented (record_chain).
struct capture_hook {
  int pcap;           // --pcap: capture the case
  const char *iface;  // NULL: by address
  int port;
  struct mh_capture *cap;
  struct mh_case_result *res;
  struct mh_runner *run;
  size_t plan;
};

// record_chain gives the run's lifetimes the chain the case's server presented; not for a case
// whose mock deliberately presents another certificate (a variant), which is not the target's.
static void record_chain(void *arg, const uint8_t *der, size_t len) {
  struct capture_hook *h = arg;
  const struct plan *p = &h->run->plans[h->plan];
  if (p->spec.server_identity == NULL) {
    mh_lifetimes_add_chain(&h->run->lifetimes, p->spec.target, p->spec.id, h->plan, der, len);
  }
}

static void capture_before_connect(void *arg, const char *remote_ip, int local_port) {
  struct capture_hook *h = arg;
  const struct mh_location *L = h->run->plans[h->plan].loc;
  if (!L->is_target) {
    mh_records_forget(&h->run->records, L->name, local_port);
  }
  if (!h->pcap) {
    return;
  }
  if (h->cap != NULL) {  // an earlier address of the name did not connect: only the last counts
    mh_capture_close(h->cap);
    h->cap = NULL;
  }
  const char *iface = h->iface ? h->iface : mh_net_is_loopback(remote_ip) ? "lo" : "any";
  struct mh_err err;
  int denied;
  h->cap = h->run->capture_hub == NULL
               ? NULL
               : mh_capture_open(h->run->capture_hub, iface, h->port, local_port, &denied, &err);
  if (h->run->capture_hub == NULL) {
    mh_err_set(&err, "capture: out of memory");
  }
  if (h->cap == NULL) {
    h->res->capture = MH_CAPTURE_SKIPPED;
    snprintf(h->res->capture_note, sizeof(h->res->capture_note), "%.290s", err.msg);
  } else {
    h->res->capture = MH_CAPTURE_CAPTURED;
  }
}

// cross_check compares the alerts and the server's TCP end on the wire with what the TLS library
// and the socket reported.
static void cross_check(struct mh_case_result *res) {
  const struct mh_case_outcome *o = &res->outcome;
  const struct mh_wire_view *w = &res->wire;
  struct {
    char from;
    int lib;
    const char *who;
  } sides[] = {{'s', o->tls.alert_received, "server"}, {'c', o->tls.alert_sent, "client"}};
  for (size_t i = 0; i < 2 && res->wire_mismatch[0] == '\0'; i++) {
    int wire = mh_wire_first_fatal(w, sides[i].from);  // MH_WIRE_UNDECRYPTED: cannot compare
    int lib = sides[i].lib;                            // close_notify is never reported as one
    enum mh_end end = sides[i].from == 's' ? w->server_end : w->client_end;
    if (wire >= 0 && wire != lib) {
      snprintf(res->wire_mismatch, sizeof(res->wire_mismatch),
               "the %s sent alert %d %s on the wire, but the TLS library reported %s%s%.120s",
               sides[i].who, wire, mh_alert_name(wire), mh_alert_name(lib),
               o->tls.reason[0] ? " (" : "", o->tls.reason);
      if (o->tls.reason[0] != '\0') {
        strncat(res->wire_mismatch, ")",
                sizeof(res->wire_mismatch) - strlen(res->wire_mismatch) - 1);
      }
      if (w->server_end == MH_END_RST || w->client_end == MH_END_RST) {
        strncat(res->wire_mismatch, "; a TCP RST ended the connection",
                sizeof(res->wire_mismatch) - strlen(res->wire_mismatch) - 1);
      }
    } else if (wire == MH_ALERT_NONE && lib != MH_ALERT_NONE) {
      snprintf(res->wire_mismatch, sizeof(res->wire_mismatch),
               "the TLS library reported alert %d %s from the %s, but none is on the wire (%s)",
               lib, mh_alert_name(lib), sides[i].who,
               end != MH_END_NONE ? mh_end_name(end) : "no TCP end seen");
    }
  }
  if (res->wire_mismatch[0] == '\0' && o->rejected_by == 's' && w->server_end == MH_END_RST &&
      o->end != MH_END_RST) {
    snprintf(res->wire_mismatch, sizeof(res->wire_mismatch),
             "the wire shows the server ending with a TCP RST, the client's socket reported %s",
             mh_end_name(o->end));
  }
}

// case_endpoint returns "HOST:PORT" as probed, with the address a name resolved to:
// "db.example.com:443 (192.0.2.10)", "[2001:db8::10]:443", "127.0.0.1:8443". In |a|.
static const char *case_endpoint(struct mh_arena *a, const char *host, int port,
                                 const char *remote) {
  int v6 = strchr(host, ':') != NULL;
  const char *hp = mh_arena_sprintf(a, "%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
  if (hp == NULL || remote[0] == '\0' || strcmp(remote, host) == 0) {
    return hp;
  }
  return mh_arena_sprintf(a, "%s (%s)", hp, remote);
}

struct probe_loop;

// slot is one case in flight on a loop thread: its setup, its probe, then the capture's linger
// and the mock's record of the connection, each a timer on the loop, never a blocking wait.
struct slot {
  struct probe_loop *th;
  size_t idx;
  int busy;
  struct mh_tls_ctx *ctx;
  struct capture_hook ch;
  char ca_path[4096], cert[4096], key[4096];
  const char *ca_files[8];
  char host_header[300];
  const char *address;
  int port;
  ev_timer wait;       // the capture's linger, then the longest wait for the mock's record
  double linger_from;  // mh_clock_now_ms when the probe ended: the capture's linger counts from it
  struct mh_record_wait record;
  ev_async record_came;
  int waiting;  // for the mock's record
};

// probe_loop is one loop thread and the slots it keeps busy.
struct probe_loop {
  struct mh_runner *r;
  struct ev_loop *loop;
  struct slot *slots;
  size_t num_slots;
  size_t busy;
  ev_timer tick;  // ends the loop once nothing is in flight and nothing more may start
  pthread_t tid;
};

static void start_next(struct slot *sl);

enum mh_request_mode mh_cases_request_mode(const struct mh_location *L) {
  if (L->request != MH_REQUEST_DEFAULT) {
    return L->request;
  }
  int semstreams = L->profile != NULL && strcmp(L->profile, "semstreams") == 0;
  return !L->is_target || semstreams ? MH_REQUEST_WEBSOCKET : MH_REQUEST_HTTP;
}

// probe_timeouts fills |to| with the location's deadlines (docs/runner.md, "Probes").
static void probe_timeouts(struct mh_runner *r, const struct mh_location *L,
                           struct mh_probe_timeouts *to) {
  enum mh_request_mode mode = mh_cases_request_mode(L);
  *to = (struct mh_probe_timeouts){.connect_ms = 3000,
                                   .handshake_ms = 5000,
                                   .first_read_ms = mode == MH_REQUEST_TLS ? 1000 : 3000,
                                   .close_wait_ms = 300,
                                   .stop = &r->stop};
  if (L->first_read_ms > 0) {
    to->first_read_ms = L->first_read_ms;
  }
  if (L->close_wait_ms > 0) {
    to->close_wait_ms = L->close_wait_ms;
  }
}

// case_ctx builds the probe's client context for the case: what it trusts for the server (the
// root of the mock's certificate, the target's CA files, or the case's own CA) and the identity it
// presents. NULL with |err| set on failure.
static struct mh_tls_ctx *case_ctx(struct mh_runner *r, struct slot *sl, const struct plan *p,
                                   struct mh_err *err) {
  const struct mh_scenario *s = r->s;
  const struct mh_location *L = p->loc;
  const struct mh_case_spec *k = &p->spec;
  size_t num_ca = 0;
  if (k->trust_ca != NULL) {
    mh_scenario_fixture_path(s,
                             s->spec.entities[mh_pki_spec_entity(&s->spec, k->trust_ca)].cert_file,
                             sl->ca_path, sizeof(sl->ca_path));
    sl->ca_files[num_ca++] = sl->ca_path;
  } else if (L->is_target) {
    for (size_t i = 0; i < L->num_target_ca_files && num_ca < 8; i++) {
      sl->ca_files[num_ca++] = L->target_ca_files[i];
    }
  } else {
    int root = mh_oracle_server_root_ca(s, mh_scenario_location(s, k->target));
    if (root >= 0) {
      mh_scenario_fixture_path(s, s->spec.entities[root].cert_file, sl->ca_path,
                               sizeof(sl->ca_path));
      sl->ca_files[num_ca++] = sl->ca_path;
    }
    // An ACME mock serves what its ACME server issued (the fallback files above if it was down).
    const struct mh_acme_config *acme = mh_scenario_location(s, k->target)->acme.server;
    if (acme != NULL) {
      sl->ca_files[num_ca++] = s->pebble != NULL ? s->pebble->root_file : acme->ca_bundle;
      num_ca -= sl->ca_files[num_ca - 1] == NULL;
    }
  }
  struct mh_tls_probe_policy pp = {
      .version = k->version, .ca_files = sl->ca_files, .num_ca_files = num_ca, .verify = 1};
  if (k->identity != NULL) {
    const struct mh_pki_entity *e = &s->spec.entities[mh_pki_spec_entity(&s->spec, k->identity)];
    mh_scenario_fixture_path(s, e->chain_file ? e->chain_file : e->cert_file, sl->cert,
                             sizeof(sl->cert));
    mh_scenario_fixture_path(s, e->key_file, sl->key, sizeof(sl->key));
    pp.cert_file = sl->cert;
    pp.key_file = sl->key;
    pp.key_mismatch = e->key_mismatch;
  }
  return mh_tls_probe_ctx_new(&pp, err);
}

static void probe_done(void *arg);

// begin_case sets case |sl->idx| up and starts its probe on the slot's loop; 0, or -1 when it could
// not be set up (the run's setup error is then set).
static int begin_case(struct slot *sl) {
  struct mh_runner *r = sl->th->r;
  const struct plan *p = &r->plans[sl->idx];
  struct mh_case_result *res = &r->results[sl->idx];
  const struct mh_location *L = p->loc;
  const struct mh_case_spec *k = &p->spec;
  res->id = k->id;
  res->target = k->target;
  res->identity = k->identity;
  res->version = k->version;
  res->kind = p->kind;
  res->check = p->spec.check;
  res->profile = L->profile;
  struct mh_err err;
  if (L->is_target) {
    sl->address = L->target_host;
    sl->port = L->target_port;
  } else if (mh_federation_port(r->fed, L->name, &sl->address, &sl->port, &err) != 0) {
    mh_err_set(&err, "%s: %s has no output to probe", r->s->file, L->json_path);
    set_setup_error(r, &err);
    return -1;
  }
  sl->ctx = case_ctx(r, sl, p, &err);
  if (sl->ctx == NULL) {
    set_setup_error(r, &err);
    return -1;
  }
  res->server_name = k->server_name ? k->server_name : L->host;
  int v6 = strchr(L->host, ':') != NULL;
  snprintf(sl->host_header, sizeof(sl->host_header), "%s%s%s:%d", v6 ? "[" : "", L->host,
           v6 ? "]" : "", sl->port);
  struct mh_probe_target t = {.host = sl->address,
                              .port = sl->port,
                              .pins = r->pins,
                              .num_pins = r->num_pins,
                              .server_name = res->server_name,
                              .path = L->path ? L->path : "/",
                              .host_header = sl->host_header,
                              .request = mh_cases_request_mode(L),
                              .refusal_statuses = L->policy.refusal_statuses,
                              .num_refusal_statuses = L->policy.num_refusal_statuses};
  struct mh_probe_timeouts to;
  probe_timeouts(r, L, &to);
  sl->ch = (struct capture_hook){.pcap = r->o->pcap,
                                 .iface = r->o->capture_iface,
                                 .port = sl->port,
                                 .res = res,
                                 .run = r,
                                 .plan = sl->idx};
  struct mh_probe_hooks hooks = {
      .before_connect = capture_before_connect, .server_chain = record_chain, .arg = &sl->ch};
  if (mh_probe_start(sl->th->loop, sl->ctx, &t, &to, &hooks, &res->outcome, probe_done, sl) ==
      NULL) {
    mh_tls_ctx_free(sl->ctx);
    sl->ctx = NULL;
    mh_err_set(&err, "out of memory");
    set_setup_error(r, &err);
    return -1;
  }
  return 0;
}

// faults_may_hide says whether outcome |o| is one a network fault may have made: no answer
// (inconclusive: a stall, a reset, a corrupted record our library refused), or a refusal at TLS
// whose alert never arrived (a lost segment, then the server's RST). Such a case of an external
// target is probed again (--retries).
static int faults_may_hide(const struct mh_case_outcome *o) {
  // Refused at TCP (nothing listens) or answered in another protocol (the wrong port) is what
  // the target is, not what the path did: probing again tells nothing more.
  if (o->end == MH_END_REFUSED || o->not_tls) {
    return 0;
  }
  return o->result == MH_RESULT_INCONCLUSIVE ||
         (o->result == MH_RESULT_REJECTED && o->rejected_by == 's' && o->layer == MH_LAYER_TLS &&
          o->tls.alert_received == MH_ALERT_NONE);
}

// retry_case probes the case on |sl| again when --retries allows it (external targets only, the
// run not stopping): 1 if it started, 0 to judge this probe's outcome.
static int retry_case(struct slot *sl) {
  struct mh_runner *r = sl->th->r;
  const struct plan *p = &r->plans[sl->idx];
  struct mh_case_result *res = &r->results[sl->idx];
  int retries = r->o->retries < 0 ? 1 : r->o->retries;
  if (!p->loc->is_target || res->attempts > retries || atomic_load(&r->stop) ||
      !faults_may_hide(&res->outcome)) {
    return 0;
  }
  if (res->first_attempt[0] == '\0') {
    mh_verdict_summary(&res->outcome, res->first_attempt, sizeof(res->first_attempt));
  }
  int attempts = res->attempts;
  char first[sizeof(res->first_attempt)];
  memcpy(first, res->first_attempt, sizeof(first));
  mh_capture_packets_free(&res->packets);
  mh_probe_outcome_release(&res->outcome);
  memset(res, 0, sizeof(*res));
  res->attempts = attempts + 1;
  memcpy(res->first_attempt, first, sizeof(first));
  return begin_case(sl) == 0;
}

// judge_case gives the finished case its expectation and verdict, then the slot takes the next.
static void judge_case(struct slot *sl) {
  struct mh_runner *r = sl->th->r;
  const struct plan *p = &r->plans[sl->idx];
  struct mh_case_result *res = &r->results[sl->idx];
  if (retry_case(sl)) {
    return;
  }
  res->expect = p->expect;
  res->verdict = mh_verdict_judge(&res->expect, &res->outcome, p->spec.version, res->verdict_reason,
                                  sizeof(res->verdict_reason));
  res->manner = mh_verdict_manner(&res->expect, res->verdict);
  res->fails = mh_verdict_fails(res->verdict, r->o->strict);
  mh_verdict_summary(&res->outcome, res->summary, sizeof(res->summary));
  mh_oracle_describe(&res->expect, res->expected_text, sizeof(res->expected_text));
  // A case that was running when the run stopped is CASE_CUT: its probe's waits were cut short,
  // so its outcome says nothing.
  atomic_store(&r->states[sl->idx], atomic_load(&r->stop) ? CASE_CUT : CASE_DONE);
  sl->busy = 0;
  sl->th->busy--;
  start_next(sl);
}

// record_end ends the wait for the mock's record (it came, the wait timed out, or the run stops)
// and judges the case.
static void record_end(struct slot *sl) {
  struct mh_runner *r = sl->th->r;
  // Done first: once it returns the mocks' thread no longer sends |record_came|, so stopping it
  // leaves nothing in flight for the slot's next case.
  r->results[sl->idx].has_server = mh_records_done(&r->records, &sl->record);
  ev_timer_stop(sl->th->loop, &sl->wait);
  ev_async_stop(sl->th->loop, &sl->record_came);
  sl->waiting = 0;
  judge_case(sl);
}

static void record_came_cb(struct ev_loop *loop, ev_async *w, int revents) {
  (void)loop;
  (void)revents;
  record_end(w->data);
}

static void record_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  record_end(w->data);
}

// after_capture waits for the mock's record of the connection (mocks only): the mocks' loop
// reports it a little after the probe ended, delivered to this loop as it arrives
// (conform/records.h), SERVER_RECORD_WAIT_MS at most; then judges.
static void after_capture(struct slot *sl) {
  struct mh_runner *r = sl->th->r;
  struct mh_case_result *res = &r->results[sl->idx];
  if (r->plans[sl->idx].loc->is_target || res->outcome.local_peer[0] == '\0') {
    judge_case(sl);
    return;
  }
  sl->record = (struct mh_record_wait){.location = r->plans[sl->idx].loc->name,
                                       .loop = sl->th->loop,
                                       .wake = &sl->record_came,
                                       .out = &res->server};
  snprintf(sl->record.peer, sizeof(sl->record.peer), "%s", res->outcome.local_peer);
  ev_async_init(&sl->record_came, record_came_cb);
  sl->record_came.data = sl;
  ev_async_start(sl->th->loop, &sl->record_came);
  sl->waiting = 1;
  if (mh_records_wait(&r->records, &sl->record) || atomic_load(&r->stop)) {
    record_end(sl);
    return;
  }
  ev_timer_init(&sl->wait, record_timeout_cb, SERVER_RECORD_WAIT_MS / 1000.0, 0.);
  sl->wait.data = sl;
  ev_timer_start(sl->th->loop, &sl->wait);
}

// linger_cb takes the case's frames as they come and ends the capture as soon as the wire shows
// the connection over (mh_wire_closed), CAPTURE_LINGER_MS after the probe at the latest: a fixed
// linger cost every case 50 ms.
static void linger_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  struct slot *sl = w->data;
  struct mh_case_result *res = &sl->th->r->results[sl->idx];
  mh_capture_take(sl->ch.cap, &res->packets);
  if (!mh_wire_closed(&res->packets, res->outcome.local_port) &&
      mh_clock_now_ms() - sl->linger_from < CAPTURE_LINGER_MS && !atomic_load(&sl->th->r->stop)) {
    ev_timer_set(&sl->wait, CAPTURE_POLL_MS / 1000.0, 0.);
    ev_timer_start(sl->th->loop, &sl->wait);
    return;
  }
  unsigned dropped = mh_capture_dropped(sl->ch.cap);
  mh_capture_close(sl->ch.cap);
  sl->ch.cap = NULL;
  if (dropped > 0) {  // the cross-check would compare with a file that may lack frames
    snprintf(res->wire_mismatch, sizeof(res->wire_mismatch),
             "the kernel dropped %u frames on the capture's interface while this case was "
             "captured (its buffer was full): the file may lack some of this connection's",
             dropped);
  }
  mh_wire_analyze(&res->packets, res->outcome.local_port,
                  res->outcome.keylog != NULL ? res->outcome.keylog : "", &res->wire);
  cross_check(res);
  after_capture(sl);
}

// probe_done runs on the loop once the case's probe is over.
static void probe_done(void *arg) {
  struct slot *sl = arg;
  struct mh_runner *r = sl->th->r;
  struct mh_case_result *res = &r->results[sl->idx];
  mh_tls_ctx_free(sl->ctx);
  sl->ctx = NULL;
  pthread_mutex_lock(&r->arena_mu);  // the run's arena is shared by the loop threads
  res->endpoint = case_endpoint(r->a, sl->address, sl->port, res->outcome.remote);
  pthread_mutex_unlock(&r->arena_mu);
  if (sl->ch.cap != NULL) {
    sl->linger_from = mh_clock_now_ms();
    memset(&res->packets, 0, sizeof(res->packets));
    ev_timer_init(&sl->wait, linger_cb, 0., 0.);
    sl->wait.data = sl;
    ev_timer_start(sl->th->loop, &sl->wait);
    return;
  }
  mh_probe_outcome_forget_keys(&res->outcome);  // only a capture file carries them
  after_capture(sl);
}

// start_next starts the next planned case on |sl|, unless none is left or the run stops.
static void start_next(struct slot *sl) {
  struct mh_runner *r = sl->th->r;
  for (;;) {
    if (atomic_load(&r->setup_failed) || atomic_load(&r->stop)) {
      return;
    }
    size_t i = atomic_fetch_add(&r->next, 1);
    if (i >= r->num_plans) {
      return;
    }
    sl->idx = i;
    r->started_at[i] = mh_clock_now_ms();
    atomic_store(&r->states[i], CASE_RUNNING);
    r->results[i].attempts = 1;
    if (begin_case(sl) == 0) {
      sl->busy = 1;
      sl->th->busy++;
      return;
    }
    atomic_store(&r->states[i], CASE_DONE);
  }
}

// tick_cb ends the loop once its slots are idle; when the run stops, it cuts the waits for the
// mocks' records short (the probes end their own waits).
static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)revents;
  struct probe_loop *th = w->data;
  for (size_t i = 0; i < th->num_slots && atomic_load(&th->r->stop); i++) {
    if (th->slots[i].waiting) {
      record_end(&th->slots[i]);
    }
  }
  if (th->busy == 0) {
    ev_break(loop, EVBREAK_ALL);
  }
}

// worker_left counts a loop thread out; the last one wakes the watch, which would otherwise see
// the end of the run only at its next poll (up to WATCH_MS later: 100 ms of a 130 ms run).
static void worker_left(struct mh_runner *r) {
  if (atomic_fetch_sub(&r->workers_left, 1) == 1 && r->workers_done_fd >= 0) {
    uint64_t one = 1;
    (void)!write(r->workers_done_fd, &one, sizeof(one));
  }
}

// lthread_main runs one loop thread until its slots are idle and no case is left to start.
static void *lthread_main(void *arg) {
  struct probe_loop *th = arg;
  for (size_t i = 0; i < th->num_slots; i++) {
    th->slots[i].th = th;
    th->slots[i].wait.data = &th->slots[i];
    start_next(&th->slots[i]);
  }
  ev_timer_init(&th->tick, tick_cb, 0., 0.01);
  th->tick.data = th;
  ev_timer_start(th->loop, &th->tick);
  ev_run(th->loop, 0);
  ev_timer_stop(th->loop, &th->tick);
  worker_left(th->r);
  return NULL;
}

#define MAX_JOBS 256
#define WATCH_MS 100  // how often the main thread looks at signals, the deadline and the progress

// progress_state counts the cases done and failed and finds the one running longest.
static void progress_state(const struct mh_runner *r, double now, struct mh_progress_state *st) {
  memset(st, 0, sizeof(*st));
  st->total = r->num_plans;
  for (size_t i = 0; i < r->num_plans; i++) {
    int state = atomic_load(&r->states[i]);
    if (state == CASE_DONE) {
      st->done++;
      st->failed += r->results[i].fails;
    } else if (state == CASE_RUNNING && now - r->started_at[i] > st->slowest_ms) {
      st->slowest_ms = now - r->started_at[i];
      st->slowest_id = r->plans[i].spec.id;
    }
  }
}

// watch runs on the main thread while the workers run: it shows the progress, and stops the run
// on SIGINT/SIGTERM (o->interrupt) or at the --timeout deadline (|deadline|, 0: none). It returns
// once every loop thread has left.
static void watch(struct mh_runner *r, double deadline) {
  struct mh_progress pg;
  mh_progress_init(&pg, stderr, !r->o->quiet, mh_clock_now_ms());
  while (atomic_load(&r->workers_left) > 0) {
    int sig = mh_interrupt_wait(r->o->interrupt, r->workers_done_fd, WATCH_MS);
    double now = mh_clock_now_ms();
    if (!atomic_load(&r->stop) && (sig != 0 || (deadline > 0 && now >= deadline))) {
      r->signo = sig;
      r->timed_out = sig == 0;
      atomic_store(&r->stop, 1);
    }
    if (mh_progress_due(&pg, now)) {
      struct mh_progress_state st;
      progress_state(r, now, &st);
      mh_progress_show(&pg, &st, now);
    }
  }
  mh_progress_end(&pg);
}

#define MAX_LOOPS 8

// capture_hub makes the run's captures (capture.h), filtered on the ports its cases probe: an
// external target's, a mock's bound one.
static struct mh_capture_hub *capture_hub(struct mh_runner *r) {
  int *ports = calloc(r->num_plans + 1, sizeof(*ports));
  size_t n = 0;
  for (size_t i = 0; ports != NULL && i < r->num_plans; i++) {
    const struct mh_location *L = r->plans[i].loc;
    const char *address;
    int port = L->target_port;
    struct mh_err err;
    if (L->is_target || mh_federation_port(r->fed, L->name, &address, &port, &err) == 0) {
      ports[n++] = port;
    }
  }
  struct mh_capture_hub *hub = ports != NULL ? mh_capture_hub_new(ports, n) : NULL;
  free(ports);
  return hub;
}

// One loop thread per core, MAX_LOOPS at most; |jobs| slots shared among them.
int mh_cases_run(struct mh_runner *r, int jobs, double deadline, struct mh_err *err) {
  jobs = jobs > 0 ? jobs : 1;
  jobs = (size_t)jobs > r->num_plans ? (int)r->num_plans : jobs;
  jobs = jobs > MAX_JOBS ? MAX_JOBS : jobs;
  if (r->o->pcap) {
    r->capture_hub = capture_hub(r);  // NULL (out of memory): each case says it was skipped
  }
  r->extra_results = r->num_targets + r->s->spec.num_entities + 1;
  r->results = mh_arena_alloc_array(r->a, r->num_plans + r->extra_results, sizeof(*r->results));
  r->states = mh_arena_alloc_array(r->a, r->num_plans, sizeof(*r->states));
  r->started_at = mh_arena_alloc_array(r->a, r->num_plans, sizeof(*r->started_at));
  struct slot *slots = mh_arena_alloc_array(r->a, (size_t)jobs, sizeof(*slots));
  if (r->results == NULL || r->states == NULL || r->started_at == NULL || slots == NULL) {
    return mh_err_set(err, "out of memory");
  }
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  int num_loops = cores < 1 ? 1 : cores > MAX_LOOPS ? MAX_LOOPS : (int)cores;
  num_loops = num_loops > jobs ? jobs : num_loops;
  // A signal that came while the fixtures were generated stops the run before its first case.
  r->signo = mh_interrupt_poll(r->o->interrupt, 0);
  atomic_store(&r->stop, r->signo != 0);
  struct probe_loop threads[MAX_LOOPS];
  memset(threads, 0, sizeof(threads));
  int started = 0;
  atomic_store(&r->workers_left, num_loops);
  r->workers_done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);  // -1: the watch polls, slower
  size_t first = 0;
  for (int i = 0; i < num_loops; i++) {
    struct probe_loop *th = &threads[i];
    th->r = r;
    th->slots = slots + first;
    th->num_slots = (size_t)(jobs / num_loops + (i < jobs % num_loops));
    first += th->num_slots;
    th->loop = ev_loop_new(EVFLAG_AUTO);
    if (th->loop != NULL && pthread_create(&th->tid, NULL, lthread_main, th) == 0) {
      started++;
      continue;
    }
    worker_left(r);
    if (th->loop != NULL) {
      ev_loop_destroy(th->loop);
      th->loop = NULL;
    }
  }
  if (started == 0) {
    if (r->workers_done_fd >= 0) {
      close(r->workers_done_fd);
    }
    return mh_err_set(err, "cannot start the probes' event loop threads");
  }
  watch(r, deadline);
  for (int i = 0; i < num_loops; i++) {
    if (threads[i].loop != NULL) {
      pthread_join(threads[i].tid, NULL);
      ev_loop_destroy(threads[i].loop);
    }
  }
  if (r->workers_done_fd >= 0) {
    close(r->workers_done_fd);
    r->workers_done_fd = -1;
  }
  mh_capture_hub_free(r->capture_hub);  // every case's tap is closed by now
  r->capture_hub = NULL;
  if (atomic_load(&r->setup_failed)) {
    *err = r->setup_err;
    return -1;
  }
  return jobs;
}
