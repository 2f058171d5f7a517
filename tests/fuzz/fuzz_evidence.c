// SPDX-License-Identifier: BSD-2-Clause
/*
 * The evidence package's two parsers of outside text. The first input byte
 * chooses:
 *   - even: the rest is a --since/--until argument. When
 *     mw_evidence_parse_time accepts it, its canonical form
 *     (mw_evidence_format_time) parses back to the same instant and formats
 *     to the same text; when it refuses, it says why.
 *   - odd: the rest is a row (fields split at 0x1f; a field of one 0x1e is
 *     SQL NULL). When mw_evidence_event_line accepts it, the line ends in
 *     its only '\n', jansson reads it as an object with exactly the chain's
 *     keys and "hash", and each value is the field's bytes or null; when it
 *     refuses, a field had a NUL or was not UTF-8, and it says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "evidence.h"

static void one_time(const unsigned char *data, size_t size)
{
	char s[128], t1[MW_EVIDENCE_TIME_LEN], t2[MW_EVIDENCE_TIME_LEN];
	char err[256] = "";
	int64_t us, us2;

	if (size >= sizeof(s))
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (mw_evidence_parse_time(s, &us, err, sizeof(err))) {
		if (!err[0])
			abort();
		return;
	}
	if (mw_evidence_format_time(us, t1) ||
	    mw_evidence_parse_time(t1, &us2, err, sizeof(err)) || us2 != us ||
	    mw_evidence_format_time(us2, t2) || strcmp(t1, t2))
		abort();
}

static void one_row(const unsigned char *data, size_t size)
{
	struct mw_chain_value f[MW_CF_N + 1] = { 0 };
	char *copy = malloc(size + 1), *line = NULL, err[256] = "";
	size_t nf = 0, start = 0, len;
	json_error_t jerr;
	json_t *j;

	if (!copy)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (size_t i = 0; i <= size && nf <= MW_CF_N; i++) {
		if (i < size && copy[i] != 0x1f)
			continue;
		f[nf].s = copy + start;
		f[nf].n = i - start;
		if (f[nf].n == 1 && copy[start] == 0x1e)
			f[nf].s = NULL, f[nf].n = 0;
		nf++;
		start = i + 1;
	}
	if (mw_evidence_event_line(f, &line, &len, err, sizeof(err))) {
		if (!err[0])
			abort();
		free(copy);
		return;
	}
	if (!len || line[len - 1] != '\n' || memchr(line, '\n', len - 1))
		abort();
	j = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
		       &jerr);
	if (!j || !json_is_object(j) || json_object_size(j) != MW_CF_N + 1)
		abort();
	for (int k = 0; k <= MW_CF_N; k++) {
		json_t *v = json_object_get(
			j, k < MW_CF_N ? mw_chain_field_names[k] : "hash");

		if (!v)
			abort();
		if (!f[k].s ? !json_is_null(v)
			    : !json_is_string(v) ||
				      json_string_length(v) != f[k].n ||
				      memcmp(json_string_value(v), f[k].s,
					     f[k].n))
			abort();
	}
	json_decref(j);
	free(line);
	free(copy);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] & 1)
		one_row(data + 1, size - 1);
	else
		one_time(data + 1, size - 1);
	return 0;
}
