// warnings: what a run's greens cannot prove: no case expects acceptance (a server that rejects
// everything passes such a run), or a target rejected every case the same way. The runner prints
// them, the reports show them, and --strict makes them fail the run.
#ifndef MH_WARNINGS_H
#define MH_WARNINGS_H

#include <stddef.h>

#include "base/outcomes.h"
#include "conform/result.h"

// The warnings, defined once. X(enum suffix, keyword).
#define MH_WARNINGS(X)                            \
  X(NO_ACCEPT_EXPECTED, "no_accept_expected")     \
  X(SAME_REJECTION, "same_rejection")             \
  X(CANNOT_ENFORCE, "cannot_enforce")             \
  X(CERTIFICATE_EXPIRING, "certificate_expiring") \
  X(PROBED_AGAIN, "probed_again")

enum mh_warning {
#define X(e, kw) MH_WARNING_##e,
  MH_WARNINGS(X)
#undef X
      MH_WARNING_NUM
};

// mh_run_warning is one warning of a run. Its strings point into the cases it was made from.
struct mh_run_warning {
  enum mh_warning kind;
  const char *target;  // the target it is about; NULL: the whole run
  size_t num_cases;    // the cases it is about
  // MH_WARNING_SAME_REJECTION: how every case was rejected.
  char side;  // 's' the server, 'c' the client (us)
  enum mh_layer layer;
  int alert;        // MH_ALERT_NONE: none
  int http_status;  // 0: none
  // MH_WARNING_CANNOT_ENFORCE: the policy's rules the target's stack cannot enforce (bit (1 <<
  // enum mh_policy_rule)). Such a warning informs: it does not fail the run under --strict, since
  // the cases it is about are judged by the policy all the same (an acceptance fails them).
  unsigned rules;
  int informational;
  char message[1024];  // the operator's line, without "warning: "
};

// mh_warnings_name returns the keyword of |w| ("no_accept_expected"), a static string.
const char *mh_warnings_name(enum mh_warning w);

// mh_warnings_unrun is what a --filter left out of the plan of one target: how many of its cases
// and whether one of them expects acceptance (the oracle judges a case before it runs), so that
// the matrix-level warnings are judged on the whole plan, not on the subset that ran.
struct mh_warnings_unrun {
  const char *target;
  size_t num;
  int expects_accept;
};

// mh_warnings_collect fills |out| (room for 4 * the number of targets of |cases| + 1: four per
// target and one for the run) with the warnings of |cases| and returns how many it filled. |unrun|
// (|num_unrun| targets, NULL when nothing was filtered out) is what the plan holds beyond |cases|:
// a case of it that expects acceptance counts as one of the run's, and a target of which cases were
// left out is not said to reject every case the same way (an informational warning says that it
// could not be judged, when the cases that ran all were). No case expecting acceptance gives one
// warning for the run, or one per target when others have such a case; a target with at least two
// cases, all rejected with the same side, layer, alert and status, gives one; a target whose stack
// cannot enforce rules its policy sets gives one (informational), and so does a target of which
// cases were probed again (--retries: it names them and their first outcome). Inconclusive cases
// were not rejected: an unreachable target stays a failure, not a warning.
size_t mh_warnings_collect(struct mh_run_warning *out, const struct mh_case_result *cases,
                           size_t num_cases, const struct mh_warnings_unrun *unrun,
                           size_t num_unrun);

// mh_warnings_cannot_text writes the line that warns that |target|'s policy sets |rules| (bit
// (1 << enum mh_policy_rule)) which its stack (profile |profile|) cannot enforce, for |why|.
void mh_warnings_cannot_text(char *out, size_t len, const char *target, unsigned rules,
                             const char *profile, const char *why);

// mh_warnings_fails reports whether warning |w| fails a run: under |strict|, unless it informs.
int mh_warnings_fails(const struct mh_run_warning *w, int strict);

// mh_warnings_num_failing returns how many of the |num| warnings |w| fail a run (|strict|).
size_t mh_warnings_num_failing(const struct mh_run_warning *w, size_t num, int strict);

#endif
