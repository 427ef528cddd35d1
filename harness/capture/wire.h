// wire: what a case's capture shows, read independently of the TLS library that made it: TCP
// endings, the ClientHello's SNI, whether the server's certificate crossed the wire, and every
// alert in each direction. TLS 1.3 records are decrypted with the case's key log (HKDF-Expand-Label
// and the AEAD of the negotiated suite), so an encrypted alert is named, not guessed.
#ifndef MH_WIRE_H
#define MH_WIRE_H

#include <stddef.h>

#include "base/outcomes.h"
#include "capture/capture.h"

// MH_WIRE_UNDECRYPTED stands for an alert that was sent inside a record the reader could not
// decrypt: there was one, its code is unknown. (No alert at all is MH_ALERT_NONE.)
#define MH_WIRE_UNDECRYPTED (-2)

struct mh_wire_alert {
  char from;      // 'c' client, 's' server
  int level;      // 1 warning, 2 fatal; 0 if encrypted and not decrypted
  int desc;       // MH_WIRE_UNDECRYPTED if encrypted and not decrypted
  int encrypted;  // it was inside an encrypted record
};

struct mh_wire_view {
  size_t frames;
  char sni[256];
  int tls13;
  int server_certificate;  // the server's Certificate message was seen (decrypted in TLS 1.3)
  struct mh_wire_alert alerts[8];
  size_t num_alerts;
  int undecrypted;         // encrypted records that could not be decrypted
  enum mh_end client_end;  // MH_END_FIN, MH_END_RST or MH_END_NONE (neither was seen)
  enum mh_end server_end;
};

// mh_wire_analyze reads |p| (frames between |client_port| and the server) with |keylog| (NSS
// lines, may be empty) into |out|.
void mh_wire_analyze(const struct mh_packets *p, int client_port, const char *keylog,
                     struct mh_wire_view *out);

// mh_wire_closed says whether the TCP connection of |client_port| in |p| is over on the wire: a
// RST in either direction, or a FIN from each side and a segment after the later one (its ACK),
// so that nothing more of it is to come. Returns 1 or 0.
int mh_wire_closed(const struct mh_packets *p, int client_port);

// mh_wire_frame_ports reads the TCP ports of frame |f| (|n| bytes, link type |linktype|: Ethernet
// or Linux cooked). Returns 0, or -1 for a frame that is not TCP over IPv4 or IPv6.
int mh_wire_frame_ports(int linktype, const uint8_t *f, size_t n, int *sport, int *dport);

// mh_wire_first_fatal returns the first fatal alert sent by |from| on the wire (its code),
// MH_WIRE_UNDECRYPTED if one was sent but could not be decrypted, or MH_ALERT_NONE if none was
// seen.
int mh_wire_first_fatal(const struct mh_wire_view *w, char from);

#endif
