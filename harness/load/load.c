// load: handshake load generator (see load.h).
#include "load/load.h"

#include <errno.h>
#include <fcntl.h>
#include <ev.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "base/alerts.h"
#include "base/clock.h"
#include "base/net.h"
#include "base/watch.h"
#include "load/confirm.h"
#include "load/shard.h"
#include "tls/tls.h"
#include "base/tls_version.h"

#define MAX_SLOTS_PER_THREAD 20000
#define LATE_US 1000  // an arrival started more than 1 ms after its planned time is late

static const char *const error_names[] = {
#define X(e, kw) kw,
    MH_LOAD_ERRORS(X)
#undef X
};

const char *mh_load_error_name(enum mh_load_error e) {
  return (unsigned)e < MH_LOAD_ERR_NUM ? error_names[e] : "?";
}

unsigned long long mh_load_result_errors(const struct mh_load_result *r) {
  unsigned long long n = 0;
  for (int i = 0; i < MH_LOAD_ERR_NUM; i++) {
    n += r->errors[i];
  }
  return n;
}

int mh_load_default_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > MH_LOAD_DEFAULT_MAX_THREADS ? MH_LOAD_DEFAULT_MAX_THREADS : (int)n;
}

int mh_load_share_hit(unsigned long long index, double share) {
  if (share <= 0) {
    return 0;
  }
  if (share >= 1) {
    return 1;
  }
  // floor(share * (index + 1)) and floor(share * index) are computed the same way for every index,
  // so the picks of the first n handshakes add up to floor(share * n) exactly.
  return floor(share * (double)(index + 1)) > floor(share * (double)index);
}

// L_REQUEST and L_RESPONSE confirm at HTTP (o->http_request); L_CONFIRM at TLS 1.3.
enum lstate { L_FREE, L_CONNECTING, L_HANDSHAKE, L_CONFIRM, L_REQUEST, L_RESPONSE };

struct lthread;

// The run's handshake counters, shared by the threads: the bad and resumed shares are decided on
// their values, so they hold over the whole run whatever the number of threads (an accumulator per
// thread lost up to one pick per thread). One or two relaxed increments per handshake.
struct lshared {
  atomic_ullong started;  // every handshake: picks the bad ones
  atomic_ullong good;     // handshakes with a good identity: picks those that offer a session
  atomic_int stop;        // a signal came (progress() reads the signalfd): every loop ends now
  // The per-second latency histograms of the run, all threads together (relaxed atomic adds: a
  // second's handshakes of every thread land in the same one): |num_slots| seconds of
  // MH_LOAD_SECOND_KINDS x MH_HIST_SEC_BUCKETS counts, allocated before the run.
  uint32_t *second_hists;
  size_t num_slots;
  // --latency-log: opened O_APPEND, so that each thread's whole-line writes never interleave
  // within a line; -1: none.
  int log_fd;
  struct mh_certs_table certs;  // the server certificates seen, and the failures, by 100 ms
};

struct lconn {
  struct lthread *th;
  enum lstate state;
  int fd;
  struct mh_tls_conn *tls;
  int bad;
  double planned, start, tcp_done, hs_done;
  size_t sent;    // L_REQUEST: bytes of the request written
  char head[16];  // L_RESPONSE: the start of the status line ("HTTP/1.1 400"), in place
  size_t head_len;
  ev_io io;
  ev_timer timeout;
};

struct lthread {
  const struct mh_load_options *o;
  struct lshared *shared;
  int id;
  pthread_t tid;
  struct ev_loop *loop;
  struct mh_tls_ctx **good, **bad;
  struct lconn *conns;
  size_t num_conns;
  size_t next_good, next_bad;
  double t0, end;  // t0: the run's start, the same for every thread (--start-at's instant)
  // Open loop: this thread's arrival j is the schedule's global arrival slice.first + j *
  // slice.stride, planned at t0 + that index / total_rate (an index, not a sum: at 1e12/s adding
  // a period to a clock of 1e5 s would not move it); the schedule is that of one generator at
  // the total rate of every shard (load/shard.h), so that the shards' union is that schedule.
  struct mh_shard_slice slice;
  double total_rate;
  uint64_t total_arrivals;  // of every shard together
  uint64_t next_index, num_arrivals;
  int stopping;
  ev_timer tick;
  // Open loop: a timerfd armed at the next planned arrival. libev's timers wait in epoll_wait,
  // whose timeout is in whole milliseconds: up to a millisecond late, which would be latency.
  int arrival_fd;
  ev_io arrival;
  ev_check restart;  // closed loop: refill free connections without recursing from finish()
  // Results, owned by the thread; merged after join.
  struct mh_load_result r;
  // Read by the progress line.
  atomic_ullong a_done, a_rejected, a_errors, a_inflight;
  atomic_ullong a_p99_us;
  ev_timer second;
  double start_wall_ms;  // the wall clock when this thread started its schedule
  // --latency-log: this thread's lines not written yet (written whole when nearly full).
  char *log_buf;
  size_t log_len;
  struct mh_certs_local certs;  // this thread's last server certificate and what it saw of each
};

