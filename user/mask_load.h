/* SPDX-License-Identifier: BSD-2-Clause */
/* The masking configuration ("detectors:", "masking:") into a masker. */
#ifndef MW_MASK_LOAD_H
#define MW_MASK_LOAD_H

#include "mask.h"
#include "yaml_util.h"

/*
 * detectors and masking may be NULL (absent). *out stays NULL when there
 * are no masking rules. 0, or -1 with "file:line: reason" in c->err.
 */
int mw_mask_from_yaml(struct mw_yaml_ctx *c, yaml_node_t *detectors,
		      yaml_node_t *masking, const char *const *servers,
		      size_t nservers, struct mw_masker **out);

#endif
