// check: `check SCENARIO.json`: a scenario and every location's configuration validated, nothing
// opened or generated: run's preflight (the scenario parser, the imports of its fixture spec,
// the profiles), so that what check passes run does not refuse as input.
#include <getopt.h>
#include <stdio.h>

#include "base/arena.h"
#include "base/err.h"
#include "cmd/cmd.h"
#include "input/profile.h"
#include "input/scenario.h"
#include "pki/pki.h"

// check_profiles reads every profile the locations of |s| name (shipped in |dir|, or a file), as
// run would. 0, or -1 with |err| naming the location and the profiles that exist.
static int check_profiles(struct mh_arena *a, const struct mh_scenario *s, const char *dir,
                          size_t *num, struct mh_err *err) {
  *num = 0;
  for (size_t i = 0; i < s->num_locations; i++) {
    const struct mh_location *L = &s->locations[i];
    struct mh_profile p;
    if (L->profile == NULL) {
      continue;
    }
    if (mh_profile_of_location(a, dir, s->file, L->name, L->profile, L->profile_file, &p, err) !=
        0) {
      return -1;
    }
    (*num)++;
  }
  return 0;
}

static int cmd_check(const struct mh_cmd *self, int argc, char **argv) {
  static const struct option longopts[] = {
      {"fixtures", required_argument, NULL, 'F'},
      {"list-keys", no_argument, NULL, 'k'},
      {"profiles", required_argument, NULL, 'P'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct mh_scenario_options sopts = {0};
  const char *profiles = NULL;
  int opt;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (opt) {
      case 'F':
        sopts.fixtures_dir = optarg;
        break;
      case 'P':
        profiles = optarg;
        break;
      case 'k':
        mh_scenario_print_keys(stdout);
        return 0;
      case 'h':
        mh_cmd_usage(self, stdout);
        return 0;
      default:
        fprintf(stderr, "mtls-harness check: see 'mtls-harness check --help'\n");
        return MH_EXIT_INPUT;
    }
  }
  if (optind != argc - 1) {
    fprintf(
        stderr,
        "mtls-harness check: give exactly one SCENARIO.json (e.g. scenarios/federation.json)\n");
    return MH_EXIT_INPUT;
  }
  struct mh_arena arena;
  mh_arena_init(&arena);
  struct mh_scenario s;
  struct mh_err err;
  int rc = 0;
  size_t num_profiles = 0;
  if (mh_scenario_load(&arena, argv[optind], &sopts, &s, &err) != 0 ||
      mh_pki_preflight(&s.spec, &err) != 0 ||
      check_profiles(&arena, &s, mh_cmd_profiles_dir(&arena, argv[optind], profiles), &num_profiles,
                     &err) != 0) {
    fprintf(stderr, "%s\n", err.msg);
    rc = MH_EXIT_INPUT;
  } else {
    size_t comps = 0;
    for (size_t i = 0; i < s.num_locations; i++) {
      comps += s.locations[i].num_components;
    }
    printf(
        "check: %s is valid: %zu locations, %zu components, %zu stack profiles, fixtures from "
        "%s\n",
        argv[optind], s.num_locations, comps, num_profiles, s.spec_file);
  }
  mh_arena_free(&arena);
  return rc;
}

const struct mh_cmd mh_cmd_check = {
    "check", "check SCENARIO.json [--fixtures DIR] [--profiles DIR] [--list-keys]",
    "validate a scenario, every location's SemStreams config and the stack profiles it names, "
    "without opening anything",
    "  --fixtures DIR where fixture paths resolve (default fixtures/out/<spec name>)\n"
    "  --profiles DIR where shipped stack profiles are (default: as run finds them)\n"
    "  --list-keys    print the JSON path of every scenario key, then exit\n"
    "\n"
    "Messages use the real system's words where it has them, e.g.\n"
    "'invalid configuration: security configuration: tls.server.cert_file is required when TLS\n"
    "is enabled', and otherwise 'FILE: $.json.path: problem'. Exit 0 when valid, 2 otherwise.\n"
    "The format: docs/scenarios.md.\n",
    cmd_check};
