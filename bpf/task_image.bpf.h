/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The process image of a task (struct mw_task_image), read the same way at
 * connect() (connect.bpf.c, the current task) and on the daemon's demand
 * (task_image.bpf.c, an iterator), so the two compare. Include after
 * vmlinux.h, bpf_helpers.h and mw_bpf_types.h.
 */
#ifndef MW_TASK_IMAGE_BPF_H
#define MW_TASK_IMAGE_BPF_H

#include <bpf/bpf_core_read.h>

/*
 * Probe reads (BPF_CORE_READ), not BTF pointer walks: the connect hooks get
 * the task from bpf_get_current_task(), a plain number to the verifier, and
 * a kernel thread's NULL mm or an exiting task's freed one must read as
 * zero, never fault. The leader's start time is the process's (de_thread()
 * gives it to a thread that execs); self_exec_id is the same in every
 * thread of one image and grows by one at each exec.
 */
static __always_inline void mw_task_image_of(struct task_struct *task,
					     struct mw_task_image *img)
{
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);

	__builtin_memset(img, 0, sizeof(*img));
	img->start_ns = BPF_CORE_READ(task, group_leader, start_time);
	img->exec_id = BPF_CORE_READ(task, self_exec_id);
	if (exe) {
		img->exe_ino = BPF_CORE_READ(exe, f_inode, i_ino);
		img->exe_dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
	}
}

#endif
