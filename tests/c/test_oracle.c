// Unit tests for oracle.c: what the policy and the certificates say a location must do with each
// identity (the SemStreams federation scenario and its profile, read from the source tree), and the
// verdict on crafted outcomes: every verdict of the table, from the outcome that earns it.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/alerts.h"
#include "conform/oracle.h"
#include "conform/verdict.h"
#include "conform/warnings.h"
#include "input/policy.h"
#include "report/report.h"
#include "input/scenario.h"
#include "tmpdir.h"

struct world {
  struct mh_arena a;
  struct mh_scenario s;
  struct mh_profile semstreams;
  struct mh_profile nginx;
};

static int world_setup(void **state) {
  if (setup(state) != 0) {
    return -1;
  }
  const char *src = getenv("MH_SOURCE_DIR");
  assert_non_null(src);
  struct world *w = calloc(1, sizeof(*w));
  assert_non_null(w);
  mh_arena_init(&w->a);
  char path[512], profiles[512];
  snprintf(path, sizeof(path), "%s/scenarios/federation.json", src);
  snprintf(profiles, sizeof(profiles), "%s/profiles", src);
  struct mh_scenario_options opts = {.fixtures_dir = root, .quiet = 1};
  struct mh_err err = {0};
  struct mh_pki_options popts = {.out_dir = root, .quiet = 1};
  // The oracle reads the certificates: generate them, as the runner does before planning.
  if (mh_scenario_load(&w->a, path, &opts, &w->s, &err) != 0 ||
      mh_pki_generate(&w->s.spec, &popts, &err) != 0 ||
      mh_profile_load(&w->a, profiles, "semstreams", &w->semstreams, &err) != 0 ||
      mh_profile_load(&w->a, profiles, "nginx-http", &w->nginx, &err) != 0) {
    fail_msg("%s", err.msg);
  }
  *state = w;
  return 0;
}

static int world_teardown(void **state) {
  struct world *w = *state;
  mh_arena_free(&w->a);
  free(w);
  return teardown(state);
}

static struct mh_expectation expect_at(struct world *w, const struct mh_location *L,
                                       const char *identity, int version,
                                       const struct mh_profile *prof) {
  struct mh_case_spec k = {.target = L->name, .identity = identity, .version = version};
  struct mh_expectation x;
  struct mh_err err = {0};
  if (mh_oracle_expect(&w->s, L, &k, prof, &x, &err) != 0) {
    fail_msg("%s", err.msg);
  }
  return x;
}

static struct mh_expectation expect(struct world *w, const char *target, const char *identity,
                                    int version, const struct mh_profile *prof) {
  const struct mh_location *L = mh_scenario_location(&w->s, target);
  assert_non_null(L);
  return expect_at(w, L, identity, version, prof);
}

// check_federation_matrix checks location A's policy (|L|: A itself, or A with its client CA
// named another way) against every identity of the federation.
static void check_federation_matrix(struct world *w, const struct mh_location *L) {
  static const struct {
    const char *identity;
    int version;
    int reject;
    enum mh_reason reason;
    int alert;  // the one allowed alert, MH_ALERT_NONE for an acceptance
  } rows[] = {
      {"location-b", MH_TLS13, 0, MH_REASON_NONE, MH_ALERT_NONE},
      {"location-b", MH_TLS12, 0, MH_REASON_NONE, MH_ALERT_NONE},
      {"location-b-ed25519", MH_TLS13, 0, MH_REASON_NONE, MH_ALERT_NONE},
      {NULL, MH_TLS13, 1, MH_REASON_MISSING_CERT, MH_ALERT_CERTIFICATE_REQUIRED},
      {NULL, MH_TLS12, 1, MH_REASON_MISSING_CERT, MH_ALERT_BAD_CERTIFICATE},
      {"location-c", MH_TLS13, 1, MH_REASON_CN_NOT_ALLOWED, MH_ALERT_BAD_CERTIFICATE},
      {"wrong-cn", MH_TLS12, 1, MH_REASON_CN_NOT_ALLOWED, MH_ALERT_BAD_CERTIFICATE},
      {"expired", MH_TLS13, 1, MH_REASON_EXPIRED, MH_ALERT_CERTIFICATE_EXPIRED},
      {"not-yet-valid", MH_TLS13, 1, MH_REASON_NOT_YET_VALID, MH_ALERT_CERTIFICATE_EXPIRED},
      {"untrusted", MH_TLS13, 1, MH_REASON_UNKNOWN_CA, MH_ALERT_UNKNOWN_CA},
      {"self-signed", MH_TLS12, 1, MH_REASON_UNKNOWN_CA, MH_ALERT_UNKNOWN_CA},
      {"server-only-eku", MH_TLS13, 1, MH_REASON_BAD_EKU, MH_ALERT_BAD_CERTIFICATE},
      {"key-mismatch", MH_TLS13, 1, MH_REASON_BAD_SIGNATURE, MH_ALERT_DECRYPT_ERROR},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    struct mh_expectation x = expect_at(w, L, rows[i].identity, rows[i].version, &w->semstreams);
    char what[160];
    mh_oracle_describe(&x, what, sizeof(what));
    print_message("%s %s: %s\n", rows[i].identity ? rows[i].identity : "none",
                  rows[i].version == MH_TLS13 ? "1.3" : "1.2", what);
    assert_int_equal(x.reject, rows[i].reject);
    assert_int_equal(x.reason, rows[i].reason);
    if (rows[i].reject) {
      assert_int_equal(x.side, 's');
      assert_int_equal(x.layer, MH_LAYER_TLS);
      // The profile may allow more than one (semstreams: Go 1.19's measured alert beside the
      // newer releases'); the row's must be among them.
      int found = 0;
      for (size_t j = 0; j < x.num_alerts; j++) {
        found |= x.alerts[j] == rows[i].alert;
      }
      assert_true(found);
    }
  }
}

// The federation's policy (A admits only location-b's CN, through federation-ca, clientAuth, valid
// now) decides each identity; the semstreams profile gives Go's alert for each reason.
static void test_expectations_follow_policy(void **state) {
  struct world *w = *state;
  check_federation_matrix(w, mh_scenario_location(&w->s, "location-a"));
  // B admits location-c, not location-b: the allow-list is the location's own.
  assert_int_equal(expect(w, "location-b", "location-c", MH_TLS13, &w->semstreams).reject, 0);
  assert_int_equal(expect(w, "location-b", "location-b", MH_TLS13, &w->semstreams).reason,
                   MH_REASON_CN_NOT_ALLOWED);
}

