// load: `load`: mTLS handshakes per second and their latency, with client certificates, from its
// options to its exit code: the target (a mock location started for the run, or an external one
// anywhere, resolved once), the identities, one run or a sweep, the report and the console
// summary.
#include <getopt.h>
#include <math.h>
#include <signal.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/net.h"
#include "cmd/cmd.h"
#include "base/interrupt.h"
#include "base/outdir.h"
#include "base/stage.h"
#include "conform/oracle.h"
#include "input/profile.h"
#include "input/scenario.h"
#include "load/confirm.h"
#include "load/identities.h"
#include "load/location.h"
#include "load/shard.h"
#include "load/summary.h"
#include "load/sweep.h"
#include "load/load.h"
#include "pki/pki.h"
#include "report/report.h"

// mh_load_command is `load`'s options, as given (NULL or 0: not given).
struct mh_load_command {
  const char *scenario_file;      // SCENARIO.json, with |location|
  const char *location;           // --location NAME
  const char *target;             // --target HOST:PORT (a name, an IPv4 or a [IPv6] address)
  const struct mh_net_pin *pins;  // --resolve NAME:PORT:ADDR, with |target|
  size_t num_pins;
  const char *ca_file;          // --ca FILE, with |target|
  const char *identities_from;  // --identities-from SPEC.json
  const char *fixtures_dir;     // --fixtures DIR, with |target|
  const char *identities;       // --identity A,B
  const char *bad_identities;   // --bad-identity X,Y
  const char *out_dir;          // --out DIR; default reports/<name>-load-<timestamp>
  int sweep;                    // --sweep
  double sweep_p99_ms;          // --sweep-p99-ms; 0: 10
  int server_threads;           // --server-threads; 0: 1
  const char *profile;          // --profile NAME: the stack's profile; default: the location's
  const char *profiles_dir;     // --profiles DIR; default: near the scenario, or the shipped one
  int extra_arguments;          // operands beyond SCENARIO.json: refused
  int keep_fixtures;            // --keep-fixtures: with --location, keep <out>/fixtures even
                                // when the command fails or is interrupted
  int force;                    // --force: empty an --out that is not empty (refused otherwise)
  const char *fixtures_cache;   // --fixtures-cache DIR
  int no_fixtures_cache;        // --no-fixtures-cache
  const char *shard;            // --shard I/N (load/shard.h), NULL: not sharded
  const char *start_at;         // --start-at TIME, NULL: at once
  // The run's numbers, version, --server-name and --quiet, each within its option's range
  // (cmd_load checks the ranges); rate 0 and connections 0: not given; threads 0: the default.
  struct mh_load_options load;
};

// A load command's state, from its options to its report; one per command, freed at its end.
struct load_state {
  const struct mh_load_command *c;
  struct mh_arena arena;
  struct mh_load_options lo;  // the run's options, with defaults and the target filled in
  const char *name;           // what is loaded: the location, or the target's server name
  const char *out_dir;
  const char *fixtures_dir;
  const char *fixtures_cache;      // pki/cache.h; NULL: none
  struct mh_scenario scenario;     // with a location
  const struct mh_location *L;     // NULL: an external target
  struct mh_pki_spec id_spec;      // --identities-from
  const struct mh_pki_spec *spec;  // where the identities come from
  const char *ca_files[1];
  struct mh_load_location mock;
  struct mh_load_identities ids;
  struct mh_load_result *result;  // large: allocated
  struct mh_sweep sweep;
  struct mh_profile profile;  // the stack's, when one is named: where acceptance is confirmed
  // SIGINT/SIGTERM, owned by the command (base/interrupt.h): opened before the mock's threads.
  struct mh_interrupt intr;
  // With --location the fixtures are generated in <out>/fixtures: removed again when the command
  // fails or is interrupted, unless they were there before or --keep-fixtures.
  struct mh_outdir od;
};

// check_shard reads --shard and --start-at into |lo|: a shard's part of the connections (in open
// loop the rate stays the total: each shard runs its slice of the one schedule) (its identities
// come later, once they are chosen).
static int check_shard(const struct mh_load_command *c, struct mh_load_options *lo,
                       struct mh_err *err) {
  if (c->start_at != NULL) {
    if (mh_shard_parse_time(c->start_at, &lo->start_at, err) != 0) {
      return -1;
    }
    double ahead = lo->start_at - (double)time(NULL);
    if (ahead > MH_SHARD_MAX_WAIT_S) {
      return mh_err_set(err,
                        "mtls-harness load: --start-at %s is %.0f hours ahead; give an instant "
                        "within 24 hours (a past one starts at once)",
                        c->start_at, ahead / 3600);
    }
  }
  if (c->shard == NULL) {
    return 0;
  }
  if (mh_shard_parse(c->shard, &lo->shard_index, &lo->shard_count, err) != 0) {
    return -1;
  }
  if (c->sweep) {
    return mh_err_set(err,
                      "mtls-harness load: --sweep and --shard do not go together: sweep on one "
                      "generator, then shard the rate it found");
  }
  if (lo->rate > 0) {
    return 0;
  }
  int total = lo->connections;
  lo->connections = mh_shard_connections(total, lo->shard_index, lo->shard_count);
  if (lo->connections == 0) {
    return mh_err_set(err,
                      "mtls-harness load: --connections %d over %d shards leaves shard %d none; "
                      "give at least --connections %d",
                      total, lo->shard_count, lo->shard_index, lo->shard_count);
  }
  return 0;
}

