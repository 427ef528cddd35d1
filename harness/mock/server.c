// server: the outputs of the mock locations, TLS (or plaintext) HTTP/1.1 servers that upgrade to
// WebSocket: accepting, the handshake, the request head, the response, the session and the
// drain that keeps a rejection's alert from being destroyed by a RST. What the emulated server
// answers is decided in answer.c.
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alerts.h"
#include "input/envelope.h"
#include "base/clock.h"
#include "base/jsonw.h"
#include "base/net.h"
#include "base/watch.h"
#include "mock/internal.h"
#include "base/tls_version.h"

static void sconn_step(struct mh_sconn *c);

static void sconn_want(struct mh_sconn *c, int events) {
  mh_xport_want(c->out->loc->fed->loop, &c->io, &c->x, events);
}

// pend_leave takes |c| off its output's pending list and its source's count: it is
// authenticated, or closing. Idempotent.
static void pend_leave(struct mh_sconn *c) {
  struct mh_out *o = c->out;
  if (c->source == NULL) {
    return;
  }
  if (c->pend_prev != NULL) {
    c->pend_prev->pend_next = c->pend_next;
  } else {
    o->pend_head = c->pend_next;
  }
  if (c->pend_next != NULL) {
    c->pend_next->pend_prev = c->pend_prev;
  } else {
    o->pend_tail = c->pend_prev;
  }
  c->pend_prev = c->pend_next = NULL;
  mh_sources_release(&o->sources, c->source);
  c->source = NULL;
}

// sconn_close frees |c|.
static void sconn_close(struct mh_sconn *c) {
  struct mh_out *o = c->out;
  struct ev_loop *loop = o->loc->fed->loop;
  if (c->state == S_WS) {
    mh_federation_event(o->loc, o->cfg->id, "ws_close", c->peer);
  }
  pend_leave(c);
  ev_io_stop(loop, &c->io);
  ev_timer_stop(loop, &c->deadline);
  ev_timer_stop(loop, &c->ping);
  ev_timer_stop(loop, &c->wdeadline);
  ev_timer_stop(loop, &c->resume);
  mh_ws_free(c->ws);
  mh_tls_conn_free(c->x.tls);
  mh_http_parser_free(c->hp);
  free(c->wbuf);
  close(c->x.fd);
  if (c->prev != NULL) {
    c->prev->next = c->next;
  } else {
    o->conns = c->next;
  }
  if (c->next != NULL) {
    c->next->prev = c->prev;
  }
  o->num_conns--;
  free(c);
  mh_federation_closed(o->loc->fed);
}

static void sconn_deadline(struct mh_sconn *c, double seconds) {
  struct ev_loop *loop = c->out->loc->fed->loop;
  ev_timer_stop(loop, &c->deadline);
  ev_timer_set(&c->deadline, seconds, 0.);
  ev_timer_start(loop, &c->deadline);
}

// sconn_drain stops talking: FIN after what was written, then read and discard until the peer
// closes (or a short timeout), so that the kernel never answers unread data with a RST.
static void sconn_drain(struct mh_sconn *c) {
  c->state = S_DRAIN;
  shutdown(c->x.fd, SHUT_WR);
  sconn_deadline(c, DRAIN_TIMEOUT_S);
  sconn_want(c, EV_READ);
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  struct mh_sconn *c = w->data;
  struct mh_loc *l = c->out->loc;
  if (c->state == S_HANDSHAKE) {
    mh_events_log(l->fed->ev, l->cfg->name, "http: TLS handshake error from %s: %s", c->peer,
                  "handshake timeout");
    struct mh_event e;
    mh_events_begin(&e, l->cfg->name, c->out->cfg->id, "timeout");
    mh_events_str(&e, "peer", c->peer);
    mh_events_str(&e, "phase", "tls_handshake");
    mh_events_write(l->fed->ev, &e);
  } else if (c->state == S_REQUEST || c->state == S_WS) {
    struct mh_event e;
    mh_events_begin(&e, l->cfg->name, c->out->cfg->id, "timeout");
    mh_events_str(&e, "peer", c->peer);
    mh_events_str(&e, "phase", c->state == S_REQUEST ? "request_head" : "websocket_read");
    mh_events_write(l->fed->ev, &e);
  }
  sconn_close(c);
}

