// merge: `merge REPORT...`: the reports of load's shards summed into one (load/merge.h), written
// as one generator's report, with the shards that had a problem named.
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/outdir.h"
#include "base/printable.h"
#include "cmd/cmd.h"
#include "load/merge.h"
#include "load/summary.h"
#include "report/report.h"

// merge_command is `merge`'s options, as given.
struct merge_command {
  const char *const *reports;  // REPORT.json files, or directories holding a report.json
  size_t num_reports;
  const char *out_dir;  // --out DIR; NULL: reports/merged-load-<timestamp>
  int force;            // --force: empty an --out that is not empty
  double max_skew_ms;   // --max-skew MS; 0: MH_MERGE_DEFAULT_MAX_SKEW_MS
  int quiet;            // --quiet: no summary on stdout
};

// merge_run is one merge command: its options, the merge and the report directory.
struct merge_run {
  const struct merge_command *c;
  struct mh_merge m;
  struct mh_outdir od;
};

// default_out returns |dir|, or reports/merged-load-<UTC timestamp>.
static const char *default_out(struct mh_arena *a, const char *dir) {
  return dir != NULL ? dir : mh_outdir_default(a, "merged-load");
}

// write_merged writes the report directory and prints the summary; returns the exit code.
static int write_merged(struct merge_run *st, double max_skew_ms, struct mh_err *err) {
  const char *out_dir = default_out(&st->m.arena, st->c->out_dir);
  if (out_dir == NULL) {
    return mh_err_set(err, "out of memory");
  }
  struct stat sb;
  if (stat(out_dir, &sb) == 0 &&
      mh_outdir_prepare(&st->od, "merge", out_dir, NULL, st->c->force, err) != 0) {
    return -1;
  }
  char note[MH_ERR_LEN];
  if (mh_report_write_load_merged(out_dir, st->m.in[0].target, &st->m.o, st->m.r, st->m.shards,
                                  st->m.n, max_skew_ms, note, sizeof(note), err) != 0) {
    return -1;
  }
  if (note[0] != '\0') {
    fprintf(stderr, "merge: charts not drawn: %s\n", note);
  }
  for (size_t i = 0; i < st->m.n; i++) {
    const struct mh_merge_shard *s = &st->m.shards[i];
    if (s->problem != NULL) {
      fprintf(stderr, "merge: shard %d/%zu (", s->index, st->m.n);
      mh_printable_fputs(stderr, s->file);
      fprintf(stderr, "): %s\n", s->problem);
    }
  }
  if (!st->c->quiet) {
    printf("merge: %zu shards of ", st->m.n);
    mh_printable_fputs(stdout, st->m.in[0].target);
    printf("\n");
    mh_load_summary_print(stdout, &st->m.o, st->m.r, NULL);
    mh_load_summary_certs(stderr, st->m.r);
    printf("merge: report in %s (report.md, report.json)\n", out_dir);
  }
  return st->m.r->exit_code;
}

// merge_run reads the reports of |c|, merges them, writes the merged report directory
// (report.json, report.md, charts) and prints the summary, and a line on stderr for each shard
// with a problem. Returns 0, 1 when a shard failed, was interrupted, had errors or started late,
// or -1 with |err| set (a report unreadable or disagreeing: the file and the field; nothing is
// written then).
static int merge_run(const struct merge_command *c, struct mh_err *err) {
  struct merge_run *st = calloc(1, sizeof(*st));
  if (st == NULL) {
    return mh_err_set(err, "out of memory");
  }
  st->c = c;
  double max_skew = c->max_skew_ms > 0 ? c->max_skew_ms : MH_MERGE_DEFAULT_MAX_SKEW_MS;
  int rc = -1;
  if (mh_merge_reports(&st->m, c->reports, c->num_reports, max_skew, err) == 0) {
    rc = write_merged(st, max_skew, err);
  }
  mh_merge_cleanup(&st->m);
  free(st);
  return rc;
}

static int cmd_merge(const struct mh_cmd *self, int argc, char **argv) {
  static const struct option longopts[] = {
      {"out", required_argument, NULL, 'o'},      {"force", no_argument, NULL, 'f'},
      {"max-skew", required_argument, NULL, 'k'}, {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
  };
  struct merge_command c = {0};
  int opt;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    char *end = NULL;
    switch (opt) {
      case 'o':
        c.out_dir = optarg;
        break;
      case 'f':
        c.force = 1;
        break;
      case 'q':
        c.quiet = 1;
        break;
      case 'k':
        c.max_skew_ms = strtod(optarg, &end);
        if (end == optarg || *end != '\0' || !isfinite(c.max_skew_ms) || c.max_skew_ms <= 0) {
          fprintf(stderr,
                  "mtls-harness merge: --max-skew takes milliseconds above 0 (e.g. 1000); got "
                  "'%s'\n",
                  optarg);
          return MH_EXIT_INPUT;
        }
        break;
      case 'h':
        mh_cmd_usage(self, stdout);
        return 0;
      default:
        fprintf(stderr, "mtls-harness merge: see 'mtls-harness merge --help'\n");
        return MH_EXIT_INPUT;
    }
  }
  c.reports = (const char *const *)(argv + optind);
  c.num_reports = (size_t)(argc - optind);
  struct mh_err err;
  int rc = merge_run(&c, &err);
  if (rc < 0) {
    fprintf(stderr, "%s\n", err.msg);
    return MH_EXIT_INPUT;
  }
  return rc;
}

const struct mh_cmd mh_cmd_merge = {
    "merge", "merge [--out DIR] [--force] [--max-skew MS] [--quiet] REPORT...",
    "merge the reports of load's shards (--shard I/N) into one, as if one generator ran them",
    "  REPORT               a shard's report.json, or its report directory; one per shard\n"
    "  --out DIR            report directory (default reports/merged-load-<timestamp>)\n"
    "  --force              empty an --out directory that is not empty (refused otherwise)\n"
    "  --max-skew MS        a shard that started more than MS after --start-at started late\n"
    "                       (default 1000)\n"
    "  --quiet              no summary on stdout\n"
    "\n"
    "The shards must agree on the schema, the target, the TLS version, the mode, the\n"
    "duration, --start-at and N, and give each index once. Counts are summed, histograms\n"
    "add their buckets (percentiles of every sample together), seconds add by their index\n"
    "from --start-at. Writes report.json, report.md and the charts. Exit 0, 1 if a shard\n"
    "failed, was interrupted, had errors or started late (each is named on stderr and in the\n"
    "reports), 2 when a report is unreadable or disagrees (the file and the field named).\n"
    "Details: docs/load.md#shards.\n",
    cmd_merge};
