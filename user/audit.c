// SPDX-License-Identifier: BSD-2-Clause
/*
 * The audit writer.
 *
 * mw_audit_submit turns an event into one line of COPY text format at once
 * (the caller's JSON is borrowed: dumped there and then), gives it the next
 * seq of this host and appends it to an in-memory queue; it never waits for
 * the database. The queue is a ring of records with consecutive seqs, their
 * lines packed in chunks; it holds at most max_queue records, beyond which
 * submit refuses (returns 0). A record leaves it only when the batch that
 * carried it has been acknowledged (PGRES_COMMAND_OK).
 *
 * Batches: one COPY mcpwarden.events FROM STDIN per batch, each its own
 * transaction, one at a time on a non-blocking libpq connection driven by
 * the loop, always starting at the head of the queue. As soon as the
 * connection is idle and something is queued, the COPY statement goes out;
 * the batch is what is queued when the server answers with PGRES_COPY_IN
 * (up to batch_max records, BATCH_BYTES_MAX bytes): little latency at low
 * load, batches that grow by themselves at high load.
 *
 * Failures: a lost connection puts the batch in flight back in line and
 * reconnects asynchronously (PQconnectStart/PQconnectPoll) with backoff
 * from the timer. The first thing on a new connection is max(seq) of this
 * host: every queued record up to it was committed (its acknowledgement
 * lost) and is dropped, so nothing is written twice without ON CONFLICT.
 * Should the database's event at max(seq) not be the one queued (its hash
 * differs: another writer with this host name), the writer drops nothing
 * and stops writing to that database (halt): what is queued goes to the
 * spool, as during an outage. A database with fewer events than were
 * committed is alerted (database_behind).
 * That holds because batches commit in seq order, one at a time, and only
 * one writer uses a host name; should a row still be there (a COPY that
 * committed after its connection was given up), the primary key refuses
 * it and the record, alone in its batch, is taken as recorded.
 *
 * A batch the server rejects is retried; when the rejection is about the
 * data (SQLSTATE classes 22, 23, 54) its records are retried one per
 * batch, and a single record that still fails is recorded degraded
 * (without its text and JSON payloads, the error in detail) rather than
 * blocking the trail forever. mw_audit_close flushes with a bounded wait.
 *
 * The timer is a one-shot timerfd registered as an mw_io (not an mw_tick,
 * so that mw_audit_close can take it out of the loop), armed only for a
 * deadline: reconnect, connect or batch timeout, resend after a refusal.
 * An idle writer gets no wake-ups.
 */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fdio.h"
#include "json_text.h"
#include "log.h"
#include "pg_embedded.h"
#include "pgcopy.h"
#include "private_dir.h"
#include "chain.h"
#include "decimal.h"
#include "schema.h"
#include "sign.h"
#include "spool.h"
#include "spool_sync.h"
#include "utf8.h"
#include "verify.h"

#define CONNECT_TIMEOUT_MS 10000
#define BATCH_TIMEOUT_MS 60000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 3000
#define RESEND_MIN_MS 1000
#define RESEND_MAX_MS 10000
#define CLOSE_WAIT_MS 5000
#define BATCH_BYTES_MAX (16u << 20)
#define PUT_MAX (256u << 10) /* bytes per PQputCopyData */
#define CHUNK_SIZE (64u << 10)
#define MAINT_EVERY_MS (6 * 3600 * 1000) /* partitions are made 7 days ahead */
#define DEFAULT_CHECKPOINT_EVENTS 10000
#define DEFAULT_CHECKPOINT_MS 10000
#define DEFAULT_SPOOL_AFTER_MS 200
#define SPOOL_RETRY_MS 1000
/* spool_pending: the most one append takes */
#define SPOOL_APPEND_BYTES (8u << 20)
#define DEFAULT_LOCK_WAIT_MS 120000
#define LOCK_POLL_MS 100
/* file_last_checkpoint: reads back this much at a time, and gives up on a
 * line longer than the most (no checkpoint line is) */
#define CP_READ 4096
#define CP_TAIL_MAX (1u << 20)

/*
 * The longest line of the trail, its newline included: what the spool
 * takes (MW_SPOOL_LINE_MAX before the newline) and what `audit verify`
 * reads (MW_PGCOPY_MAX_LINE), the line as written here, as PostgreSQL's
 * COPY TO writes the row back, and as an evidence package's events.jsonl
 * line. An event whose line could be longer is refused at submit: one
 * such line would stop the spool (and the verifier) at it for good.
 * LINE_SLACK covers the field names, quotes, NULLs, numbers and ts in
 * their other forms; what the values take is counted.
 */
#define LINE_MAX_BYTES                                              \
	((size_t)MW_SPOOL_LINE_MAX + 1 < (size_t)MW_PGCOPY_MAX_LINE \
		 ? (size_t)MW_SPOOL_LINE_MAX + 1                    \
		 : (size_t)MW_PGCOPY_MAX_LINE)
#define LINE_SLACK 4096
/* No value byte takes more than this in any of the three forms. */
#define LINE_GROWTH_MAX 6

#define DEFAULT_MAX_QUEUE 65536
#define DEFAULT_MAX_QUEUE_BYTES ((size_t)512 << 20)
#define DEFAULT_BATCH_MAX 256
#define DEFAULT_EMBEDDED_USER "mcpwarden"

/*
 * A line holds the chain's fields in their order (chain.h; ts as a
 * timestamp for ts_us) and then the event's hash: the order of
 * mw_schema_copy_sql.
 */
#define C_HASH MW_CF_N
#define N_COLS (MW_CF_N + 1)

/* Lines are packed in chunks, freed when none of their records is left. */
struct chunk {
	struct chunk *next;
	size_t used, cap;
	size_t live; /* queued records whose line is here */
	char data[];
};

struct rec {
	char *line; /* COPY text, '\n'-terminated, in chunk ch */
	size_t len;
	struct chunk *ch;
	char *alt; /* degraded line (malloc) sent instead, or NULL */
	size_t alt_len;
	char *checkpoint; /* a checkpoint's line for the outside file */
	int64_t queued_ms; /* when it was queued (spool_after_ms) */
};

/* The command in flight while ST_UP; only one at a time. */
enum phase {
	PH_IDLE,
	PH_LOCK, /* the host's writer lock after a reconnect */
	PH_SYNC, /* the chain's head, once the lock is held */
	PH_MAINT, /* partitions for the days ahead */
	PH_COPY, /* COPY sent, waiting for PGRES_COPY_IN */
	PH_PUT, /* putting the lines (waits for EPOLLOUT when libpq is full) */
	PH_END, /* PQputCopyEnd to retry */
	PH_RESULT, /* waiting for the COPY's result */
};

/* The batch in flight: records head_seq .. head_seq + count - 1. */
struct batch {
	size_t count;
	size_t put, put_off; /* records (and bytes of the next) put so far */
	bool got_ok;
	bool failed;
	char sqlstate[6];
	char constraint[64];
	char msg[256];
};

/*
 * The values of one event as they will be stored and hashed. Text that
 * is not valid UTF-8, and JSON, is made in a->jb, whose memory may move
 * while it grows: such values are kept as offsets until every one is in.
 */
struct values {
	struct mw_chain_value v[MW_CF_N];
	size_t jb_off[MW_CF_N];
	bool in_jb[MW_CF_N];
	char num[MW_CF_N][24];
};

/* What the writer makes of mw_schema_writer_lock_sql's answer. */
enum lock_verdict {
	LOCK_NONE, /* no answer (yet), or not one */
	LOCK_TAKEN,
	LOCK_WAIT, /* held by a session of the writer's login */
	LOCK_IGNORED, /* held by another login's session: alerted */
};

/* What keeps the queue from taking an event: an AU-5 alert. */
enum queue_bound {
	QB_NONE,
	QB_EVENTS, /* audit.max_queue, or no memory for the ring */
	QB_BYTES, /* audit.max_queue_bytes, or no memory for a chunk */
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
	char *host_line; /* host as COPY text */
	size_t host_len;
	char *conninfo;
	size_t max_queue, batch_max;
	/* bytes of line chunks allocated, and their bound: events stay in
	 * memory until committed, durable in the spool or not */
	size_t chunk_bytes, max_bytes;
	/* alerted: what refused the last event (queue_full) */
	enum queue_bound full;
	uint64_t refused_while_full; /* since the alert */
	int batch_gap_ms; /* least time between two COPYs below batch_max */
	int64_t last_copy_ms;

	PGconn *conn;
	enum conn_state state;
	enum phase phase;
	struct mw_io io; /* libpq's socket */
	bool io_registered;
	uint32_t io_events;
	struct mw_io timer; /* timerfd, one-shot */
	bool timer_registered;
	int64_t timer_at; /* when it is armed for; 0: not armed */
	int64_t connect_started_ms;
	int64_t reconnect_at_ms;
	int64_t resend_at_ms; /* 0: no refusal to wait out */
	int64_t cmd_ms; /* when the command in flight went out */
	int backoff_ms;
	int resend_backoff_ms;
	uint64_t refusals; /* consecutive refused batches */
	bool down_logged;
	bool halted; /* the database's chain is not this writer's: no more */
	enum lock_verdict lock_v; /* of the lock query in flight */
	long lock_holder; /* when not taken: a session holding it, or 0 */
	long lock_holder_said; /* the holder the log last named */
	bool sync_ok;
	uint64_t sync_seq;
	char sync_hash[MW_CHAIN_HASH_HEX]; /* "" when the chain is empty */
	int64_t maint_due_ms;

	/* Records with seqs head_seq .. head_seq + count - 1. */
	struct rec *ring;
	size_t cap, head, count;
	uint64_t head_seq;
	uint64_t solo_until; /* records up to this seq go one per batch */
	struct batch b;

	struct chunk *chunks, *tail, *spare;
	struct mw_buf jb; /* JSON dumps of the event being submitted */
	struct values vals; /* of the event being submitted */

	/* The chain: the hash of the last event queued (or recorded). */
	char last_hash[MW_CHAIN_HASH_HEX];
	/* Checkpoints: signed every checkpoint_events events or
	 * checkpoint_ms after the first event since the last one. */
	struct mw_signer *signer;
	int checkpoint_fd; /* the outside file, O_APPEND */
	char *checkpoint_path;
	size_t checkpoint_events;
	int checkpoint_ms;
	size_t since_checkpoint;
	int64_t checkpoint_due_ms; /* 0: none due */
	bool checkpoint_file_failed;
	/* the size before a line not written whole, which could not be cut
	 * off yet; -1 none */
	off_t checkpoint_cut_at;

	/* Durability: events up to max(head_seq - 1, spooled_seq). */
	struct mw_spool *spool;
	uint64_t spooled_seq;
	int spool_after_ms;
	bool spool_first;
	uint64_t want_seq; /* the highest seq a caller waits for */
	/* appends go to a thread (the loop never waits for the disk) but
	 * at close, or when it cannot be started */
	struct mw_spool_sync *ssync;
	bool spool_inline;
	uint64_t sync_from, sync_last; /* the append in flight */
	uint64_t spool_bytes; /* mw_spool_size as the loop last saw it */
	uint64_t spool_writing_max; /* MW_AUDIT_SPOOL_WRITING_MAX */
	/* mw_audit_close runs: what the database has not taken goes to
	 * the spool whatever its size, or it is lost */
	bool closing;
	bool spool_failing; /* the last append failed (AU-5 alert given) */
	int64_t spool_retry_ms;
	struct mw_buf sb; /* lines on their way to the spool */
	/* at start: the spooled checkpoints' lines for the outside file,
	 * each ended by a NUL (restore_checkpoints) */
	struct mw_buf cp_lines;
	void (*durable_cb)(void *arg, uint64_t durable_seq);
	void *durable_arg;
	uint64_t notified_seq;
	int64_t ts_sec; /* the second ts_text shows */
	char ts_text[48]; /* "YYYY-MM-DD HH:MM:SS" */
	size_t ts_len;

	uint64_t last_conn_id;
	uint64_t gap_lo, gap_hi; /* the last events found missing */
	struct mw_audit_stats st;
	struct mw_deferred dfr; /* frees the struct after the event batch */
	struct mw_deferred soon; /* spool_soon, after the event batch */
	bool soon_queued;
};

static const char *const kind_names[] = {
	[MW_EV_CONN_OPEN] = "conn_open",
	[MW_EV_CONN_CLOSE] = "conn_close",
	[MW_EV_REQUEST] = "request",
	[MW_EV_NOTIFICATION] = "notification",
	[MW_EV_RESPONSE] = "response",
	[MW_EV_HTTP_ERROR] = "http_error",
	[MW_EV_TOOL_PINNED] = "tool_pinned",
	[MW_EV_TOOL_CHANGED] = "tool_changed",
	[MW_EV_TOOLS_ACCEPTED] = "tools_accepted",
	[MW_EV_CHECKPOINT] = "checkpoint",
	[MW_EV_DAEMON_START] = "daemon_start",
	[MW_EV_POLICY_LOADED] = "policy_loaded",
	[MW_EV_CONTROL] = "control",
};

static const char *kind_name(enum mw_event_kind k)
{
	if ((unsigned int)k >= sizeof(kind_names) / sizeof(kind_names[0]))
		return "unknown";
	return kind_names[k];
}

/*
 * After dbname, whose connection string it overrides: text goes both ways
 * as UTF-8, what the chain hashes, whatever PGCLIENTENCODING or a role's
 * setting says (converted text would read as modified events).
 */
static const char *const conn_keys[] = { "connect_timeout", "dbname",
					 "client_encoding", NULL };

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

/* ---- COPY text lines ---- */

/* One byte in COPY text format: backslash, tab, newline and CR escaped. */
static char *put_copy_char(char *o, char c)
{
	static const char esc[] = {
		['\\'] = '\\', ['\t'] = 't', ['\n'] = 'n', ['\r'] = 'r'
	};

	if ((unsigned char)c < sizeof(esc) && esc[(unsigned char)c]) {
		*o++ = '\\';
		*o++ = esc[(unsigned char)c];
	} else {
		*o++ = c;
	}
	return o;
}

/*
 * A text field: backslash, tab, newline and CR escaped as COPY wants them;
 * invalid UTF-8 bytes become U+FFFD. At most 3 bytes out per byte in.
 */
static char *put_text(char *o, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str, *end = s + n;

	while (s < end) {
		unsigned char c = *s;

		if (c >= 0x80) {
			uint32_t cp;
			size_t l = mw_utf8_decode(s, (size_t)(end - s), &cp);

			if (l) {
				memcpy(o, s, l);
				o += l;
				s += l;
			} else {
				memcpy(o, "\xef\xbf\xbd", 3);
				o += 3;
				s++;
			}
			continue;
		}
		s++;
		o = put_copy_char(o, (char)c);
	}
	return o;
}

/*
 * True when a byte of the word is below 0x20 or a backslash: COPY escapes
 * only bytes among those. (The borrow of the subtractions can only mark
 * bytes above one that qualifies, so the answer for the word is exact.)
 */
