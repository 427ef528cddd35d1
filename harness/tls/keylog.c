// keylog: the NSS key log (SSLKEYLOGFILE format): every connection's secrets, appended to the
// process's key log file if there is one (--keylog, or the SSLKEYLOGFILE environment variable),
// and kept per connection for the runner's capture files.
//
// One file per process, behind a lock: contexts of every thread write to it.
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

int mh_tls_keylog_open(const char *path, struct mh_err *err) {
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return mh_err_errno(err, "%s: cannot open the key log", path);
  }
  fchmod(fd, 0600);
  FILE *f = fdopen(fd, "a");
  if (f == NULL) {
    close(fd);
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

// keylog_open_env opens SSLKEYLOGFILE on first use, unless --keylog opened a file. Call with
// keylog_mu held.
static void keylog_open_env(void) {
  if (!keylog_env_checked) {
    keylog_env_checked = 1;
    const char *env = getenv("SSLKEYLOGFILE");
    if (env != NULL && env[0] != '\0') {
      int fd = open(env, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      keylog_file = fd >= 0 ? fdopen(fd, "a") : NULL;
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
  if (t != NULL && t->keylog_len + n + 2 < sizeof(t->keylog)) {
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
  return t->keylog;
}
