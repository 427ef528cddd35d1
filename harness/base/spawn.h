// spawn: child processes the harness drives (the ACME client, the ACME test server): started with
// fork and exec, never through a shell, stdin from /dev/null, stdout and stderr to a log file,
// always bounded in time, and killed by the kernel when the thread that started them ends (a
// `kill -9` of the harness included: PR_SET_PDEATHSIG).
#ifndef MH_BASE_SPAWN_H
#define MH_BASE_SPAWN_H

#include <sys/types.h>

#include "base/err.h"

// mh_spawn_start starts |argv| (argv[0] looked up in PATH) with the environment of this process
// plus the NAME=VALUE strings of |env_add| (NULL-terminated, or NULL), its output appended to
// |log_path| (created 0600). Returns the child's pid, or -1 with |err| set (a missing program is
// named with the Debian package that ships it, |package|). The caller ends the child with
// mh_spawn_stop, or looks at it with mh_spawn_poll.
pid_t mh_spawn_start(const char *const *argv, const char *const *env_add, const char *log_path,
                     const char *package, struct mh_err *err);

// mh_spawn_poll returns |pid|'s exit status (0-255, or 128 + the signal that ended it) if it has
// exited (reaping it), or -1 if it is still running.
int mh_spawn_poll(pid_t pid);

// mh_spawn_stop asks |pid| to stop (SIGTERM), waits up to |grace_s| seconds, then kills it
// (SIGKILL), and reaps it. A pid <= 0 is ignored.
void mh_spawn_stop(pid_t pid, double grace_s);

#endif
