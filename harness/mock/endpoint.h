// endpoint: the former name of the mock endpoints' public header, kept for its callers; the API is
// in federation.h.
#ifndef MH_ENDPOINT_H
#define MH_ENDPOINT_H

#include "mock/federation.h"

#endif
