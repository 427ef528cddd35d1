// endpoint: mock locations on libev (see endpoint.h).
//
// Ownership: the federation owns its locations; a location owns its outputs and inputs; an output
// owns its accepted connections (a doubly linked list). A connection frees itself only through
// sconn_close or in_reset, and every callback returns right after either, so no freed object is
// touched. Nothing here blocks: every socket is non-blocking and every wait has a timer.
#include "mock/endpoint.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <ev.h>
#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/alerts.h"
#include "mock/http.h"
#include "base/net.h"
#include "base/watch.h"
#include "tls/tls.h"
#include "mock/ws.h"

#define HANDSHAKE_TIMEOUT_S 10.0
#define REQUEST_TIMEOUT_S 10.0
#define WS_READ_DEADLINE_S 60.0  // the real output resets a 60 s read deadline per message
#define WS_PING_INTERVAL_S 30.0  // the real output pings every 30 s
#define DRAIN_TIMEOUT_S 1.0
#define DIAL_TIMEOUT_S 45.0  // gorilla Dialer HandshakeTimeout in SemStreams
#define MAX_CONNS_PER_OUTPUT 10000
#define IO_CHUNK 16384

struct loc;

// xport is a connection's byte stream: TLS when |tls| is set, else the plain socket.
struct xport {
  int fd;
  struct mh_tls_conn *tls;
  uint8_t pending[IO_CHUNK];  // bytes read past an HTTP head, handed to the WebSocket first
  size_t pending_len;
  size_t pending_off;
};

static enum mh_io xport_read(struct xport *x, void *buf, size_t len, size_t *out_n) {
  if (x->pending_off < x->pending_len) {
    size_t n = x->pending_len - x->pending_off;
    n = n < len ? n : len;
    memcpy(buf, x->pending + x->pending_off, n);
    x->pending_off += n;
    *out_n = n;
    return MH_IO_OK;
  }
  if (x->tls != NULL) {
    return mh_tls_read(x->tls, buf, len, out_n);
  }
  ssize_t n = read(x->fd, buf, len);
  *out_n = n > 0 ? (size_t)n : 0;
  if (n > 0) {
    return MH_IO_OK;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    return MH_IO_WANT_READ;
  }
  return n == 0 ? MH_IO_CLOSED : MH_IO_FAILED;
}

static enum mh_io xport_write(struct xport *x, const void *buf, size_t len, size_t *out_n) {
  if (x->tls != NULL) {
    return mh_tls_write(x->tls, buf, len, out_n);
  }
  ssize_t n = send(x->fd, buf, len, MSG_NOSIGNAL);
  *out_n = n > 0 ? (size_t)n : 0;
  if (n >= 0) {
    return MH_IO_OK;
  }
  return errno == EAGAIN || errno == EINTR ? MH_IO_WANT_WRITE : MH_IO_FAILED;
}

static ssize_t ws_recv(void *arg, uint8_t *buf, size_t len, int *would_block) {
  size_t n;
  enum mh_io r = xport_read(arg, buf, len, &n);
  *would_block = r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE;
  return r == MH_IO_OK ? (ssize_t)n : (*would_block ? 0 : -1);
}

static ssize_t ws_send(void *arg, const uint8_t *buf, size_t len, int *would_block) {
  size_t n;
  enum mh_io r = xport_write(arg, buf, len, &n);
  *would_block = r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE || (r == MH_IO_OK && n == 0);
  return r == MH_IO_OK && n > 0 ? (ssize_t)n : (*would_block ? 0 : -1);
}

// --- outputs: accepted connections ---

enum sstate { S_HANDSHAKE, S_REQUEST, S_RESPOND, S_WS, S_DRAIN };

struct out;

struct sconn {
  struct out *out;
  struct sconn *prev, *next;
  struct xport x;  // must stay first-class: ws callbacks get &x
  enum sstate state;
  char peer[64];
  ev_io io;
  ev_timer deadline;
  ev_timer ping;
  struct mh_http_parser *hp;
  struct mh_http_head head;
  char *wbuf;  // response bytes not yet written
  size_t wlen, woff;
  int upgrade;  // the response is a 101
  struct mh_ws *ws;
};

struct out {
  struct loc *loc;
  const struct mh_component *cfg;
  int fd;
  int port;  // bound
  ev_io accept_io;
  struct sconn *conns;
  size_t num_conns;
  long long counter;  // for msg-<ms>-<n> ids
};

// --- inputs ---

enum istate { I_IDLE, I_CONNECTING, I_HANDSHAKE, I_SEND, I_RECV, I_OPEN, I_WAIT, I_GAVE_UP };

struct in {
  struct loc *loc;
  const struct mh_component *cfg;
  struct xport x;
  enum istate state;
  ev_io io;
  ev_timer timer;
  int attempts;
  char dial_addr[64];
  int dial_port;
  char key[32];
  char accept[64];
  char req[1024];
  size_t req_len, req_off;
  struct mh_http_parser *hp;
  struct mh_http_head head;
  struct mh_ws *ws;
};

struct loc {
  struct mh_federation *fed;
  const struct mh_location *cfg;
  struct mh_tls_ctx *server_ctx;
  struct mh_tls_ctx *client_ctx;
  struct out *outs;
  size_t num_outs;
  struct in *ins;
  size_t num_ins;
  ev_timer emit_timer;
  long long emit_seq;
  int down;
  ev_timer outage_start, outage_end;
  double outage_duration;
  regex_t dn_regex;
  int has_dn_regex;
};

// mail is a message a primary federation published, queued for a replica's clients.
struct mail {
  struct mail *next;
  size_t loc;  // index into the replica's locs (the same scenario)
  long long seq;
  char *origin;
  char payload[];
};

