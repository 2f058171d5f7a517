// SPDX-License-Identifier: BSD-2-Clause
/* The cgroups enforced by path, as kept under state_dir. */
#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "intents.h"

static char in_dir[64];

static void in_file(char *out, size_t len)
{
	snprintf(out, len, "%s/%s", in_dir, MW_INTENTS_FILE);
}

static void in_setup(void)
{
	snprintf(in_dir, sizeof(in_dir), "/tmp/mw-intents-XXXXXX");
	cr_assert_not_null(mkdtemp(in_dir));
}

static void in_teardown(void)
{
	char path[PATH_MAX];

	if (!in_dir[0])
		return;
	in_file(path, sizeof(path));
	unlink(path);
	rmdir(in_dir);
	in_dir[0] = '\0';
}

static void in_write(const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	in_file(path, sizeof(path));
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

TestSuite(intents, .init = in_setup, .fini = in_teardown);

Test(intents, absent_file_is_none)
{
	struct mw_intents s;
	char err[256];

	cr_assert_eq(mw_intents_load(&s, in_dir, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(s.n, 0);
	mw_intents_free(&s);
}

Test(intents, saved_and_loaded_again)
{
	struct mw_intents s, t;
	struct mw_intent *it;
	char err[256], path[PATH_MAX];
	struct stat st;

	cr_assert_eq(mw_intents_load(&s, in_dir, err, sizeof(err)), 0);
	cr_assert_eq(mw_intents_set(&s, "/sys/fs/cgroup/a.slice/x.service", 41),
		     0);
	cr_assert_eq(mw_intents_set(&s, "/sys/fs/cgroup/b", 7), 0);
	/* set again: the id changes, no second entry */
	cr_assert_eq(mw_intents_set(&s, "/sys/fs/cgroup/a.slice/x.service", 42),
		     0);
	cr_assert_eq(s.n, 2);
	cr_assert_eq(mw_intents_save(&s, err, sizeof(err)), 0, "%s", err);
	in_file(path, sizeof(path));
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);

	cr_assert_eq(mw_intents_load(&t, in_dir, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(t.n, 2);
	it = mw_intents_find(&t, "/sys/fs/cgroup/a.slice/x.service");
	cr_assert_not_null(it);
	cr_assert_eq(it->id, 42);
	cr_assert_eq(it->state, MW_INTENT_ENFORCED);
	cr_assert_eq(it->wd, -1);
	cr_assert_eq(mw_intents_find(&t, "/sys/fs/cgroup/b")->id, 7);
	cr_assert_null(mw_intents_find(&t, "/sys/fs/cgroup/c"));

	/* forgotten, and so on disk */
	cr_assert(mw_intents_remove(&t, "/sys/fs/cgroup/b"));
	cr_assert_not(mw_intents_remove(&t, "/sys/fs/cgroup/b"));
	cr_assert_eq(mw_intents_save(&t, err, sizeof(err)), 0, "%s", err);
	mw_intents_free(&s);
	cr_assert_eq(mw_intents_load(&s, in_dir, err, sizeof(err)), 0);
	cr_assert_eq(s.n, 1);
	cr_assert_null(mw_intents_find(&s, "/sys/fs/cgroup/b"));
	mw_intents_free(&s);
	mw_intents_free(&t);
}

/* What was enforced is not guessed at: a damaged file fails the load. */
Test(intents, damaged_file_fails)
{
	const char *bad[] = {
		"{",
		"[]",
		"{\"version\": 2, \"cgroups\": []}",
		"{\"version\": 1}",
		"{\"version\": 1, \"cgroups\": [{\"path\": \"rel\", \"id\": "
		"1}]}",
		"{\"version\": 1, \"cgroups\": [{\"path\": \"/a\"}]}",
		"{\"version\": 1, \"cgroups\": [{\"path\": \"/a\", \"id\": "
		"-1}]}",
		"{\"version\": 1, \"version\": 1, \"cgroups\": []}",
		/* one path twice: which id was enforced there? */
		"{\"version\": 1, \"cgroups\": [{\"path\": \"/a\", \"id\": "
		"1}, {\"path\": \"/a\", \"id\": 2}]}",
	};
	struct mw_intents s;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		in_write(bad[i]);
		err[0] = '\0';
		cr_assert_eq(mw_intents_load(&s, in_dir, err, sizeof(err)), -1,
			     "accepted: %s", bad[i]);
		cr_assert(strstr(err, MW_INTENTS_FILE), "err: %s", err);
	}
}

Test(intents, not_a_regular_file_fails)
{
	struct mw_intents s;
	char err[256], path[PATH_MAX];

	in_file(path, sizeof(path));
	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_assert_eq(mw_intents_load(&s, in_dir, err, sizeof(err)), -1);
}