// check reads |c| into |lo|: the combinations of options that are refused, then the defaults
// that depend on other options. Each number is already within its option's range.
static int check(const struct mh_load_command *c, struct mh_load_options *lo, struct mh_err *err) {
  if ((c->location == NULL) == (c->target == NULL) ||
      (c->location != NULL && (c->scenario_file == NULL || c->extra_arguments)) ||
      (c->target != NULL && c->scenario_file != NULL)) {
    return mh_err_set(err,
                      "mtls-harness load: give SCENARIO.json --location NAME, or --target "
                      "HOST:PORT (see --help)");
  }
  if (c->load.rate > 0 && c->load.connections > 0) {
    return mh_err_set(err,
                      "mtls-harness load: give --rate R (open loop) or --connections N (closed "
                      "loop), not both");
  }
  if (c->server_threads > 1 && c->location == NULL) {
    return mh_err_set(err,
                      "mtls-harness load: --server-threads needs --location (the mock's loops)");
  }
  if (c->sweep && c->load.latency_log != NULL) {
    return mh_err_set(err,
                      "mtls-harness load: --latency-log is for one run, not --sweep (each step "
                      "would overwrite it)");
  }
  if (c->sweep && c->load.connections > 0) {
    return mh_err_set(err,
                      "mtls-harness load: --sweep steps an open-loop --rate, not --connections");
  }
  if (c->location != NULL && c->fixtures_dir != NULL) {
    return mh_err_set(err,
                      "mtls-harness load: --fixtures is for --target; with --location the "
                      "fixtures (and those of --identities-from) are generated in the report "
                      "directory");
  }
  if (c->target != NULL &&
      (c->ca_file == NULL || c->identities_from == NULL || c->fixtures_dir == NULL)) {
    return mh_err_set(err,
                      "mtls-harness load: --target needs --ca, --identities-from and --fixtures "
                      "(and --server-name when its host is an address)");
  }
  if (c->num_pins > 0 && c->target == NULL) {
    return mh_err_set(err,
                      "mtls-harness load: --resolve is for --target (a mock location is on "
                      "loopback, where the harness put it)");
  }
  *lo = c->load;
  if (lo->threads == 0) {
    lo->threads = mh_load_default_threads();
  }
  if (c->sweep && lo->rate == 0) {
    lo->rate = 100;
  }
  if (lo->rate == 0 && lo->connections == 0) {
    lo->connections = 16;
  }
  if (check_shard(c, lo, err) != 0) {
    return -1;
  }
  if (lo->connections > 0 && lo->connections < lo->threads) {
    lo->threads = lo->connections;
  }
  // Closed loop: every connection holds a descriptor the whole run, two against a mock of this
  // process (measured: 20 connections to a mock fit a limit of 64); past the limit each start
  // would fail at once (EMFILE) and start again: refused here instead, naming the fix.
  long limit;
  int base = 24 + 2 * lo->threads, per = 2;
  int fit = lo->connections > 0 ? mh_net_fd_fit(lo->connections, per, base, &limit) : 0;
  if (lo->connections > 0 && fit < lo->connections) {
    char instead[64] = "";
    if (fit > 0) {
      snprintf(instead, sizeof(instead), ", or give --connections %d", fit);
    }
    return mh_err_set(err,
                      "mtls-harness load: --connections %d needs about %d descriptors and the "
                      "limit is %ld (ulimit -n): raise it (e.g. ulimit -n %d)%s",
                      lo->connections, base + per * lo->connections, limit,
                      2 * (base + per * lo->connections), instead);
  }
  return 0;
}

// default_out_dir returns |dir|, or reports/<name>-load-<UTC timestamp> if it is NULL.
static const char *default_out_dir(struct mh_arena *a, const char *dir, const char *name) {
  return dir != NULL ? dir : mh_outdir_default(a, mh_arena_sprintf(a, "%s-load", name));
}

