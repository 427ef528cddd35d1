// load/internal.h: the generator's types, shared by its files and nothing outside load/:
// load.c (the threads, the run's clock and its signal watch), conn.c (one handshake's state
// machine), schedule.c (when arrivals start: the open-loop schedule and its shard arithmetic)
// and stats.c (what a handshake's end adds to the counts, histograms, latency log and
// certificates' timeline).
#ifndef MH_LOAD_INTERNAL_H
#define MH_LOAD_INTERNAL_H

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "load/certs.h"
#include "load/load.h"
#include "load/shard.h"
#include "tls/tls.h"

// L_REQUEST and L_RESPONSE confirm at HTTP (o->http_request); L_CONFIRM at TLS 1.3.
enum load_state { L_FREE, L_CONNECTING, L_HANDSHAKE, L_CONFIRM, L_REQUEST, L_RESPONSE };

struct load_thread;

// What the threads share while they run. The handshake counters decide the bad and resumed
// picks on their values, so the shares hold over the whole run whatever the number of threads
// (an accumulator per thread lost up to one pick per thread): one or two relaxed increments per
// handshake. The per-second histograms and the certificates' table are shared too, by relaxed
// atomic adds (a second's handshakes of every thread land in the same counts). Nothing else is
// shared on the hot path.
struct load_shared {
  atomic_ullong started;  // every handshake: picks the bad ones
  atomic_ullong good;     // handshakes with a good identity: picks those that offer a session
  atomic_int stop;        // a signal came (the watch reads the signalfd): every loop ends now
  // |num_slots| seconds of MH_LOAD_SECOND_KINDS x MH_HIST_SEC_BUCKETS counts, allocated before
  // the run.
  uint32_t *second_hists;
  size_t num_slots;
  // --latency-log: opened O_APPEND, so that each thread's whole-line writes never interleave
  // within a line; -1: none.
  int log_fd;
  struct mh_certs_table certs;  // the server certificates seen, and the failures, by 100 ms
};

// load_conn is one connection slot of a thread: one handshake at a time.
struct load_conn {
  struct load_thread *th;
  enum load_state state;
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

// load_thread is one generator thread: its loop, connections, client contexts and results.
struct load_thread {
  const struct mh_load_options *o;
  struct load_shared *shared;
  int id;
  pthread_t tid;
  struct ev_loop *loop;
  struct mh_tls_ctx **good, **bad;
  struct load_conn *conns;
  size_t num_conns;
  size_t next_good, next_bad;
  double t0, end;  // t0: the run's start, the same for every thread (--start-at's instant)
  // Open loop: this thread's arrival j is the schedule's global arrival slice.first + j *
  // slice.stride, planned at t0 + that index / o->rate (an index, not a sum: at 1e12/s adding a
  // period to a clock of 1e5 s would not move it); the schedule is that of one generator at the
  // total rate of every shard (load/shard.h), so that the shards' union is that schedule.
  struct mh_shard_slice slice;
  uint64_t total_arrivals;  // of every shard together
  uint64_t next_index, num_arrivals;
  int stopping;
  // The thread's housekeeping (the schedule's end, a stop, the drain after them): a one-shot timer
  // at the end, then every 10 ms while handshakes drain, and |wake| when the run is told to stop.
  // Nothing ticks while a run is under way (a 1 ms tick cost ~35 ms of CPU a second doing
  // nothing), but for an open loop without a timerfd, which dispatches on a 1 ms tick.
  ev_timer tick;
  ev_async wake;
  // Open loop: a timerfd armed at the next planned arrival. libev's timers wait in epoll_wait,
  // whose timeout is in whole milliseconds: up to a millisecond late, which would be latency.
  int arrival_fd;
  ev_io arrival;
  ev_check restart;  // closed loop: refill free connections without recursing from finish()
  // Results, owned by the thread; added up after join.
  struct mh_load_result r;
  // Read by the watch's progress line.
  atomic_ullong a_done, a_rejected, a_errors, a_inflight;
  atomic_ullong a_p99_us;
  ev_timer second;
  double start_wall_ms;  // the wall clock when this thread started its schedule
  // --latency-log: this thread's lines not written yet (written whole when nearly full).
  char *log_buf;
  size_t log_len;
  struct mh_certs_local certs;  // this thread's last server certificate and what it saw of each
};

// The size of a thread's --latency-log buffer.
#define LOAD_LOG_BUF_LEN 65536

// load_us returns |s| seconds in whole microseconds (0 if negative).
uint64_t load_us(double s);

// conn.c: load_conn_init prepares slot |c| of |th| (its watchers) once; load_conn_start starts
// a handshake on it planned at |planned|, with a bad identity or a good one, offering a kept
// session or not, as the schedule picked; load_conn_release closes it with a RST, uncounted.
void load_conn_init(struct load_thread *th, struct load_conn *c);
void load_conn_start(struct load_thread *th, struct load_conn *c, double planned, int bad,
                     int resume);
void load_conn_release(struct load_conn *c);

// schedule.c: load_schedule_init sets thread |id| of |nt|'s part of the open-loop schedule
// (shard and thread) and returns how many connection slots it needs; load_schedule_start arms
// its arrival timer once the thread runs (open loop); load_schedule_dispatch starts the arrivals
// due at |now|; load_schedule_end counts what is left of the schedule as dropped;
// load_schedule_stop disarms the timer. load_schedule_start_one starts a handshake on |c| planned
// at |planned| (|global|: its arrival's index in the schedule of every shard, or UINT64_MAX in
// closed loop), picked bad or good and resumed or not on its index over every shard and thread
// (mh_shard_pick_index), so that the shares hold over the whole load.
size_t load_schedule_init(struct load_thread *th, int id, int nt);
void load_schedule_start(struct load_thread *th);
void load_schedule_dispatch(struct load_thread *th, double now);
void load_schedule_end(struct load_thread *th);
void load_schedule_stop(struct load_thread *th);
void load_schedule_start_one(struct load_thread *th, struct load_conn *c, double planned,
                             uint64_t global);

// stats.c: load_stats_end records handshake |c|'s end at |now|: |accepted| 1, 0 (rejected, with
// |alert| or -1) or -1 (an error, |error| its class; -1: none); load_stats_flush writes the
// thread's latency log lines still buffered.
void load_stats_end(struct load_thread *th, const struct load_conn *c, double now, int accepted,
                    int error, int alert);
void load_stats_flush(struct load_thread *th);

#endif