// with_client_ca returns location A with its client CA files replaced by the one file |ca|.
static struct mh_location with_client_ca(struct world *w, const char *ca) {
  struct mh_location L = *mh_scenario_location(&w->s, "location-a");
  const char **files = mh_arena_alloc_array(&w->a, 1, sizeof(*files));
  assert_non_null(files);
  files[0] = mh_arena_strdup(&w->a, ca);
  L.server.client_ca_files = files;
  L.server.num_client_ca_files = 1;
  L.policy.client_ca_files = files;
  L.policy.num_client_ca_files = 1;
  return L;
}

// Trust follows the certificate, not the fixture's name or path: the policy naming a copy of
// federation-ca by its own absolute path (what an operator writes) gives the same verdicts.
static void test_ca_named_by_its_own_path(void **state) {
  struct world *w = *state;
  char copy[512], cmd[1200];
  snprintf(copy, sizeof(copy), "%s/operator/the-deployment-ca.crt", root);
  snprintf(cmd, sizeof(cmd), "mkdir -p '%s/operator' && cp '%s/federation-ca.pem' '%s'", root, root,
           copy);
  assert_int_equal(system(cmd), 0);
  struct mh_location L = with_client_ca(w, copy);
  check_federation_matrix(w, &L);
}

// A CA with the same name and another key is unknown: with only untrusted-ca (federation-ca's
// subject, another key) trusted, location-b is unknown_ca and "untrusted" is the one admitted.
static void test_same_name_other_key_is_unknown(void **state) {
  struct world *w = *state;
  char ca[512];
  snprintf(ca, sizeof(ca), "%s/untrusted-ca.pem", root);
  struct mh_location L = with_client_ca(w, ca);
  struct mh_expectation x = expect_at(w, &L, "location-b", MH_TLS13, &w->semstreams);
  assert_int_equal(x.reject, 1);
  assert_int_equal(x.reason, MH_REASON_UNKNOWN_CA);
  x = expect_at(w, &L, "untrusted", MH_TLS13, &w->semstreams);
  assert_int_equal(x.reject, 0);
  // The intermediate's chain reaches federation-ca only: unknown here too.
  x = expect_at(w, &L, "intermediate-signed", MH_TLS13, &w->semstreams);
  assert_int_equal(x.reason, MH_REASON_UNKNOWN_CA);
}

// An unreadable CA file is the harness's input error, not a verdict.
static void test_unreadable_ca_file_is_an_error(void **state) {
  struct world *w = *state;
  char ca[512];
  snprintf(ca, sizeof(ca), "%s/no-such-ca.pem", root);
  struct mh_location L = with_client_ca(w, ca);
  struct mh_case_spec k = {.target = L.name, .identity = "location-b", .version = MH_TLS13};
  struct mh_expectation x;
  struct mh_err err = {0};
  assert_int_equal(mh_oracle_expect(&w->s, &L, &k, &w->semstreams, &x, &err), -1);
  assert_non_null(strstr(err.msg, "no-such-ca.pem"));
}

// Another stack's profile moves the same reason to another layer: nginx answers at HTTP.
static void test_profile_decides_layer(void **state) {
  struct world *w = *state;
  struct mh_expectation x = expect(w, "location-a", "expired", MH_TLS13, &w->nginx);
  assert_int_equal(x.reason, MH_REASON_EXPIRED);
  assert_int_equal(x.layer, MH_LAYER_HTTP);
  assert_int_equal(x.status, 400);
}

static struct mh_case_outcome rejected(char by, enum mh_layer layer, int alert, int status) {
  struct mh_case_outcome o;
  memset(&o, 0, sizeof(o));
  o.result = MH_RESULT_REJECTED;
  o.rejected_by = by;
  o.layer = layer;
  o.tls.alert_sent = by == 'c' ? alert : MH_ALERT_NONE;
  o.tls.alert_received = by == 's' ? alert : MH_ALERT_NONE;
  o.http_status = status;
  // A server that behaves: its ServerHello chose the version offered, it asked for a client
  // certificate, and the client sent its flight.
  o.tls.server_hello = 1;
  o.tls.server_version = MH_TLS13;
  o.tls.certificate_request = 1;
  o.tls.client_flight_sent = 1;
  return o;
}

// verdict judges |o| against |x| for a TLS 1.3 case, keeping the reason in a buffer of its own.
static char why[600];
static enum mh_verdict verdict(const struct mh_expectation *x, const struct mh_case_outcome *o,
                               int version) {
  return mh_verdict_judge(x, o, version, why, sizeof(why));
}

