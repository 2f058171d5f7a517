// SPDX-License-Identifier: BSD-2-Clause
/*
 * setexe MODE TARGET PORT: gives this process the executable TARGET without
 * ever running it (PR_SET_MM_MAP with exe_fd, allowed with
 * CAP_CHECKPOINT_RESTORE in the caller's own user namespace), then connects
 * to 127.0.0.1:PORT, prints its pid and waits 10 s.
 *   self: the process unshares a user namespace and swaps itself.
 *   vm:   a CLONE_VM|CLONE_NEWUSER child swaps the shared address space;
 *         the process that connects stays in the initial user namespace.
 * Run as a binfmt_misc interpreter with the "O" flag (AT_EXECFD set), it
 * takes the file the kernel opened to run as its executable, and connects
 * to the port in MW_PORT.
 * The kernel refuses the swap while the old executable is mapped, so the
 * program first copies its own mappings to anonymous memory, from a
 * trampoline that is itself anonymous (x86-64).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct seg {
	unsigned long addr, len, prot;
	void *copy;
};

/* For each seg: mmap(addr, len, RWX, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED),
 * copy it back, mprotect(addr, len, prot). Runs from an anonymous copy. */
void remap_anon(struct seg *s, long n);
__asm__(".text\n.globl remap_anon\nremap_anon:\n"
	"push %r12\npush %r13\nmov %rdi,%r12\nmov %rsi,%r13\n"
	"1: test %r13,%r13\njz 2f\n"
	"mov (%r12),%rdi\nmov 8(%r12),%rsi\nmov $7,%rdx\nmov $0x32,%r10\n"
	"mov $-1,%r8\nxor %r9,%r9\nmov $9,%eax\nsyscall\n"
	"mov (%r12),%rdi\nmov 24(%r12),%rsi\nmov 8(%r12),%rcx\nrep movsb\n"
	"mov (%r12),%rdi\nmov 8(%r12),%rsi\nmov 16(%r12),%rdx\nmov $10,%eax\n"
	"syscall\n"
	"add $32,%r12\ndec %r13\njmp 1b\n"
	"2: pop %r13\npop %r12\nret\n.globl remap_anon_end\nremap_anon_end:\n");
extern char remap_anon_end[];

static void unmap_own_executable(void)
{
	char self[4096], line[8192];
	ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
	FILE *f = fopen("/proc/self/maps", "r");
	struct seg *segs = mmap(0, 4096, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t codelen = (size_t)(remap_anon_end - (char *)remap_anon);
	void *code;
	long n = 0;

	if (k <= 0 || !f || segs == MAP_FAILED)
		exit(2);
	self[k] = 0;
	while (fgets(line, sizeof(line), f) && n < 100) {
		unsigned long a, b;
		char perm[8], path[4096] = "";

		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %4095s", &a, &b, perm,
			   path) < 3 ||
		    strcmp(path, self))
			continue;
		segs[n].addr = a;
		segs[n].len = b - a;
		segs[n].prot = (perm[0] == 'r' ? 1 : 0) |
			       (perm[1] == 'w' ? 2 : 0) |
			       (perm[2] == 'x' ? 4 : 0);
		n++;
	}
	fclose(f);
	code = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED)
		exit(2);
	memcpy(code, (void *)remap_anon, codelen);
	for (long i = 0; i < n; i++) {
		segs[i].copy = mmap(0, segs[i].len, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		memcpy(segs[i].copy, (void *)segs[i].addr, segs[i].len);
	}
	((void (*)(struct seg *, long))code)(segs, n);
}

/* PR_SET_MM_MAP with the current layout (from /proc/self/stat) and exe_fd. */
static int set_exe_fd(int exe_fd)
{
	unsigned long v[52] = { 0 };
	char buf[4096], *p;
	int fd = open("/proc/self/stat", O_RDONLY);
	ssize_t k = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (k <= 0)
		return -1;
	buf[k] = 0;
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	p += 2; /* field 3, the state: a letter */
	p = strchr(p, ' ');
	for (int i = 4; i <= 51 && p; i++)
		v[i] = strtoul(p, &p, 10);
	struct prctl_mm_map m = {
		.start_code = v[26],
		.end_code = v[27],
		.start_data = v[45],
		.end_data = v[46],
		.start_brk = v[47],
		.brk = (unsigned long)syscall(SYS_brk, 0),
		.start_stack = v[28],
		.arg_start = v[48],
		.arg_end = v[49],
		.env_start = v[50],
		.env_end = v[51],
		.exe_fd = (unsigned)exe_fd,
	};
	return prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)&m, sizeof(m), 0);
}

static int set_exe(const char *target)
{
	return set_exe_fd(open(target, O_RDONLY));
}

static const char *target;

static int swap_in_child(void *arg)
{
	(void)arg;
	if (set_exe(target)) {
		perror("child: PR_SET_MM_MAP");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int execfd = (int)getauxval(AT_EXECFD);
	const char *port = argc == 4 ? argv[3] : getenv("MW_PORT");
	char now[256];
	ssize_t k;
	int s;

	if (execfd > 0) {
		unmap_own_executable();
		if (set_exe_fd(execfd)) {
			perror("PR_SET_MM_MAP with AT_EXECFD");
			return 1;
		}
	} else if (argc != 4) {
		return 2;
	} else if (!strcmp(argv[1], "self")) {
		target = argv[2];
		if (unshare(CLONE_NEWUSER)) {
			perror("unshare");
			return 1;
		}
		unmap_own_executable();
		if (set_exe(target)) {
			perror("PR_SET_MM_MAP");
			return 1;
		}
	} else {
		char *stack = malloc(1 << 16);
		pid_t c;
		int ws;

		target = argv[2];
		unmap_own_executable();
		c = clone(swap_in_child, stack + (1 << 16),
			  CLONE_VM | CLONE_NEWUSER | SIGCHLD, NULL);
		if (c < 0) {
			perror("clone");
			return 1;
		}
		if (waitpid(c, &ws, 0) < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws))
			return 1;
	}
	k = readlink("/proc/self/exe", now, sizeof(now) - 1);
	now[k > 0 ? k : 0] = 0;
	fprintf(stderr, "exe now %s\n", now);
	s = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_port = htons((unsigned short)atoi(port ? port : "0"));
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("connect");
		return 1;
	}
	printf("%d\n", getpid());
	fflush(stdout);
	sleep(10);
	return 0;
}
