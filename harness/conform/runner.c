// runner: matrices of cases against mock and external targets (see runner.h).
//
// Threads: the mock federation runs on its own libev loop thread; the cases run on a few probe
// loop threads (conform/cases.c), |jobs| of them in flight at once, each a state machine that never
// blocks; the main thread watches signals, the deadline and progress. What the mocks saw of each
// connection reaches the cases through an observer table guarded by a mutex, keyed by the client's
// address and port.
#include "conform/runner.h"

#include <ev.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alerts.h"
#include "base/clock.h"
#include "base/interrupt.h"
#include "base/net.h"
#include "mock/federation.h"
#include "mock/events.h"
#include "conform/internal.h"
#include "mock/pebble.h"
#include "conform/observed.h"
#include "conform/oracle.h"
#include "conform/summary.h"
#include "pki/pki.h"
#include "conform/probe.h"
#include "conform/warnings.h"
#include "tls/tls.h"
#include "base/tls_version.h"

static const struct mh_profile *profile_of(struct mh_runner *r, const char *location);

// note_unrun counts case |k|, which --filter leaves out, in its target's mh_warnings_unrun, with
// whether the oracle expects it to be accepted (a server check on a variant location never is).
static int note_unrun(struct mh_runner *r, const struct mh_case_spec *k) {
  if (r->unrun == NULL &&
      (r->unrun = mh_arena_alloc_array(r->a, r->s->num_locations, sizeof(*r->unrun))) == NULL) {
    return -1;
  }
  struct mh_warnings_unrun *u = NULL;
  for (size_t i = 0; i < r->num_unrun && u == NULL; i++) {
    u = strcmp(r->unrun[i].target, k->target) == 0 ? &r->unrun[i] : NULL;
  }
  if (u == NULL) {
    u = &r->unrun[r->num_unrun++];
    *u = (struct mh_warnings_unrun){.target = k->target};
  }
  u->num++;
  const struct mh_location *L = mh_scenario_location(r->s, k->target);
  struct mh_expectation x;
  struct mh_err err;  // an unreadable certificate: that case is not run, nothing to report
  if (!u->expects_accept && !k->min_tls13 && k->server_identity == NULL && L != NULL &&
      mh_oracle_expect(r->s, L, k, profile_of(r, L->name), &x, &err) == 0 && !x.reject) {
    u->expects_accept = 1;
  }
  return 0;
}

static int add_plan(struct mh_runner *r, const struct mh_case_spec *k, enum mh_case_kind kind) {
  if (r->o->filter != NULL && fnmatch(r->o->filter, k->id, 0) != 0) {
    return note_unrun(r, k);
  }
  if (r->num_plans == r->cap_plans) {
    size_t cap = r->cap_plans ? r->cap_plans * 2 : 64;
    struct plan *p = realloc(r->plans, cap * sizeof(*p));
    if (p == NULL) {
      return -1;
    }
    r->plans = p;
    r->cap_plans = cap;
  }
  struct plan *p = &r->plans[r->num_plans++];
  memset(p, 0, sizeof(*p));
  p->spec = *k;
  p->kind = kind;
  return 0;
}

// allowed_identity picks the first matrix identity the oracle lets into |L| (for the server-side
// checks, whose client must otherwise be welcome), or NULL for none.
static const char *allowed_identity(const struct mh_scenario *s, const struct mh_location *L,
                                    const struct mh_profile *profile, int version) {
  for (size_t i = 0; i < s->matrix.num_identities; i++) {
    struct mh_case_spec k = {.target = L->name, .version = version};
    k.identity = strcmp(s->matrix.identities[i], "none") == 0 ? NULL : s->matrix.identities[i];
    struct mh_expectation x;
    struct mh_err err;  // an unreadable certificate is reported when its case runs
    if (mh_oracle_expect(s, L, &k, profile, &x, &err) == 0 && !x.reject) {
      return k.identity;
    }
  }
  return NULL;
}

