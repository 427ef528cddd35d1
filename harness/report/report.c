// report: the run's report directory (mh_report_write): which files it holds and in what order
// (report.json, junit.xml, report.md, report.html, then each case's log and capture), built in
// memory with open_memstream and staged, so that nothing appears until all are ready.
#include "report/internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/interrupt.h"
#include "base/stage.h"
#include "capture/pcapng.h"
#include "conform/observed.h"

// stage_stream stages the text a writer produces.
static int stage_stream(struct mh_stage *st, const char *rel,
                        void (*fn)(FILE *, const struct mh_report *), const struct mh_report *r,
                        struct mh_err *err) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (f == NULL) {
    return mh_err_set(err, "out of memory");
  }
  fn(f, r);
  fclose(f);
  int ret = mh_stage_write(st, rel, buf, len, 0644, err);
  free(buf);
  return ret;
}

int mh_report_stopped_text(const struct mh_report *r, char *out, size_t out_len) {
  size_t unfinished = 0;
  for (size_t i = 0; i < r->run->num_cases; i++) {
    unfinished += r->run->cases[i].abandoned;
  }
  if (r->run->signo != 0) {
    snprintf(out, out_len,
             "Interrupted by %s: %zu of %zu cases not run (each one an error in this report, "
             "\"not run: interrupted by %s\").",
             mh_interrupt_name(r->run->signo), unfinished, r->run->num_planned,
             mh_interrupt_name(r->run->signo));
  } else if (r->run->timed_out) {
    snprintf(out, out_len,
             "Timed out (--timeout): %zu case%s did not finish and %s inconclusive, \"run timed "
             "out\".",
             unfinished, unfinished == 1 ? "" : "s", unfinished == 1 ? "is" : "are");
  } else {
    out[0] = '\0';
  }
  return out[0] != '\0';
}

int mh_report_write(const struct mh_report *r, struct mh_err *err) {
  struct mh_stage st;
  int ret = -1;
  if (mh_stage_init(&st, r->out_dir, err) != 0) {
    goto out;
  }
  if (stage_stream(&st, "report.json", mh_run_json_write, r, err) != 0 ||
      stage_stream(&st, "junit.xml", mh_junit_write, r, err) != 0 ||
      stage_stream(&st, "report.md", mh_markdown_write, r, err) != 0 ||
      stage_stream(&st, "report.html", mh_html_write, r, err) != 0) {
    goto out;
  }
  // Each external target's observed profile, a file a location's "profile" can name.
  for (size_t i = 0; i < r->run->num_targets; i++) {
    const struct mh_observed *ob = r->run->targets[i].observed;
    if (ob == NULL) {
      continue;
    }
    char file[256], rel[300], *buf = NULL;
    size_t len = 0;
    mh_report_case_file_name(ob->target, file, sizeof(file));
    snprintf(rel, sizeof(rel), "profiles/%s.json", file);
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
      mh_err_set(err, "out of memory");
      goto out;
    }
    mh_observed_json_write(f, ob);
    fclose(f);
    int w = mh_stage_write(&st, rel, buf, len, 0644, err);
    free(buf);
    if (w != 0) {
      goto out;
    }
  }
  for (size_t i = 0; i < r->run->num_cases; i++) {
    char file[256], rel[300];
    mh_report_case_file_name(r->run->cases[i].id, file, sizeof(file));
    snprintf(rel, sizeof(rel), "cases/%s.log", file);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
      mh_err_set(err, "out of memory");
      goto out;
    }
    mh_case_log_write(f, &r->run->cases[i]);
    fclose(f);
    int w = mh_stage_write(&st, rel, buf, len, 0644, err);
    free(buf);
    if (w != 0) {
      goto out;
    }
    if (r->run->cases[i].capture == MH_CAPTURE_CAPTURED) {
      size_t plen;
      uint8_t *pcap = mh_pcapng_build(
          &r->run->cases[i].packets,
          r->run->cases[i].outcome.keylog ? r->run->cases[i].outcome.keylog : "", &plen);
      if (pcap == NULL) {
        mh_err_set(err, "out of memory");
        goto out;
      }
      snprintf(rel, sizeof(rel), "cases/%s.pcapng", file);
      // It holds the connection's TLS secrets: 0600, and wiped from memory.
      w = mh_stage_write(&st, rel, pcap, plen, 0600, err);
      explicit_bzero(pcap, plen);
      free(pcap);
      if (w != 0) {
        goto out;
      }
    }
  }
  ret = mh_stage_commit(&st, err);
out:
  mh_stage_cleanup(&st);
  return ret;
}
