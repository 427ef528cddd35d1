// outcomes: names generated from the tables in outcomes.h.
#include "base/outcomes.h"

#include <string.h>

static const char *const reason_names[] = {
#define X(e, kw, who, desc) kw,
    MH_REASONS(X)
#undef X
};
static const char reason_sides[] = {
#define X(e, kw, who, desc) who,
    MH_REASONS(X)
#undef X
};
static const char *const phase_names[] = {
#define X(e, kw) kw,
    MH_PHASES(X)
#undef X
};
static const char *const end_names[] = {
#define X(e, kw) kw,
    MH_ENDS(X)
#undef X
};
static const char *const result_names[] = {
#define X(e, kw) kw,
    MH_RESULTS(X)
#undef X
};
static const char *const layer_names[] = {
#define X(e, kw) kw,
    MH_LAYERS(X)
#undef X
};
static const char *const verdict_names[] = {
#define X(e, kw, f, sf, desc) kw,
    MH_VERDICTS(X)
#undef X
};
static const char *const verdict_descs[] = {
#define X(e, kw, f, sf, desc) desc,
    MH_VERDICTS(X)
#undef X
};
static const char *const manner_names[] = {
#define X(e, kw) kw,
    MH_MANNERS(X)
#undef X
};
static const int verdict_fails[] = {
#define X(e, kw, f, sf, desc) f,
    MH_VERDICTS(X)
#undef X
};
static const int verdict_strict_fails[] = {
#define X(e, kw, f, sf, desc) sf,
    MH_VERDICTS(X)
#undef X
};

#define NAME(table, v, n) ((unsigned)(v) < (n) ? table[v] : "?")

const char *mh_reason_name(enum mh_reason r) {
  return NAME(reason_names, r, MH_REASON_NUM);
}
const char *mh_phase_name(enum mh_phase p) {
  return NAME(phase_names, p, MH_PHASE_NUM);
}
const char *mh_end_name(enum mh_end e) {
  return NAME(end_names, e, MH_END_NUM);
}
const char *mh_result_name(enum mh_result r) {
  return NAME(result_names, r, MH_RESULT_NUM);
}
const char *mh_layer_name(enum mh_layer l) {
  return NAME(layer_names, l, MH_LAYER_NUM);
}
const char *mh_verdict_name(enum mh_verdict v) {
  return NAME(verdict_names, v, MH_VERDICT_NUM);
}
const char *mh_verdict_description(enum mh_verdict v) {
  return NAME(verdict_descs, v, MH_VERDICT_NUM);
}
const char *mh_manner_name(enum mh_manner m) {
  return NAME(manner_names, m, MH_MANNER_NUM);
}
int mh_verdict_fails(enum mh_verdict v, int strict) {
  return (unsigned)v < MH_VERDICT_NUM && (strict ? verdict_strict_fails[v] : verdict_fails[v]);
}
char mh_reason_side(enum mh_reason r) {
  return (unsigned)r < MH_REASON_NUM ? reason_sides[r] : ' ';
}
int mh_reason_from_name(const char *kw) {
  for (int i = 0; i < MH_REASON_NUM; i++) {
    if (strcmp(reason_names[i], kw) == 0) {
      return i;
    }
  }
  return -1;
}

static const char *const request_mode_names[] = {
#define X(e, kw) kw,
    MH_REQUEST_MODES(X)
#undef X
};
const char *mh_request_mode_name(enum mh_request_mode m) {
  return NAME(request_mode_names, m, MH_REQUEST_NUM);
}
int mh_request_mode_from_name(const char *kw) {
  for (int i = MH_REQUEST_DEFAULT + 1; i < MH_REQUEST_NUM; i++) {
    if (strcmp(request_mode_names[i], kw) == 0) {
      return i;
    }
  }
  return -1;
}

static const char *const tcp_names[] = {
#define X(e, kw) kw,
    MH_TCP_RESULTS(X)
#undef X
};
const char *mh_tcp_name(enum mh_tcp t) {
  return NAME(tcp_names, t, MH_TCP_NUM);
}

static const char *const case_kind_names[] = {
#define X(e, kw) kw,
    MH_CASE_KINDS(X)
#undef X
};
const char *mh_case_kind_name(enum mh_case_kind k) {
  return NAME(case_kind_names, k, MH_CASE_KIND_NUM);
}

static const char *const case_check_ids[] = {
#define X(e, id) id,
    MH_CASE_CHECKS(X)
#undef X
};
const char *mh_case_check_id(enum mh_case_check c) {
  return NAME(case_check_ids, c, MH_CHECK_NUM);
}

static const char *const capture_state_names[] = {
#define X(e, kw) kw,
    MH_CAPTURE_STATES(X)
#undef X
};
const char *mh_capture_state_name(enum mh_capture_state s) {
  return NAME(capture_state_names, s, MH_CAPTURE_STATE_NUM);
}
