// Unit tests for the fixture spec parser (scenario.c): every error path reports the file, the JSON
// path and a fix; valid specs, defaults and the shipped specs parse to the expected data.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "input/scenario.h"

#define CA "{\"name\":\"root\"}"

struct bad_case {
  const char *json;
  const char *want;  // the whole message must start with "t.json: " and contain this
};

static const struct bad_case bad_cases[] = {
    {"{\"cas\":[" CA "", "t.json: $: malformed JSON at line 1, column 23"},
    {"{\n\"cas\": [\n  {\"name\": \"root\",}\n]}", "$: malformed JSON at line 3"},
    {"[]", "t.json: $: the spec must be a JSON object, found an array"},
    {"{}", "$: the spec declares nothing"},
    {"{\"cas\":[" CA "],\"colour\":1}", "$.colour: unknown key"},
    {"{\"spec_version\":2,\"cas\":[" CA "]}", "$.spec_version: 2 is out of range (use 1 to 1)"},
    {"{\"cas\":{}}", "$.cas: expected an array of objects, found an object"},
    {"{\"cas\":[{}]}", "$.cas[0]: \"name\" is required"},
    {"{\"cas\":[{\"name\":\"a b\"}]}", "$.cas[0].name: \"a b\" may contain only"},
    {"{\"cas\":[{\"name\":\"\"}]}", "$.cas[0].name: must not be empty"},
    {"{\"cas\":[{\"name\":\"r\",\"key\":\"rsa-1024\"}]}",
     "$.cas[0].key: unknown key type \"rsa-1024\" (use one of: ecdsa-p256"},
    {"{\"cas\":[{\"name\":\"r\",\"key\":7}]}", "$.cas[0].key: expected a string, found a number"},
    {"{\"cas\":[{\"name\":\"r\",\"dns\":[\"x\"]}]}", "$.cas[0].dns: not allowed in a CA"},
    {"{\"cas\":[{\"name\":\"r\",\"subject\":{\"XX\":\"y\"}}]}",
     "$.cas[0].subject.XX: unknown subject attribute (use C, ST, L, O, OU or CN)"},
    {"{\"cas\":[{\"name\":\"r\",\"subject\":{\"C\":\"ZAF\"}}]}",
     "$.cas[0].subject.C: a country must be a two-letter code"},
    {"{\"cas\":[{\"name\":\"r\",\"days\":0}]}", "$.cas[0].days: 0 is out of range (use 1 to"},
    {"{\"cas\":[{\"name\":\"r\",\"days\":1.5}]}", "$.cas[0].days: expected a whole number"},
    {"{\"cas\":[{\"name\":\"r\",\"days\":10,\"not_after\":\"1d\"}]}",
     "$.cas[0].days: give either \"days\" or \"not_before\"/\"not_after\", not both"},
    {"{\"cas\":[{\"name\":\"r\",\"not_after\":\"ninety days\"}]}",
     "$.cas[0].not_after: bad duration \"ninety days\" (use a signed offset"},
    {"{\"cas\":[{\"name\":\"r\",\"not_before\":\"1x\"}]}", "$.cas[0].not_before: bad duration"},
    {"{\"cas\":[{\"name\":\"r\",\"not_before\":\"1d\",\"not_after\":\"-1d\"}]}",
     "$.cas[0].not_after: the certificate would end before it starts"},
    {"{\"cas\":[{\"name\":\"r\",\"issuer\":\"nobody\"}]}",
     "$.cas[0].issuer: names CA \"nobody\", which is not declared before it in $.cas"},
    {"{\"cas\":[" CA "," CA "]}", "$.cas[1].name: \"root\" is declared twice"},
    {"{\"cas\":[" CA "],\"identities\":[{\"name\":\"x\"}]}",
     "$.identities[0]: \"ca\" is required (name one of: root), or set \"self_signed\": true"},
    {"{\"cas\":[" CA "],\"identities\":[{\"name\":\"x\",\"ca\":\"rot\"}]}",
     "$.identities[0].ca: names a missing CA \"rot\" (declared CAs: root)"},
    {"{\"cas\":[" CA "],\"identities\":[{\"name\":\"x\",\"ca\":\"root\",\"self_signed\":true}]}",
     "$.identities[0].self_signed: a self-signed identity has no \"ca\""},
    {"{\"cas\":[" CA "],\"identities\":[{\"name\":\"x\",\"ca\":\"root\",\"eku\":[\"serverAuth\","
     "\"sudo\"]}]}",
     "$.identities[0].eku[1]: unknown value \"sudo\" (use one of: serverAuth, clientAuth"},
    {"{\"cas\":[" CA
     "],\"identities\":[{\"name\":\"x\",\"ca\":\"root\",\"uris\":[\"no scheme\"]}]}",
     "$.identities[0].uris[0]: \"no scheme\" is not a URI with a scheme"},
    {"{\"cas\":[" CA "],\"identities\":[{\"name\":\"x\",\"ca\":\"root\",\"emails\":[\"ops\"]}]}",
     "$.identities[0].emails[0]: \"ops\" is not an e-mail address"},
    {"{\"cas\":[" CA "],\"identities\":[{\"name\":\"x\",\"ca\":\"root\",\"x509_version\":1,"
     "\"uris\":[\"spiffe://a/b\"]}]}",
     "$.identities[0].uris: x509_version 1 certificates carry no extensions"},
    {"{\"cas\":[" CA "],\"identities\":[{\"name\":\"x\",\"ca\":\"root\",\"ips\":[\"1.2.3\"]}]}",
     "$.identities[0].ips[0]: \"1.2.3\" is not an IPv4 or IPv6 address"},
    {"{\"cas\":[" CA "],\"identities\":[{\"name\":\"x\",\"ca\":\"root\",\"dns\":\"a.b\"}]}",
     "$.identities[0].dns: expected an array of strings, found a string"},
    {"{\"cas\":[" CA "],\"identities\":[{\"name\":\"x\",\"ca\":\"root\",\"x509_version\":2}]}",
     "$.identities[0].x509_version: x509_version must be 1 or 3"},
    {"{\"cas\":[" CA "],\"identities\":[{\"name\":\"x\",\"ca\":\"root\",\"x509_version\":1,"
     "\"dns\":[\"a\"]}]}",
     "$.identities[0].dns: x509_version 1 certificates carry no extensions"},
    {"{\"cas\":[" CA "],\"identities\":[{\"name\":\"x\",\"ca\":\"root\",\"path_len\":1}]}",
     "$.identities[0].path_len: not allowed in an identity"},
    {"{\"cas\":[" CA "],\"identities\":[{\"name\":\"x\",\"ca\":\"root\",\"serial\":-1}]}",
     "$.identities[0].serial: -1 is out of range"},
    {"{\"cas\":[" CA "],\"identities\":[{\"name\":\"x\",\"ca\":\"root\",\"key_file\":\"../k\"}]}",
     "$.identities[0].key_file: \"../k\" must be a relative path below the output directory"},
    {"{\"cas\":[" CA "],\"identities\":[{\"name\":\"x\",\"ca\":\"root\",\"key_file\":\"/k\"}]}",
     "must be a relative path"},
    {"{\"cas\":[" CA "],\"identities\":[{\"name\":\"x\",\"ca\":\"root\",\"cert_file\":"
     "\"root.pem\"}]}",
     "$.identities[0].cert_file: \"root.pem\" is also written by $.cas[0]"},
    {"{\"cas\":[" CA "],\"defaults\":{\"name\":\"x\"}}",
     "$.defaults.name: not allowed in \"defaults\""},
    {"{\"cas\":[" CA "],\"defaults\":{\"key\":\"dsa\"}}",
     "$.defaults.key: unknown key type \"dsa\""},
    {"{\"cas\":[" CA "],\"zips\":[{\"members\":[\"root.pem\"]}]}",
     "$.zips[0]: \"file\" is required"},
    {"{\"cas\":[" CA "],\"zips\":[{\"file\":\"z.zip\"}]}", "$.zips[0]: \"members\" is required"},
    {"{\"cas\":[" CA "],\"zips\":[{\"file\":\"z.zip\",\"members\":[]}]}",
     "$.zips[0].members: a zip needs at least one member"},
    {"{\"cas\":[" CA "],\"zips\":[{\"file\":\"z.zip\",\"members\":[\"nope.pem\"]}]}",
     "$.zips[0].members[0]: \"nope.pem\" is not a file this spec writes"},
    {"{\"cas\":[" CA "],\"zips\":[{\"file\":\"z.zip\",\"members\":[\"root-key.pem\"]}]}",
     "$.zips[0].members[0]: \"root-key.pem\" is the private key of CA \"root\": a CA key never "
     "goes into a zip"},
    {"{\"cas\":[" CA ",{\"name\":\"r2\",\"cert_file\":\"d/root.pem\"}],\"zips\":[{\"file\":"
     "\"z.zip\",\"members\":[\"root.pem\",\"d/root.pem\"]}]}",
     "$.zips[0].members[1]: \"root.pem\" has the same file name as members[0]"},
    {"{\"cas\":[" CA "],\"zips\":[{\"file\":\"z.zip\",\"members\":[\"root.pem\"],\"size\":1}]}",
     "$.zips[0].size: unknown key"},
    {"{\"cas\":[" CA "],\"zips\":[{\"file\":\"root.pem\",\"members\":[\"root.pem\"]}]}",
     "$.zips[0].file: \"root.pem\" is also a certificate or key output"},
    // Imports (/etc/passwd stands for any existing file: the parser checks only that it is there).
    {"{\"identities\":[{\"name\":\"x\",\"self_signed\":true,\"import_key\":\"/etc/passwd\"}]}",
     "$.identities[0].import_key: only an imported entity has this key (add \"import_cert\""},
    {"{\"identities\":[{\"name\":\"x\",\"import_cert\":\"/etc/passwd\",\"import_key\":"
     "\"/etc/passwd\",\"subject\":{\"CN\":\"y\"}}]}",
     "$.identities[0].subject: an imported certificate is used as it is (remove \"subject\""},
    {"{\"identities\":[{\"name\":\"x\",\"import_cert\":\"/nonexistent/c.pem\",\"import_key\":"
     "\"/etc/passwd\"}]}",
     "$.identities[0].import_cert: /nonexistent/c.pem: no such file (give an existing file, "
     "absolute or relative to the spec's directory)"},
    {"{\"identities\":[{\"name\":\"x\",\"import_cert\":\"/etc/passwd\"}]}",
     "$.identities[0].import_cert: an imported identity needs its private key (add "
     "\"import_key\")"},
    {"{\"cas\":[{\"name\":\"op\",\"import_cert\":\"/etc/passwd\"}],\"identities\":[{\"name\":"
     "\"x\",\"ca\":\"op\"}]}",
     "$.identities[0].ca: CA \"op\" is imported without its key, so it cannot issue"},
    {"{\"cas\":[{\"name\":\"op\",\"import_cert\":\"/etc/passwd\"},{\"name\":\"i\",\"issuer\":"
     "\"op\"}]}",
     "$.cas[1].issuer: CA \"op\" is imported without its key"},
    {"{\"cas\":[{\"name\":\"op\",\"import_cert\":\"/etc/passwd\",\"key_file\":\"k.pem\"}]}",
     "$.cas[0].key_file: a CA imported without its key has no key file"},
    {"{\"identities\":[{\"name\":\"x\",\"import_cert\":\"/etc/passwd\",\"import_key\":"
     "\"/etc/passwd\",\"passphrase_env\":\"A\",\"passphrase_file\":\"/etc/passwd\"}]}",
     "$.identities[0].passphrase_env: give one passphrase source"},
    {"{\"cas\":[{\"name\":\"op\",\"import_cert\":\"/etc/passwd\",\"passphrase_env\":\"A\"}]}",
     "$.cas[0].passphrase_env: a passphrase needs an encrypted \"import_key\""},
    {"{\"identities\":[{\"name\":\"x\",\"import_cert\":\"/etc/passwd\",\"import_key\":"
     "\"/etc/passwd\",\"chain_file\":\"c.pem\"}]}",
     "$.identities[0].chain_file: an imported identity's chain is its \"import_chain\""},
    {"{\"identities\":[{\"name\":\"x\",\"import_cert\":\"/etc/passwd\",\"import_key\":"
     "\"/etc/passwd\"}],\"zips\":[{\"file\":\"z.zip\",\"members\":[\"x-cert.pem\"]}]}",
     "$.zips[0].members[0]: \"x-cert.pem\" is imported from /etc/passwd, not written by this spec"},
};

