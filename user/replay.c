// SPDX-License-Identifier: BSD-2-Clause
/*
 * `mcpwarden replay`: a session's events as a timeline (see replay.h).
 *
 * Every string shown comes from the trail, and the trail holds what
 * clients and servers sent: a tool name, an argument, a result, a comm or
 * a session id can carry ESC sequences, newlines, C1 controls, bidi
 * overrides or bytes that are not UTF-8. All of it goes through
 * mw_replay_escape before it reaches the terminal, and the JSON lines are
 * written ASCII-only, so neither output can move the cursor, recolour,
 * retitle, or fake a line.
 */
#include "replay.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "utf8.h"

/* Requests remembered for pairing their responses (a ring). */
#define PAIR_MAX 4096
/* Bytes of a method or target kept for a response's label. */
#define NAME_KEEP 1024
/* Cuts, in code points, of the short fields of a text line. */
#define W_METHOD 48
#define W_TARGET 80
#define W_USER 32
#define W_COMM 32
#define W_CGROUP 120
#define W_DECISION 32
#define W_RULE 64
#define W_HTTP_METHOD 16
#define W_PATH 80
#define W_ID 40
/* Hosts followed (a session lives on one daemon's host). */
#define HOSTS_MAX 64
/* How far back before a session's first event its opening initialize is
 * looked for, in seqs of that host. */
#define HELLO_WINDOW "100000"

#define ELLIPSIS "\xe2\x80\xa6" /* U+2026 */
#define ARROW_C2S "\xe2\x86\x92" /* U+2192 */
#define ARROW_S2C "\xe2\x86\x90" /* U+2190 */
#define COLOR_REFUSED "\033[1;31m"
#define COLOR_WOULD "\033[33m"
#define COLOR_OFF "\033[0m"

struct pair {
	char *host;
	int64_t seq; /* -1: empty slot */
	char *method;
	char *target;
};

struct mw_replay {
	struct mw_replay_opts o;
	int64_t origin_us;
	bool has_origin;
	struct pair ring[PAIR_MAX];
	size_t next; /* slots used so far; the next one is next % PAIR_MAX */
};

void mw_replay_row_init(struct mw_replay_row *row)
{
	memset(row, 0, sizeof(*row));
	row->seq = -1;
	row->ts_us = 0;
	row->conn_id = -1;
	row->request_seq = -1;
	row->latency_ms = NAN;
	row->uid = -1;
	row->pid = -1;
}

int mw_replay_new(struct mw_replay **r, const struct mw_replay_opts *opts)
{
	struct mw_replay *n;

	*r = NULL;
	if (opts->width > MW_REPLAY_MAX_WIDTH)
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->o = *opts;
	for (size_t i = 0; i < PAIR_MAX; i++)
		n->ring[i].seq = -1;
	*r = n;
	return 0;
}

static void pair_clear(struct pair *p)
{
	free(p->host);
	free(p->method);
	free(p->target);
	memset(p, 0, sizeof(*p));
	p->seq = -1;
}

void mw_replay_free(struct mw_replay *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < PAIR_MAX; i++)
		pair_clear(&r->ring[i]);
	free(r);
}

void mw_replay_set_origin(struct mw_replay *r, int64_t ts_us)
{
	r->origin_us = ts_us;
	r->has_origin = true;
}

/* ---- escaping ---- */

/* The escape for code point c in mode; its length. */
static size_t escape_cp(char *esc, size_t len, uint32_t c,
			enum mw_replay_esc mode)
{
	int n;

	if (mode == MW_REPLAY_ESC_TEXT) {
		switch (c) {
		case '\\':
			return (size_t)snprintf(esc, len, "\\\\");
		case '\n':
			return (size_t)snprintf(esc, len, "\\n");
		case '\r':
			return (size_t)snprintf(esc, len, "\\r");
		case '\t':
			return (size_t)snprintf(esc, len, "\\t");
		}
		if (c < 0x80)
			n = snprintf(esc, len, "\\x%02" PRIx32, c);
		else if (c <= 0xffff)
			n = snprintf(esc, len, "\\u%04" PRIx32, c);
		else
			n = snprintf(esc, len, "\\U%08" PRIx32, c);
	} else if (c <= 0xffff) {
		n = snprintf(esc, len, "\\u%04" PRIx32, c);
	} else {
		/* JSON spells it as a surrogate pair */
		c -= 0x10000;
		n = snprintf(esc, len, "\\u%04" PRIx32 "\\u%04" PRIx32,
			     0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff));
	}
	return n > 0 ? (size_t)n : 0;
}

int mw_replay_escape(struct mw_buf *out, const char *s, size_t len,
		     unsigned width, bool more, enum mw_replay_esc mode)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t start = mw_buf_used(out), keep = start, used = 0, i = 0;
	char esc[32];

	while (i < len) {
		const char *unit = esc;
		size_t n, ulen, w;
		uint32_t c;

		n = mw_utf8_decode(p + i, len - i, &c);
		if (!n) {
			ulen = (size_t)snprintf(esc, sizeof(esc), "\\x%02x",
						p[i]);
			n = 1;
		} else if (c < 0x20 || c == 0x7f || mw_utf8_shown_escaped(c) ||
			   (c == '\\' && mode == MW_REPLAY_ESC_TEXT)) {
			ulen = escape_cp(esc, sizeof(esc), c, mode);
		} else {
			unit = s + i;
			ulen = n;
		}
		w = unit == esc ? ulen : 1;
		if (width && used + w > width)
			goto cut;
		if (mw_buf_append(out, unit, ulen))
			return -ENOMEM;
		used += w;
		i += n;
		if (width && used < width)
			keep = mw_buf_used(out);
	}
	if (!more)
		return 0;
	if (!width || used < width)
		return mw_buf_append(out, ELLIPSIS, strlen(ELLIPSIS)) ? -ENOMEM
								      : 1;
cut:
	/* the longest prefix that leaves room for the ellipsis */
	out->len = out->off + keep;
	return mw_buf_append(out, ELLIPSIS, strlen(ELLIPSIS)) ? -ENOMEM : 1;
}

static int esc_str(struct mw_buf *out, const char *s, unsigned width)
{
	return mw_replay_escape(out, s, strlen(s), width, false,
				MW_REPLAY_ESC_TEXT) < 0
		       ? -ENOMEM
		       : 0;
}

/* ---- summaries ---- */

