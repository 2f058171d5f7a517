// SPDX-License-Identifier: BSD-2-Clause
/*
 * The audit writer against a real PostgreSQL: an embedded cluster created
 * in a mkdtemp state directory for each test, owned by the OS user
 * "postgres" (or a system user made for the purpose when it is missing).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "chain.h"
#include "log.h"
#include "loop.h"
#include "pg_embedded.h"
#include "schema.h"
#include "sign.h"
#include "spool.h"

#define TA_HOST "ta-host"
#define TA_POLICY_SHA \
	"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define TA_FALLBACK_USER "mw-audit-test"

static char ta_dir[64];
static const char *ta_user;
static struct mw_audit_config ta_cfg;

/* Runs argv (execvp) and returns its exit status, or -1. */
static int ta_exec(char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);

		if (nul >= 0) {
			dup2(nul, 1);
			dup2(nul, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void ta_setup(void)
{
	strcpy(ta_dir, "/tmp/mw-audit-XXXXXX");
	cr_assert_not_null(mkdtemp(ta_dir), "mkdtemp: %s", strerror(errno));
	ta_user = "postgres";
	if (!getpwnam(ta_user)) {
		char *argv[] = {
			"useradd", "--system",		"--no-create-home",
			"--shell", "/usr/sbin/nologin", TA_FALLBACK_USER,
			NULL
		};

		ta_user = TA_FALLBACK_USER;
		if (!getpwnam(ta_user))
			cr_assert_eq(ta_exec(argv), 0, "useradd %s failed",
				     ta_user);
	}
	memset(&ta_cfg, 0, sizeof(ta_cfg));
	ta_cfg.dsn = NULL;
	ta_cfg.state_dir = ta_dir;
	ta_cfg.host = TA_HOST;
	ta_cfg.embedded_user = ta_user;
	ta_cfg.max_queue = 1024;
	ta_cfg.max_queue_bytes = 0;
	ta_cfg.batch_ms = 10;
	ta_cfg.batch_max = 64;
	/* checkpoints have tests of their own: none unless asked for */
	ta_cfg.checkpoint_events = 1000000000;
	ta_cfg.checkpoint_ms = 24 * 3600 * 1000;
}

static int ta_rm_one(const char *path, const struct stat *sb, int flag,
		     struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void ta_teardown(void)
{
	char err[512];

	if (!*ta_dir)
		return;
	if (mw_pg_embedded_stop(ta_dir, ta_user, err, sizeof(err)))
		cr_log_warn("stopping the test cluster: %s", err);
	nftw(ta_dir, ta_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	ta_dir[0] = '\0';
}

TestSuite(audit, .init = ta_setup, .fini = ta_teardown, .timeout = 180);

/* ---- driving the loop ---- */

struct ta_drive {
	struct mw_tick tick; /* first: the tick callback casts back */
	struct mw_loop *loop;
	struct mw_audit *a;
	bool (*step)(struct ta_drive *d, int64_t now);
	uint64_t target;
	int64_t deadline;
	bool timed_out;
	/* the outage scenario */
	int phase;
	int64_t mark;
	int rc_stop, rc_start;
	uint64_t written_in_outage;
	bool connected_in_outage;
	uint64_t seqs[8];
	PGconn *db, *db2;
	/* ta_killed_step: queues events 2 and 3, the database stopped */
	bool (*queue_in_outage)(struct ta_drive *d);
	/* durability during the outage */
	struct mw_audit_stats in_outage;
	uint64_t notified, notifications;
};

static void ta_on_durable(void *arg, uint64_t seq)
{
	struct ta_drive *d = arg;

	cr_assert_gt(seq, d->notified, "durable_seq went back");
	d->notified = seq;
	d->notifications++;
}

static void ta_on_tick(struct mw_tick *t, int64_t now)
{
	struct ta_drive *d = (struct ta_drive *)t;

	if (now > d->deadline) {
		d->timed_out = true;
		mw_loop_stop(d->loop);
		return;
	}
	if (d->step(d, now))
		mw_loop_stop(d->loop);
}

static bool ta_written_reached(struct ta_drive *d, int64_t now)
{
	struct mw_audit_stats st;

	(void)now;
	mw_audit_stats(d->a, &st);
	return st.written >= d->target;
}

/* Runs the loop (once: a loop is not restarted) until step says done. */
static void ta_drive_loop(struct ta_drive *d, int timeout_ms)
{
	d->tick.cb = ta_on_tick;
	d->deadline = mw_now_ms() + timeout_ms;
	mw_loop_add_tick(d->loop, &d->tick);
	cr_assert_eq(mw_loop_run(d->loop), 0);
	cr_assert_not(d->timed_out, "timed out in the loop (phase %d)",
		      d->phase);
}

static void ta_drive_until_written(struct mw_loop *loop, struct mw_audit *a,
				   long long n)
{
	struct ta_drive d = { 0 };

	d.loop = loop;
	d.a = a;
	d.step = ta_written_reached;
	d.target = (uint64_t)n;
	ta_drive_loop(&d, 30000);
}

static struct mw_audit *ta_open(struct mw_loop *loop)
{
	struct mw_audit *a = NULL;
	char err[512] = "";
	int rc = mw_audit_open(&a, &ta_cfg, loop, err, sizeof(err));

	cr_assert_eq(rc, 0, "mw_audit_open: %d %s", rc, err);
	cr_assert_not_null(a);
	return a;
}

static PGconn *ta_db_as(enum mw_audit_role role)
{
	char ci[1024];
	PGconn *c;

	cr_assert_eq(mw_audit_conninfo_as(&ta_cfg, role, ci, sizeof(ci)), 0);
	c = PQconnectdb(ci);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "connect %s: %s", ci,
		     PQerrorMessage(c));
	return c;
}

/* The owner's login: a superuser of the embedded cluster. */
static PGconn *ta_db(void)
{
	return ta_db_as(MW_AUDIT_OWNER);
}

static void ta_exec_sql(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s: %s", sql,
		     PQresultErrorMessage(r));
	PQclear(r);
}

/* Each row inserted into the events waits `seconds` (an SQL interval in
 * seconds): the database falls behind the daemon. */
static void ta_slow_inserts(const char *seconds)
{
	PGconn *c = ta_db();
	char sql[512];

	snprintf(sql, sizeof(sql),
		 "CREATE FUNCTION public.ta_slow() RETURNS trigger "
		 "LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(%s); "
		 "RETURN NEW; END $$;"
		 "CREATE TRIGGER ta_slow BEFORE INSERT ON "
		 "mcpwarden.events FOR EACH ROW EXECUTE FUNCTION "
		 "public.ta_slow()",
		 seconds);
	ta_exec_sql(c, sql);
	PQfinish(c);
}

static PGresult *ta_query(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql,
		     PQresultErrorMessage(r));
	return r;
}

static long long ta_count(PGconn *c, const char *sql)
{
	PGresult *r = ta_query(c, sql);
	long long n = atoll(PQgetvalue(r, 0, 0));

	PQclear(r);
	return n;
}

static void ta_assert_json(const char *text, const char *want)
{
	json_t *a = json_loads(text, 0, NULL), *b = json_loads(want, 0, NULL);

	cr_assert_not_null(a, "not JSON: %s", text);
	cr_assert_not_null(b, "bad expectation: %s", want);
	cr_assert(json_equal(a, b), "JSON %s != %s", text, want);
	json_decref(a);
	json_decref(b);
}

static void ta_identity(struct mw_identity *id)
{
	memset(id, 0, sizeof(*id));
	id->pid = 4242;
	id->tgid = 4240;
	id->uid = 1000;
	id->gid = 1001;
	id->cgroup_id = 77;
	strcpy(id->comm, "agent-py");
	strcpy(id->exe, "/usr/bin/python3.11");
	strcpy(id->cgroup, "/agents/a1");
	strcpy(id->user, "alice");
}

/* A simple request event (no identity) on conn_id. */
static uint64_t ta_submit_at(struct mw_audit *a, uint64_t conn_id,
			     const char *method, int64_t ts_us)
{
	struct mw_audit_event ev = {
		.kind = MW_EV_REQUEST,
		.ts_us = ts_us,
		.conn_id = conn_id,
		.server = "billing",
		.direction = "c2s",
		.rpc_id = "7",
		.method = method,
		.decision = "allow",
	};

	return mw_audit_submit(a, &ev);
}

static uint64_t ta_submit_simple(struct mw_audit *a, uint64_t conn_id,
				 const char *method)
{
	return ta_submit_at(a, conn_id, method, 0);
}

/* ---- tests ---- */

Test(audit, conninfo)
{
	struct mw_audit_config c = ta_cfg;
	char buf[512], want[512];

	cr_assert_eq(mw_audit_conninfo_as(&c, MW_AUDIT_OWNER, buf, sizeof(buf)),
		     0);
	snprintf(want, sizeof(want),
		 "host=%s/pg/run dbname=mcpwarden user=mcpwarden", ta_dir);
	cr_assert_str_eq(buf, want);
	/* auditors by default: the later user= wins in libpq */
	cr_assert_eq(mw_audit_conninfo(&c, buf, sizeof(buf)), 0);
	snprintf(want, sizeof(want),
		 "host=%s/pg/run dbname=mcpwarden user=mcpwarden "
		 "user=mcpwarden_auditor",
		 ta_dir);
	cr_assert_str_eq(buf, want);
	c.dsn = "host=db.example dbname=audit";
	cr_assert_eq(mw_audit_conninfo_as(&c, MW_AUDIT_OWNER, buf, sizeof(buf)),
		     0);
	cr_assert_str_eq(buf, "host=db.example dbname=audit");
	cr_assert_eq(
		mw_audit_conninfo_as(&c, MW_AUDIT_WRITER, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "host=db.example dbname=audit "
			      "user=mcpwarden_writer");
	c.dsn = "postgresql://db.example/audit?sslmode=require";
	cr_assert_eq(mw_audit_conninfo(&c, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "postgresql://db.example/audit?sslmode=require"
			      "&user=mcpwarden_auditor");
	c.writer_dsn = "host=db.example user=w password=secret";
	cr_assert_eq(
		mw_audit_conninfo_as(&c, MW_AUDIT_WRITER, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "host=db.example user=w password=secret");
	cr_assert_eq(mw_audit_conninfo(&c, buf, 5), -ENOSPC);
}

Test(audit, missing_user_is_explained)
{
	struct mw_loop *loop;
	struct mw_audit *a = NULL;
	char err[512] = "";

	cr_assert_eq(mw_loop_new(&loop), 0);
	ta_cfg.embedded_user = "mw-no-such-user-zz";
	cr_assert_neq(mw_audit_open(&a, &ta_cfg, loop, err, sizeof(err)), 0);
	cr_assert_null(a);
	cr_assert_not_null(strstr(err, "user mw-no-such-user-zz does not "
				       "exist (create it: useradd --system "
				       "mw-no-such-user-zz)"),
			   "%s", err);
	mw_loop_free(loop);
}

Test(audit, tool_call_round_trip)
{
	struct mw_identity id;
	struct mw_loop *loop;
	struct mw_audit *a;
	uint64_t conn_id, s1, s2, s3;
	json_t *params, *result;
	PGresult *r;
	PGconn *c;

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	conn_id = mw_audit_next_conn_id(a);
	cr_assert_eq(conn_id, 1);
	ta_identity(&id);

	struct mw_audit_event open_ev = {
		.kind = MW_EV_CONN_OPEN,
		.conn_id = conn_id,
		.server = "billing",
		.identity = &id,
		.client_addr = "127.0.0.1:40000",
		.server_addr = "10.0.0.5:8080",
	};
	s1 = mw_audit_submit(a, &open_ev);
	cr_assert_eq(s1, 1);

	params = json_pack("{s:s, s:{s:s, s:i}}", "name", "get_invoice",
			   "arguments", "id", "INV-7", "limit", 3);
	struct mw_audit_event req = {
		.kind = MW_EV_REQUEST,
		.ts_us = mw_now_us(),
		.conn_id = conn_id,
		.server = "billing",
		.session_id = "sess-1",
		.direction = "c2s",
		.rpc_id = "1",
		.method = "tools/call",
		.tool = "get_invoice",
		.params = params,
		.decision = "allow",
		.rule = "billing-read",
		.policy_sha256 = TA_POLICY_SHA,
	};
	s2 = mw_audit_submit(a, &req);
	cr_assert_eq(s2, 2);
	json_decref(params); /* borrowed: serialised at submit */

	result = json_pack("{s:[{s:s, s:s}]}", "content", "type", "text",
			   "text", "invoice INV-7: 42 EUR");
	struct mw_audit_event resp = {
		.kind = MW_EV_RESPONSE,
		.conn_id = conn_id,
		.server = "billing",
		.session_id = "sess-1",
		.direction = "s2c",
		.rpc_id = "1",
		.result = result,
		.request_seq = s2,
		.latency_us = 12500,
	};
	s3 = mw_audit_submit(a, &resp);
	cr_assert_eq(s3, 3);
	json_decref(result);

	ta_drive_until_written(loop, a, 3);

	struct mw_audit_stats st;
	mw_audit_stats(a, &st);
	cr_assert_eq(st.submitted, 3);
	cr_assert_eq(st.written, 3);
	cr_assert_eq(st.queued, 0);
	cr_assert(st.connected);

	c = ta_db();
	r = ta_query(c, "SELECT tool, arguments::text, uid, comm, "
			"response::text, is_error, latency_ms, method, "
			"decision, rule, session_id, server, user_name, exe, "
			"cgroup, gid, pid, subject IS NULL, conn_id, seq, "
			"params->>'name', host, policy_sha256 "
			"FROM mcpwarden.tool_calls");
	cr_assert_eq(PQntuples(r), 1);
	cr_assert_str_eq(PQgetvalue(r, 0, 0), "get_invoice");
	ta_assert_json(PQgetvalue(r, 0, 1), "{\"id\":\"INV-7\",\"limit\":3}");
	cr_assert_str_eq(PQgetvalue(r, 0, 2), "1000");
	cr_assert_str_eq(PQgetvalue(r, 0, 3), "agent-py");
	ta_assert_json(PQgetvalue(r, 0, 4),
		       "{\"content\":[{\"type\":\"text\","
		       "\"text\":\"invoice INV-7: 42 EUR\"}]}");
	cr_assert_str_eq(PQgetvalue(r, 0, 5), "f");
	cr_assert_str_eq(PQgetvalue(r, 0, 6), "12.5");
	cr_assert_str_eq(PQgetvalue(r, 0, 7), "tools/call");
	cr_assert_str_eq(PQgetvalue(r, 0, 8), "allow");
	cr_assert_str_eq(PQgetvalue(r, 0, 9), "billing-read");
	cr_assert_str_eq(PQgetvalue(r, 0, 10), "sess-1");
	cr_assert_str_eq(PQgetvalue(r, 0, 11), "billing");
	cr_assert_str_eq(PQgetvalue(r, 0, 12), "alice");
	cr_assert_str_eq(PQgetvalue(r, 0, 13), "/usr/bin/python3.11");
	cr_assert_str_eq(PQgetvalue(r, 0, 14), "/agents/a1");
	cr_assert_str_eq(PQgetvalue(r, 0, 15), "1001");
	cr_assert_str_eq(PQgetvalue(r, 0, 16), "4242");
	cr_assert_str_eq(PQgetvalue(r, 0, 17), "t");
	cr_assert_str_eq(PQgetvalue(r, 0, 18), "1");
	cr_assert_str_eq(PQgetvalue(r, 0, 19), "2");
	cr_assert_str_eq(PQgetvalue(r, 0, 20), "get_invoice");
	cr_assert_str_eq(PQgetvalue(r, 0, 21), TA_HOST);
	cr_assert_str_eq(PQgetvalue(r, 0, 22), TA_POLICY_SHA);
	PQclear(r);
	cr_assert_eq(ta_count(c, "SELECT count(*) FROM mcpwarden.messages "
				 "WHERE policy_sha256 = '" TA_POLICY_SHA "'"),
		     1, "the request names its policy, the response none");

	cr_assert_eq(ta_count(c, "SELECT count(*) FROM mcpwarden.messages"), 2);
	cr_assert_eq(ta_count(c, "SELECT count(*) FROM mcpwarden.messages "
				 "WHERE direction = 's2c' AND request_seq = 2"),
		     1);
	cr_assert_eq(ta_count(c, "SELECT count(*) FROM "
				 "mcpwarden.connection_events WHERE "
				 "kind = 'conn_open' AND uid = 1000 AND "
				 "client_addr = '127.0.0.1:40000'"),
		     1);
	cr_assert_eq(ta_count(c, "SELECT count(*) FROM mcpwarden.http_errors"),
		     0);
	cr_assert_eq(ta_count(c, "SELECT max(version) FROM "
				 "mcpwarden.schema_version"),
		     mw_schema_latest());
	cr_assert_eq(ta_count(c, "SELECT count(*) FROM "
				 "mcpwarden.schema_version"),
		     mw_schema_latest(), "every migration applied once");

	/* connections: a view over the conn_open rows of events. */
	r = ta_query(c, "SELECT relkind FROM pg_class WHERE oid = "
			"'mcpwarden.connections'::regclass");
	cr_assert_str_eq(PQgetvalue(r, 0, 0), "v");
	PQclear(r);
	r = ta_query(c, "SELECT string_agg(attname, ',' ORDER BY attnum) "
			"FROM pg_attribute WHERE attrelid = "
			"'mcpwarden.connections'::regclass AND attnum > 0");
	cr_assert_str_eq(PQgetvalue(r, 0, 0),
			 "host,conn_id,ts,pid,tgid,uid,gid,user_name,comm,exe,"
			 "cgroup_id,cgroup,server,client_addr,server_addr");
	PQclear(r);
	r = ta_query(c, "SELECT c.host, c.conn_id, c.ts = e.ts, c.pid, "
			"c.tgid, c.uid, c.gid, c.user_name, c.comm, c.exe, "
			"c.cgroup_id, c.cgroup, c.server, c.client_addr, "
			"c.server_addr FROM mcpwarden.connections c "
			"JOIN mcpwarden.events e ON e.host = c.host "
			"AND e.seq = 1");
	cr_assert_eq(PQntuples(r), 1);
	cr_assert_str_eq(PQgetvalue(r, 0, 0), TA_HOST);
	cr_assert_str_eq(PQgetvalue(r, 0, 1), "1");
	cr_assert_str_eq(PQgetvalue(r, 0, 2), "t");
	cr_assert_str_eq(PQgetvalue(r, 0, 3), "4242");
	cr_assert_str_eq(PQgetvalue(r, 0, 4), "4240");
	cr_assert_str_eq(PQgetvalue(r, 0, 5), "1000");
	cr_assert_str_eq(PQgetvalue(r, 0, 6), "1001");
	cr_assert_str_eq(PQgetvalue(r, 0, 7), "alice");
	cr_assert_str_eq(PQgetvalue(r, 0, 8), "agent-py");
	cr_assert_str_eq(PQgetvalue(r, 0, 9), "/usr/bin/python3.11");
	cr_assert_str_eq(PQgetvalue(r, 0, 10), "77");
	cr_assert_str_eq(PQgetvalue(r, 0, 11), "/agents/a1");
	cr_assert_str_eq(PQgetvalue(r, 0, 12), "billing");
	cr_assert_str_eq(PQgetvalue(r, 0, 13), "127.0.0.1:40000");
	cr_assert_str_eq(PQgetvalue(r, 0, 14), "10.0.0.5:8080");
	PQclear(r);
	/* Only the indexes the views and the writer need. */
	r = ta_query(c, "SELECT string_agg(indexname, ',' ORDER BY "
			"indexname) FROM pg_indexes WHERE schemaname = "
			"'mcpwarden' AND tablename = 'events'");
	cr_assert_str_eq(
		PQgetvalue(r, 0, 0),
		"events_conn_open_idx,events_pkey,events_response_idx");
	PQclear(r);
	PQfinish(c);

	mw_audit_close(a);
	mw_loop_free(loop);
	mw_audit_stop_embedded(&ta_cfg);
	cr_assert_eq(mw_pg_embedded_status(ta_dir, ta_user, NULL, 0), 0,
		     "the cluster this process started is stopped");
}

Test(audit, unanswered_request_and_hostile_strings)
{
	struct mw_loop *loop;
	struct mw_audit *a;
	json_t *params;
	PGresult *r;
	PGconn *c;

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);

	/* NUL inside a JSON string, and a literal backslash-u0000 text. */
	params = json_pack("{s:o, s:s}", "nul", json_stringn("a\0b", 3), "lit",
			   "C:\\u0000dir");
	struct mw_audit_event req = {
		.kind = MW_EV_REQUEST,
		.conn_id = 9,
		.method = "resources/read",
		.params = params,
		.rpc_id = "\"r1\"",
	};
	cr_assert_eq(mw_audit_submit(a, &req), 1);
	json_decref(params);

	struct mw_audit_event herr = {
		.kind = MW_EV_HTTP_ERROR,
		.conn_id = 9,
		.http_method = "POST",
		.http_path = "/mcp\xc3",
		.http_status = 400,
		.detail = "bad \xff\xfe bytes",
	};
	cr_assert_eq(mw_audit_submit(a, &herr), 2);

	ta_drive_until_written(loop, a, 2);

	c = ta_db();
	r = ta_query(c, "SELECT arguments->>'nul', arguments->>'lit', "
			"is_error IS NULL, response IS NULL, uid IS NULL "
			"FROM mcpwarden.tool_calls");
	cr_assert_eq(PQntuples(r), 1);
	cr_assert_str_eq(PQgetvalue(r, 0, 0), "a\xef\xbf\xbd"
					      "b");
	cr_assert_str_eq(PQgetvalue(r, 0, 1), "C:\\u0000dir");
	cr_assert_str_eq(PQgetvalue(r, 0, 2), "t", "no response: unknown");
	cr_assert_str_eq(PQgetvalue(r, 0, 3), "t");
	cr_assert_str_eq(PQgetvalue(r, 0, 4), "t");
	PQclear(r);
	r = ta_query(c, "SELECT detail, http_path, http_status "
			"FROM mcpwarden.http_errors");
	cr_assert_eq(PQntuples(r), 1);
	cr_assert_str_eq(PQgetvalue(r, 0, 0), "bad \xef\xbf\xbd\xef\xbf\xbd "
					      "bytes");
	cr_assert_str_eq(PQgetvalue(r, 0, 1), "/mcp\xef\xbf\xbd");
	cr_assert_str_eq(PQgetvalue(r, 0, 2), "400");
	PQclear(r);
	PQfinish(c);

	mw_audit_close(a);
	mw_loop_free(loop);
}

Test(audit, restart_continues_numbering)
{
	struct mw_loop *loop;
	struct mw_audit *a;
	struct mw_identity id;
	PGresult *r;
	PGconn *c;

	ta_identity(&id);
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	cr_assert_eq(mw_audit_next_conn_id(a), 1);
	cr_assert_eq(mw_audit_next_conn_id(a), 2);
	struct mw_audit_event open_ev = {
		.kind = MW_EV_CONN_OPEN,
		.conn_id = 2,
		.identity = &id,
	};
	cr_assert_eq(mw_audit_submit(a, &open_ev), 1);
	cr_assert_eq(ta_submit_simple(a, 2, "tools/list"), 2);
	ta_drive_until_written(loop, a, 2);
	mw_audit_close(a);
	mw_loop_free(loop);

	/* Second run: submit and close at once; close flushes, after
	 * signing the tail of the chain (a checkpoint, seq 3 and 6). */
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	cr_assert_eq(mw_audit_next_conn_id(a), 3);
	cr_assert_eq(ta_submit_simple(a, 3, "ping"), 4);
	cr_assert_eq(ta_submit_simple(a, 3, "tools/list"), 5);
	mw_audit_close(a);
	mw_loop_free(loop);

	/* Third run: numbering still continues. */
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	cr_assert_eq(mw_audit_next_conn_id(a), 4);
	cr_assert_eq(ta_submit_simple(a, 4, "ping"), 7);
	mw_audit_close(a);
	mw_loop_free(loop);

	c = ta_db();
	r = ta_query(c,
		     "SELECT string_agg(seq::text || kind, ',' ORDER BY "
		     "seq) FROM mcpwarden.events WHERE host = '" TA_HOST "'");
	cr_assert_str_eq(PQgetvalue(r, 0, 0),
			 "1conn_open,2request,3checkpoint,4request,5request,"
			 "6checkpoint,7request,8checkpoint");
	PQclear(r);
	PQfinish(c);
}

/*
 * Every row of the host gone (retention, the host idle longer than it
 * keeps; or an older backup restored): the next run does not number its
 * events again from 1, which the checkpoint file vouches for with other
 * hashes, but goes on after the file's last checkpoint. A run after that
 * whose events stayed in the spool (the database away until its close)
 * starts again from that spool, past the gap.
 */
Test(audit, a_chain_the_database_lost_goes_on_after_the_checkpoint_file)
{
	struct mw_audit_stats st;
	struct mw_loop *loop;
	struct mw_audit *a;
	PGresult *r;
	PGconn *c;

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	cr_assert_eq(ta_submit_simple(a, 1, "ping"), 1);
	cr_assert_eq(ta_submit_simple(a, 1, "tools/list"), 2);
	mw_audit_close(a); /* signs them: checkpoint 3, in the file */
	mw_loop_free(loop);
	c = ta_db();
	ta_exec_sql(c, "BEGIN; SET LOCAL session_replication_role = replica; "
		       "DELETE FROM mcpwarden.events; COMMIT");

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	mw_audit_stats(a, &st);
	cr_assert_eq(st.missing, 3, "the gap is alerted");
	/* the database away until after the close: 4 and the close's
	 * checkpoint 5 stay in the spool (locked before the writer's COPY
	 * can hold the table, which it would until the close) */
	ta_exec_sql(c, "BEGIN; LOCK TABLE mcpwarden.events IN ACCESS "
		       "EXCLUSIVE MODE");
	cr_assert_eq(ta_submit_simple(a, 2, "ping"), 4,
		     "not numbered again over the file's seqs");
	mw_audit_close(a);
	mw_loop_free(loop);
	ta_exec_sql(c, "ROLLBACK");
	cr_assert_eq(ta_count(c, "SELECT count(*) FROM mcpwarden.events"), 0);

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	cr_assert_eq(ta_submit_simple(a, 3, "ping"), 6);
	mw_audit_close(a);
	mw_loop_free(loop);
	r = ta_query(c,
		     "SELECT string_agg(seq::text || kind, ',' ORDER BY "
		     "seq) FROM mcpwarden.events WHERE host = '" TA_HOST "'");
	cr_assert_str_eq(PQgetvalue(r, 0, 0),
			 "4request,5checkpoint,6request,7checkpoint");
	PQclear(r);
	PQfinish(c);
}

static char *ta_read_file(const char *path);

/*
 * The log (stderr) goes to a file of the test's directory until
 * ta_log_end, which returns what was written: a pipe would stop the
 * test once full.
 */
static int ta_log_start(void)
{
	char path[PATH_MAX];
	int saved, fd;

	snprintf(path, sizeof(path), "%s/test.log", ta_dir);
	fflush(stderr);
	saved = dup(2);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert(saved >= 0 && fd >= 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(dup2(fd, 2), 2);
	close(fd);
	return saved;
}

static char *ta_log_end(int saved)
{
	char path[PATH_MAX];

	fflush(stderr);
	cr_assert_eq(dup2(saved, 2), 2);
	close(saved);
	snprintf(path, sizeof(path), "%s/test.log", ta_dir);
	return ta_read_file(path);
}

static size_t ta_occurrences(const char *s, const char *what)
{
	size_t n = 0;

	for (; (s = strstr(s, what)); s += strlen(what))
		n++;
	return n;
}

/*
 * Past audit.max_queue events calls are refused, with the AU-5 alert
 * (once, not for each call refused) and a line when events are taken
 * again, as for audit.max_queue_bytes.
 */
Test(audit, queue_full_refuses)
{
	struct mw_loop *loop;
	struct mw_audit *a;
	struct mw_audit_stats st;
	char *log;
	int saved;

	ta_cfg.max_queue = 3;
	ta_cfg.batch_max = 100;
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	cr_assert_eq(ta_submit_simple(a, 1, "ping"), 1);
	cr_assert_eq(ta_submit_simple(a, 1, "ping"), 2);
	cr_assert_eq(ta_submit_simple(a, 1, "ping"), 3);
	saved = ta_log_start();
	cr_assert_eq(ta_submit_simple(a, 1, "ping"), 0, "queue full");
	cr_assert_eq(ta_submit_simple(a, 1, "ping"), 0, "queue full");
	log = ta_log_end(saved);
	cr_assert_eq(ta_occurrences(log, "ALERT (AU-5): audit.max_queue is "
					 "reached"),
		     1, "%s", log);
	free(log);
	mw_audit_stats(a, &st);
	cr_assert_eq(st.queued, 3);
	cr_assert_eq(st.submitted, 3);

	ta_drive_until_written(loop, a, 3);
	mw_audit_stats(a, &st);
	cr_assert_eq(st.queued, 0);
	/* Room again; the refused event did not take a seq. */
	saved = ta_log_start();
	cr_assert_eq(ta_submit_simple(a, 1, "ping"), 4);
	log = ta_log_end(saved);
	cr_assert_not_null(strstr(log, "the queue takes events again"), "%s",
			   log);
	free(log);
	mw_audit_close(a);
	mw_loop_free(loop);
}

/*
 * A load held at the bound: the database takes about five events a
 * step (20 ms each), and callers fill the queue again until one is
 * refused. Each step keeps it so until 40 were written.
 */
static bool ta_held_at_bound_step(struct ta_drive *d, int64_t now)
{
	struct mw_audit_stats st;

	(void)now;
	mw_audit_stats(d->a, &st);
	if (st.written >= 40)
		return true;
	if (st.queued < 40) {
		while (ta_submit_simple(d->a, 1, "ping"))
			;
		d->seqs[0]++;
	}
	return false;
}

static bool ta_queue_empty(struct ta_drive *d, int64_t now)
{
	struct mw_audit_stats st;

	(void)now;
	mw_audit_stats(d->a, &st);
	return !st.queued;
}

/*
 * The alert and the line after it come once per episode, not once per
 * batch the database takes while callers hold the queue at its bound:
 * the line waits until a quarter of the bound is free, and says how
 * many events were refused meanwhile.
 */
Test(audit, a_queue_held_at_its_bound_is_said_once)
{
	struct ta_drive d = { 0 };
	struct mw_loop *loop;
	struct mw_audit *a;
	char *log, want[96];
	int saved;

	ta_cfg.max_queue = 40;
	ta_cfg.batch_max = 1;
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	ta_slow_inserts("0.02");
	for (int i = 0; i < 40; i++)
		cr_assert_neq(ta_submit_simple(a, 1, "ping"), 0);
	saved = ta_log_start();
	cr_assert_eq(ta_submit_simple(a, 1, "ping"), 0, "queue full");
	d.loop = loop;
	d.a = a;
	d.step = ta_held_at_bound_step;
	ta_drive_loop(&d, 30000);
	log = ta_log_end(saved);
	cr_assert_geq(d.seqs[0], 5, "the bound was met %llu times",
		      (unsigned long long)d.seqs[0]);
	cr_assert_eq(ta_occurrences(log, "ALERT (AU-5): audit.max_queue is "
					 "reached"),
		     1, "%s", log);
	cr_assert_eq(ta_occurrences(log, "the queue takes events again"), 0,
		     "%s", log);
	free(log);
	/* drained: said once, with the count */
	mw_loop_del_tick(loop, &d.tick);
	d.step = ta_queue_empty;
	saved = ta_log_start();
	ta_drive_loop(&d, 30000);
	cr_assert_neq(ta_submit_simple(a, 1, "ping"), 0);
	log = ta_log_end(saved);
	snprintf(want, sizeof(want),
		 "the queue takes events again (%llu event(s) refused",
		 (unsigned long long)d.seqs[0] + 1);
	cr_assert_eq(ta_occurrences(log, want), 1, "%s", log);
	free(log);
	mw_audit_close(a);
	mw_loop_free(loop);
}

/*
 * Events stay in memory until the database has them: their bytes are
 * bounded too (audit.max_queue_bytes), not only their number, or a few
 * large requests during an outage would take the host's memory.
 */
Test(audit, queue_bytes_full_refuses)
{
	struct mw_audit_event ev = {
		.kind = MW_EV_REQUEST,
		.conn_id = 1,
		.server = "billing",
		.direction = "c2s",
		.rpc_id = "7",
		.method = "tools/call",
		.decision = "allow",
	};
	size_t blob_len = 1 << 20, accepted = 0;
	struct ta_drive d = { 0 };
	struct mw_audit_stats st;
	struct mw_loop *loop;
	struct mw_audit *a;
	char *blob = malloc(blob_len + 1);

	cr_assert_not_null(blob);
	memset(blob, 'x', blob_len);
	blob[blob_len] = '\0';
	ev.params = json_pack("{ss}", "blob", blob);
	free(blob);
	ta_cfg.max_queue_bytes = 64 << 20;
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	/* nothing ships while the loop does not run */
	while (accepted < 100 && mw_audit_submit(a, &ev))
		accepted++;
	mw_audit_stats(a, &st);
	/* a line's chunk is sized for its worst case (escapes doubled):
	 * about 2 MiB for each of these */
	cr_assert_lt(accepted, 64, "1 MiB events past a 64 MiB bound");
	cr_assert_geq(accepted, 24, "the bound refused early: %zu", accepted);
	cr_assert_leq(st.queue_bytes, 64 << 20);
	cr_assert_eq(st.queued, accepted);

	d.loop = loop;
	d.a = a;
	d.step = ta_written_reached;
	d.target = accepted;
	ta_drive_loop(&d, 60000);
	mw_audit_stats(a, &st);
	cr_assert_eq(st.queued, 0);
	/* every chunk went back, a large event's last one too */
	cr_assert_leq(st.queue_bytes, 64 << 10, "%zu bytes kept",
		      st.queue_bytes);
	cr_assert_eq(mw_audit_submit(a, &ev), accepted + 1, "room again");
	json_decref(ev.params);
	mw_audit_close(a);
	mw_loop_free(loop);
}

static bool ta_outage_step(struct ta_drive *d, int64_t now)
{
	struct mw_audit_stats st;
	char err[512];

	mw_audit_stats(d->a, &st);
	switch (d->phase) {
	case 0:
		if (st.written < 2)
			return false;
		/* Queued just before the server goes away. */
		d->seqs[2] = ta_submit_simple(d->a, 1, "ping");
		d->rc_stop =
			mw_pg_embedded_stop(ta_dir, ta_user, err, sizeof(err));
		if (d->rc_stop)
			cr_log_error("stop: %s", err);
		/* Submitted while it is down. */
		d->seqs[3] = ta_submit_simple(d->a, 1, "tools/list");
		d->seqs[4] = ta_submit_simple(d->a, 1, "tools/call");
		d->mark = now;
		d->phase = 1;
		return false;
	case 1:
		/* a second of outage at least, for reconnects to fail; more
		 * while the spool's sync is slow (a loaded machine), up to
		 * a bound the assertions then judge */
		if (now - d->mark < 1000 ||
		    (st.durable_seq < d->seqs[4] && now - d->mark < 15000))
			return false;
		d->written_in_outage = st.written;
		d->connected_in_outage = st.connected;
		d->in_outage = st;
		d->seqs[5] = ta_submit_simple(d->a, 1, "ping");
		d->rc_start = mw_pg_embedded_start(ta_dir, ta_user, NULL, err,
						   sizeof(err));
		if (d->rc_start)
			cr_log_error("start: %s", err);
		d->phase = 2;
		return false;
	default:
		return st.written >= 6;
	}
}

Test(audit, outage_loses_nothing)
{
	struct mw_loop *loop;
	struct mw_audit *a;
	struct ta_drive d = { 0 };
	struct mw_audit_stats st;
	PGresult *r;
	PGconn *c;

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	mw_audit_on_durable(a, ta_on_durable, &d);
	d.seqs[0] = ta_submit_simple(a, 1, "initialize");
	d.seqs[1] = ta_submit_simple(a, 1, "tools/list");
	d.loop = loop;
	d.a = a;
	d.step = ta_outage_step;
	ta_drive_loop(&d, 60000);

	cr_assert_eq(d.rc_stop, 0);
	cr_assert_eq(d.rc_start, 0);
	cr_assert_eq(d.written_in_outage, 2);
	cr_assert_not(d.connected_in_outage);
	/* the database away, the spool made every event durable */
	cr_assert_eq(d.in_outage.durable_seq, 5);
	cr_assert_geq(d.in_outage.spooled, 3);
	cr_assert_gt(d.in_outage.spool_bytes, 0);
	cr_assert_not(d.in_outage.spool_failing);
	for (int i = 0; i < 6; i++)
		cr_assert_eq(d.seqs[i], (uint64_t)i + 1);
	mw_audit_stats(a, &st);
	cr_assert_eq(st.written, 6);
	cr_assert_eq(st.queued, 0);
	cr_assert(st.connected);
	cr_assert_eq(st.spool_bytes, 0, "shipped, the spool is emptied");
	cr_assert_eq(d.notified, 6);
	cr_assert_geq(d.notifications, 2);

	c = ta_db();
	r = ta_query(c, "SELECT string_agg(seq::text, ',' ORDER BY seq) "
			"FROM mcpwarden.tool_calls");
	cr_assert_str_eq(PQgetvalue(r, 0, 0), "1,2,3,4,5,6");
	PQclear(r);
	PQfinish(c);
	mw_audit_close(a);
	mw_loop_free(loop);
}

/* A row the server refuses for its data: the others still get through. */
Test(audit, refused_event_does_not_block_the_trail)
{
	struct mw_loop *loop;
	struct mw_audit *a;
	struct mw_audit_stats st;
	PGresult *r;
	PGconn *c;

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	c = ta_db();
	ta_exec_sql(c, "ALTER TABLE mcpwarden.events ADD CONSTRAINT "
		       "ta_no_poison CHECK (method IS DISTINCT FROM 'poison')");
	cr_assert_eq(ta_submit_simple(a, 1, "ping"), 1);
	cr_assert_eq(ta_submit_simple(a, 1, "poison"), 2);
	cr_assert_eq(ta_submit_simple(a, 1, "ping"), 3);
	cr_assert_eq(ta_submit_simple(a, 1, "ping"), 4);
	ta_drive_until_written(loop, a, 4);
	mw_audit_stats(a, &st);
	cr_assert_geq(st.failed_batches, 2, "the batch, then the event alone");
	cr_assert_eq(st.queued, 0);

	r = ta_query(c, "SELECT seq, coalesce(method, '-'), "
			"coalesce(detail, '-') FROM mcpwarden.events "
			"ORDER BY seq");
	cr_assert_eq(PQntuples(r), 4);
	cr_assert_str_eq(PQgetvalue(r, 0, 1), "ping");
	cr_assert_str_eq(PQgetvalue(r, 1, 1), "-");
	cr_assert_not_null(strstr(PQgetvalue(r, 1, 2),
				  "event not recordable (SQLSTATE 23514"),
			   "%s", PQgetvalue(r, 1, 2));
	cr_assert_str_eq(PQgetvalue(r, 2, 1), "ping");
	cr_assert_str_eq(PQgetvalue(r, 3, 1), "ping");
	cr_assert_str_eq(PQgetvalue(r, 3, 2), "-");
	PQclear(r);
	PQfinish(c);
	mw_audit_close(a);
	mw_loop_free(loop);
}

static bool ta_gate_step(struct ta_drive *d, int64_t now)
{
	struct mw_audit_stats st;

	(void)now;
	mw_audit_stats(d->a, &st);
	if (d->phase == 0) {
		if (st.failed_batches < 2)
			return false;
		d->written_in_outage = st.written;
		ta_exec_sql(d->db, "UPDATE public.ta_gate SET closed = false");
		d->phase = 1;
		return false;
	}
	return st.written >= 2;
}

/* A refusal that is not about the data is retried as it is. */
Test(audit, transient_refusal_is_retried)
{
	struct mw_loop *loop;
	struct mw_audit *a;
	struct ta_drive d = { 0 };
	PGconn *c;

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	c = ta_db();
	ta_exec_sql(c, "CREATE TABLE public.ta_gate (closed bool);"
		       "INSERT INTO public.ta_gate VALUES (true);"
		       "CREATE FUNCTION public.ta_refuse() RETURNS trigger "
		       "LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN "
		       "IF (SELECT closed FROM public.ta_gate) THEN "
		       "RAISE EXCEPTION 'gate closed' USING ERRCODE = '55000';"
		       " END IF; RETURN NEW; END $$;"
		       "CREATE TRIGGER ta_refuse BEFORE INSERT ON "
		       "mcpwarden.events FOR EACH ROW EXECUTE FUNCTION "
		       "public.ta_refuse()");
	cr_assert_eq(ta_submit_simple(a, 1, "ping"), 1);
	cr_assert_eq(ta_submit_simple(a, 1, "tools/list"), 2);
	d.loop = loop;
	d.a = a;
	d.db = c;
	d.step = ta_gate_step;
	ta_drive_loop(&d, 30000);
	cr_assert_eq(d.written_in_outage, 0);
	cr_assert_eq(ta_count(c, "SELECT count(*) FROM mcpwarden.messages "
				 "WHERE method IN ('ping', 'tools/list')"),
		     2);
	PQfinish(c);
	mw_audit_close(a);
	mw_loop_free(loop);
}

#define TA_BURST 2000
#define TA_LOST 5

static int ta_check_chain(const char *host);

/* Commits the spooled lines of events lo..hi as the writer would. */
static void ta_commit_spooled(PGconn *c, long long lo, long long hi)
{
	char path[PATH_MAX];
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	PGresult *r;
	long long got = 0;

	snprintf(path, sizeof(path), "%s/spool/events.spool", ta_dir);
	f = fopen(path, "re");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	r = PQexec(c, mw_schema_copy_sql);
	cr_assert_eq(PQresultStatus(r), PGRES_COPY_IN, "%s",
		     PQresultErrorMessage(r));
	PQclear(r);
	while ((n = getline(&line, &cap, f)) > 0 && line[0]) {
		const char *tab = strchr(line, '\t');
		long long seq = tab ? atoll(tab + 1) : 0;

		if (seq < lo || seq > hi)
			continue;
		cr_assert_eq(PQputCopyData(c, line, (int)n), 1);
		got++;
	}
	free(line);
	fclose(f);
	cr_assert_eq(got, hi - lo + 1, "the spool has %lld of them", got);
	cr_assert_eq(PQputCopyEnd(c, NULL), 1);
	r = PQgetResult(c);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s",
		     PQresultErrorMessage(r));
	PQclear(r);
	PQclear(PQgetResult(c));
}

static bool ta_burst_step(struct ta_drive *d, int64_t now)
{
	struct mw_audit_stats st;
	char err[512];
	PGresult *r;
	long long max;

	(void)now;
	mw_audit_stats(d->a, &st);
	switch (d->phase) {
	case 0:
		for (int i = 0; i < TA_BURST; i++) {
			if (!ta_submit_simple(d->a, 1,
					      "notifications/progress"))
				d->rc_stop = -1;
		}
		d->phase = 1;
		return false;
	case 1:
		/* A tick later: some batches written, one in flight. */
		if (mw_pg_embedded_stop(ta_dir, ta_user, err, sizeof(err))) {
			cr_log_error("stop: %s", err);
			d->rc_stop = -1;
		}
		d->phase = 2;
		return false;
	case 2:
		/* the spool has them all: the lines to commit below */
		if (st.durable_seq < TA_BURST)
			return false;
		d->written_in_outage = st.written;
		if (mw_pg_embedded_start(ta_dir, ta_user, NULL, err,
					 sizeof(err))) {
			cr_log_error("start: %s", err);
			d->rc_start = -1;
			d->phase = 3;
			return false;
		}
		/*
		 * As if the next batches had committed and their
		 * acknowledgement got lost with the connection: the same
		 * lines, taken from the spool. Batches commit one at a time
		 * in seq order: what the database has is always the head of
		 * the writer's queue.
		 */
		d->db = ta_db();
		ta_exec_sql(d->db, "DROP TRIGGER ta_slow ON mcpwarden.events");
		r = ta_query(d->db, "SELECT coalesce(max(seq), 0) FROM "
				    "mcpwarden.events");
		max = atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
		d->mark = max;
		ta_commit_spooled(d->db, max + 1, max + TA_LOST);
		PQfinish(d->db);
		d->db = NULL;
		d->phase = 3;
		return false;
	default:
		return st.written >= TA_BURST;
	}
}

/*
 * Batches committed whose acknowledgement was lost are not written again:
 * the writer reads max(seq) on its new connection.
 */
Test(audit, resent_batches_are_idempotent)
{
	struct mw_loop *loop;
	struct mw_audit *a;
	struct ta_drive d = { 0 };
	struct mw_audit_stats st;
	PGconn *c;

	ta_cfg.max_queue = TA_BURST;
	ta_cfg.batch_max = 8;
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	/* Slow enough that the server stops with most events queued. */
	ta_slow_inserts("0.002");
	d.loop = loop;
	d.a = a;
	d.step = ta_burst_step;
	ta_drive_loop(&d, 60000);
	cr_assert_eq(d.rc_stop, 0);
	cr_assert_eq(d.rc_start, 0);
	cr_assert_lt(d.written_in_outage, TA_BURST - TA_LOST);
	cr_assert_leq(d.written_in_outage, d.mark);
	mw_audit_stats(a, &st);
	cr_assert_eq(st.written, TA_BURST);
	cr_assert_eq(st.queued, 0);
	c = ta_db();
	cr_assert_eq(ta_count(c, "SELECT count(*) FROM mcpwarden.events"),
		     TA_BURST);
	cr_assert_eq(ta_count(c, "SELECT count(DISTINCT seq) FROM "
				 "mcpwarden.events"),
		     TA_BURST);
	cr_assert_eq(ta_count(c, "SELECT max(seq) FROM mcpwarden.events"),
		     TA_BURST);
	PQfinish(c);
	mw_audit_close(a);
	mw_loop_free(loop);
	/* and the chain is whole: the events and the close's checkpoint */
	cr_assert_eq(ta_check_chain(TA_HOST), TA_BURST + 1);
}

/* Every byte a text or jsonb column can hold survives COPY text format. */
Test(audit, copy_escaping_round_trips)
{
	static const char hostile[] = "tab\there nl\nthere cr\rthere "
				      "bs\\there \\N \\. quote' dq\" "
				      "ctl\x01\x1f\x7f end\\";
	static const char scrubbed_bad[] = "bad \xef\xbf\xbd\xef\xbf\xbd "
					   "x\xef\xbf\xbd"
					   "y \xc3\xa9";
	struct mw_identity id;
	struct mw_loop *loop;
	struct mw_audit *a;
	json_t *params, *result;
	PGresult *r;
	PGconn *c;

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	ta_identity(&id);
	strcpy(id.comm, "a\tb\\c\nd");
	snprintf(id.exe, sizeof(id.exe), "%s", hostile);
	strcpy(id.user, "\\N");
	strcpy(id.cgroup, "/bad \xff\xfe x\xc3y \xc3\xa9");
	struct mw_audit_event open_ev = {
		.kind = MW_EV_CONN_OPEN,
		.conn_id = 1,
		.server = "srv\tone",
		.identity = &id,
		.client_addr = "\\N",
		.server_addr = "\\.",
	};
	cr_assert_eq(mw_audit_submit(a, &open_ev), 1);

	/* NUL in a JSON string, and the other escapes JSON has. */
	params = json_pack("{s:s, s:{s:s, s:o, s:s, s:s, s:s}}", "name",
			   "echo\ttool", "arguments", "text", hostile, "nul",
			   json_stringn("a\0b", 3), "lit", "C:\\u0000dir",
			   "uni", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
			   "key\twith\\tab", "v");
	cr_assert_not_null(params);
	struct mw_audit_event req = {
		.kind = MW_EV_REQUEST,
		.conn_id = 1,
		.server = "srv\tone",
		.session_id = "s\r3",
		.direction = "c2s",
		.rpc_id = "\"q\\\"\\\\\"",
		.method = "tools/call",
		.tool = hostile,
		.params = params,
		.decision = "allow\\deny",
		.rule = "r'\"\n",
	};
	cr_assert_eq(mw_audit_submit(a, &req), 2);
	json_decref(params);

	/* A scalar result (JSON text is not always an object). */
	result = json_string(hostile);
	struct mw_audit_event resp = {
		.kind = MW_EV_RESPONSE,
		.conn_id = 1,
		.direction = "s2c",
		.rpc_id = "\"q\\\"\\\\\"",
		.result = result,
		.request_seq = 2,
		.latency_us = 100,
	};
	cr_assert_eq(mw_audit_submit(a, &resp), 3);
	json_decref(result);

	struct mw_audit_event herr = {
		.kind = MW_EV_HTTP_ERROR,
		.conn_id = 1,
		.http_method = "POST",
		.http_path = "/p\\N\t",
		.http_status = 400,
		.detail = "bad \xff\xfe x\xc3y \xc3\xa9",
	};
	cr_assert_eq(mw_audit_submit(a, &herr), 4);

	ta_drive_until_written(loop, a, 4);

	c = ta_db();
	r = ta_query(c, "SELECT comm, exe, user_name, cgroup, client_addr, "
			"server_addr, server, pid, cgroup_id "
			"FROM mcpwarden.connections");
	cr_assert_eq(PQntuples(r), 1);
	cr_assert_str_eq(PQgetvalue(r, 0, 0), "a\tb\\c\nd");
	cr_assert_str_eq(PQgetvalue(r, 0, 1), hostile);
	cr_assert_not(PQgetisnull(r, 0, 2));
	cr_assert_str_eq(PQgetvalue(r, 0, 2), "\\N");
	cr_assert_str_eq(PQgetvalue(r, 0, 3), "/"
					      "bad \xef\xbf\xbd\xef\xbf\xbd "
					      "x\xef\xbf\xbd"
					      "y \xc3\xa9");
	cr_assert_not(PQgetisnull(r, 0, 4));
	cr_assert_str_eq(PQgetvalue(r, 0, 4), "\\N");
	cr_assert_str_eq(PQgetvalue(r, 0, 5), "\\.");
	cr_assert_str_eq(PQgetvalue(r, 0, 6), "srv\tone");
	cr_assert_str_eq(PQgetvalue(r, 0, 7), "4242");
	cr_assert_str_eq(PQgetvalue(r, 0, 8), "77");
	PQclear(r);

	r = ta_query(c, "SELECT tool, session_id, rpc_id, decision, rule, "
			"server, comm, params->>'name', arguments->>'text', "
			"arguments->>'nul', arguments->>'lit', "
			"arguments->>'uni', arguments->>'key\twith\\tab', "
			"response #>> '{}', is_error, latency_ms "
			"FROM mcpwarden.tool_calls");
	cr_assert_eq(PQntuples(r), 1);
	cr_assert_str_eq(PQgetvalue(r, 0, 0), hostile);
	cr_assert_str_eq(PQgetvalue(r, 0, 1), "s\r3");
	cr_assert_str_eq(PQgetvalue(r, 0, 2), "\"q\\\"\\\\\"");
	cr_assert_str_eq(PQgetvalue(r, 0, 3), "allow\\deny");
	cr_assert_str_eq(PQgetvalue(r, 0, 4), "r'\"\n");
	cr_assert_str_eq(PQgetvalue(r, 0, 5), "srv\tone");
	cr_assert_str_eq(PQgetvalue(r, 0, 6), "a\tb\\c\nd");
	cr_assert_str_eq(PQgetvalue(r, 0, 7), "echo\ttool");
	cr_assert_str_eq(PQgetvalue(r, 0, 8), hostile);
	cr_assert_str_eq(PQgetvalue(r, 0, 9), "a\xef\xbf\xbd"
					      "b");
	cr_assert_str_eq(PQgetvalue(r, 0, 10), "C:\\u0000dir");
	cr_assert_str_eq(PQgetvalue(r, 0, 11),
			 "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	cr_assert_str_eq(PQgetvalue(r, 0, 12), "v");
	cr_assert_str_eq(PQgetvalue(r, 0, 13), hostile);
	cr_assert_str_eq(PQgetvalue(r, 0, 14), "f");
	cr_assert_str_eq(PQgetvalue(r, 0, 15), "0.1");
	PQclear(r);

	r = ta_query(c, "SELECT detail, http_path, http_status, comm "
			"FROM mcpwarden.http_errors");
	cr_assert_eq(PQntuples(r), 1);
	cr_assert_str_eq(PQgetvalue(r, 0, 0), scrubbed_bad);
	cr_assert_str_eq(PQgetvalue(r, 0, 1), "/p\\N\t");
	cr_assert_str_eq(PQgetvalue(r, 0, 2), "400");
	cr_assert_str_eq(PQgetvalue(r, 0, 3), "a\tb\\c\nd");
	PQclear(r);

	/* Identity columns only on conn_open rows. */
	cr_assert_eq(ta_count(c, "SELECT count(*) FROM mcpwarden.events "
				 "WHERE kind <> 'conn_open' AND num_nonnulls("
				 "pid, tgid, uid, gid, user_name, comm, exe, "
				 "cgroup_id, cgroup, client_addr, "
				 "server_addr) > 0"),
		     0);
	PQfinish(c);
	mw_audit_close(a);
	mw_loop_free(loop);
}

#define TA_MANY 10000
#define TA_MANY_STEP 2500

static bool ta_many_step(struct ta_drive *d, int64_t now)
{
	struct mw_audit_stats st;

	(void)now;
	/* Submitted in four rounds: batches in flight meanwhile. */
	for (int i = 0; d->phase < TA_MANY / TA_MANY_STEP && i < TA_MANY_STEP;
	     i++) {
		uint64_t seq = ta_submit_simple(d->a, 1, "tools/call");

		if (seq != ++d->seqs[0])
			d->rc_stop = -1;
	}
	if (d->phase < TA_MANY / TA_MANY_STEP)
		d->phase++;
	mw_audit_stats(d->a, &st);
	return st.written >= TA_MANY;
}

Test(audit, ten_thousand_events_exactly_once)
{
	struct mw_loop *loop;
	struct mw_audit *a;
	struct ta_drive d = { 0 };
	struct mw_audit_stats st;
	PGconn *c;

	ta_cfg.max_queue = TA_MANY;
	ta_cfg.batch_max = 512;
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	d.loop = loop;
	d.a = a;
	d.step = ta_many_step;
	ta_drive_loop(&d, 60000);
	cr_assert_eq(d.rc_stop, 0, "seqs given out in order");
	cr_assert_eq(d.seqs[0], TA_MANY);
	mw_audit_stats(a, &st);
	cr_assert_eq(st.submitted, TA_MANY);
	cr_assert_eq(st.written, TA_MANY);
	cr_assert_eq(st.queued, 0);
	cr_assert_eq(st.failed_batches, 0);
	c = ta_db();
	cr_assert_eq(ta_count(c, "SELECT count(*) FROM mcpwarden.messages"),
		     TA_MANY);
	cr_assert_eq(ta_count(c, "SELECT count(DISTINCT seq) FROM "
				 "mcpwarden.events"),
		     TA_MANY);
	cr_assert_eq(ta_count(c, "SELECT min(seq) FROM mcpwarden.events"), 1);
	cr_assert_eq(ta_count(c, "SELECT max(seq) FROM mcpwarden.events"),
		     TA_MANY);
	PQfinish(c);
	mw_audit_close(a);
	mw_loop_free(loop);
}

/* ---- the hash chain (chain.h) ---- */

/*
 * Reads host's chain back as the verifier does (chain_events, as the
 * auditor) and checks that every stored hash is the hash of the stored
 * values and that every event links to the one before. Returns the
 * number of events.
 */
static int ta_check_chain(const char *host)
{
	struct mw_audit_config ac = ta_cfg;
	char ci[1024], sql[2048], prev[MW_CHAIN_HASH_HEX];
	size_t o = 0;
	PGresult *r;
	PGconn *c;
	int n;

	cr_assert_eq(mw_audit_conninfo(&ac, ci, sizeof(ci)), 0);
	c = PQconnectdb(ci);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
	o += (size_t)snprintf(sql + o, sizeof(sql) - o, "SELECT ");
	for (int f = 0; f < MW_CF_N; f++)
		o += (size_t)snprintf(sql + o, sizeof(sql) - o, "%s, ",
				      mw_chain_field_names[f]);
	snprintf(sql + o, sizeof(sql) - o,
		 "hash FROM mcpwarden.chain_events WHERE host = '%s' "
		 "ORDER BY seq",
		 host);
	r = ta_query(c, sql);
	n = PQntuples(r);
	strcpy(prev, MW_CHAIN_GENESIS);
	for (int i = 0; i < n; i++) {
		struct mw_chain_value v[MW_CF_N];
		char h[MW_CHAIN_HASH_HEX];

		for (int f = 0; f < MW_CF_N; f++) {
			v[f].s = PQgetisnull(r, i, f) ? NULL
						      : PQgetvalue(r, i, f);
			v[f].n = (size_t)PQgetlength(r, i, f);
		}
		cr_assert_eq(atoll(v[MW_CF_SEQ].s), i + 1);
		cr_assert_str_eq(v[MW_CF_PREV_HASH].s, prev, "seq %d", i + 1);
		cr_assert_eq(mw_chain_hash(v, h), 0);
		cr_assert_str_eq(h, PQgetvalue(r, i, MW_CF_N),
				 "seq %d: the stored values do not hash to "
				 "the stored hash",
				 i + 1);
		strcpy(prev, h);
	}
	PQclear(r);
	PQfinish(c);
	return n;
}

/*
 * What is stored is what was hashed, whatever the values: control
 * characters, COPY's own escapes, invalid UTF-8 (stored and hashed as
 * U+FFFD), NUL in JSON strings (\u0000 is stored and hashed as \ufffd),
 * identity and addresses; the chain links across a restart.
 */
Test(audit, stored_values_hash_to_the_stored_hash)
{
	static const char hostile[] = "tab\there nl\nthere cr\rthere "
				      "bs\\there \\N \\. quote' dq\" "
				      "ctl\x01\x1f\x7f bad\xff\xc3 end\\";
	struct mw_loop *loop;
	struct mw_audit *a;
	struct mw_identity id;
	json_t *params, *result;
	PGresult *r;
	PGconn *c;

	ta_identity(&id);
	strcpy(id.comm, "bad\xfe\x80");
	/* JSON strings are valid UTF-8 (jansson refuses anything else) */
	params = json_pack("{ss,s{ss,s[iif]}}", "name", "tab\there \\N \\.",
			   "arguments", "nul", "a\x01b", "n", 1, -2, 2.5);
	cr_assert_not_null(params);
	json_object_set_new(params, "z",
			    json_stringn("x\0y", 3)); /* a NUL inside */
	result = json_pack("{s[{ss}],sb}", "content", "text", "nl\nthere",
			   "isError", 0);
	cr_assert_not_null(result);
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	struct mw_audit_event open_ev = {
		.kind = MW_EV_CONN_OPEN,
		.conn_id = 1,
		.identity = &id,
		.server = "billing",
		.client_addr = "[::1]:4000",
		.server_addr = "10.0.0.5:8080",
	};
	struct mw_audit_event req = {
		.kind = MW_EV_REQUEST,
		.conn_id = 1,
		.server = hostile,
		.session_id = "s\xff",
		.direction = "c2s",
		.rpc_id = "\"k\\t\"",
		.method = "tools/call",
		.tool = hostile,
		.params = params,
		.decision = "allow",
		.rule = hostile,
		.policy_sha256 = TA_POLICY_SHA,
		.http_method = "POST",
		.http_path = "/mcp?x=\t",
	};
	struct mw_audit_event resp = {
		.kind = MW_EV_RESPONSE,
		.conn_id = 1,
		.direction = "s2c",
		.rpc_id = "1",
		.result = result,
		.request_seq = 2,
		.latency_us = 1234,
	};
	cr_assert_eq(mw_audit_submit(a, &open_ev), 1);
	cr_assert_eq(mw_audit_submit(a, &req), 2);
	cr_assert_eq(mw_audit_submit(a, &resp), 3);
	ta_drive_until_written(loop, a, 3);
	mw_audit_close(a); /* and a checkpoint: 4 */
	mw_loop_free(loop);

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	cr_assert_eq(ta_submit_simple(a, 1, "ping"), 5);
	mw_audit_close(a);
	mw_loop_free(loop);
	json_decref(params);
	json_decref(result);

	cr_assert_eq(ta_check_chain(TA_HOST), 6);
	c = ta_db();
	r = ta_query(c, "SELECT comm, params->>'z', latency_us, "
			"params::jsonb->>'z', params FROM mcpwarden.events "
			"WHERE seq IN (1, 2, 3) ORDER BY seq");
	cr_assert_str_eq(PQgetvalue(r, 0, 0), "bad\xef\xbf\xbd\xef\xbf\xbd");
	cr_assert_str_eq(PQgetvalue(r, 1, 1), "x\xef\xbf\xbdy");
	cr_assert_str_eq(PQgetvalue(r, 1, 3), "x\xef\xbf\xbdy");
	cr_assert_str_eq(PQgetvalue(r, 2, 2), "1234");
	PQclear(r);
	PQfinish(c);
}

static char *ta_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/*
 * Every checkpoint_events events the chain is signed: a checkpoint event
 * in the database and the same statement in the file outside it, both
 * verifiable with the exported public key.
 */
Test(audit, checkpoints_are_signed_in_the_database_and_outside)
{
	struct mw_loop *loop;
	struct mw_audit *a;
	struct mw_sign_pub *pub;
	char path[PATH_MAX], err[512], *file, *line, *save = NULL;
	PGresult *r;
	PGconn *c;
	int lines = 0;

	ta_cfg.checkpoint_events = 5;
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	for (int i = 0; i < 12; i++)
		cr_assert_neq(ta_submit_simple(a, 1, "ping"), 0);
	/* 1-5, checkpoint 6, 7-11, checkpoint 12, 13-14 */
	ta_drive_until_written(loop, a, 14);
	mw_audit_close(a); /* checkpoint 15 */
	mw_loop_free(loop);
	cr_assert_eq(ta_check_chain(TA_HOST), 15);

	snprintf(path, sizeof(path), "%s/%s", ta_dir, MW_SIGN_PUB_FILE);
	cr_assert_eq(mw_sign_pub_load(&pub, path, err, sizeof(err)), 0, "%s",
		     err);
	c = ta_db();
	r = ta_query(c, "SELECT checkpoint_seq, c.seq, c.hash, key_id, "
			"signature, e.hash FROM mcpwarden.checkpoints c "
			"JOIN mcpwarden.events e ON e.host = c.host AND "
			"e.seq = c.seq::bigint ORDER BY checkpoint_seq");
	cr_assert_eq(PQntuples(r), 3);
	for (int i = 0; i < 3; i++) {
		static const char *const want[] = { "6", "12", "15" };
		char msg[512];
		int n;

		cr_assert_str_eq(PQgetvalue(r, i, 0), want[i]);
		cr_assert_eq(atoll(PQgetvalue(r, i, 1)), atoll(want[i]) - 1);
		cr_assert_str_eq(PQgetvalue(r, i, 2), PQgetvalue(r, i, 5));
		cr_assert_str_eq(PQgetvalue(r, i, 3), mw_sign_pub_key_id(pub));
		n = mw_chain_checkpoint_message(
			msg, sizeof(msg), TA_HOST,
			strtoull(PQgetvalue(r, i, 1), NULL, 10),
			PQgetvalue(r, i, 2));
		cr_assert_gt(n, 0);
		cr_assert(mw_sign_pub_verify(pub, msg, (size_t)n,
					     PQgetvalue(r, i, 4)));
		msg[n - 2] ^= 1;
		cr_assert_not(mw_sign_pub_verify(pub, msg, (size_t)n,
						 PQgetvalue(r, i, 4)));
	}

	snprintf(path, sizeof(path), "%s/%s", ta_dir, MW_AUDIT_CHECKPOINT_FILE);
	file = ta_read_file(path);
	for (line = strtok_r(file, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), lines++) {
		json_t *j = json_loads(line, 0, NULL);

		cr_assert_not_null(j, "%s", line);
		cr_assert_str_eq(json_string_value(json_object_get(j, "host")),
				 TA_HOST);
		cr_assert_eq(json_integer_value(json_object_get(j, "seq")),
			     atoll(PQgetvalue(r, lines, 1)));
		cr_assert_str_eq(json_string_value(json_object_get(j, "hash")),
				 PQgetvalue(r, lines, 2));
		cr_assert_str_eq(
			json_string_value(json_object_get(j, "signature")),
			PQgetvalue(r, lines, 4));
		json_decref(j);
	}
	cr_assert_eq(lines, 3);
	free(file);
	PQclear(r);
	PQfinish(c);
	mw_sign_pub_free(pub);
}

/* A file of exactly text, made mode. */
static void ta_write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	cr_assert_eq(fchmod(fd, mode), 0);
	cr_assert_eq(close(fd), 0);
}

/* The start refused with rc and a reason that says why. */
static void ta_open_refused(int want_rc, const char *want_msg)
{
	struct mw_loop *loop;
	struct mw_audit *a = NULL;
	char err[512] = "";

	cr_assert_eq(mw_loop_new(&loop), 0);
	cr_assert_eq(mw_audit_open(&a, &ta_cfg, loop, err, sizeof(err)),
		     want_rc, "%s: %s", ta_cfg.checkpoint_file, err);
	cr_assert_null(a);
	cr_assert_not_null(strstr(err, want_msg), "%s", err);
	mw_loop_free(loop);
}

/*
 * The daemon appends to the checkpoint file and cuts a torn last line off
 * it, as root: only a regular file of its own, with no other name, below
 * directories nobody else may change. Anything else stops the start
 * before a byte is written; the file it would have reached stays as it
 * was (its torn last line included, which a cut would have taken).
 */
Test(audit, a_checkpoint_file_not_the_daemons_own_is_refused)
{
	static const char kept[] = "{\"important\":1}\n{\"torn";
	char dir[PATH_MAX / 2], cps[PATH_MAX], target[PATH_MAX / 2], *got;
	struct mw_loop *loop;
	struct mw_audit *a;

	/* the cluster up, so that each refusal is the file's alone */
	cr_assert_eq(mw_loop_new(&loop), 0);
	mw_audit_close(ta_open(loop));
	mw_loop_free(loop);

	snprintf(dir, sizeof(dir), "%s/cp", ta_dir);
	snprintf(cps, sizeof(cps), "%s/cps.jsonl", dir);
	snprintf(target, sizeof(target), "%s/target", ta_dir);
	cr_assert_eq(mkdir(dir, 0700), 0);
	ta_write_file(target, kept, 0600);
	ta_cfg.checkpoint_file = cps;

	cr_assert_eq(symlink(target, cps), 0);
	ta_open_refused(-ELOOP, "a symbolic link");
	cr_assert_eq(unlink(cps), 0);

	cr_assert_eq(link(target, cps), 0);
	ta_open_refused(-EPERM, "has 2 names");
	cr_assert_eq(unlink(cps), 0);

	/* opened without blocking, then refused */
	cr_assert_eq(mkfifo(cps, 0600), 0);
	ta_open_refused(-EINVAL, "not a regular file");
	cr_assert_eq(unlink(cps), 0);

	got = ta_read_file(target);
	cr_assert_str_eq(got, kept, "the file a name led to was changed");
	free(got);

	ta_write_file(cps, kept, 0600);
	cr_assert_eq(chown(cps, 65534, 65534), 0);
	ta_open_refused(-EPERM, "owned by uid 65534");
	cr_assert_eq(chown(cps, geteuid(), getegid()), 0);
	cr_assert_eq(chmod(cps, 0620), 0);
	ta_open_refused(-EPERM, "writable by group or others (mode 0620)");
	got = ta_read_file(cps);
	cr_assert_str_eq(got, kept);
	free(got);
	cr_assert_eq(unlink(cps), 0);

	/* its directory: judged as state_dir is */
	cr_assert_eq(chmod(dir, 0777), 0);
	ta_open_refused(-EPERM, "mode 0777");
	cr_assert_eq(access(cps, F_OK), -1, "made where others may write");
	cr_assert_eq(chmod(dir, 0700), 0);
	ta_cfg.checkpoint_file = "cps.jsonl";
	ta_open_refused(-EINVAL, "not an absolute path");

	/* as it should be: made, and used */
	ta_cfg.checkpoint_file = cps;
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	cr_assert_neq(ta_submit_simple(a, 1, "ping"), 0);
	ta_drive_until_written(loop, a, 1);
	mw_audit_close(a); /* signs it */
	mw_loop_free(loop);
	got = ta_read_file(cps);
	cr_assert_not_null(strstr(got, "\"signature\""), "%s", got);
	free(got);
}

/*
 * A start that fails once it has started the embedded cluster stops it:
 * the daemon has no writer to close, and a cluster left behind outlives
 * it. One that was running before is left running.
 */
Test(audit, a_failed_start_stops_the_cluster_it_started)
{
	char cps[PATH_MAX], err[512];

	snprintf(cps, sizeof(cps), "%s/cps.jsonl", ta_dir);
	cr_assert_eq(symlink("/nonexistent", cps), 0);
	ta_cfg.checkpoint_file = cps;
	ta_open_refused(-ELOOP, "a symbolic link");
	cr_assert_eq(mw_pg_embedded_status(ta_dir, ta_user, err, sizeof(err)),
		     0, "the cluster this start started is still running");

	cr_assert_eq(
		mw_pg_embedded_start(ta_dir, ta_user, NULL, err, sizeof(err)),
		0, "%s", err);
	ta_open_refused(-ELOOP, "a symbolic link");
	cr_assert_eq(mw_pg_embedded_status(ta_dir, ta_user, err, sizeof(err)),
		     1, "a cluster this start found running was stopped");
}

/*
 * The embedded cluster trusts its Unix socket alone: pg_hba.conf's TCP
 * lines refuse, and no TCP port listens whatever the configuration files
 * say (the server's command line outranks them, an ALTER SYSTEM's too).
 */
Test(audit, the_embedded_cluster_takes_no_tcp)
{
	struct mw_loop *loop;
	char err[512];
	PGresult *r;
	PGconn *c;

	cr_assert_eq(mw_loop_new(&loop), 0);
	mw_audit_close(ta_open(loop));
	mw_loop_free(loop);
	c = ta_db();
	cr_assert_eq(ta_count(c, "SELECT count(*) FROM pg_hba_file_rules "
				 "WHERE type <> 'local' AND auth_method <> "
				 "'reject'"),
		     0, "pg_hba.conf lets TCP in");
	cr_assert_gt(ta_count(c, "SELECT count(*) FROM pg_hba_file_rules "
				 "WHERE type = 'local' AND auth_method = "
				 "'trust'"),
		     0);
	r = ta_query(c, "SELECT setting, source FROM pg_settings WHERE "
			"name = 'listen_addresses'");
	cr_assert_str_eq(PQgetvalue(r, 0, 0), "");
	cr_assert_str_eq(PQgetvalue(r, 0, 1), "command line");
	PQclear(r);
	ta_exec_sql(c, "ALTER SYSTEM SET listen_addresses = '127.0.0.1'");
	PQfinish(c);

	cr_assert_eq(mw_pg_embedded_stop(ta_dir, ta_user, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(
		mw_pg_embedded_start(ta_dir, ta_user, NULL, err, sizeof(err)),
		0, "%s", err);
	c = ta_db();
	r = ta_query(c, "SHOW listen_addresses");
	cr_assert_str_eq(PQgetvalue(r, 0, 0), "", "ALTER SYSTEM opened a port");
	PQclear(r);
	PQfinish(c);
}

/*
 * pg_config runs as root and names the binaries the cluster runs: it is
 * looked for on a fixed PATH, not on the one the daemon inherited.
 */
Test(audit, pg_config_is_not_taken_from_the_inherited_path)
{
	static const char *const server[] = { "initdb", "pg_ctl", "postgres" };
	char fake[PATH_MAX / 2], bin[PATH_MAX / 2 + 8], path[PATH_MAX];
	char script[PATH_MAX + 64], got[PATH_MAX], env[PATH_MAX + 16];

	snprintf(fake, sizeof(fake), "%s/fake", ta_dir);
	snprintf(bin, sizeof(bin), "%s/bin", fake);
	cr_assert_eq(mkdir(fake, 0755), 0);
	cr_assert_eq(mkdir(bin, 0755), 0);
	for (size_t i = 0; i < sizeof(server) / sizeof(server[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", bin, server[i]);
		ta_write_file(path, "#!/bin/sh\nexit 0\n", 0755);
	}
	snprintf(path, sizeof(path), "%s/pg_config", fake);
	snprintf(script, sizeof(script), "#!/bin/sh\necho %s\n", bin);
	ta_write_file(path, script, 0755);
	snprintf(env, sizeof(env), "%s:%s", fake, getenv("PATH") ?: "/bin");
	cr_assert_eq(setenv("PATH", env, 1), 0);

	cr_assert_eq(mw_pg_bindir(NULL, got, sizeof(got)), 0);
	cr_assert_str_neq(got, bin, "the server binaries came from PATH");
	cr_assert_eq(strncmp(got, "/usr/lib/postgresql/", 20), 0, "%s", got);
}

static void ta_refused(PGconn *c, const char *sql, const char *why)
{
	PGresult *r = PQexec(c, sql);

	cr_assert_eq(PQresultStatus(r), PGRES_FATAL_ERROR, "%s was not refused",
		     sql);
	cr_assert_not_null(strstr(PQresultErrorMessage(r), why), "%s: %s", sql,
			   PQresultErrorMessage(r));
	PQclear(r);
}

/*
 * The writer can only append, the auditor only read the views, and the
 * owner's own UPDATE, DELETE and TRUNCATE are refused by the triggers;
 * retention is the owner dropping whole days.
 */
Test(audit, roles_and_triggers_keep_the_trail_append_only)
{
	struct mw_audit_config ac = ta_cfg;
	struct mw_loop *loop;
	struct mw_audit *a;
	char ci[1024];
	PGresult *r;
	PGconn *w, *au, *own;

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	cr_assert_eq(ta_submit_simple(a, 1, "ping"), 1);
	ta_drive_until_written(loop, a, 1);

	cr_assert_eq(mw_audit_conninfo_as(&ac, MW_AUDIT_WRITER, ci, sizeof(ci)),
		     0);
	w = PQconnectdb(ci);
	cr_assert_eq(PQstatus(w), CONNECTION_OK, "%s", PQerrorMessage(w));
	ta_refused(w, "UPDATE mcpwarden.events SET method = 'x'",
		   "permission denied");
	ta_refused(w, "DELETE FROM mcpwarden.events", "permission denied");
	ta_refused(w, "TRUNCATE mcpwarden.events", "permission denied");
	ta_refused(w, "SELECT count(*) FROM mcpwarden.events",
		   "permission denied");
	ta_refused(w, "SELECT count(*) FROM mcpwarden.tool_calls",
		   "permission denied");
	ta_refused(w, "SELECT mcpwarden.drop_partitions_before('2999-01-01')",
		   "permission denied");
	PQfinish(w);

	cr_assert_eq(mw_audit_conninfo(&ac, ci, sizeof(ci)), 0);
	au = PQconnectdb(ci);
	cr_assert_eq(PQstatus(au), CONNECTION_OK, "%s", PQerrorMessage(au));
	cr_assert_eq(ta_count(au, "SELECT count(*) FROM mcpwarden.tool_calls"),
		     1);
	ta_refused(au, "SELECT count(*) FROM mcpwarden.events",
		   "permission denied");
	ta_refused(au,
		   "INSERT INTO mcpwarden.events (host, seq, ts, kind, "
		   "prev_hash, hash) VALUES ('x', 1, now(), 'request', "
		   "'-', '-')",
		   "permission denied");
	PQfinish(au);

	own = ta_db();
	ta_refused(own, "UPDATE mcpwarden.events SET method = 'x'",
		   "append-only");
	ta_refused(own, "DELETE FROM mcpwarden.events", "append-only");
	ta_refused(own, "TRUNCATE mcpwarden.events", "append-only");
	r = ta_query(own, "SELECT tableoid::regclass::text FROM "
			  "mcpwarden.events");
	{
		char sql[256];

		snprintf(sql, sizeof(sql), "TRUNCATE %s", PQgetvalue(r, 0, 0));
		ta_refused(own, sql, "append-only");
		snprintf(sql, sizeof(sql), "DELETE FROM %s",
			 PQgetvalue(r, 0, 0));
		ta_refused(own, sql, "append-only");
	}
	PQclear(r);
	/* today's partition goes only with a cutoff after today */
	cr_assert_eq(ta_count(own, "SELECT count(*) FROM "
				   "mcpwarden.drop_partitions_before("
				   "current_date - 30)"),
		     0);
	cr_assert_eq(ta_count(own, "SELECT count(*) FROM mcpwarden.events"), 1);
	cr_assert_geq(ta_count(own, "SELECT count(*) FROM pg_inherits WHERE "
				    "inhparent = 'mcpwarden.events'::regclass"),
		      9, "yesterday to 7 days ahead, and the default");
	PQfinish(own);
	mw_audit_close(a);
	mw_loop_free(loop);
}

/* ---- durability: the spool ---- */

/*
 * Written 1, the database stopped, 2 and 3 queued by d->queue_in_outage (false
 * when they did not get those seqs) and made durable in the spool.
 */
static bool ta_killed_step(struct ta_drive *d, int64_t now)
{
	struct mw_audit_stats st;
	char err[512];

	(void)now;
	mw_audit_stats(d->a, &st);
	if (d->phase == 0) {
		if (st.written < 1)
			return false;
		d->rc_stop =
			mw_pg_embedded_stop(ta_dir, ta_user, err, sizeof(err));
		if (d->rc_stop || !d->queue_in_outage(d)) {
			d->rc_stop = -1;
			return true;
		}
		d->phase = 1;
		return false;
	}
	return mw_audit_durable_seq(d->a) >= 3;
}

static bool ta_queue_two_calls(struct ta_drive *d)
{
	return ta_submit_simple(d->a, 1, "tools/list") == 2 &&
	       ta_submit_simple(d->a, 1, "tools/call") == 3;
}

/*
 * A writer in a child that ends with _exit, as a kill -9 leaves it
 * (nothing flushed, nothing closed): first queues event 1 before the
 * loop, queue_in_outage events 2 and 3 once the database is stopped
 * (ta_killed_step), and done, when given, checks what the child saw.
 * Then the cluster is started again for the next writer.
 */
static void ta_writer_killed(bool (*first)(struct mw_audit *a),
			     bool (*queue_in_outage)(struct ta_drive *d),
			     bool (*done)(struct mw_audit *a))
{
	char err[512];
	pid_t pid = fork();
	int wst;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct ta_drive d = { 0 };

		if (mw_loop_new(&d.loop))
			_exit(10);
		d.a = ta_open(d.loop);
		if (!first(d.a))
			_exit(11);
		d.step = ta_killed_step;
		d.queue_in_outage = queue_in_outage;
		ta_drive_loop(&d, 30000);
		if (d.rc_stop)
			_exit(12);
		_exit(!done || done(d.a) ? 0 : 14);
	}
	cr_assert_eq(waitpid(pid, &wst, 0), pid);
	cr_assert(WIFEXITED(wst) && WEXITSTATUS(wst) == 0,
		  "the first writer failed (status %d)", wst);
	cr_assert_eq(
		mw_pg_embedded_start(ta_dir, ta_user, NULL, err, sizeof(err)),
		0, "%s", err);
}

static bool ta_first_initialize(struct mw_audit *a)
{
	return ta_submit_simple(a, 1, "initialize") == 1;
}

/* 1 written, 2 and 3 only in the spool. */
static bool ta_spooled_two(struct mw_audit *a)
{
	struct mw_audit_stats st;

	mw_audit_stats(a, &st);
	return st.spooled >= 2 && st.written == 1;
}

/*
 * Killed while the database is away: what the spool made durable is
 * shipped by the next start, once, and the chain goes on from it without
 * a fork. The first writer runs in a child that ends with _exit, as a
 * kill -9 would leave it: nothing flushed, nothing closed.
 */
Test(audit, the_next_start_ships_what_the_spool_holds)
{
	struct mw_loop *loop;
	struct mw_audit *a;
	struct mw_audit_stats st;

	ta_writer_killed(ta_first_initialize, ta_queue_two_calls,
			 ta_spooled_two);
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	cr_assert_eq(ta_submit_simple(a, 1, "ping"), 4);
	ta_drive_until_written(loop, a, 3);
	mw_audit_stats(a, &st);
	cr_assert_eq(st.queued, 0);
	cr_assert_eq(st.spool_bytes, 0);
	mw_audit_close(a);
	mw_loop_free(loop);
	/* 1..4 and the close's checkpoint, each once, one chain */
	cr_assert_eq(ta_check_chain(TA_HOST), 5);
}

struct ta_fill {
	struct ta_drive d; /* first */
	json_t *params;
	uint64_t accepted, last;
	bool refused;
	char err[512];
};

/* One 4 KiB event a tick until the spool fails, then the database back. */
static bool ta_fill_step(struct ta_drive *d, int64_t now)
{
	struct ta_fill *f = (struct ta_fill *)d;
	struct mw_audit_stats st;
	struct mw_audit_event ev = {
		.kind = MW_EV_REQUEST,
		.conn_id = 1,
		.method = "tools/call",
		.params = f->params,
	};
	uint64_t seq;

	(void)now;
	mw_audit_stats(d->a, &st);
	if (d->phase == 0) {
		seq = mw_audit_submit(d->a, &ev);
		if (!seq) {
			f->refused = true;
			d->in_outage = st;
			if (mw_pg_embedded_start(ta_dir, ta_user, NULL, f->err,
						 sizeof(f->err)))
				d->rc_start = -1;
			d->phase = 1;
			return d->rc_start != 0;
		}
		f->accepted++;
		f->last = seq;
		return f->accepted >= 200;
	}
	return st.written >= f->accepted;
}

/*
 * AU-5: with the database away and the spool's disk full, events cannot
 * be made durable: submit refuses (the proxy refuses the call), the
 * status says so, and everything accepted is still recorded once the
 * database is back.
 */
Test(audit, a_full_spool_with_the_database_away_refuses)
{
	char spool[PATH_MAX], cmd[PATH_MAX + 64], err[512], big[4096];
	struct ta_fill f = { 0 };
	struct mw_loop *loop;
	struct mw_audit *a;
	struct mw_audit_stats st;

	snprintf(spool, sizeof(spool), "%s/small", ta_dir);
	cr_assert_eq(mkdir(spool, 0700), 0);
	snprintf(cmd, sizeof(cmd),
		 "mount -t tmpfs -o size=64k,mode=0700 tmpfs %s", spool);
	cr_assert_eq(system(cmd), 0, "cannot mount a small tmpfs: %s", cmd);
	ta_cfg.spool_dir = spool;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	f.params = json_pack("{ss}", "blob", big);

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	cr_assert_eq(mw_pg_embedded_stop(ta_dir, ta_user, err, sizeof(err)), 0,
		     "%s", err);
	f.d.loop = loop;
	f.d.a = a;
	f.d.step = ta_fill_step;
	ta_drive_loop(&f.d, 60000);
	cr_assert_eq(f.d.rc_start, 0, "%s", f.err);
	cr_assert(f.refused, "64 KiB cannot hold 200 events of 4 KiB");
	cr_assert(f.d.in_outage.spool_failing);
	cr_assert_gt(f.d.in_outage.spool_failures, 0);
	cr_assert_lt(f.d.in_outage.durable_seq, f.last);
	cr_assert_gt(f.d.in_outage.spooled, 0);

	mw_audit_stats(a, &st);
	cr_assert_eq(st.queued, 0);
	cr_assert_not(st.spool_failing, "all recorded: no failure stands");
	cr_assert_neq(ta_submit_simple(a, 1, "ping"), 0,
		      "the database back, calls go through again");
	mw_audit_close(a);
	mw_loop_free(loop);
	json_decref(f.params);
	/* the accepted events, the ping, the close's checkpoint */
	cr_assert_eq(ta_check_chain(TA_HOST), (int)f.accepted + 2);
	snprintf(cmd, sizeof(cmd), "umount %s", spool);
	cr_assert_eq(system(cmd), 0);
}

/* ---- spool first ---- */

struct ta_lock {
	struct ta_drive d; /* first */
	int64_t until_ms; /* phase 0 without spool_first: watch until then */
	uint64_t n; /* the events submitted */
	struct mw_audit_stats locked; /* while the table was locked */
	uint64_t locked_notifications;
};

/*
 * Phase 0: the events table is locked, so no COPY can commit; wait for
 * the three events to be durable (or, with spool_first off, for until_ms
 * to pass). Then release the lock and wait until all are written and the
 * spool is empty.
 */
static bool ta_lock_step(struct ta_drive *d, int64_t now)
{
	struct ta_lock *l = (struct ta_lock *)d;
	struct mw_audit_stats st;

	mw_audit_stats(d->a, &st);
	if (d->phase == 0) {
		if (l->until_ms ? now < l->until_ms : st.durable_seq < l->n)
			return false;
		l->locked = st;
		l->locked_notifications = d->notifications;
		ta_exec_sql(d->db, "COMMIT");
		d->phase = 1;
		return false;
	}
	return st.written >= l->n && !st.spool_bytes && !st.queued;
}

/* Submits the events of a ta_locked_run: the default, three simple ones. */
static uint64_t ta_three_calls(struct mw_audit *a)
{
	cr_assert_eq(ta_submit_simple(a, 1, "initialize"), 1);
	cr_assert_eq(ta_submit_simple(a, 1, "tools/list"), 2);
	cr_assert_eq(ta_submit_simple(a, 1, "tools/call"), 3);
	return 3;
}

/* An audit on a new loop, the events table locked by *db's open
 * transaction: no COPY commits until it ends. */
static struct mw_audit *ta_open_locked(bool spool_first, struct mw_loop **loop,
				       PGconn **db)
{
	struct mw_audit *a;

	ta_cfg.spool_first = spool_first;
	/* only spool_first can make an event durable while it is locked */
	ta_cfg.spool_after_ms = 600000;
	cr_assert_eq(mw_loop_new(loop), 0);
	a = ta_open(*loop);
	*db = ta_db();
	ta_exec_sql(*db, "BEGIN; LOCK TABLE mcpwarden.events IN ACCESS "
			 "EXCLUSIVE MODE");
	return a;
}

static void ta_locked_run_of(struct ta_lock *l, bool spool_first,
			     uint64_t (*submit)(struct mw_audit *a))
{
	struct mw_loop *loop;
	struct mw_audit *a;
	PGconn *c;

	a = ta_open_locked(spool_first, &loop, &c);
	l->d.loop = loop;
	l->d.a = a;
	l->d.db = c;
	l->d.step = ta_lock_step;
	mw_audit_on_durable(a, ta_on_durable, &l->d);
	l->n = submit(a);
	/* a request held until its event is durable */
	mw_audit_want_durable(a, l->n);
	if (!spool_first)
		l->until_ms = mw_now_ms() + 500;
	ta_drive_loop(&l->d, 30000);
	PQfinish(c);
	mw_audit_close(a);
	mw_loop_free(loop);
	/* the events and the close's checkpoint, each once, one chain */
	cr_assert_eq(ta_check_chain(TA_HOST), (int)l->n + 1);
}

static void ta_locked_run(struct ta_lock *l, bool spool_first)
{
	ta_locked_run_of(l, spool_first, ta_three_calls);
}

/*
 * spool_first: an event is durable once the spool has it, whatever the
 * database is doing (here it cannot commit: the table is locked); the
 * database takes the events afterwards, once each, and the spool is
 * emptied.
 */
Test(audit, spool_first_is_durable_before_the_database_commits)
{
	struct ta_lock l = { 0 };

	ta_locked_run(&l, true);
	cr_assert_eq(l.locked.written, 0);
	cr_assert_eq(l.locked.durable_seq, 3);
	cr_assert_eq(l.locked.spooled, 3);
	cr_assert_gt(l.locked.spool_bytes, 0);
	cr_assert_eq(l.d.notified, 3);
}

/* Without it, a request's event waits for the commit (the control). */
Test(audit, without_spool_first_durable_waits_for_the_commit)
{
	struct ta_lock l = { 0 };

	ta_locked_run(&l, false);
	cr_assert_eq(l.locked.written, 0);
	cr_assert_eq(l.locked.durable_seq, 0);
	cr_assert_eq(l.locked.spooled, 0);
	cr_assert_eq(l.d.notified, 3, "durable once committed");
}

/* 24 requests of 1 MiB of arguments each. */
static uint64_t ta_big_calls(struct mw_audit *a)
{
	size_t len = (size_t)1 << 20;
	char *blob = malloc(len + 1);
	json_t *params;
	uint64_t seq = 0;

	cr_assert_not_null(blob);
	memset(blob, 'x', len);
	blob[len] = '\0';
	params = json_pack("{ss}", "blob", blob);
	cr_assert_not_null(params);
	for (int i = 0; i < 24; i++) {
		struct mw_audit_event ev = {
			.kind = MW_EV_REQUEST,
			.conn_id = 1,
			.method = "tools/call",
			.params = params,
		};

		seq = mw_audit_submit(a, &ev);
		cr_assert_eq(seq, (uint64_t)i + 1);
	}
	json_decref(params);
	free(blob);
	return seq;
}

/*
 * A backlog goes to the spool in appends of a few MiB, not in one copy
 * of the whole queue (an outage's backlog is up to max_queue_bytes, and
 * a copy of it would double the memory the daemon takes): 24 MiB of
 * events become durable in several steps, every one of them, and the
 * database takes them all once it can.
 */
Test(audit, a_backlog_goes_to_the_spool_in_bounded_appends)
{
	struct ta_lock l = { 0 };

	ta_locked_run_of(&l, true, ta_big_calls);
	cr_assert_eq(l.locked.written, 0);
	cr_assert_eq(l.locked.durable_seq, 24);
	cr_assert_eq(l.locked.spooled, 24);
	cr_assert_gt(l.locked.spool_bytes, (uint64_t)24 << 20);
	cr_assert_geq(l.locked_notifications, 3,
		      "24 MiB in appends of at most 8 MiB: %llu",
		      (unsigned long long)l.locked_notifications);
	cr_assert_eq(l.d.notified, 24);
}

/*
 * A close while the database takes nothing (its table locked) and the
 * events wait for it: all of them go to the spool, whatever their size
 * (more than one append), and the next start ships them.
 */
Test(audit, a_close_spools_a_backlog_larger_than_one_append, .timeout = 120)
{
	struct mw_audit_stats st;
	struct mw_loop *loop;
	struct mw_audit *a;
	PGconn *c;
	uint64_t n;

	a = ta_open_locked(false, &loop, &c);
	n = ta_big_calls(a);
	mw_audit_stats(a, &st);
	cr_assert_eq(st.spooled, 0);
	/* the close waits for the database a while, then spools */
	mw_audit_close(a);
	mw_loop_free(loop);
	ta_exec_sql(c, "COMMIT");
	PQfinish(c);

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	/* the events and the close's checkpoint, shipped from the spool
	 * without waiting for a new event */
	ta_drive_until_written(loop, a, (long long)n + 1);
	mw_audit_stats(a, &st);
	cr_assert_eq(st.queued, 0);
	mw_audit_close(a);
	mw_loop_free(loop);
	/* each once, one chain (the second close has nothing new to sign) */
	cr_assert_eq(ta_check_chain(TA_HOST), (int)n + 1);
}

static bool ta_durable_reached(struct ta_drive *d, int64_t now)
{
	(void)now;
	return mw_audit_durable_seq(d->a) >= d->target;
}

/*
 * The spool past the size above which it takes nothing while the
 * database is up (lowered here to its first line), and the database
 * taking nothing (its table locked): a close still spools what the
 * database did not take in time, the close's checkpoint too, and the
 * next start ships every event.
 */
Test(audit, a_close_spools_past_the_spools_bound, .timeout = 120)
{
	struct ta_drive d = { 0 };
	struct mw_audit_stats st;
	struct mw_loop *loop;
	struct mw_audit *a;
	PGconn *c;

	ta_cfg.spool_writing_max = 1;
	a = ta_open_locked(true, &loop, &c);
	ta_three_calls(a);
	mw_audit_want_durable(a, 3);
	d.loop = loop;
	d.a = a;
	d.step = ta_durable_reached;
	d.target = 3;
	ta_drive_loop(&d, 30000);
	cr_assert_eq(ta_submit_simple(a, 1, "late"), 4);
	cr_assert_eq(ta_submit_simple(a, 1, "late"), 5);
	mw_audit_stats(a, &st);
	cr_assert_eq(st.written, 0);
	cr_assert_eq(st.durable_seq, 3, "the bound keeps 4 and 5 out");
	/* the close waits for the database a while, then spools */
	mw_audit_close(a);
	mw_loop_free(loop);
	ta_exec_sql(c, "COMMIT");
	PQfinish(c);

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	mw_audit_stats(a, &st);
	cr_assert_eq(st.queued, 6, "1..5 and the checkpoint from the spool");
	ta_drive_until_written(loop, a, 6);
	mw_audit_close(a);
	mw_loop_free(loop);
	cr_assert_eq(ta_check_chain(TA_HOST), 6);
	c = ta_db();
	cr_assert_eq(ta_count(c, "SELECT count(*) FROM mcpwarden.events "
				 "WHERE method = 'late'"),
		     2);
	cr_assert_eq(ta_count(c, "SELECT count(*) FROM mcpwarden.events "
				 "WHERE seq = 6 AND kind = 'checkpoint'"),
		     1);
	PQfinish(c);
}

/*
 * A request's wait queues the spool's sync for the end of the loop's
 * batch. Closing before the batch is over leaves the struct to that
 * queued call, which frees it: no use after free, no leak (the sanitizer
 * build runs this), and the event is recorded once.
 */
Test(audit, close_with_a_sync_queued_for_the_batch)
{
	struct mw_loop *loop;
	struct mw_audit *a;

	ta_cfg.spool_first = true;
	ta_cfg.spool_after_ms = 600000;
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	cr_assert_eq(ta_submit_simple(a, 1, "tools/call"), 1);
	mw_audit_want_durable(a, 1);
	mw_audit_close(a);
	/* the loop's deferred calls run here */
	mw_loop_free(loop);
	/* the event and the close's checkpoint */
	cr_assert_eq(ta_check_chain(TA_HOST), 2);
}

/* ---- connection ids across a restart ---- */

static uint64_t ta_conn_open(struct mw_audit *a, uint64_t conn_id, uint32_t uid)
{
	struct mw_identity id;
	struct mw_audit_event ev = {
		.kind = MW_EV_CONN_OPEN,
		.conn_id = conn_id,
		.server = "billing",
		.client_addr = "127.0.0.1:40000",
		.server_addr = "10.0.0.5:8080",
	};

	ta_identity(&id);
	id.uid = uid;
	ev.identity = &id;
	return mw_audit_submit(a, &ev);
}

/* Written 1, the database stopped, connection 2 opened: in the spool. */
static bool ta_queue_conn_and_call(struct ta_drive *d)
{
	d->seqs[0] = mw_audit_next_conn_id(d->a);
	return d->seqs[0] == 2 && ta_conn_open(d->a, d->seqs[0], 2000) == 2 &&
	       ta_submit_simple(d->a, d->seqs[0], "tools/call") == 3;
}

static bool ta_first_conn_open(struct mw_audit *a)
{
	return ta_conn_open(a, mw_audit_next_conn_id(a), 1000) == 1;
}

/*
 * A connection opened while the database was away is only in the spool
 * when the writer is killed: the next start numbers connections after
 * it, not after the database's last, so that no two identities share a
 * conn_id (the views would credit one's requests to both).
 */
Test(audit, conn_ids_go_on_after_those_in_the_spool)
{
	struct mw_loop *loop;
	struct mw_audit *a;
	uint64_t id;
	PGconn *c;

	ta_writer_killed(ta_first_conn_open, ta_queue_conn_and_call, NULL);
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	id = mw_audit_next_conn_id(a);
	cr_assert_eq(id, 3, "conn_id %llu given out again",
		     (unsigned long long)id);
	cr_assert_eq(ta_conn_open(a, id, 3000), 4);
	ta_drive_until_written(loop, a, 3); /* 2 and 3 from the spool, 4 */
	mw_audit_close(a);
	mw_loop_free(loop);
	c = ta_db();
	cr_assert_eq(ta_count(c, "SELECT count(*) FROM mcpwarden.events "
				 "WHERE kind = 'conn_open' AND conn_id = 2"),
		     1);
	cr_assert_eq(ta_count(c, "SELECT count(*) FROM mcpwarden.tool_calls "
				 "WHERE seq = 3 AND uid = 2000"),
		     1);
	cr_assert_eq(ta_count(c, "SELECT count(*) FROM mcpwarden.tool_calls "
				 "WHERE seq = 3"),
		     1);
	PQfinish(c);
	/* 1..4 and the close's checkpoint */
	cr_assert_eq(ta_check_chain(TA_HOST), 5);
}

/* ---- events too large for a line of the trail ---- */

struct ta_big {
	struct ta_drive d; /* first */
	struct mw_audit_stats locked; /* while the table was locked */
};

/* Event 2 durable in the spool while the table is locked, then all in. */
static bool ta_big_step(struct ta_drive *d, int64_t now)
{
	struct ta_big *b = (struct ta_big *)d;
	struct mw_audit_stats st;

	(void)now;
	mw_audit_stats(d->a, &st);
	if (d->phase == 0) {
		if (st.durable_seq < 2)
			return false;
		b->locked = st;
		ta_exec_sql(d->db, "COMMIT");
		d->phase = 1;
		return false;
	}
	return st.written >= 2 && !st.queued;
}

/*
 * An event whose line would be longer than the spool and the verifier
 * take (here 10 MiB of control characters, 6 bytes each as JSON, one
 * more in COPY; reals re-printed by jansson grow as much) is refused at
 * submit, so that the proxy refuses its request: it never reaches the
 * spool, which would refuse it and every event after it. A large event
 * that fits is taken, and so is the next small one, durable in the spool
 * while the database cannot commit.
 */
Test(audit, an_event_too_long_for_a_line_is_refused_alone)
{
	size_t n = 10u << 20, fits = 12u << 20;
	struct ta_big b = { 0 };
	struct mw_loop *loop;
	struct mw_audit *a;
	json_t *huge, *large;
	char *s;
	PGconn *c;

	s = malloc(fits);
	cr_assert_not_null(s);
	memset(s, 1, n);
	huge = json_pack("{ss%}", "blob", s, n);
	memset(s, 'x', fits);
	large = json_pack("{ss%}", "blob", s, fits);
	free(s);
	cr_assert(huge && large);

	ta_cfg.spool_first = true;
	ta_cfg.spool_after_ms = 600000;
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	c = ta_db();
	ta_exec_sql(c, "BEGIN; LOCK TABLE mcpwarden.events IN ACCESS "
		       "EXCLUSIVE MODE");
	{
		struct mw_audit_event ev = {
			.kind = MW_EV_REQUEST,
			.conn_id = 1,
			.method = "tools/call",
			.params = huge,
		};

		cr_assert_eq(mw_audit_submit(a, &ev), 0);
		ev.params = large;
		cr_assert_eq(mw_audit_submit(a, &ev), 1);
	}
	cr_assert_eq(ta_submit_simple(a, 1, "ping"), 2);
	mw_audit_want_durable(a, 2);
	b.d.loop = loop;
	b.d.a = a;
	b.d.db = c;
	b.d.step = ta_big_step;
	ta_drive_loop(&b.d, 60000);
	cr_assert_eq(b.locked.written, 0);
	cr_assert_eq(b.locked.durable_seq, 2);
	cr_assert_not(b.locked.spool_failing);
	cr_assert_eq(b.locked.spool_failures, 0);
	PQfinish(c);
	mw_audit_close(a);
	mw_loop_free(loop);
	json_decref(huge);
	json_decref(large);
	/* the two taken and the close's checkpoint */
	cr_assert_eq(ta_check_chain(TA_HOST), 3);
}

/* ---- a database that lost events it had committed ---- */

static void ta_drop_writer(PGconn *c)
{
	PQclear(ta_query(c, "SELECT pg_terminate_backend(pid) FROM "
			    "pg_stat_activity WHERE usename = "
			    "'mcpwarden_writer'"));
}

/*
 * 1..3 written, then deleted but 1 and the writer's connection dropped;
 * 4 written; the connection dropped again; 5 written. seqs[] get the
 * missing count after each.
 */
static bool ta_behind_step(struct ta_drive *d, int64_t now)
{
	struct mw_audit_stats st;

	(void)now;
	mw_audit_stats(d->a, &st);
	if (st.written < (uint64_t)d->phase + 3)
		return false;
	d->seqs[d->phase] = st.missing;
	switch (d->phase++) {
	case 0:
		/* the acknowledged tail is gone, past the triggers */
		ta_exec_sql(d->db, "SET session_replication_role = replica");
		ta_exec_sql(d->db, "DELETE FROM mcpwarden.events WHERE "
				   "seq >= 2");
		ta_drop_writer(d->db);
		d->seqs[4] = ta_submit_simple(d->a, 1, "after");
		return false;
	case 1:
		/* the next reconnect finds no new gap */
		ta_drop_writer(d->db);
		d->seqs[5] = ta_submit_simple(d->a, 1, "again");
		return false;
	default:
		return true;
	}
}

/*
 * The database comes back without events it acknowledged (a replica
 * promoted without them, a restore): the writer cannot make them up, but
 * says so (an alert in the log, counted in the stats) once, and goes on.
 */
Test(audit, a_database_without_committed_events_is_alerted)
{
	struct ta_drive d = { 0 };
	struct mw_loop *loop;
	struct mw_audit *a;
	PGconn *c;

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	for (int i = 1; i <= 3; i++)
		cr_assert_eq(ta_submit_simple(a, 1, "ping"), (uint64_t)i);
	c = ta_db();
	d.loop = loop;
	d.a = a;
	d.db = c;
	d.step = ta_behind_step;
	ta_drive_loop(&d, 30000);
	cr_assert_eq(d.seqs[4], 4);
	cr_assert_eq(d.seqs[5], 5);
	cr_assert_eq(d.seqs[0], 0, "nothing missing at first");
	cr_assert_eq(d.seqs[1], 2, "events 2 and 3 are missing: %llu",
		     (unsigned long long)d.seqs[1]);
	cr_assert_eq(d.seqs[2], 2, "no new gap, nothing more counted");
	mw_audit_close(a);
	mw_loop_free(loop);
	cr_assert_eq(ta_count(c, "SELECT count(*) FROM mcpwarden.events WHERE "
				 "seq IN (1, 4, 5)"),
		     3);
	PQfinish(c);
}

/* ---- another writer's chain ---- */

/*
 * Phase 0: the writer's COPY of 1..3 waits for the locked table, in which
 * another event 2 of this host waits to commit; the writer's connection
 * is dropped, then the other event committed. Phase 1: the writer halts
 * and the spool takes 1..3; event 4 is taken too (seqs[0]).
 */
/*
 * Phase 0 of a step whose transaction on d->db holds rows the writer's
 * COPY must wait on: 300 ms for the COPY to reach them, then COMMIT
 * (drop_writer: with the writer's session ended first), and phase 1.
 */
static void ta_commit_after_a_while(struct ta_drive *d, int64_t now,
				    bool drop_writer)
{
	if (!d->mark)
		d->mark = now;
	if (now - d->mark < 300)
		return;
	if (drop_writer)
		ta_drop_writer(d->db);
	ta_exec_sql(d->db, "COMMIT");
	d->phase = 1;
}

static bool ta_halt_step(struct ta_drive *d, int64_t now)
{
	struct mw_audit_stats st;

	mw_audit_stats(d->a, &st);
	if (d->phase == 0) {
		ta_commit_after_a_while(d, now, true);
		return false;
	}
	if (d->phase == 1) {
		if (!st.halted || st.durable_seq < 3)
			return false;
		d->in_outage = st;
		d->seqs[0] = ta_submit_simple(d->a, 1, "after");
		d->phase = 2;
		return false;
	}
	return st.durable_seq >= 4;
}

/*
 * The database's event 2 is not the one this writer queued (another
 * writer with this host name): the writer takes none of its queued
 * events as recorded, stops writing to that database, and keeps them
 * durable in the spool, as during an outage; the next start refuses to
 * take the spooled event 2 for the database's.
 */
Test(audit, another_chain_in_the_database_halts_the_writer)
{
	struct ta_drive d = { 0 };
	struct mw_audit_stats st;
	struct mw_loop *loop;
	struct mw_audit *a;
	char err[512] = "";
	PGconn *c;

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	c = ta_db();
	ta_exec_sql(c, "BEGIN; LOCK TABLE mcpwarden.events IN ACCESS "
		       "EXCLUSIVE MODE");
	ta_exec_sql(c, "INSERT INTO mcpwarden.events (host, seq, ts, kind, "
		       "detail, prev_hash, hash) VALUES ('" TA_HOST "', 2, "
		       "now(), 'request', 'another writer', '" MW_CHAIN_GENESIS
		       "', '" MW_CHAIN_GENESIS "')");
	for (int i = 1; i <= 3; i++)
		cr_assert_eq(ta_submit_simple(a, 1, "ping"), (uint64_t)i);
	d.loop = loop;
	d.a = a;
	d.db = c;
	d.step = ta_halt_step;
	ta_drive_loop(&d, 30000);
	cr_assert(d.in_outage.halted);
	cr_assert_not(d.in_outage.connected);
	cr_assert_eq(d.in_outage.written, 0, "none taken as recorded");
	cr_assert_eq(d.in_outage.queued, 3);
	cr_assert_geq(d.in_outage.spooled, 3);
	cr_assert_eq(d.seqs[0], 4, "events are still taken, into the spool");
	mw_audit_stats(a, &st);
	cr_assert(st.halted);
	cr_assert_eq(st.written, 0);
	cr_assert_eq(st.queued, 4);
	cr_assert_gt(st.spool_bytes, 0);
	mw_audit_close(a);
	mw_loop_free(loop);
	/* nothing of this writer's went to that database */
	cr_assert_eq(ta_count(c, "SELECT count(*) FROM mcpwarden.events"), 1);
	PQfinish(c);
	/* nor does the next start take the spool's 1 and 2 as recorded */
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = NULL;
	cr_assert_eq(mw_audit_open(&a, &ta_cfg, loop, err, sizeof(err)),
		     -EBADMSG, "%s", err);
	cr_assert_null(a);
	cr_assert_not_null(strstr(err, "event 2 is not the database's"), "%s",
			   err);
	mw_loop_free(loop);
}

/*
 * Phase 0: the writer's COPY of event 1 waits on another session's
 * uncommitted row with the same key (host, seq, ts) and other content;
 * then that row commits, and the COPY fails on the duplicate key.
 */
static bool ta_dup_step(struct ta_drive *d, int64_t now)
{
	struct mw_audit_stats st;

	mw_audit_stats(d->a, &st);
	if (d->phase == 0) {
		ta_commit_after_a_while(d, now, false);
		return false;
	}
	return st.halted || st.written >= 1;
}

/*
 * A duplicate key on a live connection is not taken for this writer's
 * own event committed earlier: the database's row at that seq is
 * compared with the queued one first, and another's halts the writer.
 */
Test(audit, a_duplicate_key_is_compared_before_it_is_taken_as_recorded)
{
	const int64_t ts_us = (mw_now_us() / 1000000) * 1000000 + 123456;
	struct ta_drive d = { 0 };
	struct mw_audit_stats st;
	struct mw_loop *loop;
	struct mw_audit *a;
	char sql[1024];
	PGconn *c;

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	c = ta_db();
	snprintf(sql, sizeof(sql),
		 "BEGIN; INSERT INTO mcpwarden.events (host, seq, ts, kind, "
		 "detail, prev_hash, hash) VALUES ('" TA_HOST "', 1, "
		 "to_timestamp(%lld / 1000000.0), 'request', 'another writer', "
		 "'" MW_CHAIN_GENESIS "', '" MW_CHAIN_GENESIS "')",
		 (long long)ts_us);
	ta_exec_sql(c, sql);
	cr_assert_eq(ta_submit_at(a, 1, "ping", ts_us), 1);
	d.loop = loop;
	d.a = a;
	d.db = c;
	d.step = ta_dup_step;
	ta_drive_loop(&d, 30000);
	mw_audit_stats(a, &st);
	cr_assert(st.halted, "the writer halts on another's row");
	cr_assert_eq(st.written, 0, "event 1 is not taken as recorded");
	cr_assert_eq(st.queued, 1);
	mw_audit_close(a);
	mw_loop_free(loop);
	cr_assert_eq(ta_count(c, "SELECT count(*) FROM mcpwarden.events"), 1);
	PQfinish(c);
}

/*
 * The same with the other row there before the COPY, in the middle of
 * the batch: the key refuses the batch, which then goes one event at a
 * time; at 3 the database's head is not the writer's event 3, so 3..6
 * are not taken as recorded.
 */
Test(audit, a_row_at_a_queued_seq_is_not_taken_as_recorded)
{
	struct ta_drive d = { .phase = 1 };
	struct mw_audit_stats st;
	struct mw_loop *loop;
	struct mw_audit *a;
	PGresult *r;
	PGconn *c;

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	c = ta_db();
	ta_exec_sql(c, "INSERT INTO mcpwarden.events (host, seq, ts, kind, "
		       "detail, prev_hash, hash) VALUES ('" TA_HOST "', 3, "
		       "'epoch'::timestamptz + 1700000000000003 * "
		       "interval '1 microsecond', 'request', "
		       "'committed late', '-', '-')");
	for (int i = 0; i < 6; i++)
		cr_assert_eq(ta_submit_at(a, 1, "ping", 1700000000000001 + i),
			     (uint64_t)i + 1);
	d.loop = loop;
	d.a = a;
	d.step = ta_dup_step;
	ta_drive_loop(&d, 30000);
	mw_audit_stats(a, &st);
	cr_assert(st.halted);
	cr_assert_eq(st.written, 2, "1 and 2, one at a time");
	cr_assert_eq(st.queued, 4);
	r = ta_query(c, "SELECT string_agg(seq::text || ':' || "
			"coalesce(method, detail), ',' ORDER BY seq) "
			"FROM mcpwarden.events");
	cr_assert_str_eq(PQgetvalue(r, 0, 0), "1:ping,2:ping,3:committed late");
	PQclear(r);
	PQfinish(c);
	mw_audit_close(a);
	mw_loop_free(loop);
}

static void ta_spool_path(char *path, size_t n)
{
	snprintf(path, n, "%s/spool/" MW_SPOOL_FILE, ta_dir);
}

/* The spool's whole lines: what comes before the NUL bytes, if any. */
static char *ta_spool_text(void)
{
	char path[PATH_MAX];

	ta_spool_path(path, sizeof(path));
	return ta_read_file(path);
}

static void ta_spool_put(const char *text)
{
	char path[PATH_MAX];

	ta_spool_path(path, sizeof(path));
	ta_write_file(path, text, 0600);
}

static size_t ta_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/*
 * Lines of the checkpoint file this key did not sign as they stand do
 * not move the chain: a copy of a real line with another checkpoint_seq
 * (which the signature does not cover), and one with a made-up seq; nor
 * does a line too long to be a checkpoint's stop the start. The start
 * passes over them to the last line that is the writer's.
 */
Test(audit, only_the_keys_own_checkpoint_lines_move_the_chain)
{
	char path[PATH_MAX], *text, *last, extra[2048];
	struct mw_loop *loop;
	struct mw_audit *a;
	PGconn *c;
	FILE *f;

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	cr_assert_eq(ta_submit_simple(a, 1, "ping"), 1);
	cr_assert_eq(ta_submit_simple(a, 1, "tools/list"), 2);
	mw_audit_close(a); /* checkpoint 3 signs event 2 */
	mw_loop_free(loop);
	snprintf(path, sizeof(path), "%s/%s", ta_dir, MW_AUDIT_CHECKPOINT_FILE);
	text = ta_read_file(path);
	text[strlen(text) - 1] = '\0';
	last = strrchr(text, '\n');
	last = last ? last + 1 : text;
	cr_assert_not_null(strstr(last, "\"checkpoint_seq\":3"), "%s", last);
	snprintf(extra, sizeof(extra), "%s", last);
	memcpy(strstr(extra, "\"checkpoint_seq\":3"), "\"checkpoint_seq\":9",
	       18);
	f = fopen(path, "a");
	cr_assert_not_null(f);
	/* a line longer than any checkpoint's (1 MiB): passed over too */
	for (int i = 0; i < (3 << 19); i++)
		cr_assert_neq(fputc('x', f), EOF);
	fputc('\n', f);
	fprintf(f, "%s\n", extra);
	memcpy(strstr(extra, "\"checkpoint_seq\":9"), "\"checkpoint_seq\":3",
	       18);
	memcpy(strstr(extra, "\"seq\":2,"), "\"seq\":7,", 8);
	fprintf(f, "%s\n", extra);
	cr_assert_eq(fclose(f), 0);
	free(text);
	c = ta_db();
	ta_exec_sql(c, "BEGIN; SET LOCAL session_replication_role = replica; "
		       "DELETE FROM mcpwarden.events; COMMIT");
	PQfinish(c);

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	cr_assert_eq(ta_submit_simple(a, 2, "ping"), 4);
	mw_audit_close(a);
	mw_loop_free(loop);
}

/*
 * The spool holds events to ship, yet ends before what the checkpoint
 * file vouches for (the spool cut short): the events between are in
 * neither, and numbering on from the spool would give their seqs again.
 * The start is refused, the spool kept.
 */
Test(audit, a_spool_that_ends_before_the_checkpoint_file_is_refused)
{
	char *text, *nl;
	struct mw_loop *loop;
	struct mw_audit *a;
	PGconn *c;

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	c = ta_db();
	ta_exec_sql(c, "BEGIN; LOCK TABLE mcpwarden.events IN ACCESS "
		       "EXCLUSIVE MODE");
	cr_assert_eq(ta_submit_simple(a, 1, "ping"), 1);
	cr_assert_eq(ta_submit_simple(a, 1, "tools/list"), 2);
	mw_audit_close(a); /* 1, 2 and checkpoint 3 left in the spool */
	mw_loop_free(loop);
	ta_exec_sql(c, "ROLLBACK");
	PQfinish(c);
	text = ta_spool_text();
	cr_assert_eq(ta_lines(text), 3, "%s", text);
	nl = strchr(text, '\n');
	nl[1] = '\0';
	ta_spool_put(text);
	free(text);
	ta_open_refused(-EBADMSG, "the spool cut short");
}

/*
 * ta_halt_step with other_sql's rows of another writer committed under
 * the writer's COPY of 1..3: the writer halts, and its close leaves 1..4
 * and its checkpoint 5 in the spool.
 */
static void ta_halted_by(const char *other_sql)
{
	struct ta_drive d = { 0 };
	struct mw_audit_stats st;
	struct mw_loop *loop;
	struct mw_audit *a;
	PGconn *c;

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	c = ta_db();
	ta_exec_sql(c, "BEGIN; LOCK TABLE mcpwarden.events IN ACCESS "
		       "EXCLUSIVE MODE");
	ta_exec_sql(c, other_sql);
	for (int i = 1; i <= 3; i++)
		cr_assert_eq(ta_submit_simple(a, 1, "ping"), (uint64_t)i);
	d.loop = loop;
	d.a = a;
	d.db = c;
	d.step = ta_halt_step;
	ta_drive_loop(&d, 30000);
	mw_audit_stats(a, &st);
	cr_assert(st.halted);
	cr_assert_eq(st.written, 0);
	mw_audit_close(a);
	mw_loop_free(loop);
	PQfinish(c);
}

/* Opens, expecting the start to refuse the spool with want in err. */
/* A start refused for its spool, with the AU-5 alert. */
static void ta_spool_refused(const char *want)
{
	ta_open_refused(-EBADMSG, want);
	ta_open_refused(-EBADMSG, "ALERT (AU-5)");
}

/*
 * The other writer went on past every seq the spool holds (it kept
 * writing while this one was halted): no spooled line is at the
 * database's head, and the spool's last one, below it, is not the
 * database's event. The start refuses, the spool kept: taking its lines
 * for recorded would drop this writer's events without a word.
 */
Test(audit, another_chain_past_the_spool_stops_the_start)
{
	char *before, *after;
	PGconn *c;

	ta_halted_by("INSERT INTO mcpwarden.events (host, seq, ts, kind, "
		     "detail, prev_hash, hash) SELECT '" TA_HOST "', g, now(), "
		     "'request', 'another writer', '" MW_CHAIN_GENESIS
		     "', '" MW_CHAIN_GENESIS "' FROM generate_series(2, 20) g");
	before = ta_spool_text();
	cr_assert_eq(ta_lines(before), 5, "1..4 and the checkpoint: %s",
		     before);
	ta_spool_refused("event 5 is not the database's event");
	after = ta_spool_text();
	cr_assert_str_eq(after, before, "the spool is kept as it was");
	free(before);
	free(after);
	c = ta_db();
	cr_assert_eq(ta_count(c, "SELECT count(*) FROM mcpwarden.events"), 19,
		     "nothing of this writer's went to that database");
	PQfinish(c);
}

/*
 * The spool's first line beyond the database's head does not follow it:
 * the database's event 1 is another writer's, and the spool (its line 1
 * gone) goes on from this writer's own. Shipped, it would fork the
 * chain: the start refuses.
 */
Test(audit, a_spool_not_following_the_database_stops_the_start)
{
	char *text, *rest;

	ta_halted_by("INSERT INTO mcpwarden.events (host, seq, ts, kind, "
		     "detail, prev_hash, hash) VALUES ('" TA_HOST "', 1, "
		     "now(), 'request', 'another writer', '" MW_CHAIN_GENESIS
		     "', '" MW_CHAIN_GENESIS "')");
	text = ta_spool_text();
	rest = strchr(text, '\n');
	cr_assert_not_null(rest);
	ta_spool_put(rest + 1);
	ta_spool_refused("event 2 does not follow the database's last event");
	free(text);
	text = ta_spool_text();
	cr_assert_eq(ta_lines(text), 4, "2..5 are kept: %s", text);
	free(text);
}

/*
 * The usual case stays as it was: a spool whose events were shipped, the
 * database having gone on after them (a kill before the spool was
 * emptied), starts, and is emptied.
 */
Test(audit, a_shipped_spool_below_the_head_is_dropped)
{
	struct mw_audit_stats st;
	struct mw_loop *loop;
	struct mw_audit *a;
	char *shipped;

	ta_writer_killed(ta_first_initialize, ta_queue_two_calls,
			 ta_spooled_two);
	shipped = ta_spool_text();
	cr_assert_eq(ta_lines(shipped), 2, "2 and 3: %s", shipped);
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	cr_assert_eq(ta_submit_simple(a, 1, "ping"), 4);
	ta_drive_until_written(loop, a, 3);
	mw_audit_close(a);
	mw_loop_free(loop);
	/* as a kill before the spool was emptied leaves it */
	ta_spool_put(shipped);
	free(shipped);
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	mw_audit_stats(a, &st);
	cr_assert_eq(st.queued, 0);
	cr_assert_eq(st.spool_bytes, 0, "the spool is emptied");
	cr_assert_eq(ta_submit_simple(a, 1, "ping"), 6);
	ta_drive_until_written(loop, a, 1);
	mw_audit_close(a);
	mw_loop_free(loop);
	cr_assert_eq(ta_check_chain(TA_HOST), 7);
}

/* 1 written; 2, 3 and the checkpoint 4 they made due only in the spool. */
static bool ta_spooled_checkpoint(struct mw_audit *a)
{
	struct mw_audit_stats st;

	mw_audit_stats(a, &st);
	return st.checkpoints == 1 && st.written == 1 &&
	       mw_audit_durable_seq(a) == 4;
}

/* A start and a close, nothing submitted: what the spool holds ships. */
static void ta_start_and_close(long long ships)
{
	struct mw_loop *loop;
	struct mw_audit *a;

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	if (ships)
		ta_drive_until_written(loop, a, ships);
	mw_audit_close(a);
	mw_loop_free(loop);
}

/*
 * A kill after the spool's sync of a checkpoint but before the loop saw
 * it (or after the database's commit but before the writer heard of it)
 * left the checkpoint's line out of the file outside the database: the
 * next start makes the line again from the spooled event, as it was,
 * and appends it; whether that event is still to ship or already
 * recorded; and not when the file has it.
 */
Test(audit, a_spooled_checkpoint_missing_from_the_file_is_added)
{
	char path[PATH_MAX], *line, *spool, *now;

	ta_cfg.checkpoint_events = 3;
	ta_writer_killed(ta_first_initialize, ta_queue_two_calls,
			 ta_spooled_checkpoint);
	cr_assert_eq(mw_audit_checkpoint_path(&ta_cfg, path, sizeof(path)), 0);
	line = ta_read_file(path);
	cr_assert_eq(ta_lines(line), 1, "%s", line);
	cr_assert_not_null(strstr(line, "\"checkpoint_seq\":4"), "%s", line);
	spool = ta_spool_text();
	cr_assert_eq(ta_lines(spool), 3, "2..4: %s", spool);

	/* 2..4 to ship */
	ta_write_file(path, "", 0600);
	ta_start_and_close(3);
	now = ta_read_file(path);
	cr_assert_str_eq(now, line, "made again as it was");
	free(now);

	/* 2..4 recorded, the spool not emptied yet */
	ta_spool_put(spool);
	ta_write_file(path, "", 0600);
	ta_start_and_close(0);
	now = ta_read_file(path);
	cr_assert_str_eq(now, line);
	free(now);

	/* the file has it already */
	ta_spool_put(spool);
	ta_start_and_close(0);
	now = ta_read_file(path);
	cr_assert_str_eq(now, line, "not twice");
	free(now);
	free(spool);
	free(line);
	cr_assert_eq(ta_check_chain(TA_HOST), 4);
}

/* ---- the host's writer lock ---- */

/* Tries the writer lock of TA_HOST on c, as a writer's session does. */
static PGresult *ta_try_writer_lock(PGconn *c)
{
	const char *params[1] = { TA_HOST };

	return PQexecParams(c, mw_schema_writer_lock_sql, 1, NULL, params, NULL,
			    NULL, 0);
}

static bool ta_take_writer_lock(PGconn *c)
{
	PGresult *r = ta_try_writer_lock(c);
	bool got;

	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "writer lock: %s",
		     PQresultErrorMessage(r));
	got = !strcmp(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	return got;
}

/*
 * A writer in a process of its own, killed by the test: it queues 1..3
 * and runs until then.
 */
static pid_t ta_writer_process(void)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		struct mw_audit_config cfg = ta_cfg;
		struct mw_loop *loop;
		struct mw_audit *a = NULL;
		char err[512];

		/* its events stay out of the spool: the case to show */
		cfg.spool_after_ms = 600000;
		if (mw_loop_new(&loop) ||
		    mw_audit_open(&a, &cfg, loop, err, sizeof(err)))
			_exit(2);
		for (int i = 1; i <= 3; i++)
			if (ta_submit_simple(a, 1, "ping") != (uint64_t)i)
				_exit(3);
		mw_loop_run(loop);
		_exit(4);
	}
	return pid;
}

struct ta_release {
	int delay_ms;
	bool done;
};

/* The synchronous replica comes back: the held commits show. */
static void *ta_release_commits(void *arg)
{
	struct ta_release *rl = arg;
	PGconn *c = ta_db();
	PGresult *r;

	poll(NULL, 0, rl->delay_ms);
	r = PQexec(c, "ALTER SYSTEM RESET synchronous_standby_names");
	rl->done = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	r = PQexec(c, "SELECT pg_reload_conf()");
	rl->done = rl->done && PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	PQfinish(c);
	return NULL;
}

/*
 * A daemon killed while PostgreSQL still held its last batch's commit
 * back (here a synchronous replica that is away; an I/O stall would do
 * the same): its session keeps the host's writer lock until that commit
 * shows and the server ends it. The next start waits for the lock and
 * continues the chain after the late events, rather than from the head
 * it could read before they show: one chain, no second event 1.
 */
Test(audit, a_restart_waits_for_the_dead_writers_late_commit)
{
	struct ta_release rl = { .delay_ms = 800 };
	struct mw_loop *loop;
	struct mw_audit *a;
	int64_t t0, waited;
	pthread_t th;
	PGconn *c;
	pid_t pid;
	int st;

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	mw_audit_close(a);
	mw_loop_free(loop);
	/* only the writer's commits wait for the replica */
	c = ta_db();
	ta_exec_sql(c, "ALTER SYSTEM SET synchronous_commit = 'local'");
	ta_exec_sql(c, "ALTER SYSTEM SET synchronous_standby_names = "
		       "'away'");
	ta_exec_sql(c, "ALTER ROLE " MW_SCHEMA_WRITER_ROLE
		       " SET synchronous_commit = 'on'");
	PQclear(ta_query(c, "SELECT pg_reload_conf()"));

	pid = ta_writer_process();
	for (int i = 0;
	     !ta_count(c, "SELECT count(*) FROM pg_stat_activity WHERE "
			  "usename = '" MW_SCHEMA_WRITER_ROLE "' AND "
			  "wait_event = 'SyncRep'");
	     i++) {
		cr_assert_lt(i, 1000, "the writer's commit never waited");
		poll(NULL, 0, 10);
	}
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFSIGNALED(st), "the writer process ended early: %d", st);
	cr_assert_eq(ta_count(c, "SELECT count(*) FROM mcpwarden.events"), 0,
		     "its events are not visible yet");
	PQfinish(c);

	cr_assert_eq(pthread_create(&th, NULL, ta_release_commits, &rl), 0);
	t0 = mw_now_ms();
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	waited = mw_now_ms() - t0;
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert(rl.done);
	cr_assert_eq(ta_submit_simple(a, 1, "after"), 4,
		     "the chain goes on after the late events");
	cr_assert_geq(waited, rl.delay_ms - 100,
		      "the start did not wait for the lock (%lld ms)",
		      (long long)waited);
	ta_drive_until_written(loop, a, 1);
	mw_audit_close(a);
	mw_loop_free(loop);
	cr_assert_eq(ta_check_chain(TA_HOST), 5,
		     "one chain: 1..4 and the closing checkpoint");
}

/*
 * Phase 0: the writer's session is ended and the test's session takes
 * the lock before the writer is back (the loop is held meanwhile); an
 * event is submitted. Phase 1: for a second the writer stays out (the
 * event goes to the spool); the lock is released. Phase 2: it is written.
 */
static bool ta_locked_out_step(struct ta_drive *d, int64_t now)
{
	struct mw_audit_stats st;
	char sql[256];

	mw_audit_stats(d->a, &st);
	switch (d->phase) {
	case 0:
		snprintf(sql, sizeof(sql),
			 "SELECT pg_terminate_backend(pid) FROM "
			 "pg_stat_activity WHERE usename = "
			 "'" MW_SCHEMA_WRITER_ROLE "' AND pid <> %d",
			 PQbackendPID(d->db));
		PQclear(ta_query(d->db2, sql));
		for (int i = 0; !ta_take_writer_lock(d->db); i++) {
			cr_assert_lt(i, 500, "the ended session kept the lock");
			poll(NULL, 0, 10);
		}
		d->seqs[0] = ta_submit_simple(d->a, 1, "while locked out");
		d->mark = now;
		d->phase = 1;
		return false;
	case 1:
		if (now - d->mark < 1500)
			return false;
		d->in_outage = st;
		PQclear(ta_query(d->db, "SELECT pg_advisory_unlock_all()"));
		d->phase = 2;
		return false;
	default:
		return st.written >= 2;
	}
}

/*
 * Another session holding the host's writer lock keeps the writer out:
 * a start gives up after lock_wait_ms with an error naming the session,
 * and a writer that reconnects stays disconnected, its events going to
 * the spool, until the lock is free.
 */
Test(audit, a_writer_lock_held_elsewhere_keeps_the_writer_out)
{
	struct ta_drive d = { 0 };
	struct mw_audit_stats st;
	struct mw_loop *loop;
	struct mw_audit *a = NULL;
	char err[512] = "", want[64];
	PGconn *c;

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	mw_audit_close(a);
	mw_loop_free(loop);

	c = ta_db_as(MW_AUDIT_WRITER);
	cr_assert(ta_take_writer_lock(c));
	ta_cfg.lock_wait_ms = 300;
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = NULL;
	cr_assert_eq(mw_audit_open(&a, &ta_cfg, loop, err, sizeof(err)), -EBUSY,
		     "%s", err);
	cr_assert_null(a);
	mw_loop_free(loop);
	snprintf(want, sizeof(want), "PostgreSQL pid %d", PQbackendPID(c));
	cr_assert_not_null(strstr(err, want), "%s", err);
	cr_assert_not_null(strstr(err, "held by another session"), "%s", err);

	PQclear(ta_query(c, "SELECT pg_advisory_unlock_all()"));
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	cr_assert_eq(ta_submit_simple(a, 1, "before"), 1);
	d.loop = loop;
	d.a = a;
	d.db = c;
	d.db2 = ta_db();
	d.step = ta_locked_out_step;
	ta_drive_loop(&d, 30000);
	cr_assert_eq(d.seqs[0], 2);
	cr_assert_not(d.in_outage.connected);
	cr_assert_eq(d.in_outage.lock_holder, PQbackendPID(c));
	cr_assert_eq(d.in_outage.written, 1, "nothing written locked out");
	cr_assert_geq(d.in_outage.durable_seq, 2, "but spooled");
	mw_audit_stats(a, &st);
	cr_assert_eq(st.lock_holder, 0, "taken at last");
	mw_audit_close(a);
	mw_loop_free(loop);
	cr_assert_eq(ta_check_chain(TA_HOST), 3,
		     "one chain: 1, 2 and the closing checkpoint");
	PQfinish(c);
	PQfinish(d.db2);
}

/* ---- a spool that is not the writer's ---- */

/*
 * A spooled line whose seq is no event's (0, not a number, too long) is
 * not taken for one: the start stops and names the line, whatever the
 * database holds.
 */
Test(audit, a_spooled_line_without_a_seq_stops_the_start)
{
	static const char *const bad_seqs[] = { "0", "12a", "",
						"12345678901234567890" };
	struct mw_loop *loop;
	struct mw_audit *a;
	char path[PATH_MAX], err[512];

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	mw_audit_close(a);
	mw_loop_free(loop);
	snprintf(path, sizeof(path), "%s/spool/" MW_SPOOL_FILE, ta_dir);
	for (size_t b = 0; b < sizeof(bad_seqs) / sizeof(bad_seqs[0]); b++) {
		FILE *f = fopen(path, "w");

		cr_assert_not_null(f, "%s: %s", path, strerror(errno));
		for (int i = 0; i < MW_CF_N; i++)
			fprintf(f, "%s\t",
				i == MW_CF_HOST	       ? TA_HOST
				: i == MW_CF_SEQ       ? bad_seqs[b]
				: i == MW_CF_PREV_HASH ? MW_CHAIN_GENESIS
						       : "\\N");
		fprintf(f, "%s\n", TA_POLICY_SHA);
		cr_assert_eq(fclose(f), 0);
		cr_assert_eq(mw_loop_new(&loop), 0);
		a = NULL;
		err[0] = '\0';
		cr_assert_eq(mw_audit_open(&a, &ta_cfg, loop, err, sizeof(err)),
			     -EBADMSG, "seq \"%s\": %s", bad_seqs[b], err);
		cr_assert_null(a);
		cr_assert_not_null(strstr(err, "line 1 is not an audit event"),
				   "seq \"%s\": %s", bad_seqs[b], err);
		mw_loop_free(loop);
	}
}

/*
 * A login other than the writer's cannot keep the writer out: in the
 * embedded cluster only the writer may take advisory locks (the auditor's
 * psql is refused), and a session of another login that holds the lock
 * all the same (a superuser's) has no events to commit: the writer is
 * told, goes on without the lock, and says who holds it.
 */
Test(audit, another_login_cannot_keep_the_writer_out)
{
	struct mw_audit_stats st;
	struct mw_loop *loop;
	struct mw_audit *a;
	PGresult *r;
	PGconn *c;

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	mw_audit_close(a);
	mw_loop_free(loop);

	c = ta_db_as(MW_AUDIT_AUDITOR);
	r = ta_try_writer_lock(c);
	cr_assert_eq(PQresultStatus(r), PGRES_FATAL_ERROR,
		     "the auditor took the writer's lock");
	cr_assert_str_eq(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42501", "%s",
			 PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);

	c = ta_db();
	cr_assert(ta_take_writer_lock(c));
	ta_cfg.lock_wait_ms = 60000;
	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	mw_audit_stats(a, &st);
	cr_assert(st.connected);
	cr_assert_eq(st.lock_holder, PQbackendPID(c));
	cr_assert_eq(ta_submit_simple(a, 1, "ping"), 1);
	ta_drive_until_written(loop, a, 1);
	mw_audit_close(a);
	mw_loop_free(loop);
	PQfinish(c);
	cr_assert_eq(ta_check_chain(TA_HOST), 2,
		     "one chain: 1 and the closing checkpoint");
}

/* ---- what auditors read, against the build's definitions ---- */

struct ta_problems {
	int n;
	char text[64][256];
};

static void ta_problem(void *arg, const char *fmt, ...)
{
	struct ta_problems *p = arg;
	va_list ap;

	if (p->n == 64)
		return;
	va_start(ap, fmt);
	vsnprintf(p->text[p->n++], sizeof(p->text[0]), fmt, ap);
	va_end(ap);
}

static bool ta_problem_says(const struct ta_problems *p, const char *what)
{
	for (int i = 0; i < p->n; i++)
		if (strstr(p->text[i], what))
			return true;
	return false;
}

/* The auditor's check, as audit verify runs it: the problems found. */
static struct ta_problems ta_schema_check(void)
{
	struct ta_problems p = { 0 };
	PGconn *aud = ta_db_as(MW_AUDIT_AUDITOR);
	char err[512] = "";

	cr_assert_eq(mw_schema_check(aud, ta_problem, &p, err, sizeof(err)), 0,
		     "mw_schema_check: %s", err);
	/* it left no temporary view, no transaction open */
	cr_assert_eq(PQtransactionStatus(aud), PQTRANS_IDLE);
	cr_assert_eq(ta_count(aud, "SELECT count(*) FROM pg_class WHERE "
				   "relname LIKE 'mw_expected%'"),
		     0);
	PQfinish(aud);
	return p;
}

Test(audit, the_views_are_those_the_migrations_leave)
{
	static const char *const want[] = {
		"connections",	"tool_calls",	     "messages",
		"http_errors",	"connection_events", "tool_changes",
		"chain_events", "checkpoints",	     "control_actions",
	};
	struct mw_schema_view v[MW_SCHEMA_MAX_VIEWS];
	size_t n = mw_schema_views(v, MW_SCHEMA_MAX_VIEWS);

	cr_assert_eq(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(v[i].name, want[i]);
		cr_assert_eq(strncmp(v[i].select, "SELECT ", 7), 0);
		cr_assert_null(memchr(v[i].select, ';', v[i].len));
	}
	/* the latest of each: chain_events as migration 6 left it */
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].name, "chain_events"))
			cr_assert_not_null(memmem(v[i].select, v[i].len,
						  "isfinite(ts)", 12));
}

