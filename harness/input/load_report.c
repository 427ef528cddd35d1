// load_report: a load report.json read for `merge` (see load_report.h).
#include "input/load_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "input/json.h"

#define SCHEMA_PREFIX "mtls-harness/load/"

static const char *const phase_keys[] = {
#define X(e, key, title) key,
    MH_LOAD_PHASES(X)
#undef X
};

// member returns |obj|'s |key| with the path extended to it (|*old| restores it), or NULL with
// the error "missing" set.
static const cJSON *member(struct mh_json_ctx *c, const cJSON *obj, const char *key, size_t *old) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  *old = mh_json_push_key(c, key);
  if (v == NULL) {
    mh_json_fail(c, "missing (a report of mtls-harness load with --shard has it)");
  }
  return v;
}

// read_number reads |obj|.|key|, a number, into |*dout| (a finite number) or, when |iout| is
// given, into |*iout| (a whole number from |lo| to |hi|); with |nullable| null leaves 0 and
// |*out_has| 0. Every number that becomes an integer is read as one here (or by get_count):
// converting a double outside the integer's range is undefined behaviour, and a report is input
// from another machine (a pod's log), so the range is checked before the conversion.
static int read_number(struct mh_json_ctx *c, const cJSON *obj, const char *key, int nullable,
                       int64_t lo, int64_t hi, double *dout, int64_t *iout, int *out_has) {
  size_t old;
  const cJSON *v = member(c, obj, key, &old);
  if (dout != NULL) {
    *dout = 0;
  }
  if (iout != NULL) {
    *iout = 0;
  }
  if (out_has != NULL) {
    *out_has = 0;
  }
  if (v == NULL) {
    return -1;
  }
  if (nullable && cJSON_IsNull(v)) {
    mh_json_pop(c, old);
    return 0;
  }
  if (iout != NULL) {
    if (mh_json_get_int(c, v, lo, hi, iout) != 0) {
      return -1;
    }
  } else if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
    return mh_json_fail(c, "expected a number%s, found %s", nullable ? " or null" : "",
                        mh_json_type_name(v));
  } else {
    *dout = v->valuedouble;
  }
  if (out_has != NULL) {
    *out_has = 1;
  }
  mh_json_pop(c, old);
  return 0;
}

// get_num reads |obj|.|key|, a number, into |out| (read_number).
static int get_num(struct mh_json_ctx *c, const cJSON *obj, const char *key, int nullable,
                   double *out, int *out_has) {
  return read_number(c, obj, key, nullable, 0, 0, out, NULL, out_has);
}

// get_whole reads |obj|.|key|, a whole number from |lo| to |hi|, into |out| (read_number).
static int get_whole(struct mh_json_ctx *c, const cJSON *obj, const char *key, int nullable,
                     int64_t lo, int64_t hi, int64_t *out, int *out_has) {
  return read_number(c, obj, key, nullable, lo, hi, NULL, out, out_has);
}

// get_count reads |obj|.|key|, a whole number of at least 0, into |out|.
static int get_count(struct mh_json_ctx *c, const cJSON *obj, const char *key, uint64_t *out) {
  size_t old;
  const cJSON *v = member(c, obj, key, &old);
  *out = 0;
  if (v == NULL) {
    return -1;
  }
  if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble) ||
      v->valuedouble > 9e15) {
    return mh_json_fail(c, "expected a whole number of at least 0, found %s",
                        cJSON_IsNumber(v) ? "another number" : mh_json_type_name(v));
  }
  *out = (uint64_t)v->valuedouble;
  mh_json_pop(c, old);
  return 0;
}

// get_str reads |obj|.|key|, a string (or null when |nullable|: NULL), into |out|.
static int get_str(struct mh_json_ctx *c, const cJSON *obj, const char *key, int nullable,
                   const char **out) {
  size_t old;
  const cJSON *v = member(c, obj, key, &old);
  *out = NULL;
  if (v == NULL) {
    return -1;
  }
  if (nullable && cJSON_IsNull(v)) {
    mh_json_pop(c, old);
    return 0;
  }
  if (!cJSON_IsString(v)) {
    return mh_json_fail(c, "expected a string, found %s", mh_json_type_name(v));
  }
  *out = mh_arena_strdup(c->a, v->valuestring);
  mh_json_pop(c, old);
  return *out != NULL ? 0 : mh_json_fail(c, "out of memory");
}

