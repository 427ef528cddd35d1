// confirm: where a load run confirms that the server kept a handshake, from the stack's profile:
// at TLS (the first server record after our Finished), or at HTTP for a stack that rejects there
// (nginx answers 400 after the handshake): a minimal request, and its status line.
#ifndef MH_LOAD_CONFIRM_H
#define MH_LOAD_CONFIRM_H

#include <stddef.h>

#include "base/arena.h"
#include "base/err.h"
#include "input/profile.h"
#include "load/load.h"

// mh_confirm_from_profile sets |o|'s HTTP confirmation from |profile| (NULL: none): when one of its
// rules is at the HTTP layer, the request (GET |path| with Host |host|:|port|, allocated from |a|)
// and the statuses (4xx, 5xx) that mean rejection. A profile whose rules are all at TLS leaves |o|
// confirming at TLS. Returns 0, or -1 with |err| set (out of memory).
int mh_confirm_from_profile(struct mh_load_options *o, struct mh_arena *a,
                            const struct mh_profile *profile, const char *host, int port,
                            const char *path, struct mh_err *err);

// mh_confirm_status reads the status line at the start of |head| (|len| bytes): returns 1 with
// |*out_status| set, 0 if more bytes are needed, -1 if it is not an HTTP/1.x status line.
int mh_confirm_status(const char *head, size_t len, int *out_status);

// mh_confirm_rejects says whether |status| is one of |o|'s rejection statuses (1) or acceptance
// (0): 101, 2xx, 3xx and any status the profile does not list are acceptance.
int mh_confirm_rejects(const struct mh_load_options *o, int status);

#endif