// prepare_external_location aims the run at the scenario's external location |L|: its host
// (resolved once, the scenario's "resolve" pins first, as prepare_target does), its server name
// and CA files; its identities are then judged by its policy and its profile confirms acceptance,
// as for a mock. The fixtures are generated in <out>/fixtures.
static int prepare_external_location(struct load_state *st, const struct mh_location *L,
                                     struct mh_err *err) {
  struct mh_arena *a = &st->arena;
  st->L = L;
  st->spec = &st->scenario.spec;
  struct mh_net_addrs addrs;
  struct mh_err e;
  if (mh_net_resolve(L->target_host, L->target_port, st->scenario.pins, st->scenario.num_pins,
                     &addrs, &e) != 0) {
    return mh_err_set(err,
                      "%s: $.locations.%s.target %s:%d: %s (check the name, or pin it in the "
                      "scenario's \"resolve\")",
                      st->scenario.file, L->name, L->target_host, L->target_port, e.msg);
  }
  char ip[64];
  mh_net_format_ip((const struct sockaddr *)&addrs.ss[0], ip, sizeof(ip));
  st->lo.address = mh_arena_strdup(a, ip);
  st->lo.port = L->target_port;
  st->lo.server_name = L->server_name != NULL ? L->server_name : L->target_host;
  st->lo.ca_files = L->target_ca_files;
  st->lo.num_ca_files = L->num_target_ca_files;
  struct mh_pki_options po = {
      .out_dir = st->fixtures_dir, .quiet = 1, .cache_dir = st->fixtures_cache};
  if (st->lo.address == NULL) {
    return mh_err_set(err, "out of memory");
  }
  return mh_stage_mkdirs(st->out_dir, err) != 0 || mh_pki_generate(st->spec, &po, err) != 0 ? -1
                                                                                            : 0;
}

// prepare_location loads the scenario with its fixtures inside the report directory, generates
// them and starts the one location; the run then aims at its port and trusts its root CA.
static int prepare_location(struct load_state *st, struct mh_err *err) {
  const struct mh_load_command *c = st->c;
  struct mh_arena *a = &st->arena;
  st->name = c->location;
  st->out_dir = default_out_dir(a, c->out_dir, c->location);
  st->fixtures_dir = st->out_dir ? mh_arena_sprintf(a, "%s/fixtures", st->out_dir) : NULL;
  if (st->fixtures_dir == NULL) {
    return mh_err_set(err, "out of memory");
  }
  // An --out that holds anything (but a fixtures directory the user provided) is refused unless
  // --force, so that old charts and reports never mix with this run's (base/outdir.h).
  if (mh_outdir_prepare(&st->od, "load", st->out_dir, "fixtures", c->force, err) != 0) {
    return -1;
  }
  struct mh_scenario_options so = {.fixtures_dir = st->fixtures_dir, .quiet = 1};
  if (mh_scenario_load(a, c->scenario_file, &so, &st->scenario, err) != 0) {
    return -1;
  }
  const struct mh_location *ext = mh_scenario_location(&st->scenario, c->location);
  if (ext != NULL && ext->is_target) {
    return prepare_external_location(st, ext, err);
  }
  if ((st->L = mh_load_location_find(&st->scenario, c->location, err)) == NULL) {
    return -1;
  }
  st->spec = &st->scenario.spec;
  struct mh_pki_options po = {
      .out_dir = st->fixtures_dir, .quiet = 1, .cache_dir = st->fixtures_cache};
  if (mh_stage_mkdirs(st->out_dir, err) != 0 || mh_pki_generate(st->spec, &po, err) != 0 ||
      mh_load_location_start(&st->mock, a, &st->scenario, st->L,
                             c->server_threads > 0 ? c->server_threads : 1, err) != 0) {
    return -1;
  }
  st->lo.address = st->mock.address;
  st->lo.port = st->mock.port;
  st->lo.in_process_mock = 1;
  st->lo.server_name = st->L->host;
  int root = mh_oracle_server_root_ca(&st->scenario, st->L);
  if (root >= 0) {
    char path[4096];
    mh_scenario_fixture_path(&st->scenario, st->scenario.spec.entities[root].cert_file, path,
                             sizeof(path));
    st->ca_files[0] = mh_arena_strdup(a, path);
  }
  st->lo.ca_files = st->ca_files;
  st->lo.num_ca_files = root >= 0;
  return 0;
}

