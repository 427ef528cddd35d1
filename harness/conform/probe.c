// probe: one case as a state machine on a libev loop, every wait with a deadline (see probe.h).
#include "conform/probe.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alerts.h"
#include "base/clock.h"
#include "base/net.h"
#include "base/watch.h"
#include "mock/http.h"
#include "mock/ws.h"

// STOP_SLICE_MS is how often a long wait looks at the caller's stop flag.
#define STOP_SLICE_MS 100
// DRAIN_SLICE is how many bytes a probe reads past an answer in one turn of the loop: a server
// that streams without end must neither hold the loop (the other cases on it) nor outlive the
// probe's deadline.
#define DRAIN_SLICE (256 * 1024)

// Where a probe is; each step names what its socket waits for.
enum step {
  STEP_START,      // nothing yet: resolve and dial on the loop's first turn
  STEP_CONNECT,    // the TCP connect of one address (start + connect_ms for all of them)
  STEP_HANDSHAKE,  // the TLS handshake (t_tcp + handshake_ms)
  STEP_WRITE,      // the request (t_hs + first_read_ms, as the read after it)
  STEP_READ,       // the first read: the answer's head, or any byte in TLS mode
  STEP_TLS_END,    // after an HTTP answer: how the server ends, through TLS (close_wait_ms)
  STEP_RAW_END,    // after a TLS rejection: FIN, RST or nothing on the socket (close_wait_ms)
};

struct mh_probe {
  struct ev_loop *loop;
  struct mh_tls_ctx *ctx;
  struct mh_probe_target t;
  struct mh_probe_timeouts to;
  struct mh_probe_hooks hooks;
  int has_hooks;
  struct mh_case_outcome *o;
  void (*done)(void *arg);
  void *done_arg;
  enum step step;
  ev_io io;
  ev_timer timer;
  double deadline;  // of the current wait (mh_clock_now_ms)
  int stoppable;    // the current wait ends early when |to.stop| is set
  int fd;           // -1 until a socket exists
  struct mh_tls_conn *tc;
  struct mh_net_addrs addrs;
  size_t next_addr;
  double start, t_tcp, t_hs;
  char req[1024];
  size_t req_len, req_off;
  struct mh_http_parser *hp;
  struct mh_http_head head;
  char lead[5];  // the answer's first bytes (up to 5): "HTTP/" or not
  size_t lead_len;
  // The server's first bytes, peeked before the TLS library reads them: a peer that does not
  // speak TLS (a plain HTTP server, an SSH banner: the wrong port) is told from a TLS refusal.
  char first[48];
  size_t first_len;
  int peeked;
};

static void advance(struct mh_probe *p);

void mh_probe_outcome_forget_keys(struct mh_case_outcome *o) {
  if (o->keylog != NULL) {
    explicit_bzero(o->keylog, strlen(o->keylog));
    free(o->keylog);
    o->keylog = NULL;
  }
}

void mh_probe_outcome_release(struct mh_case_outcome *o) {
  mh_probe_outcome_forget_keys(o);
  for (size_t i = 0; i < o->num_request_cas_kept; i++) {
    free(o->request_cas[i]);
    o->request_cas[i] = NULL;
  }
  o->num_request_cas_kept = 0;
}

