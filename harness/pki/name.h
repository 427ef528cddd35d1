// name: an X.509 name as text, written one way everywhere a name is shown or matched: its RFC
// 2253 form (as `openssl x509 -nameopt RFC2253` and nginx's $ssl_client_s_dn show it) and its
// common name (the last CN attribute, as Go's pkix.Name keeps it).
#ifndef MH_PKI_NAME_H
#define MH_PKI_NAME_H

#include <stddef.h>

#include <openssl/base.h>

// mh_name_rfc2253 writes |name| as RFC 2253 text into |out| (|out_len| > 0), cut to fit; "" for
// an empty name or when it cannot be printed.
void mh_name_rfc2253(const X509_NAME *name, char *out, size_t out_len);

// mh_name_cn writes the last common name of |name| into |out| (|out_len| > 0), cut to fit; ""
// when it has none.
void mh_name_cn(const X509_NAME *name, char *out, size_t out_len);

#endif
