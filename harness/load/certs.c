// certs: the server certificates a load run saw and their switches (see certs.h).
#include "load/certs.h"

#include <stdlib.h>
#include <string.h>

int mh_certs_table_init(struct mh_certs_table *t, size_t num_slots) {
  memset(t, 0, sizeof(*t));
  pthread_mutex_init(&t->mu, NULL);
  atomic_init(&t->num, 0);
  t->num_slots = num_slots > 0 ? num_slots : 1;
  t->slots = calloc(t->num_slots * MH_CERTS_COLS, sizeof(uint32_t));
  return t->slots != NULL ? 0 : -1;
}

void mh_certs_table_cleanup(struct mh_certs_table *t) {
  size_t n = atomic_load(&t->num);
  for (size_t i = 0; i < n; i++) {
    free(t->der[i]);
  }
  free(t->slots);
  t->slots = NULL;
  pthread_mutex_destroy(&t->mu);
}

void mh_certs_local_init(struct mh_certs_local *l) {
  l->last_len = 0;
  l->last_idx = -1;
  memset(l->count, 0, sizeof(l->count));
  memset(l->first_us, 0, sizeof(l->first_us));
  memset(l->last_us, 0, sizeof(l->last_us));
}

// certs_slot returns the timeline slot of an instant |us| from the run's start.
static size_t certs_slot(int64_t us) {
  return us > 0 ? (size_t)(us / MH_CERTS_SLOT_US) : 0;
}

static void slot_add(struct mh_certs_table *t, int64_t end_us, int col) {
  size_t s = certs_slot(end_us);
  s = s < t->num_slots ? s : t->num_slots - 1;
  __atomic_fetch_add(&t->slots[s * MH_CERTS_COLS + (size_t)col], 1, __ATOMIC_RELAXED);
}

// find returns the index of |der| among the first |n| published entries, or -1.
static int find(const struct mh_certs_table *t, size_t from, size_t n, const uint8_t *der,
                size_t len) {
  for (size_t i = from; i < n; i++) {
    if (t->der_len[i] == len && memcmp(t->der[i], der, len) == 0) {
      return (int)i;
    }
  }
  return -1;
}

// lookup returns the run's index of |der|, adding it (under the mutex: only a certificate new to
// the run gets there) while there is room; MH_CERTS_OTHER when there is none.
static int lookup(struct mh_certs_table *t, const uint8_t *der, size_t len,
                  mh_certs_describe_fn describe) {
  size_t n = atomic_load_explicit(&t->num, memory_order_acquire);
  int i = find(t, 0, n, der, len);
  if (i >= 0) {
    return i;
  }
  pthread_mutex_lock(&t->mu);
  size_t n2 = atomic_load_explicit(&t->num, memory_order_relaxed);
  i = find(t, n, n2, der, len);
  if (i < 0 && n2 < MH_CERTS_MAX && len <= MH_CERTS_MAX_DER &&
      (t->der[n2] = malloc(len > 0 ? len : 1)) != NULL) {
    memcpy(t->der[n2], der, len);
    t->der_len[n2] = len;
    struct mh_certs_entry *e = &t->entries[n2];
    memset(e, 0, sizeof(*e));
    if (describe == NULL || describe(der, len, e) != 0) {
      strcpy(e->serial, "?");
    }
    atomic_store_explicit(&t->num, n2 + 1, memory_order_release);
    i = (int)n2;
  }
  pthread_mutex_unlock(&t->mu);
  return i >= 0 ? i : MH_CERTS_OTHER;
}

void mh_certs_seen(struct mh_certs_table *t, struct mh_certs_local *l, const uint8_t *der,
                   size_t len, int64_t end_us, mh_certs_describe_fn describe) {
  int idx;
  if (l->last_idx >= 0 && len == l->last_len && memcmp(der, l->last, len) == 0) {
    idx = l->last_idx;
  } else {
    idx = lookup(t, der, len, describe);
    if (len <= sizeof(l->last)) {
      memcpy(l->last, der, len);
      l->last_len = len;
      l->last_idx = idx;
    } else {
      l->last_idx = -1;
    }
  }
  if (l->count[idx]++ == 0) {
    l->first_us[idx] = end_us;
  }
  l->last_us[idx] = end_us;
  slot_add(t, end_us, idx);
}

void mh_certs_failed(struct mh_certs_table *t, int64_t end_us) {
  slot_add(t, end_us, MH_CERTS_FAIL);
}

