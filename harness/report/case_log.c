// case_log: one case's log, for a person: what was asked and expected, then what the client, the
// server (a mock's record) and the capture saw. It is cases/<case>.log and junit.xml's text.
#include "report/internal.h"

#include <stdio.h>

#include "base/alerts.h"
#include "base/printable.h"
#include "base/tls_version.h"

// log_alert writes a case log's alert line: "42 bad_certificate", or "none" when there was no
// alert (MH_ALERT_NONE is a placeholder, not a code to print).
static void log_alert(FILE *f, const char *label, int code) {
  if (code == MH_ALERT_NONE) {
    fprintf(f, "  %s none\n", label);
  } else {
    fprintf(f, "  %s %d %s\n", label, code, mh_alert_name(code));
  }
}

// P returns |s| made printable (base/printable.h): names from the scenario and words from the
// peer may hold control characters.
#define P(g, s) mh_printable_next((g), (s))

// log_server_flight writes what the server's flight showed: its ServerHello's version and whether
// it asked for a client certificate, with the CA names it listed (from the peer: made printable).
static void log_server_flight(FILE *f, struct mh_printable_ring *g,
                              const struct mh_case_outcome *o) {
  fprintf(f, "  server hello   %s\n",
          o->tls.server_hello ? mh_tls_version_name(o->tls.server_version) : "none");
  if (!o->tls.certificate_request) {
    fprintf(f, "  cert request   none\n");
    return;
  }
  fprintf(f, "  cert request   seen, %d CA name%s\n", o->tls.num_request_cas,
          o->tls.num_request_cas == 1 ? "" : "s");
  for (size_t i = 0; i < o->num_request_cas_kept; i++) {
    fprintf(f, "    CA           %s\n", P(g, o->request_cas[i]));
  }
  if ((size_t)o->tls.num_request_cas > o->num_request_cas_kept) {
    fprintf(f, "    CA           (%zu more not kept)\n",
            (size_t)o->tls.num_request_cas - o->num_request_cas_kept);
  }
}

void mh_case_log_write(FILE *f, const struct mh_case_result *c) {
  const struct mh_case_outcome *o = &c->outcome;
  struct mh_printable_ring g = {.next = 0};
  fprintf(f, "case       %s (%s)\n", P(&g, c->id), mh_case_kind_name(c->kind));
  fprintf(f, "target     %s at %s, server name %s, profile %s\n", P(&g, c->target),
          P(&g, c->endpoint), P(&g, c->server_name), P(&g, c->profile ? c->profile : "-"));
  fprintf(f, "identity   %s, offering TLS %s only\n", P(&g, c->identity ? c->identity : "(none)"),
          mh_tls_version_keyword(c->version));
  fprintf(f, "expected   %s [%s]\n", P(&g, c->expected_text),
          c->expect.explicit_ ? "explicit" : "oracle");
  fprintf(f, "actual     %s\n", P(&g, c->summary));
  fprintf(f, "verdict    %s: %s%s\n", mh_verdict_name(c->verdict),
          mh_verdict_description(c->verdict), c->fails ? " (FAILS)" : "");
  if (c->verdict_reason[0] != '\0') {
    fprintf(f, "why        %s\n", P(&g, c->verdict_reason));
  }
  if (c->kind == MH_CASE_CERTIFICATE) {  // no connection: the certificates are in the reports'
                                         // Certificates section
    fprintf(f,
            "\n(a check of the certificates, not a connection: see the Certificates section of "
            "report.md)\n");
    return;
  }
  fprintf(f, "\n");
  fprintf(f, "client (mtls-harness)\n");
  fprintf(f, "  tcp            %s (%.3f ms)\n", mh_tcp_name(o->tcp), o->tcp_ms);
  fprintf(f, "  handshake      %s (%.3f ms) %s %s %s alpn=%s\n", o->handshake_ok ? "ok" : "failed",
          o->handshake_ms, mh_tls_version_name(o->tls.version), P(&g, o->tls.cipher),
          P(&g, o->tls.group), P(&g, o->tls.alpn[0] ? o->tls.alpn : "-"));
  log_server_flight(f, &g, o);
  fprintf(f, "  server cert    CN=%s%s\n", P(&g, o->tls.peer_cn),
          o->tls.verify_ok ? " (verified)" : "");
  log_alert(f, "alert sent    ", o->tls.alert_sent);
  log_alert(f, "alert received", o->tls.alert_received);
  fprintf(f, "  result         %s, phase %s, transport %s\n", mh_result_name(o->result),
          mh_phase_name(o->phase), mh_end_name(o->end));
  char status[16] = "no HTTP status";
  if (o->http_status != 0) {
    snprintf(status, sizeof(status), "HTTP %d", o->http_status);
  }
  fprintf(f, "  first read     %.3f ms after request %s, %s%s%s\n", o->first_read_ms,
          mh_request_mode_name(o->request), status, o->ws_upgraded ? " (WebSocket upgraded)" : "",
          o->head_too_large ? " (head over 16 KiB: not read further)" : "");
  fprintf(f, "  error          %s\n", P(&g, o->client_error[0] ? o->client_error : "-"));
  if (c->has_server) {
    const struct mh_server_record *s = &c->server;
    fprintf(f, "server (mock %s, saw peer %s)\n", P(&g, s->location), P(&g, s->peer));
    if (s->tls_rejected) {
      fprintf(f, "  log            http: TLS handshake error from %s: %s\n", P(&g, s->peer),
              P(&g, s->reason));
    }
    log_alert(f, "alert sent    ", s->alert_sent);
    log_alert(f, "alert received", s->alert_received);
    fprintf(f, "  http status    %d\n", s->http_status);
    fprintf(f, "  client CN      %s\n", P(&g, s->client_cn[0] ? s->client_cn : "-"));
  } else {
    fprintf(f, "server         (external target: only the client side is known)\n");
  }
  if (c->capture == MH_CAPTURE_SKIPPED) {
    fprintf(f, "capture        skipped: %s\n", P(&g, c->capture_note));
  } else if (c->capture == MH_CAPTURE_CAPTURED) {
    const struct mh_wire_view *w = &c->wire;
    char file[256];
    mh_report_case_file_name(P(&g, c->id), file, sizeof(file));
    fprintf(f, "capture        cases/%s.pcapng: %zu frames, SNI %s, server certificate %s\n", file,
            w->frames, P(&g, w->sni[0] ? w->sni : "-"),
            w->server_certificate ? "seen" : "not seen");
    for (size_t i = 0; i < w->num_alerts; i++) {
      const struct mh_wire_alert *a = &w->alerts[i];
      fprintf(f, "  on the wire    %s alert %d %s%s\n", a->from == 'c' ? "client" : "server",
              a->desc, a->desc >= 0 ? mh_alert_name(a->desc) : "(encrypted, not decrypted)",
              a->encrypted ? " (decrypted)" : " (plaintext)");
    }
    fprintf(f, "  tcp end        client %s, server %s\n",
            w->client_end == MH_END_NONE ? "-" : mh_end_name(w->client_end),
            w->server_end == MH_END_NONE ? "-" : mh_end_name(w->server_end));
    fprintf(f, "  cross-check    %s\n",
            P(&g, c->wire_mismatch[0] ? c->wire_mismatch : "the wire agrees with the TLS library"));
  }
}
