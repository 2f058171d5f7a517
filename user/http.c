// SPDX-License-Identifier: BSD-2-Clause
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct mw_http *from_parser(http_parser *p)
{
	return p->data;
}

static int set_err(struct mw_http *h, const char *msg)
{
	snprintf(h->err, sizeof(h->err), "%s", msg);
	return -1;
}

/* A callback that failed may have said why; keep its words. */
static int keep_err(struct mw_http *h, const char *fallback)
{
	if (!h->err[0])
		set_err(h, fallback);
	return -1;
}

/* Appends a piece of the current string; pieces of one token are joined. */
static int append(struct mw_http *h, const char *at, size_t len, bool fresh)
{
	size_t need;

	h->head_bytes += len;
	if (h->head_bytes > h->max_head)
		return set_err(h, h->kind == MW_HTTP_REQUEST
					  ? "request head too large"
					  : "response head too large");
	need = h->strlen + len + 2;
	if (need > h->strcap) {
		size_t cap = h->strcap ? h->strcap : 1024;
		char *n;

		while (cap < need)
			cap *= 2;
		n = realloc(h->strbuf, cap);
		if (!n)
			return set_err(h, "out of memory");
		h->strbuf = n;
		h->strcap = cap;
	}
	if (fresh && h->strlen)
		h->strbuf[h->strlen++] = '\0';
	memcpy(h->strbuf + h->strlen, at, len);
	h->strlen += len;
	h->strbuf[h->strlen] = '\0';
	return 0;
}

static int on_message_begin(http_parser *p)
{
	struct mw_http *h = from_parser(p);

	h->in_message = true;
	h->in_head = true;
	h->head_bytes = 0;
	h->strlen = 0;
	h->nheaders = 0;
	h->last = 0;
	h->url_off = 0;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct mw_http *h = from_parser(p);
	bool fresh = h->last != 1;

	if (fresh)
		h->url_off = h->strlen ? h->strlen + 1 : 0;
	h->last = 1;
	return append(h, at, len, fresh);
}

/*
 * Trailer fields arrive after the head was handed out: storing them could
 * move the strings it points to. The proxy re-frames bodies and sends no
 * trailers, so they are counted against the head bound and dropped.
 */
static int count_trailer(struct mw_http *h, size_t len)
{
	h->head_bytes += len;
	if (h->head_bytes > h->max_head)
		return set_err(h, h->kind == MW_HTTP_REQUEST
					  ? "request head too large"
					  : "response head too large");
	return 0;
}

/*
 * One more slot in an array of at most MW_HTTP_MAX_HEADERS: 8, then
 * doubling. Offsets fit 32 bits: a head is bounded far below (max_head).
 */
static int grow_array(void **arr, size_t *cap, size_t size)
{
	size_t n = *cap ? *cap * 2 : 8;
	void *p;

	if (n > MW_HTTP_MAX_HEADERS)
		n = MW_HTTP_MAX_HEADERS;
	p = realloc(*arr, n * size);
	if (!p)
		return -1;
	*arr = p;
	*cap = n;
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct mw_http *h = from_parser(p);
	bool fresh = h->last != 2;

	if (!h->in_head)
		return count_trailer(h, len);
	if (fresh) {
		if (h->nheaders == MW_HTTP_MAX_HEADERS)
			return set_err(h, "too many header fields");
		if (h->nheaders == h->fields_cap &&
		    grow_array((void **)&h->fields, &h->fields_cap,
			       sizeof(*h->fields)))
			return set_err(h, "out of memory");
		h->fields[h->nheaders].name =
			(uint32_t)(h->strlen ? h->strlen + 1 : 0);
		h->fields[h->nheaders].value = UINT32_MAX;
		h->nheaders++;
	}
	h->last = 2;
	return append(h, at, len, fresh);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct mw_http *h = from_parser(p);
	bool fresh = h->last != 3;

	if (!h->in_head)
		return count_trailer(h, len);
	if (fresh)
		h->fields[h->nheaders - 1].value = (uint32_t)(h->strlen + 1);
	h->last = 3;
	return append(h, at, len, fresh);
}

