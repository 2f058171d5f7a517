/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The host's own addresses: where a server on this host answers, so where
 * its clients must be steered. Loopback, the wildcards and every address
 * an interface has, IPv4-mapped as the kernel side keys them; a set that
 * only grows while the daemon runs (an address removed stays protected:
 * it may come back, and a stale entry costs nothing but a look-up).
 * Not every local destination is listed: the rest of 127.0.0.0/8 is
 * loopback too and the kernel side knows it (connect.bpf.c); addresses
 * an AnyIP route makes local are not.
 */
#ifndef MW_LOCAL_ADDRS_H
#define MW_LOCAL_ADDRS_H

#include <ifaddrs.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mw_local_addrs {
	uint8_t (*addr)[16]; /* sorted, unique */
	size_t n, cap;
};

/*
 * Adds what the host has now and the set has not; *added counts them.
 * 0, or -E2BIG when MW_MAX_LOCAL_ADDRS is reached (the set is full, the
 * rest left out), -ENOMEM, or -errno from getifaddrs.
 */
int mw_local_addrs_scan(struct mw_local_addrs *l, size_t *added);
/* The same from a list getifaddrs made (for the tests). */
int mw_local_addrs_add_from(struct mw_local_addrs *l, const struct ifaddrs *ifa,
			    size_t *added);
bool mw_local_addrs_has(const struct mw_local_addrs *l, const uint8_t a[16]);
void mw_local_addrs_free(struct mw_local_addrs *l);

#endif
