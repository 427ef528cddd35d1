// failure: what report.md and report.html say of a failing case beyond its verdict: the server's
// flight in brief, and the one-line command that reruns just that case.
#include "report/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/printable.h"
#include "base/tls_version.h"

// shell_word writes |s| to |f| as one word of a POSIX shell: as it is when every byte is one the
// shell reads literally (and not |quote|), otherwise in single quotes, each "'" as '\''.
static void shell_word(FILE *f, const char *s, int quote) {
  static const char plain[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=@%+,-";
  if (!quote && s[0] != '\0' && strspn(s, plain) == strlen(s)) {
    fputs(s, f);
    return;
  }
  fputc('\'', f);
  for (; *s != '\0'; s++) {
    if (*s == '\'') {
      fputs("'\\''", f);
    } else {
      fputc(*s, f);
    }
  }
  fputc('\'', f);
}

// glob_of writes into |out| the fnmatch pattern (flags 0, as runner.c uses) that matches exactly
// |id|: '*', '?', '[', ']' and '\\' behind a backslash; a byte that is not part of a printable
// character (a control, a stray byte) is '?', which matches it (the harness matches bytes: it sets
// no locale) and keeps the command one printable line. Returns -1 if |out| is too small.
static int glob_of(const char *id, char *out, size_t out_len) {
  size_t n = 0;
  while (*id != '\0') {
    size_t len = mh_printable_len(id);
    if (n + 2 * (len ? len : 1) + 1 > out_len) {
      return -1;
    }
    if (len == 0) {
      out[n++] = '?';
      id++;
      continue;
    }
    if (len == 1 && strchr("*?[]\\", *id) != NULL) {
      out[n++] = '\\';
    }
    memcpy(out + n, id, len);
    n += len;
    id += len;
  }
  out[n] = '\0';
  return 0;
}

char *mh_failure_rerun(const struct mh_rerun *x, const char *case_id) {
  char glob[2048], file[256], dir[4096];
  if (glob_of(case_id, glob, sizeof(glob)) != 0) {
    return NULL;
  }
  mh_report_case_file_name(case_id, file, sizeof(file));
  snprintf(dir, sizeof(dir), "%s/rerun/%s", x->out_dir, file);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (f == NULL) {
    return NULL;
  }
  shell_word(f, x->program != NULL ? x->program : "mtls-harness", 0);
  fputs(" run ", f);
  shell_word(f, x->scenario_file, 0);
  fputs(" --filter ", f);
  shell_word(f, glob, 1);
  fputs(" --out ", f);
  shell_word(f, dir, 0);
  if (x->profiles_dir != NULL) {
    fputs(" --profiles ", f);
    shell_word(f, x->profiles_dir, 0);
  }
  for (size_t i = 0; i < x->num_pins; i++) {
    const struct mh_net_pin *p = &x->pins[i];
    char pin[sizeof(p->name) + sizeof(p->addr) + 16];
    snprintf(pin, sizeof(pin), strchr(p->addr, ':') ? "%s:%d:[%s]" : "%s:%d:%s", p->name, p->port,
             p->addr);
    fputs(" --resolve ", f);
    shell_word(f, pin, 0);
  }
  if (x->strict) {
    fputs(" --strict", f);
  }
  if (x->has_retries) {
    fprintf(f, " --retries %d", x->retries);
  }
  if (x->pcap) {
    fputs(" --pcap", f);
  }
  if (x->pcap && x->capture_iface != NULL) {
    fputs(" --capture-iface ", f);
    shell_word(f, x->capture_iface, 0);
  }
  if (fclose(f) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

void mh_failure_flight(const struct mh_case_outcome *o, char *out, size_t out_len) {
  if (!o->tls.server_hello) {
    snprintf(out, out_len, "no ServerHello");
    return;
  }
  size_t n = (size_t)snprintf(out, out_len, "ServerHello %s; ",
                              mh_tls_version_name(o->tls.server_version));
  if (n >= out_len) {
    return;
  }
  if (!o->tls.certificate_request) {
    snprintf(out + n, out_len - n, "no CertificateRequest");
    return;
  }
  n += (size_t)snprintf(out + n, out_len - n, "CertificateRequest seen, %d CA name%s",
                        o->tls.num_request_cas, o->tls.num_request_cas == 1 ? "" : "s");
  // Briefly: the first three names; the case log and report.json have every one kept.
  size_t shown = o->num_request_cas_kept < 3 ? o->num_request_cas_kept : 3;
  for (size_t i = 0; i < shown && n < out_len; i++) {
    n += (size_t)snprintf(out + n, out_len - n, "%s%s", i ? "; " : ": ", o->request_cas[i]);
  }
  if (n < out_len && (size_t)o->tls.num_request_cas > shown) {
    snprintf(out + n, out_len - n, "; ...");
  }
}
