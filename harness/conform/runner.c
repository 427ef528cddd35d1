// runner: matrices of cases against mock and external targets (see runner.h).
//
// Threads: the mock federation runs on its own libev loop thread; cases run on a few probe loop
// threads (one per core), |jobs| of them in flight at once, each a state machine on its loop
// (conform/probe.h) that never blocks; the main thread watches signals, the deadline and progress.
// What the mocks saw of each connection reaches the cases through an observer table guarded by a
// mutex, keyed by the client's address and port.
#include "conform/runner.h"

#include <ev.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alerts.h"
#include "base/clock.h"
#include "base/interrupt.h"
#include "base/net.h"
#include "base/printable.h"
#include "mock/endpoint.h"
#include "mock/events.h"
#include "mock/pebble.h"
#include "conform/oracle.h"
#include "pki/pki.h"
#include "conform/probe.h"
#include "conform/progress.h"
#include "conform/warnings.h"
#include "report/report.h"
#include "tls/tls.h"
#include "capture/wire.h"

#define SERVER_RECORD_WAIT_MS 1500
#define CAPTURE_LINGER_MS 50

// records collects what the mocks saw, for the cases to pick up.
struct records {
  pthread_mutex_t mu;
  struct mh_server_record *items;
  size_t num, cap;
};

static void records_observe(void *arg, const struct mh_server_record *rec) {
  struct records *r = arg;
  pthread_mutex_lock(&r->mu);
  if (r->num == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 256;
    struct mh_server_record *p = realloc(r->items, cap * sizeof(*p));
    if (p == NULL) {
      pthread_mutex_unlock(&r->mu);
      return;
    }
    r->items = p;
    r->cap = cap;
  }
  r->items[r->num++] = *rec;
  pthread_mutex_unlock(&r->mu);
}

static int records_find(struct records *r, const char *location, const char *peer,
                        struct mh_server_record *out) {
  int found = 0;
  pthread_mutex_lock(&r->mu);
  for (size_t i = r->num; i > 0 && !found; i--) {
    if (strcmp(r->items[i - 1].peer, peer) == 0 &&
        strcmp(r->items[i - 1].location, location) == 0) {
      *out = r->items[i - 1];
      found = 1;
    }
  }
  pthread_mutex_unlock(&r->mu);
  return found;
}

// case_state is where a planned case is; a loop thread stores it after the case's result, the main
// thread reads it for the progress line and to know which results are complete.
enum case_state { CASE_PENDING, CASE_RUNNING, CASE_DONE, CASE_CUT };

// plan is one case to run.
struct plan {
  struct mh_case_spec spec;
  const struct mh_location *loc;  // the policy (the variant, for variant cases)
  const struct mh_profile *profile;
  const char *kind;
};

#define MAX_PROFILES 16

struct run {
  const struct mh_scenario *s;  // with variant locations appended
  const struct mh_run_options *o;
  struct mh_arena *a;
  struct mh_profile profiles[MAX_PROFILES];  // the stacks of the scenario's locations
  size_t num_profiles;
  struct ev_loop *loop;  // the mocks' loop, on their own thread
  struct mh_events events;
  struct plan *plans;
  size_t num_plans, cap_plans;
  struct mh_case_result *results;
  struct mh_federation *fed;
  struct mh_pebble *pebble;  // the scenario's ACME test server, if it starts one
  struct records records;
  struct mh_net_pin *pins;  // --resolve first, then the scenario's "resolve"
  size_t num_pins;
  atomic_size_t next;
  // Stopping early (docs/runner.md, "Interrupted and timed-out runs"): |stop| set, no case starts
  // and running probes end their waits; the main thread, the only one that reads the signalfd and
  // the clock's deadline, sets it and records why in |signo| or |timed_out|.
  atomic_int stop;
  int signo;
  int timed_out;
  _Atomic int *states;  // per plan: enum case_state
  double *started_at;   // per plan: mh_clock_now_ms when it started, valid from CASE_RUNNING
  atomic_int workers_left;
  atomic_int setup_failed;
  struct mh_err setup_err;
  pthread_mutex_t err_mu;
  pthread_mutex_t arena_mu;  // |a| while the loop threads run
};

static int add_plan(struct run *r, const struct mh_case_spec *k, const char *kind) {
  if (r->o->filter != NULL && fnmatch(r->o->filter, k->id, 0) != 0) {
    return 0;
  }
  if (r->num_plans == r->cap_plans) {
    size_t cap = r->cap_plans ? r->cap_plans * 2 : 64;
    struct plan *p = realloc(r->plans, cap * sizeof(*p));
    if (p == NULL) {
      return -1;
    }
    r->plans = p;
    r->cap_plans = cap;
  }
  struct plan *p = &r->plans[r->num_plans++];
  memset(p, 0, sizeof(*p));
  p->spec = *k;
  p->kind = kind;
  return 0;
}

// allowed_identity picks the first matrix identity the oracle lets into |L| (for the server-side
// checks, whose client must otherwise be welcome), or NULL for none.
static const char *allowed_identity(const struct mh_scenario *s, const struct mh_location *L,
                                    const struct mh_profile *profile, int version) {
  for (size_t i = 0; i < s->matrix.num_identities; i++) {
    struct mh_case_spec k = {.target = L->name, .version = version};
    k.identity = strcmp(s->matrix.identities[i], "none") == 0 ? NULL : s->matrix.identities[i];
    struct mh_expectation x;
    struct mh_err err;  // an unreadable certificate is reported when its case runs
    if (mh_oracle_expect(s, L, &k, profile, &x, &err) == 0 && !x.reject) {
      return k.identity;
    }
  }
  return NULL;
}