// Every verdict, each from the outcome that earns it.
static void test_verdicts(void **state) {
  (void)state;
  struct mh_expectation accept = {.reject = 0};
  struct mh_expectation reject116 = {.reject = 1,
                                     .reason = MH_REASON_MISSING_CERT,
                                     .side = 's',
                                     .layer = MH_LAYER_TLS,
                                     .alerts = {MH_ALERT_CERTIFICATE_REQUIRED},
                                     .num_alerts = 1};
  struct mh_expectation reject400 = {
      .reject = 1, .reason = MH_REASON_EXPIRED, .side = 's', .layer = MH_LAYER_HTTP, .status = 400};
  struct mh_case_outcome ok;
  memset(&ok, 0, sizeof(ok));
  ok.result = MH_RESULT_ACCEPTED;
  ok.tls.alert_sent = ok.tls.alert_received = MH_ALERT_NONE;
  struct mh_case_outcome lost;
  memset(&lost, 0, sizeof(lost));
  lost.result = MH_RESULT_INCONCLUSIVE;

  assert_int_equal(verdict(&accept, &ok, MH_TLS13), MH_VERDICT_PASS);
  assert_int_equal(verdict(&reject116, &ok, MH_TLS13), MH_VERDICT_UNEXPECTED_ACCEPT);
  struct mh_case_outcome r116 = rejected('s', MH_LAYER_TLS, MH_ALERT_CERTIFICATE_REQUIRED, 0);
  assert_int_equal(verdict(&reject116, &r116, MH_TLS13), MH_VERDICT_PASS);
  assert_int_equal(verdict(&accept, &r116, MH_TLS13), MH_VERDICT_UNEXPECTED_REJECT);
  struct mh_case_outcome r40 = rejected('s', MH_LAYER_TLS, MH_ALERT_HANDSHAKE_FAILURE, 0);
  assert_int_equal(verdict(&reject116, &r40, MH_TLS13), MH_VERDICT_PASS_CONCEPTUAL);
  assert_int_equal(mh_verdict_fails(MH_VERDICT_PASS_CONCEPTUAL, 0), 0);
  assert_int_equal(mh_verdict_fails(MH_VERDICT_PASS_CONCEPTUAL, 1), 1);
  // Our own refusal of the server's flight is no judgement of the client certificate; a rejection
  // at the other layer is not the one the policy asks for.
  struct mh_case_outcome by_us = rejected('c', MH_LAYER_TLS, MH_ALERT_BAD_CERTIFICATE, 0);
  assert_int_equal(verdict(&reject116, &by_us, MH_TLS13), MH_VERDICT_NOT_ATTRIBUTABLE);
  assert_non_null(strstr(why, "the client refused the server's handshake"));
  struct mh_case_outcome h400 = rejected('s', MH_LAYER_HTTP, MH_ALERT_NONE, 400);
  assert_int_equal(verdict(&reject116, &h400, MH_TLS13), MH_VERDICT_PASS_CONCEPTUAL);
  assert_non_null(strstr(why, "refused at HTTP 400 where the profile predicts alert 116"));
  assert_int_equal(verdict(&reject400, &h400, MH_TLS13), MH_VERDICT_PASS);
  struct mh_case_outcome h403 = rejected('s', MH_LAYER_HTTP, MH_ALERT_NONE, 403);
  assert_int_equal(verdict(&reject400, &h403, MH_TLS13), MH_VERDICT_PASS_CONCEPTUAL);
  // A TLS 1.3 CertificateRequest after the handshake: our client cannot answer it, so whatever
  // follows says nothing of the certificate.
  struct mh_case_outcome pha = rejected('c', MH_LAYER_TLS, MH_ALERT_NONE, 0);
  pha.tls.post_handshake_auth = 1;
  assert_int_equal(verdict(&reject116, &pha, MH_TLS13), MH_VERDICT_NOT_ATTRIBUTABLE);
  assert_non_null(strstr(why, "post-handshake authentication"));
  assert_int_equal(verdict(&accept, &pha, MH_TLS13), MH_VERDICT_NOT_ATTRIBUTABLE);
  // Our client ended a case where the policy expects the server's refusal: never the server's.
  struct mh_case_outcome ours = rejected('c', MH_LAYER_TLS, MH_ALERT_NONE, 0);
  struct mh_expectation any_server = {.reject = 1, .side = 's', .explicit_ = 1};
  assert_int_equal(verdict(&any_server, &ours, MH_TLS12), MH_VERDICT_NOT_ATTRIBUTABLE);
  assert_non_null(strstr(why, "the client refused the server's handshake"));
  assert_int_equal(verdict(&reject116, &lost, MH_TLS13), MH_VERDICT_INCONCLUSIVE);
  assert_int_equal(verdict(&accept, &lost, MH_TLS13), MH_VERDICT_INCONCLUSIVE);
  assert_int_equal(mh_verdict_fails(MH_VERDICT_INCONCLUSIVE, 0), 1);
}

