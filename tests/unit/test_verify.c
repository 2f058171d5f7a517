// SPDX-License-Identifier: BSD-2-Clause
/*
 * The audit verifier on synthetic chains built in memory with
 * mw_chain_hash and signed with a signer in a mkdtemp state directory,
 * tampered with one way per test; and its three parsers (COPY text,
 * events.jsonl, checkpoint file lines).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "chain.h"
#include "pgcopy.h"
#include "sign.h"
#include "verify.h"

#define TV_HOST "tv-host"
#define TV_COLS (MW_CF_N + 1) /* the fields, then hash */
#define TV_N 300
#define TV_CP_EVERY 50 /* checkpoint events at 50, 100, ... 300 */
#define TV_TS0 1700000000000000ll

/* ---- helpers ---- */

struct tv_row {
	char *v[TV_COLS]; /* NULL: SQL NULL */
};

struct tv_chain {
	struct tv_row *rows;
	size_t n, cap;
};

static char tv_dir[2][64];
static struct mw_signer *tv_signer[2];
static struct mw_sign_pub *tv_pub[2];

static int tv_rm(const char *path, const struct stat *st, int flag,
		 struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Signer i (0: the host's key, 1: another one) and its public key. */
static void tv_keys(int i)
{
	char err[512] = "", pem[4096];
	int n;

	snprintf(tv_dir[i], sizeof(tv_dir[i]), "/tmp/mw-verify-XXXXXX");
	cr_assert_not_null(mkdtemp(tv_dir[i]));
	cr_assert_eq(mw_signer_open(&tv_signer[i], tv_dir[i], err, sizeof(err)),
		     0, "%s", err);
	n = mw_signer_public_pem(tv_signer[i], pem, sizeof(pem));
	cr_assert_gt(n, 0);
	cr_assert_eq(mw_sign_pub_from_pem(&tv_pub[i], pem, (size_t)n, err,
					  sizeof(err)),
		     0, "%s", err);
}

static void tv_setup(void)
{
	tv_keys(0);
	tv_keys(1);
}

static void tv_teardown(void)
{
	for (int i = 0; i < 2; i++) {
		mw_signer_free(tv_signer[i]);
		mw_sign_pub_free(tv_pub[i]);
		tv_signer[i] = NULL;
		tv_pub[i] = NULL;
		if (tv_dir[i][0])
			nftw(tv_dir[i], tv_rm, 8, FTW_DEPTH | FTW_PHYS);
		tv_dir[i][0] = '\0';
	}
}

static char *tv_strdup(const char *s)
{
	char *d = s ? strdup(s) : NULL;

	cr_assert(!s || d);
	return d;
}

static void tv_set(struct tv_row *r, enum mw_chain_field f, const char *s)
{
	free(r->v[f]);
	r->v[f] = tv_strdup(s);
}

static void tv_values(const struct tv_row *r, struct mw_chain_value f[TV_COLS])
{
	for (int i = 0; i < TV_COLS; i++) {
		f[i].s = r->v[i];
		f[i].n = r->v[i] ? strlen(r->v[i]) : 0;
	}
}

static void tv_hash(struct tv_row *r)
{
	struct mw_chain_value f[TV_COLS];
	char h[MW_CHAIN_HASH_HEX];

	tv_values(r, f);
	cr_assert_eq(mw_chain_hash(f, h), 0);
	free(r->v[MW_CF_N]);
	r->v[MW_CF_N] = tv_strdup(h);
}

/* The signed checkpoint of host at seq (covering it) with signer s. */
static void tv_sign(const struct mw_signer *s, const char *host, uint64_t seq,
		    const char *hash, char sig[MW_SIGN_B64_LEN])
{
	char msg[512];
	int n = mw_chain_checkpoint_message(msg, sizeof(msg), host, seq, hash);

	cr_assert_gt(n, 0);
	cr_assert_eq(mw_signer_sign(s, msg, (size_t)n, sig), 0);
}

static struct tv_row *tv_insert(struct tv_chain *c, size_t at)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->rows = realloc(c->rows, c->cap * sizeof(*c->rows));
		cr_assert_not_null(c->rows);
	}
	memmove(&c->rows[at + 1], &c->rows[at], (c->n - at) * sizeof(*c->rows));
	memset(&c->rows[at], 0, sizeof(*c->rows));
	c->n++;
	return &c->rows[at];
}

static void tv_row_free(struct tv_row *r)
{
	for (int i = 0; i < TV_COLS; i++)
		free(r->v[i]);
}

static void tv_remove(struct tv_chain *c, size_t at)
{
	tv_row_free(&c->rows[at]);
	memmove(&c->rows[at], &c->rows[at + 1],
		(c->n - at - 1) * sizeof(*c->rows));
	c->n--;
}

static void tv_free(struct tv_chain *c)
{
	for (size_t i = 0; i < c->n; i++)
		tv_row_free(&c->rows[i]);
	free(c->rows);
	memset(c, 0, sizeof(*c));
}

/* The fields of event seq (prev_hash and hash left to the caller). */
static void tv_fill(struct tv_row *r, const char *host, uint64_t seq,
		    const char *prev)
{
	char num[32], params[256];

	tv_set(r, MW_CF_HOST, host);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)seq);
	tv_set(r, MW_CF_SEQ, num);
	snprintf(num, sizeof(num), "%lld", TV_TS0 + (long long)seq * 1000);
	tv_set(r, MW_CF_TS_US, num);
	tv_set(r, MW_CF_KIND, "request");
	tv_set(r, MW_CF_CONN_ID, "7");
	tv_set(r, MW_CF_SERVER, "files");
	tv_set(r, MW_CF_DIRECTION, "c2s");
	tv_set(r, MW_CF_METHOD, "tools/call");
	tv_set(r, MW_CF_TOOL, "read");
	snprintf(params, sizeof(params),
		 "{\"name\": \"read\", \"arguments\": {\"path\": "
		 "\"/tmp/f\\t%llu\"}}",
		 (unsigned long long)seq);
	tv_set(r, MW_CF_PARAMS, params);
	tv_set(r, MW_CF_DECISION, "allow");
	tv_set(r, MW_CF_RULE, "");
	tv_set(r, MW_CF_DETAIL, seq % 7 ? NULL : "line\nbreak\\here");
	tv_set(r, MW_CF_PREV_HASH, prev);
}

/* Makes row r (at seq) the checkpoint covering seq - 1 with hash. */
static void tv_make_checkpoint(struct tv_row *r, const struct mw_signer *s,
			       const char *host, uint64_t seq, const char *hash)
{
	char sig[MW_SIGN_B64_LEN], params[512];

	tv_sign(s, host, seq - 1, hash, sig);
	snprintf(params, sizeof(params),
		 "{\"seq\":%llu,\"hash\":\"%s\",\"key_id\":\"%s\","
		 "\"signature\":\"%s\"}",
		 (unsigned long long)(seq - 1), hash, mw_signer_key_id(s), sig);
	tv_set(r, MW_CF_KIND, "checkpoint");
	tv_set(r, MW_CF_METHOD, NULL);
	tv_set(r, MW_CF_TOOL, NULL);
	tv_set(r, MW_CF_PARAMS, params);
}

/* A chain of events 1..n of host, a checkpoint every TV_CP_EVERY. */
static void tv_build(struct tv_chain *c, const char *host, uint64_t n)
{
	const char *prev = MW_CHAIN_GENESIS;

	for (uint64_t seq = 1; seq <= n; seq++) {
		struct tv_row *r = tv_insert(c, c->n);

		tv_fill(r, host, seq, prev);
		if (seq % TV_CP_EVERY == 0)
			tv_make_checkpoint(r, tv_signer[0], host, seq, prev);
		tv_hash(r);
		prev = r->v[MW_CF_N];
	}
}

/*
 * Recomputes prev_hash and hash from row i on, as a rewriter would (who
 * cannot sign); the checkpoints from row resign on are signed again, as
 * the writer would have made them.
 */
static void tv_rechain(struct tv_chain *c, size_t i, size_t resign)
{
	for (; i < c->n; i++) {
		struct tv_row *r = &c->rows[i];

		if (i)
			tv_set(r, MW_CF_PREV_HASH, c->rows[i - 1].v[MW_CF_N]);
		if (i >= resign && !strcmp(r->v[MW_CF_KIND], "checkpoint"))
			tv_make_checkpoint(r, tv_signer[0], r->v[MW_CF_HOST],
					   strtoull(r->v[MW_CF_SEQ], NULL, 10),
					   r->v[MW_CF_PREV_HASH]);
		tv_hash(r);
	}
}

#define TV_NO_RESIGN ((size_t)-1)

static void tv_set_seq(struct tv_row *r, uint64_t seq)
{
	char num[32];

	snprintf(num, sizeof(num), "%llu", (unsigned long long)seq);
	tv_set(r, MW_CF_SEQ, num);
}

static size_t tv_index(const struct tv_chain *c, uint64_t seq)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->rows[i].v[MW_CF_SEQ] &&
		    strtoull(c->rows[i].v[MW_CF_SEQ], NULL, 10) == seq)
			return i;
	cr_assert_fail("no seq %llu", (unsigned long long)seq);
	return 0;
}

/* The checkpoint file line for seq of c, signed by s, made at ts_us. */
static void tv_file_cp_at(const struct tv_chain *c, const struct mw_signer *s,
			  uint64_t seq, int64_t ts_us, char *line,
			  size_t linelen)
{
	const struct tv_row *r = &c->rows[tv_index(c, seq)];
	char sig[MW_SIGN_B64_LEN];

	tv_sign(s, r->v[MW_CF_HOST], seq, r->v[MW_CF_N], sig);
	snprintf(line, linelen,
		 "{\"host\":\"%s\",\"seq\":%llu,\"hash\":\"%s\","
		 "\"key_id\":\"%s\",\"signature\":\"%s\","
		 "\"checkpoint_seq\":%llu,\"ts_us\":%lld}\n",
		 r->v[MW_CF_HOST], (unsigned long long)seq, r->v[MW_CF_N],
		 mw_signer_key_id(s), sig, (unsigned long long)seq + 1,
		 (long long)ts_us);
}