static int expand_matrix(struct mh_runner *r, const struct mh_scenario *s) {
  const struct mh_matrix *m = &s->matrix;
  for (size_t t = 0; t < m->num_targets; t++) {
    const struct mh_location *L = mh_scenario_location(s, m->targets[t]);
    const struct mh_profile *prof = profile_of(r, L->name);
    for (size_t i = 0; i < m->num_identities; i++) {
      for (size_t v = 0; v < m->num_versions; v++) {
        struct mh_case_spec k = {.target = L->name, .version = m->versions[v]};
        k.identity = strcmp(m->identities[i], "none") == 0 ? NULL : m->identities[i];
        k.id = mh_arena_sprintf(r->a, "%s/%s/%s", L->name, m->identities[i],
                                mh_tls_version_tag(m->versions[v]));
        if (k.id == NULL || add_plan(r, &k, MH_CASE_MATRIX) != 0) {
          return -1;
        }
      }
    }
    const char *ok = allowed_identity(s, L, prof, MH_TLS13);
    struct mh_case_spec base = {.target = L->name, .version = MH_TLS13, .identity = ok};
    if (m->min_tls13_check && !L->is_target) {
      struct mh_case_spec k = base;
      k.version = MH_TLS12;
      k.min_tls13 = 1;
      k.identity = allowed_identity(s, L, prof, MH_TLS12);
      k.check = MH_CHECK_MIN_TLS13;
      k.id = mh_arena_sprintf(r->a, "%s/%s", L->name, mh_case_check_id(k.check));
      if (k.id == NULL || add_plan(r, &k, MH_CASE_MATRIX) != 0) {
        return -1;
      }
    }
    if (m->wrong_server_name != NULL) {
      struct mh_case_spec k = base;
      k.server_name = m->wrong_server_name;
      k.check = MH_CHECK_WRONG_NAME;
      k.id = mh_arena_sprintf(r->a, "%s/%s", L->name, mh_case_check_id(k.check));
      if (k.id == NULL || add_plan(r, &k, MH_CASE_MATRIX) != 0) {
        return -1;
      }
    }
    if (m->cn_only_identity != NULL && !L->is_target) {
      struct mh_case_spec k = base;
      k.server_identity = m->cn_only_identity;
      k.check = MH_CHECK_CN_ONLY;
      k.id = mh_arena_sprintf(r->a, "%s/%s", L->name, mh_case_check_id(k.check));
      if (k.id == NULL || add_plan(r, &k, MH_CASE_MATRIX) != 0) {
        return -1;
      }
    }
    if (m->untrusted_ca != NULL) {
      struct mh_case_spec k = base;
      k.trust_ca = m->untrusted_ca;
      k.check = MH_CHECK_UNTRUSTED_SERVER;
      k.id = mh_arena_sprintf(r->a, "%s/%s", L->name, mh_case_check_id(k.check));
      if (k.id == NULL || add_plan(r, &k, MH_CASE_MATRIX) != 0) {
        return -1;
      }
    }
  }
  return 0;
}

// --- profiles ---

static const struct mh_profile *find_profile(const struct mh_runner *r, const char *name) {
  for (size_t i = 0; name != NULL && i < r->num_profiles; i++) {
    if (strcmp(r->profiles[i].name, name) == 0) {
      return &r->profiles[i];
    }
  }
  return NULL;
}

// load_profiles loads each stack profile the scenario's locations name, once.
static int load_profiles(struct mh_runner *r, struct mh_err *err) {
  r->num_profiles = 0;
  for (size_t i = 0; i < r->s->num_locations; i++) {
    const char *name = r->s->locations[i].profile;
    if (name == NULL || find_profile(r, name) != NULL) {
      continue;
    }
    if (r->num_profiles == MAX_PROFILES) {
      return mh_err_set(err, "%s: more than %d profiles", r->s->file, MAX_PROFILES);
    }
    const struct mh_location *L = &r->s->locations[i];
    if (mh_profile_of_location(r->a, r->o->profiles_dir, r->s->file, L->name, name, L->profile_file,
                               &r->profiles[r->num_profiles], err) != 0) {
      return -1;
    }
    r->num_profiles++;
  }
  return 0;
}

