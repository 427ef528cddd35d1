// junit: the run's junit.xml for CI: one testcase per case, a failure (or an error, for an
// inconclusive case) when it fails, and its log as the text.
#include "report/internal.h"

#include <stdio.h>
#include <stdlib.h>

void mh_junit_write(FILE *f, const struct mh_report *r) {
  size_t failures = 0, errors = 0;
  for (size_t i = 0; i < r->num_cases; i++) {
    if (r->cases[i].fails) {
      r->cases[i].verdict == MH_VERDICT_INCONCLUSIVE ? errors++ : failures++;
    }
  }
  fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"mtls-harness\"", f);
  fprintf(f, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"%.3f\">\n", r->num_cases,
          failures, errors, r->duration_ms / 1000.0);
  fputs("  <testsuite name=\"", f);
  mh_escape_xml(f, r->scenario_name);
  fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"0\" time=\"%.3f\">\n",
          r->num_cases, failures, errors, r->duration_ms / 1000.0);
  for (size_t i = 0; i < r->num_cases; i++) {
    const struct mh_case_result *c = &r->cases[i];
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
