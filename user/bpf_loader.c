// SPDX-License-Identifier: BSD-2-Clause
/*
 * Loads bpf/{connect,sockops,splice}.bpf.c from their skeletons. The three
 * objects share their maps through LIBBPF_PIN_BY_NAME under pin_dir; the
 * cgroup attachments are bpf links pinned under pin_dir/links/ as
 * cg<ID>_<prog>, which keep steering while no daemon runs. A new daemon
 * switches every pinned link to its freshly loaded programs in place
 * (BPF_LINK_UPDATE), so enforcement never lapses across a restart.
 */
#include "bpf_loader.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "config.h"
#include "log.h"
#include "private_dir.h"

#include "connect.skel.h"
#include "sockops.skel.h"
#include "splice.skel.h"

#define MW_BPFFS_ROOT "/sys/fs/bpf"
#define MW_LINKS_SUBDIR "links"
#define MW_CG_WALK_MAX_DEPTH 64

_Static_assert(MW_STAT__COUNT <= 64, "stats map has 64 slots (maps.bpf.h)");

enum mw_link_kind { MW_LINK_CONNECT4, MW_LINK_CONNECT6, MW_LINK_SOCKOPS };

/*
 * Attach order: sockops first, so a connect steered right after attaching
 * is already followed by sockops (its record gets re-keyed and cleaned).
 * Release goes in the reverse order for the same reason.
 */
static const struct {
	enum mw_link_kind kind;
	const char *suffix;
} link_kinds[] = {
	{ MW_LINK_SOCKOPS, "sockops" },
	{ MW_LINK_CONNECT4, "connect4" },
	{ MW_LINK_CONNECT6, "connect6" },
};
#define N_LINK_KINDS (sizeof(link_kinds) / sizeof(link_kinds[0]))

/* The guard programs' links, on the root cgroup (connect.bpf.c). */
static const char *const guard_links[] = { "guard_connect4", "guard_connect6",
					   "guard_bind4", "guard_bind6" };
#define N_GUARDS (sizeof(guard_links) / sizeof(guard_links[0]))

struct mw_bpf {
	struct mw_connect_bpf *connect;
	struct mw_sockops_bpf *sockops;
	struct mw_splice_bpf *splice;
	char pin_dir[PATH_MAX];
	char links_dir[PATH_MAX];
	int servers_fd, settings_fd, pending_fd, conns_fd, sockhash_fd,
		stats_fd, own_socks_fd, enforced_fd, local_ports_fd,
		local_addrs_fd, local_netns_fd, splice_state_fd,
		splice_allowed_fd;
	int pin_lock_fd; /* the pin directory, flock()ed while in use */
};

/* ---- errors and libbpf messages ---- */

/* First libbpf warning since the last reset: the reason for a failure. */
static char libbpf_reason[512];

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	char small[512], *buf = small;
	va_list aq;
	size_t n;
	int len;

	if (level == LIBBPF_DEBUG)
		return 0;
	/* verifier logs are long: print them whole */
	va_copy(aq, ap);
	len = vsnprintf(small, sizeof(small), fmt, aq);
	va_end(aq);
	if (len < 0)
		return 0;
	if ((size_t)len >= sizeof(small)) {
		buf = malloc((size_t)len + 1);
		if (!buf)
			buf = small;
		else
			vsnprintf(buf, (size_t)len + 1, fmt, ap);
	}
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (level == LIBBPF_INFO) {
		mw_log(MW_LOG_DEBUG, "%s", buf);
	} else {
		mw_log(MW_LOG_WARN, "%s", buf);
		if (!libbpf_reason[0]) {
			/* one line: a verifier log follows on later lines */
			n = strcspn(buf, "\n");
			if (n >= sizeof(libbpf_reason))
				n = sizeof(libbpf_reason) - 1;
			memcpy(libbpf_reason, buf, n);
			libbpf_reason[n] = '\0';
		}
	}
	if (buf != small)
		free(buf);
	return 0;
}

static void reason_reset(void)
{
	libbpf_reason[0] = '\0';
}

static const char *reason_or(int e)
{
	return libbpf_reason[0] ? libbpf_reason : strerror(e);
}

/* ---- file system ---- */

static int is_bpffs(const char *path)
{
	struct statfs sfs;

	if (statfs(path, &sfs) != 0)
		return -errno;
	return sfs.f_type == BPF_FS_MAGIC;
}

/*
 * Pins need a bpf file system. Distributions mount it at /sys/fs/bpf, but
 * minimal hosts and containers often do not: mount it there when the pin
 * dir lives under it.
 *
 * The pins are the enforcement: whoever can rename or unlink them can
 * detach it. /sys/fs/bpf is often world-writable (sticky, like /tmp), so a
 * local user could have made the directory first: only a private one is
 * used (private_dir.h).
 */
static int ensure_pin_dir(const char *pin_dir, char *err, size_t errlen)
{
	size_t rn = strlen(MW_BPFFS_ROOT);
	int r;

	if (!strncmp(pin_dir, MW_BPFFS_ROOT, rn) &&
	    (pin_dir[rn] == '/' || pin_dir[rn] == '\0') &&
	    is_bpffs(MW_BPFFS_ROOT) == 0) {
		if (mount("bpf", MW_BPFFS_ROOT, "bpf", 0, "mode=0700") != 0) {
			r = -errno;
			mw_set_err(err, errlen, "cannot mount bpffs at %s: %s",
				   MW_BPFFS_ROOT, strerror(-r));
			return r;
		}
		log_info("mounted bpffs at %s", MW_BPFFS_ROOT);
	}
	r = mw_private_dir_make(pin_dir, 0, "bpf_pin_dir", err, errlen);
	if (r)
		return r;
	r = is_bpffs(pin_dir);
	if (r <= 0) {
		mw_set_err(err, errlen,
			   "bpf_pin_dir %s is not on a bpf file system",
			   pin_dir);
		return r < 0 ? r : -EINVAL;
	}
	return 0;
}