struct mh_federation {
  struct ev_loop *loop;
  pthread_t thread;
  int thread_running;
  ev_async stop_async;
  const struct mh_scenario *s;
  struct mh_events *ev;
  struct loc *locs;
  size_t num_locs;
  int ephemeral;
  int shared;       // listeners use SO_REUSEPORT
  int shared_port;  // > 0: the port every output binds
  int stopped;
  atomic_ullong accepted;  // read by other threads
  // serve --threads: a replica serves the primary's outputs on another loop (same ports, with
  // SO_REUSEPORT); only the primary dials and emits, and what it publishes reaches the replicas'
  // clients through their mailboxes.
  struct mh_federation *primary;
  struct mh_federation *replicas[MH_MAX_LOOPS];
  size_t num_replicas;
  pthread_mutex_t mail_mu;
  struct mail *mail_head, *mail_tail;
  ev_async mail_async;
};

static void observe(struct loc *l, const char *peer, const struct mh_tls_info *ti, int status) {
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

static void emit_event_conn(struct loc *l, const char *comp, const char *name, const char *peer) {
  struct mh_event e;
  mh_event_begin(&e, l->cfg->name, comp, name);
  if (peer != NULL) {
    mh_event_str(&e, "peer", peer);
  }
  mh_events_write(l->fed->ev, &e);
}

// ================================ outputs ================================

static void sconn_cb(struct ev_loop *loop, ev_io *w, int revents);
static void sconn_step(struct sconn *c);

static void sconn_want(struct sconn *c, int events) {
  mh_watch_want(c->out->loc->fed->loop, &c->io, c->x.fd, events,
                c->x.tls != NULL && mh_tls_buffered(c->x.tls));
}

static void sconn_close(struct sconn *c) {
  struct out *o = c->out;
  struct ev_loop *loop = o->loc->fed->loop;
  if (c->state == S_WS) {
    emit_event_conn(o->loc, o->cfg->id, "ws_close", c->peer);
  }
  ev_io_stop(loop, &c->io);
  ev_timer_stop(loop, &c->deadline);
  ev_timer_stop(loop, &c->ping);
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
}

static void sconn_deadline(struct sconn *c, double seconds) {
  struct ev_loop *loop = c->out->loc->fed->loop;
  ev_timer_stop(loop, &c->deadline);
  ev_timer_set(&c->deadline, seconds, 0.);
  ev_timer_start(loop, &c->deadline);
}

// sconn_drain stops talking: FIN after what was written, then read and discard until the peer
// closes (or a short timeout), so that the kernel never answers unread data with a RST.
static void sconn_drain(struct sconn *c) {
  c->state = S_DRAIN;
  shutdown(c->x.fd, SHUT_WR);
  sconn_deadline(c, DRAIN_TIMEOUT_S);
  sconn_want(c, EV_READ);
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  struct sconn *c = w->data;
  struct loc *l = c->out->loc;
  if (c->state == S_HANDSHAKE) {
    mh_events_log(l->fed->ev, l->cfg->name, "http: TLS handshake error from %s: %s", c->peer,
                  "handshake timeout");
    struct mh_event e;
    mh_event_begin(&e, l->cfg->name, c->out->cfg->id, "timeout");
    mh_event_str(&e, "peer", c->peer);
    mh_event_str(&e, "phase", "tls_handshake");
    mh_events_write(l->fed->ev, &e);
  } else if (c->state == S_REQUEST || c->state == S_WS) {
    struct mh_event e;
    mh_event_begin(&e, l->cfg->name, c->out->cfg->id, "timeout");
    mh_event_str(&e, "peer", c->peer);
    mh_event_str(&e, "phase", c->state == S_REQUEST ? "request_head" : "websocket_read");
    mh_events_write(l->fed->ev, &e);
  }
  sconn_close(c);
}

static void ping_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  struct sconn *c = w->data;
  if (c->ws != NULL && mh_ws_ping(c->ws) == 0) {
    sconn_step(c);
  }
}

static void send_ws(struct sconn *c, const char *msg, size_t len) {
  if (mh_ws_send_text(c->ws, msg, len) == 0) {
    sconn_want(c, EV_READ | EV_WRITE);
  }
}

static void output_on_text(void *arg, const uint8_t *msg, size_t len) {
  struct sconn *c = (struct sconn *)((char *)arg - offsetof(struct sconn, x));
  struct loc *l = c->out->loc;
  // Any message, acks included, resets the real output's read deadline; pongs do not.
  sconn_deadline(c, WS_READ_DEADLINE_S);
  struct mh_envelope env;
  if (mh_scenario_parse_envelope((const char *)msg, len, &env) != 0) {
    return;
  }
  struct mh_event e;
  mh_event_begin(&e, l->cfg->name, c->out->cfg->id, env.type[0] ? env.type : "message");
  mh_event_str(&e, "peer", c->peer);
  mh_event_str(&e, "id", env.id);
  mh_events_write(l->fed->ev, &e);
  free(env.payload);
}

// respond queues a whole HTTP response; |upgrade| marks a 101 after which WebSocket starts.
static void respond(struct sconn *c, const char *head, const char *body, int upgrade) {
  size_t hl = strlen(head), bl = body ? strlen(body) : 0;
  c->wbuf = malloc(hl + bl + 1);
  if (c->wbuf == NULL) {
    sconn_close(c);
    return;
  }
  memcpy(c->wbuf, head, hl);
  if (bl) {
    memcpy(c->wbuf + hl, body, bl);
  }
  c->wlen = hl + bl;
  c->woff = 0;
  c->upgrade = upgrade;
  c->state = S_RESPOND;
}