static void test_bad_specs(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
    struct mh_arena a;
    mh_arena_init(&a);
    struct mh_pki_spec spec;
    struct mh_err err = {{0}};
    const char *json = bad_cases[i].json;
    int rc = mh_pki_spec_parse(&a, "t.json", json, strlen(json), &spec, &err);
    if (rc != -1 || strncmp(err.msg, "t.json: $", 9) != 0 ||
        strstr(err.msg, bad_cases[i].want) == NULL) {
      print_error("case %zu: %s\n  got (rc %d): %s\n  want: %s\n", i, json, rc, err.msg,
                  bad_cases[i].want);
      fail();
    }
    mh_arena_free(&a);
  }
}

static void test_defaults_and_file_names(void **state) {
  (void)state;
  const char *json =
      "{\"cas\":[{\"name\":\"root\"},{\"name\":\"mid\",\"issuer\":\"root\",\"path_len\":0}],"
      "\"defaults\":{\"ca\":\"root\",\"key\":\"rsa-2048\",\"days\":10,"
      "\"subject\":{\"O\":\"Org\",\"CN\":\"default\"}},"
      "\"identities\":["
      "{\"name\":\"a\",\"subject\":{\"CN\":\"a.example\"},\"eku\":[\"clientAuth\"]},"
      "{\"name\":\"b\",\"ca\":\"mid\",\"key\":\"ed25519\",\"not_before\":\"-1h\","
      "\"not_after\":\"+1d12h\",\"serial\":42,\"chain_file\":\"b-chain.pem\"},"
      "{\"name\":\"s\",\"self_signed\":true}]}";
  struct mh_arena a;
  mh_arena_init(&a);
  struct mh_pki_spec spec;
  struct mh_err err = {{0}};
  assert_int_equal(mh_pki_spec_parse(&a, "t.json", json, strlen(json), &spec, &err), 0);
  assert_int_equal(spec.num_cas, 2);
  assert_int_equal(spec.num_entities, 5);
  const struct mh_pki_entity *root = &spec.entities[0], *mid = &spec.entities[1];
  assert_true(root->is_ca);
  assert_int_equal(root->issuer, -1);
  assert_string_equal(root->cert_file, "root.pem");
  assert_string_equal(root->key_file, "root-key.pem");
  assert_int_equal(root->key_type, MH_KEY_ECDSA_P256);
  assert_int_equal(root->not_after, 1825 * 86400);
  assert_int_equal(mid->issuer, 0);
  assert_int_equal(mid->path_len, 0);
  const struct mh_pki_entity *ea = &spec.entities[2], *eb = &spec.entities[3];
  const struct mh_pki_entity *es = &spec.entities[4];
  assert_string_equal(ea->subject[MH_DN_O], "Org");
  assert_string_equal(ea->subject[MH_DN_CN], "a.example");
  assert_int_equal(ea->key_type, MH_KEY_RSA_2048);
  assert_int_equal(ea->issuer, 0);
  assert_int_equal(ea->not_after, 10 * 86400);
  assert_true(ea->has_eku);
  assert_int_equal(ea->eku_mask, 1u << MH_EKU_CLIENT_AUTH);
  assert_string_equal(ea->cert_file, "a-cert.pem");
  assert_string_equal(ea->json_path, "$.identities[0]");
  assert_int_equal(eb->issuer, 1);
  assert_int_equal(eb->key_type, MH_KEY_ED25519);
  assert_int_equal(eb->not_before, -3600);
  assert_int_equal(eb->not_after, 36 * 3600);
  assert_true(eb->has_serial);
  assert_int_equal(eb->serial, 42);
  assert_string_equal(eb->subject[MH_DN_CN], "default");
  assert_int_equal(es->issuer, -1);  // self_signed overrides the inherited "ca"
  mh_arena_free(&a);
}