/*
 * A map pinned by a daemon of another version may have another layout
 * (struct mw_conn_info grew): libbpf would refuse to reuse it and the
 * daemon would not start. The maps of connections (pending, conns,
 * sock_hash) hold only records of connections that died with that daemon:
 * the pin goes and the load makes the map afresh; a connection the old
 * programs record there meanwhile finds no record at accept and is
 * refused (fail closed). Any other map steers or guards: until this
 * daemon filled a new one, the links it adopts would let connections
 * through, so its start fails and says what to do.
 */
static bool per_connection_map(const char *name)
{
	return !strcmp(name, "pending") || !strcmp(name, "conns") ||
	       !strcmp(name, "sock_hash");
}

static int replace_stale_pins(struct bpf_object *obj, char *err, size_t errlen)
{
	struct bpf_map *m;

	bpf_object__for_each_map (m, obj) {
		const char *path = bpf_map__pin_path(m);
		struct bpf_map_info info;
		__u32 len = sizeof(info);
		bool same;
		int fd;

		if (!path || (fd = bpf_obj_get(path)) < 0)
			continue; /* not pinned yet: the load pins it */
		memset(&info, 0, sizeof(info));
		same = bpf_obj_get_info_by_fd(fd, &info, &len) ||
		       (info.type == bpf_map__type(m) &&
			info.key_size == bpf_map__key_size(m) &&
			info.value_size == bpf_map__value_size(m) &&
			info.max_entries == bpf_map__max_entries(m) &&
			info.map_flags == bpf_map__map_flags(m));
		close(fd);
		if (same)
			continue;
		if (!per_connection_map(bpf_map__name(m))) {
			mw_set_err(
				err, errlen,
				"pinned map %s has another layout (another "
				"version's): release every cgroup and remove "
				"the pin directory to upgrade",
				path);
			return -EINVAL;
		}
		log_warn("eBPF: pinned map %s has another layout (another "
			 "version's): replaced",
			 path);
		if (unlink(path) && errno != ENOENT) {
			mw_set_err(err, errlen, "cannot replace %s: %s", path,
				   strerror(errno));
			return -errno;
		}
	}
	return 0;
}

/* ---- addresses ---- */

/* ---- links ---- */

static struct bpf_program *prog_of(struct mw_bpf *b, enum mw_link_kind k)
{
	switch (k) {
	case MW_LINK_CONNECT4:
		return b->connect->progs.mw_connect4;
	case MW_LINK_CONNECT6:
		return b->connect->progs.mw_connect6;
	case MW_LINK_SOCKOPS:
		return b->sockops->progs.mw_sockops;
	}
	return NULL;
}

static struct bpf_program *guard_prog(struct mw_bpf *b, size_t i)
{
	struct bpf_program *progs[N_GUARDS] = {
		b->connect->progs.mw_guard4,
		b->connect->progs.mw_guard6,
		b->connect->progs.mw_guard_bind4,
		b->connect->progs.mw_guard_bind6,
	};

	return progs[i];
}

/* The guard link named name: its index, or -1. */
static int guard_index(const char *name)
{
	for (size_t i = 0; i < N_GUARDS; i++)
		if (!strcmp(name, guard_links[i]))
			return (int)i;
	return -1;
}

static int link_path(struct mw_bpf *b, uint64_t cg_id, const char *suffix,
		     char *out, size_t outlen)
{
	if ((size_t)snprintf(out, outlen, "%s/cg%" PRIu64 "_%s", b->links_dir,
			     cg_id, suffix) >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

/* Parses "cg<ID>_<suffix>"; returns the kind index or -1. */
static int parse_link_name(const char *name, uint64_t *cg_id)
{
	unsigned long long id;
	int off = 0;

	if (sscanf(name, "cg%llu_%n", &id, &off) != 1 || off == 0)
		return -1;
	for (size_t i = 0; i < N_LINK_KINDS; i++)
		if (!strcmp(name + off, link_kinds[i].suffix)) {
			*cg_id = id;
			return (int)i;
		}
	return -1;
}

/*
 * The cgroup a pinned link is attached to, from the kernel's link info.
 * 0 means the link is defunct: its cgroup was removed, which auto-detaches.
 */
static int link_cgroup_id(int fd, uint64_t *cg_id)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	*cg_id = 0;
	/* errno could be 0 on a failure libbpf did not set it for: never
	 * report one as success */
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return errno ? -errno : -EIO;
	if (info.type != BPF_LINK_TYPE_CGROUP)
		return -EINVAL;
	*cg_id = info.cgroup.cgroup_id;
	return 0;
}

/* Detaches (even if someone else holds the link open) and unpins. */
/*
 * Detaches and unpins the link pinned at path; 0 or -errno when it stays
 * pinned (and so attached).
 */
static int drop_link(const char *path)
{
	struct bpf_link *l = bpf_link__open(path);
	int r = 0;

	if (!l)
		return unlink(path) && errno != ENOENT ? -errno : 0;
	/* BPF_LINK_DETACH needs 5.9; unpinning alone frees it otherwise */
	bpf_link__detach(l);
	if (bpf_link__unpin(l))
		r = errno ? -errno : -EINVAL;
	bpf_link__destroy(l);
	return r;
}

/* Points the pinned link l (at path) at prog, this instance's program. */
static int switch_link(struct bpf_link *l, struct bpf_program *prog,
		       const char *path, char *err, size_t errlen)
{
	int r;

	reason_reset();
	if (l && !bpf_link__update_program(l, prog))
		return 0;
	r = errno ? -errno : -EINVAL;
	mw_set_err(err, errlen, "cannot switch %s to the new program: %s", path,
		   reason_or(-r));
	return r;
}

/* Attaches the guards to the root cgroup, once: their links are pinned. */
static int attach_guards(struct mw_bpf *b, char *err, size_t errlen)
{
	const char *root = mw_cgroup2_mount();
	int rootfd, r = 0;

	if (!root) {
		mw_set_err(err, errlen, "cgroup v2 is not mounted");
		return -ENODEV;
	}
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		r = -errno;
		mw_set_err(err, errlen, "cannot open %s: %s", root,
			   strerror(-r));
		return r;
	}
	for (size_t i = 0; i < N_GUARDS && !r; i++) {
		char path[PATH_MAX];
		struct bpf_link *l;

		if ((size_t)snprintf(path, sizeof(path), "%s/%s", b->links_dir,
				     guard_links[i]) >= sizeof(path)) {
			mw_set_err(err, errlen, "bpf_pin_dir too long");
			r = -ENAMETOOLONG;
			break;
		}
		if (access(path, F_OK) == 0)
			continue; /* adopted */
		reason_reset();
		l = bpf_program__attach_cgroup(guard_prog(b, i), rootfd);
		if (!l) {
			r = errno ? -errno : -EINVAL;
			mw_set_err(err, errlen,
				   "kernel refused to attach %s to %s: %s",
				   guard_links[i], root, reason_or(-r));
			break;
		}
		if (bpf_link__pin(l, path)) {
			r = -errno;
			mw_set_err(err, errlen, "cannot pin %s: %s", path,
				   strerror(-r));
		}
		bpf_link__destroy(l);
	}
	close(rootfd);
	return r;
}

