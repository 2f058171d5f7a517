// SPDX-License-Identifier: BSD-2-Clause
/*
 * The spool's reading side on arbitrary file contents. The input is
 * written as <dir>/events.spool, opened (which cuts off what follows the
 * last whole line unless it is all NUL bytes) and scanned. Every run
 * checks:
 *   - the lines end where the bytes say: after the last '\n' before the
 *     first NUL (or the end); the bytes other than NUL after that are
 *     reported in torn, and when there are some the file is cut there,
 *     else left as it is; mw_spool_size is where the lines end;
 *   - the scan hands over exactly the input's lines, in order, none
 *     holding a '\n', and their lengths plus one newline each add up to
 *     the size after open;
 *   - a line appended then goes right after them: a second open finds
 *     nothing torn, and one line more.
 * The spool directory is made under $TMPDIR (else /tmp): a tmpfs there
 * makes the fsyncs cheap.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_scratch.h"
#include "log.h"
#include "spool.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* a torn line is cut at nearly every run: not worth a log line */
	mw_log_set_level(MW_LOG_ERR);
	fuzz_scratch_make("spool", MW_SPOOL_FILE);
	return 0;
}

struct walk {
	const unsigned char *data;
	uint64_t off; /* where the next line should start in data */
	uint64_t bytes; /* line lengths plus newlines */
	uint64_t lines;
};

static int line_cb(void *arg, const char *line, size_t len)
{
	struct walk *w = arg;

	if (len > MW_SPOOL_LINE_MAX || memchr(line, '\n', len) ||
	    memcmp(line, w->data + w->off, len) ||
	    w->data[w->off + len] != '\n')
		abort();
	w->off += len + 1;
	w->bytes += len + 1;
	w->lines++;
	return 0;
}

static uint64_t disk_size(void)
{
	struct stat st;

	if (stat(fuzz_file, &st))
		abort();
	return (uint64_t)st.st_size;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const unsigned char *nul = size ? memchr(data, '\0', size) : NULL;
	size_t lines = nul ? (size_t)(nul - data) : size;
	const unsigned char *nl = lines ? memrchr(data, '\n', lines) : NULL;
	uint64_t keep = nl ? (uint64_t)(nl - data) + 1 : 0;
	uint64_t stray = lines - keep;
	struct walk w = { .data = data };
	struct mw_spool *s = NULL;
	char err[512];
	size_t torn = 0;
	int rc;

	for (size_t i = lines; i < size; i++)
		stray += data[i] != '\0';
	fuzz_scratch_write(data, size);
	rc = mw_spool_open(&s, fuzz_dir, &torn, err, sizeof(err));
	if (lines - keep > MW_SPOOL_LINE_MAX) {
		/* not a spool: refused, and the file left alone */
		if (rc != -EBADMSG || s || disk_size() != size)
			abort();
		return 0;
	}
	if (rc || !s)
		abort();
	if (torn != stray || mw_spool_size(s) != keep ||
	    disk_size() != (stray ? keep : size))
		abort();
	rc = mw_spool_scan(s, line_cb, &w);
	/* a line longer than the limit is refused, not handed over */
	if (rc == -EBADMSG) {
		const unsigned char *p = data + w.off;
		const unsigned char *next = memchr(p, '\n', keep - w.off);

		if (!next || (size_t)(next - p) <= MW_SPOOL_LINE_MAX)
			abort();
	} else if (rc || w.off != keep || w.bytes != mw_spool_size(s)) {
		abort();
	}
	if (mw_spool_append(s, "x\n", 2))
		abort();
	mw_spool_close(s);

	s = NULL;
	torn = 1;
	if (mw_spool_open(&s, fuzz_dir, &torn, err, sizeof(err)) || torn ||
	    mw_spool_size(s) != keep + 2)
		abort();
	mw_spool_close(s);
	return 0;
}
