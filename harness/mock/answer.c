// answer: what the emulated server says to a complete request head, in its own words: Go's
// net/http with gorilla/websocket (SemStreams), or nginx with ssl_verify_client in front of it.
// Every answer is queued whole on the connection (server.c writes it) and logged as an "http"
// event.
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mock/internal.h"
#include "base/tls_version.h"

// respond queues a whole HTTP response; |upgrade| marks a 101 after which WebSocket starts.
// Returns 0, or -1 if out of memory.
static int respond(struct mh_sconn *c, const char *head, const char *body, int upgrade) {
  size_t hl = strlen(head), bl = body ? strlen(body) : 0;
  c->wbuf = malloc(hl + bl + 1);
  if (c->wbuf == NULL) {
    return -1;
  }
  memcpy(c->wbuf, head, hl);
  if (bl) {
    memcpy(c->wbuf + hl, body, bl);
  }
  c->wlen = hl + bl;
  c->woff = 0;
  c->upgrade = upgrade;
  c->state = S_RESPOND;
  return 0;
}

static void http_date(char *out, size_t len) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(out, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

// respond_go answers as Go's net/http (http.Error): text/plain body, optional extra header.
static int respond_go(struct mh_sconn *c, int status, const char *body, const char *extra) {
  char date[64], head[1024];
  http_date(date, sizeof(date));
  snprintf(head, sizeof(head),
           "HTTP/1.1 %d %s\r\n%sContent-Type: text/plain; charset=utf-8\r\n"
           "X-Content-Type-Options: nosniff\r\nDate: %s\r\nContent-Length: %zu\r\n"
           "Connection: close\r\n\r\n",
           status, mh_http_status_text(status), extra ? extra : "", date, strlen(body));
  return respond(c, head, body, 0);
}

// respond_nginx answers with nginx's own error page.
static int respond_nginx(struct mh_sconn *c, int status, const char *title) {
  char date[64], head[512], body[1024];
  http_date(date, sizeof(date));
  snprintf(body, sizeof(body),
           "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1>"
           "</center>\r\n%s%s%s<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
           status, title, status, mh_http_status_text(status),
           strcmp(title, mh_http_status_text(status)) ? "<center>" : "",
           strcmp(title, mh_http_status_text(status)) ? title : "",
           strcmp(title, mh_http_status_text(status)) ? "</center>\r\n" : "");
  snprintf(head, sizeof(head),
           "HTTP/1.1 %d %s\r\nServer: nginx\r\nDate: %s\r\nContent-Type: text/html\r\n"
           "Content-Length: %zu\r\nConnection: close\r\n\r\n",
           status, mh_http_status_text(status), date, strlen(body));
  return respond(c, head, body, 0);
}

static void log_http(struct mh_sconn *c, int status) {
  struct mh_loc *l = c->out->loc;
  const struct mh_tls_info *ti = c->x.tls ? mh_tls_conn_info(c->x.tls) : NULL;
  struct mh_event e;
  mh_events_begin(&e, l->cfg->name, c->out->cfg->id, "http");
  mh_events_str(&e, "peer", c->peer);
  mh_events_str(&e, "method", c->head.method);
  mh_events_str(&e, "path", c->head.target);
  mh_events_int(&e, "status", status);
  if (ti != NULL) {
    mh_events_str(&e, "client_cn", ti->peer_cn);
    mh_events_str(&e, "version", mh_tls_version_name(ti->version));
  }
  mh_events_write(l->fed->ev, &e);
  struct mh_tls_info copy;
  if (ti != NULL) {
    copy = *ti;
    copy.reason[0] = '\0';
  }
  mh_federation_observe(l, c->peer, ti != NULL ? &copy : NULL, status);
}

// nginx_refusal is nginx's HTTP-layer answer to a client the handshake let through
// (ssl_verify_client on): 400 without or with a bad certificate, 403 for a DN the map refuses.
// Returns the status (0: let through) and its page title in |*out_title|.
static int nginx_refusal(const struct mh_sconn *c, const struct mh_tls_info *ti,
                         const char **out_title) {
  const struct mh_loc *l = c->out->loc;
  if (!ti->peer_cert && l->cfg->server.require_client_cert) {
    *out_title = "No required SSL certificate was sent";
    return 400;
  }
  if (ti->peer_cert && !ti->verify_ok) {
    *out_title = "The SSL certificate error";
    return 400;
  }
  if (l->has_dn_regex && regexec(&l->dn_regex, ti->peer_dn, 0, NULL, 0) != 0) {
    *out_title = "Forbidden";
    return 403;
  }
  return 0;
}

// upgrade_status is gorilla/websocket's Upgrader.Upgrade, in its order: the status of its
// refusal, or 101.
static int upgrade_status(const struct mh_http_head *h) {
  if (!mh_http_has_token(h, "Connection", "upgrade") ||
      !mh_http_has_token(h, "Upgrade", "websocket")) {
    return 400;
  }
  if (strcmp(h->method, "GET") != 0) {
    return 405;
  }
  if (!mh_http_has_token(h, "Sec-Websocket-Version", "13")) {
    return 400;
  }
  const char *key = mh_http_header(h, "Sec-Websocket-Key");
  return key == NULL || strlen(key) != 24 ? 400 : 101;
}

int mh_answer_request(struct mh_sconn *c) {
  const struct mh_out *o = c->out;
  const struct mh_loc *l = o->loc;
  const struct mh_http_head *h = &c->head;
  const struct mh_tls_info *ti = c->x.tls ? mh_tls_conn_info(c->x.tls) : NULL;
  if (l->cfg->emulate == MH_EMULATE_NGINX && ti != NULL && l->cfg->server.mtls) {
    const char *title;
    int status = nginx_refusal(c, ti, &title);
    if (status != 0) {
      log_http(c, status);
      return respond_nginx(c, status, title);
    }
  }
  char path[1024];
  snprintf(path, sizeof(path), "%s", h->target);
  char *q = strchr(path, '?');
  if (q != NULL) {
    *q = '\0';
  }
  if (strcmp(path, o->cfg->path) != 0) {
    log_http(c, 404);
    return respond_go(c, 404, "404 page not found\n", NULL);
  }
  int status = upgrade_status(h);
  if (status == 101) {
    char accept[64], head[512];
    mh_tls_sha1_base64(mh_http_header(h, "Sec-Websocket-Key"), MH_WS_GUID, accept, sizeof(accept));
    snprintf(head, sizeof(head),
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: %s\r\n\r\n",
             accept);
    log_http(c, 101);
    return respond(c, head, NULL, 1);
  }
  // gorilla's errors answer with the status text and "Sec-Websocket-Version: 13".
  char body[64];
  snprintf(body, sizeof(body), "%s\n", mh_http_status_text(status));
  log_http(c, status);
  return respond_go(c, status, body, "Sec-Websocket-Version: 13\r\n");
}

int mh_answer_malformed(struct mh_sconn *c) {
  log_http(c, 400);
  return respond_go(c, 400, "400 Bad Request", NULL);  // Go answers a malformed request so
}
