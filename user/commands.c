// SPDX-License-Identifier: BSD-2-Clause
#include "commands.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "control.h"
#include "identity.h"
#include "log.h"
#include "spin.h"

/*
 * Names other users chose (a process's comm, its executable, a cgroup) as
 * status shows them: one that is not UTF-8 made the entry vanish from the
 * answer, and control bytes reached the operator's terminal.
 */
static json_t *shown(const char *s)
{
	char *safe = mw_defang_dup(s ? s : "");
	json_t *j = safe ? json_string(safe) : NULL;

	free(safe);
	return j;
}

static json_t *conn_key_json(const struct mw_conn_key *k,
			     const struct mw_conn_info *v)
{
	struct sockaddr_storage a;
	char local[64], orig[64];

	mw_mapped_to_addr(k->local_addr, k->local_port, &a);
	mw_format_addr(&a, local, sizeof(local));
	mw_mapped_to_addr(v->orig_addr, v->orig_port, &a);
	mw_format_addr(&a, orig, sizeof(orig));
	return json_pack("{s:s,s:s,s:I,s:I,s:I,s:o}", "client", local, "server",
			 orig, "pid", (json_int_t)v->tgid, "uid",
			 (json_int_t)v->uid, "cgroup_id",
			 (json_int_t)v->cgroup_id, "comm", shown(v->comm));
}

static int add_kernel_conn(void *arg, const struct mw_conn_key *k,
			   const struct mw_conn_info *v)
{
	json_array_append_new(arg, conn_key_json(k, v));
	return 0;
}

/*
 * Delegation may come after enforce (a unit restarted with Delegate=):
 * status shows it as it is now, with the ancestor to enforce instead.
 */
static int add_enforced(void *arg, uint64_t id, const char *path)
{
	json_t *e = json_pack("{s:o,s:I}", "cgroup", shown(path), "id",
			      (json_int_t)id);
	char anc[4096], who[128];

	if (e && path[0] &&
	    mw_cgroup_delegated_above(path, anc, sizeof(anc), who,
				      sizeof(who)) > 0) {
		json_object_set_new(e, "delegated_to", shown(who));
		json_object_set_new(e, "enforce_instead", shown(anc));
	}
	json_array_append_new(arg, e);
	return 0;
}

/*
 * A cgroup enforced by path that is not enforced now: gone (enforced
 * again as soon as it is made again), or made again and refused.
 */
static int add_waiting(void *arg, const char *path, uint64_t last_id,
		       const char *why)
{
	json_t *e = json_pack("{s:o,s:I,s:s}", "cgroup", shown(path), "last_id",
			      (json_int_t)last_id, "state",
			      why[0] ? "refused" : "waiting");

	if (e && why[0])
		json_object_set_new(e, "why", shown(why));
	json_array_append_new(arg, e);
	return 0;
}

static int add_proxy_conn(void *arg, uint64_t conn_id,
			  const struct mw_identity *id, const char *server,
			  const char *client)
{
	json_array_append_new(
		arg, json_pack("{s:I,s:s,s:s,s:I,s:I,s:I,s:o,s:o,s:o,s:o}",
			       "conn_id", (json_int_t)conn_id, "server", server,
			       "client", client, "pid", (json_int_t)id->tgid,
			       "uid", (json_int_t)id->uid, "gid",
			       (json_int_t)id->gid, "comm", shown(id->comm),
			       "exe", shown(id->exe), "cgroup",
			       shown(id->cgroup), "user", shown(id->user)));
	return 0;
}

static json_t *policy_status(const struct mw_config *cfg)
{
	bool explicit_default;
	enum mw_policy_action def =
		mw_policy_default(cfg->policy, &explicit_default);

	return json_pack("{s:s,s:s,s:I,s:s,s:b,s:b}", "source",
			 cfg->policy_file, "sha256", cfg->policy_sha256,
			 "rules", (json_int_t)mw_policy_rule_count(cfg->policy),
			 "default", mw_policy_action_name(def),
			 "explicit_default", explicit_default, "none",
			 mw_policy_is_none(cfg->policy));
}

static json_t *busy_poll_status(const struct mw_loop *loop)
{
	const struct mw_spin *s = mw_loop_busy_poll(loop);

	return json_pack("{s:I,s:I,s:I}", "window_us", (json_int_t)s->window_us,
			 "windows", (json_int_t)s->windows, "caught",
			 (json_int_t)s->caught);
}

