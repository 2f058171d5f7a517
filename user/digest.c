// SPDX-License-Identifier: BSD-2-Clause
#include "digest.h"

#include <pthread.h>
#include <stdio.h>

#include <openssl/evp.h>

static const EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const EVP_MD *mw_sha256_md(void)
{
	pthread_once(&sha256_once, fetch_sha256);
	/* a failed fetch leaves the implicit one, slower but the same */
	return sha256_md ? sha256_md : EVP_sha256();
}

int mw_sha256_hex(const void *bytes, size_t len, char out[MW_SHA256_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	out[0] = '\0';
	if (!EVP_Digest(bytes, len, md, &mdlen, mw_sha256_md(), NULL) ||
	    mdlen != 32)
		return -1;
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}
