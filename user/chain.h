/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The audit hash chain: the canonical encoding of an event and its hash.
 *
 * One module computes it, for the writer (at submit) and for the verifier
 * (from rows read back), so that both agree by construction. The encoding,
 * version 1, documented for auditors in README.md ("Audit trail format"):
 *
 *   SHA-256( "MWEV1" || field_0 || field_1 || ... || field_{N-1} )
 *
 * over the fields of enum mw_chain_field in that order, each one either
 * 0xFFFFFFFF (SQL NULL) or its length as a 32-bit big-endian integer
 * followed by its bytes: exactly the text stored in the column (numbers in
 * decimal, ts as microseconds since the Unix epoch, JSON as the stored
 * json text, prev_hash as 64 lowercase hex digits; the first event of a
 * host's chain has 64 zeros). The hash is stored as 64 lowercase hex.
 *
 * Fields after prev_hash were added later: each is encoded only when it
 * is not NULL, so that an event recorded before it existed keeps its hash.
 */
#ifndef MW_CHAIN_H
#define MW_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Column order of mcpwarden.events, of COPY, of the hash. Append only. */
enum mw_chain_field {
	MW_CF_HOST,
	MW_CF_SEQ,
	MW_CF_TS_US,
	MW_CF_KIND,
	MW_CF_CONN_ID,
	MW_CF_SERVER,
	MW_CF_SESSION_ID,
	MW_CF_DIRECTION,
	MW_CF_RPC_ID,
	MW_CF_METHOD,
	MW_CF_TOOL,
	MW_CF_PARAMS,
	MW_CF_RESULT,
	MW_CF_ERROR,
	MW_CF_REQUEST_SEQ,
	MW_CF_LATENCY_US,
	MW_CF_DECISION,
	MW_CF_RULE,
	MW_CF_HTTP_METHOD,
	MW_CF_HTTP_PATH,
	MW_CF_HTTP_STATUS,
	MW_CF_DETAIL,
	MW_CF_PID,
	MW_CF_TGID,
	MW_CF_UID,
	MW_CF_GID,
	MW_CF_USER_NAME,
	MW_CF_COMM,
	MW_CF_EXE,
	MW_CF_CGROUP_ID,
	MW_CF_CGROUP,
	MW_CF_CLIENT_ADDR,
	MW_CF_SERVER_ADDR,
	MW_CF_POLICY_SHA256,
	MW_CF_PREV_HASH,
	/* optional from here: encoded only when not NULL */
	MW_CF_MASKED, /* {"detector": count}: what masking replaced */
	MW_CF_N
};

#define MW_CF_FIRST_OPTIONAL MW_CF_MASKED
#define MW_CHAIN_HASH_HEX 65 /* 64 hex digits and NUL */
#define MW_CHAIN_GENESIS \
	"0000000000000000000000000000000000000000000000000000000000000000"

/* One field's value; s == NULL is SQL NULL. */
struct mw_chain_value {
	const char *s;
	size_t n;
};

/* The column names, in enum order (for SQL and for messages). */
extern const char *const mw_chain_field_names[MW_CF_N];

/*
 * The hash of one event: v[MW_CF_N] in enum order. Writes 64 lowercase hex
 * digits and a NUL to out. Returns 0, or -1 when a field is longer than
 * the encoding allows (4 GiB - 2) or the digest failed.
 */
int mw_chain_hash(const struct mw_chain_value v[MW_CF_N],
		  char out[MW_CHAIN_HASH_HEX]);

/* True when s is 64 lowercase hex digits. */
bool mw_chain_is_hash(const char *s, size_t n);

/*
 * A column's integer, only in the canonical decimal form PostgreSQL prints
 * for a bigint (no sign but '-', no leading zero, no spaces): a stored
 * value in any other spelling is not the one that was hashed.
 */
bool mw_chain_value_i64(const struct mw_chain_value *v, int64_t *out);
/* The same, and at least 1: a chain's seq. */
bool mw_chain_value_seq(const struct mw_chain_value *v, uint64_t *out);
/* True when v is not NULL and its text is exactly s. */
bool mw_chain_value_is(const struct mw_chain_value *v, const char *s);

/*
 * What a checkpoint signs, written to out (NUL-terminated):
 *   "mcpwarden checkpoint v1\nhost=<host>\nseq=<seq>\nhash=<hash>\n"
 * Returns the length, or -1 when it does not fit.
 */
int mw_chain_checkpoint_message(char *out, size_t outlen, const char *host,
				uint64_t seq, const char *hash);

#endif
