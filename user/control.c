// SPDX-License-Identifier: BSD-2-Clause
#include "control.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
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

struct ctl_client;

struct mw_control {
	struct mw_io io;
	struct mw_loop *loop;
	struct mw_tick tick; /* deadlines; the listener back after a pause */
	mw_control_handler handler;
	void *arg;
	struct ctl_client *clients;
	size_t nclients; /* at most MW_CONTROL_MAX_CLIENTS */
	bool paused; /* out of descriptors: out of the loop until a tick */
	int64_t paused_logged_ms;
	struct mw_log_limit busy_log; /* callers refused at the limit */
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
 * A caller's connection. The loop never waits for one: each state has a
 * budget in all (deadline_ms, checked by on_tick), however the bytes
 * trickle, so that a caller that sends nothing, half a line or reads its
 * answer a byte at a time costs a descriptor and a buffer, not the
 * traffic of every proxied connection.
 */
enum ctl_state {
	CTL_READING, /* the request line, handled only once whole */
	CTL_HANDLING, /* the command runs to its end, within this turn */
	CTL_WRITING, /* the answer and its line feed */
};

struct ctl_client {
	struct mw_io io;
	struct mw_control *c;
	struct ctl_client *prev, *next;
	enum ctl_state state;
	int64_t deadline_ms;
	struct ucred cred;
	char *line; /* MW_CONTROL_MAX_LINE bytes while reading */
	size_t len;
	char *answer; /* JSON text and '\n', not NUL-terminated */
	size_t answer_len, sent;
};

static void client_free(struct ctl_client *cl)
{
	struct mw_control *c = cl->c;

	mw_loop_del(c->loop, &cl->io);
	close(cl->io.fd);
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		c->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	c->nclients--;
	free(cl->line);
	free(cl->answer);
	free(cl);
}

/* Sends what the socket takes; frees cl once all is sent or it failed. */
static void client_write(struct ctl_client *cl)
{
	while (cl->sent < cl->answer_len) {
		ssize_t n = send(cl->io.fd, cl->answer + cl->sent,
				 cl->answer_len - cl->sent, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return; /* EPOLLOUT, or on_tick at the deadline */
		if (n <= 0) {
			/* one gone is logged as one too slow, as it was */
			log_warn("control: pid %d did not take its answer "
				 "within 2 s",
				 cl->cred.pid);
			break;
		}
		cl->sent += (size_t)n;
	}
	client_free(cl);
}

/* Takes resp (NULL: "internal error") and starts sending it. */
static void client_answer(struct ctl_client *cl, json_t *resp)
{
	char *text;
	size_t len;

	if (!resp)
		resp = mw_control_error("internal error");
	text = json_dumps(resp, JSON_COMPACT);
	json_decref(resp);
	if (!text)
		goto fail;
	/* its NUL's place takes the line feed */
	len = strlen(text);
	text[len] = '\n';
	cl->answer = text;
	cl->answer_len = len + 1;
	/* the request is done with: what it still sends is not read */
	free(cl->line);
	cl->line = NULL;
	cl->state = CTL_WRITING;
	cl->deadline_ms = mw_now_ms() + MW_CONTROL_WRITE_MS;
	if (mw_loop_mod(cl->c->loop, &cl->io, EPOLLOUT))
		goto fail;
	client_write(cl);
	return;
fail:
	client_free(cl);
}

/* What a caller is told when no whole line came, for whatever reason. */
static void client_no_line(struct ctl_client *cl)
{
	client_answer(cl, mw_control_error("no request line within 2 s"));
}

/* The request line, n bytes with its '\n', is whole: run it. */
static void client_handle(struct ctl_client *cl, size_t n)
{
	struct mw_control *c = cl->c;
	struct mw_control_caller who = { 0 };
	json_error_t jerr;
	const char *cmd;
	json_t *req, *resp;

	cl->state = CTL_HANDLING;
	/* only the line: bytes after it are no part of the request */
	req = json_loadb(cl->line, n, JSON_REJECT_DUPLICATES, &jerr);
	if (!req || !json_is_object(req) ||
	    !(cmd = json_string_value(json_object_get(req, "cmd")))) {
		json_decref(req);
		client_answer(cl, mw_control_error("malformed request"));
		return;
	}
	who.pid = cl->cred.pid;
	who.uid = cl->cred.uid;
	who.gid = cl->cred.gid;
	learn_caller(cl->io.fd, &who);
	log_info("control: '%s' from uid %u pid %d", cmd, cl->cred.uid,
		 cl->cred.pid);
	resp = c->handler(c->arg, cmd, req, &who);
	json_decref(req);
	client_answer(cl, resp);
}

/*
 * Takes what has come of the request line, at most MW_CONTROL_MAX_LINE
 * in all. A caller that closes, fails or fills the buffer without a line
 * feed is told, as one whose time ran out is.
 */
static void client_read(struct ctl_client *cl)
{
	while (cl->len < MW_CONTROL_MAX_LINE) {
		ssize_t n = read(cl->io.fd, cl->line + cl->len,
				 MW_CONTROL_MAX_LINE - cl->len);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			break;
		nl = memchr(cl->line + cl->len, '\n', (size_t)n);
		cl->len += (size_t)n;
		if (nl) {
			client_handle(cl, (size_t)(nl - cl->line) + 1);
			return;
		}
	}
	client_no_line(cl);
}

static void on_client(struct mw_io *io, uint32_t events)
{
	struct ctl_client *cl = container_of(io, struct ctl_client, io);

	(void)events; /* an error or hang-up shows in read or send */
	switch (cl->state) {
	case CTL_READING:
		client_read(cl);
		break;
	case CTL_WRITING:
		client_write(cl);
		break;
	case CTL_HANDLING:
		break; /* begins and ends within one callback */
	}
}

static void client_start(struct mw_control *c, int fd)
{
	struct ctl_client *cl = calloc(1, sizeof(*cl));
	socklen_t cl_len = sizeof(cl->cred);
	bool allowed;

	if (!cl) {
		close(fd);
		return;
	}
	cl->c = c;
	cl->io.fd = fd;
	cl->io.cb = on_client;
	cl->state = CTL_READING;
	cl->deadline_ms = mw_now_ms() + MW_CONTROL_READ_MS;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cl->cred, &cl_len))
		goto fail;
	/* Only root and the daemon's own user steer enforcement. */
	allowed = cl->cred.uid == 0 || cl->cred.uid == geteuid();
	if (allowed && !(cl->line = malloc(MW_CONTROL_MAX_LINE)))
		goto fail;
	if (mw_loop_add(c->loop, &cl->io, EPOLLIN))
		goto fail;
	cl->next = c->clients;
	if (cl->next)
		cl->next->prev = cl;
	c->clients = cl;
	c->nclients++;
	if (!allowed) {
		log_warn("control: refused uid %u (pid %d)", cl->cred.uid,
			 cl->cred.pid);
		client_answer(cl, mw_control_error("permission denied"));
	}
	return;
fail:
	free(cl->line);
	free(cl);
	close(fd);
}

