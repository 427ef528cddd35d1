// load_report: the load command's report directory (mh_report_write_load): report.json,
// report.md, load.svg and, after a sweep, sweep.svg, built in memory and staged all at once.
#include "report/internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/stage.h"
#include "load/sweep.h"

int mh_report_write_load(const char *out_dir, const char *target, const struct mh_load_options *o,
                         const struct mh_load_result *r, const struct mh_sweep *sweep,
                         struct mh_err *err) {
  struct mh_report_load_doc d = {target,
                                 o,
                                 r,
                                 sweep ? sweep->steps : NULL,
                                 sweep ? sweep->num_steps : 0,
                                 sweep ? sweep->sustainable : 0};
  size_t num_steps = d.num_steps;
  struct mh_stage st;
  int ret = -1;
  if (mh_stage_init(&st, out_dir, err) != 0) {
    goto out;
  }
  char *buf = NULL;
  size_t len = 0;
  static const char *const files[] = {"report.json", "report.md", "load.svg", "sweep.svg"};
  for (int k = 0; k < (num_steps ? 4 : 3); k++) {
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
      mh_err_set(err, "out of memory");
      goto out;
    }
    if (k == 0) {
      mh_report_load_json(f, &d);
    } else if (k == 1) {
      mh_report_load_markdown(f, &d);
    } else if (k == 2) {
      mh_svg_write_load(f, &d);
    } else {
      mh_svg_write_sweep(f, &d);
    }
    fclose(f);
    int w = mh_stage_write(&st, files[k], buf, len, 0644, err);
    free(buf);
    buf = NULL;
    if (w != 0) {
      goto out;
    }
  }
  ret = mh_stage_commit(&st, err);
out:
  mh_stage_cleanup(&st);
  return ret;
}