// ws_limit_event writes a "timeout" (phase websocket_write) or "slow_consumer" event: |c| is
// closed for leaving what it was sent unread.
static void ws_limit_event(struct mh_sconn *c, const char *name) {
  struct mh_loc *l = c->out->loc;
  struct mh_event e;
  mh_events_begin(&e, l->cfg->name, c->out->cfg->id, name);
  mh_events_str(&e, "peer", c->peer);
  if (strcmp(name, "timeout") == 0) {
    mh_events_str(&e, "phase", "websocket_write");
  }
  mh_events_int(&e, "queued", (long long)mh_ws_queued(c->ws));
  mh_events_write(l->fed->ev, &e);
}

static void wdeadline_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  struct mh_sconn *c = w->data;
  ws_limit_event(c, "timeout");
  sconn_close(c);
}

// ws_watch_writes runs |c|'s write deadline: it runs while frames wait for the peer and restarts
// whenever the peer took some bytes, so only a peer that takes nothing for the whole deadline is
// closed.
static void ws_watch_writes(struct mh_sconn *c) {
  struct ev_loop *loop = c->out->loc->fed->loop;
  if (!mh_ws_wants_write(c->ws)) {
    ev_timer_stop(loop, &c->wdeadline);
    return;
  }
  size_t sent = mh_ws_sent(c->ws);
  if (!ev_is_active(&c->wdeadline) || sent != c->wd_sent) {
    c->wd_sent = sent;
    ev_timer_stop(loop, &c->wdeadline);
    ev_timer_set(&c->wdeadline, c->out->loc->fed->limits.ws_write_deadline_s, 0.);
    ev_timer_start(loop, &c->wdeadline);
  }
}

static void resume_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  sconn_step(w->data);
}

static void ping_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  struct mh_sconn *c = w->data;
  if (c->ws != NULL && mh_ws_ping(c->ws) == 0) {
    sconn_step(c);
  }
}

static void output_on_text(void *arg, const uint8_t *msg, size_t len) {
  struct mh_sconn *c = (struct mh_sconn *)((char *)arg - offsetof(struct mh_sconn, x));
  struct mh_loc *l = c->out->loc;
  // Any message, acks included, resets the real output's read deadline; pongs do not.
  sconn_deadline(c, WS_READ_DEADLINE_S);
  struct mh_envelope env;
  if (mh_envelope_parse((const char *)msg, len, &env) != 0) {
    return;
  }
  struct mh_event e;
  mh_events_begin(&e, l->cfg->name, c->out->cfg->id, env.type[0] ? env.type : "message");
  mh_events_str(&e, "peer", c->peer);
  mh_events_str(&e, "id", env.id);
  mh_events_write(l->fed->ev, &e);
  free(env.payload);
}

static void tls_rejected(struct mh_sconn *c) {
  struct mh_loc *l = c->out->loc;
  const struct mh_tls_info *ti = mh_tls_conn_info(c->x.tls);
  if (ti->http_on_tls) {
    // net/http answers in plain HTTP and logs nothing.
    static const char msg[] =
        "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
    ssize_t w = send(c->x.fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL);
    (void)w;
    mh_federation_event(l, c->out->cfg->id, "http_on_tls_port", c->peer);
    return;
  }
  mh_events_log(l->fed->ev, l->cfg->name, "http: TLS handshake error from %s: %s", c->peer,
                ti->reason);
  struct mh_event e;
  mh_events_begin(&e, l->cfg->name, c->out->cfg->id, "tls_reject");
  mh_events_str(&e, "peer", c->peer);
  mh_events_str(&e, "reason", ti->reason);
  mh_events_int(&e, "alert_sent", ti->alert_sent);
  mh_events_str(&e, "alert_sent_name", mh_alert_name(ti->alert_sent));
  mh_events_int(&e, "alert_received", ti->alert_received);
  mh_events_str(&e, "version", ti->version != 0 ? mh_tls_version_name(ti->version) : "");
  mh_events_str(&e, "client_cn", ti->peer_cn);
  mh_events_write(l->fed->ev, &e);
  mh_federation_observe(l, c->peer, ti, 0);
}

