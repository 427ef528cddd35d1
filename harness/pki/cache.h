// cache: fixtures generated once and reused while their spec, its imported files and their dates
// stay what they were.
//
// Generating a spec's keys is most of a small matrix's CPU (an RSA-4096 key costs more than a
// hundred cases), yet the same spec gives the same kind of fixtures at every run. An entry is a
// directory named by the spec's digest (mh_pki_cache_digest: every field of the parsed spec, the
// bytes of every imported file and the harness version) holding the files mh_pki_generate wrote
// and a manifest of their SHA-256s, modes and dates. It is used only while:
//   - it is this user's and nobody else's (directory 0700, files 0600, owned by the effective uid);
//   - every file hashes to what the manifest says (a file edited, truncated or removed by hand
//     makes the whole entry stale: the spec is generated again and the entry replaced);
//   - no certificate it holds changed status since it was made (a relative date, "not_before":
//     "+1h", that has passed since), and it is less than a day old, so that relative dates stay
//     within a day of what the spec says.
// A spec that imports a passphrase-protected key is never cached: the entry would hold the key
// decrypted, outside the directory the operator chose for it.
// The check guards against accidents, not against a process of the same user, which could write
// the spec's own files too.
#ifndef MH_PKI_CACHE_H
#define MH_PKI_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "base/err.h"
#include "base/stage.h"
#include "pki/pki.h"

#define MH_PKI_CACHE_MAX_AGE_S 86400

// mh_pki_cache_owned reports whether |cache_dir| is a directory of this user, or does not exist
// yet (it is made 0700 on the first store); if not, |why| says what it is instead.
int mh_pki_cache_owned(const char *cache_dir, char *why, size_t why_len);

// mh_pki_cache_digest sets |out| to |spec|'s digest. Returns 1, or 0 when the spec is not to be
// cached (a passphrase-protected import, an imported file that cannot be read: generation then
// says what is wrong with it).
int mh_pki_cache_digest(const struct mh_pki_spec *spec, uint8_t out[32]);

// mh_pki_cache_restore stages the files of entry |digest| of |cache_dir| into |st| (which writes
// below |out_dir|) if the entry is usable at |now| (see above) and every file |keep| (CA keys,
// which generation would reuse) that already exists below |out_dir| holds what the entry holds.
// Returns 1 with |*generated| set to when the entry was made, or 0 (no usable entry: nothing
// staged; |stale| is set to why an existing entry was refused, empty if there was none or it
// merely expired). A cache that cannot be read is a miss, never an error; -1 with |err| set only
// when staging into |st| fails (the output directory, which generation would write too).
int mh_pki_cache_restore(const char *cache_dir, const uint8_t digest[32], const char *out_dir,
                         const char *const *keep, size_t num_keep, struct mh_stage *st, time_t now,
                         time_t *generated, char *stale, size_t stale_len, struct mh_err *err);

// mh_pki_cache_store copies the files |paths| (just written below |out_dir|, made at |now| from
// |spec|; their modes there are restored with them, the cache keeps each one 0600) into entry
// |digest| of |cache_dir|, replacing any stale entry, and removes entries that have expired. All or
// nothing: the entry appears complete or not at all. Returns 0, or -1 with |err| set (the caller
// warns; the run goes on without a cache).
int mh_pki_cache_store(const char *cache_dir, const uint8_t digest[32],
                       const struct mh_pki_spec *spec, const char *out_dir,
                       const char *const *paths, size_t num_files, time_t now, struct mh_err *err);

#endif