/* Switches every pinned link to this instance's programs. */
static int adopt_links(struct mw_bpf *b, char *err, size_t errlen)
{
	struct dirent *de;
	int r = 0;
	DIR *d = opendir(b->links_dir);

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (r == 0 && (de = readdir(d))) {
		char path[PATH_MAX];
		uint64_t name_id, cg_id;
		struct bpf_link *l;
		int k, g;

		if (de->d_name[0] == '.')
			continue;
		k = parse_link_name(de->d_name, &name_id);
		g = guard_index(de->d_name);
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", b->links_dir,
				     de->d_name) >= sizeof(path))
			continue;
		if (g >= 0) {
			/* the guard must stay: a pin that will not open fails */
			l = bpf_link__open(path);
			r = switch_link(l, guard_prog(b, (size_t)g), path, err,
					errlen);
			bpf_link__destroy(l);
			continue;
		}
		if (k < 0) {
			log_warn("ignoring unknown pin %s", path);
			continue;
		}
		l = bpf_link__open(path);
		if (!l) {
			log_warn("ignoring unusable pin %s: %s", path,
				 strerror(errno));
			continue;
		}
		if (link_cgroup_id(bpf_link__fd(l), &cg_id) == 0 &&
		    cg_id == 0) {
			log_info("cgroup %" PRIu64 " is gone, dropping %s",
				 name_id, path);
			bpf_link__unpin(l);
			bpf_link__destroy(l);
			continue;
		}
		r = switch_link(l, prog_of(b, link_kinds[k].kind), path, err,
				errlen);
		bpf_link__destroy(l);
	}
	closedir(d);
	return r;
}

static int sync_enforced(struct mw_bpf *b, char *err, size_t errlen);

/* ---- open / close ---- */

static size_t sweep_splice(struct mw_bpf *b);

/*
 * settings may be NULL to keep the pinned ones: tools that only inspect or
 * enforce (CLI, tests) must not overwrite the running daemon's settings.
 */
int mw_bpf_open(struct mw_bpf **out, const char *pin_dir,
		const struct mw_settings *settings, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	struct mw_bpf *b;
	int r;

	*out = NULL;
	libbpf_set_print(libbpf_print);
	if (!pin_dir || pin_dir[0] != '/') {
		mw_set_err(err, errlen, "bpf_pin_dir must be an absolute path");
		return -EINVAL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->pin_lock_fd = -1;
	if ((size_t)snprintf(b->pin_dir, sizeof(b->pin_dir), "%s", pin_dir) >=
		    sizeof(b->pin_dir) ||
	    (size_t)snprintf(b->links_dir, sizeof(b->links_dir), "%s/%s",
			     pin_dir,
			     MW_LINKS_SUBDIR) >= sizeof(b->links_dir)) {
		mw_set_err(err, errlen, "bpf_pin_dir too long");
		free(b);
		return -ENAMETOOLONG;
	}
	r = ensure_pin_dir(b->pin_dir, err, errlen);
	/*
	 * One daemon per pin directory: a second would switch the pinned
	 * links to its own programs, whose map knows none of the first one's
	 * sockets, and every steered connect() would fail while the first
	 * still serves.
	 */
	if (!r) {
		b->pin_lock_fd = mw_private_dir_lock(b->pin_dir, "bpf_pin_dir",
						     err, errlen);
		r = b->pin_lock_fd < 0 ? b->pin_lock_fd : 0;
	}
	if (!r)
		r = mw_private_dir_make(b->links_dir, 0, "bpf_pin_dir's links",
					err, errlen);
	if (r)
		goto fail;

	/* pin_root_path: the maps declared with LIBBPF_PIN_BY_NAME live
	 * there, created by the first object and reused by the rest. */
	opts.pin_root_path = b->pin_dir;
	reason_reset();
	errno = 0;
	b->connect = mw_connect_bpf__open_opts(&opts);
	if (b->connect)
		b->sockops = mw_sockops_bpf__open_opts(&opts);
	if (b->sockops)
		b->splice = mw_splice_bpf__open_opts(&opts);
	if (!b->splice) {
		r = errno ? -errno : -EINVAL;
		mw_set_err(err, errlen, "cannot open eBPF objects: %s",
			   reason_or(-r));
		goto fail;
	}
	r = replace_stale_pins(b->connect->obj, err, errlen);
	if (!r)
		r = replace_stale_pins(b->sockops->obj, err, errlen);
	if (!r)
		r = replace_stale_pins(b->splice->obj, err, errlen);
	if (r)
		goto fail;
	reason_reset();
	r = mw_connect_bpf__load(b->connect);
	if (!r)
		r = mw_sockops_bpf__load(b->sockops);
	if (!r)
		r = mw_splice_bpf__load(b->splice);
	if (r) {
		r = r < 0 ? r : -EINVAL;
		mw_set_err(err, errlen, "kernel refused program: %s",
			   reason_or(-r));
		goto fail;
	}
	b->servers_fd = bpf_map__fd(b->connect->maps.protected_servers);
	b->settings_fd = bpf_map__fd(b->connect->maps.settings);
	b->pending_fd = bpf_map__fd(b->connect->maps.pending);
	b->conns_fd = bpf_map__fd(b->connect->maps.conns);
	b->sockhash_fd = bpf_map__fd(b->splice->maps.sock_hash);
	b->splice_state_fd = bpf_map__fd(b->splice->maps.splice_state);
	b->splice_allowed_fd = bpf_map__fd(b->splice->maps.splice_allowed);
	b->stats_fd = bpf_map__fd(b->connect->maps.stats);
	b->own_socks_fd = bpf_map__fd(b->connect->maps.own_socks);
	b->enforced_fd = bpf_map__fd(b->connect->maps.enforced);
	b->local_ports_fd = bpf_map__fd(b->connect->maps.local_ports);
	b->local_netns_fd = bpf_map__fd(b->connect->maps.local_netns);
	b->local_addrs_fd = bpf_map__fd(b->connect->maps.local_addrs);

	if (settings) {
		r = mw_bpf_set_settings(b, settings);
		if (r) {
			mw_set_err(err, errlen, "cannot write settings: %s",
				   strerror(-r));
			goto fail;
		}
	}
	/*
	 * The verdict program is attached to the pinned map itself (no
	 * link); attaching again replaces the previous daemon's program.
	 */
	if (bpf_prog_attach(bpf_program__fd(b->splice->progs.mw_splice),
			    b->sockhash_fd, BPF_SK_MSG_VERDICT, 0)) {
		r = -errno;
		mw_set_err(err, errlen, "cannot attach sk_msg to sock_hash: %s",
			   strerror(-r));
		goto fail;
	}
	(void)sweep_splice(b);
	r = adopt_links(b, err, errlen);
	if (!r)
		r = sync_enforced(b, err, errlen);
	if (!r)
		r = attach_guards(b, err, errlen);
	if (r)
		goto fail;
	*out = b;
	return 0;
fail:
	mw_bpf_close(b);
	return r;
}

void mw_bpf_close(struct mw_bpf *b)
{
	if (!b)
		return;
	/* Pinned maps and links stay: enforcement outlives the daemon. */
	mw_splice_bpf__destroy(b->splice);
	mw_sockops_bpf__destroy(b->sockops);
	mw_connect_bpf__destroy(b->connect);
	if (b->pin_lock_fd >= 0)
		close(b->pin_lock_fd);
	free(b);
}

/* ---- maps ---- */

int mw_bpf_set_settings(struct mw_bpf *b, const struct mw_settings *s)
{
	__u32 k = 0;

	if (bpf_map_update_elem(b->settings_fd, &k, s, BPF_ANY))
		return -errno;
	return 0;
}

static int cmp_key(const void *a, const void *b, void *key_size)
{
	return memcmp(a, b, *(const size_t *)key_size);
}

static bool sorted_has(const unsigned char *keys, size_t n, size_t key_size,
		       const void *k)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(keys + mid * key_size, k, key_size);

		if (!c)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static int add_entries(int fd, const void *keys, size_t key_size,
		       const void *vals, size_t val_size, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, (const char *)keys + i * key_size,
					(const char *)vals + i * val_size,
					BPF_ANY))
			return -errno;
	return 0;
}

