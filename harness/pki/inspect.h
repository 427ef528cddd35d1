// inspect: what a certificate and its key say (validity, EKU, key usage, subject, SANs, whether the
// key is the certificate's), and whether it chains to a set of CA files: the facts the oracle
// judges, read from the files a peer presents rather than from the spec that made them.
#ifndef MH_PKI_INSPECT_H
#define MH_PKI_INSPECT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/err.h"

struct x509_st;
struct stack_st_X509;

#define MH_INSPECT_NAMES 16
#define MH_INSPECT_NAME_LEN 512

struct mh_inspect_cert {
  struct x509_st *leaf;
  struct stack_st_X509 *chain;  // the certificates after the leaf in its file (what a peer sends)
  int64_t not_before;           // seconds since the epoch
  int64_t not_after;
  int has_eku;        // else no extendedKeyUsage: any usage
  unsigned eku_mask;  // bit (1 << enum mh_eku)
  int any_eku;        // anyExtendedKeyUsage
  int has_key_usage;
  unsigned ku_mask;  // bit (1 << enum mh_ku)
  char cn[256];      // the last commonName of the subject, "" if none
  char dn[1024];     // the subject in RFC 2253 (as nginx's $ssl_client_s_dn shows it)
  size_t num_sans;   // dNSName and iPAddress entries
  int key_matches;   // 1 the key is the certificate's, 0 not, -1 no key was read
  // The SANs an identity rule compares, in certificate order: the first MH_INSPECT_NAMES of each
  // kind, each at most MH_INSPECT_NAME_LEN - 1 bytes. A longer name, or one with a NUL byte, is
  // kept as "" so that it matches no rule (|long_names| counts them).
  char dns[MH_INSPECT_NAMES][MH_INSPECT_NAME_LEN];  // dNSName
  size_t num_dns;
  char uris[MH_INSPECT_NAMES][MH_INSPECT_NAME_LEN];  // uniformResourceIdentifier
  size_t num_uris;
  char emails[MH_INSPECT_NAMES][MH_INSPECT_NAME_LEN];  // rfc822Name
  size_t num_emails;
  size_t long_names;
};

// mh_inspect_load reads the certificate file |cert_path| (a leaf, optionally followed by its
// intermediates) and, if |key_path| is not NULL, the plain PEM key there, into |out|. Returns 0, or
// -1 with |err| set; |out| must be released with mh_inspect_cleanup either way.
int mh_inspect_load(struct mh_inspect_cert *out, const char *cert_path, const char *key_path,
                    struct mh_err *err);

// mh_inspect_cleanup frees what |c| holds (it may be zeroed or partly loaded).
void mh_inspect_cleanup(struct mh_inspect_cert *c);

// Outcomes of path building.
enum mh_inspect_path {
  MH_INSPECT_PATH_OK,
  MH_INSPECT_PATH_UNKNOWN_CA,     // no path to a certificate of the CA files: no issuer found,
                                  // a self-signed leaf or chain, the leaf's issuer missing, an
                                  // untrusted anchor (the errors nginx's and mod_ssl's
                                  // optional_no_ca forgive)
  MH_INSPECT_PATH_NO_ROOT,        // the path reaches a certificate of the CA files that is not
                                  // self-signed, and its issuer is not found (a CA file holding an
                                  // intermediate without its root): neither optional_no_ca forgives
                                  // it, measured with nginx and Apache
  MH_INSPECT_PATH_EXPIRED,        // a certificate of the path has expired
  MH_INSPECT_PATH_NOT_YET_VALID,  // a certificate of the path is not yet valid
  MH_INSPECT_PATH_BAD,            // another verification error: a signature that does not
                                  // verify, a CA without the CA flag, a broken constraint...
  // With CRLs (mh_inspect_verify_revocation) only:
  MH_INSPECT_PATH_REVOKED,      // a certificate of the path is on its issuer's CRL
  MH_INSPECT_PATH_CRL_EXPIRED,  // the CRL of a CA of the path is past its nextUpdate
  MH_INSPECT_PATH_CRL_MISSING,  // no CRL (or none valid yet) of a CA of the path is given
};