static json_t *status(struct mw_commands_ctx *cc)
{
	json_t *r = json_pack("{s:b}", "ok", 1);
	json_t *servers = json_array(), *enforced = json_array();
	json_t *waiting = json_array();
	json_t *local = json_array();
	json_t *kconns = json_array(), *pconns = json_array();
	json_t *kernel = json_object(), *proxy, *audit;
	uint64_t stats[MW_STAT__COUNT] = { 0 };
	struct mw_proxy_stats ps;
	struct mw_audit_stats as;
	char listen[64];

	for (size_t i = 0; i < cc->cfg->nservers; i++) {
		const struct mw_server_cfg *s = &cc->cfg->servers[i];
		json_t *addrs = json_array();

		for (size_t j = 0; j < s->naddrs; j++) {
			char a[64];

			mw_format_addr(&s->addrs[j], a, sizeof(a));
			json_array_append_new(addrs, json_string(a));
		}
		json_array_append_new(
			servers, json_pack("{s:s,s:s,s:b,s:o}", "name", s->name,
					   "address", s->address, "local",
					   s->local, "addresses", addrs));
	}
	for (size_t i = 0; i < cc->local->n; i++) {
		struct sockaddr_storage ss;
		char a[64];

		mw_mapped_to_addr(cc->local->addr[i], 0, &ss);
		mw_format_ip(&ss, a, sizeof(a));
		json_array_append_new(local, json_string(a));
	}
	mw_bpf_for_each_enforced(cc->bpf, add_enforced, enforced);
	if (cc->cgwatch)
		mw_cgwatch_for_each_waiting(cc->cgwatch, add_waiting, waiting);
	mw_bpf_for_each_conn(cc->bpf, add_kernel_conn, kconns);
	mw_proxy_for_each_conn(cc->proxy, add_proxy_conn, pconns);
	if (!mw_bpf_stats(cc->bpf, stats))
		for (int i = 0; i < MW_STAT__COUNT; i++)
			json_object_set_new(kernel,
					    mw_bpf_stat_name((enum mw_stat)i),
					    json_integer((json_int_t)stats[i]));
	mw_proxy_stats(cc->proxy, &ps);
	proxy = json_pack(
		"{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
		"accepted", (json_int_t)ps.accepted, "active",
		(json_int_t)ps.active, "refused_unsteered",
		(json_int_t)ps.refused_unsteered, "refused_overload",
		(json_int_t)ps.refused_overload, "http_requests",
		(json_int_t)ps.http_requests, "rpc_messages",
		(json_int_t)ps.rpc_messages, "http_errors",
		(json_int_t)ps.http_errors, "upstream_errors",
		(json_int_t)ps.upstream_errors, "bytes_from_clients",
		(json_int_t)ps.bytes_from_clients, "bytes_from_servers",
		(json_int_t)ps.bytes_from_servers, "rpc_refused",
		(json_int_t)ps.rpc_refused, "rpc_would_refuse",
		(json_int_t)ps.rpc_would_refuse, "tools_hidden",
		(json_int_t)ps.tools_hidden);
	json_object_set_new(proxy, "held_for_durability",
			    json_integer((json_int_t)ps.held_for_durability));
	json_object_set_new(proxy, "durability_timeouts",
			    json_integer((json_int_t)ps.durability_timeouts));
	json_object_set_new(proxy, "accept_paused",
			    json_integer((json_int_t)ps.accept_paused));
	json_object_set_new(proxy, "body_timeouts",
			    json_integer((json_int_t)ps.body_timeouts));
	json_object_set_new(proxy, "buffers_full",
			    json_integer((json_int_t)ps.buffers_full));
	json_object_set_new(proxy, "buffered_bytes",
			    json_integer((json_int_t)ps.buffered_bytes));
	mw_audit_stats(cc->audit, &as);
	audit = json_pack("{s:I,s:I,s:I,s:I,s:b,s:I,s:I,s:I,s:I,s:I,s:b,s:b}",
			  "submitted", (json_int_t)as.submitted, "written",
			  (json_int_t)as.written, "failed_batches",
			  (json_int_t)as.failed_batches, "queued",
			  (json_int_t)as.queued, "connected", as.connected,
			  "durable_seq", (json_int_t)as.durable_seq,
			  "checkpoints", (json_int_t)as.checkpoints, "spooled",
			  (json_int_t)as.spooled, "spool_bytes",
			  (json_int_t)as.spool_bytes, "spool_failures",
			  (json_int_t)as.spool_failures, "spool_failing",
			  as.spool_failing, "durable_before_forward",
			  cc->cfg->audit.durable_before_forward);
	json_object_set_new(audit, "missing_events",
			    json_integer((json_int_t)as.missing));
	json_object_set_new(audit, "halted", json_boolean(as.halted));
	json_object_set_new(audit, "queue_bytes",
			    json_integer((json_int_t)as.queue_bytes));
	json_object_set_new(audit, "writer_lock_held_by",
			    json_integer((json_int_t)as.lock_holder));
	mw_format_addr(&cc->cfg->listen4, listen, sizeof(listen));
	json_object_set_new(r, "host", json_string(cc->cfg->host));
	json_object_set_new(r, "listen", json_string(listen));
	json_object_set_new(r, "splice", json_boolean(cc->cfg->splice));
	json_object_set_new(r, "busy_poll", busy_poll_status(cc->loop));
	json_object_set_new(r, "bpf_pin_dir",
			    json_string(cc->cfg->bpf_pin_dir));
	json_object_set_new(r, "servers", servers);
	json_object_set_new(r, "local_addresses", local);
	json_object_set_new(r, "policy", policy_status(cc->cfg));
	json_object_set_new(r, "enforced", enforced);
	json_object_set_new(r, "waiting", waiting);
	json_object_set_new(r, "connections", pconns);
	json_object_set_new(r, "kernel_connections", kconns);
	json_object_set_new(r, "kernel", kernel);
	json_object_set_new(r, "proxy", proxy);
	json_object_set_new(r, "audit", audit);
	return r;
}

