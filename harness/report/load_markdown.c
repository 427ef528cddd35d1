// load_markdown: the load command's report.md: what was asked, the counts, the latency table and
// the sweep's steps, with the charts (charts.c) or, when gnuplot could not draw them, why not.
#include "report/internal.h"

#include <stdio.h>

#include "load/load.h"
#include "load/sweep.h"
#include "base/tls_version.h"

// write_broken_limits writes the keywords of the limits |st| broke, each between |quote|s,
// separated by commas, then |end|.
static void write_broken_limits(FILE *f, const struct mh_sweep_step *st, const char *quote,
                                const char *end) {
  int first = 1;
  for (int l = 0; l < MH_SWEEP_LIMIT_NUM; l++) {
    if (st->broke & (1u << l)) {
      fprintf(f, "%s%s%s%s", first ? "" : ",", quote, mh_sweep_limit_name((enum mh_sweep_limit)l),
              quote);
      first = 0;
    }
  }
  fputs(end, f);
}

static void md_hist(FILE *f, const char *name, const struct mh_hist *h) {
  fprintf(f, "| %s | %llu | %.3f | %.3f | %.3f | %.3f | %.3f |\n", name,
          (unsigned long long)h->total, mh_hist_percentile(h, 50) / 1000.0,
          mh_hist_percentile(h, 90) / 1000.0, mh_hist_percentile(h, 99) / 1000.0,
          mh_hist_percentile(h, 99.9) / 1000.0, (h->total ? h->max : 0) / 1000.0);
}

// md_charts writes the charts of the run (the sweep's goes with its table), or the line that
// says why there are none and how to draw them.
static void md_charts(FILE *f, const struct mh_report_load_doc *d) {
  if (d->charts_note != NULL) {
    fputs("\nCharts not drawn: ", f);
    mh_escape_md(f, d->charts_note);
    fputs(
        ". Their data and gnuplot scripts are here: `gnuplot load.gp` in this directory draws "
        "load.svg (likewise percentiles.gp",
        f);
    fputs(d->num_steps > 0 ? ", sweep.gp).\n" : ").\n", f);
    return;
  }
  fputs(
      "\n![handshakes and latency over time](load.svg)\n\n"
      "![latency by percentile, per phase](percentiles.svg)\n",
      f);
}

// md_shard says which shard of a sharded load this run was, or, for a merged report, which shards
// it was made of: those with a problem first (failed, interrupted, errors, started late), then a
// table of every shard.
static void md_shard(FILE *f, const struct mh_report_load_doc *d) {
  const struct mh_load_options *o = d->o;
  const struct mh_load_result *r = d->r;
  if (d->num_shards == 0) {
    if (o->shard_count > 0) {
      fprintf(f,
              "Shard %d of %d (`--shard %d/%d`): its part of the load; merge the shards' "
              "reports with `mtls-harness merge`.",
              o->shard_index, o->shard_count, o->shard_index, o->shard_count);
      if (r->start_at_unix_ms > 0) {
        fprintf(f, " Started %.1f ms after `--start-at`.", r->start_skew_ms);
      }
      fputs("\n\n", f);
    }
    return;
  }
  size_t bad = 0;
  for (size_t i = 0; i < d->num_shards; i++) {
    const struct mh_merge_shard *s = &d->shards[i];
    if (s->problem != NULL) {
      fprintf(f, "%s> - **Shard %d/%zu (",
              bad++ ? "" : "> **Shards not to be trusted as they are:**\n>\n", s->index,
              d->num_shards);
      mh_escape_md(f, s->file);
      fprintf(f, "): %s.**\n", s->problem);
    }
  }
  fputs(bad ? "\n" : "", f);
  fprintf(f,
          "Merged from %zu shards: counts are their sums, latency percentiles those of every "
          "sample of every shard (histogram buckets added), seconds added by their index from "
          "the shared start.\n\n"
          "| shard | report | achieved/s | accepted | rejected | errors | start skew ms | exit | "
          "problem |\n|---|---|---|---|---|---|---|---|---|\n",
          d->num_shards);
  for (size_t i = 0; i < d->num_shards; i++) {
    const struct mh_merge_shard *s = &d->shards[i];
    fprintf(f, "| %d | ", s->index);
    mh_escape_md(f, s->file);
    fprintf(f, " | %.1f | %llu | %llu | %llu | ", s->achieved_rate, s->accepted, s->rejected,
            s->errors);
    if (s->has_skew) {
      fprintf(f, "%.1f", s->start_skew_ms);
    } else {
      fputs("-", f);
    }
    fprintf(f, " | %d | %s |\n", s->exit_code, s->problem ? s->problem : "");
  }
  fputs("\n", f);
}

// md_sweep_answer writes a sweep's answer, first: the rate, and the step that limited it (the
// lowest that failed). Nothing without a sweep.
static void md_sweep_answer(FILE *f, const struct mh_report_load_doc *d) {
  if (d->num_steps == 0) {
    return;
  }
  const struct mh_sweep_step *limit = NULL;
  for (size_t i = 0; i < d->num_steps; i++) {
    const struct mh_sweep_step *st = &d->steps[i];
    limit = !st->sustained && (limit == NULL || st->offered < limit->offered) ? st : limit;
  }
  fprintf(f, "**Highest sustained rate: %.0f handshakes/s**", d->sustainable);
  if (limit != NULL) {
    char why[256];
    fprintf(f, "; limited at %.0f/s by %s", limit->offered,
            mh_sweep_step_why(limit, d->p99_limit_ms, why, sizeof(why)));
  } else {
    fputs("; no step failed", f);
  }
  fputs(". The figures below are that step's.\n\n", f);
}

