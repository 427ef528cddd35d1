// reissue: a renewal of an issued certificate by the CA that issued it, with the same or a new key:
// what a manual-mode location's certificate rotation serves.
#ifndef MH_PKI_REISSUE_H
#define MH_PKI_REISSUE_H

#include "base/err.h"

// mh_reissue_cert reads the certificate at |cert_path| (its first one) and its key |key_path|,
// and writes to |out_cert| (0644) and |out_key| (0600, PKCS#8) a certificate with the same subject,
// extensions and lifetime, valid from now, with a new random serial, signed by the CA at
// |ca_cert| / |ca_key|; with |new_key| a new key of the same type (its subject key identifier
// dropped). Returns 0, or -1 with |err| set.
int mh_reissue_cert(const char *cert_path, const char *key_path, const char *ca_cert,
                    const char *ca_key, int new_key, const char *out_cert, const char *out_key,
                    struct mh_err *err);

#endif
