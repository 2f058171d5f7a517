// SPDX-License-Identifier: GPL-2.0
/*
 * cgroup/connect4 and cgroup/connect6: a TCP connect() from an enforced
 * cgroup to a protected MCP server is recorded (who, where to) by socket
 * cookie and rewritten to the daemon's listener. Fail-closed: when the
 * socket listening there is not the daemon's (it is down), the connect()
 * is refused (EPERM).
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "mw_bpf_types.h"
#include "maps.bpf.h"
#include "common.bpf.h"
#include "task_image.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define MW_ALLOW 1
#define MW_REFUSE 0 /* connect() fails with EPERM */

/*
 * The daemon's own sockets, tagged from user space (the key is the socket's
 * fd there): its upstream sockets, which are never steered, and its
 * listeners, the only sockets a connection is steered to. Not pinned: each
 * daemon start loads a fresh map with its programs, so a tag never outlives
 * the daemon that wrote it. Unlike a process id (reused once the daemon is
 * gone) or an SO_MARK (which CAP_NET_RAW sets), nobody else can write here.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32);
} own_socks SEC(".maps");

static __always_inline int mw_is_daemon_socket(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	__u32 *tag;

	if (!sk)
		return 0;
	tag = bpf_sk_storage_get(&own_socks, sk, 0, 0);
	return tag && *tag == MW_OWN_UPSTREAM;
}

/*
 * Whether the socket listening at the steering target is the daemon's.
 * While the daemon is down its port is free, and any local user could
 * listen there and read what is steered to it: the connect() is refused
 * instead. The look-up is in the caller's network namespace, where the
 * rewritten connect() goes.
 */
