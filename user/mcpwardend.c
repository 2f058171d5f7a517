// SPDX-License-Identifier: BSD-2-Clause
/*
 * mcpwardend: the privileged agent. Loads the eBPF programs, accepts the
 * connections they steer, and records every MCP message to PostgreSQL.
 * Runs in the foreground and logs to stderr (systemd takes care of both).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "addrwatch.h"
#include "audit.h"
#include "bpf_loader.h"
#include "cgroup.h"
#include "cgwatch.h"
#include "config.h"
#include "control.h"
#include "commands.h"
#include "local_addrs.h"
#include "log.h"
#include "loop.h"
#include "mask.h"
#include "privs.h"
#include "private_dir.h"
#include "proxy.h"
#include "version.h"

struct daemon {
	struct mw_config cfg;
	struct mw_loop *loop;
	struct mw_bpf *bpf;
	struct mw_audit *audit;
	struct mw_audit_config audit_cfg;
	struct mw_pins *pins;
	struct mw_proxy *proxy;
	struct mw_control *control;
	struct mw_addrwatch *addrwatch;
	struct mw_cgwatch *cgwatch; /* cgroups enforced by path */
	struct mw_local_addrs local; /* the host's addresses, as listed */
	struct mw_io sig;
	int state_lock_fd; /* state_dir, flock()ed while we run */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mcpwardend [-c CONFIG] [-d]\n"
		"  -c CONFIG  configuration file (default %s)\n"
		"  -d         debug logging\n",
		MW_DEFAULT_CONFIG);
}

static int reload_policy(void *arg, char *msg, size_t msglen);
static void record_policy(struct daemon *d);
static json_t *handle_control(void *arg, const char *cmd, json_t *req,
			      const struct mw_control_caller *who);

static void on_signal(struct mw_io *io, uint32_t events)
{
	struct daemon *d = container_of(io, struct daemon, sig);
	struct signalfd_siginfo si;

	(void)events;
	while (read(io->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			log_info("signal %u: stopping", si.ssi_signo);
			mw_loop_stop(d->loop);
		} else if (si.ssi_signo == SIGHUP) {
			struct mw_control_caller who;

			/* judged and recorded as mcpwarden reload is; the
			 * outcome is logged either way */
			mw_control_signal_sender((pid_t)si.ssi_pid,
						 (uid_t)si.ssi_uid, &who);
			json_decref(handle_control(d, "reload", NULL, &who));
		}
	}
}

/*
 * The ports of the local servers, for the programs to refuse at unlisted
 * addresses while the daemon is down (maps.bpf.h, local_ports).
 */
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71 /* Linux 5.14 */
#endif

/* The daemon's network namespace, as the programs name it; 0 unknown. */
static uint64_t own_netns_cookie(void)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) ||
	    len != sizeof(cookie))
		cookie = 0;
	close(fd);
	return cookie;
}

static int set_local_ports(struct daemon *d)
{
	size_t n = 0, cap = d->cfg.nservers ? d->cfg.nservers : 1;
	uint32_t *ports = calloc(cap, sizeof(*ports));
	struct mw_server_val *vals = calloc(cap, sizeof(*vals));
	int rc = -ENOMEM;

	if (!ports || !vals)
		goto out;
	for (size_t i = 0; i < d->cfg.nservers; i++) {
		const struct mw_server_cfg *s = &d->cfg.servers[i];
		bool seen = false;

		for (size_t j = 0; j < n && !seen; j++)
			seen = ports[j] == s->port;
		if (!s->local || seen)
			continue;
		ports[n] = s->port;
		vals[n].server_id = (uint32_t)i;
		n++;
	}
	rc = mw_bpf_set_local_ports(d->bpf, ports, vals, n, own_netns_cookie());
out:
	free(ports);
	free(vals);
	return rc;
}

/*
 * A cgroup enforced before it came to lie in a delegated subtree (or by a
 * version that did not check): enforce now refuses such a cgroup, and the
 * one already enforced is said to be open.
 */
