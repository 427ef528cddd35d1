// identities: the client identities of a load run (see identities.h).
#include "load/identities.h"

#include <stdio.h>
#include <string.h>

#include "conform/oracle.h"

// client_fit says whether |e| can authenticate a client at all: an identity whose key matches,
// with clientAuth (or no extended key usage), valid now.
static int client_fit(const struct mh_pki_entity *e) {
  return !e->is_ca && !e->key_mismatch && e->not_before <= 0 && e->not_after > 0 &&
         (!e->has_eku || (e->eku_mask & (1u << MH_EKU_CLIENT_AUTH)) != 0);
}

// unknown_identity sets |err| for a |name| that |spec| has no identity of, listing those it has.
static int unknown_identity(const struct mh_pki_spec *spec, const char *name, struct mh_err *err) {
  char list[MH_ERR_LEN / 2];
  size_t len = 0;
  list[0] = '\0';
  for (size_t i = 0; i < spec->num_entities && len < sizeof(list); i++) {
    if (!spec->entities[i].is_ca) {
      int n =
          snprintf(list + len, sizeof(list) - len, "%s%s", len ? ", " : "", spec->entities[i].name);
      len += n > 0 ? (size_t)n : 0;
    }
  }
  return mh_err_set(err, "%s: no identity \"%s\"; the spec's identities are: %s", spec->file, name,
                    len ? list : "(none)");
}

// identity_files fills |id| with spec identity |name|'s files under |fixtures_dir|.
static int identity_files(struct mh_arena *a, const struct mh_pki_spec *spec,
                          const char *fixtures_dir, const char *name, struct mh_load_identity *id,
                          struct mh_err *err) {
  int idx = mh_pki_spec_entity(spec, name);
  if (idx < 0 || spec->entities[idx].is_ca) {
    return unknown_identity(spec, name, err);
  }
  const struct mh_pki_entity *e = &spec->entities[idx];
  id->name = spec->entities[idx].name;
  char path[4096];
  mh_pki_spec_file(spec, fixtures_dir, e->chain_file ? e->chain_file : e->cert_file, path,
                   sizeof(path));
  id->cert_file = mh_arena_strdup(a, path);
  mh_pki_spec_file(spec, fixtures_dir, e->key_file, path, sizeof(path));
  id->key_file = mh_arena_strdup(a, path);
  if (id->cert_file == NULL || id->key_file == NULL) {
    return mh_err_set(err, "out of memory");
  }
  return 0;
}

// named fills |ids| with the identities of the comma-separated |names| (at most
// MH_LOAD_MAX_IDENTITIES) and sets |*num|. Returns 0 or -1 with |err| set.
static int named(struct mh_arena *a, const struct mh_load_identity_request *rq, const char *names,
                 struct mh_load_identity *ids, size_t *num, struct mh_err *err) {
  char *copy = mh_arena_strdup(a, names);
  if (copy == NULL) {
    return mh_err_set(err, "out of memory");
  }
  char *save = NULL;
  *num = 0;
  for (char *tok = strtok_r(copy, ",", &save); tok != NULL && *num < MH_LOAD_MAX_IDENTITIES;
       tok = strtok_r(NULL, ",", &save)) {
    if (identity_files(a, rq->spec, rq->fixtures_dir, tok, &ids[(*num)++], err) != 0) {
      return -1;
    }
  }
  return 0;
}

// judged adds the spec's identities the location's policy accepts (every one, or the first) to
// the good ones unless they were named, and those it refuses (for the certificate, not the
// version) to the bad ones unless they were named: the two are never mixed.
static int judged(struct mh_arena *a, const struct mh_load_identity_request *rq,
                  struct mh_load_identities *out, struct mh_err *err) {
  struct mh_profile none;
  memset(&none, 0, sizeof(none));
  struct mh_scenario judge = *rq->scenario;
  judge.spec = *rq->spec;
  for (size_t i = 0; i < rq->spec->num_entities; i++) {
    const struct mh_pki_entity *e = &rq->spec->entities[i];
    if (e->is_ca || e->key_mismatch) {
      continue;
    }
    struct mh_case_spec k = {
        .target = rq->location->name, .identity = e->name, .version = rq->version};
    struct mh_expectation x;
    if (mh_oracle_expect(&judge, rq->location, &k, &none, &x, err) != 0) {
      return -1;
    }
    struct mh_load_identity *id = NULL;
    if (!x.reject && rq->names == NULL && out->num_good < MH_LOAD_MAX_IDENTITIES &&
        (rq->every || out->num_good == 0)) {
      id = &out->good[out->num_good++];
    } else if (x.reject && x.side == 's' && x.reason != MH_REASON_VERSION &&
               x.reason != MH_REASON_VERSION_TOO_HIGH && rq->bad_names == NULL &&
               out->num_bad < MH_LOAD_MAX_IDENTITIES) {
      id = &out->bad[out->num_bad++];
    }
    if (id != NULL && identity_files(a, rq->spec, rq->fixtures_dir, e->name, id, err) != 0) {
      return -1;
    }
  }
  return 0;
}

// fit adds every identity of the spec fit for client authentication, except the bad ones.
static int fit(struct mh_arena *a, const struct mh_load_identity_request *rq,
               struct mh_load_identities *out, struct mh_err *err) {
  const struct mh_pki_spec *spec = rq->spec;
  for (size_t i = 0; i < spec->num_entities && out->num_good < MH_LOAD_MAX_IDENTITIES; i++) {
    int is_bad = 0;
    for (size_t b = 0; b < out->num_bad; b++) {
      is_bad |= strcmp(out->bad[b].name, spec->entities[i].name) == 0;
    }
    if (!is_bad && client_fit(&spec->entities[i]) &&
        identity_files(a, spec, rq->fixtures_dir, spec->entities[i].name,
                       &out->good[out->num_good++], err) != 0) {
      return -1;
    }
  }
  return 0;
}

int mh_load_identities_choose(struct mh_arena *a, const struct mh_load_identity_request *rq,
                              struct mh_load_identities *out, struct mh_err *err) {
  memset(out, 0, sizeof(*out));
  if ((rq->names != NULL && named(a, rq, rq->names, out->good, &out->num_good, err) != 0) ||
      (rq->bad_names != NULL && named(a, rq, rq->bad_names, out->bad, &out->num_bad, err) != 0)) {
    return -1;
  }
  if (rq->location != NULL && (out->num_good == 0 || (rq->want_bad && out->num_bad == 0))) {
    if (judged(a, rq, out, err) != 0) {
      return -1;
    }
  } else if (rq->location == NULL && out->num_good == 0 && fit(a, rq, out, err) != 0) {
    return -1;
  }
  if (out->num_good == 0) {
    return mh_err_set(err, "mtls-harness load: no client identity (give --identity)");
  }
  if (rq->want_bad && out->num_bad == 0) {
    return mh_err_set(err, "mtls-harness load: --bad-share needs --bad-identity (none found)");
  }
  return 0;
}
