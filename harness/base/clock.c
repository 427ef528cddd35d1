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

long long mh_clock_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
