// SPDX-License-Identifier: BSD-2-Clause
/*
 * The audit verifier's parsers and state machine on arbitrary bytes. The
 * first byte picks what the rest is:
 *   0  one COPY text line (mw_pgcopy_parse, MW_CF_N + 1 fields)
 *   1  one events.jsonl line (mw_verify_parse_jsonl)
 *   2  one checkpoint file line (mw_verify_parse_checkpoint)
 *   3  lines into a verifier: "C..." a checkpoint file line (before any
 *      row), "J..." an events.jsonl row, anything else a COPY row
 *   4+ a chain whose hashes the harness computes, so that rows verify and
 *      seq orders, repeats, gaps, shifts and checkpoints get explored.
 *      Each line is a COPY row of 7 fields
 *        host seq ts_us kind prev_hash params tamper
 *      (the other columns fixed); prev_hash "L" is the hash of the line
 *      before (genesis for the first), params "S" a checkpoint signed for
 *      the line before, tamper "h" spoils the stored hash, "m" the content
 *      after hashing. A line "K<seq>" adds a file checkpoint for the first
 *      row of that seq. A proper chain (one host, seqs 1..n, every row
 *      linked, nothing spoiled, checkpoints only where they can be right)
 *      must verify without a break.
 * Every run checks the results are consistent: breaks counted by class,
 * details sorted and bounded, a JSON and a text report.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain.h"
#include "pgcopy.h"
#include "sign.h"
#include "verify.h"

#include "fuzz_report.h"

#define MAX_ROWS 512
#define MAX_SIGNED 32 /* signatures made per input */
#define COMPACT_FIELDS 7

static struct mw_signer *signer;
static struct mw_sign_pub *pub;
static char key_dir[64];

