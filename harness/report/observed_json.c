// observed_json: a target's observed profile as a file of profiles/*.json's form
// (<out>/profiles/<target>.json), which a location's "profile" may name to pin it.
#include "report/internal.h"

#include <stdio.h>
#include <string.h>

#include "base/jsonw.h"
#include "conform/observed.h"

static void alert_list(struct mh_jsonw *w, const int *alerts, size_t num) {
  mh_jsonw_array_begin(w);
  for (size_t i = 0; i < num; i++) {
    mh_jsonw_int(w, alerts[i]);
  }
  mh_jsonw_array_end(w);
}

// json_rule writes one reason's rule: {"layer": "http", "status": N}, or {"layer": "tls",
// "alerts": [...]} with one list for both versions when they agree, else one per version.
static void json_rule(struct mh_jsonw *w, const struct mh_profile_rule *rule) {
  mh_jsonw_object_begin(w);
  if (rule->layer == MH_LAYER_HTTP) {
    mh_kv_str(w, "layer", "http");
    mh_kv_int(w, "status", rule->status);
    mh_jsonw_object_end(w);
    return;
  }
  mh_kv_str(w, "layer", "tls");
  mh_jsonw_key(w, "alerts");
  int same = rule->num_alerts12 == rule->num_alerts13 &&
             memcmp(rule->alerts12, rule->alerts13, rule->num_alerts12 * sizeof(int)) == 0;
  if (same) {
    alert_list(w, rule->alerts12, rule->num_alerts12);
  } else {
    mh_jsonw_object_begin(w);
    mh_jsonw_key(w, "1.2");
    alert_list(w, rule->alerts12, rule->num_alerts12);
    mh_jsonw_key(w, "1.3");
    alert_list(w, rule->alerts13, rule->num_alerts13);
    mh_jsonw_object_end(w);
  }
  mh_jsonw_object_end(w);
}

void mh_observed_json_write(FILE *f, const struct mh_observed *ob) {
  struct mh_jsonw w;
  mh_jsonw_init_file(&w, f);
  mh_jsonw_object_begin(&w);
  mh_jsonw_newline(&w);
  mh_kv_str(&w, "name", ob->profile.name);
  mh_jsonw_newline(&w);
  mh_kv_str(&w, "description", ob->profile.description);
  mh_jsonw_newline(&w);
  mh_jsonw_key(&w, "reasons");
  mh_jsonw_object_begin(&w);
  for (int r = 0; r < MH_REASON_NUM; r++) {
    if (ob->profile.rules[r].set) {
      mh_jsonw_newline(&w);
      mh_jsonw_key(&w, mh_reason_name((enum mh_reason)r));
      json_rule(&w, &ob->profile.rules[r]);
    }
  }
  mh_jsonw_object_end(&w);
  mh_jsonw_newline(&w);
  mh_jsonw_object_end(&w);
  mh_jsonw_newline(&w);
  mh_jsonw_finish(&w);
  mh_jsonw_cleanup(&w);
}
