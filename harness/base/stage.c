// stage: all-or-nothing output (see stage.h).
#include "base/stage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mh_stage_init(struct mh_stage *st, const char *dir, struct mh_err *err) {
  memset(st, 0, sizeof(*st));
  st->dir = strdup(dir);
  if (st->dir == NULL) {
    return mh_err_set(err, "%s: out of memory", dir);
  }
  return 0;
}

static int remember_dir(struct mh_stage *st, const char *path) {
  if (st->num_dirs == st->cap_dirs) {
    size_t cap = st->cap_dirs ? st->cap_dirs * 2 : 8;
    char **d = realloc(st->made_dirs, cap * sizeof(*d));
    if (d == NULL) {
      return -1;
    }
    st->made_dirs = d;
    st->cap_dirs = cap;
  }
  st->made_dirs[st->num_dirs] = strdup(path);
  if (st->made_dirs[st->num_dirs] == NULL) {
    return -1;
  }
  st->num_dirs++;
  return 0;
}

// make_parents creates every missing directory on the way to |path|'s parent, remembering each one
// it made so that an aborted stage can remove it again.
static int make_parents(struct mh_stage *st, const char *path, struct mh_err *err) {
  char *buf = strdup(path);
  if (buf == NULL) {
    return mh_err_set(err, "%s: out of memory", path);
  }
  int ret = -1;
  char *slash = strrchr(buf, '/');
  if (slash == NULL) {
    ret = 0;
    goto out;
  }
  *slash = '\0';
  for (char *p = buf + 1;; p++) {
    if (*p != '/' && *p != '\0') {
      continue;
    }
    char saved = *p;
    *p = '\0';
    if (mkdir(buf, 0755) == 0) {
      if (remember_dir(st, buf) != 0) {
        mh_err_set(err, "%s: out of memory", buf);
        goto out;
      }
    } else if (errno != EEXIST) {
      mh_err_errno(err, "%s: cannot create directory (check --out and its permissions)", buf);
      goto out;
    } else {
      // Below the stage's directory, a symbolic link could send a secret anywhere: refused. The
      // directory itself (and above) is the caller's choice and may be one.
      int inside = (size_t)(p - buf) > strlen(st->dir);
      struct stat sb;
      int r = inside ? lstat(buf, &sb) : stat(buf, &sb);
      if (r == 0 && S_ISLNK(sb.st_mode)) {
        mh_err_set(err, "%s: is a symbolic link; outputs are never written through one (remove it)",
                   buf);
        goto out;
      }
      if (r != 0 || !S_ISDIR(sb.st_mode)) {
        mh_err_set(err, "%s: exists and is not a directory (choose another --out)", buf);
        goto out;
      }
    }
    *p = saved;
    if (saved == '\0') {
      break;
    }
  }
  ret = 0;
out:
  free(buf);
  return ret;
}

// add_file registers |rel| and creates its empty temporary file with |mode|; returns the fd or -1.
static int add_file(struct mh_stage *st, const char *rel, mode_t mode, struct mh_err *err) {
  if (rel[0] == '/' || strstr(rel, "..") != NULL) {
    return mh_err_set(err, "%s: output path must be relative and stay below the output directory",
                      rel);
  }
  for (size_t i = 0; i < st->num_files; i++) {
    if (strcmp(st->files[i].final_path + strlen(st->dir) + 1, rel) == 0) {
      return mh_err_set(err, "%s: written twice in one run (give each output its own path)", rel);
    }
  }
  if (st->num_files == st->cap_files) {
    size_t cap = st->cap_files ? st->cap_files * 2 : 16;
    struct mh_stage_file *f = realloc(st->files, cap * sizeof(*f));
    if (f == NULL) {
      return mh_err_set(err, "%s: out of memory", rel);
    }
    st->files = f;
    st->cap_files = cap;
  }
  struct mh_stage_file *f = &st->files[st->num_files];
  if (asprintf(&f->final_path, "%s/%s", st->dir, rel) < 0) {
    return mh_err_set(err, "%s: out of memory", rel);
  }
  if (asprintf(&f->tmp_path, "%s.mh-tmp.%ld", f->final_path, (long)getpid()) < 0) {
    free(f->final_path);
    return mh_err_set(err, "%s: out of memory", rel);
  }
  st->num_files++;
  if (make_parents(st, f->final_path, err) != 0) {
    return -1;
  }
  unlink(f->tmp_path);  // a leftover of a killed run with the same pid
  int fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) {
    return mh_err_errno(err, "%s: cannot create", f->final_path);
  }
  if (fchmod(fd, mode) != 0) {  // exactly |mode|, whatever the umask
    close(fd);
    return mh_err_errno(err, "%s: cannot set permissions", f->final_path);
  }
  return fd;
}

