// sweep: the rate controller of `load --sweep`. It steps the open-loop rate up by half each time,
// one full run per step, until a step breaks a limit twice in a row (a failed step is retried
// once, at the same rate: one noisy second must not end a sweep); then it narrows the interval
// between the last rate that held and the one that failed, halving it (at most
// MH_SWEEP_MAX_REFINE steps) until it is within 5 % of the rate that held, and keeps the highest
// rate that held.
#ifndef MH_SWEEP_H
#define MH_SWEEP_H

#include <stddef.h>

#include "base/err.h"
#include "load/load.h"

// At most MH_SWEEP_MAX_RATES rates are tried; each may be run twice (a retry).
#define MH_SWEEP_MAX_RATES 16
#define MH_SWEEP_MAX_REFINE 5
#define MH_SWEEP_MAX_STEPS (2 * MH_SWEEP_MAX_RATES + MH_SWEEP_MAX_REFINE)

// The limits a step must keep, defined once: X(enum suffix, keyword in reports).
#define MH_SWEEP_LIMITS(X) \
  X(P99, "p99")            \
  X(ERRORS, "errors")      \
  X(DROPS, "drops")        \
  X(RATE, "achieved_rate")

enum mh_sweep_limit {
#define X(e, kw) MH_SWEEP_##e,
  MH_SWEEP_LIMITS(X)
#undef X
      MH_SWEEP_LIMIT_NUM
};

// mh_sweep_limit_name returns the keyword of |l| ("p99", ...), "?" if out of range.
const char *mh_sweep_limit_name(enum mh_sweep_limit l);

// mh_sweep_step is one rate of a sweep: what was offered, what held, and which limits broke.
struct mh_sweep_step {
  double offered;
  double achieved;
  unsigned long long p99_us;
  double error_share;  // errors / started
  double drop_share;   // dropped / planned
  unsigned broke;      // bit (1u << enum mh_sweep_limit) for each limit broken; 0: sustained
  int sustained;       // broke == 0
  int retry;           // this step runs the previous step's rate again, after it failed
  int refine;          // this step narrows the interval between the rate that held and the one
                       // that failed (at their midpoint)
};

// What a sweep does after a step.
enum mh_sweep_next {
  MH_SWEEP_NEXT,   // the step held: on to the next rate
  MH_SWEEP_RETRY,  // the step failed for the first time: the same rate once more
  MH_SWEEP_STOP,   // the step failed on its retry: the sweep ends
};

// mh_sweep_decide returns what follows step |st| (judged by mh_sweep_judge) when |st->retry|
// says whether it was already a retry: NEXT if it held, RETRY if it failed and was not a retry,
// STOP if it failed again.
enum mh_sweep_next mh_sweep_decide(const struct mh_sweep_step *st);

// mh_sweep_step_why writes into |buf| (of |len| bytes, NUL-terminated) why step |st| failed, each
// broken limit with its value and bound ("p99 12.300 ms > 10 ms; errors 0.50% > 0.1%"), or ""
// if it held. |p99_limit_ms| is the sweep's limit. Returns |buf|.
const char *mh_sweep_step_why(const struct mh_sweep_step *st, double p99_limit_ms, char *buf,
                              size_t len);

// mh_sweep is a sweep's outcome: every step run, in order, and the highest sustained offered rate
// (0 if none held).
struct mh_sweep {
  struct mh_sweep_step steps[MH_SWEEP_MAX_STEPS];
  size_t num_steps;
  double sustainable;
  double p99_limit_ms;
};

// mh_sweep_judge fills |st|'s achieved rate, p99, shares and verdict from run |r| of |duration_s|
// at the rate |st->offered|, against a p99 limit of |p99_limit_ms|: errors at most 0.1 % of the
// started handshakes, drops at most 1 % of the planned ones, an achieved rate of at least 95 % of
// the offered one.
void mh_sweep_judge(struct mh_sweep_step *st, const struct mh_load_result *r, double duration_s,
                    double p99_limit_ms);

// mh_sweep_run sweeps from |o->rate| (open loop) with a p99 limit of |p99_limit_ms|: runs of
// |o->duration_s| at o->rate, 1.5 times that, and so on, until a rate breaks a limit on its run
// and on its retry (mh_sweep_decide), or after MH_SWEEP_MAX_RATES rates. Fills |out| and |out_best|
// (caller-owned, large: allocate it) with the full result of the highest sustained step, or of the
// first step if none held. A progress line per step goes to stderr. Returns 0, or -1 with |err| set
// if a run could not start.
int mh_sweep_run(const struct mh_load_options *o, double p99_limit_ms, struct mh_sweep *out,
                 struct mh_load_result *out_best, struct mh_err *err);

#endif
