/* test_text: UTF-8 validation and cutting, and terminal escaping of untrusted text (fs_text). */
#include <check.h>
#include <string.h>

#include "fs_test.h"
#include "fs_text.h"

START_TEST(utf8_prefix_accepts_well_formed_text_and_stops_at_the_first_bad_byte)
{
    const char *ok = "a\xC3\xBC\xE2\x82\xAC\xF0\x9F\x98\x80"; /* a ü € 😀 */
    ck_assert_uint_eq(fs_text_utf8_prefix(ok, strlen(ok)), strlen(ok));
    struct {
        const char *s;
        size_t at;
    } bad[] = {
        {"ab\x80", 2},           /* lone continuation byte */
        {"a\xC3", 1},            /* truncated */
        {"\xC0\xAF", 0},         /* overlong '/' */
        {"\xE0\x80\xAF", 0},     /* overlong, three bytes */
        {"x\xED\xA0\x80", 1},    /* UTF-16 surrogate */
        {"\xF4\x90\x80\x80", 0}, /* above U+10FFFF */
        {"\xFF", 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_uint_eq(fs_text_utf8_prefix(bad[i].s, strlen(bad[i].s)), bad[i].at);
}
END_TEST

START_TEST(utf8_cut_never_splits_a_character)
{
    const char *s = "ab\xC3\xBC\xE2\x82\xAC"; /* a b ü € : 7 bytes */
    ck_assert_uint_eq(fs_text_utf8_cut(s, 100), 7);
    ck_assert_uint_eq(fs_text_utf8_cut(s, 7), 7);
    ck_assert_uint_eq(fs_text_utf8_cut(s, 6), 4); /* inside € */
    ck_assert_uint_eq(fs_text_utf8_cut(s, 5), 4);
    ck_assert_uint_eq(fs_text_utf8_cut(s, 4), 4);
    ck_assert_uint_eq(fs_text_utf8_cut(s, 3), 2); /* inside ü */
    ck_assert_uint_eq(fs_text_utf8_cut(s, 0), 0);
}
END_TEST

START_TEST(term_returns_clean_text_itself_and_escapes_controls)
{
    char buf[128];
    const char *clean = "Z\xC3\xBCrich \"quoted\" $(x) `y` <b>";
    ck_assert_ptr_eq(fs_text_term(clean, buf, sizeof buf), clean);
    ck_assert_str_eq(fs_text_term("red\x1b[31mX\x1b[0m", buf, sizeof buf), "red\\x1b[31mX\\x1b[0m");
    ck_assert_str_eq(fs_text_term("a\rb\nc\td\x7f", buf, sizeof buf), "a\\x0db\\x0ac\\x09d\\x7f");
    /* U+009B (8-bit CSI) as UTF-8, and a raw 0x9b byte that is not UTF-8 */
    ck_assert_str_eq(fs_text_term("x\xC2\x9B"
                                  "1m\x9b",
                                  buf, sizeof buf),
                     "x\\xc2\\x9b1m\\x9b");
    ck_assert_str_eq(fs_text_term("\xC2\xA0ok", buf, sizeof buf), "\xC2\xA0ok"); /* NBSP kept */
}
END_TEST

START_TEST(term_cuts_with_an_ellipsis_when_the_buffer_is_small)
{
    char buf[12];
    ck_assert_str_eq(fs_text_term("\x1b\x1b\x1b\x1b", buf, sizeof buf), "\\x1b\\x1b...");
    ck_assert_str_eq(fs_text_term("\x1b"
                                  "abcdefghij",
                                  buf, sizeof buf),
                     "\\x1babcd...");
    ck_assert_uint_le(strlen(buf), sizeof buf - 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("text");
    TCase *tc = tcase_create("text");
    tcase_add_test(tc, utf8_prefix_accepts_well_formed_text_and_stops_at_the_first_bad_byte);
    tcase_add_test(tc, utf8_cut_never_splits_a_character);
    tcase_add_test(tc, term_returns_clean_text_itself_and_escapes_controls);
    tcase_add_test(tc, term_cuts_with_an_ellipsis_when_the_buffer_is_small);
    suite_add_tcase(s, tc);
    return fs_test_run(s);
}
