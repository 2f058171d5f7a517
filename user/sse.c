// SPDX-License-Identifier: BSD-2-Clause
#include "sse.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char utf8_bom[3] = { '\xEF', '\xBB', '\xBF' };

static int sse_fail(struct mw_sse *s, int err, const char *reason)
{
	s->err = err;
	s->reason = reason;
	return err;
}

/* Grows geometrically, but never past limit, so a hostile stream costs at
 * most the bound it was given. */
static int buf_reserve(char **buf, size_t *cap, size_t need, size_t limit)
{
	size_t new_cap;
	char *p;

	if (need <= *cap)
		return 0;
	if (need > limit)
		return -EMSGSIZE;
	new_cap = *cap ? *cap : 256;
	while (new_cap < need)
		new_cap = new_cap > limit / 2 ? limit : new_cap * 2;
	p = realloc(*buf, new_cap);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = new_cap;
	return 0;
}

static int raw_append(struct mw_sse *s, const char *p, size_t n)
{
	int err;

	if (!n)
		return 0;
	if (n > s->max_event_bytes - s->raw_len)
		return sse_fail(s, -EMSGSIZE, "event exceeds max_event_bytes");
	err = buf_reserve(&s->raw, &s->raw_cap, s->raw_len + n,
			  s->max_event_bytes);
	if (err)
		return sse_fail(s, err, "out of memory");
	memcpy(s->raw + s->raw_len, p, n);
	s->raw_len += n;
	return 0;
}

/* Data and event type both come from lines of this block, so together they
 * never need more than the block's raw size plus their terminators. */
static size_t data_limit(const struct mw_sse *s)
{
	return s->max_event_bytes + 2;
}

static bool field_is(const char *name, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(name, want, len) == 0;
}

/* The spec accepts only ASCII digits; a value we cannot represent is ignored
 * like any other invalid one. */
static bool parse_retry(const char *v, size_t len, long *out)
{
	long n = 0;
	size_t i;

	if (!len)
		return false;
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		if (n > (LONG_MAX - (v[i] - '0')) / 10)
			return false;
		n = n * 10 + (v[i] - '0');
	}
	*out = n;
	return true;
}

static int set_last_id(struct mw_sse *s, const char *v, size_t len)
{
	char *id = NULL;

	/* An empty id resets the stream's last event ID. */
	if (len) {
		id = malloc(len + 1);
		if (!id)
			return sse_fail(s, -ENOMEM, "out of memory");
		memcpy(id, v, len);
		id[len] = '\0';
	}
	free(s->last_id);
	s->last_id = id;
	s->id_gen++;
	return 0;
}

static int process_field(struct mw_sse *s, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	const char *value;
	size_t name_len, value_len;
	long retry;
	int err;

	if (colon == line)
		return 0; /* comment */
	name_len = colon ? (size_t)(colon - line) : len;
	value = colon ? colon + 1 : line + len;
	value_len = len - (size_t)(value - line);
	if (value_len && value[0] == ' ') {
		value++;
		value_len--;
	}

	if (field_is(line, name_len, "event")) {
		if (memchr(value, '\0', value_len))
			return sse_fail(s, -EBADMSG, "NUL byte in event type");
		s->event_off = (size_t)(value - s->raw);
		s->event_len = value_len;
	} else if (field_is(line, name_len, "data")) {
		err = buf_reserve(&s->data, &s->data_cap,
				  s->data_len + value_len + 1, data_limit(s));
		if (err)
			return sse_fail(s, err, "cannot grow data buffer");
		memcpy(s->data + s->data_len, value, value_len);
		s->data_len += value_len;
		s->data[s->data_len++] = '\n';
		s->has_data = true;
	} else if (field_is(line, name_len, "id")) {
		/* The spec ignores ids with NUL, and so do clients. */
		if (!memchr(value, '\0', value_len)) {
			s->id_field = true;
			return set_last_id(s, value, value_len);
		}
	} else if (field_is(line, name_len, "retry")) {
		if (parse_retry(value, value_len, &retry))
			s->retry = retry;
	} else {
		s->unknown_field = true;
	}
	return 0;
}

/* What a stream keeps between events: a large one's buffers go with it,
 * so that an idle stream holds little. */
#define MW_SSE_KEEP_BYTES (64u << 10)

static void drop_if_large(char **buf, size_t *cap)
{
	if (*cap <= MW_SSE_KEEP_BYTES)
		return;
	free(*buf);
	*buf = NULL;
	*cap = 0;
}

static void reset_block(struct mw_sse *s)
{
	drop_if_large(&s->raw, &s->raw_cap);
	drop_if_large(&s->data, &s->data_cap);
	s->raw_len = 0;
	s->line_start = 0;
	s->line_end = 0;
	s->data_len = 0;
	s->has_data = false;
	s->unknown_field = false;
	s->id_field = false;
	s->event_off = 0;
	s->event_len = 0;
	s->retry = -1;
}

