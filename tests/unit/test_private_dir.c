// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "private_dir.h"

/* nobody on Debian: a user that is neither root nor the tests' */
#define OTHER_UID 65534

static char top[] = "/tmp/mw-private-dir-XXXXXX";
static char err[1024];

static void make_top(void)
{
	cr_assert_not_null(mkdtemp(top), "mkdtemp: %s", strerror(errno));
	err[0] = '\0';
}

static void remove_top(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	cr_assert_eq(system(cmd), 0);
}

static const char *at(const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", top, name);
	return path;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	cr_assert_eq(lstat(path, &st), 0, "%s: %s", path, strerror(errno));
	return st.st_mode & 07777;
}

TestSuite(private_dir, .init = make_top, .fini = remove_top);

Test(private_dir, made_with_its_parents_and_mode)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", at("a/b/state"));
	cr_assert_eq(
		mw_private_dir_make(dir, 0711, "state_dir", err, sizeof(err)),
		0, "%s", err);
	cr_assert_eq(mode_of(dir), 0711);
	cr_assert_eq(mode_of(at("a")), 0755);
	cr_assert_eq(mw_private_dir_check(dir, "state_dir", err, sizeof(err)),
		     0, "%s", err);
	/* a mode another hand left is set again */
	cr_assert_eq(chmod(dir, 0755), 0);
	cr_assert_eq(
		mw_private_dir_make(dir, 0711, "state_dir", err, sizeof(err)),
		0, "%s", err);
	cr_assert_eq(mode_of(dir), 0711);
	/* trailing and doubled slashes name the same directory */
	snprintf(dir, sizeof(dir), "%s//a/b/state/", top);
	cr_assert_eq(mw_private_dir_check(dir, "state_dir", err, sizeof(err)),
		     0, "%s", err);
}

Test(private_dir, one_another_user_made_first_is_refused)
{
	char dir[PATH_MAX];

	if (geteuid() != 0)
		cr_skip_test("needs root to give a directory to another user");
	snprintf(dir, sizeof(dir), "%s", at("state"));
	cr_assert_eq(mkdir(dir, 0700), 0);
	cr_assert_eq(chown(dir, OTHER_UID, OTHER_UID), 0);
	cr_assert_eq(
		mw_private_dir_make(dir, 0711, "state_dir", err, sizeof(err)),
		-EPERM);
	cr_assert(strstr(err, "uid 65534"), "%s", err);
	/* left as it was: not taken over, not chmod'ed */
	cr_assert_eq(mode_of(dir), 0700);
	cr_assert_eq(mw_private_dir_check(dir, "state_dir", err, sizeof(err)),
		     -EPERM);
}

Test(private_dir, one_others_may_write_is_refused)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", at("state"));
	cr_assert_eq(mkdir(dir, 0700), 0);
	cr_assert_eq(chmod(dir, 0770), 0);
	cr_assert_eq(
		mw_private_dir_make(dir, 0711, "state_dir", err, sizeof(err)),
		-EPERM);
	cr_assert(strstr(err, "mode 0770"), "%s", err);
	cr_assert_eq(mode_of(dir), 0770);
}

Test(private_dir, a_parent_others_may_change_is_refused_unless_sticky)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", at("shared/state"));
	cr_assert_eq(mkdir(at("shared"), 0777), 0);
	cr_assert_eq(chmod(at("shared"), 0777), 0);
	cr_assert_eq(
		mw_private_dir_make(dir, 0711, "state_dir", err, sizeof(err)),
		-EPERM);
	cr_assert(strstr(err, "above it"), "%s", err);
	/* nothing was made inside it */
	cr_assert_eq(access(dir, F_OK), -1);
	/* /tmp's way: nobody renames what is not theirs */
	cr_assert_eq(chmod(at("shared"), 01777), 0);
	cr_assert_eq(
		mw_private_dir_make(dir, 0711, "state_dir", err, sizeof(err)),
		0, "%s", err);
}

Test(private_dir, a_parent_of_another_user_is_refused)
{
	char dir[PATH_MAX];

	if (geteuid() != 0)
		cr_skip_test("needs root to give a directory to another user");
	snprintf(dir, sizeof(dir), "%s", at("theirs/state"));
	cr_assert_eq(mkdir(at("theirs"), 0755), 0);
	cr_assert_eq(mkdir(dir, 0700), 0);
	/* they may not write it now, but may chmod it and then rename */
	cr_assert_eq(chown(at("theirs"), OTHER_UID, OTHER_UID), 0);
	cr_assert_eq(mw_private_dir_check(dir, "state_dir", err, sizeof(err)),
		     -EPERM);
	cr_assert(strstr(err, "theirs, above it"), "%s", err);
}

