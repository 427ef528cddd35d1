// run: `run SCENARIO.json`: the scenario's conformance matrix against its mocks and external
// targets, its reports written and its summary printed.
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/interrupt.h"
#include "base/net.h"
#include "base/outdir.h"
#include "cmd/cmd.h"
#include "conform/runner.h"
#include "conform/summary.h"
#include "input/pki_spec.h"
#include "input/scenario.h"
#include "report/report.h"
#include "tls/tls.h"

// run_fixtures_dir names the run's report directory after the scenario (unless --out did) and
// puts the fixtures inside it.
static const char *run_fixtures_dir(void *arg, struct mh_arena *a, const char *scenario_name) {
  struct mh_run_options *ro = arg;
  if (ro->out_dir == NULL) {
    ro->out_dir = mh_outdir_default(a, scenario_name);
  }
  return ro->out_dir != NULL ? mh_arena_sprintf(a, "%s/fixtures", ro->out_dir) : NULL;
}

// run_flags are run's options that the command acts on itself, not the runner.
struct run_flags {
  const char *keylog;
  int force, keep_fixtures;
  const char *fixtures_cache;  // --fixtures-cache DIR
  int no_fixtures_cache;       // --no-fixtures-cache
};

// parse_min_time_left reads --min-time-left DURATION into |ro|: a positive duration in s, m, h, d
// or w (the fixture spec's durations). 0, or -1 after the one-line error.
static int parse_min_time_left(struct mh_run_options *ro, const char *arg) {
  int64_t s;
  if (arg[0] == '-' || arg[0] == '+' || mh_pki_spec_parse_duration(arg, &s) != 0 || s <= 0) {
    fprintf(stderr,
            "mtls-harness run: --min-time-left takes a positive duration such as 30d, 12h, 90m or "
            "3600s (units s, m, h, d, w); got '%s'\n",
            arg);
    return -1;
  }
  ro->has_min_time_left = 1;
  ro->min_time_left_s = s;
  return 0;
}

// absolute returns |path| made absolute (symbolic links resolved) in |a|, or |path| itself when it
// cannot be (then the rerun command works from the run's directory only).
static const char *absolute(struct mh_arena *a, const char *path) {
  if (path == NULL) {
    return NULL;
  }
  char *real = realpath(path, NULL);
  const char *copy = real != NULL ? mh_arena_strdup(a, real) : NULL;
  free(real);
  return copy != NULL ? copy : path;
}

// describe_rerun fills |x| with what the command that reruns one case needs: the options of this
// run that decide a verdict (report/report.h), paths absolute.
static void describe_rerun(struct mh_arena *a, const struct mh_scenario *s,
                           const struct mh_run_options *o, struct mh_rerun *x) {
  x->program = absolute(a, "/proc/self/exe");
  if (strcmp(x->program, "/proc/self/exe") == 0) {
    x->program = NULL;
  }
  x->scenario_file = absolute(a, s->file);
  x->out_dir = absolute(a, o->out_dir);
  x->profiles_dir = absolute(a, o->profiles_dir);
  x->strict = o->strict;
  x->pcap = o->pcap;
  x->capture_iface = o->capture_iface;
  x->pins = o->pins;
  x->num_pins = o->num_pins;
  x->has_retries = o->retries >= 0;
  x->retries = o->retries;
}

// write_reports writes the run's report files and prints its summary; returns its exit code, or
// -1 with |err| set when the reports cannot be written.
static int write_reports(struct mh_arena *a, const struct mh_scenario *s,
                         const struct mh_run_options *ro, const struct mh_run_result *res,
                         struct mh_err *err) {
  struct mh_report rep = {.scenario_name = s->name,
                          .scenario_file = s->file,
                          .out_dir = ro->out_dir,
                          .strict = ro->strict,
                          .pcap = ro->pcap,
                          .run = res};
  char tls_desc[512], host[256] = "";
  mh_tls_library_describe(tls_desc, sizeof(tls_desc));
  rep.tls_library = tls_desc;
  if (gethostname(host, sizeof(host) - 1) == 0) {
    rep.hostname = host;
  }
  struct mh_rerun rerun;
  describe_rerun(a, s, ro, &rerun);
  rep.rerun = &rerun;
  if (mh_report_write(&rep, err) != 0) {
    return -1;
  }
  mh_summary_print(stdout, ro, res);
  return res->exit_code;
}