// prepare_target resolves an external target once, before the run: every connection of the run
// goes to the same address, the first the resolver (or --resolve) gives, so that a load test
// measures one server rather than the resolver. Then it loads the identity spec.
static int prepare_target(struct load_state *st, struct mh_err *err) {
  const struct mh_load_command *c = st->c;
  struct mh_arena *a = &st->arena;
  char host[MH_NET_HOST_LEN];
  struct mh_err e;
  if (mh_net_split_host_port(c->target, host, sizeof(host), &st->lo.port, &e) != 0) {
    return mh_err_set(err, "mtls-harness load: --target %s", e.msg);
  }
  if (st->lo.server_name == NULL && mh_net_is_numeric(host)) {
    return mh_err_set(err,
                      "mtls-harness load: --target %s is an address: give --server-name, the name "
                      "on the target's certificate",
                      c->target);
  }
  if (st->lo.server_name == NULL) {
    st->lo.server_name = mh_arena_strdup(a, host);
  }
  struct mh_net_addrs addrs;
  if (mh_net_resolve(host, st->lo.port, c->pins, c->num_pins, &addrs, &e) != 0) {
    return mh_err_set(err,
                      "mtls-harness load: --target %s: %s (check the name, or pin it with "
                      "--resolve NAME:PORT:ADDR)",
                      c->target, e.msg);
  }
  char ip[64];
  mh_net_format_ip((const struct sockaddr *)&addrs.ss[0], ip, sizeof(ip));
  st->lo.address = mh_arena_strdup(a, ip);
  if (st->lo.address == NULL || st->lo.server_name == NULL) {
    return mh_err_set(err, "out of memory");
  }
  // The spec is generated into --fixtures as `pki` would (CA keys and imported files are kept),
  // so that one spec serves `run` and `load` without a separate step.
  struct mh_pki_options po = {
      .out_dir = c->fixtures_dir, .quiet = 1, .cache_dir = st->fixtures_cache};
  if (mh_pki_spec_load(a, c->identities_from, &st->id_spec, err) != 0 ||
      mh_pki_generate(&st->id_spec, &po, err) != 0) {
    return -1;
  }
  st->spec = &st->id_spec;
  st->ca_files[0] = c->ca_file;
  st->lo.ca_files = st->ca_files;
  st->lo.num_ca_files = 1;
  st->name = st->lo.server_name;
  st->fixtures_dir = c->fixtures_dir;
  st->out_dir = default_out_dir(a, c->out_dir, st->lo.server_name);
  return st->out_dir != NULL ? 0 : mh_err_set(err, "out of memory");
}

// say_identities prints on stderr which identities the run presents and why: the operator must
// know whether the policy chose them.
static void say_identities(const struct load_state *st) {
  if (st->lo.quiet) {
    return;
  }
  char good[600] = "", bad[600] = "";
  for (size_t i = 0; i < st->ids.num_good; i++) {
    size_t n = strlen(good);
    snprintf(good + n, sizeof(good) - n, "%s%s", i ? ", " : "", st->ids.good[i].name);
  }
  for (size_t i = 0; i < st->ids.num_bad; i++) {
    size_t n = strlen(bad);
    snprintf(bad + n, sizeof(bad) - n, "%s%s", i ? ", " : "", st->ids.bad[i].name);
  }
  const char *why = st->c->identities != NULL ? "as --identity names them"
                    : st->L != NULL           ? "those the location's policy admits"
                                    : "every identity of the spec fit for client auth: no "
                                      "policy judges them (give --identity, or load SCENARIO "
                                      "--location NAME to take those its policy admits)";
  fprintf(stderr, "load: presenting %s (%s)", good, why);
  if (st->ids.num_bad > 0) {
    fprintf(stderr, "; refused ones for --bad-share: %s (%s)", bad,
            st->c->bad_identities != NULL ? "as --bad-identity names them"
                                          : "those the location's policy refuses");
  }
  fputc('\n', stderr);
}

// prepare_identities chooses the identities. With a location, --identities-from is generated
// beside the scenario's fixtures (a CA of the same name and file keeps its key) and the oracle
// judges its identities against the location's policy; against a target, every identity fit for
// client authentication is used. Either way the server's answer is what is counted.
static int prepare_identities(struct load_state *st, struct mh_err *err) {
  const struct mh_load_command *c = st->c;
  if (st->L != NULL && c->identities_from != NULL) {
    struct mh_pki_options po = {
        .out_dir = st->fixtures_dir, .quiet = 1, .cache_dir = st->fixtures_cache};
    if (mh_pki_spec_load(&st->arena, c->identities_from, &st->id_spec, err) != 0 ||
        mh_pki_generate(&st->id_spec, &po, err) != 0) {
      return -1;
    }
    st->spec = &st->id_spec;
  }
  struct mh_load_identity_request rq = {.spec = st->spec,
                                        .fixtures_dir = st->fixtures_dir,
                                        .names = c->identities,
                                        .bad_names = c->bad_identities,
                                        .every = c->identities_from != NULL,
                                        .want_bad = st->lo.bad_share > 0,
                                        .scenario = st->L ? &st->scenario : NULL,
                                        .location = st->L,
                                        .version = st->lo.version};
  if (mh_load_identities_choose(&st->arena, &rq, &st->ids, err) != 0) {
    return -1;
  }
  if (st->lo.shard_count > 1) {  // this shard's part of each list (load/shard.h)
    struct mh_load_identity part[MH_LOAD_MAX_IDENTITIES];
    st->ids.num_good = mh_shard_identities(st->ids.good, st->ids.num_good, st->lo.shard_index,
                                           st->lo.shard_count, part);
    memcpy(st->ids.good, part, st->ids.num_good * sizeof(part[0]));
    st->ids.num_bad = mh_shard_identities(st->ids.bad, st->ids.num_bad, st->lo.shard_index,
                                          st->lo.shard_count, part);
    memcpy(st->ids.bad, part, st->ids.num_bad * sizeof(part[0]));
  }
  say_identities(st);
  st->lo.good = st->ids.good;
  st->lo.num_good = st->ids.num_good;
  st->lo.bad = st->ids.bad;
  st->lo.num_bad = st->ids.num_bad;
  return 0;
}

