// interrupt: SIGINT and SIGTERM delivered to a command as a file descriptor it polls.
//
// Why a signalfd rather than a handler: a handler can only set a global flag, and nothing global
// and mutable may belong to a run (docs/design.md). Instead the command blocks the two signals in
// its first thread before it starts any other (threads inherit the mask, so no thread is
// interrupted in a system call) and reads them from a signalfd it owns, in struct mh_interrupt. The
// only process-wide effect is the signal mask, restored by mh_interrupt_close. A signal that
// arrives while the command is busy elsewhere (generating keys) stays pending until the next poll.
#ifndef MH_INTERRUPT_H
#define MH_INTERRUPT_H

#include <signal.h>

#include "base/err.h"

struct mh_interrupt {
  int fd;        // the signalfd, -1 when closed
  int signo;     // the first signal received (SIGINT or SIGTERM), 0: none yet
  sigset_t old;  // the mask before mh_interrupt_open
};

// mh_interrupt_open blocks SIGINT and SIGTERM in the calling thread (call it before starting any
// thread) and opens |in|'s signalfd. Returns 0, or -1 with |err| set. The caller calls
// mh_interrupt_close in every case.
int mh_interrupt_open(struct mh_interrupt *in, struct mh_err *err);

// mh_interrupt_poll waits up to |timeout_ms| (0: not at all) for a signal and returns the signal
// number of |in| received so far (it stays set once received), or 0. |in| may be NULL (returns 0
// at once, after sleeping nothing).
int mh_interrupt_poll(struct mh_interrupt *in, int timeout_ms);

// mh_interrupt_wait is mh_interrupt_poll that also returns early when |wake_fd| (-1: none) is
// readable: a waiter that must notice both a signal and its own event (the last worker leaving)
// at once, rather than at its next poll. |wake_fd| is not read.
int mh_interrupt_wait(struct mh_interrupt *in, int wake_fd, int timeout_ms);

// mh_interrupt_exit_code returns the shell's exit code for a command ended by |signo|: 128 +
// |signo| (130 for SIGINT, 143 for SIGTERM).
int mh_interrupt_exit_code(int signo);

// mh_interrupt_name returns "SIGINT", "SIGTERM" or "signal".
const char *mh_interrupt_name(int signo);

// mh_interrupt_close closes the signalfd and restores the signal mask; a signal received is
// forgotten by the kernel (it was read), kept in |in->signo|. NULL or closed is accepted.
void mh_interrupt_close(struct mh_interrupt *in);

#endif
