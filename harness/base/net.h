// net: non-blocking TCP sockets on loopback for the mocks.
#ifndef MH_NET_H
#define MH_NET_H

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

// mh_net_connect starts a non-blocking connect to |address|:|port|; returns the socket (connected
// or in progress) or -1 with errno set.
int mh_net_connect(const char *address, int port);

// mh_net_connect_from is mh_net_connect with the source port chosen first (bound to an ephemeral
// port of the matching loopback family) so that |before| can see it before the SYN is sent.
int mh_net_connect_from(const char *address, int port, void (*before)(void *arg, int local_port),
                        void *arg);

// mh_net_connect_result returns 0 once a started connect succeeded, or the errno it failed with.
int mh_net_connect_result(int fd);

// mh_net_format_addr writes "ip:port" ("[ip]:port" for IPv6) of |sa| into |out|.
struct sockaddr;
void mh_net_format_addr(const struct sockaddr *sa, char *out, size_t out_len);

// mh_net_peer writes "ip:port" of |fd|'s peer into |out|.
void mh_net_peer(int fd, char *out, size_t out_len);

// mh_net_raise_fd_limit raises RLIMIT_NOFILE to its hard limit, so that thousands of idle
// connections cannot exhaust descriptors before the mocks' own limits apply.
void mh_net_raise_fd_limit(void);

#endif
