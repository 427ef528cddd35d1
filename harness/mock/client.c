// client: the inputs of the mock locations, WebSocket clients that dial another location (TLS or
// plaintext), ack what they receive and publish it on their location; a failed dial waits as the
// real input does (exponential backoff, capped, for at most max_retries failures).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/jsonw.h"
#include "base/net.h"
#include "input/envelope.h"
#include "mock/internal.h"

static void in_step(struct mh_in *in);

static void in_want(struct mh_in *in, int events) {
  mh_xport_want(in->loc->fed->loop, &in->io, &in->x, events);
}

void mh_client_reset(struct mh_in *in) {
  struct ev_loop *loop = in->loc->fed->loop;
  ev_io_stop(loop, &in->io);
  ev_timer_stop(loop, &in->timer);
  mh_ws_free(in->ws);
  in->ws = NULL;
  mh_tls_conn_free(in->x.tls);
  in->x.tls = NULL;
  mh_http_parser_free(in->hp);
  in->hp = NULL;
  if (in->x.fd >= 0) {
    close(in->x.fd);
    in->x.fd = -1;
  }
  in->x.pending_len = in->x.pending_off = 0;
  in->state = I_IDLE;
}

static void in_event(struct mh_in *in, const char *name, const char *error) {
  struct mh_event e;
  mh_events_begin(&e, in->loc->cfg->name, in->cfg->id, name);
  mh_events_str(&e, "url", in->cfg->url);
  if (error != NULL) {
    mh_events_str(&e, "error", error);
  }
  mh_events_int(&e, "attempt", in->attempts);
  if (in->cert_serial[0] != '\0') {
    mh_events_str(&e, "client_cert_serial", in->cert_serial);
  }
  mh_events_write(in->loc->fed->ev, &e);
}

// in_failed ends a dial attempt and waits as the real input does: after failure n the wait is
// initial x multiplier^n, capped at max_interval, for at most max_retries failures (0: forever).
static void in_failed(struct mh_in *in, const char *error_in) {
  struct mh_loc *l = in->loc;
  // |error_in| may live in the connection that mh_client_reset frees.
  char error[512];
  snprintf(error, sizeof(error), "%s", error_in);
  mh_client_reset(in);
  in_event(in, "dial_failed", error);
  const struct mh_reconnect *rc = &in->cfg->reconnect;
  if (!rc->enabled || l->fed->stopped || l->down) {
    in->state = I_GAVE_UP;
    return;
  }
  in->attempts++;
  if (rc->max_retries > 0 && in->attempts > rc->max_retries) {
    in->state = I_GAVE_UP;
    in_event(in, "gave_up", "max_retries reached");
    return;
  }
  // The multiplier is the operator's number as given: a huge or negative one makes the product
  // infinite or negative, and converting that to milliseconds is undefined, so it is clamped to
  // [0, max_interval] first (the real code caps at max_interval; what Go makes of an infinite
  // product is its own platform-dependent conversion, not reproduced).
  double wait = (double)rc->initial_ms / 1000.0 * pow(rc->multiplier, in->attempts);
  if (!(wait <= (double)rc->max_ms / 1000.0)) {
    wait = (double)rc->max_ms / 1000.0;
  }
  if (wait < 0) {
    wait = 0;
  }
  struct mh_event e;
  mh_events_begin(&e, l->cfg->name, in->cfg->id, "reconnect_wait");
  mh_events_int(&e, "attempt", in->attempts);
  mh_events_int(&e, "wait_ms", (long long)(wait * 1000));
  mh_events_write(l->fed->ev, &e);
  in->state = I_WAIT;
  ev_timer_set(&in->timer, wait, 0.);
  ev_timer_start(l->fed->loop, &in->timer);
}

static void input_on_text(void *arg, const uint8_t *msg, size_t len) {
  struct mh_in *in = (struct mh_in *)((char *)arg - offsetof(struct mh_in, x));
  struct mh_loc *l = in->loc;
  struct mh_envelope env;
  if (mh_envelope_parse((const char *)msg, len, &env) != 0) {
    return;  // the real input drops and counts it
  }
  if (strcmp(env.type, "data") == 0 && env.payload != NULL) {
    struct mh_event e;
    mh_events_begin(&e, l->cfg->name, in->cfg->id, "recv");
    mh_events_str(&e, "id", env.id);
    mh_events_str(&e, "origin", env.origin);
    mh_events_int(&e, "seq", env.seq);
    mh_events_write(l->fed->ev, &e);
    // The id comes from the peer: written by the JSON writer, it cannot break out of its string.
    struct mh_jsonw ack;
    mh_jsonw_init(&ack);
    mh_jsonw_object_begin(&ack);
    mh_jsonw_key(&ack, "type");
    mh_jsonw_string(&ack, "ack");
    mh_jsonw_key(&ack, "id");
    mh_jsonw_string(&ack, env.id);
    mh_jsonw_key(&ack, "timestamp");
    mh_jsonw_int(&ack, mh_clock_wall_ms());
    mh_jsonw_object_end(&ack);
    if (mh_jsonw_finish(&ack) == 0) {
      mh_ws_send_text(in->ws, ack.buf, ack.len);
    }
    mh_jsonw_cleanup(&ack);
    mh_server_publish(l, env.payload, env.origin, env.seq);
  }
  free(env.payload);
}

