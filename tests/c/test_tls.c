// Unit tests for the TLS layer: in-memory handshakes, a probe client against a Go-emulating server
// over a BIO pair (no sockets), driven through the harness's own mh_tls_* API. One test per
// outcome row of the emulated Go server (docs/scenarios.md, tls.h): the alert, who sent it, in
// which flight, and the reason in Go's words; then how a connection ends, and the key log.
//
// The certificates are the federation's (fixtures/federation.json), generated once into a
// temporary directory with the harness's own PKI generator.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "base/alerts.h"
#include "input/scenario.h"
#include "pki/pki.h"
#include "tls/tls.h"
#include "tmpdir.h"

#define SERVER_NAME "location-a.semstreams.local"
#define ALLOWED_CN "location-b.semstreams.local"

// --- fixtures ---

static int setup_fixtures(void **state) {
  const char *src = getenv("MH_SOURCE_DIR");
  if (src == NULL || setup(state) != 0) {
    return -1;
  }
  char path[512];
  snprintf(path, sizeof(path), "%s/fixtures/federation.json", src);
  struct mh_arena a;
  mh_arena_init(&a);
  struct mh_pki_spec spec;
  struct mh_err err = {{0}};
  int rc = mh_pki_spec_load(&a, path, &spec, &err);
  if (rc == 0) {
    struct mh_pki_options opts = {.out_dir = root, .quiet = 1};
    rc = mh_pki_generate(&spec, &opts, &err);
  }
  mh_arena_free(&a);
  if (rc != 0) {
    fprintf(stderr, "fixtures: %s\n", err.msg);
  }
  return rc;
}

static int teardown_fixtures(void **state) {
  mh_tls_keylog_close();
  return teardown(state);
}

// fixture returns the path of fixture file |name|, in one of 8 static buffers used in turn: valid
// until 8 more calls.
static const char *fixture(const char *name) {
  static char bufs[8][400];
  static int next;
  char *out = bufs[next++ % 8];
  snprintf(out, sizeof(bufs[0]), "%s/%s", root, name);
  return out;
}

// --- a client and a server over a BIO pair ---

struct server_opts {
  int min_version;
  int require_client_cert;
  const char *allowed_cn;  // NULL: no allow-list
  int no_mtls;             // send no CertificateRequest
};

struct client_opts {
  int version;
  const char *identity;  // NULL: no client certificate
  int key_mismatch;
};

struct pair {
  struct mh_tls_ctx *sctx, *cctx;
  struct mh_tls_conn *s, *c;
  BIO *sbio, *cbio;  // owned by the connections
  enum mh_io s_hs, c_hs;
};

static void pair_open(struct pair *p, const struct server_opts *so, const struct client_opts *co) {
  memset(p, 0, sizeof(*p));
  struct mh_err err = {{0}};
  const char *cas[] = {fixture("federation-ca.pem")};
  const char *cns[] = {so->allowed_cn};
  struct mh_tls_server_policy sp = {
      .cert_file = fixture("location-a-cert.pem"),
      .key_file = fixture("location-a-key.pem"),
      .min_version = so->min_version,
      .mtls = !so->no_mtls,
      .require_client_cert = so->require_client_cert,
      .client_ca_files = cas,
      .num_client_ca_files = 1,
      .allowed_cns = cns,
      .num_allowed_cns = so->allowed_cn != NULL,
      .emulate = MH_EMULATE_GO,
  };
  p->sctx = mh_tls_server_ctx_new(&sp, &err);
  if (p->sctx == NULL) {
    fail_msg("server context: %s", err.msg);
  }
  char cert[64], key[64];
  snprintf(cert, sizeof(cert), "%s-cert.pem", co->identity != NULL ? co->identity : "");
  snprintf(key, sizeof(key), "%s-key.pem", co->identity != NULL ? co->identity : "");
  struct mh_tls_probe_policy cp = {
      .version = co->version,
      .ca_files = cas,
      .num_ca_files = 1,
      .verify = 1,
      .cert_file = co->identity != NULL ? fixture(cert) : NULL,
      .key_file = co->identity != NULL ? fixture(key) : NULL,
      .key_mismatch = co->key_mismatch,
  };
  p->cctx = mh_tls_probe_ctx_new(&cp, &err);
  if (p->cctx == NULL) {
    fail_msg("client context: %s", err.msg);
  }
  assert_int_equal(BIO_new_bio_pair(&p->cbio, 0, &p->sbio, 0), 1);
  p->c = mh_tls_conn_new_bio(p->cctx, p->cbio, SERVER_NAME);
  p->s = mh_tls_conn_new_bio(p->sctx, p->sbio, NULL);
  assert_non_null(p->c);
  assert_non_null(p->s);
  p->c_hs = p->s_hs = MH_IO_WANT_READ;
}

