// main: the command line. It parses options, dispatches to a module and turns the result into an
// exit code; nothing else happens here.
//
// Exit codes: 0 success; 1 the system under test failed a check; 2 the harness or its input is
// wrong (the one-line message on stderr names the file, the JSON path and the fix).
#include <getopt.h>
#include <math.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <signal.h>
#include <sys/stat.h>

#include "base/arena.h"
#include "mock/endpoint.h"
#include "mock/serve.h"
#include "base/err.h"
#include "mock/events.h"
#include "load/command.h"
#include "load/load.h"
#include "load/merge.h"
#include "pki/pki.h"
#include "report/report.h"
#include "conform/runner.h"
#include "input/pki_spec.h"
#include "input/scenario.h"
#include "base/interrupt.h"
#include "base/outdir.h"
#include "base/stage.h"
#include "tls/tls.h"
#include "version.h"
#include "base/tls_version.h"

#define EXIT_INPUT 2

struct command {
  const char *name;
  const char *synopsis;
  const char *summary;
  const char *options;
  int (*run)(int argc, char **argv);
};

static int cmd_pki(int argc, char **argv);
static int cmd_check(int argc, char **argv);
static int cmd_serve(int argc, char **argv);
// MAX_PINS bounds --resolve entries per command line.
#define MAX_PINS 32

// add_pin parses one --resolve NAME:PORT:ADDR into |pins|; prints the error and returns -1 if it
// is malformed or one too many.
static int add_pin(const char *cmd, struct mh_net_pin *pins, size_t *num, const char *text) {
  struct mh_err err;
  if (*num >= MAX_PINS) {
    fprintf(stderr, "mtls-harness %s: --resolve: at most %d entries\n", cmd, MAX_PINS);
    return -1;
  }
  if (mh_net_parse_pin(text, &pins[*num], &err) != 0) {
    fprintf(stderr, "mtls-harness %s: --resolve %s\n", cmd, err.msg);
    return -1;
  }
  (*num)++;
  return 0;
}

static int cmd_run(int argc, char **argv);
static int cmd_load(int argc, char **argv);
static int cmd_merge(int argc, char **argv);

