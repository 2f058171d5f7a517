// SPDX-License-Identifier: BSD-2-Clause
#include "chain.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "digest.h"

const char *const mw_chain_field_names[MW_CF_N] = {
	[MW_CF_HOST] = "host",
	[MW_CF_SEQ] = "seq",
	[MW_CF_TS_US] = "ts_us",
	[MW_CF_KIND] = "kind",
	[MW_CF_CONN_ID] = "conn_id",
	[MW_CF_SERVER] = "server",
	[MW_CF_SESSION_ID] = "session_id",
	[MW_CF_DIRECTION] = "direction",
	[MW_CF_RPC_ID] = "rpc_id",
	[MW_CF_METHOD] = "method",
	[MW_CF_TOOL] = "tool",
	[MW_CF_PARAMS] = "params",
	[MW_CF_RESULT] = "result",
	[MW_CF_ERROR] = "error",
	[MW_CF_REQUEST_SEQ] = "request_seq",
	[MW_CF_LATENCY_US] = "latency_us",
	[MW_CF_DECISION] = "decision",
	[MW_CF_RULE] = "rule",
	[MW_CF_HTTP_METHOD] = "http_method",
	[MW_CF_HTTP_PATH] = "http_path",
	[MW_CF_HTTP_STATUS] = "http_status",
	[MW_CF_DETAIL] = "detail",
	[MW_CF_PID] = "pid",
	[MW_CF_TGID] = "tgid",
	[MW_CF_UID] = "uid",
	[MW_CF_GID] = "gid",
	[MW_CF_USER_NAME] = "user_name",
	[MW_CF_COMM] = "comm",
	[MW_CF_EXE] = "exe",
	[MW_CF_CGROUP_ID] = "cgroup_id",
	[MW_CF_CGROUP] = "cgroup",
	[MW_CF_CLIENT_ADDR] = "client_addr",
	[MW_CF_SERVER_ADDR] = "server_addr",
	[MW_CF_POLICY_SHA256] = "policy_sha256",
	[MW_CF_PREV_HASH] = "prev_hash",
	[MW_CF_MASKED] = "masked",
};

#define NULL_MARK 0xffffffffu

/*
 * The encoding goes to SHA-256 through a buffer: an update per few fields
 * rather than two per field (for an event of short fields the EVP layer's
 * cost per call was most of the hash's). Values that do not fit go on
 * their own.
 */
struct hash_feed {
	EVP_MD_CTX *ctx;
	size_t used;
	unsigned char buf[2048];
};

static bool feed_flush(struct hash_feed *h)
{
	bool ok = !h->used || EVP_DigestUpdate(h->ctx, h->buf, h->used);

	h->used = 0;
	return ok;
}

static bool feed(struct hash_feed *h, const void *p, size_t n)
{
	if (n > sizeof(h->buf) / 2)
		return feed_flush(h) && EVP_DigestUpdate(h->ctx, p, n);
	if (n > sizeof(h->buf) - h->used && !feed_flush(h))
		return false;
	memcpy(h->buf + h->used, p, n);
	h->used += n;
	return true;
}

int mw_chain_hash(const struct mw_chain_value v[MW_CF_N],
		  char out[MW_CHAIN_HASH_HEX])
{
	static const char hex[] = "0123456789abcdef";
	struct hash_feed h = { .ctx = EVP_MD_CTX_new() };
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int rc = -1;

	out[0] = '\0';
	if (!h.ctx || !EVP_DigestInit_ex(h.ctx, mw_sha256_md(), NULL) ||
	    !feed(&h, "MWEV1", 5))
		goto out;
	for (int i = 0; i < MW_CF_N; i++) {
		uint32_t n = NULL_MARK;
		unsigned char len[4];

		if (i >= MW_CF_FIRST_OPTIONAL && !v[i].s)
			continue;
		if (v[i].s) {
			if (v[i].n >= NULL_MARK)
				goto out;
			n = (uint32_t)v[i].n;
		}
		len[0] = (unsigned char)(n >> 24);
		len[1] = (unsigned char)(n >> 16);
		len[2] = (unsigned char)(n >> 8);
		len[3] = (unsigned char)n;
		if (!feed(&h, len, 4) ||
		    (v[i].s && v[i].n && !feed(&h, v[i].s, v[i].n)))
			goto out;
	}
	if (!feed_flush(&h) || !EVP_DigestFinal_ex(h.ctx, md, &mdlen) ||
	    mdlen != 32)
		goto out;
	for (unsigned int i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	rc = 0;
out:
	EVP_MD_CTX_free(h.ctx);
	return rc;
}

/*
 * Without a branch per byte: random hex digits make branches mispredict,
 * and the verifier checks two hashes a row.
 */
bool mw_chain_is_hash(const char *s, size_t n)
{
	static const unsigned char hex[256] = {
		['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1,
		['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
		['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1,
		['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	};
	unsigned char all = 1;

	if (!s || n != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		all &= hex[(unsigned char)s[i]];
	return all;
}

bool mw_chain_value_i64(const struct mw_chain_value *v, int64_t *out)
{
	const char *s = v->s;
	size_t n = v->n;
	bool neg = false;
	uint64_t x = 0, lim;

	if (!s || !n)
		return false;
	if (*s == '-') {
		neg = true;
		s++;
		n--;
	}
	if (!n || n > 19 || (s[0] == '0' && (n > 1 || neg)))
		return false;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (x > (lim - (uint64_t)(s[i] - '0')) / 10)
			return false;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*out = neg ? (int64_t)(0 - x) : (int64_t)x;
	return true;
}

bool mw_chain_value_seq(const struct mw_chain_value *v, uint64_t *out)
{
	int64_t x;

	if (!mw_chain_value_i64(v, &x) || x < 1)
		return false;
	*out = (uint64_t)x;
	return true;
}

bool mw_chain_value_is(const struct mw_chain_value *v, const char *s)
{
	size_t n = strlen(s);

	return v->s && v->n == n && !memcmp(v->s, s, n);
}

int mw_chain_checkpoint_message(char *out, size_t outlen, const char *host,
				uint64_t seq, const char *hash)
{
	int n = snprintf(
		out, outlen,
		"mcpwarden checkpoint v1\nhost=%s\nseq=%llu\nhash=%s\n", host,
		(unsigned long long)seq, hash);

	return n < 0 || (size_t)n >= outlen ? -1 : n;
}