static uint64_t us(double s) {
  return s > 0 ? (uint64_t)(s * 1e6 + 0.5) : 0;
}

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents);
static void start_one(struct lthread *th, struct lconn *c, double planned, uint64_t global);

// release closes a connection with a RST and frees its slot.
static void release(struct lconn *c) {
  struct lthread *th = c->th;
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

// second_record counts a latency of |v| us in second |si|'s histogram of |kind| (0 accepted, 1
// rejected); a second beyond those allocated counts in the last.
static void second_record(struct lthread *th, size_t si, int kind, uint64_t v) {
  struct lshared *sh = th->shared;
  if (sh->second_hists == NULL || sh->num_slots == 0) {
    return;
  }
  si = si < sh->num_slots ? si : sh->num_slots - 1;
  size_t b = mh_hist_layout_index(v, MH_HIST_SEC_SUB_BITS, MH_HIST_SEC_MAX_EXP, NULL);
  __atomic_fetch_add(
      &sh->second_hists[(si * MH_LOAD_SECOND_KINDS + (size_t)kind) * MH_HIST_SEC_BUCKETS + b], 1,
      __ATOMIC_RELAXED);
}

// describe_cert decodes a certificate new to the run (load/certs.h), with BoringSSL.
static int describe_cert(const uint8_t *der, size_t len, struct mh_certs_entry *e) {
  return mh_tls_cert_describe(der, len, e->serial, sizeof(e->serial), e->subject,
                              sizeof(e->subject), &e->not_after);
}

// record_cert puts a handshake that ended at |end_us| (as --latency-log counts it: planned time
// plus latency) on the certificates' timeline: the server certificate an accepted full handshake
// saw, or a failure.
static void record_cert(struct lthread *th, const struct lconn *c, int accepted, int error,
                        uint64_t end_us) {
  const uint8_t *der;
  size_t len;
  if (error >= 0) {
    mh_certs_failed(&th->shared->certs, (int64_t)end_us);
  }
  if (accepted == 1 && c->tls != NULL && !mh_tls_conn_info(c->tls)->resumed &&
      mh_tls_conn_peer_leaf(c->tls, &der, &len) == 0) {
    mh_certs_seen(&th->shared->certs, &th->certs, der, len, (int64_t)end_us, describe_cert);
  }
}

#define LOG_BUF_LEN 65536

// log_flush writes this thread's buffered --latency-log lines (best effort: a full disk loses
// lines, never the run).
static void log_flush(struct lthread *th) {
  size_t off = 0;
  while (off < th->log_len) {
    ssize_t n = write(th->shared->log_fd, th->log_buf + off, th->log_len - off);
    if (n <= 0 && errno != EINTR) {
      break;
    }
    off += n > 0 ? (size_t)n : 0;
  }
  th->log_len = 0;
}

// log_line appends one handshake to --latency-log: its planned time from the run's start (us),
// its latency from the planned time (us, as the histograms count it), how it ended, its error.
static void log_line(struct lthread *th, const struct lconn *c, uint64_t latency, int accepted,
                     int error) {
  if (th->log_buf == NULL) {
    return;
  }
  if (th->log_len > LOG_BUF_LEN - 128) {
    log_flush(th);
  }
  int n = snprintf(th->log_buf + th->log_len, LOG_BUF_LEN - th->log_len, "%llu %llu %s %s\n",
                   (unsigned long long)us(c->planned - th->t0), (unsigned long long)latency,
                   accepted == 1   ? "accepted"
                   : accepted == 0 ? "rejected"
                                   : "error",
                   error >= 0 ? mh_load_error_name((enum mh_load_error)error) : "-");
  th->log_len += n > 0 ? (size_t)n : 0;
}

// finish ends a connection: records it, closes it with a RST and, in closed loop, starts the next.
static void finish(struct lconn *c, int accepted, int error, int alert) {
  struct lthread *th = c->th;
  double now = mh_clock_now();
  struct mh_load_result *r = &th->r;
  if (c->tls != NULL && c->hs_done > 0) {
    mh_hist_record(&r->first_record, us(now - c->hs_done));
  }
  if (error >= 0) {
    r->errors[error]++;
    atomic_fetch_add_explicit(&th->a_errors, 1, memory_order_relaxed);
  }
  // The second of the run this ended in, counted from t0: the seconds of shards started at the
  // same --start-at are the same seconds.
  size_t si = now > th->t0 ? (size_t)(now - th->t0) : 0;
  si = si < MH_LOAD_MAX_SECONDS ? si : MH_LOAD_MAX_SECONDS - 1;
  struct mh_load_second *sec = &r->seconds[si];
  r->num_seconds = si + 1 > r->num_seconds ? si + 1 : r->num_seconds;
  if (error >= 0) {
    sec->errors++;
  }
  if (accepted >= 0) {
    second_record(th, si, accepted ? 0 : 1, us(now - c->planned));
  }
  log_line(th, c, us(now - c->planned), accepted, error);
  record_cert(th, c, accepted, error, us(c->planned - th->t0) + us(now - c->planned));
  if (accepted == 1) {
    r->accepted++;
    sec->accepted++;
    mh_hist_record(&r->total_accept, us(now - c->planned));
  } else if (accepted == 0) {
    r->rejected++;
    sec->rejected++;
    if (alert >= 0 && alert < 256) {
      r->alerts[alert]++;
    }
    mh_hist_record(&r->total_reject, us(now - c->planned));
    atomic_fetch_add_explicit(&th->a_rejected, 1, memory_order_relaxed);
  }
  // The progress line's handshakes/s counts handshakes the server decided (accepted or
  // rejected); a refused or broken connection is an error, shown apart.
  if (accepted >= 0) {
    atomic_fetch_add_explicit(&th->a_done, 1, memory_order_relaxed);
  }
  atomic_fetch_sub_explicit(&th->a_inflight, 1, memory_order_relaxed);
  release(c);
}

// decided classifies a TLS-level ending: accepted, or rejected with the alert the server sent.
static void decided(struct lconn *c, int accepted) {
  const struct mh_tls_info *ti = mh_tls_conn_info(c->tls);
  int alert = ti->alert_received;
  if (accepted) {
    finish(c, 1, c->bad ? MH_LOAD_ERR_BAD_ACCEPTED : -1, -1);
  } else if (alert >= 0 && alert != 0) {
    finish(c, 0, c->bad ? -1 : MH_LOAD_ERR_GOOD_REJECTED, alert);
  } else {
    // At HTTP, an end without an alert before the status line is no answer rather than a TLS error.
    finish(c, -1, c->state == L_RESPONSE ? MH_LOAD_ERR_NO_STATUS : MH_LOAD_ERR_TLS, -1);
  }
}

// http_decided classifies the status line of the answer to our request: a status the profile
// lists is a rejection (counted by status), any other acceptance.
static void http_decided(struct lconn *c, int status) {
  if (mh_confirm_rejects(c->th->o, status)) {
    c->th->r.statuses[status]++;
    finish(c, 0, c->bad ? -1 : MH_LOAD_ERR_GOOD_REJECTED, -1);
  } else {
    finish(c, 1, c->bad ? MH_LOAD_ERR_BAD_ACCEPTED : -1, -1);
  }
}

static void want(struct lconn *c, int events) {
  mh_watch_want(c->th->loop, &c->io, c->fd, events, c->tls != NULL && mh_tls_buffered(c->tls));
}

// http_step writes the request, then reads until the status line decides (or the server ends
// the connection: a TLS alert is a rejection at TLS, as without HTTP confirmation).
static void http_step(struct lconn *c) {
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

static void step(struct lconn *c) {
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
        mh_hist_record(&c->th->r.tcp, us(c->tcp_done - c->start));
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
          mh_hist_record(&c->th->r.handshake_resumed, us(c->hs_done - c->tcp_done));
        } else {
          mh_hist_record(&c->th->r.handshake, us(c->hs_done - c->tcp_done));
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
  struct lconn *c = w->data;
  if (revents & EV_READ) {
    mh_tls_readable(c->tls);
  }
  step(c);
}

static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  struct lconn *c = w->data;
  finish(c, -1,
         c->state == L_CONFIRM                             ? MH_LOAD_ERR_UNCONFIRMED
         : c->state == L_REQUEST || c->state == L_RESPONSE ? MH_LOAD_ERR_NO_STATUS
                                                           : MH_LOAD_ERR_TIMEOUT,
         -1);
}

// start_one starts a handshake planned at |planned|. |global| is its arrival's index in the
// schedule of every shard together (open loop), or UINT64_MAX (closed loop: the run's count of
// started handshakes, interleaved with the other shards', stands for it).
static void start_one(struct lthread *th, struct lconn *c, double planned, uint64_t global) {
  const struct mh_load_options *o = th->o;
  c->planned = planned;
  c->start = mh_clock_now();
  c->tcp_done = c->hs_done = 0;
  struct mh_load_result *r = &th->r;
  r->started++;
  if (us(c->start - planned) > LATE_US) {
    r->late++;
  }
  atomic_fetch_add_explicit(&th->a_inflight, 1, memory_order_relaxed);
  // The handshake's number over the run (every thread, every shard) decides, so the shares hold
  // over all of them together.
  unsigned long long index =
      atomic_fetch_add_explicit(&th->shared->started, 1, memory_order_relaxed);
  if (global != UINT64_MAX) {
    index = mh_shard_pick_index(global, o->shard_count, th->total_arrivals);
  } else if (o->shard_count > 1) {
    index = mh_shard_pick_index(
        index * (unsigned long long)o->shard_count + (unsigned long long)o->shard_index,
        o->shard_count, UINT64_MAX);
  }
  c->bad = o->num_bad > 0 && mh_load_share_hit(index, o->bad_share);
  // Only good identities have sessions to offer (a bad one is never issued any): resumption is
  // picked among them, apart from the bad picks, so that the two shares do not coincide.
  int resume =
      !c->bad && o->resume_share > 0 &&
      mh_load_share_hit(atomic_fetch_add_explicit(&th->shared->good, 1, memory_order_relaxed),
                        o->resume_share);
  struct mh_tls_ctx *ctx =
      c->bad ? th->bad[th->next_bad++ % o->num_bad] : th->good[th->next_good++ % o->num_good];
  c->fd = mh_net_connect(o->address, o->port);
  if (c->fd < 0) {
    finish(c, -1, errno == ECONNREFUSED ? MH_LOAD_ERR_REFUSED : MH_LOAD_ERR_CONNECT, -1);
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

static struct lconn *free_slot(struct lthread *th) {
  for (size_t i = 0; i < th->num_conns; i++) {
    size_t k = (th->next_good + i) % th->num_conns;
    if (th->conns[k].state == L_FREE) {
      return &th->conns[k];
    }
  }
  return NULL;
}

// global_of returns the schedule's global index of this thread's open-loop arrival |k|.
static uint64_t global_of(const struct lthread *th, uint64_t k) {
  return th->slice.first + k * th->slice.stride;
}

// arrival_at returns the planned time of this thread's open-loop arrival |k|.
static double arrival_at(const struct lthread *th, uint64_t k) {
  return th->t0 + (double)global_of(th, k) / th->total_rate;
}

// first_after returns the index of the first arrival planned after |t| (at most num_arrivals).
static uint64_t first_after(const struct lthread *th, double t) {
  double g = (t - th->t0) * th->total_rate - (double)th->slice.first;
  if (g < 0) {
    return 0;
  }
  double k = floor(g / (double)th->slice.stride) + 1;
  return k >= (double)th->num_arrivals ? th->num_arrivals : (uint64_t)k;
}

// drop_until counts the arrivals from the next one up to (not including) |upto| as planned and
// dropped, in one step whatever their number.
static void drop_until(struct lthread *th, uint64_t upto) {
  upto = upto > th->num_arrivals ? th->num_arrivals : upto;
  if (upto > th->next_index) {
    th->r.planned += upto - th->next_index;
    th->r.dropped += upto - th->next_index;
    th->next_index = upto;
  }
}

// DISPATCH_BATCH bounds the arrivals one dispatch starts, so that the loop keeps serving the
// connections in flight; the arrival timer, armed in the past, fires again at once for the rest.
#define DISPATCH_BATCH 256

// dispatch starts the open-loop arrivals whose planned time has come. Whatever cannot start is
// dropped and counted in O(1) per call, not per arrival, so that a rate no host reaches ends on
// time: the arrivals planned more than the handshake timeout ago (they could only start later than
// a handshake may take), and every arrival due when no connection is free.
static void dispatch(struct lthread *th, double now) {
  if (th->stopping) {
    return;
  }
  drop_until(th, first_after(th, now - th->o->timeout_ms / 1000.0));
  uint64_t due = first_after(th, now);
  for (int n = 0; th->next_index < due && n < DISPATCH_BATCH; n++) {
    struct lconn *c = free_slot(th);
    if (c == NULL) {
      drop_until(th, due);  // none frees up before the loop runs again
      break;
    }
    th->r.planned++;
    uint64_t k = th->next_index++;
    start_one(th, c, arrival_at(th, k), global_of(th, k));
  }
}

// arm_next sets the arrival timer to the next planned arrival (absolute, CLOCK_MONOTONIC, as
// mh_clock_now()), or disarms it when the schedule is over.
static void arm_next(struct lthread *th) {
  struct itimerspec its;
  memset(&its, 0, sizeof(its));
  if (!th->stopping && th->next_index < th->num_arrivals) {
    double next = arrival_at(th, th->next_index);
    its.it_value.tv_sec = (time_t)next;
    its.it_value.tv_nsec = (long)((next - (double)its.it_value.tv_sec) * 1e9);
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) {
      its.it_value.tv_nsec = 1;  // zero would disarm
    }
  }
  timerfd_settime(th->arrival_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void arrival_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop;
  (void)revents;
  struct lthread *th = w->data;
  uint64_t expirations;
  ssize_t n = read(th->arrival_fd, &expirations, sizeof(expirations));
  (void)n;  // EAGAIN if a re-arm raced the read: the schedule below is what counts
  dispatch(th, mh_clock_now());
  arm_next(th);
}

// tick watches the clock: it ends the run, and in open loop it backs up the arrival timer (and
// is the dispatcher if no timerfd could be made).
static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)revents;
  struct lthread *th = w->data;
  double now = mh_clock_now();
  int interrupted = atomic_load_explicit(&th->shared->stop, memory_order_relaxed);
  if (th->o->rate > 0 && !interrupted) {
    dispatch(th, now);
  }
  if ((now >= th->end || interrupted) && !th->stopping) {
    th->stopping = 1;
    // Arrivals of the schedule that did not start by the end (a batch left for the next round)
    // were planned all the same: dropped. After a signal the rest of the schedule was never run.
    if (th->o->rate > 0 && !interrupted) {
      drop_until(th, th->num_arrivals);
    }
  }
  if (interrupted) {
    // Handshakes in flight are abandoned, not waited for (up to --timeout-ms): closed, uncounted.
    for (size_t i = 0; i < th->num_conns; i++) {
      if (th->conns[i].state != L_FREE) {
        release(&th->conns[i]);
        th->r.started--;  // so that every started handshake ended exactly one way
        atomic_fetch_sub_explicit(&th->a_inflight, 1, memory_order_relaxed);
      }
    }
  }
  if (th->stopping && atomic_load_explicit(&th->a_inflight, memory_order_relaxed) == 0) {
    if (th->arrival_fd >= 0) {
      ev_io_stop(loop, &th->arrival);
    }
    ev_timer_stop(loop, &th->second);
    ev_check_stop(loop, &th->restart);
    ev_break(loop, EVBREAK_ALL);
  }
}

static void restart_cb(struct ev_loop *loop, ev_check *w, int revents) {
  (void)loop;
  (void)revents;
  struct lthread *th = w->data;
  if (th->stopping) {
    return;
  }
  for (size_t i = 0; i < th->num_conns; i++) {
    if (th->conns[i].state == L_FREE) {
      start_one(th, &th->conns[i], mh_clock_now(), UINT64_MAX);
    }
  }
}

static void second_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  struct lthread *th = w->data;
  atomic_store_explicit(&th->a_p99_us, mh_hist_percentile(&th->r.total_accept, 99),
                        memory_order_relaxed);
}

