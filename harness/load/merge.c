// merge: shard reports summed into one result (see merge.h).
#include "load/merge.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/printable.h"
#include "input/load_report.h"
#include "load/certs.h"
#include "load/hist.h"
#include "load/load.h"
#include "tls/tls.h"
#include "base/tls_version.h"

// differ fails on field |field| of |b| that is not |a|'s: both shown, escaped.
static int differ(const struct mh_load_report *a, const struct mh_load_report *b, const char *field,
                  const char *va, const char *vb, struct mh_err *err) {
  char x[128], y[128], fa[256], fb[256];
  return mh_err_set(err,
                    "mtls-harness merge: %s: %s is \"%s\" where %s has \"%s\"; shards of one load "
                    "must agree on it (merge the reports of one `load --shard I/N` run)",
                    mh_printable_copy(fb, sizeof(fb), b->file), field,
                    mh_printable_copy(y, sizeof(y), vb ? vb : "null"),
                    mh_printable_copy(fa, sizeof(fa), a->file),
                    mh_printable_copy(x, sizeof(x), va ? va : "null"));
}

static int same(const char *a, const char *b) {
  return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

// check_one checks that report |b| is a shard's report of the schema this harness writes and
// agrees with |a| (the first) on what was measured. Returns 0 or -1 with |err| set.
static int check_one(const struct mh_load_report *a, const struct mh_load_report *b,
                     struct mh_err *err) {
  char f[256], na[32], nb[32];
  if (!same(b->schema, MH_LOAD_REPORT_SCHEMA)) {
    return mh_err_set(err,
                      "mtls-harness merge: %s: schema is \"%s\", merge reads \"%s\" (histograms "
                      "with every bucket): rerun that shard with this harness",
                      mh_printable_copy(f, sizeof(f), b->file), b->schema, MH_LOAD_REPORT_SCHEMA);
  }
  if (b->shard_count == 0) {
    return mh_err_set(err,
                      "mtls-harness merge: %s: shard is null: not a shard's report; run each "
                      "generator with load --shard I/N",
                      mh_printable_copy(f, sizeof(f), b->file));
  }
  if (a == b) {
    return 0;
  }
  if (!same(a->target, b->target)) {
    return differ(a, b, "target", a->target, b->target, err);
  }
  if (!same(a->tls_version, b->tls_version)) {
    return differ(a, b, "tls_version", a->tls_version, b->tls_version, err);
  }
  if (!same(a->mode, b->mode)) {
    return differ(a, b, "mode", a->mode, b->mode, err);
  }
  if (!same(a->confirmation, b->confirmation)) {
    return differ(a, b, "confirmation", a->confirmation, b->confirmation, err);
  }
  snprintf(na, sizeof(na), "%d", a->shard_count);
  snprintf(nb, sizeof(nb), "%d", b->shard_count);
  if (a->shard_count != b->shard_count) {
    return differ(a, b, "shard.count", na, nb, err);
  }
  snprintf(na, sizeof(na), "%g", a->duration_s);
  snprintf(nb, sizeof(nb), "%g", b->duration_s);
  if (a->duration_s != b->duration_s) {
    return differ(a, b, "duration_s", na, nb, err);
  }
  snprintf(na, sizeof(na), "%lld", a->start_at_unix_ms);
  snprintf(nb, sizeof(nb), "%lld", b->start_at_unix_ms);
  if (a->start_at_unix_ms != b->start_at_unix_ms) {
    return differ(a, b, "start_at.unix_ms", na, nb, err);
  }
  return 0;
}

// check_all checks every report and sorts them by index: each of 0..N-1 exactly once.
static int check_all(struct mh_merge *st, struct mh_err *err) {
  char f[256], g[256];
  for (size_t i = 0; i < st->n; i++) {
    if (check_one(&st->in[0], &st->in[i], err) != 0) {
      return -1;
    }
  }
  int count = st->in[0].shard_count;
  st->by_index = mh_arena_alloc_array(&st->arena, (size_t)count, sizeof(*st->by_index));
  if (st->by_index == NULL) {
    return mh_err_set(err, "out of memory");
  }
  for (size_t i = 0; i < st->n; i++) {
    const struct mh_load_report *r = &st->in[i];
    if (st->by_index[r->shard_index] != NULL) {
      return mh_err_set(err, "mtls-harness merge: shard %d/%d given twice: %s and %s",
                        r->shard_index, count,
                        mh_printable_copy(f, sizeof(f), st->by_index[r->shard_index]->file),
                        mh_printable_copy(g, sizeof(g), r->file));
    }
    st->by_index[r->shard_index] = r;
  }
  for (int i = 0; i < count; i++) {
    if (st->by_index[i] == NULL) {
      return mh_err_set(err,
                        "mtls-harness merge: shard %d/%d missing: %zu report(s) given for %d "
                        "shards; give every shard's report (or directory)",
                        i, count, st->n, count);
    }
  }
  return 0;
}

// add_hist adds the sparse histogram |h| of a report into |dst|.
static void add_hist(struct mh_hist *dst, const struct mh_lr_hist *h) {
  for (size_t i = 0; i < h->b.num; i++) {
    dst->counts[h->b.index[i]] += h->b.count[i];
  }
  if (h->total > 0) {
    dst->min = h->min < dst->min ? h->min : dst->min;
    dst->max = h->max > dst->max ? h->max : dst->max;
  }
  dst->total += h->total;
  dst->sum += h->sum;
  dst->clamped += h->clamped;
}

// shard_result fills |x| (emptied) with what shard report |in| counted, as a run's result: its
// counts, named counts (error classes by keyword, alerts and statuses by number), histograms
// and CPU; its seconds are left out (add_seconds aligns them by the wall clock).
static void shard_result(struct mh_load_result *x, const struct mh_load_report *in) {
  mh_load_result_init(x);
  x->planned = in->planned;
  x->started = in->started;
  x->accepted = in->accepted;
  x->rejected = in->rejected;
  x->dropped = in->dropped;
  x->late = in->late;
  x->resume_offered = in->resume_offered;
  x->resumed = in->resumed;
  for (size_t i = 0; i < in->num_error_classes; i++) {
    for (int e = 0; e < MH_LOAD_ERR_NUM; e++) {
      if (strcmp(in->error_classes[i].name, mh_load_error_name((enum mh_load_error)e)) == 0) {
        x->errors[e] += in->error_classes[i].count;
      }
    }
  }
  for (size_t i = 0; i < in->num_alerts; i++) {
    int code = atoi(in->alerts[i].name);
    x->alerts[code >= 0 && code < 256 ? code : 0] += in->alerts[i].count;
  }
  for (size_t i = 0; i < in->num_statuses; i++) {
    int code = atoi(in->statuses[i].name);
    x->statuses[code >= 0 && code < 600 ? code : 0] += in->statuses[i].count;
  }
  for (int p = 0; p < MH_LOAD_NUM_PHASES; p++) {
    add_hist(&x->phases[p], &in->phases[p]);
  }
  x->elapsed_s = in->elapsed_s;
  // The shards' processes: their CPU adds up (each its own machine's), their memory does not
  // (the largest is shown).
  x->cpu_user_s = in->cpu_process_s;
  x->generator_cpu_s = in->cpu_generator_s;
  x->peak_rss_kb = (long)in->peak_rss_kb;
}

// check_layouts refuses histograms in another layout than this harness's (load/hist.h): their
// buckets would not add up.
static int check_layouts(const struct mh_load_report *in, struct mh_err *err) {
  char f[256];
  int bad =
      in->second_sub_bits != MH_HIST_SEC_SUB_BITS || in->second_max_exp != MH_HIST_SEC_MAX_EXP;
  for (int p = 0; p < MH_LOAD_NUM_PHASES; p++) {
    bad |= in->phases[p].sub_bits != MH_HIST_SUB_BITS || in->phases[p].max_exp != MH_HIST_MAX_EXP;
  }
  if (bad) {
    return mh_err_set(err,
                      "mtls-harness merge: %s: its histogram layout (sub_bits, max_exp) is not "
                      "this harness's (%d, %d; seconds %d, %d): merge with the harness that wrote "
                      "it",
                      mh_printable_copy(f, sizeof(f), in->file), MH_HIST_SUB_BITS, MH_HIST_MAX_EXP,
                      MH_HIST_SEC_SUB_BITS, MH_HIST_SEC_MAX_EXP);
  }
  return 0;
}

// add_seconds adds every shard's seconds into |r| by the wall clock: a shard's second s is the
// merged second s + the whole seconds (rounded) from the shared start (--start-at's instant;
// without one, the earliest shard's start) to the shard's own start. Shards that started on time
// add second s to second s; one that started late (an instant already past) lands later.
static int add_seconds(struct mh_merge *st, struct mh_err *err) {
  struct mh_load_result *r = st->r;
  long long base = 0;
  size_t slots = 0;
  for (size_t i = 0; i < st->n; i++) {
    const struct mh_load_report *in = &st->in[i];
    long long b = in->start_at_unix_ms > 0 ? in->start_at_unix_ms : in->started_unix_ms;
    base = i == 0 || b < base ? b : base;
  }
  for (size_t pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < st->n; i++) {
      const struct mh_load_report *in = &st->in[i];
      long long late = llround((double)(in->started_unix_ms - base) / 1000.0);
      size_t off = late > 0 ? (size_t)late : 0;
      for (size_t s = 0; s < in->num_seconds; s++) {
        size_t k = off + s < MH_LOAD_MAX_SECONDS ? off + s : MH_LOAD_MAX_SECONDS - 1;
        if (pass == 0) {
          slots = k + 1 > slots ? k + 1 : slots;
          continue;
        }
        const struct mh_lr_second *x = &in->seconds[s];
        r->seconds[k].accepted += x->accepted;
        r->seconds[k].rejected += x->rejected;
        r->seconds[k].errors += x->errors;
        for (int kind = 0; kind < MH_LOAD_SECOND_KINDS; kind++) {
          const struct mh_lr_buckets *bk = kind == 0 ? &x->acc : &x->rej;
          uint32_t *h =
              r->second_hists + (k * MH_LOAD_SECOND_KINDS + (size_t)kind) * MH_HIST_SEC_BUCKETS;
          for (size_t j = 0; j < bk->num; j++) {
            h[bk->index[j]] += (uint32_t)bk->count[j];
          }
        }
      }
    }
    if (pass == 0) {
      r->num_seconds = r->num_second_slots = slots;
      r->second_hists =
          calloc(slots * MH_LOAD_SECOND_KINDS * MH_HIST_SEC_BUCKETS + 1, sizeof(uint32_t));
      if (r->second_hists == NULL) {
        return mh_err_set(err, "out of memory");
      }
    }
  }
  for (size_t k = 0; k < slots; k++) {
    const uint32_t *acc = mh_load_result_second_hist(r, k, 0);
    r->seconds[k].p50_us = mh_hist_counts_percentile(
        acc, MH_HIST_SEC_BUCKETS, r->seconds[k].accepted, MH_HIST_SEC_SUB_BITS, 50);
    r->seconds[k].p99_us = mh_hist_counts_percentile(
        acc, MH_HIST_SEC_BUCKETS, r->seconds[k].accepted, MH_HIST_SEC_SUB_BITS, 99);
  }
  return 0;
}

