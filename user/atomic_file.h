/* SPDX-License-Identifier: BSD-2-Clause */
/* Files written whole or not at all: keys and other small state. */
#ifndef MW_ATOMIC_FILE_H
#define MW_ATOMIC_FILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Writes dir/name whole: a fresh temporary file beside it (O_EXCL, so it is
 * ours and 0600 from its first byte), synced, given mode, renamed over
 * name, and the directory synced. A crash leaves the old file or the new
 * one, never half of it. 0, or -1 with "path: reason" in err.
 */
int mw_write_atomic(const char *dir, const char *name, const void *data,
		    size_t len, mode_t mode, char *err, size_t errlen);

#endif
