/*
 * pamclient: the minimal PAM client that `make bench` measures with.
 *
 * A C client keeps the login process small and free of a language runtime,
 * so its peak RSS and timings show what a PAM module adds, as sshd or login
 * would see it. It is a bench tool only; nothing in the product uses it.
 *
 * PAM mode runs N transactions (pam_start_confdir, pam_authenticate,
 * pam_end) one after the other and prints one line per transaction:
 *
 *   tx I rc RC start T0 auth T1 authend T2 end T3 recv TR prompts P errors E
 *
 * T0..T3 are CLOCK_MONOTONIC nanoseconds before pam_start_confdir, before
 * pam_authenticate, after it and after pam_end. TR is when the bench gateway
 * received this user's SMS request (same clock, read from the code file the
 * gateway writes before it answers), 0 if none arrived. Prompts are answered
 * with the code from that file, so a full login can succeed. The last line is
 *
 *   rss self KIB children KIB cpu US
 *
 * the peak RSS of this process (VmHWM: getrusage's ru_maxrss would include
 * the image before execve, a copy of the bench driver), the peak RSS of its
 * largest waited-for child (the helper, or pam_exec's shell) and the CPU time
 * (user + system) of all waited-for children, from getrusage.
 *
 * Spawn mode (-x N PROG ARGS...) forks and execs PROG N times with /dev/null
 * on fd 0-2 and the environment pam_sms.so gives its helper (PATH and LANG;
 * with any other, the helper restarts itself clean, a second exec that no
 * login pays), and prints
 *
 *   spawn I ns NS status STATUS
 */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

struct conv_state {
	const char *codefile;	/* gateway's file for this user, or NULL */
	int abort;		/* fail the conversation at the first prompt */
	int prompts;
	int errors;
};

static long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Returns the VmHWM of this process in KiB, or -1. */
static long vm_hwm_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static long long tv_us(const struct timeval *tv)
{
	return (long long)tv->tv_sec * 1000000LL + tv->tv_usec;
}

/* Reads "CODE RECV_NS" from path; returns 0 on success. */
static int read_codefile(const char *path, char *code, size_t size,
			 long long *recv)
{
	char fmt[32];
	FILE *f;
	int n;

	if (path == NULL || size < 2)
		return -1;
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	snprintf(fmt, sizeof fmt, "%%%zus %%lld", size - 1);
	n = fscanf(f, fmt, code, recv);
	fclose(f);
	return n == 2 ? 0 : -1;
}