struct existing_ctx {
	const struct mw_config *cfg;
	json_t *list;
};

/* As the kernel side judges a destination (connect.bpf.c). */
static int is_protected(void *arg, const uint8_t addr[16], uint16_t port)
{
	static const uint8_t v4pfx[12] = { [10] = 0xff, [11] = 0xff };
	const struct mw_commands_ctx *cc = arg;
	const struct mw_config *cfg = cc->cfg;
	bool loopback4 = !memcmp(addr, v4pfx, 12) && addr[12] == 127;

	for (size_t i = 0; i < cfg->nservers; i++) {
		const struct mw_server_cfg *s = &cfg->servers[i];

		if (s->local && s->port == port &&
		    (loopback4 || mw_local_addrs_has(cc->local, addr)))
			return 1;
		for (size_t j = 0; j < s->naddrs; j++) {
			uint8_t a[16];
			uint16_t p;

			mw_addr_to_mapped(&s->addrs[j], a, &p);
			if (p == port && !memcmp(a, addr, 16))
				return 1;
		}
	}
	return 0;
}

/*
 * ---- the caller ----
 *
 * Root may change enforcement, but not a process that enforcement
 * watches: an agent running as root in an enforced cgroup would release
 * its own cgroup, or accept the tools a server swapped, through the very
 * CLI an operator uses. Such a caller is refused (fail closed when its
 * cgroup cannot be told), and every command that changes what is
 * enforced is recorded with who asked (AU-2, AC-6(9)), before it is
 * carried out. (A root that may write the cgroup file system can leave
 * its cgroup instead: this stops a caller confined to it, as in a
 * container.)
 */

#define MAX_CGROUP_DEPTH 64

/* A cgroup and those above it, by id, the root cgroup last. */
struct ancestry {
	uint64_t ids[MAX_CGROUP_DEPTH + 1];
	size_t n;
};

/*
 * cgroup as in /proc/PID/cgroup ("/a/b"), taken below the mount as it is
 * (not guessed as a file-system path); 0, or -1 with why in err.
 */
