// svg: the load command's charts, drawn by hand in SVG: load.svg (rate and latency of each second)
// and sweep.svg (achieved rate and p99 of each step).
#include "report/internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "load/load.h"
#include "load/sweep.h"

// series is one line of a chart: against the right axis when |right| is set, else the left one.
struct series {
  const char *name;
  const char *colour;
  const double *v;
  int right;
};

// svg_chart draws |ns| series against |x| (|n| points) in a 760x220 plot below |y0|, under
// |title|: |llabel| names the left axis, |rlabel| (NULL: none) the right one. Values are plain
// numbers; labels say the units.
static void svg_chart(FILE *f, int y0, const char *title, const double *x, size_t n,
                      const char *xlabel, const struct series *ss, size_t ns, const char *llabel,
                      const char *rlabel) {
  double xmax = 1, lmax = 1, rmax = 1;
  for (size_t i = 0; i < n; i++) {
    xmax = x[i] > xmax ? x[i] : xmax;
    for (size_t k = 0; k < ns; k++) {
      double *m = ss[k].right ? &rmax : &lmax;
      *m = ss[k].v[i] > *m ? ss[k].v[i] : *m;
    }
  }
  lmax *= 1.1;
  rmax *= 1.1;
  const int px = 70, pw = 760, py = y0 + 30, ph = 220;
  fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"14\" font-weight=\"bold\">", px, y0 + 18);
  mh_escape_xml(f, title);
  fprintf(f,
          "</text>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
          "stroke=\"#999\"/>\n",
          px, py, pw, ph);
  fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%.0f</text>", px - 45, py + 10, lmax);
  fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">0</text>", px - 15, py + ph);
  fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>\n", px - 65, py - 8, llabel);
  if (rlabel != NULL) {
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%.2f</text>", px + pw + 5, py + 10, rmax);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>\n", px + pw - 40, py - 8,
            rlabel);
  }
  fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s (0 to %.0f)</text>\n", px + pw / 2 - 60,
          py + ph + 18, xlabel, xmax);
  for (size_t k = 0; k < ns; k++) {
    double m = ss[k].right ? rmax : lmax;
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", ss[k].colour);
    for (size_t i = 0; i < n; i++) {
      fprintf(f, "%.1f,%.1f ", px + pw * x[i] / xmax, py + ph - ph * ss[k].v[i] / m);
    }
    fprintf(f, "\"/>\n<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"%s\">",
            px + 10 + 150 * (int)k, py + 15, ss[k].colour);
    mh_escape_xml(f, ss[k].name);
    fputs("</text>\n", f);
  }
}

void mh_svg_write_load(FILE *f, const struct mh_report_load_doc *d) {
  const struct mh_load_result *r = d->r;
  size_t n = r->num_seconds;
  double *x = calloc(n + 1, sizeof(double)), *rate = calloc(n + 1, sizeof(double));
  double *p50 = calloc(n + 1, sizeof(double)), *p99 = calloc(n + 1, sizeof(double));
  fputs(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"300\" "
      "font-family=\"sans-serif\">\n",
      f);
  if (x && rate && p50 && p99) {
    for (size_t i = 0; i < n; i++) {
      x[i] = (double)(i + 1);
      rate[i] = (double)(r->seconds[i].accepted + r->seconds[i].rejected);
      p50[i] = r->seconds[i].p50_us / 1000.0;
      p99[i] = r->seconds[i].p99_us / 1000.0;
    }
    struct series ss[] = {{"handshakes/s", "#1f6feb", rate, 0},
                          {"p50 ms (worst thread)", "#2da44e", p50, 1},
                          {"p99 ms (worst thread)", "#cf222e", p99, 1}};
    svg_chart(f, 0, d->target, x, n, "seconds", ss, 3, "hs/s", "ms");
  }
  fputs("</svg>\n", f);
  free(x);
  free(rate);
  free(p50);
  free(p99);
}

void mh_svg_write_sweep(FILE *f, const struct mh_report_load_doc *d) {
  size_t n = d->num_steps;
  double *x = calloc(n + 1, sizeof(double)), *ach = calloc(n + 1, sizeof(double));
  double *p99 = calloc(n + 1, sizeof(double));
  fputs(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"300\" "
      "font-family=\"sans-serif\">\n",
      f);
  if (x && ach && p99) {
    for (size_t i = 0; i < n; i++) {
      x[i] = d->steps[i].offered;
      ach[i] = d->steps[i].achieved;
      p99[i] = d->steps[i].p99_us / 1000.0;
    }
    struct series ss[] = {{"achieved hs/s", "#1f6feb", ach, 0}, {"p99 ms", "#cf222e", p99, 1}};
    char title[300];
    snprintf(title, sizeof(title), "sweep: highest sustained rate %.0f hs/s", d->sustainable);
    svg_chart(f, 0, title, x, n, "offered hs/s", ss, 2, "hs/s", "ms");
  }
  fputs("</svg>\n", f);
  free(x);
  free(ach);
  free(p99);
}
