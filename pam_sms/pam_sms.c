/*
 * pam_sms.so: SMS one-time code as a second authentication factor.
 *
 * This module holds no policy. For each pam_sm_authenticate call it forks
 * and execs the Go helper (pam-sms-helper) with a clean environment, hands it
 * the PAM items over a socketpair, relays the helper's prompts and messages
 * through the PAM conversation, and returns the PAM code the helper names.
 *
 * Why C and a separate process: a Go runtime does not survive sshd's fork of
 * its keyboard-interactive child (see docs/design.md). So this file starts no
 * threads, installs no signal handlers, changes no uid or gid of the host
 * (only its child's, see sms_exec_child) and never touches the host's signal
 * dispositions. It waits only on its own child and
 * bounds the whole exchange by one deadline, after which the helper is killed
 * and reaped and the login denied.
 *
 * Protocol: one line per message, "VERB SP VALUE LF", at most SMS_MAX_LINE
 * bytes, no NUL, CR or LF inside VALUE. See docs/design.md.
 */

#define PAM_SM_AUTH

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#define SMS_DEFAULT_CONFIG	"/etc/security/pam_sms.conf"
#define SMS_DEFAULT_HELPER	"/usr/libexec/pam-sms/pam-sms-helper"
/* Covers the longest code validity (5 min default) plus the gateway timeout. */
#define SMS_DEFAULT_TIMEOUT	360
#define SMS_MAX_TIMEOUT		3600
#define SMS_MAX_LINE		1024
/*
 * A helper that talks more than this is broken; stop listening to it. The
 * largest legal config (6 codes, 10 attempts each) needs about 130.
 */
#define SMS_MAX_MESSAGES	256
/* After the result, how long the helper may take to exit before SIGKILL. */
#define SMS_REAP_GRACE_MS	1000

struct sms_options {
	const char *config;
	const char *helper;
	int timeout;
	int debug;
};

struct sms_helper {
	pid_t pid;
	int fd;
	struct timespec deadline;
	char buf[SMS_MAX_LINE];
	size_t len;
	/*
	 * The exchange is over and the helper exits by itself: a valid result
	 * line arrived, or the module hung up after the user aborted the
	 * conversation (the helper then logs the abort and ends).
	 */
	int done;
};

/* The only PAM codes SPEC section 4 lets the helper return. */
static int
sms_result_allowed(long n)
{
	switch (n) {
	case PAM_SUCCESS:
	case PAM_SYSTEM_ERR:
	case PAM_AUTH_ERR:
	case PAM_AUTHINFO_UNAVAIL:
	case PAM_USER_UNKNOWN:
	case PAM_IGNORE:
		return 1;
	default:
		return 0;
	}
}

static int
sms_parse_args(pam_handle_t *pamh, int argc, const char **argv,
    struct sms_options *opt)
{
	int i;

	opt->config = SMS_DEFAULT_CONFIG;
	opt->helper = SMS_DEFAULT_HELPER;
	opt->timeout = SMS_DEFAULT_TIMEOUT;
	opt->debug = 0;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (strncmp(a, "config=", 7) == 0 && a[7] == '/') {
			opt->config = a + 7;
		} else if (strncmp(a, "helper=", 7) == 0 && a[7] == '/') {
			opt->helper = a + 7;
		} else if (strncmp(a, "timeout=", 8) == 0) {
			char *end = NULL;
			long t;

			errno = 0;
			t = strtol(a + 8, &end, 10);
			if (errno != 0 || end == a + 8 || *end != '\0' ||
			    t < 1 || t > SMS_MAX_TIMEOUT) {
				pam_syslog(pamh, LOG_ERR,
				    "bad module argument \"%s\": timeout must be "
				    "1..%d seconds", a, SMS_MAX_TIMEOUT);
				return -1;
			}
			opt->timeout = (int)t;
		} else if (strcmp(a, "debug") == 0) {
			opt->debug = 1;
		} else {
			/* Fail closed: a typo must not silently change behaviour. */
			pam_syslog(pamh, LOG_ERR, "unknown module argument \"%s\" "
			    "(known: config=/ABS/PATH helper=/ABS/PATH "
			    "timeout=SECONDS debug)", a);
			return -1;
		}
	}
	return 0;
}

