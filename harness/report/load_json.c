// load_json: the load command's report.json (schema MH_LOAD_REPORT_SCHEMA): what was asked, the
// counts, the latency histograms (summaries and every bucket's count, so that reports of shards
// merge exactly), each second with its histograms, the sweep's steps and, merged, the shards.
#include "report/internal.h"

#include <stdio.h>
#include <time.h>

#include "base/alerts.h"
#include "base/interrupt.h"
#include "base/jsonw.h"
#include "load/load.h"
#include "load/sweep.h"
#include "base/tls_version.h"

static void json_hist(struct mh_jsonw *w, const char *name, const struct mh_hist *h) {
  mh_jsonw_key(w, name);
  mh_jsonw_object_begin(w);
  mh_kv_uint(w, "count", (unsigned long long)h->total);
  mh_kv_double(w, "mean_us", mh_hist_mean(h), 1);
  mh_kv_uint(w, "p50_us", (unsigned long long)mh_hist_percentile(h, 50));
  mh_kv_uint(w, "p90_us", (unsigned long long)mh_hist_percentile(h, 90));
  mh_kv_uint(w, "p99_us", (unsigned long long)mh_hist_percentile(h, 99));
  mh_kv_uint(w, "p999_us", (unsigned long long)mh_hist_percentile(h, 99.9));
  mh_kv_uint(w, "max_us", (unsigned long long)(h->total ? h->max : 0));
  // Lossless: the counts of the non-empty buckets (layout in load/hist.h), so that a merge adds
  // buckets instead of averaging percentiles.
  mh_jsonw_key(w, "histogram");
  mh_jsonw_object_begin(w);
  mh_kv_int(w, "sub_bits", MH_HIST_SUB_BITS);
  mh_kv_int(w, "max_exp", MH_HIST_MAX_EXP);
  mh_kv_uint(w, "total", (unsigned long long)h->total);
  mh_kv_uint(w, "min", (unsigned long long)(h->total ? h->min : 0));
  mh_kv_uint(w, "max", (unsigned long long)(h->total ? h->max : 0));
  mh_kv_double(w, "sum", h->sum, 0);
  mh_kv_uint(w, "clamped", (unsigned long long)h->clamped);
  mh_jsonw_key(w, "buckets");
  mh_jsonw_array_begin(w);
  for (size_t i = 0; i < MH_HIST_BUCKETS; i++) {
    if (h->counts[i] != 0) {
      mh_jsonw_array_begin(w);
      mh_jsonw_uint(w, i);
      mh_jsonw_uint(w, (unsigned long long)h->counts[i]);
      mh_jsonw_array_end(w);
    }
  }
  mh_jsonw_array_end(w);
  mh_jsonw_object_end(w);
  mh_jsonw_object_end(w);
}

// json_sparse writes |key|: the non-empty buckets of |counts| (|n| of them) as [[index, count],
// ...]; [] when |counts| is NULL.
static void json_sparse(struct mh_jsonw *w, const char *key, const uint32_t *counts, size_t n) {
  mh_jsonw_key(w, key);
  mh_jsonw_array_begin(w);
  for (size_t i = 0; counts != NULL && i < n; i++) {
    if (counts[i] != 0) {
      mh_jsonw_array_begin(w);
      mh_jsonw_uint(w, i);
      mh_jsonw_uint(w, counts[i]);
      mh_jsonw_array_end(w);
    }
  }
  mh_jsonw_array_end(w);
}

