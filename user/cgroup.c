// SPDX-License-Identifier: BSD-2-Clause
#include "cgroup.h"
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kcmp.h>
#include <mntent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

/* a pidfd of the thread itself, not of its process (Linux 6.9) */
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* cgroup trees are shallow; this only bounds a walk of a hostile tree. */
#define MW_CG_MAX_DEPTH 64

static char cg2_mount[PATH_MAX];
static bool cg2_cached;

const char *mw_cgroup2_mount(void)
{
	struct mntent ent, *m;
	char buf[4096];
	FILE *f;

	if (cg2_cached)
		return cg2_mount[0] ? cg2_mount : NULL;
	f = setmntent("/proc/mounts", "re");
	if (!f)
		return NULL;
	/* getmntent_r decodes the \040-style escapes of /proc/mounts. */
	while ((m = getmntent_r(f, &ent, buf, sizeof(buf)))) {
		if (strcmp(m->mnt_type, "cgroup2") != 0)
			continue;
		if (strlen(m->mnt_dir) >= sizeof(cg2_mount))
			continue;
		strcpy(cg2_mount, m->mnt_dir);
		break;
	}
	endmntent(f);
	cg2_cached = true;
	return cg2_mount[0] ? cg2_mount : NULL;
}

/* Whether path equals base or lies below it (component-wise). */
static bool path_within(const char *path, const char *base)
{
	size_t n = strlen(base);

	if (n == 1 && base[0] == '/')
		return path[0] == '/';
	return strncmp(path, base, n) == 0 &&
	       (path[n] == '\0' || path[n] == '/');
}

/* A directory of a cgroup2 filesystem that has cgroup.procs. */
static bool is_cgroup_dir(const char *path)
{
	char procs[PATH_MAX];
	struct statfs sfs;
	struct stat st;

	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return false;
	if (statfs(path, &sfs) != 0 || sfs.f_type != CGROUP2_SUPER_MAGIC)
		return false;
	if ((size_t)snprintf(procs, sizeof(procs), "%s/cgroup.procs", path) >=
	    sizeof(procs))
		return false;
	return access(procs, F_OK) == 0;
}

/*
 * realpath() of candidate, accepted only inside the mount and only if it is
 * a cgroup directory. Returns 0, -ENOENT (absent), -EXDEV (outside the
 * mount) or -ENOTDIR (not a cgroup).
 */
static int resolve_candidate(const char *candidate, const char *mnt, char *out,
			     size_t outlen)
{
	char real[PATH_MAX];

	if (!realpath(candidate, real))
		return errno == ENOENT ? -ENOENT : -errno;
	if (!path_within(real, mnt))
		return -EXDEV;
	if (!is_cgroup_dir(real))
		return -ENOTDIR;
	if (strlen(real) >= outlen)
		return -ENAMETOOLONG;
	strcpy(out, real);
	return 0;
}

static int resolve_error(int r, const char *given, const char *mnt, char *err,
			 size_t errlen)
{
	switch (r) {
	case -ENOENT:
		mw_set_err(err, errlen, "no such cgroup: %s", given);
		return r;
	case -EXDEV:
		mw_set_err(err, errlen,
			   "cgroup path %s escapes the cgroup v2 mount %s",
			   given, mnt);
		return -EINVAL;
	case -ENOTDIR:
		mw_set_err(err, errlen, "not a cgroup v2 directory: %s", given);
		return r;
	default:
		mw_set_err(err, errlen, "cgroup %s: %s", given, strerror(-r));
		return r;
	}
}

/* The cgroup v2 mount as given and as its real path, for a path given
 * (not empty). 0 or -errno with err set. */
static int mount_for(const char *given, const char **mnt,
		     char mnt_real[PATH_MAX], char *err, size_t errlen)
{
	int r;

	*mnt = mw_cgroup2_mount();
	if (!*mnt) {
		mw_set_err(err, errlen, "cgroup v2 is not mounted");
		return -ENODEV;
	}
	if (!given || !given[0]) {
		mw_set_err(err, errlen, "empty cgroup path");
		return -EINVAL;
	}
	if (!realpath(*mnt, mnt_real)) {
		r = -errno;
		mw_set_err(err, errlen, "cgroup v2 mount %s: %s", *mnt,
			   strerror(-r));
		return r;
	}
	return 0;
}