static void pair_close(struct pair *p) {
  mh_tls_conn_free(p->c);
  mh_tls_conn_free(p->s);
  mh_tls_ctx_free(p->cctx);
  mh_tls_ctx_free(p->sctx);
}

static int pending(enum mh_io r) {
  return r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE;
}

// pair_handshake runs both handshakes, turn about, until neither can progress (a bounded number of
// flights: a handshake has at most four).
static void pair_handshake(struct pair *p) {
  for (int round = 0; round < 16 && (pending(p->c_hs) || pending(p->s_hs)); round++) {
    if (pending(p->c_hs)) {
      p->c_hs = mh_tls_handshake(p->c);
    }
    if (pending(p->s_hs)) {
      p->s_hs = mh_tls_handshake(p->s);
    }
  }
}

// client_first_read is the probe's first read after its handshake: what the server did with our
// flight shows here in TLS 1.3.
static enum mh_io client_first_read(struct pair *p) {
  char buf[64];
  size_t n;
  return mh_tls_read(p->c, buf, sizeof(buf), &n);
}

// expect_server_rejects checks a rejection by the server with |alert|: the server sent it (the
// client sent none), with |reason| in Go's words (|prefix|: only its beginning), and the client
// read Go's "remote error" for it.
static void expect_server_rejects(struct pair *p, int alert, const char *reason, int prefix) {
  const struct mh_tls_info *si = mh_tls_conn_info(p->s), *ci = mh_tls_conn_info(p->c);
  assert_int_equal(p->s_hs, MH_IO_FAILED);
  assert_int_equal(si->alert_sent, alert);
  assert_int_equal(si->alert_received, MH_ALERT_NONE);
  assert_int_equal(ci->alert_received, alert);
  assert_int_equal(ci->alert_sent, MH_ALERT_NONE);
  if (prefix) {
    assert_memory_equal(si->reason, reason, strlen(reason));
  } else {
    assert_string_equal(si->reason, reason);
  }
  char remote[128];
  snprintf(remote, sizeof(remote), "remote error: tls: %s", mh_alert_go_text(alert));
  assert_string_equal(ci->reason, remote);
}

// run_tls13 runs a TLS 1.3 case that the server rejects after the client's handshake returned:
// the client sees the alert on its first read (phase first_read).
static void run_tls13(struct pair *p, const struct server_opts *so, const char *identity,
                      int key_mismatch) {
  struct client_opts co = {.version = MH_TLS13, .identity = identity, .key_mismatch = key_mismatch};
  pair_open(p, so, &co);
  pair_handshake(p);
  assert_int_equal(p->c_hs, MH_IO_OK);
  assert_true(mh_tls_conn_info(p->c)->client_flight_sent);
  assert_int_equal(client_first_read(p), MH_IO_FAILED);
}

static const struct server_opts required13 = {.min_version = MH_TLS13, .require_client_cert = 1};
static const struct server_opts required12 = {.min_version = MH_TLS12, .require_client_cert = 1};

static void test_missing_cert_tls13(void **state) {
  (void)state;
  struct pair p;
  run_tls13(&p, &required13, NULL, 0);
  expect_server_rejects(&p, MH_ALERT_CERTIFICATE_REQUIRED,
                        "tls: client didn't provide a certificate", 0);
  pair_close(&p);
}

static void test_missing_cert_tls12(void **state) {
  (void)state;
  struct pair p;
  struct client_opts co = {.version = MH_TLS12};
  pair_open(&p, &required12, &co);
  pair_handshake(&p);
  // TLS 1.2: the server answers the client's flight within the handshake (phase client_flight).
  assert_int_equal(p.c_hs, MH_IO_FAILED);
  assert_true(mh_tls_conn_info(p.c)->client_flight_sent);
  expect_server_rejects(&p, MH_ALERT_BAD_CERTIFICATE, "tls: client didn't provide a certificate",
                        0);
  pair_close(&p);
}