// Broken servers: a rejection passes a certificate expectation only after a CertificateRequest and
// the client's flight; a version failure of the server is no certificate rejection; a server that
// never asks for a certificate does not enforce mTLS.
static void test_attribution(void **state) {
  (void)state;
  struct mh_expectation reject116 = {.reject = 1,
                                     .reason = MH_REASON_MISSING_CERT,
                                     .side = 's',
                                     .layer = MH_LAYER_TLS,
                                     .alerts = {MH_ALERT_CERTIFICATE_REQUIRED},
                                     .num_alerts = 1,
                                     .cert_request = 1};
  struct mh_expectation accept = {.reject = 0, .cert_request = 1};
  // A RST right after the ClientHello.
  struct mh_case_outcome rst = rejected('s', MH_LAYER_TLS, MH_ALERT_NONE, 0);
  rst.tls.server_hello = rst.tls.certificate_request = rst.tls.client_flight_sent = 0;
  rst.tls.server_version = 0;
  rst.end = MH_END_RST;
  assert_int_equal(verdict(&reject116, &rst, MH_TLS13), MH_VERDICT_NOT_ATTRIBUTABLE);
  assert_string_equal(why,
                      "the server reset the connection after the ClientHello, before asking for "
                      "a client certificate");
  assert_int_equal(verdict(&accept, &rst, MH_TLS13), MH_VERDICT_UNEXPECTED_REJECT);
  assert_non_null(strstr(why, "reset the connection after the ClientHello"));
  // An explicit expectation without a reason takes any rejection by the server.
  struct mh_expectation any = {.reject = 1, .side = 's', .explicit_ = 1, .cert_request = 1};
  assert_int_equal(verdict(&any, &rst, MH_TLS13), MH_VERDICT_PASS);
  // A ServerHello, then an alert, without a CertificateRequest.
  struct mh_case_outcome no_req = rejected('s', MH_LAYER_TLS, MH_ALERT_HANDSHAKE_FAILURE, 0);
  no_req.tls.certificate_request = no_req.tls.client_flight_sent = 0;
  assert_int_equal(verdict(&reject116, &no_req, MH_TLS13), MH_VERDICT_NOT_ATTRIBUTABLE);
  assert_string_equal(why,
                      "the server sent alert 40 handshake_failure without asking for a client "
                      "certificate");
  // A CertificateRequest, then a RST before the client sent its flight.
  struct mh_case_outcome early = rejected('s', MH_LAYER_TLS, MH_ALERT_NONE, 0);
  early.tls.client_flight_sent = 0;
  early.end = MH_END_RST;
  assert_int_equal(verdict(&reject116, &early, MH_TLS13), MH_VERDICT_NOT_ATTRIBUTABLE);
  assert_non_null(strstr(why, "before the client sent its flight"));
  // Accepted without a CertificateRequest: the server does not enforce mTLS.
  struct mh_case_outcome open = {.result = MH_RESULT_ACCEPTED};
  open.tls.alert_sent = open.tls.alert_received = MH_ALERT_NONE;
  open.tls.server_hello = 1;
  open.tls.server_version = MH_TLS13;
  assert_int_equal(verdict(&accept, &open, MH_TLS13), MH_VERDICT_UNEXPECTED_ACCEPT);
  assert_non_null(strstr(why, "without a CertificateRequest"));
  struct mh_expectation plain = {.reject = 0, .cert_request = 0};
  assert_int_equal(verdict(&plain, &open, MH_TLS13), MH_VERDICT_PASS);
  assert_string_equal(why, "");
  assert_int_equal(verdict(&reject116, &open, MH_TLS13), MH_VERDICT_UNEXPECTED_ACCEPT);
  assert_string_equal(why, "the server never asked for a client certificate");
  // A TLS 1.0-only server: its ServerHello chose TLS 1.0, the client refused it.
  struct mh_case_outcome tls10 = rejected('c', MH_LAYER_TLS, MH_ALERT_PROTOCOL_VERSION, 0);
  tls10.tls.server_version = 0x0301;
  tls10.tls.certificate_request = tls10.tls.client_flight_sent = 0;
  assert_int_equal(verdict(&reject116, &tls10, MH_TLS12), MH_VERDICT_NOT_ATTRIBUTABLE);
  assert_string_equal(why, "the server offered only TLSv1.0 (to a client offering TLSv1.2 only)");
  assert_int_equal(verdict(&accept, &tls10, MH_TLS12), MH_VERDICT_UNEXPECTED_REJECT);
  assert_non_null(strstr(why, "offered only TLSv1.0"));
  // A refusal of the version before any ServerHello: expected by a version case only.
  struct mh_case_outcome a70 = rejected('s', MH_LAYER_TLS, MH_ALERT_PROTOCOL_VERSION, 0);
  a70.tls.server_hello = a70.tls.certificate_request = a70.tls.client_flight_sent = 0;
  a70.tls.server_version = 0;
  assert_int_equal(verdict(&reject116, &a70, MH_TLS13), MH_VERDICT_NOT_ATTRIBUTABLE);
  assert_non_null(strstr(why, "no version in common"));
  struct mh_expectation version = {.reject = 1,
                                   .reason = MH_REASON_VERSION,
                                   .side = 's',
                                   .layer = MH_LAYER_TLS,
                                   .alerts = {MH_ALERT_PROTOCOL_VERSION},
                                   .num_alerts = 1,
                                   .cert_request = 1};
  assert_int_equal(verdict(&version, &a70, MH_TLS12), MH_VERDICT_PASS);
  assert_int_equal(verdict(&version, &tls10, MH_TLS12), MH_VERDICT_NOT_ATTRIBUTABLE);
  // A version case whose version the server negotiated was not refused for its version.
  struct mh_case_outcome negotiated = rejected('s', MH_LAYER_TLS, MH_ALERT_BAD_CERTIFICATE, 0);
  negotiated.tls.server_version = MH_TLS12;
  assert_int_equal(verdict(&version, &negotiated, MH_TLS12), MH_VERDICT_NOT_ATTRIBUTABLE);
  assert_non_null(strstr(why, "the server negotiated TLSv1.2"));
  // Our client's own expectation: a server that ends before its certificate cannot be judged.
  struct mh_expectation untrusted = {.reject = 1,
                                     .reason = MH_REASON_SERVER_UNTRUSTED,
                                     .side = 'c',
                                     .layer = MH_LAYER_TLS,
                                     .alerts = {MH_ALERT_BAD_CERTIFICATE},
                                     .num_alerts = 1};
  assert_int_equal(verdict(&untrusted, &rst, MH_TLS13), MH_VERDICT_NOT_ATTRIBUTABLE);
  assert_non_null(strstr(why, "before sending its certificate"));
  assert_int_equal(mh_verdict_fails(MH_VERDICT_NOT_ATTRIBUTABLE, 0), 1);
  // No ServerHello, no version: the summary says "-", never the library's default.
  char out[200];
  mh_verdict_summary(&rst, out, sizeof(out));
  assert_string_equal(out, "rejected by server at none: rst, no alert (-)");
  assert_string_equal(mh_tls_version_name(0), "-");
  assert_string_equal(mh_tls_version_name(0x0301), "TLSv1.0");
}

// The one-line summaries that baselines compare, and what a case log shows as expected.
static void test_describe_and_summary(void **state) {
  (void)state;
  struct mh_expectation x = {.reject = 1,
                             .reason = MH_REASON_UNKNOWN_CA,
                             .side = 's',
                             .layer = MH_LAYER_TLS,
                             .alerts = {MH_ALERT_UNKNOWN_CA, MH_ALERT_BAD_CERTIFICATE},
                             .num_alerts = 2};
  char out[200];
  mh_oracle_describe(&x, out, sizeof(out));
  assert_string_equal(out,
                      "reject (unknown_ca) by server at tls: alert 48 unknown_ca or 42 "
                      "bad_certificate");
  struct mh_case_outcome o = rejected('s', MH_LAYER_TLS, MH_ALERT_UNKNOWN_CA, 0);
  o.phase = MH_PHASE_CLIENT_FLIGHT;
  o.tls.version = MH_TLS12;
  mh_verdict_summary(&o, out, sizeof(out));
  assert_string_equal(out, "rejected by server at client_flight: alert 48 unknown_ca (TLSv1.2)");
}

// --- the policy model (input/policy.h): client_auth modes and every rule kind ---