// finish records what the TLS layer saw of the server's flight, releases the connection and calls
// the caller's |done|: the last thing the probe does, after which |p| is gone.
static void finish(struct mh_probe *p) {
  struct mh_case_outcome *o = p->o;
  o->total_ms = mh_clock_now_ms() - p->start;
  ev_io_stop(p->loop, &p->io);
  ev_timer_stop(p->loop, &p->timer);
  if (p->tc != NULL) {
    const char *keys = mh_tls_conn_keylog(p->tc);
    mh_probe_outcome_forget_keys(o);
    o->keylog = keys[0] != '\0' ? strdup(keys) : NULL;  // NULL (out of memory): no keys in the file
    // What the server's flight showed, whichever path copied the info last.
    const struct mh_tls_info *ti = mh_tls_conn_info(p->tc);
    o->tls.server_hello = ti->server_hello;
    o->tls.server_version = ti->server_version;
    o->tls.certificate_request = ti->certificate_request;
    o->tls.num_request_cas = ti->num_request_cas;
    o->tls.client_flight_sent = ti->client_flight_sent;
    o->tls.hello_request = ti->hello_request;
    o->tls.renegotiations = ti->renegotiations;
    o->tls.post_handshake_auth = ti->post_handshake_auth;
    const char *ca;
    while (o->num_request_cas_kept < MH_TLS_REQUEST_CAS &&
           (ca = mh_tls_conn_request_ca(p->tc, o->num_request_cas_kept)) != NULL) {
      char *kept = strdup(ca);
      if (kept == NULL) {
        break;  // the count (tls.num_request_cas) still says how many were sent
      }
      o->request_cas[o->num_request_cas_kept++] = kept;
    }
    size_t chain_len;
    const uint8_t *chain = mh_tls_conn_peer_chain(p->tc, &chain_len);
    if (chain != NULL && p->has_hooks && p->hooks.server_chain != NULL) {
      p->hooks.server_chain(p->hooks.arg, chain, chain_len);
    }
  }
  mh_tls_conn_free(p->tc);
  mh_http_parser_free(p->hp);
  if (p->fd >= 0) {
    close(p->fd);
  }
  void (*done)(void *) = p->done;
  void *arg = p->done_arg;
  explicit_bzero(p->req, sizeof(p->req));
  free(p);
  done(arg);
}

// wait_for makes the probe wait for |events| on its socket (EV_READ or EV_WRITE) until its
// deadline; the timer wakes it at the deadline, or every STOP_SLICE_MS to look at the stop flag.
static void wait_for(struct mh_probe *p, int events) {
  mh_watch_want(p->loop, &p->io, p->fd, events, p->tc != NULL && mh_tls_buffered(p->tc));
  double left = p->deadline - mh_clock_now_ms();
  if (p->stoppable && p->to.stop != NULL && left > STOP_SLICE_MS) {
    left = STOP_SLICE_MS;
  }
  ev_timer_stop(p->loop, &p->timer);
  ev_timer_set(&p->timer, left > 0 ? left / 1000.0 : 0., 0.);
  ev_timer_start(p->loop, &p->timer);
}

static void wait_io(struct mh_probe *p, enum mh_io r) {
  wait_for(p, r == MH_IO_WANT_WRITE ? EV_WRITE : EV_READ);
}

// set_deadline sets when the next waits end, and whether the caller's stop flag cuts them.
static void set_deadline(struct mh_probe *p, double deadline, int stoppable) {
  p->deadline = deadline;
  p->stoppable = stoppable;
}

// local_name writes "ip:port" ("[ip]:port") of |fd|'s own end, as the server sees it.
static void local_name(int fd, char *out, size_t len) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  out[0] = '\0';
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
      (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
    mh_net_format_addr((const struct sockaddr *)&ss, out, len);
  }
}

// raw_end starts reading what follows a rejection on the raw socket: FIN, RST or nothing within
// close_wait_ms (then MH_END_TIMEOUT: after a fatal alert the server should have closed).
static void raw_end(struct mh_probe *p) {
  p->step = STEP_RAW_END;
  set_deadline(p, mh_clock_now_ms() + p->to.close_wait_ms, 0);
  advance(p);
}

