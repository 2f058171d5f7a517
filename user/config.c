// SPDX-License-Identifier: BSD-2-Clause
#include "config.h"
#include "mask_load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "pgcopy.h"
#include "private_dir.h"
#include "spool.h"
#include "yaml_util.h"

/* A message recorded whole whose JSON is written back no longer than it
 * came fits a line of the spool and of the verifier, escaped (twice its
 * bytes), with room for the event's other fields. One whose reals are
 * written back longer (up to 5 times: 0.1 as 0.10000000000000001) may
 * not: the audit writer refuses its event, and the proxy its request
 * (config.h; audit.c, LINE_MAX_BYTES). */
_Static_assert(2ull * MW_MAX_RECORDED_MESSAGE + (1u << 20) <=
			       MW_SPOOL_LINE_MAX &&
		       2ull * MW_MAX_RECORDED_MESSAGE + (1u << 20) <=
			       MW_PGCOPY_MAX_LINE,
	       "a recorded message may not fit a line of the trail");

static int get_size(struct mw_yaml_ctx *c, yaml_node_t *n, const char *key,
		    size_t min, size_t max, size_t *out)
{
	unsigned long long v;

	if (mw_yaml_get_uint(c, n, key, min, max, &v))
		return -1;
	*out = (size_t)v;
	return 0;
}

static int get_ms(struct mw_yaml_ctx *c, yaml_node_t *n, const char *key,
		  int *out)
{
	unsigned long long v;

	if (mw_yaml_get_uint(c, n, key, 1, 24ULL * 3600 * 1000, &v))
		return -1;
	*out = (int)v;
	return 0;
}

int mw_parse_hostport(const char *s, struct sockaddr_storage *ss, char *err,
		      size_t errlen)
{
	char host[256];
	const char *port_s;
	unsigned long port;
	char *end;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			goto bad;
		hl = (size_t)(rb - s - 1);
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, s + 1, hl);
		port_s = rb + 2;
	} else {
		const char *colon = strrchr(s, ':');

		if (!colon || strchr(s, ':') != colon)
			goto bad;
		hl = (size_t)(colon - s);
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, s, hl);
		port_s = colon + 1;
	}
	host[hl] = '\0';
	errno = 0;
	port = strtoul(port_s, &end, 10);
	if (errno || *end || !*port_s || port == 0 || port > 65535)
		goto bad;
	if (s[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			goto bad;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			goto bad;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
	}
	return 0;
bad:
	snprintf(err, errlen,
		 "'%s' is not an address: expected a.b.c.d:port or [v6]:port",
		 s);
	return -1;
}

void mw_format_ip(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	const void *a =
		ss->ss_family == AF_INET
			? (const void *)&((const struct sockaddr_in *)ss)
				  ->sin_addr
			: (const void *)&((const struct sockaddr_in6 *)ss)
				  ->sin6_addr;

	if ((ss->ss_family != AF_INET && ss->ss_family != AF_INET6) ||
	    !inet_ntop(ss->ss_family, a, out, (socklen_t)outlen))
		snprintf(out, outlen, "?");
}

void mw_format_addr(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	char a[INET6_ADDRSTRLEN];

	mw_format_ip(ss, a, sizeof(a));
	if (ss->ss_family == AF_INET)
		snprintf(out, outlen, "%s:%u", a,
			 ntohs(((const struct sockaddr_in *)ss)->sin_port));
	else if (ss->ss_family == AF_INET6)
		snprintf(out, outlen, "[%s]:%u", a,
			 ntohs(((const struct sockaddr_in6 *)ss)->sin6_port));
	else
		snprintf(out, outlen, "?");
}

void mw_addr_to_mapped(const struct sockaddr_storage *sa, uint8_t out[16],
		       uint16_t *port)
{
	memset(out, 0, 16);
	*port = 0;
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		out[10] = 0xff;
		out[11] = 0xff;
		memcpy(out + 12, &in->sin_addr, 4);
		*port = ntohs(in->sin_port);
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)sa;

		memcpy(out, &in6->sin6_addr, 16);
		*port = ntohs(in6->sin6_port);
	}
}

