/* test_conf - the configuration reader: values, defaults, every error class */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

#define FP_UPPER "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:" \
		 "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"
#define FP_LOWER "abcdef0123456789abcdef0123456789" \
		 "abcdef0123456789abcdef0123456789"

/* write_temp - text into a new temporary file; its name into path */
static void write_temp(const char *text, char *path, size_t len)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int n = snprintf(path, len, "%s/test_conf.XXXXXX", dir);
	assert_true(n > 0 && (size_t)n < len);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t want = strlen(text);
	assert_int_equal(write(fd, text, want), (ssize_t)want);
	assert_int_equal(close(fd), 0);
}

/*
 * row_label - a table row's configuration text on one line (newlines shown
 * as "|"), the label a failed check of that row prints
 */
static const char *row_label(const char *ini, char *out, size_t len)
{
	size_t o = 0;
	for (; *ini != '\0' && o + 1 < len; ini++)
		out[o++] = *ini == '\n' ? '|' : *ini;
	out[o] = '\0';
	return out;
}

/* expect_int - got is want in the row named label, or the test fails naming it */
static void expect_int(const char *label, const char *what, long long got, long long want)
{
	if (got != want)
		fail_msg("row \"%s\": %s is %lld, expected %lld", label, what, got, want);
}

/* expect_str - got is want (both NULL counts) in the row named label */
static void expect_str(const char *label, const char *what, const char *got, const char *want)
{
	if (got == want || (got != NULL && want != NULL && strcmp(got, want) == 0))
		return;
	fail_msg("row \"%s\": %s is \"%s\", expected \"%s\"", label, what,
		 got ? got : "(null)", want ? want : "(null)");
}

/* load_text - conf_load on a temporary file holding text */
static int load_text(const char *text, struct conf *c, char *err, size_t errlen,
		     char *path, size_t pathlen)
{
	write_temp(text, path, pathlen);
	int r = conf_load(path, c, err, errlen);
	unlink(path);
	return r;
}

static const char full_ini[] =
	"[smarthost]\n"
	"host = mail.example.net\n"
	"port = 2525\n"
	"tls = tls\n"
	"tls_verify = no\n"
	"tls_ca_file = /etc/ssl/ca.pem\n"
	"tls_fingerprint = " FP_UPPER "\n"
	"tls_cert_file = /etc/relaymail/client.pem\n"
	"tls_key_file = /etc/relaymail/client.key\n"
	"helo = client.example.net\n"
	"timeout = 2m\n"
	"[auth]\n"
	"mechanism = CRAM-MD5\n"
	"user = myaccount\n"
	"password = \"my;pass#word\"\n"
	"[sender]\n"
	"domain = example.net\n"
	"from = robot@example.net\n"
	"allow_from_override = off\n"
	"rewrite_from = true\n"
	"aliases_file =\n"
	"[aliases]\n"
	"Root = admin@example.net, ops@example.net\n"
	"www-data = web@example.net\n"
	"default = catchall@example.net\n"
	"[queue]\n"
	"dir = /var/tmp/rq\n"
	"mode = background\n"
	"retry = 1m..2h\n"
	"max_age = 2w\n"
	"max_message_size = 10M\n"
	"min_free = 0\n"
	"keep_failed = 1w\n"
	"[log]\n"
	"syslog = 0\n"
	"file = /var/log/relaymail.log\n";