/* The same, made at TV_TS0 (the day of every event of a chain built). */
static void tv_file_cp(const struct tv_chain *c, const struct mw_signer *s,
		       uint64_t seq, char *line, size_t linelen)
{
	tv_file_cp_at(c, s, seq, TV_TS0, line, linelen);
}

static struct mw_verify *tv_new(int key)
{
	struct mw_verify *v = NULL;
	char err[512] = "";

	cr_assert_eq(mw_verify_new(&v, tv_pub[key], err, sizeof(err)), 0, "%s",
		     err);
	return v;
}

static void tv_add_line(struct mw_verify *v, const char *line)
{
	char err[512] = "";

	cr_assert_eq(mw_verify_checkpoint_line(v, line, strlen(line), 1, err,
					       sizeof(err)),
		     0, "%s", err);
}

static void tv_feed(struct mw_verify *v, const struct tv_chain *c)
{
	struct mw_chain_value f[TV_COLS];
	char err[512] = "";

	for (size_t i = 0; i < c->n; i++) {
		tv_values(&c->rows[i], f);
		cr_assert_eq(mw_verify_row(v, f, &f[MW_CF_N], err, sizeof(err)),
			     0, "%s", err);
	}
}

/* Verifies c with key (and file checkpoints at the given seqs, taken
 * from file, which is c itself when NULL). */
static struct mw_verify *tv_run(const struct tv_chain *c, int key,
				const struct tv_chain *file,
				const uint64_t *cps, size_t ncps)
{
	struct mw_verify *v = tv_new(key);
	char line[1024];

	for (size_t i = 0; i < ncps; i++) {
		tv_file_cp(file ? file : c, tv_signer[0], cps[i], line,
			   sizeof(line));
		tv_add_line(v, line);
	}
	tv_feed(v, c);
	mw_verify_finish(v);
	return v;
}

static const struct mw_verify_host *tv_host(const struct mw_verify *v,
					    const char *name)
{
	const struct mw_verify_host *h = mw_verify_find_host(v, name);

	cr_assert_not_null(h, "no host %s", name);
	return h;
}

/* Exactly nbreaks breaks, the first one of class cls at seq. */
static void tv_expect(const struct mw_verify *v, uint64_t nbreaks,
		      enum mw_verify_class cls, uint64_t seq)
{
	const struct mw_verify_host *h = tv_host(v, TV_HOST);

	cr_assert_not(mw_verify_ok(v));
	cr_assert_geq(h->ndetails, 1);
	cr_assert_eq(h->details[0].cls, cls, "first break %s at %llu: %s",
		     mw_verify_class_name(h->details[0].cls),
		     (unsigned long long)h->details[0].seq,
		     h->details[0].detail);
	cr_assert_eq(h->details[0].seq, seq, "first break at %llu: %s",
		     (unsigned long long)h->details[0].seq,
		     h->details[0].detail);
	cr_assert_eq(h->breaks, nbreaks, "%llu breaks, first: %s",
		     (unsigned long long)h->breaks, h->details[0].detail);
}

static const uint64_t tv_cps[] = { 149, 299 };

/* ---- an intact chain ---- */

Test(verify, intact_chain_verifies, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;
	const struct mw_verify_host *h;

	tv_build(&c, TV_HOST, TV_N);
	v = tv_run(&c, 0, NULL, tv_cps, 2);
	cr_assert(mw_verify_ok(v));
	cr_assert_eq(mw_verify_nhosts(v), 1);
	h = tv_host(v, TV_HOST);
	cr_assert_eq(h->events, TV_N);
	cr_assert_eq(h->first_seq, 1);
	cr_assert_eq(h->last_seq, TV_N);
	cr_assert_not(h->starts_late);
	cr_assert_eq(h->db_cp_ok, TV_N / TV_CP_EVERY);
	cr_assert_eq(h->db_cp_failed, 0);
	cr_assert_eq(h->file_cp_ok, 2);
	cr_assert_eq(h->file_cp_failed, 0);
	cr_assert_eq(h->breaks, 0);
	mw_verify_free(v);
	tv_free(&c);
}

/*
 * A daemon start after events no checkpoint of their run signed (a crash,
 * or rows added while no daemon ran) is noted, not a break; one right
 * after a checkpoint (a run that closed) is not.
 */
Test(verify, a_start_after_unsigned_events_is_noted, .init = tv_setup,
     .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;
	const struct mw_verify_host *h;
	size_t i;

	tv_build(&c, TV_HOST, TV_N);
	/* a start right after the checkpoint at TV_CP_EVERY: nothing to say */
	tv_set(&c.rows[TV_CP_EVERY], MW_CF_KIND, "daemon_start");
	/* one 10 events past the next checkpoint, and another past it */
	i = 2 * TV_CP_EVERY + 10 - 1;
	tv_set(&c.rows[i], MW_CF_KIND, "daemon_start");
	tv_set(&c.rows[i + 5], MW_CF_KIND, "daemon_start");
	tv_rechain(&c, 0, 0);
	v = tv_run(&c, 0, NULL, NULL, 0);
	cr_assert(mw_verify_ok(v), "a note is no break");
	h = tv_host(v, TV_HOST);
	cr_assert_eq(h->unsigned_starts, 2);
	cr_assert_eq(h->unsigned_from, 2 * TV_CP_EVERY + 1);
	cr_assert_eq(h->unsigned_to, 2 * TV_CP_EVERY + 9);
	cr_assert_eq(h->unsigned_start_seq, 2 * TV_CP_EVERY + 10);
	/* 9 before the first, 5 before the second (the first run's own) */
	cr_assert_eq(h->unsigned_events, 9 + 5);
	mw_verify_free(v);
	tv_free(&c);
}

/* A checkpoint row signed by another key before a start: a break, and
 * it vouches for nothing, so the start is still noted. */
Test(verify, a_forged_checkpoint_does_not_hide_a_start, .init = tv_setup,
     .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;
	const struct mw_verify_host *h;

	tv_build(&c, TV_HOST, TV_N);
	tv_set(&c.rows[109], MW_CF_KIND, "daemon_start");
	tv_rechain(&c, 0, 0);
	/* seq 109, just before the start, made a checkpoint of key 1 */
	tv_make_checkpoint(&c.rows[108], tv_signer[1], TV_HOST, 109,
			   c.rows[107].v[MW_CF_N]);
	tv_rechain(&c, 108, 109);
	v = tv_run(&c, 0, NULL, NULL, 0);
	tv_expect(v, 1, MW_VB_BAD_SIGNATURE, 109);
	h = tv_host(v, TV_HOST);
	cr_assert_eq(h->unsigned_starts, 1);
	cr_assert_eq(h->unsigned_from, 101);
	cr_assert_eq(h->unsigned_to, 109);
	mw_verify_free(v);
	tv_free(&c);
}

Test(verify, two_hosts_one_broken, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;

	tv_build(&c, "a-host", 120);
	tv_build(&c, TV_HOST, 120);
	tv_set(&c.rows[120 + 30], MW_CF_TOOL, "write");
	v = tv_run(&c, 0, NULL, NULL, 0);
	cr_assert_eq(mw_verify_nhosts(v), 2);
	cr_assert_str_eq(mw_verify_host_at(v, 0)->name, "a-host");
	cr_assert_eq(tv_host(v, "a-host")->breaks, 0);
	cr_assert_eq(tv_host(v, "a-host")->db_cp_ok, 2);
	tv_expect(v, 1, MW_VB_MODIFIED, 31);
	mw_verify_free(v);
	tv_free(&c);
}

/*
 * The chain without its first 100 events, fed to v after file
 * checkpoints at the seqs cps[0..ncps), made at cp_ts (the checkpoint
 * file says; the chain's events are all of TV_TS0's day).
 */
/* The same, then the rows of after when not NULL (another host's). */
static void tv_feed_cut_then(struct mw_verify *v, const uint64_t *cps,
			     size_t ncps, int64_t cp_ts,
			     const struct tv_chain *after)
{
	struct tv_chain c = { 0 }, full = { 0 };
	char line[1024];

	tv_build(&full, TV_HOST, TV_N);
	tv_build(&c, TV_HOST, TV_N);
	for (int i = 0; i < 100; i++)
		tv_remove(&c, 0);
	for (size_t i = 0; i < ncps; i++) {
		tv_file_cp_at(&full, tv_signer[0], cps[i], cp_ts, line,
			      sizeof(line));
		tv_add_line(v, line);
	}
	tv_feed(v, &c);
	if (after)
		tv_feed(v, after);
	mw_verify_finish(v);
	tv_free(&c);
	tv_free(&full);
}

static void tv_feed_cut(struct mw_verify *v, const uint64_t *cps, size_t ncps,
			int64_t cp_ts)
{
	tv_feed_cut_then(v, cps, ncps, cp_ts, NULL);
}

Test(verify, retention_start_is_information, .init = tv_setup,
     .fini = tv_teardown)
{
	static const uint64_t cps[] = { 49, 249 };
	struct mw_verify *v = tv_new(0);
	const struct mw_verify_host *h;

	tv_feed_cut(v, cps, 2, TV_TS0);
	cr_assert(mw_verify_ok(v));
	h = tv_host(v, TV_HOST);
	cr_assert(h->starts_late);
	cr_assert_eq(h->first_seq, 101);
	cr_assert_eq(h->file_cp_retention, 1);
	cr_assert_eq(h->file_cp_ok, 1);
	mw_verify_free(v);
}

#define TV_DAY_US (86400ll * 1000000)
#define TV_DAY0 (TV_TS0 / TV_DAY_US)

/*
 * The database's chain without its first 100 events (all of TV_DAY0), and
 * a file checkpoint at seq 49 (its event, 50, gone) made at cp_ts; the
 * database holds the daily partition of kept_day.
 */
static struct mw_verify *tv_cut_start(int64_t cp_ts, int64_t kept_day)
{
	static const uint64_t cps[] = { 49 };
	struct mw_verify *v = tv_new(0);

	struct mw_verify_days kept = { kept_day, kept_day + 1 };

	cr_assert_eq(mw_verify_whole_chains(v, &kept, 1, MW_VERIFY_NO_DAILY,
					    NULL, 0),
		     0);
	tv_feed_cut(v, cps, 1, cp_ts);
	return v;
}