static bool word_may_need_escape(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull, highs = ones * 0x80;
	uint64_t bs = w ^ (ones * '\\');

	return (((w - ones * 0x20) & ~w) | ((bs - ones) & ~bs)) & highs;
}

/*
 * Bytes known to be valid UTF-8, COPY-escaped: at most 2 out per byte in.
 * Payloads are most of a line and seldom hold a byte to escape: they are
 * copied a word at a time while no byte of the word needs looking at.
 */
static char *put_escaped(char *o, const char *s, size_t n)
{
	size_t i = 0;

	while (n - i >= 8) {
		uint64_t w;

		memcpy(&w, s + i, 8);
		if (!word_may_need_escape(w)) {
			memcpy(o, s + i, 8);
			o += 8;
			i += 8;
			continue;
		}
		for (size_t end = i + 8; i < end; i++)
			o = put_copy_char(o, s[i]);
	}
	for (; i < n; i++)
		o = put_copy_char(o, s[i]);
	return o;
}

/* Appends str to b with each invalid UTF-8 byte as U+FFFD. */
static int add_scrubbed(struct mw_buf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str, *end = s + n;

	while (s < end) {
		uint32_t cp;
		size_t l = mw_utf8_decode(s, (size_t)(end - s), &cp);
		int rc = l ? mw_buf_append(b, s, l)
			   : mw_buf_append(b, "\xef\xbf\xbd", 3);

		if (rc)
			return rc;
		s += l ? l : 1;
	}
	return 0;
}

/*
 * jansson writes NUL characters (legal in JSON strings) as \u0000, which
 * the views' casts to jsonb refuse: each becomes \ufffd, in place and
 * before the hash, so that what is stored is what was hashed. Escapes are
 * backslash pairs, so a scan that skips pairs finds exactly the real ones.
 */
static void scrub_json_nul(char *s, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (s[i] != '\\')
			continue;
		i++;
		if (s[i] == 'u' && n - i > 4 && !memcmp(s + i + 1, "0000", 4)) {
			memcpy(s + i + 1, "fffd", 4);
			i += 4;
		}
	}
}

static char *put_null(char *o)
{
	*o++ = '\\';
	*o++ = 'N';
	return o;
}

/* 'YYYY-MM-DD HH:MM:SS.uuuuuu+00', the part before the dot cached. */
static char *put_ts(struct mw_audit *a, char *o, int64_t us)
{
	int64_t sec = us / 1000000, frac = us % 1000000;

	if (frac < 0) {
		frac += 1000000;
		sec--;
	}
	if (!a->ts_len || sec != a->ts_sec) {
		time_t t = (time_t)sec;
		struct tm tm;
		int n;

		if (!gmtime_r(&t, &tm)) {
			t = 0;
			gmtime_r(&t, &tm);
		}
		n = snprintf(a->ts_text, sizeof(a->ts_text),
			     "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900,
			     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			     tm.tm_sec);
		a->ts_len =
			n > 0 && (size_t)n < sizeof(a->ts_text) ? (size_t)n : 0;
		a->ts_sec = sec;
	}
	memcpy(o, a->ts_text, a->ts_len);
	o += a->ts_len;
	*o++ = '.';
	for (int i = 5; i >= 0; i--) {
		o[i] = (char)('0' + frac % 10);
		frac /= 10;
	}
	o += 6;
	memcpy(o, "+00", 3);
	return o + 3;
}

/* jansson's dump callback */
static int json_to_buf(const char *s, size_t n, void *data)
{
	return mw_buf_append(data, s, n) ? -1 : 0;
}

/* ---- the queue ---- */

static void chunk_free(struct mw_audit *a, struct chunk *c)
{
	if (c->cap == CHUNK_SIZE && !a->spare) {
		a->spare = c;
	} else {
		a->chunk_bytes -= c->cap;
		free(c);
	}
}

/* Frees the chunks no record needs any more. */
static void trim_chunks(struct mw_audit *a)
{
	while (a->chunks && a->chunks != a->tail && !a->chunks->live) {
		struct chunk *c = a->chunks;

		a->chunks = c->next;
		chunk_free(a, c);
	}
	if (a->tail && !a->tail->live)
		a->tail->used = 0;
}

/*
 * AU-5: past either bound calls are refused (a long outage, or one
 * agent's large requests, must not take the host's memory, nor, through
 * the spool, its disk), as when memory runs out. Alerted once, and said
 * once when the bound that refused takes events again (queue_room): not
 * for each call refused, nor for each small event that fits while large
 * ones do not.
 */
static void queue_full(struct mw_audit *a, enum queue_bound b, const char *why)
{
	if (!a->full)
		log_err("audit: ALERT (AU-5): %s: the events not yet in the "
			"database are %zu and take %zu bytes "
			"(audit.max_queue %zu, audit.max_queue_bytes %zu); "
			"calls are refused until it takes them",
			why, a->count, a->chunk_bytes, a->max_queue,
			a->max_bytes);
	a->full = b;
	a->refused_while_full++;
}

/*
 * Said once the bound that refused has a quarter of itself free again:
 * a load held at the bound gets room for an event after each batch the
 * database takes, and a line for each would let callers flood the log
 * (calls are refused or not by the bound alone, not by a->full).
 */
static void queue_room(struct mw_audit *a, enum queue_bound b)
{
	if (a->full != b ||
	    (b == QB_EVENTS ? a->count > a->max_queue / 4 * 3
			    : a->chunk_bytes > a->max_bytes / 4 * 3))
		return;
	log_info("audit: the queue takes events again (%llu event(s) "
		 "refused meanwhile)",
		 (unsigned long long)a->refused_while_full);
	a->full = QB_NONE;
	a->refused_while_full = 0;
}

/* Room for n bytes at the end of the tail chunk. */
static int reserve(struct mw_audit *a, size_t n)
{
	struct chunk *t = a->tail, *c;
	size_t cap = n > CHUNK_SIZE ? n : CHUNK_SIZE;

	if (t && t->cap - t->used >= n)
		return 0;
	if (cap == CHUNK_SIZE && a->spare) {
		c = a->spare;
		a->spare = NULL;
	} else {
		if (a->chunk_bytes + cap > a->max_bytes) {
			queue_full(a, QB_BYTES,
				   "audit.max_queue_bytes is reached");
			return -ENOSPC;
		}
		c = malloc(sizeof(*c) + cap);
		if (!c) {
			queue_full(a, QB_BYTES, "out of memory");
			return -ENOMEM;
		}
		c->cap = cap;
		a->chunk_bytes += cap;
	}
	queue_room(a, QB_BYTES);
	c->next = NULL;
	c->used = 0;
	c->live = 0;
	if (t)
		t->next = c;
	else
		a->chunks = c;
	a->tail = c;
	trim_chunks(a);
	return 0;
}

static struct rec *rec_at(struct mw_audit *a, size_t i)
{
	return &a->ring[(a->head + i) % a->cap];
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
		n[i] = *rec_at(a, i);
	free(a->ring);
	a->ring = n;
	a->cap = ncap;
	a->head = 0;
	return 0;
}

/*
 * A fragment a line left at the end of the checkpoint file (a full disk,
 * a crash) is cut off: the next line would be appended to it, and verify
 * would find the file broken for good. Where it cannot be cut (a file
 * made append-only, chattr +a), it is ended with a line feed instead: one
 * malformed line, which is the truth, and the next lines whole. 0, or
 * -errno when neither works.
 */
static int end_fragment(struct mw_audit *a, off_t at)
{
	ssize_t w;

	if (!ftruncate(a->checkpoint_fd, at) && !fdatasync(a->checkpoint_fd))
		return 0;
	log_warn("audit: cannot cut a partial line off the checkpoint file "
		 "%s (%s): it is ended with a line feed, and verify will name "
		 "it as malformed",
		 a->checkpoint_path, strerror(errno));
	w = write(a->checkpoint_fd, "\n", 1);
	if (w != 1 || fdatasync(a->checkpoint_fd))
		return w < 0 || w == 1 ? -errno : -EIO;
	return 0;
}

/*
 * A checkpoint is recorded: its line goes to the file outside the
 * database, synced, so that a rewrite of the database alone shows. One
 * write(2) of a short line with O_APPEND: lines do not interleave. A line
 * not written whole is cut off again (end_fragment).
 */
static void checkpoint_to_file(struct mw_audit *a, const char *line)
{
	size_t n = strlen(line);
	struct stat st;
	ssize_t w = -1;
	int e = 0;

	if (a->checkpoint_fd < 0)
		return;
	if (a->checkpoint_cut_at >= 0 && !end_fragment(a, a->checkpoint_cut_at))
		a->checkpoint_cut_at = -1;
	if (a->checkpoint_cut_at >= 0)
		e = EIO;
	else if (fstat(a->checkpoint_fd, &st))
		e = errno;
	else if ((w = write(a->checkpoint_fd, line, n)) != (ssize_t)n ||
		 fdatasync(a->checkpoint_fd))
		e = w < 0 || w == (ssize_t)n ? errno : ENOSPC;
	if (e) {
		if (w > 0 && end_fragment(a, st.st_size))
			a->checkpoint_cut_at = st.st_size;
		if (!a->checkpoint_file_failed)
			log_err("audit: cannot append to the checkpoint file "
				"%s: %s (checkpoints go to the database only "
				"until it works again)",
				a->checkpoint_path, strerror(e));
		a->checkpoint_file_failed = true;
		return;
	}
	if (a->checkpoint_file_failed)
		log_info("audit: the checkpoint file %s is written again",
			 a->checkpoint_path);
	a->checkpoint_file_failed = false;
}

/*
 * A crash (or a disk full before this version cut its lines back) may
 * have left a line without its end: cut it at open, so that the next
 * line starts a line of its own. Returns 0 or -errno.
 */
static int cut_torn_checkpoint(struct mw_audit *a)
{
	char buf[4096];
	struct stat st;
	off_t end, at;

	if (fstat(a->checkpoint_fd, &st))
		return -errno;
	if (!st.st_size)
		return 0;
	for (end = st.st_size; end > 0; end = at) {
		size_t want =
			end > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)end;
		ssize_t r;

		at = end - (off_t)want;
		r = mw_pread_full(a->checkpoint_fd, buf, want, at);
		if (r != (ssize_t)want)
			return r < 0 ? (int)r : -EIO;
		for (size_t i = want; i > 0; i--) {
			if (buf[i - 1] != '\n')
				continue;
			end = at + (off_t)i;
			if (end == st.st_size)
				return 0;
			goto cut;
		}
	}
cut:
	log_warn("audit: the checkpoint file %s ended in %lld byte(s) of a "
		 "line not written whole: cut",
		 a->checkpoint_path, (long long)(st.st_size - end));
	return end_fragment(a, end);
}

/* Drops the n records at the head: they are recorded. */
static void pop(struct mw_audit *a, size_t n)
{
	while (n-- && a->count) {
		struct rec *r = &a->ring[a->head];

		if (r->checkpoint)
			checkpoint_to_file(a, r->checkpoint);
		r->ch->live--;
		free(r->alt);
		free(r->checkpoint);
		memset(r, 0, sizeof(*r));
		a->head = (a->head + 1) % a->cap;
		a->head_seq++;
		a->count--;
	}
	trim_chunks(a);
	/* Nothing queued: a large event's chunk (up to twice the largest
	 * message) is not kept for the next lines. */
	if (!a->count && a->tail && a->tail->cap > CHUNK_SIZE) {
		chunk_free(a, a->tail);
		a->chunks = NULL;
		a->tail = NULL;
	}
}

static int set_text(struct mw_audit *a, struct values *x, enum mw_chain_field f,
		    const char *s, size_t n)
{
	size_t off = a->jb.len;
	int rc;

	if (!s)
		return 0;
	if (mw_utf8_valid(s, n)) {
		x->v[f].s = s;
		x->v[f].n = n;
		return 0;
	}
	rc = add_scrubbed(&a->jb, s, n);
	if (rc)
		return rc;
	x->in_jb[f] = true;
	x->jb_off[f] = off;
	x->v[f].s = "";
	x->v[f].n = a->jb.len - off;
	return 0;
}

static int set_json(struct mw_audit *a, struct values *x, enum mw_chain_field f,
		    json_t *j)
{
	size_t off = a->jb.len;

	/* JSON null is SQL NULL (as jsonb_populate_record made it) */
	if (!j || json_is_null(j))
		return 0;
	/* mw_json_write writes what json_dumps does, several times faster
	 * (payloads are most of an event); a tree nested deeper than it
	 * writes goes to jansson, after what it wrote is dropped */
	if (mw_json_write(&a->jb, j)) {
		a->jb.len = off;
		if (json_dump_callback(j, json_to_buf, &a->jb,
				       JSON_COMPACT | JSON_ENCODE_ANY))
			return -EINVAL;
	}
	if (a->jb.len == off)
		return -EINVAL;
	scrub_json_nul(a->jb.data + off, a->jb.len - off);
	x->in_jb[f] = true;
	x->jb_off[f] = off;
	x->v[f].s = "";
	x->v[f].n = a->jb.len - off;
	return 0;
}

static void set_i64(struct values *x, enum mw_chain_field f, int64_t v)
{
	x->v[f].s = x->num[f];
	x->v[f].n = (size_t)(mw_put_i64(x->num[f], v) - x->num[f]);
}

/*
 * The longest of the event's line as written here (backslash, tab,
 * newline and CR doubled), as PostgreSQL's COPY TO writes it (\b, \f and
 * \v too) and as a JSON string in events.jsonl (quote, backslash and
 * \b \f \n \r \t doubled, other control characters 6 bytes), but for
 * what LINE_SLACK covers. PostgreSQL escapes what this writer does and
 * more: its form is never the shorter.
 */
static size_t line_bytes(const struct values *x)
{
	size_t pg = 0, json = 0, total = 0;

	for (int f = 0; f < MW_CF_N; f++)
		total += x->v[f].n;
	/* what it is for all but the largest events */
	if (total <= (LINE_MAX_BYTES - LINE_SLACK) / LINE_GROWTH_MAX)
		return total;
	for (int f = 0; f < MW_CF_N; f++) {
		const unsigned char *s = (const unsigned char *)x->v[f].s;

		for (size_t i = 0; i < x->v[f].n; i++) {
			unsigned char c = s[i];

			if (c > '\\' || (c > '"' && c < '\\'))
				continue;
			switch (c) {
			case '\\':
			case '\t':
			case '\n':
			case '\r':
				pg++;
				json++;
				break;
			case '\b':
			case '\f':
				pg++;
				json++;
				break;
			case '\v':
				pg++;
				json += 5;
				break;
			case '"':
				json++;
				break;
			default:
				if (c < 0x20)
					json += 5;
			}
		}
	}
	return total + (pg > json ? pg : json);
}

/*
 * Writes the event's line into the tail chunk (r describes it) and its
 * hash, chained to a->last_hash, into hash.
 */
