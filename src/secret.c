/* secret - fetch the [auth] secret; see secret.h */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECRET_READ_MAX (64 * 1024)	/* what is read of a file or a command */
#define SECRET_COMMAND_SECONDS 60	/* a helper stuck on a prompt must not hang mail */

/* first_line - the bytes before the first CR LF or LF of raw into out */
static int first_line(const struct buf *raw, struct buf *out, const char *what,
		      char *err, size_t errlen)
{
	const char *p = buf_cstr(raw);
	const char *nl = memchr(p, '\n', raw->len);
	size_t n = nl != NULL ? (size_t)(nl - p) : raw->len;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (n == 0)
		return buf_error(err, errlen, "[auth] %s: %s", what, raw->len == 0 ?
			   "is empty" : "the first line is empty");
	if (memchr(p, '\0', n) != NULL)
		return buf_error(err, errlen, "[auth] %s: the first line holds a NUL byte",
			   what);
	if (buf_append(out, p, n) < 0)
		return buf_error(err, errlen, "[auth] %s: the secret is too long", what);
	return 0;
}

/* secret_read_file - the first line of the file at path, named key in errors */
int secret_read_file(const char *path, const char *key, struct buf *out, char *err,
		     size_t errlen)
{
	char chunk[4096];
	struct buf raw;
	int fd = open_regular(path, NULL);
	if (fd == -2)
		return buf_error(err, errlen, "[auth] %s %s: not a regular file", key, path);
	if (fd < 0)
		return buf_error(err, errlen, "[auth] %s %s: cannot read: %s",
			   key, path, strerror(errno));
	buf_init(&raw, SECRET_READ_MAX);
	int r = 0;
	while (memchr(buf_cstr(&raw), '\n', raw.len) == NULL) {
		ssize_t got = read(fd, chunk, sizeof chunk);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = buf_error(err, errlen, "[auth] %s %s: cannot read: %s",
				key, path, strerror(errno));
			break;
		}
		if (got == 0)
			break;
		if (buf_append(&raw, chunk, (size_t)got) < 0) {
			r = buf_error(err, errlen, "[auth] %s %s: no line break in "
				"its first 64 KiB", key, path);
			break;
		}
	}
	close(fd);
	wipe_memory(chunk, sizeof chunk);
	if (r == 0) {
		char what[128 + 64];
		if (snprintf(what, sizeof what, "%.40s %.128s", key, path) < 0)
			what[0] = '\0';
		r = first_line(&raw, out, what, err, errlen);
	}
	buf_wipe(&raw);
	return r;
}

/*
 * child_exec - in the child: stdin /dev/null, stdout the pipe, the real
 * uid and gid (the command is the caller's), but with our group kept as
 * the effective one, so that it can read a secret only that group may
 * read; a clean environment (env), then /bin/sh -p -c cmd ("-p": dash and
 * bash would otherwise reset the effective gid to the real one). A process
 * whose effective gid differs from its real one at execve is not dumpable
 * (Linux, suid_dumpable 0): its /proc/PID/fd belongs to root and the caller
 * cannot ptrace it, so its output is no more the caller's than our
 * configuration is. Only async-signal-safe calls; never returns.
 */
static void child_exec(const char *cmd, int out_fd, char *const env[])
{
	char *argv[] = { "sh", "-p", "-c", (char *)cmd, NULL };
	gid_t g = getgid(), eg = getegid();
	uid_t u = getuid();
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(out_fd, 1) < 0)
		_exit(127);
	/* every descriptor is close-on-exec; this makes sure of it (spool files) */
	(void)close_range(3, ~0U, 0);
	(void)signal(SIGPIPE, SIG_DFL);	/* ignored in the parent; the command gets the default */
	if (setresgid(g, eg, eg) < 0 || setresuid(u, u, u) < 0 || getegid() != eg ||
	    geteuid() != u)
		_exit(127);
	execve("/bin/sh", argv, env);
	_exit(127);
}

/*
 * command_env - PATH, and HOME, USER and LOGNAME of the real user from the
 * password database (token helpers such as pass or gpg need a home), never
 * anything the caller's environment says
 */
static void command_env(char home[512], char user[160], char logname[160], char *env[5])
{
	const struct passwd *pw = getpwuid(getuid());
	size_t n = 0;
	env[n++] = "PATH=/usr/bin:/bin";
	if (pw != NULL && snprintf(home, 512, "HOME=%s", pw->pw_dir) < 512 &&
	    snprintf(user, 160, "USER=%s", pw->pw_name) < 160 &&
	    snprintf(logname, 160, "LOGNAME=%s", pw->pw_name) < 160) {
		env[n++] = home;
		env[n++] = user;
		env[n++] = logname;
	}
	env[n] = NULL;
}