/*
 * Makes the map at fd hold exactly these n entries. Keys are compared
 * whole (callers zero their padding); a sorted copy tells the stale ones,
 * so that thousands of the host's addresses take no time. Added first,
 * then the others removed, so that no moment leaves an entry missing;
 * or, stale_first, the other way round, for entries whose going opens
 * nothing (addresses the host no longer has), so that a full map takes
 * the new ones.
 */
static int replace_map(int fd, const void *keys, size_t key_size,
		       const void *vals, size_t val_size, size_t n, size_t max,
		       bool stale_first)
{
	unsigned char *stale, *sorted, cur[sizeof(struct mw_server_key)],
		next[sizeof(cur)];
	size_t nstale = 0;
	int r = 0, more;

	if (n > max)
		return -E2BIG;
	if (key_size > sizeof(cur))
		return -EINVAL;
	if (!stale_first) {
		r = add_entries(fd, keys, key_size, vals, val_size, n);
		if (r)
			return r;
	}
	stale = calloc(max, key_size);
	sorted = malloc(n ? n * key_size : 1);
	if (!stale || !sorted) {
		free(stale);
		free(sorted);
		return -ENOMEM;
	}
	if (n)
		memcpy(sorted, keys, n * key_size);
	qsort_r(sorted, n, key_size, cmp_key, &key_size);
	more = bpf_map_get_next_key(fd, NULL, next) == 0;
	while (more && nstale < max) {
		memcpy(cur, next, key_size);
		if (!sorted_has(sorted, n, key_size, cur))
			memcpy(stale + nstale++ * key_size, cur, key_size);
		more = bpf_map_get_next_key(fd, cur, next) == 0;
	}
	for (size_t i = 0; i < nstale; i++)
		if (bpf_map_delete_elem(fd, stale + i * key_size) &&
		    errno != ENOENT)
			r = -errno;
	free(sorted);
	free(stale);
	if (!r && stale_first)
		r = add_entries(fd, keys, key_size, vals, val_size, n);
	return r;
}

int mw_bpf_set_servers(struct mw_bpf *b, const struct mw_server_key *keys,
		       const struct mw_server_val *vals, size_t n)
{
	struct mw_server_key *k;
	int r;

	k = calloc(n ? n : 1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		k[i] = keys[i];
		k[i].pad = 0;
	}
	r = replace_map(b->servers_fd, k, sizeof(*k), vals, sizeof(*vals), n,
			MW_MAX_SERVERS, false);
	free(k);
	return r;
}

int mw_bpf_set_local_ports(struct mw_bpf *b, const uint32_t *ports,
			   const struct mw_server_val *vals, size_t n,
			   uint64_t netns_cookie)
{
	__u32 k = 0;

	if (bpf_map_update_elem(b->local_netns_fd, &k, &netns_cookie, BPF_ANY))
		return -errno;
	return replace_map(b->local_ports_fd, ports, sizeof(*ports), vals,
			   sizeof(*vals), n, MW_MAX_SERVERS, false);
}

int mw_bpf_set_local_addrs(struct mw_bpf *b, const uint8_t (*addrs)[16],
			   size_t n)
{
	uint8_t *ones;
	int r;

	ones = calloc(n ? n : 1, 1);
	if (!ones)
		return -ENOMEM;
	memset(ones, 1, n);
	/* stale first: a map full of addresses gone still takes these */
	r = replace_map(b->local_addrs_fd, addrs, 16, ones, 1, n,
			MW_MAX_LOCAL_ADDRS, true);
	free(ones);
	return r;
}

