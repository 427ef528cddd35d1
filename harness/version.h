// version: what `mtls-harness --version` prints.
#ifndef MH_VERSION_H
#define MH_VERSION_H

#include <stdio.h>

// mh_version_print writes the harness version and the version of every library it links.
void mh_version_print(FILE *out);

#endif
