// pebble: the ACME test server of a scenario (see pebble.h): its config file, the two child
// processes, the wait until it answers, and its root fetched over HTTPS.
#include "mock/pebble.h"

#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/jsonw.h"
#include "base/net.h"
#include "base/spawn.h"
#include "tls/tls.h"
#include "base/tls_version.h"

#define START_TIMEOUT_S 15.0  // pebble generates its CA keys before it listens
#define FETCH_TIMEOUT_MS 5000
#define ROOT_MAX 65536

struct mh_pebble {
  pid_t pebble;
  pid_t dns;
};

// write_config writes pebble's JSON config for |pc| into |path|.
static int write_config(const struct mh_pebble_config *pc, const char *path, struct mh_err *err) {
  struct mh_jsonw w;
  mh_jsonw_init(&w);
  mh_jsonw_object_begin(&w);
  mh_jsonw_key(&w, "pebble");
  mh_jsonw_object_begin(&w);
  mh_jsonw_key(&w, "listenAddress");
  mh_jsonw_string(&w, pc->listen);
  mh_jsonw_key(&w, "managementListenAddress");
  mh_jsonw_string(&w, pc->management);
  mh_jsonw_key(&w, "certificate");
  mh_jsonw_string(&w, pc->certificate);
  mh_jsonw_key(&w, "privateKey");
  mh_jsonw_string(&w, pc->private_key);
  mh_jsonw_key(&w, "httpPort");
  mh_jsonw_int(&w, pc->http_port);
  mh_jsonw_key(&w, "tlsPort");
  mh_jsonw_int(&w, pc->tls_port);
  mh_jsonw_key(&w, "ocspResponderURL");
  mh_jsonw_string(&w, "");
  mh_jsonw_key(&w, "externalAccountBindingRequired");
  mh_jsonw_bool(&w, 0);
  mh_jsonw_key(&w, "certificateValidityPeriod");
  mh_jsonw_int(&w, pc->validity_s);
  mh_jsonw_object_end(&w);
  mh_jsonw_object_end(&w);
  int rc = -1;
  FILE *f = NULL;
  if (mh_jsonw_finish(&w) != 0) {
    mh_err_set(err, "out of memory");
    goto out;
  }
  f = fopen(path, "w");
  if (f == NULL || fputs(w.buf, f) < 0) {
    mh_err_errno(err, "%s: cannot write pebble's config", path);
    goto out;
  }
  rc = 0;
out:
  if (f != NULL && fclose(f) != 0 && rc == 0) {
    rc = mh_err_errno(err, "%s: cannot write pebble's config", path);
  }
  mh_jsonw_cleanup(&w);
  return rc;
}

// wait_io waits for |events| on |fd| until |deadline| (clock ms). Returns 0 or -1 at the deadline.
static int wait_io(int fd, short events, double deadline) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  double now = ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
  if (now >= deadline) {
    return -1;
  }
  struct pollfd p = {.fd = fd, .events = events};
  return poll(&p, 1, (int)(deadline - now) + 1) > 0 ? 0 : -1;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// https_get fetches https://|hostport||path| into |out| (|*out_len| bytes, NUL-terminated; the
// body only). pebble is our own child on loopback: its certificate is not checked (the root we
// fetch is what makes its issued certificates checkable). Returns 0 or -1.
static int https_get(const char *hostport, const char *path, char *out, size_t cap,
                     size_t *out_len) {
  char host[64];
  int port = 0, rc = -1, fd = -1;
  size_t n = 0;
  struct mh_tls_client_policy pol = {.insecure_skip_verify = 1, .min_version = MH_TLS12};
  struct mh_err err;
  struct mh_tls_ctx *ctx = NULL;
  struct mh_tls_conn *t = NULL;
  double deadline = now_ms() + FETCH_TIMEOUT_MS;
  if (mh_net_split_host_port(hostport, host, sizeof(host), &port, &err) != 0 ||
      (ctx = mh_tls_client_ctx_new(&pol, &err)) == NULL || (fd = mh_net_connect(host, port)) < 0 ||
      wait_io(fd, POLLOUT, deadline) != 0 || mh_net_connect_result(fd) != 0 ||
      (t = mh_tls_conn_new(ctx, fd, NULL)) == NULL) {
    goto out;
  }
  enum mh_io io;
  while ((io = mh_tls_handshake(t)) == MH_IO_WANT_READ || io == MH_IO_WANT_WRITE) {
    if (wait_io(fd, io == MH_IO_WANT_READ ? POLLIN : POLLOUT, deadline) != 0) {
      goto out;
    }
  }
  char req[256];
  int req_len = snprintf(
      req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, hostport);
  size_t sent = 0, got;
  while (io == MH_IO_OK && sent < (size_t)req_len) {
    io = mh_tls_write(t, req + sent, (size_t)req_len - sent, &got);
    sent += io == MH_IO_OK ? got : 0;
    if ((io == MH_IO_WANT_WRITE || io == MH_IO_WANT_READ) &&
        wait_io(fd, io == MH_IO_WANT_READ ? POLLIN : POLLOUT, deadline) == 0) {
      io = MH_IO_OK;
    }
  }
  while (io == MH_IO_OK && n + 1 < cap) {
    io = mh_tls_read(t, out + n, cap - 1 - n, &got);
    n += io == MH_IO_OK ? got : 0;
    if (io == MH_IO_WANT_READ && wait_io(fd, POLLIN, deadline) == 0) {
      io = MH_IO_OK;
    }
  }
  out[n] = '\0';
  char *body = strstr(out, "\r\n\r\n");
  if (io == MH_IO_CLOSED && strncmp(out, "HTTP/1.1 200", 12) == 0 && body != NULL) {
    *out_len = n - (size_t)(body + 4 - out);
    memmove(out, body + 4, *out_len + 1);
    rc = 0;
  }
out:
  mh_tls_conn_free(t);
  if (fd >= 0) {
    close(fd);
  }
  mh_tls_ctx_free(ctx);
  return rc;
}

