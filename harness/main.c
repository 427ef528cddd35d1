// main: finds the command named on the command line and runs it (cmd/); nothing else happens here.
//
// Exit codes: 0 success; 1 the system under test failed a check; 2 the harness or its input is
// wrong (the one-line message on stderr names the file, the JSON path and the fix).
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "tls/tls.h"

// commands lists the commands in the order --help shows them.
static const struct mh_cmd *const commands[] = {&mh_cmd_pki, &mh_cmd_check, &mh_cmd_serve,
                                                &mh_cmd_run, &mh_cmd_load,  &mh_cmd_merge};
#define NUM_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out) {
  fprintf(out,
          "mtls-harness: conformance and load testing for mutual-TLS deployments\n"
          "\n"
          "Usage: mtls-harness <command> [options]\n"
          "       mtls-harness <command> --help\n"
          "       mtls-harness --version | --help\n"
          "\n"
          "Commands:\n");
  for (size_t i = 0; i < NUM_COMMANDS; i++) {
    fprintf(out, "  %-8s %s\n", commands[i]->name, commands[i]->summary);
  }
  fprintf(out,
          "\n"
          "Exit codes: 0 success, 1 a check of the system under test failed,\n"
          "            2 harness or input error (message on stderr).\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return MH_EXIT_INPUT;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
    mh_version_print(stdout);
    return 0;
  }
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    if (argc > 2) {
      for (size_t i = 0; i < NUM_COMMANDS; i++) {
        if (strcmp(argv[2], commands[i]->name) == 0) {
          mh_cmd_usage(commands[i], stdout);
          return 0;
        }
      }
      fprintf(stderr, "mtls-harness: unknown command '%s' (see 'mtls-harness --help')\n", argv[2]);
      return MH_EXIT_INPUT;
    }
    usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < NUM_COMMANDS; i++) {
    if (strcmp(cmd, commands[i]->name) == 0) {
      int rc = commands[i]->run(commands[i], argc - 1, argv + 1);
      mh_tls_keylog_close();  // --keylog or SSLKEYLOGFILE: flushed and closed before exit
      return rc;
    }
  }
  fprintf(stderr, "mtls-harness: unknown command '%s' (see 'mtls-harness --help')\n", cmd);
  return MH_EXIT_INPUT;
}
