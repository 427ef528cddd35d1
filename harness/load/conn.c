// conn: one handshake's state machine on a connection slot (see load/internal.h): connect, the
// TLS handshake, the confirmation (the first server record in TLS 1.3, or the HTTP status line),
// each step as far as the socket allows, then the end handed to stats.c.
#include <errno.h>
#include <ev.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alerts.h"
#include "base/clock.h"
#include "base/net.h"
#include "base/tls_version.h"
#include "base/watch.h"
#include "load/confirm.h"
#include "load/internal.h"
#include "tls/tls.h"

#define LATE_US 1000  // an arrival started more than 1 ms after its planned time is late

// release closes a connection with a RST and frees its slot.
void load_conn_release(struct load_conn *c) {
  struct load_thread *th = c->th;
  ev_io_stop(th->loop, &c->io);
  ev_timer_stop(th->loop, &c->timeout);
  mh_tls_conn_free(c->tls);
  c->tls = NULL;
  if (c->fd >= 0) {
    struct linger lg = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(c->fd);
    c->fd = -1;
  }
  c->state = L_FREE;  // closed loop: restart_cb starts it again after this loop iteration
}

// finish ends a connection: records it, closes it with a RST and, in closed loop, lets
// restart_cb (load.c) start the next.
static void finish(struct load_conn *c, int accepted, int error, int alert) {
  struct load_thread *th = c->th;
  load_stats_end(th, c, mh_clock_now(), accepted, error, alert);
  atomic_fetch_sub_explicit(&th->a_inflight, 1, memory_order_relaxed);
  load_conn_release(c);
}

// decided classifies a TLS-level ending: accepted, or rejected with the alert the server sent.
static void decided(struct load_conn *c, int accepted) {
  const struct mh_tls_info *ti = mh_tls_conn_info(c->tls);
  int alert = ti->alert_received;
  if (accepted) {
    finish(c, 1, c->bad ? MH_LOAD_ERR_BAD_ACCEPTED : -1, -1);
  } else if (alert >= 0 && alert != 0) {
    finish(c, 0, c->bad ? -1 : MH_LOAD_ERR_GOOD_REJECTED, alert);
  } else if (ti->alert_sent != MH_ALERT_NONE) {
    // Our TLS library refused a message of the server's (a ticket over its 16 KiB limit, a
    // corrupted record): no refusal of the server's, counted apart from the target's errors.
    finish(c, -1, MH_LOAD_ERR_CLIENT_REFUSED, -1);
  } else {
    // At HTTP, an end without an alert before the status line is no answer rather than a TLS error.
    finish(c, -1, c->state == L_RESPONSE ? MH_LOAD_ERR_NO_STATUS : MH_LOAD_ERR_TLS, -1);
  }
}

// http_decided classifies the status line of the answer to our request: a status the profile
// lists is a rejection (counted by status), any other acceptance.
static void http_decided(struct load_conn *c, int status) {
  if (mh_confirm_rejects(c->th->o, status)) {
    c->th->r.statuses[status]++;
    finish(c, 0, c->bad ? -1 : MH_LOAD_ERR_GOOD_REJECTED, -1);
  } else {
    finish(c, 1, c->bad ? MH_LOAD_ERR_BAD_ACCEPTED : -1, -1);
  }
}

static void want(struct load_conn *c, int events) {
  mh_watch_want(c->th->loop, &c->io, c->fd, events, c->tls != NULL && mh_tls_buffered(c->tls));
}

// http_step writes the request, then reads until the status line decides (or the server ends
// the connection: a TLS alert is a rejection at TLS, as without HTTP confirmation).
static void http_step(struct load_conn *c) {
  const struct mh_load_options *o = c->th->o;
  while (c->state == L_REQUEST) {
    size_t n;
    enum mh_io r =
        mh_tls_write(c->tls, o->http_request + c->sent, o->http_request_len - c->sent, &n);
    if (r == MH_IO_OK) {
      c->sent += n;
      c->state = c->sent == o->http_request_len ? L_RESPONSE : L_REQUEST;
    } else if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
      want(c, r == MH_IO_WANT_READ ? EV_READ : EV_WRITE);
      return;
    } else {
      decided(c, 0);
      return;
    }
  }
  for (;;) {
    uint8_t buf[4096];
    size_t n;
    enum mh_io r = mh_tls_read(c->tls, buf, sizeof(buf), &n);
    if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
      want(c, r == MH_IO_WANT_READ ? EV_READ : EV_WRITE);
      return;
    }
    if (r != MH_IO_OK) {
      decided(c, 0);
      return;
    }
    size_t take = n < sizeof(c->head) - c->head_len ? n : sizeof(c->head) - c->head_len;
    memcpy(c->head + c->head_len, buf, take);
    c->head_len += take;
    int status;
    int got = mh_confirm_status(c->head, c->head_len, &status);
    if (got != 0) {
      got > 0 ? http_decided(c, status) : finish(c, -1, MH_LOAD_ERR_NO_STATUS, -1);
      return;
    }
  }
}

