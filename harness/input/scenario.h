// scenario: the scenario parser (docs/scenarios.md): locations, matrix and explicit cases, into
// plain, read-only data living in the caller's arena.
//
// This header also includes the headers of the other input documents (spec, location, profile,
// baseline, envelope), so that a file which needs several includes one. None of them exposes
// cJSON: only the parsers in harness/input/ see it.
//
// Every error is one line: "<file>: $.json.path: what is wrong (how to fix it)".
#ifndef MH_SCENARIO_H
#define MH_SCENARIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/net.h"
#include "input/baseline.h"
#include "input/location.h"
#include "input/profile.h"
#include "input/pki_spec.h"
#include "pki/pki.h"
#include "tls/tls.h"

// mh_case_spec is an explicit case of the scenario, or one expanded from the matrix.
struct mh_case_spec {
  const char *id;           // "<target>/<identity>/tls1.3", or the explicit case's name
  const char *target;       // location name
  const char *identity;     // spec identity, or NULL for no client certificate
  int version;              // MH_TLS12 or MH_TLS13
  const char *server_name;  // NULL: the target's own
  const char *trust_ca;     // spec CA the client trusts instead of the target's, NULL: the target's
  const char *server_identity;  // spec identity the (variant) server presents instead of its own
  int min_tls13;                // run against a TLS 1.3-minimum variant of the target
  enum mh_case_check check;     // a matrix case: its check beyond identity x version
  int has_expect;               // explicit expectation (overrides the oracle)
  int expect_reject;
  int expect_reason;  // enum mh_reason, -1 = any
  int expect_layer;   // enum mh_layer, -1 = any
  int expect_alerts[8];
  size_t num_expect_alerts;
  int expect_status;
};

struct mh_matrix {
  const char *const *targets;
  size_t num_targets;
  const char *const *identities;  // "none" = no client certificate
  size_t num_identities;
  int versions[2];
  size_t num_versions;
  int min_tls13_check;            // per server: a TLS 1.2-only client against a 1.3-minimum variant
  const char *wrong_server_name;  // per server: the client expects this name instead
  const char *cn_only_identity;   // per server: a variant presenting this CN-only certificate
  const char *untrusted_ca;       // per server: the client trusts only this CA
};

struct mh_scenario {
  const char *file;
  const char *name;
  const char *description;
  const char *spec_file;  // the fixture spec, resolved against the scenario's directory
  struct mh_pki_spec spec;
  struct mh_net_pin *pins;  // "resolve": NAME:PORT:ADDR pins for the targets' names
  size_t num_pins;
  const char *certs_dir;     // the prefix certificate paths use in the configs ("/certs")
  const char *fixtures_dir;  // where the fixtures are generated; paths below resolve into it
  struct mh_location *locations;
  size_t num_locations;
  int has_matrix;
  struct mh_matrix matrix;
  struct mh_case_spec *cases;  // explicit cases
  size_t num_cases;
  const struct mh_pebble_config *pebble;  // "acme_server": a pebble to start; NULL: none
};

// mh_scenario_location returns the location of |s| named |name|, or NULL.
const struct mh_location *mh_scenario_location(const struct mh_scenario *s, const char *name);

// mh_scenario_options says where fixtures live and what may be printed.
struct mh_scenario_options {
  const char *fixtures_dir;  // NULL: fixtures/out/<spec name> relative to the current directory
  // When set (and |fixtures_dir| is NULL): called once, as soon as the scenario's name is known,
  // for the fixtures directory (allocated from |a|; NULL: out of memory). It lets a command whose
  // output directory is named after the scenario parse the scenario once.
  const char *(*fixtures_dir_for)(void *arg, struct mh_arena *a, const char *scenario_name);
  void *arg;
  int quiet;  // do not print the real system's WARNING lines
};

// mh_scenario_load reads, parses and validates the scenario at |path|, its fixture spec and every
// location's embedded configuration, before anything is generated or opened. Messages follow the
// real system's words where it has them. Returns 0, or -1 with |err| set.
int mh_scenario_load(struct mh_arena *a, const char *path, const struct mh_scenario_options *opts,
                     struct mh_scenario *out, struct mh_err *err);

// mh_scenario_parse is mh_scenario_load on |len| bytes of |text| (no NUL needed), named |path| in
// messages; relative paths in it (the fixture spec, certificate files) resolve against |path|'s
// directory. Returns 0, or -1 with |err| set; everything it allocates lives in |a|.
int mh_scenario_parse(struct mh_arena *a, const char *path, const char *text, size_t len,
                      const struct mh_scenario_options *opts, struct mh_scenario *out,
                      struct mh_err *err);

// mh_scenario_print_keys writes the JSON path of every scenario key the parser reads.
void mh_scenario_print_keys(FILE *out);

// mh_json_version returns the version string of the JSON library.
const char *mh_json_version(void);

// mh_scenario_fixture_path writes the path of fixture file |rel| (a spec's file name) into |out|:
// under the scenario's fixtures directory, or the imported file it names (mh_pki_spec_file).
void mh_scenario_fixture_path(const struct mh_scenario *s, const char *rel, char *out,
                              size_t out_len);

#endif