// fetch_root waits until pebble's management endpoint answers with its root and writes it to the
// scenario's root file (0644: a CA certificate). Returns 0 or -1 with |err| set.
static int fetch_root(const struct mh_pebble_config *pc, struct mh_pebble *p, const char *log,
                      struct mh_err *err) {
  char *buf = malloc(ROOT_MAX);
  size_t len = 0;
  int rc = -1;
  struct timespec pause = {0, 100000000L};
  for (int i = 0; i < (int)(START_TIMEOUT_S * 10) && buf != NULL; i++) {
    if (https_get(pc->management, "/roots/0", buf, ROOT_MAX, &len) == 0 &&
        strstr(buf, "-----BEGIN CERTIFICATE-----") != NULL) {
      rc = 0;
      break;
    }
    if (mh_spawn_poll(p->pebble) >= 0) {
      p->pebble = 0;
      mh_err_set(err, "pebble exited at start (its log: %s)", log);
      goto out;
    }
    nanosleep(&pause, NULL);
  }
  if (rc != 0) {
    mh_err_set(err, "pebble: no root from https://%s/roots/0 within %.0f s (its log: %s)",
               pc->management, START_TIMEOUT_S, log);
    goto out;
  }
  // Through a temporary name: a reader never sees half a root.
  char tmp[4200];
  snprintf(tmp, sizeof(tmp), "%s.tmp", pc->root_file);
  FILE *f = fopen(tmp, "w");
  int ok = f != NULL && fwrite(buf, 1, len, f) == len;
  if (f != NULL) {
    ok = fclose(f) == 0 && ok;
  }
  if (!ok || rename(tmp, pc->root_file) != 0) {
    rc = mh_err_errno(err, "%s: cannot write pebble's root", pc->root_file);
    unlink(tmp);
  }
out:
  free(buf);
  return rc;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int mh_pebble_start(const struct mh_scenario *s, struct mh_pebble **out, struct mh_err *err) {
  const struct mh_pebble_config *pc = s->pebble;
  *out = NULL;
  if (pc == NULL) {
    return 0;
  }
  char acme_dir[4096], cfg[4200], log[4200], dns_log[4200];
  snprintf(acme_dir, sizeof(acme_dir), "%s/acme", s->fixtures_dir);
  snprintf(cfg, sizeof(cfg), "%s/pebble-config.json", pc->work_dir);
  snprintf(log, sizeof(log), "%s/pebble.log", pc->work_dir);
  snprintf(dns_log, sizeof(dns_log), "%s/challtestsrv.log", pc->work_dir);
  // pebble keeps nothing between runs (a new root, no accounts): what an earlier run stored under
  // acme/ can never be used again, so it goes (links are removed, never followed).
  struct stat sb;
  if (lstat(acme_dir, &sb) == 0 && nftw(acme_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
    return mh_err_errno(err, "%s: cannot remove an earlier run's ACME state", acme_dir);
  }
  if ((mkdir(acme_dir, 0700) != 0 && errno != EEXIST) ||
      (mkdir(pc->work_dir, 0700) != 0 && errno != EEXIST)) {
    return mh_err_errno(err, "%s: cannot create pebble's directory", pc->work_dir);
  }
  struct mh_pebble *p = calloc(1, sizeof(*p));
  if (p == NULL) {
    return mh_err_set(err, "out of memory");
  }
  // Every name resolves to 127.0.0.1 (challtestsrv's default answer), where lego listens; its
  // challenge servers are not needed (lego serves the challenges).
  const char *dns_argv[] = {"pebble-challtestsrv",
                            "-dns01",
                            pc->dns,
                            "-http01",
                            "",
                            "-https01",
                            "",
                            "-tlsalpn01",
                            "",
                            "-management",
                            "127.0.0.1:0",
                            "-defaultIPv4",
                            "127.0.0.1",
                            "-defaultIPv6",
                            "",
                            NULL};
  const char *argv[] = {"pebble", "-config", cfg, "-dnsserver", pc->dns, NULL};
  // No random validation sleeps, no rejected nonces, fresh authorizations for each order: the
  // runs stay short and each renewal validates again.
  const char *env[] = {"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0",
                       NULL};
  if (write_config(pc, cfg, err) != 0 ||
      (p->dns = mh_spawn_start(dns_argv, NULL, dns_log, "pebble", err)) < 0 ||
      (p->pebble = mh_spawn_start(argv, env, log, "pebble", err)) < 0 ||
      fetch_root(pc, p, log, err) != 0) {
    mh_pebble_stop(p);
    return -1;
  }
  *out = p;
  return 0;
}

void mh_pebble_stop(struct mh_pebble *p) {
  if (p == NULL) {
    return;
  }
  mh_spawn_stop(p->pebble, 5.0);
  mh_spawn_stop(p->dns, 5.0);
  free(p);
}