static void test_no_cert_with_allowlist(void **state) {
  (void)state;
  struct pair p;
  struct server_opts so = {.min_version = MH_TLS13, .allowed_cn = ALLOWED_CN};
  run_tls13(&p, &so, NULL, 0);
  expect_server_rejects(&p, MH_ALERT_BAD_CERTIFICATE, "no verified certificate chains", 0);
  pair_close(&p);
}

static void test_unknown_ca(void **state) {
  (void)state;
  struct pair p;
  run_tls13(&p, &required13, "untrusted", 0);
  // The untrusted CA has the trusted CA's name: Go adds its "possibly because" hint.
  expect_server_rejects(&p, MH_ALERT_UNKNOWN_CA,
                        "tls: failed to verify certificate: x509: certificate signed by unknown "
                        "authority (possibly because of \"x509: ECDSA verification failure\" while "
                        "trying to verify candidate authority certificate \"SemStreams Federation "
                        "CA\")",
                        0);
  pair_close(&p);
}

static void test_expired(void **state) {
  (void)state;
  struct pair p;
  run_tls13(&p, &required13, "expired", 0);
  expect_server_rejects(&p, MH_ALERT_CERTIFICATE_EXPIRED,
                        "tls: failed to verify certificate: x509: certificate has expired or is "
                        "not yet valid: current time ",
                        1);
  assert_non_null(strstr(mh_tls_conn_info(p.s)->reason, " is after "));
  pair_close(&p);
}

static void test_not_yet_valid(void **state) {
  (void)state;
  struct pair p;
  run_tls13(&p, &required13, "not-yet-valid", 0);
  expect_server_rejects(&p, MH_ALERT_CERTIFICATE_EXPIRED,
                        "tls: failed to verify certificate: x509: certificate has expired or is "
                        "not yet valid: current time ",
                        1);
  assert_non_null(strstr(mh_tls_conn_info(p.s)->reason, " is before "));
  pair_close(&p);
}

static void test_bad_eku(void **state) {
  (void)state;
  struct pair p;
  run_tls13(&p, &required13, "server-only-eku", 0);
  expect_server_rejects(
      &p, MH_ALERT_BAD_CERTIFICATE,
      "tls: failed to verify certificate: x509: certificate specifies an incompatible key usage",
      0);
  pair_close(&p);
}

static void test_cn_not_allowed(void **state) {
  (void)state;
  struct pair p;
  struct server_opts so = {
      .min_version = MH_TLS13, .require_client_cert = 1, .allowed_cn = ALLOWED_CN};
  run_tls13(&p, &so, "wrong-cn", 0);
  expect_server_rejects(&p, MH_ALERT_BAD_CERTIFICATE,
                        "client certificate CN 'intruder.semstreams.local' not in allowed list", 0);
  pair_close(&p);
}

static void test_key_mismatch(void **state) {
  (void)state;
  struct pair p;
  run_tls13(&p, &required13, "key-mismatch", 1);
  expect_server_rejects(&p, MH_ALERT_DECRYPT_ERROR,
                        "tls: invalid signature by the client certificate: ECDSA verification "
                        "failure",
                        0);
  pair_close(&p);
}

static void test_version_below_minimum(void **state) {
  (void)state;
  struct pair p;
  struct client_opts co = {.version = MH_TLS12, .identity = "location-b"};
  pair_open(&p, &required13, &co);
  pair_handshake(&p);
  // Refused on the ClientHello: the client never sent its flight (phase server_flight). Without
  // a supported_versions extension Go lists every version up to the legacy one.
  assert_int_equal(p.c_hs, MH_IO_FAILED);
  assert_false(mh_tls_conn_info(p.c)->client_flight_sent);
  // No ServerHello: no version, whatever the library's default (TLS 1.2 here) would say.
  assert_false(mh_tls_conn_info(p.c)->server_hello);
  assert_int_equal(mh_tls_conn_info(p.c)->version, 0);
  assert_false(mh_tls_conn_info(p.c)->certificate_request);
  expect_server_rejects(&p, MH_ALERT_PROTOCOL_VERSION,
                        "tls: client offered only unsupported versions: [303 302 301]", 0);
  pair_close(&p);
}