static int build_line(struct mw_audit *a, const struct mw_audit_event *ev,
		      uint64_t seq, int64_t ts_us, struct rec *r,
		      char hash[MW_CHAIN_HASH_HEX])
{
	const struct mw_identity *id =
		ev->kind == MW_EV_CONN_OPEN || ev->kind == MW_EV_CONTROL
			? ev->identity
			: NULL;
	const char *kind = kind_name(ev->kind);
	struct values *x = &a->vals;
	size_t worst = 64 + 48 + 2 * N_COLS, line;
	char *start, *o;
	int rc = 0;

	memset(x->v, 0, sizeof(x->v));
	memset(x->in_jb, 0, sizeof(x->in_jb));
	mw_buf_reset(&a->jb);
	x->v[MW_CF_HOST].s = a->host;
	x->v[MW_CF_HOST].n = strlen(a->host);
	set_i64(x, MW_CF_SEQ, (int64_t)seq);
	set_i64(x, MW_CF_TS_US, ts_us);
	x->v[MW_CF_KIND].s = kind;
	x->v[MW_CF_KIND].n = strlen(kind);
	if (ev->conn_id)
		set_i64(x, MW_CF_CONN_ID, (int64_t)ev->conn_id);
	if (ev->request_seq)
		set_i64(x, MW_CF_REQUEST_SEQ, (int64_t)ev->request_seq);
	if (ev->request_seq || ev->latency_us)
		set_i64(x, MW_CF_LATENCY_US, ev->latency_us);
	if (ev->http_status)
		set_i64(x, MW_CF_HTTP_STATUS, ev->http_status);
	if (id) {
		set_i64(x, MW_CF_PID, id->pid);
		set_i64(x, MW_CF_TGID, id->tgid);
		set_i64(x, MW_CF_UID, id->uid);
		set_i64(x, MW_CF_GID, id->gid);
		set_i64(x, MW_CF_CGROUP_ID, (int64_t)id->cgroup_id);
	}
	rc = set_json(a, x, MW_CF_PARAMS, ev->params);
	if (!rc)
		rc = set_json(a, x, MW_CF_RESULT, ev->result);
	if (!rc)
		rc = set_json(a, x, MW_CF_ERROR, ev->error);
	if (!rc)
		rc = set_json(a, x, MW_CF_MASKED, ev->masked);
#define TEXT(f, s) (rc ? rc : set_text(a, x, f, s, (s) ? strlen(s) : 0))
#define FIXED(f, arr) \
	(rc ? rc : set_text(a, x, f, arr, strnlen(arr, sizeof(arr))))
	rc = TEXT(MW_CF_SERVER, ev->server);
	rc = TEXT(MW_CF_SESSION_ID, ev->session_id);
	rc = TEXT(MW_CF_DIRECTION, ev->direction);
	rc = TEXT(MW_CF_RPC_ID, ev->rpc_id);
	rc = TEXT(MW_CF_METHOD, ev->method);
	rc = TEXT(MW_CF_TOOL, ev->tool);
	rc = TEXT(MW_CF_DECISION, ev->decision);
	rc = TEXT(MW_CF_RULE, ev->rule);
	rc = TEXT(MW_CF_HTTP_METHOD, ev->http_method);
	rc = TEXT(MW_CF_HTTP_PATH, ev->http_path);
	rc = TEXT(MW_CF_DETAIL, ev->detail);
	rc = TEXT(MW_CF_POLICY_SHA256, ev->policy_sha256);
	if (ev->kind == MW_EV_CONN_OPEN) {
		rc = TEXT(MW_CF_CLIENT_ADDR, ev->client_addr);
		rc = TEXT(MW_CF_SERVER_ADDR, ev->server_addr);
	}
	if (id) {
		rc = FIXED(MW_CF_USER_NAME, id->user);
		rc = FIXED(MW_CF_COMM, id->comm);
		/* a command's caller: no executable was vouched for */
		if (ev->kind != MW_EV_CONTROL)
			rc = FIXED(MW_CF_EXE, id->exe);
		rc = FIXED(MW_CF_CGROUP, id->cgroup);
	}
#undef TEXT
#undef FIXED
	if (rc)
		return rc;
	x->v[MW_CF_PREV_HASH].s = a->last_hash;
	x->v[MW_CF_PREV_HASH].n = 64;
	for (int f = 0; f < MW_CF_N; f++) {
		if (x->in_jb[f])
			x->v[f].s = a->jb.data + x->jb_off[f];
		worst += 2 * x->v[f].n;
	}
	line = line_bytes(x);
	if (line > LINE_MAX_BYTES - LINE_SLACK) {
		log_err("audit: a %s event of connection %llu would make a "
			"line of up to %zu bytes, longer than the %zu the "
			"spool and audit verify take: it is refused (not "
			"recorded), and so is what it records",
			kind, (unsigned long long)ev->conn_id,
			line + LINE_SLACK, LINE_MAX_BYTES);
		return -EFBIG;
	}
	if (mw_chain_hash(x->v, hash))
		return -EINVAL;
	if (reserve(a, worst))
		return -ENOMEM;
	start = o = a->tail->data + a->tail->used;
	for (int f = 0; f < MW_CF_N; f++) {
		if (f)
			*o++ = '\t';
		if (f == MW_CF_TS_US)
			o = put_ts(a, o, ts_us);
		else if (x->v[f].s)
			o = put_escaped(o, x->v[f].s, x->v[f].n);
		else
			o = put_null(o);
	}
	*o++ = '\t';
	memcpy(o, hash, 64);
	o += 64;
	*o++ = '\n';

	r->line = start;
	r->len = (size_t)(o - start);
	r->ch = a->tail;
	r->alt = NULL;
	r->alt_len = 0;
	r->checkpoint = NULL;
	a->tail->used += r->len;
	a->tail->live++;
	return 0;
}

static bool data_error(const char *sqlstate)
{
	return !strncmp(sqlstate, "22", 2) || !strncmp(sqlstate, "23", 2) ||
	       !strncmp(sqlstate, "54", 2);
}

/* The key of events or of one of its partitions (events_<day>_pkey). */
static bool dup_seq(const struct batch *b)
{
	size_t n = strlen(b->constraint);

	return !strcmp(b->sqlstate, "23505") &&
	       !strncmp(b->constraint, "events", 6) && n >= 11 &&
	       !strcmp(b->constraint + n - 5, "_pkey");
}

/*
 * Replaces a record's line with one that cannot fail for its data: the
 * numbers kept (seq, ts, kind, ids, identity numbers), text and JSON
 * dropped, the error in detail. It keeps the hashes it was chained with,
 * so `audit verify` reports it as not matching its hash: the payload is
 * lost, and the trail says so rather than hide it. Values are made
 * valid for PostgreSQL before they are hashed (audit.c, build_line), so
 * this is the last resort for what cannot be foreseen.
 */
static void degrade(struct rec *r, const struct batch *b)
{
	static const bool keep[N_COLS] = {
		[MW_CF_HOST] = true,	   [MW_CF_SEQ] = true,
		[MW_CF_TS_US] = true,	   [MW_CF_KIND] = true,
		[MW_CF_CONN_ID] = true,	   [MW_CF_REQUEST_SEQ] = true,
		[MW_CF_LATENCY_US] = true, [MW_CF_HTTP_STATUS] = true,
		[MW_CF_PID] = true,	   [MW_CF_TGID] = true,
		[MW_CF_UID] = true,	   [MW_CF_GID] = true,
		[MW_CF_CGROUP_ID] = true,  [MW_CF_PREV_HASH] = true,
		[C_HASH] = true,
	};
	const char *fs[N_COLS], *p = r->line, *end = r->line + r->len - 1;
	size_t fl[N_COLS], dl;
	char detail[400], *s, *o;
	int c;

	for (c = 0; c < N_COLS && p <= end; c++) {
		const char *q = memchr(p, '\t', (size_t)(end - p));

		if (!q)
			q = end;
		fs[c] = p;
		fl[c] = (size_t)(q - p);
		p = q + 1;
	}
	if (c != N_COLS)
		return;
	snprintf(detail, sizeof(detail),
		 "event not recordable (SQLSTATE %s: %s)", b->sqlstate, b->msg);
	dl = strlen(detail);
	s = malloc(r->len + 3 * dl + 3 * N_COLS);
	if (!s)
		return;
	o = s;
	for (c = 0; c < N_COLS; c++) {
		if (c)
			*o++ = '\t';
		if (c == MW_CF_DETAIL) {
			o = put_text(o, detail, dl);
		} else if (keep[c] && !(c == MW_CF_CONN_ID &&
					!strcmp(b->sqlstate, "23505"))) {
			memcpy(o, fs[c], fl[c]);
			o += fl[c];
		} else {
			o = put_null(o);
		}
	}
	*o++ = '\n';
	free(r->alt);
	r->alt = s;
	r->alt_len = (size_t)(o - s);
	log_err("audit: event %.*s recorded without its payload: %s",
		(int)fl[MW_CF_SEQ], fs[MW_CF_SEQ], detail);
}

/* ---- durability ---- */

static void arm_timer(struct mw_audit *a, int64_t when_ms);

/* Up with the writer lock taken (or a holder of another login alerted). */
static bool writing(const struct mw_audit *a)
{
	return a->state == ST_UP && a->st.connected;
}

static uint64_t durable_seq(const struct mw_audit *a)
{
	uint64_t committed = a->head_seq - 1;

	return a->spooled_seq > committed ? a->spooled_seq : committed;
}

/* An event a caller waits for goes to the spool after this loop turn. */
static bool spooling_first(const struct mw_audit *a)
{
	return a->spool_first && a->spool &&
	       a->spool_bytes < MW_AUDIT_SPOOL_FIRST_MAX;
}

/*
 * How long event seq may wait for the database before the spool takes
 * it: not at all while the database is away, nor when a caller waits for
 * it and the spool comes first. Events nobody waits for (responses, ...)
 * ride along with the next sync, or go to the database in its batches.
 */
static int64_t spool_wait_ms(const struct mw_audit *a, uint64_t seq)
{
	if (!writing(a) || (spooling_first(a) && a->want_seq >= seq))
		return 0;
	return a->spool_after_ms;
}

static void spool_after_batch(struct mw_audit *a);

/*
 * The callback runs at the loop's top level, after the current batch
 * (spool_soon), or at once where the loop called in (spool_synced); so
 * does spool_due, which re-arms for the event now first in line.
 */
static void durable_moved(struct mw_audit *a)
{
	if ((a->durable_cb && durable_seq(a) > a->notified_seq) ||
	    (a->spool && a->count))
		spool_after_batch(a);
}

static void notify_durable(struct mw_audit *a)
{
	uint64_t d = durable_seq(a);

	if (!a->durable_cb || d <= a->notified_seq)
		return;
	a->notified_seq = d;
	a->durable_cb(a->durable_arg, d);
}

/* The append of events from..last is over (rc from mw_spool_append). */
static void spool_appended(struct mw_audit *a, uint64_t from, uint64_t last,
			   int rc)
{
	a->spool_bytes = mw_spool_size(a->spool);
	if (rc)
		goto fail;
	if (a->spool_failing)
		log_info("audit: the spool %s takes events again",
			 mw_spool_path(a->spool));
	a->spool_failing = false;
	a->st.spooled += last - from + 1;
	if (last > a->spooled_seq)
		a->spooled_seq = last;
	/* a checkpoint goes outside as soon as it is durable (those the
	 * database committed meanwhile went at their pop) */
	for (uint64_t q = from > a->head_seq ? from : a->head_seq;
	     q <= last && q < a->head_seq + a->count; q++) {
		struct rec *r = rec_at(a, (size_t)(q - a->head_seq));

		if (r->checkpoint) {
			checkpoint_to_file(a, r->checkpoint);
			free(r->checkpoint);
			r->checkpoint = NULL;
		}
	}
	durable_moved(a);
	return;
fail:
	a->st.spool_failures++;
	if (!a->spool_failing)
		log_err("audit: ALERT (AU-5): cannot write the spool %s: %s; "
			"%llu events are not durable and calls are refused "
			"while the database cannot take them",
			mw_spool_path(a->spool), strerror(-rc),
			(unsigned long long)(a->head_seq + a->count - 1 -
					     durable_seq(a)));
	a->spool_failing = true;
	a->spool_retry_ms = mw_now_ms() + SPOOL_RETRY_MS;
	arm_timer(a, a->spool_retry_ms);
}

static void spool_drained(struct mw_audit *a);

/* The spool thread's append is over: from the loop. */
static void spool_synced(void *arg, int rc)
{
	struct mw_audit *a = arg;

	if (a->state == ST_CLOSED)
		return;
	spool_appended(a, a->sync_from, a->sync_last, rc);
	spool_drained(a);
	/* at the loop's top level already: the waiters go on now, not after
	 * the batch; what queued during the sync starts the next one once
	 * the batch is done, with what the batch adds */
	notify_durable(a);
}

/*
 * Makes the queued events not yet durable durable in the spool: one
 * append and one fdatasync for all of them (group commit), on the spool
 * thread; what is queued while it syncs goes with the next. They stay
 * queued for the database. An append takes at most SPOOL_APPEND_BYTES
 * (and at least one line): the lines are copied once more on their way,
 * and an outage's backlog (max_queue_bytes) copied whole would double
 * the memory it takes; the rest follows once it is over. A failure is
 * the AU-5 alert: events are not durable, and while the database is away
 * too, calls are refused.
 */
static void spool_pending(struct mw_audit *a)
{
	uint64_t from = durable_seq(a) + 1, last = a->head_seq + a->count - 1;
	uint64_t q;
	int rc;

	if (!a->spool || !a->count || from > last ||
	    mw_spool_sync_busy(a->ssync) ||
	    (writing(a) && !a->closing &&
	     a->spool_bytes >= a->spool_writing_max))
		return;
	mw_buf_reset(&a->sb);
	/* the room an outage's append took is not kept for every sync */
	if (a->sb.cap > 2 * SPOOL_APPEND_BYTES)
		mw_buf_shrink(&a->sb);
	for (q = from; q <= last; q++) {
		const struct rec *r = rec_at(a, (size_t)(q - a->head_seq));

		if (a->sb.len && a->sb.len + r->len > SPOOL_APPEND_BYTES)
			break;
		if (mw_buf_append(&a->sb, r->line, r->len)) {
			spool_appended(a, from, q, -ENOMEM);
			return;
		}
	}
	last = q - 1;
	if (a->ssync && !a->spool_inline) {
		rc = mw_spool_sync_submit(a->ssync, a->sb.data, a->sb.len);
		if (!rc) {
			a->sync_from = from;
			a->sync_last = last;
			return;
		}
		log_warn("audit: cannot start the spool's thread (%s): the "
			 "loop appends itself",
			 strerror(-rc));
		a->spool_inline = true;
	}
	spool_appended(a, from, last,
		       mw_spool_append(a->spool, a->sb.data, a->sb.len));
}

