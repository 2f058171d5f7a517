// SPDX-License-Identifier: GPL-2.0
/*
 * iter/task, attached by the daemon for one process at a time (the link's
 * tid): writes that process's image (struct mw_task_image) for the daemon
 * to compare with the one its connect() recorded. Nothing is written for a
 * process that is gone. The kernel honours the tid since 6.1: the record
 * names its process, and the daemon checks.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "mw_bpf_types.h"
#include "task_image.bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("iter/task")
int mw_task_image(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct mw_task_image_rec rec;

	if (!task)
		return 0;
	__builtin_memset(&rec, 0, sizeof(rec));
	rec.tgid = BPF_CORE_READ(task, tgid);
	mw_task_image_of(task, &rec.image);
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}