// ws_opened starts the WebSocket session after the 101. Returns 0, or -1 after freeing |c|.
static int ws_opened(struct mh_sconn *c) {
  struct mh_loc *l = c->out->loc;
  struct ev_loop *loop = l->fed->loop;
  struct mh_ws_io io = mh_xport_ws_io(&c->x, output_on_text);
  c->ws = mh_ws_new(1, &io);
  if (c->ws == NULL) {
    sconn_close(c);
    return -1;
  }
  c->state = S_WS;
  sconn_deadline(c, WS_READ_DEADLINE_S);
  ev_timer_set(&c->ping, WS_PING_INTERVAL_S, WS_PING_INTERVAL_S);
  ev_timer_start(loop, &c->ping);
  const struct mh_tls_info *ti = c->x.tls ? mh_tls_conn_info(c->x.tls) : NULL;
  struct mh_event e;
  mh_events_begin(&e, l->cfg->name, c->out->cfg->id, "ws_open");
  mh_events_str(&e, "peer", c->peer);
  mh_events_str(&e, "client_cn", ti ? ti->peer_cn : "");
  mh_events_write(l->fed->ev, &e);
  return 0;
}

// The steps of sconn_step, one per state. Each returns 1 to go on with the next state, or 0 when
// |c| waits for its socket or was freed.

static int step_handshake(struct mh_sconn *c) {
  enum mh_io r = mh_tls_handshake(c->x.tls);
  if (r == MH_IO_OK) {
    pend_leave(c);
    c->state = S_REQUEST;
    sconn_deadline(c, REQUEST_TIMEOUT_S);
    // The client's request follows its Finished in a later write: a read now would nearly
    // always be a wasted system call. Readiness tells when it is there (and sconn_want goes on
    // at once with bytes the TLS layer already holds).
    sconn_want(c, EV_READ);
    return 0;
  }
  if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
    sconn_want(c, r == MH_IO_WANT_READ ? EV_READ : EV_WRITE);
    return 0;
  }
  tls_rejected(c);
  if (c->out->loc->cfg->fault_rst_on_reject) {
    // The careless server: close at once, so unread client data turns the FIN into a RST.
    struct linger lg = {1, 0};
    setsockopt(c->x.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    sconn_close(c);
    return 0;
  }
  sconn_drain(c);
  return 0;
}

static int step_request(struct mh_sconn *c) {
  char buf[IO_CHUNK];
  size_t n;
  enum mh_io r = mh_xport_read(&c->x, buf, sizeof(buf), &n);
  if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
    sconn_want(c, r == MH_IO_WANT_READ ? EV_READ : EV_WRITE);
    return 0;
  }
  if (r != MH_IO_OK) {
    sconn_close(c);
    return 0;
  }
  long used = mh_http_parse(c->hp, buf, n, &c->head);
  int queued = 0;
  if (used < 0) {
    queued = mh_answer_malformed(c);
  } else if (c->head.complete) {
    // Bytes after the head are the client's first WebSocket frames.
    mh_xport_keep(&c->x, buf + used, n - (size_t)used);
    queued = mh_answer_request(c);
  }
  if (queued != 0) {
    sconn_close(c);
    return 0;
  }
  return 1;
}

static int step_respond(struct mh_sconn *c) {
  pend_leave(c);  // plaintext: the request head is in
  while (c->woff < c->wlen) {
    size_t n;
    enum mh_io r = mh_xport_write(&c->x, c->wbuf + c->woff, c->wlen - c->woff, &n);
    if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
      sconn_want(c, r == MH_IO_WANT_READ ? EV_READ : EV_WRITE);
      return 0;
    }
    if (r != MH_IO_OK) {
      sconn_close(c);
      return 0;
    }
    c->woff += n;
  }
  free(c->wbuf);
  c->wbuf = NULL;
  if (c->upgrade) {
    return ws_opened(c) == 0;
  }
  if (c->x.tls != NULL) {
    mh_tls_close_notify(c->x.tls);
  }
  sconn_drain(c);
  return 0;
}

static int step_ws(struct mh_sconn *c) {
  if (mh_ws_pump(c->ws) != 0) {
    sconn_close(c);
    return 0;
  }
  if (mh_ws_queued(c->ws) > c->out->loc->fed->limits.ws_send_queue) {
    ws_limit_event(c, "slow_consumer");
    sconn_close(c);
    return 0;
  }
  ws_watch_writes(c);
  // While backlogged, wait only until the socket takes more: nothing is read meanwhile.
  int events = mh_ws_backlogged(c->ws) ? 0 : EV_READ;
  if (mh_ws_wants_write(c->ws)) {
    events |= EV_WRITE;
  }
  if (events == 0) {
    ev_io_stop(c->out->loc->fed->loop, &c->io);  // the read and write deadlines still run
    return 0;
  }
  if (mh_ws_more_to_read(c->ws)) {
    // The read budget ran out, with bytes perhaps still held by TLS. Feeding a read event now
    // would run at once (libev invokes what is fed before it polls again) and read on: come
    // back on the next loop turn instead, after the others' events and timers.
    mh_watch_want(c->out->loc->fed->loop, &c->io, c->x.fd, events, 0);
    if (!ev_is_active(&c->resume)) {
      ev_timer_set(&c->resume, 0., 0.);
      ev_timer_start(c->out->loc->fed->loop, &c->resume);
    }
    return 0;
  }
  sconn_want(c, events);
  return 0;
}