static int ancestry_of(const char *cgroup, struct ancestry *a, char *err,
		       size_t errlen)
{
	char abs[8192], mnt[4096];
	size_t root;
	char *slash;

	a->n = 0;
	if (cgroup[0] != '/' || strstr(cgroup, "/../") ||
	    !strcmp(cgroup + strlen(cgroup) - (strlen(cgroup) > 2 ? 3 : 0),
		    "/..")) {
		mw_set_err(err, errlen,
			   "the caller's cgroup cannot be told%s%s",
			   cgroup[0] ? ": " : "", cgroup);
		return -1;
	}
	if (mw_cgroup_resolve("/", mnt, sizeof(mnt), err, errlen))
		return -1;
	root = strlen(mnt);
	snprintf(abs, sizeof(abs), "%s%s", mnt,
		 strcmp(cgroup, "/") ? cgroup : "");
	for (;;) {
		if (a->n > MAX_CGROUP_DEPTH ||
		    mw_cgroup_id(abs, &a->ids[a->n])) {
			mw_set_err(err, errlen,
				   "the caller's cgroup %s cannot be told",
				   cgroup);
			return -1;
		}
		a->n++;
		if (strlen(abs) <= root)
			break;
		slash = strrchr(abs, '/');
		*slash = '\0';
	}
	return 0;
}

/*
 * 1 with the enforced cgroup over the caller in path, 0 none, -1 with why
 * in err. The root cgroup does not count: enforced, it holds the
 * operator's shell too, and release must stay possible.
 */
static int caller_enforced(struct mw_commands_ctx *cc, const struct ancestry *a,
			   char *path, size_t pathlen, char *err, size_t errlen)
{
	uint64_t hit;
	char rel[4096];
	int r;

	r = mw_bpf_enforced_among(cc->bpf, a->ids, a->n - 1, &hit);
	if (r < 0) {
		mw_set_err(err, errlen,
			   "the enforced cgroups cannot be read: %s",
			   strerror(-r));
		return -1;
	}
	if (r > 0 && mw_cgroup_path_of_id(hit, rel, sizeof(rel)) == 0)
		snprintf(path, pathlen, "%s%s", mw_cgroup2_mount(), rel);
	else if (r > 0)
		snprintf(path, pathlen, "id %llu", (unsigned long long)hit);
	return r > 0;
}

/* One control event: the command, its target, its outcome, the caller. */
static uint64_t record_control(struct mw_commands_ctx *cc,
			       const struct mw_control_caller *who,
			       const char *cmd, const char *server,
			       const char *decision, const char *detail)
{
	struct mw_identity id = { .pid = (uint32_t)who->pid,
				  .tgid = (uint32_t)who->pid,
				  .uid = who->uid,
				  .gid = who->gid };
	struct mw_audit_event ev = { 0 };
	struct ancestry a;
	char why[256];
	uint64_t seq;

	snprintf(id.comm, sizeof(id.comm), "%s", who->comm);
	/* the row's cgroup is as long as a connection's: cut, as there */
	memcpy(id.cgroup, who->cgroup,
	       strnlen(who->cgroup, sizeof(id.cgroup) - 1));
	if (!ancestry_of(who->cgroup, &a, why, sizeof(why)))
		id.cgroup_id = a.ids[0];
	mw_identity_user_name(who->uid, id.user, sizeof(id.user));
	ev.kind = MW_EV_CONTROL;
	ev.ts_us = mw_now_us();
	ev.method = cmd;
	ev.server = server;
	ev.decision = decision;
	ev.detail = detail;
	ev.identity = &id;
	seq = mw_audit_submit(cc->audit, &ev);
	if (!seq)
		log_warn("ALERT (AU-5): %s by uid %u pid %d cannot be recorded "
			 "(%s): %s",
			 cmd, (unsigned)who->uid, (int)who->pid, decision,
			 detail);
	return seq;
}

uint64_t mw_commands_record(struct mw_commands_ctx *cc,
			    const struct mw_control_caller *who,
			    const char *cmd, const char *decision,
			    const char *detail)
{
	return record_control(cc, who, cmd, NULL, decision, detail);
}

/* A command that did not go through, on record. */
static json_t *control_failed(struct mw_commands_ctx *cc,
			      const struct mw_control_caller *who,
			      const char *cmd, const char *server,
			      const char *why)
{
	char detail[4700];

	snprintf(detail, sizeof(detail), "%s failed: %s", cmd, why);
	record_control(cc, who, cmd, server, "error", detail);
	return mw_control_error("%s", why);
}

/*
 * NULL when the caller may weaken enforcement, the command recorded as
 * about to be carried out; otherwise the refusal, alerted and recorded.
 */
