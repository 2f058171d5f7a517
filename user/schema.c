// SPDX-License-Identifier: BSD-2-Clause
/*
 * The audit schema.
 *
 * Internal tables (auditors never read them directly):
 *   mcpwarden.events          every event, one row per seq (per host):
 *                             JSON-RPC messages, HTTP errors, connection
 *                             open/close. A conn_open row also carries the
 *                             identity behind the connection (pid .. cgroup,
 *                             client_addr, server_addr), a control row the
 *                             caller's (pid .. cgroup): NULL on other rows.
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
 *   mcpwarden.control_actions    who enforced, released, reloaded, accepted
 *                                tools through the control socket
 *   mcpwarden.chain_events, mcpwarden.checkpoints  the chain as hashed
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

/*
 * The tamper-evident trail (issue 4). Three roles: mcpwarden_owner owns
 * every object (the migrating login is made a member of it), the writer
 * may only INSERT events and call the two functions it needs, the auditor
 * may only SELECT the views. Events move to a table partitioned by day
 * (retention drops partitions, the owner only) whose rows carry their
 * host's hash chain (chain.h: prev_hash, hash); UPDATE, DELETE and
 * TRUNCATE are refused by triggers, for the owner too. JSON is stored as
 * json, not jsonb, so the text read back is the text that was hashed
 * (the views cast to jsonb), and latency as integer microseconds for the
 * same reason. Rows recorded before this version stay, unchained, in
 * mcpwarden.events_v1 (owner only).
 */