Test(verify, retention_takes_whole_days, .init = tv_setup, .fini = tv_teardown)
{
	/* the checkpoint's day, the day before the chain's first event,
	 * has no partition left: dropped */
	struct mw_verify *v = tv_cut_start(TV_TS0 - TV_DAY_US, TV_DAY0);
	const struct mw_verify_host *h = tv_host(v, TV_HOST);

	cr_assert(mw_verify_ok(v));
	cr_assert_eq(h->file_cp_retention, 1);
	mw_verify_free(v);
}

Test(verify, start_deleted_within_a_kept_day, .init = tv_setup,
     .fini = tv_teardown)
{
	/* the checkpoint's day's partition is still there */
	struct mw_verify *v = tv_cut_start(TV_TS0 - TV_DAY_US, TV_DAY0 - 1);
	const struct mw_verify_host *h = tv_host(v, TV_HOST);

	tv_expect(v, 1, MW_VB_DELETED, 50);
	cr_assert_eq(h->details[0].seq_end, 100);
	cr_assert_eq(h->file_cp_retention, 0);
	cr_assert_eq(h->file_cp_failed, 1);
	cr_assert(strstr(h->details[0].detail, "events before seq 101 deleted"),
		  "%s", h->details[0].detail);
	mw_verify_free(v);
}

/*
 * The checkpoint's day is the chain's first event's: retention, which
 * drops whole days, would have taken that event too. Whatever the
 * partitions say (their names can be changed).
 */
Test(verify, start_deleted_on_the_first_events_day, .init = tv_setup,
     .fini = tv_teardown)
{
	struct mw_verify *v = tv_cut_start(TV_TS0, TV_DAY0 + 5);
	const struct mw_verify_host *h = tv_host(v, TV_HOST);

	tv_expect(v, 1, MW_VB_DELETED, 50);
	cr_assert_eq(h->file_cp_retention, 0);
	cr_assert(strstr(h->details[0].detail, "the day of the chain's first "
					       "event"),
		  "%s", h->details[0].detail);
	mw_verify_free(v);
}

/*
 * The chain's start deleted on a day no daily partition holds: its rows
 * sat in the default partition, which retention never empties. Another
 * host's rows of that day still there (read after the cut chain) show it;
 * so does a daily partition left named for an earlier day (retention
 * dropped none from there on).
 */
Test(verify, start_deleted_from_the_default_partition, .init = tv_setup,
     .fini = tv_teardown)
{
	static const uint64_t cps[] = { 49 };
	const int64_t cp_day = TV_DAY0 - 1;
	struct mw_verify_days today = { TV_DAY0, TV_DAY0 + 1 };
	struct tv_chain other = { 0 };
	struct mw_verify *v;
	char ts[32];

	tv_build(&other, "zz-other", 3);
	for (size_t i = 0; i < other.n; i++) {
		snprintf(ts, sizeof(ts), "%lld",
			 (long long)(cp_day * TV_DAY_US + 1000 + (int64_t)i));
		tv_set(&other.rows[i], MW_CF_TS_US, ts);
	}
	tv_rechain(&other, 0, 0);

	v = tv_new(0);
	cr_assert_eq(mw_verify_whole_chains(v, &today, 1, MW_VERIFY_NO_DAILY,
					    NULL, 0),
		     0);
	tv_feed_cut_then(v, cps, 1, cp_day * TV_DAY_US + 5000, &other);
	tv_expect(v, 1, MW_VB_DELETED, 50);
	cr_assert_eq(tv_host(v, TV_HOST)->file_cp_retention, 0);
	mw_verify_free(v);

	/* no row of that day left anywhere: a daily partition named for
	 * it or before it, still there, tells retention did not reach it */
	v = tv_new(0);
	cr_assert_eq(mw_verify_whole_chains(v, &today, 1, cp_day, NULL, 0), 0);
	tv_feed_cut(v, cps, 1, cp_day * TV_DAY_US + 5000);
	tv_expect(v, 1, MW_VB_DELETED, 50);
	mw_verify_free(v);

	/* neither: retention, as before */
	v = tv_new(0);
	cr_assert_eq(mw_verify_whole_chains(v, &today, 1, TV_DAY0, NULL, 0), 0);
	tv_feed_cut(v, cps, 1, cp_day * TV_DAY_US + 5000);
	cr_assert(mw_verify_ok(v));
	cr_assert_eq(tv_host(v, TV_HOST)->file_cp_retention, 1);
	mw_verify_free(v);
	tv_free(&other);
}

/*
 * Partitions are read as ranges of days, never expanded into days: a
 * century-wide one, among others overlapping it, still holds the
 * checkpoint's day; more than MW_VERIFY_MAX_PARTITIONS are refused.
 */
Test(verify, kept_partitions_are_ranges_and_bounded, .init = tv_setup,
     .fini = tv_teardown)
{
	static const uint64_t cps[] = { 49 };
	struct mw_verify_days kept[] = {
		{ TV_DAY0 + 3, TV_DAY0 + 5 },
		{ TV_DAY0 - 36525, TV_DAY0 + 36525 },
		{ TV_DAY0 - 10, TV_DAY0 + 4 },
		{ TV_DAY0 + 9, TV_DAY0 + 9 }, /* empty */
	};
	struct mw_verify_days *many;
	struct mw_verify *v = tv_new(0);
	char err[256] = "";

	cr_assert_eq(mw_verify_whole_chains(v, kept, 4, MW_VERIFY_NO_DAILY, err,
					    sizeof(err)),
		     0, "%s", err);
	tv_feed_cut(v, cps, 1, TV_TS0 - 400 * TV_DAY_US);
	tv_expect(v, 1, MW_VB_DELETED, 50);
	mw_verify_free(v);

	/* the day before every range: dropped */
	v = tv_new(0);
	cr_assert_eq(mw_verify_whole_chains(v, kept, 4, MW_VERIFY_NO_DAILY, err,
					    sizeof(err)),
		     0);
	tv_feed_cut(v, cps, 1, TV_TS0 - 36526 * TV_DAY_US);
	cr_assert(mw_verify_ok(v));
	cr_assert_eq(tv_host(v, TV_HOST)->file_cp_retention, 1);
	mw_verify_free(v);

	many = calloc(MW_VERIFY_MAX_PARTITIONS + 1, sizeof(*many));
	cr_assert_not_null(many);
	v = tv_new(0);
	cr_assert_eq(
		mw_verify_whole_chains(v, many, MW_VERIFY_MAX_PARTITIONS + 1,
				       MW_VERIFY_NO_DAILY, err, sizeof(err)),
		-1);
	cr_assert(strstr(err, "partitions"), "%s", err);
	mw_verify_free(v);
	free(many);
}

/* ---- one test per break ---- */

Test(verify, modified_field, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;

	tv_build(&c, TV_HOST, TV_N);
	tv_set(&c.rows[76], MW_CF_PARAMS, "{\"name\": \"rm\"}");
	v = tv_run(&c, 0, NULL, tv_cps, 2);
	tv_expect(v, 1, MW_VB_MODIFIED, 77);
	mw_verify_free(v);
	tv_free(&c);
}

Test(verify, modified_null_to_empty, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;

	tv_build(&c, TV_HOST, TV_N);
	tv_set(&c.rows[76], MW_CF_SESSION_ID, ""); /* was NULL */
	v = tv_run(&c, 0, NULL, NULL, 0);
	tv_expect(v, 1, MW_VB_MODIFIED, 77);
	mw_verify_free(v);
	tv_free(&c);
}

Test(verify, modified_ts_backwards_is_reordered, .init = tv_setup,
     .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;

	tv_build(&c, TV_HOST, TV_N);
	tv_set(&c.rows[76], MW_CF_TS_US, "1600000000000000");
	v = tv_run(&c, 0, NULL, NULL, 0);
	tv_expect(v, 1, MW_VB_REORDERED, 77);
	mw_verify_free(v);
	tv_free(&c);
}

Test(verify, deleted_row, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;

	tv_build(&c, TV_HOST, TV_N);
	tv_remove(&c, tv_index(&c, 120));
	tv_remove(&c, tv_index(&c, 121));
	v = tv_run(&c, 0, NULL, tv_cps, 2);
	tv_expect(v, 1, MW_VB_DELETED, 120);
	cr_assert_eq(tv_host(v, TV_HOST)->details[0].seq_end, 121);
	mw_verify_free(v);
	tv_free(&c);
}

Test(verify, deleted_checkpointed_row, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;
	const struct mw_verify_host *h;

	tv_build(&c, TV_HOST, TV_N);
	v = tv_new(0);
	{
		char line[1024];

		tv_file_cp(&c, tv_signer[0], 149, line, sizeof(line));
		tv_add_line(v, line);
	}
	tv_remove(&c, tv_index(&c, 149));
	tv_feed(v, &c);
	mw_verify_finish(v);
	/* the gap, the file checkpoint the database lacks, and the events
	 * before the gap, which nothing vouches for any longer (a rewriter
	 * of them would delete the signed row) */
	tv_expect(v, 3, MW_VB_REWRITTEN, 100);
	h = tv_host(v, TV_HOST);
	cr_assert_eq(h->details[0].seq_end, 148);
	cr_assert_eq(h->details[1].cls, MW_VB_DELETED);
	cr_assert_eq(h->details[1].seq, 149);
	cr_assert_eq(h->by_class[MW_VB_MISSING_CHECKPOINT], 1);
	cr_assert_eq(h->details[2].cls, MW_VB_MISSING_CHECKPOINT);
	mw_verify_free(v);
	tv_free(&c);
}

Test(verify, deleted_and_renumbered, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;

	tv_build(&c, TV_HOST, TV_N);
	tv_remove(&c, tv_index(&c, 200));
	for (size_t i = tv_index(&c, 201); i < c.n; i++)
		tv_set_seq(&c.rows[i], 200 + (i - tv_index(&c, 199)) - 1);
	v = tv_run(&c, 0, NULL, NULL, 0);
	tv_expect(v, 1, MW_VB_DELETED, 200);
	cr_assert_eq(tv_host(v, TV_HOST)->last_seq, TV_N - 1);
	mw_verify_free(v);
	tv_free(&c);
}

