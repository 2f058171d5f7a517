// SPDX-License-Identifier: BSD-2-Clause
/*
 * cgroup path resolution, ids, existing connections, and the 16-byte
 * address form of the bpf maps. Needs root and a cgroup v2 mount (the
 * tests create and remove uniquely named cgroups); skipped otherwise.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bpf_loader.h"
#include "cgroup.h"
#include "commands.h"
#include "config.h"

#define CGROUP2_MAGIC 0x63677270

static char mnt[1024];
static char cg[1200]; /* absolute path of this test's cgroup */
static char cg_name[96]; /* its name under the mount */

/* An independent reading of /proc/mounts, to check the module against. */
static int find_cgroup2(char *out, size_t len)
{
	char dev[256], dir[1024], type[64];
	FILE *f = fopen("/proc/mounts", "r");
	int found = 0;

	if (!f)
		return 0;
	while (!found &&
	       fscanf(f, "%255s %1023s %63s %*[^\n]", dev, dir, type) == 3)
		if (!strcmp(type, "cgroup2")) {
			snprintf(out, len, "%s", dir);
			found = 1;
		}
	fclose(f);
	return found;
}

static void rmdir_retry(const char *path)
{
	/* a just-reaped task can keep a cgroup busy for a moment */
	for (int i = 0; i < 100 && rmdir(path) != 0 && errno == EBUSY; i++)
		usleep(10000);
}

static void setup_cg(void)
{
	static int seq;

	if (geteuid() != 0)
		cr_skip_test("needs root to create cgroups");
	if (!find_cgroup2(mnt, sizeof(mnt)))
		cr_skip_test("no cgroup v2 mount");
	snprintf(cg_name, sizeof(cg_name), "mw-unit-%d-%d-%ld", getpid(), seq++,
		 (long)random() % 100000);
	snprintf(cg, sizeof(cg), "%s/%s", mnt, cg_name);
	cr_assert_eq(mkdir(cg, 0755), 0, "mkdir %s: %s", cg, strerror(errno));
}

static pid_t child_pid; /* a forked helper still to reap */

static void teardown_cg(void)
{
	char child[PATH_MAX + 16];

	if (child_pid > 0) { /* a failed assertion left it running */
		kill(child_pid, SIGKILL);
		waitpid(child_pid, NULL, 0);
		child_pid = 0;
	}
	if (!cg[0])
		return;
	snprintf(child, sizeof(child), "%s/child", cg);
	umount2(child, MNT_DETACH);
	rmdir_retry(child);
	rmdir_retry(cg);
	cg[0] = '\0';
}

TestSuite(cgroup, .init = setup_cg, .fini = teardown_cg);

Test(cgroup, mount_is_the_cgroup2_mount)
{
	const char *m = mw_cgroup2_mount();
	struct statfs sfs;

	cr_assert_not_null(m);
	cr_assert_str_eq(m, mnt);
	cr_assert_eq(statfs(m, &sfs), 0);
	cr_assert_eq((unsigned long)sfs.f_type, (unsigned long)CGROUP2_MAGIC);
	/* cached: same answer, same storage */
	cr_assert_eq(mw_cgroup2_mount(), m);
}

Test(cgroup, resolve_relative_and_absolute)
{
	char out[PATH_MAX], err[256], given[PATH_MAX];

	cr_assert_eq(
		mw_cgroup_resolve(cg_name, out, sizeof(out), err, sizeof(err)),
		0, "%s", err);
	cr_assert_str_eq(out, cg);

	/* absolute file-system path, with noise to canonicalise */
	snprintf(given, sizeof(given), "%s//%s/./", mnt, cg_name);
	cr_assert_eq(
		mw_cgroup_resolve(given, out, sizeof(out), err, sizeof(err)), 0,
		"%s", err);
	cr_assert_str_eq(out, cg);

	/* a cgroup path as in /proc/PID/cgroup */
	snprintf(given, sizeof(given), "/%s", cg_name);
	cr_assert_eq(
		mw_cgroup_resolve(given, out, sizeof(out), err, sizeof(err)), 0,
		"%s", err);
	cr_assert_str_eq(out, cg);

	/* nested, and ".." that stays inside the mount */
	snprintf(given, sizeof(given), "%s/child", cg);
	cr_assert_eq(mkdir(given, 0755), 0);
	snprintf(given, sizeof(given), "%s/child", cg_name);
	cr_assert_eq(
		mw_cgroup_resolve(given, out, sizeof(out), err, sizeof(err)), 0,
		"%s", err);
	snprintf(given, sizeof(given), "%s/child", cg);
	cr_assert_str_eq(out, given);
	snprintf(given, sizeof(given), "%s/child/..", cg_name);
	cr_assert_eq(
		mw_cgroup_resolve(given, out, sizeof(out), err, sizeof(err)), 0,
		"%s", err);
	cr_assert_str_eq(out, cg);

	/* the root cgroup is a cgroup too */
	cr_assert_eq(mw_cgroup_resolve("/", out, sizeof(out), err, sizeof(err)),
		     0, "%s", err);
	cr_assert_str_eq(out, mnt);
}

