// progress: a run's progress line on stderr: cases done of total, failures so far, and the case
// that has been running longest.
//
// On a terminal one line is rewritten (\r) about once a second; otherwise (a pipe, a CI log) a
// plain line at most every MH_PROGRESS_PIPE_S seconds, so that a log stays short and a stalled run
// still shows where it stalls. The line ends before the summary is printed.
#ifndef MH_PROGRESS_H
#define MH_PROGRESS_H

#include <stddef.h>
#include <stdio.h>

#define MH_PROGRESS_PIPE_S 2

struct mh_progress {
  FILE *out;
  int tty;         // |out| is a terminal
  int enabled;     // 0: print nothing (--quiet)
  double last_ms;  // when the last line was printed (mh_clock_now_ms), or the start
  int open;        // a terminal line was written and not ended yet
};

// mh_progress_state is what the line shows.
struct mh_progress_state {
  size_t done, total, failed;
  const char *slowest_id;  // the running case that started first, NULL: none
  double slowest_ms;       // how long it has been running
};

// mh_progress_init prepares |p| to print on |out| (stderr) from |now_ms| on.
void mh_progress_init(struct mh_progress *p, FILE *out, int enabled, double now_ms);

// mh_progress_due says whether a line is due at |now_ms|.
int mh_progress_due(const struct mh_progress *p, double now_ms);

// mh_progress_show prints |st| (a case id is shown as printable text) and remembers |now_ms|.
void mh_progress_show(struct mh_progress *p, const struct mh_progress_state *st, double now_ms);

// mh_progress_end ends a terminal's rewritten line, so that what follows starts on its own line.
void mh_progress_end(struct mh_progress *p);

#endif
