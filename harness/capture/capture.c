// capture: a run's libpcap captures, demultiplexed per case (see capture.h).
#include "capture/capture.h"

#include <pcap/pcap.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/wire.h"

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

// handle is one interface's libpcap handle, opened at the first tap on it.
struct handle {
  char name[64];
  pcap_t *p;
  unsigned drops;  // what pcap_stats last said the kernel dropped
  int failed;      // the open failed: |err| and |denied| say why, for every later tap
  int denied;
  char err[MH_ERR_LEN];
};

struct mh_capture {
  struct mh_capture_hub *hub;
  struct handle *h;
  int local_port, server_port;
  unsigned drops_at_open;  // the handle's drops when the tap began
  struct mh_packets got;   // read for this tap, not yet taken
  struct mh_capture *next;
};

#define MAX_IFACES 8

struct mh_capture_hub {
  pthread_mutex_t mu;  // everything below, and reading the handles
  char *filter;
  struct handle ifs[MAX_IFACES];
  size_t num_ifs;
  struct mh_capture *taps;
};

struct mh_capture_hub *mh_capture_hub_new(const int *ports, size_t num_ports) {
  struct mh_capture_hub *hub = calloc(1, sizeof(*hub));
  size_t len = 32 + num_ports * 16;
  char *f = malloc(len);
  if (hub == NULL || f == NULL) {
    free(hub);
    free(f);
    return NULL;
  }
  size_t n = (size_t)snprintf(f, len, "tcp");
  size_t distinct = 0;
  for (size_t i = 0; i < num_ports; i++) {
    int seen = 0;
    for (size_t j = 0; j < i && !seen; j++) {
      seen = ports[j] == ports[i];
    }
    if (!seen) {
      n += (size_t)snprintf(f + n, len - n, "%s port %d", distinct++ ? " or" : " and (", ports[i]);
    }
  }
  if (distinct > 0) {
    snprintf(f + n, len - n, ")");
  }
  hub->filter = f;
  pthread_mutex_init(&hub->mu, NULL);
  return hub;
}

void mh_capture_hub_free(struct mh_capture_hub *hub) {
  if (hub == NULL) {
    return;
  }
  while (hub->taps != NULL) {
    mh_capture_close(hub->taps);
  }
  for (size_t i = 0; i < hub->num_ifs; i++) {
    if (hub->ifs[i].p != NULL) {
      pcap_close(hub->ifs[i].p);
    }
  }
  pthread_mutex_destroy(&hub->mu);
  free(hub->filter);
  free(hub);
}

// handle_open opens |h| (named) with |filter|; on failure records why in |h|.
static void handle_open(struct handle *h, const char *filter) {
  char ebuf[PCAP_ERRBUF_SIZE] = "";
  struct mh_err err;
  pcap_t *p = pcap_create(h->name, ebuf);
  if (p == NULL) {
    mh_err_set(&err, "capture on %s: %s", h->name, ebuf);
    goto fail;
  }
  pcap_set_snaplen(p, 65535);
  // Not immediate mode: libpcap then uses TPACKET_V2, whose ring has a 64 KiB slot per frame
  // (the snaplen), so 16 MiB held 256 frames and a burst of concurrent cases lost some. TPACKET_V3
  // packs frames into blocks, which the kernel hands over when full or after the 1 ms timeout.
  pcap_set_immediate_mode(p, 0);
  pcap_set_timeout(p, 1);
  // The run's traffic waits here while the probes run (it is read at each case's end).
  pcap_set_buffer_size(p, 16 << 20);
  pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
  int r = pcap_activate(p);
  if (r < 0) {
    h->denied = r == PCAP_ERROR_PERM_DENIED;
    mh_err_set(&err, "capture on %s: %s%s", h->name, pcap_geterr(p),
               h->denied ? " (run as root or give the binary CAP_NET_RAW to capture)" : "");
    goto fail;
  }
  struct bpf_program prog;
  // libpcap drains what arrived before the filter was attached.
  if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
      pcap_setfilter(p, &prog) != 0) {
    mh_err_set(&err, "capture filter \"%s\": %s", filter, pcap_geterr(p));
    goto fail;
  }
  pcap_freecode(&prog);
  pcap_setnonblock(p, 1, ebuf);
  h->p = p;
  return;
fail:
  if (p != NULL) {
    pcap_close(p);
  }
  h->failed = 1;
  snprintf(h->err, sizeof(h->err), "%s", err.msg);
}

