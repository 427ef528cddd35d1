// sweep: the --sweep rate controller (see sweep.h).
#include "load/sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const limit_names[] = {
#define X(e, kw) kw,
    MH_SWEEP_LIMITS(X)
#undef X
};

const char *mh_sweep_limit_name(enum mh_sweep_limit l) {
  return (unsigned)l < MH_SWEEP_LIMIT_NUM ? limit_names[l] : "?";
}

void mh_sweep_judge(struct mh_sweep_step *st, const struct mh_load_result *r, double duration_s,
                    double p99_limit_ms) {
  unsigned long long errors = mh_load_result_errors(r);
  st->achieved = (double)(r->accepted + r->rejected) / duration_s;
  st->p99_us = mh_hist_percentile(&r->phases[MH_LOAD_PHASE_TOTAL_ACCEPT], 99);
  st->error_share = r->started ? (double)errors / (double)r->started : 0;
  st->drop_share = r->planned ? (double)r->dropped / (double)r->planned : 0;
  st->broke = 0;
  if ((double)st->p99_us > p99_limit_ms * 1000) {
    st->broke |= 1u << MH_SWEEP_P99;
  }
  if (st->error_share > 0.001) {
    st->broke |= 1u << MH_SWEEP_ERRORS;
  }
  if (st->drop_share > 0.01) {
    st->broke |= 1u << MH_SWEEP_DROPS;
  }
  if (st->achieved < 0.95 * st->offered) {
    st->broke |= 1u << MH_SWEEP_RATE;
  }
  st->sustained = st->broke == 0;
}

enum mh_sweep_next mh_sweep_decide(const struct mh_sweep_step *st) {
  if (st->sustained) {
    return MH_SWEEP_NEXT;
  }
  return st->retry ? MH_SWEEP_STOP : MH_SWEEP_RETRY;
}

const char *mh_sweep_step_why(const struct mh_sweep_step *st, double p99_limit_ms, char *buf,
                              size_t len) {
  size_t n = 0;
  buf[0] = '\0';
  for (int l = 0; l < MH_SWEEP_LIMIT_NUM && n < len; l++) {
    if (!(st->broke & (1u << l))) {
      continue;
    }
    const char *sep = n ? "; " : "";
    int k = 0;
    switch ((enum mh_sweep_limit)l) {
      case MH_SWEEP_P99:
        k = snprintf(buf + n, len - n, "%sp99 %.3f ms > %g ms", sep, st->p99_us / 1000.0,
                     p99_limit_ms);
        break;
      case MH_SWEEP_ERRORS:
        k = snprintf(buf + n, len - n, "%serrors %.2f%% > 0.1%%", sep, 100 * st->error_share);
        break;
      case MH_SWEEP_DROPS:
        k = snprintf(buf + n, len - n, "%sdrops %.2f%% > 1%%", sep, 100 * st->drop_share);
        break;
      default:
        k = snprintf(buf + n, len - n, "%sachieved %.1f/s < 95%% of %.0f/s", sep, st->achieved,
                     st->offered);
        break;
    }
    n = k > 0 && (size_t)k < len - n ? n + (size_t)k : len;
  }
  return buf;
}

// print_step writes a step's progress line: the rate, and what held or which limits broke.
static void print_step(FILE *f, const struct mh_sweep_step *st, double p99_limit_ms) {
  fprintf(f, "load: sweep %.0f/s%s: achieved %.1f/s, p99 %.3f ms: %s", st->offered,
          st->retry    ? " (retry)"
          : st->refine ? " (narrowing)"
                       : "",
          st->achieved, st->p99_us / 1000.0, st->sustained ? "sustained" : "not sustained");
  if (!st->sustained) {
    char why[256];
    fprintf(f, " (%s)%s", mh_sweep_step_why(st, p99_limit_ms, why, sizeof(why)),
            st->retry || st->refine ? "" : ": retrying once");
  }
  fputc('\n', f);
}

int mh_sweep_run(const struct mh_load_options *o, double p99_limit_ms, struct mh_sweep *out,
                 struct mh_load_result *out_best, struct mh_err *err) {
  memset(out, 0, sizeof(*out));
  out->p99_limit_ms = p99_limit_ms;
  struct mh_load_result *step = calloc(1, sizeof(*step));
  if (step == NULL) {
    return mh_err_set(err, "out of memory");
  }
  struct mh_load_options so = *o;
  int ret = -1;
  long long started_ms = 0;  // the sweep's start: its first step's
  size_t i = 0;              // the rate's index: o->rate * 1.5^i
  int retry = 0;
  int refining = 0, refined = 0;
  double failed = 0;  // while refining: the lowest rate that failed
  while ((refining || i < MH_SWEEP_MAX_RATES) && out->num_steps < MH_SWEEP_MAX_STEPS) {
    if (!refining) {
      so.rate = o->rate * pow(1.5, (double)i);
    }
    if (mh_load_run(&so, step, err) != 0) {
      goto out;
    }
    started_ms = out->num_steps == 0 ? step->started_unix_ms : started_ms;
    struct mh_sweep_step *st = &out->steps[out->num_steps++];
    st->offered = so.rate;
    mh_sweep_judge(st, step, so.duration_s, p99_limit_ms);
    st->retry = retry && !refining;
    st->refine = refining;
    print_step(stderr, st, p99_limit_ms);
    // The result kept is the highest sustained step's, or the first step's if none held.
    if (st->sustained || out->num_steps == 1) {
      mh_load_result_cleanup(out_best);
      memcpy(out_best, step, sizeof(*out_best));
      step->second_hists = NULL;  // now |out_best|'s
      step->certs.slots = NULL;   // and the certificates' timeline
    }
    if (step->signo != 0) {  // interrupted: the sweep ends with what held so far
      out_best->signo = step->signo;
      break;
    }
    if (refining) {
      // Narrowing: one run per midpoint; the side that held moves up, the other down.
      *(st->sustained ? &out->sustainable : &failed) = st->offered;
      if (++refined >= MH_SWEEP_MAX_REFINE ||
          failed - out->sustainable <= 0.05 * out->sustainable) {
        break;
      }
      so.rate = (out->sustainable + failed) / 2;
      continue;
    }
    enum mh_sweep_next next = mh_sweep_decide(st);
    if (next == MH_SWEEP_STOP) {
      if (out->sustainable <= 0 || st->offered - out->sustainable <= 0.05 * out->sustainable) {
        break;  // nothing held to narrow from, or already within 5 %
      }
      refining = 1;
      failed = st->offered;
      so.rate = (out->sustainable + failed) / 2;
      continue;
    }
    retry = next == MH_SWEEP_RETRY;
    if (next == MH_SWEEP_NEXT) {
      out->sustainable = st->offered;
      i++;
    }
  }
  out_best->started_unix_ms = started_ms;
  ret = 0;
out:
  mh_load_result_cleanup(step);
  free(step);
  return ret;
}