static void conn_key_from(struct mw_conn_key *k,
			  const struct sockaddr_storage *local,
			  const struct sockaddr_storage *remote)
{
	memset(k, 0, sizeof(*k));
	mw_addr_to_mapped(local, k->local_addr, &k->local_port);
	mw_addr_to_mapped(remote, k->remote_addr, &k->remote_port);
}

int mw_bpf_take_conn(struct mw_bpf *b, const struct sockaddr_storage *peer,
		     const struct sockaddr_storage *local,
		     struct mw_conn_info *out)
{
	struct mw_conn_key k;

	/* The client's own view: its local end is our peer. */
	conn_key_from(&k, peer, local);
	if (bpf_map_lookup_elem(b->conns_fd, &k, out))
		return -errno;
	/*
	 * Taken once: a record left after its connection was taken would let
	 * a client holding connections (in CLOSE_WAIT, say, once the daemon
	 * has closed them) fill the map that every other client's connect
	 * needs. If the kernel's own entry cannot go, the connection is
	 * refused rather than leave a record another connection could be
	 * credited with.
	 */
	if (bpf_map_delete_elem(b->conns_fd, &k) && errno != ENOENT)
		return -errno;
	return 0;
}

static int splice_allow(struct mw_bpf *b, const struct mw_conn_key *client_key,
			uint64_t allowed)
{
	__u64 v = allowed;

	if (bpf_map_update_elem(b->splice_allowed_fd, client_key, &v, BPF_ANY))
		return -errno;
	return 0;
}

int mw_bpf_splice_add(struct mw_bpf *b, int fd,
		      const struct sockaddr_storage *peer,
		      const struct sockaddr_storage *local, uint64_t window,
		      struct mw_conn_key *client_key)
{
	struct mw_conn_key k;
	__u64 v = (__u64)fd;
	int r;

	/* The daemon socket's own view, the mirror of the client's key. */
	conn_key_from(&k, local, peer);
	if (bpf_map_update_elem(b->sockhash_fd, &k, &v, BPF_ANY))
		return -errno;
	conn_key_from(client_key, peer, local);
	r = splice_allow(b, client_key, window);
	if (r)
		(void)bpf_map_delete_elem(b->sockhash_fd, &k);
	return r;
}

int mw_bpf_splice_refill(struct mw_bpf *b, const struct mw_conn_key *client_key,
			 uint64_t window)
{
	struct mw_splice_state st;

	if (bpf_map_lookup_elem(b->splice_state_fd, client_key, &st))
		return errno == ENOENT ? 1 : -errno;
	if (st.tcp_only)
		return 1;
	return splice_allow(b, client_key, st.charged + window);
}

void mw_bpf_splice_forget(struct mw_bpf *b,
			  const struct mw_conn_key *client_key)
{
	(void)bpf_map_delete_elem(b->splice_allowed_fd, client_key);
}

int mw_bpf_for_each_conn(struct mw_bpf *b,
			 int (*fn)(void *arg, const struct mw_conn_key *k,
				   const struct mw_conn_info *v),
			 void *arg)
{
	struct mw_conn_key *keys, next;
	size_t n = 0;
	int r = 0, more;

	/*
	 * Keys first, values after: deletions by sockops during the walk
	 * would otherwise restart get_next_key from the first key.
	 */
	keys = calloc(MW_MAX_CONNS, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	more = bpf_map_get_next_key(b->conns_fd, NULL, &next) == 0;
	while (more && n < MW_MAX_CONNS) {
		keys[n] = next;
		more = bpf_map_get_next_key(b->conns_fd, &keys[n], &next) == 0;
		n++;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		struct mw_conn_info v;

		if (bpf_map_lookup_elem(b->conns_fd, &keys[i], &v))
			continue;
		r = fn(arg, &keys[i], &v);
	}
	free(keys);
	return r;
}

int mw_bpf_stats(struct mw_bpf *b, uint64_t out[MW_STAT__COUNT])
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;

	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (__u32 i = 0; i < MW_STAT__COUNT; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(b->stats_fd, &i, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[i] += vals[c];
	}
	free(vals);
	return 0;
}

int mw_bpf_tag_own_socket(struct mw_bpf *b, int fd, uint32_t tag)
{
	if (bpf_map_update_elem(b->own_socks_fd, &fd, &tag, BPF_ANY))
		return -errno;
	return 0;
}

const char *mw_bpf_stat_name(enum mw_stat s)
{
	static const char *const names[MW_STAT__COUNT] = {
		[MW_STAT_CONNECT_SEEN] = "connect_seen",
		[MW_STAT_CONNECT_REDIRECTED] = "connect_redirected",
		[MW_STAT_CONNECT_DAEMON_SKIPPED] = "connect_daemon_skipped",
		[MW_STAT_ESTABLISHED] = "established",
		[MW_STAT_CLOSED] = "closed",
		[MW_STAT_SPLICE_REDIRECT] = "splice_redirect",
		[MW_STAT_SPLICE_MISS] = "splice_miss",
		[MW_STAT_RECORD_FULL] = "record_full",
		[MW_STAT_CONNECT_REFUSED_DOWN] = "connect_refused_down",
		[MW_STAT_CONNECT_REFUSED_FOREIGN] = "connect_refused_foreign",
		[MW_STAT_BIND_REFUSED] = "bind_refused",
	};

	if ((unsigned)s >= MW_STAT__COUNT || !names[s])
		return "unknown";
	return names[s];
}

/* ---- cgroup id sets ---- */

struct idset {
	uint64_t *v;
	size_t n, cap;
};

static int idset_add(struct idset *s, uint64_t id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == id)
			return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		uint64_t *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = id;
	return 0;
}

static int idset_has(const struct idset *s, uint64_t id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == id)
			return 1;
	return 0;
}

/* The ids of the cgroups this instance enforces (live links only). */
/* strict: a pin that cannot be read fails the call, rather than being
 * passed over (for a question a wrong "no" would answer unsafely) */
