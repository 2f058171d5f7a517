// SPDX-License-Identifier: BSD-2-Clause
/*
 * The audit schema.
 *
 * Internal tables (auditors never read them directly):
 *   mcpwarden.events          every event, one row per seq (per host):
 *                             JSON-RPC messages, HTTP errors, connection
 *                             open/close. A conn_open row also carries the
 *                             identity behind the connection (pid .. cgroup,
 *                             client_addr, server_addr: NULL on other rows).
 *   mcpwarden.schema_version  applied migrations.
 *
 * Views (the auditor's interface, see DESIGN.md "SQL"):
 *   mcpwarden.connections        the identity behind each connection: the
 *                                conn_open rows of events
 *   mcpwarden.tool_calls         one row per JSON-RPC request
 *   mcpwarden.messages           every JSON-RPC message, both directions
 *   mcpwarden.http_errors        malformed HTTP/JSON, refusals, upstream
 *                                failures
 *   mcpwarden.connection_events  connection open/close with identity
 *   mcpwarden.tool_changes       tool definitions pinned, changed, accepted
 *
 * The writer only appends (COPY, see audit.c), so every index costs on
 * every event: events has only those the views and the writer need.
 */
#include "schema.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* pg_advisory_xact_lock key: "mwschema" as a big-endian int64. */
#define MW_SCHEMA_LOCK "7887900143153147233"

