// baseline: the cases of an earlier report.json, which `run --baseline` compares against.
#ifndef MH_INPUT_BASELINE_H
#define MH_INPUT_BASELINE_H

#include <stddef.h>

#include "base/arena.h"
#include "base/err.h"

// mh_baseline_entry is one case of an earlier report.json.
struct mh_baseline_entry {
  const char *id;
  const char *verdict;
  const char *outcome;  // the report's one-line outcome summary
};

// mh_baseline_load reads the cases of the report.json at |path| into an array allocated from |a|
// (|*out|, |*out_num| entries). Returns 0 or -1 with |err| set.
int mh_baseline_load(struct mh_arena *a, const char *path, struct mh_baseline_entry **out,
                     size_t *out_num, struct mh_err *err);

// mh_baseline_parse is mh_baseline_load on |len| bytes of |buf| (no NUL needed), named |path| in
// messages. Returns 0 or -1 with |err| set; the entries live in |a|.
int mh_baseline_parse(struct mh_arena *a, const char *path, const char *buf, size_t len,
                      struct mh_baseline_entry **out, size_t *out_num, struct mh_err *err);

#endif
