/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * HTTP/1.1 framing over http-parser: incremental, one instance per
 * direction of a connection. Heads are collected whole (bounded), bodies
 * are delivered de-chunked as they arrive, so the proxy decides what to
 * buffer and re-frames what it forwards.
 */
#ifndef MW_HTTP_H
#define MW_HTTP_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MW_HTTP_MAX_HEADERS 128
/*
 * The options a Connection header may list, in bytes: every header is
 * looked up in the list to drop the hop-by-hop ones it names, so a list
 * as long as the head (64 KiB) cost 18 ms a head of the one loop. Lists
 * in use ("keep-alive", "Upgrade, HTTP2-Settings") take tens of bytes.
 */
#define MW_HTTP_MAX_CONNECTION 1024

enum mw_http_kind { MW_HTTP_REQUEST, MW_HTTP_RESPONSE };

struct mw_http_header {
	const char *name;
	const char *value;
};

struct mw_http_head {
	char method[24]; /* requests */
	const char *url; /* requests: origin-form target */
	int status; /* responses */
	unsigned short major, minor;
	size_t nheaders;
	struct mw_http_header *headers; /* nheaders of them */
	bool keep_alive; /* the sender allows another message */
	bool chunked;
	int64_t content_length; /* -1 when absent */
	bool expect_continue;
	bool upgrade;
};

struct mw_http_cb {
	/* 0 to go on, 1 (responses) for a message without body (HEAD), <0 stop */
	int (*on_head)(void *arg, struct mw_http_head *head);
	int (*on_body)(void *arg, const char *data, size_t len);
	int (*on_complete)(void *arg);
};

struct mw_http {
	http_parser parser;
	http_parser_settings settings;
	enum mw_http_kind kind;
	const struct mw_http_cb *cb;
	void *arg;
	size_t max_head;
	size_t head_bytes;
	bool in_message;
	bool in_head;
	bool closed; /* a request asked to close: the rest is ignored */
	/* head strings, NUL-separated; offsets until the head is complete */
	char *strbuf;
	size_t strlen, strcap;
	size_t url_off;
	/*
	 * The head's fields, grown to what a head has used (most use a
	 * few): an idle connection holds two parsers, and a fixed array
	 * of MW_HTTP_MAX_HEADERS was most of its memory.
	 */
	struct mw_http_field_off {
		uint32_t name, value; /* in strbuf; value UINT32_MAX: none */
	} * fields;
	struct mw_http_header *headers; /* head.headers */
	size_t fields_cap, headers_cap;
	size_t nheaders;
	int last; /* 0 none, 1 url, 2 field, 3 value */
	struct mw_http_head head;
	char err[160];
};

void mw_http_init(struct mw_http *h, enum mw_http_kind kind, size_t max_head,
		  const struct mw_http_cb *cb, void *arg);
void mw_http_free(struct mw_http *h);
/* Memory held for the head being parsed. */
static inline size_t mw_http_held(const struct mw_http *h)
{
	return h->strcap + h->fields_cap * sizeof(*h->fields) +
	       h->headers_cap * sizeof(*h->headers);
}
/* Bytes consumed, or -1 with mw_http_error() set. */
ssize_t mw_http_feed(struct mw_http *h, const char *data, size_t len);
/* The peer closed: 0 when that ended a message cleanly or none was open. */
int mw_http_eof(struct mw_http *h);
bool mw_http_in_message(const struct mw_http *h);
const char *mw_http_error(const struct mw_http *h);

/* Case-insensitive look-up; NULL when absent. */
const char *mw_http_header(const struct mw_http_head *head, const char *name);
/* How many times the header appears. */
size_t mw_http_header_count(const struct mw_http_head *head, const char *name);
/* Whether a comma-separated header value (Connection) holds token. */
bool mw_http_token_in_list(const char *list, const char *token);
/* Hop-by-hop headers (RFC 9110 7.6.1) that a proxy must not forward. */
bool mw_http_is_hop_by_hop(const char *name);
/* Every byte of s is visible ASCII (VCHAR, 0x21 to 0x7E). */
bool mw_http_visible_ascii(const char *s);
const char *mw_http_reason(int status);

#endif
