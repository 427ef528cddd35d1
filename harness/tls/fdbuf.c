// fdbuf: the buffered socket BIO.
//
// BoringSSL reads exactly what it needs from its BIO: a record header, then the record's body, so
// a socket BIO costs two read(2) per record and a handshake flight of four records eight. This BIO
// reads what the kernel has (up to MH_TLS_FDBUF_LEN) in one read(2) and serves those exact-length
// reads from it, as Go's crypto/tls does with its own input buffer. Contract, kept by
// mh_tls_buffered: the BIO asks BoringSSL to retry a read only when its buffer is empty, so after
// MH_IO_WANT_READ nothing is buffered; after any other result bytes may be, and an event loop must
// call again before it waits for the descriptor to become readable.
// It also skips the read(2) that would nearly always fail: the one right after we wrote, before
// any readiness event (the peer cannot have answered yet). Such a read returns "retry" at once; a
// level-triggered poll reports the descriptor readable if bytes did arrive, and the loop passes
// that on with mh_tls_readable.
#include <errno.h>
#include <openssl/bio.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "tls/internal.h"

static int fdbuf_read(BIO *b, char *out, int out_len) {
  struct mh_tls_fdbuf *f = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (out_len <= 0) {
    return 0;
  }
  if (f->off == f->len) {
    f->off = f->len = 0;
    if (!f->maybe_readable) {
      BIO_set_retry_read(b);
      errno = EAGAIN;
      return -1;
    }
    // A large body is read straight into BoringSSL's buffer: copying it would gain nothing.
    ssize_t n = (size_t)out_len >= MH_TLS_FDBUF_LEN ? read(f->fd, out, (size_t)out_len)
                                                    : read(f->fd, f->data, MH_TLS_FDBUF_LEN);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      BIO_set_retry_read(b);
      f->maybe_readable = 0;
    }
    if (n <= 0 || (size_t)out_len >= MH_TLS_FDBUF_LEN) {
      return (int)n;
    }
    f->len = (size_t)n;
  }
  size_t take = f->len - f->off < (size_t)out_len ? f->len - f->off : (size_t)out_len;
  memcpy(out, f->data + f->off, take);
  f->off += take;
  return (int)take;
}

static int fdbuf_write(BIO *b, const char *in, int in_len) {
  struct mh_tls_fdbuf *f = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  ssize_t n = send(f->fd, in, (size_t)in_len, MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_write(b);
  }
  if (n > 0) {
    f->maybe_readable = 0;
  }
  if (n > 0 && f->first_send != NULL) {
    *f->first_send = mh_clock_now();
    f->first_send = NULL;
  }
  return (int)n;
}

static long fdbuf_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)b;
  (void)num;
  (void)ptr;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int fdbuf_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

// The method is built once per process and never freed: BIOs of any thread refer to it.
static BIO_METHOD *fdbuf_method;
static pthread_once_t fdbuf_once = PTHREAD_ONCE_INIT;

static void fdbuf_method_init(void) {
  fdbuf_method = BIO_meth_new(BIO_TYPE_SOURCE_SINK, "mtls-harness buffered socket");
  if (fdbuf_method != NULL) {
    BIO_meth_set_read(fdbuf_method, fdbuf_read);
    BIO_meth_set_write(fdbuf_method, fdbuf_write);
    BIO_meth_set_ctrl(fdbuf_method, fdbuf_ctrl);
    BIO_meth_set_create(fdbuf_method, fdbuf_create);
  }
}

BIO *mh_tls_fdbuf_bio(struct mh_tls_fdbuf *f) {
  pthread_once(&fdbuf_once, fdbuf_method_init);
  BIO *bio = fdbuf_method != NULL ? BIO_new(fdbuf_method) : NULL;
  if (bio != NULL) {
    BIO_set_data(bio, f);
  }
  return bio;
}
