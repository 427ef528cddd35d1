// acme: a location whose certificates change while it runs (see internal.h): ACME mode as
// tlsutil.LoadServerTLSConfigWithACME and pkg/acme do it (stored certificate, else lego, else the
// fallback files), the hourly renewal loop, what a renewal changes (the server keeps its startup
// certificate unless "hot_reload"; the client's next dial uses the new one) and rotation on
// command. lego runs as a bounded child process on a worker thread, so the loop never waits for it.
// Only a primary renews and rotates; the replicas on other loops follow its server certificate.
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/mem.h>
#include <openssl/x509.h>

#include "base/spawn.h"
#include "mock/internal.h"
#include "pki/inspect.h"
#include "pki/reissue.h"

#define LEGO_TIMEOUT_S 120.0
#define LEGO_POLL_NS 50000000L

// One lego at a time in this process: every location of a scenario answers its challenges on the
// same port (the one the ACME server validates).
static pthread_mutex_t lego_mu = PTHREAD_MUTEX_INITIALIZER;

// fmt is snprintf for paths and messages that fit (PATH_MAX bounds them); a longer result is cut.
static void fmt(char *out, size_t len, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *out, size_t len, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  vsnprintf(out, len, f, ap);
  va_end(ap);
}

static int mkdir_p(const char *path, mode_t mode) {
  char buf[4096];
  fmt(buf, sizeof(buf), "%s", path);
  for (char *p = buf + 1; *p != '\0'; p++) {
    if (*p == '/') {
      *p = '\0';
      if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
        return -1;
      }
      *p = '/';
    }
  }
  return mkdir(buf, mode) != 0 && errno != EEXIST ? -1 : chmod(buf, mode);
}

// copy_file copies |src| to |dst| with |mode| through a temporary name, so |dst| is whole or old.
static int copy_file(const char *src, const char *dst, mode_t mode) {
  char tmp[4200], buf[8192];
  fmt(tmp, sizeof(tmp), "%s.tmp", dst);
  int in = open(src, O_RDONLY | O_CLOEXEC), rc = -1;
  int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  ssize_t n = 0;
  while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0) {
    if (write(out, buf, (size_t)n) != n) {
      n = -1;
      break;
    }
  }
  if (in >= 0 && out >= 0 && n == 0 && fchmod(out, mode) == 0) {
    rc = 0;
  }
  if (in >= 0) {
    close(in);
  }
  if (out >= 0 && close(out) != 0) {
    rc = -1;
  }
  if (rc == 0 && rename(tmp, dst) != 0) {
    rc = -1;
  }
  if (rc != 0) {
    unlink(tmp);
  }
  return rc;
}

// cert_facts reads the serial (hex) and not-after of the leaf in |path|. Returns 0 or -1.
static int cert_facts(const char *path, char *serial, size_t serial_len, long long *not_after) {
  struct mh_inspect_cert c;
  struct mh_err err;
  memset(&c, 0, sizeof(c));
  int rc = -1;
  if (mh_inspect_load(&c, path, NULL, &err) == 0) {
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(c.leaf), NULL);
    char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
    if (hex != NULL) {
      fmt(serial, serial_len, "%s", hex);
      *not_after = c.not_after;
      rc = 0;
    }
    OPENSSL_free(hex);
    BN_free(bn);
  }
  mh_inspect_cleanup(&c);
  return rc;
}

// last_line copies the last non-empty line of |path| from |offset| into |out| (lego's error).
static void last_line(const char *path, long offset, char *out, size_t out_len) {
  FILE *f = fopen(path, "r");
  char line[1024];
  fmt(out, out_len, "lego failed without a message (its output: %s)", path);
  if (f == NULL) {
    return;
  }
  fseek(f, offset, SEEK_SET);
  while (fgets(line, sizeof(line), f) != NULL) {
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] != '\0') {
      // lego's lines start with a date and time: keep what follows them.
      const char *msg = strlen(line) > 20 && line[4] == '/' && line[7] == '/' ? line + 20 : line;
      fmt(out, out_len, "%s", msg);
    }
  }
  fclose(f);
}

