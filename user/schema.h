/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The audit database schema `mcpwarden`: its migrations as SQL text and the
 * statements the writer runs. Migrations only ever append (new tables,
 * columns, views); a migration, once released, is never edited.
 */
#ifndef MW_SCHEMA_H
#define MW_SCHEMA_H

#include <libpq-fe.h>
#include <stddef.h>

struct mw_migration {
	int version; /* 1, 2, ... in order */
	const char *description;
	const char *sql; /* one or more statements */
};

extern const struct mw_migration mw_schema_migrations[];
extern const size_t mw_schema_n_migrations;

/* The latest version this build knows. */
int mw_schema_latest(void);

/*
 * Creates the schema or brings it to the latest version, in one
 * transaction holding a transaction-scoped advisory lock (concurrent
 * daemons migrate one at a time). *version (may be NULL) gets the version
 * in force afterwards. conn must be idle, outside pipeline mode.
 * Returns 0 or -EIO with a message in err.
 */
int mw_schema_migrate(PGconn *conn, int *version, char *err, size_t errlen);

/* The primary key of mcpwarden.events: (host, seq, ts). */
#define MW_SCHEMA_EVENTS_PKEY "events_pkey"

/* The roles of migration 4 (audit.c logs in as the writer). */
#define MW_SCHEMA_WRITER_ROLE "mcpwarden_writer"
#define MW_SCHEMA_AUDITOR_ROLE "mcpwarden_auditor"

/*
 * One batch: COPY mcpwarden.events (its columns, in the order audit.c
 * writes them) FROM STDIN, text format. Not idempotent: the writer sends
 * batches one at a time in seq order and, after a reconnect, skips what
 * mw_schema_chain_head_sql says is already there.
 */
extern const char mw_schema_copy_sql[];

/* $1 host: the last seq and hash of its chain (0 and NULL when empty) and
 * the last conn_id recorded for it. */
extern const char mw_schema_chain_head_sql[];

/* $1 host, $2 seq: the hash of that event of its chain (NULL: none). */
extern const char mw_schema_chain_hash_at_sql[];

/*
 * $1 host: tries to take the session-level advisory lock of its chain's
 * writer. Returns whether it was taken and, when not, the pid of a
 * session holding it (NULL if it went meanwhile) and whether that
 * session logged in as this one (NULL when unknown). Sets the session's
 * TCP keepalives and user timeout so that the server ends a session
 * whose client died with its machine within about two minutes, which
 * releases the lock.
 */
extern const char mw_schema_writer_lock_sql[];

/* Run by a superuser in a database of mcpwarden's own: only the writer
 * may take bigint advisory locks (see mw_schema_writer_lock_sql). */
extern const char mw_schema_lock_grants_sql[];

/* Daily partitions for the days ahead (the writer may run it). */
extern const char mw_schema_ensure_partitions_sql[];

/* The views of the schema as this build's migrations leave them. */
#define MW_SCHEMA_MAX_VIEWS 32
struct mw_schema_view {
	char name[64]; /* in schema mcpwarden */
	const char *select; /* its query, len bytes of a migration's text */
	size_t len;
};

/* Fills views (at most max) and returns how many there are. */
size_t mw_schema_views(struct mw_schema_view *views, size_t max);

typedef void (*mw_schema_problem_fn)(void *arg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Whether what auditors read is what this build defined: each view is
 * the one its migrations made (compared as the server deparses both),
 * row-level security is off on the events table and its partitions, and
 * no trigger there is disabled or other than mcpwarden's. Each
 * difference is given to problem (ASCII text). In a transaction of its
 * own, rolled back: it makes a temporary view, so the role needs the
 * database's TEMPORARY privilege. Returns 0 (checked) or -EIO with err
 * set. conn must be idle, outside a transaction.
 */
int mw_schema_check(PGconn *conn, mw_schema_problem_fn problem, void *arg,
		    char *err, size_t errlen);

#endif
