// Unit tests for net.c's target text: HOST:PORT splitting, --resolve pins, resolution through pins
// and numeric hosts (no resolver is asked), loopback checks.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/net.h"

static void test_split_host_port(void **state) {
  (void)state;
  char host[MH_NET_HOST_LEN];
  int port = 0;
  struct mh_err err;
  assert_int_equal(mh_net_split_host_port("db.example.com:443", host, sizeof(host), &port, &err),
                   0);
  assert_string_equal(host, "db.example.com");
  assert_int_equal(port, 443);
  assert_int_equal(mh_net_split_host_port("192.0.2.1:8443", host, sizeof(host), &port, &err), 0);
  assert_string_equal(host, "192.0.2.1");
  assert_int_equal(mh_net_split_host_port("[2001:db8::1]:1", host, sizeof(host), &port, &err), 0);
  assert_string_equal(host, "2001:db8::1");
  assert_int_equal(port, 1);
  static const char *const bad[] = {"db.example.com", "db:0",   "db:65536",
                                    "db:44x",         ":443",   "2001:db8::1:443",
                                    "[db]:443",       "[]:443", "db.example.com:"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(mh_net_split_host_port(bad[i], host, sizeof(host), &port, &err), -1);
    assert_non_null(strstr(err.msg, bad[i]));
  }
}

static void test_parse_pin(void **state) {
  (void)state;
  struct mh_net_pin pin;
  struct mh_err err;
  assert_int_equal(mh_net_parse_pin("web.test:443:192.0.2.1", &pin, &err), 0);
  assert_string_equal(pin.name, "web.test");
  assert_int_equal(pin.port, 443);
  assert_string_equal(pin.addr, "192.0.2.1");
  assert_int_equal(mh_net_parse_pin("web.test:443:[2001:db8::1]", &pin, &err), 0);
  assert_string_equal(pin.addr, "2001:db8::1");
  assert_int_equal(mh_net_parse_pin("web.test:443:2001:db8::2", &pin, &err), 0);
  assert_string_equal(pin.addr, "2001:db8::2");
  static const char *const bad[] = {"web.test:443", "web.test:x:192.0.2.1", ":443:192.0.2.1",
                                    "web.test:443:web2.test", "web.test:0:192.0.2.1"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(mh_net_parse_pin(bad[i], &pin, &err), -1);
  }
}

static void test_resolve_uses_pins_then_numeric(void **state) {
  (void)state;
  struct mh_net_pin pins[3];
  struct mh_err err;
  assert_int_equal(mh_net_parse_pin("Web.Test:443:[2001:db8::1]", &pins[0], &err), 0);
  assert_int_equal(mh_net_parse_pin("web.test:443:192.0.2.1", &pins[1], &err), 0);
  assert_int_equal(mh_net_parse_pin("web.test:80:192.0.2.9", &pins[2], &err), 0);
  struct mh_net_addrs addrs;
  // A pinned name never reaches the resolver (".invalid" would not resolve): every pin, in order.
  assert_int_equal(mh_net_resolve("web.test", 443, pins, 3, &addrs, &err), 0);
  assert_int_equal(addrs.num, 2);
  char ip[64];
  mh_net_format_ip((const struct sockaddr *)&addrs.ss[0], ip, sizeof(ip));
  assert_string_equal(ip, "2001:db8::1");
  mh_net_format_ip((const struct sockaddr *)&addrs.ss[1], ip, sizeof(ip));
  assert_string_equal(ip, "192.0.2.1");
  assert_int_equal(mh_net_resolve("::1", 8443, pins, 3, &addrs, &err), 0);
  assert_int_equal(addrs.num, 1);
  assert_int_equal(addrs.ss[0].ss_family, AF_INET6);
  assert_int_equal(ntohs(((struct sockaddr_in6 *)&addrs.ss[0])->sin6_port), 8443);
}

static void test_loopback_and_numeric(void **state) {
  (void)state;
  assert_true(mh_net_is_loopback("127.0.0.1") && mh_net_is_loopback("127.9.9.9"));
  assert_true(mh_net_is_loopback("::1"));
  assert_false(mh_net_is_loopback("192.0.2.1") || mh_net_is_loopback("localhost"));
  assert_true(mh_net_is_numeric("2001:db8::1") && mh_net_is_numeric("192.0.2.1"));
  assert_false(mh_net_is_numeric("localhost") || mh_net_is_numeric("[::1]"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_split_host_port),
      cmocka_unit_test(test_parse_pin),
      cmocka_unit_test(test_resolve_uses_pins_then_numeric),
      cmocka_unit_test(test_loopback_and_numeric),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
