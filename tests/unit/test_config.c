// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define CONF_ERRLEN 512

/* Each test writes its file under a fresh name; removed by conf_cleanup. */
static char conf_path[64];

static void conf_cleanup(void)
{
	if (conf_path[0])
		unlink(conf_path);
	conf_path[0] = '\0';
}

static const char *conf_write_bytes(const char *text, size_t len)
{
	int fd;

	conf_cleanup();
	snprintf(conf_path, sizeof(conf_path), "/tmp/mw-conf-XXXXXX");
	fd = mkstemp(conf_path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return conf_path;
}

static const char *conf_write(const char *yaml)
{
	return conf_write_bytes(yaml, strlen(yaml));
}

static void conf_load_ok(const char *yaml, struct mw_config *cfg)
{
	char err[CONF_ERRLEN] = "";
	const char *path = conf_write(yaml);

	cr_assert_eq(mw_config_load(path, cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg->path, path);
}

/*
 * Expects the load to fail with "<file>:<line>: ..." (line 0: no line)
 * and a reason containing want.
 */
static void conf_load_fails(const char *yaml, int line, const char *want)
{
	struct mw_config cfg;
	char err[CONF_ERRLEN] = "", prefix[128];
	const char *path = conf_write(yaml);

	cr_assert_eq(mw_config_load(path, &cfg, err, sizeof(err)), -1,
		     "loaded: %s", yaml);
	if (line)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", path);
	cr_assert_eq(strncmp(err, prefix, strlen(prefix)), 0,
		     "'%s' does not start with '%s'", err, prefix);
	cr_assert(strstr(err, want), "'%s' does not say '%s'", err, want);
	cr_assert_null(cfg.servers, "freed on failure");
	cr_assert_eq(cfg.nservers, 0);
}

static void conf_addr(const struct sockaddr_storage *ss, char *out,
		      size_t outlen)
{
	mw_format_addr(ss, out, outlen);
}

static const struct mw_server_cfg *conf_server(const struct mw_config *cfg,
					       const char *name)
{
	for (size_t i = 0; i < cfg->nservers; i++)
		if (!strcmp(cfg->servers[i].name, name))
			return &cfg->servers[i];
	return NULL;
}

static const char conf_full[] = "# every key\n"
				"listen: 127.0.0.2:15200\n"
				"listen6: \"[::1]:15201\"\n"
				"state_dir: /run/mw-test\n"
				"bpf_pin_dir: /sys/fs/bpf/mw-test\n"
				"splice: yes\n"
				"busy_poll_us: 20\n"
				"log_level: debug\n"
				"host: test-host\n"
				"limits:\n"
				"  max_header_bytes: 2048\n"
				"  max_body_bytes: 1048576\n"
				"  max_sse_event_bytes: 4096\n"
				"  max_connections: 7\n"
				"  max_buffered_bytes: 67108864\n"
				"  header_timeout_ms: 1500\n"
				"  body_timeout_ms: 2500\n"
				"  send_timeout_ms: 3500\n"
				"  idle_timeout_ms: 86400000\n"
				"  connect_timeout_ms: 1\n"
				"audit:\n"
				"  dsn: \"host=/tmp dbname=mw\"\n"
				"  embedded_user: someone\n"
				"  batch_ms: 20\n"
				"  batch_max: 100000\n"
				"  max_queue: 16\n"
				"  max_queue_bytes: 67108864\n"
				"servers:\n"
				"  - name: local-one\n"
				"    address: 127.0.0.1:8080\n"
				"  - name: remote_2\n"
				"    address: 198.51.100.7:9000\n"
				"  - name: v6.remote\n"
				"    address: \"[2001:db8::5]:443\"\n"
				"  - name: local6\n"
				"    address: \"[::1]:8443\"\n";

Test(config, full_file, .fini = conf_cleanup)
{
	struct mw_config cfg;
	const struct mw_server_cfg *s;
	char a[64];

	conf_load_ok(conf_full, &cfg);
	conf_addr(&cfg.listen4, a, sizeof(a));
	cr_assert_str_eq(a, "127.0.0.2:15200");
	cr_assert(cfg.has_listen6);
	conf_addr(&cfg.listen6, a, sizeof(a));
	cr_assert_str_eq(a, "[::1]:15201");
	cr_assert_str_eq(cfg.state_dir, "/run/mw-test");
	cr_assert_str_eq(cfg.bpf_pin_dir, "/sys/fs/bpf/mw-test");
	cr_assert(cfg.splice);
	cr_assert_eq(cfg.busy_poll_us, 20);
	cr_assert_eq(cfg.log_level, MW_LOG_DEBUG);
	cr_assert_str_eq(cfg.host, "test-host");

	cr_assert_eq(cfg.limits.max_header_bytes, 2048);
	cr_assert_eq(cfg.limits.max_body_bytes, 1048576);
	cr_assert_eq(cfg.limits.max_sse_event_bytes, 4096);
	cr_assert_eq(cfg.limits.max_connections, 7);
	cr_assert_eq(cfg.limits.max_buffered_bytes, 64 << 20);
	cr_assert_eq(cfg.limits.header_timeout_ms, 1500);
	cr_assert_eq(cfg.limits.body_timeout_ms, 2500);
	cr_assert_eq(cfg.limits.send_timeout_ms, 3500);
	cr_assert_eq(cfg.limits.idle_timeout_ms, 86400000);
	cr_assert_eq(cfg.limits.connect_timeout_ms, 1);

	cr_assert_str_eq(cfg.audit.dsn, "host=/tmp dbname=mw");
	cr_assert_str_eq(cfg.audit.embedded_user, "someone");
	cr_assert_eq(cfg.audit.batch_ms, 20);
	cr_assert_eq(cfg.audit.batch_max, 100000);
	cr_assert_eq(cfg.audit.max_queue, 16);
	cr_assert_eq(cfg.audit.max_queue_bytes, 64 << 20);

	cr_assert_eq(cfg.nservers, 4);
	cr_assert_str_eq(cfg.servers[0].name, "local-one");
	cr_assert_str_eq(cfg.servers[0].address, "127.0.0.1:8080");

	s = conf_server(&cfg, "remote_2");
	cr_assert_not_null(s);
	cr_assert_not(s->local);
	cr_assert_eq(s->port, 9000);
	cr_assert_eq(s->naddrs, 1);
	conf_addr(&s->addrs[0], a, sizeof(a));
	cr_assert_str_eq(a, "198.51.100.7:9000");

	s = conf_server(&cfg, "v6.remote");
	cr_assert_not_null(s);
	cr_assert_not(s->local);
	cr_assert_eq(s->naddrs, 1);
	conf_addr(&s->addrs[0], a, sizeof(a));
	cr_assert_str_eq(a, "[2001:db8::5]:443");
	mw_config_free(&cfg);
	cr_assert_null(cfg.servers);
	cr_assert_eq(cfg.nservers, 0);
}

/*
 * A server on this host is marked local (the daemon protects its port at
 * each of the host's addresses, local_addrs.h); its own addresses are
 * those its address names, each with its port.
 */
Test(config, local_server_is_marked_local, .fini = conf_cleanup)
{
	struct mw_config cfg;
	const char *const names[] = { "local-one", "local6" };
	const char *const addrs[] = { "127.0.0.1:8080", "[::1]:8443" };

	conf_load_ok(conf_full, &cfg);
	for (size_t k = 0; k < 2; k++) {
		const struct mw_server_cfg *s = conf_server(&cfg, names[k]);
		char a[64];

		cr_assert_not_null(s, "%s", names[k]);
		cr_assert(s->local, "%s", names[k]);
		cr_assert_eq(s->naddrs, 1, "%s: %zu", names[k], s->naddrs);
		conf_addr(&s->addrs[0], a, sizeof(a));
		cr_assert_str_eq(a, addrs[k]);
	}
	mw_config_free(&cfg);
}

/* Written IPv4-mapped, the address is the IPv4 one: local as 127.0.0.1
 * is, and the same address (not listed twice). */
Test(config, an_ipv4_mapped_address_is_the_ipv4_one, .fini = conf_cleanup)
{
	struct mw_config cfg;
	char a[64];

	conf_load_ok("servers:\n  - name: s\n"
		     "    address: \"[::ffff:127.0.0.1]:8080\"\n",
		     &cfg);
	cr_assert(cfg.servers[0].local);
	cr_assert_eq(cfg.servers[0].naddrs, 1);
	conf_addr(&cfg.servers[0].addrs[0], a, sizeof(a));
	cr_assert_str_eq(a, "127.0.0.1:8080");
	mw_config_free(&cfg);
}

Test(config, address_of_a_local_interface_is_local, .fini = conf_cleanup)
{
	struct mw_config cfg;
	struct ifaddrs *ifa, *i;
	char yaml[256], ip[INET_ADDRSTRLEN] = "";

	/* A non-loopback IPv4 address of this host, when there is one. */
	cr_assert_eq(getifaddrs(&ifa), 0);
	for (i = ifa; i; i = i->ifa_next) {
		const struct sockaddr_in *s4 = (const void *)i->ifa_addr;

		if (s4 && s4->sin_family == AF_INET &&
		    (ntohl(s4->sin_addr.s_addr) >> 24) != 127) {
			inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
			break;
		}
	}
	freeifaddrs(ifa);
	if (!ip[0])
		cr_skip_test("no non-loopback IPv4 address");
	snprintf(yaml, sizeof(yaml),
		 "servers:\n  - name: s\n    address: %s:81\n", ip);
	conf_load_ok(yaml, &cfg);
	cr_assert(cfg.servers[0].local);
	mw_config_free(&cfg);
}

Test(config, defaults_when_keys_are_absent, .fini = conf_cleanup)
{
	struct mw_config cfg;
	char a[64], host[256];

	conf_load_ok("servers: []\n", &cfg);
	conf_addr(&cfg.listen4, a, sizeof(a));
	cr_assert_str_eq(a, "127.0.0.1:15100");
	cr_assert(cfg.has_listen6);
	conf_addr(&cfg.listen6, a, sizeof(a));
	cr_assert_str_eq(a, "[::1]:15100");
	cr_assert_str_eq(cfg.state_dir, "/var/lib/mcpwarden");
	cr_assert_str_eq(cfg.bpf_pin_dir, "/sys/fs/bpf/mcpwarden");
	cr_assert_not(cfg.splice);
	cr_assert_eq(cfg.busy_poll_us, 50);
	cr_assert_eq(cfg.log_level, MW_LOG_INFO);
	cr_assert_eq(cfg.limits.max_header_bytes, 64 << 10);
	cr_assert_eq(cfg.limits.max_body_bytes, 8 << 20);
	cr_assert_eq(cfg.limits.max_sse_event_bytes, 4 << 20);
	cr_assert_eq(cfg.limits.max_connections, 4096);
	cr_assert_eq(cfg.limits.max_buffered_bytes, (size_t)256 << 20);
	cr_assert_eq(cfg.limits.header_timeout_ms, 10000);
	cr_assert_eq(cfg.limits.body_timeout_ms, 60000);
	cr_assert_eq(cfg.limits.send_timeout_ms, 60000);
	cr_assert_eq(cfg.limits.idle_timeout_ms, 300000);
	cr_assert_eq(cfg.limits.connect_timeout_ms, 5000);
	cr_assert_str_eq(cfg.audit.dsn, "");
	cr_assert_str_eq(cfg.audit.embedded_user, "mcpwarden");
	cr_assert_eq(cfg.audit.batch_ms, 10);
	cr_assert_eq(cfg.audit.batch_max, 512);
	cr_assert_eq(cfg.audit.max_queue, 100000);
	cr_assert_eq(cfg.audit.max_queue_bytes, (size_t)512 << 20);
	cr_assert(cfg.audit.durable_before_forward);
	cr_assert(cfg.audit.spool_first);
	cr_assert_eq(gethostname(host, sizeof(host)), 0);
	cr_assert_str_eq(cfg.host, host);
	cr_assert_eq(cfg.nservers, 0);
	mw_config_free(&cfg);

	/* Keys inside a section default one by one. */
	conf_load_ok("limits:\n  max_connections: 9\naudit:\n  batch_ms: 5\n",
		     &cfg);
	cr_assert_eq(cfg.limits.max_connections, 9);
	cr_assert_eq(cfg.limits.max_body_bytes, 8 << 20);
	cr_assert_eq(cfg.audit.batch_ms, 5);
	cr_assert_eq(cfg.audit.max_queue, 100000);
	mw_config_free(&cfg);
}

/* What the writer is told: the spool first only for requests that wait,
 * and batches for the database unless requests wait for its commits. */
Test(config, spool_first_and_batches_as_the_writer_gets_them)
{
	static const struct {
		const char *yaml;
		bool spool_first;
		int batch_ms;
	} cases[] = {
		{ "audit:\n  batch_ms: 7\n", true, 7 },
		{ "audit:\n  batch_ms: 7\n  spool_first: false\n", false, 0 },
		{ "audit:\n  batch_ms: 7\n  durable_before_forward: false\n",
		  false, 7 },
	};
	struct mw_audit_config ac;
	struct mw_config cfg;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		conf_load_ok(cases[i].yaml, &cfg);
		mw_config_audit(&cfg, &ac);
		cr_assert_eq(ac.spool_first, cases[i].spool_first, "%s",
			     cases[i].yaml);
		cr_assert_eq(ac.batch_ms, cases[i].batch_ms, "%s",
			     cases[i].yaml);
		mw_config_free(&cfg);
	}
	conf_load_fails("audit:\n  spool_first: maybe\n", 2,
			"spool_first: expected true or false");
}

Test(config, empty_listen6_disables_it, .fini = conf_cleanup)
{
	struct mw_config cfg;

	conf_load_ok("listen6: \"\"\n", &cfg);
	cr_assert_not(cfg.has_listen6);
	mw_config_free(&cfg);
}

Test(config, unknown_keys_are_errors_with_line, .fini = conf_cleanup)
{
	conf_load_fails("listen: 127.0.0.1:1\n"
			"\n"
			"lsiten: 127.0.0.1:2\n",
			3, "unknown key 'lsiten'");
	conf_load_fails("servers:\n"
			"  - name: a\n"
			"    address: 127.0.0.1:1\n"
			"    port: 80\n",
			4, "servers: unknown key 'port'");
	conf_load_fails("limits:\n"
			"  max_header_bytes: 4096\n"
			"  max_headers: 10\n",
			3, "limits: unknown key 'max_headers'");
	conf_load_fails("# comment\n"
			"audit:\n"
			"  dsn: \"\"\n"
			"  password: x\n",
			4, "audit: unknown key 'password'");
}

Test(config, bad_server_addresses, .fini = conf_cleanup)
{
	static const char *const bad[] = {
		"host",	       "1.2.3.4:0",  "1.2.3.4:70000",
		"\"[::1]80\"", "\"[::1]\"",  "\"1.2.3.4:\"",
		"1.2.3.4:8x",  "\"::1:80\"", "\"1.2.3.4:-1\"",
	};
	char yaml[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml),
			 "servers:\n"
			 "  - name: ok\n"
			 "    address: 127.0.0.1:1\n"
			 "  - name: broken\n"
			 "    address: %s\n",
			 bad[i]);
		/* Reported at the server's mapping, which starts on line 4. */
		conf_load_fails(yaml, 4, "server broken: address");
	}
}

