// cache: see cache.h. An entry is a flat directory: the files as 0, 1, 2... (their output paths
// are in the manifest, so no path from a manifest is ever opened below the cache) and "manifest":
//   mtls-harness fixtures cache 1
//   generated <unix time>
//   valid_until <unix time>
//   file <mode, octal> <sha-256, hex> <path below the output directory>
//   ...
//   end <sha-256 of every line above, hex>
#include "pki/cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/mem.h>
#include <openssl/sha.h>

#define MANIFEST_MAGIC "mtls-harness fixtures cache 1"
#define MANIFEST_MAX (1 << 20)
#define FILE_MAX (16 << 20)

// --- the digest ---

static void feed_bytes(SHA256_CTX *c, const void *p, size_t n) {
  uint64_t len = n;
  SHA256_Update(c, &len, sizeof(len));
  SHA256_Update(c, p, n);
}

static void feed_str(SHA256_CTX *c, const char *s) {
  uint8_t present = s != NULL;
  SHA256_Update(c, &present, 1);
  if (s != NULL) {
    feed_bytes(c, s, strlen(s));
  }
}

static void feed_int(SHA256_CTX *c, int64_t v) {
  SHA256_Update(c, &v, sizeof(v));
}

static void feed_strs(SHA256_CTX *c, const char *const *v, size_t n) {
  feed_int(c, (int64_t)n);
  for (size_t i = 0; i < n; i++) {
    feed_str(c, v[i]);
  }
}

// read_all returns |fd|'s contents (at most FILE_MAX bytes) in a malloc'd buffer, or NULL.
static uint8_t *read_all(int fd, size_t *out_len) {
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > FILE_MAX) {
    return NULL;
  }
  size_t len = (size_t)sb.st_size;
  uint8_t *buf = malloc(len + 1);
  size_t got = 0;
  while (buf != NULL && got < len) {
    ssize_t n = read(fd, buf + got, len - got);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) {
        continue;
      }
      free(buf);
      return NULL;
    }
    got += (size_t)n;
  }
  if (buf != NULL) {
    buf[len] = 0;
    *out_len = len;
  }
  return buf;
}

// feed_file feeds the contents of |path| (NULL: its absence). Returns 0, or -1 if unreadable.
static int feed_file(SHA256_CTX *c, const char *path) {
  feed_str(c, path);
  if (path == NULL) {
    return 0;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  size_t len = 0;
  uint8_t *data = fd >= 0 ? read_all(fd, &len) : NULL;
  if (fd >= 0) {
    close(fd);
  }
  if (data == NULL) {
    return -1;
  }
  feed_bytes(c, data, len);
  OPENSSL_cleanse(data, len);  // it may be a private key
  free(data);
  return 0;
}

static int feed_entity(SHA256_CTX *c, const struct mh_pki_entity *e) {
  feed_str(c, e->name);
  feed_int(c, e->is_ca);
  feed_int(c, e->key_type);
  for (int i = 0; i < MH_DN_NUM; i++) {
    feed_str(c, e->subject[i]);
  }
  feed_int(c, e->not_before);
  feed_int(c, e->not_after);
  feed_int(c, e->x509_version);
  feed_int(c, e->has_serial);
  feed_int(c, (int64_t)e->serial);
  feed_int(c, e->issuer);
  feed_int(c, e->path_len);
  feed_strs(c, e->dns, e->num_dns);
  feed_strs(c, e->ips, e->num_ips);
  feed_strs(c, e->uris, e->num_uris);
  feed_strs(c, e->emails, e->num_emails);
  feed_int(c, e->has_eku);
  feed_int(c, e->eku_mask);
  feed_int(c, e->has_key_usage);
  feed_int(c, e->ku_mask);
  feed_int(c, e->key_mismatch);
  feed_str(c, e->key_file);
  feed_str(c, e->cert_file);
  feed_str(c, e->csr_file);
  feed_str(c, e->chain_file);
  feed_int(c, e->imported);
  feed_int(c, e->revoked);
  feed_int(c, e->revocation_reason);
  feed_int(c, e->revoked_at);
  feed_str(c, e->crl_file);
  feed_int(c, e->crl_next_update);
  feed_int(c, e->crl_extra_entries);
  feed_int(c, e->no_crl);
  return feed_file(c, e->import_cert) != 0 || feed_file(c, e->import_key) != 0 ||
                 feed_file(c, e->import_chain) != 0 || feed_file(c, e->import_crl) != 0
             ? -1
             : 0;
}

int mh_pki_cache_digest(const struct mh_pki_spec *spec, uint8_t out[32]) {
  SHA256_CTX c;
  SHA256_Init(&c);
  feed_str(&c, MANIFEST_MAGIC);
  feed_str(&c, MH_VERSION);  // a new generator may write other files from the same spec
  feed_str(&c, spec->file);  // zips' READMEs name it
  feed_int(&c, (int64_t)spec->num_entities);
  for (size_t i = 0; i < spec->num_entities; i++) {
    const struct mh_pki_entity *e = &spec->entities[i];
    if (e->passphrase_file != NULL || e->passphrase_env != NULL || feed_entity(&c, e) != 0) {
      uint8_t scratch[32];
      SHA256_Final(scratch, &c);
      return 0;
    }
  }
  feed_int(&c, (int64_t)spec->num_zips);
  for (size_t z = 0; z < spec->num_zips; z++) {
    const struct mh_pki_zip *zip = &spec->zips[z];
    feed_str(&c, zip->file);
    feed_strs(&c, zip->members, zip->num_members);
    feed_int(&c, zip->readme);
    feed_str(&c, zip->title);
  }
  SHA256_Final(out, &c);
  return 1;
}

static void hex(const uint8_t *p, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) {
    snprintf(out + 2 * i, 3, "%02x", p[i]);
  }
}

