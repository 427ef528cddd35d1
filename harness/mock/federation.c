// federation: the mock locations of a scenario on one loop (see federation.h): building them from
// the scenario (TLS contexts, listeners, inputs), starting and stopping them, the emitter, the
// scheduled outages, and running a federation on a thread of its own.
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alerts.h"
#include "base/jsonw.h"
#include "base/net.h"
#include "mock/internal.h"
#include "base/tls_version.h"

void mh_federation_observe(struct mh_loc *l, const char *peer, const struct mh_tls_info *ti,
                           int status) {
  struct mh_events *ev = l->fed->ev;
  if (ev->observe == NULL) {
    return;
  }
  struct mh_server_record r;
  memset(&r, 0, sizeof(r));
  snprintf(r.location, sizeof(r.location), "%s", l->cfg->name);
  snprintf(r.peer, sizeof(r.peer), "%s", peer);
  r.alert_sent = r.alert_received = MH_ALERT_NONE;
  if (ti != NULL) {
    r.tls_rejected = status == 0;
    snprintf(r.reason, sizeof(r.reason), "%s", ti->reason);
    r.alert_sent = ti->alert_sent;
    r.alert_received = ti->alert_received;
    snprintf(r.client_cn, sizeof(r.client_cn), "%s", ti->peer_cn);
  }
  r.http_status = status;
  ev->observe(ev->observe_arg, &r);
}

void mh_federation_event(struct mh_loc *l, const char *comp, const char *name, const char *peer) {
  struct mh_event e;
  mh_events_begin(&e, l->cfg->name, comp, name);
  if (peer != NULL) {
    mh_events_str(&e, "peer", peer);
  }
  mh_events_write(l->fed->ev, &e);
}

// limits_resolve replaces the 0 fields of |l| by their defaults.
static void limits_resolve(struct mh_mock_limits *l) {
  const struct mh_mock_limits d = MH_MOCK_LIMITS_DEFAULTS;
  l->max_conns = l->max_conns > 0 ? l->max_conns : d.max_conns;
  l->max_pending_per_source =
      l->max_pending_per_source > 0 ? l->max_pending_per_source : d.max_pending_per_source;
  l->ws_write_deadline_s =
      l->ws_write_deadline_s > 0 ? l->ws_write_deadline_s : d.ws_write_deadline_s;
  l->ws_send_queue = l->ws_send_queue > 0 ? l->ws_send_queue : d.ws_send_queue;
}

// trim gives what the closed connections freed back to the system: glibc keeps freed memory
// for reuse, and after a flood of 10,000 connections that is hundreds of megabytes.
static void trim(struct mh_federation *f) {
  f->closes = 0;
  ev_timer_stop(f->loop, &f->trim_timer);
  malloc_trim(0);
}

static void trim_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  trim(w->data);
}

void mh_federation_closed(struct mh_federation *f) {
  if (++f->closes >= TRIM_BURST) {
    trim(f);
  } else if (!f->stopped) {
    // After a smaller burst: once closes have stopped for TRIM_IDLE_S.
    f->trim_timer.repeat = TRIM_IDLE_S;
    ev_timer_again(f->loop, &f->trim_timer);
  }
}

// ================================ locations ================================

static void emit_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  struct mh_loc *l = w->data;
  long long seq = ++l->emit_seq;
  char ts[40];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
  struct mh_jsonw pw;
  mh_jsonw_init(&pw);
  mh_jsonw_object_begin(&pw);
  mh_jsonw_key(&pw, "origin");
  mh_jsonw_string(&pw, l->cfg->name);
  mh_jsonw_key(&pw, "seq");
  mh_jsonw_int(&pw, seq);
  mh_jsonw_key(&pw, "value");
  mh_jsonw_int(&pw, seq % 100);
  mh_jsonw_key(&pw, "subject");
  mh_jsonw_string(&pw, l->cfg->emit_subject);
  mh_jsonw_key(&pw, "timestamp");
  mh_jsonw_string(&pw, ts);
  mh_jsonw_object_end(&pw);
  struct mh_event e;
  mh_events_begin(&e, l->cfg->name, NULL, "emit");
  mh_events_int(&e, "seq", seq);
  mh_events_write(l->fed->ev, &e);
  if (mh_jsonw_finish(&pw) == 0) {
    mh_server_publish(l, pw.buf, l->cfg->name, seq);
  }
  mh_jsonw_cleanup(&pw);
}

