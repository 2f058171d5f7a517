// SPDX-License-Identifier: BSD-2-Clause
/*
 * The evidence package writer (evidence.h): files written crash-safely
 * into one directory, each hashed as it is written for the manifest, the
 * verifier run over the result as `audit verify --package` runs it. The
 * NIST SP 800-53 mapping and FORMAT.md are data at the end of this file.
 */
#include "evidence.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "digest.h"
#include "fdio.h"
#include "log.h"
#include "private_dir.h"
#include "pgcopy.h"
#include "sign.h"
#include "verify.h"
#include "version.h"

/* The events are what agents and servers exchanged: the owner's alone. */
#define EVIDENCE_FILE_MODE 0600
#define EVIDENCE_DIR_MODE 0700

#define OUT_BUF (64u << 10)
#define US_PER_S 1000000ll
#define S_PER_DAY 86400ll

/* ---- time arguments ---- */

static bool num(const char *s, int n, int *out)
{
	int x = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (s[i] - '0');
	}
	*out = x;
	return true;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int d[12] = { 31, 28, 31, 30, 31, 30,
				   31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

#define TIME_FORMS                                                    \
	"an ISO 8601 date (YYYY-MM-DD, midnight UTC) or timestamp "   \
	"(YYYY-MM-DDTHH:MM[:SS[.ffffff]], UTC unless followed by Z, " \
	"+HH:MM or -HH:MM)"

int mw_evidence_parse_time(const char *s, int64_t *us, char *err, size_t errlen)
{
	size_t n = s ? strlen(s) : 0, i;
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, fd = 0;
	int sign = 0, oh = 0, om = 0;
	const char *why = NULL;
	int64_t secs;

	if (n < 10 || !num(s, 4, &y) || s[4] != '-' || !num(s + 5, 2, &mo) ||
	    s[7] != '-' || !num(s + 8, 2, &d))
		goto bad;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo)) {
		why = "no such date";
		goto bad;
	}
	if (n == 10)
		goto done;
	/* A date and a time: 'T', or one space as RFC 3339 allows (and as
	 * psql prints timestamps). */
	if ((s[10] != 'T' && s[10] != ' ') || n < 16 || !num(s + 11, 2, &h) ||
	    s[13] != ':' || !num(s + 14, 2, &mi))
		goto bad;
	i = 16;
	if (i < n && s[i] == ':') {
		if (n < i + 3 || !num(s + i + 1, 2, &sec))
			goto bad;
		i += 3;
		if (i < n && s[i] == '.') {
			for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
				if (fd == 6) {
					why = "a fraction of a second finer "
					      "than the microseconds the "
					      "trail records";
					goto bad;
				}
				frac = frac * 10 + (s[i] - '0');
				fd++;
			}
			if (!fd)
				goto bad;
			for (int k = fd; k < 6; k++)
				frac *= 10;
		}
	}
	if (h == 24) {
		why = "24:00 is ambiguous: write 00:00 of the next day";
		goto bad;
	}
	if (sec == 60) {
		why = "a leap second (:60) has no Unix time";
		goto bad;
	}
	if (h > 23 || mi > 59 || sec > 59) {
		why = "no such time of day";
		goto bad;
	}
	if (i == n)
		goto done;
	if (s[i] == 'Z' && i + 1 == n)
		goto done;
	if (s[i] != '+' && s[i] != '-')
		goto bad;
	sign = s[i] == '+' ? 1 : -1;
	i++;
	if (n - i == 2 && num(s + i, 2, &oh))
		;
	else if (n - i == 4 && num(s + i, 2, &oh) && num(s + i + 2, 2, &om))
		;
	else if (n - i == 5 && num(s + i, 2, &oh) && s[i + 2] == ':' &&
		 num(s + i + 3, 2, &om))
		;
	else
		goto bad;
	if (oh > 23 || om > 59) {
		why = "no such UTC offset";
		goto bad;
	}
done:
	secs = days_from_civil(y, mo, d) * S_PER_DAY + h * 3600ll + mi * 60ll +
	       sec - sign * (oh * 3600ll + om * 60ll);
	*us = secs * US_PER_S + frac;
	return 0;
bad:
	if (why)
		mw_set_err(err, errlen, "'%s': %s", s ? s : "", why);
	else
		mw_set_err(err, errlen, "'%s' is not %s", s ? s : "",
			   TIME_FORMS);
	return -1;
}

int mw_evidence_format_time(int64_t us, char out[MW_EVIDENCE_TIME_LEN])
{
	int64_t secs = us / US_PER_S, frac = us % US_PER_S;
	struct tm tm;
	time_t t;

	if (frac < 0) {
		frac += US_PER_S;
		secs--;
	}
	t = (time_t)secs;
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 1 ||
	    tm.tm_year + 1900 > 9999) {
		snprintf(out, MW_EVIDENCE_TIME_LEN, "?");
		return -1;
	}
	snprintf(out, MW_EVIDENCE_TIME_LEN,
		 "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (long long)frac);
	return 0;
}

/* ---- small pieces ---- */

/* A column's text as a JSON string, null for NULL or for bytes JSON
 * cannot carry (the row itself is in events.jsonl, exactly). */
static json_t *jvalue(const struct mw_chain_value *v)
{
	json_t *j = NULL;

	if (v->s && !memchr(v->s, 0, v->n))
		j = json_stringn(v->s, v->n);
	return j ? j : json_null();
}

static json_t *jtime(int64_t us)
{
	char t[MW_EVIDENCE_TIME_LEN];

	if (mw_evidence_format_time(us, t))
		return json_null();
	return json_string(t);
}

int mw_evidence_event_line(const struct mw_chain_value f[MW_CF_N + 1],
			   char **line, size_t *len, char *err, size_t errlen)
{
	json_t *o = json_object();
	char *buf = NULL;
	size_t n;
	int rc = -1;

	*line = NULL;
	*len = 0;
	if (!o)
		goto oom;
	for (int k = 0; k <= MW_CF_N; k++) {
		const char *name =
			k < MW_CF_N ? mw_chain_field_names[k] : "hash";
		json_t *v = json_null();

		if (f[k].s) {
			/* JSON strings are UTF-8 without NUL (the verifier
			 * refuses \u0000): PostgreSQL text never has it */
			v = memchr(f[k].s, 0, f[k].n)
				    ? NULL
				    : json_stringn(f[k].s, f[k].n);
			if (!v) {
				mw_set_err(err, errlen,
					   "column %s of an event is not "
					   "UTF-8 text: JSON cannot carry it",
					   name);
				goto fail;
			}
		}
		if (json_object_set_new(o, name, v))
			goto oom;
	}
	n = json_dumpb(o, NULL, 0, JSON_COMPACT);
	if (!n)
		goto oom;
	if (n >= MW_PGCOPY_MAX_LINE) {
		mw_set_err(err, errlen,
			   "an event is longer than %u bytes as JSON: the "
			   "verifier would refuse its line",
			   MW_PGCOPY_MAX_LINE);
		goto fail;
	}
	buf = malloc(n + 1);
	if (!buf || json_dumpb(o, buf, n, JSON_COMPACT) != n)
		goto oom;
	buf[n] = '\n';
	json_decref(o);
	*line = buf;
	*len = n + 1;
	return 0;
oom:
	mw_set_err(err, errlen, "out of memory");
	rc = -2;
fail:
	free(buf);
	json_decref(o);
	return rc;
}

int mw_evidence_policy_file_name(const char *sha256, bool text, char *out,
				 size_t outlen)
{
	int n;

	if (!sha256 || !mw_chain_is_hash(sha256, strlen(sha256)))
		return -1;
	n = snprintf(out, outlen, "%s/%s.%s", MW_EVIDENCE_POLICY_DIR, sha256,
		     text ? "yaml" : "txt");
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

/*
 * What masking did to the events (AU-3, privacy): the masking rules in
 * force with each policy_loaded event considered (they are recorded in its
 * params), never the key.
 */
json_t *mw_evidence_masking_json(const json_t *in_force)
{
	bool any = false;
	size_t i;
	json_t *v;

	json_array_foreach (in_force, i, v)
		any |= json_is_object(json_object_get(v, "masking"));
	return json_pack("{s:s,s:O}", "masking",
			 any ? "configured" : "not configured", "in_force",
			 in_force);
}

/* ---- files of the package ---- */

struct pkg_file {
	char name[MW_EVIDENCE_NAME_MAX];
	char sha256[MW_SHA256_HEX];
	uint64_t bytes;
};

/* One file being written: to tmp, hashed as it goes. */
struct out {
	int fd;
	char name[MW_EVIDENCE_NAME_MAX];
	char tmp[MW_EVIDENCE_NAME_MAX + 8];
	EVP_MD_CTX *md;
	uint64_t bytes;
	size_t used;
	char buf[OUT_BUF];
};

enum when { AT_SINCE, IN_WINDOW, IN_EXTENSION };

static const char *const when_names[] = {
	[AT_SINCE] = "in_force_at_since",
	[IN_WINDOW] = "loaded_in_window",
	[IN_EXTENSION] = "loaded_after_window",
};

struct ehost {
	char *name;
	size_t name_len;
	char *label; /* name escaped (mw_verify_escape): for text to read */
	/* the window, as the database summarised it */
	uint64_t win_first, win_last, win_events, cp_seq, anchor;
	/* what was exported */
	uint64_t events, first_seq, last_seq, extension, outside, bad_seq;
	uint64_t lead_in; /* events from anchor to before win_first */
	uint64_t cp_beyond; /* checkpoint-file lines past the last event */
	/* rows the package cannot hold: how many, the first and why */
	uint64_t left_out, left_out_seq;
	char left_out_why[256];
	uint64_t last_cp_seq; /* the last checkpoint event exported */
	bool have_ts;
	int64_t min_ts, max_ts;
	bool have_first;
	char first_prev_hash[MW_CHAIN_HASH_HEX];
	char last_hash[MW_CHAIN_HASH_HEX];
	char key_id[MW_SIGN_KEY_ID_LEN]; /* of its checkpoint events */
	uint64_t cp_lines;
	json_t *policy_at_since, *daemon_at_since; /* borrowed strings */
};

struct mw_evidence {
	char dir[PATH_MAX];
	int dfd;
	bool made_dir, made_policy_dir, finished;
	struct mw_evidence_request req;
	char *host_arg, *cp_path;
	char key_id[MW_SIGN_KEY_ID_LEN];
	struct ehost *hosts;
	size_t nhosts, caphosts;
	size_t *order; /* hosts sorted by name, for lookups */
	struct out *events; /* open from events_begin to events_end */
	bool events_done, cp_done;
	uint64_t total_events;
	struct pkg_file *files;
	size_t nfiles, capfiles;
	json_t *policies, *maskings, *starts, *notes;
	size_t policy_texts;
	bool cp_present;
	uint64_t cp_lines, cp_other, cp_unparsable;
	bool verified;
	uint64_t breaks;
	char *report;
};

static int sys_err(char *err, size_t errlen, const struct mw_evidence *e,
		   const char *name)
{
	mw_set_err(err, errlen, "%s/%s: %s", e->dir, name, strerror(errno));
	return -1;
}

/* Names inside the package: "x" or "policies/x", x of [A-Za-z0-9._-]
 * not starting with a dot. */
static bool valid_name(const char *name)
{
	const char *base = name;
	size_t n = strlen(name);

	if (!n || n >= MW_EVIDENCE_NAME_MAX)
		return false;
	if (!strncmp(name, MW_EVIDENCE_POLICY_DIR "/",
		     sizeof(MW_EVIDENCE_POLICY_DIR)))
		base = name + sizeof(MW_EVIDENCE_POLICY_DIR);
	if (!*base || *base == '.')
		return false;
	for (const char *p = base; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
		      *p == '-'))
			return false;
	return true;
}

static int policy_dir(struct mw_evidence *e, char *err, size_t errlen)
{
	int fd, rc = 0;

	if (e->made_policy_dir)
		return 0;
	if (mkdirat(e->dfd, MW_EVIDENCE_POLICY_DIR, EVIDENCE_DIR_MODE))
		return sys_err(err, errlen, e, MW_EVIDENCE_POLICY_DIR);
	e->made_policy_dir = true;
	/* whatever the umask; by its fd, never through a link */
	fd = openat(e->dfd, MW_EVIDENCE_POLICY_DIR,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchmod(fd, EVIDENCE_DIR_MODE))
		rc = sys_err(err, errlen, e, MW_EVIDENCE_POLICY_DIR);
	if (fd >= 0)
		close(fd);
	return rc;
}

static void out_abort(struct mw_evidence *e, struct out *o)
{
	if (!o)
		return;
	if (o->fd >= 0) {
		close(o->fd);
		unlinkat(e->dfd, o->tmp, 0);
	}
	EVP_MD_CTX_free(o->md);
	free(o);
}

static int out_open(struct mw_evidence *e, const char *name, struct out **po,
		    char *err, size_t errlen)
{
	struct out *o;

	*po = NULL;
	if (e->finished) {
		mw_set_err(err, errlen, "%s: the package is finished", name);
		return -1;
	}
	if (!valid_name(name)) {
		mw_set_err(err, errlen, "'%s' is not a package file name",
			   name);
		return -1;
	}
	if (!strncmp(name, MW_EVIDENCE_POLICY_DIR "/",
		     sizeof(MW_EVIDENCE_POLICY_DIR)) &&
	    policy_dir(e, err, errlen))
		return -1;
	o = calloc(1, sizeof(*o));
	if (!o) {
		mw_set_err(err, errlen, "out of memory");
		return -1;
	}
	o->fd = -1;
	snprintf(o->name, sizeof(o->name), "%s", name);
	snprintf(o->tmp, sizeof(o->tmp), "%s.tmp", name);
	o->md = EVP_MD_CTX_new();
	if (!o->md || !EVP_DigestInit_ex(o->md, mw_sha256_md(), NULL)) {
		mw_set_err(err, errlen, "cannot compute SHA-256");
		goto fail;
	}
	/* O_EXCL: the directory was empty, anything there is not ours */
	o->fd = openat(e->dfd, o->tmp,
		       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		       EVIDENCE_FILE_MODE);
	if (o->fd < 0) {
		sys_err(err, errlen, e, o->tmp);
		goto fail;
	}
	if (fchmod(o->fd, EVIDENCE_FILE_MODE)) {
		sys_err(err, errlen, e, o->tmp);
		goto fail;
	}
	*po = o;
	return 0;
fail:
	out_abort(e, o);
	return -1;
}

static int out_flush(struct mw_evidence *e, struct out *o, const char *p,
		     size_t n, char *err, size_t errlen)
{
	int rc = mw_write_all(o->fd, p, n);

	if (rc) {
		errno = -rc;
		return sys_err(err, errlen, e, o->tmp);
	}
	return 0;
}

static int out_write(struct mw_evidence *e, struct out *o, const void *data,
		     size_t n, char *err, size_t errlen)
{
	if (!EVP_DigestUpdate(o->md, data, n)) {
		mw_set_err(err, errlen, "cannot compute SHA-256");
		return -1;
	}
	o->bytes += n;
	if (o->used + n > OUT_BUF) {
		if (out_flush(e, o, o->buf, o->used, err, errlen))
			return -1;
		o->used = 0;
	}
	if (n >= OUT_BUF)
		return out_flush(e, o, data, n, err, errlen);
	memcpy(o->buf + o->used, data, n);
	o->used += n;
	return 0;
}

/* tmp to name, never over an existing file. */
static int rename_noreplace(int dfd, const char *from, const char *to)
{
	if (!renameat2(dfd, from, dfd, to, RENAME_NOREPLACE))
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* a filesystem without RENAME_NOREPLACE: link refuses to replace */
	if (linkat(dfd, from, dfd, to, 0))
		return -1;
	unlinkat(dfd, from, 0);
	return 0;
}

