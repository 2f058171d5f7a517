// SPDX-License-Identifier: BSD-2-Clause
/*
 * The audit writer.
 *
 * mw_audit_submit turns an event into JSON rows at once (the caller's JSON
 * is borrowed), gives it the next seq of this host and appends it to an
 * in-memory queue; it never waits for the database. The queue is a ring of
 * records with consecutive seqs. A record leaves it only when the batch
 * that carried it has been acknowledged (PGRES_COMMAND_OK and its pipeline
 * sync).
 *
 * Batches: one INSERT statement per batch (events and, through a CTE, the
 * connections rows of its CONN_OPEN events), the rows passed as two JSON
 * array parameters, each batch followed by a pipeline sync so that it
 * commits on its own. Up to MAX_INFLIGHT batches are pipelined on a
 * non-blocking libpq connection driven by the loop (EPOLLIN: consume and
 * read results; EPOLLOUT only while libpq has unsent output).
 *
 * Failures: a lost connection puts every unacknowledged record back in
 * line and reconnects asynchronously (PQconnectStart/PQconnectPoll) with
 * backoff from the timer; resends are idempotent (PRIMARY KEY (host, seq),
 * ON CONFLICT DO NOTHING). A batch the server rejects is retried; when the
 * rejection is about the data (SQLSTATE classes 22, 23, 54) its records
 * are retried one per batch, and a single record that still fails is
 * recorded degraded (without its JSON payloads, the error in detail)
 * rather than blocking the trail forever.
 *
 * The timer is a timerfd registered as an mw_io (not an mw_tick) so that
 * mw_audit_close can take it out of the loop.
 */
#include "audit.h"

#include <errno.h>
#include <libpq-fe.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pg_embedded.h"
#include "schema.h"

#define MAX_INFLIGHT 8
#define CONNECT_TIMEOUT_MS 10000
#define BATCH_TIMEOUT_MS 60000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 3000
#define RESEND_MIN_MS 1000
#define RESEND_MAX_MS 10000
#define CLOSE_WAIT_MS 5000
#define BATCH_BYTES_MAX (16u << 20)
#define TIMER_MAX_MS 100
#define TIMER_MIN_MS 5

#define DEFAULT_MAX_QUEUE 65536
#define DEFAULT_BATCH_MS 20
#define DEFAULT_BATCH_MAX 256
#define DEFAULT_EMBEDDED_USER "mcpwarden"

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))

struct rec {
	uint64_t seq;
	char *ev; /* a mcpwarden.events row, JSON object text */
	char *conn; /* a mcpwarden.connections row, or NULL */
	size_t ev_len, conn_len;
	uint32_t batch; /* id of the in-flight batch carrying it; 0: none */
	bool done; /* acknowledged */
	bool degraded;
};

struct batch {
	uint32_t id;
	uint64_t lo, hi; /* seq range of its records */
	size_t count;
	int64_t sent_ms;
	bool got_ok;
	bool failed;
	char sqlstate[6];
	char msg[256];
};

struct buf {
	char *p;
	size_t len, cap;
};

enum conn_state {
	ST_DOWN,
	ST_CONNECTING,
	ST_UP,
	ST_CLOSED, /* mw_audit_close ran; the struct waits for the loop */
};

struct mw_audit {
	struct mw_loop *loop;
	char *host;
	char *conninfo;
	size_t max_queue, batch_max;
	int batch_ms;

	PGconn *conn;
	enum conn_state state;
	struct mw_io io; /* libpq's socket */
	bool io_registered;
	uint32_t io_events;
	struct mw_io timer; /* timerfd */
	bool timer_registered;
	int64_t connect_started_ms;
	int64_t reconnect_at_ms;
	int64_t resend_at_ms;
	int backoff_ms;
	int resend_backoff_ms;
	uint64_t refusals; /* consecutive refused batches */
	bool down_logged;
	int64_t last_flush_ms;

	/* Records with seqs head_seq .. head_seq + count - 1. */
	struct rec *ring;
	size_t cap, head, count;
	uint64_t head_seq;
	uint64_t send_hint; /* no unsent record has a lower seq */
	size_t n_unsent;
	uint64_t solo_until; /* records up to this seq go one per batch */

	struct batch batches[MAX_INFLIGHT];
	size_t b_head, b_count;
	uint32_t next_batch_id;

	uint64_t last_conn_id;
	struct mw_audit_stats st;
	struct buf evbuf, connbuf;
	struct mw_deferred dfr; /* frees the struct after the event batch */
};

static const char *const kind_names[] = {
	[MW_EV_CONN_OPEN] = "conn_open", [MW_EV_CONN_CLOSE] = "conn_close",
	[MW_EV_REQUEST] = "request",	 [MW_EV_NOTIFICATION] = "notification",
	[MW_EV_RESPONSE] = "response",	 [MW_EV_HTTP_ERROR] = "http_error",
};

static const char *kind_name(enum mw_event_kind k)
{
	if ((unsigned int)k >= sizeof(kind_names) / sizeof(kind_names[0]))
		return "unknown";
	return kind_names[k];
}

