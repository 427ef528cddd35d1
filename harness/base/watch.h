// watch: the one way a connection tells libev what it waits for. Every event-driven connection of
// the harness (mock outputs and inputs, load connections) goes through mh_watch_want.
#ifndef MH_WATCH_H
#define MH_WATCH_H

#include <ev.h>

// mh_watch_want makes |io| wait for |events| (EV_READ, EV_WRITE or both) on |fd|. A watcher that
// already waits for exactly these events is left alone (restarting it costs an epoll_ctl(2) for
// nothing). Contract of buffered layers: when the caller's TLS connection holds received bytes
// that were not handed out yet (|buffered|, from mh_tls_buffered), the kernel will not report
// them, so a read event is fed at once instead of waiting for one that may never come.
void mh_watch_want(struct ev_loop *loop, ev_io *io, int fd, int events, int buffered);

#endif
