// mh-bssl-server: the BoringSSL server of tests/py/test_stacks_boringssl.py (docs/stacks.md).
//
// A test helper built by CMake against the harness's BoringSSL, never linked into the harness.
// Debian's `bssl-tool server` can require a client certificate but cannot verify it against a CA,
// so this server verifies as Envoy does (source/common/tls/cert_validator/default_validator.cc): a
// custom verify callback runs X509_verify_cert with the "ssl_client" purpose against the CA file,
// answers a chain error with SSL_alert_from_verify_result, and a name not allowed with BoringSSL's
// default alert for a failed custom verification (certificate_unknown, 46). It serves one
// connection at a time: the TLS handshake, then a fixed HTTP 200 to whatever request comes.
//
// Usage: mh-bssl-server PORT CERT KEY CA [--allowed-cn CN] [--dns-san NAME] [--uri-prefix P]
//                       [--min-version 1.2|1.3]
// Every wait is bounded (5 s socket timeouts); it runs until killed.
// clock_gettime and the socket calls under -std=c11.
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct rules {
  const char *cn;          // the subject CN that is admitted, or NULL
  const char *dns_san;     // a DNS SAN that must be present, or NULL
  const char *uri_prefix;  // a URI SAN prefix one of the SANs must have, or NULL
  X509_STORE *store;       // the client CA
};

static struct rules g_rules;

// has_san returns 1 when |leaf| has a SAN of |type| equal to |want| (or starting with it when
// |prefix|), else 0.
static int has_san(X509 *leaf, int type, const char *want, int prefix) {
  GENERAL_NAMES *names = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
  int found = 0;
  size_t wlen = strlen(want);
  for (size_t i = 0; names != NULL && i < sk_GENERAL_NAME_num(names) && !found; i++) {
    const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type != type) {
      continue;
    }
    const ASN1_IA5STRING *s = gn->d.ia5;
    size_t len = (size_t)ASN1_STRING_length(s);
    const unsigned char *d = ASN1_STRING_get0_data(s);
    found = prefix ? (len >= wlen && memcmp(d, want, wlen) == 0)
                   : (len == wlen && memcmp(d, want, wlen) == 0);
  }
  GENERAL_NAMES_free(names);
  return found;
}

// names_allowed returns 1 when |leaf| passes every configured name rule.
static int names_allowed(X509 *leaf) {
  if (g_rules.cn != NULL) {
    char cn[256];
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof(cn)) <
            0 ||
        strcmp(cn, g_rules.cn) != 0) {
      return 0;
    }
  }
  if (g_rules.dns_san != NULL && !has_san(leaf, GEN_DNS, g_rules.dns_san, 0)) {
    return 0;
  }
  if (g_rules.uri_prefix != NULL && !has_san(leaf, GEN_URI, g_rules.uri_prefix, 1)) {
    return 0;
  }
  return 1;
}

// verify is the custom verify callback: chain first (its alert from the verify result), then the
// name rules (BoringSSL's default alert for ssl_verify_invalid).
static enum ssl_verify_result_t verify(SSL *ssl, uint8_t *out_alert) {
  STACK_OF(X509) *chain = SSL_get_peer_full_cert_chain(ssl);
  if (chain == NULL || sk_X509_num(chain) == 0) {
    return ssl_verify_invalid;
  }
  X509 *leaf = sk_X509_value(chain, 0);
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  enum ssl_verify_result_t ret = ssl_verify_invalid;
  if (ctx == NULL || !X509_STORE_CTX_init(ctx, g_rules.store, leaf, chain) ||
      !X509_STORE_CTX_set_default(ctx, "ssl_client")) {
    goto out;
  }
  if (X509_verify_cert(ctx) != 1) {
    *out_alert = (uint8_t)SSL_alert_from_verify_result(X509_STORE_CTX_get_error(ctx));
    goto out;
  }
  if (names_allowed(leaf)) {
    ret = ssl_verify_ok;
  }
out:
  X509_STORE_CTX_free(ctx);
  return ret;
}

