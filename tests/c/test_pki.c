// Unit tests for pki.c: issued certificates chain by signature, CA keys are reused unless forced,
// and a generation that fails part-way writes nothing.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "input/scenario.h"
#include "pki/inspect.h"
#include "pki/pki.h"
#include "tmpdir.h"

static const char *spec_json =
    "{\"cas\":[{\"name\":\"root\",\"key\":\"ecdsa-p384\"},"
    "{\"name\":\"mid\",\"issuer\":\"root\",\"key\":\"ed25519\"}],"
    "\"identities\":[{\"name\":\"leaf\",\"ca\":\"mid\",\"subject\":{\"CN\":\"leaf\"},"
    "\"chain_file\":\"leaf-chain.pem\",\"csr_file\":\"leaf.csr\"},"
    "{\"name\":\"bad\",\"ca\":\"root\",\"key_mismatch\":true}],"
    "\"zips\":[{\"file\":\"z/leaf.zip\",\"members\":[\"leaf-cert.pem\",\"leaf-key.pem\"],"
    "\"readme\":true}]}";

static int generate(const char *json, const char *out, int force, struct mh_err *err) {
  struct mh_arena a;
  mh_arena_init(&a);
  struct mh_pki_spec spec;
  int rc = mh_pki_spec_parse(&a, "t.json", json, strlen(json), &spec, err);
  if (rc == 0) {
    struct mh_pki_options opts = {.out_dir = out, .force = force};
    rc = mh_pki_generate(&spec, &opts, err);
  }
  mh_arena_free(&a);
  return rc;
}

static X509 *read_cert(const char *name) {
  char path[400];
  snprintf(path, sizeof(path), "%s/%s", root, name);
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    return NULL;
  }
  X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
  fclose(f);
  return x;
}

static EVP_PKEY *read_key(const char *name) {
  char path[400];
  snprintf(path, sizeof(path), "%s/%s", root, name);
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    return NULL;
  }
  EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
  fclose(f);
  return k;
}

static mode_t mode_of(const char *name) {
  char path[400];
  snprintf(path, sizeof(path), "%s/%s", root, name);
  struct stat sb;
  return stat(path, &sb) == 0 ? sb.st_mode & 0777 : (mode_t)-1;
}

static void test_chain_signatures_and_modes(void **state) {
  (void)state;
  struct mh_err err = {{0}};
  if (generate(spec_json, root, 0, &err) != 0) {
    print_error("%s\n", err.msg);
    fail();
  }
  X509 *r = read_cert("root.pem"), *m = read_cert("mid.pem"), *l = read_cert("leaf-cert.pem");
  assert_non_null(r);
  assert_non_null(m);
  assert_non_null(l);
  EVP_PKEY *rk = X509_get_pubkey(r), *mk = X509_get_pubkey(m);
  assert_int_equal(X509_verify(r, rk), 1);  // self-signed root
  assert_int_equal(X509_verify(m, rk), 1);  // intermediate signed by the root
  assert_int_equal(X509_verify(l, mk), 1);  // leaf signed by the intermediate (Ed25519)
  assert_int_equal(X509_verify(l, rk), 0);
  assert_int_equal(X509_get_version(l), 2);  // v3
  assert_int_equal(mode_of("leaf-key.pem"), 0600);
  assert_int_equal(mode_of("root-key.pem"), 0600);
  assert_int_equal(mode_of("leaf-cert.pem"), 0644);
  assert_int_equal(mode_of("z/leaf.zip"), 0600);  // holds a private key
  assert_int_equal(mode_of("leaf.csr"), 0644);
  EVP_PKEY *lk = read_key("leaf-key.pem");
  assert_int_equal(X509_check_private_key(l, lk), 1);
  X509 *bad = read_cert("bad-cert.pem");
  EVP_PKEY *badk = read_key("bad-key.pem");
  assert_int_equal(X509_check_private_key(bad, badk), 0);  // deliberately mismatched
  ERR_clear_error();
  EVP_PKEY_free(badk);
  X509_free(bad);
  EVP_PKEY_free(lk);
  EVP_PKEY_free(rk);
  EVP_PKEY_free(mk);
  X509_free(r);
  X509_free(m);
  X509_free(l);
}

