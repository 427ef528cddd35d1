// lifetimes: the certificates a run saw and their time left (see lifetimes.h).
#include "conform/lifetimes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conform/result.h"

void mh_lifetimes_init(struct mh_lifetimes *l, int64_t start, int64_t min_left) {
  memset(l, 0, sizeof(*l));
  pthread_mutex_init(&l->mu, NULL);
  l->start = start;
  l->min_left = min_left;
}

void mh_lifetimes_cleanup(struct mh_lifetimes *l) {
  for (size_t i = 0; i < l->num_chains; i++) {
    free(l->chains[i].der);
    free(l->chains[i].cases);
  }
  free(l->chains);
  pthread_mutex_destroy(&l->mu);
}

// add_case appends |id| to |c|'s cases; 0 or -1 when out of memory.
static int add_case(struct mh_lifetime_chain *c, const char *id) {
  if (c->num_cases == c->cap_cases) {
    size_t cap = c->cap_cases ? 2 * c->cap_cases : 8;
    const char **p = realloc(c->cases, cap * sizeof(*p));
    if (p == NULL) {
      return -1;
    }
    c->cases = p;
    c->cap_cases = cap;
  }
  c->cases[c->num_cases++] = id;
  return 0;
}

// new_chain appends a chain of |target| with a copy of |der|; NULL when out of memory.
static struct mh_lifetime_chain *new_chain(struct mh_lifetimes *l, const char *target, size_t plan,
                                           const uint8_t *der, size_t len) {
  if (l->num_chains == l->cap_chains) {
    size_t cap = l->cap_chains ? 2 * l->cap_chains : 4;
    struct mh_lifetime_chain *p = realloc(l->chains, cap * sizeof(*p));
    if (p == NULL) {
      return NULL;
    }
    l->chains = p;
    l->cap_chains = cap;
  }
  uint8_t *copy = malloc(len);
  if (copy == NULL) {
    return NULL;
  }
  memcpy(copy, der, len);
  struct mh_lifetime_chain *c = &l->chains[l->num_chains++];
  memset(c, 0, sizeof(*c));
  c->target = target;
  c->der = copy;
  c->der_len = len;
  c->first_plan = plan;
  c->num_certs = mh_certinfo_from_der(der, len, c->certs, MH_CERTINFO_MAX);
  return c;
}

void mh_lifetimes_add_chain(struct mh_lifetimes *l, const char *target, const char *case_id,
                            size_t plan, const uint8_t *der, size_t len) {
  pthread_mutex_lock(&l->mu);
  struct mh_lifetime_chain *c = NULL;
  for (size_t i = 0; i < l->num_chains && c == NULL; i++) {
    struct mh_lifetime_chain *x = &l->chains[i];
    if (strcmp(x->target, target) == 0 && x->der_len == len && memcmp(x->der, der, len) == 0) {
      c = x;
    }
  }
  if (c == NULL) {
    c = new_chain(l, target, plan, der, len);
  }
  if (c != NULL) {
    c->first_plan = plan < c->first_plan ? plan : c->first_plan;
    add_case(c, case_id);
  }
  pthread_mutex_unlock(&l->mu);
}

static int chain_order(const void *a, const void *b) {
  const struct mh_lifetime_chain *x = a, *y = b;
  int t = strcmp(x->target, y->target);
  return t != 0 ? t : (x->first_plan > y->first_plan) - (x->first_plan < y->first_plan);
}

void mh_lifetimes_sort(struct mh_lifetimes *l) {
  if (l->num_chains > 1) {
    qsort(l->chains, l->num_chains, sizeof(*l->chains), chain_order);
  }
}

// add_identity reads identity |name|'s certificate into the next of |l|'s identities, unless it
// is there already. 0, or -1 with |err| set.
static int add_identity(struct mh_lifetimes *l, const struct mh_scenario *s, const char *name,
                        struct mh_err *err) {
  for (size_t i = 0; i < l->num_identities; i++) {
    if (strcmp(l->identities[i].name, name) == 0) {
      return 0;
    }
  }
  int idx = mh_pki_spec_entity(&s->spec, name);
  if (idx < 0) {
    return 0;
  }
  const struct mh_pki_entity *e = &s->spec.entities[idx];
  struct mh_lifetime_identity *id = &l->identities[l->num_identities];
  memset(id, 0, sizeof(*id));
  id->name = e->name;
  id->imported = e->imported;
  char path[4096];
  mh_scenario_fixture_path(s, e->chain_file ? e->chain_file : e->cert_file, path, sizeof(path));
  id->num_certs = mh_certinfo_from_file(path, id->certs, MH_CERTINFO_MAX, err);
  if (id->num_certs < 0) {
    return -1;
  }
  l->num_identities++;
  return 0;
}

