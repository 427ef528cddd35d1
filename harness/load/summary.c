// summary: the console lines of `load` (see summary.h).
#include "load/summary.h"

#include <string.h>
#include <time.h>

#include "base/printable.h"
#include "base/tls_version.h"

void mh_load_summary_banner(FILE *f, const char *name, const struct mh_load_options *o) {
  int v6 = strchr(o->address, ':') != NULL;
  fprintf(f, "load: %s at %s%s%s:%d, %s loop, TLS %s, %d threads, identity %s (of %zu)%s%s%s\n",
          name, v6 ? "[" : "", o->address, v6 ? "]" : "", o->port, o->rate > 0 ? "open" : "closed",
          mh_tls_version_keyword(o->version), o->threads, o->good[0].name, o->num_good,
          o->num_bad ? ", bad " : "", o->num_bad ? o->bad[0].name : "",
          o->num_bad > 1 ? " and others" : "");
  if (o->shard_count > 0) {
    fprintf(f, "load: shard %d/%d: ", o->shard_index, o->shard_count);
    if (o->rate > 0) {
      fprintf(f, "%.3f of %.3f arrivals/s (arrivals k mod %d == %d of one schedule)\n",
              mh_load_shard_rate(o), o->rate, o->shard_count, o->shard_index);
    } else {
      fprintf(f, "%d handshakes in flight\n", o->connections);
    }
  }
  if (o->start_at > 0) {
    time_t t = (time_t)o->start_at;
    struct tm tm;
    char when[40];
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(f, "load: starts at %s (--start-at; %.1f s from now, Ctrl-C stops the wait)\n", when,
            o->start_at - (double)time(NULL));
  }
}

void mh_load_summary_print(FILE *f, const struct mh_load_options *o, const struct mh_load_result *r,
                           const struct mh_sweep *sweep) {
  if (sweep != NULL) {
    fprintf(f,
            "load: sweep: highest sustained rate %.0f handshakes/s (p99 <= %.1f ms, errors <= "
            "0.1%%, drops <= 1%%)\n",
            sweep->sustainable, sweep->p99_limit_ms);
  }
  // An interrupted run divides by the time it ran, as report.json's achieved_rate does.
  double window = r->signo != 0 && r->elapsed_s > 0 && r->elapsed_s < o->duration_s ? r->elapsed_s
                                                                                    : o->duration_s;
  fprintf(f,
          "load: %llu handshakes in %.1f s: %.1f/s (%llu accepted, %llu rejected, %llu errors, "
          "%llu dropped, %llu late)\n",
          r->accepted + r->rejected, window, (double)(r->accepted + r->rejected) / window,
          r->accepted, r->rejected, mh_load_result_errors(r), r->dropped, r->late);
  if (o->http_request != NULL) {
    fprintf(f, "load: confirmed at HTTP (profile %s): ", o->profile);
    const char *sep = "rejected by status:";
    for (int i = 0; i < 600; i++) {
      if (r->statuses[i]) {
        fprintf(f, "%s %d x %llu", sep, i, r->statuses[i]);
        sep = ",";
      }
    }
    fputs(*sep == ',' ? "\n" : "no handshake was refused by an HTTP status\n", f);
  }
  if (o->resume_share > 0) {
    fprintf(f, "load: %llu sessions offered, %llu resumed (as the TLS library reports)\n",
            r->resume_offered, r->resumed);
  }
  fprintf(f, "load: accepted latency ms p50 %.3f p90 %.3f p99 %.3f p99.9 %.3f max %.3f\n",
          mh_hist_percentile(&r->phases[MH_LOAD_PHASE_TOTAL_ACCEPT], 50) / 1000.0,
          mh_hist_percentile(&r->phases[MH_LOAD_PHASE_TOTAL_ACCEPT], 90) / 1000.0,
          mh_hist_percentile(&r->phases[MH_LOAD_PHASE_TOTAL_ACCEPT], 99) / 1000.0,
          mh_hist_percentile(&r->phases[MH_LOAD_PHASE_TOTAL_ACCEPT], 99.9) / 1000.0,
          (r->phases[MH_LOAD_PHASE_TOTAL_ACCEPT].total ? r->phases[MH_LOAD_PHASE_TOTAL_ACCEPT].max
                                                       : 0) /
              1000.0);
}

void mh_load_summary_certs(FILE *f, const struct mh_load_result *r) {
  const struct mh_certs *c = &r->certs;
  char a[160], b[160];
  for (size_t i = 0; i < c->num; i++) {
    const struct mh_certs_entry *e = &c->entries[i];
    fprintf(f, "load: server certificate serial %s (%s): %llu handshakes, seen %.3f to %.3f s\n",
            mh_printable_copy(a, sizeof(a), e->serial), mh_printable_copy(b, sizeof(b), e->subject),
            e->handshakes, (double)e->first_us / 1e6, (double)e->last_us / 1e6);
  }
  struct mh_certs_change ch[MH_CERTS_MAX_CHANGES];
  size_t n = mh_certs_changes(c, ch, MH_CERTS_MAX_CHANGES);
  for (size_t i = 0; i < n && i < MH_CERTS_MAX_CHANGES; i++) {
    const struct mh_certs_change *x = &ch[i];
    const char *from = x->from < 0             ? "-"
                       : x->from < (int)c->num ? c->entries[x->from].serial
                                               : "other";
    const char *to = x->to < 0 ? "-" : x->to < (int)c->num ? c->entries[x->to].serial : "other";
    fprintf(f, "load: %s %s -> %s at %.3f s (until %.3f s): %llu handshakes failed within 1 s%s\n",
            x->kind == MH_CERTS_SWITCH ? "certificate switch" : "certificates mixed",
            mh_printable_copy(a, sizeof(a), from), mh_printable_copy(b, sizeof(b), to),
            (double)x->at_us / 1e6, (double)x->until_us / 1e6, x->failures,
            x->failures ? " (the change dropped handshakes)" : "");
  }
  if (n > MH_CERTS_MAX_CHANGES) {
    fprintf(f, "load: %zu more certificate changes not listed (report.json)\n",
            n - MH_CERTS_MAX_CHANGES);
  }
}
