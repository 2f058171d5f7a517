/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * UTF-8 as the daemon reads it from peers: strictly (what jansson and
 * RFC 3629 accept), and the code points that must not reach a terminal or
 * a log reader as they are.
 */
#ifndef MW_UTF8_H
#define MW_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The well-formed UTF-8 sequence at s (len > 0 bytes left): its length
 * (1..4) and code point; 0 when s does not start one (a stray
 * continuation byte, an overlong form, a surrogate, past U+10FFFF, cut
 * short).
 */
size_t mw_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

/* Whether s[0..len) is well-formed UTF-8 throughout. */
bool mw_utf8_valid(const char *s, size_t len);

/*
 * Code points a terminal acts on or that hide or reorder what is shown:
 * C1 controls (U+009B is CSI on some terminals), zero-width and bidi
 * marks and overrides, line and paragraph separators, the BOM,
 * interlinear annotation, tags. Text from a peer shows them escaped.
 */
bool mw_utf8_shown_escaped(uint32_t cp);

#endif
