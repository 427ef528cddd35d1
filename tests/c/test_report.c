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

static void fill_case(struct mh_case_result *c, const char *id, enum mh_case_kind kind,
                      const char *target, const char *identity, int version) {
  memset(c, 0, sizeof(*c));
  c->id = id;
  c->kind = kind;
  c->target = target;
  c->endpoint = "127.0.0.1:1";
  c->identity = identity;
  c->version = version;
  c->server_name = "loc.example";
  c->outcome.tcp = MH_TCP_OK;
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
  fill_case(&c, "loc/none/1.3", MH_CASE_MATRIX, "loc", NULL, MH_TLS13);
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
// explicit cases and the matrix's checks stay out of them.
static void test_grids(void **state) {
  (void)state;
  struct mh_case_result cases[6];
  fill_case(&cases[0], "a/good/1.2", MH_CASE_MATRIX, "a", "good", MH_TLS12);
  fill_case(&cases[1], "b/none/1.3", MH_CASE_MATRIX, "b", NULL, MH_TLS13);
  fill_case(&cases[2], "a/none/1.3", MH_CASE_MATRIX, "a", NULL, MH_TLS13);
  fill_case(&cases[3], "a:extra", MH_CASE_MATRIX, "a", "other", MH_TLS12);
  fill_case(&cases[4], "a-vs-b", MH_CASE_MATRIX, "a", "other", MH_TLS12);
  cases[3].check = MH_CHECK_WRONG_NAME;  // the matrix's checks are listed below the grid
  cases[4].check = MH_CHECK_MIN_TLS13;
  fill_case(&cases[5], "x", MH_CASE_EXPLICIT, "c", "other", MH_TLS12);
  struct mh_run_result run = {.cases = cases, .num_cases = 6};
  struct mh_report r = {.scenario_name = "s", .run = &run};
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

// written returns what |fn| writes of |r| (the caller frees it).
static char *written(void (*fn)(FILE *, const struct mh_report *), const struct mh_report *r) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  fn(f, r);
  fclose(f);
  return buf;
}

// in_order asserts that each of |marks| (NULL-terminated) is in |text|, each after the one before.
static void in_order(const char *text, const char *const *marks) {
  const char *at = text;
  for (size_t i = 0; marks[i] != NULL; i++) {
    const char *next = strstr(at, marks[i]);
    if (next == NULL) {
      fail_msg("\"%s\" missing, or before \"%s\"", marks[i], i ? marks[i - 1] : "(start)");
    }
    at = next + strlen(marks[i]);
  }
}

// The command that reruns a case: words quoted for a POSIX shell, the filter matching the id
// alone (glob characters behind a backslash, a control character as '?'), pins as NAME:PORT:ADDR.
static void test_rerun_command(void **state) {
  (void)state;
  struct mh_net_pin pins[2] = {{"db.example", 443, "192.0.2.1"}, {"v6.example", 8443, "::1"}};
  struct mh_rerun x = {.program = "/opt/mh/mtls-harness",
                       .scenario_file = "/s d/it's.json",
                       .out_dir = "/out",
                       .profiles_dir = "/p",
                       .strict = 1,
                       .pcap = 1,
                       .capture_iface = "lo",
                       .pins = pins,
                       .num_pins = 2,
                       .has_retries = 1,
                       .retries = 3};
  char *cmd = mh_failure_rerun(&x, "a/it's *[x]?\\\x1b");
  assert_non_null(cmd);
  assert_string_equal(
      cmd,
      "/opt/mh/mtls-harness run '/s d/it'\\''s.json' --filter "
      "'a/it'\\''s \\*\\[x\\]\\?\\\\?' --out /out/rerun/a_it%27s%20%2A%5Bx%5D%3F%5C%1B "
      "--profiles /p --resolve db.example:443:192.0.2.1 --resolve "
      "'v6.example:8443:[::1]' --strict --retries 3 --pcap --capture-iface lo");
  free(cmd);
  // Nothing but what the run had: no program known is "mtls-harness", no options.
  struct mh_rerun y = {.scenario_file = "s.json", .out_dir = "o"};
  cmd = mh_failure_rerun(&y, "loc/none/tls1.3");
  assert_string_equal(cmd,
                      "mtls-harness run s.json --filter 'loc/none/tls1.3' --out "
                      "o/rerun/loc_none_tls1.3");
  free(cmd);
}

// The server's flight in brief: the version, whether a CertificateRequest came, the first CAs.
static void test_failure_flight(void **state) {
  (void)state;
  struct mh_case_outcome o;
  memset(&o, 0, sizeof(o));
  char out[256];
  mh_failure_flight(&o, out, sizeof(out));
  assert_string_equal(out, "no ServerHello");
  o.tls.server_hello = 1;
  o.tls.server_version = 0x0304;
  mh_failure_flight(&o, out, sizeof(out));
  assert_string_equal(out, "ServerHello TLSv1.3; no CertificateRequest");
  o.tls.certificate_request = 1;
  o.tls.num_request_cas = 5;
  o.num_request_cas_kept = 4;
  char names[4][16];
  for (int i = 0; i < 4; i++) {
    snprintf(names[i], sizeof(names[i]), "CN=ca%d", i);
    o.request_cas[i] = names[i];
  }
  mh_failure_flight(&o, out, sizeof(out));
  assert_string_equal(out,
                      "ServerHello TLSv1.3; CertificateRequest seen, 5 CA names: CN=ca0; CN=ca1; "
                      "CN=ca2; ...");
  char small[20];
  mh_failure_flight(&o, small, sizeof(small));  // cut, still terminated
  assert_int_equal(strlen(small), sizeof(small) - 1);
}

// report.md and report.html lead with the answer, in the same order: the counts, the failures
// (expected, actual, why, the server's flight, the log, the rerun command), the warnings, the
// matrices, the other cases. JUnit has the attributes CI reads.
static void test_run_report_order(void **state) {
  (void)state;
  struct mh_case_result cases[3];
  fill_case(&cases[0], "a/good/1.2", MH_CASE_MATRIX, "a", "good", MH_TLS12);
  fill_case(&cases[1], "a/bad/1.3", MH_CASE_MATRIX, "a", "bad", MH_TLS13);
  cases[1].verdict = MH_VERDICT_UNEXPECTED_ACCEPT;
  cases[1].fails = 1;
  snprintf(cases[1].expected_text, sizeof(cases[1].expected_text), "reject (cn_not_allowed)");
  snprintf(cases[1].verdict_reason, sizeof(cases[1].verdict_reason), "the server <admitted> it");
  cases[1].outcome.tls.server_hello = 1;
  cases[1].outcome.tls.server_version = 0x0304;
  cases[1].outcome.tls.certificate_request = 1;
  cases[1].outcome.tls.num_request_cas = 1;
  cases[1].outcome.num_request_cas_kept = 1;
  char fed_ca[] = "CN=Fed CA";
  cases[1].outcome.request_cas[0] = fed_ca;
  fill_case(&cases[2], "extra", MH_CASE_EXPLICIT, "a", NULL, MH_TLS13);
  struct mh_run_warning warn = {.message = "a warning"};
  struct mh_rerun x = {.program = "mh", .scenario_file = "/s.json", .out_dir = "/o"};
  struct mh_run_result run = {.started_ms = 86400000LL + 1500,
                              .duration_ms = 2500,
                              .exit_code = 1,
                              .cases = cases,
                              .num_cases = 3,
                              .warnings = &warn,
                              .num_warnings = 1};
  struct mh_report r = {.scenario_name = "s",
                        .scenario_file = "s.json",
                        .hostname = "host&1",
                        .rerun = &x,
                        .run = &run};
  char *md = written(mh_markdown_write, &r);
  const char *md_marks[] = {
      "**1 of 3 failed**",
      "| unexpected-accept | 1 |",
      "## Failures (1)",
      "### a/bad/1.3",
      "- expected: reject (cn\\_not\\_allowed)",
      "- actual: accepted",
      "- why: the server &lt;admitted&gt; it",
      "CertificateRequest seen, 1 CA name: CN=Fed CA",
      "[case log](cases/a_bad_1.3.log)",
      "```sh\nmh run /s.json --filter 'a/bad/1.3' --out /o/rerun/a_bad_1.3\n```",
      "> **Warning:** a warning",
      "## a\n",
      "## Other cases",
      NULL};
  in_order(md, md_marks);
  free(md);
  char *html = written(mh_html_write, &r);
  const char *html_marks[] = {"<strong>1 of 3 failed</strong>",
                              "<tr><td>unexpected-accept</td><td>1</td>",
                              "<h2 id=\"failures\">Failures (1)</h2>",
                              "<h3>a/bad/1.3</h3>",
                              "expected: reject (cn_not_allowed)",
                              "why: the server &lt;admitted&gt; it",
                              "CertificateRequest seen, 1 CA name: CN=Fed CA",
                              "<a href=\"cases/a_bad_1.3.log\">case log</a>",
                              "<code>mh run /s.json --filter &apos;a/bad/1.3&apos; --out "
                              "/o/rerun/a_bad_1.3</code>",
                              "<b>Warning:</b> a warning",
                              "<h2>a</h2>",
                              "<h2>Other cases</h2>",
                              NULL};
  in_order(html, html_marks);
  // Without --pcap, no capture column.
  assert_null(strstr(html, "capture</th>"));
  free(html);
  r.pcap = 1;
  html = written(mh_html_write, &r);
  assert_non_null(strstr(html, "<th>capture</th>"));
  free(html);
  char *junit = written(mh_junit_write, &r);
  assert_non_null(strstr(junit, " timestamp=\"1970-01-02T00:00:01Z\" hostname=\"host&amp;1\""));
  assert_non_null(strstr(junit, "skipped=\"0\" time=\"2.500\">"));
  free(junit);
}

static void test_run_report_files(void **state) {
  (void)state;
  char dir[300];
  snprintf(dir, sizeof(dir), "%s/run", root);
  struct mh_case_result cases[2];
  fill_case(&cases[0], "a/good/1.2", MH_CASE_MATRIX, "a", "good", MH_TLS12);
  fill_case(&cases[1], "x y", MH_CASE_EXPLICIT, "a", NULL, MH_TLS13);
  struct mh_run_result run = {.cases = cases, .num_cases = 2};
  struct mh_report r = {.scenario_name = "s",
                        .scenario_file = "s.json",
                        .out_dir = dir,
                        .tls_library = "BoringSSL",
                        .run = &run};
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
  fill_case(&c, "a", MH_CASE_MATRIX, "a", NULL, MH_TLS13);
  struct mh_run_result run = {.cases = &c, .num_cases = 1};
  struct mh_report r = {.scenario_name = "s",
                        .scenario_file = "s.json",
                        .out_dir = dir,
                        .tls_library = "BoringSSL",
                        .run = &run};
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
  mh_load_result_init(lr);
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
      cmocka_unit_test(test_rerun_command),
      cmocka_unit_test(test_failure_flight),
      cmocka_unit_test(test_run_report_order),
      cmocka_unit_test_setup_teardown(test_run_report_files, setup, teardown),
      cmocka_unit_test_setup_teardown(test_run_report_nothing_on_failure, setup, teardown),
      cmocka_unit_test_setup_teardown(test_load_report_files, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
