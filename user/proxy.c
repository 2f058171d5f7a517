// SPDX-License-Identifier: BSD-2-Clause
/*
 * Connection state machine. Each steered connection is a pair of sides:
 *
 *   client side: requests are parsed whole (head bounded, body bounded),
 *     their JSON-RPC messages judged and recorded, then re-framed and
 *     queued to the upstream side; exactly the judged bytes are sent.
 *   upstream side: responses are parsed; JSON bodies are held whole and
 *     judged, SSE streams are judged and passed on event by event, other
 *     bodies are passed on as they arrive.
 *
 * Every request forwarded (or answered locally) becomes an exchange in a
 * FIFO, so responses reach the client in request order even when a local
 * answer (an error) is queued behind responses still streaming.
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "budget.h"
#include "buf.h"
#include "json_parse.h"
#include "json_text.h"
#include "hex.h"
#include "http.h"
#include "jsonrpc.h"
#include "judge.h"
#include "log.h"
#include "mcp.h"
#include "pairing.h"
#include "sessions.h"
#include "pins.h"
#include "sse.h"
#include "task_image.h"

#define MW_READ_CHUNK (64 * 1024)
#define MW_HIGH_WATER (256 * 1024)
#define MW_MAX_PIPELINE 32
#define MW_MAX_PAIRING 65536
/* sessions whose owner is remembered (sessions.h) */
#define MW_MAX_SESSIONS 65536
#define MW_SESSION_MAX 256
/* A refused client may still be sending the body we will not read: closing
 * with it unread makes the kernel answer with a reset that can destroy our
 * answer in the client's receive queue. We half-close and drain for at most
 * this long (nginx's lingering close), for at most this many sockets. */
#define MW_LINGER_MS 2000
#define MW_MAX_LINGERING 1024
/*
 * Splice on: how much a client may have queued straight into the daemon's
 * socket, which the kernel does not bound, counted as bpf/splice.bpf.c
 * charges it. The daemon moves the bound when a read has emptied the
 * socket, after MW_SPLICE_REFILL_READS reads or a quarter window of bytes:
 * a map look-up and update for many requests.
 */
#define MW_SPLICE_WINDOW (256 * 1024)
#define MW_SPLICE_REFILL_READS 16

struct mw_conn;

struct mw_side {
	struct mw_io io;
	struct mw_conn *conn;
	struct mw_buf out;
	uint32_t events; /* registered epoll interest */
	bool registered;
	bool rd_eof; /* peer sent FIN */
	bool wr_shut; /* we sent FIN */
	bool connecting;
	/* out has waited since, and the peer last took some of it then */
	int64_t pending_since_ms, last_send_ms;
	int last_outq; /* the kernel's send queue at the last tick */
};

enum resp_mode {
	RESP_IDLE,
	RESP_INFORMATIONAL, /* 1xx: absorbed, we answered Expect ourselves */
	RESP_NO_BODY,
	RESP_JSON, /* held whole, judged, then sent with Content-Length */
	RESP_SSE, /* judged and sent event by event */
	RESP_RAW, /* sent as it arrives */
};

struct exchange {
	struct exchange *next;
	char http_method[24];
	char *path;
	char *session; /* key part for pairing: Mcp-Session-Id or conn:N */
	bool has_session;
	int64_t start_us;
	/* a locally made response (an error), sent when this reaches the front */
	struct mw_buf local;
	bool is_local;
	bool close_after;
	bool carried_rpc; /* its request held JSON-RPC: the answer is judged */
	bool chunk_ok; /* the client spoke HTTP/1.1: streams go chunked */
	/*
	 * Its requests' pairing entries: those its answer did not take are
	 * dropped when it ends, so that an id is not left waiting for good.
	 * Plainly when no answer can come later (an error status, a JSON
	 * body); otherwise (cut short, an event stream that a client may
	 * resume) their keys stay known as dropped, and a request reusing
	 * one is paired as ambiguous. Kept when the server answers 202 (the
	 * legacy transport answers on the session's stream).
	 */
	struct mw_pairing *pairing;
	struct pending_pair {
		char *key;
		uint64_t seq;
	} * waits;
	size_t nwaits;
	bool answered_elsewhere;
	bool no_later_answer;
	size_t held; /* bytes it holds, counted in conn_held() */
	uint64_t sse_dropped; /* the server's events dropped on its stream */
};

struct mw_conn {
	struct mw_proxy *px;
	struct mw_conn *prev, *next;
	struct mw_deferred free_later;
	uint64_t id;
	struct mw_side c, u;
	struct mw_http req, resp;
	struct mw_identity ident;
	struct mw_judge_who who; /* ident as policy rules see it */
	const struct mw_server_cfg *server;
	struct sockaddr_storage upstream_addr;
	char client_addr[64];
	char upstream_str[64];
	bool upstream_failed;
	bool dead;
	bool closing; /* close once the client side has drained */
	bool client_wants_close;
	bool no_more_requests; /* stop reading the client (not a FIN) */
	int req_refused_status; /* the request's refusal, when not 400/413 */
	/* request being assembled */
	struct mw_buf req_body;
	int64_t head_start_ms;
	int64_t body_start_ms; /* a request body is still arriving */
	int64_t body_paused_ms; /* since when the daemon has not read it */
	int64_t last_active_ms;
	int64_t connect_start_ms;
	/* exchanges awaiting their response, oldest first */
	struct exchange *xq_head, *xq_tail;
	size_t nx;
	/* response in progress (for xq_head) */
	enum resp_mode mode;
	int resp_status;
	bool resp_keep_alive;
	bool resp_typed_json; /* RESP_JSON because the server said so */
	bool chunk_to_client; /* stream re-framed as chunked */
	bool resp_head_sent;
	struct mw_buf resp_body;
	struct mw_sse sse;
	bool sse_ready;
	/* the stream's id the client holds (mw_sse_event.id_gen) */
	uint64_t sse_client_id_gen;
	char *session; /* last Mcp-Session-Id seen on this connection */
	/* the legacy transport's session whose event stream this carries */
	char *legacy_stream;
	/* Requests go upstream only once their events are durable: bytes in
	 * u.out wait while held (on px->held) for seq hold_seq. */
	uint64_t hold_seq;
	bool held;
	int64_t held_since_ms;
	struct mw_conn *held_next;
	/* what its buffers hold, on its user's share of px->budget */
	struct mw_budget_owner *holder;
	size_t buffered;
	/* splice on (bpf/splice.bpf.c): what was read since the bound moved */
	bool spliced, splice_left; /* left: the kernel's side gave up */
	struct mw_conn_key splice_key;
	size_t splice_reads, splice_bytes;
};

struct listener {
	struct mw_io io;
	struct mw_proxy *px;
	bool paused; /* out of descriptors: out of the loop until a tick */
	int64_t logged_ms; /* when that was last logged */
};

/* A client socket after its connection closed, drained until EOF or
 * MW_LINGER_MS (see linger_client). */
struct lingering {
	struct mw_io io;
	struct mw_proxy *px;
	struct lingering *prev, *next;
	int64_t until_ms;
};

struct mw_proxy {
	struct mw_loop *loop;
	struct mw_bpf *bpf;
	struct mw_audit *audit;
	const struct mw_config *cfg;
	struct listener l4, l6;
	struct mw_tick tick;
	struct mw_pairing *pairing;
	struct mw_sessions *sessions; /* who opened each session */
	const struct mw_policy *policy;
	struct mw_masker *masker; /* NULL: nothing is masked */
	struct mw_pins *pins; /* NULL: no tool pinning */
	struct mw_user_cache users;
	/* refusals before a connection is ours: any local user's */
	struct mw_log_limit unsteered_log, overload_log;
	struct mw_task_images *images; /* vouch for /proc/PID/exe */
	struct mw_budget budget; /* limits.max_buffered_bytes */
	struct mw_conn *conns;
	struct mw_conn *held; /* waiting for their events to be durable */
	struct lingering *lingering;
	size_t nlingering;
	struct mw_proxy_stats st;
};

static void conn_close(struct mw_conn *c, const char *why);
static void conn_close_lingering(struct mw_conn *c);
static void conn_update(struct mw_conn *c);
static void start_next_exchange(struct mw_conn *c);
static int flush_side(struct mw_conn *c, struct mw_side *s);
static void upstream_failed(struct mw_conn *c, const char *why);
static int client_stream_chunk(struct mw_conn *c, const char *data, size_t len);

/* ---- small helpers ---------------------------------------------------- */

