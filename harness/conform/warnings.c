// warnings: what a run's greens cannot prove (see warnings.h): no case that expects acceptance,
// targets that rejected every case the same way, and policy rules a target's stack cannot enforce.
#include "conform/warnings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alerts.h"
#include "input/policy.h"
#include "conform/result.h"

static const char *const warning_names[] = {
#define X(e, kw) kw,
    MH_WARNINGS(X)
#undef X
};

const char *mh_warnings_name(enum mh_warning w) {
  return (unsigned)w < MH_WARNING_NUM ? warning_names[w] : "?";
}

// rejection is how a case was rejected, as far as same_rejection compares them.
struct rejection {
  char side;
  enum mh_layer layer;
  int alert;
  int http_status;
};

static struct rejection rejection_of(const struct mh_case_outcome *o) {
  struct rejection j = {.side = o->rejected_by, .layer = o->layer, .http_status = o->http_status};
  j.alert = o->rejected_by == 'c' ? o->tls.alert_sent : o->tls.alert_received;
  return j;
}

static int same_rejection(const struct rejection *a, const struct rejection *b) {
  return a->side == b->side && a->layer == b->layer && a->alert == b->alert &&
         a->http_status == b->http_status;
}

// describe writes "server, tls, alert 40 handshake_failure" (or "..., http, status 400").
static void describe(const struct mh_run_warning *w, char *out, size_t out_len) {
  const char *side = w->side == 'c' ? "client" : "server";
  if (w->layer == MH_LAYER_HTTP) {
    snprintf(out, out_len, "%s, http, status %d", side, w->http_status);
  } else if (w->alert != MH_ALERT_NONE) {
    snprintf(out, out_len, "%s, %s, alert %d %s", side, mh_layer_name(w->layer), w->alert,
             mh_alert_name(w->alert));
  } else {
    snprintf(out, out_len, "%s, %s, no alert", side, mh_layer_name(w->layer));
  }
}

int mh_warnings_fails(const struct mh_run_warning *w, int strict) {
  return strict && !w->informational;
}

size_t mh_warnings_num_failing(const struct mh_run_warning *w, size_t num, int strict) {
  size_t n = 0;
  for (size_t i = 0; i < num; i++) {
    n += (size_t)mh_warnings_fails(&w[i], strict);
  }
  return n;
}

void mh_warnings_cannot_text(char *out, size_t len, const char *target, unsigned rules,
                             const char *profile, const char *why) {
  char keys[300] = "";
  for (int r = 0; r < MH_POLICY_RULE_NUM; r++) {
    if (rules & (1u << r)) {
      size_t n = strlen(keys);
      snprintf(keys + n, sizeof(keys) - n, "%s%s", n ? ", " : "",
               mh_policy_rule_key((enum mh_policy_rule)r));
    }
  }
  snprintf(out, len,
           "target %s: the policy requires %s, which its stack (profile %s) cannot enforce (%s): "
           "unless something behind it checks, expect unexpected-accept",
           target, keys, profile != NULL ? profile : "?", why != NULL ? why : "no reason given");
}

// cannot_warning fills |w| for |target|, whose policy sets the rules |rules| that its stack
// (profile |profile|) cannot enforce, for reason |why|.
static void cannot_warning(struct mh_run_warning *w, const char *target, size_t num_cases,
                           unsigned rules, const char *profile, const char *why) {
  *w = (struct mh_run_warning){.kind = MH_WARNING_CANNOT_ENFORCE,
                               .target = target,
                               .num_cases = num_cases,
                               .rules = rules,
                               .informational = 1};
  mh_warnings_cannot_text(w->message, sizeof(w->message), target, rules, profile, why);
}

// unrun_of returns what --filter left out of |target|'s plan, or NULL for nothing.
static const struct mh_warnings_unrun *unrun_of(const struct mh_warnings_unrun *u, size_t num,
                                                const char *target) {
  for (size_t i = 0; i < num; i++) {
    if (strcmp(u[i].target, target) == 0 && u[i].num > 0) {
      return &u[i];
    }
  }
  return NULL;
}

// same_warning fills |w|: the |n| cases of |target| that ran were all rejected as |first| says;
// with cases of its plan left out (|left_out|), that is not judged, and |w| only says so.
static void same_warning(struct mh_run_warning *w, const char *target, size_t n,
                         const struct rejection *first, const struct mh_warnings_unrun *left_out) {
  *w = (struct mh_run_warning){.kind = MH_WARNING_SAME_REJECTION,
                               .target = target,
                               .num_cases = n,
                               .side = first->side,
                               .layer = first->layer,
                               .alert = first->alert,
                               .http_status = first->http_status,
                               .informational = left_out != NULL};
  char how[128];
  describe(w, how, sizeof(how));
  if (left_out != NULL) {
    snprintf(w->message, sizeof(w->message),
             "target %s rejected the %zu cases that ran the same way (%s); --filter left out %zu "
             "of its cases, so whether it rejects every client is not judged here (run without "
             "--filter to judge it)",
             target, n, how, left_out->num);
    return;
  }
  snprintf(w->message, sizeof(w->message),
           "target %s rejected all %zu cases the same way (%s): a server that rejects every "
           "client looks like this (does it trust the identities' CA?)",
           target, n, how);
}

