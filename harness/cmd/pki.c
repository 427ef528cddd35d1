// pki: `pki SPEC.json --out DIR`: the fixture PKI a spec declares, written all at once.
#include <getopt.h>
#include <stdio.h>

#include "base/arena.h"
#include "base/err.h"
#include "cmd/cmd.h"
#include "input/pki_spec.h"
#include "pki/pki.h"

static int cmd_pki(const struct mh_cmd *self, int argc, char **argv) {
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
        mh_cmd_usage(self, stdout);
        return 0;
      default:
        fprintf(stderr, "mtls-harness pki: see 'mtls-harness pki --help'\n");
        return MH_EXIT_INPUT;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr,
            "mtls-harness pki: give exactly one SPEC.json (e.g. fixtures/federation.json)\n");
    return MH_EXIT_INPUT;
  }
  if (opts.out_dir == NULL || opts.out_dir[0] == '\0') {
    fprintf(stderr,
            "mtls-harness pki: --out DIR is required (e.g. --out fixtures/out/federation)\n");
    return MH_EXIT_INPUT;
  }
  struct mh_arena arena;
  mh_arena_init(&arena);
  struct mh_err err;
  struct mh_pki_spec spec;
  int rc = 0;
  if (mh_pki_spec_load(&arena, argv[optind], &spec, &err) != 0 ||
      mh_pki_generate(&spec, &opts, &err) != 0) {
    fprintf(stderr, "%s\n", err.msg);
    rc = MH_EXIT_INPUT;
  }
  mh_arena_free(&arena);
  return rc;
}

const struct mh_cmd mh_cmd_pki = {
    "pki", "pki SPEC.json --out DIR [--force] [--verbose]",
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
    cmd_pki};
