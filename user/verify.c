// SPDX-License-Identifier: BSD-2-Clause
/*
 * The audit trail verifier: a state machine per host fed one row at a
 * time (verify.h says what is checked and how breaks are classified).
 *
 * Per host it keeps what the next row is checked against: the stored
 * hashes of the rows at the last seq (and at the one before, for a
 * repeated seq), the recomputed hash of the last row, its ts_us, whether
 * it was clean (verified at its own seq). A row whose content does not
 * hash to its stored hash is hashed again with seq +-1..16 (the offset
 * found last tried first, so that a renumbered run costs two hashes a
 * row): a match at a higher seq is held as pending, to become "reordered"
 * when a row verifying at a lower seq follows within 16 seqs and
 * "deleted" otherwise. A broken row explains the failure of the next
 * row's link to it and of a checkpoint of its own seq: they are not
 * counted again. Nothing else explains a checkpoint's mismatch.
 *
 * File checkpoints are sorted by (host, seq) once, before the first row,
 * and merged with the rows: each is resolved (matched, mismatched, or
 * never seen) when the rows pass its seq, those left at the end of a host
 * prove the tail deleted.
 */
#include "verify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "digest.h"
#include "fdio.h"
#include "log.h"
#include "pgcopy.h"

#define GROUP_MAX 4 /* stored hashes kept of rows sharing one seq */
#define UNDIAGNOSED_MAX 256 /* then only the last offset found is tried */
#define ESC_MAX 48 /* bytes of a hostile value quoted in a detail */
#define READ_CHUNK (64u << 10)
#define CHECKPOINT_KIND "checkpoint"
#define DAEMON_START_KIND "daemon_start"
#define INVALID_HOST_NAME "(rows and lines without a usable host)"

/*
 * A file checkpoint, its signature checked; resolved against the rows.
 * CP_MATCHED: a row at its seq hashes to the signed hash and links to the
 * recomputed hash of the event before. CP_BROKEN_ROW: no such row, and
 * the row at its seq is itself a break (modified, malformed, renumbered,
 * repeated) or does not link: that break does not vouch for the events
 * before it.
 */
enum cp_state {
	CP_UNSEEN,
	CP_SEEN,
	CP_BROKEN_ROW,
	CP_MATCHED,
	CP_BEFORE_CHAIN /* before its whole chain: judged at the end */
};

struct fcp {
	uint64_t seq;
	uint64_t checkpoint_seq; /* the checkpoint event's; 0: not given */
	int64_t ts_us; /* the checkpoint event's ts; 0: not given */
	uint32_t host;
	uint8_t state;
	bool packaged; /* a line of the package's own checkpoints.jsonl */
	char hash[MW_CHAIN_HASH_HEX];
	char sig[MW_SIGN_B64_LEN]; /* verified */
};

enum run_kind { RUN_NONE, RUN_PENDING, RUN_REORDERED, RUN_INSERTED };

struct hstate {
	struct mw_verify_host r;
	size_t name_len;
	uint32_t idx; /* in mw_verify.hosts */
	bool rows_seen;
	/* the chain up to the last row taken in */
	bool have_prev;
	uint64_t grp_seq, pgrp_seq; /* the last seq, the one before */
	int ngrp, npgrp;
	char grp[GROUP_MAX][MW_CHAIN_HASH_HEX];
	char pgrp[GROUP_MAX][MW_CHAIN_HASH_HEX];
	char prev_computed[MW_CHAIN_HASH_HEX]; /* at prev_real */
	bool prev_computed_ok;
	uint64_t prev_real; /* the seq the last row verified at */
	int64_t prev_ts;
	bool prev_ts_ok;
	int64_t first_ts; /* of the first row, when first_ts_ok */
	bool first_ts_ok;
	bool prev_clean;
	/* the recomputed hash of the last row of the seq before grp_seq */
	char before_computed[MW_CHAIN_HASH_HEX];
	bool before_computed_ok;
	uint64_t before_real;
	bool grp_first; /* grp_seq is the chain's first seq */
	/* the recomputed hashes of the rows at grp_seq that verified at it
	 * and link to the recomputed hash of the event before */
	int nvouched;
	char vouched[GROUP_MAX][MW_CHAIN_HASH_HEX];
	/* renumbering diagnosis */
	int last_delta;
	unsigned undiagnosed;
	enum run_kind run;
	int run_delta;
	uint64_t run_last;
	bool pending;
	uint64_t pend_seq, pend_last;
	int pend_delta;
	/* checkpoints */
	/* a checkpoint matched, or its mismatch was recorded: events up to
	 * good_covered are accounted for */
	bool have_good;
	uint64_t good_covered;
	size_t cp_begin, cp_end, cp_cur;
	uint64_t first_db_cp_seq; /* the first checkpoint event; 0: none */
	uint64_t last_cp_row; /* the last checkpoint verified; 0: none */
	uint64_t last_start_noted; /* start_after_unsigned's last start */
	bool prefix_deleted; /* a deletion before first_seq recorded */
	/* the range a package's manifest says it holds of the host */
	bool expected;
	uint64_t exp_first, exp_last;
};

struct mw_verify {
	const struct mw_sign_pub *pub;
	char key_id[MW_SIGN_KEY_ID_LEN];
	struct hstate **hosts;
	size_t nhosts, caphosts;
	uint32_t *table; /* open addressing: host index + 1, 0 empty */
	size_t tcap;
	struct hstate *cur;
	struct hstate *invalid;
	struct fcp *cps;
	size_t ncps, capcps;
	bool cp_file_missing; /* the file of cp_file_host's daemon */
	/* a checkpoint file ended in a line not written whole (a crash, a
	 * full disk): ignored, as the daemon cuts it at its next start */
	bool cp_file_torn;
	char cp_file_host[MW_VERIFY_HOST_MAX];
	bool whole_chains; /* the database, not a package's window */
	bool packaged_lines; /* lines added now are a package's own */
	bool have_ranges; /* a manifest gave the hosts' ranges */
	/* what is wrong with a package as a whole (its manifest, its files) */
	uint64_t pkg_problems; /* of the source as a whole */
	const char *problem_source; /* "package" or "database" */
	size_t npkg_details;
	char pkg_details[MW_VERIFY_MAX_DETAILS][MW_VERIFY_DETAIL_LEN];
	/* the days its partitions hold: disjoint, sorted */
	struct mw_verify_days *kept;
	size_t nkept;
	int64_t undropped_from; /* no day from it on was dropped */
	/* days of rows no partition's range holds (in the default
	 * partition, which retention never empties): sorted */
	int64_t *dflt_days;
	size_t ndflt, capdflt;
	bool dflt_full;
	bool rows_started, finished;
	size_t *order;
};

static const char *const class_names[MW_VB_N] = {
	[MW_VB_MODIFIED] = "modified",
	[MW_VB_REORDERED] = "reordered",
	[MW_VB_DELETED] = "deleted",
	[MW_VB_INSERTED] = "inserted",
	[MW_VB_REWRITTEN] = "rewritten",
	[MW_VB_BAD_SIGNATURE] = "bad_signature",
	[MW_VB_MISSING_CHECKPOINT] = "missing_checkpoint",
	[MW_VB_MALFORMED] = "malformed",
};

const char *mw_verify_class_name(enum mw_verify_class c)
{
	return (unsigned)c < MW_VB_N ? class_names[c] : "?";
}

/* ---- small helpers ---- */

const char *mw_verify_escape(const char *s, size_t n, size_t max, char *out,
			     size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t w = 0;

	if (!s) {
		snprintf(out, outlen, "NULL");
		return out;
	}
	for (size_t i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (w + 5 >= outlen)
			break;
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			out[w++] = (char)c;
		} else {
			out[w++] = '\\';
			out[w++] = 'x';
			out[w++] = hex[c >> 4];
			out[w++] = hex[c & 15];
		}
	}
	if (n > max && w + 4 < outlen) {
		memcpy(out + w, "...", 3);
		w += 3;
	}
	out[w] = '\0';
	return out;
}

#define ESC_BUF (ESC_MAX * 4 + 8)
#define ESCV(v, buf) mw_verify_escape((v)->s, (v)->n, ESC_MAX, buf, sizeof(buf))

/* The hash of f with its seq replaced by seq. */

/*
 * A detail as the report shows it: printable ASCII. Text the inputs chose
 * (a name in the database, a parse error quoting a line) is escaped where
 * it is put in; what is left here is a byte no caller expected, written
 * \xNN so that no input drives the auditor's terminal.
 */
static void set_detail(char *out, size_t outlen, const char *fmt, va_list ap)
{
	static const char hex[] = "0123456789abcdef";
	char raw[MW_VERIFY_DETAIL_LEN];
	size_t w = 0;

	vsnprintf(raw, sizeof(raw), fmt, ap);
	for (const unsigned char *p = (const unsigned char *)raw; *p; p++) {
		if (*p >= 0x20 && *p < 0x7f) {
			if (w + 1 >= outlen)
				break;
			out[w++] = (char)*p;
			continue;
		}
		if (w + 4 >= outlen)
			break;
		out[w++] = '\\';
		out[w++] = 'x';
		out[w++] = hex[*p >> 4];
		out[w++] = hex[*p & 15];
	}
	out[w] = '\0';
}

static int hash_at(const struct mw_chain_value f[MW_CF_N], uint64_t seq,
		   char out[MW_CHAIN_HASH_HEX])
{
	struct mw_chain_value g[MW_CF_N];
	char num[24];
	int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)seq);

	memcpy(g, f, sizeof(g));
	g[MW_CF_SEQ].s = num;
	g[MW_CF_SEQ].n = (size_t)n;
	return mw_chain_hash(g, out);
}

/* ---- breaks ---- */

/* Records a break. The same class at the same seq is recorded once. */
__attribute__((format(printf, 5, 6))) static void
record(struct hstate *h, enum mw_verify_class cls, uint64_t seq,
       uint64_t seq_end, const char *fmt, ...)
{
	struct mw_verify_host *r = &h->r;
	struct mw_verify_break *b;
	size_t pos;
	va_list ap;

	for (size_t i = 0; i < r->ndetails; i++)
		if (r->details[i].cls == cls && r->details[i].seq == seq)
			return;
	if (seq_end < seq)
		seq_end = seq;
	r->breaks++;
	r->by_class[cls]++;
	for (pos = r->ndetails; pos && r->details[pos - 1].seq > seq; pos--)
		;
	if (pos >= MW_VERIFY_MAX_DETAILS)
		return;
	if (r->ndetails == MW_VERIFY_MAX_DETAILS)
		r->ndetails--;
	memmove(&r->details[pos + 1], &r->details[pos],
		(r->ndetails - pos) * sizeof(r->details[0]));
	r->ndetails++;
	b = &r->details[pos];
	b->cls = cls;
	b->seq = seq;
	b->seq_end = seq_end;
	va_start(ap, fmt);
	set_detail(b->detail, sizeof(b->detail), fmt, ap);
	va_end(ap);
}

/* ---- hosts ---- */

static uint64_t name_hash(const char *s, size_t n)
{
	uint64_t x = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		x = (x ^ (unsigned char)s[i]) * 1099511628211ull;
	return x;
}

static int table_grow(struct mw_verify *v)
{
	size_t ncap = v->tcap ? v->tcap * 2 : 64;
	uint32_t *t = calloc(ncap, sizeof(*t));

	if (!t)
		return -1;
	for (size_t i = 0; i < v->nhosts; i++) {
		struct hstate *h = v->hosts[i];
		size_t k;

		if (h->r.invalid)
			continue;
		k = name_hash(h->r.name, h->name_len) & (ncap - 1);
		while (t[k])
			k = (k + 1) & (ncap - 1);
		t[k] = (uint32_t)i + 1;
	}
	free(v->table);
	v->table = t;
	v->tcap = ncap;
	return 0;
}

