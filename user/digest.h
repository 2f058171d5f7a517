/* SPDX-License-Identifier: BSD-2-Clause */
/* SHA-256 as the audit trail writes it: 64 lowercase hex digits. */
#ifndef MW_DIGEST_H
#define MW_DIGEST_H

#include <stddef.h>

#define MW_SHA256_HEX 65 /* 64 hex digits and the NUL */

/* 0, or -1 when OpenSSL fails (out is then empty). */
int mw_sha256_hex(const void *bytes, size_t len, char out[MW_SHA256_HEX]);

#endif