static void cleanup(void)
{
	char path[128];

	mw_signer_free(signer);
	mw_sign_pub_free(pub);
	snprintf(path, sizeof(path), "%s/%s", key_dir, MW_SIGN_KEY_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", key_dir, MW_SIGN_PUB_FILE);
	unlink(path);
	rmdir(key_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[512], pem[4096];
	int n;

	(void)argc;
	(void)argv;
	snprintf(key_dir, sizeof(key_dir), "/tmp/mw-fuzz-verify-XXXXXX");
	if (!mkdtemp(key_dir) ||
	    mw_signer_open(&signer, key_dir, err, sizeof(err)) ||
	    (n = mw_signer_public_pem(signer, pem, sizeof(pem))) < 0 ||
	    mw_sign_pub_from_pem(&pub, pem, (size_t)n, err, sizeof(err)))
		abort();
	atexit(cleanup);
	return 0;
}

static char *dup_bytes(const unsigned char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static void one_copy_line(const unsigned char *data, size_t size)
{
	struct mw_chain_value f[MW_CF_N + 1];
	char *line = dup_bytes(data, size), err[256];

	if (!mw_pgcopy_parse(line, size, f, MW_CF_N + 1, err, sizeof(err)))
		for (int i = 0; i <= MW_CF_N; i++)
			if (f[i].s &&
			    (f[i].s < line || f[i].s + f[i].n > line + size))
				abort();
	free(line);
}

static void one_jsonl_line(const unsigned char *data, size_t size)
{
	struct mw_chain_value f[MW_CF_N], hash;
	char *line = dup_bytes(data, size), err[256];
	json_t *root = NULL;

	if (!mw_verify_parse_jsonl(line, size, &root, f, &hash, err,
				   sizeof(err))) {
		/* every value is the whole of one of the object's strings */
		for (int i = 0; i < MW_CF_N; i++)
			if (f[i].s && strlen(f[i].s) > f[i].n)
				abort();
		json_decref(root);
	} else if (!err[0] || root) {
		abort();
	}
	free(line);
}

static void one_checkpoint_line(const unsigned char *data, size_t size)
{
	struct mw_verify_cp cp;
	char err[256] = "";

	if (!mw_verify_parse_checkpoint((const char *)data, size, &cp, err,
					sizeof(err))) {
		if (!cp.host[0] || !cp.seq ||
		    !mw_chain_is_hash(cp.hash, strlen(cp.hash)))
			abort();
	} else if (!err[0]) {
		abort();
	}
}

/* Calls fn on each line of data (without its newline). */
static void lines(char *text, size_t size,
		  void (*fn)(char *line, size_t len, void *arg), void *arg)
{
	size_t start = 0;

	for (size_t i = 0; i <= size; i++) {
		if (i < size && text[i] != '\n')
			continue;
		fn(text + start, i - start, arg);
		start = i + 1;
	}
}

struct mixed {
	struct mw_verify *v;
	uint64_t lineno;
	bool rows;
};

static void mixed_line(char *line, size_t len, void *arg)
{
	struct mixed *m = arg;
	char err[256];

	m->lineno++;
	if (len && line[0] == 'C' && !m->rows) {
		if (mw_verify_checkpoint_line(m->v, line + 1, len - 1,
					      m->lineno, err, sizeof(err)))
			abort();
		return;
	}
	m->rows = true;
	if (len && line[0] == 'J') {
		if (mw_verify_jsonl_line(m->v, line + 1, len - 1, m->lineno,
					 err, sizeof(err)))
			abort();
		return;
	}
	/* a line that does not parse is refused, which is all */
	mw_verify_copy_line(m->v, line, len, err, sizeof(err));
}

static void mixed(const unsigned char *data, size_t size)
{
	struct mixed m = { 0 };
	char *text = dup_bytes(data, size), err[256];

	if (mw_verify_new(&m.v, pub, err, sizeof(err)))
		abort();
	lines(text, size, mixed_line, &m);
	fuzz_check_report(m.v, true);
	mw_verify_free(m.v);
	free(text);
}

/* ---- mode 4: chains the harness hashes ---- */

struct crow {
	struct mw_chain_value f[MW_CF_N];
	char hash[MW_CHAIN_HASH_HEX];
	char params[512];
	uint64_t seq; /* 0: not a positive integer */
	char tamper;
};

struct chain {
	struct crow rows[MAX_ROWS];
	size_t n;
	uint64_t file_cps[MAX_ROWS];
	size_t ncps;
	int signed_;
	bool proper;
};

static uint64_t num(const char *s, size_t n)
{
	uint64_t x = 0;

	if (!n || n > 18 || s[0] == '0')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	return x;
}

static bool proper_host(const struct mw_chain_value *h)
{
	return h->s && h->n && h->n < MW_VERIFY_HOST_MAX &&
	       !memchr(h->s, 0, h->n);
}

static void chain_line(char *line, size_t len, void *arg)
{
	struct chain *c = arg;
	struct mw_chain_value x[COMPACT_FIELDS];
	const struct crow *prev = c->n ? &c->rows[c->n - 1] : NULL;
	struct crow *r;
	char err[128];

	if (len && line[0] == 'K') {
		if (c->ncps < MAX_ROWS)
			c->file_cps[c->ncps++] = num(line + 1, len - 1);
		return;
	}
	if (c->n == MAX_ROWS ||
	    mw_pgcopy_parse(line, len, x, COMPACT_FIELDS, err, sizeof(err)))
		return;
	r = &c->rows[c->n];
	memset(r, 0, sizeof(*r));
	r->f[MW_CF_HOST] = x[0];
	r->f[MW_CF_SEQ] = x[1];
	r->f[MW_CF_TS_US] = x[2];
	r->f[MW_CF_KIND] = x[3];
	r->f[MW_CF_PREV_HASH] = x[4];
	r->f[MW_CF_PARAMS] = x[5];
	r->f[MW_CF_SERVER] = (struct mw_chain_value){ "srv", 3 };
	r->seq = x[1].s ? num(x[1].s, x[1].n) : 0;
	r->tamper = x[6].s && x[6].n ? x[6].s[0] : 0;
	if (x[4].s && x[4].n == 1 && x[4].s[0] == 'L')
		r->f[MW_CF_PREV_HASH] = (struct mw_chain_value){
			prev ? prev->hash : MW_CHAIN_GENESIS, 64
		};
	if (x[5].s && x[5].n == 1 && x[5].s[0] == 'S' && prev && prev->seq &&
	    proper_host(&r->f[MW_CF_HOST]) && c->signed_ < MAX_SIGNED) {
		char host[MW_VERIFY_HOST_MAX], msg[512], sig[MW_SIGN_B64_LEN];
		int n;

		memcpy(host, r->f[MW_CF_HOST].s, r->f[MW_CF_HOST].n);
		host[r->f[MW_CF_HOST].n] = '\0';
		n = mw_chain_checkpoint_message(msg, sizeof(msg), host,
						prev->seq, prev->hash);
		if (n < 0 || mw_signer_sign(signer, msg, (size_t)n, sig))
			abort();
		c->signed_++;
		n = snprintf(r->params, sizeof(r->params),
			     "{\"seq\":%llu,\"hash\":\"%s\",\"key_id\":\"%s\","
			     "\"signature\":\"%s\"}",
			     (unsigned long long)prev->seq, prev->hash,
			     mw_signer_key_id(signer), sig);
		r->f[MW_CF_PARAMS] =
			(struct mw_chain_value){ r->params, (size_t)n };
	} else if (c->signed_ >= MAX_SIGNED) {
		c->proper = false;
	}
	if (mw_chain_hash(r->f, r->hash))
		abort();
	if (r->tamper == 'h')
		r->hash[0] = r->hash[0] == '0' ? '1' : '0';
	if (r->tamper == 'm')
		r->f[MW_CF_SERVER] = (struct mw_chain_value){ "SRV", 3 };
	/* a proper chain: what the writer makes */
	if (r->tamper || r->seq != c->n + 1 ||
	    !proper_host(&r->f[MW_CF_HOST]) || !x[2].s ||
	    !num(x[2].s, x[2].n) || !x[3].s ||
	    !(x[4].s && x[4].n == 1 && x[4].s[0] == 'L') ||
	    (x[3].n == 10 && !memcmp(x[3].s, "checkpoint", 10) &&
	     r->f[MW_CF_PARAMS].s != r->params) ||
	    (prev && (prev->f[MW_CF_HOST].n != r->f[MW_CF_HOST].n ||
		      memcmp(prev->f[MW_CF_HOST].s, r->f[MW_CF_HOST].s,
			     r->f[MW_CF_HOST].n))))
		c->proper = false;
	c->n++;
}

static void chain(const unsigned char *data, size_t size)
{
	struct chain *c = calloc(1, sizeof(*c));
	char *text = dup_bytes(data, size), err[256];
	struct mw_verify *v = NULL;

	if (!c)
		abort();
	c->proper = true;
	lines(text, size, chain_line, c);
	if (mw_verify_new(&v, pub, err, sizeof(err)))
		abort();
	for (size_t i = 0; i < c->ncps; i++) {
		const struct crow *r = NULL;
		struct mw_verify_cp cp = { .seq = c->file_cps[i] };
		char msg[512];
		int n;

		for (size_t k = 0; k < c->n && !r; k++)
			if (c->rows[k].seq == cp.seq && cp.seq)
				r = &c->rows[k];
		if (!r || !proper_host(&r->f[MW_CF_HOST]) ||
		    c->signed_ >= MAX_SIGNED) {
			c->proper = false;
			continue;
		}
		memcpy(cp.host, r->f[MW_CF_HOST].s, r->f[MW_CF_HOST].n);
		memcpy(cp.hash, r->hash, sizeof(cp.hash));
		snprintf(cp.key_id, sizeof(cp.key_id), "%s",
			 mw_signer_key_id(signer));
		n = mw_chain_checkpoint_message(msg, sizeof(msg), cp.host,
						cp.seq, cp.hash);
		if (n < 0 ||
		    mw_signer_sign(signer, msg, (size_t)n, cp.signature))
			abort();
		c->signed_++;
		if (mw_verify_add_checkpoint(v, &cp, err, sizeof(err)))
			abort();
	}
	for (size_t i = 0; i < c->n; i++) {
		struct mw_chain_value h = { c->rows[i].hash, 64 };

		if (mw_verify_row(v, c->rows[i].f, &h, err, sizeof(err)))
			abort();
	}
	fuzz_check_report(v, true);
	if (c->proper && !mw_verify_ok(v))
		abort(); /* a proper chain reported broken */
	mw_verify_free(v);
	free(text);
	free(c);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (!size)
		return 0;
	switch (data[0]) {
	case 0:
		one_copy_line(data + 1, size - 1);
		break;
	case 1:
		one_jsonl_line(data + 1, size - 1);
		break;
	case 2:
		one_checkpoint_line(data + 1, size - 1);
		break;
	case 3:
		mixed(data + 1, size - 1);
		break;
	default:
		chain(data + 1, size - 1);
	}
	return 0;
}
