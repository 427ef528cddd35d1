// command: `load` from its options to its exit code: the target (a mock location started for the
// run, or an external one anywhere, resolved once), the identities, one run or a sweep, the report
// and the console summary. main.c parses the command line into mh_load_command and calls
// mh_load_command_run.
#ifndef MH_LOAD_COMMAND_H
#define MH_LOAD_COMMAND_H

#include "base/err.h"
#include "base/net.h"
#include "load/load.h"

// mh_load_command is `load`'s options, as given (NULL or 0: not given).
struct mh_load_command {
  const char *scenario_file;      // SCENARIO.json, with |location|
  const char *location;           // --location NAME
  const char *target;             // --target HOST:PORT (a name, an IPv4 or a [IPv6] address)
  const struct mh_net_pin *pins;  // --resolve NAME:PORT:ADDR, with |target|
  size_t num_pins;
  const char *ca_file;          // --ca FILE, with |target|
  const char *identities_from;  // --identities-from SPEC.json
  const char *fixtures_dir;     // --fixtures DIR, with |target|
  const char *identities;       // --identity A,B
  const char *bad_identities;   // --bad-identity X,Y
  const char *out_dir;          // --out DIR; default reports/<name>-load-<timestamp>
  int sweep;                    // --sweep
  double sweep_p99_ms;          // --sweep-p99-ms; 0: 10
  int server_threads;           // --server-threads; 0: 1
  const char *profile;          // --profile NAME: the stack's profile; default: the location's
  const char *profiles_dir;     // --profiles DIR; default: near the scenario, or the shipped one
  int extra_arguments;          // operands beyond SCENARIO.json: refused
  int keep_fixtures;            // --keep-fixtures: with --location, keep <out>/fixtures even
                                // when the command fails or is interrupted
  int force;                    // --force: empty an --out that is not empty (refused otherwise)
  const char *shard;            // --shard I/N (load/shard.h), NULL: not sharded
  const char *start_at;         // --start-at TIME, NULL: at once
  // The run's numbers, version, --server-name and --quiet, each within its option's range
  // (main.c checks the ranges); rate 0 and connections 0: not given; threads 0: the default.
  struct mh_load_options load;
};

// mh_load_command_run runs `load` as |c| says: prints the banner and progress on stderr, the
// summary on stdout, and writes the report directory. Returns 0, 1 if a handshake failed
// unexpectedly (not for a sweep, which ends where errors start), or -1 with |err| set when the
// options or the input are wrong or the run could not start (no report file is written then;
// with --location the fixtures generated in the report directory are removed again, unless
// --keep-fixtures). SIGINT/SIGTERM stop the run: the report of what ended is written, marked
// interrupted, and the result is 128 + the signal (130, 143).
int mh_load_command_run(const struct mh_load_command *c, struct mh_err *err);

#endif