static const struct command commands[] = {
    {"pki", "pki SPEC.json --out DIR [--force] [--verbose]",
     "generate the fixture PKI a spec declares: keys, CSRs, certificates, chains, zips",
     "  --out DIR      where to write (created if missing); paths in the spec are below it\n"
     "  --force        regenerate CA keys too (by default an existing CA key is reused)\n"
     "  --verbose      list every file written\n"
     "  --list-keys    print the JSON path of every key a spec may contain, then exit\n"
     "\n"
     "Everything is written or nothing is: a bad spec fails with\n"
     "'SPEC: $.json.path: what is wrong' and exit 2 before any file is created.\n"
     "Private keys (and zips holding them) are mode 0600. The spec format: docs/pki-spec.md.\n"
     "Shipped specs: fixtures/miniconomy.json (seed 000), fixtures/federation.json (SemStreams).\n",
     cmd_pki},
    {"check", "check SCENARIO.json [--fixtures DIR] [--list-keys]",
     "validate a scenario and every location's SemStreams config, without opening anything",
     "  --fixtures DIR where fixture paths resolve (default fixtures/out/<spec name>)\n"
     "  --list-keys    print the JSON path of every scenario key, then exit\n"
     "\n"
     "Messages use the real system's words where it has them, e.g.\n"
     "'invalid configuration: security configuration: tls.server.cert_file is required when TLS\n"
     "is enabled', and otherwise 'FILE: $.json.path: problem'. Exit 0 when valid, 2 otherwise.\n"
     "The format: docs/scenarios.md.\n",
     cmd_check},
    {"serve",
     "serve SCENARIO.json [--fixtures DIR] [--ephemeral-ports] [--events FILE] [--for S]\n"
     "                    [--threads N] [--limit NAME=VALUE]...",
     "generate the fixtures and run every mock location until SIGINT/SIGTERM",
     "  --fixtures DIR       where to generate the fixture PKI (default fixtures/out/<spec name>)\n"
     "  --ephemeral-ports    bind port 0 instead of the configured ports; inputs follow\n"
     "  --events FILE        the event log, JSON lines (default reports/<scenario>-events.jsonl)\n"
     "  --for SECONDS        stop by itself after SECONDS\n"
     "  --outage LOC:START:DURATION\n"
     "                       take location LOC down START seconds after start, for DURATION\n"
     "                       seconds (listeners closed, connections dropped), then bring it back\n"
     "  --quiet              no Go-style log lines on stderr\n"
     "  --threads N          serve every output on N event loops, each on its own thread with\n"
     "                       its own SO_REUSEPORT listener (default 1); the first loop dials\n"
     "                       and emits, and what it publishes reaches every loop's clients\n"
     "  --limit NAME=VALUE   a bound against hostile peers (docs/scenarios.md, Limits):\n"
     "                       max-conns (10000 per output), max-pending-per-source (1000),\n"
     "                       ws-write-deadline (10 s), ws-send-queue (1048576 bytes)\n"
     "\n"
     "Prints one line per endpoint (location, component, URL, bound address, policy), then\n"
     "'serve: ready'. Rejections are logged on stderr as the real server does:\n"
     "'http: TLS handshake error from IP:PORT: <reason>'.\n",
     cmd_serve},
    {"run",
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
     "  --keep-fixtures      keep the generated fixtures (private keys) even when the run fails\n"
     "                       or is interrupted (they are removed then by default)\n"
     "\n"
     "Writes report.json, junit.xml, report.md, report.html and cases/<case>.log in the run's\n"
     "directory, with the generated fixtures and the mocks' events.jsonl. Shows progress on\n"
     "stderr (unless --quiet). SIGINT/SIGTERM stop the run within a few seconds: the reports\n"
     "of the cases completed are written, marked interrupted.\n"
     "Exit codes: 0 every case passed, 1 a case failed or the run timed out, 2 harness or\n"
     "input error, 130 SIGINT, 143 SIGTERM.\n"
     "Cases, oracle, verdicts and profiles: docs/runner.md.\n",
     cmd_run},
    {"load",
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
     "                       command fails or is interrupted (removed then by default)\n"
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
     cmd_load},
    {"merge", "merge [--out DIR] [--force] [--max-skew MS] [--quiet] REPORT...",
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
     cmd_merge},
};
#define NUM_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out) {
  fprintf(out,
          "mtls-harness: conformance and load testing for mutual-TLS deployments\n"
          "\n"
          "Usage: mtls-harness <command> [options]\n"
          "       mtls-harness <command> --help\n"
          "       mtls-harness --version | --help\n"
          "\n"
          "Commands:\n");
  for (size_t i = 0; i < NUM_COMMANDS; i++) {
    fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
  }
  fprintf(out,
          "\n"
          "Exit codes: 0 success, 1 a check of the system under test failed,\n"
          "            2 harness or input error (message on stderr).\n");
}

static void command_usage(const struct command *c, FILE *out) {
  fprintf(out, "Usage: mtls-harness %s\n\n%s.\n\nOptions:\n%s", c->synopsis, c->summary,
          c->options);
}

static int cmd_pki(int argc, char **argv) {
  static const struct option longopts[] = {
      {"out", required_argument, NULL, 'o'}, {"force", no_argument, NULL, 'f'},
      {"verbose", no_argument, NULL, 'v'},   {"list-keys", no_argument, NULL, 'k'},
      {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0},
  };
  struct mh_pki_options opts = {0};
  int opt;
  while ((opt = getopt_long(argc, argv, "o:fvh", longopts, NULL)) != -1) {
    switch (opt) {
      case 'o':
        opts.out_dir = optarg;
        break;
      case 'f':
        opts.force = 1;
        break;
      case 'v':
        opts.verbose = 1;
        break;
      case 'k':
        mh_pki_spec_print_keys(stdout);
        return 0;
      case 'h':
        command_usage(&commands[0], stdout);
        return 0;
      default:
        fprintf(stderr, "mtls-harness pki: see 'mtls-harness pki --help'\n");
        return EXIT_INPUT;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr,
            "mtls-harness pki: give exactly one SPEC.json (e.g. fixtures/federation.json)\n");
    return EXIT_INPUT;
  }
  if (opts.out_dir == NULL || opts.out_dir[0] == '\0') {
    fprintf(stderr,
            "mtls-harness pki: --out DIR is required (e.g. --out fixtures/out/federation)\n");
    return EXIT_INPUT;
  }
  struct mh_arena arena;
  mh_arena_init(&arena);
  struct mh_err err;
  struct mh_pki_spec spec;
  int rc = 0;
  if (mh_pki_spec_load(&arena, argv[optind], &spec, &err) != 0 ||
      mh_pki_generate(&spec, &opts, &err) != 0) {
    fprintf(stderr, "%s\n", err.msg);
    rc = EXIT_INPUT;
  }
  mh_arena_free(&arena);
  return rc;
}