void mh_report_load_markdown(FILE *f, const struct mh_report_load_doc *d) {
  const struct mh_load_options *o = d->o;
  const struct mh_load_result *r = d->r;
  fputs("# mTLS handshake load: ", f);
  mh_escape_md(f, d->target);
  fputs("\n\n", f);
  if (r->signo != 0) {
    fprintf(f,
            "> **Interrupted by %s after %.1f s: the counts are those of the handshakes that "
            "ended before it; those in flight were abandoned.**\n\n",
            mh_interrupt_name(r->signo), r->elapsed_s);
  }
  md_shard(f, d);
  md_sweep_answer(f, d);
  if (o->rate > 0) {
    fprintf(f,
            "Open loop at %.1f handshakes/s for %.1f s (latency from each arrival's planned "
            "time), ",
            mh_load_shard_rate(o), o->duration_s);
  } else {
    fprintf(f, "Closed loop with %d handshakes in flight for %.1f s (latency includes queueing), ",
            o->connections, o->duration_s);
  }
  fprintf(f, "TLS %s, %d threads, bad-identity share %.2f.\n\n", mh_tls_version_keyword(o->version),
          o->threads, o->bad_share);
  if (o->http_request != NULL) {
    fputs("Acceptance confirmed at HTTP (profile ", f);
    mh_escape_md(f, o->profile ? o->profile : "");
    fprintf(f, "): after the handshake, a GET whose status %s",
            o->num_reject_statuses == 1 ? "" : "one of ");
    for (size_t i = 0; i < o->num_reject_statuses; i++) {
      fprintf(f, "%s%d", i ? ", " : "", o->reject_statuses[i]);
    }
    fputs(" is a rejection.", f);
    for (int i = 0; i < 600; i++) {
      if (r->statuses[i]) {
        fprintf(f, " Rejected with %d: %llu.", i, r->statuses[i]);
      }
    }
    fputs("\n\n", f);
  }
  for (int bad = 0; bad < 2; bad++) {
    const struct mh_load_identity *ids = bad ? o->bad : o->good;
    size_t n = bad ? o->num_bad : o->num_good;
    if (n > 0) {
      fprintf(f, "%s identities (round-robin):", bad ? "Bad" : "Client");
      for (size_t i = 0; i < n; i++) {
        fputs(i ? ", " : " ", f);
        mh_escape_md(f, ids[i].name);
      }
      fputs(".\n\n", f);
    }
  }
  fprintf(f,
          "| | count |\n|---|---|\n| planned | %llu |\n| started | %llu |\n| accepted | %llu |\n"
          "| rejected | %llu |\n| dropped (no free connection) | %llu |\n| late (> 1 ms) | %llu |\n"
          "| sessions offered | %llu |\n| resumed (reported by the TLS library) | %llu |\n",
          r->planned, r->started, r->accepted, r->rejected, r->dropped, r->late, r->resume_offered,
          r->resumed);
  for (int i = 0; i < MH_LOAD_ERR_NUM; i++) {
    if (r->errors[i]) {
      fprintf(f, "| error: %s | %llu |\n", mh_load_error_name((enum mh_load_error)i), r->errors[i]);
    }
  }
  double cpu = r->cpu_user_s + r->cpu_sys_s;
  fprintf(f,
          "\nAchieved %.1f handshakes/s (%.1f accepted/s); %.1f us of harness CPU per handshake; "
          "peak RSS %ld KiB.\n\n",
          (double)(r->accepted + r->rejected) / o->duration_s, (double)r->accepted / o->duration_s,
          (r->accepted + r->rejected) ? cpu * 1e6 / (double)(r->accepted + r->rejected) : 0,
          r->peak_rss_kb);
  fprintf(
      f,
      "| latency (ms) | count | p50 | p90 | p99 | p99.9 | max |\n|---|---|---|---|---|---|---|\n");
  static const char *const titles[] = {
#define X(e, key, title) title,
      MH_LOAD_PHASES(X)
#undef X
  };
  for (int p = 0; p < MH_LOAD_NUM_PHASES; p++) {
    md_hist(f, titles[p], &r->phases[p]);
  }
  md_charts(f, d);
  mh_report_load_certs_markdown(f, r, r->certs.base_unix_ms);
  if (d->num_steps > 0) {
    fprintf(f, "\n## Sweep: highest sustained rate %.0f handshakes/s\n\n", d->sustainable);
    fprintf(f,
            "| offered/s | achieved/s | p99 ms | errors | dropped | sustained | limits broken | "
            "why | retry | narrowing |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < d->num_steps; i++) {
      const struct mh_sweep_step *st = &d->steps[i];
      fprintf(f, "| %.0f | %.1f | %.3f | %.2f%% | %.2f%% | %s | ", st->offered, st->achieved,
              st->p99_us / 1000.0, 100 * st->error_share, 100 * st->drop_share,
              st->sustained ? "yes" : "no");
      write_broken_limits(f, st, "", " | ");
      char why[256];
      fprintf(f, "%s | %s | %s |\n", mh_sweep_step_why(st, d->p99_limit_ms, why, sizeof(why)),
              st->retry ? "yes" : "no", st->refine ? "yes" : "no");
    }
    if (d->charts_note == NULL) {
      fprintf(f, "\n![sweep: achieved rate and p99 by offered rate](sweep.svg)\n");
    }
  }
}
