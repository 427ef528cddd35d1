// xport: a mock connection's byte stream, TLS or the plain socket, with the bytes an HTTP head
// left over handed out first (see internal.h).
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/watch.h"
#include "mock/internal.h"

enum mh_io mh_xport_read(struct mh_xport *x, void *buf, size_t len, size_t *out_n) {
  if (x->pending_off < x->pending_len) {
    size_t n = x->pending_len - x->pending_off;
    n = n < len ? n : len;
    memcpy(buf, x->pending + x->pending_off, n);
    x->pending_off += n;
    *out_n = n;
    return MH_IO_OK;
  }
  if (x->tls != NULL) {
    return mh_tls_read(x->tls, buf, len, out_n);
  }
  ssize_t n = read(x->fd, buf, len);
  *out_n = n > 0 ? (size_t)n : 0;
  if (n > 0) {
    return MH_IO_OK;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    return MH_IO_WANT_READ;
  }
  return n == 0 ? MH_IO_CLOSED : MH_IO_FAILED;
}

enum mh_io mh_xport_write(struct mh_xport *x, const void *buf, size_t len, size_t *out_n) {
  if (x->tls != NULL) {
    return mh_tls_write(x->tls, buf, len, out_n);
  }
  ssize_t n = send(x->fd, buf, len, MSG_NOSIGNAL);
  *out_n = n > 0 ? (size_t)n : 0;
  if (n >= 0) {
    return MH_IO_OK;
  }
  return errno == EAGAIN || errno == EINTR ? MH_IO_WANT_WRITE : MH_IO_FAILED;
}

void mh_xport_keep(struct mh_xport *x, const char *rest, size_t len) {
  memcpy(x->pending, rest, len);
  x->pending_len = len;
  x->pending_off = 0;
}

void mh_xport_want(struct ev_loop *loop, ev_io *io, struct mh_xport *x, int events) {
  mh_watch_want(loop, io, x->fd, events, x->tls != NULL && mh_tls_buffered(x->tls));
}

static ssize_t ws_recv(void *arg, uint8_t *buf, size_t len, int *would_block) {
  size_t n;
  enum mh_io r = mh_xport_read(arg, buf, len, &n);
  *would_block = r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE;
  return r == MH_IO_OK ? (ssize_t)n : (*would_block ? 0 : -1);
}

static ssize_t ws_send(void *arg, const uint8_t *buf, size_t len, int *would_block) {
  size_t n;
  enum mh_io r = mh_xport_write(arg, buf, len, &n);
  *would_block = r == MH_IO_WANT_READ || r == MH_IO_WANT_WRITE || (r == MH_IO_OK && n == 0);
  return r == MH_IO_OK && n > 0 ? (ssize_t)n : (*would_block ? 0 : -1);
}

struct mh_ws_io mh_xport_ws_io(struct mh_xport *x,
                               void (*on_text)(void *arg, const uint8_t *msg, size_t len)) {
  struct mh_ws_io io = {.arg = x, .recv = ws_recv, .send = ws_send, .on_text = on_text};
  return io;
}