Test(config, bad_listen_addresses, .fini = conf_cleanup)
{
	static const char *const bad[] = {
		"host",		"1.2.3.4:0", "1.2.3.4:70000", "\"[::1]80\"",
		"localhost:80", "1.2.3:80",  "\"[::1]:80\"",
	};
	char yaml[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml), "splice: false\nlisten: %s\n",
			 bad[i]);
		conf_load_fails(yaml, 2, "listen: ");
	}
	conf_load_fails("listen6: 127.0.0.1:80\n", 1, "IPv6");
}

Test(config, duplicate_server_names, .fini = conf_cleanup)
{
	conf_load_fails("servers:\n"
			"  - name: twin\n"
			"    address: 127.0.0.1:1\n"
			"  - name: other\n"
			"    address: 127.0.0.1:2\n"
			"  - name: twin\n"
			"    address: 127.0.0.1:3\n",
			6, "duplicate name 'twin'");
}

/*
 * Regression: libyaml keeps duplicate mapping
 * keys, and a second "servers:" makes parse_servers() calloc a new array
 * (leaking the first) while nservers keeps counting from the first list:
 * here nservers is 3 with an array of 1, and whoever walks the servers
 * reads past the end (ASan: heap-buffer-overflow). Expected: the file is
 * refused at the second key (line 6), or at least nservers matches.
 */
