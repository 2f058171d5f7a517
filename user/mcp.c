// SPDX-License-Identifier: BSD-2-Clause
#include "mcp.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#define BASE64_OPEN "=?base64?"
#define BASE64_CLOSE "?="

bool mw_mcp_batch_allowed(const char *version)
{
	return !version || !strcmp(version, "2025-03-26");
}

static bool is_base64_char(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= '0' && ch <= '9') || ch == '+' || ch == '/';
}

/*
 * Decodes standard base64 with padding into out (NUL-terminated); -1 for
 * anything else. EVP_DecodeBlock skips surrounding blanks and pads the
 * output with zero bytes, so the shape is checked here first.
 */
static int base64_decode(const char *in, size_t n, char *out, size_t outlen,
			 size_t *decoded)
{
	size_t pad = 0;
	int len;

	if (n == 0 || n % 4 || n / 4 * 3 + 1 > outlen)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)in[i];

		if (ch == '=' && i >= n - 2) {
			pad++;
			continue;
		}
		if (pad || !is_base64_char(ch))
			return -1;
	}
	len = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)in,
			      (int)n);
	if (len < 0 || (size_t)len < pad)
		return -1;
	*decoded = (size_t)len - pad;
	out[*decoded] = '\0';
	return 0;
}

/* The header's value as the peer means it: raw, or the base64 sentinel. */
static int header_value(const char *raw, char *out, size_t outlen, size_t *len)
{
	size_t n = strlen(raw), open = strlen(BASE64_OPEN),
	       close = strlen(BASE64_CLOSE);

	if (n >= outlen)
		return -1;
	if (n >= open + close && !strncmp(raw, BASE64_OPEN, open) &&
	    !strcmp(raw + n - close, BASE64_CLOSE))
		return base64_decode(raw + open, n - open - close, out, outlen,
				     len);
	memcpy(out, raw, n + 1);
	*len = n;
	return 0;
}

int mw_mcp_check_mirrored_headers(const char *mcp_method, const char *mcp_name,
				  const struct mw_rpc_batch *b, char *why,
				  size_t whylen)
{
	char value[MW_MCP_MAX_HEADER_VALUE];
	const struct mw_rpc_msg *m;
	size_t len;

	if (!mcp_method && !mcp_name)
		return 0;
	m = b->n == 1 && !b->is_batch ? &b->msgs[0] : NULL;
	if (!m || !m->method) {
		snprintf(why, whylen,
			 "Mcp-Method/Mcp-Name sent with a body that is not "
			 "one request or notification");
		return -1;
	}
	if (mcp_method && strcmp(mcp_method, m->method)) {
		snprintf(why, whylen,
			 "Mcp-Method header does not match the body's method");
		return -1;
	}
	if (!mcp_name)
		return 0;
	if (header_value(mcp_name, value, sizeof(value), &len)) {
		snprintf(why, whylen, "Mcp-Name header is malformed");
		return -1;
	}
	/* A NUL inside the decoded value cannot equal a JSON string here:
	 * the JSON-RPC parser refuses NUL in strings. */
	if (!m->name || strlen(m->name) != len || memcmp(m->name, value, len)) {
		snprintf(why, whylen,
			 "Mcp-Name header does not match the body's %s",
			 m->name ? "name" : "message, which names nothing");
		return -1;
	}
	return 0;
}

bool mw_mcp_method_known(const char *method)
{
	static const char *const methods[] = {
		"initialize",
		"ping",
		"tools/list",
		"tools/call",
		"prompts/list",
		"prompts/get",
		"resources/list",
		"resources/templates/list",
		"resources/read",
		"resources/subscribe",
		"resources/unsubscribe",
		"logging/setLevel",
		"completion/complete",
		"sampling/createMessage",
		"elicitation/create",
		"roots/list",
		"tasks/get",
		"tasks/result",
		"tasks/list",
		"tasks/cancel",
		"notifications/initialized",
		"notifications/cancelled",
		"notifications/progress",
		"notifications/message",
		"notifications/resources/updated",
		"notifications/resources/list_changed",
		"notifications/tools/list_changed",
		"notifications/prompts/list_changed",
		"notifications/roots/list_changed",
		"notifications/tasks/status",
		"notifications/elicitation/complete",
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (!strcmp(method, methods[i]))
			return true;
	return false;
}
