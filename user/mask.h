/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Masking of sensitive values in MCP messages (DESIGN.md, "Masking").
 *
 * Detectors find values (a card number, an SSN, a key, ...): the built-ins
 * of detect.h (scanners and validators: Luhn and issuer ranges, SSN areas,
 * IBAN mod-97, JWT headers, ...) and custom ones from the configuration (a
 * PCRE2 pattern, optionally Luhn or mod-97 over its letters and digits). Rules choose
 * detectors per server, tool and place (what the client receives; what the
 * audit trail records) and how a value is masked:
 *   full     [MASKED:card]
 *   partial  every letter and digit but the last four starred, the rest
 *            kept: ****-****-****-1111
 *   hash     [MASKED:card:<16 hex>], HMAC-SHA256 under the daemon's key
 *            (state_dir/masking.key) of the detector's name and the
 *            value's letters and digits, so the same value always gives
 *            the same token and auditors can join on it
 *
 * The fast path: the detectors run over a message's raw JSON text, and
 * stop at the first value (or a \u or \/ escape, which could spell one);
 * only a message with one has its string values walked and rewritten.
 *
 * Not thread-safe: one masker per thread (it owns its scratch space).
 */
#ifndef MW_MASK_H
#define MW_MASK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect.h"

#define MW_MASK_MAX_DETECTORS 64 /* built-in and custom, a 64-bit set */
#define MW_MASK_MAX_RULES 256
#define MW_MASK_NAME_MAX 32
#define MW_MASK_PATTERN_MAX 1024
#define MW_MASK_KEY_BYTES 32
#define MW_MASK_KEY_FILE "masking.key"
/* A string value longer than this is masked whole: fail closed. */
#define MW_MASK_MAX_STRING (16u << 20)

enum mw_mask_style {
	MW_MASK_FULL,
	MW_MASK_PARTIAL,
	MW_MASK_HASH,
};

enum mw_mask_validator {
	MW_MASK_VALIDATE_NONE,
	MW_MASK_VALIDATE_LUHN,
	MW_MASK_VALIDATE_MOD97,
};

/* Where a rule applies. */
#define MW_MASK_TO_CLIENT \
	1u /* server messages on their way to the client
				(and so, as sent, in the trail) */
#define MW_MASK_IN_AUDIT 2u /* the recorded copy: arguments and results */
/* With a place, for a plan: the message's server or tool is not known (a
 * response no request is known for, a free-text detail): every rule that
 * names one applies. */
#define MW_MASK_ANY_TOOL 4u

struct mw_glob;

struct mw_mask_custom {
	char name[MW_MASK_NAME_MAX];
	char pattern[MW_MASK_PATTERN_MAX];
	enum mw_mask_validator validator;
	bool icase;
};

struct mw_mask_rule {
	char name[64];
	char server_text[256]; /* the globs as written, ", "-joined */
	char tool_text[256];
	struct mw_glob **servers; /* NULL: every server */
	size_t nservers;
	struct mw_glob **tools; /* NULL: every tool, and messages of none */
	size_t ntools;
	unsigned apply; /* MW_MASK_TO_CLIENT | MW_MASK_IN_AUDIT */
	uint64_t detectors;
	enum mw_mask_style style;
	bool binary; /* base64 content (images, blobs) too */
};

/* What applies to one message: detectors and the style of each. */
struct mw_mask_plan {
	uint64_t detectors;
	uint8_t style[MW_MASK_MAX_DETECTORS];
	bool binary;
};

/* Values masked, per detector. */
struct mw_mask_counts {
	uint32_t n[MW_MASK_MAX_DETECTORS];
	uint32_t total;
};

struct mw_mask_span {
	size_t start, end; /* [start, end) in the scanned text */
	unsigned detector;
};

struct mw_masker;

/* The name of built-in detector i (< MW_DET_N_BUILTIN). */
const char *mw_mask_builtin_name(unsigned i);

/*
 * Compiles the built-ins and the custom detectors (which take the bits
 * after the built-ins, in order) and keeps the rules (taking over their
 * globs: the caller's array is emptied). 0, or -1 with a reason.
 */
int mw_masker_new(struct mw_masker **out, const struct mw_mask_custom *custom,
		  size_t ncustom, struct mw_mask_rule *rules, size_t nrules,
		  char *err, size_t errlen);
void mw_masker_free(struct mw_masker *m);
/* Frees what a rule owns (its globs), for a caller that keeps it. */
void mw_mask_rule_clear(struct mw_mask_rule *r);