static int enforced_ids_opt(struct mw_bpf *b, struct idset *ids, bool strict)
{
	struct dirent *de;
	int r = 0;
	DIR *d = opendir(b->links_dir);

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (r == 0 && (de = readdir(d))) {
		char path[PATH_MAX];
		uint64_t name_id, cg_id;
		int fd, lr;

		if (parse_link_name(de->d_name, &name_id) < 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", b->links_dir,
				     de->d_name) >= sizeof(path))
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0) {
			if (strict && errno != ENOENT)
				r = -errno;
			continue;
		}
		/* a defunct link (its cgroup removed: id 0) enforces
		 * nothing, which is a sure answer, not an unreadable pin */
		lr = link_cgroup_id(fd, &cg_id);
		if (lr == 0 && cg_id != 0)
			r = idset_add(ids, cg_id);
		else if (strict && lr)
			r = lr;
		close(fd);
	}
	closedir(d);
	return r;
}

static int enforced_ids(struct mw_bpf *b, struct idset *ids)
{
	return enforced_ids_opt(b, ids, false);
}

/*
 * The guard's set of enforced cgroups, from the pinned links (the truth):
 * stale ids go, missing ones come.
 */
static int sync_enforced(struct mw_bpf *b, char *err, size_t errlen)
{
	struct idset ids = { 0 };
	uint64_t key, next;
	uint8_t one = 1;
	int r, more;

	r = enforced_ids(b, &ids);
	for (size_t i = 0; !r && i < ids.n; i++)
		if (bpf_map_update_elem(b->enforced_fd, &ids.v[i], &one,
					BPF_ANY))
			r = -errno;
	more = !r && bpf_map_get_next_key(b->enforced_fd, NULL, &next) == 0;
	while (more) {
		key = next;
		more = bpf_map_get_next_key(b->enforced_fd, &key, &next) == 0;
		if (!idset_has(&ids, key))
			bpf_map_delete_elem(b->enforced_fd, &key);
	}
	free(ids.v);
	if (r)
		mw_set_err(err, errlen, "cannot fill the enforced cgroups: %s",
			   strerror(-r));
	return r;
}

/* Adds the ids of dfd's cgroup and all its descendants. */
static int subtree_ids(int dfd, struct idset *ids, int depth)
{
	struct dirent *de;
	struct stat st;
	int r;
	DIR *d;

	if (depth > MW_CG_WALK_MAX_DEPTH || fstat(dfd, &st)) {
		close(dfd);
		return 0;
	}
	r = idset_add(ids, (uint64_t)st.st_ino);
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return r;
	}
	while (r == 0 && (de = readdir(d))) {
		int fd;

		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		fd = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0)
			r = subtree_ids(fd, ids, depth + 1);
	}
	closedir(d);
	return r;
}

static int subtree_ids_of_path(const char *path, struct idset *ids)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? -errno : subtree_ids(fd, ids, 0);
}

static int subtree_ids_of_id(uint64_t id, struct idset *ids)
{
	const char *mnt = mw_cgroup2_mount();
	char rel[PATH_MAX], abs[PATH_MAX * 2];

	if (!mnt || mw_cgroup_path_of_id(id, rel, sizeof(rel)))
		return 0;
	snprintf(abs, sizeof(abs), "%s%s", mnt, strcmp(rel, "/") ? rel : "");
	return subtree_ids_of_path(abs, ids);
}

/*
 * Deletes the keys of map fd that stale(fd, key, arg) names, at most max
 * of them. Keys are collected first: deleting while walking would restart
 * the walk. sockops deletes too, and a key it deleted under the walk
 * starts it again from the first: a client that connects and closes
 * without end would keep the loop here, so the walk takes at most a few
 * times the map's size in steps. Returns how many were deleted.
 */
static size_t sweep_keys(int fd, size_t key_size, size_t max,
			 bool (*stale)(int fd, const void *key, void *arg),
			 void *arg)
{
	unsigned char *keys = calloc(max + 1, key_size);
	size_t n = 0, dropped = 0, steps = 0;

	if (!keys)
		return 0;
	for (int more = !bpf_map_get_next_key(fd, NULL, keys);
	     more && n < max && steps++ < 4 * max;) {
		unsigned char *k = keys + n * key_size;

		more = !bpf_map_get_next_key(fd, k, k + key_size);
		if (stale(fd, k, arg))
			n++;
		else if (more)
			memcpy(k, k + key_size, key_size);
	}
	for (size_t i = 0; i < n; i++)
		dropped += bpf_map_delete_elem(fd, keys + i * key_size) == 0;
	free(keys);
	return dropped;
}

struct released_scope {
	const struct idset *released, *covered;
	uint64_t before_ns;
};

/* A connection record made in the released subtree before the release,
 * which no cgroup still enforced covers. */
static bool record_released(int fd, const void *key, void *arg)
{
	const struct released_scope *rs = arg;
	struct mw_conn_info v;

	return bpf_map_lookup_elem(fd, key, &v) == 0 &&
	       v.connect_ns < rs->before_ns &&
	       idset_has(rs->released, v.cgroup_id) &&
	       !idset_has(rs->covered, v.cgroup_id);
}

/* A splice entry whose client socket has left the sockhash. */
static bool splice_entry_stale(int fd, const void *key, void *arg)
{
	const struct mw_bpf *b = arg;
	__u64 cookie;

	(void)fd;
	return bpf_map_lookup_elem(b->sockhash_fd, key, &cookie) &&
	       errno == ENOENT;
}

/*
 * Splice entries whose client socket has left the sockhash (the kernel
 * drops a socket from it when the socket closes): sockops deletes them at
 * the close, except for sockets of a cgroup released since, whose sockops
 * no longer runs. At start and after a release.
 */
static size_t sweep_splice(struct mw_bpf *b)
{
	return sweep_keys(b->splice_state_fd, sizeof(struct mw_conn_key),
			  MW_MAX_CONNS, splice_entry_stale, b) +
	       sweep_keys(b->splice_allowed_fd, sizeof(struct mw_conn_key),
			  MW_MAX_CONNS, splice_entry_stale, b);
}