static const char *version_tag(int v) {
  return v == MH_TLS13 ? "tls1.3" : "tls1.2";
}

static const struct mh_profile *profile_of(struct run *r, const char *location);

static int expand_matrix(struct run *r, const struct mh_scenario *s) {
  const struct mh_matrix *m = &s->matrix;
  for (size_t t = 0; t < m->num_targets; t++) {
    const struct mh_location *L = mh_scenario_location(s, m->targets[t]);
    const struct mh_profile *prof = profile_of(r, L->name);
    for (size_t i = 0; i < m->num_identities; i++) {
      for (size_t v = 0; v < m->num_versions; v++) {
        struct mh_case_spec k = {.target = L->name, .version = m->versions[v]};
        k.identity = strcmp(m->identities[i], "none") == 0 ? NULL : m->identities[i];
        k.id = mh_arena_sprintf(r->a, "%s/%s/%s", L->name, m->identities[i],
                                version_tag(m->versions[v]));
        if (k.id == NULL || add_plan(r, &k, "matrix") != 0) {
          return -1;
        }
      }
    }
    const char *ok = allowed_identity(s, L, prof, MH_TLS13);
    struct mh_case_spec base = {.target = L->name, .version = MH_TLS13, .identity = ok};
    if (m->min_tls13_check && !L->is_target) {
      struct mh_case_spec k = base;
      k.version = MH_TLS12;
      k.min_tls13 = 1;
      k.identity = allowed_identity(s, L, prof, MH_TLS12);
      k.id = mh_arena_sprintf(r->a, "%s/tls1.2-only-client-vs-tls1.3-minimum", L->name);
      if (k.id == NULL || add_plan(r, &k, "matrix") != 0) {
        return -1;
      }
    }
    if (m->wrong_server_name != NULL) {
      struct mh_case_spec k = base;
      k.server_name = m->wrong_server_name;
      k.id = mh_arena_sprintf(r->a, "%s/server-check:wrong-name/tls1.3", L->name);
      if (k.id == NULL || add_plan(r, &k, "matrix") != 0) {
        return -1;
      }
    }
    if (m->cn_only_identity != NULL && !L->is_target) {
      struct mh_case_spec k = base;
      k.server_identity = m->cn_only_identity;
      k.id = mh_arena_sprintf(r->a, "%s/server-check:cn-only-certificate/tls1.3", L->name);
      if (k.id == NULL || add_plan(r, &k, "matrix") != 0) {
        return -1;
      }
    }
    if (m->untrusted_ca != NULL) {
      struct mh_case_spec k = base;
      k.trust_ca = m->untrusted_ca;
      k.id = mh_arena_sprintf(r->a, "%s/server-check:untrusted-server/tls1.3", L->name);
      if (k.id == NULL || add_plan(r, &k, "matrix") != 0) {
        return -1;
      }
    }
  }
  return 0;
}

// --- profiles ---

static const struct mh_profile *find_profile(const struct run *r, const char *name) {
  for (size_t i = 0; name != NULL && i < r->num_profiles; i++) {
    if (strcmp(r->profiles[i].name, name) == 0) {
      return &r->profiles[i];
    }
  }
  return NULL;
}

// load_profiles loads each stack profile the scenario's locations name, once.
static int load_profiles(struct run *r, struct mh_err *err) {
  r->num_profiles = 0;
  for (size_t i = 0; i < r->s->num_locations; i++) {
    const char *name = r->s->locations[i].profile;
    if (name == NULL || find_profile(r, name) != NULL) {
      continue;
    }
    if (r->num_profiles == MAX_PROFILES) {
      return mh_err_set(err, "%s: more than %d profiles", r->s->file, MAX_PROFILES);
    }
    if (mh_profile_load(r->a, r->o->profiles_dir, name, &r->profiles[r->num_profiles], err) != 0) {
      return -1;
    }
    r->num_profiles++;
  }
  return 0;
}

static const struct mh_profile *profile_of(struct run *r, const char *location) {
  const struct mh_location *L = mh_scenario_location(r->s, location);
  return L != NULL ? find_profile(r, L->profile) : NULL;
}

// --- variants: copies of a mock location that present another certificate or version floor ---