static int cmd_check(int argc, char **argv) {
  static const struct option longopts[] = {
      {"fixtures", required_argument, NULL, 'F'},
      {"list-keys", no_argument, NULL, 'k'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct mh_scenario_options sopts = {0};
  int opt;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (opt) {
      case 'F':
        sopts.fixtures_dir = optarg;
        break;
      case 'k':
        mh_scenario_print_keys(stdout);
        return 0;
      case 'h':
        command_usage(&commands[1], stdout);
        return 0;
      default:
        fprintf(stderr, "mtls-harness check: see 'mtls-harness check --help'\n");
        return EXIT_INPUT;
    }
  }
  if (optind != argc - 1) {
    fprintf(
        stderr,
        "mtls-harness check: give exactly one SCENARIO.json (e.g. scenarios/federation.json)\n");
    return EXIT_INPUT;
  }
  struct mh_arena arena;
  mh_arena_init(&arena);
  struct mh_scenario s;
  struct mh_err err;
  int rc = 0;
  if (mh_scenario_load(&arena, argv[optind], &sopts, &s, &err) != 0) {
    fprintf(stderr, "%s\n", err.msg);
    rc = EXIT_INPUT;
  } else {
    size_t comps = 0;
    for (size_t i = 0; i < s.num_locations; i++) {
      comps += s.locations[i].num_components;
    }
    printf("check: %s is valid: %zu locations, %zu components, fixtures from %s\n", argv[optind],
           s.num_locations, comps, s.spec_file);
  }
  mh_arena_free(&arena);
  return rc;
}

static int cmd_serve(int argc, char **argv) {
  static const struct option longopts[] = {
      {"fixtures", required_argument, NULL, 'F'}, {"ephemeral-ports", no_argument, NULL, 'e'},
      {"events", required_argument, NULL, 'E'},   {"for", required_argument, NULL, 'f'},
      {"outage", required_argument, NULL, 'o'},   {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},           {"threads", required_argument, NULL, 't'},
      {"limit", required_argument, NULL, 'l'},    {NULL, 0, NULL, 0},
  };
  struct mh_serve_options o = {.threads = 1};
  struct mh_serve_outage outages[MH_SERVE_MAX_OUTAGES];
  const char *outage_args[MH_SERVE_MAX_OUTAGES];
  struct mh_err err;
  int opt;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    char *end;
    switch (opt) {
      case 'F':
        o.fixtures_dir = optarg;
        break;
      case 'e':
        o.ephemeral_ports = 1;
        break;
      case 'E':
        o.events_path = optarg;
        break;
      case 'f':
        o.for_s = strtod(optarg, &end);
        if (end == optarg || *end != '\0' || !isfinite(o.for_s) || o.for_s <= 0) {
          fprintf(stderr, "mtls-harness serve: --for takes a number of seconds above 0\n");
          return EXIT_INPUT;
        }
        break;
      case 'o':
        if (o.num_outages == MH_SERVE_MAX_OUTAGES) {
          fprintf(stderr, "mtls-harness serve: at most %d --outage options\n",
                  MH_SERVE_MAX_OUTAGES);
          return EXIT_INPUT;
        }
        outage_args[o.num_outages++] = optarg;
        break;
      case 'q':
        o.quiet = 1;
        break;
      case 'l':
        if (mh_serve_parse_limit(optarg, &o.limits, &err) != 0) {
          fprintf(stderr, "%s\n", err.msg);
          return EXIT_INPUT;
        }
        break;
      case 't':
        o.threads = (int)strtol(optarg, &end, 10);
        if (*end != '\0' || o.threads < 1 || o.threads > MH_MAX_LOOPS) {
          fprintf(stderr, "mtls-harness serve: --threads takes 1 to %d\n", MH_MAX_LOOPS);
          return EXIT_INPUT;
        }
        break;
      case 'h':
        command_usage(&commands[2], stdout);
        return 0;
      default:
        fprintf(stderr, "mtls-harness serve: see 'mtls-harness serve --help'\n");
        return EXIT_INPUT;
    }
  }
  if (optind != argc - 1) {
    fprintf(
        stderr,
        "mtls-harness serve: give exactly one SCENARIO.json (e.g. scenarios/federation.json)\n");
    return EXIT_INPUT;
  }
  o.scenario_path = argv[optind];
  for (size_t i = 0; i < o.num_outages; i++) {
    if (mh_serve_parse_outage(outage_args[i], &outages[i], &err) != 0) {
      fprintf(stderr, "%s\n", err.msg);
      return EXIT_INPUT;
    }
  }
  o.outages = outages;
  signal(SIGPIPE, SIG_IGN);
  if (mh_serve_run(&o, &err) != 0) {
    fprintf(stderr, "%s\n", err.msg);
    return EXIT_INPUT;
  }
  return 0;
}

