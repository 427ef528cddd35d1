// gnuplot: the charts' pictures, drawn by Debian's gnuplot run as a child process. Each chart's
// data and script go to a private directory, `gnuplot <name>.gp` runs there (found on PATH, never
// through a shell, stdin from /dev/null, its output to a file, killed at a deadline) and the SVG
// it wrote is read back, so that what ships is what `gnuplot <name>.gp` renders again.
#include "report/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/printable.h"

extern char **environ;

// The whole drawing, every chart together, ends within this bound: gnuplot renders a chart in
// tens of milliseconds, so reaching it means gnuplot hangs.
#define GNUPLOT_DEADLINE_S 20.0

// write_file writes |len| bytes of |data| as |dir|/|name|. Returns 0 or -1 with |err| set.
static int write_file(const char *dir, const char *name, const char *data, size_t len,
                      struct mh_err *err) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL) {
    return mh_err_errno(err, "cannot write %s", path);
  }
  size_t w = fwrite(data, 1, len, f);
  if (fclose(f) != 0 || w != len) {
    return mh_err_errno(err, "cannot write %s", path);
  }
  return 0;
}

// read_file reads |dir|/|name| into a malloc'ed |*out| (caller frees) of |*out_len| bytes.
// Returns 0, or -1 with |err| set.
static int read_file(const char *dir, const char *name, char **out, size_t *out_len,
                     struct mh_err *err) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  *out = NULL;
  *out_len = 0;
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    return mh_err_errno(err, "gnuplot wrote no %s", name);
  }
  int ret = -1;
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  if (m == NULL) {
    mh_err_set(err, "out of memory");
    goto out;
  }
  char chunk[8192];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
    fwrite(chunk, 1, n, m);
  }
  if (ferror(f) || fclose(m) != 0) {
    m = NULL;
    mh_err_errno(err, "cannot read %s", path);
    goto out;
  }
  m = NULL;
  *out = buf;
  *out_len = len;
  buf = NULL;
  ret = 0;
out:
  if (m != NULL) {
    fclose(m);
  }
  free(buf);
  fclose(f);
  return ret;
}

// what_it_said copies the line of |dir|/gnuplot.log (what gnuplot said) that says what is wrong
// into |out|, made printable; "" if it said nothing. gnuplot echoes the failing command and marks
// it, then writes '"<script>" line N: <error>'; warnings come the same way, before the error.
static void what_it_said(const char *dir, char *out, size_t out_len) {
  char path[4096], line[512], best[512] = "";
  snprintf(path, sizeof(path), "%s/gnuplot.log", dir);
  FILE *f = fopen(path, "r");
  // Bounded by the log's size: gnuplot writes a few lines before it stops.
  for (int n = 0; f != NULL && n < 10000 && fgets(line, sizeof(line), f) != NULL; n++) {
    line[strcspn(line, "\r\n")] = '\0';
    int error = strstr(line, " line ") != NULL && strstr(line, "warning:") == NULL;
    if (error || (best[0] == '\0' && line[strspn(line, " \t^")] != '\0')) {
      snprintf(best, sizeof(best), "%s", line);
    }
  }
  if (f != NULL) {
    fclose(f);
  }
  mh_printable_copy(out, out_len, best);
}

// wait_bounded waits for child |pid| until |deadline| (mh_clock_now seconds), killing it if it
// is still running then. Returns its wait status, or -1 with |*out_killed| set if it was killed.
static int wait_bounded(pid_t pid, double deadline, int *out_killed) {
  int status = 0;
  *out_killed = 0;
  // Polled every 10 ms: bounded by the deadline, at most 2,000 turns.
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      return status;
    }
    if (w < 0 && errno != EINTR) {
      return -1;
    }
    if (mh_clock_now() >= deadline) {
      break;
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  kill(pid, SIGKILL);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  *out_killed = 1;
  return -1;
}