// --- an entry ---

int mh_pki_cache_owned(const char *cache_dir, char *why, size_t why_len) {
  struct stat sb;
  if (stat(cache_dir, &sb) != 0) {
    snprintf(why, why_len, "%s", errno == ENOENT ? "" : strerror(errno));
    return errno == ENOENT;
  }
  if (!S_ISDIR(sb.st_mode) || sb.st_uid != geteuid()) {
    snprintf(why, why_len,
             !S_ISDIR(sb.st_mode) ? "not a directory" : "owned by uid %u, not by this user",
             (unsigned)sb.st_uid);
    return 0;
  }
  return 1;
}

// private_ok reports whether |sb| is this user's and gives group and others nothing.
static int private_ok(const struct stat *sb) {
  return sb->st_uid == geteuid() && (sb->st_mode & 077) == 0;
}

// read_private reads file |name| of directory |dirfd| if it is a private regular file.
static uint8_t *read_private(int dirfd, const char *name, size_t *len) {
  int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return NULL;
  }
  struct stat sb;
  uint8_t *data = fstat(fd, &sb) == 0 && private_ok(&sb) ? read_all(fd, len) : NULL;
  close(fd);
  return data;
}

struct entry_file {
  char *path;
  mode_t mode;
  char sha[65];
  uint8_t *data;
  size_t len;
};

struct entry {
  long long generated;
  long long valid_until;
  struct entry_file *files;
  size_t num_files;
};

static void entry_free(struct entry *en) {
  for (size_t i = 0; i < en->num_files; i++) {
    free(en->files[i].path);
    if (en->files[i].data != NULL) {
      OPENSSL_cleanse(en->files[i].data, en->files[i].len);
      free(en->files[i].data);
    }
  }
  free(en->files);
  memset(en, 0, sizeof(*en));
}

// manifest_line parses one line before "end" (NUL-terminated, no newline) into |en|. Returns 0
// or -1.
static int manifest_line(struct entry *en, char *line) {
  unsigned mode;
  char sha[65];
  int off = 0;
  if (sscanf(line, "generated %lld", &en->generated) == 1 ||
      sscanf(line, "valid_until %lld", &en->valid_until) == 1) {
    return 0;
  }
  if (sscanf(line, "file %o %64[0-9a-f] %n", &mode, sha, &off) == 2 && off > 0 &&
      strlen(sha) == 64 && line[off] != 0 && mode <= 0777) {
    struct entry_file *grown = realloc(en->files, (en->num_files + 1) * sizeof(*grown));
    if (grown == NULL) {
      return -1;
    }
    en->files = grown;
    struct entry_file *f = &en->files[en->num_files];
    memset(f, 0, sizeof(*f));
    if ((f->path = strdup(line + off)) == NULL) {
      return -1;
    }
    en->num_files++;
    f->mode = (mode_t)mode;
    memcpy(f->sha, sha, sizeof(sha));
    return 0;
  }
  return -1;
}