Test(verify, duplicated_row, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;
	size_t i;
	struct tv_row *r;

	tv_build(&c, TV_HOST, TV_N);
	i = tv_index(&c, 120);
	r = tv_insert(&c, i + 1);
	for (int k = 0; k < TV_COLS; k++)
		r->v[k] = tv_strdup(c.rows[i].v[k]);
	v = tv_run(&c, 0, NULL, tv_cps, 2);
	tv_expect(v, 1, MW_VB_INSERTED, 120);
	mw_verify_free(v);
	tv_free(&c);
}

/*
 * A forged row repeating a checkpointed seq after the signed one: an
 * inserted event, and the checkpoints still match the signed row.
 */
Test(verify, a_repeat_after_a_checkpointed_row_keeps_its_match,
     .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;
	const struct mw_verify_host *h;
	struct tv_row *r;
	size_t i;

	tv_build(&c, TV_HOST, TV_N);
	i = tv_index(&c, 149);
	r = tv_insert(&c, i + 1);
	for (int k = 0; k < TV_COLS; k++)
		r->v[k] = tv_strdup(c.rows[i].v[k]);
	tv_set(r, MW_CF_DECISION, "deny");
	tv_hash(r);
	v = tv_run(&c, 0, NULL, tv_cps, 2);
	tv_expect(v, 1, MW_VB_INSERTED, 149);
	h = tv_host(v, TV_HOST);
	cr_assert_eq(h->file_cp_ok, 2);
	cr_assert_eq(h->file_cp_failed, 0);
	cr_assert_eq(h->db_cp_ok, 6);
	cr_assert_eq(h->db_cp_failed, 0);
	mw_verify_free(v);
	tv_free(&c);
}

Test(verify, swapped_seqs, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;
	struct tv_row t;

	tv_build(&c, TV_HOST, TV_N);
	/* rows 130 and 131 trade seqs; the database orders them by seq */
	tv_set_seq(&c.rows[129], 131);
	tv_set_seq(&c.rows[130], 130);
	t = c.rows[129];
	c.rows[129] = c.rows[130];
	c.rows[130] = t;
	v = tv_run(&c, 0, NULL, tv_cps, 2);
	tv_expect(v, 1, MW_VB_REORDERED, 130);
	mw_verify_free(v);
	tv_free(&c);
}

Test(verify, swapped_seqs_apart, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;
	struct tv_row t;

	tv_build(&c, TV_HOST, TV_N);
	tv_set_seq(&c.rows[129], 134);
	tv_set_seq(&c.rows[133], 130);
	t = c.rows[129];
	c.rows[129] = c.rows[133];
	c.rows[133] = t;
	v = tv_run(&c, 0, NULL, tv_cps, 2);
	tv_expect(v, 1, MW_VB_REORDERED, 130);
	cr_assert_eq(tv_host(v, TV_HOST)->details[0].seq_end, 134);
	mw_verify_free(v);
	tv_free(&c);
}

Test(verify, inserted_forged_row_renumbered, .init = tv_setup,
     .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;
	struct tv_row *r;
	size_t i;

	tv_build(&c, TV_HOST, TV_N);
	i = tv_index(&c, 200);
	r = tv_insert(&c, i);
	tv_fill(r, TV_HOST, 200, c.rows[i - 1].v[MW_CF_N]);
	tv_set(r, MW_CF_TOOL, "exfiltrate");
	tv_hash(r); /* its own hash checks, it links */
	for (size_t k = i + 1; k < c.n; k++)
		tv_set_seq(&c.rows[k], 200 + (k - i));
	v = tv_run(&c, 0, &c, tv_cps, 1); /* file checkpoint at 149 */
	tv_expect(v, 1, MW_VB_INSERTED, 200);
	cr_assert_eq(tv_host(v, TV_HOST)->last_seq, TV_N + 1);
	mw_verify_free(v);
	tv_free(&c);
}

Test(verify, inserted_row_not_linking, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;

	tv_build(&c, TV_HOST, TV_N);
	/* replaced whole, hash recomputed, the next row no longer links */
	tv_set(&c.rows[209], MW_CF_TOOL, "exfiltrate");
	tv_hash(&c.rows[209]);
	v = tv_run(&c, 0, NULL, NULL, 0);
	tv_expect(v, 1, MW_VB_INSERTED, 211);
	mw_verify_free(v);
	tv_free(&c);
}

Test(verify, rewritten_chain_caught_by_checkpoints, .init = tv_setup,
     .fini = tv_teardown)
{
	struct tv_chain c = { 0 }, orig = { 0 };
	struct mw_verify *v;
	const struct mw_verify_host *h;

	tv_build(&orig, TV_HOST, TV_N);
	tv_build(&c, TV_HOST, TV_N);
	tv_set(&c.rows[119], MW_CF_DECISION, "deny");
	tv_rechain(&c, 119, TV_NO_RESIGN);
	/* the chain alone verifies */
	v = tv_run(&c, 0, NULL, NULL, 0);
	h = tv_host(v, TV_HOST);
	cr_assert_eq(h->by_class[MW_VB_REWRITTEN], 1);
	cr_assert_eq(h->details[0].cls, MW_VB_REWRITTEN);
	/* after the checkpoint at 100 (covering 99), before 150 */
	cr_assert_eq(h->details[0].seq, 100);
	cr_assert_eq(h->details[0].seq_end, 149);
	cr_assert_eq(h->breaks, 1);
	cr_assert_eq(h->db_cp_ok, 2);
	cr_assert_eq(h->db_cp_failed, 4);
	mw_verify_free(v);
	/* and with the file's checkpoints of the original chain */
	v = tv_run(&c, 0, &orig, tv_cps, 2);
	tv_expect(v, 1, MW_VB_REWRITTEN, 100);
	cr_assert_eq(tv_host(v, TV_HOST)->file_cp_failed, 2);
	mw_verify_free(v);
	tv_free(&c);
	tv_free(&orig);
}

/*
 * A row modified in plain view (its stored hash kept) does not explain a
 * checkpoint mismatch further on: later hashes are computed from each
 * row's stored prev_hash. The rewrite behind it is named all the same.
 */
Test(verify, a_modified_row_does_not_hide_a_rewrite, .init = tv_setup,
     .fini = tv_teardown)
{
	struct tv_chain c = { 0 }, orig = { 0 };
	struct mw_verify *v;
	const struct mw_verify_host *h;

	tv_build(&orig, TV_HOST, TV_N);
	tv_build(&c, TV_HOST, TV_N);
	/* seq 111 changed, its stored hash kept */
	tv_set(&c.rows[110], MW_CF_TOOL, "write");
	/* seq 112 forged, the chain recomputed from it */
	tv_set(&c.rows[111], MW_CF_DECISION, "deny");
	tv_rechain(&c, 111, TV_NO_RESIGN);
	for (int with_file = 0; with_file < 2; with_file++) {
		v = with_file ? tv_run(&c, 0, &orig, tv_cps, 2)
			      : tv_run(&c, 0, NULL, NULL, 0);
		h = tv_host(v, TV_HOST);
		cr_assert_eq(h->by_class[MW_VB_MODIFIED], 1);
		cr_assert_eq(h->by_class[MW_VB_REWRITTEN], 1,
			     "the rewrite is not named: %s",
			     h->details[0].detail);
		cr_assert_eq(h->breaks, 2);
		/* the range the checkpoint at 150 signs, since the one at
		 * 100: the first broken event is its start */
		cr_assert_eq(h->details[0].cls, MW_VB_REWRITTEN);
		cr_assert_eq(h->details[0].seq, 100);
		cr_assert_eq(h->details[0].seq_end, 149);
		cr_assert_eq(h->details[1].cls, MW_VB_MODIFIED);
		cr_assert_eq(h->details[1].seq, 111);
		mw_verify_free(v);
	}
	tv_free(&c);
	tv_free(&orig);
}

/*
 * A row modified at the very seq a checkpoint covers: the checkpoints no
 * longer vouch for the events since the one before (a rewriter of them
 * leaves just that), which are named besides the modified row.
 */
Test(verify, a_modified_checkpointed_row_vouches_for_nothing_before_it,
     .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;
	const struct mw_verify_host *h;

	tv_build(&c, TV_HOST, TV_N);
	tv_set(&c.rows[148], MW_CF_TOOL, "write");
	v = tv_run(&c, 0, NULL, tv_cps, 2);
	tv_expect(v, 2, MW_VB_REWRITTEN, 100);
	h = tv_host(v, TV_HOST);
	cr_assert_eq(h->details[0].seq_end, 148);
	cr_assert_eq(h->details[1].cls, MW_VB_MODIFIED);
	cr_assert_eq(h->details[1].seq, 149);
	cr_assert_eq(h->db_cp_failed, 1);
	cr_assert_eq(h->file_cp_failed, 1);
	cr_assert_eq(h->file_cp_ok, 1);
	mw_verify_free(v);
	tv_free(&c);
}

/*
 * Seq 112 forged and the chain recomputed up to 148; the checkpointed row
 * 149 made to link to the new hash of 148 but keeping its stored hash, so
 * that 150 on still link. The break at 149 must not hide the rewrite.
 */
static void tv_rewrite_up_to(struct tv_chain *c, const struct tv_chain *orig,
			     uint64_t forged, uint64_t cp)
{
	tv_set(&c->rows[forged - 1], MW_CF_DECISION, "deny");
	tv_rechain(c, forged - 1, TV_NO_RESIGN);
	for (size_t i = cp - 1; i < c->n; i++)
		for (int k = 0; k < TV_COLS; k++)
			tv_set(&c->rows[i], (enum mw_chain_field)k,
			       orig->rows[i].v[k]);
}

static void tv_expect_rewrite_before(const struct tv_chain *c,
				     const struct tv_chain *orig,
				     enum mw_verify_class at_cp)
{
	for (int with_file = 0; with_file < 2; with_file++) {
		struct mw_verify *v = with_file ? tv_run(c, 0, orig, tv_cps, 2)
						: tv_run(c, 0, NULL, NULL, 0);
		const struct mw_verify_host *h = tv_host(v, TV_HOST);

		cr_assert_eq(h->by_class[MW_VB_REWRITTEN], 1,
			     "the rewrite is not named (file %d): %s",
			     with_file, h->details[0].detail);
		cr_assert_eq(h->details[0].cls, MW_VB_REWRITTEN);
		cr_assert_eq(h->details[0].seq, 100);
		cr_assert_eq(h->details[0].seq_end, 148);
		cr_assert_eq(h->details[1].cls, at_cp);
		cr_assert_eq(h->details[1].seq, 149);
		cr_assert_eq(h->breaks, 2);
		mw_verify_free(v);
	}
}

