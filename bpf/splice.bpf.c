// SPDX-License-Identifier: GPL-2.0
/*
 * sk_msg verdict on the sockhash: bytes sent on a client socket go straight
 * into the receive queue of the daemon's accepted socket and back, without
 * the loopback TCP path. The peer of a socket keyed (L, R) is the one keyed
 * (R, L). Any miss (peer not added yet, splice switched off) passes the
 * message to the normal TCP path, so splicing is only ever an optimisation.
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

SEC("sk_msg")
int mw_splice(struct sk_msg_md *msg)
{
	const struct mw_settings *s = mw_settings_get();
	struct mw_conn_key self, peer;

	if (!s || !s->splice)
		return SK_PASS;
	MW_CTX_SELF_KEY(&self, msg);
	__builtin_memset(&peer, 0, sizeof(peer));
	__builtin_memcpy(peer.local_addr, self.remote_addr,
			 sizeof(peer.local_addr));
	__builtin_memcpy(peer.remote_addr, self.local_addr,
			 sizeof(peer.remote_addr));
	peer.local_port = self.remote_port;
	peer.remote_port = self.local_port;
	if (mw_msg_redirect_to(msg, &peer))
		mw_stat_inc(MW_STAT_SPLICE_REDIRECT);
	else
		mw_stat_inc(MW_STAT_SPLICE_MISS);
	return SK_PASS;
}
