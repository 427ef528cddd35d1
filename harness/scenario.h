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

#include "arena.h"
#include "err.h"
#include "pki.h"
#include "tls.h"

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
};

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
