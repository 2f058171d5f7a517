/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The steered-connection proxy: accepts what the eBPF programs redirect,
 * recovers the original destination and the client's identity, and relays
 * HTTP/1.1 to the real server while every JSON-RPC message is parsed and
 * recorded. One upstream connection per client connection.
 */
#ifndef MW_PROXY_H
#define MW_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "bpf_loader.h"
#include "config.h"
#include "loop.h"
#include "mask.h"
#include "pins.h"

struct mw_proxy;

struct mw_proxy_stats {
	uint64_t accepted;
	uint64_t active;
	uint64_t refused_unsteered;
	uint64_t refused_overload;
	uint64_t http_requests;
	uint64_t rpc_messages;
	uint64_t http_errors;
	uint64_t upstream_errors;
	uint64_t held_for_durability; /* requests that waited for the trail */
	uint64_t durability_timeouts; /* requests refused: never durable */
	uint64_t bytes_from_clients;
	uint64_t bytes_from_servers;
	uint64_t
		rpc_refused; /* requests and notifications the policy refused */
	uint64_t
		rpc_would_refuse; /* allowed, but an audit-mode rule would not */
	uint64_t tools_hidden; /* tools removed from tools/list results */
	uint64_t accept_paused; /* out of descriptors at accept() */
	uint64_t body_timeouts; /* request bodies not received in time */
	uint64_t buffers_full; /* messages refused: limits.max_buffered_bytes */
	size_t buffered_bytes; /* what connections hold now */
};

/* pins may be NULL (no tool pinning); it outlives the proxy. */
int mw_proxy_new(struct mw_proxy **out, struct mw_loop *loop,
		 struct mw_bpf *bpf, struct mw_audit *audit,
		 struct mw_pins *pins, const struct mw_config *cfg, char *err,
		 size_t errlen);
void mw_proxy_free(struct mw_proxy *p);
/*
 * The policy judging every message from now on (the caller owns it and
 * frees the previous one after this returns: nothing keeps a reference).
 */
void mw_proxy_set_policy(struct mw_proxy *p, const struct mw_policy *policy);
/* The masker from now on (NULL: none); the same ownership as the policy. */
void mw_proxy_set_masker(struct mw_proxy *p, struct mw_masker *masker);
void mw_proxy_stats(const struct mw_proxy *p, struct mw_proxy_stats *st);

/* Calls fn for each live connection: identity, server, client address. */
int mw_proxy_for_each_conn(const struct mw_proxy *p,
			   int (*fn)(void *arg, uint64_t conn_id,
				     const struct mw_identity *id,
				     const char *server, const char *client),
			   void *arg);

#endif
