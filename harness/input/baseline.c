// baseline: the parser of an earlier report.json, for --baseline: each case's id, verdict and
// outcome summary, so that a run can list what changed.
#include "input/baseline.h"

#include <stdlib.h>
#include <string.h>

#include "input/json.h"

int mh_baseline_parse(struct mh_arena *a, const char *path, const char *buf, size_t len,
                      struct mh_baseline_entry **out, size_t *out_num, struct mh_err *err) {
  struct mh_json_ctx c;
  mh_json_ctx_init(&c, a, path, err);
  int ret = -1;
  cJSON *root = mh_json_parse(&c, buf, len);
  if (root == NULL) {
    goto out;
  }
  const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
  const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
  if (!cJSON_IsString(schema) || strncmp(schema->valuestring, "mtls-harness/report/", 20) != 0 ||
      !cJSON_IsArray(cases)) {
    mh_json_fail(&c, "not an mtls-harness report.json (no \"schema\" and \"cases\")");
    goto out;
  }
  size_t n = (size_t)cJSON_GetArraySize(cases);
  *out = mh_arena_alloc_array(a, n + 1, sizeof(**out));
  *out_num = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, cases) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
    const cJSON *verdict = cJSON_GetObjectItemCaseSensitive(it, "verdict");
    const cJSON *summary = cJSON_GetObjectItemCaseSensitive(it, "summary");
    if (!cJSON_IsString(id) || !cJSON_IsString(verdict) || !cJSON_IsString(summary)) {
      size_t o = mh_json_push_key(&c, "cases");
      mh_json_push_index(&c, *out_num);
      mh_json_fail(&c, "a case needs \"id\", \"verdict\" and \"summary\"");
      (void)o;
      goto out;
    }
    struct mh_baseline_entry *e = &(*out)[(*out_num)++];
    e->id = mh_arena_strdup(a, id->valuestring);
    e->verdict = mh_arena_strdup(a, verdict->valuestring);
    e->outcome = mh_arena_strdup(a, summary->valuestring);
  }
  ret = 0;
out:
  cJSON_Delete(root);
  return ret;
}

int mh_baseline_load(struct mh_arena *a, const char *path, struct mh_baseline_entry **out,
                     size_t *out_num, struct mh_err *err) {
  size_t len;
  char *buf;
  if (mh_json_read_file(path, "baseline report", &buf, &len, err) != 0) {
    return -1;
  }
  int ret = mh_baseline_parse(a, path, buf, len, out, out_num, err);
  free(buf);
  return ret;
}