static void http_date(char *out, size_t len) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(out, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

// respond_go answers as Go's net/http (http.Error): text/plain body, optional extra header.
static void respond_go(struct sconn *c, int status, const char *body, const char *extra) {
  char date[64], head[1024];
  http_date(date, sizeof(date));
  snprintf(head, sizeof(head),
           "HTTP/1.1 %d %s\r\n%sContent-Type: text/plain; charset=utf-8\r\n"
           "X-Content-Type-Options: nosniff\r\nDate: %s\r\nContent-Length: %zu\r\n"
           "Connection: close\r\n\r\n",
           status, mh_http_status_text(status), extra ? extra : "", date, strlen(body));
  respond(c, head, body, 0);
}

// respond_nginx answers with nginx's own error page.
static void respond_nginx(struct sconn *c, int status, const char *title) {
  char date[64], head[512], body[1024];
  http_date(date, sizeof(date));
  snprintf(body, sizeof(body),
           "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1>"
           "</center>\r\n%s%s%s<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
           status, title, status, mh_http_status_text(status),
           strcmp(title, mh_http_status_text(status)) ? "<center>" : "",
           strcmp(title, mh_http_status_text(status)) ? title : "",
           strcmp(title, mh_http_status_text(status)) ? "</center>\r\n" : "");
  snprintf(head, sizeof(head),
           "HTTP/1.1 %d %s\r\nServer: nginx\r\nDate: %s\r\nContent-Type: text/html\r\n"
           "Content-Length: %zu\r\nConnection: close\r\n\r\n",
           status, mh_http_status_text(status), date, strlen(body));
  respond(c, head, body, 0);
}

static void log_http(struct sconn *c, int status) {
  struct loc *l = c->out->loc;
  const struct mh_tls_info *ti = c->x.tls ? mh_tls_conn_info(c->x.tls) : NULL;
  struct mh_event e;
  mh_event_begin(&e, l->cfg->name, c->out->cfg->id, "http");
  mh_event_str(&e, "peer", c->peer);
  mh_event_str(&e, "method", c->head.method);
  mh_event_str(&e, "path", c->head.target);
  mh_event_int(&e, "status", status);
  if (ti != NULL) {
    mh_event_str(&e, "client_cn", ti->peer_cn);
    mh_event_str(&e, "version", ti->version_name);
  }
  mh_events_write(l->fed->ev, &e);
  struct mh_tls_info copy;
  if (ti != NULL) {
    copy = *ti;
    copy.reason[0] = '\0';
  }
  observe(l, c->peer, ti != NULL ? &copy : NULL, status);
}

// route decides the response to a complete request head, as the emulated server would.
static void route(struct sconn *c) {
  struct out *o = c->out;
  struct loc *l = o->loc;
  const struct mh_http_head *h = &c->head;
  const struct mh_tls_info *ti = c->x.tls ? mh_tls_conn_info(c->x.tls) : NULL;
  if (l->cfg->emulate == MH_EMULATE_NGINX && ti != NULL && l->cfg->server.mtls) {
    // ssl_verify_client on: the handshake succeeded whatever was sent; the HTTP layer refuses.
    if (!ti->peer_cert && l->cfg->server.require_client_cert) {
      log_http(c, 400);
      respond_nginx(c, 400, "No required SSL certificate was sent");
      return;
    }
    if (ti->peer_cert && !ti->verify_ok) {
      log_http(c, 400);
      respond_nginx(c, 400, "The SSL certificate error");
      return;
    }
    if (l->has_dn_regex && regexec(&l->dn_regex, ti->peer_dn, 0, NULL, 0) != 0) {
      log_http(c, 403);
      respond_nginx(c, 403, "Forbidden");
      return;
    }
  }
  char path[1024];
  snprintf(path, sizeof(path), "%s", h->target);
  char *q = strchr(path, '?');
  if (q != NULL) {
    *q = '\0';
  }
  if (strcmp(path, o->cfg->path) != 0) {
    log_http(c, 404);
    respond_go(c, 404, "404 page not found\n", NULL);
    return;
  }
  // gorilla/websocket Upgrader.Upgrade, in its order; errors answer with the status text and
  // "Sec-Websocket-Version: 13".
  static const char *const ver = "Sec-Websocket-Version: 13\r\n";
  int status = 0;
  if (!mh_http_has_token(h, "Connection", "upgrade") ||
      !mh_http_has_token(h, "Upgrade", "websocket")) {
    status = 400;
  } else if (strcmp(h->method, "GET") != 0) {
    status = 405;
  } else if (!mh_http_has_token(h, "Sec-Websocket-Version", "13")) {
    status = 400;
  } else {
    const char *key = mh_http_header(h, "Sec-Websocket-Key");
    if (key == NULL || strlen(key) != 24) {
      status = 400;
    } else {
      char accept[64], head[512];
      mh_tls_sha1_base64(key, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", accept, sizeof(accept));
      snprintf(head, sizeof(head),
               "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Accept: %s\r\n\r\n",
               accept);
      log_http(c, 101);
      respond(c, head, NULL, 1);
      return;
    }
  }
  char body[64];
  snprintf(body, sizeof(body), "%s\n", mh_http_status_text(status));
  log_http(c, status);
  respond_go(c, status, body, ver);
}

static void tls_rejected(struct sconn *c) {
  struct loc *l = c->out->loc;
  const struct mh_tls_info *ti = mh_tls_conn_info(c->x.tls);
  if (ti->http_on_tls) {
    // net/http answers in plain HTTP and logs nothing.
    static const char msg[] =
        "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
    ssize_t w = send(c->x.fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL);
    (void)w;
    emit_event_conn(l, c->out->cfg->id, "http_on_tls_port", c->peer);
    return;
  }
  mh_events_log(l->fed->ev, l->cfg->name, "http: TLS handshake error from %s: %s", c->peer,
                ti->reason);
  struct mh_event e;
  mh_event_begin(&e, l->cfg->name, c->out->cfg->id, "tls_reject");
  mh_event_str(&e, "peer", c->peer);
  mh_event_str(&e, "reason", ti->reason);
  mh_event_int(&e, "alert_sent", ti->alert_sent);
  mh_event_str(&e, "alert_sent_name", mh_alert_name(ti->alert_sent));
  mh_event_int(&e, "alert_received", ti->alert_received);
  mh_event_str(&e, "version",
               ti->version == MH_TLS13   ? "TLSv1.3"
               : ti->version == MH_TLS12 ? "TLSv1.2"
                                         : "");
  mh_event_str(&e, "client_cn", ti->peer_cn);
  mh_events_write(l->fed->ev, &e);
  observe(l, c->peer, ti, 0);
}

static void ws_opened(struct sconn *c) {
  struct loc *l = c->out->loc;
  struct ev_loop *loop = l->fed->loop;
  struct mh_ws_io io = {.arg = &c->x, .recv = ws_recv, .send = ws_send, .on_text = output_on_text};
  c->ws = mh_ws_new(1, &io);
  if (c->ws == NULL) {
    sconn_close(c);
    return;
  }
  c->state = S_WS;
  sconn_deadline(c, WS_READ_DEADLINE_S);
  ev_timer_set(&c->ping, WS_PING_INTERVAL_S, WS_PING_INTERVAL_S);
  ev_timer_start(loop, &c->ping);
  const struct mh_tls_info *ti = c->x.tls ? mh_tls_conn_info(c->x.tls) : NULL;
  struct mh_event e;
  mh_event_begin(&e, l->cfg->name, c->out->cfg->id, "ws_open");
  mh_event_str(&e, "peer", c->peer);
  mh_event_str(&e, "client_cn", ti ? ti->peer_cn : "");
  mh_events_write(l->fed->ev, &e);
}

// sconn_step advances |c| as far as the socket allows. It may free |c|.
static void sconn_step(struct sconn *c) {
  for (;;) {
    switch (c->state) {
      case S_HANDSHAKE: {
        enum mh_io r = mh_tls_handshake(c->x.tls);
        if (r == MH_IO_OK) {
          c->state = S_REQUEST;
          sconn_deadline(c, REQUEST_TIMEOUT_S);
          // The client's request follows its Finished in a later write: a read now would nearly
          // always be a wasted system call. Readiness tells when it is there (and sconn_want
          // goes on at once with bytes the TLS layer already holds).
          sconn_want(c, EV_READ);
          return;
        }
        if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
          sconn_want(c, r == MH_IO_WANT_READ ? EV_READ : EV_WRITE);
          return;
        }
        tls_rejected(c);
        if (c->out->loc->cfg->fault_rst_on_reject) {
          // The careless server: close at once, so unread client data turns the FIN into a RST.
          struct linger lg = {1, 0};
          setsockopt(c->x.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
          sconn_close(c);
          return;
        }
        sconn_drain(c);
        return;
      }
      case S_REQUEST: {
        char buf[IO_CHUNK];
        size_t n;
        enum mh_io r = xport_read(&c->x, buf, sizeof(buf), &n);
        if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
          sconn_want(c, r == MH_IO_WANT_READ ? EV_READ : EV_WRITE);
          return;
        }
        if (r != MH_IO_OK) {
          sconn_close(c);
          return;
        }
        long used = mh_http_parse(c->hp, buf, n, &c->head);
        if (used < 0) {
          log_http(c, 400);
          respond_go(c, 400, "400 Bad Request", NULL);  // Go answers a malformed request so
          continue;
        }
        if (c->head.complete) {
          // Bytes after the head are the client's first WebSocket frames.
          size_t rest = n - (size_t)used;
          memcpy(c->x.pending, buf + used, rest);
          c->x.pending_len = rest;
          c->x.pending_off = 0;
          route(c);
        }
        continue;
      }
      case S_RESPOND: {
        while (c->woff < c->wlen) {
          size_t n;
          enum mh_io r = xport_write(&c->x, c->wbuf + c->woff, c->wlen - c->woff, &n);
          if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
            sconn_want(c, r == MH_IO_WANT_READ ? EV_READ : EV_WRITE);
            return;
          }
          if (r != MH_IO_OK) {
            sconn_close(c);
            return;
          }
          c->woff += n;
        }
        free(c->wbuf);
        c->wbuf = NULL;
        if (c->upgrade) {
          ws_opened(c);
          if (c->state != S_WS) {
            return;  // freed
          }
          continue;
        }
        if (c->x.tls != NULL) {
          mh_tls_close_notify(c->x.tls);
        }
        sconn_drain(c);
        return;
      }
      case S_WS:
        if (mh_ws_pump(c->ws) != 0) {
          sconn_close(c);
          return;
        }
        sconn_want(c, EV_READ | (mh_ws_wants_write(c->ws) ? EV_WRITE : 0));
        return;
      case S_DRAIN: {
        char buf[IO_CHUNK];
        ssize_t n;
        while ((n = read(c->x.fd, buf, sizeof(buf))) > 0) {
        }
        if (n < 0 && errno == EAGAIN) {
          return;
        }
        sconn_close(c);
        return;
      }
    }
  }
}