static const struct mh_profile *profile_of(struct mh_runner *r, const char *location) {
  const struct mh_location *L = mh_scenario_location(r->s, location);
  return L != NULL ? find_profile(r, L->profile) : NULL;
}

// --- variants: copies of a mock location that present another certificate or version floor ---

static const struct mh_location *variant_of(struct mh_runner *r, struct mh_scenario *s,
                                            const struct mh_location *L, const struct plan *p,
                                            size_t *num_locs, size_t cap) {
  char name[256];
  if (p->spec.min_tls13) {
    snprintf(name, sizeof(name), "%s~tls1.3-minimum", L->name);
  } else {
    snprintf(name, sizeof(name), "%s~cert:%s", L->name, p->spec.server_identity);
  }
  for (size_t i = 0; i < *num_locs; i++) {
    if (strcmp(s->locations[i].name, name) == 0) {
      return &s->locations[i];
    }
  }
  if (*num_locs == cap) {
    return NULL;
  }
  struct mh_location *v = &s->locations[(*num_locs)++];
  *v = *L;
  v->name = mh_arena_strdup(r->a, name);
  v->json_path = mh_arena_sprintf(r->a, "%s (variant)", L->json_path);
  v->emit_rate = 0;
  v->components = mh_arena_alloc_array(r->a, L->num_components + 1, sizeof(*v->components));
  v->num_components = 0;
  for (size_t k = 0; k < L->num_components; k++) {
    if (L->components[k].kind == MH_COMP_WS_OUTPUT) {
      v->components[v->num_components++] = L->components[k];
    }
  }
  if (p->spec.min_tls13) {
    v->server.min_version = MH_TLS13;
  } else {
    int idx = mh_pki_spec_entity(&s->spec, p->spec.server_identity);
    char path[4096];
    mh_scenario_fixture_path(s, s->spec.entities[idx].cert_file, path, sizeof(path));
    v->server.cert_file = mh_arena_strdup(r->a, path);
    mh_scenario_fixture_path(s, s->spec.entities[idx].key_file, path, sizeof(path));
    v->server.key_file = mh_arena_strdup(r->a, path);
  }
  return v;
}

// --- the result ---

// compare_baseline lists in |res| every case whose verdict or outcome differs from the baseline's
// (a case absent from either side included, within --filter).
static int compare_baseline(struct mh_runner *r, struct mh_run_result *res, struct mh_err *err) {
  struct mh_baseline_entry *base = r->baseline;
  size_t num_base = r->num_baseline;
  res->baseline_file = r->o->baseline;
  res->changes = mh_arena_alloc_array(r->a, r->num_plans + num_base + 1, sizeof(*res->changes));
  if (res->changes == NULL) {
    return mh_err_set(err, "out of memory");
  }
  for (size_t i = 0; i < res->num_cases; i++) {
    const struct mh_case_result *c = &res->cases[i];
    const char *now = mh_arena_sprintf(r->a, "%s: %s", mh_verdict_name(c->verdict), c->summary);
    const char *before = "(absent)";
    for (size_t j = 0; j < num_base; j++) {
      if (strcmp(base[j].id, c->id) == 0) {
        before = mh_arena_sprintf(r->a, "%s: %s", base[j].verdict, base[j].outcome);
        break;
      }
    }
    if (strcmp(before, now) != 0) {
      res->changes[res->num_changes++] = (struct mh_baseline_change){c->id, before, now};
    }
  }
  for (size_t j = 0; j < num_base; j++) {
    int present = 0;
    for (size_t i = 0; i < res->num_cases && !present; i++) {
      present = strcmp(base[j].id, res->cases[i].id) == 0;
    }
    if (!present && (r->o->filter == NULL || fnmatch(r->o->filter, base[j].id, 0) == 0)) {
      res->changes[res->num_changes++] = (struct mh_baseline_change){
          base[j].id, mh_arena_sprintf(r->a, "%s: %s", base[j].verdict, base[j].outcome),
          "(absent)"};
    }
  }
  return 0;
}

