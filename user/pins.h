/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Tool pinning: the fingerprint of each tool definition a server lists
 * (name, description, input schema), trusted the first time it is seen and
 * compared every time after. A definition that changes (a "rug pull": a
 * harmless tool turned harmful after the operator looked at it) stays
 * changed until an operator accepts the server's current tools. Kept in
 * one file under state_dir, so restarts do not forget what was accepted.
 */
#ifndef MW_PINS_H
#define MW_PINS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "digest.h"

#define MW_PINS_FILE "tool-pins.json"
#define MW_PINS_MAX_TOOLS 1024 /* per server */
#define MW_PINS_MAX_NAME 128 /* bytes of a tool name (MCP: 1 to 128) */
/* 64 servers x 1,024 tools x a name and two fingerprints fit */
#define MW_PINS_MAX_BYTES (64 << 20)
#define MW_PIN_HEX MW_SHA256_HEX

struct mw_pins;

enum mw_pin_state {
	MW_PIN_NEW, /* first seen: pinned now */
	MW_PIN_SAME, /* as accepted */
	MW_PIN_CHANGED, /* differs from the accepted one, and from last time */
	MW_PIN_STILL_CHANGED, /* differs from the accepted one, as last time */
};

/* Loads state_dir/MW_PINS_FILE (absent: nothing pinned). 0 or -1 + err. */
int mw_pins_open(struct mw_pins **out, const char *state_dir, char *err,
		 size_t errlen);
void mw_pins_free(struct mw_pins *p);

/*
 * The fingerprint of one tool definition (an element of a tools/list
 * result): SHA-256 of the definition without its _meta, serialised compact
 * with sorted keys, so name, title, description, schemas and annotations
 * all count. -1 when def has no string name.
 */
int mw_pins_fingerprint(const json_t *def, char hex[MW_PIN_HEX]);

/*
 * A tool definition as the server lists it now. NEW pins it; CHANGED
 * remembers what was seen until mw_pins_accept(). accepted and seen (may
 * be NULL) get the two fingerprints. -1 on a bad definition (no name, a
 * name over MW_PINS_MAX_NAME) or when a bound is reached: such a tool
 * cannot be pinned. mw_pins_save() writes what changed.
 */
int mw_pins_see(struct mw_pins *p, const char *server, const json_t *def,
		enum mw_pin_state *state, char accepted[MW_PIN_HEX],
		char seen[MW_PIN_HEX]);

/* Writes the pins when mw_pins_see() changed them: 0 or -1 (logged). */
int mw_pins_save(struct mw_pins *p);

/* True when the tool's last seen definition differs from the accepted. */
bool mw_pins_changed(const struct mw_pins *p, const char *server,
		     const char *tool);

/*
 * Accepts what the server listed last, for every tool of server; *n gets
 * how many changed definitions were accepted. 0 or -1 with err.
 */
int mw_pins_accept(struct mw_pins *p, const char *server, size_t *n, char *err,
		   size_t errlen);

/* The pins of one server as JSON (status): {tool: {accepted, seen}}. */
json_t *mw_pins_json(const struct mw_pins *p, const char *server);

#endif
