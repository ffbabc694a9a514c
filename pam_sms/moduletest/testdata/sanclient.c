/*
 * sanclient: a minimal PAM application for the module tests, built with the
 * module under AddressSanitizer and UndefinedBehaviorSanitizer.
 *
 *   sanclient CONFDIR SERVICE USER ANSWER LOGFILE LEAKFILE
 *
 * Runs pam_start_confdir, pam_authenticate and pam_end once, answering every
 * prompt with ANSWER, and prints to stdout:
 *
 *   uids R E S          real, effective, saved uid at start
 *   msg STYLE TEXT      each conversation message (one line each)
 *   rc N                pam_authenticate's result
 *   ms N                how long pam_authenticate took
 *   fds BEFORE AFTER    open descriptors before pam_start_confdir and after
 *                       pam_end (comma-separated), to show none leaked
 *
 * LEAKFILE is opened without close-on-exec first, as a careless host would:
 * the helper must not get it. Every syslog line (the module's pam_syslog)
 * is appended to LOGFILE as "<PRIORITY>TEXT" instead of going to /dev/log:
 * this program defines syslog and its fortified variants, and being linked
 * with -rdynamic, its definitions are the ones libpam calls. An ANSWER of
 * "<abort>" fails the conversation at the first prompt, as a user's Ctrl-C
 * does in sudo.
 *
 * The exit status is 0 whenever it got as far as printing fds; a sanitizer
 * report exits with the status its options set.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

static int logfd = -1;
static const char *answer = "";

static void
log_line(int pri, const char *fmt, va_list ap)
{
	char buf[4096];
	int saved = errno, n, p;
	ssize_t w;

	if (logfd < 0)
		return;
	p = snprintf(buf, sizeof(buf), "<%d>", pri);
	if (p < 0 || (size_t)p >= sizeof(buf) - 2)
		return;
	errno = saved; /* for %m */
	n = vsnprintf(buf + p, sizeof(buf) - 1 - (size_t)p, fmt, ap);
	if (n < 0)
		return;
	n += p;
	if ((size_t)n > sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	w = write(logfd, buf, (size_t)n);
	(void)w; /* nowhere to report a failure */
	errno = saved;
}

void
vsyslog(int pri, const char *fmt, va_list ap)
{
	log_line(pri, fmt, ap);
}

void
__vsyslog_chk(int pri, int flag, const char *fmt, va_list ap)
{
	(void)flag;
	vsyslog(pri, fmt, ap);
}

void
syslog(int pri, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsyslog(pri, fmt, ap);
	va_end(ap);
}

void
__syslog_chk(int pri, int flag, const char *fmt, ...)
{
	va_list ap;

	(void)flag;
	va_start(ap, fmt);
	vsyslog(pri, fmt, ap);
	va_end(ap);
}

static const char *
style_name(int style)
{
	switch (style) {
	case PAM_PROMPT_ECHO_OFF:
		return "prompt-off";
	case PAM_PROMPT_ECHO_ON:
		return "prompt-on";
	case PAM_ERROR_MSG:
		return "error";
	case PAM_TEXT_INFO:
		return "info";
	default:
		return "other";
	}
}

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp,
    void *data)
{
	struct pam_response *r;
	int i;

	(void)data;
	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	r = calloc((size_t)n, sizeof(*r));
	if (r == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		printf("msg %s %s\n", style_name(msg[i]->msg_style),
		    msg[i]->msg);
		if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF &&
		    msg[i]->msg_style != PAM_PROMPT_ECHO_ON)
			continue;
		if (strcmp(answer, "<abort>") == 0) {
			while (i-- > 0)
				free(r[i].resp);
			free(r);
			return PAM_CONV_ERR;
		}
		r[i].resp = strdup(answer);
		if (r[i].resp == NULL) {
			while (i-- > 0)
				free(r[i].resp);
			free(r);
			return PAM_BUF_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

/* Writes the open descriptors, comma-separated, into buf. */
static int
list_fds(char *buf, size_t size)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	size_t off = 0;

	if (d == NULL)
		return -1;
	buf[0] = '\0';
	while ((e = readdir(d)) != NULL) {
		int n;

		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		n = snprintf(buf + off, size - off, "%s%s", off ? "," : "",
		    e->d_name);
		if (n < 0 || (size_t)n >= size - off) {
			closedir(d);
			return -1;
		}
		off += (size_t)n;
	}
	closedir(d);
	return 0;
}

static long long
mono_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
main(int argc, char **argv)
{
	struct pam_conv pc = { conv, NULL };
	pam_handle_t *h = NULL;
	char before[1024], after[1024];
	uid_t ruid, euid, suid;
	long long t0, t1;
	int leak, rc;

	if (argc != 7) {
		fprintf(stderr, "usage: sanclient CONFDIR SERVICE USER ANSWER "
		    "LOGFILE LEAKFILE\n");
		return 2;
	}
	answer = argv[4];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getresuid(&ruid, &euid, &suid) != 0) {
		perror("sanclient: getresuid");
		return 2;
	}
	printf("uids %u %u %u\n", (unsigned)ruid, (unsigned)euid,
	    (unsigned)suid);
	logfd = open(argv[5], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	leak = open(argv[6], O_RDONLY); /* no O_CLOEXEC, on purpose */
	if (logfd < 0 || leak < 0) {
		perror("sanclient: open");
		return 2;
	}
	if (list_fds(before, sizeof(before)) != 0) {
		perror("sanclient: list fds");
		return 2;
	}
	rc = pam_start_confdir(argv[2], argv[3], &pc, argv[1], &h);
	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "sanclient: pam_start_confdir: %d\n", rc);
		return 2;
	}
	t0 = mono_ms();
	rc = pam_authenticate(h, 0);
	t1 = mono_ms();
	pam_end(h, rc);
	if (list_fds(after, sizeof(after)) != 0) {
		perror("sanclient: list fds");
		return 2;
	}
	printf("rc %d\nms %lld\nfds %s %s\n", rc, t1 - t0, before, after);
	close(leak);
	close(logfd);
	return 0;
}