// challenge_address is where lego answers the challenge: the port the scenario's pebble validates
// on (loopback), else the real system's :80 or :443 on the location's address.
static void challenge_address(const struct mh_acme_role *r, char *out, size_t out_len) {
  const struct mh_pebble_config *pc = r->loc->fed->s->pebble;
  int port = r->cfg->tls_alpn ? (pc ? pc->tls_port : 443) : (pc ? pc->http_port : 80);
  fmt(out, out_len, "%s:%d", pc ? "127.0.0.1" : r->loc->cfg->address, port);
}

// install copies what lego wrote in |work| into the storage directory in the real layout and
// modes: account.json, account.key (0600), certificate.pem (0644, with its chain), certificate.key
// (0600); the directory is 0700.
static int install(const struct mh_acme_config *a, const char *work, struct mh_err *err) {
  const char *url = a->directory_url, *host = strstr(url, "://");
  host = host != NULL ? host + 3 : url;
  char hostdir[256], src[8192], dst[4200];
  fmt(hostdir, sizeof(hostdir), "%.*s", (int)strcspn(host, "/"), host);
  for (char *p = hostdir; *p != '\0'; p++) {
    *p = *p == ':' ? '_' : *p;  // lego's account directory is named so
  }
  const char *to[] = {"certificate.pem", "certificate.key", "account.json", "account.key"};
  const mode_t modes[] = {0644, 0600, 0600, 0600};
  if (mkdir_p(a->storage_dir, 0700) != 0) {
    return mh_err_errno(err, "%s: cannot create the ACME storage directory", a->storage_dir);
  }
  for (size_t i = 0; i < 4; i++) {
    if (i == 0) {
      fmt(src, sizeof(src), "%s/certificates/%s.crt", work, a->domains[0]);
    } else if (i == 1) {
      fmt(src, sizeof(src), "%s/certificates/%s.key", work, a->domains[0]);
    } else if (i == 2) {
      fmt(src, sizeof(src), "%s/accounts/%s/%s/account.json", work, hostdir, a->email);
    } else {
      fmt(src, sizeof(src), "%s/accounts/%s/%s/keys/%s.key", work, hostdir, a->email, a->email);
    }
    fmt(dst, sizeof(dst), "%s/%s", a->storage_dir, to[i]);
    if (copy_file(src, dst, modes[i]) != 0) {
      return mh_err_errno(err, "%s: cannot store %s", src, dst);
    }
  }
  return 0;
}

// lego_obtain gets a new certificate for |r| with lego (`lego run`: an existing account is
// reused; every run makes a new ECDSA P-256 key) and stores it. Returns 0, or -1 with |err| set to
// lego's own error line.
static int lego_obtain(struct mh_acme_role *r, struct mh_err *err) {
  const struct mh_acme_config *a = r->cfg;
  char work[4200], log[4300], chal[300], env_ca[4200];
  fmt(work, sizeof(work), "%s.lego", a->storage_dir);
  fmt(log, sizeof(log), "%s/lego.log", work);
  challenge_address(r, chal, sizeof(chal));
  if (mkdir_p(work, 0700) != 0) {
    return mh_err_errno(err, "%s: cannot create lego's directory", work);
  }
  const char *argv[64];
  size_t n = 0;
  argv[n++] = "lego";
  argv[n++] = "--server";
  argv[n++] = a->directory_url;
  argv[n++] = "--email";
  argv[n++] = a->email;
  for (size_t i = 0; i < a->num_domains && n < 48; i++) {
    argv[n++] = "--domains";
    argv[n++] = a->domains[i];
  }
  argv[n++] = "--accept-tos";
  argv[n++] = "--key-type";
  argv[n++] = "ec256";  // certcrypto.EC256, as SemStreams
  argv[n++] = "--path";
  argv[n++] = work;
  argv[n++] = a->tls_alpn ? "--tls" : "--http";
  argv[n++] = a->tls_alpn ? "--tls.port" : "--http.port";
  argv[n++] = chal;
  argv[n++] = "run";
  argv[n] = NULL;
  fmt(env_ca, sizeof(env_ca), "LEGO_CA_CERTIFICATES=%s", a->ca_bundle ? a->ca_bundle : "");
  const char *env[] = {env_ca, NULL};
  struct stat sb;
  long offset = stat(log, &sb) == 0 ? (long)sb.st_size : 0;
  pthread_mutex_lock(&lego_mu);
  pid_t pid = mh_spawn_start(argv, a->ca_bundle ? env : NULL, log, "lego", err);
  int st = -1;
  if (pid > 0) {
    atomic_store(&r->child, pid);
    struct timespec pause = {0, LEGO_POLL_NS};
    for (long i = 0; i < (long)(LEGO_TIMEOUT_S * 1e9 / LEGO_POLL_NS); i++) {
      if ((st = mh_spawn_poll(pid)) >= 0 || atomic_load(&r->stopping)) {
        break;
      }
      nanosleep(&pause, NULL);
    }
    if (st < 0) {
      mh_spawn_stop(pid, 1.0);
    }
    atomic_store(&r->child, 0);
  }
  pthread_mutex_unlock(&lego_mu);
  if (pid <= 0) {
    return -1;
  }
  if (st != 0) {
    char why[600];
    last_line(log, offset, why, sizeof(why));
    return mh_err_set(err, "%s", st < 0 ? "lego ran too long and was stopped" : why);
  }
  return install(a, work, err);
}

