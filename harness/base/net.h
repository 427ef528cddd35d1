// net: non-blocking TCP sockets: the mocks' listeners, and connections to a HOST:PORT resolved with
// the system resolver or pinned with curl-style NAME:PORT:ADDR entries.
#ifndef MH_NET_H
#define MH_NET_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

#include "base/err.h"

// mh_net_listen binds and listens on |address|:|port| (0: any free port) and returns the
// non-blocking socket, with the bound port in |*out_port|; -1 with |err| set in Go's words
// ("listen tcp 127.0.0.1:9000: bind: address already in use") plus the fix.
int mh_net_listen(const char *address, int port, int *out_port, struct mh_err *err);

// mh_net_listen_shared is mh_net_listen with SO_REUSEPORT: several sockets, one per event loop, may
// listen on the same port and the kernel spreads connections over them. The first of a group
// (|join| 0) fails like mh_net_listen if the port is already in use; the others join it.
int mh_net_listen_shared(const char *address, int port, int join, int *out_port,
                         struct mh_err *err);

// mh_net_fd_fit returns how many of |want| units of |per_unit| descriptors each fit under this
// process's descriptor limit after |base| others (which the caller estimates: listeners, logs,
// loops), raising the soft limit towards the hard one first when |want| needs it; |*limit| gets
// the limit then in force. A command sizes its concurrency with it, and names the limit and the
// fix when it must run fewer than asked, instead of failing mid-run on EMFILE.
int mh_net_fd_fit(int want, int per_unit, int base, long *limit);

// mh_net_connect starts a non-blocking connect to |address|:|port|; returns the socket (connected
// or in progress) or -1 with errno set.
int mh_net_connect(const char *address, int port);

// MH_NET_MAX_ADDRS bounds the addresses one name resolves to (the rest are ignored).
#define MH_NET_MAX_ADDRS 16
#define MH_NET_HOST_LEN 256

// mh_net_pin is one curl-style --resolve entry: connections to |name|:|port| go to |addr| (a
// numeric address, unbracketed) without asking the resolver.
struct mh_net_pin {
  char name[MH_NET_HOST_LEN];
  int port;
  char addr[64];
};

// mh_net_addrs is what a name resolved to, in the resolver's order.
struct mh_net_addrs {
  size_t num;
  struct sockaddr_storage ss[MH_NET_MAX_ADDRS];
  socklen_t len[MH_NET_MAX_ADDRS];
};

// mh_net_split_host_port splits "HOST:PORT" or "[IPV6]:PORT" |text| into |out_host| (brackets
// removed) and |*out_port| (1-65535). Returns 0, or -1 with |err| saying what is wrong (the caller
// prefixes the option or JSON path).
int mh_net_split_host_port(const char *text, char *out_host, size_t host_len, int *out_port,
                           struct mh_err *err);

// mh_net_is_numeric returns 1 when |host| is a numeric IPv4 or IPv6 address (unbracketed).
int mh_net_is_numeric(const char *host);

// mh_net_is_loopback returns 1 when |host| is a numeric address in 127.0.0.0/8 or ::1.
int mh_net_is_loopback(const char *host);

// mh_net_parse_pin reads a curl-style "NAME:PORT:ADDR" |text| (ADDR may be a bracketed IPv6
// address) into |out|. Returns 0, or -1 with |err| saying what is wrong.
int mh_net_parse_pin(const char *text, struct mh_net_pin *out, struct mh_err *err);

// mh_net_resolve fills |out| with the addresses of |host|:|port|: those of every pin in |pins|
// naming it (case-insensitive name, same port) if there is one, else what getaddrinfo(3) returns
// (a numeric host is itself). Returns 0, or -1 with |err| set in Go's words and the resolver's own
// ("lookup nosuch.invalid: Name or service not known").
int mh_net_resolve(const char *host, int port, const struct mh_net_pin *pins, size_t num_pins,
                   struct mh_net_addrs *out, struct mh_err *err);

// mh_net_connect_addr starts a non-blocking connect to the resolved address |sa| of |len| bytes
// with the source port chosen first (bound to an ephemeral port), so that |before|(|arg|, port),
// if not NULL, runs before the SYN (a capture can start on the exact 4-tuple). Returns the socket
// or -1 with errno set.
int mh_net_connect_addr(const struct sockaddr *sa, socklen_t len,
                        void (*before)(void *arg, int local_port), void *arg);

// mh_net_format_ip writes the numeric address of |sa| (no port, no brackets) into |out|.
void mh_net_format_ip(const struct sockaddr *sa, char *out, size_t out_len);

// mh_net_connect_result returns 0 once a started connect succeeded, or the errno it failed with.
int mh_net_connect_result(int fd);

// mh_net_format_addr writes "ip:port" ("[ip]:port" for IPv6) of |sa| into |out|.
struct sockaddr;
void mh_net_format_addr(const struct sockaddr *sa, char *out, size_t out_len);

// mh_net_raise_fd_limit raises RLIMIT_NOFILE to its hard limit, so that thousands of idle
// connections cannot exhaust descriptors before the mocks' own limits apply.
void mh_net_raise_fd_limit(void);

#endif
