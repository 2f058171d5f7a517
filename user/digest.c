// SPDX-License-Identifier: BSD-2-Clause
#include "digest.h"

#include <stdio.h>

#include <openssl/evp.h>

int mw_sha256_hex(const void *bytes, size_t len, char out[MW_SHA256_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	out[0] = '\0';
	if (!EVP_Digest(bytes, len, md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != 32)
		return -1;
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}