_Static_assert(MH_LOAD_REPORT_MAX_CERTS == MH_CERTS_MAX, "a report holds what a run tells apart");
_Static_assert(MH_LOAD_REPORT_MAX_SLOTS == MH_LOAD_MAX_SECONDS * (1000000 / MH_CERTS_SLOT_US),
               "a report's slots are a run's");

// cert_index returns the merged index of the certificate |e| (by serial), adding it while there
// is room; MH_CERTS_OTHER when there is none.
static int cert_index(struct mh_certs *m, const struct mh_lr_cert *e) {
  for (size_t i = 0; i < m->num; i++) {
    if (strcmp(m->entries[i].serial, e->serial) == 0) {
      return (int)i;
    }
  }
  if (m->num == MH_CERTS_MAX) {
    return MH_CERTS_OTHER;
  }
  struct mh_certs_entry *x = &m->entries[m->num];
  memset(x, 0, sizeof(*x));
  snprintf(x->serial, sizeof(x->serial), "%s", e->serial);
  snprintf(x->subject, sizeof(x->subject), "%s", e->subject);
  x->not_after = e->not_after;
  return (int)m->num++;
}

// add_certs merges the shards' certificates (union by serial: a shard's first and last sighting
// moved by its start's distance from the shared start, the counts added) and their timelines
// (slot by slot on the same clock as add_seconds), from which the report reads the switches again.
static int add_certs(struct mh_merge *st, struct mh_err *err) {
  struct mh_certs *m = &st->r->certs;
  long long base = 0;
  for (size_t i = 0; i < st->n; i++) {
    const struct mh_load_report *in = &st->in[i];
    long long b = in->start_at_unix_ms > 0 ? in->start_at_unix_ms : in->started_unix_ms;
    base = i == 0 || b < base ? b : base;
  }
  size_t slots = 1;
  for (size_t i = 0; i < st->n; i++) {
    const struct mh_load_report *in = &st->in[i];
    long long late_ms = in->started_unix_ms - base > 0 ? in->started_unix_ms - base : 0;
    size_t off = (size_t)llround((double)late_ms / (MH_CERTS_SLOT_US / 1000.0));
    for (size_t k = 0; k < in->num_timeline; k++) {
      size_t s = off + in->timeline[k].slot + 1;
      slots = s > slots ? s : slots;
    }
  }
  slots = slots < MH_LOAD_REPORT_MAX_SLOTS ? slots : MH_LOAD_REPORT_MAX_SLOTS;
  if ((m->slots = calloc(slots * MH_CERTS_COLS, sizeof(uint32_t))) == NULL) {
    return mh_err_set(err, "out of memory");
  }
  m->num_slots = slots;
  m->base_unix_ms = base;
  for (size_t i = 0; i < st->n; i++) {
    const struct mh_load_report *in = &st->in[i];
    long long late_ms = in->started_unix_ms - base > 0 ? in->started_unix_ms - base : 0;
    size_t off = (size_t)llround((double)late_ms / (MH_CERTS_SLOT_US / 1000.0));
    int map[MH_CERTS_MAX + 1];
    for (size_t k = 0; k < in->num_certs; k++) {
      const struct mh_lr_cert *e = &in->certs[k];
      int j = map[k] = cert_index(m, e);
      if (j == MH_CERTS_OTHER) {
        m->other += e->handshakes;
        continue;
      }
      struct mh_certs_entry *x = &m->entries[j];
      int64_t first = e->first_us + late_ms * 1000, last = e->last_us + late_ms * 1000;
      x->first_us = x->handshakes == 0 || first < x->first_us ? first : x->first_us;
      x->last_us = last > x->last_us ? last : x->last_us;
      x->handshakes += e->handshakes;
    }
    m->other += in->other_handshakes;
    for (size_t k = 0; k < in->num_timeline; k++) {
      const struct mh_lr_slot *t = &in->timeline[k];
      size_t s = off + t->slot < slots ? off + t->slot : slots - 1;
      uint32_t *row = m->slots + s * MH_CERTS_COLS;
      row[MH_CERTS_FAIL] += (uint32_t)t->failures;
      for (size_t p = 0; p < t->num; p++) {
        row[t->cert[p] < 0 ? MH_CERTS_OTHER : map[t->cert[p]]] += (uint32_t)t->count[p];
      }
    }
  }
  return 0;
}

