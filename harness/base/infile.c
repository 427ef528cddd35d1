// infile: a certificate, key or CA file checked before a library parses it (see infile.h).
#include "base/infile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// A PEM file's markers come early; a CA bundle is about 200 KiB. What is past this is left to the
// parser, and a file longer than this is never said to lack something.
#define HEAD_LEN (256 * 1024)

int mh_infile_open_failed(const char *path, const char *what, int errno_value, struct mh_err *err) {
  switch (errno_value) {
    case ENOENT:
    case ENOTDIR:
      return mh_err_set(err, "%s: no such file (check the path of the %s)", path, what);
    case EACCES:
    case EPERM:
      return mh_err_set(err,
                        "%s: cannot read the %s: permission denied (run as a user that can read "
                        "it, or chmod it so that this user can)",
                        path, what);
    case ELOOP:
      return mh_err_set(err, "%s: cannot open the %s: too many symbolic links (check the path)",
                        path, what);
    default:
      return mh_err_set(err, "%s: cannot open the %s: %s", path, what, strerror(errno_value));
  }
}

static int has(const char *buf, size_t len, const char *s) {
  return memmem(buf, len, s, strlen(s)) != NULL;
}

// der_tool is the openssl command that turns |path| into PEM, for a file of |flags|.
static const char *der_tool(int flags) {
  return (flags & MH_INFILE_KEY) ? "pkey" : (flags & MH_INFILE_CRL) ? "crl" : "x509";
}

// check_content checks the first |len| bytes of |path| (all of it unless |truncated|).
static int check_content(const char *path, const char *what, int flags, const char *buf, size_t len,
                         int truncated, struct mh_err *err) {
  if (!has(buf, len, "-----BEGIN ")) {
    if (len > 0 && (unsigned char)buf[0] == 0x30) {
      return mh_err_set(err,
                        "%s: the %s is DER (binary), not PEM (convert it: openssl %s -inform der "
                        "-in %s -out %s.pem, and give %s.pem)",
                        path, what, der_tool(flags), path, path, path);
    }
    return mh_err_set(err,
                      "%s: the %s is not PEM: no \"-----BEGIN %s-----\" line (is it the right "
                      "file?)",
                      path, what,
                      (flags & MH_INFILE_KEY)   ? "PRIVATE KEY"
                      : (flags & MH_INFILE_CRL) ? "X509 CRL"
                                                : "CERTIFICATE");
  }
  if ((flags & MH_INFILE_CRL) != 0 && !truncated && !has(buf, len, "-----BEGIN X509 CRL-----")) {
    return mh_err_set(err,
                      "%s: the %s holds no CRL%s (give the CA's CRL file: \"-----BEGIN X509 "
                      "CRL-----\")",
                      path, what,
                      has(buf, len, "-----BEGIN CERTIFICATE-----") ? ", only certificates" : "");
  }
  if ((flags & MH_INFILE_KEY) != 0) {
    int encrypted = has(buf, len, "-----BEGIN ENCRYPTED PRIVATE KEY-----") ||
                    has(buf, len, "Proc-Type: 4,ENCRYPTED");
    if (encrypted && (flags & MH_INFILE_ENCRYPTED_OK) == 0) {
      return mh_err_set(err,
                        "%s: the %s is encrypted, and the harness does not ask for passphrases "
                        "here (decrypt it: openssl pkey -in %s -out plain-key.pem; chmod 600 "
                        "plain-key.pem; or import it in a fixture spec with \"passphrase_file\" "
                        "or \"passphrase_env\", see docs/pki-spec.md)",
                        path, what, path);
    }
    if (!truncated && !has(buf, len, "PRIVATE KEY-----")) {
      return mh_err_set(err,
                        "%s: the %s holds no private key%s (give the key file: \"-----BEGIN "
                        "PRIVATE KEY-----\")",
                        path, what,
                        has(buf, len, "-----BEGIN CERTIFICATE-----") ? ", only a certificate" : "");
    }
  }
  if ((flags & MH_INFILE_CERT) != 0 && !truncated &&
      !has(buf, len, "-----BEGIN CERTIFICATE-----")) {
    return mh_err_set(err,
                      "%s: the %s holds no certificate%s (give the certificate file: \"-----BEGIN "
                      "CERTIFICATE-----\")",
                      path, what, has(buf, len, "PRIVATE KEY-----") ? ", only a private key" : "");
  }
  return 0;
}

// check_stat checks what |st| says of |path|: a directory, an empty file.
static int check_stat(const char *path, const char *what, int flags, const struct stat *st,
                      struct mh_err *err) {
  if (S_ISDIR(st->st_mode)) {
    return mh_err_set(err, "%s: is a directory, not a %s (give the file itself%s)", path, what,
                      (flags & MH_INFILE_CA) != 0
                          ? "; for a directory of CA certificates, concatenate them into one "
                            "file: cat DIR/*.pem > ca.pem"
                          : "");
  }
  if (!S_ISREG(st->st_mode)) {
    return 0;
  }
  if (st->st_size == 0) {
    return mh_err_set(err, "%s: the %s is empty (was it written completely? give a PEM file)", path,
                      what);
  }
  return 0;
}

// check_mode refuses a private key that group or others may read, as ssh does (docs/pki-spec.md
// says why refused rather than warned about).
static int check_mode(const char *path, const char *what, int flags, const struct stat *st,
                      struct mh_err *err) {
  if ((flags & MH_INFILE_KEY) != 0 && S_ISREG(st->st_mode) && (st->st_mode & 077) != 0) {
    return mh_err_set(err,
                      "%s: the %s is readable by group or others (mode %04o): refused, as ssh "
                      "refuses such keys (chmod 600 %s)",
                      path, what, (unsigned)(st->st_mode & 07777), path);
  }
  return 0;
}

int mh_infile_check(const char *path, const char *what, int flags, struct mh_err *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    return mh_infile_open_failed(path, what, errno, err);
  }
  int ret = -1;
  char *head = NULL;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    mh_err_errno(err, "%s: cannot read the %s", path, what);
    goto out;
  }
  if (check_stat(path, what, flags, &st, err) != 0) {
    goto out;
  }
  if (!S_ISREG(st.st_mode)) {
    ret = 0;  // a pipe is read once, by the parser
    goto out;
  }
  size_t want = st.st_size < HEAD_LEN ? (size_t)st.st_size : HEAD_LEN;
  head = malloc(want);
  ssize_t n = head != NULL ? pread(fd, head, want, 0) : -1;
  if (n < 0) {
    mh_err_errno(err, "%s: cannot read the %s", path, what);
    goto out;
  }
  if (check_content(path, what, flags, head, (size_t)n, (off_t)n < st.st_size, err) != 0 ||
      check_mode(path, what, flags, &st, err) != 0) {
    goto out;
  }
  ret = 0;
out:
  free(head);
  close(fd);
  return ret;
}