// plan_cases makes the run's own copy of |s_in| (with room for variant locations), loads the
// profiles and lists every case to run: the explicit ones, then the matrix; each gets the location
// whose policy it meets (a variant where the case needs another certificate or version floor).
// plan_targets lists the locations the plans probe, in the order of their first case, with the
// profile and request each gets (mh_run_target).
static int plan_targets(struct mh_runner *r, struct mh_err *err) {
  r->targets = mh_arena_alloc_array(r->a, r->num_plans, sizeof(*r->targets));
  if (r->targets == NULL) {
    return mh_err_set(err, "out of memory");
  }
  for (size_t i = 0; i < r->num_plans; i++) {
    const struct plan *p = &r->plans[i];
    struct mh_run_target *t = NULL;
    for (size_t j = 0; j < r->num_targets && t == NULL; j++) {
      t = strcmp(r->targets[j].name, p->spec.target) == 0 ? &r->targets[j] : NULL;
    }
    if (t == NULL) {
      const struct mh_location *L = mh_scenario_location(r->s, p->spec.target);
      t = &r->targets[r->num_targets++];
      *t = (struct mh_run_target){.name = L->name,
                                  .external = L->is_target,
                                  .profile = L->profile,
                                  .request = mh_cases_request_mode(L)};
    }
    t->unenforced |= p->expect.unenforced;
    t->cannot_why = p->expect.unenforced ? p->expect.cannot_why : t->cannot_why;
  }
  return 0;
}

static int plan_cases(struct mh_runner *r, const struct mh_scenario *s_in, struct mh_err *err) {
  struct mh_scenario *s = mh_arena_alloc(r->a, sizeof(*s));
  size_t cap = s_in->num_locations * 3 + 2;
  if (s == NULL) {
    return mh_err_set(err, "out of memory");
  }
  *s = *s_in;
  s->locations = mh_arena_alloc_array(r->a, cap, sizeof(*s->locations));
  if (s->locations == NULL) {
    return mh_err_set(err, "out of memory");
  }
  memcpy(s->locations, s_in->locations, s_in->num_locations * sizeof(*s->locations));
  r->s = s;
  if (load_profiles(r, err) != 0) {
    return -1;
  }
  for (size_t i = 0; i < s_in->num_cases; i++) {
    if (add_plan(r, &s_in->cases[i], MH_CASE_EXPLICIT) != 0) {
      return mh_err_set(err, "out of memory");
    }
  }
  if (s->has_matrix && expand_matrix(r, s) != 0) {
    return mh_err_set(err, "out of memory");
  }
  if (r->num_plans == 0) {
    return mh_err_set(err, "%s: no case to run (add \"matrix\" or \"cases\"%s)", s->file,
                      r->o->filter ? ", or widen --filter" : "");
  }
  size_t num_locs = s->num_locations;
  for (size_t i = 0; i < r->num_plans; i++) {
    struct plan *p = &r->plans[i];
    const struct mh_location *L = mh_scenario_location(s, p->spec.target);
    p->profile = find_profile(r, L->profile);
    p->loc = L;
    if (p->spec.min_tls13 || p->spec.server_identity != NULL) {
      p->loc = variant_of(r, s, L, p, &num_locs, cap);
      if (p->loc == NULL) {
        return mh_err_set(err, "%s: too many variant locations", s->file);
      }
    }
    s->num_locations = num_locs;  // the variant is in |s| before the oracle looks at it
    if (mh_oracle_expect(s, p->loc, &p->spec, p->profile, &p->expect, err) != 0) {
      return -1;
    }
  }
  s->num_locations = num_locs;
  return plan_targets(r, err);
}