static void loc_start(struct mh_loc *l) {
  struct ev_loop *loop = l->fed->loop;
  for (size_t i = 0; i < l->num_outs; i++) {
    ev_io_start(loop, &l->outs[i].accept_io);
    struct mh_event e;
    mh_events_begin(&e, l->cfg->name, l->outs[i].cfg->id, "listen");
    mh_events_str(&e, "address", l->cfg->address);
    mh_events_int(&e, "port", l->outs[i].port);
    mh_events_write(l->fed->ev, &e);
  }
  if (l->fed->primary != NULL) {
    return;  // a replica only serves: the primary dials, emits, renews and rotates
  }
  mh_acme_loc_start(l);
  for (size_t i = 0; i < l->num_ins; i++) {
    l->ins[i].attempts = 0;
    mh_client_dial(&l->ins[i]);
  }
  if (l->cfg->emit_rate > 0) {
    double period = 1.0 / l->cfg->emit_rate;
    ev_timer_set(&l->emit_timer, period, period);
    ev_timer_start(loop, &l->emit_timer);
  }
}

static void loc_stop(struct mh_loc *l) {
  ev_timer_stop(l->fed->loop, &l->emit_timer);
  for (size_t i = 0; i < l->num_ins; i++) {
    mh_client_reset(&l->ins[i]);
  }
  for (size_t i = 0; i < l->num_outs; i++) {
    mh_server_close_all(&l->outs[i]);
  }
}

static void outage_start_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)revents;
  struct mh_loc *l = w->data;
  l->down = 1;
  mh_federation_event(l, NULL, "outage_start", NULL);
  loc_stop(l);
  ev_timer_set(&l->outage_end, l->outage_duration, 0.);
  ev_timer_start(loop, &l->outage_end);
}

static void outage_end_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  struct mh_loc *l = w->data;
  struct mh_err err;
  l->down = 0;
  for (size_t i = 0; i < l->num_outs; i++) {
    if (mh_server_listen(&l->outs[i], l->outs[i].port, 1, &err) != 0) {
      mh_federation_event(l, l->outs[i].cfg->id, "listen_failed", err.msg);
    }
  }
  mh_federation_event(l, NULL, "outage_end", NULL);
  loc_start(l);
}

// server_policy is |l|'s server policy as the mocks run it, presenting |cert| and |key|.
static struct mh_tls_server_policy server_policy(const struct mh_loc *l, const char *cert,
                                                 const char *key) {
  const struct mh_location *cfg = l->cfg;
  struct mh_tls_server_policy p = cfg->server;
  p.cert_file = cert;
  p.key_file = key;
  p.emulate = cfg->emulate;
  // rst_on_reject needs the client's unread flight left in the kernel; sconn_want honours the
  // buffer otherwise.
  p.buffered = !cfg->fault_rst_on_reject;
  p.ticket_key_id = cfg->name;  // the loops of a location accept each other's tickets
  if (cfg->fault_ignore_allowlist) {
    p.num_allowed_cns = 0;  // the deliberate bug: every verified client is let in
  }
  return p;
}

struct mh_tls_ctx *mh_federation_server_ctx(struct mh_loc *l, const char *cert, const char *key,
                                            struct mh_err *err) {
  struct mh_tls_server_policy p = server_policy(l, cert, key);
  return mh_tls_server_ctx_new(&p, err);
}

struct mh_tls_ctx *mh_federation_client_ctx(struct mh_loc *l, const char *cert, const char *key,
                                            struct mh_err *err) {
  struct mh_tls_client_policy p = l->cfg->client;
  p.cert_file = cert;
  p.key_file = key;
  return mh_tls_client_ctx_new(&p, err);
}

