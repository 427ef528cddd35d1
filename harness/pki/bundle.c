// bundle: zip writing with minizip (see bundle.h).
#include "pki/bundle.h"

#include <minizip/zip.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

// Made-by "Unix, zip 2.0": readers then take permissions from the external attributes.
#define MADE_BY_UNIX ((3 << 8) | 20)

int mh_bundle_write_zip(const char *path, const struct mh_bundle_member *members,
                        size_t num_members, time_t when, struct mh_err *err) {
  zipFile zf = zipOpen64(path, APPEND_STATUS_CREATE);
  if (zf == NULL) {
    return mh_err_errno(err, "%s: cannot open for writing", path);
  }
  struct tm tm;
  localtime_r(&when, &tm);
  int ret = -1;
  for (size_t i = 0; i < num_members; i++) {
    const struct mh_bundle_member *m = &members[i];
    zip_fileinfo fi;
    memset(&fi, 0, sizeof(fi));
    fi.tmz_date.tm_sec = (uInt)tm.tm_sec;
    fi.tmz_date.tm_min = (uInt)tm.tm_min;
    fi.tmz_date.tm_hour = (uInt)tm.tm_hour;
    fi.tmz_date.tm_mday = (uInt)tm.tm_mday;
    fi.tmz_date.tm_mon = (uInt)tm.tm_mon;
    fi.tmz_date.tm_year = (uInt)tm.tm_year + 1900;
    fi.external_fa = (uLong)(S_IFREG | (m->mode & 07777)) << 16;
    if (zipOpenNewFileInZip4_64(zf, m->name, &fi, NULL, 0, NULL, 0, NULL, Z_DEFLATED,
                                Z_DEFAULT_COMPRESSION, 0, -MAX_WBITS, DEF_MEM_LEVEL,
                                Z_DEFAULT_STRATEGY, NULL, 0, MADE_BY_UNIX, 0, 0) != ZIP_OK) {
      mh_err_set(err, "%s: cannot add %s", path, m->name);
      goto out;
    }
    if (zipWriteInFileInZip(zf, m->data, (unsigned)m->len) != ZIP_OK ||
        zipCloseFileInZip(zf) != ZIP_OK) {
      mh_err_set(err, "%s: cannot write %s (disk full?)", path, m->name);
      goto out;
    }
  }
  ret = 0;
out:
  if (zipClose(zf, NULL) != ZIP_OK && ret == 0) {
    ret = mh_err_set(err, "%s: cannot finish the archive (disk full?)", path);
  }
  return ret;
}

const char *mh_bundle_library_version(void) {
  return zlibVersion();
}
