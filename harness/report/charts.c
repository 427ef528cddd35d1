// charts: what the load command's charts show, as gnuplot data (<name>.dat: plain columns under a
// header comment) and scripts (<name>.gp: `gnuplot <name>.gp` draws <name>.svg in the same
// directory). gnuplot.c draws them; the report directory ships all three files.
//
// load: handshakes per second and the per-second p50/p99 over time; percentiles: latency by
// percentile, HdrHistogram style (x = 1/(1-p) on a log scale), one line per phase, from the
// histograms themselves; sweep: achieved against offered rate and p99 per step, with the p99
// limit and the chosen rate.
#include "report/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/printable.h"
#include "load/load.h"
#include "load/sweep.h"
#include "base/tls_version.h"

// The terminal every chart shares: SVG, no "enhanced" text (an '_' or '^' in a server name stays
// as it is), white background.
#define GP_HEAD                                                                             \
  "set terminal svg size 960,%d dynamic noenhanced font 'sans,12' background rgb 'white'\n" \
  "set output '%s.svg'\n"                                                                   \
  "set datafile missing '?'\n"                                                              \
  "set grid\n"                                                                              \
  "set key outside right top\n"                                                             \
  "set lmargin at screen 0.08\n"                                                            \
  "set rmargin at screen 0.70\n"

// gp_quote writes |s| as a gnuplot single-quoted string: made printable first (a byte that could
// act is "\xNN"), then each '\'' doubled; gnuplot expands nothing else in single quotes (no
// backquote commands, no macros, no backslash escapes).
static void gp_quote(FILE *f, const char *s) {
  char buf[1024];
  mh_printable_copy(buf, sizeof(buf), s != NULL ? s : "");
  fputc('\'', f);
  for (const char *p = buf; *p; p++) {
    if (*p == '\'') {
      fputc('\'', f);
    }
    fputc(*p, f);
  }
  fputc('\'', f);
}

// write_title writes `set title` for chart |what| of |d|: the target (its server name and
// address) and the run's parameters.
static void write_title(FILE *f, const char *what, const struct mh_report_load_doc *d) {
  const struct mh_load_options *o = d->o;
  const char *address = o->address != NULL ? o->address : "?";
  char text[1024], run[300];
  if (d->num_steps > 0) {
    snprintf(run, sizeof(run), "sweep from %.0f hs/s up by half each step, %g s per step",
             d->steps[0].offered, o->duration_s);
  } else if (o->rate > 0) {
    snprintf(run, sizeof(run), "open loop at %g hs/s for %g s", mh_load_shard_rate(o),
             o->duration_s);
  } else {
    snprintf(run, sizeof(run), "closed loop, %d in flight, for %g s", o->connections,
             o->duration_s);
  }
  snprintf(text, sizeof(text), "%s: %s at %s\n%s, TLS %s, %d threads, bad-identity share %.2f",
           what, o->server_name != NULL ? o->server_name : address, address, run,
           mh_tls_version_keyword(o->version), o->threads, o->bad_share);
  // The newline is ours: split there, each half quoted, joined by gnuplot's "\n".
  char *nl = strchr(text, '\n');
  *nl = '\0';
  fputs("set title ", f);
  gp_quote(f, text);
  fputs(".\"\\n\".", f);
  gp_quote(f, nl + 1);
  fputs("\n", f);
}

// second_span returns how much of second |i| of |r| the schedule of |o| covered: 1, less for the
// last partial second (a 2.5 s run's third), 0 for a second after the schedule's end, which
// holds only the handshakes still in flight at the end.
static double second_span(const struct mh_load_options *o, size_t i) {
  double span = o->duration_s - (double)i;
  return span >= 1 ? 1 : span > 0 ? span : 0;
}

// write_rate writes |count| per |span| seconds, or "?" for a span of 0.
static void write_rate(FILE *f, unsigned long long count, double span) {
  if (span > 0) {
    fprintf(f, " %.1f", (double)count / span);
  } else {
    fputs(" ?", f);
  }
}

void mh_charts_load_dat(FILE *f, const struct mh_report_load_doc *d) {
  const struct mh_load_result *r = d->r;
  fputs(
      "# Handshakes that completed in each second of the run, and the latency percentiles of\n"
      "# those accepted in it (every thread's). span_s is how much of the second the schedule\n"
      "# covered: a last, partial second's rates are its counts / span_s; a second after the\n"
      "# schedule's end (span_s 0) holds only what was still in flight: its rates are ?.\n"
      "# ? = no value (p50/p99: no accepted handshake in that second).\n"
      "# second t_end_s span_s accepted rejected errors accepted_per_s rejected_per_s "
      "errors_per_s p50_ms p99_ms\n",
      f);
  for (size_t i = 0; i < r->num_seconds; i++) {
    const struct mh_load_second *s = &r->seconds[i];
    double span = second_span(d->o, i);
    fprintf(f, "%zu %.3f %.3f %llu %llu %llu", i + 1, (double)i + (span > 0 ? span : 1), span,
            s->accepted, s->rejected, s->errors);
    write_rate(f, s->accepted, span);
    write_rate(f, s->rejected, span);
    write_rate(f, s->errors, span);
    if (s->accepted > 0) {
      fprintf(f, " %.3f %.3f\n", s->p50_us / 1000.0, s->p99_us / 1000.0);
    } else {
      fputs(" ? ?\n", f);
    }
  }
}