// manifest_parse reads |text| into |en| after checking its closing checksum. Returns 0, or -1
// with |why| set.
static int manifest_parse(char *text, size_t len, struct entry *en, const char **why) {
  char *end = NULL;
  for (char *p = text; p < text + len; p = strchr(p, '\n') + 1) {
    if (strchr(p, '\n') == NULL) {
      break;
    }
    if (strncmp(p, "end ", 4) == 0) {
      end = p;
      break;
    }
  }
  uint8_t sum[32];
  char want[65];
  if (end == NULL || strncmp(text, MANIFEST_MAGIC "\n", sizeof(MANIFEST_MAGIC)) != 0) {
    *why = "its manifest is incomplete";
    return -1;
  }
  SHA256((const uint8_t *)text, (size_t)(end - text), sum);
  hex(sum, sizeof(sum), want);
  if (strncmp(end + 4, want, 64) != 0 || end[68] != '\n') {
    *why = "its manifest was modified";
    return -1;
  }
  *end = 0;
  for (char *line = strchr(text, '\n') + 1, *nl; *line != 0; line = nl + 1) {
    nl = strchr(line, '\n');
    *nl = 0;
    if (manifest_line(en, line) != 0) {
      *why = "its manifest has a line this version does not read";
      return -1;
    }
  }
  return 0;
}

// entry_load reads and checks entry directory |dir| at |now|. Returns 1 (usable, every file in
// memory and verified), 0 (no entry) or -1 with |why| set (stale).
static int entry_load(const char *dir, time_t now, struct entry *en, const char **why) {
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) {
    *why = errno == ELOOP ? "it is a symbolic link" : "it cannot be read";
    return errno == ENOENT || errno == ENOTDIR ? 0 : -1;  // ENOTDIR: the cache itself is not one
  }
  struct stat sb;
  size_t mlen = 0;
  uint8_t *manifest = NULL;
  int ret = -1;
  if (fstat(dfd, &sb) != 0 || !private_ok(&sb)) {
    *why = "it is not private to this user (mode 0700, owned by the user)";
  } else if ((manifest = read_private(dfd, "manifest", &mlen)) == NULL) {
    *why = "its manifest is missing or not private to this user";
  } else if (manifest_parse((char *)manifest, mlen, en, why) == 0) {
    if (now < en->generated || now >= en->valid_until) {
      // Expiry is routine (a certificate in it changed status since, or it is a day old): a
      // miss without a warning.
      *why = now < en->generated ? "it was made in the future (the clock went back)" : "";
      goto out;
    }
    for (size_t i = 0; i < en->num_files; i++) {
      struct entry_file *f = &en->files[i];
      char name[32], got[65];
      uint8_t sum[32];
      snprintf(name, sizeof(name), "%zu", i);
      if ((f->data = read_private(dfd, name, &f->len)) == NULL) {
        *why = "a file of it is missing or not private to this user";
        goto out;
      }
      SHA256(f->data, f->len, sum);
      hex(sum, sizeof(sum), got);
      if (strcmp(got, f->sha) != 0) {
        *why = "a file of it was modified";
        goto out;
      }
    }
    ret = 1;
  }
out:
  free(manifest);
  close(dfd);
  return ret;
}

// keys_match reports whether every file |keep| of |en| that exists below |out_dir| holds what the
// entry holds.
static int keys_match(const struct entry *en, const char *out_dir, const char *const *keep,
                      size_t num_keep) {
  for (size_t k = 0; k < num_keep; k++) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", out_dir, keep[k]);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) {
        continue;
      }
      return 0;
    }
    size_t len = 0;
    uint8_t *data = read_all(fd, &len);
    close(fd);
    int same = 0;
    for (size_t i = 0; data != NULL && i < en->num_files; i++) {
      const struct entry_file *f = &en->files[i];
      if (strcmp(f->path, keep[k]) == 0) {
        same = f->len == len && CRYPTO_memcmp(f->data, data, len) == 0;
      }
    }
    if (data != NULL) {
      OPENSSL_cleanse(data, len);
    }
    free(data);
    if (!same) {
      return 0;
    }
  }
  return 1;
}