static const char *const conn_keys[] = { "connect_timeout", "dbname", NULL };

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	/* libpq messages end with a newline */
	for (size_t n = strlen(err);
	     n && (err[n - 1] == '\n' || err[n - 1] == '\r');)
		err[--n] = '\0';
}

/* Copies a libpq message on one line (its line breaks become spaces). */
static void copy_msg(char *out, size_t outlen, const char *msg)
{
	size_t j = 0;

	if (!outlen)
		return;
	if (!msg || !*msg)
		msg = "unknown error";
	for (const char *p = msg; *p && j + 1 < outlen; p++) {
		if (*p == '\n' || *p == '\r') {
			while (p[1] == '\n' || p[1] == '\r' || p[1] == '\t' ||
			       p[1] == ' ')
				p++;
			if (p[1] && j)
				out[j++] = ' ';
			continue;
		}
		out[j++] = *p;
	}
	out[j] = '\0';
}

/* Server notices go to the log (debug), not straight to stderr. */
static void on_notice(void *arg, const char *msg)
{
	char line[512];

	(void)arg;
	copy_msg(line, sizeof(line), msg);
	log_debug("audit: server notice: %s", line);
}

/* ---- embedded clusters started by this process ---- */

#define MAX_STARTED 8
static char *started_dirs[MAX_STARTED];

static void remember_started(const char *dir)
{
	for (int i = 0; i < MAX_STARTED; i++) {
		if (started_dirs[i] && !strcmp(started_dirs[i], dir))
			return;
	}
	for (int i = 0; i < MAX_STARTED; i++) {
		if (!started_dirs[i]) {
			started_dirs[i] = strdup(dir);
			return;
		}
	}
}

static bool forget_started(const char *dir)
{
	for (int i = 0; i < MAX_STARTED; i++) {
		if (started_dirs[i] && !strcmp(started_dirs[i], dir)) {
			free(started_dirs[i]);
			started_dirs[i] = NULL;
			return true;
		}
	}
	return false;
}

/* ---- JSON rows ---- */

/* Length of the valid UTF-8 sequence at s, 0 when invalid. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned int c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f))
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

/* A JSON string; invalid UTF-8 bytes become U+FFFD. */
static json_t *jstr(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), j = 0;
	json_t *v = json_string(s);
	char *fixed;

	if (v)
		return v;
	fixed = malloc(3 * n + 1);
	if (!fixed)
		return NULL;
	while (*p) {
		size_t l = utf8_len(p);

		if (l) {
			memcpy(fixed + j, p, l);
			j += l;
			p += l;
		} else {
			memcpy(fixed + j, "\xef\xbf\xbd", 3);
			j += 3;
			p++;
		}
	}
	fixed[j] = '\0';
	v = json_string(fixed);
	free(fixed);
	return v;
}

/* A bounded char array (identity fields) as a JSON string. */
static json_t *jstrn(const char *s, size_t max)
{
	char tmp[512];
	size_t n = strnlen(s, max);

	if (n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return jstr(tmp);
}

static int put_str(json_t *o, const char *k, const char *v)
{
	return v ? json_object_set_new(o, k, jstr(v)) : 0;
}

static int put_int(json_t *o, const char *k, int64_t v)
{
	return json_object_set_new(o, k, json_integer((json_int_t)v));
}

/* A borrowed JSON value; the row holds a reference only until dumped. */
static int put_json(json_t *o, const char *k, json_t *v)
{
	return v ? json_object_set(o, k, v) : 0;
}

static int put_ts(json_t *o, int64_t us)
{
	char when[64], out[80];
	time_t sec = (time_t)(us / 1000000);
	long frac = (long)(us % 1000000);
	struct tm tm;

	if (frac < 0) {
		frac += 1000000;
		sec--;
	}
	gmtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, sizeof(out), "%s.%06ldZ", when, frac);
	return json_object_set_new(o, "ts", json_string(out));
}

/*
 * PostgreSQL's jsonb refuses \u0000; jansson writes NUL characters (legal
 * in JSON strings) that way. Escapes are backslash pairs, so a scan that
 * skips pairs finds exactly the real ones; U+FFFD takes their place.
 */
static void scrub_nul_escapes(char *s)
{
	while (*s) {
		if (*s != '\\') {
			s++;
			continue;
		}
		if (s[1] == 'u' && !strncmp(s + 2, "0000", 4))
			memcpy(s + 2, "fffd", 4);
		s += s[1] ? 2 : 1;
	}
}

static char *dump_row(json_t *row, size_t *len)
{
	char *s = json_dumps(row, JSON_COMPACT);

	if (!s)
		return NULL;
	scrub_nul_escapes(s);
	*len = strlen(s);
	return s;
}