Test(audit, a_view_replaced_or_a_filter_on_the_events_is_named)
{
	struct mw_loop *loop = NULL;
	struct mw_audit *a;
	struct ta_problems p;
	PGconn *c;

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop);
	c = ta_db();
	p = ta_schema_check();
	cr_assert_eq(p.n, 0, "as made: %s", p.n ? p.text[0] : "");

	/* a superuser hides checkpoints from the auditor's view */
	ta_exec_sql(c, "CREATE OR REPLACE VIEW mcpwarden.checkpoints AS\n"
		       "SELECT host, seq AS checkpoint_seq, ts,\n"
		       "	params ->> 'seq' AS seq, params ->> 'hash' AS "
		       "hash,\n"
		       "	params ->> 'key_id' AS key_id,\n"
		       "	params ->> 'signature' AS signature\n"
		       "FROM mcpwarden.events\n"
		       "WHERE kind = 'checkpoint' AND seq > 5");
	p = ta_schema_check();
	cr_assert_eq(p.n, 1, "%d problem(s)", p.n);
	cr_assert(ta_problem_says(&p, "view mcpwarden.checkpoints is not "
				      "mcpwarden's"),
		  "%s", p.text[0]);

	/* or a table takes its place */
	ta_exec_sql(c, "DROP VIEW mcpwarden.checkpoints");
	ta_exec_sql(c, "CREATE TABLE mcpwarden.checkpoints (seq bigint)");
	p = ta_schema_check();
	cr_assert(ta_problem_says(&p, "mcpwarden.checkpoints is not a view"),
		  "%s", p.text[0]);
	ta_exec_sql(c, "DROP TABLE mcpwarden.checkpoints");
	p = ta_schema_check();
	cr_assert(ta_problem_says(&p, "view mcpwarden.checkpoints is missing"),
		  "%s", p.text[0]);

	/* row-level security filters a role's reads */
	ta_exec_sql(c, "ALTER TABLE mcpwarden.events ENABLE ROW LEVEL "
		       "SECURITY");
	p = ta_schema_check();
	cr_assert(ta_problem_says(&p, "row-level security is on for "
				      "mcpwarden.events"));
	ta_exec_sql(c, "ALTER TABLE mcpwarden.events DISABLE ROW LEVEL "
		       "SECURITY");

	/* a trigger that drops rows as the writer sends them */
	ta_exec_sql(c, "CREATE FUNCTION mcpwarden.swallow() RETURNS trigger "
		       "LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$");
	ta_exec_sql(c, "CREATE TRIGGER swallow BEFORE INSERT ON "
		       "mcpwarden.events FOR EACH ROW EXECUTE FUNCTION "
		       "mcpwarden.swallow()");
	p = ta_schema_check();
	cr_assert(ta_problem_says(&p, "trigger swallow on mcpwarden.events is "
				      "not mcpwarden's"));
	ta_exec_sql(c, "DROP TRIGGER swallow ON mcpwarden.events");

	/* mcpwarden's own, disabled */
	ta_exec_sql(c, "ALTER TABLE mcpwarden.events DISABLE TRIGGER "
		       "events_append_only");
	p = ta_schema_check();
	cr_assert(ta_problem_says(&p, "trigger events_append_only on "
				      "mcpwarden.events is disabled"));
	cr_assert_not(ta_problem_says(&p, "row-level security"));
	cr_assert_not(ta_problem_says(&p, "swallow"));

	PQfinish(c);
	mw_audit_close(a);
	mw_loop_free(loop);
}

