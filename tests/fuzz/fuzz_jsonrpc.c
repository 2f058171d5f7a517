// SPDX-License-Identifier: BSD-2-Clause
/*
 * Whatever mw_rpc_parse accepts must be self-consistent, survive a round trip
 * through jansson's serialiser unchanged in meaning, and yield an error body
 * that parses back to the same id. Mcp-Method and Mcp-Name headers that
 * mirror a request (its name raw, or in the base64 sentinel form) must be
 * accepted; any header value, checked against any batch, must not crash.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "jsonrpc.h"
#include "mcp.h"

#define FUZZ_MAX_LEN (1 << 20)

static void fuzz_check_msg(const struct mw_rpc_msg *m)
{
	switch (m->kind) {
	case MW_RPC_REQUEST:
		if (!m->id || !m->method || m->result || m->error)
			abort();
		break;
	case MW_RPC_NOTIFICATION:
		if (m->id || !m->method || m->result || m->error)
			abort();
		break;
	case MW_RPC_RESULT:
		if (!m->id || m->method || !m->result || m->error || m->params)
			abort();
		break;
	case MW_RPC_ERROR:
		if (!m->id || m->method || m->result || !m->error || m->params)
			abort();
		break;
	default:
		abort();
	}
	if (m->params && !json_is_object(m->params) &&
	    !json_is_array(m->params))
		abort();
	if (m->method && strcmp(m->method, "tools/call") == 0 && !m->tool)
		abort();
	if (m->arguments && !json_is_object(m->arguments))
		abort();
	if (!json_is_object(m->json))
		abort();
}

static void fuzz_roundtrip(const struct mw_rpc_msg *m)
{
	struct mw_rpc_batch again;
	char err[128];
	char *text, *body;

	text = json_dumps(m->json, JSON_COMPACT);
	if (!text)
		abort();
	if (mw_rpc_parse(text, strlen(text), FUZZ_MAX_LEN, &again, err,
			 sizeof(err)))
		abort();
	if (again.n != 1 || again.is_batch || again.msgs[0].kind != m->kind)
		abort();
	if (!!m->id != !!again.msgs[0].id ||
	    (m->id && !mw_rpc_id_equal(m->id, again.msgs[0].id)))
		abort();
	if (!!m->tool != !!again.msgs[0].tool ||
	    (m->tool && strcmp(m->tool, again.msgs[0].tool)))
		abort();
	mw_rpc_batch_free(&again);
	free(text);

	if (!m->id)
		return;
	body = mw_rpc_error_body(m->id, MW_RPC_INVALID_REQUEST, "refused");
	if (!body)
		abort();
	if (mw_rpc_parse(body, strlen(body), FUZZ_MAX_LEN, &again, err,
			 sizeof(err)))
		abort();
	if (again.msgs[0].kind != MW_RPC_ERROR ||
	    !mw_rpc_id_equal(m->id, again.msgs[0].id))
		abort();
	mw_rpc_batch_free(&again);
	free(body);
}

#define FUZZ_B64_OPEN "=?base64?"
#define FUZZ_B64_CLOSE "?="

/* A value wearing both markers is read as base64 (clients must encode a
 * name that looks like that). */
static bool fuzz_wears_sentinel(const char *s, size_t n)
{
	size_t open = strlen(FUZZ_B64_OPEN), close = strlen(FUZZ_B64_CLOSE);

	return n >= open + close && !strncmp(s, FUZZ_B64_OPEN, open) &&
	       !strcmp(s + n - close, FUZZ_B64_CLOSE);
}

/* Headers that mirror a single message's method and name must pass. */
static void fuzz_mirrored_headers(const struct mw_rpc_batch *b)
{
	static char enc[MW_MCP_MAX_HEADER_VALUE + 16];
	const struct mw_rpc_msg *m = &b->msgs[0];
	size_t n, open = strlen(FUZZ_B64_OPEN), close = strlen(FUZZ_B64_CLOSE);
	char why[256];
	int len;

	if (b->is_batch || b->n != 1 || !m->method || !m->name)
		return;
	if (mw_mcp_check_mirrored_headers(m->method, NULL, b, why, sizeof(why)))
		abort();
	n = strlen(m->name);
	if (n < MW_MCP_MAX_HEADER_VALUE && !fuzz_wears_sentinel(m->name, n) &&
	    mw_mcp_check_mirrored_headers(m->method, m->name, b, why,
					  sizeof(why)))
		abort();
	/* An empty payload is refused as malformed: names are not empty. */
	if (!n || open + (n + 2) / 3 * 4 + close >= MW_MCP_MAX_HEADER_VALUE)
		return;
	memcpy(enc, FUZZ_B64_OPEN, open);
	len = EVP_EncodeBlock((unsigned char *)enc + open,
			      (const unsigned char *)m->name, (int)n);
	if (len != (int)((n + 2) / 3 * 4))
		abort();
	memcpy(enc + open + (size_t)len, FUZZ_B64_CLOSE, close + 1);
	if (mw_mcp_check_mirrored_headers(NULL, enc, b, why, sizeof(why)) ||
	    mw_mcp_check_mirrored_headers(m->method, enc, b, why, sizeof(why)))
		abort();
}

/* Any value as Mcp-Name: no crash, and agreement only with a name. */
static void fuzz_header_value(const struct mw_rpc_batch *b, const uint8_t *data,
			      size_t size)
{
	static char value[MW_MCP_MAX_HEADER_VALUE + 1];
	size_t n =
		size < MW_MCP_MAX_HEADER_VALUE ? size : MW_MCP_MAX_HEADER_VALUE;
	const struct mw_rpc_msg *m = b->n ? &b->msgs[0] : NULL;
	char why[256];

	memcpy(value, data, n);
	value[n] = '\0';
	n = strlen(value);
	for (int with_method = 0; with_method < 2; with_method++) {
		const char *method = with_method && m ? m->method : NULL;

		why[0] = '\0';
		if (mw_mcp_check_mirrored_headers(method, value, b, why,
						  sizeof(why))) {
			if (!why[0])
				abort();
			continue;
		}
		if (b->is_batch || b->n != 1 || !m->method || !m->name)
			abort();
		if (!fuzz_wears_sentinel(value, n) && strcmp(value, m->name))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mw_rpc_batch b;
	char err[128];
	char *copy;
	size_t i;
	int ret;

	ret = mw_rpc_parse((const char *)data, size, FUZZ_MAX_LEN, &b, err,
			   sizeof(err));
	if (ret) {
		if (ret != -EBADMSG && ret != -EPROTO && ret != -EMSGSIZE)
			abort();
		if (b.msgs || b.n || !err[0])
			abort();
	} else {
		if (!b.n || b.n > MW_RPC_MAX_BATCH || (!b.is_batch && b.n != 1))
			abort();
		for (i = 0; i < b.n; i++) {
			fuzz_check_msg(&b.msgs[i]);
			fuzz_roundtrip(&b.msgs[i]);
		}
		fuzz_mirrored_headers(&b);
	}
	fuzz_header_value(&b, data, size);
	mw_rpc_batch_free(&b);

	/* The error body builder also takes text from elsewhere. */
	copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	free(mw_rpc_error_body(copy, -1, copy));
	free(copy);
	return 0;
}
