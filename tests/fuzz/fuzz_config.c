// SPDX-License-Identifier: BSD-2-Clause
/*
 * The configuration parser on arbitrary bytes. mw_config_load reads a path
 * and refuses a /proc/self/fd/N link (a name that does not say which file
 * it is), so each input is written to a file of its own in a private
 * directory under $TMPDIR (else /tmp), as the daemon's would be. Host names
 * are resolved at load: getaddrinfo is interposed to numeric addresses only,
 * so a million made-up names never become DNS queries.
 */
#include <dlfcn.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fuzz_scratch.h"

int getaddrinfo(const char *node, const char *service,
		const struct addrinfo *hints, struct addrinfo **res)
{
	static int (*real)(const char *, const char *, const struct addrinfo *,
			   struct addrinfo **);
	struct addrinfo h = { 0 };

	if (!real)
		real = (int (*)(
			const char *, const char *, const struct addrinfo *,
			struct addrinfo **))dlsym(RTLD_NEXT, "getaddrinfo");
	if (hints)
		h = *hints;
	h.ai_flags |= AI_NUMERICHOST;
	return real(node, service, &h, res);
}

/*
 * A configuration that loads must load here: should the loader come to
 * refuse the harness's file itself, every input would stop at the same
 * error and the target would fuzz nothing while passing.
 */
static const char sane[] = "state_dir: /tmp/x\n"
			   "servers:\n"
			   "  - name: billing\n"
			   "    address: 127.0.0.1:8080\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct mw_config cfg;
	char err[512] = "";

	(void)argc;
	(void)argv;
	fuzz_scratch_make("config", "mcpwarden.yaml");
	fuzz_scratch_write((const unsigned char *)sane, sizeof(sane) - 1);
	if (mw_config_load(fuzz_file, &cfg, err, sizeof(err))) {
		fprintf(stderr, "fuzz_config: a sane configuration: %s\n", err);
		abort();
	}
	mw_config_free(&cfg);
	return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct mw_config cfg;
	char err[512];

	fuzz_scratch_write(data, size);
	err[0] = '\0';
	if (mw_config_load(fuzz_file, &cfg, err, sizeof(err)) == 0) {
		/* What loads is usable: every server named and addressed. */
		for (size_t i = 0; i < cfg.nservers; i++)
			if (!cfg.servers[i].name[0] || !cfg.servers[i].naddrs ||
			    cfg.servers[i].naddrs > MW_MAX_SERVER_ADDRS)
				abort();
		if (cfg.state_dir[0] != '/')
			abort();
		mw_config_free(&cfg);
	} else if (!err[0]) {
		abort(); /* a refusal always says why */
	}
	return 0;
}
