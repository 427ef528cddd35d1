// ws: WebSocket framing over the mocks' transports, with Debian's libwslay.
//
// The caller owns the transport: it supplies recv/send functions that return bytes moved, 0 with
// |*would_block| set when the socket is not ready, or -1 when the transport is finished. Messages
// arrive through on_text; control frames (ping/pong/close) are answered by wslay.
#ifndef MH_WS_H
#define MH_WS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct mh_ws_io {
  void *arg;
  ssize_t (*recv)(void *arg, uint8_t *buf, size_t len, int *would_block);
  ssize_t (*send)(void *arg, const uint8_t *buf, size_t len, int *would_block);
  void (*on_text)(void *arg, const uint8_t *msg, size_t len);
};

struct mh_ws;

// Bounds that keep one peer from taking the memory or the loop (docs/scenarios.md, "Limits"):
// a pump reads at most MH_WS_READ_BUDGET bytes, and a session whose queue holds more than
// MH_WS_BACKLOG bytes or MH_WS_BACKLOG_FRAMES frames (pongs to a ping flood, data to a peer that
// does not read) reads nothing until the queue drains below them.
#define MH_WS_READ_BUDGET 65536
#define MH_WS_BACKLOG 65536
#define MH_WS_BACKLOG_FRAMES 1024

// mh_ws_new starts a session for the server (|is_server|) or client side; NULL on failure.
struct mh_ws *mh_ws_new(int is_server, const struct mh_ws_io *io);

// mh_ws_free releases |ws|; NULL is accepted.
void mh_ws_free(struct mh_ws *ws);

// mh_ws_pump reads what the transport has (at most MH_WS_READ_BUDGET bytes, nothing while
// mh_ws_backlogged) and writes what is queued. Returns 0 while the session
// is open, -1 once it is over (closed by either side, or a transport or protocol error).
int mh_ws_pump(struct mh_ws *ws);

// mh_ws_send_text queues a text message (copied). Returns 0 or -1.
int mh_ws_send_text(struct mh_ws *ws, const char *msg, size_t len);

// mh_ws_ping queues a ping with an empty payload (the real output's keepalive).
int mh_ws_ping(struct mh_ws *ws);

// mh_ws_wants_write reports whether frames are waiting for the transport.
int mh_ws_wants_write(const struct mh_ws *ws);

// mh_ws_backlogged returns 1 while more than MH_WS_BACKLOG bytes or MH_WS_BACKLOG_FRAMES frames
// wait for the transport (then mh_ws_pump reads nothing), else 0.
int mh_ws_backlogged(const struct mh_ws *ws);

// mh_ws_queued returns how many message bytes wait for the transport.
size_t mh_ws_queued(const struct mh_ws *ws);

// mh_ws_sent returns how many bytes the transport took over the session (a write deadline
// watches it move).
size_t mh_ws_sent(const struct mh_ws *ws);

// mh_ws_more_to_read returns 1 when the last mh_ws_pump stopped at its read budget with reading
// still allowed (the transport may hold more right now), else 0.
int mh_ws_more_to_read(const struct mh_ws *ws);

// MH_WS_KEY_LEN is the length of a Sec-WebSocket-Key (base64 of 16 bytes), without its NUL.
#define MH_WS_KEY_LEN 24

// mh_ws_client_key writes a fresh random Sec-WebSocket-Key (base64 of 16 random bytes, as
// gorilla's client sends) and its NUL into |out| (at least MH_WS_KEY_LEN + 1 bytes).
void mh_ws_client_key(char *out);

// mh_ws_upgrade_request writes the HTTP/1.1 request that opens a WebSocket at |path| into |out|:
// Host |host| (with ":port" if the caller wants one), User-Agent |user_agent|, key |key|.
// Returns its length, or -1 if it does not fit in |out_len| bytes (then |out| holds no request).
int mh_ws_upgrade_request(char *out, size_t out_len, const char *host, const char *path,
                          const char *key, const char *user_agent);

#endif