int mh_lifetimes_read_identities(struct mh_lifetimes *l, struct mh_arena *a,
                                 const struct mh_scenario *s, const char *const *names, size_t num,
                                 struct mh_err *err) {
  // Identities are spec entities, each read once (add_identity): |num| names repeat them.
  l->identities = mh_arena_alloc_array(a, s->spec.num_entities + 1, sizeof(*l->identities));
  if (l->identities == NULL) {
    return mh_err_set(err, "out of memory");
  }
  for (size_t i = 0; i < num; i++) {
    if (names[i] != NULL && add_identity(l, s, names[i], err) != 0) {
      return -1;
    }
  }
  for (size_t i = 0; i < s->spec.num_entities; i++) {
    const struct mh_pki_entity *e = &s->spec.entities[i];
    if (!e->is_ca && e->imported && add_identity(l, s, e->name, err) != 0) {
      return -1;
    }
  }
  return 0;
}

int mh_lifetimes_checkable(const struct mh_certinfo *c, int i) {
  return i == 0 || !c->self_signed;
}

// soonest returns the checkable certificate of |certs| (|n|) that expires first, or NULL.
static const struct mh_certinfo *soonest(const struct mh_certinfo *certs, int n) {
  const struct mh_certinfo *best = NULL;
  for (int i = 0; i < n; i++) {
    if (mh_lifetimes_checkable(&certs[i], i) &&
        (best == NULL || certs[i].not_after < best->not_after)) {
      best = &certs[i];
    }
  }
  return best;
}

// target_soonest returns the certificate of |target|'s chains that expires first, or NULL when the
// target presented none that could be read.
static const struct mh_certinfo *target_soonest(const struct mh_lifetimes *l, const char *target) {
  const struct mh_certinfo *best = NULL;
  for (size_t i = 0; i < l->num_chains; i++) {
    const struct mh_lifetime_chain *c = &l->chains[i];
    const struct mh_certinfo *x =
        strcmp(c->target, target) == 0 ? soonest(c->certs, c->num_certs) : NULL;
    if (x != NULL && (best == NULL || x->not_after < best->not_after)) {
      best = x;
    }
  }
  return best;
}

// describe writes "<subject> (serial S) expires <when>: <left>" for |c|.
static void describe(const struct mh_lifetimes *l, const struct mh_certinfo *c, char *out,
                     size_t out_len) {
  char when[32], left[48];
  mh_certinfo_utc(c->not_after, when, sizeof(when));
  mh_certinfo_time_left(c->not_after - l->start, left, sizeof(left));
  // Bounded to fit a case's summary (256 bytes): the Certificates section has every fact in full.
  snprintf(out, out_len, "%.100s (serial %.40s) expires %.31s: %.30s%s",
           c->subject[0] ? c->subject : "(no subject)", c->serial, when, left,
           c->not_after >= l->start ? " left" : "");
}

// fill_check makes |res| the time-left case |id| of certificate |c| (NULL: none was seen).
static void fill_check(const struct mh_lifetimes *l, struct mh_case_result *res, const char *id,
                       const char *what, const struct mh_certinfo *c, int strict) {
  char min[48];
  mh_certinfo_time_left(l->min_left, min, sizeof(min));
  memset(res, 0, sizeof(*res));
  res->id = id;
  res->kind = MH_CASE_CERTIFICATE;
  res->endpoint = "";
  res->server_name = "";
  res->profile = "";
  snprintf(res->expected_text, sizeof(res->expected_text),
           "at least %s left (--min-time-left) on every %s certificate", min, what);
  if (c == NULL) {
    res->verdict = MH_VERDICT_INCONCLUSIVE;
    snprintf(res->summary, sizeof(res->summary), "no %s certificate was seen", what);
    snprintf(res->verdict_reason, sizeof(res->verdict_reason),
             "no probe of the target received a certificate: the time left cannot be checked");
  } else {
    describe(l, c, res->summary, sizeof(res->summary));
    res->verdict = c->not_after - l->start < l->min_left ? MH_VERDICT_FAIL : MH_VERDICT_PASS;
    if (res->verdict == MH_VERDICT_FAIL) {
      char when[32];
      mh_certinfo_utc(c->not_after, when, sizeof(when));
      snprintf(res->verdict_reason, sizeof(res->verdict_reason),
               "%.200s expires %s, within --min-time-left %s of the run's start: renew it",
               c->subject, when, min);
    }
  }
  res->fails = mh_verdict_fails(res->verdict, strict);
}

