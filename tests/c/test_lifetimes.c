// Unit tests for pki/certinfo.c and conform/lifetimes.c: a certificate's facts (key names, serial,
// SANs, validity) read from DER and PEM; chains grouped per target and per distinct chain with the
// cases that saw them; --min-time-left's cases, where an intermediate that expires before its leaf
// is the one named; the expiry warnings; imported and generated client identities.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "conform/lifetimes.h"
#include "input/pki_spec.h"
#include "input/scenario.h"
#include "pki/certinfo.h"
#include "report/report.h"
#include "tmpdir.h"

// The spec: a root, an intermediate that expires in 3 days, a leaf it issued valid for 30 days
// (with a chain file), another leaf for 60 days, and identities with other key types.
static const char spec_text[] =
    "{\"spec_version\": 1,"
    " \"cas\": [{\"name\": \"root\", \"subject\": {\"CN\": \"Root\"}},"
    "          {\"name\": \"inter\", \"issuer\": \"root\", \"days\": 3,"
    "           \"subject\": {\"CN\": \"Inter\"}}],"
    " \"identities\": ["
    "  {\"name\": \"srv\", \"ca\": \"inter\", \"days\": 30, \"subject\": {\"CN\": \"srv.example\"},"
    "   \"dns\": [\"srv.example\"], \"ips\": [\"127.0.0.1\"], \"chain_file\": \"srv-chain.pem\","
    "   \"serial\": 4660},"
    "  {\"name\": \"other\", \"ca\": \"root\", \"days\": 60, \"subject\": {\"CN\": \"other\"}},"
    "  {\"name\": \"rsa\", \"ca\": \"root\", \"key\": \"rsa-2048\", \"subject\": {\"CN\": "
    "\"rsa\"}},"
    "  {\"name\": \"ed\", \"ca\": \"root\", \"key\": \"ed25519\", \"subject\": {\"CN\": \"ed\"}},"
    "  {\"name\": \"p384\", \"ca\": \"root\", \"key\": \"ecdsa-p384\", \"subject\": {\"CN\": "
    "\"p\"}}"
    " ]}";

struct world {
  struct mh_arena a;
  struct mh_scenario s;
};

static int world_setup(void **state) {
  if (setup(state) != 0) {
    return -1;
  }
  struct world *w = calloc(1, sizeof(*w));
  assert_non_null(w);
  mh_arena_init(&w->a);
  struct mh_err err = {0};
  struct mh_pki_options popts = {.out_dir = root, .quiet = 1};
  if (mh_pki_spec_parse(&w->a, "spec.json", spec_text, strlen(spec_text), &w->s.spec, &err) != 0 ||
      mh_pki_generate(&w->s.spec, &popts, &err) != 0) {
    fail_msg("%s", err.msg);
  }
  w->s.fixtures_dir = root;
  *state = w;
  return 0;
}

static int world_teardown(void **state) {
  struct world *w = *state;
  mh_arena_free(&w->a);
  free(w);
  return teardown(state);
}

// der_of reads the PEM certificates of fixture |name| as DER one after the other into |out|.
static size_t der_of(const char *name, uint8_t *out, size_t cap) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", root, name);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  size_t n = 0;
  X509 *x;
  while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
    uint8_t *p = out + n;
    int len = i2d_X509(x, NULL);
    assert_true(len > 0 && n + (size_t)len <= cap);
    i2d_X509(x, &p);
    n += (size_t)len;
    X509_free(x);
  }
  fclose(f);
  return n;
}

static void test_facts(void **state) {
  (void)state;
  struct mh_certinfo c[MH_CERTINFO_MAX];
  uint8_t der[8192];
  size_t len = der_of("srv-chain.pem", der, sizeof(der));
  assert_int_equal(mh_certinfo_from_der(der, len, c, MH_CERTINFO_MAX), 2);
  assert_string_equal(c[0].subject, "CN=srv.example");
  assert_string_equal(c[0].issuer, "CN=Inter");
  assert_string_equal(c[0].serial, "1234");  // 4660
  assert_string_equal(c[0].sans, "DNS:srv.example, IP:127.0.0.1");
  assert_string_equal(c[0].key, "ECDSA P-256");
  assert_int_equal(strlen(c[0].sha256), 64);
  assert_false(c[0].self_signed);
  int64_t now = (int64_t)time(NULL);
  assert_true(c[0].not_after - now > 29 * 86400 && c[0].not_after - now <= 30 * 86400);
  assert_true(c[1].not_after - now > 2 * 86400 && c[1].not_after - now <= 3 * 86400);
  assert_string_equal(c[1].subject, "CN=Inter");
  // Fewer slots than certificates: the first ones, counted as described.
  assert_int_equal(mh_certinfo_from_der(der, len, c, 1), 1);
  assert_int_equal(mh_certinfo_from_der(der, len - 1, c, MH_CERTINFO_MAX), -1);
  struct mh_err err = {0};
  const char *keys[][2] = {{"rsa", "RSA-2048"}, {"ed", "Ed25519"}, {"p384", "ECDSA P-384"}};
  for (size_t i = 0; i < 3; i++) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s-cert.pem", root, keys[i][0]);
    assert_int_equal(mh_certinfo_from_file(path, c, MH_CERTINFO_MAX, &err), 1);
    assert_string_equal(c[0].key, keys[i][1]);
  }
  snprintf(err.msg, sizeof(err.msg), "-");
  assert_int_equal(mh_certinfo_from_file("/nonexistent.pem", c, 1, &err), -1);
  assert_non_null(strstr(err.msg, "/nonexistent.pem: cannot read"));
}