Test(config, second_servers_key, .fini = conf_cleanup)
{
	static const char yaml[] = "servers:\n"
				   "  - name: a\n"
				   "    address: 198.51.100.1:1\n"
				   "  - name: b\n"
				   "    address: 198.51.100.2:1\n"
				   "servers:\n"
				   "  - name: c\n"
				   "    address: 198.51.100.3:1\n";
	struct mw_config cfg;
	char err[CONF_ERRLEN] = "", prefix[128];
	const char *path = conf_write(yaml);

	if (mw_config_load(path, &cfg, err, sizeof(err)) == 0) {
		size_t n = cfg.nservers;

		mw_config_free(&cfg);
		cr_assert_eq(n, 1, "nservers %zu for a list of 1", n);
		return;
	}
	snprintf(prefix, sizeof(prefix), "%s:6: ", path);
	cr_assert_eq(strncmp(err, prefix, strlen(prefix)), 0, "%s", err);
}

Test(config, server_needs_name_and_address, .fini = conf_cleanup)
{
	conf_load_fails("servers:\n  - name: a\n", 2, "name and address");
	conf_load_fails("servers:\n  - address: 127.0.0.1:1\n", 2,
			"name and address");
	conf_load_fails("servers:\n  - name: \"a b\"\n"
			"    address: 127.0.0.1:1\n",
			2, "server name 'a b'");
	conf_load_fails("servers: 127.0.0.1:1\n", 1, "expected a list");
}

