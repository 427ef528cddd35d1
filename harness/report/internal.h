// report/internal.h: what the files of the report layer share, and nothing outside harness/report/
// may include: the writers each file provides to the two entry points, and the small pieces they
// have in common. The public API is report.h.
//
// Where each concern lives:
//   report.c         the run's report directory: its files, in order, staged all at once
//   run_json.c       the run's report.json (schema MH_REPORT_SCHEMA)
//   case_log.c       one case's log (cases/<case>.log, and junit.xml's text of a case)
//   document.c       the human report's document, walked once for report.md and report.html
//   grid.c           the matrices of report.md and report.html: one per target
//   failure.c        what the human reports say of a failing case: its flight, its rerun command
//   markdown.c       the run's report.md: the document rendered in Markdown
//   html.c           the run's report.html: the document rendered in HTML
//   junit.c          the run's junit.xml
//   load_report.c    the load command's report directory, staged all at once
//   load_json.c      the load command's report.json (schema mtls-harness/load/3)
//   load_markdown.c  the load command's report.md
//   load_certs.c     the server certificates of a load report: seen, switches, timeline
//   charts.c         the load command's charts as gnuplot data and scripts (load, percentiles,
//                    sweep)
//   gnuplot.c        the charts' pictures, drawn by gnuplot run as a bounded child process
//   kv.c             JSON members written in one call: a key and its value
//   escape.c         escaping for XML and HTML, URL paths and Markdown
//   names.c          the names the reports give: a case's file name, a TLS version's
//
// Every writer here writes a whole file to a FILE * (an open_memstream the entry point then stages)
// and returns nothing.
#ifndef MH_REPORT_INTERNAL_H
#define MH_REPORT_INTERNAL_H

#include <stddef.h>
#include <stdio.h>

#include "base/err.h"
#include "base/jsonw.h"
#include "report/report.h"

// --- the run's report files (mh_report_write) ---

// mh_run_json_write writes report.json of |r| to |f|: one case per line, so that a diff of two
// reports reads well.
void mh_run_json_write(FILE *f, const struct mh_report *r);

// mh_case_log_write writes the log of case |c| to |f|: what was asked and expected, then what the
// client and the server (or the capture) saw.
void mh_case_log_write(FILE *f, const struct mh_case_result *c);

// mh_report_certs_markdown and mh_report_certs_html write the "Certificates" section
// (report/certs.c) of report.md and report.html: nothing when the run saw no certificate.
void mh_report_certs_markdown(FILE *f, const struct mh_report *r);
void mh_report_certs_html(FILE *f, const struct mh_report *r);

// mh_doc_ops renders the run's human report in one format. mh_report_walk (report/document.c)
// walks the document once for every format, in this order, and calls each member when its part
// comes: the head (title, the answer, the verdict counts; |stopped| the sentence of an interrupted
// or timed-out run, or NULL), the failures (|failures| before the first; each with its server's
// flight and its rerun command, NULL when it has none) and the warnings (|warnings| before the
// first), the certificates, one matrix per target (|grid|, a row per identity with the TLS 1.2 and
// 1.3 cases, NULL where there is none, |grid_end|), the other cases, the cases whose capture
// disagrees, and the changes since a baseline (only with one), then |end|. Every text handed over
// is raw: the format escapes it.
struct mh_doc_ops {
  void (*head)(FILE *f, const struct mh_report *r, const size_t counts[MH_VERDICT_NUM],
               size_t failed, const char *stopped);
  void (*failures)(FILE *f, size_t failed);
  void (*failure)(FILE *f, const struct mh_case_result *c, const char *flight, const char *rerun);
  void (*warnings)(FILE *f);
  void (*warning)(FILE *f, const char *message, int fails_strict);
  void (*certs)(FILE *f, const struct mh_report *r);
  // |about|: the target's profile and request in a sentence ("": nothing to say).
  void (*grid)(FILE *f, const char *target, const char *about);
  void (*grid_row)(FILE *f, const char *identity, const struct mh_case_result *const cells[2]);
  void (*grid_end)(FILE *f);
  void (*others)(FILE *f, const struct mh_report *r);
  void (*other)(FILE *f, const struct mh_report *r, const struct mh_case_result *c);
  void (*others_end)(FILE *f);
  void (*mismatches)(FILE *f);
  void (*mismatch)(FILE *f, const struct mh_case_result *c);
  void (*mismatches_end)(FILE *f);
  void (*changes)(FILE *f, const char *baseline_file, size_t num);
  void (*change)(FILE *f, const struct mh_baseline_change *ch);
  void (*changes_end)(FILE *f, size_t num);
  void (*end)(FILE *f);
};