// due says whether the stored certificate of |a| must be renewed (RenewCertificateIfNeeded:
// now > NotAfter - renew_before), or is missing.
static int due(const struct mh_acme_config *a) {
  char path[4200], serial[80];
  long long not_after = 0;
  fmt(path, sizeof(path), "%s/certificate.pem", a->storage_dir);
  if (cert_facts(path, serial, sizeof(serial), &not_after) != 0) {
    return 1;
  }
  return (double)time(NULL) > (double)not_after - a->renew_before_s;
}

static void role_event(struct mh_acme_role *r, const char *name, const char *why) {
  struct mh_event e;
  mh_events_begin(&e, r->loc->cfg->name, NULL, name);
  mh_events_str(&e, "role", r->is_server ? "server" : "client");
  mh_events_str(&e, "serial", r->serial);
  mh_events_int(&e, "not_after", r->not_after);
  mh_events_str(&e, "certificate", r->cert);
  if (why != NULL) {
    mh_events_str(&e, "reason", why);
  }
  mh_events_write(r->loc->fed->ev, &e);
}

// use_files makes |cert| and |key| the files |r| presents.
static void use_files(struct mh_acme_role *r, const char *cert, const char *key) {
  fmt(r->cert, sizeof(r->cert), "%s", cert);
  fmt(r->key, sizeof(r->key), "%s", key);
  r->serial[0] = '\0';
  r->not_after = 0;
  cert_facts(cert, r->serial, sizeof(r->serial), &r->not_after);
}

// startup is LoadServerTLSConfigWithACME (or its client twin) for role |r|: the stored
// certificate if it is not due, else a new one, else the fallback files if both are set.
static int startup(struct mh_acme_role *r, const char *fb_cert, const char *fb_key,
                   struct mh_err *err) {
  const struct mh_acme_config *a = r->cfg;
  char cert[4200], key[4200];
  fmt(cert, sizeof(cert), "%s/certificate.pem", a->storage_dir);
  fmt(key, sizeof(key), "%s/certificate.key", a->storage_dir);
  if (!due(a)) {
    use_files(r, cert, key);
    role_event(r, "acme_certificate", "stored, not due for renewal");
    return 0;
  }
  struct mh_err why;
  if (lego_obtain(r, &why) == 0) {
    use_files(r, cert, key);
    role_event(r, "acme_certificate", "obtained");
    return 0;
  }
  if (fb_cert != NULL && fb_key != NULL) {
    use_files(r, fb_cert, fb_key);
    r->fallback = 1;
    char note[MH_ERR_LEN + 200];
    fmt(note, sizeof(note),
        "obtain ACME certificate failed: %s; serving cert_file/key_file (the harness's "
        "observation: SemStreams falls back silently)",
        why.msg);
    role_event(r, "acme_fallback", note);
    return 0;
  }
  return mh_err_set(err, "tlsutil.%s: obtain ACME certificate failed: %s",
                    r->is_server ? "LoadServerTLSConfigWithACME" : "LoadClientTLSConfigWithACME",
                    why.msg);
}

