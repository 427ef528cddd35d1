// http: request and response heads with http-parser (see http.h).
#include "mock/http.h"

#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct mh_http_parser {
  http_parser p;
  http_parser_settings s;
  struct mh_http_head *head;
  size_t head_bytes;
  int in_value;  // the last callback was a header value
  int overflow;
  int status_only;  // mh_http_parser_new_status: headers are not kept
};

static int append(char *dst, size_t cap, const char *at, size_t len) {
  size_t used = strlen(dst);
  if (used + len >= cap) {
    return -1;
  }
  memcpy(dst + used, at, len);
  dst[used + len] = '\0';
  return 0;
}

static int on_url(http_parser *hp, const char *at, size_t len) {
  struct mh_http_parser *p = hp->data;
  return append(p->head->target, sizeof(p->head->target), at, len) == 0 ? 0 : (p->overflow = 1);
}

// on_status: the status line has been read (its code is complete once the reason phrase starts).
static int on_status(http_parser *hp, const char *at, size_t len) {
  (void)at;
  (void)len;
  struct mh_http_parser *p = hp->data;
  p->head->status = hp->status_code;
  return 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t len) {
  struct mh_http_parser *p = hp->data;
  struct mh_http_head *h = p->head;
  if (hp->type == HTTP_RESPONSE) {
    h->status = hp->status_code;  // a status line without a reason phrase
  }
  if (p->status_only) {
    return 0;
  }
  if (p->in_value || h->num_headers == 0) {
    if (h->num_headers == MH_HTTP_MAX_HEADERS) {
      p->overflow = 1;
      return 1;
    }
    memset(&h->headers[h->num_headers++], 0, sizeof(h->headers[0]));
    p->in_value = 0;
  }
  struct mh_http_header *hd = &h->headers[h->num_headers - 1];
  return append(hd->name, sizeof(hd->name), at, len) == 0 ? 0 : (p->overflow = 1);
}

static int on_header_value(http_parser *hp, const char *at, size_t len) {
  struct mh_http_parser *p = hp->data;
  struct mh_http_head *h = p->head;
  if (p->status_only) {
    return 0;
  }
  if (h->num_headers == 0) {
    return 1;
  }
  p->in_value = 1;
  struct mh_http_header *hd = &h->headers[h->num_headers - 1];
  return append(hd->value, sizeof(hd->value), at, len) == 0 ? 0 : (p->overflow = 1);
}

static int on_headers_complete(http_parser *hp) {
  struct mh_http_parser *p = hp->data;
  p->head->complete = 1;
  if (hp->type == HTTP_REQUEST) {
    snprintf(p->head->method, sizeof(p->head->method), "%s",
             http_method_str((enum http_method)hp->method));
  } else {
    p->head->status = hp->status_code;
  }
  http_parser_pause(hp, 1);  // stop exactly at the end of the head
  return 0;
}

struct mh_http_parser *mh_http_parser_new(int is_request) {
  struct mh_http_parser *p = calloc(1, sizeof(*p));
  if (p == NULL) {
    return NULL;
  }
  http_parser_init(&p->p, is_request ? HTTP_REQUEST : HTTP_RESPONSE);
  p->p.data = p;
  http_parser_settings_init(&p->s);
  p->s.on_url = on_url;
  p->s.on_header_field = on_header_field;
  p->s.on_header_value = on_header_value;
  p->s.on_headers_complete = on_headers_complete;
  p->s.on_status = on_status;
  return p;
}

struct mh_http_parser *mh_http_parser_new_status(void) {
  struct mh_http_parser *p = mh_http_parser_new(0);
  if (p != NULL) {
    p->status_only = 1;
  }
  return p;
}

void mh_http_parser_free(struct mh_http_parser *p) {
  free(p);
}

long mh_http_parse(struct mh_http_parser *p, const char *data, size_t len,
                   struct mh_http_head *out) {
  p->head = out;
  if (out->complete) {
    return 0;
  }
  size_t n = http_parser_execute(&p->p, &p->s, data, len);
  enum http_errno e = HTTP_PARSER_ERRNO(&p->p);
  p->head_bytes += n;
  if (p->overflow || p->head_bytes > MH_HTTP_MAX_HEAD) {
    out->too_large = 1;
    return -1;
  }
  if (e == HPE_PAUSED) {
    // Paused in on_headers_complete, http-parser has not counted the head's final LF yet.
    if (out->complete && n < len && data[n] == '\n') {
      n++;
      p->head_bytes++;
    }
    return (long)n;
  }
  if (e != HPE_OK) {
    return -1;
  }
  return (long)n;
}

const char *mh_http_header(const struct mh_http_head *h, const char *name) {
  for (size_t i = 0; i < h->num_headers; i++) {
    if (strcasecmp(h->headers[i].name, name) == 0) {
      return h->headers[i].value;
    }
  }
  return NULL;
}

int mh_http_has_token(const struct mh_http_head *h, const char *name, const char *token) {
  size_t tlen = strlen(token);
  for (size_t i = 0; i < h->num_headers; i++) {
    if (strcasecmp(h->headers[i].name, name) != 0) {
      continue;
    }
    const char *v = h->headers[i].value;
    while (*v) {
      while (*v == ' ' || *v == '\t' || *v == ',') {
        v++;
      }
      const char *end = v;
      while (*end && *end != ',') {
        end++;
      }
      const char *last = end;
      while (last > v && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
      }
      if ((size_t)(last - v) == tlen && strncasecmp(v, token, tlen) == 0) {
        return 1;
      }
      v = end;
    }
  }
  return 0;
}

const char *mh_http_status_text(int status) {
  switch (status) {
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}