// json_load_options writes what was asked of the load run: mode, rate, identities...
static void json_load_options(struct mh_jsonw *w, const struct mh_report_load_doc *d) {
  const struct mh_load_options *o = d->o;
  mh_kv_str(w, "mode", o->rate > 0 ? "open" : "closed");
  mh_kv_str(w, "tls_version", mh_tls_version_keyword(o->version));
  // What does not apply to the mode is null: a rate in closed loop, connections in open loop.
  mh_jsonw_key(w, "rate");
  if (o->rate > 0) {
    mh_jsonw_double(w, mh_load_shard_rate(o), 3);
  } else {
    mh_jsonw_null(w);
  }
  mh_jsonw_key(w, "connections");
  if (o->rate > 0) {
    mh_jsonw_null(w);
  } else {
    mh_jsonw_int(w, o->connections);
  }
  mh_kv_double(w, "duration_s", o->duration_s, 3);
  mh_kv_int(w, "threads", o->threads);
  mh_kv_double(w, "bad_share", o->bad_share, 4);
  mh_jsonw_key(w, "profile");
  mh_jsonw_string_or_null(w, o->profile);
  mh_kv_str(w, "confirmation", o->http_request != NULL ? "http" : "tls");
  mh_kv_double(w, "elapsed_s", d->r->elapsed_s, 3);
  // The identities, round-robin: good ones must be accepted, bad ones rejected.
  for (int bad = 0; bad < 2; bad++) {
    const struct mh_load_identity *ids = bad ? o->bad : o->good;
    size_t n = bad ? o->num_bad : o->num_good;
    mh_jsonw_key(w, bad ? "bad_identities" : "identities");
    mh_jsonw_array_begin(w);
    for (size_t i = 0; i < n; i++) {
      mh_jsonw_string(w, ids[i].name);
    }
    mh_jsonw_array_end(w);
  }
}

// json_load_counts writes what happened: counts, errors by kind, the alerts of rejections.
// json_uint_or_null writes |key|: |v|, or null when |applies| is 0.
static void json_uint_or_null(struct mh_jsonw *w, const char *key, int applies,
                              unsigned long long v) {
  mh_jsonw_key(w, key);
  if (applies) {
    mh_jsonw_uint(w, v);
  } else {
    mh_jsonw_null(w);
  }
}

