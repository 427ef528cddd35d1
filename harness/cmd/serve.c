// serve: `serve SCENARIO.json`: generate a scenario's fixtures, start every mock location (on
// one or several loops), schedule outages, and run until a signal or the --for timer.
//
// Everything a run owns lives in one struct serve_run on serve_run's stack: the scenario's arena,
// the event log, the loops and their federations; the signal and --for watchers find the primary
// federation through their data, so nothing about a run is global.
#include <getopt.h>

#include <ev.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/arena.h"
#include "base/err.h"
#include "cmd/cmd.h"
#include "input/scenario.h"
#include "mock/events.h"
#include "mock/federation.h"
#include "mock/pebble.h"
#include "pki/pki.h"

#define MAX_OUTAGES 16

// serve_outage takes |location| down |start_s| seconds after start, for |duration_s| seconds.
struct serve_outage {
  char location[128];
  double start_s;
  double duration_s;
};

struct serve_options {
  const char *scenario_path;
  const char *fixtures_dir;    // NULL: the scenario's default
  const char *fixtures_cache;  // --fixtures-cache DIR
  int no_fixtures_cache;       // --no-fixtures-cache
  const char *events_path;     // NULL: reports/<scenario>-events.jsonl (reports/ is created)
  int ephemeral_ports;         // bind port 0; inputs follow the bound ports
  double for_s;                // > 0: stop by itself after this many seconds
  int quiet;                   // no Go-style log lines on stderr
  int threads;                 // event loops, 1 to MH_MAX_LOOPS
  const struct serve_outage *outages;
  size_t num_outages;
  struct mh_mock_limits limits;  // --limit; 0 fields: the defaults
};

struct serve_run {
  const struct serve_options *opts;
  struct mh_arena arena;
  struct mh_scenario s;
  struct mh_events ev;
  char events_path[512];
  // Loop 0 is the default loop (signals arrive there) and runs the primary on this thread; the
  // others run its replicas on threads of their own.
  struct ev_loop *loops[MH_MAX_LOOPS];
  struct mh_federation *feds[MH_MAX_LOOPS];
  int num_feds;
  struct mh_pebble *pebble;  // the scenario's ACME test server, if it starts one
};

// parse_outage reads --outage LOCATION:START_SECONDS:DURATION_SECONDS into |out|. Returns 0, or -1
// with |err| set.
static int parse_outage(const char *arg, struct serve_outage *out, struct mh_err *err) {
  const char *c1 = strchr(arg, ':');
  const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
  char *end;
  if (c1 == NULL || c2 == NULL || (size_t)(c1 - arg) >= sizeof(out->location) || c1 == arg) {
    goto bad;
  }
  snprintf(out->location, sizeof(out->location), "%.*s", (int)(c1 - arg), arg);
  out->start_s = strtod(c1 + 1, &end);
  if (end != c2 || !isfinite(out->start_s) || out->start_s < 0) {
    goto bad;
  }
  out->duration_s = strtod(c2 + 1, &end);
  if (end != c2 + 1 && *end == '\0' && isfinite(out->duration_s) && out->duration_s > 0) {
    return 0;
  }
bad:
  return mh_err_set(err, "--outage %s: expected LOCATION:START_SECONDS:DURATION_SECONDS", arg);
}