// prepare_confirmation loads the stack's profile (--profile, or the location's) and confirms
// acceptance where it says the stack rejects: at HTTP (a request to the location's path, or "/")
// when one of its rejections is an HTTP status, at TLS otherwise or without a profile.
static int prepare_confirmation(struct load_state *st, struct mh_err *err) {
  const struct mh_load_command *c = st->c;
  const char *name = c->profile != NULL ? c->profile : st->L != NULL ? st->L->profile : NULL;
  if (name == NULL) {
    return 0;
  }
  // As `run` does: --profiles, the profiles/ beside the scenario's folder, or the shipped ones.
  const char *dir = mh_cmd_profiles_dir(&st->arena, c->scenario_file, c->profiles_dir);
  // The location's may be a profile file (an observed one): read it as run does.
  int from_location = c->profile == NULL;
  if ((from_location ? mh_profile_of_location(&st->arena, dir, c->scenario_file, st->L->name, name,
                                              st->L->profile_file, &st->profile, err)
                     : mh_profile_load(&st->arena, dir, name, &st->profile, err)) != 0) {
    return -1;
  }
  st->lo.profile = st->profile.name;
  const char *host = st->L != NULL ? st->L->host : st->lo.server_name;
  const char *path = st->L != NULL ? st->L->path : NULL;
  return mh_confirm_from_profile(&st->lo, &st->arena, &st->profile, host, st->lo.port, path, err);
}

// run_and_report runs once or sweeps, writes the report and prints the summary. Returns 0, 1 or
// -1 as mh_load_command_run.
static int run_and_report(struct load_state *st, struct mh_err *err) {
  const struct mh_load_command *c = st->c;
  if (!st->lo.quiet) {
    mh_load_summary_banner(stderr, st->name, &st->lo);
  }
  const struct mh_sweep *sweep = NULL;
  if (!c->sweep) {
    if (mh_load_run(&st->lo, st->result, err) != 0) {
      return -1;
    }
  } else {
    if (mh_sweep_run(&st->lo, c->sweep_p99_ms > 0 ? c->sweep_p99_ms : 10, &st->sweep, st->result,
                     err) != 0) {
      return -1;
    }
    sweep = &st->sweep;
    // The report describes the rate that held (or the first one tried, if none did).
    st->lo.rate = st->sweep.sustainable > 0 ? st->sweep.sustainable : st->lo.rate;
  }
  char target_desc[300];
  snprintf(target_desc, sizeof(target_desc),
           strchr(st->lo.address, ':') ? "%s ([%s]:%d)" : "%s (%s:%d)", st->name, st->lo.address,
           st->lo.port);
  // A sweep ends where errors start, by design; a signal decides the exit code (130/143).
  st->result->exit_code = st->result->signo != 0 ? mh_interrupt_exit_code(st->result->signo)
                          : mh_load_result_errors(st->result) > 0 && !c->sweep ? 1
                                                                               : 0;
  char charts_note[MH_ERR_LEN];
  if (mh_report_write_load(st->out_dir, target_desc, &st->lo, st->result, sweep, charts_note,
                           sizeof(charts_note), err) != 0) {
    return -1;
  }
  if (charts_note[0] != '\0') {
    fprintf(stderr, "load: charts not drawn: %s\n", charts_note);
  }
  mh_load_summary_print(stdout, &st->lo, st->result, sweep);
  mh_load_summary_certs(stderr, st->result);
  mh_load_location_print_accepted(&st->mock, stdout);
  printf("load: report in %s (report.md, report.json)\n", st->out_dir);
  if (st->result->signo != 0) {
    printf("load: interrupted by %s after %.1f s (the report says so)\n",
           mh_interrupt_name(st->result->signo), st->result->elapsed_s);
  }
  return st->result->exit_code;
}

