// outdir: a command's output directory, empty at the start and removed again on failure (see
// outdir.h).
#include "base/outdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "base/stage.h"

#define MAX_DEPTH 64  // the harness writes three levels; deeper is not ours to walk

// remove_below removes every entry of the directory open as |dirfd| (which it keeps open): a
// directory by opening it relative to its parent with O_NOFOLLOW, so that a symbolic link is
// removed as a link and never walked into.
// |skip| (NULL: none) names an entry left in place.
static int remove_below(int dirfd, int depth, const char *top, const char *skip,
                        struct mh_err *err) {
  if (depth > MAX_DEPTH) {
    return mh_err_set(err, "%s: more than %d levels of directories: not removed", top, MAX_DEPTH);
  }
  int fd = dup(dirfd);
  DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
  if (dir == NULL) {
    if (fd >= 0) {
      close(fd);
    }
    return mh_err_errno(err, "%s: cannot list", top);
  }
  int ret = 0;
  struct dirent *e;
  while (ret == 0 && (e = readdir(dir)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
        (skip != NULL && strcmp(e->d_name, skip) == 0)) {
      continue;
    }
    struct stat sb;
    if (fstatat(dirfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
      ret = mh_err_errno(err, "%s: cannot read %s", top, e->d_name);
    } else if (S_ISDIR(sb.st_mode)) {
      int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) {
        ret = mh_err_errno(err, "%s: cannot open %s", top, e->d_name);
      } else {
        ret = remove_below(sub, depth + 1, top, NULL, err);
        close(sub);
        if (ret == 0 && unlinkat(dirfd, e->d_name, AT_REMOVEDIR) != 0) {
          ret = mh_err_errno(err, "%s: cannot remove %s", top, e->d_name);
        }
      }
    } else if (unlinkat(dirfd, e->d_name, 0) != 0) {
      ret = mh_err_errno(err, "%s: cannot remove %s", top, e->d_name);
    }
  }
  closedir(dir);
  return ret;
}

// first_entry writes the name of one entry of |path| other than |skip| into |out| ("" when there is
// none). Returns 0, or -1 with |err| set.
static int first_entry(const char *path, const char *skip, char *out, size_t out_len,
                       struct mh_err *err) {
  DIR *dir = opendir(path);
  if (dir == NULL) {
    return mh_err_errno(err, "%s: cannot list the output directory", path);
  }
  out[0] = '\0';
  struct dirent *e;
  while (out[0] == '\0' && (e = readdir(dir)) != NULL) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
        strcmp(e->d_name, skip) != 0) {
      snprintf(out, out_len, "%s", e->d_name);
    }
  }
  closedir(dir);
  return 0;
}

// lock_holder finds the process that holds the flock of the inode |sb| describes in /proc/locks
// and writes "pid N: <its command line>" into |out| ("" when it cannot be told).
static void lock_holder(const struct stat *sb, char *out, size_t out_len) {
  out[0] = '\0';
  FILE *f = fopen("/proc/locks", "re");
  char line[256], want[64];
  snprintf(want, sizeof(want), "%02x:%02x:%llu ", major(sb->st_dev), minor(sb->st_dev),
           (unsigned long long)sb->st_ino);
  long pid = 0;
  while (f != NULL && pid == 0 && fgets(line, sizeof(line), f) != NULL) {
    char *at = strstr(line, want);
    char *p = strstr(line, "FLOCK");
    if (at != NULL && p != NULL && sscanf(p, "FLOCK %*s %*s %ld", &pid) != 1) {
      pid = 0;
    }
  }
  if (f != NULL) {
    fclose(f);
  }
  if (pid <= 0) {
    return;
  }
  char cmd[160] = "", path[64];
  snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
  FILE *c = fopen(path, "re");
  size_t n = c != NULL ? fread(cmd, 1, sizeof(cmd) - 1, c) : 0;
  for (size_t i = 0; i + 1 < n; i++) {
    cmd[i] = cmd[i] == '\0' ? ' ' : cmd[i];  // arguments are NUL-separated
  }
  cmd[n] = '\0';
  if (c != NULL) {
    fclose(c);
  }
  snprintf(out, out_len, "pid %ld%s%.150s", pid, cmd[0] ? ": " : "", cmd);
}

// lock_dir takes |d|'s lock for the command's life: an exclusive flock of the directory itself
// (nothing is written into it), kept by a descriptor that children do not inherit. A second
// command on the same directory is refused, naming the first.
static int lock_dir(struct mh_outdir *d, const char *command, struct mh_err *err) {
  d->lock_fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d->lock_fd < 0) {
    return mh_err_errno(err, "mtls-harness %s: --out %s: cannot open it", command, d->path);
  }
  if (flock(d->lock_fd, LOCK_EX | LOCK_NB) == 0) {
    return 0;
  }
  int e = errno;
  struct stat sb;
  char holder[256] = "";
  if (fstat(d->lock_fd, &sb) == 0) {
    lock_holder(&sb, holder, sizeof(holder));
  }
  close(d->lock_fd);
  d->lock_fd = -1;
  if (e != EWOULDBLOCK) {
    errno = e;
    return mh_err_errno(err, "mtls-harness %s: --out %s: cannot lock it", command, d->path);
  }
  return mh_err_set(err,
                    "mtls-harness %s: --out %s is in use by another mtls-harness (%s): wait for "
                    "it to finish, or give another --out",
                    command, d->path, holder[0] ? holder : "its pid could not be read");
}

