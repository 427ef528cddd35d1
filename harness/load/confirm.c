// confirm: a load run's confirmation at HTTP (see confirm.h): the request built once from the
// profile, and the status line that decides.
#include "load/confirm.h"

#include <string.h>

int mh_confirm_from_profile(struct mh_load_options *o, struct mh_arena *a,
                            const struct mh_profile *profile, const char *host, int port,
                            const char *path, struct mh_err *err) {
  o->http_request = NULL;
  o->http_request_len = 0;
  o->num_reject_statuses = 0;
  for (size_t i = 0; profile != NULL && i < sizeof(profile->rules) / sizeof(profile->rules[0]);
       i++) {
    const struct mh_profile_rule *rule = &profile->rules[i];
    if (!rule->set || rule->layer != MH_LAYER_HTTP || rule->status < 400 ||
        mh_confirm_rejects(o, rule->status) || o->num_reject_statuses == MH_LOAD_MAX_STATUSES) {
      continue;
    }
    o->reject_statuses[o->num_reject_statuses++] = rule->status;
  }
  if (o->num_reject_statuses == 0) {
    return 0;
  }
  // Built once for every connection (the engine allocates nothing per connection). Connection:
  // close, so that the server ends the exchange as soon as it has answered.
  char *req = mh_arena_sprintf(a,
                               "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: mtls-harness-load\r\n"
                               "Connection: close\r\n\r\n",
                               path != NULL && path[0] == '/' ? path : "/", host, port);
  if (req == NULL) {
    return mh_err_set(err, "out of memory");
  }
  o->http_request = req;
  o->http_request_len = strlen(req);
  return 0;
}

int mh_confirm_status(const char *head, size_t len, int *out_status) {
  static const char prefix[] = "HTTP/1.";
  // "HTTP/1.1 400": the version, a space and three digits decide; the reason phrase does not.
  for (size_t i = 0; i < len && i < sizeof(prefix) - 1; i++) {
    if (head[i] != prefix[i]) {
      return -1;
    }
  }
  if (len < 12) {
    return 0;
  }
  if ((head[7] != '0' && head[7] != '1') || head[8] != ' ') {
    return -1;
  }
  int status = 0;
  for (size_t i = 9; i < 12; i++) {
    if (head[i] < '0' || head[i] > '9') {
      return -1;
    }
    status = status * 10 + (head[i] - '0');
  }
  if (status < 100 || status > 599) {
    return -1;
  }
  *out_status = status;
  return 1;
}

int mh_confirm_rejects(const struct mh_load_options *o, int status) {
  for (size_t i = 0; i < o->num_reject_statuses; i++) {
    if (o->reject_statuses[i] == status) {
      return 1;
    }
  }
  return 0;
}
