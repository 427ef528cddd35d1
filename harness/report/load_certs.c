// load_certs: the server certificates of a load report (report.json's "certificates", report.md's
// section): each certificate seen, each switch with its failures, the mixed periods, the
// timeline that lets `merge` read the switches of several shards again.
#include "report/internal.h"

#include <stdio.h>
#include <time.h>

#include "base/jsonw.h"
#include "base/printable.h"
#include "load/certs.h"
#include "load/load.h"

// utc writes the wall-clock instant |unix_ms| as ISO 8601 UTC with milliseconds.
static char *utc(char *out, size_t len, long long unix_ms) {
  time_t t = (time_t)(unix_ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char s[32];
  strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, len, "%s.%03lldZ", s, unix_ms % 1000);
  return out;
}

static const char *serial_of(const struct mh_certs *c, int idx) {
  return idx >= 0 && idx < (int)c->num ? c->entries[idx].serial : idx < 0 ? NULL : "other";
}

static void json_serial(struct mh_jsonw *w, const char *key, const struct mh_certs *c, int idx) {
  char p[160];
  const char *s = serial_of(c, idx);
  mh_jsonw_key(w, key);
  mh_jsonw_string_or_null(w, s != NULL ? mh_printable_copy(p, sizeof(p), s) : NULL);
}

static void json_during(struct mh_jsonw *w, const struct mh_certs *c,
                        const struct mh_certs_change *ch) {
  mh_jsonw_key(w, "handshakes");
  mh_jsonw_array_begin(w);
  for (int k = 0; k <= MH_CERTS_OTHER; k++) {
    if (ch->during[k] != 0) {
      mh_jsonw_object_begin(w);
      json_serial(w, "serial", c, k);
      mh_kv_uint(w, "count", ch->during[k]);
      mh_jsonw_object_end(w);
    }
  }
  mh_jsonw_array_end(w);
}

static void json_change(struct mh_jsonw *w, const struct mh_certs *c,
                        const struct mh_certs_change *ch, long long base_ms) {
  char when[40];
  mh_jsonw_object_begin(w);
  json_serial(w, ch->kind == MH_CERTS_SWITCH ? "from" : "before", c, ch->from);
  json_serial(w, ch->kind == MH_CERTS_SWITCH ? "to" : "after", c, ch->to);
  mh_kv_double(w, "at_s", (double)ch->at_us / 1e6, 3);
  mh_kv_str(w, "at_utc", utc(when, sizeof(when), base_ms + ch->at_us / 1000));
  mh_kv_double(w, "until_s", (double)ch->until_us / 1e6, 3);
  mh_kv_double(w, "window_from_s", (double)ch->window_from_us / 1e6, 3);
  mh_kv_double(w, "window_to_s", (double)ch->window_to_us / 1e6, 3);
  mh_kv_uint(w, "failures", ch->failures);
  json_during(w, c, ch);
  mh_jsonw_object_end(w);
}

// json_timeline writes the non-empty slots as [slot, failures, cert, count, cert, count...],
// cert the index in "seen" (-1: one of the certificates beyond those told apart).
static void json_timeline(struct mh_jsonw *w, const struct mh_certs *c) {
  mh_jsonw_key(w, "timeline");
  mh_jsonw_array_begin(w);
  for (size_t s = 0; c->slots != NULL && s < c->num_slots; s++) {
    const uint32_t *row = c->slots + s * MH_CERTS_COLS;
    int any = 0;
    for (int k = 0; k < MH_CERTS_COLS; k++) {
      any |= row[k] != 0;
    }
    if (!any) {
      continue;
    }
    mh_jsonw_array_begin(w);
    mh_jsonw_uint(w, s);
    mh_jsonw_uint(w, row[MH_CERTS_FAIL]);
    for (int k = 0; k <= MH_CERTS_OTHER; k++) {
      if (row[k] != 0) {
        mh_jsonw_int(w, k == MH_CERTS_OTHER ? -1 : k);
        mh_jsonw_uint(w, row[k]);
      }
    }
    mh_jsonw_array_end(w);
  }
  mh_jsonw_array_end(w);
}

