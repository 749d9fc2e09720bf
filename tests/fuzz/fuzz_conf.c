/*
 * fuzz_conf - libFuzzer target for the configuration parser: the input is
 * written to a memfd and loaded with conf_load through /proc/self/fd/N,
 * then freed. A configuration it accepts must be safe to use: no value
 * that can reach the SMTP wire or a header (host, helo, domain, from,
 * user, alias names and targets) holds a CR or LF, and the numbers are in
 * range. A refusal must say why.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* wire_safe - abort when a value that may reach the wire holds CR or LF */
static void wire_safe(const char *v)
{
	if (v != NULL && strpbrk(v, "\r\n") != NULL)
		abort();
}

/* check - the promises of a loaded configuration */
static void check(const struct conf *c)
{
	if (c->smarthost.host == NULL || c->smarthost.helo == NULL || c->sender.domain == NULL ||
	    c->queue.dir == NULL || c->path == NULL)
		abort();
	if (c->smarthost.port == 0 || c->smarthost.port > 65535)
		abort();
	wire_safe(c->smarthost.host);
	wire_safe(c->smarthost.helo);
	wire_safe(c->sender.domain);
	wire_safe(c->sender.from);
	wire_safe(c->auth.user);
	wire_safe(c->aliases.default_target);
	for (size_t i = 0; i < c->aliases.n; i++) {
		wire_safe(c->aliases.v[i].name);
		wire_safe(c->aliases.v[i].targets);
	}
}

/* LLVMFuzzerTestOneInput - one configuration file */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char path[64], err[1024];
	struct conf c;
	if (fd < 0 && (fd = memfd_create("fuzz_conf", MFD_CLOEXEC)) < 0)
		abort();
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	if (snprintf(path, sizeof path, "/proc/self/fd/%d", fd) < 0)
		abort();
	err[0] = '\0';
	if (conf_load(path, &c, err, sizeof err) == 0) {
		check(&c);
		conf_free(&c);
	} else if (err[0] == '\0') {
		abort();	/* a refusal names the file and the key */
	}
	return 0;
}
