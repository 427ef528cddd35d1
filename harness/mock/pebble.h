// pebble: the ACME test server a scenario starts ("acme_server": {"pebble": {...}}): Debian's
// pebble and pebble-challtestsrv (its DNS, answering 127.0.0.1 for every name) as child processes
// on loopback, and pebble's root, fetched from its management endpoint so that clients can trust
// what it issues. pebble makes a new root at every start.
#ifndef MH_MOCK_PEBBLE_H
#define MH_MOCK_PEBBLE_H

#include "base/err.h"
#include "input/scenario.h"

struct mh_pebble;

// mh_pebble_start starts the pebble of |s| (if it has one; else *out is NULL and 0 is returned),
// waits until it answers, and writes its root to the scenario's root file. Returns 0 with *out set
// (stop it with mh_pebble_stop), or -1 with |err| set and nothing left running.
int mh_pebble_start(const struct mh_scenario *s, struct mh_pebble **out, struct mh_err *err);

// mh_pebble_stop stops pebble and its DNS and frees |p|. NULL is accepted.
void mh_pebble_stop(struct mh_pebble *p);

#endif