/* test_full - every key set: every field of struct conf */
static void test_full(void **state)
{
	(void)state;
	struct conf c;
	char err[512] = "", path[256];
	assert_int_equal(load_text(full_ini, &c, err, sizeof err, path, sizeof path), 0);
	assert_string_equal(c.path, path);
	assert_string_equal(c.smarthost.host, "mail.example.net");
	assert_int_equal(c.smarthost.port, 2525);
	assert_int_equal(c.smarthost.tls, CONF_TLS_IMPLICIT);
	assert_false(c.smarthost.tls_verify);
	assert_string_equal(c.smarthost.tls_ca_file, "/etc/ssl/ca.pem");
	assert_string_equal(c.smarthost.tls_fingerprint, FP_LOWER);
	assert_string_equal(c.smarthost.tls_cert_file, "/etc/relaymail/client.pem");
	assert_string_equal(c.smarthost.tls_key_file, "/etc/relaymail/client.key");
	assert_string_equal(c.smarthost.helo, "client.example.net");
	assert_int_equal(c.smarthost.timeout, 120);
	assert_int_equal(c.auth.mechanism, CONF_MECH_CRAM_MD5);
	assert_string_equal(c.auth.user, "myaccount");
	assert_string_equal(c.auth.password, "my;pass#word");
	assert_null(c.auth.password_file);
	assert_null(c.auth.password_command);
	assert_null(c.auth.oauth2_token_url);
	assert_string_equal(c.sender.domain, "example.net");
	assert_string_equal(c.sender.from, "robot@example.net");
	assert_false(c.sender.allow_from_override);
	assert_true(c.sender.rewrite_from);
	assert_string_equal(c.sender.aliases_file, "");
	assert_int_equal(c.aliases.n, 2);
	assert_string_equal(c.aliases.v[0].name, "root");
	assert_string_equal(c.aliases.v[0].targets, "admin@example.net, ops@example.net");
	assert_string_equal(c.aliases.v[1].name, "www-data");
	assert_string_equal(c.aliases.v[1].targets, "web@example.net");
	assert_string_equal(c.aliases.default_target, "catchall@example.net");
	assert_string_equal(c.queue.dir, "/var/tmp/rq");
	assert_int_equal(c.queue.mode, CONF_MODE_BACKGROUND);
	assert_int_equal(c.queue.retry_min, 60);
	assert_int_equal(c.queue.retry_max, 7200);
	assert_int_equal(c.queue.max_age, 14 * 86400);
	assert_true(c.queue.max_message_size == 10ULL << 20);
	assert_true(c.queue.min_free == 0);
	assert_int_equal(c.queue.keep_failed, 7 * 86400);
	assert_false(c.log.syslog);
	assert_string_equal(c.log.file, "/var/log/relaymail.log");
	conf_free(&c);
	assert_null(c.smarthost.host);
}

/* test_defaults - only the host: every documented default */
static void test_defaults(void **state)
{
	(void)state;
	struct conf c;
	char err[512] = "", path[256];
	assert_int_equal(load_text("[smarthost]\nhost = smtp.example.com\n", &c,
				   err, sizeof err, path, sizeof path), 0);
	assert_int_equal(c.smarthost.port, 587);
	assert_int_equal(c.smarthost.tls, CONF_TLS_STARTTLS);
	assert_true(c.smarthost.tls_verify);
	assert_null(c.smarthost.tls_ca_file);
	assert_null(c.smarthost.tls_fingerprint);
	assert_null(c.smarthost.tls_cert_file);
	assert_null(c.smarthost.tls_min_version);	/* 1.2 */
	assert_null(c.smarthost.tls_ciphers);
	assert_null(c.smarthost.tls_ciphersuites);
	assert_non_null(c.smarthost.helo);
	assert_true(c.smarthost.helo[0] != '\0');
	assert_int_equal(c.smarthost.timeout, 0);
	assert_int_equal(c.auth.mechanism, CONF_MECH_AUTO);
	assert_null(c.auth.user);
	assert_non_null(c.sender.domain);
	assert_string_equal(c.sender.domain, c.smarthost.helo);
	assert_null(c.sender.from);
	assert_true(c.sender.allow_from_override);
	assert_false(c.sender.rewrite_from);
	assert_string_equal(c.sender.aliases_file, "/etc/aliases");
	assert_int_equal(c.aliases.n, 0);
	assert_null(c.aliases.default_target);
	assert_string_equal(c.queue.dir, "/var/spool/relaymail");
	assert_int_equal(c.queue.mode, CONF_MODE_SYNC);
	assert_int_equal(c.queue.retry_min, 300);
	assert_int_equal(c.queue.retry_max, 3600);
	assert_int_equal(c.queue.max_age, 5 * 86400);
	assert_true(c.queue.max_message_size == 50ULL << 20);
	assert_true(c.queue.min_free == 100ULL << 20);
	assert_int_equal(c.queue.keep_failed, 30 * 86400);
	assert_true(c.log.syslog);
	assert_null(c.log.file);
	conf_free(&c);
}

struct good_case {
	const char *ini;
	unsigned port;
	enum conf_mech mech;
	unsigned retry_min, retry_max;
};