int mh_pki_cache_restore(const char *cache_dir, const uint8_t digest[32], const char *out_dir,
                         const char *const *keep, size_t num_keep, struct mh_stage *st, time_t now,
                         time_t *generated, char *stale, size_t stale_len, struct mh_err *err) {
  char name[65], dir[4096];
  hex(digest, 32, name);
  snprintf(dir, sizeof(dir), "%s/%s", cache_dir, name);
  struct entry en = {0};
  const char *why = "";
  int r = entry_load(dir, now, &en, &why);
  snprintf(stale, stale_len, "%s", r < 0 ? why : "");
  if (r == 1 && !keys_match(&en, out_dir, keep, num_keep)) {
    r = 0;
  }
  int ret = r == 1;
  for (size_t i = 0; r == 1 && i < en.num_files; i++) {
    const struct entry_file *f = &en.files[i];
    if (mh_stage_write(st, f->path, f->data, f->len, f->mode, err) != 0) {
      ret = -1;
      break;
    }
  }
  *generated = (time_t)en.generated;
  entry_free(&en);
  return ret;
}

// --- storing ---

// remove_flat removes directory |dir| and the files in it (an entry has no subdirectories).
static void remove_flat(const char *dir) {
  DIR *d = opendir(dir);
  if (d != NULL) {
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
        unlinkat(dirfd(d), de->d_name, 0);
      }
    }
    closedir(d);
  }
  rmdir(dir);
}

// mkdirs_private creates |dir| and its missing parents, mode 0700.
static int mkdirs_private(const char *dir, struct mh_err *err) {
  char path[4096];
  snprintf(path, sizeof(path), "%s", dir);
  for (char *p = path + 1;; p++) {
    if (*p == '/' || *p == 0) {
      char c = *p;
      *p = 0;
      if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        return mh_err_errno(err, "%s", path);
      }
      if ((*p = c) == 0) {
        return 0;
      }
    }
  }
}

// copy_in copies |out_dir|/|rel| to file |index| of directory |dfd| (0600) and hashes it.
static int copy_in(int dfd, size_t index, const char *out_dir, const char *rel, char sha[65],
                   mode_t *mode, struct mh_err *err) {
  char src[4096], name[32];
  snprintf(src, sizeof(src), "%s/%s", out_dir, rel);
  snprintf(name, sizeof(name), "%zu", index);
  int in = open(src, O_RDONLY | O_CLOEXEC);
  size_t len = 0;
  struct stat sb;
  uint8_t *data = in >= 0 && fstat(in, &sb) == 0 ? read_all(in, &len) : NULL;
  if (in >= 0) {
    close(in);
  }
  if (data == NULL) {
    return mh_err_errno(err, "%s", src);
  }
  *mode = sb.st_mode & 0777;
  uint8_t sum[32];
  SHA256(data, len, sum);
  hex(sum, sizeof(sum), sha);
  int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  int ok = fd >= 0 && write(fd, data, len) == (ssize_t)len;
  ok = fd >= 0 && close(fd) == 0 && ok;
  OPENSSL_cleanse(data, len);
  free(data);
  return ok ? 0 : mh_err_errno(err, "fixtures cache: writing a copy of %s", src);
}

// valid_until is when an entry made at |now| from |spec| stops being usable: a day later, or
// when the first of its certificates changes status (becomes valid, or expires), if sooner.
static long long valid_until(const struct mh_pki_spec *spec, time_t now) {
  long long until = (long long)now + MH_PKI_CACHE_MAX_AGE_S;
  for (size_t i = 0; i < spec->num_entities; i++) {
    const struct mh_pki_entity *e = &spec->entities[i];
    if (e->imported) {
      continue;  // its dates are its own, with or without a cache
    }
    if (e->not_before > 0 && now + e->not_before < until) {
      until = now + e->not_before;
    }
    if (e->not_after >= 0 && now + e->not_after < until) {
      until = now + e->not_after;
    }
    // A CRL that expires changes what every server using it does.
    if (e->crl_file != NULL && e->crl_next_update >= 0 && now + e->crl_next_update < until) {
      until = now + e->crl_next_update;
    }
  }
  return until;
}

