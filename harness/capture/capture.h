// capture: the only module that sees <pcap.h>. It captures one case's packets with libpcap, on one
// interface, through a BPF filter on the case's own 4-tuple, into memory.
#ifndef MH_CAPTURE_H
#define MH_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct mh_packet {
  uint64_t ts_ns;
  uint32_t caplen;
  uint32_t origlen;
  uint8_t *data;
};

// mh_packets is a captured case: its frames and their link type (LINKTYPE_*).
struct mh_packets {
  int linktype;
  uint32_t snaplen;
  struct mh_packet *items;
  size_t num;
  size_t cap;
};

// mh_capture_packets_free releases the frames of |p| (not |p| itself). NULL is accepted.
void mh_capture_packets_free(struct mh_packets *p);

struct mh_capture;

// mh_capture_open starts capturing on |iface| what BPF |filter| selects. Returns NULL with |err|
// set on failure; |*out_denied| is then 1 when the reason is a missing permission (not root, no
// CAP_NET_RAW), which callers treat as "skipped", not as an error.
struct mh_capture *mh_capture_open(const char *iface, const char *filter, int *out_denied,
                                   struct mh_err *err);

// mh_capture_collect takes what was captured so far, waiting |linger_ms| for the last frames (FIN,
// RST) to arrive, into |out|, and closes |c|.
void mh_capture_collect(struct mh_capture *c, int linger_ms, struct mh_packets *out);

// mh_capture_take appends what arrived since the last take to |out| (zeroed before the first),
// without waiting and without closing |c|: a caller that knows when its connection is over
// (mh_wire_closed) stops as soon as it is, instead of lingering a fixed time.
void mh_capture_take(struct mh_capture *c, struct mh_packets *out);

// mh_capture_close closes |c| (NULL accepted).
void mh_capture_close(struct mh_capture *c);

// mh_capture_library_version returns libpcap's own version string.
const char *mh_capture_library_version(void);

#endif
