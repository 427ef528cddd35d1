// spawn: bounded child processes (see spawn.h): posix_spawnp with no shell, output to a log file,
// a deadline after which the child is killed.
#include "base/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_ENV 512
#define POLL_NS 20000000L  // 20 ms between looks at a child that has not exited

// build_env returns environ plus |add| in |out| (NULL-terminated), or -1 if there are too many.
static int build_env(char **out, const char *const *add) {
  size_t n = 0;
  for (char **e = environ; *e != NULL; e++) {
    if (n + 1 >= MAX_ENV) {
      return -1;
    }
    out[n++] = *e;
  }
  for (size_t i = 0; add != NULL && add[i] != NULL; i++) {
    if (n + 1 >= MAX_ENV) {
      return -1;
    }
    out[n++] = (char *)add[i];
  }
  out[n] = NULL;
  return 0;
}

pid_t mh_spawn_start(const char *const *argv, const char *const *env_add, const char *log_path,
                     const char *package, struct mh_err *err) {
  char *envp[MAX_ENV];
  if (build_env(envp, env_add) != 0) {
    mh_err_set(err, "%s: the environment has too many variables", argv[0]);
    return -1;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    if (rc == ENOENT) {
      mh_err_set(err, "%s: not found in PATH (install the Debian package %s: scripts/deps)",
                 argv[0], package);
    } else {
      mh_err_set(err, "%s: cannot start: %s (log %s)", argv[0], strerror(rc), log_path);
    }
    return -1;
  }
  return pid;
}

int mh_spawn_poll(pid_t pid) {
  int status;
  pid_t r;
  while ((r = waitpid(pid, &status, WNOHANG)) < 0 && errno == EINTR) {
  }
  if (r == pid) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return r < 0 ? 128 : -1;  // r < 0: not our child any more, nothing to wait for
}

// spawn_wait waits up to |timeout_s| seconds for |pid| to exit. Returns its exit status (0-255),
// 128 + the signal that ended it, or -1 if it was still running at the deadline: then it has been
// killed (SIGKILL) and reaped.
static int spawn_wait(pid_t pid, double timeout_s) {
  struct timespec pause = {0, POLL_NS};
  long rounds = (long)(timeout_s * 1e9 / POLL_NS) + 1;
  for (long i = 0; i < rounds; i++) {
    int st = mh_spawn_poll(pid);
    if (st >= 0) {
      return st;
    }
    nanosleep(&pause, NULL);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return -1;
}

void mh_spawn_stop(pid_t pid, double grace_s) {
  if (pid <= 0) {
    return;
  }
  kill(pid, SIGTERM);
  spawn_wait(pid, grace_s);
}
