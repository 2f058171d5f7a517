// SPDX-License-Identifier: BSD-2-Clause
#include "addrwatch.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

struct mw_addrwatch {
	struct mw_io io;
	struct mw_loop *loop;
	void (*changed)(void *arg);
	void *arg;
};

/* Reads what is queued; true when an address came or went (or was
 * missed: ENOBUFS means the kernel dropped notifications). */
static bool drain(int fd)
{
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	bool changed = false;

	/* bounded: a flood is read over later turns */
	for (int turn = 0; turn < 64; turn++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		int len = (int)n;

		if (n < 0) {
			if (errno == ENOBUFS)
				changed = true;
			else if (errno != EINTR)
				break;
			continue;
		}
		if (n == 0)
			break;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf;
		     NLMSG_OK(h, len); h = NLMSG_NEXT(h, len))
			if (h->nlmsg_type == RTM_NEWADDR ||
			    h->nlmsg_type == RTM_DELADDR)
				changed = true;
	}
	return changed;
}

static void on_readable(struct mw_io *io, uint32_t events)
{
	struct mw_addrwatch *w = container_of(io, struct mw_addrwatch, io);

	(void)events;
	if (drain(io->fd))
		w->changed(w->arg);
}

int mw_addrwatch_open(struct mw_addrwatch **out, struct mw_loop *loop,
		      void (*changed)(void *arg), void *arg)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
	};
	struct mw_addrwatch *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->loop = loop;
	w->changed = changed;
	w->arg = arg;
	w->io.cb = on_readable;
	w->io.fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
			  NETLINK_ROUTE);
	if (w->io.fd < 0)
		goto fail;
	if (bind(w->io.fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto fail;
	r = mw_loop_add(loop, &w->io, EPOLLIN);
	if (r) {
		errno = -r;
		goto fail;
	}
	*out = w;
	return 0;
fail:
	r = -errno;
	if (w->io.fd >= 0)
		close(w->io.fd);
	free(w);
	return r;
}

void mw_addrwatch_close(struct mw_addrwatch *w)
{
	if (!w)
		return;
	mw_loop_del(w->loop, &w->io);
	close(w->io.fd);
	free(w);
}