// expect_accepted checks a complete handshake with the client's identity verified, no alert on
// either side, and data both ways.
static void expect_accepted(struct pair *p, int version) {
  assert_int_equal(p->c_hs, MH_IO_OK);
  assert_int_equal(p->s_hs, MH_IO_OK);
  const struct mh_tls_info *si = mh_tls_conn_info(p->s), *ci = mh_tls_conn_info(p->c);
  assert_int_equal(si->version, version);
  assert_true(si->verify_ok);
  assert_true(si->peer_cert);
  assert_string_equal(si->peer_cn, ALLOWED_CN);
  assert_true(ci->verify_ok);
  assert_string_equal(ci->peer_cn, SERVER_NAME);
  assert_string_equal(ci->alpn, "http/1.1");
  size_t n;
  assert_int_equal(mh_tls_write(p->c, "ping", 4, &n), MH_IO_OK);
  char buf[16];
  assert_int_equal(mh_tls_read(p->s, buf, sizeof(buf), &n), MH_IO_OK);
  assert_memory_equal(buf, "ping", 4);
  assert_int_equal(mh_tls_write(p->s, "pong", 4, &n), MH_IO_OK);
  assert_int_equal(mh_tls_read(p->c, buf, sizeof(buf), &n), MH_IO_OK);
  assert_memory_equal(buf, "pong", 4);
  for (int i = 0; i < 2; i++) {
    const struct mh_tls_info *x = i ? si : ci;
    assert_int_equal(x->alert_sent, MH_ALERT_NONE);
    assert_int_equal(x->alert_received, MH_ALERT_NONE);
    assert_int_equal(x->end, MH_END_NONE);
  }
}

static void test_accepted(void **state) {
  (void)state;
  struct server_opts so = {
      .min_version = MH_TLS12, .require_client_cert = 1, .allowed_cn = ALLOWED_CN};
  int versions[] = {MH_TLS13, MH_TLS12};
  for (int i = 0; i < 2; i++) {
    struct pair p;
    struct client_opts co = {.version = versions[i], .identity = "location-b"};
    pair_open(&p, &so, &co);
    pair_handshake(&p);
    expect_accepted(&p, versions[i]);
    pair_close(&p);
  }
}