// start_mocks opens the event log and starts the mock locations (not the
// external targets, which are only probed) on their own thread.
static int start_mocks(struct mh_runner *r, struct mh_err *err) {
  const struct mh_scenario *s = r->s;
  char *events_path = mh_arena_sprintf(r->a, "%s/events.jsonl", r->o->out_dir);
  if (events_path == NULL || mh_events_open(&r->events, events_path, err) != 0) {
    return -1;
  }
  r->events.log_to_stderr = 0;
  r->events.observe = mh_records_observe;
  r->events.observe_arg = &r->records;
  // Variants point into |s|; the federation finds them by name in |mocks|.
  struct mh_scenario *mocks = mh_arena_alloc(r->a, sizeof(*mocks));
  if (mocks == NULL) {
    return mh_err_set(err, "out of memory");
  }
  *mocks = *s;
  mocks->locations = mh_arena_alloc_array(r->a, s->num_locations + 1, sizeof(*mocks->locations));
  mocks->num_locations = 0;
  for (size_t i = 0; i < s->num_locations; i++) {
    if (!s->locations[i].is_target) {
      mocks->locations[mocks->num_locations++] = s->locations[i];
    }
  }
  if (mocks->num_locations == 0) {
    return 0;
  }
  r->loop = ev_loop_new(EVFLAG_AUTO);
  if (r->loop == NULL) {
    return mh_err_set(err, "cannot create an event loop for the mocks");
  }
  struct mh_federation_options fopts = {.ephemeral_ports = 1};
  r->fed = mh_federation_new(r->loop, mocks, &r->events, &fopts, err);
  if (r->fed == NULL || mh_federation_start_thread(r->fed, err) != 0) {
    return -1;
  }
  return 0;
}

// abandon_case records case |idx|, which did not finish before the --timeout deadline or a signal,
// as inconclusive: "run timed out" or "not run: interrupted by SIGINT". What a cut probe saw is
// dropped (it ended early, not the target).
static void abandon_case(struct mh_runner *r, size_t idx) {
  const struct plan *p = &r->plans[idx];
  struct mh_case_result *res = &r->results[idx];
  mh_capture_packets_free(&res->packets);
  mh_probe_outcome_release(&res->outcome);
  explicit_bzero(res, sizeof(*res));
  res->id = p->spec.id;
  res->target = p->spec.target;
  res->identity = p->spec.identity;
  res->version = p->spec.version;
  res->kind = p->kind;
  res->check = p->spec.check;
  res->profile = p->loc->profile;
  res->server_name = p->spec.server_name ? p->spec.server_name : p->loc->host;
  res->endpoint = MH_CASE_NOT_PROBED;
  res->abandoned = 1;
  res->outcome.result = MH_RESULT_INCONCLUSIVE;
  res->outcome.request = mh_cases_request_mode(p->loc);
  res->outcome.tls.alert_sent = res->outcome.tls.alert_received = MH_ALERT_NONE;
  res->expect = p->expect;
  mh_oracle_describe(&res->expect, res->expected_text, sizeof(res->expected_text));
  res->verdict = MH_VERDICT_INCONCLUSIVE;
  res->fails = mh_verdict_fails(res->verdict, r->o->strict);
  if (r->signo != 0) {
    // A case a signal kept from running is an error of the run, never an absent (green) row.
    snprintf(res->summary, sizeof(res->summary), "not run: interrupted by %s",
             mh_interrupt_name(r->signo));
    snprintf(res->verdict_reason, sizeof(res->verdict_reason),
             "not run: interrupted by %s before this case finished", mh_interrupt_name(r->signo));
    return;
  }
  snprintf(res->summary, sizeof(res->summary), "not finished: run timed out");
  snprintf(res->verdict_reason, sizeof(res->verdict_reason),
           "run timed out (--timeout %.0f s) before this case finished", r->o->timeout_s);
}