static int warn_if_delegated(void *arg, uint64_t id, const char *path)
{
	char anc[PATH_MAX], who[128];

	(void)arg;
	(void)id;
	if (path[0] && mw_cgroup_delegated_above(path, anc, sizeof(anc), who,
						 sizeof(who)) > 0)
		log_err("ALERT (AC-3): the enforced cgroup %s lies in a "
			"subtree delegated to %s (%s): its processes could "
			"move themselves out of enforcement; enforce %s "
			"instead",
			path, who, anc, anc);
	return 0;
}

/*
 * The host's addresses as they are now, to the kernel side: at the start
 * all of them (which also drops those a previous run listed), then those
 * new to the set. A set full of addresses the host no longer has (a
 * container host makes a link-local one per veth) starts again from
 * those it has. *added counts those new to the set; 0, or -1 with err.
 */
static int list_local_addrs(struct daemon *d, bool start, size_t *added,
			    char *err, size_t errlen)
{
	int rc = mw_local_addrs_scan(&d->local, added), w;
	bool rebuilt = false;

	if (rc == -E2BIG && !start) {
		mw_local_addrs_free(&d->local);
		rc = mw_local_addrs_scan(&d->local, added);
		rebuilt = true;
		log_info("the list of local addresses was full: made again "
			 "from the host's %zu",
			 d->local.n);
	}
	if (rc == -E2BIG)
		snprintf(err, errlen,
			 "more than %d local addresses: the others are not "
			 "protected",
			 MW_MAX_LOCAL_ADDRS);
	else if (rc)
		snprintf(err, errlen, "listing the host's addresses: %s",
			 strerror(-rc));
	if (rc && rc != -E2BIG)
		return -1;
	if (start || rebuilt || *added) {
		w = mw_bpf_set_local_addrs(d->bpf, d->local.addr, d->local.n);
		if (w) {
			snprintf(err, errlen,
				 "cannot list the host's addresses: %s",
				 strerror(-w));
			return -1;
		}
	}
	return rc ? -1 : 0;
}

/*
 * The host's addresses and the local servers' ports first: a previous
 * version listed local addresses in protected_servers, and each entry
 * is replaced before it goes.
 */
static int set_protected_servers(struct daemon *d, char *err, size_t errlen)
{
	struct mw_server_key *keys;
	struct mw_server_val *vals;
	size_t n = 0, cap = 0, added;
	int rc;

	if (list_local_addrs(d, true, &added, err, errlen))
		return -1;
	rc = set_local_ports(d);
	if (rc) {
		snprintf(err, errlen, "cannot set the local servers' ports: %s",
			 strerror(-rc));
		return -1;
	}
	for (size_t i = 0; i < d->cfg.nservers; i++)
		cap += d->cfg.servers[i].naddrs;
	keys = calloc(cap ? cap : 1, sizeof(*keys));
	vals = calloc(cap ? cap : 1, sizeof(*vals));
	if (!keys || !vals) {
		free(keys);
		free(vals);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < d->cfg.nservers; i++) {
		const struct mw_server_cfg *s = &d->cfg.servers[i];

		for (size_t j = 0; j < s->naddrs; j++) {
			mw_addr_to_mapped(&s->addrs[j], keys[n].addr,
					  &keys[n].port);
			vals[n].server_id = (uint32_t)i;
			n++;
		}
	}
	rc = mw_bpf_set_servers(d->bpf, keys, vals, n);
	if (rc)
		snprintf(err, errlen, "cannot set protected servers: %s",
			 strerror(-rc));
	free(keys);
	free(vals);
	return rc ? -1 : 0;
}

/*
 * A local server is protected on every local address, including those that
 * appear after the start: an address added later would otherwise reach it
 * unsteered. Called when the host's addresses change, and once after the
 * watch is set up (for those that came since the start listed them).
 */
static void protect_new_local_addrs(void *arg)
{
	struct daemon *d = arg;
	char err[320];
	size_t added = 0;

	if (list_local_addrs(d, false, &added, err, sizeof(err)))
		log_err("ALERT (SC-7): %s", err);
	if (added)
		log_info("protecting %zu new local address(es) of local "
			 "servers",
			 added);
}

