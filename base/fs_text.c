/* fs_text: UTF-8 validation and terminal escaping (contract in fs_text.h). */
#include "fs_text.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Bytes of the well-formed UTF-8 character at s[0 .. n), or 0 when there is none (Unicode
 * Table 3-7: the second byte's range depends on the first). */
static size_t utf8_char(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) { /* E0: no overlongs; ED: no surrogates */
        len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) { /* F0: no overlongs; F4: nothing past U+10FFFF */
        len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
        if (s[k] < 0x80 || s[k] > 0xBF) return 0;
    return len;
}

size_t fs_text_utf8_prefix(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_char(u + i, n - i);
        if (!k) break;
        i += k;
    }
    return i;
}

size_t fs_text_utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (max >= n) return n;
    /* back off continuation bytes, then drop the lead byte if its character does not fit */
    size_t m = max;
    while (m > 0 && ((unsigned char)s[m] & 0xC0) == 0x80)
        m--;
    return m;
}

/* Bytes of the printable character at s (1 .. 4), or 0 when s[0] must be escaped. */
static size_t term_char(const unsigned char *s, size_t n)
{
    if (s[0] < 0x20 || s[0] == 0x7F) return 0;
    size_t k = utf8_char(s, n);
    if (k == 2 && s[0] == 0xC2 && s[1] < 0xA0) return 0; /* C1 control, e.g. U+009B (CSI) */
    return k;
}

const char *fs_text_term(const char *s, char *buf, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s);
    bool clean = true;
    for (size_t i = 0; i < len && clean;) {
        size_t k = term_char(u + i, len - i);
        clean = k > 0;
        i += k;
    }
    if (clean) return s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t k = term_char(u + i, len - i), w = k ? k : 4;
        if (o + w + 4 > n) { /* room for this piece, "..." and the NUL */
            memcpy(buf + o, "...", 4);
            return buf;
        }
        if (k)
            memcpy(buf + o, s + i, k);
        else
            snprintf(buf + o, 5, "\\x%02x", u[i]);
        o += w, i += k ? k : 1;
    }
    buf[o] = 0;
    return buf;
}
