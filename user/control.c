// SPDX-License-Identifier: BSD-2-Clause
#include "control.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "fdio.h"
#include "log.h"

struct mw_control {
	struct mw_io io;
	struct mw_loop *loop;
	mw_control_handler handler;
	void *arg;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

json_t *mw_control_error(const char *fmt, ...)
{
	char msg[512], *safe;
	json_t *r;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* it may quote a name another user chose: shown as the log shows it */
	safe = mw_defang_dup(msg);
	r = safe ? json_pack("{s:b,s:s}", "ok", 0, "error", safe) : NULL;
	free(safe);
	return r;
}

/*
 * Reads one line within timeout_ms in all, however the bytes trickle in;
 * returns its length or -1.
 */
static ssize_t read_line(int fd, char *buf, size_t cap, int timeout_ms)
{
	int64_t deadline = mw_now_ms() + timeout_ms;
	size_t len = 0;

	while (len < cap - 1) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - mw_now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return -1;
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (memchr(buf + len - (size_t)n, '\n', (size_t)n))
			return (ssize_t)len;
	}
	return -1;
}

/*
 * SO_PEERPIDFD (Linux 6.5) pins the caller: Debian 12's headers predate
 * it. On an older kernel the pid is read as it is, which a caller that
 * exits at once could have handed to another process by then.
 */
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

/* The caller's pidfd; -1 on a kernel without it, -2 when it failed. */
static int peer_pidfd(int fd)
{
	int pidfd = -1;
	socklen_t len = sizeof(pidfd);

	if (!getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len))
		return pidfd;
	/* 6.5 to 6.15 say EINVAL for a caller that has exited */
	return errno == ENOPROTOOPT ? -1 : -2;
}

/*
 * The line of /proc/PID/NAME that starts with prefix, without it and its
 * newline; "" otherwise. The file is read whole (a cgroup v1 line may be
 * longer than any line buffer), and only line starts are matched.
 */
static void read_proc_line(pid_t pid, const char *name, const char *prefix,
			   char *out, size_t outlen)
{
	char path[64], *text = NULL;
	size_t pl = strlen(prefix), cap = 0;
	ssize_t n;
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	f = fopen(path, "re");
	if (!f)
		return;
	/* getdelim holds a line whole however long: NUL never appears */
	while ((n = getdelim(&text, &cap, '\n', f)) > 0) {
		size_t len = (size_t)n;

		if (text[len - 1] != '\n' || strncmp(text, prefix, pl))
			continue;
		len -= pl + 1;
		if (len >= outlen || memchr(text + pl, '\0', len))
			break;
		memcpy(out, text + pl, len);
		out[len] = '\0';
		break;
	}
	free(text);
	fclose(f);
}

void mw_control_read_proc(pid_t pid, struct mw_control_caller *who)
{
	read_proc_line(pid, "comm", "", who->comm, sizeof(who->comm));
	read_proc_line(pid, "cgroup", "0::", who->cgroup, sizeof(who->cgroup));
}

void mw_control_signal_sender(pid_t pid, uid_t uid,
			      struct mw_control_caller *who)
{
	char gids[64];

	memset(who, 0, sizeof(*who));
	who->pid = pid;
	who->uid = uid;
	who->gid = (gid_t)-1;
	read_proc_line(pid, "status", "Gid:\t", gids, sizeof(gids));
	if (gids[0])
		who->gid = (gid_t)strtoul(gids, NULL, 10);
	mw_control_read_proc(pid, who);
}

/* comm and cgroup of the caller, or "" when they cannot be vouched for */
static void learn_caller(int fd, struct mw_control_caller *who)
{
	int pidfd = peer_pidfd(fd);

	if (pidfd == -2)
		return;
	mw_control_read_proc(who->pid, who);
	if (pidfd < 0)
		return;
	/* still alive, so the pid was still its own while /proc was read */
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0)) {
		who->comm[0] = '\0';
		who->cgroup[0] = '\0';
	}
	close(pidfd);
}

/*
 * Writes the answer and its line feed within timeout_ms in all, however
 * slowly the caller reads (a per-write timeout let one that reads a byte
 * now and then hold the loop for as long as it liked). fd is
 * non-blocking. 0, or -1 when the caller was too slow or went away.
 */
static int write_line(int fd, const char *text, size_t len, int timeout_ms)
{
	int64_t deadline = mw_now_ms() + timeout_ms;
	size_t done = 0;

	while (done <= len) {
		const char *p = done < len ? text + done : "\n";
		size_t want = done < len ? len - done : 1;
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int64_t left = deadline - mw_now_ms();
		ssize_t n = write(fd, p, want);

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if ((n < 0 && errno != EAGAIN) || left <= 0 ||
		    poll(&pfd, 1, (int)left) <= 0)
			return -1;
	}
	return 0;
}