Test(config, state_dir_must_be_absolute, .fini = conf_cleanup)
{
	conf_load_fails("log_level: info\nstate_dir: var/lib/mw\n", 2,
			"state_dir: must be absolute");
}

/*
 * The daemon opens these from its working directory, `mcpwarden audit
 * verify` from the auditor's: relative, the two would read different
 * files. Empty keeps the default under state_dir.
 */
Test(config, audit_paths_must_be_absolute, .fini = conf_cleanup)
{
	struct mw_config cfg;

	conf_load_fails("audit:\n  checkpoint_file: audit-checkpoints.jsonl\n",
			2, "checkpoint_file: must be absolute");
	conf_load_fails("audit:\n  checkpoint_file: ./cps\n", 2,
			"checkpoint_file: must be absolute");
	conf_load_fails("audit:\n  spool_dir: spool\n", 2,
			"spool_dir: must be absolute");
	conf_load_ok("audit:\n  checkpoint_file: /var/log/mw/cps.jsonl\n"
		     "  spool_dir: /var/spool/mw\n",
		     &cfg);
	cr_assert_str_eq(cfg.audit.checkpoint_file, "/var/log/mw/cps.jsonl");
	cr_assert_str_eq(cfg.audit.spool_dir, "/var/spool/mw");
	mw_config_free(&cfg);
	conf_load_ok("audit:\n  checkpoint_file: \"\"\n  spool_dir: \"\"\n",
		     &cfg);
	cr_assert_str_eq(cfg.audit.checkpoint_file, "");
	cr_assert_str_eq(cfg.audit.spool_dir, "");
	mw_config_free(&cfg);
}

Test(config, bpf_pin_dir_must_be_under_sys_fs_bpf, .fini = conf_cleanup)
{
	conf_load_fails("bpf_pin_dir: /tmp/bpf\n", 1, "bpf_pin_dir");
	conf_load_fails("bpf_pin_dir: /sys/fs/bpfx/mw\n", 1, "bpf_pin_dir");
	conf_load_fails("bpf_pin_dir: sys/fs/bpf/mw\n", 1, "bpf_pin_dir");
}

/*
 * Regression: the check is a string prefix, so
 * "/sys/fs/bpf/../../../tmp/x" passes and pins land outside bpffs.
 * Expected: rejected like any other path outside /sys/fs/bpf.
 */
Test(config, bpf_pin_dir_dotdot_escapes, .fini = conf_cleanup)
{
	conf_load_fails("bpf_pin_dir: /sys/fs/bpf/../../../tmp/x\n", 1,
			"bpf_pin_dir");
}

