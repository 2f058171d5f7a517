/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The daemon's JSON parser: the language and the tree of jansson's
 * json_loadb, at memory speed. Every message is parsed before it is
 * judged, and jansson reads a byte at a time through a stream (about
 * 90 MB/s on a long string): a 1 MiB tool result cost more to parse than
 * to mask. This one scans strings 16 bytes at a time and builds the same
 * json_t values with jansson's own constructors.
 *
 * What it accepts and refuses is jansson 2.14's, byte for byte (the
 * differential fuzz target fuzz_json_parse holds it to that): RFC 8259
 * JSON in UTF-8 (no overlong forms, no encoded surrogates, nothing past
 * U+10FFFF), escapes with surrogates only in pairs, no raw control
 * character in a string, integers that fit json_int_t (else an error, as
 * is a real that overflows), values nested at most 2048 deep, nothing
 * after the value but whitespace, and never a NUL in a key. One
 * difference is meant: jansson's look-ahead loses a NUL byte that follows
 * a number or a literal, so it reads [1\0] as [1]; here a NUL byte
 * outside a string is always refused. The flags are
 * jansson's, of which three are understood (any other is refused):
 *
 *   JSON_REJECT_DUPLICATES  an object with a key twice is an error
 *                           (without it the last value wins, in the
 *                           first one's place, as in jansson)
 *   JSON_DECODE_ANY         any value at the top, not only { or [
 *   JSON_ALLOW_NUL          \u0000 in a string value
 *
 * The error (err may be NULL) holds a reason and the byte offset where
 * it was found (position; line and column as well); the reasons are
 * jansson's words where jansson has them.
 */
#ifndef MW_JSON_PARSE_H
#define MW_JSON_PARSE_H

#include <jansson.h>
#include <stddef.h>

json_t *mw_json_loadb(const char *s, size_t len, size_t flags,
		      json_error_t *err);

#endif