static char *event_row(const struct mw_audit *a,
		       const struct mw_audit_event *ev, uint64_t seq,
		       int64_t ts_us, size_t *len)
{
	json_t *o = json_object();
	const char *kind = kind_name(ev->kind);
	char *s = NULL;
	int bad = 0;

	if (!o)
		return NULL;
	bad |= put_str(o, "host", a->host);
	bad |= put_int(o, "seq", (int64_t)seq);
	bad |= put_ts(o, ts_us);
	bad |= put_str(o, "kind", kind);
	if (ev->conn_id)
		bad |= put_int(o, "conn_id", (int64_t)ev->conn_id);
	bad |= put_str(o, "server", ev->server);
	bad |= put_str(o, "session_id", ev->session_id);
	bad |= put_str(o, "direction", ev->direction);
	bad |= put_str(o, "rpc_id", ev->rpc_id);
	bad |= put_str(o, "method", ev->method);
	bad |= put_str(o, "tool", ev->tool);
	bad |= put_json(o, "params", ev->params);
	bad |= put_json(o, "result", ev->result);
	bad |= put_json(o, "error", ev->error);
	if (ev->request_seq)
		bad |= put_int(o, "request_seq", (int64_t)ev->request_seq);
	if ((ev->kind == MW_EV_RESPONSE || ev->latency_ms != 0) &&
	    isfinite(ev->latency_ms))
		bad |= json_object_set_new(o, "latency_ms",
					   json_real(ev->latency_ms));
	bad |= put_str(o, "decision", ev->decision);
	bad |= put_str(o, "rule", ev->rule);
	bad |= put_str(o, "http_method", ev->http_method);
	bad |= put_str(o, "http_path", ev->http_path);
	if (ev->http_status)
		bad |= put_int(o, "http_status", ev->http_status);
	bad |= put_str(o, "detail", ev->detail);
	if (!bad)
		s = dump_row(o, len);
	json_decref(o);
	return s;
}

static char *conn_row(const struct mw_audit *a, const struct mw_audit_event *ev,
		      int64_t ts_us, size_t *len)
{
	const struct mw_identity *id = ev->identity;
	json_t *o = json_object();
	char *s = NULL;
	int bad = 0;

	if (!o)
		return NULL;
	bad |= put_str(o, "host", a->host);
	bad |= put_int(o, "conn_id", (int64_t)ev->conn_id);
	bad |= put_ts(o, ts_us);
	if (id) {
		bad |= put_int(o, "pid", id->pid);
		bad |= put_int(o, "tgid", id->tgid);
		bad |= put_int(o, "uid", id->uid);
		bad |= put_int(o, "gid", id->gid);
		bad |= json_object_set_new(o, "user_name",
					   jstrn(id->user, sizeof(id->user)));
		bad |= json_object_set_new(o, "comm",
					   jstrn(id->comm, sizeof(id->comm)));
		bad |= json_object_set_new(o, "exe",
					   jstrn(id->exe, sizeof(id->exe)));
		bad |= put_int(o, "cgroup_id", (int64_t)id->cgroup_id);
		bad |= json_object_set_new(
			o, "cgroup", jstrn(id->cgroup, sizeof(id->cgroup)));
	}
	bad |= put_str(o, "server", ev->server);
	bad |= put_str(o, "client_addr", ev->client_addr);
	bad |= put_str(o, "server_addr", ev->server_addr);
	if (!bad)
		s = dump_row(o, len);
	json_decref(o);
	return s;
}

/* ---- the queue ---- */

static struct rec *rec_at(struct mw_audit *a, uint64_t seq)
{
	return &a->ring[(a->head + (size_t)(seq - a->head_seq)) % a->cap];
}

static int grow(struct mw_audit *a)
{
	size_t ncap = a->cap * 2;
	struct rec *n;

	if (ncap > a->max_queue)
		ncap = a->max_queue;
	if (ncap <= a->cap)
		return -ENOSPC;
	n = calloc(ncap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < a->count; i++)
		n[i] = a->ring[(a->head + i) % a->cap];
	free(a->ring);
	a->ring = n;
	a->cap = ncap;
	a->head = 0;
	return 0;
}

static void pop_done(struct mw_audit *a)
{
	while (a->count) {
		struct rec *r = &a->ring[a->head];

		if (!r->done)
			break;
		free(r->ev);
		free(r->conn);
		memset(r, 0, sizeof(*r));
		a->head = (a->head + 1) % a->cap;
		a->head_seq++;
		a->count--;
	}
	if (a->send_hint < a->head_seq)
		a->send_hint = a->head_seq;
}

