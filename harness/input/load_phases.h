// load_phases: the phases of a handshake's latency that `load` measures, defined once. The
// generator (load/) fills one histogram per phase, report/ writes them under these keys and
// titles, and the report reader (input/load_report.c) reads them back by the same keys; it sits
// in input/ because the reader, the lowest of them, needs it.
#ifndef MH_INPUT_LOAD_PHASES_H
#define MH_INPUT_LOAD_PHASES_H

// X(enum suffix, report.json's "latency" key, title in report.md and the charts), in the order
// they are written.
#define MH_LOAD_PHASES(X)                                                  \
  X(TCP, "tcp_connect", "TCP connect")                                     \
  X(HANDSHAKE, "tls_handshake", "TLS handshake (full)")                    \
  X(HANDSHAKE_RESUMED, "tls_handshake_resumed", "TLS handshake (resumed)") \
  X(FIRST_RECORD, "first_server_record", "first server record")            \
  X(TOTAL_ACCEPT, "total_accepted", "total, accepted")                     \
  X(TOTAL_REJECT, "total_rejected", "total, rejected")

enum mh_load_phase {
#define X(e, key, title) MH_LOAD_PHASE_##e,
  MH_LOAD_PHASES(X)
#undef X
      MH_LOAD_NUM_PHASES
};

#endif