Test(verify, a_broken_checkpointed_row_does_not_hide_a_rewrite,
     .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 }, orig = { 0 };

	tv_build(&orig, TV_HOST, TV_N);
	tv_build(&c, TV_HOST, TV_N);
	tv_rewrite_up_to(&c, &orig, 112, 149);
	tv_set(&c.rows[148], MW_CF_PREV_HASH, c.rows[147].v[MW_CF_N]);
	tv_expect_rewrite_before(&c, &orig, MW_VB_MODIFIED);
	tv_free(&c);
	tv_free(&orig);
}

/* The signed row left as it was: it no longer links, and vouches for
 * itself only. */
Test(verify, an_unlinked_checkpointed_row_does_not_hide_a_rewrite,
     .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 }, orig = { 0 };

	tv_build(&orig, TV_HOST, TV_N);
	tv_build(&c, TV_HOST, TV_N);
	tv_rewrite_up_to(&c, &orig, 112, 149);
	tv_expect_rewrite_before(&c, &orig, MW_VB_INSERTED);
	tv_free(&c);
	tv_free(&orig);
}

/* The signed row kept, and a copy of it linking to the rewrite added:
 * the repeated seq does not hide the rewrite either. */
Test(verify, a_repeated_checkpointed_row_does_not_hide_a_rewrite,
     .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 }, orig = { 0 };
	struct tv_row *r;

	tv_build(&orig, TV_HOST, TV_N);
	tv_build(&c, TV_HOST, TV_N);
	tv_rewrite_up_to(&c, &orig, 112, 149);
	r = tv_insert(&c, 149);
	for (int k = 0; k < TV_COLS; k++)
		r->v[k] = tv_strdup(c.rows[148].v[k]);
	tv_set(r, MW_CF_PREV_HASH, c.rows[147].v[MW_CF_N]);
	tv_hash(r);
	tv_expect_rewrite_before(&c, &orig, MW_VB_INSERTED);
	tv_free(&c);
	tv_free(&orig);
}

/* The signed row deleted behind a rewrite, and no checkpoint file: the
 * checkpoint event after the gap does not vouch for the rewrite. */
Test(verify, a_deleted_checkpointed_row_does_not_hide_a_rewrite,
     .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 }, orig = { 0 };
	struct mw_verify *v;
	const struct mw_verify_host *h;

	tv_build(&orig, TV_HOST, TV_N);
	tv_build(&c, TV_HOST, TV_N);
	tv_rewrite_up_to(&c, &orig, 112, 149);
	tv_remove(&c, tv_index(&c, 149));
	v = tv_run(&c, 0, NULL, NULL, 0);
	tv_expect(v, 2, MW_VB_REWRITTEN, 100);
	h = tv_host(v, TV_HOST);
	cr_assert_eq(h->details[0].seq_end, 148);
	cr_assert_eq(h->details[1].cls, MW_VB_DELETED);
	cr_assert_eq(h->details[1].seq, 149);
	mw_verify_free(v);
	tv_free(&c);
	tv_free(&orig);
}

Test(verify, tail_deleted_caught_by_file_checkpoint, .init = tv_setup,
     .fini = tv_teardown)
{
	struct tv_chain c = { 0 }, orig = { 0 };
	struct mw_verify *v;

	tv_build(&orig, TV_HOST, TV_N);
	tv_build(&c, TV_HOST, TV_N);
	while (c.n > 280)
		tv_remove(&c, c.n - 1);
	/* without the file, nothing shows */
	v = tv_run(&c, 0, NULL, NULL, 0);
	cr_assert(mw_verify_ok(v));
	mw_verify_free(v);
	v = tv_run(&c, 0, &orig, tv_cps, 2);
	tv_expect(v, 1, MW_VB_DELETED, 281);
	cr_assert_eq(tv_host(v, TV_HOST)->details[0].seq_end, 299);
	cr_assert_eq(tv_host(v, TV_HOST)->file_cp_ok, 1);
	cr_assert_eq(tv_host(v, TV_HOST)->file_cp_failed, 1);
	mw_verify_free(v);
	tv_free(&c);
	tv_free(&orig);
}

Test(verify, host_missing_from_database, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 }, gone = { 0 };
	struct mw_verify *v;
	const struct mw_verify_host *h;

	tv_build(&gone, "gone-host", 60);
	tv_build(&c, TV_HOST, 60);
	v = tv_run(&c, 0, &gone, (const uint64_t[]){ 49 }, 1);
	h = tv_host(v, "gone-host");
	cr_assert_eq(h->events, 0);
	cr_assert_eq(h->details[0].cls, MW_VB_DELETED);
	cr_assert_eq(h->details[0].seq_end, 49);
	cr_assert_eq(tv_host(v, TV_HOST)->breaks, 0);
	mw_verify_free(v);
	tv_free(&c);
	tv_free(&gone);
}

Test(verify, bad_checkpoint_signature, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;
	struct tv_row *r;
	char sig[MW_SIGN_B64_LEN], params[512];

	tv_build(&c, TV_HOST, TV_N);
	/* the checkpoint at 150 carries a signature of another seq */
	r = &c.rows[149];
	tv_sign(tv_signer[0], TV_HOST, 148, c.rows[148].v[MW_CF_N], sig);
	snprintf(params, sizeof(params),
		 "{\"seq\":149,\"hash\":\"%s\",\"key_id\":\"%s\","
		 "\"signature\":\"%s\"}",
		 c.rows[148].v[MW_CF_N], mw_signer_key_id(tv_signer[0]), sig);
	tv_set(r, MW_CF_PARAMS, params);
	tv_rechain(&c, 149, 150);
	v = tv_run(&c, 0, NULL, NULL, 0);
	tv_expect(v, 1, MW_VB_BAD_SIGNATURE, 150);
	cr_assert_eq(tv_host(v, TV_HOST)->db_cp_failed, 1);
	mw_verify_free(v);
	tv_free(&c);
}

Test(verify, bad_file_checkpoint_signature, .init = tv_setup,
     .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;
	char line[1024], *sig;

	tv_build(&c, TV_HOST, TV_N);
	v = tv_new(0);
	tv_file_cp(&c, tv_signer[0], 149, line, sizeof(line));
	sig = strstr(line, "\"signature\":\"") + 13;
	sig[0] = sig[0] == 'A' ? 'B' : 'A';
	tv_add_line(v, line);
	tv_feed(v, &c);
	mw_verify_finish(v);
	tv_expect(v, 1, MW_VB_BAD_SIGNATURE, 149);
	mw_verify_free(v);
	tv_free(&c);
}

Test(verify, wrong_key, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;

	tv_build(&c, TV_HOST, TV_N);
	v = tv_run(&c, 1, NULL, tv_cps, 2);
	/* every checkpoint, in the database and in the file */
	tv_expect(v, TV_N / TV_CP_EVERY + 2, MW_VB_BAD_SIGNATURE, 50);
	cr_assert_eq(tv_host(v, TV_HOST)->by_class[MW_VB_BAD_SIGNATURE],
		     TV_N / TV_CP_EVERY + 2);
	mw_verify_free(v);
	tv_free(&c);
}

Test(verify, checkpoint_params_malformed, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;

	tv_build(&c, TV_HOST, TV_N);
	tv_set(&c.rows[99], MW_CF_PARAMS, "{\"seq\": \"99\"}");
	tv_rechain(&c, 99, 100);
	v = tv_run(&c, 0, NULL, tv_cps, 2);
	tv_expect(v, 1, MW_VB_MALFORMED, 100);
	cr_assert_eq(tv_host(v, TV_HOST)->db_cp_failed, 1);
	mw_verify_free(v);
	tv_free(&c);

	/* the same, recomputed by someone who cannot sign: the next
	 * checkpoint shows it, from the last good one (50, covering 49) */
	tv_build(&c, TV_HOST, TV_N);
	tv_set(&c.rows[99], MW_CF_PARAMS, "{\"seq\": \"99\"}");
	tv_rechain(&c, 99, TV_NO_RESIGN);
	v = tv_run(&c, 0, NULL, NULL, 0);
	cr_assert_eq(tv_host(v, TV_HOST)->details[0].cls, MW_VB_REWRITTEN);
	cr_assert_eq(tv_host(v, TV_HOST)->details[0].seq, 50);
	cr_assert_eq(tv_host(v, TV_HOST)->details[0].seq_end, 149);
	cr_assert_eq(tv_host(v, TV_HOST)->details[1].cls, MW_VB_MALFORMED);
	cr_assert_eq(tv_host(v, TV_HOST)->details[1].seq, 100);
	mw_verify_free(v);
	tv_free(&c);
}

static void tv_malformed(enum mw_chain_field f, const char *value, uint64_t at)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;

	tv_build(&c, TV_HOST, TV_N);
	tv_set(&c.rows[at - 1], f, value);
	v = tv_run(&c, 0, NULL, tv_cps, 2);
	tv_expect(v, 1, MW_VB_MALFORMED, at);
	mw_verify_free(v);
	tv_free(&c);
}

