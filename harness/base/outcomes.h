// outcomes: every outcome, phase, verdict and rejection reason of a conformance case, defined once.
// Enums, report strings and scenario keywords are generated from these tables.
#ifndef MH_OUTCOMES_H
#define MH_OUTCOMES_H

// Why a case is expected to be rejected. X(enum suffix, keyword, who rejects: 's' server, 'c'
// client, description).
#define MH_REASONS(X)                                                                           \
  X(NONE, "none", ' ', "accepted")                                                              \
  X(MISSING_CERT, "missing_cert", 's', "no client certificate, one is required")                \
  X(NO_VERIFIED_CHAINS, "no_verified_chains", 's',                                              \
    "no client certificate while an allow-list is set")                                         \
  X(UNKNOWN_CA, "unknown_ca", 's', "client certificate not issued by a trusted CA")             \
  X(EXPIRED, "expired", 's', "client certificate expired")                                      \
  X(NOT_YET_VALID, "not_yet_valid", 's', "client certificate not yet valid")                    \
  X(BAD_EKU, "bad_eku", 's', "client certificate without clientAuth")                           \
  X(CN_NOT_ALLOWED, "cn_not_allowed", 's', "client CN not on the allow-list")                   \
  X(BAD_SIGNATURE, "bad_signature", 's', "CertificateVerify does not match the certificate")    \
  X(VERSION, "version", 's', "no TLS version in common")                                        \
  X(IDENTITY_NOT_ALLOWED, "identity_not_allowed", 's',                                          \
    "client certificate matches no identity rule (DN, SAN)")                                    \
  X(HOST_MISMATCH, "host_mismatch", 's', "client certificate not valid for an allowed host")    \
  X(CHAIN_TOO_LONG, "chain_too_long", 's', "client chain longer than the verify depth")         \
  X(VERSION_TOO_HIGH, "version_too_high", 's', "client offers only versions above the maximum") \
  X(REVOKED, "revoked", 's', "client certificate (or a CA of its chain) revoked")               \
  X(CRL_EXPIRED, "crl_expired", 's', "the CRL of a CA of the client's chain has expired")       \
  X(CRL_MISSING, "crl_missing", 's', "no CRL of a CA of the client's chain is loaded")          \
  X(SERVER_NAME, "server_name", 'c', "server certificate not valid for the name")               \
  X(SERVER_CN_ONLY, "server_cn_only", 'c', "server certificate has a CN but no SAN")            \
  X(SERVER_UNTRUSTED, "server_untrusted", 'c', "server certificate from an untrusted CA")

enum mh_reason {
#define X(e, kw, who, desc) MH_REASON_##e,
  MH_REASONS(X)
#undef X
      MH_REASON_NUM
};

// Where a connection ended. X(enum suffix, keyword).
#define MH_PHASES(X)                \
  X(NONE, "none")                   \
  X(TCP, "tcp")                     \
  X(SERVER_FLIGHT, "server_flight") \
  X(CLIENT_FLIGHT, "client_flight") \
  X(FIRST_READ, "first_read")       \
  X(APPLICATION, "application")

enum mh_phase {
#define X(e, kw) MH_PHASE_##e,
  MH_PHASES(X)
#undef X
      MH_PHASE_NUM
};

// How the transport ended. X(enum suffix, keyword).
#define MH_ENDS(X)                \
  X(NONE, "none")                 \
  X(CLOSE_NOTIFY, "close_notify") \
  X(FIN, "fin")                   \
  X(RST, "rst")                   \
  X(TIMEOUT, "timeout")           \
  X(CLIENT_CLOSE, "client_close") \
  X(REFUSED, "refused")

enum mh_end {
#define X(e, kw) MH_END_##e,
  MH_ENDS(X)
#undef X
      MH_END_NUM
};

// What happened, as a whole. X(enum suffix, keyword).
#define MH_RESULTS(X)     \
  X(ACCEPTED, "accepted") \
  X(REJECTED, "rejected") \
  X(INCONCLUSIVE, "inconclusive")

enum mh_result {
#define X(e, kw) MH_RESULT_##e,
  MH_RESULTS(X)
#undef X
      MH_RESULT_NUM
};

// The layer that decided. X(enum suffix, keyword).
#define MH_LAYERS(X) \
  X(NONE, "none")    \
  X(TLS, "tls")      \
  X(HTTP, "http")

enum mh_layer {
#define X(e, kw) MH_LAYER_##e,
  MH_LAYERS(X)
#undef X
      MH_LAYER_NUM
};

// Verdicts. X(enum suffix, keyword, fails the run, fails under --strict, description). The first
// question (admitted or refused as the policy says) fails a run; the second (refused as the
// profile predicts) only under --strict.
#define MH_VERDICTS(X)                                                                         \
  X(PASS, "pass", 0, 0,                                                                        \
    "admitted or refused as the policy says (a refusal as the profile predicts, if one does)") \
  X(PASS_CONCEPTUAL, "pass-conceptual", 0, 1,                                                  \
    "refused as the policy says, but not the way the profile predicts (layer, alert, status)") \
  X(UNEXPECTED_ACCEPT, "unexpected-accept", 1, 1, "accepted, but the policy says refuse")      \
  X(UNEXPECTED_REJECT, "unexpected-reject", 1, 1, "refused, but the policy says admit")        \
  X(NOT_ATTRIBUTABLE, "not-attributable", 1, 1,                                                \
    "refused, but not for what the case tests (e.g. before a CertificateRequest)")             \
  X(INCONCLUSIVE, "inconclusive", 1, 1, "the target could not be reached or did not answer")   \
  X(FAIL, "fail", 1, 1, "a certificate expires within --min-time-left")

