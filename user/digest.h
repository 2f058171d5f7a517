/* SPDX-License-Identifier: BSD-2-Clause */
/* SHA-256 as the audit trail writes it: 64 lowercase hex digits. */
#ifndef MW_DIGEST_H
#define MW_DIGEST_H

#include <stddef.h>

#include <openssl/types.h>

#define MW_SHA256_HEX 65 /* 64 hex digits and the NUL */

/*
 * SHA-256 for EVP_DigestInit_ex, fetched once for the process: OpenSSL 3
 * looks EVP_sha256() up by name again at every init (an implicit fetch,
 * under a lock), which cost more than hashing a small audit event.
 */
const EVP_MD *mw_sha256_md(void);

/* 0, or -1 when OpenSSL fails (out is then empty). */
int mw_sha256_hex(const void *bytes, size_t len, char out[MW_SHA256_HEX]);

#endif