Test(verify, malformed_seq, .init = tv_setup, .fini = tv_teardown)
{
	static const char *const bad[] = {
		"6O", "0",   "-60", "060", "",
		NULL, " 60", "60 ", "+60", "99999999999999999999"
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		tv_malformed(MW_CF_SEQ, bad[i], 60);
}

Test(verify, malformed_hash, .init = tv_setup, .fini = tv_teardown)
{
	char upper[65];

	memset(upper, 'A', 64);
	upper[64] = '\0';
	tv_malformed(MW_CF_N, upper, 60);
	tv_malformed(MW_CF_N, "abc", 60);
	tv_malformed(MW_CF_N, NULL, 60);
	tv_malformed(MW_CF_PREV_HASH, "zz", 60);
	tv_malformed(MW_CF_TS_US, "yesterday", 60);
	tv_malformed(MW_CF_KIND, NULL, 60);
}

Test(verify, malformed_first_row, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;
	const struct mw_verify_host *h;

	tv_build(&c, TV_HOST, 20);
	tv_set(&c.rows[0], MW_CF_SEQ, "one");
	v = tv_run(&c, 0, NULL, NULL, 0);
	h = tv_host(v, TV_HOST);
	cr_assert_eq(h->details[0].cls, MW_VB_MALFORMED);
	cr_assert_eq(h->details[0].seq, 0);
	cr_assert_eq(h->first_seq, 2);
	mw_verify_free(v);
	tv_free(&c);
}

Test(verify, row_without_host, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;
	const struct mw_verify_host *h;

	tv_build(&c, TV_HOST, 20);
	tv_set(&c.rows[5], MW_CF_HOST, NULL);
	v = tv_run(&c, 0, NULL, NULL, 0);
	cr_assert_eq(mw_verify_nhosts(v), 2);
	h = mw_verify_host_at(v, 1);
	cr_assert(h->invalid);
	cr_assert_eq(h->details[0].cls, MW_VB_MALFORMED);
	tv_expect(v, 1, MW_VB_DELETED, 6);
	mw_verify_free(v);
	tv_free(&c);
}

Test(verify, host_out_of_order, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain a = { 0 }, b = { 0 };
	struct mw_verify *v = NULL;
	struct tv_chain part = { 0 };

	tv_build(&a, TV_HOST, 20);
	tv_build(&b, "b-host", 5);
	v = tv_new(0);
	part = a;
	part.n = 10;
	tv_feed(v, &part);
	tv_feed(v, &b);
	part.rows = a.rows + 10;
	tv_feed(v, &part);
	mw_verify_finish(v);
	tv_expect(v, 1, MW_VB_REORDERED, 11);
	cr_assert_eq(tv_host(v, "b-host")->breaks, 0);
	mw_verify_free(v);
	tv_free(&a);
	tv_free(&b);
}

Test(verify, checkpoints_after_rows_refused, .init = tv_setup,
     .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;
	char line[1024], err[256] = "";

	tv_build(&c, TV_HOST, 60);
	v = tv_new(0);
	tv_feed(v, &c);
	tv_file_cp(&c, tv_signer[0], 49, line, sizeof(line));
	cr_assert_eq(mw_verify_checkpoint_line(v, line, strlen(line), 1, err,
					       sizeof(err)),
		     -1);
	cr_assert(strstr(err, "before the rows"), "%s", err);
	mw_verify_free(v);
	tv_free(&c);
}

/* ---- the reports ---- */

static char *tv_report(const struct mw_verify *v)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	cr_assert_not_null(f);
	mw_verify_print(v, f);
	fclose(f);
	return text;
}

/*
 * Names the database chose (a trigger's, a partition's) and parse errors
 * quoting a hostile line reach the report's details: none of their bytes
 * drives the auditor's terminal, in the text report or the JSON.
 */
Test(verify, details_drive_no_terminal, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;
	char *text, *json;
	char err[512] = "";
	json_t *j;

	tv_build(&c, TV_HOST, 3);
	v = tv_new(0);
	tv_feed(v, &c);
	mw_verify_database_problem(v, "trigger %s on %s is not mcpwarden's",
				   "x\x1b[2K\r\x1b]52;c;SGk=\x07\n\xc2\x9b"
				   "8m",
				   "mcpwarden.events");
	/* a line of a package's events that is not JSON, quoted back by
	 * the parser: a C1 CSI and a raw ESC */
	cr_assert_eq(mw_verify_jsonl_line(v,
					  (char[]){ "{\"\xc2\x9b"
						    "2J\x1b" },
					  7, 1, err, sizeof(err)),
		     0, "%s", err);
	mw_verify_finish(v);
	text = tv_report(v);
	for (const char *p = text; *p; p++)
		cr_assert((*p >= 0x20 && *p < 0x7f) || *p == '\n',
			  "byte 0x%02x at %zu: %s", (unsigned char)*p,
			  (size_t)(p - text), text);
	cr_assert(strstr(text, "database: BROKEN: 1 problem(s)\n"), "%s", text);
	cr_assert(strstr(text, "not JSON: "), "%s", text);
	cr_assert(strstr(text, "trigger x\\x1b[2K\\x0d\\x1b]52;c;SGk=\\x07"
			       "\\x0a\\xc2\\x9b8m on mcpwarden.events is not "
			       "mcpwarden's"),
		  "%s", text);
	j = mw_verify_json(v);
	cr_assert_not_null(j);
	json = json_dumps(j, JSON_ENSURE_ASCII);
	cr_assert_null(strstr(json, "\\u001b"), "%s", json);
	cr_assert_eq(
		json_integer_value(json_object_get(j, "database_problems")), 1);
	free(json);
	json_decref(j);
	free(text);
	mw_verify_free(v);
	tv_free(&c);
}

Test(verify, reports, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;
	json_t *j, *host;
	char *text;

	tv_build(&c, TV_HOST, TV_N);
	v = tv_run(&c, 0, NULL, tv_cps, 2);
	text = tv_report(v);
	cr_assert(strstr(text, "host tv-host: 300 event(s), seq 1-300\n"), "%s",
		  text);
	cr_assert(strstr(text, "  checkpoints: 6 verified in the database; "
			       "2 verified in the checkpoint file\n  ok\n"),
		  "%s", text);
	cr_assert(strstr(text, "verification ok: 1 host(s), 300 event(s), 8 "
			       "checkpoint(s) verified\n"),
		  "%s", text);
	free(text);
	mw_verify_free(v);

	tv_set(&c.rows[76], MW_CF_TOOL, "write");
	tv_remove(&c, 200);
	v = tv_run(&c, 0, NULL, NULL, 0);
	text = tv_report(v);
	cr_assert(strstr(text, "  BROKEN: 2 break(s), first at seq 77 "
			       "(modified)\n"
			       "    seq 77 modified: the content does not "
			       "match the stored hash\n"
			       "    seq 201 deleted: 1 event(s) missing (seq "
			       "gap)\n"),
		  "%s", text);
	cr_assert(strstr(text, "verification FAILED: 2 break(s) in 1 of 1 "
			       "host(s), 299 event(s)\n"),
		  "%s", text);
	free(text);
	j = mw_verify_json(v);
	cr_assert_not_null(j);
	cr_assert(json_is_false(json_object_get(j, "ok")));
	cr_assert_eq(json_integer_value(json_object_get(j, "breaks")), 2);
	host = json_array_get(json_object_get(j, "hosts"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(host, "host")),
			 TV_HOST);
	cr_assert_eq(json_integer_value(json_object_get(
			     json_object_get(host, "first_break"), "seq")),
		     77);
	cr_assert_str_eq(
		json_string_value(json_object_get(
			json_object_get(host, "first_break"), "class")),
		"modified");
	cr_assert_eq(json_integer_value(json_object_get(
			     json_object_get(host, "break_counts"), "deleted")),
		     1);
	cr_assert_eq(json_array_size(json_object_get(host, "details")), 2);
	json_decref(j);
	mw_verify_free(v);
	tv_free(&c);
}

Test(verify, details_bounded, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;
	const struct mw_verify_host *h;

	tv_build(&c, TV_HOST, TV_N);
	for (int i = 0; i < 20; i++)
		tv_set(&c.rows[250 - 10 * i], MW_CF_TOOL, "write");
	v = tv_run(&c, 0, NULL, NULL, 0);
	h = tv_host(v, TV_HOST);
	cr_assert_eq(h->breaks, 20);
	cr_assert_eq(h->ndetails, MW_VERIFY_MAX_DETAILS);
	for (size_t i = 0; i < h->ndetails; i++)
		cr_assert_eq(h->details[i].seq, 61 + 10 * i);
	mw_verify_free(v);
	tv_free(&c);
}

/* ---- COPY text ---- */

static void tv_copy_ok(const char *text, size_t nf, const char *const *want)
{
	struct mw_chain_value f[8];
	char err[256] = "", *line = strdup(text);

	cr_assert_eq(
		mw_pgcopy_parse(line, strlen(line), f, nf, err, sizeof(err)), 0,
		"%s: %s", text, err);
	for (size_t i = 0; i < nf; i++) {
		if (!want[i]) {
			cr_assert_null(f[i].s, "field %zu of %s", i, text);
			continue;
		}
		cr_assert_not_null(f[i].s, "field %zu of %s", i, text);
		cr_assert_eq(f[i].n, strlen(want[i]), "field %zu of %s", i,
			     text);
		cr_assert_eq(memcmp(f[i].s, want[i], f[i].n), 0,
			     "field %zu of %s", i, text);
	}
	free(line);
}

static void tv_copy_bad(const char *text, size_t len, size_t nf,
			const char *why)
{
	struct mw_chain_value f[8];
	char err[256] = "", *line = malloc(len + 1);

	memcpy(line, text, len);
	cr_assert_eq(mw_pgcopy_parse(line, len, f, nf, err, sizeof(err)), -1,
		     "%s", text);
	cr_assert(strstr(err, why), "%s: %s", text, err);
	free(line);
}

Test(pgcopy, fields_null_and_empty)
{
	tv_copy_ok("a\t\\N\t\tb\n", 4,
		   (const char *const[]){ "a", NULL, "", "b" });
	tv_copy_ok("\\N", 1, (const char *const[]){ NULL });
	tv_copy_ok("", 1, (const char *const[]){ "" });
	tv_copy_ok("\t", 2, (const char *const[]){ "", "" });
	/* an escaped backslash then N is text, not NULL */
	tv_copy_ok("\\\\N\t\\Nx", 2, (const char *const[]){ "\\N", "Nx" });
}

Test(pgcopy, escapes)
{
	tv_copy_ok("\\\\\\b\\f\\n\\r\\t\\v", 1,
		   (const char *const[]){ "\\\b\f\n\r\t\v" });
	tv_copy_ok("\\101\\60\\7x\\1011", 1,
		   (const char *const[]){ "A0\7xA1" });
	tv_copy_ok("\\x41\\x4a\\x4G\\xg\\q\\\"", 1,
		   (const char *const[]){ "AJ\4Gxgq\"" });
	tv_copy_ok("\\303\\251t\\xc3\\xa9", 1,
		   (const char *const[]){ "\303\251t\303\251" });
	tv_copy_ok("a\\tb\tc\\\\t", 2, (const char *const[]){ "a\tb", "c\\t" });
}

