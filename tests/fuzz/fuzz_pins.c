// SPDX-License-Identifier: BSD-2-Clause
/*
 * The tool pin file under state_dir on arbitrary bytes. It is what an
 * operator accepted: read back at every start, a damaged one stops the
 * daemon rather than pin again what is served now. The input is written
 * as <dir>/tool-pins.json and opened. Every run checks:
 *   - a refusal says why;
 *   - what opens answers for every server and tool the file names, and
 *     takes a tool listing: a definition seen for each server and for a
 *     server it does not name, then accepted, is no longer changed;
 *   - saved and opened again, every server's pins are what they were.
 * The directory is made under $TMPDIR (else /tmp): a tmpfs there keeps
 * the save's fsyncs cheap.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "fuzz_scratch.h"
#include "log.h"
#include "pins.h"

#define MAX_SERVERS 8 /* servers per input a listing is shown for */

static json_t *def;

static void cleanup(void)
{
	json_decref(def);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	mw_log_set_level(MW_LOG_ERR);
	fuzz_scratch_make("pins", MW_PINS_FILE);
	def = json_pack("{s:s,s:s,s:{s:s}}", "name", "get_invoice",
			"description", "Reads an invoice", "inputSchema",
			"type", "object");
	if (!def)
		abort();
	atexit(cleanup);
	return 0;
}

static bool is_hex(const char *s)
{
	if (!s || strlen(s) != MW_PIN_HEX - 1)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* A listing with one definition, then the operator accepting it. */
static void list_and_accept(struct mw_pins *p, const char *server)
{
	char accepted[MW_PIN_HEX], seen[MW_PIN_HEX], err[512];
	enum mw_pin_state st;
	bool changed;
	size_t n;

	/* a server may have been pinned to its bound already */
	if (mw_pins_see(p, server, def, &st, accepted, seen))
		return;
	changed = st == MW_PIN_CHANGED || st == MW_PIN_STILL_CHANGED;
	if ((strcmp(seen, accepted) != 0) != changed ||
	    mw_pins_changed(p, server, "get_invoice") != changed)
		abort();
	if (mw_pins_accept(p, server, &n, err, sizeof(err)) ||
	    mw_pins_changed(p, server, "get_invoice"))
		abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct mw_pins *p = NULL, *q = NULL;
	json_t *root, *tools, *pin, *before[MAX_SERVERS + 1] = { 0 };
	const char *servers[MAX_SERVERS + 1];
	char err[PATH_MAX + 256] = "";
	const char *server, *tool;
	size_t ns = 0;

	fuzz_scratch_write(data, size);
	if (mw_pins_open(&p, fuzz_dir, err, sizeof(err))) {
		if (!err[0] || p)
			abort();
		return 0;
	}
	root = json_loadb((const char *)data, size, 0, NULL);
	json_object_foreach (root, server, tools) {
		json_t *mine = mw_pins_json(p, server);

		if (!json_is_object(mine))
			abort();
		json_object_foreach (tools, tool, pin) {
			/* both fingerprints as written, and one answer */
			json_t *got = json_object_get(mine, tool);

			if (!is_hex(json_string_value(
				    json_object_get(got, "accepted"))) ||
			    !is_hex(json_string_value(
				    json_object_get(got, "seen"))))
				abort();
			(void)mw_pins_changed(p, server, tool);
		}
		json_decref(mine);
		if (ns < MAX_SERVERS)
			servers[ns++] = server;
	}
	servers[ns++] = "fuzz-server-not-in-file";
	for (size_t i = 0; i < ns; i++)
		list_and_accept(p, servers[i]);
	for (size_t i = 0; i < ns; i++)
		before[i] = mw_pins_json(p, servers[i]);
	if (mw_pins_save(p) || mw_pins_open(&q, fuzz_dir, err, sizeof(err)))
		abort();
	for (size_t i = 0; i < ns; i++) {
		json_t *after = mw_pins_json(q, servers[i]);

		if (!json_equal(before[i], after))
			abort();
		json_decref(after);
		json_decref(before[i]);
	}
	mw_pins_free(q);
	mw_pins_free(p);
	json_decref(root);
	return 0;
}