static const char migration_1[] =
	"CREATE TABLE mcpwarden.events (\n"
	"	host text NOT NULL,\n"
	"	seq bigint NOT NULL,\n"
	"	ts timestamptz NOT NULL,\n"
	"	kind text NOT NULL,\n"
	"	conn_id bigint,\n"
	"	server text,\n"
	"	session_id text,\n"
	"	direction text,\n"
	"	rpc_id text,\n"
	"	method text,\n"
	"	tool text,\n"
	"	params jsonb,\n"
	"	result jsonb,\n"
	"	error jsonb,\n"
	"	request_seq bigint,\n"
	"	latency_ms double precision,\n"
	"	decision text,\n"
	"	rule text,\n"
	"	http_method text,\n"
	"	http_path text,\n"
	"	http_status int,\n"
	"	detail text,\n"
	"	-- kind = 'conn_open' only: who connected\n"
	"	pid bigint,\n"
	"	tgid bigint,\n"
	"	uid bigint,\n"
	"	gid bigint,\n"
	"	user_name text,\n"
	"	comm text,\n"
	"	exe text,\n"
	"	cgroup_id bigint,\n"
	"	cgroup text,\n"
	"	client_addr text,\n"
	"	server_addr text,\n"
	"	-- one row per seq; the writer's max(seq) after a reconnect\n"
	"	CONSTRAINT " MW_SCHEMA_EVENTS_PKEY " PRIMARY KEY (host, seq)\n"
	");\n"
	"-- tool_calls: the response to a request (LATERAL on request_seq)\n"
	"CREATE INDEX events_response_idx ON mcpwarden.events\n"
	"	(host, request_seq) WHERE kind = 'response';\n"
	"-- connections: one per (host, conn_id), the join target of every\n"
	"-- view; also the writer's last conn_id at start\n"
	"CREATE UNIQUE INDEX events_conn_open_idx ON mcpwarden.events\n"
	"	(host, conn_id) WHERE kind = 'conn_open';\n"
	"\n"
	"CREATE VIEW mcpwarden.connections AS\n"
	"SELECT host, conn_id, ts, pid, tgid, uid, gid, user_name, comm, exe,\n"
	"	cgroup_id, cgroup, server, client_addr, server_addr\n"
	"FROM mcpwarden.events\n"
	"WHERE kind = 'conn_open';\n"
	"\n"
	"CREATE VIEW mcpwarden.tool_calls AS\n"
	"SELECT q.ts, q.host, q.seq, q.session_id, q.server, q.method, "
	"q.tool,\n"
	"	CASE WHEN q.method = 'tools/call' THEN q.params -> "
	"'arguments'\n"
	"		ELSE q.params END AS arguments,\n"
	"	q.params, q.decision, q.rule,\n"
	"	c.uid, c.gid, c.pid, c.tgid, c.comm, c.exe, c.cgroup_id,\n"
	"	c.cgroup, c.user_name,\n"
	"	NULL::text AS subject,\n"
	"	CASE WHEN r.error IS NOT NULL THEN r.error ELSE r.result END\n"
	"		AS response,\n"
	"	CASE WHEN r.seq IS NULL THEN NULL ELSE r.error IS NOT NULL "
	"END\n"
	"		AS is_error,\n"
	"	r.latency_ms, q.conn_id, q.rpc_id, q.direction,\n"
	"	r.seq AS response_seq, r.ts AS response_ts,\n"
	"	c.client_addr, c.server_addr\n"
	"FROM mcpwarden.events q\n"
	"LEFT JOIN LATERAL (\n"
	"	SELECT e.seq, e.ts, e.result, e.error, e.latency_ms\n"
	"	FROM mcpwarden.events e\n"
	"	WHERE e.host = q.host AND e.request_seq = q.seq\n"
	"		AND e.kind = 'response'\n"
	"	ORDER BY e.seq LIMIT 1) r ON true\n"
	"LEFT JOIN mcpwarden.connections c\n"
	"	ON c.host = q.host AND c.conn_id = q.conn_id\n"
	"WHERE q.kind = 'request';\n"
	"\n"
	"CREATE VIEW mcpwarden.messages AS\n"
	"SELECT e.ts, e.host, e.seq, e.kind, e.direction, e.session_id,\n"
	"	e.server, e.conn_id, e.rpc_id, e.method, e.tool, e.params,\n"
	"	e.result, e.error, e.request_seq, e.latency_ms, e.decision,\n"
	"	e.rule, c.uid, c.gid, c.pid, c.tgid, c.comm, c.exe, "
	"c.cgroup_id,\n"
	"	c.cgroup, c.user_name, NULL::text AS subject\n"
	"FROM mcpwarden.events e\n"
	"LEFT JOIN mcpwarden.connections c\n"
	"	ON c.host = e.host AND c.conn_id = e.conn_id\n"
	"WHERE e.kind IN ('request', 'notification', 'response');\n"
	"\n"
	"CREATE VIEW mcpwarden.http_errors AS\n"
	"SELECT e.ts, e.host, e.seq, e.session_id, e.server, e.conn_id,\n"
	"	e.direction, e.http_method, e.http_path, e.http_status,\n"
	"	e.detail, e.decision, e.rule, c.uid, c.gid, c.pid, c.tgid,\n"
	"	c.comm, c.exe, c.cgroup_id, c.cgroup, c.user_name,\n"
	"	NULL::text AS subject\n"
	"FROM mcpwarden.events e\n"
	"LEFT JOIN mcpwarden.connections c\n"
	"	ON c.host = e.host AND c.conn_id = e.conn_id\n"
	"WHERE e.kind = 'http_error';\n"
	"\n"
	"CREATE VIEW mcpwarden.connection_events AS\n"
	"SELECT e.ts, e.host, e.seq, e.kind, e.conn_id, e.server, e.detail,\n"
	"	c.uid, c.gid, c.pid, c.tgid, c.comm, c.exe, c.cgroup_id,\n"
	"	c.cgroup, c.user_name, c.client_addr, c.server_addr,\n"
	"	NULL::text AS subject\n"
	"FROM mcpwarden.events e\n"
	"LEFT JOIN mcpwarden.connections c\n"
	"	ON c.host = e.host AND c.conn_id = e.conn_id\n"
	"WHERE e.kind IN ('conn_open', 'conn_close');\n";

/*
 * Policy decisions name the policy they came from. Views only gain columns
 * at their end (CREATE OR REPLACE VIEW keeps the old ones in place), so an
 * auditor's query written against version 1 still runs.
 */