void mw_mapped_to_addr(const uint8_t a[16], uint16_t port,
		       struct sockaddr_storage *ss)
{
	static const uint8_t v4pfx[12] = { 0, 0, 0, 0, 0,    0,
					   0, 0, 0, 0, 0xff, 0xff };

	memset(ss, 0, sizeof(*ss));
	if (!memcmp(a, v4pfx, sizeof(v4pfx))) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a + 12, 4);
		s4->sin_port = htons(port);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a, 16);
		s6->sin6_port = htons(port);
	}
}

void mw_control_path(const struct mw_config *cfg, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/control.sock", cfg->state_dir);
}

static bool same_ip(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		       &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
}

static bool is_loopback_or_any(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		uint32_t a = ntohl(
			((const struct sockaddr_in *)ss)->sin_addr.s_addr);

		return (a >> 24) == 127 || a == 0;
	}
	const struct in6_addr *a6 =
		&((const struct sockaddr_in6 *)ss)->sin6_addr;

	return IN6_IS_ADDR_LOOPBACK(a6) || IN6_IS_ADDR_UNSPECIFIED(a6);
}

/*
 * An IPv4-mapped address ([::ffff:127.0.0.1]) is kept as the IPv4 one it
 * stands for: the same server, which must be found local as 127.0.0.1 is
 * and equal to it among the host's addresses.
 */
static int add_addr(struct mw_server_cfg *s, const struct sockaddr *sa)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	struct sockaddr_storage ss = { 0 };

	if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
	} else if (sa->sa_family == AF_INET)
		memcpy(&ss, sa, sizeof(struct sockaddr_in));
	else if (sa->sa_family == AF_INET6)
		memcpy(&ss, sa, sizeof(struct sockaddr_in6));
	else
		return 0;
	for (size_t i = 0; i < s->naddrs; i++)
		if (same_ip(&s->addrs[i], (struct sockaddr *)&ss))
			return 0;
	if (s->naddrs == MW_MAX_SERVER_ADDRS)
		return -1;
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(s->port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(s->port);
	s->addrs[s->naddrs++] = ss;
	return 0;
}

/*
 * A server on this host answers on every local address, so a client could
 * reach it through any of them: it is marked local, and the daemon
 * protects its port at each of the host's addresses (local_addrs.h).
 */
static int expand_local(struct mw_yaml_ctx *c, yaml_node_t *n,
			struct mw_server_cfg *s)
{
	struct ifaddrs *ifa, *i;
	bool local = false;

	if (getifaddrs(&ifa))
		return mw_yaml_fail(c, n, "getifaddrs: %s", strerror(errno));
	for (size_t k = 0; k < s->naddrs && !local; k++) {
		if (is_loopback_or_any(&s->addrs[k]))
			local = true;
		for (i = ifa; i && !local; i = i->ifa_next)
			if (i->ifa_addr && same_ip(&s->addrs[k], i->ifa_addr))
				local = true;
	}
	s->local = local;
	freeifaddrs(ifa);
	return 0;
}

static int parse_server(struct mw_yaml_ctx *c, yaml_node_t *n,
			struct mw_server_cfg *s, bool resolve)
{
	yaml_node_pair_t *p;
	char host[256];
	const char *port_s;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *r;
	unsigned long port;
	char *end;
	int rc;

	if (n->type != YAML_MAPPING_NODE)
		return mw_yaml_fail(c, n, "servers: each entry is a mapping");
	if (mw_yaml_check_unique_keys(c, n))
		return -1;
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = mw_yaml_node(c, p->key);
		yaml_node_t *v = mw_yaml_node(c, p->value);
		const char *key = mw_yaml_scalar(k);