// An identity drops what "defaults" give: "eku": [] the extension, a null attribute one subject
// attribute, {} the whole subject; URI and e-mail SANs are kept as written.
static void test_dropped_defaults_and_sans(void **state) {
  (void)state;
  const char *json =
      "{\"cas\":[{\"name\":\"root\"}],"
      "\"defaults\":{\"ca\":\"root\",\"eku\":[\"clientAuth\"],"
      "\"subject\":{\"O\":\"Org\",\"CN\":\"default\"},\"emails\":[\"a@example.org\"]},"
      "\"identities\":["
      "{\"name\":\"kept\"},"
      "{\"name\":\"no-eku\",\"eku\":[],\"subject\":{\"CN\":null}},"
      "{\"name\":\"empty\",\"subject\":{},"
      "\"uris\":[\"spiffe://example.org/ns/prod/sa/x\",\"urn:a,b\"]}]}";
  struct mh_arena a;
  mh_arena_init(&a);
  struct mh_pki_spec spec;
  struct mh_err err = {{0}};
  assert_int_equal(mh_pki_spec_parse(&a, "t.json", json, strlen(json), &spec, &err), 0);
  const struct mh_pki_entity *kept = &spec.entities[1], *no_eku = &spec.entities[2];
  const struct mh_pki_entity *empty = &spec.entities[3];
  assert_true(kept->has_eku);
  assert_string_equal(kept->subject[MH_DN_CN], "default");
  assert_int_equal(kept->num_emails, 1);
  assert_string_equal(kept->emails[0], "a@example.org");
  assert_false(no_eku->has_eku);
  assert_null(no_eku->subject[MH_DN_CN]);
  assert_string_equal(no_eku->subject[MH_DN_O], "Org");
  for (int k = 0; k < MH_DN_NUM; k++) {
    assert_null(empty->subject[k]);
  }
  assert_int_equal(empty->num_uris, 2);
  assert_string_equal(empty->uris[1], "urn:a,b");
  mh_arena_free(&a);
}