static const char migration_4[] =
	"DO $roles$\n"
	"BEGIN\n"
	"	IF NOT EXISTS (SELECT 1 FROM pg_roles\n"
	"			WHERE rolname = 'mcpwarden_owner') THEN\n"
	"		CREATE ROLE mcpwarden_owner NOLOGIN;\n"
	"	END IF;\n"
	"	IF NOT EXISTS (SELECT 1 FROM pg_roles\n"
	"			WHERE rolname = 'mcpwarden_writer') THEN\n"
	"		CREATE ROLE mcpwarden_writer LOGIN;\n"
	"	END IF;\n"
	"	IF NOT EXISTS (SELECT 1 FROM pg_roles\n"
	"			WHERE rolname = 'mcpwarden_auditor') THEN\n"
	"		CREATE ROLE mcpwarden_auditor LOGIN;\n"
	"	END IF;\n"
	"	IF NOT pg_has_role(current_user, 'mcpwarden_owner', 'MEMBER')\n"
	"	THEN\n"
	"		EXECUTE format('GRANT mcpwarden_owner TO %I',\n"
	"			current_user);\n"
	"	END IF;\n"
	"END $roles$;\n"
	"ALTER SCHEMA mcpwarden OWNER TO mcpwarden_owner;\n"
	"GRANT USAGE ON SCHEMA mcpwarden TO mcpwarden_writer, "
	"mcpwarden_auditor;\n"
	"\n"
	"DROP VIEW mcpwarden.tool_changes, mcpwarden.connection_events,\n"
	"	mcpwarden.http_errors, mcpwarden.messages, "
	"mcpwarden.tool_calls,\n"
	"	mcpwarden.connections;\n"
	"ALTER TABLE mcpwarden.events RENAME TO events_v1;\n"
	"ALTER TABLE mcpwarden.events_v1 RENAME CONSTRAINT events_pkey\n"
	"	TO events_v1_pkey;\n"
	"ALTER INDEX mcpwarden.events_response_idx RENAME TO "
	"events_v1_response_idx;\n"
	"ALTER INDEX mcpwarden.events_conn_open_idx RENAME TO\n"
	"	events_v1_conn_open_idx;\n"
	"ALTER TABLE mcpwarden.events_v1 OWNER TO mcpwarden_owner;\n"
	"\n"
	"SET LOCAL ROLE mcpwarden_owner;\n"
	"\n"
	"CREATE FUNCTION mcpwarden.refuse_change() RETURNS trigger\n"
	"LANGUAGE plpgsql AS $f$\n"
	"BEGIN\n"
	"	RAISE EXCEPTION 'mcpwarden: the audit trail is append-only: "
	"% on %.% refused',\n"
	"		TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME\n"
	"		USING ERRCODE = 'insufficient_privilege';\n"
	"END $f$;\n"
	"CREATE TRIGGER events_v1_append_only BEFORE UPDATE OR DELETE\n"
	"	ON mcpwarden.events_v1 FOR EACH ROW\n"
	"	EXECUTE FUNCTION mcpwarden.refuse_change();\n"
	"CREATE TRIGGER events_v1_no_truncate BEFORE TRUNCATE\n"
	"	ON mcpwarden.events_v1 FOR EACH STATEMENT\n"
	"	EXECUTE FUNCTION mcpwarden.refuse_change();\n"
	"\n"
	"-- The columns in the order of the chain encoding (chain.h), hash "
	"last.\n"
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
	"	params json,\n"
	"	result json,\n"
	"	error json,\n"
	"	request_seq bigint,\n"
	"	latency_us bigint,\n"
	"	decision text,\n"
	"	rule text,\n"
	"	http_method text,\n"
	"	http_path text,\n"
	"	http_status int,\n"
	"	detail text,\n"
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
	"	policy_sha256 text,\n"
	"	prev_hash text NOT NULL,\n"
	"	hash text NOT NULL,\n"
	"	-- a partitioned table's key includes its partition key; a\n"
	"	-- batch sent twice still collides (same ts)\n"
	"	CONSTRAINT " MW_SCHEMA_EVENTS_PKEY
	" PRIMARY KEY (host, seq, ts)\n"
	") PARTITION BY RANGE (ts);\n"
	"CREATE TABLE mcpwarden.events_default PARTITION OF mcpwarden.events\n"
	"	DEFAULT;\n"
	"CREATE INDEX events_response_idx ON mcpwarden.events\n"
	"	(host, request_seq) WHERE kind = 'response';\n"
	"CREATE INDEX events_conn_open_idx ON mcpwarden.events\n"
	"	(host, conn_id) WHERE kind = 'conn_open';\n"
	"CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE\n"
	"	ON mcpwarden.events FOR EACH ROW\n"
	"	EXECUTE FUNCTION mcpwarden.refuse_change();\n"
	"-- statement triggers are not inherited: each partition gets its own\n"
	"CREATE TRIGGER events_no_truncate BEFORE TRUNCATE\n"
	"	ON mcpwarden.events FOR EACH STATEMENT\n"
	"	EXECUTE FUNCTION mcpwarden.refuse_change();\n"
	"CREATE TRIGGER events_no_truncate BEFORE TRUNCATE\n"
	"	ON mcpwarden.events_default FOR EACH STATEMENT\n"
	"	EXECUTE FUNCTION mcpwarden.refuse_change();\n"
	"\n"
	"-- Daily partitions from yesterday to days_ahead days on (UTC). A\n"
	"-- day whose rows already sit in the default partition keeps them\n"
	"-- there. The writer calls it: SECURITY DEFINER, creates only.\n"
	"CREATE FUNCTION mcpwarden.ensure_partitions(days_ahead int)\n"
	"RETURNS int LANGUAGE plpgsql SECURITY DEFINER\n"
	"SET search_path = pg_catalog, pg_temp AS $f$\n"
	"DECLARE\n"
	"	today date := (now() AT TIME ZONE 'UTC')::date;\n"
	"	d date;\n"
	"	part text;\n"
	"	made int := 0;\n"
	"BEGIN\n"
	"	FOR i IN -1 .. least(greatest(days_ahead, 0), 366) LOOP\n"
	"		d := today + i;\n"
	"		part := 'events_' || to_char(d, 'YYYYMMDD');\n"
	"		CONTINUE WHEN to_regclass('mcpwarden.' || part) IS NOT "
	"NULL;\n"
	"		BEGIN\n"
	"			EXECUTE format('CREATE TABLE mcpwarden.%I "
	"PARTITION "
	"OF '\n"
	"				'mcpwarden.events FOR VALUES FROM (%L) "
	"TO "
	"(%L)',\n"
	"				part, d::timestamp AT TIME ZONE "
	"'UTC',\n"
	"				(d + 1)::timestamp AT TIME ZONE "
	"'UTC');\n"
	"			EXECUTE format('CREATE TRIGGER "
	"events_no_truncate '\n"
	"				'BEFORE TRUNCATE ON mcpwarden.%I FOR "
	"EACH '\n"
	"				'STATEMENT EXECUTE FUNCTION '\n"
	"				'mcpwarden.refuse_change()', part);\n"
	"			made := made + 1;\n"
	"		EXCEPTION WHEN check_violation OR duplicate_table "
	"THEN\n"
	"			NULL;\n"
	"		END;\n"
	"	END LOOP;\n"
	"	RETURN made;\n"
	"END $f$;\n"
	"\n"
	"-- Retention: drops the daily partitions of days before cutoff.\n"
	"-- Not SECURITY DEFINER: only the owner can drop.\n"
	"CREATE FUNCTION mcpwarden.drop_partitions_before(cutoff date)\n"
	"RETURNS SETOF text LANGUAGE plpgsql\n"
	"SET search_path = pg_catalog, pg_temp AS $f$\n"
	"DECLARE\n"
	"	part text;\n"
	"BEGIN\n"
	"	FOR part IN SELECT c.relname FROM pg_inherits i\n"
	"			JOIN pg_class c ON c.oid = i.inhrelid\n"
	"			WHERE i.inhparent = "
	"'mcpwarden.events'::regclass\n"
	"			AND c.relname ~ '^events_[0-9]{8}$'\n"
	"			AND to_date(substr(c.relname, 8), 'YYYYMMDD') "
	"< "
	"cutoff\n"
	"			ORDER BY c.relname LOOP\n"
	"		EXECUTE format('DROP TABLE mcpwarden.%I', part);\n"
	"		RETURN NEXT part;\n"
	"	END LOOP;\n"
	"END $f$;\n"
	"\n"
	"-- Where this host's chain stands: last seq and hash, last conn_id.\n"
	"CREATE FUNCTION mcpwarden.chain_head(h text, OUT seq bigint,\n"
	"	OUT hash text, OUT conn_id bigint)\n"
	"LANGUAGE sql STABLE SECURITY DEFINER\n"
	"SET search_path = pg_catalog, pg_temp AS $f$\n"
	"SELECT coalesce(l.seq, 0), l.hash,\n"
	"	greatest(coalesce((SELECT max(e.conn_id) FROM mcpwarden.events "
	"e\n"
	"			WHERE e.host = h AND e.kind = 'conn_open'), "
	"0),\n"
	"		coalesce((SELECT max(t.conn_id) FROM (\n"
	"			SELECT e.conn_id FROM mcpwarden.events e\n"
	"			WHERE e.host = h ORDER BY e.seq DESC LIMIT "
	"10000) t),\n"
	"			0))\n"
	"FROM (SELECT NULL) one\n"
	"LEFT JOIN (SELECT e.seq, e.hash FROM mcpwarden.events e\n"
	"	WHERE e.host = h ORDER BY e.seq DESC, e.ts DESC LIMIT 1) l ON "
	"true\n"
	"$f$;\n"
	"\n"
	"REVOKE ALL ON FUNCTION mcpwarden.ensure_partitions(int),\n"
	"	mcpwarden.drop_partitions_before(date), "
	"mcpwarden.chain_head(text),\n"
	"	mcpwarden.refuse_change() FROM PUBLIC;\n"
	"GRANT EXECUTE ON FUNCTION mcpwarden.ensure_partitions(int),\n"
	"	mcpwarden.chain_head(text) TO mcpwarden_writer;\n"
	"GRANT INSERT ON mcpwarden.events TO mcpwarden_writer;\n"
	"SELECT mcpwarden.ensure_partitions(7);\n"
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
	"	CASE WHEN q.method = 'tools/call' THEN q.params::jsonb -> "
	"'arguments'\n"
	"		ELSE q.params::jsonb END AS arguments,\n"
	"	q.params::jsonb AS params, q.decision, q.rule,\n"
	"	c.uid, c.gid, c.pid, c.tgid, c.comm, c.exe, c.cgroup_id,\n"
	"	c.cgroup, c.user_name,\n"
	"	NULL::text AS subject,\n"
	"	CASE WHEN r.error IS NOT NULL THEN r.error::jsonb\n"
	"		ELSE r.result::jsonb END AS response,\n"
	"	CASE WHEN r.seq IS NULL THEN NULL ELSE r.error IS NOT NULL "
	"END\n"
	"		AS is_error,\n"
	"	r.latency_us / 1000.0::double precision AS latency_ms,\n"
	"	q.conn_id, q.rpc_id, q.direction,\n"
	"	r.seq AS response_seq, r.ts AS response_ts,\n"
	"	c.client_addr, c.server_addr, q.policy_sha256\n"
	"FROM mcpwarden.events q\n"
	"LEFT JOIN LATERAL (\n"
	"	SELECT e.seq, e.ts, e.result, e.error, e.latency_us\n"
	"	FROM mcpwarden.events e\n"
	"	WHERE e.host = q.host AND e.request_seq = q.seq\n"
	"		AND e.kind = 'response'\n"
	"		-- lets the planner skip older partitions\n"
	"		AND e.ts >= q.ts - interval '1 hour'\n"
	"	ORDER BY e.seq LIMIT 1) r ON true\n"
	"LEFT JOIN mcpwarden.connections c\n"
	"	ON c.host = q.host AND c.conn_id = q.conn_id\n"
	"WHERE q.kind = 'request';\n"
	"\n"
	"CREATE VIEW mcpwarden.messages AS\n"
	"SELECT e.ts, e.host, e.seq, e.kind, e.direction, e.session_id,\n"
	"	e.server, e.conn_id, e.rpc_id, e.method, e.tool,\n"
	"	e.params::jsonb AS params, e.result::jsonb AS result,\n"
	"	e.error::jsonb AS error, e.request_seq,\n"
	"	e.latency_us / 1000.0::double precision AS latency_ms,\n"
	"	e.decision, e.rule, c.uid, c.gid, c.pid, c.tgid, c.comm, "
	"c.exe,\n"
	"	c.cgroup_id, c.cgroup, c.user_name, NULL::text AS subject,\n"
	"	e.policy_sha256, e.detail\n"
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
	"WHERE e.kind IN ('conn_open', 'conn_close');\n"
	"\n"
	"CREATE VIEW mcpwarden.tool_changes AS\n"
	"SELECT e.ts, e.host, e.seq, e.kind, e.server, e.tool, e.detail,\n"
	"	e.conn_id, c.uid, c.pid, c.comm, c.exe, c.cgroup, c.user_name\n"
	"FROM mcpwarden.events e\n"
	"LEFT JOIN mcpwarden.connections c\n"
	"	ON c.host = e.host AND c.conn_id = e.conn_id\n"
	"WHERE e.kind IN ('tool_pinned', 'tool_changed', "
	"'tools_accepted');\n"
	"\n"
	"-- Every event as chained (audit verify, evidence export).\n"
	"CREATE VIEW mcpwarden.chain_events AS\n"
	"SELECT host, seq,\n"
	"	(extract(epoch FROM ts) * 1000000)::bigint AS ts_us, kind,\n"
	"	conn_id, server, session_id, direction, rpc_id, method, tool,\n"
	"	params, result, error, request_seq, latency_us, decision, "
	"rule,\n"
	"	http_method, http_path, http_status, detail, pid, tgid, uid, "
	"gid,\n"
	"	user_name, comm, exe, cgroup_id, cgroup, client_addr, "
	"server_addr,\n"
	"	policy_sha256, prev_hash, hash, ts\n"
	"FROM mcpwarden.events;\n"
	"\n"
	"-- Signed checkpoints (audit.c): params holds what was signed.\n"
	"CREATE VIEW mcpwarden.checkpoints AS\n"
	"SELECT host, seq AS checkpoint_seq, ts,\n"
	"	params ->> 'seq' AS seq, params ->> 'hash' AS hash,\n"
	"	params ->> 'key_id' AS key_id,\n"
	"	params ->> 'signature' AS signature\n"
	"FROM mcpwarden.events\n"
	"WHERE kind = 'checkpoint';\n"
	"\n"
	"GRANT SELECT ON mcpwarden.connections, mcpwarden.tool_calls,\n"
	"	mcpwarden.messages, mcpwarden.http_errors,\n"
	"	mcpwarden.connection_events, mcpwarden.tool_changes,\n"
	"	mcpwarden.chain_events, mcpwarden.checkpoints\n"
	"	TO mcpwarden_auditor;\n"
	"RESET ROLE;\n";

