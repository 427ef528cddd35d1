// net: loopback sockets (see net.h).
#include "base/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
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
  if (listen(fd, 1024) != 0) {
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

int mh_net_connect_from(const char *address, int port, void (*before)(void *arg, int local_port),
                        void *arg) {
  struct sockaddr_storage ss;
  socklen_t len;
  if (make_addr(address, port, &ss, &len) != 0) {
    errno = EINVAL;
    return -1;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  // Without |before| the kernel picks the source port at connect(2): two system calls fewer.
  if (before != NULL) {
    int lport = bind_ephemeral(fd, ss.ss_family);
    if (lport < 0) {
      int e = errno;
      close(fd);
      errno = e;
      return -1;
    }
    before(arg, lport);
  }
  if (connect(fd, (struct sockaddr *)&ss, len) != 0 && errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

int mh_net_connect(const char *address, int port) {
  return mh_net_connect_from(address, port, NULL, NULL);
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

void mh_net_peer(int fd, char *out, size_t out_len) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  memset(&ss, 0, sizeof(ss));
  if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0) {
    ss.ss_family = AF_UNSPEC;
  }
  mh_net_format_addr((struct sockaddr *)&ss, out, out_len);
}

void mh_net_raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}