// fit_jobs sizes --jobs to the descriptor limit (each case in flight holds a few: the probe's
// socket, the mock's end, the case log, a capture), measured at about 20 for the mocks of a
// three-location federation plus 2 per case (4 with --pcap), and kept with room to spare. It says
// so when it runs fewer at once than asked. 0, or -1 with |err| set when not even one fits.
static int fit_jobs(struct mh_run_options *ro, const struct mh_scenario *s, struct mh_err *err) {
  int per_case = ro->pcap ? 5 : 3, base = 16 + 4 * (int)s->num_locations;
  long limit;
  int fit = mh_net_fd_fit(ro->jobs, per_case, base, &limit);
  if (fit < 1) {
    return mh_err_set(err,
                      "mtls-harness run: the descriptor limit is %ld (ulimit -n), too low for this "
                      "scenario: a run of it needs about %d; raise it (e.g. ulimit -n 1024)",
                      limit, base + per_case);
  }
  if (fit < ro->jobs) {
    fprintf(stderr,
            "run: --jobs %d needs about %d descriptors and the limit is %ld (ulimit -n): running "
            "%d at once (raise the limit, e.g. ulimit -n 4096, to run more)\n",
            ro->jobs, base + ro->jobs * per_case, limit, fit);
    ro->jobs = fit;
  }
  return 0;
}

// run_scenario loads |scenario_file|, prepares the run's directory, runs it and writes its
// reports; on an input error it removes what the run created (unless --keep-fixtures), on a signal
// the fixtures' keys. Returns the exit code.
static int run_scenario(const char *scenario_file, struct mh_run_options *ro,
                        const struct run_flags *fl) {
  signal(SIGPIPE, SIG_IGN);
  if (ro->jobs < 1) {
    ro->jobs = 1;
  }
  struct mh_arena arena;
  mh_arena_init(&arena);
  struct mh_err err;
  struct mh_scenario s;
  struct mh_runner *runner = NULL;
  int rc = MH_EXIT_INPUT;
  ro->profiles_dir = mh_cmd_profiles_dir(&arena, scenario_file, ro->profiles_dir);
  ro->fixtures_cache = mh_cmd_fixtures_cache(&arena, fl->fixtures_cache, fl->no_fixtures_cache);
  // SIGINT and SIGTERM become a file descriptor the runner polls: blocked here, before any thread.
  struct mh_interrupt intr;
  struct mh_outdir od = {.path = NULL};
  if (mh_interrupt_open(&intr, &err) != 0) {
    goto fail;
  }
  ro->interrupt = &intr;
  // The scenario's name decides the default report directory, where its fixtures go.
  struct mh_scenario_options so = {.fixtures_dir_for = run_fixtures_dir, .arg = ro};
  if (mh_scenario_load(&arena, scenario_file, &so, &s, &err) != 0 || fit_jobs(ro, &s, &err) != 0) {
    goto fail;
  }
  // From here on everything in the directory is this run's (but for a fixtures/ the user provided,
  // outdir.h): a failure removes it.
  if (mh_outdir_prepare(&od, "run", ro->out_dir, "fixtures", fl->force, &err) != 0) {
    od.path = NULL;
    goto fail;
  }
  if (fl->keylog != NULL && mh_tls_keylog_open(fl->keylog, &err) != 0) {
    goto fail;
  }
  if (mh_runner_run(&s, ro, &runner, &err) != 0) {
    goto fail;
  }
  int r = write_reports(&arena, &s, ro, mh_runner_result(runner), &err);
  if (r < 0) {
    goto fail;
  }
  rc = r;
  // An interrupted run keeps its reports, not its fixtures' private keys (unless asked to).
  if (intr.signo != 0 && !fl->keep_fixtures && mh_outdir_remove_tree(&od, "fixtures", &err) != 0) {
    fprintf(stderr, "%s\n", err.msg);
  }
  goto out;
fail:
  fprintf(stderr, "%s\n", err.msg);
  if (!fl->keep_fixtures) {
    mh_outdir_discard(&od);
  }
  if (intr.signo != 0) {
    rc = mh_interrupt_exit_code(intr.signo);
  }
out:
  mh_runner_free(runner);
  mh_interrupt_close(&intr);
  mh_arena_free(&arena);
  return rc;
}

