/* SPDX-License-Identifier: BSD-2-Clause */
/* The one YAML configuration file (see DESIGN.md, "Configuration"). */
#ifndef MW_CONFIG_H
#define MW_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "audit.h"
#include "log.h"
#include "mask.h"
#include "policy.h"

#define MW_DEFAULT_CONFIG "/etc/mcpwarden/mcpwarden.yaml"
#define MW_MAX_SERVER_ADDRS 64 /* those its name resolves to */
#define MW_MAX_CONFIG_SERVERS 64 /* x addresses fits the BPF map */
#define MW_CONFIG_MAX_BYTES (1 << 20)

struct mw_server_cfg {
	char name[64];
	char address[256]; /* as written */
	uint16_t port;
	bool local; /* on this host: protected on every local address
		     * (local_addrs.h), not only those in addrs */
	size_t naddrs;
	struct sockaddr_storage addrs[MW_MAX_SERVER_ADDRS];
};

/*
 * The largest body or server-sent event the daemon holds, judges and
 * records whole. Its audit line (COPY text, then a line of an evidence
 * package's events.jsonl) takes twice its bytes, escapes doubled, as long
 * as its JSON is written back no longer than it came, and then stays
 * within the spool's and the verifier's 64 MiB bound on a line
 * (MW_SPOOL_LINE_MAX, MW_PGCOPY_MAX_LINE). That is not the worst case:
 * jansson writes a real back with 17 significant digits (0.1 as
 * 0.10000000000000001), so a message of reals grows up to 5 times before
 * it is escaped, and one of this size can need a longer line. The audit
 * writer refuses such an event (mw_audit_submit returns 0, and the proxy
 * refuses the request): a longer line would stop the spool, and the
 * verifier, at it from then on.
 */
#define MW_MAX_RECORDED_MESSAGE (16u << 20)
/* Busy polling after a batch (see user/loop.c): a window long enough for a
 * local upstream's or client's turnaround; longer only burns CPU. */
#define MW_DEFAULT_BUSY_POLL_US 50
#define MW_MAX_BUSY_POLL_US 1000

struct mw_limits {
	size_t max_header_bytes;
	size_t max_body_bytes;
	size_t max_sse_event_bytes;
	size_t max_connections;
	/* message bytes held by all connections; a user's share a quarter */
	size_t max_buffered_bytes;
	int header_timeout_ms;
	int body_timeout_ms;
	int send_timeout_ms; /* a peer that takes nothing of what waits */
	int idle_timeout_ms;
	int connect_timeout_ms;
};

struct mw_config {
	char path[PATH_MAX];
	struct sockaddr_storage listen4;
	struct sockaddr_storage listen6;
	bool has_listen6;
	char state_dir[PATH_MAX];
	char bpf_pin_dir[PATH_MAX];
	bool splice;
	unsigned busy_poll_us; /* see mw_loop_set_busy_poll */
	enum mw_log_level log_level;
	struct mw_limits limits;
	struct {
		char dsn[1024];
		char writer_dsn[1024]; /* "": dsn as mcpwarden_writer */
		char auditor_dsn[1024]; /* "": dsn as mcpwarden_auditor */
		char checkpoint_file[PATH_MAX]; /* "": under state_dir */
		size_t checkpoint_events;
		int checkpoint_ms;
		char spool_dir[PATH_MAX]; /* "": state_dir/spool */
		int spool_after_ms;
		/* forward a request only once its event is durable, and
		 * give up on it (503) after durable_timeout_ms */
		bool durable_before_forward;
		int durable_timeout_ms;
		/* with durable_before_forward: durable in the spool first,
		 * the database behind (mw_audit_config.spool_first) */
		bool spool_first;
		char embedded_user[64];
		int batch_ms;
		size_t batch_max;
		size_t max_queue;
		size_t max_queue_bytes;
	} audit;
	char host[256]; /* recorded in every audit row */
	struct mw_server_cfg *servers;
	size_t nservers;
	/*
	 * The policy in force, never NULL once loaded: from "policy: FILE",
	 * from inline "default:"/"rules:", or, with neither, allow-all
	 * (mw_policy_is_none(): the daemon should warn). policy_sha256 is
	 * the SHA-256 of its source's bytes (the included file, else this
	 * file), policy_file that source.
	 */
	struct mw_policy *policy;
	char policy_sha256[MW_POLICY_SHA256_HEX];
	char policy_file[PATH_MAX];
	/* "detectors:" and "masking:"; NULL: nothing is masked */
	struct mw_masker *masker;
};

/*
 * Loads and validates path; 0 or -1 with a reason in err: "file:line:"
 * for the configuration's own keys, "file:line:column:" for the policy.
 * The configuration and its policy file decide what is enforced: each is
 * read only when nobody but root (or this uid) could have written or
 * swapped it (mw_private_file_check).
 */
int mw_config_load(const char *path, struct mw_config *cfg, char *err,
		   size_t errlen);
/*
 * The same, with only some of it (what: MW_CONFIG_* bits). Without
 * MW_CONFIG_POLICY cfg->policy stays NULL: the CLI's daemon commands need
 * state_dir, and must work while an operator fixes a broken policy file.
 * Without MW_CONFIG_RESOLVE servers keep their address as written, with
 * no addrs and local false: a reload (whose servers must be the running
 * ones) and the CLI must not wait for, or fail with, a name server.
 */
#define MW_CONFIG_POLICY 1u
#define MW_CONFIG_RESOLVE 2u
int mw_config_load_opts(const char *path, struct mw_config *cfg, unsigned what,
			char *err, size_t errlen);
/*
 * The same, without asking whose the files are: for reading them as text
 * (policy check, explain), where nothing they say is enforced.
 */
int mw_config_load_text(const char *path, struct mw_config *cfg, char *err,
			size_t errlen);
void mw_config_free(struct mw_config *cfg);
/* The audit writer's settings (pointing into cfg). */
void mw_config_audit(const struct mw_config *cfg, struct mw_audit_config *out);

/* "host:port" or "[v6]:port" → address; 0 or -1. */
int mw_parse_hostport(const char *s, struct sockaddr_storage *ss, char *err,
		      size_t errlen);
/* Formats an address as "a.b.c.d:port" or "[v6]:port". */
void mw_format_addr(const struct sockaddr_storage *ss, char *out,
		    size_t outlen);
/* Its IP alone: "a.b.c.d" or "v6" ("?" for another family). */
void mw_format_ip(const struct sockaddr_storage *ss, char *out, size_t outlen);

/*
 * Between sockaddr and the 16-byte form the eBPF maps use (IPv4 stored
 * IPv4-mapped, ports in host order).
 */
void mw_addr_to_mapped(const struct sockaddr_storage *sa, uint8_t out[16],
		       uint16_t *port);
void mw_mapped_to_addr(const uint8_t a[16], uint16_t port,
		       struct sockaddr_storage *ss);

/* The control socket path under state_dir. */
void mw_control_path(const struct mw_config *cfg, char *out, size_t outlen);

#endif