/* test_good - small valid files: port defaults, auth variants, retry forms */
static void test_good(void **state)
{
	(void)state;
	static const struct good_case cases[] = {
		{ "[smarthost]\nhost=h\ntls=tls\n", 465, CONF_MECH_AUTO, 300, 3600 },
		{ "[smarthost]\nhost=127.0.0.1\ntls=none\n", 25, CONF_MECH_AUTO, 300, 3600 },
		{ "[smarthost]\nhost=::1\nport=\n", 587, CONF_MECH_AUTO, 300, 3600 },
		{ "[smarthost]\nhost=h\n[queue]\nretry=10m\n", 587, CONF_MECH_AUTO, 600, 600 },
		{ "[smarthost]\nhost=h\n[queue]\nretry = 90..90\n", 587, CONF_MECH_AUTO, 90, 90 },
		{ "[smarthost]\nhost=h\n[auth]\nuser=u\npassword_file=/etc/s\n",
		  587, CONF_MECH_AUTO, 300, 3600 },
		{ "[smarthost]\nhost=h\n[auth]\nmechanism=login\nuser=u\n"
		  "password_command=pass show mail\n", 587, CONF_MECH_LOGIN, 300, 3600 },
		{ "[smarthost]\nhost=h\n[auth]\nmechanism=xoauth2\nuser=u@gmail.com\n"
		  "oauth2_token_url=https://oauth2.googleapis.com/token\n"
		  "oauth2_client_id=id\noauth2_client_secret_file=/etc/cs\n"
		  "oauth2_refresh_token_file=/etc/rt\n", 587, CONF_MECH_XOAUTH2, 300, 3600 },
		{ "[smarthost]\nhost=h\n[auth]\nmechanism=OAuthBearer\nuser=u\n"
		  "password_command=get-token\n", 587, CONF_MECH_OAUTHBEARER, 300, 3600 },
		{ "[smarthost]\nhost=h\n[auth]\nmechanism=none\n", 587, CONF_MECH_NONE,
		  300, 3600 },
		{ "# comment\n\n[SmartHost]\n  HOST = h ; comment\n[aliases]\n",
		  587, CONF_MECH_AUTO, 300, 3600 },
		{ "[smarthost]\nhost = \\\n  h\n", 587, CONF_MECH_AUTO, 300, 3600 },
		{ "[smarthost]\nhost=h\n[queue]\n[smarthost]\nport=2525\nhelo=[192.0.2.1]\n",
		  2525, CONF_MECH_AUTO, 300, 3600 },
		{ "[smarthost]\nhost=h\ntimeout=\nport = 587 ; submission\n[log]\nfile=\n",
		  587, CONF_MECH_AUTO, 300, 3600 },
		{ "[smarthost]\nhost=127.0.0.2\ntls=none\n[auth]\nuser=u\npassword=p\n",
		  25, CONF_MECH_AUTO, 300, 3600 },
		{ "[smarthost]\nhost=::1\ntls=none\n[auth]\nuser=u\npassword=p\n",
		  25, CONF_MECH_AUTO, 300, 3600 },
		{ "[smarthost]\nhost=LocalHost\ntls=none\nport=1023\n[auth]\nmechanism=plain\n"
		  "user=u\npassword=p\n", 1023, CONF_MECH_PLAIN, 300, 3600 },
		{ "[smarthost]\nhost=h\ntls_verify=no\ntls_fingerprint=" FP_UPPER "\n",
		  587, CONF_MECH_AUTO, 300, 3600 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct conf c;
		char err[512] = "", path[256], row[512];
		const char *label = row_label(cases[i].ini, row, sizeof row);
		int r = load_text(cases[i].ini, &c, err, sizeof err, path, sizeof path);
		if (r != 0)
			fail_msg("row \"%s\": %s", label, err);
		expect_int(label, "port", c.smarthost.port, cases[i].port);
		expect_int(label, "mechanism", c.auth.mechanism, cases[i].mech);
		expect_int(label, "retry_min", c.queue.retry_min, cases[i].retry_min);
		expect_int(label, "retry_max", c.queue.retry_max, cases[i].retry_max);
		conf_free(&c);
	}
}

struct bad_case {
	const char *ini;
	const char *error;	/* expected after "PATH: " */
};

#define H "[smarthost]\nhost = smtp.example.com\n"

static const struct bad_case bad_cases[] = {
	{ H "port = 70000\n",
	  "[smarthost] port: \"70000\" is not a port number (1-65535)" },
	{ H "port = 0\n", "[smarthost] port: \"0\" is not a port number" },
	{ H "port = 25x\n", "[smarthost] port: \"25x\" is not a port number" },
	{ H "tls = ssl\n", "[smarthost] tls: \"ssl\" is not one of starttls, tls, none" },
	{ H "tls_verify = maybe\n", "[smarthost] tls_verify: \"maybe\" is not yes or no" },
	{ H "tls_min_version = 1.1\n",
	  "[smarthost] tls_min_version: \"1.1\" is not one of 1.2, 1.3" },
	{ H "tls_min_version = TLSv1.3\n",
	  "[smarthost] tls_min_version: \"TLSv1.3\" is not one of 1.2, 1.3" },
	{ H "tls_fingerprint = abcd\n",
	  "[smarthost] tls_fingerprint: \"abcd\" is not a SHA-256 fingerprint" },
	{ H "tls_fingerprint = " FP_LOWER "00\n",
	  "[smarthost] tls_fingerprint: \"abcdef0123456789abcdef0123456789abcdef" },
	{ H "tls_cert_file = /c.pem\n",
	  "[smarthost] tls_cert_file: set without tls_key_file" },
	{ H "tls_key_file = /c.key\n",
	  "[smarthost] tls_key_file: set without tls_cert_file" },
	{ H "tls_ca_file = ca.pem\n",
	  "[smarthost] tls_ca_file: \"ca.pem\" is not an absolute path" },
	{ H "helo = bad name\n", "[smarthost] helo: \"bad name\" is not a domain name" },
	{ H "timeout = 0\n", "[smarthost] timeout: must be longer than 0" },
	{ H "timeout = 2d\n", "[smarthost] timeout: \"2d\" is too long" },
	{ H "hots = x\n", "[smarthost] hots: unknown key" },
	{ "[smarthost]\nport = 25\n", "[smarthost] host: missing" },
	{ "[smarthost]\nhost = a b\n", "[smarthost] host: \"a b\" is not a host name" },
	{ "", "[smarthost] host: missing" },
	{ "host = x\n[smarthost]\nhost = y\n", "host: key outside any section" },
	{ H "[smtp]\nx = 1\n", "[smtp]: unknown section" },
	{ H "host = other\n", "[smarthost] host: given more than once" },
	{ H "[queue]\nmode = sync\n[smarthost]\nHost = b\n",
	  "[smarthost] host: given more than once" },
	{ H "oops\n", "line 3: syntax error" },
	{ H "[auth\n", "line 3: syntax error" },
	{ H "[auth]\nmechanism = digest-md5\n",
	  "[auth] mechanism: \"digest-md5\" is not one of auto, plain, login" },
	{ H "[auth]\nuser = u\n", "[auth] user: set, but none of password" },
	{ H "[auth]\nuser = u\npassword = p\npassword_command = c\n",
	  "[auth] password: cannot be set together with password_command" },
	{ H "[auth]\npassword = p\n", "[auth] password: set without user" },
	{ H "[auth]\npassword_file = /p\n", "[auth] password_file: set without user" },
	{ H "[auth]\nmechanism = plain\n", "[auth] mechanism: \"plain\" needs user" },
	{ H "[auth]\nmechanism = none\nuser = u\npassword = p\n",
	  "[auth] mechanism: \"none\", but user is set" },
	{ H "[auth]\nuser = u\npassword_file = secret\n",
	  "[auth] password_file: \"secret\" is not an absolute path" },
	{ H "[auth]\nmechanism = xoauth2\nuser = u\noauth2_token_url = http://x/t\n",
	  "[auth] oauth2_token_url: \"http://x/t\" does not start with https://" },
	{ H "[auth]\nuser = u\noauth2_token_url = https://x/t\noauth2_client_id = i\n"
	  "oauth2_refresh_token = r\n",
	  "[auth] mechanism: the oauth2_* keys need mechanism = xoauth2 or oauthbearer" },
	{ H "[auth]\nmechanism = xoauth2\nuser = u\noauth2_token_url = https://x/t\n"
	  "oauth2_client_id = i\noauth2_refresh_token = r\noauth2_client_secret = s\n"
	  "oauth2_client_secret_file = /s\n",
	  "[auth] oauth2_client_secret: cannot be set together with oauth2_client_secret_file" },
	{ H "[auth]\nmechanism = xoauth2\nuser = u\noauth2_token_url = https://x/t\n"
	  "oauth2_client_id = i\n", "[auth] oauth2_refresh_token: missing" },
	{ H "[auth]\nmechanism = xoauth2\nuser = u\noauth2_client_id = i\n"
	  "oauth2_refresh_token = r\n", "[auth] oauth2_token_url: missing" },
	{ H "[auth]\nmechanism = xoauth2\nuser = u\npassword = p\n"
	  "oauth2_refresh_token = r\n",
	  "[auth] password: cannot be combined with the oauth2_* keys" },
	{ H "[sender]\nfrom = -oQ/tmp\n", "[sender] from: \"-oQ/tmp\" is not an e-mail address" },
	{ H "[sender]\ndomain = exa mple.com\n", "[sender] domain: \"exa mple.com\" is not a domain" },
	{ H "[sender]\nrewrite_from = sometimes\n", "[sender] rewrite_from: \"sometimes\" is not yes or no" },
	{ H "[sender]\naliases_file = aliases\n", "[sender] aliases_file: \"aliases\" is not an absolute path" },
	{ H "[aliases]\nroot =\n", "[aliases] root: has no address" },
	{ H "[aliases]\nroot = a@b,,c@d\n", "[aliases] root: has an empty address" },
	{ H "[aliases]\nro/ot = a@b\n", "[aliases] ro/ot: is not a local name" },
	{ H "[queue]\nretry = 1h..5m\n",
	  "[queue] retry: \"1h..5m\": the minimum is larger than the maximum" },
	{ H "[queue]\nretry = soon\n", "[queue] retry: \"soon\" is not a retry range" },
	{ H "[queue]\nretry = 0\n", "[queue] retry: \"0\": the first retry must be later" },
	{ H "[queue]\nmax_age = -1d\n", "[queue] max_age: \"-1d\" is not a duration" },
	{ H "[queue]\ndir = spool\n", "[queue] dir: \"spool\" is not an absolute path" },
	{ H "[queue]\nmode = later\n",
	  "[queue] mode: \"later\" is not one of sync, background, queue" },
	{ H "[log]\nsyslog = 2\n", "[log] syslog: \"2\" is not yes or no" },
	{ H "[log]\nfile = relaymail.log\n", "[log] file: \"relaymail.log\" is not an absolute path" },
	{ H "[log]\nlevel = debug\n", "[log] level: unknown key" },
	{ H "[auth]\nuser = u\npassword_file = /a\npassword_command = c\n",
	  "[auth] password_file: cannot be set together with password_command" },
	{ H "[auth]\nmechanism = xoauth2\nuser = u\noauth2_token_url = https://x/t\n"
	  "oauth2_client_id = i\noauth2_refresh_token = r\noauth2_refresh_token_file = /r\n",
	  "[auth] oauth2_refresh_token: cannot be set together with oauth2_refresh_token_file" },
	{ H "[auth]\noauth2_client_id = i\n", "[auth] oauth2_client_id: set without user" },
	{ H "[auth]\nmechanism = oauthbearer\nuser = u\noauth2_token_url = https://x/t\n"
	  "oauth2_refresh_token = r\n", "[auth] oauth2_client_id: missing" },
	{ H "[aliases]\n-root = a@b\n", "[aliases] -root: is not a local name" },
	{ H "[aliases]\ndefault = a@b,\n", "[aliases] default: has an empty address" },
	{ H "[queue]\nretry = 5m..\n", "[queue] retry: \"5m..\" is not a retry range" },
	{ H "helo = [1.2.3.4\n",
	  "[smarthost] helo: \"[1.2.3.4\" is not a domain name or address literal" },
	{ H "[queue]\nmax_age = 0\n", "[queue] max_age: must be longer than 0" },
	{ H "[queue]\nmax_message_size = 5T\n",
	  "[queue] max_message_size: \"5T\" is not a size (e.g. 0, 512k, 50M, 1G)" },
	{ H "[queue]\nmin_free = 1.5G\n", "[queue] min_free: \"1.5G\" is not a size" },
	{ H "[queue]\nkeep_failed = 30days\n", "[queue] keep_failed: \"30days\" is not a duration" },
	{ "[smarthost]\nhost = smtp.example.com\ntls = none\n[auth]\nuser = u\npassword = p\n",
	  "[smarthost] tls: \"none\": authentication without TLS is only allowed to a loopback" },
	{ "[smarthost]\nhost = 10.0.0.1\ntls = none\n[auth]\nuser = u\npassword = p\n",
	  "[smarthost] tls: \"none\": authentication without TLS" },
	{ "[smarthost]\nhost = 127.0.0.1\ntls = none\nport = 2525\n[auth]\nuser = u\npassword = p\n",
	  "[smarthost] port: 2525: authentication without TLS is only allowed to a port below 1024" },
	{ "[smarthost]\nhost = localhost\ntls = none\nport = 1024\n[auth]\nuser = u\n"
	  "password_command = cat /x\n", "[smarthost] port: 1024: authentication without TLS" },
	{ "[smarthost]\nhost = 128.0.0.1\ntls = none\nport = 25\n[auth]\nuser = u\npassword = p\n",
	  "[smarthost] tls: \"none\": authentication without TLS" },
	{ "[smarthost]\nhost = h\ntls_verify = no\n", "[smarthost] tls_verify: \"no\" without "
	  "tls_fingerprint would trust any certificate: trust a private one with tls_ca_file, "
	  "or pin it with tls_fingerprint" },
};

/* test_bad - each error class: one line, "PATH: [section] key: problem" */
static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		struct conf c;
		char err[512] = "", path[256], want[768], row[512];
		const char *label = row_label(bad_cases[i].ini, row, sizeof row);
		int r = load_text(bad_cases[i].ini, &c, err, sizeof err, path, sizeof path);
		if (r != -1)
			fail_msg("row \"%s\": loaded, expected \"%s\"", label, bad_cases[i].error);
		int n = snprintf(want, sizeof want, "%s: %s", path, bad_cases[i].error);
		assert_true(n > 0 && (size_t)n < sizeof want);
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("row \"%s\":\n got  %s\n want %s", label, err, want);
		if (strchr(err, '\n') != NULL)
			fail_msg("row \"%s\": the error is more than one line", label);
		expect_str(label, "host", c.smarthost.host, NULL);	/* nothing left to free */
		expect_str(label, "path", c.path, NULL);
	}
}