/* A server's notice reaches the CLI's terminal only defanged, through the
 * log, not as libpq's default processor writes it. */
Test(audit, a_servers_notice_drives_no_terminal)
{
	struct mw_loop *loop = NULL;
	struct mw_audit *a;
	char ci[1024], *log;
	PGconn *c;
	PGresult *r;
	int saved;

	cr_assert_eq(mw_loop_new(&loop), 0);
	a = ta_open(loop); /* the cluster running */
	cr_assert_eq(mw_audit_conninfo(&ta_cfg, ci, sizeof(ci)), 0);
	c = mw_audit_pq_connect(ci);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
	mw_log_set_level(MW_LOG_DEBUG);
	saved = ta_log_start();
	r = PQexec(c, "DO $$BEGIN RAISE NOTICE E'\\x1b]52;c;SGk=\\x07"
		      "\\x1b[2J'; END$$");
	log = ta_log_end(saved);
	mw_log_set_level(MW_LOG_INFO);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s",
		     PQresultErrorMessage(r));
	cr_assert_null(strchr(log, '\x1b'), "%s", log);
	cr_assert_not_null(strstr(log, "server notice: NOTICE:  \\x1b]52;c;"),
			   "%s", log);
	free(log);
	PQclear(r);
	PQfinish(c);
	mw_audit_close(a);
	mw_loop_free(loop);
}