Test(config, limits_must_be_numbers, .fini = conf_cleanup)
{
	conf_load_fails("limits:\n  max_connections: lots\n", 2,
			"max_connections: expected a number");
	conf_load_fails("limits:\n  max_body_bytes: 10MB\n", 2,
			"max_body_bytes: expected a number");
	/* a larger message could not be recorded in a verifiable line */
	conf_load_fails("limits:\n  max_body_bytes: 16777217\n", 2,
			"max_body_bytes: 16777217 is outside [1024, 16777216]");
	conf_load_fails("limits:\n  max_sse_event_bytes: 67108864\n", 2,
			"max_sse_event_bytes: 67108864 is outside");
	conf_load_fails("limits:\n  idle_timeout_ms: -5\n", 2,
			"idle_timeout_ms: expected a number");
	conf_load_fails("limits:\n  header_timeout_ms: \"\"\n", 2,
			"header_timeout_ms: expected a number");
	conf_load_fails("limits:\n  max_connections: [1]\n", 2,
			"max_connections: expected a number");
	conf_load_fails("audit:\n  batch_max: 99999999999999999999999\n", 2,
			"batch_max: expected a number");
}

Test(config, limits_must_be_in_range, .fini = conf_cleanup)
{
	conf_load_fails("limits:\n  max_header_bytes: 1023\n", 2,
			"max_header_bytes: 1023 is outside [1024, 1048576]");
	conf_load_fails("limits:\n  max_header_bytes: 1048577\n", 2,
			"is outside");
	conf_load_fails("limits:\n  max_connections: 0\n", 2, "is outside");
	/* a user's quarter must hold the largest message (16 MiB) */
	conf_load_fails("limits:\n  max_buffered_bytes: 67108863\n", 2,
			"is outside");
	/* and twice the largest message the other limits allow */
	conf_load_fails("limits:\n  max_buffered_bytes: 67108864\n"
			"  max_body_bytes: 16777216\n",
			2,
			"max_buffered_bytes 67108864 is too small for "
			"max_body_bytes and max_sse_event_bytes: a user's "
			"quarter must hold twice the largest message (at "
			"least 134217728)");
	conf_load_fails("limits:\n  connect_timeout_ms: 0\n", 2, "is outside");
	conf_load_fails("limits:\n  idle_timeout_ms: 86400001\n", 2,
			"is outside");
	conf_load_fails("audit:\n  max_queue: 15\n", 2, "is outside");
	conf_load_fails("audit:\n  max_queue_bytes: 1048576\n", 2,
			"is outside");
	conf_load_fails("audit:\n  batch_max: 100001\n", 2, "is outside");
	conf_load_fails("busy_poll_us: 1001\n", 1,
			"busy_poll_us: 1001 is outside [0, 1000]");
	conf_load_fails("busy_poll_us: -1\n", 1,
			"busy_poll_us: expected a number");
}

Test(config, other_value_errors, .fini = conf_cleanup)
{
	conf_load_fails("splice: maybe\n", 1, "splice: expected true or false");
	conf_load_fails("log_level: verbose\n", 1, "log_level");
	conf_load_fails("limits: 5\n", 1, "limits: expected a mapping");
	conf_load_fails("audit: [1, 2]\n", 1, "audit: expected a mapping");
	conf_load_fails("- a\n- b\n", 1, "expected a mapping at the top");
	conf_load_fails("listen: [1]\n", 1, "listen: expected a string");
	conf_load_fails("listen: \"127.0.0.1:1\n", 2, "");
}

Test(config, unresolvable_host_name, .fini = conf_cleanup)
{
	conf_load_fails("servers:\n"
			"  - name: nowhere\n"
			"    address: mcp.does-not-exist.invalid:8080\n",
			2,
			"server nowhere: cannot resolve "
			"'mcp.does-not-exist.invalid'");
}

/* A reload and the CLI do not look names up: the servers must be the
 * running ones, and a name server that is slow or down must not hold the
 * daemon's loop or refuse a new policy. */
