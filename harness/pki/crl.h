// crl: the certificate revocation lists of the fixture CAs (RFC 5280 section 5), as the servers
// under test load them (nginx ssl_crl, haproxy crl-file, Apache SSLCARevocationFile, stunnel
// CRLfile): version 2, signed by the CA, with its authorityKeyIdentifier and a cRLNumber.
#ifndef MH_PKI_CRL_H
#define MH_PKI_CRL_H

#include <openssl/base.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/err.h"

// mh_crl_entry is one revoked certificate: its serial, when it was revoked (seconds since the
// epoch) and its reason (enum mh_crl_reason, or -1 for no reasonCode extension).
struct mh_crl_entry {
  const ASN1_INTEGER *serial;
  int64_t revoked_at;
  int reason;
};

// mh_crl_make builds the CRL of the CA |ca| (certificate) signed with |key|: thisUpdate |now|,
// nextUpdate |now| + |next_update| seconds, the |num| |entries|, then |extra| made-up serials
// (9 octets, unlike the 16 of an issued certificate: they revoke nothing that exists). Returns the
// CRL (the caller frees it with X509_CRL_free), or NULL with |err| set naming |what|.
X509_CRL *mh_crl_make(X509 *ca, EVP_PKEY *key, const struct mh_crl_entry *entries, size_t num,
                      uint32_t extra, time_t now, int64_t next_update, const char *what,
                      struct mh_err *err);

// mh_crl_read reads the first PEM CRL of the file |path| and checks that |ca|'s key signed it and
// that its issuer is |ca|'s subject. Returns it (free it with X509_CRL_free), or NULL with |err|
// set to one line naming |what| (the spec's JSON path), the file and the fix.
X509_CRL *mh_crl_read(const char *path, X509 *ca, const char *what, struct mh_err *err);

// mh_crl_file_load appends the CRLs of the PEM file |path| (one or more "X509 CRL" blocks) to
// |out|, each up-referenced, and returns how many (0: none it can parse), or -1 with errno set
// when it cannot be opened. A file is parsed once per process and kept (keyed by its path, inode,
// size and modification time), since a CRL of 100,000 entries would cost a parse per case;
// thread-safe.
int mh_crl_file_load(const char *path, STACK_OF(X509_CRL) * out);

#endif
