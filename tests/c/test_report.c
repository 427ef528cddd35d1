// Unit tests for the report layer on crafted results: escaping, the case log's "no alert", the
// matrices of the human reports, and the files each entry point writes (and does not). The layer's
// pieces are reached through report/internal.h, as its own files reach them.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/alerts.h"
#include "load/load.h"
#include "load/sweep.h"
#include "report/internal.h"
#include "report/report.h"
#include "tls/tls.h"
#include "tmpdir.h"

// capture_case_log returns the log of case |c| (the caller frees it).
static char *capture_case_log(const struct mh_case_result *c) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  mh_case_log_write(f, c);
  fclose(f);
  return buf;
}

static void fill_case(struct mh_case_result *c, const char *id, const char *kind,
                      const char *target, const char *identity, int version) {
  memset(c, 0, sizeof(*c));
  c->id = id;
  c->kind = kind;
  c->target = target;
  c->endpoint = "127.0.0.1:1";
  c->identity = identity;
  c->version = version;
  c->server_name = "loc.example";
  snprintf(c->outcome.tcp, sizeof(c->outcome.tcp), "ok");
  c->outcome.tls.alert_sent = MH_ALERT_NONE;
  c->outcome.tls.alert_received = MH_ALERT_NONE;
  c->verdict = MH_VERDICT_PASS;
  snprintf(c->summary, sizeof(c->summary), "accepted");
  snprintf(c->expected_text, sizeof(c->expected_text), "accept");
}

static int exists(const char *dir, const char *rel) {
  char path[600];
  struct stat st;
  snprintf(path, sizeof(path), "%s/%s", dir, rel);
  return stat(path, &st) == 0;
}

static void test_escape_xml(void **state) {
  (void)state;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  mh_escape_xml(f, "a<b>&\"c'\x01\n\td");
  mh_escape_xml(f, NULL);
  fclose(f);
  // Control characters are shown, not dropped: XML 1.0 forbids them raw.
  assert_string_equal(buf, "a&lt;b&gt;&amp;&quot;c&apos;\\x01\n\td");
  free(buf);
}

static void test_case_file_name(void **state) {
  (void)state;
  char out[16];
  // Injective: '/' is '_', and '_' itself, a space or ':' are escaped, so a/b and a_b differ.
  mh_report_case_file_name("loc/a b:c", out, sizeof(out));
  assert_string_equal(out, "loc_a%20b%3Ac");
  mh_report_case_file_name("a_b", out, sizeof(out));
  assert_string_equal(out, "a%5Fb");
  mh_report_case_file_name("0123456789abcdefghij", out, sizeof(out));
  assert_string_equal(out, "0123456789abcde");  // truncated, still terminated
}

// A case without alerts says "none", never the placeholder's value.
static void test_case_log_no_alert(void **state) {
  (void)state;
  struct mh_case_result c;
  fill_case(&c, "loc/none/1.3", "matrix", "loc", NULL, MH_TLS13);
  c.has_server = 1;
  c.server.alert_sent = MH_ALERT_NONE;
  c.server.alert_received = MH_ALERT_NONE;
  char *log = capture_case_log(&c);
  assert_non_null(strstr(log, "  alert sent     none\n"));
  assert_non_null(strstr(log, "  alert received none\n"));
  assert_null(strstr(log, "-1"));
  free(log);

  c.outcome.tls.alert_received = 116;
  log = capture_case_log(&c);
  assert_non_null(strstr(log, "  alert received 116 certificate_required\n"));
  free(log);
}

// Plain matrix cases make one matrix per target, rows in the order identities first appear;
// explicit cases, "a:b" and "a-vs-b" ids stay out of them.
static void test_grids(void **state) {
  (void)state;
  struct mh_case_result cases[6];
  fill_case(&cases[0], "a/good/1.2", "matrix", "a", "good", MH_TLS12);
  fill_case(&cases[1], "b/none/1.3", "matrix", "b", NULL, MH_TLS13);
  fill_case(&cases[2], "a/none/1.3", "matrix", "a", NULL, MH_TLS13);
  fill_case(&cases[3], "a:extra", "matrix", "a", "other", MH_TLS12);
  fill_case(&cases[4], "a-vs-b", "matrix", "a", "other", MH_TLS12);
  fill_case(&cases[5], "x", "explicit", "c", "other", MH_TLS12);
  struct mh_report r = {.scenario_name = "s", .cases = cases, .num_cases = 6};
  struct mh_grid g[4];
  assert_int_equal(mh_grid_collect(&r, g, 4), 2);
  assert_string_equal(g[0].target, "a");
  assert_int_equal(g[0].num_rows, 2);
  assert_string_equal(g[0].rows[0], "good");
  assert_string_equal(g[0].rows[1], "none");
  assert_string_equal(g[1].target, "b");
  assert_int_equal(g[1].num_rows, 1);
  assert_ptr_equal(mh_grid_cell(&r, "a", "none", MH_TLS13), &cases[2]);
  assert_null(mh_grid_cell(&r, "a", "none", MH_TLS12));
  assert_null(mh_grid_cell(&r, "a", "other", MH_TLS12));
  assert_int_equal(mh_grid_holds(&cases[0]), 1);
  assert_int_equal(mh_grid_holds(&cases[3]), 0);
  assert_int_equal(mh_grid_holds(&cases[4]), 0);
  assert_int_equal(mh_grid_holds(&cases[5]), 0);
  // No room: the first target only.
  assert_int_equal(mh_grid_collect(&r, g, 1), 1);
  assert_string_equal(g[0].target, "a");
}