// parse_limit reads --limit NAME=VALUE (max-conns, max-pending-per-source, ws-write-deadline,
// ws-send-queue; docs/scenarios.md, "Limits") into |limits|. Returns 0, or -1 with |err| set.
static int parse_limit(const char *arg, struct mh_mock_limits *limits, struct mh_err *err) {
  const char *eq = strchr(arg, '=');
  char *end;
  double v = eq != NULL ? strtod(eq + 1, &end) : 0;
  if (eq == NULL || end == eq + 1 || *end != '\0' || !(v > 0) || v > 1e9) {
    goto bad;
  }
  size_t name_len = (size_t)(eq - arg);
  if (name_len == 9 && strncmp(arg, "max-conns", 9) == 0 && v == (size_t)v) {
    limits->max_conns = (size_t)v;
  } else if (name_len == 22 && strncmp(arg, "max-pending-per-source", 22) == 0 && v == (size_t)v) {
    limits->max_pending_per_source = (size_t)v;
  } else if (name_len == 17 && strncmp(arg, "ws-write-deadline", 17) == 0) {
    limits->ws_write_deadline_s = v;
  } else if (name_len == 13 && strncmp(arg, "ws-send-queue", 13) == 0 && v == (size_t)v) {
    limits->ws_send_queue = (size_t)v;
  } else {
    goto bad;
  }
  return 0;
bad:
  return mh_err_set(err,
                    "--limit %s: expected max-conns=N, max-pending-per-source=N, "
                    "ws-write-deadline=SECONDS or ws-send-queue=BYTES (above 0)",
                    arg);
}

// open_inputs parses the scenario, generates its fixtures and opens the event log.
static int open_inputs(struct serve_run *r, struct mh_err *err) {
  const struct serve_options *o = r->opts;
  struct mh_scenario_options sopts = {.fixtures_dir = o->fixtures_dir};
  if (mh_scenario_load(&r->arena, o->scenario_path, &sopts, &r->s, err) != 0) {
    return -1;
  }
  struct mh_pki_options popts = {
      .out_dir = r->s.fixtures_dir,
      .quiet = 1,
      .cache_dir = mh_cmd_fixtures_cache(&r->arena, o->fixtures_cache, o->no_fixtures_cache)};
  if (mh_pki_generate(&r->s.spec, &popts, err) != 0 || mh_pebble_start(&r->s, &r->pebble, err)) {
    return -1;
  }
  if (o->events_path != NULL) {
    snprintf(r->events_path, sizeof(r->events_path), "%s", o->events_path);
  } else {
    mkdir("reports", 0755);  // an error shows when the log is opened
    snprintf(r->events_path, sizeof(r->events_path), "reports/%s-events.jsonl", r->s.name);
  }
  if (mh_events_open(&r->ev, r->events_path, err) != 0) {
    return -1;
  }
  r->ev.log_to_stderr = !o->quiet;
  return 0;
}

// build_federations makes the primary and its replicas and schedules the outages on each, before
// any loop runs. The replicas serve the same outputs on the same ports (SO_REUSEPORT).
static int build_federations(struct serve_run *r, struct mh_err *err) {
  const struct serve_options *o = r->opts;
  struct mh_federation_options fopts = {
      .ephemeral_ports = o->ephemeral_ports, .shared = o->threads > 1, .limits = o->limits};
  // A loop of its own, not libev's default one: the default loop reaps every child on SIGCHLD
  // (waitpid(-1)), and the ACME workers wait for their own lego processes, which it would steal
  // (the worker then saw "not our child" and logged a successful renewal as failed).
  r->loops[0] = ev_loop_new(EVFLAG_AUTO);
  if (r->loops[0] == NULL) {
    return mh_err_set(err, "mtls-harness serve: cannot create event loop 1");
  }
  r->feds[0] = mh_federation_new(r->loops[0], &r->s, &r->ev, &fopts, err);
  if (r->feds[0] == NULL) {
    return -1;
  }
  r->num_feds = 1;
  for (int i = 1; i < o->threads; i++) {
    struct mh_federation_options ropts = fopts;
    ropts.primary = r->feds[0];
    r->loops[i] = ev_loop_new(EVFLAG_AUTO);
    if (r->loops[i] == NULL) {
      return mh_err_set(err, "mtls-harness serve: cannot create event loop %d", i + 1);
    }
    r->feds[i] = mh_federation_new(r->loops[i], &r->s, &r->ev, &ropts, err);
    if (r->feds[i] == NULL) {
      ev_loop_destroy(r->loops[i]);
      r->loops[i] = NULL;
      return -1;
    }
    r->num_feds = i + 1;
  }
  for (size_t k = 0; k < o->num_outages; k++) {
    const struct serve_outage *out = &o->outages[k];
    for (int i = 0; i < r->num_feds; i++) {
      if (mh_federation_schedule_outage(r->feds[i], out->location, out->start_s, out->duration_s,
                                        err) != 0) {
        return -1;
      }
    }
  }
  return 0;
}