// A target whose declared policy uses the harness's own keys, and identities that each pass or
// fail one rule: SPIFFE IDs, DNS SANs, CN-only names, a DN for a regex, a deep chain.
static const char policy_spec[] =
    "{\"spec_version\": 1,\n"
    " \"cas\": [{\"name\": \"root\", \"subject\": {\"CN\": \"Policy Root\"}},\n"
    "         {\"name\": \"other-root\", \"subject\": {\"CN\": \"Other Root\"}},\n"
    "         {\"name\": \"inter\", \"issuer\": \"root\", \"subject\": {\"CN\": \"Inter\"}},\n"
    "         {\"name\": \"inter2\", \"issuer\": \"inter\", \"subject\": {\"CN\": \"Inter2\"}}],\n"
    " \"defaults\": {\"ca\": \"root\", \"eku\": [\"clientAuth\"]},\n"
    " \"identities\": [\n"
    "  {\"name\": \"billing\", \"subject\": {\"O\": \"Example\", \"CN\": \"billing\"},\n"
    "   \"uris\": [\"spiffe://example.org/ns/prod/sa/billing\"]},\n"
    "  {\"name\": \"dev\", \"subject\": {\"CN\": \"dev\"}, \"uris\": "
    "[\"spiffe://example.org/ns/dev/sa/x\"]},\n"
    "  {\"name\": \"prodlike\", \"subject\": {}, \"uris\": "
    "[\"spiffe://example.org/ns/production/sa/y\"]},\n"
    "  {\"name\": \"host-san\", \"subject\": {\"CN\": \"other.example\"}, \"dns\": "
    "[\"client.example\"]},\n"
    "  {\"name\": \"host-cn\", \"subject\": {\"CN\": \"client.example\"}},\n"
    "  {\"name\": \"host-cn-san\", \"subject\": {\"CN\": \"client.example\"}, \"dns\": "
    "[\"x.example\"]},\n"
    "  {\"name\": \"client7\", \"subject\": {\"O\": \"Example\", \"CN\": \"client7\"}},\n"
    "  {\"name\": \"mail\", \"subject\": {\"CN\": \"mail\"}, \"emails\": [\"ops@example.org\"]},\n"
    "  {\"name\": \"unknown\", \"ca\": \"other-root\", \"subject\": {\"CN\": \"billing\"}},\n"
    "  {\"name\": \"expired\", \"subject\": {\"CN\": \"dev\"}, \"not_before\": \"-10d\", "
    "\"not_after\": \"-1d\"},\n"
    "  {\"name\": \"server-eku\", \"subject\": {\"CN\": \"dev\"}, \"eku\": [\"serverAuth\"]},\n"
    "  {\"name\": \"deep\", \"ca\": \"inter2\", \"chain_file\": \"deep-chain.pem\",\n"
    "   \"uris\": [\"spiffe://example.org/ns/prod/sa/deep\"]}]}\n";

static const char policy_scenario[] =
    "{\"name\": \"policy\", \"fixtures\": \"spec.json\",\n"
    " \"locations\": {\"t\": {\"target\": \"127.0.0.1:9\", \"server_name\": \"t.example\",\n"
    "  \"ca_files\": [\"/certs/root.pem\"], \"profile\": \"openssl\",\n"
    "  \"policy\": {\"client_auth\": \"require\", \"client_ca_files\": [\"/certs/root.pem\"],\n"
    "   \"identity\": {\"uri_san_prefix\": [\"spiffe://example.org/ns/prod/\"]},\n"
    "   \"min_version\": \"1.2\", \"max_version\": \"1.3\", \"verify_depth\": 2}}}}\n";

struct pworld {
  char dir[64];
  struct mh_arena a;
  struct mh_scenario s;
  struct mh_profile none;  // no rules, nothing it cannot do
};

static void write_file(const char *dir, const char *name, const char *text) {
  char path[128];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int pworld_setup(void **state) {
  struct pworld *w = calloc(1, sizeof(*w));
  assert_non_null(w);
  snprintf(w->dir, sizeof(w->dir), "/tmp/mh-policy-XXXXXX");
  assert_non_null(mkdtemp(w->dir));
  mh_arena_init(&w->a);
  write_file(w->dir, "spec.json", policy_spec);
  write_file(w->dir, "scenario.json", policy_scenario);
  char path[128], out[128];
  snprintf(path, sizeof(path), "%s/scenario.json", w->dir);
  snprintf(out, sizeof(out), "%s/out", w->dir);
  struct mh_scenario_options opts = {.fixtures_dir = mh_arena_strdup(&w->a, out), .quiet = 1};
  struct mh_pki_options popts = {.out_dir = opts.fixtures_dir, .quiet = 1};
  struct mh_err err = {0};
  if (mh_scenario_load(&w->a, path, &opts, &w->s, &err) != 0 ||
      mh_pki_generate(&w->s.spec, &popts, &err) != 0) {
    fail_msg("%s", err.msg);
  }
  *state = w;
  return 0;
}

static int pworld_teardown(void **state) {
  struct pworld *w = *state;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->dir);
  int rc = system(cmd);
  mh_arena_free(&w->a);
  free(w);
  return rc == 0 ? 0 : -1;
}

// target returns a copy of the target's parsed policy with no identity rule and no version or
// depth limit, which each test then sets as it needs.
static struct mh_location target(struct pworld *w) {
  struct mh_location L = *mh_scenario_location(&w->s, "t");
  L.policy.num_uri_san_prefix = 0;
  L.policy.max_version = 0;
  L.policy.verify_depth = -1;
  L.policy.rules &=
      ~(MH_POLICY_IDENTITY_MASK | (1u << MH_POLICY_MAX_VERSION) | (1u << MH_POLICY_VERIFY_DEPTH));
  return L;
}

// judged returns the reason the oracle expects for |identity| (NULL: none) at |version| on |L|,
// with |prof|; MH_REASON_NONE is an acceptance.
static enum mh_reason judged(struct pworld *w, const struct mh_location *L, const char *identity,
                             int version, const struct mh_profile *prof) {
  struct mh_case_spec k = {.target = L->name, .identity = identity, .version = version};
  struct mh_expectation x;
  struct mh_err err = {0};
  if (mh_oracle_expect(&w->s, L, &k, prof, &x, &err) != 0) {
    fail_msg("%s", err.msg);
  }
  assert_int_equal(x.reject, x.reason != MH_REASON_NONE);
  return x.reason;
}

#define J(L, id) judged(w, (L), (id), MH_TLS13, &w->none)

static void set_rule(struct mh_location *L, enum mh_policy_rule r) {
  L->policy.rules |= 1u << r;
}

// The target's declared policy is read into the model: harness keys, and the SemStreams view of
// it kept in step.
static void test_policy_parsed(void **state) {
  struct pworld *w = *state;
  const struct mh_location *L = mh_scenario_location(&w->s, "t");
  assert_int_equal(L->policy.client_auth, MH_CLIENT_AUTH_REQUIRE);
  assert_int_equal(L->policy.num_client_ca_files, 1);
  assert_int_equal(L->policy.num_uri_san_prefix, 1);
  assert_string_equal(L->policy.uri_san_prefix[0], "spiffe://example.org/ns/prod/");
  assert_int_equal(L->policy.max_version, MH_TLS13);
  assert_int_equal(L->policy.verify_depth, 2);
  assert_int_equal(L->policy.rules,
                   (1u << MH_POLICY_CLIENT_AUTH) | (1u << MH_POLICY_CLIENT_CA_FILES) |
                       (1u << MH_POLICY_ID_URI_SAN_PREFIX) | (1u << MH_POLICY_MAX_VERSION) |
                       (1u << MH_POLICY_VERIFY_DEPTH));
  assert_true(L->server.mtls && L->server.require_client_cert);
  // The declared policy, as parsed: the SPIFFE prefix admits prod, not dev.
  assert_int_equal(judged(w, L, "billing", MH_TLS13, &w->none), MH_REASON_NONE);
  assert_int_equal(judged(w, L, "dev", MH_TLS12, &w->none), MH_REASON_IDENTITY_NOT_ALLOWED);
}