struct mh_capture *mh_capture_open(struct mh_capture_hub *hub, const char *iface, int server_port,
                                   int local_port, int *out_denied, struct mh_err *err) {
  *out_denied = 0;
  pthread_mutex_lock(&hub->mu);
  struct handle *h = NULL;
  for (size_t i = 0; i < hub->num_ifs && h == NULL; i++) {
    h = strcmp(hub->ifs[i].name, iface) == 0 ? &hub->ifs[i] : NULL;
  }
  if (h == NULL && hub->num_ifs < MAX_IFACES) {
    h = &hub->ifs[hub->num_ifs++];
    snprintf(h->name, sizeof(h->name), "%s", iface);
    handle_open(h, hub->filter);
  }
  struct mh_capture *c = NULL;
  if (h == NULL || h->failed) {
    *out_denied = h != NULL && h->denied;
    mh_err_set(err, "%s", h != NULL ? h->err : "capture: too many interfaces in one run");
  } else if ((c = calloc(1, sizeof(*c))) == NULL) {
    mh_err_set(err, "out of memory");
  } else {
    struct pcap_stat st;
    h->drops = pcap_stats(h->p, &st) == 0 ? st.ps_drop : h->drops;
    *c = (struct mh_capture){.hub = hub,
                             .h = h,
                             .local_port = local_port,
                             .server_port = server_port,
                             .drops_at_open = h->drops,
                             .next = hub->taps};
    c->got.linktype = pcap_datalink(h->p);
    c->got.snaplen = (uint32_t)pcap_snapshot(h->p);
    hub->taps = c;
  }
  pthread_mutex_unlock(&hub->mu);
  return c;
}

static void append_frame(struct mh_packets *out, const struct pcap_pkthdr *h, const u_char *bytes) {
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

struct reading {
  struct mh_capture_hub *hub;
  struct handle *h;
  int linktype;
};

// on_frame hands a frame to the tap of its connection (the hub's lock is held).
static void on_frame(u_char *user, const struct pcap_pkthdr *hdr, const u_char *bytes) {
  const struct reading *rd = (const struct reading *)user;
  int sport, dport;
  if (mh_wire_frame_ports(rd->linktype, bytes, hdr->caplen, &sport, &dport) != 0) {
    return;
  }
  for (struct mh_capture *c = rd->hub->taps; c != NULL; c = c->next) {
    if (c->h == rd->h && ((sport == c->local_port && dport == c->server_port) ||
                          (dport == c->local_port && sport == c->server_port))) {
      append_frame(&c->got, hdr, bytes);
      return;
    }
  }
}

// move_frames appends the frames of |from| to |out| (their data moves, not copied) and empties
// |from|.
static void move_frames(struct mh_packets *from, struct mh_packets *out) {
  if (out->items == NULL) {
    out->items = from->items;
    out->num = from->num;
    out->cap = from->cap;
  } else {
    for (size_t i = 0; i < from->num; i++) {
      if (out->num == out->cap) {
        size_t cap = out->cap * 2;
        struct mh_packet *n = realloc(out->items, cap * sizeof(*n));
        if (n == NULL) {
          free(from->items[i].data);  // as a frame append_frame could not keep
          continue;
        }
        out->items = n;
        out->cap = cap;
      }
      out->items[out->num++] = from->items[i];
    }
    free(from->items);
  }
  from->items = NULL;
  from->num = from->cap = 0;
}

void mh_capture_take(struct mh_capture *c, struct mh_packets *out) {
  struct mh_capture_hub *hub = c->hub;
  pthread_mutex_lock(&hub->mu);
  struct reading rd = {.hub = hub, .h = c->h, .linktype = c->got.linktype};
  // With TPACKET_V3 one dispatch reads at most one ring block: read until none is left (bounded:
  // a 16 MB ring holds far fewer blocks), or this tap's last frames stay behind another's.
  for (int i = 0; i < 4096 && pcap_dispatch(c->h->p, -1, on_frame, (u_char *)&rd) > 0; i++) {
  }
  if (out->num == 0 && out->items == NULL) {
    out->linktype = c->got.linktype;
    out->snaplen = c->got.snaplen;
  }
  move_frames(&c->got, out);
  struct pcap_stat st;
  c->h->drops = pcap_stats(c->h->p, &st) == 0 ? st.ps_drop : c->h->drops;
  pthread_mutex_unlock(&hub->mu);
}

void mh_capture_close(struct mh_capture *c) {
  if (c == NULL) {
    return;
  }
  struct mh_capture_hub *hub = c->hub;
  pthread_mutex_lock(&hub->mu);
  for (struct mh_capture **p = &hub->taps; *p != NULL; p = &(*p)->next) {
    if (*p == c) {
      *p = c->next;
      break;
    }
  }
  pthread_mutex_unlock(&hub->mu);
  mh_capture_packets_free(&c->got);
  free(c);
}

unsigned mh_capture_dropped(struct mh_capture *c) {
  pthread_mutex_lock(&c->hub->mu);
  unsigned n = c->h->drops - c->drops_at_open;
  pthread_mutex_unlock(&c->hub->mu);
  return n;
}
