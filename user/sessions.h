/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Who owns each MCP session: the identity (uid and cgroup) of the
 * connection whose request the server answered with the session's id
 * (Streamable HTTP's Mcp-Session-Id on the answer to initialize, or the
 * legacy transport's endpoint event on its stream). Another identity that
 * names the session is refused: it could answer the owner's elicitation
 * or sampling requests, read its stream again (Last-Event-ID) or end it.
 *
 * A session the daemon never saw opened (before it started, or one
 * forgotten for room) belongs to the first identity that names it.
 * Bounded: max sessions seen opened and max / 4 claimed by naming, kept
 * apart (a flood of names never pushes out an opened session); one user
 * (uid) holds an eighth of each at most, its own oldest making room,
 * and past a pool's size the session idle longest in it is forgotten.
 */
#ifndef MW_SESSIONS_H
#define MW_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

struct mw_session_owner {
	uint32_t uid;
	uint64_t cgroup_id;
};

enum mw_session_use {
	MW_SESSION_OWN, /* the identity's own session */
	MW_SESSION_CLAIMED, /* not known before: now the identity's */
	MW_SESSION_OTHERS, /* another identity's: refuse */
};

struct mw_sessions;

int mw_sessions_new(struct mw_sessions **out, size_t max);
void mw_sessions_free(struct mw_sessions *s);

/*
 * The server opened session sid (of server) for owner: it is owner's,
 * whoever had an id so spelled before. 0 or -ENOMEM.
 */
int mw_sessions_opened(struct mw_sessions *s, const char *server,
		       const char *sid, struct mw_session_owner owner);

/*
 * owner names session sid of server. -ENOMEM when a session not known
 * could not be recorded (the caller refuses: it cannot be bound).
 */
int mw_sessions_use(struct mw_sessions *s, const char *server, const char *sid,
		    struct mw_session_owner owner, enum mw_session_use *use);

size_t mw_sessions_count(const struct mw_sessions *s);

#endif