// Each client_auth mode against no certificate, an unknown CA, an expired certificate and a good
// one: optional_no_ca forgives the CA only, as nginx does.
static void test_client_auth_modes(void **state) {
  struct pworld *w = *state;
  static const struct {
    enum mh_client_auth auth;
    enum mh_reason none, unknown, expired, good;
  } rows[] = {
      {MH_CLIENT_AUTH_REQUIRE, MH_REASON_MISSING_CERT, MH_REASON_UNKNOWN_CA, MH_REASON_EXPIRED,
       MH_REASON_NONE},
      {MH_CLIENT_AUTH_OPTIONAL, MH_REASON_NONE, MH_REASON_UNKNOWN_CA, MH_REASON_EXPIRED,
       MH_REASON_NONE},
      {MH_CLIENT_AUTH_OPTIONAL_NO_CA, MH_REASON_NONE, MH_REASON_NONE, MH_REASON_EXPIRED,
       MH_REASON_NONE},
      {MH_CLIENT_AUTH_NONE, MH_REASON_NONE, MH_REASON_NONE, MH_REASON_NONE, MH_REASON_NONE},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    struct mh_location L = target(w);
    L.policy.client_auth = rows[i].auth;
    print_message("client_auth %s\n", mh_policy_client_auth_name(rows[i].auth));
    assert_int_equal(J(&L, NULL), rows[i].none);
    assert_int_equal(J(&L, "unknown"), rows[i].unknown);
    assert_int_equal(J(&L, "expired"), rows[i].expired);
    assert_int_equal(J(&L, "billing"), rows[i].good);
    struct mh_case_spec k = {.target = "t", .identity = "billing", .version = MH_TLS13};
    struct mh_expectation x;
    struct mh_err err = {0};
    assert_int_equal(mh_oracle_expect(&w->s, &L, &k, &w->none, &x, &err), 0);
    assert_int_equal(x.cert_request, rows[i].auth != MH_CLIENT_AUTH_NONE);
  }
}

// SPIFFE: a trust-domain path prefix admits its workloads and nothing beside it (a prefix ending
// in '/' does not admit ns/production); an exact URI SAN admits that one ID.
static void test_uri_san_rules(void **state) {
  struct pworld *w = *state;
  struct mh_location L = target(w);
  static const char *const prefix[] = {"spiffe://example.org/ns/prod/"};
  L.policy.uri_san_prefix = prefix;
  L.policy.num_uri_san_prefix = 1;
  set_rule(&L, MH_POLICY_ID_URI_SAN_PREFIX);
  assert_int_equal(J(&L, "billing"), MH_REASON_NONE);
  assert_int_equal(J(&L, "deep"), MH_REASON_NONE);
  assert_int_equal(J(&L, "dev"), MH_REASON_IDENTITY_NOT_ALLOWED);
  assert_int_equal(J(&L, "prodlike"), MH_REASON_IDENTITY_NOT_ALLOWED);
  assert_int_equal(J(&L, "host-cn"), MH_REASON_IDENTITY_NOT_ALLOWED);  // no URI SAN at all
  L = target(w);
  static const char *const exact[] = {"spiffe://example.org/ns/prod/sa/billing"};
  L.policy.uri_san = exact;
  L.policy.num_uri_san = 1;
  set_rule(&L, MH_POLICY_ID_URI_SAN);
  assert_int_equal(J(&L, "billing"), MH_REASON_NONE);
  assert_int_equal(J(&L, "deep"), MH_REASON_IDENTITY_NOT_ALLOWED);
}

// host: X509_check_host's rules: the DNS SANs when there are any, else the CN.
static void test_host_rule(void **state) {
  struct pworld *w = *state;
  struct mh_location L = target(w);
  static const char *const host[] = {"client.example"};
  L.policy.host = host;
  L.policy.num_host = 1;
  set_rule(&L, MH_POLICY_ID_HOST);
  assert_int_equal(J(&L, "host-san"), MH_REASON_NONE);              // DNS SAN, whatever the CN
  assert_int_equal(J(&L, "host-cn"), MH_REASON_NONE);               // no DNS SAN: the CN
  assert_int_equal(J(&L, "host-cn-san"), MH_REASON_HOST_MISMATCH);  // a SAN: the CN is ignored
  assert_int_equal(J(&L, "billing"), MH_REASON_HOST_MISMATCH);
}

// dns_san compares DNS SANs only (never the CN); cn the subject CN; dn_regex the RFC 2253 DN.
static void test_name_rules(void **state) {
  struct pworld *w = *state;
  struct mh_location L = target(w);
  static const char *const dns[] = {"CLIENT.example"};
  L.policy.dns_san = dns;
  L.policy.num_dns_san = 1;
  set_rule(&L, MH_POLICY_ID_DNS_SAN);
  assert_int_equal(J(&L, "host-san"), MH_REASON_NONE);
  assert_int_equal(J(&L, "host-cn"), MH_REASON_IDENTITY_NOT_ALLOWED);
  L = target(w);
  static const char *const cn[] = {"billing"};
  L.policy.cn = cn;
  L.policy.num_cn = 1;
  set_rule(&L, MH_POLICY_ID_CN);
  assert_int_equal(J(&L, "billing"), MH_REASON_NONE);
  assert_int_equal(J(&L, "dev"), MH_REASON_CN_NOT_ALLOWED);
  L = target(w);
  L.policy.dn_regex = "^CN=client[0-9]+,O=Example$";
  set_rule(&L, MH_POLICY_ID_DN_REGEX);
  assert_int_equal(J(&L, "client7"), MH_REASON_NONE);
  assert_int_equal(J(&L, "billing"), MH_REASON_IDENTITY_NOT_ALLOWED);
  assert_int_equal(J(&L, "mail"), MH_REASON_IDENTITY_NOT_ALLOWED);
}