/* test_secret_not_shown - a bad secret is never quoted back */
static void test_secret_not_shown(void **state)
{
	(void)state;
	static const char *const inis[] = {
		H "[auth]\npassword = hunter2secret\n",
		H "[auth]\nuser = u\npassword = hunter2secret\npassword_file = /x\n",
		H "[auth]\nuser = u\npassword = \"hunter2secret\tx\"\n",
		H "[auth]\nuser=u\nmechanism=xoauth2\noauth2_refresh_token=hunter2secret\n",
		H "[auth]\nuser = u\npassword = hunter2secret\n[auth]\npassword = hunter2secret\n",
		H "[auth]\nuser = u\npassword hunter2secret\n",
	};
	for (size_t i = 0; i < sizeof inis / sizeof inis[0]; i++) {
		struct conf c;
		char err[512] = "", path[256], row[512];
		const char *label = row_label(inis[i], row, sizeof row);
		expect_int(label, "load", load_text(inis[i], &c, err, sizeof err, path, sizeof path), -1);
		if (err[0] == '\0')
			fail_msg("row \"%s\": no error", label);
		if (strstr(err, "hunter2") != NULL)
			fail_msg("row \"%s\" shows the secret: %s", label, err);
	}
}

/* test_unreadable - missing file, directory, long line */
static void test_unreadable(void **state)
{
	(void)state;
	struct conf c;
	char err[512] = "";
	assert_int_equal(conf_load("/nonexistent/relaymail.conf", &c, err, sizeof err), -1);
	assert_string_equal(err, "/nonexistent/relaymail.conf: cannot read: "
			    "No such file or directory");
	assert_int_equal(conf_load("/", &c, err, sizeof err), -1);
	assert_string_equal(err, "/: cannot read: Is a directory");

	char text[2100], path[256];
	int n = snprintf(text, sizeof text, H "[auth]\nuser = %02000d\n", 7);
	assert_true(n > 0 && (size_t)n < sizeof text);
	assert_int_equal(load_text(text, &c, err, sizeof err, path, sizeof path), -1);
	assert_non_null(strstr(err, ": line 4: line too long"));
}

