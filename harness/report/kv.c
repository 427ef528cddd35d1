// kv: the members of the reports' JSON written in one call, a key and its value, on the harness's
// one JSON writer (base/jsonw.h).
#include "report/internal.h"

#include "base/alerts.h"
#include "base/jsonw.h"

void mh_kv_str(struct mh_jsonw *w, const char *key, const char *value) {
  mh_jsonw_key(w, key);
  mh_jsonw_string(w, value);
}

void mh_kv_int(struct mh_jsonw *w, const char *key, long long value) {
  mh_jsonw_key(w, key);
  mh_jsonw_int(w, value);
}

void mh_kv_uint(struct mh_jsonw *w, const char *key, unsigned long long value) {
  mh_jsonw_key(w, key);
  mh_jsonw_uint(w, value);
}

void mh_kv_double(struct mh_jsonw *w, const char *key, double value, int decimals) {
  mh_jsonw_key(w, key);
  mh_jsonw_double(w, value, decimals);
}

void mh_kv_bool(struct mh_jsonw *w, const char *key, int value) {
  mh_jsonw_key(w, key);
  mh_jsonw_bool(w, value);
}

void mh_kv_alert(struct mh_jsonw *w, const char *key, int code) {
  mh_jsonw_key(w, key);
  if (code == MH_ALERT_NONE) {
    mh_jsonw_null(w);
    return;
  }
  mh_jsonw_object_begin(w);
  mh_kv_int(w, "code", code);
  mh_kv_str(w, "name", mh_alert_name(code));
  mh_jsonw_object_end(w);
}