		if (!key)
			return mw_yaml_fail(c, k, "expected a key");
		if (!strcmp(key, "name")) {
			if (mw_yaml_get_string(c, v, "name", s->name,
					       sizeof(s->name)))
				return -1;
		} else if (!strcmp(key, "address")) {
			if (mw_yaml_get_string(c, v, "address", s->address,
					       sizeof(s->address)))
				return -1;
		} else {
			return mw_yaml_fail(c, k, "servers: unknown key '%s'",
					    key);
		}
	}
	if (!s->name[0] || !s->address[0])
		return mw_yaml_fail(c, n,
				    "servers: each needs a name and address");
	for (const char *q = s->name; *q; q++)
		if (!(*q == '-' || *q == '_' || *q == '.' ||
		      (*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z') ||
		      (*q >= 'A' && *q <= 'Z')))
			return mw_yaml_fail(c, n,
					    "server name '%s': use letters, "
					    "digits, '-', '_', '.'",
					    s->name);

	/* host:port, [v6]:port; host names are resolved now, at load. */
	if (s->address[0] == '[') {
		char *rb = strchr(s->address, ']');

		if (!rb || rb[1] != ':')
			goto bad_addr;
		snprintf(host, sizeof(host), "%.*s", (int)(rb - s->address - 1),
			 s->address + 1);
		port_s = rb + 2;
	} else {
		char *colon = strrchr(s->address, ':');

		if (!colon || strchr(s->address, ':') != colon)
			goto bad_addr;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - s->address),
			 s->address);
		port_s = colon + 1;
	}
	errno = 0;
	port = strtoul(port_s, &end, 10);
	if (errno || *end || !*port_s || port == 0 || port > 65535)
		goto bad_addr;
	s->port = (uint16_t)port;
	if (!resolve)
		return 0;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc)
		return mw_yaml_fail(c, n, "server %s: cannot resolve '%s': %s",
				    s->name, host, gai_strerror(rc));
	for (r = res; r; r = r->ai_next)
		if (add_addr(s, r->ai_addr)) {
			freeaddrinfo(res);
			return mw_yaml_fail(
				c, n, "server %s: too many addresses", s->name);
		}
	freeaddrinfo(res);
	return expand_local(c, n, s);
bad_addr:
	return mw_yaml_fail(c, n, "server %s: address '%s' is not host:port",
			    s->name, s->address);
}

static int parse_servers(struct mw_yaml_ctx *c, yaml_node_t *n,
			 struct mw_config *cfg, bool resolve)
{
	size_t count;

	if (n->type != YAML_SEQUENCE_NODE)
		return mw_yaml_fail(c, n, "servers: expected a list");
	count = (size_t)(n->data.sequence.items.top -
			 n->data.sequence.items.start);
	if (count > MW_MAX_CONFIG_SERVERS)
		return mw_yaml_fail(c, n, "servers: at most %d",
				    MW_MAX_CONFIG_SERVERS);
	cfg->servers = calloc(count ? count : 1, sizeof(*cfg->servers));
	if (!cfg->servers)
		return mw_yaml_fail(c, n, "out of memory");
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *item =
			mw_yaml_node(c, n->data.sequence.items.start[i]);

		if (parse_server(c, item, &cfg->servers[i], resolve))
			return -1;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(cfg->servers[j].name, cfg->servers[i].name))
				return mw_yaml_fail(
					c, item, "servers: duplicate name '%s'",
					cfg->servers[i].name);
		cfg->nservers++;
	}
	return 0;
}

/*
 * A user's quarter of max_buffered_bytes must hold the largest message
 * twice over: a buffer grows by doubling, and an event being assembled is
 * held twice (its lines and its data).
 */
static int check_buffered_bytes(struct mw_yaml_ctx *c, yaml_node_t *n,
				const struct mw_limits *l)
{
	size_t largest = l->max_body_bytes > 2 * l->max_sse_event_bytes
				 ? l->max_body_bytes
				 : 2 * l->max_sse_event_bytes;

	if (l->max_buffered_bytes / 4 >= 2 * largest)
		return 0;
	return mw_yaml_fail(c, n,
			    "limits: max_buffered_bytes %zu is too small for "
			    "max_body_bytes and max_sse_event_bytes: a user's "
			    "quarter must hold twice the largest message (at "
			    "least %zu)",
			    l->max_buffered_bytes, 8 * largest);
}

