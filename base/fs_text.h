/* fs_text: checks and escapes for untrusted text (CSV fields and headers, labels, scenario and
 * variant names, strings read back from a results database) before it is stored or printed.
 * One place decides what is valid UTF-8 and what reaches a terminal; nothing here allocates. */
#ifndef FS_TEXT_H
#define FS_TEXT_H

#include <stddef.h>

/* Length of the longest prefix of s[0 .. n) that is well-formed UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF); n when all of it is. */
size_t fs_text_utf8_prefix(const char *s, size_t n);

/* The largest m <= max such that s[0 .. m) does not end inside a UTF-8 sequence (s is a string
 * of strlen(s) bytes, max may exceed it). Cutting there keeps valid UTF-8 valid. */
size_t fs_text_utf8_cut(const char *s, size_t max);

/* s made safe to print on a terminal: s itself when it holds no control character; otherwise
 * buf (n >= 8 bytes) holding s with every C0 control (0x00-0x1f, tab included), DEL, C1 control
 * (U+0080-U+009F) and byte of invalid UTF-8 written as the four characters \xNN, cut at a
 * character boundary with "..." when buf is too small. ESC sequences thus print as text. */
const char *fs_text_term(const char *s, char *buf, size_t n);

#endif
