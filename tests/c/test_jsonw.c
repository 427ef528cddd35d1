// Unit tests for the JSON writer (base/jsonw.c): escaping (control characters, quotes, backslash;
// UTF-8 passes through), commas and nesting, numbers, line breaks, misuse, and both outputs.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/jsonw.h"

// one_string returns the document made of the single string |s| (the caller frees it).
static char *one_string(const char *s) {
  struct mh_jsonw w;
  mh_jsonw_init(&w);
  mh_jsonw_string(&w, s);
  assert_int_equal(mh_jsonw_finish(&w), 0);
  char *out = strdup(w.buf);
  mh_jsonw_cleanup(&w);
  return out;
}

static void expect_json(const char *in, const char *want) {
  char *got = one_string(in);
  assert_string_equal(got, want);
  free(got);
}

static void test_escapes_quotes_and_backslash(void **state) {
  (void)state;
  expect_json("say \"hi\"", "\"say \\\"hi\\\"\"");
  expect_json("C:\\dir\\", "\"C:\\\\dir\\\\\"");
  expect_json("", "\"\"");
  expect_json(NULL, "\"\"");
}

static void test_escapes_every_control_character(void **state) {
  (void)state;
  expect_json("a\nb\tc\rd", "\"a\\u000ab\\u0009c\\u000dd\"");
  expect_json("\x01\x1f", "\"\\u0001\\u001f\"");
  for (int ch = 1; ch < 0x20; ch++) {
    char in[2] = {(char)ch, 0}, want[16];
    snprintf(want, sizeof(want), "\"\\u%04x\"", ch);
    expect_json(in, want);
  }
  expect_json("\x7f", "\"\x7f\"");  // DEL is not a control character for JSON
}

static void test_utf8_passes_through(void **state) {
  (void)state;
  expect_json("Zürich ✓ 𝄞", "\"Zürich ✓ 𝄞\"");
  expect_json("/path/with/slash", "\"/path/with/slash\"");  // '/' needs no escape
}

// A peer's bytes that are not UTF-8 (an HTTP reason of Latin-1, a cut sequence, an overlong form)
// become the text "\xNN", so report.json stays UTF-8 that a JSON reader accepts; C1 controls
// are escaped as \u0080..\u009f; well-formed sequences of 2, 3 and 4 bytes stay as they are.
static void test_bytes_outside_utf8_are_shown_not_passed(void **state) {
  (void)state;
  expect_json("Verboten \xe4", "\"Verboten \\\\xe4\"");      // Latin-1 a-umlaut
  expect_json("cut \xe2\x82", "\"cut \\\\xe2\\\\x82\"");     // a 3-byte sequence cut short
  expect_json("\xc0\xaf", "\"\\\\xc0\\\\xaf\"");             // overlong '/'
  expect_json("\xed\xa0\x80", "\"\\\\xed\\\\xa0\\\\x80\"");  // a surrogate
  expect_json("\xff\"", "\"\\\\xff\\\"\"");                  // then a quote
  expect_json(
      "a\xc2\x85"
      "b",
      "\"a\\u0085b\"");  // C1 NEL
  expect_json("\xc3\xa4\xe2\x82\xac\xf0\x9f\x94\x92", "\"\xc3\xa4\xe2\x82\xac\xf0\x9f\x94\x92\"");
}

static void test_objects_arrays_and_scalars(void **state) {
  (void)state;
  struct mh_jsonw w;
  mh_jsonw_init(&w);
  mh_jsonw_object_begin(&w);
  mh_jsonw_key(&w, "s");
  mh_jsonw_string(&w, "v");
  mh_jsonw_key(&w, "i");
  mh_jsonw_int(&w, -42);
  mh_jsonw_key(&w, "u");
  mh_jsonw_uint(&w, 18446744073709551615ULL);
  mh_jsonw_key(&w, "d");
  mh_jsonw_double(&w, 1.23456, 3);
  mh_jsonw_key(&w, "nan");
  mh_jsonw_double(&w, NAN, 1);
  mh_jsonw_key(&w, "inf");
  mh_jsonw_double(&w, INFINITY, 1);
  mh_jsonw_key(&w, "t");
  mh_jsonw_bool(&w, 1);
  mh_jsonw_key(&w, "f");
  mh_jsonw_bool(&w, 0);
  mh_jsonw_key(&w, "n");
  mh_jsonw_null(&w);
  mh_jsonw_key(&w, "sn");
  mh_jsonw_string_or_null(&w, NULL);
  mh_jsonw_key(&w, "a");
  mh_jsonw_array_begin(&w);
  mh_jsonw_int(&w, 1);
  mh_jsonw_array_begin(&w);
  mh_jsonw_array_end(&w);
  mh_jsonw_object_begin(&w);
  mh_jsonw_object_end(&w);
  mh_jsonw_array_end(&w);
  mh_jsonw_key(&w, "k\"ey");
  mh_jsonw_int(&w, 0);
  mh_jsonw_object_end(&w);
  assert_int_equal(mh_jsonw_finish(&w), 0);
  assert_string_equal(w.buf,
                      "{\"s\":\"v\",\"i\":-42,\"u\":18446744073709551615,\"d\":1.235,\"nan\":null,"
                      "\"inf\":null,\"t\":true,\"f\":false,\"n\":null,\"sn\":null,"
                      "\"a\":[1,[],{}],\"k\\\"ey\":0}");
  assert_int_equal(w.len, strlen(w.buf));
  mh_jsonw_cleanup(&w);
}

