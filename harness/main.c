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
#include "load/load.h"
#include "conform/oracle.h"
#include "pki/pki.h"
#include "report/report.h"
#include "conform/runner.h"
#include "input/scenario.h"
#include "base/stage.h"
#include "tls/tls.h"
#include "version.h"

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
static int cmd_run(int argc, char **argv);
static int cmd_load(int argc, char **argv);

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
     "                    [--threads N]",
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
     "                       profile says (pass-conceptual) fails the run\n"
     "  --baseline FILE      compare with an earlier report.json; list every changed case\n"
     "  --profiles DIR       where the stack profiles are (default: the shipped profiles/)\n"
     "  --quiet              print only failures and the summary\n"
     "  --pcap               capture each case (libpcap) into cases/<case>.pcapng, with its TLS\n"
     "                       secrets inside so that Wireshark/tshark decrypt TLS 1.3\n"
     "  --capture-iface IFACE  where to capture (default lo; for a target on another host)\n"
     "  --keylog FILE        also write every TLS secret to FILE (SSLKEYLOGFILE format, 0600);\n"
     "                       the SSLKEYLOGFILE environment variable is honoured too\n"
     "\n"
     "Writes report.json, junit.xml, report.md, report.html and cases/<case>.log in the run's\n"
     "directory, with the generated fixtures and the mocks' events.jsonl.\n"
     "Exit codes: 0 every case passed, 1 a case failed, 2 harness or input error.\n"
     "Cases, oracle, verdicts and profiles: docs/runner.md.\n",
     cmd_run},
    {"load",
     "load (SCENARIO.json --location NAME | --target HOST:PORT --server-name NAME --ca FILE\n"
     "                    --identities-from SPEC.json --fixtures DIR) [options]",
     "measure mTLS handshakes per second and their latency, with client certificates",
     "  --location NAME      a mock location of the scenario to load (started on a loopback port)\n"
     "  --target HOST:PORT   an external target on loopback instead, with --server-name, --ca\n"
     "  --identities-from SPEC  client identities from this fixture spec, round-robin: with\n"
     "                       --target, every one fit for client auth (generated in --fixtures\n"
     "                       DIR); with --location, every one the location's policy accepts\n"
     "                       (generated beside the scenario's fixtures: a CA of the same name\n"
     "                       keeps its key)\n"
     "  --fixtures DIR       with --target: where the spec was generated\n"
     "  --identity A[,B...]  client identities, round-robin (default: see --identities-from;\n"
     "                       without it, the first identity the location's policy accepts)\n"
     "  --bad-identity X[,..] identities for --bad-share (default: those the policy rejects\n"
     "                       for their CN)\n"
     "  --bad-share P        fraction of handshakes made with a bad identity (0 to 1)\n"
     "  --tls 1.2|1.3        the version offered (default 1.3)\n"
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
     "  --threads T          one event loop per thread (default: the number of cores)\n"
     "  --timeout-ms MS      per handshake, connect to first server record (default 5000)\n"
     "  --out DIR            report directory (default reports/<name>-load-<timestamp>)\n"
     "  --quiet              no progress line\n"
     "\n"
     "A handshake counts as accepted only when the server kept it (TLS 1.3: its first record\n"
     "after our Finished). Prints a progress line every second, then the summary; writes\n"
     "report.json and report.md. Exit 0, or 1 if any handshake failed unexpectedly.\n"
     "Design and limits: docs/load.md.\n",
     cmd_load},
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
      {"fixtures", required_argument, NULL, 'F'},
      {"ephemeral-ports", no_argument, NULL, 'e'},
      {"events", required_argument, NULL, 'E'},
      {"for", required_argument, NULL, 'f'},
      {"outage", required_argument, NULL, 'o'},
      {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},
      {"threads", required_argument, NULL, 't'},
      {NULL, 0, NULL, 0},
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
        if (*end != '\0' || o.for_s <= 0) {
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

static int cmd_run(int argc, char **argv) {
  static const struct option longopts[] = {
      {"out", required_argument, NULL, 'o'},      {"filter", required_argument, NULL, 'F'},
      {"jobs", required_argument, NULL, 'j'},     {"strict", no_argument, NULL, 's'},
      {"baseline", required_argument, NULL, 'b'}, {"profiles", required_argument, NULL, 'p'},
      {"quiet", no_argument, NULL, 'q'},          {"help", no_argument, NULL, 'h'},
      {"pcap", no_argument, NULL, 'P'},           {"capture-iface", required_argument, NULL, 'I'},
      {"keylog", required_argument, NULL, 'K'},   {NULL, 0, NULL, 0},
  };
  struct mh_run_options ro = {.jobs = (int)sysconf(_SC_NPROCESSORS_ONLN)};
  const char *keylog = NULL;
  int opt;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    char *end;
    switch (opt) {
      case 'o':
        ro.out_dir = optarg;
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
        keylog = optarg;
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
  signal(SIGPIPE, SIG_IGN);
  if (ro.jobs < 1) {
    ro.jobs = 1;
  }
  struct mh_arena arena;
  mh_arena_init(&arena);
  struct mh_err err;
  struct mh_scenario s;
  int rc = EXIT_INPUT;
  // The scenario name decides the default directory, and the directory where fixtures resolve.
  struct mh_scenario peek;
  if (mh_scenario_load(&arena, argv[optind], &(struct mh_scenario_options){.quiet = 1}, &peek,
                       &err) != 0) {
    goto fail;
  }
  if (ro.out_dir == NULL) {
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    ro.out_dir = mh_arena_sprintf(&arena, "reports/%s-%s", peek.name, stamp);
  }
  char *fixtures = mh_arena_sprintf(&arena, "%s/fixtures", ro.out_dir);
  if (ro.profiles_dir == NULL) {
    const char *slash = strrchr(argv[optind], '/');
    char *near = slash ? mh_arena_sprintf(&arena, "%.*s/../profiles", (int)(slash - argv[optind]),
                                          argv[optind])
                       : mh_arena_strdup(&arena, "../profiles");
    struct stat sb;
    ro.profiles_dir = near != NULL && stat(near, &sb) == 0 ? near : MH_DEFAULT_PROFILES_DIR;
  }
  if (mh_scenario_load(&arena, argv[optind],
                       &(struct mh_scenario_options){.fixtures_dir = fixtures}, &s, &err) != 0) {
    goto fail;
  }
  if (mh_stage_mkdirs(ro.out_dir, &err) != 0) {
    goto fail;
  }
  if (keylog != NULL && mh_tls_keylog_open(keylog, &err) != 0) {
    goto fail;
  }
  int r = mh_run(&s, &ro, &err);
  if (r < 0) {
    goto fail;
  }
  rc = r;
  goto out;
fail:
  fprintf(stderr, "%s\n", err.msg);
out:
  mh_arena_free(&arena);
  return rc;
}

// split_list splits a comma-separated list in place into |out| (at most |max|).
static size_t split_list(char *s, const char **out, size_t max) {
  size_t n = 0;
  for (char *tok = strtok(s, ","); tok != NULL && n < max; tok = strtok(NULL, ",")) {
    out[n++] = tok;
  }
  return n;
}

#define MAX_IDENTITIES 64

// client_fit says whether |e| can authenticate a client at all: an identity whose key matches,
// with clientAuth (or no extended key usage), valid now.
static int client_fit(const struct mh_pki_entity *e) {
  return !e->is_ca && !e->key_mismatch && e->not_before <= 0 && e->not_after > 0 &&
         (!e->has_eku || (e->eku_mask & (1u << MH_EKU_CLIENT_AUTH)) != 0);
}

// load_identity fills |id| with spec identity |name|'s files under |fixtures|.
static int load_identity(struct mh_arena *a, const struct mh_pki_spec *spec, const char *fixtures,
                         const char *name, struct mh_load_identity *id, struct mh_err *err) {
  int idx = mh_spec_entity(spec, name);
  if (idx < 0 || spec->entities[idx].is_ca) {
    return mh_err_set(err, "%s: no identity \"%s\" (use an identity name of the spec)", spec->file,
                      name);
  }
  const struct mh_pki_entity *e = &spec->entities[idx];
  id->name = name;
  id->cert_file =
      mh_arena_sprintf(a, "%s/%s", fixtures, e->chain_file ? e->chain_file : e->cert_file);
  id->key_file = mh_arena_sprintf(a, "%s/%s", fixtures, e->key_file);
  return 0;
}

static int cmd_load(int argc, char **argv) {
  static const struct option longopts[] = {
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
      {NULL, 0, NULL, 0},
  };
  struct mh_load_options lo = {.version = MH_TLS13,
                               .duration_s = 10,
                               .timeout_ms = 5000,
                               .threads = (int)sysconf(_SC_NPROCESSORS_ONLN)};
  const char *location = NULL, *target = NULL, *spec_path = NULL, *fixtures = NULL, *out = NULL;
  char *identities = NULL, *bad_identities = NULL;
  const char *ca = NULL;
  int sweep = 0;
  double sweep_p99_ms = 10;
  int server_threads = 1;
  int opt;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    char *end = NULL;
    switch (opt) {
      case 'L':
        location = optarg;
        break;
      case 'T':
        target = optarg;
        break;
      case 'S':
        lo.server_name = optarg;
        break;
      case 'C':
        ca = optarg;
        break;
      case 'i':
        spec_path = optarg;
        break;
      case 'F':
        fixtures = optarg;
        break;
      case 'I':
        identities = optarg;
        break;
      case 'B':
        bad_identities = optarg;
        break;
      case 'o':
        out = optarg;
        break;
      case 'q':
        lo.quiet = 1;
        break;
      case 'b':
        lo.bad_share = strtod(optarg, &end);
        break;
      case 'R':
        lo.resume_share = 1;
        break;
      case 'W':
        sweep = 1;
        break;
      case 'N':
        server_threads = (int)strtol(optarg, &end, 10);
        break;
      case 'P':
        sweep_p99_ms = strtod(optarg, &end);
        break;
      case 's':
        lo.resume_share = strtod(optarg, &end);
        break;
      case 'r':
        lo.rate = strtod(optarg, &end);
        break;
      case 'd':
        lo.duration_s = strtod(optarg, &end);
        break;
      case 'c':
        lo.connections = (int)strtol(optarg, &end, 10);
        break;
      case 't':
        lo.threads = (int)strtol(optarg, &end, 10);
        break;
      case 'm':
        lo.timeout_ms = (int)strtol(optarg, &end, 10);
        break;
      case 'v':
        if (strcmp(optarg, "1.2") != 0 && strcmp(optarg, "1.3") != 0) {
          fprintf(stderr, "mtls-harness load: --tls takes 1.2 or 1.3\n");
          return EXIT_INPUT;
        }
        lo.version = strcmp(optarg, "1.3") == 0 ? MH_TLS13 : MH_TLS12;
        break;
      case 'h':
        command_usage(&commands[4], stdout);
        return 0;
      default:
        fprintf(stderr, "mtls-harness load: see 'mtls-harness load --help'\n");
        return EXIT_INPUT;
    }
    if (end != NULL && *end != '\0') {
      fprintf(stderr, "mtls-harness load: --%s takes a number\n", longopts[0].name);
      return EXIT_INPUT;
    }
  }
  if (lo.bad_share < 0 || lo.bad_share > 1 || lo.resume_share < 0 || lo.resume_share > 1 ||
      lo.rate < 0 || lo.duration_s <= 0 || lo.duration_s > 3600 || lo.threads < 1 ||
      lo.threads > 64 || lo.timeout_ms < 10 || lo.connections < 0 || lo.connections > 100000 ||
      (lo.rate > 0 && lo.connections > 0)) {
    fprintf(stderr,
            "mtls-harness load: check the numbers: --bad-share 0..1, --duration 0..3600 s, "
            "--threads 1..64, --rate or --connections (not both)\n");
    return EXIT_INPUT;
  }
  if (server_threads < 1 || server_threads > 16 || (server_threads > 1 && location == NULL)) {
    fprintf(stderr, "mtls-harness load: --server-threads takes 1 to 16, with --location\n");
    return EXIT_INPUT;
  }
  if (sweep && lo.connections > 0) {
    fprintf(stderr, "mtls-harness load: --sweep steps an open-loop --rate, not --connections\n");
    return EXIT_INPUT;
  }
  if (sweep && lo.rate == 0) {
    lo.rate = 100;
  }
  if (lo.rate == 0 && lo.connections == 0) {
    lo.connections = 16;
  }
  if (lo.connections > 0 && lo.connections < lo.threads) {
    lo.threads = lo.connections;
  }
  signal(SIGPIPE, SIG_IGN);
  struct mh_arena arena;
  mh_arena_init(&arena);
  struct mh_err err;
  struct mh_events ev = {0};
  struct mh_federation *feds[16] = {0};
  struct ev_loop *loops[16] = {0};
  int num_feds = 0;
  struct mh_load_result *res = calloc(1, sizeof(*res));
  int rc = EXIT_INPUT;
  const char *name;
  const struct mh_pki_spec *spec;
  struct mh_scenario s;
  struct mh_pki_spec tspec;
  const char *cas[1];
  struct mh_load_identity good[MAX_IDENTITIES], bad[MAX_IDENTITIES];
  const char *names[MAX_IDENTITIES];
  char stamp[32];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
  if (res == NULL) {
    mh_err_set(&err, "out of memory");
    goto fail;
  }
  if ((location == NULL) == (target == NULL) || (location != NULL && optind != argc - 1) ||
      (target != NULL && optind != argc)) {
    mh_err_set(&err,
               "mtls-harness load: give SCENARIO.json --location NAME, or --target HOST:PORT "
               "(see --help)");
    goto fail;
  }
  const struct mh_location *L = NULL;
  if (location != NULL) {
    // Load the scenario with its fixtures inside the report directory, then run the one location.
    struct mh_scenario peek;
    if (mh_scenario_load(&arena, argv[optind], &(struct mh_scenario_options){.quiet = 1}, &peek,
                         &err) != 0) {
      goto fail;
    }
    if (fixtures != NULL) {
      mh_err_set(&err,
                 "mtls-harness load: --fixtures is for --target; with --location the fixtures "
                 "(and those of --identities-from) are generated in the report directory");
      goto fail;
    }
    name = location;
    if (out == NULL) {
      out = mh_arena_sprintf(&arena, "reports/%s-load-%s", location, stamp);
    }
    fixtures = mh_arena_sprintf(&arena, "%s/fixtures", out);
    if (mh_scenario_load(&arena, argv[optind],
                         &(struct mh_scenario_options){.fixtures_dir = fixtures, .quiet = 1}, &s,
                         &err) != 0) {
      goto fail;
    }
    L = mh_location_find(&s, location);
    if (L == NULL || L->is_target || L->path == NULL || !L->server_tls) {
      mh_err_set(&err, "%s: --location %s: not a mock location with a TLS websocket output", s.file,
                 location);
      goto fail;
    }
    spec = &s.spec;
    if (mh_stage_mkdirs(out, &err) != 0 ||
        mh_pki_generate(&s.spec, &(struct mh_pki_options){.out_dir = fixtures, .quiet = 1}, &err) !=
            0) {
      goto fail;
    }
    struct mh_location *only = mh_arena_alloc(&arena, sizeof(*only));
    *only = *L;
    only->emit_rate = 0;
    only->components =
        mh_arena_alloc_array(&arena, L->num_components + 1, sizeof(*only->components));
    only->num_components = 0;
    for (size_t k = 0; k < L->num_components; k++) {
      if (L->components[k].kind == MH_COMP_WS_OUTPUT) {
        only->components[only->num_components++] = L->components[k];
      }
    }
    struct mh_scenario one = s;
    one.locations = only;
    one.num_locations = 1;
    ev.log_to_stderr = 0;
    // One loop per server thread, each with its own SO_REUSEPORT listener on the same port.
    for (int i = 0; i < server_threads; i++) {
      struct mh_federation_options fo = {
          .ephemeral_ports = 1, .shared = server_threads > 1, .shared_port = i > 0 ? lo.port : 0};
      loops[i] = ev_loop_new(EVFLAG_AUTO);
      feds[i] = loops[i] ? mh_federation_new(loops[i], &one, &ev, &fo, &err) : NULL;
      num_feds = i + 1;
      if (feds[i] == NULL || mh_federation_start_thread(feds[i], &err) != 0 ||
          (i == 0 && mh_federation_port(feds[0], location, &lo.address, &lo.port, &err) != 0)) {
        goto fail;
      }
    }
    lo.server_name = L->host;
    int root = mh_server_root_ca(&s, L);
    cas[0] = root >= 0
                 ? mh_arena_sprintf(&arena, "%s/%s", fixtures, s.spec.entities[root].cert_file)
                 : NULL;
    lo.ca_files = cas;
    lo.num_ca_files = root >= 0;
  } else {
    if (lo.server_name == NULL || ca == NULL || spec_path == NULL || fixtures == NULL) {
      mh_err_set(&err,
                 "mtls-harness load: --target needs --server-name, --ca, --identities-from and "
                 "--fixtures");
      goto fail;
    }
    char *colon = strrchr(target, ':');
    if (colon == NULL || atoi(colon + 1) <= 0) {
      mh_err_set(&err, "--target %s: expected HOST:PORT", target);
      goto fail;
    }
    lo.address = mh_arena_sprintf(&arena, "%.*s", (int)(colon - target), target);
    lo.port = atoi(colon + 1);
    if (strncmp(lo.address, "127.", 4) != 0 && strcmp(lo.address, "::1") != 0 &&
        strcmp(lo.address, "localhost") != 0) {
      mh_err_set(&err, "--target %s: only loopback targets (or a network namespace you run in)",
                 target);
      goto fail;
    }
    if (mh_pki_spec_load(&arena, spec_path, &tspec, &err) != 0) {
      goto fail;
    }
    spec = &tspec;
    cas[0] = ca;
    lo.ca_files = cas;
    lo.num_ca_files = 1;
    name = lo.server_name;
    if (out == NULL) {
      out = mh_arena_sprintf(&arena, "reports/%s-load-%s", lo.server_name, stamp);
    }
  }
  // Identities: named, or chosen from the identity spec. With a location, the oracle judges them
  // against its policy (the identity spec's fixtures are generated beside the scenario's, so a CA
  // of the same name and file keeps its key); against a target, every identity fit for client
  // authentication is used. Either way the server's answer is what is counted.
  const struct mh_pki_spec *idspec = spec;
  if (L != NULL && spec_path != NULL) {
    if (mh_pki_spec_load(&arena, spec_path, &tspec, &err) != 0 ||
        mh_pki_generate(&tspec, &(struct mh_pki_options){.out_dir = fixtures, .quiet = 1}, &err) !=
            0) {
      goto fail;
    }
    idspec = &tspec;
  }
  size_t ng = identities ? split_list(identities, names, MAX_IDENTITIES) : 0, nb = 0;
  for (size_t i = 0; i < ng; i++) {
    if (load_identity(&arena, idspec, fixtures, names[i], &good[i], &err) != 0) {
      goto fail;
    }
  }
  if (bad_identities != NULL) {
    nb = split_list(bad_identities, names, MAX_IDENTITIES);
    for (size_t i = 0; i < nb; i++) {
      if (load_identity(&arena, idspec, fixtures, names[i], &bad[i], &err) != 0) {
        goto fail;
      }
    }
  }
  int every = spec_path != NULL;  // --identities-from: all the spec's usable identities
  if (L != NULL && (ng == 0 || (lo.bad_share > 0 && nb == 0))) {
    struct mh_profile none;
    memset(&none, 0, sizeof(none));
    struct mh_scenario judge = s;
    judge.spec = *idspec;
    for (size_t i = 0; i < idspec->num_entities; i++) {
      const struct mh_pki_entity *e = &idspec->entities[i];
      if (e->is_ca || e->key_mismatch) {
        continue;
      }
      struct mh_case_spec k = {.target = L->name, .identity = e->name, .version = lo.version};
      struct mh_expectation x;
      mh_oracle_expect(&judge, L, &k, &none, &x);
      if (!x.reject && !identities && ng < MAX_IDENTITIES && (every || ng == 0)) {
        load_identity(&arena, idspec, fixtures, e->name, &good[ng++], &err);
      } else if (x.reject && x.reason == MH_REASON_CN_NOT_ALLOWED && nb < MAX_IDENTITIES &&
                 !bad_identities) {
        load_identity(&arena, idspec, fixtures, e->name, &bad[nb++], &err);
      }
    }
  } else if (L == NULL && ng == 0) {
    for (size_t i = 0; i < idspec->num_entities && ng < MAX_IDENTITIES; i++) {
      int is_bad = 0;
      for (size_t b = 0; b < nb; b++) {
        is_bad |= strcmp(bad[b].name, idspec->entities[i].name) == 0;
      }
      if (!is_bad && client_fit(&idspec->entities[i])) {
        load_identity(&arena, idspec, fixtures, idspec->entities[i].name, &good[ng++], &err);
      }
    }
  }
  if (ng == 0) {
    mh_err_set(&err, "mtls-harness load: no client identity (give --identity)");
    goto fail;
  }
  if (lo.bad_share > 0 && nb == 0) {
    mh_err_set(&err, "mtls-harness load: --bad-share needs --bad-identity (none found)");
    goto fail;
  }
  lo.good = good;
  lo.num_good = ng;
  lo.bad = bad;
  lo.num_bad = nb;
  if (!lo.quiet) {
    fprintf(stderr, "load: %s at %s:%d, %s loop, TLS %s, %d threads, identity %s (of %zu)%s%s%s\n",
            name, lo.address, lo.port, lo.rate > 0 ? "open" : "closed",
            lo.version == MH_TLS13 ? "1.3" : "1.2", lo.threads, good[0].name, ng,
            nb ? ", bad " : "", nb ? bad[0].name : "", nb > 1 ? " and others" : "");
  }
  struct mh_sweep_step steps[16];
  size_t num_steps = 0;
  double sustainable = 0;
  if (!sweep) {
    if (mh_load_run(&lo, res, &err) != 0) {
      goto fail;
    }
  } else {
    // Step the offered rate up by half each time until p99, errors, drops or the achieved rate
    // break the limits; report the highest rate that held, and that step's full result.
    struct mh_load_result *step = calloc(1, sizeof(*step));
    if (step == NULL) {
      mh_err_set(&err, "out of memory");
      goto fail;
    }
    double start = lo.rate;
    int have = 0;
    for (size_t i = 0; i < 16; i++) {
      lo.rate = start * pow(1.5, (double)i);
      if (mh_load_run(&lo, step, &err) != 0) {
        free(step);
        goto fail;
      }
      unsigned long long errs = 0;
      for (int k = 0; k < MH_LOAD_ERR_NUM; k++) {
        errs += step->errors[k];
      }
      struct mh_sweep_step *st = &steps[num_steps++];
      st->offered = lo.rate;
      st->achieved = (double)(step->accepted + step->rejected) / lo.duration_s;
      st->p99_us = mh_hist_percentile(&step->total_accept, 99);
      st->error_share = step->started ? (double)errs / (double)step->started : 0;
      st->drop_share = step->planned ? (double)step->dropped / (double)step->planned : 0;
      st->sustained = st->error_share <= 0.001 && st->drop_share <= 0.01 &&
                      st->achieved >= 0.95 * st->offered && st->p99_us <= sweep_p99_ms * 1000;
      fprintf(stderr, "load: sweep %.0f/s: achieved %.1f/s, p99 %.3f ms: %s\n", st->offered,
              st->achieved, st->p99_us / 1000.0, st->sustained ? "sustained" : "not sustained");
      if (st->sustained || !have) {
        memcpy(res, step, sizeof(*res));
        have = 1;
      }
      if (!st->sustained) {
        break;
      }
      sustainable = st->offered;
    }
    free(step);
    lo.rate = sustainable > 0 ? sustainable : start;
  }
  char target_desc[300];
  snprintf(target_desc, sizeof(target_desc), "%s (%s:%d)", name, lo.address, lo.port);
  if (mh_report_write_load(out, target_desc, &lo, res, num_steps ? steps : NULL, num_steps,
                           sustainable, &err) != 0) {
    goto fail;
  }
  if (num_steps) {
    printf(
        "load: sweep: highest sustained rate %.0f handshakes/s (p99 <= %.1f ms, errors <= "
        "0.1%%, drops <= 1%%)\n",
        sustainable, sweep_p99_ms);
  }
  unsigned long long errors = 0;
  for (int i = 0; i < MH_LOAD_ERR_NUM; i++) {
    errors += res->errors[i];
  }
  printf(
      "load: %llu handshakes in %.1f s: %.1f/s (%llu accepted, %llu rejected, %llu errors, "
      "%llu dropped, %llu late)\n",
      res->accepted + res->rejected, lo.duration_s,
      (double)(res->accepted + res->rejected) / lo.duration_s, res->accepted, res->rejected, errors,
      res->dropped, res->late);
  if (lo.resume_share > 0) {
    printf("load: %llu sessions offered, %llu resumed (as the TLS library reports)\n",
           res->resume_offered, res->resumed);
  }
  printf("load: accepted latency ms p50 %.3f p90 %.3f p99 %.3f p99.9 %.3f max %.3f\n",
         mh_hist_percentile(&res->total_accept, 50) / 1000.0,
         mh_hist_percentile(&res->total_accept, 90) / 1000.0,
         mh_hist_percentile(&res->total_accept, 99) / 1000.0,
         mh_hist_percentile(&res->total_accept, 99.9) / 1000.0,
         (res->total_accept.total ? res->total_accept.max : 0) / 1000.0);
  if (num_feds > 1) {
    printf("load: mock connections accepted per server thread:");
    for (int i = 0; i < num_feds; i++) {
      printf(" %llu", mh_federation_accepted(feds[i]));
    }
    printf("\n");
  }
  printf("load: report in %s (report.md, report.json)\n", out);
  rc = errors && !sweep ? 1 : 0;  // a sweep ends where errors start, by design
  goto out;
fail:
  fprintf(stderr, "%s\n", err.msg);
out:
  for (int i = 0; i < num_feds; i++) {
    mh_federation_stop_thread(feds[i]);
    mh_federation_free(feds[i]);
    if (loops[i] != NULL) {
      ev_loop_destroy(loops[i]);
    }
  }
  free(res);
  mh_arena_free(&arena);
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
      return commands[i].run(argc - 1, argv + 1);
    }
  }
  fprintf(stderr, "mtls-harness: unknown command '%s' (see 'mtls-harness --help')\n", cmd);
  return EXIT_INPUT;
}