// The steps of in_step, one per state. Each returns 1 to go on with the next state, or 0 when
// |in| waits for its socket or the attempt is over.

static int step_connecting(struct mh_in *in) {
  int e = mh_net_connect_result(in->x.fd);
  if (e != 0) {
    char msg[160];
    snprintf(msg, sizeof(msg), "dial tcp %s:%d: connect: %s", in->dial_addr, in->dial_port,
             strerror(e));
    // Go spells errno texts in lower case ("connection refused").
    for (char *p = msg; *p; p++) {
      *p = (char)(p > msg && p[-1] == ' ' && *p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    }
    in_failed(in, msg);
    return 0;
  }
  if (!in->cfg->url_tls) {
    in->state = I_SEND;
    return 1;
  }
  in->x.tls = mh_tls_conn_new(in->loc->client_ctx, in->x.fd, in->cfg->url_host);
  if (in->x.tls == NULL) {
    in_failed(in, "out of memory");
    return 0;
  }
  in->state = I_HANDSHAKE;
  return 1;
}

static int step_handshake(struct mh_in *in) {
  enum mh_io r = mh_tls_handshake(in->x.tls);
  if (r == MH_IO_OK) {
    in->state = I_SEND;
    return 1;
  }
  if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
    in_want(in, r == MH_IO_WANT_READ ? EV_READ : EV_WRITE);
    return 0;
  }
  in_failed(in, mh_tls_conn_info(in->x.tls)->reason);
  return 0;
}

static int step_send(struct mh_in *in) {
  while (in->req_off < in->req_len) {
    size_t n;
    enum mh_io r = mh_xport_write(&in->x, in->req + in->req_off, in->req_len - in->req_off, &n);
    if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
      in_want(in, r == MH_IO_WANT_READ ? EV_READ : EV_WRITE);
      return 0;
    }
    if (r != MH_IO_OK) {
      in_failed(in, in->x.tls ? mh_tls_conn_info(in->x.tls)->reason : "write failed");
      return 0;
    }
    in->req_off += n;
  }
  in->state = I_RECV;
  return 1;
}

// ws_opened checks the server's complete 101 and starts the session; |rest| are the bytes that
// followed the head.
static int ws_opened(struct mh_in *in, const char *rest, size_t rest_len) {
  const char *accept = mh_http_header(&in->head, "Sec-WebSocket-Accept");
  if (in->head.status != 101 || accept == NULL || strcmp(accept, in->accept) != 0) {
    char msg[96];
    snprintf(msg, sizeof(msg), "websocket: bad handshake (HTTP %d)", in->head.status);
    in_failed(in, msg);
    return 0;
  }
  mh_xport_keep(&in->x, rest, rest_len);
  struct mh_ws_io io = mh_xport_ws_io(&in->x, input_on_text);
  in->ws = mh_ws_new(0, &io);
  if (in->ws == NULL) {
    in_failed(in, "out of memory");
    return 0;
  }
  ev_timer_stop(in->loc->fed->loop, &in->timer);
  in->state = I_OPEN;
  in->attempts = 0;  // a successful connect resets the count
  in_event(in, "connected", NULL);
  return 1;
}

static int step_recv(struct mh_in *in) {
  char buf[IO_CHUNK];
  size_t n;
  enum mh_io r = mh_xport_read(&in->x, buf, sizeof(buf), &n);
  if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
    in_want(in, r == MH_IO_WANT_READ ? EV_READ : EV_WRITE);
    return 0;
  }
  if (r != MH_IO_OK) {
    // In TLS 1.3 a rejected client certificate shows up here, on the first read.
    in_failed(in, in->x.tls ? mh_tls_conn_info(in->x.tls)->reason : "EOF");
    return 0;
  }
  long used = mh_http_parse(in->hp, buf, n, &in->head);
  if (used < 0) {
    in_failed(in, "malformed HTTP response");
    return 0;
  }
  if (!in->head.complete) {
    return 1;
  }
  return ws_opened(in, buf + used, n - (size_t)used);
}