static void sconn_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop;
  struct sconn *c = w->data;
  if ((revents & EV_READ) && c->x.tls != NULL) {
    mh_tls_readable(c->x.tls);
  }
  sconn_step(c);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)revents;
  struct out *o = w->data;
  struct loc *l = o->loc;
  for (int i = 0; i < 64; i++) {
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof(peer);
    int fd = accept4(o->fd, (struct sockaddr *)&peer, &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      return;
    }
    atomic_fetch_add_explicit(&l->fed->accepted, 1, memory_order_relaxed);
    if (o->num_conns >= MAX_CONNS_PER_OUTPUT) {
      close(fd);  // a flood of connections must not take the process down
      continue;
    }
    struct sconn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
      close(fd);
      continue;
    }
    c->out = o;
    c->x.fd = fd;
    mh_net_format_addr((struct sockaddr *)&peer, c->peer, sizeof(c->peer));
    c->hp = mh_http_parser_new(1);
    if (l->server_ctx != NULL) {
      c->x.tls = mh_tls_conn_new(l->server_ctx, fd, NULL);
    }
    if (c->hp == NULL || (l->server_ctx != NULL && c->x.tls == NULL)) {
      mh_http_parser_free(c->hp);
      close(fd);
      free(c);
      continue;
    }
    c->state = l->server_ctx != NULL ? S_HANDSHAKE : S_REQUEST;
    c->next = o->conns;
    if (o->conns != NULL) {
      o->conns->prev = c;
    }
    o->conns = c;
    o->num_conns++;
    ev_io_init(&c->io, sconn_cb, fd, EV_READ);
    c->io.data = c;
    ev_timer_init(&c->deadline, deadline_cb, 0., 0.);
    c->deadline.data = c;
    ev_timer_init(&c->ping, ping_cb, 0., 0.);
    c->ping.data = c;
    sconn_deadline(c, c->state == S_HANDSHAKE ? HANDSHAKE_TIMEOUT_S : REQUEST_TIMEOUT_S);
    ev_io_start(loop, &c->io);
  }
}

