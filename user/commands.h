/* SPDX-License-Identifier: BSD-2-Clause */
/* What the daemon does for the CLI: status, enforce, release. */
#ifndef MW_COMMANDS_H
#define MW_COMMANDS_H

#include <jansson.h>

#include "audit.h"
#include "bpf_loader.h"
#include "config.h"
#include "proxy.h"

struct mw_commands_ctx {
	const struct mw_config *cfg;
	struct mw_bpf *bpf;
	struct mw_audit *audit;
	struct mw_proxy *proxy;
};

json_t *mw_commands_handle(struct mw_commands_ctx *cc, const char *cmd,
			   json_t *req);

#endif