// mh_report_walk writes |r|'s human report to |f| in the format of |ops|.
void mh_report_walk(FILE *f, const struct mh_report *r, const struct mh_doc_ops *ops);

// mh_markdown_write writes report.md of |r| to |f|.
void mh_markdown_write(FILE *f, const struct mh_report *r);

// mh_html_write writes report.html of |r| to |f|.
void mh_html_write(FILE *f, const struct mh_report *r);

struct mh_observed;

// mh_observed_json_write writes |ob| to |f| as a profile file (profiles/*.json's form).
void mh_observed_json_write(FILE *f, const struct mh_observed *ob);

// mh_junit_write writes junit.xml of |r| to |f|: one testcase per case, its log as the text.
void mh_junit_write(FILE *f, const struct mh_report *r);

// mh_failure_rerun returns the one-line POSIX shell command that reruns case |case_id| of the run
// |x| describes, into its own directory (<out_dir>/rerun/<case file name>), or NULL out of memory
// (or for an id past 1,000 bytes, which check refuses long before).
// The caller frees it. Its words are quoted for the shell, not for a report: escape it to show it.
char *mh_failure_rerun(const struct mh_rerun *x, const char *case_id);

// mh_failure_flight writes into |out| (|out_len| > 0, always terminated) what the server's flight
// showed, briefly: its ServerHello's version, whether a CertificateRequest came and its first CA
// names. The names are the peer's words: escape the text to show it.
void mh_failure_flight(const struct mh_case_outcome *o, char *out, size_t out_len);

// mh_grid is the layout of one matrix of the human reports: the cases of one target, identities
// (rows) by TLS versions (columns). Its strings point into the report's cases.
struct mh_grid {
  const char *target;
  const char *rows[64];
  size_t num_rows;
};

// mh_grid_collect fills |g| (room for |max|) with the matrices of |r|, in the order their targets
// first appear, and returns how many it filled. Targets beyond |max| and rows beyond 64 are left
// out.
size_t mh_grid_collect(const struct mh_report *r, struct mh_grid *g, size_t max);

// mh_grid_cell returns the case of |r| in the matrix of |target| at identity |row| ("none": no
// client certificate) and TLS |version|, or NULL if there is none.
const struct mh_case_result *mh_grid_cell(const struct mh_report *r, const char *target,
                                          const char *row, int version);

// mh_grid_holds returns 1 if case |c| belongs in a matrix (a plain matrix case), 0 if it is listed
// with the other cases.
int mh_grid_holds(const struct mh_case_result *c);

// --- the load command's report files (mh_report_write_load) ---

struct mh_load_options;
struct mh_load_result;
struct mh_sweep_step;

// mh_report_load_doc is what a load report shows: the run and, when |num_steps| > 0, its sweep.
// Every pointer is borrowed from the caller of mh_report_write_load.
struct mh_report_load_doc {
  const char *target;
  const struct mh_load_options *o;
  const struct mh_load_result *r;
  const struct mh_sweep_step *steps;
  size_t num_steps;
  double sustainable;
  double p99_limit_ms;      // the sweep's p99 limit
  const char *charts_note;  // NULL: charts drawn; else why not (report.md says so)
  // A merged report (`merge`): the shards it was made of; NULL and 0 for one generator's run.
  const struct mh_merge_shard *shards;
  size_t num_shards;
  double max_skew_ms;  // a merged report: the start skew above which a shard started late
};

// mh_report_load_json writes the load report.json of |d| to |f|.
void mh_report_load_json(FILE *f, const struct mh_report_load_doc *d);

// mh_report_load_markdown writes the load report.md of |d| to |f|.
void mh_report_load_markdown(FILE *f, const struct mh_report_load_doc *d);

