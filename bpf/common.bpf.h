/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the mcpwarden eBPF programs. Every kernel quirk the
 * programs depend on is isolated in a named helper (here, or next to its
 * only user) whose comment says why.
 * Include after vmlinux.h, bpf_helpers.h, mw_bpf_types.h and maps.bpf.h.
 */
#ifndef MW_COMMON_BPF_H
#define MW_COMMON_BPF_H

/* UAPI macros that vmlinux.h (types only) does not carry. */
#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define SOL_SOCKET 1

static __always_inline void mw_stat_inc(enum mw_stat s)
{
	__u32 k = s;
	__u64 *v = bpf_map_lookup_elem(&stats, &k);

	/* Per-CPU slot, and programs run with migration disabled. */
	if (v)
		*v += 1;
}

static __always_inline const struct mw_settings *mw_settings_get(void)
{
	__u32 k = 0;

	return bpf_map_lookup_elem(&settings, &k);
}

/*
 * Context access rules, which clang does not know about:
 * - a context field must be loaded at a constant offset from the context
 *   pointer itself: once clang materialises "ctx + off" in a register and
 *   loads through it, the verifier rejects "dereference of modified ctx
 *   ptr". Hence macros, not helpers taking field pointers.
 * - several fields (bpf_sock_addr.user_port, sk_msg_md.remote_port, the
 *   *_ip6 words, ...) only accept full 4-byte loads on older kernels, while
 *   clang happily turns "(__u16)ctx->field" into a 2-byte load.
 * The volatile 32-bit load pins both down.
 */
#define MW_CTX_U32(ctx, field) (*(const volatile __u32 *)&(ctx)->field)

/*
 * bpf_sock_ops.remote_port and sk_msg_md.remote_port hold the network-order
 * port in the upper 16 bits of the u32 on little-endian hosts (the kernel's
 * ctx rewrite loads skc_dport and shifts it left by 16), whereas
 * local_port is a plain host-order value. ntohl() of the whole word yields
 * the host-order port on either endianness.
 */
#define MW_CTX_REMOTE_PORT(ctx) ((__u16)bpf_ntohl(MW_CTX_U32(ctx, remote_port)))

/* bpf_sock_addr.user_port: network-order port in the low 16 bits. */
static __always_inline __u16 mw_sa_port(struct bpf_sock_addr *ctx)
{
	return bpf_ntohs((__u16)MW_CTX_U32(ctx, user_port));
}

/*
 * Address bytes are written and read through memcpy: the u8[16] fields of
 * the shared structs are not guaranteed 4-byte aligned (mw_server_key only
 * has 2-byte alignment), and clang then picks the widest safe accesses.
 */

/* ::ffff:a.b.c.d from a network-order IPv4 address. */
static __always_inline void mw_addr_from_v4(__u8 out[16], __u32 ip4_be)
{
	__u32 w[4] = { 0, 0, bpf_htonl(0x0000ffff), ip4_be };

	__builtin_memcpy(out, w, sizeof(w));
}

/*
 * 16 bytes from a context u32[4] IPv6 field, one 4-byte load per word at a
 * constant offset from ctx (see MW_CTX_U32).
 */
#define MW_ADDR_FROM_V6(out, ctx, field)                 \
	do {                                             \
		__u32 w_[4];                             \
		w_[0] = MW_CTX_U32(ctx, field[0]);       \
		w_[1] = MW_CTX_U32(ctx, field[1]);       \
		w_[2] = MW_CTX_U32(ctx, field[2]);       \
		w_[3] = MW_CTX_U32(ctx, field[3]);       \
		__builtin_memcpy((out), w_, sizeof(w_)); \
	} while (0)

static __always_inline int mw_addr_is_v4mapped(const __u8 a[16])
{
	__u32 w[3];

	__builtin_memcpy(w, a, sizeof(w));
	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0x0000ffff);
}

/*
 * The key of a TCP socket seen from itself: local = this socket. AF_INET
 * sockets carry IPv4 fields, AF_INET6 ones IPv6 fields (already
 * ::ffff:-mapped for IPv4 peers of dual-stack sockets), so both end up in
 * the same 16-byte form.
 *
 * Every field is loaded unconditionally and only then selected by family:
 * with loads inside if/else, clang merges the two branches' loads into one
 * load through a phi of "ctx + off" pointers, which the verifier rejects
 * (see MW_CTX_U32). Reading the other family's fields is harmless.
 */
#define MW_CTX_SELF_KEY(key, ctx)                                       \
	do {                                                            \
		__u32 fam_ = MW_CTX_U32(ctx, family);                   \
		__u32 l4_ = MW_CTX_U32(ctx, local_ip4);                 \
		__u32 r4_ = MW_CTX_U32(ctx, remote_ip4);                \
		__u8 l6_[16], r6_[16];                                  \
                                                                        \
		MW_ADDR_FROM_V6(l6_, ctx, local_ip6);                   \
		MW_ADDR_FROM_V6(r6_, ctx, remote_ip6);                  \
		__builtin_memset((key), 0, sizeof(*(key)));             \
		(key)->local_port = (__u16)MW_CTX_U32(ctx, local_port); \
		(key)->remote_port = MW_CTX_REMOTE_PORT(ctx);           \
		if (fam_ == AF_INET) {                                  \
			mw_addr_from_v4((key)->local_addr, l4_);        \
			mw_addr_from_v4((key)->remote_addr, r4_);       \
		} else {                                                \
			__builtin_memcpy((key)->local_addr, l6_, 16);   \
			__builtin_memcpy((key)->remote_addr, r6_, 16);  \
		}                                                       \
	} while (0)

#endif
