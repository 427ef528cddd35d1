// progress: the run's progress line on stderr (see progress.h).
#include "conform/progress.h"

#include <unistd.h>

#include "base/printable.h"

void mh_progress_init(struct mh_progress *p, FILE *out, int enabled, double now_ms) {
  p->out = out;
  p->tty = isatty(fileno(out));
  p->enabled = enabled;
  p->last_ms = now_ms;
  p->open = 0;
}

int mh_progress_due(const struct mh_progress *p, double now_ms) {
  return p->enabled && now_ms - p->last_ms >= (p->tty ? 1000.0 : MH_PROGRESS_PIPE_S * 1000.0);
}

void mh_progress_show(struct mh_progress *p, const struct mh_progress_state *st, double now_ms) {
  p->last_ms = now_ms;
  if (!p->enabled) {
    return;
  }
  struct mh_printable_ring g = {.next = 0};
  // \033[K clears what a longer previous line left on the terminal.
  fprintf(p->out, "%srun: %zu/%zu cases done, %zu failed", p->tty ? "\r" : "", st->done, st->total,
          st->failed);
  if (st->slowest_id != NULL) {
    fprintf(p->out, ", slowest running: %s (%.1f s)", mh_printable_next(&g, st->slowest_id),
            st->slowest_ms / 1000.0);
  }
  fputs(p->tty ? "\033[K" : "\n", p->out);
  fflush(p->out);
  p->open = p->tty;
}

void mh_progress_end(struct mh_progress *p) {
  if (p->open) {
    fputc('\n', p->out);
    fflush(p->out);
    p->open = 0;
  }
}
