// grid: the matrices of report.md and report.html: one per target, identities by TLS versions,
// holding the plain matrix cases; the other cases are listed below them.
#include "report/internal.h"

#include <string.h>

int mh_grid_holds(const struct mh_case_result *c) {
  return c->kind == MH_CASE_MATRIX && c->check == MH_CHECK_NONE;
}

size_t mh_grid_collect(const struct mh_report *r, struct mh_grid *g, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < r->run->num_cases; i++) {
    const struct mh_case_result *c = &r->run->cases[i];
    if (!mh_grid_holds(c)) {
      continue;
    }
    size_t k = 0;
    while (k < n && strcmp(g[k].target, c->target) != 0) {
      k++;
    }
    if (k == n) {
      if (n == max) {
        continue;
      }
      memset(&g[n], 0, sizeof(g[n]));
      g[n++].target = c->target;
    }
    const char *row = c->identity ? c->identity : "none";
    size_t j = 0;
    while (j < g[k].num_rows && strcmp(g[k].rows[j], row) != 0) {
      j++;
    }
    if (j == g[k].num_rows && j < 64) {
      g[k].rows[g[k].num_rows++] = row;
    }
  }
  return n;
}

const struct mh_case_result *mh_grid_cell(const struct mh_report *r, const char *target,
                                          const char *row, int version) {
  for (size_t i = 0; i < r->run->num_cases; i++) {
    const struct mh_case_result *c = &r->run->cases[i];
    if (mh_grid_holds(c) && strcmp(c->target, target) == 0 &&
        strcmp(c->identity ? c->identity : "none", row) == 0 && c->version == version) {
      return c;
    }
  }
  return NULL;
}