/*
 * Masking: what was masked in an event (detector names and counts, never
 * the values), chained as an optional field (chain.h), and in the views
 * after their existing columns (CREATE OR REPLACE VIEW appends only).
 */
static const char migration_5[] =
	"SET LOCAL ROLE mcpwarden_owner;\n"
	"ALTER TABLE mcpwarden.events ADD COLUMN masked json;\n"
	"\n"
	"CREATE OR REPLACE VIEW mcpwarden.tool_calls AS\n"
	"SELECT q.ts, q.host, q.seq, q.session_id, q.server, q.method, "
	"q.tool,\n"
	"	CASE WHEN q.method = 'tools/call' THEN q.params::jsonb -> "
	"'arguments'\n"
	"		ELSE q.params::jsonb END AS arguments,\n"
	"	q.params::jsonb AS params, q.decision, q.rule,\n"
	"	c.uid, c.gid, c.pid, c.tgid, c.comm, c.exe, c.cgroup_id,\n"
	"	c.cgroup, c.user_name,\n"
	"	NULL::text AS subject,\n"
	"	CASE WHEN r.error IS NOT NULL THEN r.error::jsonb\n"
	"		ELSE r.result::jsonb END AS response,\n"
	"	CASE WHEN r.seq IS NULL THEN NULL ELSE r.error IS NOT NULL "
	"END\n"
	"		AS is_error,\n"
	"	r.latency_us / 1000.0::double precision AS latency_ms,\n"
	"	q.conn_id, q.rpc_id, q.direction,\n"
	"	r.seq AS response_seq, r.ts AS response_ts,\n"
	"	c.client_addr, c.server_addr, q.policy_sha256,\n"
	"	q.masked::jsonb AS arguments_masked, r.masked::jsonb AS "
	"masked\n"
	"FROM mcpwarden.events q\n"
	"LEFT JOIN LATERAL (\n"
	"	SELECT e.seq, e.ts, e.result, e.error, e.latency_us, e.masked\n"
	"	FROM mcpwarden.events e\n"
	"	WHERE e.host = q.host AND e.request_seq = q.seq\n"
	"		AND e.kind = 'response'\n"
	"		-- lets the planner skip older partitions\n"
	"		AND e.ts >= q.ts - interval '1 hour'\n"
	"	ORDER BY e.seq LIMIT 1) r ON true\n"
	"LEFT JOIN mcpwarden.connections c\n"
	"	ON c.host = q.host AND c.conn_id = q.conn_id\n"
	"WHERE q.kind = 'request';\n"
	"\n"
	"CREATE OR REPLACE VIEW mcpwarden.messages AS\n"
	"SELECT e.ts, e.host, e.seq, e.kind, e.direction, e.session_id,\n"
	"	e.server, e.conn_id, e.rpc_id, e.method, e.tool,\n"
	"	e.params::jsonb AS params, e.result::jsonb AS result,\n"
	"	e.error::jsonb AS error, e.request_seq,\n"
	"	e.latency_us / 1000.0::double precision AS latency_ms,\n"
	"	e.decision, e.rule, c.uid, c.gid, c.pid, c.tgid, c.comm, "
	"c.exe,\n"
	"	c.cgroup_id, c.cgroup, c.user_name, NULL::text AS subject,\n"
	"	e.policy_sha256, e.detail, e.masked::jsonb AS masked\n"
	"FROM mcpwarden.events e\n"
	"LEFT JOIN mcpwarden.connections c\n"
	"	ON c.host = e.host AND c.conn_id = e.conn_id\n"
	"WHERE e.kind IN ('request', 'notification', 'response');\n"
	"\n"
	"CREATE OR REPLACE VIEW mcpwarden.chain_events AS\n"
	"SELECT host, seq,\n"
	"	(extract(epoch FROM ts) * 1000000)::bigint AS ts_us, kind,\n"
	"	conn_id, server, session_id, direction, rpc_id, method, tool,\n"
	"	params, result, error, request_seq, latency_us, decision, "
	"rule,\n"
	"	http_method, http_path, http_status, detail, pid, tgid, uid, "
	"gid,\n"
	"	user_name, comm, exe, cgroup_id, cgroup, client_addr, "
	"server_addr,\n"
	"	policy_sha256, prev_hash, hash, ts, masked\n"
	"FROM mcpwarden.events;\n"
	"RESET ROLE;\n";

