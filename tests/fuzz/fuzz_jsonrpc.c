// SPDX-License-Identifier: BSD-2-Clause
/*
 * Whatever mw_rpc_parse accepts must be self-consistent, survive a round trip
 * through jansson's serialiser unchanged in meaning, and yield an error body
 * that parses back to the same id.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"

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
	}
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