static int set_nonblock_cloexec(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* The media type of a Content-Type, parameters and whitespace aside. */
static bool media_type_is(const char *ct, const char *want)
{
	size_t wl = strlen(want);

	if (!ct)
		return false;
	while (is_ows(*ct))
		ct++;
	if (strncasecmp(ct, want, wl))
		return false;
	for (ct += wl; is_ows(*ct); ct++)
		;
	return *ct == '\0' || *ct == ';';
}

/*
 * A request body is judged as UTF-8 JSON, so the server must read it as
 * exactly that: a charset parameter (UTF-7, UTF-16...) would let the server
 * decode another message than the one judged. Only "application/json",
 * optionally with charset=utf-8, is let through.
 */
static bool request_type_is_json_utf8(const char *ct)
{
	const char *p;

	if (!media_type_is(ct, "application/json"))
		return false;
	p = strchr(ct, ';');
	if (!p)
		return true;
	for (p++; is_ows(*p); p++)
		;
	if (strncasecmp(p, "charset=", 8))
		return false;
	p += 8;
	if (*p == '"')
		p++;
	if (strncasecmp(p, "utf-8", 5))
		return false;
	for (p += 5; *p == '"' || is_ows(*p); p++)
		;
	return *p == '\0';
}

/*
 * The start of a query parameter's name p[0..n) as servers decode it
 * (%XX, '+' as a space) into out (NUL-terminated); *encoded when it held
 * either. False for a '%' without two hex digits, which servers read
 * differently.
 */
static bool query_name(const char *p, size_t n, char *out, size_t outlen,
		       bool *encoded)
{
	size_t o = 0;

	*encoded = false;
	for (size_t i = 0; i < n && o + 1 < outlen; i++) {
		int hi, lo;

		if (p[i] == '+') {
			*encoded = true;
			out[o++] = ' ';
			continue;
		}
		if (p[i] != '%') {
			out[o++] = p[i];
			continue;
		}
		*encoded = true;
		if (n - i < 3)
			return false;
		hi = mw_hex_value((unsigned char)p[i + 1]);
		lo = mw_hex_value((unsigned char)p[i + 2]);
		if (hi < 0 || lo < 0)
			return false;
		out[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[o] = '\0';
	return true;
}

/*
 * The legacy transport's session in the query: sessionId (TypeScript) or
 * session_id (Python). Servers parse queries their own way, so anything
 * they could read differently sets *ambiguous and gives NULL: the
 * parameter twice, a name that decodes to one of these or extends one
 * (sessionId[]=, which Express reads as sessionId), a value in
 * percent-encoding or longer than a session id may be. Other names are
 * not ours to judge.
 */
static char *query_session_id(const char *url, bool *ambiguous)
{
	static const char *const names[] = { "sessionId", "session_id" };
	const char *q = strchr(url, '?'), *found = NULL;
	size_t n = 0;

	*ambiguous = false;
	while (q) {
		size_t nl;
		char name[16];
		bool encoded, ours;

		q++;
		nl = strcspn(q, "=&#");
		if (!query_name(q, nl, name, sizeof(name), &encoded)) {
			*ambiguous = true;
			return NULL;
		}
		for (size_t i = 0; i < 2; i++) {
			size_t len = strlen(names[i]);

			if (strncmp(name, names[i], len))
				continue;
			ours = !encoded && nl == len && q[nl] == '=';
			if (!ours || found) {
				*ambiguous = true;
				return NULL;
			}
			found = q + len + 1;
			n = strcspn(found, "&#");
		}
		q = strchr(q, '&');
	}
	if (!found || n == 0)
		return NULL;
	if (n > MW_SESSION_MAX || memchr(found, '%', n) ||
	    memchr(found, '+', n)) {
		*ambiguous = true;
		return NULL;
	}
	return strndup(found, n);
}

static void exchange_free(struct exchange *x)
{
	for (size_t i = 0; i < x->nwaits; i++) {
		if (!x->answered_elsewhere)
			mw_pairing_drop(x->pairing, x->waits[i].key,
					x->waits[i].seq, !x->no_later_answer);
		free(x->waits[i].key);
	}
	free(x->waits);
	free(x->path);
	free(x->session);
	mw_buf_free(&x->local);
	free(x);
}

/* MCP: a session id is visible ASCII (0x21 to 0x7E) only. */
static bool valid_session_id(const char *sid)
{
	size_t n = strlen(sid);

	return n && n <= MW_SESSION_MAX && mw_http_visible_ascii(sid);
}

/*
 * False when the key does not fit: such a request is recorded unpaired.
 * Its scope, the server and the session, is its first *scope_len bytes.
 */
static bool pair_key(char *out, size_t outlen, const struct mw_conn *c,
		     const char *session, const char *dir, const char *id,
		     size_t *scope_len)
{
	const char *parts[] = { c->server->name, session, dir, id };
	size_t len = 0;

	for (size_t i = 0; i < 4; i++) {
		size_t n = strlen(parts[i]);

		if (n + 1 > outlen - len)
			return false;
		memcpy(out + len, parts[i], n);
		len += n;
		if (i == 1)
			*scope_len = len;
		out[len++] = i < 3 ? '\n' : '\0';
	}
	return true;
}

/* Nothing can answer the session's requests any more. */
static void end_pair_scope(struct mw_conn *c, const char *session)
{
	char key[512 + MW_SESSION_MAX];
	size_t scope_len;

	if (c->server && session &&
	    pair_key(key, sizeof(key), c, session, "", "", &scope_len))
		mw_pairing_end_scope(c->px->pairing, key, scope_len);
}

/* ---- audit ------------------------------------------------------------ */

static void base_event(struct mw_conn *c, struct mw_audit_event *ev,
		       enum mw_event_kind kind)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	ev->ts_us = mw_now_us();
	ev->conn_id = c->id;
	ev->server = c->server ? c->server->name : NULL;
}

/* s with its JSON escapes decoded leniently, NUL-terminated, to free
 * (*dlen bytes); NULL when out of memory. */
static char *decoded_copy(const char *s, size_t len, size_t *dlen)
{
	char *d = malloc(len + 1);

	if (!d)
		return NULL;
	*dlen = mw_json_unescape_lenient(d, s, len);
	d[*dlen] = '\0';
	return d;
}

/*
 * Free text masked by plan: a quoted escape must not hide a value, so the
 * text is read with its escapes decoded, and shown so when something was
 * masked (*out, to free; NULL when nothing was). The values masked, or -1.
 */
static long mask_free_text(struct mw_masker *m, const struct mw_mask_plan *plan,
			   const char *text, char **out,
			   struct mw_mask_counts *counts)
{
	size_t len = strlen(text), n;
	char *decoded = NULL;
	long found;

	*out = NULL;
	if (memchr(text, '\\', len)) {
		decoded = decoded_copy(text, len, &len);
		if (!decoded)
			return -1;
		text = decoded;
	}
	found = mw_mask_text(m, plan, text, len, out, &n, counts);
	free(decoded);
	return found;
}

/* The rules of a place (MW_MASK_IN_AUDIT, MW_MASK_TO_CLIENT) for what
 * no tool's payload holds; false when none apply. */
static bool text_plan(const struct mw_conn *c, unsigned place,
		      struct mw_mask_plan *plan)
{
	return c->px->masker &&
	       mw_masker_plan(c->px->masker, c->server ? c->server->name : NULL,
			      NULL, place | MW_MASK_ANY_TOOL, plan);
}

/*
 * Free text about a message (a parse error quotes the bytes near it) as
 * the trail (place MW_MASK_IN_AUDIT) or the client (MW_MASK_TO_CLIENT) may
 * read it: masked by their rules, NULL when nothing needed masking. On a
 * masking failure, a placeholder.
 */
static char *masked_detail(struct mw_conn *c, unsigned place,
			   const char *detail, json_t **masked)
{
	struct mw_mask_counts counts = { 0 };
	struct mw_mask_plan plan;
	char *out;

	*masked = NULL;
	if (!detail || !text_plan(c, place, &plan))
		return NULL;
	if (mask_free_text(c->px->masker, &plan, detail, &out, &counts) < 0)
		return strdup("(detail withheld: it could not be masked)");
	*masked = mw_mask_counts_json(c->px->masker, &counts);
	return out;
}

/*
 * Free text for the daemon's log, which is a trail too: masked by the
 * same rules; s itself when nothing needed masking (*tofree: to free).
 */
static const char *log_safe(struct mw_conn *c, const char *s, char **tofree)
{
	json_t *counts;

	*tofree = masked_detail(c, MW_MASK_IN_AUDIT, s, &counts);
	json_decref(counts);
	return *tofree ? *tofree : s;
}

/* counts with more's added (a new object to json_decref), NULL on failure. */
static json_t *counts_merged(const json_t *counts, const json_t *more)
{
	json_t *all = counts ? json_deep_copy(counts) : json_object();
	const char *k;
	json_t *v;

	if (!all)
		return NULL;
	json_object_foreach ((json_t *)more, k, v) {
		json_int_t had = json_integer_value(json_object_get(all, k));

		if (json_object_set_new(
			    all, k,
			    json_integer(had + json_integer_value(v)))) {
			json_decref(all);
			return NULL;
		}
	}
	return all;
}

/* What the trail records of a value that cannot be masked: not it. */
#define WITHHELD_UNMASKABLE "(withheld: it could not be masked)"

/* What a session id that holds a value is recorded as: this, then a
 * token of the whole id. */
#define MW_MASKED_SESSION "masked "

/*
 * A session id as the trail records it (*out, to free; NULL: as it came).
 * Masked: a server may make its ids of what the rules hide (a JWT of the
 * user's claims), and a client may name any. Yet the trail groups a
 * session's events by it (replay, the views), so a masked id must still
 * be one session's, and only its: it becomes a keyed token of the whole
 * id as it came (mw_masker_token), not the id with its values masked,
 * which merges ids that differ in an escape, a case or a separator
 * inside a value. The text starts with MW_MASKED_SESSION, whose space no
 * session id the daemon keeps has (valid_session_id), so that no peer can
 * name a raw id that reads as another session's masked one. Most ids hold
 * no value and are kept. An id that cannot be searched is masked all the
 * same. Returns the values masked (at least 1 when masked), or -1 when
 * the id cannot be recorded at all.
 */
static long trail_session_id(struct mw_masker *m,
			     const struct mw_mask_plan *plan, const char *sid,
			     char **out, struct mw_mask_counts *counts)
{
	char tok[2 * MW_MASK_TOKEN_BYTES + 1], *masked;
	long n;

	*out = NULL;
	n = mask_free_text(m, plan, sid, &masked, counts);
	free(masked);
	if (!n)
		return 0;
	if (mw_masker_token(m, "session", sid, strlen(sid), tok) ||
	    asprintf(out, MW_MASKED_SESSION "%s", tok) < 0) {
		*out = NULL;
		return -1;
	}
	return n > 0 ? n : 1;
}

/*
 * Submits ev to the trail with what the peers chose outside any payload
 * masked by the trail's rules for any tool: the request target (a token
 * in the query, an address in the path), a method the specification does
 * not name (a client's own, judged first: what the policy matched is the
 * real one; the specification's are kept, which the views and replay
 * read), and the session id (trail_session_id). What cannot be masked is
 * recorded withheld, the event all the same. 0 when the trail cannot
 * take it.
 */
static uint64_t submit_event(struct mw_conn *c, struct mw_audit_event *ev)
{
	struct mw_masker *m = c->px->masker;
	struct mw_audit_event rec = *ev;
	struct mw_mask_counts counts = { 0 };
	struct mw_mask_plan plan;
	char *path = NULL, *method = NULL, *session = NULL;
	json_t *more = NULL, *all = NULL;
	uint64_t seq = 0;

	if (text_plan(c, MW_MASK_IN_AUDIT, &plan)) {
		if (ev->http_path &&
		    mask_free_text(m, &plan, ev->http_path, &path, &counts) < 0)
			rec.http_path = WITHHELD_UNMASKABLE;
		else if (path)
			rec.http_path = path;
		/* a method is a JSON string, masked as params' strings are */
		if (ev->method && !mw_mcp_method_known(ev->method)) {
			size_t n;

			if (mw_mask_text(m, &plan, ev->method,
					 strlen(ev->method), &method, &n,
					 &counts) < 0)
				rec.method = WITHHELD_UNMASKABLE;
			else if (method)
				rec.method = method;
		}
		if (ev->session_id) {
			if (trail_session_id(m, &plan, ev->session_id, &session,
					     &counts) < 0)
				rec.session_id =
					MW_MASKED_SESSION WITHHELD_UNMASKABLE;
			else if (session)
				rec.session_id = session;
		}
		if (counts.total) {
			more = mw_mask_counts_json(m, &counts);
			all = more ? counts_merged(ev->masked, more) : NULL;
			if (!all)
				goto out;
			rec.masked = all;
		}
	}
	seq = mw_audit_submit(c->px->audit, &rec);
out:
	json_decref(all);
	json_decref(more);
	free(path);
	free(method);
	free(session);
	return seq;
}

static void record_http_error(struct mw_conn *c, const char *http_method,
			      const char *path, int status, const char *detail)
{
	struct mw_audit_event ev;
	json_t *masked;
	char *safe = masked_detail(c, MW_MASK_IN_AUDIT, detail, &masked);

	base_event(c, &ev, MW_EV_HTTP_ERROR);
	ev.http_method = http_method;
	ev.http_path = path;
	ev.http_status = status;
	ev.detail = safe ? safe : detail;
	ev.masked = masked;
	ev.session_id = c->session;
	c->px->st.http_errors++;
	if (!submit_event(c, &ev))
		log_warn("conn %llu: audit queue full, error not recorded: %s",
			 (unsigned long long)c->id, ev.detail);
	json_decref(masked);
	free(safe);
}

/* What a tools listing loses, and why: an error of its answer. */
__attribute__((format(printf, 2, 3))) static void
record_listing_error(struct mw_conn *c, const char *fmt, ...)
{
	char detail[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	record_http_error(c, NULL, NULL, c->resp_status, detail);
}

/* The client's rules for what any tool of the server sends; false when
 * none apply. */
static bool client_text_plan(const struct mw_conn *c, struct mw_mask_plan *plan)
{
	return c->px->masker && c->server &&
	       mw_masker_plan(c->px->masker, c->server->name, NULL,
			      MW_MASK_TO_CLIENT | MW_MASK_ANY_TOOL, plan);
}

/* Whether the server's messages to the client are masked at all. */
static bool masks_for_client(const struct mw_conn *c)
{
	struct mw_mask_plan plan;

	return client_text_plan(c, &plan);
}

/* What the client got masked outside JSON-RPC, on record with its counts
 * (what: where). -1 when the trail cannot take it: it must not pass. */
static int record_client_masking(struct mw_conn *c, const struct exchange *x,
				 const char *what,
				 const struct mw_mask_counts *counts)
{
	struct mw_audit_event ev;
	bool ok;

	base_event(c, &ev, MW_EV_HTTP_ERROR);
	ev.session_id = c->session;
	ev.http_method = x ? x->http_method : NULL;
	ev.http_path = x ? x->path : NULL;
	ev.http_status = c->resp.head.status;
	ev.detail = what;
	ev.masked = mw_mask_counts_json(c->px->masker, counts);
	ok = ev.masked && submit_event(c, &ev);
	json_decref(ev.masked);
	return ok ? 0 : -1;
}

/*
 * Whether text that is not JSON, once masked as it reads (masked), shows
 * a value with its escapes decoded that the scan of it as it is did not
 * find: an escape hid it, and the text cannot be masked (it could be
 * JSON with a duplicate key, or a client could decode it). Comparing
 * counts would not do (one escape can break a value the scan saw while
 * another makes one it did not), nor finding any value (some masks read
 * as a value again: a partial url_credentials, a custom pattern's own
 * token): the values found decoded must each be one found as it is. A
 * failure, or more values than are compared, says yes.
 */
#define HIDDEN_CHECK_MAX 64

static bool same_value_in(const char *v, size_t n, const char *text,
			  const struct mw_mask_span *sp, long nsp)
{
	for (long i = 0; i < nsp; i++)
		if (sp[i].end - sp[i].start == n &&
		    !memcmp(text + sp[i].start, v, n))
			return true;
	return false;
}

static bool escapes_hide_values(struct mw_masker *m,
				const struct mw_mask_plan *plan,
				const char *masked, size_t len)
{
	struct mw_mask_span seen[HIDDEN_CHECK_MAX], sp[HIDDEN_CHECK_MAX];
	size_t dlen;
	char *decoded = decoded_copy(masked, len, &dlen);
	long nseen = -1, n = -1;
	bool hidden;

	if (decoded) {
		nseen = mw_mask_find(m, plan->detectors, masked, len, seen,
				     HIDDEN_CHECK_MAX);
		n = mw_mask_find(m, plan->detectors, decoded, dlen, sp,
				 HIDDEN_CHECK_MAX);
	}
	hidden = n < 0 || nseen < 0 || n > HIDDEN_CHECK_MAX ||
		 nseen > HIDDEN_CHECK_MAX;
	for (long i = 0; !hidden && i < n; i++)
		hidden = !same_value_in(decoded + sp[i].start,
					sp[i].end - sp[i].start, masked, seen,
					nseen);
	free(decoded);
	return hidden;
}

/*
 * Masks what the client reads outside JSON-RPC: as JSON when it is JSON,
 * its escapes decoded as the client's parser decodes them (the text is
 * then rewritten: json_flags as json_dumps takes them, 0 for compact), else
 * as text. Text whose escapes, decoded, show a value the text scan missed
 * is refused (JSON with a duplicate key, say). Returns the values masked
 * (*out, to free, *outlen bytes), 0 (*out NULL), or -1.
 */
static long mask_text_for_client(struct mw_masker *m,
				 const struct mw_mask_plan *plan, const char *s,
				 size_t len, size_t json_flags, char **out,
				 size_t *outlen, struct mw_mask_counts *counts)
{
	struct mw_buf b = { 0 };
	json_error_t jerr;
	json_t *j;
	long n;

	*out = NULL;
	*outlen = 0;
	j = mw_json_loadb(s, len,
			  JSON_DECODE_ANY | JSON_REJECT_DUPLICATES |
				  JSON_ALLOW_NUL,
			  &jerr);
	if (!j) {
		n = mw_mask_text(m, plan, s, len, out, outlen, counts);
		if (n >= 0 && memchr(s, '\\', len) &&
		    escapes_hide_values(m, plan, n > 0 ? *out : s,
					n > 0 ? *outlen : len)) {
			free(*out);
			*out = NULL;
			*outlen = 0;
			return -1;
		}
		return n;
	}
	n = mw_mask_json(m, plan, &j, counts);
	if (n > 0 && json_flags) {
		*out = json_dumps(j,
				  json_flags | JSON_COMPACT | JSON_ENCODE_ANY);
		*outlen = *out ? strlen(*out) : 0;
		if (!*out)
			n = -1;
	} else if (n > 0) {
		if (mw_json_write(&b, j)) {
			mw_buf_free(&b);
			n = -1;
		} else {
			*outlen = mw_buf_used(&b);
			*out = b.data;
		}
	}
	json_decref(j);
	return n;
}

/*
 * A body the client reads that is not JSON-RPC (an error page), masked by
 * the rules for the client, whatever tool they name (no request says
 * which). *out (to free, *outlen bytes) when values were masked, which is
 * recorded with their counts. 0, or -1: it could not be masked and must not
 * pass.
 */
static int mask_client_text(struct mw_conn *c, const struct exchange *x,
			    const char *what, const char *data, size_t len,
			    char **out, size_t *outlen)
{
	struct mw_mask_counts counts = { 0 };
	struct mw_mask_plan plan;
	long n;

	*out = NULL;
	*outlen = 0;
	if (!len || !client_text_plan(c, &plan))
		return 0;
	n = mask_text_for_client(c->px->masker, &plan, data, len, 0, out,
				 outlen, &counts);
	if (n <= 0)
		return n < 0 ? -1 : 0;
	if (record_client_masking(c, x, what, &counts)) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* How the messages of a batch are recorded, beyond the messages. */
struct record_opts {
	const char *dir; /* "c2s" or "s2c" */
	/* per message, from mw_judge_batch(); NULL: nothing was judged */
	const struct mw_policy_decision *d;
	const char *detail; /* e.g. who answered; NULL */
	/* the body the batch came in, for masking's fast path; NULL: none */
	const char *raw;
	size_t raw_len;
	bool rewritten; /* out: a result was changed (tools/list filtered,
			   values masked) */
	uint64_t last_seq; /* out: the seq of the last event recorded */
};

/*
 * A result on its way to the client, once paired with its request: a
 * tools/list result loses the tools this client can never call.
 */
static void record_tool_event(struct mw_conn *c, enum mw_event_kind kind,
			      const char *tool, const char *detail)
{
	struct mw_audit_event ev;
	json_t *masked;
	/* the trail's tool column masked by the audit rules, as a request's
	 * is (record_batch): a server's tool name can be a value they hide */
	char *safe = masked_detail(c, MW_MASK_IN_AUDIT, tool, &masked);

	base_event(c, &ev, kind);
	ev.tool = safe ? safe : tool;
	ev.detail = detail;
	ev.masked = masked;
	ev.session_id = c->session;
	if (!submit_event(c, &ev))
		log_warn("conn %llu: audit queue full, not recorded: %s %s",
			 (unsigned long long)c->id, ev.tool, detail);
	json_decref(masked);
	free(safe);
}

/*
 * A listing longer than this is withheld whole: each of its tools is
 * pinned and judged, and more than a server's pins hold could not all be
 * anyway. Of the tools one listing withholds, this many are recorded one
 * by one, the rest in one event.
 */
#define MW_MAX_LISTED_TOOLS (4 * MW_PINS_MAX_TOOLS)
#define MW_TOOL_EVENTS_MAX 8

/*
 * Every tool definition a server lists is compared with its pin. One that
 * cannot be pinned (a name over the bound, the server's tool count over
 * it) could change unseen: it is withheld. Returns how many were.
 */
static size_t pin_tools(struct mw_conn *c, json_t *result)
{
	json_t *tools = json_object_get(result, "tools"), *def;
	char accepted[MW_PIN_HEX], seen[MW_PIN_HEX], detail[256];
	enum mw_pin_state state;
	size_t i = 0, withheld = 0;

	while (i < json_array_size(tools)) {
		const char *tool;

		def = json_array_get(tools, i);
		tool = json_string_value(json_object_get(def, "name"));
		if (!tool) {
			i++;
			continue;
		}
		if (mw_pins_see(c->px->pins, c->server->name, def, &state,
				accepted, seen)) {
			if (withheld < MW_TOOL_EVENTS_MAX)
				record_listing_error(
					c,
					"tools/list: tool %.80s cannot be "
					"pinned (name over %d bytes, or over "
					"%d tools): withheld",
					tool, MW_PINS_MAX_NAME,
					MW_PINS_MAX_TOOLS);
			json_array_remove(tools, i);
			withheld++;
			continue;
		}
		if (state == MW_PIN_NEW) {
			snprintf(detail, sizeof(detail),
				 "first definition pinned: %s", seen);
			record_tool_event(c, MW_EV_TOOL_PINNED, tool, detail);
		} else if (state == MW_PIN_CHANGED) {
			char *tool_buf;

			snprintf(detail, sizeof(detail),
				 "definition changed: accepted %s, now %s",
				 accepted, seen);
			log_warn("%s: tool %s: %s", c->server->name,
				 log_safe(c, tool, &tool_buf), detail);
			free(tool_buf);
			record_tool_event(c, MW_EV_TOOL_CHANGED, tool, detail);
		}
		i++;
	}
	if (withheld > MW_TOOL_EVENTS_MAX)
		record_listing_error(c,
				     "tools/list: %zu more tools cannot be "
				     "pinned: withheld",
				     withheld - MW_TOOL_EVENTS_MAX);
	/* Once per listing; a failure is logged, the pins in memory hold. */
	mw_pins_save(c->px->pins);
	return withheld;
}

static const char *tool_name_at(const json_t *tools, size_t i)
{
	return json_string_value(
		json_object_get(json_array_get(tools, i), "name"));
}

struct listed_name {
	const char *name;
	size_t at;
};

static int listed_name_cmp(const void *a, const void *b)
{
	const struct listed_name *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	return r ? r : (x->at > y->at) - (x->at < y->at);
}

/* Removes the tools marked in drop, from the last: one pass. */
static size_t remove_marked(json_t *tools, const bool *drop)
{
	size_t removed = 0;

	for (size_t i = json_array_size(tools); i-- > 0;)
		if (drop[i] && !json_array_remove(tools, i))
			removed++;
	return removed;
}

/*
 * Two tools of one name: which one a client keeps is its own choice, and
 * one could hide a changed definition behind the other. All of them go.
 * Found by sorting the names: a listing can hold thousands.
 */
static size_t strip_duplicate_tools(struct mw_conn *c, json_t *tools)
{
	size_t n = json_array_size(tools), named = 0, told = 0, removed;
	struct listed_name *v = calloc(n ? n : 1, sizeof(*v));
	bool *drop = calloc(n ? n : 1, sizeof(*drop));

	if (!v || !drop) {
		record_listing_error(c, "tools/list: out of memory: withheld");
		removed = json_array_size(tools);
		json_array_clear(tools);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = tool_name_at(tools, i);

		if (name)
			v[named++] = (struct listed_name){ name, i };
	}
	qsort(v, named, sizeof(*v), listed_name_cmp);
	for (size_t a = 0, b; a < named; a = b) {
		for (b = a + 1; b < named && !strcmp(v[a].name, v[b].name); b++)
			drop[v[b].at] = true;
		if (b - a == 1)
			continue;
		drop[v[a].at] = true;
		if (told++ < MW_TOOL_EVENTS_MAX)
			record_listing_error(c,
					     "tools/list: tool %.120s listed "
					     "more than once: withheld",
					     v[a].name);
	}
	if (told > MW_TOOL_EVENTS_MAX)
		record_listing_error(c,
				     "tools/list: %zu more tool names listed "
				     "more than once: withheld",
				     told - MW_TOOL_EVENTS_MAX);
	removed = remove_marked(tools, drop);
out:
	free(v);
	free(drop);
	return removed;
}

/*
 * A result on its way to the client: a tools/list result (paired with its
 * request, or shaped like one: a hostile server could answer with an id
 * that pairs with nothing) is pinned, then loses the tools this client can
 * never call.
 */
static void shape_result(struct mw_conn *c, const struct mw_rpc_msg *m,
			 unsigned pair_flags, struct record_opts *o)
{
	json_t *tools = json_object_get(m->result, "tools");
	size_t removed;

	if (!json_is_array(tools) &&
	    !((pair_flags & MW_PAIR_TOOLS_LIST) && json_is_object(m->result)))
		return;
	if (json_array_size(tools) > MW_MAX_LISTED_TOOLS) {
		record_listing_error(c,
				     "tools/list: %zu tools, over %d: the "
				     "listing is withheld",
				     json_array_size(tools),
				     MW_MAX_LISTED_TOOLS);
		c->px->st.tools_hidden += json_array_size(tools);
		json_array_clear(tools);
		o->rewritten = true;
		return;
	}
	removed = json_is_array(tools) ? strip_duplicate_tools(c, tools) : 0;
	/* Pinned as the server said it, before this client's view. */
	if (c->px->pins)
		removed += pin_tools(c, m->result);
	removed += mw_judge_filter_tools(c->px->policy, c->px->pins, &c->who,
					 c->server->name, m->result);
	if (removed) {
		c->px->st.tools_hidden += removed;
		o->rewritten = true;
	}
}

/* What a request's answer needs known of it (MW_PAIR_*). */
static unsigned pair_flags_of(const char *method)
{
	if (!strcmp(method, "tools/list"))
		return MW_PAIR_TOOLS_LIST;
	/* the MCP tasks of 2025-11-25: tasks/result returns the output of
	 * the tools/call that made the task */
	if (!strncmp(method, "tasks/", 6))
		return MW_PAIR_ANY_TOOL;
	return 0;
}

/*
 * Masks one message's payload, the member of msg (params, result or
 * error; tool: its request's): in place when it goes to the client (a
 * server's message; a bare integer result is replaced in msg, so borrowed
 * pointers to it are stale), then on a copy for the trail, which records
 * *copy when it is set (to json_decref). -1: out of memory or a failed
 * scan, the message must not pass.
 */
static int mask_payload(struct mw_conn *c, bool to_client, const char *tool,
			unsigned unknown, json_t *msg, const char *member,
			json_t **copy, struct mw_mask_counts *counts,
			bool *rewritten)
{
	struct mw_masker *m = c->px->masker;
	struct mw_mask_plan trail, client = { 0 };
	struct mw_mask_counts client_counts = { 0 };
	json_t *payload = json_object_get(msg, member), *dup = NULL;
	long n;

	*copy = NULL;
	if (!payload)
		return 0;
	if (to_client && !mw_masker_plan(m, c->server->name, tool,
					 MW_MASK_TO_CLIENT | unknown, &client))
		client.detectors = 0;
	/*
	 * The trail records what the client got when that masked all the
	 * trail asks, in the trail's styles. Otherwise its copy is masked
	 * from the server's message: the trail's detectors in its styles,
	 * and what the client's rules mask besides.
	 */
	if (mw_masker_plan(m, c->server->name, tool, MW_MASK_IN_AUDIT | unknown,
			   &trail) &&
	    !mw_mask_plan_covers(&client, &trail)) {
		for (unsigned d = 0; d < MW_MASK_MAX_DETECTORS; d++)
			if ((client.detectors & (1ull << d)) &&
			    !(trail.detectors & (1ull << d)))
				trail.style[d] = client.style[d];
		trail.detectors |= client.detectors;
		trail.binary |= client.binary;
		dup = json_deep_copy(payload);
		if (!dup)
			return -1;
	}
	if (client.detectors) {
		json_t *mine = json_incref(payload);

		/* with a copy for the trail, its scan counts for both */
		n = mw_mask_json(m, &client, &mine,
				 dup ? &client_counts : counts);
		if (n > 0 && mine != payload &&
		    json_object_set(msg, member, mine))
			n = -1;
		json_decref(mine);
		if (n < 0)
			goto fail;
		*rewritten |= n > 0;
	}
	if (!dup)
		return 0;
	n = mw_mask_json(m, &trail, &dup, counts);
	if (n < 0)
		goto fail;
	if (n > 0)
		*copy = dup;
	else
		json_decref(dup);
	return 0;
fail:
	json_decref(dup);
	return -1;
}

/*
 * Whether a batch may need masking: the fast path over the bytes it came
 * in (any detector of any rule), else yes.
 */
static bool may_need_masking(struct mw_conn *c, const struct record_opts *o)
{
	struct mw_masker *m = c->px->masker;

	return m && (!o->raw || mw_mask_candidates(m, mw_masker_used(m), o->raw,
						   o->raw_len));
}

/*
 * Remembers that a request of x waits (see struct exchange). Without the
 * memory, its entry only stays until the table needs the room.
 */
static void exchange_wait(struct exchange *x, struct mw_pairing *pairing,
			  const char *key, uint64_t seq)
{
	struct pending_pair *w;
	char *k = strdup(key);

	w = k ? realloc(x->waits, (x->nwaits + 1) * sizeof(*w)) : NULL;
	if (!w) {
		free(k);
		return;
	}
	x->waits = w;
	x->waits[x->nwaits].key = k;
	x->waits[x->nwaits++].seq = seq;
	x->pairing = pairing;
	x->held += sizeof(*w) + strlen(k) + 1;
}

/*
 * The id as the trail records it (*out, to free; NULL: as it came), masked
 * by the server's audit rules whatever tool they name: an id is no tool's
 * payload, and a request and its answer keep one recorded id. The client
 * rules need no say: a server's id they would mask never reaches the
 * trail (names_hold_values), and a client's id is the client's own. -1:
 * out of memory or a failed scan.
 */
static int trail_rpc_id(struct mw_conn *c, const struct mw_rpc_msg *m,
			struct mw_mask_counts *counts, char **out)
{
	struct mw_mask_plan plan;
	json_t *id;
	long n;

	*out = NULL;
	if (!m->id ||
	    !mw_masker_plan(c->px->masker, c->server->name, NULL,
			    MW_MASK_IN_AUDIT | MW_MASK_ANY_TOOL, &plan))
		return 0;
	/* a copy: masking rewrites a string in place, and the message's own
	 * id goes on to the peer as it came */
	id = json_deep_copy(json_object_get(m->json, "id"));
	if (!id)
		return -1;
	n = mw_mask_json(c->px->masker, &plan, &id, counts);
	if (n > 0)
		*out = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
	json_decref(id);
	return n < 0 || (n > 0 && !*out) ? -1 : 0;
}

/*
 * Records every message of a batch. Returns 0, or -1 when the audit trail
 * cannot take them: the caller must then refuse what carried them.
 */
static int record_batch(struct mw_conn *c, const struct mw_rpc_batch *b,
			struct exchange *x, const char *http_method,
			const char *path, struct record_opts *o)
{
	const char *peer_dir = !strcmp(o->dir, "c2s") ? "s2c" : "c2s";
	const char *sha = mw_policy_sha256(c->px->policy);
	char key[512 + MW_SESSION_MAX];
	size_t scope_len;

	bool to_client = !strcmp(o->dir, "s2c");
	bool masking = may_need_masking(c, o);

	for (size_t i = 0; i < b->n; i++) {
		const struct mw_rpc_msg *m = &b->msgs[i];
		struct mw_mask_counts counts = { 0 };
		struct mw_audit_event ev;
		json_t *recorded = NULL;
		uint64_t seq, req_seq;
		int64_t req_ts;
		unsigned flags = 0, unknown_tool = 0;
		char *req_tool = NULL, *tool = NULL, *rpc_id = NULL;
		int rc = 0;

		base_event(c, &ev, MW_EV_REQUEST);
		ev.session_id = x->has_session ? x->session : NULL;
		ev.direction = o->dir;
		if (masking && trail_rpc_id(c, m, &counts, &rpc_id)) {
			log_err("conn %llu: masking failed (out of memory): "
				"the message is refused",
				(unsigned long long)c->id);
			return -1;
		}
		ev.rpc_id = rpc_id ? rpc_id : m->id;
		ev.http_method = http_method;
		ev.http_path = path;
		ev.detail = o->detail;
		switch (m->kind) {
		case MW_RPC_REQUEST:
		case MW_RPC_NOTIFICATION:
			ev.kind = m->kind == MW_RPC_REQUEST
					  ? MW_EV_REQUEST
					  : MW_EV_NOTIFICATION;
			ev.method = m->method;
			/* m->tool points into params, which masking may
			 * rewrite in place: a copy outlives it */
			if (m->tool && !(tool = strdup(m->tool))) {
				rc = -1;
				break;
			}
			if (masking)
				rc = mask_payload(c, to_client, tool, 0,
						  m->json, "params", &recorded,
						  &counts, &o->rewritten);
			ev.params = recorded ? recorded : m->params;
			/* the trail's tool column as its params have it: a
			 * name can be a value masking hides */
			ev.tool = m->tool ? json_string_value(json_object_get(
						    ev.params, "name"))
					  : NULL;
			if (o->d) {
				ev.decision = mw_judge_decision_name(&o->d[i]);
				ev.rule = mw_judge_rule(&o->d[i]);
				ev.policy_sha256 = sha;
			}
			break;
		case MW_RPC_RESULT:
		case MW_RPC_ERROR:
			ev.kind = MW_EV_RESPONSE;
			if (m->id &&
			    pair_key(key, sizeof(key), c, x->session, peer_dir,
				     m->id, &scope_len) &&
			    mw_pairing_take(c->px->pairing, key, &req_seq,
					    &req_ts, &flags, &req_tool)) {
				ev.request_seq = req_seq;
				ev.latency_us = ev.ts_us - req_ts;
				/* a task's result is some tool's output */
				if (flags & MW_PAIR_ANY_TOOL)
					unknown_tool = MW_MASK_ANY_TOOL;
				if (flags & MW_PAIR_AMBIGUOUS) {
					/* not this tool's answer, maybe */
					free(req_tool);
					req_tool = NULL;
					unknown_tool = MW_MASK_ANY_TOOL;
					if (!ev.detail)
						ev.detail =
							"paired ambiguously: "
							"the request id was "
							"reused, every tool's "
							"masking rules apply";
				}
			} else {
				/* which tool answered is not known: every
				 * tool's rules apply */
				unknown_tool = MW_MASK_ANY_TOOL;
			}
			/* a tools listing is the server's: one a client
			 * sends as a result would set the pins */
			if (to_client)
				shape_result(c, m, flags, o);
			if (masking)
				rc = mask_payload(
					c, to_client, req_tool, unknown_tool,
					m->json, m->result ? "result" : "error",
					&recorded, &counts, &o->rewritten);
			/* m->result may be stale: masking replaces a bare
			 * integer */
			ev.result = json_object_get(m->json, "result");
			ev.error = json_object_get(m->json, "error");
			if (recorded && ev.result)
				ev.result = recorded;
			else if (recorded)
				ev.error = recorded;
			break;
		}
		free(req_tool);
		if (rc) {
			log_err("conn %llu: masking failed (out of memory): "
				"the message is refused",
				(unsigned long long)c->id);
			goto fail;
		}
		ev.masked = mw_mask_counts_json(c->px->masker, &counts);
		seq = submit_event(c, &ev);
		json_decref(ev.masked);
		if (!seq)
			goto fail;
		o->last_seq = seq;
		c->px->st.rpc_messages++;
		if (m->kind == MW_RPC_REQUEST &&
		    pair_key(key, sizeof(key), c, x->session, o->dir, m->id,
			     &scope_len)) {
			/* the servers' requests count apart from any user's:
			 * a server's flood drops only servers' requests */
			if (mw_pairing_put(c->px->pairing, key, scope_len,
					   to_client ? MW_PAIR_OWNER_SERVERS
						     : c->ident.uid,
					   seq, ev.ts_us,
					   pair_flags_of(m->method), tool))
				goto fail;
			/* the server's requests are answered in other
			 * exchanges, the client's in this one */
			if (!to_client)
				exchange_wait(x, c->px->pairing, key, seq);
		}
		json_decref(recorded);
		free(tool);
		free(rpc_id);
		continue;
	fail:
		json_decref(recorded);
		free(tool);
		free(rpc_id);
		return -1;
	}
	return 0;
}

/* ---- local responses ---------------------------------------------------- */

/*
 * What pairs the requests that carry no session: their answers come on
 * their own connection only. The space keeps it apart from every session
 * id a client can name (visible ASCII only, valid_session_id).
 */
static const char *conn_scope(const struct mw_conn *c, char out[32])
{
	snprintf(out, 32, "conn %llu", (unsigned long long)c->id);
	return out;
}

static struct exchange *exchange_new(struct mw_conn *c, const char *method,
				     const char *path, const char *session)
{
	struct exchange *x = calloc(1, sizeof(*x));
	char scope[32];

	if (!x)
		return NULL;
	snprintf(x->http_method, sizeof(x->http_method), "%s", method);
	x->path = strdup(path ? path : "");
	x->has_session = session != NULL;
	x->session = strdup(session ? session : conn_scope(c, scope));
	x->start_us = mw_now_us();
	if (!x->path || !x->session) {
		exchange_free(x);
		return NULL;
	}
	x->held = sizeof(*x) + strlen(x->path) + strlen(x->session) + 2;
	return x;
}

static void exchange_push(struct mw_conn *c, struct exchange *x)
{
	if (c->xq_tail)
		c->xq_tail->next = x;
	else
		c->xq_head = x;
	c->xq_tail = x;
	c->nx++;
}

/* The first exchange, out of the queue. */
static struct exchange *exchange_take(struct mw_conn *c)
{
	struct exchange *x = c->xq_head;

	c->xq_head = x->next;
	if (!c->xq_head)
		c->xq_tail = NULL;
	c->nx--;
	x->next = NULL;
	return x;
}

static void exchange_pop(struct mw_conn *c)
{
	exchange_free(exchange_take(c));
}

/*
 * Queues a response made here. Bodies are JSON-RPC errors for MCP POSTs
 * (clients then show a proper error) and plain text otherwise.
 */
/* Queues a response made here, body as given (NULL: out of memory). */
static void respond_local_body(struct mw_conn *c, const char *http_method,
			       const char *path, int status, const char *ctype,
			       const char *body, bool close_after)
{
	struct exchange *x = exchange_new(c, http_method, path, c->session);

	if (!x) {
		conn_close(c, "out of memory");
		return;
	}
	x->is_local = true;
	x->close_after = close_after;
	if (!body ||
	    mw_buf_printf(&x->local,
			  "HTTP/1.1 %d %s\r\n"
			  "Content-Type: %s\r\n"
			  "Content-Length: %zu\r\n"
			  "%s\r\n%s",
			  status, mw_http_reason(status), ctype, strlen(body),
			  close_after ? "Connection: close\r\n" : "", body)) {
		exchange_free(x);
		conn_close(c, "out of memory");
		return;
	}
	x->held += x->local.cap;
	exchange_push(c, x);
	if (c->xq_head == x)
		start_next_exchange(c);
}

static void respond_local_code(struct mw_conn *c, const char *http_method,
			       const char *path, int status, int rpc_code,
			       const char *reason, const char *rpc_id,
			       bool close_after)
{
	const char *ctype = "application/json";
	char *body = NULL;

	if (!strcmp(http_method, "POST"))
		body = mw_rpc_error_body(rpc_id, rpc_code, reason);
	if (!body) {
		ctype = "text/plain; charset=utf-8";
		if (asprintf(&body, "mcpwarden: %s\n", reason) < 0)
			body = NULL;
	}
	respond_local_body(c, http_method, path, status, ctype, body,
			   close_after);
	free(body);
}

static void respond_local(struct mw_conn *c, const char *http_method,
			  const char *path, int status, const char *reason,
			  const char *rpc_id, bool close_after)
{
	respond_local_code(c, http_method, path, status, MW_RPC_INVALID_REQUEST,
			   reason, rpc_id, close_after);
}

/* Flushes locally answered exchanges that reached the front. */
static void start_next_exchange(struct mw_conn *c)
{
	while (c->xq_head && c->xq_head->is_local) {
		struct exchange *x = c->xq_head;
		bool close_after = x->close_after;

		if (mw_buf_append(&c->c.out, mw_buf_head(&x->local),
				  mw_buf_used(&x->local))) {
			conn_close(c, "out of memory");
			return;
		}
		exchange_pop(c);
		if (close_after) {
			c->closing = true;
			return;
		}
	}
}

/* ---- the bytes connections hold ------------------------------------------ */

/*
 * The memory a connection holds for its messages: what its buffers have
 * allocated (a partly drained one keeps its size), the heads being
 * parsed, the event being assembled, and its queue of exchanges (paths,
 * the ids they wait for, answers made here).
 */
static size_t conn_buffered(const struct mw_conn *c)
{
	size_t n = c->req_body.cap + c->resp_body.cap + c->c.out.cap +
		   c->u.out.cap + mw_http_held(&c->req) +
		   mw_http_held(&c->resp) +
		   (c->sse_ready ? mw_sse_held(&c->sse) : 0);

	for (const struct exchange *x = c->xq_head; x; x = x->next)
		n += x->held;
	return n;
}

static void recount_buffered(struct mw_conn *c)
{
	if (c->holder) /* none once closed */
		mw_budget_move(&c->px->budget, c->holder, &c->buffered,
			       conn_buffered(c));
}

/*
 * Whether a message may grow by more bytes: each is bounded on its own,
 * all connections together by limits.max_buffered_bytes, one user's by a
 * quarter of it. Otherwise err says so and the message is refused.
 */
static bool may_buffer(struct mw_conn *c, size_t more, char *err, size_t errlen)
{
	struct mw_proxy *px = c->px;

	recount_buffered(c);
	if (c->holder && mw_budget_allows(&px->budget, c->holder, more))
		return true;
	px->st.buffers_full++;
	if (c->holder && c->holder->used + more > px->budget.per_owner)
		snprintf(err, errlen,
			 "uid %u's connections hold all the message bytes "
			 "they may (%zu: a quarter of "
			 "limits.max_buffered_bytes); try again",
			 c->ident.uid, px->budget.per_owner);
	else
		snprintf(err, errlen,
			 "the daemon holds all the message bytes it may "
			 "(%zu in all: limits.max_buffered_bytes); try again",
			 px->budget.limit);
	return false;
}

/* ---- requests (client -> server) ---------------------------------------- */

static int req_on_head(void *arg, struct mw_http_head *h)
{
	struct mw_conn *c = arg;
	const struct mw_limits *lim = &c->px->cfg->limits;

	if (h->content_length > (int64_t)lim->max_body_bytes) {
		snprintf(c->req.err, sizeof(c->req.err),
			 "request body of %lld bytes is over the limit of %zu",
			 (long long)h->content_length, lim->max_body_bytes);
		return -1;
	}
	if (h->upgrade) {
		snprintf(c->req.err, sizeof(c->req.err),
			 "protocol upgrade is not supported");
		return -1;
	}
	mw_buf_reset(&c->req_body);
	c->req_refused_status = 0;
	/* Every head: a body-less request's exchange is held too. Before a
	 * 100 Continue invites the body. */
	if (!may_buffer(c,
			h->content_length > 0 ? (size_t)h->content_length : 0,
			c->req.err, sizeof(c->req.err))) {
		c->req_refused_status = 503;
		return -1;
	}
	/* We hold the whole body before judging it, so we ask for it. */
	if (h->expect_continue && c->nx == 0 && !c->upstream_failed) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

		if (mw_buf_append(&c->c.out, cont, sizeof(cont) - 1))
			return -1;
	}
	return 0;
}

static int req_on_body(void *arg, const char *data, size_t len)
{
	struct mw_conn *c = arg;

	if (mw_buf_used(&c->req_body) + len >
	    c->px->cfg->limits.max_body_bytes) {
		snprintf(c->req.err, sizeof(c->req.err),
			 "request body over the limit of %zu bytes",
			 c->px->cfg->limits.max_body_bytes);
		return -1;
	}
	if (!may_buffer(c, len, c->req.err, sizeof(c->req.err))) {
		c->req_refused_status = 503;
		return -1;
	}
	return mw_buf_append(&c->req_body, data, len) ? -1 : 0;
}

/* Connection tokens name more hop-by-hop headers (RFC 9110 7.6.1). */
/* "close" and "keep-alive" are the only tokens seen in practice. */
static bool names_extra_headers(const char *conn)
{
	for (const char *p = conn; p && *p;) {
		size_t n;

		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		n = strcspn(p, ", \t");
		if (n && !(n == 5 && !strncasecmp(p, "close", 5)) &&
		    !(n == 10 && !strncasecmp(p, "keep-alive", 10)))
			return true;
		p += n;
	}
	return false;
}

/* Headers the client's MCP stack must read as the server wrote them. */
static bool is_protocol_header(const char *name)
{
	return !strcasecmp(name, "content-type") ||
	       !strcasecmp(name, "mcp-session-id") ||
	       !strcasecmp(name, "mcp-protocol-version");
}

/*
 * The headers that travel on. A request's Accept-Encoding is replaced by
 * identity: a compressed answer could not be judged (clients inflate what
 * we would only see as bytes). With a plan (a response to a client whose
 * rules mask), values are masked as text, the protocol's headers aside.
 */
static int write_end_to_end_headers(struct mw_buf *out,
				    const struct mw_http_head *h, bool request,
				    struct mw_masker *m,
				    const struct mw_mask_plan *plan,
				    struct mw_mask_counts *counts)
{
	const char *conn = mw_http_header(h, "connection");
	bool extra = names_extra_headers(conn);

	if (request && mw_buf_cat(out, "Accept-Encoding: identity\r\n", NULL))
		return -1;
	for (size_t i = 0; i < h->nheaders; i++) {
		const struct mw_http_header *hd = &h->headers[i];

		if (mw_http_is_hop_by_hop(hd->name) ||
		    (extra && mw_http_token_in_list(conn, hd->name)) ||
		    (request && !strcasecmp(hd->name, "accept-encoding")))
			continue;
		if (plan && !is_protocol_header(hd->name)) {
			char *masked;
			size_t mlen;
			long n = mw_mask_text(m, plan, hd->value,
					      strlen(hd->value), &masked, &mlen,
					      counts);
			int rc = n < 0 || mw_buf_cat(out, hd->name, ": ",
						     n ? masked : hd->value,
						     "\r\n", NULL);

			free(masked);
			if (rc)
				return -1;
			continue;
		}
		if (mw_buf_cat(out, hd->name, ": ", hd->value, "\r\n", NULL))
			return -1;
	}
	return 0;
}

/* ---- durable before forward ----------------------------------------- */

static void unhold(struct mw_conn *c)
{
	struct mw_conn **pp = &c->px->held;

	if (!c->held)
		return;
	while (*pp && *pp != c)
		pp = &(*pp)->held_next;
	if (*pp)
		*pp = c->held_next;
	c->held = false;
	c->held_next = NULL;
}

/* What goes upstream from now on waits until event seq is durable. */
static void hold_until(struct mw_conn *c, uint64_t seq)
{
	struct mw_proxy *px = c->px;

	if (!px->cfg->audit.durable_before_forward || !seq)
		return;
	if (seq > c->hold_seq)
		c->hold_seq = seq;
	if (mw_audit_durable_seq(px->audit) >= c->hold_seq)
		return;
	/* a held connection's next request too: without it, that one
	 * waited for the spool's timer or the commit, not the next sync */
	mw_audit_want_durable(px->audit, c->hold_seq);
	if (c->held)
		return;
	c->held = true;
	c->held_since_ms = mw_now_ms();
	c->held_next = px->held;
	px->held = c;
	px->st.held_for_durability++;
}

/* The audit trail made events up to durable durable: release. */
static void on_durable(void *arg, uint64_t durable)
{
	struct mw_proxy *px = arg;
	struct mw_conn *c = px->held, *next;

	px->held = NULL;
	for (; c; c = next) {
		next = c->held_next;
		c->held_next = NULL;
		if (c->dead) {
			c->held = false;
			continue;
		}
		if (c->hold_seq > durable) {
			c->held_next = px->held;
			px->held = c;
			continue;
		}
		c->held = false;
		conn_update(c);
	}
}

static int forward_request(struct mw_conn *c, const struct mw_http_head *h)
{
	struct mw_buf *out = &c->u.out;
	size_t blen = mw_buf_used(&c->req_body);
	bool has_body = blen > 0 || !strcmp(h->method, "POST") ||
			!strcmp(h->method, "PUT") ||
			!strcmp(h->method, "PATCH");

	if (mw_buf_cat(out, h->method, " ", h->url, " HTTP/1.1\r\n", NULL) ||
	    write_end_to_end_headers(out, h, true, NULL, NULL, NULL))
		return -1;
	if (has_body &&
	    (mw_buf_cat(out, "Content-Length: ", NULL) ||
	     mw_buf_uint(out, blen, 10) || mw_buf_cat(out, "\r\n", NULL)))
		return -1;
	if (!h->keep_alive && mw_buf_cat(out, "Connection: close\r\n", NULL))
		return -1;
	if (mw_buf_append(out, "\r\n", 2) ||
	    mw_buf_append(out, mw_buf_head(&c->req_body), blen))
		return -1;
	return 0;
}

static void count_decisions(struct mw_conn *c,
			    const struct mw_policy_decision *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!d[i].rule)
			continue;
		if (d[i].action != MW_DECIDE_ALLOW)
			c->px->st.rpc_refused++;
		else if (d[i].audit_rule)
			c->px->st.rpc_would_refuse++;
	}
}

/*
 * True when the Accept list names type, its major type with any subtype,
 * or any type at all (weights such as q= are not considered).
 */
static bool client_accepts(const char *accept, const char *type)
{
	char major[64];
	int n = snprintf(major, sizeof(major), "%.*s/*",
			 (int)strcspn(type, "/"), type);

	if (n < 0 || (size_t)n >= sizeof(major))
		return false;
	for (const char *p = accept; p && *p;) {
		size_t len = strcspn(p, ",");
		char item[128];

		if (len < sizeof(item)) {
			memcpy(item, p, len);
			item[len] = '\0';
			if (media_type_is(item, type) ||
			    media_type_is(item, major) ||
			    media_type_is(item, "*/*"))
				return true;
		}
		p += len + (p[len] == ',');
	}
	return false;
}

/* Appends "name: value" lines, one per line of value (len bytes). */
static int put_sse_field(struct mw_buf *out, const char *name,
			 const char *value, size_t len)
{
	for (;;) {
		const char *nl = memchr(value, '\n', len);
		size_t n = nl ? (size_t)(nl - value) : len;

		if (mw_buf_cat(out, name, ": ", NULL) ||
		    mw_buf_append(out, value, n) || mw_buf_append(out, "\n", 1))
			return -1;
		if (!nl)
			return 0;
		value = nl + 1;
		len -= n + 1;
	}
}

/*
 * Bytes that end a line for some SSE clients, not for the standard:
 * httpx-sse before 2025-10 split on Python's str.splitlines(), which also
 * ends lines at VT, FF, FS, GS, RS, U+0085, U+2028 and U+2029. A block
 * holding one raw could be read as other events than the ones judged, and
 * an id or an event type holding one, written out again, as other lines.
 */
static bool has_line_break_lookalike(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char b = (unsigned char)s[i];

		if (b == 0x0b || b == 0x0c || (b >= 0x1c && b <= 0x1e))
			return true;
		if (b == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] == 0x85)
			return true;
		if (b == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
		    ((unsigned char)s[i + 2] == 0xa8 ||
		     (unsigned char)s[i + 2] == 0xa9))
			return true;
	}
	return false;
}