/*
 * Field names and list tokens are compared dozens of times per message,
 * and most differ in their first byte: that is compared inline first,
 * case folded as letters fold. It never refuses a pair strcasecmp would
 * take, and what it lets through gets the whole comparison.
 */
static bool same_first_byte(const char *a, const char *b)
{
	return !((a[0] ^ b[0]) & ~0x20);
}

static bool same_name(const char *a, const char *b)
{
	return same_first_byte(a, b) && !strcasecmp(a, b);
}

bool mw_http_token_in_list(const char *list, const char *token)
{
	size_t tl = strlen(token);

	for (const char *p = list; p && *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if ((!tl || same_first_byte(p, token)) &&
		    !strncasecmp(p, token, tl) &&
		    (p[tl] == '\0' || p[tl] == ',' || p[tl] == ' ' ||
		     p[tl] == '\t' || p[tl] == ';'))
			return true;
		while (*p && *p != ',')
			p++;
	}
	return false;
}

/*
 * Rejects what two parsers could read differently: a smuggled second body
 * length, duplicated framing headers, a target that is not origin-form.
 */
bool mw_http_visible_ascii(const char *s)
{
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return false;
	return true;
}

/* RFC 9110 5.6.2: a field name is a token. */
static bool is_token(const char *s)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr(extra, *s)))
			return false;
	return true;
}

/*
 * RFC 9110 5.5: a field value excludes the whitespace around it.
 * http-parser drops the leading whitespace only; a server that trims the
 * rest (Node does) would read another value than ours ("abc \t" against
 * "abc") for a session id, say.
 */
static const char *trim_ows(char *v)
{
	size_t n = strlen(v);

	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		v[--n] = '\0';
	return v;
}

