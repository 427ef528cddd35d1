// clock: the one monotonic clock every measurement of the harness reads.
#ifndef MH_CLOCK_H
#define MH_CLOCK_H

// mh_clock_now returns CLOCK_MONOTONIC in seconds. Every timestamp the harness compares (case
// timings, load latencies, capture deadlines) comes from here, so that they share one origin.
double mh_clock_now(void);

// mh_clock_now_ms returns mh_clock_now in milliseconds.
double mh_clock_now_ms(void);

// mh_clock_wall_ms returns the wall clock (CLOCK_REALTIME) in milliseconds since the epoch: for
// timestamps people and other programs read (event logs, message ids, reports), never for
// durations.
long long mh_clock_wall_ms(void);

#endif
