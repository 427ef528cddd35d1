// escape: text from input written into the reports: escaped for XML and HTML (junit.xml,
// report.html, the SVG charts), for a URL's path (the links to a case's files) and for Markdown
// (report.md). Their values are strings and numbers, so escaping is all it takes to write them by
// hand. Every form shows a control character or a byte outside UTF-8 as "\xNN" (base/printable.h),
// so that nothing from input can act in a browser, a Markdown renderer or a terminal.
#include "report/internal.h"

#include <stdio.h>
#include <string.h>

#include "base/printable.h"

// put_char writes the character of |n| bytes at |p|, or "\xNN" for its first byte if |n| is 0
// (not printable), and returns how many bytes it consumed.
static size_t put_char(FILE *f, const char *p, size_t n) {
  if (n == 0) {
    fprintf(f, "\\x%02x", (unsigned char)*p);
    return 1;
  }
  fwrite(p, 1, n, f);
  return n;
}

void mh_escape_xml(FILE *f, const char *s) {
  for (const char *p = s ? s : ""; *p;) {
    const char *ent = NULL;
    switch (*p) {
      case '&':
        ent = "&amp;";
        break;
      case '<':
        ent = "&lt;";
        break;
      case '>':
        ent = "&gt;";
        break;
      case '"':
        ent = "&quot;";
        break;
      case '\'':
        ent = "&apos;";
        break;
      case '\n':
      case '\t':
        ent = *p == '\n' ? "\n" : "\t";
        break;
      default:
        break;
    }
    if (ent != NULL) {
      fputs(ent, f);
      p++;
    } else {
      p += put_char(f, p, mh_printable_len(p));
    }
  }
}

void mh_escape_url_path(FILE *f, const char *s) {
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        strchr("-._~/", *p) != NULL) {
      fputc(*p, f);
    } else {
      fprintf(f, "%%%02X", *p);
    }
  }
}

void mh_escape_md(FILE *f, const char *s) {
  for (const char *p = s ? s : ""; *p;) {
    if (strchr("\\`*_[]|#!~", *p) != NULL) {
      fputc('\\', f);
      fputc(*p++, f);
    } else if (*p == '<' || *p == '>' || *p == '&') {
      fputs(*p == '<' ? "&lt;" : *p == '>' ? "&gt;" : "&amp;", f);
      p++;
    } else {
      p += put_char(f, p, mh_printable_len(p));
    }
  }
}