// get_object returns |obj|.|key| if it is an object (or NULL for null when |nullable|, with
// |*out_null| set); NULL with the error set otherwise. The path is left at the member (|*old|).
static const cJSON *get_object(struct mh_json_ctx *c, const cJSON *obj, const char *key,
                               int nullable, size_t *old, int *out_null) {
  const cJSON *v = member(c, obj, key, old);
  *out_null = 0;
  if (v == NULL) {
    return NULL;
  }
  if (nullable && cJSON_IsNull(v)) {
    *out_null = 1;
    return NULL;
  }
  if (!cJSON_IsObject(v)) {
    mh_json_fail(c, "expected an object%s, found %s", nullable ? " or null" : "",
                 mh_json_type_name(v));
    return NULL;
  }
  return v;
}

// get_buckets reads |obj|.|key|, [[index, count], ...] with indexes below |limit|, into |out|.
static int get_buckets(struct mh_json_ctx *c, const cJSON *obj, const char *key, uint64_t limit,
                       struct mh_lr_buckets *out) {
  size_t old;
  const cJSON *v = member(c, obj, key, &old);
  memset(out, 0, sizeof(*out));
  if (v == NULL) {
    return -1;
  }
  if (!cJSON_IsArray(v)) {
    return mh_json_fail(c, "expected an array of [index, count] pairs, found %s",
                        mh_json_type_name(v));
  }
  size_t n = (size_t)cJSON_GetArraySize(v);
  uint64_t *idx = mh_arena_alloc_array(c->a, n + 1, sizeof(*idx));
  uint64_t *cnt = mh_arena_alloc_array(c->a, n + 1, sizeof(*cnt));
  if (idx == NULL || cnt == NULL) {
    return mh_json_fail(c, "out of memory");
  }
  const cJSON *it;
  size_t i = 0;
  cJSON_ArrayForEach(it, v) {
    const cJSON *a = cJSON_GetArrayItem(it, 0), *b = cJSON_GetArrayItem(it, 1);
    if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 2 || !cJSON_IsNumber(a) ||
        !cJSON_IsNumber(b) || a->valuedouble < 0 || a->valuedouble >= (double)limit ||
        a->valuedouble != floor(a->valuedouble) || b->valuedouble < 0 ||
        b->valuedouble != floor(b->valuedouble) || b->valuedouble > 9e15) {
      mh_json_push_index(c, i);
      return mh_json_fail(c, "expected [index, count]: an index from 0 to %llu and a count",
                          (unsigned long long)(limit - 1));
    }
    idx[i] = (uint64_t)a->valuedouble;
    cnt[i++] = (uint64_t)b->valuedouble;
  }
  out->index = idx;
  out->count = cnt;
  out->num = i;
  mh_json_pop(c, old);
  return 0;
}

// get_layout reads a histogram layout's sub_bits and max_exp from |obj| (load/hist.h) and
// returns its number of buckets, or 0 with the error set.
static uint64_t get_layout(struct mh_json_ctx *c, const cJSON *obj, int *sub_bits, int *max_exp) {
  double s, e;
  if (get_num(c, obj, "sub_bits", 0, &s, NULL) != 0 ||
      get_num(c, obj, "max_exp", 0, &e, NULL) != 0) {
    return 0;
  }
  if (s < 1 || s > 16 || e < s + 2 || e > 40 || s != floor(s) || e != floor(e)) {
    mh_json_fail(c, "a histogram layout of sub_bits %g, max_exp %g is not one the harness writes",
                 s, e);
    return 0;
  }
  *sub_bits = (int)s;
  *max_exp = (int)e;
  return ((uint64_t)2 << *sub_bits) + ((uint64_t)(*max_exp - *sub_bits - 1) << *sub_bits);
}

// read_hist reads latency.|key|.histogram into |h|.
static int read_hist(struct mh_json_ctx *c, const cJSON *latency, const char *key,
                     struct mh_lr_hist *h) {
  size_t old, old2;
  int isnull;
  const cJSON *phase = get_object(c, latency, key, 0, &old, &isnull);
  const cJSON *hist = phase ? get_object(c, phase, "histogram", 0, &old2, &isnull) : NULL;
  if (hist == NULL) {
    return -1;
  }
  uint64_t n = get_layout(c, hist, &h->sub_bits, &h->max_exp);
  if (n == 0 || get_count(c, hist, "total", &h->total) != 0 ||
      get_count(c, hist, "min", &h->min) != 0 || get_count(c, hist, "max", &h->max) != 0 ||
      get_count(c, hist, "clamped", &h->clamped) != 0 ||
      get_num(c, hist, "sum", 0, &h->sum, NULL) != 0 || get_buckets(c, hist, "buckets", n, &h->b)) {
    return -1;
  }
  uint64_t sum = 0;
  for (size_t i = 0; i < h->b.num; i++) {
    sum += h->b.count[i];
  }
  if (sum != h->total) {
    return mh_json_fail(c, "the buckets count %llu values, \"total\" says %llu",
                        (unsigned long long)sum, (unsigned long long)h->total);
  }
  mh_json_pop(c, old);
  return 0;
}