// wall_ms returns the wall clock (CLOCK_REALTIME) in milliseconds, with their fractions.
static double wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

// wait_until sleeps until the monotonic instant |t| (no-op if it has passed).
static void wait_until(double t) {
  struct timespec ts;
  ts.tv_sec = (time_t)t;
  ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
  while (mh_clock_now() < t &&
         clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

static void *thread_main(void *arg) {
  struct lthread *th = arg;
  // Every thread starts at the run's t0 (mh_load_run waited for --start-at up to shortly before).
  wait_until(th->t0);
  th->start_wall_ms = wall_ms();
  th->end = th->t0 + th->o->duration_s;
  if (th->o->connections > 0) {
    ev_check_init(&th->restart, restart_cb);
    th->restart.data = th;
    ev_check_start(th->loop, &th->restart);
    for (size_t i = 0; i < th->num_conns; i++) {
      start_one(th, &th->conns[i], mh_clock_now(), UINT64_MAX);
    }
  }
  th->arrival_fd = -1;
  if (th->o->rate > 0) {
    th->arrival_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (th->arrival_fd >= 0) {
      ev_io_init(&th->arrival, arrival_cb, th->arrival_fd, EV_READ);
      th->arrival.data = th;
      ev_io_start(th->loop, &th->arrival);
      arm_next(th);
    }
  }
  ev_timer_init(&th->tick, tick_cb, 0.001, 0.001);
  th->tick.data = th;
  ev_timer_start(th->loop, &th->tick);
  ev_timer_init(&th->second, second_cb, 1., 1.);
  th->second.data = th;
  ev_timer_start(th->loop, &th->second);
  ev_run(th->loop, 0);
  if (th->log_buf != NULL) {
    log_flush(th);
  }
  if (th->arrival_fd >= 0) {
    close(th->arrival_fd);
  }
  // This thread's own CPU, read by itself: another thread's clock id would need
  // pthread_getcpuclockid and a thread still alive.
  struct timespec cpu;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0) {
    th->r.generator_cpu_s = (double)cpu.tv_sec + (double)cpu.tv_nsec / 1e9;
  }
  return NULL;
}

static void merge(struct mh_load_result *dst, const struct mh_load_result *src) {
  dst->planned += src->planned;
  dst->started += src->started;
  dst->accepted += src->accepted;
  dst->rejected += src->rejected;
  dst->dropped += src->dropped;
  dst->late += src->late;
  dst->resume_offered += src->resume_offered;
  dst->resumed += src->resumed;
  dst->generator_cpu_s += src->generator_cpu_s;
  for (int i = 0; i < MH_LOAD_ERR_NUM; i++) {
    dst->errors[i] += src->errors[i];
  }
  for (int i = 0; i < 256; i++) {
    dst->alerts[i] += src->alerts[i];
  }
  for (int i = 0; i < 600; i++) {
    dst->statuses[i] += src->statuses[i];
  }
  for (size_t i = 0; i < src->num_seconds; i++) {
    struct mh_load_second *d = &dst->seconds[i];
    const struct mh_load_second *x = &src->seconds[i];
    d->accepted += x->accepted;
    d->rejected += x->rejected;
    d->errors += x->errors;
  }
  dst->num_seconds = src->num_seconds > dst->num_seconds ? src->num_seconds : dst->num_seconds;
  mh_hist_merge(&dst->tcp, &src->tcp);
  mh_hist_merge(&dst->handshake, &src->handshake);
  mh_hist_merge(&dst->first_record, &src->first_record);
  mh_hist_merge(&dst->total_accept, &src->total_accept);
  mh_hist_merge(&dst->total_reject, &src->total_reject);
  mh_hist_merge(&dst->handshake_resumed, &src->handshake_resumed);
}

static struct mh_tls_ctx *identity_ctx(const struct mh_load_options *o,
                                       const struct mh_load_identity *id, struct mh_err *err) {
  struct mh_tls_probe_policy p = {.version = o->version,
                                  .ca_files = o->ca_files,
                                  .num_ca_files = o->num_ca_files,
                                  .verify = 0,
                                  .load_mode = 1,
                                  .resume = o->resume_share > 0};
  if (id != NULL) {
    p.cert_file = id->cert_file;
    p.key_file = id->key_file;
  }
  return mh_tls_probe_ctx_new(&p, err);
}

// result_init empties |r| and its histograms.
static void result_init(struct mh_load_result *r) {
  memset(r, 0, sizeof(*r));
  mh_hist_init(&r->tcp);
  mh_hist_init(&r->handshake);
  mh_hist_init(&r->first_record);
  mh_hist_init(&r->total_accept);
  mh_hist_init(&r->total_reject);
  mh_hist_init(&r->handshake_resumed);
}

// thread_init prepares thread |id| of |nt| before it runs: its loop, its share of the connections
// (closed loop) or enough for its share of the rate (open loop), one client context per identity.
// Returns 0 or -1 with |err| set; what was allocated is freed by thread_cleanup either way.
static int thread_init(struct lthread *th, const struct mh_load_options *o, int id, int nt,
                       struct lshared *shared, struct mh_err *err) {
  th->o = o;
  th->id = id;
  th->shared = shared;
  th->loop = ev_loop_new(EVFLAG_AUTO);
  result_init(&th->r);
  mh_certs_local_init(&th->certs);
  double per_thread_rate = o->rate > 0 ? o->rate / nt : 0;
  if (o->rate > 0) {
    int count = o->shard_count > 1 ? o->shard_count : 1;
    th->total_rate = o->rate * count;
    uint64_t total = mh_shard_total_arrivals(th->total_rate, o->duration_s);
    th->total_arrivals = total;
    th->slice = mh_shard_slice_of(total, count > 1 ? o->shard_index : 0, count, id, nt);
    th->num_arrivals = th->slice.num;
  }
  if (o->connections > 0) {
    th->num_conns = (size_t)(o->connections / nt + (id < o->connections % nt ? 1 : 0));
  } else {
    double need = per_thread_rate * (o->timeout_ms / 1000.0);
    th->num_conns = need < 64                     ? 64
                    : need > MAX_SLOTS_PER_THREAD ? MAX_SLOTS_PER_THREAD
                                                  : (size_t)need;
  }
  th->conns = calloc(th->num_conns + 1, sizeof(*th->conns));
  if (shared->log_fd >= 0 && (th->log_buf = malloc(LOG_BUF_LEN)) == NULL) {
    return mh_err_set(err, "out of memory");
  }
  th->good = calloc(o->num_good + 1, sizeof(*th->good));
  th->bad = calloc(o->num_bad + 1, sizeof(*th->bad));
  if (th->loop == NULL || th->conns == NULL || th->good == NULL || th->bad == NULL) {
    return mh_err_set(err, "out of memory");
  }
  // One client context per identity per thread: no shared reference counts on the hot path.
  for (size_t k = 0; k < o->num_good; k++) {
    if ((th->good[k] = identity_ctx(o, &o->good[k], err)) == NULL) {
      return -1;
    }
  }
  for (size_t k = 0; k < o->num_bad; k++) {
    if ((th->bad[k] = identity_ctx(o, &o->bad[k], err)) == NULL) {
      return -1;
    }
  }
  for (size_t k = 0; k < th->num_conns; k++) {
    struct lconn *c = &th->conns[k];
    c->th = th;
    c->fd = -1;
    ev_io_init(&c->io, conn_cb, -1, EV_READ);
    c->io.data = c;
    ev_timer_init(&c->timeout, timeout_cb, 0., 0.);
    c->timeout.data = c;
  }
  return 0;
}

// thread_cleanup frees what thread_init allocated (any part of it); the thread has ended.
static void thread_cleanup(struct lthread *th) {
  for (size_t k = 0; th->good != NULL && k < th->o->num_good; k++) {
    mh_tls_ctx_free(th->good[k]);
  }
  for (size_t k = 0; th->bad != NULL && k < th->o->num_bad; k++) {
    mh_tls_ctx_free(th->bad[k]);
  }
  free(th->good);
  free(th->bad);
  free(th->conns);
  free(th->log_buf);
  if (th->loop != NULL) {
    ev_loop_destroy(th->loop);
  }
}

// progress prints the progress line once a second until the run's duration is over, from
// counters the |nt| running threads update without locks. It watches for SIGINT/SIGTERM too: on
// one it tells the threads to stop (|shared|) and returns the signal; otherwise 0.
static int progress(struct lthread *ths, int nt, double t0, const struct mh_load_options *o,
                    struct lshared *shared) {
  unsigned long long last = 0;
  for (int sec = 1; sec <= (int)(o->duration_s + 0.999); sec++) {
    double wake = t0 + sec;
    while (mh_clock_now() < wake) {
      int sig = mh_interrupt_poll(o->interrupt, 20);
      if (sig != 0) {
        atomic_store(&shared->stop, 1);
        return sig;
      }
      if (o->interrupt == NULL) {
        usleep(20000);
      }
    }
    unsigned long long done = 0, rej = 0, errs = 0, infl = 0, p99 = 0;
    for (int i = 0; i < nt; i++) {
      done += atomic_load_explicit(&ths[i].a_done, memory_order_relaxed);
      rej += atomic_load_explicit(&ths[i].a_rejected, memory_order_relaxed);
      errs += atomic_load_explicit(&ths[i].a_errors, memory_order_relaxed);
      infl += atomic_load_explicit(&ths[i].a_inflight, memory_order_relaxed);
      unsigned long long p = atomic_load_explicit(&ths[i].a_p99_us, memory_order_relaxed);
      p99 = p > p99 ? p : p99;
    }
    if (!o->quiet) {
      fprintf(stderr,
              "load: %3ds  %7llu hs/s  in flight %5llu  p99 so far %8.3f ms  rejected %llu  "
              "errors %llu\n",
              sec, done - last, infl, (double)p99 / 1000.0, rej, errs);
    }
    last = done;
  }
  return 0;
}

static double seconds_between(struct timeval a, struct timeval b) {
  return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_usec - a.tv_usec) / 1e6;
}

