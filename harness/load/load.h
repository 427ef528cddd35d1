// load: high-rate mTLS handshake load with honest latency.
//
// One libev loop per thread, each with its own preallocated connections, client contexts and
// histograms, added up after the threads join. Shared on the hot path, all by relaxed atomics:
// the handshake counters that pick the bad and resumed handshakes, the run's per-second latency
// histograms and its certificates' timeline (load/internal.h says why), and the counters the
// progress line reads. Closed loop (--connections N: N handshakes in flight) gives capacity; open
// loop (--rate R: arrivals on a constant schedule) gives latency measured from each arrival's
// planned time, so a stall shows up as latency instead of being hidden by a slower schedule
// (coordinated omission); arrivals that find no free connection are dropped and counted.
//
// A handshake is successful only when the server kept it: in TLS 1.3 the server judges the client
// certificate after the client's handshake returns, so the first record the server sends after it
// (a NewSessionTicket, or the alert) decides. A stack that rejects at HTTP (its profile says so,
// load/confirm.h) completes the handshake for everyone: there a minimal request is sent and the
// response's status line decides. Connections are closed with a RST (SO_LINGER 0) after
// the decision, so that no TIME_WAIT state exhausts the loopback's ephemeral ports.
#ifndef MH_LOAD_H
#define MH_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/interrupt.h"
#include "load/certs.h"
#include "input/load_phases.h"
#include "load/hist.h"

#define MH_LOAD_MAX_STATUSES 8

struct mh_load_identity {
  const char *name;
  const char *cert_file;  // chain file when the identity has one
  const char *key_file;
};

struct mh_load_options {
  const char *address;
  int port;
  const char *server_name;
  const char *const *ca_files;
  size_t num_ca_files;
  const struct mh_load_identity *good;  // used round-robin; expected to be accepted
  size_t num_good;
  const struct mh_load_identity *bad;  // expected to be rejected
  size_t num_bad;
  double bad_share;  // fraction of started handshakes that use a bad identity, whatever |threads|
  int version;       // MH_TLS12 or MH_TLS13
  // > 0: open loop, arrivals per second of the whole schedule: with --shard, of every shard
  // together (this shard's part is mh_load_shard_rate).
  double rate;
  int connections;  // > 0: closed loop, handshakes in flight
  double duration_s;
  int threads;          // 1 to MH_LOAD_MAX_THREADS
  double resume_share;  // fraction of handshakes that offer a kept session (1 = --resume)
  int timeout_ms;       // per handshake (connect + handshake + confirmation)
  int quiet;            // no progress line
  // Confirmation at HTTP (load/confirm.h): NULL confirms at TLS. The request, the same for every
  // connection, and the statuses that mean rejection; any other status is acceptance.
  const char *http_request;
  size_t http_request_len;
  int reject_statuses[MH_LOAD_MAX_STATUSES];
  size_t num_reject_statuses;
  const char *profile;  // the stack's profile, for the report; NULL: none
  // NULL, or SIGINT/SIGTERM (base/interrupt.h), read by the progress loop: the run stops at once,
  // handshakes in flight are abandoned (closed, not counted) and |signo| of the result is set.
  struct mh_interrupt *interrupt;
  int in_process_mock;  // the target is this process's mock (--location): for the report's CPU
  // --shard I/N (load/shard.h): 0 and 0 (or N = 1): not sharded. A shard's |connections| are
  // its part (cmd/load.c divides them); in open loop it runs the arrivals k mod N == I of the
  // schedule at |rate|, so that the shards' union is one generator's schedule.
  int shard_index, shard_count;
  double start_at;  // --start-at: the wall-clock instant (unix seconds) the run starts at; 0: now
  // --latency-log FILE, NULL: none. One line per handshake that ended: "<planned us from the
  // start> <latency us> <accepted|rejected|error> <error class|->", the latency as the histograms
  // count it (from the planned time), in the order threads wrote them.
  const char *latency_log;
};

// Error classes, defined once: X(enum suffix, keyword).
#define MH_LOAD_ERRORS(X)                    \
  X(REFUSED, "refused")                      \
  X(CONNECT, "connect_error")                \
  X(TIMEOUT, "timeout")                      \
  X(TLS, "tls_error")                        \
  X(GOOD_REJECTED, "good_identity_rejected") \
  X(BAD_ACCEPTED, "bad_identity_accepted")   \
  X(UNCONFIRMED, "no_first_record")          \
  X(NO_STATUS, "no_http_status")             \
  X(DESCRIPTORS, "local_descriptor_limit")   \
  X(CLIENT_REFUSED, "client_refused")

enum mh_load_error {
#define X(e, kw) MH_LOAD_ERR_##e,
  MH_LOAD_ERRORS(X)
#undef X
      MH_LOAD_ERR_NUM
};

const char *mh_load_error_name(enum mh_load_error e);

#define MH_LOAD_MAX_SECONDS 3600

// Each thread holds its own result (histograms and the per-second counts, about 1.5 MB) until the
// merge: 1024 threads stay under 2 GB. The default is the number of cores, at most
// MH_LOAD_DEFAULT_MAX_THREADS: more loops than that add memory, not handshakes, against one target.
#define MH_LOAD_MAX_THREADS 1024
#define MH_LOAD_DEFAULT_MAX_THREADS 64