// reported_cases returns the cases the report holds: every planned case, those that did not
// finish abandoned (inconclusive: "run timed out", or "not run: interrupted by SIGINT"), so that
// a stopped run never reads as a green subset. The array is |r->results|.
static struct mh_case_result *reported_cases(struct mh_runner *r, size_t *out_num) {
  *out_num = r->num_plans;
  for (size_t i = 0; i < r->num_plans; i++) {
    if (atomic_load(&r->states[i]) != CASE_DONE) {
      abandon_case(r, i);
    }
  }
  return r->results;
}

// mark_negatives marks the identities of |l| that the run presents only in cases the oracle expects
// to be refused: the matrix's negatives, whose lifetime is theirs on purpose.
static void mark_negatives(const struct mh_runner *r, struct mh_lifetimes *l) {
  for (size_t i = 0; i < l->num_identities; i++) {
    struct mh_lifetime_identity *x = &l->identities[i];
    size_t used = 0, refused = 0;
    for (size_t k = 0; k < r->num_plans; k++) {
      const struct plan *p = &r->plans[k];
      // A server check presents the identity the policy admits; only plain cells judge it.
      if (p->spec.check == MH_CHECK_NONE && p->spec.identity != NULL &&
          strcmp(p->spec.identity, x->name) == 0) {
        used++;
        refused += p->expect.reject != 0;
      }
    }
    x->negative = used > 0 && refused == used;
  }
}

// lifetime_cases reads the client identities' certificates and appends the time-left cases of
// --min-time-left (conform/lifetimes.h) to |*cases| (|*num|): into the room mh_cases_run left after
// the planned cases (MH_RUN_EXTRA_CASES), so that a large matrix's results are never copied.
static int lifetime_cases(struct mh_runner *r, struct mh_case_result **cases, size_t *num,
                          struct mh_err *err) {
  struct mh_lifetimes *l = &r->lifetimes;
  mh_lifetimes_sort(l);
  const char **names = mh_arena_alloc_array(r->a, r->num_plans, sizeof(*names));
  const char **targets = mh_arena_alloc_array(r->a, r->num_targets + 1, sizeof(*targets));
  unsigned char *probed = mh_arena_alloc_array(r->a, r->num_targets + 1, 1);
  if (names == NULL || targets == NULL || probed == NULL) {
    return mh_err_set(err, "out of memory");
  }
  // The targets with a completed case, each once (a case names one of r->targets).
  for (size_t i = 0; i < r->num_plans; i++) {
    names[i] = r->plans[i].spec.identity;
    if (r->plans[i].spec.server_identity == NULL && atomic_load(&r->states[i]) == CASE_DONE) {
      for (size_t t = 0; t < r->num_targets; t++) {
        if (!probed[t] && strcmp(r->targets[t].name, r->plans[i].spec.target) == 0) {
          probed[t] = 1;
        }
      }
    }
  }
  size_t num_targets = 0;
  for (size_t t = 0; t < r->num_targets; t++) {
    if (probed[t]) {
      targets[num_targets++] = r->targets[t].name;
    }
  }
  if (mh_lifetimes_read_identities(l, r->a, r->s, names, r->num_plans, err) != 0) {
    return -1;
  }
  mark_negatives(r, l);
  size_t max = num_targets + l->num_identities;
  if (max > r->extra_results) {  // mh_cases_run's room: one per target and per spec entity
    return mh_err_set(err, "internal error: %zu time-left cases, room for %zu", max,
                      r->extra_results);
  }
  *num += mh_lifetimes_checks(l, r->a, targets, num_targets, r->o->strict, *cases + *num, max);
  return 0;
}

