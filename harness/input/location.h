// location: the types of one location of a scenario (a mock the harness runs, or an external
// target) and of its components, shared by the scenario parser and the SemStreams configuration
// parser that fills them. Plain, read-only data in the caller's arena.
#ifndef MH_INPUT_LOCATION_H
#define MH_INPUT_LOCATION_H

#include <stddef.h>
#include <stdint.h>

#include "input/acme.h"
#include "input/policy.h"
#include "tls/tls.h"

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
  const char *host;          // the DNS name other locations use for it
  const char *address;       // the address it binds and that |host| resolves to (loopback unless
                             // |bind_beyond_loopback|)
  int bind_beyond_loopback;  // "bind_beyond_loopback": true lets |address| be any local address
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
  // What the location is meant to enforce, as the oracle reads it: from |server| and
  // |nginx_dn_regex| for a mock, from the declared "policy" for an external target.
  struct mh_policy policy;
  // Faults a mock can be told to commit, to see the runner catch them.
  int fault_ignore_allowlist;    // accept any CN
  int fault_rst_on_reject;       // close a rejected connection with RST instead of FIN + drain
  struct mh_acme_location acme;  // ACME mode, hot reload, rotation on command (input/acme.h)
  // An external target (a real deployment) instead of a mock.
  int is_target;
  const char *target_host;  // as written, brackets removed: a DNS name, an IPv4 or IPv6 address;
                            // resolved by the probe at each case (base/net.h)
  int target_port;
  const char *server_name;
  const char *const *target_ca_files;  // roots for the target's server certificate
  size_t num_target_ca_files;
  const char *path;  // request path for probes (mocks: their output's path)
  // The stack profile as the scenario names it: a shipped name ("semstreams", "nginx-http") or a
  // file's path (then |profile_file| is that path resolved against the scenario's directory).
  // NULL for an external target that names none (a mock is SemStreams', or nginx's when it
  // emulates nginx).
  const char *profile;
  const char *profile_file;
  // How a probe asks (docs/scenarios.md, "request"): MH_REQUEST_DEFAULT is the WebSocket upgrade
  // for a mock and a target with the "semstreams" profile, an HTTP GET for other targets.
  enum mh_request_mode request;
  int first_read_ms;  // 0: the default (1000 ms with "tls", 3000 ms otherwise)
  int close_wait_ms;  // 0: the default: how long the probe waits for the server's close
};

#endif
