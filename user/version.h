/* SPDX-License-Identifier: BSD-2-Clause */
/* The release, recorded at every start (daemon_start) and in evidence. */
#ifndef MW_VERSION_H
#define MW_VERSION_H

#define MW_VERSION "0.4.0"

#endif
