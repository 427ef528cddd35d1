// lifetimes: the certificates of a run and their time left: the chain each target presented to the
// probes (each distinct chain with the cases that saw it), the client identities the cases present
// and those the scenario imports; the time-left checks of --min-time-left and the expiry warnings.
#ifndef MH_LIFETIMES_H
#define MH_LIFETIMES_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "conform/result.h"
#include "conform/warnings.h"
#include "input/scenario.h"
#include "pki/certinfo.h"

// MH_LIFETIMES_WARN_S: without --min-time-left, a certificate with less left (or expired) is a
// warning.
#define MH_LIFETIMES_WARN_S (7 * 86400)

// mh_lifetime_chain is one distinct chain a target presented, and the cases that saw it.
struct mh_lifetime_chain {
  const char *target;
  uint8_t *der;  // as received (owned)
  size_t der_len;
  struct mh_certinfo certs[MH_CERTINFO_MAX];
  int num_certs;       // -1: the chain could not be parsed
  const char **cases;  // ids of the cases that saw it, in the order they ended (owned array)
  size_t num_cases, cap_cases;
  size_t first_plan;  // the smallest plan index that saw it: the report's order
};

// mh_lifetime_identity is a client identity of the scenario: presented by a case, or imported.
struct mh_lifetime_identity {
  const char *name;
  int imported;  // the operator's certificate (checked); else generated as the spec asked
  int negative;  // every case of the run that presents it expects a refusal: kept on purpose (an
                 // expired certificate for the matrix), so its lifetime is neither warned about
                 // nor a time-left case (set by the caller after mh_lifetimes_read_identities)
  struct mh_certinfo certs[MH_CERTINFO_MAX];
  int num_certs;
};

struct mh_lifetimes {
  pthread_mutex_t mu;  // the chains, while the probe threads run
  int64_t start;       // the run's start (seconds since the epoch): time left is counted from it
  int64_t min_left;    // --min-time-left in seconds; -1: not given
  struct mh_lifetime_chain *chains;  // sorted by target, then first plan, after mh_lifetimes_sort
  size_t num_chains, cap_chains;
  struct mh_lifetime_identity *identities;  // in |a| of mh_lifetimes_read_identities
  size_t num_identities;
};

// mh_lifetimes_init readies |l| for a run started at |start|; |min_left| < 0: no option.
void mh_lifetimes_init(struct mh_lifetimes *l, int64_t start, int64_t min_left);

// mh_lifetimes_cleanup frees what |l| holds.
void mh_lifetimes_cleanup(struct mh_lifetimes *l);

// mh_lifetimes_add_chain records that case |case_id| (plan |plan|) saw |target| present the chain
// |der| (|len| bytes, copied). Safe from any thread; out of memory loses the fact, nothing else.
void mh_lifetimes_add_chain(struct mh_lifetimes *l, const char *target, const char *case_id,
                            size_t plan, const uint8_t *der, size_t len);

// mh_lifetimes_sort puts the chains in the report's order, once the probes are over.
void mh_lifetimes_sort(struct mh_lifetimes *l);

// mh_lifetimes_read_identities reads the certificates of the |num| identities |names| (the ones
// the cases present; repeats allowed) and of every identity |s| imports, allocating from |a|.
// Returns 0 or -1 with |err| set when a certificate file cannot be read.
int mh_lifetimes_read_identities(struct mh_lifetimes *l, struct mh_arena *a,
                                 const struct mh_scenario *s, const char *const *names, size_t num,
                                 struct mh_err *err);

// mh_lifetimes_checkable says whether certificate |i| of a chain of |n| counts for the time left:
// every one but a self-signed certificate after the leaf (a root, which clients take from their
// own store).
int mh_lifetimes_checkable(const struct mh_certinfo *c, int i);

// mh_lifetimes_checks fills |out| (room for |max|) with the time-left cases of --min-time-left:
// one per target in |targets| (|num_targets|, repeats allowed) and one per imported identity that
// is not a negative;
// strings in |a|. Returns how many (0 without the option).
size_t mh_lifetimes_checks(const struct mh_lifetimes *l, struct mh_arena *a,
                           const char *const *targets, size_t num_targets, int strict,
                           struct mh_case_result *out, size_t max);

// mh_lifetimes_warnings fills |out| (room for |max|) with a certificate_expiring warning for each
// target chain and imported identity that has a certificate expired or within
// MH_LIFETIMES_WARN_S, when --min-time-left was not given. Returns how many.
size_t mh_lifetimes_warnings(const struct mh_lifetimes *l, struct mh_run_warning *out, size_t max);

// mh_lifetimes_soonest writes the console's one line about the soonest expiry among the target
// chains and the imported identities ("" when no certificate was seen) into |out|.
void mh_lifetimes_soonest(const struct mh_lifetimes *l, char *out, size_t out_len);

#endif
