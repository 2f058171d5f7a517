/* SPDX-License-Identifier: BSD-2-Clause */
/* Hexadecimal digits, as the text formats the daemon reads write them. */
#ifndef MW_HEX_H
#define MW_HEX_H

/* The value of one hex digit, either case; -1 for any other byte. */
static inline int mw_hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