/* Spools what must not wait any longer; arms the timer for the rest. */
static void spool_due(struct mw_audit *a, int64_t now)
{
	uint64_t first = durable_seq(a) + 1;
	int64_t due;

	if (!a->spool || !a->count || first >= a->head_seq + a->count)
		return;
	if (a->spool_failing && now < a->spool_retry_ms) {
		arm_timer(a, a->spool_retry_ms);
		return;
	}
	due = rec_at(a, (size_t)(first - a->head_seq))->queued_ms +
	      spool_wait_ms(a, first);
	if (now >= due)
		spool_pending(a);
	else
		arm_timer(a, due);
}

/*
 * Everything the spool holds is committed: its lines are dropped (events
 * spooled since then are the only ones it counts). Everything queued is
 * committed: a failure to write the spool leaves nothing undurable.
 */
static void spool_drained(struct mw_audit *a)
{
	int rc;

	if (!a->spool)
		return;
	if (!a->count && a->spool_failing) {
		log_info("audit: every event is recorded in the database; the "
			 "spool's failure leaves nothing behind");
		a->spool_failing = false;
	}
	/* never under an append in flight */
	if (mw_spool_sync_busy(a->ssync) || a->head_seq - 1 < a->spooled_seq ||
	    !a->spool_bytes)
		return;
	rc = mw_spool_reset(a->spool);
	a->spool_bytes = mw_spool_size(a->spool);
	if (rc)
		log_warn("audit: cannot empty the spool %s: %s",
			 mw_spool_path(a->spool), strerror(-rc));
	else
		log_debug("audit: spool shipped; its lines are dropped");
}

/* ---- the connection ---- */

static void on_io(struct mw_io *io, uint32_t events);
static void kick(struct mw_audit *a);

/* Arms the one-shot timer for when_ms unless it goes off before. */
static void arm_timer(struct mw_audit *a, int64_t when_ms)
{
	struct itimerspec its = { 0 };

	if (a->timer.fd < 0 || (a->timer_at && a->timer_at <= when_ms))
		return;
	if (when_ms < 1)
		when_ms = 1;
	its.it_value.tv_sec = when_ms / 1000;
	its.it_value.tv_nsec = (long)(when_ms % 1000) * 1000000;
	if (timerfd_settime(a->timer.fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		log_err("audit: timerfd: %s", strerror(errno));
		return;
	}
	a->timer_at = when_ms;
}

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

static void drop_conn(struct mw_audit *a)
{
	unregister_io(a);
	PQfinish(a->conn);
	a->conn = NULL;
	a->state = ST_DOWN;
	a->phase = PH_IDLE; /* the batch in flight, if any, goes again */
	a->st.connected = false;
	a->reconnect_at_ms = mw_now_ms() + a->backoff_ms;
	spool_after_batch(a); /* spool what is queued */
	a->backoff_ms *= 2;
	if (a->backoff_ms > BACKOFF_MAX_MS)
		a->backoff_ms = BACKOFF_MAX_MS;
	arm_timer(a, a->reconnect_at_ms);
}

static void conn_lost(struct mw_audit *a, const char *why)
{
	char msg[512];

	copy_msg(msg, sizeof(msg), why);
	/* connected: up with the lock taken; a refused lock is a failure */
	if (a->st.connected || !a->down_logged) {
		log_warn("audit: database connection %s: %s (%zu events "
			 "queued, retrying)",
			 a->st.connected ? "lost" : "failed", msg, a->count);
		a->down_logged = true;
	} else {
		log_debug("audit: reconnect failed: %s", msg);
	}
	drop_conn(a);
}

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

/* A command went out: times it, and flushes. */
static void sent(struct mw_audit *a, enum phase ph)
{
	a->phase = ph;
	a->cmd_ms = mw_now_ms();
	arm_timer(a, a->cmd_ms + BATCH_TIMEOUT_MS + 1);
	push_out(a);
}

/*
 * A session of another login holding the lock has no events of this
 * host to commit (the writer's login inserts them): it is not waited
 * for, or any login, the auditor's psql say, could keep the writer out.
 * A holder that has just gone is waited for: the next try takes it.
 */
static enum lock_verdict lock_answer(const PGresult *r, long *holder)
{
	*holder = 0;
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 ||
	    PQnfields(r) != 3)
		return LOCK_NONE;
	if (!strcmp(PQgetvalue(r, 0, 0), "t"))
		return LOCK_TAKEN;
	if (!PQgetisnull(r, 0, 1))
		*holder = strtol(PQgetvalue(r, 0, 1), NULL, 10);
	if (*holder > 0 && !PQgetisnull(r, 0, 2) &&
	    !strcmp(PQgetvalue(r, 0, 2), "f"))
		return LOCK_IGNORED;
	return LOCK_WAIT;
}

/*
 * Says (once per holder) what keeps the writer out, or what it goes on
 * without; msg gets the reason.
 */
static void lock_said(struct mw_audit *a, enum lock_verdict v, long holder,
		      char *msg, size_t msglen)
{
	if (v == LOCK_IGNORED)
		snprintf(msg, msglen,
			 "ALERT (AU-9): the writer lock of host %s is held by "
			 "PostgreSQL pid %ld, a session of another login, "
			 "which has no events of this host to commit: writing "
			 "without the lock (revoke EXECUTE on the advisory "
			 "lock functions from PUBLIC in the audit database to "
			 "stop this)",
			 a->host, holder);
	else if (holder)
		snprintf(msg, msglen,
			 "the writer lock of host %s is held by another "
			 "session of the writer's login (PostgreSQL pid %ld): "
			 "a daemon that died while its last commit was "
			 "pending, until the server ends its session, or "
			 "another mcpwardend with this host name",
			 a->host, holder);
	else
		snprintf(msg, msglen,
			 "the writer lock of host %s was held by a session "
			 "that has just ended",
			 a->host);
	if (holder != a->lock_holder_said) {
		if (v == LOCK_IGNORED)
			log_err("audit: %s", msg);
		else
			log_warn("audit: %s; retrying", msg);
	}
	a->lock_holder_said = holder;
}

/* What is there already: batches whose acknowledgement was lost. */
static void send_sync(struct mw_audit *a)
{
	const char *params[1] = { a->host };

	if (!PQsendQueryParams(a->conn, mw_schema_chain_head_sql, 1, NULL,
			       params, NULL, NULL, 0)) {
		conn_lost(a, PQerrorMessage(a->conn));
		return;
	}
	a->sync_ok = false;
	a->sync_hash[0] = '\0';
	memset(&a->b, 0, sizeof(a->b));
	sent(a, PH_SYNC);
}