static const struct mh_location *variant_of(struct run *r, struct mh_scenario *s,
                                            const struct mh_location *L, const struct plan *p,
                                            size_t *num_locs, size_t cap) {
  char name[256];
  if (p->spec.min_tls13) {
    snprintf(name, sizeof(name), "%s~tls1.3-minimum", L->name);
  } else {
    snprintf(name, sizeof(name), "%s~cert:%s", L->name, p->spec.server_identity);
  }
  for (size_t i = 0; i < *num_locs; i++) {
    if (strcmp(s->locations[i].name, name) == 0) {
      return &s->locations[i];
    }
  }
  if (*num_locs == cap) {
    return NULL;
  }
  struct mh_location *v = &s->locations[(*num_locs)++];
  *v = *L;
  v->name = mh_arena_strdup(r->a, name);
  v->json_path = mh_arena_sprintf(r->a, "%s (variant)", L->json_path);
  v->emit_rate = 0;
  v->components = mh_arena_alloc_array(r->a, L->num_components + 1, sizeof(*v->components));
  v->num_components = 0;
  for (size_t k = 0; k < L->num_components; k++) {
    if (L->components[k].kind == MH_COMP_WS_OUTPUT) {
      v->components[v->num_components++] = L->components[k];
    }
  }
  if (p->spec.min_tls13) {
    v->server.min_version = MH_TLS13;
  } else {
    int idx = mh_pki_spec_entity(&s->spec, p->spec.server_identity);
    char path[4096];
    mh_scenario_fixture_path(s, s->spec.entities[idx].cert_file, path, sizeof(path));
    v->server.cert_file = mh_arena_strdup(r->a, path);
    mh_scenario_fixture_path(s, s->spec.entities[idx].key_file, path, sizeof(path));
    v->server.key_file = mh_arena_strdup(r->a, path);
  }
  return v;
}

// --- cases ---

// wipe_secrets wipes a case's TLS secrets once the reports are written.
static void wipe_secrets(char *keylog) {
  explicit_bzero(keylog, strlen(keylog));
}

static void set_setup_error(struct run *r, const struct mh_err *e) {
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
struct capture_hook {
  const char *iface;  // NULL: by address
  int port;
  struct mh_capture *cap;
  struct mh_case_result *res;
};

static void capture_before_connect(void *arg, const char *remote_ip, int local_port) {
  struct capture_hook *h = arg;
  if (h->cap != NULL) {  // an earlier address of the name did not connect: only the last counts
    struct mh_packets dropped;
    memset(&dropped, 0, sizeof(dropped));
    mh_capture_collect(h->cap, 0, &dropped);
    mh_capture_packets_free(&dropped);
    h->cap = NULL;
  }
  const char *iface = h->iface ? h->iface : mh_net_is_loopback(remote_ip) ? "lo" : "any";
  char filter[256];
  snprintf(filter, sizeof(filter), "tcp and host %s and port %d and port %d", remote_ip, h->port,
           local_port);
  struct mh_err err;
  int denied;
  h->cap = mh_capture_open(iface, filter, &denied, &err);
  if (h->cap == NULL) {
    h->res->capture = 2;
    snprintf(h->res->capture_note, sizeof(h->res->capture_note), "%.290s", err.msg);
  } else {
    h->res->capture = 1;
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

// --- cases: each a state machine on one of a few loop threads ---

struct lthread;

// slot is one case in flight on a loop thread: its setup, its probe, then the capture's linger
// and the mock's record of the connection, each a timer on the loop, never a blocking wait.
struct slot {
  struct lthread *th;
  size_t idx;
  int busy;
  struct mh_tls_ctx *ctx;
  struct capture_hook ch;
  char ca_path[4096], cert[4096], key[4096];
  const char *ca_files[8];
  char host_header[300];
  const char *address;
  int port;
  ev_timer wait;  // the capture's linger, then polling for the mock's record
  double record_deadline;
};

// lthread is one loop thread and the slots it keeps busy.
struct lthread {
  struct run *r;
  struct ev_loop *loop;
  struct slot *slots;
  size_t num_slots;
  size_t busy;
  ev_timer tick;  // ends the loop once nothing is in flight and nothing more may start
  pthread_t tid;
};

static void start_next(struct slot *sl);

// request_mode resolves a location's request mode: the WebSocket upgrade for a mock and a
// target with the "semstreams" profile, an HTTP GET for other targets (docs/scenarios.md).
static enum mh_request_mode request_mode(const struct mh_location *L) {
  if (L->request != MH_REQUEST_DEFAULT) {
    return L->request;
  }
  int semstreams = L->profile != NULL && strcmp(L->profile, "semstreams") == 0;
  return !L->is_target || semstreams ? MH_REQUEST_WEBSOCKET : MH_REQUEST_HTTP;
}

// probe_timeouts fills |to| with the location's deadlines (docs/runner.md, "Probes").
static void probe_timeouts(struct run *r, const struct mh_location *L,
                           struct mh_probe_timeouts *to) {
  enum mh_request_mode mode = request_mode(L);
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
static struct mh_tls_ctx *case_ctx(struct run *r, struct slot *sl, const struct plan *p,
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
  struct run *r = sl->th->r;
  const struct plan *p = &r->plans[sl->idx];
  struct mh_case_result *res = &r->results[sl->idx];
  const struct mh_location *L = p->loc;
  const struct mh_case_spec *k = &p->spec;
  res->id = k->id;
  res->target = k->target;
  res->identity = k->identity;
  res->version = k->version;
  res->kind = p->kind;
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
                              .request = request_mode(L)};
  struct mh_probe_timeouts to;
  probe_timeouts(r, L, &to);
  sl->ch = (struct capture_hook){.iface = r->o->capture_iface, .port = sl->port, .res = res};
  struct mh_probe_hooks hooks = {.before_connect = capture_before_connect, .arg = &sl->ch};
  if (mh_probe_start(sl->th->loop, sl->ctx, &t, &to, r->o->pcap ? &hooks : NULL, &res->outcome,
                     probe_done, sl) == NULL) {
    mh_tls_ctx_free(sl->ctx);
    sl->ctx = NULL;
    mh_err_set(&err, "out of memory");
    set_setup_error(r, &err);
    return -1;
  }
  return 0;
}

// judge_case gives the finished case its expectation and verdict, then the slot takes the next.
static void judge_case(struct slot *sl) {
  struct run *r = sl->th->r;
  const struct plan *p = &r->plans[sl->idx];
  struct mh_case_result *res = &r->results[sl->idx];
  struct mh_err xerr;
  if (mh_oracle_expect(r->s, p->loc, &p->spec, p->profile, &res->expect, &xerr) != 0) {
    set_setup_error(r, &xerr);
  } else {
    res->verdict = mh_oracle_verdict(&res->expect, &res->outcome, p->spec.version,
                                     res->verdict_reason, sizeof(res->verdict_reason));
    res->fails = mh_verdict_fails(res->verdict, r->o->strict);
    mh_oracle_outcome_summary(&res->outcome, res->summary, sizeof(res->summary));
    mh_oracle_describe(&res->expect, res->expected_text, sizeof(res->expected_text));
  }
  // A case that was running when the run stopped is CASE_CUT: its probe's waits were cut short,
  // so its outcome says nothing.
  atomic_store(&r->states[sl->idx], atomic_load(&r->stop) ? CASE_CUT : CASE_DONE);
  sl->busy = 0;
  sl->th->busy--;
  start_next(sl);
}

// record_cb polls (every 5 ms, SERVER_RECORD_WAIT_MS at most) for what the mock saw of the case's
// connection: the mock's loop reports it a little after the probe ended.
static void record_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)revents;
  struct slot *sl = w->data;
  struct run *r = sl->th->r;
  struct mh_case_result *res = &r->results[sl->idx];
  res->has_server =
      records_find(&r->records, r->plans[sl->idx].loc->name, res->outcome.local_peer, &res->server);
  if (res->has_server || mh_clock_now_ms() >= sl->record_deadline || atomic_load(&r->stop)) {
    ev_timer_stop(loop, w);
    judge_case(sl);
  }
}

// after_capture waits for the mock's record of the connection (mocks only), then judges.
static void after_capture(struct slot *sl) {
  struct run *r = sl->th->r;
  struct mh_case_result *res = &r->results[sl->idx];
  if (r->plans[sl->idx].loc->is_target || res->outcome.local_peer[0] == '\0') {
    judge_case(sl);
    return;
  }
  sl->record_deadline = mh_clock_now_ms() + SERVER_RECORD_WAIT_MS;
  ev_init(&sl->wait, record_cb);
  sl->wait.repeat = 0.005;
  ev_timer_again(sl->th->loop, &sl->wait);
  ev_invoke(sl->th->loop, &sl->wait, EV_TIMER);  // it may be there already
}

// linger_cb collects the case's capture once its last frames (FIN, RST) had time to arrive.
static void linger_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  struct slot *sl = w->data;
  struct mh_case_result *res = &sl->th->r->results[sl->idx];
  mh_capture_collect(sl->ch.cap, 0, &res->packets);
  sl->ch.cap = NULL;
  mh_wire_analyze(&res->packets, res->outcome.local_port, res->outcome.keylog, &res->wire);
  cross_check(res);
  after_capture(sl);
}