static int parse_limits(struct mw_yaml_ctx *c, yaml_node_t *n,
			struct mw_limits *l)
{
	if (n->type != YAML_MAPPING_NODE)
		return mw_yaml_fail(c, n, "limits: expected a mapping");
	if (mw_yaml_check_unique_keys(c, n))
		return -1;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = mw_yaml_node(c, p->key);
		yaml_node_t *v = mw_yaml_node(c, p->value);
		const char *key = mw_yaml_scalar(k);
		int rc;

		if (!key)
			return mw_yaml_fail(c, k, "expected a key");
		if (!strcmp(key, "max_header_bytes"))
			rc = get_size(c, v, key, 1024, 1 << 20,
				      &l->max_header_bytes);
		else if (!strcmp(key, "max_body_bytes"))
			rc = get_size(c, v, key, 1024, MW_MAX_RECORDED_MESSAGE,
				      &l->max_body_bytes);
		else if (!strcmp(key, "max_sse_event_bytes"))
			rc = get_size(c, v, key, 1024, MW_MAX_RECORDED_MESSAGE,
				      &l->max_sse_event_bytes);
		else if (!strcmp(key, "max_connections"))
			rc = get_size(c, v, key, 1, 1 << 20,
				      &l->max_connections);
		else if (!strcmp(key, "max_buffered_bytes"))
			/* a user's quarter holds the largest message */
			rc = get_size(c, v, key, 4 * MW_MAX_RECORDED_MESSAGE,
				      SIZE_MAX / 2, &l->max_buffered_bytes);
		else if (!strcmp(key, "header_timeout_ms"))
			rc = get_ms(c, v, key, &l->header_timeout_ms);
		else if (!strcmp(key, "body_timeout_ms"))
			rc = get_ms(c, v, key, &l->body_timeout_ms);
		else if (!strcmp(key, "send_timeout_ms"))
			rc = get_ms(c, v, key, &l->send_timeout_ms);
		else if (!strcmp(key, "idle_timeout_ms"))
			rc = get_ms(c, v, key, &l->idle_timeout_ms);
		else if (!strcmp(key, "connect_timeout_ms"))
			rc = get_ms(c, v, key, &l->connect_timeout_ms);
		else
			return mw_yaml_fail(c, k, "limits: unknown key '%s'",
					    key);
		if (rc)
			return -1;
	}
	return check_buffered_bytes(c, n, l);
}

/*
 * A path the daemon and the CLI both open: relative, each would find it
 * from its own working directory (`audit verify` another checkpoint file
 * than the daemon's). empty_ok: "" keeps the default.
 */
static int get_abs_path(struct mw_yaml_ctx *c, yaml_node_t *v, const char *key,
			bool empty_ok, char *out, size_t outlen)
{
	if (mw_yaml_get_string(c, v, key, out, outlen))
		return -1;
	if (out[0] == '/' || (!out[0] && empty_ok))
		return 0;
	return mw_yaml_fail(c, v, "%s: must be absolute", key);
}

static int parse_audit(struct mw_yaml_ctx *c, yaml_node_t *n,
		       struct mw_config *cfg)
{
	if (n->type != YAML_MAPPING_NODE)
		return mw_yaml_fail(c, n, "audit: expected a mapping");
	if (mw_yaml_check_unique_keys(c, n))
		return -1;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = mw_yaml_node(c, p->key);
		yaml_node_t *v = mw_yaml_node(c, p->value);
		const char *key = mw_yaml_scalar(k);
		int rc;

