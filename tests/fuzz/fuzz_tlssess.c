/*
 * fuzz_tlssess - libFuzzer target for the saved-session rewriting (the
 * bytes come from the spool's tls/ files): whatever the input, a result
 * is shorter than it, is one SEQUENCE, and has no certificate left to
 * remove (a second pass refuses it); a refusal leaves the buffer as it was.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlssess.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out, again;
	buf_init(&out, 1 << 20);
	buf_init(&again, 1 << 20);
	if (tlssess_strip_peer(data, size, &out) == 0) {
		if (out.len >= size || out.data[0] != 0x30)
			abort();
		if (tlssess_strip_peer((const unsigned char *)out.data, out.len, &again) != -1 ||
		    again.len != 0)
			abort();
	} else if (out.len != 0) {
		abort();
	}
	buf_free(&out);
	buf_free(&again);
	return 0;
}