static void test_durations(void **state) {
  (void)state;
  static const struct {
    const char *s;
    int ok;
    int64_t want;
  } cases[] = {
      {"90d", 1, 90 * 86400},
      {"-1h", 1, -3600},
      {"+30m", 1, 1800},
      {"1d12h", 1, 129600},
      {"2w", 1, 14 * 86400},
      {"0", 1, 0},
      {"45s", 1, 45},
      {"", 0, 0},
      {"-", 0, 0},
      {"d", 0, 0},
      {"10", 0, 0},
      {"1y", 0, 0},
      {"1h-1m", 0, 0},
      {"99999999999d", 0, 0},
      {"1 d", 0, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int64_t got = 0;
    int rc = mh_pki_spec_parse_duration(cases[i].s, &got);
    if ((rc == 0) != cases[i].ok || (cases[i].ok && got != cases[i].want)) {
      print_error("duration \"%s\": rc %d got %lld\n", cases[i].s, rc, (long long)got);
      fail();
    }
  }
}

static void test_missing_file(void **state) {
  (void)state;
  struct mh_arena a;
  mh_arena_init(&a);
  struct mh_pki_spec spec;
  struct mh_err err;
  assert_int_equal(mh_pki_spec_load(&a, "/nonexistent/spec.json", &spec, &err), -1);
  assert_non_null(
      strstr(err.msg, "/nonexistent/spec.json: no such file (check the path of the spec)"));
  mh_arena_free(&a);
}

static void test_shipped_specs_parse(void **state) {
  (void)state;
  const char *src = getenv("MH_SOURCE_DIR");
  assert_non_null(src);
  static const struct {
    const char *file;
    size_t cas, ids, zips;
  } shipped[] = {{"fixtures/federation.json", 3, 16, 3}, {"fixtures/miniconomy.json", 1, 22, 11}};
  for (size_t i = 0; i < 2; i++) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", src, shipped[i].file);
    struct mh_arena a;
    mh_arena_init(&a);
    struct mh_pki_spec spec;
    struct mh_err err = {{0}};
    if (mh_pki_spec_load(&a, path, &spec, &err) != 0) {
      print_error("%s\n", err.msg);
      fail();
    }
    assert_int_equal(spec.num_cas, shipped[i].cas);
    assert_int_equal(spec.num_entities - spec.num_cas, shipped[i].ids);
    assert_int_equal(spec.num_zips, shipped[i].zips);
    mh_arena_free(&a);
  }
}