/*
 * One caller more than MW_CONTROL_MAX_CLIENTS: told at once and closed.
 * A fresh socket's buffer takes the answer whole, and one that does not
 * is not waited for. A caller in a container may repeat this at will:
 * the log is rate-limited.
 */
static void refuse_busy(struct mw_control *c, int fd)
{
	static const char busy[] =
		"{\"ok\":false,\"error\":\"busy: too many control requests "
		"pending\"}\n";
	struct ucred cred = { .pid = 0, .uid = (uid_t)-1 };
	socklen_t len = sizeof(cred);

	getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
	mw_log_limited(&c->busy_log, MW_LOG_WARN,
		       "control: refused uid %u (pid %d): %d requests are "
		       "pending already",
		       cred.uid, cred.pid, MW_CONTROL_MAX_CLIENTS);
	(void)send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

/*
 * Out of descriptors (or memory) the caller stays in the backlog, and the
 * level-triggered listener would be reported again at once, every turn:
 * it leaves the loop until the next tick, as the proxy's listeners do.
 */
static void pause_listener(struct mw_control *c)
{
	int e = errno;
	int64_t now = mw_now_ms();

	if (now - c->paused_logged_ms >= 10000) {
		log_err("control: accept: %s: callers wait until a "
			"descriptor is free",
			strerror(e));
		c->paused_logged_ms = now;
	}
	if (!mw_loop_mod(c->loop, &c->io, 0))
		c->paused = true;
}

static void on_control(struct mw_io *io, uint32_t events)
{
	struct mw_control *c = (struct mw_control *)io;

	(void)events;
	/* a few per turn; more are reported again, after the traffic */
	for (int i = 0; i < MW_CONTROL_MAX_CLIENTS; i++) {
		int fd = accept4(io->fd, NULL, NULL,
				 SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				pause_listener(c);
			else if (errno != EAGAIN && errno != EINTR &&
				 errno != ECONNABORTED)
				log_warn("control: accept: %s",
					 strerror(errno));
			return;
		}
		if (c->nclients >= MW_CONTROL_MAX_CLIENTS)
			refuse_busy(c, fd);
		else
			client_start(c, fd);
	}
}

static void on_tick(struct mw_tick *t, int64_t now)
{
	struct mw_control *c = container_of(t, struct mw_control, tick);
	struct ctl_client *cl, *next;

	if (c->paused && !mw_loop_mod(c->loop, &c->io, EPOLLIN))
		c->paused = false;
	for (cl = c->clients; cl; cl = next) {
		next = cl->next;
		if (now < cl->deadline_ms)
			continue;
		if (cl->state == CTL_READING) {
			client_no_line(cl);
			continue;
		}
		log_warn("control: pid %d did not take its answer within 2 s",
			 cl->cred.pid);
		client_free(cl);
	}
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
	c->tick.cb = on_tick;
	mw_loop_add_tick(loop, &c->tick);
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
	while (c->clients)
		client_free(c->clients);
	mw_loop_del_tick(c->loop, &c->tick);
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
