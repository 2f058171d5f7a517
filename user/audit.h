/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The audit trail: events queued by the proxy, written to PostgreSQL in
 * batches (one COPY each) by an asynchronous writer driven from the event
 * loop. The request path never waits for a database round trip.
 */
#ifndef MW_AUDIT_H
#define MW_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"
#include "loop.h"

enum mw_event_kind {
	MW_EV_CONN_OPEN, /* a steered connection accepted: identity */
	MW_EV_CONN_CLOSE,
	MW_EV_REQUEST, /* JSON-RPC request (has id) client->server or back */
	MW_EV_NOTIFICATION, /* JSON-RPC notification (no id) */
	MW_EV_RESPONSE, /* JSON-RPC result or error */
	MW_EV_HTTP_ERROR, /* malformed HTTP/JSON, refused, upstream failure */
	MW_EV_TOOL_PINNED, /* a tool definition seen for the first time */
	MW_EV_TOOL_CHANGED, /* differs from the accepted definition */
	MW_EV_TOOLS_ACCEPTED, /* an operator accepted a server's tools */
	MW_EV_CHECKPOINT, /* signed statement of the chain so far (audit.c) */
	MW_EV_DAEMON_START, /* detail: version; params: what it runs with */
	MW_EV_POLICY_LOADED, /* at start and reload: the policy in force */
	/* a control command that changes enforcement (enforce, release,
	 * reload, accept-tools): method, decision, detail, the caller */
	MW_EV_CONTROL,
};

struct mw_audit_event {
	enum mw_event_kind kind;
	int64_t ts_us; /* CLOCK_REALTIME microseconds */
	uint64_t conn_id; /* daemon-unique connection id (per host) */
	const char *server; /* configured server name */
	const char *session_id; /* Mcp-Session-Id or legacy sessionId; NULL */
	const char *direction; /* "c2s" (client to server) or "s2c" */
	/* JSON-RPC */
	const char *rpc_id; /* id as canonical JSON text; NULL for none */
	const char *method;
	const char *tool; /* params.name for tools/call */
	json_t *params; /* borrowed; serialised at submit */
	json_t *result;
	json_t *error;
	json_t *masked; /* {"detector": count} masking replaced; NULL none */
	uint64_t request_seq; /* RESPONSE: seq of the request event; 0 none */
	int64_t latency_us; /* RESPONSE: since the request was seen */
	const char *decision; /* "allow", "deny", ... */
	const char *rule;
	const char *policy_sha256; /* hex SHA-256 of the policy in force */
	/* HTTP */
	const char *http_method;
	const char *http_path;
	int http_status;
	const char *detail; /* free text: error reason */
	/* CONN_OPEN: the client; CONTROL: the caller */
	const struct mw_identity *identity;
	const char *client_addr;
	const char *server_addr;
};

struct mw_audit_config {
	const char *dsn; /* "" or NULL: embedded cluster under state_dir */
	/* How the writer and auditors log in; "" or NULL: dsn (or the
	 * embedded cluster) as the role mcpwarden_writer / _auditor. */
	const char *writer_dsn;
	const char *auditor_dsn;
	const char *state_dir;
	const char *host; /* host name recorded in every row */
	const char *embedded_user; /* OS user owning the embedded cluster */
	size_t max_queue; /* events held in memory before refusing */
	size_t max_queue_bytes; /* and their lines' bytes (0: 512 MiB) */
	int batch_ms; /* least gap between two COPYs that are not full */
	size_t batch_max; /* events per COPY at most */
	size_t checkpoint_events; /* sign after this many events (0: 1000) */
	int checkpoint_ms; /* or this long after the first unsigned (0: 10 s) */
	const char *checkpoint_file; /* "" or NULL: state_dir's */
	const char *spool_dir; /* "" or NULL: state_dir/spool */
	int spool_after_ms; /* spool what PostgreSQL has not taken by then */
	/* Every event to the spool at once (one append and one fdatasync per
	 * loop turn), PostgreSQL taking batches behind it: what makes a
	 * request durable before forwarding cheap. */
	bool spool_first;
	/* How long a start waits for the host's writer lock (0: 120 s, the
	 * time the server takes to end the session of a dead machine). */
	int lock_wait_ms;
	/* MW_AUDIT_SPOOL_WRITING_MAX; 0 for it (tests lower it, no setting
	 * in the configuration file) */
	uint64_t spool_writing_max;
};

/* The spool's size above which spool_first waits for the database. */
#define MW_AUDIT_SPOOL_FIRST_MAX (64u << 20)
/*
 * The spool's size above which it takes nothing while the database takes
 * events: a database slower than spool_after_ms under a sustained load
 * would otherwise never catch up with it, and its lines are dropped only
 * then. Requests wait for the commit (or durable_timeout_ms).
 */
#define MW_AUDIT_SPOOL_WRITING_MAX (256u << 20)

/* The checkpoint file outside the database, under state_dir by default. */
#define MW_AUDIT_CHECKPOINT_FILE "audit-checkpoints.jsonl"