// read_named reads an object of counts: {name: N} (|nested| 0) or {name: {"count": N}}.
static int read_named(struct mh_json_ctx *c, const cJSON *root, const char *key, int nested,
                      struct mh_lr_named **out, size_t *out_num) {
  size_t old;
  int isnull;
  const cJSON *obj = get_object(c, root, key, 0, &old, &isnull);
  if (obj == NULL) {
    return -1;
  }
  size_t n = (size_t)cJSON_GetArraySize(obj);
  *out = mh_arena_alloc_array(c->a, n + 1, sizeof(**out));
  *out_num = 0;
  if (*out == NULL) {
    return mh_json_fail(c, "out of memory");
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, obj) {
    struct mh_lr_named *e = &(*out)[(*out_num)++];
    e->name = mh_arena_strdup(c->a, it->string);
    if (nested ? get_count(c, it, "count", &e->count) != 0
               : get_count(c, obj, it->string, &e->count) != 0) {
      return -1;
    }
  }
  mh_json_pop(c, old);
  return 0;
}

// read_seconds reads the per-second series with its histograms.
static int read_seconds(struct mh_json_ctx *c, const cJSON *root, struct mh_load_report *r) {
  size_t old, old2;
  int isnull;
  const cJSON *layout = get_object(c, root, "second_histogram_layout", 0, &old, &isnull);
  uint64_t n = layout ? get_layout(c, layout, &r->second_sub_bits, &r->second_max_exp) : 0;
  if (n == 0) {
    return -1;
  }
  mh_json_pop(c, old);
  const cJSON *secs = member(c, root, "seconds", &old);
  if (secs == NULL || !cJSON_IsArray(secs)) {
    return secs == NULL ? -1 : mh_json_fail(c, "expected an array");
  }
  r->num_seconds = (size_t)cJSON_GetArraySize(secs);
  r->seconds = mh_arena_alloc_array(c->a, r->num_seconds + 1, sizeof(*r->seconds));
  if (r->seconds == NULL) {
    return mh_json_fail(c, "out of memory");
  }
  size_t i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, secs) {
    struct mh_lr_second *s = &r->seconds[i];
    old2 = mh_json_push_index(c, i++);
    if (get_count(c, it, "accepted", &s->accepted) != 0 ||
        get_count(c, it, "rejected", &s->rejected) != 0 ||
        get_count(c, it, "errors", &s->errors) != 0 ||
        get_buckets(c, it, "accepted_buckets", n, &s->acc) != 0 ||
        get_buckets(c, it, "rejected_buckets", n, &s->rej) != 0) {
      return -1;
    }
    mh_json_pop(c, old2);
  }
  mh_json_pop(c, old);
  return 0;
}

// read_cert reads one entry of "certificates"."seen".
static int read_cert(struct mh_json_ctx *c, const cJSON *it, struct mh_lr_cert *e) {
  double first, last;
  if (get_str(c, it, "serial", 0, &e->serial) != 0 ||
      get_str(c, it, "subject", 0, &e->subject) != 0 ||
      get_whole(c, it, "not_after_unix", 0, MH_LR_MIN_UNIX_S, MH_LR_MAX_UNIX_S, &e->not_after,
                NULL) != 0 ||
      get_num(c, it, "first_seen_s", 0, &first, NULL) != 0 ||
      get_num(c, it, "last_seen_s", 0, &last, NULL) != 0 ||
      get_count(c, it, "handshakes", &e->handshakes) != 0) {
    return -1;
  }
  if (first < 0 || last < first || last > 1e7) {
    return mh_json_fail(c, "first_seen_s and last_seen_s must be seconds of the run, in order");
  }
  e->first_us = llround(first * 1e6);
  e->last_us = llround(last * 1e6);
  return 0;
}