/*
 * After release, sockops no longer runs for the released cgroup's
 * sockets, so their records would never be deleted: drop the records
 * made in the released subtree before the release, unless another cgroup
 * this instance still enforces covers them (an enforced ancestor or
 * descendant keeps its own sockops running).
 */
static void sweep_released(struct mw_bpf *b, const char *cg_path,
			   uint64_t before_ns)
{
	struct idset released = { 0 }, covered = { 0 }, enforced = { 0 };
	struct released_scope rs;
	size_t dropped;

	if (subtree_ids_of_path(cg_path, &released) ||
	    enforced_ids(b, &enforced))
		goto out;
	for (size_t i = 0; i < enforced.n; i++)
		if (subtree_ids_of_id(enforced.v[i], &covered))
			goto out;
	rs = (struct released_scope){ &released, &covered, before_ns };
	dropped = sweep_keys(b->conns_fd, sizeof(struct mw_conn_key),
			     MW_MAX_CONNS, record_released, &rs) +
		  sweep_keys(b->pending_fd, sizeof(__u64),
			     MW_MAX_PENDING_CONNECTS, record_released, &rs);
	dropped += sweep_splice(b);
	if (dropped)
		log_info("released %s: dropped %zu connection records", cg_path,
			 dropped);
out:
	free(released.v);
	free(covered.v);
	free(enforced.v);
}

/* ---- enforce / release ---- */

static int open_cgroup(const char *cgroup_path, char *abs, size_t abslen,
		       uint64_t *id, char *err, size_t errlen)
{
	int r, fd;

	if (!mw_cgroup2_mount()) {
		mw_set_err(err, errlen, "cgroup v2 is not mounted");
		return -ENODEV;
	}
	r = mw_cgroup_resolve(cgroup_path, abs, abslen, err, errlen);
	if (r)
		return r;
	fd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		mw_set_err(err, errlen, "no such cgroup: %s", cgroup_path);
		return r;
	}
	r = mw_cgroup_id(abs, id);
	if (r) {
		close(fd);
		mw_set_err(err, errlen, "cgroup %s: %s", abs, strerror(-r));
		return r;
	}
	return fd;
}

/* How deep below the cgroup v2 root abs is (the root is level 0). */
static int cgroup_level(const char *abs)
{
	const char *root = mw_cgroup2_mount(), *p;
	int level = 0;

	p = root && !strncmp(abs, root, strlen(root)) ? abs + strlen(root)
						      : abs;
	for (; *p; p++)
		if (*p == '/' && p[1] && p[1] != '/')
			level++;
	return level;
}

/*
 * Adds an enforced cgroup to the guard's map. Full, it first drops the ids
 * of cgroups removed while enforced (their links are defunct): an enforce
 * the guard cannot cover fails rather than leave sockets made outside
 * unrefused.
 */
static int guard_add(struct mw_bpf *b, uint64_t id, char *err, size_t errlen)
{
	uint8_t one = 1;
	int r;

	if (!bpf_map_update_elem(b->enforced_fd, &id, &one, BPF_ANY))
		return 0;
	r = sync_enforced(b, err, errlen);
	if (!r && !bpf_map_update_elem(b->enforced_fd, &id, &one, BPF_ANY))
		return 0;
	r = -errno;
	mw_set_err(err, errlen,
		   "the guard cannot take another enforced cgroup (%d at "
		   "most): %s",
		   MW_MAX_ENFORCED, strerror(errno));
	return r ? r : -ENOSPC;
}

/*
 * A cgroup inside a subtree delegated to a user is not enforced: that
 * user's processes could move themselves out to a cgroup of their own,
 * where nothing steers them. Its delegated root can be (the user cannot
 * move a process above it).
 */
static int refuse_delegated(const char *abs, char *err, size_t errlen)
{
	char anc[PATH_MAX], who[128];
	int r;

	r = mw_cgroup_delegated_above(abs, anc, sizeof(anc), who, sizeof(who));
	if (r > 0) {
		mw_set_err(err, errlen,
			   "%s lies in a subtree delegated to %s (%s lets "
			   "others than root move processes): its processes "
			   "could move themselves out of enforcement; enforce "
			   "%s instead",
			   abs, who, anc, anc);
		return -EPERM;
	}
	if (r < 0)
		mw_set_err(err, errlen,
			   "cannot tell whether %s lies in a delegated "
			   "subtree: %s",
			   abs, strerror(-r));
	return r;
}

int mw_bpf_enforce(struct mw_bpf *b, const char *cgroup_path, uint64_t *id_out,
		   char *err, size_t errlen)
{
	char abs[PATH_MAX], path[N_LINK_KINDS][PATH_MAX];
	bool created[N_LINK_KINDS] = { false };
	uint64_t id;
	int cgfd, r = 0;

	cgfd = open_cgroup(cgroup_path, abs, sizeof(abs), &id, err, errlen);
	if (cgfd < 0)
		return cgfd;
	if (cgroup_level(abs) >= MW_CG_MAX_LEVEL) {
		mw_set_err(err, errlen,
			   "%s is nested deeper than the guard looks (%d "
			   "levels)",
			   abs, MW_CG_MAX_LEVEL);
		close(cgfd);
		return -EINVAL;
	}
	r = refuse_delegated(abs, err, errlen);
	if (r) {
		close(cgfd);
		return r;
	}
	for (size_t i = 0; i < N_LINK_KINDS && r == 0; i++) {
		struct bpf_link *l;

		r = link_path(b, id, link_kinds[i].suffix, path[i],
			      sizeof(path[i]));
		if (r) {
			mw_set_err(err, errlen, "bpf_pin_dir too long");
			break;
		}
		if (access(path[i], F_OK) == 0)
			continue; /* already enforced: idempotent */
		reason_reset();
		/* A link attaches with multi-attach semantics: other
		 * programs and instances on this cgroup stay. */
		l = bpf_program__attach_cgroup(prog_of(b, link_kinds[i].kind),
					       cgfd);
		if (!l) {
			r = errno ? -errno : -EINVAL;
			mw_set_err(err, errlen,
				   "kernel refused to attach %s to %s: %s",
				   link_kinds[i].suffix, abs, reason_or(-r));
			break;
		}
		if (bpf_link__pin(l, path[i])) {
			r = -errno;
			bpf_link__destroy(l);
			if (r == -EEXIST) { /* a concurrent enforce won */
				r = 0;
				continue;
			}
			mw_set_err(err, errlen, "cannot pin %s: %s", path[i],
				   strerror(-r));
			break;
		}
		/* The pin keeps the link; our fd is not needed. */
		bpf_link__destroy(l);
		created[i] = true;
	}
	/* the guard now refuses what the links cannot steer */
	if (!r)
		r = guard_add(b, id, err, errlen);
	if (r) {
		for (size_t i = N_LINK_KINDS; i-- > 0;)
			if (created[i] && drop_link(path[i]))
				log_err("cannot undo enforce: %s stays "
					"attached",
					path[i]);
	} else {
		log_info("enforcing cgroup %s (id %" PRIu64 ")", abs, id);
		if (id_out)
			*id_out = id;
	}
	close(cgfd);
	return r;
}