static int conv(int n, const struct pam_message **msg,
		struct pam_response **resp, void *data)
{
	struct conv_state *st = data;
	struct pam_response *r;
	int i;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	r = calloc((size_t)n, sizeof *r);
	if (r == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		char code[64] = "";
		long long recv;

		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
		case PAM_PROMPT_ECHO_ON:
			st->prompts++;
			if (st->abort)
				goto fail;
			/* No file: answer empty, which the helper treats as a resend. */
			(void)read_codefile(st->codefile, code, sizeof code, &recv);
			r[i].resp = strdup(code);
			if (r[i].resp == NULL)
				goto fail;
			break;
		case PAM_ERROR_MSG:
			st->errors++;
			fprintf(stderr, "pamclient: error message: %s\n", msg[i]->msg);
			break;
		default:
			break;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
fail:
	for (i = 0; i < n; i++)
		free(r[i].resp);
	free(r);
	return PAM_CONV_ERR;
}

/* Blocks until the bench driver closes the other end of fd (the start gun). */
static void wait_barrier(int fd)
{
	char buf[16];
	ssize_t r;

	do {
		r = read(fd, buf, sizeof buf);
	} while (r > 0 || (r < 0 && errno == EINTR));
	close(fd);
}

/* The environment pam_sms.so starts its helper with (pam_sms/pam_sms.c). */
static char *const module_envp[] = {
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	"LANG=C.UTF-8",
	NULL,
};

static int spawn_mode(int n, char **argv)
{
	int i;

	for (i = 0; i < n; i++) {
		long long t0 = mono_ns(), t1;
		int status = 0;
		pid_t pid = fork();

		if (pid < 0) {
			perror("pamclient: fork");
			return 1;
		}
		if (pid == 0) {
			int fd = open("/dev/null", O_RDWR);

			if (fd < 0)
				_exit(126);
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			execve(argv[0], argv, module_envp);
			_exit(127);
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		t1 = mono_ns();
		printf("spawn %d ns %lld status %d\n", i, t1 - t0,
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: pamclient -c CONFDIR -s SERVICE -u USER [-r RHOST] "
		"[-n N] [-k CODEDIR] [-e EXPECTED_RC] [-b FD] [-a]\n"
		"       pamclient -x N PROGRAM [ARGS...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *confdir = NULL, *service = NULL, *user = NULL;
	const char *rhost = NULL, *codedir = NULL;
	char codefile[4096] = "";
	struct conv_state st = { 0 };
	struct pam_conv pc = { conv, &st };
	struct rusage kids;
	int n = 1, expect = PAM_SUCCESS, barrier = -1, spawn = 0;
	int opt, i, bad = 0;

	while ((opt = getopt(argc, argv, "+c:s:u:r:n:k:e:b:ax:")) != -1) {
		switch (opt) {
		case 'c': confdir = optarg; break;
		case 's': service = optarg; break;
		case 'u': user = optarg; break;
		case 'r': rhost = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 'k': codedir = optarg; break;
		case 'e': expect = atoi(optarg); break;
		case 'b': barrier = atoi(optarg); break;
		case 'a': st.abort = 1; break;
		case 'x': spawn = atoi(optarg); break;
		default: usage();
		}
	}
	if (spawn > 0) {
		if (optind >= argc)
			usage();
		return spawn_mode(spawn, argv + optind);
	}
	if (confdir == NULL || service == NULL || user == NULL || n < 1)
		usage();
	if (codedir != NULL) {
		snprintf(codefile, sizeof codefile, "%s/%s", codedir, user);
		st.codefile = codefile;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (i = 0; i < n; i++) {
		pam_handle_t *h = NULL;
		long long t0, t1, t2, t3, recv = 0;
		char code[64];
		int rc;

		if (st.codefile != NULL && unlink(st.codefile) < 0 && errno != ENOENT) {
			perror("pamclient: unlink code file");
			return 1;
		}
		st.prompts = st.errors = 0;
		t0 = mono_ns();
		rc = pam_start_confdir(service, user, &pc, confdir, &h);
		if (rc != PAM_SUCCESS) {
			fprintf(stderr, "pamclient: pam_start_confdir: %d\n", rc);
			return 1;
		}
		if (rhost != NULL && (rc = pam_set_item(h, PAM_RHOST, rhost)) != PAM_SUCCESS) {
			fprintf(stderr, "pamclient: pam_set_item: %s\n", pam_strerror(h, rc));
			pam_end(h, rc);
			return 1;
		}
		if (barrier >= 0 && i == 0) {
			printf("ready\n");
			wait_barrier(barrier);
		}
		t1 = mono_ns();
		rc = pam_authenticate(h, 0);
		t2 = mono_ns();
		pam_end(h, rc);
		t3 = mono_ns();
		if (read_codefile(st.codefile, code, sizeof code, &recv) != 0)
			recv = 0;
		printf("tx %d rc %d start %lld auth %lld authend %lld end %lld "
		       "recv %lld prompts %d errors %d\n",
		       i, rc, t0, t1, t2, t3, recv, st.prompts, st.errors);
		if (rc != expect)
			bad++;
	}
	getrusage(RUSAGE_CHILDREN, &kids);
	printf("rss self %ld children %ld cpu %lld\n", vm_hwm_kib(), kids.ru_maxrss,
	       tv_us(&kids.ru_utime) + tv_us(&kids.ru_stime));
	return bad ? 1 : 0;
}
