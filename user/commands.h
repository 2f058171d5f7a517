/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the daemon does for the CLI: status, enforce, release, reload,
 * accept-tools.
 */
#ifndef MW_COMMANDS_H
#define MW_COMMANDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "audit.h"
#include "bpf_loader.h"
#include "cgwatch.h"
#include "config.h"
#include "control.h"
#include "local_addrs.h"
#include "loop.h"
#include "proxy.h"

struct mw_commands_ctx {
	const struct mw_config *cfg;
	/* the host's addresses, where local servers are protected */
	const struct mw_local_addrs *local;
	struct mw_bpf *bpf;
	struct mw_audit *audit;
	struct mw_proxy *proxy;
	struct mw_pins *pins;
	/* the cgroups enforced by path; NULL: by id only */
	struct mw_cgwatch *cgwatch;
	const struct mw_loop *loop;
	/* Swaps in the configuration file's policy: 0, or -1 when the file
	 * does not load (the policy in force stays); msg says what happened. */
	int (*reload)(void *arg, char *msg, size_t msglen);
	void *reload_arg;
};

/*
 * One control event (mcpwarden.control_actions): the command, its
 * outcome, the caller; the daemon is the caller of what it does itself
 * (an enforce carried out again). The event's seq, 0 when not recorded.
 */
uint64_t mw_commands_record(struct mw_commands_ctx *cc,
			    const struct mw_control_caller *who,
			    const char *cmd, const char *decision,
			    const char *detail);

/* who: the caller, as control.c learnt it */
json_t *mw_commands_handle(struct mw_commands_ctx *cc, const char *cmd,
			   json_t *req, const struct mw_control_caller *who);

/*
 * What `mcpwarden enforce` prints of the connections that predate
 * enforcement, from the daemon's reply; its exit status: 1 when, asked to
 * kill them, one may stay open (not closed, not inspected, not listed).
 */
int mw_print_existing(FILE *out, json_t *resp, bool kill);

#endif
