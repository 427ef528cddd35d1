// http: HTTP/1.1 message heads for the mocks (requests on outputs, the 101 response on inputs),
// parsed with Debian's http-parser. Only heads are handled: the mocks never read bodies.
#ifndef MH_HTTP_H
#define MH_HTTP_H

#include <stddef.h>

#define MH_HTTP_MAX_HEADERS 32

struct mh_http_header {
  char name[64];
  char value[512];
};

struct mh_http_head {
  char method[16];
  char target[1024];  // request target (path and query)
  int status;         // response status code, as soon as the status line has been read
  struct mh_http_header headers[MH_HTTP_MAX_HEADERS];
  size_t num_headers;
  int complete;   // the head has been read in full
  int too_large;  // parsing stopped at a limit (MH_HTTP_MAX_HEAD bytes, or the headers kept)
};

#define MH_HTTP_MAX_HEAD (16 * 1024)

struct mh_http_parser;

// mh_http_parser_new returns a parser for a request (|is_request|) or a response head, or NULL.
struct mh_http_parser *mh_http_parser_new(int is_request);

// mh_http_parser_new_status returns a response parser that keeps only the status and where the
// head ends (no headers, so no limit but MH_HTTP_MAX_HEAD), or NULL: for a probe that reads a
// server's answer whatever its headers.
struct mh_http_parser *mh_http_parser_new_status(void);

// mh_http_parser_free releases |p|; NULL is accepted.
void mh_http_parser_free(struct mh_http_parser *p);

// mh_http_parse feeds |len| bytes and stops at the end of the head. Returns how many bytes were
// consumed (the rest belongs to the next protocol, e.g. WebSocket frames), or -1 if the bytes are
// not HTTP/1.x or the head is too large (|out->too_large| then says which). |out->complete| says
// whether the head is done.
long mh_http_parse(struct mh_http_parser *p, const char *data, size_t len,
                   struct mh_http_head *out);

// mh_http_header returns the value of header |name| (case-insensitive), or NULL.
const char *mh_http_header(const struct mh_http_head *h, const char *name);

// mh_http_has_token reports whether header |name| holds |token| in its comma-separated list
// (case-insensitive), as gorilla's tokenListContainsValue does.
int mh_http_has_token(const struct mh_http_head *h, const char *name, const char *token);

// mh_http_status_text is the reason phrase of |status| as Go's net/http spells it.
const char *mh_http_status_text(int status);

#endif