// prepare is mh_outdir_prepare but for what a failure leaves in |d|.
static int prepare(struct mh_outdir *d, const char *command, const char *path, const char *keep,
                   int force, struct mh_err *err) {
  d->path = path;
  d->keep = keep;
  d->created = 0;
  d->kept = 0;
  d->lock_fd = -1;
  struct stat sb;
  if (stat(path, &sb) != 0) {
    if (errno != ENOENT) {
      return mh_err_errno(err, "mtls-harness %s: --out %s", command, path);
    }
    if (mh_stage_mkdirs(path, err) != 0) {
      return -1;
    }
    d->created = 1;
    if (lock_dir(d, command, err) != 0) {
      d->created = 0;  // another command's now: not ours to remove
      return -1;
    }
    return 0;
  }
  if (!S_ISDIR(sb.st_mode)) {
    return mh_err_set(err, "mtls-harness %s: --out %s is not a directory: give a directory",
                      command, path);
  }
  if (lock_dir(d, command, err) != 0) {
    return -1;
  }
  char entry[256], kept[4096];
  snprintf(kept, sizeof(kept), "%s/%s", path, keep != NULL ? keep : "");
  d->kept = keep != NULL && stat(kept, &sb) == 0 && S_ISDIR(sb.st_mode);
  if (first_entry(path, d->kept ? keep : "", entry, sizeof(entry), err) != 0) {
    return -1;
  }
  if (entry[0] == '\0') {
    return 0;
  }
  if (!force) {
    return mh_err_set(err,
                      "mtls-harness %s: --out %s is not empty (it holds %s): give a new directory, "
                      "or --force to empty it first%s%s%s",
                      command, path, entry, keep != NULL ? " (its " : "", keep != NULL ? keep : "",
                      keep != NULL ? "/ is kept)" : "");
  }
  return mh_outdir_remove_tree(d, "", err);
}

int mh_outdir_prepare(struct mh_outdir *d, const char *command, const char *path, const char *keep,
                      int force, struct mh_err *err) {
  if (prepare(d, command, path, keep, force, err) == 0) {
    return 0;
  }
  // Refused (not empty, in use by another command): nothing in it is this command's, so nothing
  // may be removed from it on the way out (mh_outdir_discard and remove_tree see no path).
  if (d->lock_fd >= 0) {
    close(d->lock_fd);
  }
  *d = (struct mh_outdir){.path = NULL, .lock_fd = -1};
  return -1;
}

int mh_outdir_remove_tree(const struct mh_outdir *d, const char *rel, struct mh_err *err) {
  if (d->path == NULL) {
    return 0;  // a refused directory: none of it is the command's
  }
  if (d->kept && strcmp(rel, d->keep) == 0) {
    return 0;  // the user's, from before the command
  }
  int top = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (top < 0) {
    return errno == ENOENT ? 0 : mh_err_errno(err, "%s: cannot open", d->path);
  }
  int ret = 0;
  if (rel[0] == '\0') {
    ret = remove_below(top, 0, d->path, d->kept ? d->keep : NULL, err);
    close(top);
    return ret;
  }
  struct stat sb;
  if (fstatat(top, rel, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
    ret = errno == ENOENT ? 0 : mh_err_errno(err, "%s: cannot read %s", d->path, rel);
  } else if (!S_ISDIR(sb.st_mode)) {
    ret = unlinkat(top, rel, 0) == 0 ? 0 : mh_err_errno(err, "%s: cannot remove %s", d->path, rel);
  } else {
    int sub = openat(top, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    ret = sub < 0 ? mh_err_errno(err, "%s: cannot open %s", d->path, rel)
                  : remove_below(sub, 1, d->path, NULL, err);
    if (sub >= 0) {
      close(sub);
    }
    if (ret == 0 && unlinkat(top, rel, AT_REMOVEDIR) != 0) {
      ret = mh_err_errno(err, "%s: cannot remove %s", d->path, rel);
    }
  }
  close(top);
  return ret;
}

void mh_outdir_discard(const struct mh_outdir *d) {
  if (d == NULL || d->path == NULL) {
    return;
  }
  struct mh_err ignored;
  if (mh_outdir_remove_tree(d, "", &ignored) == 0 && d->created && !d->kept) {
    rmdir(d->path);
  }
}

const char *mh_outdir_default(struct mh_arena *a, const char *name) {
  char stamp[32];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
  return mh_arena_sprintf(a, "reports/%s-%s", name, stamp);
}
