// SPDX-License-Identifier: BSD-2-Clause
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "local_addrs.h"
#include "mw_bpf_types.h"

/* ---- building an ifaddrs list ---- */

struct la_list {
	struct ifaddrs *ifa;
	struct sockaddr_in6 *sa;
	size_t n;
};

/* n link-local IPv6 addresses fe80::k (k from first), a veth's each. */
static void la_make(struct la_list *l, size_t n, size_t first)
{
	l->ifa = calloc(n ? n : 1, sizeof(*l->ifa));
	l->sa = calloc(n ? n : 1, sizeof(*l->sa));
	cr_assert(l->ifa && l->sa);
	l->n = n;
	for (size_t i = 0; i < n; i++) {
		size_t k = first + i;

		l->sa[i].sin6_family = AF_INET6;
		l->sa[i].sin6_addr.s6_addr[0] = 0xfe;
		l->sa[i].sin6_addr.s6_addr[1] = 0x80;
		l->sa[i].sin6_addr.s6_addr[13] = (uint8_t)(k >> 16);
		l->sa[i].sin6_addr.s6_addr[14] = (uint8_t)(k >> 8);
		l->sa[i].sin6_addr.s6_addr[15] = (uint8_t)k;
		l->ifa[i].ifa_name = "veth";
		l->ifa[i].ifa_addr = (struct sockaddr *)&l->sa[i];
		l->ifa[i].ifa_next = i + 1 < n ? &l->ifa[i + 1] : NULL;
	}
}

static void la_free(struct la_list *l)
{
	free(l->ifa);
	free(l->sa);
}

static void la_key(const char *ip, uint8_t out[16])
{
	struct in_addr a4;

	memset(out, 0, 16);
	if (inet_pton(AF_INET, ip, &a4) == 1) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		return;
	}
	cr_assert_eq(inet_pton(AF_INET6, ip, out), 1, "%s", ip);
}

static bool la_has(const struct mw_local_addrs *l, const char *ip)
{
	uint8_t k[16];

	la_key(ip, k);
	return mw_local_addrs_has(l, k);
}

static void la_assert_sorted_unique(const struct mw_local_addrs *l)
{
	for (size_t i = 1; i < l->n; i++)
		cr_assert_lt(memcmp(l->addr[i - 1], l->addr[i], 16), 0,
			     "entries %zu and %zu out of order", i - 1, i);
}

/* ---- tests ---- */

/* The host's own: loopback, the wildcards, every interface's address. */
Test(local_addrs, the_host_and_loopback_and_the_wildcards)
{
	struct mw_local_addrs l = { 0 };
	struct ifaddrs *ifa;
	size_t added, again;

	cr_assert_eq(mw_local_addrs_scan(&l, &added), 0);
	cr_assert_eq(added, l.n);
	cr_assert(la_has(&l, "127.0.0.1"));
	cr_assert(la_has(&l, "0.0.0.0"));
	cr_assert(la_has(&l, "::1"));
	cr_assert(la_has(&l, "::"));
	cr_assert_not(la_has(&l, "198.51.100.7"));
	cr_assert_eq(getifaddrs(&ifa), 0);
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		char ip[INET6_ADDRSTRLEN];

		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			inet_ntop(
				AF_INET,
				&((struct sockaddr_in *)i->ifa_addr)->sin_addr,
				ip, sizeof(ip));
		else if (i->ifa_addr->sa_family == AF_INET6)
			inet_ntop(AF_INET6,
				  &((struct sockaddr_in6 *)i->ifa_addr)
					   ->sin6_addr,
				  ip, sizeof(ip));
		else
			continue;
		cr_assert(la_has(&l, ip), "%s's %s missing", i->ifa_name, ip);
	}
	freeifaddrs(ifa);
	la_assert_sorted_unique(&l);
	/* nothing new the second time */
	cr_assert_eq(mw_local_addrs_scan(&l, &again), 0);
	cr_assert_eq(again, 0);
	mw_local_addrs_free(&l);
}

/*
 * A container host: a link-local address per veth, thousands of them, in
 * two batches that interleave; every one kept once, in order; one that
 * goes away stays.
 */
Test(local_addrs, thousands_of_addresses_merge_in_order)
{
	struct mw_local_addrs l = { 0 };
	struct la_list a, b;
	size_t added;

	la_make(&a, 3000, 0);
	cr_assert_eq(mw_local_addrs_add_from(&l, a.ifa, &added), 0);
	cr_assert_eq(added, 3000 + 4);
	/* 1500..4499: half known already */
	la_make(&b, 3000, 1500);
	cr_assert_eq(mw_local_addrs_add_from(&l, b.ifa, &added), 0);
	cr_assert_eq(added, 1500);
	cr_assert_eq(l.n, 4500 + 4);
	la_assert_sorted_unique(&l);
	cr_assert(la_has(&l, "fe80::0"));
	cr_assert(la_has(&l, "fe80::5db"));
	cr_assert(la_has(&l, "fe80::1193"));
	cr_assert_not(la_has(&l, "fe80::1194"));
	/* the first batch's addresses gone: they stay listed */
	cr_assert_eq(mw_local_addrs_add_from(&l, b.ifa, &added), 0);
	cr_assert_eq(added, 0);
	cr_assert(la_has(&l, "fe80::1"));
	la_free(&a);
	la_free(&b);
	mw_local_addrs_free(&l);
}

/* Past MW_MAX_LOCAL_ADDRS the set is full, the rest said to be left out. */
Test(local_addrs, the_set_is_bounded)
{
	struct mw_local_addrs l = { 0 };
	struct la_list a;
	size_t added;

	la_make(&a, MW_MAX_LOCAL_ADDRS + 10, 0);
	cr_assert_eq(mw_local_addrs_add_from(&l, a.ifa, &added), -E2BIG);
	cr_assert_eq(added, MW_MAX_LOCAL_ADDRS);
	cr_assert_eq(l.n, MW_MAX_LOCAL_ADDRS);
	la_assert_sorted_unique(&l);
	cr_assert_eq(mw_local_addrs_add_from(&l, a.ifa, &added), -E2BIG);
	cr_assert_eq(added, 0);
	la_free(&a);
	mw_local_addrs_free(&l);
}
