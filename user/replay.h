/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * `mcpwarden replay`: one MCP session from the audit trail as a timeline.
 *
 * Two halves. The formatter (mw_replay_new .. mw_replay_format) turns rows
 * (struct mw_replay_row: one JSON-RPC message or HTTP error, with the
 * identity of its connection) into lines, and needs no database. The
 * reader (mw_replay_run) queries the auditor's views for a session and
 * feeds the formatter, once or, with follow, until told to stop.
 *
 * A text line (fields separated by two spaces; WHO is the same on every
 * line of a connection, so the arrows line up):
 *
 *   TIME  +OFFSET  WHO  ARROW LABEL  SUMMARY  DECISION  [DETAIL]
 *   TIME  +OFFSET  WHO  ARROW LABEL  LATENCY  SUMMARY  [DETAIL]
 *   TIME  +OFFSET  WHO  ARROW HTTP STATUS METHOD PATH  DETAIL  DECISION
 *
 * (a request or notification, a response, an HTTP error); empty fields are
 * left out with their separator.
 *
 *   TIME     UTC, milliseconds: 2026-05-04T14:41:37.123Z
 *   OFFSET   seconds since the session's first event: +1.250s
 *   WHO      user(uid) comm[pid] cgroup, "?" for what is not known
 *   ARROW    → client to server, ← server to client, ! neither (an
 *            upstream failure)
 *   LABEL    the method and what it acts on (tool, prompt, resource URI);
 *            a response names its request's (paired on request_seq among
 *            the rows formatted so far), else "response to #SEQ"
 *   SUMMARY  requests: the arguments as compact JSON (initialize: the
 *            client and protocol); responses: tools/call's first text
 *            content, "error CODE: message", "12 tools", ...
 *   DECISION "allow by RULE", "deny by RULE", ...; refusals (deny,
 *            approval_required) in red and would-be refusals in yellow
 *            when colour is on
 *   LATENCY  "12.3 ms"
 *   DETAIL   what the daemon noted, e.g. "answered by mcpwarden: refused
 *            by policy" on the answer it made up for a refused request
 *
 * Everything that comes from the trail is attacker-influenced (tool
 * names, arguments, results, comm, even the session id): it is escaped so
 * that a line is one line of printable text and cannot drive the terminal
 * (mw_replay_escape), and summaries are cut to a width.
 *
 * JSON (opts.json): one object per line, every field always present (null
 * when it does not apply), arguments/params/result/error as the JSON the
 * trail holds (untruncated), ASCII only (\u escapes):
 *   host seq ts ts_us offset_ms kind direction session_id server conn_id
 *   rpc_id method tool request_seq request_method request_tool arguments
 *   params result error summary decision rule refused latency_ms uid
 *   user_name pid comm cgroup http_method http_path http_status detail
 * where kind is request, notification, response or http_error and summary
 * is the text line's (cut to the width, escaped).
 */
#ifndef MW_REPLAY_H
#define MW_REPLAY_H

#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"

#define MW_REPLAY_DEFAULT_WIDTH 60
#define MW_REPLAY_MAX_WIDTH 100000
#define MW_REPLAY_POLL_MS 500

/*
 * One event as the views give it. Strings may be NULL (SQL NULL);
 * params, result and error are JSON text. Integers: negative for NULL;
 * latency_ms: NaN for NULL; http_status: 0 for NULL.
 */
struct mw_replay_row {
	const char *host;
	int64_t seq;
	int64_t ts_us; /* microseconds since the Unix epoch */
	const char *kind; /* request, notification, response, http_error */
	const char *direction; /* c2s, s2c */
	const char *session_id;
	const char *server;
	int64_t conn_id;
	const char *rpc_id;
	const char *method;
	const char *tool;
	const char *params;
	const char *result;
	const char *error;
	int64_t request_seq;
	double latency_ms;
	const char *decision;
	const char *rule;
	int64_t uid;
	int64_t pid;
	const char *user_name;
	const char *comm;
	const char *cgroup;
	const char *http_method;
	const char *http_path;
	int http_status;
	const char *detail;
};

/* A row with every field NULL, to fill in. */
void mw_replay_row_init(struct mw_replay_row *row);

struct mw_replay_opts {
	unsigned width; /* summaries, in code points; 0: not cut */
	bool json; /* JSON Lines instead of text */
	bool color; /* ANSI colour for refusals (text only) */
};

struct mw_replay;

/* 0 or -ENOMEM (-EINVAL for a width over MW_REPLAY_MAX_WIDTH). */
int mw_replay_new(struct mw_replay **r, const struct mw_replay_opts *opts);
void mw_replay_free(struct mw_replay *r);

/* Offsets are from ts_us; the first row formatted sets it if not given. */
void mw_replay_set_origin(struct mw_replay *r, int64_t ts_us);

/*
 * Appends row's line (text or JSON, with its newline) to out and, for a
 * request, remembers its label for the response. 0 or -ENOMEM.
 */
int mw_replay_format(struct mw_replay *r, const struct mw_replay_row *row,
		     struct mw_buf *out);

enum mw_replay_esc {
	/* free text: \\ \n \r \t, \xHH for other controls and bytes that
	 * are not UTF-8, \uXXXX for C1 controls and invisible/bidi code
	 * points */
	MW_REPLAY_ESC_TEXT,
	/* compact JSON text: as JSON would write them (\u00XX), backslashes
	 * left alone (JSON's own); \xHH for bytes that are not UTF-8 */
	MW_REPLAY_ESC_JSON,
};

/*
 * Appends s[0..len) to out escaped as mode says, cut to at most width code
 * points (an escape counts its characters) with "…" when cut, never
 * inside a character or an escape. more: s is itself a prefix of
 * something longer (the ellipsis is due). width 0: not cut. Returns 1 when
 * cut, 0 when not, -ENOMEM.
 */
int mw_replay_escape(struct mw_buf *out, const char *s, size_t len,
		     unsigned width, bool more, enum mw_replay_esc mode);

/* ---- the reader ---- */

struct mw_replay_query {
	const char *session; /* a session id, or NULL for conn_id */
	long long conn_id; /* with session NULL: a connection's events
			    * recorded without a session */
	const char *host; /* NULL: every host */
	bool follow; /* then poll every MW_REPLAY_POLL_MS until *stop */
};

/*
 * What to say when mw_replay_run finds nothing: "no session 'ID' in the
 * audit trail" (escaped, cut), with the host when one was given.
 */
void mw_replay_not_found(const struct mw_replay_query *q, char *out,
			 size_t len);

/*
 * Writes the query's events to out (flushed after each batch), in the
 * order of (host, seq). With follow, polls each host the session was seen
 * on for events after the last seq known there, until *stop is set (a
 * query running then is cancelled). Returns 0 (also when stopped), -ENOENT
 * when the trail has no such session (or connection), or another -errno
 * with err set.
 */
int mw_replay_run(PGconn *conn, struct mw_replay *r,
		  const struct mw_replay_query *q, volatile sig_atomic_t *stop,
		  FILE *out, char *err, size_t errlen);

#endif
