// net: TCP sockets, resolution and --resolve pins (see net.h).
#include "base/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

// make_addr fills |ss| for a numeric IPv4 or IPv6 address ("localhost" means 127.0.0.1).
static int make_addr(const char *address, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof(*ss));
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (strcmp(address, "localhost") == 0) {
    address = "127.0.0.1";
  }
  if (inet_pton(AF_INET, address, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *len = sizeof(*a4);
    return 0;
  }
  if (inet_pton(AF_INET6, address, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    *len = sizeof(*a6);
    return 0;
  }
  return -1;
}

static int listen_impl(const char *address, int port, int shared, int *out_port,
                       struct mh_err *err);

int mh_net_listen(const char *address, int port, int *out_port, struct mh_err *err) {
  return listen_impl(address, port, 0, out_port, err);
}

int mh_net_listen_shared(const char *address, int port, int join, int *out_port,
                         struct mh_err *err) {
  if (!join && port != 0) {
    // SO_REUSEPORT would let us share a port another process listens on with it too: check
    // first that nobody has it (a socket without the option cannot bind it then).
    int probe_port;
    int probe = listen_impl(address, port, 0, &probe_port, err);
    if (probe < 0) {
      return -1;
    }
    close(probe);
  }
  return listen_impl(address, port, 1, out_port, err);
}

static int listen_impl(const char *address, int port, int shared, int *out_port,
                       struct mh_err *err) {
  struct sockaddr_storage ss;
  socklen_t len;
  if (make_addr(address, port, &ss, &len) != 0) {
    return mh_err_set(err, "listen tcp %s:%d: not a numeric address", address, port);
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return mh_err_errno(err, "listen tcp %s:%d: socket", address, port);
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  // Accepted connections inherit it (Linux copies the listener's TCP options), as every Go
  // connection has it: without it the mock's 101 after a TLS 1.3 session ticket waited for the
  // client's delayed ACK, 40 ms of a 42 ms case.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (shared) {
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  }
  if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
    int e = errno;
    close(fd);
    if (e == EADDRINUSE) {
      return mh_err_set(err,
                        "listen tcp %s:%d: bind: address already in use (another process has the "
                        "port: stop it, or run with --ephemeral-ports)",
                        address, port);
    }
    errno = e;
    return mh_err_errno(err, "listen tcp %s:%d: bind", address, port);
  }
  // The kernel clamps the backlog to net.core.somaxconn (4096 by default since Linux 5.4): ask
  // for the most it allows, so that a burst of connections (a flood, or good clients arriving
  // while the loop is busy) queues instead of being dropped at 1,024.
  if (listen(fd, 65535) != 0) {
    close(fd);
    return mh_err_errno(err, "listen tcp %s:%d: listen", address, port);
  }
  struct sockaddr_storage bound;
  socklen_t blen = sizeof(bound);
  getsockname(fd, (struct sockaddr *)&bound, &blen);
  *out_port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                               : ((struct sockaddr_in6 *)&bound)->sin6_port);
  return fd;
}

// bind_ephemeral binds |fd| to an ephemeral port of |family|'s any-address (the kernel routes
// loopback as usual) and returns the port, or -1 with errno set.
static int bind_ephemeral(int fd, int family) {
  struct sockaddr_storage local;
  memset(&local, 0, sizeof(local));
  local.ss_family = (sa_family_t)family;
  socklen_t llen = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  if (bind(fd, (struct sockaddr *)&local, llen) != 0 ||
      getsockname(fd, (struct sockaddr *)&local, &llen) != 0) {
    return -1;
  }
  return ntohs(family == AF_INET ? ((struct sockaddr_in *)&local)->sin_port
                                 : ((struct sockaddr_in6 *)&local)->sin6_port);
}