// rejected_by_tls records a rejection the TLS layer reported and goes on to see how the transport
// ended, unless that is known already: |known_end| (the TLS layer saw the close), or MH_END_NONE.
static void rejected_by_tls(struct mh_probe *p, enum mh_phase phase, enum mh_end known_end) {
  struct mh_case_outcome *o = p->o;
  const struct mh_tls_info *ti = mh_tls_conn_info(p->tc);
  o->tls = *ti;
  o->result = MH_RESULT_REJECTED;
  o->layer = MH_LAYER_TLS;
  o->phase = phase;
  snprintf(o->client_error, sizeof(o->client_error), "%s", ti->reason);
  // Our own verification failed, or the server chose what our client cannot speak (a version,
  // a cipher): we sent the alert, and the verdict attributes it.
  int negotiation = ti->alert_sent == MH_ALERT_PROTOCOL_VERSION ||
                    ti->alert_sent == MH_ALERT_HANDSHAKE_FAILURE ||
                    ti->alert_sent == MH_ALERT_INSUFFICIENT_SECURITY;
  if (ti->alert_sent != MH_ALERT_NONE && ti->alert_received == MH_ALERT_NONE &&
      (ti->verify_refused || negotiation)) {
    o->rejected_by = 'c';
    o->end = MH_END_CLIENT_CLOSE;
    finish(p);
    return;
  }
  // Our TLS library refused a message of the server's (a record corrupted on the path, a
  // message over its limits, a signature that does not verify): the server refused nothing, and
  // only a server's refusal may be judged as one.
  if (ti->alert_sent != MH_ALERT_NONE && ti->alert_received == MH_ALERT_NONE) {
    o->result = MH_RESULT_INCONCLUSIVE;
    o->layer = MH_LAYER_NONE;
    o->rejected_by = 0;
    o->end = MH_END_CLIENT_CLOSE;
    snprintf(o->client_error, sizeof(o->client_error),
             "the harness's own TLS client refused a message of the server (no refusal by the "
             "server): %.300s (we sent alert %d %s)",
             ti->reason, ti->alert_sent, mh_alert_name(ti->alert_sent));
    finish(p);
    return;
  }
  o->rejected_by = 's';
  if (ti->alert_received == MH_ALERT_NONE && ti->end == MH_END_RST) {
    o->end = MH_END_RST;
    finish(p);
    return;
  }
  if (known_end != MH_END_NONE && ti->alert_received == MH_ALERT_NONE) {
    o->end = known_end;
    finish(p);
    return;
  }
  raw_end(p);
}

// before_connect_cb records the source port and passes it on to the caller's hook.
static void before_connect_cb(void *arg, int local_port) {
  struct mh_probe *p = arg;
  p->o->local_port = local_port;
  if (p->has_hooks && p->hooks.before_connect != NULL) {
    p->hooks.before_connect(p->hooks.arg, p->o->remote, local_port);
  }
}

// dial_error records a failed dial in Go's words: "dial tcp HOST:PORT (ADDR): |what|", the
// address in parentheses when the host was a name; |e| is the errno of the last address tried.
static void dial_error(struct mh_case_outcome *o, const struct mh_probe_target *t, const char *what,
                       int e) {
  char where[MH_NET_HOST_LEN + 100];
  int v6 = strchr(t->host, ':') != NULL;
  int n =
      snprintf(where, sizeof(where), "%s%s%s:%d", v6 ? "[" : "", t->host, v6 ? "]" : "", t->port);
  if (o->remote[0] != '\0' && strcmp(o->remote, t->host) != 0 && n > 0 &&
      (size_t)n < sizeof(where)) {
    snprintf(where + n, sizeof(where) - (size_t)n, " (%s)", o->remote);
  }
  o->tcp = e == ECONNREFUSED ? MH_TCP_REFUSED : e == ETIMEDOUT ? MH_TCP_TIMEOUT : MH_TCP_ERROR;
  snprintf(o->client_error, sizeof(o->client_error), "dial tcp %s: %s", where, what);
  o->phase = MH_PHASE_TCP;
  o->end = e == ECONNREFUSED ? MH_END_REFUSED : e == ETIMEDOUT ? MH_END_TIMEOUT : MH_END_NONE;
}

// dial_next dials the next resolved address; with none left, the case ends with the last
// address's error (or the resolver's).
static void dial_next(struct mh_probe *p) {
  struct mh_case_outcome *o = p->o;
  while (p->next_addr < p->addrs.num) {
    if (p->fd >= 0) {
      ev_io_stop(p->loop, &p->io);
      close(p->fd);
      p->fd = -1;
    }
    size_t i = p->next_addr++;
    const struct sockaddr *sa = (const struct sockaddr *)&p->addrs.ss[i];
    mh_net_format_ip(sa, o->remote, sizeof(o->remote));
    p->fd = mh_net_connect_addr(sa, p->addrs.len[i], before_connect_cb, p);
    if (p->fd < 0) {
      int e = errno;
      dial_error(o, &p->t, strerror(e), e);
      continue;
    }
    p->step = STEP_CONNECT;
    wait_for(p, EV_WRITE);
    return;
  }
  finish(p);
}