// merge_pins puts the command line's --resolve pins before the scenario's: the first pin naming a
// HOST:PORT wins as a group (mh_net_resolve uses every pin of the name), so the command line's
// replace the scenario's rather than add to them.
static int merge_pins(struct mh_runner *r, const struct mh_scenario *s, struct mh_err *err) {
  size_t n = r->o->num_pins + s->num_pins;
  r->pins = mh_arena_alloc_array(r->a, n > 0 ? n : 1, sizeof(*r->pins));
  if (r->pins == NULL) {
    return mh_err_set(err, "out of memory");
  }
  for (size_t i = 0; i < r->o->num_pins; i++) {
    r->pins[r->num_pins++] = r->o->pins[i];
  }
  for (size_t i = 0; i < s->num_pins; i++) {
    int overridden = 0;
    for (size_t j = 0; j < r->o->num_pins; j++) {
      overridden |= r->o->pins[j].port == s->pins[i].port &&
                    strcasecmp(r->o->pins[j].name, s->pins[i].name) == 0;
    }
    if (!overridden) {
      r->pins[r->num_pins++] = s->pins[i];
    }
  }
  return 0;
}

// runner_stop stops what the run started (the mocks, pebble, the event log) ; the result stays.
static void runner_stop(struct mh_runner *r) {
  mh_federation_stop_thread(r->fed);
  mh_federation_free(r->fed);
  r->fed = NULL;
  mh_pebble_stop(r->pebble);
  r->pebble = NULL;
  if (r->loop != NULL) {
    ev_loop_destroy(r->loop);
    r->loop = NULL;
  }
  mh_events_close(&r->events);
}

// observe_targets gives each external target with a completed case its observed profile
// (conform/observed.h), from the |num| cases |cases| the report holds.
static int observe_targets(struct mh_runner *r, const struct mh_case_result *cases, size_t num,
                           struct mh_err *err) {
  for (size_t i = 0; i < r->num_targets; i++) {
    struct mh_run_target *t = &r->targets[i];
    int completed = 0;
    for (size_t j = 0; j < num && !completed; j++) {
      completed = strcmp(cases[j].target, t->name) == 0 && !cases[j].abandoned;
    }
    if (!t->external || !completed) {
      continue;
    }
    struct mh_observed *ob = mh_arena_alloc(r->a, sizeof(*ob));
    if (ob == NULL) {
      return mh_err_set(err, "out of memory");
    }
    mh_observed_build(cases, num, t->name, r->s->name, ob);
    t->observed = ob;
  }
  return 0;
}

// finish_result fills the run's result once its cases are over: the cases reported (with the
// time-left checks), the warnings, the exit code and the changes since the baseline.
static int finish_result(struct mh_runner *r, int jobs, long long started, double t0,
                         struct mh_err *err) {
  const struct mh_run_options *o = r->o;
  struct mh_run_result *res = &r->result;
  size_t num_reported;
  struct mh_case_result *reported = reported_cases(r, &num_reported);
  if (reported == NULL) {
    return mh_err_set(err, "out of memory");
  }
  size_t num_probed = num_reported;
  if (lifetime_cases(r, &reported, &num_reported, err) != 0) {
    return -1;
  }
  *res = (struct mh_run_result){.started_ms = started,
                                .jobs = jobs,
                                .cases = reported,
                                .num_cases = num_reported,
                                .num_planned = r->num_plans,
                                .signo = r->signo,
                                .timed_out = r->timed_out,
                                .lifetimes = &r->lifetimes};
  int failed = 0;
  for (size_t i = 0; i < num_reported; i++) {
    failed += reported[i].fails;
  }
  size_t room = r->lifetimes.num_chains + r->lifetimes.num_identities;
  struct mh_run_warning *warnings =
      mh_arena_alloc_array(r->a, 4 * r->num_targets + 1 + room, sizeof(*warnings));
  if (warnings == NULL) {
    return mh_err_set(err, "out of memory");
  }
  res->warnings = warnings;
  if (observe_targets(r, reported, num_probed, err) != 0) {
    return -1;
  }
  res->targets = r->targets;
  res->num_targets = r->num_targets;
  res->num_warnings = mh_warnings_collect(warnings, reported, num_probed, r->unrun, r->num_unrun);
  res->num_warnings += mh_lifetimes_warnings(&r->lifetimes, warnings + res->num_warnings, room);
  res->exit_code =
      failed || mh_warnings_num_failing(warnings, res->num_warnings, o->strict) > 0 || r->timed_out
          ? 1
          : 0;
  if (r->signo != 0) {
    res->exit_code = mh_interrupt_exit_code(r->signo);
  }
  if (o->baseline != NULL && compare_baseline(r, res, err) != 0) {
    return -1;
  }
  res->duration_ms = mh_clock_now_ms() - t0;
  return 0;
}

