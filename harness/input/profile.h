// profile: stack profiles (profiles/*.json): what a stack does for each rejection reason, read by
// the runner to expect the right alert or HTTP status.
#ifndef MH_INPUT_PROFILE_H
#define MH_INPUT_PROFILE_H

#include <stddef.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/outcomes.h"

// mh_profile maps each rejection reason to what a stack does: an alert set per TLS version, or an
// HTTP status.
struct mh_profile_rule {
  int set;
  int layer;  // enum mh_layer
  int alerts12[8];
  size_t num_alerts12;
  int alerts13[8];
  size_t num_alerts13;
  int status;
};

struct mh_profile {
  const char *name;
  const char *description;
  struct mh_profile_rule rules[MH_REASON_NUM];  // indexed by enum mh_reason
  // The policy rules the stack cannot enforce ("cannot": bit (1 << enum mh_policy_rule)) and why
  // (required with them).
  unsigned cannot;
  const char *cannot_why;
};

// mh_profile_load reads profile |name| from |dir|/<name>.json into |out|, allocating from |a|.
// Returns 0, or -1 with |err| set.
int mh_profile_load(struct mh_arena *a, const char *dir, const char *name, struct mh_profile *out,
                    struct mh_err *err);

// mh_profile_of_location reads the profile location |location| of |scenario_file| names: |ref|,
// a shipped profile's name in |dir|, or, when |file| is set, the profile file at that path (the
// profile is then named |ref| as the scenario wrote it). A name with no file says which exist.
// Returns 0, or -1 with |err| set (naming the scenario, the JSON path and the fix).
int mh_profile_of_location(struct mh_arena *a, const char *dir, const char *scenario_file,
                           const char *location, const char *ref, const char *file,
                           struct mh_profile *out, struct mh_err *err);

// mh_profile_parse is mh_profile_load on |len| bytes of |text| (no NUL needed), profile |name|
// read from |path| (named in messages). Returns 0, or -1 with |err| set; what it allocates lives in
// |a|.
int mh_profile_parse(struct mh_arena *a, const char *name, const char *path, const char *text,
                     size_t len, struct mh_profile *out, struct mh_err *err);

#endif