Test(config, without_resolving_a_name_is_kept_as_written, .fini = conf_cleanup)
{
	struct mw_config cfg;
	char err[CONF_ERRLEN] = "";
	const char *path = conf_write("servers:\n"
				      "  - name: nowhere\n"
				      "    address: "
				      "mcp.does-not-exist.invalid:8080\n"
				      "default: deny\n");

	cr_assert_eq(mw_config_load_opts(path, &cfg, MW_CONFIG_POLICY, err,
					 sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(cfg.nservers, 1);
	cr_assert_str_eq(cfg.servers[0].address,
			 "mcp.does-not-exist.invalid:8080");
	cr_assert_eq(cfg.servers[0].port, 8080);
	cr_assert_eq(cfg.servers[0].naddrs, 0);
	cr_assert_not_null(cfg.policy);
	mw_config_free(&cfg);
}

Test(config, empty_file, .fini = conf_cleanup)
{
	conf_load_fails("", 0, "empty file");
	conf_load_fails("# only a comment\n", 0, "empty file");
}

Test(config, file_over_one_mib, .fini = conf_cleanup)
{
	size_t len = MW_CONFIG_MAX_BYTES + 1;
	char *text = malloc(len);
	struct mw_config cfg;
	char err[CONF_ERRLEN];
	const char *path;

	cr_assert_not_null(text);
	memset(text, '#', len);
	text[len - 1] = '\n';
	path = conf_write_bytes(text, len);
	free(text);
	cr_assert_eq(mw_config_load(path, &cfg, err, sizeof(err)), -1);
	cr_assert(strstr(err, path), "%s", err);
	cr_assert(strstr(err, "larger than"), "%s", err);

	/* Exactly the bound is read (a comment: then it is empty). */
	text = malloc(len - 1);
	cr_assert_not_null(text);
	memset(text, '#', len - 1);
	text[len - 2] = '\n';
	path = conf_write_bytes(text, len - 1);
	free(text);
	cr_assert_eq(mw_config_load(path, &cfg, err, sizeof(err)), -1);
	cr_assert(strstr(err, "empty file"), "%s", err);
}

Test(config, missing_file_names_it)
{
	struct mw_config cfg;
	char err[CONF_ERRLEN];

	cr_assert_eq(
		mw_config_load("/nonexistent/mw.yaml", &cfg, err, sizeof(err)),
		-1);
	cr_assert(strstr(err, "/nonexistent/mw.yaml"), "%s", err);
}

Test(config, control_path_is_under_state_dir, .fini = conf_cleanup)
{
	struct mw_config cfg;
	char path[PATH_MAX];

	conf_load_ok("state_dir: /run/mw\n", &cfg);
	mw_control_path(&cfg, path, sizeof(path));
	cr_assert_str_eq(path, "/run/mw/control.sock");
	mw_config_free(&cfg);
}

/* ---- mw_parse_hostport / mw_format_addr ---------------------------------- */

Test(config, hostport_round_trips)
{
	static const char *const good[] = {
		"127.0.0.1:15100",	 "0.0.0.0:1",
		"255.255.255.255:65535", "10.1.2.3:8080",
		"[::1]:15100",		 "[::]:1",
		"[2001:db8::1]:443",	 "[fe80::1:2:3:4]:65535",
		"[::ffff:192.0.2.1]:80",
	};
	struct sockaddr_storage ss;
	char err[256], out[64];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cr_assert_eq(mw_parse_hostport(good[i], &ss, err, sizeof(err)),
			     0, "%s: %s", good[i], err);
		mw_format_addr(&ss, out, sizeof(out));
		cr_assert_str_eq(out, good[i]);
	}

	cr_assert_eq(mw_parse_hostport("192.0.2.9:8080", &ss, err, sizeof(err)),
		     0);
	cr_assert_eq(ss.ss_family, AF_INET);
	cr_assert_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), 8080);
	cr_assert_eq(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr),
		     0xc0000209);
	cr_assert_eq(
		mw_parse_hostport("[2001:db8::2]:9", &ss, err, sizeof(err)), 0);
	cr_assert_eq(ss.ss_family, AF_INET6);
	cr_assert_eq(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 9);
	cr_assert_eq(((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr[15], 2);

	/* Non-canonical input formats canonically. */
	cr_assert_eq(mw_parse_hostport("[2001:DB8:0:0::1]:80", &ss, err,
				       sizeof(err)),
		     0);
	mw_format_addr(&ss, out, sizeof(out));
	cr_assert_str_eq(out, "[2001:db8::1]:80");
}

Test(config, hostport_rejects)
{
	static const char *const bad[] = {
		"",
		"host",
		"1.2.3.4",
		"1.2.3.4:0",
		"1.2.3.4:70000",
		"1.2.3.4:65536",
		"1.2.3.4:",
		"1.2.3.4:80x",
		"1.2.3.4:-80",
		"1.2.3.4:99999999999999999999999",
		"[::1]80",
		"[::1]",
		"[::1:80",
		"::1:80",
		"[1.2.3.4]:80",
		"[]:80",
		"localhost:80",
		"1.2.3.4.5:80",
		"256.1.1.1:80",
		":80",
		"[::1]:80:81",
	};
	struct sockaddr_storage ss;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(mw_parse_hostport(bad[i], &ss, err, sizeof(err)),
			     -1, "accepted '%s'", bad[i]);
		cr_assert(strstr(err, "is not an address"), "%s", err);
	}
}

Test(config, format_unknown_family)
{
	struct sockaddr_storage ss = { .ss_family = AF_UNIX };
	char out[16];

	mw_format_addr(&ss, out, sizeof(out));
	cr_assert_str_eq(out, "?");
}

/* ---- the policy hook ---------------------------------------------------- */

/* A policy file next to the configuration; removed by policy_file_cleanup. */
static char policy_path[64];

static void policy_file_cleanup(void)
{
	if (policy_path[0])
		unlink(policy_path);
	policy_path[0] = '\0';
	conf_cleanup();
}