static int report_block(struct mw_sse *s, enum mw_sse_kind kind,
			mw_sse_event_cb on_event, void *arg)
{
	struct mw_sse_event ev = {
		.kind = kind,
		.retry = -1,
		.raw = s->raw,
		.raw_len = s->raw_len,
		.first = !s->reported,
		.unknown_field = s->unknown_field,
		.id_field = s->id_field,
		.id_gen = s->id_gen,
	};
	size_t event_at = 0;
	int err;

	if (kind != MW_SSE_TRAILER) {
		ev.id = s->last_id;
		ev.retry = s->retry;
	}
	if (kind == MW_SSE_MESSAGE) {
		/* The joined data ends in the LF of its last line; the spec
		 * drops it, and its byte holds the terminator instead. */
		s->data[s->data_len - 1] = '\0';
		ev.data = s->data;
		ev.data_len = s->data_len - 1;
		event_at = s->data_len;
	}
	if (kind != MW_SSE_TRAILER && s->event_len) {
		err = buf_reserve(&s->data, &s->data_cap,
				  event_at + s->event_len + 1, data_limit(s));
		if (err)
			return sse_fail(s, err, "cannot copy event type");
		memcpy(s->data + event_at, s->raw + s->event_off, s->event_len);
		s->data[event_at + s->event_len] = '\0';
		ev.event = s->data + event_at;
		if (kind == MW_SSE_MESSAGE)
			ev.data = s->data; /* the buffer may have moved */
	}

	s->reported = true;
	err = on_event(arg, &ev);
	if (err < 0)
		return sse_fail(s, err, "event callback failed");
	reset_block(s);
	return 0;
}

/* The current line's terminator is complete: interpret the line, and on a
 * blank line report the block it ends. */
static int end_line(struct mw_sse *s, mw_sse_event_cb on_event, void *arg)
{
	const char *line = s->raw + s->line_start;
	size_t len = s->line_end - s->line_start;
	enum mw_sse_kind kind;
	int err;

	if (s->first_line) {
		s->first_line = false;
		if (len >= sizeof(utf8_bom) &&
		    memcmp(line, utf8_bom, sizeof(utf8_bom)) == 0) {
			line += sizeof(utf8_bom);
			len -= sizeof(utf8_bom);
		}
	}
	if (!len) {
		kind = s->has_data ? MW_SSE_MESSAGE : MW_SSE_SILENT;
		return report_block(s, kind, on_event, arg);
	}
	err = process_field(s, line, len);
	if (err)
		return err;
	s->line_start = s->raw_len;
	return 0;
}

static size_t line_span(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] == '\r' || p[i] == '\n')
			break;
	}
	return i;
}

int mw_sse_init(struct mw_sse *s, size_t max_event_bytes)
{
	memset(s, 0, sizeof(*s));
	if (!max_event_bytes || max_event_bytes > MW_SSE_MAX_EVENT_LIMIT)
		return -EINVAL;
	s->max_event_bytes = max_event_bytes;
	s->retry = -1;
	s->first_line = true;
	return 0;
}

void mw_sse_free(struct mw_sse *s)
{
	free(s->raw);
	free(s->data);
	free(s->last_id);
	memset(s, 0, sizeof(*s));
}

int mw_sse_feed(struct mw_sse *s, const char *buf, size_t len,
		mw_sse_event_cb on_event, void *arg)
{
	size_t i = 0, n;
	int err;

	if (s->err)
		return s->err;
	if (!s->max_event_bytes)
		return sse_fail(s, -EINVAL, "parser not initialised");
	if (s->finished)
		return sse_fail(s, -EINVAL, "stream already finished");
	if (!on_event || (!buf && len))
		return sse_fail(s, -EINVAL, "invalid arguments");

	while (i < len) {
		if (s->cr_seen) {
			s->cr_seen = false;
			if (buf[i] == '\n') {
				err = raw_append(s, buf + i, 1);
				if (err)
					return err;
				i++;
			}
			err = end_line(s, on_event, arg);
			if (err)
				return err;
			continue;
		}
		n = line_span(buf + i, len - i);
		err = raw_append(s, buf + i, n);
		if (err)
			return err;
		i += n;
		if (i == len)
			break;
		s->line_end = s->raw_len;
		err = raw_append(s, buf + i, 1);
		if (err)
			return err;
		if (buf[i++] == '\r') {
			s->cr_seen = true;
			continue;
		}
		err = end_line(s, on_event, arg);
		if (err)
			return err;
	}
	return 0;
}

int mw_sse_finish(struct mw_sse *s, mw_sse_event_cb on_event, void *arg)
{
	int err;

	if (s->err)
		return s->err;
	if (!s->max_event_bytes)
		return sse_fail(s, -EINVAL, "parser not initialised");
	if (s->finished)
		return sse_fail(s, -EINVAL, "stream already finished");
	if (!on_event)
		return sse_fail(s, -EINVAL, "invalid arguments");
	s->finished = true;

	if (s->cr_seen) {
		s->cr_seen = false;
		err = end_line(s, on_event, arg);
		if (err)
			return err;
	}
	if (s->raw_len)
		return report_block(s, MW_SSE_TRAILER, on_event, arg);
	return 0;
}

size_t mw_sse_pending(const struct mw_sse *s)
{
	return s->raw_len;
}

const char *mw_sse_pending_raw(const struct mw_sse *s, size_t *len)
{
	*len = s->raw_len;
	return s->raw;
}

const char *mw_sse_error(const struct mw_sse *s)
{
	return s->reason ? s->reason : "";
}