void mh_report_load_certs_json(struct mh_jsonw *w, const struct mh_load_result *r,
                               long long base_ms) {
  const struct mh_certs *c = &r->certs;
  char p[512], when[40];
  mh_jsonw_key(w, "certificates");
  mh_jsonw_object_begin(w);
  mh_kv_int(w, "slot_ms", MH_CERTS_SLOT_US / 1000);
  mh_kv_double(w, "window_s", MH_CERTS_WINDOW_SLOTS * (MH_CERTS_SLOT_US / 1e6), 1);
  mh_jsonw_key(w, "seen");
  mh_jsonw_array_begin(w);
  for (size_t i = 0; i < c->num; i++) {
    const struct mh_certs_entry *e = &c->entries[i];
    mh_jsonw_object_begin(w);
    mh_kv_str(w, "serial", mh_printable_copy(p, sizeof(p), e->serial));
    mh_kv_str(w, "subject", mh_printable_copy(p, sizeof(p), e->subject));
    mh_kv_str(w, "not_after", utc(when, sizeof(when), (long long)e->not_after * 1000));
    mh_kv_int(w, "not_after_unix", e->not_after);
    mh_kv_double(w, "first_seen_s", (double)e->first_us / 1e6, 3);
    mh_kv_double(w, "last_seen_s", (double)e->last_us / 1e6, 3);
    mh_kv_uint(w, "handshakes", e->handshakes);
    mh_jsonw_object_end(w);
  }
  mh_jsonw_array_end(w);
  mh_kv_uint(w, "other_handshakes", c->other);
  struct mh_certs_change ch[MH_CERTS_MAX_CHANGES];
  size_t n = mh_certs_changes(c, ch, MH_CERTS_MAX_CHANGES);
  size_t listed = n < MH_CERTS_MAX_CHANGES ? n : MH_CERTS_MAX_CHANGES;
  for (int kind = MH_CERTS_SWITCH; kind <= MH_CERTS_MIXED; kind++) {
    mh_jsonw_key(w, kind == MH_CERTS_SWITCH ? "switches" : "mixed");
    mh_jsonw_array_begin(w);
    for (size_t i = 0; i < listed; i++) {
      if (ch[i].kind == (enum mh_certs_change_kind)kind) {
        json_change(w, c, &ch[i], base_ms);
      }
    }
    mh_jsonw_array_end(w);
  }
  mh_kv_uint(w, "changes_not_listed", n - listed);
  mh_kv_uint(w, "failures_around_changes", mh_certs_failures_around(c, ch, listed));
  json_timeline(w, c);
  mh_jsonw_object_end(w);
}

static void md_serial(FILE *f, const struct mh_certs *c, int idx) {
  const char *s = serial_of(c, idx);
  if (s == NULL) {
    fputs("(none)", f);
    return;
  }
  fputc('`', f);
  mh_escape_md(f, s);
  fputc('`', f);
}

static void md_change(FILE *f, const struct mh_certs *c, const struct mh_certs_change *ch,
                      long long base_ms) {
  char when[40];
  fprintf(f, "| %s | %.3f | %s | ", ch->kind == MH_CERTS_SWITCH ? "switch" : "mixed",
          (double)ch->at_us / 1e6, utc(when, sizeof(when), base_ms + ch->at_us / 1000));
  md_serial(f, c, ch->from);
  fputs(" | ", f);
  md_serial(f, c, ch->to);
  fprintf(f, " | %.3f | %.1f to %.1f | %llu%s | ", (double)ch->until_us / 1e6,
          (double)ch->window_from_us / 1e6, (double)ch->window_to_us / 1e6, ch->failures,
          ch->failures ? " **(dropped)**" : "");
  for (int k = 0, first = 1; k <= MH_CERTS_OTHER; k++) {
    if (ch->during[k] != 0) {
      fputs(first ? "" : ", ", f);
      md_serial(f, c, k);
      fprintf(f, " x %llu", ch->during[k]);
      first = 0;
    }
  }
  fputs(" |\n", f);
}

void mh_report_load_certs_markdown(FILE *f, const struct mh_load_result *r, long long base_ms) {
  const struct mh_certs *c = &r->certs;
  char when[40];
  fputs("\n## Server certificates\n\n", f);
  if (c->num == 0 && c->other == 0) {
    fputs("No accepted full handshake: no server certificate seen.\n", f);
    return;
  }
  fputs(
      "| serial | subject | not after | first seen s | last seen s | handshakes |\n"
      "|---|---|---|---|---|---|\n",
      f);
  for (size_t i = 0; i < c->num; i++) {
    const struct mh_certs_entry *e = &c->entries[i];
    fputs("| ", f);
    md_serial(f, c, (int)i);
    fputs(" | ", f);
    mh_escape_md(f, e->subject);
    fprintf(f, " | %s | %.3f | %.3f | %llu |\n",
            utc(when, sizeof(when), (long long)e->not_after * 1000), (double)e->first_us / 1e6,
            (double)e->last_us / 1e6, e->handshakes);
  }
  if (c->other != 0) {
    fprintf(f, "\n%llu handshakes saw one of further certificates, not told apart (at most %d).\n",
            c->other, MH_CERTS_MAX);
  }
  struct mh_certs_change ch[MH_CERTS_MAX_CHANGES];
  size_t n = mh_certs_changes(c, ch, MH_CERTS_MAX_CHANGES);
  size_t listed = n < MH_CERTS_MAX_CHANGES ? n : MH_CERTS_MAX_CHANGES;
  if (n == 0) {
    fputs("\nNo certificate switch.\n", f);
    return;
  }
  fprintf(f, "\n%s\n\n",
          mh_certs_failures_around(c, ch, listed) == 0
              ? "**No handshake failed around a certificate change.**"
              : "**Handshakes failed around a certificate change: the rotation dropped "
                "connections.**");
  fputs(
      "Failures: handshakes that ended in an error (a good identity rejected is one) in the "
      "window, from 1 s before the first handshake with the new certificate to 1 s after the "
      "last with the old (to the 100 ms).\n\n",
      f);
  fputs(
      "| change | at s | at (UTC) | from | to | until s | window s | failures | handshakes "
      "during |\n|---|---|---|---|---|---|---|---|---|\n",
      f);
  for (size_t i = 0; i < listed; i++) {
    md_change(f, c, &ch[i], base_ms);
  }
  if (n > listed) {
    fprintf(f, "\n%zu more changes not listed.\n", n - listed);
  }
}
