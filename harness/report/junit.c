// junit: the run's junit.xml for CI: one testcase per case with its time, a failure (or an error,
// for an inconclusive case) when it fails, and its log as the text; the suite with the attributes
// CI systems read (timestamp, hostname, time); the run's warnings as properties, and under
// --strict as failing testcases of their own.
#include "report/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

// junit_warnings writes the run's warnings: each as a property of the suite (CI shows them), and
// under --strict as a testcase that fails (the run does too).
static void junit_warnings(FILE *f, const struct mh_report *r) {
  if (r->run->num_warnings == 0) {
    return;
  }
  fputs("    <properties>\n", f);
  for (size_t i = 0; i < r->run->num_warnings; i++) {
    fputs("      <property name=\"warning\" value=\"", f);
    mh_escape_xml(f, r->run->warnings[i].message);
    fputs("\"/>\n", f);
  }
  fputs("    </properties>\n", f);
  for (size_t i = 0; i < r->run->num_warnings; i++) {
    const struct mh_run_warning *w = &r->run->warnings[i];
    if (!mh_warnings_fails(w, r->strict)) {
      continue;
    }
    fputs("    <testcase classname=\"run\" name=\"warning:", f);
    mh_escape_xml(f, mh_warnings_name(w->kind));
    if (w->target != NULL) {
      fputc('/', f);
      mh_escape_xml(f, w->target);
    }
    fprintf(f, "\" time=\"0\">\n      <failure type=\"%s\" message=\"", mh_warnings_name(w->kind));
    mh_escape_xml(f, w->message);
    fputs("\">", f);
    mh_escape_xml(f, w->message);
    fputs("</failure>\n    </testcase>\n", f);
  }
}

void mh_junit_write(FILE *f, const struct mh_report *r) {
  size_t failures = mh_warnings_num_failing(r->run->warnings, r->run->num_warnings, r->strict),
         errors = 0;
  size_t tests = r->run->num_cases + failures;
  for (size_t i = 0; i < r->run->num_cases; i++) {
    if (r->run->cases[i].fails) {
      r->run->cases[i].verdict == MH_VERDICT_INCONCLUSIVE ? errors++ : failures++;
    }
  }
  fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"mtls-harness\"", f);
  fprintf(f, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"%.3f\">\n", tests, failures,
          errors, r->run->duration_ms / 1000.0);
  // ISO 8601 in UTC, to the second, as Ant's schema writes it, with the zone said.
  char when[32];
  time_t t = (time_t)(r->run->started_ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
  fputs("  <testsuite name=\"", f);
  mh_escape_xml(f, r->scenario_name);
  fprintf(f, "\" timestamp=\"%s\" hostname=\"", when);
  mh_escape_xml(f, r->hostname != NULL && r->hostname[0] != '\0' ? r->hostname : "localhost");
  fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"0\" time=\"%.3f\">\n",
          tests, failures, errors, r->run->duration_ms / 1000.0);
  junit_warnings(f, r);
  for (size_t i = 0; i < r->run->num_cases; i++) {
    const struct mh_case_result *c = &r->run->cases[i];
    fputs("    <testcase classname=\"", f);
    mh_escape_xml(f, c->target);
    fputs("\" name=\"", f);
    mh_escape_xml(f, c->id);
    fprintf(f, "\" time=\"%.3f\"", c->outcome.total_ms / 1000.0);
    char *log = NULL;
    size_t log_len = 0;
    FILE *lf = open_memstream(&log, &log_len);
    if (lf != NULL) {
      mh_case_log_write(lf, c);
      fclose(lf);
    }
    if (c->fails) {
      fprintf(f, ">\n      <%s type=\"%s\" message=\"",
              c->verdict == MH_VERDICT_INCONCLUSIVE ? "error" : "failure",
              mh_verdict_name(c->verdict));
      fputs("expected ", f);
      mh_escape_xml(f, c->expected_text);
      fputs("; actual ", f);
      mh_escape_xml(f, c->summary);
      fputs("\">", f);
      mh_escape_xml(f, log);
      fprintf(f, "</%s>\n    </testcase>\n",
              c->verdict == MH_VERDICT_INCONCLUSIVE ? "error" : "failure");
    } else {
      fputs(">\n      <system-out>", f);
      mh_escape_xml(f, log);
      fputs("</system-out>\n    </testcase>\n", f);
    }
    free(log);
  }
  fputs("  </testsuite>\n</testsuites>\n", f);
}
