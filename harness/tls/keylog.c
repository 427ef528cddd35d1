// keylog: the NSS key log (SSLKEYLOGFILE format): every connection's secrets, appended to the
// process's key log file if there is one (--keylog, or the SSLKEYLOGFILE environment variable),
// and kept per connection for the runner's capture files.
//
// The file holds secrets: whoever opens it, it is made 0600, also when it existed with a wider
// mode (we are about to append secrets to it). One file per process, behind a lock: contexts of
// every thread write to it.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tls/internal.h"

static pthread_mutex_t keylog_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *keylog_file;       // guarded by keylog_mu
static int keylog_env_checked;  // guarded by keylog_mu: SSLKEYLOGFILE was looked at (or overridden)

// keylog_fopen opens |path| for appending; a regular file is made 0600 whether it is created or
// not, and refused if its mode cannot be changed (a pipe or a terminal is the user's choice and
// keeps its mode). Returns NULL with errno set on failure.
static FILE *keylog_fopen(const char *path) {
  // Never through a symbolic link: it could send the secrets anywhere (errno ELOOP).
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    return NULL;
  }
  FILE *f = NULL;
  struct stat sb;
  if (fstat(fd, &sb) == 0 && (!S_ISREG(sb.st_mode) || fchmod(fd, 0600) == 0)) {
    f = fdopen(fd, "a");
  }
  if (f == NULL) {
    close(fd);
  }
  return f;
}

int mh_tls_keylog_open(const char *path, struct mh_err *err) {
  FILE *f = keylog_fopen(path);
  if (f == NULL && errno == ELOOP) {
    return mh_err_set(err, "%s: is a symbolic link; the key log is never written through one",
                      path);
  }
  if (f == NULL) {
    return mh_err_errno(err, "%s: cannot open the key log", path);
  }
  pthread_mutex_lock(&keylog_mu);
  if (keylog_file != NULL) {
    fclose(keylog_file);
  }
  keylog_file = f;
  keylog_env_checked = 1;
  pthread_mutex_unlock(&keylog_mu);
  return 0;
}

void mh_tls_keylog_close(void) {
  pthread_mutex_lock(&keylog_mu);
  if (keylog_file != NULL) {
    fclose(keylog_file);
    keylog_file = NULL;
  }
  keylog_env_checked = 1;  // closed for good: SSLKEYLOGFILE is not opened again
  pthread_mutex_unlock(&keylog_mu);
}

// keylog_open_env opens SSLKEYLOGFILE on first use, unless --keylog opened a file. A file that
// cannot be opened is ignored, as other TLS tools do (a symbolic link with a warning on stderr).
// Call with keylog_mu held.
static void keylog_open_env(void) {
  if (!keylog_env_checked) {
    keylog_env_checked = 1;
    const char *env = getenv("SSLKEYLOGFILE");
    if (env != NULL && env[0] != '\0') {
      keylog_file = keylog_fopen(env);
      // The one warning this layer prints itself: the variable is read lazily, deep in a
      // handshake, and an operator who set it must learn why no secrets appear.
      if (keylog_file == NULL && errno == ELOOP) {
        fprintf(stderr, "mtls-harness: warning: SSLKEYLOGFILE %s is a symbolic link: no key log\n",
                env);
      }
    }
  }
}

// Contexts whose connections keep no key log of their own (servers, load) install the key log
// callback only when this is true: it formats every secret and takes a lock.
int mh_tls_keylog_active(void) {
  pthread_mutex_lock(&keylog_mu);
  keylog_open_env();
  int active = keylog_file != NULL;
  pthread_mutex_unlock(&keylog_mu);
  return active;
}

void mh_tls_keylog_cb(const SSL *ssl, const char *line) {
  struct mh_tls_conn *t = mh_tls_conn_of(ssl);
  size_t n = strlen(line);
  if (t != NULL && t->keylog == NULL) {
    t->keylog = calloc(1, MH_TLS_KEYLOG_LEN);  // NULL: the secrets are not kept, as when full
  }
  if (t != NULL && t->keylog != NULL && t->keylog_len + n + 2 < MH_TLS_KEYLOG_LEN) {
    memcpy(t->keylog + t->keylog_len, line, n);
    t->keylog_len += n;
    t->keylog[t->keylog_len++] = '\n';
    t->keylog[t->keylog_len] = '\0';
  }
  pthread_mutex_lock(&keylog_mu);
  keylog_open_env();
  if (keylog_file != NULL) {
    fprintf(keylog_file, "%s\n", line);
    fflush(keylog_file);
  }
  pthread_mutex_unlock(&keylog_mu);
}

const char *mh_tls_conn_keylog(const struct mh_tls_conn *t) {
  return t->keylog != NULL ? t->keylog : "";
}
