// profile: the parser of stack profiles (profiles/*.json, docs/runner.md): what a stack does for
// each rejection reason, as alerts per TLS version or an HTTP status.
#include "input/profile.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/outcomes.h"
#include "input/json.h"
#include "input/policy.h"
#include "base/tls_version.h"

static int parse_alert_list(struct mh_json_ctx *c, const cJSON *v, int *out, size_t *out_num) {
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > 8) {
    return mh_json_fail(c, "expected a list of up to 8 alert codes");
  }
  const cJSON *it;
  *out_num = 0;
  cJSON_ArrayForEach(it, v) {
    int64_t code;
    size_t o = mh_json_push_index(c, *out_num);
    if (mh_json_get_int(c, it, 0, 255, &code) != 0) {
      return -1;
    }
    out[(*out_num)++] = (int)code;
    mh_json_pop(c, o);
  }
  return 0;
}

static int parse_profile_rule(struct mh_json_ctx *c, const cJSON *r, struct mh_profile_rule *out) {
  if (!cJSON_IsObject(r)) {
    return mh_json_fail(c,
                        "expected {\"layer\": \"tls\", \"alerts\": [...]} or {\"layer\": \"http\", "
                        "\"status\": N}");
  }
  const cJSON *layer = cJSON_GetObjectItemCaseSensitive(r, "layer");
  if (!cJSON_IsString(layer) ||
      (strcmp(layer->valuestring, "tls") != 0 && strcmp(layer->valuestring, "http") != 0)) {
    mh_json_push_key(c, "layer");
    return mh_json_fail(c, "\"tls\" or \"http\" is required");
  }
  out->set = 1;
  out->layer = strcmp(layer->valuestring, "tls") == 0 ? MH_LAYER_TLS : MH_LAYER_HTTP;
  if (out->layer == MH_LAYER_HTTP) {
    int64_t st;
    size_t o = mh_json_push_key(c, "status");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "status");
    if (v == NULL || mh_json_get_int(c, v, 100, 599, &st) != 0) {
      return v == NULL ? mh_json_fail(c, "required for the http layer") : -1;
    }
    out->status = (int)st;
    mh_json_pop(c, o);
    return 0;
  }
  size_t o = mh_json_push_key(c, "alerts");
  const cJSON *al = cJSON_GetObjectItemCaseSensitive(r, "alerts");
  if (cJSON_IsArray(al)) {
    if (parse_alert_list(c, al, out->alerts12, &out->num_alerts12) != 0) {
      return -1;
    }
    memcpy(out->alerts13, out->alerts12, sizeof(out->alerts12));
    out->num_alerts13 = out->num_alerts12;
  } else if (cJSON_IsObject(al)) {
    const char *k12 = mh_tls_version_keyword(MH_TLS12), *k13 = mh_tls_version_keyword(MH_TLS13);
    const cJSON *v12 = cJSON_GetObjectItemCaseSensitive(al, k12);
    const cJSON *v13 = cJSON_GetObjectItemCaseSensitive(al, k13);
    if (v12 == NULL || v13 == NULL) {
      return mh_json_fail(c, "give alerts for both \"1.2\" and \"1.3\"");
    }
    size_t o2 = mh_json_push_key(c, k12);
    if (parse_alert_list(c, v12, out->alerts12, &out->num_alerts12) != 0) {
      return -1;
    }
    mh_json_pop(c, o2);
    o2 = mh_json_push_key(c, k13);
    if (parse_alert_list(c, v13, out->alerts13, &out->num_alerts13) != 0) {
      return -1;
    }
    mh_json_pop(c, o2);
  } else {
    return mh_json_fail(c, "expected a list of alert codes, or {\"1.2\": [...], \"1.3\": [...]}");
  }
  mh_json_pop(c, o);
  return 0;
}

// parse_cannot reads "cannot" (policy keys the stack cannot enforce) and "why" of |root|.
static int parse_cannot(struct mh_json_ctx *c, const cJSON *root, struct mh_profile *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "cannot");
  const cJSON *why = cJSON_GetObjectItemCaseSensitive(root, "why");
  if (v == NULL) {
    if (why != NULL) {
      mh_json_push_key(c, "why");
      return mh_json_fail(c, "\"why\" explains \"cannot\" (add \"cannot\", or remove this)");
    }
    return 0;
  }
  size_t o = mh_json_push_key(c, "cannot");
  const char **keys;
  size_t num;
  if (mh_json_get_string_array(c, v, &keys, &num) != 0) {
    return -1;
  }
  for (size_t i = 0; i < num; i++) {
    int r = mh_policy_rule_from_key(keys[i]);
    if (r < 0) {
      const char *names[MH_POLICY_RULE_NUM];
      for (int k = 0; k < MH_POLICY_RULE_NUM; k++) {
        names[k] = mh_policy_rule_key((enum mh_policy_rule)k);
      }
      char known[512];
      mh_json_join_names(known, sizeof(known), names, MH_POLICY_RULE_NUM);
      mh_json_push_index(c, i);
      return mh_json_fail(c, "\"%s\" is not a policy key (use one of: %s)", keys[i], known);
    }
    out->cannot |= 1u << r;
  }
  mh_json_pop(c, o);
  o = mh_json_push_key(c, "why");
  if (why == NULL || !cJSON_IsString(why) || why->valuestring[0] == '\0') {
    return mh_json_fail(c,
                        "required with \"cannot\": a string saying why the stack cannot enforce "
                        "these rules (the report shows it)");
  }
  out->cannot_why = mh_arena_strdup(c->a, why->valuestring);
  mh_json_pop(c, o);
  return out->cannot_why != NULL ? 0 : mh_json_fail(c, "out of memory");
}