Test(cgroup, resolve_rejects_escapes)
{
	char out[PATH_MAX], err[256], given[PATH_MAX];
	const char *rel[] = { "..", "../", "../..", "./../.." };

	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		err[0] = '\0';
		strcpy(out, "untouched");
		cr_assert_eq(mw_cgroup_resolve(rel[i], out, sizeof(out), err,
					       sizeof(err)),
			     -EINVAL, "%s accepted", rel[i]);
		cr_assert(strstr(err, "escapes"), "err: %s", err);
	}
	/* through an existing cgroup */
	snprintf(given, sizeof(given), "%s/../..", cg_name);
	cr_assert_eq(
		mw_cgroup_resolve(given, out, sizeof(out), err, sizeof(err)),
		-EINVAL, "%s accepted", given);
	/* absolute, under the mount textually, outside after resolution */
	snprintf(given, sizeof(given), "%s/%s/../../", mnt, cg_name);
	cr_assert_eq(
		mw_cgroup_resolve(given, out, sizeof(out), err, sizeof(err)),
		-EINVAL, "%s accepted", given);
}

Test(cgroup, resolve_rejects_non_cgroups)
{
	char out[PATH_MAX], err[256], given[PATH_MAX];
	char tmpdir[] = "/tmp/mw-unit-XXXXXX";

	/* missing */
	snprintf(given, sizeof(given), "%s-missing", cg_name);
	cr_assert_eq(
		mw_cgroup_resolve(given, out, sizeof(out), err, sizeof(err)),
		-ENOENT);
	cr_assert(strstr(err, "no such cgroup"), "err: %s", err);
	cr_assert(strstr(err, given), "err: %s", err);
	/* a file of the cgroup, not a directory */
	snprintf(given, sizeof(given), "%s/cgroup.procs", cg);
	cr_assert_eq(
		mw_cgroup_resolve(given, out, sizeof(out), err, sizeof(err)),
		-ENOTDIR);
	/* an ordinary directory outside the mount */
	cr_assert_eq(
		mw_cgroup_resolve("/tmp", out, sizeof(out), err, sizeof(err)),
		-ENOENT);
	cr_assert_eq(mw_cgroup_resolve("", out, sizeof(out), err, sizeof(err)),
		     -EINVAL);

	/* an ordinary directory bind-mounted inside the cgroup tree */
	cr_assert_not_null(mkdtemp(tmpdir));
	/* even with a file of that name: it is not cgroupfs */
	snprintf(given, sizeof(given), "%s/cgroup.procs", tmpdir);
	cr_assert_eq(close(open(given, O_CREAT | O_WRONLY, 0600)), 0);
	snprintf(given, sizeof(given), "%s/child", cg);
	cr_assert_eq(mkdir(given, 0755), 0);
	if (mount(tmpdir, given, NULL, MS_BIND, NULL) != 0) {
		rmdir(tmpdir);
		cr_skip_test("bind mount not permitted: %s", strerror(errno));
	}
	cr_expect_eq(
		mw_cgroup_resolve(given, out, sizeof(out), err, sizeof(err)),
		-ENOTDIR, "a tmpfs/ext4 directory passed as a cgroup");
	cr_expect(strstr(err, "not a cgroup"), "err: %s", err);
	umount2(given, MNT_DETACH);
	snprintf(given, sizeof(given), "%s/cgroup.procs", tmpdir);
	unlink(given);
	rmdir(tmpdir);
}