static bool same_servers(const struct mw_config *a, const struct mw_config *b)
{
	if (a->nservers != b->nservers)
		return false;
	for (size_t i = 0; i < a->nservers; i++)
		if (strcmp(a->servers[i].name, b->servers[i].name) ||
		    strcmp(a->servers[i].address, b->servers[i].address))
			return false;
	return true;
}

/* Adds name to the comma-separated list in out (truncated if need be). */
static void list_add(char *out, size_t outlen, const char *name)
{
	size_t n = strnlen(out, outlen);

	if (n + 1 < outlen)
		snprintf(out + n, outlen - n, "%s%s", n ? ", " : "", name);
}

static bool same_addr(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	char x[128], y[128];

	mw_format_addr(a, x, sizeof(x));
	mw_format_addr(b, y, sizeof(y));
	return !strcmp(x, y);
}

/*
 * The settings a reload leaves as they are (they are read at start): the
 * names of those the file now changes, so that the operator is told
 * rather than left to believe they apply.
 */
static void restart_only_changes(const struct mw_config *run,
				 const struct mw_config *now, char *out,
				 size_t outlen)
{
#define CHANGED(field, name)                         \
	do {                                         \
		if (run->field != now->field)        \
			list_add(out, outlen, name); \
	} while (0)
#define CHANGED_TEXT(field, name)                    \
	do {                                         \
		if (strcmp(run->field, now->field))  \
			list_add(out, outlen, name); \
	} while (0)

	*out = '\0';
	if (!same_addr(&run->listen4, &now->listen4) ||
	    run->has_listen6 != now->has_listen6 ||
	    (run->has_listen6 && !same_addr(&run->listen6, &now->listen6)))
		list_add(out, outlen, "listen");
	CHANGED_TEXT(state_dir, "state_dir");
	CHANGED_TEXT(bpf_pin_dir, "bpf_pin_dir");
	CHANGED_TEXT(host, "host");
	CHANGED(splice, "splice");
	CHANGED(busy_poll_us, "busy_poll_us");
	CHANGED(log_level, "log_level");
	CHANGED(limits.max_header_bytes, "limits.max_header_bytes");
	CHANGED(limits.max_body_bytes, "limits.max_body_bytes");
	CHANGED(limits.max_sse_event_bytes, "limits.max_sse_event_bytes");
	CHANGED(limits.max_connections, "limits.max_connections");
	CHANGED(limits.max_buffered_bytes, "limits.max_buffered_bytes");
	CHANGED(limits.header_timeout_ms, "limits.header_timeout_ms");
	CHANGED(limits.body_timeout_ms, "limits.body_timeout_ms");
	CHANGED(limits.send_timeout_ms, "limits.send_timeout_ms");
	CHANGED(limits.idle_timeout_ms, "limits.idle_timeout_ms");
	CHANGED(limits.connect_timeout_ms, "limits.connect_timeout_ms");
	CHANGED_TEXT(audit.dsn, "audit.dsn");
	CHANGED_TEXT(audit.writer_dsn, "audit.writer_dsn");
	CHANGED_TEXT(audit.auditor_dsn, "audit.auditor_dsn");
	CHANGED_TEXT(audit.checkpoint_file, "audit.checkpoint_file");
	CHANGED(audit.checkpoint_events, "audit.checkpoint_events");
	CHANGED(audit.checkpoint_ms, "audit.checkpoint_ms");
	CHANGED_TEXT(audit.spool_dir, "audit.spool_dir");
	CHANGED(audit.spool_after_ms, "audit.spool_after_ms");
	CHANGED(audit.durable_before_forward, "audit.durable_before_forward");
	CHANGED(audit.durable_timeout_ms, "audit.durable_timeout_ms");
	CHANGED(audit.spool_first, "audit.spool_first");
	CHANGED_TEXT(audit.embedded_user, "audit.embedded_user");
	CHANGED(audit.batch_ms, "audit.batch_ms");
	CHANGED(audit.batch_max, "audit.batch_max");
	CHANGED(audit.max_queue, "audit.max_queue");
	CHANGED(audit.max_queue_bytes, "audit.max_queue_bytes");
#undef CHANGED
#undef CHANGED_TEXT
}

