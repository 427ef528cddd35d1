// infile: a certificate, key or CA file the harness reads, checked before a library parses it, so
// that what is wrong with it comes out with its fix rather than as a library's reason string.
#ifndef MH_INFILE_H
#define MH_INFILE_H

#include <stddef.h>

#include "base/err.h"

// What a file must hold (flags of mh_infile_check).
enum {
  MH_INFILE_CERT = 1,          // PEM certificates
  MH_INFILE_KEY = 2,           // a PEM private key, not readable by group or others
  MH_INFILE_ENCRYPTED_OK = 4,  // with MH_INFILE_KEY: the caller has a passphrase source
  MH_INFILE_CA = 8,            // with MH_INFILE_CERT: a CA file (a directory gets its own fix)
  MH_INFILE_CRL = 16,          // PEM CRLs ("X509 CRL")
};

// mh_infile_check checks |path|, named |what| in messages ("certificate", "private key", "CA
// file"), before it is read as |flags| say: it exists, is not a directory, this process can read
// it, it is not empty, it is PEM (not DER) and holds what |flags| ask for; a key is not encrypted
// (unless MH_INFILE_ENCRYPTED_OK) and its mode gives group and others nothing, as ssh demands.
// Something that is not a regular file (a pipe) is not read ahead, so only its type is checked.
// Returns 0, or -1 with |err| set to one line: "<path>: <what is wrong> (<the fix>)".
int mh_infile_check(const char *path, const char *what, int flags, struct mh_err *err);

// mh_infile_open_failed sets |err| for an open(2) or fopen(3) of |path| (named |what|) that failed
// with |errno_value|: a missing file, a permission, each with its fix. Returns -1.
int mh_infile_open_failed(const char *path, const char *what, int errno_value, struct mh_err *err);

#endif
