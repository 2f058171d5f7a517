/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One file of a fuzz target's input, in a directory of its own under
 * $TMPDIR (else /tmp: a tmpfs there keeps the loaders' fsyncs cheap),
 * for the loaders that read a state_dir file by name. Both go at exit.
 */
#ifndef MW_FUZZ_SCRATCH_H
#define MW_FUZZ_SCRATCH_H

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fdio.h"

static char fuzz_dir[PATH_MAX];
static char fuzz_file[PATH_MAX + 32];

static void fuzz_scratch_remove(void)
{
	unlink(fuzz_file);
	rmdir(fuzz_dir);
}

/* Makes the directory (mw-fuzz-<tag>-XXXXXX) and names the file in it. */
static inline void fuzz_scratch_make(const char *tag, const char *name)
{
	const char *tmp = getenv("TMPDIR");

	if (!tmp || !tmp[0])
		tmp = "/tmp";
	if (snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/mw-fuzz-%s-XXXXXX", tmp,
		     tag) >= (int)sizeof(fuzz_dir) ||
	    !mkdtemp(fuzz_dir))
		abort();
	snprintf(fuzz_file, sizeof(fuzz_file), "%s/%s", fuzz_dir, name);
	atexit(fuzz_scratch_remove);
}

/* The file, made of exactly the input. */
static inline void fuzz_scratch_write(const unsigned char *data, size_t size)
{
	int fd =
		open(fuzz_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || mw_write_all(fd, data, size) || close(fd))
		abort();
}

#endif