/*
 * The trail says what ran: the version and the settings that shape what
 * is recorded, at every start (evidence export reads them back).
 */
static void record_start(struct daemon *d)
{
	json_t *p = json_pack(
		"{ss,ss,ss,sb,sb,sI,sI,sI}", "version", MW_VERSION, "config",
		d->cfg.path, "host", d->cfg.host, "durable_before_forward",
		d->cfg.audit.durable_before_forward, "splice", d->cfg.splice,
		"busy_poll_us", (json_int_t)d->cfg.busy_poll_us,
		"checkpoint_events", (json_int_t)d->cfg.audit.checkpoint_events,
		"checkpoint_ms", (json_int_t)d->cfg.audit.checkpoint_ms);
	struct mw_audit_event ev = {
		.kind = MW_EV_DAEMON_START,
		.detail = "mcpwardend " MW_VERSION,
		.params = p,
	};

	if (!p || !mw_audit_submit(d->audit, &ev))
		log_err("audit: the start could not be recorded");
	json_decref(p);
}

/*
 * The policy in force, at start and at every reload: its hash, and its
 * text when it has a file of its own. An inline policy's bytes are the
 * whole configuration, which may hold database credentials: those are
 * not copied into the trail (policy: FILE puts the text in).
 */
static void record_policy(struct daemon *d)
{
	bool own_file = strcmp(d->cfg.policy_file, d->cfg.path) != 0;
	size_t len = 0;
	const char *src = mw_policy_source(d->cfg.policy, &len);
	json_t *p = json_pack("{ss,ss,sI,sb,so*}", "file", d->cfg.policy_file,
			      "sha256", d->cfg.policy_sha256, "rules",
			      (json_int_t)mw_policy_rule_count(d->cfg.policy),
			      "text_recorded", own_file, "masking",
			      d->cfg.masker ? mw_masker_describe(d->cfg.masker)
					    : NULL);
	struct mw_audit_event ev = {
		.kind = MW_EV_POLICY_LOADED,
		.policy_sha256 = d->cfg.policy_sha256,
		.params = p,
		.detail = own_file ? src
				   : "inline in the configuration: its bytes "
				     "are not recorded (they may hold "
				     "credentials)",
	};

	(void)len;
	if (!p || !mw_audit_submit(d->audit, &ev))
		log_err("audit: the policy in force could not be recorded");
	json_decref(p);
}

/*
 * Swaps in the policy of the configuration file as it is now, atomically
 * for the connections (one loop thread: every message is judged by the
 * old policy or by the new one). Only the policy: listeners, servers and
 * the audit store are fixed at start. A file that does not load leaves the
 * policy in force, and so does one whose servers differ from the running
 * ones.
 */