/* A CR not followed by LF. */
static bool has_lone_cr(const char *s, size_t n)
{
	for (const char *p = s; (p = memchr(p, '\r', n - (size_t)(p - s))); p++)
		if ((size_t)(p - s) + 1 >= n || p[1] != '\n')
			return true;
	return false;
}

/* A field's value to write out again: NULL when a client could read it
 * as more than one line. */
static const char *one_line_or_null(const char *v)
{
	return v && has_line_break_lookalike(v, strlen(v)) ? NULL : v;
}

/*
 * A message event carrying data (compact JSON: one line), as text to
 * free(). like: the event it replaces, whose retry and type are kept, and
 * its id with with_id; NULL for one mcpwarden makes.
 */
static char *sse_message_event(const struct mw_sse_event *like, bool with_id,
			       const char *data)
{
	/* a client that splits lines on U+2028 would read other fields */
	const char *id = like ? one_line_or_null(like->id) : NULL;
	struct mw_buf out = { 0 };
	int rc = 0;

	/* an id a client cannot be given resets its own */
	if (like && with_id)
		rc = id ? mw_buf_cat(&out, "id: ", id, "\n", NULL)
			: mw_buf_append(&out, "id:\n", 4);
	if (!rc && like && like->retry >= 0)
		rc = mw_buf_printf(&out, "retry: %ld\n", like->retry);
	if (!rc && (!like || like->event))
		rc = mw_buf_cat(&out, "event: message\n", NULL);
	/* one data line per line of data: an event's data may span lines */
	if (!rc)
		rc = put_sse_field(&out, "data", data, strlen(data));
	/* the blank line that ends the event, and a NUL */
	if (rc || mw_buf_append(&out, "\n", 1) || mw_buf_append(&out, "", 1)) {
		mw_buf_free(&out);
		return NULL;
	}
	return out.data;
}