// load_run runs `load` as |c| says: prints the banner and progress on stderr, the summary on
// stdout, and writes the report directory. Returns 0, 1 if a handshake failed unexpectedly (not
// for a sweep, which ends where errors start), or -1 with |err| set when the options or the
// input are wrong or the run could not start (no report file is written then; with --location
// the fixtures generated in the report directory are removed again, unless --keep-fixtures).
// SIGINT/SIGTERM stop the run: the report of what ended is written, marked interrupted, and the
// result is 128 + the signal (130, 143).
static int load_run(const struct mh_load_command *c, struct mh_err *err) {
  struct load_state *st = calloc(1, sizeof(*st));
  int rc = -1;
  if (st == NULL) {
    return mh_err_set(err, "out of memory");
  }
  st->c = c;
  mh_arena_init(&st->arena);
  st->fixtures_cache = mh_cmd_fixtures_cache(&st->arena, c->fixtures_cache, c->no_fixtures_cache);
  if (mh_interrupt_open(&st->intr, err) != 0 || check(c, &st->lo, err) != 0) {
    goto out;
  }
  st->lo.interrupt = &st->intr;
  st->result = calloc(1, sizeof(*st->result));
  if (st->result == NULL) {
    mh_err_set(err, "out of memory");
    goto out;
  }
  if ((c->location != NULL ? prepare_location(st, err) : prepare_target(st, err)) != 0 ||
      prepare_identities(st, err) != 0 || prepare_confirmation(st, err) != 0) {
    goto out;
  }
  // With --target, an --out that already exists is refused unless --force (or emptied with it);
  // a missing one is made by the report writer, after the run (--location took its directory
  // before generating its fixtures inside it).
  struct stat sb;
  if (c->location == NULL && stat(st->out_dir, &sb) == 0 &&
      mh_outdir_prepare(&st->od, "load", st->out_dir, "fixtures", c->force, err) != 0) {
    goto out;
  }
  rc = run_and_report(st, err);
out:
  mh_load_location_stop(&st->mock);
  if ((rc < 0 || st->intr.signo != 0) && !c->keep_fixtures && st->od.path != NULL) {
    struct mh_err ignored;  // best effort: the command's own error, if any, is what is reported
    mh_outdir_remove_tree(&st->od, "fixtures", &ignored);
  }

  mh_interrupt_close(&st->intr);
  if (st->result != NULL) {
    mh_load_result_cleanup(st->result);
  }
  free(st->result);
  mh_arena_free(&st->arena);
  free(st);
  return rc;
}

// load_number is a number option of load: its range, and words for what a valid value is.
struct load_number {
  int opt;           // the getopt code
  const char *name;  // the long option
  int whole;         // an integer
  double min, max;   // the range, inclusive (min excluded if above_min)
  int above_min;
  const char *what;     // "seconds"
  const char *example;  // "10"
};

static const struct load_number load_numbers[] = {
    {'b', "bad-share", 0, 0, 1, 0, "a share of the handshakes", "0.2"},
    {'s', "resume-share", 0, 0, 1, 0, "a share of the handshakes", "0.5"},
    // No host reaches 1e12/s: what the connections cannot start is dropped and counted (load.c).
    {'r', "rate", 0, 0, 1e12, 1, "handshakes per second", "500"},
    {'c', "connections", 1, 1, 100000, 0, "a whole number of handshakes in flight", "32"},
    {'d', "duration", 0, 0, MH_LOAD_MAX_SECONDS, 1, "seconds", "10"},
    {'t', "threads", 1, 1, MH_LOAD_MAX_THREADS, 0, "a whole number of event loops", "4"},
    {'m', "timeout-ms", 1, 10, 3600000, 0, "whole milliseconds", "5000"},
    {'P', "sweep-p99-ms", 0, 0, 3600000, 1, "milliseconds", "10"},
    {'N', "server-threads", 1, 1, MH_MAX_LOOPS, 0, "a whole number of mock loops", "2"},
};

// load_number_parse reads |text| as number option |n| into |out|, or prints what a valid value
// looks like, naming the option, and returns -1.
static int load_number_parse(const struct load_number *n, const char *text, double *out) {
  char *end = NULL;
  double v = n->whole ? (double)strtol(text, &end, 10) : strtod(text, &end);
  if (end == text || *end != '\0' || !isfinite(v) || v > n->max ||
      (n->above_min ? v <= n->min : v < n->min)) {
    fprintf(stderr, "mtls-harness load: --%s takes %s, %s %.15g %s %.15g (e.g. %s); got '%s'\n",
            n->name, n->what, n->above_min ? "above" : "from", n->min,
            n->above_min ? "and at most" : "to", n->max, n->example, text);
    return -1;
  }
  *out = v;
  return 0;
}

// load_set_number stores number option |opt|'s value |v| where it belongs in |c|.
static void load_set_number(struct mh_load_command *c, int opt, double v) {
  switch (opt) {
    case 'b':
      c->load.bad_share = v;
      break;
    case 's':
      c->load.resume_share = v;
      break;
    case 'r':
      c->load.rate = v;
      break;
    case 'c':
      c->load.connections = (int)v;
      break;
    case 'd':
      c->load.duration_s = v;
      break;
    case 't':
      c->load.threads = (int)v;
      break;
    case 'm':
      c->load.timeout_ms = (int)v;
      break;
    case 'P':
      c->sweep_p99_ms = v;
      break;
    default:  // 'N'
      c->server_threads = (int)v;
      break;
  }
}