static json_t *judge_caller(struct mw_commands_ctx *cc,
			    const struct mw_control_caller *who,
			    const char *cmd, const char *server,
			    const char *what)
{
	struct ancestry a;
	char why[4608], path[4096], detail[4700];
	int r = -1;

	/* a kill(1) that exited at once, the kernel's own signal: no one
	 * to judge, and nothing to alert about */
	if (!who->cgroup[0]) {
		snprintf(why, sizeof(why),
			 "its sender (pid %d) was gone before it could be "
			 "identified: use mcpwarden %s",
			 (int)who->pid, cmd);
		log_warn("%s refused: %s", cmd, why);
		return control_failed(cc, who, cmd, server, why);
	}
	if (!ancestry_of(who->cgroup, &a, why, sizeof(why)))
		r = caller_enforced(cc, &a, path, sizeof(path), why,
				    sizeof(why));
	if (r == 0) {
		if (record_control(cc, who, cmd, server, "allow", what))
			return NULL;
		return mw_control_error(
			"%s refused: it cannot be recorded (the "
			"audit trail takes no events: see the "
			"daemon's log)",
			cmd);
	}
	if (r > 0)
		snprintf(why, sizeof(why),
			 "the caller is under enforcement (cgroup %s): a "
			 "process enforcement watches may not weaken it; run "
			 "it from a cgroup outside",
			 path);
	snprintf(detail, sizeof(detail), "%s refused: %s", cmd, why);
	log_warn("ALERT (AC-3): %s by uid %u pid %d (%s) refused: %s", cmd,
		 (unsigned)who->uid, (int)who->pid, who->comm, why);
	record_control(cc, who, cmd, server, "deny", detail);
	return mw_control_error("%s refused: %s", cmd, why);
}

static int add_existing(void *arg, const struct mw_existing_conn *c)
{
	json_t *e =
		json_pack("{s:i,s:o,s:i,s:s,s:s,s:b}", "pid", c->pid, "comm",
			  shown(c->comm), "fd", c->fd, "local", c->local,
			  "remote", c->remote, "closed", c->closed);

	if (e && c->why[0])
		json_object_set_new(e, "error", json_string(c->why));
	json_array_append_new(arg, e);
	return 0;
}

/*
 * release: the path is forgotten first, so that nothing re-enforces what
 * is released; a cgroup that is gone has no path to look up, and its
 * links go by the id last enforced there.
 */
static int release(struct mw_commands_ctx *cc, const char *path, bool gone,
		   uint64_t last_id, char *err, size_t errlen)
{
	int r, forgot = 0;

	if (!gone && mw_cgroup_id(path, &last_id))
		last_id = 0;
	if (cc->cgwatch &&
	    (forgot = mw_cgwatch_forget(cc->cgwatch, path, err, errlen)) < 0)
		return -1;
	r = gone ? mw_bpf_release_id(cc->bpf, last_id, err, errlen)
		 : mw_bpf_release(cc->bpf, path, err, errlen);
	/* still enforced: remembered again, if it was and its id is known */
	if (r && forgot > 0 && last_id)
		mw_cgwatch_remember(cc->cgwatch, path, last_id);
	return r;
}

