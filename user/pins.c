// SPDX-License-Identifier: BSD-2-Clause
#include "pins.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "chain.h"
#include "fdio.h"
#include "log.h"

/* In memory as on disk: {server: {tool: {"accepted": hex, "seen": hex}}}. */
struct mw_pins {
	char dir[PATH_MAX]; /* state_dir */
	char path[PATH_MAX];
	json_t *root;
	bool dirty; /* changed since the last save */
};

/* The file's bytes (*text NULL: there is none). 0, or -1 with err. */
static int read_pins(const struct mw_pins *p, char **text, size_t *len,
		     char *err, size_t errlen)
{
	/* not through a link, nor a FIFO that would hang the start */
	int rc = mw_read_regular_err(p->path, true, MW_PINS_MAX_BYTES, text,
				     len, err, errlen);

	return rc && rc != -ENOENT ? -1 : 0;
}

static int load(struct mw_pins *p, char *err, size_t errlen)
{
	json_error_t jerr;
	const char *server, *tool;
	json_t *tools, *pin;
	char *text;
	size_t len;

	if (read_pins(p, &text, &len, err, errlen))
		return -1;
	if (!text) {
		p->root = json_object();
		return p->root ? 0 : -1;
	}
	p->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!p->root) {
		mw_set_err(err, errlen, "%s:%d: %s", p->path, jerr.line,
			   jerr.text);
		return -1;
	}
	if (!json_is_object(p->root)) {
		mw_set_err(err, errlen, "%s: not an object", p->path);
		return -1;
	}
	/* What auditors trust must not be guessed at: a damaged file stops
	 * the daemon rather than re-pinning whatever is served now. */
	json_object_foreach (p->root, server, tools) {
		/* no more than the daemon pins: a listing's bound */
		if (!json_is_object(tools) ||
		    json_object_size(tools) > MW_PINS_MAX_TOOLS)
			goto bad;
		json_object_foreach (tools, tool, pin) {
			const char *a = json_string_value(
				json_object_get(pin, "accepted"));
			const char *s =
				json_string_value(json_object_get(pin, "seen"));

			/* a fingerprint that is no SHA-256 matches none:
			 * every listing would be a change to accept */
			if (!mw_chain_is_hash(a, a ? strlen(a) : 0) ||
			    !mw_chain_is_hash(s, s ? strlen(s) : 0) || !*tool ||
			    strlen(tool) > MW_PINS_MAX_NAME)
				goto bad;
		}
	}
	return 0;
bad:
	mw_set_err(err, errlen, "%s: not a tool pin file", p->path);
	return -1;
}

int mw_pins_open(struct mw_pins **out, const char *state_dir, char *err,
		 size_t errlen)
{
	struct mw_pins *p = calloc(1, sizeof(*p));
	int n;

	if (!p) {
		mw_set_err(err, errlen, "out of memory");
		return -1;
	}
	n = snprintf(p->path, sizeof(p->path), "%s/%s", state_dir,
		     MW_PINS_FILE);
	if (n < 0 || (size_t)n >= sizeof(p->path) ||
	    (size_t)snprintf(p->dir, sizeof(p->dir), "%s", state_dir) >=
		    sizeof(p->dir)) {
		mw_set_err(err, errlen, "state_dir path too long");
		goto fail;
	}
	if (load(p, err, errlen))
		goto fail;
	*out = p;
	return 0;
fail:
	mw_pins_free(p);
	return -1;
}

void mw_pins_free(struct mw_pins *p)
{
	if (!p)
		return;
	json_decref(p->root);
	free(p);
}

/* Written whole or not at all (see mw_write_atomic): the pins an operator
 * accepted survive a crash. A failure is logged and said in err. */