static struct hstate *host_new(struct mw_verify *v, const char *name, size_t n,
			       bool invalid, char *err, size_t errlen)
{
	struct hstate *h;

	if (v->nhosts >= MW_VERIFY_MAX_HOSTS) {
		mw_set_err(err, errlen, "more than %d hosts",
			   MW_VERIFY_MAX_HOSTS);
		return NULL;
	}
	if (v->nhosts == v->caphosts) {
		size_t ncap = v->caphosts ? v->caphosts * 2 : 16;
		struct hstate **nh = realloc(v->hosts, ncap * sizeof(*nh));

		if (!nh)
			goto oom;
		v->hosts = nh;
		v->caphosts = ncap;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		goto oom;
	memcpy(h->r.name, name, n);
	h->r.name[n] = '\0';
	h->name_len = n;
	h->r.invalid = invalid;
	h->idx = (uint32_t)v->nhosts;
	v->hosts[v->nhosts++] = h;
	return h;
oom:
	mw_set_err(err, errlen, "out of memory");
	return NULL;
}

/*
 * The state of host name (n bytes), created when new; a name that cannot
 * be a host's (NULL, empty, too long, with a NUL byte) gets the invalid
 * entry. NULL with err when a new host is one too many.
 */
static struct hstate *host_of(struct mw_verify *v, const char *name, size_t n,
			      char *err, size_t errlen)
{
	struct hstate *h = v->cur;
	size_t k;

	if (!name || !n || n >= MW_VERIFY_HOST_MAX || memchr(name, 0, n)) {
		if (!v->invalid)
			v->invalid = host_new(v, "", 0, true, err, errlen);
		return v->invalid;
	}
	if (h && !h->r.invalid && h->name_len == n &&
	    !memcmp(h->r.name, name, n))
		return h;
	if ((v->nhosts + 1) * 2 > v->tcap && table_grow(v)) {
		mw_set_err(err, errlen, "out of memory");
		return NULL;
	}
	k = name_hash(name, n) & (v->tcap - 1);
	while (v->table[k]) {
		h = v->hosts[v->table[k] - 1];
		if (h->name_len == n && !memcmp(h->r.name, name, n))
			return h;
		k = (k + 1) & (v->tcap - 1);
	}
	h = host_new(v, name, n, false, err, errlen);
	if (h)
		v->table[k] = (uint32_t)v->nhosts;
	return h;
}

/* ---- lifecycle ---- */

int mw_verify_new(struct mw_verify **out, const struct mw_sign_pub *pub,
		  char *err, size_t errlen)
{
	struct mw_verify *v;
	const char *id = pub ? mw_sign_pub_key_id(pub) : NULL;

	if (!id) {
		mw_set_err(err, errlen, "no public key to verify with");
		return -1;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		mw_set_err(err, errlen, "out of memory");
		return -1;
	}
	v->pub = pub;
	snprintf(v->key_id, sizeof(v->key_id), "%s", id);
	*out = v;
	return 0;
}

void mw_verify_free(struct mw_verify *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->nhosts; i++)
		free(v->hosts[i]);
	free(v->hosts);
	free(v->table);
	free(v->cps);
	free(v->order);
	free(v->kept);
	free(v->dflt_days);
	free(v);
}

/* ---- file checkpoints ---- */

static bool sig_checks(const struct mw_verify *v, const char *host,
		       uint64_t seq, const char *hash, const char *sig)
{
	char msg[MW_VERIFY_HOST_MAX + 160];
	int n = mw_chain_checkpoint_message(msg, sizeof(msg), host, seq, hash);

	return n > 0 && strlen(sig) < MW_SIGN_B64_LEN &&
	       mw_sign_pub_verify(v->pub, msg, (size_t)n, sig);
}

static int json_uint(json_t *j, const char *key, bool required, uint64_t *out)
{
	json_t *x = json_object_get(j, key);

	if (!x)
		return required ? -1 : 0;
	if (!json_is_integer(x) || json_integer_value(x) < 1)
		return -1;
	*out = (uint64_t)json_integer_value(x);
	return 0;
}

/* A string of at most max bytes, without NUL, copied to out. */
static int json_str(json_t *j, const char *key, char *out, size_t outlen)
{
	json_t *x = json_object_get(j, key);
	const char *s = json_string_value(x);
	size_t n = json_string_length(x);

	if (!s || n >= outlen || strlen(s) != n)
		return -1;
	memcpy(out, s, n + 1);
	return 0;
}

int mw_verify_parse_checkpoint(const char *line, size_t len,
			       struct mw_verify_cp *out, char *err,
			       size_t errlen)
{
	json_error_t jerr;
	json_t *j, *ts;
	const char *bad = NULL;

	memset(out, 0, sizeof(*out));
	if (len > MW_VERIFY_CP_LINE_MAX) {
		mw_set_err(err, errlen, "longer than %d bytes",
			   MW_VERIFY_CP_LINE_MAX);
		return -1;
	}
	if (len && line[len - 1] == '\n')
		len--;
	j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		mw_set_err(err, errlen, "not JSON: %s", jerr.text);
		return -1;
	}
	ts = json_object_get(j, "ts_us");
	if (!json_is_object(j))
		bad = "not a JSON object";
	else if (json_str(j, "host", out->host, sizeof(out->host)) ||
		 !out->host[0])
		bad = "host: not a host name";
	else if (json_uint(j, "seq", true, &out->seq))
		bad = "seq: not a positive integer";
	else if (json_str(j, "hash", out->hash, sizeof(out->hash)) ||
		 !mw_chain_is_hash(out->hash, strlen(out->hash)))
		bad = "hash: not 64 lowercase hex digits";
	else if (json_str(j, "key_id", out->key_id, sizeof(out->key_id)))
		bad = "key_id: not a key id";
	else if (json_str(j, "signature", out->signature,
			  sizeof(out->signature)))
		bad = "signature: not a signature";
	else if (json_uint(j, "checkpoint_seq", false, &out->checkpoint_seq))
		bad = "checkpoint_seq: not a positive integer";
	else if (ts && !json_is_integer(ts))
		bad = "ts_us: not an integer";
	if (!bad && ts)
		out->ts_us = (int64_t)json_integer_value(ts);
	json_decref(j);
	if (bad) {
		mw_set_err(err, errlen, "%s", bad);
		return -1;
	}
	return 0;
}

int mw_verify_add_checkpoint(struct mw_verify *v, const struct mw_verify_cp *cp,
			     char *err, size_t errlen)
{
	struct hstate *h;
	struct fcp *c;
	char buf[ESC_BUF];

	if (v->rows_started) {
		mw_set_err(err, errlen,
			   "file checkpoints must come before the rows");
		return -1;
	}
	h = host_of(v, cp->host, strnlen(cp->host, sizeof(cp->host)), err,
		    errlen);
	if (!h)
		return -1;
	if (h->r.invalid) {
		record(h, MW_VB_MALFORMED, 0, 0,
		       "a file checkpoint names no usable host");
		return 0;
	}
	if (strcmp(cp->key_id, v->key_id)) {
		h->r.file_cp_failed++;
		record(h, MW_VB_BAD_SIGNATURE, cp->seq, cp->seq,
		       "the file checkpoint for seq %llu is signed by key "
		       "%s, not by %s",
		       (unsigned long long)cp->seq,
		       mw_verify_escape(cp->key_id, strlen(cp->key_id), ESC_MAX,
					buf, sizeof(buf)),
		       v->key_id);
		return 0;
	}
	if (!mw_chain_is_hash(cp->hash, strnlen(cp->hash, sizeof(cp->hash))) ||
	    !sig_checks(v, h->r.name, cp->seq, cp->hash, cp->signature)) {
		h->r.file_cp_failed++;
		record(h, MW_VB_BAD_SIGNATURE, cp->seq, cp->seq,
		       "the signature of the file checkpoint for seq %llu "
		       "does not verify",
		       (unsigned long long)cp->seq);
		return 0;
	}
	if (v->ncps == v->capcps) {
		size_t ncap = v->capcps ? v->capcps * 2 : 64;
		struct fcp *n = realloc(v->cps, ncap * sizeof(*n));

		if (!n) {
			mw_set_err(err, errlen, "out of memory");
			return -1;
		}
		v->cps = n;
		v->capcps = ncap;
	}
	c = &v->cps[v->ncps++];
	memset(c, 0, sizeof(*c));
	c->seq = cp->seq;
	c->checkpoint_seq = cp->checkpoint_seq;
	c->ts_us = cp->ts_us;
	c->host = h->idx;
	c->state = CP_UNSEEN;
	c->packaged = v->packaged_lines;
	memcpy(c->hash, cp->hash, sizeof(c->hash));
	memcpy(c->sig, cp->signature, sizeof(c->sig));
	return 0;
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return false;
	return true;
}

/* An input line that does not parse; row when it stood for an event. */
static int bad_line(struct mw_verify *v, const char *what, uint64_t lineno,
		    const char *why, bool row, char *err, size_t errlen)
{
	struct hstate *h = host_of(v, NULL, 0, err, errlen);

	if (!h)
		return -1;
	if (row)
		h->r.events++;
	if (lineno)
		record(h, MW_VB_MALFORMED, 0, 0, "%s line %llu: %s", what,
		       (unsigned long long)lineno, why);
	else
		record(h, MW_VB_MALFORMED, 0, 0, "%s: %s", what, why);
	return 0;
}

int mw_verify_checkpoint_line(struct mw_verify *v, const char *line, size_t len,
			      uint64_t lineno, char *err, size_t errlen)
{
	struct mw_verify_cp cp;
	char why[256];

	if (blank(line, len))
		return 0;
	if (mw_verify_parse_checkpoint(line, len, &cp, why, sizeof(why)))
		return bad_line(v, "checkpoint file", lineno, why, false, err,
				errlen);
	return mw_verify_add_checkpoint(v, &cp, err, errlen);
}

static int cp_cmp(const void *a, const void *b)
{
	const struct fcp *x = a, *y = b;

	if (x->host != y->host)
		return x->host < y->host ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return memcmp(x->hash, y->hash, sizeof(x->hash));
}

/*
 * In a package, a line of a checkpoint file given besides the package's
 * own (a copy of the daemon's whole file) that vouches for an event
 * outside the range the manifest gives its host, or for a host the
 * manifest does not list: the package does not hold that event and is not
 * meant to, so the line says nothing about it. The package's own lines
 * are all checked: the export writes none outside its ranges.
 */
static bool outside_package(const struct mw_verify *v, const struct fcp *c)
{
	const struct hstate *h = v->hosts[c->host];

	if (!v->have_ranges || c->packaged)
		return false;
	return !h->expected || c->seq < h->exp_first || c->seq > h->exp_last;
}

/* Sorts the file checkpoints (duplicates and those outside a package's
 * ranges dropped) and gives each host its range of them. */
static void start_rows(struct mw_verify *v)
{
	size_t n = 0;

	v->rows_started = true;
	for (size_t i = 0; i < v->ncps; i++) {
		if (outside_package(v, &v->cps[i]))
			v->hosts[v->cps[i].host]->r.file_cp_outside++;
		else
			v->cps[n++] = v->cps[i];
	}
	v->ncps = n;
	n = 0;
	if (v->ncps)
		qsort(v->cps, v->ncps, sizeof(*v->cps), cp_cmp);
	for (size_t i = 0; i < v->ncps; i++) {
		if (!n || cp_cmp(&v->cps[n - 1], &v->cps[i]))
			v->cps[n++] = v->cps[i];
		else if (v->cps[i].packaged)
			/* the package's own line, given again in the file */
			v->cps[n - 1].packaged = true;
	}
	v->ncps = n;
	for (size_t i = 0; i < v->ncps;) {
		struct hstate *h = v->hosts[v->cps[i].host];

		h->cp_begin = h->cp_cur = i;
		while (i < v->ncps && v->hosts[v->cps[i].host] == h)
			i++;
		h->cp_end = i;
	}
}

