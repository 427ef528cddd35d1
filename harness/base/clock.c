// clock: see clock.h.
#include "base/clock.h"

#include <time.h>

double mh_clock_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double mh_clock_now_ms(void) {
  return mh_clock_now() * 1000.0;
}
