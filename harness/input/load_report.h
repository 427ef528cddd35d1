// load_report: the reader of a load report.json (schema mtls-harness/load/3) for `merge`: what a
// shard was asked, what it counted, and its histograms bucket by bucket, as plain data in an
// arena. It checks types and shapes; whether shards agree is the merge's business (load/merge.c).
#ifndef MH_INPUT_LOAD_REPORT_H
#define MH_INPUT_LOAD_REPORT_H

#include <stddef.h>
#include <stdint.h>

// The schema of load's report.json, which report/ writes and this parser reads: 2 made the
// histograms lossless (every bucket), with per-second buckets and shards (docs/load.md); 3 added
// the certificates' timeline.
#define MH_LOAD_REPORT_SCHEMA "mtls-harness/load/3"

#include "base/arena.h"
#include "base/err.h"
#include "input/load_phases.h"

// mh_lr_buckets is a sparse histogram: |num| (index, count) pairs.
struct mh_lr_buckets {
  const uint64_t *index, *count;
  size_t num;
};

struct mh_lr_hist {
  int sub_bits, max_exp;
  uint64_t total, min, max, clamped;
  double sum;
  struct mh_lr_buckets b;
};

struct mh_lr_second {
  uint64_t accepted, rejected, errors;
  struct mh_lr_buckets acc, rej;
};

// What a report's "certificates" may hold: load/certs.h's MH_CERTS_MAX certificates, and 100 ms
// slots for the longest run (MH_LOAD_MAX_SECONDS); merge checks that they agree.
#define MH_LOAD_REPORT_MAX_CERTS 16
#define MH_LOAD_REPORT_MAX_SLOTS 36000
// The ranges a report's integers must lie in (the reader refuses others): instants from year 1 to
// 9999, and what `load` itself accepts for --connections and --threads.
#define MH_LR_MIN_UNIX_S (-62135596800LL)
#define MH_LR_MAX_UNIX_S 253402300799LL
#define MH_LR_MAX_CONNECTIONS 100000
#define MH_LR_MAX_THREADS 1024

// mh_lr_cert is a server certificate the run saw ("certificates"."seen").
struct mh_lr_cert {
  const char *serial, *subject;
  int64_t not_after;          // unix seconds
  int64_t first_us, last_us;  // from the run's start
  uint64_t handshakes;
};

// mh_lr_slot is one non-empty 100 ms slot of "certificates"."timeline": its failures, and |num|
// (certificate, count) pairs, the certificate an index of the report's certs, -1 for "other".
struct mh_lr_slot {
  uint64_t slot, failures;
  const int64_t *cert;
  const uint64_t *count;
  size_t num;
};

// mh_lr_named is a count under a name (an error class, an alert code, an HTTP status).
struct mh_lr_named {
  const char *name;
  uint64_t count;
};

// mh_load_report is one report.json as read. Absent optional values (null in the file) are 0
// with their has_ flag 0.
struct mh_load_report {
  const char *file;  // the report.json read
  const char *schema, *target, *tls_version, *mode, *profile, *confirmation, *signal;
  int exit_code, interrupted;
  int has_rate, has_connections;
  double rate;
  int64_t connections;
  double duration_s, bad_share, elapsed_s, achieved_rate;
  int64_t threads;
  long long started_unix_ms, start_at_unix_ms;  // start_at: 0 when null
  int has_skew;
  double start_skew_ms;
  int shard_index, shard_count;  // count 0: "shard" is null (not a shard's report)
  const char **identities, **bad_identities;
  size_t num_identities, num_bad_identities;
  uint64_t planned, started, accepted, rejected, errors, dropped, late;
  int has_resume;
  uint64_t resume_offered, resumed;
  struct mh_lr_named *error_classes, *alerts, *statuses;
  size_t num_error_classes, num_alerts, num_statuses;
  double cpu_process_s, cpu_generator_s;
  int process_includes_mock;
  int64_t peak_rss_kb;
  struct mh_lr_hist phases[MH_LOAD_NUM_PHASES];  // by enum mh_load_phase
  int second_sub_bits, second_max_exp;
  struct mh_lr_second *seconds;
  size_t num_seconds;
  struct mh_lr_cert *certs;  // schema 3 on
  size_t num_certs;
  uint64_t other_handshakes;
  struct mh_lr_slot *timeline;
  size_t num_timeline;
};

// mh_load_report_read reads the load report at |path| (a report.json, or a directory holding one)
// into |out|, allocated in |a|. Returns 0, or -1 with |err| set: "<file>: $.path: what is wrong"
// (an unreadable file, malformed JSON, a report of another kind or schema, a missing or mistyped
// member).
int mh_load_report_read(struct mh_arena *a, const char *path, struct mh_load_report *out,
                        struct mh_err *err);

// mh_load_report_parse reads the |len| bytes of |buf|, the text of report |file| (for messages),
// into |out| as mh_load_report_read does (|out->file| is left as it was). Returns 0 or -1.
int mh_load_report_parse(struct mh_arena *a, const char *file, const char *buf, size_t len,
                         struct mh_load_report *out, struct mh_err *err);

#endif
