// bundle: flat zip archives of fixture files (minizip, zlib only: libzip would pull in OpenSSL's
// libcrypto, whose symbols clash with BoringSSL's).
#ifndef MH_BUNDLE_H
#define MH_BUNDLE_H

#include <stddef.h>
#include <sys/types.h>

#include "base/err.h"

struct mh_bundle_member {
  const char *name;  // name inside the archive (flat)
  const void *data;
  size_t len;
  mode_t mode;  // stored as Unix permissions, so unzip restores 0600 on keys
};

// mh_bundle_write_zip writes a DEFLATE zip holding |members| to |path| (which must exist and is
// truncated). |when| is the modification time recorded for every entry. Returns 0, or -1 with |err|
// set; a failed archive is left for the caller to remove.
int mh_bundle_write_zip(const char *path, const struct mh_bundle_member *members,
                        size_t num_members, time_t when, struct mh_err *err);

// mh_bundle_library_version returns the version of the compression library behind the zips.
const char *mh_bundle_library_version(void);

#endif