static int reload_policy(void *arg, char *msg, size_t msglen)
{
	struct daemon *d = arg;
	struct mw_config fresh = { 0 };
	uint8_t key[MW_MASK_KEY_BYTES];
	struct mw_masker *old_masker;
	struct mw_policy *old;
	char err[768], unapplied[1024];

	/* the servers must be the running ones: their names are not looked
	 * up again, which could hold the loop as long as a name server takes
	 * to answer, or refuse a new policy while it does not */
	if (mw_config_load_opts(d->cfg.path, &fresh, MW_CONFIG_POLICY, err,
				sizeof(err))) {
		snprintf(msg, msglen,
			 "%s; the policy in force (sha256 %s) stays", err,
			 d->cfg.policy_sha256);
		log_warn("reload: %s", msg);
		mw_config_free(&fresh);
		return -1;
	}
	/* Rules name servers: a policy written for other servers than the
	 * ones this daemon protects could silently never match. */
	if (!same_servers(&d->cfg, &fresh)) {
		snprintf(msg, msglen,
			 "the servers in %s changed, which takes a restart; "
			 "the policy in force (sha256 %s) stays",
			 d->cfg.path, d->cfg.policy_sha256);
		log_warn("reload: %s", msg);
		mw_config_free(&fresh);
		return -1;
	}
	/*
	 * A file caught half-written (an editor saving in place) can be valid
	 * YAML that ends before the policy or the masking. Running without
	 * either is for a restart, whose log says so, not for a reload.
	 */
	if ((!mw_policy_is_none(d->cfg.policy) &&
	     mw_policy_is_none(fresh.policy)) ||
	    (d->cfg.masker && !fresh.masker)) {
		snprintf(msg, msglen,
			 "%s has no %s, which a reload does not drop (that "
			 "takes a restart); the policy in force (sha256 %s) "
			 "stays",
			 d->cfg.path,
			 mw_policy_is_none(fresh.policy) ? "policy" : "masking",
			 d->cfg.policy_sha256);
		log_warn("reload: %s", msg);
		mw_config_free(&fresh);
		return -1;
	}
	if (fresh.masker) {
		if (mw_mask_key_load(d->cfg.state_dir, key, err, sizeof(err))) {
			snprintf(msg, msglen,
				 "masking: %s; the policy in force (sha256 "
				 "%s) stays",
				 err, d->cfg.policy_sha256);
			log_warn("reload: %s", msg);
			mw_config_free(&fresh);
			return -1;
		}
		mw_masker_set_key(fresh.masker, key);
		OPENSSL_cleanse(key, sizeof(key));
	}
	old = d->cfg.policy;
	d->cfg.policy = fresh.policy;
	fresh.policy = old;
	old_masker = d->cfg.masker;
	d->cfg.masker = fresh.masker;
	fresh.masker = old_masker;
	mw_proxy_set_masker(d->proxy, d->cfg.masker);
	memcpy(d->cfg.policy_sha256, fresh.policy_sha256,
	       sizeof(d->cfg.policy_sha256));
	memcpy(d->cfg.policy_file, fresh.policy_file,
	       sizeof(d->cfg.policy_file));
	mw_proxy_set_policy(d->proxy, d->cfg.policy);
	record_policy(d);
	snprintf(msg, msglen, "policy from %s: %zu rule(s), sha256 %s",
		 d->cfg.policy_file, mw_policy_rule_count(d->cfg.policy),
		 d->cfg.policy_sha256);
	log_info("reload: %s", msg);
	restart_only_changes(&d->cfg, &fresh, unapplied, sizeof(unapplied));
	if (*unapplied) {
		size_t n = strnlen(msg, msglen);

		snprintf(msg + n, msglen - n,
			 "; %s also changes %s, which take a restart: the "
			 "running values stay",
			 d->cfg.path, unapplied);
		log_warn("reload: %s changes %s, which take a restart: the "
			 "running values stay",
			 d->cfg.path, unapplied);
	}
	mw_config_free(&fresh);
	return 0;
}

static struct mw_commands_ctx commands_ctx(struct daemon *d)
{
	struct mw_commands_ctx cc = {
		.cfg = &d->cfg,
		.local = &d->local,
		.bpf = d->bpf,
		.audit = d->audit,
		.proxy = d->proxy,
		.loop = d->loop,
		.pins = d->pins,
		.cgwatch = d->cgwatch,
		.reload = reload_policy,
		.reload_arg = d,
	};

	return cc;
}

static json_t *handle_control(void *arg, const char *cmd, json_t *req,
			      const struct mw_control_caller *who)
{
	struct mw_commands_ctx cc = commands_ctx(arg);

	return mw_commands_handle(&cc, cmd, req, who);
}

/*
 * An enforce the daemon carried out again by itself (an enforced cgroup
 * made again), or could not: a control event as the operator's enforce
 * is, with the daemon as the caller.
 */
