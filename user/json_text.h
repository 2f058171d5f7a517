/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * JSON text read without a parse: escape sequences decoded, and the
 * string and number tokens of a text already known to be JSON. Masking's
 * fast path reads a message's bytes as they came, and must see what the
 * parse will see.
 */
#ifndef MW_JSON_TEXT_H
#define MW_JSON_TEXT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct mw_buf;

#define MW_JSON_UNESCAPE_FAILED ((size_t)-1)

/*
 * Writes s[0..len) to out (at least len bytes) with every escape sequence
 * decoded (\uXXXX and surrogate pairs as UTF-8). The result is never
 * longer than s. Returns its length, or MW_JSON_UNESCAPE_FAILED for a
 * malformed escape (jansson refuses those too; \u0000 it reads only with
 * JSON_ALLOW_NUL, and here it is a NUL byte).
 */
size_t mw_json_unescape(char *out, const char *s, size_t len);

/*
 * The same for free text that quotes JSON (a parse error names the bytes
 * near it): valid escapes decoded, an unpaired surrogate (which
 * JSON.parse reads) written '?', other malformed escapes kept as they are,
 * and a decoded control character written '?' (the text goes to logs).
 * Never longer than s; returns the length.
 */
size_t mw_json_unescape_lenient(char *out, const char *s, size_t len);

/*
 * The one escape sequence at s (s[0] is the backslash, n bytes left)
 * decoded to out (4 bytes at most, *olen of them): how many input bytes
 * it took, or 0 when it is malformed (jansson's rules: a surrogate only
 * as a high and low pair).
 */
size_t mw_json_unescape_one(const char *s, size_t n, char *out, size_t *olen);

/*
 * The first byte at or after i that a JSON string cannot hold as it is
 * ('"', '\\' or a control character), or with non_ascii any byte past
 * 0x7f as well (a parse must check its UTF-8); n when there is none. 16
 * bytes at a time: strings are most of a large message.
 */
size_t mw_json_string_stop(const char *s, size_t i, size_t n, bool non_ascii);

struct mw_json_token {
	size_t start, end; /* a string's content (no quotes), or a number */
	bool is_string;
	bool has_escape; /* a string with a backslash in it */
};

/*
 * The next string or number token of JSON text s at or after *at (which
 * must not be inside a token); *at moves past it. False at the end, or
 * when the text ends inside a string.
 */
bool mw_json_next_token(const char *s, size_t len, size_t *at,
			struct mw_json_token *tok);

/*
 * Appends j as compact JSON text, as json_dumps(j, JSON_COMPACT |
 * JSON_ENCODE_ANY) writes it (members in their order, non-ASCII as it
 * is), at memory speed: masking re-serialises every message it changed.
 * 0, or -1 (out of memory, or nested deeper than jansson parses).
 */
int mw_json_write(struct mw_buf *out, const json_t *j);

/*
 * Member names compared as servers that match them to fields without case
 * read them: Go's encoding/json (mcp-go, the Go SDK) folds ASCII letters,
 * and any other letter r to ToUpper(ToLower(r)) (Go 1.21; earlier, case
 * orbits alike), so U+017F (long s) is 's', U+212A (Kelvin sign) 'k',
 * U+0130 and U+0131 'i', and "CAF\u00c9" is "caf\u00e9"; .NET's binding
 * without case folds alike. A strcmp-like order of a (alen bytes) and b
 * (blen), a NUL inside a name being part of it; it reads no further than
 * the first difference.
 */
int mw_json_key_fold_cmpn(const char *a, size_t alen, const char *b,
			  size_t blen);

/*
 * An object's names folded once, each to the characters
 * mw_json_key_fold_cmpn reads (written as UTF-8 writes code points, past
 * U+10FFFF too, so that memcmp orders folded names as that comparison
 * does), and sorted by them: names that fold alike are neighbours, and a
 * name's variants are found by bisection. Folding a character costs a
 * locale lookup past ASCII: comparing names as they are, in a sort, paid
 * it at every comparison (seconds for a body of names sharing a long
 * prefix of accented letters).
 */
struct mw_json_names {
	struct mw_json_name {
		const char *s; /* the name, in the object */
		size_t len;
		size_t folded, folded_len; /* its folded bytes in folded[] */
	} * v;
	size_t n;
	unsigned char *folded;
};
/* 0, or -1 out of memory (out is then empty). */
int mw_json_names_sorted(const json_t *obj, struct mw_json_names *out);
void mw_json_names_free(struct mw_json_names *ns);
/* Whether names i and j of ns fold alike. */
bool mw_json_names_fold_alike(const struct mw_json_names *ns, size_t i,
			      size_t j);

/*
 * Objects' sorted names kept (mw_json_names_sorted), for one that looks
 * many names up in the same objects (a policy's argument conditions, each
 * a scan of the whole object otherwise). Valid while the objects are
 * neither changed nor freed. Zeroed to start, mw_json_fold_cache_free
 * after.
 */
#define MW_JSON_FOLD_CACHED 8
struct mw_json_fold_cache {
	struct mw_json_folded {
		const json_t *obj;
		struct mw_json_names names;
	} e[MW_JSON_FOLD_CACHED];
	unsigned next; /* the entry replaced next */
};
void mw_json_fold_cache_free(struct mw_json_fold_cache *c);

/*
 * A member of object obj whose name folds to key's (len bytes) without
 * being spelled so, or NULL: when key itself is absent, such a server
 * reads that member as key. cache may be NULL (each call then reads
 * every name).
 */
const char *mw_json_key_variant(const json_t *obj, const char *key, size_t len,
				struct mw_json_fold_cache *cache);

#endif