// run_fixtures_dir names the run's report directory after the scenario (unless --out did) and
// puts the fixtures inside it.
static const char *run_fixtures_dir(void *arg, struct mh_arena *a, const char *scenario_name) {
  struct mh_run_options *ro = arg;
  if (ro->out_dir == NULL) {
    ro->out_dir = mh_outdir_default(a, scenario_name);
  }
  return ro->out_dir != NULL ? mh_arena_sprintf(a, "%s/fixtures", ro->out_dir) : NULL;
}

// run_flags are run's options that main.c acts on itself.
struct run_flags {
  const char *keylog;
  int force, keep_fixtures;
};

static int run_scenario(const char *scenario_file, struct mh_run_options *ro,
                        const struct run_flags *fl);

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

static int cmd_run(int argc, char **argv) {
  static const struct option longopts[] = {
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
      {NULL, 0, NULL, 0},
  };
  struct mh_run_options ro = {.jobs = (int)sysconf(_SC_NPROCESSORS_ONLN)};
  struct mh_net_pin pins[MAX_PINS];
  ro.pins = pins;
  struct run_flags fl = {.keylog = NULL};
  int opt;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
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
          return EXIT_INPUT;
        }
        break;
      case 'L':
        if (parse_min_time_left(&ro, optarg) != 0) {
          return EXIT_INPUT;
        }
        break;
      case 'f':
        fl.force = 1;
        break;
      case 'k':
        fl.keep_fixtures = 1;
        break;
      case 'F':
        ro.filter = optarg;
        break;
      case 'j':
        ro.jobs = (int)strtol(optarg, &end, 10);
        if (*end != '\0' || ro.jobs < 1 || ro.jobs > 256) {
          fprintf(stderr, "mtls-harness run: --jobs takes a number from 1 to 256\n");
          return EXIT_INPUT;
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
        if (add_pin("run", pins, &ro.num_pins, optarg) != 0) {
          return EXIT_INPUT;
        }
        break;
      case 'h':
        command_usage(&commands[3], stdout);
        return 0;
      default:
        fprintf(stderr, "mtls-harness run: see 'mtls-harness run --help'\n");
        return EXIT_INPUT;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr,
            "mtls-harness run: give exactly one SCENARIO.json (e.g. scenarios/federation.json)\n");
    return EXIT_INPUT;
  }
  return run_scenario(argv[optind], &ro, &fl);
}