/*
 * Checks one component of the helper's path; fd is open (O_PATH) on it and
 * the first len bytes of path name it. The helper runs as root inside sshd,
 * so every directory from / down and the file itself must be owned by root
 * and writable by nobody else, as OpenSSH's safe_path() requires of its
 * helpers: otherwise whoever may write there can replace what runs.
 */
static int
sms_check_component(pam_handle_t *pamh, const char *path, size_t len, int fd,
    int is_file)
{
	const char *what = is_file ? "file" : "directory";
	struct stat st;

	if (fstat(fd, &st) != 0) {
		pam_syslog(pamh, LOG_ERR, "helper %s: %.*s: %m", path,
		    (int)len, path);
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		pam_syslog(pamh, LOG_ERR, "helper %s: refusing it: %.*s is a "
		    "symbolic link; the path must name the helper without any",
		    path, (int)len, path);
		return -1;
	}
	if (is_file ? !S_ISREG(st.st_mode) : !S_ISDIR(st.st_mode)) {
		pam_syslog(pamh, LOG_ERR, "helper %s: refusing it: %.*s is not "
		    "a %s (mode %06o)", path, (int)len, path,
		    is_file ? "regular file" : "directory",
		    (unsigned)st.st_mode);
		return -1;
	}
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		pam_syslog(pamh, LOG_ERR, "helper %s: refusing it: %s %.*s is "
		    "owned by uid %u with mode %04o; the helper and every "
		    "directory above it must be owned by root and writable by "
		    "root only", path, what, (int)len, path,
		    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if (is_file && (st.st_mode & S_IXUSR) == 0) {
		pam_syslog(pamh, LOG_ERR, "helper %s: refusing it: not "
		    "executable (mode %04o)", path,
		    (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

/*
 * Opens the helper for fexecve and returns the descriptor (close-on-exec),
 * or -1 after logging why not. The path is walked from / one component at a
 * time, each opened relative to the descriptor of the directory above it
 * with O_NOFOLLOW and checked through its own descriptor: a symbolic link
 * anywhere is refused, and what runs is the very file checked, so there is
 * no window between the check and the exec for a swap.
 *
 * O_PATH, also for the file: it needs no read permission (a screen locker
 * runs this as the user), opens nothing (a FIFO cannot block it) and is
 * enough for fexecve, which the kernel still checks for execute permission.
 */
static int
sms_open_helper(pam_handle_t *pamh, const char *path)
{
	const int flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
	char name[NAME_MAX + 1];
	const char *p = path;
	int dirfd, fd = -1;

	if (path[0] != '/' || strlen(path) >= PATH_MAX) {
		pam_syslog(pamh, LOG_ERR, "helper %s: refusing it: not an "
		    "absolute path shorter than %d bytes", path, PATH_MAX);
		return -1;
	}
	dirfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		pam_syslog(pamh, LOG_ERR, "helper %s: /: %m", path);
		return -1;
	}
	if (sms_check_component(pamh, path, 1, dirfd, 0) != 0)
		goto out;
	for (;;) {
		size_t len;
		const char *end;

		while (*p == '/')
			p++;
		len = strcspn(p, "/");
		end = p + len;
		if (len == 0 ||
		    (*end != '\0' && end[strspn(end, "/")] == '\0')) {
			pam_syslog(pamh, LOG_ERR, "helper %s: refusing it: the "
			    "path does not end in a file name", path);
			goto out;
		}
		if (len > NAME_MAX) {
			pam_syslog(pamh, LOG_ERR, "helper %s: refusing it: a "
			    "component is longer than %d bytes", path, NAME_MAX);
			goto out;
		}
		if ((len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.')) {
			pam_syslog(pamh, LOG_ERR, "helper %s: refusing it: "
			    "\"%.*s\" in the path", path, (int)len, p);
			goto out;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		fd = openat(dirfd, name, flags);
		if (fd < 0) {
			pam_syslog(pamh, LOG_ERR, "helper %s: %.*s: %m", path,
			    (int)(end - path), path);
			goto out;
		}
		if (sms_check_component(pamh, path, (size_t)(end - path), fd,
		    *end == '\0') != 0) {
			close(fd);
			fd = -1;
			goto out;
		}
		if (*end == '\0')
			break;
		close(dirfd);
		dirfd = fd;
		fd = -1;
		p = end;
	}
out:
	close(dirfd);
	return fd;
}

static long
sms_ms_left(const struct timespec *deadline)
{
	struct timespec now;
	long ms;

	if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
		return 0;
	ms = (long)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? ms : 0;
}

/* Moves fd out of 0..2 so that dup2 onto the standard fds cannot alias it. */
static int
sms_fd_above_stdio(int fd)
{
	if (fd > STDERR_FILENO)
		return fd;
	return fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
}

/* The helper's descriptor in the child, just above the standard fds. */
#define SMS_EXEC_FD	(STDERR_FILENO + 1)

#if defined(__GLIBC__) && !__GLIBC_PREREQ(2, 34)
#include <sys/resource.h>
#include <sys/syscall.h>
/*
 * closefrom for glibc before 2.34, which has none: the release build's
 * Debian 11 root (mk/release.sh) and the distributions it targets. One
 * close_range call (Linux 5.9); on older kernels (ENOSYS) a close of every
 * descriptor below the open-file limit, capped so that an unlimited limit
 * cannot make it loop for seconds. Async-signal-safe: it runs in the child.
 */
static void
closefrom(int lowfd)
{
	struct rlimit rl;
	long fd, max = 1L << 20;

#ifdef __NR_close_range
	if (syscall(__NR_close_range, (unsigned int)lowfd, ~0U, 0) == 0)
		return;
#endif
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)max)
		max = (long)rl.rlim_cur;
	for (fd = lowfd; fd < max; fd++)
		(void)close((int)fd);
}
#endif

/*
 * Runs in the child between fork and fexecve: async-signal-safe calls only,
 * since the host may be multithreaded (gdm, polkit).
 */
static void
sms_exec_child(int sock, int exe, char *const argv[], const sigset_t *empty)
{
	static char *const envp[] = {
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8",
		NULL
	};
	struct sigaction dfl;
	int devnull, sig;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &dfl, NULL); /* SIGKILL/SIGSTOP fail: fine */
	if (sigprocmask(SIG_SETMASK, empty, NULL) != 0)
		_exit(127);

	/*
	 * su and sudo run this as root for a user whose real uid they keep.
	 * Whoever shares the real uid of a process may signal it: that user
	 * could SIGSTOP the root-run helper while it holds shared state, or
	 * kill it at a moment of their choosing. Root in all three uids
	 * leaves them no say over it. (A caller that is not root, a screen
	 * locker, cannot and need not do this: the helper then serves only
	 * that user.)
	 */
	if (geteuid() == 0 && getuid() != 0 && setresuid(0, 0, 0) != 0)
		_exit(127);

	/*
	 * A session of its own, without a controlling terminal: a Ctrl-C at
	 * the prompt sends SIGINT to the terminal's foreground process group,
	 * which would kill the helper before it could log the abort (the
	 * module ends it, by the deadline or after the result). Never fails in
	 * a child just forked, which leads no process group.
	 */
	if (setsid() < 0)
		_exit(127);

	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		_exit(127);
	/* None of them may sit on 0..2, where the dup2 calls would clobber it. */
	sock = sms_fd_above_stdio(sock);
	devnull = sms_fd_above_stdio(devnull);
	exe = sms_fd_above_stdio(exe);
	if (sock < 0 || devnull < 0 || exe < 0)
		_exit(127);
	if (dup2(sock, STDIN_FILENO) < 0 || dup2(sock, STDOUT_FILENO) < 0 ||
	    dup2(devnull, STDERR_FILENO) < 0)
		_exit(127);
	/* Close-on-exec: fexecve runs the file, the helper never sees the fd. */
	if (exe != SMS_EXEC_FD && dup3(exe, SMS_EXEC_FD, O_CLOEXEC) < 0)
		_exit(127);
	if (fcntl(SMS_EXEC_FD, F_SETFD, FD_CLOEXEC) != 0)
		_exit(127);
	closefrom(SMS_EXEC_FD + 1);
	fexecve(SMS_EXEC_FD, argv, envp);
	_exit(127);
}

static int
sms_spawn(pam_handle_t *pamh, const struct sms_options *opt,
    struct sms_helper *h)
{
	char config_arg[PATH_MAX + 16];
	char *argv[4];
	sigset_t empty;
	int sv[2], n, exe;
	pid_t pid;

	n = snprintf(config_arg, sizeof(config_arg), "--config=%s", opt->config);
	if (n < 0 || (size_t)n >= sizeof(config_arg)) {
		pam_syslog(pamh, LOG_ERR, "config path too long");
		return -1;
	}
	argv[0] = (char *)opt->helper;
	argv[1] = config_arg;
	argv[2] = opt->debug ? (char *)"--debug" : NULL;
	argv[3] = NULL;
	if (sigemptyset(&empty) != 0)
		return -1;

	exe = sms_open_helper(pamh, opt->helper);
	if (exe < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		pam_syslog(pamh, LOG_ERR, "socketpair: %m");
		close(exe);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		pam_syslog(pamh, LOG_ERR, "fork: %m");
		close(exe);
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0)
		sms_exec_child(sv[1], exe, argv, &empty);

	close(exe);
	close(sv[1]);
	h->pid = pid;
	h->fd = sv[0];
	h->len = 0;
	h->done = 0;
	if (clock_gettime(CLOCK_MONOTONIC, &h->deadline) != 0) {
		pam_syslog(pamh, LOG_ERR, "clock_gettime: %m");
		return -1; /* caller kills and reaps */
	}
	h->deadline.tv_sec += opt->timeout;
	return 0;
}

/* Returns 0 on success, -1 on error or deadline. */
static int
sms_send_line(pam_handle_t *pamh, struct sms_helper *h, const char *verb,
    const char *value)
{
	char line[SMS_MAX_LINE];
	size_t off = 0;
	int n;

	if (strpbrk(value, "\r\n") != NULL) {
		pam_syslog(pamh, LOG_ERR, "refusing to pass a %s value that "
		    "contains a line break", verb);
		return -1;
	}
	n = snprintf(line, sizeof(line), "%s %s\n", verb, value);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		pam_syslog(pamh, LOG_ERR, "%s value too long", verb);
		return -1;
	}
	while (off < (size_t)n) {
		struct pollfd p = { .fd = h->fd, .events = POLLOUT };
		ssize_t w;
		int r = poll(&p, 1, (int)sms_ms_left(&h->deadline));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		w = send(h->fd, line + off, (size_t)n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	explicit_bzero(line, sizeof(line));
	if (off < (size_t)n) {
		pam_syslog(pamh, LOG_ERR, "writing to helper failed");
		return -1;
	}
	return 0;
}

enum sms_read { SMS_READ_OK, SMS_READ_EOF, SMS_READ_TIMEOUT, SMS_READ_BAD };

/* Reads one line into out (NUL-terminated, LF removed). */
static enum sms_read
sms_read_line(struct sms_helper *h, char *out, size_t outsz)
{
	for (;;) {
		char *nl = memchr(h->buf, '\n', h->len);
		struct pollfd p = { .fd = h->fd, .events = POLLIN };
		ssize_t r;
		int pr;

		if (nl != NULL) {
			size_t l = (size_t)(nl - h->buf);

			if (l >= outsz || memchr(h->buf, '\0', l) != NULL ||
			    memchr(h->buf, '\r', l) != NULL)
				return SMS_READ_BAD;
			memcpy(out, h->buf, l);
			out[l] = '\0';
			h->len -= l + 1;
			memmove(h->buf, nl + 1, h->len);
			return SMS_READ_OK;
		}
		if (h->len == sizeof(h->buf))
			return SMS_READ_BAD;
		pr = poll(&p, 1, (int)sms_ms_left(&h->deadline));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return SMS_READ_BAD;
		if (pr == 0)
			return SMS_READ_TIMEOUT;
		r = read(h->fd, h->buf + h->len, sizeof(h->buf) - h->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return SMS_READ_BAD;
		if (r == 0)
			return SMS_READ_EOF;
		h->len += (size_t)r;
	}
}

/*
 * The request: the user, the PAM items, and "silent 1" when the application
 * passed PAM_SILENT (sudo always does), so that the helper puts what the
 * user must know into the prompts, the only text such a caller shows.
 */
static int
sms_send_items(pam_handle_t *pamh, struct sms_helper *h, const char *user,
    int flags)
{
	static const struct { const char *verb; int item; } items[] = {
		{ "rhost", PAM_RHOST },
		{ "service", PAM_SERVICE },
		{ "tty", PAM_TTY },
	};
	size_t i;

	if (sms_send_line(pamh, h, "user", user) != 0)
		return -1;
	for (i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		const void *v = NULL;

		if (pam_get_item(pamh, items[i].item, &v) != PAM_SUCCESS)
			v = NULL;
		if (sms_send_line(pamh, h, items[i].verb,
		    v != NULL ? (const char *)v : "") != 0)
			return -1;
	}
	if (sms_send_line(pamh, h, "silent",
	    (flags & PAM_SILENT) ? "1" : "0") != 0)
		return -1;
	return sms_send_line(pamh, h, "end", "");
}

/*
 * One prompt through the application's conversation function; *out gets
 * the answer (the caller frees it) when it returns PAM_SUCCESS. Not
 * pam_prompt: libpam logs every failed conversation at LOG_ERR, and a
 * user's Ctrl-C is no error (see sms_relay_prompt).
 */
static int
sms_converse(pam_handle_t *pamh, int style, const char *text, char **out)
{
	struct pam_message msg = { .msg_style = style, .msg = text };
	const struct pam_message *msgp = &msg;
	struct pam_response *resp = NULL;
	const struct pam_conv *conv;
	const void *item = NULL;
	int rc;

	*out = NULL;
	rc = pam_get_item(pamh, PAM_CONV, &item);
	if (rc != PAM_SUCCESS)
		return rc;
	conv = item;
	if (conv == NULL || conv->conv == NULL)
		return PAM_CONV_ERR;
	rc = conv->conv(1, &msgp, &resp, conv->appdata_ptr);
	if (resp != NULL) {
		if (rc == PAM_SUCCESS) {
			*out = resp->resp;
		} else if (resp->resp != NULL) {
			explicit_bzero(resp->resp, strlen(resp->resp));
			free(resp->resp);
		}
		free(resp);
	}
	return rc;
}

/* What became of one prompt. */
enum sms_prompt { SMS_PROMPT_OK, SMS_PROMPT_DENY, SMS_PROMPT_ABORTED };

/*
 * Asks the user and forwards the answer. SMS_PROMPT_ABORTED: the
 * conversation failed, which is how a user's Ctrl-C arrives; an ordinary
 * denial, logged at info.
 */
static enum sms_prompt
sms_relay_prompt(pam_handle_t *pamh, struct sms_helper *h, int style,
    const char *text)
{
	enum sms_prompt ret = SMS_PROMPT_DENY;
	char *resp = NULL;
	int rc;

	rc = sms_converse(pamh, style, text, &resp);
	if (rc != PAM_SUCCESS || resp == NULL) {
		pam_syslog(pamh, LOG_INFO, "denied: conversation aborted (%s)",
		    pam_strerror(pamh, rc));
		ret = SMS_PROMPT_ABORTED;
		goto out;
	}
	/*
	 * The conversation cannot be interrupted, so the deadline may pass
	 * while the user types. A late answer must not reach the helper: an
	 * empty one would make it send another SMS.
	 */
	if (sms_ms_left(&h->deadline) == 0) {
		pam_syslog(pamh, LOG_NOTICE, "answer came after the deadline; "
		    "denying");
		goto out;
	}
	if (sms_send_line(pamh, h, "resp", resp) == 0)
		ret = SMS_PROMPT_OK;
out:
	if (resp != NULL) {
		explicit_bzero(resp, strlen(resp));
		free(resp);
	}
	return ret;
}

/*
 * One spelling per code: "0", or a digit 1-9 followed by digits. No sign,
 * space or leading zero, so that no two lines mean the same result.
 */
static int
sms_parse_result(const char *s, int *code)
{
	long n = 0;
	size_t i;

	if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (i == 3 || s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	if (!sms_result_allowed(n))
		return -1;
	*code = (int)n;
	return 0;
}

/* Relays messages until the helper's result line; returns the PAM code. */
static int
sms_relay(pam_handle_t *pamh, struct sms_helper *h, int flags)
{
	char line[SMS_MAX_LINE];
	int i, code;

	for (i = 0; i < SMS_MAX_MESSAGES; i++) {
		enum sms_read r = sms_read_line(h, line, sizeof(line));
		char *value;

		if (r == SMS_READ_TIMEOUT) {
			pam_syslog(pamh, LOG_ERR, "helper did not finish in "
			    "time; killing it and denying");
			return PAM_AUTH_ERR;
		}
		if (r == SMS_READ_EOF) {
			pam_syslog(pamh, LOG_ERR, "helper ended without a "
			    "result; denying");
			return PAM_SYSTEM_ERR;
		}
		if (r != SMS_READ_OK || (value = strchr(line, ' ')) == NULL) {
			pam_syslog(pamh, LOG_ERR, "malformed line from helper; "
			    "denying");
			return PAM_SYSTEM_ERR;
		}
		*value++ = '\0';

		if (strcmp(line, "info") == 0) {
			if (!(flags & PAM_SILENT))
				(void)pam_info(pamh, "%s", value);
		} else if (strcmp(line, "error") == 0) {
			if (!(flags & PAM_SILENT))
				(void)pam_error(pamh, "%s", value);
		} else if (strcmp(line, "prompt_echo_off") == 0 ||
		    strcmp(line, "prompt_echo_on") == 0) {
			int style = strcmp(line, "prompt_echo_off") == 0 ?
			    PAM_PROMPT_ECHO_OFF : PAM_PROMPT_ECHO_ON;

			switch (sms_relay_prompt(pamh, h, style, value)) {
			case SMS_PROMPT_OK:
				break;
			case SMS_PROMPT_ABORTED:
				/*
				 * Hang up: the helper reads the end of the
				 * stream where it waits for the answer, logs
				 * the abort and exits; sms_reap gives it the
				 * grace for that and discards its result.
				 */
				if (shutdown(h->fd, SHUT_WR) == 0)
					h->done = 1;
				return PAM_AUTH_ERR;
			default:
				return PAM_AUTH_ERR;
			}
		} else if (strcmp(line, "result") == 0) {
			if (sms_parse_result(value, &code) != 0) {
				pam_syslog(pamh, LOG_ERR, "helper sent an "
				    "unacceptable result; denying");
				return PAM_SYSTEM_ERR;
			}
			h->done = 1;
			return code;
		} else {
			pam_syslog(pamh, LOG_ERR, "unknown message from "
			    "helper; denying");
			return PAM_SYSTEM_ERR;
		}
	}
	pam_syslog(pamh, LOG_ERR, "helper sent too many messages; denying");
	return PAM_SYSTEM_ERR;
}

/*
 * Waits until the helper closes its end of the socket (it exits right after
 * the result), at most ms milliseconds; returns 1 if it did. Data after the
 * result is discarded.
 */
static int
sms_wait_hangup(struct sms_helper *h, long ms)
{
	char sink[256];
	struct timespec until;

	if (clock_gettime(CLOCK_MONOTONIC, &until) != 0)
		return 0;
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	for (;;) {
		struct pollfd p = { .fd = h->fd, .events = POLLIN };
		long left = sms_ms_left(&until);
		int r;

		ssize_t n;

		if (left == 0)
			return 0;
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		n = read(h->fd, sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0;
	}
}

/*
 * Waits for our own child only. ECHILD means the host reaped it already
 * (SIGCHLD set to SIG_IGN, or a host handler calling waitpid(-1)). The
 * helper exits right after its result, so the wait starts at 50 us and
 * doubles: a fixed 10 ms step used to add 10 ms to every login.
 */
static void
sms_reap(pam_handle_t *pamh, struct sms_helper *h, int debug)
{
	struct timespec step = { 0, 50 * 1000 };
	long waited_us = 0;
	int status = 0, hungup = 0;
	pid_t r = -1;

	if (h->fd >= 0) {
		if (h->done && h->pid > 0 && sms_ms_left(&h->deadline) > 0)
			hungup = sms_wait_hangup(h, SMS_REAP_GRACE_MS);
		close(h->fd);
		h->fd = -1;
	}
	if (h->pid <= 0)
		return;
	/* Between closing its files and becoming a zombie: microseconds. */
	while (hungup && waited_us < SMS_REAP_GRACE_MS * 1000L) {
		r = waitpid(h->pid, &status, WNOHANG);
		if (r == h->pid || (r < 0 && errno == ECHILD))
			goto done;
		if (r < 0 && errno != EINTR)
			break;
		if (sms_ms_left(&h->deadline) == 0)
			break;
		(void)nanosleep(&step, NULL);
		waited_us += step.tv_nsec / 1000;
		if (step.tv_nsec < 10 * 1000 * 1000)
			step.tv_nsec *= 2;
	}
	(void)kill(h->pid, SIGKILL);
	do {
		r = waitpid(h->pid, &status, 0);
	} while (r < 0 && errno == EINTR);
	if (r < 0 && errno != ECHILD)
		pam_syslog(pamh, LOG_ERR, "waitpid helper: %m");
done:
	if (debug && r == h->pid) {
		if (WIFEXITED(status))
			pam_syslog(pamh, LOG_DEBUG, "helper exited with %d",
			    WEXITSTATUS(status));
		else if (WIFSIGNALED(status))
			pam_syslog(pamh, LOG_DEBUG, "helper killed by signal "
			    "%d", WTERMSIG(status));
	}
	h->pid = -1;
}

PAM_EXTERN int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct sms_options opt;
	struct sms_helper h = { .pid = -1, .fd = -1 };
	const char *user = NULL;
	int rc;

	if (sms_parse_args(pamh, argc, argv, &opt) != 0)
		return PAM_SYSTEM_ERR;
	rc = pam_get_user(pamh, &user, NULL);
	if (rc != PAM_SUCCESS || user == NULL || *user == '\0') {
		pam_syslog(pamh, LOG_ERR, "cannot determine user name: %s",
		    pam_strerror(pamh, rc));
		return PAM_USER_UNKNOWN;
	}
	if (sms_spawn(pamh, &opt, &h) != 0) {
		rc = PAM_SYSTEM_ERR;
		goto out;
	}
	if (sms_send_items(pamh, &h, user, flags) != 0) {
		rc = PAM_AUTH_ERR;
		goto out;
	}
	rc = sms_relay(pamh, &h, flags);
out:
	sms_reap(pamh, &h, opt.debug);
	if (opt.debug)
		pam_syslog(pamh, LOG_DEBUG, "result for %s: %s", user,
		    pam_strerror(pamh, rc));
	return rc;
}

PAM_EXTERN int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}
