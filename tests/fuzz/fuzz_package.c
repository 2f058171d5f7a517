// SPDX-License-Identifier: BSD-2-Clause
/*
 * `mcpwarden audit verify --package DIR` on a package from anyone: the
 * input is cut at 0xff bytes into manifest.json, manifest.sha256,
 * checkpoints.jsonl and events.jsonl, in that order; a part not given is
 * a file not there. To get past the digests, a manifest.sha256 of "="
 * becomes the manifest's real line, and a manifest entry {"name": N,
 * "sha256": "="} gets the SHA-256 and size of the file N as written.
 * mw_evidence_verify_dir then reads the directory into a verifier.
 * Every run checks: a failure says why; otherwise the report holds
 * together (breaks counted by class, a JSON and a text report).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "digest.h"
#include "evidence.h"
#include "log.h"
#include "sign.h"
#include "verify.h"

#include "fuzz_report.h"

enum { P_MANIFEST, P_SUMS, P_CPS, P_EVENTS, P_N };

static const char *const names[P_N] = {
	MW_EVIDENCE_MANIFEST,
	MW_EVIDENCE_MANIFEST_SHA,
	MW_EVIDENCE_CHECKPOINTS,
	MW_EVIDENCE_EVENTS,
};

static struct mw_sign_pub *pub;
static char key_dir[PATH_MAX], pkg_dir[PATH_MAX];

static void path_of(char *out, size_t len, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, len, "%s/%s", dir, name) >= len)
		abort();
}

static void cleanup(void)
{
	char path[PATH_MAX + 64];

	mw_sign_pub_free(pub);
	for (int i = 0; i < P_N; i++) {
		path_of(path, sizeof(path), pkg_dir, names[i]);
		unlink(path);
	}
	rmdir(pkg_dir);
	path_of(path, sizeof(path), key_dir, MW_SIGN_KEY_FILE);
	unlink(path);
	path_of(path, sizeof(path), key_dir, MW_SIGN_PUB_FILE);
	unlink(path);
	rmdir(key_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	struct mw_signer *signer = NULL;
	char err[512], pem[4096];
	int n;

	(void)argc;
	(void)argv;
	mw_log_set_level(MW_LOG_ERR);
	if (!tmp || !tmp[0])
		tmp = "/tmp";
	snprintf(key_dir, sizeof(key_dir), "%s/mw-fuzz-pkg-key-XXXXXX", tmp);
	snprintf(pkg_dir, sizeof(pkg_dir), "%s/mw-fuzz-pkg-XXXXXX", tmp);
	if (!mkdtemp(key_dir) || !mkdtemp(pkg_dir) ||
	    mw_signer_open(&signer, key_dir, err, sizeof(err)) ||
	    (n = mw_signer_public_pem(signer, pem, sizeof(pem))) < 0 ||
	    mw_sign_pub_from_pem(&pub, pem, (size_t)n, err, sizeof(err)))
		abort();
	mw_signer_free(signer);
	atexit(cleanup);
	return 0;
}

static void put(const char *name, const void *data, size_t size)
{
	char path[PATH_MAX + 64];
	size_t done = 0;
	ssize_t n;
	int fd;

	path_of(path, sizeof(path), pkg_dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	while (done < size) {
		n = write(fd, (const char *)data + done, size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			abort();
		done += (size_t)n;
	}
	if (close(fd))
		abort();
}

struct part {
	const unsigned char *p;
	size_t n;
	bool given;
};

/* The manifest, its "=" digests filled in; to free(). */
static char *manifest_of(const struct part parts[P_N], size_t *len)
{
	json_t *m =
		json_loadb((const char *)parts[P_MANIFEST].p,
			   parts[P_MANIFEST].n, JSON_REJECT_DUPLICATES, NULL);
	json_t *fe;
	char *text = NULL;
	bool filled = false;
	size_t i;

	json_array_foreach (json_object_get(m, "files"), i, fe) {
		const char *name =
			json_string_value(json_object_get(fe, "name"));
		const char *sha =
			json_string_value(json_object_get(fe, "sha256"));
		char hex[MW_SHA256_HEX];

		if (!name || !sha || strcmp(sha, "="))
			continue;
		for (int k = P_CPS; k < P_N; k++) {
			if (strcmp(name, names[k]) || !parts[k].given ||
			    mw_sha256_hex(parts[k].p, parts[k].n, hex))
				continue;
			json_object_set_new(fe, "sha256", json_string(hex));
			json_object_set_new(
				fe, "bytes",
				json_integer((json_int_t)parts[k].n));
			filled = true;
		}
	}
	if (filled)
		text = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	if (text) {
		*len = strlen(text);
		return text;
	}
	text = malloc(parts[P_MANIFEST].n + 1);
	if (!text)
		abort();
	memcpy(text, parts[P_MANIFEST].p, parts[P_MANIFEST].n);
	*len = parts[P_MANIFEST].n;
	return text;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct part parts[P_N] = { 0 };
	struct mw_verify *v = NULL;
	char err[1024] = "", path[PATH_MAX + 64];
	const unsigned char *at = data, *end = data + size;
	char *manifest;
	size_t mlen;

	for (int i = 0; i < P_N && at <= end; i++) {
		const unsigned char *cut = memchr(at, 0xff, (size_t)(end - at));

		parts[i] = (struct part){ at, (cut ? cut : end) - at, true };
		if (!cut)
			break;
		at = cut + 1;
	}
	for (int i = 0; i < P_N; i++) {
		path_of(path, sizeof(path), pkg_dir, names[i]);
		unlink(path);
	}
	for (int i = P_CPS; i < P_N; i++)
		if (parts[i].given)
			put(names[i], parts[i].p, parts[i].n);
	if (parts[P_MANIFEST].given) {
		manifest = manifest_of(parts, &mlen);
		put(names[P_MANIFEST], manifest, mlen);
		if (parts[P_SUMS].given && parts[P_SUMS].n == 1 &&
		    parts[P_SUMS].p[0] == '=') {
			char hex[MW_SHA256_HEX], line[128];
			int n;

			if (mw_sha256_hex(manifest, mlen, hex))
				abort();
			n = snprintf(line, sizeof(line), "%s  %s\n", hex,
				     MW_EVIDENCE_MANIFEST);
			put(names[P_SUMS], line, (size_t)n);
		} else if (parts[P_SUMS].given) {
			put(names[P_SUMS], parts[P_SUMS].p, parts[P_SUMS].n);
		}
		free(manifest);
	}
	if (mw_verify_new(&v, pub, err, sizeof(err)))
		abort();
	if (mw_evidence_verify_dir(v, pkg_dir, NULL, err, sizeof(err))) {
		if (!err[0])
			abort();
	} else {
		fuzz_check_report(v, false);
	}
	mw_verify_free(v);
	return 0;
}