// run_scenario loads |scenario_file|, prepares the run's directory and runs it; on an input error
// it removes what the run created (unless --keep-fixtures), on a signal the fixtures' keys.
// Returns the exit code.
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
  int rc = EXIT_INPUT;
  if (ro->profiles_dir == NULL) {
    const char *slash = strrchr(scenario_file, '/');
    char *near = slash ? mh_arena_sprintf(&arena, "%.*s/../profiles", (int)(slash - scenario_file),
                                          scenario_file)
                       : mh_arena_strdup(&arena, "../profiles");
    struct stat sb;
    ro->profiles_dir = near != NULL && stat(near, &sb) == 0 ? near : MH_DEFAULT_PROFILES_DIR;
  }
  // SIGINT and SIGTERM become a file descriptor the runner polls: blocked here, before any thread.
  struct mh_interrupt intr;
  struct mh_outdir od = {.path = NULL};
  if (mh_interrupt_open(&intr, &err) != 0) {
    goto fail;
  }
  ro->interrupt = &intr;
  // The scenario's name decides the default report directory, where its fixtures go.
  struct mh_scenario_options so = {.fixtures_dir_for = run_fixtures_dir, .arg = ro};
  if (mh_scenario_load(&arena, scenario_file, &so, &s, &err) != 0) {
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
  int r = mh_runner_run(&s, ro, &err);
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
  mh_interrupt_close(&intr);
  mh_arena_free(&arena);
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
    {NULL, 0, NULL, 0},
};

static int cmd_load(int argc, char **argv) {
  struct mh_load_command c = {.load = {.version = MH_TLS13, .duration_s = 10, .timeout_ms = 5000}};
  struct mh_net_pin pins[MAX_PINS];
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
        return EXIT_INPUT;
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
        if (add_pin("load", pins, &c.num_pins, optarg) != 0) {
          return EXIT_INPUT;
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
          return EXIT_INPUT;
        }
        break;
      case 'h':
        command_usage(&commands[4], stdout);
        return 0;
      default:
        fprintf(stderr, "mtls-harness load: see 'mtls-harness load --help'\n");
        return EXIT_INPUT;
    }
  }
  c.scenario_file = optind < argc ? argv[optind] : NULL;
  c.extra_arguments = argc - optind > 1;
  signal(SIGPIPE, SIG_IGN);
  struct mh_err err;
  int rc = mh_load_command_run(&c, &err);
  if (rc < 0) {
    fprintf(stderr, "%s\n", err.msg);
    return EXIT_INPUT;
  }
  return rc;
}

static int cmd_merge(int argc, char **argv) {
  static const struct option longopts[] = {
      {"out", required_argument, NULL, 'o'},      {"force", no_argument, NULL, 'f'},
      {"max-skew", required_argument, NULL, 'k'}, {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
  };
  struct mh_merge_command c = {0};
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
          return EXIT_INPUT;
        }
        break;
      case 'h':
        command_usage(&commands[NUM_COMMANDS - 1], stdout);
        return 0;
      default:
        fprintf(stderr, "mtls-harness merge: see 'mtls-harness merge --help'\n");
        return EXIT_INPUT;
    }
  }
  c.reports = (const char *const *)(argv + optind);
  c.num_reports = (size_t)(argc - optind);
  struct mh_err err;
  int rc = mh_merge_run(&c, &err);
  if (rc < 0) {
    fprintf(stderr, "%s\n", err.msg);
    return EXIT_INPUT;
  }
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return EXIT_INPUT;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
    mh_version_print(stdout);
    return 0;
  }
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    if (argc > 2) {
      for (size_t i = 0; i < NUM_COMMANDS; i++) {
        if (strcmp(argv[2], commands[i].name) == 0) {
          command_usage(&commands[i], stdout);
          return 0;
        }
      }
      fprintf(stderr, "mtls-harness: unknown command '%s' (see 'mtls-harness --help')\n", argv[2]);
      return EXIT_INPUT;
    }
    usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < NUM_COMMANDS; i++) {
    if (strcmp(cmd, commands[i].name) == 0) {
      int rc = commands[i].run(argc - 1, argv + 1);
      mh_tls_keylog_close();  // --keylog or SSLKEYLOGFILE: flushed and closed before exit
      return rc;
    }
  }
  fprintf(stderr, "mtls-harness: unknown command '%s' (see 'mtls-harness --help')\n", cmd);
  return EXIT_INPUT;
}