// read_slot reads one row of "certificates"."timeline": [slot, failures, cert, count...].
static int read_slot(struct mh_json_ctx *c, const cJSON *row, size_t num_certs,
                     struct mh_lr_slot *out) {
  int n = cJSON_IsArray(row) ? cJSON_GetArraySize(row) : -1;
  if (n < 2 || n % 2 != 0) {
    return mh_json_fail(c, "expected [slot, failures, cert, count, ...]: whole numbers in pairs");
  }
  int64_t *cert = mh_arena_alloc_array(c->a, (size_t)n / 2, sizeof(*cert));
  uint64_t *count = mh_arena_alloc_array(c->a, (size_t)n / 2, sizeof(*count));
  if (cert == NULL || count == NULL) {
    return mh_json_fail(c, "out of memory");
  }
  for (int i = 0; i < n; i++) {
    const cJSON *v = cJSON_GetArrayItem(row, i);
    double d = cJSON_IsNumber(v) ? v->valuedouble : -2;
    int is_cert = i >= 2 && i % 2 == 0;
    double lo = is_cert ? -1 : 0;
    double hi = i == 0 ? MH_LOAD_REPORT_MAX_SLOTS - 1 : is_cert ? (double)num_certs - 1 : 9e15;
    if (d != floor(d) || d < lo || d > hi) {
      return mh_json_fail(c,
                          "item %d: expected a whole number from %.0f to %.0f (a slot, a count, "
                          "or a certificate's index in \"seen\", -1 for other)",
                          i, lo, hi);
    }
    if (i == 0) {
      out->slot = (uint64_t)d;
    } else if (i == 1) {
      out->failures = (uint64_t)d;
    } else if (is_cert) {
      cert[i / 2 - 1] = (int64_t)d;
    } else {
      count[i / 2 - 1] = (uint64_t)d;
    }
  }
  out->cert = cert;
  out->count = count;
  out->num = (size_t)n / 2 - 1;
  return 0;
}

// read_certs reads "certificates": the certificates seen and the timeline (schema 3 on).
static int read_certs(struct mh_json_ctx *c, const cJSON *root, struct mh_load_report *r) {
  size_t old, old2, old3;
  int isnull;
  const cJSON *o = get_object(c, root, "certificates", 0, &old, &isnull);
  if (o == NULL || get_count(c, o, "other_handshakes", &r->other_handshakes) != 0) {
    return -1;
  }
  const cJSON *seen = member(c, o, "seen", &old2);
  if (seen == NULL || !cJSON_IsArray(seen) || cJSON_GetArraySize(seen) > MH_LOAD_REPORT_MAX_CERTS) {
    return seen == NULL ? -1
                        : mh_json_fail(c, "expected an array of at most %d certificates",
                                       MH_LOAD_REPORT_MAX_CERTS);
  }
  r->num_certs = (size_t)cJSON_GetArraySize(seen);
  r->certs = mh_arena_alloc_array(c->a, r->num_certs + 1, sizeof(*r->certs));
  if (r->certs == NULL) {
    return mh_json_fail(c, "out of memory");
  }
  for (size_t i = 0; i < r->num_certs; i++) {
    old3 = mh_json_push_index(c, i);
    if (read_cert(c, cJSON_GetArrayItem(seen, (int)i), &r->certs[i]) != 0) {
      return -1;
    }
    mh_json_pop(c, old3);
  }
  mh_json_pop(c, old2);
  const cJSON *tl = member(c, o, "timeline", &old2);
  if (tl == NULL || !cJSON_IsArray(tl)) {
    return tl == NULL ? -1 : mh_json_fail(c, "expected an array");
  }
  r->num_timeline = (size_t)cJSON_GetArraySize(tl);
  r->timeline = mh_arena_alloc_array(c->a, r->num_timeline + 1, sizeof(*r->timeline));
  if (r->timeline == NULL) {
    return mh_json_fail(c, "out of memory");
  }
  size_t i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, tl) {
    old3 = mh_json_push_index(c, i);
    if (read_slot(c, it, r->num_certs, &r->timeline[i++]) != 0) {
      return -1;
    }
    mh_json_pop(c, old3);
  }
  mh_json_pop(c, old2);
  mh_json_pop(c, old);
  return 0;
}

