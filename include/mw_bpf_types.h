/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Types shared by the eBPF programs (bpf/) and the daemon (user/).
 * Layouts are part of the pinned-map contract: a daemon upgrade reuses the
 * maps pinned by the previous one, so fields are only ever appended.
 */
#ifndef MW_BPF_TYPES_H
#define MW_BPF_TYPES_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define MW_COMM_LEN 16
#define MW_MAX_SERVERS 4096 /* servers x their configured addresses */
#define MW_MAX_LOCAL_ADDRS 16384 /* the host's own addresses */
#define MW_MAX_CONNS 65536
#define MW_MAX_PENDING_CONNECTS 16384
#define MW_MAX_ENFORCED 4096 /* enforced cgroups */
#define MW_CG_MAX_LEVEL 32 /* nesting the guard looks through */

/*
 * Addresses are always 16 bytes: IPv4 is stored IPv4-mapped
 * (::ffff:a.b.c.d) so one key type serves connect4, connect6 and sockops.
 * Ports are in host byte order.
 */
struct mw_server_key {
	__u8 addr[16];
	__u16 port;
	__u16 pad;
};

/* An address alone, as in mw_server_key. */
struct mw_addr_key {
	__u8 addr[16];
};

struct mw_server_val {
	__u32 server_id; /* index into the daemon's servers list */
};

/* A TCP connection seen from the client socket: local = client. */
struct mw_conn_key {
	__u8 local_addr[16];
	__u8 remote_addr[16];
	__u16 local_port;
	__u16 remote_port;
	__u32 pad;
};

/*
 * The process image a task runs, as the kernel knows it: its process's
 * start (kept when a thread other than the leader execs), its exec count
 * and its executable's inode. The same at connect() and at accept means no
 * exec and no new process in between: /proc/PID/exe then names what
 * connected. Zero where the kernel had nothing to read, or where the
 * executable was not opened by an exec (task_image.bpf.h).
 */
struct mw_task_image {
	__u64 start_ns; /* the process's task_struct.start_time */
	__u64 exec_id; /* task_struct.self_exec_id, one more per exec */
	__u64 exe_ino; /* mm->exe_file's inode number */
	__u32 exe_dev; /* and its super block's kernel dev_t */
	__u32 pad;
};

/*
 * What the task iterator (task_image.bpf.c) writes for the one process it
 * is run for: tgid says which, should the kernel ignore the link's tid.
 */
struct mw_task_image_rec {
	__u32 tgid;
	__u32 pad;
	struct mw_task_image image;
};

/* Captured at connect() in the context of the connecting task. */
struct mw_conn_info {
	__u8 orig_addr[16]; /* the destination the client asked for */
	__u16 orig_port;
	__u16 family; /* AF_INET or AF_INET6 of the client socket */
	__u32 server_id;
	__u32 pid; /* thread id */
	__u32 tgid; /* process id */
	__u32 uid;
	__u32 gid;
	__u64 cgroup_id;
	__u64 cookie;
	__u64 connect_ns; /* bpf_ktime_get_ns() at connect */
	char comm[MW_COMM_LEN];
	struct mw_task_image image;
};

/* Run-time settings, one element; the daemon writes it at every start. */
struct mw_settings {
	__u8 listen6_addr[16]; /* redirect target for native IPv6 */
	__u32 listen4_addr; /* network byte order; target for IPv4/mapped */
	__u16 listen4_port; /* host byte order */
	__u16 listen6_port;
	__u32 splice; /* non-zero: sk_msg splices client<->daemon bytes */
	__u32 daemon_tgid; /* unused: the programs tag the daemon's sockets */
};

/*
 * Splice state of a steered client socket, made by sockops when the
 * connection is established (before the client can send) and written only
 * by sk_msg after that; keyed like conns, from the client's side.
 */
struct mw_splice_state {
	/* what the messages queued straight into the daemon's socket cost:
	 * their bytes plus MW_SPLICE_MSG_COST each */
	__u64 charged;
	__u32 tcp_only; /* set once, never cleared: see bpf/splice.bpf.c */
	__u32 pad;
};

/*
 * What a spliced message costs the kernel besides its bytes: its struct
 * sk_msg (712 bytes on 6.18, a 1 KiB slab object) and, at worst, a page
 * of its own. Without it a client writing a byte at a time would queue a
 * thousand times the window.
 */
#define MW_SPLICE_MSG_COST 4096

enum mw_stat {
	MW_STAT_CONNECT_SEEN,
	MW_STAT_CONNECT_REDIRECTED,
	MW_STAT_CONNECT_DAEMON_SKIPPED,
	MW_STAT_ESTABLISHED,
	MW_STAT_CLOSED, /* closed before the daemon took its record */
	MW_STAT_SPLICE_REDIRECT,
	MW_STAT_SPLICE_MISS, /* a client socket left for the TCP path */
	MW_STAT_RECORD_FULL,
	MW_STAT_CONNECT_REFUSED_DOWN, /* the daemon was not listening */
	/* a socket made outside, connected from an enforced cgroup */
	MW_STAT_CONNECT_REFUSED_FOREIGN,
	/* a user other than root binding the daemon's port */
	MW_STAT_BIND_REFUSED,
	MW_STAT__COUNT,
};

/* Tags of the daemon's own sockets (connect.bpf.c's own_socks). */
#define MW_OWN_UPSTREAM 1u /* never steered */
#define MW_OWN_LISTENER 2u /* what connections are steered to */

#endif