static int check_head(struct mw_http *h)
{
	struct mw_http_head *hd = &h->head;
	int n_cl = 0, n_te = 0, n_host = 0;

	if (hd->major != 1 || hd->minor > 1)
		return set_err(h, "only HTTP/1.0 and HTTP/1.1 are spoken here");
	if (h->kind == MW_HTTP_RESPONSE &&
	    (hd->status < 100 || hd->status > 599))
		return set_err(h, "status code outside 100-599");
	for (size_t i = 0; i < hd->nheaders; i++) {
		const char *name = hd->headers[i].name;

		/* "Content-Length :" frames the body for http-parser but would
		 * pass our checks by another name (RFC 9112 5.1: reject). */
		if (!is_token(name))
			return set_err(h, "invalid header field name");

		if (same_name(name, "content-length"))
			n_cl++;
		else if (same_name(name, "transfer-encoding"))
			n_te++;
		else if (same_name(name, "host"))
			n_host++;
		else if (same_name(name, "connection") &&
			 strlen(hd->headers[i].value) > MW_HTTP_MAX_CONNECTION)
			return set_err(h, "Connection lists more than 1024 "
					  "bytes of options");
		if (!*name)
			return set_err(h, "empty header name");
	}
	if (n_cl > 1)
		return set_err(h, "more than one Content-Length");
	if (n_te > 1)
		return set_err(h, "more than one Transfer-Encoding");
	if (n_cl && n_te)
		return set_err(h, "both Content-Length and Transfer-Encoding");
	if (n_te) {
		const char *te = mw_http_header(hd, "transfer-encoding");

		if (strcasecmp(te, "chunked"))
			return set_err(h, "unsupported Transfer-Encoding");
	}
	if (h->kind == MW_HTTP_REQUEST) {
		/* HTTP/1.0 too: the request goes on as HTTP/1.1 */
		if (n_host != 1)
			return set_err(h, "a request needs exactly one Host");
		if (!hd->url || hd->url[0] != '/')
			return set_err(h, "request target must be a path");
		/* RFC 9112 3.2: no fragment in a request target; servers
		 * disagree on where the query ends when one is there */
		if (strchr(hd->url, '#'))
			return set_err(h, "request target holds a fragment");
		/* http-parser lets a tab, control bytes and bytes over 0x7f
		 * into the target; a server that splits the request line on
		 * any white space would read another target than the one
		 * judged (RFC 9112 3.2, RFC 3986: visible ASCII only) */
		if (!mw_http_visible_ascii(hd->url))
			return set_err(h, "request target holds a byte that "
					  "is not visible ASCII");
	}
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct mw_http *h = from_parser(p);
	struct mw_http_head *hd = &h->head;
	const char *v;
	int rc;

	memset(hd, 0, sizeof(*hd));
	while (h->headers_cap < h->nheaders)
		if (grow_array((void **)&h->headers, &h->headers_cap,
			       sizeof(*h->headers)))
			return set_err(h, "out of memory");
	hd->major = p->http_major;
	hd->minor = p->http_minor;
	hd->nheaders = h->nheaders;
	hd->headers = h->headers;
	for (size_t i = 0; i < h->nheaders; i++) {
		hd->headers[i].name = h->strbuf + h->fields[i].name;
		hd->headers[i].value =
			h->fields[i].value == UINT32_MAX
				? ""
				: trim_ows(h->strbuf + h->fields[i].value);
	}
	if (h->kind == MW_HTTP_REQUEST) {
		snprintf(hd->method, sizeof(hd->method), "%s",
			 http_method_str((enum http_method)p->method));
		hd->url = h->strbuf ? h->strbuf + h->url_off : NULL;
	} else {
		hd->status = p->status_code;
	}
	hd->keep_alive = http_should_keep_alive(p);
	hd->chunked = p->flags & F_CHUNKED;
	/* a length past INT64_MAX would read as negative: no length check,
	 * no reservation would see it */
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > INT64_MAX)
		return set_err(h, "Content-Length too large");
	hd->content_length =
		(p->flags & F_CONTENTLENGTH) ? (int64_t)p->content_length : -1;
	v = mw_http_header(hd, "expect");
	if (v && strcasecmp(v, "100-continue"))
		return set_err(h, "unsupported Expect");
	/* An HTTP/1.0 client's expectation is ignored (RFC 9110 §10.1.1):
	 * it may not read a 1xx as anything but the final answer (§15.2). */
	hd->expect_continue = v && hd->minor >= 1;
	v = mw_http_header(hd, "connection");
	hd->upgrade = p->upgrade || (v && mw_http_token_in_list(v, "upgrade"));
	if (check_head(h))
		return -1;
	/* Refused here, not after the feed: the outcome must not depend on
	 * how the bytes were sliced. */
	if (p->upgrade)
		return set_err(h, "protocol upgrade is not supported");
	h->in_head = false;
	rc = h->cb->on_head(h->arg, hd);
	if (rc < 0)
		return keep_err(h, "refused");
	/* No body, whatever Content-Length says (RFC 9110 6.4.1). */
	if (h->kind == MW_HTTP_RESPONSE &&
	    (hd->status < 200 || hd->status == 204 || hd->status == 304))
		return 1;
	return rc;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct mw_http *h = from_parser(p);

	if (h->cb->on_body(h->arg, at, len) < 0)
		return keep_err(h, "body refused");
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct mw_http *h = from_parser(p);
	bool last = h->kind == MW_HTTP_REQUEST && !h->head.keep_alive;

	h->in_message = false;
	if (h->cb->on_complete(h->arg) < 0)
		return keep_err(h, "message refused");
	/* Nothing after a request that asked to close is read as a request. */
	if (last) {
		h->closed = true;
		http_parser_pause(p, 1);
	}
	return 0;
}

void mw_http_init(struct mw_http *h, enum mw_http_kind kind, size_t max_head,
		  const struct mw_http_cb *cb, void *arg)
{
	memset(h, 0, sizeof(*h));
	http_parser_init(&h->parser, kind == MW_HTTP_REQUEST ? HTTP_REQUEST
							     : HTTP_RESPONSE);
	h->parser.data = h;
	http_parser_settings_init(&h->settings);
	h->settings.on_message_begin = on_message_begin;
	h->settings.on_url = on_url;
	h->settings.on_header_field = on_header_field;
	h->settings.on_header_value = on_header_value;
	h->settings.on_headers_complete = on_headers_complete;
	h->settings.on_body = on_body;
	h->settings.on_message_complete = on_message_complete;
	h->kind = kind;
	h->cb = cb;
	h->arg = arg;
	h->max_head = max_head;
}