static int add_file(struct mw_evidence *e, const char *name, const char *sha256,
		    uint64_t bytes, char *err, size_t errlen)
{
	struct pkg_file *pf;

	if (e->nfiles == e->capfiles) {
		size_t ncap = e->capfiles ? e->capfiles * 2 : 32;
		struct pkg_file *n = realloc(e->files, ncap * sizeof(*n));

		if (!n) {
			mw_set_err(err, errlen, "out of memory");
			return -1;
		}
		e->files = n;
		e->capfiles = ncap;
	}
	pf = &e->files[e->nfiles++];
	snprintf(pf->name, sizeof(pf->name), "%s", name);
	snprintf(pf->sha256, sizeof(pf->sha256), "%s", sha256);
	pf->bytes = bytes;
	return 0;
}

/* Flushed, synced, closed, renamed to its name; consumes o. */
static int out_commit(struct mw_evidence *e, struct out *o, char *err,
		      size_t errlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[MW_SHA256_HEX];
	unsigned int mdlen = 0;
	int fd;

	if (out_flush(e, o, o->buf, o->used, err, errlen))
		goto fail;
	o->used = 0;
	if (fsync(o->fd)) {
		sys_err(err, errlen, e, o->tmp);
		goto fail;
	}
	fd = o->fd;
	o->fd = -1;
	if (close(fd)) {
		sys_err(err, errlen, e, o->tmp);
		unlinkat(e->dfd, o->tmp, 0);
		goto fail;
	}
	if (!EVP_DigestFinal_ex(o->md, md, &mdlen) || mdlen != 32) {
		mw_set_err(err, errlen, "cannot compute SHA-256");
		unlinkat(e->dfd, o->tmp, 0);
		goto fail;
	}
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (rename_noreplace(e->dfd, o->tmp, o->name)) {
		sys_err(err, errlen, e, o->name);
		unlinkat(e->dfd, o->tmp, 0);
		goto fail;
	}
	/* listed at once: a failure from here on removes it too */
	if (add_file(e, o->name, hex, o->bytes, err, errlen)) {
		unlinkat(e->dfd, o->name, 0);
		goto fail;
	}
	out_abort(e, o);
	return 0;
fail:
	out_abort(e, o);
	return -1;
}

int mw_evidence_write_file(struct mw_evidence *e, const char *name,
			   const void *data, size_t len, char *err,
			   size_t errlen)
{
	struct out *o;

	if (out_open(e, name, &o, err, errlen))
		return -1;
	if (out_write(e, o, data, len, err, errlen)) {
		out_abort(e, o);
		return -1;
	}
	return out_commit(e, o, err, errlen);
}

/* JSON, indented, with a final newline. */
static int write_json(struct mw_evidence *e, const char *name, json_t *j,
		      char *err, size_t errlen)
{
	char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	size_t n;
	int rc = -1;

	if (!text) {
		mw_set_err(err, errlen, "%s: out of memory", name);
		goto out;
	}
	n = strlen(text);
	text[n] = '\n'; /* replaces the NUL: written by length */
	rc = mw_evidence_write_file(e, name, text, n + 1, err, errlen);
out:
	free(text);
	json_decref(j);
	return rc;
}

/* Durable names: the directories synced after the renames. */
static int sync_dirs(struct mw_evidence *e, char *err, size_t errlen)
{
	if (e->made_policy_dir) {
		int fd = openat(e->dfd, MW_EVIDENCE_POLICY_DIR,
				O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0 || fsync(fd)) {
			if (fd >= 0)
				close(fd);
			return sys_err(err, errlen, e, MW_EVIDENCE_POLICY_DIR);
		}
		close(fd);
	}
	if (fsync(e->dfd)) {
		mw_set_err(err, errlen, "%s: %s", e->dir, strerror(errno));
		return -1;
	}
	/* a directory the export made is a name in its parent too */
	if (e->made_dir && mw_fsync_parent(e->dir, err, errlen))
		return -1;
	return 0;
}

