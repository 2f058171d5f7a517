/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Loads the eBPF programs, pins them and their maps under bpf_pin_dir, and
 * attaches them to enforced cgroups with pinned links, so that enforcement
 * outlives the daemon: while it is down, steered connections are refused.
 */
#ifndef MW_BPF_LOADER_H
#define MW_BPF_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mw_bpf_types.h"

struct mw_bpf;

/*
 * Opens (or creates) the instance pinned under pin_dir: maps already pinned
 * there are reused, fresh programs are loaded and every existing pinned link
 * is switched to them. Writes the settings. Returns 0 or -errno; err gets a
 * human-readable reason.
 */
int mw_bpf_open(struct mw_bpf **out, const char *pin_dir,
		const struct mw_settings *settings, char *err, size_t errlen);
void mw_bpf_close(struct mw_bpf *b);

int mw_bpf_set_settings(struct mw_bpf *b, const struct mw_settings *s);

/* Replaces the protected set with exactly these n entries. */
int mw_bpf_set_servers(struct mw_bpf *b, const struct mw_server_key *keys,
		       const struct mw_server_val *vals, size_t n);

/*
 * Replaces the ports of the protected servers on this host (host byte
 * order), which the programs refuse at unlisted addresses while the daemon
 * is down, in the network namespace of netns_cookie (0: not known, every
 * namespace).
 */
int mw_bpf_set_local_ports(struct mw_bpf *b, const uint32_t *ports,
			   const struct mw_server_val *vals, size_t n,
			   uint64_t netns_cookie);

/*
 * Replaces the host's addresses at which the servers of local ports are
 * steered (mw_local_addrs: 16 bytes each, IPv4-mapped): the others, which
 * the host no longer has, removed first, so that a full map takes them.
 */
int mw_bpf_set_local_addrs(struct mw_bpf *b, const uint8_t (*addrs)[16],
			   size_t n);

/*
 * The identity and original destination of a steered connection, taken
 * from the kernel's records for the daemon's accepted socket (peer is the
 * client's address, local the listener's): the record is deleted, so each
 * is taken once. Returns 0, -ENOENT when the connection was not steered
 * (or was taken already).
 */
int mw_bpf_take_conn(struct mw_bpf *b, const struct sockaddr_storage *peer,
		     const struct sockaddr_storage *local,
		     struct mw_conn_info *out);

/*
 * Splice on: adds the daemon's accepted socket to the sockhash, so that
 * sk_msg can queue the client's messages straight into it, and lets them
 * be charged up to `window` (see bpf/splice.bpf.c). *client_key is the
 * connection's key for the calls below. 0 or -errno; on an error nothing
 * is spliced.
 */
int mw_bpf_splice_add(struct mw_bpf *b, int fd,
		      const struct sockaddr_storage *peer,
		      const struct sockaddr_storage *local, uint64_t window,
		      struct mw_conn_key *client_key);

/*
 * Everything spliced so far has been read: the charge may go `window`
 * further. 0, 1 when the connection has left the splice for good, or
 * -errno.
 */
int mw_bpf_splice_refill(struct mw_bpf *b, const struct mw_conn_key *client_key,
			 uint64_t window);

/* The daemon is done with the connection (the kernel forgets it at close). */
void mw_bpf_splice_forget(struct mw_bpf *b,
			  const struct mw_conn_key *client_key);

/*
 * Tags one of the daemon's sockets for the programs: MW_OWN_UPSTREAM before
 * connect() (never steered), MW_OWN_LISTENER once listening (the target
 * they steer to). 0 or -errno.
 */
int mw_bpf_tag_own_socket(struct mw_bpf *b, int fd, uint32_t tag);

/* cgroup_path is absolute (under the cgroup v2 mount); *id_out (may be
 * NULL) gets the id of the cgroup enforced. */
int mw_bpf_enforce(struct mw_bpf *b, const char *cgroup_path, uint64_t *id_out,
		   char *err, size_t errlen);
int mw_bpf_release(struct mw_bpf *b, const char *cgroup_path, char *err,
		   size_t errlen);

/* 1 when the cgroup of this id has all its links pinned, 0 when not. */
int mw_bpf_is_enforced(struct mw_bpf *b, uint64_t id);

/* Releases by id a cgroup that is gone (its path names nothing now). */
int mw_bpf_release_id(struct mw_bpf *b, uint64_t id, char *err, size_t errlen);

/* Unpins the links of cgroups the kernel has freed; how many, or -errno. */
int mw_bpf_drop_defunct(struct mw_bpf *b);

/* 1 with *hit when one of ids[0..n) is an enforced cgroup, 0 when none
 * is, or -errno. */
int mw_bpf_enforced_among(struct mw_bpf *b, const uint64_t *ids, size_t n,
			  uint64_t *hit);

/* Calls fn for each enforced cgroup (id and absolute path). */
int mw_bpf_for_each_enforced(struct mw_bpf *b,
			     int (*fn)(void *arg, uint64_t cgroup_id,
				       const char *path),
			     void *arg);

/* Calls fn for each live steered connection (from the 4-tuple map). */
int mw_bpf_for_each_conn(struct mw_bpf *b,
			 int (*fn)(void *arg, const struct mw_conn_key *k,
				   const struct mw_conn_info *v),
			 void *arg);

/* Kernel-side counters summed over CPUs. */
int mw_bpf_stats(struct mw_bpf *b, uint64_t out[MW_STAT__COUNT]);
const char *mw_bpf_stat_name(enum mw_stat s);

#endif