// probe_done runs on the loop once the case's probe is over.
static void probe_done(void *arg) {
  struct slot *sl = arg;
  struct run *r = sl->th->r;
  struct mh_case_result *res = &r->results[sl->idx];
  mh_tls_ctx_free(sl->ctx);
  sl->ctx = NULL;
  pthread_mutex_lock(&r->arena_mu);  // the run's arena is shared by the loop threads
  res->endpoint = case_endpoint(r->a, sl->address, sl->port, res->outcome.remote);
  pthread_mutex_unlock(&r->arena_mu);
  if (sl->ch.cap != NULL) {
    ev_timer_init(&sl->wait, linger_cb, CAPTURE_LINGER_MS / 1000.0, 0.);
    sl->wait.data = sl;
    ev_timer_start(sl->th->loop, &sl->wait);
    return;
  }
  after_capture(sl);
}

// start_next starts the next planned case on |sl|, unless none is left or the run stops.
static void start_next(struct slot *sl) {
  struct run *r = sl->th->r;
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
    if (begin_case(sl) == 0) {
      sl->busy = 1;
      sl->th->busy++;
      return;
    }
    atomic_store(&r->states[i], CASE_DONE);
  }
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)revents;
  struct lthread *th = w->data;
  if (th->busy == 0) {
    ev_break(loop, EVBREAK_ALL);
  }
}

// lthread_main runs one loop thread until its slots are idle and no case is left to start.
static void *lthread_main(void *arg) {
  struct lthread *th = arg;
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
  atomic_fetch_sub(&th->r->workers_left, 1);
  return NULL;
}