/*
 * A superuser can store a ts that microseconds since 1970 cannot hold in
 * a bigint ('infinity', or near the ends of the range): the conversion
 * failed, and with it the whole COPY that audit verify and evidence
 * export read. Such a ts_us is now NULL, which verify names as a
 * malformed event at its seq.
 */
static const char migration_6[] =
	"SET LOCAL ROLE mcpwarden_owner;\n"
	"CREATE OR REPLACE VIEW mcpwarden.chain_events AS\n"
	"SELECT host, seq,\n"
	"	CASE WHEN isfinite(ts) AND extract(epoch FROM ts) * 1000000\n"
	"		BETWEEN -9223372036854775808 AND 9223372036854775807\n"
	"	THEN (extract(epoch FROM ts) * 1000000)::bigint END AS ts_us,\n"
	"	kind, conn_id, server, session_id, direction, rpc_id, method,\n"
	"	tool, params, result, error, request_seq, latency_us, "
	"decision,\n"
	"	rule, http_method, http_path, http_status, detail, pid, tgid,\n"
	"	uid, gid, user_name, comm, exe, cgroup_id, cgroup, "
	"client_addr,\n"
	"	server_addr, policy_sha256, prev_hash, hash, ts, masked\n"
	"FROM mcpwarden.events;\n"
	"RESET ROLE;\n";