Test(cgroup, id_path_round_trip)
{
	char path[PATH_MAX], child[PATH_MAX + 16], want[PATH_MAX];
	uint64_t id, cid, rid;
	struct stat st;

	cr_assert_eq(mw_cgroup_id(cg, &id), 0);
	cr_assert_eq(stat(cg, &st), 0);
	cr_assert_eq(id, (uint64_t)st.st_ino);
	cr_assert_eq(mw_cgroup_path_of_id(id, path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "/%s", cg_name);
	cr_assert_str_eq(path, want);

	snprintf(child, sizeof(child), "%s/child", cg);
	cr_assert_eq(mkdir(child, 0755), 0);
	cr_assert_eq(mw_cgroup_id(child, &cid), 0);
	cr_assert_neq(cid, id);
	cr_assert_eq(mw_cgroup_path_of_id(cid, path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "/%s/child", cg_name);
	cr_assert_str_eq(path, want);

	cr_assert_eq(mw_cgroup_id(mnt, &rid), 0);
	cr_assert_eq(mw_cgroup_path_of_id(rid, path, sizeof(path)), 0);
	cr_assert_str_eq(path, "/");

	/* an id that no cgroup has, and a too-small buffer */
	cr_assert_eq(mw_cgroup_path_of_id(UINT64_MAX, path, sizeof(path)),
		     -ENOENT);
	cr_assert_neq(mw_cgroup_path_of_id(cid, path, 4), 0);
	cr_assert_eq(rmdir(child), 0);
	cr_assert_eq(mw_cgroup_path_of_id(cid, path, sizeof(path)), -ENOENT);
	cr_assert_neq(mw_cgroup_id(child, &cid), 0);
}

/* The kernel's own cgroup id (what bpf_get_current_cgroup_id returns) is
 * the cgroupfs file handle; it must equal what mw_cgroup_id reports. */
Test(cgroup, id_is_the_kernel_cgroup_id)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h;
	int mount_id;
	uint64_t id;

	h.fh.handle_bytes = sizeof(h.id);
	if (name_to_handle_at(AT_FDCWD, cg, &h.fh, &mount_id, 0) != 0)
		cr_skip_test("name_to_handle_at: %s", strerror(errno));
	cr_assert_eq(h.fh.handle_bytes, 8);
	cr_assert_eq(mw_cgroup_id(cg, &id), 0);
	cr_assert_eq(id, h.id);
}

static uint16_t protected_port;

static int port_is_protected(void *arg, const uint8_t addr[16], uint16_t port)
{
	static const uint8_t lo[16] = { 0, 0, 0,    0,	  0,   0, 0, 0,
					0, 0, 0xff, 0xff, 127, 0, 0, 1 };

	(void)arg;
	return port == protected_port && !memcmp(addr, lo, 16);
}

static int n_seen;
static struct mw_existing_conn seen, seen_v[8];

static int on_conn(void *arg, const struct mw_existing_conn *c)
{
	(void)arg;
	seen = *c;
	if (n_seen < 8)
		seen_v[n_seen] = *c;
	n_seen++;
	return 0;
}

static int listener(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(fd >= 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(fd, 8), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static int connect_to(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		return -1;
	return fd;
}

/* The calling process into cgroup dir (its cgroup.procs); 0 or -1. */
static int join(const char *dir)
{
	char path[PATH_MAX + 16], me[32];
	int fd;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fd = open(path, O_WRONLY);
	snprintf(me, sizeof(me), "%d", getpid());
	if (fd < 0 || write(fd, me, strlen(me)) < 0)
		return -1;
	close(fd);
	return 0;
}

/* Whether the peer of fd sees EOF within 2 s. */
static bool sees_eof(int fd)
{
	struct timeval tv = { .tv_sec = 2 };
	char c;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return recv(fd, &c, 1, 0) == 0;
}

/*
 * A child in the cgroup holds one connection to a protected port, one to
 * another port, one to the protected port that the server side has closed
 * (CLOSE_WAIT: the child can still send) and one the child has finished
 * sending on (FIN_WAIT2: the server can still send); the parent (outside
 * the cgroup) holds one to the protected port too. The child's three
 * protected ones are reported, and kill shuts them down.
 */
Test(cgroup, existing_conns_finds_and_kills, .timeout = 60)
{
	uint16_t pport, oport;
	int pl = listener(&pport), ol = listener(&oport);
	int ready[2], hold[2], mine, acc, other_acc, closed_acc, fin_acc;
	char c;
	pid_t pid;

	protected_port = pport;
	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(hold), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int a, b, d, e;

		/* only the parent's ends: EOF on hold when it closes its own */
		close(hold[1]);
		close(ready[0]);
		alarm(30); /* never outlive a broken parent */
		if (join(cg))
			_exit(1);
		a = connect_to(pport);
		b = connect_to(oport);
		d = connect_to(pport);
		e = connect_to(pport);
		if (a < 0 || b < 0 || d < 0 || e < 0)
			_exit(2);
		if (shutdown(e, SHUT_WR) != 0)
			_exit(5);
		if (write(ready[1], "r", 1) != 1)
			_exit(3);
		/* hold them all until the parent closes the pipe */
		if (read(hold[0], &c, 1) < 0)
			_exit(4);
		_exit(0);
	}
	child_pid = pid;
	close(hold[0]);
	cr_assert_eq(read(ready[0], &c, 1), 1, "child failed to connect");
	acc = accept(pl, NULL, NULL);
	other_acc = accept(ol, NULL, NULL);
	closed_acc = accept(pl, NULL, NULL);
	fin_acc = accept(pl, NULL, NULL);
	cr_assert(acc >= 0 && other_acc >= 0 && closed_acc >= 0 &&
		  fin_acc >= 0);
	close(closed_acc); /* the child's end goes to CLOSE_WAIT */
	usleep(100000);
	mine = connect_to(pport);
	cr_assert(mine >= 0);

	n_seen = 0;
	cr_assert_eq(mw_cgroup_existing_conns(cg, port_is_protected, NULL, 0,
					      on_conn, NULL),
		     3);
	cr_assert_eq(n_seen, 3);
	char want[64];
	snprintf(want, sizeof(want), "127.0.0.1:%u", pport);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(seen_v[i].pid, pid);
		cr_assert(seen_v[i].fd >= 0);
		cr_assert_str_neq(seen_v[i].comm, "");
		cr_assert_str_eq(seen_v[i].remote, want);
		cr_assert(!strncmp(seen_v[i].local, "127.0.0.1:", 10), "%s",
			  seen_v[i].local);
		cr_assert(!seen_v[i].closed);
		cr_assert_str_eq(seen_v[i].why, "");
	}

	/* without kill the connections are intact: the server still reaches
	 * the child that finished sending */
	cr_assert_eq(send(acc, "x", 1, 0), 1);
	cr_assert_eq(send(fin_acc, "x", 1, MSG_NOSIGNAL), 1);
	usleep(100000);
	cr_assert_eq(send(fin_acc, "x", 1, MSG_NOSIGNAL), 1);

	n_seen = 0;
	cr_assert_eq(mw_cgroup_existing_conns(cg, port_is_protected, NULL, 1,
					      on_conn, NULL),
		     3);
	for (int i = 0; i < 3; i++) {
		cr_assert(seen_v[i].closed, "fd %d: %s", seen_v[i].fd,
			  seen_v[i].why);
		cr_assert_str_eq(seen_v[i].why, "");
	}
	/* the child's socket was shut down: our end sees EOF */
	cr_assert(sees_eof(acc), "no EOF after kill");
	/* and the one it had finished sending on takes no more: what the
	 * server sends is answered with a reset */
	cr_assert_eq(send(fin_acc, "x", 1, MSG_NOSIGNAL), 1);
	usleep(100000);
	cr_assert_eq(send(fin_acc, "x", 1, MSG_NOSIGNAL), -1,
		     "the server still reaches the child after kill");
	/* the unprotected one and ours are untouched */
	cr_assert_eq(send(other_acc, "y", 1, 0), 1);
	cr_assert_eq(send(mine, "z", 1, 0), 1);

	close(hold[1]);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	child_pid = 0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "child status %d", status);
	close(mine);
	close(acc);
	close(other_acc);
	close(fin_acc);
	close(pl);
	close(ol);
	close(ready[0]);
	close(ready[1]);
}

