/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Incremental text/event-stream parser (WHATWG HTML, "server-sent events").
 *
 * The proxy must forward what it judged, byte for byte and in order, so the
 * parser cuts the stream into blocks rather than only into dispatched events:
 * every byte fed ends up in exactly one block reported to the callback, or is
 * still pending (mw_sse_pending_raw) until more bytes or mw_sse_finish().
 * Concatenating ev->raw of all callbacks, in order, gives back the stream.
 *
 * A block is everything up to and including a blank line. Its kind says what
 * a conforming client does with it:
 *   MW_SSE_MESSAGE  a dispatched event: at least one "data" field;
 *   MW_SSE_SILENT   nothing dispatched: comments only, fields without data,
 *                   or a lone blank line (the client may still update its
 *                   last event ID or reconnection time from it);
 *   MW_SSE_TRAILER  bytes after the last blank line at end of stream, which a
 *                   client discards unparsed; reported by mw_sse_finish().
 *
 * A block ending in a bare CR is held until the next byte shows whether an LF
 * follows, so that ev->raw always carries the whole CRLF whatever the slicing.
 * With CR-only line endings each event therefore waits for the next byte (or
 * mw_sse_finish()); LF and CRLF streams are dispatched as soon as complete.
 *
 * Values are the bytes on the wire: a client decodes them as UTF-8 with
 * replacement, so a consumer that interprets data must reject invalid UTF-8
 * (jansson does) rather than guess what the client saw.
 */
#ifndef MW_SSE_H
#define MW_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Upper bound accepted for max_event_bytes by mw_sse_init(). */
#define MW_SSE_MAX_EVENT_LIMIT ((size_t)1 << 30)

enum mw_sse_kind {
	MW_SSE_MESSAGE,
	MW_SSE_SILENT,
	MW_SSE_TRAILER,
};

/* Valid only during the callback. */
struct mw_sse_event {
	enum mw_sse_kind kind;
	/* Event type; NULL when empty or absent, which clients treat as
	 * "message". MCP clients act only on "message" events, but other
	 * types still reach EventSource listeners. */
	const char *event;
	/* Data lines joined with \n, NUL-terminated; NULL unless
	 * MW_SSE_MESSAGE. May hold NUL bytes: trust data_len. */
	const char *data;
	size_t data_len;
	/* The stream's last event ID after this block (ids persist across
	 * events, as in the spec); NULL when empty or never set. */
	const char *id;
	/* Last valid retry field in this block, in ms; -1 when none. */
	long retry;
	/* The exact bytes of this block, terminating blank line included. */
	const char *raw;
	size_t raw_len;
	/* The stream's first block: a byte-order mark its raw bytes start
	 * with was taken off before it was read (a client takes it off only
	 * there, at the first bytes it gets). */
	bool first;
	/* A line named other than data, event, id or retry: ignored by the
	 * standard, but a client that takes bytes off a name's start (a
	 * byte-order mark mis-decoded: "\xC3\xAF\xC2\xBB\xC2\xBF") reads
	 * another field there. */
	bool unknown_field;
	/* The block set the id (to id, or reset it when id is NULL). */
	bool id_field;
	/* How many id fields the stream had up to this block: the id a
	 * client holds is this one's when it got the block of that count. */
	uint64_t id_gen;
};

/* Return 0 to continue, a negative errno to stop parsing with that error. */
typedef int (*mw_sse_event_cb)(void *arg, const struct mw_sse_event *ev);

struct mw_sse {
	size_t max_event_bytes;
	char *raw; /* bytes of the current, incomplete block */
	size_t raw_len, raw_cap;
	size_t line_start; /* offset in raw of the current line */
	size_t line_end; /* where the current line's terminator starts */
	char *data; /* data buffer of the current block, then its event type */
	size_t data_len, data_cap;
	size_t event_off, event_len; /* event type value, as offsets in raw */
	char *last_id;
	uint64_t id_gen; /* id fields so far */
	long retry;
	bool has_data;
	bool unknown_field; /* in the current block */
	bool id_field; /* in the current block */
	bool cr_seen; /* the current line ended in CR: an LF may follow */
	bool first_line; /* still on the stream's first line (BOM) */
	bool reported; /* a block was reported */
	bool finished;
	int err;
	const char *reason;
};

/* Memory held for the event being assembled (until it is whole). */
static inline size_t mw_sse_held(const struct mw_sse *s)
{
	return s->raw_cap + s->data_cap;
}

/* max_event_bytes bounds one block's raw bytes (1..MW_SSE_MAX_EVENT_LIMIT).
 * Allocates nothing until fed. Returns 0 or -EINVAL. */
int mw_sse_init(struct mw_sse *s, size_t max_event_bytes);
void mw_sse_free(struct mw_sse *s);

/*
 * Feed the next slice of the body. Returns 0, or a negative errno that sticks
 * (every later call returns it too): -EMSGSIZE when a block outgrows
 * max_event_bytes, -EBADMSG for a NUL in an event type (its C string would
 * differ from what the client sees), -ENOMEM, -EINVAL after mw_sse_finish(),
 * or the callback's own negative return.
 */
int mw_sse_feed(struct mw_sse *s, const char *buf, size_t len,
		mw_sse_event_cb on_event, void *arg);

/*
 * End of stream: dispatches a block held on a trailing CR, then reports any
 * remaining bytes as one MW_SSE_TRAILER block so they can still be forwarded.
 * Further feeds fail with -EINVAL. Same return values as mw_sse_feed().
 */
int mw_sse_finish(struct mw_sse *s, mw_sse_event_cb on_event, void *arg);

/* Bytes held for a block not yet reported, and those bytes. */
size_t mw_sse_pending(const struct mw_sse *s);
const char *mw_sse_pending_raw(const struct mw_sse *s, size_t *len);

/* Why the last failing call failed; "" when nothing failed. */
const char *mw_sse_error(const struct mw_sse *s);

#endif