		if (!key)
			return mw_yaml_fail(c, k, "expected a key");
		if (!strcmp(key, "dsn"))
			rc = mw_yaml_get_string(c, v, key, cfg->audit.dsn,
						sizeof(cfg->audit.dsn));
		else if (!strcmp(key, "writer_dsn"))
			rc = mw_yaml_get_string(c, v, key,
						cfg->audit.writer_dsn,
						sizeof(cfg->audit.writer_dsn));
		else if (!strcmp(key, "auditor_dsn"))
			rc = mw_yaml_get_string(c, v, key,
						cfg->audit.auditor_dsn,
						sizeof(cfg->audit.auditor_dsn));
		else if (!strcmp(key, "checkpoint_file"))
			rc = get_abs_path(c, v, key, true,
					  cfg->audit.checkpoint_file,
					  sizeof(cfg->audit.checkpoint_file));
		else if (!strcmp(key, "checkpoint_events"))
			rc = get_size(c, v, key, 1, 10000000,
				      &cfg->audit.checkpoint_events);
		else if (!strcmp(key, "checkpoint_ms"))
			rc = get_ms(c, v, key, &cfg->audit.checkpoint_ms);
		else if (!strcmp(key, "spool_dir"))
			rc = get_abs_path(c, v, key, true, cfg->audit.spool_dir,
					  sizeof(cfg->audit.spool_dir));
		else if (!strcmp(key, "spool_after_ms"))
			rc = get_ms(c, v, key, &cfg->audit.spool_after_ms);
		else if (!strcmp(key, "durable_timeout_ms"))
			rc = get_ms(c, v, key, &cfg->audit.durable_timeout_ms);
		else if (!strcmp(key, "durable_before_forward"))
			rc = mw_yaml_get_bool(
				c, v, key, &cfg->audit.durable_before_forward);
		else if (!strcmp(key, "spool_first"))
			rc = mw_yaml_get_bool(c, v, key,
					      &cfg->audit.spool_first);
		else if (!strcmp(key, "embedded_user"))
			rc = mw_yaml_get_string(
				c, v, key, cfg->audit.embedded_user,
				sizeof(cfg->audit.embedded_user));
		else if (!strcmp(key, "batch_ms"))
			rc = get_ms(c, v, key, &cfg->audit.batch_ms);
		else if (!strcmp(key, "batch_max"))
			rc = get_size(c, v, key, 1, 100000,
				      &cfg->audit.batch_max);
		else if (!strcmp(key, "max_queue"))
			rc = get_size(c, v, key, 16, 10000000,
				      &cfg->audit.max_queue);
		/* at least room for the largest event's line or two */
		else if (!strcmp(key, "max_queue_bytes"))
			rc = get_size(c, v, key, (size_t)64 << 20,
				      (size_t)1 << 40,
				      &cfg->audit.max_queue_bytes);
		else
			return mw_yaml_fail(c, k, "audit: unknown key '%s'",
					    key);
		if (rc)
			return -1;
	}
	return 0;
}

static int parse_listen(struct mw_yaml_ctx *c, yaml_node_t *v, const char *key,
			int family, struct sockaddr_storage *ss)
{
	char buf[128], why[256];

	if (mw_yaml_get_string(c, v, key, buf, sizeof(buf)))
		return -1;
	if (mw_parse_hostport(buf, ss, why, sizeof(why)))
		return mw_yaml_fail(c, v, "%s: %s", key, why);
	if (ss->ss_family != family)
		return mw_yaml_fail(c, v, "%s: expected an %s address", key,
				    family == AF_INET ? "IPv4" : "IPv6");
	return 0;
}

/* True when a path component is "..": the prefix check alone is not enough. */
static bool has_dot_dot(const char *path)
{
	for (const char *p = path; (p = strstr(p, "..")); p += 2)
		if ((p == path || p[-1] == '/') && (p[2] == '/' || !p[2]))
			return true;
	return false;
}

/* The policy's keys, read with the rest, loaded once servers are known. */
struct policy_nodes {
	yaml_node_t *file_key, *file, *default_node, *rules;
	yaml_node_t *detectors, *masking;
};