size_t mh_lifetimes_checks(const struct mh_lifetimes *l, struct mh_arena *a,
                           const char *const *targets, size_t num_targets, int strict,
                           struct mh_case_result *out, size_t max) {
  size_t n = 0;
  if (l->min_left < 0) {
    return 0;
  }
  for (size_t i = 0; i < num_targets && n < max; i++) {
    int seen = 0;
    for (size_t j = 0; j < i && !seen; j++) {
      seen = strcmp(targets[j], targets[i]) == 0;
    }
    const char *id =
        seen ? NULL : mh_arena_sprintf(a, "%s/server-certificate/time-left", targets[i]);
    if (id != NULL) {
      fill_check(l, &out[n], id, "server", target_soonest(l, targets[i]), strict);
      out[n++].target = targets[i];
    }
  }
  for (size_t i = 0; i < l->num_identities && n < max; i++) {
    const struct mh_lifetime_identity *x = &l->identities[i];
    const char *id = x->imported && !x->negative
                         ? mh_arena_sprintf(a, "%s/client-certificate/time-left", x->name)
                         : NULL;
    if (id != NULL) {
      fill_check(l, &out[n], id, "client", soonest(x->certs, x->num_certs), strict);
      out[n].target = "";
      out[n++].identity = x->name;
    }
  }
  return n;
}

// warn fills |w| about certificate |c| of |who| when it has less than MH_LIFETIMES_WARN_S left;
// returns 1 if it did.
static int warn(const struct mh_lifetimes *l, const char *target, const char *who,
                const struct mh_certinfo *c, struct mh_run_warning *w) {
  if (c == NULL || c->not_after - l->start >= MH_LIFETIMES_WARN_S) {
    return 0;
  }
  char text[300];
  describe(l, c, text, sizeof(text));
  memset(w, 0, sizeof(*w));
  w->kind = MH_WARNING_CERTIFICATE_EXPIRING;
  w->target = target;
  w->informational = 1;
  snprintf(w->message, sizeof(w->message),
           "%.100s: %s (renew it; --min-time-left DURATION makes this a failing case)", who, text);
  return 1;
}

size_t mh_lifetimes_warnings(const struct mh_lifetimes *l, struct mh_run_warning *out, size_t max) {
  size_t n = 0;
  if (l->min_left >= 0) {
    return 0;  // the time-left cases say it
  }
  for (size_t i = 0; i < l->num_chains && n < max; i++) {
    int first = i == 0 || strcmp(l->chains[i - 1].target, l->chains[i].target) != 0;
    const char *t = l->chains[i].target;
    if (first && warn(l, t, t, target_soonest(l, t), &out[n])) {
      n++;
    }
  }
  for (size_t i = 0; i < l->num_identities && n < max; i++) {
    const struct mh_lifetime_identity *x = &l->identities[i];
    if (x->imported && !x->negative &&
        warn(l, NULL, x->name, soonest(x->certs, x->num_certs), &out[n])) {
      n++;
    }
  }
  return n;
}

void mh_lifetimes_soonest(const struct mh_lifetimes *l, char *out, size_t out_len) {
  const struct mh_certinfo *best = NULL;
  const char *who = NULL;
  for (size_t i = 0; i < l->num_chains; i++) {
    const struct mh_certinfo *x = soonest(l->chains[i].certs, l->chains[i].num_certs);
    if (x != NULL && (best == NULL || x->not_after < best->not_after)) {
      best = x, who = l->chains[i].target;
    }
  }
  for (size_t i = 0; i < l->num_identities; i++) {
    const struct mh_lifetime_identity *id = &l->identities[i];
    const struct mh_certinfo *x = id->imported ? soonest(id->certs, id->num_certs) : NULL;
    if (x != NULL && (best == NULL || x->not_after < best->not_after)) {
      best = x, who = id->name;
    }
  }
  out[0] = '\0';
  if (best != NULL) {
    char text[300];
    describe(l, best, text, sizeof(text));
    snprintf(out, out_len, "soonest expiry: %s: %s", who, text);
  }
}