static int compare_baseline(struct run *r, struct mh_report *rep, struct mh_err *err) {
  struct mh_baseline_entry *base;
  size_t num_base;
  if (mh_baseline_load(r->a, r->o->baseline, &base, &num_base, err) != 0) {
    return -1;
  }
  rep->baseline_file = r->o->baseline;
  rep->changes = mh_arena_alloc_array(r->a, r->num_plans + num_base + 1, sizeof(*rep->changes));
  if (rep->changes == NULL) {
    return mh_err_set(err, "out of memory");
  }
  for (size_t i = 0; i < rep->num_cases; i++) {
    const struct mh_case_result *c = &rep->cases[i];
    const char *now = mh_arena_sprintf(r->a, "%s: %s", mh_verdict_name(c->verdict), c->summary);
    const char *before = "(absent)";
    for (size_t j = 0; j < num_base; j++) {
      if (strcmp(base[j].id, c->id) == 0) {
        before = mh_arena_sprintf(r->a, "%s: %s", base[j].verdict, base[j].outcome);
        break;
      }
    }
    if (strcmp(before, now) != 0) {
      rep->changes[rep->num_changes++] = (struct mh_baseline_change){c->id, before, now};
    }
  }
  for (size_t j = 0; j < num_base; j++) {
    int present = 0;
    for (size_t i = 0; i < rep->num_cases && !present; i++) {
      present = strcmp(base[j].id, rep->cases[i].id) == 0;
    }
    if (!present && (r->o->filter == NULL || fnmatch(r->o->filter, base[j].id, 0) == 0)) {
      rep->changes[rep->num_changes++] = (struct mh_baseline_change){
          base[j].id, mh_arena_sprintf(r->a, "%s: %s", base[j].verdict, base[j].outcome),
          "(absent)"};
    }
  }
  return 0;
}

// plan_cases makes the run's own copy of |s_in| (with room for variant locations), loads the
// profiles and lists every case to run: the explicit ones, then the matrix; each gets the location
// whose policy it meets (a variant where the case needs another certificate or version floor).
static int plan_cases(struct run *r, const struct mh_scenario *s_in, struct mh_err *err) {
  struct mh_scenario *s = mh_arena_alloc(r->a, sizeof(*s));
  size_t cap = s_in->num_locations * 3 + 2;
  if (s == NULL) {
    return mh_err_set(err, "out of memory");
  }
  *s = *s_in;
  s->locations = mh_arena_alloc_array(r->a, cap, sizeof(*s->locations));
  if (s->locations == NULL) {
    return mh_err_set(err, "out of memory");
  }
  memcpy(s->locations, s_in->locations, s_in->num_locations * sizeof(*s->locations));
  r->s = s;
  if (load_profiles(r, err) != 0) {
    return -1;
  }
  for (size_t i = 0; i < s_in->num_cases; i++) {
    if (add_plan(r, &s_in->cases[i], "explicit") != 0) {
      return mh_err_set(err, "out of memory");
    }
  }
  if (s->has_matrix && expand_matrix(r, s) != 0) {
    return mh_err_set(err, "out of memory");
  }
  if (r->num_plans == 0) {
    return mh_err_set(err, "%s: no case to run (add \"matrix\" or \"cases\"%s)", s->file,
                      r->o->filter ? ", or widen --filter" : "");
  }
  size_t num_locs = s->num_locations;
  for (size_t i = 0; i < r->num_plans; i++) {
    struct plan *p = &r->plans[i];
    const struct mh_location *L = mh_scenario_location(s, p->spec.target);
    p->profile = find_profile(r, L->profile);
    p->loc = L;
    if (p->spec.min_tls13 || p->spec.server_identity != NULL) {
      p->loc = variant_of(r, s, L, p, &num_locs, cap);
      if (p->loc == NULL) {
        return mh_err_set(err, "%s: too many variant locations", s->file);
      }
    }
  }
  s->num_locations = num_locs;
  return 0;
}

// start_mocks opens the event log and starts the mock locations (not the
// external targets, which are only probed) on their own thread.
static int start_mocks(struct run *r, struct mh_err *err) {
  const struct mh_scenario *s = r->s;
  char *events_path = mh_arena_sprintf(r->a, "%s/events.jsonl", r->o->out_dir);
  if (events_path == NULL || mh_events_open(&r->events, events_path, err) != 0) {
    return -1;
  }
  r->events.log_to_stderr = 0;
  r->events.observe = records_observe;
  r->events.observe_arg = &r->records;
  // Variants point into |s|; the federation finds them by name in |mocks|.
  struct mh_scenario *mocks = mh_arena_alloc(r->a, sizeof(*mocks));
  if (mocks == NULL) {
    return mh_err_set(err, "out of memory");
  }
  *mocks = *s;
  mocks->locations = mh_arena_alloc_array(r->a, s->num_locations + 1, sizeof(*mocks->locations));
  mocks->num_locations = 0;
  for (size_t i = 0; i < s->num_locations; i++) {
    if (!s->locations[i].is_target) {
      mocks->locations[mocks->num_locations++] = s->locations[i];
    }
  }
  if (mocks->num_locations == 0) {
    return 0;
  }
  r->loop = ev_loop_new(EVFLAG_AUTO);
  if (r->loop == NULL) {
    return mh_err_set(err, "cannot create an event loop for the mocks");
  }
  struct mh_federation_options fopts = {.ephemeral_ports = 1};
  r->fed = mh_federation_new(r->loop, mocks, &r->events, &fopts, err);
  if (r->fed == NULL || mh_federation_start_thread(r->fed, err) != 0) {
    return -1;
  }
  return 0;
}