void mh_certs_collect(struct mh_certs *out, struct mh_certs_table *t,
                      const struct mh_certs_local *const *locals, size_t n) {
  out->num = atomic_load(&t->num);
  for (size_t i = 0; i < out->num; i++) {
    out->entries[i] = t->entries[i];
  }
  for (size_t k = 0; k < n; k++) {
    const struct mh_certs_local *l = locals[k];
    for (size_t i = 0; i < out->num; i++) {
      struct mh_certs_entry *e = &out->entries[i];
      if (l->count[i] == 0) {
        continue;
      }
      e->first_us =
          e->handshakes == 0 || l->first_us[i] < e->first_us ? l->first_us[i] : e->first_us;
      e->last_us = l->last_us[i] > e->last_us ? l->last_us[i] : e->last_us;
      e->handshakes += l->count[i];
    }
    out->other += l->count[MH_CERTS_OTHER];
  }
  out->slots = t->slots;
  out->num_slots = t->num_slots;
  t->slots = NULL;
}

void mh_certs_cleanup(struct mh_certs *c) {
  free(c->slots);
  c->slots = NULL;
  c->num_slots = 0;
}

// The reading of a timeline.

#define MULTI (-2)
#define EMPTY (-1)

// slot_cert returns the one certificate column (0 to MH_CERTS_OTHER) slot |s| saw, EMPTY or
// MULTI.
static int slot_cert(const struct mh_certs *c, size_t s) {
  int one = EMPTY;
  for (int k = 0; k <= MH_CERTS_OTHER; k++) {
    if (c->slots[s * MH_CERTS_COLS + (size_t)k] != 0) {
      if (one != EMPTY) {
        return MULTI;
      }
      one = k;
    }
  }
  return one;
}

static uint32_t at(const struct mh_certs *c, size_t s, int col) {
  return c->slots[s * MH_CERTS_COLS + (size_t)col];
}

// A run: consecutive non-empty slots that each saw certificate |cert| alone (empty slots between
// them do not end it).
struct cert_run {
  int cert;
  size_t first, last;
};

struct reader {
  const struct mh_certs *c;
  struct mh_certs_change *out;
  size_t max, total;
  size_t first_used, last_used;  // the first and last non-empty slot of the timeline
};

static unsigned long long failures(const struct mh_certs *c, size_t a, size_t b) {
  size_t lo = a > MH_CERTS_WINDOW_SLOTS ? a - MH_CERTS_WINDOW_SLOTS : 0;
  size_t hi =
      b + MH_CERTS_WINDOW_SLOTS < c->num_slots ? b + MH_CERTS_WINDOW_SLOTS : c->num_slots - 1;
  unsigned long long n = 0;
  for (size_t s = lo; s <= hi; s++) {
    n += at(c, s, MH_CERTS_FAIL);
  }
  return n;
}

// emit fills the next change (when there is room) with slots |a| to |b| (inclusive) as its
// span, and counts it.
static void emit(struct reader *rd, struct mh_certs_change ch, size_t a, size_t b) {
  const struct mh_certs *c = rd->c;
  size_t lo = a < b ? a : b, hi = a < b ? b : a;
  size_t wlo = lo > MH_CERTS_WINDOW_SLOTS ? lo - MH_CERTS_WINDOW_SLOTS : 0;
  size_t whi =
      hi + MH_CERTS_WINDOW_SLOTS < c->num_slots ? hi + MH_CERTS_WINDOW_SLOTS : c->num_slots - 1;
  ch.window_from_us = (int64_t)wlo * MH_CERTS_SLOT_US;
  ch.window_to_us = (int64_t)(whi + 1) * MH_CERTS_SLOT_US;
  ch.failures = failures(c, lo, hi);
  if (a <= b) {
    for (size_t s = a; s <= b; s++) {
      for (int k = 0; k <= MH_CERTS_OTHER; k++) {
        ch.during[k] += at(c, s, k);
      }
    }
  }
  if (rd->total < rd->max) {
    rd->out[rd->total] = ch;
  }
  rd->total++;
}

