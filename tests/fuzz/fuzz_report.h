/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What a verifier's report must hold whatever it was given: each host's
 * breaks add up by class and are described in seq order, and the report
 * renders as JSON and as text.
 */
#ifndef MW_FUZZ_REPORT_H
#define MW_FUZZ_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "verify.h"

/* hosts_hold_all: every break is a host's (a package's own problems,
 * its files, count only in the whole). */
static inline void fuzz_check_report(struct mw_verify *v, bool hosts_hold_all)
{
	uint64_t total = 0;
	char *text = NULL;
	size_t len = 0;
	json_t *j;
	FILE *f;

	mw_verify_finish(v);
	for (size_t i = 0; i < mw_verify_nhosts(v); i++) {
		const struct mw_verify_host *h = mw_verify_host_at(v, i);
		uint64_t sum = 0;

		if (!h || h->ndetails > MW_VERIFY_MAX_DETAILS ||
		    h->ndetails > h->breaks || (h->breaks && !h->ndetails))
			abort();
		for (int c = 0; c < MW_VB_N; c++)
			sum += h->by_class[c];
		if (sum != h->breaks)
			abort();
		for (size_t k = 0; k < h->ndetails; k++)
			if (h->details[k].seq_end < h->details[k].seq ||
			    (k && h->details[k].seq < h->details[k - 1].seq) ||
			    !h->details[k].detail[0])
				abort();
		if (h->first_seq > h->last_seq)
			abort();
		total += h->breaks;
	}
	if (hosts_hold_all
		    ? total != mw_verify_breaks(v) || mw_verify_ok(v) != !total
		    : total > mw_verify_breaks(v))
		abort();
	j = mw_verify_json(v);
	if (!j)
		abort();
	json_decref(j);
	f = open_memstream(&text, &len);
	if (!f)
		abort();
	mw_verify_print(v, f);
	fclose(f);
	if (!len)
		abort();
	free(text);
}
#endif
