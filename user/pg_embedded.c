// SPDX-License-Identifier: BSD-2-Clause
/*
 * The embedded PostgreSQL cluster: initdb, configuration, pg_ctl start,
 * status and stop, run as an unprivileged OS user with fork/execve.
 */
#include "pg_embedded.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdio.h"
#include "log.h"
#include "private_dir.h"

#define PG_SOCKET_NAME "/.s.PGSQL.5432"
#define PG_CONF_NAME "mcpwarden.conf"
#define PG_MAX_GROUPS 64
#define PG_OUT_MAX 8192
/* Every child's PATH, and where pg_config is looked for: not the one the
 * daemon inherited, which whoever started it chose. */
#define PG_PATH "/usr/bin:/bin"

/* The OS user that owns and runs the cluster. */
struct pg_user {
	const char *name;
	uid_t uid;
	gid_t gid;
	gid_t groups[PG_MAX_GROUPS];
	int ngroups;
	bool switch_user; /* we are root: drop to uid/gid before exec */
	char home[256];
};

/* The tail of what a child printed. */
struct pg_out {
	char buf[PG_OUT_MAX];
	size_t len;
};

static int join(char *out, size_t outlen, const char *a, const char *b)
{
	int n = snprintf(out, outlen, "%s%s", a, b);

	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int mw_pg_paths(struct mw_pg_paths *p, const char *state_dir)
{
	int rc;

	if (!state_dir || !*state_dir)
		return -EINVAL;
	rc = join(p->root, sizeof(p->root), state_dir, "/pg");
	if (!rc)
		rc = join(p->data, sizeof(p->data), p->root, "/data");
	if (!rc)
		rc = join(p->run, sizeof(p->run), p->root, "/run");
	if (!rc)
		rc = join(p->log, sizeof(p->log), p->root, "/log");
	return rc;
}

static void out_append(struct pg_out *o, const char *s, size_t n)
{
	if (n >= sizeof(o->buf) - 1) {
		s += n - (sizeof(o->buf) - 1);
		n = sizeof(o->buf) - 1;
	}
	if (o->len + n > sizeof(o->buf) - 1) {
		size_t drop = o->len + n - (sizeof(o->buf) - 1);

		memmove(o->buf, o->buf + drop, o->len - drop);
		o->len -= drop;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

/* The last nlines non-empty lines of s, joined with " | ". */
static void tail_lines(const char *s, int nlines, char *out, size_t outlen)
{
	const char *end = s + strlen(s), *p = end;
	int found = 0;

	if (!outlen)
		return;
	while (p > s && found < nlines) {
		const char *e = p;

		while (e > s && (e[-1] == '\n' || e[-1] == '\r'))
			e--;
		p = e;
		while (p > s && p[-1] != '\n')
			p--;
		if (p == e)
			break;
		found++;
	}
	out[0] = '\0';
	while (p < end && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		size_t used = strlen(out);

		if (n && n < 2048) {
			snprintf(out + used, outlen - used, "%s%.*s",
				 used ? " | " : "", (int)n, p);
		}
		p += n + (nl ? 1 : 0);
	}
}

/*
 * A file in the cluster user's directories, for reading: not through a
 * link that user put there, and a regular file (a FIFO would hang the
 * daemon). The descriptor, or -1.
 */
static int open_cluster_file(const char *path)
{
	int fd = mw_open_regular(AT_FDCWD, path, true);

	return fd < 0 ? -1 : fd;
}

static void file_tail(const char *path, struct pg_out *o)
{
	char buf[2048];
	int fd = open_cluster_file(path);
	off_t size;
	ssize_t n;

	o->len = 0;
	o->buf[0] = '\0';
	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > (off_t)sizeof(buf))
		lseek(fd, size - (off_t)sizeof(buf), SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf));
	if (n > 0)
		out_append(o, buf, (size_t)n);
	close(fd);
}

static int lookup_user(const char *name, struct pg_user *u, char *err,
		       size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int rc;

	memset(u, 0, sizeof(*u));
	if (!name || !*name) {
		mw_set_err(err, errlen, "no embedded_user configured");
		return -EINVAL;
	}
	u->name = name;
	rc = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (rc || !res) {
		mw_set_err(
			err, errlen,
			"user %s does not exist (create it: useradd --system "
			"%s)",
			name, name);
		return -ENOENT;
	}
	if (pw.pw_uid == 0) {
		mw_set_err(
			err, errlen,
			"embedded_user %s is root: PostgreSQL refuses to run "
			"as root",
			name);
		return -EPERM;
	}
	u->uid = pw.pw_uid;
	u->gid = pw.pw_gid;
	snprintf(u->home, sizeof(u->home), "%s",
		 pw.pw_dir && *pw.pw_dir ? pw.pw_dir : "/");
	if (geteuid() == 0) {
		u->switch_user = true;
		u->ngroups = PG_MAX_GROUPS;
		if (getgrouplist(name, pw.pw_gid, u->groups, &u->ngroups) < 0) {
			u->groups[0] = pw.pw_gid;
			u->ngroups = 1;
		}
	} else if (geteuid() != pw.pw_uid) {
		mw_set_err(
			err, errlen,
			"the embedded cluster belongs to %s: run as root or as "
			"%s",
			name, name);
		return -EPERM;
	}
	return 0;
}

static void child_msg(const char *a, const char *b, int e)
{
	const char *s = strerror(e);

	if (write(2, a, strlen(a)) < 0 || write(2, b, strlen(b)) < 0 ||
	    write(2, ": ", 2) < 0 || write(2, s, strlen(s)) < 0 ||
	    write(2, "\n", 1) < 0)
		return;
}

static void __attribute__((noreturn))
child_exec(const struct pg_user *u, const char *cwd, char *const argv[],
	   char *const envp[], int wfd, long maxfd)
{
	sigset_t none;
	int nul;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	nul = open("/dev/null", O_RDONLY);
	if (nul >= 0 && nul != 0)
		dup2(nul, 0);
	dup2(wfd, 1);
	dup2(wfd, 2);
	if (close_range(3, ~0U, 0) < 0) {
		for (long fd = 3; fd < maxfd; fd++)
			close((int)fd);
	}
	umask(077);
	if (u && u->switch_user) {
		if (setgroups((size_t)u->ngroups, u->groups) < 0 ||
		    setgid(u->gid) < 0 || setuid(u->uid) < 0) {
			child_msg("cannot switch to user ", u->name, errno);
			_exit(126);
		}
		if (getuid() != u->uid || geteuid() != u->uid) {
			child_msg("cannot switch to user ", u->name, EPERM);
			_exit(126);
		}
	}
	if (chdir(cwd) < 0) {
		child_msg("cannot enter ", cwd, errno);
		_exit(126);
	}
	execve(argv[0], argv, envp);
	child_msg("cannot execute ", argv[0], errno);
	_exit(127);
}

/*
 * Runs argv[0] (an absolute path) as the user (NULL: as the daemon) with
 * a clean environment, collecting the tail of its output (stdout and
 * stderr); *status is its exit status, or 128 + signal.
 */
static int run_as(const struct pg_user *u, const char *cwd, char *const argv[],
		  struct pg_out *o, int *status)
{
	char env_home[300], env_user[80], env_logname[80], env_tz[128];
	char *envp[8];
	const char *tz = getenv("TZ");
	long maxfd = sysconf(_SC_OPEN_MAX);
	int n = 0, pfd[2], wst;
	pid_t pid;

	o->len = 0;
	o->buf[0] = '\0';
	envp[n++] = "PATH=" PG_PATH;
	envp[n++] = "LC_ALL=C";
	if (u) {
		snprintf(env_home, sizeof(env_home), "HOME=%s", u->home);
		snprintf(env_user, sizeof(env_user), "USER=%s", u->name);
		snprintf(env_logname, sizeof(env_logname), "LOGNAME=%s",
			 u->name);
		envp[n++] = env_home;
		envp[n++] = env_user;
		envp[n++] = env_logname;
	}
	if (tz && strlen(tz) < sizeof(env_tz) - 4) {
		snprintf(env_tz, sizeof(env_tz), "TZ=%s", tz);
		envp[n++] = env_tz;
	}
	envp[n] = NULL;
	if (maxfd < 0 || maxfd > 65536)
		maxfd = 65536;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = -errno;

		close(pfd[0]);
		close(pfd[1]);
		return e;
	}
	if (pid == 0)
		child_exec(u, cwd, argv, envp, pfd[1], maxfd);
	close(pfd[1]);
	for (;;) {
		char buf[1024];
		ssize_t r = read(pfd[0], buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		out_append(o, buf, (size_t)r);
	}
	close(pfd[0]);
	while (waitpid(pid, &wst, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (WIFEXITED(wst))
		*status = WEXITSTATUS(wst);
	else if (WIFSIGNALED(wst))
		*status = 128 + WTERMSIG(wst);
	else
		*status = 255;
	return 0;
}

static bool is_exec(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		return false;
	return access(path, X_OK) == 0;
}

static bool is_server_bindir(const char *dir)
{
	return is_exec(dir, "initdb") && is_exec(dir, "pg_ctl") &&
	       is_exec(dir, "postgres");
}

/*
 * `pg_config --bindir`, found on PG_PATH and run as any child is (clean
 * environment, no descriptors of ours): it runs as root, and what it
 * prints chooses the binaries the cluster runs. 0 or -errno.
 */
static int pg_config_bindir(char *out, size_t outlen)
{
	char path[PATH_MAX], *argv[] = { path, "--bindir", NULL };
	const char *dir = PG_PATH, *end;
	struct pg_out *o;
	size_t len;
	int rc, st;

	for (;; dir = end + 1) {
		end = strchrnul(dir, ':');
		if (snprintf(path, sizeof(path), "%.*s/pg_config",
			     (int)(end - dir), dir) < (int)sizeof(path) &&
		    access(path, X_OK) == 0)
			break;
		if (!*end)
			return -ENOENT;
	}
	o = malloc(sizeof(*o));
	if (!o)
		return -ENOMEM;
	rc = run_as(NULL, "/", argv, o, &st);
	if (!rc && st)
		rc = -ENOENT;
	len = o->len;
	while (len && (o->buf[len - 1] == '\n' || o->buf[len - 1] == '\r'))
		o->buf[--len] = '\0';
	/* one line, the directory: anything else (a warning on stderr) is
	 * not taken for it */
	if (!rc && (!len || memchr(o->buf, '\n', len)))
		rc = -ENOENT;
	if (!rc && snprintf(out, outlen, "%s", o->buf) >= (int)outlen)
		rc = -ENAMETOOLONG;
	free(o);
	return rc;
}

int mw_pg_bindir(const char *data_dir, char *out, size_t outlen)
{
	char path[PATH_MAX], buf[PATH_MAX];
	long best = -1;
	DIR *d;

	/* An existing cluster needs the binaries of its own major version. */
	if (data_dir && snprintf(path, sizeof(path), "%s/PG_VERSION",
				 data_dir) < (int)sizeof(path)) {
		int fd = open_cluster_file(path);
		char ver[32] = "";
		ssize_t n = fd >= 0 ? read(fd, ver, sizeof(ver) - 1) : -1;

		if (fd >= 0)
			close(fd);
		ver[n > 0 ? n : 0] = '\0';
		ver[strcspn(ver, "\r\n")] = '\0';
		if (*ver && !strchr(ver, '/') &&
		    snprintf(buf, sizeof(buf), "/usr/lib/postgresql/%s/bin",
			     ver) < (int)sizeof(buf) &&
		    is_server_bindir(buf)) {
			if (snprintf(out, outlen, "%s", buf) >= (int)outlen)
				return -ENAMETOOLONG;
			return 0;
		}
	}
	if (!pg_config_bindir(buf, sizeof(buf)) && is_server_bindir(buf)) {
		if (snprintf(out, outlen, "%s", buf) >= (int)outlen)
			return -ENAMETOOLONG;
		return 0;
	}
	d = opendir("/usr/lib/postgresql");
	if (!d)
		return -ENOENT;
	for (struct dirent *de; (de = readdir(d));) {
		char *end;
		long v = strtol(de->d_name, &end, 10);

		if (end == de->d_name || *end || v <= best)
			continue;
		snprintf(path, sizeof(path), "/usr/lib/postgresql/%s/bin",
			 de->d_name);
		if (is_server_bindir(path)) {
			best = v;
			snprintf(buf, sizeof(buf), "%s", path);
		}
	}
	closedir(d);
	if (best < 0)
		return -ENOENT;
	if (snprintf(out, outlen, "%s", buf) >= (int)outlen)
		return -ENAMETOOLONG;
	return 0;
}

static bool user_in_group(const struct pg_user *u, gid_t gid)
{
	for (int i = 0; i < u->ngroups; i++) {
		if (u->groups[i] == gid)
			return true;
	}
	return u->gid == gid;
}

/*
 * mkdir (one level) owned by the user, mode 0700. Its parent, state_dir/pg,
 * is the cluster user's: whoever runs as that user could have put a link
 * in its place, so the directory is changed through a descriptor opened
 * without following one.
 */
static int make_owned_dir(const char *path, const struct pg_user *u, char *err,
			  size_t errlen)
{
	int fd, e;

	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		e = errno;
		mw_set_err(err, errlen, "cannot create %s: %s", path,
			   strerror(e));
		return -e;
	}
	fd = mw_dir_open_nofollow(path, err, errlen);
	if (fd < 0)
		return fd;
	if (u->switch_user && fchown(fd, u->uid, u->gid) < 0) {
		e = errno;
		mw_set_err(err, errlen, "cannot chown %s to %s: %s", path,
			   u->name, strerror(e));
		close(fd);
		return -e;
	}
	if (fchmod(fd, 0700) < 0) {
		e = errno;
		mw_set_err(err, errlen, "cannot chmod %s: %s", path,
			   strerror(e));
		close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

/* Whether the cluster's user may pass through a directory: the owner's
 * bits, else the group's, else the others', as the kernel asks. */
static bool passable(const struct stat *st, const struct pg_user *u)
{
	if (st->st_uid == u->uid)
		return st->st_mode & S_IXUSR;
	if (user_in_group(u, st->st_gid))
		return st->st_mode & S_IXGRP;
	return st->st_mode & S_IXOTH;
}

/*
 * The directories above state_dir are the operator's: one the cluster's
 * user cannot pass through (a mktemp -d, 0700) makes initdb fail with
 * "cannot enter". Said first, with the directory to open; only a warning,
 * since an ACL this does not read may let it through.
 */
static void warn_if_not_passable(const char *state_dir, const struct pg_user *u)
{
	char path[PATH_MAX];
	struct stat st;
	char *slash;

	if (!u->switch_user ||
	    snprintf(path, sizeof(path), "%s", state_dir) >= (int)sizeof(path))
		return;
	while ((slash = strrchr(path, '/')) && slash != path) {
		*slash = '\0';
		if (stat(path, &st))
			return;
		if (passable(&st, u))
			continue;
		log_warn("audit: the embedded cluster's user %s cannot pass "
			 "through %s (mode %04o), above state_dir: initdb and "
			 "the server will fail; give it o+x, or put state_dir "
			 "elsewhere",
			 u->name, path, (unsigned)(st.st_mode & 07777));
		return;
	}
}

static int ensure_dirs(const char *state_dir, const struct mw_pg_paths *p,
		       const struct pg_user *u, char *err, size_t errlen)
{
	struct stat st;
	int rc;

	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
		int e = errno;

		mw_set_err(err, errlen, "cannot create state_dir %s: %s",
			   state_dir, strerror(e));
		return -e;
	}
	if (stat(state_dir, &st) < 0) {
		int e = errno;

		mw_set_err(err, errlen, "state_dir %s: %s", state_dir,
			   strerror(e));
		return -e;
	}
	/*
	 * The cluster's user must be able to pass through state_dir (search
	 * only: it still cannot list it).
	 */
	if (u->switch_user && !passable(&st, u)) {
		if (chmod(state_dir, (st.st_mode & 07777) | S_IXOTH) < 0) {
			int e = errno;

			mw_set_err(err, errlen, "cannot chmod o+x %s: %s",
				   state_dir, strerror(e));
			return -e;
		}
		log_info("audit: state_dir %s made searchable (o+x) for %s",
			 state_dir, u->name);
	}
	warn_if_not_passable(state_dir, u);
	rc = make_owned_dir(p->root, u, err, errlen);
	if (!rc)
		rc = make_owned_dir(p->run, u, err, errlen);
	return rc;
}

/* A postgresql.conf string literal. */
static int conf_quote(char *out, size_t outlen, const char *s)
{
	size_t j = 0;

	if (outlen < 3)
		return -ENOSPC;
	out[j++] = '\'';
	for (; *s; s++) {
		if (*s == '\n' || *s == '\r')
			return -EINVAL;
		if (j + 4 >= outlen)
			return -ENOSPC;
		if (*s == '\'' || *s == '\\')
			out[j++] = *s;
		out[j++] = *s;
	}
	out[j++] = '\'';
	out[j] = '\0';
	return 0;
}

/*
 * DATA/mcpwarden.conf, rewritten at every start (so a moved state_dir
 * follows), included at the end of postgresql.conf.
 */
static int write_conf(const struct mw_pg_paths *p, const struct pg_user *u,
		      char *err, size_t errlen)
{
	static const char include_line[] =
		"\n# mcpwarden: its settings, rewritten at every start\n"
		"include_if_exists = '" PG_CONF_NAME "'\n";
	static const char tmp[] = PG_CONF_NAME ".tmp";
	char qrun[PATH_MAX * 2 + 3], body[sizeof(qrun) + 512];
	char *main_conf = NULL;
	size_t main_len = 0;
	int dfd, fd = -1, rc, n;
	struct stat st;
	FILE *f = NULL;

	if (conf_quote(qrun, sizeof(qrun), p->run)) {
		mw_set_err(err, errlen, "unusable socket directory path %s",
			   p->run);
		return -EINVAL;
	}
	n = snprintf(body, sizeof(body),
		     "# Written by mcpwarden at every start of the embedded "
		     "cluster.\n"
		     "listen_addresses = ''\n"
		     "unix_socket_directories = %s\n"
		     "unix_socket_permissions = 0700\n"
		     "fsync = on\n",
		     qrun);
	if (n < 0 || (size_t)n >= sizeof(body))
		return -ENAMETOOLONG;
	/*
	 * The data directory is the cluster user's: a link there, or a
	 * file linked to another, would have root write where that user
	 * chose. Everything goes through the directory opened without
	 * following a link, and no link is followed inside it.
	 */
	dfd = mw_dir_open_nofollow(p->data, err, errlen);
	if (dfd < 0)
		return dfd;
	if (unlinkat(dfd, tmp, 0) < 0 && errno != ENOENT) {
		rc = -errno;
		goto fail;
	}
	fd = openat(dfd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = mw_write_all(fd, body, (size_t)n);
	if (!rc && u->switch_user && fchown(fd, u->uid, u->gid) < 0)
		rc = -errno;
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	fd = -1;
	if (!rc && renameat(dfd, tmp, dfd, PG_CONF_NAME) < 0)
		rc = -errno;
	if (rc) {
		unlinkat(dfd, tmp, 0);
		goto fail;
	}

	/* Make sure postgresql.conf includes it: initdb's, one name. */
	fd = openat(dfd, "postgresql.conf",
		    O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		goto fail_main;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    (st.st_uid != u->uid && st.st_uid != 0)) {
		rc = -EPERM;
		goto fail_main;
	}
	f = fdopen(fd, "r");
	if (!f) {
		rc = -errno;
		goto fail_main;
	}
	fd = -1;
	for (char chunk[4096];;) {
		size_t r = fread(chunk, 1, sizeof(chunk), f);
		char *nb;

		if (!r)
			break;
		nb = realloc(main_conf, main_len + r + 1);
		if (!nb) {
			rc = -ENOMEM;
			goto fail_main;
		}
		main_conf = nb;
		memcpy(main_conf + main_len, chunk, r);
		main_len += r;
		main_conf[main_len] = '\0';
	}
	if (ferror(f)) {
		rc = -EIO;
		goto fail_main;
	}
	rc = 0;
	if (!main_conf ||
	    !strstr(main_conf, "include_if_exists = '" PG_CONF_NAME "'")) {
		rc = mw_write_all(fileno(f), include_line,
				  sizeof(include_line) - 1);
		if (!rc && fsync(fileno(f)) < 0)
			rc = -errno;
		if (rc)
			goto fail_main;
	}
	goto out;
fail_main:
	mw_set_err(err, errlen, "cannot include %s in %s/postgresql.conf: %s",
		   PG_CONF_NAME, p->data,
		   rc == -EPERM ? "not a file of the cluster's own"
				: strerror(-rc));
	goto out;
fail:
	mw_set_err(err, errlen, "cannot write %s/%s: %s", p->data, PG_CONF_NAME,
		   strerror(-rc));
out:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	free(main_conf);
	close(dfd);
	return rc;
}

static int fail_with_output(const char *what, int status,
			    const struct pg_out *o, char *err, size_t errlen)
{
	char tail[512];

	tail_lines(o->buf, 3, tail, sizeof(tail));
	log_err("audit: %s failed (exit %d):\n%s", what, status, o->buf);
	mw_set_err(err, errlen, "%s failed (exit %d): %s", what, status,
		   *tail ? tail : "no output");
	return -EIO;
}

struct pg_ctx {
	struct mw_pg_paths p;
	struct pg_user u;
	char bindir[PATH_MAX];
	char pg_ctl[PATH_MAX];
};

static int ctx_init(struct pg_ctx *c, const char *state_dir, const char *user,
		    char *err, size_t errlen)
{
	int rc = mw_pg_paths(&c->p, state_dir);

	if (rc) {
		mw_set_err(err, errlen, "state_dir %s: %s",
			   state_dir ? state_dir : "(none)", strerror(-rc));
		return rc;
	}
	if (strlen(c->p.run) + sizeof(PG_SOCKET_NAME ".lock") >
	    sizeof(((struct sockaddr_un *)0)->sun_path)) {
		mw_set_err(err, errlen,
			   "state_dir %s is too long for a Unix socket path",
			   state_dir);
		return -ENAMETOOLONG;
	}
	rc = lookup_user(user, &c->u, err, errlen);
	if (rc)
		return rc;
	rc = mw_pg_bindir(c->p.data, c->bindir, sizeof(c->bindir));
	if (rc) {
		mw_set_err(err, errlen,
			   "PostgreSQL server binaries not found (pg_config "
			   "--bindir, /usr/lib/postgresql/*/bin): install "
			   "postgresql");
		return rc;
	}
	return join(c->pg_ctl, sizeof(c->pg_ctl), c->bindir, "/pg_ctl");
}

static bool initialised(const struct mw_pg_paths *p)
{
	char path[PATH_MAX];

	return !join(path, sizeof(path), p->data, "/PG_VERSION") &&
	       access(path, F_OK) == 0;
}

static int status_ctx(struct pg_ctx *c, char *err, size_t errlen)
{
	char *argv[] = { c->pg_ctl, "-D", c->p.data, "status", NULL };
	struct pg_out o;
	int rc, st;

	if (!initialised(&c->p))
		return 0;
	rc = run_as(&c->u, c->p.root, argv, &o, &st);
	if (rc) {
		mw_set_err(err, errlen, "cannot run %s: %s", c->pg_ctl,
			   strerror(-rc));
		return rc;
	}
	if (st == 0)
		return 1;
	if (st == 3)
		return 0;
	return fail_with_output("pg_ctl status", st, &o, err, errlen);
}

int mw_pg_embedded_status(const char *state_dir, const char *user, char *err,
			  size_t errlen)
{
	struct pg_ctx *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	rc = ctx_init(c, state_dir, user, err, errlen);
	if (!rc)
		rc = status_ctx(c, err, errlen);
	free(c);
	return rc;
}

static int run_initdb(struct pg_ctx *c, char *err, size_t errlen)
{
	char initdb[PATH_MAX];
	/*
	 * Trust on the Unix socket alone, which only root and the cluster's
	 * user may reach (0700); the host lines refuse, so a TCP port
	 * opened all the same lets nobody in. A data directory made before
	 * keeps its pg_hba.conf.
	 */
	char *argv[] = { initdb,
			 "--auth-local=trust",
			 "--auth-host=reject",
			 "--username=" MW_PG_SUPERUSER,
			 "--encoding=UTF8",
			 "--locale=C",
			 "-D",
			 c->p.data,
			 NULL };
	struct pg_out *o = malloc(sizeof(*o));
	int rc, st;

	if (!o)
		return -ENOMEM;
	if (join(initdb, sizeof(initdb), c->bindir, "/initdb")) {
		free(o);
		return -ENAMETOOLONG;
	}
	log_info("audit: creating the embedded PostgreSQL cluster in %s",
		 c->p.data);
	rc = run_as(&c->u, c->p.root, argv, o, &st);
	if (rc) {
		mw_set_err(err, errlen, "cannot run %s: %s", initdb,
			   strerror(-rc));
	} else if (st != 0) {
		rc = fail_with_output("initdb", st, o, err, errlen);
	}
	free(o);
	return rc;
}

static int ensure_database(const struct mw_pg_paths *p, char *err,
			   size_t errlen)
{
	const char *const keys[] = { "host", "dbname", "user",
				     "connect_timeout", NULL };
	const char *const vals[] = { p->run, "postgres", MW_PG_SUPERUSER, "30",
				     NULL };
	PGconn *conn = PQconnectdbParams(keys, vals, 0);
	PGresult *r;
	int rc = 0;

	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		mw_set_err(err, errlen,
			   "cannot connect to the embedded cluster: %s",
			   conn ? PQerrorMessage(conn) : "out of memory");
		PQfinish(conn);
		return -ECONNREFUSED;
	}
	r = PQexec(conn,
		   "SELECT 1 FROM pg_database WHERE datname = '" MW_PG_DBNAME
		   "'");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		mw_set_err(err, errlen, "cannot list databases: %s",
			   PQresultErrorMessage(r));
		rc = -EIO;
	} else if (PQntuples(r) == 0) {
		PQclear(r);
		r = PQexec(conn, "CREATE DATABASE " MW_PG_DBNAME);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			const char *state =
				PQresultErrorField(r, PG_DIAG_SQLSTATE);

			/* 42P04: created meanwhile by someone else. */
			if (!state || strcmp(state, "42P04")) {
				mw_set_err(err, errlen,
					   "cannot create database %s: %s",
					   MW_PG_DBNAME,
					   PQresultErrorMessage(r));
				rc = -EIO;
			}
		} else {
			log_info("audit: created database %s", MW_PG_DBNAME);
		}
	}
	PQclear(r);
	PQfinish(conn);
	return rc;
}

int mw_pg_embedded_start(const char *state_dir, const char *user, bool *started,
			 char *err, size_t errlen)
{
	struct pg_ctx *c = calloc(1, sizeof(*c));
	struct pg_out *o = malloc(sizeof(*o));
	int rc, st;

	if (started)
		*started = false;
	if (!c || !o) {
		free(c);
		free(o);
		return -ENOMEM;
	}
	rc = ctx_init(c, state_dir, user, err, errlen);
	if (rc)
		goto out;
	rc = ensure_dirs(state_dir, &c->p, &c->u, err, errlen);
	if (rc)
		goto out;
	if (!initialised(&c->p)) {
		rc = run_initdb(c, err, errlen);
		if (rc)
			goto out;
		/* initdb's major version decides the binaries from now on. */
		rc = ctx_init(c, state_dir, user, err, errlen);
		if (rc)
			goto out;
	}
	rc = write_conf(&c->p, &c->u, err, errlen);
	if (rc)
		goto out;
	rc = status_ctx(c, err, errlen);
	if (rc < 0)
		goto out;
	if (rc == 1) {
		log_info("audit: reusing the running embedded cluster in %s",
			 c->p.data);
	} else {
		/*
		 * No TCP port, on the command line: it outranks the files,
		 * an ALTER SYSTEM's and a postgresql.conf whose include of
		 * mcpwarden.conf was commented out. pg_ctl hands -o to
		 * /bin/sh: the quotes make the value empty.
		 */
		char *argv[] = { c->pg_ctl, "-w",
				 "-t",	    "120",
				 "-D",	    c->p.data,
				 "-l",	    c->p.log,
				 "-o",	    "-c listen_addresses=''",
				 "start",   NULL };

		rc = run_as(&c->u, c->p.root, argv, o, &st);
		if (rc) {
			mw_set_err(err, errlen, "cannot run %s: %s", c->pg_ctl,
				   strerror(-rc));
			goto out;
		}
		if (st != 0) {
			struct pg_out *lt = malloc(sizeof(*lt));
			char tail[512] = "";

			if (lt) {
				file_tail(c->p.log, lt);
				tail_lines(lt->buf, 3, tail, sizeof(tail));
				log_err("audit: server log %s:\n%s", c->p.log,
					lt->buf);
				free(lt);
			}
			rc = fail_with_output("pg_ctl start", st, o, err,
					      errlen);
			if (*tail) {
				size_t used = strlen(err);

				snprintf(err + used, errlen - used,
					 "; log %s: %s", c->p.log, tail);
			}
			goto out;
		}
		if (started)
			*started = true;
		log_info("audit: started the embedded cluster in %s",
			 c->p.data);
	}
	rc = ensure_database(&c->p, err, errlen);
out:
	free(o);
	free(c);
	return rc;
}

int mw_pg_embedded_stop(const char *state_dir, const char *user, char *err,
			size_t errlen)
{
	struct pg_ctx *c = calloc(1, sizeof(*c));
	struct pg_out *o = malloc(sizeof(*o));
	int rc, st;

	if (!c || !o) {
		free(c);
		free(o);
		return -ENOMEM;
	}
	rc = ctx_init(c, state_dir, user, err, errlen);
	if (rc)
		goto out;
	rc = status_ctx(c, err, errlen);
	if (rc <= 0)
		goto out;
	{
		char *argv[] = { c->pg_ctl, "-w", "-t",	  "120",  "-D",
				 c->p.data, "-m", "fast", "stop", NULL };

		rc = run_as(&c->u, c->p.root, argv, o, &st);
		if (rc) {
			mw_set_err(err, errlen, "cannot run %s: %s", c->pg_ctl,
				   strerror(-rc));
			goto out;
		}
		if (st != 0) {
			rc = fail_with_output("pg_ctl stop", st, o, err,
					      errlen);
			goto out;
		}
		log_info("audit: stopped the embedded cluster in %s",
			 c->p.data);
	}
out:
	free(o);
	free(c);
	return rc;
}

int mw_pg_embedded_conninfo(const char *state_dir, char *out, size_t outlen)
{
	struct mw_pg_paths p;
	char host[PATH_MAX * 2 + 3];
	size_t j = 0;
	bool quote = false;
	int n;

	if (mw_pg_paths(&p, state_dir))
		return -EINVAL;
	for (const char *s = p.run; *s; s++) {
		if (*s == ' ' || *s == '\'' || *s == '\\' || *s == '\t' ||
		    *s == '\n' || *s == '=')
			quote = true;
	}
	if (quote)
		host[j++] = '\'';
	for (const char *s = p.run; *s; s++) {
		if (quote && (*s == '\'' || *s == '\\'))
			host[j++] = '\\';
		host[j++] = *s;
	}
	if (quote)
		host[j++] = '\'';
	host[j] = '\0';
	n = snprintf(out, outlen, "host=%s dbname=%s user=%s", host,
		     MW_PG_DBNAME, MW_PG_SUPERUSER);
	return n < 0 || (size_t)n >= outlen ? -ENOSPC : 0;
}