static void test_ca_key_reused_unless_forced(void **state) {
  (void)state;
  struct mh_err err = {{0}};
  assert_int_equal(generate(spec_json, root, 0, &err), 0);
  EVP_PKEY *k1 = read_key("root-key.pem");
  EVP_PKEY *leaf1 = read_key("leaf-key.pem");
  assert_int_equal(generate(spec_json, root, 0, &err), 0);
  EVP_PKEY *k2 = read_key("root-key.pem");
  EVP_PKEY *leaf2 = read_key("leaf-key.pem");
  assert_int_equal(EVP_PKEY_cmp(k1, k2), 1);            // CA key reused
  assert_int_not_equal(EVP_PKEY_cmp(leaf1, leaf2), 1);  // identity keys regenerated
  assert_int_equal(generate(spec_json, root, 1, &err), 0);
  EVP_PKEY *k3 = read_key("root-key.pem");
  assert_int_not_equal(EVP_PKEY_cmp(k1, k3), 1);  // --force regenerates the CA
  EVP_PKEY_free(k1);
  EVP_PKEY_free(k2);
  EVP_PKEY_free(k3);
  EVP_PKEY_free(leaf1);
  EVP_PKEY_free(leaf2);
}

static void test_wrong_type_ca_key_fails_and_writes_nothing(void **state) {
  (void)state;
  struct mh_err err = {{0}};
  // An existing P-256 CA key where the spec now asks for P-384.
  const char *first = "{\"cas\":[{\"name\":\"root\"}]}";
  assert_int_equal(generate(first, root, 0, &err), 0);
  assert_int_equal(unlink(strcat(strcpy((char[400]){0}, root), "/root.pem")), 0);
  assert_int_equal(generate(spec_json, root, 0, &err), -1);
  assert_non_null(strstr(err.msg,
                         "existing CA key is ecdsa-p256 but $.cas[0].key asks for "
                         "ecdsa-p384 (pass --force"));
  assert_int_equal(mode_of("root.pem"), (mode_t)-1);
  assert_int_equal(mode_of("leaf-cert.pem"), (mode_t)-1);
  assert_int_equal(mode_of("z"), (mode_t)-1);
  assert_int_equal(mode_of("root-key.pem"), 0600);  // untouched
}

static void test_unreadable_ca_key(void **state) {
  (void)state;
  char path[400];
  snprintf(path, sizeof(path), "%s/root-key.pem", root);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("not a key\n", f);
  fclose(f);
  struct mh_err err = {{0}};
  assert_int_equal(generate(spec_json, root, 0, &err), -1);
  assert_non_null(strstr(err.msg, "root-key.pem: existing CA key is not a readable"));
  assert_int_equal(generate(spec_json, root, 1, &err), 0);  // --force replaces it
}

