// load: the generator's threads, the run's clock and its signal watch (see load.h). Each
// thread runs its own libev loop over its own connection slots (conn.c), started by the schedule
// (schedule.c) and counted by stats.c; the main thread watches the clock and the signals.
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
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/net.h"
#include "load/internal.h"
#include "tls/tls.h"

int mh_load_default_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > MH_LOAD_DEFAULT_MAX_THREADS ? MH_LOAD_DEFAULT_MAX_THREADS : (int)n;
}

double mh_load_shard_rate(const struct mh_load_options *o) {
  return o->rate > 0 && o->shard_count > 1 ? o->rate / o->shard_count : o->rate;
}

// tick watches the clock: it ends the run, and in open loop it backs up the arrival timer (and
// is the dispatcher if no timerfd could be made).
static void housekeep(struct load_thread *th);

// arm_tick schedules the next housekeeping: at the schedule's end, then every 10 ms while the
// handshakes in flight drain (a 1 ms tick for an open loop without a timerfd, which dispatches
// on it).
static void arm_tick(struct load_thread *th) {
  double now = mh_clock_now();
  double after = th->o->rate > 0 && th->arrival_fd < 0 ? 0.001
                 : th->stopping                        ? 0.01
                 : th->end > now                       ? th->end - now
                                                       : 0.;
  ev_timer_stop(th->loop, &th->tick);
  ev_timer_set(&th->tick, after, 0.);
  ev_timer_start(th->loop, &th->tick);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  housekeep(w->data);
}

// wake_cb runs when the watch tells the threads to stop (a signal): at once, not at the end.
static void wake_cb(struct ev_loop *loop, ev_async *w, int revents) {
  (void)loop;
  (void)revents;
  housekeep(w->data);
}

static void housekeep(struct load_thread *th) {
  struct ev_loop *loop = th->loop;
  double now = mh_clock_now();
  int interrupted = atomic_load_explicit(&th->shared->stop, memory_order_relaxed);
  if (th->o->rate > 0 && !interrupted) {
    load_schedule_dispatch(th, now);
  }
  if ((now >= th->end || interrupted) && !th->stopping) {
    th->stopping = 1;
    // Arrivals of the schedule that did not start by the end (a batch left for the next round)
    // were planned all the same: dropped. After a signal the rest of the schedule was never run.
    if (!interrupted) {
      load_schedule_end(th);
    }
  }
  if (interrupted) {
    // Handshakes in flight are abandoned, not waited for (up to --timeout-ms): closed, uncounted.
    for (size_t i = 0; i < th->num_conns; i++) {
      if (th->conns[i].state != L_FREE) {
        load_conn_release(&th->conns[i]);
        th->r.started--;  // so that every started handshake ended exactly one way
        atomic_fetch_sub_explicit(&th->a_inflight, 1, memory_order_relaxed);
      }
    }
  }
  if (th->stopping && atomic_load_explicit(&th->a_inflight, memory_order_relaxed) == 0) {
    load_schedule_stop(th);
    ev_timer_stop(loop, &th->second);
    ev_timer_stop(loop, &th->tick);
    ev_async_stop(loop, &th->wake);
    ev_check_stop(loop, &th->restart);
    ev_break(loop, EVBREAK_ALL);
    return;
  }
  arm_tick(th);
}

static void restart_cb(struct ev_loop *loop, ev_check *w, int revents) {
  (void)loop;
  (void)revents;
  struct load_thread *th = w->data;
  if (th->stopping) {
    return;
  }
  for (size_t i = 0; i < th->num_conns; i++) {
    if (th->conns[i].state == L_FREE) {
      load_schedule_start_one(th, &th->conns[i], mh_clock_now(), UINT64_MAX);
    }
  }
}