// read_instant reads |key|: {"utc", "unix_ms"} or null (0) into |out|.
static int read_instant(struct mh_json_ctx *c, const cJSON *root, const char *key, int nullable,
                        long long *out) {
  size_t old;
  int isnull;
  int64_t ms = 0;
  *out = 0;
  const cJSON *o = get_object(c, root, key, nullable, &old, &isnull);
  if (o == NULL && !isnull) {
    return -1;
  }
  // From 1970 (0 means "none" to the callers) to the year 9999: differences of two instants
  // (merge.c) then cannot overflow.
  if (o != NULL &&
      get_whole(c, o, "unix_ms", 0, 1, MH_LR_MAX_UNIX_S * (int64_t)1000, &ms, NULL) != 0) {
    return -1;
  }
  *out = (long long)ms;
  mh_json_pop(c, old);
  return 0;
}

// read_shard reads "shard" (null: not a shard) and the start.
static int read_shard(struct mh_json_ctx *c, const cJSON *root, struct mh_load_report *r) {
  size_t old;
  int isnull;
  if (read_instant(c, root, "started", 0, &r->started_unix_ms) != 0 ||
      read_instant(c, root, "start_at", 1, &r->start_at_unix_ms) != 0 ||
      get_num(c, root, "start_skew_ms", 1, &r->start_skew_ms, &r->has_skew) != 0) {
    return -1;
  }
  const cJSON *sh = get_object(c, root, "shard", 1, &old, &isnull);
  if (sh == NULL) {
    mh_json_pop(c, old);
    return isnull ? 0 : -1;
  }
  double index, count;
  if (get_num(c, sh, "index", 0, &index, NULL) != 0 ||
      get_num(c, sh, "count", 0, &count, NULL) != 0) {
    return -1;
  }
  if (count < 1 || count > 1024 || index < 0 || index >= count || index != floor(index) ||
      count != floor(count)) {
    return mh_json_fail(c, "shard %g of %g: the index goes from 0 to count - 1", index, count);
  }
  r->shard_index = (int)index;
  r->shard_count = (int)count;
  mh_json_pop(c, old);
  return 0;
}

// read_options reads what the run was asked and its summary numbers.
static int read_options(struct mh_json_ctx *c, const cJSON *root, struct mh_load_report *r) {
  int64_t exit_code = 0;
  size_t old;
  int isnull;
  if (get_str(c, root, "target", 0, &r->target) != 0 ||
      get_str(c, root, "tls_version", 0, &r->tls_version) != 0 ||
      get_str(c, root, "mode", 0, &r->mode) != 0 ||
      get_str(c, root, "profile", 1, &r->profile) != 0 ||
      get_str(c, root, "confirmation", 0, &r->confirmation) != 0 ||
      get_str(c, root, "signal", 1, &r->signal) != 0 ||
      get_whole(c, root, "exit_code", 0, 0, 255, &exit_code, NULL) != 0 ||
      get_num(c, root, "rate", 1, &r->rate, &r->has_rate) != 0 ||
      get_whole(c, root, "connections", 1, 1, MH_LR_MAX_CONNECTIONS, &r->connections,
                &r->has_connections) != 0 ||
      get_num(c, root, "duration_s", 0, &r->duration_s, NULL) != 0 ||
      get_whole(c, root, "threads", 0, 1, MH_LR_MAX_THREADS, &r->threads, NULL) != 0 ||
      get_num(c, root, "bad_share", 0, &r->bad_share, NULL) != 0 ||
      get_num(c, root, "elapsed_s", 0, &r->elapsed_s, NULL) != 0 ||
      get_num(c, root, "achieved_rate", 0, &r->achieved_rate, NULL) != 0 ||
      get_whole(c, root, "peak_rss_kb", 0, 0, (int64_t)1 << 40, &r->peak_rss_kb, NULL) != 0) {
    return -1;
  }
  r->exit_code = (int)exit_code;
  const cJSON *v = member(c, root, "identities", &old);
  if (v == NULL || mh_json_get_string_array(c, v, &r->identities, &r->num_identities) != 0) {
    return -1;
  }
  mh_json_pop(c, old);
  v = member(c, root, "bad_identities", &old);
  if (v == NULL || mh_json_get_string_array(c, v, &r->bad_identities, &r->num_bad_identities)) {
    return -1;
  }
  mh_json_pop(c, old);
  const cJSON *cpu = get_object(c, root, "cpu", 0, &old, &isnull);
  if (cpu == NULL || get_num(c, cpu, "process_s", 0, &r->cpu_process_s, NULL) != 0 ||
      get_num(c, cpu, "generator_s", 0, &r->cpu_generator_s, NULL) != 0) {
    return -1;
  }
  const cJSON *mock = cJSON_GetObjectItemCaseSensitive(cpu, "process_includes_mock");
  r->process_includes_mock = cJSON_IsTrue(mock);
  mh_json_pop(c, old);
  return 0;
}