/*
 * A child in the test's cgroup that runs before (if any), connects to
 * port, runs after (if any), says so, and holds its socket until the
 * test lets it go (end_holder).
 */
struct holder {
	pid_t pid;
	int hold_w; /* closed: the child exits */
};

static struct holder start_holder(uint16_t port, int (*before)(void),
				  int (*after)(void))
{
	int ready[2], hold[2];
	pid_t pid;
	char c;

	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(hold), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		close(hold[1]);
		close(ready[0]);
		alarm(30);
		if (join(cg) || (before && before()) || connect_to(port) < 0)
			_exit(1);
		if (after && after())
			_exit(2);
		if (write(ready[1], "r", 1) != 1)
			_exit(3);
		if (read(hold[0], &c, 1) < 0)
			_exit(4);
		_exit(0);
	}
	child_pid = pid;
	close(hold[0]);
	close(ready[1]);
	cr_assert_eq(read(ready[0], &c, 1), 1, "child failed");
	close(ready[0]);
	return (struct holder){ pid, hold[1] };
}

/* Lets the holder go; it must have exited cleanly (or been killed). */
static void end_holder(struct holder h, bool must_succeed)
{
	int status;

	close(h.hold_w);
	cr_assert_eq(waitpid(h.pid, &status, 0), h.pid);
	child_pid = 0;
	if (must_succeed)
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "child status %d", status);
}

static int leave_netns(void)
{
	return unshare(CLONE_NEWNET);
}

/*
 * A child connects, then leaves for a network namespace of its own: its
 * socket stays in the namespace it was made in, which /proc/PID/net no
 * longer shows. It is found and killed all the same.
 */