static int step_drain(struct mh_sconn *c) {
  char buf[IO_CHUNK];
  ssize_t n;
  while ((n = read(c->x.fd, buf, sizeof(buf))) > 0) {
  }
  if (!(n < 0 && errno == EAGAIN)) {
    sconn_close(c);
  }
  return 0;
}

// sconn_step advances |c| as far as the socket allows. It may free |c|.
static void sconn_step(struct mh_sconn *c) {
  int go_on = 1;
  while (go_on) {
    switch (c->state) {
      case S_HANDSHAKE:
        go_on = step_handshake(c);
        break;
      case S_REQUEST:
        go_on = step_request(c);
        break;
      case S_RESPOND:
        go_on = step_respond(c);
        break;
      case S_WS:
        go_on = step_ws(c);
        break;
      case S_DRAIN:
        go_on = step_drain(c);
        break;
    }
  }
}

static void sconn_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop;
  struct mh_sconn *c = w->data;
  if ((revents & EV_READ) && c->x.tls != NULL) {
    mh_tls_readable(c->x.tls);
  }
  sconn_step(c);
}

// sconn_start sets up |c|'s watchers and waits for its first bytes.
static void sconn_start(struct mh_sconn *c) {
  struct ev_loop *loop = c->out->loc->fed->loop;
  ev_io_init(&c->io, sconn_cb, c->x.fd, EV_READ);
  c->io.data = c;
  ev_timer_init(&c->deadline, deadline_cb, 0., 0.);
  c->deadline.data = c;
  ev_timer_init(&c->ping, ping_cb, 0., 0.);
  c->ping.data = c;
  ev_timer_init(&c->wdeadline, wdeadline_cb, 0., 0.);
  c->wdeadline.data = c;
  ev_timer_init(&c->resume, resume_cb, 0., 0.);
  c->resume.data = c;
  sconn_deadline(c, c->state == S_HANDSHAKE ? HANDSHAKE_TIMEOUT_S : REQUEST_TIMEOUT_S);
  ev_io_start(loop, &c->io);
}

// sconn_new makes the connection of accepted socket |fd|, unauthenticated and counted against
// |source| (released here on failure), and starts waiting for it; on failure |fd| is closed.
static void sconn_new(struct mh_out *o, int fd, const struct sockaddr *peer,
                      struct mh_source *source) {
  struct mh_loc *l = o->loc;
  struct mh_sconn *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    goto fail;
  }
  c->out = o;
  c->x.fd = fd;
  mh_net_format_addr(peer, c->peer, sizeof(c->peer));
  c->hp = mh_http_parser_new(1);
  if (l->server_ctx != NULL) {
    c->x.tls = mh_tls_conn_new(l->server_ctx, fd, NULL);
  }
  if (c->hp == NULL || (l->server_ctx != NULL && c->x.tls == NULL)) {
    mh_http_parser_free(c->hp);
    free(c);
    goto fail;
  }
  c->state = l->server_ctx != NULL ? S_HANDSHAKE : S_REQUEST;
  c->next = o->conns;
  if (o->conns != NULL) {
    o->conns->prev = c;
  }
  o->conns = c;
  o->num_conns++;
  c->source = source;
  c->pend_prev = o->pend_tail;
  if (o->pend_tail != NULL) {
    o->pend_tail->pend_next = c;
  } else {
    o->pend_head = c;
  }
  o->pend_tail = c;
  sconn_start(c);
  return;
fail:
  mh_sources_release(&o->sources, source);
  close(fd);
}

