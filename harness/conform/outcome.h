// outcome: what a probe saw of one case, from the client side: the record a verdict is made on.
// Its own header, so that the verdict and the reports read it without the probe's machinery.
#ifndef MH_CONFORM_OUTCOME_H
#define MH_CONFORM_OUTCOME_H

#include "base/outcomes.h"
#include "tls/tls.h"

// mh_case_outcome is everything a probe saw, from the client side.
struct mh_case_outcome {
  enum mh_request_mode request;  // what the probe sent after the handshake
  enum mh_result result;
  enum mh_layer layer;  // where a rejection happened
  char rejected_by;     // 's' server, 'c' client (us), 0
  enum mh_phase phase;  // where the connection ended
  enum mh_end end;      // how the transport ended
  enum mh_tcp tcp;      // how the TCP connection went (MH_TCP_NONE: no dial was made)
  int handshake_ok;
  // version (0 unless a ServerHello was accepted), cipher, group, alerts (sent by us / received),
  // peer CN; whether a ServerHello and a CertificateRequest arrived, and the version the
  // ServerHello chose, which is what places a rejection before or after the server asked for a
  // certificate.
  struct mh_tls_info tls;
  // The CertificateRequest's CA names (RFC 2253), the first MH_TLS_REQUEST_CAS of
  // tls.num_request_cas: each malloc'd (a case held 4 KiB of room for them, mostly unused);
  // freed by mh_probe_outcome_release.
  char *request_cas[MH_TLS_REQUEST_CAS];
  size_t num_request_cas_kept;
  int http_status;     // 0: none (or, with head_too_large, no status line was read)
  int head_too_large;  // the answer's head went past 16 KiB (MH_HTTP_MAX_HEAD): read no further
  int ws_upgraded;
  int not_tls;             // the peer's first bytes were not TLS: the case is inconclusive
  char client_error[512];  // our side's explanation
  char remote[64];         // the numeric address connected to (the last one tried), or ""
  char local_peer[64];     // "127.0.0.1:PORT" ("[::1]:PORT") as the server sees us
  int local_port;
  // This connection's TLS secrets, for the capture file only: malloc'd, NULL when none were
  // logged or the case is not captured; wiped and freed by mh_probe_outcome_release.
  char *keylog;
  double tcp_ms, handshake_ms, first_read_ms, total_ms;
};

#endif