// Several rules: any one admits; a failure is named after the first rule set (cn first).
static void test_any_rule_admits(void **state) {
  struct pworld *w = *state;
  struct mh_location L = target(w);
  static const char *const cn[] = {"dev"};
  static const char *const prefix[] = {"spiffe://example.org/ns/prod/"};
  L.policy.cn = cn;
  L.policy.num_cn = 1;
  L.policy.uri_san_prefix = prefix;
  L.policy.num_uri_san_prefix = 1;
  set_rule(&L, MH_POLICY_ID_CN);
  set_rule(&L, MH_POLICY_ID_URI_SAN_PREFIX);
  assert_int_equal(J(&L, "billing"), MH_REASON_NONE);
  assert_int_equal(J(&L, "dev"), MH_REASON_NONE);
  assert_int_equal(J(&L, "prodlike"), MH_REASON_CN_NOT_ALLOWED);
}

// The order real stacks use: version, chain and its depth, EKU, then the identity rules.
static void test_rule_order(void **state) {
  struct pworld *w = *state;
  struct mh_location L = target(w);
  static const char *const prefix[] = {"spiffe://example.org/ns/prod/"};
  L.policy.uri_san_prefix = prefix;
  L.policy.num_uri_san_prefix = 1;
  set_rule(&L, MH_POLICY_ID_URI_SAN_PREFIX);
  L.policy.min_version = MH_TLS13;
  set_rule(&L, MH_POLICY_MIN_VERSION);
  assert_int_equal(judged(w, &L, "dev", MH_TLS12, &w->none), MH_REASON_VERSION);
  assert_int_equal(J(&L, "expired"), MH_REASON_EXPIRED);     // not dev's identity failure
  assert_int_equal(J(&L, "unknown"), MH_REASON_UNKNOWN_CA);  // CN billing, no URI
  assert_int_equal(J(&L, "server-eku"), MH_REASON_BAD_EKU);  // before its identity
  L.policy.verify_depth = 1;
  set_rule(&L, MH_POLICY_VERIFY_DEPTH);
  assert_int_equal(J(&L, "deep"), MH_REASON_CHAIN_TOO_LONG);  // before its (good) identity
}

// max_version refuses a client that offers only above it; verify_depth counts intermediates as
// OpenSSL does (deep has two: depth 2 admits it, 1 does not; a root-issued leaf passes depth 0).
static void test_version_and_depth(void **state) {
  struct pworld *w = *state;
  struct mh_location L = target(w);
  L.policy.max_version = MH_TLS12;
  set_rule(&L, MH_POLICY_MAX_VERSION);
  assert_int_equal(judged(w, &L, "billing", MH_TLS13, &w->none), MH_REASON_VERSION_TOO_HIGH);
  assert_int_equal(judged(w, &L, "billing", MH_TLS12, &w->none), MH_REASON_NONE);
  L = target(w);
  set_rule(&L, MH_POLICY_VERIFY_DEPTH);
  L.policy.verify_depth = 2;
  assert_int_equal(J(&L, "deep"), MH_REASON_NONE);
  L.policy.verify_depth = 1;
  assert_int_equal(J(&L, "deep"), MH_REASON_CHAIN_TOO_LONG);
  L.policy.verify_depth = 0;
  assert_int_equal(J(&L, "billing"), MH_REASON_NONE);
  // -1, Apache's SSLVerifyDepth 0: a leaf the root issued is already one level too deep.
  L.policy.verify_depth = -1;
  assert_int_equal(J(&L, "billing"), MH_REASON_CHAIN_TOO_LONG);
  assert_int_equal(J(&L, "deep"), MH_REASON_CHAIN_TOO_LONG);
}

// A profile's "cannot": the oracle expects acceptance where only such a rule rejects, keeps the
// rules the stack can enforce, and says which rules it skipped.
static void test_cannot(void **state) {
  struct pworld *w = *state;
  struct mh_location L = target(w);
  static const char *const cn[] = {"billing"};
  L.policy.cn = cn;
  L.policy.num_cn = 1;
  set_rule(&L, MH_POLICY_ID_CN);
  L.policy.max_version = MH_TLS12;
  set_rule(&L, MH_POLICY_MAX_VERSION);
  // The policy is the contract: a rule the profile says its stack cannot enforce is still
  // expected, and the expectation says which rules the profile gave up (the verdict names it).
  struct mh_profile p = {.name = "s_server",
                         .cannot = (1u << MH_POLICY_ID_CN) | (1u << MH_POLICY_ID_HOST),
                         .cannot_why = "no name check"};
  assert_int_equal(judged(w, &L, "dev", MH_TLS12, &p), MH_REASON_CN_NOT_ALLOWED);
  assert_int_equal(judged(w, &L, "dev", MH_TLS13, &p), MH_REASON_VERSION_TOO_HIGH);
  assert_int_equal(judged(w, &L, "unknown", MH_TLS12, &p), MH_REASON_UNKNOWN_CA);
  struct mh_case_spec k = {.target = "t", .identity = "dev", .version = MH_TLS12};
  struct mh_expectation x;
  struct mh_err err = {0};
  assert_int_equal(mh_oracle_expect(&w->s, &L, &k, &p, &x, &err), 0);
  assert_true(x.reject);
  assert_int_equal(x.unenforced, 1u << MH_POLICY_ID_CN);  // host is not set: not named
  assert_string_equal(x.cannot_why, "no name check");
  p.cannot = (1u << MH_POLICY_MAX_VERSION) | (1u << MH_POLICY_CLIENT_AUTH);
  assert_int_equal(judged(w, &L, "billing", MH_TLS13, &p), MH_REASON_VERSION_TOO_HIGH);
  assert_int_equal(judged(w, &L, NULL, MH_TLS12, &p), MH_REASON_MISSING_CERT);
  p.cannot = 1u << MH_POLICY_CLIENT_CA_FILES;
  assert_int_equal(judged(w, &L, "unknown", MH_TLS12, &p), MH_REASON_UNKNOWN_CA);
  // No profile at all: the same expectations, nothing named as unenforced.
  assert_int_equal(mh_oracle_expect(&w->s, &L, &k, NULL, &x, &err), 0);
  assert_int_equal(x.reason, MH_REASON_CN_NOT_ALLOWED);
  assert_int_equal(x.unenforced, 0);
  assert_null(x.profile);
  assert_int_equal(x.layer, MH_LAYER_NONE);
}