static const char migration_2[] =
	"ALTER TABLE mcpwarden.events ADD COLUMN policy_sha256 text;\n"
	"\n"
	"CREATE OR REPLACE VIEW mcpwarden.tool_calls AS\n"
	"SELECT q.ts, q.host, q.seq, q.session_id, q.server, q.method, "
	"q.tool,\n"
	"	CASE WHEN q.method = 'tools/call' THEN q.params -> "
	"'arguments'\n"
	"		ELSE q.params END AS arguments,\n"
	"	q.params, q.decision, q.rule,\n"
	"	c.uid, c.gid, c.pid, c.tgid, c.comm, c.exe, c.cgroup_id,\n"
	"	c.cgroup, c.user_name,\n"
	"	NULL::text AS subject,\n"
	"	CASE WHEN r.error IS NOT NULL THEN r.error ELSE r.result END\n"
	"		AS response,\n"
	"	CASE WHEN r.seq IS NULL THEN NULL ELSE r.error IS NOT NULL "
	"END\n"
	"		AS is_error,\n"
	"	r.latency_ms, q.conn_id, q.rpc_id, q.direction,\n"
	"	r.seq AS response_seq, r.ts AS response_ts,\n"
	"	c.client_addr, c.server_addr, q.policy_sha256\n"
	"FROM mcpwarden.events q\n"
	"LEFT JOIN LATERAL (\n"
	"	SELECT e.seq, e.ts, e.result, e.error, e.latency_ms\n"
	"	FROM mcpwarden.events e\n"
	"	WHERE e.host = q.host AND e.request_seq = q.seq\n"
	"		AND e.kind = 'response'\n"
	"	ORDER BY e.seq LIMIT 1) r ON true\n"
	"LEFT JOIN mcpwarden.connections c\n"
	"	ON c.host = q.host AND c.conn_id = q.conn_id\n"
	"WHERE q.kind = 'request';\n"
	"\n"
	"CREATE OR REPLACE VIEW mcpwarden.messages AS\n"
	"SELECT e.ts, e.host, e.seq, e.kind, e.direction, e.session_id,\n"
	"	e.server, e.conn_id, e.rpc_id, e.method, e.tool, e.params,\n"
	"	e.result, e.error, e.request_seq, e.latency_ms, e.decision,\n"
	"	e.rule, c.uid, c.gid, c.pid, c.tgid, c.comm, c.exe, "
	"c.cgroup_id,\n"
	"	c.cgroup, c.user_name, NULL::text AS subject, "
	"e.policy_sha256,\n"
	"	e.detail\n"
	"FROM mcpwarden.events e\n"
	"LEFT JOIN mcpwarden.connections c\n"
	"	ON c.host = e.host AND c.conn_id = e.conn_id\n"
	"WHERE e.kind IN ('request', 'notification', 'response');\n";

/* Tool pinning (pins.c): what was pinned, what changed, who accepted. */
static const char migration_3[] =
	"CREATE VIEW mcpwarden.tool_changes AS\n"
	"SELECT e.ts, e.host, e.seq, e.kind, e.server, e.tool, e.detail,\n"
	"	e.conn_id, c.uid, c.pid, c.comm, c.exe, c.cgroup, c.user_name\n"
	"FROM mcpwarden.events e\n"
	"LEFT JOIN mcpwarden.connections c\n"
	"	ON c.host = e.host AND c.conn_id = e.conn_id\n"
	"WHERE e.kind IN ('tool_pinned', 'tool_changed', "
	"'tools_accepted');\n";

const struct mw_migration mw_schema_migrations[] = {
	{ 1, "events, connections, tool_calls, messages, http_errors",
	  migration_1 },
	{ 2, "policy_sha256 on events, tool_calls and messages", migration_2 },
	{ 3, "tool_changes", migration_3 },
};

const size_t mw_schema_n_migrations =
	sizeof(mw_schema_migrations) / sizeof(mw_schema_migrations[0]);

/* The column order is the one audit.c writes (enum col there). */
const char mw_schema_copy_sql[] =
	"COPY mcpwarden.events (host, seq, ts, kind, conn_id, server,\n"
	"	session_id, direction, rpc_id, method, tool, params, result,\n"
	"	error, request_seq, latency_ms, decision, rule, http_method,\n"
	"	http_path, http_status, detail, pid, tgid, uid, gid, "
	"user_name,\n"
	"	comm, exe, cgroup_id, cgroup, client_addr, server_addr,\n"
	"	policy_sha256)\n"
	"FROM STDIN";

const char mw_schema_last_seq_sql[] =
	"SELECT coalesce(max(seq), 0) FROM mcpwarden.events WHERE host = $1";