int mh_net_connect_addr(const struct sockaddr *sa, socklen_t len,
                        void (*before)(void *arg, int local_port), void *arg) {
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  // Without |before| the kernel picks the source port at connect(2): two system calls fewer.
  if (before != NULL) {
    int lport = bind_ephemeral(fd, sa->sa_family);
    if (lport < 0) {
      int e = errno;
      close(fd);
      errno = e;
      return -1;
    }
    before(arg, lport);
  }
  if (connect(fd, sa, len) != 0 && errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

// connect_from is mh_net_connect with the source port chosen first (bound to an ephemeral
// port of the matching loopback family) so that |before| can see it before the SYN is sent.
static int connect_from(const char *address, int port, void (*before)(void *arg, int local_port),
                        void *arg) {
  struct sockaddr_storage ss;
  socklen_t len;
  if (make_addr(address, port, &ss, &len) != 0) {
    errno = EINVAL;
    return -1;
  }
  return mh_net_connect_addr((struct sockaddr *)&ss, len, before, arg);
}

int mh_net_connect(const char *address, int port) {
  return connect_from(address, port, NULL, NULL);
}

int mh_net_connect_result(int fd) {
  int e = 0;
  socklen_t len = sizeof(e);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0) {
    return errno;
  }
  return e;
}

void mh_net_format_addr(const struct sockaddr *sa, char *out, size_t out_len) {
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
    port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));
    port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
  }
  snprintf(out, out_len, sa->sa_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, port);
}

void mh_net_format_ip(const struct sockaddr *sa, char *out, size_t out_len) {
  char port_text[INET6_ADDRSTRLEN + 16];
  mh_net_format_addr(sa, port_text, sizeof(port_text));
  // "ip:port" or "[ip]:port": drop the port and the brackets.
  char *colon = strrchr(port_text, ':');
  if (colon != NULL) {
    *colon = '\0';
  }
  size_t n = strlen(port_text);
  if (port_text[0] == '[' && n >= 2 && port_text[n - 1] == ']') {
    port_text[n - 1] = '\0';
    snprintf(out, out_len, "%s", port_text + 1);
  } else {
    snprintf(out, out_len, "%s", port_text);
  }
}

int mh_net_split_host_port(const char *text, char *out_host, size_t host_len, int *out_port,
                           struct mh_err *err) {
  const char *colon = strrchr(text, ':');
  char *end = NULL;
  long port = colon != NULL ? strtol(colon + 1, &end, 10) : 0;
  if (colon == NULL || colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535) {
    return mh_err_set(err,
                      "\"%s\" is not HOST:PORT (e.g. \"db.example.com:443\", "
                      "\"192.0.2.10:443\" or \"[2001:db8::10]:443\")",
                      text);
  }
  const char *h = text;
  size_t n = (size_t)(colon - text);
  if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
    h++;
    n -= 2;
  } else if (memchr(h, ':', n) != NULL) {
    return mh_err_set(err, "\"%s\": an IPv6 address is written in brackets, \"[%.*s]:%ld\"", text,
                      (int)n, h, port);
  }
  if (n == 0 || n >= host_len || n >= MH_NET_HOST_LEN) {
    return mh_err_set(err, "\"%s\": the host is empty or longer than %d characters", text,
                      MH_NET_HOST_LEN - 1);
  }
  memcpy(out_host, h, n);
  out_host[n] = '\0';
  if (h != text && !mh_net_is_numeric(out_host)) {
    return mh_err_set(err, "\"%s\": only an IPv6 address goes in brackets", text);
  }
  *out_port = (int)port;
  return 0;
}

int mh_net_is_numeric(const char *host) {
  struct in_addr a4;
  struct in6_addr a6;
  return inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
}

int mh_net_is_loopback(const char *host) {
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton(AF_INET, host, &a4) == 1) {
    return (ntohl(a4.s_addr) >> 24) == 127;
  }
  return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

