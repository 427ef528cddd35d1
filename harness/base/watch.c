// watch: see watch.h.
#include "base/watch.h"

void mh_watch_want(struct ev_loop *loop, ev_io *io, int fd, int events, int buffered) {
  // ev_io_set adds a libev-internal flag to io->events: compare only the two that are ours.
  if ((io->events & (EV_READ | EV_WRITE)) != events || !ev_is_active(io) || io->fd != fd) {
    ev_io_stop(loop, io);
    ev_io_set(io, fd, events);
    ev_io_start(loop, io);
  }
  if ((events & EV_READ) && buffered) {
    ev_feed_event(loop, io, EV_READ);
  }
}