// write_empty_panel ends a panel that has nothing to draw: fixed ranges (gnuplot refuses to
// autoscale nothing) and a label that says what is missing.
static void write_empty_panel(FILE *f, const char *what) {
  fputs("set yrange [0:1]\nset label 1 ", f);
  gp_quote(f, what);
  fputs(" at graph 0.35, graph 0.5\nplot NaN notitle\nunset label 1\n", f);
}

// headroom returns the top of a y axis that starts at 0 and shows values up to |max|: a tenth
// above it, so that a line at the maximum (a steady rate is one) is drawn inside the frame, not
// on it as gnuplot's autoscale puts it when the maximum falls on a tic.
static double headroom(double max) {
  return max > 0 ? max * 1.12 : 1;
}

void mh_charts_load_gp(FILE *f, const struct mh_report_load_doc *d) {
  const struct mh_load_result *r = d->r;
  int partial = 0, accepted = 0;
  double max_rate = 0, max_ms = 0;
  for (size_t i = 0; i < r->num_seconds; i++) {
    const struct mh_load_second *s = &r->seconds[i];
    double span = second_span(d->o, i);
    partial |= span > 0 && span < 0.999;
    accepted |= s->accepted > 0;
    // The plotted rates: each kind's, and all together for a partial second's marker.
    double counts[4] = {(double)s->accepted, (double)s->rejected, (double)s->errors,
                        span < 0.999 ? (double)(s->accepted + s->rejected + s->errors) : 0};
    for (int k = 0; k < 4 && span > 0; k++) {
      max_rate = counts[k] / span > max_rate ? counts[k] / span : max_rate;
    }
    if (s->accepted > 0 && s->p99_us / 1000.0 > max_ms) {
      max_ms = s->p99_us / 1000.0;
    }
  }
  fprintf(f, GP_HEAD, 720, "load");
  fputs("set multiplot layout 2,1\n", f);
  write_title(f, "handshakes over time", d);
  // The x axis covers the schedule and whatever completed after it.
  double end = d->o->duration_s > (double)r->num_seconds ? d->o->duration_s : r->num_seconds;
  fprintf(f,
          "set xlabel 'seconds since the start'\nset ylabel 'handshakes/s'\nset yrange [0:%g]\n"
          "set xrange [0:%g]\n",
          headroom(max_rate), end > 0 ? end : 1);
  if (r->num_seconds == 0) {
    write_empty_panel(f, "no handshake completed");
  } else {
    fprintf(f,
            "plot 'load.dat' using 2:7 with linespoints lw 2 title 'accepted/s', \\\n"
            "     '' using 2:8 with linespoints lw 2 title 'rejected/s', \\\n"
            "     '' using 2:9 with linespoints lw 2 title 'errors/s'%s\n",
            partial ? ", \\\n     '' using ($3 > 0 && $3 < 0.999 ? $2 : NaN):($7+$8+$9) with "
                      "points pt 6 ps 2 lc 'black' title 'all/s, last partial second "
                      "(normalised)'"
                    : "");
  }
  fprintf(f, "unset title\nset ylabel 'latency (ms)'\nset yrange [0:%g]\n", headroom(max_ms));
  if (!accepted) {
    write_empty_panel(f, "no handshake accepted");
  } else {
    fputs(
        "plot 'load.dat' using 2:10 with linespoints lw 2 title 'p50 of the second', \\\n"
        "     '' using 2:11 with linespoints lw 2 title 'p99 of the second'\n",
        f);
  }
  fputs("unset multiplot\n", f);
}

// The phases of the percentile chart: the histograms of report.json's "latency", same keys.
static const char *const phase_keys[] = {
#define X(e, key, title) key,
    MH_LOAD_PHASES(X)
#undef X
};
static const char *const phase_titles[] = {
#define X(e, key, title) title,
    MH_LOAD_PHASES(X)
#undef X
};

// The percentiles of the chart: up to 99.999, denser towards the tail, exact at the labelled ones
// (the values report.json gives for 50, 90, 99 and 99.9 are in the table).
static const double percentiles[] = {
    0,     10,    20,    30,     40,     50,     60,     70,     75,     80,
    85,    90,    92,    94,     95,     96,     97,     98,     99,     99.2,
    99.4,  99.5,  99.6,  99.7,   99.8,   99.9,   99.92,  99.94,  99.95,  99.96,
    99.97, 99.98, 99.99, 99.992, 99.994, 99.995, 99.996, 99.997, 99.998, 99.999,
};