int mh_net_parse_pin(const char *text, struct mh_net_pin *out, struct mh_err *err) {
  memset(out, 0, sizeof(*out));
  // NAME:PORT:ADDR, where ADDR alone may hold colons (IPv6, bracketed or not).
  const char *c1 = strchr(text, ':');
  const char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
  char *end = NULL;
  long port = c2 != NULL ? strtol(c1 + 1, &end, 10) : 0;
  if (c2 == NULL || end != c2 || port < 1 || port > 65535 || c1 == text ||
      (size_t)(c1 - text) >= sizeof(out->name)) {
    return mh_err_set(err,
                      "\"%s\" is not NAME:PORT:ADDR (e.g. \"db.example.com:443:192.0.2.10\" "
                      "or \"db.example.com:443:[2001:db8::10]\")",
                      text);
  }
  snprintf(out->name, sizeof(out->name), "%.*s", (int)(c1 - text), text);
  const char *a = c2 + 1;
  size_t n = strlen(a);
  if (n >= 2 && a[0] == '[' && a[n - 1] == ']') {
    a++;
    n -= 2;
  }
  snprintf(out->addr, sizeof(out->addr), "%.*s", (int)n, a);
  if (n >= sizeof(out->addr) || !mh_net_is_numeric(out->addr)) {
    return mh_err_set(err, "\"%s\": \"%s\" is not a numeric IPv4 or IPv6 address", text, c2 + 1);
  }
  out->port = (int)port;
  return 0;
}

// add_addr appends numeric |host|:|port| to |out| (when there is room); 0, or -1 if not numeric.
static int add_addr(struct mh_net_addrs *out, const char *host, int port) {
  if (out->num >= MH_NET_MAX_ADDRS) {
    return 0;
  }
  if (make_addr(host, port, &out->ss[out->num], &out->len[out->num]) != 0) {
    return -1;
  }
  out->num++;
  return 0;
}

int mh_net_resolve(const char *host, int port, const struct mh_net_pin *pins, size_t num_pins,
                   struct mh_net_addrs *out, struct mh_err *err) {
  out->num = 0;
  for (size_t i = 0; i < num_pins; i++) {
    if (pins[i].port == port && strcasecmp(pins[i].name, host) == 0) {
      add_addr(out, pins[i].addr, port);  // numeric: checked when the pin was parsed
    }
  }
  if (out->num > 0) {
    return 0;
  }
  if (mh_net_is_numeric(host)) {
    return add_addr(out, host, port);
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  struct addrinfo *res = NULL;
  char service[16];
  snprintf(service, sizeof(service), "%d", port);
  int rc = getaddrinfo(host, service, &hints, &res);
  if (rc != 0) {
    return mh_err_set(err, "lookup %s: %s", host,
                      rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
  }
  for (struct addrinfo *ai = res; ai != NULL && out->num < MH_NET_MAX_ADDRS; ai = ai->ai_next) {
    if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
        ai->ai_addrlen <= sizeof(out->ss[0])) {
      memcpy(&out->ss[out->num], ai->ai_addr, ai->ai_addrlen);
      out->len[out->num++] = ai->ai_addrlen;
    }
  }
  freeaddrinfo(res);
  return out->num > 0 ? 0 : mh_err_set(err, "lookup %s: no IPv4 or IPv6 address", host);
}
void mh_net_raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int mh_net_fd_fit(int want, int per_unit, int base, long *limit) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    *limit = -1;
    return want;  // unknown: the kernel says so later, with EMFILE
  }
  rlim_t need = (rlim_t)base + (rlim_t)want * (rlim_t)per_unit;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
    rlim_t raised = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
    struct rlimit up = {.rlim_cur = raised, .rlim_max = rl.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &up) == 0) {
      rl.rlim_cur = raised;
    }
  }
  if (rl.rlim_cur == RLIM_INFINITY) {
    *limit = -1;
    return want;
  }
  *limit = (long)rl.rlim_cur;
  long fit = ((long)rl.rlim_cur - base) / per_unit;
  return fit < 0 ? 0 : fit < want ? (int)fit : want;
}
