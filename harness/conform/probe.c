// probe: one case, blocking with deadlines (see probe.h).
#include "conform/probe.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/alerts.h"
#include "base/clock.h"
#include "base/net.h"
#include "mock/http.h"
#include "mock/ws.h"

// wait_fd waits for |events| until |deadline|; returns 1 ready, 0 timeout. A set |stop| (NULL:
// none) ends the wait as a timeout within STOP_SLICE_MS: the run was interrupted or ran out of
// time.
#define STOP_SLICE_MS 100
static int wait_fd(const atomic_int *stop, int fd, short events, double deadline) {
  for (;;) {
    double left = deadline - mh_clock_now_ms();
    if (left <= 0 || (stop != NULL && atomic_load(stop))) {
      return 0;
    }
    int slice = stop != NULL && left > STOP_SLICE_MS ? STOP_SLICE_MS : (int)left + 1;
    struct pollfd p = {.fd = fd, .events = events};
    int r = poll(&p, 1, slice);
    if (r > 0) {
      return 1;
    }
    if (r == 0 && slice > (int)left) {
      return 0;
    }
    if (r < 0 && errno != EINTR) {
      return 1;  // let the next I/O call report the error
    }
  }
}

// transport_end reads what follows a rejection on the raw socket: FIN, RST or nothing.
static enum mh_end transport_end(int fd, int ms) {
  double deadline = mh_clock_now_ms() + ms;
  char buf[4096];
  for (;;) {
    if (!wait_fd(NULL, fd, POLLIN, deadline)) {
      return MH_END_TIMEOUT;
    }
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0) {
      return MH_END_FIN;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        continue;
      }
      return errno == ECONNRESET ? MH_END_RST : MH_END_FIN;
    }
  }
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

// rejected_by_tls records a rejection the TLS layer reported.
static void rejected_by_tls(struct mh_case_outcome *o, struct mh_tls_conn *tc, enum mh_phase phase,
                            int fd) {
  const struct mh_tls_info *ti = mh_tls_conn_info(tc);
  o->tls = *ti;
  o->result = MH_RESULT_REJECTED;
  o->layer = MH_LAYER_TLS;
  o->phase = phase;
  snprintf(o->client_error, sizeof(o->client_error), "%s", ti->reason);
  // Our own verification failed: we sent the alert, the server did nothing wrong.
  if (ti->alert_sent != MH_ALERT_NONE && ti->alert_received == MH_ALERT_NONE) {
    o->rejected_by = 'c';
    o->end = MH_END_CLIENT_CLOSE;
    return;
  }
  o->rejected_by = 's';
  if (ti->alert_received == MH_ALERT_NONE && ti->end == MH_END_RST) {
    o->end = MH_END_RST;
    return;
  }
  o->end = transport_end(fd, 1000);
}

// before_connect_cb records the source port and passes it on to the caller's hook.
struct connect_hook {
  struct mh_case_outcome *o;
  const struct mh_probe_hooks *hooks;
};

