/* test_import - the --import parsers, table driven: configuration text in, relaymail settings out */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "import_parse.h"
#include "row_label.h"

enum format { MSMTP, SSMTP, SSMTP_REV, NULLMAILER, DMA, DMA_AUTH, POSTFIX, POSTFIX_SASL };

struct import_case {
	enum format format;
	const char *select;	/* msmtp account, nullmailer file name */
	const char *text;
	int rc;
	const char *expect;	/* "|key=value|" items that the rendered result must hold, ' ' separated */
	const char *note;	/* a substring of the notes, or NULL for no note at all */
};

static const struct import_case cases[] = {
	/* msmtp: defaults, inheritance, the default account, quoting, secrets */
	{ MSMTP, NULL, "defaults\ntls on\nauth on\n\naccount a\nhost h.example\nport 465\ntls_starttls off\n"
	  "user u\npasswordeval \"pass show mail\"\n\naccount default : a\nfrom me@example.org\n", 0,
	  "host=h.example port=465 tls=2 user=u cmd=pass_show_mail from=me@example.org mech=auto", "passwordeval" },
	{ MSMTP, "b", "account a\nhost a.example\nuser ua\ntls on\naccount b : a\nhost b.example\npassword x\n", 0,
	  "host=b.example user=ua secret=msmtp's_password tls=1", NULL },
	{ MSMTP, NULL, "account default\nhost h\ntls on\ntls_trust_file system\ntls_certcheck off\n", 0,
	  "host=h tls=1 verify=-1", "tls_certcheck off" },
	{ MSMTP, NULL, "account default\nhost h\ntls off\nauth cram-md5\nuser u\n", 0, "tls=3 mech=cram-md5", NULL },
	{ MSMTP, NULL, "account default\nhost h\nauth gssapi\ndomain helo.example\nmaildomain example.net\n", 0,
	  "mech=auto helo=helo.example domain=example.net", "auth gssapi" },
	{ MSMTP, NULL, "account default\nhost h\nfrom %U@example.com\nallow_from_override off\n", 0,
	  "domain=example.com override=0", NULL },
	{ MSMTP, NULL, "account default\nhost h\naliases ~/aliases\nlogfile /var/log/msmtp\nsyslog LOG_MAIL\n", 0,
	  "aliases=/home/t/aliases log=/var/log/msmtp syslog=1", NULL },
	{ MSMTP, NULL, "account default\nhost h\ntls_crl_file /x\n", 0, "host=h", "tls_crl_file" },
	{ MSMTP, NULL, "account other\nhost h\n", -1, "", NULL },
	{ MSMTP, NULL, "account a : b\nhost h\naccount b : a\naccount default : a\n", -1, "", NULL },
	{ MSMTP, NULL, "account default\nhost h\nport 0\n", -1, "", NULL },
	/* ssmtp: Key=Value in any case; UseSTARTTLS wins; AuthPass is not copied */
	{ SSMTP, NULL, "root=postmaster\nmailhub=mail\nrewriteDomain=example.org\nhostname=box.example.org\n"
	  "#FromLineOverride=YES\n", 0,
	  "host=mail tls=3 alias=root:postmaster domain=example.org helo=box.example.org override=0", NULL },
	{ SSMTP, NULL, "mailhub=smtp.example.com:587\nUseSTARTTLS=YES\nUseTLS=YES\nAuthUser=u\nAuthPass=p\n"
	  "AuthMethod=CRAM-MD5\nFromLineOverride=YES\n", 0,
	  "host=smtp.example.com port=587 tls=1 user=u secret=ssmtp's_AuthPass mech=cram-md5 override=1",
	  "not verified" },
	{ SSMTP, NULL, "mailhub=smtp.example.com:465\nUseTLS=YES\nTLSCert=/c.pem\nDebug=YES\n", 0,
	  "tls=2 cert=/c.pem key=/c.pem", "Debug" },
	{ SSMTP, NULL, "root=postmaster\n", -1, "", NULL },
	{ SSMTP, NULL, "mailhub smtp.example.com\n", -1, "", NULL },
	{ SSMTP_REV, NULL, "# sSMTP aliases\nroot:admin@example.org:smtp.example.org:587\n", 0, "", "root's sender" },
	/* nullmailer: one file at a time */
	{ NULLMAILER, "remotes", "# comment\nsmtp.example.com smtp --port=587 --starttls --user=u --pass=p\n"
	  "backup.example.com smtp\n", 0, "host=smtp.example.com port=587 tls=1 user=u secret=nullmailer's_remotes_(--pass)",
	  "backup.example.com" },
	{ NULLMAILER, "remotes", "relay.example.com smtp --ssl --auth-login --x509cafile=/ca.pem --insecure\n", 0,
	  "tls=2 mech=login ca=/ca.pem", "--insecure" },
	{ NULLMAILER, "remotes", "relay.example.com\n", 0, "host=relay.example.com tls=3", NULL },
	{ NULLMAILER, "remotes", "relay.example.com qmqp\n", -1, "", NULL },
	{ NULLMAILER, "remotes", "# nothing\n", -1, "", NULL },
	{ NULLMAILER, "adminaddr", "admin@example.org\n", 0, "alias=default:admin@example.org", NULL },
	{ NULLMAILER, "adminaddr", "", 0, "", NULL },
	{ NULLMAILER, "defaultdomain", "example.org\n", 0, "domain=example.org", NULL },
	{ NULLMAILER, "me", "box.example.org\n", 0, "helo=box.example.org", NULL },
	{ NULLMAILER, "allmailfrom", "robot@example.org\n", 0, "from=robot@example.org override=0", NULL },
	{ NULLMAILER, "pausetime", "60\n", 0, "", "pausetime" },
	/* dma */
	{ DMA, NULL, "SMARTHOST mail.example.com\nPORT 587\nSECURETRANSFER\nSTARTTLS\nAUTHPATH /etc/dma/auth.conf\n"
	  "MAILNAME /etc/mailname\nNULLCLIENT\n", 0,
	  "host=mail.example.com port=587 tls=1 aux=/etc/dma/auth.conf domainfile=/etc/mailname", NULL },
	{ DMA, NULL, "SMARTHOST mail.example.com\nSECURETRANSFER\nCERTFILE /k.pem\nMASQUERADE example.net\nDEFER\n"
	  "OPPORTUNISTIC_TLS\n", 0, "port=25 tls=2 cert=/k.pem key=/k.pem domain=example.net mode=queue",
	  "OPPORTUNISTIC_TLS" },
	{ DMA, NULL, "SMARTHOST h\nMASQUERADE robot@example.net\n", 0, "tls=3 from=robot@example.net override=0", NULL },
	{ DMA, NULL, "MAILNAME /etc/mailname\n", -1, "", NULL },
	/* postfix main.cf */
	{ POSTFIX, NULL, "relayhost = [smtp.example.com]:587\nsmtp_tls_security_level = secure\n"
	  "smtp_sasl_auth_enable = yes\nsmtp_sasl_password_maps = hash:/etc/postfix/sasl_passwd\n"
	  "myorigin = example.org\nsmtp_tls_CAfile = /etc/ssl/ca.pem\n", 0,
	  "host=smtp.example.com port=587 tls=1 aux=/etc/postfix/sasl_passwd domain=example.org ca=/etc/ssl/ca.pem",
	  NULL },
	{ POSTFIX, NULL, "relayhost = smtp.example.com\nsmtp_tls_security_level = may\nmydomain = example.net\n"
	  "myorigin = $mydomain\nsmtpd_banner = $myhostname ESMTP\n  continued\n", 0,
	  "host=smtp.example.com port=25 tls=1 domain=example.net", "smtpd_banner" },
	{ POSTFIX, NULL, "relayhost = [mail.example.com]:465\nsmtp_tls_wrappermode = yes\n"
	  "smtp_tls_security_level = encrypt\nmyorigin = /etc/mailname\n", 0,
	  "port=465 tls=2 domainfile=/etc/mailname", "encrypt" },
	{ POSTFIX, NULL, "relayhost =\nmyorigin = /etc/mailname\n", -1, "", NULL },
	{ POSTFIX, NULL, "relayhost = [h\n", -1, "", NULL },
	{ POSTFIX, NULL, "relayhost = h\nsmtp_sasl_auth_enable = yes\nsmtp_sasl_password_maps = mysql:/x.cf\n"
	  "smtp_sasl_password_maps = ldap:x\n", -1, "", NULL },
	{ POSTFIX, NULL, "not an assignment\n", -1, "", NULL },
};