/* ---- checkpoint matching ---- */

/* Events up to covered are vouched for by a checkpoint. */
static void good(struct hstate *h, uint64_t covered)
{
	if (!h->have_good || covered > h->good_covered)
		h->good_covered = covered;
	h->have_good = true;
}

/*
 * A checkpoint signed another hash for seq covered than the recomputed
 * one, or the row that has that hash does not link to the event before.
 * The recomputed hash of a row covers its own stored prev_hash, so no
 * break before it changes that hash: when the row at covered is clean
 * (row_broken false), the chain up to it was recomputed, a break of its
 * own even after others. When it is itself a break (modified, malformed,
 * repeated, not linking), that break is recorded already, but it does
 * not explain the mismatch away: it is what a rewriter leaves who
 * recomputed the events before it and kept the signed row's stored hash
 * so that the events after it still link. Nothing then vouches for the
 * events since the last matching checkpoint: they are named as rewritten
 * up to the one before covered. Either way the events up to covered are
 * accounted for, so that a later mismatch names its own range.
 */
static void cp_mismatch(struct hstate *h, uint64_t covered, bool row_broken,
			const char *what)
{
	uint64_t from, to = row_broken ? covered - 1 : covered;

	from = h->have_good ? h->good_covered + 1
			    : (h->r.first_seq ? h->r.first_seq : 1);
	if (row_broken && from <= to)
		record(h, MW_VB_REWRITTEN, from, to,
		       "events %llu-%llu rewritten: %s vouches for seq "
		       "%llu, whose row is broken or missing, so that "
		       "nothing vouches for the events before it",
		       (unsigned long long)from, (unsigned long long)to, what,
		       (unsigned long long)covered);
	else if (!row_broken)
		record(h, MW_VB_REWRITTEN, from > to ? to : from, to,
		       "events %llu-%llu rewritten: %s signed another hash "
		       "for seq %llu than the recomputed one (the chain "
		       "links: it was recomputed)",
		       (unsigned long long)(from > to ? to : from),
		       (unsigned long long)to, what,
		       (unsigned long long)covered);
	if (row_broken)
		good(h, covered);
}

static int64_t utc_day(int64_t ts_us)
{
	const int64_t day = 86400LL * 1000000LL;

	return ts_us >= 0 ? ts_us / day : -((-ts_us + day - 1) / day);
}

static bool day_kept(const struct mw_verify *v, int64_t day)
{
	size_t lo = 0, hi = v->nkept;

	/* the first range ending after day */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->kept[mid].hi <= day)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->nkept && v->kept[lo].lo <= day;
}

static bool day_in_default(const struct mw_verify *v, int64_t day)
{
	size_t lo = 0, hi = v->ndflt;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->dflt_days[mid] < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->ndflt && v->dflt_days[lo] == day;
}

static int i64_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Sorts the default partition's days, each once (for day_in_default). */
static void compact_default_days(struct mw_verify *v)
{
	size_t n = 0;

	if (v->ndflt)
		qsort(v->dflt_days, v->ndflt, sizeof(*v->dflt_days), i64_cmp);
	for (size_t i = 0; i < v->ndflt; i++)
		if (!n || v->dflt_days[n - 1] != v->dflt_days[i])
			v->dflt_days[n++] = v->dflt_days[i];
	v->ndflt = n;
}

/*
 * Notes the day of a row of the database that no partition's range
 * holds: it sits in the default partition. Such a day never had a daily
 * partition (one cannot be made over rows of the default partition), and
 * retention only drops daily partitions: it took no event of that day.
 * Appended (rows come by host, each host's days in order), sorted at the
 * end. Bounded: once MW_VERIFY_MAX_DEFAULT_DAYS / 2 distinct days are
 * noted, later ones are not (a deletion on them then passes for
 * retention, as it did before days were noted).
 */
static void note_row_day(struct mw_verify *v, int64_t ts)
{
	int64_t day = utc_day(ts);

	if (!v->whole_chains || v->dflt_full ||
	    (v->ndflt && v->dflt_days[v->ndflt - 1] == day) || day_kept(v, day))
		return;
	if (v->ndflt == MW_VERIFY_MAX_DEFAULT_DAYS) {
		compact_default_days(v);
		if (v->ndflt > MW_VERIFY_MAX_DEFAULT_DAYS / 2) {
			v->dflt_full = true;
			return;
		}
	}
	if (v->ndflt == v->capdflt) {
		size_t ncap = v->capdflt ? v->capdflt * 2 : 64;
		int64_t *n = realloc(v->dflt_days, ncap * sizeof(*n));

		if (!n) {
			v->dflt_full = true; /* as past the bound */
			return;
		}
		v->dflt_days = n;
		v->capdflt = ncap;
	}
	v->dflt_days[v->ndflt++] = day;
}

/*
 * Whether retention cannot have taken the events of day: its partition
 * is there; or it is not before the first day a daily partition left
 * is named for (retention drops, by name, every daily partition before
 * its cutoff, so it dropped none of the days from there on, whatever
 * partition they were in); or other rows of it sit in the default
 * partition, which retention never empties.
 */
static bool day_not_retired(const struct mw_verify *v, int64_t day)
{
	return day_kept(v, day) || day >= v->undropped_from ||
	       day_in_default(v, day);
}

/*
 * A file checkpoint before a whole chain's first event: retention, which
 * drops the daily partitions before a day, or a deletion. The file gives
 * the day of the checkpoint's own event; when that event is gone but its
 * day's partition is still there, or its day is the chain's first event's
 * (retention takes whole days, that one's too), retention did not take
 * it: the chain's start was deleted. Recorded once per host. Whether it
 * was (the file's checkpoint is counted as failed).
 */
static bool deleted_not_retired(struct mw_verify *v, struct hstate *h,
				struct fcp *c)
{
	char day[32];
	time_t t;
	struct tm tm;
	bool same_day;

	if (!v->whole_chains || !c->ts_us || !c->checkpoint_seq ||
	    c->checkpoint_seq >= h->r.first_seq)
		return false;
	same_day = h->first_ts_ok && utc_day(c->ts_us) >= utc_day(h->first_ts);
	if (!same_day && !day_not_retired(v, utc_day(c->ts_us)))
		return false;
	h->r.file_cp_failed++;
	if (h->prefix_deleted)
		return true;
	h->prefix_deleted = true;
	t = (time_t)(utc_day(c->ts_us) * 86400);
	if (!gmtime_r(&t, &tm) || !strftime(day, sizeof(day), "%Y-%m-%d", &tm))
		snprintf(day, sizeof(day), "?");
	record(h, MW_VB_DELETED, c->checkpoint_seq, h->r.first_seq - 1,
	       "events before seq %llu deleted: the checkpoint file holds the "
	       "checkpoint at seq %llu, made on %s, %s",
	       (unsigned long long)h->r.first_seq,
	       (unsigned long long)c->checkpoint_seq, day,
	       same_day ? "the day of the chain's first event (retention "
			  "drops whole days)"
			: "a day retention has not dropped");
	return true;
}

/*
 * A line of a package's checkpoints.jsonl before the package's first event
 * of its host: the export writes only lines of events it holds, so events
 * were deleted from the package's start. Recorded once per host.
 */
static void deleted_from_package(struct hstate *h, const struct fcp *c)
{
	h->r.file_cp_failed++;
	if (h->prefix_deleted)
		return;
	h->prefix_deleted = true;
	record(h, MW_VB_DELETED, c->seq, h->r.first_seq - 1,
	       "events before seq %llu deleted: the package's checkpoint "
	       "lines vouch for seq %llu, which it does not hold",
	       (unsigned long long)h->r.first_seq, (unsigned long long)c->seq);
}

static void resolve_cp(struct hstate *h, struct fcp *c)
{
	switch (c->state) {
	case CP_MATCHED:
		h->r.file_cp_ok++;
		good(h, c->seq);
		break;
	case CP_SEEN:
	case CP_BROKEN_ROW:
		h->r.file_cp_failed++;
		cp_mismatch(h, c->seq, c->state == CP_BROKEN_ROW,
			    "the checkpoint file");
		break;
	default:
		if (h->r.first_seq && c->seq < h->r.first_seq && c->packaged) {
			deleted_from_package(h, c);
			break;
		}
		if (h->r.first_seq && c->seq < h->r.first_seq) {
			/* the days of the default partition are known once
			 * every row was read */
			c->state = CP_BEFORE_CHAIN;
			break;
		}
		h->r.file_cp_failed++;
		record(h, MW_VB_MISSING_CHECKPOINT, c->seq, c->seq,
		       "the checkpoint file vouches for seq %llu, which the "
		       "database does not hold",
		       (unsigned long long)c->seq);
		/* a row gone is no better an alibi than a row broken */
		cp_mismatch(h, c->seq, true, "the checkpoint file");
	}
}

/* Resolves the file checkpoints of seqs below seq. */
static void advance_cps(struct mw_verify *v, struct hstate *h, uint64_t seq)
{
	while (h->cp_cur < h->cp_end && v->cps[h->cp_cur].seq < seq)
		resolve_cp(h, &v->cps[h->cp_cur++]);
}

/*
 * A row at seq whose recomputed hash is computed (NULL: unknown); clean:
 * it verified at its own seq; links: its prev_hash is the recomputed hash
 * of the event before. A row with the signed hash that does not link
 * vouches for itself only: it is a broken row for the checkpoint.
 */
static void mark_cps(struct mw_verify *v, struct hstate *h, uint64_t seq,
		     const char *computed, bool clean, bool links)
{
	for (size_t i = h->cp_cur; i < h->cp_end && v->cps[i].seq == seq; i++) {
		struct fcp *c = &v->cps[i];
		bool same = computed && !strcmp(computed, c->hash);

		/* a row repeating the seq after the one the checkpoint
		 * signed is a break of its own (inserted), and the signed
		 * row still vouches for the events before it */
		if (c->state == CP_MATCHED)
			continue;
		if (same && links)
			c->state = CP_MATCHED;
		else if (!clean || same)
			c->state = CP_BROKEN_ROW;
		else if (c->state == CP_UNSEEN)
			c->state = CP_SEEN;
	}
}

/*
 * Whether the file holds this very checkpoint (seq, hash, signature), its
 * signature verified already: the same statement is not verified twice.
 */
static bool known_signed(const struct mw_verify *v, const struct hstate *h,
			 uint64_t seq, const char *hash, const char *sig)
{
	size_t lo = h->cp_begin, hi = h->cp_end;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->cps[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < h->cp_end && v->cps[lo].seq == seq; lo++)
		if (!strcmp(v->cps[lo].hash, hash) &&
		    !strcmp(v->cps[lo].sig, sig))
			return true;
	return false;
}

/* "the checkpoint at seq N", in what (64 bytes), for details. */
static const char *what_cp(char what[64], uint64_t seq)
{
	snprintf(what, 64, "the checkpoint at seq %llu",
		 (unsigned long long)seq);
	return what;
}

/* Whether a row at seq has the recomputed hash and links to the event
 * before it. */
static bool vouched(const struct hstate *h, uint64_t seq, const char *hash)
{
	if (!h->have_prev || h->grp_seq != seq)
		return false;
	for (int i = 0; i < h->nvouched; i++)
		if (!strcmp(hash, h->vouched[i]))
			return true;
	return false;
}

/* A checkpoint event at seq (verifying at real), its params: true when it
 * verified (counted in db_cp_ok). */
