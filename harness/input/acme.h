// acme: the ACME parts of a scenario: a location's `acme` blocks of the real SemStreams config
// (checked as acme.Config.Validate does), the harness's own location keys for ACME and rotation
// (hot_reload, acme_check_interval_s, rotate) and the ACME test server a scenario starts
// ("acme_server": {"pebble": {...}}). Plain, read-only data in the scenario's arena.
#ifndef MH_INPUT_ACME_H
#define MH_INPUT_ACME_H

#include <stddef.h>
#include <stdio.h>

struct cJSON;
struct mh_json_ctx;
struct mh_semstreams_ctx;

#define MH_ACME_DEFAULT_RENEW_BEFORE_S (8 * 3600.0)  // acme.Config's default, and its fallback
#define MH_ACME_DEFAULT_CHECK_INTERVAL_S 3600.0      // StartRenewalLoop(ctx, 1*time.Hour, ...)

// mh_acme_config is one security.tls.{server,client}.acme block in effect (mode "acme" and
// enabled).
struct mh_acme_config {
  const char *role;  // "server" or "client", for messages and the storage directory
  const char *directory_url;
  const char *email;
  const char **domains;
  size_t num_domains;
  int tls_alpn;              // challenge_type "tls-alpn-01" (else "http-01")
  double renew_before_s;     // unparseable: 8 h, as the real code
  const char *storage_path;  // as written in the config
  const char *storage_dir;   // where it lives on this machine (docs/acme.md)
  const char *ca_bundle;     // resolved; NULL: the system's roots
};

// mh_pebble_config is "acme_server": {"pebble": {...}}: a pebble the harness starts on loopback.
struct mh_pebble_config {
  const char *listen;       // "127.0.0.1:14000": the ACME directory is https://<listen>/dir
  const char *management;   // "127.0.0.1:15000": its roots, /roots/0
  int http_port;            // where pebble validates HTTP-01 (lego listens there)
  int tls_port;             // where pebble validates TLS-ALPN-01
  const char *dns;          // "127.0.0.1:8053": pebble-challtestsrv's DNS (every name: 127.0.0.1)
  const char *certificate;  // pebble's own HTTPS certificate and key (fixtures, resolved)
  const char *private_key;
  long long validity_s;   // the lifetime of what it issues
  const char *root_rel;   // the root file's name under certs_dir ("pebble-root.pem")
  const char *root_file;  // where the harness writes the root it fetches from pebble
  const char *work_dir;   // pebble's config and logs
};

// mh_acme_location is a location's ACME and rotation settings (all optional).
struct mh_acme_location {
  const struct mh_acme_config *server;  // NULL: manual mode
  const struct mh_acme_config *client;
  int hot_reload;           // a renewed server certificate is served to new handshakes
  double check_interval_s;  // the renewal loop's period
  double rotate_at_s;       // < 0: no rotation on command
  int rotate_new_key;
};

// mh_acme_go_duration parses Go's time.ParseDuration syntax ("8h", "1h30m", "90s", "1.5h",
// "300ms") into seconds. Returns 0, or -1 if |s| is not a duration.
int mh_acme_go_duration(const char *s, double *out_s);

// mh_acme_parse_config reads an acme block |acme| of tls.<role> (the current path of |c|) into a
// new config in the arena (*out). |field| is "tls.server.acme" or "tls.client.acme" for messages;
// |location| names the storage directory. Errors are acme.Config.Validate's words. Returns 0 or -1.
int mh_acme_parse_config(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc,
                         const struct cJSON *acme, const char *role, const char *location,
                         struct mh_acme_config **out);

// mh_acme_parse_location reads a location's "hot_reload", "acme_check_interval_s" and "rotate"
// keys of |lj| into |out| (defaults when absent). Returns 0 or -1.
int mh_acme_parse_location(struct mh_json_ctx *c, const struct cJSON *lj,
                           struct mh_acme_location *out);

// mh_acme_parse_server reads the scenario's "acme_server" (if any) into a new config (*out, NULL
// when absent); |certs_dir| and |fixtures_dir| locate its files. Returns 0 or -1.
int mh_acme_parse_server(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc,
                         const struct cJSON *root, struct mh_pebble_config **out);

// mh_acme_print_keys writes the JSON path of every scenario key this file reads.
void mh_acme_print_keys(FILE *out);

#endif