/* sasl/auth files: the host was set by the main file */
static const struct import_case aux_cases[] = {
	{ DMA_AUTH, NULL, "# Format: user|my.smarthost.example.com:password\nother|x.example:p\n"
	  "me@example.com|mail.example.com:secret\n", 0, "user=me@example.com secret=dma's_auth.conf", NULL },
	{ DMA_AUTH, NULL, "other|x.example:p\n", 0, "", "no line for mail.example.com" },
	{ DMA_AUTH, NULL, "no separator here\n", -1, "", NULL },
	{ POSTFIX_SASL, NULL, "[mail.example.com]:587 user@example.com:s3cret\n", 0,
	  "user=user@example.com secret=Postfix's_SASL_password_file", NULL },
	{ POSTFIX_SASL, NULL, "mail.example.com   u:p\n", 0, "user=u", NULL },
	{ POSTFIX_SASL, NULL, "[mail.example.com]:587 nopassword\n", -1, "", NULL },
};

/* spaces - the test's notation: '_' in expected values stands for a space */
static void underscores(char *s)
{
	for (; *s; s++)
		if (*s == ' ')
			*s = '_';
}

/* render - the fields that are set, as "|key=value|" items */
static void render(const struct import *im, char *out, size_t n)
{
	char cmd[IMPORT_VALUE_MAX], secret[IMPORT_VALUE_MAX];
	snprintf(cmd, sizeof cmd, "%s", im->password_command);
	snprintf(secret, sizeof secret, "%s", im->secret_from);
	underscores(cmd);
	underscores(secret);
	int len = snprintf(out, n, "|host=%s|port=%u|tls=%d|verify=%d|ca=%s|cert=%s|key=%s|helo=%s|mech=%s|user=%s"
			   "|cmd=%s|secret=%s|domain=%s|domainfile=%s|from=%s|override=%d|aliases=%s|log=%s"
			   "|syslog=%d|mode=%s|aux=%s|",
			   im->host, im->port, (int)im->tls, im->tls_verify, im->tls_ca_file, im->tls_cert_file,
			   im->tls_key_file, im->helo, im->mechanism, im->user, cmd, secret, im->domain,
			   im->domain_file, im->from, im->allow_from_override, im->aliases_file, im->log_file,
			   im->syslog, im->mode, im->aux_path);
	for (size_t i = 0; i < im->nalias && len > 0 && (size_t)len < n; i++)
		len += snprintf(out + len, n - (size_t)len, "alias=%s:%s|", im->alias[i].name, im->alias[i].value);
}

