// escape: text escaped for XML and HTML (junit.xml, report.html, the SVG charts). Their values are
// strings and numbers, so escaping is all it takes to write them by hand.
#include "report/internal.h"

#include <stdio.h>

void mh_escape_xml(FILE *f, const char *s) {
  for (const char *p = s ? s : ""; *p; p++) {
    switch (*p) {
      case '&':
        fputs("&amp;", f);
        break;
      case '<':
        fputs("&lt;", f);
        break;
      case '>':
        fputs("&gt;", f);
        break;
      case '"':
        fputs("&quot;", f);
        break;
      case '\'':
        fputs("&apos;", f);
        break;
      default:
        if ((unsigned char)*p >= 0x20 || *p == '\n' || *p == '\t') {
          fputc(*p, f);
        }
    }
  }
}