// out_listen binds |o|; |join| when the port is (or may be, after an outage) already held by
// another loop of this process.
static int out_listen(struct out *o, int port, int join, struct mh_err *err) {
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

static void out_close_all(struct out *o) {
  while (o->conns != NULL) {
    sconn_close(o->conns);
  }
  if (o->fd >= 0) {
    ev_io_stop(o->loc->fed->loop, &o->accept_io);
    close(o->fd);
    o->fd = -1;
  }
}

static void post_to_replicas(struct loc *l, const char *payload, const char *origin, long long seq);

// publish sends |payload| (JSON) from every output of |l| to every WebSocket client, the
// replicas' clients included.
static void publish(struct loc *l, const char *payload, const char *origin, long long seq) {
  post_to_replicas(l, payload, origin, seq);
  long long ms = mh_now_ms();
  for (size_t i = 0; i < l->num_outs; i++) {
    struct out *o = &l->outs[i];
    struct sconn *c = o->conns;
    while (c != NULL) {
      struct sconn *next = c->next;
      if (c->state == S_WS) {
        char id[64];
        snprintf(id, sizeof(id), "msg-%lld-%lld", ms, ++o->counter);
        size_t cap = strlen(payload) + 160;
        char *msg = malloc(cap);
        if (msg != NULL) {
          int n = snprintf(msg, cap,
                           "{\"type\":\"data\",\"id\":\"%s\",\"timestamp\":%lld,\"payload\":%s}",
                           id, ms, payload);
          send_ws(c, msg, (size_t)n);
          free(msg);
          struct mh_event e;
          mh_event_begin(&e, l->cfg->name, o->cfg->id, "send");
          mh_event_str(&e, "peer", c->peer);
          mh_event_str(&e, "id", id);
          mh_event_str(&e, "origin", origin);
          mh_event_int(&e, "seq", seq);
          mh_events_write(l->fed->ev, &e);
          sconn_step(c);  // may free c
        }
      }
      c = next;
    }
  }
}

// post_to_replicas queues what the primary's location |l| publishes for each replica's clients.
static void post_to_replicas(struct loc *l, const char *payload, const char *origin,
                             long long seq) {
  struct mh_federation *f = l->fed;
  if (f->num_replicas == 0 || l->num_outs == 0) {
    return;
  }
  size_t plen = strlen(payload), olen = origin != NULL ? strlen(origin) : 0;
  for (size_t i = 0; i < f->num_replicas; i++) {
    struct mh_federation *r = f->replicas[i];
    struct mail *m = malloc(sizeof(*m) + plen + 1 + olen + 1);
    if (m == NULL) {
      continue;  // this replica's clients miss the message, as a slow client would
    }
    m->next = NULL;
    m->loc = (size_t)(l - f->locs);
    m->seq = seq;
    memcpy(m->payload, payload, plen + 1);
    m->origin = m->payload + plen + 1;
    memcpy(m->origin, origin != NULL ? origin : "", olen + 1);
    pthread_mutex_lock(&r->mail_mu);
    if (r->mail_tail != NULL) {
      r->mail_tail->next = m;
    } else {
      r->mail_head = m;
    }
    r->mail_tail = m;
    pthread_mutex_unlock(&r->mail_mu);
    ev_async_send(r->loop, &r->mail_async);
  }
}

// mail_cb runs on a replica's loop: it sends the primary's messages to this loop's clients.
static void mail_cb(struct ev_loop *loop, ev_async *w, int revents) {
  (void)loop;
  (void)revents;
  struct mh_federation *f = w->data;
  pthread_mutex_lock(&f->mail_mu);
  struct mail *m = f->mail_head;
  f->mail_head = f->mail_tail = NULL;
  pthread_mutex_unlock(&f->mail_mu);
  while (m != NULL) {
    struct mail *next = m->next;
    if (!f->stopped && m->loc < f->num_locs && !f->locs[m->loc].down) {
      publish(&f->locs[m->loc], m->payload, m->origin[0] ? m->origin : NULL, m->seq);
    }
    free(m);
    m = next;
  }
}

// ================================ inputs ================================

static void in_cb(struct ev_loop *loop, ev_io *w, int revents);
static void in_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void in_step(struct in *in);
static void in_dial(struct in *in);

static void in_want(struct in *in, int events) {
  mh_watch_want(in->loc->fed->loop, &in->io, in->x.fd, events,
                in->x.tls != NULL && mh_tls_buffered(in->x.tls));
}

// in_reset closes the current connection attempt or session.
static void in_reset(struct in *in) {
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

static void in_event(struct in *in, const char *name, const char *error) {
  struct mh_event e;
  mh_event_begin(&e, in->loc->cfg->name, in->cfg->id, name);
  mh_event_str(&e, "url", in->cfg->url);
  if (error != NULL) {
    mh_event_str(&e, "error", error);
  }
  mh_event_int(&e, "attempt", in->attempts);
  mh_events_write(in->loc->fed->ev, &e);
}

// in_failed ends a dial attempt and waits as the real input does: after failure n the wait is
// initial x multiplier^n, capped at max_interval, for at most max_retries failures (0: forever).
static void in_failed(struct in *in, const char *error_in) {
  struct loc *l = in->loc;
  // |error_in| may live in the connection that in_reset frees.
  char error[512];
  snprintf(error, sizeof(error), "%s", error_in);
  in_reset(in);
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
  double wait = (double)rc->initial_ms / 1000.0 * pow(rc->multiplier, in->attempts);
  if (wait > (double)rc->max_ms / 1000.0) {
    wait = (double)rc->max_ms / 1000.0;
  }
  struct mh_event e;
  mh_event_begin(&e, l->cfg->name, in->cfg->id, "reconnect_wait");
  mh_event_int(&e, "attempt", in->attempts);
  mh_event_int(&e, "wait_ms", (long long)(wait * 1000));
  mh_events_write(l->fed->ev, &e);
  in->state = I_WAIT;
  ev_timer_set(&in->timer, wait, 0.);
  ev_timer_start(l->fed->loop, &in->timer);
}

static void input_on_text(void *arg, const uint8_t *msg, size_t len) {
  struct in *in = (struct in *)((char *)arg - offsetof(struct in, x));
  struct loc *l = in->loc;
  struct mh_envelope env;
  if (mh_scenario_parse_envelope((const char *)msg, len, &env) != 0) {
    return;  // the real input drops and counts it
  }
  if (strcmp(env.type, "data") == 0 && env.payload != NULL) {
    struct mh_event e;
    mh_event_begin(&e, l->cfg->name, in->cfg->id, "recv");
    mh_event_str(&e, "id", env.id);
    mh_event_str(&e, "origin", env.origin);
    mh_event_int(&e, "seq", env.seq);
    mh_events_write(l->fed->ev, &e);
    char ack[256];
    int n = snprintf(ack, sizeof(ack), "{\"type\":\"ack\",\"id\":\"%s\",\"timestamp\":%lld}",
                     env.id, mh_now_ms());
    mh_ws_send_text(in->ws, ack, (size_t)n);
    publish(l, env.payload, env.origin, env.seq);
  }
  free(env.payload);
}

static void in_step(struct in *in) {
  for (;;) {
    switch (in->state) {
      case I_CONNECTING: {
        int e = mh_net_connect_result(in->x.fd);
        if (e != 0) {
          char msg[160];
          snprintf(msg, sizeof(msg), "dial tcp %s:%d: connect: %s", in->dial_addr, in->dial_port,
                   strerror(e));
          for (char *p = msg; *p; p++) {
            *p = (char)(p > msg && p[-1] == ' ' && *p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
          }
          in_failed(in, msg);
          return;
        }
        if (in->cfg->url_tls) {
          in->x.tls = mh_tls_conn_new(in->loc->client_ctx, in->x.fd, in->cfg->url_host);
          if (in->x.tls == NULL) {
            in_failed(in, "out of memory");
            return;
          }
          in->state = I_HANDSHAKE;
        } else {
          in->state = I_SEND;
        }
        continue;
      }
      case I_HANDSHAKE: {
        enum mh_io r = mh_tls_handshake(in->x.tls);
        if (r == MH_IO_OK) {
          in->state = I_SEND;
          continue;
        }
        if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
          in_want(in, r == MH_IO_WANT_READ ? EV_READ : EV_WRITE);
          return;
        }
        in_failed(in, mh_tls_conn_info(in->x.tls)->reason);
        return;
      }
      case I_SEND: {
        while (in->req_off < in->req_len) {
          size_t n;
          enum mh_io r = xport_write(&in->x, in->req + in->req_off, in->req_len - in->req_off, &n);
          if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
            in_want(in, r == MH_IO_WANT_READ ? EV_READ : EV_WRITE);
            return;
          }
          if (r != MH_IO_OK) {
            in_failed(in, in->x.tls ? mh_tls_conn_info(in->x.tls)->reason : "write failed");
            return;
          }
          in->req_off += n;
        }
        in->state = I_RECV;
        continue;
      }
      case I_RECV: {
        char buf[IO_CHUNK];
        size_t n;
        enum mh_io r = xport_read(&in->x, buf, sizeof(buf), &n);
        if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
          in_want(in, r == MH_IO_WANT_READ ? EV_READ : EV_WRITE);
          return;
        }
        if (r != MH_IO_OK) {
          // In TLS 1.3 a rejected client certificate shows up here, on the first read.
          in_failed(in, in->x.tls ? mh_tls_conn_info(in->x.tls)->reason : "EOF");
          return;
        }
        long used = mh_http_parse(in->hp, buf, n, &in->head);
        if (used < 0) {
          in_failed(in, "malformed HTTP response");
          return;
        }
        if (!in->head.complete) {
          continue;
        }
        const char *accept = mh_http_header(&in->head, "Sec-WebSocket-Accept");
        if (in->head.status != 101 || accept == NULL || strcmp(accept, in->accept) != 0) {
          char msg[96];
          snprintf(msg, sizeof(msg), "websocket: bad handshake (HTTP %d)", in->head.status);
          in_failed(in, msg);
          return;
        }
        size_t rest = n - (size_t)used;
        memcpy(in->x.pending, buf + used, rest);
        in->x.pending_len = rest;
        in->x.pending_off = 0;
        struct mh_ws_io io = {
            .arg = &in->x, .recv = ws_recv, .send = ws_send, .on_text = input_on_text};
        in->ws = mh_ws_new(0, &io);
        if (in->ws == NULL) {
          in_failed(in, "out of memory");
          return;
        }
        ev_timer_stop(in->loc->fed->loop, &in->timer);
        in->state = I_OPEN;
        in->attempts = 0;  // a successful connect resets the count
        in_event(in, "connected", NULL);
        continue;
      }
      case I_OPEN:
        if (mh_ws_pump(in->ws) != 0) {
          const char *why = in->x.tls ? mh_tls_conn_info(in->x.tls)->reason : "";
          in_event(in, "disconnected", why[0] ? why : "EOF");
          in_reset(in);
          if (!in->loc->fed->stopped && !in->loc->down) {
            in_dial(in);  // an established session that drops is redialed at once
          }
          return;
        }
        in_want(in, EV_READ | (mh_ws_wants_write(in->ws) ? EV_WRITE : 0));
        return;
      default:
        return;
    }
  }
}