// worker runs on its own thread: is |r| due (or forced), then lego; the loop hears of it through
// |r->done|.
static void *worker(void *arg) {
  struct mh_acme_role *r = arg;
  struct mh_err err;
  r->result = 0;
  if (r->forced || due(r->cfg)) {
    r->result = lego_obtain(r, &err) == 0 ? 1 : -1;
    fmt(r->why, sizeof(r->why), "%s", r->result < 0 ? err.msg : "");
  }
  ev_async_send(r->loc->fed->loop, &r->done);
  return NULL;
}

// start_worker starts a check (or, |forced|, a rotation) on the role's worker thread. A check due
// while the previous one runs is skipped (the next comes an interval later); a rotation is not:
// the operator asked for one certificate change, so it waits for the running check to end
// (done_cb starts it), or it would be lost whenever a renewal happened to be under way.
static void start_worker(struct mh_acme_role *r, int forced) {
  if (r->loc->fed->stopped) {
    return;
  }
  if (r->thread_running) {
    r->rotate_pending |= forced;
    return;
  }
  r->forced = forced;
  r->thread_running = pthread_create(&r->thread, NULL, worker, r) == 0;
}

static void check_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  start_worker(w->data, 0);
}

// hand_over gives the files the primary's server role |r| now presents to the same location of
// each replica, whose loop swaps to them (follow_cb). Runs on the primary's loop; the replicas
// live until that loop has stopped (serve.c, load/location.c stop it first).
static void hand_over(struct mh_acme_role *r) {
  struct mh_loc *l = r->loc;
  struct mh_federation *f = l->fed;
  size_t idx = (size_t)(l - f->locs), n = 0;
  if (!r->is_server || f->primary != NULL) {
    return;  // a replica never dials, so its client role never changes
  }
  for (size_t i = 0; i < f->num_replicas; i++) {
    n += f->replicas[i]->locs[idx].acme != NULL;  // always: same scenario, same decision
  }
  // Counted before any is sent, so that the last replica to take its hand-over is the one that
  // brings the count to 0.
  atomic_fetch_add(&l->acme->followers_left, (int)n);
  for (size_t i = 0; i < f->num_replicas; i++) {
    struct mh_federation *rf = f->replicas[i];
    struct mh_acme_state *rs = rf->locs[idx].acme;
    if (rs == NULL) {
      continue;
    }
    pthread_mutex_lock(&rs->follow_mu);
    fmt(rs->follow_cert, sizeof(rs->follow_cert), "%s", r->cert);
    fmt(rs->follow_key, sizeof(rs->follow_key), "%s", r->key);
    rs->follow_posts++;
    pthread_mutex_unlock(&rs->follow_mu);
    ev_async_send(rf->loop, &rs->follow);
  }
}

// swap makes new connections of |r|'s role use the certificate now stored; the old context stays
// alive for the connections that use it. On a primary, the replicas then follow (hand_over).
// Returns 0, or -1 after logging certificate_swap_failed (the role keeps its context).
static int swap(struct mh_acme_role *r) {
  struct mh_loc *l = r->loc;
  struct mh_acme_state *st = l->acme;
  struct mh_tls_ctx **slot = r->is_server ? &l->server_ctx : &l->client_ctx;
  struct mh_tls_ctx *next = NULL;
  struct mh_err err;
  if (st->num_retired == MH_ACME_MAX_RETIRED) {
    role_event(r, "certificate_swap_failed", "too many certificate changes in one run");
    return -1;
  }
  next = r->is_server ? mh_federation_server_ctx(l, r->cert, r->key, &err)
                      : mh_federation_client_ctx(l, r->cert, r->key, &err);
  if (next == NULL) {
    role_event(r, "certificate_swap_failed", err.msg);
    return -1;
  }
  st->retired[st->num_retired++] = *slot;
  *slot = next;
  hand_over(r);
  return 0;
}