Test(cgroup, existing_conns_after_netns_change, .timeout = 60)
{
	uint16_t pport;
	int pl = listener(&pport), acc;
	struct holder h;
	char want[64];

	protected_port = pport;
	h = start_holder(pport, NULL, leave_netns);
	acc = accept(pl, NULL, NULL);
	cr_assert(acc >= 0);

	n_seen = 0;
	cr_assert_eq(mw_cgroup_existing_conns(cg, port_is_protected, NULL, 0,
					      on_conn, NULL),
		     1);
	snprintf(want, sizeof(want), "127.0.0.1:%u", pport);
	cr_assert_eq(seen.pid, h.pid);
	cr_assert_str_eq(seen.remote, want);
	n_seen = 0;
	cr_assert_eq(mw_cgroup_existing_conns(cg, port_is_protected, NULL, 1,
					      on_conn, NULL),
		     1);
	cr_assert(seen.closed, "%s", seen.why);
	cr_assert(sees_eof(acc), "no EOF after kill");

	end_holder(h, true);
	close(acc);
	close(pl);
}

/*
 * A connect() still in SYN_SENT (the listener's accept queue is full, so
 * its SYN is dropped): getpeername would say ENOTCONN, yet it is about to
 * become an unrecorded channel. It is reported, and kill aborts it.
 */
/* In the holder: one more connect() to protected_port, left in
 * SYN_SENT by the listener's full queue. */
static int connect_syn_sent(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(protected_port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (s < 0 || (connect(s, (struct sockaddr *)&a, sizeof(a)) &&
		      errno != EINPROGRESS))
		return -1;
	usleep(200000);
	if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len) ||
	    ti.tcpi_state != TCP_SYN_SENT)
		return -1;
	return 0;
}

Test(cgroup, existing_conns_syn_sent, .timeout = 60)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	struct holder h;
	char want[64];
	int pl;

	/* backlog 0: one connection waits to be accepted, the next is
	 * dropped */
	pl = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(pl >= 0);
	cr_assert_eq(bind(pl, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(pl, 0), 0);
	cr_assert_eq(getsockname(pl, (struct sockaddr *)&a, &len), 0);
	protected_port = ntohs(a.sin_port);
	h = start_holder(protected_port, NULL, connect_syn_sent);

	snprintf(want, sizeof(want), "127.0.0.1:%u", protected_port);
	n_seen = 0;
	cr_assert_eq(mw_cgroup_existing_conns(cg, port_is_protected, NULL, 1,
					      on_conn, NULL),
		     2);
	for (int i = 0; i < 2; i++) {
		cr_assert_str_eq(seen_v[i].remote, want);
		cr_assert(seen_v[i].closed, "%s", seen_v[i].why);
	}
	end_holder(h, true);
	close(pl);
}

struct own_table {
	uint16_t port;
	int ready, hold;
};

/* A thread with a file table of its own, holding a connection there. */
static void *own_table_thread(void *arg)
{
	struct own_table *o = arg;
	pid_t tid = (pid_t)syscall(SYS_gettid);
	char c;

	if (unshare(CLONE_FILES) != 0 || connect_to(o->port) < 0)
		_exit(1);
	if (write(o->ready, &tid, sizeof(tid)) != sizeof(tid))
		_exit(2);
	if (read(o->hold, &c, 1) < 0)
		_exit(3);
	return NULL;
}

/*
 * One thread of a child, alone in a threaded cgroup (whose cgroup.procs
 * cannot be read), holds a connection in a file table of its own: it is
 * found from cgroup.threads and killed.
 */
Test(cgroup, existing_conns_threaded_cgroup, .timeout = 60)
{
	char sub[PATH_MAX + 16], path[PATH_MAX + 32], want[64], num[32];
	uint16_t pport;
	int pl = listener(&pport), ready[2], hold[2], acc, fd, status;
	pid_t pid, tid;

	protected_port = pport;
	snprintf(sub, sizeof(sub), "%s/child", cg);
	cr_assert_eq(mkdir(sub, 0755), 0);
	snprintf(path, sizeof(path), "%s/cgroup.type", sub);
	fd = open(path, O_WRONLY);
	cr_assert(fd >= 0);
	if (write(fd, "threaded", 8) != 8)
		cr_skip_test("no threaded cgroups: %s", strerror(errno));
	close(fd);
	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(hold), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct own_table o = { pport, ready[1], hold[0] };
		pthread_t t;

		close(hold[1]);
		close(ready[0]);
		alarm(30);
		if (join(cg))
			_exit(1);
		if (pthread_create(&t, NULL, own_table_thread, &o) != 0)
			_exit(2);
		pthread_join(t, NULL);
		_exit(0);
	}
	child_pid = pid;
	close(hold[0]);
	close(ready[1]);
	cr_assert_eq(read(ready[0], &tid, sizeof(tid)), sizeof(tid),
		     "child failed");
	acc = accept(pl, NULL, NULL);
	cr_assert(acc >= 0);
	snprintf(path, sizeof(path), "%s/cgroup.threads", sub);
	fd = open(path, O_WRONLY);
	snprintf(num, sizeof(num), "%d", (int)tid);
	cr_assert(fd >= 0 && write(fd, num, strlen(num)) > 0,
		  "moving thread %d: %s", (int)tid, strerror(errno));
	close(fd);

	n_seen = 0;
	cr_assert_eq(mw_cgroup_existing_conns(sub, port_is_protected, NULL, 1,
					      on_conn, NULL),
		     1);
	snprintf(want, sizeof(want), "127.0.0.1:%u", pport);
	cr_assert_eq(seen.pid, pid);
	cr_assert_str_eq(seen.remote, want);
	cr_assert(seen.closed, "%s", seen.why);
	cr_assert(sees_eof(acc), "no EOF after kill");

	close(hold[1]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	child_pid = 0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "child status %d", status);
	close(acc);
	close(pl);
	close(ready[0]);
}