void mw_http_free(struct mw_http *h)
{
	free(h->strbuf);
	free(h->fields);
	free(h->headers);
	h->strbuf = NULL;
	h->fields = NULL;
	h->headers = NULL;
	h->fields_cap = h->headers_cap = 0;
	h->head.headers = NULL;
	h->head.nheaders = 0;
}

ssize_t mw_http_feed(struct mw_http *h, const char *data, size_t len)
{
	size_t n;

	if (h->closed)
		return (ssize_t)len;
	if (HTTP_PARSER_ERRNO(&h->parser) != HPE_OK)
		return -1;
	if (len == 0) /* http-parser reads an empty slice as end of stream */
		return 0;
	h->err[0] = '\0';
	n = http_parser_execute(&h->parser, &h->settings, data, len);
	if (h->closed)
		return (ssize_t)len;
	if (HTTP_PARSER_ERRNO(&h->parser) == HPE_HEADER_OVERFLOW) {
		/* http-parser's own bound can trip before ours sees the bytes:
		 * one reason for one fault, whichever bound noticed first. */
		set_err(h, h->kind == MW_HTTP_REQUEST
				   ? "request head too large"
				   : "response head too large");
		return -1;
	}
	if (HTTP_PARSER_ERRNO(&h->parser) != HPE_OK) {
		if (!h->err[0])
			snprintf(h->err, sizeof(h->err), "%s",
				 http_errno_description(
					 HTTP_PARSER_ERRNO(&h->parser)));
		return -1;
	}
	return (ssize_t)n;
}

int mw_http_eof(struct mw_http *h)
{
	bool was_in = h->in_message;

	if (h->closed)
		return 0;
	if (HTTP_PARSER_ERRNO(&h->parser) != HPE_OK)
		return -1;
	http_parser_execute(&h->parser, &h->settings, NULL, 0);
	if (HTTP_PARSER_ERRNO(&h->parser) != HPE_OK) {
		if (!h->err[0])
			snprintf(h->err, sizeof(h->err), "%s",
				 http_errno_description(
					 HTTP_PARSER_ERRNO(&h->parser)));
		return -1;
	}
	if (was_in && h->in_message)
		return set_err(h, "connection closed inside a message");
	return 0;
}

bool mw_http_in_message(const struct mw_http *h)
{
	return h->in_message;
}

const char *mw_http_error(const struct mw_http *h)
{
	return h->err[0] ? h->err : "malformed HTTP";
}

const char *mw_http_header(const struct mw_http_head *head, const char *name)
{
	for (size_t i = 0; i < head->nheaders; i++)
		if (same_name(head->headers[i].name, name))
			return head->headers[i].value;
	return NULL;
}

size_t mw_http_header_count(const struct mw_http_head *head, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < head->nheaders; i++)
		n += same_name(head->headers[i].name, name);
	return n;
}

bool mw_http_is_hop_by_hop(const char *name)
{
	static const char *const hop[] = {
		"connection",
		"keep-alive",
		"proxy-connection",
		"transfer-encoding",
		"te",
		"trailer",
		"upgrade",
		"expect",
		"content-length",
		"proxy-authenticate",
		"proxy-authorization",
	};
	char first = (char)(name[0] | 0x20);

	/* Every hop-by-hop name starts with one of these: most headers are
	 * let through after one comparison. */
	if (!strchr("ckptue", first) || !first)
		return false;
	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (same_name(name, hop[i]))
			return true;
	return false;
}

const char *mw_http_reason(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 202:
		return "Accepted";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 408:
		return "Request Timeout";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 417:
		return "Expectation Failed";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return http_status_str((enum http_status)status);
	}
}