/*
 * Who changed enforcement through the control socket (enforce, release,
 * reload, accept-tools), refusals included: the caller's identity is on
 * the event itself, as a connection's is on its conn_open.
 */
static const char migration_7[] =
	"SET LOCAL ROLE mcpwarden_owner;\n"
	"CREATE VIEW mcpwarden.control_actions AS\n"
	"SELECT ts, host, seq, method AS command, server, decision, detail,\n"
	"	uid, gid, user_name, pid, comm, cgroup, cgroup_id\n"
	"FROM mcpwarden.events\n"
	"WHERE kind = 'control';\n"
	"GRANT SELECT ON mcpwarden.control_actions TO mcpwarden_auditor;\n"
	"RESET ROLE;\n";

/*
 * The hash of this host's event at a seq below the chain's head: a start
 * whose spool ends there checks that its last line is the database's
 * event, not another writer's with the same seq (chain_head answers for
 * the head only). NULL when there is none.
 */
static const char migration_8[] =
	"SET LOCAL ROLE mcpwarden_owner;\n"
	"CREATE FUNCTION mcpwarden.chain_hash_at(h text, s bigint)\n"
	"RETURNS text LANGUAGE sql STABLE SECURITY DEFINER\n"
	"SET search_path = pg_catalog, pg_temp AS $f$\n"
	"SELECT e.hash FROM mcpwarden.events e\n"
	"	WHERE e.host = h AND e.seq = s ORDER BY e.ts DESC LIMIT 1\n"
	"$f$;\n"
	"REVOKE ALL ON FUNCTION mcpwarden.chain_hash_at(text, bigint)\n"
	"	FROM PUBLIC;\n"
	"GRANT EXECUTE ON FUNCTION mcpwarden.chain_hash_at(text, bigint)\n"
	"	TO mcpwarden_writer;\n"
	"RESET ROLE;\n";