int mh_profile_parse(struct mh_arena *a, const char *name, const char *path, const char *text,
                     size_t len, struct mh_profile *out, struct mh_err *err) {
  memset(out, 0, sizeof(*out));
  struct mh_json_ctx c;
  mh_json_ctx_init(&c, a, path, err);
  int ret = -1;
  cJSON *root = mh_json_parse(&c, text, len);
  if (root == NULL) {
    goto out;
  }
  out->name = mh_arena_strdup(a, name);
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "description");
  out->description = cJSON_IsString(d) ? mh_arena_strdup(a, d->valuestring) : "";
  if (parse_cannot(&c, root, out) != 0) {
    goto out;
  }
  const cJSON *reasons = cJSON_GetObjectItemCaseSensitive(root, "reasons");
  size_t o = mh_json_push_key(&c, "reasons");
  if (!cJSON_IsObject(reasons)) {
    mh_json_fail(&c, "expected an object: reason -> rule");
    goto out;
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, reasons) {
    size_t o2 = mh_json_push_key(&c, it->string);
    int r = mh_reason_from_name(it->string);
    if (r <= 0 || mh_reason_side((enum mh_reason)r) != 's') {
      mh_json_fail(&c, "not a server-side rejection reason (see docs/runner.md)");
      goto out;
    }
    if (parse_profile_rule(&c, it, &out->rules[r]) != 0) {
      goto out;
    }
    mh_json_pop(&c, o2);
  }
  mh_json_pop(&c, o);
  ret = 0;
out:
  cJSON_Delete(root);
  return ret;
}

int mh_profile_load(struct mh_arena *a, const char *dir, const char *name, struct mh_profile *out,
                    struct mh_err *err) {
  memset(out, 0, sizeof(*out));
  char *path = mh_arena_sprintf(a, "%s/%s.json", dir, name);
  if (path == NULL) {
    return mh_err_set(err, "out of memory");
  }
  size_t len;
  char *buf;
  if (mh_json_read_file(path, "profile", &buf, &len, err) != 0) {
    if (access(path, F_OK) != 0) {
      mh_err_set(err, "%s: no such profile \"%s\" (profiles are data files in %s)", path, name,
                 dir);
    }
    return -1;
  }
  int ret = mh_profile_parse(a, name, path, buf, len, out, err);
  free(buf);
  return ret;
}

// shipped_names writes the profiles in |dir| (the names of its *.json files, sorted) into |out|.
static void shipped_names(const char *dir, char *out, size_t len) {
  char names[64][64];
  size_t n = 0;
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d != NULL && n < 64 && (e = readdir(d)) != NULL) {
    size_t l = strlen(e->d_name);
    if (l > 5 && l - 5 < sizeof(names[0]) && strcmp(e->d_name + l - 5, ".json") == 0) {
      snprintf(names[n++], sizeof(names[0]), "%.*s", (int)(l - 5), e->d_name);
    }
  }
  if (d != NULL) {
    closedir(d);
  }
  qsort(names, n, sizeof(names[0]), (int (*)(const void *, const void *))strcmp);
  out[0] = '\0';
  for (size_t i = 0, used = 0; i < n && used < len; i++) {
    used += (size_t)snprintf(out + used, len - used, "%s%s", i ? ", " : "", names[i]);
  }
}

int mh_profile_of_location(struct mh_arena *a, const char *dir, const char *scenario_file,
                           const char *location, const char *ref, const char *file,
                           struct mh_profile *out, struct mh_err *err) {
  char *path = file != NULL ? (char *)file : mh_arena_sprintf(a, "%s/%s.json", dir, ref);
  if (path == NULL) {
    return mh_err_set(err, "out of memory");
  }
  if (access(path, F_OK) != 0) {
    if (file != NULL) {
      return mh_err_set(err,
                        "%s: $.locations.%s.profile: no profile file %s (give a path relative "
                        "to the scenario, or a shipped profile's name)",
                        scenario_file, location, path);
    }
    char known[1024];
    shipped_names(dir, known, sizeof(known));
    return mh_err_set(err,
                      "%s: $.locations.%s.profile: no such profile \"%s\" in %s (use one of: %s; "
                      "or a profile file's path, or leave it out to judge admission only)",
                      scenario_file, location, ref, dir, known);
  }
  size_t len;
  char *buf;
  if (mh_json_read_file(path, "profile", &buf, &len, err) != 0) {
    return -1;
  }
  int ret = mh_profile_parse(a, ref, path, buf, len, out, err);
  free(buf);
  return ret;
}
