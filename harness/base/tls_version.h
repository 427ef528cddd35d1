// tls_version: the TLS protocol versions the harness names, defined once: the number on the wire,
// the keyword options and documents use ("1.3"), the tag of a case id ("tls1.3") and the name a
// TLS library prints ("TLSv1.3"). Every text of a version is generated from this table and every
// keyword read back through it, so that the two cannot drift.
#ifndef MH_BASE_TLS_VERSION_H
#define MH_BASE_TLS_VERSION_H

#define MH_TLS12 0x0303
#define MH_TLS13 0x0304

// X(number, keyword, case id tag, library name, a keyword a user may write). Only TLS 1.2 and 1.3
// are offered, served or named in documents; the older ones are named when a peer chose them.
#define MH_TLS_VERSIONS(X)                   \
  X(MH_TLS13, "1.3", "tls1.3", "TLSv1.3", 1) \
  X(MH_TLS12, "1.2", "tls1.2", "TLSv1.2", 1) \
  X(0x0302, "1.1", "tls1.1", "TLSv1.1", 0)   \
  X(0x0301, "1.0", "tls1.0", "TLSv1.0", 0)   \
  X(0x0300, "ssl3", "ssl3", "SSLv3", 0)

// mh_tls_version_keyword returns "1.3" or "1.2" (the keyword of options, documents and
// report.json) for a version a user may write, "" for any other (a static string).
const char *mh_tls_version_keyword(int v);

// mh_tls_version_tag returns the tag of |v| in a case id ("tls1.3"), "" for one not in the table.
const char *mh_tls_version_tag(int v);

// mh_tls_version_name returns the library name of |v| ("TLSv1.3" ... "SSLv3"), or "-" for 0
// (none) or a version not in the table.
const char *mh_tls_version_name(int v);

// mh_tls_version_parse returns the version a user wrote as |keyword| ("1.2" or "1.3"), or 0 for
// anything else (NULL included).
int mh_tls_version_parse(const char *keyword);

#endif