// runner_new allocates the state of a run started at |started| (wall clock, ms); NULL when out of
// memory.
static struct mh_runner *runner_new(const struct mh_run_options *o, long long started) {
  struct mh_runner *r = calloc(1, sizeof(*r));
  if (r == NULL) {
    return NULL;
  }
  r->o = o;
  mh_arena_init(&r->arena);
  r->a = &r->arena;
  mh_records_init(&r->records);
  pthread_mutex_init(&r->err_mu, NULL);
  pthread_mutex_init(&r->arena_mu, NULL);
  mh_lifetimes_init(&r->lifetimes, started / 1000, o->has_min_time_left ? o->min_time_left_s : -1);
  return r;
}

int mh_runner_run(const struct mh_scenario *s_in, const struct mh_run_options *o,
                  struct mh_runner **out, struct mh_err *err) {
  long long started = mh_clock_wall_ms();
  double t0 = mh_clock_now_ms();
  struct mh_runner *r = *out = runner_new(o, started);
  if (r == NULL) {
    return mh_err_set(err, "out of memory");
  }
  int ret = -1;
  // The baseline before any case: a bad one is an input error that costs no run.
  if (o->baseline != NULL &&
      mh_baseline_load(r->a, o->baseline, &r->baseline, &r->num_baseline, err) != 0) {
    goto out;
  }
  // The fixtures first: the oracle reads the certificates when it plans the cases.
  struct mh_pki_options popts = {
      .out_dir = s_in->fixtures_dir, .quiet = 1, .cache_dir = o->fixtures_cache};
  if (mh_pki_generate(&s_in->spec, &popts, err) != 0 || mh_pebble_start(s_in, &r->pebble, err) ||
      merge_pins(r, s_in, err) != 0 || plan_cases(r, s_in, err) != 0) {
    goto out;
  }
  if (o->plan_out != NULL) {
    mh_summary_plan(o->plan_out, o, r->targets, r->num_targets);
  }
  if (start_mocks(r, err) != 0) {
    goto out;
  }
  int jobs = mh_cases_run(r, o->jobs, o->timeout_s > 0 ? t0 + o->timeout_s * 1000 : 0, err);
  if (jobs < 0 || finish_result(r, jobs, started, t0, err) != 0) {
    goto out;
  }
  ret = 0;
out:
  runner_stop(r);
  return ret;
}

const struct mh_run_result *mh_runner_result(const struct mh_runner *r) {
  return &r->result;
}

void mh_runner_free(struct mh_runner *r) {
  if (r == NULL) {
    return;
  }
  runner_stop(r);
  for (size_t i = 0; r->results != NULL && i < r->num_plans; i++) {
    mh_capture_packets_free(&r->results[i].packets);
    mh_probe_outcome_release(&r->results[i].outcome);  // the secrets wiped
  }
  free(r->plans);
  mh_records_free(&r->records);
  pthread_mutex_destroy(&r->err_mu);
  pthread_mutex_destroy(&r->arena_mu);
  mh_lifetimes_cleanup(&r->lifetimes);
  mh_arena_free(&r->arena);
  free(r);
}
