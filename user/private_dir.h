/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Directories whose contents the daemon trusts: state_dir (keys, the
 * checkpoint file, the database, the control socket) and the pins. Whoever
 * may write one, or any directory above it, can put links or files of
 * their own there, which a privileged process then writes through or
 * believes.
 */
#ifndef MW_PRIVATE_DIR_H
#define MW_PRIVATE_DIR_H
#include <stddef.h>
#include <sys/types.h>

/*
 * Checks that dir is private to root and this uid: a directory (not a
 * link) owned by root or the effective uid that group and others may not
 * write, below directories that only root or that uid may change (a
 * sticky one, like /tmp, lets nobody rename what is not theirs, so it
 * passes). No
 * component may be a symbolic link: its target could be switched. what
 * names dir in err ("state_dir"). 0, or -errno with the reason in err
 * (-EPERM for a directory others could change).
 */
int mw_private_dir_check(const char *dir, const char *what, char *err,
			 size_t errlen);

/*
 * Makes dir and its missing parents (0755; dir itself mode) and checks it
 * as above. A mode other than 0 is also set on a dir that existed, once it
 * passed: how it was left is not trusted.
 */
int mw_private_dir_make(const char *dir, mode_t mode, const char *what,
			char *err, size_t errlen);

/*
 * Checks that only root and this uid may change file or swap it: the path
 * resolved one component at a time, every directory it goes through one
 * that only root or that uid may change (sticky ones too), every link
 * root's or that uid's, and the file a regular one of theirs that group
 * and others may not write. Nothing on the way can then change under the
 * reader: the file is read by its name afterwards. For the configuration
 * and the policy, which the daemon enforces. 0, or -errno with the reason
 * in err.
 */
int mw_private_file_check(const char *file, const char *what, char *err,
			  size_t errlen);

/*
 * Opens dir for reading without following a link in its place: the
 * descriptor, or -errno with "dir: reason" in err, a link named as one.
 */
int mw_dir_open_nofollow(const char *dir, char *err, size_t errlen);

/*
 * One daemon per directory: an flock() on dir, held as long as the
 * returned descriptor is open. The descriptor, or -errno with the reason
 * in err ("another mcpwardend uses WHAT DIR" when it is held).
 */
int mw_private_dir_lock(const char *dir, const char *what, char *err,
			size_t errlen);

#endif