// now_ms returns the monotonic clock in milliseconds.
static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// serve_one runs one connection to its end, within about 5 s in all (the connections are served
// one at a time): handshake, read the request head, answer 200. A failed handshake has sent its
// alert; the socket is then half-closed and drained (at most 16 reads of 200 ms) so that the
// client's unread bytes do not turn the close into a RST that destroys the alert.
static void serve_one(SSL_CTX *sctx, int fd) {
  char buf[8192];
  long long deadline = now_ms() + 5000;
  struct timeval tv = {.tv_sec = 5};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  SSL *ssl = SSL_new(sctx);
  if (ssl == NULL || !SSL_set_fd(ssl, fd)) {
    goto out;
  }
  if (SSL_accept(ssl) != 1) {
    ERR_print_errors_fp(stderr);
    goto drain;
  }
  size_t got = 0;
  while (got < sizeof(buf) - 1 && now_ms() < deadline) {
    int n = SSL_read(ssl, buf + got, (int)(sizeof(buf) - 1 - got));
    if (n <= 0) {
      ERR_print_errors_fp(stderr);
      goto drain;
    }
    got += (size_t)n;
    buf[got] = '\0';
    if (strstr(buf, "\r\n\r\n") != NULL) {
      break;
    }
  }
  static const char answer[] =
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
  SSL_write(ssl, answer, (int)strlen(answer));
  SSL_shutdown(ssl);
drain:
  shutdown(fd, SHUT_WR);
  tv = (struct timeval){.tv_usec = 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  for (int i = 0; i < 16 && read(fd, buf, sizeof(buf)) > 0; i++) {
  }
out:
  SSL_free(ssl);
  close(fd);
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr,
            "usage: %s PORT CERT KEY CA [--allowed-cn CN] [--dns-san NAME] "
            "[--uri-prefix P] [--min-version 1.2|1.3]\n",
            argv[0]);
    return 2;
  }
  uint16_t min_version = TLS1_2_VERSION;
  for (int i = 5; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--allowed-cn") == 0) {
      g_rules.cn = argv[i + 1];
    } else if (strcmp(argv[i], "--dns-san") == 0) {
      g_rules.dns_san = argv[i + 1];
    } else if (strcmp(argv[i], "--uri-prefix") == 0) {
      g_rules.uri_prefix = argv[i + 1];
    } else if (strcmp(argv[i], "--min-version") == 0) {
      min_version = strcmp(argv[i + 1], "1.3") == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
    } else {
      fprintf(stderr, "%s: unknown option %s\n", argv[0], argv[i]);
      return 2;
    }
  }
  SSL_CTX *sctx = SSL_CTX_new(TLS_method());
  g_rules.store = X509_STORE_new();
  if (sctx == NULL || g_rules.store == NULL || !SSL_CTX_set_min_proto_version(sctx, min_version) ||
      !SSL_CTX_set_max_proto_version(sctx, TLS1_3_VERSION) ||
      !SSL_CTX_use_certificate_chain_file(sctx, argv[2]) ||
      !SSL_CTX_use_PrivateKey_file(sctx, argv[3], SSL_FILETYPE_PEM) ||
      !X509_STORE_load_locations(g_rules.store, argv[4], NULL)) {
    ERR_print_errors_fp(stderr);
    return 1;
  }
  // The CertificateRequest names the CA, as Envoy does unless told otherwise.
  SSL_CTX_set_client_CA_list(sctx, SSL_load_client_CA_file(argv[4]));
  SSL_CTX_set_custom_verify(sctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify);
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(ls, 128) != 0) {
    perror("mh-bssl-server: listen");
    return 1;
  }
  printf("mh-bssl-server: listening on 127.0.0.1:%s\n", argv[1]);
  fflush(stdout);
  for (;;) {
    int fd = accept(ls, NULL, NULL);
    if (fd >= 0) {
      serve_one(sctx, fd);
    }
  }
}