/* test_shipped_example - config/relaymail.conf loads as shipped */
static void test_shipped_example(void **state)
{
	(void)state;
	const char *path = getenv("RELAYMAIL_EXAMPLE_CONF");
	struct conf c;
	char err[512] = "";
	if (path == NULL)
		path = "config/relaymail.conf";
	if (conf_load(path, &c, err, sizeof err) != 0)
		fail_msg("%s", err);
	assert_string_equal(c.smarthost.host, "smtp.example.com");
	assert_int_equal(c.smarthost.port, 587);
	assert_int_equal(c.smarthost.tls, CONF_TLS_STARTTLS);
	assert_null(c.auth.user);
	assert_string_equal(c.sender.aliases_file, "/etc/aliases");
	assert_string_equal(c.aliases.default_target, "");
	assert_int_equal(c.queue.retry_min, 300);
	assert_int_equal(c.queue.retry_max, 3600);
	conf_free(&c);
}

struct duration_case {
	const char *text;
	int result;
	unsigned seconds;
};

/* test_durations - units, limits and malformed values */
static void test_durations(void **state)
{
	(void)state;
	static const struct duration_case cases[] = {
		{ "0", 0, 0 }, { "90", 0, 90 }, { "90s", 0, 90 }, { "10m", 0, 600 },
		{ "1h", 0, 3600 }, { "5d", 0, 432000 }, { "2w", 0, 1209600 },
		{ "4294967295", 0, 4294967295u }, { "4294967296", -1, 0 },
		{ "7101w", 0, 7101u * 604800u }, { "7102w", -1, 0 },
		{ "99999999999999999999999", -1, 0 }, { "", -1, 0 }, { "s", -1, 0 },
		{ "-5", -1, 0 }, { "+5", -1, 0 }, { " 5", -1, 0 }, { "5 m", -1, 0 },
		{ "5mm", -1, 0 }, { "5M", -1, 0 }, { "5y", -1, 0 }, { "1.5h", -1, 0 },
		{ "1h30m", -1, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unsigned v = 12345;
		int r = conf_parse_duration(cases[i].text, &v);
		if (r != cases[i].result)
			fail_msg("\"%s\": result %d", cases[i].text, r);
		if (r == 0 && v != cases[i].seconds)
			fail_msg("\"%s\": %u seconds", cases[i].text, v);
	}
}

struct size_case {
	const char *text;
	int result;
	unsigned long long bytes;
};

/* test_sizes - 1024-based units and overflow */
static void test_sizes(void **state)
{
	(void)state;
	static const struct size_case cases[] = {
		{ "0", 0, 0 }, { "1000", 0, 1000 }, { "10k", 0, 10240 },
		{ "10K", 0, 10240 }, { "20M", 0, 20971520 }, { "20m", 0, 20971520 },
		{ "1G", 0, 1073741824 }, { "7b", 0, 7 },
		{ "18446744073709551615", 0, 18446744073709551615ull },
		{ "18446744073709551616", -1, 0 }, { "17179869183G", 0, 17179869183ull << 30 },
		{ "17179869184G", -1, 0 }, { "", -1, 0 }, { "k", -1, 0 }, { "-1k", -1, 0 },
		{ "1T", -1, 0 }, { "1kb", -1, 0 }, { "1 k", -1, 0 }, { "0x10", -1, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unsigned long long v = 12345;
		int r = conf_parse_size(cases[i].text, &v);
		if (r != cases[i].result)
			fail_msg("\"%s\": result %d", cases[i].text, r);
		if (r == 0 && v != cases[i].bytes)
			fail_msg("\"%s\": %llu bytes", cases[i].text, v);
	}
}

struct fp_case {
	const char *text;
	const char *stored;	/* NULL: refused */
};

/* test_fingerprints - colons removed, lower case, exactly 64 hex digits */
static void test_fingerprints(void **state)
{
	(void)state;
	static const struct fp_case cases[] = {
		{ FP_UPPER, FP_LOWER },
		{ FP_LOWER, FP_LOWER },
		{ "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789",
		  FP_LOWER },
		{ "::" FP_LOWER "::", FP_LOWER },
		{ "abcdef0123456789abcdef0123456789abcdef0123456789abcdef012345678", NULL },
		{ "gbcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", NULL },
		{ "abcdef01 23456789abcdef0123456789abcdef0123456789abcdef0123456789", NULL },
		{ "SHA256:" FP_LOWER, NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char ini[512], err[512] = "", path[256];
		struct conf c;
		int n = snprintf(ini, sizeof ini, H "tls_fingerprint = %s\n", cases[i].text);
		assert_true(n > 0 && (size_t)n < sizeof ini);
		int r = load_text(ini, &c, err, sizeof err, path, sizeof path);
		if (cases[i].stored == NULL) {
			if (r != -1)
				fail_msg("\"%s\" accepted", cases[i].text);
			if (strstr(err, "is not a SHA-256 fingerprint") == NULL)
				fail_msg("\"%s\": %s", cases[i].text, err);
			continue;
		}
		if (r != 0)
			fail_msg("\"%s\": %s", cases[i].text, err);
		expect_str(cases[i].text, "tls_fingerprint", c.smarthost.tls_fingerprint,
			   cases[i].stored);
		conf_free(&c);
	}
}

struct tls_case {
	const char *ini;
	const char *min_version, *ciphers, *ciphersuites;	/* NULL: the default */
};

/* test_tls_settings - tls_min_version, tls_ciphers, tls_ciphersuites as given */
static void test_tls_settings(void **state)
{
	(void)state;
	static const struct tls_case cases[] = {
		{ H "tls_min_version = 1.2\n", "1.2", NULL, NULL },
		{ H "tls_min_version = 1.3\n", "1.3", NULL, NULL },
		{ H "tls_min_version =\n", NULL, NULL, NULL },
		{ H "tls_ciphers = HIGH:!aNULL:!MD5\n", NULL, "HIGH:!aNULL:!MD5", NULL },
		{ H "tls_ciphers = ECDHE-RSA-AES256-GCM-SHA384\n", NULL,
		  "ECDHE-RSA-AES256-GCM-SHA384", NULL },
		{ H "tls_ciphersuites = TLS_AES_256_GCM_SHA384\n", NULL, NULL,
		  "TLS_AES_256_GCM_SHA384" },
		{ H "tls_ciphersuites = TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256\n"
		  "tls_min_version = 1.3\n", "1.3", NULL,
		  "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct conf c;
		char err[512] = "", path[256], row[512];
		const char *label = row_label(cases[i].ini, row, sizeof row);
		if (load_text(cases[i].ini, &c, err, sizeof err, path, sizeof path) != 0)
			fail_msg("row \"%s\": %s", label, err);
		expect_str(label, "tls_min_version", c.smarthost.tls_min_version,
			   cases[i].min_version);
		expect_str(label, "tls_ciphers", c.smarthost.tls_ciphers, cases[i].ciphers);
		expect_str(label, "tls_ciphersuites", c.smarthost.tls_ciphersuites,
			   cases[i].ciphersuites);
		conf_free(&c);
	}
}

/* test_mech_names - every mechanism has its configuration spelling */
static void test_mech_names(void **state)
{
	(void)state;
	static const struct {
		enum conf_mech m;
		const char *name;
	} cases[] = {
		{ CONF_MECH_AUTO, "auto" }, { CONF_MECH_NONE, "none" },
		{ CONF_MECH_LOGIN, "login" }, { CONF_MECH_PLAIN, "plain" },
		{ CONF_MECH_CRAM_MD5, "cram-md5" },
		{ CONF_MECH_SCRAM_SHA_256, "scram-sha-256" },
		{ CONF_MECH_XOAUTH2, "xoauth2" }, { CONF_MECH_OAUTHBEARER, "oauthbearer" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_str(cases[i].name, "conf_mech_name", conf_mech_name(cases[i].m), cases[i].name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_secret_not_shown),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_shipped_example),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_fingerprints),
		cmocka_unit_test(test_mech_names),
		cmocka_unit_test(test_tls_settings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