static int loc_init(struct mh_federation *f, struct mh_loc *l, const struct mh_location *cfg,
                    struct mh_err *err) {
  l->fed = f;
  l->cfg = cfg;
  char prefix[MH_ERR_LEN];
  struct mh_tls_server_policy sp;
  struct mh_tls_client_policy cp;
  // ACME mode and rotation decide which files each role presents first.
  if (mh_acme_loc_init(l, &sp, &cp, err) != 0) {
    snprintf(prefix, sizeof(prefix), "%s", err->msg);
    return mh_err_set(err, "%s: %s: %s", f->s->file, cfg->json_path, prefix);
  }
  if (cfg->server_tls) {
    if ((l->server_ctx = mh_federation_server_ctx(l, sp.cert_file, sp.key_file, err)) == NULL) {
      snprintf(prefix, sizeof(prefix), "%s", err->msg);
      return mh_err_set(err, "%s: %s.config.security.tls.server: %s", f->s->file, cfg->json_path,
                        prefix);
    }
  }
  size_t num_in = 0, num_out = 0;
  for (size_t k = 0; k < cfg->num_components; k++) {
    num_in += cfg->components[k].kind == MH_COMP_WS_INPUT;
    num_out += cfg->components[k].kind == MH_COMP_WS_OUTPUT;
  }
  if (num_in > 0 && cfg->client_tls) {
    if ((l->client_ctx = mh_federation_client_ctx(l, cp.cert_file, cp.key_file, err)) == NULL) {
      snprintf(prefix, sizeof(prefix), "%s", err->msg);
      return mh_err_set(err, "%s: %s.config.security.tls.client: %s", f->s->file, cfg->json_path,
                        prefix);
    }
  } else if (num_in > 0) {
    // gorilla's default dialer: system roots only, no client certificate.
    struct mh_tls_client_policy p = {.system_roots = 1, .min_version = MH_TLS12};
    if ((l->client_ctx = mh_tls_client_ctx_new(&p, err)) == NULL) {
      return -1;
    }
  }
  if (cfg->nginx_dn_regex != NULL) {
    regcomp(&l->dn_regex, cfg->nginx_dn_regex, REG_EXTENDED | REG_NOSUB);
    l->has_dn_regex = 1;
  }
  l->outs = calloc(num_out + 1, sizeof(*l->outs));
  l->ins = calloc(num_in + 1, sizeof(*l->ins));
  if (l->outs == NULL || l->ins == NULL) {
    return mh_err_set(err, "out of memory");
  }
  for (size_t k = 0; k < cfg->num_components; k++) {
    const struct mh_component *comp = &cfg->components[k];
    if (comp->kind == MH_COMP_WS_OUTPUT) {
      struct mh_out *o = &l->outs[l->num_outs++];
      o->loc = l;
      o->cfg = comp;
      o->fd = -1;
      struct mh_federation *pf = f->primary;
      int port = pf != NULL           ? pf->locs[l - f->locs].outs[l->num_outs - 1].port
                 : f->shared_port > 0 ? f->shared_port
                 : f->ephemeral       ? 0
                                      : comp->port;
      if (mh_server_listen(o, port, pf != NULL || f->shared_port > 0, err) != 0) {
        return -1;
      }
    } else {
      mh_client_init(&l->ins[l->num_ins++], l, comp);
    }
  }
  ev_timer_init(&l->emit_timer, emit_cb, 0., 0.);
  l->emit_timer.data = l;
  ev_timer_init(&l->outage_start, outage_start_cb, 0., 0.);
  l->outage_start.data = l;
  ev_timer_init(&l->outage_end, outage_end_cb, 0., 0.);
  l->outage_end.data = l;
  return 0;
}