// mh_load_default_threads returns the default --threads: the number of online cores, from 1 to
// MH_LOAD_DEFAULT_MAX_THREADS.
int mh_load_default_threads(void);

// mh_load_share_hit says whether handshake number |index| (0, 1, ... over the whole run, all
// threads) is one of the |share| (0 to 1) picked: one each time |share| * (index + 1) passes a
// whole number, so that of the first n handshakes exactly floor(n * share) are picked, spread
// evenly.
int mh_load_share_hit(unsigned long long index, double share);

// mh_load_second is one second of a run, counted from its start (--start-at's instant, so that
// shards' seconds line up): what completed in it, and the latency percentiles of the handshakes
// accepted in it, from the run's per-second histogram of every thread (layout MH_HIST_SEC_*).
struct mh_load_second {
  unsigned long long accepted, rejected, errors;
  unsigned long long p50_us, p99_us;
};

// mh_load_result is the merged outcome of a run.
// The per-second histograms' kinds: accepted (0) and rejected (1) handshakes' total latency.
#define MH_LOAD_SECOND_KINDS 2

struct mh_load_result {
  long long started_unix_ms;   // wall clock (CLOCK_REALTIME) when the first thread started
  long long start_at_unix_ms;  // --start-at, 0: none
  double start_skew_ms;        // with --start-at: how late the last thread started after it
  // Per second (num_second_slots of them, from mh_load_second_slots) and kind, MH_HIST_SEC_BUCKETS
  // counts; owned by the result: mh_load_result_cleanup frees them. NULL: none.
  uint32_t *second_hists;
  size_t num_second_slots;
  double elapsed_s;
  unsigned long long planned, started, accepted, rejected, dropped, late;
  unsigned long long resume_offered, resumed;  // resumed: as the TLS library reports it
  unsigned long long errors[MH_LOAD_ERR_NUM];
  unsigned long long alerts[256];             // alerts received on rejection, by code
  unsigned long long statuses[600];           // HTTP statuses of rejections (confirmation at HTTP)
  struct mh_hist phases[MH_LOAD_NUM_PHASES];  // by enum mh_load_phase (input/load_phases.h)
  double cpu_user_s, cpu_sys_s;  // the whole process (getrusage): with a mock location, its too
  // The generator threads' own CPU time (user + system, CLOCK_THREAD_CPUTIME_ID read by each at
  // its end), summed: the harness's cost, without the mock's or the main thread's.
  double generator_cpu_s;
  long peak_rss_kb;
  // The command's exit code, for the report: set by cmd/load.c before the report is written
  // (mh_load_run leaves it 0).
  int exit_code;
  struct mh_load_second seconds[MH_LOAD_MAX_SECONDS];
  size_t num_seconds;
  // The server certificates accepted full handshakes saw (a resumed one is shown none) and the
  // failures, on a timeline of 100 ms slots (load/certs.h); its timeline is owned by the result.
  struct mh_certs certs;
  int signo;  // the signal that stopped the run early, 0: none
};

// mh_load_shard_rate returns the arrivals per second of |o|'s own part of the schedule: its
// shard's (o->rate / N), or the whole rate when not sharded; 0 in closed loop.
double mh_load_shard_rate(const struct mh_load_options *o);

// mh_load_result_init empties |r| (caller-owned, holding nothing) and its histograms.
void mh_load_result_init(struct mh_load_result *r);

// mh_load_result_add adds |src| into |dst|: its counts, named counts, phase histograms and
// seconds (second i to second i: what is not aligned so is the caller's to shift), its CPU times;
// the elapsed time and peak memory are the larger of the two. The start times, per-second
// histograms and certificates are not |src|'s to add (the run's are shared; merge aligns them).
void mh_load_result_add(struct mh_load_result *dst, const struct mh_load_result *src);

// mh_load_result_errors returns the number of handshakes of |r| that ended in an error, all
// classes together.
unsigned long long mh_load_result_errors(const struct mh_load_result *r);

// mh_load_result_second_hist returns the MH_HIST_SEC_BUCKETS counts of second |second| of kind
// |kind| (0 accepted, 1 rejected) of |r|, borrowed from |r|; NULL when |r| has none.
const uint32_t *mh_load_result_second_hist(const struct mh_load_result *r, size_t second, int kind);

// mh_load_result_cleanup frees what |r| owns (its per-second histograms, its certificates'
// timeline), not |r| itself.
void mh_load_result_cleanup(struct mh_load_result *r);

// mh_load_second_slots returns how many seconds of per-second histograms a run of |duration_s|
// with a handshake timeout of |timeout_ms| keeps: at most MH_LOAD_MAX_SECONDS.
size_t mh_load_second_slots(double duration_s, int timeout_ms);

// mh_load_run runs the load described by |o| and fills |out| (caller-owned, zeroed before its
// first use; large: allocate it; what it held is freed). With |o->start_at| it first waits for
// that instant (a signal then ends the run before it starts: |out->signo|). Returns 0, or -1 with
// |err| set if it could not start (bad certificate files, no threads).
int mh_load_run(const struct mh_load_options *o, struct mh_load_result *out, struct mh_err *err);

#endif
