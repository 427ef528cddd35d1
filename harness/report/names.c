// names: the names the report files give: a case's file name (cases/<name>.log) and a TLS
// version's ("1.3").
#include "report/internal.h"

#include "tls/tls.h"

void mh_report_case_file_name(const char *id, char *out, size_t out_len) {
  size_t i = 0;
  for (; id[i] != '\0' && i + 1 < out_len; i++) {
    char ch = id[i];
    out[i] = (ch == '/' || ch == ':' || ch == ' ') ? '_' : ch;
  }
  out[i] = '\0';
}

const char *mh_report_version_name(int v) {
  return v == MH_TLS13 ? "1.3" : v == MH_TLS12 ? "1.2" : "";
}