int mw_cgroup_resolve(const char *given, char *out, size_t outlen, char *err,
		      size_t errlen)
{
	const char *mnt;
	char mnt_real[PATH_MAX], cand[PATH_MAX];
	int r = mount_for(given, &mnt, mnt_real, err, errlen);

	if (r)
		return r;
	if (given[0] == '/' &&
	    (path_within(given, mnt) || path_within(given, mnt_real))) {
		/* A file-system path under the mount. */
		r = resolve_candidate(given, mnt_real, out, outlen);
		return r ? resolve_error(r, given, mnt_real, err, errlen) : 0;
	}
	/*
	 * Relative to the mount; an absolute path elsewhere is taken as a
	 * cgroup path as in /proc/PID/cgroup ("0::/a/b").
	 */
	if ((size_t)snprintf(cand, sizeof(cand), "%s/%s", mnt_real, given) >=
	    sizeof(cand)) {
		mw_set_err(err, errlen, "cgroup path too long: %s", given);
		return -ENAMETOOLONG;
	}
	r = resolve_candidate(cand, mnt_real, out, outlen);
	return r ? resolve_error(r, given, mnt_real, err, errlen) : 0;
}

/*
 * The path mw_cgroup_resolve() would give a cgroup that does not exist
 * (any more): release must find a cgroup enforced by path while it is
 * gone, and realpath() cannot canonicalise what is not there. Only the
 * text is worked on: "." and empty components dropped, ".." refused (it
 * could name something outside the mount), the mount's real path put in
 * front.
 */
int mw_cgroup_lexical(const char *given, char *out, size_t outlen, char *err,
		      size_t errlen)
{
	const char *mnt, *rest, *p;
	char mnt_real[PATH_MAX];
	size_t used;
	int r = mount_for(given, &mnt, mnt_real, err, errlen);

	if (r)
		return r;
	rest = given;
	if (given[0] == '/' && path_within(given, mnt_real))
		rest = given + strlen(mnt_real);
	else if (given[0] == '/' && path_within(given, mnt))
		rest = given + strlen(mnt);
	used = (size_t)snprintf(out, outlen, "%s", mnt_real);
	if (used >= outlen)
		goto too_long;
	for (p = rest; *p;) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (!n || (n == 1 && p[0] == '.')) {
			p += n;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			mw_set_err(err, errlen,
				   "cgroup path %s has a '..' component",
				   given);
			return -EINVAL;
		}
		if (used + 1 + n >= outlen)
			goto too_long;
		out[used++] = '/';
		memcpy(out + used, p, n);
		used += n;
		out[used] = '\0';
		p += n;
	}
	return 0;
too_long:
	mw_set_err(err, errlen, "cgroup path too long: %s", given);
	return -ENAMETOOLONG;
}

/*
 * Whether a cgroup's migration files let anyone but root write them: its
 * owner when not root, or anyone at all when group or others may write.
 */
static int migration_open_to_users(const char *dir, char *who, size_t wholen)
{
	static const char *const files[] = { "cgroup.procs", "cgroup.threads" };
	char f[PATH_MAX];
	struct stat st;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if ((size_t)snprintf(f, sizeof(f), "%s/%s", dir, files[i]) >=
		    sizeof(f))
			return -ENAMETOOLONG;
		if (stat(f, &st)) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		if (st.st_uid != 0)
			snprintf(who, wholen, "uid %u", (unsigned)st.st_uid);
		else if (st.st_mode & S_IWOTH)
			snprintf(who, wholen,
				 "every user (%s is world-writable)", files[i]);
		else if (st.st_mode & S_IWGRP)
			snprintf(who, wholen, "gid %u (%s is group-writable)",
				 (unsigned)st.st_gid, files[i]);
		else
			continue;
		return 1;
	}
	return 0;
}