static int buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 4096;
		char *p;

		while (ncap < b->len + n + 1)
			ncap *= 2;
		p = realloc(b->p, ncap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* ---- the connection ---- */

static void on_io(struct mw_io *io, uint32_t events);
static void flush(struct mw_audit *a, bool force);

static void unregister_io(struct mw_audit *a)
{
	if (a->io_registered)
		mw_loop_del(a->loop, &a->io);
	a->io_registered = false;
	a->io_events = 0;
}

/* (Re)registers libpq's current socket: it may change while connecting. */
static int register_io(struct mw_audit *a, uint32_t events)
{
	int fd = PQsocket(a->conn);
	int rc;

	if (a->io_registered && fd == a->io.fd && events == a->io_events)
		return 0;
	if (a->io_registered && fd == a->io.fd) {
		rc = mw_loop_mod(a->loop, &a->io, events);
		if (!rc) {
			a->io_events = events;
			return 0;
		}
	}
	unregister_io(a);
	if (fd < 0)
		return -EBADF;
	a->io.fd = fd;
	rc = mw_loop_add(a->loop, &a->io, events);
	if (rc)
		return rc;
	a->io_registered = true;
	a->io_events = events;
	return 0;
}

/* Puts the records of in-flight batches back in line. */
static void unsend_all(struct mw_audit *a)
{
	for (size_t i = 0; i < a->b_count; i++) {
		struct batch *b = &a->batches[(a->b_head + i) % MAX_INFLIGHT];

		for (uint64_t s = b->lo; s <= b->hi; s++) {
			struct rec *r = rec_at(a, s);

			if (r->batch == b->id) {
				r->batch = 0;
				a->n_unsent++;
			}
		}
		if (b->lo < a->send_hint)
			a->send_hint = b->lo;
	}
	a->b_head = 0;
	a->b_count = 0;
}

static void drop_conn(struct mw_audit *a)
{
	unregister_io(a);
	PQfinish(a->conn);
	a->conn = NULL;
	a->state = ST_DOWN;
	a->st.connected = false;
	unsend_all(a);
	a->reconnect_at_ms = mw_now_ms() + a->backoff_ms;
	a->backoff_ms *= 2;
	if (a->backoff_ms > BACKOFF_MAX_MS)
		a->backoff_ms = BACKOFF_MAX_MS;
}

static void conn_lost(struct mw_audit *a, const char *why)
{
	char msg[512];

	copy_msg(msg, sizeof(msg), why);
	if (a->state == ST_UP || !a->down_logged) {
		log_warn("audit: database connection %s: %s (%zu events "
			 "queued, retrying)",
			 a->state == ST_UP ? "lost" : "failed", msg, a->count);
		a->down_logged = true;
	} else {
		log_debug("audit: reconnect failed: %s", msg);
	}
	drop_conn(a);
}

static void connected(struct mw_audit *a)
{
	if (PQsetnonblocking(a->conn, 1) || !PQenterPipelineMode(a->conn)) {
		conn_lost(a, PQerrorMessage(a->conn));
		return;
	}
	a->state = ST_UP;
	a->st.connected = true;
	a->backoff_ms = BACKOFF_MIN_MS;
	a->resend_at_ms = 0;
	if (register_io(a, EPOLLIN)) {
		conn_lost(a, "cannot watch the database socket");
		return;
	}
	if (a->down_logged)
		log_info("audit: database connection restored (%zu events "
			 "to write)",
			 a->count);
	a->down_logged = false;
	a->send_hint = a->head_seq;
	flush(a, true);
}

static void connect_step(struct mw_audit *a)
{
	PostgresPollingStatusType p = PQconnectPoll(a->conn);

	/*
	 * libpq may have closed the socket and opened another (next address)
	 * with the same number: register afresh at every step.
	 */
	unregister_io(a);
	switch (p) {
	case PGRES_POLLING_OK:
		connected(a);
		break;
	case PGRES_POLLING_READING:
		if (register_io(a, EPOLLIN))
			conn_lost(a, "cannot watch the database socket");
		break;
	case PGRES_POLLING_WRITING:
		if (register_io(a, EPOLLOUT))
			conn_lost(a, "cannot watch the database socket");
		break;
	default:
		conn_lost(a, PQerrorMessage(a->conn));
		break;
	}
}

static void connect_start(struct mw_audit *a)
{
	const char *vals[] = { "10", a->conninfo, NULL };

	a->conn = PQconnectStartParams(conn_keys, vals, 1);
	a->state = ST_CONNECTING;
	a->connect_started_ms = mw_now_ms();
	if (!a->conn) {
		conn_lost(a, "out of memory");
		return;
	}
	PQsetNoticeProcessor(a->conn, on_notice, NULL);
	if (PQstatus(a->conn) == CONNECTION_BAD) {
		conn_lost(a, PQerrorMessage(a->conn));
		return;
	}
	if (register_io(a, EPOLLOUT))
		conn_lost(a, "cannot watch the database socket");
}

/* ---- batches ---- */

/* Sends libpq's buffered output; watches EPOLLOUT while some is left. */
static void push_out(struct mw_audit *a)
{
	int r;

	if (a->state != ST_UP)
		return;
	r = PQflush(a->conn);
	if (r < 0) {
		conn_lost(a, PQerrorMessage(a->conn));
		return;
	}
	if (register_io(a, EPOLLIN | (r ? EPOLLOUT : 0)))
		conn_lost(a, "cannot watch the database socket");
}

/* Sends one batch of unsent records; 1 sent, 0 nothing to send, <0 error. */
static int send_batch(struct mw_audit *a)
{
	uint64_t end = a->head_seq + a->count, s = a->send_hint;
	struct batch *b;
	const char *params[2];
	uint32_t id;
	size_t n = 0;
	bool solo;

	if (s < a->head_seq)
		s = a->head_seq;
	while (s < end && (rec_at(a, s)->batch || rec_at(a, s)->done))
		s++;
	a->send_hint = s;
	if (s >= end)
		return 0;
	id = ++a->next_batch_id;
	if (!id)
		id = ++a->next_batch_id;
	b = &a->batches[(a->b_head + a->b_count) % MAX_INFLIGHT];
	memset(b, 0, sizeof(*b));
	b->id = id;
	b->lo = s;
	solo = s <= a->solo_until;
	a->evbuf.len = 0;
	a->connbuf.len = 0;
	if (buf_add(&a->evbuf, "[", 1) || buf_add(&a->connbuf, "[", 1))
		return -ENOMEM;
	for (; s < end && n < a->batch_max; s++) {
		struct rec *r = rec_at(a, s);

		if (r->batch || r->done)
			continue;
		if (n &&
		    a->evbuf.len + a->connbuf.len + r->ev_len + r->conn_len >
			    BATCH_BYTES_MAX)
			break;
		if ((n && buf_add(&a->evbuf, ",", 1)) ||
		    buf_add(&a->evbuf, r->ev, r->ev_len))
			goto nomem;
		if (r->conn &&
		    ((a->connbuf.len > 1 && buf_add(&a->connbuf, ",", 1)) ||
		     buf_add(&a->connbuf, r->conn, r->conn_len)))
			goto nomem;
		r->batch = id;
		b->hi = s;
		n++;
		if (solo) {
			s++;
			break;
		}
	}
	a->send_hint = s;
	if (buf_add(&a->evbuf, "]", 1) || buf_add(&a->connbuf, "]", 1))
		goto nomem;
	b->count = n;
	params[0] = a->evbuf.p;
	params[1] = a->connbuf.p;
	if (!PQsendQueryParams(a->conn, mw_schema_insert_sql, 2, NULL, params,
			       NULL, NULL, 0) ||
	    !PQpipelineSync(a->conn)) {
		char msg[512];

		copy_msg(msg, sizeof(msg), PQerrorMessage(a->conn));
		for (uint64_t q = b->lo; q <= b->hi; q++) {
			if (rec_at(a, q)->batch == id)
				rec_at(a, q)->batch = 0;
		}
		a->send_hint = b->lo;
		conn_lost(a, msg);
		return -EIO;
	}
	b->sent_ms = mw_now_ms();
	a->b_count++;
	a->n_unsent -= n;
	return 1;
nomem:
	for (uint64_t q = b->lo; q < s && q < end; q++) {
		if (rec_at(a, q)->batch == id)
			rec_at(a, q)->batch = 0;
	}
	a->send_hint = b->lo;
	return -ENOMEM;
}

static void flush(struct mw_audit *a, bool force)
{
	int64_t now = mw_now_ms();
	bool due, sent = false;

	if (a->state != ST_UP || !a->n_unsent)
		return;
	if (now < a->resend_at_ms)
		return;
	due = force || now - a->last_flush_ms >= a->batch_ms;
	while (a->state == ST_UP && a->n_unsent && a->b_count < MAX_INFLIGHT &&
	       (due || a->n_unsent >= a->batch_max)) {
		if (send_batch(a) <= 0)
			break;
		sent = true;
	}
	if (sent) {
		a->last_flush_ms = now;
		push_out(a);
	}
}

static bool data_error(const char *sqlstate)
{
	return !strncmp(sqlstate, "22", 2) || !strncmp(sqlstate, "23", 2) ||
	       !strncmp(sqlstate, "54", 2);
}

/* Strips a record to what cannot fail: it is recorded, its payloads not. */
static void degrade(struct rec *r, const struct batch *b)
{
	static const char *const ev_drop[] = {
		"params",      "result",   "error",	 "detail",
		"http_path",   "server",   "session_id", "rpc_id",
		"method",      "tool",	   "decision",	 "rule",
		"http_method", "direction"
	};
	static const char *const conn_drop[] = { "user_name",  "comm",
						 "exe",	       "cgroup",
						 "server",     "client_addr",
						 "server_addr" };
	char detail[400];
	json_t *o = json_loadb(r->ev, r->ev_len, 0, NULL);
	size_t len;
	char *s;

	if (!o)
		return;
	for (size_t i = 0; i < sizeof(ev_drop) / sizeof(ev_drop[0]); i++)
		json_object_del(o, ev_drop[i]);
	snprintf(detail, sizeof(detail),
		 "event not recordable (SQLSTATE %s: %s)", b->sqlstate, b->msg);
	json_object_set_new(o, "detail", jstr(detail));
	s = dump_row(o, &len);
	json_decref(o);
	if (!s)
		return;
	free(r->ev);
	r->ev = s;
	r->ev_len = len;
	if (r->conn) {
		o = json_loadb(r->conn, r->conn_len, 0, NULL);
		s = NULL;
		if (o) {
			for (size_t i = 0;
			     i < sizeof(conn_drop) / sizeof(conn_drop[0]); i++)
				json_object_del(o, conn_drop[i]);
			s = dump_row(o, &len);
			json_decref(o);
		}
		if (s) {
			free(r->conn);
			r->conn = s;
			r->conn_len = len;
		}
	}
	r->degraded = true;
	log_err("audit: event %llu recorded without its payload: %s",
		(unsigned long long)r->seq, detail);
}

/* The head batch's sync arrived: settle its records. */
static void batch_settled(struct mw_audit *a)
{
	struct batch *b = &a->batches[a->b_head];
	bool ok = b->got_ok && !b->failed;

	for (uint64_t s = b->lo; s <= b->hi && b->count; s++) {
		struct rec *r = rec_at(a, s);

		if (r->batch != b->id)
			continue;
		r->batch = 0;
		if (ok) {
			r->done = true;
			a->st.written++;
		} else {
			a->n_unsent++;
		}
	}
	if (ok && a->refusals) {
		log_info("audit: batches accepted again after %llu refused",
			 (unsigned long long)a->refusals);
		a->refusals = 0;
		a->resend_backoff_ms = RESEND_MIN_MS;
	}
	if (!ok) {
		bool wait = true;

		a->st.failed_batches++;
		if (!a->refusals++ || data_error(b->sqlstate))
			log_warn("audit: batch of %zu events (seq %llu..%llu) "
				 "refused: %s%s%s",
				 b->count, (unsigned long long)b->lo,
				 (unsigned long long)b->hi, b->sqlstate,
				 *b->sqlstate ? " " : "", b->msg);
		if (b->lo < a->send_hint)
			a->send_hint = b->lo;
		if (data_error(b->sqlstate) && b->count > 1) {
			/* find the culprit: one record per batch */
			if (b->hi > a->solo_until)
				a->solo_until = b->hi;
			wait = false;
		} else if (data_error(b->sqlstate) && b->count == 1 &&
			   !rec_at(a, b->lo)->degraded) {
			degrade(rec_at(a, b->lo), b);
			wait = false;
		}
		if (wait) {
			a->resend_at_ms = mw_now_ms() + a->resend_backoff_ms;
			a->resend_backoff_ms *= 2;
			if (a->resend_backoff_ms > RESEND_MAX_MS)
				a->resend_backoff_ms = RESEND_MAX_MS;
		}
	}
	a->b_head = (a->b_head + 1) % MAX_INFLIGHT;
	a->b_count--;
	pop_done(a);
}

/* The primary message only: DETAIL may quote the row, the payload. */
static const char *result_msg(const PGresult *r)
{
	const char *m;

	if (PQresultStatus(r) == PGRES_PIPELINE_ABORTED)
		return "pipeline aborted";
	m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	return m ? m : PQresultErrorMessage(r);
}

static void read_results(struct mw_audit *a)
{
	int nulls = 0;

	while (a->state == ST_UP && a->b_count && !PQisBusy(a->conn)) {
		PGresult *r = PQgetResult(a->conn);
		struct batch *b = &a->batches[a->b_head];

		if (!r) {
			if (++nulls > 1)
				break;
			continue;
		}
		nulls = 0;
		switch (PQresultStatus(r)) {
		case PGRES_COMMAND_OK:
			b->got_ok = true;
			break;
		case PGRES_PIPELINE_SYNC:
			batch_settled(a);
			break;
		default: {
			const char *st =
				PQresultErrorField(r, PG_DIAG_SQLSTATE);

			b->failed = true;
			snprintf(b->sqlstate, sizeof(b->sqlstate), "%s",
				 st ? st : "");
			copy_msg(b->msg, sizeof(b->msg), result_msg(r));
			break;
		}
		}
		PQclear(r);
	}
	if (a->state == ST_UP && PQstatus(a->conn) == CONNECTION_BAD)
		conn_lost(a, PQerrorMessage(a->conn));
}

static void on_io(struct mw_io *io, uint32_t events)
{
	struct mw_audit *a = container_of(io, struct mw_audit, io);

	if (a->state == ST_CONNECTING) {
		connect_step(a);
		return;
	}
	if (a->state != ST_UP)
		return;
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		if (!PQconsumeInput(a->conn)) {
			conn_lost(a, PQerrorMessage(a->conn));
			return;
		}
		read_results(a);
	}
	push_out(a);
	flush(a, false);
}