static bool db_checkpoint(struct mw_verify *v, struct hstate *h,
			  const struct mw_chain_value *params, uint64_t seq,
			  uint64_t real)
{
	uint64_t ok_before = h->r.db_cp_ok;
	const char *bad = NULL, *hash, *key_id, *sig;
	json_t *j = NULL, *js;
	json_error_t jerr;
	char buf[ESC_BUF], what[64];
	uint64_t covered;

	if (!h->first_db_cp_seq)
		h->first_db_cp_seq = seq;
	if (params->s)
		j = json_loadb(params->s, params->n, JSON_REJECT_DUPLICATES,
			       &jerr);
	js = json_object_get(j, "seq");
	hash = json_string_value(json_object_get(j, "hash"));
	key_id = json_string_value(json_object_get(j, "key_id"));
	sig = json_string_value(json_object_get(j, "signature"));
	if (!json_is_object(j))
		bad = "are not a JSON object";
	else if (!json_is_integer(js) || json_integer_value(js) < 0)
		bad = "have no seq";
	else if (!hash || !mw_chain_is_hash(hash, strlen(hash)))
		bad = "have no hash";
	else if (!key_id || !sig)
		bad = "have no key_id or signature";
	if (bad) {
		h->r.db_cp_failed++;
		record(h, MW_VB_MALFORMED, seq, seq,
		       "the checkpoint's params %s", bad);
		goto out;
	}
	covered = (uint64_t)json_integer_value(js);
	if (strcmp(key_id, v->key_id)) {
		h->r.db_cp_failed++;
		record(h, MW_VB_BAD_SIGNATURE, seq, seq,
		       "the checkpoint is signed by key %s, not by %s",
		       mw_verify_escape(key_id, strlen(key_id), ESC_MAX, buf,
					sizeof(buf)),
		       v->key_id);
		goto out;
	}
	if (!known_signed(v, h, covered, hash, sig) &&
	    !sig_checks(v, h->r.name, covered, hash, sig)) {
		h->r.db_cp_failed++;
		record(h, MW_VB_BAD_SIGNATURE, seq, seq,
		       "the checkpoint's signature does not verify");
		goto out;
	}
	if (covered != real - 1) {
		h->r.db_cp_failed++;
		record(h, MW_VB_MALFORMED, seq, seq,
		       "the checkpoint at seq %llu covers seq %llu, not %llu",
		       (unsigned long long)real, (unsigned long long)covered,
		       (unsigned long long)(real - 1));
		goto out;
	}
	/* the event before is not there (retention, a gap): the signature
	 * is all that can be checked */
	if (!h->have_prev || h->prev_real != covered) {
		h->r.db_cp_ok++;
		/* a gap: the events before it are vouched for by nothing,
		 * as behind a broken row (cp_mismatch) */
		if (h->have_prev && h->prev_real < covered)
			cp_mismatch(h, covered, true, what_cp(what, seq));
		goto out;
	}
	/* a renumbered event before (prev_real is not its seq): that break
	 * is named already, and its hash at its real seq is what is signed */
	if (vouched(h, covered, hash) ||
	    (h->prev_real != h->grp_seq && h->prev_computed_ok &&
	     !strcmp(hash, h->prev_computed))) {
		h->r.db_cp_ok++;
		if (real == seq)
			good(h, covered);
		goto out;
	}
	h->r.db_cp_failed++;
	cp_mismatch(h, covered,
		    !h->prev_clean || !h->prev_computed_ok ||
			    !strcmp(hash, h->prev_computed),
		    what_cp(what, seq));
out:
	json_decref(j);
	return h->r.db_cp_ok > ok_before;
}

/* ---- the chain ---- */

enum link { LINK_UNKNOWN, LINK_OK, LINK_BAD };

/* Whether prev_hash (64 hex) links row seq to the event before. */
static enum link link_of(const struct hstate *h, uint64_t seq,
			 const char *prev_hash)
{
	const char(*g)[MW_CHAIN_HASH_HEX];
	int n;

	if (!h->have_prev) {
		if (seq != 1)
			return LINK_UNKNOWN;
		return memcmp(prev_hash, MW_CHAIN_GENESIS, 64) ? LINK_BAD
							       : LINK_OK;
	}
	if (seq == h->grp_seq + 1) {
		g = h->grp;
		n = h->ngrp;
	} else if (seq == h->grp_seq && h->pgrp_seq + 1 == seq) {
		g = h->pgrp;
		n = h->npgrp;
	} else {
		return LINK_UNKNOWN;
	}
	if (!n)
		return LINK_UNKNOWN;
	for (int i = 0; i < n; i++)
		if (!memcmp(prev_hash, g[i], 64))
			return LINK_OK;
	return LINK_BAD;
}

/*
 * Whether prev_hash (64 hex) of a row at seq is the recomputed hash of
 * the event before: then a checkpoint of the row's own hash vouches for
 * the events before it too. The chain's first seq links to the genesis
 * hash, or to nothing retention left.
 */
static bool links_computed(const struct hstate *h, uint64_t seq,
			   const char *prev_hash)
{
	bool repeat = h->have_prev && seq == h->grp_seq;
	bool ok = repeat ? h->before_computed_ok : h->prev_computed_ok;
	uint64_t real = repeat ? h->before_real : h->prev_real;
	const char *before = repeat ? h->before_computed : h->prev_computed;

	if (seq == 1)
		return !memcmp(prev_hash, MW_CHAIN_GENESIS, 64);
	if (!h->have_prev || (repeat && h->grp_first))
		return true;
	return ok && real + 1 == seq && !memcmp(prev_hash, before, 64);
}

/* Keeps the recomputed hash of a row at grp_seq that links (vouched). */
static void vouch_row(struct hstate *h, const char *computed)
{
	if (h->nvouched < GROUP_MAX)
		memcpy(h->vouched[h->nvouched++], computed, MW_CHAIN_HASH_HEX);
}

/* Takes the row at seq into the chain. */
static void accept_row(struct hstate *h, uint64_t seq, const char *stored,
		       const char *computed, uint64_t real, bool ts_ok,
		       int64_t ts, bool clean)
{
	if (!h->have_prev || seq != h->grp_seq) {
		if (h->have_prev) {
			memcpy(h->pgrp, h->grp, sizeof(h->grp));
			h->npgrp = h->ngrp;
			h->pgrp_seq = h->grp_seq;
			memcpy(h->before_computed, h->prev_computed,
			       sizeof(h->before_computed));
			h->before_computed_ok = h->prev_computed_ok;
			h->before_real = h->prev_real;
		}
		h->grp_first = !h->have_prev;
		h->grp_seq = seq;
		h->ngrp = 0;
		h->nvouched = 0;
	}
	if (stored && h->ngrp < GROUP_MAX)
		memcpy(h->grp[h->ngrp++], stored, MW_CHAIN_HASH_HEX);
	h->prev_computed_ok = computed != NULL;
	if (computed)
		memcpy(h->prev_computed, computed, MW_CHAIN_HASH_HEX);
	h->prev_real = real;
	h->prev_ts_ok = ts_ok;
	h->prev_ts = ts;
	h->prev_clean = clean;
	h->have_prev = true;
	if (seq > h->r.last_seq)
		h->r.last_seq = seq;
}

/* A pending higher-seq shift that nothing compensated: deletions. */
static void resolve_pending(struct hstate *h)
{
	if (!h->pending)
		return;
	h->pending = false;
	record(h, MW_VB_DELETED, h->pend_seq,
	       h->pend_seq + (uint64_t)h->pend_delta - 1,
	       "%d event(s) deleted at seq %llu: from there on events "
	       "verify with their seq raised by %d (renumbered)",
	       h->pend_delta, (unsigned long long)h->pend_seq, h->pend_delta);
	if (h->run == RUN_PENDING)
		h->run = RUN_NONE;
}

/* The row at seq verifies at seq + d (d != 0). */
static void shift(struct hstate *h, uint64_t seq, int d)
{
	uint64_t first;

	if (h->run != RUN_NONE && h->run_delta == d && seq == h->run_last + 1) {
		h->run_last = seq;
		if (h->run == RUN_PENDING)
			h->pend_last = seq;
		return;
	}
	if (d > 0) {
		if (h->pending && seq == h->pend_last + 1 &&
		    d > h->pend_delta) {
			/* more deleted further on */
			int more = d - h->pend_delta;

			resolve_pending(h);
			h->pending = true;
			h->pend_seq = h->pend_last = seq;
			h->pend_delta = more;
		} else if (h->pending) {
			h->pend_last = seq;
		} else {
			h->pending = true;
			h->pend_seq = h->pend_last = seq;
			h->pend_delta = d;
		}
		h->run = RUN_PENDING;
		h->run_delta = d;
		h->run_last = seq;
		return;
	}
	h->run_delta = d;
	h->run_last = seq;
	if (h->pending && seq <= h->pend_last + MW_VERIFY_SHIFT_MAX) {
		h->pending = false;
		h->run = RUN_REORDERED;
		record(h, MW_VB_REORDERED, h->pend_seq, seq,
		       "seq %llu holds the event of seq %llu and seq %llu "
		       "that of seq %llu: events swapped or moved",
		       (unsigned long long)h->pend_seq,
		       (unsigned long long)(h->pend_seq +
					    (uint64_t)h->pend_delta),
		       (unsigned long long)seq,
		       (unsigned long long)(seq - (uint64_t)-d));
		return;
	}
	h->run = RUN_INSERTED;
	first = seq - (uint64_t)-d;
	if (h->r.first_seq && first < h->r.first_seq)
		first = h->r.first_seq;
	record(h, MW_VB_INSERTED, first, seq > first ? seq - 1 : first,
	       "%d event(s) inserted before seq %llu: from there on events "
	       "verify with their seq lowered by %d (renumbered)",
	       -d, (unsigned long long)seq, -d);
}

/*
 * The seq offset d (1..16 either way) at which f hashes to stored, the
 * last one found tried first; 0 when none. -1 when the digest fails.
 */
static int diagnose(struct hstate *h, const struct mw_chain_value *f,
		    uint64_t seq, const char *stored, int *delta,
		    char computed[MW_CHAIN_HASH_HEX])
{
	int tries[2 * MW_VERIFY_SHIFT_MAX + 1], n = 0;

	*delta = 0;
	if (h->last_delta)
		tries[n++] = h->last_delta;
	if (h->undiagnosed < UNDIAGNOSED_MAX)
		for (int d = 1; d <= MW_VERIFY_SHIFT_MAX; d++) {
			if (d != h->last_delta)
				tries[n++] = d;
			if (-d != h->last_delta)
				tries[n++] = -d;
		}
	for (int i = 0; i < n; i++) {
		int d = tries[i];

		if ((d < 0 && seq <= (uint64_t)-d) ||
		    (d > 0 && seq > (uint64_t)INT64_MAX - (uint64_t)d))
			continue;
		if (hash_at(f, d > 0 ? seq + (uint64_t)d : seq - (uint64_t)-d,
			    computed))
			return -1;
		if (!memcmp(computed, stored, 64)) {
			*delta = d;
			return 0;
		}
	}
	return 0;
}

/* What the writer cannot have produced; NULL when the row is well formed.
 * The reason goes to why. */
static const char *malformed(const struct mw_chain_value *f,
			     const struct mw_chain_value *hash, bool hash_ok,
			     bool *ts_ok, int64_t *ts, char *why, size_t whylen)
{
	static const int integers[] = { MW_CF_CONN_ID,	  MW_CF_REQUEST_SEQ,
					MW_CF_LATENCY_US, MW_CF_HTTP_STATUS,
					MW_CF_PID,	  MW_CF_TGID,
					MW_CF_UID,	  MW_CF_GID,
					MW_CF_CGROUP_ID };
	char buf[ESC_BUF];
	int64_t v;

	*ts_ok = mw_chain_value_i64(&f[MW_CF_TS_US], ts);
	if (!hash_ok)
		snprintf(why, whylen,
			 "the stored hash %s is not 64 lowercase "
			 "hex digits",
			 hash ? ESCV(hash, buf) : "NULL");
	else if (!mw_chain_is_hash(f[MW_CF_PREV_HASH].s, f[MW_CF_PREV_HASH].n))
		snprintf(why, whylen,
			 "prev_hash %s is not 64 lowercase hex "
			 "digits",
			 ESCV(&f[MW_CF_PREV_HASH], buf));
	else if (!*ts_ok)
		snprintf(why, whylen, "ts_us %s is not an integer",
			 ESCV(&f[MW_CF_TS_US], buf));
	else if (!f[MW_CF_KIND].s)
		snprintf(why, whylen, "kind is NULL");
	else {
		/* a bigint column has one spelling (FORMAT.md section 4) */
		for (size_t i = 0; i < sizeof(integers) / sizeof(*integers);
		     i++) {
			const struct mw_chain_value *c = &f[integers[i]];

			if (c->s && !mw_chain_value_i64(c, &v)) {
				snprintf(why, whylen, "%s %s is not an integer",
					 mw_chain_field_names[integers[i]],
					 ESCV(c, buf));
				return why;
			}
		}
		return NULL;
	}
	return why;
}