// follow_cb runs on a replica's loop: it swaps the server role of its location to the files the
// primary handed over (the latest, when several came at once). The replica that takes the
// primary's last outstanding hand-over logs one "replicas_followed" for all loops, so a change is
// not logged once per loop.
static void follow_cb(struct ev_loop *loop, ev_async *w, int revents) {
  (void)loop;
  (void)revents;
  struct mh_loc *l = w->data;
  struct mh_acme_state *st = l->acme;
  struct mh_federation *pf = l->fed->primary;
  char cert[4096], key[4096];
  pthread_mutex_lock(&st->follow_mu);
  int posts = st->follow_posts;
  st->follow_posts = 0;
  fmt(cert, sizeof(cert), "%s", st->follow_cert);
  fmt(key, sizeof(key), "%s", st->follow_key);
  pthread_mutex_unlock(&st->follow_mu);
  if (posts == 0) {
    return;  // an earlier wake-up took this hand-over
  }
  use_files(&st->server, cert, key);
  int failed = swap(&st->server) != 0;
  struct mh_acme_state *ps = pf->locs[l - l->fed->locs].acme;
  if (failed) {
    atomic_fetch_add(&ps->followers_failed, posts);
  }
  if (atomic_fetch_sub(&ps->followers_left, posts) != posts) {
    return;  // other replicas have yet to follow
  }
  int all_failed = atomic_exchange(&ps->followers_failed, 0);
  struct mh_event e;
  mh_events_begin(&e, l->cfg->name, NULL, "replicas_followed");
  mh_events_str(&e, "role", "server");
  mh_events_str(&e, "serial", st->server.serial);
  mh_events_int(&e, "not_after", st->server.not_after);
  // Every loop of the location serves it to new handshakes, but those whose swap failed.
  mh_events_int(&e, "loops", 1 + (long long)pf->num_replicas - all_failed);
  mh_events_int(&e, "failed", all_failed);
  mh_events_write(l->fed->ev, &e);
}

// apply_result logs the worker's result and, for a new certificate, swaps to it.
static void apply_result(struct mh_acme_role *r) {
  if (r->result == 0) {
    role_event(r, "acme_check", "not due for renewal");
    return;
  }
  if (r->result < 0) {
    role_event(r, r->forced ? "rotate_failed" : "acme_renew_failed", r->why);
    return;
  }
  char old_serial[80], cert[4200], key[4200];
  long long old_not_after = r->not_after;
  fmt(old_serial, sizeof(old_serial), "%s", r->serial);
  fmt(cert, sizeof(cert), "%s/certificate.pem", r->cfg->storage_dir);
  fmt(key, sizeof(key), "%s/certificate.key", r->cfg->storage_dir);
  struct mh_acme_role next = *r;
  use_files(&next, cert, key);
  int applies = !r->is_server || r->forced || r->loc->cfg->acme.hot_reload;
  struct mh_event e;
  mh_events_begin(&e, r->loc->cfg->name, NULL, r->forced ? "rotated" : "acme_renewed");
  mh_events_str(&e, "role", r->is_server ? "server" : "client");
  mh_events_str(&e, "old_serial", old_serial);
  mh_events_int(&e, "old_not_after", old_not_after);
  mh_events_str(&e, "new_serial", next.serial);
  mh_events_int(&e, "new_not_after", next.not_after);
  if (r->forced) {
    mh_events_str(&e, "key", "new");  // lego makes a new key for every order
  }
  mh_events_str(&e, "serving",
                !applies ? "the startup certificate: net/http cloned the TLS config at ServeTLS "
                           "(set \"hot_reload\": true to serve renewals)"
                : r->is_server ? "the new certificate, to new handshakes"
                               : "the new certificate, from the next dial");
  mh_events_write(r->loc->fed->ev, &e);
  if (applies) {
    use_files(r, cert, key);
    r->fallback = 0;
    swap(r);  // on failure the role keeps its context; the event says why
  }
}