// between reads the stretch of slots from |s0| up to (not including) |end| between the settled
// runs |prev| and |next| (either NULL at an edge of the timeline).
static void between(struct reader *rd, const struct cert_run *prev, const struct cert_run *next,
                    size_t s0, size_t end) {
  const struct mh_certs *c = rd->c;
  struct mh_certs_change ch;
  memset(&ch, 0, sizeof(ch));
  ch.from = prev != NULL ? prev->cert : -1;
  ch.to = next != NULL ? next->cert : -1;
  if (prev != NULL && next != NULL && prev->cert != next->cert) {
    // The first slot with the new certificate, from the stretch to the new run's start.
    size_t a = s0;
    while (a < next->first && at(c, a, next->cert) == 0) {
      a++;
    }
    // The last slot with the old one, from the stretch's end back to the old run's end.
    size_t b = next->first > 0 ? next->first - 1 : 0;
    while (b > prev->last && at(c, b, prev->cert) == 0) {
      b--;
    }
    ch.kind = MH_CERTS_SWITCH;
    ch.at_us = (int64_t)a * MH_CERTS_SLOT_US;
    if (next->cert < (int)c->num && certs_slot(c->entries[next->cert].first_us) == a) {
      ch.at_us = c->entries[next->cert].first_us;
    }
    ch.until_us = (int64_t)(b + 1) * MH_CERTS_SLOT_US;
    emit(rd, ch, a, b);
    return;
  }
  // Which certificates the stretch saw, and where.
  int seen[MH_CERTS_MAX + 1] = {0}, distinct = 0, foreign = 0;
  size_t first = 0, last = 0, any = 0;
  for (size_t s = s0; s < end; s++) {
    for (int k = 0; k <= MH_CERTS_OTHER; k++) {
      if (at(c, s, k) == 0) {
        continue;
      }
      distinct += !seen[k];
      seen[k] = 1;
      foreign |= k != ch.from && k != ch.to;
      first = any ? first : s;
      last = s;
      any = 1;
    }
  }
  int settled_edge = prev != NULL || next != NULL;
  if (!any || (settled_edge && !foreign) || (!settled_edge && distinct < 2)) {
    return;
  }
  ch.kind = MH_CERTS_MIXED;
  ch.at_us = (int64_t)first * MH_CERTS_SLOT_US;
  ch.until_us = (int64_t)(last + 1) * MH_CERTS_SLOT_US;
  emit(rd, ch, first, last);
}

static int settled(const struct reader *rd, const struct cert_run *r) {
  size_t span = r->last - r->first + 1;
  int edge = r->first == rd->first_used || r->last == rd->last_used;
  return span >= MH_CERTS_SETTLED_SLOTS || (edge && span >= MH_CERTS_EDGE_SLOTS);
}

size_t mh_certs_changes(const struct mh_certs *c, struct mh_certs_change *out, size_t max) {
  struct reader rd = {.c = c, .out = out, .max = max};
  if (c->slots == NULL) {
    return 0;
  }
  int used = 0;
  for (size_t s = 0; s < c->num_slots; s++) {
    if (slot_cert(c, s) != EMPTY) {
      rd.first_used = used ? rd.first_used : s;
      rd.last_used = s;
      used = 1;
    }
  }
  if (!used) {
    return 0;
  }
  struct cert_run prev = {0}, cur = {.cert = EMPTY};
  int have_prev = 0;
  size_t stretch = rd.first_used;  // the first slot after the last settled run
  for (size_t s = rd.first_used; s <= rd.last_used + 1; s++) {
    int k = s <= rd.last_used ? slot_cert(c, s) : MULTI;  // one past the end closes the last run
    if (k == EMPTY) {
      continue;
    }
    if (cur.cert >= 0 && k == cur.cert) {
      cur.last = s;
      continue;
    }
    if (cur.cert >= 0 && settled(&rd, &cur)) {
      between(&rd, have_prev ? &prev : NULL, &cur, stretch, cur.first);
      prev = cur;
      have_prev = 1;
      stretch = cur.last + 1;
    }
    cur.cert = k >= 0 ? k : EMPTY;
    cur.first = cur.last = s;
  }
  if (stretch <= rd.last_used || !have_prev) {
    between(&rd, have_prev ? &prev : NULL, NULL, stretch, rd.last_used + 1);
  }
  return rd.total;
}

unsigned long long mh_certs_failures_around(const struct mh_certs *c,
                                            const struct mh_certs_change *ch, size_t n) {
  unsigned long long total = 0;
  for (size_t s = 0; s < c->num_slots; s++) {
    int64_t from = (int64_t)s * MH_CERTS_SLOT_US;
    for (size_t i = 0; i < n; i++) {
      if (from >= ch[i].window_from_us && from < ch[i].window_to_us) {
        total += at(c, s, MH_CERTS_FAIL);
        break;
      }
    }
  }
  return total;
}