/* s is a live event stream of from's server for the legacy session sid. */
static bool carries_legacy_session(const struct mw_conn *s,
				   const struct mw_conn *from, const char *sid)
{
	return !s->dead && s->server == from->server && s->legacy_stream &&
	       !strcmp(s->legacy_stream, sid);
}

/*
 * A legacy session is the exact text an event stream of this server, read
 * by this user, announced: servers normalise the query's value their own
 * way (Python's UUID() takes upper case, braces, urn:uuid:), so another
 * spelling of the same session would be judged and recorded apart.
 */
static bool legacy_stream_live(const struct mw_conn *from, const char *sid)
{
	for (const struct mw_conn *s = from->px->conns; s; s = s->next)
		if (carries_legacy_session(s, from, sid) &&
		    s->ident.uid == from->ident.uid)
			return true;
	return false;
}

/*
 * The legacy transport answers POSTs on the session's event stream, so a
 * refusal goes there too, between two whole events; -1 when this daemon
 * carries no such stream, or none it may write to (the caller then answers
 * on the POST itself).
 */
static int inject_legacy_answer(struct mw_conn *from, const char *sid,
				const char *body)
{
	for (struct mw_conn *s = from->px->conns; s; s = s->next) {
		char *ev;
		int rc;

		if (!carries_legacy_session(s, from, sid) ||
		    s->mode != RESP_SSE || !s->resp_head_sent)
			continue;
		/* Only into the poster's own stream (the same user in the
		 * same cgroup), and only while it is read: a client that
		 * stops reading its stream does not grow our memory. */
		if (s->ident.uid != from->ident.uid ||
		    s->ident.cgroup_id != from->ident.cgroup_id ||
		    mw_buf_used(&s->c.out) >= MW_HIGH_WATER)
			return -1;
		ev = sse_message_event(NULL, false, body);
		if (!ev)
			return -1;
		rc = client_stream_chunk(s, ev, strlen(ev));
		free(ev);
		if (rc)
			return -1;
		conn_update(s);
		return 0;
	}
	return -1;
}

/*
 * A batch the policy refused: nothing goes to the server. Every request in
 * it is answered with an error, recorded as coming from mcpwarden, where
 * the client waits for answers (the JSON body, an event stream, or the
 * legacy transport's session stream).
 */
static void refuse_batch(struct mw_conn *c, const struct mw_http_head *h,
			 struct exchange *x, const struct mw_rpc_batch *b,
			 const struct mw_policy_decision *d, size_t culprit,
			 const char *legacy_sid)
{
	const char *accept = mw_http_header(h, "accept");
	struct record_opts ro = { .dir = "s2c",
				  .detail = "answered by mcpwarden: refused "
					    "by policy" };
	struct mw_rpc_batch answer = { 0 };
	char reason[512], why[128], *body, *sse = NULL, *name_buf, *method_buf;
	const char *name, *method;

	mw_judge_reason(&d[culprit], reason, sizeof(reason));
	/* the name may be a resource's URI, credentials and all */
	name = log_safe(c, b->msgs[culprit].name ? b->msgs[culprit].name : "",
			&name_buf);
	method = log_safe(c, b->msgs[culprit].method, &method_buf);
	log_info("conn %llu (%s, pid %u): %s %s: %s", (unsigned long long)c->id,
		 c->ident.comm, c->ident.tgid, method, name, reason);
	free(name_buf);
	free(method_buf);
	body = mw_judge_refusal(b, d, culprit);
	if (!body) {
		/* Notifications only: an HTTP error, as a server would. */
		exchange_free(x);
		respond_local_code(c, h->method, h->url, 403,
				   MW_RPC_POLICY_REFUSED, reason, NULL, false);
		return;
	}
	if (!mw_rpc_parse(body, strlen(body), SIZE_MAX, &answer, why,
			  sizeof(why)) &&
	    record_batch(c, &answer, x, h->method, h->url, &ro))
		log_warn("conn %llu: audit queue full, refusal answer not "
			 "recorded",
			 (unsigned long long)c->id);
	mw_rpc_batch_free(&answer);
	exchange_free(x);
	if (legacy_sid && !inject_legacy_answer(c, legacy_sid, body)) {
		respond_local_body(c, h->method, h->url, 202,
				   "text/plain; charset=utf-8", "Accepted",
				   false);
	} else if (legacy_sid) {
		/* No stream to answer on: legacy clients ignore a POST's body
		 * but not its status, so the refusal surfaces at once rather
		 * than as a timeout. */
		respond_local_body(c, h->method, h->url, 403,
				   "application/json", body, false);
	} else if (!accept || client_accepts(accept, "application/json") ||
		   !client_accepts(accept, "text/event-stream")) {
		respond_local_body(c, h->method, h->url, 200,
				   "application/json", body, false);
	} else {
		sse = sse_message_event(NULL, false, body);
		respond_local_body(c, h->method, h->url, 200,
				   "text/event-stream", sse, false);
		free(sse);
	}
	free(body);
}

/*
 * Headers read as one value (by MCP, or by us to judge the body): a second
 * copy is forwarded too, and the peer may read the one we did not; one
 * that Connection names is dropped on the way (hop-by-hop), and the peer
 * reads none. Either is refused.
 */
static bool repeated_mcp_header(const struct mw_http_head *h, char *why,
				size_t whylen)
{
	static const char *const names[] = {
		"mcp-session-id", "mcp-protocol-version", "mcp-method",
		"mcp-name",	  "content-type",	  "content-encoding",
	};
	const char *conn = mw_http_header(h, "connection");

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (mw_http_header_count(h, names[i]) > 1) {
			snprintf(why, whylen, "header %s sent more than once",
				 names[i]);
			return true;
		}
		if (conn && mw_http_token_in_list(conn, names[i])) {
			snprintf(why, whylen,
				 "Connection names header %s, which would "
				 "not be passed on",
				 names[i]);
			return true;
		}
	}
	return false;
}

/*
 * What MCP itself says about a parsed request body before it is judged:
 * 0, or the JSON-RPC error code to refuse it with (reason in why).
 */
static int check_mcp_rules(const struct mw_http_head *h,
			   const struct mw_rpc_batch *b, char *why,
			   size_t whylen)
{
	const char *version = mw_http_header(h, "mcp-protocol-version");

	if (b->is_batch && !mw_mcp_batch_allowed(version)) {
		snprintf(why, whylen,
			 "JSON-RPC batches are not part of MCP protocol "
			 "version %.40s",
			 version);
		return MW_RPC_INVALID_REQUEST;
	}
	if (mw_mcp_check_mirrored_headers(mw_http_header(h, "mcp-method"),
					  mw_http_header(h, "mcp-name"), b, why,
					  whylen))
		return MW_MCP_HEADER_MISMATCH;
	return 0;
}