// An imported CA with its key issues identities that chain to its own file (inspect's path
// building says so); an imported CA without its key is only read; imported files stay untouched;
// a CA certificate of another key is unknown.
static void test_imported_ca_issues(void **state) {
  (void)state;
  char gen[300], out[300], spec[2048], ca[400], stranger[400];
  snprintf(gen, sizeof(gen), "%.250s/operator", root);
  snprintf(out, sizeof(out), "%.250s/out", root);
  struct mh_err err = {{0}};
  // The "operator's" CA, and a stranger of the same name and another key.
  if (generate("{\"cas\":[{\"name\":\"ca\",\"subject\":{\"CN\":\"Op\"}},{\"name\":\"x\","
               "\"subject\":{\"CN\":\"Op\"}}]}",
               gen, 0, &err) != 0) {
    fail_msg("%s", err.msg);
  }
  snprintf(ca, sizeof(ca), "%s/ca.pem", gen);
  snprintf(stranger, sizeof(stranger), "%s/x.pem", gen);
  struct stat before;
  assert_int_equal(stat(ca, &before), 0);
  snprintf(spec, sizeof(spec),
           "{\"cas\":[{\"name\":\"op\",\"import_cert\":\"%s\",\"import_key\":\"%s/ca-key.pem\"},"
           "{\"name\":\"ro\",\"import_cert\":\"%s\"}],"
           "\"identities\":[{\"name\":\"leaf\",\"ca\":\"op\",\"subject\":{\"CN\":\"l\"}}]}",
           ca, gen, stranger);
  if (generate(spec, out, 0, &err) != 0) {
    fail_msg("%s", err.msg);
  }
  struct stat after;
  assert_int_equal(stat(ca, &after), 0);
  assert_int_equal(before.st_mtime, after.st_mtime);
  char leaf[400], key[400];
  snprintf(leaf, sizeof(leaf), "%s/leaf-cert.pem", out);
  snprintf(key, sizeof(key), "%s/leaf-key.pem", out);
  assert_int_equal(access(leaf, R_OK), 0);
  struct mh_inspect_cert c;
  assert_int_equal(mh_inspect_load(&c, leaf, key, &err), 0);
  assert_int_equal(c.key_matches, 1);
  assert_string_equal(c.cn, "l");
  const char *files[] = {ca};
  enum mh_inspect_path path = MH_INSPECT_PATH_UNKNOWN_CA;
  assert_int_equal(mh_inspect_verify(&c, files, 1, time(NULL), &path, &err), 0);
  assert_int_equal(path, MH_INSPECT_PATH_OK);
  files[0] = stranger;
  assert_int_equal(mh_inspect_verify(&c, files, 1, time(NULL), &path, &err), 0);
  assert_int_equal(path, MH_INSPECT_PATH_UNKNOWN_CA);
  // The same certificate checked a year from now: expired.
  files[0] = ca;
  assert_int_equal(mh_inspect_verify(&c, files, 1, time(NULL) + 365 * 86400, &path, &err), 0);
  assert_int_equal(path, MH_INSPECT_PATH_EXPIRED);
  mh_inspect_cleanup(&c);
  // Nothing of the imported CAs was written into the output.
  char none[400];
  snprintf(none, sizeof(none), "%s/op.pem", out);
  assert_int_not_equal(access(none, F_OK), 0);
  snprintf(none, sizeof(none), "%s/ro.pem", out);
  assert_int_not_equal(access(none, F_OK), 0);
}

// A CA file holding the intermediate and not its root: the path reaches a trusted certificate
// whose own issuer is missing (X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT), which is NO_ROOT, not the
// UNKNOWN_CA that optional_no_ca forgives (nginx and mod_ssl both refuse it); the root alone
// verifies the leaf with its chain; the intermediate alone does not verify a root-signed leaf
// (no issuer found: UNKNOWN_CA).
static void test_intermediate_without_root(void **state) {
  (void)state;
  struct mh_err err = {{0}};
  if (generate(spec_json, root, 0, &err) != 0) {
    fail_msg("%s", err.msg);
  }
  char chain[400], key[400], mid[400], top[400], bad[400];
  snprintf(chain, sizeof(chain), "%s/leaf-chain.pem", root);
  snprintf(key, sizeof(key), "%s/leaf-key.pem", root);
  snprintf(mid, sizeof(mid), "%s/mid.pem", root);
  snprintf(top, sizeof(top), "%s/root.pem", root);
  snprintf(bad, sizeof(bad), "%s/bad-cert.pem", root);
  struct mh_inspect_cert c, b;
  assert_int_equal(mh_inspect_load(&c, chain, key, &err), 0);
  const char *files[] = {mid};
  enum mh_inspect_path path = MH_INSPECT_PATH_OK;
  assert_int_equal(mh_inspect_verify(&c, files, 1, time(NULL), &path, &err), 0);
  assert_int_equal(path, MH_INSPECT_PATH_NO_ROOT);
  files[0] = top;
  assert_int_equal(mh_inspect_verify(&c, files, 1, time(NULL), &path, &err), 0);
  assert_int_equal(path, MH_INSPECT_PATH_OK);
  mh_inspect_cleanup(&c);
  assert_int_equal(mh_inspect_load(&b, bad, NULL, &err), 0);
  files[0] = mid;
  assert_int_equal(mh_inspect_verify(&b, files, 1, time(NULL), &path, &err), 0);
  assert_int_equal(path, MH_INSPECT_PATH_UNKNOWN_CA);
  mh_inspect_cleanup(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_chain_signatures_and_modes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ca_key_reused_unless_forced, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wrong_type_ca_key_fails_and_writes_nothing, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_unreadable_ca_key, setup, teardown),
      cmocka_unit_test_setup_teardown(test_imported_ca_issues, setup, teardown),
      cmocka_unit_test_setup_teardown(test_intermediate_without_root, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