static void note(struct mw_evidence *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note(struct mw_evidence *e, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* text built from our own values and escaped names: UTF-8 */
	json_array_append_new(e->notes, json_string(buf));
}

/* ---- the package ---- */

static bool dir_is_empty(int dfd)
{
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	bool empty = true;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while (empty && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = false;
	closedir(d);
	return empty;
}

int mw_evidence_open(struct mw_evidence **out, const char *dir,
		     const struct mw_evidence_request *req, char *err,
		     size_t errlen)
{
	struct mw_evidence *e;
	struct stat st;

	*out = NULL;
	if (!dir || !*dir || strlen(dir) >= sizeof(e->dir)) {
		mw_set_err(err, errlen, "no output directory, or too long");
		return -1;
	}
	if (req->since_us >= req->until_us) {
		mw_set_err(err, errlen,
			   "the window is empty: --since must be before "
			   "--until");
		return -1;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		mw_set_err(err, errlen, "out of memory");
		return -1;
	}
	e->dfd = -1;
	snprintf(e->dir, sizeof(e->dir), "%s", dir);
	e->req = *req;
	e->host_arg = req->host ? strdup(req->host) : NULL;
	e->req.host = e->host_arg;
	e->policies = json_array();
	e->maskings = json_array();
	e->starts = json_array();
	e->notes = json_array();
	if ((req->host && !e->host_arg) || !e->policies || !e->maskings ||
	    !e->starts || !e->notes) {
		mw_set_err(err, errlen, "out of memory");
		goto fail;
	}
	if (!mkdir(dir, EVIDENCE_DIR_MODE))
		e->made_dir = true;
	else if (errno != EEXIST) {
		mw_set_err(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	/* never through a link: DIR itself may be someone else's trap */
	e->dfd = mw_dir_open_nofollow(dir, err, errlen);
	if (e->dfd < 0)
		goto fail;
	if (fstat(e->dfd, &st)) {
		mw_set_err(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	/*
	 * Whoever else may write to DIR could swap the package's files or
	 * its policies/ directory for links while it is written and read
	 * back: refuse (a DIR made here and replaced in the meantime is
	 * caught too, by its owner).
	 */
	if (st.st_uid != geteuid() || (st.st_mode & 022)) {
		mw_set_err(err, errlen,
			   "%s: not a directory of uid %u's that no one else "
			   "may write to (owner %u, mode %04o): others could "
			   "replace the package's files as it is written",
			   dir, (unsigned)geteuid(), (unsigned)st.st_uid,
			   (unsigned)(st.st_mode & 07777));
		e->made_dir = false;
		goto fail;
	}
	if (!e->made_dir && !dir_is_empty(e->dfd)) {
		mw_set_err(err, errlen,
			   "%s is not empty: a package goes to a new or empty "
			   "directory, nothing is overwritten",
			   dir);
		goto fail;
	}
	if (fchmod(e->dfd, EVIDENCE_DIR_MODE)) {
		mw_set_err(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	*out = e;
	return 0;
fail:
	mw_evidence_free(e);
	return -1;
}

void mw_evidence_free(struct mw_evidence *e)
{
	if (!e)
		return;
	out_abort(e, e->events);
	if (!e->finished && e->dfd >= 0) {
		for (size_t i = 0; i < e->nfiles; i++)
			unlinkat(e->dfd, e->files[i].name, 0);
		if (e->made_policy_dir)
			unlinkat(e->dfd, MW_EVIDENCE_POLICY_DIR, AT_REMOVEDIR);
		if (e->made_dir)
			rmdir(e->dir);
	}
	if (e->dfd >= 0)
		close(e->dfd);
	for (size_t i = 0; i < e->nhosts; i++) {
		free(e->hosts[i].name);
		free(e->hosts[i].label);
	}
	free(e->hosts);
	free(e->order);
	free(e->files);
	free(e->host_arg);
	free(e->cp_path);
	free(e->report);
	json_decref(e->policies);
	json_decref(e->maskings);
	json_decref(e->starts);
	json_decref(e->notes);
	free(e);
}

int mw_evidence_public_key_file(struct mw_evidence *e, const char *path,
				char *err, size_t errlen)
{
	struct mw_sign_pub *pub = NULL;
	char *pem = NULL, why[512];
	size_t len = 0;
	int rc = -1;

	if (mw_sign_pub_load_pem(&pub, path, &pem, &len, why, sizeof(why))) {
		mw_set_err(err, errlen, "public key: %s", why);
		return -1;
	}
	/* the bytes that were parsed, not the file read again */
	if (mw_evidence_write_file(e, MW_EVIDENCE_PUBKEY, pem, len, err,
				   errlen))
		goto out;
	snprintf(e->key_id, sizeof(e->key_id), "%s", mw_sign_pub_key_id(pub));
	rc = 0;
out:
	free(pem);
	mw_sign_pub_free(pub);
	return rc;
}

const char *mw_evidence_key_id(const struct mw_evidence *e)
{
	return e->key_id;
}

/* ---- hosts ---- */

static int name_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

/* The position of name in e->order, or where it would go. */
static size_t host_pos(const struct mw_evidence *e, const char *name, size_t n,
		       bool *found)
{
	size_t lo = 0, hi = e->nhosts;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ehost *h = &e->hosts[e->order[mid]];
		int c = name_cmp(h->name, h->name_len, name, n);

		if (!c) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct ehost *find_host(struct mw_evidence *e,
			       const struct mw_chain_value *v)
{
	bool found;
	size_t pos;

	if (!v->s)
		return NULL;
	pos = host_pos(e, v->s, v->n, &found);
	return found ? &e->hosts[e->order[pos]] : NULL;
}

int mw_evidence_add_host(struct mw_evidence *e,
			 const struct mw_evidence_host_window *w, char *err,
			 size_t errlen)
{
	size_t n = w->host ? strlen(w->host) : 0, pos;
	char label[MW_VERIFY_NAME_ESC];
	struct ehost *h;
	bool found;

	if (e->events) {
		mw_set_err(err, errlen, "hosts come before the events");
		return -1;
	}
	/* a name too long for the verifier is exported all the same: it
	 * names the host's rows as malformed, and the export as broken */
	if (!n) {
		mw_set_err(err, errlen, "a host without a name");
		return -1;
	}
	/* the name is the database's: escaped wherever it is shown */
	mw_verify_escape(w->host, n, MW_VERIFY_HOST_MAX, label, sizeof(label));
	if (!w->first_seq || w->last_seq < w->first_seq || !w->events ||
	    (w->checkpoint_seq && w->checkpoint_seq <= w->last_seq) ||
	    w->anchor_seq > w->first_seq) {
		mw_set_err(err, errlen, "host %s: an inconsistent window",
			   label);
		return -1;
	}
	if (e->nhosts >= MW_EVIDENCE_MAX_HOSTS) {
		mw_set_err(err, errlen, "more than %d hosts",
			   MW_EVIDENCE_MAX_HOSTS);
		return -1;
	}
	pos = host_pos(e, w->host, n, &found);
	if (found) {
		mw_set_err(err, errlen, "host %s given twice", label);
		return -1;
	}
	if (e->nhosts == e->caphosts) {
		size_t ncap = e->caphosts ? e->caphosts * 2 : 8;
		struct ehost *nh = realloc(e->hosts, ncap * sizeof(*nh));
		size_t *no;

		if (!nh)
			goto oom;
		e->hosts = nh;
		no = realloc(e->order, ncap * sizeof(*no));
		if (!no)
			goto oom;
		e->order = no;
		e->caphosts = ncap;
	}
	h = &e->hosts[e->nhosts];
	memset(h, 0, sizeof(*h));
	h->name = strdup(w->host);
	h->label = strdup(label);
	if (!h->name || !h->label) {
		free(h->name);
		free(h->label);
		goto oom;
	}
	h->name_len = n;
	h->win_first = w->first_seq;
	h->win_last = w->last_seq;
	h->win_events = w->events;
	h->cp_seq = w->checkpoint_seq;
	h->anchor = w->anchor_seq ? w->anchor_seq : w->first_seq;
	memmove(&e->order[pos + 1], &e->order[pos],
		(e->nhosts - pos) * sizeof(*e->order));
	e->order[pos] = e->nhosts++;
	return 0;
oom:
	mw_set_err(err, errlen, "out of memory");
	return -1;
}

/* ---- policies and daemon starts ---- */

static const char no_text_inline[] =
	"Its text is not in the audit trail. The policy was written inline "
	"in\nthe daemon's configuration file (default: and rules: there, or "
	"no\npolicy at all), and the daemon records the text only of a "
	"policy\nkept in a file of its own (`policy: FILE`): the "
	"configuration may\nhold database credentials, which must not be "
	"copied into the trail.\nThe SHA-256 above is that of the "
	"configuration file's bytes as\nloaded.\n\nTo see the policy: obtain "
	"the configuration file that was in force\n(configuration "
	"management, backups) and check that `sha256sum FILE`\nprints the "
	"SHA-256 above. Decisions taken under this policy carry\nit as "
	"policy_sha256 in events.jsonl.\n";
_Static_assert(sizeof(no_text_inline) <= 1024, "take_policy's reason");

/* policies/<sha>.txt: why the package has no text for this policy. */
static int write_no_text(struct mw_evidence *e, const char *name,
			 const char *sha, const struct ehost *h, uint64_t seq,
			 int64_t ts, const char *file, const char *reason,
			 char *err, size_t errlen)
{
	char t[MW_EVIDENCE_TIME_LEN], *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc = -1;

	if (mw_evidence_format_time(ts, t))
		snprintf(t, sizeof(t), "(ts_us %lld)", (long long)ts);
	f = open_memstream(&text, &len);
	if (!f) {
		mw_set_err(err, errlen, "out of memory");
		return -1;
	}
	fprintf(f,
		"Policy %s\n\nLoaded by host %s at %s (policy_loaded "
		"event, seq %llu)\nfrom %s.\n\n%s",
		sha, h->label, t, (unsigned long long)seq,
		file ? file : "(no file named)", reason);
	if (fclose(f) || !text) {
		mw_set_err(err, errlen, "out of memory");
		goto out;
	}
	rc = mw_evidence_write_file(e, name, text, len, err, errlen);
out:
	free(text);
	return rc;
}

static bool have_file(const struct mw_evidence *e, const char *name)
{
	return !faccessat(e->dfd, name, F_OK, AT_SYMLINK_NOFOLLOW);
}

/*
 * A policy_loaded event: listed in policies.json, its text written as
 * policies/<sha256>.yaml once, when the event carries a text whose
 * SHA-256 is the one recorded; policies/<sha256>.txt says why otherwise.
 */
static int take_policy(struct mw_evidence *e, struct ehost *h,
		       const struct mw_chain_value *f, enum when w, char *err,
		       size_t errlen)
{
	const struct mw_chain_value *sv = &f[MW_CF_POLICY_SHA256];
	const struct mw_chain_value *dv = &f[MW_CF_DETAIL];
	char sha[MW_CHAIN_HASH_HEX] = "", text_sha[MW_SHA256_HEX] = "";
	char name[MW_EVIDENCE_NAME_MAX], reason[1024];
	json_t *params = NULL, *entry, *tf = json_null(), *tn = json_null();
	json_t *masking, *mentry;
	const char *file;
	bool recorded, ok_text = false;
	uint64_t seq = 0;
	int64_t ts = 0;
	int rc = -1;

	if (json_array_size(e->policies) >= MW_EVIDENCE_MAX_LISTED) {
		mw_set_err(err, errlen,
			   "more than %d policy_loaded events: export a "
			   "shorter window",
			   MW_EVIDENCE_MAX_LISTED);
		return -1;
	}
	mw_chain_value_seq(&f[MW_CF_SEQ], &seq);
	mw_chain_value_i64(&f[MW_CF_TS_US], &ts);
	if (sv->s && mw_chain_is_hash(sv->s, sv->n)) {
		memcpy(sha, sv->s, 64);
		sha[64] = '\0';
	}
	if (f[MW_CF_PARAMS].s)
		params = json_loadb(f[MW_CF_PARAMS].s, f[MW_CF_PARAMS].n,
				    JSON_REJECT_DUPLICATES, NULL);
	file = json_string_value(json_object_get(params, "file"));
	recorded = json_is_true(json_object_get(params, "text_recorded"));
	if (recorded && dv->s) {
		if (mw_sha256_hex(dv->s, dv->n, text_sha)) {
			mw_set_err(err, errlen, "cannot compute SHA-256");
			goto out;
		}
		ok_text = sha[0] && !strcmp(text_sha, sha);
	}
	if (!sha[0]) {
		json_decref(tn);
		tn = json_string("the event's policy_sha256 is not a SHA-256: "
				 "no file is named after it");
	} else {
		if (mw_evidence_policy_file_name(sha, ok_text, name,
						 sizeof(name)))
			goto bad_name;
		if (!ok_text) {
			if (!recorded)
				snprintf(reason, sizeof(reason), "%s",
					 no_text_inline);
			else if (!dv->s)
				snprintf(reason, sizeof(reason),
					 "The event says its text was "
					 "recorded, but its detail is "
					 "NULL.\n");
			else
				snprintf(reason, sizeof(reason),
					 "The event records a text (its "
					 "detail), but that text's SHA-256 "
					 "is\n%s, not the one above: it is "
					 "not given here as the policy's\n"
					 "text. The event itself is in "
					 "events.jsonl when it is in the\n"
					 "exported range.\n",
					 text_sha);
			json_decref(tn);
			tn = json_string(!recorded ? "text not recorded "
						     "(inline policy)"
					 : !dv->s  ? "text said to be recorded "
						     "but absent"
						   : "recorded text does not "
						     "match the SHA-256");
		}
		if (!have_file(e, name)) {
			if (ok_text ? mw_evidence_write_file(e, name, dv->s,
							     dv->n, err, errlen)
				    : write_no_text(e, name, sha, h, seq, ts,
						    file, reason, err, errlen))
				goto out;
			e->policy_texts += ok_text;
		}
		json_decref(tf);
		tf = json_string(name);
	}
	entry = json_pack(
		"{s:o,s:s%,s:I,s:o,s:I,s:o,s:o,s:b,s:s,s:b,s:O,s:O}", "sha256",
		sha[0] ? json_string(sha) : json_null(), "host", h->name,
		h->name_len, "seq", (json_int_t)seq, "loaded_at", jtime(ts),
		"ts_us", (json_int_t)ts, "file",
		file ? json_string(file) : json_null(), "rules",
		json_is_integer(json_object_get(params, "rules"))
			? json_incref(json_object_get(params, "rules"))
			: json_null(),
		"text_recorded", recorded, "in_force", when_names[w],
		"in_package_chain", w != AT_SINCE || seq >= h->anchor,
		"text_file", tf, "text_note", tn);
	if (!entry || json_array_append_new(e->policies, entry)) {
		mw_set_err(err, errlen, "out of memory");
		goto out;
	}
	masking = json_object_get(params, "masking");
	mentry = json_pack("{s:s%,s:I,s:o,s:s,s:O}", "host", h->name,
			   h->name_len, "seq", (json_int_t)seq, "loaded_at",
			   jtime(ts), "in_force", when_names[w], "masking",
			   json_is_object(masking) ? masking : json_null());
	if (!mentry || json_array_append_new(e->maskings, mentry)) {
		mw_set_err(err, errlen, "out of memory");
		goto out;
	}
	if (w == AT_SINCE)
		h->policy_at_since = json_object_get(entry, "sha256");
	rc = 0;
	goto out;
bad_name:
	mw_set_err(err, errlen, "cannot name the policy's file");
out:
	json_decref(tf);
	json_decref(tn);
	json_decref(params);
	return rc;
}

/* A daemon_start event: the version that ran, and with what settings. */
static int take_start(struct mw_evidence *e, struct ehost *h,
		      const struct mw_chain_value *f, enum when w, char *err,
		      size_t errlen)
{
	json_t *params = NULL, *entry, *version;
	uint64_t seq = 0;
	int64_t ts = 0;

	if (json_array_size(e->starts) >= MW_EVIDENCE_MAX_LISTED) {
		mw_set_err(err, errlen,
			   "more than %d daemon_start events: export a "
			   "shorter window",
			   MW_EVIDENCE_MAX_LISTED);
		return -1;
	}
	mw_chain_value_seq(&f[MW_CF_SEQ], &seq);
	mw_chain_value_i64(&f[MW_CF_TS_US], &ts);
	if (f[MW_CF_PARAMS].s)
		params = json_loadb(f[MW_CF_PARAMS].s, f[MW_CF_PARAMS].n,
				    JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(params)) {
		json_decref(params);
		params = json_null();
	}
	version = json_object_get(params, "version");
	entry = json_pack("{s:s%,s:I,s:o,s:I,s:O,s:o,s:O,s:s,s:b}", "host",
			  h->name, h->name_len, "seq", (json_int_t)seq, "ts",
			  jtime(ts), "ts_us", (json_int_t)ts, "version",
			  json_is_string(version) ? version : json_null(),
			  "detail", jvalue(&f[MW_CF_DETAIL]), "params", params,
			  "in_force", when_names[w], "in_package_chain",
			  w != AT_SINCE || seq >= h->anchor);
	json_decref(params);
	if (!entry || json_array_append_new(e->starts, entry)) {
		mw_set_err(err, errlen, "out of memory");
		return -1;
	}
	if (w == AT_SINCE)
		h->daemon_at_since = json_object_get(entry, "version");
	return 0;
}

int mw_evidence_context_row(struct mw_evidence *e,
			    const struct mw_chain_value f[MW_CF_N + 1],
			    char *err, size_t errlen)
{
	struct ehost *h = find_host(e, &f[MW_CF_HOST]);

	if (!h) {
		mw_set_err(err, errlen,
			   "an event of a host the window did not list");
		return -1;
	}
	if (mw_chain_value_is(&f[MW_CF_KIND], "policy_loaded"))
		return take_policy(e, h, f, AT_SINCE, err, errlen);
	if (mw_chain_value_is(&f[MW_CF_KIND], "daemon_start"))
		return take_start(e, h, f, AT_SINCE, err, errlen);
	mw_set_err(err, errlen,
		   "not a policy_loaded or daemon_start event: no context");
	return -1;
}

/* ---- events ---- */

int mw_evidence_events_begin(struct mw_evidence *e, char *err, size_t errlen)
{
	if (e->events || e->events_done) {
		mw_set_err(err, errlen, "the events are written once");
		return -1;
	}
	return out_open(e, MW_EVIDENCE_EVENTS, &e->events, err, errlen);
}

/* The key id a checkpoint event's params name ("" when none). */
static void checkpoint_key(struct ehost *h, const struct mw_chain_value *p)
{
	json_t *j = p->s ? json_loadb(p->s, p->n, 0, NULL) : NULL;
	const char *k = json_string_value(json_object_get(j, "key_id"));

	if (k && strlen(k) < sizeof(h->key_id))
		snprintf(h->key_id, sizeof(h->key_id), "%s", k);
	json_decref(j);
}

int mw_evidence_event(struct mw_evidence *e,
		      const struct mw_chain_value f[MW_CF_N + 1], char *err,
		      size_t errlen)
{
	struct ehost *h;
	char *line = NULL, why[256];
	size_t len;
	uint64_t seq = 0;
	int64_t ts;
	bool seq_ok;
	int rc;

	if (!e->events) {
		mw_set_err(err, errlen, "mw_evidence_events_begin first");
		return -1;
	}
	h = find_host(e, &f[MW_CF_HOST]);
	if (!h) {
		mw_set_err(err, errlen,
			   "an event of a host the window did not list");
		return -1;
	}
	seq_ok = mw_chain_value_seq(&f[MW_CF_SEQ], &seq);
	rc = mw_evidence_event_line(f, &line, &len, why, sizeof(why));
	if (rc == -1)
		return mw_evidence_event_left_out(
			e, &f[MW_CF_HOST], &f[MW_CF_SEQ], why, err, errlen);
	if (rc) {
		mw_set_err(err, errlen, "%s", why);
		return -1;
	}
	rc = out_write(e, e->events, line, len, err, errlen);
	free(line);
	if (rc)
		return -1;
	e->total_events++;
	h->events++;
	/* Malformed values go to the package as they are: the verifier
	 * names them. Only the summary skips them. */
	if (seq_ok) {
		if (!h->first_seq || seq < h->first_seq)
			h->first_seq = seq;
		if (seq > h->last_seq)
			h->last_seq = seq;
		if (seq > h->win_last)
			h->extension++;
		if (seq < h->win_first)
			h->lead_in++;
	} else {
		h->bad_seq++;
	}
	if (mw_chain_value_i64(&f[MW_CF_TS_US], &ts)) {
		if (!h->have_ts || ts < h->min_ts)
			h->min_ts = ts;
		if (!h->have_ts || ts > h->max_ts)
			h->max_ts = ts;
		h->have_ts = true;
		if (seq_ok && seq >= h->win_first && seq <= h->win_last &&
		    (ts < e->req.since_us || ts >= e->req.until_us))
			h->outside++;
	}
	if (!h->have_first) {
		h->have_first = true;
		if (f[MW_CF_PREV_HASH].s &&
		    mw_chain_is_hash(f[MW_CF_PREV_HASH].s,
				     f[MW_CF_PREV_HASH].n)) {
			memcpy(h->first_prev_hash, f[MW_CF_PREV_HASH].s, 64);
			h->first_prev_hash[64] = '\0';
		}
	}
	if (f[MW_CF_N].s && mw_chain_is_hash(f[MW_CF_N].s, f[MW_CF_N].n)) {
		memcpy(h->last_hash, f[MW_CF_N].s, 64);
		h->last_hash[64] = '\0';
	}
	if (mw_chain_value_is(&f[MW_CF_KIND], "checkpoint")) {
		if (seq_ok)
			h->last_cp_seq = seq;
		checkpoint_key(h, &f[MW_CF_PARAMS]);
	} else if (seq_ok && seq < h->win_first) {
		/* the lead-in: what was in force at --since came as a
		 * context row; older loads were superseded before it */
	} else if (mw_chain_value_is(&f[MW_CF_KIND], "policy_loaded")) {
		return take_policy(e, h, f,
				   seq_ok && seq > h->win_last ? IN_EXTENSION
							       : IN_WINDOW,
				   err, errlen);
	} else if (mw_chain_value_is(&f[MW_CF_KIND], "daemon_start")) {
		return take_start(e, h, f,
				  seq_ok && seq > h->win_last ? IN_EXTENSION
							      : IN_WINDOW,
				  err, errlen);
	}
	return 0;
}

int mw_evidence_event_left_out(struct mw_evidence *e,
			       const struct mw_chain_value *host,
			       const struct mw_chain_value *seqv,
			       const char *why, char *err, size_t errlen)
{
	struct ehost *h;
	uint64_t seq;

	if (!e->events) {
		mw_set_err(err, errlen, "mw_evidence_events_begin first");
		return -1;
	}
	h = find_host(e, host);
	if (!h) {
		mw_set_err(err, errlen,
			   "an event of a host the window did not list");
		return -1;
	}
	/* without its seq, nothing says where it was: the export fails */
	if (!mw_chain_value_seq(seqv, &seq)) {
		mw_set_err(err, errlen,
			   "host %s: an event that cannot be exported (%s) and "
			   "whose seq cannot be read",
			   h->label, why);
		return -1;
	}
	/* in the host's range: the verifier names its seq missing */
	if (!h->first_seq || seq < h->first_seq)
		h->first_seq = seq;
	if (seq > h->last_seq)
		h->last_seq = seq;
	if (!h->left_out++) {
		h->left_out_seq = seq;
		snprintf(h->left_out_why, sizeof(h->left_out_why), "%s", why);
	}
	return 0;
}

int mw_evidence_events_end(struct mw_evidence *e, char *err, size_t errlen)
{
	struct out *o = e->events;

	if (!o) {
		mw_set_err(err, errlen, "mw_evidence_events_begin first");
		return -1;
	}
	e->events = NULL;
	if (out_commit(e, o, err, errlen))
		return -1;
	e->events_done = true;
	return 0;
}

/* ---- the checkpoint file ---- */

int mw_evidence_checkpoint_file(struct mw_evidence *e, const char *path,
				char *err, size_t errlen)
{
	struct mw_verify_cp cp;
	struct out *o;
	struct stat st;
	char *line = NULL, why[256];
	size_t cap = 0;
	uint64_t total = 0;
	ssize_t n;
	FILE *f;
	int rc = -1, fd;

	if (!e->events_done || e->cp_done) {
		mw_set_err(err, errlen,
			   "the checkpoint file comes once, after the events");
		return -1;
	}
	free(e->cp_path);
	e->cp_path = strdup(path);
	if (!e->cp_path) {
		mw_set_err(err, errlen, "out of memory");
		return -1;
	}
	if (out_open(e, MW_EVIDENCE_CHECKPOINTS, &o, err, errlen))
		return -1;
	/* a FIFO in its place must not hang the export */
	fd = mw_open_regular(AT_FDCWD, path, false);
	f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!f) {
		int why = fd < 0 ? -fd : errno;

		if (fd >= 0)
			close(fd);
		if (why != ENOENT) {
			mw_set_err(err, errlen, "checkpoint file %s: %s", path,
				   why == EINVAL ? "not a regular file"
						 : strerror(why));
			out_abort(e, o);
			return -1;
		}
		note(e,
		     "the checkpoint file %s does not exist: checkpoints.jsonl "
		     "is empty, only the checkpoint events in the chain are "
		     "checked, and events deleted after the last of them "
		     "cannot be seen",
		     path);
		e->cp_done = true;
		return out_commit(e, o, err, errlen);
	}
	e->cp_present = true;
	if (!fstat(fileno(f), &st) && st.st_size > MW_VERIFY_CP_FILE_MAX) {
		mw_set_err(err, errlen,
			   "checkpoint file %s: larger than %u bytes: not a "
			   "checkpoint file",
			   path, MW_VERIFY_CP_FILE_MAX);
		goto out;
	}
	/* getline: every line is bounded by the file's bound */
	while ((n = getline(&line, &cap, f)) > 0) {
		struct mw_chain_value hv;
		struct ehost *h;

		total += (size_t)n;
		if (total > MW_VERIFY_CP_FILE_MAX) {
			mw_set_err(err, errlen,
				   "checkpoint file %s: grew past %u bytes",
				   path, MW_VERIFY_CP_FILE_MAX);
			goto out;
		}
		if ((size_t)n > MW_VERIFY_CP_LINE_MAX ||
		    mw_verify_parse_checkpoint(line, (size_t)n, &cp, why,
					       sizeof(why))) {
			bool blank = true;

			for (ssize_t i = 0; i < n && blank; i++)
				blank = line[i] == '\n' || line[i] == ' ' ||
					line[i] == '\t' || line[i] == '\r';
			e->cp_unparsable += !blank;
			continue;
		}
		hv.s = cp.host;
		hv.n = strlen(cp.host);
		h = find_host(e, &hv);
		if (!h || !h->events || cp.seq < h->first_seq) {
			e->cp_other++;
			continue;
		}
		/*
		 * Past the last event exported: with a checkpoint event ending
		 * the range, the lines of later events are not the package's.
		 * Without one, the database's chain ends there; an old enough
		 * line for a later event says it was cut off, and goes in so
		 * that the verifier names the deleted tail.
		 */
		if (cp.seq > h->last_seq) {
			if (h->cp_seq || !cp.ts_us ||
			    cp.ts_us > e->req.created_us -
					       MW_EVIDENCE_CP_GRACE_US) {
				e->cp_other++;
				continue;
			}
			h->cp_beyond++;
		}
		if (out_write(e, o, line, (size_t)n, err, errlen))
			goto out;
		h->cp_lines++;
		e->cp_lines++;
	}
	if (ferror(f)) {
		mw_set_err(err, errlen, "checkpoint file %s: %s", path,
			   strerror(errno));
		goto out;
	}
	if (e->cp_unparsable)
		note(e,
		     "%llu line(s) of the checkpoint file %s could not be "
		     "parsed and are not in the package (`mcpwarden audit "
		     "verify` on the host reports them)",
		     (unsigned long long)e->cp_unparsable, path);
	rc = out_commit(e, o, err, errlen);
	o = NULL;
	e->cp_done = !rc;
out:
	if (o)
		out_abort(e, o);
	free(line);
	fclose(f);
	return rc;
}

/* ---- finishing ---- */

static int entry_cmp(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	const char *hx = json_string_value(json_object_get(x, "host"));
	const char *hy = json_string_value(json_object_get(y, "host"));
	json_int_t sx = json_integer_value(json_object_get(x, "seq"));
	json_int_t sy = json_integer_value(json_object_get(y, "seq"));
	int c = strcmp(hx ? hx : "", hy ? hy : "");

	if (c)
		return c;
	return sx < sy ? -1 : sx > sy;
}

/* A copy of arr sorted by host, then seq. */
static json_t *sorted(json_t *arr)
{
	size_t n = json_array_size(arr);
	json_t **v = calloc(n ? n : 1, sizeof(*v)), *out = json_array();

	if (!v || !out)
		goto fail;
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(arr, i);
	qsort(v, n, sizeof(*v), entry_cmp);
	for (size_t i = 0; i < n; i++)
		if (json_array_append(out, v[i]))
			goto fail;
	free(v);
	return out;
fail:
	free(v);
	json_decref(out);
	return NULL;
}

/* a key id from a checkpoint event's params, escaped */
#define ESC_KEY_LEN (MW_SIGN_KEY_ID_LEN * 4 + 8)

/* Notes in the text of the export's own values and escaped names. */
static void host_notes(struct mw_evidence *e)
{
	if (!e->nhosts)
		note(e, "no events in the window: the package holds no events "
			"(and verifies trivially)");
	for (size_t i = 0; i < e->nhosts; i++) {
		const struct ehost *h = &e->hosts[e->order[i]];
		char key[ESC_KEY_LEN];

		if (h->first_seq > 1)
			note(e,
			     "host %s: the package starts at seq %llu, where "
			     "the window starts; the verifier's note that the "
			     "chain starts there ('earlier events removed by "
			     "retention') means here that the events before "
			     "the window are not in the package: seq %llu's "
			     "link to seq %llu (its prev_hash) cannot be "
			     "checked from the package alone",
			     h->label, (unsigned long long)h->first_seq,
			     (unsigned long long)h->first_seq,
			     (unsigned long long)h->first_seq - 1);
		if (h->cp_seq && h->extension)
			note(e,
			     "host %s: the window's last event is seq %llu; "
			     "the package goes on to the checkpoint event at "
			     "seq %llu (%llu event(s) after the window) so "
			     "that every event in it is covered by a signed "
			     "checkpoint",
			     h->label, (unsigned long long)h->win_last,
			     (unsigned long long)h->cp_seq,
			     (unsigned long long)h->extension);
		if (!h->cp_seq)
			note(e,
			     "host %s: no checkpoint after seq %llu yet: "
			     "the events after the last checkpoint in the "
			     "package (%llu) are chained but not covered by a "
			     "signature; export again after the next "
			     "checkpoint (every audit.checkpoint_events "
			     "events or checkpoint_ms, and at shutdown)",
			     h->label, (unsigned long long)h->win_last,
			     (unsigned long long)h->last_cp_seq);
		if (h->left_out)
			note(e,
			     "host %s: %llu event(s) could not be exported and "
			     "are missing from the package, which the "
			     "verification names as deleted; the first, seq "
			     "%llu: %s",
			     h->label, (unsigned long long)h->left_out,
			     (unsigned long long)h->left_out_seq,
			     h->left_out_why);
		if (h->outside)
			note(e,
			     "host %s: %llu exported event(s) within the "
			     "window's seqs have a ts outside the window (the "
			     "host's clock went back): they are exported so "
			     "that the chain stays whole",
			     h->label, (unsigned long long)h->outside);
		if (h->first_seq > 1 && !h->policy_at_since)
			note(e,
			     "host %s: no policy_loaded event before the "
			     "window: the policy in force at --since is not "
			     "known from the trail (retention dropped it, or "
			     "the events before have none)",
			     h->label);
		if (h->key_id[0] && strcmp(h->key_id, e->key_id))
			note(e,
			     "host %s: its checkpoints are signed by key "
			     "%s, not by this package's key %s "
			     "(public-key.pem is this daemon's): export that "
			     "host from its own daemon's configuration",
			     h->label,
			     mw_verify_escape(h->key_id, strlen(h->key_id),
					      MW_SIGN_KEY_ID_LEN, key,
					      sizeof(key)),
			     e->key_id);
	}
}

/*
 * A file of the package by the directory held open, not by its name: what
 * is verified is what was written, even were DIR renamed away since.
 */
static void package_file(const struct mw_evidence *e, const char *name,
			 char *out, size_t outlen)
{
	snprintf(out, outlen, "/proc/self/fd/%d/%s", e->dfd, name);
}

/*
 * The package's files that the verifier parses as well as hashes: each
 * opened once, through the package's directory and not through a link,
 * and hashed as it is parsed, so that the manifest's SHA-256 and the
 * verdict are of the same bytes. Opened by name for each, the file could
 * be replaced in between by whoever can write the directory: the
 * manifest would match one file and the verdict describe another.
 */
enum { HELD_CPS, HELD_EVENTS, HELD_N };

struct held_file {
	const char *name;
	int fd; /* -1: not open */
	bool listed; /* the manifest gives sha and bytes */
	char sha[MW_SHA256_HEX];
	uint64_t bytes;
	struct mw_verify_digest got; /* of what was parsed */
};

static void held_init(struct held_file held[HELD_N])
{
	held[HELD_CPS] =
		(struct held_file){ .name = MW_EVIDENCE_CHECKPOINTS, .fd = -1 };
	held[HELD_EVENTS] =
		(struct held_file){ .name = MW_EVIDENCE_EVENTS, .fd = -1 };
}

static void held_close(struct held_file held[HELD_N])
{
	for (int i = 0; i < HELD_N; i++) {
		if (held[i].fd >= 0)
			close(held[i].fd);
		held[i].fd = -1;
	}
}

/* Why a file of the package could not be opened (rc: -errno). */
static const char *open_why(int rc)
{
	return rc == -ENOENT   ? "missing"
	       : rc == -EINVAL ? "not a regular file"
	       : rc == -ELOOP  ? "a symbolic link"
			       : strerror(-rc);
}

/*
 * The held files opened through dfd: 0, or -1 with err. With v (`audit
 * verify --package`), one that is not there to read (missing, not a
 * regular file, a symbolic link) is what the package shows, not a
 * failure of the verifier: a package problem, its fd left -1 and its
 * lines unread, and the report is printed (exit 1).
 */
static int held_open(struct mw_verify *v, struct held_file held[HELD_N],
		     int dfd, char *err, size_t errlen)
{
	for (int i = 0; i < HELD_N; i++) {
		int fd = mw_open_regular(dfd, held[i].name, true);

		if (fd >= 0) {
			held[i].fd = fd;
			continue;
		}
		if (v && (fd == -ENOENT || fd == -EINVAL || fd == -ELOOP)) {
			mw_verify_package_problem(v, "%s: %s", held[i].name,
						  open_why(fd));
			continue;
		}
		mw_set_err(err, errlen, "%s: %s", held[i].name, open_why(fd));
		return -1;
	}
	return 0;
}

/*
 * The package's checkpoint lines (then extra_cps, a copy of the daemon's
 * checkpoint file, when not NULL) and events into v, the hosts' ranges
 * given already: what `audit verify --package` and the export share.
 * Read from the held files (opened through the package's directory, the
 * one whose files the manifest is checked against, not reopened by its
 * name, which could name another directory by then), their digests in
 * held[].got.
 */
static int load_package(struct mw_verify *v, struct held_file held[HELD_N],
			const char *extra_cps, char *err, size_t errlen)
{
	struct held_file *cps = &held[HELD_CPS], *ev = &held[HELD_EVENTS];

	/* fd -1: not there to read, a package problem already */
	mw_verify_package_lines(v, true);
	if (cps->fd >= 0 &&
	    mw_verify_load_checkpoints_fd(v, cps->fd, cps->name, &cps->got, err,
					  errlen))
		return -1;
	mw_verify_package_lines(v, false);
	if (extra_cps &&
	    mw_verify_load_checkpoints(v, extra_cps, NULL, err, errlen))
		return -1;
	if (ev->fd >= 0 &&
	    mw_verify_load_jsonl_fd(v, ev->fd, ev->name, &ev->got, err, errlen))
		return -1;
	return 0;
}

/* The verifier over the package's own files, as `audit verify
 * --package DIR` runs it but for the manifest, not written yet: the
 * ranges are the export's own. Its reports with the export's notes. */
static int verify_package(struct mw_evidence *e, char *err, size_t errlen)
{
	struct held_file held[HELD_N];
	struct mw_sign_pub *pub = NULL;
	struct mw_verify *v = NULL;
	char path[PATH_MAX + 64], why[1024], *text = NULL;
	size_t len = 0, nn = json_array_size(e->notes);
	json_t *j = NULL;
	FILE *f;
	int rc = -1;

	held_init(held);
	package_file(e, MW_EVIDENCE_PUBKEY, path, sizeof(path));
	if (mw_sign_pub_load(&pub, path, why, sizeof(why)) ||
	    mw_verify_new(&v, pub, why, sizeof(why)))
		goto verr;
	mw_verify_ranges_given(v);
	for (size_t i = 0; i < e->nhosts; i++) {
		const struct ehost *h = &e->hosts[e->order[i]];

		if (h->first_seq &&
		    mw_verify_expect_range(v, h->name, h->first_seq,
					   h->last_seq, why, sizeof(why)))
			goto verr;
	}
	if (held_open(NULL, held, e->dfd, why, sizeof(why)) ||
	    load_package(v, held, NULL, why, sizeof(why)))
		goto verr;
	mw_verify_finish(v);
	e->verified = mw_verify_ok(v);
	e->breaks = mw_verify_breaks(v);
	f = open_memstream(&text, &len);
	if (!f)
		goto oom;
	mw_verify_print(v, f);
	if (nn)
		fprintf(f, "\nnotes from the export:\n");
	for (size_t i = 0; i < nn; i++)
		fprintf(f, "  - %s\n",
			json_string_value(json_array_get(e->notes, i)));
	if (fclose(f) || !text)
		goto oom;
	if (mw_evidence_write_file(e, MW_EVIDENCE_VERIFY_TXT, text, len, err,
				   errlen))
		goto out;
	j = mw_verify_json(v);
	if (!j || json_object_set_new(j, "source", json_string("package")) ||
	    json_object_set(j, "export_notes", e->notes))
		goto oom;
	rc = write_json(e, MW_EVIDENCE_VERIFY_JSON, j, err, errlen);
	j = NULL;
	if (!rc) {
		e->report = text;
		text = NULL;
	}
	goto out;
verr:
	mw_set_err(err, errlen, "verifying the package: %s", why);
	goto out;
oom:
	mw_set_err(err, errlen, "out of memory");
out:
	held_close(held);
	json_decref(j);
	free(text);
	mw_verify_free(v);
	mw_sign_pub_free(pub);
	return rc;
}

/* ---- checking a package against its manifest ---- */

/* manifest.json's bound: its lists are bounded by MW_EVIDENCE_MAX_LISTED */
#define MANIFEST_MAX (64u << 20)
#define MANIFEST_SHA_MAX 256
#define LISTED_FILES_MAX (2 * MW_EVIDENCE_MAX_LISTED + 32)

/* The SHA-256 and size of a regular file of the package: 0, or -errno. */
static int hash_package_file(int dfd, const char *name, char hex[MW_SHA256_HEX],
			     uint64_t *bytes)
{
	unsigned char md[EVP_MAX_MD_SIZE], *buf = malloc(OUT_BUF);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int fd = mw_open_regular(dfd, name, true), rc = -EIO;
	unsigned int mdlen = 0;
	ssize_t n;

	*bytes = 0;
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	if (!buf || !ctx || !EVP_DigestInit_ex(ctx, mw_sha256_md(), NULL))
		goto out;
	while ((n = mw_read_full(fd, buf, OUT_BUF)) > 0) {
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
			goto out;
		*bytes += (uint64_t)n;
	}
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	if (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32)
		goto out;
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every file of the directory (prefix: "" or "policies/") is listed. */
static void check_unlisted(struct mw_verify *v, int dfd, const char *sub,
			   const char **listed, size_t n)
{
	int fd = sub ? openat(dfd, sub,
			      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
		     : dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	char name[MW_EVIDENCE_NAME_MAX + 8];
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		mw_verify_package_problem(v, "%s/ cannot be listed",
					  sub ? sub : ".");
		return;
	}
	while ((de = readdir(d))) {
		const char *key = name;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!sub && (!strcmp(de->d_name, MW_EVIDENCE_MANIFEST) ||
			     !strcmp(de->d_name, MW_EVIDENCE_MANIFEST_SHA)))
			continue;
		if (!sub && !strcmp(de->d_name, MW_EVIDENCE_POLICY_DIR)) {
			if (fstatat(dfd, de->d_name, &st,
				    AT_SYMLINK_NOFOLLOW) ||
			    !S_ISDIR(st.st_mode))
				mw_verify_package_problem(
					v, "%s is not a directory",
					MW_EVIDENCE_POLICY_DIR);
			continue;
		}
		if (snprintf(name, sizeof(name), "%s%s%s", sub ? sub : "",
			     sub ? "/" : "", de->d_name) >= (int)sizeof(name) ||
		    !valid_name(name) ||
		    !bsearch(&key, listed, n, sizeof(*listed), str_cmp)) {
			mw_verify_package_problem(
				v,
				"the package holds a file its manifest does "
				"not list%s%s",
				valid_name(name) ? ": " : "",
				valid_name(name) ? name : "");
		}
	}
	closedir(d);
}

struct listed_file {
	const char *name, *sha;
	uint64_t bytes;
};

static int listed_cmp(const void *a, const void *b)
{
	return strcmp(((const struct listed_file *)a)->name,
		      ((const struct listed_file *)b)->name);
}

/*
 * A listed file against the manifest's SHA-256 and size; a held one's are
 * kept for check_held, once it is parsed.
 */
static void check_file(struct mw_verify *v, int dfd,
		       const struct listed_file *lf,
		       struct held_file held[HELD_N])
{
	char hex[MW_SHA256_HEX];
	uint64_t size;
	int rc;

	for (int i = 0; i < HELD_N; i++) {
		if (strcmp(held[i].name, lf->name))
			continue;
		held[i].listed = true;
		/* one longer than a SHA-256 would match once cut short */
		if (strlen(lf->sha) < sizeof(held[i].sha))
			strcpy(held[i].sha, lf->sha);
		held[i].bytes = lf->bytes;
		return;
	}
	rc = hash_package_file(dfd, lf->name, hex, &size);
	if (rc)
		mw_verify_package_problem(v, "%s: %s", lf->name, open_why(rc));
	else if (strcmp(hex, lf->sha) || size != lf->bytes)
		mw_verify_package_problem(v,
					  "%s: changed (its SHA-256 or size is "
					  "not the manifest's)",
					  lf->name);
}

/* The files the manifest lists: each there, with its SHA-256 and size, and
 * nothing else in the directory. */
static void check_files(struct mw_verify *v, int dfd, const json_t *files,
			struct held_file held[HELD_N])
{
	size_t n = json_array_size(files), k = 0, u = 0;
	struct listed_file *lf;
	const char **listed;
	json_t *fe;
	size_t i;

	if (!json_is_array(files) || n > LISTED_FILES_MAX) {
		mw_verify_package_problem(v,
					  "the manifest's files are not a "
					  "list of at most %d",
					  LISTED_FILES_MAX);
		return;
	}
	lf = calloc(n ? n : 1, sizeof(*lf));
	listed = calloc(n ? n : 1, sizeof(*listed));
	if (!lf || !listed) {
		mw_verify_package_problem(v, "out of memory");
		goto out;
	}
	json_array_foreach (files, i, fe) {
		const char *name =
			json_string_value(json_object_get(fe, "name"));
		const char *sha =
			json_string_value(json_object_get(fe, "sha256"));
		json_t *bytes = json_object_get(fe, "bytes");

		if (!name || !valid_name(name) || !sha ||
		    !json_is_integer(bytes) ||
		    !strcmp(name, MW_EVIDENCE_MANIFEST) ||
		    !strcmp(name, MW_EVIDENCE_MANIFEST_SHA)) {
			mw_verify_package_problem(v,
						  "the manifest lists a file "
						  "entry that is not one");
			continue;
		}
		lf[k++] = (struct listed_file){
			.name = name,
			.sha = sha,
			.bytes = (uint64_t)json_integer_value(bytes),
		};
	}
	/*
	 * Sorted first, so that a name listed again sits next to its first
	 * entry: a problem, and not hashed again (LISTED_FILES_MAX entries
	 * naming one large events.jsonl would have the verifier read it as
	 * many times).
	 */
	qsort(lf, k, sizeof(*lf), listed_cmp);
	for (i = 0; i < k; i++) {
		if (u && !strcmp(listed[u - 1], lf[i].name)) {
			/* once a name, however many copies */
			if (i < 2 || strcmp(lf[i - 2].name, lf[i].name))
				mw_verify_package_problem(
					v, "the manifest lists %s twice",
					lf[i].name);
			continue;
		}
		listed[u++] = lf[i].name;
		check_file(v, dfd, &lf[i], held);
	}
	check_unlisted(v, dfd, NULL, listed, u);
	if (!faccessat(dfd, MW_EVIDENCE_POLICY_DIR, F_OK, AT_SYMLINK_NOFOLLOW))
		check_unlisted(v, dfd, MW_EVIDENCE_POLICY_DIR, listed, u);
out:
	free(listed);
	free(lf);
}

/* The range of each host the manifest lists, for the verifier. */
static int expect_ranges(struct mw_verify *v, const json_t *exported, char *err,
			 size_t errlen)
{
	json_t *x;
	size_t i;

	if (!json_is_array(exported)) {
		mw_verify_package_problem(v, "the manifest has no "
					     "window.exported list");
		return 0;
	}
	/* FORMAT.md section 6, step 3: events of a host the list does not
	 * give a range are a break, an empty list too */
	mw_verify_ranges_given(v);
	json_array_foreach (exported, i, x) {
		const char *host =
			json_string_value(json_object_get(x, "host"));
		json_t *first = json_object_get(x, "first_seq");
		json_t *last = json_object_get(x, "last_seq");

		if (!host || !json_is_integer(first) ||
		    !json_is_integer(last) || json_integer_value(first) < 0 ||
		    json_integer_value(last) < 0) {
			mw_verify_package_problem(v,
						  "the manifest lists a host "
						  "without its range");
			continue;
		}
		/* a host of which the export could read no seq */
		if (!json_integer_value(first) && !json_integer_value(last))
			continue;
		if (mw_verify_expect_range(
			    v, host, (uint64_t)json_integer_value(first),
			    (uint64_t)json_integer_value(last), err, errlen))
			return -1;
	}
	return 0;
}

/*
 * FORMAT.md section 1: manifest.sha256 holds manifest.json's SHA-256;
 * manifest.json lists every other file with its SHA-256 and size; then
 * each host's range for the verifier (section 6, step 3).
 */
static int check_manifest(struct mw_verify *v, int dfd,
			  struct held_file held[HELD_N], char *err,
			  size_t errlen)
{
	char *sums = NULL, *manifest = NULL, hex[MW_SHA256_HEX];
	char want[MANIFEST_SHA_MAX];
	size_t slen = 0, mlen = 0;
	json_t *m = NULL;
	int rc;

	rc = mw_read_regular(dfd, MW_EVIDENCE_MANIFEST_SHA, true,
			     MANIFEST_SHA_MAX, &sums, &slen);
	if (rc)
		mw_verify_package_problem(
			v,
			"%s: %s: the export did not finish, or the "
			"package was altered",
			MW_EVIDENCE_MANIFEST_SHA,
			rc == -ENOENT ? "missing" : "unreadable");
	rc = mw_read_regular(dfd, MW_EVIDENCE_MANIFEST, true, MANIFEST_MAX,
			     &manifest, &mlen);
	if (rc) {
		mw_verify_package_problem(v, "%s: %s", MW_EVIDENCE_MANIFEST,
					  rc == -ENOENT ? "missing"
							: "unreadable");
		rc = 0;
		goto out;
	}
	if (mw_sha256_hex(manifest, mlen, hex)) {
		mw_set_err(err, errlen, "cannot compute SHA-256");
		rc = -1;
		goto out;
	}
	snprintf(want, sizeof(want), "%s  %s\n", hex, MW_EVIDENCE_MANIFEST);
	if (sums && strcmp(sums, want))
		mw_verify_package_problem(v,
					  "%s does not name the SHA-256 of "
					  "%s (%s)",
					  MW_EVIDENCE_MANIFEST_SHA,
					  MW_EVIDENCE_MANIFEST, hex);
	m = json_loadb(manifest, mlen, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(m)) {
		mw_verify_package_problem(v, "%s is not a JSON object",
					  MW_EVIDENCE_MANIFEST);
		rc = 0;
		goto out;
	}
	check_files(v, dfd, json_object_get(m, "files"), held);
	rc = expect_ranges(
		v, json_object_get(json_object_get(m, "window"), "exported"),
		err, errlen);
out:
	json_decref(m);
	free(manifest);
	free(sums);
	return rc;
}

/* The held files, parsed, against the manifest's SHA-256 and size. */
static void check_held(struct mw_verify *v, const struct held_file held[HELD_N])
{
	for (int i = 0; i < HELD_N; i++) {
		const struct held_file *h = &held[i];

		/* not listed: check_unlisted said so */
		if (h->fd < 0 || !h->listed)
			continue;
		if (strcmp(h->got.sha256, h->sha) || h->got.bytes != h->bytes)
			mw_verify_package_problem(
				v,
				"%s: changed (its SHA-256 or size is not the "
				"manifest's)",
				h->name);
	}
}

int mw_evidence_verify_dir(struct mw_verify *v, const char *dir,
			   const char *extra_cps, char *err, size_t errlen)
{
	struct held_file held[HELD_N];
	int dfd, rc = -1;

	held_init(held);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		mw_set_err(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (held_open(v, held, dfd, err, errlen))
		goto out;
	rc = check_manifest(v, dfd, held, err, errlen);
	if (!rc)
		rc = load_package(v, held, extra_cps, err, errlen);
	if (!rc)
		check_held(v, held);
out:
	held_close(held);
	close(dfd);
	return rc;
}

static json_t *host_json(const struct mw_evidence *e, const struct ehost *h)
{
	json_t *o;

	o = json_pack(
		"{s:s%,s:I,s:I,s:I,s:{s:I,s:I,s:I},s:o,s:I,s:I,s:I,s:o,s:o,"
		"s:b,s:o,s:o,s:o,s:s,s:I,s:O,s:O}",
		"host", h->name, h->name_len, "first_seq",
		(json_int_t)h->first_seq, "last_seq", (json_int_t)h->last_seq,
		"events", (json_int_t)h->events, "window", "first_seq",
		(json_int_t)h->win_first, "last_seq", (json_int_t)h->win_last,
		"events", (json_int_t)h->win_events,
		"extended_to_checkpoint_seq",
		h->cp_seq ? json_integer((json_int_t)h->cp_seq) : json_null(),
		"events_after_window", (json_int_t)h->extension,
		"events_before_window", (json_int_t)h->lead_in,
		"events_outside_window", (json_int_t)h->outside, "first_ts",
		h->have_ts ? jtime(h->min_ts) : json_null(), "last_ts",
		h->have_ts ? jtime(h->max_ts) : json_null(), "starts_mid_chain",
		h->first_seq > 1, "first_prev_hash",
		h->first_prev_hash[0] ? json_string(h->first_prev_hash)
				      : json_null(),
		"last_hash",
		h->last_hash[0] ? json_string(h->last_hash) : json_null(),
		"signed_through_seq",
		h->last_cp_seq > 1
			? json_integer((json_int_t)(h->last_cp_seq - 1))
			: json_null(),
		"key_id", h->key_id[0] ? h->key_id : e->key_id,
		"checkpoint_file_lines", (json_int_t)h->cp_lines,
		"policy_at_since",
		h->policy_at_since ? h->policy_at_since : json_null(),
		"daemon_version_at_since",
		h->daemon_at_since ? h->daemon_at_since : json_null());
	return o;
}

static int file_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pkg_file *)a)->name,
		      ((const struct pkg_file *)b)->name);
}

static const char *masking_status(const json_t *in_force)
{
	json_t *m = mw_evidence_masking_json(in_force);
	bool on =
		!strcmp(json_string_value(json_object_get(m, "masking")) ?: "",
			"configured");

	json_decref(m);
	return on ? "configured: events hold masked values where the rules "
		    "in force applied, and say how many (masked)"
		  : "not configured: no policy_loaded event of the window "
		    "carries masking rules; events hold what the peers sent";
}

static json_t *manifest_json(struct mw_evidence *e)
{
	json_t *m, *hosts = json_array(), *files = json_array();
	json_t *starts = sorted(e->starts);
	char since[MW_EVIDENCE_TIME_LEN], until[MW_EVIDENCE_TIME_LEN];

	mw_evidence_format_time(e->req.since_us, since);
	mw_evidence_format_time(e->req.until_us, until);
	if (!hosts || !files || !starts)
		goto fail;
	for (size_t i = 0; i < e->nhosts; i++)
		if (json_array_append_new(hosts,
					  host_json(e, &e->hosts[e->order[i]])))
			goto fail;
	qsort(e->files, e->nfiles, sizeof(*e->files), file_cmp);
	for (size_t i = 0; i < e->nfiles; i++)
		if (json_array_append_new(
			    files,
			    json_pack("{s:s,s:s,s:I}", "name", e->files[i].name,
				      "sha256", e->files[i].sha256, "bytes",
				      (json_int_t)e->files[i].bytes)))
			goto fail;
	m = json_pack("{s:s,s:i,s:s,s:o,s:{s:s,s:s},"
		      "s:{s:{s:s,s:s,s:I,s:I,s:b,s:o},s:O},s:I,"
		      "s:{s:s,s:s},s:{s:o,s:b,s:I,s:I,s:I},s:O,"
		      "s:{s:s,s:I,s:I},s:{s:s,s:s},s:{s:b,s:I,s:s,s:s},"
		      "s:{s:s,s:s},s:O,s:O}",
		      "format", "mcpwarden evidence package", "format_version",
		      MW_EVIDENCE_FORMAT_VERSION, "format_doc",
		      MW_EVIDENCE_FORMAT, "created_at",
		      jtime(e->req.created_us), "created_by", "program",
		      "mcpwarden", "version", MW_VERSION, "window", "requested",
		      "since", since, "until", until, "since_us",
		      (json_int_t)e->req.since_us, "until_us",
		      (json_int_t)e->req.until_us, "until_excluded", 1, "host",
		      e->req.host ? json_string(e->req.host) : json_null(),
		      "exported", hosts, "events", (json_int_t)e->total_events,
		      "public_key", "file", MW_EVIDENCE_PUBKEY, "key_id",
		      e->key_id, "checkpoint_file", "path",
		      e->cp_path ? json_string(e->cp_path) : json_null(),
		      "present", e->cp_present, "lines_exported",
		      (json_int_t)e->cp_lines, "lines_not_in_range",
		      (json_int_t)e->cp_other, "lines_unparsable",
		      (json_int_t)e->cp_unparsable, "daemon_versions", starts,
		      "policies", "file", MW_EVIDENCE_POLICIES, "events",
		      (json_int_t)json_array_size(e->policies), "texts",
		      (json_int_t)e->policy_texts, "masking", "file",
		      MW_EVIDENCE_MASKING, "status",
		      masking_status(e->maskings), "verification", "ok",
		      e->verified, "breaks", (json_int_t)e->breaks, "json",
		      MW_EVIDENCE_VERIFY_JSON, "text", MW_EVIDENCE_VERIFY_TXT,
		      "nist_800_53", "markdown", MW_EVIDENCE_NIST_MD, "json",
		      MW_EVIDENCE_NIST_JSON, "notes", e->notes, "files", files);
	json_decref(hosts);
	json_decref(files);
	json_decref(starts);
	return m;
fail:
	json_decref(hosts);
	json_decref(files);
	json_decref(starts);
	return NULL;
}

int mw_evidence_finish(struct mw_evidence *e, bool *verified, char *err,
		       size_t errlen)
{
	const struct pkg_file *mf = NULL;
	char *md = NULL, line[MW_SHA256_HEX + sizeof(MW_EVIDENCE_MANIFEST) + 4];
	size_t mdlen = 0;
	FILE *f;
	int n;

	*verified = false;
	if (!e->events_done || !e->cp_done || !e->key_id[0]) {
		mw_set_err(err, errlen,
			   "the public key, the events and the checkpoint "
			   "file come before the rest");
		return -1;
	}
	if (write_json(e, MW_EVIDENCE_POLICIES, sorted(e->policies), err,
		       errlen) ||
	    write_json(e, MW_EVIDENCE_MASKING,
		       mw_evidence_masking_json(e->maskings), err, errlen) ||
	    write_json(e, MW_EVIDENCE_NIST_JSON, mw_evidence_nist_json(), err,
		       errlen))
		return -1;
	f = open_memstream(&md, &mdlen);
	if (!f) {
		mw_set_err(err, errlen, "out of memory");
		return -1;
	}
	n = mw_evidence_nist_md(f);
	if (fclose(f) || n || !md) {
		free(md);
		mw_set_err(err, errlen, "out of memory");
		return -1;
	}
	n = mw_evidence_write_file(e, MW_EVIDENCE_NIST_MD, md, mdlen, err,
				   errlen);
	free(md);
	if (n ||
	    mw_evidence_write_file(e, MW_EVIDENCE_FORMAT, mw_evidence_format_md,
				   strlen(mw_evidence_format_md), err, errlen))
		return -1;
	host_notes(e);
	if (sync_dirs(e, err, errlen) || verify_package(e, err, errlen) ||
	    write_json(e, MW_EVIDENCE_MANIFEST, manifest_json(e), err, errlen))
		return -1;
	for (size_t i = 0; i < e->nfiles; i++)
		if (!strcmp(e->files[i].name, MW_EVIDENCE_MANIFEST))
			mf = &e->files[i];
	if (!mf) {
		mw_set_err(err, errlen, "the manifest was not written");
		return -1;
	}
	/* sha256sum's format: `sha256sum -c manifest.sha256` checks it */
	n = snprintf(line, sizeof(line), "%s  %s\n", mf->sha256,
		     MW_EVIDENCE_MANIFEST);
	/* everything else durable before the file that completes it */
	if (sync_dirs(e, err, errlen) ||
	    mw_evidence_write_file(e, MW_EVIDENCE_MANIFEST_SHA, line, (size_t)n,
				   err, errlen) ||
	    sync_dirs(e, err, errlen))
		return -1;
	e->finished = true;
	*verified = e->verified;
	return 0;
}

void mw_evidence_print_summary(const struct mw_evidence *e, FILE *f)
{
	char since[MW_EVIDENCE_TIME_LEN], until[MW_EVIDENCE_TIME_LEN];

	mw_evidence_format_time(e->req.since_us, since);
	mw_evidence_format_time(e->req.until_us, until);
	fprintf(f,
		"evidence package %s: %llu event(s) of %zu host(s), window "
		"%s to %s (excluded)\n",
		e->dir, (unsigned long long)e->total_events, e->nhosts, since,
		until);
	for (size_t i = 0; i < e->nhosts; i++) {
		const struct ehost *h = &e->hosts[e->order[i]];

		fprintf(f, "  host %s: seq %llu-%llu, %llu event(s)", h->label,
			(unsigned long long)h->first_seq,
			(unsigned long long)h->last_seq,
			(unsigned long long)h->events);
		if (h->extension)
			fprintf(f,
				", %llu after the window up to the "
				"checkpoint at seq %llu",
				(unsigned long long)h->extension,
				(unsigned long long)h->cp_seq);
		fputc('\n', f);
	}
	fprintf(f,
		"  %zu policy event(s) (%zu text(s)), %zu daemon start(s), "
		"%llu "
		"checkpoint file line(s)\n\n",
		json_array_size(e->policies), e->policy_texts,
		json_array_size(e->starts), (unsigned long long)e->cp_lines);
	if (e->report)
		fputs(e->report, f);
}

/* ---- the NIST SP 800-53 mapping ---- */

#define NIST_SOURCES 7
#define NIST_GAPS 5

struct nist_source {
	const char *what; /* fields, views, files */
	const char *how;
};

struct nist_control {
	const char *id, *name;
	const char *status; /* "provided" or "partial" */
	const char *summary;
	struct nist_source src[NIST_SOURCES];
	const char *gaps[NIST_GAPS];
};

/*
 * What this version records, control by control. Honest about the gaps:
 * an assessor reads "partial" and the list of what is not provided.
 */
static const struct nist_control nist[] = {
	{
		"AC-2",
		"Account Management",
		"partial",
		"mcpwarden does not manage accounts: it records which "
		"operating-system accounts and workloads used which MCP "
		"servers, identified by the kernel when they connected, so "
		"that the use of accounts can be reviewed against what they "
		"were authorised to do.",
		{
			{ "conn_open events (view mcpwarden.connections): uid, "
			  "gid, user_name, pid, tgid, comm, exe, cgroup_id, "
			  "cgroup, client_addr, server_addr",
			  "the identity behind every steered connection: uid, "
			  "gid, pid, tgid, cgroup id and comm captured by the "
			  "eBPF connect hook in the connecting task's context; "
			  "exe (/proc/PID/exe at accept), the cgroup path and "
			  "the user name (passwd at accept) added by the "
			  "daemon" },
			{ "conn_id on every event of a connection",
			  "links each message to its connection, hence to the "
			  "account that sent or received it (join on host and "
			  "conn_id; the views tool_calls and messages do)" },
			{ "server, server_addr",
			  "which protected MCP server each account reached" },
		},
		{
			"subject (OIDC) is NULL in every view: OIDC identities "
			"are not captured yet",
			"the lifecycle of accounts (creation, change, "
			"disabling, removal) belongs to the operating system "
			"or the identity provider and is not recorded here",
			"user_name is the passwd name when the connection was "
			"accepted; a uid without a passwd entry is recorded "
			"as its number",
		},
	},
	{
		"AC-3",
		"Access Enforcement",
		"provided",
		"Every message with a method, in both directions, is judged "
		"by the policy in force before it is passed on; the decision, "
		"the deciding rule and the policy's SHA-256 are recorded with "
		"it, and the policy's text is in the package by that hash.",
		{
			{ "decision, rule (request and notification events; "
			  "views tool_calls, messages)",
			  "allow, deny, approval_required (refused: approval "
			  "is not implemented yet), or would_deny / "
			  "would_require_approval for an allowed message that "
			  "an audit-mode rule would have refused; rule names "
			  "the deciding rule, (default) or (no policy)" },
			{ "policy_sha256; policies/<sha256>.yaml; "
			  "policies.json; policy_loaded events",
			  "the exact policy that decided, its text, and when "
			  "each policy took effect (start, reload)" },
			{ "response events of refused requests (error, code "
			  "-32003); is_error and response in tool_calls",
			  "what the client was answered: the refusal names the "
			  "rule" },
			{ "http_error events (view http_errors): http_status, "
			  "detail, decision, rule",
			  "refused notifications (403) and messages refused "
			  "before or without judgement" },
			{ "tool_pinned, tool_changed, tools_accepted events "
			  "(view tool_changes)",
			  "tool definitions pinned when first seen; a changed "
			  "one is hidden and its calls refused under a "
			  "tool_changed rule until an operator accepts it" },
		},
		{
			"an inline policy's text is not in the trail, only its "
			"hash (policies/<sha256>.txt says so): keep the policy "
			"in a file of its own (policy: FILE) to have its text "
			"recorded",
			"approve rules refuse for now: there is no approval "
			"workflow to record",
			"tools hidden from a caller by tools/list filtering "
			"are not recorded as decisions of their own: the "
			"response recorded is the filtered list the client "
			"received",
		},
	},
	{
		"AC-6(9)",
		"Least Privilege | Log Use of Privileged Functions",
		"partial",
		"The operator actions that change what mcpwarden enforces or "
		"how it records are events of the chain.",
		{
			{ "policy_loaded events: policy_sha256, params (file, "
			  "sha256, rules, text_recorded), detail (the text)",
			  "every policy change, at start and at each reload "
			  "(mcpwarden reload, SIGHUP)" },
			{ "tools_accepted events: server, detail",
			  "an operator accepting a server's changed tool "
			  "definitions (mcpwarden policy accept-tools)" },
			{ "daemon_start events: detail (mcpwardend VERSION), "
			  "params (version, config, host, "
			  "durable_before_forward, splice, busy_poll_us, "
			  "checkpoint_events, checkpoint_ms)",
			  "each start, with the settings that weaken or "
			  "strengthen the trail (durable_before_forward: false "
			  "is recorded)" },
			{ "control events (view control_actions): method (the "
			  "command), decision (allow, deny, error), detail, "
			  "and the caller's uid, gid, pid, comm and cgroup",
			  "every enforce, release, reload and accept-tools "
			  "asked through the control socket, with who asked; "
			  "a process under enforcement asking to weaken it is "
			  "refused (deny); an enforce the daemon carries out "
			  "again itself, when a cgroup enforced by path is "
			  "made again, with the daemon as the caller" },
		},
		{
			"the caller is a uid and a process (the control socket "
			"admits only root and the daemon's own user), not a "
			"person; a reload by SIGHUP has no caller",
			"the audit database owner's actions (retention: "
			"drop_partitions_before) are not in the chain; a "
			"dropped start shows as a chain that starts after "
			"seq 1",
			"daemon stops are not events; the checkpoint written "
			"at shutdown ends a run",
		},
	},
	{
		"AU-2",
		"Event Logging",
		"provided",
		"The event types recorded, all of them always (there is "
		"nothing to select): the field kind of every event.",
		{
			{ "kind: conn_open, conn_close",
			  "every steered connection, opened and closed" },
			{ "kind: request, notification, response",
			  "every JSON-RPC message, in both directions" },
			{ "kind: http_error",
			  "malformed HTTP or JSON, refused and unjudgeable "
			  "messages, upstream failures" },
			{ "kind: tool_pinned, tool_changed, tools_accepted",
			  "tool definitions first seen, changed, accepted" },
			{ "kind: policy_loaded, daemon_start, checkpoint",
			  "the policy and daemon in force, and the signed "
			  "statements of the chain" },
			{ "events.jsonl",
			  "every event of the exported range, in chain order" },
		},
		{
			"the selection is fixed: the events an organisation "
			"decides to log are met by recording everything on "
			"the steered connections, not by configuration",
			"daemon stops are not events (see AC-6(9))",
		},
	},
	{
		"AU-3",
		"Content of Audit Records",
		"provided",
		"Each record says what happened, when, where, from which "
		"source, with what outcome, and who was behind it.",
		{
			{ "what: kind, direction, method, tool, params, "
			  "http_method, http_path",
			  "the message and its arguments as sent" },
			{ "when: ts_us (ts in the views)",
			  "microseconds since the Unix epoch (see AU-8)" },
			{ "where: host, server, server_addr, client_addr",
			  "the recording host, the protected server and both "
			  "ends of the connection" },
			{ "source and identity: uid, gid, user_name, pid, "
			  "tgid, comm, exe, cgroup_id, cgroup",
			  "on the conn_open event; every other event of the "
			  "connection names it by conn_id (on a control "
			  "event: the caller of the command)" },
			{ "outcome: decision, rule, result, error (response "
			  "and is_error in tool_calls), http_status",
			  "whether the message was allowed and what the "
			  "server or mcpwarden answered" },
		},
		{
			"identity fields are on the conn_open event only: in "
			"events.jsonl join on (host, conn_id); the views do "
			"the join",
			"subject (OIDC) is empty until OIDC identities are "
			"captured",
		},
	},
	{
		"AU-3(1)",
		"Content of Audit Records | Additional Audit Information",
		"partial",
		"More than the minimum, for investigations.",
		{
			{ "session_id, rpc_id, request_seq, latency_us",
			  "the MCP session, the JSON-RPC id, the request a "
			  "response answers, and how long the server took" },
			{ "params, result, error",
			  "the full JSON of arguments and answers" },
			{ "policy_sha256",
			  "the exact policy that decided each message" },
			{ "exe, cgroup, cgroup_id, tgid",
			  "the executable and the workload (cgroup) behind "
			  "the call" },
			{ "seq, prev_hash, hash",
			  "the event's place in its host's chain" },
		},
		{
			"OIDC subjects and groups are not recorded yet",
			"values are masked only where the masking rules in "
			"force say so (masking.json); masked (per event) "
			"counts what was replaced",
		},
	},
	{
		"AU-8",
		"Time Stamps",
		"provided",
		"One clock, one unit, no time zone: the host's "
		"CLOCK_REALTIME when the daemon saw the message, in "
		"microseconds since the Unix epoch (UTC by definition).",
		{
			{ "ts_us (events.jsonl), ts (views, timestamptz)",
			  "the time of each event, exactly as hashed; the "
			  "views show the same instant as a timestamp" },
			{ "seq",
			  "the order of a host's events is seq, not ts: a "
			  "clock stepped back shows as ts going back between "
			  "consecutive seqs (the manifest counts exported "
			  "events whose ts lies outside the window)" },
			{ "ts_us of checkpoints.jsonl lines",
			  "when each checkpoint was signed" },
		},
		{
			"the synchronisation of the host clock (NTP, AU-8(1)) "
			"is the host's: its source and offset are not "
			"recorded",
		},
	},
	{
		"AU-9(3)",
		"Protection of Audit Information | Cryptographic Protection",
		"provided",
		"A SHA-256 hash chain per host over every field, Ed25519 "
		"signatures of it in the chain and in a file outside the "
		"database, and SHA-256 of every file of this package.",
		{
			{ "hash, prev_hash (every event)",
			  "a change, deletion, insertion or reordering breaks "
			  "the chain (FORMAT.md gives the encoding)" },
			{ "checkpoint events; checkpoints.jsonl; "
			  "public-key.pem",
			  "signatures of (host, seq, hash) every "
			  "checkpoint_events events or checkpoint_ms and at "
			  "shutdown: a chain recomputed without the private "
			  "key does not match them" },
			{ "verification.json, verification.txt",
			  "the result of verifying this package as written" },
			{ "manifest.json, manifest.sha256",
			  "the SHA-256 of every file of the package" },
		},
		{
			"the private key is on the host (state_dir/"
			"audit-key.pem, 0600): root there can sign; keep the "
			"public key and a copy of the checkpoint file where "
			"the host's administrators cannot write",
			"public-key.pem is only as trustworthy as its origin: "
			"compare its key_id with one obtained independently",
			"manifest.sha256 is not signed: record its value where "
			"the package's holder cannot change it",
			"events after the last checkpoint are chained but not "
			"signed: the export extends the window to the next "
			"checkpoint, and the manifest says when there was "
			"none yet",
		},
	},
	{
		"AU-10",
		"Non-repudiation",
		"partial",
		"The identity of the process behind each call is captured by "
		"the kernel, not claimed by the client, bound to every "
		"message of its connection and sealed by the chain and the "
		"daemon's signatures.",
		{
			{ "conn_open: pid, tgid, uid, gid, cgroup_id, comm; "
			  "conn_id on every event",
			  "captured by the eBPF cgroup/connect hook in the "
			  "connecting task's context, bound to each call and "
			  "its answer" },
			{ "hash chain, checkpoint signatures",
			  "the binding cannot be changed afterwards without "
			  "the verification seeing it" },
		},
		{
			"the binding is to an operating-system identity "
			"(uid, process, cgroup), not to a person: OIDC "
			"subjects are not captured yet",
			"the signatures are the daemon's (what it saw): "
			"clients do not sign their requests",
			"processes sharing a uid and a cgroup are told apart "
			"only by pid, tgid, comm and exe",
		},
	},
	{
		"AU-12",
		"Audit Record Generation",
		"provided",
		"mcpwardend generates the records itself, on the connection, "
		"for every message; when durable_before_forward is true a "
		"request reaches the server only once its event is durable.",
		{
			{ "every event (events.jsonl)",
			  "generated for every steered connection and every "
			  "message on it, in both directions" },
			{ "daemon_start params.durable_before_forward",
			  "true: a request is forwarded only once its event is "
			  "committed in PostgreSQL or synced to the local "
			  "spool; false is recorded" },
			{ "http_error events",
			  "what could not be judged or was refused is recorded "
			  "too" },
		},
		{
			"only connections from enforced cgroups to protected "
			"servers are seen; connections open before enforcement "
			"are not recorded",
		},
	},
	{
		"SC-7",
		"Boundary Protection",
		"partial",
		"The boundary is between enforced cgroups and protected MCP "
		"servers: every connection across it is steered through "
		"mcpwardend, judged and recorded; what is refused there is "
		"recorded with why.",
		{
			{ "conn_open, conn_close: cgroup, cgroup_id, "
			  "client_addr, server, server_addr",
			  "every connection across the boundary, from which "
			  "workload to which server" },
			{ "decision deny / approval_required; response errors "
			  "-32003",
			  "messages refused at the boundary" },
			{ "http_error events: http_status, detail",
			  "malformed HTTP, refused or unjudgeable messages, "
			  "upstream failures" },
		},
		{
			"which cgroups are enforced and which servers are "
			"protected is in the configuration and the pinned "
			"eBPF links, not in events (daemon_start records the "
			"configuration file's path only)",
			"traffic to servers that are not protected is outside "
			"mcpwarden's view",
		},
	},
};

#define NIST_N (sizeof(nist) / sizeof(nist[0]))

json_t *mw_evidence_nist_json(void)
{
	json_t *o = json_pack("{s:s,s:i,s:[]}", "catalog",
			      "NIST SP 800-53 Rev. 5", "package_format_version",
			      MW_EVIDENCE_FORMAT_VERSION, "controls");
	json_t *controls = json_object_get(o, "controls");

	for (size_t i = 0; o && i < NIST_N; i++) {
		const struct nist_control *c = &nist[i];
		json_t *src = json_array(), *gaps = json_array(), *x;
		int bad = !src || !gaps;

		for (int k = 0; !bad && k < NIST_SOURCES && c->src[k].what; k++)
			bad = json_array_append_new(
				src, json_pack("{s:s,s:s}", "evidence",
					       c->src[k].what, "how",
					       c->src[k].how));
		for (int k = 0; !bad && k < NIST_GAPS && c->gaps[k]; k++)
			bad = json_array_append_new(gaps,
						    json_string(c->gaps[k]));
		x = bad ? NULL
			: json_pack("{s:s,s:s,s:s,s:s,s:o,s:o}", "id", c->id,
				    "name", c->name, "status", c->status,
				    "summary", c->summary, "answered_by", src,
				    "not_provided", gaps);
		if (!x || json_array_append_new(controls, x)) {
			/* json_pack took src and gaps, even when it failed */
			if (bad) {
				json_decref(src);
				json_decref(gaps);
			}
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

int mw_evidence_nist_md(FILE *f)
{
	fprintf(f,
		"# NIST SP 800-53 Rev. 5: where this package answers\n\n"
		"Which fields of `events.jsonl` (the same columns as the "
		"views of\n`mcpwarden.*` in the audit database), which files "
		"of the package,\nanswer each control, and what is not "
		"provided yet. Status \"partial\"\nmeans part of the control "
		"is met here and the rest is listed. The\nsame in JSON: "
		"`%s`.\n",
		MW_EVIDENCE_NIST_JSON);
	for (size_t i = 0; i < NIST_N; i++) {
		const struct nist_control *c = &nist[i];

		fprintf(f, "\n## %s %s\n\nStatus: %s. %s\n\n", c->id, c->name,
			c->status, c->summary);
		fprintf(f, "| evidence | how it answers |\n| --- | --- |\n");
		for (int k = 0; k < NIST_SOURCES && c->src[k].what; k++)
			fprintf(f, "| %s | %s |\n", c->src[k].what,
				c->src[k].how);
		if (c->gaps[0])
			fprintf(f, "\nNot provided:\n\n");
		for (int k = 0; k < NIST_GAPS && c->gaps[k]; k++)
			fprintf(f, "- %s\n", c->gaps[k]);
	}
	return ferror(f) ? -1 : 0;
}

/* ---- FORMAT.md ---- */

/*
 * The package format, written into every package. Keep it complete enough
 * to write a verifier from (it reproduces README.md's "Audit trail format
 * (version 1)"), and in step with what this file writes.
 */
const char mw_evidence_format_md[] =
	"# mcpwarden evidence package, format version 1\n"
	"\n"
	"This directory was written by `mcpwarden evidence export --since T\n"
	"--until T -o DIR [--host H]`. It holds the audit events of a time "
	"window\n"
	"as recorded by mcpwarden (a daemon that steers AI agents' MCP\n"
	"connections through itself, judges every JSON-RPC message against a\n"
	"policy and records it), with what is needed to check them away from "
	"the\n"
	"database: the hash chain, the signed checkpoints, the public key, "
	"the\n"
	"policies that decided, and this document, which is enough to write a\n"
	"verifier of your own. `mcpwarden audit verify --package DIR` is one.\n"
	"\n"
	"## 1. Is it complete, is it intact\n"
	"\n"
	"- `manifest.sha256` is written last, once every other file is on "
	"disk.\n"
	"  A directory without it is not a package: the export failed or was\n"
	"  interrupted.\n"
	"- `sha256sum -c manifest.sha256` (run in the directory) checks\n"
	"  `manifest.json`. Its `files` lists every other file once, with "
	"its SHA-256\n"
	"  and size in bytes; check each of them, and that the directory "
	"holds\n"
	"  nothing else (only the files listed, `manifest.json` and\n"
	"  `manifest.sha256`; `policies/` is a directory). For example:\n"
	"  `jq -r '.files[] | \"\\(.sha256)  \\(.name)\"' manifest.json | "
	"sha256sum -c`\n"
	"  `mcpwarden audit verify --package DIR` does all of this: a file\n"
	"  missing, changed, not listed or listed twice, a manifest that\n"
	"  manifest.sha256 does not name, is a break (`package: BROKEN`).\n"
	"- Nothing in the package signs the manifest: record the value in\n"
	"  `manifest.sha256` somewhere the package's holder cannot change it "
	"(the\n"
	"  case file, a ticket) when you receive the package. The events\n"
	"  themselves are protected by the hash chain and the signatures\n"
	"  (sections 4 and 5), which do not depend on the manifest: what is\n"
	"  there is unaltered and contiguous. Where the range ends is not:\n"
	"  events cut off either end (and the events after the last\n"
	"  checkpoint, which no signature covers yet) are told only by the\n"
	"  manifest's `window` and counts, so by a manifest whose SHA-256 you\n"
	"  recorded independently, or by asking the host for the range.\n"
	"- Files are mode 0600, directories 0700: the events hold what the\n"
	"  agents and servers exchanged. Give the package to whom it is for.\n"
	"\n"
	"## 2. Files\n"
	"\n"
	"| file | holds |\n"
	"| --- | --- |\n"
	"| `events.jsonl` | the events, one JSON object per line (section 3) "
	"|\n"
	"| `checkpoints.jsonl` | the lines of the daemon's checkpoint file "
	"(kept outside the database) that vouch for exported events, byte for "
	"byte (section 5) |\n"
	"| `public-key.pem` | the daemon's Ed25519 public key, "
	"SubjectPublicKeyInfo PEM |\n"
	"| `policies/<sha256>.yaml` | the text of a policy in force during the "
	"window, whose SHA-256 is `<sha256>` |\n"
	"| `policies/<sha256>.txt` | instead of the text, why the trail has "
	"none (an inline policy: its bytes are the whole configuration file, "
	"which may hold credentials and is not recorded) |\n"
	"| `policies.json` | every policy_loaded event considered (section 7) "
	"|\n"
	"| `masking.json` | `masking` (`configured` or `not configured`) and "
	"`in_force`: per policy_loaded event considered (host, seq, "
	"loaded_at, in_force), the masking rules and detectors it came with "
	"(null: none), never the key |\n"
	"| `manifest.json` | what was asked and exported, per host; the daemon "
	"versions; the SHA-256 of every file (section 8) |\n"
	"| `manifest.sha256` | the SHA-256 of `manifest.json`, as `sha256sum` "
	"prints it |\n"
	"| `verification.txt`, `verification.json` | the verifier's report on "
	"this package as written (section 9) |\n"
	"| `nist-800-53.md`, `nist-800-53.json` | which fields and files "
	"answer AC-2, AC-3, AC-6(9), AU-2, AU-3, AU-3(1), AU-8, AU-9(3), "
	"AU-10, AU-12 and SC-7, and what is not provided |\n"
	"| `FORMAT.md` | this document |\n"
	"\n"
	"## 3. events.jsonl\n"
	"\n"
	"One event per line, each line ended by a line feed, UTF-8. The events "
	"of\n"
	"one host are contiguous (hosts one after the other, never "
	"interleaved)\n"
	"and in increasing `seq`.\n"
	"\n"
	"Each line is a JSON object with exactly 37 keys: the 35 fields "
	"below,\n"
	"`masked` (section 4's optional field; a package written before it\n"
	"existed has 36 keys, without it) and `hash`. Each value is a JSON\n"
	"string holding the column's text exactly as\n"
	"the database stores it, which is what the hash covers, or `null` for "
	"SQL\n"
	"NULL. Numbers are strings too (`\"seq\":\"42\"`): nothing is "
	"re-encoded.\n"
	"Decode the JSON string (its escapes) to get the bytes. Do not rely "
	"on\n"
	"the order of the keys; a line with a missing, repeated or unknown key "
	"is\n"
	"malformed.\n"
	"\n"
	"| field | meaning |\n"
	"| --- | --- |\n"
	"| `host` | the name of the host that recorded the event (its own "
	"chain) |\n"
	"| `seq` | the event's place in its host's chain: 1, 2, 3, ... |\n"
	"| `ts_us` | when the daemon saw it: microseconds since the Unix epoch "
	"(UTC), host clock (CLOCK_REALTIME) |\n"
	"| `kind` | the event type, below |\n"
	"| `conn_id` | the connection, numbered per host; its identity is on "
	"the `conn_open` event with the same host and conn_id |\n"
	"| `server` | the protected MCP server's configured name |\n"
	"| `session_id` | the MCP session (Mcp-Session-Id, or the legacy "
	"sessionId); `masked ` and a keyed token (32 hex digits) of the "
	"whole id when the masking rules found a value in it |\n"
	"| `direction` | `c2s` client to server, `s2c` server to client |\n"
	"| `rpc_id` | the JSON-RPC id as JSON text (`7`, `\"abc\"` with its "
	"quotes) |\n"
	"| `method`, `tool` | the JSON-RPC method (masked when the MCP "
	"specification does not define it); the tool, prompt or "
	"resource it names |\n"
	"| `params`, `result`, `error` | the JSON-RPC members, as JSON text |\n"
	"| `request_seq`, `latency_us` | on a response: the seq of the request "
	"it answers, microseconds since that request |\n"
	"| `decision`, `rule` | the policy's decision (`allow`, `deny`, "
	"`approval_required`, `would_deny`, `would_require_approval`) and the "
	"deciding rule (`(default)`, `(no policy)` or a rule's name) |\n"
	"| `http_method`, `http_path`, `http_status` | the HTTP request the "
	"message came in; the status answered for an `http_error` |\n"
	"| `detail` | free text: an error's reason; `mcpwardend VERSION` on "
	"`daemon_start`; the policy's text on `policy_loaded` (when "
	"`params.text_recorded` is true) |\n"
	"| `pid`, `tgid`, `uid`, `gid`, `comm`, `cgroup_id` | the connecting "
	"process, captured in the kernel at `connect()` (on `conn_open`); "
	"the caller of a command (on `control`) |\n"
	"| `user_name`, `exe`, `cgroup` | added by the daemon at accept: the "
	"user's name, `/proc/PID/exe`, the cgroup path (on `conn_open`); "
	"the caller's name and cgroup path (on `control`; `exe` null there) "
	"|\n"
	"| `client_addr`, `server_addr` | the two ends of the connection (on "
	"`conn_open`) |\n"
	"| `policy_sha256` | the SHA-256 of the bytes of the policy in force "
	"(lowercase hex) |\n"
	"| `prev_hash` | the hash of the host's event `seq - 1`; 64 zeros for "
	"seq 1 |\n"
	"| `masked` | what masking replaced in the event, by detector: "
	"`{\"card\": 2}` (counts, never the values); null when nothing was "
	"masked (section 4: optional) |\n"
	"| `hash` | this event's hash (section 4) |\n"
	"\n"
	"Kinds: `conn_open` and `conn_close` (a steered connection), "
	"`request`,\n"
	"`notification`, `response` (every JSON-RPC message, both "
	"directions),\n"
	"`http_error` (malformed HTTP or JSON, a refused or unjudgeable "
	"message,\n"
	"an upstream failure), `tool_pinned`, `tool_changed`, "
	"`tools_accepted`\n"
	"(tool definitions first seen, changed, accepted by an operator),\n"
	"`checkpoint` (a signed statement of the chain, section 5),\n"
	"`daemon_start` (params: version, config, host, "
	"durable_before_forward,\n"
	"splice, busy_poll_us, checkpoint_events, checkpoint_ms), "
	"`policy_loaded` "
	"(params:\n"
	"file, sha256, rules, text_recorded, and `masking`: the masking rules "
	"and\n"
	"detectors that came with it, never the key; `detail` the policy's "
	"text,\n"
	"or when `text_recorded` is false why it is not) and `control` (a "
	"command "
	"through the\n"
	"control socket: `method` enforce, release, reload or accept-tools, "
	"`decision`\n"
	"allow, deny or error, `detail`; the caller in `pid`, `tgid`, "
	"`uid`, `gid`,\n"
	"`user_name`, `comm`, `cgroup`; an enforce the daemon carried out "
	"again\n"
	"itself, on a cgroup enforced by path made again, has the daemon as "
	"the\n"
	"caller and `detail` \"enforce PATH again: ...\").\n"
	"\n"
	"The identity of a connection's client is on its `conn_open` event "
	"only; join\n"
	"the other events to it on (`host`, `conn_id`). In the audit "
	"database the\n"
	"same columns are the view `mcpwarden.chain_events`, and the views\n"
	"`tool_calls`, `messages`, `connections`, `http_errors`,\n"
	"`connection_events`, `tool_changes`, `control_actions` and "
	"`checkpoints`\n"
	"present them joined.\n"
	"\n"
	"## 4. The hash of an event (audit trail format version 1)\n"
	"\n"
	"An event's hash is\n"
	"\n"
	"    SHA-256( \"MWEV1\" || f(host) || f(seq) || f(ts_us) || f(kind) || "
	"... || f(prev_hash) )\n"
	"\n"
	"over these 35 fields, in this order: `host, seq, ts_us, kind, "
	"conn_id,\n"
	"server, session_id, direction, rpc_id, method, tool, params, result,\n"
	"error, request_seq, latency_us, decision, rule, http_method, "
	"http_path,\n"
	"http_status, detail, pid, tgid, uid, gid, user_name, comm, exe,\n"
	"cgroup_id, cgroup, client_addr, server_addr, policy_sha256, "
	"prev_hash`.\n"
	"`f(null)` is the four bytes `FF FF FF FF`; `f(v)` is the length of "
	"`v`\n"
	"in bytes as a 32-bit big-endian integer followed by `v`'s bytes (the\n"
	"UTF-8 of the JSON string's value). `\"MWEV1\"` is those five ASCII "
	"bytes.\n"
	"The values are the column texts: the integers (`seq`, `ts_us`,\n"
	"`conn_id`, `request_seq`, `latency_us`, `http_status`, `pid`, "
	"`tgid`,\n"
	"`uid`, `gid`, `cgroup_id`) in decimal, `-` for negatives, no sign or\n"
	"leading zero otherwise (any other spelling is malformed); "
	"`cgroup_id`\n"
	"is the kernel's unsigned 64-bit id stored as a signed one (an id "
	"past\n"
	"2^63 - 1 is negative); `ts_us` the event time in microseconds; JSON\n"
	"(`params`, `result`, `error`, `masked`, and `rpc_id`, the request "
	"id as\n"
	"JSON: `\"abc\"` with its quotes, or `7`) the stored text byte for "
	"byte,\n"
	"never re-encoded (it is the daemon's own compact writing, and a\n"
	"masked message's rewritten text); `prev_hash` 64 lowercase hex "
	"digits.\n"
	"An empty text is not a null: `f(\"\")` is four zero bytes. The hash "
	"is\n"
	"written as 64 lowercase hex digits.\n"
	"\n"
	"Optional fields follow, added after version 1 without changing it: "
	"each\n"
	"is appended, as `f(v)`, only when it is not null, so an event "
	"recorded\n"
	"before the field existed keeps its hash. There is one: `masked` (a\n"
	"package written before it existed has no such key: null).\n"
	"\n"
	"## 5. Checkpoints, the key, the checkpoint file\n"
	"\n"
	"Every so many events (`audit.checkpoint_events`, or `checkpoint_ms`\n"
	"after the first unsigned one) and at shutdown, the daemon signs the "
	"last\n"
	"event of its chain. The signature is recorded twice:\n"
	"\n"
	"- as an event of kind `checkpoint` at seq K, whose `params` is\n"
	"  `{\"seq\":K-1,\"hash\":\"<hash of event K-1>\",\"key_id\":\"<16 "
	"hex>\",\"signature\":\"<base64>\"}`;\n"
	"- once durable, as a line of the checkpoint file outside the "
	"database:\n"
	"  "
	"`{\"host\",\"seq\",\"hash\",\"key_id\",\"signature\",\"checkpoint_"
	"seq\",\"ts_us\"}`,\n"
	"  with seq = K-1, checkpoint_seq = K and ts_us when it was signed\n"
	"  (these three JSON numbers, here and in the event's `params`; the\n"
	"  rest strings). Its signature is the event's (Ed25519 is\n"
	"  deterministic).\n"
	"  `checkpoints.jsonl` holds the lines of that file for the hosts and\n"
	"  seqs of this package, unchanged.\n"
	"\n"
	"The signature is Ed25519 (RFC 8032, pure) over the bytes\n"
	"\n"
	"    mcpwarden checkpoint "
	"v1\\nhost=<host>\\nseq=<seq>\\nhash=<hash>\\n\n"
	"\n"
	"(`\\n` a line feed; host its UTF-8; seq in decimal; only these are\n"
	"signed, not key_id, checkpoint_seq or ts_us), written as standard\n"
	"base64 with\n"
	"padding (88 characters). The key is `public-key.pem`; its `key_id` "
	"is\n"
	"the first 16 lowercase hex digits of the SHA-256 of the raw 32-byte\n"
	"public key (the last 32 bytes of the DER of the "
	"SubjectPublicKeyInfo).\n"
	"\n"
	"A checkpoint at seq K vouches, through the chain, for every event up "
	"to\n"
	"K-1: each hash covers the previous one. It does so only when event "
	"K-1\n"
	"recomputes to the signed hash and its `prev_hash` is the recomputed "
	"hash\n"
	"of the event before it: when event K-1 is itself broken (modified, "
	"repeated,\n"
	"not linking) or missing, nothing vouches for the events since the "
	"last "
	"checkpoint "
	"that\n"
	"matched, and `mcpwarden audit verify` names them rewritten besides "
	"that\n"
	"break. The package's own public key "
	"is\n"
	"only as trustworthy as its origin: compare its key_id with the one "
	"the\n"
	"host's administrators give you independently (`mcpwarden audit "
	"pubkey`\n"
	"on the host).\n"
	"\n"
	"## 6. Verifying\n"
	"\n"
	"For each host, with the events of `events.jsonl` in order:\n"
	"\n"
	"1. Every value is a string or null; `seq` is a positive decimal\n"
	"   integer, `ts_us` an integer, every other integer field (section "
	"4)\n"
	"   null or an integer, `hash` and `prev_hash` 64 lowercase hex\n"
	"   digits, `host` and `kind` not null. Otherwise: malformed.\n"
	"2. Recompute the hash (section 4): it must equal `hash`. Otherwise "
	"the\n"
	"   event was modified (or renumbered: a hash that matches with "
	"another\n"
	"   seq shows events deleted, inserted or moved).\n"
	"3. The first event of the host in the package is at `first_seq`, "
	"the\n"
	"   last at `last_seq` (manifest, `window.exported`): events missing "
	"at\n"
	"   either end were deleted, events beyond them added, and a host "
	"with\n"
	"   events that the manifest does not list is a break too (an empty\n"
	"   list included; an entry with `first_seq` and `last_seq` 0, a host\n"
	"   of which the export could read no seq, gives no range). When\n"
	"   `first_seq` is 1, its `prev_hash` must be 64 zeros.\n"
	"   When it is larger (the normal case: the window starts inside the\n"
	"   chain), it is the event that the checkpoint event after it signs\n"
	"   (section 7), so that its own hash is vouched for by a signature "
	"and\n"
	"   events deleted after it leave a gap; its `prev_hash` names an "
	"event\n"
	"   outside the package and cannot be checked here. Only when no\n"
	"   checkpoint precedes the window (`events_before_window` is then "
	"the\n"
	"   lead-in from the host's first event in the database) is the start\n"
	"   vouched for by nothing but the database.\n"
	"4. Each next event has seq one more than the one before (a gap means\n"
	"   events deleted, a repeat inserted ones) and its `prev_hash` equals "
	"the\n"
	"   `hash` of the event before.\n"
	"5. A `checkpoint` event at seq K: its params are as in section 5,\n"
	"   `params.seq` is K-1, `params.key_id` is the key's id, the "
	"signature\n"
	"   verifies with the key over the message built from (host, K-1,\n"
	"   params.hash), and `params.hash` is the recomputed hash of event "
	"K-1.\n"
	"6. Each line of `checkpoints.jsonl`: same key id, a valid signature "
	"of\n"
	"   (host, seq, hash), and the package holds event seq of that host "
	"with\n"
	"   that recomputed hash. The export writes no line for an event it\n"
	"   does not hold: a line before the host's first event in the "
	"package\n"
	"   means events deleted from its start (not retention). A line "
	"beyond\n"
	"   the last exported event means\n"
	"   events deleted after it: when the database's chain ends before "
	"the\n"
	"   window's next checkpoint (`extended_to_checkpoint_seq` null), the\n"
	"   export adds the file's lines beyond it that are more than a "
	"minute\n"
	"   older than the export (a younger one may be an event the "
	"database\n"
	"   has not committed yet).\n"
	"7. Events after the host's last checkpoint event in the package are\n"
	"   chained but vouched for by no signature. The export extends each\n"
	"   host's range to the next checkpoint after the window, so that "
	"there\n"
	"   are none, unless the daemon had not signed one yet (the "
	"manifest's\n"
	"   notes say so).\n"
	"\n"
	"A sketch in Python (with the `cryptography` package), for one "
	"package:\n"
	"\n"
	"```python\n"
	"import base64, hashlib, json\n"
	"from cryptography.hazmat.primitives.serialization import "
	"load_pem_public_key, Encoding, PublicFormat\n"
	"FIELDS = (\"host seq ts_us kind conn_id server session_id direction "
	"rpc_id method tool \"\n"
	"          \"params result error request_seq latency_us decision rule "
	"http_method http_path \"\n"
	"          \"http_status detail pid tgid uid gid user_name comm exe "
	"cgroup_id cgroup \"\n"
	"          \"client_addr server_addr policy_sha256 "
	"prev_hash\").split()\n"
	"OPTIONAL = (\"masked\",)\n"
	"def f(v):\n"
	"    if v is None: return b\"\\xff\\xff\\xff\\xff\"\n"
	"    b = v.encode(\"utf-8\"); return len(b).to_bytes(4, \"big\") + b\n"
	"def event_hash(e): return hashlib.sha256(b\"MWEV1\" + "
	"b\"\".join(f(e[k]) for k in FIELDS)\n"
	"    + b\"\".join(f(e[k]) for k in OPTIONAL if e.get(k) is not "
	"None)).hexdigest()\n"
	"key = load_pem_public_key(open(\"public-key.pem\", \"rb\").read())\n"
	"raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)\n"
	"key_id = hashlib.sha256(raw).hexdigest()[:16]\n"
	"def signed(host, seq, h, kid, sig):\n"
	"    msg = f\"mcpwarden checkpoint "
	"v1\\nhost={host}\\nseq={seq}\\nhash={h}\\n\".encode()\n"
	"    try: key.verify(base64.b64decode(sig, validate=True), msg); "
	"return kid == key_id\n"
	"    except Exception: return False\n"
	"def strict(pairs):\n"
	"    d = dict(pairs); assert len(d) == len(pairs), \"repeated key\"; "
	"return d\n"
	"hashes, first, prev, problems = {}, {}, {}, []\n"
	"for n, line in enumerate(open(\"events.jsonl\", encoding=\"utf-8\"), "
	"1):\n"
	"    e = json.loads(line, object_pairs_hook=strict); host, seq = "
	"e[\"host\"], int(e[\"seq\"])\n"
	"    assert set(FIELDS) | {\"hash\"} <= set(e) <= set(FIELDS) | "
	"set(OPTIONAL) | {\"hash\"}, f\"line {n}: keys\"\n"
	"    h = event_hash(e); first.setdefault(host, seq)\n"
	"    if h != e[\"hash\"]: problems.append((host, seq, \"modified\"))\n"
	"    if host in prev:\n"
	"        ps, ph = prev[host]\n"
	"        if seq != ps + 1: problems.append((host, seq, \"gap or "
	"repeat\"))\n"
	"        elif e[\"prev_hash\"] != ph: problems.append((host, seq, "
	"\"does not link\"))\n"
	"    elif seq == 1 and e[\"prev_hash\"] != \"0\" * 64: "
	"problems.append((host, seq, \"genesis\"))\n"
	"    if e[\"kind\"] == \"checkpoint\":\n"
	"        p, known = json.loads(e[\"params\"], "
	"object_pairs_hook=strict), hashes.get((host, seq - "
	"1))\n"
	"        if (p[\"seq\"] != seq - 1 or (known is not None and known != "
	"p[\"hash\"])\n"
	"                or not signed(host, p[\"seq\"], p[\"hash\"], "
	"p[\"key_id\"], p[\"signature\"])):\n"
	"            problems.append((host, seq, \"checkpoint\"))\n"
	"    hashes[(host, seq)] = h; prev[host] = (seq, e[\"hash\"])\n"
	"for line in open(\"checkpoints.jsonl\", encoding=\"utf-8\"):\n"
	"    c = json.loads(line, object_pairs_hook=strict)\n"
	"    if (not signed(c[\"host\"], c[\"seq\"], c[\"hash\"], "
	"c[\"key_id\"], c[\"signature\"])\n"
	"            or hashes.get((c[\"host\"], c[\"seq\"])) != "
	"c[\"hash\"]):\n"
	"        problems.append((c[\"host\"], c[\"seq\"], \"file "
	"checkpoint\"))\n"
	"m = json.load(open(\"manifest.json\", encoding=\"utf-8\"), "
	"object_pairs_hook=strict)\n"
	"ranges = {x[\"host\"]: (x[\"first_seq\"], x[\"last_seq\"]) for x in "
	"m[\"window\"][\"exported\"]\n"
	"          if x[\"first_seq\"] or x[\"last_seq\"]}\n"
	"for host in set(ranges) | set(prev):\n"
	"    if ranges.get(host) != (first.get(host), prev.get(host, "
	"(None,))[0]):\n"
	"        problems.append((host, None, \"range\"))\n"
	"print(\"ok\" if not problems else problems)\n"
	"```\n"
	"\n"
	"## 7. The window\n"
	"\n"
	"- `--since` is included, `--until` excluded. Each is an ISO 8601 "
	"date\n"
	"  (`2026-01-31`: midnight UTC starting that day) or timestamp\n"
	"  (`2026-01-31T12:00:00Z`, `2026-01-31T13:00:00+01:00`; UTC when no\n"
	"  offset is given; at most six fraction digits). The manifest gives "
	"both\n"
	"  as UTC and in microseconds (`since_us`, `until_us`), the units of\n"
	"  `ts_us`.\n"
	"- A host is in the package when at least one of its events has\n"
	"  `since_us <= ts_us < until_us`. Its window is `window.first_seq` "
	"to\n"
	"  `window.last_seq`: the lowest and highest seq of those events.\n"
	"- Its exported range starts at the event signed by the last\n"
	"  `checkpoint` event at or before `window.first_seq` (or at the "
	"host's\n"
	"  first event in the database when there is none):\n"
	"  `events_before_window` counts that lead-in. It goes to the first\n"
	"  `checkpoint` event after `window.last_seq`\n"
	"  (`extended_to_checkpoint_seq`), so that every event in the package "
	"is\n"
	"  vouched for by a signature; when the daemon has not signed one yet, "
	"to\n"
	"  `window.last_seq` (`extended_to_checkpoint_seq` is null and the "
	"notes\n"
	"  say so). `events_after_window` counts the events of the extension.\n"
	"- Every event of the host in the exported range is in the package,\n"
	"  whatever its ts, since the chain must be whole, but for one that "
	"no\n"
	"  line of `events.jsonl` can hold (longer than 64 MiB as JSON, a "
	"value\n"
	"  not UTF-8): it is left out, the notes say so, and the verification\n"
	"  names its seq as deleted (it is within `first_seq` to "
	"`last_seq`).\n"
	"  A host name too long for the verifier (over 255 bytes) is "
	"exported,\n"
	"  its events named as malformed. "
	"`events_outside_window`\n"
	"  counts those from `window.first_seq` to `window.last_seq` whose ts\n"
	"  lies outside the window\n"
	"  (the host's clock stepped back).\n"
	"- A window with no event gives a package all the same: "
	"`events.jsonl`\n"
	"  and `checkpoints.jsonl` empty, no policies, `window.exported` "
	"empty, a\n"
	"  verification that finds nothing to check (ok), exit status 0.\n"
	"\n"
	"## 8. Policies, daemon versions, manifest\n"
	"\n"
	"`policies.json` is a list of the policy_loaded events considered, by\n"
	"host then seq: the last one before each host's range (`in_force`:\n"
	"`in_force_at_since`; `in_package_chain` true when it falls in the\n"
	"lead-in, else that event itself is not in `events.jsonl`, but its "
	"text\n"
	"is checked by its hash) and every one from `window.first_seq` on\n"
	"(`loaded_in_window`, or `loaded_after_window` in the extension).\n"
	"Each entry: `sha256` (the policy_sha256 recorded), `host`, `seq`,\n"
	"`loaded_at` (UTC), `ts_us`, `file` (where the daemon read it), "
	"`rules`\n"
	"(their number), `text_recorded`, `in_force`, `in_package_chain`,\n"
	"`text_file` (`policies/<sha256>.yaml` or `.txt`, null when the "
	"recorded\n"
	"hash is not a SHA-256) and `text_note` (why there is no `.yaml`, or\n"
	"null). A `.yaml` is written only when the recorded text's SHA-256 is\n"
	"`<sha256>`: `sha256sum policies/*.yaml` must print each file's own "
	"name.\n"
	"Decisions in `events.jsonl` name the policy that took them by\n"
	"`policy_sha256`.\n"
	"\n"
	"`manifest.json`:\n"
	"\n"
	"- `format` (\"mcpwarden evidence package\"), `format_version` (1),\n"
	"  `format_doc`, `created_at` (UTC), `created_by` (program and version "
	"of\n"
	"  the CLI that wrote it).\n"
	"- `window.requested`: `since`, `until` (UTC), `since_us`, "
	"`until_us`,\n"
	"  `until_excluded` (true), `host` (the `--host` given, or null).\n"
	"- `window.exported`: per host, `host`, `first_seq`, `last_seq`, "
	"`events`\n"
	"  (lines in `events.jsonl`), `window` (`first_seq`, `last_seq`, "
	"`events`\n"
	"  of the requested window), `extended_to_checkpoint_seq`,\n"
	"  `events_after_window`, `events_before_window` (the lead-in, "
	"section 7),\n"
	"  `events_outside_window`, `first_ts`, `last_ts`\n"
	"  (the earliest and latest ts exported), `starts_mid_chain`,\n"
	"  `first_prev_hash` (where the package's chain hangs from),\n"
	"  `last_hash`, `signed_through_seq` (the seq that the last "
	"checkpoint\n"
	"  event in the package names: whether its signature holds is the\n"
	"  verification's to say), `key_id` (the one its checkpoint events "
	"name,\n"
	"  the package key's when it has none),\n"
	"  `checkpoint_file_lines`, `policy_at_since`, "
	"`daemon_version_at_since`.\n"
	"- `events`: the number of lines of `events.jsonl`.\n"
	"- `public_key`: `file`, `key_id`.\n"
	"- `checkpoint_file`: its `path` on the host, `present`,\n"
	"  `lines_exported`, `lines_not_in_range` (other hosts, other seqs),\n"
	"  `lines_unparsable`.\n"
	"- `daemon_versions`: the daemon_start events, as policies (host, "
	"seq,\n"
	"  ts, ts_us, version, detail, params, in_force, in_package_chain).\n"
	"- `policies`, `masking`, `verification` (`ok`, `breaks`, and the "
	"report\n"
	"  files), `nist_800_53`: pointers to the files.\n"
	"- `notes`: what an auditor should know about this export (where "
	"chains\n"
	"  start, extensions, a missing checkpoint file, ...).\n"
	"- `files`: `name`, `sha256`, `bytes` of every file but "
	"`manifest.json`\n"
	"  and `manifest.sha256`, sorted by name (byte order).\n"
	"\n"
	"## 9. The verification report, the exit status\n"
	"\n"
	"`verification.txt` is what `mcpwarden audit verify --package DIR`\n"
	"prints for this package (but for section 1's checks of the files: "
	"it\n"
	"is written before the manifest), then, after a line `notes from the "
	"export:`,\n"
	"the manifest's notes. `verification.json` is what `mcpwarden audit\n"
	"verify --package DIR --json` prints, with the notes as "
	"`export_notes`.\n"
	"The verifier's note that a chain \"starts at seq S (earlier events\n"
	"removed by retention)\" means, in a package, that the window starts\n"
	"there. Its note of daemon starts after events that no checkpoint of\n"
	"the run that wrote them signed (`starts_after_unsigned`: a crash, or\n"
	"rows added while no daemon ran) names events that only the next\n"
	"run's checkpoints vouch for; it is not a break.\n"
	"\n"
	"The export's exit status: 0 when the package verifies, 1 when the\n"
	"verification found a break (the package is written all the same, and\n"
	"the report says where), 2 when no package could be written (nothing "
	"is\n"
	"left in DIR).\n"
	"`mcpwarden audit verify --package DIR` exits 0 when the package\n"
	"verifies, 1 when it shows a break (a file of section 1 missing,\n"
	"changed, not listed or listed twice, `events.jsonl` or\n"
	"`checkpoints.jsonl` among them, with its report all the same), 2 "
	"when\n"
	"it could not verify (it could not read a file that is there, say) "
	"or\n"
	"could not write its report.\n";