int mh_stage_write(struct mh_stage *st, const char *rel, const void *data, size_t len, mode_t mode,
                   struct mh_err *err) {
  int fd = add_file(st, rel, mode, err);
  if (fd < 0) {
    return -1;
  }
  const unsigned char *p = data;
  size_t left = len;
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      mh_err_errno(err, "%s/%s: write failed", st->dir, rel);
      close(fd);
      return -1;
    }
    p += n;
    left -= (size_t)n;
  }
  if (close(fd) != 0) {
    return mh_err_errno(err, "%s/%s: write failed", st->dir, rel);
  }
  return 0;
}

int mh_stage_reserve(struct mh_stage *st, const char *rel, mode_t mode, const char **out_tmp_path,
                     struct mh_err *err) {
  int fd = add_file(st, rel, mode, err);
  if (fd < 0) {
    return -1;
  }
  close(fd);
  *out_tmp_path = st->files[st->num_files - 1].tmp_path;
  return 0;
}

int mh_stage_commit(struct mh_stage *st, struct mh_err *err) {
  // What would stop a rename is looked for before the first one, so that a commit that fails
  // leaves nothing behind: a directory where a file goes. (A symbolic link there is replaced by
  // the rename, not followed.)
  for (size_t i = 0; i < st->num_files; i++) {
    struct stat sb;
    if (lstat(st->files[i].final_path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
      return mh_err_set(err, "%s: is a directory (remove it, or give the file another path)",
                        st->files[i].final_path);
    }
  }
  for (size_t i = 0; i < st->num_files; i++) {
    if (rename(st->files[i].tmp_path, st->files[i].final_path) != 0) {
      return mh_err_errno(err, "%s: cannot move into place", st->files[i].final_path);
    }
    // Renamed files are final: cleanup must not treat them as temporaries.
    free(st->files[i].tmp_path);
    st->files[i].tmp_path = NULL;
  }
  st->committed = 1;
  return 0;
}

void mh_stage_cleanup(struct mh_stage *st) {
  if (st == NULL) {
    return;
  }
  for (size_t i = 0; i < st->num_files; i++) {
    if (st->files[i].tmp_path != NULL) {
      unlink(st->files[i].tmp_path);
    }
    free(st->files[i].tmp_path);
    free(st->files[i].final_path);
  }
  if (!st->committed) {
    for (size_t i = st->num_dirs; i > 0; i--) {
      rmdir(st->made_dirs[i - 1]);
    }
  }
  for (size_t i = 0; i < st->num_dirs; i++) {
    free(st->made_dirs[i]);
  }
  free(st->made_dirs);
  free(st->files);
  free(st->dir);
  memset(st, 0, sizeof(*st));
}

int mh_stage_mkdirs(const char *dir, struct mh_err *err) {
  char *buf = strdup(dir);
  if (buf == NULL) {
    return mh_err_set(err, "%s: out of memory", dir);
  }
  int ret = 0;
  for (char *p = buf + 1;; p++) {
    if (*p != '/' && *p != '\0') {
      continue;
    }
    char saved = *p;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
      ret = mh_err_errno(err, "%s: cannot create directory", buf);
      break;
    }
    *p = saved;
    if (saved == '\0') {
      break;
    }
  }
  free(buf);
  return ret;
}
