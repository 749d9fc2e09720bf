/* test_tlssess - the server's certificate taken out of a saved session's DER */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tlssess.h"
#include "row_label.h"

/* unhex - test helper: hex text (spaces ignored) to bytes in out; the byte count */
static size_t unhex(const char *hex, unsigned char *out, size_t outlen)
{
	size_t n = 0;
	for (const char *p = hex; *p != '\0'; p++) {
		if (*p == ' ')
			continue;
		unsigned v = (unsigned)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
		if (n % 2 == 0) {
			assert_true(n / 2 < outlen);
			out[n / 2] = (unsigned char)(v << 4);
		} else {
			out[n / 2] |= (unsigned char)v;
		}
		n++;
	}
	assert_int_equal(n % 2, 0);
	return n / 2;
}

/* in, and the expected result (NULL: the layout is refused, -1) */
static const struct {
	const char *name;
	const char *in;
	const char *out;
} cases[] = {
	{"peer last", "30 0b 020101 020105 a303 0401ff", "30 06 020101 020105"},
	{"peer in the middle", "30 0d 020101 a303 0401ff a403 040178", "30 08 020101 a403040178"},
	{"empty peer", "30 08 020101 a3 00 020105", "30 06 020101 020105"},
	{"long-form element kept", "30 81 85 020101 a3 00 04 7e" "%126", "30 81 83 020101 04 7e" "%126"},
	{"outer shrinks to the short form", "30 81 86 020101 a3 81 80 %128", "30 03 020101"},
	{"empty", "", NULL},
	{"a tag alone", "30", NULL},
	{"no elements", "30 00", NULL},
	{"no peer", "30 03 020101", NULL},
	{"two peers", "30 0b 020101 a3020400 a3020400", NULL},
	{"version 2", "30 08 020102 a3030401ff", NULL},
	{"version not first", "30 08 a3030401ff 020101", NULL},
	{"version not an INTEGER", "30 08 040101 a3030401ff", NULL},
	{"version two bytes", "30 09 02020001 a3030401ff", NULL},
	{"not a SEQUENCE", "31 08 020101 a3030401ff", NULL},
	{"byte after the SEQUENCE", "30 08 020101 a3030401ff 00", NULL},
	{"outer length too long", "30 09 020101 a3030401ff", NULL},
	{"outer length too short", "30 07 020101 a3030401ff", NULL},
	{"element overruns", "30 08 020101 a3040401ff", NULL},
	{"indefinite length", "30 80 020101 a3030401ff 0000", NULL},
	{"non-minimal long form", "30 81 08 020101 a3030401ff", NULL},
	{"leading zero length octet", "30 82 0008 020101 a3030401ff", NULL},
	{"five length octets", "30 85 0000000008 020101 a3030401ff", NULL},
	{"multi-byte tag", "30 09 020101 bf03 03 0401ff", NULL},
	{"header cut short", "30 04 020101 a3", NULL},
	{"length octets cut short", "30 06 020101 a3 82 01", NULL},
};

/* expand - test helper: "%N" in a case stands for N bytes of 0x5a; hex of the result */
static size_t expand(const char *spec, unsigned char *out, size_t outlen)
{
	char hex[2048];
	size_t h = 0;
	for (const char *p = spec; *p != '\0';) {
		if (*p == '%') {
			char *end;
			unsigned long count = strtoul(p + 1, &end, 10);
			for (unsigned long i = 0; i < count; i++, h += 2)
				memcpy(hex + h, "5a", 2);
			p = end;
		} else {
			hex[h++] = *p++;
		}
		assert_true(h < sizeof hex - 600);
	}
	hex[h] = '\0';
	return unhex(hex, out, outlen);
}

static void test_table(void **state)
{
	(void)state;
	unsigned char in[1024], want[1024];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		row_label("test_table: %s", cases[i].name);
		size_t n = expand(cases[i].in, in, sizeof in);
		struct buf out;
		buf_init(&out, 4096);
		assert_int_equal(buf_append(&out, "x", 1), 0);	/* kept in front */
		int r = tlssess_strip_peer(n > 0 ? in : (const unsigned char *)"", n, &out);
		if (cases[i].out == NULL) {
			if (r != -1 || out.len != 1)
				fail_msg("%s: accepted", cases[i].name);
		} else {
			size_t m = expand(cases[i].out, want, sizeof want);
			if (r != 0 || out.len != m + 1 || memcmp(out.data + 1, want, m) != 0)
				fail_msg("%s: r=%d len=%zu (want %zu)", cases[i].name, r, out.len, m + 1);
			/* the result has no peer left: stripping again refuses it */
			struct buf again;
			buf_init(&again, 4096);
			assert_int_equal(tlssess_strip_peer((unsigned char *)out.data + 1, m, &again), -1);
			buf_free(&again);
		}
		buf_free(&out);
	}
	row_label_done();
}

/* a result that does not fit out leaves out as it was */
static void test_out_too_small(void **state)
{
	(void)state;
	unsigned char in[64];
	size_t n = unhex("300b020101020105a3030401ff", in, sizeof in);
	struct buf out;
	buf_init(&out, 7);
	assert_int_equal(buf_append(&out, "ab", 2), 0);
	assert_int_equal(tlssess_strip_peer(in, n, &out), -1);
	assert_int_equal(out.len, 2);
	assert_string_equal(buf_cstr(&out), "ab");
	assert_int_equal(tlssess_strip_peer(NULL, 0, &out), -1);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_table, row_label_report),
		cmocka_unit_test_teardown(test_out_too_small, row_label_report),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
