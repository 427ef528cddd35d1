// certinfo: what a certificate says to a person who must renew it: subject, issuer, serial, SANs,
// key type and size, validity and fingerprint, read from DER (a chain a peer presented) or from a
// PEM file (a client identity), as `openssl x509` shows them.
#ifndef MH_PKI_CERTINFO_H
#define MH_PKI_CERTINFO_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

// MH_CERTINFO_MAX is how many certificates of one chain are described; the rest are counted.
#define MH_CERTINFO_MAX 8

struct mh_certinfo {
  char subject[512];  // RFC 2253 (openssl x509 -subject -nameopt RFC2253)
  char issuer[512];
  char serial[132];    // upper-case hex, two digits a byte (openssl x509 -serial), "-" first if < 0
  char sans[1024];     // "DNS:a, IP:127.0.0.1, URI:spiffe://x, email:y", "" if none; cut with "..."
  char key[32];        // "RSA-2048", "ECDSA P-256", "ECDSA P-384", "Ed25519", else the OID's name
  int64_t not_before;  // seconds since the epoch
  int64_t not_after;
  int self_signed;  // subject and issuer are the same name (a root)
  char sha256[65];  // fingerprint of the DER, lower-case hex
};

// mh_certinfo_from_der describes the certificates of |der| (|len| bytes: DER certificates one
// after the other, leaf first) into |out| (room for |max|) and returns how many it described
// (those past |max| are skipped); -1 when a certificate cannot be parsed.
int mh_certinfo_from_der(const uint8_t *der, size_t len, struct mh_certinfo *out, size_t max);

// mh_certinfo_from_file describes the PEM certificates of |path| (a leaf, then its chain) into
// |out| (room for |max|) and returns how many (at least one), or -1 with |err| set ("<path>: ...").
int mh_certinfo_from_file(const char *path, struct mh_certinfo *out, size_t max,
                          struct mh_err *err);

// mh_certinfo_serial writes serial number |s| (BoringSSL's ASN1_INTEGER) as `openssl x509
// -serial` does, upper-case hex, two digits a byte, "-" first if negative, into |out| (|out_len| >=
// 3): the one way a serial is shown, by run and load alike.
struct asn1_string_st;
void mh_certinfo_serial(const struct asn1_string_st *s, char *out, size_t out_len);

// mh_certinfo_time_left writes |seconds| as a person reads a time left: "29d 23h", "5h 12m",
// "40m", "expired 2d 3h ago" (negative), into |out|.
void mh_certinfo_time_left(int64_t seconds, char *out, size_t out_len);

// mh_certinfo_utc writes |t| (seconds since the epoch) as "2026-12-01T10:00:00Z" into |out|.
void mh_certinfo_utc(int64_t t, char *out, size_t out_len);

#endif