int mw_cgroup_delegated_above(const char *abs, char *out, size_t outlen,
			      char *who, size_t wholen)
{
	const char *mnt = mw_cgroup2_mount();
	char root[PATH_MAX], p[PATH_MAX], *slash;
	int found = 0, r;

	if (!mnt || !realpath(mnt, root))
		return mnt ? -errno : -ENODEV;
	if ((size_t)snprintf(p, sizeof(p), "%s", abs) >= sizeof(p))
		return -ENAMETOOLONG;
	/* from the parent up, the root cgroup (root's alone) excluded */
	while ((slash = strrchr(p, '/')) && slash > p) {
		*slash = '\0';
		if (!path_within(p, root) || !strcmp(p, root))
			break;
		r = migration_open_to_users(p, who, wholen);
		if (r < 0)
			return r;
		if (r) {
			if ((size_t)snprintf(out, outlen, "%s", p) >= outlen)
				return -ENAMETOOLONG;
			found = 1;
		}
	}
	return found;
}

/*
 * The cgroup id that bpf_get_current_cgroup_id() and the link info report
 * is the kernfs node id, which cgroupfs exposes as the directory's inode
 * number on 64-bit hosts.
 */
int mw_cgroup_id(const char *abs_path, uint64_t *id)
{
	struct stat st;

	if (stat(abs_path, &st) != 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	*id = (uint64_t)st.st_ino;
	return 0;
}

/* Depth-first search of dir (path rel) for a directory with inode id. */
static int find_id(int dfd, uint64_t id, char *rel, size_t rellen, size_t used,
		   int depth)
{
	struct dirent *de;
	DIR *d;
	int r = -ENOENT;

	if (depth > MW_CG_MAX_DEPTH) {
		close(dfd);
		return -ENOENT;
	}
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -ENOENT;
	}
	while (r == -ENOENT && (de = readdir(d))) {
		struct stat st;
		size_t n;
		int fd;

		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISDIR(st.st_mode))
			continue;
		n = strlen(de->d_name);
		if (used + 1 + n >= rellen)
			continue;
		rel[used] = '/';
		memcpy(rel + used + 1, de->d_name, n + 1);
		if ((uint64_t)st.st_ino == id)
			r = 0;
		else {
			fd = openat(dirfd(d), de->d_name,
				    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0)
				r = find_id(fd, id, rel, rellen, used + 1 + n,
					    depth + 1);
		}
		if (r != 0)
			rel[used] = '\0';
	}
	closedir(d);
	return r;
}

/*
 * cgroupfs hands out file handles that are the kernfs id (the cgroup id):
 * opening by handle and reading the fd's link finds a cgroup in one step,
 * however many cgroups there are. Needs CAP_DAC_READ_SEARCH.
 */
static int path_by_handle(const char *mnt, uint64_t id, char *out,
			  size_t outlen)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = { .fh = { .handle_bytes = sizeof(uint64_t),
			.handle_type = 0xfe /* FILEID_KERNFS */ },
		.id = id };
	char link[64], path[PATH_MAX];
	size_t ml = strlen(mnt);
	ssize_t n;
	int mfd, fd;

	mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	memcpy(h.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(mfd);
	if (fd < 0)
		return -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	path[n] = '\0';
	if (strncmp(path, mnt, ml) || (path[ml] != '/' && path[ml] != '\0'))
		return -EXDEV;
	if ((size_t)snprintf(out, outlen, "%s", path[ml] ? path + ml : "/") >=
	    outlen)
		return -ENAMETOOLONG;
	return 0;
}

int mw_cgroup_path_of_id(uint64_t id, char *out, size_t outlen)
{
	const char *mnt = mw_cgroup2_mount();
	struct stat st;
	int fd;

	if (!mnt)
		return -ENODEV;
	if (outlen < 2)
		return -ENAMETOOLONG;
	if (stat(mnt, &st) != 0)
		return -errno;
	if ((uint64_t)st.st_ino == id) {
		strcpy(out, "/");
		return 0;
	}
	if (path_by_handle(mnt, id, out, outlen) == 0)
		return 0;
	/* No handle support (or no privilege): walk the tree. */
	fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	out[0] = '\0';
	return find_id(fd, id, out, outlen, 0, 1);
}

/* ---- connections held by a cgroup's processes ---- */

