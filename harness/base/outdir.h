// outdir: a command's output directory: refused when it holds anything, emptied with --force,
// and emptied (or removed) again when the command fails, never following a symbolic link.
//
// A run writes everything it makes below one directory (reports, fixtures with private keys, the
// event log). Starting from an empty directory is what makes "remove what the command created"
// safe: after mh_outdir_prepare, everything below the directory is the command's own, but for one
// subdirectory the user may provide beforehand (|keep|: "fixtures", a CA kept from run to run, as
// `pki` keeps one), which is never counted, emptied nor removed.
#ifndef MH_OUTDIR_H
#define MH_OUTDIR_H

#include "base/arena.h"
#include "base/err.h"

struct mh_outdir {
  const char *path;
  const char *keep;  // the subdirectory the user may provide ("fixtures")
  int created;       // mh_outdir_prepare made the directory (it did not exist)
  int kept;          // |keep| existed before the command: the user's, left alone
  int lock_fd;       // holds the directory's flock for the command's life (-1: none)
};

// mh_outdir_prepare makes |path| the command's empty output directory: created (with its parents)
// when missing; refused when it is not a directory, or holds anything but a |keep| directory and
// |force| is 0 (the error names --force, for |command|); emptied but for |keep| when |force| is 1
// (symbolic links removed as links, never followed). The directory is locked first, until the
// process ends: another command given the same directory is refused, naming this one's pid and
// command line. Returns 0, or -1 with |err| set and |d->path| NULL (nothing of the directory is
// the command's: mh_outdir_discard and mh_outdir_remove_tree leave it alone).
int mh_outdir_prepare(struct mh_outdir *d, const char *command, const char *path, const char *keep,
                      int force, struct mh_err *err);

// mh_outdir_remove_tree removes |path| (relative to |d|'s directory, or "" for all of its
// contents) and everything below it, without following symbolic links; never the |keep| directory
// that existed before. A missing |path| is not an error. Returns 0, or -1 with |err| set.
int mh_outdir_remove_tree(const struct mh_outdir *d, const char *path, struct mh_err *err);

// mh_outdir_default returns the default output directory of a command, reports/<|name|>-<UTC
// timestamp> (e.g. reports/federation-20261130T120000Z), allocated from |a|; NULL if out of
// memory.
const char *mh_outdir_default(struct mh_arena *a, const char *name);

// mh_outdir_discard undoes a failed command: it empties the directory (but for a |keep| directory
// that existed before) and removes it if mh_outdir_prepare created it (a directory the user gave
// stays). Best effort; NULL path accepted.
void mh_outdir_discard(const struct mh_outdir *d);

#endif