static int compare_id_ptrs(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * A batch holding one request id twice: either answer could be either
 * request's (MCP: a requestor never reuses an id within a session). An id
 * still waiting from an earlier message is not refused, as it may never
 * be answered (a cancelled request, a server that failed): the pairing
 * marks it ambiguous, and its answer gets every tool's masking rules.
 * True with the reason in why.
 */
static bool batch_repeats_an_id(const struct mw_rpc_batch *b, char *why,
				size_t whylen)
{
	const char **ids;
	size_t n = 0;
	bool dup = false;

	for (size_t i = 0; i < b->n; i++)
		n += b->msgs[i].kind == MW_RPC_REQUEST;
	if (n < 2)
		return false;
	ids = malloc(n * sizeof(*ids));
	if (!ids) {
		snprintf(why, whylen, "out of memory");
		return true;
	}
	n = 0;
	for (size_t i = 0; i < b->n; i++)
		if (b->msgs[i].kind == MW_RPC_REQUEST)
			ids[n++] = b->msgs[i].id;
	qsort(ids, n, sizeof(*ids), compare_id_ptrs);
	for (size_t i = 1; i < n && !dup; i++)
		if (!strcmp(ids[i - 1], ids[i])) {
			snprintf(why, whylen,
				 "request id %.64s appears twice in the batch",
				 ids[i]);
			dup = true;
		}
	free(ids);
	return dup;
}

/* A session's owner: the identity sessions.h binds it to. */
static struct mw_session_owner session_owner(const struct mw_conn *c)
{
	return (struct mw_session_owner){ .uid = c->ident.uid,
					  .cgroup_id = c->ident.cgroup_id };
}

/*
 * Whether sid names a session another identity opened (sessions.h):
 * refused (403) and recorded; so is one that cannot be bound (503).
 */
static bool others_session(struct mw_conn *c, const struct mw_http_head *h,
			   const char *sid)
{
	enum mw_session_use use;
	const char *why;
	int status;

	if (!c->server)
		return false;
	if (mw_sessions_use(c->px->sessions, c->server->name, sid,
			    session_owner(c), &use)) {
		status = 503;
		why = "the session's owner cannot be recorded (out of memory)";
	} else if (use == MW_SESSION_OTHERS) {
		status = 403;
		why = "the session was opened by another identity (user and "
		      "cgroup): it is refused to this one";
	} else {
		return false;
	}
	record_http_error(c, h->method, h->url, status, why);
	respond_local(c, h->method, h->url, status, why, NULL, false);
	return true;
}

static int req_on_complete(void *arg)
{
	struct mw_conn *c = arg;
	const struct mw_http_head *h = &c->req.head;
	const char *ctype = mw_http_header(h, "content-type");
	const char *cenc = mw_http_header(h, "content-encoding");
	const char *sid = mw_http_header(h, "mcp-session-id");
	size_t blen = mw_buf_used(&c->req_body);
	struct mw_rpc_batch batch = { 0 };
	struct exchange *x;
	struct record_opts ro = { .dir = "c2s" };
	struct mw_policy_decision *decisions = NULL;
	enum mw_policy_action verdict;
	char *legacy_sid = NULL;
	bool ambiguous = false, two_sessions, unknown_legacy, repeated_id;
	size_t culprit;
	char why[256];
	int rc = 0, code;

	c->px->st.http_requests++;
	if (!h->keep_alive)
		c->client_wants_close = true;
	if (repeated_mcp_header(h, why, sizeof(why))) {
		record_http_error(c, h->method, h->url, 400, why);
		respond_local(c, h->method, h->url, 400, why, NULL, false);
		goto out;
	}
	if (sid && !valid_session_id(sid)) {
		record_http_error(c, h->method, h->url, 400,
				  "invalid Mcp-Session-Id");
		respond_local(c, h->method, h->url, 400,
			      "invalid Mcp-Session-Id", NULL, false);
		goto out;
	}
	legacy_sid = query_session_id(h->url, &ambiguous);
	/* the legacy transport reads the query, Streamable HTTP the header;
	 * a session the query names is one a stream announced to this user,
	 * whether the header repeats it or not */
	two_sessions = sid && legacy_sid && strcmp(sid, legacy_sid);
	unknown_legacy = !ambiguous && !two_sessions && legacy_sid &&
			 !legacy_stream_live(c, legacy_sid);
	if (sid) {
		free(legacy_sid);
		legacy_sid = NULL;
	} else {
		sid = legacy_sid;
	}
	if (ambiguous || two_sessions || unknown_legacy) {
		snprintf(why, sizeof(why), "ambiguous session id: %s",
			 two_sessions ? "the query names another one than "
					"Mcp-Session-Id"
			 : unknown_legacy
				 ? "the query names a session no event stream "
				   "of this server announced to this user"
				 : "the query could be read two ways");
		record_http_error(c, h->method, h->url, 400, why);
		respond_local(c, h->method, h->url, 400, why, NULL, false);
		goto out;
	}
	if (sid && others_session(c, h, sid))
		goto out;
	if (sid && (!c->session || strcmp(c->session, sid))) {
		free(c->session);
		c->session = strdup(sid);
	}
	if (c->upstream_failed) {
		respond_local(c, h->method, h->url, 502,
			      "the MCP server cannot be reached", NULL, true);
		goto out;
	}

	if (blen > 0 && !request_type_is_json_utf8(ctype)) {
		snprintf(why, sizeof(why),
			 "request body must be application/json in UTF-8, got "
			 "%s",
			 ctype ? ctype : "no Content-Type");
		record_http_error(c, h->method, h->url, 415, why);
		respond_local(c, h->method, h->url, 415, why, NULL, false);
		goto out;
	}
	if (blen > 0 && cenc && strcasecmp(cenc, "identity")) {
		/* The server would inflate what we judged compressed. */
		snprintf(why, sizeof(why),
			 "Content-Encoding %s is not accepted on requests",
			 cenc);
		record_http_error(c, h->method, h->url, 415, why);
		respond_local(c, h->method, h->url, 415, why, NULL, false);
		goto out;
	}
	if (blen > 0 && strcmp(h->method, "POST")) {
		snprintf(why, sizeof(why), "a %s request carries no body",
			 h->method);
		record_http_error(c, h->method, h->url, 400, why);
		respond_local(c, h->method, h->url, 400, why, NULL, false);
		goto out;
	}
	x = exchange_new(c, h->method, h->url, sid);
	if (!x) {
		rc = -1;
		goto out;
	}
	x->carried_rpc = blen > 0;
	x->chunk_ok = h->major == 1 && h->minor >= 1;
	if (blen > 0) {
		if (mw_rpc_parse(mw_buf_head(&c->req_body), blen,
				 c->px->cfg->limits.max_body_bytes, &batch, why,
				 sizeof(why))) {
			record_http_error(c, h->method, h->url, 400, why);
			exchange_free(x);
			respond_local(c, h->method, h->url, 400, why, NULL,
				      false);
			goto out;
		}
		code = check_mcp_rules(h, &batch, why, sizeof(why));
		/* answered without the id, which two requests carry */
		repeated_id =
			!code && batch_repeats_an_id(&batch, why, sizeof(why));
		if (repeated_id)
			code = MW_RPC_INVALID_REQUEST;
		if (code) {
			record_http_error(c, h->method, h->url, 400, why);
			exchange_free(x);
			respond_local_code(c, h->method, h->url, 400, code, why,
					   batch.n == 1 && !repeated_id
						   ? batch.msgs[0].id
						   : NULL,
					   false);
			goto out;
		}
		decisions = calloc(batch.n, sizeof(*decisions));
		if (!decisions) {
			exchange_free(x);
			rc = -1;
			goto out;
		}
		verdict = mw_judge_batch(c->px->policy, c->px->pins, &c->who,
					 c->server->name, MW_POLICY_FROM_CLIENT,
					 &batch, decisions, &culprit);
		count_decisions(c, decisions, batch.n);
		ro.d = decisions;
		ro.raw = mw_buf_head(&c->req_body);
		ro.raw_len = blen;
		if (record_batch(c, &batch, x, h->method, h->url, &ro)) {
			exchange_free(x);
			respond_local(c, h->method, h->url, 503,
				      "the audit trail cannot record this "
				      "request: refused",
				      batch.n == 1 ? batch.msgs[0].id : NULL,
				      false);
			goto out;
		}
		if (verdict != MW_DECIDE_ALLOW) {
			refuse_batch(c, h, x, &batch, decisions, culprit,
				     legacy_sid ? sid : NULL);
			goto out;
		}
	}
	hold_until(c, ro.last_seq);
	if (forward_request(c, h)) {
		exchange_free(x);
		rc = -1;
		goto out;
	}
	exchange_push(c, x);
out:
	free(decisions);
	mw_rpc_batch_free(&batch);
	free(legacy_sid);
	mw_buf_reset(&c->req_body);
	mw_buf_shrink(&c->req_body);
	if (c->client_wants_close)
		c->no_more_requests = true;
	return rc;
}

static const struct mw_http_cb req_cb = {
	.on_head = req_on_head,
	.on_body = req_on_body,
	.on_complete = req_on_complete,
};

/* ---- responses (server -> client) --------------------------------------- */

static int client_stream_chunk(struct mw_conn *c, const char *data, size_t len)
{
	if (!len)
		return 0;
	if (!c->chunk_to_client)
		return mw_buf_append(&c->c.out, data, len);
	if (mw_buf_uint(&c->c.out, len, 16) ||
	    mw_buf_append(&c->c.out, "\r\n", 2) ||
	    mw_buf_append(&c->c.out, data, len) ||
	    mw_buf_append(&c->c.out, "\r\n", 2))
		return -1;
	return 0;
}

static int send_response_head(struct mw_conn *c, const struct mw_http_head *h,
			      const char *framing)
{
	struct mw_mask_counts counts = { 0 };
	struct mw_buf head = { 0 };
	struct mw_mask_plan plan;
	bool masking = client_text_plan(c, &plan);
	/* with masking, built aside: a head that cannot be recorded is not
	 * sent */
	struct mw_buf *out = masking ? &head : &c->c.out;
	int rc = -1;

	if (mw_buf_cat(out, "HTTP/1.1 ", NULL) ||
	    mw_buf_uint(out, (unsigned)h->status, 10) ||
	    mw_buf_cat(out, " ", mw_http_reason(h->status), "\r\n", NULL) ||
	    write_end_to_end_headers(out, h, false, c->px->masker,
				     masking ? &plan : NULL, &counts) ||
	    (framing && mw_buf_cat(out, framing, "\r\n", NULL)) ||
	    mw_buf_append(out, "\r\n", 2))
		goto out;
	if (counts.total &&
	    record_client_masking(c, c->xq_head,
				  "values masked in the response's headers",
				  &counts))
		goto out;
	if (masking &&
	    mw_buf_append(&c->c.out, mw_buf_head(&head), mw_buf_used(&head)))
		goto out;
	c->resp_head_sent = true;
	rc = 0;
out:
	mw_buf_free(&head);
	return rc;
}

/*
 * The server answered this connection's request with session sid: when
 * it is not the session the request named, the server opened it for
 * this connection's identity (sessions.h).
 */
static void learn_session(struct mw_conn *c, struct exchange *x,
			  const char *sid)
{
	if (!sid || !*sid || strlen(sid) > MW_SESSION_MAX ||
	    !valid_session_id(sid))
		return;
	if (!c->session || strcmp(c->session, sid)) {
		char *safe;

		free(c->session);
		c->session = strdup(sid);
		if (c->server &&
		    mw_sessions_opened(c->px->sessions, c->server->name, sid,
				       session_owner(c))) {
			log_warn("conn %llu: session %s: its owner cannot be "
				 "remembered (out of memory): the first "
				 "identity to name it takes it",
				 (unsigned long long)c->id,
				 log_safe(c, sid, &safe));
			free(safe);
		}
	}
	/* Pairing keys of this exchange stay as they were at request time:
	 * the response to initialize is still keyed conn:N. Later requests
	 * carry the header. */
	(void)x;
}

enum response_type {
	TYPE_OTHER,
	TYPE_JSON,
	TYPE_SSE,
	TYPE_AMBIGUOUS, /* names both */
	TYPE_NOT_UTF8, /* JSON or SSE with another charset */
};

/*
 * The value of ct's charset parameter (its name matched whole, the value
 * unquoted) into out: 1, 0 when there is none, -1 when it is named twice,
 * in an extended form (charset*=), or does not fit (ambiguous: refused
 * like a charset that is not read).
 */
static int content_type_charset(const char *ct, char *out, size_t outlen)
{
	const char *p = strchr(ct, ';');
	int found = 0;

	while (p) {
		const char *name, *val, *next = strchr(p + 1, ';');
		size_t n;

		for (name = p + 1; is_ows(*name); name++)
			;
		p = next;
		if (strncasecmp(name, "charset", 7))
			continue;
		for (val = name + 7; is_ows(*val); val++)
			;
		/* charset*= or charset*0= (RFC 2231): clients read those
		 * too; a name that only starts so is refused */
		if (*val != '=')
			return *val && *val != ';' ? -1 : found;
		for (val++; is_ows(*val); val++)
			;
		if (*val == '"')
			val++;
		n = strcspn(val, "\";, \t");
		if (found++ || n >= outlen)
			return -1;
		memcpy(out, val, n);
		out[n] = '\0';
	}
	return found;
}

/* The charset parameter, when present, must say UTF-8. */
static bool charset_is_utf8(const char *ct)
{
	char cs[32];
	int r = content_type_charset(ct, cs, sizeof(cs));

	/* "utf8" is a label of UTF-8 for clients too (WHATWG Encoding). */
	return !r ||
	       (r > 0 && (!strcasecmp(cs, "utf-8") || !strcasecmp(cs, "utf8")));
}

/*
 * Whether text in ct's charset shows ASCII as ASCII, so that masking's
 * scanners read its values: none named (UTF-8 or ASCII to the clients
 * concerned), UTF-8, ASCII, ISO-8859-n, Windows-125n. UTF-16 (a card in
 * it is digits and NULs) and the like are not.
 */
static bool charset_reads_as_ascii(const char *ct)
{
	static const char *const prefixes[] = { "iso-8859-", "windows-125" };
	static const char *const names[] = { "utf-8", "utf8", "us-ascii",
					     "ascii", "latin1" };
	char cs[32];
	int r = content_type_charset(ct, cs, sizeof(cs));

	if (!r)
		return true;
	if (r < 0)
		return false;
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (!strcasecmp(cs, names[i]))
			return true;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++)
		if (!strncasecmp(cs, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/*
 * A response's type as clients decide it: the TypeScript SDK looks for the
 * media types anywhere in Content-Type (includes()), EventSource clients
 * for a prefix; whatever matches any of them is judged as that, and what
 * could be read both ways is refused.
 */
static enum response_type response_type(const char *ct)
{
	bool json, sse;

	if (!ct)
		return TYPE_OTHER;
	json = strcasestr(ct, "application/json") != NULL;
	sse = strcasestr(ct, "text/event-stream") != NULL;
	if (json && sse)
		return TYPE_AMBIGUOUS;
	if (!json && !sse)
		return TYPE_OTHER;
	if (!charset_is_utf8(ct))
		return TYPE_NOT_UTF8;
	return json ? TYPE_JSON : TYPE_SSE;
}

static int resp_on_head(void *arg, struct mw_http_head *h)
{
	struct mw_conn *c = arg;
	struct exchange *x = c->xq_head;
	const char *ctype = mw_http_header(h, "content-type"), *cenc;
	char framing[64], why[96];
	bool head_req, success;

	if (!x || x->is_local) {
		snprintf(c->resp.err, sizeof(c->resp.err),
			 "the server sent a response nobody asked for");
		return -1;
	}
	c->resp_status = h->status;
	c->resp_keep_alive = h->keep_alive;
	/* accepted: the legacy transport answers on the session's stream;
	 * an error status answers nothing, now or later */
	if (h->status == 202)
		x->answered_elsewhere = true;
	else if (h->status >= 300)
		x->no_later_answer = true;
	c->resp_head_sent = false;
	mw_buf_reset(&c->resp_body);
	if (h->status >= 100 && h->status < 200) {
		if (h->status == 101) {
			snprintf(c->resp.err, sizeof(c->resp.err),
				 "protocol upgrade is not supported");
			return -1;
		}
		c->mode = RESP_INFORMATIONAL;
		return 1;
	}
	/* We judge the body, and learn the session, as the first names
	 * them; a client may join them ("text/plain, text/event-stream",
	 * "A, B") and read another type or session. */
	if (repeated_mcp_header(h, why, sizeof(why))) {
		snprintf(c->resp.err, sizeof(c->resp.err), "the response: %s",
			 why);
		return -1;
	}
	learn_session(c, x, mw_http_header(h, "mcp-session-id"));
	head_req = !strcmp(x->http_method, "HEAD");
	if (head_req || h->status == 204 || h->status == 304) {
		c->mode = RESP_NO_BODY;
		framing[0] = '\0';
		if (h->content_length >= 0)
			snprintf(framing, sizeof(framing),
				 "Content-Length: %lld",
				 (long long)h->content_length);
		if (send_response_head(c, h, framing[0] ? framing : NULL))
			return -1;
		/* No body, whatever Content-Length says (RFC 9110 6.4.1). */
		return 1;
	}
	cenc = mw_http_header(h, "content-encoding");
	if (cenc && strcasecmp(cenc, "identity")) {
		snprintf(c->resp.err, sizeof(c->resp.err),
			 "a compressed response (Content-Encoding %.40s) "
			 "cannot be judged",
			 cenc);
		return -1;
	}
	success = h->status >= 200 && h->status < 300;
	switch (response_type(ctype)) {
	case TYPE_AMBIGUOUS:
		snprintf(c->resp.err, sizeof(c->resp.err),
			 "Content-Type names both JSON and an event stream");
		return -1;
	case TYPE_NOT_UTF8:
		snprintf(c->resp.err, sizeof(c->resp.err),
			 "a response in a charset other than UTF-8 cannot be "
			 "judged");
		return -1;
	case TYPE_JSON:
		c->mode = RESP_JSON;
		c->resp_typed_json = true;
		return 0;
	case TYPE_SSE:
		c->mode = RESP_SSE;
		break;
	case TYPE_OTHER:
		/* What is judged or masked is read as ASCII-compatible
		 * text: a body in UTF-16, say, would pass unread. */
		if (ctype && !charset_reads_as_ascii(ctype) &&
		    (x->carried_rpc || masks_for_client(c))) {
			snprintf(c->resp.err, sizeof(c->resp.err),
				 "a response in a charset that cannot be "
				 "judged or masked");
			return -1;
		}
		/* An answer to JSON-RPC is held and looked at whatever type
		 * and status it claims (some clients parse any error body as
		 * a JSON-RPC answer): if it is JSON-RPC it is judged like any
		 * other. A body that is not ("Accepted" from the legacy
		 * transport, an error page) passes as it is. */
		if (x->carried_rpc) {
			c->mode = RESP_JSON;
			c->resp_typed_json = false;
			return 0;
		}
		/* Clients read the answer to a GET on an MCP endpoint as an
		 * event stream whatever its type (the TypeScript SDK does
		 * not look): so do we. */
		if (success && !strcmp(x->http_method, "GET")) {
			c->mode = RESP_SSE;
			break;
		}
		/* Anything else (an error page, a DELETE's answer) is held
		 * when values are masked for the client, to be masked whole:
		 * a value can straddle two reads. */
		if (masks_for_client(c) && strcmp(x->http_method, "HEAD") &&
		    h->status != 204 && h->status != 304) {
			c->mode = RESP_JSON;
			c->resp_typed_json = false;
			return 0;
		}
		c->mode = RESP_RAW;
		break;
	}
	if (c->mode == RESP_SSE) {
		if (mw_sse_init(&c->sse,
				c->px->cfg->limits.max_sse_event_bytes)) {
			snprintf(c->resp.err, sizeof(c->resp.err),
				 "out of memory");
			return -1;
		}
		c->sse_ready = true;
		c->sse_client_id_gen = 0;
	}
	/* Streams are re-framed as chunked for HTTP/1.1 clients. */
	c->chunk_to_client = x->chunk_ok;
	if (!c->chunk_to_client)
		c->client_wants_close = true;
	return send_response_head(c, h,
				  c->chunk_to_client
					  ? "Transfer-Encoding: chunked"
					  : "Connection: close");
}

/* A batch as JSON text to free(), after shape_result() changed it. */
/* size_hint: about how long the text is (the body it was parsed from) */
static char *batch_text(const struct mw_rpc_batch *b, size_t flags,
			size_t size_hint)
{
	struct mw_buf out = { 0 };
	json_t *all;
	char *text;

	/* the usual case, at memory speed: masking rewrites whole results */
	if (!flags) {
		int rc = mw_buf_reserve(&out, size_hint + 1) ||
			 (b->is_batch && mw_buf_append(&out, "[", 1));

		for (size_t i = 0; !rc && i < b->n; i++)
			rc = (i && mw_buf_append(&out, ",", 1)) ||
			     mw_json_write(&out, b->msgs[i].json);
		if (rc || (b->is_batch && mw_buf_append(&out, "]", 1)) ||
		    mw_buf_append(&out, "", 1)) {
			mw_buf_free(&out);
			return NULL;
		}
		return out.data;
	}
	flags |= JSON_COMPACT;
	if (!b->is_batch)
		return json_dumps(b->msgs[0].json, flags);
	all = json_array();
	for (size_t i = 0; all && i < b->n; i++)
		if (json_array_append(all, b->msgs[i].json)) {
			json_decref(all);
			all = NULL;
		}
	text = all ? json_dumps(all, flags) : NULL;
	json_decref(all);
	return text;
}

static bool batch_has_method(const struct mw_rpc_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->msgs[i].method)
			return true;
	return false;
}

/*
 * Whether the response answers a request of the client that waits: its
 * id is then the client's own. Only a look: record_batch takes it.
 */
static bool answers_waiting(struct mw_conn *c, const struct exchange *x,
			    const char *id)
{
	char key[512 + MW_SESSION_MAX];
	size_t scope_len;

	return pair_key(key, sizeof(key), c, x->session, "c2s", id,
			&scope_len) &&
	       mw_pairing_waits(c->px->pairing, key);
}

/*
 * Whether a server's message carries, where no mask can go, a value the
 * client's masking rules hide: the method or id of a request or
 * notification (the client would not know the method, nor the server
 * pair the answer with a changed id), or the id of a response that
 * answers no request of the client waiting (one that does carries the
 * client's own id; any other id is the server's value, which the client
 * would get unmasked). The message is withheld. 1, 0, or -1 (out of
 * memory).
 */
static int names_hold_values(struct mw_conn *c, const struct exchange *x,
			     const struct mw_rpc_batch *b)
{
	struct mw_mask_counts counts = { 0 };
	struct mw_mask_plan plan;

	if (!client_text_plan(c, &plan))
		return 0;
	for (size_t i = 0; i < b->n; i++) {
		const struct mw_rpc_msg *m = &b->msgs[i];
		json_t *probe, *id;
		long n;

		if (!m->method && (!m->id || answers_waiting(c, x, m->id)))
			continue;
		/* copies: masking rewrites strings in place */
		id = json_deep_copy(json_object_get(m->json, "id"));
		if (m->id && !id)
			return -1;
		probe = m->method ? json_pack("[so*]", m->method, id)
				  : json_pack("[o*]", id);
		if (!probe)
			return -1;
		n = mw_mask_json(c->px->masker, &plan, &probe, &counts);
		json_decref(probe);
		if (n)
			return n < 0 ? -1 : 1;
	}
	return 0;
}

/*
 * Judges and records one JSON-RPC body from the server (raw: its text).
 * 0: pass it on, as *text (to free) when it was changed, else as it came;
 * 1: the policy refused a message in it, which the client must not see;
 * 2: one is withheld for a value in its method or id (names_hold_values,
 * recorded); -1: the audit trail cannot record it.
 */
static int judge_server_batch(struct mw_conn *c, struct exchange *x,
			      const struct mw_rpc_batch *b, const char *raw,
			      size_t raw_len, char **text)
{
	struct record_opts ro = { .dir = "s2c",
				  .raw = raw,
				  .raw_len = raw_len };
	struct mw_policy_decision *d = NULL;
	enum mw_policy_action verdict = MW_DECIDE_ALLOW;
	size_t culprit = 0;
	int rc = 0;

	*text = NULL;
	switch (names_hold_values(c, x, b)) {
	case 0:
		break;
	case 1:
		record_http_error(c, x->http_method, x->path, c->resp_status,
				  "a message from the server withheld: its "
				  "method or id holds a value the client's "
				  "masking rules hide");
		return 2;
	default:
		return -1;
	}
	/* Mostly responses, which are not judged: no decisions to keep. */
	if (batch_has_method(b)) {
		d = calloc(b->n, sizeof(*d));
		if (!d)
			return -1;
		verdict = mw_judge_batch(c->px->policy, c->px->pins, &c->who,
					 c->server->name, MW_POLICY_FROM_SERVER,
					 b, d, &culprit);
		count_decisions(c, d, b->n);
		ro.d = d;
	}
	if (record_batch(c, b, x, x->http_method, x->path, &ro)) {
		rc = -1;
	} else if (verdict != MW_DECIDE_ALLOW) {
		char reason[512], *method_buf;
		const char *method =
			log_safe(c, b->msgs[culprit].method, &method_buf);

		mw_judge_reason(&d[culprit], reason, sizeof(reason));
		log_info("conn %llu (%s, pid %u): server message %s "
			 "withheld: %s",
			 (unsigned long long)c->id, c->ident.comm,
			 c->ident.tgid, method, reason);
		free(method_buf);
		rc = 1;
	} else if (ro.rewritten) {
		*text = batch_text(b, 0, raw_len);
		if (!*text)
			rc = -1;
	}
	free(d);
	return rc;
}

/*
 * Whether a block written out again must carry the stream's id: the
 * client holds another one (a block that set it was dropped). Not on
 * every block: a server could turn one id of max_sse_event_bytes and a
 * run of one-byte blocks into gigabytes queued for the client.
 */
static bool client_lacks_id(const struct mw_conn *c,
			    const struct mw_sse_event *ev)
{
	return ev->id_gen != c->sse_client_id_gen;
}

/* The block as it came: the client holds the id it set, if it set one. */
static int send_raw_block(struct mw_conn *c, const struct mw_sse_event *ev)
{
	if (client_stream_chunk(c, ev->raw, ev->raw_len))
		return -ENOMEM;
	if (ev->id_field)
		c->sse_client_id_gen = ev->id_gen;
	return 0;
}

/* Block ev written out again as text[0..len), its id in it when the
 * client lacked it: from then on the client holds the stream's id. */
static int send_block_text(struct mw_conn *c, const struct mw_sse_event *ev,
			   const char *text, size_t len)
{
	if (client_stream_chunk(c, text, len))
		return -ENOMEM;
	c->sse_client_id_gen = ev->id_gen;
	return 0;
}

/* An event whose data changed: the fields a client acts on, new data. */
static int send_rewritten_event(struct mw_conn *c,
				const struct mw_sse_event *ev, const char *data)
{
	char *out = sse_message_event(ev, client_lacks_id(c, ev), data);
	int rc;

	if (!out)
		return -ENOMEM;
	rc = send_block_text(c, ev, out, strlen(out));
	free(out);
	return rc;
}

/*
 * The server's events that could not be judged are dropped, each
 * recorded with its reason up to MW_SSE_DROPS_RECORDED on a stream; past
 * that, a count at each doubling: a server sending a few bytes an event
 * would otherwise make a row of the trail per few bytes.
 */
#define MW_SSE_DROPS_RECORDED 64

static void record_sse_drop(struct mw_conn *c, struct exchange *x,
			    const char *why)
{
	char detail[400];
	uint64_t n = ++x->sse_dropped;

	if (n <= MW_SSE_DROPS_RECORDED)
		snprintf(detail, sizeof(detail),
			 "SSE event from the server dropped: %s", why);
	else if (!(n & (n - 1)))
		snprintf(detail, sizeof(detail),
			 "%llu SSE events from the server dropped on this "
			 "stream so far (past %d, counted at each doubling); "
			 "the last: %s",
			 (unsigned long long)n, MW_SSE_DROPS_RECORDED, why);
	else
		return;
	record_http_error(c, x->http_method, x->path, c->resp_status, detail);
}

struct sse_ctx {
	struct mw_conn *c;
	struct exchange *x;
};

/* The legacy transport's first event names the POST endpoint. */
static void sse_learn_endpoint(struct mw_conn *c, struct exchange *x,
			       const struct mw_sse_event *ev)
{
	bool ambiguous;
	char *sid;

	if (!ev->data || memchr(ev->data, '\0', ev->data_len))
		return;
	sid = query_session_id(ev->data, &ambiguous);
	/* as learn_session takes a header's: the trail's masked ids hold a
	 * space no kept id has (trail_session_id) */
	if (!sid || !valid_session_id(sid)) {
		free(sid);
		return;
	}
	free(x->session);
	x->session = sid;
	x->has_session = true;
	learn_session(c, x, sid);
	free(c->legacy_stream);
	c->legacy_stream = strdup(sid);
}

/* One field value masked as text for the client: *v and *len replaced by
 * the masked copy (kept in *tofree) when values were masked. */
static int mask_sse_field(struct mw_conn *c, const struct mw_mask_plan *plan,
			  const char **v, size_t *len, size_t json_flags,
			  char **tofree, struct mw_mask_counts *counts)
{
	size_t n;

	*tofree = NULL;
	if (!*v || !*len)
		return 0;
	if (mask_text_for_client(c->px->masker, plan, *v, *len, json_flags,
				 tofree, &n, counts) < 0)
		return -1;
	if (*tofree) {
		*v = *tofree;
		*len = n;
	}
	return 0;
}

/*
 * A block of these fields alone, one line each (id when with_id, retry,
 * type, then one data line per line of data, for a block that had data),
 * and the blank line after; a block with none stays a bare ":" (a
 * keep-alive).
 */
static int put_known_fields(struct mw_buf *out, const struct mw_sse_event *ev,
			    bool with_id, const char *id, size_t id_len,
			    long retry, const char *type, size_t type_len,
			    const char *data, size_t data_len)
{
	/* an id reset, or one not written out again: the client's last
	 * event id is reset, not left at an older one */
	if ((with_id && id && put_sse_field(out, "id", id, id_len)) ||
	    (with_id && !id && mw_buf_append(out, "id:\n", 4)) ||
	    (retry >= 0 && mw_buf_printf(out, "retry: %ld\n", retry)) ||
	    (type && put_sse_field(out, "event", type, type_len)) ||
	    (ev->kind == MW_SSE_MESSAGE &&
	     put_sse_field(out, "data", data ? data : "", data_len)) ||
	    (!mw_buf_used(out) && mw_buf_append(out, ":\n", 2)) ||
	    mw_buf_append(out, "\n", 1))
		return -ENOMEM;
	return 0;
}

/*
 * A block with a field no client should read, written out again with
 * those it reads (its id, retry, type and data): the id a client resumes
 * from, a legacy endpoint, still reach it; the field does not.
 */
static int send_known_fields(struct mw_conn *c, const struct mw_sse_event *ev)
{
	const char *id = one_line_or_null(ev->id);
	const char *type = one_line_or_null(ev->event);
	struct mw_buf out = { 0 };
	int rc;

	rc = put_known_fields(&out, ev, client_lacks_id(c, ev), id,
			      id ? strlen(id) : 0, ev->retry, type,
			      type ? strlen(type) : 0, ev->data, ev->data_len);
	if (!rc)
		rc = send_block_text(c, ev, mw_buf_head(&out),
				     mw_buf_used(&out));
	mw_buf_free(&out);
	return rc;
}

/*
 * The block's retry as the client may get it (*out, -1: none): a value
 * the client rules mask (parse_retry takes any number of digits: a card
 * number is one) is dropped and counted, as no mask can go there: a
 * client ignores a retry that is not digits, and keeps its own delay.
 * -1: out of memory or a failed scan.
 */
static int client_retry(struct mw_conn *c, const struct mw_mask_plan *plan,
			long retry, struct mw_mask_counts *counts, long *out)
{
	json_t *v;
	long n;

	*out = retry;
	if (retry < 0)
		return 0;
	v = json_integer(retry);
	if (!v)
		return -1;
	n = mw_mask_json(c->px->masker, plan, &v, counts);
	json_decref(v);
	if (n > 0)
		*out = -1;
	return n < 0 ? -1 : 0;
}

/*
 * With masking for the client, a block goes as mcpwarden frames it, never
 * as received: comments, unknown fields and a byte-order mark, which no
 * rule judged, are dropped; the id and the event type are masked as text
 * and so is the data of an event that is not JSON-RPC, a retry dropped
 * when they would mask it (data: what the
 * client gets, mask_data: whether it is still to be masked). One data
 * line per line of data, and the blank line after: no mask can join or
 * split events. A block of comments alone stays a bare ":" (a keep-alive).
 */
static int send_masked_block(struct mw_conn *c, const struct exchange *x,
			     const struct mw_mask_plan *plan,
			     const struct mw_sse_event *ev, const char *data,
			     size_t data_len, bool mask_data)
{
	struct mw_mask_counts counts = { 0 };
	struct mw_buf out = { 0 };
	bool with_id = client_lacks_id(c, ev);
	const char *id = with_id ? ev->id : NULL, *type = ev->event;
	size_t id_len = id ? strlen(id) : 0, type_len = type ? strlen(type) : 0;
	char *id_buf = NULL, *type_buf = NULL, *data_buf = NULL;
	long retry = -1;
	int rc = -EIO;

	/* a client that splits lines on U+2028 would read other fields */
	id = one_line_or_null(id);
	id_len = id ? id_len : 0;
	type = one_line_or_null(type);
	type_len = type ? type_len : 0;
	/* JSON rewritten keeps its escapes: a decoded U+2028 would be one */
	if (mask_sse_field(c, plan, &id, &id_len, JSON_ENSURE_ASCII, &id_buf,
			   &counts) ||
	    mask_sse_field(c, plan, &type, &type_len, JSON_ENSURE_ASCII,
			   &type_buf, &counts) ||
	    client_retry(c, plan, ev->retry, &counts, &retry) ||
	    (mask_data &&
	     mask_sse_field(c, plan, &data, &data_len, JSON_ENSURE_ASCII,
			    &data_buf, &counts)))
		goto fail;
	rc = -ENOMEM;
	if (put_known_fields(&out, ev, with_id, id, id_len, retry, type,
			     type_len, data, data_len))
		goto fail;
	rc = -EIO;
	if (counts.total &&
	    record_client_masking(
		    c, x, "values masked in an SSE event's fields", &counts))
		goto fail;
	rc = send_block_text(c, ev, mw_buf_head(&out), mw_buf_used(&out));
fail:
	if (rc == -EIO)
		snprintf(c->resp.err, sizeof(c->resp.err),
			 "an SSE event could not be masked");
	mw_buf_free(&out);
	free(id_buf);
	free(type_buf);
	free(data_buf);
	return rc;
}

/* The legacy transport's endpoint event, on its GET stream. */
/*
 * The legacy transport's endpoint event on a GET stream: its data is the
 * URL to post to, never JSON. Data that could be JSON is no endpoint, and
 * is judged like any event's (a server could send a request in it to a
 * client that reads every event's data as a message).
 */
static bool is_legacy_endpoint(const struct exchange *x,
			       const struct mw_sse_event *ev)
{
	return ev->kind == MW_SSE_MESSAGE && ev->event &&
	       !strcmp(ev->event, "endpoint") &&
	       !strcmp(x->http_method, "GET") &&
	       mw_rpc_looks_like_no_json(ev->data, ev->data_len);
}

/* The length of p's first bytes (up to n) that are in set. */
static size_t strspn_n(const char *p, size_t n, const char *set)
{
	size_t i = 0;

	while (i < n && p[i] && strchr(set, p[i]))
		i++;
	return i;
}

static int sse_on_event(void *arg, const struct mw_sse_event *ev)
{
	struct sse_ctx *sc = arg;
	struct mw_conn *c = sc->c;
	struct mw_rpc_batch batch = { 0 };
	struct mw_mask_plan plan;
	char why[256], *text;
	bool is_message, odd_breaks, rewrite,
		masking = client_text_plan(c, &plan);
	int rc;

	/*
	 * An empty data buffer is never dispatched to the client (WHATWG
	 * "dispatch the event"): servers send such events to prime
	 * resumption. Any other data is judged as JSON-RPC whatever the
	 * event's type: some clients parse every event's data as a message
	 * (and trim the type), so a type is no reason to let data through
	 * unjudged. The one exception is the legacy transport's endpoint, on
	 * its GET stream: protocol, a URL, not a message.
	 */
	is_message = ev->kind == MW_SSE_MESSAGE && ev->data_len > 0 &&
		     !is_legacy_endpoint(sc->x, ev);
	/*
	 * A byte-order mark starts a client's stream only: past the first
	 * block it makes a field nobody reads ("\xEF\xBB\xBFdata"), but
	 * once the blocks before it are dropped, a client gets it first,
	 * takes it off and reads the data nobody judged.
	 */
	if (!ev->first && ev->raw_len >= 3 &&
	    !memcmp(ev->raw, "\xEF\xBB\xBF", 3)) {
		record_http_error(c, sc->x->http_method, sc->x->path,
				  c->resp_status,
				  "SSE block starting with a byte-order mark "
				  "dropped");
		return 0;
	}
	/* Blocks some clients read otherwise than the standard: judged
	 * messages are written out again, with only the fields judged. */
	odd_breaks = has_line_break_lookalike(ev->raw, ev->raw_len);
	if (odd_breaks && !is_message) {
		/* Nothing a conforming client acts on is lost. */
		record_http_error(c, sc->x->http_method, sc->x->path,
				  c->resp_status,
				  "SSE block with a line separator other than "
				  "CR or LF dropped");
		return 0;
	}
	/* judged JSON goes out written again, its judged fields alone;
	 * so does a block framed with a CR alone, which the standard ends
	 * a line at and Go's line readers do not */
	rewrite = odd_breaks || ev->unknown_field ||
		  has_lone_cr(ev->raw, ev->raw_len);
	/* The legacy endpoint passes as it is (the URL to post to): when
	 * masking would change it, no URL can go (a masked one is none the
	 * client can use), and the stream ends, its client told so, rather
	 * than wait for an endpoint that never comes. */
	if (masking && is_legacy_endpoint(sc->x, ev)) {
		char *masked = NULL;
		size_t n;
		long found = mask_text_for_client(c->px->masker, &plan,
						  ev->data, ev->data_len, 0,
						  &masked, &n, NULL);

		free(masked);
		if (found) {
			record_http_error(c, sc->x->http_method, sc->x->path,
					  c->resp_status,
					  "an endpoint event withheld: its URL "
					  "holds a value the client's masking "
					  "rules hide");
			snprintf(c->resp.err, sizeof(c->resp.err),
				 "the legacy endpoint holds a value the "
				 "client's masking rules hide");
			return -EIO;
		}
	}
	if (is_legacy_endpoint(sc->x, ev))
		sse_learn_endpoint(c, sc->x, ev);
	if (is_message && mw_rpc_parse(ev->data, ev->data_len,
				       c->px->cfg->limits.max_sse_event_bytes,
				       &batch, why, sizeof(why))) {
		/* An event of its own type whose data no reader could take
		 * for a message (a log line, {"ssn": ...}) goes on as text,
		 * masked like any. Nothing else that could not be judged is
		 * passed on. */
		if (ev->event && strcmp(ev->event, "message") && !odd_breaks &&
		    mw_rpc_reads_as_no_message(ev->data, ev->data_len)) {
			is_message = false;
		} else {
			record_sse_drop(c, sc->x, why);
			return 0;
		}
	}
	if (is_message) {
		rc = judge_server_batch(c, sc->x, &batch, ev->data,
					ev->data_len, &text);
		/* Judged as JSON: sent as the same JSON with the separators
		 * escaped. */
		if (rc == 0 && rewrite) {
			free(text);
			text = batch_text(&batch, JSON_ENSURE_ASCII, 0);
			if (!text)
				rc = -1;
		}
		mw_rpc_batch_free(&batch);
		if (rc < 0) {
			snprintf(c->resp.err, sizeof(c->resp.err),
				 "the audit trail cannot record the server's "
				 "events");
			return -EIO;
		}
		if (rc > 0)
			return 0;
		if (masking) {
			rc = send_masked_block(
				c, sc->x, &plan, ev, text ? text : ev->data,
				text ? strlen(text) : ev->data_len, false);
			free(text);
			return rc;
		}
		if (text) {
			rc = send_rewritten_event(c, ev, text);
			free(text);
			return rc;
		}
		return send_raw_block(c, ev);
	}
	/*
	 * An unfinished block at the end: a conforming client drops it, and
	 * one that hands on what it holds at the end would act on data
	 * nobody judged. Dropped, and recorded when it held more than line
	 * breaks.
	 */
	if (ev->kind == MW_SSE_TRAILER) {
		if (ev->raw_len > strspn_n(ev->raw, ev->raw_len, "\r\n"))
			record_http_error(c, sc->x->http_method, sc->x->path,
					  c->resp_status,
					  "unfinished SSE event at the end of "
					  "the stream dropped");
		return 0;
	}
	/* Blocks without data (comments, ids, retry), events of their own
	 * type whose data no reader takes for a message (masked as text),
	 * and the legacy endpoint, whose data, the URL to post to, goes as
	 * it is. */
	if (masking)
		return send_masked_block(c, sc->x, &plan, ev, ev->data,
					 ev->data_len,
					 !is_legacy_endpoint(sc->x, ev));
	if (rewrite)
		return send_known_fields(c, ev);
	return send_raw_block(c, ev);
}

static int resp_on_body(void *arg, const char *data, size_t len)
{
	struct mw_conn *c = arg;
	struct sse_ctx sc = { c, c->xq_head };

	switch (c->mode) {
	case RESP_JSON:
		if (mw_buf_used(&c->resp_body) + len >
		    c->px->cfg->limits.max_body_bytes) {
			snprintf(c->resp.err, sizeof(c->resp.err),
				 "response body over the limit of %zu bytes",
				 c->px->cfg->limits.max_body_bytes);
			return -1;
		}
		if (!may_buffer(c, len, c->resp.err, sizeof(c->resp.err)))
			return -1;
		return mw_buf_append(&c->resp_body, data, len) ? -1 : 0;
	case RESP_SSE: {
		size_t held = mw_sse_held(&c->sse);

		if (mw_sse_feed(&c->sse, data, len, sse_on_event, &sc) < 0) {
			if (!c->resp.err[0])
				snprintf(c->resp.err, sizeof(c->resp.err),
					 "event stream: %s",
					 mw_sse_error(&c->sse));
			return -1;
		}
		/* whole events pass (the client's pace bounds them); an
		 * event being assembled is held */
		if (mw_sse_held(&c->sse) > held &&
		    !may_buffer(c, 0, c->resp.err, sizeof(c->resp.err)))
			return -1;
		return 0;
	}
	case RESP_RAW:
		return client_stream_chunk(c, data, len) ? -1 : 0;
	default:
		return 0;
	}
}

/* What a client gets instead of an error body that could not be judged. */
#define UNJUDGED_ERROR_BODY                                                  \
	"{\"error\":\"mcpwarden: the server's error body reads as JSON but " \
	"not as JSON-RPC that could be judged; it was withheld\"}"

static int finish_json_response(struct mw_conn *c, struct exchange *x)
{
	const struct mw_http_head *h = &c->resp.head;
	size_t blen = mw_buf_used(&c->resp_body);
	struct mw_rpc_batch batch = { 0 };
	char why[256], framing[64], *text = NULL;
	const char *body;
	bool success = h->status >= 200 && h->status < 300, judged = false;
	size_t tlen = 0;
	int rc;

	if (blen > 0 && mw_rpc_parse(mw_buf_head(&c->resp_body), blen,
				     c->px->cfg->limits.max_body_bytes, &batch,
				     why, sizeof(why))) {
		char detail[320];

		if (!c->resp_typed_json &&
		    mw_rpc_looks_like_no_json(mw_buf_head(&c->resp_body), blen))
			goto forward;

		snprintf(detail, sizeof(detail),
			 "invalid JSON-RPC from the server (HTTP %d): %s",
			 h->status, why);
		record_http_error(c, x->http_method, x->path, h->status,
				  detail);
		if (success) {
			/* An unjudged message never reaches the client. */
			c->px->st.upstream_errors++;
			return -1;
		}
		if (!x->carried_rpc)
			goto forward;
		/* An error answering JSON-RPC whose body reads as JSON but
		 * not as a message the daemon can judge: its status and head
		 * go on (a 401's WWW-Authenticate, say), its body does not. */
		text = strdup(UNJUDGED_ERROR_BODY);
		if (!text)
			return -1;
		tlen = strlen(text);
		judged = true;
		goto forward;
	} else if (blen > 0) {
		judged = true;
		rc = judge_server_batch(
			c, x, &batch, mw_buf_head(&c->resp_body), blen, &text);
		tlen = text ? strlen(text) : 0;
		if (rc == 1)
			record_http_error(
				c, x->http_method, x->path, 502,
				"the server's answer carried a message "
				"the policy refuses");
		if (rc == 2)
			snprintf(c->resp.err, sizeof(c->resp.err),
				 "the server's answer carried a message "
				 "whose method or id holds a value the "
				 "client's masking rules hide");
		if (rc) {
			mw_rpc_batch_free(&batch);
			return -1;
		}
	}
forward:
	mw_rpc_batch_free(&batch);
	if (!judged &&
	    mask_client_text(c, x,
			     "values masked in a response body that is not "
			     "JSON-RPC",
			     mw_buf_head(&c->resp_body), blen, &text, &tlen)) {
		snprintf(c->resp.err, sizeof(c->resp.err),
			 "a response body could not be masked");
		return -1;
	}
	body = text ? text : mw_buf_head(&c->resp_body);
	blen = text ? tlen : blen;
	snprintf(framing, sizeof(framing), "Content-Length: %zu", blen);
	rc = send_response_head(c, h, framing) ||
	     mw_buf_append(&c->c.out, body, blen);
	free(text);
	if (rc)
		return -1;
	mw_buf_reset(&c->resp_body);
	mw_buf_shrink(&c->resp_body);
	return 0;
}

static int resp_on_complete(void *arg)
{
	struct mw_conn *c = arg;
	struct exchange *x = c->xq_head;
	struct sse_ctx sc = { c, x };

	switch (c->mode) {
	case RESP_INFORMATIONAL:
		c->mode = RESP_IDLE;
		return 0;
	case RESP_JSON:
		if (finish_json_response(c, x)) {
			if (!c->resp.err[0])
				snprintf(c->resp.err, sizeof(c->resp.err),
					 "invalid JSON-RPC from the server");
			return -1;
		}
		/* a JSON body holds every answer it will give */
		x->no_later_answer = true;
		break;
	case RESP_SSE:
		if (mw_sse_finish(&c->sse, sse_on_event, &sc) < 0)
			return -1;
		/* fall through */
	case RESP_RAW:
		if (c->chunk_to_client &&
		    mw_buf_append(&c->c.out, "0\r\n\r\n", 5))
			return -1;
		/* sent with "Connection: close" and no length: its end is
		 * the connection's, whatever the server's says */
		if (!c->chunk_to_client)
			c->closing = true;
		break;
	default:
		break;
	}
	if (c->sse_ready) {
		mw_sse_free(&c->sse);
		c->sse_ready = false;
	}
	if (!c->resp_keep_alive)
		c->closing = true;
	c->mode = RESP_IDLE;
	exchange_pop(c);
	start_next_exchange(c);
	return 0;
}

static const struct mw_http_cb resp_cb = {
	.on_head = resp_on_head,
	.on_body = resp_on_body,
	.on_complete = resp_on_complete,
};

/* ---- I/O ----------------------------------------------------------------- */

static void side_set(struct mw_conn *c, struct mw_side *s, uint32_t want)
{
	if (s->io.fd < 0)
		return;
	/*
	 * epoll reports a hang-up to a socket that asks for nothing, every
	 * turn (level-triggered): a server side that has nothing to do now
	 * (its response fully read, or the client's buffer full) leaves the
	 * loop until it has. The client side stays: its hang-up ends the
	 * connection (on_client_io).
	 */
	if (!want && s == &c->u) {
		if (s->registered) {
			mw_loop_del(c->px->loop, &s->io);
			s->registered = false;
		}
		return;
	}
	if (s->registered && s->events == want)
		return;
	if (!s->registered) {
		if (mw_loop_add(c->px->loop, &s->io, want)) {
			conn_close(c, "epoll_ctl failed");
			return;
		}
		s->registered = true;
	} else if (mw_loop_mod(c->px->loop, &s->io, want)) {
		conn_close(c, "epoll_ctl failed");
		return;
	}
	s->events = want;
}

static void note_pending(struct mw_side *s)
{
	if (!mw_buf_used(&s->out))
		s->pending_since_ms = 0;
	else if (!s->pending_since_ms)
		s->pending_since_ms = mw_now_ms();
}

/*
 * A full socket turns writable only once a good part of its send buffer
 * (megabytes, autotuned) has drained: a peer reading slowly but steadily
 * can go long without a send() of ours succeeding. Its progress shows in
 * the kernel's send queue, which shrinks as it takes data.
 */
static void note_peer_progress(struct mw_side *s, int64_t now)
{
	int queued;

	if (s->io.fd < 0 || !mw_buf_used(&s->out) ||
	    ioctl(s->io.fd, SIOCOUTQ, &queued))
		return;
	if (queued < s->last_outq)
		s->last_send_ms = now;
	s->last_outq = queued;
}

/* A peer that takes none of what waits for it, for limit_ms. */
static bool write_stalled(struct mw_side *s, int64_t now, int limit_ms)
{
	int64_t since;

	note_peer_progress(s, now);
	since = s->pending_since_ms > s->last_send_ms ? s->pending_since_ms
						      : s->last_send_ms;
	return s->pending_since_ms && mw_buf_used(&s->out) &&
	       now - since > limit_ms;
}

static void conn_update(struct mw_conn *c)
{
	uint32_t cw = 0, uw = 0;

	if (c->dead)
		return;
	/* Write through now: waiting for EPOLLOUT costs a loop turn and two
	 * epoll_ctl calls per hop, on a socket that is almost always ready. */
	if (mw_buf_used(&c->c.out) && flush_side(c, &c->c)) {
		conn_close(c, NULL);
		return;
	}
	if (c->u.io.fd >= 0 && !c->u.connecting && !c->held &&
	    mw_buf_used(&c->u.out) && flush_side(c, &c->u)) {
		upstream_failed(c, strerror(errno));
		if (c->dead)
			return;
	}
	if (c->closing && !mw_buf_used(&c->c.out)) {
		conn_close_lingering(c);
		return;
	}
	/* Backpressure: read a side only while the other has room. */
	if (!c->c.rd_eof && !c->no_more_requests && !c->closing &&
	    mw_buf_used(&c->u.out) < MW_HIGH_WATER &&
	    mw_buf_used(&c->c.out) < MW_HIGH_WATER && c->nx < MW_MAX_PIPELINE)
		cw |= EPOLLIN;
	/*
	 * A body's clock runs from the end of its head (a trickle keeps the
	 * idle timer fresh while the body so far is held), but only while
	 * the daemon reads the client: the time it holds it back is added
	 * to the start.
	 */
	if (!c->req.in_head && mw_http_in_message(&c->req)) {
		int64_t now = mw_now_ms();

		if (!c->body_start_ms)
			c->body_start_ms = now;
		/* a pause does not count, nor restart the clock */
		if (!(cw & EPOLLIN) && !c->body_paused_ms) {
			c->body_paused_ms = now;
		} else if ((cw & EPOLLIN) && c->body_paused_ms) {
			c->body_start_ms += now - c->body_paused_ms;
			c->body_paused_ms = 0;
		}
	} else {
		c->body_start_ms = 0;
		c->body_paused_ms = 0;
	}
	if (mw_buf_used(&c->c.out))
		cw |= EPOLLOUT;
	if (c->u.io.fd >= 0) {
		if (c->u.connecting || (mw_buf_used(&c->u.out) && !c->held))
			uw |= EPOLLOUT;
		if (!c->u.connecting && !c->u.rd_eof &&
		    mw_buf_used(&c->c.out) < MW_HIGH_WATER)
			uw |= EPOLLIN;
	}
	/* The client finished sending: pass its FIN on once drained. */
	if (c->c.rd_eof && c->u.io.fd >= 0 && !c->u.connecting &&
	    !mw_buf_used(&c->u.out) && !c->u.wr_shut) {
		shutdown(c->u.io.fd, SHUT_WR);
		c->u.wr_shut = true;
	}
	/* Nothing left to answer and nobody to ask: done. */
	if ((c->c.rd_eof || c->no_more_requests) && c->nx == 0 &&
	    !mw_buf_used(&c->c.out) && !mw_http_in_message(&c->resp)) {
		conn_close_lingering(c);
		return;
	}
	if (c->u.rd_eof && c->nx == 0 && !mw_buf_used(&c->c.out)) {
		conn_close(c, NULL);
		return;
	}
	note_pending(&c->c);
	/* held back on purpose: its clock starts when it may go */
	if (c->held)
		c->u.pending_since_ms = 0;
	else
		note_pending(&c->u);
	side_set(c, &c->c, cw);
	if (!c->dead)
		side_set(c, &c->u, uw);
	if (!c->dead)
		recount_buffered(c);
}

static int flush_side(struct mw_conn *c, struct mw_side *s)
{
	while (mw_buf_used(&s->out)) {
		ssize_t n = send(s->io.fd, mw_buf_head(&s->out),
				 mw_buf_used(&s->out), MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -1;
		}
		mw_buf_consume(&s->out, (size_t)n);
		c->last_active_ms = mw_now_ms();
		s->last_send_ms = c->last_active_ms;
	}
	mw_buf_shrink(&s->out);
	return 0;
}

/*
 * The size from which a head still being read is checked against the
 * budget: above what heads take (so that the start of a head behind a
 * large body in one read, whose forwarded copy waits to be written, is
 * not refused for it), below what thousands of connections could hold
 * unchecked (max_connections x this).
 */
#define HEAD_BUDGETED_FROM (16u << 10)

/*
 * A request head still being read, within the message bytes its user's
 * connections may hold (may_buffer); else it is refused with 503 and no
 * more is read. False when refused.
 */
static bool head_may_grow(struct mw_conn *c)
{
	char why[200], detail[256];

	if (may_buffer(c, 0, why, sizeof(why)))
		return true;
	snprintf(detail, sizeof(detail), "refused request: %s", why);
	record_http_error(c, NULL, NULL, 503, detail);
	respond_local(c, "GET", "", 503, detail, NULL, true);
	c->no_more_requests = true;
	return false;
}

/* A request the daemon cannot take: malformed, too large, or (503) one
 * the daemon has no room for now. */
static void client_protocol_error(struct mw_conn *c)
{
	const char *why = mw_http_error(&c->req);
	const char *method = c->req.head.method;
	bool refused = c->req_refused_status != 0;
	const char *url = c->req.head.url ? c->req.head.url : "";
	int status = strstr(why, "over the limit") ? 413 : 400;
	char detail[256], *safe;

	if (refused)
		status = c->req_refused_status;
	snprintf(detail, sizeof(detail), "%s request: %s",
		 status == 503 ? "refused" : "malformed", why);
	log_info("conn %llu (%s, pid %u): %s", (unsigned long long)c->id,
		 c->ident.comm, c->ident.tgid, log_safe(c, detail, &safe));
	free(safe);
	/* a well-formed request (refused, not malformed) is answered as its
	 * kind wants: a JSON-RPC error for an MCP POST */
	record_http_error(c, method[0] ? method : NULL, refused ? url : NULL,
			  status, detail);
	respond_local(c, refused ? method : "GET", refused ? url : "", status,
		      detail, NULL, true);
	c->no_more_requests = true;
}

/* ---- splice ------------------------------------------------------------ */

static void splice_begin(struct mw_conn *c, const struct sockaddr_storage *peer,
			 const struct sockaddr_storage *local)
{
	int r = mw_bpf_splice_add(c->px->bpf, c->c.io.fd, peer, local,
				  MW_SPLICE_WINDOW, &c->splice_key);

	if (r) {
		log_debug("conn %llu: splice not available (%s), TCP path",
			  (unsigned long long)c->id, strerror(-r));
		return;
	}
	c->spliced = true;
}

/*
 * n bytes read from the client; a read short of the buffer emptied the
 * socket, so everything spliced until then has been read.
 */
static void splice_read(struct mw_conn *c, size_t n, size_t asked)
{
	int r;

	if (c->splice_left)
		return;
	c->splice_reads++;
	c->splice_bytes += n;
	if (n == asked || (c->splice_reads < MW_SPLICE_REFILL_READS &&
			   c->splice_bytes < MW_SPLICE_WINDOW / 4))
		return;
	c->splice_reads = 0;
	c->splice_bytes = 0;
	r = mw_bpf_splice_refill(c->px->bpf, &c->splice_key, MW_SPLICE_WINDOW);
	if (r < 0)
		log_debug("conn %llu: splice bound not moved (%s)",
			  (unsigned long long)c->id, strerror(-r));
	/* on an error the old bound stands: past it, the client takes TCP */
	c->splice_left = r != 0;
}

static void splice_end(struct mw_conn *c)
{
	if (c->spliced)
		mw_bpf_splice_forget(c->px->bpf, &c->splice_key);
	c->spliced = false;
}

static void on_client_readable(struct mw_conn *c)
{
	char buf[MW_READ_CHUNK];
	ssize_t n = recv(c->c.io.fd, buf, sizeof(buf), 0);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_close(c, "client read error");
		return;
	}
	c->last_active_ms = mw_now_ms();
	if (c->spliced)
		splice_read(c, (size_t)n, sizeof(buf));
	if (n == 0) {
		c->c.rd_eof = true;
		if (mw_http_in_message(&c->req)) {
			record_http_error(c, NULL, NULL, 400,
					  "client closed inside a request");
			conn_close(c, NULL);
		}
		return;
	}
	c->px->st.bytes_from_clients += (uint64_t)n;
	if (mw_http_feed(&c->req, buf, (size_t)n) < 0) {
		client_protocol_error(c);
		return;
	}
	/* a head held unfinished counts like a body: thousands of them
	 * must not take the room every other user's messages need */
	if (c->req.in_head && mw_http_held(&c->req) > HEAD_BUDGETED_FROM &&
	    !head_may_grow(c))
		return;
	/* The clock runs while a head is incomplete, however it began: a
	 * partial head behind a complete request in the same read too. */
	if (!c->req.in_head)
		c->head_start_ms = 0;
	else if (!c->head_start_ms)
		c->head_start_ms = c->last_active_ms;
}

/*
 * Gives up on the server connection: nothing more goes to it, and every
 * exchange still waiting gets status with answer, in order.
 */
static void give_up_upstream(struct mw_conn *c, int status, const char *detail,
			     const char *answer)
{
	record_http_error(c, NULL, NULL, status, detail);
	unhold(c);
	if (c->u.io.fd >= 0) {
		if (c->u.registered)
			mw_loop_del(c->px->loop, &c->u.io);
		close(c->u.io.fd);
		c->u.io.fd = -1;
		c->u.registered = false;
	}
	c->upstream_failed = true;
	mw_buf_reset(&c->u.out);
	if (c->resp_head_sent) {
		/* Part of a response went out: only closing tells the client. */
		c->closing = true;
		return;
	}
	/*
	 * Answer every exchange still waiting for the server, each in its
	 * place (a response refused in its head, or half read, sent the
	 * client nothing yet): once round the queue, those answered here
	 * already going back to the end as they are, the others replaced
	 * by their answer there. An answer pushed behind a local one would
	 * answer the wrong request.
	 */
	for (size_t n = c->nx; n && c->xq_head && !c->dead; n--) {
		struct exchange *x = exchange_take(c);
		char *m, *p;

		if (x->is_local) {
			exchange_push(c, x);
			continue;
		}
		m = strdup(x->http_method);
		p = strdup(x->path);
		exchange_free(x);
		if (m && p)
			respond_local(c, m, p, status, answer, NULL, true);
		else
			conn_close(c, "out of memory");
		free(m);
		free(p);
	}
	if (c->dead)
		return;
	/* Requests still to come are answered one by one, then closed. */
	start_next_exchange(c);
}

static void upstream_failed(struct mw_conn *c, const char *why)
{
	char detail[256], answer[320], *safe, *masked;
	json_t *counts;

	snprintf(detail, sizeof(detail), "upstream %s: %s", c->upstream_str,
		 why);
	log_warn("conn %llu: %s", (unsigned long long)c->id,
		 log_safe(c, detail, &safe));
	free(safe);
	c->px->st.upstream_errors++;
	/* why may quote the server's bytes: masked as its answers are */
	masked = masked_detail(c, MW_MASK_TO_CLIENT, why, &counts);
	json_decref(counts);
	snprintf(answer, sizeof(answer), "%s: %s",
		 mw_http_in_message(&c->resp)
			 ? "the MCP server's answer cannot be passed on"
			 : "the MCP server cannot be reached",
		 masked ? masked : why);
	free(masked);
	give_up_upstream(c, 502, detail, answer);
}

/*
 * AU-5: the request's event did not become durable in time (the database
 * and the spool both unavailable): it is not forwarded.
 */
static void durability_failed(struct mw_conn *c)
{
	char why[200];

	snprintf(why, sizeof(why),
		 "the audit trail could not make the request durable within "
		 "%d ms: not forwarded",
		 c->px->cfg->audit.durable_timeout_ms);
	log_err("conn %llu: %s", (unsigned long long)c->id, why);
	c->px->st.durability_timeouts++;
	give_up_upstream(c, 503, why, why);
}

static void on_upstream_readable(struct mw_conn *c)
{
	char buf[MW_READ_CHUNK];
	ssize_t n = recv(c->u.io.fd, buf, sizeof(buf), 0);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			upstream_failed(c, strerror(errno));
		return;
	}
	c->last_active_ms = mw_now_ms();
	if (n == 0) {
		c->u.rd_eof = true;
		if (mw_http_eof(&c->resp) < 0) {
			upstream_failed(c, mw_http_error(&c->resp));
			return;
		}
		if (c->nx)
			upstream_failed(c, "closed before answering");
		return;
	}
	c->px->st.bytes_from_servers += (uint64_t)n;
	if (mw_http_feed(&c->resp, buf, (size_t)n) < 0) {
		upstream_failed(c, mw_http_error(&c->resp));
		return;
	}
	/* a response head held unfinished counts like a body too */
	if (c->resp.in_head && mw_http_held(&c->resp) > HEAD_BUDGETED_FROM &&
	    !may_buffer(c, 0, c->resp.err, sizeof(c->resp.err)))
		upstream_failed(c, c->resp.err);
}