/* Reconnects, enforces timeouts and flushes on time. */
static void service(struct mw_audit *a, int64_t now)
{
	switch (a->state) {
	case ST_DOWN:
		if (now >= a->reconnect_at_ms)
			connect_start(a);
		break;
	case ST_CONNECTING:
		if (now - a->connect_started_ms > CONNECT_TIMEOUT_MS)
			conn_lost(a, "connect timed out");
		break;
	case ST_UP:
		if (a->b_count &&
		    now - a->batches[a->b_head].sent_ms > BATCH_TIMEOUT_MS) {
			conn_lost(a, "no answer to a batch within 60 s");
			break;
		}
		flush(a, false);
		break;
	case ST_CLOSED:
		break;
	}
}

static void on_timer(struct mw_io *io, uint32_t events)
{
	struct mw_audit *a = container_of(io, struct mw_audit, timer);
	uint64_t ticks;

	(void)events;
	if (a->state == ST_CLOSED)
		return;
	if (read(io->fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_debug("audit: timerfd: %s", strerror(errno));
	service(a, mw_now_ms());
}

/* ---- public ---- */

int mw_audit_conninfo(const struct mw_audit_config *cfg, char *out,
		      size_t outlen)
{
	if (!cfg || !out || !outlen)
		return -EINVAL;
	if (cfg->dsn && *cfg->dsn) {
		if (snprintf(out, outlen, "%s", cfg->dsn) >= (int)outlen)
			return -ENOSPC;
		return 0;
	}
	return mw_pg_embedded_conninfo(cfg->state_dir, out, outlen);
}

static int read_last_ids(struct mw_audit *a, PGconn *conn, char *err,
			 size_t errlen)
{
	const char *params[1] = { a->host };
	PGresult *r = PQexecParams(conn, mw_schema_last_ids_sql, 1, NULL,
				   params, NULL, NULL, 0);
	int rc = 0;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		set_err(err, errlen, "cannot read the last audit seq: %s",
			PQresultErrorMessage(r));
		rc = -EIO;
	} else {
		uint64_t last_seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10);

		a->last_conn_id = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
		a->head_seq = last_seq + 1;
		a->send_hint = a->head_seq;
	}
	PQclear(r);
	return rc;
}