// probed_again fills |w| when cases of |target| were probed again (--retries), naming them with
// their first outcome, and returns 1; 0 when none was. It informs: the last probe is judged.
static size_t probed_again(struct mh_run_warning *w, const struct mh_case_result *cases,
                           size_t num_cases, const char *target) {
  size_t n = 0, len = 0;
  char list[700] = "";
  for (size_t i = 0; i < num_cases; i++) {
    const struct mh_case_result *c = &cases[i];
    if (strcmp(c->target, target) != 0 || c->attempts < 2) {
      continue;
    }
    if (len + 1 < sizeof(list)) {
      len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s (first: %.120s)", n ? "; " : "",
                              c->id, c->first_attempt);
    }
    n++;
  }
  if (n == 0) {
    return 0;
  }
  *w = (struct mh_run_warning){
      .kind = MH_WARNING_PROBED_AGAIN, .target = target, .num_cases = n, .informational = 1};
  snprintf(w->message, sizeof(w->message),
           "target %s: %zu case%s probed again (--retries) after an outcome a network fault may "
           "have made; the last probe is judged: %s",
           target, n, n == 1 ? " was" : "s were", list);
  return 1;
}

// target_warnings adds the warnings of the cases of |target| to |out| and returns how many; it
// sets |*expects_accept| when one of them (or one of |left_out|, what --filter left out of its
// plan) expects acceptance.
static size_t target_warnings(struct mh_run_warning *out, const struct mh_case_result *cases,
                              size_t num_cases, const char *target,
                              const struct mh_warnings_unrun *left_out, int *expects_accept) {
  size_t n = 0, accepting = 0;
  int same = 1;
  struct rejection first = {0};
  unsigned unenforced = 0;
  const struct mh_expectation *cannot = NULL;
  for (size_t i = 0; i < num_cases; i++) {
    const struct mh_case_result *c = &cases[i];
    if (strcmp(c->target, target) != 0) {
      continue;
    }
    struct rejection j = rejection_of(&c->outcome);
    same =
        same && c->outcome.result == MH_RESULT_REJECTED && (n == 0 || same_rejection(&first, &j));
    first = n == 0 ? j : first;
    accepting += !c->expect.reject;
    unenforced |= c->expect.unenforced;
    cannot = c->expect.unenforced ? &c->expect : cannot;
    n++;
  }
  *expects_accept = accepting > 0 || (left_out != NULL && left_out->expects_accept);
  size_t num = 0;
  if (!*expects_accept) {
    struct mh_run_warning *w = &out[num++];
    *w = (struct mh_run_warning){
        .kind = MH_WARNING_NO_ACCEPT_EXPECTED, .target = target, .num_cases = n};
    snprintf(w->message, sizeof(w->message),
             "no case of target %s expects acceptance: this run cannot tell a server that rejects "
             "everything from a correct one (add an identity the policy admits)",
             target);
  }
  if (same && n >= 2) {
    same_warning(&out[num++], target, n, &first, left_out);
  }
  if (unenforced != 0) {
    cannot_warning(&out[num++], target, n, unenforced, cannot->profile, cannot->cannot_why);
  }
  num += probed_again(&out[num], cases, num_cases, target);
  return num;
}

size_t mh_warnings_collect(struct mh_run_warning *out, const struct mh_case_result *cases,
                           size_t num_cases, const struct mh_warnings_unrun *unrun,
                           size_t num_unrun) {
  size_t num = 0, num_targets = 0, accepting_targets = 0;
  // Each target once: against the targets seen so far, not every earlier case (a 100,000-case
  // matrix made that 5e9 comparisons). A target's cases share its name's pointer, mostly.
  // Out of memory for that list: against every earlier case, slowly but with the same warnings.
  const char **seen = malloc((num_cases + 1) * sizeof(*seen));
  for (size_t i = 0; i < num_cases; i++) {
    int known = 0;
    for (size_t j = seen != NULL ? num_targets : i; j > 0 && !known; j--) {
      const char *t = seen != NULL ? seen[j - 1] : cases[j - 1].target;
      known = t == cases[i].target || strcmp(t, cases[i].target) == 0;
    }
    if (known) {
      continue;
    }
    if (seen != NULL) {
      seen[num_targets] = cases[i].target;
    }
    int expects_accept;
    num += target_warnings(out + num, cases, num_cases, cases[i].target,
                           unrun_of(unrun, num_unrun, cases[i].target), &expects_accept);
    accepting_targets += expects_accept;
    num_targets++;
  }
  free(seen);
  for (size_t i = 0; i < num_unrun; i++) {
    accepting_targets += unrun[i].expects_accept;  // a target of the plan, run or not
  }
  if (num_targets > 0 && accepting_targets == 0) {
    // One line for the run instead of one per target: drop the targets' own.
    size_t kept = 0;
    for (size_t i = 0; i < num; i++) {
      if (out[i].kind != MH_WARNING_NO_ACCEPT_EXPECTED) {
        out[kept++] = out[i];
      }
    }
    memmove(out + 1, out, kept * sizeof(*out));
    out[0] = (struct mh_run_warning){.kind = MH_WARNING_NO_ACCEPT_EXPECTED, .num_cases = num_cases};
    snprintf(out[0].message, sizeof(out[0].message),
             "no case expects acceptance: this run cannot tell a server that rejects everything "
             "from a correct one (add an identity the policy admits)");
    num = kept + 1;
  }
  return num;
}
