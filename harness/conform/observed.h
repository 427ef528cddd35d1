// observed: the stack profile a target's answers imply (docs/runner.md, "Observed profiles"):
// reason by reason, the layer and the alerts (per TLS version) or the HTTP status of the refusals
// the run saw, in the form of profiles/*.json, so that an operator can pin what the deployment does
// today and see a later change of manner as pass-conceptual.
#ifndef MH_CONFORM_OBSERVED_H
#define MH_CONFORM_OBSERVED_H

#include <stddef.h>

#include "input/profile.h"
#include "conform/result.h"

// mh_observed is one target's observed profile. A reason appears (profile.rules[r].set) when at
// least one case refused for it as the policy says, by the server, attributably, and every such
// case refused at the same layer (at HTTP, with the same status). At TLS each version's list holds
// the alerts seen; it is empty (any refusal at TLS) for a version whose cases refused without an
// alert as well, or that no case of the reason exercised. |left_out| names each reason seen but not
// written, and why ("cn_not_allowed: HTTP 401 and HTTP 403"); "" when none.
struct mh_observed {
  const char *target;
  struct mh_profile profile;  // name: the target's name; description: where it comes from
  size_t num_cases;           // the refusals it was made from
  size_t num_reasons;         // reasons written
  char description[1200];
  char left_out[512];
};

// mh_observed_build fills |out| with the profile that the cases of |target| among |cases| imply.
// |out->profile| points into |out| and into |cases|.
void mh_observed_build(const struct mh_case_result *cases, size_t num_cases, const char *target,
                       const char *scenario_name, struct mh_observed *out);

#endif