/*
 * The last conn_id: that of the latest conn_open (events_conn_open_idx).
 * The proxy records conn_open as soon as it gives out an id; an id given
 * out without one (API users, tests) is seen in the last 10000 events.
 * Both are index scans: no index on conn_id (it would cost on every
 * insert) and no scan of the whole table at start.
 */
const char mw_schema_last_ids_sql[] =
	"SELECT coalesce((SELECT max(seq) FROM mcpwarden.events\n"
	"		WHERE host = $1), 0),\n"
	"	greatest(coalesce((SELECT max(conn_id) FROM mcpwarden.events\n"
	"			WHERE host = $1 AND kind = 'conn_open'), 0),\n"
	"		coalesce((SELECT max(conn_id) FROM (\n"
	"			SELECT conn_id FROM mcpwarden.events\n"
	"			WHERE host = $1 ORDER BY seq DESC LIMIT 10000) "
	"t),\n"
	"			0))";

int mw_schema_latest(void)
{
	return mw_schema_migrations[mw_schema_n_migrations - 1].version;
}

/* Runs sql; 0 when it returned the expected status. */
static int exec_ok(PGconn *conn, const char *sql, ExecStatusType want,
		   const char *what, char *err, size_t errlen)
{
	PGresult *r = PQexec(conn, sql);
	int rc = 0;

	if (PQresultStatus(r) != want) {
		mw_set_err(err, errlen, "audit schema: %s: %s", what,
			   r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
		rc = -EIO;
	}
	PQclear(r);
	return rc;
}

int mw_schema_migrate(PGconn *conn, int *version, char *err, size_t errlen)
{
	int current = 0, latest = mw_schema_latest();
	PGresult *r;
	int rc;

	rc = exec_ok(conn, "BEGIN", PGRES_COMMAND_OK, "begin", err, errlen);
	if (rc)
		return rc;
	rc = exec_ok(conn, "SELECT pg_advisory_xact_lock(" MW_SCHEMA_LOCK ")",
		     PGRES_TUPLES_OK, "advisory lock", err, errlen);
	if (!rc)
		rc = exec_ok(conn,
			     "CREATE SCHEMA IF NOT EXISTS mcpwarden;\n"
			     "CREATE TABLE IF NOT EXISTS "
			     "mcpwarden.schema_version (\n"
			     "	version int PRIMARY KEY,\n"
			     "	description text NOT NULL,\n"
			     "	applied_at timestamptz NOT NULL DEFAULT now())",
			     PGRES_COMMAND_OK, "create schema", err, errlen);
	if (rc)
		goto fail;
	r = PQexec(conn, "SELECT coalesce(max(version), 0) FROM "
			 "mcpwarden.schema_version");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		mw_set_err(err, errlen, "audit schema: read version: %s",
			   PQresultErrorMessage(r));
		PQclear(r);
		rc = -EIO;
		goto fail;
	}
	current = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);

	for (size_t i = 0; i < mw_schema_n_migrations; i++) {
		const struct mw_migration *m = &mw_schema_migrations[i];
		char ver[16];
		const char *params[2] = { ver, m->description };

		if (m->version <= current)
			continue;
		rc = exec_ok(conn, m->sql, PGRES_COMMAND_OK, m->description,
			     err, errlen);
		if (rc)
			goto fail;
		snprintf(ver, sizeof(ver), "%d", m->version);
		r = PQexecParams(conn,
				 "INSERT INTO mcpwarden.schema_version "
				 "(version, description) VALUES ($1, $2)",
				 2, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			mw_set_err(err, errlen,
				   "audit schema: record version: %s",
				   PQresultErrorMessage(r));
			PQclear(r);
			rc = -EIO;
			goto fail;
		}
		PQclear(r);
		log_info("audit: schema migrated to version %d (%s)",
			 m->version, m->description);
		current = m->version;
	}
	rc = exec_ok(conn, "COMMIT", PGRES_COMMAND_OK, "commit", err, errlen);
	if (rc)
		return rc;
	if (current > latest)
		log_warn("audit: schema version %d is newer than this build's "
			 "%d; writing with the columns it knows",
			 current, latest);
	if (version)
		*version = current;
	return 0;
fail:
	PQclear(PQexec(conn, "ROLLBACK"));
	return rc;
}
