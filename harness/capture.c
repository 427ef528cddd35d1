// capture: libpcap (see capture.h).
#include "capture.h"

#include <pcap/pcap.h>

const char *mh_capture_library_version(void) {
  return pcap_lib_version();
}