struct mh_federation *mh_federation_new(struct ev_loop *loop, const struct mh_scenario *s,
                                        struct mh_events *ev,
                                        const struct mh_federation_options *opts,
                                        struct mh_err *err) {
  struct mh_federation *f = calloc(1, sizeof(*f));
  if (f == NULL) {
    mh_err_set(err, "out of memory");
    return NULL;
  }
  f->loop = loop;
  f->s = s;
  f->ev = ev;
  f->ephemeral = opts->ephemeral_ports;
  f->shared = opts->shared || opts->shared_port > 0 || opts->primary != NULL;
  f->shared_port = opts->shared_port;
  struct mh_federation *pf = opts->primary;
  if (pf != NULL && (pf->num_replicas == MH_MAX_LOOPS || !pf->shared || pf->s != s)) {
    mh_err_set(err, "internal: a replica needs a shared primary of the same scenario");
    free(f);
    return NULL;
  }
  f->primary = pf;
  f->limits = opts->limits;
  limits_resolve(&f->limits);
  ev_init(&f->trim_timer, trim_cb);
  f->trim_timer.data = f;
  // From here on every failure goes through mh_federation_free, which stops the mailbox's
  // watcher: a federation must never be freed while its loop still holds one of its watchers.
  mh_mailbox_init(f);
  f->locs = calloc(s->num_locations + 1, sizeof(*f->locs));
  if (f->locs == NULL) {
    mh_err_set(err, "out of memory");
    goto fail;
  }
  mh_net_raise_fd_limit();
  for (size_t i = 0; i < s->num_locations; i++) {
    f->num_locs++;
    if (loc_init(f, &f->locs[i], &s->locations[i], err) != 0) {
      goto fail;
    }
  }
  if (pf != NULL) {
    pf->replicas[pf->num_replicas++] = f;
  }
  return f;
fail:
  mh_federation_free(f);
  return NULL;
}

void mh_federation_start(struct mh_federation *f) {
  ev_now_update(f->loop);  // timers count from now, not from before the (ACME) build
  for (size_t i = 0; i < f->num_locs; i++) {
    loc_start(&f->locs[i]);
  }
}

static void policy_line(const struct mh_location *L, char *out, size_t len) {
  if (!L->server_tls) {
    snprintf(out, len, "plaintext");
    return;
  }
  const struct mh_tls_server_policy *p = &L->server;
  size_t n = (size_t)snprintf(out, len, "%s TLS %s+ mtls=%s",
                              L->emulate == MH_EMULATE_NGINX ? "nginx" : "semstreams",
                              mh_tls_version_keyword(p->min_version),
                              !p->mtls                 ? "off"
                              : p->require_client_cert ? "required"
                                                       : "optional");
  if (p->mtls && p->num_allowed_cns > 0 && n < len) {
    n += (size_t)snprintf(out + n, len - n, " allow=");
    for (size_t i = 0; i < p->num_allowed_cns && n < len; i++) {
      n += (size_t)snprintf(out + n, len - n, "%s%s", i ? "," : "", p->allowed_cns[i]);
    }
  }
}

void mh_federation_describe(const struct mh_federation *f, FILE *out) {
  for (size_t i = 0; i < f->num_locs; i++) {
    const struct mh_loc *l = &f->locs[i];
    char policy[512];
    policy_line(l->cfg, policy, sizeof(policy));
    for (size_t k = 0; k < l->num_outs; k++) {
      fprintf(out, "endpoint %s %s %s://%s:%d%s listen=%s:%d %s\n", l->cfg->name,
              l->outs[k].cfg->id, l->cfg->server_tls ? "wss" : "ws", l->cfg->host,
              l->outs[k].cfg->port, l->outs[k].cfg->path, l->cfg->address, l->outs[k].port, policy);
    }
    for (size_t k = 0; k < l->num_ins; k++) {
      const struct mh_tls_client_policy *p = &l->cfg->client;
      fprintf(out, "input %s %s -> %s client_cert=%s%s\n", l->cfg->name, l->ins[k].cfg->id,
              l->ins[k].cfg->url, l->cfg->client_tls && p->cert_file ? "yes" : "no",
              p->insecure_skip_verify ? " insecure_skip_verify" : "");
    }
  }
}

// find_location returns |f|'s location named |name|, or NULL with |err| set to a message that
// begins with |what| and lists the valid names.
static struct mh_loc *find_location(const struct mh_federation *f, const char *name,
                                    const char *what, struct mh_err *err) {
  char names[MH_ERR_LEN / 2];
  size_t n = 0;
  names[0] = '\0';
  for (size_t i = 0; i < f->num_locs; i++) {
    if (strcmp(f->locs[i].cfg->name, name) == 0) {
      return &f->locs[i];
    }
    if (n < sizeof(names)) {
      n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", i ? ", " : "",
                            f->locs[i].cfg->name);
    }
  }
  mh_err_set(err, "%s: no location \"%s\" in %s (its locations: %s)", what, name, f->s->file,
             names);
  return NULL;
}