static void on_client_io(struct mw_io *io, uint32_t events)
{
	struct mw_side *s = (struct mw_side *)io;
	struct mw_conn *c = s->conn;

	if (c->dead)
		return;
	/* The daemon never shuts the client's side: a hang-up is a reset,
	 * and nobody is left to answer. */
	if (events & (EPOLLHUP | EPOLLERR)) {
		conn_close(c, "the client reset the connection");
		return;
	}
	if (events & EPOLLOUT) {
		if (flush_side(c, &c->c)) {
			conn_close(c, NULL);
			return;
		}
	}
	if (events & EPOLLIN)
		on_client_readable(c);
	conn_update(c);
}

static void on_upstream_connected(struct mw_conn *c)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	c->u.connecting = false;
	if (getsockopt(c->u.io.fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) ||
	    soerr) {
		upstream_failed(c, strerror(soerr ? soerr : errno));
		return;
	}
	set_nonblock_cloexec(c->u.io.fd);
}

static void on_upstream_io(struct mw_io *io, uint32_t events)
{
	struct mw_side *s = (struct mw_side *)io;
	struct mw_conn *c = s->conn;

	if (c->dead)
		return;
	if (c->u.connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
		on_upstream_connected(c);
	if (c->u.io.fd >= 0 && !c->u.connecting && !c->held &&
	    (events & EPOLLOUT)) {
		if (flush_side(c, &c->u))
			upstream_failed(c, strerror(errno));
	}
	/* a hang-up is read like EOF, but only while there is room for
	 * what may still come before it */
	if (c->u.io.fd >= 0 && !c->u.connecting &&
	    ((events & EPOLLIN) ||
	     ((events & (EPOLLHUP | EPOLLERR)) && (s->events & EPOLLIN))))
		on_upstream_readable(c);
	else if (c->u.io.fd >= 0 && !c->u.connecting && (events & EPOLLERR))
		upstream_failed(c, "connection reset");
	conn_update(c);
}

/* ---- lifecycle ------------------------------------------------------------ */

static void conn_free_deferred(struct mw_deferred *d)
{
	struct mw_conn *c = container_of(d, struct mw_conn, free_later);

	while (c->xq_head)
		exchange_pop(c);
	mw_http_free(&c->req);
	mw_http_free(&c->resp);
	mw_buf_free(&c->c.out);
	mw_buf_free(&c->u.out);
	mw_buf_free(&c->req_body);
	mw_buf_free(&c->resp_body);
	if (c->sse_ready)
		mw_sse_free(&c->sse);
	free(c->session);
	free(c->legacy_stream);
	free(c);
}

static void linger_free(struct lingering *lg)
{
	struct mw_proxy *px = lg->px;

	mw_loop_del(px->loop, &lg->io);
	close(lg->io.fd);
	if (lg->prev)
		lg->prev->next = lg->next;
	else
		px->lingering = lg->next;
	if (lg->next)
		lg->next->prev = lg->prev;
	px->nlingering--;
	free(lg);
}

static void on_lingering(struct mw_io *io, uint32_t events)
{
	struct lingering *lg = container_of(io, struct lingering, io);
	char buf[16384];
	ssize_t n;

	(void)events;
	/* A few reads per turn: a client that keeps sending is cut at
	 * until_ms by the tick, not served ahead of the others. */
	for (int i = 0; i < 16; i++) {
		n = recv(io->fd, buf, sizeof(buf), 0);
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		linger_free(lg); /* EOF or an error: the client is done */
		return;
	}
}

/*
 * Takes the client socket of a closing connection: our answer is queued,
 * a FIN follows it, and what the client still sends is read and dropped
 * so that the kernel does not reset the connection under the answer.
 * Returns false when the socket must simply be closed.
 */
static bool linger_client(struct mw_proxy *px, int fd)
{
	struct lingering *lg;

	if (px->nlingering >= MW_MAX_LINGERING || shutdown(fd, SHUT_WR))
		return false;
	lg = calloc(1, sizeof(*lg));
	if (!lg)
		return false;
	lg->px = px;
	lg->io.fd = fd;
	lg->io.cb = on_lingering;
	lg->until_ms = mw_now_ms() + MW_LINGER_MS;
	if (mw_loop_add(px->loop, &lg->io, EPOLLIN | EPOLLRDHUP)) {
		free(lg);
		return false;
	}
	lg->next = px->lingering;
	if (lg->next)
		lg->next->prev = lg;
	px->lingering = lg;
	px->nlingering++;
	return true;
}

static void linger_expire(struct mw_proxy *px, int64_t now)
{
	struct lingering *lg, *next;

	for (lg = px->lingering; lg; lg = next) {
		next = lg->next;
		if (now >= lg->until_ms)
			linger_free(lg);
	}
}

static void conn_close_how(struct mw_conn *c, const char *why, bool linger);

/*
 * A closing connection ends what only it could answer: the requests it
 * carried without a session, and a legacy session whose stream it was
 * (its POSTs are refused once no stream of it is live).
 */
static void end_pair_scopes(struct mw_conn *c)
{
	char scope[32];

	for (struct exchange *x = c->xq_head; x; x = x->next)
		if (!x->has_session)
			x->no_later_answer = true;
	end_pair_scope(c, conn_scope(c, scope));
	if (!c->legacy_stream)
		return;
	for (const struct mw_conn *s = c->px->conns; s; s = s->next)
		if (carries_legacy_session(s, c, c->legacy_stream))
			return;
	end_pair_scope(c, c->legacy_stream);
}

static void conn_close(struct mw_conn *c, const char *why)
{
	conn_close_how(c, why, false);
}

/* Closes after an answer the client must be able to read (a refusal, the
 * last response of a connection that asked to close). */
static void conn_close_lingering(struct mw_conn *c)
{
	conn_close_how(c, NULL, !c->c.rd_eof);
}

static void conn_close_how(struct mw_conn *c, const char *why, bool linger)
{
	struct mw_proxy *px = c->px;
	struct mw_audit_event ev;

	if (c->dead)
		return;
	c->dead = true;
	unhold(c);
	splice_end(c);
	if (why)
		log_info("conn %llu: closed: %s", (unsigned long long)c->id,
			 why);
	if (c->server) {
		base_event(c, &ev, MW_EV_CONN_CLOSE);
		ev.detail = why;
		ev.session_id = c->session;
		submit_event(c, &ev);
		end_pair_scopes(c);
	}
	for (struct mw_side *s = &c->c; s; s = s == &c->c ? &c->u : NULL) {
		if (s->io.fd < 0)
			continue;
		if (s->registered)
			mw_loop_del(px->loop, &s->io);
		if (!(linger && s == &c->c && linger_client(px, s->io.fd)))
			close(s->io.fd);
		s->io.fd = -1;
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		px->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	px->st.active--;
	mw_budget_leave(&px->budget, c->holder, c->buffered);
	c->holder = NULL;
	c->free_later.cb = conn_free_deferred;
	mw_loop_defer(px->loop, &c->free_later);
}

static int start_upstream(struct mw_conn *c)
{
	socklen_t sl;
	int fd, r;

	fd = socket(c->upstream_addr.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* Tagged so that no mcpwarden program ever steers it back to us. */
	r = mw_bpf_tag_own_socket(c->px->bpf, fd, MW_OWN_UPSTREAM);
	if (r) {
		log_err("cannot tag the upstream socket for the programs: %s",
			strerror(-r));
		close(fd);
		errno = -r;
		return -1;
	}
	sl = c->upstream_addr.ss_family == AF_INET
		     ? sizeof(struct sockaddr_in)
		     : sizeof(struct sockaddr_in6);
	c->u.io.fd = fd;
	c->connect_start_ms = mw_now_ms();
	if (connect(fd, (struct sockaddr *)&c->upstream_addr, sl) == 0) {
		c->u.connecting = false;
		set_nonblock_cloexec(fd);
		return 0;
	}
	if (errno != EINPROGRESS)
		return -1;
	c->u.connecting = true;
	return 0;
}

static void refuse_unsteered(struct mw_proxy *px, int fd, const char *peer)
{
	px->st.refused_unsteered++;
	mw_log_limited(&px->unsteered_log, MW_LOG_WARN,
		       "refused a connection from %s: not steered by "
		       "mcpwarden",
		       peer);
	close(fd);
}

/*
 * A connection refused before its first request is read still gets an
 * answer, best effort (its socket buffer is empty): a 503 saying why, then
 * the close, rather than an empty reply.
 */
static void send_early_503(int fd, const char *why)
{
	char msg[512];
	int n;

	n = snprintf(msg, sizeof(msg),
		     "HTTP/1.1 503 Service Unavailable\r\n"
		     "Content-Type: text/plain; charset=utf-8\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n"
		     "%s\n",
		     strlen(why) + 1, why);
	if (n > 0 && (size_t)n < sizeof(msg) &&
	    send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("early 503: %s", strerror(errno));
}

static void accept_one(struct mw_proxy *px, int fd)
{
	struct sockaddr_storage peer, local;
	socklen_t pl = sizeof(peer), ll = sizeof(local);
	struct mw_conn_info ci;
	struct mw_audit_event ev;
	struct mw_conn *c;
	char peer_s[64];

	if (getpeername(fd, (struct sockaddr *)&peer, &pl) ||
	    getsockname(fd, (struct sockaddr *)&local, &ll)) {
		close(fd);
		return;
	}
	mw_format_addr(&peer, peer_s, sizeof(peer_s));
	if (mw_bpf_take_conn(px->bpf, &peer, &local, &ci)) {
		refuse_unsteered(px, fd, peer_s);
		return;
	}
	if (ci.server_id >= px->cfg->nservers) {
		refuse_unsteered(px, fd, peer_s);
		return;
	}
	if (px->st.active >= px->cfg->limits.max_connections) {
		px->st.refused_overload++;
		mw_log_limited(&px->overload_log, MW_LOG_WARN,
			       "refused %s: %zu connections is the limit",
			       peer_s, px->cfg->limits.max_connections);
		send_early_503(fd, "mcpwarden: too many connections, refused");
		if (!linger_client(px, fd))
			close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->px = px;
	c->id = mw_audit_next_conn_id(px->audit);
	c->c.conn = c;
	c->u.conn = c;
	c->c.io.fd = fd;
	c->c.io.cb = on_client_io;
	c->u.io.fd = -1;
	c->u.io.cb = on_upstream_io;
	c->c.out.cache = mw_loop_buf_cache(px->loop);
	c->u.out.cache = c->c.out.cache;
	c->req_body.cache = c->c.out.cache;
	c->resp_body.cache = c->c.out.cache;
	/* first: a client that writes before the daemon's side is in the
	 * sockhash takes TCP for good, and the identity takes /proc reads */
	if (px->cfg->splice)
		splice_begin(c, &peer, &local);
	c->server = &px->cfg->servers[ci.server_id];
	mw_identity_from_conn(&c->ident, &ci, &px->users, px->images);
	c->holder = mw_budget_join(&px->budget, c->ident.uid);
	if (!c->holder) {
		splice_end(c);
		free(c);
		close(fd);
		return;
	}
	mw_judge_who_init(&c->who, &c->ident);
	snprintf(c->client_addr, sizeof(c->client_addr), "%s", peer_s);
	mw_mapped_to_addr(ci.orig_addr, ci.orig_port, &c->upstream_addr);
	mw_format_addr(&c->upstream_addr, c->upstream_str,
		       sizeof(c->upstream_str));
	mw_http_init(&c->req, MW_HTTP_REQUEST, px->cfg->limits.max_header_bytes,
		     &req_cb, c);
	mw_http_init(&c->resp, MW_HTTP_RESPONSE,
		     px->cfg->limits.max_header_bytes, &resp_cb, c);
	c->last_active_ms = mw_now_ms();
	c->next = px->conns;
	if (px->conns)
		px->conns->prev = c;
	px->conns = c;
	px->st.active++;
	px->st.accepted++;
	set_nonblock_cloexec(fd);

	base_event(c, &ev, MW_EV_CONN_OPEN);
	ev.identity = &c->ident;
	ev.client_addr = c->client_addr;
	ev.server_addr = c->upstream_str;
	if (!mw_audit_submit(px->audit, &ev)) {
		/* AU-5: the queue is full, or nothing can make it durable */
		send_early_503(fd, "mcpwarden: the audit trail cannot record "
				   "this connection: refused");
		conn_close_how(c,
			       "the audit trail cannot record the "
			       "connection: refused",
			       true);
		return;
	}
	log_debug("conn %llu: %s pid %u uid %u (%s) -> %s %s",
		  (unsigned long long)c->id, c->ident.comm, c->ident.tgid,
		  c->ident.uid, c->ident.cgroup, c->server->name,
		  c->upstream_str);
	if (start_upstream(c))
		upstream_failed(c, strerror(errno));
	conn_update(c);
}

/*
 * Out of descriptors (or memory) the pending connection stays in the
 * backlog, and a level-triggered listener would be reported again at once,
 * every turn: it leaves the loop until the next tick (resume_listeners).
 */
static void pause_listener(struct listener *l)
{
	int64_t now = mw_now_ms();

	/* once per pause, and a pause a tick long: at most every 10 s */
	if (now - l->logged_ms >= 10000) {
		log_err("accept: %s: new connections wait until a descriptor "
			"is free (max_connections is %zu)",
			strerror(errno), l->px->cfg->limits.max_connections);
		l->logged_ms = now;
	}
	l->px->st.accept_paused++;
	if (!mw_loop_mod(l->px->loop, &l->io, 0))
		l->paused = true;
}

static void resume_listeners(struct mw_proxy *px)
{
	for (struct listener *l = &px->l4; l; l = l == &px->l4 ? &px->l6 : NULL)
		if (l->paused && l->io.fd >= 0 &&
		    !mw_loop_mod(px->loop, &l->io, EPOLLIN))
			l->paused = false;
}

static void on_listener(struct mw_io *io, uint32_t events)
{
	struct listener *l = (struct listener *)io;

	(void)events;
	for (int i = 0; i < 64; i++) {
		int fd = accept4(io->fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				pause_listener(l);
				return;
			}
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		accept_one(l->px, fd);
	}
}

/* 408: the request stops here, and so does the connection. */
static void request_timed_out(struct mw_conn *c, const char *why)
{
	record_http_error(c, NULL, NULL, 408, why);
	respond_local(c, "GET", "", 408, why, NULL, true);
	c->head_start_ms = 0;
	c->body_start_ms = 0;
	c->body_paused_ms = 0;
	c->no_more_requests = true;
	conn_update(c);
}

/*
 * Whether the client has sent its FIN. While the daemon does not read it
 * (a full pipeline, a refused request), rd_eof stays unset: the socket's
 * TCP state says it (CLOSE_WAIT: the peer finished, we have not).
 */
static bool client_finished(struct mw_conn *c)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (c->c.rd_eof)
		return true;
	memset(&ti, 0, sizeof(ti));
	return !getsockopt(c->c.io.fd, IPPROTO_TCP, TCP_INFO, &ti, &len) &&
	       ti.tcpi_state == TCP_CLOSE_WAIT;
}

static void on_tick(struct mw_tick *t, int64_t now)
{
	struct mw_proxy *px = container_of(t, struct mw_proxy, tick);
	const struct mw_limits *lim = &px->cfg->limits;
	struct mw_conn *c, *next;

	linger_expire(px, now);
	resume_listeners(px);
	for (c = px->conns; c; c = next) {
		next = c->next;
		if (c->held && now - c->held_since_ms >
				       px->cfg->audit.durable_timeout_ms) {
			durability_failed(c);
			conn_update(c);
			continue;
		}
		if (c->u.connecting &&
		    now - c->connect_start_ms > lim->connect_timeout_ms) {
			upstream_failed(c, "connect timed out");
			conn_update(c);
			continue;
		}
		if (c->head_start_ms &&
		    now - c->head_start_ms > lim->header_timeout_ms) {
			request_timed_out(c, "request not received in time");
			continue;
		}
		if (c->body_start_ms && !c->body_paused_ms &&
		    now - c->body_start_ms > lim->body_timeout_ms) {
			c->px->st.body_timeouts++;
			request_timed_out(c,
					  "request body not received in time");
			continue;
		}
		/*
		 * A peer that reads nothing of what waits for it holds its
		 * buffers for ever (a client gone quiet, a server that
		 * stopped reading): a stream stays open while it is read.
		 */
		if (write_stalled(&c->c, now, lim->send_timeout_ms)) {
			conn_close(c, "the client read nothing in "
				      "send_timeout_ms");
			continue;
		}
		if (!c->held && c->u.io.fd >= 0 && !c->u.connecting &&
		    write_stalled(&c->u, now, lim->send_timeout_ms)) {
			upstream_failed(c, "the server read nothing of the "
					   "request in send_timeout_ms");
			conn_update(c);
			continue;
		}
		/*
		 * Streams stay open while the server holds them, unless the
		 * client has finished (a killed one's FIN looks the same) and
		 * nothing moved either way: its exchanges hold memory for an
		 * answer that may be for nobody. A live client that only
		 * half-closed learns why (504); a dead one resets.
		 */
		if (now - c->last_active_ms <= lim->idle_timeout_ms)
			continue;
		if (c->nx == 0) {
			conn_close(c, "idle");
		} else if (client_finished(c)) {
			static const char why[] =
				"the client finished sending and no answer "
				"came in idle_timeout_ms";

			log_info("conn %llu: %s", (unsigned long long)c->id,
				 why);
			give_up_upstream(c, 504, why, why);
			conn_update(c);
		}
	}
}

static int open_listener(struct mw_proxy *px, struct listener *l,
			 const struct sockaddr_storage *ss, char *err,
			 size_t errlen)
{
	int one = 1, fd, r;
	socklen_t sl = ss->ss_family == AF_INET ? sizeof(struct sockaddr_in)
						: sizeof(struct sockaddr_in6);
	char a[64];

	mw_format_addr(ss, a, sizeof(a));
	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, sl) || listen(fd, 1024))
		goto fail;
	/* the programs steer to this socket only */
	r = mw_bpf_tag_own_socket(px->bpf, fd, MW_OWN_LISTENER);
	if (r) {
		errno = -r;
		goto fail;
	}
	l->io.fd = fd;
	l->io.cb = on_listener;
	l->px = px;
	if (mw_loop_add(px->loop, &l->io, EPOLLIN))
		goto fail;
	log_info("listening on %s", a);
	return 0;
fail:
	snprintf(err, errlen, "listen on %s: %s", a, strerror(errno));
	if (fd >= 0)
		close(fd);
	l->io.fd = -1;
	return -1;
}

int mw_proxy_new(struct mw_proxy **out, struct mw_loop *loop,
		 struct mw_bpf *bpf, struct mw_audit *audit,
		 struct mw_pins *pins, const struct mw_config *cfg, char *err,
		 size_t errlen)
{
	struct mw_proxy *px = calloc(1, sizeof(*px));

	if (!px) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	px->loop = loop;
	px->bpf = bpf;
	px->audit = audit;
	px->cfg = cfg;
	px->policy = cfg->policy;
	px->masker = cfg->masker;
	px->pins = pins;
	px->l4.io.fd = -1;
	px->l6.io.fd = -1;
	/* one user's requests fill an eighth of it at most */
	if (mw_pairing_new(&px->pairing, MW_MAX_PAIRING, MW_MAX_PAIRING / 8) ||
	    mw_sessions_new(&px->sessions, MW_MAX_SESSIONS)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	mw_budget_init(&px->budget, cfg->limits.max_buffered_bytes,
		       cfg->limits.max_buffered_bytes / 4);
	if (mw_task_images_open(&px->images, err, errlen))
		goto fail;
	if (open_listener(px, &px->l4, &cfg->listen4, err, errlen))
		goto fail;
	if (cfg->has_listen6 &&
	    open_listener(px, &px->l6, &cfg->listen6, err, errlen))
		goto fail;
	px->tick.cb = on_tick;
	mw_loop_add_tick(loop, &px->tick);
	mw_audit_on_durable(audit, on_durable, px);
	*out = px;
	return 0;
fail:
	mw_proxy_free(px);
	return -1;
}

void mw_proxy_set_policy(struct mw_proxy *px, const struct mw_policy *policy)
{
	px->policy = policy;
}

void mw_proxy_set_masker(struct mw_proxy *px, struct mw_masker *masker)
{
	px->masker = masker;
}

void mw_proxy_free(struct mw_proxy *px)
{
	if (!px)
		return;
	/* the loop may outlive us: a tick left on it would be freed memory */
	mw_loop_del_tick(px->loop, &px->tick);
	mw_audit_on_durable(px->audit, NULL, NULL);
	/* their exchanges drop pairing entries: before the table goes */
	for (struct mw_conn *c = px->conns; c; c = c->next)
		while (c->xq_head)
			exchange_pop(c);
	while (px->conns)
		conn_close(px->conns, "shutting down");
	while (px->lingering)
		linger_free(px->lingering);
	for (struct listener *l = &px->l4; l; l = l == &px->l4 ? &px->l6 : NULL)
		if (l->io.fd >= 0) {
			mw_loop_del(px->loop, &l->io);
			close(l->io.fd);
		}
	mw_pairing_free(px->pairing);
	mw_sessions_free(px->sessions);
	mw_task_images_close(px->images);
	mw_budget_free(&px->budget);
	free(px);
}

void mw_proxy_stats(const struct mw_proxy *px, struct mw_proxy_stats *st)
{
	*st = px->st;
	st->buffered_bytes = px->budget.used;
}

int mw_proxy_for_each_conn(const struct mw_proxy *px,
			   int (*fn)(void *arg, uint64_t conn_id,
				     const struct mw_identity *id,
				     const char *server, const char *client),
			   void *arg)
{
	for (const struct mw_conn *c = px->conns; c; c = c->next) {
		int rc = fn(arg, c->id, &c->ident, c->server->name,
			    c->client_addr);

		if (rc)
			return rc;
	}
	return 0;
}
