// SPDX-License-Identifier: BSD-2-Clause
/*
 * Audit ingest (make bench-audit): how many events a second the writer
 * gets committed into the local (embedded) PostgreSQL with the hash chain
 * and signed checkpoints on, sustained. The events are shaped like the
 * trail of real tools/call traffic: a request with its arguments and the
 * response with a short text result, alternately. The writer is fed from
 * the loop itself (an always-ready eventfd) as fast as its queue takes
 * events, so the figure is the writer's and the database's, not a
 * client's.
 *
 *   build/audit_bench [EVENTS [RUNS]]     (as root: the cluster runs as
 *                                          the OS user mcpwarden)
 *
 * It then times `audit verify`'s work on the same database by running
 * build/mcpwarden audit verify against it, and prints events/s for both.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "loop.h"

#include "bench_util.h"

struct feeder {
	struct mw_io io; /* first */
	struct mw_loop *loop;
	struct mw_audit *a;
	json_t *params, *result;
	uint64_t want, submitted, full;
};

/* Every loop turn: as many events as the queue takes, then the test. */
static void feed(struct mw_io *io, uint32_t events)
{
	struct feeder *f = (struct feeder *)io;
	struct mw_audit_stats st;

	(void)events;
	for (int i = 0; i < 512 && f->submitted < f->want; i++) {
		uint64_t n = f->submitted;
		struct mw_audit_event ev = {
			.conn_id = 1 + n / 64,
			.server = "billing",
			.session_id = "3f2b9c7e-5a41-4d8e-9d1c-0b6a2f4e8c11",
			.rpc_id = "17",
			.method = "tools/call",
			.tool = "get_invoice",
			.http_method = "POST",
			.http_path = "/mcp",
		};

		if (n % 2 == 0) {
			ev.kind = MW_EV_REQUEST;
			ev.direction = "c2s";
			ev.params = f->params;
			ev.decision = "allow";
			ev.rule = "finance-reads";
			ev.policy_sha256 =
				"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"
				"2b0b822cd15d6c15b0f00a08";
		} else {
			ev.kind = MW_EV_RESPONSE;
			ev.direction = "s2c";
			ev.result = f->result;
			ev.request_seq = n;
			ev.latency_us = 850;
		}
		if (!mw_audit_submit(f->a, &ev)) {
			f->full++;
			break;
		}
		f->submitted++;
	}
	mw_audit_stats(f->a, &st);
	if (f->submitted >= f->want && st.queued == 0)
		mw_loop_stop(f->loop);
}

int main(int argc, char **argv)
{
	uint64_t events = argc > 1 ? strtoull(argv[1], NULL, 10) : 300000;
	int runs = argc > 2 ? atoi(argv[2]) : 3;
	char dir[] = "/tmp/mw-audit-bench-XXXXXX", err[512], cmd[1024];
	struct mw_audit_config cfg = { 0 };
	double ingest[16], verify[16];

	if (runs < 1 || runs > 16 || !events) {
		fprintf(stderr, "usage: audit_bench [EVENTS [RUNS<=16]]\n");
		return 2;
	}
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	cfg.state_dir = dir;
	cfg.host = "bench-host";
	cfg.embedded_user = "mcpwarden";
	cfg.max_queue = 200000;
	cfg.batch_max = 4096;
	cfg.batch_ms = 0;
	cfg.checkpoint_events = 10000;
	printf("audit ingest: %llu events per run, chain and checkpoints "
	       "(every %zu events) on, embedded PostgreSQL in %s\n",
	       (unsigned long long)events, cfg.checkpoint_events, dir);
	for (int r = 0; r < runs; r++) {
		struct feeder f = { 0 };
		struct mw_audit_stats st;
		double t0, t1;
		int rc;

		if (mw_loop_new(&f.loop))
			return 1;
		rc = mw_audit_open(&f.a, &cfg, f.loop, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "audit_bench: %s\n", err);
			return 1;
		}
		f.want = events;
		f.params =
			json_pack("{ss,s{ss,ss,si,sb}}", "name", "get_invoice",
				  "arguments", "invoice_id", "INV-2026-000417",
				  "customer", "ACME Corporation", "limit", 50,
				  "expand", 1);
		f.result = json_pack(
			"{s[{ss}],sb}", "content", "text",
			"Invoice INV-2026-000417: ACME Corporation, 3 lines, "
			"total 1,250.00 EUR, due 2026-12-31, status open",
			"isError", 0);
		f.io.cb = feed;
		f.io.fd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
		if (f.io.fd < 0 || mw_loop_add(f.loop, &f.io, EPOLLIN)) {
			perror("eventfd");
			return 1;
		}
		t0 = now_s();
		rc = mw_loop_run(f.loop);
		t1 = now_s();
		mw_audit_stats(f.a, &st);
		ingest[r] = (double)st.written / (t1 - t0);
		printf("run %d: %llu events written in %.2f s: %.0f events/s "
		       "(%llu checkpoints; queue full %llu times)\n",
		       r + 1, (unsigned long long)st.written, t1 - t0,
		       ingest[r], (unsigned long long)st.checkpoints,
		       (unsigned long long)f.full);
		mw_loop_del(f.loop, &f.io);
		close(f.io.fd);
		mw_audit_close(f.a);
		mw_loop_free(f.loop);
		json_decref(f.params);
		json_decref(f.result);
		if (rc)
			return 1;
	}

	/* verify reads what the runs wrote: all of it, each time */
	snprintf(cmd, sizeof(cmd),
		 "printf 'state_dir: %s\\nhost: bench-host\\naudit:\\n  "
		 "embedded_user: mcpwarden\\n' > %s/bench.yaml",
		 dir, dir);
	if (system(cmd))
		return 1;
	for (int r = 0; r < runs; r++) {
		double t0 = now_s(), t1;
		int st;

		snprintf(cmd, sizeof(cmd),
			 "%s/mcpwarden -c %s/bench.yaml audit verify > "
			 "/dev/null",
			 BENCH_BUILD, dir);
		st = system(cmd);
		t1 = now_s();
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr,
				"audit_bench: audit verify failed "
				"(status %d)\n",
				st);
			return 1;
		}
		verify[r] = (double)(events * (uint64_t)runs) / (t1 - t0);
		printf("verify run %d: %llu events in %.2f s: %.0f events/s\n",
		       r + 1, (unsigned long long)(events * (uint64_t)runs),
		       t1 - t0, verify[r]);
	}
	for (int i = 1; i < runs; i++)
		for (int j = i; j > 0 && ingest[j] < ingest[j - 1]; j--) {
			double t = ingest[j];

			ingest[j] = ingest[j - 1];
			ingest[j - 1] = t;
		}
	for (int i = 1; i < runs; i++)
		for (int j = i; j > 0 && verify[j] < verify[j - 1]; j--) {
			double t = verify[j];

			verify[j] = verify[j - 1];
			verify[j - 1] = t;
		}
	printf("median: ingest %.0f events/s, verify %.0f events/s\n",
	       ingest[runs / 2], verify[runs / 2]);
	mw_audit_stop_embedded(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? 1 : 0;
}