/* The key for the hash style; without one, hash masks as full. */
void mw_masker_set_key(struct mw_masker *m,
		       const uint8_t key[MW_MASK_KEY_BYTES]);
/*
 * A token for the whole of s under the key: HMAC-SHA-256 over a context
 * label and the bytes as they are (no detector's normalising), its first
 * MW_MASK_TOKEN_BYTES as hex: the same s gives the same token, two give
 * two. 0, or -1 without a key.
 */
#define MW_MASK_TOKEN_BYTES 16
int mw_masker_token(const struct mw_masker *m, const char *label, const char *s,
		    size_t n, char out[2 * MW_MASK_TOKEN_BYTES + 1]);
/*
 * Loads state_dir/masking.key, creating it (32 random bytes, mode 0600)
 * when absent. 0, or -1 with a reason (a short or foreign file is refused).
 */
int mw_mask_key_load(const char *state_dir, uint8_t key[MW_MASK_KEY_BYTES],
		     char *err, size_t errlen);

/* A detector's bit by name ("card", or a custom name); -1 if unknown. */
int mw_masker_detector(const struct mw_masker *m, const char *name);
const char *mw_masker_detector_name(const struct mw_masker *m, unsigned i);
unsigned mw_masker_n_detectors(const struct mw_masker *m);
size_t mw_masker_n_rules(const struct mw_masker *m);

/*
 * The plan for a message of server (and tool, NULL for none) at one place
 * (MW_MASK_TO_CLIENT or MW_MASK_IN_AUDIT, with MW_MASK_ANY_TOOL when the
 * tool is not known): for each detector, the first rule in file order
 * that names it sets its style. False when nothing applies.
 */
bool mw_masker_plan(const struct mw_masker *m, const char *server,
		    const char *tool, unsigned place,
		    struct mw_mask_plan *plan);

/*
 * The fast path: false when the raw message cannot hold a value of the
 * detectors in set, so it needs no masking; true when it may (a candidate,
 * or a JSON escape that could hide one: \u and \/).
 */
bool mw_mask_candidates(struct mw_masker *m, uint64_t set, const char *raw,
			size_t len);
/* Every detector some rule names: the fast path before any plan. */
uint64_t mw_masker_used(const struct mw_masker *m);

/*
 * Finds the values of the detectors in set in text, in order, without
 * overlaps. Returns how many (at most max are written), or -1 on a
 * Vectorscan failure.
 */
long mw_mask_find(struct mw_masker *m, uint64_t set, const char *text,
		  size_t len, struct mw_mask_span *spans, size_t max);
/*
 * The same, as masking replaces them: overlapping values as one span, in
 * the first one's detector, running to the last one's end.
 */
long mw_mask_spans(struct mw_masker *m, uint64_t set, const char *text,
		   size_t len, struct mw_mask_span *spans, size_t max);

/*
 * Masks text by the plan: *out (malloc'd, NUL-terminated, *outlen bytes)
 * when something was masked, else NULL. Returns the values masked, or -1
 * (out of memory, scan failure: the caller must not pass text on).
 */
long mw_mask_text(struct mw_masker *m, const struct mw_mask_plan *plan,
		  const char *text, size_t len, char **out, size_t *outlen,
		  struct mw_mask_counts *counts);

/*
 * Whether masking with done left nothing for want to do: every detector of
 * want is in done with the same style, and binary content is masked by
 * done if want masks it.
 */
bool mw_mask_plan_covers(const struct mw_mask_plan *done,
			 const struct mw_mask_plan *want);

/*
 * Masks the JSON value *j (a reference the caller owns) in place: every
 * string value and object key, and integers that a detector recognises
 * (replaced by a string; *j itself when it is one, its reference then
 * dropped and *j the string's); base64 binary content (the "blob" of a
 * resource, the "data" of image and audio content) only when the plan
 * says binary. Returns the values masked, or -1 (the value may then be
 * half masked: do not pass it on).
 */
long mw_mask_json(struct mw_masker *m, const struct mw_mask_plan *plan,
		  json_t **j, struct mw_mask_counts *counts);

/* {"card": 2, "ssn": 1}: what was masked, never the values; NULL: none. */
json_t *mw_mask_counts_json(const struct mw_masker *m,
			    const struct mw_mask_counts *c);

/* The configuration as evidence: detectors, rules (never the key). */
json_t *mw_masker_describe(const struct mw_masker *m);

#endif