struct mw_audit;

/*
 * Connects (starting the embedded cluster first when there is no DSN),
 * creates or migrates the schema, learns the last sequence number of this
 * host, and registers its socket and a timer (a timerfd, so that
 * mw_audit_close can unregister it) with the loop.
 */
int mw_audit_open(struct mw_audit **out, const struct mw_audit_config *cfg,
		  struct mw_loop *loop, char *err, size_t errlen);
/*
 * Flushes what is queued (bounded wait), then disconnects. May be called
 * from a loop callback; the loop must outlive the call (the memory goes
 * back through mw_loop_defer, at the latest in mw_loop_free).
 */
void mw_audit_close(struct mw_audit *a);
/* Stops the embedded cluster if this process started it. */
void mw_audit_stop_embedded(const struct mw_audit_config *cfg);

/*
 * The next connection id of this host (> 0): numbering continues across
 * restarts from what the database and the spool hold.
 */
uint64_t mw_audit_next_conn_id(struct mw_audit *a);

/*
 * Queues one event and returns its sequence number (> 0), or 0 when the
 * queue is full, or the event would make a line longer than the spool and
 * `audit verify` take (logged; later events are not affected): the caller
 * must then refuse what it was about to pass.
 */
uint64_t mw_audit_submit(struct mw_audit *a, const struct mw_audit_event *ev);

struct mw_audit_stats {
	uint64_t submitted, written, failed_batches, queued, checkpoints;
	uint64_t spooled; /* events made durable in the spool */
	uint64_t spool_bytes; /* in the spool file now */
	uint64_t queue_bytes; /* memory the queued lines take */
	uint64_t spool_failures; /* appends that failed (disk full, ...) */
	/* events the database acknowledged and was later found without
	 * (a restore, a failover to a lagging replica): alerted, not shipped
	 * again */
	uint64_t missing;
	uint64_t durable_seq;
	bool connected;
	bool spool_failing; /* the last append failed: not durable */
	/* the database's chain is not this writer's (another writer with
	 * this host name?): nothing more is written to it */
	bool halted;
	/* the PostgreSQL pid of the session found holding this host's
	 * writer lock at the last attempt to take it, 0 once it is taken */
	long lock_holder;
};

/*
 * Durability. An event is durable once committed in PostgreSQL or written
 * and fdatasync'd in the local spool. The spool takes every event not yet
 * committed as soon as the database connection is down, and those that
 * wait longer than spool_after_ms while it is up (with spool_first: those
 * a caller waits for, mw_audit_want_durable, and all queued before them,
 * after the loop turn, while the spool is under MW_AUDIT_SPOOL_FIRST_MAX
 * bytes); they are shipped from memory (or,
 * after a restart, from the spool) when the database takes them, and the
 * spool's lines are dropped once all it holds is committed (their space
 * is reused in place, spool.h). Above that size the
 * spool waits for the database to catch up (events then wait for their
 * commit), so that it stays bounded under a sustained load.
 *
 * mw_audit_durable_seq: every event up to it is durable.
 * mw_audit_on_durable: cb runs from the loop (never from inside another
 * audit call) each time durable_seq moves on.
 */
uint64_t mw_audit_durable_seq(const struct mw_audit *a);
/*
 * A caller waits for every event up to seq to be durable (a request held
 * until then): with spool_first, the spool takes them after this loop
 * turn, with whatever else is queued (one append, one sync).
 */
void mw_audit_want_durable(struct mw_audit *a, uint64_t seq);
void mw_audit_on_durable(struct mw_audit *a,
			 void (*cb)(void *arg, uint64_t durable_seq),
			 void *arg);
void mw_audit_stats(struct mw_audit *a, struct mw_audit_stats *st);

enum mw_audit_role {
	MW_AUDIT_AUDITOR, /* SELECT on the views */
	MW_AUDIT_WRITER, /* INSERT events */
	MW_AUDIT_OWNER, /* migrations, retention: the DSN's own login */
};

/*
 * The libpq connection string for the audit database (embedded or not)
 * as one of the roles. Returns 0 or -errno.
 */
int mw_audit_conninfo_as(const struct mw_audit_config *cfg,
			 enum mw_audit_role role, char *out, size_t outlen);
/* As the auditor: `mcpwarden sql`, `audit verify`. */
int mw_audit_conninfo(const struct mw_audit_config *cfg, char *out,
		      size_t outlen);
/*
 * A blocking libpq connection to conninfo (a connection string or URI)
 * that speaks UTF-8 whatever the environment or the role says, with a
 * 10 s connect timeout; check PQstatus.
 */
struct pg_conn; /* libpq's PGconn */
struct pg_conn *mw_audit_pq_connect(const char *conninfo);

/* The checkpoint file's path for cfg. Returns 0 or -ENAMETOOLONG. */
int mw_audit_checkpoint_path(const struct mw_audit_config *cfg, char *out,
			     size_t outlen);

#endif