// stop_cb ends the run (a signal or the --for timer): the primary stops and its loop returns.
static void stop_cb(struct ev_loop *loop, struct mh_federation *primary) {
  mh_federation_stop(primary);
  ev_break(loop, EVBREAK_ALL);
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents) {
  (void)revents;
  stop_cb(loop, w->data);
}

static void for_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)revents;
  stop_cb(loop, w->data);
}

// serve runs the loops until a signal or the --for timer, then stops the replicas and prints
// what each loop accepted.
static int serve(struct serve_run *r, struct mh_err *err) {
  const struct serve_options *o = r->opts;
  struct ev_loop *loop = r->loops[0];
  printf("serve: %s (%s), fixtures in %s, events in %s\n", r->s.name, r->s.file, r->s.fixtures_dir,
         r->events_path);
  mh_federation_describe(r->feds[0], stdout);
  ev_signal sigint, sigterm;
  ev_signal_init(&sigint, signal_cb, SIGINT);
  ev_signal_init(&sigterm, signal_cb, SIGTERM);
  sigint.data = sigterm.data = r->feds[0];
  ev_signal_start(loop, &sigint);
  ev_signal_start(loop, &sigterm);
  ev_timer for_timer;
  ev_now_update(loop);  // building the mocks may have taken a while (ACME): --for counts from here
  ev_timer_init(&for_timer, for_cb, o->for_s, 0.);
  for_timer.data = r->feds[0];
  if (o->for_s > 0) {
    ev_timer_start(loop, &for_timer);
  }
  int rc = 0;
  for (int i = 1; i < r->num_feds && rc == 0; i++) {
    rc = mh_federation_start_thread(r->feds[i], err);
  }
  if (rc == 0) {
    mh_federation_start(r->feds[0]);
    printf("serve: ready%s\n", r->num_feds > 1 ? " (one listener per loop on each port)" : "");
    fflush(stdout);
    ev_run(loop, 0);
    if (r->num_feds > 1) {
      // The primary publishes no more: stop the replicas, then count.
      printf("serve: connections accepted per loop: %llu", mh_federation_accepted(r->feds[0]));
      for (int i = 1; i < r->num_feds; i++) {
        mh_federation_stop_thread(r->feds[i]);
        printf(" %llu", mh_federation_accepted(r->feds[i]));
      }
      printf("\n");
    }
    printf("serve: stopped\n");
  }
  ev_timer_stop(loop, &for_timer);
  ev_signal_stop(loop, &sigint);
  ev_signal_stop(loop, &sigterm);
  return rc;
}

// serve_run parses the scenario (once), generates its fixtures, serves every location until
// SIGINT, SIGTERM or |opts->for_s|, and prints the endpoints, "serve: ready" and "serve: stopped"
// on stdout. Returns 0, or -1 with |err| set (the harness or its input is wrong).
static int serve_run(const struct serve_options *opts, struct mh_err *err) {
  struct serve_run r;
  memset(&r, 0, sizeof(r));
  r.opts = opts;
  mh_arena_init(&r.arena);
  int rc = -1;
  if (open_inputs(&r, err) != 0 || build_federations(&r, err) != 0) {
    goto out;
  }
  rc = serve(&r, err);
out:
  // Replicas go before their primary, each stopped first (a no-op unless its thread runs).
  for (int i = r.num_feds - 1; i >= 1; i--) {
    mh_federation_stop_thread(r.feds[i]);
    mh_federation_free(r.feds[i]);
    ev_loop_destroy(r.loops[i]);
  }
  mh_federation_free(r.feds[0]);  // NULL is accepted
  if (r.loops[0] != NULL) {
    ev_loop_destroy(r.loops[0]);
  }
  mh_pebble_stop(r.pebble);
  mh_events_close(&r.ev);
  mh_arena_free(&r.arena);
  return rc;
}

