// verdict: what a case's outcome means against the policy's expectation: the verdict and why,
// and the stable one-line summary of the outcome that baselines compare.
#ifndef MH_VERDICT_H
#define MH_VERDICT_H

#include <stddef.h>

#include "base/outcomes.h"
#include "conform/oracle.h"
#include "conform/outcome.h"

// mh_verdict_judge judges outcome |o| of a case offered at |version| against |x| and writes
// why into |why| (display text; "" when the verdict needs no explanation).
//
// Two questions, in order. First admission: did the deployment admit or refuse as the policy
// says (else MH_VERDICT_UNEXPECTED_ACCEPT or _UNEXPECTED_REJECT; an acceptance a profile's
// "cannot" explains says so in |why|, it is never expected). Then, for a refusal the policy
// expects, the manner: made as the profile (or the scenario) predicts is MH_VERDICT_PASS; at
// another layer, with another alert or status, MH_VERDICT_PASS_CONCEPTUAL with both in |why|;
// with no prediction (no profile, or one silent on the reason) the manner is not judged.
//
// A rejection is attributed to the client certificate (a cert-related reason can pass) only when
// the server sent a CertificateRequest and the client then sent its flight (its certificate, or
// none); one for the case's version only if the server did not negotiate that version; a
// rejection of ours (a broken server flight) is never the server's judgement. Any other rejection
// of a reject-expected case is MH_VERDICT_NOT_ATTRIBUTABLE, with where and how it happened in
// |why|. A case accepted without a CertificateRequest while |x->cert_request| is
// MH_VERDICT_UNEXPECTED_ACCEPT: the server admits clients without a certificate.
enum mh_verdict mh_verdict_judge(const struct mh_expectation *x, const struct mh_case_outcome *o,
                                 int version, char *why, size_t why_len);

// mh_verdict_manner says whether the manner of a case judged |v| against |x| was judged and how
// (report.json's "manner").
enum mh_manner mh_verdict_manner(const struct mh_expectation *x, enum mh_verdict v);

// mh_verdict_summary writes the stable one-line summary of |o| that baselines compare.
void mh_verdict_summary(const struct mh_case_outcome *o, char *out, size_t out_len);

#endif