#define MAX_JOBS 256
#define WATCH_MS 100  // how often the main thread looks at signals, the deadline and the progress

// progress_state counts the cases done and failed and finds the one running longest.
static void progress_state(const struct run *r, double now, struct mh_progress_state *st) {
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
static void watch(struct run *r, double deadline) {
  struct mh_progress pg;
  mh_progress_init(&pg, stderr, !r->o->quiet, mh_clock_now_ms());
  while (atomic_load(&r->workers_left) > 0) {
    int sig = mh_interrupt_poll(r->o->interrupt, WATCH_MS);
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

// run_cases runs every planned case, |jobs| of them in flight at once on a few loop threads (one
// per core, MAX_LOOPS at most), until all are done or the run stops (watch), and returns how many
// ran concurrently, or -1 with |err| set when a case could not be set up.
static int run_cases(struct run *r, int jobs, double deadline, struct mh_err *err) {
  jobs = jobs > 0 ? jobs : 1;
  jobs = (size_t)jobs > r->num_plans ? (int)r->num_plans : jobs;
  jobs = jobs > MAX_JOBS ? MAX_JOBS : jobs;
  r->results = mh_arena_alloc_array(r->a, r->num_plans, sizeof(*r->results));
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
  struct lthread threads[MAX_LOOPS];
  memset(threads, 0, sizeof(threads));
  int started = 0;
  atomic_store(&r->workers_left, num_loops);
  size_t first = 0;
  for (int i = 0; i < num_loops; i++) {
    struct lthread *th = &threads[i];
    th->r = r;
    th->slots = slots + first;
    th->num_slots = (size_t)(jobs / num_loops + (i < jobs % num_loops));
    first += th->num_slots;
    th->loop = ev_loop_new(EVFLAG_AUTO);
    if (th->loop != NULL && pthread_create(&th->tid, NULL, lthread_main, th) == 0) {
      started++;
      continue;
    }
    atomic_fetch_sub(&r->workers_left, 1);
    if (th->loop != NULL) {
      ev_loop_destroy(th->loop);
      th->loop = NULL;
    }
  }
  if (started == 0) {
    return mh_err_set(err, "cannot start the probes' event loop threads");
  }
  watch(r, deadline);
  for (int i = 0; i < num_loops; i++) {
    if (threads[i].loop != NULL) {
      pthread_join(threads[i].tid, NULL);
      ev_loop_destroy(threads[i].loop);
    }
  }
  if (atomic_load(&r->setup_failed)) {
    *err = r->setup_err;
    return -1;
  }
  return jobs;
}

// abandon_case records case |idx|, which did not finish before the --timeout deadline, as
// inconclusive: "run timed out". What a cut probe saw is dropped (it ended early, not the target).
static void abandon_case(struct run *r, size_t idx) {
  const struct plan *p = &r->plans[idx];
  struct mh_case_result *res = &r->results[idx];
  mh_capture_packets_free(&res->packets);
  explicit_bzero(res, sizeof(*res));
  res->id = p->spec.id;
  res->target = p->spec.target;
  res->identity = p->spec.identity;
  res->version = p->spec.version;
  res->kind = p->kind;
  res->profile = p->loc->profile;
  res->server_name = p->spec.server_name ? p->spec.server_name : p->loc->host;
  res->endpoint = MH_REPORT_NOT_PROBED;
  res->outcome.result = MH_RESULT_INCONCLUSIVE;
  res->outcome.request = request_mode(p->loc);
  res->outcome.tls.alert_sent = res->outcome.tls.alert_received = MH_ALERT_NONE;
  struct mh_err ignored;  // an unreadable certificate leaves the expectation blank
  if (mh_oracle_expect(r->s, p->loc, &p->spec, p->profile, &res->expect, &ignored) == 0) {
    mh_oracle_describe(&res->expect, res->expected_text, sizeof(res->expected_text));
  }
  res->verdict = MH_VERDICT_INCONCLUSIVE;
  res->fails = mh_verdict_fails(res->verdict, r->o->strict);
  snprintf(res->summary, sizeof(res->summary), "not finished: run timed out");
  snprintf(res->verdict_reason, sizeof(res->verdict_reason),
           "run timed out (--timeout %.0f s) before this case finished", r->o->timeout_s);
}

// reported_cases returns the cases the report holds: every case, the unfinished ones abandoned,
// when the run timed out; only the completed ones (in plan order) when a signal stopped it. The
// array is |r->results| or a copy in the arena (sharing each case's packets with it); NULL when
// out of memory.
static struct mh_case_result *reported_cases(struct run *r, size_t *out_num) {
  *out_num = r->num_plans;
  if (r->signo == 0) {
    for (size_t i = 0; i < r->num_plans; i++) {
      if (atomic_load(&r->states[i]) != CASE_DONE) {
        abandon_case(r, i);
      }
    }
    return r->results;
  }
  struct mh_case_result *done =
      mh_arena_alloc_array(r->a, r->num_plans, sizeof(*done));  // arena: never 0 bytes
  *out_num = 0;
  for (size_t i = 0; done != NULL && i < r->num_plans; i++) {
    if (atomic_load(&r->states[i]) == CASE_DONE) {
      done[(*out_num)++] = r->results[i];
    }
  }
  return done;
}

// print_summary prints the run on stdout: failures first in full, changes since the baseline,
// then the counts and where the reports are.
static void print_summary(const struct run *r, const struct mh_report *rep) {
  const struct mh_run_options *o = r->o;
  size_t counts[MH_VERDICT_NUM] = {0};
  // Case names and a peer's words may hold control characters: shown as "\xNN", never sent raw to
  // a terminal.
  struct mh_printable_ring g = {.next = 0};
  for (size_t i = 0; i < rep->num_cases; i++) {
    const struct mh_case_result *c = &rep->cases[i];
    counts[c->verdict]++;
    if (!o->quiet || c->fails) {
      printf("%-17s %s\n", mh_verdict_name(c->verdict), mh_printable_next(&g, c->id));
      if (c->verdict != MH_VERDICT_PASS) {
        printf("    expected %s\n    actual   %s\n", mh_printable_next(&g, c->expected_text),
               mh_printable_next(&g, c->summary));
        if (c->verdict_reason[0] != '\0') {
          printf("    why      %s\n", mh_printable_next(&g, c->verdict_reason));
        }
      }
    }
    if (c->wire_mismatch[0] != '\0') {
      printf("capture disagrees: %s\n    %s\n", mh_printable_next(&g, c->id),
             mh_printable_next(&g, c->wire_mismatch));
    }
  }
  for (size_t i = 0; i < rep->num_changes; i++) {
    printf("changed since baseline: %s\n    before %s\n    now    %s\n",
           mh_printable_next(&g, rep->changes[i].id), mh_printable_next(&g, rep->changes[i].before),
           mh_printable_next(&g, rep->changes[i].after));
  }
  if (rep->signo != 0) {
    printf(
        "run: interrupted by %s: %zu of %zu cases completed (the others are not in the "
        "reports); exit code %d\n",
        mh_interrupt_name(rep->signo), rep->num_cases, rep->num_planned, rep->exit_code);
  } else if (rep->timed_out) {
    printf("run: timed out (--timeout %.0f s): the cases not finished are inconclusive\n",
           o->timeout_s);
  }
  printf("run: %zu cases in %.1f s (%.0f cases/s):", rep->num_cases, rep->duration_ms / 1000.0,
         rep->num_cases / (rep->duration_ms / 1000.0));
  for (int v = 0; v < MH_VERDICT_NUM; v++) {
    if (counts[v]) {
      printf(" %zu %s", counts[v], mh_verdict_name((enum mh_verdict)v));
    }
  }
  if (rep->num_warnings > 0) {
    size_t failing = mh_warnings_num_failing(rep->warnings, rep->num_warnings, o->strict);
    printf(", %zu warning%s%s", rep->num_warnings, rep->num_warnings == 1 ? "" : "s",
           failing == rep->num_warnings && failing > 0 ? " (failing under --strict)"
           : failing > 0                               ? " (some failing under --strict)"
                                                       : "");
  }
  printf("%s\nrun: reports in %s (report.md, report.html, report.json, junit.xml)\n",
         o->strict ? " [strict]" : "", mh_printable_next(&g, o->out_dir));
  if (o->pcap) {
    size_t captured = 0, skipped = 0, mismatched = 0;
    const char *why = NULL;
    for (size_t i = 0; i < rep->num_cases; i++) {
      captured += rep->cases[i].capture == 1;
      skipped += rep->cases[i].capture == 2;
      mismatched += rep->cases[i].wire_mismatch[0] != '\0';
      why = rep->cases[i].capture == 2 ? rep->cases[i].capture_note : why;
    }
    printf(
        "run: captures: %zu written (cases/<case>.pcapng, TLS secrets inside), %zu skipped%s%s, "
        "%zu disagree with the TLS library\n",
        captured, skipped, why ? ": " : "", why ? mh_printable_next(&g, why) : "", mismatched);
  }
  // Last, where an operator's eye lands: a green run that proves less than it seems.
  for (size_t i = 0; i < rep->num_warnings; i++) {
    printf("warning: %s\n", mh_printable_next(&g, rep->warnings[i].message));
  }
}

// merge_pins puts the command line's --resolve pins before the scenario's: the first pin naming a
// HOST:PORT wins as a group (mh_net_resolve uses every pin of the name), so the command line's
// replace the scenario's rather than add to them.
static int merge_pins(struct run *r, const struct mh_scenario *s, struct mh_err *err) {
  size_t n = r->o->num_pins + s->num_pins;
  r->pins = mh_arena_alloc_array(r->a, n > 0 ? n : 1, sizeof(*r->pins));
  if (r->pins == NULL) {
    return mh_err_set(err, "out of memory");
  }
  for (size_t i = 0; i < r->o->num_pins; i++) {
    r->pins[r->num_pins++] = r->o->pins[i];
  }
  for (size_t i = 0; i < s->num_pins; i++) {
    int overridden = 0;
    for (size_t j = 0; j < r->o->num_pins; j++) {
      overridden |= r->o->pins[j].port == s->pins[i].port &&
                    strcasecmp(r->o->pins[j].name, s->pins[i].name) == 0;
    }
    if (!overridden) {
      r->pins[r->num_pins++] = s->pins[i];
    }
  }
  return 0;
}

// absolute returns |path| made absolute (symbolic links resolved) in |a|, or |path| itself when it
// cannot be (then the rerun command works from the run's directory only).
static const char *absolute(struct mh_arena *a, const char *path) {
  if (path == NULL) {
    return NULL;
  }
  char *real = realpath(path, NULL);
  const char *copy = real != NULL ? mh_arena_strdup(a, real) : NULL;
  free(real);
  return copy != NULL ? copy : path;
}

// describe_rerun fills |x| with what the command that reruns one case needs: the options of this
// run that decide a verdict (report/report.h), paths absolute.
static void describe_rerun(struct run *r, struct mh_rerun *x) {
  const struct mh_run_options *o = r->o;
  x->program = absolute(r->a, "/proc/self/exe");
  if (strcmp(x->program, "/proc/self/exe") == 0) {
    x->program = NULL;
  }
  x->scenario_file = absolute(r->a, r->s->file);
  x->out_dir = absolute(r->a, o->out_dir);
  x->profiles_dir = absolute(r->a, o->profiles_dir);
  x->strict = o->strict;
  x->pcap = o->pcap;
  x->capture_iface = o->capture_iface;
  x->pins = o->pins;
  x->num_pins = o->num_pins;
}

int mh_runner_run(const struct mh_scenario *s_in, const struct mh_run_options *o,
                  struct mh_err *err) {
  struct mh_arena arena;
  mh_arena_init(&arena);
  struct run r;
  memset(&r, 0, sizeof(r));
  r.o = o;
  r.a = &arena;
  pthread_mutex_init(&r.records.mu, NULL);
  pthread_mutex_init(&r.err_mu, NULL);
  pthread_mutex_init(&r.arena_mu, NULL);
  int ret = -1;
  long long started = mh_clock_wall_ms();
  double t0 = mh_clock_now_ms();
  // The fixtures first: the oracle reads the certificates when it plans the cases.
  struct mh_pki_options popts = {.out_dir = s_in->fixtures_dir, .quiet = 1};
  if (mh_pki_generate(&s_in->spec, &popts, err) != 0 || mh_pebble_start(s_in, &r.pebble, err) ||
      merge_pins(&r, s_in, err) != 0 || plan_cases(&r, s_in, err) != 0 ||
      start_mocks(&r, err) != 0) {
    goto out;
  }
  int jobs = run_cases(&r, o->jobs, o->timeout_s > 0 ? t0 + o->timeout_s * 1000 : 0, err);
  if (jobs < 0) {
    goto out;
  }
  size_t num_reported;
  struct mh_case_result *reported = reported_cases(&r, &num_reported);
  if (reported == NULL) {
    mh_err_set(err, "out of memory");
    goto out;
  }
  struct mh_report rep = {
      .scenario_name = r.s->name,
      .scenario_file = r.s->file,
      .out_dir = o->out_dir,
      .started_ms = started,
      .strict = o->strict,
      .jobs = jobs,
      .cases = reported,
      .num_cases = num_reported,
      .num_planned = r.num_plans,
      .signo = r.signo,
      .timed_out = r.timed_out,
  };
  char tls_desc[512], host[256] = "";
  mh_tls_library_describe(tls_desc, sizeof(tls_desc));
  rep.tls_library = tls_desc;
  if (gethostname(host, sizeof(host) - 1) == 0) {
    rep.hostname = host;
  }
  struct mh_rerun rerun;
  describe_rerun(&r, &rerun);
  rep.rerun = &rerun;
  rep.pcap = o->pcap;
  int failed = 0;
  for (size_t i = 0; i < num_reported; i++) {
    failed += reported[i].fails;
  }
  struct mh_run_warning *warnings =
      mh_arena_alloc_array(r.a, 2 * r.num_plans + 1, sizeof(*warnings));
  if (warnings == NULL) {
    mh_err_set(err, "out of memory");
    goto out;
  }
  rep.warnings = warnings;
  rep.num_warnings = mh_warnings_collect(warnings, reported, num_reported);
  rep.exit_code =
      failed || mh_warnings_num_failing(warnings, rep.num_warnings, o->strict) > 0 || r.timed_out
          ? 1
          : 0;
  if (r.signo != 0) {
    rep.exit_code = mh_interrupt_exit_code(r.signo);
  }
  if (o->baseline != NULL && compare_baseline(&r, &rep, err) != 0) {
    goto out;
  }
  rep.duration_ms = mh_clock_now_ms() - t0;
  if (mh_report_write(&rep, err) != 0) {
    goto out;
  }
  print_summary(&r, &rep);
  ret = rep.exit_code;
out:
  mh_federation_stop_thread(r.fed);
  mh_federation_free(r.fed);
  mh_pebble_stop(r.pebble);
  if (r.loop != NULL) {
    ev_loop_destroy(r.loop);
  }
  mh_events_close(&r.events);
  for (size_t i = 0; r.results != NULL && i < r.num_plans; i++) {
    mh_capture_packets_free(&r.results[i].packets);
    wipe_secrets(r.results[i].outcome.keylog);
  }
  free(r.plans);
  free(r.records.items);
  pthread_mutex_destroy(&r.records.mu);
  pthread_mutex_destroy(&r.err_mu);
  pthread_mutex_destroy(&r.arena_mu);
  mh_arena_free(&arena);
  return ret;
}