// resolve_target finds where an input's URL points: a scenario location's bound output (so that
// --ephemeral-ports works), or a loopback literal.
static void resolve_target(struct in *in) {
  const struct mh_federation *f = in->loc->fed;
  snprintf(in->dial_addr, sizeof(in->dial_addr), "%s", in->cfg->url_host);
  in->dial_port = in->cfg->url_port;
  for (size_t i = 0; i < f->num_locs; i++) {
    const struct loc *l = &f->locs[i];
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

static void in_dial(struct in *in) {
  struct loc *l = in->loc;
  in_reset(in);
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
  uint8_t raw[16];
  mh_tls_random(raw, sizeof(raw));
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  // base64 of 16 bytes: 22 characters and "==".
  size_t k = 0;
  for (size_t i = 0; i < 15; i += 3) {
    uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
    in->key[k++] = b64[(v >> 18) & 63];
    in->key[k++] = b64[(v >> 12) & 63];
    in->key[k++] = b64[(v >> 6) & 63];
    in->key[k++] = b64[v & 63];
  }
  in->key[k++] = b64[raw[15] >> 2];
  in->key[k++] = b64[(raw[15] & 3) << 4];
  in->key[k++] = '=';
  in->key[k++] = '=';
  in->key[k] = '\0';
  mh_tls_sha1_base64(in->key, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", in->accept,
                     sizeof(in->accept));
  int n = snprintf(in->req, sizeof(in->req),
                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: Go-http-client/1.1\r\n"
                   "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n",
                   in->cfg->url_path, in->cfg->url_host, in->cfg->url_port, in->key);
  in->req_len = (size_t)n;
  in->req_off = 0;
  in->state = I_CONNECTING;
  ev_io_set(&in->io, in->x.fd, EV_WRITE);
  ev_io_start(l->fed->loop, &in->io);
  ev_timer_set(&in->timer, DIAL_TIMEOUT_S, 0.);
  ev_timer_start(l->fed->loop, &in->timer);
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
  struct in *in = w->data;
  if (in->state == I_WAIT) {
    in_dial(in);
  } else if (in->state != I_OPEN && in->state != I_IDLE && in->state != I_GAVE_UP) {
    in_failed(in, "i/o timeout");
  }
}

// ================================ locations ================================

static void emit_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  struct loc *l = w->data;
  long long seq = ++l->emit_seq;
  char ts[40], payload[512];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
  snprintf(
      payload, sizeof(payload),
      "{\"origin\":\"%s\",\"seq\":%lld,\"value\":%lld,\"subject\":\"%s\",\"timestamp\":\"%s\"}",
      l->cfg->name, seq, seq % 100, l->cfg->emit_subject, ts);
  struct mh_event e;
  mh_event_begin(&e, l->cfg->name, NULL, "emit");
  mh_event_int(&e, "seq", seq);
  mh_events_write(l->fed->ev, &e);
  publish(l, payload, l->cfg->name, seq);
}

static void loc_start(struct loc *l) {
  struct ev_loop *loop = l->fed->loop;
  for (size_t i = 0; i < l->num_outs; i++) {
    ev_io_start(loop, &l->outs[i].accept_io);
    struct mh_event e;
    mh_event_begin(&e, l->cfg->name, l->outs[i].cfg->id, "listen");
    mh_event_str(&e, "address", l->cfg->address);
    mh_event_int(&e, "port", l->outs[i].port);
    mh_events_write(l->fed->ev, &e);
  }
  if (l->fed->primary != NULL) {
    return;  // a replica only serves: the primary dials and emits
  }
  for (size_t i = 0; i < l->num_ins; i++) {
    l->ins[i].attempts = 0;
    in_dial(&l->ins[i]);
  }
  if (l->cfg->emit_rate > 0) {
    double period = 1.0 / l->cfg->emit_rate;
    ev_timer_set(&l->emit_timer, period, period);
    ev_timer_start(loop, &l->emit_timer);
  }
}

static void loc_stop(struct loc *l) {
  ev_timer_stop(l->fed->loop, &l->emit_timer);
  for (size_t i = 0; i < l->num_ins; i++) {
    in_reset(&l->ins[i]);
  }
  for (size_t i = 0; i < l->num_outs; i++) {
    out_close_all(&l->outs[i]);
  }
}

static void outage_start_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)revents;
  struct loc *l = w->data;
  l->down = 1;
  emit_event_conn(l, NULL, "outage_start", NULL);
  loc_stop(l);
  ev_timer_set(&l->outage_end, l->outage_duration, 0.);
  ev_timer_start(loop, &l->outage_end);
}