static void test_run_report_files(void **state) {
  (void)state;
  char dir[300];
  snprintf(dir, sizeof(dir), "%s/run", root);
  struct mh_case_result cases[2];
  fill_case(&cases[0], "a/good/1.2", "matrix", "a", "good", MH_TLS12);
  fill_case(&cases[1], "x y", "explicit", "a", NULL, MH_TLS13);
  struct mh_report r = {.scenario_name = "s",
                        .scenario_file = "s.json",
                        .out_dir = dir,
                        .tls_library = "BoringSSL",
                        .cases = cases,
                        .num_cases = 2};
  struct mh_err err;
  assert_int_equal(mh_report_write(&r, &err), 0);
  const char *files[] = {"report.json",          "junit.xml",      "report.md", "report.html",
                         "cases/a_good_1.2.log", "cases/x%20y.log"};
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    assert_true(exists(dir, files[i]));
  }
  assert_false(exists(dir, "cases/x%20y.pcapng"));  // nothing captured
}

// All or nothing: when a file cannot be placed, no report file is left behind.
static void test_run_report_nothing_on_failure(void **state) {
  (void)state;
  char dir[300], path[400];
  snprintf(dir, sizeof(dir), "%s/run", root);
  assert_int_equal(mkdir(dir, 0755), 0);
  snprintf(path, sizeof(path), "%s/cases", dir);
  FILE *f = fopen(path, "w");  // a file where the cases/ directory belongs
  assert_non_null(f);
  fclose(f);
  struct mh_case_result c;
  fill_case(&c, "a", "matrix", "a", NULL, MH_TLS13);
  struct mh_report r = {.scenario_name = "s",
                        .scenario_file = "s.json",
                        .out_dir = dir,
                        .tls_library = "BoringSSL",
                        .cases = &c,
                        .num_cases = 1};
  struct mh_err err;
  assert_int_equal(mh_report_write(&r, &err), -1);
  assert_true(err.msg[0] != '\0');
  assert_false(exists(dir, "report.json"));
  assert_false(exists(dir, "report.md"));
}

static void test_load_report_files(void **state) {
  (void)state;
  char dir[300];
  struct mh_load_identity good = {"good", NULL, NULL};
  struct mh_load_options o = {0};
  o.good = &good;
  o.num_good = 1;
  o.version = MH_TLS13;
  o.rate = 10;
  o.duration_s = 1;
  o.threads = 1;
  struct mh_load_result *lr = calloc(1, sizeof(*lr));
  assert_non_null(lr);
  struct mh_hist *hs[] = {&lr->tcp,          &lr->handshake,    &lr->first_record,
                          &lr->total_accept, &lr->total_reject, &lr->handshake_resumed};
  for (size_t k = 0; k < sizeof(hs) / sizeof(hs[0]); k++) {
    mh_hist_init(hs[k]);
  }
  lr->elapsed_s = 1;
  lr->planned = lr->started = lr->accepted = 10;
  lr->num_seconds = 1;
  struct mh_err err;
  snprintf(dir, sizeof(dir), "%s/load", root);
  char note[MH_ERR_LEN];
  assert_int_equal(mh_report_write_load(dir, "t", &o, lr, NULL, note, sizeof(note), &err), 0);
  assert_true(exists(dir, "report.json") && exists(dir, "report.md"));
  // The data and scripts always; the pictures when gnuplot drew them (else |note| says why).
  assert_true(exists(dir, "load.dat") && exists(dir, "load.gp") && exists(dir, "percentiles.gp"));
  assert_int_equal(exists(dir, "load.svg"), note[0] == '\0');
  assert_int_equal(exists(dir, "percentiles.svg"), note[0] == '\0');
  assert_false(exists(dir, "sweep.dat") || exists(dir, "sweep.svg"));

  static struct mh_sweep sw;
  sw.num_steps = 1;
  sw.steps[0].offered = 10;
  sw.steps[0].sustained = 1;
  sw.sustainable = 10;
  snprintf(dir, sizeof(dir), "%s/sweep", root);
  assert_int_equal(mh_report_write_load(dir, "t", &o, lr, &sw, note, sizeof(note), &err), 0);
  assert_true(exists(dir, "sweep.dat") && exists(dir, "sweep.gp"));
  assert_int_equal(exists(dir, "sweep.svg"), note[0] == '\0');
  free(lr);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_escape_xml),
      cmocka_unit_test(test_case_file_name),
      cmocka_unit_test(test_case_log_no_alert),
      cmocka_unit_test(test_grids),
      cmocka_unit_test_setup_teardown(test_run_report_files, setup, teardown),
      cmocka_unit_test_setup_teardown(test_run_report_nothing_on_failure, setup, teardown),
      cmocka_unit_test_setup_teardown(test_load_report_files, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
