// tls_version: the names of the TLS versions, generated from the table in tls_version.h.
#include "base/tls_version.h"

#include <stddef.h>
#include <string.h>

struct row {
  int v;
  const char *keyword, *tag, *name;
  int written;
};

static const struct row rows[] = {
#define X(v, kw, tag, name, written) {v, kw, tag, name, written},
    MH_TLS_VERSIONS(X)
#undef X
};

static const struct row *find(int v) {
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    if (rows[i].v == v) {
      return &rows[i];
    }
  }
  return NULL;
}

const char *mh_tls_version_keyword(int v) {
  const struct row *r = find(v);
  return r != NULL && r->written ? r->keyword : "";
}

const char *mh_tls_version_tag(int v) {
  const struct row *r = find(v);
  return r != NULL ? r->tag : "";
}

const char *mh_tls_version_name(int v) {
  const struct row *r = find(v);
  return r != NULL ? r->name : "-";
}

int mh_tls_version_parse(const char *keyword) {
  for (size_t i = 0; keyword != NULL && i < sizeof(rows) / sizeof(rows[0]); i++) {
    if (rows[i].written && strcmp(rows[i].keyword, keyword) == 0) {
      return rows[i].v;
    }
  }
  return 0;
}