// run_gnuplot runs `gnuplot |script|` in |dir| with its output in dir/gnuplot.log, until
// |deadline|. Returns 0 if it exited 0, or -1 with |err| saying why not.
static int run_gnuplot(const char *dir, const char *script, double deadline, struct mh_err *err) {
  posix_spawn_file_actions_t fa;
  if (posix_spawn_file_actions_init(&fa) != 0) {
    return mh_err_set(err, "out of memory");
  }
  int ret = -1;
  char log[4096];
  snprintf(log, sizeof(log), "%s/gnuplot.log", dir);
  if (posix_spawn_file_actions_addchdir_np(&fa, dir) != 0 ||
      posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) != 0 ||
      posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600) != 0 ||
      posix_spawn_file_actions_adddup2(&fa, 1, 2) != 0) {
    mh_err_set(err, "out of memory");
    goto out;
  }
  char *argv[] = {"gnuplot", (char *)script, NULL};
  pid_t pid;
  int e = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
  if (e == ENOENT) {
    mh_err_set(err, "gnuplot is not on PATH (Debian: apt-get install gnuplot-nox)");
    goto out;
  }
  if (e != 0) {
    mh_err_set(err, "cannot run gnuplot: %s", strerror(e));
    goto out;
  }
  int killed;
  int status = wait_bounded(pid, deadline, &killed);
  char said[300];
  what_it_said(dir, said, sizeof(said));
  if (killed) {
    mh_err_set(err, "gnuplot %s did not finish within %.0f s and was killed", script,
               GNUPLOT_DEADLINE_S);
  } else if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    mh_err_set(err, "gnuplot %s failed (%s %d)%s%s", script,
               status != -1 && WIFSIGNALED(status) ? "signal" : "exit status",
               status == -1          ? -1
               : WIFSIGNALED(status) ? WTERMSIG(status)
                                     : WEXITSTATUS(status),
               said[0] ? ": " : "", said);
  } else {
    ret = 0;
  }
out:
  posix_spawn_file_actions_destroy(&fa);
  return ret;
}

// remove_dir removes the files the drawing may have left in |dir|, then |dir|.
static void remove_dir(const char *dir, const struct mh_chart *charts, size_t num) {
  char path[4096];
  static const char *const ext[] = {".dat", ".gp", ".svg"};
  for (size_t i = 0; i < num; i++) {
    for (int k = 0; k < 3; k++) {
      snprintf(path, sizeof(path), "%s/%s%s", dir, charts[i].name, ext[k]);
      unlink(path);
    }
  }
  snprintf(path, sizeof(path), "%s/gnuplot.log", dir);
  unlink(path);
  rmdir(dir);
}

int mh_gnuplot_draw(struct mh_chart *charts, size_t num, struct mh_err *err) {
  const char *tmp = getenv("TMPDIR");
  tmp = tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp";
  char dir[1024];
  if (strlen(tmp) > 900) {
    return mh_err_set(err, "TMPDIR is too long for gnuplot's directory (over 900 bytes)");
  }
  snprintf(dir, sizeof(dir), "%s/mtls-harness-charts.XXXXXX", tmp);
  if (mkdtemp(dir) == NULL) {
    return mh_err_errno(err, "cannot create a directory for gnuplot in %s", tmp);
  }
  int ret = -1;
  double deadline = mh_clock_now() + GNUPLOT_DEADLINE_S;
  char name[300];
  for (size_t i = 0; i < num; i++) {
    snprintf(name, sizeof(name), "%s.dat", charts[i].name);
    if (write_file(dir, name, charts[i].dat, charts[i].dat_len, err) != 0) {
      goto out;
    }
    snprintf(name, sizeof(name), "%s.gp", charts[i].name);
    if (write_file(dir, name, charts[i].gp, charts[i].gp_len, err) != 0) {
      goto out;
    }
  }
  for (size_t i = 0; i < num; i++) {
    snprintf(name, sizeof(name), "%s.gp", charts[i].name);
    if (run_gnuplot(dir, name, deadline, err) != 0) {
      goto out;
    }
    snprintf(name, sizeof(name), "%s.svg", charts[i].name);
    if (read_file(dir, name, &charts[i].svg, &charts[i].svg_len, err) != 0) {
      goto out;
    }
  }
  ret = 0;
out:
  if (ret != 0) {
    for (size_t i = 0; i < num; i++) {
      free(charts[i].svg);
      charts[i].svg = NULL;
      charts[i].svg_len = 0;
    }
  }
  remove_dir(dir, charts, num);
  return ret;
}