static int save_changes(struct mw_pins *p, char *err, size_t errlen)
{
	char *text;
	int rc;

	if (!p->dirty)
		return 0;
	text = json_dumps(p->root, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (!text) {
		mw_set_err(err, errlen, "out of memory");
		goto fail;
	}
	rc = mw_write_atomic(p->dir, MW_PINS_FILE, text, strlen(text), 0600,
			     err, errlen);
	free(text);
	if (rc)
		goto fail;
	p->dirty = false;
	return 0;
fail:
	log_err("tool pins: cannot save: %s", err);
	return -1;
}

int mw_pins_save(struct mw_pins *p)
{
	char err[PATH_MAX + 128];

	return save_changes(p, err, sizeof(err));
}

int mw_pins_fingerprint(const json_t *def, char hex[MW_PIN_HEX])
{
	json_t *copy;
	char *text;
	int rc = -1;

	if (!json_is_string(json_object_get(def, "name")))
		return -1;
	/* _meta is the server's own bookkeeping, not what a client shows. */
	copy = json_copy((json_t *)def);
	if (!copy)
		return -1;
	json_object_del(copy, "_meta");
	text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
	if (text && !mw_sha256_hex(text, strlen(text), hex))
		rc = 0;
	free(text);
	json_decref(copy);
	return rc;
}
static json_t *pin_of(const struct mw_pins *p, const char *server,
		      const char *tool)
{
	return json_object_get(json_object_get(p->root, server), tool);
}

static void copy_hex(char out[MW_PIN_HEX], const json_t *pin, const char *k)
{
	if (out)
		snprintf(out, MW_PIN_HEX, "%s",
			 json_string_value(json_object_get(pin, k)));
}

int mw_pins_see(struct mw_pins *p, const char *server, const json_t *def,
		enum mw_pin_state *state, char accepted[MW_PIN_HEX],
		char seen[MW_PIN_HEX])
{
	const char *tool = json_string_value(json_object_get(def, "name"));
	json_t *tools, *pin;
	char hex[MW_PIN_HEX];
	bool fresh;

	if (!tool || strlen(tool) > MW_PINS_MAX_NAME ||
	    mw_pins_fingerprint(def, hex))
		return -1;
	tools = json_object_get(p->root, server);
	if (!tools) {
		tools = json_object();
		if (!tools || json_object_set_new(p->root, server, tools))
			return -1;
	}
	pin = json_object_get(tools, tool);
	if (!pin) {
		if (json_object_size(tools) >= MW_PINS_MAX_TOOLS)
			return -1;
		pin = json_pack("{s:s,s:s}", "accepted", hex, "seen", hex);
		if (!pin || json_object_set_new(tools, tool, pin))
			return -1;
		*state = MW_PIN_NEW;
		copy_hex(accepted, pin, "accepted");
		copy_hex(seen, pin, "seen");
		p->dirty = true;
		return 0;
	}
	fresh = strcmp(json_string_value(json_object_get(pin, "seen")), hex);
	if (fresh) {
		if (json_object_set_new(pin, "seen", json_string(hex)))
			return -1;
		/* Saved, so that a restart still knows what was served. */
		p->dirty = true;
	}
	if (!strcmp(json_string_value(json_object_get(pin, "accepted")), hex))
		*state = MW_PIN_SAME;
	else
		*state = fresh ? MW_PIN_CHANGED : MW_PIN_STILL_CHANGED;
	copy_hex(accepted, pin, "accepted");
	copy_hex(seen, pin, "seen");
	return 0;
}

bool mw_pins_changed(const struct mw_pins *p, const char *server,
		     const char *tool)
{
	json_t *pin = pin_of(p, server, tool);

	return pin &&
	       strcmp(json_string_value(json_object_get(pin, "seen")),
		      json_string_value(json_object_get(pin, "accepted")));
}

int mw_pins_accept(struct mw_pins *p, const char *server, size_t *n, char *err,
		   size_t errlen)
{
	json_t *tools = json_object_get(p->root, server), *pin;
	const char *tool;

	*n = 0;
	json_object_foreach (tools, tool, pin) {
		json_t *seen = json_object_get(pin, "seen");

		if (json_equal(seen, json_object_get(pin, "accepted")))
			continue;
		if (json_object_set(pin, "accepted", seen)) {
			mw_set_err(err, errlen, "out of memory");
			return -1;
		}
		(*n)++;
	}
	if (*n)
		p->dirty = true;
	return save_changes(p, err, errlen);
}

json_t *mw_pins_json(const struct mw_pins *p, const char *server)
{
	json_t *tools = json_object_get(p->root, server);

	return tools ? json_deep_copy(tools) : json_object();
}
