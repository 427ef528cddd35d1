// interrupt: SIGINT and SIGTERM as a file descriptor (see interrupt.h).
#include "base/interrupt.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

int mh_interrupt_open(struct mh_interrupt *in, struct mh_err *err) {
  memset(in, 0, sizeof(*in));
  in->fd = -1;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int e = pthread_sigmask(SIG_BLOCK, &set, &in->old);
  if (e != 0) {
    errno = e;
    return mh_err_errno(err, "cannot block SIGINT and SIGTERM");
  }
  in->fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (in->fd < 0) {
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &in->old, NULL);
    errno = saved;
    return mh_err_errno(err, "cannot open a signalfd for SIGINT and SIGTERM");
  }
  return 0;
}

int mh_interrupt_wait(struct mh_interrupt *in, int wake_fd, int timeout_ms) {
  int listen = in != NULL && in->fd >= 0 && in->signo == 0;
  struct pollfd p[2] = {{.fd = listen ? in->fd : -1, .events = POLLIN},
                        {.fd = wake_fd, .events = POLLIN}};
  if (!listen && wake_fd < 0 && (in == NULL || in->fd < 0)) {
    return 0;  // nothing to wait for: no sleep (mh_interrupt_poll's contract)
  }
  // Already interrupted: the caller's pace is kept, without a busy loop (p[0] is ignored).
  if (poll(p, 2, timeout_ms) > 0 && (p[0].revents & POLLIN) != 0) {
    struct signalfd_siginfo si;
    if (read(in->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
      in->signo = (int)si.ssi_signo;
    }
  }
  return in != NULL ? in->signo : 0;
}

int mh_interrupt_poll(struct mh_interrupt *in, int timeout_ms) {
  return mh_interrupt_wait(in, -1, timeout_ms);
}

int mh_interrupt_exit_code(int signo) {
  return 128 + signo;
}

const char *mh_interrupt_name(int signo) {
  return signo == SIGINT ? "SIGINT" : signo == SIGTERM ? "SIGTERM" : "signal";
}

void mh_interrupt_close(struct mh_interrupt *in) {
  if (in == NULL || in->fd < 0) {
    return;
  }
  // A second signal still pending would act as the default (end the process) once unblocked: read
  // it here, so that the command's own exit code stands.
  struct signalfd_siginfo si;
  while (read(in->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
  }
  close(in->fd);
  in->fd = -1;
  pthread_sigmask(SIG_SETMASK, &in->old, NULL);
}