static void connected(struct mw_audit *a)
{
	const char *params[1] = { a->host };

	if (PQsetnonblocking(a->conn, 1)) {
		conn_lost(a, PQerrorMessage(a->conn));
		return;
	}
	a->state = ST_UP;
	a->phase = PH_IDLE;
	if (register_io(a, EPOLLIN)) {
		conn_lost(a, "cannot watch the database socket");
		return;
	}
	/*
	 * The lock before the head: the session of a daemon that died (or of
	 * this one, cut off) may still be committing a batch, held back by a
	 * synchronous replica or an I/O stall. A head read before that
	 * commit shows would start a second chain from the same event.
	 */
	if (!PQsendQueryParams(a->conn, mw_schema_writer_lock_sql, 1, NULL,
			       params, NULL, NULL, 0)) {
		conn_lost(a, PQerrorMessage(a->conn));
		return;
	}
	a->lock_v = LOCK_NONE;
	memset(&a->b, 0, sizeof(a->b));
	sent(a, PH_LOCK);
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
	const char *vals[] = { "10", a->conninfo, "UTF8", NULL };

	a->conn = PQconnectStartParams(conn_keys, vals, 1);
	a->state = ST_CONNECTING;
	a->connect_started_ms = mw_now_ms();
	arm_timer(a, a->connect_started_ms + CONNECT_TIMEOUT_MS + 1);
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

/* Starts a COPY when the connection is idle and something is queued. */
static void kick(struct mw_audit *a)
{
	if (a->state != ST_UP || a->phase != PH_IDLE)
		return;
	if (mw_now_ms() >= a->maint_due_ms) {
		a->maint_due_ms = mw_now_ms() + MAINT_EVERY_MS;
		if (!PQsendQuery(a->conn, mw_schema_ensure_partitions_sql)) {
			conn_lost(a, PQerrorMessage(a->conn));
			return;
		}
		memset(&a->b, 0, sizeof(a->b));
		sent(a, PH_MAINT);
		return;
	}
	if (!a->count)
		return;
	if (a->resend_at_ms) {
		if (mw_now_ms() < a->resend_at_ms) {
			arm_timer(a, a->resend_at_ms);
			return;
		}
		a->resend_at_ms = 0;
	}
	/*
	 * A COPY costs PostgreSQL a commit (about 240 us of CPU) plus a few
	 * us a row: under moderate load, waiting batch_ms for company is far
	 * cheaper than a transaction per event, and it takes that CPU away
	 * from the request path on a small machine. A full batch goes at once.
	 */
	if (a->batch_gap_ms && a->count < a->batch_max &&
	    (!a->spool_first || spooling_first(a))) {
		int64_t due = a->last_copy_ms + a->batch_gap_ms;

		if (mw_now_ms() < due) {
			arm_timer(a, due);
			return;
		}
	}
	a->last_copy_ms = mw_now_ms();
	if (!PQsendQuery(a->conn, mw_schema_copy_sql)) {
		conn_lost(a, PQerrorMessage(a->conn));
		return;
	}
	memset(&a->b, 0, sizeof(a->b));
	sent(a, PH_COPY);
}

/* PGRES_COPY_IN: the batch is what is queued now, from the head. */
static void pick_batch(struct mw_audit *a)
{
	size_t max = a->head_seq <= a->solo_until ? 1 : a->batch_max;
	size_t n = 0, bytes = 0;

	while (n < a->count && n < max) {
		struct rec *r = rec_at(a, n);
		size_t len = r->alt ? r->alt_len : r->len;

		if (n && bytes + len > BATCH_BYTES_MAX)
			break;
		bytes += len;
		n++;
	}
	a->b.count = n;
	a->b.put = 0;
	a->b.put_off = 0;
}

static const char *line_of(const struct rec *r, size_t *len)
{
	*len = r->alt ? r->alt_len : r->len;
	return r->alt ? r->alt : r->line;
}

/*
 * Puts the batch's lines, records adjacent in a chunk in one call (COPY
 * data messages need not end at line ends). 1 all put, 0 libpq's buffer
 * is full, -1 error.
 */
static int put_lines(struct mw_audit *a)
{
	struct batch *b = &a->b;

	while (b->put < b->count) {
		const struct rec *r = rec_at(a, b->put);
		size_t len, take;
		const char *p = line_of(r, &len);
		int rc;

		p += b->put_off;
		len -= b->put_off;
		for (size_t i = b->put + 1; len < PUT_MAX && i < b->count;
		     i++) {
			const struct rec *n = rec_at(a, i);

			if (r->alt || n->alt || n->ch != r->ch ||
			    n->line != p + len)
				break;
			len += n->len;
		}
		take = len > PUT_MAX ? PUT_MAX : len;
		rc = PQputCopyData(a->conn, p, (int)take);
		if (rc <= 0)
			return rc;
		/* advance by take bytes */
		while (take) {
			size_t left;

			line_of(rec_at(a, b->put), &left);
			left -= b->put_off;
			if (take < left) {
				b->put_off += take;
				break;
			}
			take -= left;
			b->put++;
			b->put_off = 0;
		}
	}
	return 1;
}

/* Puts the lines and ends the COPY, as far as libpq takes them now. */
static void put_batch(struct mw_audit *a)
{
	int rc;

	if (a->phase == PH_PUT) {
		rc = put_lines(a);
		if (rc < 0) {
			conn_lost(a, PQerrorMessage(a->conn));
			return;
		}
		if (!rc) {
			/* libpq could not grow its buffer: drain it first */
			rc = PQflush(a->conn);
			if (rc < 0)
				conn_lost(a, PQerrorMessage(a->conn));
			else if (!rc)
				conn_lost(a, "out of memory putting a batch");
			else if (register_io(a, EPOLLIN | EPOLLOUT))
				conn_lost(a, "cannot watch the database "
					     "socket");
			return;
		}
		a->phase = PH_END;
	}
	if (a->phase == PH_END) {
		rc = PQputCopyEnd(a->conn, NULL);
		if (rc < 0) {
			conn_lost(a, PQerrorMessage(a->conn));
			return;
		}
		if (!rc) {
			if (register_io(a, EPOLLIN | EPOLLOUT))
				conn_lost(a, "cannot watch the database "
					     "socket");
			return;
		}
		a->phase = PH_RESULT;
	}
	push_out(a);
}

/* The batch's result is in: settles its records. */
static void batch_settled(struct mw_audit *a)
{
	struct batch *b = &a->b;
	uint64_t lo = a->head_seq, hi = a->head_seq + b->count - 1;
	bool wait = true, resync = false;

	a->phase = PH_IDLE;
	if (b->got_ok && !b->failed) {
		pop(a, b->count);
		a->st.written += b->count;
		durable_moved(a);
		spool_drained(a);
		if (a->refusals) {
			log_info("audit: batches accepted again after %llu "
				 "refused",
				 (unsigned long long)a->refusals);
			a->refusals = 0;
			a->resend_backoff_ms = RESEND_MIN_MS;
		}
		return;
	}
	a->st.failed_batches++;
	if (!b->count) {
		/* the COPY statement itself, before any line */
		if (!a->refusals++)
			log_warn("audit: COPY refused: %s%s%s", b->sqlstate,
				 *b->sqlstate ? " " : "", b->msg);
	} else {
		if (!a->refusals++ || data_error(b->sqlstate))
			log_warn("audit: batch of %zu events (seq %llu..%llu) "
				 "refused: %s%s%s",
				 b->count, (unsigned long long)lo,
				 (unsigned long long)hi, b->sqlstate,
				 *b->sqlstate ? " " : "", b->msg);
		if (data_error(b->sqlstate) && b->count > 1) {
			/* find the culprit: one record per batch */
			if (hi > a->solo_until)
				a->solo_until = hi;
			wait = false;
		} else if (dup_seq(b)) {
			/*
			 * A COPY of a connection given up may have committed
			 * them, or another writer took the key: the head's
			 * hash tells (synced), the way a reconnect does.
			 */
			log_warn("audit: events %llu..%llu: a key is already "
				 "in the database; comparing its chain's head "
				 "with this writer's events",
				 (unsigned long long)lo,
				 (unsigned long long)hi);
			resync = true;
		} else if (data_error(b->sqlstate) && !rec_at(a, 0)->alt) {
			degrade(rec_at(a, 0), b);
			wait = false;
		}
	}
	if (wait) {
		a->resend_at_ms = mw_now_ms() + a->resend_backoff_ms;
		a->resend_backoff_ms *= 2;
		if (a->resend_backoff_ms > RESEND_MAX_MS)
			a->resend_backoff_ms = RESEND_MAX_MS;
	}
	if (resync)
		send_sync(a);
}

/*
 * The database holds fewer of this host's events than it acknowledged to
 * this writer, or than the checkpoint file vouches for at start
 * (restored from a backup, failed over to a replica that had not
 * received them; or retention dropped every one): events max + 1 ..
 * head_seq - 1 are gone from it, and the spool let them go once they
 * were committed. The chain goes on after them, never numbering them
 * again; audit verify shows the gap. Said once per gap.
 */
static void database_behind(struct mw_audit *a, uint64_t max)
{
	uint64_t lo = max + 1, hi = a->head_seq - 1;

	if (lo == a->gap_lo && hi == a->gap_hi)
		return;
	a->gap_lo = lo;
	a->gap_hi = hi;
	a->st.missing += hi - lo + 1;
	log_err("audit: ALERT (AU-5): the database holds the events of host "
		"%s up to seq %llu only, yet the chain had reached %llu "
		"(committed there, or signed in the checkpoint file): events "
		"%llu..%llu are missing from it (a restore, a failover to a "
		"replica that had not received them%s); they are not shipped "
		"again, and audit verify will show the gap",
		a->host, (unsigned long long)max, (unsigned long long)hi,
		(unsigned long long)lo, (unsigned long long)hi,
		max ? "" : ", or retention dropped all of them");
}

/*
 * The database's event max is not the one this writer queued with that
 * seq: another writer uses this host name, or the database was replaced
 * by one that took other events. Taking the queued events up to max as
 * recorded would lose them; writing on would fork the chain. The writer
 * stops writing for good (no reconnect): what is queued stays queued and
 * goes to the spool as during an outage, calls being refused once the
 * spool cannot take them, and at close it is left in the spool.
 */
static void halt(struct mw_audit *a, uint64_t max)
{
	log_err("audit: ALERT (AU-5): the database's event %llu of host %s "
		"is not the one this writer queued (another writer with this "
		"host name, or a database that took other events): the "
		"writer stops writing to it; events %llu..%llu stay queued%s "
		"until an operator sorts the trail out and restarts",
		(unsigned long long)max, a->host,
		(unsigned long long)a->head_seq,
		(unsigned long long)(a->head_seq + a->count - 1),
		a->spool ? " and go to the spool" : "");
	a->halted = true;
	drop_conn(a);
}

/* The chain's head on the new connection: records up to it are there. */
static void synced(struct mw_audit *a)
{
	uint64_t max = a->sync_seq, n = 0;

	a->phase = PH_IDLE;
	if (max < a->head_seq - 1)
		database_behind(a, max);
	if (max >= a->head_seq && max - a->head_seq < a->count) {
		const struct rec *r = rec_at(a, (size_t)(max - a->head_seq));

		if (memcmp(r->line + r->len - 65, a->sync_hash, 64)) {
			halt(a, max);
			return;
		}
	} else if (a->count && max >= a->head_seq) {
		/* beyond all this writer ever sent: those rows are not its
		 * queued events, which must not be dropped as recorded */
		halt(a, max);
		return;
	}
	while (a->count && a->head_seq <= max) {
		pop(a, 1);
		n++;
	}
	if (n) {
		a->st.written += n;
		log_info("audit: %llu events were recorded, their "
			 "acknowledgement lost",
			 (unsigned long long)n);
		durable_moved(a);
		spool_drained(a);
	}
	if (!a->count && max >= a->head_seq) {
		log_warn("audit: the database has seq %llu for host %s, "
			 "beyond this writer's %llu: another writer with this "
			 "host name? continuing its chain",
			 (unsigned long long)max, a->host,
			 (unsigned long long)a->head_seq - 1);
		a->head_seq = max + 1;
		if (mw_chain_is_hash(a->sync_hash, strlen(a->sync_hash)))
			memcpy(a->last_hash, a->sync_hash, MW_CHAIN_HASH_HEX);
	}
}

/* The primary message only: DETAIL may quote the row, the payload. */
static void note_failure(struct batch *b, const PGresult *r)
{
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *cn = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
	const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

	b->failed = true;
	snprintf(b->sqlstate, sizeof(b->sqlstate), "%s", st ? st : "");
	snprintf(b->constraint, sizeof(b->constraint), "%s", cn ? cn : "");
	copy_msg(b->msg, sizeof(b->msg), m ? m : PQresultErrorMessage(r));
}

/* The command in flight has ended (PQgetResult gave NULL). */
static void command_done(struct mw_audit *a)
{
	if (PQstatus(a->conn) == CONNECTION_BAD) {
		conn_lost(a, PQerrorMessage(a->conn));
		return;
	}
	/* the server going away (57P01 ..) or a protocol failure */
	if (a->b.failed && (!strncmp(a->b.sqlstate, "57P", 3) ||
			    !strncmp(a->b.sqlstate, "08", 2))) {
		conn_lost(a, a->b.msg);
		return;
	}
	if (a->phase == PH_LOCK) {
		char msg[512];

		if (a->lock_v == LOCK_NONE) {
			conn_lost(a, "cannot take the writer lock");
			return;
		}
		if (a->lock_v != LOCK_TAKEN)
			lock_said(a, a->lock_v, a->lock_holder, msg,
				  sizeof(msg));
		else
			a->lock_holder_said = 0;
		if (a->lock_v == LOCK_WAIT) {
			conn_lost(a, msg);
			return;
		}
		a->st.connected = true;
		a->backoff_ms = BACKOFF_MIN_MS;
		a->resend_at_ms = 0;
		if (a->down_logged)
			log_info("audit: database connection restored (%zu "
				 "events to write)",
				 a->count);
		a->down_logged = false;
		send_sync(a);
	} else if (a->phase == PH_SYNC) {
		if (!a->sync_ok) {
			conn_lost(a, "cannot read the chain's head");
			return;
		}
		synced(a);
	} else if (a->phase == PH_MAINT) {
		a->phase = PH_IDLE;
		if (a->b.failed)
			log_warn("audit: cannot make the partitions ahead: %s "
				 "(events go to the default partition)",
				 a->b.msg);
	} else {
		batch_settled(a);
	}
}

static void read_results(struct mw_audit *a)
{
	while (a->state == ST_UP &&
	       (a->phase == PH_LOCK || a->phase == PH_SYNC ||
		a->phase == PH_MAINT || a->phase == PH_COPY ||
		a->phase == PH_RESULT) &&
	       !PQisBusy(a->conn)) {
		PGresult *r = PQgetResult(a->conn);
		ExecStatusType st;

		if (!r) {
			command_done(a);
			continue;
		}
		st = PQresultStatus(r);
		if (a->phase == PH_LOCK) {
			a->lock_v = lock_answer(r, &a->lock_holder);
			if (a->lock_v == LOCK_NONE) {
				note_failure(&a->b, r);
				log_warn("audit: cannot take the writer lock: "
					 "%s",
					 a->b.msg);
			}
		} else if (a->phase == PH_SYNC) {
			if (st == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
			    PQnfields(r) == 3) {
				a->sync_seq =
					strtoull(PQgetvalue(r, 0, 0), NULL, 10);
				snprintf(a->sync_hash, sizeof(a->sync_hash),
					 "%s", PQgetvalue(r, 0, 1));
				a->sync_ok = true;
			} else {
				note_failure(&a->b, r);
				log_warn("audit: cannot read the chain's head: "
					 "%s",
					 a->b.msg);
			}
		} else if (a->phase == PH_MAINT) {
			if (st != PGRES_TUPLES_OK)
				note_failure(&a->b, r);
		} else if (a->phase == PH_COPY && st == PGRES_COPY_IN) {
			PQclear(r);
			pick_batch(a);
			a->phase = PH_PUT;
			put_batch(a);
			continue;
		} else if (st == PGRES_COMMAND_OK && a->phase == PH_RESULT) {
			/* "COPY n": every line must have become a row */
			if (strtoull(PQcmdTuples(r), NULL, 10) == a->b.count) {
				a->b.got_ok = true;
			} else {
				a->b.failed = true;
				snprintf(a->b.msg, sizeof(a->b.msg),
					 "COPY took %s rows of %zu",
					 PQcmdTuples(r), a->b.count);
				log_err("audit: %s", a->b.msg);
			}
		} else {
			note_failure(&a->b, r);
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
	if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) &&
	    !PQconsumeInput(a->conn)) {
		conn_lost(a, PQerrorMessage(a->conn));
		return;
	}
	if (a->phase == PH_PUT || a->phase == PH_END)
		put_batch(a);
	else
		push_out(a);
	read_results(a);
	/*
	 * The server has closed its end: what is left to read ends in EOF,
	 * which libpq sees only when it reads again. Read on until then, so
	 * that the loss is known now rather than at the next wake-up.
	 */
	for (int i = 0; (events & EPOLLHUP) && a->state == ST_UP && i < 8;
	     i++) {
		if (!PQconsumeInput(a->conn)) {
			conn_lost(a, PQerrorMessage(a->conn));
			return;
		}
		read_results(a);
	}
	kick(a);
}

/* Reconnects and enforces timeouts; re-arms the timer for what is due. */
static void emit_checkpoint(struct mw_audit *a);

static void service(struct mw_audit *a, int64_t now)
{
	if (a->state != ST_CLOSED)
		spool_due(a, now);
	if (a->checkpoint_due_ms && a->state != ST_CLOSED) {
		if (now >= a->checkpoint_due_ms)
			emit_checkpoint(a);
		else
			arm_timer(a, a->checkpoint_due_ms);
	}
	switch (a->state) {
	case ST_DOWN:
		if (a->halted)
			break;
		if (now >= a->reconnect_at_ms)
			connect_start(a);
		else
			arm_timer(a, a->reconnect_at_ms);
		break;
	case ST_CONNECTING:
		if (now - a->connect_started_ms > CONNECT_TIMEOUT_MS)
			conn_lost(a, "connect timed out");
		else
			arm_timer(a, a->connect_started_ms +
					     CONNECT_TIMEOUT_MS + 1);
		break;
	case ST_UP:
		if (a->phase == PH_IDLE) {
			kick(a);
		} else if (now - a->cmd_ms > BATCH_TIMEOUT_MS) {
			conn_lost(a, "no answer from the database within 60 s");
		} else {
			arm_timer(a, a->cmd_ms + BATCH_TIMEOUT_MS + 1);
		}
		break;
	case ST_CLOSED:
		break;
	}
}

/* Tells the waiters what became durable, then does what is due. */
static void run_due(struct mw_audit *a)
{
	notify_durable(a);
	if (a->state != ST_CLOSED)
		service(a, mw_now_ms());
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
	a->timer_at = 0;
	run_due(a);
}

/*
 * The checkpoint file's line (with its '\n') for the checkpoint event
 * checkpoint_seq that signs event seq; malloc'd, NULL when out of memory.
 */
static char *checkpoint_file_line(const char *host, uint64_t seq,
				  const char *hash, const char *key_id,
				  const char *sig, uint64_t checkpoint_seq,
				  int64_t ts_us)
{
	json_t *file = json_pack("{ss,sI,ss,ss,ss,sI,sI}", "host", host, "seq",
				 (json_int_t)seq, "hash", hash, "key_id",
				 key_id, "signature", sig, "checkpoint_seq",
				 (json_int_t)checkpoint_seq, "ts_us",
				 (json_int_t)ts_us);
	char *text = file ? json_dumps(file, JSON_COMPACT) : NULL;
	char *line = NULL;

	if (text && asprintf(&line, "%s\n", text) < 0)
		line = NULL;
	free(text);
	json_decref(file);
	return line;
}

/* ---- the spool at start ---- */

struct spool_load {
	struct mw_audit *a;
	uint64_t head; /* the database's last seq */
	const char *head_hash;
	uint64_t vouched; /* file_vouched_seq */
	uint64_t lines, skipped;
	/* the last line skipped as recorded, and its hash */
	uint64_t last_skipped;
	char skipped_hash[64];
	char *err;
	size_t errlen;
};

/* Field i (0-based) of a COPY line: its bytes, not unescaped. */
static bool line_field(const char *line, size_t len, int i, const char **f,
		       size_t *n)
{
	const char *p = line, *end = line + len;

	for (; i > 0; i--) {
		p = memchr(p, '\t', (size_t)(end - p));
		if (!p)
			return false;
		p++;
	}
	*f = p;
	p = memchr(p, '\t', (size_t)(end - p));
	*n = (size_t)((p ? p : end) - *f);
	return true;
}

/*
 * A decimal field of a line as a number: 0 for \N, or for anything else
 * than 1 to 19 digits.
 */
static uint64_t line_u64(const char *f, size_t n)
{
	uint64_t v = 0;

	if (!n || n > 19)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (f[i] < '0' || f[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(f[i] - '0');
	}
	return v;
}

/* A ts as put_ts writes it, in microseconds since 1970. */
static bool line_ts_us(const char *f, size_t n, int64_t *us)
{
	struct tm tm = { 0 };
	char text[48];
	int frac, end = 0;

	if (n >= sizeof(text))
		return false;
	memcpy(text, f, n);
	text[n] = '\0';
	if (sscanf(text, "%4d-%2d-%2d %2d:%2d:%2d.%6d+00%n", &tm.tm_year,
		   &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
		   &frac, &end) != 7 ||
	    (size_t)end != n || n != 29)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon--;
	*us = (int64_t)timegm(&tm) * 1000000 + frac;
	return true;
}

/*
 * A spooled checkpoint's line for the outside file, made again from its
 * params and ts: a kill after the spool's sync (or the database's
 * commit) but before the loop saw it left it out of the file. Kept for
 * restore_checkpoints, once the file is open. The event itself is in
 * the spool or the database whatever happens here: a failure is said,
 * and the start goes on.
 */
static void spooled_checkpoint(struct mw_audit *a, const char *line, size_t len,
			       size_t nfields, uint64_t seq)
{
	struct mw_chain_value v[N_COLS];
	const char *hash, *key_id, *sig;
	json_int_t signed_seq;
	json_t *p = NULL;
	char *copy = malloc(len), *fl = NULL;
	int64_t ts_us;

	if (!copy)
		goto fail;
	memcpy(copy, line, len);
	if (mw_pgcopy_parse(copy, len, v, nfields, NULL, 0) ||
	    !v[MW_CF_HOST].s || v[MW_CF_HOST].n != strlen(a->host) ||
	    memcmp(v[MW_CF_HOST].s, a->host, v[MW_CF_HOST].n) ||
	    !v[MW_CF_TS_US].s ||
	    !line_ts_us(v[MW_CF_TS_US].s, v[MW_CF_TS_US].n, &ts_us) ||
	    !v[MW_CF_PARAMS].s)
		goto fail;
	p = json_loadb(v[MW_CF_PARAMS].s, v[MW_CF_PARAMS].n, 0, NULL);
	if (!p ||
	    json_unpack(p, "{s:I, s:s, s:s, s:s}", "seq", &signed_seq, "hash",
			&hash, "key_id", &key_id, "signature", &sig) ||
	    signed_seq < 0)
		goto fail;
	fl = checkpoint_file_line(a->host, (uint64_t)signed_seq, hash, key_id,
				  sig, seq, ts_us);
	if (!fl || mw_buf_append(&a->cp_lines, fl, strlen(fl) + 1))
		goto fail;
	goto out;
fail:
	log_warn("audit: cannot make the checkpoint file's line of the "
		 "spooled checkpoint %llu again",
		 (unsigned long long)seq);
out:
	free(fl);
	json_decref(p);
	free(copy);
}

/*
 * The spool's event seq is not in the database's chain as the spool has
 * it: its events were never recorded there, and dropping them as shipped
 * would lose them; shipping them would fork the chain. The start stops
 * with the spool as it is.
 */
static int spool_not_recorded(struct spool_load *l, uint64_t seq,
			      const char *what)
{
	mw_set_err(l->err, l->errlen,
		   "ALERT (AU-5): audit spool %s: event %llu %s of host %s "
		   "(another writer with this host name, or a database that "
		   "took other events): the spool's events are not in the "
		   "database and are kept; sort the trail out, and move the "
		   "file away to start",
		   mw_spool_path(l->a->spool), (unsigned long long)seq, what,
		   l->a->host);
	return -EBADMSG;
}

/*
 * One spooled line: recorded already (seq up to the database's head), or
 * queued again, in order, as durable. Either way its conn_id was given
 * out: numbering goes on after it (the database does not hold those
 * only in the spool), so that no two connections share an id.
 */
static int load_line(void *arg, const char *line, size_t len)
{
	struct spool_load *l = arg;
	struct mw_audit *a = l->a;
	const char *f, *h, *ph, *cf, *kf;
	size_t n, hn, phn, cn, kn, fields = 1, missing = 0;
	uint64_t seq, conn_id;
	bool checkpoint;
	struct rec *r;
	int rc;

	l->lines++;
	for (const char *p = line;
	     (p = memchr(p, '\t', (size_t)(line + len - p))); p++)
		fields++;
	/* A line of a version before the optional fields: they are NULL,
	 * which the hash does not encode, so it is still the event's. */
	if (fields == MW_CF_FIRST_OPTIONAL + 1)
		missing = MW_CF_N - MW_CF_FIRST_OPTIONAL;
	else if (fields != N_COLS)
		goto bad;
	/* seqs start at 1: a 0 is no event's */
	if (!line_field(line, len, MW_CF_SEQ, &f, &n) ||
	    !(seq = line_u64(f, n)) ||
	    !line_field(line, len, C_HASH - (int)missing, &h, &hn) ||
	    !mw_chain_is_hash(h, hn) ||
	    !line_field(line, len, MW_CF_PREV_HASH, &ph, &phn) ||
	    !mw_chain_is_hash(ph, phn) || h + hn != line + len ||
	    !line_field(line, len, MW_CF_CONN_ID, &cf, &cn) ||
	    !line_field(line, len, MW_CF_KIND, &kf, &kn))
		goto bad;
	checkpoint = kn == 10 && !memcmp(kf, "checkpoint", 10);
	conn_id = line_u64(cf, cn);
	if (conn_id > a->last_conn_id)
		a->last_conn_id = conn_id;
	if (seq == l->head && memcmp(h, l->head_hash, 64))
		return spool_not_recorded(l, seq,
					  "is not the database's event");
	if (seq <= l->head) {
		l->skipped++;
		l->last_skipped = seq;
		memcpy(l->skipped_hash, h, 64);
		if (checkpoint)
			spooled_checkpoint(a, line, len, fields, seq);
		return 0;
	}
	if (!a->count && seq > a->head_seq && seq - 1 <= l->vouched) {
		/*
		 * A run that found the database behind the checkpoint file
		 * went on after the file (go_past_file): what it spooled
		 * starts past the gap. Nothing in the database precedes its
		 * first event, so its prev_hash is not compared.
		 */
		a->head_seq = seq;
		database_behind(a, l->head);
	} else if (seq != a->head_seq + a->count) {
		mw_set_err(l->err, l->errlen,
			   "audit spool %s: line %llu has seq %llu where %llu "
			   "was expected",
			   mw_spool_path(a->spool),
			   (unsigned long long)l->lines,
			   (unsigned long long)seq,
			   (unsigned long long)(a->head_seq + a->count));
		return -EBADMSG;
	}
	if ((a->count || seq == l->head + 1) && memcmp(ph, a->last_hash, 64))
		return spool_not_recorded(l, seq,
					  a->count ? "does not follow the "
						     "spool's event before it"
						   : "does not follow the "
						     "database's last event");
	if (a->count >= a->max_queue || (a->count == a->cap && grow(a))) {
		mw_set_err(l->err, l->errlen,
			   "audit spool %s holds more events than "
			   "audit.max_queue (%zu): raise it to ship them",
			   mw_spool_path(a->spool), a->max_queue);
		return -ENOSPC;
	}
	rc = reserve(a, len + 1 + 3 * missing);
	if (rc == -ENOSPC)
		mw_set_err(l->err, l->errlen,
			   "audit spool %s holds more than "
			   "audit.max_queue_bytes (%zu): raise it to ship them",
			   mw_spool_path(a->spool), a->max_bytes);
	if (rc)
		return rc;
	r = rec_at(a, a->count);
	memset(r, 0, sizeof(*r));
	r->line = a->tail->data + a->tail->used;
	memcpy(r->line, line, (size_t)(h - line));
	r->len = (size_t)(h - line);
	for (size_t i = 0; i < missing; i++, r->len += 3)
		memcpy(r->line + r->len, "\\N\t", 3);
	memcpy(r->line + r->len, h, hn);
	r->len += hn;
	r->line[r->len++] = '\n';
	r->ch = a->tail;
	r->queued_ms = mw_now_ms();
	a->tail->used += r->len;
	a->tail->live++;
	a->count++;
	memcpy(a->last_hash, h, 64);
	a->spooled_seq = seq;
	if (checkpoint)
		spooled_checkpoint(a, line, len, fields, seq);
	return 0;
bad:
	mw_set_err(l->err, l->errlen,
		   "audit spool %s: line %llu is not an audit event; move the "
		   "file away to start",
		   mw_spool_path(a->spool), (unsigned long long)l->lines);
	return -EBADMSG;
}

/*
 * The spool's last recorded line is below the database's head: the
 * database went on after it, with this writer's later events or with
 * another writer's. Only where its event there is the spool's did the
 * spool's events reach it (the hash vouches for those before).
 */
static int check_skipped(struct spool_load *l)
{
	struct mw_audit *a = l->a;
	char seq[24], msg[512];
	const char *params[2] = { a->host, seq };
	const char *h;
	PGresult *r;
	int rc = 0;

	snprintf(seq, sizeof(seq), "%llu", (unsigned long long)l->last_skipped);
	r = PQexecParams(a->conn, mw_schema_chain_hash_at_sql, 2, NULL, params,
			 NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 ||
	    PQnfields(r) != 1) {
		copy_msg(msg, sizeof(msg), PQresultErrorMessage(r));
		mw_set_err(l->err, l->errlen,
			   "audit: cannot read event %s of the chain to check "
			   "the spool against it: %s",
			   seq, msg);
		rc = -EIO;
	} else if (PQgetisnull(r, 0, 0)) {
		rc = spool_not_recorded(l, l->last_skipped,
					"is missing from the chain");
	} else {
		h = PQgetvalue(r, 0, 0);
		if (strlen(h) != 64 || memcmp(h, l->skipped_hash, 64))
			rc = spool_not_recorded(l, l->last_skipped,
						"is not the database's event");
	}
	PQclear(r);
	return rc;
}

/*
 * Opens the spool and queues again what it holds beyond the database's
 * head: events made durable there and never shipped (a crash, or a stop
 * while the database was away). The chain goes on from the last of them.
 */
static int open_spool(struct mw_audit *a, const struct mw_audit_config *cfg,
		      uint64_t vouched, char *err, size_t errlen)
{
	struct spool_load l = { .a = a,
				.head = a->head_seq - 1,
				.head_hash = a->last_hash,
				.vouched = vouched,
				.err = err,
				.errlen = errlen };
	char dir[PATH_MAX];
	size_t torn = 0;
	int rc, n;

	n = cfg->spool_dir && *cfg->spool_dir
		    ? snprintf(dir, sizeof(dir), "%s", cfg->spool_dir)
		    : snprintf(dir, sizeof(dir), "%s/spool", cfg->state_dir);
	if (n < 0 || (size_t)n >= sizeof(dir)) {
		mw_set_err(err, errlen, "audit: spool directory name too long");
		return -ENAMETOOLONG;
	}
	rc = mw_spool_open(&a->spool, dir, &torn, err, errlen);
	if (rc)
		return rc;
	if (torn)
		log_warn("audit: %zu bytes after the spool's last whole line "
			 "(recorded lines, or a write a crash interrupted "
			 "before its sync): cut off",
			 torn);
	a->spool_bytes = mw_spool_size(a->spool);
	if (!a->spool_bytes)
		return 0;
	rc = mw_spool_scan(a->spool, load_line, &l);
	if (!rc && l.last_skipped && l.last_skipped < l.head)
		rc = check_skipped(&l);
	if (rc)
		return rc;
	if (a->count)
		log_info("audit: %zu events from the spool to ship (seq "
			 "%llu..%llu)",
			 a->count, (unsigned long long)a->head_seq,
			 (unsigned long long)(a->head_seq + a->count - 1));
	else
		spool_drained(a);
	return 0;
}

/*
 * A line this writer's key signed as it stands: the checkpoint_seq is not
 * signed, so only the one this writer gives (seq + 1, or none) is taken.
 */
static bool vouches(const struct mw_audit *a, const struct mw_verify_cp *cp)
{
	char msg[MW_VERIFY_HOST_MAX + 160];
	int n = mw_chain_checkpoint_message(msg, sizeof(msg), a->host, cp->seq,
					    cp->hash);

	/* another key's (an earlier one) is passed over without its cost */
	return n > 0 && cp->seq < INT64_MAX - 1 &&
	       (!cp->checkpoint_seq || cp->checkpoint_seq == cp->seq + 1) &&
	       !strcmp(cp->key_id, mw_signer_key_id(a->signer)) &&
	       mw_signer_verify(a->signer, msg, (size_t)n, cp->signature);
}

/*
 * The checkpoint file's last line for this host (that this key signed,
 * when signed), read from the end into *cp; *found false when it has
 * none. 0 or -errno.
 */
static int file_last_line(struct mw_audit *a, bool signed_only,
			  struct mw_verify_cp *cp, bool *found)
{
	char *buf = NULL, *nb, *nl;
	size_t len = 0, start, want;
	uint64_t refused = 0, long_lines = 0;
	bool skipping = false;
	struct stat st;
	ssize_t r;
	off_t pos;
	int rc = 0;

	*found = false;
	if (fstat(a->checkpoint_fd, &st))
		return -errno;
	/* buf holds the file's bytes pos .. pos + len, which end a line */
	for (pos = st.st_size;;) {
		nl = len > 1 ? memrchr(buf, '\n', len - 1) : NULL;
		if (skipping) {
			/* the end of the line before the long one */
			nl = len ? memrchr(buf, '\n', len) : NULL;
			if (nl) {
				len = (size_t)(nl - buf) + 1;
				skipping = false;
				continue;
			}
			len = 0;
			if (!pos)
				break;
		}
		if (!nl && pos > 0) {
			want = pos > CP_READ ? CP_READ : (size_t)pos;
			if (len + want > CP_TAIL_MAX) {
				/* no checkpoint line is this long: passed
				 * over, as no line this key signed */
				long_lines++;
				skipping = true;
				len = 0;
			}
			nb = realloc(buf, len + want);
			if (!nb) {
				rc = -ENOMEM;
				break;
			}
			buf = nb;
			memmove(buf + want, buf, len);
			pos -= (off_t)want;
			r = mw_pread_full(a->checkpoint_fd, buf, want, pos);
			if (r != (ssize_t)want) {
				rc = r < 0 ? (int)r : -EIO;
				break;
			}
			len += want;
			continue;
		}
		start = nl ? (size_t)(nl - buf) + 1 : 0;
		if (!mw_verify_parse_checkpoint(buf + start, len - start, cp,
						NULL, 0) &&
		    !strcmp(cp->host, a->host)) {
			if (!signed_only || vouches(a, cp)) {
				*found = true;
				break;
			}
			if (!refused++)
				log_warn("audit: the checkpoint file %s has a "
					 "line for host %s (seq %llu) this key "
					 "did not sign as it stands: passed "
					 "over",
					 a->checkpoint_path, a->host,
					 (unsigned long long)cp->seq);
		}
		if (!start)
			break;
		len = start;
	}
	free(buf);
	if (long_lines)
		log_warn("audit: the checkpoint file %s: %llu line(s) longer "
			 "than %u bytes passed over (no checkpoint line is)",
			 a->checkpoint_path, (unsigned long long)long_lines,
			 CP_TAIL_MAX);
	return rc;
}

/*
 * The checkpoint_seq of the checkpoint file's last line for this host (0
 * when it has none). 0 or -errno.
 */
static int file_last_checkpoint(struct mw_audit *a, uint64_t *last)
{
	struct mw_verify_cp cp;
	bool found;
	int rc = file_last_line(a, false, &cp, &found);

	*last = !found ? 0 : cp.checkpoint_seq ? cp.checkpoint_seq : cp.seq + 1;
	return rc;
}

/*
 * The last seq of this host's chain the checkpoint file vouches for: the
 * checkpoint event after the last event a line this key signed names (0
 * when none). The file is outside the database: only this key's
 * signature may move the chain.
 */
static int file_vouched_seq(struct mw_audit *a, uint64_t *vouched)
{
	struct mw_verify_cp cp;
	bool found;
	int rc = file_last_line(a, true, &cp, &found);

	*vouched = !rc && found ? cp.seq + 1 : 0;
	return rc;
}

/*
 * The spool's checkpoints after the file's last line for this host go
 * to the file, in order (see spooled_checkpoint); those it has already,
 * and older ones, do not go twice.
 */
static void restore_checkpoints(struct mw_audit *a)
{
	const char *p = a->cp_lines.data, *end = p + a->cp_lines.len;
	struct mw_verify_cp cp;
	uint64_t last;
	size_t n = 0;
	int rc;

	if (!a->cp_lines.len || a->checkpoint_fd < 0)
		goto out;
	rc = file_last_checkpoint(a, &last);
	if (rc) {
		log_warn("audit: cannot read the checkpoint file %s back (%s): "
			 "the spool's checkpoints are not added to it",
			 a->checkpoint_path, strerror(-rc));
		goto out;
	}
	for (; p < end; p += strlen(p) + 1) {
		if (mw_verify_parse_checkpoint(p, strlen(p), &cp, NULL, 0) ||
		    cp.checkpoint_seq <= last)
			continue;
		checkpoint_to_file(a, p);
		if (a->checkpoint_file_failed)
			break;
		last = cp.checkpoint_seq;
		n++;
	}
	if (n)
		log_info("audit: %zu checkpoint(s) of the spool the checkpoint "
			 "file %s did not have are added to it (up to "
			 "checkpoint %llu)",
			 n, a->checkpoint_path, (unsigned long long)last);
out:
	mw_buf_free(&a->cp_lines);
}

/*
 * A seq the checkpoint file vouches for is never given again. With every
 * row of this host dropped by retention (the host idle longer than it
 * keeps), or the database restored from an older backup, its head is
 * behind the file, and events numbered from it would mismatch the file's
 * lines for ever: the chain goes on after the file's last checkpoint
 * (vouched), and audit verify sees the gap as retention's, or as a
 * deletion, whichever it is. The queue is one run of seqs: should the
 * spool hold events to ship and yet end before the file, the events
 * between are in neither (the spool cut short, or the database restored
 * from a backup older than them while the spool still held earlier
 * ones), which the start refuses to paper over.
 */
static int go_past_file(struct mw_audit *a, uint64_t vouched, char *err,
			size_t errlen)
{
	uint64_t db_head = a->head_seq - 1, next = a->head_seq + a->count;

	if (vouched < next)
		return 0;
	if (a->count) {
		mw_set_err(err, errlen,
			   "ALERT (AU-5): audit spool %s ends at seq %llu of "
			   "host %s and the database at %llu, yet the "
			   "checkpoint file %s vouches for the chain up to "
			   "%llu: the events between are in neither now (the "
			   "spool cut short, or the database restored from a "
			   "backup older than them), and going on from the "
			   "spool would number them again; restore the "
			   "database, or move the spool away (its events are "
			   "then lost to the database too), to start",
			   mw_spool_path(a->spool),
			   (unsigned long long)(next - 1), a->host,
			   (unsigned long long)db_head, a->checkpoint_path,
			   (unsigned long long)vouched);
		return -EBADMSG;
	}
	a->head_seq = vouched + 1;
	database_behind(a, db_head);
	return 0;
}

/* ---- public ---- */

/* base with the login role set: keyword/value strings and URIs. */
static int with_role(const char *base, const char *role, char *out,
		     size_t outlen)
{
	bool uri = !strncmp(base, "postgresql://", 13) ||
		   !strncmp(base, "postgres://", 11);
	int n = uri ? snprintf(out, outlen, "%s%cuser=%s", base,
			       strchr(base, '?') ? '&' : '?', role)
		    : snprintf(out, outlen, "%s user=%s", base, role);

	return n < 0 || (size_t)n >= outlen ? -ENOSPC : 0;
}

int mw_audit_conninfo_as(const struct mw_audit_config *cfg,
			 enum mw_audit_role role, char *out, size_t outlen)
{
	const char *own;
	char base[4096];
	int rc;

	if (!cfg || !out || !outlen)
		return -EINVAL;
	own = role == MW_AUDIT_WRITER	 ? cfg->writer_dsn
	      : role == MW_AUDIT_AUDITOR ? cfg->auditor_dsn
					 : NULL;
	if (own && *own)
		return snprintf(out, outlen, "%s", own) >= (int)outlen ? -ENOSPC
								       : 0;
	if (cfg->dsn && *cfg->dsn) {
		if (snprintf(base, sizeof(base), "%s", cfg->dsn) >=
		    (int)sizeof(base))
			return -ENOSPC;
	} else {
		rc = mw_pg_embedded_conninfo(cfg->state_dir, base,
					     sizeof(base));
		if (rc)
			return rc;
	}
	if (role == MW_AUDIT_OWNER)
		return snprintf(out, outlen, "%s", base) >= (int)outlen
			       ? -ENOSPC
			       : 0;
	return with_role(base,
			 role == MW_AUDIT_WRITER ? MW_SCHEMA_WRITER_ROLE
						 : MW_SCHEMA_AUDITOR_ROLE,
			 out, outlen);
}

int mw_audit_conninfo(const struct mw_audit_config *cfg, char *out,
		      size_t outlen)
{
	return mw_audit_conninfo_as(cfg, MW_AUDIT_AUDITOR, out, outlen);
}

int mw_audit_checkpoint_path(const struct mw_audit_config *cfg, char *out,
			     size_t outlen)
{
	int n = cfg->checkpoint_file && *cfg->checkpoint_file
			? snprintf(out, outlen, "%s", cfg->checkpoint_file)
			: snprintf(out, outlen, "%s/%s", cfg->state_dir,
				   MW_AUDIT_CHECKPOINT_FILE);

	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

/* Where this host's chain stands, on the owner's connection at start. */
static int read_chain_head(struct mw_audit *a, PGconn *conn, char *err,
			   size_t errlen)
{
	const char *params[1] = { a->host };
	PGresult *r = PQexecParams(conn, mw_schema_chain_head_sql, 1, NULL,
				   params, NULL, NULL, 0);
	int rc = 0;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 ||
	    PQnfields(r) != 3) {
		mw_set_err(err, errlen,
			   "cannot read the audit chain's head: %s",
			   PQresultErrorMessage(r));
		rc = -EIO;
	} else {
		uint64_t last_seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
		const char *h = PQgetvalue(r, 0, 1);

		if (last_seq && !mw_chain_is_hash(h, strlen(h))) {
			mw_set_err(err, errlen,
				   "the audit chain of host %s ends at seq "
				   "%llu with a malformed hash",
				   a->host, (unsigned long long)last_seq);
			rc = -EIO;
		} else {
			memcpy(a->last_hash, last_seq ? h : MW_CHAIN_GENESIS,
			       64);
			a->last_hash[64] = '\0';
			a->last_conn_id =
				strtoull(PQgetvalue(r, 0, 2), NULL, 10);
			a->head_seq = last_seq + 1;
		}
	}
	PQclear(r);
	return rc;
}

PGconn *mw_audit_pq_connect(const char *conninfo)
{
	const char *vals[] = { "10", conninfo, "UTF8", NULL };
	PGconn *conn = PQconnectdbParams(conn_keys, vals, 1);

	/* libpq's own processor writes a server's notice to stderr as the
	 * server chose it: the CLI's terminal */
	if (conn)
		PQsetNoticeProcessor(conn, on_notice, NULL);
	return conn;
}

/* A blocking connection for start-up; NULL with err set. */
static PGconn *connect_now(const char *conninfo, const char *as, char *err,
			   size_t errlen)
{
	PGconn *conn = mw_audit_pq_connect(conninfo);
	char msg[512];

	if (conn && PQstatus(conn) == CONNECTION_OK)
		return conn;
	copy_msg(msg, sizeof(msg),
		 conn ? PQerrorMessage(conn) : "out of memory");
	mw_set_err(err, errlen, "cannot connect to the audit database%s: %s",
		   as, msg);
	PQfinish(conn);
	return NULL;
}

/*
 * The owner's part of the start: schema, partitions. The writer's own
 * login then does the rest (the lock, the chain's head), and only
 * INSERTs.
 */
static int prepare_database(const struct mw_audit_config *cfg, char *err,
			    size_t errlen)
{
	char conninfo[8192], msg[512];
	PGconn *conn;
	PGresult *r;
	int rc;

	rc = mw_audit_conninfo_as(cfg, MW_AUDIT_OWNER, conninfo,
				  sizeof(conninfo));
	if (rc) {
		mw_set_err(err, errlen, "audit: bad connection settings: %s",
			   strerror(-rc));
		return rc;
	}
	conn = connect_now(conninfo, "", err, errlen);
	if (!conn)
		return -ECONNREFUSED;
	rc = mw_schema_migrate(conn, NULL, err, errlen);
	if (!rc && (!cfg->dsn || !*cfg->dsn)) {
		r = PQexec(conn, mw_schema_lock_grants_sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			copy_msg(msg, sizeof(msg), PQresultErrorMessage(r));
			mw_set_err(err, errlen,
				   "audit: cannot keep advisory locks to the "
				   "writer: %s",
				   msg);
			rc = -EIO;
		}
		PQclear(r);
	}
	if (!rc) {
		/*
		 * A partition made waits for every open transaction that
		 * inserted events, a dead daemon's commit held back too: not
		 * for long, nor silently (the partitions are made again
		 * every few hours).
		 */
		r = PQexec(conn, "SET lock_timeout = '5s'");
		PQclear(r);
		r = PQexec(conn, mw_schema_ensure_partitions_sql);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			log_warn("audit: cannot make the partitions ahead: %s",
				 PQresultErrorMessage(r));
		PQclear(r);
	}
	PQfinish(conn);
	return rc;
}

/* A stop asked for while the start waits: the daemon blocks them. */
static bool stop_pending(void)
{
	sigset_t p;

	return !sigpending(&p) &&
	       (sigismember(&p, SIGTERM) == 1 || sigismember(&p, SIGINT) == 1);
}

/*
 * The start waits for the lock (see connected): the session holding it
 * is most often that of a daemon just killed, which the server ends once
 * its last command is done; one whose machine died ends within the
 * keepalives mw_schema_writer_lock_sql sets.
 */
static int take_writer_lock(struct mw_audit *a, int wait_ms, char *err,
			    size_t errlen)
{
	const char *params[1] = { a->host };
	int64_t deadline = mw_now_ms() + wait_ms;

	for (;;) {
		PGresult *r = PQexecParams(a->conn, mw_schema_writer_lock_sql,
					   1, NULL, params, NULL, NULL, 0);
		enum lock_verdict v;
		long holder;
		char msg[512];

		v = lock_answer(r, &holder);
		if (v == LOCK_NONE) {
			copy_msg(msg, sizeof(msg), PQresultErrorMessage(r));
			PQclear(r);
			mw_set_err(err, errlen,
				   "audit: cannot take the writer lock: %s",
				   msg);
			return -EIO;
		}
		PQclear(r);
		if (v == LOCK_TAKEN) {
			if (a->lock_holder_said)
				log_info("audit: took the writer lock of host "
					 "%s",
					 a->host);
			a->lock_holder_said = 0;
			return 0;
		}
		lock_said(a, v, holder, msg, sizeof(msg));
		if (v == LOCK_IGNORED)
			return 0;
		if (mw_now_ms() >= deadline) {
			mw_set_err(err, errlen,
				   "audit: %s; gave up after %d ms", msg,
				   wait_ms);
			return -EBUSY;
		}
		if (stop_pending()) {
			mw_set_err(err, errlen,
				   "audit: %s; stopped while waiting", msg);
			return -EINTR;
		}
		poll(NULL, 0, LOCK_POLL_MS);
	}
}

/*
 * The checkpoint file as it must be: the daemon writes and cuts it as
 * root, and an auditor believes it. Anyone else who may write it could
 * edit what vouches for the chain; a second name (a hard link) makes it
 * another file too, one the daemon would cut and append to.
 */
static int checkpoint_file_ok(const char *path, const struct stat *st,
			      char *err, size_t errlen)
{
	if (st->st_uid != geteuid()) {
		mw_set_err(err, errlen,
			   "audit: the checkpoint file %s is owned by uid %u, "
			   "not by uid %u that the daemon runs as",
			   path, (unsigned)st->st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		mw_set_err(err, errlen,
			   "audit: the checkpoint file %s is writable by group "
			   "or others (mode %04o): run chmod 640 %s",
			   path, (unsigned)(st->st_mode & 07777), path);
		return -EPERM;
	}
	if (st->st_nlink != 1) {
		mw_set_err(err, errlen,
			   "audit: the checkpoint file %s has %lu names (hard "
			   "links): another may be a file the daemon must not "
			   "write; keep a copy instead",
			   path, (unsigned long)st->st_nlink);
		return -EPERM;
	}
	return 0;
}

/* The signing key (made on first start) and the outside file. */
static int open_checkpoints(struct mw_audit *a,
			    const struct mw_audit_config *cfg, char *err,
			    size_t errlen)
{
	const int flags = O_RDWR | O_APPEND | O_NOFOLLOW;
	char path[PATH_MAX], dir[PATH_MAX], *slash;
	struct stat st;
	bool made = true;
	int rc;

	rc = mw_signer_open(&a->signer, cfg->state_dir, err, errlen);
	if (rc)
		return rc;
	rc = mw_audit_checkpoint_path(cfg, path, sizeof(path));
	if (rc) {
		mw_set_err(err, errlen, "audit: checkpoint file: %s",
			   strerror(-rc));
		return rc;
	}
	/* Judged as state_dir is: whoever may change the directory, or one
	 * above it, could swap the file for a link, or for an older copy
	 * with the last lines gone. */
	memcpy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash == dir) /* a file at the root: "/" */
		slash++;
	if (slash)
		*slash = '\0';
	rc = mw_private_dir_check(dir, "audit.checkpoint_file's directory", err,
				  errlen);
	if (rc)
		return rc;
	a->checkpoint_path = strdup(path);
	if (!a->checkpoint_path)
		return -ENOMEM;
	a->checkpoint_fd = mw_open_regular_flags(
		AT_FDCWD, path, flags | O_CREAT | O_EXCL, 0640, &st);
	if (a->checkpoint_fd == -EEXIST) {
		made = false;
		a->checkpoint_fd =
			mw_open_regular_flags(AT_FDCWD, path, flags, 0, &st);
	}
	if (a->checkpoint_fd < 0) {
		rc = a->checkpoint_fd;
		mw_set_err(err, errlen,
			   "audit: cannot open the checkpoint file %s: %s",
			   path,
			   rc == -ELOOP	   ? "a symbolic link, not the file"
			   : rc == -EINVAL ? "not a regular file"
					   : strerror(-rc));
		return rc;
	}
	rc = checkpoint_file_ok(path, &st, err, errlen);
	if (rc)
		return rc;
	rc = cut_torn_checkpoint(a);
	if (rc) {
		mw_set_err(err, errlen, "audit: the checkpoint file %s: %s",
			   path, strerror(-rc));
		return rc;
	}
	/* a file just made is a name in its directory too */
	return made ? mw_fsync_parent(path, err, errlen) : 0;
}

static int start_timer(struct mw_audit *a)
{
	int rc;

	a->timer.fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	a->timer.cb = on_timer;
	if (a->timer.fd < 0)
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
	/* first: an append in flight settles while everything is there */
	mw_spool_sync_free(a->ssync);
	a->ssync = NULL;
	unregister_io(a);
	if (a->timer_registered)
		mw_loop_del(a->loop, &a->timer);
	a->timer_registered = false;
	if (a->timer.fd >= 0)
		close(a->timer.fd);
	a->timer.fd = -1;
	PQfinish(a->conn);
	a->conn = NULL;
	for (size_t i = 0; a->ring && i < a->count; i++) {
		free(rec_at(a, i)->alt);
		free(rec_at(a, i)->checkpoint);
	}
	mw_signer_free(a->signer);
	a->signer = NULL;
	mw_spool_close(a->spool);
	a->spool = NULL;
	mw_buf_free(&a->sb);
	if (a->checkpoint_fd >= 0)
		close(a->checkpoint_fd);
	a->checkpoint_fd = -1;
	a->checkpoint_cut_at = -1;
	free(a->checkpoint_path);
	a->checkpoint_path = NULL;
	a->count = 0;
	free(a->ring);
	a->ring = NULL;
	while (a->chunks) {
		struct chunk *c = a->chunks;

		a->chunks = c->next;
		free(c);
	}
	a->tail = NULL;
	free(a->spare);
	a->spare = NULL;
	mw_buf_free(&a->jb);
	mw_buf_free(&a->cp_lines);
	free(a->host);
	free(a->host_line);
	free(a->conninfo);
	a->host = a->host_line = a->conninfo = NULL;
	a->state = ST_CLOSED;
	a->phase = PH_IDLE;
	a->st.connected = false;
}

static void free_deferred(struct mw_deferred *d)
{
	free(container_of(d, struct mw_audit, dfr));
}

/*
 * What a caller waits for goes to the spool once the loop's current batch
 * is done, with whatever else the batch queued (group commit), and the
 * waiters hear of what became durable: a deferred call, where the timer
 * would cost its syscalls and a turn of the loop.
 */
static void spool_soon(struct mw_deferred *d)
{
	struct mw_audit *a = container_of(d, struct mw_audit, soon);

	a->soon_queued = false;
	if (a->state == ST_CLOSED) {
		/* mw_audit_close left the struct to this call */
		free(a);
		return;
	}
	run_due(a);
}

static void spool_after_batch(struct mw_audit *a)
{
	if (!a->soon_queued) {
		a->soon_queued = true;
		mw_loop_defer(a->loop, &a->soon);
	}
}

int mw_audit_open(struct mw_audit **out, const struct mw_audit_config *cfg,
		  struct mw_loop *loop, char *err, size_t errlen)
{
	char conninfo[8192];
	bool started = false;
	uint64_t vouched = 0;
	struct mw_audit *a;
	size_t hl;
	int rc;

	if (!out || !cfg || !loop) {
		mw_set_err(err, errlen, "audit: missing argument");
		return -EINVAL;
	}
	*out = NULL;
	if (!cfg->host || !*cfg->host) {
		mw_set_err(err, errlen, "audit: no host name");
		return -EINVAL;
	}
	/* it names the chain, in signed checkpoints too: one line of text */
	hl = strlen(cfg->host);
	for (size_t i = 0; i < hl; i++) {
		if ((unsigned char)cfg->host[i] < 0x20 ||
		    cfg->host[i] == 0x7f || !mw_utf8_valid(cfg->host, hl)) {
			mw_set_err(err, errlen,
				   "audit: the host name must be UTF-8 text "
				   "without control characters");
			return -EINVAL;
		}
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->loop = loop;
	a->dfr.cb = free_deferred;
	a->soon.cb = spool_soon;
	a->io.cb = on_io;
	a->io.fd = -1;
	a->timer.fd = -1;
	a->max_queue = cfg->max_queue ? cfg->max_queue : DEFAULT_MAX_QUEUE;
	a->max_bytes = cfg->max_queue_bytes ? cfg->max_queue_bytes
					    : DEFAULT_MAX_QUEUE_BYTES;
	a->batch_max = cfg->batch_max ? cfg->batch_max : DEFAULT_BATCH_MAX;
	a->batch_gap_ms = cfg->batch_ms > 0 ? cfg->batch_ms : 0;
	a->backoff_ms = BACKOFF_MIN_MS;
	a->resend_backoff_ms = RESEND_MIN_MS;
	a->cap = a->max_queue < 1024 ? a->max_queue : 1024;
	a->ring = calloc(a->cap, sizeof(*a->ring));
	a->host = strdup(cfg->host);
	a->host_line = malloc(3 * hl + 1);
	a->checkpoint_fd = -1;
	a->checkpoint_cut_at = -1;
	a->checkpoint_events = cfg->checkpoint_events
				       ? cfg->checkpoint_events
				       : DEFAULT_CHECKPOINT_EVENTS;
	a->checkpoint_ms = cfg->checkpoint_ms > 0 ? cfg->checkpoint_ms
						  : DEFAULT_CHECKPOINT_MS;
	a->spool_after_ms = cfg->spool_after_ms > 0 ? cfg->spool_after_ms
						    : DEFAULT_SPOOL_AFTER_MS;
	a->spool_first = cfg->spool_first;
	a->spool_writing_max = cfg->spool_writing_max
				       ? cfg->spool_writing_max
				       : MW_AUDIT_SPOOL_WRITING_MAX;
	if (!a->ring || !a->host || !a->host_line) {
		rc = -ENOMEM;
		goto fail;
	}
	a->host_len = (size_t)(put_escaped(a->host_line, cfg->host, hl) -
			       a->host_line);

	if (!cfg->dsn || !*cfg->dsn) {
		const char *user = cfg->embedded_user && *cfg->embedded_user
					   ? cfg->embedded_user
					   : DEFAULT_EMBEDDED_USER;

		/* started and then failed (its database not made): it is
		 * ours to stop all the same */
		rc = mw_pg_embedded_start(cfg->state_dir, user, &started, err,
					  errlen);
		if (started)
			remember_started(cfg->state_dir);
		if (rc)
			goto fail;
	}
	rc = prepare_database(cfg, err, errlen);
	if (rc)
		goto fail;
	rc = mw_audit_conninfo_as(cfg, MW_AUDIT_WRITER, conninfo,
				  sizeof(conninfo));
	if (rc) {
		mw_set_err(err, errlen, "audit: bad connection settings: %s",
			   strerror(-rc));
		goto fail;
	}
	a->conninfo = strdup(conninfo);
	if (!a->conninfo) {
		rc = -ENOMEM;
		goto fail;
	}
	a->conn = connect_now(conninfo, " as " MW_SCHEMA_WRITER_ROLE, err,
			      errlen);
	if (!a->conn) {
		rc = -ECONNREFUSED;
		goto fail;
	}
	rc = take_writer_lock(a,
			      cfg->lock_wait_ms > 0 ? cfg->lock_wait_ms
						    : DEFAULT_LOCK_WAIT_MS,
			      err, errlen);
	if (!rc)
		rc = read_chain_head(a, a->conn, err, errlen);
	if (!rc)
		rc = open_checkpoints(a, cfg, err, errlen);
	if (!rc) {
		rc = file_vouched_seq(a, &vouched);
		if (rc)
			mw_set_err(err, errlen,
				   "audit: cannot read the checkpoint file %s "
				   "back: %s",
				   a->checkpoint_path, strerror(-rc));
	}
	if (!rc)
		rc = open_spool(a, cfg, vouched, err, errlen);
	if (!rc)
		rc = go_past_file(a, vouched, err, errlen);
	if (rc)
		goto fail;
	a->maint_due_ms = mw_now_ms() + MAINT_EVERY_MS;
	if (PQsetnonblocking(a->conn, 1)) {
		mw_set_err(err, errlen,
			   "audit: cannot make the connection "
			   "non-blocking: %s",
			   PQerrorMessage(a->conn));
		rc = -EIO;
		goto fail;
	}
	rc = start_timer(a);
	if (rc) {
		mw_set_err(err, errlen, "audit: timer: %s", strerror(-rc));
		goto fail;
	}
	rc = mw_spool_sync_new(&a->ssync, a->spool, a->loop, spool_synced, a);
	if (rc) {
		mw_set_err(err, errlen, "audit: spool thread: %s",
			   strerror(-rc));
		goto fail;
	}
	rc = register_io(a, EPOLLIN);
	if (rc) {
		mw_set_err(err, errlen, "audit: cannot watch the socket: %s",
			   strerror(-rc));
		goto fail;
	}
	a->state = ST_UP;
	a->phase = PH_IDLE;
	a->st.connected = true;
	/* what the spool held ships once the loop runs, not at the first
	 * event submitted */
	if (a->count)
		arm_timer(a, mw_now_ms());
	restore_checkpoints(a);
	log_info("audit: writing to the database (host %s, next seq %llu)",
		 a->host, (unsigned long long)(a->head_seq + a->count));
	*out = a;
	return 0;
fail:
	release(a);
	/* as in mw_audit_close: a spool_soon still to run frees it */
	if (!a->soon_queued)
		free(a);
	/* No one else would stop it: the caller has no writer to close,
	 * and a cluster left running outlives the daemon, its next start
	 * then "reusing" it. One that ran before stays up. */
	if (started)
		mw_audit_stop_embedded(cfg);
	return rc;
}

/* At close, the loop gone: every event not durable yet to the spool, an
 * append (at most SPOOL_APPEND_BYTES) after the other. */
static void spool_all_inline(struct mw_audit *a)
{
	uint64_t before;

	do {
		before = durable_seq(a);
		spool_pending(a);
	} while (a->count && !a->spool_failing && durable_seq(a) > before &&
		 durable_seq(a) < a->head_seq + a->count - 1);
}

void mw_audit_close(struct mw_audit *a)
{
	int64_t now, deadline;

	if (!a)
		return;
	now = mw_now_ms();
	deadline = now + CLOSE_WAIT_MS;
	/* from here on the loop does not run: the spool is appended inline */
	mw_spool_sync_wait(a->ssync);
	a->spool_inline = true;
	a->closing = true;
	a->resend_at_ms = 0;
	emit_checkpoint(a);
	while (a->count && !a->halted && now < deadline) {
		int wait = (int)(deadline - now < 50 ? deadline - now : 50);

		if (a->state == ST_UP) {
			a->resend_at_ms = 0;
			kick(a);
		} else {
			service(a, now);
		}
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
	if (a->count) {
		spool_all_inline(a);
		if (a->halted)
			log_err("audit: %zu events are left %s, not written: "
				"the database's chain is not this writer's",
				a->count,
				a->spooled_seq >= a->head_seq + a->count - 1
					? "in the spool"
					: "unrecorded");
		else if (a->spooled_seq >= a->head_seq + a->count - 1)
			log_warn("audit: %zu events wait in the spool for the "
				 "database; they are shipped at the next start",
				 a->count);
		else
			log_err("audit: %zu events could not be written "
				"before close",
				a->count);
	} else if (a->spool) {
		int rc;

		spool_drained(a);
		rc = mw_spool_clear(a->spool);

		if (rc)
			log_warn("audit: cannot empty the spool %s at close "
				 "(its lines are recorded; the next start "
				 "skips them): %s",
				 mw_spool_path(a->spool), strerror(-rc));
	}
	release(a);
	/* a spool_soon still to run frees it, after its batch */
	if (!a->soon_queued)
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

/* Chains and queues one event: its seq, or 0 when it cannot. */
static uint64_t enqueue(struct mw_audit *a, const struct mw_audit_event *ev)
{
	char hash[MW_CHAIN_HASH_HEX];
	uint64_t seq;
	struct rec *r;

	if (a->count >= a->max_queue) {
		queue_full(a, QB_EVENTS, "audit.max_queue is reached");
		return 0;
	}
	if (a->count == a->cap && grow(a)) {
		queue_full(a, QB_EVENTS, "out of memory");
		return 0;
	}
	queue_room(a, QB_EVENTS);
	seq = a->head_seq + a->count;
	r = rec_at(a, a->count);
	if (build_line(a, ev, seq, ev->ts_us ? ev->ts_us : mw_now_us(), r,
		       hash))
		return 0;
	memcpy(a->last_hash, hash, sizeof(hash));
	r->queued_ms = mw_now_ms();
	a->count++;
	a->st.submitted++;
	/* the first not durable: the spool takes it if the database does
	 * not in time (at once while it is away: after this loop turn, so
	 * that one append and one sync take the turn's events) */
	if (a->spool && seq == durable_seq(a) + 1)
		arm_timer(a, r->queued_ms + spool_wait_ms(a, seq));
	return seq;
}

/*
 * Signs the chain as it stands (the last event queued) and queues the
 * signature as an event of its own, kind checkpoint, whose line for the
 * outside file is written once it is recorded (pop). A full queue leaves
 * it for the next event.
 */
static void emit_checkpoint(struct mw_audit *a)
{
	uint64_t seq = a->head_seq + a->count - 1;
	struct mw_audit_event ev = { .kind = MW_EV_CHECKPOINT };
	char msg[1024], sig[MW_SIGN_B64_LEN];
	json_t *params = NULL;
	char *line = NULL;
	int n;

	if (!a->signer || !a->since_checkpoint || !seq)
		return;
	n = mw_chain_checkpoint_message(msg, sizeof(msg), a->host, seq,
					a->last_hash);
	if (n < 0 || mw_signer_sign(a->signer, msg, (size_t)n, sig)) {
		log_err("audit: cannot sign a checkpoint at seq %llu",
			(unsigned long long)seq);
		goto out;
	}
	ev.ts_us = mw_now_us();
	params = json_pack("{sI,ss,ss,ss}", "seq", (json_int_t)seq, "hash",
			   a->last_hash, "key_id", mw_signer_key_id(a->signer),
			   "signature", sig);
	line = checkpoint_file_line(a->host, seq, a->last_hash,
				    mw_signer_key_id(a->signer), sig, seq + 1,
				    ev.ts_us);
	if (!params || !line)
		goto out;
	ev.params = params;
	if (!enqueue(a, &ev))
		goto out;
	rec_at(a, a->count - 1)->checkpoint = line;
	line = NULL;
	a->since_checkpoint = 0;
	a->checkpoint_due_ms = 0;
	a->st.checkpoints++;
out:
	free(line);
	json_decref(params);
}

uint64_t mw_audit_submit(struct mw_audit *a, const struct mw_audit_event *ev)
{
	uint64_t seq;

	if (!a || !ev || a->state == ST_CLOSED)
		return 0;
	/* AU-5: nowhere to make it durable */
	if (a->spool_failing && !writing(a))
		return 0;
	seq = enqueue(a, ev);
	if (!seq)
		return 0;
	if (++a->since_checkpoint >= a->checkpoint_events) {
		emit_checkpoint(a);
	} else if (a->since_checkpoint == 1) {
		a->checkpoint_due_ms = mw_now_ms() + a->checkpoint_ms;
		arm_timer(a, a->checkpoint_due_ms);
	}
	kick(a);
	return seq;
}

void mw_audit_want_durable(struct mw_audit *a, uint64_t seq)
{
	int64_t wait;

	if (!a || seq <= a->want_seq)
		return;
	a->want_seq = seq;
	if (!a->spool || seq <= durable_seq(a))
		return;
	wait = spool_wait_ms(a, seq);
	if (wait)
		arm_timer(a, mw_now_ms() + wait);
	else
		spool_after_batch(a);
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
	st->queue_bytes = a->chunk_bytes;
	st->connected = writing(a);
	st->durable_seq = durable_seq(a);
	st->spool_failing = a->spool_failing;
	st->halted = a->halted;
	st->lock_holder = a->lock_holder_said;
	st->spool_bytes = a->spool ? a->spool_bytes : 0;
}

uint64_t mw_audit_durable_seq(const struct mw_audit *a)
{
	return a ? durable_seq(a) : 0;
}

void mw_audit_on_durable(struct mw_audit *a,
			 void (*cb)(void *arg, uint64_t durable_seq), void *arg)
{
	if (!a)
		return;
	a->durable_cb = cb;
	a->durable_arg = arg;
	a->notified_seq = durable_seq(a);
}