static json_t *enforce(struct mw_commands_ctx *cc, json_t *req, bool on,
		       const struct mw_control_caller *who)
{
	const char *given = json_string_value(json_object_get(req, "cgroup"));
	bool kill = json_is_true(json_object_get(req, "kill_existing"));
	const char *cmd = on ? "enforce" : "release";
	char path[4096], err[512], what[4200], not_remembered[700] = "";
	uint64_t id = 0;
	bool gone = false;
	json_t *existing, *r, *e;
	int n, closed = 0;
	size_t i;

	if (!given)
		return control_failed(cc, who, cmd, NULL, "missing cgroup");
	if (mw_cgroup_resolve(given, path, sizeof(path), err, sizeof(err))) {
		/* a cgroup enforced by path, gone now, can be released */
		char lex[4096], e2[512];

		gone = !on && cc->cgwatch &&
		       !mw_cgroup_lexical(given, lex, sizeof(lex), e2,
					  sizeof(e2)) &&
		       mw_cgwatch_waiting(cc->cgwatch, lex, &id);
		if (!gone)
			return control_failed(cc, who, cmd, NULL, err);
		snprintf(path, sizeof(path), "%s", lex);
	}
	snprintf(what, sizeof(what), "%s %s%s", cmd, path,
		 gone ? " (gone: enforced again if made again)" : "");
	if (!on && (r = judge_caller(cc, who, cmd, NULL, what)))
		return r;
	/* enforcing only narrows: it goes ahead unrecorded, alerted */
	if (on)
		record_control(cc, who, cmd, NULL, "allow", what);
	if (on ? mw_bpf_enforce(cc->bpf, path, &id, err, sizeof(err))
	       : release(cc, path, gone, id, err, sizeof(err)))
		return control_failed(cc, who, cmd, NULL, err);
	if (!on)
		return json_pack("{s:b,s:o,s:b}", "ok", 1, "cgroup",
				 shown(path), "was_gone", gone);
	/*
	 * Enforced now, whatever comes of remembering it by path: the
	 * connections that predate it are still listed (and closed) below,
	 * and the caller is told what was not remembered.
	 */
	if (cc->cgwatch &&
	    mw_cgwatch_enforced(cc->cgwatch, path, id, err, sizeof(err))) {
		snprintf(not_remembered, sizeof(not_remembered),
			 "the cgroup is enforced, but only by id: removed and "
			 "made again, it would not be after a restart of the "
			 "daemon (%s)",
			 err);
		log_err("ALERT (AC-3): %s: %s", path, not_remembered);
		record_control(cc, who, cmd, NULL, "error", not_remembered);
	}
	/* Opened before enforcement: never steered, so never recorded. */
	existing = json_array();
	n = mw_cgroup_existing_conns(path, is_protected, cc, kill, add_existing,
				     existing);
	json_array_foreach (existing, i, e)
		closed += json_is_true(json_object_get(e, "closed"));
	if (n < 0)
		log_warn("cannot list existing connections in %s: %s", path,
			 strerror(-n));
	if (n > 0 && kill)
		log_warn("%s: %d connection(s) to protected servers (or "
			 "sockets not inspected) predate enforcement: %d "
			 "closed, %d not",
			 path, n, closed, n - closed);
	else if (n > 0)
		log_warn("%s: %d connection(s) to protected servers (or "
			 "sockets not inspected) predate enforcement",
			 path, n);
	/* killed: every one of them is closed, as the CLI says */
	r = json_pack("{s:b,s:o,s:o,s:b,s:i,s:i}", "ok", 1, "cgroup",
		      shown(path), "existing", existing, "killed",
		      kill && n > 0 && closed == n, "closed", closed,
		      "not_closed", kill && n > 0 ? n - closed : 0);
	if (r && n < 0)
		json_object_set_new(r, "existing_error",
				    json_string(strerror(-n)));
	if (r && not_remembered[0])
		json_object_set_new(r, "not_remembered",
				    json_string(not_remembered));
	return r;
}

/*
 * The CLI's account of the connections that predate enforcement, from the
 * daemon's reply: how many were closed, and which could not be and why.
 */
int mw_print_existing(FILE *out, json_t *resp, bool kill)
{
	json_t *existing = json_object_get(resp, "existing"), *e;
	const char *lerr =
		json_string_value(json_object_get(resp, "existing_error"));
	const char *forgot =
		json_string_value(json_object_get(resp, "not_remembered"));
	size_t i, nconn = 0, nopen = 0, nblind = 0;

	json_array_foreach (existing, i, e) {
		const char *remote =
			json_string_value(json_object_get(e, "remote"));

		if (!remote || !remote[0])
			nblind++;
		else if (nconn++, !json_is_true(json_object_get(e, "closed")))
			nopen++;
	}
	if (nconn && !kill)
		fprintf(out,
			"%zu connection(s) to protected servers were open "
			"before enforcement (not recorded; --kill-existing "
			"closes them):\n",
			nconn);
	else if (nconn && !nopen)
		fprintf(out,
			"%zu connection(s) to protected servers were open "
			"before enforcement and have been closed:\n",
			nconn);
	else if (nconn)
		fprintf(out,
			"%zu connection(s) to protected servers were open "
			"before enforcement: %zu closed, %zu could NOT be "
			"closed (still open, not recorded):\n",
			nconn, nconn - nopen, nopen);
	json_array_foreach (existing, i, e) {
		const char *remote =
			json_string_value(json_object_get(e, "remote"));
		const char *why =
			json_string_value(json_object_get(e, "error"));

		if (!remote || !remote[0])
			continue;
		fprintf(out, "  pid %lld %s %s -> %s",
			json_integer_value(json_object_get(e, "pid")),
			json_string_value(json_object_get(e, "comm")) ?: "",
			json_string_value(json_object_get(e, "local")) ?: "",
			remote);
		if (kill && !json_is_true(json_object_get(e, "closed")))
			fprintf(out, "  NOT closed: %s", why ?: "unknown");
		else if (why)
			fprintf(out, "  (%s)", why);
		fputc('\n', out);
	}
	if (nblind) {
		fprintf(out,
			"%zu socket(s) could not be inspected; any may be a "
			"connection to a protected server%s:\n",
			nblind, kill ? ", and stays open" : "");
		json_array_foreach (existing, i, e) {
			const char *remote =
				json_string_value(json_object_get(e, "remote"));

			if (remote && remote[0])
				continue;
			json_int_t fd =
				json_integer_value(json_object_get(e, "fd"));

			fprintf(out, "  pid %lld %s ",
				json_integer_value(json_object_get(e, "pid")),
				json_string_value(json_object_get(e, "comm"))
					?: "");
			/* fd -1: its whole file table */
			if (fd >= 0)
				fprintf(out, "fd %lld: ", fd);
			fprintf(out, "%s\n",
				json_string_value(json_object_get(e, "error"))
					?: "unknown");
		}
	}
	if (lerr)
		fprintf(out,
			"the connections open before enforcement could not "
			"be listed%s: %s\n",
			kill ? ", so none was closed" : "", lerr);
	if (forgot)
		fprintf(out, "warning: %s\n", forgot);
	return (kill && (nopen || nblind || lerr)) || forgot ? 1 : 0;
}