/* spawn_shell - start password_command as the caller with our group; its stdout to a pipe */
static int spawn_shell(const char *cmd, pid_t *pid, int *out_fd)
{
	int fds[2];
	char home[512], user[160], logname[160], *env[5];
	command_env(home, user, logname, env);
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	pid_t child = fork();
	if (child == 0)
		child_exec(cmd, fds[1], env);
	int e = errno;
	close(fds[1]);
	if (child < 0) {
		close(fds[0]);
		errno = e;
		return -1;
	}
	*pid = child;
	*out_fd = fds[0];
	return 0;
}

/* the running password_command */
struct helper {
	pid_t pid;
	int fd;		/* the read end of its standard output */
	bool reaped;	/* it has exited and status holds how */
	int status;
};

/*
 * read_output - what the command prints until it closes its output or has
 * exited (a daemon it started may hold the pipe open for ever), at most
 * SECRET_READ_MAX bytes within SECRET_COMMAND_SECONDS. 0, or -1 and why.
 */
static int read_output(struct helper *h, struct buf *raw, const char **problem)
{
	char chunk[4096];
	time_t deadline = time(NULL) + SECRET_COMMAND_SECONDS;
	int r = 0;
	for (;;) {
		if (!h->reaped && time(NULL) >= deadline) {
			*problem = "did not finish within 60 seconds";
			r = -1;
			break;
		}
		struct pollfd p = { .fd = h->fd, .events = POLLIN };
		int ready = poll(&p, 1, h->reaped ? 0 : 200);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready == 0 && h->reaped)
			break;	/* everything it wrote before exiting is read */
		if (ready == 0) {
			h->reaped = waitpid(h->pid, &h->status, WNOHANG) == h->pid;
			continue;
		}
		ssize_t got = ready < 0 ? -1 : read(h->fd, chunk, sizeof chunk);
		if (got < 0 && errno == EINTR)
			continue;
		if (got == 0)
			break;
		*problem = got < 0 ? "cannot read its output" : "printed more than 64 KiB";
		if (got < 0 || buf_append(raw, chunk, (size_t)got) < 0) {
			r = -1;
			break;
		}
	}
	wipe_memory(chunk, sizeof chunk);
	return r;
}

/* run_command - the first line printed by password_command */
static int run_command(const char *cmd, struct buf *out, char *err, size_t errlen)
{
	struct helper h = { .reaped = false };
	if (spawn_shell(cmd, &h.pid, &h.fd) < 0)
		return buf_error(err, errlen, "[auth] password_command: cannot run "
			   "/bin/sh: %s", strerror(errno));
	struct buf raw;
	buf_init(&raw, SECRET_READ_MAX);
	const char *problem = NULL;
	int r = read_output(&h, &raw, &problem);
	close(h.fd);
	if (r < 0 && !h.reaped)
		kill(h.pid, SIGKILL);	/* our own child, stuck or too talkative */
	while (!h.reaped && waitpid(h.pid, &h.status, 0) < 0) {
		if (errno != EINTR) {
			r = -1;
			problem = problem ? problem : "lost track of it";
			break;
		}
	}
	if (r < 0)
		r = buf_error(err, errlen, "[auth] password_command: %s", problem);
	else if (WIFSIGNALED(h.status))
		r = buf_error(err, errlen, "[auth] password_command: killed by signal %d",
			WTERMSIG(h.status));
	else if (WEXITSTATUS(h.status) != 0)
		r = buf_error(err, errlen, "[auth] password_command: exited with status %d",
			WEXITSTATUS(h.status));
	else if (raw.len == 0)
		r = buf_error(err, errlen, "[auth] password_command: printed nothing");
	else
		r = first_line(&raw, out, "password_command", err, errlen);
	buf_wipe(&raw);
	return r;
}

/* secret_fetch - fill out with the secret named by [auth] */
int secret_fetch(const struct conf *c, struct buf *out, char *err, size_t errlen)
{
	if (c->auth.user == NULL)
		return 1;
	if (c->auth.password != NULL) {
		if (buf_puts(out, c->auth.password) < 0)
			return buf_error(err, errlen, "[auth] password: too long");
		return 0;
	}
	if (c->auth.password_file != NULL)
		return secret_read_file(c->auth.password_file, "password_file", out, err, errlen);
	if (c->auth.password_command != NULL)
		return run_command(c->auth.password_command, out, err, errlen);
	if (c->auth.oauth2_token_url != NULL || c->auth.oauth2_refresh_token != NULL ||
	    c->auth.oauth2_refresh_token_file != NULL)
		return buf_error(err, errlen, "[auth] built-in OAuth2 token exchange is not "
			   "implemented yet; use password_command");	/* deliver.c calls oauth2_fetch */
	return buf_error(err, errlen, "[auth] user is set, but no password, "
		   "password_file or password_command");
}