/*
 * Takes cgroup id out of the guard, then drops its links; what names it
 * in errors. Returns how many links there were, or -errno.
 */
static int release_links(struct mw_bpf *b, uint64_t id, const char *what,
			 char *err, size_t errlen)
{
	char path[PATH_MAX];
	int found = 0, r, failed = 0;

	/* first: direct connections must not meet the guard after (while
	 * the links stay, connections are steered: closed, not open) */
	if (bpf_map_delete_elem(b->enforced_fd, &id) && errno != ENOENT) {
		r = -errno;
		mw_set_err(err, errlen,
			   "cannot release %s: the guard keeps it: %s", what,
			   strerror(-r));
		return r;
	}
	for (size_t i = N_LINK_KINDS; i-- > 0;) {
		if (link_path(b, id, link_kinds[i].suffix, path,
			      sizeof(path))) {
			mw_set_err(err, errlen, "bpf_pin_dir too long");
			return -ENAMETOOLONG;
		}
		if (access(path, F_OK) != 0)
			continue;
		found++;
		r = drop_link(path);
		if (r && !failed) {
			failed = r;
			mw_set_err(err, errlen,
				   "cannot release %s: %s stays attached "
				   "(its connections are still steered): %s",
				   what, path, strerror(-r));
		}
	}
	return failed ? failed : found;
}

int mw_bpf_release(struct mw_bpf *b, const char *cgroup_path, char *err,
		   size_t errlen)
{
	char abs[PATH_MAX];
	struct timespec ts;
	uint64_t id, now_ns;
	int cgfd, found;

	cgfd = open_cgroup(cgroup_path, abs, sizeof(abs), &id, err, errlen);
	if (cgfd < 0)
		return cgfd;
	close(cgfd);
	found = release_links(b, id, abs, err, errlen);
	if (found < 0)
		return found;
	if (!found) {
		log_info("cgroup %s was not enforced", abs);
		return 0;
	}
	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	sweep_released(b, abs, now_ns);
	log_info("released cgroup %s (id %" PRIu64 ")", abs, id);
	return 0;
}

int mw_bpf_enforced_among(struct mw_bpf *b, const uint64_t *ids, size_t n,
			  uint64_t *hit)
{
	struct idset set = { 0 };
	int r;

	r = enforced_ids_opt(b, &set, true);
	for (size_t i = 0; r == 0 && i < set.n; i++) {
		for (size_t j = 0; j < n; j++) {
			if (set.v[i] == ids[j]) {
				*hit = ids[j];
				r = 1;
				break;
			}
		}
	}
	free(set.v);
	return r;
}

int mw_bpf_for_each_enforced(struct mw_bpf *b,
			     int (*fn)(void *arg, uint64_t cgroup_id,
				       const char *path),
			     void *arg)
{
	const char *mnt = mw_cgroup2_mount();
	struct idset ids = { 0 };
	int r;

	r = enforced_ids(b, &ids);
	for (size_t i = 0; r == 0 && i < ids.n; i++) {
		char rel[PATH_MAX], abs[PATH_MAX * 2];

		if (mnt &&
		    mw_cgroup_path_of_id(ids.v[i], rel, sizeof(rel)) == 0)
			snprintf(abs, sizeof(abs), "%s%s", mnt,
				 strcmp(rel, "/") ? rel : "");
		else
			abs[0] = '\0';
		r = fn(arg, ids.v[i], abs);
	}
	free(ids.v);
	return r;
}

int mw_bpf_is_enforced(struct mw_bpf *b, uint64_t id)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < N_LINK_KINDS; i++) {
		if (link_path(b, id, link_kinds[i].suffix, path, sizeof(path)))
			return -ENAMETOOLONG;
		if (access(path, F_OK) != 0)
			return errno == ENOENT ? 0 : -errno;
	}
	return 1;
}

/*
 * The cgroup is gone, so nothing can be looked up by its path: its links
 * go by the id they are named for. Guard entry first, as in release.
 */
int mw_bpf_release_id(struct mw_bpf *b, uint64_t id, char *err, size_t errlen)
{
	char what[48];
	int r;

	snprintf(what, sizeof(what), "cgroup id %" PRIu64, id);
	r = release_links(b, id, what, err, errlen);
	if (r < 0)
		return r;
	log_info("released cgroup id %" PRIu64 " (gone)", id);
	return 0;
}

/*
 * A removed cgroup's links turn defunct once the kernel frees it (after
 * the last socket made in it is gone), which may be long after rmdir:
 * whoever follows removals drops them here, and the guard's ids with
 * them. Returns how many were dropped, or -errno.
 */
int mw_bpf_drop_defunct(struct mw_bpf *b)
{
	struct dirent *de;
	int n = 0, r;
	DIR *d = opendir(b->links_dir);

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		uint64_t name_id, cg_id;
		int fd;

		if (parse_link_name(de->d_name, &name_id) < 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", b->links_dir,
				     de->d_name) >= sizeof(path))
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (link_cgroup_id(fd, &cg_id) == 0 && cg_id == 0) {
			log_info("cgroup %" PRIu64 " is gone, dropping %s",
				 name_id, path);
			n += unlink(path) == 0;
		}
		close(fd);
	}
	closedir(d);
	if (!n)
		return 0;
	r = sync_enforced(b, NULL, 0);
	return r ? r : n;
}
