// Unit tests for the mock federation's error paths (mock/federation.c): errors name what is
// valid, and a federation that fails to build leaves nothing behind on its loop.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "base/arena.h"
#include "input/scenario.h"
#include "mock/events.h"
#include "mock/federation.h"
#include "pki/pki.h"
#include "tmpdir.h"

// tier2-tls: location "server" has a TLS websocket_output, location "client" only an input.
struct fixture {
  struct mh_arena arena;
  struct mh_scenario s;
  struct mh_events ev;
  struct ev_loop *loop;
  struct mh_federation *primary;
};

static void fixture_init(struct fixture *fx) {
  const char *src = getenv("MH_SOURCE_DIR");
  assert_non_null(src);
  char path[512];
  snprintf(path, sizeof(path), "%s/scenarios/tier2-tls.json", src);
  memset(fx, 0, sizeof(*fx));
  mh_arena_init(&fx->arena);
  struct mh_err err = {{0}};
  struct mh_scenario_options so = {.fixtures_dir = root, .quiet = 1};
  assert_int_equal(mh_scenario_load(&fx->arena, path, &so, &fx->s, &err), 0);
  struct mh_pki_options po = {.out_dir = fx->s.fixtures_dir, .quiet = 1};
  assert_int_equal(mh_pki_generate(&fx->s.spec, &po, &err), 0);
  fx->loop = ev_loop_new(EVFLAG_AUTO);
  assert_non_null(fx->loop);
  struct mh_federation_options fo = {.ephemeral_ports = 1, .shared = 1};
  fx->primary = mh_federation_new(fx->loop, &fx->s, &fx->ev, &fo, &err);
  assert_non_null(fx->primary);
}

static void fixture_cleanup(struct fixture *fx) {
  mh_federation_free(fx->primary);
  ev_loop_destroy(fx->loop);
  mh_arena_free(&fx->arena);
}

static void test_port_errors_are_filled(void **state) {
  (void)state;
  struct fixture fx;
  fixture_init(&fx);
  const char *address = NULL;
  int port = 0;
  struct mh_err err;
  memset(&err, 0, sizeof(err));
  assert_int_equal(mh_federation_port(fx.primary, "server", &address, &port, &err), 0);
  assert_string_equal(address, "127.0.0.1");
  assert_true(port > 0);

  assert_int_equal(mh_federation_port(fx.primary, "nosuch", &address, &port, &err), -1);
  assert_non_null(strstr(err.msg, "no location \"nosuch\" in "));
  assert_non_null(strstr(err.msg, "(its locations: server, client)"));

  memset(&err, 0, sizeof(err));
  assert_int_equal(mh_federation_port(fx.primary, "client", &address, &port, &err), -1);
  assert_non_null(strstr(err.msg, "location \"client\""));
  assert_non_null(strstr(err.msg, "has no websocket_output"));
  fixture_cleanup(&fx);
}

static void test_outage_of_an_unknown_location_lists_the_valid_ones(void **state) {
  (void)state;
  struct fixture fx;
  fixture_init(&fx);
  struct mh_err err;
  memset(&err, 0, sizeof(err));
  assert_int_equal(mh_federation_schedule_outage(fx.primary, "nosuch", 1, 2, &err), -1);
  assert_non_null(strstr(err.msg, "--outage: no location \"nosuch\""));
  assert_non_null(strstr(err.msg, "(its locations: server, client)"));
  fixture_cleanup(&fx);
}

// A replica starts its mailbox watcher on its own loop before it loads its locations; when that
// fails (here: the server certificate is gone), the watcher must leave the loop before the
// federation is freed, or the loop keeps a pointer into freed memory.
static void test_a_failed_replica_leaves_no_watcher_on_its_loop(void **state) {
  (void)state;
  struct fixture fx;
  fixture_init(&fx);
  char cert[600];
  snprintf(cert, sizeof(cert), "%s/location-a-cert.pem", fx.s.fixtures_dir);
  assert_int_equal(unlink(cert), 0);
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  assert_non_null(loop);
  assert_int_equal(ev_run(loop, EVRUN_NOWAIT), 0);  // nothing active: ev_run returns 0
  struct mh_federation_options fo = {.ephemeral_ports = 1, .primary = fx.primary};
  struct mh_err err;
  memset(&err, 0, sizeof(err));
  assert_null(mh_federation_new(loop, &fx.s, &fx.ev, &fo, &err));
  assert_non_null(strstr(err.msg, "config.security.tls.server"));
  assert_int_equal(ev_run(loop, EVRUN_NOWAIT), 0);
  ev_loop_destroy(loop);
  fixture_cleanup(&fx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_port_errors_are_filled, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outage_of_an_unknown_location_lists_the_valid_ones,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_failed_replica_leaves_no_watcher_on_its_loop, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