// admit decides whether |o| takes one more connection from |peer|: each source address holds at
// most max_pending_per_source unauthenticated connections, and at the connection cap the oldest
// unauthenticated connection makes room (idle connections renewed as they time out must not
// lock good clients out). Returns the source entry to count it against, or NULL to refuse.
static struct mh_source *admit(struct mh_out *o, const struct sockaddr *peer) {
  const struct mh_mock_limits *lim = &o->loc->fed->limits;
  struct mh_source *src = mh_sources_add(&o->sources, peer, lim->max_pending_per_source);
  if (src == NULL) {
    return NULL;
  }
  if (o->num_conns >= lim->max_conns) {
    if (o->pend_head == NULL) {
      mh_sources_release(&o->sources, src);  // every slot is an authenticated client
      return NULL;
    }
    mh_federation_event(o->loc, o->cfg->id, "evicted", o->pend_head->peer);
    sconn_close(o->pend_head);
  }
  return src;
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop;
  (void)revents;
  struct mh_out *o = w->data;
  for (int i = 0; i < 64; i++) {
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof(peer);
    int fd = accept4(o->fd, (struct sockaddr *)&peer, &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      return;
    }
    atomic_fetch_add_explicit(&o->loc->fed->accepted, 1, memory_order_relaxed);
    struct mh_source *src = admit(o, (struct sockaddr *)&peer);
    if (src == NULL) {
      close(fd);  // a flood of connections must not take the process down
      continue;
    }
    sconn_new(o, fd, (struct sockaddr *)&peer, src);
  }
}

int mh_server_listen(struct mh_out *o, int port, int join, struct mh_err *err) {
  int bound;
  int fd = o->loc->fed->shared ? mh_net_listen_shared(o->loc->cfg->address, port, join, &bound, err)
                               : mh_net_listen(o->loc->cfg->address, port, &bound, err);
  if (fd < 0) {
    char msg[MH_ERR_LEN];
    snprintf(msg, sizeof(msg), "%s", err->msg);
    return mh_err_set(err, "%s: %s: %s", o->loc->fed->s->file, o->cfg->json_path, msg);
  }
  o->fd = fd;
  o->port = bound;
  ev_io_init(&o->accept_io, accept_cb, fd, EV_READ);
  o->accept_io.data = o;
  return 0;
}

void mh_server_close_all(struct mh_out *o) {
  while (o->conns != NULL) {
    sconn_close(o->conns);
  }
  mh_sources_clear(&o->sources);  // empty by now: every pending connection released its source
  if (o->fd >= 0) {
    ev_io_stop(o->loc->fed->loop, &o->accept_io);
    close(o->fd);
    o->fd = -1;
  }
}

// send_data sends one data envelope to |c| and logs it. It may free |c|.
static void send_data(struct mh_sconn *c, const char *payload, const char *origin, long long seq,
                      long long ms) {
  struct mh_out *o = c->out;
  struct mh_loc *l = o->loc;
  char id[64];
  snprintf(id, sizeof(id), "msg-%lld-%lld", ms, ++o->counter);
  struct mh_jsonw w;
  mh_jsonw_init(&w);
  mh_jsonw_object_begin(&w);
  mh_jsonw_key(&w, "type");
  mh_jsonw_string(&w, "data");
  mh_jsonw_key(&w, "id");
  mh_jsonw_string(&w, id);
  mh_jsonw_key(&w, "timestamp");
  mh_jsonw_int(&w, ms);
  mh_jsonw_key(&w, "payload");
  mh_jsonw_raw(&w, payload);  // re-serialised by the envelope parser, or written by emit_cb
  mh_jsonw_object_end(&w);
  int ok = mh_jsonw_finish(&w) == 0;
  if (ok && mh_ws_send_text(c->ws, w.buf, w.len) == 0) {
    sconn_want(c, EV_READ | EV_WRITE);
  }
  mh_jsonw_cleanup(&w);
  if (!ok) {
    return;
  }
  struct mh_event e;
  mh_events_begin(&e, l->cfg->name, o->cfg->id, "send");
  mh_events_str(&e, "peer", c->peer);
  mh_events_str(&e, "id", id);
  mh_events_str(&e, "origin", origin);
  mh_events_int(&e, "seq", seq);
  mh_events_write(l->fed->ev, &e);
  sconn_step(c);  // may free c
}

void mh_server_publish(struct mh_loc *l, const char *payload, const char *origin, long long seq) {
  mh_mailbox_post(l, payload, origin, seq);
  long long ms = mh_clock_wall_ms();
  for (size_t i = 0; i < l->num_outs; i++) {
    struct mh_sconn *c = l->outs[i].conns;
    while (c != NULL) {
      struct mh_sconn *next = c->next;
      if (c->state == S_WS) {
        send_data(c, payload, origin, seq, ms);
      }
      c = next;
    }
  }
}
