// internal: what the files of the mock endpoints share, and nothing outside harness/mock/ may use.
//
// The model: a federation (federation.c) owns its locations; a location owns its outputs (server.c,
// with answer.c deciding what the emulated server says) and its inputs (client.c); every
// connection reads and writes through a transport (xport.c); a replica federation on another loop
// receives what its primary publishes through its mailbox (mailbox.c).
//
// Ownership: a location owns its outputs and inputs; an output owns its accepted connections (a
// doubly linked list). A connection frees itself only through mh_server_conn_close or
// mh_client_reset, and every callback returns right after either, so no freed object is touched.
// Nothing here blocks: every socket is non-blocking and every wait has a timer.
#ifndef MH_MOCK_INTERNAL_H
#define MH_MOCK_INTERNAL_H

#include <ev.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "mock/federation.h"
#include "mock/http.h"
#include "mock/ws.h"
#include "input/acme.h"
#include "tls/tls.h"

#define HANDSHAKE_TIMEOUT_S 10.0
#define REQUEST_TIMEOUT_S 10.0
#define WS_READ_DEADLINE_S 60.0  // the real output resets a 60 s read deadline per message
#define WS_PING_INTERVAL_S 30.0  // the real output pings every 30 s
#define DRAIN_TIMEOUT_S 1.0
#define DIAL_TIMEOUT_S 45.0  // gorilla Dialer HandshakeTimeout in SemStreams
#define TRIM_BURST 1024      // closes after which freed memory is given back to the system
#define TRIM_IDLE_S 2.0      // ... or this long after the last close of a smaller burst
#define SOURCE_BUCKETS 1024
#define IO_CHUNK 16384

// The GUID RFC 6455 appends to a key before hashing it into Sec-WebSocket-Accept.
#define MH_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct mh_loc;

// --- xport.c: a connection's byte stream ---

// mh_xport is TLS when |tls| is set, else the plain socket.
struct mh_xport {
  int fd;
  struct mh_tls_conn *tls;
  uint8_t pending[IO_CHUNK];  // bytes read past an HTTP head, handed to the WebSocket first
  size_t pending_len;
  size_t pending_off;
};

// mh_xport_read reads what |x| has: the pending bytes first, then TLS or the socket.
enum mh_io mh_xport_read(struct mh_xport *x, void *buf, size_t len, size_t *out_n);

// mh_xport_write writes through TLS or to the socket.
enum mh_io mh_xport_write(struct mh_xport *x, const void *buf, size_t len, size_t *out_n);

// mh_xport_keep stores the |len| (<= IO_CHUNK) bytes that followed an HTTP head, for the next
// protocol to read first.
void mh_xport_keep(struct mh_xport *x, const char *rest, size_t len);

// mh_xport_want re-arms |io| for |events| on |x|'s socket, honouring bytes the TLS layer already
// holds (then the watcher fires at once, as if the socket were readable).
void mh_xport_want(struct ev_loop *loop, ev_io *io, struct mh_xport *x, int events);

// mh_xport_ws_io returns the WebSocket I/O functions over |x| (whose address is their |arg|),
// delivering text messages to |on_text|.
struct mh_ws_io mh_xport_ws_io(struct mh_xport *x,
                               void (*on_text)(void *arg, const uint8_t *msg, size_t len));

// --- server.c: outputs and their accepted connections ---

enum mh_sstate { S_HANDSHAKE, S_REQUEST, S_RESPOND, S_WS, S_DRAIN };

struct mh_out;

// --- sources.c: unauthenticated connections per source address ---

struct mh_source;

// mh_sources counts, per source address, an output's connections not yet authenticated.
struct mh_sources {
  struct mh_source *buckets[SOURCE_BUCKETS];
};

// mh_sources_add counts one more connection from |peer| unless it already holds |max|. Returns
// the source's entry (owned by |s|, valid until its count drops to 0), or NULL when the source
// is at |max| or out of memory (then the caller refuses the connection).
struct mh_source *mh_sources_add(struct mh_sources *s, const struct sockaddr *peer, size_t max);

// mh_sources_release counts one connection of |src| less, and frees the entry at 0.
void mh_sources_release(struct mh_sources *s, struct mh_source *src);

// mh_sources_clear frees every entry.
void mh_sources_clear(struct mh_sources *s);

struct mh_sconn {
  struct mh_out *out;
  struct mh_sconn *prev, *next;
  // Unauthenticated (not past the TLS handshake; in plaintext, not past the request head): on
  // the output's pending list, oldest first, and counted against its source.
  struct mh_source *source;
  struct mh_sconn *pend_prev, *pend_next;
  struct mh_xport x;  // ws callbacks get &x
  enum mh_sstate state;
  char peer[64];
  ev_io io;
  ev_timer deadline;
  ev_timer ping;
  ev_timer wdeadline;  // WebSocket: queued frames the peer takes none of
  size_t wd_sent;      // mh_ws_sent when wdeadline was last restarted
  ev_timer resume;     // WebSocket: read on next loop turn (the read budget ran out)
  struct mh_http_parser *hp;
  struct mh_http_head head;
  char *wbuf;  // response bytes not yet written
  size_t wlen, woff;
  int upgrade;  // the response is a 101
  struct mh_ws *ws;
};