// A client CA file holding an intermediate without its root: optional_no_ca forgives a leaf the
// root issued (no issuer in the file at all), not deep, whose path reaches the file's
// intermediate and stops for want of its root (X509 error 2: nginx and mod_ssl both refuse it,
// measured by tests/py/test_stacks_apache.py); a profile that cannot restrict the CAs changes
// neither expectation.
static void test_optional_no_ca_without_root(void **state) {
  struct pworld *w = *state;
  struct mh_location L = target(w);
  char inter[128];
  snprintf(inter, sizeof(inter), "%s/out/inter.pem", w->dir);
  const char *files[] = {inter};
  L.policy.client_ca_files = files;
  L.policy.num_client_ca_files = 1;
  L.policy.client_auth = MH_CLIENT_AUTH_OPTIONAL_NO_CA;
  assert_int_equal(J(&L, "billing"), MH_REASON_NONE);
  assert_int_equal(J(&L, "deep"), MH_REASON_UNKNOWN_CA);
  L.policy.client_auth = MH_CLIENT_AUTH_OPTIONAL;
  assert_int_equal(J(&L, "billing"), MH_REASON_UNKNOWN_CA);
  assert_int_equal(J(&L, "deep"), MH_REASON_UNKNOWN_CA);
  struct mh_profile p = {.name = "any-ca",
                         .cannot = 1u << MH_POLICY_CLIENT_CA_FILES,
                         .cannot_why = "no CA restriction"};
  assert_int_equal(judged(w, &L, "deep", MH_TLS13, &p), MH_REASON_UNKNOWN_CA);
  assert_int_equal(judged(w, &L, "billing", MH_TLS13, &p), MH_REASON_UNKNOWN_CA);
}

// verified_only: the TLS layer asks optionally, the application refuses what did not verify.
// No certificate and a CA optional_no_ca forgives are then refusals, predicted at HTTP with the
// policy's status whatever the profile says; what TLS itself refuses stays the profile's.
static void test_verified_only(void **state) {
  struct pworld *w = *state;
  struct mh_location L = target(w);
  L.policy.client_auth = MH_CLIENT_AUTH_OPTIONAL_NO_CA;
  assert_int_equal(J(&L, NULL), MH_REASON_NONE);
  assert_int_equal(J(&L, "unknown"), MH_REASON_NONE);
  L.policy.verified_only = 1;
  L.policy.refusal_statuses[0] = 403;
  L.policy.num_refusal_statuses = 1;
  struct mh_err err = {0};
  struct mh_expectation x;
  struct mh_profile p = {.name = "tls-only"};
  p.rules[MH_REASON_MISSING_CERT] = (struct mh_profile_rule){.set = 1, .layer = MH_LAYER_TLS};
  struct mh_case_spec none = {.target = "t", .identity = NULL, .version = MH_TLS13};
  assert_int_equal(mh_oracle_expect(&w->s, &L, &none, &p, &x, &err), 0);
  assert_int_equal(x.reason, MH_REASON_MISSING_CERT);
  assert_int_equal(x.layer, MH_LAYER_HTTP);
  assert_int_equal(x.status, 403);
  assert_true(x.by_policy);
  struct mh_case_spec unknown = {.target = "t", .identity = "unknown", .version = MH_TLS12};
  assert_int_equal(mh_oracle_expect(&w->s, &L, &unknown, NULL, &x, &err), 0);
  assert_int_equal(x.reason, MH_REASON_UNKNOWN_CA);
  assert_int_equal(x.layer, MH_LAYER_HTTP);
  assert_int_equal(J(&L, "expired"), MH_REASON_EXPIRED);  // TLS refuses it: not the policy's
  assert_int_equal(mh_oracle_expect(&w->s, &L,
                                    &(struct mh_case_spec){
                                        .target = "t", .identity = "expired", .version = MH_TLS12},
                                    NULL, &x, &err),
                   0);
  assert_false(x.by_policy);
  assert_int_equal(x.layer, MH_LAYER_NONE);
  assert_int_equal(J(&L, "billing"), MH_REASON_NONE);
}

// The warning a target gets for what its stack cannot enforce: one per target, informational.
static void test_cannot_warning(void **state) {
  (void)state;
  struct mh_case_result cases[3];
  memset(cases, 0, sizeof(cases));
  for (size_t i = 0; i < 3; i++) {
    cases[i].target = i < 2 ? "nginx" : "s_server";
    cases[i].outcome.result = MH_RESULT_ACCEPTED;
    cases[i].expect.profile = i < 2 ? "nginx-http" : "openssl";
  }
  cases[2].expect.unenforced = (1u << MH_POLICY_ID_CN) | (1u << MH_POLICY_MAX_VERSION);
  cases[2].expect.cannot_why = "s_server has no name check";
  struct mh_run_warning out[7];
  size_t n = mh_warnings_collect(out, cases, 3, NULL, 0);
  assert_int_equal(n, 1);
  assert_int_equal(out[0].kind, MH_WARNING_CANNOT_ENFORCE);
  assert_string_equal(out[0].target, "s_server");
  assert_true(out[0].informational);
  assert_false(mh_warnings_fails(&out[0], 1));
  assert_int_equal(mh_warnings_num_failing(out, n, 1), 0);
  print_message("%s\n", out[0].message);
  assert_non_null(strstr(out[0].message, "identity.cn, max_version"));
  assert_non_null(strstr(out[0].message, "profile openssl"));
  assert_non_null(strstr(out[0].message, "s_server has no name check"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_expectations_follow_policy),
      cmocka_unit_test(test_profile_decides_layer),
      cmocka_unit_test(test_ca_named_by_its_own_path),
      cmocka_unit_test(test_same_name_other_key_is_unknown),
      cmocka_unit_test(test_unreadable_ca_file_is_an_error),
      cmocka_unit_test(test_verdicts),
      cmocka_unit_test(test_attribution),
      cmocka_unit_test(test_describe_and_summary),
  };
  const struct CMUnitTest policy_tests[] = {
      cmocka_unit_test(test_policy_parsed),
      cmocka_unit_test(test_client_auth_modes),
      cmocka_unit_test(test_uri_san_rules),
      cmocka_unit_test(test_host_rule),
      cmocka_unit_test(test_name_rules),
      cmocka_unit_test(test_any_rule_admits),
      cmocka_unit_test(test_rule_order),
      cmocka_unit_test(test_version_and_depth),
      cmocka_unit_test(test_cannot),
      cmocka_unit_test(test_cannot_warning),
      cmocka_unit_test(test_optional_no_ca_without_root),
      cmocka_unit_test(test_verified_only),
  };
  // One generated federation for every test: RSA-4096 keys take seconds to make.
  int failed = cmocka_run_group_tests(tests, world_setup, world_teardown);
  return failed + cmocka_run_group_tests(policy_tests, pworld_setup, pworld_teardown);
}