Test(pgcopy, nul_byte_decoded)
{
	struct mw_chain_value f[1];
	char line[] = "a\\000b", err[64];

	cr_assert_eq(
		mw_pgcopy_parse(line, strlen(line), f, 1, err, sizeof(err)), 0);
	cr_assert_eq(f[0].n, 3);
	cr_assert_eq(memcmp(f[0].s, "a\0b", 3), 0);
}

Test(pgcopy, refused)
{
	tv_copy_bad("a\tb\tc\n", 6, 2, "more than 2 fields");
	tv_copy_bad("a\tb\n", 4, 3, "2 fields, expected 3");
	tv_copy_bad("a\\", 2, 1, "backslash ends");
	tv_copy_bad("a\nb", 3, 1, "raw line break");
	tv_copy_bad("a\rb", 3, 1, "raw line break");
	tv_copy_bad("a\n\n", 3, 1, "raw line break");
}

Test(pgcopy, line_bound)
{
	size_t len = MW_PGCOPY_MAX_LINE + 1;
	char *line = malloc(len), err[128] = "";
	struct mw_chain_value f[1];

	cr_assert_not_null(line);
	memset(line, 'a', len);
	cr_assert_eq(mw_pgcopy_parse(line, len, f, 1, err, sizeof(err)), -1);
	cr_assert(strstr(err, "longer than"), "%s", err);
	/* the bound itself, newline included, is accepted */
	line[len - 2] = '\n';
	cr_assert_eq(mw_pgcopy_parse(line, len - 1, f, 1, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(f[0].n, len - 2);
	free(line);
}

/* A row as COPY TO would send it. */
static char *tv_copy_line(const struct tv_row *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	for (int i = 0; i < TV_COLS; i++) {
		if (i)
			fputc('\t', f);
		if (!r->v[i]) {
			fputs("\\N", f);
			continue;
		}
		for (const char *p = r->v[i]; *p; p++) {
			switch (*p) {
			case '\\':
				fputs("\\\\", f);
				break;
			case '\n':
				fputs("\\n", f);
				break;
			case '\t':
				fputs("\\t", f);
				break;
			case '\r':
				fputs("\\r", f);
				break;
			default:
				fputc(*p, f);
			}
		}
	}
	fputc('\n', f);
	fclose(f);
	return text;
}

Test(verify, copy_lines_verify, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;
	char err[256] = "", *line;

	tv_build(&c, TV_HOST, TV_N);
	v = tv_new(0);
	for (size_t i = 0; i < c.n; i++) {
		line = tv_copy_line(&c.rows[i]);
		cr_assert_eq(mw_verify_copy_line(v, line, strlen(line), err,
						 sizeof(err)),
			     0, "%s", err);
		free(line);
	}
	line = strdup("a\tb\n");
	cr_assert_eq(
		mw_verify_copy_line(v, line, strlen(line), err, sizeof(err)),
		-1);
	cr_assert(strstr(err, "expected"), "%s", err);
	free(line);
	mw_verify_finish(v);
	cr_assert(mw_verify_ok(v));
	cr_assert_eq(tv_host(v, TV_HOST)->db_cp_ok, TV_N / TV_CP_EVERY);
	mw_verify_free(v);
	tv_free(&c);
}

/* ---- events.jsonl ---- */

/* A row as an evidence package holds it (extra: one more member). */
static char *tv_jsonl(const struct tv_row *r, const char *extra)
{
	json_t *o = json_object();
	char *text, *line;

	for (int i = 0; i < TV_COLS; i++)
		json_object_set_new(
			o, i < MW_CF_N ? mw_chain_field_names[i] : "hash",
			r->v[i] ? json_string(r->v[i]) : json_null());
	text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	cr_assert_not_null(text);
	json_decref(o);
	if (extra) {
		cr_assert_gt(asprintf(&line, "{%s,%s", extra, text + 1), 0);
		free(text);
		text = line;
	}
	return text;
}

static void tv_jsonl_bad(const char *text, const char *why)
{
	struct mw_chain_value f[MW_CF_N], hash;
	char *line = strdup(text), err[256] = "";
	json_t *root = NULL;

	cr_assert_eq(mw_verify_parse_jsonl(line, strlen(line), &root, f, &hash,
					   err, sizeof(err)),
		     -1, "%s", text);
	cr_assert_null(root);
	cr_assert(strstr(err, why), "%.80s: %s", text, err);
	free(line);
}

Test(jsonl, parses_row, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_chain_value f[MW_CF_N], hash;
	char err[256] = "", *line;
	json_t *root = NULL;

	tv_build(&c, TV_HOST, 7);
	tv_set(&c.rows[6], MW_CF_SERVER, "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\"/");
	line = tv_jsonl(&c.rows[6], NULL);
	cr_assert_eq(mw_verify_parse_jsonl(line, strlen(line), &root, f, &hash,
					   err, sizeof(err)),
		     0, "%s: %s", line, err);
	for (int i = 0; i < MW_CF_N; i++) {
		const char *want = c.rows[6].v[i];

		if (!want) {
			cr_assert_null(f[i].s, "%s", mw_chain_field_names[i]);
			continue;
		}
		cr_assert_eq(f[i].n, strlen(want), "%s",
			     mw_chain_field_names[i]);
		cr_assert_eq(memcmp(f[i].s, want, f[i].n), 0, "%s",
			     mw_chain_field_names[i]);
	}
	cr_assert_eq(hash.n, 64);
	cr_assert_eq(memcmp(hash.s, c.rows[6].v[MW_CF_N], 64), 0);
	json_decref(root);
	free(line);
	tv_free(&c);
}

Test(jsonl, refused, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	char *line, *p;

	tv_build(&c, TV_HOST, 3);
	line = tv_jsonl(&c.rows[2], "\"note\":\"x\"");
	tv_jsonl_bad(line, "unknown key \"note\"");
	free(line);
	line = tv_jsonl(&c.rows[2], "\"seq\":\"3\"");
	tv_jsonl_bad(line, "duplicate object key");
	free(line);
	line = tv_jsonl(&c.rows[2], NULL);
	p = strstr(line, "\"seq\":\"3\"");
	memcpy(p, "\"seq\":  3", 9);
	tv_jsonl_bad(line, "key \"seq\": not a string or null");
	free(line);
	line = tv_jsonl(&c.rows[2], NULL);
	p = strstr(line, "\"rule\":");
	memcpy(p, "\"rulx\"", 6);
	tv_jsonl_bad(line, "key \"rule\" missing");
	free(line);
	tv_jsonl_bad("{}", "key \"host\" missing");
	tv_jsonl_bad("[]", "not a JSON object");
	tv_jsonl_bad("{\"host\":\"a\"", "not JSON");
	tv_jsonl_bad("{\"host\":\"a\\ud800\"}", "not JSON");
	tv_jsonl_bad("{\"host\":\"a\\udc00\"}", "not JSON");
	tv_jsonl_bad("{\"host\":\"a\\x\"}", "not JSON");
	tv_jsonl_bad("{\"host\":\"a\tb\"}", "not JSON");
	tv_jsonl_bad("{\"host\":\"a} x", "not JSON");
	tv_jsonl_bad("{\"host\":true}", "not a string or null");
	tv_free(&c);
}

Test(jsonl, package_file_verifies, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;
	char path[128], err[256] = "", *line;
	FILE *f;

	tv_build(&c, TV_HOST, TV_N);
	snprintf(path, sizeof(path), "%s/events.jsonl", tv_dir[0]);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	for (size_t i = 0; i < c.n; i++) {
		line = tv_jsonl(&c.rows[i], NULL);
		fprintf(f, "%s\n", line);
		free(line);
	}
	fprintf(f, "\n{\"broken\n"); /* a blank line, a bad last line */
	fclose(f);
	v = tv_new(0);
	cr_assert_eq(mw_verify_load_jsonl(v, path, err, sizeof(err)), 0, "%s",
		     err);
	mw_verify_finish(v);
	cr_assert_eq(tv_host(v, TV_HOST)->breaks, 0);
	cr_assert_eq(tv_host(v, TV_HOST)->db_cp_ok, TV_N / TV_CP_EVERY);
	cr_assert_eq(mw_verify_nhosts(v), 2);
	cr_assert(mw_verify_host_at(v, 1)->invalid);
	cr_assert(strstr(mw_verify_host_at(v, 1)->details[0].detail,
			 "events.jsonl line 302:"),
		  "%s", mw_verify_host_at(v, 1)->details[0].detail);
	cr_assert_not(mw_verify_ok(v));
	mw_verify_free(v);
	unlink(path);
	tv_free(&c);
}

/* ---- the checkpoint file ---- */

Test(checkpoints, parse_line)
{
	struct mw_verify_cp cp;
	char err[256] = "";
	const char *ok =
		"{\"host\":\"h\",\"seq\":5,\"hash\":\"" MW_CHAIN_GENESIS
		"\",\"key_id\":\"0123456789abcdef\",\"signature\":"
		"\"c2ln\",\"checkpoint_seq\":6,\"ts_us\":-1,"
		"\"future\":[1]}\n";

	cr_assert_eq(mw_verify_parse_checkpoint(ok, strlen(ok), &cp, err,
						sizeof(err)),
		     0, "%s", err);
	cr_assert_str_eq(cp.host, "h");
	cr_assert_eq(cp.seq, 5);
	cr_assert_eq(cp.checkpoint_seq, 6);
	cr_assert_eq(cp.ts_us, -1);
	cr_assert_str_eq(cp.key_id, "0123456789abcdef");
}

static void tv_cp_bad(const char *line, const char *why)
{
	struct mw_verify_cp cp;
	char err[256] = "";

	cr_assert_eq(mw_verify_parse_checkpoint(line, strlen(line), &cp, err,
						sizeof(err)),
		     -1, "%s", line);
	cr_assert(strstr(err, why), "%s: %s", line, err);
}

Test(checkpoints, refused_lines)
{
	char *long_line = malloc(MW_VERIFY_CP_LINE_MAX + 2);

	tv_cp_bad("nope", "not JSON");
	tv_cp_bad("[1]", "not a JSON object");
	tv_cp_bad("{\"seq\":1}", "host");
	tv_cp_bad("{\"host\":\"\",\"seq\":1}", "host");
	tv_cp_bad("{\"host\":\"a\\u0000b\",\"seq\":1}", "JSON");
	tv_cp_bad("{\"host\":\"h\",\"seq\":0}", "seq");
	tv_cp_bad("{\"host\":\"h\",\"seq\":\"1\"}", "seq");
	tv_cp_bad("{\"host\":\"h\",\"seq\":1,\"hash\":\"00\"}", "hash");
	tv_cp_bad("{\"host\":\"h\",\"seq\":1,\"hash\":\"" MW_CHAIN_GENESIS
		  "\",\"key_id\":\"0123456789abcdef0\"}",
		  "key_id");
	tv_cp_bad("{\"host\":\"h\",\"seq\":1,\"hash\":\"" MW_CHAIN_GENESIS
		  "\",\"key_id\":\"0123456789abcdef\"}",
		  "signature");
	tv_cp_bad("{\"host\":\"h\",\"seq\":1,\"hash\":\"" MW_CHAIN_GENESIS
		  "\",\"key_id\":\"0123456789abcdef\",\"signature\":\"x\","
		  "\"ts_us\":1.5}",
		  "ts_us");
	tv_cp_bad("{\"host\":\"h\",\"host\":\"h\",\"seq\":1}", "not JSON");
	memset(long_line, ' ', MW_VERIFY_CP_LINE_MAX + 1);
	long_line[MW_VERIFY_CP_LINE_MAX + 1] = '\0';
	tv_cp_bad(long_line, "longer than");
	free(long_line);
}

/* The checkpoint file at path (host's lines, or all), then c's rows. */
static struct mw_verify *
tv_checked_with_file(const char *path, const char *host, struct tv_chain *c)
{
	struct mw_verify *v = tv_new(0);
	char err[256] = "";

	cr_assert_eq(
		mw_verify_load_checkpoints(v, path, host, err, sizeof(err)), 0,
		"%s", err);
	tv_feed(v, c);
	mw_verify_finish(v);
	return v;
}

Test(checkpoints, load_file, .init = tv_setup, .fini = tv_teardown)
{
	struct tv_chain c = { 0 }, other = { 0 };
	struct mw_verify *v;
	char path[128], line[1024], err[256] = "";
	FILE *f;

	tv_build(&c, TV_HOST, TV_N);
	tv_build(&other, "other-host", 60);
	snprintf(path, sizeof(path), "%s/audit-checkpoints.jsonl", tv_dir[0]);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	tv_file_cp(&c, tv_signer[0], 149, line, sizeof(line));
	fputs(line, f);
	tv_file_cp(&other, tv_signer[0], 49, line, sizeof(line));
	fputs(line, f);
	fputs("\n   \n", f);
	for (int i = 0; i < MW_VERIFY_CP_LINE_MAX + 10; i++)
		fputc('x', f);
	fputc('\n', f);
	tv_file_cp(&c, tv_signer[0], 299, line, sizeof(line));
	fputs(line, f);
	fputs(line, f); /* twice: counted once */
	fclose(f);

	/* one host: the other's lines are left out */
	v = tv_checked_with_file(path, TV_HOST, &c);
	cr_assert_eq(tv_host(v, TV_HOST)->file_cp_ok, 2);
	cr_assert_eq(tv_host(v, TV_HOST)->breaks, 0);
	cr_assert_null(mw_verify_find_host(v, "other-host"));
	/* the over-long line */
	cr_assert_eq(mw_verify_nhosts(v), 2);
	cr_assert(strstr(mw_verify_host_at(v, 1)->details[0].detail,
			 "checkpoint file line 5: longer than"),
		  "%s", mw_verify_host_at(v, 1)->details[0].detail);
	mw_verify_free(v);

	/* all hosts: other-host has no rows, its checkpoint proves some */
	v = tv_checked_with_file(path, NULL, &c);
	cr_assert_eq(tv_host(v, "other-host")->by_class[MW_VB_DELETED], 1);
	mw_verify_free(v);

	v = tv_new(0);
	unlink(path);
	cr_assert_eq(
		mw_verify_load_checkpoints(v, path, NULL, err, sizeof(err)),
		-1);
	cr_assert_eq(errno, ENOENT);
	mw_verify_free(v);
	tv_free(&c);
	tv_free(&other);
}

/* What a crash or a full disk leaves: ignored, as the daemon cuts it. */
Test(checkpoints, a_torn_last_line_is_a_note, .init = tv_setup,
     .fini = tv_teardown)
{
	struct tv_chain c = { 0 };
	struct mw_verify *v;
	char path[128], line[1024], *text = NULL;
	size_t len = 0;
	FILE *f;

	tv_build(&c, TV_HOST, TV_N);
	snprintf(path, sizeof(path), "%s/audit-checkpoints.jsonl", tv_dir[0]);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	tv_file_cp(&c, tv_signer[0], 149, line, sizeof(line));
	fputs(line, f);
	fwrite(line, 1, strlen(line) / 2, f);
	fclose(f);
	v = tv_checked_with_file(path, NULL, &c);
	cr_assert(mw_verify_ok(v));
	cr_assert_eq(tv_host(v, TV_HOST)->file_cp_ok, 1);
	f = open_memstream(&text, &len);
	mw_verify_print(v, f);
	fclose(f);
	cr_assert(strstr(text, "note: a checkpoint file ends in a line not "
			       "written whole"),
		  "%s", text);
	free(text);
	mw_verify_free(v);
	tv_free(&c);
}

Test(checkpoints, file_too_large, .init = tv_setup, .fini = tv_teardown)
{
	struct mw_verify *v;
	char path[128], err[256] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/big.jsonl", tv_dir[0]);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(ftruncate(fileno(f), (off_t)MW_VERIFY_CP_FILE_MAX + 1), 0);
	fclose(f);
	v = tv_new(0);
	cr_assert_eq(
		mw_verify_load_checkpoints(v, path, NULL, err, sizeof(err)),
		-1);
	cr_assert(strstr(err, "larger than"), "%s", err);
	mw_verify_free(v);
	unlink(path);
}

/* ---- the hash's encoding (chain.h), against a plain computation ---- */

static uint64_t tv_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * "MWEV1", then per field a 4-byte big-endian length (0xffffffff for
 * NULL) and the bytes, optional fields left out when NULL: built whole and
 * hashed at once, against mw_chain_hash's buffered feed, over fields of
 * every size around its buffer's (2 KiB) and halves.
 */
Test(chain, hash_is_the_documented_encoding)
{
	static const size_t sizes[] = { 0,    1,    3,	  64,	1000,
					1023, 1024, 1025, 2040, 2043,
					2044, 2048, 2049, 5000 };
	const size_t nsizes = sizeof(sizes) / sizeof(sizes[0]);
	static char data[MW_CF_N][6000];
	unsigned char *whole = malloc(5 + MW_CF_N * (4 + 6000));
	uint64_t seed = 0x2545f4914f6cdd1dull;

	cr_assert_not_null(whole);
	for (int f = 0; f < MW_CF_N; f++)
		for (size_t i = 0; i < sizeof(data[f]); i++)
			data[f][i] = (char)(tv_rand(&seed) & 0xff);
	for (int round = 0; round < 400; round++) {
		struct mw_chain_value v[MW_CF_N];
		unsigned char md[EVP_MAX_MD_SIZE];
		char got[MW_CHAIN_HASH_HEX], want[MW_CHAIN_HASH_HEX];
		unsigned int mdlen = 0;
		size_t w = 5;

		memcpy(whole, "MWEV1", 5);
		for (int f = 0; f < MW_CF_N; f++) {
			uint64_t r = tv_rand(&seed);
			uint32_t n;

			v[f].s = r % 7 ? data[f] : NULL;
			v[f].n = sizes[(r >> 8) % nsizes];
			if (round < 2) /* all short, then all long */
				v[f].n = round ? 5000 : 2, v[f].s = data[f];
			if (f >= MW_CF_FIRST_OPTIONAL && !v[f].s)
				continue;
			n = v[f].s ? (uint32_t)v[f].n : 0xffffffffu;
			whole[w++] = (unsigned char)(n >> 24);
			whole[w++] = (unsigned char)(n >> 16);
			whole[w++] = (unsigned char)(n >> 8);
			whole[w++] = (unsigned char)n;
			if (v[f].s) {
				memcpy(whole + w, v[f].s, v[f].n);
				w += v[f].n;
			}
		}
		cr_assert(EVP_Digest(whole, w, md, &mdlen, EVP_sha256(), NULL));
		for (unsigned i = 0; i < 32; i++)
			snprintf(want + 2 * i, 3, "%02x", md[i]);
		cr_assert_eq(mw_chain_hash(v, got), 0);
		cr_assert_str_eq(got, want, "round %d", round);
	}
	free(whole);
}

/* ---- what a hostile package puts in a file's place ---- */

/*
 * A FIFO would block the verifier for ever, /dev/zero never end: refused
 * as no regular file, and events.jsonl not through a link either.
 */
Test(checkpoints, a_package_file_that_is_no_file_is_refused, .init = tv_setup,
     .fini = tv_teardown, .timeout = 10)
{
	struct mw_verify *v;
	char fifo[128], link[128], err[256] = "";

	snprintf(fifo, sizeof(fifo), "%s/checkpoints.jsonl", tv_dir[0]);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	snprintf(link, sizeof(link), "%s/events.jsonl", tv_dir[0]);
	cr_assert_eq(symlink("/dev/zero", link), 0);
	v = tv_new(0);
	cr_assert_eq(
		mw_verify_load_checkpoints(v, fifo, NULL, err, sizeof(err)),
		-1);
	cr_assert(strstr(err, "not a regular file"), "%s", err);
	cr_assert_eq(mw_verify_load_jsonl(v, fifo, err, sizeof(err)), -1);
	cr_assert(strstr(err, "not a regular file"), "%s", err);
	cr_assert_eq(mw_verify_load_jsonl(v, link, err, sizeof(err)), -1);
	cr_assert(strstr(err, "a symbolic link"), "%s", err);
	cr_assert_eq(
		mw_verify_load_checkpoints(v, link, NULL, err, sizeof(err)),
		-1);
	cr_assert(strstr(err, "not a regular file"), "%s", err);
	mw_verify_free(v);
	unlink(fifo);
	unlink(link);
}