static void before_connect_cb(void *arg, int local_port) {
  struct connect_hook *h = arg;
  h->o->local_port = local_port;
  if (h->hooks != NULL && h->hooks->before_connect != NULL) {
    h->hooks->before_connect(h->hooks->arg, h->o->remote, local_port);
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
  snprintf(o->tcp, sizeof(o->tcp),
           e == ECONNREFUSED ? "refused"
           : e == ETIMEDOUT  ? "timeout"
                             : "error");
  snprintf(o->client_error, sizeof(o->client_error), "dial tcp %s: %s", where, what);
  o->phase = MH_PHASE_TCP;
  o->end = e == ECONNREFUSED ? MH_END_REFUSED : e == ETIMEDOUT ? MH_END_TIMEOUT : MH_END_NONE;
}

// probe_tcp resolves |t| and connects to each of its addresses in turn until one connects, all by
// |start| + the connect timeout. It returns 0 once connected, -1 with |o| explaining why not (the
// resolver's words, or the last address's error); |*out_fd| is the socket either way (-1 if none),
// for the caller to close.
static int probe_tcp(struct mh_case_outcome *o, const struct mh_probe_target *t,
                     const struct mh_probe_timeouts *to, const struct mh_probe_hooks *hooks,
                     double start, int *out_fd) {
  struct connect_hook ch = {o, hooks};
  struct mh_net_addrs addrs;
  struct mh_err err;
  *out_fd = -1;
  if (mh_net_resolve(t->host, t->port, t->pins, t->num_pins, &addrs, &err) != 0) {
    snprintf(o->tcp, sizeof(o->tcp), "error");
    snprintf(o->client_error, sizeof(o->client_error), "dial tcp: %.400s", err.msg);
    o->phase = MH_PHASE_TCP;
    return -1;
  }
  for (size_t i = 0; i < addrs.num; i++) {
    if (*out_fd >= 0) {
      close(*out_fd);
    }
    const struct sockaddr *sa = (const struct sockaddr *)&addrs.ss[i];
    mh_net_format_ip(sa, o->remote, sizeof(o->remote));
    int fd = mh_net_connect_addr(sa, addrs.len[i], before_connect_cb, &ch);
    *out_fd = fd;
    char what[160];
    if (fd < 0) {
      int e = errno;
      snprintf(what, sizeof(what), "%s", strerror(e));
      dial_error(o, t, what, e);
      continue;
    }
    if (!wait_fd(to->stop, fd, POLLOUT, start + to->connect_ms)) {
      dial_error(o, t, "i/o timeout", ETIMEDOUT);
      return -1;  // no time is left for the other addresses
    }
    int e = mh_net_connect_result(fd);
    if (e != 0) {
      snprintf(what, sizeof(what), "connect: %s", strerror(e));
      dial_error(o, t, what, e);
      continue;
    }
    snprintf(o->tcp, sizeof(o->tcp), "ok");
    o->end = MH_END_NONE;
    local_name(fd, o->local_peer, sizeof(o->local_peer));
    return 0;
  }
  return -1;
}

// probe_handshake runs the handshake, started at |t_tcp|, for |timeout_ms| at most; returns 0
// once it is complete, -1 with |o| recording the rejection or the stall. It sets handshake_ms
// when the handshake ended (completed or rejected).
static int probe_handshake(struct mh_case_outcome *o, struct mh_tls_conn *tc, int fd, double t_tcp,
                           const struct mh_probe_timeouts *to) {
  double deadline = t_tcp + to->handshake_ms;
  for (;;) {
    enum mh_io r = mh_tls_handshake(tc);
    if (r == MH_IO_OK) {
      o->handshake_ms = mh_clock_now_ms() - t_tcp;
      return 0;
    }
    if ((r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) &&
        wait_fd(to->stop, fd, r == MH_IO_WANT_READ ? POLLIN : POLLOUT, deadline)) {
      continue;
    }
    enum mh_phase phase =
        mh_tls_conn_info(tc)->client_flight_sent ? MH_PHASE_CLIENT_FLIGHT : MH_PHASE_SERVER_FLIGHT;
    if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
      o->tls = *mh_tls_conn_info(tc);
      snprintf(o->client_error, sizeof(o->client_error), "TLS handshake timeout");
      o->phase = phase;
      o->end = MH_END_TIMEOUT;
      return -1;  // inconclusive: the server neither accepted nor rejected
    }
    o->handshake_ms = mh_clock_now_ms() - t_tcp;
    rejected_by_tls(o, tc, phase, fd);
    return -1;
  }
}