// start_times sets when the run started (the first thread's start, wall clock) and, with
// --start-at, how late after it the last thread started (negative: early, by a clock read's
// worth).
static void start_times(struct mh_load_result *out, const struct lthread *ths, int started,
                        const struct mh_load_options *o) {
  double first = 0, last = 0;
  for (int i = 0; i < started; i++) {
    first = i == 0 || ths[i].start_wall_ms < first ? ths[i].start_wall_ms : first;
    last = i == 0 || ths[i].start_wall_ms > last ? ths[i].start_wall_ms : last;
  }
  if (started == 0) {
    first = last = wall_ms();
  }
  out->started_unix_ms = (long long)floor(first);
  out->start_skew_ms = o->start_at > 0 ? last - o->start_at * 1e3 : 0;
}

// wait_for_start waits, interruptibly, until shortly before --start-at (|o->start_at|, unix
// seconds) and returns the monotonic instant the run starts at: that instant, or now when it has
// passed or none was given. A signal during the wait is returned in |*out_signo| (then the run
// does not start).
static double wait_for_start(const struct mh_load_options *o, int *out_signo) {
  double now = mh_clock_now();
  *out_signo = 0;
  if (o->start_at <= 0) {
    return now;
  }
  double t0 = now + (o->start_at * 1e3 - wall_ms()) / 1e3;
  if (t0 <= now) {
    return now;  // already past: at once (the report shows how late)
  }
  // The threads sleep the last 200 ms themselves, to the microsecond (thread_main).
  while (mh_clock_now() < t0 - 0.2) {
    int ms = (int)((t0 - 0.2 - mh_clock_now()) * 1e3) + 1;
    ms = ms > 200 ? 200 : ms;
    int sig = mh_interrupt_poll(o->interrupt, ms);
    if (sig != 0) {
      *out_signo = sig;
      return t0;
    }
    if (o->interrupt == NULL) {
      usleep((useconds_t)ms * 1000);
    }
  }
  return t0;
}

