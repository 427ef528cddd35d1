// pcapng: writing captures as pcapng with their TLS secrets in a Decryption Secrets Block, so that
// Wireshark and tshark decrypt TLS 1.3 with no extra file.
//
// Written by hand: Debian's libpcap 1.10 writes only the pcap format, and editcap --inject-secrets
// would make every run depend on, and spawn, a Wireshark tool per case. The format is small
// (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html): SHB, IDB, DSB, EPBs.
#ifndef MH_PCAPNG_H
#define MH_PCAPNG_H

#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"

// mh_pcapng_build returns a malloc'd pcapng file holding |p|'s frames and, if |keylog| is not
// empty, a DSB with those NSS key log lines before them; NULL on allocation failure. The result
// holds secrets: write it 0600, wipe it before freeing.
uint8_t *mh_pcapng_build(const struct mh_packets *p, const char *keylog, size_t *out_len);

#endif