// end_after_error reads what follows the server's error page, for a second at most, and returns
// how the server ended: close_notify, FIN or RST as the TLS layer saw it, or a timeout.
static enum mh_end end_after_error(struct mh_tls_conn *tc, int fd) {
  double deadline = mh_clock_now_ms() + 1000;
  char buf[8192];
  size_t got;
  while (mh_clock_now_ms() < deadline) {
    enum mh_io r = mh_tls_read(tc, buf, sizeof(buf), &got);
    if (r == MH_IO_OK) {
      continue;
    }
    enum mh_end end = mh_tls_conn_info(tc)->end;
    if (r == MH_IO_CLOSED) {
      return end == MH_END_CLOSE_NOTIFY ? MH_END_CLOSE_NOTIFY : MH_END_FIN;
    }
    if ((r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) &&
        wait_fd(NULL, fd, r == MH_IO_WANT_READ ? POLLIN : POLLOUT, deadline)) {
      continue;
    }
    if (r == MH_IO_FAILED) {
      return end == MH_END_RST ? MH_END_RST : MH_END_FIN;
    }
    break;
  }
  return MH_END_TIMEOUT;
}

// answered records the server's complete HTTP answer |status|: below 400 an acceptance, else a
// rejection at the application layer, and how the server ended after it.
static void answered(struct mh_case_outcome *o, struct mh_tls_conn *tc, int fd, int status) {
  o->http_status = status;
  o->ws_upgraded = status == 101;
  o->tls = *mh_tls_conn_info(tc);
  if (status >= 100 && status < 400) {
    o->result = MH_RESULT_ACCEPTED;
    o->phase = MH_PHASE_NONE;
    mh_tls_close_notify(tc);
    o->end = MH_END_CLIENT_CLOSE;
    return;
  }
  o->result = MH_RESULT_REJECTED;
  o->layer = MH_LAYER_HTTP;
  o->rejected_by = 's';
  o->phase = MH_PHASE_APPLICATION;
  snprintf(o->client_error, sizeof(o->client_error), "HTTP %d", status);
  o->end = end_after_error(tc, fd);
}

// unreadable_answer records an answer the probe could not read to the end of its head: over
// 16 KiB, or not HTTP/1.x. Neither accepts nor rejects the client: the case is inconclusive, with
// the status when the status line was read.
static void unreadable_answer(struct mh_case_outcome *o, struct mh_tls_conn *tc,
                              const struct mh_http_head *head) {
  o->tls = *mh_tls_conn_info(tc);
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
}

// send_request writes |len| bytes of |req| until |deadline|; a failure shows on the read after.
static void send_request(struct mh_tls_conn *tc, int fd, const char *req, size_t len,
                         double deadline) {
  size_t off = 0;
  while (off < len) {
    size_t w;
    enum mh_io r = mh_tls_write(tc, req + off, len - off, &w);
    if (r == MH_IO_OK) {
      off += w;
      continue;
    }
    if ((r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) &&
        wait_fd(NULL, fd, r == MH_IO_WANT_READ ? POLLIN : POLLOUT, deadline)) {
      continue;
    }
    break;
  }
}

