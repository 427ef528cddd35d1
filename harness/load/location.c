// location: a mock location under load (see location.h).
#include "load/location.h"

#include <ev.h>
#include <stdio.h>
#include <string.h>

// usable says whether |L| can be loaded: a mock location with a TLS websocket output.
static int usable(const struct mh_location *L) {
  return L != NULL && !L->is_target && L->path != NULL && L->server_tls;
}

const struct mh_location *mh_load_location_find(const struct mh_scenario *s, const char *name,
                                                struct mh_err *err) {
  const struct mh_location *L = mh_scenario_location(s, name);
  if (usable(L)) {
    return L;
  }
  char list[MH_ERR_LEN / 2];
  size_t len = 0;
  list[0] = '\0';
  for (size_t i = 0; i < s->num_locations && len < sizeof(list); i++) {
    if (usable(&s->locations[i])) {
      int n =
          snprintf(list + len, sizeof(list) - len, "%s%s", len ? ", " : "", s->locations[i].name);
      len += n > 0 ? (size_t)n : 0;
    }
  }
  mh_err_set(err,
             "%s: --location %s: not a mock location with a TLS websocket output; those that "
             "are: %s",
             s->file, name, len ? list : "(none)");
  return NULL;
}

int mh_load_location_start(struct mh_load_location *m, struct mh_arena *a,
                           const struct mh_scenario *s, const struct mh_location *L, int threads,
                           struct mh_err *err) {
  // A copy of the location with its websocket outputs only and no emitter, alone in a scenario.
  struct mh_location *only = mh_arena_alloc(a, sizeof(*only));
  struct mh_component *comps =
      mh_arena_alloc_array(a, L->num_components + 1, sizeof(*only->components));
  if (only == NULL || comps == NULL) {
    return mh_err_set(err, "out of memory");
  }
  *only = *L;
  only->emit_rate = 0;
  only->components = comps;
  only->num_components = 0;
  for (size_t k = 0; k < L->num_components; k++) {
    if (L->components[k].kind == MH_COMP_WS_OUTPUT) {
      comps[only->num_components++] = L->components[k];
    }
  }
  // The federation keeps a pointer to its scenario and reads it while it runs (a rotation looks
  // up the CA that issued the certificate): the copy lives in |a|, not on this stack.
  struct mh_scenario *one = mh_arena_alloc(a, sizeof(*one));
  if (one == NULL) {
    return mh_err_set(err, "out of memory");
  }
  *one = *s;
  one->locations = only;
  one->num_locations = 1;
  m->events.log_to_stderr = 0;
  // One loop per server thread, each with its own SO_REUSEPORT listener on the same port: loop 0
  // runs the location, the others its replicas (as `serve --threads`), so only loop 0 renews and
  // rotates and the others follow it. All are built before any runs (a replica copies what its
  // primary presents), and the replicas' loops start first, as serve's do.
  for (int i = 0; i < threads && i < MH_MAX_LOOPS; i++) {
    struct mh_federation_options fo = {
        .ephemeral_ports = 1, .shared = threads > 1, .primary = i > 0 ? m->feds[0] : NULL};
    m->loops[i] = ev_loop_new(EVFLAG_AUTO);
    m->num_loops = i + 1;
    if (m->loops[i] == NULL) {
      return mh_err_set(err, "mtls-harness load: cannot create event loop %d", i + 1);
    }
    m->feds[i] = mh_federation_new(m->loops[i], one, &m->events, &fo, err);
    if (m->feds[i] == NULL) {
      return -1;
    }
  }
  for (int i = m->num_loops - 1; i >= 0; i--) {
    if (mh_federation_start_thread(m->feds[i], err) != 0) {
      return -1;
    }
  }
  return mh_federation_port(m->feds[0], L->name, &m->address, &m->port, err);
}

void mh_load_location_print_accepted(const struct mh_load_location *m, FILE *f) {
  if (m->num_loops <= 1) {
    return;
  }
  fprintf(f, "load: mock connections accepted per server thread:");
  for (int i = 0; i < m->num_loops; i++) {
    fprintf(f, " %llu", mh_federation_accepted(m->feds[i]));
  }
  fprintf(f, "\n");
}

void mh_load_location_stop(struct mh_load_location *m) {
  // The primary first (it hands certificate changes to the replicas), then the replicas, which
  // go before their primary is freed.
  if (m->num_loops > 0) {
    mh_federation_stop_thread(m->feds[0]);
  }
  for (int i = m->num_loops - 1; i >= 0; i--) {
    mh_federation_stop_thread(m->feds[i]);
    mh_federation_free(m->feds[i]);
    if (m->loops[i] != NULL) {
      ev_loop_destroy(m->loops[i]);
    }
  }
  m->num_loops = 0;
}