// start_dial resolves the target (pins first, then the system resolver) and dials its first
// address, all by start + connect_ms.
static void start_dial(struct mh_probe *p) {
  struct mh_case_outcome *o = p->o;
  struct mh_err err;
  if (mh_net_resolve(p->t.host, p->t.port, p->t.pins, p->t.num_pins, &p->addrs, &err) != 0) {
    o->tcp = MH_TCP_ERROR;
    snprintf(o->client_error, sizeof(o->client_error), "dial tcp: %.400s", err.msg);
    o->phase = MH_PHASE_TCP;
    finish(p);
    return;
  }
  set_deadline(p, p->start + p->to.connect_ms, 1);
  dial_next(p);
}

// build_request writes the request of the target's mode into |p->req|; 0, or -1 with the case
// recorded (inconclusive) when it does not fit.
static int build_request(struct mh_probe *p) {
  const struct mh_probe_target *t = &p->t;
  int n = 0;
  if (t->request == MH_REQUEST_WEBSOCKET) {
    // A fixed key: the probe checks the answer's status, not its Sec-WebSocket-Accept.
    n = mh_ws_upgrade_request(p->req, sizeof(p->req), t->host_header, t->path,
                              "dGhlIHNhbXBsZSBub25jZQ==", "mtls-harness");
  } else if (t->request == MH_REQUEST_HTTP) {
    // Connection: close asks the server to end the connection after its answer, so that how it
    // ends is seen at once rather than after an idle keep-alive.
    n = snprintf(p->req, sizeof(p->req),
                 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: mtls-harness\r\nAccept: */*\r\n"
                 "Connection: close\r\n\r\n",
                 t->path, t->host_header);
  }
  if (n < 0 || (size_t)n >= sizeof(p->req)) {
    p->o->phase = MH_PHASE_FIRST_READ;
    snprintf(p->o->client_error, sizeof(p->o->client_error),
             "the request for %.200s does not fit in %zu bytes (shorten the path or host)", t->path,
             sizeof(p->req));
    return -1;
  }
  p->req_len = (size_t)n;
  return 0;
}

// handshake_done starts the request (none in TLS mode) and the first read, both by t_hs +
// first_read_ms.
static void handshake_done(struct mh_probe *p) {
  p->o->handshake_ok = 1;
  p->t_hs = p->t_tcp + p->o->handshake_ms;
  if (build_request(p) != 0) {
    finish(p);
    return;
  }
  if (p->t.request != MH_REQUEST_TLS) {
    // Only the status and the end of the head matter, read at most 16 KiB: a server's headers are
    // not the probe's business, and an endless head must not hold it.
    p->hp = mh_http_parser_new_status();
  }
  set_deadline(p, p->t_hs + p->to.first_read_ms, 1);
  p->step = p->req_len > 0 ? STEP_WRITE : STEP_READ;
  advance(p);
}

// on_connected checks the connect of the current address: on to the handshake, or the next
// address.
static void on_connected(struct mh_probe *p) {
  struct mh_case_outcome *o = p->o;
  int e = mh_net_connect_result(p->fd);
  if (e != 0) {
    char what[160];
    snprintf(what, sizeof(what), "connect: %s", strerror(e));
    dial_error(o, &p->t, what, e);
    dial_next(p);
    return;
  }
  o->tcp = MH_TCP_OK;
  o->end = MH_END_NONE;
  local_name(p->fd, o->local_peer, sizeof(o->local_peer));
  p->t_tcp = mh_clock_now_ms();
  o->tcp_ms = p->t_tcp - p->start;
  p->tc = mh_tls_conn_new(p->ctx, p->fd, p->t.server_name);
  if (p->tc == NULL) {
    snprintf(o->client_error, sizeof(o->client_error), "out of memory");
    finish(p);
    return;
  }
  p->step = STEP_HANDSHAKE;
  set_deadline(p, p->t_tcp + p->to.handshake_ms, 1);
  advance(p);
}

static enum mh_phase flight_phase(struct mh_probe *p) {
  return mh_tls_conn_info(p->tc)->client_flight_sent ? MH_PHASE_CLIENT_FLIGHT
                                                     : MH_PHASE_SERVER_FLIGHT;
}

// peek_first keeps the server's first bytes (once some have arrived) without taking them from the
// socket, where the TLS library reads them next.
static void peek_first(struct mh_probe *p) {
  // Only bytes waiting are peeked: a recv on a reset socket would take its error (ECONNRESET)
  // and leave the TLS library an end of file, hiding the reset.
  int avail = 0;
  if (ioctl(p->fd, FIONREAD, &avail) != 0 || avail <= 0) {
    return;
  }
  ssize_t n = recv(p->fd, p->first, sizeof(p->first) - 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) {
    p->first_len = (size_t)n;
    p->peeked = 1;
  }
}

// speaks_tls reports whether the peeked bytes can begin a TLS record from a server: a content
// type of 20 to 23 (change_cipher_spec, alert, handshake, application data), then major version 3.
static int speaks_tls(const struct mh_probe *p) {
  unsigned char type = (unsigned char)p->first[0];
  return p->first_len == 0 || (type >= 20 && type <= 23 && (p->first_len < 2 || p->first[1] == 3));
}

// not_tls records a peer whose first bytes are not TLS: no TLS server refused or admitted anyone,
// so the case is inconclusive, with the first line it sent (the reports show it printable).
static void not_tls(struct mh_probe *p) {
  struct mh_case_outcome *o = p->o;
  o->tls = *mh_tls_conn_info(p->tc);
  o->result = MH_RESULT_INCONCLUSIVE;
  o->phase = MH_PHASE_SERVER_FLIGHT;
  o->not_tls = 1;
  size_t n = 0;
  while (n < p->first_len && p->first[n] != '\r' && p->first[n] != '\n' && p->first[n] != '\0') {
    n++;
  }
  p->first[n] = '\0';
  if (p->first_len == 0) {
    // The TLS library read the bytes before the probe could peek at them (they came within the
    // handshake call that sent the ClientHello): what it says of them is all there is.
    snprintf(o->client_error, sizeof(o->client_error),
             "the peer's first bytes are not a TLS record, not TLS: wrong port, or a service "
             "without TLS?");
  } else {
    snprintf(o->client_error, sizeof(o->client_error),
             "the peer answered \"%s\", not TLS: wrong port, or a service without TLS?", p->first);
  }
  finish(p);
}

static void step_handshake(struct mh_probe *p) {
  if (!p->peeked) {
    peek_first(p);
  }
  enum mh_io r = mh_tls_handshake(p->tc);
  if (r == MH_IO_OK) {
    p->o->handshake_ms = mh_clock_now_ms() - p->t_tcp;
    handshake_done(p);
  } else if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
    wait_io(p, r);
  } else if (!speaks_tls(p) ||
             (mh_tls_conn_info(p->tc)->not_tls_record && !mh_tls_conn_info(p->tc)->server_hello)) {
    p->o->handshake_ms = mh_clock_now_ms() - p->t_tcp;
    not_tls(p);
  } else {
    p->o->handshake_ms = mh_clock_now_ms() - p->t_tcp;
    rejected_by_tls(p, flight_phase(p), MH_END_NONE);
  }
}

// step_write writes the request; a failure shows on the read after it.
static void step_write(struct mh_probe *p) {
  while (p->req_off < p->req_len) {
    size_t w;
    enum mh_io r = mh_tls_write(p->tc, p->req + p->req_off, p->req_len - p->req_off, &w);
    if (r == MH_IO_OK) {
      p->req_off += w;
      continue;
    }
    if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
      wait_io(p, r);
      return;
    }
    break;
  }
  p->step = STEP_READ;
  advance(p);
}

// tls_end starts waiting for the server to end the connection after its answer.
static void tls_end(struct mh_probe *p) {
  p->step = STEP_TLS_END;
  set_deadline(p, mh_clock_now_ms() + p->to.close_wait_ms, 0);
  advance(p);
}

// answered records the server's complete HTTP answer |status|: below 400 an acceptance, else (or
// when the policy lists it among its refusal statuses) a rejection at the application layer; then
// how the server ends, except after a WebSocket upgrade (a WebSocket server keeps the connection:
// we close it).
static void answered(struct mh_probe *p, int status) {
  struct mh_case_outcome *o = p->o;
  o->http_status = status;
  o->ws_upgraded = status == 101;
  o->tls = *mh_tls_conn_info(p->tc);
  int refusal = 0;
  for (size_t i = 0; i < p->t.num_refusal_statuses; i++) {
    refusal |= p->t.refusal_statuses[i] == status;
  }
  if (status >= 100 && status < 400 && !refusal) {
    o->result = MH_RESULT_ACCEPTED;
    o->phase = MH_PHASE_NONE;
    if (p->t.request != MH_REQUEST_HTTP) {
      mh_tls_close_notify(p->tc);
      o->end = MH_END_CLIENT_CLOSE;
      finish(p);
      return;
    }
  } else {
    o->result = MH_RESULT_REJECTED;
    o->layer = MH_LAYER_HTTP;
    o->rejected_by = 's';
    o->phase = MH_PHASE_APPLICATION;
    snprintf(o->client_error, sizeof(o->client_error), "HTTP %d", status);
  }
  tls_end(p);
}

// unreadable_answer records an answer the probe could not read to the end of its head: over
// 16 KiB, or not HTTP/1.x. Neither accepts nor rejects the client: the case is inconclusive, with
// the status when the status line was read.
static void unreadable_answer(struct mh_probe *p) {
  struct mh_case_outcome *o = p->o;
  const struct mh_http_head *head = &p->head;
  o->tls = *mh_tls_conn_info(p->tc);
  o->http_status = head->status;
  o->phase = MH_PHASE_APPLICATION;
  o->head_too_large = head->too_large;
  if (!head->too_large) {
    snprintf(o->client_error, sizeof(o->client_error), "malformed HTTP response");
  } else if (head->status != 0) {
    snprintf(o->client_error, sizeof(o->client_error), "HTTP head over %d KiB (status %d)",
             MH_HTTP_MAX_HEAD / 1024, head->status);
  } else {
    snprintf(o->client_error, sizeof(o->client_error),
             "HTTP head over %d KiB (no status line within it)", MH_HTTP_MAX_HEAD / 1024);
  }
  finish(p);
}

// accepted_by_tls records application data in TLS mode: the server kept the client and spoke.
static void accepted_by_tls(struct mh_probe *p) {
  struct mh_case_outcome *o = p->o;
  o->tls = *mh_tls_conn_info(p->tc);
  o->result = MH_RESULT_ACCEPTED;
  o->phase = MH_PHASE_NONE;
  mh_tls_close_notify(p->tc);
  o->end = MH_END_CLIENT_CLOSE;
  finish(p);
}

// speaks_no_http adds the |n| bytes |buf| read to the answer's lead and reports whether they show
// the server speaks no HTTP: its first bytes are not "HTTP/" (a service behind TLS that echoes,
// greets or streams something else).
static int speaks_no_http(struct mh_probe *p, const char *buf, size_t n) {
  static const char want[] = "HTTP/";
  size_t take = sizeof(p->lead) - p->lead_len < n ? sizeof(p->lead) - p->lead_len : n;
  memcpy(p->lead + p->lead_len, buf, take);
  p->lead_len += take;
  return memcmp(p->lead, want, p->lead_len) != 0;
}

// accepted_without_http records a server that answered our request with something other than
// HTTP: it speaks no HTTP, so the case is judged by the TLS result, which is that the server kept
// the client and spoke to it.
static void accepted_without_http(struct mh_probe *p) {
  struct mh_case_outcome *o = p->o;
  o->tls = *mh_tls_conn_info(p->tc);
  o->result = MH_RESULT_ACCEPTED;
  o->phase = MH_PHASE_NONE;
  snprintf(o->client_error, sizeof(o->client_error),
           "the server answered without HTTP (its first bytes are not \"HTTP/\"): judged by the "
           "TLS result, it kept the connection and spoke");
  mh_tls_close_notify(p->tc);
  o->end = MH_END_CLIENT_CLOSE;
  finish(p);
}

static void step_read(struct mh_probe *p) {
  struct mh_case_outcome *o = p->o;
  for (;;) {
    char buf[8192];
    size_t got;
    enum mh_io r = mh_tls_read(p->tc, buf, sizeof(buf), &got);
    if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
      wait_io(p, r);
      return;
    }
    o->first_read_ms = mh_clock_now_ms() - p->t_hs;
    if (r != MH_IO_OK) {
      // Closed or failed on the first read: in TLS 1.3 this is where a rejected client
      // certificate shows up.
      enum mh_end seen = mh_tls_conn_info(p->tc)->end;
      rejected_by_tls(p, MH_PHASE_FIRST_READ,
                      r != MH_IO_CLOSED             ? MH_END_NONE
                      : seen == MH_END_CLOSE_NOTIFY ? MH_END_CLOSE_NOTIFY
                                                    : MH_END_FIN);
      return;
    }
    if (p->t.request == MH_REQUEST_TLS) {
      accepted_by_tls(p);
      return;
    }
    if (speaks_no_http(p, buf, got)) {
      accepted_without_http(p);
      return;
    }
    if (p->hp != NULL && mh_http_parse(p->hp, buf, got, &p->head) < 0) {
      unreadable_answer(p);
      return;
    }
    if (p->head.complete) {
      answered(p, p->head.status);
      return;
    }
  }
}

// first_read_deadline records a server that kept the connection but said nothing in time. In TLS
// mode that is an acceptance (the only sign of one a silent service gives); after an HTTP request
// it is neither: an answer below 400 admits, and silence is no answer (a server that answers 403
// after the deadline was taken for one that admitted), so the case is inconclusive.
static void first_read_deadline(struct mh_probe *p) {
  struct mh_case_outcome *o = p->o;
  o->first_read_ms = mh_clock_now_ms() - p->t_hs;
  o->tls = *mh_tls_conn_info(p->tc);
  o->end = MH_END_TIMEOUT;
  if (p->t.request == MH_REQUEST_TLS) {
    o->result = MH_RESULT_ACCEPTED;
    o->phase = MH_PHASE_NONE;
    snprintf(o->client_error, sizeof(o->client_error),
             "no answer within %d ms: the server kept the connection (request \"tls\")",
             p->to.first_read_ms);
  } else {
    o->result = MH_RESULT_INCONCLUSIVE;
    o->phase = MH_PHASE_FIRST_READ;
    snprintf(o->client_error, sizeof(o->client_error),
             "no HTTP answer within %d ms: the handshake completed%s and the server said "
             "nothing, neither admitting nor refusing (a slow server: raise first_read_ms)",
             p->to.first_read_ms,
             o->tls.certificate_request ? "" : " without a CertificateRequest");
  }
  finish(p);
}

static void on_deadline(struct mh_probe *p);

// drained_enough says whether a read loop past the answer must stop for now, having read
// |*total| bytes in this turn (|n| more): it then waits again (or ends at the deadline), and
// returns 1.
static int drained_enough(struct mh_probe *p, size_t *total, size_t n) {
  *total += n;
  if (*total < DRAIN_SLICE) {
    return 0;
  }
  if (mh_clock_now_ms() >= p->deadline) {
    ev_io_stop(p->loop, &p->io);
    on_deadline(p);
  } else {
    wait_for(p, EV_READ);
  }
  return 1;
}

// step_tls_end reads past the answer until the server ends the connection: close_notify, FIN or
// RST as the TLS layer saw it.
static void step_tls_end(struct mh_probe *p) {
  size_t total = 0;
  for (;;) {
    char buf[8192];
    size_t got;
    enum mh_io r = mh_tls_read(p->tc, buf, sizeof(buf), &got);
    if (r == MH_IO_OK) {
      if (drained_enough(p, &total, got)) {
        return;
      }
      continue;
    }
    if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
      wait_io(p, r);
      return;
    }
    enum mh_end end = mh_tls_conn_info(p->tc)->end;
    if (r == MH_IO_CLOSED) {
      p->o->end = end == MH_END_CLOSE_NOTIFY ? MH_END_CLOSE_NOTIFY : MH_END_FIN;
    } else {
      p->o->end = end == MH_END_RST ? MH_END_RST : MH_END_FIN;
    }
    finish(p);
    return;
  }
}

static void step_raw_end(struct mh_probe *p) {
  char buf[4096];
  size_t total = 0;
  for (;;) {
    ssize_t n = recv(p->fd, buf, sizeof(buf), 0);
    if (n > 0) {
      if (drained_enough(p, &total, (size_t)n)) {
        return;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      wait_for(p, EV_READ);
      return;
    }
    p->o->end = n < 0 && errno == ECONNRESET ? MH_END_RST : MH_END_FIN;
    finish(p);
    return;
  }
}

// advance runs the current step as far as it goes without waiting.
static void advance(struct mh_probe *p) {
  switch (p->step) {
    case STEP_START:
      start_dial(p);
      break;
    case STEP_CONNECT:
      on_connected(p);
      break;
    case STEP_HANDSHAKE:
      step_handshake(p);
      break;
    case STEP_WRITE:
      step_write(p);
      break;
    case STEP_READ:
      step_read(p);
      break;
    case STEP_TLS_END:
      step_tls_end(p);
      break;
    case STEP_RAW_END:
      step_raw_end(p);
      break;
  }
}

// on_deadline ends the current wait: its deadline passed, or the caller stopped the run.
static void on_deadline(struct mh_probe *p) {
  struct mh_case_outcome *o = p->o;
  switch (p->step) {
    case STEP_START:
      start_dial(p);
      return;
    case STEP_CONNECT:
      dial_error(o, &p->t, "i/o timeout", ETIMEDOUT);
      break;  // no time is left for the other addresses
    case STEP_HANDSHAKE:
      // Inconclusive: the server neither accepted nor rejected.
      o->tls = *mh_tls_conn_info(p->tc);
      snprintf(o->client_error, sizeof(o->client_error), "TLS handshake timeout");
      o->phase = flight_phase(p);
      o->end = MH_END_TIMEOUT;
      break;
    case STEP_WRITE:
    case STEP_READ:
      first_read_deadline(p);
      return;
    case STEP_TLS_END:
      // The server kept the connection after answering: the probe ends it, without idling.
      mh_tls_close_notify(p->tc);
      o->end = MH_END_CLIENT_CLOSE;
      break;
    case STEP_RAW_END:
      o->end = MH_END_TIMEOUT;
      break;
  }
  finish(p);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop;
  struct mh_probe *p = w->data;
  if ((revents & EV_READ) && p->tc != NULL) {
    mh_tls_readable(p->tc);
  }
  advance(p);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  struct mh_probe *p = w->data;
  int stopped = p->stoppable && p->to.stop != NULL && atomic_load(p->to.stop);
  if (p->step == STEP_START || stopped || mh_clock_now_ms() >= p->deadline) {
    ev_io_stop(p->loop, &p->io);
    on_deadline(p);
    return;
  }
  wait_for(p, p->io.events & (EV_READ | EV_WRITE));
}

struct mh_probe *mh_probe_start(struct ev_loop *loop, struct mh_tls_ctx *ctx,
                                const struct mh_probe_target *t, const struct mh_probe_timeouts *to,
                                const struct mh_probe_hooks *hooks, struct mh_case_outcome *o,
                                void (*done)(void *arg), void *arg) {
  struct mh_probe *p = calloc(1, sizeof(*p));
  if (p == NULL) {
    return NULL;
  }
  memset(o, 0, sizeof(*o));
  o->tls.alert_sent = o->tls.alert_received = MH_ALERT_NONE;
  o->result = MH_RESULT_INCONCLUSIVE;
  o->request = t->request;
  p->loop = loop;
  p->ctx = ctx;
  p->t = *t;
  p->to = *to;
  p->has_hooks = hooks != NULL;
  if (hooks != NULL) {
    p->hooks = *hooks;
  }
  p->o = o;
  p->done = done;
  p->done_arg = arg;
  p->fd = -1;
  p->start = mh_clock_now_ms();
  p->step = STEP_START;
  ev_io_init(&p->io, io_cb, -1, 0);
  p->io.data = p;
  // The first turn of the loop dials: |done| is never called from this function.
  ev_timer_init(&p->timer, timer_cb, 0., 0.);
  p->timer.data = p;
  ev_timer_start(loop, &p->timer);
  return p;
}
