// stage: output files that appear all at once or not at all.
//
// A generator writes each output to a temporary name beside its final path; mh_stage_commit renames
// them all into place. If anything fails before the commit, mh_stage_cleanup removes the temporary
// files and every directory the stage created, so a failed run leaves nothing half-written.
#ifndef MH_STAGE_H
#define MH_STAGE_H

#include <stddef.h>
#include <sys/types.h>

#include "base/err.h"

struct mh_stage_file {
  char *final_path;
  char *tmp_path;
};

struct mh_stage {
  char *dir;
  struct mh_stage_file *files;
  size_t num_files;
  size_t cap_files;
  char **made_dirs;  // directories created by this stage, parents first
  size_t num_dirs;
  size_t cap_dirs;
  int committed;
};

// mh_stage_init prepares |st| to write below |dir| (created on first write if missing). Returns 0,
// or -1 with |err| set. The caller must call mh_stage_cleanup in every case.
int mh_stage_init(struct mh_stage *st, const char *dir, struct mh_err *err);

// mh_stage_write stages |len| bytes of |data| as |rel| (a path relative to the stage directory)
// with permissions exactly |mode|. Returns 0 or -1 with |err| set.
int mh_stage_write(struct mh_stage *st, const char *rel, const void *data, size_t len, mode_t mode,
                   struct mh_err *err);

// mh_stage_reserve stages |rel| for a writer that needs a path (e.g. a zip library): it creates an
// empty temporary file with permissions |mode| and sets |*out_tmp_path| to its name, owned by |st|.
// The caller must truncate and write that file, not replace it. Returns 0 or -1 with |err| set.
int mh_stage_reserve(struct mh_stage *st, const char *rel, mode_t mode, const char **out_tmp_path,
                     struct mh_err *err);

// mh_stage_commit renames every staged file into place. Returns 0 or -1 with |err| set.
int mh_stage_commit(struct mh_stage *st, struct mh_err *err);

// mh_stage_mkdirs creates |dir| and its missing parents (mode 0755). Returns 0 or -1 with |err|
// set.
int mh_stage_mkdirs(const char *dir, struct mh_err *err);

// mh_stage_cleanup frees |st|; if it was not committed, it first removes its temporary files and
// the directories it created. NULL is accepted.
void mh_stage_cleanup(struct mh_stage *st);

#endif