// add_counts adds every shard's result into |st->r| (mh_load_result_add, as a run adds its
// threads'), and takes the earliest start. Returns 0 or -1 with |err| set.
static int add_counts(struct mh_merge *st, struct mh_err *err) {
  struct mh_load_result *r = st->r;
  struct mh_load_result *x = malloc(sizeof(*x));
  if (x == NULL) {
    return mh_err_set(err, "out of memory");
  }
  mh_load_result_init(r);
  for (size_t i = 0; i < st->n; i++) {
    const struct mh_load_report *in = &st->in[i];
    shard_result(x, in);
    mh_load_result_add(r, x);
    r->started_unix_ms = i == 0 || in->started_unix_ms < r->started_unix_ms ? in->started_unix_ms
                                                                            : r->started_unix_ms;
    r->start_at_unix_ms = in->start_at_unix_ms;
  }
  free(x);
  return 0;
}

// add_identity appends |name| to the first |*n| of |ids| unless it is there.
static void add_identity(struct mh_load_identity *ids, size_t *n, const char *name) {
  for (size_t i = 0; i < *n; i++) {
    if (strcmp(ids[i].name, name) == 0) {
      return;
    }
  }
  ids[(*n)++].name = name;
}

// merged_options fills |st->o| with what the shards were asked together: the sum of their rates
// (or connections) and threads, the union of their identities.
static int merged_options(struct mh_merge *st, struct mh_err *err) {
  const struct mh_load_report *a = &st->in[0];
  struct mh_load_options *o = &st->o;
  size_t total_ids = 0;
  for (size_t i = 0; i < st->n; i++) {
    total_ids += st->in[i].num_identities + st->in[i].num_bad_identities;
  }
  st->ids = mh_arena_alloc_array(&st->arena, total_ids + 1, sizeof(*st->ids));
  if (st->ids == NULL) {
    return mh_err_set(err, "out of memory");
  }
  size_t ng = 0, nb = 0;
  for (size_t i = 0; i < st->n; i++) {
    for (size_t k = 0; k < st->in[i].num_identities; k++) {
      add_identity(st->ids, &ng, st->in[i].identities[k]);
    }
  }
  struct mh_load_identity *bad = st->ids + ng;
  for (size_t i = 0; i < st->n; i++) {
    const struct mh_load_report *in = &st->in[i];
    for (size_t k = 0; k < in->num_bad_identities; k++) {
      add_identity(bad, &nb, in->bad_identities[k]);
    }
    o->rate += in->has_rate ? in->rate : 0;
    o->connections += in->has_connections ? (int)in->connections : 0;
    o->threads += (int)in->threads;
  }
  o->good = st->ids;
  o->num_good = ng;
  o->bad = bad;
  o->num_bad = nb;
  o->version = mh_tls_version_parse(a->tls_version) == MH_TLS12 ? MH_TLS12 : MH_TLS13;
  o->duration_s = a->duration_s;
  o->bad_share = a->bad_share;
  o->profile = a->profile;
  o->resume_share = a->has_resume ? 1 : 0;  // only whether sessions were offered is shown
  o->http_request = strcmp(a->confirmation, "http") == 0 ? "" : NULL;
  o->in_process_mock = a->process_includes_mock;
  o->quiet = 1;
  if (strcmp(a->mode, "open") == 0) {
    o->connections = 0;
  } else {
    o->rate = 0;
  }
  return 0;
}