struct pidset {
	int *v;
	size_t n, cap;
};

static int pidset_add(struct pidset *s, int pid)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		int *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = pid;
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

static bool pidset_has(const struct pidset *s, int pid)
{
	return s->n && bsearch(&pid, s->v, s->n, sizeof(*s->v), cmp_int);
}

/* The ids listed in file (cgroup.procs or cgroup.threads) of dfd. */
static int read_ids(int dfd, const char *file, struct pidset *s)
{
	char line[32];
	FILE *f;
	int fd, r = 0;

	fd = openat(dfd, file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return 0;
	}
	while (r == 0 && fgets(line, sizeof(line), f))
		r = pidset_add(s, atoi(line));
	fclose(f);
	return r;
}

/*
 * Every pid in cgroup.procs and every tid in cgroup.threads of dfd and its
 * descendants. The threads are needed too: a threaded cgroup refuses to
 * list its processes (they belong to the thread root), and a thread may
 * hold a file table of its own, or the only one left once its leader
 * exited.
 */
static int collect_tasks(int dfd, struct pidset *procs, struct pidset *threads,
			 int depth)
{
	struct dirent *de;
	DIR *d;
	int fd, r;

	if (depth > MW_CG_MAX_DEPTH) {
		close(dfd);
		return 0;
	}
	r = read_ids(dfd, "cgroup.procs", procs);
	if (r == 0)
		r = read_ids(dfd, "cgroup.threads", threads);
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return r;
	}
	while (r == 0 && (de = readdir(d))) {
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		fd = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0)
			r = collect_tasks(fd, procs, threads, depth + 1);
	}
	closedir(d);
	return r;
}

struct tcp_ent {
	uint64_t inode;
	uint8_t laddr[16], raddr[16];
	uint16_t lport, rport;
	uint8_t state;
};

/* The TCP sockets of one network namespace. */
struct tcp_table {
	uint64_t netns;
	struct tcp_ent *v;
	size_t n, cap;
};

/*
 * TCP states in which a connection still carries data: SYN_SENT is about
 * to (a connect() that passed before the hooks were attached), FIN_WAIT1/2
 * still receive what the server sends, CLOSE_WAIT still sends to it.
 */
static bool carries_data(unsigned state)
{
	switch (state) {
	case TCP_ESTABLISHED:
	case TCP_SYN_SENT:
	case TCP_FIN_WAIT1:
	case TCP_FIN_WAIT2:
	case TCP_CLOSE_WAIT:
		return true;
	default:
		return false;
	}
}

/*
 * /proc/net/tcp{,6} print each 32-bit word of an address with %08X of its
 * in-memory (network-order) value read as a native integer, so storing the
 * parsed integer back in native order restores the address bytes.
 */
static int parse_hex_addr(const char *s, size_t nwords, uint8_t out[16])
{
	for (size_t i = 0; i < nwords; i++) {
		char word[9];
		uint32_t w;
		char *end;

		memcpy(word, s + i * 8, 8);
		word[8] = '\0';
		w = (uint32_t)strtoul(word, &end, 16);
		if (*end)
			return -EINVAL;
		memcpy(out + (nwords == 1 ? 12 : i * 4), &w, 4);
	}
	if (nwords == 1) {
		memset(out, 0, 10);
		out[10] = 0xff;
		out[11] = 0xff;
	}
	return 0;
}

static int load_tcp_file(struct tcp_table *t, const char *path, bool v6)
{
	char line[512];
	FILE *f = fopen(path, "re");

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	if (!fgets(line, sizeof(line), f)) { /* header */
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		char la[33], ra[33];
		unsigned lp, rp, st;
		unsigned long long ino;
		struct tcp_ent e;

		if (sscanf(line,
			   " %*d: %32[0-9A-Fa-f]:%x %32[0-9A-Fa-f]:%x %x "
			   "%*x:%*x %*x:%*x %*x %*u %*u %llu",
			   la, &lp, ra, &rp, &st, &ino) != 6)
			continue;
		if (ino == 0)
			continue;
		if (strlen(la) != (v6 ? 32 : 8) || strlen(ra) != strlen(la))
			continue;
		if (parse_hex_addr(la, v6 ? 4 : 1, e.laddr) ||
		    parse_hex_addr(ra, v6 ? 4 : 1, e.raddr))
			continue;
		e.lport = (uint16_t)lp;
		e.rport = (uint16_t)rp;
		e.state = (uint8_t)st;
		e.inode = ino;
		if (t->n == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 256;
			struct tcp_ent *v = realloc(t->v, cap * sizeof(*v));

			if (!v) {
				fclose(f);
				return -ENOMEM;
			}
			t->v = v;
			t->cap = cap;
		}
		t->v[t->n++] = e;
	}
	fclose(f);
	return 0;
}