static void step(struct load_conn *c) {
  for (;;) {
    switch (c->state) {
      case L_CONNECTING: {
        // On loopback the connection is usually established before connect(2) returns, so the
        // ClientHello is written at once instead of after a writability event and SO_ERROR. The
        // TCP phase ends when the kernel took the ClientHello (the TLS layer notes the time: a
        // resumed handshake may even complete within this first call).
        enum mh_io r = mh_tls_handshake(c->tls);
        int e = errno;  // a failed send(2) consumes the socket's error: keep it
        if (r == MH_IO_WANT_WRITE) {
          want(c, EV_WRITE);  // not established yet
          return;
        }
        const struct mh_tls_info *ti = mh_tls_conn_info(c->tls);
        if (ti->first_send_s == 0) {
          if (e == 0) {
            e = mh_net_connect_result(c->fd);
          }
          finish(c, -1,
                 e == ECONNREFUSED ? MH_LOAD_ERR_REFUSED
                 : e == ECONNRESET || e == ETIMEDOUT || e == EHOSTUNREACH || e == ENETUNREACH ||
                         e == EPIPE || e == EADDRNOTAVAIL
                     ? MH_LOAD_ERR_CONNECT
                     : MH_LOAD_ERR_TLS,
                 -1);
          return;
        }
        c->tcp_done = ti->first_send_s;
        mh_hist_record(&c->th->r.phases[MH_LOAD_PHASE_TCP], load_us(c->tcp_done - c->start));
        c->state = L_HANDSHAKE;
        if (r == MH_IO_WANT_READ) {
          want(c, EV_READ);
          return;
        }
        if (r != MH_IO_OK) {
          decided(c, 0);
          return;
        }
        continue;  // complete in one call (resumption can be): L_HANDSHAKE's call returns at once
      }
      case L_HANDSHAKE: {
        enum mh_io r = mh_tls_handshake(c->tls);
        if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
          want(c, r == MH_IO_WANT_READ ? EV_READ : EV_WRITE);
          return;
        }
        if (r != MH_IO_OK) {
          decided(c, 0);  // TLS 1.2 rejections and version failures end here
          return;
        }
        c->hs_done = mh_clock_now();
        if (mh_tls_conn_info(c->tls)->resumed) {
          c->th->r.resumed++;
          mh_hist_record(&c->th->r.phases[MH_LOAD_PHASE_HANDSHAKE_RESUMED],
                         load_us(c->hs_done - c->tcp_done));
        } else {
          mh_hist_record(&c->th->r.phases[MH_LOAD_PHASE_HANDSHAKE],
                         load_us(c->hs_done - c->tcp_done));
        }
        if (c->th->o->http_request != NULL) {
          c->sent = c->head_len = 0;
          c->state = L_REQUEST;  // the stack decides at HTTP, after the handshake
          continue;
        }
        if (c->th->o->version != MH_TLS13) {
          decided(c, 1);  // the server verified us before its Finished
          return;
        }
        c->state = L_CONFIRM;
        continue;
      }
      case L_CONFIRM: {
        uint8_t buf[4096];
        size_t n;
        enum mh_io r = mh_tls_read(c->tls, buf, sizeof(buf), &n);
        if (mh_tls_conn_info(c->tls)->tickets_received > 0 || r == MH_IO_OK) {
          decided(c, 1);  // the server sent a record after our Finished: it kept us
          return;
        }
        if (r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE) {
          want(c, r == MH_IO_WANT_READ ? EV_READ : EV_WRITE);
          return;
        }
        decided(c, 0);  // the alert on the first read
        return;
      }
      case L_REQUEST:
      case L_RESPONSE:
        http_step(c);
        return;
      case L_FREE:
        return;
    }
  }
}

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop;
  struct load_conn *c = w->data;
  if (revents & EV_READ) {
    mh_tls_readable(c->tls);
  }
  step(c);
}

static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  struct load_conn *c = w->data;
  finish(c, -1,
         c->state == L_CONFIRM                             ? MH_LOAD_ERR_UNCONFIRMED
         : c->state == L_REQUEST || c->state == L_RESPONSE ? MH_LOAD_ERR_NO_STATUS
                                                           : MH_LOAD_ERR_TIMEOUT,
         -1);
}

void load_conn_start(struct load_thread *th, struct load_conn *c, double planned, int bad,
                     int resume) {
  const struct mh_load_options *o = th->o;
  c->planned = planned;
  c->start = mh_clock_now();
  c->tcp_done = c->hs_done = 0;
  struct mh_load_result *r = &th->r;
  r->started++;
  if (load_us(c->start - planned) > LATE_US) {
    r->late++;
  }
  atomic_fetch_add_explicit(&th->a_inflight, 1, memory_order_relaxed);
  c->bad = bad;
  struct mh_tls_ctx *ctx =
      c->bad ? th->bad[th->next_bad++ % o->num_bad] : th->good[th->next_good++ % o->num_good];
  c->fd = mh_net_connect(o->address, o->port);
  if (c->fd < 0) {
    // Out of descriptors is this process's limit, never the target's connect error.
    finish(c, -1,
           errno == ECONNREFUSED                ? MH_LOAD_ERR_REFUSED
           : errno == EMFILE || errno == ENFILE ? MH_LOAD_ERR_DESCRIPTORS
                                                : MH_LOAD_ERR_CONNECT,
           -1);
    return;
  }
  c->tls = mh_tls_conn_new(ctx, c->fd, o->server_name);
  if (c->tls == NULL) {
    finish(c, -1, MH_LOAD_ERR_TLS, -1);
    return;
  }
  if (resume) {
    r->resume_offered += (uint64_t)mh_tls_conn_offer_session(c->tls);
  }
  c->state = L_CONNECTING;
  ev_io_set(&c->io, c->fd, 0);
  ev_timer_set(&c->timeout, o->timeout_ms / 1000.0, 0.);
  ev_timer_start(th->loop, &c->timeout);
  step(c);
}

void load_conn_init(struct load_thread *th, struct load_conn *c) {
  c->th = th;
  c->fd = -1;
  ev_io_init(&c->io, conn_cb, -1, EV_READ);
  c->io.data = c;
  ev_timer_init(&c->timeout, timeout_cb, 0., 0.);
  c->timeout.data = c;
}