// run_longopts are the options of `run`.
static const struct option run_longopts[] = {
    {"out", required_argument, NULL, 'o'},
    {"filter", required_argument, NULL, 'F'},
    {"jobs", required_argument, NULL, 'j'},
    {"strict", no_argument, NULL, 's'},
    {"baseline", required_argument, NULL, 'b'},
    {"profiles", required_argument, NULL, 'p'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"pcap", no_argument, NULL, 'P'},
    {"capture-iface", required_argument, NULL, 'I'},
    {"keylog", required_argument, NULL, 'K'},
    {"resolve", required_argument, NULL, 'r'},
    {"timeout", required_argument, NULL, 'T'},
    {"force", no_argument, NULL, 'f'},
    {"keep-fixtures", no_argument, NULL, 'k'},
    {"min-time-left", required_argument, NULL, 'L'},
    {"retries", required_argument, NULL, 'R'},
    {"fixtures-cache", required_argument, NULL, 'C'},
    {"no-fixtures-cache", no_argument, NULL, 'N'},
    {NULL, 0, NULL, 0},
};
static int cmd_run(const struct mh_cmd *self, int argc, char **argv) {
  struct mh_run_options ro = {
      .jobs = (int)sysconf(_SC_NPROCESSORS_ONLN), .plan_out = stdout, .retries = -1};
  struct mh_net_pin pins[MH_CMD_MAX_PINS];
  ro.pins = pins;
  struct run_flags fl = {.keylog = NULL};
  int opt;
  while ((opt = getopt_long(argc, argv, "h", run_longopts, NULL)) != -1) {
    char *end;
    switch (opt) {
      case 'o':
        ro.out_dir = optarg;
        break;
      case 'T':
        ro.timeout_s = strtod(optarg, &end);
        if (end == optarg || *end != '\0' || !(ro.timeout_s > 0 && ro.timeout_s <= 86400)) {
          fprintf(stderr,
                  "mtls-harness run: --timeout takes seconds, above 0 and at most 86400 (e.g. "
                  "600); got '%s'\n",
                  optarg);
          return MH_EXIT_INPUT;
        }
        break;
      case 'L':
        if (parse_min_time_left(&ro, optarg) != 0) {
          return MH_EXIT_INPUT;
        }
        break;
      case 'f':
        fl.force = 1;
        break;
      case 'R':
        ro.retries = (int)strtol(optarg, &end, 10);
        if (end == optarg || *end != '\0' || ro.retries < 0 || ro.retries > 5) {
          fprintf(stderr,
                  "mtls-harness run: --retries takes a number from 0 to 5 (e.g. 2); got '%s'\n",
                  optarg);
          return MH_EXIT_INPUT;
        }
        break;
      case 'k':
        fl.keep_fixtures = 1;
        break;
      case 'C':
        fl.fixtures_cache = optarg;
        break;
      case 'N':
        fl.no_fixtures_cache = 1;
        break;
      case 'F':
        ro.filter = optarg;
        break;
      case 'j':
        ro.jobs = (int)strtol(optarg, &end, 10);
        if (*end != '\0' || ro.jobs < 1 || ro.jobs > 256) {
          fprintf(stderr, "mtls-harness run: --jobs takes a number from 1 to 256\n");
          return MH_EXIT_INPUT;
        }
        break;
      case 's':
        ro.strict = 1;
        break;
      case 'b':
        ro.baseline = optarg;
        break;
      case 'p':
        ro.profiles_dir = optarg;
        break;
      case 'q':
        ro.quiet = 1;
        break;
      case 'P':
        ro.pcap = 1;
        break;
      case 'I':
        ro.capture_iface = optarg;
        break;
      case 'K':
        fl.keylog = optarg;
        break;
      case 'r':
        if (mh_cmd_add_pin("run", pins, &ro.num_pins, optarg) != 0) {
          return MH_EXIT_INPUT;
        }
        break;
      case 'h':
        mh_cmd_usage(self, stdout);
        return 0;
      default:
        fprintf(stderr, "mtls-harness run: see 'mtls-harness run --help'\n");
        return MH_EXIT_INPUT;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr,
            "mtls-harness run: give exactly one SCENARIO.json (e.g. scenarios/federation.json)\n");
    return MH_EXIT_INPUT;
  }
  return run_scenario(argv[optind], &ro, &fl);
}

