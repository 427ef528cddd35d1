// names: the names the report files give: a case's file name (cases/<name>.log) and a TLS
// version's ("1.3").
#include "report/internal.h"

#include "base/case_file.h"
#include "tls/tls.h"

void mh_report_case_file_name(const char *id, char *out, size_t out_len) {
  mh_case_file_name(id, out, out_len);
}

const char *mh_report_version_name(int v) {
  return v == MH_TLS13 ? "1.3" : v == MH_TLS12 ? "1.2" : "";
}