static __always_inline int mw_daemon_listens(struct bpf_sock_addr *ctx,
					     struct bpf_sock_tuple *t,
					     __u32 tuple_size)
{
	struct bpf_sock *sk;
	__u32 *tag;
	int ours;

	sk = bpf_sk_lookup_tcp(ctx, t, tuple_size, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0;
	tag = bpf_sk_storage_get(&own_socks, sk, 0, 0);
	ours = tag && *tag == MW_OWN_LISTENER;
	bpf_sk_release(sk);
	return ours;
}

static __always_inline int mw_daemon_listens4(struct bpf_sock_addr *ctx,
					      __u32 addr, __u16 port)
{
	struct bpf_sock_tuple t;

	__builtin_memset(&t, 0, sizeof(t));
	t.ipv4.daddr = addr;
	t.ipv4.dport = bpf_htons(port);
	return mw_daemon_listens(ctx, &t, sizeof(t.ipv4));
}

static __always_inline int mw_daemon_listens6(struct bpf_sock_addr *ctx,
					      const __u32 addr[4], __u16 port)
{
	struct bpf_sock_tuple t;

	__builtin_memset(&t, 0, sizeof(t));
	__builtin_memcpy(t.ipv6.daddr, addr, sizeof(t.ipv6.daddr));
	t.ipv6.dport = bpf_htons(port);
	return mw_daemon_listens(ctx, &t, sizeof(t.ipv6));
}

static __always_inline bool mw_addr_is_loopback4(const __u8 addr[16])
{
	return mw_addr_is_v4mapped(addr) && addr[12] == 127;
}

/*
 * The server a destination is: one registered at that address and port;
 * else, at a port of a server on this host, any of the host's addresses
 * the daemon listed (local_addrs). A server registered on 127.0.0.1 is
 * also reached through any 127.0.0.0/8 address (the whole block is
 * loopback), so such destinations fall back to the 127.0.0.1 entry, and
 * count as the host's.
 */
static __always_inline struct mw_server_val *
mw_protected_lookup(const struct mw_server_key *key)
{
	struct mw_server_val *v;
	struct mw_server_key lo;
	struct mw_addr_key a;
	__u32 ip4, port;

	v = bpf_map_lookup_elem(&protected_servers, key);
	if (v)
		return v;
	if (mw_addr_is_loopback4(key->addr)) {
		__builtin_memcpy(&lo, key, sizeof(lo));
		ip4 = bpf_htonl(0x7f000001);
		__builtin_memcpy(&lo.addr[12], &ip4, sizeof(ip4));
		v = bpf_map_lookup_elem(&protected_servers, &lo);
		if (v)
			return v;
	}
	port = key->port;
	v = bpf_map_lookup_elem(&local_ports, &port);
	if (!v)
		return NULL;
	if (mw_addr_is_loopback4(key->addr))
		return v;
	__builtin_memcpy(a.addr, key->addr, sizeof(a.addr));
	return bpf_map_lookup_elem(&local_addrs, &a) ? v : NULL;
}

/* The daemon is down (or someone else holds its port): fail closed. */
static __always_inline int mw_refuse_undaemoned(void)
{
	mw_stat_inc(MW_STAT_CONNECT_REFUSED_DOWN);
	return MW_REFUSE;
}

/*
 * Whether a connect() that is not steered goes to the port of a server on
 * this host, at an address the daemon has not listed, while the daemon is
 * down (*sp: the settings to refuse with). The daemon lists each local
 * address as it appears; an address added while it is down (ip addr add)
 * would reach the server unrecorded until its restart. Whether an address
 * is local cannot be told from here (a listener on 0.0.0.0 matches any
 * address in a socket look-up), so until the daemon is back that port is
 * refused at every unlisted address, a remote host's included: closed, as
 * everything else steered is while the daemon is down. Only in the
 * daemon's network namespace: another has addresses of its own, and the
 * daemon's listener is never found from there.
 */
static __always_inline bool
mw_unlisted_local_down(struct bpf_sock_addr *ctx,
		       const struct mw_server_key *dst,
		       const struct mw_settings **sp)
{
	const struct mw_settings *s;
	__u32 port = dst->port, k = 0;
	__u64 *netns;

	if (!bpf_map_lookup_elem(&local_ports, &port))
		return false;
	netns = bpf_map_lookup_elem(&local_netns, &k);
	if (netns && *netns && *netns != bpf_get_netns_cookie(ctx))
		return false;
	s = mw_settings_get();
	if (!s || mw_daemon_listens4(ctx, s->listen4_addr, s->listen4_port))
		return false;
	*sp = s;
	return true;
}

/* The destination a connect4 asks for, as a protected-server key. */
static __always_inline void mw_dst4(struct bpf_sock_addr *ctx,
				    struct mw_server_key *dst)
{
	__builtin_memset(dst, 0, sizeof(*dst));
	mw_addr_from_v4(dst->addr, MW_CTX_U32(ctx, user_ip4));
	dst->port = mw_sa_port(ctx);
}

/* The same for connect6 (IPv4-mapped addresses included). */
static __always_inline void mw_dst6(struct bpf_sock_addr *ctx,
				    struct mw_server_key *dst)
{
	__builtin_memset(dst, 0, sizeof(*dst));
	MW_ADDR_FROM_V6(dst->addr, ctx, user_ip6);
	dst->port = mw_sa_port(ctx);
}

/* Captures the connecting task's identity and the original destination. */
static __always_inline void mw_record(void *ctx,
				      const struct mw_server_key *dst,
				      __u16 family, __u32 server_id)
{
	struct mw_conn_info info;
	__u64 id = bpf_get_current_pid_tgid();
	__u64 ug = bpf_get_current_uid_gid();
	__u64 cookie;

	__builtin_memset(&info, 0, sizeof(info));
	__builtin_memcpy(info.orig_addr, dst->addr, sizeof(info.orig_addr));
	info.orig_port = dst->port;
	info.family = family;
	info.server_id = server_id;
	info.pid = (__u32)id;
	info.tgid = (__u32)(id >> 32);
	info.uid = (__u32)ug;
	info.gid = (__u32)(ug >> 32);
	info.cgroup_id = bpf_get_current_cgroup_id();
	cookie = bpf_get_socket_cookie(ctx);
	info.cookie = cookie;
	info.connect_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(info.comm, sizeof(info.comm));
	mw_task_image_of((struct task_struct *)bpf_get_current_task(),
			 &info.image);
	if (bpf_map_update_elem(&pending, &cookie, &info, BPF_ANY))
		mw_stat_inc(MW_STAT_RECORD_FULL);
}

/*
 * Common part of both hooks: NULL when the destination is not steered,
 * else the settings to redirect with (the record is already written).
 */
static __always_inline const struct mw_settings *
mw_steer(struct bpf_sock_addr *ctx, const struct mw_server_key *dst,
	 __u16 family)
{
	const struct mw_settings *s;
	struct mw_server_val *v;

	mw_stat_inc(MW_STAT_CONNECT_SEEN);
	v = mw_protected_lookup(dst);
	if (!v)
		return NULL;
	s = mw_settings_get();
	if (!s)
		return NULL;
	if (mw_is_daemon_socket(ctx)) {
		mw_stat_inc(MW_STAT_CONNECT_DAEMON_SKIPPED);
		return NULL;
	}
	mw_record(ctx, dst, family, v->server_id);
	mw_stat_inc(MW_STAT_CONNECT_REDIRECTED);
	return s;
}

SEC("cgroup/connect4")
int mw_connect4(struct bpf_sock_addr *ctx)
{
	const struct mw_settings *s;
	struct mw_server_key dst;

	/* The hook also runs for UDP connect(); only TCP is steered. */
	if (ctx->type != SOCK_STREAM)
		return MW_ALLOW;
	mw_dst4(ctx, &dst);
	s = mw_steer(ctx, &dst, AF_INET);
	/* an unlisted local address while down takes the refusal below */
	if (!s && !mw_unlisted_local_down(ctx, &dst, &s))
		return MW_ALLOW;
	/* rewritten even when refused: the guard, which runs after, sees a
	 * socket handled here (mw_guard) */
	ctx->user_ip4 = s->listen4_addr;
	ctx->user_port = bpf_htons(s->listen4_port);
	if (!mw_daemon_listens4(ctx, s->listen4_addr, s->listen4_port))
		return mw_refuse_undaemoned();
	return MW_ALLOW;
}

/*
 * bpf_sock_addr.user_ip6 only takes 4-byte stores at constant offsets from
 * ctx: one word at a time, no memcpy.
 */
static __always_inline void mw_set_user_ip6(struct bpf_sock_addr *ctx,
					    const __u32 w[4])
{
	ctx->user_ip6[0] = w[0];
	ctx->user_ip6[1] = w[1];
	ctx->user_ip6[2] = w[2];
	ctx->user_ip6[3] = w[3];
}

/*
 * Native IPv6 goes to listen6; IPv4-mapped destinations (a dual-stack
 * socket connecting to ::ffff:a.b.c.d only runs connect6) go to
 * ::ffff:listen4. Without an IPv6 listener (listen6_port 0) native IPv6 is
 * steered to ::ffff:listen4 too: that works on dual-stack sockets, and on
 * IPV6_V6ONLY ones connect() fails, which is still closed.
 */
SEC("cgroup/connect6")
int mw_connect6(struct bpf_sock_addr *ctx)
{
	const struct mw_settings *s;
	struct mw_server_key dst;
	__u32 w[4];

	if (ctx->type != SOCK_STREAM)
		return MW_ALLOW;
	mw_dst6(ctx, &dst);
	s = mw_steer(ctx, &dst, AF_INET6);
	if (!s && !mw_unlisted_local_down(ctx, &dst, &s))
		return MW_ALLOW;
	/* rewritten even when refused (see mw_connect4) */
	if (!mw_addr_is_v4mapped(dst.addr) && s->listen6_port) {
		__builtin_memcpy(w, s->listen6_addr, sizeof(w));
		mw_set_user_ip6(ctx, w);
		ctx->user_port = bpf_htons(s->listen6_port);
		if (!mw_daemon_listens6(ctx, w, s->listen6_port))
			return mw_refuse_undaemoned();
		return MW_ALLOW;
	}
	w[0] = 0;
	w[1] = 0;
	w[2] = bpf_htonl(0x0000ffff);
	w[3] = s->listen4_addr;
	mw_set_user_ip6(ctx, w);
	ctx->user_port = bpf_htons(s->listen4_port);
	if (!mw_daemon_listens4(ctx, s->listen4_addr, s->listen4_port))
		return mw_refuse_undaemoned();
	return MW_ALLOW;
}

/*
 * The cgroup hooks run for the cgroup a socket was made in, not for the
 * caller's: a process in an enforced cgroup that got a socket made
 * outside it (passed over a Unix socket, taken with pidfd_getfd, made
 * before it moved in) would connect unsteered. The guard programs are
 * attached to the root cgroup, so they run for every socket, after any
 * enforced cgroup's own programs: a connect() still aimed at a protected
 * server (one made in an enforced cgroup was rewritten to the daemon
 * already) from a caller in an enforced cgroup is refused. The daemon
 * keeps the ids of the enforced cgroups here.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MW_MAX_ENFORCED);
	__type(key, __u64);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} enforced SEC(".maps");

/* Whether the calling task is in an enforced cgroup or below one. */
static __always_inline int mw_caller_enforced(void)
{
	for (int level = 0; level < MW_CG_MAX_LEVEL; level++) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(level);

		if (!id)
			return 0;
		if (bpf_map_lookup_elem(&enforced, &id))
			return 1;
	}
	return 0;
}