static int start_timer(struct mw_audit *a)
{
	int ms = a->batch_ms;
	struct itimerspec its;
	int rc;

	if (ms > TIMER_MAX_MS)
		ms = TIMER_MAX_MS;
	if (ms < TIMER_MIN_MS)
		ms = TIMER_MIN_MS;
	a->timer.fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	a->timer.cb = on_timer;
	if (a->timer.fd < 0)
		return -errno;
	its.it_interval.tv_sec = ms / 1000;
	its.it_interval.tv_nsec = (long)(ms % 1000) * 1000000;
	its.it_value = its.it_interval;
	if (timerfd_settime(a->timer.fd, 0, &its, NULL) < 0)
		return -errno;
	rc = mw_loop_add(a->loop, &a->timer, EPOLLIN);
	if (!rc)
		a->timer_registered = true;
	return rc;
}

/* Releases everything but the struct itself, which may still be named
 * by events of the loop's current batch. */
static void release(struct mw_audit *a)
{
	unregister_io(a);
	if (a->timer_registered)
		mw_loop_del(a->loop, &a->timer);
	a->timer_registered = false;
	if (a->timer.fd >= 0)
		close(a->timer.fd);
	a->timer.fd = -1;
	PQfinish(a->conn);
	a->conn = NULL;
	for (size_t i = 0; i < a->count; i++) {
		struct rec *r = &a->ring[(a->head + i) % a->cap];

		free(r->ev);
		free(r->conn);
	}
	a->count = 0;
	a->n_unsent = 0;
	a->b_count = 0;
	free(a->ring);
	a->ring = NULL;
	free(a->evbuf.p);
	free(a->connbuf.p);
	free(a->host);
	free(a->conninfo);
	a->evbuf.p = a->connbuf.p = a->host = a->conninfo = NULL;
	a->state = ST_CLOSED;
	a->st.connected = false;
}