/* An operator accepts what a server lists now as its tools. */
static json_t *accept_tools(struct mw_commands_ctx *cc, json_t *req,
			    const struct mw_control_caller *who)
{
	const char *server = json_string_value(json_object_get(req, "server"));
	struct mw_audit_event ev = { 0 };
	char err[512], detail[128];
	bool known = false;
	json_t *r;
	size_t n;

	if (!server)
		return control_failed(cc, who, "accept-tools", NULL,
				      "missing server");
	for (size_t i = 0; i < cc->cfg->nservers; i++)
		known |= !strcmp(cc->cfg->servers[i].name, server);
	if (!known) {
		snprintf(err, sizeof(err), "no server named '%s'", server);
		return control_failed(cc, who, "accept-tools", NULL, err);
	}
	if ((r = judge_caller(cc, who, "accept-tools", server, "accept-tools")))
		return r;
	if (mw_pins_accept(cc->pins, server, &n, err, sizeof(err)))
		return control_failed(cc, who, "accept-tools", server, err);
	snprintf(detail, sizeof(detail),
		 "%zu changed definition(s) accepted by the operator", n);
	ev.kind = MW_EV_TOOLS_ACCEPTED;
	ev.ts_us = mw_now_us();
	ev.server = server;
	ev.detail = detail;
	if (!mw_audit_submit(cc->audit, &ev))
		log_warn("audit queue full, not recorded: %s: %s", server,
			 detail);
	log_info("%s: %s", server, detail);
	return json_pack("{s:b,s:s,s:I,s:o}", "ok", 1, "server", server,
			 "accepted", (json_int_t)n, "tools",
			 mw_pins_json(cc->pins, server));
}

static json_t *reload(struct mw_commands_ctx *cc,
		      const struct mw_control_caller *who)
{
	char msg[2048];
	json_t *r;

	if (!cc->reload)
		return control_failed(cc, who, "reload", NULL,
				      "reload is not available");
	if ((r = judge_caller(cc, who, "reload", NULL, "reload")))
		return r;
	if (cc->reload(cc->reload_arg, msg, sizeof(msg)))
		return control_failed(cc, who, "reload", NULL, msg);
	return json_pack("{s:b,s:s,s:o}", "ok", 1, "message", msg, "policy",
			 policy_status(cc->cfg));
}

json_t *mw_commands_handle(struct mw_commands_ctx *cc, const char *cmd,
			   json_t *req, const struct mw_control_caller *who)
{
	if (!strcmp(cmd, "status"))
		return status(cc);
	if (!strcmp(cmd, "enforce"))
		return enforce(cc, req, true, who);
	if (!strcmp(cmd, "release"))
		return enforce(cc, req, false, who);
	if (!strcmp(cmd, "reload"))
		return reload(cc, who);
	if (!strcmp(cmd, "accept-tools"))
		return accept_tools(cc, req, who);
	return mw_control_error("unknown command '%s'", cmd);
}