void mh_charts_percentiles_dat(FILE *f, const struct mh_report_load_doc *d) {
  const struct mh_load_result *r = d->r;
  fputs(
      "# Latency (ms) by percentile, from the run's histograms (3 significant figures: the\n"
      "# upper end of the value's bucket), one column per phase as in report.json's latency.\n"
      "# x = 1/(1 - percentile/100), the HdrHistogram plot's axis. ? = no value in that "
      "phase.\n# percentile x",
      f);
  for (int k = 0; k < MH_LOAD_NUM_PHASES; k++) {
    fprintf(f, " %s_ms", phase_keys[k]);
  }
  fputc('\n', f);
  for (size_t i = 0; i < sizeof(percentiles) / sizeof(percentiles[0]); i++) {
    double p = percentiles[i];
    fprintf(f, "%g %.10g", p, 1 / (1 - p / 100));
    for (int k = 0; k < MH_LOAD_NUM_PHASES; k++) {
      const struct mh_hist *h = &r->phases[k];
      if (h->total == 0) {
        fputs(" ?", f);
      } else {
        fprintf(f, " %.3f", mh_hist_percentile(h, p) / 1000.0);
      }
    }
    fputc('\n', f);
  }
}

void mh_charts_percentiles_gp(FILE *f, const struct mh_report_load_doc *d) {
  fprintf(f, GP_HEAD, 480, "percentiles");
  write_title(f, "latency by percentile", d);
  fputs(
      "set logscale x 10\nset xrange [1:100000]\nset yrange [0:*]\n"
      "set xtics ('90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, "
      "'99.999%%' 100000)\nset mxtics 10\nset xtics add ('50%%' 2)\n"
      "set xlabel 'percentile'\nset ylabel 'latency (ms)'\n",
      f);
  const char *sep = "plot ";
  for (int k = 0; k < MH_LOAD_NUM_PHASES; k++) {
    // gnuplot refuses a plot whose every line is empty; a phase with no value is left out.
    if (d->r->phases[k].total == 0) {
      continue;
    }
    fprintf(f, "%s'percentiles.dat' using 2:%d with lines lw 2 title ", sep, k + 3);
    gp_quote(f, phase_titles[k]);
    sep = ", \\\n     ";
  }
  if (sep[0] == 'p') {
    fputs(
        "set yrange [0:1]\nset label 'no handshake completed' at graph 0.4, graph 0.5\n"
        "plot NaN notitle",
        f);
  }
  fputc('\n', f);
}

void mh_charts_sweep_dat(FILE *f, const struct mh_report_load_doc *d) {
  fprintf(f,
          "# The sweep's steps: rate offered and achieved (handshakes/s), the step's p99 (ms),\n"
          "# its error and drop shares, whether it held (1) or broke a limit (0).\n"
          "# p99 limit %.3f ms; highest sustained rate %.1f hs/s (0: none held).\n"
          "# step offered achieved p99_ms error_share drop_share sustained\n",
          d->p99_limit_ms, d->sustainable);
  for (size_t i = 0; i < d->num_steps; i++) {
    const struct mh_sweep_step *st = &d->steps[i];
    fprintf(f, "%zu %.1f %.1f %.3f %.5f %.5f %d\n", i + 1, st->offered, st->achieved,
            st->p99_us / 1000.0, st->error_share, st->drop_share, st->sustained);
  }
}

void mh_charts_sweep_gp(FILE *f, const struct mh_report_load_doc *d) {
  fprintf(f, GP_HEAD, 720, "sweep");
  fprintf(f, "chosen = %.1f\np99_limit = %.3f\n", d->sustainable, d->p99_limit_ms);
  fputs("set multiplot layout 2,1\n", f);
  write_title(f, "sweep", d);
  fputs(
      "set xlabel 'offered (handshakes/s)'\nset ylabel 'achieved (handshakes/s)'\n"
      "set xrange [0:*]\nset yrange [0:*]\n",
      f);
  if (d->sustainable > 0) {
    fputs(
        "set arrow 1 from chosen, graph 0 to chosen, graph 1 nohead lw 2 dt 2 lc 'dark-green'\n"
        "set label 1 sprintf('chosen: %g hs/s', chosen) at chosen, graph 0.92 offset 1,0\n",
        f);
  } else {
    fputs("set label 1 'no rate held' at graph 0.05, graph 0.92\n", f);
  }
  fputs(
      "plot 'sweep.dat' using 2:3 with linespoints lw 2 pt 7 title 'achieved', \\\n"
      "     '' using 2:2 with lines lw 2 dt 3 lc 'gray40' title 'offered (ideal)'\n",
      f);
  int any_p99 = 0;
  for (size_t i = 0; i < d->num_steps; i++) {
    any_p99 |= d->steps[i].p99_us > 0;
  }
  fputs("unset title\nset ylabel 'p99 (ms)'\n", f);
  if (!any_p99) {
    write_empty_panel(f, "no handshake accepted: no p99");
  } else {
    // Log-scaled: a limit far above the steps' p99 must not flatten them.
    fputs(
        "set logscale y 10\nset yrange [*:*]\n"
        "plot 'sweep.dat' using 2:4 with linespoints lw 2 pt 7 title 'p99 of the step', \\\n"
        "     p99_limit with lines lw 2 dt 2 lc 'red' title sprintf('p99 limit %g ms', "
        "p99_limit)\n",
        f);
  }
  fputs("unset multiplot\n", f);
}
