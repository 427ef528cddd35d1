// serve: the `serve` command's run: generate a scenario's fixtures, start every mock location
// (on one or several loops), schedule outages, and run until a signal or the --for timer.
#ifndef MH_MOCK_SERVE_H
#define MH_MOCK_SERVE_H

#include <stddef.h>

#include "base/err.h"
#include "mock/federation.h"

#define MH_SERVE_MAX_OUTAGES 16

// mh_serve_outage takes |location| down |start_s| seconds after start, for |duration_s| seconds.
struct mh_serve_outage {
  char location[128];
  double start_s;
  double duration_s;
};

struct mh_serve_options {
  const char *scenario_path;
  const char *fixtures_dir;  // NULL: the scenario's default
  const char *events_path;   // NULL: reports/<scenario>-events.jsonl (reports/ is created)
  int ephemeral_ports;       // bind port 0; inputs follow the bound ports
  double for_s;              // > 0: stop by itself after this many seconds
  int quiet;                 // no Go-style log lines on stderr
  int threads;               // event loops, 1 to MH_MAX_LOOPS
  const struct mh_serve_outage *outages;
  size_t num_outages;
  struct mh_mock_limits limits;  // --limit; 0 fields: the defaults
};

// mh_serve_parse_outage reads LOCATION:START_SECONDS:DURATION_SECONDS into |out|. Returns 0, or -1
// with |err| set.
int mh_serve_parse_outage(const char *arg, struct mh_serve_outage *out, struct mh_err *err);

// mh_serve_parse_limit reads NAME=VALUE (max-conns, max-pending-per-source, ws-write-deadline,
// ws-send-queue; docs/scenarios.md, "Limits") into |limits|. Returns 0, or -1 with |err| set.
int mh_serve_parse_limit(const char *arg, struct mh_mock_limits *limits, struct mh_err *err);

// mh_serve_run parses the scenario (once), generates its fixtures, serves every location until
// SIGINT, SIGTERM or |opts->for_s|, and prints the endpoints, "serve: ready" and "serve: stopped"
// on stdout. Returns 0, or -1 with |err| set (the harness or its input is wrong).
int mh_serve_run(const struct mh_serve_options *opts, struct mh_err *err);

#endif