static int parse_root(struct mw_yaml_ctx *c, yaml_node_t *root,
		      struct mw_config *cfg, struct policy_nodes *pn,
		      bool resolve)
{
	if (!root)
		return mw_yaml_fail(c, NULL, "empty file");
	if (root->type != YAML_MAPPING_NODE)
		return mw_yaml_fail(c, root, "expected a mapping at the top");
	if (mw_yaml_check_unique_keys(c, root))
		return -1;
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = mw_yaml_node(c, p->key);
		yaml_node_t *v = mw_yaml_node(c, p->value);
		const char *key = mw_yaml_scalar(k);
		char level[16];
		int rc;

		if (!key)
			return mw_yaml_fail(c, k, "expected a key");
		if (!strcmp(key, "listen")) {
			rc = parse_listen(c, v, key, AF_INET, &cfg->listen4);
		} else if (!strcmp(key, "listen6")) {
			const char *s = mw_yaml_scalar(v);

			if (s && !*s) {
				cfg->has_listen6 = false;
				rc = 0;
			} else {
				rc = parse_listen(c, v, key, AF_INET6,
						  &cfg->listen6);
				cfg->has_listen6 = true;
			}
		} else if (!strcmp(key, "state_dir")) {
			rc = get_abs_path(c, v, key, false, cfg->state_dir,
					  sizeof(cfg->state_dir));
		} else if (!strcmp(key, "bpf_pin_dir")) {
			rc = mw_yaml_get_string(c, v, key, cfg->bpf_pin_dir,
						sizeof(cfg->bpf_pin_dir));
			if (!rc &&
			    (strncmp(cfg->bpf_pin_dir, "/sys/fs/bpf/", 12) ||
			     has_dot_dot(cfg->bpf_pin_dir)))
				rc = mw_yaml_fail(c, v,
						  "bpf_pin_dir: must be under "
						  "/sys/fs/bpf/");
		} else if (!strcmp(key, "splice")) {
			rc = mw_yaml_get_bool(c, v, key, &cfg->splice);
		} else if (!strcmp(key, "busy_poll_us")) {
			unsigned long long us;

			rc = mw_yaml_get_uint(c, v, key, 0, MW_MAX_BUSY_POLL_US,
					      &us);
			if (!rc)
				cfg->busy_poll_us = (unsigned)us;
		} else if (!strcmp(key, "host")) {
			rc = mw_yaml_get_string(c, v, key, cfg->host,
						sizeof(cfg->host));
		} else if (!strcmp(key, "log_level")) {
			rc = mw_yaml_get_string(c, v, key, level,
						sizeof(level));
			if (rc)
				;
			else if (!strcmp(level, "debug"))
				cfg->log_level = MW_LOG_DEBUG;
			else if (!strcmp(level, "info"))
				cfg->log_level = MW_LOG_INFO;
			else if (!strcmp(level, "warn"))
				cfg->log_level = MW_LOG_WARN;
			else if (!strcmp(level, "error"))
				cfg->log_level = MW_LOG_ERR;
			else
				rc = mw_yaml_fail(c, v,
						  "log_level: debug, info, "
						  "warn or error");
		} else if (!strcmp(key, "limits")) {
			rc = parse_limits(c, v, &cfg->limits);
		} else if (!strcmp(key, "audit")) {
			rc = parse_audit(c, v, cfg);
		} else if (!strcmp(key, "servers")) {
			rc = parse_servers(c, v, cfg, resolve);
		} else if (!strcmp(key, "policy")) {
			pn->file_key = k;
			pn->file = v;
			rc = 0;
		} else if (!strcmp(key, "default")) {
			pn->default_node = v;
			rc = 0;
		} else if (!strcmp(key, "rules")) {
			pn->rules = v;
			rc = 0;
		} else if (!strcmp(key, "detectors")) {
			pn->detectors = v;
			rc = 0;
		} else if (!strcmp(key, "masking")) {
			pn->masking = v;
			rc = 0;
		} else {
			rc = mw_yaml_fail(c, k, "unknown key '%s'", key);
		}
		if (rc)
			return -1;
	}
	return 0;
}