const struct mw_migration mw_schema_migrations[] = {
	{ 1, "events, connections, tool_calls, messages, http_errors",
	  migration_1 },
	{ 2, "policy_sha256 on events, tool_calls and messages", migration_2 },
	{ 3, "tool_changes", migration_3 },
	{ 4, "hash chain, roles, append-only partitioned events", migration_4 },
	{ 5, "masked on events, tool_calls, messages and chain_events",
	  migration_5 },
	{ 6, "chain_events: a ts_us out of range is NULL", migration_6 },
	{ 7, "control_actions", migration_7 },
	{ 8, "chain_hash_at", migration_8 },
};

const size_t mw_schema_n_migrations =
	sizeof(mw_schema_migrations) / sizeof(mw_schema_migrations[0]);

/* The column order of the chain encoding (chain.h), ts for ts_us. */
const char mw_schema_copy_sql[] =
	"COPY mcpwarden.events (host, seq, ts, kind, conn_id, server,\n"
	"	session_id, direction, rpc_id, method, tool, params, result,\n"
	"	error, request_seq, latency_us, decision, rule, http_method,\n"
	"	http_path, http_status, detail, pid, tgid, uid, gid, "
	"user_name,\n"
	"	comm, exe, cgroup_id, cgroup, client_addr, server_addr,\n"
	"	policy_sha256, prev_hash, masked, hash)\n"
	"FROM STDIN";

const char mw_schema_chain_head_sql[] =
	"SELECT seq, hash, conn_id FROM mcpwarden.chain_head($1)";

const char mw_schema_chain_hash_at_sql[] =
	"SELECT mcpwarden.chain_hash_at($1, $2)";

/*
 * The key is 64 bits of SHA-256 over the host name (a 32-bit hash would
 * make hosts sharing a database wait on each other now and then). The
 * holder is looked for only when the lock was not taken; classid and
 * objid are the key's high and low halves, objsubid 1 the bigint form.
 * Whether the holder logged in as this session did tells a writer's
 * session from one of another role, which cannot have events to commit.
 */
const char mw_schema_writer_lock_sql[] =
	"SELECT l.got, h.pid, h.usename = session_user\n"
	"FROM (SELECT key, pg_try_advisory_lock(key) AS got,\n"
	"	set_config('tcp_keepalives_idle', '60', false),\n"
	"	set_config('tcp_keepalives_interval', '10', false),\n"
	"	set_config('tcp_keepalives_count', '6', false),\n"
	"	set_config('tcp_user_timeout', '120000', false)\n"
	"	FROM (SELECT ('x' || left(encode(sha256(convert_to(\n"
	"		'mcpwarden writer ' || $1, 'UTF8')), 'hex'), 16))\n"
	"		::bit(64)::bigint AS key) k0) l\n"
	"LEFT JOIN LATERAL (SELECT k.pid, a.usename FROM pg_locks k\n"
	"	LEFT JOIN pg_stat_activity a ON a.pid = k.pid\n"
	"	WHERE NOT l.got AND k.locktype = 'advisory' AND k.granted\n"
	"	AND k.database = (SELECT oid FROM pg_database\n"
	"		WHERE datname = current_database())\n"
	"	AND k.objsubid = 1\n"
	"	AND k.classid = ((l.key >> 32) & 4294967295)::oid\n"
	"	AND k.objid = (l.key & 4294967295)::oid\n"
	"	ORDER BY k.pid LIMIT 1) h ON true";