static int cmd_serve(const struct mh_cmd *self, int argc, char **argv) {
  static const struct option longopts[] = {
      {"fixtures", required_argument, NULL, 'F'},
      {"ephemeral-ports", no_argument, NULL, 'e'},
      {"events", required_argument, NULL, 'E'},
      {"for", required_argument, NULL, 'f'},
      {"outage", required_argument, NULL, 'o'},
      {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},
      {"threads", required_argument, NULL, 't'},
      {"limit", required_argument, NULL, 'l'},
      {"fixtures-cache", required_argument, NULL, 'C'},
      {"no-fixtures-cache", no_argument, NULL, 'N'},
      {NULL, 0, NULL, 0},
  };
  struct serve_options o = {.threads = 1};
  struct serve_outage outages[MAX_OUTAGES];
  const char *outage_args[MAX_OUTAGES];
  struct mh_err err;
  int opt;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    char *end;
    switch (opt) {
      case 'F':
        o.fixtures_dir = optarg;
        break;
      case 'C':
        o.fixtures_cache = optarg;
        break;
      case 'N':
        o.no_fixtures_cache = 1;
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
          return MH_EXIT_INPUT;
        }
        break;
      case 'o':
        if (o.num_outages == MAX_OUTAGES) {
          fprintf(stderr, "mtls-harness serve: at most %d --outage options\n", MAX_OUTAGES);
          return MH_EXIT_INPUT;
        }
        outage_args[o.num_outages++] = optarg;
        break;
      case 'q':
        o.quiet = 1;
        break;
      case 'l':
        if (parse_limit(optarg, &o.limits, &err) != 0) {
          fprintf(stderr, "%s\n", err.msg);
          return MH_EXIT_INPUT;
        }
        break;
      case 't':
        o.threads = (int)strtol(optarg, &end, 10);
        if (*end != '\0' || o.threads < 1 || o.threads > MH_MAX_LOOPS) {
          fprintf(stderr, "mtls-harness serve: --threads takes 1 to %d\n", MH_MAX_LOOPS);
          return MH_EXIT_INPUT;
        }
        break;
      case 'h':
        mh_cmd_usage(self, stdout);
        return 0;
      default:
        fprintf(stderr, "mtls-harness serve: see 'mtls-harness serve --help'\n");
        return MH_EXIT_INPUT;
    }
  }
  if (optind != argc - 1) {
    fprintf(
        stderr,
        "mtls-harness serve: give exactly one SCENARIO.json (e.g. scenarios/federation.json)\n");
    return MH_EXIT_INPUT;
  }
  o.scenario_path = argv[optind];
  for (size_t i = 0; i < o.num_outages; i++) {
    if (parse_outage(outage_args[i], &outages[i], &err) != 0) {
      fprintf(stderr, "%s\n", err.msg);
      return MH_EXIT_INPUT;
    }
  }
  o.outages = outages;
  signal(SIGPIPE, SIG_IGN);
  if (serve_run(&o, &err) != 0) {
    fprintf(stderr, "%s\n", err.msg);
    return MH_EXIT_INPUT;
  }
  return 0;
}

const struct mh_cmd mh_cmd_serve = {
    "serve",
    "serve SCENARIO.json [--fixtures DIR] [--ephemeral-ports] [--events FILE] [--for S]\n"
    "                    [--threads N] [--limit NAME=VALUE]...",
    "generate the fixtures and run every mock location until SIGINT/SIGTERM",
    "  --fixtures DIR       where to generate the fixture PKI (default fixtures/out/<spec "
    "name>)\n" MH_CMD_FIXTURES_CACHE_HELP
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
    cmd_serve};
