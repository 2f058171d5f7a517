// SPDX-License-Identifier: GPL-2.0
/*
 * sk_msg verdict on the sockhash: bytes a steered client sends go straight
 * into the receive queue of the daemon's accepted socket, without the
 * loopback TCP path. The peer of a socket keyed (L, R) is the one keyed
 * (R, L). Only the client's side is spliced; the daemon's answers take TCP.
 *
 * Two properties of an ingress redirect shape this program:
 *
 * - The daemon reads its socket's redirected queue before its TCP queue.
 *   A byte that took the TCP path while a later byte was redirected would
 *   be read after it. So a message is spliced only while the socket has
 *   never sent a byte by TCP (mw_tcp_path_unused), and a connection leaves
 *   splicing for good the first time one of its messages is not spliced
 *   (tcp_only).
 *
 * - A redirect does not wait for the receiver: the kernel queues the
 *   message whatever the receiver holds already, and the sender never
 *   blocks. Each message is charged its bytes plus MW_SPLICE_MSG_COST, and
 *   the daemon, once it has read everything queued, moves splice_allowed
 *   to the charge then plus a window; a message that would go past it
 *   takes the TCP path, whose window blocks the client as usual. That is
 *   also why the daemon's side is not spliced: nothing tells it how much a
 *   client has read.
 *
 * Splicing is only ever an optimisation: every miss is the TCP path.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "mw_bpf_types.h"
#include "maps.bpf.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * bpf_msg_redirect_hash() returns SK_DROP when the key is missing or the
 * peer cannot take a redirect (not established yet, being closed): the
 * caller must turn that into a pass rather than drop the sender's bytes.
 * BPF_F_INGRESS queues the bytes for the peer to read (not to send).
 */
static __always_inline int mw_msg_redirect_to(struct sk_msg_md *msg,
					      struct mw_conn_key *peer)
{
	return bpf_msg_redirect_hash(msg, &sock_hash, peer, BPF_F_INGRESS) ==
	       SK_PASS;
}

/*
 * An ingress redirect is queued whatever the receiver holds already, so
 * the bound is the daemon's. No bound (the daemon has not taken the
 * connection yet) is no room.
 */
static __always_inline bool mw_daemon_has_room(const struct mw_conn_key *self,
					       const struct mw_splice_state *st,
					       __u64 cost)
{
	const __u64 *allowed = bpf_map_lookup_elem(&splice_allowed, self);

	return allowed && st->charged + cost <= *allowed;
}

/*
 * sk_msg sees only what goes through the socket's sendmsg once it is in
 * the sockhash: bytes in a Fast Open SYN, or a send that was already
 * waiting inside tcp_sendmsg when the socket was added, take TCP unseen.
 * The socket's own counters tell: nothing sent, nothing queued to send.
 */
static __always_inline bool mw_tcp_path_unused(struct sk_msg_md *msg)
{
	struct bpf_sock *sk = msg->sk;
	struct tcp_sock *tp;

	if (!sk)
		return false;
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return false;
	return tp->bytes_sent == 0 && tp->write_seq == tp->snd_nxt;
}

/*
 * The receiver reads its redirected queue before its TCP queue: once a
 * message of the connection has taken the TCP path, a later one spliced
 * could be read before it. So the connection leaves splicing for good.
 */
static __always_inline int mw_leave_splice(struct mw_splice_state *st)
{
	st->tcp_only = 1;
	mw_stat_inc(MW_STAT_SPLICE_MISS);
	return SK_PASS;
}

SEC("sk_msg")
int mw_splice(struct sk_msg_md *msg)
{
	const struct mw_settings *s = mw_settings_get();
	struct mw_splice_state *st;
	struct mw_conn_key self, peer;
	__u64 cost = (__u64)msg->size + MW_SPLICE_MSG_COST;

	if (!s || !s->splice)
		return SK_PASS;
	MW_CTX_SELF_KEY(&self, msg);
	/* none for the daemon's sockets, nor for a client sockops missed */
	st = bpf_map_lookup_elem(&splice_state, &self);
	if (!st || st->tcp_only)
		return SK_PASS;
	if (!mw_daemon_has_room(&self, st, cost) || !mw_tcp_path_unused(msg))
		return mw_leave_splice(st);
	__builtin_memset(&peer, 0, sizeof(peer));
	__builtin_memcpy(peer.local_addr, self.remote_addr,
			 sizeof(peer.local_addr));
	__builtin_memcpy(peer.remote_addr, self.local_addr,
			 sizeof(peer.remote_addr));
	peer.local_port = self.remote_port;
	peer.remote_port = self.local_port;
	if (!mw_msg_redirect_to(msg, &peer))
		return mw_leave_splice(st);
	/* a socket's messages come one at a time, under its lock */
	st->charged += cost;
	mw_stat_inc(MW_STAT_SPLICE_REDIRECT);
	return SK_PASS;
}
