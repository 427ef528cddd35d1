// schedule: when a thread's handshakes start (see load/internal.h). In open loop, arrivals on
// one constant schedule at the total rate of every shard, of which each shard and thread takes
// its slice (load/shard.h): started on a timerfd at their planned instants, or dropped and
// counted when no connection is free or they are too late to start. The shard arithmetic of the
// picks (which handshake is bad, which resumes) is here too, so that every shard and thread
// together picks as one generator would.
#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/clock.h"
#include "load/internal.h"
#include "load/shard.h"

#define MAX_SLOTS_PER_THREAD 20000

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

static struct load_conn *free_slot(struct load_thread *th) {
  for (size_t i = 0; i < th->num_conns; i++) {
    size_t k = (th->next_good + i) % th->num_conns;
    if (th->conns[k].state == L_FREE) {
      return &th->conns[k];
    }
  }
  return NULL;
}

// global_of returns the schedule's global index of this thread's open-loop arrival |k|.
static uint64_t global_of(const struct load_thread *th, uint64_t k) {
  return th->slice.first + k * th->slice.stride;
}

// arrival_at returns the planned time of this thread's open-loop arrival |k|.
static double arrival_at(const struct load_thread *th, uint64_t k) {
  return th->t0 + (double)global_of(th, k) / th->o->rate;
}

// first_after returns the index of the first arrival planned after |t| (at most num_arrivals).
static uint64_t first_after(const struct load_thread *th, double t) {
  double g = (t - th->t0) * th->o->rate - (double)th->slice.first;
  if (g < 0) {
    return 0;
  }
  double k = floor(g / (double)th->slice.stride) + 1;
  return k >= (double)th->num_arrivals ? th->num_arrivals : (uint64_t)k;
}

// drop_until counts the arrivals from the next one up to (not including) |upto| as planned and
// dropped, in one step whatever their number.
static void drop_until(struct load_thread *th, uint64_t upto) {
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
void load_schedule_dispatch(struct load_thread *th, double now) {
  if (th->stopping) {
    return;
  }
  drop_until(th, first_after(th, now - th->o->timeout_ms / 1000.0));
  uint64_t due = first_after(th, now);
  for (int n = 0; th->next_index < due && n < DISPATCH_BATCH; n++) {
    struct load_conn *c = free_slot(th);
    if (c == NULL) {
      drop_until(th, due);  // none frees up before the loop runs again
      break;
    }
    th->r.planned++;
    uint64_t k = th->next_index++;
    load_schedule_start_one(th, c, arrival_at(th, k), global_of(th, k));
  }
}

// arm_next sets the arrival timer to the next planned arrival (absolute, CLOCK_MONOTONIC, as
// mh_clock_now()), or disarms it when the schedule is over.
static void arm_next(struct load_thread *th) {
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
  struct load_thread *th = w->data;
  uint64_t expirations;
  ssize_t n = read(th->arrival_fd, &expirations, sizeof(expirations));
  (void)n;  // EAGAIN if a re-arm raced the read: the schedule below is what counts
  load_schedule_dispatch(th, mh_clock_now());
  arm_next(th);
}

size_t load_schedule_init(struct load_thread *th, int id, int nt) {
  const struct mh_load_options *o = th->o;
  if (o->connections > 0) {
    return (size_t)(o->connections / nt + (id < o->connections % nt ? 1 : 0));
  }
  int count = o->shard_count > 1 ? o->shard_count : 1;
  th->total_arrivals = mh_shard_total_arrivals(o->rate, o->duration_s);
  th->slice = mh_shard_slice_of(th->total_arrivals, count > 1 ? o->shard_index : 0, count, id, nt);
  th->num_arrivals = th->slice.num;
  // Enough connections for this thread's part of the rate over a handshake's timeout.
  double need = o->rate / count / nt * (o->timeout_ms / 1000.0);
  return need < 64 ? 64 : need > MAX_SLOTS_PER_THREAD ? MAX_SLOTS_PER_THREAD : (size_t)need;
}

void load_schedule_start(struct load_thread *th) {
  th->arrival_fd = -1;
  if (th->o->rate <= 0) {
    return;
  }
  // Without a timerfd the 1 ms tick (load.c) dispatches alone.
  th->arrival_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (th->arrival_fd >= 0) {
    ev_io_init(&th->arrival, arrival_cb, th->arrival_fd, EV_READ);
    th->arrival.data = th;
    ev_io_start(th->loop, &th->arrival);
    arm_next(th);
  }
}

void load_schedule_end(struct load_thread *th) {
  if (th->o->rate > 0) {
    drop_until(th, th->num_arrivals);
  }
}

void load_schedule_stop(struct load_thread *th) {
  if (th->arrival_fd >= 0) {
    ev_io_stop(th->loop, &th->arrival);
    close(th->arrival_fd);
    th->arrival_fd = -1;
  }
}

// pick decides how the handshake of |global| (see load_schedule_start_one) presents itself.
static void pick(struct load_thread *th, uint64_t global, int *out_bad, int *out_resume) {
  const struct mh_load_options *o = th->o;
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
  *out_bad = o->num_bad > 0 && mh_load_share_hit(index, o->bad_share);
  // Only good identities have sessions to offer (a bad one is never issued any): resumption is
  // picked among them, apart from the bad picks, so that the two shares do not coincide.
  *out_resume =
      !*out_bad && o->resume_share > 0 &&
      mh_load_share_hit(atomic_fetch_add_explicit(&th->shared->good, 1, memory_order_relaxed),
                        o->resume_share);
}

void load_schedule_start_one(struct load_thread *th, struct load_conn *c, double planned,
                             uint64_t global) {
  int bad, resume;
  pick(th, global, &bad, &resume);
  load_conn_start(th, c, planned, bad, resume);
}
