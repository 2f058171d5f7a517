/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The daemon starts as root and needs only part of what root may do once
 * it runs: capabilities it has no use for are dropped for good.
 */
#ifndef MW_PRIVS_H
#define MW_PRIVS_H

#include <stddef.h>
#include <stdint.h>

/* The capabilities kept, as a bit mask of CAP_* numbers. */
uint64_t mw_privs_kept(void);

/*
 * Reduces the bounding, permitted, effective, inheritable and ambient sets
 * to mw_privs_kept() and sets no_new_privs. Returns 0 or -1 with err set.
 */
int mw_privs_drop(char *err, size_t errlen);

#endif
