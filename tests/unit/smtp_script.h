/*
 * smtp_script - a scripted smarthost for the unit tests that speak SMTP
 * (test_smtp, test_deliver). Include after cmocka.h; header-only, since
 * each test binary links its own list of modules.
 */
#ifndef RELAYMAIL_SMTP_SCRIPT_H
#define RELAYMAIL_SMTP_SCRIPT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * A scripted smarthost in a child process: "C:line" is what the client
 * must send next (exactly), "S:line" what the server answers, "X:bytes"
 * raw bytes sent as they are, "E:" hang up at once. The child exits 0 only when the client
 * followed the script to the end (and then closed the connection).
 */
#define SCRIPT_MAX 40

/* serve_script - the child: play one script on the first connection */
static inline int serve_script(int ls, const char *const *script)
{
	int fd = accept(ls, NULL, NULL), one = 1;
	if (fd < 0 || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
		return 2;
	FILE *in = fdopen(dup(fd), "r");
	char line[8192];
	for (size_t i = 0; i < SCRIPT_MAX && script[i] != NULL; i++) {
		const char *step = script[i];
		if (step[0] == 'E')
			return 0;
		if (step[0] == 'S' || step[0] == 'X') {
			int n = snprintf(line, sizeof line, "%s%s", step + 2, step[0] == 'S' ? "\r\n" : "");
			if (n < 0 || (size_t)n >= sizeof line || write(fd, line, (size_t)n) != n)
				return 3;
			continue;
		}
		if (fgets(line, sizeof line, in) == NULL) {
			fprintf(stderr, "script step %zu: want \"%s\", got EOF\n", i, step + 2);
			return 4;
		}
		line[strcspn(line, "\r\n")] = '\0';
		if (strcmp(line, step + 2) != 0) {
			fprintf(stderr, "script step %zu: want \"%s\", got \"%s\"\n", i, step + 2, line);
			return 5;
		}
	}
	/* the client must now say QUIT or hang up, nothing else */
	if (fgets(line, sizeof line, in) != NULL && strncmp(line, "QUIT", 4) != 0) {
		fprintf(stderr, "after the script: unexpected \"%s\"\n", line);
		return 6;
	}
	return 0;
}

/* start_server - listen on 127.0.0.1, fork the scripted server; its port */
static inline pid_t start_server(const char *const *script, unsigned *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(ls >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(ls, 1), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(serve_script(ls, script));
	close(ls);
	return pid;
}

/* data_file - an unlinked temporary file holding data */
static inline int data_file(const char *data)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	int fd = dup(fileno(f));
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	fclose(f);
	return fd;
}

#endif