// json_started writes |key|: an instant, as ISO 8601 UTC with milliseconds and as unix
// milliseconds (when the run, a sweep's first step, started; --start-at's instant).
static void json_started(struct mh_jsonw *w, const char *key, long long unix_ms) {
  char iso[40];
  time_t secs = (time_t)(unix_ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  size_t n = strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(iso + n, sizeof(iso) - n, ".%03dZ", (int)(unix_ms % 1000));
  mh_jsonw_key(w, key);
  mh_jsonw_object_begin(w);
  mh_kv_str(w, "utc", iso);
  mh_kv_int(w, "unix_ms", unix_ms);
  mh_jsonw_object_end(w);
}

static void json_load_counts(struct mh_jsonw *w, const struct mh_load_options *o,
                             const struct mh_load_result *r) {
  unsigned long long errors = mh_load_result_errors(r);
  mh_jsonw_key(w, "counts");
  mh_jsonw_object_begin(w);
  mh_kv_uint(w, "planned", r->planned);
  mh_kv_uint(w, "started", r->started);
  mh_kv_uint(w, "accepted", r->accepted);
  mh_kv_uint(w, "rejected", r->rejected);
  mh_kv_uint(w, "errors", errors);
  mh_kv_uint(w, "dropped", r->dropped);
  mh_kv_uint(w, "late", r->late);
  // Without --resume no session is offered: null, not 0.
  json_uint_or_null(w, "resume_offered", o->resume_share > 0, r->resume_offered);
  json_uint_or_null(w, "resumed", o->resume_share > 0, r->resumed);
  mh_jsonw_object_end(w);
  mh_jsonw_key(w, "errors");
  mh_jsonw_object_begin(w);
  for (int i = 0; i < MH_LOAD_ERR_NUM; i++) {
    mh_kv_uint(w, mh_load_error_name((enum mh_load_error)i), r->errors[i]);
  }
  mh_jsonw_object_end(w);
  mh_jsonw_key(w, "rejection_alerts");
  mh_jsonw_object_begin(w);
  for (int i = 0; i < 256; i++) {
    if (r->alerts[i]) {
      char code[8];
      snprintf(code, sizeof(code), "%d", i);
      mh_jsonw_key(w, code);
      mh_jsonw_object_begin(w);
      mh_kv_str(w, "name", mh_alert_name(i));
      mh_kv_uint(w, "count", r->alerts[i]);
      mh_jsonw_object_end(w);
    }
  }
  mh_jsonw_object_end(w);
  // Rejections at HTTP (a profile that confirms there), by status: {"400": {"count": N}}.
  mh_jsonw_key(w, "rejection_statuses");
  mh_jsonw_object_begin(w);
  for (int i = 0; i < 600; i++) {
    if (r->statuses[i]) {
      char code[8];
      snprintf(code, sizeof(code), "%d", i);
      mh_jsonw_key(w, code);
      mh_jsonw_object_begin(w);
      mh_kv_uint(w, "count", r->statuses[i]);
      mh_jsonw_object_end(w);
    }
  }
  mh_jsonw_object_end(w);
}

static void json_load_seconds(struct mh_jsonw *w, const struct mh_load_result *r) {
  mh_jsonw_key(w, "seconds");
  mh_jsonw_array_begin(w);
  for (size_t i = 0; i < r->num_seconds; i++) {
    const struct mh_load_second *x = &r->seconds[i];
    mh_jsonw_object_begin(w);
    mh_kv_uint(w, "second", i + 1);
    mh_kv_uint(w, "accepted", x->accepted);
    mh_kv_uint(w, "rejected", x->rejected);
    mh_kv_uint(w, "errors", x->errors);
    mh_kv_uint(w, "p50_us", x->p50_us);
    mh_kv_uint(w, "p99_us", x->p99_us);
    json_sparse(w, "accepted_buckets", mh_load_result_second_hist(r, i, 0), MH_HIST_SEC_BUCKETS);
    json_sparse(w, "rejected_buckets", mh_load_result_second_hist(r, i, 1), MH_HIST_SEC_BUCKETS);
    mh_jsonw_object_end(w);
  }
  mh_jsonw_array_end(w);
  // The seconds' histograms are coarser than the phases' (load/hist.h): their layout.
  mh_jsonw_key(w, "second_histogram_layout");
  mh_jsonw_object_begin(w);
  mh_kv_int(w, "sub_bits", MH_HIST_SEC_SUB_BITS);
  mh_kv_int(w, "max_exp", MH_HIST_SEC_MAX_EXP);
  mh_jsonw_object_end(w);
}

static void json_sweep(struct mh_jsonw *w, const struct mh_report_load_doc *d) {
  mh_jsonw_key(w, "sweep");
  if (d->num_steps == 0) {
    mh_jsonw_null(w);
    return;
  }
  mh_jsonw_object_begin(w);
  mh_kv_double(w, "sustainable_rate", d->sustainable, 1);
  mh_jsonw_key(w, "steps");
  mh_jsonw_array_begin(w);
  for (size_t i = 0; i < d->num_steps; i++) {
    const struct mh_sweep_step *st = &d->steps[i];
    mh_jsonw_object_begin(w);
    mh_kv_double(w, "offered", st->offered, 1);
    mh_kv_double(w, "achieved", st->achieved, 1);
    mh_kv_uint(w, "p99_us", st->p99_us);
    mh_kv_double(w, "error_share", st->error_share, 5);
    mh_kv_double(w, "drop_share", st->drop_share, 5);
    mh_kv_bool(w, "sustained", st->sustained);
    mh_kv_bool(w, "retry", st->retry);
    mh_kv_bool(w, "refine", st->refine);
    // Why it failed, with the values and bounds; null when it held.
    char why[256];
    mh_jsonw_key(w, "why");
    mh_jsonw_string_or_null(
        w, st->sustained ? NULL : mh_sweep_step_why(st, d->p99_limit_ms, why, sizeof(why)));
    mh_jsonw_key(w, "broke");
    mh_jsonw_array_begin(w);
    for (int l = 0; l < MH_SWEEP_LIMIT_NUM; l++) {
      if (st->broke & (1u << l)) {
        mh_jsonw_string(w, mh_sweep_limit_name((enum mh_sweep_limit)l));
      }
    }
    mh_jsonw_array_end(w);
    mh_jsonw_object_end(w);
  }
  mh_jsonw_array_end(w);
  mh_jsonw_object_end(w);
}

// json_cpu writes the "cpu" object: the process's CPU (getrusage; with --location the in-process
// mock's too) and the generator threads' own, each in seconds and per completed handshake (null
// when none completed). The top-level cpu_s and cpu_us_per_handshake stay, the process's, for
// readers of earlier reports.
static void json_cpu(struct mh_jsonw *w, const struct mh_report_load_doc *d) {
  const struct mh_load_result *r = d->r;
  unsigned long long done = r->accepted + r->rejected;
  const double secs[2] = {r->cpu_user_s + r->cpu_sys_s, r->generator_cpu_s};
  static const char *const names[2][2] = {{"process_s", "process_us_per_handshake"},
                                          {"generator_s", "generator_us_per_handshake"}};
  mh_jsonw_key(w, "cpu");
  mh_jsonw_object_begin(w);
  for (int i = 0; i < 2; i++) {
    mh_kv_double(w, names[i][0], secs[i], 3);
    mh_jsonw_key(w, names[i][1]);
    if (done) {
      mh_jsonw_double(w, secs[i] * 1e6 / (double)done, 1);
    } else {
      mh_jsonw_null(w);
    }
  }
  mh_kv_bool(w, "process_includes_mock", d->o->in_process_mock);
  mh_jsonw_object_end(w);
}

// json_shards writes a merged report's shards (null for one generator's run) and merged_from.
static void json_shards(struct mh_jsonw *w, const struct mh_report_load_doc *d) {
  mh_jsonw_key(w, "shards");
  if (d->num_shards == 0) {
    mh_jsonw_null(w);
  } else {
    mh_jsonw_array_begin(w);
    for (size_t i = 0; i < d->num_shards; i++) {
      const struct mh_merge_shard *s = &d->shards[i];
      mh_jsonw_object_begin(w);
      mh_kv_int(w, "index", s->index);
      mh_kv_str(w, "file", s->file);
      mh_kv_double(w, "achieved_rate", s->achieved_rate, 3);
      mh_kv_uint(w, "accepted", s->accepted);
      mh_kv_uint(w, "rejected", s->rejected);
      mh_kv_uint(w, "errors", s->errors);
      mh_jsonw_key(w, "start_skew_ms");
      if (s->has_skew) {
        mh_jsonw_double(w, s->start_skew_ms, 3);
      } else {
        mh_jsonw_null(w);
      }
      mh_kv_int(w, "exit_code", s->exit_code);
      mh_jsonw_key(w, "signal");
      mh_jsonw_string_or_null(w, s->signal);
      mh_jsonw_key(w, "problem");
      mh_jsonw_string_or_null(w, s->problem);
      mh_jsonw_object_end(w);
    }
    mh_jsonw_array_end(w);
  }
  mh_jsonw_key(w, "merged_from");
  if (d->num_shards == 0) {
    mh_jsonw_null(w);
    return;
  }
  mh_jsonw_array_begin(w);
  for (size_t i = 0; i < d->num_shards; i++) {
    mh_jsonw_string(w, d->shards[i].file);
  }
  mh_jsonw_array_end(w);
}

// json_shard writes start_at, start_skew_ms and shard (this run's part, --shard I/N), each null
// when not given, then, for a merged report, its shards and the files it was merged from.
static void json_shard(struct mh_jsonw *w, const struct mh_report_load_doc *d) {
  const struct mh_load_options *o = d->o;
  const struct mh_load_result *r = d->r;
  if (r->start_at_unix_ms > 0) {
    json_started(w, "start_at", r->start_at_unix_ms);
  } else {
    mh_jsonw_key(w, "start_at");
    mh_jsonw_null(w);
  }
  mh_jsonw_key(w, "start_skew_ms");
  if (r->start_at_unix_ms > 0 && d->num_shards == 0) {
    mh_jsonw_double(w, r->start_skew_ms, 3);
  } else {
    mh_jsonw_null(w);
  }
  mh_jsonw_key(w, "shard");
  if (o->shard_count > 0 && d->num_shards == 0) {
    mh_jsonw_object_begin(w);
    mh_kv_int(w, "index", o->shard_index);
    mh_kv_int(w, "count", o->shard_count);
    // rate and connections (top level) are this shard's part; these are of every shard together.
    mh_jsonw_key(w, "total_rate");
    if (o->rate > 0) {
      mh_jsonw_double(w, o->rate, 3);
    } else {
      mh_jsonw_null(w);
    }
    mh_jsonw_object_end(w);
  } else {
    mh_jsonw_null(w);
  }
  json_shards(w, d);
}

void mh_report_load_json(FILE *f, const struct mh_report_load_doc *d) {
  const struct mh_load_options *o = d->o;
  const struct mh_load_result *r = d->r;
  struct mh_jsonw jw, *w = &jw;
  mh_jsonw_init_file(w, f);
  mh_jsonw_object_begin(w);
  mh_kv_str(w, "schema", MH_LOAD_REPORT_SCHEMA);
  mh_jsonw_key(w, "harness");
  mh_jsonw_object_begin(w);
  mh_kv_str(w, "version", MH_VERSION);
  mh_jsonw_object_end(w);
  mh_kv_str(w, "target", d->target);
  json_started(w, "started", r->started_unix_ms);
  json_shard(w, d);
  mh_kv_int(w, "exit_code", r->exit_code);
  // A signal stopped the run: the counts are those of the handshakes that ended before it.
  mh_kv_bool(w, "interrupted", r->signo != 0);
  mh_jsonw_key(w, "signal");
  mh_jsonw_string_or_null(w, r->signo != 0 ? mh_interrupt_name(r->signo) : NULL);
  json_load_options(w, d);
  json_load_counts(w, o, r);
  double cpu = r->cpu_user_s + r->cpu_sys_s;
  unsigned long long done = r->accepted + r->rejected;
  // Rates are over the scheduled window; a run a signal stopped early had a shorter one.
  double window = r->signo != 0 && r->elapsed_s < o->duration_s ? r->elapsed_s : o->duration_s;
  mh_kv_double(w, "achieved_rate", r->elapsed_s > 0 && window > 0 ? (double)done / window : 0, 3);
  mh_kv_double(w, "accepted_rate", window > 0 ? (double)r->accepted / window : 0, 3);
  mh_kv_double(w, "cpu_s", cpu, 3);
  mh_kv_double(w, "cpu_us_per_handshake", done ? cpu * 1e6 / (double)done : 0, 1);
  json_cpu(w, d);
  mh_kv_int(w, "peak_rss_kb", r->peak_rss_kb);
  mh_jsonw_key(w, "latency");
  mh_jsonw_object_begin(w);
  static const char *const keys[] = {
#define X(e, key, title) key,
      MH_LOAD_PHASES(X)
#undef X
  };
  for (int p = 0; p < MH_LOAD_NUM_PHASES; p++) {
    json_hist(w, keys[p], &r->phases[p]);
  }
  mh_jsonw_object_end(w);
  json_load_seconds(w, r);
  mh_report_load_certs_json(w, r, r->certs.base_unix_ms);
  json_sweep(w, d);
  mh_jsonw_object_end(w);
  mh_jsonw_newline(w);
  mh_jsonw_finish(w);
  mh_jsonw_cleanup(w);
}