// Imported files resolve against the spec's directory and keep the names configs use;
// mh_pki_spec_file finds them where they are, and a passphrase-protected identity key in the
// output directory (its decrypted copy).
static void test_imports_resolve(void **state) {
  (void)state;
  const char *src = getenv("MH_SOURCE_DIR");
  assert_non_null(src);
  char name[1024], want[1100], got[1200];
  snprintf(name, sizeof(name), "%s/fixtures/ops.json", src);
  static const char json[] =
      "{\"cas\":[{\"name\":\"op\",\"import_cert\":\"federation.json\","
      "\"cert_file\":\"federation-ca.pem\"}],"
      "\"identities\":[{\"name\":\"b\",\"import_cert\":\"miniconomy.json\",\"import_key\":"
      "\"/etc/passwd\",\"import_chain\":\"federation.json\"},"
      "{\"name\":\"c\",\"import_cert\":\"/etc/passwd\",\"import_key\":\"/etc/passwd\","
      "\"passphrase_env\":\"C_PASS\"}]}";
  struct mh_arena a;
  mh_arena_init(&a);
  struct mh_pki_spec spec;
  struct mh_err err = {{0}};
  if (mh_pki_spec_parse(&a, name, json, strlen(json), &spec, &err) != 0) {
    fail_msg("%s", err.msg);
  }
  const struct mh_pki_entity *op = &spec.entities[0], *b = &spec.entities[1];
  assert_true(op->imported && op->issuer == -1 && op->key_file == NULL);
  snprintf(want, sizeof(want), "%s/fixtures/federation.json", src);
  assert_string_equal(op->import_cert, want);
  assert_true(mh_pki_spec_writes(&spec, "federation-ca.pem"));
  mh_pki_spec_file(&spec, "/out", "federation-ca.pem", got, sizeof(got));
  assert_string_equal(got, want);
  assert_string_equal(b->key_file, "b-key.pem");
  assert_string_equal(b->chain_file, "b-chain.pem");
  mh_pki_spec_file(&spec, "/out", "b-chain.pem", got, sizeof(got));
  assert_string_equal(got, want);
  mh_pki_spec_file(&spec, "/out", "b-key.pem", got, sizeof(got));
  assert_string_equal(got, "/etc/passwd");
  mh_pki_spec_file(&spec, "/out", "c-key.pem", got, sizeof(got));
  assert_string_equal(got, "/out/c-key.pem");  // decrypted by the generator, 0600
  mh_pki_spec_file(&spec, "/out", "c-cert.pem", got, sizeof(got));
  assert_string_equal(got, "/etc/passwd");
  mh_arena_free(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_specs),       cmocka_unit_test(test_defaults_and_file_names),
      cmocka_unit_test(test_durations),       cmocka_unit_test(test_dropped_defaults_and_sans),
      cmocka_unit_test(test_missing_file),    cmocka_unit_test(test_shipped_specs_parse),
      cmocka_unit_test(test_imports_resolve),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