static const char *policy_file_write(const char *yaml)
{
	int fd;

	snprintf(policy_path, sizeof(policy_path), "/tmp/mw-policy-XXXXXX");
	fd = mkstemp(policy_path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	return policy_path;
}

static const char *conf_decide(const struct mw_config *cfg, const char *server,
			       const char *tool)
{
	struct mw_policy_input in = {
		.server = server,
		.method = "tools/call",
		.target = tool,
	};
	struct mw_policy_decision d;

	cr_assert_eq(mw_policy_decide(cfg->policy, &in, &d), 0);
	return d.rule;
}

/* Expects "<file>:<line>:<col>: ..." with file the configuration's path. */
static void conf_policy_fails(const char *yaml, const char *file, int line,
			      int col, const char *want)
{
	struct mw_config cfg;
	char err[CONF_ERRLEN] = "", prefix[160];
	const char *path = conf_write(yaml);

	cr_assert_eq(mw_config_load(path, &cfg, err, sizeof(err)), -1,
		     "loaded: %s", yaml);
	if (col)
		snprintf(prefix, sizeof(prefix),
			 "%s:%d:%d: ", file ? file : path, line, col);
	else
		snprintf(prefix, sizeof(prefix), "%s:%d: ", file ? file : path,
			 line);
	cr_assert_eq(strncmp(err, prefix, strlen(prefix)), 0,
		     "'%s' does not start with '%s'", err, prefix);
	cr_assert(strstr(err, want), "'%s' does not say '%s'", err, want);
	cr_assert_null(cfg.policy, "freed on failure");
}

Test(config, no_policy_allows_all, .fini = conf_cleanup)
{
	static const char yaml[] = "servers: []\n";
	struct mw_config cfg;

	conf_load_ok(yaml, &cfg);
	cr_assert_not_null(cfg.policy);
	cr_assert(mw_policy_is_none(cfg.policy));
	cr_assert_str_eq(conf_decide(&cfg, "s", "t"), MW_POLICY_NONE_RULE);
	/* sha256 of the configuration's bytes */
	cr_assert_str_eq(cfg.policy_sha256,
			 "e75e77bbe2ab49b73d40e797d7bff22ea2b47b6b3ef632446b85"
			 "a1fd5235e19f");
	cr_assert_str_eq(cfg.policy_file, cfg.path);
	mw_config_free(&cfg);
	cr_assert_null(cfg.policy);
}

Test(config, inline_rules, .fini = conf_cleanup)
{
	struct mw_config cfg;

	conf_load_ok("servers:\n"
		     "  - name: billing\n"
		     "    address: 192.0.2.1:80\n"
		     "rules:\n"
		     "  - {name: reads, server: billing, tool: \"get_*\", "
		     "action: allow}\n",
		     &cfg);
	cr_assert_not(mw_policy_is_none(cfg.policy));
	cr_assert_eq(mw_policy_rule_count(cfg.policy), 1);
	cr_assert_str_eq(conf_decide(&cfg, "billing", "get_x"), "reads");
	cr_assert_str_eq(conf_decide(&cfg, "billing", "put_x"),
			 MW_POLICY_DEFAULT_RULE, "no default: deny");
	cr_assert_eq(strlen(cfg.policy_sha256), 64);
	cr_assert_str_eq(cfg.policy_file, cfg.path);
	mw_config_free(&cfg);

	conf_load_ok("default: allow\n", &cfg);
	cr_assert_not(mw_policy_is_none(cfg.policy));
	cr_assert_eq(mw_policy_default(cfg.policy, NULL), MW_DECIDE_ALLOW);
	mw_config_free(&cfg);
}

Test(config, policy_file_relative_to_the_configuration,
     .fini = policy_file_cleanup)
{
	struct mw_config cfg;
	char yaml[256];
	const char *policy = policy_file_write(
		"default: allow\n"
		"rules:\n"
		"  - {name: no-rm, tool: rm, action: deny}\n");

	/* Both in /tmp: the bare name is found next to the configuration. */
	snprintf(yaml, sizeof(yaml), "policy: %s\n", policy + 5);
	conf_load_ok(yaml, &cfg);
	cr_assert_str_eq(cfg.policy_file, policy);
	cr_assert_str_eq(conf_decide(&cfg, "s", "rm"), "no-rm");
	cr_assert_str_eq(conf_decide(&cfg, "s", "ls"), MW_POLICY_DEFAULT_RULE);
	/* sha256 of the policy file, not of the configuration */
	cr_assert_str_eq(cfg.policy_sha256, mw_policy_sha256(cfg.policy));
	mw_config_free(&cfg);

	snprintf(yaml, sizeof(yaml), "policy: %s\n", policy);
	conf_load_ok(yaml, &cfg);
	cr_assert_str_eq(cfg.policy_file, policy);
	mw_config_free(&cfg);
}

Test(config, policy_errors, .fini = policy_file_cleanup)
{
	char yaml[256];
	const char *policy =
		policy_file_write("rules:\n"
				  "  - {name: a, action: deny}\n"
				  "  - {name: b, action: maybe}\n");

	snprintf(yaml, sizeof(yaml), "splice: false\npolicy: %s\n", policy);
	conf_policy_fails(yaml, policy, 3, 23, "action: expected allow");
	conf_policy_fails("policy: p.yaml\nrules: []\n", NULL, 1, 0,
			  "'default' and 'rules' cannot be here too");
	conf_policy_fails("default: deny\npolicy: p.yaml\n", NULL, 2, 0,
			  "cannot be here too");
	conf_policy_fails("policy: \"\"\n", NULL, 1, 0,
			  "policy: expected a file name");
	conf_policy_fails("policy: [a]\n", NULL, 1, 0,
			  "policy: expected a string");
	conf_policy_fails("splice: false\nrules:\n  - {name: a}\n", NULL, 3, 5,
			  "needs an action");
	conf_policy_fails("servers:\n"
			  "  - name: billing\n"
			  "    address: 192.0.2.1:80\n"
			  "rules:\n"
			  "  - {name: ok, server: billing, action: allow}\n"
			  "  - {name: typo, server: biling, action: allow}\n",
			  NULL, 6, 5,
			  "rule 'typo': server 'biling' is not in 'servers'");
}

Test(config, missing_policy_file, .fini = conf_cleanup)
{
	struct mw_config cfg;
	char err[CONF_ERRLEN];
	const char *path = conf_write("policy: /nonexistent/policy.yaml\n");

	cr_assert_eq(mw_config_load(path, &cfg, err, sizeof(err)), -1);
	cr_assert(strstr(err, "/nonexistent/policy.yaml: "), "%s", err);
}

#define CONF_MASK_SERVERS \
	"servers:\n  - name: billing\n    address: 127.0.0.1:8080\n"

Test(config, masking_rules_and_custom_detectors, .fini = conf_cleanup)
{
	struct mw_config cfg;
	struct mw_mask_plan plan;

	conf_load_ok(CONF_MASK_SERVERS "detectors:\n"
				       "  - name: employee_id\n"
				       "    pattern: 'EMP-[0-9]{6}'\n"
				       "    validator: luhn\n"
				       "masking:\n"
				       "  - name: to-client\n"
				       "    server: billing\n"
				       "    tool: [\"lookup_*\"]\n"
				       "    detectors: [card, employee_id]\n"
				       "    style: partial\n"
				       "  - apply: [audit]\n"
				       "    detectors: [all]\n"
				       "    style: hash\n",
		     &cfg);
	cr_assert_not_null(cfg.masker);
	cr_assert_eq(mw_masker_n_rules(cfg.masker), 2);
	cr_assert_eq(mw_masker_detector(cfg.masker, "employee_id"),
		     MW_DET_N_BUILTIN);
	/* the client: only lookup_* tools, card and employee_id, partial */
	cr_assert(mw_masker_plan(cfg.masker, "billing", "lookup_customers",
				 MW_MASK_TO_CLIENT, &plan));
	cr_assert_eq(plan.detectors,
		     (1ull << MW_DET_CARD) | (1ull << MW_DET_N_BUILTIN));
	cr_assert_eq(plan.style[MW_DET_CARD], MW_MASK_PARTIAL);
	cr_assert_not(mw_masker_plan(cfg.masker, "billing", "refund",
				     MW_MASK_TO_CLIENT, &plan));
	/* not a tool call: the tool's rules do not apply */
	cr_assert_not(mw_masker_plan(cfg.masker, "billing", NULL,
				     MW_MASK_TO_CLIENT, &plan));
	/* a response whose request is not known: they do */
	cr_assert(mw_masker_plan(cfg.masker, "billing", NULL,
				 MW_MASK_TO_CLIENT | MW_MASK_ANY_TOOL, &plan));
	cr_assert_eq(plan.detectors,
		     (1ull << MW_DET_CARD) | (1ull << MW_DET_N_BUILTIN));
	cr_assert_not(mw_masker_plan(cfg.masker, "crm", NULL,
				     MW_MASK_TO_CLIENT | MW_MASK_ANY_TOOL,
				     &plan));
	/* the trail: the first rule naming card decides its style */
	cr_assert(mw_masker_plan(cfg.masker, "billing", "lookup_customers",
				 MW_MASK_IN_AUDIT, &plan));
	cr_assert_eq(plan.style[MW_DET_CARD], MW_MASK_PARTIAL);
	cr_assert_eq(plan.style[MW_DET_SSN], MW_MASK_HASH);
	mw_config_free(&cfg);
	cr_assert_null(cfg.masker);
}

Test(config, masking_errors_name_the_line, .fini = conf_cleanup)
{
	conf_load_fails(CONF_MASK_SERVERS "masking:\n  - detectors: [cards]\n",
			5, "unknown detector 'cards'");
	conf_load_fails(CONF_MASK_SERVERS
			"masking:\n  - detectors: [card]\n    style: stars\n",
			5, "style: full, partial or hash");
	conf_load_fails(
		CONF_MASK_SERVERS
		"masking:\n  - detectors: [card]\n    server: payroll\n",
		6, "matches no configured server");
	conf_load_fails(CONF_MASK_SERVERS "masking:\n  - style: full\n", 5,
			"names no detectors");
	conf_load_fails(
		CONF_MASK_SERVERS
		"masking:\n  - detectors: [card]\n    apply: [server]\n",
		6, "apply: 'client' or 'audit'");
	conf_load_fails(CONF_MASK_SERVERS
			"masking:\n  - detectors: [card]\n    colour: red\n",
			6, "unknown key 'colour'");
	conf_load_fails(CONF_MASK_SERVERS
			"detectors:\n  - name: card\n    pattern: x\n"
			"masking:\n  - detectors: [card]\n",
			5, "built-in detector's name");
	conf_load_fails(CONF_MASK_SERVERS
			"detectors:\n  - name: bad\n    pattern: '('\n"
			"masking:\n  - detectors: [bad]\n",
			5, "detector bad: missing closing parenthesis");
	conf_load_fails(CONF_MASK_SERVERS
			"detectors:\n  - name: lonely\n    pattern: x\n",
			5, "no 'masking' rules use them");
}