// finish_seconds sets each second's percentiles from the run's per-second histograms and moves
// them into |out| (which owns them then).
static void finish_seconds(struct mh_load_result *out, struct lshared *shared) {
  out->second_hists = shared->second_hists;
  out->num_second_slots = shared->num_slots;
  shared->second_hists = NULL;
  for (size_t i = 0; i < out->num_seconds && i < out->num_second_slots; i++) {
    const uint32_t *acc = mh_load_result_second_hist(out, i, 0);
    uint64_t total = 0;
    for (size_t b = 0; b < MH_HIST_SEC_BUCKETS; b++) {
      total += acc[b];
    }
    out->seconds[i].p50_us =
        mh_hist_counts_percentile(acc, MH_HIST_SEC_BUCKETS, total, MH_HIST_SEC_SUB_BITS, 50);
    out->seconds[i].p99_us =
        mh_hist_counts_percentile(acc, MH_HIST_SEC_BUCKETS, total, MH_HIST_SEC_SUB_BITS, 99);
  }
}

// collect_certs moves what the |started| threads saw of the server certificates into |out|.
static void collect_certs(struct mh_load_result *out, struct lshared *shared,
                          const struct lthread *ths, int started) {
  const struct mh_certs_local *locals[MH_LOAD_MAX_THREADS];
  for (int i = 0; i < started; i++) {
    locals[i] = &ths[i].certs;
  }
  mh_certs_collect(&out->certs, &shared->certs, locals, (size_t)started);
}