static void note_reenforce(void *arg, const char *path, const char *decision,
			   const char *detail)
{
	struct mw_commands_ctx cc = commands_ctx(arg);
	struct mw_control_caller self;

	(void)path;
	mw_control_signal_sender(getpid(), geteuid(), &self);
	mw_commands_record(&cc, &self, "enforce", decision, detail);
}

/*
 * Each connection holds two descriptors (client and server), a closing one
 * lingers a while, and the database, the spool and the loop take a few:
 * the soft limit goes up to the hard one, and a hard limit too low for
 * max_connections is said at start rather than met at accept().
 */
static void raise_fd_limit(size_t max_connections)
{
	rlim_t want = (rlim_t)(2 * max_connections + 1024 + 64);
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			log_warn("cannot raise the descriptor limit: %s",
				 strerror(errno));
	}
	if (rl.rlim_cur < want)
		log_warn("the descriptor limit (%llu) is below what "
			 "max_connections (%zu) needs (%llu): accept() will "
			 "pause when it is reached",
			 (unsigned long long)rl.rlim_cur, max_connections,
			 (unsigned long long)want);
}

static int run(struct daemon *d, const char *config_path, int debug)
{
	struct mw_settings settings = { 0 };
	char err[512], ctl[PATH_MAX];
	sigset_t mask;
	int rc = 1, r;

	d->state_lock_fd = -1;
	if (mw_config_load(config_path, &d->cfg, err, sizeof(err))) {
		log_err("%s", err);
		return 1;
	}
	mw_log_set_level(debug ? MW_LOG_DEBUG : d->cfg.log_level);
	raise_fd_limit(d->cfg.limits.max_connections);
	/* Traversable, not listable: the embedded cluster's own user must
	 * reach state_dir/pg; the control socket guards itself (0600). */
	if (mw_private_dir_make(d->cfg.state_dir, 0711, "state_dir", err,
				sizeof(err))) {
		log_err("%s", err);
		goto out;
	}
	/* a second daemon there would take over the first's socket, spool
	 * and chain */
	d->state_lock_fd = mw_private_dir_lock(d->cfg.state_dir, "state_dir",
					       err, sizeof(err));
	if (d->state_lock_fd < 0) {
		log_err("%s", err);
		goto out;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (mw_loop_new(&d->loop)) {
		log_err("epoll: %s", strerror(errno));
		goto out;
	}
	mw_loop_set_busy_poll(d->loop, d->cfg.busy_poll_us);
	d->sig.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->sig.cb = on_signal;
	if (d->sig.fd < 0 || mw_loop_add(d->loop, &d->sig, EPOLLIN)) {
		log_err("signalfd: %s", strerror(errno));
		goto out;
	}

	/* The trail comes first: nothing is accepted that cannot be recorded. */
	mw_config_audit(&d->cfg, &d->audit_cfg);
	if (mw_audit_open(&d->audit, &d->audit_cfg, d->loop, err,
			  sizeof(err))) {
		log_err("audit: %s", err);
		goto out;
	}
	if (!d->cfg.audit.durable_before_forward)
		log_warn("audit: durable_before_forward is off: requests go "
			 "to the server before their audit event is durable, "
			 "and a crash can lose the last events");

	settings.listen4_addr =
		((struct sockaddr_in *)&d->cfg.listen4)->sin_addr.s_addr;
	settings.listen4_port =
		ntohs(((struct sockaddr_in *)&d->cfg.listen4)->sin_port);
	if (d->cfg.has_listen6) {
		memcpy(settings.listen6_addr,
		       &((struct sockaddr_in6 *)&d->cfg.listen6)->sin6_addr,
		       16);
		settings.listen6_port = ntohs(
			((struct sockaddr_in6 *)&d->cfg.listen6)->sin6_port);
	}
	settings.splice = d->cfg.splice;

	if (mw_bpf_open(&d->bpf, d->cfg.bpf_pin_dir, &settings, err,
			sizeof(err))) {
		log_err("eBPF: %s", err);
		goto out;
	}
	mw_bpf_for_each_enforced(d->bpf, warn_if_delegated, NULL);
	r = mw_addrwatch_open(&d->addrwatch, d->loop, protect_new_local_addrs,
			      d);
	if (r) {
		log_err("cannot watch the host's addresses: %s", strerror(-r));
		goto out;
	}
	if (set_protected_servers(d, err, sizeof(err))) {
		log_err("%s", err);
		goto out;
	}
	protect_new_local_addrs(d);
	if (d->cfg.masker) {
		uint8_t key[MW_MASK_KEY_BYTES];

		if (mw_mask_key_load(d->cfg.state_dir, key, err, sizeof(err))) {
			log_err("masking: %s", err);
			goto out;
		}
		mw_masker_set_key(d->cfg.masker, key);
		OPENSSL_cleanse(key, sizeof(key));
	}
	if (mw_pins_open(&d->pins, d->cfg.state_dir, err, sizeof(err))) {
		log_err("tool pins: %s", err);
		goto out;
	}
	if (mw_proxy_new(&d->proxy, d->loop, d->bpf, d->audit, d->pins, &d->cfg,
			 err, sizeof(err))) {
		log_err("%s", err);
		goto out;
	}
	mw_control_path(&d->cfg, ctl, sizeof(ctl));
	if (mw_control_open(&d->control, d->loop, ctl, handle_control, d, err,
			    sizeof(err))) {
		log_err("%s", err);
		goto out;
	}
	/* Loading parsed the kernel's BTF (megabytes, now freed): give the
	 * pages back before settling into the steady state. */
	malloc_trim(0);
	/* Everything that needed more of root is done: keep what serving,
	 * enforcing and stopping the embedded cluster still need. */
	if (mw_privs_drop(err, sizeof(err))) {
		log_err("%s", err);
		goto out;
	}
	if (mw_policy_is_none(d->cfg.policy))
		log_warn("no policy in %s: every message is allowed (and "
			 "recorded); see policy/README.md",
			 d->cfg.path);
	record_start(d);
	record_policy(d);
	/* After the start is on record: a cgroup enforced by path and made
	 * again while the daemon was down is enforced again here, recorded. */
	if (mw_cgwatch_open(&d->cgwatch, d->loop, d->bpf, d->cfg.state_dir,
			    note_reenforce, d, err, sizeof(err))) {
		log_err("enforced cgroups: %s", err);
		goto out;
	}
	log_info("ready: %zu protected server(s), splice %s, busy poll %u us, "
		 "policy %s (%zu rule(s), sha256 %.12s), masking %zu rule(s), "
		 "control %s",
		 d->cfg.nservers, d->cfg.splice ? "on" : "off",
		 d->cfg.busy_poll_us, d->cfg.policy_file,
		 mw_policy_rule_count(d->cfg.policy), d->cfg.policy_sha256,
		 d->cfg.masker ? mw_masker_n_rules(d->cfg.masker) : 0, ctl);
	if (mw_loop_run(d->loop))
		log_err("event loop: %s", strerror(errno));
	else
		rc = 0;
out:
	mw_cgwatch_close(d->cgwatch);
	mw_addrwatch_close(d->addrwatch);
	mw_local_addrs_free(&d->local);
	mw_control_close(d->control);
	mw_proxy_free(d->proxy);
	mw_pins_free(d->pins);
	if (d->audit) {
		mw_audit_close(d->audit);
		mw_audit_stop_embedded(&d->audit_cfg);
	}
	/* Programs and links stay pinned: enforcement outlives us. */
	mw_bpf_close(d->bpf);
	if (d->sig.fd > 0)
		close(d->sig.fd);
	if (d->state_lock_fd >= 0)
		close(d->state_lock_fd);
	mw_loop_free(d->loop);
	mw_config_free(&d->cfg);
	log_info("stopped");
	return rc;
}

int main(int argc, char **argv)
{
	const char *config = MW_DEFAULT_CONFIG;
	struct daemon d = { 0 };
	int opt, debug = 0, rc;

	while ((opt = getopt(argc, argv, "c:dh")) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	d.sig.fd = -1;
	rc = run(&d, config, debug);
	return rc;
}