struct mh_jsonw;
// mh_report_load_certs_json writes report.json's "certificates" member for |r|, whose run started
// at the wall-clock instant |base_ms| (unix ms; seconds of the run count from it).
void mh_report_load_certs_json(struct mh_jsonw *w, const struct mh_load_result *r,
                               long long base_ms);

// mh_report_load_certs_markdown writes report.md's "Server certificates" section for |r|.
void mh_report_load_certs_markdown(FILE *f, const struct mh_load_result *r, long long base_ms);

// mh_charts_load_dat writes load.dat of |d| to |f|: per second of the run, what completed, the
// rates (a partial last second normalised by its length) and the accepted p50/p99.
void mh_charts_load_dat(FILE *f, const struct mh_report_load_doc *d);

// mh_charts_load_gp writes load.gp of |d| to |f|: it draws load.svg from load.dat.
void mh_charts_load_gp(FILE *f, const struct mh_report_load_doc *d);

// mh_charts_percentiles_dat writes percentiles.dat of |d| to |f|: each phase's latency at a fixed
// set of percentiles (0 to 99.999), from its histogram (mh_hist_percentile).
void mh_charts_percentiles_dat(FILE *f, const struct mh_report_load_doc *d);

// mh_charts_percentiles_gp writes percentiles.gp of |d| to |f|: it draws percentiles.svg.
void mh_charts_percentiles_gp(FILE *f, const struct mh_report_load_doc *d);

// mh_charts_sweep_dat writes sweep.dat of |d| (a sweep: num_steps > 0) to |f|: one row per step.
void mh_charts_sweep_dat(FILE *f, const struct mh_report_load_doc *d);

// mh_charts_sweep_gp writes sweep.gp of |d| to |f|: it draws sweep.svg, with the p99 limit and the
// chosen rate.
void mh_charts_sweep_gp(FILE *f, const struct mh_report_load_doc *d);

// mh_chart is one chart of a report directory: <name>.dat and <name>.gp, and once drawn
// <name>.svg. The buffers are malloc'ed and owned by whoever filled the chart.
struct mh_chart {
  const char *name;
  char *dat, *gp, *svg;  // svg: NULL until drawn
  size_t dat_len, gp_len, svg_len;
};

// mh_gnuplot_draw draws the |num| |charts| with gnuplot (found on PATH, run in a private
// directory it then removes, killed after 20 s) and fills each one's svg (the caller frees it).
// Returns 0 when every chart was drawn, or -1 with |err| saying why not in one line (gnuplot
// missing, failed, or too slow), every svg left NULL.
int mh_gnuplot_draw(struct mh_chart *charts, size_t num, struct mh_err *err);

// --- shared pieces ---

// mh_kv_str and the others write one member of the object |w| is in: |key|, then the value. The
// JSON of the reports goes through the one writer (base/jsonw.h).
void mh_kv_str(struct mh_jsonw *w, const char *key, const char *value);
void mh_kv_int(struct mh_jsonw *w, const char *key, long long value);
void mh_kv_uint(struct mh_jsonw *w, const char *key, unsigned long long value);
void mh_kv_double(struct mh_jsonw *w, const char *key, double value, int decimals);
void mh_kv_bool(struct mh_jsonw *w, const char *key, int value);
// mh_kv_alert writes alert |code| as {"code", "name"}, or null for MH_ALERT_NONE ("no alert").
void mh_kv_alert(struct mh_jsonw *w, const char *key, int code);

// mh_escape_xml writes |s| (NULL: nothing) to |f| escaped for XML and HTML text and attribute
// values (quoted with '"' or '\''); control characters other than newline and tab (XML 1.0 forbids
// most of them), C1 controls and bytes outside UTF-8 are written as "\xNN".
void mh_escape_xml(FILE *f, const char *s);

// mh_escape_url_path writes |s| to |f| percent-encoded for a relative URL's path: only letters,
// digits, "-._~" and '/' stay, so the result needs no more escaping in an HTML attribute or a
// Markdown link.
void mh_escape_url_path(FILE *f, const char *s);

// mh_escape_md writes |s| to |f| for Markdown text (and a table's cell): the characters Markdown
// acts on ('\\', '`', '*', '_', '[', ']', '|', '#', '!', '~') behind a backslash, '<', '>' and '&'
// as entities, control characters and bytes outside UTF-8 as "\xNN".
void mh_escape_md(FILE *f, const char *s);

#endif