static void second_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  struct load_thread *th = w->data;
  atomic_store_explicit(&th->a_p99_us,
                        mh_hist_percentile(&th->r.phases[MH_LOAD_PHASE_TOTAL_ACCEPT], 99),
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
  struct load_thread *th = arg;
  // Every thread starts at the run's t0 (mh_load_run waited for --start-at up to shortly before).
  wait_until(th->t0);
  th->start_wall_ms = wall_ms();
  th->end = th->t0 + th->o->duration_s;
  ev_async_init(&th->wake, wake_cb);
  th->wake.data = th;
  ev_async_start(th->loop, &th->wake);
  if (th->o->connections > 0) {
    ev_check_init(&th->restart, restart_cb);
    th->restart.data = th;
    ev_check_start(th->loop, &th->restart);
    for (size_t i = 0; i < th->num_conns; i++) {
      load_schedule_start_one(th, &th->conns[i], mh_clock_now(), UINT64_MAX);
    }
  }
  load_schedule_start(th);
  ev_timer_init(&th->tick, tick_cb, 0., 0.);
  th->tick.data = th;
  arm_tick(th);
  ev_timer_init(&th->second, second_cb, 1., 1.);
  th->second.data = th;
  ev_timer_start(th->loop, &th->second);
  // A stop the watch sent before |wake| was started is seen here (it sets the flag first); the
  // loop then has only what is still in flight to finish, or nothing at all, and returns.
  if (atomic_load_explicit(&th->shared->stop, memory_order_relaxed)) {
    housekeep(th);
  }
  ev_run(th->loop, 0);
  if (th->log_buf != NULL) {
    load_stats_flush(th);
  }
  load_schedule_stop(th);
  // This thread's own CPU, read by itself: another thread's clock id would need
  // pthread_getcpuclockid and a thread still alive.
  struct timespec cpu;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0) {
    th->r.generator_cpu_s = (double)cpu.tv_sec + (double)cpu.tv_nsec / 1e9;
  }
  return NULL;
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

// thread_init prepares thread |id| of |nt| before it runs: its loop, its share of the connections
// (closed loop) or enough for its share of the rate (open loop), one client context per identity.
// Returns 0 or -1 with |err| set; what was allocated is freed by thread_cleanup either way.
static int thread_init(struct load_thread *th, const struct mh_load_options *o, int id, int nt,
                       struct load_shared *shared, struct mh_err *err) {
  th->o = o;
  th->id = id;
  th->shared = shared;
  th->loop = ev_loop_new(EVFLAG_AUTO);
  mh_load_result_init(&th->r);
  mh_certs_local_init(&th->certs);
  th->num_conns = load_schedule_init(th, id, nt);
  th->conns = calloc(th->num_conns + 1, sizeof(*th->conns));
  if (shared->log_fd >= 0 && (th->log_buf = malloc(LOAD_LOG_BUF_LEN)) == NULL) {
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
    load_conn_init(th, &th->conns[k]);
  }
  return 0;
}

// thread_cleanup frees what thread_init allocated (any part of it); the thread has ended.
static void thread_cleanup(struct load_thread *th) {
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

// watch prints the progress line once a second until the run's duration is over, from
// counters the |nt| running threads update without locks. It watches for SIGINT/SIGTERM too: on
// one it tells the threads to stop (|shared|) and returns the signal; otherwise 0.
static int watch(struct load_thread *ths, int nt, double t0, const struct mh_load_options *o,
                 struct load_shared *shared) {
  unsigned long long last = 0;
  for (int sec = 1; sec <= (int)(o->duration_s + 0.999); sec++) {
    double wake = t0 + sec;
    while (mh_clock_now() < wake) {
      int sig = mh_interrupt_poll(o->interrupt, 20);
      if (sig != 0) {
        atomic_store(&shared->stop, 1);  // first: a thread that starts its wake late reads it
        for (int i = 0; i < nt; i++) {
          ev_async_send(ths[i].loop, &ths[i].wake);
        }
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
static void start_times(struct mh_load_result *out, const struct load_thread *ths, int started,
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
static void finish_seconds(struct mh_load_result *out, struct load_shared *shared) {
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
static void collect_certs(struct mh_load_result *out, struct load_shared *shared,
                          const struct load_thread *ths, int started) {
  const struct mh_certs_local *locals[MH_LOAD_MAX_THREADS];
  for (int i = 0; i < started; i++) {
    locals[i] = &ths[i].certs;
  }
  mh_certs_collect(&out->certs, &shared->certs, locals, (size_t)started);
}

int mh_load_run(const struct mh_load_options *o, struct mh_load_result *out, struct mh_err *err) {
  mh_load_result_cleanup(out);
  mh_load_result_init(out);
  mh_net_raise_fd_limit();
  int nt = o->threads > 0 ? o->threads : 1;
  struct load_thread *ths = calloc((size_t)nt, sizeof(*ths));
  struct load_shared *shared = calloc(1, sizeof(*shared));
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
  signo = signo != 0 ? signo : started == nt ? watch(ths, nt, t0, o, shared) : 0;
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
    mh_load_result_add(out, &ths[i].r);
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