// read_counts reads "counts", the error classes, the rejections' alerts and statuses.
static int read_counts(struct mh_json_ctx *c, const cJSON *root, struct mh_load_report *r) {
  size_t old;
  int isnull;
  const cJSON *k = get_object(c, root, "counts", 0, &old, &isnull);
  if (k == NULL || get_count(c, k, "planned", &r->planned) != 0 ||
      get_count(c, k, "started", &r->started) != 0 ||
      get_count(c, k, "accepted", &r->accepted) != 0 ||
      get_count(c, k, "rejected", &r->rejected) != 0 ||
      get_count(c, k, "errors", &r->errors) != 0 || get_count(c, k, "dropped", &r->dropped) != 0 ||
      get_count(c, k, "late", &r->late) != 0) {
    return -1;
  }
  const cJSON *ro = cJSON_GetObjectItemCaseSensitive(k, "resume_offered");
  r->has_resume = cJSON_IsNumber(ro);
  if (r->has_resume && (get_count(c, k, "resume_offered", &r->resume_offered) != 0 ||
                        get_count(c, k, "resumed", &r->resumed) != 0)) {
    return -1;
  }
  mh_json_pop(c, old);
  return read_named(c, root, "errors", 0, &r->error_classes, &r->num_error_classes) != 0 ||
                 read_named(c, root, "rejection_alerts", 1, &r->alerts, &r->num_alerts) != 0 ||
                 read_named(c, root, "rejection_statuses", 1, &r->statuses, &r->num_statuses)
             ? -1
             : 0;
}

// read_doc reads the parsed report |root| into |r|.
static int read_doc(struct mh_json_ctx *c, const cJSON *root, struct mh_load_report *r) {
  if (!cJSON_IsObject(root)) {
    return mh_json_fail(c, "not a load report.json (expected an object)");
  }
  const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
  if (!cJSON_IsString(schema) || strncmp(schema->valuestring, SCHEMA_PREFIX, 18) != 0) {
    return mh_json_fail(c,
                        "not a report.json of mtls-harness load (its \"schema\" is not "
                        "mtls-harness/load/N)");
  }
  r->schema = mh_arena_strdup(c->a, schema->valuestring);
  // Only the schema is read from an earlier version: the merge names the mismatch.
  if (strcmp(r->schema, SCHEMA_PREFIX "1") == 0) {
    return 0;
  }
  size_t old;
  int isnull;
  if (read_options(c, root, r) != 0 || read_counts(c, root, r) != 0 ||
      read_shard(c, root, r) != 0 || read_seconds(c, root, r) != 0) {
    return -1;
  }
  // Schema 2 had no certificates: the merge names the schema it reads.
  if (strcmp(r->schema, SCHEMA_PREFIX "2") != 0 && read_certs(c, root, r) != 0) {
    return -1;
  }
  const cJSON *latency = get_object(c, root, "latency", 0, &old, &isnull);
  if (latency == NULL) {
    return -1;
  }
  for (int p = 0; p < MH_LOAD_NUM_PHASES; p++) {
    if (read_hist(c, latency, phase_keys[p], &r->phases[p]) != 0) {
      return -1;
    }
  }
  mh_json_pop(c, old);
  return 0;
}

int mh_load_report_parse(struct mh_arena *a, const char *file, const char *buf, size_t len,
                         struct mh_load_report *out, struct mh_err *err) {
  struct mh_json_ctx c;
  mh_json_ctx_init(&c, a, file, err);
  cJSON *root = mh_json_parse(&c, buf, len);
  int ret = root != NULL ? read_doc(&c, root, out) : -1;
  cJSON_Delete(root);
  return ret;
}

int mh_load_report_read(struct mh_arena *a, const char *path, struct mh_load_report *out,
                        struct mh_err *err) {
  memset(out, 0, sizeof(*out));
  struct stat sb;
  const char *file = path;
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    file = mh_arena_sprintf(a, "%s/report.json", path);
    if (file == NULL) {
      return mh_err_set(err, "out of memory");
    }
  }
  out->file = mh_arena_strdup(a, path);
  char *buf = NULL;
  size_t len;
  if (mh_json_read_file(file, "load report", &buf, &len, err) != 0) {
    return -1;
  }
  const char *as_read = out->file;
  int ret = mh_load_report_parse(a, file, buf, len, out, err);
  out->file = as_read;
  free(buf);
  return ret;
}