// judge_shards fills the shards' lines and names each one's problem: failed (its exit code),
// interrupted, errors, started late. Returns how many have one.
static size_t judge_shards(struct mh_merge *st, double max_skew_ms) {
  size_t bad = 0;
  for (size_t i = 0; i < st->n; i++) {
    const struct mh_load_report *in = st->by_index[i];
    struct mh_merge_shard *s = &st->shards[i];
    s->file = in->file;
    s->index = in->shard_index;
    s->rate = in->has_rate ? in->rate : 0;
    s->connections = in->has_connections ? (int)in->connections : 0;
    s->achieved_rate = in->achieved_rate;
    s->accepted = in->accepted;
    s->rejected = in->rejected;
    s->errors = in->errors;
    s->has_skew = in->has_skew;
    s->start_skew_ms = in->start_skew_ms;
    s->exit_code = in->exit_code;
    s->signal = in->signal;
    if (in->signal != NULL || in->interrupted) {
      s->problem = mh_arena_sprintf(&st->arena, "interrupted by %s (exit code %d)",
                                    in->signal ? in->signal : "a signal", in->exit_code);
    } else if (in->exit_code != 0) {
      s->problem = mh_arena_sprintf(&st->arena, "failed: exit code %d, %llu errors", in->exit_code,
                                    (unsigned long long)in->errors);
    } else if (in->errors > 0) {
      s->problem = mh_arena_sprintf(&st->arena, "%llu errors", (unsigned long long)in->errors);
    } else if (in->has_skew && in->start_skew_ms > max_skew_ms) {
      s->problem = mh_arena_sprintf(&st->arena, "started %.1f ms late (over --max-skew %g ms)",
                                    in->start_skew_ms, max_skew_ms);
    }
    bad += s->problem != NULL;
  }
  return bad;
}