/* CAP_SYS_PTRACE out of the calling process's capability sets. */
static int drop_ptrace(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	int w = CAP_SYS_PTRACE / 32;
	uint32_t bit = 1u << (CAP_SYS_PTRACE % 32);

	if (syscall(SYS_capget, &h, d) != 0)
		return -1;
	d[w].effective &= ~bit;
	d[w].permitted &= ~bit;
	d[w].inheritable &= ~bit;
	return syscall(SYS_capset, &h, d) != 0 ? -1 : 0;
}

/*
 * A socket that cannot be taken is reported as not closed, and why. Both
 * sides run without CAP_SYS_PTRACE, the scanner with another real uid: it
 * may read the holder's /proc entries (fs uid 0, the same capabilities)
 * but not take its fds (pidfd_getfd judges the real uid).
 */
Test(cgroup, existing_conns_untakeable_is_not_closed, .timeout = 60)
{
	uint16_t pport;
	int pl = listener(&pport), res[2], acc, status;
	struct mw_existing_conn got;
	struct holder h;
	char c, want[64];
	pid_t scanner;

	protected_port = pport;
	cr_assert_eq(pipe(res), 0);
	h = start_holder(pport, drop_ptrace, NULL);
	acc = accept(pl, NULL, NULL);
	cr_assert(acc >= 0);

	scanner = fork();
	cr_assert(scanner >= 0);
	if (scanner == 0) {
		int n;

		alarm(30);
		if (setresuid(65534, 0, 0) != 0 || drop_ptrace())
			_exit(1);
		n_seen = 0;
		n = mw_cgroup_existing_conns(cg, port_is_protected, NULL, 1,
					     on_conn, NULL);
		if (n != n_seen || n > 8)
			_exit(2);
		/* the holder's other sockets (criterion's) cannot be
		 * inspected: reported so, never as closed */
		for (int i = 0, k = 0; i < n; i++) {
			if (seen_v[i].closed || !seen_v[i].why[0])
				_exit(3);
			if (!seen_v[i].remote[0])
				continue;
			if (k++ ||
			    write(res[1], &seen_v[i], sizeof(seen_v[i])) !=
				    sizeof(seen_v[i]))
				_exit(4);
		}
		_exit(0);
	}
	cr_assert_eq(waitpid(scanner, &status, 0), scanner);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "scanner status %d", status);
	close(res[1]);
	cr_assert_eq(read(res[0], &got, sizeof(got)), sizeof(got));
	snprintf(want, sizeof(want), "127.0.0.1:%u", pport);
	cr_assert_eq(got.pid, h.pid);
	cr_assert_str_eq(got.remote, want);
	cr_assert(!got.closed);
	cr_assert_str_eq(got.why, "pidfd_getfd: Operation not permitted");
	/* and it is indeed open */
	cr_assert_eq(send(acc, "x", 1, 0), 1);
	struct timeval tv = { .tv_usec = 200000 };
	setsockopt(acc, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(recv(acc, &c, 1, 0), -1);

	end_holder(h, false);
	close(acc);
	close(pl);
	close(res[0]);
}

Test(cgroup, existing_conns_empty_and_missing)
{
	protected_port = 1;
	n_seen = 0;
	cr_assert_eq(mw_cgroup_existing_conns(cg, port_is_protected, NULL, 1,
					      on_conn, NULL),
		     0);
	cr_assert_eq(n_seen, 0);
	char missing[PATH_MAX + 16];
	snprintf(missing, sizeof(missing), "%s/nope", cg);
	cr_assert_eq(mw_cgroup_existing_conns(missing, port_is_protected, NULL,
					      0, on_conn, NULL),
		     -ENOENT);
}

/* ---- what the CLI says of them (commands.c) ---- */

/* What mw_print_existing prints of reply, and its exit status. */
static char *printed(const char *reply, bool kill, int *rc)
{
	json_error_t jerr;
	json_t *resp = json_loads(reply, 0, &jerr);
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	cr_assert(resp, "%s", jerr.text);
	f = open_memstream(&buf, &len);
	cr_assert(f);
	*rc = mw_print_existing(f, resp, kill);
	fclose(f);
	json_decref(resp);
	return buf;
}

