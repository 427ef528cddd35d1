// scenario: parsing and validation of the harness's input documents (fixture specs now; scenario
// files as they arrive). It is the only module that sees cJSON: everything it returns is plain,
// read-only data living in the caller's arena.
//
// Every error is one line: "<file>: $.json.path: what is wrong (how to fix it)".
#ifndef MH_SCENARIO_H
#define MH_SCENARIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/arena.h"
#include "base/err.h"
#include "pki/pki.h"
#include "tls/tls.h"

// --- scenarios ---

enum mh_component_kind {
  MH_COMP_WS_OUTPUT,  // websocket output: a WebSocket server that sends the location's data
  MH_COMP_WS_INPUT,   // websocket_input in client mode: dials another location's output
};

// mh_reconnect is websocket_input's client.reconnect block.
struct mh_reconnect {
  int enabled;
  int max_retries;  // 0 = unlimited
  int64_t initial_ms;
  int64_t max_ms;
  double multiplier;
};

struct mh_component {
  const char *id;
  const char *json_path;
  enum mh_component_kind kind;
  // output
  int port;  // as configured (0 with --ephemeral-ports is decided at bind time)
  const char *path;
  // input
  const char *url;
  int url_tls;  // wss
  const char *url_host;
  int url_port;
  const char *url_path;
  struct mh_reconnect reconnect;
};

// mh_location is one location of the federation: a mock the harness runs.
struct mh_location {
  const char *name;
  const char *json_path;
  const char *host;     // the DNS name other locations use for it
  const char *address;  // the loopback address it binds and that |host| resolves to
  enum mh_tls_emulation emulate;
  struct mh_component *components;
  size_t num_components;
  int server_tls;  // security.tls.server.enabled
  struct mh_tls_server_policy server;
  int client_tls;  // the websocket_input client applies its TLS config (see docs/scenarios.md)
  struct mh_tls_client_policy client;
  double emit_rate;  // synthetic data messages per second published on the location's bus
  const char *emit_subject;
  const char *nginx_dn_regex;  // emulate nginx: allowed $ssl_client_s_dn (POSIX ERE); NULL = any
  // Faults a mock can be told to commit, to see the runner catch them.
  int fault_ignore_allowlist;  // accept any CN
  int fault_rst_on_reject;     // close a rejected connection with RST instead of FIN + drain
  // An external target (a real deployment) instead of a mock.
  int is_target;
  const char *target_address;  // numeric loopback address
  int target_port;
  const char *server_name;
  const char *const *target_ca_files;  // roots for the target's server certificate
  size_t num_target_ca_files;
  const char *path;     // request path for probes (mocks: their output's path)
  const char *profile;  // stack profile name ("semstreams", "nginx-http", ...)
};

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
  const char *certs_dir;     // the prefix certificate paths use in the configs ("/certs")
  const char *fixtures_dir;  // where the fixtures are generated; paths below resolve into it
  struct mh_location *locations;
  size_t num_locations;
  int has_matrix;
  struct mh_matrix matrix;
  struct mh_case_spec *cases;  // explicit cases
  size_t num_cases;
};

// mh_location_find returns the location named |name|, or NULL.
const struct mh_location *mh_location_find(const struct mh_scenario *s, const char *name);

// mh_profile maps each rejection reason to what a stack does: an alert set per TLS version, or an
// HTTP status.
struct mh_profile_rule {
  int set;
  int layer;  // enum mh_layer
  int alerts12[8];
  size_t num_alerts12;
  int alerts13[8];
  size_t num_alerts13;
  int status;
};

struct mh_profile {
  const char *name;
  const char *description;
  struct mh_profile_rule rules[16];  // indexed by enum mh_reason
};

// mh_profile_load reads profile |name| from |dir|/<name>.json into |out|. Returns 0 or -1.
int mh_profile_load(struct mh_arena *a, const char *dir, const char *name, struct mh_profile *out,
                    struct mh_err *err);

// mh_baseline_entry is one case of an earlier report.json.
struct mh_baseline_entry {
  const char *id;
  const char *verdict;
  const char *outcome;  // the report's one-line outcome summary
};

// mh_baseline_load reads the cases of an earlier report.json. Returns 0 or -1 with |err| set.
int mh_baseline_load(struct mh_arena *a, const char *path, struct mh_baseline_entry **out,
                     size_t *out_num, struct mh_err *err);

// mh_scenario_options says where fixtures live and what may be printed.
struct mh_scenario_options {
  const char *fixtures_dir;  // NULL: fixtures/out/<spec name> relative to the current directory
  int quiet;                 // do not print the real system's WARNING lines
};

// mh_scenario_load reads, parses and validates the scenario at |path|, its fixture spec and every
// location's embedded configuration, before anything is generated or opened. Messages follow the
// real system's words where it has them. Returns 0, or -1 with |err| set.
int mh_scenario_load(struct mh_arena *a, const char *path, const struct mh_scenario_options *opts,
                     struct mh_scenario *out, struct mh_err *err);

// mh_scenario_print_keys writes the JSON path of every scenario key the parser reads.
void mh_scenario_print_keys(FILE *out);

// mh_envelope is a SemStreams WebSocket message, as far as the mocks need it.
struct mh_envelope {
  char type[32];
  char id[96];
  long long timestamp;
  char origin[64];  // payload.origin of a synthetic message, "" otherwise
  long long seq;    // payload.seq, -1 if absent
  char *payload;    // payload re-serialized (malloc'd, caller frees), NULL if absent
};

// mh_scenario_parse_envelope parses a WebSocket text message. Returns 0, or -1 if it is not JSON or
// has no "type" (the real input drops such messages).
int mh_scenario_parse_envelope(const char *text, size_t len, struct mh_envelope *out);

// mh_pki_spec_load reads and parses the fixture spec at |path| into |out|, allocating from |a|.
// Returns 0, or -1 with |err| set; nothing is written anywhere either way.
int mh_pki_spec_load(struct mh_arena *a, const char *path, struct mh_pki_spec *out,
                     struct mh_err *err);

// mh_pki_spec_parse is mh_pki_spec_load on |len| bytes of |text|, named |name| in messages.
int mh_pki_spec_parse(struct mh_arena *a, const char *name, const char *text, size_t len,
                      struct mh_pki_spec *out, struct mh_err *err);

// mh_pki_spec_print_keys writes, one per line, the JSON path of every key the spec parser accepts
// (e.g. "$.identities[].dns[]"), so that tests can check each one is documented.
void mh_pki_spec_print_keys(FILE *out);

// mh_scenario_parse_duration parses a signed duration such as "90d", "-1h", "1d12h" or "+30m"
// (units s, m, h, d, w; no sign means positive) into seconds. Returns 0, or -1 if |s| is not a
// duration or exceeds 200 years.
int mh_scenario_parse_duration(const char *s, int64_t *out_seconds);

// mh_scenario_json_version returns the version string of the JSON library.
const char *mh_scenario_json_version(void);

#endif