static int cmp_ent(const void *a, const void *b)
{
	const struct tcp_ent *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/*
 * The TCP table of pid's network namespace: /proc/net is the reader's
 * namespace, /proc/PID/net the process's, and a cgroup may span several.
 * Tables are cached per namespace inode.
 */
static struct tcp_table *table_for(struct tcp_table **tabs, size_t *ntabs,
				   int pid)
{
	char path[64];
	struct tcp_table *t, *nt;
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, &st) != 0)
		return NULL;
	for (size_t i = 0; i < *ntabs; i++)
		if ((*tabs)[i].netns == (uint64_t)st.st_ino)
			return &(*tabs)[i];
	nt = realloc(*tabs, (*ntabs + 1) * sizeof(**tabs));
	if (!nt)
		return NULL;
	*tabs = nt;
	t = &nt[(*ntabs)++];
	memset(t, 0, sizeof(*t));
	t->netns = (uint64_t)st.st_ino;
	snprintf(path, sizeof(path), "/proc/%d/net/tcp", pid);
	load_tcp_file(t, path, false);
	snprintf(path, sizeof(path), "/proc/%d/net/tcp6", pid);
	load_tcp_file(t, path, true);
	if (t->n)
		qsort(t->v, t->n, sizeof(*t->v), cmp_ent);
	return t;
}

static void fmt_endpoint(char *out, size_t len, const uint8_t a[16],
			 uint16_t port)
{
	struct sockaddr_storage ss;

	mw_mapped_to_addr(a, port, &ss);
	mw_format_addr(&ss, out, len);
}

/*
 * Whether s is a TCP connection that still carries data, and its ends.
 * Read on the socket itself, not in a /proc/net table: its holder may have
 * left the network namespace it connected in (unshare -Un is unprivileged
 * on many hosts), and the socket stays in the namespace it was made in.
 */
static bool tcp_conn_of(int s, struct tcp_ent *e)
{
	struct sockaddr_storage local, peer;
	struct tcp_info ti;
	socklen_t len;
	int proto;

	len = sizeof(proto);
	if (getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &proto, &len) != 0 ||
	    proto != IPPROTO_TCP)
		return false;
	memset(&ti, 0, sizeof(ti));
	len = sizeof(ti);
	if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
	    !carries_data(ti.tcpi_state))
		return false;
	memset(&local, 0, sizeof(local));
	len = sizeof(local);
	if (getsockname(s, (struct sockaddr *)&local, &len) != 0 ||
	    (local.ss_family != AF_INET && local.ss_family != AF_INET6))
		return false;
	/* SO_PEERNAME, unlike getpeername, answers in SYN_SENT too; it wants
	 * no more room than the family's address takes. */
	memset(&peer, 0, sizeof(peer));
	len = local.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					  : sizeof(struct sockaddr_in);
	if (getsockopt(s, SOL_SOCKET, SO_PEERNAME, &peer, &len) != 0)
		return false;
	mw_addr_to_mapped(&local, e->laddr, &e->lport);
	mw_addr_to_mapped(&peer, e->raddr, &e->rport);
	e->state = ti.tcpi_state;
	return true;
}

static void read_comm(int pid, char *comm, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	comm[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, comm, len - 1);
	close(fd);
	if (n <= 0) {
		comm[0] = '\0';
		return;
	}
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
}