// load_longopts are the options of `load`; its number options are parsed by load_numbers.
static const struct option load_longopts[] = {
    {"location", required_argument, NULL, 'L'},
    {"target", required_argument, NULL, 'T'},
    {"server-name", required_argument, NULL, 'S'},
    {"ca", required_argument, NULL, 'C'},
    {"identities-from", required_argument, NULL, 'i'},
    {"fixtures", required_argument, NULL, 'F'},
    {"identity", required_argument, NULL, 'I'},
    {"bad-identity", required_argument, NULL, 'B'},
    {"bad-share", required_argument, NULL, 'b'},
    {"tls", required_argument, NULL, 'v'},
    {"rate", required_argument, NULL, 'r'},
    {"connections", required_argument, NULL, 'c'},
    {"duration", required_argument, NULL, 'd'},
    {"threads", required_argument, NULL, 't'},
    {"timeout-ms", required_argument, NULL, 'm'},
    {"out", required_argument, NULL, 'o'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"resume", no_argument, NULL, 'R'},
    {"resume-share", required_argument, NULL, 's'},
    {"sweep", no_argument, NULL, 'W'},
    {"sweep-p99-ms", required_argument, NULL, 'P'},
    {"server-threads", required_argument, NULL, 'N'},
    {"resolve", required_argument, NULL, 'A'},
    {"profile", required_argument, NULL, 'p'},
    {"profiles", required_argument, NULL, 'D'},
    {"keep-fixtures", no_argument, NULL, 'k'},
    {"force", no_argument, NULL, 'X'},
    {"shard", required_argument, NULL, 'H'},
    {"start-at", required_argument, NULL, 'Z'},
    {"latency-log", required_argument, NULL, 'G'},
    {"fixtures-cache", required_argument, NULL, 'Y'},
    {"no-fixtures-cache", no_argument, NULL, 'y'},
    {NULL, 0, NULL, 0},
};

static int cmd_load(const struct mh_cmd *self, int argc, char **argv) {
  struct mh_load_command c = {.load = {.version = MH_TLS13, .duration_s = 10, .timeout_ms = 5000}};
  struct mh_net_pin pins[MH_CMD_MAX_PINS];
  c.pins = pins;
  int opt;
  while ((opt = getopt_long(argc, argv, "h", load_longopts, NULL)) != -1) {
    const struct load_number *n = NULL;
    for (size_t i = 0; i < sizeof(load_numbers) / sizeof(load_numbers[0]); i++) {
      n = load_numbers[i].opt == opt ? &load_numbers[i] : n;
    }
    double v;
    if (n != NULL) {
      if (load_number_parse(n, optarg, &v) != 0) {
        return MH_EXIT_INPUT;
      }
      load_set_number(&c, opt, v);
      continue;
    }
    switch (opt) {
      case 'L':
        c.location = optarg;
        break;
      case 'T':
        c.target = optarg;
        break;
      case 'A':
        if (mh_cmd_add_pin("load", pins, &c.num_pins, optarg) != 0) {
          return MH_EXIT_INPUT;
        }
        break;
      case 'S':
        c.load.server_name = optarg;
        break;
      case 'C':
        c.ca_file = optarg;
        break;
      case 'i':
        c.identities_from = optarg;
        break;
      case 'F':
        c.fixtures_dir = optarg;
        break;
      case 'I':
        c.identities = optarg;
        break;
      case 'B':
        c.bad_identities = optarg;
        break;
      case 'o':
        c.out_dir = optarg;
        break;
      case 'p':
        c.profile = optarg;
        break;
      case 'D':
        c.profiles_dir = optarg;
        break;
      case 'Y':
        c.fixtures_cache = optarg;
        break;
      case 'y':
        c.no_fixtures_cache = 1;
        break;
      case 'q':
        c.load.quiet = 1;
        break;
      case 'R':
        c.load.resume_share = 1;
        break;
      case 'W':
        c.sweep = 1;
        break;
      case 'k':
        c.keep_fixtures = 1;
        break;
      case 'X':
        c.force = 1;
        break;
      case 'H':
        c.shard = optarg;
        break;
      case 'Z':
        c.start_at = optarg;
        break;
      case 'G':
        c.load.latency_log = optarg;
        break;
      case 'v':
        c.load.version = mh_tls_version_parse(optarg);
        if (c.load.version == 0) {
          fprintf(stderr, "mtls-harness load: --tls takes 1.2 or 1.3; got '%s'\n", optarg);
          return MH_EXIT_INPUT;
        }
        break;
      case 'h':
        mh_cmd_usage(self, stdout);
        return 0;
      default:
        fprintf(stderr, "mtls-harness load: see 'mtls-harness load --help'\n");
        return MH_EXIT_INPUT;
    }
  }
  c.scenario_file = optind < argc ? argv[optind] : NULL;
  c.extra_arguments = argc - optind > 1;
  signal(SIGPIPE, SIG_IGN);
  struct mh_err err;
  int rc = load_run(&c, &err);
  if (rc < 0) {
    fprintf(stderr, "%s\n", err.msg);
    return MH_EXIT_INPUT;
  }
  return rc;
}