static void test_time_left_text(void **state) {
  (void)state;
  char t[64];
  mh_certinfo_time_left(29 * 86400 + 23 * 3600 + 59, t, sizeof(t));
  assert_string_equal(t, "29d 23h");
  mh_certinfo_time_left(5 * 3600 + 12 * 60, t, sizeof(t));
  assert_string_equal(t, "5h 12m");
  mh_certinfo_time_left(40 * 60, t, sizeof(t));
  assert_string_equal(t, "40m");
  mh_certinfo_time_left(-(2 * 86400 + 3 * 3600), t, sizeof(t));
  assert_string_equal(t, "expired 2d 3h ago");
  mh_certinfo_utc(0, t, sizeof(t));
  assert_string_equal(t, "1970-01-01T00:00:00Z");
}

// find returns the case |id| of |cases|, failing the test when absent.
static const struct mh_case_result *find(const struct mh_case_result *cases, size_t n,
                                         const char *id) {
  for (size_t i = 0; i < n; i++) {
    if (strcmp(cases[i].id, id) == 0) {
      return &cases[i];
    }
  }
  fail_msg("no case %s", id);
  return NULL;
}

static void test_chains_and_checks(void **state) {
  struct world *w = *state;
  uint8_t a[8192], b[8192];
  size_t alen = der_of("srv-chain.pem", a, sizeof(a)),
         blen = der_of("other-cert.pem", b, sizeof(b));
  struct mh_lifetimes l;
  mh_lifetimes_init(&l, (int64_t)time(NULL), 7 * 86400);
  // "lb" presents two chains (a rollout), "solo" one; cases end in any order.
  mh_lifetimes_add_chain(&l, "lb", "lb/x/tls1.3", 3, a, alen);
  mh_lifetimes_add_chain(&l, "solo", "solo/x/tls1.3", 0, b, blen);
  mh_lifetimes_add_chain(&l, "lb", "lb/y/tls1.3", 1, b, blen);
  mh_lifetimes_add_chain(&l, "lb", "lb/z/tls1.2", 2, a, alen);
  mh_lifetimes_sort(&l);
  assert_int_equal(l.num_chains, 3);
  assert_string_equal(l.chains[0].target, "lb");
  assert_int_equal(l.chains[0].first_plan, 1);  // the chain of the earliest plan first
  assert_int_equal(l.chains[0].num_cases, 1);
  assert_int_equal(l.chains[1].num_cases, 2);
  assert_string_equal(l.chains[1].cases[0], "lb/x/tls1.3");
  assert_string_equal(l.chains[1].cases[1], "lb/z/tls1.2");
  assert_string_equal(l.chains[2].target, "solo");
  struct mh_err err = {0};
  const char *names[] = {"other", NULL, "other"};
  assert_int_equal(mh_lifetimes_read_identities(&l, &w->a, &w->s, names, 3, &err), 0);
  assert_int_equal(l.num_identities, 1);
  assert_false(l.identities[0].imported);
  const char *targets[] = {"lb", "solo", "lb", "gone"};
  struct mh_case_result out[8];
  size_t n = mh_lifetimes_checks(&l, &w->a, targets, 4, 0, out, 8);
  assert_int_equal(n, 3);  // one per target; a generated identity is reported, not checked
  // The intermediate (3 days) expires before its leaf (30 days), within 7 days: it is named.
  const struct mh_case_result *lb = find(out, n, "lb/server-certificate/time-left");
  assert_int_equal(lb->verdict, MH_VERDICT_FAIL);
  assert_true(lb->fails && lb->kind == MH_CASE_CERTIFICATE);
  assert_non_null(strstr(lb->summary, "CN=Inter"));
  assert_non_null(strstr(lb->verdict_reason, "--min-time-left 7d"));
  assert_int_equal(find(out, n, "solo/server-certificate/time-left")->verdict, MH_VERDICT_PASS);
  const struct mh_case_result *gone = find(out, n, "gone/server-certificate/time-left");
  assert_int_equal(gone->verdict, MH_VERDICT_INCONCLUSIVE);
  // Without the option: no case, and a warning for the target within 7 days only.
  l.min_left = -1;
  assert_int_equal(mh_lifetimes_checks(&l, &w->a, targets, 4, 0, out, 8), 0);
  struct mh_run_warning warn[4];
  assert_int_equal(mh_lifetimes_warnings(&l, warn, 4), 1);
  assert_int_equal(warn[0].kind, MH_WARNING_CERTIFICATE_EXPIRING);
  assert_string_equal(warn[0].target, "lb");
  assert_true(warn[0].informational);
  assert_false(mh_warnings_fails(&warn[0], 1));
  char line[512];
  mh_lifetimes_soonest(&l, line, sizeof(line));
  assert_non_null(strstr(line, "soonest expiry: lb: CN=Inter"));
  mh_lifetimes_cleanup(&l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_facts, world_setup, world_teardown),
      cmocka_unit_test(test_time_left_text),
      cmocka_unit_test_setup_teardown(test_chains_and_checks, world_setup, world_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
