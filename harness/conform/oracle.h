// oracle: what a target should do with a case, derived from its policy and the certificates the
// case presents, before any probe (conform/verdict.h judges what it then did). It needs neither
// the probe nor a network: `load` uses it to sort identities.
//
// The expected reason follows the order real stacks use (version, client authentication mode,
// leaf validity, chain to the client CAs and its depth, clientAuth EKU, the identity rules, then
// the CertificateVerify signature), judged on the location's policy model (input/policy.h) and
// the certificates themselves (pki/inspect.h); the profile of the target's stack turns the reason
// into the allowed alerts or HTTP status, and says which rules the stack cannot enforce.
#ifndef MH_ORACLE_H
#define MH_ORACLE_H

#include <stddef.h>

#include "base/outcomes.h"
#include "input/scenario.h"

struct mh_expectation {
  int reject;
  enum mh_reason reason;
  char side;            // 's' server rejects, 'c' the client (us) rejects
  enum mh_layer layer;  // MH_LAYER_NONE: any
  int alerts[8];        // allowed alerts: sent by the server ('s') or by us ('c'); none = any
  size_t num_alerts;
  int status;     // HTTP status for the http layer
  int explicit_;  // written in the scenario rather than derived
  int by_policy;  // the layer and status are the policy's ("verified_only"), not the profile's
  // The policy has the server ask for a client certificate (mTLS enabled): a server that never
  // sends a CertificateRequest does not enforce it, whatever it then does.
  int cert_request;
  // The policy's rules the target's stack cannot enforce (its profile's "cannot", bit (1 << enum
  // mh_policy_rule)): judged all the same (the policy is the contract); conform/warnings.c warns
  // of them before the run and the verdict names them on the acceptances they explain.
  // |cannot_why| is the profile's reason, |profile| its name, NULL without a profile (both live as
  // long as the profile).
  unsigned unenforced;
  const char *cannot_why;
  const char *profile;
};

// mh_oracle_expect computes |out| for case |k| against location |L| (its policy, resolved file
// paths) with |profile| (NULL: none; the manner of a refusal is then not predicted). Explicit
// expectations of |k| win over the oracle. The oracle reads the
// certificates themselves, once generated (validity at the time of the call, EKU, subject, SANs,
// whether the key is the certificate's) and builds their path to the policy's CA files with
// BoringSSL: trust follows keys and signatures, never fixture names or file paths. Returns 0, or
// -1 with |err| set when a certificate, key or CA file cannot be read.
int mh_oracle_expect(const struct mh_scenario *s, const struct mh_location *L,
                     const struct mh_case_spec *k, const struct mh_profile *profile,
                     struct mh_expectation *out, struct mh_err *err);

// mh_oracle_reason_rule returns the policy rule (enum mh_policy_rule) whose failure reason |r| is
// (an identity rule other than the CN's: identity.dn_regex stands for them), or -1.
int mh_oracle_reason_rule(enum mh_reason r);

// mh_oracle_describe writes a one-line description of |x| ("reject by server at tls: alert 116").
void mh_oracle_describe(const struct mh_expectation *x, char *out, size_t out_len);

// mh_oracle_server_root_ca returns the spec index of the root CA that issued location |L|'s server
// certificate (for mocks), or -1.
int mh_oracle_server_root_ca(const struct mh_scenario *s, const struct mh_location *L);

#endif