// probe_first_read sends an HTTP/1.1 WebSocket upgrade and reads the answer until
// |t_hs| + the first-read timeout, recording in |o| what the server did.
static void probe_first_read(struct mh_case_outcome *o, struct mh_tls_conn *tc, int fd,
                             const struct mh_probe_target *t, const struct mh_probe_timeouts *to,
                             double t_hs) {
  char req[1024];
  // A fixed key: the probe checks the answer's status, not its Sec-WebSocket-Accept.
  int n = mh_ws_upgrade_request(req, sizeof(req), t->host_header, t->path,
                                "dGhlIHNhbXBsZSBub25jZQ==", "mtls-harness");
  if (n < 0) {
    o->phase = MH_PHASE_FIRST_READ;
    snprintf(o->client_error, sizeof(o->client_error),
             "the upgrade request for %.200s does not fit in %zu bytes (shorten the path or host)",
             t->path, sizeof(req));
    return;
  }
  double deadline = t_hs + to->first_read_ms;
  // Only the status and the end of the head matter, read at most 16 KiB: a server's headers are
  // not the probe's business, and an endless head must not hold it.
  struct mh_http_parser *hp = mh_http_parser_new_status();
  struct mh_http_head head;
  memset(&head, 0, sizeof(head));
  send_request(tc, fd, req, (size_t)n, deadline);
  for (;;) {
    char buf[8192];
    size_t got;
    enum mh_io r = mh_tls_read(tc, buf, sizeof(buf), &got);
    if (r == MH_IO_OK) {
      if (hp != NULL && mh_http_parse(hp, buf, got, &head) < 0) {
        o->first_read_ms = mh_clock_now_ms() - t_hs;
        unreadable_answer(o, tc, &head);
        break;
      }
      if (head.complete) {
        o->first_read_ms = mh_clock_now_ms() - t_hs;
        answered(o, tc, fd, head.status);
        break;
      }
      continue;
    }
    if ((r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) &&
        wait_fd(to->stop, fd, r == MH_IO_WANT_READ ? POLLIN : POLLOUT, deadline)) {
      continue;
    }
    o->first_read_ms = mh_clock_now_ms() - t_hs;
    if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
      // The server kept the connection but said nothing within the deadline.
      o->tls = *mh_tls_conn_info(tc);
      o->result = MH_RESULT_ACCEPTED;
      o->phase = MH_PHASE_NONE;
      o->end = MH_END_TIMEOUT;
      snprintf(o->client_error, sizeof(o->client_error), "no HTTP answer within %d ms",
               to->first_read_ms);
      break;
    }
    // Closed or failed on the first read: in TLS 1.3 this is where a rejected client
    // certificate shows up.
    rejected_by_tls(o, tc, MH_PHASE_FIRST_READ, fd);
    if (r == MH_IO_CLOSED && o->tls.alert_received == MH_ALERT_NONE) {
      o->end = o->tls.end == MH_END_CLOSE_NOTIFY ? MH_END_CLOSE_NOTIFY : MH_END_FIN;
    }
    break;
  }
  mh_http_parser_free(hp);
}

void mh_probe_run(struct mh_tls_ctx *ctx, const struct mh_probe_target *t,
                  const struct mh_probe_timeouts *to, const struct mh_probe_hooks *hooks,
                  struct mh_case_outcome *o) {
  memset(o, 0, sizeof(*o));
  o->tls.alert_sent = o->tls.alert_received = MH_ALERT_NONE;
  o->result = MH_RESULT_INCONCLUSIVE;
  double start = mh_clock_now_ms();
  struct mh_tls_conn *tc = NULL;
  int fd = -1;
  if (probe_tcp(o, t, to, hooks, start, &fd) != 0) {
    goto out;
  }
  double t_tcp = mh_clock_now_ms();
  o->tcp_ms = t_tcp - start;
  tc = mh_tls_conn_new(ctx, fd, t->server_name);
  if (tc == NULL) {
    snprintf(o->client_error, sizeof(o->client_error), "out of memory");
    goto out;
  }
  if (probe_handshake(o, tc, fd, t_tcp, to) != 0) {
    goto out;
  }
  o->handshake_ok = 1;
  probe_first_read(o, tc, fd, t, to, t_tcp + o->handshake_ms);
out:
  o->total_ms = mh_clock_now_ms() - start;
  if (tc != NULL) {
    snprintf(o->keylog, sizeof(o->keylog), "%s", mh_tls_conn_keylog(tc));
    // What the server's flight showed, whichever path copied the info last.
    const struct mh_tls_info *ti = mh_tls_conn_info(tc);
    o->tls.server_hello = ti->server_hello;
    o->tls.server_version = ti->server_version;
    o->tls.certificate_request = ti->certificate_request;
    o->tls.num_request_cas = ti->num_request_cas;
    o->tls.client_flight_sent = ti->client_flight_sent;
    const char *ca;
    while ((ca = mh_tls_conn_request_ca(tc, o->num_request_cas_kept)) != NULL) {
      snprintf(o->request_cas[o->num_request_cas_kept++], MH_TLS_REQUEST_CA_LEN, "%s", ca);
    }
  }
  mh_tls_conn_free(tc);
  if (fd >= 0) {
    close(fd);
  }
}