/*
 * A summary is built from raw (unescaped) bytes, at most cap of them:
 * enough for width code points and one more, so that the escape knows to
 * cut; more says that bytes were left out.
 */
struct summary {
	struct mw_buf raw;
	size_t cap;
	bool more;
	bool nomem;
	enum mw_replay_esc mode;
};

static void sum_init(struct summary *s, unsigned width)
{
	memset(s, 0, sizeof(*s));
	s->cap = width ? 4 * ((size_t)width + 2) : SIZE_MAX;
	s->mode = MW_REPLAY_ESC_TEXT;
}

static int sum_put(struct summary *s, const char *p, size_t len)
{
	size_t room = s->cap - mw_buf_used(&s->raw);

	if (len > room) {
		len = room;
		s->more = true;
	}
	if (mw_buf_append(&s->raw, p, len)) {
		s->nomem = true;
		return -1;
	}
	return s->more ? -1 : 0; /* -1 stops a JSON dump early */
}

static void sum_str(struct summary *s, const char *p)
{
	sum_put(s, p, strlen(p));
}

static void sum_printf(struct summary *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sum_printf(struct summary *s, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		sum_put(s, tmp,
			(size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static int sum_dump_cb(const char *buf, size_t size, void *data)
{
	return sum_put(data, buf, size);
}

/* v as compact JSON; the summary reads as JSON. */
static void sum_json(struct summary *s, const json_t *v)
{
	s->mode = MW_REPLAY_ESC_JSON;
	json_dump_callback(v, sum_dump_cb, s, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* "12 tools", "1 tool". */
static void sum_count(struct summary *s, size_t n, const char *one,
		      const char *many)
{
	sum_printf(s, "%zu %s", n, n == 1 ? one : many);
}

static const char *jget_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* "name version, protocol P" from initialize's clientInfo/serverInfo. */
static bool sum_peer(struct summary *s, const json_t *o, const char *info)
{
	const json_t *i = json_object_get(o, info);
	const char *name = jget_str(i, "name"), *ver = jget_str(i, "version");
	const char *proto = jget_str(o, "protocolVersion");

	if (!name && !proto)
		return false;
	if (name)
		sum_str(s, name);
	if (name && ver) {
		sum_str(s, " ");
		sum_str(s, ver);
	}
	if (proto) {
		sum_str(s, name ? ", protocol " : "protocol ");
		sum_str(s, proto);
	}
	return true;
}

/* The member of params that names what the method acts on, if any. */
static const char *target_member(const char *method)
{
	static const struct {
		const char *method, *member;
	} t[] = {
		{ "prompts/get", "name" },
		{ "resources/read", "uri" },
		{ "resources/subscribe", "uri" },
		{ "resources/unsubscribe", "uri" },
	};

	for (size_t i = 0; method && i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(method, t[i].method))
			return t[i].member;
	return NULL;
}

static bool is_method(const char *method, const char *m)
{
	return method && !strcmp(method, m);
}

/* A request's or notification's arguments. */
static void sum_args(struct summary *s, const char *method, json_t *params)
{
	const char *member = target_member(method);
	json_t *rest;

	if (!params)
		return;
	if (is_method(method, "initialize") &&
	    sum_peer(s, params, "clientInfo"))
		return;
	if (is_method(method, "tools/call") ||
	    is_method(method, "prompts/get")) {
		if (json_object_get(params, "arguments"))
			sum_json(s, json_object_get(params, "arguments"));
		return;
	}
	/* what the label shows already is left out */
	if (member && json_is_string(json_object_get(params, member))) {
		rest = json_copy(params);
		if (!rest) {
			s->nomem = true;
			return;
		}
		json_object_del(rest, member);
		if (json_object_size(rest))
			sum_json(s, rest);
		json_decref(rest);
		return;
	}
	if (json_is_object(params) && !json_object_size(params))
		return;
	sum_json(s, params);
}

/* tools/call: the first text content, or what the content is. */
static void sum_tool_result(struct summary *s, json_t *result)
{
	json_t *content = json_object_get(result, "content"), *c;
	size_t i;

	if (json_is_true(json_object_get(result, "isError")))
		sum_str(s, "tool error: ");
	json_array_foreach (content, i, c) {
		const char *text = jget_str(c, "text");

		if (text && is_method(jget_str(c, "type"), "text")) {
			sum_str(s, text);
			return;
		}
	}
	if (json_array_size(content)) {
		const char *type = jget_str(json_array_get(content, 0), "type");

		sum_printf(s, "[%s]", type && strlen(type) < 32 ? type : "?");
		if (json_array_size(content) > 1)
			sum_printf(s, " +%zu more",
				   json_array_size(content) - 1);
		return;
	}
	if (json_object_get(result, "structuredContent")) {
		sum_json(s, json_object_get(result, "structuredContent"));
		return;
	}
	sum_str(s, "(no content)");
}

/* A result or an error, for the method of its request (NULL: unknown). */
static void sum_result(struct summary *s, const char *method, json_t *result,
		       json_t *error)
{
	static const struct {
		const char *method, *member, *one, *many;
	} lists[] = {
		{ "tools/list", "tools", "tool", "tools" },
		{ "prompts/list", "prompts", "prompt", "prompts" },
		{ "resources/list", "resources", "resource", "resources" },
		{ "resources/templates/list", "resourceTemplates",
		  "resource template", "resource templates" },
		{ "roots/list", "roots", "root", "roots" },
		{ "prompts/get", "messages", "message", "messages" },
	};
	json_t *v;

	if (error) {
		json_t *code = json_object_get(error, "code");
		const char *msg = jget_str(error, "message");

		if (!json_is_integer(code) || !msg) {
			sum_str(s, "error ");
			sum_json(s, error);
			return;
		}
		sum_printf(s, "error %" JSON_INTEGER_FORMAT ": ",
			   json_integer_value(code));
		sum_str(s, msg);
		return;
	}
	if (!result)
		return;
	/* unpaired: a result with content is a tool's */
	if (is_method(method, "tools/call") ||
	    (!method && json_is_array(json_object_get(result, "content")))) {
		sum_tool_result(s, result);
		return;
	}
	if (is_method(method, "initialize") &&
	    sum_peer(s, result, "serverInfo"))
		return;
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		v = json_object_get(result, lists[i].member);
		if (!is_method(method, lists[i].method) || !json_is_array(v))
			continue;
		sum_count(s, json_array_size(v), lists[i].one, lists[i].many);
		if (json_is_string(json_object_get(result, "nextCursor")))
			sum_str(s, ", more");
		return;
	}
	if (is_method(method, "resources/read") &&
	    json_is_array(v = json_object_get(result, "contents"))) {
		const char *uri = jget_str(json_array_get(v, 0), "uri");
		const char *mime = jget_str(json_array_get(v, 0), "mimeType");

		sum_count(s, json_array_size(v), "content", "contents");
		if (uri) {
			sum_str(s, ": ");
			sum_str(s, uri);
		}
		if (uri && mime) {
			sum_str(s, " (");
			sum_str(s, mime);
			sum_str(s, ")");
		}
		return;
	}
	if (is_method(method, "completion/complete") &&
	    json_is_array(
		    v = json_object_get(json_object_get(result, "completion"),
					"values"))) {
		sum_count(s, json_array_size(v), "value", "values");
		return;
	}
	if (is_method(method, "sampling/createMessage") &&
	    jget_str(json_object_get(result, "content"), "text")) {
		sum_str(s,
			jget_str(json_object_get(result, "content"), "text"));
		return;
	}
	if (is_method(method, "elicitation/create") &&
	    jget_str(result, "action")) {
		sum_str(s, "action ");
		sum_str(s, jget_str(result, "action"));
		return;
	}
	if (json_is_object(result) && !json_object_size(result)) {
		sum_str(s, "ok");
		return;
	}
	sum_json(s, result);
}

/* Escapes the summary into out, cut to the width. */
static int sum_emit(struct summary *s, struct mw_buf *out, unsigned width)
{
	int rc = 0;

	if (s->nomem)
		rc = -ENOMEM;
	else if (mw_buf_used(&s->raw) &&
		 mw_replay_escape(out, mw_buf_head(&s->raw),
				  mw_buf_used(&s->raw), width, s->more,
				  s->mode) < 0)
		rc = -ENOMEM;
	mw_buf_free(&s->raw);
	return rc;
}

/* ---- pairing ---- */

/* A copy of at most NAME_KEEP bytes of s, not cut inside a character. */
static char *keep_name(const char *s, bool *nomem)
{
	size_t n;
	char *c;

	if (!s)
		return NULL;
	n = strlen(s);
	if (n > NAME_KEEP) {
		n = NAME_KEEP;
		while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	c = strndup(s, n);
	if (!c)
		*nomem = true;
	return c;
}

static int pair_put(struct mw_replay *r, const struct mw_replay_row *row,
		    const char *target)
{
	struct pair *p = &r->ring[r->next % PAIR_MAX];
	bool nomem = false;

	pair_clear(p);
	p->host = keep_name(row->host, &nomem);
	p->method = keep_name(row->method, &nomem);
	p->target = keep_name(target, &nomem);
	if (nomem) {
		pair_clear(p);
		return -ENOMEM;
	}
	p->seq = row->seq;
	r->next++;
	return 0;
}

static bool same_host(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* The request a response answers, among the last PAIR_MAX requests. */
static const struct pair *pair_find(const struct mw_replay *r,
				    const struct mw_replay_row *row)
{
	size_t n = r->next < PAIR_MAX ? r->next : PAIR_MAX;

	if (row->request_seq < 0)
		return NULL;
	/* newest first: a response usually follows its request closely */
	for (size_t k = 1; k <= n; k++) {
		const struct pair *p = &r->ring[(r->next - k) % PAIR_MAX];

		if (p->seq == row->request_seq && same_host(p->host, row->host))
			return p;
	}
	return NULL;
}

/* ---- lines ---- */

enum kind { K_REQUEST, K_NOTIFICATION, K_RESPONSE, K_HTTP_ERROR, K_OTHER };

static enum kind row_kind(const struct mw_replay_row *row)
{
	if (is_method(row->kind, "request"))
		return K_REQUEST;
	if (is_method(row->kind, "notification"))
		return K_NOTIFICATION;
	if (is_method(row->kind, "response"))
		return K_RESPONSE;
	if (is_method(row->kind, "http_error"))
		return K_HTTP_ERROR;
	return K_OTHER;
}

static bool refusal(const char *decision)
{
	return is_method(decision, "deny") ||
	       is_method(decision, "approval_required");
}

static bool would_refuse(const char *decision)
{
	return decision && !strncmp(decision, "would_", 6);
}

/* floor division: times before 1970 stay in order */
static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

/* 2026-05-04T14:41:37.123Z (digits: 3 or 6). */
static void format_ts(char *out, size_t len, int64_t ts_us, int digits)
{
	int64_t sec = floor_div(ts_us, 1000000);
	/* not ts_us - sec * 1000000: that overflows near INT64_MIN */
	int64_t us = ts_us % 1000000 + (ts_us % 1000000 < 0 ? 1000000 : 0);
	time_t t = (time_t)sec;
	struct tm tm;
	char day[32];

	if (!gmtime_r(&t, &tm) ||
	    !strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(out, len, "@%" PRId64 "us", ts_us);
		return;
	}
	if (digits == 3)
		snprintf(out, len, "%s.%03dZ", day, (int)(us / 1000));
	else
		snprintf(out, len, "%s.%06dZ", day, (int)us);
}

/* +1.250s, right-aligned; from the shown (millisecond) times. */
static int format_offset(struct mw_buf *out, int64_t ts_us, int64_t origin)
{
	int64_t d = floor_div(ts_us, 1000) - floor_div(origin, 1000);
	uint64_t a = d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;
	char tmp[48];

	snprintf(tmp, sizeof(tmp), "%c%" PRIu64 ".%03" PRIu64 "s",
		 d < 0 ? '-' : '+', a / 1000, a % 1000);
	return mw_buf_printf(out, "%9s", tmp) ? -ENOMEM : 0;
}

/* user(uid) comm[pid] cgroup */
static int format_who(struct mw_buf *out, const struct mw_replay_row *row)
{
	int rc = 0;

	if (!row->user_name && row->uid < 0 && !row->comm && row->pid < 0 &&
	    !row->cgroup)
		return mw_buf_append(out, "?", 1) ? -ENOMEM : 0;
	rc |= row->user_name ? esc_str(out, row->user_name, W_USER)
			     : mw_buf_append(out, "?", 1);
	if (row->uid >= 0)
		rc |= mw_buf_printf(out, "(%" PRId64 ")", row->uid);
	rc |= mw_buf_append(out, " ", 1);
	rc |= row->comm ? esc_str(out, row->comm, W_COMM)
			: mw_buf_append(out, "?", 1);
	if (row->pid >= 0)
		rc |= mw_buf_printf(out, "[%" PRId64 "]", row->pid);
	rc |= mw_buf_append(out, " ", 1);
	rc |= row->cgroup ? esc_str(out, row->cgroup, W_CGROUP)
			  : mw_buf_append(out, "?", 1);
	return rc ? -ENOMEM : 0;
}

static int format_label(struct mw_buf *out, const char *method,
			const char *target)
{
	int rc = esc_str(out, method ? method : "?", W_METHOD);

	if (!rc && target) {
		rc = mw_buf_append(out, " ", 1);
		if (!rc)
			rc = esc_str(out, target, W_TARGET);
	}
	return rc ? -ENOMEM : 0;
}

/* "deny by rule", coloured when asked. */
static int format_decision(struct mw_replay *r, struct mw_buf *out,
			   const char *decision, const char *rule)
{
	const char *color = !r->o.color		     ? NULL
			    : refusal(decision)	     ? COLOR_REFUSED
			    : would_refuse(decision) ? COLOR_WOULD
						     : NULL;
	int rc = 0;

	rc |= mw_buf_append(out, "  ", 2);
	if (color)
		rc |= mw_buf_cat(out, color, NULL);
	rc |= esc_str(out, decision, W_DECISION);
	if (rule) {
		rc |= mw_buf_append(out, " by ", 4);
		rc |= esc_str(out, rule, W_RULE);
	}
	if (color)
		rc |= mw_buf_cat(out, COLOR_OFF, NULL);
	return rc ? -ENOMEM : 0;
}

/* A JSON member of the row's JSON text; NULL when absent or not JSON. */
static json_t *load_json(const char *text)
{
	json_error_t e;

	return text ? json_loads(text, JSON_DECODE_ANY, &e) : NULL;
}

/* What the method acts on: the tool, prompt or resource URI. */
static const char *row_target(const struct mw_replay_row *row, json_t *params)
{
	const char *member = target_member(row->method);

	if (row->tool)
		return row->tool;
	return member ? jget_str(params, member) : NULL;
}

struct parsed {
	json_t *params, *result, *error;
	const struct pair *req; /* a response's request */
	const char *target; /* a request's */
	struct summary sum;
	bool has_sum;
};

/* The summary of a row: arguments, result, or an HTTP error's detail. */
static void row_summary(struct mw_replay *r, const struct mw_replay_row *row,
			struct parsed *p)
{
	sum_init(&p->sum, r->o.width);
	p->has_sum = true;
	switch (row_kind(row)) {
	case K_REQUEST:
	case K_NOTIFICATION:
		if (p->params)
			sum_args(&p->sum, row->method, p->params);
		else if (row->params)
			sum_str(&p->sum, row->params);
		break;
	case K_RESPONSE:
		if (p->result || p->error)
			sum_result(&p->sum, p->req ? p->req->method : NULL,
				   p->result, p->error);
		else if (row->error || row->result)
			sum_str(&p->sum, row->error ? row->error : row->result);
		break;
	case K_HTTP_ERROR:
	case K_OTHER:
		if (row->detail)
			sum_str(&p->sum, row->detail);
		break;
	}
}

static int text_line(struct mw_replay *r, const struct mw_replay_row *row,
		     struct parsed *p, struct mw_buf *out)
{
	enum kind k = row_kind(row);
	char ts[64];
	int rc = 0;

	format_ts(ts, sizeof(ts), row->ts_us, 3);
	rc |= mw_buf_cat(out, ts, "  ", NULL);
	rc |= format_offset(out, row->ts_us, r->origin_us);
	rc |= mw_buf_append(out, "  ", 2);
	rc |= format_who(out, row);
	rc |= mw_buf_cat(out, "  ",
			 is_method(row->direction, "c2s")   ? ARROW_C2S
			 : is_method(row->direction, "s2c") ? ARROW_S2C
							    : "!",
			 " ", NULL);
	switch (k) {
	case K_REQUEST:
	case K_NOTIFICATION:
		rc |= format_label(out, row->method, p->target);
		break;
	case K_RESPONSE:
		if (p->req)
			rc |= format_label(out, p->req->method, p->req->target);
		else if (row->request_seq >= 0)
			rc |= mw_buf_printf(out, "response to #%" PRId64,
					    row->request_seq);
		else if (row->rpc_id) {
			rc |= mw_buf_cat(out, "response id ", NULL);
			rc |= esc_str(out, row->rpc_id, W_ID);
		} else
			rc |= mw_buf_cat(out, "response", NULL);
		if (!isnan(row->latency_ms))
			rc |= mw_buf_printf(out, "  %.1f ms", row->latency_ms);
		break;
	case K_HTTP_ERROR:
	case K_OTHER:
		if (r->o.color)
			rc |= mw_buf_cat(out, COLOR_REFUSED, NULL);
		if (k == K_HTTP_ERROR && row->http_status > 0)
			rc |= mw_buf_printf(out, "HTTP %d", row->http_status);
		else if (k == K_HTTP_ERROR)
			rc |= mw_buf_cat(out, "HTTP error", NULL);
		else
			rc |= esc_str(out, row->kind ? row->kind : "?",
				      W_METHOD);
		if (row->http_method) {
			rc |= mw_buf_append(out, " ", 1);
			rc |= esc_str(out, row->http_method, W_HTTP_METHOD);
		}
		if (row->http_path) {
			rc |= mw_buf_append(out, " ", 1);
			rc |= esc_str(out, row->http_path, W_PATH);
		}
		if (r->o.color)
			rc |= mw_buf_cat(out, COLOR_OFF, NULL);
		break;
	}
	if (mw_buf_used(&p->sum.raw) || p->sum.nomem) {
		rc |= mw_buf_append(out, "  ", 2);
		rc |= sum_emit(&p->sum, out, r->o.width);
	}
	if (row->decision && k != K_RESPONSE)
		rc |= format_decision(r, out, row->decision, row->rule);
	/* e.g. "answered by mcpwarden: refused by policy" */
	if (row->detail && k != K_HTTP_ERROR && k != K_OTHER) {
		rc |= mw_buf_append(out, "  [", 3);
		rc |= esc_str(out, row->detail, r->o.width);
		rc |= mw_buf_append(out, "]", 1);
	}
	rc |= mw_buf_append(out, "\n", 1);
	return rc ? -ENOMEM : 0;
}

/* A string as JSON: escaped text when it is not UTF-8 (jansson's need). */
static json_t *jstr(const char *s)
{
	struct mw_buf b = { 0 };
	json_t *j;

	if (!s)
		return json_null();
	j = json_string(s);
	if (j)
		return j;
	if (mw_replay_escape(&b, s, strlen(s), 0, false, MW_REPLAY_ESC_TEXT) <
		    0 ||
	    mw_buf_append(&b, "", 1)) {
		mw_buf_free(&b);
		return NULL;
	}
	j = json_string(mw_buf_head(&b));
	mw_buf_free(&b);
	return j;
}

static json_t *jint(int64_t v)
{
	return v < 0 ? json_null() : json_integer(v);
}

/* A JSON value of the trail: as loaded, else (not JSON) its text. */
static json_t *jvalue(json_t *loaded, const char *text)
{
	if (loaded)
		return json_incref(loaded);
	return jstr(text);
}

static int dump_cb(const char *buf, size_t size, void *data)
{
	return mw_buf_append(data, buf, size) ? -1 : 0;
}

static int json_line(struct mw_replay *r, const struct mw_replay_row *row,
		     struct parsed *p, struct mw_buf *out)
{
	enum kind k = row_kind(row);
	json_t *o = json_object(), *args = NULL;
	struct mw_buf summary = { 0 };
	char ts[64];
	int bad = 0;

	if (!o)
		return -ENOMEM;

	format_ts(ts, sizeof(ts), row->ts_us, 6);
	if ((k == K_REQUEST || k == K_NOTIFICATION) && p->params)
		args = is_method(row->method, "tools/call") ||
				       is_method(row->method, "prompts/get")
			       ? json_object_get(p->params, "arguments")
			       : p->params;
	if (mw_buf_used(&p->sum.raw) || p->sum.nomem)
		bad |= sum_emit(&p->sum, &summary, r->o.width);
	bad |= mw_buf_append(&summary, "", 1);
#define SET(key, v) (bad |= json_object_set_new(o, key, v))
	SET("host", jstr(row->host));
	SET("seq", jint(row->seq));
	SET("ts", json_string(ts));
	SET("ts_us", json_integer(row->ts_us));
	SET("offset_ms",
	    json_real(((double)row->ts_us - (double)r->origin_us) / 1000.0));
	SET("kind", jstr(row->kind));
	SET("direction", jstr(row->direction));
	SET("session_id", jstr(row->session_id));
	SET("server", jstr(row->server));
	SET("conn_id", jint(row->conn_id));
	SET("rpc_id", jstr(row->rpc_id));
	SET("method", jstr(row->method));
	SET("tool", jstr(row->tool));
	SET("request_seq", jint(row->request_seq));
	SET("request_method", jstr(p->req ? p->req->method : NULL));
	SET("request_tool", jstr(p->req ? p->req->target : NULL));
	SET("arguments", args ? json_incref(args) : json_null());
	SET("params", jvalue(p->params, row->params));
	SET("result", jvalue(p->result, row->result));
	SET("error", jvalue(p->error, row->error));
	SET("summary",
	    jstr(mw_buf_used(&summary) > 1 ? mw_buf_head(&summary) : NULL));
	SET("decision", jstr(row->decision));
	SET("rule", jstr(row->rule));
	SET("refused", json_boolean(refusal(row->decision)));
	SET("latency_ms",
	    isnan(row->latency_ms) ? json_null() : json_real(row->latency_ms));
	SET("uid", jint(row->uid));
	SET("user_name", jstr(row->user_name));
	SET("pid", jint(row->pid));
	SET("comm", jstr(row->comm));
	SET("cgroup", jstr(row->cgroup));
	SET("http_method", jstr(row->http_method));
	SET("http_path", jstr(row->http_path));
	SET("http_status", row->http_status > 0 ? json_integer(row->http_status)
						: json_null());
	SET("detail", jstr(row->detail));
#undef SET
	/* ASCII only: raw C1 or bidi characters would reach a terminal */
	if (!bad)
		bad = json_dump_callback(o, dump_cb, out,
					 JSON_COMPACT | JSON_ENSURE_ASCII |
						 JSON_REAL_PRECISION(15)) ||
		      mw_buf_append(out, "\n", 1);
	json_decref(o);
	mw_buf_free(&summary);
	return bad ? -ENOMEM : 0;
}

int mw_replay_format(struct mw_replay *r, const struct mw_replay_row *row,
		     struct mw_buf *out)
{
	struct parsed p = { 0 };
	enum kind k = row_kind(row);
	size_t before = mw_buf_used(out);
	int rc;

	if (!r->has_origin)
		mw_replay_set_origin(r, row->ts_us);
	p.params = load_json(row->params);
	p.result = load_json(row->result);
	p.error = load_json(row->error);
	if (k == K_RESPONSE)
		p.req = pair_find(r, row);
	if (k == K_REQUEST || k == K_NOTIFICATION)
		p.target = row_target(row, p.params);
	row_summary(r, row, &p);
	rc = r->o.json ? json_line(r, row, &p, out)
		       : text_line(r, row, &p, out);
	/* remembered once its line is made: a failure leaves no pair */
	if (!rc && k == K_REQUEST && row->seq >= 0)
		rc = pair_put(r, row, p.target);
	if (rc)
		out->len = out->off + before;
	mw_buf_free(&p.sum.raw);
	json_decref(p.params);
	json_decref(p.result);
	json_decref(p.error);
	return rc;
}

/* ---- the reader ---- */

/* The columns every query returns, in this order. */
enum col {
	C_HOST,
	C_SEQ,
	C_TS_US,
	C_KIND,
	C_DIRECTION,
	C_SESSION,
	C_SERVER,
	C_CONN_ID,
	C_RPC_ID,
	C_METHOD,
	C_TOOL,
	C_PARAMS,
	C_RESULT,
	C_ERROR,
	C_REQUEST_SEQ,
	C_LATENCY_MS,
	C_DECISION,
	C_RULE,
	C_UID,
	C_PID,
	C_USER_NAME,
	C_COMM,
	C_CGROUP,
	C_HTTP_METHOD,
	C_HTTP_PATH,
	C_HTTP_STATUS,
	C_DETAIL,
	C_ORIGIN_US,
	C_N
};

/* mcpwarden.messages and mcpwarden.http_errors as one shape; ts last,
 * for ordering. */
#define MSG_COLS                                                           \
	"host, seq, (extract(epoch FROM ts) * 1000000)::bigint AS ts_us, " \
	"kind, direction, session_id, server, conn_id, rpc_id, method, "   \
	"tool, params::text AS params, result::text AS result, "           \
	"error::text AS error, request_seq, latency_ms, decision, rule, "  \
	"uid, pid, user_name, comm, cgroup, NULL::text AS http_method, "   \
	"NULL::text AS http_path, NULL::int AS http_status, detail, ts"
#define ERR_COLS                                                             \
	"host, seq, (extract(epoch FROM ts) * 1000000)::bigint, "            \
	"'http_error'::text, direction, session_id, server, conn_id, "       \
	"NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, "       \
	"NULL::text, NULL::bigint, NULL::double precision, decision, rule, " \
	"uid, pid, user_name, comm, cgroup, http_method, http_path, "        \
	"http_status, detail, ts"
#define OUT_COLS                                                           \
	"host, seq, ts_us, kind, direction, session_id, server, conn_id, " \
	"rpc_id, method, tool, params, result, error, request_seq, "       \
	"latency_ms, decision, rule, uid, pid, user_name, comm, cgroup, "  \
	"http_method, http_path, http_status, detail, "                    \
	"min(ts_us) OVER () AS origin_us"

/*
 * A session: its messages and HTTP errors ($1 the session, $2 a host or
 * NULL), and the initialize exchange that opened it. That exchange is
 * recorded without a session (the server names the session in its
 * answer's headers), often on a connection of its own. It is taken to be
 * the last initialize the same process (tgid) sent the same server before
 * the session's first event, preferring one whose connection later
 * carried this session (its first session-bearing event, a message or its
 * conn_close: the daemon learns the session from the answer), never one
 * whose connection carried another. Both looks are ranges of the primary
 * key, bounded by HELLO_WINDOW seqs.
 */
static const char q_session[] =
	"WITH s AS (\n"
	"	SELECT " MSG_COLS " FROM mcpwarden.messages\n"
	"	WHERE session_id = $1 AND ($2::text IS NULL OR host = $2)\n"
	"	UNION ALL\n"
	"	SELECT " ERR_COLS " FROM mcpwarden.http_errors\n"
	"	WHERE session_id = $1 AND ($2::text IS NULL OR host = $2)\n"
	"), first AS (\n"
	"	SELECT s.host, s.seq, s.server, c.tgid FROM s\n"
	"	LEFT JOIN mcpwarden.connections c\n"
	"		ON c.host = s.host AND c.conn_id = s.conn_id\n"
	"	ORDER BY s.ts, s.host, s.seq LIMIT 1\n"
	"), cand AS (\n"
	"	SELECT m.seq, m.conn_id FROM mcpwarden.messages m, first f\n"
	"	WHERE m.host = f.host AND m.seq < f.seq\n"
	"		AND m.seq > f.seq - " HELLO_WINDOW "\n"
	"		AND m.session_id IS NULL AND m.kind = 'request'\n"
	"		AND m.direction = 'c2s' AND m.method = 'initialize'\n"
	"		AND m.server IS NOT DISTINCT FROM f.server\n"
	"		AND m.tgid = f.tgid\n"
	"	ORDER BY m.seq DESC LIMIT 16\n"
	"), named AS (\n"
	"	SELECT c.seq, (SELECT e.session_id FROM mcpwarden.chain_events "
	"e\n"
	"		WHERE e.host = f.host AND e.conn_id = c.conn_id\n"
	"			AND e.seq > c.seq\n"
	"			AND e.seq < c.seq + " HELLO_WINDOW "\n"
	"			AND e.session_id IS NOT NULL\n"
	"		ORDER BY e.seq LIMIT 1) AS sid\n"
	"	FROM cand c, first f\n"
	"), hello AS (\n"
	"	SELECT seq FROM named WHERE sid = $1 OR sid IS NULL\n"
	"	ORDER BY sid IS NULL, seq DESC LIMIT 1\n"
	"), h AS (\n"
	"	SELECT " MSG_COLS " FROM mcpwarden.messages\n"
	"	WHERE host = (SELECT host FROM first)\n"
	"		AND seq = (SELECT seq FROM hello) AND session_id IS "
	"NULL\n"
	"	UNION ALL\n"
	"	SELECT " MSG_COLS " FROM mcpwarden.messages\n"
	"	WHERE host = (SELECT host FROM first) AND kind = 'response'\n"
	"		AND request_seq = (SELECT seq FROM hello)\n"
	"		AND session_id IS NULL\n"
	")\n"
	"SELECT " OUT_COLS " FROM (SELECT * FROM s UNION ALL SELECT * FROM h) "
	"x\n"
	"ORDER BY host, seq";

/* A connection's events recorded without a session ($1 conn_id). */
static const char q_conn[] =
	"WITH s AS (\n"
	"	SELECT " MSG_COLS " FROM mcpwarden.messages\n"
	"	WHERE conn_id = $1::bigint AND session_id IS NULL\n"
	"		AND ($2::text IS NULL OR host = $2)\n"
	"	UNION ALL\n"
	"	SELECT " ERR_COLS " FROM mcpwarden.http_errors\n"
	"	WHERE conn_id = $1::bigint AND session_id IS NULL\n"
	"		AND ($2::text IS NULL OR host = $2)\n"
	")\n"
	"SELECT " OUT_COLS " FROM s ORDER BY host, seq";

/*
 * Following: the events of one host in (after, upto] ($2, $3, $4): a
 * range of the primary key (host, seq, ts) in each partition, whatever
 * the size of the trail; the session is a filter on those rows.
 */
#define FOLLOW_RANGE "host = $2 AND seq > $3::bigint AND seq <= $4::bigint"
static const char q_follow_session[] =
	"WITH s AS (\n"
	"	SELECT " MSG_COLS " FROM mcpwarden.messages\n"
	"	WHERE " FOLLOW_RANGE " AND session_id = $1\n"
	"	UNION ALL\n"
	"	SELECT " ERR_COLS " FROM mcpwarden.http_errors\n"
	"	WHERE " FOLLOW_RANGE " AND session_id = $1\n"
	")\n"
	"SELECT " OUT_COLS " FROM s ORDER BY host, seq";
static const char q_follow_conn[] =
	"WITH s AS (\n"
	"	SELECT " MSG_COLS " FROM mcpwarden.messages\n"
	"	WHERE " FOLLOW_RANGE " AND conn_id = $1::bigint\n"
	"		AND session_id IS NULL\n"
	"	UNION ALL\n"
	"	SELECT " ERR_COLS " FROM mcpwarden.http_errors\n"
	"	WHERE " FOLLOW_RANGE " AND conn_id = $1::bigint\n"
	"		AND session_id IS NULL\n"
	")\n"
	"SELECT " OUT_COLS " FROM s ORDER BY host, seq";

/*
 * Where a host's chain stands (the primary key's last entry, per
 * partition). The writer commits in seq order, one batch at a time, so
 * nothing at or below it can appear later: the next poll starts there,
 * and a session that is quiet on a busy host costs no more than one that
 * is not.
 */
static const char q_head[] = "SELECT max(seq) FROM mcpwarden.chain_events\n"
			     "WHERE host = $1 AND seq > $2::bigint";

struct followed {
	char *host;
	int64_t last; /* the last seq looked at */
};

struct reader {
	PGconn *conn;
	struct mw_replay *r;
	FILE *out;
	struct mw_buf line;
	struct followed hosts[HOSTS_MAX];
	size_t nhosts;
	bool hosts_full; /* a host was not followed */
	size_t rows;
	volatile sig_atomic_t *stop;
	bool stopped; /* *stop was seen: the query was cancelled */
	char *err;
	size_t errlen;
};

static const char *col(const PGresult *res, int i, int c)
{
	return PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c);
}

static int64_t col_int(const PGresult *res, int i, int c)
{
	const char *v = col(res, i, c);

	return v ? strtoll(v, NULL, 10) : -1;
}

static void row_from_pg(const PGresult *res, int i, struct mw_replay_row *row)
{
	const char *lat = col(res, i, C_LATENCY_MS);

	mw_replay_row_init(row);
	row->host = col(res, i, C_HOST);
	row->seq = col_int(res, i, C_SEQ);
	row->ts_us = col(res, i, C_TS_US) ? col_int(res, i, C_TS_US) : 0;
	row->kind = col(res, i, C_KIND);
	row->direction = col(res, i, C_DIRECTION);
	row->session_id = col(res, i, C_SESSION);
	row->server = col(res, i, C_SERVER);
	row->conn_id = col_int(res, i, C_CONN_ID);
	row->rpc_id = col(res, i, C_RPC_ID);
	row->method = col(res, i, C_METHOD);
	row->tool = col(res, i, C_TOOL);
	row->params = col(res, i, C_PARAMS);
	row->result = col(res, i, C_RESULT);
	row->error = col(res, i, C_ERROR);
	row->request_seq = col_int(res, i, C_REQUEST_SEQ);
	row->latency_ms = lat ? strtod(lat, NULL) : NAN;
	row->decision = col(res, i, C_DECISION);
	row->rule = col(res, i, C_RULE);
	row->uid = col_int(res, i, C_UID);
	row->pid = col_int(res, i, C_PID);
	row->user_name = col(res, i, C_USER_NAME);
	row->comm = col(res, i, C_COMM);
	row->cgroup = col(res, i, C_CGROUP);
	row->http_method = col(res, i, C_HTTP_METHOD);
	row->http_path = col(res, i, C_HTTP_PATH);
	row->http_status = col(res, i, C_HTTP_STATUS)
				   ? (int)col_int(res, i, C_HTTP_STATUS)
				   : 0;
	row->detail = col(res, i, C_DETAIL);
}

/* Notes the host's last seq shown (the hosts that follow polls). */
static int note_host(struct reader *rd, const struct mw_replay_row *row)
{
	struct followed *f;

	if (!row->host)
		return 0;
	for (size_t i = 0; i < rd->nhosts; i++) {
		if (!strcmp(rd->hosts[i].host, row->host)) {
			if (row->seq > rd->hosts[i].last)
				rd->hosts[i].last = row->seq;
			return 0;
		}
	}
	if (rd->nhosts == HOSTS_MAX) {
		rd->hosts_full = true;
		return 0;
	}
	f = &rd->hosts[rd->nhosts];
	f->host = strdup(row->host);
	if (!f->host)
		return -ENOMEM;
	f->last = row->seq;
	rd->nhosts++;
	return 0;
}

/* Row i of res. */
static int take_row(struct reader *rd, const PGresult *res, int i)
{
	struct mw_replay_row row;
	const char *origin = col(res, i, C_ORIGIN_US);
	int rc;

	if (PQnfields(res) != C_N) {
		mw_set_err(rd->err, rd->errlen,
			   "replay: the query returned %d columns, not %d",
			   PQnfields(res), C_N);
		return -EPROTO;
	}
	row_from_pg(res, i, &row);
	if (!rd->rows && origin)
		mw_replay_set_origin(rd->r, strtoll(origin, NULL, 10));
	rc = note_host(rd, &row);
	if (!rc)
		rc = mw_replay_format(rd->r, &row, &rd->line);
	if (rc) {
		mw_set_err(rd->err, rd->errlen, "replay: out of memory");
		return rc;
	}
	rd->rows++;
	if (fwrite(mw_buf_head(&rd->line), 1, mw_buf_used(&rd->line),
		   rd->out) != mw_buf_used(&rd->line)) {
		mw_set_err(rd->err, rd->errlen, "replay: writing: %s",
			   strerror(errno));
		return -EIO;
	}
	mw_buf_reset(&rd->line);
	return 0;
}

/* Asks the server to stop the query (a long first replay, interrupted). */
static void cancel_query(PGconn *conn)
{
	PGcancel *c = PQgetCancel(conn);
	char why[256];

	if (c && !PQcancel(c, why, sizeof(why)))
		log_debug("replay: cannot cancel the query: %s", why);
	PQfreeCancel(c);
}

/*
 * The next result. libpq's own wait restarts on EINTR, so it is done here:
 * a stop (the signal, or the poll's timeout closing the race with it)
 * cancels the query even before its first row.
 */
static PGresult *next_result(struct reader *rd)
{
	struct pollfd pfd = { .fd = PQsocket(rd->conn), .events = POLLIN };

	while (pfd.fd >= 0 && PQisBusy(rd->conn)) {
		if (!rd->stopped && *rd->stop) {
			rd->stopped = true;
			cancel_query(rd->conn);
		}
		if (poll(&pfd, 1, 200) < 0 && errno != EINTR)
			break; /* PQgetResult waits and reports */
		if (!PQconsumeInput(rd->conn))
			break;
	}
	return PQgetResult(rd->conn);
}

/*
 * Runs sql with params and formats its rows one by one: the client holds
 * one row at a time, however long the session. Once *stop is set, the
 * query is cancelled and what is left of it drained unseen.
 */
static int stream(struct reader *rd, const char *sql, int n,
		  const char *const *params)
{
	PGresult *res;
	int rc = 0;

	if (!PQsendQueryParams(rd->conn, sql, n, NULL, params, NULL, NULL, 0)) {
		mw_set_err(rd->err, rd->errlen, "replay: %s",
			   PQerrorMessage(rd->conn));
		return -EIO;
	}
	if (!PQsetSingleRowMode(rd->conn))
		log_debug("replay: single-row mode refused");
	/* every result is taken, also after a failure */
	while ((res = next_result(rd))) {
		ExecStatusType st = PQresultStatus(res);

		if (!rc && !rd->stopped && *rd->stop) {
			rd->stopped = true;
			cancel_query(rd->conn);
		}
		if (rd->stopped) {
			/* the cancel's error included */
			PQclear(res);
			continue;
		}
		if (!rc &&
		    (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK)) {
			/* TUPLES_OK: the end (no rows), or every row at
			 * once when single-row mode was refused */
			for (int i = 0; !rc && i < PQntuples(res); i++)
				rc = take_row(rd, res, i);
		} else if (!rc) {
			mw_set_err(rd->err, rd->errlen, "replay: %s",
				   PQresultErrorMessage(res));
			rc = -EIO;
		}
		PQclear(res);
	}
	if (!rc && fflush(rd->out)) {
		mw_set_err(rd->err, rd->errlen, "replay: writing: %s",
			   strerror(errno));
		rc = -EIO;
	}
	return rc;
}

/* The host's head beyond after: 0 with *head (-1: nothing new). */
static int host_head(struct reader *rd, const char *host, int64_t after,
		     int64_t *head)
{
	char a[24];
	const char *params[2] = { host, a };
	PGresult *res;
	int rc = 0;

	snprintf(a, sizeof(a), "%" PRId64, after);
	res = PQexecParams(rd->conn, q_head, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		mw_set_err(rd->err, rd->errlen, "replay: %s",
			   res ? PQresultErrorMessage(res)
			       : PQerrorMessage(rd->conn));
		rc = -EIO;
	} else {
		*head = PQgetisnull(res, 0, 0)
				? -1
				: strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	}
	PQclear(res);
	return rc;
}

static int poll_hosts(struct reader *rd, const struct mw_replay_query *q,
		      const char *key)
{
	for (size_t i = 0; i < rd->nhosts; i++) {
		struct followed *f = &rd->hosts[i];
		char after[24], upto[24];
		const char *params[4] = { key, f->host, after, upto };
		int64_t head;
		int rc;

		rc = host_head(rd, f->host, f->last, &head);
		if (rc)
			return rc;
		if (head <= f->last)
			continue;
		snprintf(after, sizeof(after), "%" PRId64, f->last);
		snprintf(upto, sizeof(upto), "%" PRId64, head);
		rc = stream(rd, q->session ? q_follow_session : q_follow_conn,
			    4, params);
		if (rc || rd->stopped)
			return rc;
		f->last = head;
	}
	return 0;
}

/* Sleeps ms, or less when a signal comes (the caller checks stop). */
static void nap(int ms)
{
	poll(NULL, 0, ms);
}

static int follow(struct reader *rd, const struct mw_replay_query *q,
		  const char *key)
{
	bool lost = false;
	int rc;

	if (rd->hosts_full)
		fprintf(stderr,
			"mcpwarden: replay: the session is on more than %d "
			"hosts: only the first %d are followed\n",
			HOSTS_MAX, HOSTS_MAX);
	while (!*rd->stop && !rd->stopped) {
		nap(MW_REPLAY_POLL_MS);
		if (*rd->stop)
			break;
		if (lost) {
			PQreset(rd->conn);
			if (PQstatus(rd->conn) != CONNECTION_OK)
				continue;
			fprintf(stderr, "mcpwarden: replay: reconnected to "
					"the audit database\n");
			lost = false;
		}
		rc = poll_hosts(rd, q, key);
		if (!rc)
			continue;
		/* a database that went away comes back; anything else is
		 * an error */
		if (PQstatus(rd->conn) != CONNECTION_BAD)
			return rc;
		fprintf(stderr,
			"mcpwarden: replay: lost the audit database (%s); "
			"reconnecting\n",
			rd->err);
		lost = true;
	}
	return 0;
}

void mw_replay_not_found(const struct mw_replay_query *q, char *out, size_t len)
{
	struct mw_buf b = { 0 };
	int rc = 0;

	if (q->session) {
		rc |= mw_buf_cat(&b, "no session '", NULL);
		rc |= esc_str(&b, q->session, W_TARGET);
		rc |= mw_buf_cat(&b, "' in the audit trail", NULL);
	} else {
		rc |= mw_buf_printf(&b,
				    "no events without a session on "
				    "connection %lld in the audit trail",
				    q->conn_id);
	}
	if (q->host) {
		rc |= mw_buf_cat(&b, " of host ", NULL);
		rc |= esc_str(&b, q->host, W_TARGET);
	}
	rc |= mw_buf_append(&b, "", 1);
	snprintf(out, len, "%s", rc ? "nothing found" : mw_buf_head(&b));
	mw_buf_free(&b);
}

int mw_replay_run(PGconn *conn, struct mw_replay *r,
		  const struct mw_replay_query *q, volatile sig_atomic_t *stop,
		  FILE *out, char *err, size_t errlen)
{
	struct reader rd = { .conn = conn,
			     .r = r,
			     .out = out,
			     .stop = stop,
			     .err = err,
			     .errlen = errlen };
	char id[24];
	const char *key = q->session;
	const char *params[2];
	int rc;

	if (!key) {
		snprintf(id, sizeof(id), "%lld", q->conn_id);
		key = id;
	}
	params[0] = key;
	params[1] = q->host;
	rc = stream(&rd, q->session ? q_session : q_conn, 2, params);
	if (!rc && !rd.rows && !rd.stopped)
		rc = -ENOENT;
	if (!rc && q->follow && !rd.stopped)
		rc = follow(&rd, q, key);
	for (size_t i = 0; i < rd.nhosts; i++)
		free(rd.hosts[i].host);
	mw_buf_free(&rd.line);
	return rc;
}
