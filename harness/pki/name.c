// name: X.509 names as text (see name.h).
#include "pki/name.h"

#include <stdint.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509.h>

void mh_name_rfc2253(const X509_NAME *name, char *out, size_t out_len) {
  out[0] = '\0';
  BIO *bio = BIO_new(BIO_s_mem());
  if (bio == NULL) {
    return;
  }
  const uint8_t *data;
  size_t len;
  if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0 &&
      BIO_mem_contents(bio, &data, &len)) {
    len = len >= out_len ? out_len - 1 : len;
    if (len > 0) {  // an empty name leaves the BIO without a buffer: |data| is NULL
      memcpy(out, data, len);
    }
    out[len] = '\0';
  }
  BIO_free(bio);
  ERR_clear_error();
}

void mh_name_cn(const X509_NAME *name, char *out, size_t out_len) {
  out[0] = '\0';
  int last = -1;
  for (int i = -1; (i = X509_NAME_get_index_by_NID(name, NID_commonName, i)) >= 0;) {
    last = i;
  }
  if (last < 0) {
    return;
  }
  const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, last));
  size_t n = (size_t)ASN1_STRING_length(s);
  n = n >= out_len ? out_len - 1 : n;
  memcpy(out, ASN1_STRING_get0_data(s), n);
  out[n] = '\0';
}