const struct mh_cmd mh_cmd_run = {
    "run",
    "run SCENARIO.json [--out DIR] [--filter GLOB] [--jobs N] [--strict] [--baseline REPORT.json]",
    "run the scenario's conformance matrix against its mocks and external targets, and report",
    "  --out DIR            the run's directory (default reports/<scenario>-<timestamp>)\n"
    "  --filter GLOB        only cases whose id matches, e.g. 'location-a/*/tls1.3'\n"
    "  --jobs N             cases run concurrently (default: the number of cores)\n"
    "  --strict             a rejection with another alert or status than the stack's\n"
    "                       profile says (pass-conceptual) fails the run, and so does a\n"
    "                       warning that the run proves nothing (no case expects acceptance,\n"
    "                       or a target rejected every case the same way)\n"
    "  --baseline FILE      compare with an earlier report.json; list every changed case\n"
    "  --profiles DIR       where the stack profiles are (default: the shipped profiles/)\n"
    "  --quiet              print only failures and the summary\n"
    "  --pcap               capture each case (libpcap) into cases/<case>.pcapng, with its TLS\n"
    "                       secrets inside so that Wireshark/tshark decrypt TLS 1.3\n"
    "  --capture-iface IFACE  where to capture (default: lo for a loopback address, any for\n"
    "                       another)\n"
    "  --resolve NAME:PORT:ADDR  connect to ADDR (IPv4 or [IPv6]) for NAME:PORT without asking\n"
    "                       the resolver, like curl's; repeatable; before the scenario's\n"
    "                       \"resolve\"\n"
    "  --keylog FILE        also write every TLS secret to FILE (SSLKEYLOGFILE format, 0600);\n"
    "                       the SSLKEYLOGFILE environment variable is honoured too\n"
    "  --timeout SECONDS    bound the whole run: cases not finished by then are inconclusive\n"
    "                       ('run timed out'), the reports are written, exit 1\n"
    "  --min-time-left DURATION  a certificate a target presents (leaf or intermediate), or an\n"
    "                       imported client identity's, that expires within DURATION of the\n"
    "                       run's start (e.g. 30d, 12h, 90m, 3600s) is a failing case\n"
    "  --force              empty an --out directory that is not empty (refused otherwise);\n"
    "                       its fixtures/ (a CA kept from an earlier run) stays\n"
    "  --retries N          probe an external target's case up to N more times (0 to 5,\n"
    "                       default 1) when a network fault may have taken its evidence: it\n"
    "                       was inconclusive, or refused at TLS without an alert; the last\n"
    "                       probe is judged, and a warning names the cases probed again\n"
    "                       (mocks, on loopback in this process, are never probed again)\n"
    "  --keep-fixtures      keep the generated fixtures (private keys) even when the run "
    "fails\n" MH_CMD_FIXTURES_CACHE_HELP
    "                       or is interrupted (they are removed then by default)\n"
    "\n"
    "Writes report.json, junit.xml, report.md, report.html and cases/<case>.log in the run's\n"
    "directory, with the generated fixtures and the mocks' events.jsonl. Shows progress on\n"
    "stderr (unless --quiet). SIGINT/SIGTERM stop the run within a few seconds: the reports\n"
    "of the cases completed are written, marked interrupted.\n"
    "Exit codes: 0 every case passed, 1 a case failed or the run timed out, 2 harness or\n"
    "input error, 130 SIGINT, 143 SIGTERM.\n"
    "Cases, oracle, verdicts and profiles: docs/runner.md.\n",
    cmd_run};
