// main: the command line. It parses options, dispatches to a module and turns the result into an
// exit code; nothing else happens here.
//
// Exit codes: 0 success; 1 the system under test failed a check; 2 the harness or its input is
// wrong (the one-line message on stderr names the file, the JSON path and the fix).
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "err.h"
#include "pki.h"
#include "scenario.h"
#include "version.h"

#define EXIT_INPUT 2

struct command {
  const char *name;
  const char *synopsis;
  const char *summary;
  const char *options;
  int (*run)(int argc, char **argv);
};

static int cmd_pki(int argc, char **argv);

static const struct command commands[] = {
    {"pki", "pki SPEC.json --out DIR [--force] [--verbose]",
     "generate the fixture PKI a spec declares: keys, CSRs, certificates, chains, zips",
     "  --out DIR      where to write (created if missing); paths in the spec are below it\n"
     "  --force        regenerate CA keys too (by default an existing CA key is reused)\n"
     "  --verbose      list every file written\n"
     "  --list-keys    print the JSON path of every key a spec may contain, then exit\n"
     "\n"
     "Everything is written or nothing is: a bad spec fails with\n"
     "'SPEC: $.json.path: what is wrong' and exit 2 before any file is created.\n"
     "Private keys (and zips holding them) are mode 0600. The spec format: docs/pki-spec.md.\n"
     "Shipped specs: fixtures/miniconomy.json (seed 000), fixtures/federation.json (SemStreams).\n",
     cmd_pki},
};
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
    fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
  }
  fprintf(out,
          "\n"
          "Exit codes: 0 success, 1 a check of the system under test failed,\n"
          "            2 harness or input error (message on stderr).\n");
}

static void command_usage(const struct command *c, FILE *out) {
  fprintf(out, "Usage: mtls-harness %s\n\n%s.\n\nOptions:\n%s", c->synopsis, c->summary,
          c->options);
}

static int cmd_pki(int argc, char **argv) {
  static const struct option longopts[] = {
      {"out", required_argument, NULL, 'o'}, {"force", no_argument, NULL, 'f'},
      {"verbose", no_argument, NULL, 'v'},   {"list-keys", no_argument, NULL, 'k'},
      {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0},
  };
  struct mh_pki_options opts = {0};
  int opt;
  while ((opt = getopt_long(argc, argv, "o:fvh", longopts, NULL)) != -1) {
    switch (opt) {
      case 'o':
        opts.out_dir = optarg;
        break;
      case 'f':
        opts.force = 1;
        break;
      case 'v':
        opts.verbose = 1;
        break;
      case 'k':
        mh_pki_spec_print_keys(stdout);
        return 0;
      case 'h':
        command_usage(&commands[0], stdout);
        return 0;
      default:
        fprintf(stderr, "mtls-harness pki: see 'mtls-harness pki --help'\n");
        return EXIT_INPUT;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr,
            "mtls-harness pki: give exactly one SPEC.json (e.g. fixtures/federation.json)\n");
    return EXIT_INPUT;
  }
  if (opts.out_dir == NULL || opts.out_dir[0] == '\0') {
    fprintf(stderr,
            "mtls-harness pki: --out DIR is required (e.g. --out fixtures/out/federation)\n");
    return EXIT_INPUT;
  }
  struct mh_arena arena;
  mh_arena_init(&arena);
  struct mh_err err;
  struct mh_pki_spec spec;
  int rc = 0;
  if (mh_pki_spec_load(&arena, argv[optind], &spec, &err) != 0 ||
      mh_pki_generate(&spec, &opts, &err) != 0) {
    fprintf(stderr, "%s\n", err.msg);
    rc = EXIT_INPUT;
  }
  mh_arena_free(&arena);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return EXIT_INPUT;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
    mh_version_print(stdout);
    return 0;
  }
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    if (argc > 2) {
      for (size_t i = 0; i < NUM_COMMANDS; i++) {
        if (strcmp(argv[2], commands[i].name) == 0) {
          command_usage(&commands[i], stdout);
          return 0;
        }
      }
      fprintf(stderr, "mtls-harness: unknown command '%s' (see 'mtls-harness --help')\n", argv[2]);
      return EXIT_INPUT;
    }
    usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < NUM_COMMANDS; i++) {
    if (strcmp(cmd, commands[i].name) == 0) {
      return commands[i].run(argc - 1, argv + 1);
    }
  }
  fprintf(stderr, "mtls-harness: unknown command '%s' (see 'mtls-harness --help')\n", cmd);
  return EXIT_INPUT;
}