static int step_open(struct mh_in *in) {
  if (mh_ws_pump(in->ws) != 0) {
    const char *why = in->x.tls ? mh_tls_conn_info(in->x.tls)->reason : "";
    in_event(in, "disconnected", why[0] ? why : "EOF");
    mh_client_reset(in);
    if (!in->loc->fed->stopped && !in->loc->down) {
      mh_client_dial(in);  // an established session that drops is redialed at once
    }
    return 0;
  }
  // While backlogged (the peer leaves our acks unread) read nothing: wait for the socket to
  // take more.
  int events = mh_ws_backlogged(in->ws) ? 0 : EV_READ;
  events |= mh_ws_wants_write(in->ws) ? EV_WRITE : 0;
  in_want(in, events != 0 ? events : EV_READ);
  return 0;
}

// in_step advances |in| as far as the socket allows.
static void in_step(struct mh_in *in) {
  int go_on = 1;
  while (go_on) {
    switch (in->state) {
      case I_CONNECTING:
        go_on = step_connecting(in);
        break;
      case I_HANDSHAKE:
        go_on = step_handshake(in);
        break;
      case I_SEND:
        go_on = step_send(in);
        break;
      case I_RECV:
        go_on = step_recv(in);
        break;
      case I_OPEN:
        go_on = step_open(in);
        break;
      default:
        go_on = 0;
        break;
    }
  }
}

// resolve_target finds where an input's URL points: a scenario location's bound output (so that
// --ephemeral-ports works), or a loopback literal.
static void resolve_target(struct mh_in *in) {
  const struct mh_federation *f = in->loc->fed;
  snprintf(in->dial_addr, sizeof(in->dial_addr), "%s", in->cfg->url_host);
  in->dial_port = in->cfg->url_port;
  for (size_t i = 0; i < f->num_locs; i++) {
    const struct mh_loc *l = &f->locs[i];
    if (strcasecmp(l->cfg->host, in->cfg->url_host) != 0) {
      continue;
    }
    snprintf(in->dial_addr, sizeof(in->dial_addr), "%s", l->cfg->address);
    for (size_t k = 0; k < l->num_outs; k++) {
      if (l->outs[k].cfg->port == in->cfg->url_port) {
        in->dial_port = l->outs[k].port;
      }
    }
  }
}

void mh_client_dial(struct mh_in *in) {
  struct mh_loc *l = in->loc;
  mh_client_reset(in);
  resolve_target(in);
  in->x.fd = mh_net_connect(in->dial_addr, in->dial_port);
  if (in->x.fd < 0) {
    char msg[160];
    snprintf(msg, sizeof(msg), "dial tcp %s:%d: %s", in->dial_addr, in->dial_port, strerror(errno));
    in_failed(in, msg);
    return;
  }
  in->hp = mh_http_parser_new(0);
  memset(&in->head, 0, sizeof(in->head));
  mh_ws_client_key(in->key);
  mh_tls_sha1_base64(in->key, MH_WS_GUID, in->accept, sizeof(in->accept));
  char host[320];
  snprintf(host, sizeof(host), "%s:%d", in->cfg->url_host, in->cfg->url_port);
  int n = mh_ws_upgrade_request(in->req, sizeof(in->req), host, in->cfg->url_path, in->key,
                                "Go-http-client/1.1");
  if (n < 0) {
    in_failed(in, "the upgrade request does not fit: the URL is too long");
    return;
  }
  in->req_len = (size_t)n;
  in->req_off = 0;
  in->state = I_CONNECTING;
  ev_io_set(&in->io, in->x.fd, EV_WRITE);
  ev_io_start(l->fed->loop, &in->io);
  ev_timer_set(&in->timer, DIAL_TIMEOUT_S, 0.);
  ev_timer_start(l->fed->loop, &in->timer);
  // gorilla clones the TLS config at each dial: this dial presents the client certificate now in
  // effect (an ACME renewal swaps it for the next dial).
  const struct mh_acme_state *st = l->acme;
  snprintf(in->cert_serial, sizeof(in->cert_serial), "%s",
           st != NULL && st->client.cfg != NULL ? st->client.serial : "");
  in_event(in, "dial", NULL);
}

static void in_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop;
  (void)revents;
  in_step(w->data);
}

static void in_timer_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  struct mh_in *in = w->data;
  if (in->state == I_WAIT) {
    mh_client_dial(in);
  } else if (in->state != I_OPEN && in->state != I_IDLE && in->state != I_GAVE_UP) {
    in_failed(in, "i/o timeout");
  }
}

void mh_client_init(struct mh_in *in, struct mh_loc *l, const struct mh_component *cfg) {
  in->loc = l;
  in->cfg = cfg;
  in->x.fd = -1;
  in->state = I_IDLE;
  ev_io_init(&in->io, in_cb, -1, EV_READ);
  in->io.data = in;
  ev_timer_init(&in->timer, in_timer_cb, 0., 0.);
  in->timer.data = in;
}