// rotate_manual renews a manual-mode server certificate from the fixture CA that issued it (the
// same or a new key, as "rotate" says) and serves it to new handshakes.
static void rotate_manual(struct mh_acme_role *r) {
  const struct mh_scenario *s = r->loc->fed->s;
  const struct mh_location *cfg = r->loc->cfg;
  char path[4096], ca_cert[4096], ca_key[4096], cert[4200], key[4200], dir[4100];
  int ca = -1;
  for (size_t i = 0; i < s->spec.num_entities && ca < 0; i++) {
    mh_scenario_fixture_path(s, s->spec.entities[i].cert_file, path, sizeof(path));
    if (strcmp(path, r->cert) == 0) {
      ca = s->spec.entities[i].issuer;
    }
  }
  const struct mh_pki_entity *e = ca >= 0 ? &s->spec.entities[ca] : NULL;
  if (e == NULL || e->key_file == NULL || (e->imported && e->import_key == NULL)) {
    role_event(r, "rotate_failed",
               "the certificate was not issued by a CA of the fixture spec whose key the harness "
               "holds, so it cannot be renewed from the same CA");
    return;
  }
  mh_scenario_fixture_path(s, e->cert_file, ca_cert, sizeof(ca_cert));
  mh_scenario_fixture_path(s, e->key_file, ca_key, sizeof(ca_key));
  fmt(dir, sizeof(dir), "%s/rotated", s->fixtures_dir);
  fmt(cert, sizeof(cert), "%s/%s-cert.pem", dir, cfg->name);
  fmt(key, sizeof(key), "%s/%s-key.pem", dir, cfg->name);
  struct mh_err err;
  if (mkdir_p(dir, 0700) != 0) {
    mh_err_errno(&err, "%s: cannot create the directory of rotated certificates", dir);
    role_event(r, "rotate_failed", err.msg);
    return;
  }
  if (mh_reissue_cert(r->cert, r->key, ca_cert, ca_key, cfg->acme.rotate_new_key, cert, key,
                      &err) != 0) {
    role_event(r, "rotate_failed", err.msg);
    return;
  }
  char old_serial[80];
  long long old_not_after = r->not_after;
  fmt(old_serial, sizeof(old_serial), "%s", r->serial);
  use_files(r, cert, key);
  struct mh_event ev;
  mh_events_begin(&ev, cfg->name, NULL, "rotated");
  mh_events_str(&ev, "role", "server");
  mh_events_str(&ev, "old_serial", old_serial);
  mh_events_int(&ev, "old_not_after", old_not_after);
  mh_events_str(&ev, "new_serial", r->serial);
  mh_events_int(&ev, "new_not_after", r->not_after);
  mh_events_str(&ev, "key", cfg->acme.rotate_new_key ? "new" : "same");
  mh_events_str(&ev, "serving", "the new certificate, to new handshakes");
  mh_events_write(r->loc->fed->ev, &ev);
  swap(r);  // on failure the role keeps its context; the event says why
}

// done_cb takes the worker's result on the loop's thread, applies it, then starts a rotation that
// came due meanwhile.
static void done_cb(struct ev_loop *loop, ev_async *w, int revents) {
  (void)loop;
  (void)revents;
  struct mh_acme_role *r = w->data;
  pthread_join(r->thread, NULL);
  r->thread_running = 0;
  apply_result(r);
  if (r->rotate_pending) {
    r->rotate_pending = 0;
    start_worker(r, 1);
  }
}

static void rotate_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  struct mh_loc *l = w->data;
  if (l->acme->server.cfg != NULL) {
    start_worker(&l->acme->server, 1);  // ACME: a renewal from the same ACME server
  } else {
    rotate_manual(&l->acme->server);
  }
}

// role_init prepares |r| (watchers, files) for role |is_server| of |l| with ACME config |a|.
static void role_init(struct mh_acme_role *r, struct mh_loc *l, const struct mh_acme_config *a,
                      int is_server) {
  r->loc = l;
  r->cfg = a;
  r->is_server = is_server;
  ev_timer_init(&r->check, check_cb, 0., 0.);
  r->check.data = r;
  ev_async_init(&r->done, done_cb);
  r->done.data = r;
}