#define CONN_CLOSED                                                         \
	"{\"pid\":10,\"comm\":\"node\",\"fd\":3,\"local\":\"127.0.0.1:5\"," \
	"\"remote\":\"127.0.0.1:80\",\"closed\":true}"
#define CONN_OPEN                                                           \
	"{\"pid\":11,\"comm\":\"node\",\"fd\":4,\"local\":\"127.0.0.1:6\"," \
	"\"remote\":\"127.0.0.1:80\",\"closed\":false,\"error\":"           \
	"\"pidfd_getfd: Operation not permitted\"}"
#define SOCK_BLIND                                                        \
	"{\"pid\":12,\"comm\":\"sh\",\"fd\":7,\"local\":\"\",\"remote\":" \
	"\"\",\"closed\":false,\"error\":\"pidfd_getfd: Operation not "   \
	"permitted\"}"

Test(existing_report, all_closed)
{
	int rc;
	char *out = printed("{\"ok\":true,\"existing\":[" CONN_CLOSED "]}",
			    true, &rc);

	cr_assert_eq(rc, 0);
	cr_assert(strstr(out, "1 connection(s) to protected servers were open "
			      "before enforcement and have been closed:\n"),
		  "%s", out);
	cr_assert(strstr(out, "  pid 10 node 127.0.0.1:5 -> 127.0.0.1:80\n"),
		  "%s", out);
	free(out);
}

/* One not closed: never "have been closed", why it stays open, and the
 * exit status says so. */
Test(existing_report, one_not_closed)
{
	int rc;
	char *out = printed("{\"ok\":true,\"existing\":[" CONN_CLOSED
			    "," CONN_OPEN "]}",
			    true, &rc);

	cr_assert_eq(rc, 1);
	cr_assert_null(strstr(out, "have been closed"), "%s", out);
	cr_assert(strstr(out, "2 connection(s) to protected servers were open "
			      "before enforcement: 1 closed, 1 could NOT be "
			      "closed (still open, not recorded):\n"),
		  "%s", out);
	cr_assert(strstr(out, "  pid 11 node 127.0.0.1:6 -> 127.0.0.1:80  NOT "
			      "closed: pidfd_getfd: Operation not "
			      "permitted\n"),
		  "%s", out);
	free(out);
}

/* A socket that could not be inspected may be such a connection. */
Test(existing_report, not_inspected)
{
	int rc;
	char *out = printed("{\"ok\":true,\"existing\":[" CONN_CLOSED
			    "," SOCK_BLIND "]}",
			    true, &rc);

	cr_assert_eq(rc, 1);
	cr_assert(strstr(out, "and have been closed:\n"), "%s", out);
	cr_assert(strstr(out, "1 socket(s) could not be inspected; any may be "
			      "a connection to a protected server, and stays "
			      "open:\n  pid 12 sh fd 7: pidfd_getfd: "
			      "Operation not permitted\n"),
		  "%s", out);
	free(out);
	/* listing only: said, but enforce itself succeeded */
	out = printed("{\"ok\":true,\"existing\":[" SOCK_BLIND "]}", false,
		      &rc);
	cr_assert_eq(rc, 0);
	cr_assert(strstr(out, "1 socket(s) could not be inspected; any may be "
			      "a connection to a protected server:\n"),
		  "%s", out);
	free(out);
}

Test(existing_report, listing_failed)
{
	int rc;
	char *out = printed("{\"ok\":true,\"existing\":[],\"existing_error\":"
			    "\"Cannot allocate memory\"}",
			    true, &rc);

	cr_assert_eq(rc, 1);
	cr_assert_str_eq(out, "the connections open before enforcement could "
			      "not be listed, so none was closed: Cannot "
			      "allocate memory\n");
	free(out);
}

/* Enforced, closed, but not remembered by path: said, and not a success. */
Test(existing_report, not_remembered_by_path)
{
	int rc;
	char *out = printed("{\"ok\":true,\"existing\":[" CONN_CLOSED "],"
			    "\"not_remembered\":\"the cgroup is enforced, "
			    "but only by id\"}",
			    true, &rc);

	cr_assert_eq(rc, 1);
	cr_assert(strstr(out, "and have been closed:\n"), "%s", out);
	cr_assert(strstr(out, "warning: the cgroup is enforced, but only by "
			      "id\n"),
		  "%s", out);
	free(out);
}

Test(existing_report, listed_without_kill)
{
	int rc;
	char *out = printed("{\"ok\":true,\"existing\":[{\"pid\":10,\"comm\":"
			    "\"node\",\"fd\":3,\"local\":\"127.0.0.1:5\","
			    "\"remote\":\"127.0.0.1:80\",\"closed\":false}]}",
			    false, &rc);

	cr_assert_eq(rc, 0);
	cr_assert_str_eq(out,
			 "1 connection(s) to protected servers were open "
			 "before enforcement (not recorded; --kill-existing "
			 "closes them):\n"
			 "  pid 10 node 127.0.0.1:5 -> 127.0.0.1:80\n");
	free(out);
}

