// tls: the only module that sees <openssl/ssl.h>. Handshakes, policies and outcomes arrive here
// with the mock endpoints and the runner; for now it describes the linked library.
#ifndef MH_TLS_H
#define MH_TLS_H

#include <stddef.h>

// mh_tls_library_describe writes a one-line description of the TLS library this binary runs with
// (API version and the file it was loaded from, so that a user can tell which build is in use) into
// |out| of |out_len| bytes.
void mh_tls_library_describe(char *out, size_t out_len);

#endif
