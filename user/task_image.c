// SPDX-License-Identifier: BSD-2-Clause
#include "task_image.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "log.h"
#include "task_image.skel.h"

struct mw_task_images {
	struct mw_task_image_bpf *skel;
	int prog_fd;
};

int mw_task_images_open(struct mw_task_images **out, char *err, size_t errlen)
{
	struct mw_task_images *t;
	int r;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	errno = 0;
	t->skel = mw_task_image_bpf__open();
	if (!t->skel) {
		r = errno ? -errno : -EINVAL;
		goto fail;
	}
	r = mw_task_image_bpf__load(t->skel);
	if (r) {
		r = r < 0 ? r : -EINVAL;
		goto fail;
	}
	t->prog_fd = bpf_program__fd(t->skel->progs.mw_task_image);
	*out = t;
	return 0;
fail:
	mw_set_err(err, errlen,
		   "cannot load the task image iterator (iter/task): %s",
		   strerror(-r));
	mw_task_images_close(t);
	return r;
}

void mw_task_images_close(struct mw_task_images *t)
{
	if (!t)
		return;
	mw_task_image_bpf__destroy(t->skel);
	free(t);
}

/* One run of the iterator over the task tgid alone (the link's tid). */
int mw_task_image_read(struct mw_task_images *t, uint32_t tgid,
		       struct mw_task_image *img)
{
	union bpf_iter_link_info info;
	LIBBPF_OPTS(bpf_link_create_opts, opts, .iter_info = &info,
		    .iter_info_len = sizeof(info));
	struct mw_task_image_rec rec;
	ssize_t got;
	int link_fd, iter_fd, r = 0;

	if (!tgid)
		return -ESRCH;
	memset(&info, 0, sizeof(info));
	info.task.tid = tgid;
	link_fd = bpf_link_create(t->prog_fd, 0, BPF_TRACE_ITER, &opts);
	if (link_fd < 0)
		return link_fd == -ENOENT ? -ESRCH : link_fd;
	iter_fd = bpf_iter_create(link_fd);
	if (iter_fd < 0) {
		r = iter_fd;
		goto out;
	}
	got = mw_read_full(iter_fd, &rec, sizeof(rec));
	if (got < 0)
		r = (int)got;
	else if ((size_t)got != sizeof(rec))
		r = got ? -EIO : -ESRCH;
	/* a kernel that ignored the tid ran it over every task */
	if (!r && rec.tgid != tgid)
		r = -EOPNOTSUPP;
	if (!r)
		*img = rec.image;
	close(iter_fd);
out:
	close(link_fd);
	return r;
}

bool mw_task_image_same(const struct mw_task_image *a,
			const struct mw_task_image *b)
{
	return a->start_ns && a->start_ns == b->start_ns &&
	       a->exec_id == b->exec_id && a->exe_ino == b->exe_ino &&
	       a->exe_dev == b->exe_dev;
}