/* ---- the 16-byte address form (bpf_loader.c) ---- */

Test(mapped, ipv4)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	static const uint8_t want[16] = { 0, 0, 0,    0,    0,	0, 0, 0,
					  0, 0, 0xff, 0xff, 10, 0, 0, 5 };
	uint8_t out[16];
	uint16_t port;

	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	in->sin_port = htons(8080);
	inet_pton(AF_INET, "10.0.0.5", &in->sin_addr);
	memset(out, 0xaa, sizeof(out));
	mw_addr_to_mapped(&ss, out, &port);
	cr_assert_arr_eq(out, want, 16);
	cr_assert_eq(port, 8080);
}

Test(mapped, ipv6_and_v4mapped_kept)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	uint8_t out[16], want[16];
	uint16_t port;

	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(443);
	inet_pton(AF_INET6, "2001:db8::1", &in6->sin6_addr);
	inet_pton(AF_INET6, "2001:db8::1", want);
	mw_addr_to_mapped(&ss, out, &port);
	cr_assert_arr_eq(out, want, 16);
	cr_assert_eq(port, 443);

	/* ::ffff:a.b.c.d from a dual-stack socket equals the IPv4 form */
	inet_pton(AF_INET6, "::ffff:10.0.0.5", &in6->sin6_addr);
	in6->sin6_port = htons(1);
	mw_addr_to_mapped(&ss, out, &port);
	struct sockaddr_storage s4;
	struct sockaddr_in *in = (struct sockaddr_in *)&s4;
	uint8_t out4[16];
	uint16_t port4;

	memset(&s4, 0, sizeof(s4));
	in->sin_family = AF_INET;
	in->sin_port = htons(1);
	inet_pton(AF_INET, "10.0.0.5", &in->sin_addr);
	mw_addr_to_mapped(&s4, out4, &port4);
	cr_assert_arr_eq(out, out4, 16);
	cr_assert_eq(port, port4);
}

Test(mapped, other_family_is_zero)
{
	struct sockaddr_storage ss;
	uint8_t out[16], zero[16] = { 0 };
	uint16_t port = 99;

	memset(&ss, 0x5a, sizeof(ss));
	ss.ss_family = AF_UNIX;
	mw_addr_to_mapped(&ss, out, &port);
	cr_assert_arr_eq(out, zero, 16);
	cr_assert_eq(port, 0);
}

/* A cgroup that is gone has no real path: release finds it by its text. */
Test(cgroup, lexical_as_resolve_would_give)
{
	char out[PATH_MAX], res[PATH_MAX], err[256], given[PATH_MAX * 2];
	const char *forms[] = { "%s", "/%s", "%s/", "./%s//." };

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(given, sizeof(given), forms[i], cg_name);
		cr_assert_eq(mw_cgroup_lexical(given, out, sizeof(out), err,
					       sizeof(err)),
			     0, "%s: %s", given, err);
		cr_assert_eq(mw_cgroup_resolve(given, res, sizeof(res), err,
					       sizeof(err)),
			     0, "%s: %s", given, err);
		cr_assert_str_eq(out, res, "%s", given);
	}
	/* absolute under the mount, with noise */
	snprintf(given, sizeof(given), "%s//%s/./", mnt, cg_name);
	cr_assert_eq(
		mw_cgroup_lexical(given, out, sizeof(out), err, sizeof(err)), 0,
		"%s", err);
	cr_assert_str_eq(out, cg);
	/* not there: the path it would have */
	snprintf(given, sizeof(given), "%s/gone/child", cg_name);
	cr_assert_eq(
		mw_cgroup_lexical(given, out, sizeof(out), err, sizeof(err)), 0,
		"%s", err);
	snprintf(given, sizeof(given), "%s/gone/child", cg);
	cr_assert_str_eq(out, given);
	/* the root */
	cr_assert_eq(mw_cgroup_lexical("/", out, sizeof(out), err, sizeof(err)),
		     0, "%s", err);
	cr_assert_str_eq(out, mnt);
	/* ".." could lead out of the mount: refused, not worked out */
	snprintf(given, sizeof(given), "%s/../x", cg_name);
	cr_assert_eq(
		mw_cgroup_lexical(given, out, sizeof(out), err, sizeof(err)),
		-EINVAL, "%s accepted", given);
	cr_assert(strstr(err, ".."), "err: %s", err);
	cr_assert_eq(mw_cgroup_lexical("", out, sizeof(out), err, sizeof(err)),
		     -EINVAL);
}