/*
 * Advisory locks are PUBLIC's by default: any login of the database could
 * hold the writer's key and keep the writer out. In a database of its own
 * (the embedded cluster's) only the writer needs the one function it
 * uses; the owner, a superuser there, is not bound by these grants.
 */
const char mw_schema_lock_grants_sql[] =
	"REVOKE EXECUTE ON FUNCTION pg_advisory_lock(bigint),\n"
	"	pg_try_advisory_lock(bigint), "
	"pg_advisory_lock_shared(bigint),\n"
	"	pg_try_advisory_lock_shared(bigint),\n"
	"	pg_advisory_xact_lock(bigint),\n"
	"	pg_try_advisory_xact_lock(bigint),\n"
	"	pg_advisory_xact_lock_shared(bigint),\n"
	"	pg_try_advisory_xact_lock_shared(bigint) FROM PUBLIC;\n"
	"GRANT EXECUTE ON FUNCTION pg_try_advisory_lock(bigint)\n"
	"	TO " MW_SCHEMA_WRITER_ROLE;

const char mw_schema_ensure_partitions_sql[] =
	"SELECT mcpwarden.ensure_partitions(7)";

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

/*
 * ---- What auditors read, against this build's definitions ----
 *
 * audit verify proves the rows of the chain; auditors read views. A
 * superuser can replace a view (tool_calls without one user's calls),
 * make the events table filter a role's reads (row-level security), or
 * add a trigger that changes or drops rows as the writer sends them: the
 * chain holds while what auditors see differs from it.
 */

size_t mw_schema_views(struct mw_schema_view *views, size_t max)
{
	static const char *const starts[] = { "CREATE VIEW mcpwarden.",
					      "CREATE OR REPLACE VIEW "
					      "mcpwarden." };
	size_t n = 0;

	for (size_t m = 0; m < mw_schema_n_migrations; m++) {
		const char *p = mw_schema_migrations[m].sql;

		for (;;) {
			const char *hit = NULL, *name, *as, *end;
			size_t k, skip = 0, namelen;

			for (size_t s = 0; s < 2; s++) {
				const char *h = strstr(p, starts[s]);

				if (h && (!hit || h < hit)) {
					hit = h;
					skip = strlen(starts[s]);
				}
			}
			if (!hit)
				break;
			name = hit + skip;
			as = strstr(name, " AS\n");
			end = as ? strstr(as, ";\n") : NULL;
			if (!end)
				break;
			namelen = (size_t)(as - name);
			p = end;
			for (k = 0; k < n; k++)
				if (strlen(views[k].name) == namelen &&
				    !memcmp(views[k].name, name, namelen))
					break;
			if (k == n) {
				if (n == max ||
				    namelen >= sizeof(views[k].name))
					continue;
				memcpy(views[k].name, name, namelen);
				views[k].name[namelen] = '\0';
				n++;
			}
			views[k].select = as + strlen(" AS\n");
			views[k].len = (size_t)(end - views[k].select);
		}
	}
	return n;
}

/* Runs sql with params; the result, or NULL with err set. */
static PGresult *query(PGconn *conn, const char *sql, int nparams,
		       const char *const *params, char *err, size_t errlen)
{
	PGresult *r =
		PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) == PGRES_TUPLES_OK ||
	    PQresultStatus(r) == PGRES_COMMAND_OK)
		return r;
	mw_set_err(err, errlen, "%s",
		   r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
	PQclear(r);
	return NULL;
}

/*
 * Each view as the server reads this build's text, beside the one in
 * force: a temporary view made from the text, and both deparsed by the
 * same server in the same session, so that neither the server's version
 * nor its search_path makes a difference.
 */
