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
 * __FMODE_EXEC in f_flags: the kernel opened the file to run it (exec, a
 * binfmt's interpreter). open() strips the bit from what userspace asks,
 * so an executable given to a process by PR_SET_MM_EXE_FILE or
 * PR_SET_MM_MAP's exe_fd (an fd the process opened: CAP_CHECKPOINT_RESTORE
 * in a user namespace of its own is enough) never bears it. The value has
 * been 0x20 since it exists, and vmlinux.h carries no macros.
 */
#define MW_FMODE_EXEC 0x20

static __always_inline bool mw_opened_to_run(struct file *exe)
{
	return BPF_CORE_READ(exe, f_flags) & MW_FMODE_EXEC;
}

/*
 * A process in a user namespace of its own holds every capability there:
 * it may mount its own binfmt_misc, whose "O" flag hands an interpreter
 * the program the kernel opened to run (__FMODE_EXEC and all), ready for
 * PR_SET_MM_MAP. Only the initial namespace's processes are vouched for
 * (all threads of a process share one: unshare(CLONE_NEWUSER) refuses a
 * threaded caller).
 */
static __always_inline bool mw_in_initial_userns(struct task_struct *task)
{
	return BPF_CORE_READ(task, cred, user_ns, level) == 0;
}

/*
 * Probe reads (BPF_CORE_READ), not BTF pointer walks: the connect hooks get
 * the task from bpf_get_current_task(), a plain number to the verifier, and
 * a kernel thread's NULL mm or an exiting task's freed one must read as
 * zero, never fault. The leader's start time is the process's (de_thread()
 * gives it to a thread that execs); self_exec_id is the same in every
 * thread of one image and grows by one at each exec.
 * No image (all zero) when the executable is not what an exec opened, or
 * the process is in a user namespace of its own: then nothing vouches for
 * it.
 */
static __always_inline void mw_task_image_of(struct task_struct *task,
					     struct mw_task_image *img)
{
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);

	__builtin_memset(img, 0, sizeof(*img));
	if (!exe || !mw_opened_to_run(exe) || !mw_in_initial_userns(task))
		return;
	img->start_ns = BPF_CORE_READ(task, group_leader, start_time);
	img->exec_id = BPF_CORE_READ(task, self_exec_id);
	img->exe_ino = BPF_CORE_READ(exe, f_inode, i_ino);
	img->exe_dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
}

#endif
