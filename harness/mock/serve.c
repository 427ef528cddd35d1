// serve: the `serve` command's run (see serve.h). Everything a run owns lives in one struct
// serve_run on mh_serve_run's stack: the scenario's arena, the event log, the loops and their
// federations; the signal and --for watchers find the primary federation through their data, so
// nothing about a run is global.
#include "mock/serve.h"

#include <ev.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/arena.h"
#include "input/scenario.h"
#include "mock/events.h"
#include "mock/federation.h"
#include "mock/pebble.h"
#include "pki/pki.h"

struct serve_run {
  const struct mh_serve_options *opts;
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

int mh_serve_parse_outage(const char *arg, struct mh_serve_outage *out, struct mh_err *err) {
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

int mh_serve_parse_limit(const char *arg, struct mh_mock_limits *limits, struct mh_err *err) {
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
  const struct mh_serve_options *o = r->opts;
  struct mh_scenario_options sopts = {.fixtures_dir = o->fixtures_dir};
  if (mh_scenario_load(&r->arena, o->scenario_path, &sopts, &r->s, err) != 0) {
    return -1;
  }
  struct mh_pki_options popts = {.out_dir = r->s.fixtures_dir, .quiet = 1};
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
  const struct mh_serve_options *o = r->opts;
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
    const struct mh_serve_outage *out = &o->outages[k];
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
  const struct mh_serve_options *o = r->opts;
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

int mh_serve_run(const struct mh_serve_options *opts, struct mh_err *err) {
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
