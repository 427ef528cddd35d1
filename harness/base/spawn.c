// spawn: bounded child processes (see spawn.h): fork and exec with no shell, output to a log file,
// a deadline after which the child is killed, and no child outliving the harness.
#include "base/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
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

// child_exec is the child's side of mh_spawn_start, async-signal-safe calls only (the parent may
// have threads): it dies with the thread that started it (PR_SET_PDEATHSIG: a `kill -9` of the
// harness leaves no pebble holding its ports), takes the default signal mask (the harness blocks
// SIGINT and SIGTERM for its signalfd) and umask 077, and reports a failed exec's errno on
// |report|.
static void child_exec(const char *const *argv, char *const *envp, const char *log_path,
                       pid_t parent, int report) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) {
    _exit(127);  // the parent is gone already
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  umask(077);  // what a child writes (lego's account and certificate keys) is the user's alone
  int in = open("/dev/null", O_RDONLY);
  int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (in < 0 || log < 0 || dup2(in, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0) {
    int e = errno;
    ssize_t w = write(report, &e, sizeof(e));
    (void)w;
    _exit(127);
  }
  execvpe(argv[0], (char *const *)argv, envp);
  int e = errno;
  ssize_t w = write(report, &e, sizeof(e));
  (void)w;
  _exit(127);
}

pid_t mh_spawn_start(const char *const *argv, const char *const *env_add, const char *log_path,
                     const char *package, struct mh_err *err) {
  char *envp[MAX_ENV];
  if (build_env(envp, env_add) != 0) {
    mh_err_set(err, "%s: the environment has too many variables", argv[0]);
    return -1;
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    mh_err_errno(err, "%s: cannot start", argv[0]);
    return -1;
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    child_exec(argv, envp, log_path, parent, fds[1]);
  }
  int saved = errno;
  close(fds[1]);
  int rc = 0;
  if (pid < 0) {
    rc = saved;
  } else {
    ssize_t n;
    while ((n = read(fds[0], &rc, sizeof(rc))) < 0 && errno == EINTR) {
    }
    if (n != (ssize_t)sizeof(rc)) {
      rc = 0;  // EOF: the exec succeeded (the pipe closed on exec)
    }
  }
  close(fds[0]);
  if (rc != 0) {
    if (pid > 0) {
      waitpid(pid, NULL, 0);
    }
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
