// ws: libwslay sessions (see ws.h).
#include "mock/ws.h"

#include <openssl/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "tls/tls.h"

struct mh_ws {
  wslay_event_context_ptr ctx;
  struct mh_ws_io io;
  int broken;        // the transport failed
  size_t read_left;  // what this pump may still read (MH_WS_READ_BUDGET per pump)
  size_t sent;       // bytes the transport took, over the session
  int budget_spent;  // the last pump stopped reading at its budget, not at "would block"
};

// io_result turns a transport result into wslay's: bytes, or -1 with "would block" or a failure
// (which marks the transport broken).
static ssize_t io_result(wslay_event_context_ptr ctx, struct mh_ws *ws, ssize_t n,
                         int would_block) {
  if (n > 0) {
    return n;
  }
  if (would_block) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
  } else {
    ws->broken = 1;
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
  }
  return -1;
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                       void *user) {
  (void)flags;
  struct mh_ws *ws = user;
  if (ws->read_left == 0) {
    // The budget is spent: "would block" ends wslay's read loop, so one peer that sends as fast
    // as it can does not keep the loop (and every other connection's timers) waiting.
    ws->budget_spent = 1;
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  len = len < ws->read_left ? len : ws->read_left;
  int would_block = 0;
  ssize_t n = ws->io.recv(ws->io.arg, buf, len, &would_block);
  if (n > 0) {
    ws->read_left -= (size_t)n;
  }
  return io_result(ctx, ws, n, would_block);
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user) {
  (void)flags;
  struct mh_ws *ws = user;
  int would_block = 0;
  ssize_t n = ws->io.send(ws->io.arg, data, len, &would_block);
  if (n > 0) {
    ws->sent += (size_t)n;
  }
  return io_result(ctx, ws, n, would_block);
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user) {
  (void)ctx;
  (void)user;
  mh_tls_random(buf, len);
  return 0;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user) {
  (void)ctx;
  struct mh_ws *ws = user;
  if (arg->opcode == WSLAY_TEXT_FRAME) {
    ws->io.on_text(ws->io.arg, arg->msg, arg->msg_length);
  }
}

struct mh_ws *mh_ws_new(int is_server, const struct mh_ws_io *io) {
  struct mh_ws *ws = calloc(1, sizeof(*ws));
  if (ws == NULL) {
    return NULL;
  }
  ws->io = *io;
  struct wslay_event_callbacks cb = {
      .recv_callback = recv_cb,
      .send_callback = send_cb,
      .genmask_callback = genmask_cb,
      .on_msg_recv_callback = on_msg,
  };
  int r = is_server ? wslay_event_context_server_init(&ws->ctx, &cb, ws)
                    : wslay_event_context_client_init(&ws->ctx, &cb, ws);
  if (r != 0) {
    free(ws);
    return NULL;
  }
  // gorilla's Upgrader uses 1 KiB buffers but accepts messages of any size; bound them here.
  wslay_event_config_set_max_recv_msg_length(ws->ctx, 1 << 20);
  return ws;
}

void mh_ws_free(struct mh_ws *ws) {
  if (ws == NULL) {
    return;
  }
  wslay_event_context_free(ws->ctx);
  free(ws);
}

int mh_ws_pump(struct mh_ws *ws) {
  ws->read_left = MH_WS_READ_BUDGET;
  ws->budget_spent = 0;
  // Backpressure: while the peer leaves what we queued unread, read nothing more, so its pings
  // are not even parsed and their pongs cannot pile up.
  if (!mh_ws_backlogged(ws) && wslay_event_want_read(ws->ctx) && wslay_event_recv(ws->ctx) != 0) {
    return -1;
  }
  if (wslay_event_want_write(ws->ctx) && wslay_event_send(ws->ctx) != 0) {
    return -1;
  }
  if (ws->broken) {
    return -1;
  }
  // Over once both directions are closed, or we closed and nothing is left to send.
  if (!wslay_event_want_read(ws->ctx) && !wslay_event_want_write(ws->ctx)) {
    return -1;
  }
  return 0;
}

int mh_ws_send_text(struct mh_ws *ws, const char *msg, size_t len) {
  struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)msg, len};
  return wslay_event_queue_msg(ws->ctx, &m) == 0 ? 0 : -1;
}

int mh_ws_ping(struct mh_ws *ws) {
  struct wslay_event_msg m = {WSLAY_PING, NULL, 0};
  return wslay_event_queue_msg(ws->ctx, &m) == 0 ? 0 : -1;
}
int mh_ws_wants_write(const struct mh_ws *ws) {
  return wslay_event_want_write(ws->ctx);
}

int mh_ws_backlogged(const struct mh_ws *ws) {
  return wslay_event_get_queued_msg_length(ws->ctx) > MH_WS_BACKLOG ||
         wslay_event_get_queued_msg_count(ws->ctx) > MH_WS_BACKLOG_FRAMES;
}

size_t mh_ws_queued(const struct mh_ws *ws) {
  return wslay_event_get_queued_msg_length(ws->ctx);
}

size_t mh_ws_sent(const struct mh_ws *ws) {
  return ws->sent;
}

int mh_ws_more_to_read(const struct mh_ws *ws) {
  return ws->budget_spent && !mh_ws_backlogged(ws);
}

void mh_ws_client_key(char *out) {
  uint8_t raw[16];
  mh_tls_random(raw, sizeof(raw));
  EVP_EncodeBlock((uint8_t *)out, raw, sizeof(raw));  // 24 characters and a NUL
}

int mh_ws_upgrade_request(char *out, size_t out_len, const char *host, const char *path,
                          const char *key, const char *user_agent) {
  int n = snprintf(out, out_len,
                   "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
                   "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n",
                   path, host, user_agent, key);
  if (n < 0 || (size_t)n >= out_len) {
    if (out_len > 0) {
      out[0] = '\0';
    }
    return -1;
  }
  return n;
}
