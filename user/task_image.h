/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The process image a process runs now (struct mw_task_image), read by an
 * eBPF task iterator, to compare with the one the connect hooks recorded:
 * what /proc says about a process is its connect()'s only while the two
 * agree.
 */
#ifndef MW_TASK_IMAGE_H
#define MW_TASK_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_bpf_types.h"

struct mw_task_images;

/* Loads the iterator (CAP_BPF, CAP_PERFMON). 0 or -errno, err says why. */
int mw_task_images_open(struct mw_task_images **out, char *err, size_t errlen);
void mw_task_images_close(struct mw_task_images *t);

/*
 * The image process tgid runs now: 0, -ESRCH when there is no such
 * process, another -errno when it could not be read.
 */
int mw_task_image_read(struct mw_task_images *t, uint32_t tgid,
		       struct mw_task_image *img);

/* Whether two records name the same image (a zero start names none). */
bool mw_task_image_same(const struct mw_task_image *a,
			const struct mw_task_image *b);

#endif
