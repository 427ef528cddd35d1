// shard: a shard's part of the load and the shared start (see shard.h).
#include "load/shard.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int mh_shard_parse(const char *text, int *out_index, int *out_count, struct mh_err *err) {
  char *end = NULL;
  long i = strtol(text, &end, 10);
  long n = -1;
  if (end != text && *end == '/') {
    const char *rest = end + 1;
    n = strtol(rest, &end, 10);
    n = end == rest ? -1 : n;
  }
  if (n < 1 || n > MH_SHARD_MAX || *end != '\0' || i < 0 || i >= n || text[0] == '+' ||
      text[0] == ' ') {
    return mh_err_set(err,
                      "mtls-harness load: --shard takes I/N, this process's index I from 0 to N-1 "
                      "of N shards (1 to %d), e.g. --shard 2/4; got '%s'",
                      MH_SHARD_MAX, text);
  }
  *out_index = (int)i;
  *out_count = (int)n;
  return 0;
}

// parse_rfc3339 reads "YYYY-MM-DDTHH:MM:SS[.fff]Z" into unix seconds. Returns 0 or -1.
static int parse_rfc3339(const char *text, double *out) {
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  int consumed = 0;
  if (sscanf(text, "%4d-%2d-%2d%*1[Tt]%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
             &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 19) {
    return -1;
  }
  const char *p = text + consumed;
  double frac = 0;
  if (*p == '.') {
    char *end = NULL;
    frac = strtod(p, &end);
    if (end == p + 1) {
      return -1;
    }
    p = end;
  }
  if ((p[0] != 'Z' && p[0] != 'z') || p[1] != '\0' || tm.tm_mon < 1 || tm.tm_mon > 12 ||
      tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
    return -1;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  time_t t = timegm(&tm);
  if (t == (time_t)-1) {
    return -1;
  }
  *out = (double)t + frac;
  return 0;
}

int mh_shard_parse_time(const char *text, double *out_unix_s, struct mh_err *err) {
  int bad = 0;
  if (text[0] == '@') {
    char *end = NULL;
    *out_unix_s = strtod(text + 1, &end);
    bad = end == text + 1 || *end != '\0' || !isfinite(*out_unix_s) || *out_unix_s <= 0;
  } else {
    bad = parse_rfc3339(text, out_unix_s) != 0;
  }
  if (bad) {
    return mh_err_set(err,
                      "mtls-harness load: --start-at takes a UTC instant in RFC 3339, e.g. "
                      "2026-11-30T12:00:00Z (fractions allowed), or @<unix seconds>, e.g. "
                      "@1795953600.5; got '%s'",
                      text);
  }
  return 0;
}

uint64_t mh_shard_total_arrivals(double rate, double duration_s) {
  if (rate <= 0 || duration_s <= 0) {
    return 0;
  }
  // k / rate < duration  <=>  k < rate * duration: ceil of the product, less a rounding error's
  // worth so that an exact product (1000/s for 10 s: 10000) is not rounded up to one more.
  double x = rate * duration_s;
  return (uint64_t)ceil(x - x * 1e-12);
}

struct mh_shard_slice mh_shard_slice_of(uint64_t total, int index, int count, int thread,
                                        int threads) {
  struct mh_shard_slice s;
  count = count < 1 ? 1 : count;
  threads = threads < 1 ? 1 : threads;
  // The shard's m-th arrival is global arrival index + m * count; its thread is m mod threads.
  s.first = (uint64_t)index + (uint64_t)count * (uint64_t)thread;
  s.stride = (uint64_t)count * (uint64_t)threads;
  s.num = total > s.first ? (total - s.first + s.stride - 1) / s.stride : 0;
  return s;
}

uint64_t mh_shard_pick_index(uint64_t g, int count, uint64_t total) {
  if (count <= 1) {
    return g;
  }
  uint64_t n = (uint64_t)count;
  uint64_t round = g / n;
  if (total != UINT64_MAX && (round + 1) * n > total) {
    return g;  // the last, partial round: as it is, so that the union stays [0, total)
  }
  // The rotation of a round is a hash of its number (splitmix64's finaliser): a rotation by the
  // round number itself still lines up with some shares (1/4 over 2 shards: all on shard 0).
  uint64_t x = round + 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  x ^= x >> 31;
  return round * n + (g % n + x % n) % n;
}

int mh_shard_connections(int connections, int index, int count) {
  count = count < 1 ? 1 : count;
  return connections / count + (index < connections % count ? 1 : 0);
}

size_t mh_shard_identities(const struct mh_load_identity *ids, size_t n, int index, int count,
                           struct mh_load_identity *out) {
  if (n == 0) {
    return 0;
  }
  if (n < (size_t)count) {
    out[0] = ids[(size_t)index % n];
    return 1;
  }
  size_t k = 0;
  for (size_t j = (size_t)index; j < n; j += (size_t)count) {
    out[k++] = ids[j];
  }
  return k;
}
