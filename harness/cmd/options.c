// options: what the commands' option parsing has in common: --help, --resolve pins, where the
// stack profiles are, the fixtures cache.
#include "cmd/cmd.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"

void mh_cmd_usage(const struct mh_cmd *c, FILE *out) {
  fprintf(out, "Usage: mtls-harness %s\n\n%s.\n\nOptions:\n%s", c->synopsis, c->summary,
          c->options);
}

int mh_cmd_add_pin(const char *cmd, struct mh_net_pin *pins, size_t *num, const char *text) {
  struct mh_err err;
  if (*num >= MH_CMD_MAX_PINS) {
    fprintf(stderr, "mtls-harness %s: --resolve: at most %d entries\n", cmd, MH_CMD_MAX_PINS);
    return -1;
  }
  if (mh_net_parse_pin(text, &pins[*num], &err) != 0) {
    fprintf(stderr, "mtls-harness %s: --resolve %s\n", cmd, err.msg);
    return -1;
  }
  (*num)++;
  return 0;
}

const char *mh_cmd_profiles_dir(struct mh_arena *a, const char *scenario_file, const char *given) {
  if (given != NULL) {
    return given;
  }
  if (scenario_file != NULL) {
    const char *slash = strrchr(scenario_file, '/');
    const char *near =
        slash ? mh_arena_sprintf(a, "%.*s/../profiles", (int)(slash - scenario_file), scenario_file)
              : "../profiles";
    struct stat sb;
    if (near != NULL && stat(near, &sb) == 0) {
      return near;
    }
  }
  return MH_DEFAULT_PROFILES_DIR;
}

const char *mh_cmd_fixtures_cache(struct mh_arena *a, const char *given, int off) {
  const char *env = getenv("MH_FIXTURES_CACHE");
  if (off || (given == NULL && env != NULL && strcmp(env, "off") == 0)) {
    return NULL;
  }
  if (given != NULL || (env != NULL && *env != 0)) {
    return given != NULL ? given : env;
  }
  const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  if (xdg != NULL && xdg[0] == '/') {  // the XDG spec: a relative one is ignored
    return mh_arena_sprintf(a, "%s/mtls-harness/fixtures", xdg);
  }
  return home != NULL && home[0] == '/'
             ? mh_arena_sprintf(a, "%s/.cache/mtls-harness/fixtures", home)
             : NULL;
}