static int check_views(PGconn *conn, mw_schema_problem_fn problem, void *arg,
		       char *err, size_t errlen)
{
	struct mw_schema_view views[MW_SCHEMA_MAX_VIEWS];
	size_t n = mw_schema_views(views, MW_SCHEMA_MAX_VIEWS);
	char *sql = NULL;
	int rc = -EIO;

	for (size_t i = 0; i < n; i++) {
		char temp[48];
		const char *params[2] = { views[i].name, temp };
		PGresult *r;
		char *p;

		/* one name each: dropping one would say so in a notice */
		snprintf(temp, sizeof(temp), "pg_temp.mw_expected_%zu", i);
		if (asprintf(&p, "CREATE TEMP VIEW %s AS %.*s", temp + 8,
			     (int)views[i].len, views[i].select) < 0) {
			mw_set_err(err, errlen, "out of memory");
			goto out;
		}
		free(sql);
		sql = p;
		r = query(conn, sql, 0, NULL, err, errlen);
		if (!r)
			goto out;
		PQclear(r);
		r = query(conn,
			  "SELECT c.relkind, pg_get_viewdef(c.oid) = "
			  "pg_get_viewdef($2::regclass) "
			  "FROM pg_class c WHERE c.relname = $1 AND "
			  "c.relnamespace = 'mcpwarden'::regnamespace",
			  2, params, err, errlen);
		if (!r)
			goto out;
		if (PQntuples(r) != 1)
			problem(arg, "view mcpwarden.%s is missing",
				views[i].name);
		else if (strcmp(PQgetvalue(r, 0, 0), "v"))
			problem(arg,
				"mcpwarden.%s is not a view (relkind %.1s): "
				"something else took its name",
				views[i].name, PQgetvalue(r, 0, 0));
		else if (strcmp(PQgetvalue(r, 0, 1), "t"))
			problem(arg,
				"view mcpwarden.%s is not mcpwarden's: it was "
				"replaced in the database",
				views[i].name);
		PQclear(r);
	}
	rc = 0;
out:
	free(sql);
	return rc;
}

/* Row-level security on the events table or a partition filters what a
 * role reads through the views. */
static int check_row_security(PGconn *conn, mw_schema_problem_fn problem,
			      void *arg, char *err, size_t errlen)
{
	PGresult *r = query(conn,
			    "SELECT c.oid::regclass::text FROM pg_class c "
			    "JOIN pg_partition_tree('mcpwarden.events') t "
			    "ON t.relid = c.oid "
			    "WHERE c.relrowsecurity OR c.relforcerowsecurity "
			    "ORDER BY 1",
			    0, NULL, err, errlen);

	if (!r)
		return -EIO;
	for (int i = 0; i < PQntuples(r); i++)
		problem(arg,
			"row-level security is on for %s: what a role reads "
			"of it may be filtered",
			PQgetvalue(r, i, 0));
	PQclear(r);
	return 0;
}

/*
 * mcpwarden's own triggers refuse changes; any other may change or drop
 * rows as they arrive. Ours are named and call refuse_change; disabled
 * (or firing only as a replica), they refuse nothing.
 */
static int check_triggers(PGconn *conn, mw_schema_problem_fn problem, void *arg,
			  char *err, size_t errlen)
{
	PGresult *r = query(
		conn,
		"SELECT t.tgname, t.tgrelid::regclass::text, "
		"t.tgname IN ('events_append_only', 'events_no_truncate') "
		"AND t.tgfoid = 'mcpwarden.refuse_change()'::regprocedure, "
		"t.tgenabled IN ('O', 'A') "
		"FROM pg_trigger t "
		"JOIN pg_partition_tree('mcpwarden.events') p "
		"ON p.relid = t.tgrelid "
		"WHERE NOT t.tgisinternal AND t.tgconstraint = 0 "
		"ORDER BY 2, 1",
		0, NULL, err, errlen);

	if (!r)
		return -EIO;
	for (int i = 0; i < PQntuples(r); i++) {
		if (strcmp(PQgetvalue(r, i, 2), "t"))
			problem(arg,
				"trigger %s on %s is not mcpwarden's: it may "
				"change or drop rows as they arrive",
				PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
		else if (strcmp(PQgetvalue(r, i, 3), "t"))
			problem(arg,
				"trigger %s on %s is disabled: rows can be "
				"changed without it refusing",
				PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
	}
	PQclear(r);
	return 0;
}

int mw_schema_check(PGconn *conn, mw_schema_problem_fn problem, void *arg,
		    char *err, size_t errlen)
{
	int rc = exec_ok(conn, "BEGIN", PGRES_COMMAND_OK, "begin", err, errlen);

	if (rc)
		return rc;
	rc = check_views(conn, problem, arg, err, errlen);
	if (!rc)
		rc = check_row_security(conn, problem, arg, err, errlen);
	if (!rc)
		rc = check_triggers(conn, problem, arg, err, errlen);
	/* the temporary view goes with the transaction */
	PQclear(PQexec(conn, "ROLLBACK"));
	return rc;
}