const struct mh_cmd mh_cmd_load = {
    "load",
    "load (SCENARIO.json --location NAME | --target HOST:PORT [--server-name NAME] --ca FILE\n"
    "                    --identities-from SPEC.json --fixtures DIR) [options]",
    "measure mTLS handshakes per second and their latency, with client certificates",
    "  --location NAME      a mock location of the scenario to load (started on a loopback port)\n"
    "  --target HOST:PORT   an external target instead: a DNS name, an IPv4 or an [IPv6]\n"
    "                       address, resolved once (the first address is used); with --ca,\n"
    "                       and --server-name when HOST is an address (default: HOST)\n"
    "  --resolve NAME:PORT:ADDR  with --target: connect to ADDR for NAME:PORT without asking\n"
    "                       the resolver, like curl's; repeatable\n"
    "  --identities-from SPEC  client identities from this fixture spec, round-robin: with\n"
    "                       --target, every one fit for client auth (generated in --fixtures\n"
    "                       DIR); with --location, every one the location's policy accepts\n"
    "                       (generated beside the scenario's fixtures: a CA of the same name\n"
    "                       keeps its key)\n"
    "  --fixtures DIR       with --target: where the spec is generated (as `pki` does: CA\n"
    "                       keys in DIR and imported files are kept)\n"
    "  --identity A[,B...]  client identities, round-robin (default: see --identities-from;\n"
    "                       without it, the first identity the location's policy accepts)\n"
    "  --bad-identity X[,..] identities for --bad-share (default: those the policy rejects\n"
    "                       for their CN)\n"
    "  --bad-share P        fraction of handshakes made with a bad identity (0 to 1)\n"
    "  --tls 1.2|1.3        the version offered (default 1.3)\n"
    "  --profile NAME       the stack's profile (default: the location's): a stack that\n"
    "                       rejects at HTTP (nginx-http) is confirmed by a request's status\n"
    "  --profiles DIR       where the stack profiles are (default: the shipped profiles/)\n"
    "  --resume             resume sessions (TLS 1.2 tickets, TLS 1.3 tickets used once each)\n"
    "  --resume-share P     resume a fraction P of handshakes, the rest are full\n"
    "  --sweep              step the open-loop rate (from --rate, default 100) up by half until\n"
    "                       p99, errors, drops or the achieved rate break; report the highest\n"
    "                       sustained rate (with sweep.svg)\n"
    "  --sweep-p99-ms MS    the p99 limit of --sweep (default 10)\n"
    "  --server-threads N   with --location: the mock runs N loops, each with its own\n"
    "                       SO_REUSEPORT listener on the same port (default 1)\n"
    "  --rate R             open loop: R arrivals per second, latency from the planned time\n"
    "  --connections N      closed loop: N handshakes in flight (default 16)\n"
    "  --duration S         seconds (default 10)\n"
    "  --threads T          one event loop per thread (default: the number of cores, at most\n"
    "                       64; up to 1024 may be given)\n"
    "  --timeout-ms MS      per handshake, connect to first server record (default 5000)\n"
    "  --out DIR            report directory (default reports/<name>-load-<timestamp>)\n"
    "  --quiet              no progress line\n"
    "  --keep-fixtures      with --location: keep <out>/fixtures (private keys) when the\n"
    "                       command fails or is interrupted (removed then by "
    "default)\n" MH_CMD_FIXTURES_CACHE_HELP
    "  --force              empty an --out directory that is not empty (refused otherwise)\n"
    "  --shard I/N          shard I (0 to N-1) of N generators: its part of --rate (arrivals\n"
    "                       k mod N == I of one schedule at the total rate R), of\n"
    "                       --connections and of the identities; merge the reports with\n"
    "                       `mtls-harness merge`\n"
    "  --start-at TIME      wait until TIME (RFC 3339 UTC, 2026-11-30T12:00:00Z, or @<unix\n"
    "                       seconds>; at most 24 h ahead; a past one starts at once) and\n"
    "                       count seconds from it, so that shards' seconds line up\n"
    "  --latency-log FILE   one line per handshake: planned time from the start (us),\n"
    "                       latency (us), accepted|rejected|error, the error class\n"
    "\n"
    "A handshake counts as accepted only when the server kept it (TLS 1.3: its first record\n"
    "after our Finished; a profile that rejects at HTTP: the status of a GET after it). Prints a "
    "progress line every second, then the summary; writes\n"
    "report.json and report.md. Exit 0, or 1 if any handshake failed unexpectedly; 2 harness or\n"
    "input error; 130 SIGINT, 143 SIGTERM (the report of what ended is written, marked\n"
    "interrupted).\n"
    "Design and limits: docs/load.md.\n",
    cmd_load};