struct mh_out {
  struct mh_loc *loc;
  const struct mh_component *cfg;
  int fd;
  int port;  // bound
  ev_io accept_io;
  struct mh_sconn *conns;
  size_t num_conns;
  struct mh_sconn *pend_head, *pend_tail;  // unauthenticated, oldest first
  struct mh_sources sources;
  long long counter;  // for msg-<ms>-<n> ids
};

// mh_server_listen binds |o| on |port| (0: any); |join| when the port is (or may be, after an
// outage) already held by another loop of this process. Returns 0 or -1 with |err| set.
int mh_server_listen(struct mh_out *o, int port, int join, struct mh_err *err);

// mh_server_close_all closes |o|'s connections and its listener.
void mh_server_close_all(struct mh_out *o);

// mh_server_publish sends |payload| (JSON) from every output of |l| to every WebSocket client,
// the replicas' clients included (through their mailboxes).
void mh_server_publish(struct mh_loc *l, const char *payload, const char *origin, long long seq);

// --- answer.c: what the emulated server (Go net/http + gorilla, or nginx) answers ---

// mh_answer_request queues the response to |c|'s complete request head and moves |c| to
// S_RESPOND. Returns 0, or -1 if out of memory (the caller closes |c|).
int mh_answer_request(struct mh_sconn *c);

// mh_answer_malformed queues Go's answer to a request that is not HTTP/1.x, as
// mh_answer_request.
int mh_answer_malformed(struct mh_sconn *c);

// --- client.c: inputs (WebSocket clients) with the real reconnect backoff ---

enum mh_istate { I_IDLE, I_CONNECTING, I_HANDSHAKE, I_SEND, I_RECV, I_OPEN, I_WAIT, I_GAVE_UP };

struct mh_in {
  struct mh_loc *loc;
  const struct mh_component *cfg;
  struct mh_xport x;
  enum mh_istate state;
  ev_io io;
  ev_timer timer;
  int attempts;
  char dial_addr[64];
  int dial_port;
  char cert_serial[80];  // the client certificate this dial presents, when it can change (ACME)
  char key[32];
  char accept[64];
  char req[1024];
  size_t req_len, req_off;
  struct mh_http_parser *hp;
  struct mh_http_head head;
  struct mh_ws *ws;
};

// mh_client_init prepares |in| (idle, no socket) for component |cfg| of |l|.
void mh_client_init(struct mh_in *in, struct mh_loc *l, const struct mh_component *cfg);

// mh_client_dial starts a connection attempt (closing any current one).
void mh_client_dial(struct mh_in *in);

// mh_client_reset closes the current connection attempt or session; |in| is idle afterwards.
void mh_client_reset(struct mh_in *in);

// --- acme.c: ACME certificates, the renewal loop, hot reload and rotation ---

#define MH_ACME_MAX_RETIRED 64  // contexts replaced while connections may still use them

// mh_acme_role is one role (server or client) of a location whose certificate can change: in
// ACME mode, or the server of a location told to rotate.
struct mh_acme_role {
  struct mh_loc *loc;
  const struct mh_acme_config *cfg;  // NULL: manual (rotation only)
  int is_server;
  char cert[4096], key[4096];  // the files in use
  char serial[80];
  long long not_after;
  int fallback;  // serving cert_file/key_file because the ACME server was unreachable
  ev_timer check;
  ev_async done;
  pthread_t thread;
  int thread_running;
  int forced;           // this run is a rotation: renew whatever the time left
  int rotate_pending;   // a rotation came due while a check ran: it starts when that one ends
  atomic_int stopping;  // the federation is going: the worker kills lego and returns
  atomic_int child;     // the running lego's pid, 0 if none
  int result;           // the worker's: 1 renewed, 0 not due, -1 failed (why in |why|)
  char why[MH_ERR_LEN];
};

struct mh_acme_state {
  struct mh_acme_role server, client;
  ev_timer rotate;
  int started;  // the timers were started once (an outage's restart leaves them be)
  struct mh_tls_ctx *retired[MH_ACME_MAX_RETIRED];
  size_t num_retired;
  // A replica's location follows its primary's server certificate: the primary's loop hands the
  // new files over under |follow_mu| and wakes |follow|, and the replica's loop builds its own
  // context from them. Only the server role follows: a replica never dials.
  pthread_mutex_t follow_mu;
  ev_async follow;
  char follow_cert[4096], follow_key[4096];  // the latest hand-over (it replaces older ones)
  int follow_posts;                          // hand-overs not yet taken
  // The primary's: hand-overs its replicas have not taken yet, and how many of those failed to
  // build a context; the replica that takes the last one logs "replicas_followed".
  atomic_int followers_left, followers_failed;
};