static uint64_t add_delta(uint64_t seq, int d)
{
	return d >= 0 ? seq + (uint64_t)d : seq - (uint64_t)-d;
}

/* A row whose seq is not a positive integer: it stands where the next
 * seq is expected. */
static void row_bad_seq(struct mw_verify *v, struct hstate *h,
			const struct mw_chain_value *f, const char *stored)
{
	uint64_t seq = h->have_prev ? h->grp_seq + 1 : 0;
	char buf[ESC_BUF];

	record(h, MW_VB_MALFORMED, seq, seq, "seq %s is not a positive integer",
	       ESCV(&f[MW_CF_SEQ], buf));
	if (!h->have_prev)
		return;
	if (h->pending && seq > h->pend_last + MW_VERIFY_SHIFT_MAX)
		resolve_pending(h);
	advance_cps(v, h, seq);
	mark_cps(v, h, seq, NULL, false, false);
	h->run = RUN_NONE;
	accept_row(h, seq, stored, NULL, seq, false, 0, false);
}

/*
 * The verdict on a row at seq whose content hashes to its stored hash
 * (own_ok), or does so at seq + delta, or neither; lk its link.
 */
static void classify(struct hstate *h, uint64_t seq, int64_t ts, bool own_ok,
		     int delta, enum link lk)
{
	if (own_ok) {
		h->run = RUN_NONE;
		h->undiagnosed = 0;
		/* after a broken row, a link failure is its consequence */
		if (lk != LINK_BAD || (h->have_prev && !h->prev_clean))
			return;
		if (seq == 1)
			record(h, MW_VB_INSERTED, seq, seq,
			       "seq 1 does not start from the genesis hash");
		else
			record(h, MW_VB_INSERTED, seq, seq,
			       "prev_hash does not link to the hash of seq "
			       "%llu: an event inserted or replaced (its own "
			       "hash checks)",
			       (unsigned long long)(seq - 1));
		return;
	}
	if (delta) {
		h->undiagnosed = 0;
		h->last_delta = delta;
		shift(h, seq, delta);
		return;
	}
	h->undiagnosed++;
	h->run = RUN_NONE;
	if (h->prev_ts_ok && ts < h->prev_ts)
		record(h, MW_VB_REORDERED, seq, seq,
		       "the content does not match the stored hash and ts_us "
		       "goes back from the event before");
	else
		record(h, MW_VB_MODIFIED, seq, seq,
		       "the content does not match the stored hash");
}

/*
 * A daemon's start at seq: the events since the last checkpoint before it
 * were signed by no run that wrote them (a run that closes signs its
 * last events), but by the started run's first checkpoint. Told only
 * where that checkpoint was read, or the chain's start: a package's
 * window may begin after a checkpoint it does not hold.
 */
static void start_after_unsigned(struct hstate *h, uint64_t seq)
{
	uint64_t from;

	if (h->last_cp_row)
		from = h->last_cp_row + 1;
	else if (h->r.first_seq == 1)
		from = 1;
	else
		return;
	/* a run that crashed too before its first checkpoint: from its
	 * own start on, the events before it counted at that start */
	if (h->last_start_noted >= from)
		from = h->last_start_noted;
	if (from >= seq)
		return;
	h->last_start_noted = seq;
	if (!h->r.unsigned_starts) {
		h->r.unsigned_from = from;
		h->r.unsigned_to = seq - 1;
		h->r.unsigned_start_seq = seq;
	}
	h->r.unsigned_starts++;
	h->r.unsigned_events += seq - from;
}

/*
 * Takes one row in. unread, when not NULL, says why the row's content
 * could not be read: only its host, seq and stored hash are in f and hash.
 */
static int row(struct mw_verify *v, struct hstate *h,
	       const struct mw_chain_value *f,
	       const struct mw_chain_value *hash, const char *unread, char *err,
	       size_t errlen)
{
	char stored[MW_CHAIN_HASH_HEX], own[MW_CHAIN_HASH_HEX];
	char real_hash[MW_CHAIN_HASH_HEX], why[ESC_BUF + 64];
	bool ts_ok = false, own_ok, hash_ok, links;
	int64_t ts = 0;
	uint64_t seq;
	int delta = 0;

	h->r.events++;
	hash_ok = hash && mw_chain_is_hash(hash->s, hash->n);
	if (hash_ok) {
		memcpy(stored, hash->s, 64);
		stored[64] = '\0';
	}
	if (!mw_chain_value_seq(&f[MW_CF_SEQ], &seq)) {
		row_bad_seq(v, h, f, hash_ok ? stored : NULL);
		return 0;
	}
	if (h->pending && seq > h->pend_last + MW_VERIFY_SHIFT_MAX)
		resolve_pending(h);
	if (h->have_prev && seq < h->grp_seq) {
		record(h, MW_VB_REORDERED, seq, seq,
		       "seq %llu comes after seq %llu: events out of order",
		       (unsigned long long)seq, (unsigned long long)h->grp_seq);
		return 0;
	}
	if (!h->have_prev) {
		h->r.first_seq = seq;
		h->r.starts_late = seq > 1;
		h->first_ts_ok =
			mw_chain_value_i64(&f[MW_CF_TS_US], &h->first_ts);
	} else if (seq > h->grp_seq + 1) {
		/* the checkpoints of the rows seen, then the gap, then
		 * those of the missing seqs */
		advance_cps(v, h, h->grp_seq + 1);
		record(h, MW_VB_DELETED, h->grp_seq + 1, seq - 1,
		       "%llu event(s) missing (seq gap)",
		       (unsigned long long)(seq - h->grp_seq - 1));
	}
	advance_cps(v, h, seq);
	if (unread ||
	    malformed(f, hash, hash_ok, &ts_ok, &ts, why, sizeof(why))) {
		record(h, MW_VB_MALFORMED, seq, seq, "%s",
		       unread ? unread : why);
		if (ts_ok)
			note_row_day(v, ts);
		mark_cps(v, h, seq, NULL, false, false);
		h->run = RUN_NONE;
		accept_row(h, seq, hash_ok ? stored : NULL, NULL, seq, ts_ok,
			   ts, false);
		return 0;
	}
	note_row_day(v, ts);
	if (mw_chain_hash(f, own))
		goto digest_failed;
	own_ok = !memcmp(own, stored, 64);
	links = own_ok && links_computed(h, seq, f[MW_CF_PREV_HASH].s);
	if (h->have_prev && seq == h->grp_seq) {
		record(h, MW_VB_INSERTED, seq, seq,
		       "seq %llu appears more than once",
		       (unsigned long long)seq);
		mark_cps(v, h, seq, own, false, links);
		h->run = RUN_NONE;
		accept_row(h, seq, stored, own, seq, ts_ok, ts, false);
		if (links)
			vouch_row(h, own);
		return 0;
	}
	if (!own_ok && diagnose(h, f, seq, stored, &delta, real_hash))
		goto digest_failed;
	classify(h, seq, ts, own_ok, delta,
		 link_of(h, seq, f[MW_CF_PREV_HASH].s));
	/* a checkpoint that does not verify vouches for nothing: it is a
	 * break of its own, and no start after it goes unnoted for it */
	if ((own_ok || delta) &&
	    mw_chain_value_is(&f[MW_CF_KIND], CHECKPOINT_KIND) &&
	    db_checkpoint(v, h, &f[MW_CF_PARAMS], seq, add_delta(seq, delta)) &&
	    own_ok)
		h->last_cp_row = seq;
	else if (own_ok && mw_chain_value_is(&f[MW_CF_KIND], DAEMON_START_KIND))
		start_after_unsigned(h, seq);
	mark_cps(v, h, seq, own, own_ok, links);
	accept_row(h, seq, stored, delta ? real_hash : own,
		   add_delta(seq, delta), ts_ok, ts, own_ok);
	if (links)
		vouch_row(h, own);
	return 0;
digest_failed:
	mw_set_err(err, errlen, "cannot compute an event's hash");
	return -1;
}

static int verify_row(struct mw_verify *v,
		      const struct mw_chain_value f[MW_CF_N],
		      const struct mw_chain_value *hash, const char *unread,
		      char *err, size_t errlen)
{
	struct hstate *h;
	uint64_t seq = 0;
	char buf[ESC_BUF];

	if (v->finished) {
		mw_set_err(err, errlen, "verification already finished");
		return -1;
	}
	if (!v->rows_started)
		start_rows(v);
	h = host_of(v, f[MW_CF_HOST].s, f[MW_CF_HOST].n, err, errlen);
	if (!h)
		return -1;
	if (h->r.invalid) {
		h->r.events++;
		if (!mw_chain_value_seq(&f[MW_CF_SEQ], &seq))
			seq = 0;
		record(h, MW_VB_MALFORMED, seq, seq,
		       "a row whose host %s is not a host name",
		       ESCV(&f[MW_CF_HOST], buf));
		return 0;
	}
	if (h != v->cur && h->rows_seen) {
		if (!mw_chain_value_seq(&f[MW_CF_SEQ], &seq))
			seq = h->have_prev ? h->grp_seq + 1 : 0;
		record(h, MW_VB_REORDERED, seq, seq,
		       "the host's events resume at seq %llu after another "
		       "host's: events out of order",
		       (unsigned long long)seq);
	}
	v->cur = h;
	h->rows_seen = true;
	return row(v, h, f, hash, unread, err, errlen);
}

int mw_verify_row(struct mw_verify *v, const struct mw_chain_value f[MW_CF_N],
		  const struct mw_chain_value *hash, char *err, size_t errlen)
{
	return verify_row(v, f, hash, NULL, err, errlen);
}

/*
 * A row too long to be read (a superuser can store one): no event the
 * daemon writes is, so it is a break at its seq, and the chain goes on
 * past it. Its host and seq are decoded from the line's start, its
 * stored hash from its end (the last field), so that the next row still
 * links to it.
 */
static int copy_row_too_long(struct mw_verify *v, const char *line, size_t len,
			     char *err, size_t errlen)
{
	char head[2 * MW_VERIFY_HOST_MAX + 64], stored[MW_CHAIN_HASH_HEX];
	struct mw_chain_value f[MW_CF_N] = { 0 }, hash = { 0 };
	size_t n = 0, tabs = 0, end = len;
	char unread[128];

	while (n < len && n < sizeof(head) && tabs < 2)
		tabs += line[n++] == '\t';
	if (end && line[end - 1] == '\n')
		end--;
	if (end > 64 && line[end - 65] == '\t' &&
	    mw_chain_is_hash(line + end - 64, 64)) {
		memcpy(stored, line + end - 64, 64);
		stored[64] = '\0';
		hash.s = stored;
		hash.n = 64;
	}
	memcpy(head, line, n);
	if (tabs < 2 ||
	    mw_pgcopy_parse(head, n - 1, f, MW_CF_SEQ + 1, err, errlen))
		return bad_line(v, "a row of the database", 0,
				"longer than the bound of a row, and its host "
				"and seq cannot be read",
				true, err, errlen);
	snprintf(unread, sizeof(unread),
		 "the row is longer than %u bytes, which no event the daemon "
		 "writes is: its content was not read",
		 MW_PGCOPY_MAX_LINE);
	return verify_row(v, f, hash.s ? &hash : NULL, unread, err, errlen);
}

