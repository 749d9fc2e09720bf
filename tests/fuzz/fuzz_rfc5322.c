/* fuzz_rfc5322 - libFuzzer target for the header field and address parser */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rfc5322.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_addr - every address handed over is a proper C string within the limit */
static int check_addr(void *ctx, const char *addr)
{
	size_t *calls = ctx;

	if (strlen(addr) == 0 || strlen(addr) > RFC5322_ADDR_MAX)
		abort();
	/* stop now and then so that the -2 path is walked too */
	return ++*calls == 50 ? -1 : 0;
}

/* LLVMFuzzerTestOneInput - one input is both a header line and a field body */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *why = NULL;
	size_t calls = 0;
	size_t name = rfc5322_field_name(s, size);

	if (name > size || memchr(s, ':', name) != NULL)
		abort();
	if (name > 0) {
		/* a name always equals itself, whatever the case of its copy */
		char *copy = malloc(name + 1);
		if (copy == NULL)
			return 0;
		for (size_t i = 0; i < name; i++)
			copy[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
		copy[name] = '\0';
		bool same = rfc5322_name_is(s, name, copy);
		free(copy);
		if (!same)
			abort();
	}
	int rc = rfc5322_parse_addresses(s, size, check_addr, &calls, &why);
	if ((rc == -1) != (why != NULL) || (rc >= 0 && (size_t)rc != calls))
		abort();
	if (name > 0) {
		/* the value after the colon, as the message module hands it over */
		size_t colon = name;
		while (colon < size && s[colon] != ':')
			colon++;
		if (colon < size) {
			calls = 0;
			(void)rfc5322_parse_addresses(s + colon + 1, size - colon - 1,
						      check_addr, &calls, &why);
		}
	}
	return 0;
}
