/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Tells the daemon when the host's addresses change (an address added or
 * removed on any interface: DHCP, a VPN, IPv6 temporary addresses): a
 * server on this host is protected on every local address, and one that
 * appears after the start must be protected too. A netlink route socket
 * in the event loop; changed(arg) runs once per batch of notifications,
 * and after an overrun (the kernel dropped some: the caller rescans).
 */
#ifndef MW_ADDRWATCH_H
#define MW_ADDRWATCH_H

#include <stddef.h>

#include "loop.h"

struct mw_addrwatch;

/* 0 or -errno. */
int mw_addrwatch_open(struct mw_addrwatch **out, struct mw_loop *loop,
		      void (*changed)(void *arg), void *arg);
void mw_addrwatch_close(struct mw_addrwatch *w);

#endif