int mw_verify_copy_line(struct mw_verify *v, char *line, size_t len, char *err,
			size_t errlen)
{
	struct mw_chain_value f[MW_CF_N + 1];

	if (len > MW_PGCOPY_MAX_LINE)
		return copy_row_too_long(v, line, len, err, errlen);
	if (mw_pgcopy_parse(line, len, f, MW_CF_N + 1, err, errlen))
		return -1;
	return mw_verify_row(v, f, &f[MW_CF_N], err, errlen);
}

/* ---- events.jsonl ---- */

int mw_verify_parse_jsonl(const char *line, size_t len, json_t **root,
			  struct mw_chain_value f[MW_CF_N],
			  struct mw_chain_value *hash, char *err, size_t errlen)
{
	char buf[ESC_BUF];
	json_error_t je;
	const char *key;
	json_t *o, *val;

	*root = NULL;
	if (len > MW_PGCOPY_MAX_LINE) {
		mw_set_err(err, errlen, "longer than %u bytes",
			   MW_PGCOPY_MAX_LINE);
		return -1;
	}
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		mw_set_err(err, errlen, "not JSON: %s at byte %d", je.text,
			   je.position);
		return -1;
	}
	if (!json_is_object(o)) {
		mw_set_err(err, errlen, "not a JSON object");
		goto fail;
	}
	for (int k = 0; k <= MW_CF_N; k++) {
		const char *name =
			k < MW_CF_N ? mw_chain_field_names[k] : "hash";
		struct mw_chain_value *dst = k < MW_CF_N ? &f[k] : hash;
		json_t *v = json_object_get(o, name);

		/* a package written before the field existed */
		if (!v && k >= MW_CF_FIRST_OPTIONAL && k < MW_CF_N)
			v = json_null();
		if (!v) {
			mw_set_err(err, errlen, "key \"%s\" missing", name);
			goto fail;
		}
		if (json_is_null(v)) {
			dst->s = NULL;
			dst->n = 0;
		} else if (json_is_string(v)) {
			dst->s = json_string_value(v);
			dst->n = json_string_length(v);
		} else {
			mw_set_err(err, errlen,
				   "key \"%s\": not a string or null", name);
			goto fail;
		}
	}
	/* every key was found: any more is one the verification ignores */
	if (json_object_size(o) != MW_CF_N + 1) {
		json_object_foreach (o, key, val) {
			bool known = !strcmp(key, "hash");

			for (int k = 0; k < MW_CF_N && !known; k++)
				known = !strcmp(key, mw_chain_field_names[k]);
			if (!known) {
				mw_set_err(err, errlen, "unknown key \"%s\"",
					   mw_verify_escape(key, strlen(key),
							    ESC_MAX, buf,
							    sizeof(buf)));
				goto fail;
			}
		}
	}
	*root = o;
	return 0;
fail:
	json_decref(o);
	return -1;
}

int mw_verify_jsonl_line(struct mw_verify *v, char *line, size_t len,
			 uint64_t lineno, char *err, size_t errlen)
{
	struct mw_chain_value f[MW_CF_N], hash;
	json_t *root;
	char why[256];
	int rc;

	if (blank(line, len))
		return 0;
	if (v->finished) {
		mw_set_err(err, errlen, "verification already finished");
		return -1;
	}
	if (!v->rows_started)
		start_rows(v);
	if (mw_verify_parse_jsonl(line, len, &root, f, &hash, why, sizeof(why)))
		return bad_line(v, "events.jsonl", lineno, why, true, err,
				errlen);
	rc = mw_verify_row(v, f, &hash, err, errlen);
	json_decref(root);
	return rc;
}

/* ---- reading files line by line, bounded ---- */

struct reader {
	FILE *f;
	char *buf;
	size_t cap, start, end;
	size_t max; /* longest line */
	size_t total, total_max; /* bytes read, at most (0: no bound) */
	bool eof;
	bool unterminated; /* the line returned ended at the end of file */
	EVP_MD_CTX *md; /* not NULL: every byte read goes through it too */
};

/*
 * The next line (without its newline) in *line, *len: 1, 0 at the end,
 * -1 on a read error or past total_max (errno EFBIG). A line longer than
 * max is skipped whole and reported with *toolong.
 */
static int reader_next(struct reader *rd, char **line, size_t *len,
		       bool *toolong)
{
	bool skipping = false;

	*toolong = false;
	for (;;) {
		char *nl = rd->end > rd->start
				   ? memchr(rd->buf + rd->start, '\n',
					    rd->end - rd->start)
				   : NULL;
		size_t got;

		if (nl || (rd->eof && rd->end > rd->start)) {
			size_t n = nl ? (size_t)(nl - (rd->buf + rd->start))
				      : rd->end - rd->start;

			*line = rd->buf + rd->start;
			*len = n;
			rd->unterminated = !nl;
			rd->start += n + (nl ? 1 : 0);
			if (skipping || n > rd->max) {
				*toolong = true;
				*len = 0;
			}
			return 1;
		}
		if (rd->eof) {
			if (skipping) {
				*toolong = true;
				*len = 0;
				*line = rd->buf;
				return 1;
			}
			return 0;
		}
		if (rd->end - rd->start > rd->max) {
			skipping = true;
			rd->start = rd->end = 0;
		}
		if (rd->start) {
			memmove(rd->buf, rd->buf + rd->start,
				rd->end - rd->start);
			rd->end -= rd->start;
			rd->start = 0;
		}
		if (rd->cap - rd->end < READ_CHUNK) {
			size_t ncap = rd->cap ? rd->cap * 2 : 2 * READ_CHUNK;
			char *n;

			if (ncap > rd->max + 2 * READ_CHUNK)
				ncap = rd->max + 2 * READ_CHUNK;
			if (ncap <= rd->cap) {
				errno = ENOMEM;
				return -1;
			}
			n = realloc(rd->buf, ncap);
			if (!n)
				return -1;
			rd->buf = n;
			rd->cap = ncap;
		}
		got = fread(rd->buf + rd->end, 1, rd->cap - rd->end, rd->f);
		if (rd->md && got &&
		    !EVP_DigestUpdate(rd->md, rd->buf + rd->end, got)) {
			errno = EIO;
			return -1;
		}
		rd->end += got;
		rd->total += got;
		if (rd->total_max && rd->total > rd->total_max) {
			errno = EFBIG;
			return -1;
		}
		if (got == 0) {
			if (ferror(rd->f))
				return -1;
			rd->eof = true;
		}
	}
}

/*
 * Opens path for the reader: a regular file only (mw_open_regular), or -1
 * with err and errno. A FIFO would block for ever, a device such as
 * /dev/zero never end: neither is a file the verifier reads.
 */
static int reader_open(struct reader *rd, const char *path, bool nofollow,
		       char *err, size_t errlen)
{
	int fd = mw_open_regular(AT_FDCWD, path, nofollow), e;

	if (fd < 0) {
		e = -fd;
		goto fail;
	}
	rd->f = fdopen(fd, "r");
	if (rd->f)
		return 0;
	e = errno;
	close(fd);
fail:
	mw_set_err(err, errlen, "%s: %s", path,
		   e == EINVAL	? "not a regular file"
		   : e == ELOOP ? "a symbolic link"
				: strerror(e));
	errno = e;
	return -1;
}

/*
 * The reader over fd, the caller's (a copy of it is read, from where fd
 * is), and when d is not NULL a digest of every byte it reads: 0, or -1
 * with err.
 */
static int reader_fd(struct reader *rd, int fd, const char *name,
		     struct mw_verify_digest *d, char *err, size_t errlen)
{
	int cfd = fcntl(fd, F_DUPFD_CLOEXEC, 0), e = errno;

	if (cfd < 0)
		goto fail;
	if (d && (!(rd->md = EVP_MD_CTX_new()) ||
		  !EVP_DigestInit_ex(rd->md, mw_sha256_md(), NULL))) {
		e = ENOMEM;
		goto fail;
	}
	rd->f = fdopen(cfd, "r");
	if (!rd->f) {
		e = errno;
		goto fail;
	}
	return 0;
fail:
	if (cfd >= 0)
		close(cfd);
	EVP_MD_CTX_free(rd->md);
	rd->md = NULL;
	mw_set_err(err, errlen, "%s: %s", name, strerror(e));
	errno = e;
	return -1;
}

/* The digest of what rd read, once it read to the end: 0, or -1. */
static int reader_digest(struct reader *rd, struct mw_verify_digest *d)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!d)
		return 0;
	if (!EVP_DigestFinal_ex(rd->md, md, &mdlen) || mdlen != 32)
		return -1;
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(d->sha256 + 2 * i, 3, "%02x", md[i]);
	d->bytes = rd->total;
	return 0;
}

static void reader_close(struct reader *rd)
{
	free(rd->buf);
	if (rd->f)
		fclose(rd->f);
	EVP_MD_CTX_free(rd->md);
}

static bool host_is(const char *line, size_t len, const char *host)
{
	json_t *j = json_loadb(line, len, 0, NULL);
	const char *h = json_string_value(json_object_get(j, "host"));
	bool is = !h || !strcmp(h, host); /* no host: a malformed line */

	json_decref(j);
	return is;
}

/* A checkpoint file open in rd: 0, or -1 with err. */
static int load_checkpoints(struct mw_verify *v, struct reader *rd,
			    const char *path, const char *host, char *err,
			    size_t errlen)
{
	struct stat st;
	uint64_t lineno = 0;
	int got;
	char *line;
	size_t len;
	bool toolong;

	if (!fstat(fileno(rd->f), &st) && st.st_size > MW_VERIFY_CP_FILE_MAX) {
		mw_set_err(err, errlen,
			   "%s: larger than %u bytes: not a checkpoint file",
			   path, MW_VERIFY_CP_FILE_MAX);
		errno = EFBIG;
		return -1;
	}
	while ((got = reader_next(rd, &line, &len, &toolong)) == 1) {
		char why[64];

		lineno++;
		if (toolong) {
			snprintf(why, sizeof(why), "longer than %d bytes",
				 MW_VERIFY_CP_LINE_MAX);
			if (bad_line(v, "checkpoint file", lineno, why, false,
				     err, errlen))
				return -1;
			continue;
		}
		if (rd->unterminated) {
			v->cp_file_torn = true;
			continue;
		}
		if (host && !blank(line, len) && !host_is(line, len, host))
			continue;
		if (mw_verify_checkpoint_line(v, line, len, lineno, err,
					      errlen))
			return -1;
	}
	if (got < 0) {
		mw_set_err(err, errlen, "%s: %s", path,
			   errno == EFBIG ? "larger than the bound of a "
					    "checkpoint file"
					  : strerror(errno));
		return -1;
	}
	return 0;
}

int mw_verify_load_checkpoints(struct mw_verify *v, const char *path,
			       const char *host, char *err, size_t errlen)
{
	struct reader rd = { .max = MW_VERIFY_CP_LINE_MAX,
			     .total_max = MW_VERIFY_CP_FILE_MAX };
	int rc;

	if (reader_open(&rd, path, false, err, errlen))
		return -1;
	rc = load_checkpoints(v, &rd, path, host, err, errlen);
	reader_close(&rd);
	return rc;
}

typedef int (*load_fn)(struct mw_verify *v, struct reader *rd, const char *path,
		       char *err, size_t errlen);

/* What rd reads from fd, loaded by load, and its digest in d. */
static int load_fd(struct mw_verify *v, struct reader *rd, int fd,
		   const char *name, struct mw_verify_digest *d, load_fn load,
		   char *err, size_t errlen)
{
	int rc = -1;

	if (reader_fd(rd, fd, name, d, err, errlen))
		return -1;
	if (load(v, rd, name, err, errlen))
		goto out;
	if (reader_digest(rd, d)) {
		mw_set_err(err, errlen, "%s: cannot compute SHA-256", name);
		goto out;
	}
	rc = 0;
out:
	reader_close(rd);
	return rc;
}

