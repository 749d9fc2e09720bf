/*
 * fuzz_queue - libFuzzer target for the spool file parser (queue_parse).
 * The input is a spool file's envelope block, up to and including its
 * first empty line; whatever follows, when anything does, is fed as the
 * state file. Build: clang -fsanitize=fuzzer,address,undefined -Isrc
 * tests/fuzz/fuzz_queue.c src/queue.c src/buf.c
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "queue.h"

/* LLVMFuzzerTestOneInput - parse one input, then check what came out */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const char *end = memmem(p, size, "\n\n", 2);
	size_t envlen = end != NULL ? (size_t)(end - p) + 2 : size;
	const char *state = envlen < size ? p + envlen : NULL;
	struct queue_msg m;
	char err[256];
	if (queue_parse(p, envlen, state, size - envlen, &m, err, sizeof(err)) == 0) {
		/* what the parser accepts must be safe to use as a path and on the wire */
		if (!queue_valid_id(m.id) || m.nrcpt == 0 || m.sender == NULL ||
		    m.data_off != (off_t)envlen || m.rcpt_done == NULL)
			__builtin_trap();
		for (size_t i = 0; i < m.nrcpt; i++)
			if (strpbrk(m.rcpt[i], "\r\n") != NULL)
				__builtin_trap();
	}
	queue_release(&m);
	return 0;
}