static void test_newlines_go_after_the_comma(void **state) {
  (void)state;
  struct mh_jsonw w;
  mh_jsonw_init(&w);
  mh_jsonw_array_begin(&w);
  for (int i = 0; i < 2; i++) {
    mh_jsonw_newline(&w);
    mh_jsonw_int(&w, i);
  }
  mh_jsonw_newline(&w);
  mh_jsonw_array_end(&w);
  mh_jsonw_newline(&w);
  assert_int_equal(mh_jsonw_finish(&w), 0);
  assert_string_equal(w.buf, "[\n0,\n1\n]\n");
  mh_jsonw_cleanup(&w);
}

static void test_a_websocket_envelope_with_a_raw_payload(void **state) {
  (void)state;
  struct mh_jsonw w;
  mh_jsonw_init(&w);
  mh_jsonw_object_begin(&w);
  mh_jsonw_key(&w, "type");
  mh_jsonw_string(&w, "data");
  mh_jsonw_key(&w, "id");
  mh_jsonw_string(&w, "loc-\"a\"-1");
  mh_jsonw_key(&w, "timestamp");
  mh_jsonw_int(&w, 1700000000000LL);
  mh_jsonw_key(&w, "payload");
  mh_jsonw_raw(&w, "{\"seq\":1,\"origin\":\"a\"}");
  mh_jsonw_object_end(&w);
  assert_int_equal(mh_jsonw_finish(&w), 0);
  assert_string_equal(w.buf,
                      "{\"type\":\"data\",\"id\":\"loc-\\\"a\\\"-1\",\"timestamp\":1700000000000,"
                      "\"payload\":{\"seq\":1,\"origin\":\"a\"}}");
  mh_jsonw_cleanup(&w);
}

static void test_misuse_is_reported_not_written(void **state) {
  (void)state;
  struct mh_jsonw w;
  mh_jsonw_init(&w);  // a value where a key belongs
  mh_jsonw_object_begin(&w);
  mh_jsonw_int(&w, 1);
  mh_jsonw_object_end(&w);
  assert_int_equal(mh_jsonw_finish(&w), -1);
  mh_jsonw_cleanup(&w);

  mh_jsonw_init(&w);  // a container left open
  mh_jsonw_array_begin(&w);
  assert_int_equal(mh_jsonw_finish(&w), -1);
  mh_jsonw_cleanup(&w);

  mh_jsonw_init(&w);  // a key outside an object
  mh_jsonw_array_begin(&w);
  mh_jsonw_key(&w, "k");
  mh_jsonw_array_end(&w);
  assert_int_equal(mh_jsonw_finish(&w), -1);
  mh_jsonw_cleanup(&w);

  mh_jsonw_init(&w);  // nothing written
  assert_int_equal(mh_jsonw_finish(&w), -1);
  mh_jsonw_cleanup(&w);

  mh_jsonw_init(&w);  // nested deeper than the writer allows
  for (int i = 0; i <= MH_JSONW_MAX_DEPTH; i++) {
    mh_jsonw_array_begin(&w);
  }
  assert_int_equal(mh_jsonw_finish(&w), -1);
  mh_jsonw_cleanup(&w);
}

static void test_writes_to_a_file(void **state) {
  (void)state;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  struct mh_jsonw w;
  mh_jsonw_init_file(&w, f);
  mh_jsonw_object_begin(&w);
  mh_jsonw_key(&w, "x");
  mh_jsonw_string(&w, "tab\there");
  mh_jsonw_object_end(&w);
  mh_jsonw_newline(&w);
  assert_int_equal(mh_jsonw_finish(&w), 0);
  assert_null(w.buf);  // nothing buffered: it went to the file
  mh_jsonw_cleanup(&w);
  fclose(f);
  assert_string_equal(buf, "{\"x\":\"tab\\u0009here\"}\n");
  free(buf);
}

static void test_a_long_string_grows_the_buffer(void **state) {
  (void)state;
  size_t n = 100000;
  char *in = malloc(n + 1);
  assert_non_null(in);
  memset(in, 'a', n);
  in[n] = '\0';
  in[n / 2] = '\n';
  char *got = one_string(in);
  assert_int_equal(strlen(got), n + 2 + 5);  // quotes, and "\n" became 6 bytes
  assert_non_null(strstr(got, "a\\u000aa"));
  free(got);
  free(in);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_escapes_quotes_and_backslash),
      cmocka_unit_test(test_escapes_every_control_character),
      cmocka_unit_test(test_bytes_outside_utf8_are_shown_not_passed),
      cmocka_unit_test(test_utf8_passes_through),
      cmocka_unit_test(test_objects_arrays_and_scalars),
      cmocka_unit_test(test_newlines_go_after_the_comma),
      cmocka_unit_test(test_a_websocket_envelope_with_a_raw_payload),
      cmocka_unit_test(test_misuse_is_reported_not_written),
      cmocka_unit_test(test_writes_to_a_file),
      cmocka_unit_test(test_a_long_string_grows_the_buffer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
