// capture: the only module that sees <pcap.h>. It captures each case's packets with libpcap into
// memory: one handle per interface for the whole run, demultiplexed by the case's TCP ports.
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

// mh_capture_hub is a run's captures: one libpcap handle per interface, opened at its first case
// and kept for the run (opening one cost 12 ms and closing it 23 ms, which per case was most of
// what --pcap cost), with a BPF filter on the run's server ports. Each case taps the handle for
// its own connection: the frames read are handed to the tap whose TCP ports they carry, and
// dropped when no tap wants them. Thread-safe: the runner's loop threads share one hub.
struct mh_capture_hub;

// mh_capture_hub_new makes a hub for connections to the |num_ports| server |ports| (the filter;
// repeats allowed). NULL when out of memory.
struct mh_capture_hub *mh_capture_hub_new(const int *ports, size_t num_ports);

// mh_capture_hub_free closes the handles of |hub| (every tap closed first). NULL is accepted.
void mh_capture_hub_free(struct mh_capture_hub *hub);

struct mh_capture;

// mh_capture_open taps |hub| on |iface| for the TCP connection between |local_port| and
// |server_port|, before its SYN: every frame of it read from then on is the tap's. Returns NULL
// with |err| set on failure; |*out_denied| is then 1 when the reason is a missing permission (not
// root, no CAP_NET_RAW), which callers treat as "skipped", not as an error.
struct mh_capture *mh_capture_open(struct mh_capture_hub *hub, const char *iface, int server_port,
                                   int local_port, int *out_denied, struct mh_err *err);

// mh_capture_take reads what the interface captured so far (for every tap) and appends this
// tap's frames since the last take to |out| (zeroed before the first), without waiting: a caller
// that knows when its connection is over (mh_wire_closed) stops as soon as it is.
void mh_capture_take(struct mh_capture *c, struct mh_packets *out);

// mh_capture_dropped returns how many frames the kernel dropped on |c|'s interface (its buffer
// full) since |c| began, as of the last take: frames of any connection, so possibly of |c|'s.
unsigned mh_capture_dropped(struct mh_capture *c);

// mh_capture_close ends tap |c| and drops what it holds (NULL accepted).
void mh_capture_close(struct mh_capture *c);

// mh_capture_library_version returns libpcap's own version string.
const char *mh_capture_library_version(void);

#endif
