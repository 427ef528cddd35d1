// import: the operator's own certificates and keys, read as they are for the generator (an
// imported CA signs the negative identities; an imported identity is used as it is).
//
// Imported files are never rewritten: they are read here and used from where they are, except an
// identity's passphrase-protected key, which the generator writes decrypted, mode 0600, into the
// output directory (TLS stacks and load workers read plain PEM files).
#ifndef MH_PKI_IMPORT_H
#define MH_PKI_IMPORT_H

#include <openssl/base.h>

#include "base/err.h"
#include "pki/pki.h"

// mh_import_entity reads imported entity |e| of |spec|: its certificate into |*out_cert| and its
// key (NULL for a CA imported without one) into |*out_key|, after checking that a CA's certificate
// is a CA, that the key belongs to the certificate (unless |e->key_mismatch|) and that an
// identity's chain starts with its certificate. Returns 0 with both owned by the caller (free them
// with X509_free and EVP_PKEY_free), or -1 with |err| set to one line naming the spec, the JSON
// path, the file and the fix.
int mh_import_entity(const struct mh_pki_spec *spec, const struct mh_pki_entity *e, X509 **out_cert,
                     EVP_PKEY **out_key, struct mh_err *err);

#endif