// mh_acme_loc_init decides, before |l|'s contexts are made, which certificate each role of |l|
// presents: for an ACME role the stored one if still good, else a new one from the ACME server
// (lego), else the fallback files; on a replica what its primary decided. Sets |l->acme| (NULL
// when |l| has nothing that changes) and |out_server| / |out_client| (the policies to build).
// Returns 0 or -1 with |err| set in the real system's words.
int mh_acme_loc_init(struct mh_loc *l, struct mh_tls_server_policy *out_server,
                     struct mh_tls_client_policy *out_client, struct mh_err *err);

// mh_acme_loc_start starts |l|'s renewal loop and its rotation timer (the primary only).
void mh_acme_loc_start(struct mh_loc *l);

// mh_acme_loc_free stops |l|'s timers, kills a running lego, joins the worker and frees the
// retired contexts and the state. Called on the loop's thread after it stopped running; a
// replica's before its primary's, and only once the primary's loop has stopped (it hands over).
void mh_acme_loc_free(struct mh_loc *l);

// --- federation.c: locations, outages and the federation ---

struct mh_loc {
  struct mh_federation *fed;
  const struct mh_location *cfg;
  struct mh_tls_ctx *server_ctx;
  struct mh_tls_ctx *client_ctx;
  struct mh_out *outs;
  size_t num_outs;
  struct mh_in *ins;
  size_t num_ins;
  ev_timer emit_timer;
  long long emit_seq;
  int down;
  ev_timer outage_start, outage_end;
  double outage_duration;
  regex_t dn_regex;
  int has_dn_regex;
  struct mh_acme_state *acme;  // NULL: the certificates never change
};

// mh_mail is a message a primary federation published, queued for a replica's clients.
struct mh_mail {
  struct mh_mail *next;
  size_t loc;  // index into the replica's locs (the same scenario)
  long long seq;
  char *origin;
  char payload[];
};

struct mh_federation {
  struct ev_loop *loop;
  pthread_t thread;
  int thread_running;
  ev_async stop_async;
  const struct mh_scenario *s;
  struct mh_events *ev;
  struct mh_loc *locs;
  size_t num_locs;
  int ephemeral;
  int shared;       // listeners use SO_REUSEPORT
  int shared_port;  // > 0: the port every output binds
  int stopped;
  struct mh_mock_limits limits;  // resolved
  size_t closes;                 // connections closed since memory was last given back
  ev_timer trim_timer;
  atomic_ullong accepted;  // read by other threads
  // serve --threads: a replica serves the primary's outputs on another loop (same ports, with
  // SO_REUSEPORT); only the primary dials and emits, and what it publishes reaches the replicas'
  // clients through their mailboxes.
  struct mh_federation *primary;
  struct mh_federation *replicas[MH_MAX_LOOPS];
  size_t num_replicas;
  pthread_mutex_t mail_mu;
  struct mh_mail *mail_head, *mail_tail;
  ev_async mail_async;
};

// mh_federation_server_ctx makes the server context of |l| as the federation does, presenting
// |cert| and |key|. Returns it (the caller frees it with mh_tls_ctx_free), or NULL with |err| set.
struct mh_tls_ctx *mh_federation_server_ctx(struct mh_loc *l, const char *cert, const char *key,
                                            struct mh_err *err);

// mh_federation_client_ctx is mh_federation_server_ctx for |l|'s inputs.
struct mh_tls_ctx *mh_federation_client_ctx(struct mh_loc *l, const char *cert, const char *key,
                                            struct mh_err *err);

// mh_federation_closed counts a closed connection; after a burst of them it gives freed memory
// back to the system (malloc_trim), at once after TRIM_BURST closes, else TRIM_IDLE_S later.
void mh_federation_closed(struct mh_federation *f);

// mh_federation_observe reports one server-side outcome to the in-process observer, if any.
void mh_federation_observe(struct mh_loc *l, const char *peer, const struct mh_tls_info *ti,
                           int status);

// mh_federation_event writes event |name| of |l| (component |comp| or NULL) with an optional
// "peer" field.
void mh_federation_event(struct mh_loc *l, const char *comp, const char *name, const char *peer);

// --- mailbox.c: a replica's queue of what its primary publishes ---

// mh_mailbox_init prepares |f|'s (empty) mailbox; for a replica (|f->primary| set) it also starts
// the watcher that delivers the mail on |f|'s loop.
void mh_mailbox_init(struct mh_federation *f);

// mh_mailbox_cleanup stops the watcher, drops undelivered mail and destroys the lock. Called
// once, after mh_mailbox_init, on the thread that owns |f| after its loop stopped running.
void mh_mailbox_cleanup(struct mh_federation *f);

// mh_mailbox_post queues what the primary's location |l| publishes for each replica's clients.
void mh_mailbox_post(struct mh_loc *l, const char *payload, const char *origin, long long seq);

#endif
