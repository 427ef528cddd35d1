// capture: per-case libpcap captures (see capture.h).
#include "capture/capture.h"

#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"

struct mh_capture {
  pcap_t *p;
};

const char *mh_capture_library_version(void) {
  return pcap_lib_version();
}

void mh_capture_packets_free(struct mh_packets *p) {
  if (p == NULL) {
    return;
  }
  for (size_t i = 0; i < p->num; i++) {
    free(p->items[i].data);
  }
  free(p->items);
  p->items = NULL;
  p->num = p->cap = 0;
}

struct mh_capture *mh_capture_open(const char *iface, const char *filter, int *out_denied,
                                   struct mh_err *err) {
  char ebuf[PCAP_ERRBUF_SIZE] = "";
  *out_denied = 0;
  pcap_t *p = pcap_create(iface, ebuf);
  if (p == NULL) {
    mh_err_set(err, "capture on %s: %s", iface, ebuf);
    return NULL;
  }
  pcap_set_snaplen(p, 65535);
  pcap_set_immediate_mode(p, 1);
  pcap_set_buffer_size(p, 4 << 20);
  pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
  int r = pcap_activate(p);
  if (r < 0) {
    *out_denied = r == PCAP_ERROR_PERM_DENIED;
    mh_err_set(err, "capture on %s: %s%s", iface, pcap_geterr(p),
               *out_denied ? " (run as root or give the binary CAP_NET_RAW to capture)" : "");
    pcap_close(p);
    return NULL;
  }
  struct bpf_program prog;
  // libpcap drains what arrived before the filter was attached, so only this case's frames remain.
  if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
      pcap_setfilter(p, &prog) != 0) {
    mh_err_set(err, "capture filter \"%s\": %s", filter, pcap_geterr(p));
    pcap_close(p);
    return NULL;
  }
  pcap_freecode(&prog);
  pcap_setnonblock(p, 1, ebuf);
  struct mh_capture *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    pcap_close(p);
    mh_err_set(err, "out of memory");
    return NULL;
  }
  c->p = p;
  return c;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes) {
  struct mh_packets *out = (struct mh_packets *)user;
  if (out->num == out->cap) {
    size_t cap = out->cap ? out->cap * 2 : 32;
    struct mh_packet *n = realloc(out->items, cap * sizeof(*n));
    if (n == NULL) {
      return;
    }
    out->items = n;
    out->cap = cap;
  }
  uint8_t *data = malloc(h->caplen ? h->caplen : 1);
  if (data == NULL) {
    return;
  }
  memcpy(data, bytes, h->caplen);
  // With nanosecond precision, tv_usec holds nanoseconds.
  out->items[out->num++] = (struct mh_packet){
      .ts_ns = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec,
      .caplen = h->caplen,
      .origlen = h->len,
      .data = data,
  };
}

void mh_capture_collect(struct mh_capture *c, int linger_ms, struct mh_packets *out) {
  memset(out, 0, sizeof(*out));
  out->linktype = pcap_datalink(c->p);
  out->snaplen = (uint32_t)pcap_snapshot(c->p);
  double start = mh_clock_now_ms();
  for (;;) {
    pcap_dispatch(c->p, -1, on_packet, (u_char *)out);
    if (mh_clock_now_ms() - start >= linger_ms) {
      break;
    }
    usleep(5000);
  }
  pcap_dispatch(c->p, -1, on_packet, (u_char *)out);
  pcap_close(c->p);
  free(c);
}

void mh_capture_take(struct mh_capture *c, struct mh_packets *out) {
  if (out->num == 0 && out->items == NULL) {
    out->linktype = pcap_datalink(c->p);
    out->snaplen = (uint32_t)pcap_snapshot(c->p);
  }
  pcap_dispatch(c->p, -1, on_packet, (u_char *)out);
}

void mh_capture_close(struct mh_capture *c) {
  if (c != NULL) {
    pcap_close(c->p);
    free(c);
  }
}