int mh_federation_schedule_outage(struct mh_federation *f, const char *location, double start_s,
                                  double duration_s, struct mh_err *err) {
  struct mh_loc *l = find_location(f, location, "--outage", err);
  if (l == NULL) {
    return -1;
  }
  l->outage_duration = duration_s;
  ev_timer_set(&l->outage_start, start_s, 0.);
  ev_timer_start(f->loop, &l->outage_start);
  return 0;
}

void mh_federation_stop(struct mh_federation *f) {
  f->stopped = 1;
  ev_timer_stop(f->loop, &f->trim_timer);
  for (size_t i = 0; i < f->num_locs; i++) {
    struct mh_loc *l = &f->locs[i];
    ev_timer_stop(f->loop, &l->outage_start);
    ev_timer_stop(f->loop, &l->outage_end);
    loc_stop(l);
  }
}

void mh_federation_free(struct mh_federation *f) {
  if (f == NULL) {
    return;
  }
  mh_federation_stop(f);
  for (size_t i = 0; i < f->num_locs; i++) {
    struct mh_loc *l = &f->locs[i];
    mh_acme_loc_free(l);
    mh_tls_ctx_free(l->server_ctx);
    mh_tls_ctx_free(l->client_ctx);
    if (l->has_dn_regex) {
      regfree(&l->dn_regex);
    }
    free(l->outs);
    free(l->ins);
  }
  free(f->locs);
  struct mh_federation *p = f->primary;
  for (size_t i = 0; p != NULL && i < p->num_replicas; i++) {
    if (p->replicas[i] == f) {
      p->replicas[i] = p->replicas[--p->num_replicas];
      break;
    }
  }
  // Both watchers leave the loop before |f| goes (stopping an inactive one is a no-op).
  ev_async_stop(f->loop, &f->stop_async);
  mh_mailbox_cleanup(f);
  free(f);
}

int mh_federation_port(const struct mh_federation *f, const char *location,
                       const char **out_address, int *out_port, struct mh_err *err) {
  const struct mh_loc *l = find_location(f, location, "mocks", err);
  if (l == NULL) {
    return -1;
  }
  if (l->num_outs == 0) {
    return mh_err_set(err, "mocks: location \"%s\" in %s has no websocket_output to connect to",
                      location, f->s->file);
  }
  *out_address = l->cfg->address;
  *out_port = l->outs[0].port;
  return 0;
}

static void stop_async_cb(struct ev_loop *loop, ev_async *w, int revents) {
  (void)revents;
  struct mh_federation *f = w->data;
  mh_federation_stop(f);
  ev_async_stop(loop, w);
  ev_break(loop, EVBREAK_ALL);
}

static void *federation_thread(void *arg) {
  struct mh_federation *f = arg;
  ev_run(f->loop, 0);
  return NULL;
}

int mh_federation_start_thread(struct mh_federation *f, struct mh_err *err) {
  mh_federation_start(f);
  ev_async_init(&f->stop_async, stop_async_cb);
  f->stop_async.data = f;
  ev_async_start(f->loop, &f->stop_async);
  if (pthread_create(&f->thread, NULL, federation_thread, f) != 0) {
    return mh_err_set(err, "cannot start the mocks' thread");
  }
  f->thread_running = 1;
  return 0;
}

void mh_federation_stop_thread(struct mh_federation *f) {
  if (f == NULL || !f->thread_running) {
    return;
  }
  ev_async_send(f->loop, &f->stop_async);
  pthread_join(f->thread, NULL);
  f->thread_running = 0;
}

unsigned long long mh_federation_accepted(const struct mh_federation *f) {
  return atomic_load_explicit(&((struct mh_federation *)f)->accepted, memory_order_relaxed);
}
