// load_report: the load command's report directory (mh_report_write_load): report.json,
// report.md and the charts (load, percentiles and, after a sweep, sweep: each as .dat, .gp and,
// when gnuplot drew it, .svg), built in memory and staged all at once.
#include "report/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/stage.h"
#include "load/sweep.h"

typedef void (*writer)(FILE *f, const struct mh_report_load_doc *d);

static int write_doc(const char *out_dir, struct mh_report_load_doc *dp, char *out_charts_note,
                     size_t charts_note_len, struct mh_err *err);

// render writes the whole of |w|'s output for |d| into a malloc'ed |*out| (caller frees) of
// |*out_len| bytes. Returns 0, or -1 with |err| set.
static int render(writer w, const struct mh_report_load_doc *d, char **out, size_t *out_len,
                  struct mh_err *err) {
  *out = NULL;
  *out_len = 0;
  FILE *f = open_memstream(out, out_len);
  if (f == NULL) {
    return mh_err_set(err, "out of memory");
  }
  w(f, d);
  if (fclose(f) != 0) {
    free(*out);
    *out = NULL;
    return mh_err_set(err, "out of memory");
  }
  return 0;
}

// build_charts fills the first |*out_num| of |charts| (room for 3) with the data and scripts of
// |d|'s charts. Returns 0, or -1 with |err| set.
static int build_charts(const struct mh_report_load_doc *d, struct mh_chart *charts,
                        size_t *out_num, struct mh_err *err) {
  static const struct {
    const char *name;
    writer dat, gp;
  } all[] = {
      {"load", mh_charts_load_dat, mh_charts_load_gp},
      {"percentiles", mh_charts_percentiles_dat, mh_charts_percentiles_gp},
      {"sweep", mh_charts_sweep_dat, mh_charts_sweep_gp},
  };
  *out_num = d->num_steps > 0 ? 3 : 2;
  for (size_t i = 0; i < *out_num; i++) {
    charts[i].name = all[i].name;
    if (render(all[i].dat, d, &charts[i].dat, &charts[i].dat_len, err) != 0 ||
        render(all[i].gp, d, &charts[i].gp, &charts[i].gp_len, err) != 0) {
      return -1;
    }
  }
  return 0;
}

// stage_charts stages the |num| |charts|: each one's .dat and .gp, and its .svg if drawn.
// Returns 0 or -1 with |err| set.
static int stage_charts(struct mh_stage *st, const struct mh_chart *charts, size_t num,
                        struct mh_err *err) {
  char name[64];
  for (size_t i = 0; i < num; i++) {
    const struct mh_chart *c = &charts[i];
    snprintf(name, sizeof(name), "%s.dat", c->name);
    if (mh_stage_write(st, name, c->dat, c->dat_len, 0644, err) != 0) {
      return -1;
    }
    snprintf(name, sizeof(name), "%s.gp", c->name);
    if (mh_stage_write(st, name, c->gp, c->gp_len, 0644, err) != 0) {
      return -1;
    }
    snprintf(name, sizeof(name), "%s.svg", c->name);
    if (c->svg != NULL && mh_stage_write(st, name, c->svg, c->svg_len, 0644, err) != 0) {
      return -1;
    }
  }
  return 0;
}

int mh_report_write_load(const char *out_dir, const char *target, const struct mh_load_options *o,
                         const struct mh_load_result *r, const struct mh_sweep *sweep,
                         char *out_charts_note, size_t charts_note_len, struct mh_err *err) {
  struct mh_report_load_doc d = {target,
                                 o,
                                 r,
                                 sweep ? sweep->steps : NULL,
                                 sweep ? sweep->num_steps : 0,
                                 sweep ? sweep->sustainable : 0,
                                 sweep ? sweep->p99_limit_ms : 0,
                                 NULL,
                                 NULL,
                                 0,
                                 0};
  return write_doc(out_dir, &d, out_charts_note, charts_note_len, err);
}

int mh_report_write_load_merged(const char *out_dir, const char *target,
                                const struct mh_load_options *o, const struct mh_load_result *r,
                                const struct mh_merge_shard *shards, size_t num_shards,
                                double max_skew_ms, char *out_charts_note, size_t charts_note_len,
                                struct mh_err *err) {
  struct mh_report_load_doc d = {target, o,    r,      NULL,       0,          0,
                                 0,      NULL, shards, num_shards, max_skew_ms};
  return write_doc(out_dir, &d, out_charts_note, charts_note_len, err);
}

// write_doc writes the report directory of |d| (see mh_report_write_load).
static int write_doc(const char *out_dir, struct mh_report_load_doc *dp, char *out_charts_note,
                     size_t charts_note_len, struct mh_err *err) {
  struct mh_report_load_doc d = *dp;
  struct mh_chart charts[3];
  size_t num_charts = 0;
  memset(charts, 0, sizeof(charts));
  struct mh_stage st;
  struct mh_err why;
  char *buf = NULL;
  size_t len = 0;
  int ret = -1;
  if (out_charts_note != NULL && charts_note_len > 0) {
    out_charts_note[0] = '\0';
  }
  if (mh_stage_init(&st, out_dir, err) != 0) {
    goto out;
  }
  if (build_charts(&d, charts, &num_charts, err) != 0) {
    goto out;
  }
  // Without gnuplot the reports still come out, with the data and scripts, and say so.
  if (mh_gnuplot_draw(charts, num_charts, &why) != 0) {
    d.charts_note = why.msg;
    if (out_charts_note != NULL && charts_note_len > 0) {
      snprintf(out_charts_note, charts_note_len, "%s", why.msg);
    }
  }
  static const char *const files[] = {"report.json", "report.md"};
  static const writer writers[] = {mh_report_load_json, mh_report_load_markdown};
  for (int k = 0; k < 2; k++) {
    if (render(writers[k], &d, &buf, &len, err) != 0 ||
        mh_stage_write(&st, files[k], buf, len, 0644, err) != 0) {
      goto out;
    }
    free(buf);
    buf = NULL;
  }
  if (stage_charts(&st, charts, num_charts, err) != 0) {
    goto out;
  }
  ret = mh_stage_commit(&st, err);
out:
  free(buf);
  for (size_t i = 0; i < 3; i++) {
    free(charts[i].dat);
    free(charts[i].gp);
    free(charts[i].svg);
  }
  mh_stage_cleanup(&st);
  return ret;
}