int mh_acme_loc_init(struct mh_loc *l, struct mh_tls_server_policy *out_server,
                     struct mh_tls_client_policy *out_client, struct mh_err *err) {
  const struct mh_location *cfg = l->cfg;
  const struct mh_acme_location *al = &cfg->acme;
  int has_server = cfg->server_tls && (al->server != NULL || al->rotate_at_s >= 0);
  int has_client = al->client != NULL;
  *out_server = cfg->server;
  *out_client = cfg->client;
  if (!has_server && !has_client) {
    return 0;
  }
  struct mh_acme_state *st = l->acme = calloc(1, sizeof(*st));
  if (st == NULL) {
    return mh_err_set(err, "out of memory");
  }
  role_init(&st->server, l, al->server, 1);
  role_init(&st->client, l, al->client, 0);
  ev_timer_init(&st->rotate, rotate_cb, 0., 0.);
  st->rotate.data = l;
  pthread_mutex_init(&st->follow_mu, NULL);
  atomic_init(&st->followers_left, 0);
  atomic_init(&st->followers_failed, 0);
  ev_async_init(&st->follow, follow_cb);
  st->follow.data = l;
  struct mh_federation *pf = l->fed->primary;
  if (pf != NULL) {
    ev_async_start(l->fed->loop, &st->follow);  // before any loop runs, as the mailbox's
    // A replica presents what its primary decided (the primary renews and rotates; it is built
    // before the primary's loop runs, so this reads no half-made change).
    const struct mh_acme_state *ps = pf->locs[l - l->fed->locs].acme;
    use_files(&st->server, ps->server.cert, ps->server.key);
    use_files(&st->client, ps->client.cert, ps->client.key);
  } else if (has_server && al->server == NULL) {
    use_files(&st->server, cfg->server.cert_file, cfg->server.key_file);
  } else if (has_server &&
             startup(&st->server, cfg->server.cert_file, cfg->server.key_file, err) != 0) {
    return -1;
  }
  if (pf == NULL && has_client &&
      startup(&st->client, cfg->client.cert_file, cfg->client.key_file, err) != 0) {
    return -1;
  }
  if (has_server) {
    out_server->cert_file = st->server.cert;
    out_server->key_file = st->server.key;
  }
  if (has_client) {
    out_client->cert_file = st->client.cert;
    out_client->key_file = st->client.key;
  }
  return 0;
}

void mh_acme_loc_start(struct mh_loc *l) {
  struct mh_acme_state *st = l->acme;
  struct ev_loop *loop = l->fed->loop;
  if (st == NULL || l->fed->primary != NULL || st->started) {
    return;  // a replica, or started before an outage
  }
  st->started = 1;
  struct mh_acme_role *roles[] = {&st->server, &st->client};
  for (size_t i = 0; i < 2; i++) {
    ev_async_start(loop, &roles[i]->done);
    if (roles[i]->cfg != NULL) {
      double every = l->cfg->acme.check_interval_s;
      ev_timer_set(&roles[i]->check, every, every);
      ev_timer_start(loop, &roles[i]->check);
    }
  }
  if (l->cfg->acme.rotate_at_s >= 0 && l->cfg->server_tls) {
    ev_timer_set(&st->rotate, l->cfg->acme.rotate_at_s, 0.);
    ev_timer_start(loop, &st->rotate);
  }
}

void mh_acme_loc_free(struct mh_loc *l) {
  struct mh_acme_state *st = l->acme;
  if (st == NULL) {
    return;
  }
  struct ev_loop *loop = l->fed->loop;
  ev_timer_stop(loop, &st->rotate);
  ev_async_stop(loop, &st->follow);  // a no-op on a primary
  pthread_mutex_destroy(&st->follow_mu);
  struct mh_acme_role *roles[] = {&st->server, &st->client};
  for (size_t i = 0; i < 2; i++) {
    struct mh_acme_role *r = roles[i];
    ev_timer_stop(loop, &r->check);
    ev_async_stop(loop, &r->done);
    if (r->thread_running) {
      atomic_store(&r->stopping, 1);  // the worker stops lego and returns
      pthread_join(r->thread, NULL);
    }
  }
  for (size_t i = 0; i < st->num_retired; i++) {
    mh_tls_ctx_free(st->retired[i]);
  }
  free(st);
  l->acme = NULL;
}