static void set_defaults(struct mw_config *cfg)
{
	struct sockaddr_in *l4 = (struct sockaddr_in *)&cfg->listen4;
	struct sockaddr_in6 *l6 = (struct sockaddr_in6 *)&cfg->listen6;

	memset(cfg, 0, sizeof(*cfg));
	l4->sin_family = AF_INET;
	l4->sin_port = htons(15100);
	l4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l6->sin6_family = AF_INET6;
	l6->sin6_port = htons(15100);
	l6->sin6_addr = in6addr_loopback;
	cfg->has_listen6 = true;
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "/var/lib/mcpwarden");
	snprintf(cfg->bpf_pin_dir, sizeof(cfg->bpf_pin_dir),
		 "/sys/fs/bpf/mcpwarden");
	cfg->log_level = MW_LOG_INFO;
	cfg->limits.max_header_bytes = 64 << 10;
	cfg->limits.max_body_bytes = 8 << 20;
	cfg->limits.max_sse_event_bytes = 4 << 20;
	cfg->limits.max_connections = 4096;
	cfg->limits.max_buffered_bytes = (size_t)256 << 20;
	cfg->busy_poll_us = MW_DEFAULT_BUSY_POLL_US;
	cfg->limits.header_timeout_ms = 10000;
	cfg->limits.body_timeout_ms = 60000;
	cfg->limits.send_timeout_ms = 60000;
	cfg->limits.idle_timeout_ms = 300000;
	cfg->limits.connect_timeout_ms = 5000;
	snprintf(cfg->audit.embedded_user, sizeof(cfg->audit.embedded_user),
		 "mcpwarden");
	cfg->audit.batch_ms = 10;
	cfg->audit.batch_max = 512;
	cfg->audit.max_queue = 100000;
	cfg->audit.max_queue_bytes = (size_t)512 << 20;
	cfg->audit.checkpoint_events = 10000;
	cfg->audit.checkpoint_ms = 10000;
	cfg->audit.spool_after_ms = 200;
	cfg->audit.durable_timeout_ms = 10000;
	cfg->audit.durable_before_forward = true;
	cfg->audit.spool_first = true;
}

/* "policy: FILE" is relative to the directory of the configuration. */
static int policy_path(struct mw_yaml_ctx *c, const struct policy_nodes *pn,
		       char *out, size_t outlen)
{
	char name[PATH_MAX];
	const char *slash = strrchr(c->file, '/');
	int n;

	if (mw_yaml_get_string(c, pn->file, "policy", name, sizeof(name)))
		return -1;
	if (!name[0])
		return mw_yaml_fail(c, pn->file,
				    "policy: expected a file name");
	if (name[0] == '/' || !slash)
		n = snprintf(out, outlen, "%s", name);
	else
		n = snprintf(out, outlen, "%.*s/%s", (int)(slash - c->file),
			     c->file, name);
	if (n < 0 || (size_t)n >= outlen)
		return mw_yaml_fail(c, pn->file, "policy: path too long");
	return 0;
}

static int load_policy(struct mw_yaml_ctx *c, struct mw_config *cfg,
		       const struct policy_nodes *pn, const char *bytes,
		       size_t len, bool trusted)
{
	const char **names;
	int rc;

	if (pn->file && (pn->default_node || pn->rules))
		return mw_yaml_fail(c, pn->file_key,
				    "policy: names a policy file, so 'default' "
				    "and 'rules' cannot be here too");
	if (pn->file) {
		if (policy_path(c, pn, cfg->policy_file,
				sizeof(cfg->policy_file)) ||
		    (trusted &&
		     mw_private_file_check(cfg->policy_file, "policy", c->err,
					   c->errlen)) ||
		    mw_policy_load_file(cfg->policy_file, &cfg->policy, NULL,
					c->err, c->errlen))
			return -1;
	} else if (pn->default_node || pn->rules) {
		snprintf(cfg->policy_file, sizeof(cfg->policy_file), "%s",
			 cfg->path);
		if (mw_policy_from_yaml(c, pn->default_node, pn->rules, bytes,
					len, &cfg->policy))
			return -1;
	} else {
		snprintf(cfg->policy_file, sizeof(cfg->policy_file), "%s",
			 cfg->path);
		cfg->policy = mw_policy_allow_all(bytes, len);
		if (!cfg->policy)
			return mw_yaml_fail(c, NULL, "out of memory");
	}
	snprintf(cfg->policy_sha256, sizeof(cfg->policy_sha256), "%s",
		 mw_policy_sha256(cfg->policy));
	names = calloc(cfg->nservers ? cfg->nservers : 1, sizeof(*names));
	if (!names)
		return mw_yaml_fail(c, NULL, "out of memory");
	for (size_t i = 0; i < cfg->nservers; i++)
		names[i] = cfg->servers[i].name;
	rc = mw_policy_check_servers(cfg->policy, names, cfg->nservers, c->err,
				     c->errlen);
	if (!rc)
		rc = mw_mask_from_yaml(c, pn->detectors, pn->masking, names,
				       cfg->nservers, &cfg->masker);
	free(names);
	return rc;
}