const uint32_t *mh_load_result_second_hist(const struct mh_load_result *r, size_t second,
                                           int kind) {
  if (r->second_hists == NULL || second >= r->num_second_slots) {
    return NULL;
  }
  return r->second_hists + (second * MH_LOAD_SECOND_KINDS + (size_t)kind) * MH_HIST_SEC_BUCKETS;
}

void mh_load_result_cleanup(struct mh_load_result *r) {
  mh_certs_cleanup(&r->certs);
  free(r->second_hists);
  r->second_hists = NULL;
  r->num_second_slots = 0;
}

size_t mh_load_second_slots(double duration_s, int timeout_ms) {
  // Handshakes end at most a timeout after the last start; one more for the partial second.
  double n = ceil(duration_s) + ceil(timeout_ms / 1000.0) + 2;
  return n > MH_LOAD_MAX_SECONDS ? MH_LOAD_MAX_SECONDS : (size_t)n;
}

int mh_load_run(const struct mh_load_options *o, struct mh_load_result *out, struct mh_err *err) {
  mh_load_result_cleanup(out);
  result_init(out);
  mh_net_raise_fd_limit();
  int nt = o->threads > 0 ? o->threads : 1;
  struct lthread *ths = calloc((size_t)nt, sizeof(*ths));
  struct lshared *shared = calloc(1, sizeof(*shared));
  if (shared != NULL) {
    shared->log_fd = -1;
    if (mh_certs_table_init(&shared->certs, mh_load_second_slots(o->duration_s, o->timeout_ms) *
                                                (1000000 / MH_CERTS_SLOT_US)) != 0) {
      mh_certs_table_cleanup(&shared->certs);
      free(shared);
      shared = NULL;
    }
  }
  int ret = -1, started = 0;
  if (ths == NULL || shared == NULL) {
    mh_err_set(err, "out of memory");
    goto out;
  }
  if (o->latency_log != NULL &&
      (shared->log_fd =
           open(o->latency_log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644)) < 0) {
    mh_err_set(err, "mtls-harness load: --latency-log %s: %s (give a writable file)",
               o->latency_log, strerror(errno));
    goto out;
  }
  shared->num_slots = mh_load_second_slots(o->duration_s, o->timeout_ms);
  shared->second_hists =
      calloc(shared->num_slots * MH_LOAD_SECOND_KINDS * MH_HIST_SEC_BUCKETS, sizeof(uint32_t));
  if (shared->second_hists == NULL) {
    mh_err_set(err, "out of memory for %zu seconds of per-second histograms", shared->num_slots);
    goto out;
  }
  for (int i = 0; i < nt; i++) {
    if (thread_init(&ths[i], o, i, nt, shared, err) != 0) {
      goto out;
    }
  }
  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  int signo = 0;
  double t0 = wait_for_start(o, &signo);
  out->start_at_unix_ms = o->start_at > 0 ? (long long)floor(o->start_at * 1e3 + 0.5) : 0;
  for (int i = 0; i < nt && signo == 0; i++) {
    ths[i].t0 = t0;
    if (pthread_create(&ths[i].tid, NULL, thread_main, &ths[i]) != 0) {
      mh_err_set(err, "cannot start load thread %d", i);
      break;
    }
    started++;
  }
  signo = signo != 0 ? signo : started == nt ? progress(ths, nt, t0, o, shared) : 0;
  for (int i = 0; i < started; i++) {
    pthread_join(ths[i].tid, NULL);
  }
  out->elapsed_s = started > 0 ? mh_clock_now() - t0 : 0;
  start_times(out, ths, started, o);
  out->certs.base_unix_ms = out->started_unix_ms;  // t0: --start-at's instant, or now if past
  getrusage(RUSAGE_SELF, &ru1);
  out->cpu_user_s = seconds_between(ru0.ru_utime, ru1.ru_utime);
  out->cpu_sys_s = seconds_between(ru0.ru_stime, ru1.ru_stime);
  out->peak_rss_kb = ru1.ru_maxrss;
  for (int i = 0; i < started; i++) {
    merge(out, &ths[i].r);
  }
  if (o->connections > 0) {
    out->planned = out->started;
  } else if (signo != 0) {
    out->planned = out->started + out->dropped;  // the rest of the schedule was never planned
  }
  finish_seconds(out, shared);
  collect_certs(out, shared, ths, started);
  out->signo = signo;
  ret = started == nt || signo != 0 ? 0 : -1;
out:
  for (int i = 0; ths != NULL && i < nt; i++) {
    if (ths[i].o != NULL) {
      thread_cleanup(&ths[i]);
    }
  }
  free(ths);
  if (shared != NULL) {
    mh_certs_table_cleanup(&shared->certs);
    free(shared->second_hists);
    if (shared->log_fd >= 0) {
      close(shared->log_fd);
    }
  }
  free(shared);
  return ret;
}
