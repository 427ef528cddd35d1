// stats: what a run counts (see load.h, load/internal.h): each handshake's end added to its
// thread's counts and histograms, the run's per-second histograms and certificates' timeline
// (shared by the threads, relaxed atomic adds) and its --latency-log line; and the one function
// that adds results up, after the threads join and in `merge`.
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load/internal.h"
#include "tls/tls.h"

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

uint64_t load_us(double s) {
  return s > 0 ? (uint64_t)(s * 1e6 + 0.5) : 0;
}

// second_record counts a latency of |v| us in second |si|'s histogram of |kind| (0 accepted, 1
// rejected); a second beyond those allocated counts in the last.
static void second_record(struct load_thread *th, size_t si, int kind, uint64_t v) {
  struct load_shared *sh = th->shared;
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
static void record_cert(struct load_thread *th, const struct load_conn *c, int accepted, int error,
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

// log_flush writes this thread's buffered --latency-log lines (best effort: a full disk loses
// lines, never the run).
void load_stats_flush(struct load_thread *th) {
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
static void log_line(struct load_thread *th, const struct load_conn *c, uint64_t latency,
                     int accepted, int error) {
  if (th->log_buf == NULL) {
    return;
  }
  if (th->log_len > LOAD_LOG_BUF_LEN - 128) {
    load_stats_flush(th);
  }
  int n = snprintf(th->log_buf + th->log_len, LOAD_LOG_BUF_LEN - th->log_len, "%llu %llu %s %s\n",
                   (unsigned long long)load_us(c->planned - th->t0), (unsigned long long)latency,
                   accepted == 1   ? "accepted"
                   : accepted == 0 ? "rejected"
                                   : "error",
                   error >= 0 ? mh_load_error_name((enum mh_load_error)error) : "-");
  th->log_len += n > 0 ? (size_t)n : 0;
}

void load_stats_end(struct load_thread *th, const struct load_conn *c, double now, int accepted,
                    int error, int alert) {
  struct mh_load_result *r = &th->r;
  if (c->tls != NULL && c->hs_done > 0) {
    mh_hist_record(&r->phases[MH_LOAD_PHASE_FIRST_RECORD], load_us(now - c->hs_done));
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
  uint64_t latency = load_us(now - c->planned);
  if (accepted >= 0) {
    second_record(th, si, accepted ? 0 : 1, latency);
  }
  log_line(th, c, latency, accepted, error);
  record_cert(th, c, accepted, error, load_us(c->planned - th->t0) + latency);
  if (accepted == 1) {
    r->accepted++;
    sec->accepted++;
    mh_hist_record(&r->phases[MH_LOAD_PHASE_TOTAL_ACCEPT], latency);
  } else if (accepted == 0) {
    r->rejected++;
    sec->rejected++;
    if (alert >= 0 && alert < 256) {
      r->alerts[alert]++;
    }
    mh_hist_record(&r->phases[MH_LOAD_PHASE_TOTAL_REJECT], latency);
    atomic_fetch_add_explicit(&th->a_rejected, 1, memory_order_relaxed);
  }
  // The progress line's handshakes/s counts handshakes the server decided (accepted or
  // rejected); a refused or broken connection is an error, shown apart.
  if (accepted >= 0) {
    atomic_fetch_add_explicit(&th->a_done, 1, memory_order_relaxed);
  }
}

void mh_load_result_init(struct mh_load_result *r) {
  memset(r, 0, sizeof(*r));
  for (int p = 0; p < MH_LOAD_NUM_PHASES; p++) {
    mh_hist_init(&r->phases[p]);
  }
}

void mh_load_result_add(struct mh_load_result *dst, const struct mh_load_result *src) {
  dst->planned += src->planned;
  dst->started += src->started;
  dst->accepted += src->accepted;
  dst->rejected += src->rejected;
  dst->dropped += src->dropped;
  dst->late += src->late;
  dst->resume_offered += src->resume_offered;
  dst->resumed += src->resumed;
  dst->cpu_user_s += src->cpu_user_s;
  dst->cpu_sys_s += src->cpu_sys_s;
  dst->generator_cpu_s += src->generator_cpu_s;
  dst->elapsed_s = src->elapsed_s > dst->elapsed_s ? src->elapsed_s : dst->elapsed_s;
  dst->peak_rss_kb = src->peak_rss_kb > dst->peak_rss_kb ? src->peak_rss_kb : dst->peak_rss_kb;
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
  for (int p = 0; p < MH_LOAD_NUM_PHASES; p++) {
    mh_hist_merge(&dst->phases[p], &src->phases[p]);
  }
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
