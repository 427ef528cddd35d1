// tls: BoringSSL (see tls.h).
#include "tls.h"

#include <openssl/base.h>
#if !defined(OPENSSL_IS_BORINGSSL)
#error "mtls-harness must be built against BoringSSL, not OpenSSL"
#endif

#include <dlfcn.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <stdio.h>

void mh_tls_library_describe(char *out, size_t out_len) {
  Dl_info info;
  const char *where = "statically linked";
  if (dladdr((void *)SSL_new, &info) != 0 && info.dli_fname != NULL && info.dli_fname[0] != '\0') {
    where = info.dli_fname;
  }
  snprintf(out, out_len, "%s, API version %d (OPENSSL_VERSION_NUMBER 0x%08lx), libssl: %s",
           OpenSSL_version(OPENSSL_VERSION), BORINGSSL_API_VERSION,
           (unsigned long)OPENSSL_VERSION_NUMBER, where);
}