// prune removes the entries of |cache_dir| that have expired at |now|, and temporary
// directories an interrupted store left more than an hour ago.
static void prune(const char *cache_dir, time_t now) {
  DIR *d = opendir(cache_dir);
  if (d == NULL) {
    return;
  }
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/%s", cache_dir, de->d_name);
    if (strncmp(de->d_name, ".tmp-", 5) == 0) {
      if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode) && sb.st_mtime + 3600 < now) {
        remove_flat(path);
      }
      continue;
    }
    if (strlen(de->d_name) != 64 || strspn(de->d_name, "0123456789abcdef") != 64) {
      continue;
    }
    struct entry en = {0};
    const char *why;
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    size_t mlen;
    uint8_t *m = dfd >= 0 ? read_private(dfd, "manifest", &mlen) : NULL;
    if (m != NULL && manifest_parse((char *)m, mlen, &en, &why) == 0 && now >= en.valid_until) {
      remove_flat(path);
    }
    entry_free(&en);
    free(m);
    if (dfd >= 0) {
      close(dfd);
    }
  }
  closedir(d);
}

static int write_manifest(int dfd, const char *const *paths, const mode_t *modes, size_t n,
                          char (*shas)[65], time_t now, long long until, struct mh_err *err) {
  char *text = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&text, &len);
  if (m == NULL) {
    return mh_err_set(err, "fixtures cache: out of memory");
  }
  fprintf(m, "%s\ngenerated %lld\nvalid_until %lld\n", MANIFEST_MAGIC, (long long)now, until);
  for (size_t i = 0; i < n; i++) {
    fprintf(m, "file %03o %s %s\n", (unsigned)modes[i], shas[i], paths[i]);
  }
  if (fclose(m) != 0) {
    free(text);
    return mh_err_set(err, "fixtures cache: out of memory");
  }
  uint8_t sum[32];
  char end[65];
  SHA256((const uint8_t *)text, len, sum);
  hex(sum, sizeof(sum), end);
  int fd = openat(dfd, "manifest", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  int ok = fd >= 0 && write(fd, text, len) == (ssize_t)len && dprintf(fd, "end %s\n", end) == 69;
  ok = fd >= 0 && close(fd) == 0 && ok;
  free(text);
  return ok ? 0 : mh_err_errno(err, "fixtures cache: writing a manifest");
}

int mh_pki_cache_store(const char *cache_dir, const uint8_t digest[32],
                       const struct mh_pki_spec *spec, const char *out_dir,
                       const char *const *paths, size_t num_files, time_t now, struct mh_err *err) {
  char tmp[4096], dir[4096], name[65];
  if (mkdirs_private(cache_dir, err) != 0) {
    return -1;
  }
  snprintf(tmp, sizeof(tmp), "%s/.tmp-XXXXXX", cache_dir);
  if (mkdtemp(tmp) == NULL) {
    return mh_err_errno(err, "%s", tmp);
  }
  char(*shas)[65] = calloc(num_files + 1, sizeof(*shas));
  mode_t *modes = calloc(num_files + 1, sizeof(*modes));
  int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int ret = shas != NULL && modes != NULL && dfd >= 0 ? 0 : mh_err_errno(err, "%s", tmp);
  for (size_t i = 0; i < num_files && ret == 0; i++) {
    ret = copy_in(dfd, i, out_dir, paths[i], shas[i], &modes[i], err);
  }
  if (ret == 0) {
    ret = write_manifest(dfd, paths, modes, num_files, shas, now, valid_until(spec, now), err);
  }
  if (dfd >= 0) {
    close(dfd);
  }
  free(shas);
  free(modes);
  hex(digest, 32, name);
  snprintf(dir, sizeof(dir), "%s/%s", cache_dir, name);
  if (ret == 0) {
    remove_flat(dir);  // a stale entry; a racing store's fresh one is as good as ours
    if (rename(tmp, dir) != 0 && errno != EEXIST && errno != ENOTEMPTY) {
      ret = mh_err_errno(err, "%s", dir);
    }
  }
  remove_flat(tmp);  // gone after a rename
  prune(cache_dir, now);
  return ret;
}
