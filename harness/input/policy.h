// policy: the policy model a location is judged by (docs/scenarios.md, "The policy model"): who
// must present a client certificate, the CAs it must chain to, which identities are allowed, the
// versions and the chain depth. A mock's SemStreams (or nginx) configuration and an external
// target's declared "policy" both become one struct mh_policy, the only thing the oracle reads.
#ifndef MH_INPUT_POLICY_H
#define MH_INPUT_POLICY_H

#include <stddef.h>
#include <stdio.h>

#include "base/outcomes.h"

struct mh_json_ctx;
struct mh_semstreams_ctx;
struct mh_location;
struct cJSON;

// Client authentication modes: X(enum suffix, keyword). As nginx's ssl_verify_client: require (a
// verified certificate), optional (none, or a verified one), optional_no_ca (none, or one whose
// chain to a trusted CA may fail; other verification errors still reject), none (never asked).
#define MH_CLIENT_AUTHS(X)            \
  X(NONE, "none")                     \
  X(OPTIONAL, "optional")             \
  X(OPTIONAL_NO_CA, "optional_no_ca") \
  X(REQUIRE, "require")

enum mh_client_auth {
#define X(e, kw) MH_CLIENT_AUTH_##e,
  MH_CLIENT_AUTHS(X)
#undef X
      MH_CLIENT_AUTH_NUM
};

// The rules of the model, by their key in the policy schema: X(enum suffix, key). A profile's
// "cannot" names them; the identity rules are listed in the order the oracle reports a failure.
#define MH_POLICY_RULES(X)                        \
  X(CLIENT_AUTH, "client_auth")                   \
  X(CLIENT_CA_FILES, "client_ca_files")           \
  X(ID_CN, "identity.cn")                         \
  X(ID_DN_REGEX, "identity.dn_regex")             \
  X(ID_DNS_SAN, "identity.dns_san")               \
  X(ID_URI_SAN, "identity.uri_san")               \
  X(ID_URI_SAN_PREFIX, "identity.uri_san_prefix") \
  X(ID_HOST, "identity.host")                     \
  X(MIN_VERSION, "min_version")                   \
  X(MAX_VERSION, "max_version")                   \
  X(VERIFY_DEPTH, "verify_depth")                 \
  X(REVOCATION, "revocation")

enum mh_policy_rule {
#define X(e, key) MH_POLICY_##e,
  MH_POLICY_RULES(X)
#undef X
      MH_POLICY_RULE_NUM
};

// The identity rules' bits (1 << enum mh_policy_rule).
#define MH_POLICY_IDENTITY_MASK                                                             \
  ((1u << MH_POLICY_ID_CN) | (1u << MH_POLICY_ID_DN_REGEX) | (1u << MH_POLICY_ID_DNS_SAN) | \
   (1u << MH_POLICY_ID_URI_SAN) | (1u << MH_POLICY_ID_URI_SAN_PREFIX) | (1u << MH_POLICY_ID_HOST))

// mh_policy is what a location is meant to enforce. Strings live in the scenario's arena.
struct mh_policy {
  enum mh_client_auth client_auth;
  const char *const *client_ca_files;  // resolved paths: the only roots for client certificates
  size_t num_client_ca_files;
  // Identity rules: a certificate is allowed if any rule that is set matches; none set: any.
  const char *const *cn;  // exact, case-sensitive subject CN
  size_t num_cn;
  const char *dn_regex;        // POSIX ERE on the subject DN in RFC 2253 order; NULL: not set
  const char *const *dns_san;  // exact DNS SAN (case-insensitive, as DNS names compare)
  size_t num_dns_san;
  const char *const *uri_san;  // exact URI SAN
  size_t num_uri_san;
  const char *const *uri_san_prefix;  // URI SAN prefix
  size_t num_uri_san_prefix;
  const char *const *host;  // X509_check_host: DNS SANs if any, else the CN
  size_t num_host;
  int min_version;  // MH_TLS12 or MH_TLS13
  int max_version;  // MH_TLS12 or MH_TLS13, 0: none
  // OpenSSL's verify depth: how many intermediates may stand between the client certificate and
  // its trust anchor, when |rules| has MH_POLICY_VERIFY_DEPTH. -1 (Apache's SSLVerifyDepth 0)
  // admits only a client certificate that is itself the trust anchor.
  int verify_depth;
  // "verified_only": the TLS layer asks for a certificate optionally (client_auth optional or
  // optional_no_ca) and the application admits only clients whose certificate verified, refusing
  // the others with one of |refusal_statuses| (an answer with one of them is a refusal, also below
  // 400, e.g. a redirect to a login page).
  int verified_only;
  int refusal_statuses[8];
  size_t num_refusal_statuses;
  // "revocation": the CRL files the deployment checks client chains against (resolved paths),
  // every CA's of the path unless |crl_leaf_only| (the leaf's issuer's only), when |rules| has
  // MH_POLICY_REVOCATION.
  const char *const *crl_files;
  size_t num_crl_files;
  int crl_leaf_only;
  unsigned rules;  // bit (1 << enum mh_policy_rule) for each rule the policy sets
  // The reason an identity failure gets when the rule set does not decide it: a SemStreams
  // allow-list, or an nginx mock's dn_regex, is cn_not_allowed, as before the model existed.
  enum mh_reason identity_reason;
};

// mh_policy_rule_key returns the schema key of |r| ("identity.uri_san"), a static string.
const char *mh_policy_rule_key(enum mh_policy_rule r);

// mh_policy_rule_from_key returns the rule whose schema key is |key|, or -1.
int mh_policy_rule_from_key(const char *key);

// mh_policy_client_auth_name returns the keyword of |a| ("optional_no_ca"), a static string.
const char *mh_policy_client_auth_name(enum mh_client_auth a);

// mh_policy_print_keys writes, one per line after |prefix|, every key of the harness's own policy
// schema ("identity.uri_san_prefix"), so that tests can check each one is documented.
void mh_policy_print_keys(FILE *out, const char *prefix);

// mh_policy_from_semstreams fills |L->policy| from what the SemStreams parser put in |L->server|
// (mtls.enabled, require_client_cert, client_ca_files, allowed_client_cns, min_version) and an
// nginx mock's dn_regex: the mapping of docs/scenarios.md, exactly the behaviour the oracle had
// before the model.
void mh_policy_from_semstreams(struct mh_location *L);

// mh_policy_parse reads the harness's own keys of an external target's "policy" object |v| (the
// SemStreams keys were read into |L| by the SemStreams parser first) and completes |L->policy|,
// keeping |L->server| in step for the code that reads it. Contradictions with the SemStreams keys,
// bad regular expressions, empty lists and max_version below min_version are errors naming the
// JSON path and the fix. Returns 0 or -1.
int mh_policy_parse(struct mh_json_ctx *c, struct mh_semstreams_ctx *sc, const struct cJSON *v,
                    struct mh_location *L);

#endif