// read_all reads every report and checks that they fit together.
static int read_all(struct mh_merge *st, const char *const *files, size_t num, struct mh_err *err) {
  st->n = num;
  st->in = mh_arena_alloc_array(&st->arena, st->n + 1, sizeof(*st->in));
  st->r = calloc(1, sizeof(*st->r));
  if (st->in == NULL || st->r == NULL) {
    return mh_err_set(err, "out of memory");
  }
  for (size_t i = 0; i < st->n; i++) {
    if (mh_load_report_read(&st->arena, files[i], &st->in[i], err) != 0) {
      return -1;
    }
  }
  if (check_all(st, err) != 0) {
    return -1;
  }
  for (size_t i = 0; i < st->n; i++) {
    if (check_layouts(&st->in[i], err) != 0) {
      return -1;
    }
  }
  st->shards = mh_arena_alloc_array(&st->arena, st->n, sizeof(*st->shards));
  return st->shards != NULL ? 0 : mh_err_set(err, "out of memory");
}

int mh_merge_reports(struct mh_merge *st, const char *const *files, size_t num, double max_skew_ms,
                     struct mh_err *err) {
  mh_arena_init(&st->arena);
  if (num == 0) {
    return mh_err_set(err,
                      "mtls-harness merge: give the shards' REPORT.json files (or directories)");
  }
  if (read_all(st, files, num, err) != 0 || merged_options(st, err) != 0) {
    return -1;
  }
  if (add_counts(st, err) != 0 || add_seconds(st, err) != 0 || add_certs(st, err) != 0) {
    return -1;
  }
  st->num_problems = judge_shards(st, max_skew_ms);
  st->r->exit_code = st->num_problems > 0 || mh_load_result_errors(st->r) > 0 ? 1 : 0;
  return 0;
}

void mh_merge_cleanup(struct mh_merge *st) {
  if (st->r != NULL) {
    mh_load_result_cleanup(st->r);
  }
  free(st->r);
  st->r = NULL;
  mh_arena_free(&st->arena);
}