static __always_inline int mw_guard(struct bpf_sock_addr *ctx,
				    const struct mw_server_key *dst)
{
	const struct mw_settings *s;

	if (!mw_protected_lookup(dst) && !mw_unlisted_local_down(ctx, dst, &s))
		return MW_ALLOW;
	if (mw_is_daemon_socket(ctx) || !mw_caller_enforced())
		return MW_ALLOW;
	mw_stat_inc(MW_STAT_CONNECT_REFUSED_FOREIGN);
	return MW_REFUSE;
}

SEC("cgroup/connect4")
int mw_guard4(struct bpf_sock_addr *ctx)
{
	struct mw_server_key dst;

	if (ctx->type != SOCK_STREAM)
		return MW_ALLOW;
	mw_dst4(ctx, &dst);
	return mw_guard(ctx, &dst);
}

SEC("cgroup/connect6")
int mw_guard6(struct bpf_sock_addr *ctx)
{
	struct mw_server_key dst;

	if (ctx->type != SOCK_STREAM)
		return MW_ALLOW;
	mw_dst6(ctx, &dst);
	return mw_guard(ctx, &dst);
}

/*
 * While the daemon is down, what is steered to its port is refused; but a
 * user who listened there first would keep it from starting again, and
 * the refusals would last. Its port is the daemon's: only root binds it
 * (the daemon runs as root, and root could stop it anyway). Any address:
 * a wildcard takes the port from every one of them.
 */
static __always_inline int mw_guard_bind(struct bpf_sock_addr *ctx)
{
	const struct mw_settings *s;
	__u16 port;

	if (ctx->type != SOCK_STREAM)
		return MW_ALLOW;
	port = bpf_ntohs(ctx->user_port);
	s = mw_settings_get();
	if (!s || !port || (port != s->listen4_port && port != s->listen6_port))
		return MW_ALLOW;
	if ((__u32)bpf_get_current_uid_gid() == 0)
		return MW_ALLOW;
	mw_stat_inc(MW_STAT_BIND_REFUSED);
	return MW_REFUSE;
}

SEC("cgroup/bind4")
int mw_guard_bind4(struct bpf_sock_addr *ctx)
{
	return mw_guard_bind(ctx);
}

SEC("cgroup/bind6")
int mw_guard_bind6(struct bpf_sock_addr *ctx)
{
	return mw_guard_bind(ctx);
}