// mh_inspect_verify builds a path from |c|'s leaf through its chain to a certificate of one of
// |ca_files| with BoringSSL's X509_verify_cert at time |now| (no purpose: usages are the caller's
// to judge). Returns 0 with |*out| set, or -1 with |err| set if a CA file cannot be read.
int mh_inspect_verify(const struct mh_inspect_cert *c, const char *const *ca_files, size_t num,
                      time_t now, enum mh_inspect_path *out, struct mh_err *err);

// mh_inspect_verify_chain is mh_inspect_verify that also returns, when the path is built
// (MH_INSPECT_PATH_OK), how many certificates it holds in |*out_len|: the leaf, the intermediates
// and the trust anchor (2 for a leaf a root signed). Built without a depth limit, so that the
// caller compares the length with a policy's verify depth. Returns 0, or -1 with |err| set.
int mh_inspect_verify_chain(const struct mh_inspect_cert *c, const char *const *ca_files,
                            size_t num, time_t now, enum mh_inspect_path *out, size_t *out_len,
                            struct mh_err *err);

// mh_inspect_verify_revocation is mh_inspect_verify with the CRLs of the PEM files |crl_files|
// checked as OpenSSL-based servers check them (X509_V_FLAG_CRL_CHECK): the leaf's issuer's CRL
// only when |leaf_only|, else every CA's of the path (X509_V_FLAG_CRL_CHECK_ALL, nginx's and
// haproxy's setting). Revocation is judged after the path is built and before the validity of
// its certificates, in X509_verify_cert's order. Returns 0 with |*out| set, or -1 with |err| set
// when a CA or CRL file cannot be read.
int mh_inspect_verify_revocation(const struct mh_inspect_cert *c, const char *const *ca_files,
                                 size_t num, const char *const *crl_files, size_t num_crls,
                                 int leaf_only, time_t now, enum mh_inspect_path *out,
                                 struct mh_err *err);

// mh_inspect_ca_certs appends the certificates of the PEM CA file |path| to |out| (each one
// up-referenced: |out| owns its references) and returns how many (0: the file holds none it can
// parse), or -1 with errno set when it cannot be opened. A file is parsed once per process and
// kept (keyed by its path, inode, size and modification time: a file rewritten is read again), so
// that a CA bundle of 10,000 certificates costs one parse per run, not one per case; thread-safe.
int mh_inspect_ca_certs(const char *path, struct stack_st_X509 *out);

// mh_inspect_ca_file checks that every certificate of the PEM file |path| (a CA file: the
// certificates that verify peers) is a CA's, as X509_check_ca says (basicConstraints CA:TRUE, or
// a self-signed version-1 root). Returns 0, or -1 with |err| set to one line naming the file, the
// first certificate that is not a CA and its issuer (what to give instead).
int mh_inspect_ca_file(const char *path, struct mh_err *err);

// mh_inspect_crl_file checks the CRL file |path| of a policy: it holds at least one CRL, and each
// whose issuer is the subject of a certificate of the CA files |ca_files| is signed by that CA (a
// CRL its CA did not sign revokes nothing; a CRL of a CA none of the files holds, an intermediate
// that comes with the clients' chains, is judged by the verifier). Returns 0, or -1 with |err|
// set to one line naming the file and the fix.
int mh_inspect_crl_file(const char *path, const char *const *ca_files, size_t num,
                        struct mh_err *err);

// mh_inspect_check_host reports whether |c|'s leaf is valid for host name |host| with OpenSSL's
// X509_check_host rules (as stunnel's checkHost and an nginx/haproxy name check use them): its DNS
// SANs if it has any (a leftmost "*" label matching one label), else its subject CN; case-
// insensitive. Returns 1 or 0.
int mh_inspect_check_host(const struct mh_inspect_cert *c, const char *host);

// mh_inspect_posix_time converts the ASN.1 time |t| (BoringSSL's ASN1_TIME) to seconds since the
// epoch in |out|. Returns 1, or 0 when it cannot be read (|out| is then 0).
struct asn1_string_st;
int mh_inspect_posix_time(const struct asn1_string_st *t, int64_t *out);

#endif
