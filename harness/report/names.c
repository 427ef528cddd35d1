// names: the name the report files give a case's file (cases/<name>.log).

#include "base/case_file.h"

void mh_report_case_file_name(const char *id, char *out, size_t out_len) {
  mh_case_file_name(id, out, out_len);
}
