/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The embedded PostgreSQL cluster under state_dir, for hosts without an
 * audit DSN:
 *
 *   STATE_DIR/pg/data  the cluster (initdb --auth-local=trust
 *                      --auth-host=reject, superuser mcpwarden)
 *   STATE_DIR/pg/run   its Unix socket (no TCP port: listen_addresses = ''
 *                      on the server's command line)
 *   STATE_DIR/pg/log   the server log (pg_ctl -l)
 *
 * PostgreSQL refuses to run as root, so initdb and pg_ctl run as an OS user
 * (fork, setgroups/setgid/setuid, execve: never a shell). The socket
 * directory and socket are 0700: only that user and root can connect.
 */
#ifndef MW_PG_EMBEDDED_H
#define MW_PG_EMBEDDED_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define MW_PG_DBNAME "mcpwarden"
#define MW_PG_SUPERUSER "mcpwarden"

struct mw_pg_paths {
	char root[PATH_MAX]; /* STATE_DIR/pg */
	char data[PATH_MAX];
	char run[PATH_MAX];
	char log[PATH_MAX];
};

/* Fills the paths; -EINVAL without state_dir, -ENAMETOOLONG. */
int mw_pg_paths(struct mw_pg_paths *p, const char *state_dir);

/*
 * The directory of the server binaries (initdb, pg_ctl): the one of the
 * major version in data_dir/PG_VERSION when it exists, else
 * `pg_config --bindir`, else the newest /usr/lib/postgresql/N/bin.
 * data_dir may be NULL. Returns 0 or -ENOENT.
 */
int mw_pg_bindir(const char *data_dir, char *out, size_t outlen);

/*
 * Creates the cluster on first use, (re)writes its configuration, starts it
 * unless it is already running, and creates the database mcpwarden if
 * missing. *started (may be NULL) tells whether this call started the
 * server. Returns 0 or -errno with a message in err.
 */
int mw_pg_embedded_start(const char *state_dir, const char *user, bool *started,
			 char *err, size_t errlen);

/* pg_ctl -m fast stop; 0 also when it was not running. */
int mw_pg_embedded_stop(const char *state_dir, const char *user, char *err,
			size_t errlen);

/* pg_ctl status: 1 running, 0 not running, -errno on error. */
int mw_pg_embedded_status(const char *state_dir, const char *user, char *err,
			  size_t errlen);

/*
 * "host=STATE_DIR/pg/run dbname=mcpwarden user=mcpwarden" (the host value
 * quoted when it must be). Returns 0, -EINVAL or -ENOSPC.
 */
int mw_pg_embedded_conninfo(const char *state_dir, char *out, size_t outlen);

#endif