/* The process a thread belongs to; 0 when it is gone. */
static int tgid_of(int tid)
{
	char path[64], line[128];
	int tgid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

/* Whether two tasks share one file table (kcmp, CONFIG_CHECKPOINT_RESTORE). */
static bool same_files(int a, int b)
{
	return syscall(SYS_kcmp, a, b, KCMP_FILES, 0, 0) == 0;
}

struct scan {
	int (*is_protected)(void *arg, const uint8_t addr[16], uint16_t port);
	void *parg;
	int kill;
	int (*fn)(void *arg, const struct mw_existing_conn *c);
	void *arg;
	struct tcp_table *tabs;
	size_t ntabs;
	int count;
};

static int report(struct scan *sc, const struct mw_existing_conn *c)
{
	sc->count++;
	return sc->fn ? sc->fn(sc->arg, c) : 0;
}

/*
 * A socket that could not be taken (why: pidfd_open or pidfd_getfd refused
 * by Yama, an LSM, ...). The /proc table of its holder's current network
 * namespace still gives a TCP connection's ends, unless it was made in a
 * namespace the holder has left; any other socket is reported as not
 * inspected, for it may be such a connection.
 */
static int untaken_socket(struct scan *sc, struct mw_existing_conn *c, int tid,
			  unsigned long long ino, const char *why)
{
	struct tcp_ent key = { .inode = ino }, *e = NULL;
	struct tcp_table *t = table_for(&sc->tabs, &sc->ntabs, tid);

	if (t && t->n)
		e = bsearch(&key, t->v, t->n, sizeof(*t->v), cmp_ent);
	if (e) {
		if (!carries_data(e->state) ||
		    !sc->is_protected(sc->parg, e->raddr, e->rport))
			return 0;
		fmt_endpoint(c->local, sizeof(c->local), e->laddr, e->lport);
		fmt_endpoint(c->remote, sizeof(c->remote), e->raddr, e->rport);
	}
	snprintf(c->why, sizeof(c->why), "%s", why);
	if (e)
		log_warn("cannot take %s->%s of pid %d fd %d: %s", c->local,
			 c->remote, c->pid, c->fd, why);
	else
		log_warn("cannot inspect socket fd %d of pid %d: %s", c->fd,
			 c->pid, why);
	return report(sc, c);
}

/*
 * Socket fd of task tid (in process pid), through a duplicate taken with
 * pidfd_getfd (Linux 5.6): its ends are read on the socket, and shutdown()
 * acts on the shared socket, so the owner sees EOF/EPIPE, while closing the
 * duplicate leaves its fd alone. pidfd is -errno when it could not be had.
 */
static int one_socket(struct scan *sc, int tid, int pid, int pidfd, int fd,
		      unsigned long long ino, const char *comm)
{
	struct mw_existing_conn c = { .pid = pid, .fd = fd };
	char why[sizeof(c.why)];
	struct tcp_ent e;
	int s, err;

	snprintf(c.comm, sizeof(c.comm), "%s", comm);
	if (pidfd < 0) {
		snprintf(why, sizeof(why), "pidfd_open: %s", strerror(-pidfd));
		return untaken_socket(sc, &c, tid, ino, why);
	}
	s = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (s < 0) {
		err = errno;
		/* gone with its holder, or closed since it was listed: that
		 * table holds no channel any more */
		if (err == ESRCH || err == EBADF)
			return 0;
		snprintf(why, sizeof(why), "pidfd_getfd: %s", strerror(err));
		return untaken_socket(sc, &c, tid, ino, why);
	}
	if (!tcp_conn_of(s, &e) ||
	    !sc->is_protected(sc->parg, e.raddr, e.rport)) {
		close(s);
		return 0;
	}
	fmt_endpoint(c.local, sizeof(c.local), e.laddr, e.lport);
	fmt_endpoint(c.remote, sizeof(c.remote), e.raddr, e.rport);
	if (sc->kill) {
		/* ENOTCONN: reset meanwhile, closed all the same */
		if (shutdown(s, SHUT_RDWR) == 0 || errno == ENOTCONN)
			c.closed = true;
		else
			snprintf(c.why, sizeof(c.why), "shutdown: %s",
				 strerror(errno));
		if (!c.closed)
			log_warn("cannot shut down %s->%s of pid %d fd %d: %s",
				 c.local, c.remote, pid, fd, c.why);
	}
	close(s);
	return report(sc, &c);
}

/* The sockets in the file table of task tid (of process pid). */
static int scan_table(struct scan *sc, int tid, int pid, int pidfd)
{
	char path[64], comm[16];
	struct dirent *de;
	int r = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", tid);
	read_comm(tid, comm, sizeof(comm));
	d = opendir(path);
	if (!d && (errno == ENOENT || errno == ESRCH))
		return 0; /* exited meanwhile */
	if (!d) {
		/* a table that cannot be read may hold such a connection */
		struct mw_existing_conn c = { .pid = pid, .fd = -1 };

		snprintf(c.comm, sizeof(c.comm), "%s", comm);
		snprintf(c.why, sizeof(c.why), "%s: %s", path, strerror(errno));
		log_warn("pid %d: %s", pid, c.why);
		return report(sc, &c);
	}
	while (r >= 0 && (de = readdir(d))) {
		unsigned long long ino;
		char link[64];
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "socket:[%llu]", &ino) != 1)
			continue;
		r = one_socket(sc, tid, pid, pidfd, atoi(de->d_name), ino,
			       comm);
	}
	closedir(d);
	return r;
}

