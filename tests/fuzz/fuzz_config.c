// SPDX-License-Identifier: BSD-2-Clause
/*
 * The configuration parser on arbitrary bytes. mw_config_load reads a path,
 * so each input goes through a memfd named by /proc/self/fd/N. Host names
 * are resolved at load: getaddrinfo is interposed to numeric addresses only,
 * so a million made-up names never become DNS queries.
 */
#include <dlfcn.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

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

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct mw_config cfg;
	char path[64], err[512];
	int fd = memfd_create("fuzz-config", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	err[0] = '\0';
	if (mw_config_load(path, &cfg, err, sizeof(err)) == 0) {
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
	close(fd);
	return 0;
}
