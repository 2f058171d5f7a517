// SPDX-License-Identifier: BSD-2-Clause
/*
 * The enforced-cgroups file under state_dir on arbitrary bytes. The daemon
 * writes it, but it is read back at every start: whatever a crash, a full
 * disk or a hand edit left there must either load as what it says or be
 * refused with a reason (the daemon then does not start). The input is
 * written as <dir>/enforced-cgroups.json and loaded. Every run checks:
 *   - a refusal says why and leaves nothing loaded;
 *   - what loads is at most MW_INTENTS_MAX absolute paths, each once,
 *     each exactly the string the file holds (no NUL cut it short), in
 *     state ENFORCED;
 *   - saved and loaded again, it is the same list.
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

#include "intents.h"
#include "fuzz_scratch.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	mw_log_set_level(MW_LOG_ERR);
	fuzz_scratch_make("intents", MW_INTENTS_FILE);
	return 0;
}

/* Whether the file names path in some entry, byte for byte. */
static bool file_has(json_t *root, const char *path)
{
	json_t *e;
	size_t i;

	json_array_foreach (json_object_get(root, "cgroups"), i, e) {
		json_t *p = json_object_get(e, "path");

		if (json_string_length(p) == strlen(path) &&
		    !memcmp(json_string_value(p), path, strlen(path)))
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct mw_intents s, t;
	char err[PATH_MAX + 256] = "";
	json_t *root;

	fuzz_scratch_write(data, size);
	if (mw_intents_load(&s, fuzz_dir, err, sizeof(err))) {
		if (!err[0] || s.n || s.v)
			abort();
		return 0;
	}
	/* what loaded was JSON, so jansson reads it too */
	root = json_loadb((const char *)data, size, 0, NULL);
	if (s.n > MW_INTENTS_MAX || (s.n && !root))
		abort();
	for (size_t i = 0; i < s.n; i++) {
		if (s.v[i].path[0] != '/' ||
		    s.v[i].state != MW_INTENT_ENFORCED ||
		    !file_has(root, s.v[i].path))
			abort();
		for (size_t k = 0; k < i; k++)
			if (!strcmp(s.v[k].path, s.v[i].path))
				abort();
	}
	json_decref(root);
	if (mw_intents_save(&s, err, sizeof(err)) ||
	    mw_intents_load(&t, fuzz_dir, err, sizeof(err)) || t.n != s.n)
		abort();
	for (size_t i = 0; i < s.n; i++)
		if (strcmp(t.v[i].path, s.v[i].path) || t.v[i].id != s.v[i].id)
			abort();
	mw_intents_free(&t);
	mw_intents_free(&s);
	return 0;
}
