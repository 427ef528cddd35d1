// identities: which client certificates a load run presents. Named ones, or those a fixture spec
// offers: against a mock location the oracle sorts them by the location's policy into accepted
// (good) and refused-for-their-CN (bad) ones; against an external target every identity fit for
// client authentication is good.
#ifndef MH_LOAD_IDENTITIES_H
#define MH_LOAD_IDENTITIES_H

#include <stddef.h>

#include "base/arena.h"
#include "base/err.h"
#include "input/scenario.h"
#include "load/load.h"
#include "pki/pki.h"

#define MH_LOAD_MAX_IDENTITIES 64

// mh_load_identity_request says where identities come from and which are wanted.
struct mh_load_identity_request {
  const struct mh_pki_spec *spec;  // the identities' fixture spec
  const char *fixtures_dir;        // where |spec| was generated
  const char *names;               // --identity A,B: comma-separated, or NULL
  const char *bad_names;           // --bad-identity X,Y, or NULL
  int every;                       // --identities-from: every usable identity, not the first
  int want_bad;                    // --bad-share above 0: bad identities are needed
  // With a mock location (else NULL): the oracle judges each identity against its policy.
  const struct mh_scenario *scenario;
  const struct mh_location *location;
  int version;  // MH_TLS12 or MH_TLS13, as offered
};

// mh_load_identities is the outcome: good identities (expected to be accepted) and bad ones
// (expected to be rejected), each used round-robin.
struct mh_load_identities {
  struct mh_load_identity good[MH_LOAD_MAX_IDENTITIES];
  size_t num_good;
  struct mh_load_identity bad[MH_LOAD_MAX_IDENTITIES];
  size_t num_bad;
};

// mh_load_identities_choose fills |out| as |rq| asks; file names are allocated in |a|. Returns 0,
// or -1 with |err| set: a name the spec does not have (the message lists those it has), no good
// identity, or no bad one when |rq->want_bad|.
int mh_load_identities_choose(struct mh_arena *a, const struct mh_load_identity_request *rq,
                              struct mh_load_identities *out, struct mh_err *err);

#endif
