/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Strict JSON-RPC 2.0 parsing for MCP traffic.
 *
 * What the policy engine judges must be what the peer acts on, so anything a
 * peer could read differently from us is refused rather than interpreted:
 * duplicate keys, NUL in strings, trailing bytes, mixed message shapes,
 * members JSON-RPC does not define (the MCP SDK refuses them too), members
 * named __proto__ at any depth (JavaScript reads them as prototypes).
 */
#ifndef MW_JSONRPC_H
#define MW_JSONRPC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define MW_RPC_MAX_BATCH 1024
#define MW_RPC_MAX_DEPTH 64

/* Standard JSON-RPC error codes, for mw_rpc_error_body(). */
#define MW_RPC_PARSE_ERROR (-32700)
#define MW_RPC_INVALID_REQUEST (-32600)
#define MW_RPC_METHOD_NOT_FOUND (-32601)
#define MW_RPC_INVALID_PARAMS (-32602)
#define MW_RPC_INTERNAL_ERROR (-32603)

enum mw_rpc_kind {
	MW_RPC_REQUEST,
	MW_RPC_NOTIFICATION,
	MW_RPC_RESULT,
	MW_RPC_ERROR,
};

struct mw_rpc_msg {
	enum mw_rpc_kind kind;
	json_t *json; /* owned reference to this message object */
	/* Canonical JSON text of the id ("7", "\"abc\""), equal for equal
	 * ids however they were escaped; NULL for notifications. */
	char *id;
	const char *method; /* requests and notifications, else NULL */
	/* params.name when method is "tools/call", else NULL. */
	const char *tool;
	/* What the request names, as Mcp-Name mirrors it: params.name of
	 * tools/call and prompts/get, params.uri of resources/read,
	 * resources/subscribe and resources/unsubscribe; else NULL. */
	const char *name;
	/* Borrowed from json; NULL when absent. arguments is params.arguments
	 * of tools/call, always an object when present. */
	json_t *params, *result, *error, *arguments;
};

struct mw_rpc_batch {
	struct mw_rpc_msg *msgs;
	size_t n;
	bool is_batch; /* the input was an array, even of one message */
};

/*
 * Parses one JSON-RPC message or batch from buf[0..len). Inputs longer than
 * max_len are refused before parsing. A batch is accepted only if every
 * element is valid. On failure *out is empty (safe to free), err holds a
 * reason, and the return value says what to answer:
 *   -EMSGSIZE  too large (len > max_len, or more than MW_RPC_MAX_BATCH);
 *   -EBADMSG   not one well-formed JSON value (MW_RPC_PARSE_ERROR);
 *   -EPROTO    valid JSON but not a valid message (MW_RPC_INVALID_REQUEST);
 *   -ENOMEM, or -EINVAL for a NULL buf with a non-zero len.
 */
int mw_rpc_parse(const char *buf, size_t len, size_t max_len,
		 struct mw_rpc_batch *out, char *err, size_t errlen);
void mw_rpc_batch_free(struct mw_rpc_batch *b);

/* Same id, by canonical text; a missing id equals nothing. */
bool mw_rpc_id_equal(const char *a, const char *b);

/*
 * An error response for id_json (a canonical id from mw_rpc_msg.id; NULL
 * gives "id":null), as compact JSON text to free(). NULL when id_json is not
 * a string or integer id, message is not valid UTF-8, or memory runs out.
 */
char *mw_rpc_error_body(const char *id_json, int code, const char *message);

const char *mw_rpc_kind_name(enum mw_rpc_kind kind);

/*
 * True when buf cannot be a JSON-RPC message at all: after whitespace it
 * does not open an object or an array ("Accepted", an HTML page). What
 * could be one must parse, or be refused.
 */
bool mw_rpc_looks_like_no_json(const char *buf, size_t len);

/*
 * True when no reader could take buf for a JSON-RPC message: it looks
 * like no JSON, or it is JSON (duplicates refused) whose object, or each
 * object of whose array, has no member named like a JSON-RPC member even
 * without case ({"ssn": "..."}). False for anything else that did not
 * parse as a message: it must be refused, not passed.
 */
bool mw_rpc_reads_as_no_message(const char *buf, size_t len);

#endif
