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

#endif