static void free_deferred(struct mw_deferred *d)
{
	free(container_of(d, struct mw_audit, dfr));
}

int mw_audit_open(struct mw_audit **out, const struct mw_audit_config *cfg,
		  struct mw_loop *loop, char *err, size_t errlen)
{
	char conninfo[8192];
	const char *vals[] = { "10", conninfo, NULL };
	struct mw_audit *a;
	int rc;

	if (!out || !cfg || !loop) {
		set_err(err, errlen, "audit: missing argument");
		return -EINVAL;
	}
	*out = NULL;
	if (!cfg->host || !*cfg->host) {
		set_err(err, errlen, "audit: no host name");
		return -EINVAL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->loop = loop;
	a->dfr.cb = free_deferred;
	a->io.cb = on_io;
	a->io.fd = -1;
	a->timer.fd = -1;
	a->max_queue = cfg->max_queue ? cfg->max_queue : DEFAULT_MAX_QUEUE;
	a->batch_max = cfg->batch_max ? cfg->batch_max : DEFAULT_BATCH_MAX;
	a->batch_ms = cfg->batch_ms > 0 ? cfg->batch_ms : DEFAULT_BATCH_MS;
	a->backoff_ms = BACKOFF_MIN_MS;
	a->resend_backoff_ms = RESEND_MIN_MS;
	a->cap = a->max_queue < 1024 ? a->max_queue : 1024;
	a->ring = calloc(a->cap, sizeof(*a->ring));
	a->host = strdup(cfg->host);
	if (!a->ring || !a->host) {
		rc = -ENOMEM;
		goto fail;
	}

	if (!cfg->dsn || !*cfg->dsn) {
		const char *user = cfg->embedded_user && *cfg->embedded_user
					   ? cfg->embedded_user
					   : DEFAULT_EMBEDDED_USER;
		bool started = false;

		rc = mw_pg_embedded_start(cfg->state_dir, user, &started, err,
					  errlen);
		if (rc)
			goto fail;
		if (started)
			remember_started(cfg->state_dir);
	}
	rc = mw_audit_conninfo(cfg, conninfo, sizeof(conninfo));
	if (rc) {
		set_err(err, errlen, "audit: bad connection settings: %s",
			strerror(-rc));
		goto fail;
	}
	a->conninfo = strdup(conninfo);
	if (!a->conninfo) {
		rc = -ENOMEM;
		goto fail;
	}
	a->conn = PQconnectdbParams(conn_keys, vals, 1);
	if (!a->conn || PQstatus(a->conn) != CONNECTION_OK) {
		char msg[512];

		copy_msg(msg, sizeof(msg),
			 a->conn ? PQerrorMessage(a->conn) : "out of memory");
		set_err(err, errlen, "cannot connect to the audit database: %s",
			msg);
		rc = -ECONNREFUSED;
		goto fail;
	}
	PQsetNoticeProcessor(a->conn, on_notice, NULL);
	rc = mw_schema_migrate(a->conn, NULL, err, errlen);
	if (rc)
		goto fail;
	rc = read_last_ids(a, a->conn, err, errlen);
	if (rc)
		goto fail;
	if (PQsetnonblocking(a->conn, 1) || !PQenterPipelineMode(a->conn)) {
		set_err(err, errlen, "audit: cannot enter pipeline mode: %s",
			PQerrorMessage(a->conn));
		rc = -EIO;
		goto fail;
	}
	rc = start_timer(a);
	if (rc) {
		set_err(err, errlen, "audit: timer: %s", strerror(-rc));
		goto fail;
	}
	rc = register_io(a, EPOLLIN);
	if (rc) {
		set_err(err, errlen, "audit: cannot watch the socket: %s",
			strerror(-rc));
		goto fail;
	}
	a->state = ST_UP;
	a->st.connected = true;
	a->last_flush_ms = mw_now_ms();
	log_info("audit: writing to the database (host %s, next seq %llu)",
		 a->host, (unsigned long long)a->head_seq);
	*out = a;
	return 0;
fail:
	release(a);
	free(a);
	return rc;
}

void mw_audit_close(struct mw_audit *a)
{
	int64_t now, deadline;

	if (!a)
		return;
	now = mw_now_ms();
	deadline = now + CLOSE_WAIT_MS;
	a->resend_at_ms = 0;
	while (a->count && now < deadline) {
		int wait = (int)(deadline - now < 50 ? deadline - now : 50);

		if (a->state == ST_UP)
			flush(a, true);
		else
			service(a, now);
		if (a->conn && a->state != ST_DOWN && a->io_registered) {
			struct pollfd pfd = { .fd = a->io.fd };
			uint32_t ev = 0;

			if (a->io_events & EPOLLIN)
				pfd.events |= POLLIN;
			if (a->io_events & EPOLLOUT)
				pfd.events |= POLLOUT;
			if (poll(&pfd, 1, wait) > 0) {
				if (pfd.revents & POLLIN)
					ev |= EPOLLIN;
				if (pfd.revents & POLLOUT)
					ev |= EPOLLOUT;
				if (pfd.revents & POLLERR)
					ev |= EPOLLERR;
				if (pfd.revents & POLLHUP)
					ev |= EPOLLHUP;
				on_io(&a->io, ev);
			}
		} else {
			poll(NULL, 0, wait);
		}
		now = mw_now_ms();
	}
	if (a->count)
		log_err("audit: %zu events could not be written before close",
			a->count);
	release(a);
	mw_loop_defer(a->loop, &a->dfr);
}

void mw_audit_stop_embedded(const struct mw_audit_config *cfg)
{
	const char *user;
	char err[512];

	if (!cfg || (cfg->dsn && *cfg->dsn) || !cfg->state_dir)
		return;
	if (!forget_started(cfg->state_dir))
		return;
	user = cfg->embedded_user && *cfg->embedded_user
		       ? cfg->embedded_user
		       : DEFAULT_EMBEDDED_USER;
	if (mw_pg_embedded_stop(cfg->state_dir, user, err, sizeof(err)))
		log_err("audit: %s", err);
}

uint64_t mw_audit_next_conn_id(struct mw_audit *a)
{
	return a ? ++a->last_conn_id : 0;
}

uint64_t mw_audit_submit(struct mw_audit *a, const struct mw_audit_event *ev)
{
	int64_t ts;
	uint64_t seq;
	struct rec *r;

	if (!a || !ev || a->state == ST_CLOSED)
		return 0;
	if (a->count >= a->max_queue)
		return 0;
	if (a->count == a->cap && grow(a))
		return 0;
	seq = a->head_seq + a->count;
	ts = ev->ts_us ? ev->ts_us : mw_now_us();
	r = &a->ring[(a->head + a->count) % a->cap];
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->ev = event_row(a, ev, seq, ts, &r->ev_len);
	if (!r->ev)
		return 0;
	if (ev->kind == MW_EV_CONN_OPEN) {
		r->conn = conn_row(a, ev, ts, &r->conn_len);
		if (!r->conn) {
			free(r->ev);
			r->ev = NULL;
			return 0;
		}
	}
	a->count++;
	a->n_unsent++;
	a->st.submitted++;
	if (a->n_unsent >= a->batch_max)
		flush(a, false);
	return seq;
}

void mw_audit_stats(struct mw_audit *a, struct mw_audit_stats *st)
{
	if (!st)
		return;
	memset(st, 0, sizeof(*st));
	if (!a)
		return;
	*st = a->st;
	st->queued = a->count;
	st->connected = a->state == ST_UP;
}