/* A package's checkpoint lines: every host's. */
static int load_all_checkpoints(struct mw_verify *v, struct reader *rd,
				const char *path, char *err, size_t errlen)
{
	return load_checkpoints(v, rd, path, NULL, err, errlen);
}

int mw_verify_load_checkpoints_fd(struct mw_verify *v, int fd, const char *name,
				  struct mw_verify_digest *d, char *err,
				  size_t errlen)
{
	struct reader rd = { .max = MW_VERIFY_CP_LINE_MAX,
			     .total_max = MW_VERIFY_CP_FILE_MAX };

	return load_fd(v, &rd, fd, name, d, load_all_checkpoints, err, errlen);
}

/* events.jsonl open in rd: 0, or -1 with err. */
static int load_jsonl(struct mw_verify *v, struct reader *rd, const char *path,
		      char *err, size_t errlen)
{
	uint64_t lineno = 0;
	int got;
	char *line;
	size_t len;
	bool toolong;

	while ((got = reader_next(rd, &line, &len, &toolong)) == 1) {
		lineno++;
		if (toolong) {
			if (bad_line(v, "events.jsonl", lineno,
				     "longer than the longest row accepted",
				     true, err, errlen))
				return -1;
			continue;
		}
		if (mw_verify_jsonl_line(v, line, len, lineno, err, errlen))
			return -1;
	}
	if (got < 0) {
		mw_set_err(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int mw_verify_load_jsonl(struct mw_verify *v, const char *path, char *err,
			 size_t errlen)
{
	struct reader rd = { .max = MW_PGCOPY_MAX_LINE };
	int rc;

	/* a package's file: not through a link either */
	if (reader_open(&rd, path, true, err, errlen))
		return -1;
	rc = load_jsonl(v, &rd, path, err, errlen);
	reader_close(&rd);
	return rc;
}

int mw_verify_load_jsonl_fd(struct mw_verify *v, int fd, const char *name,
			    struct mw_verify_digest *d, char *err,
			    size_t errlen)
{
	struct reader rd = { .max = MW_PGCOPY_MAX_LINE };

	return load_fd(v, &rd, fd, name, d, load_jsonl, err, errlen);
}

/* ---- the end ---- */

/* The host's events against the range its package's manifest gives. */
static void check_range(const struct mw_verify *v, struct hstate *h)
{
	const struct mw_verify_host *r = &h->r;

	if (r->invalid || (!h->expected && !v->have_ranges))
		return;
	if (!h->expected) {
		if (r->first_seq)
			record(h, MW_VB_INSERTED, r->first_seq, r->last_seq,
			       "the package holds events of this host, which "
			       "its manifest does not list");
		return;
	}
	if (!r->first_seq) {
		record(h, MW_VB_DELETED, h->exp_first, h->exp_last,
		       "the manifest lists seq %llu-%llu of this host, and "
		       "the package holds none of them",
		       (unsigned long long)h->exp_first,
		       (unsigned long long)h->exp_last);
		return;
	}
	if (r->first_seq > h->exp_first)
		record(h, MW_VB_DELETED, h->exp_first, r->first_seq - 1,
		       "events before seq %llu deleted: the manifest says "
		       "the package starts at seq %llu",
		       (unsigned long long)r->first_seq,
		       (unsigned long long)h->exp_first);
	else if (r->first_seq < h->exp_first)
		record(h, MW_VB_INSERTED, r->first_seq, h->exp_first - 1,
		       "events before seq %llu added: the manifest says the "
		       "package starts there",
		       (unsigned long long)h->exp_first);
	if (r->last_seq < h->exp_last)
		record(h, MW_VB_DELETED, r->last_seq + 1, h->exp_last,
		       "events after seq %llu deleted: the manifest says the "
		       "package ends at seq %llu",
		       (unsigned long long)r->last_seq,
		       (unsigned long long)h->exp_last);
	else if (r->last_seq > h->exp_last)
		record(h, MW_VB_INSERTED, h->exp_last + 1, r->last_seq,
		       "events after seq %llu added: the manifest says the "
		       "package ends there",
		       (unsigned long long)h->exp_last);
}

static void finish_host(struct mw_verify *v, struct hstate *h)
{
	uint64_t n = 0, max = 0;

	resolve_pending(h);
	check_range(v, h);
	for (size_t i = h->cp_begin; i < h->cp_cur; i++)
		if (v->cps[i].state == CP_BEFORE_CHAIN &&
		    !deleted_not_retired(v, h, &v->cps[i]))
			h->r.file_cp_retention++;
	if (v->cp_file_missing && h->first_db_cp_seq &&
	    !strcmp(h->r.name, v->cp_file_host))
		record(h, MW_VB_MISSING_CHECKPOINT, h->first_db_cp_seq,
		       h->first_db_cp_seq,
		       "the checkpoint file is missing, but the database "
		       "holds checkpoints from seq %llu on, each of which the "
		       "daemon appended to it",
		       (unsigned long long)h->first_db_cp_seq);
	if (h->r.first_seq)
		advance_cps(v, h, h->r.last_seq + 1);
	for (; h->cp_cur < h->cp_end; h->cp_cur++) {
		n++;
		if (v->cps[h->cp_cur].seq > max)
			max = v->cps[h->cp_cur].seq;
	}
	if (!n)
		return;
	h->r.file_cp_failed += n;
	if (h->r.first_seq)
		record(h, MW_VB_DELETED, h->r.last_seq + 1, max,
		       "events after seq %llu deleted: the checkpoint file "
		       "vouches for seq %llu",
		       (unsigned long long)h->r.last_seq,
		       (unsigned long long)max);
	else
		record(h, MW_VB_DELETED, 1, max,
		       "no events in the database, but the checkpoint file "
		       "vouches for seq %llu",
		       (unsigned long long)max);
}

static int host_cmp(const void *a, const void *b, void *arg)
{
	const struct mw_verify *v = arg;
	const struct hstate *x = v->hosts[*(const size_t *)a];
	const struct hstate *y = v->hosts[*(const size_t *)b];
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c;

	if (x->r.invalid != y->r.invalid)
		return x->r.invalid ? 1 : -1;
	c = memcmp(x->r.name, y->r.name, n);
	if (c)
		return c;
	return x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
}

void mw_verify_checkpoint_file_missing(struct mw_verify *v, const char *host)
{
	v->cp_file_missing =
		snprintf(v->cp_file_host, sizeof(v->cp_file_host), "%s", host) <
		(int)sizeof(v->cp_file_host);
}

static int days_cmp(const void *a, const void *b)
{
	const struct mw_verify_days *x = a, *y = b;

	return (x->lo > y->lo) - (x->lo < y->lo);
}

int mw_verify_whole_chains(struct mw_verify *v,
			   const struct mw_verify_days *kept, size_t n,
			   int64_t undropped_from, char *err, size_t errlen)
{
	struct mw_verify_days *k;
	size_t m = 0;

	if (n > MW_VERIFY_MAX_PARTITIONS) {
		mw_set_err(err, errlen, "more than %d partitions",
			   MW_VERIFY_MAX_PARTITIONS);
		return -1;
	}
	k = calloc(n ? n : 1, sizeof(*k));
	if (!k) {
		mw_set_err(err, errlen, "out of memory");
		return -1;
	}
	if (n)
		memcpy(k, kept, n * sizeof(*k));
	qsort(k, n, sizeof(*k), days_cmp);
	/* merged into disjoint ranges, for the binary search of day_kept */
	for (size_t i = 0; i < n; i++) {
		if (k[i].hi <= k[i].lo)
			continue;
		if (m && k[i].lo <= k[m - 1].hi) {
			if (k[i].hi > k[m - 1].hi)
				k[m - 1].hi = k[i].hi;
			continue;
		}
		k[m++] = k[i];
	}
	free(v->kept);
	v->kept = k;
	v->nkept = m;
	v->undropped_from = undropped_from;
	v->whole_chains = true;
	return 0;
}

void mw_verify_ranges_given(struct mw_verify *v)
{
	v->have_ranges = true;
}

void mw_verify_package_lines(struct mw_verify *v, bool own)
{
	v->packaged_lines = own;
}

int mw_verify_expect_range(struct mw_verify *v, const char *host,
			   uint64_t first_seq, uint64_t last_seq, char *err,
			   size_t errlen)
{
	size_t n = host ? strnlen(host, MW_VERIFY_HOST_MAX) : 0;
	struct hstate *h;

	if (v->rows_started) {
		mw_set_err(err, errlen, "ranges must come before the rows");
		return -1;
	}
	v->have_ranges = true;
	if (!first_seq || last_seq < first_seq) {
		mw_verify_package_problem(v, "the manifest gives a host an "
					     "empty or reversed range");
		return 0;
	}
	h = host_of(v, host, n, err, errlen);
	if (!h)
		return -1;
	if (h->r.invalid) {
		mw_verify_package_problem(v,
					  "the manifest lists a host whose "
					  "name cannot be one (empty, over %d "
					  "bytes, or with a NUL byte)",
					  MW_VERIFY_HOST_MAX - 1);
		return 0;
	}
	if (h->expected) {
		mw_verify_package_problem(v, "the manifest lists a host twice");
		return 0;
	}
	h->expected = true;
	h->exp_first = first_seq;
	h->exp_last = last_seq;
	return 0;
}

/* A problem of the source as a whole: a package's, or a database's. */
static void source_problem(struct mw_verify *v, const char *source,
			   const char *fmt, va_list ap)
{
	v->problem_source = source;
	v->pkg_problems++;
	if (v->npkg_details == MW_VERIFY_MAX_DETAILS)
		return;
	set_detail(v->pkg_details[v->npkg_details++], MW_VERIFY_DETAIL_LEN, fmt,
		   ap);
}

void mw_verify_package_problem(struct mw_verify *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	source_problem(v, "package", fmt, ap);
	va_end(ap);
}

void mw_verify_database_problem(void *arg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	source_problem(arg, "database", fmt, ap);
	va_end(ap);
}

void mw_verify_finish(struct mw_verify *v)
{
	if (v->finished)
		return;
	if (!v->rows_started)
		start_rows(v);
	v->finished = true;
	compact_default_days(v);
	for (size_t i = 0; i < v->nhosts; i++)
		finish_host(v, v->hosts[i]);
	v->order = calloc(v->nhosts ? v->nhosts : 1, sizeof(*v->order));
	if (!v->order)
		return;
	for (size_t i = 0; i < v->nhosts; i++)
		v->order[i] = i;
	qsort_r(v->order, v->nhosts, sizeof(*v->order), host_cmp, v);
}

/* ---- results ---- */

const char *mw_verify_key_id(const struct mw_verify *v)
{
	return v->key_id;
}

uint64_t mw_verify_breaks(const struct mw_verify *v)
{
	uint64_t n = v->pkg_problems;

	for (size_t i = 0; i < v->nhosts; i++)
		n += v->hosts[i]->r.breaks;
	return n;
}

bool mw_verify_ok(const struct mw_verify *v)
{
	return v->finished && !mw_verify_breaks(v);
}

size_t mw_verify_nhosts(const struct mw_verify *v)
{
	return v->nhosts;
}

const struct mw_verify_host *mw_verify_host_at(const struct mw_verify *v,
					       size_t i)
{
	if (i >= v->nhosts)
		return NULL;
	return &v->hosts[v->order ? v->order[i] : i]->r;
}

const struct mw_verify_host *mw_verify_find_host(const struct mw_verify *v,
						 const char *name)
{
	for (size_t i = 0; i < v->nhosts; i++)
		if (!v->hosts[i]->r.invalid &&
		    !strcmp(v->hosts[i]->r.name, name))
			return &v->hosts[i]->r;
	return NULL;
}

static const char *host_label(const struct mw_verify_host *r, char *buf,
			      size_t buflen)
{
	if (r->invalid)
		return INVALID_HOST_NAME;
	return mw_verify_escape(r->name, strlen(r->name), MW_VERIFY_HOST_MAX,
				buf, buflen);
}

static void print_range(FILE *f, uint64_t a, uint64_t b)
{
	if (!a)
		fprintf(f, "-");
	else if (b > a)
		fprintf(f, "seq %llu-%llu", (unsigned long long)a,
			(unsigned long long)b);
	else
		fprintf(f, "seq %llu", (unsigned long long)a);
}

/*
 * package: BROKEN: P problem(s)       (a package's, when it has some)
 *     TEXT
 * host NAME: N event(s), seq A-B
 *   note: the chain starts at seq A (earlier events removed by retention)
 *   checkpoints: D verified in the database[, X failed]; F verified in
 *     the checkpoint file[, Y failed][, R before the chain (retention)]
 *   ok | BROKEN: B break(s), first at seq S (CLASS)
 *     seq S[-E] CLASS: DETAIL
 *     ... K more break(s) not shown
 * then one line: "verification ok: ..." or "verification FAILED: ...".
 */
void mw_verify_print(const struct mw_verify *v, FILE *f)
{
	uint64_t events = 0, cps = 0, broken = 0;
	char buf[MW_VERIFY_NAME_ESC];

	fprintf(f, "public key %s\n", v->key_id);
	if (v->cp_file_torn)
		fprintf(f,
			"note: a checkpoint file ends in a line not written "
			"whole (a crash or a full disk): ignored; the daemon "
			"cuts it at its next start\n");
	if (v->pkg_problems) {
		fprintf(f, "%s: BROKEN: %llu problem(s)\n", v->problem_source,
			(unsigned long long)v->pkg_problems);
		for (size_t k = 0; k < v->npkg_details; k++)
			fprintf(f, "    %s\n", v->pkg_details[k]);
		if (v->pkg_problems > v->npkg_details)
			fprintf(f, "    ... %llu more problem(s) not shown\n",
				(unsigned long long)(v->pkg_problems -
						     v->npkg_details));
	}
	for (size_t i = 0; i < v->nhosts; i++) {
		const struct mw_verify_host *r = mw_verify_host_at(v, i);

		events += r->events;
		cps += r->db_cp_ok + r->file_cp_ok;
		fprintf(f, "host %s: %llu event(s)",
			host_label(r, buf, sizeof(buf)),
			(unsigned long long)r->events);
		if (r->first_seq)
			fprintf(f, ", seq %llu-%llu",
				(unsigned long long)r->first_seq,
				(unsigned long long)r->last_seq);
		fputc('\n', f);
		if (r->starts_late)
			fprintf(f,
				"  note: the chain starts at seq %llu (earlier "
				"events removed by retention)\n",
				(unsigned long long)r->first_seq);
		if (r->unsigned_starts)
			fprintf(f,
				"  note: %llu daemon start(s) after %llu "
				"event(s) that no checkpoint of the run that "
				"wrote them signed (it ended without its "
				"closing checkpoint: a crash, or a close with "
				"its queue full; or they were added while no "
				"daemon ran); the started run signed them; "
				"first: seq %llu-%llu before the start at seq "
				"%llu\n",
				(unsigned long long)r->unsigned_starts,
				(unsigned long long)r->unsigned_events,
				(unsigned long long)r->unsigned_from,
				(unsigned long long)r->unsigned_to,
				(unsigned long long)r->unsigned_start_seq);
		if (!r->invalid) {
			fprintf(f,
				"  checkpoints: %llu verified in the database",
				(unsigned long long)r->db_cp_ok);
			if (r->db_cp_failed)
				fprintf(f, ", %llu failed",
					(unsigned long long)r->db_cp_failed);
			fprintf(f, "; %llu verified in the checkpoint file",
				(unsigned long long)r->file_cp_ok);
			if (r->file_cp_failed)
				fprintf(f, ", %llu failed",
					(unsigned long long)r->file_cp_failed);
			if (r->file_cp_retention)
				fprintf(f,
					", %llu before the chain (retention)",
					(unsigned long long)
						r->file_cp_retention);
			if (r->file_cp_outside)
				fprintf(f, ", %llu outside the package's range",
					(unsigned long long)r->file_cp_outside);
			fputc('\n', f);
		}
		if (!r->breaks) {
			fprintf(f, "  ok\n");
			continue;
		}
		broken++;
		fprintf(f, "  BROKEN: %llu break(s)",
			(unsigned long long)r->breaks);
		if (r->details[0].seq)
			fprintf(f, ", first at seq %llu (%s)",
				(unsigned long long)r->details[0].seq,
				class_names[r->details[0].cls]);
		fputc('\n', f);
		for (size_t k = 0; k < r->ndetails; k++) {
			const struct mw_verify_break *b = &r->details[k];

			fprintf(f, "    ");
			print_range(f, b->seq, b->seq_end);
			fprintf(f, " %s: %s\n", class_names[b->cls], b->detail);
		}
		if (r->breaks > r->ndetails)
			fprintf(f, "    ... %llu more break(s) not shown\n",
				(unsigned long long)(r->breaks - r->ndetails));
	}
	if (!broken && !v->pkg_problems)
		fprintf(f,
			"verification ok: %zu host(s), %llu event(s), %llu "
			"checkpoint(s) verified\n",
			v->nhosts, (unsigned long long)events,
			(unsigned long long)cps);
	else
		fprintf(f,
			"verification FAILED: %llu break(s) in %llu of %zu "
			"host(s)%s%s, %llu event(s)\n",
			(unsigned long long)mw_verify_breaks(v),
			(unsigned long long)broken, v->nhosts,
			v->pkg_problems ? " and the " : "",
			v->pkg_problems ? v->problem_source : "",
			(unsigned long long)events);
}

static int set_u(json_t *o, const char *k, uint64_t x)
{
	return json_object_set_new(o, k, json_integer((json_int_t)x));
}

static json_t *break_json(const struct mw_verify_break *b)
{
	return json_pack("{s:s,s:I,s:I,s:s}", "class", class_names[b->cls],
			 "seq", (json_int_t)b->seq, "seq_end",
			 (json_int_t)b->seq_end, "detail", b->detail);
}

static json_t *host_json(const struct mw_verify_host *r)
{
	json_t *o = json_object(), *cp = json_object(), *counts = json_object();
	json_t *details = json_array(), *first = NULL, *name = json_null();
	char buf[MW_VERIFY_NAME_ESC];
	int bad = !o || !cp || !counts || !details;

	for (int c = 0; !bad && c < MW_VB_N; c++)
		if (r->by_class[c])
			bad = set_u(counts, class_names[c], r->by_class[c]);
	for (size_t k = 0; !bad && k < r->ndetails; k++)
		bad = json_array_append_new(details,
					    break_json(&r->details[k]));
	if (r->ndetails)
		first = json_pack("{s:I,s:s}", "seq",
				  (json_int_t)r->details[0].seq, "class",
				  class_names[r->details[0].cls]);
	if (!r->invalid)
		name = json_string(mw_verify_escape(r->name, strlen(r->name),
						    MW_VERIFY_HOST_MAX, buf,
						    sizeof(buf)));
	if (bad || (r->ndetails && !first) ||
	    set_u(cp, "database_verified", r->db_cp_ok) ||
	    set_u(cp, "database_failed", r->db_cp_failed) ||
	    set_u(cp, "file_verified", r->file_cp_ok) ||
	    set_u(cp, "file_failed", r->file_cp_failed) ||
	    set_u(cp, "file_before_chain", r->file_cp_retention) ||
	    set_u(cp, "file_outside_package", r->file_cp_outside) ||
	    json_object_set(o, "host", name) ||
	    json_object_set_new(o, "ok", json_boolean(!r->breaks)) ||
	    set_u(o, "events", r->events) ||
	    set_u(o, "first_seq", r->first_seq) ||
	    set_u(o, "last_seq", r->last_seq) ||
	    json_object_set_new(o, "starts_after_retention",
				json_boolean(r->starts_late)) ||
	    (r->unsigned_starts &&
	     json_object_set_new(
		     o, "starts_after_unsigned",
		     json_pack("{s:I,s:I,s:{s:I,s:I,s:I}}", "starts",
			       (json_int_t)r->unsigned_starts, "events",
			       (json_int_t)r->unsigned_events, "first", "from",
			       (json_int_t)r->unsigned_from, "to",
			       (json_int_t)r->unsigned_to, "start_seq",
			       (json_int_t)r->unsigned_start_seq))) ||
	    json_object_set(o, "checkpoints", cp) ||
	    set_u(o, "breaks", r->breaks) ||
	    json_object_set(o, "break_counts", counts) ||
	    json_object_set(o, "first_break", first ? first : json_null()) ||
	    json_object_set(o, "details", details)) {
		json_decref(o);
		o = NULL;
	}
	json_decref(name);
	json_decref(first);
	json_decref(cp);
	json_decref(counts);
	json_decref(details);
	return o;
}

/*
 * {"ok": B, "key_id": K, "hosts": [{"host": NAME|null, "ok": B,
 *  "events": N, "first_seq": N, "last_seq": N,
 *  "starts_after_retention": B, "starts_after_unsigned": {"starts": N,
 *  "events": N, "first": {"from": N, "to": N, "start_seq": N}} (only
 *  when there are such), "checkpoints": {"database_verified": N,
 *  "database_failed": N, "file_verified": N, "file_failed": N,
 *  "file_before_chain": N}, "breaks": N, "break_counts": {CLASS: N},
 *  "first_break": {"seq": N, "class": CLASS}|null,
 *  "details": [{"class", "seq", "seq_end", "detail"}]}],
 *  "hosts_broken": N, "events": N, "breaks": N,
 *  "package_problems": N, "package_problem_details": [TEXT] (only when
 *  there are such; "database_problems", "database_problem_details" for
 *  a database's)}
 */
json_t *mw_verify_json(const struct mw_verify *v)
{
	json_t *o = json_object(), *hosts = json_array();
	json_t *problems = json_array();
	uint64_t events = 0, broken = 0;
	char problems_key[32], details_key[40];

	if (!o || !hosts || !problems)
		goto fail;
	snprintf(problems_key, sizeof(problems_key), "%s_problems",
		 v->pkg_problems ? v->problem_source : "");
	snprintf(details_key, sizeof(details_key), "%s_problem_details",
		 v->pkg_problems ? v->problem_source : "");
	for (size_t k = 0; k < v->npkg_details; k++)
		if (json_array_append_new(problems,
					  json_string(v->pkg_details[k])))
			goto fail;
	for (size_t i = 0; i < v->nhosts; i++) {
		const struct mw_verify_host *r = mw_verify_host_at(v, i);

		events += r->events;
		broken += r->breaks != 0;
		if (json_array_append_new(hosts, host_json(r)))
			goto fail;
	}
	if (json_object_set_new(o, "ok", json_boolean(mw_verify_ok(v))) ||
	    json_object_set_new(o, "key_id", json_string(v->key_id)) ||
	    json_object_set(o, "hosts", hosts) ||
	    set_u(o, "hosts_broken", broken) || set_u(o, "events", events) ||
	    set_u(o, "breaks", mw_verify_breaks(v)) ||
	    (v->cp_file_torn &&
	     json_object_set_new(o, "checkpoint_file_torn", json_true())) ||
	    (v->pkg_problems && (set_u(o, problems_key, v->pkg_problems) ||
				 json_object_set(o, details_key, problems))))
		goto fail;
	json_decref(hosts);
	json_decref(problems);
	return o;
fail:
	json_decref(hosts);
	json_decref(problems);
	json_decref(o);
	return NULL;
}
