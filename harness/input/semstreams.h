// semstreams: the parser of a location's SemStreams configuration (Go encoding/json rules).
//
// Internal to harness/input/: it includes cJSON (through input/json.h), so only the parsers include
// it. The scenario parser calls it for each location's "config" and for an external target's
// declared policy.
#ifndef MH_INPUT_SEMSTREAMS_H
#define MH_INPUT_SEMSTREAMS_H

#include <stddef.h>

#include "input/json.h"
#include "input/location.h"

struct mh_scenario;

// mh_semstreams_ctx is what the configuration parser needs beyond the JSON position: the scenario
// being parsed (its certs_dir, fixture spec and fixtures_dir, to map certificate paths to files),
// the scenario's directory for relative paths, and whether notes may be printed.
struct mh_semstreams_ctx {
  const struct mh_scenario *s;
  const char *scenario_dir;
  int quiet;
};

// mh_semstreams_parse_config reads a location's "config" object |cfg| (its "security" and
// "components") into |L|, reporting at the current path of |c|. Returns 0 or -1.
int mh_semstreams_parse_config(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc,
                               const cJSON *cfg, struct mh_location *L);

// mh_semstreams_parse_server_tls reads a tls.server block |srv| into |L|. With |policy_only| (an
// external target's declared policy) there are no certificate files to load and TLS is implied.
// Returns 0 or -1.
int mh_semstreams_parse_server_tls(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc,
                                   const cJSON *srv, struct mh_location *L, int policy_only);

// mh_semstreams_resolve_files maps each of the |num| certificate paths |files| to a file on this
// machine in place (see docs/scenarios.md: paths under certs_dir are fixtures the spec must
// generate); |field| names the list in messages. Returns 0 or -1.
int mh_semstreams_resolve_files(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc,
                                const char *field, const char **files, size_t num);

#endif
