// observed: the profile a target's answers imply (see observed.h).
#include "conform/observed.h"

#include <stdio.h>
#include <string.h>

#include "base/alerts.h"
#include "base/tls_version.h"

// seen is what the refusals of one reason showed, while they are gathered.
struct seen {
  size_t num;           // refusals
  int layers;           // bit (1 << enum mh_layer) of each refusal's layer
  int statuses[4];      // distinct HTTP statuses (the first four)
  size_t num_statuses;  // may exceed 4: then more than four were seen
  int alerts[2][8];     // per version (0: 1.2, 1: 1.3), distinct alerts
  size_t num_alerts[2];
  int silent[2];     // a refusal at TLS without an alert, or more alerts than the list holds
  int exercised[2];  // a refusal at TLS in this version
};

// counts reports whether case |c| shows how its server refuses what the policy refuses: an
// attributable refusal by the server, of a case whose expectation names the reason.
static int counts(const struct mh_case_result *c) {
  return c->kind != MH_CASE_CERTIFICATE && c->expect.reject && c->expect.side == 's' &&
         c->expect.reason != MH_REASON_NONE && c->outcome.result == MH_RESULT_REJECTED &&
         c->outcome.rejected_by == 's' &&
         (c->verdict == MH_VERDICT_PASS || c->verdict == MH_VERDICT_PASS_CONCEPTUAL);
}

static void add_int(int *list, size_t cap, size_t *num, int v) {
  for (size_t i = 0; i < *num && i < cap; i++) {
    if (list[i] == v) {
      return;
    }
  }
  if (*num < cap) {
    list[*num] = v;
  }
  (*num)++;
}

static void add_case(struct seen *s, const struct mh_case_result *c) {
  const struct mh_case_outcome *o = &c->outcome;
  s->num++;
  s->layers |= 1 << o->layer;
  if (o->layer == MH_LAYER_HTTP) {
    add_int(s->statuses, 4, &s->num_statuses, o->http_status);
    return;
  }
  int v = c->version >= MH_TLS13 ? 1 : 0;
  s->exercised[v] = 1;
  if (o->tls.alert_received == MH_ALERT_NONE) {
    s->silent[v] = 1;
    return;
  }
  add_int(s->alerts[v], 8, &s->num_alerts[v], o->tls.alert_received);
  s->silent[v] |= s->num_alerts[v] > 8;
}

// conflict writes why the reason's refusals make no rule into |out| (NULL: they make one).
static const char *conflict(const struct seen *s, char *out, size_t len) {
  if (s->layers != (1 << MH_LAYER_HTTP) && s->layers != (1 << MH_LAYER_TLS)) {
    snprintf(out, len, "refused at TLS and at HTTP");
    return out;
  }
  if (s->layers == (1 << MH_LAYER_HTTP) && s->num_statuses > 1) {
    size_t n = (size_t)snprintf(out, len, "HTTP");
    for (size_t i = 0; i < s->num_statuses && i < 4 && n < len; i++) {
      n += (size_t)snprintf(out + n, len - n, "%s %d", i ? " and" : "", s->statuses[i]);
    }
    return out;
  }
  return NULL;
}

static void write_rule(const struct seen *s, struct mh_profile_rule *rule) {
  *rule = (struct mh_profile_rule){.set = 1};
  if (s->layers == (1 << MH_LAYER_HTTP)) {
    rule->layer = MH_LAYER_HTTP;
    rule->status = s->statuses[0];
    return;
  }
  rule->layer = MH_LAYER_TLS;
  if (s->exercised[0] && !s->silent[0]) {
    memcpy(rule->alerts12, s->alerts[0], s->num_alerts[0] * sizeof(int));
    rule->num_alerts12 = s->num_alerts[0];
  }
  if (s->exercised[1] && !s->silent[1]) {
    memcpy(rule->alerts13, s->alerts[1], s->num_alerts[1] * sizeof(int));
    rule->num_alerts13 = s->num_alerts[1];
  }
}

void mh_observed_build(const struct mh_case_result *cases, size_t num_cases, const char *target,
                       const char *scenario_name, struct mh_observed *out) {
  memset(out, 0, sizeof(*out));
  out->target = target;
  struct seen seen[MH_REASON_NUM];
  memset(seen, 0, sizeof(seen));
  for (size_t i = 0; i < num_cases; i++) {
    const struct mh_case_result *c = &cases[i];
    if (strcmp(c->target, target) == 0 && counts(c) && (unsigned)c->expect.reason < MH_REASON_NUM) {
      add_case(&seen[c->expect.reason], c);
      out->num_cases++;
    }
  }
  size_t n = 0;
  for (int r = 0; r < MH_REASON_NUM; r++) {
    if (seen[r].num == 0) {
      continue;
    }
    char why[96];
    if (conflict(&seen[r], why, sizeof(why)) != NULL) {
      n += (size_t)snprintf(out->left_out + n,
                            n < sizeof(out->left_out) ? sizeof(out->left_out) - n : 0, "%s%s: %s",
                            n ? "; " : "", mh_reason_name((enum mh_reason)r), why);
      continue;
    }
    write_rule(&seen[r], &out->profile.rules[r]);
    out->num_reasons++;
  }
  if (n >= sizeof(out->left_out)) {
    out->left_out[sizeof(out->left_out) - 1] = '\0';
  }
  out->profile.name = target;
  int len = snprintf(
      out->description, sizeof(out->description),
      "Observed by mtls-harness from target %s in run \"%s\": %zu refusals the policy expects, "
      "%zu reasons. A TLS version with no alerts listed refused without an alert or was not "
      "exercised (any refusal at TLS matches). Reasons the matrix did not exercise are left "
      "out%s%s.",
      target, scenario_name != NULL ? scenario_name : "", out->num_cases, out->num_reasons,
      out->left_out[0] ? "; so are those refused in more than one way: " : "", out->left_out);
  if (len < 0 || (size_t)len >= sizeof(out->description)) {
    // Cut at the last whole reason rather than mid-word.
    char *cut = strrchr(out->description, ';');
    if (cut != NULL) {
      snprintf(cut, sizeof(out->description) - (size_t)(cut - out->description), "; ...");
    }
  }
  out->profile.description = out->description;
}
