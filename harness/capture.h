// capture: the only module that sees <pcap.h>. Per-case packet captures arrive here with the pcap
// issue; for now it reports the library version.
#ifndef MH_CAPTURE_H
#define MH_CAPTURE_H

// mh_capture_library_version returns libpcap's own version string.
const char *mh_capture_library_version(void);

#endif