Test(private_dir, links_and_dot_dots_are_refused)
{
	char dir[PATH_MAX + 16], link[PATH_MAX];

	cr_assert_eq(mkdir(at("real"), 0700), 0);
	snprintf(link, sizeof(link), "%s", at("link"));
	cr_assert_eq(symlink(at("real"), link), 0);
	/* the link itself as the directory, and as a parent */
	cr_assert_eq(
		mw_private_dir_make(link, 0711, "state_dir", err, sizeof(err)),
		-EPERM);
	cr_assert(strstr(err, "symbolic link"), "%s", err);
	cr_assert_eq(mode_of(at("real")), 0700);
	snprintf(dir, sizeof(dir), "%s/state", link);
	cr_assert_eq(
		mw_private_dir_make(dir, 0711, "state_dir", err, sizeof(err)),
		-EPERM);
	cr_assert_eq(access(at("real/state"), F_OK), -1);
	snprintf(dir, sizeof(dir), "%s/real/../real", top);
	cr_assert_eq(mw_private_dir_check(dir, "state_dir", err, sizeof(err)),
		     -EINVAL);
	cr_assert_eq(mw_private_dir_check("relative/state", "state_dir", err,
					  sizeof(err)),
		     -EINVAL);
	cr_assert_eq(mw_private_dir_check(at("missing"), "state_dir", err,
					  sizeof(err)),
		     -ENOENT);
}

Test(private_dir, a_file_in_its_place_is_refused)
{
	FILE *f = fopen(at("state"), "w");

	cr_assert_not_null(f);
	fclose(f);
	cr_assert_eq(mw_private_dir_make(at("state"), 0711, "state_dir", err,
					 sizeof(err)),
		     -ENOTDIR);
}

static void write_file(const char *path, mode_t mode)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs("default: allow\n", f);
	fclose(f);
	cr_assert_eq(chmod(path, mode), 0);
}

Test(private_dir, a_file_only_root_may_change_passes)
{
	char rel[PATH_MAX];

	write_file(at("policy.yaml"), 0644);
	cr_assert_eq(mw_private_file_check(at("policy.yaml"), "policy", err,
					   sizeof(err)),
		     0, "%s", err);
	/* relative to the working directory, as `-c policy/demo.yaml` */
	cr_assert_eq(chdir(top), 0);
	snprintf(rel, sizeof(rel), "./policy.yaml");
	cr_assert_eq(mw_private_file_check(rel, "policy", err, sizeof(err)), 0,
		     "%s", err);
	/* through a link in a directory only root may change */
	snprintf(rel, sizeof(rel), "%s", at("policy.yaml"));
	cr_assert_eq(symlink(rel, at("current.yaml")), 0);
	cr_assert_eq(mw_private_file_check(at("current.yaml"), "policy", err,
					   sizeof(err)),
		     0, "%s", err);
}

Test(private_dir, a_file_others_may_write_or_swap_is_refused)
{
	char link[PATH_MAX];

	write_file(at("policy.yaml"), 0666);
	cr_assert_eq(mw_private_file_check(at("policy.yaml"), "policy", err,
					   sizeof(err)),
		     -EPERM);
	cr_assert(strstr(err, "mode 0666"), "%s", err);
	/* in a directory anyone may write: renamed away, another put there */
	cr_assert_eq(mkdir(at("shared"), 0777), 0);
	cr_assert_eq(chmod(at("shared"), 0777), 0);
	write_file(at("shared/policy.yaml"), 0644);
	cr_assert_eq(mw_private_file_check(at("shared/policy.yaml"), "policy",
					   err, sizeof(err)),
		     -EPERM);
	cr_assert(strstr(err, "shared, above it"), "%s", err);
	/* and through a link that leads into it */
	snprintf(link, sizeof(link), "%s", at("via-link.yaml"));
	cr_assert_eq(symlink("shared/policy.yaml", link), 0);
	cr_assert_eq(mw_private_file_check(link, "policy", err, sizeof(err)),
		     -EPERM);
	cr_assert(strstr(err, "shared, above it"), "%s", err);
	/* a link others could re-point, to a file that is fine */
	write_file(at("fine.yaml"), 0644);
	snprintf(link, sizeof(link), "%s", at("shared/link.yaml"));
	cr_assert_eq(symlink("../fine.yaml", link), 0);
	cr_assert_eq(mw_private_file_check(link, "policy", err, sizeof(err)),
		     -EPERM);
	cr_assert_eq(mw_private_file_check(at("missing.yaml"), "policy", err,
					   sizeof(err)),
		     -ENOENT);
}

