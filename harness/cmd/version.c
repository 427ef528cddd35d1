// version: `--version`: the harness and every library it loads (which BoringSSL build among them).
#include "cmd/cmd.h"

#include <ev.h>

#include "pki/bundle.h"
#include "capture/capture.h"
#include "input/scenario.h"
#include "tls/tls.h"

void mh_version_print(FILE *out) {
  char tls[512], impl[400];
  mh_tls_library_describe(tls, sizeof(tls));
  mh_tls_library_implementations(impl, sizeof(impl));
  fprintf(out, "mtls-harness %s\n", MH_VERSION);
  fprintf(out, "  TLS:     %s\n", tls);
  fprintf(out, "  crypto:  %s\n", impl);
  fprintf(out, "  libev:   %d.%d\n", ev_version_major(), ev_version_minor());
  fprintf(out, "  cJSON:   %s\n", mh_json_version());
  fprintf(out, "  libpcap: %s\n", mh_capture_library_version());
  fprintf(out, "  zip:     minizip with zlib %s\n", mh_bundle_library_version());
}