int mw_config_load(const char *path, struct mw_config *cfg, char *err,
		   size_t errlen)
{
	return mw_config_load_opts(
		path, cfg, MW_CONFIG_POLICY | MW_CONFIG_RESOLVE, err, errlen);
}

static int load(const char *path, struct mw_config *cfg, unsigned what,
		bool trusted, char *err, size_t errlen)
{
	struct mw_yaml_ctx c = { .err = err, .errlen = errlen, .file = path };
	struct policy_nodes pn = { 0 };
	yaml_document_t doc;
	char *bytes;
	size_t len;
	int rc;

	set_defaults(cfg);
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	/*
	 * It decides what is enforced: read only when nobody but root (or
	 * this uid) could have written or swapped it. Read once: the
	 * policy's hash covers exactly the bytes parsed.
	 */
	if ((trusted &&
	     mw_private_file_check(path, "configuration", err, errlen)) ||
	    mw_yaml_read_file(path, MW_CONFIG_MAX_BYTES, &bytes, &len, err,
			      errlen))
		return -1;
	rc = mw_yaml_parse(&c, bytes, len, &doc);
	if (rc)
		goto out;
	rc = parse_root(&c, yaml_document_get_root_node(&doc), cfg, &pn,
			what & MW_CONFIG_RESOLVE);
	if (!rc && (what & MW_CONFIG_POLICY))
		rc = load_policy(&c, cfg, &pn, bytes, len, trusted);
	yaml_document_delete(&doc);
	if (!rc && !cfg->host[0] && gethostname(cfg->host, sizeof(cfg->host)))
		snprintf(cfg->host, sizeof(cfg->host), "localhost");
	if (!rc && cfg->has_listen6 &&
	    ((struct sockaddr_in6 *)&cfg->listen6)->sin6_port == 0)
		cfg->has_listen6 = false;
out:
	free(bytes);
	if (rc)
		mw_config_free(cfg);
	return rc;
}

int mw_config_load_opts(const char *path, struct mw_config *cfg, unsigned what,
			char *err, size_t errlen)
{
	return load(path, cfg, what, true, err, errlen);
}

int mw_config_load_text(const char *path, struct mw_config *cfg, char *err,
			size_t errlen)
{
	return load(path, cfg, MW_CONFIG_POLICY | MW_CONFIG_RESOLVE, false, err,
		    errlen);
}

void mw_config_free(struct mw_config *cfg)
{
	free(cfg->servers);
	cfg->servers = NULL;
	cfg->nservers = 0;
	mw_policy_free(cfg->policy);
	cfg->policy = NULL;
	mw_masker_free(cfg->masker);
	cfg->masker = NULL;
}

void mw_config_audit(const struct mw_config *cfg, struct mw_audit_config *out)
{
	*out = (struct mw_audit_config){
		.dsn = cfg->audit.dsn,
		.writer_dsn = cfg->audit.writer_dsn,
		.auditor_dsn = cfg->audit.auditor_dsn,
		.state_dir = cfg->state_dir,
		.host = cfg->host,
		.embedded_user = cfg->audit.embedded_user,
		.max_queue = cfg->audit.max_queue,
		.max_queue_bytes = cfg->audit.max_queue_bytes,
		/* a request waiting for its commit wants the next COPY at
		 * once (batches still grow while one is in flight); one
		 * waiting for the spool leaves the database its batches */
		.batch_ms = cfg->audit.durable_before_forward &&
					    !cfg->audit.spool_first
				    ? 0
				    : cfg->audit.batch_ms,
		.batch_max = cfg->audit.batch_max,
		.checkpoint_events = cfg->audit.checkpoint_events,
		.checkpoint_ms = cfg->audit.checkpoint_ms,
		.checkpoint_file = cfg->audit.checkpoint_file,
		.spool_dir = cfg->audit.spool_dir,
		.spool_after_ms = cfg->audit.spool_after_ms,
		.spool_first = cfg->audit.durable_before_forward &&
			       cfg->audit.spool_first,
	};
}
