/* test_mailq - the queue listing, text and JSON, compared byte for byte */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mailq.h"
#include "spool_fixture.h"

struct fixture {
	char dir[64];
	struct queue *q;
};

/* setup - fresh spool, UTC times */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	spool_make(f->dir, sizeof(f->dir), &f->q, "test_mailq");
	setenv("TZ", "UTC", 1);
	tzset();
	*state = f;
	return 0;
}

/* teardown - remove the spool */
static int teardown(void **state)
{
	struct fixture *f = *state;
	spool_remove(f->dir, f->q);
	free(f);
	return 0;
}

/* enqueue - commit a message of size bytes; m gets it, still locked */
static void enqueue(struct fixture *f, const char *sender, char **rcpt, size_t nrcpt,
		    time_t arrival, size_t size, struct queue_msg *m)
{
	struct envelope e;
	struct queue_new n;
	char err[256], chunk[1000];
	memset(&e, 0, sizeof(e));
	e.sender = (char *)sender;
	e.rcpt = rcpt;
	e.nrcpt = nrcpt;
	memset(chunk, 'x', sizeof(chunk));
	assert_int_equal(queue_new_begin(f->q, &e, arrival, &n, err, sizeof(err)), 0);
	while (size > 0) {
		size_t k = size < sizeof(chunk) ? size : sizeof(chunk);
		assert_int_equal(queue_new_write(&n, chunk, k), 0);
		size -= k;
	}
	assert_int_equal(queue_new_commit(f->q, &n, false, m, err, sizeof(err)), 0);
}

/* listing - mailq_print into a string (caller frees) */
static char *listing(struct fixture *f, bool json)
{
	char *text = NULL, err[256];
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	assert_int_equal(mailq_print(f->q, out, json, err, sizeof(err)), 0);
	fclose(out);
	return text;
}

/* expect_listing - the listing is exactly want */
static void expect_listing(struct fixture *f, bool json, const char *want)
{
	char *got = listing(f, json);
	assert_string_equal(got, want);
	free(got);
}

/* test_empty - Postfix's words for an empty queue; JSON prints nothing */
static void test_empty(void **state)
{
	struct fixture *f = *state;
	expect_listing(f, false, "Mail queue is empty\n");
	expect_listing(f, true, "");
}

/* test_one_with_error - error line, done recipients hidden, footer singular */
static void test_one_with_error(void **state)
{
	struct fixture *f = *state;
	static char *rcpt[] = { "done@example.org", "rcpt@example.org" };
	struct queue_msg m;
	enqueue(f, "sender@example.com", rcpt, 2, 1795748638, 1234, &m);
	char id[QUEUE_ID_LEN + 1];
	memcpy(id, m.id, sizeof(id));
	m.rcpt_done[0] = true;
	assert_int_equal(queue_defer(f->q, &m,
				     "connect to smtp.example.com[192.0.2.1]:587: Connection refused",
				     1795750000), 0);
	char want[1024];
	int n = snprintf(want, sizeof(want),
			 "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
			 "%s     1234 Fri Nov 27 03:03:58  sender@example.com\n"
			 "                                         (connect to smtp.example.com[192.0.2.1]:587: Connection refused)\n"
			 "                                         rcpt@example.org\n"
			 "\n"
			 "-- 1 Kbytes in 1 Request.\n", id);
	assert_true(n > 0 && (size_t)n < sizeof(want));
	expect_listing(f, false, want);
}

#define BUSY_FMT \
	"-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n" \
	"%s      100 Sun Sep 13 12:26:40  MAILER-DAEMON\n" \
	"                                         sender@example.com\n" \
	"\n" \
	"%s%c    3000 Tue Nov 14 22:13:20  sender@example.com\n" \
	"                                         a@example.org\n" \
	"                                         b@example.org\n" \
	"\n" \
	"-- 3 Kbytes in 2 Requests.\n"

/* test_busy_exact - exact text of a locked message, then unlocked */
static void test_busy_exact(void **state)
{
	struct fixture *f = *state;
	static char *rcpt1[] = { "a@example.org", "b@example.org" };
	static char *rcpt2[] = { "sender@example.com" };
	struct queue_msg m1, m2;
	char id1[QUEUE_ID_LEN + 1], id2[QUEUE_ID_LEN + 1], want[1024];
	enqueue(f, "sender@example.com", rcpt1, 2, 1700000000, 3000, &m1);
	enqueue(f, "", rcpt2, 1, 1600000000, 100, &m2);
	memcpy(id1, m1.id, sizeof(id1));
	memcpy(id2, m2.id, sizeof(id2));
	queue_release(&m2);
	int n = snprintf(want, sizeof(want), BUSY_FMT, id2, id1, '*');
	assert_true(n > 0 && (size_t)n < sizeof(want));
	expect_listing(f, false, want);
	queue_release(&m1);
	n = snprintf(want, sizeof(want), BUSY_FMT, id2, id1, ' ');
	assert_true(n > 0 && (size_t)n < sizeof(want));
	expect_listing(f, false, want);
}

/* test_json_line - one object per line, escapes and UTF-8 handled */
static void test_json_line(void **state)
{
	struct fixture *f = *state;
	static char *rcpt[] = { "jos\xc3\xa9@example.org", "bad\xff@example.org" };
	struct queue_msg m;
	char id[QUEUE_ID_LEN + 1], want[2048];
	enqueue(f, "a\"b\\c@example.com", rcpt, 2, 1700000000, 10, &m);
	memcpy(id, m.id, sizeof(id));
	assert_int_equal(queue_defer(f->q, &m, "451 4.7.1 \"slow\" down", 1700000600), 0);
	int n = snprintf(want, sizeof(want),
			 "{\"queue_name\": \"deferred\", \"queue_id\": \"%s\", "
			 "\"arrival_time\": 1700000000, \"message_size\": 10, "
			 "\"sender\": \"a\\\"b\\\\c@example.com\", \"recipients\": ["
			 "{\"address\": \"jos\xc3\xa9@example.org\", \"delay_reason\": \"451 4.7.1 \\\"slow\\\" down\"}, "
			 "{\"address\": \"bad\\ufffd@example.org\", \"delay_reason\": \"451 4.7.1 \\\"slow\\\" down\"}], "
			 "\"attempts\": 1, \"next_retry\": 1700000600, "
			 "\"last_error\": \"451 4.7.1 \\\"slow\\\" down\"}\n", id);
	assert_true(n > 0 && (size_t)n < sizeof(want));
	expect_listing(f, true, want);
}

/* test_json_fresh - no error yet: null last_error, no delay_reason */
static void test_json_fresh(void **state)
{
	struct fixture *f = *state;
	static char *rcpt[] = { "r@example.org" };
	struct queue_msg m;
	char want[1024];
	enqueue(f, "", rcpt, 1, 1700000000, 0, &m);
	int n = snprintf(want, sizeof(want),
			 "{\"queue_name\": \"active\", \"queue_id\": \"%s\", "
			 "\"arrival_time\": 1700000000, \"message_size\": 0, \"sender\": \"\", "
			 "\"recipients\": [{\"address\": \"r@example.org\"}], \"attempts\": 0, "
			 "\"next_retry\": 0, \"last_error\": null}\n", m.id);
	assert_true(n > 0 && (size_t)n < sizeof(want));
	expect_listing(f, true, want);
	queue_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_with_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_fresh, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