/*
 * A thread's own pidfd (PIDFD_THREAD, Linux 6.9) reaches its own file
 * table; before that, only its process's, which is right when it shares it.
 */
static int thread_pidfd(int tid, int tgid)
{
	int pidfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);

	if (pidfd >= 0)
		return pidfd;
	if (errno == EINVAL && same_files(tid, tgid))
		pidfd = (int)syscall(SYS_pidfd_open, tgid, 0);
	return pidfd >= 0 ? pidfd : -errno;
}

int mw_cgroup_existing_conns(
	const char *abs_path,
	int (*is_protected)(void *arg, const uint8_t addr[16], uint16_t port),
	void *parg, int kill,
	int (*fn)(void *arg, const struct mw_existing_conn *c), void *arg)
{
	struct scan sc = { .is_protected = is_protected,
			   .parg = parg,
			   .kill = kill,
			   .fn = fn,
			   .arg = arg };
	struct pidset procs = { 0 }, threads = { 0 };
	/* the threads whose own table was read, and their processes */
	struct pidset seen = { 0 }, seen_tgid = { 0 };
	int dfd, pidfd, r;

	dfd = open(abs_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	r = collect_tasks(dfd, &procs, &threads, 0);
	if (procs.n)
		qsort(procs.v, procs.n, sizeof(*procs.v), cmp_int);
	for (size_t i = 0; r >= 0 && i < procs.n; i++) {
		int pid = procs.v[i];

		if (pid <= 0 || (i && pid == procs.v[i - 1]))
			continue;
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		r = scan_table(&sc, pid, pid, pidfd >= 0 ? pidfd : -errno);
		if (pidfd >= 0)
			close(pidfd);
	}
	for (size_t i = 0; r >= 0 && i < threads.n; i++) {
		int tid = threads.v[i], tgid;
		bool shared;

		/* a leader was read above */
		if (tid <= 0 || pidset_has(&procs, tid))
			continue;
		tgid = tgid_of(tid);
		if (tgid <= 0)
			continue;
		/* most threads share their process's table */
		shared = pidset_has(&procs, tgid) && same_files(tgid, tid);
		for (size_t j = 0; !shared && j < seen.n; j++)
			shared = seen_tgid.v[j] == tgid &&
				 same_files(seen.v[j], tid);
		if (shared)
			continue;
		pidfd = thread_pidfd(tid, tgid);
		r = scan_table(&sc, tid, tgid, pidfd);
		if (pidfd >= 0)
			close(pidfd);
		if (r >= 0 && (r = pidset_add(&seen, tid)) == 0)
			r = pidset_add(&seen_tgid, tgid);
	}
	for (size_t i = 0; i < sc.ntabs; i++)
		free(sc.tabs[i].v);
	free(sc.tabs);
	free(procs.v);
	free(threads.v);
	free(seen.v);
	free(seen_tgid.v);
	return r < 0 ? r : sc.count;
}
