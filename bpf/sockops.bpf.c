// SPDX-License-Identifier: GPL-2.0
/*
 * sockops on enforced cgroups: follows the sockets that connect4/6 steered.
 * At TCP_CONNECT_CB it asks for state callbacks (only for steered sockets),
 * at ACTIVE_ESTABLISHED it re-keys the connect-time record by 4-tuple (the
 * source port exists now) and, with splice on, gives the socket its splice
 * state and puts it into the sockhash; when the socket reaches TCP_CLOSE
 * every entry is removed.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "mw_bpf_types.h"
#include "maps.bpf.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline void mw_on_connect(struct bpf_sock_ops *skops)
{
	__u64 cookie = bpf_get_socket_cookie(skops);

	/*
	 * State callbacks are opt-in per socket; TCP_CONNECT_CB is the
	 * earliest point where a steered socket can ask for them, and the
	 * flag makes a failed handshake (RST, timeout) reach TCP_CLOSE below
	 * so its pending record is dropped.
	 */
	if (bpf_map_lookup_elem(&pending, &cookie))
		bpf_sock_ops_cb_flags_set(skops,
					  skops->bpf_sock_ops_cb_flags |
						  BPF_SOCK_OPS_STATE_CB_FLAG);
}

/*
 * The splice state exists before the client can send a byte, so that no
 * byte of the connection can take the TCP path unnoticed by sk_msg (see
 * splice.bpf.c). Without it the socket is simply never spliced.
 */
static __always_inline void mw_splice_begin(struct bpf_sock_ops *skops,
					    struct mw_conn_key *key)
{
	struct mw_splice_state fresh = {};

	bpf_map_delete_elem(&splice_allowed, key);
	if (bpf_map_update_elem(&splice_state, key, &fresh, BPF_ANY))
		return;
	bpf_sock_hash_update(skops, &sock_hash, key, BPF_ANY);
}

static __always_inline void mw_on_established(struct bpf_sock_ops *skops)
{
	__u64 cookie = bpf_get_socket_cookie(skops);
	const struct mw_settings *s;
	struct mw_conn_info *info;
	struct mw_conn_key key;

	info = bpf_map_lookup_elem(&pending, &cookie);
	if (!info)
		return;
	MW_CTX_SELF_KEY(&key, skops);
	if (bpf_map_update_elem(&conns, &key, info, BPF_ANY))
		mw_stat_inc(MW_STAT_RECORD_FULL);
	else
		mw_stat_inc(MW_STAT_ESTABLISHED);
	bpf_map_delete_elem(&pending, &cookie);
	s = mw_settings_get();
	if (s && s->splice)
		mw_splice_begin(skops, &key);
}

static __always_inline void mw_on_close(struct bpf_sock_ops *skops)
{
	__u64 cookie = bpf_get_socket_cookie(skops);
	struct mw_conn_key key;

	/*
	 * STATE_CB runs in tcp_set_state() before the socket is unhashed, so
	 * its addresses and ports are still those of the connection.
	 */
	bpf_map_delete_elem(&pending, &cookie);
	MW_CTX_SELF_KEY(&key, skops);
	if (bpf_map_delete_elem(&conns, &key) == 0)
		mw_stat_inc(MW_STAT_CLOSED);
	/*
	 * The kernel also drops the socket from the sockhash when it is
	 * unhashed; deleting here leaves no window with a stale entry.
	 */
	bpf_map_delete_elem(&sock_hash, &key);
	bpf_map_delete_elem(&splice_state, &key);
	bpf_map_delete_elem(&splice_allowed, &key);
}

SEC("sockops")
int mw_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		mw_on_connect(skops);
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		mw_on_established(skops);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		/* args[0] is the old state, args[1] the new one. */
		if (skops->args[1] == BPF_TCP_CLOSE)
			mw_on_close(skops);
		break;
	default:
		break;
	}
	return 1;
}
