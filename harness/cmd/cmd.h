// cmd: the commands of mtls-harness, the top layer (docs/design.md): each reads its own options,
// calls the layers below and turns their result into an exit code. Only commands call report/;
// nothing below prints an error or exits. main.c finds a command by its name in this table.
#ifndef MH_CMD_H
#define MH_CMD_H

#include <stddef.h>
#include <stdio.h>

#include "base/arena.h"
#include "base/net.h"

// Exit codes: 0 success; 1 a check of the system under test failed; 2 the harness or its input
// is wrong (one line on stderr names the file, the JSON path or option, and the fix); 128 + the
// signal when one stopped a run.
#define MH_EXIT_INPUT 2

// mh_cmd is one command: its help and its entry point.
struct mh_cmd {
  const char *name;
  const char *synopsis;
  const char *summary;
  const char *options;
  // run runs the command on its arguments (argv[0] is the command's name) and returns the exit
  // code; |self| is this entry, for its --help.
  int (*run)(const struct mh_cmd *self, int argc, char **argv);
};

extern const struct mh_cmd mh_cmd_pki, mh_cmd_check, mh_cmd_serve, mh_cmd_run, mh_cmd_load,
    mh_cmd_merge;

// mh_cmd_usage writes the --help of command |c| to |out|.
void mh_cmd_usage(const struct mh_cmd *c, FILE *out);

// MH_CMD_MAX_PINS bounds --resolve entries per command line.
#define MH_CMD_MAX_PINS 32

// mh_cmd_add_pin parses one --resolve NAME:PORT:ADDR of command |cmd| into |pins| (room for
// MH_CMD_MAX_PINS); prints the one-line error and returns -1 if it is malformed or one too many.
int mh_cmd_add_pin(const char *cmd, struct mh_net_pin *pins, size_t *num, const char *text);

// mh_cmd_profiles_dir returns where a command that reads |scenario_file| (NULL: none) finds the
// stack profiles: |given| (--profiles), else the profiles/ beside the scenario's folder when there
// is one, else the shipped profiles/. Allocated from |a|, or static.
const char *mh_cmd_profiles_dir(struct mh_arena *a, const char *scenario_file, const char *given);

// mh_cmd_fixtures_cache returns the fixtures cache (pki/cache.h) of a command that generates a
// scenario's fixtures: none with |off| (--no-fixtures-cache) or MH_FIXTURES_CACHE=off; else
// |given| (--fixtures-cache DIR); else $MH_FIXTURES_CACHE; else
// $XDG_CACHE_HOME/mtls-harness/fixtures, else ~/.cache/mtls-harness/fixtures; NULL: none (no
// home either). Allocated from |a|, or the environment's.
const char *mh_cmd_fixtures_cache(struct mh_arena *a, const char *given, int off);

// The help lines of the two options, shared by run, load and serve.
#define MH_CMD_FIXTURES_CACHE_HELP                                                          \
  "  --fixtures-cache DIR reuse fixtures generated from the same spec and imported files\n" \
  "                       (0600, checked against tampering, at most a day old; default\n"   \
  "                       $MH_FIXTURES_CACHE or ~/.cache/mtls-harness/fixtures)\n"          \
  "  --no-fixtures-cache  generate every key again (MH_FIXTURES_CACHE=off does too)\n"

// mh_version_print writes the harness's version and the version of every library it links, and
// which BoringSSL build is loaded (cmd/version.c).
void mh_version_print(FILE *out);

#endif
