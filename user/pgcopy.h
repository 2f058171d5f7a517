/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One line of PostgreSQL COPY TO text format, split into its fields:
 * separated by tabs, "\N" alone is SQL NULL (an empty field is the empty
 * string), and the escapes \\ \b \f \n \r \t \v, octal \d \dd \ddd, hex
 * \xh \xhh, any other backslashed character being itself, as PostgreSQL
 * reads them. Decoded in place (never longer than the text): no
 * allocation, the fields point into the line.
 */
#ifndef MW_PGCOPY_H
#define MW_PGCOPY_H

#include <stddef.h>

#include "chain.h"

/* The longest line accepted, its newline included. */
#define MW_PGCOPY_MAX_LINE (64u << 20)

/*
 * Splits line (len bytes, one optional trailing '\n'; no NUL needed) into
 * exactly nfields fields; field i is NULL (s == NULL) or points into line.
 * Returns 0, or -1 with err: another number of fields, a line longer than
 * MW_PGCOPY_MAX_LINE, a raw newline or carriage return inside the line, a
 * backslash ending it.
 */
int mw_pgcopy_parse(char *line, size_t len, struct mw_chain_value *fields,
		    size_t nfields, char *err, size_t errlen);

#endif
