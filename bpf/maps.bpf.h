/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Maps shared by every mcpwarden eBPF object. Each object includes this
 * header, so each declares every map; with LIBBPF_PIN_BY_NAME and the
 * loader's pin_root_path (= bpf_pin_dir) the first object loaded creates and
 * pins them, the others (and the next daemon) reuse the pinned ones. Sizes
 * and layouts are therefore part of the pinned contract: only append.
 */
#ifndef MW_MAPS_BPF_H
#define MW_MAPS_BPF_H

/*
 * Slots in the stats array. Fixed and larger than MW_STAT__COUNT so that
 * appending a counter does not change max_entries, which would make libbpf
 * refuse to reuse the map pinned by the previous daemon.
 */
#define MW_STATS_SLOTS 64

/* (addr, port) of protected MCP servers, written by the daemon. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MW_MAX_SERVERS);
	__type(key, struct mw_server_key);
	__type(value, struct mw_server_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} protected_servers SEC(".maps");

/*
 * Ports (host byte order, in a __u32) of the protected servers on this
 * host, written by the daemon. Such a server answers on every local
 * address, and the daemon adds each to local_addrs as it appears; while
 * the daemon is down nobody does, so these ports are refused at any
 * address not listed (connect.bpf.c, mw_unlisted_local_down).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MW_MAX_SERVERS);
	__type(key, __u32);
	__type(value, struct mw_server_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} local_ports SEC(".maps");

/*
 * The host's own addresses (16 bytes, IPv4-mapped), written by the
 * daemon: a server on this host answers on each of them at its port in
 * local_ports. One set for every such server, so that a host with many
 * addresses (a veth's link-local address per container) does not take
 * servers x addresses entries in protected_servers.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MW_MAX_LOCAL_ADDRS);
	__type(key, struct mw_addr_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} local_addrs SEC(".maps");

/*
 * One element: the cookie of the network namespace the daemon and those
 * local servers are in (0: not known). Another namespace has addresses
 * of its own, which local_ports says nothing about.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} local_netns SEC(".maps");

/* One element: struct mw_settings, written by the daemon at every start. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mw_settings);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} settings SEC(".maps");

/*
 * connect()-time records by socket cookie, until sockops re-keys them by
 * 4-tuple (or sees the socket close). LRU because a connect() that fails
 * after the cgroup hook but before tcp_connect() (e.g. EADDRNOTAVAIL when
 * ephemeral ports run out) never reaches sockops: nothing would ever delete
 * its record. Live entries only span a handshake, so eviction of a live one
 * needs MW_MAX_PENDING_CONNECTS concurrent handshakes; the daemon then
 * finds no record and refuses (fail closed).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MW_MAX_PENDING_CONNECTS);
	__type(key, __u64);
	__type(value, struct mw_conn_info);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pending SEC(".maps");

/*
 * Steered connections by client-side 4-tuple, from the client's
 * ESTABLISHED until the daemon takes the record at accept (or the socket
 * closes first): a connection the daemon holds costs no entry here.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MW_MAX_CONNS);
	__type(key, struct mw_conn_key);
	__type(value, struct mw_conn_info);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} conns SEC(".maps");

/*
 * Client sockets (added by sockops) and the daemon's accepted sockets (added
 * from user space), each keyed by its own 4-tuple, so a socket's peer is
 * found under the mirrored key. The kernel drops a socket from it when the
 * socket is unhashed or closed.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 2 * MW_MAX_CONNS);
	__type(key, struct mw_conn_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sock_hash SEC(".maps");

/* Splicing (bpf/splice.bpf.c): one entry per steered client socket. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MW_MAX_CONNS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mw_conn_key);
	__type(value, struct mw_splice_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} splice_state SEC(".maps");

/*
 * How far a client socket's splice_state.charged may go: the daemon's side
 * of the budget, written only by the daemon, as it reads.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MW_MAX_CONNS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mw_conn_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} splice_allowed SEC(".maps");

/* Counters indexed by enum mw_stat. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MW_STATS_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} stats SEC(".maps");

#endif