Test(private_dir, a_file_of_another_user_is_refused)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to give a file to another user");
	write_file(at("policy.yaml"), 0644);
	cr_assert_eq(chown(at("policy.yaml"), OTHER_UID, OTHER_UID), 0);
	cr_assert_eq(mw_private_file_check(at("policy.yaml"), "policy", err,
					   sizeof(err)),
		     -EPERM);
	cr_assert(strstr(err, "uid 65534"), "%s", err);
}

Test(private_dir, a_link_another_user_could_re_point_is_refused)
{
	char link[PATH_MAX], hop[PATH_MAX];

	if (geteuid() != 0)
		cr_skip_test("needs root to give a link to another user");
	write_file(at("fine.yaml"), 0644);
	/* theirs, in a sticky directory: only they may replace it, at will */
	cr_assert_eq(mkdir(at("sticky"), 01777), 0);
	cr_assert_eq(chmod(at("sticky"), 01777), 0);
	snprintf(link, sizeof(link), "%s", at("sticky/l.yaml"));
	cr_assert_eq(symlink("../fine.yaml", link), 0);
	cr_assert_eq(lchown(link, OTHER_UID, OTHER_UID), 0);
	cr_assert_eq(mw_private_file_check(link, "policy", err, sizeof(err)),
		     -EPERM);
	cr_assert(strstr(err, "is uid 65534's"), "%s", err);
	/* root's own link there is fine */
	cr_assert_eq(lchown(link, 0, 0), 0);
	cr_assert_eq(mw_private_file_check(link, "policy", err, sizeof(err)), 0,
		     "%s", err);
	/* a hop: root's link to theirs, which leads to the file */
	snprintf(hop, sizeof(hop), "%s", at("hop.yaml"));
	cr_assert_eq(symlink("sticky/l.yaml", hop), 0);
	cr_assert_eq(lchown(link, OTHER_UID, OTHER_UID), 0);
	cr_assert_eq(mw_private_file_check(hop, "policy", err, sizeof(err)),
		     -EPERM);
	cr_assert(strstr(err, "is uid 65534's"), "%s", err);
	/* a directory of theirs on the way through a link */
	cr_assert_eq(mkdir(at("theirs"), 0755), 0);
	write_file(at("theirs/p.yaml"), 0644);
	cr_assert_eq(chown(at("theirs"), OTHER_UID, OTHER_UID), 0);
	cr_assert_eq(symlink("theirs/p.yaml", at("via-theirs.yaml")), 0);
	cr_assert_eq(mw_private_file_check(at("via-theirs.yaml"), "policy", err,
					   sizeof(err)),
		     -EPERM);
	cr_assert(strstr(err, "theirs, above it"), "%s", err);
	/* theirs in a directory only root may write: they cannot replace
	 * it (tar x keeps a link's owner) */
	cr_assert_eq(symlink("fine.yaml", at("kept-owner.yaml")), 0);
	cr_assert_eq(lchown(at("kept-owner.yaml"), OTHER_UID, OTHER_UID), 0);
	cr_assert_eq(mw_private_file_check(at("kept-owner.yaml"), "policy", err,
					   sizeof(err)),
		     0, "%s", err);
	/* .. and . are walked, not refused */
	snprintf(hop, sizeof(hop), "%s/sticky/../fine.yaml", top);
	cr_assert_eq(mw_private_file_check(hop, "policy", err, sizeof(err)), 0,
		     "%s", err);
}

Test(private_dir, proc_links_and_files_followed_by_more_are_refused)
{
	char path[PATH_MAX];
	int fd;

	write_file(at("fine.yaml"), 0644);
	fd = open(at("fine.yaml"), O_RDONLY);
	cr_assert_geq(fd, 0);
	/* an open file, not a name: the name read back may be another's */
	snprintf(path, sizeof(path), "/dev/fd/%d", fd);
	cr_assert_eq(mw_private_file_check(path, "policy", err, sizeof(err)),
		     -EPERM);
	cr_assert(strstr(err, "/proc link"), "%s", err);
	close(fd);
	snprintf(path, sizeof(path), "%s/fine.yaml/x", top);
	cr_assert_eq(mw_private_file_check(path, "policy", err, sizeof(err)),
		     -ENOTDIR);
	snprintf(path, sizeof(path), "%s/fine.yaml/", top);
	cr_assert_eq(mw_private_file_check(path, "policy", err, sizeof(err)),
		     -ENOTDIR);
	cr_assert_eq(mw_private_file_check(top, "policy", err, sizeof(err)),
		     -EISDIR);
}
