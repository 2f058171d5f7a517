// SPDX-License-Identifier: GPL-2.0
/*
 * cgroup/connect4 and cgroup/connect6: a TCP connect() from an enforced
 * cgroup to a protected MCP server is recorded (who, where to) by socket
 * cookie and rewritten to the daemon's listener. The programs always allow
 * the connect(): fail-closed comes from the listener being absent while the
 * daemon is down (the client gets "connection refused").
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "mw_bpf_types.h"
#include "maps.bpf.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define MW_ALLOW 1

/*
 * The daemon's own sockets are never steered: it marks its upstream
 * sockets with SO_MARK, and it is recognised by tgid as a second line (it
 * normally runs outside every enforced cgroup anyway). bpf_getsockopt() is
 * usable from the connect hooks (the socket is locked there) since 5.8.
 * daemon_tgid is the tgid in the initial pid namespace.
 */
static __always_inline int mw_is_daemon_socket(struct bpf_sock_addr *ctx,
					       const struct mw_settings *s)
{
	int mark = 0;

	if (s->daemon_tgid &&
	    (__u32)(bpf_get_current_pid_tgid() >> 32) == s->daemon_tgid)
		return 1;
	if (bpf_getsockopt(ctx, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) ==
		    0 &&
	    (__u32)mark == MW_DAEMON_SOCK_MARK)
		return 1;
	return 0;
}

/*
 * A protected server registered on 127.0.0.1 is also reached through any
 * 127.0.0.0/8 address (the whole block is loopback), so such destinations
 * fall back to the 127.0.0.1 entry. The daemon registers every other local
 * address of a local server itself.
 */
static __always_inline struct mw_server_val *
mw_protected_lookup(const struct mw_server_key *key)
{
	struct mw_server_val *v;
	struct mw_server_key lo;
	__u32 ip4;

	v = bpf_map_lookup_elem(&protected_servers, key);
	if (v || !mw_addr_is_v4mapped(key->addr) || key->addr[12] != 127)
		return v;
	__builtin_memcpy(&lo, key, sizeof(lo));
	ip4 = bpf_htonl(0x7f000001);
	__builtin_memcpy(&lo.addr[12], &ip4, sizeof(ip4));
	return bpf_map_lookup_elem(&protected_servers, &lo);
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
	if (mw_is_daemon_socket(ctx, s)) {
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
	__builtin_memset(&dst, 0, sizeof(dst));
	mw_addr_from_v4(dst.addr, MW_CTX_U32(ctx, user_ip4));
	dst.port = mw_sa_port(ctx);
	s = mw_steer(ctx, &dst, AF_INET);
	if (!s)
		return MW_ALLOW;
	ctx->user_ip4 = s->listen4_addr;
	ctx->user_port = bpf_htons(s->listen4_port);
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
	__builtin_memset(&dst, 0, sizeof(dst));
	MW_ADDR_FROM_V6(dst.addr, ctx, user_ip6);
	dst.port = mw_sa_port(ctx);
	s = mw_steer(ctx, &dst, AF_INET6);
	if (!s)
		return MW_ALLOW;
	if (!mw_addr_is_v4mapped(dst.addr) && s->listen6_port) {
		__builtin_memcpy(w, s->listen6_addr, sizeof(w));
		ctx->user_port = bpf_htons(s->listen6_port);
	} else {
		w[0] = 0;
		w[1] = 0;
		w[2] = bpf_htonl(0x0000ffff);
		w[3] = s->listen4_addr;
		ctx->user_port = bpf_htons(s->listen4_port);
	}
	mw_set_user_ip6(ctx, w);
	return MW_ALLOW;
}
