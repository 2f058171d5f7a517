/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * MCP rules above JSON-RPC that decide whether a request can be judged at
 * all. Where the same fact travels twice (an HTTP header mirroring the
 * body, Streamable HTTP 2026-07-28), a server or an intermediary could act
 * on the copy we did not judge: the two must agree, or the request is
 * refused. A JSON-RPC batch is a batch only in the protocol version that
 * has them.
 */
#ifndef MW_MCP_H
#define MW_MCP_H

#include <stdbool.h>
#include <stddef.h>

#include "jsonrpc.h"

/* The JSON-RPC error of a header that disagrees with the body (HTTP 400). */
#define MW_MCP_HEADER_MISMATCH (-32020)
/* Header values we compare, decoded; longer ones are refused. */
#define MW_MCP_MAX_HEADER_VALUE 4096

/*
 * Batches came with 2025-03-26 and went with 2025-06-18. version is the
 * request's MCP-Protocol-Version header, NULL when absent: the transport
 * then says to assume 2025-03-26.
 */
bool mw_mcp_batch_allowed(const char *version);

/*
 * Checks Mcp-Method and Mcp-Name (NULL when absent) against the message
 * they mirror: a single request or notification. Mcp-Name may be given as
 * "=?base64?...?=" (UTF-8 names). 0 when they agree or are absent, -1 with
 * the reason in why.
 */
int mw_mcp_check_mirrored_headers(const char *mcp_method, const char *mcp_name,
				  const struct mw_rpc_batch *b, char *why,
				  size_t whylen);

/*
 * Whether method is one the MCP specification defines (2024-11-05 to
 * 2025-11-25), spelled exactly: the trail records those as they are, and
 * masks any other by its rules (a peer chooses it, and may put a value in
 * it).
 */
bool mw_mcp_method_known(const char *method);

#endif