/* run - one case through its parser */
static int run(struct import *im, const struct import_case *c)
{
	switch (c->format) {
	case MSMTP:
		return import_msmtp(im, c->text, c->select);
	case SSMTP:
		return import_ssmtp(im, c->text);
	case SSMTP_REV:
		return import_ssmtp_revaliases(im, c->text);
	case NULLMAILER:
		return import_nullmailer(im, c->select, c->text);
	case DMA:
		return import_dma(im, c->text);
	case DMA_AUTH:
		return import_dma_auth(im, c->text);
	case POSTFIX:
		return import_postfix(im, c->text);
	case POSTFIX_SASL:
		return import_postfix_sasl(im, c->text);
	}
	return -2;
}

/* check - rc, every expected item, the note; a failed parse says why */
static void check(const struct import_case *c, size_t i, const char *host)
{
	struct import im;
	char got[8192], want[600];
	import_init(&im, "/home/t");
	if (host != NULL)
		snprintf(im.host, sizeof im.host, "%s", host);
	int rc = run(&im, c);
	render(&im, got, sizeof got);
	if (rc != c->rc)
		fail_msg("case %zu: rc %d, expected %d (%s) %s", i, rc, c->rc, im.error, got);
	if (rc < 0 && im.error[0] == '\0')
		fail_msg("case %zu: failed without saying why", i);
	char items[512];
	snprintf(items, sizeof items, "%s", c->expect);
	for (char *p = items; *p != '\0';) {
		char *sp = strchr(p, ' ');
		if (sp != NULL)
			*sp = '\0';
		snprintf(want, sizeof want, "|%s|", p);
		if (strstr(got, want) == NULL)
			fail_msg("case %zu: %s not in %s", i, want, got);
		p = sp != NULL ? sp + 1 : p + strlen(p);
	}
	const char *notes = buf_cstr(&im.notes);
	if (c->note == NULL && rc == 0 && notes[0] != '\0')
		fail_msg("case %zu: unexpected note: %s", i, notes);
	if (c->note != NULL && strstr(notes, c->note) == NULL)
		fail_msg("case %zu: note \"%s\" missing in: %s", i, c->note, notes);
	import_free(&im);
}

