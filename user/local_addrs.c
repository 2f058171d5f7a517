// SPDX-License-Identifier: BSD-2-Clause
#include "local_addrs.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "mw_bpf_types.h"

static int cmp_addr(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/* sa as the kernel side keys it; false for a family it does not steer. */
static bool mapped(const struct sockaddr *sa, uint8_t out[16])
{
	struct sockaddr_storage ss = { 0 };
	uint16_t port;

	if (sa->sa_family == AF_INET)
		memcpy(&ss, sa, sizeof(struct sockaddr_in));
	else if (sa->sa_family == AF_INET6)
		memcpy(&ss, sa, sizeof(struct sockaddr_in6));
	else
		return false;
	mw_addr_to_mapped(&ss, out, &port);
	return true;
}

bool mw_local_addrs_has(const struct mw_local_addrs *l, const uint8_t a[16])
{
	return l->n && bsearch(a, l->addr, l->n, 16, cmp_addr);
}

/*
 * Merges the sorted, unique new[0..m) not in l into l, up to the bound.
 * One pass from the back, so that a host with thousands of addresses is
 * not sorted in again for each.
 */
static int merge(struct mw_local_addrs *l, uint8_t (*fresh)[16], size_t m,
		 size_t *added)
{
	size_t room = MW_MAX_LOCAL_ADDRS - l->n, k = 0, i, j, out;
	bool full = false;

	for (i = 0; i < m; i++) {
		if (mw_local_addrs_has(l, fresh[i]))
			continue;
		if (k == room) {
			full = true;
			break;
		}
		memmove(fresh[k++], fresh[i], 16);
	}
	if (!k)
		return full ? -E2BIG : 0;
	if (l->n + k > l->cap) {
		void *p = realloc(l->addr, (l->n + k) * 16);

		if (!p)
			return -ENOMEM;
		l->addr = p;
		l->cap = l->n + k;
	}
	i = l->n;
	j = k;
	out = l->n + k;
	while (j) {
		if (i && memcmp(l->addr[i - 1], fresh[j - 1], 16) > 0)
			memcpy(l->addr[--out], l->addr[--i], 16);
		else
			memcpy(l->addr[--out], fresh[--j], 16);
	}
	l->n += k;
	*added += k;
	return full ? -E2BIG : 0;
}

int mw_local_addrs_add_from(struct mw_local_addrs *l, const struct ifaddrs *ifa,
			    size_t *added)
{
	struct sockaddr_in lo4 = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in any4 = { .sin_family = AF_INET };
	struct sockaddr_in6 lo6 = { .sin6_family = AF_INET6,
				    .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in6 any6 = { .sin6_family = AF_INET6 };
	const struct sockaddr *always[] = { (struct sockaddr *)&lo4,
					    (struct sockaddr *)&any4,
					    (struct sockaddr *)&lo6,
					    (struct sockaddr *)&any6 };
	uint8_t(*fresh)[16];
	size_t m = 0, cap = 4, u;
	int rc;

	*added = 0;
	for (const struct ifaddrs *i = ifa; i; i = i->ifa_next)
		cap++;
	fresh = calloc(cap, 16);
	if (!fresh)
		return -ENOMEM;
	for (size_t i = 0; i < 4; i++)
		if (mapped(always[i], fresh[m]))
			m++;
	for (const struct ifaddrs *i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && mapped(i->ifa_addr, fresh[m]))
			m++;
	qsort(fresh, m, 16, cmp_addr);
	for (size_t i = u = 0; i < m; i++)
		if (!u || memcmp(fresh[u - 1], fresh[i], 16))
			memmove(fresh[u++], fresh[i], 16);
	rc = merge(l, fresh, u, added);
	free(fresh);
	return rc;
}

int mw_local_addrs_scan(struct mw_local_addrs *l, size_t *added)
{
	struct ifaddrs *ifa;
	int rc;

	*added = 0;
	if (getifaddrs(&ifa))
		return -errno;
	rc = mw_local_addrs_add_from(l, ifa, added);
	freeifaddrs(ifa);
	return rc;
}

void mw_local_addrs_free(struct mw_local_addrs *l)
{
	free(l->addr);
	memset(l, 0, sizeof(*l));
}
