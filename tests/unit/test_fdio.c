// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fdio.h"

struct dribble {
	int fd;
	const char *text;
};

/* Writes one byte at a time with pauses: the reader sees short reads. */
static void *dribble(void *arg)
{
	struct dribble *d = arg;

	for (const char *p = d->text; *p; p++) {
		cr_assert_eq(write(d->fd, p, 1), 1);
		usleep(1000);
	}
	close(d->fd);
	return NULL;
}

Test(fdio, a_read_gathers_short_reads_until_full_or_the_end)
{
	char buf[32] = { 0 };
	struct dribble d = { .text = "whole" };
	pthread_t t;
	int pfd[2];

	cr_assert_eq(pipe(pfd), 0);
	d.fd = pfd[1];
	cr_assert_eq(pthread_create(&t, NULL, dribble, &d), 0);
	cr_assert_eq(mw_read_full(pfd[0], buf, 3), 3);
	cr_assert_eq(memcmp(buf, "who", 3), 0);
	/* asked for more than is left: what there was, at the end */
	cr_assert_eq(mw_read_full(pfd[0], buf, sizeof(buf)), 2);
	cr_assert_eq(memcmp(buf, "le", 2), 0);
	cr_assert_eq(mw_read_full(pfd[0], buf, sizeof(buf)), 0);
	pthread_join(t, NULL);
	close(pfd[0]);
	cr_assert_eq(mw_read_full(pfd[0], buf, 1), -EBADF);
}

Test(fdio, positioned_transfers_leave_the_file_position)
{
	char path[] = "/tmp/mw-fdio-XXXXXX", buf[8] = { 0 };
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	unlink(path);
	cr_assert_eq(mw_write_all(fd, "abcdef", 6), 0);
	cr_assert_eq(mw_pwrite_all(fd, "XY", 2, 2), 0);
	cr_assert_eq(lseek(fd, 0, SEEK_CUR), 6);
	cr_assert_eq(mw_pread_full(fd, buf, sizeof(buf), 1), 5);
	cr_assert_str_eq(buf, "bXYef");
	cr_assert_eq(mw_pread_full(fd, buf, 1, -1), -EINVAL);
	cr_assert_eq(mw_pwrite_all(fd, "a", 1, -1), -EINVAL);
	close(fd);
}

Test(fdio, a_write_all_reports_the_error)
{
	int pfd[2];

	cr_assert_eq(pipe(pfd), 0);
	close(pfd[0]);
	signal(SIGPIPE, SIG_IGN);
	cr_assert_eq(mw_write_all(pfd[1], "x", 1), -EPIPE);
	close(pfd[1]);
	cr_assert_eq(mw_write_all(pfd[1], "x", 1), -EBADF);
}

/* Only a regular file opens: a FIFO would block, /dev/zero never end. */
Test(fdio, open_regular_refuses_what_is_no_regular_file, .timeout = 10)
{
	char dir[] = "/tmp/mw-fdio-XXXXXX", path[64], link[64];
	int fd, flags;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_assert_eq(mw_open_regular(AT_FDCWD, path, false), -EINVAL);
	unlink(path);
	cr_assert_eq(mw_open_regular(AT_FDCWD, "/dev/zero", false), -EINVAL);
	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	snprintf(link, sizeof(link), "%s/link", dir);
	cr_assert_eq(symlink(path, link), 0);
	cr_assert_eq(mw_open_regular(AT_FDCWD, link, true), -ELOOP);
	fd = mw_open_regular(AT_FDCWD, link, false);
	cr_assert_geq(fd, 0);
	flags = fcntl(fd, F_GETFL);
	cr_assert_eq(flags & O_NONBLOCK, 0, "left non-blocking");
	close(fd);
	unlink(link);
	unlink(path);
	rmdir(dir);
}

/* For writing: the same refusals, the status flags asked for kept. */
Test(fdio, open_regular_for_appends, .timeout = 10)
{
	char dir[] = "/tmp/mw-fdio-XXXXXX", path[64];
	const int flags = O_RDWR | O_APPEND | O_NOFOLLOW;
	struct stat st;
	int fd;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_assert_eq(mw_open_regular_flags(AT_FDCWD, path, flags, 0, &st),
		     -EINVAL);
	cr_assert(S_ISFIFO(st.st_mode));
	unlink(path);
	snprintf(path, sizeof(path), "%s/file", dir);
	fd = mw_open_regular_flags(AT_FDCWD, path, flags | O_CREAT | O_EXCL,
				   0640, &st);
	cr_assert_geq(fd, 0, "%s", strerror(-fd));
	cr_assert_eq(st.st_nlink, 1);
	cr_assert_eq(fcntl(fd, F_GETFL) & (O_NONBLOCK | O_APPEND | O_ACCMODE),
		     O_APPEND | O_RDWR);
	close(fd);
	cr_assert_eq(mw_open_regular_flags(AT_FDCWD, path,
					   flags | O_CREAT | O_EXCL, 0640,
					   NULL),
		     -EEXIST);
	unlink(path);
	rmdir(dir);
}

/* A file of text, open for reading (unlinked at once). */
static int fdio_file(const char *text)
{
	char path[] = "/tmp/mw-fdio-XXXXXX";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(mw_write_all(fd, text, strlen(text)), 0);
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

Test(fdio, a_bounded_read_takes_the_file_up_to_its_bound)
{
	char *out;
	size_t len;
	int fd;

	fd = fdio_file("");
	cr_assert_eq(mw_read_bounded(fd, 8, &out, &len), 0);
	cr_assert_eq(len, 0);
	cr_assert_str_eq(out, "");
	free(out);
	close(fd);
	fd = fdio_file("12345678");
	cr_assert_eq(mw_read_bounded(fd, 8, &out, &len), 0,
		     "exactly the bound");
	cr_assert_eq(len, 8);
	cr_assert_str_eq(out, "12345678");
	free(out);
	close(fd);
	fd = fdio_file("123456789");
	cr_assert_eq(mw_read_bounded(fd, 8, &out, &len), -EFBIG);
	cr_assert_null(out);
	close(fd);
}

/* fstat gave a pipe's size as 0: what comes later is read on, to the
 * bound, as for a file that grew after its size was taken. */
Test(fdio, a_bounded_read_goes_on_past_the_size_it_was_told)
{
	struct dribble d = { .text = "grown after fstat" };
	pthread_t t;
	char *out;
	size_t len;
	int pfd[2];

	cr_assert_eq(pipe(pfd), 0);
	d.fd = pfd[1];
	cr_assert_eq(pthread_create(&t, NULL, dribble, &d), 0);
	cr_assert_eq(mw_read_bounded(pfd[0], 1 << 20, &out, &len), 0);
	pthread_join(t, NULL);
	cr_assert_eq(len, strlen(d.text));
	cr_assert_str_eq(out, d.text);
	free(out);
	close(pfd[0]);
	cr_assert_eq(pipe(pfd), 0);
	d.fd = pfd[1];
	cr_assert_eq(pthread_create(&t, NULL, dribble, &d), 0);
	cr_assert_eq(mw_read_bounded(pfd[0], 5, &out, &len), -EFBIG);
	pthread_join(t, NULL);
	close(pfd[0]);
}