enum mh_verdict {
#define X(e, kw, fails, strict_fails, desc) MH_VERDICT_##e,
  MH_VERDICTS(X)
#undef X
      MH_VERDICT_NUM
};

// Whether and how a case's manner of refusal was judged (the verdict's second question).
// X(enum suffix, keyword).
#define MH_MANNERS(X)             \
  X(NOT_JUDGED, "not-judged")     \
  X(AS_PREDICTED, "as-predicted") \
  X(DIFFERS, "differs")

enum mh_manner {
#define X(e, kw) MH_MANNER_##e,
  MH_MANNERS(X)
#undef X
      MH_MANNER_NUM
};

// What a probe sends once the handshake is done (a target's "request"). X(enum suffix, keyword).
// DEFAULT is a location that did not say: the runner resolves it (docs/runner.md, "Probes").
#define MH_REQUEST_MODES(X) \
  X(DEFAULT, "default")     \
  X(WEBSOCKET, "websocket") \
  X(HTTP, "http")           \
  X(TLS, "tls")

enum mh_request_mode {
#define X(e, kw) MH_REQUEST_##e,
  MH_REQUEST_MODES(X)
#undef X
      MH_REQUEST_NUM
};

// How the TCP connection of a probe went. X(enum suffix, keyword); NONE: no dial was made.
#define MH_TCP_RESULTS(X) \
  X(NONE, "")             \
  X(OK, "ok")             \
  X(REFUSED, "refused")   \
  X(TIMEOUT, "timeout")   \
  X(ERROR, "error")

enum mh_tcp {
#define X(e, kw) MH_TCP_##e,
  MH_TCP_RESULTS(X)
#undef X
      MH_TCP_NUM
};

// What a case is. X(enum suffix, keyword): one of the matrix (target x identity x version, or
// one of its checks below), one the scenario lists, or a check of the run's certificates (no
// connection: --min-time-left).
#define MH_CASE_KINDS(X)  \
  X(MATRIX, "matrix")     \
  X(EXPLICIT, "explicit") \
  X(CERTIFICATE, "certificate")

enum mh_case_kind {
#define X(e, kw) MH_CASE_##e,
  MH_CASE_KINDS(X)
#undef X
      MH_CASE_KIND_NUM
};

// The matrix's checks beyond identity x version, each once per target. X(enum suffix, the case
// id after "<target>/"); NONE is a plain cell of the matrix (its id names identity and version).
#define MH_CASE_CHECKS(X)                               \
  X(NONE, "")                                           \
  X(MIN_TLS13, "tls1.2-only-client-vs-tls1.3-minimum")  \
  X(WRONG_NAME, "server-check:wrong-name/tls1.3")       \
  X(CN_ONLY, "server-check:cn-only-certificate/tls1.3") \
  X(UNTRUSTED_SERVER, "server-check:untrusted-server/tls1.3")

enum mh_case_check {
#define X(e, id) MH_CHECK_##e,
  MH_CASE_CHECKS(X)
#undef X
      MH_CHECK_NUM
};

// Whether a case was captured (--pcap). X(enum suffix, keyword).
#define MH_CAPTURE_STATES(X) \
  X(NOT_ASKED, "not_asked")  \
  X(CAPTURED, "captured")    \
  X(SKIPPED, "skipped")

enum mh_capture_state {
#define X(e, kw) MH_CAPTURE_##e,
  MH_CAPTURE_STATES(X)
#undef X
      MH_CAPTURE_STATE_NUM
};

const char *mh_reason_name(enum mh_reason r);
const char *mh_phase_name(enum mh_phase p);
const char *mh_end_name(enum mh_end e);
const char *mh_result_name(enum mh_result r);
const char *mh_layer_name(enum mh_layer l);
const char *mh_verdict_name(enum mh_verdict v);
const char *mh_verdict_description(enum mh_verdict v);
const char *mh_manner_name(enum mh_manner m);
int mh_verdict_fails(enum mh_verdict v, int strict);
// mh_reason_by_side returns 's' if the server rejects for |r|, 'c' if the client does.
char mh_reason_side(enum mh_reason r);
// mh_reason_from_name returns the reason named |kw|, or -1.
int mh_reason_from_name(const char *kw);
const char *mh_request_mode_name(enum mh_request_mode m);
// mh_request_mode_from_name returns the request mode a scenario may name |kw| ("websocket",
// "http", "tls"; not "default"), or -1.
int mh_request_mode_from_name(const char *kw);
const char *mh_tcp_name(enum mh_tcp t);
const char *mh_case_kind_name(enum mh_case_kind k);
// mh_case_check_id returns the case id's part after "<target>/" of matrix check |c| ("" for NONE).
const char *mh_case_check_id(enum mh_case_check c);
const char *mh_capture_state_name(enum mh_capture_state s);

#endif