/* test_parsers - every case of the main files */
static void test_parsers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		row_label("test_parsers: cases[%zu]", i);
		check(&cases[i], i, NULL);
	}
	row_label_done();
}

/* test_aux_files - dma's auth.conf and Postfix's SASL password file, for mail.example.com */
static void test_aux_files(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof aux_cases / sizeof aux_cases[0]; i++) {
		row_label("test_aux_files: aux_cases[%zu]", i);
		check(&aux_cases[i], i, "mail.example.com");
	}
	row_label_done();
}

/* test_no_secret_in_notes - a password never reaches the notes or the error */
static void test_no_secret_in_notes(void **state)
{
	static const struct import_case secrets[] = {
		{ NULLMAILER, "remotes", "h smtp --pass=TOPSECRET --bogus=TOPSECRET\nh2 smtp --pass=TOPSECRET\n", 0, "", "" },
		{ SSMTP, NULL, "mailhub=h\nAuthPass=TOPSECRET\nUnknownKey=TOPSECRET\n", 0, "", "" },
		{ DMA_AUTH, NULL, "u|other:TOPSECRET\n", 0, "", "" },
		{ SSMTP, NULL, "mailhub=h\nAuthPass TOPSECRET\n", -1, "", NULL },
		{ DMA_AUTH, NULL, "u:TOPSECRET\n", -1, "", NULL },
		{ POSTFIX_SASL, NULL, "other u:TOPSECRET\nbroken TOPSECRET\n", -1, "", NULL },
	};
	(void)state;
	for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
		row_label("test_no_secret_in_notes: secrets[%zu]", i);
		struct import im;
		import_init(&im, NULL);
		snprintf(im.host, sizeof im.host, "mail.example.com");
		assert_int_equal(run(&im, &secrets[i]), secrets[i].rc);
		assert_null(strstr(buf_cstr(&im.notes), "TOPSECRET"));
		assert_null(strstr(im.error, "TOPSECRET"));
		import_free(&im);
	}
	row_label_done();
}

/* test_helpers - host:port forms, booleans, over-long values */
static void test_helpers(void **state)
{
	static const struct { const char *in; int rc; const char *host; unsigned port; } hp[] = {
		{ "h.example", 0, "h.example", 0 }, { "h.example:587", 0, "h.example", 587 },
		{ "[h.example]", 0, "h.example", 0 }, { "[h.example]:465", 0, "h.example", 465 },
		{ "[h.example]x", -1, "", 0 }, { "h:99999", -1, "", 0 }, { ":25", -1, "", 0 },
		{ "h h", -1, "", 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof hp / sizeof hp[0]; i++) {
		row_label("test_helpers: hp[%zu]", i);
		struct import im;
		import_init(&im, NULL);
		assert_int_equal(import_host_port(&im, "t", hp[i].in), hp[i].rc);
		if (hp[i].rc == 0) {
			assert_string_equal(im.host, hp[i].host);
			assert_int_equal(im.port, hp[i].port);
		}
		import_free(&im);
	}
	row_label_done();
	assert_int_equal(import_yes("YES"), 1);
	assert_int_equal(import_yes("off"), 0);
	assert_int_equal(import_yes("maybe"), -1);
	struct import im;
	char big[300];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	import_init(&im, NULL);
	assert_int_equal(import_set(&im, im.host, sizeof im.host, "host", big), -1);
	assert_non_null(strstr(im.error, "too long"));
	import_free(&im);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_parsers, row_label_report),
		cmocka_unit_test_teardown(test_aux_files, row_label_report),
		cmocka_unit_test_teardown(test_no_secret_in_notes, row_label_report),
		cmocka_unit_test_teardown(test_helpers, row_label_report),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
