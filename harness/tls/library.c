// library: the TLS library itself: which build this binary runs with, and the few primitives of
// libcrypto that other layers need (the WebSocket accept key, random bytes), so that they need not
// include BoringSSL.
#include <dlfcn.h>
#include <openssl/base64.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "tls/internal.h"

// cpu_has reports whether /proc/cpuinfo's first "flags" line lists |flag|.
static int cpu_has(const char *flag) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[4096];
  int has = 0;
  while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
    if (strncmp(line, "flags", 5) == 0) {
      char *hit = strstr(line, flag);
      size_t n = strlen(flag);
      has = hit != NULL && hit[-1] == ' ' && (hit[n] == ' ' || hit[n] == '\n');
      break;
    }
  }
  if (f != NULL) {
    fclose(f);
  }
  return has;
}

void mh_tls_library_implementations(char *out, size_t out_len) {
  Dl_info info;
  const char *crypto =
      dladdr((void *)RAND_bytes, &info) != 0 && info.dli_fname ? info.dli_fname : "";
#if defined(__x86_64__)
  if (strstr(crypto, "/android/") != NULL) {
    // Debian's binary: OPENSSL_SMALL turns off the nistz256 assembly and X25519's tables.
    snprintf(out, out_len,
             "ECDSA P-256: generic C (OPENSSL_SMALL); X25519: fiat-crypto C without precomputed "
             "tables (OPENSSL_SMALL); scripts/boringssl-fast builds the faster ones");
    return;
  }
  if (strstr(crypto, "build-boringssl/") != NULL) {
    int adx = cpu_has("adx") && cpu_has("bmi2");
    snprintf(out, out_len,
             "ECDSA P-256: nistz256 x86-64 assembly (%s); X25519: fiat-crypto 64-bit C with "
             "precomputed tables (this BoringSSL has no x86-64 assembly for it)",
             adx ? "its MULX/ADX code, the CPU has BMI2 and ADX"
                 : "without MULX/ADX: the CPU lacks them");
    return;
  }
#endif
  snprintf(out, out_len, "as the library at %s was built (not one of Debian's: not known here)",
           crypto[0] ? crypto : "(statically linked)");
}

void mh_tls_library_describe(char *out, size_t out_len) {
  Dl_info ssl_info, crypto_info;
  const char *ssl = "statically linked", *crypto = "statically linked";
  if (dladdr((void *)SSL_new, &ssl_info) != 0 && ssl_info.dli_fname && ssl_info.dli_fname[0]) {
    ssl = ssl_info.dli_fname;
  }
  if (dladdr((void *)RAND_bytes, &crypto_info) != 0 && crypto_info.dli_fname &&
      crypto_info.dli_fname[0]) {
    crypto = crypto_info.dli_fname;
  }
  // Which build: Debian's binary package lives in .../android/ and is built with OPENSSL_SMALL.
  const char *build = strstr(crypto, "/android/") ? "Debian binary package, OPENSSL_SMALL: slower"
                      : strstr(crypto, "build-boringssl/") ? "full-speed build of Debian's source"
                                                           : "other build";
  snprintf(out, out_len,
           "%s, API version %d (OPENSSL_VERSION_NUMBER 0x%08lx), libssl: %s, libcrypto: %s (%s)",
           OpenSSL_version(OPENSSL_VERSION), BORINGSSL_API_VERSION,
           (unsigned long)OPENSSL_VERSION_NUMBER, ssl, crypto, build);
}

void mh_tls_sha1_base64(const char *a, const char *b, char *out, size_t out_len) {
  SHA_CTX sha;
  uint8_t digest[SHA_DIGEST_LENGTH];
  SHA1_Init(&sha);
  SHA1_Update(&sha, a, strlen(a));
  SHA1_Update(&sha, b, strlen(b));
  SHA1_Final(digest, &sha);
  uint8_t enc[32];
  size_t n = EVP_EncodeBlock(enc, digest, sizeof(digest));
  snprintf(out, out_len, "%.*s", (int)n, (const char *)enc);
}

void mh_tls_random(void *buf, size_t len) {
  RAND_bytes(buf, len);
}
