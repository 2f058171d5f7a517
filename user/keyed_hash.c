// SPDX-License-Identifier: BSD-2-Clause
#include "keyed_hash.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

int mw_hash_key_new(struct mw_hash_key *k)
{
	if (getrandom(&k->k0, sizeof(k->k0), 0) != sizeof(k->k0) ||
	    getrandom(&k->k1, sizeof(k->k1), 0) != sizeof(k->k1))
		return -EIO;
	return 0;
}

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIP_ROUND(v0, v1, v2, v3)       \
	do {                            \
		v0 += v1;               \
		v1 = rotl(v1, 13) ^ v0; \
		v0 = rotl(v0, 32);      \
		v2 += v3;               \
		v3 = rotl(v3, 16) ^ v2; \
		v0 += v3;               \
		v3 = rotl(v3, 21) ^ v0; \
		v2 += v1;               \
		v1 = rotl(v1, 17) ^ v2; \
		v2 = rotl(v2, 32);      \
	} while (0)

uint64_t mw_keyed_hash(const struct mw_hash_key *k, const void *data,
		       size_t len)
{
	const unsigned char *s = data;
	uint64_t v0 = 0x736f6d6570736575ULL ^ k->k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k->k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k->k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k->k1;
	size_t i = 0;
	uint64_t m, b = (uint64_t)len << 56;

	for (; i + 8 <= len; i += 8) {
		memcpy(&m, s + i, 8);
		v3 ^= m;
		SIP_ROUND(v0, v1, v2, v3);
		SIP_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)s[i + j] << (8 * j);
	v3 ^= b;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (int r = 0; r < 4; r++)
		SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}