static void outage_end_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  struct loc *l = w->data;
  struct mh_err err;
  l->down = 0;
  for (size_t i = 0; i < l->num_outs; i++) {
    if (out_listen(&l->outs[i], l->outs[i].port, 1, &err) != 0) {
      emit_event_conn(l, l->outs[i].cfg->id, "listen_failed", err.msg);
    }
  }
  emit_event_conn(l, NULL, "outage_end", NULL);
  loc_start(l);
}

static int loc_init(struct mh_federation *f, struct loc *l, const struct mh_location *cfg,
                    struct mh_err *err) {
  l->fed = f;
  l->cfg = cfg;
  char prefix[MH_ERR_LEN];
  if (cfg->server_tls) {
    struct mh_tls_server_policy p = cfg->server;
    p.emulate = cfg->emulate;
    // rst_on_reject needs the client's unread flight left in the kernel; sconn_want honours the
    // buffer otherwise.
    p.buffered = !cfg->fault_rst_on_reject;
    p.ticket_key_id = cfg->name;  // the loops of a location accept each other's tickets
    if (cfg->fault_ignore_allowlist) {
      p.num_allowed_cns = 0;  // the deliberate bug: every verified client is let in
    }
    if ((l->server_ctx = mh_tls_server_ctx_new(&p, err)) == NULL) {
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
    if ((l->client_ctx = mh_tls_client_ctx_new(&cfg->client, err)) == NULL) {
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
      struct out *o = &l->outs[l->num_outs++];
      o->loc = l;
      o->cfg = comp;
      o->fd = -1;
      struct mh_federation *pf = f->primary;
      int port = pf != NULL           ? pf->locs[l - f->locs].outs[l->num_outs - 1].port
                 : f->shared_port > 0 ? f->shared_port
                 : f->ephemeral       ? 0
                                      : comp->port;
      if (out_listen(o, port, pf != NULL || f->shared_port > 0, err) != 0) {
        return -1;
      }
    } else {
      struct in *in = &l->ins[l->num_ins++];
      in->loc = l;
      in->cfg = comp;
      in->x.fd = -1;
      ev_io_init(&in->io, in_cb, -1, EV_READ);
      in->io.data = in;
      ev_timer_init(&in->timer, in_timer_cb, 0., 0.);
      in->timer.data = in;
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
  f->primary = opts->primary;
  pthread_mutex_init(&f->mail_mu, NULL);
  if (f->primary != NULL) {
    if (f->primary->num_replicas == MH_MAX_LOOPS || !f->primary->shared || f->primary->s != s) {
      mh_err_set(err, "internal: a replica needs a shared primary of the same scenario");
      pthread_mutex_destroy(&f->mail_mu);
      free(f);
      return NULL;
    }
    ev_async_init(&f->mail_async, mail_cb);
    f->mail_async.data = f;
    ev_async_start(loop, &f->mail_async);
  }
  f->locs = calloc(s->num_locations + 1, sizeof(*f->locs));
  if (f->locs == NULL) {
    mh_err_set(err, "out of memory");
    free(f);
    return NULL;
  }
  mh_net_raise_fd_limit();
  for (size_t i = 0; i < s->num_locations; i++) {
    f->num_locs++;
    if (loc_init(f, &f->locs[i], &s->locations[i], err) != 0) {
      mh_federation_free(f);
      return NULL;
    }
  }
  if (f->primary != NULL) {
    f->primary->replicas[f->primary->num_replicas++] = f;
  }
  return f;
}

void mh_federation_start(struct mh_federation *f) {
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
                              p->min_version == MH_TLS13 ? "1.3" : "1.2",
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
    const struct loc *l = &f->locs[i];
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

int mh_federation_schedule_outage(struct mh_federation *f, const char *location, double start_s,
                                  double duration_s, struct mh_err *err) {
  for (size_t i = 0; i < f->num_locs; i++) {
    struct loc *l = &f->locs[i];
    if (strcmp(l->cfg->name, location) == 0) {
      l->outage_duration = duration_s;
      ev_timer_set(&l->outage_start, start_s, 0.);
      ev_timer_start(f->loop, &l->outage_start);
      return 0;
    }
  }
  return mh_err_set(err, "--outage: no location \"%s\" in %s", location, f->s->file);
}

void mh_federation_stop(struct mh_federation *f) {
  f->stopped = 1;
  for (size_t i = 0; i < f->num_locs; i++) {
    struct loc *l = &f->locs[i];
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
    struct loc *l = &f->locs[i];
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
  while (f->mail_head != NULL) {
    struct mail *next = f->mail_head->next;
    free(f->mail_head);
    f->mail_head = next;
  }
  pthread_mutex_destroy(&f->mail_mu);
  free(f);
}

int mh_federation_port(const struct mh_federation *f, const char *location,
                       const char **out_address, int *out_port) {
  for (size_t i = 0; i < f->num_locs; i++) {
    const struct loc *l = &f->locs[i];
    if (strcmp(l->cfg->name, location) == 0 && l->num_outs > 0) {
      *out_address = l->cfg->address;
      *out_port = l->outs[0].port;
      return 0;
    }
  }
  return -1;
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