// ca_subject writes the RFC 2253 subject of fixture |name|.
static void ca_subject(const char *name, char *out, size_t out_len) {
  FILE *f = fopen(fixture(name), "r");
  assert_non_null(f);
  X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
  fclose(f);
  assert_non_null(x);
  BIO *mem = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(mem, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
  int n = BIO_read(mem, out, (int)out_len - 1);
  out[n > 0 ? n : 0] = '\0';
  BIO_free(mem);
  X509_free(x);
}

// The client records the server's flight: its ServerHello's version, whether it asked for a
// client certificate, and the CA names it listed (the server's client CA file).
static void test_certificate_request_recorded(void **state) {
  (void)state;
  char ca[256];
  ca_subject("federation-ca.pem", ca, sizeof(ca));
  assert_memory_equal(ca, "CN=", 3);
  int versions[] = {MH_TLS13, MH_TLS12};
  for (int i = 0; i < 2; i++) {
    for (int mtls = 0; mtls < 2; mtls++) {
      struct server_opts so = {.min_version = MH_TLS12, .no_mtls = !mtls};
      struct client_opts co = {.version = versions[i], .identity = "location-b"};
      struct pair p;
      pair_open(&p, &so, &co);
      pair_handshake(&p);
      assert_int_equal(p.c_hs, MH_IO_OK);
      const struct mh_tls_info *ci = mh_tls_conn_info(p.c);
      assert_true(ci->server_hello);
      assert_int_equal(ci->server_version, versions[i]);
      assert_int_equal(ci->version, versions[i]);
      assert_int_equal(ci->certificate_request, mtls);
      assert_int_equal(ci->num_request_cas, mtls);
      if (mtls) {
        assert_string_equal(mh_tls_conn_request_ca(p.c, 0), ca);
      }
      assert_null(mh_tls_conn_request_ca(p.c, (size_t)mtls));
      pair_close(&p);
    }
  }
}

// A close_notify ends the transport (end close_notify); it is not an alert: "no alert" stays
// MH_ALERT_NONE on both sides.
static void test_close_notify_is_an_end(void **state) {
  (void)state;
  struct pair p;
  struct client_opts co = {.version = MH_TLS13, .identity = "location-b"};
  pair_open(&p, &required13, &co);
  pair_handshake(&p);
  expect_accepted(&p, MH_TLS13);
  mh_tls_close_notify(p.s);
  assert_int_equal(client_first_read(&p), MH_IO_CLOSED);
  const struct mh_tls_info *ci = mh_tls_conn_info(p.c), *si = mh_tls_conn_info(p.s);
  assert_int_equal(ci->end, MH_END_CLOSE_NOTIFY);
  assert_int_equal(ci->alert_received, MH_ALERT_NONE);
  assert_int_equal(si->alert_sent, MH_ALERT_NONE);
  pair_close(&p);
}

// The peer's EOF without close_notify is a FIN.
static void test_eof_is_fin(void **state) {
  (void)state;
  struct pair p;
  struct client_opts co = {.version = MH_TLS13, .identity = "location-b"};
  pair_open(&p, &required13, &co);
  pair_handshake(&p);
  expect_accepted(&p, MH_TLS13);
  assert_int_equal(BIO_shutdown_wr(p.sbio), 1);
  assert_int_equal(client_first_read(&p), MH_IO_CLOSED);
  const struct mh_tls_info *ci = mh_tls_conn_info(p.c);
  assert_int_equal(ci->end, MH_END_FIN);
  assert_int_equal(ci->alert_received, MH_ALERT_NONE);
  assert_string_equal(ci->reason, "EOF");
  pair_close(&p);
}

// Plain HTTP on the TLS port: Go's words, and the fact for the HTTP layer's 400.
static void test_http_on_tls(void **state) {
  (void)state;
  struct pair p;
  struct client_opts co = {.version = MH_TLS13};
  pair_open(&p, &required13, &co);
  static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  assert_int_equal(BIO_write(p.cbio, req, sizeof(req) - 1), (int)sizeof(req) - 1);
  assert_int_equal(mh_tls_handshake(p.s), MH_IO_FAILED);
  const struct mh_tls_info *si = mh_tls_conn_info(p.s);
  assert_true(si->http_on_tls);
  assert_string_equal(si->reason, "tls: first record does not look like a TLS handshake");
  pair_close(&p);
}

static long file_size(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

// The key log holds secrets: an existing file with a wider mode is made 0600 before anything is
// appended, and nothing is written after mh_tls_keylog_close. Runs last: the key log is the
// process's.
static void test_keylog_mode_and_close(void **state) {
  (void)state;
  char path[400];
  snprintf(path, sizeof(path), "%s", fixture("keys.log"));  // fixture()'s buffers are reused
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fclose(f);
  assert_int_equal(chmod(path, 0644), 0);
  struct mh_err err = {{0}};
  assert_int_equal(mh_tls_keylog_open(path, &err), 0);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);

  struct pair p;
  struct client_opts co = {.version = MH_TLS13, .identity = "location-b"};
  pair_open(&p, &required13, &co);
  pair_handshake(&p);
  assert_int_equal(p.c_hs, MH_IO_OK);
  pair_close(&p);
  long size = file_size(path);
  assert_true(size > 0);

  mh_tls_keylog_close();
  pair_open(&p, &required13, &co);
  pair_handshake(&p);
  assert_int_equal(p.c_hs, MH_IO_OK);
  assert_true(mh_tls_conn_keylog(p.c)[0] != '\0');  // the connection keeps its own
  pair_close(&p);
  assert_int_equal(file_size(path), size);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_missing_cert_tls13),
      cmocka_unit_test(test_missing_cert_tls12),
      cmocka_unit_test(test_no_cert_with_allowlist),
      cmocka_unit_test(test_unknown_ca),
      cmocka_unit_test(test_expired),
      cmocka_unit_test(test_not_yet_valid),
      cmocka_unit_test(test_bad_eku),
      cmocka_unit_test(test_cn_not_allowed),
      cmocka_unit_test(test_key_mismatch),
      cmocka_unit_test(test_version_below_minimum),
      cmocka_unit_test(test_accepted),
      cmocka_unit_test(test_certificate_request_recorded),
      cmocka_unit_test(test_close_notify_is_an_end),
      cmocka_unit_test(test_eof_is_fin),
      cmocka_unit_test(test_http_on_tls),
      cmocka_unit_test(test_keylog_mode_and_close),
  };
  return cmocka_run_group_tests(tests, setup_fixtures, teardown_fixtures);
}