static void serve_one(struct mw_control *c, int fd)
{
	char *buf = malloc(MW_CONTROL_MAX_LINE);
	struct mw_control_caller who = { 0 };
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	json_t *req = NULL, *resp = NULL;
	json_error_t jerr;
	const char *cmd;
	char *text = NULL;
	ssize_t n;

	if (!buf)
		goto out;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl))
		goto out;
	/* Only root and the daemon's own user steer enforcement. */
	if (cred.uid != 0 && cred.uid != geteuid()) {
		log_warn("control: refused uid %u (pid %d)", cred.uid,
			 cred.pid);
		resp = mw_control_error("permission denied");
		goto reply;
	}
	n = read_line(fd, buf, MW_CONTROL_MAX_LINE, 2000);
	if (n < 0) {
		resp = mw_control_error("no request line within 2 s");
		goto reply;
	}
	req = json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
	if (!req || !json_is_object(req) ||
	    !(cmd = json_string_value(json_object_get(req, "cmd")))) {
		resp = mw_control_error("malformed request");
		goto reply;
	}
	who.pid = cred.pid;
	who.uid = cred.uid;
	who.gid = cred.gid;
	learn_caller(fd, &who);
	log_info("control: '%s' from uid %u pid %d", cmd, cred.uid, cred.pid);
	resp = c->handler(c->arg, cmd, req, &who);
reply:
	if (!resp)
		resp = mw_control_error("internal error");
	text = json_dumps(resp, JSON_COMPACT);
	/* the loop waits for this caller: 2 s to read, 2 s to be answered */
	if (text && write_line(fd, text, strlen(text), 2000))
		log_warn("control: pid %d did not take its answer within 2 s",
			 cred.pid);
out:
	free(text);
	json_decref(req);
	json_decref(resp);
	free(buf);
	close(fd);
}

static void on_control(struct mw_io *io, uint32_t events)
{
	struct mw_control *c = (struct mw_control *)io;
	int fd;

	(void)events;
	fd = accept4(io->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd >= 0)
		serve_one(c, fd);
}

int mw_control_open(struct mw_control **out, struct mw_loop *loop,
		    const char *path, mw_control_handler handler, void *arg,
		    char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct mw_control *c;
	mode_t old;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control socket path too long: %s", path);
		return -1;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	snprintf(c->path, sizeof(c->path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	unlink(path);
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		umask(old);
		goto fail;
	}
	umask(old);
	if (listen(fd, 16))
		goto fail;
	c->io.fd = fd;
	c->io.cb = on_control;
	c->loop = loop;
	c->handler = handler;
	c->arg = arg;
	if (mw_loop_add(loop, &c->io, EPOLLIN))
		goto fail;
	*out = c;
	return 0;
fail:
	snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(c);
	return -1;
}

void mw_control_close(struct mw_control *c)
{
	if (!c)
		return;
	mw_loop_del(c->loop, &c->io);
	close(c->io.fd);
	unlink(c->path);
	free(c);
}

int mw_control_call(const char *path, json_t *req, int timeout_ms,
		    json_t **resp, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *text = NULL, *buf = NULL;
	json_error_t jerr;
	int fd = -1, rc = -1, sent;
	ssize_t n;

	*resp = NULL;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control socket path too long");
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(err, errlen,
			 "cannot reach the daemon at %s: %s (is mcpwardend "
			 "running with this configuration?)",
			 path, strerror(errno));
		goto out;
	}
	text = json_dumps(req, JSON_COMPACT);
	buf = malloc(MW_CONTROL_MAX_ANSWER);
	if (!text || !buf) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	sent = mw_write_all(fd, text, strlen(text));
	if (!sent)
		sent = mw_write_all(fd, "\n", 1);
	if (sent) {
		snprintf(err, errlen, "cannot send to the daemon: %s",
			 strerror(-sent));
		goto out;
	}
	n = read_line(fd, buf, MW_CONTROL_MAX_ANSWER, timeout_ms);
	if (n < 0) {
		snprintf(err, errlen, "no answer from the daemon");
		goto out;
	}
	*resp = json_loadb(buf, (size_t)n, 0, &jerr);
	if (!*resp) {
		snprintf(err, errlen, "unreadable answer from the daemon: %s",
			 jerr.text);
		goto out;
	}
	rc = 0;
out:
	free(text);
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}
