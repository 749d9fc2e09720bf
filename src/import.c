/* import - --import: files in, relaymail.conf out; see import.h */
#include "import.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "import_parse.h"

/* read_text - a whole (small) configuration file into text; 0, or an outcome with err */
static enum import_outcome read_text(const char *path, struct buf *text, char *err, size_t errlen)
{
	char chunk[4096];
	ssize_t n;
	int fd = open_regular(path, NULL);
	if (fd == -2) {
		(void)buf_error(err, errlen, "%s is not a regular file", path);
		return IMPORT_NO_INPUT;
	}
	if (fd < 0) {
		(void)buf_error(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return IMPORT_NO_INPUT;
	}
	buf_init(text, IMPORT_TEXT_MAX);
	while ((n = read(fd, chunk, sizeof chunk)) > 0) {
		if (buf_append(text, chunk, (size_t)n) < 0) {
			close(fd);
			(void)buf_error(err, errlen, "%s is bigger than %d bytes", path, IMPORT_TEXT_MAX);
			return IMPORT_UNUSABLE;
		}
	}
	wipe_memory(chunk, sizeof chunk);
	close(fd);
	if (n < 0) {
		(void)buf_error(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return IMPORT_NO_INPUT;
	}
	if (memchr(buf_cstr(text), '\0', text->len) != NULL) {
		(void)buf_error(err, errlen, "%s holds a NUL byte: not a configuration file", path);
		return IMPORT_UNUSABLE;
	}
	return IMPORT_DONE;
}

/* the parsers that take one file's text */
typedef int (*import_text_fn)(struct import *im, const char *text);

/*
 * parse_file - read path and hand it to parse (text wiped afterwards: it may
 * hold a password); optional: a missing file is no error
 */
static enum import_outcome parse_file(struct import *im, const char *path, import_text_fn parse,
				      bool optional, char *err, size_t errlen)
{
	struct buf text;
	if (optional && access(path, F_OK) < 0 && errno == ENOENT)
		return IMPORT_DONE;
	if (im->source[0] == '\0')
		(void)snprintf(im->source, sizeof im->source, "%s", path);
	enum import_outcome r = read_text(path, &text, err, errlen);
	if (r == IMPORT_DONE && parse(im, buf_cstr(&text)) < 0) {
		(void)buf_error(err, errlen, "%s: %s", path, im->error);
		r = IMPORT_UNUSABLE;
	}
	if (r != IMPORT_NO_INPUT)
		buf_wipe(&text);
	return r;
}

/* sibling - the file name beside path: dir(path)/name */
static int sibling(const char *path, const char *name, char *out, size_t n)
{
	const char *slash = strrchr(path, '/');
	int dir = slash != NULL ? (int)(slash - path) : 1;
	int r = snprintf(out, n, "%.*s/%s", dir, slash != NULL ? path : ".", name);
	return r < 0 || (size_t)r >= n ? -1 : 0;
}

/* msmtp_text - import_msmtp with the account of the format name */
static int msmtp_text(struct import *im, const char *text)
{
	if (import_msmtp(im, text, im->select) < 0)
		return -1;
	return im->host[0] != '\0' ? 0 : import_fail(im, "msmtp: the account has no host");
}

/* from_msmtp - ~/.msmtprc, else /etc/msmtprc */
static enum import_outcome from_msmtp(struct import *im, const char *file, char *err, size_t errlen)
{
	char path[IMPORT_VALUE_MAX];
	if (file == NULL && im->home != NULL && snprintf(path, sizeof path, "%s/.msmtprc", im->home) <
	    (int)sizeof path && access(path, F_OK) == 0)
		file = path;
	return parse_file(im, file != NULL ? file : "/etc/msmtprc", msmtp_text, false, err, errlen);
}

/* from_ssmtp - ssmtp.conf, then the revaliases file beside it */
static enum import_outcome from_ssmtp(struct import *im, const char *file, char *err, size_t errlen)
{
	char rev[IMPORT_VALUE_MAX];
	const char *conf = file != NULL ? file : "/etc/ssmtp/ssmtp.conf";
	enum import_outcome r = parse_file(im, conf, import_ssmtp, false, err, errlen);
	if (r != IMPORT_DONE)
		return r;
	if (sibling(conf, "revaliases", rev, sizeof rev) < 0)
		return IMPORT_DONE;
	return parse_file(im, rev, import_ssmtp_revaliases, true, err, errlen);
}

/* nullmailer_text - import_nullmailer for the file being read */
static int nullmailer_text(struct import *im, const char *text)
{
	return import_nullmailer(im, im->select, text);
}

/* from_nullmailer - the files of the directory, defaultdomain before defaulthost */
static enum import_outcome from_nullmailer(struct import *im, const char *file, char *err, size_t errlen)
{
	static const char *const names[] = { "defaultdomain", "defaulthost", "helohost", "me", "adminaddr",
					     "allmailfrom", "idhost", "pausetime", "sendtimeout", "maxpause",
					     "remotes" };
	const char *dir = file != NULL ? file : "/etc/nullmailer";
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		(void)buf_error(err, errlen, "%s: %s", dir, errno != 0 && stat(dir, &st) < 0 ? strerror(errno) :
				"not a directory (nullmailer's configuration is a directory)");
		return IMPORT_NO_INPUT;
	}
	(void)snprintf(im->source, sizeof im->source, "%s", dir);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char path[IMPORT_VALUE_MAX];
		if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path) {
			(void)buf_error(err, errlen, "%s: name too long", dir);
			return IMPORT_NO_INPUT;
		}
		im->select = names[i];
		bool required = strcmp(names[i], "remotes") == 0;
		enum import_outcome r = parse_file(im, path, nullmailer_text, !required, err, errlen);
		if (r != IMPORT_DONE)
			return r;
	}
	return IMPORT_DONE;
}

/* from_two - a main file whose parser may name a second one (aux_path): dma, Postfix */
static enum import_outcome from_two(struct import *im, const char *conf, import_text_fn main_fn,
				    import_text_fn aux_fn, char *err, size_t errlen)
{
	enum import_outcome r = parse_file(im, conf, main_fn, false, err, errlen);
	if (r != IMPORT_DONE || im->aux_path[0] == '\0')
		return r;
	char aux[IMPORT_VALUE_MAX];
	memcpy(aux, im->aux_path, sizeof aux);
	return parse_file(im, aux, aux_fn, false, err, errlen);
}

/* from_dma - dma.conf and its AUTHPATH */
static enum import_outcome from_dma(struct import *im, const char *file, char *err, size_t errlen)
{
	return from_two(im, file != NULL ? file : "/etc/dma/dma.conf", import_dma, import_dma_auth, err, errlen);
}

/* from_postfix - main.cf and the source file of smtp_sasl_password_maps */
static enum import_outcome from_postfix(struct import *im, const char *file, char *err, size_t errlen)
{
	return from_two(im, file != NULL ? file : "/etc/postfix/main.cf", import_postfix, import_postfix_sasl,
			err, errlen);
}

/* put - "key = value", quoted when iniparser would read part of it as a comment */
static void put(FILE *out, const char *key, const char *value)
{
	if (value[0] == '\0')
		return;
	if (strpbrk(value, ";#\"") != NULL || value[0] == ' ' || value[strlen(value) - 1] == ' ')
		fprintf(out, "%s = \"%s\"\n", key, value);
	else
		fprintf(out, "%s = %s\n", key, value);
}

/* settle - what relaymail's own checks would refuse, made acceptable (each with a note) */
static void settle(struct import *im, const char *format)
{
	bool auth = im->user[0] != '\0' && strcmp(im->mechanism, "none") != 0;
	if (im->user[0] != '\0' && !auth)
		im->user[0] = '\0';
	/* relaymail's own rule, at relaymail's default port for tls = none */
	if (auth && im->tls == IMPORT_TLS_NONE &&
	    !conf_clear_auth_allowed(im->host, im->port != 0 ? im->port : 25)) {
		import_note(im, "%s: the password went without TLS; relaymail sends it only after STARTTLS: "
			    "tls = starttls", format);
		im->tls = IMPORT_TLS_STARTTLS;
	}
	if (auth && im->secret_from[0] == '\0' && im->password_command[0] == '\0')
		(void)snprintf(im->secret_from, sizeof im->secret_from, "not in %s's configuration", format);
	if (auth && im->password_command[0] == '\0')
		import_note(im, "%s: the password (%s) is not copied: write it as the only line of %s "
			    "(root:relaymail 0640)", format, im->secret_from, IMPORT_SECRET_FILE);
	if (!auth && (im->secret_from[0] != '\0' || im->password_command[0] != '\0')) {
		import_note(im, "%s: a password without a user does not carry over", format);
		im->secret_from[0] = im->password_command[0] = '\0';
	}
	if ((im->tls_cert_file[0] == '\0') != (im->tls_key_file[0] == '\0')) {
		import_note(im, "%s: a client certificate without its key (or the reverse) does not carry over", format);
		im->tls_cert_file[0] = im->tls_key_file[0] = '\0';
	}
}

/* print_auth - [auth]; a password is never printed, only where it must go */
static void print_auth(const struct import *im, FILE *out)
{
	if (im->user[0] == '\0')
		return;
	fputs("\n[auth]\n", out);
	put(out, "mechanism", im->mechanism);
	put(out, "user", im->user);
	if (im->password_command[0] != '\0') {
		put(out, "password_command", im->password_command);
		return;
	}
	fprintf(out, "; the password (%s) is not copied: write it as the only line of\n"
		"; %s (root:relaymail 0640), or use password_command\n", im->secret_from, IMPORT_SECRET_FILE);
	put(out, "password_file", IMPORT_SECRET_FILE);
}

/* print_conf - the settings that are set, section by section */
static void print_conf(const struct import *im, FILE *out, const char *format, const char *from)
{
	static const char *const tls[] = { "", "starttls", "tls", "none" };
	char port[16] = "";
	fprintf(out, "; relaymail.conf made by sendmail --import=%s from %s\n; check it: sendmail -C FILE --check\n",
		format, from);
	fputs("\n[smarthost]\n", out);
	put(out, "host", im->host);
	if (im->port != 0)
		(void)snprintf(port, sizeof port, "%u", im->port);
	put(out, "port", port);
	put(out, "tls", tls[im->tls]);
	put(out, "tls_verify", im->tls_verify == 0 ? "no" : "");
	put(out, "tls_ca_file", im->tls_ca_file);
	put(out, "tls_fingerprint", im->tls_fingerprint);
	put(out, "tls_cert_file", im->tls_cert_file);
	put(out, "tls_key_file", im->tls_key_file);
	put(out, "helo", im->helo);
	put(out, "timeout", im->timeout);
	print_auth(im, out);
	if (im->domain[0] || im->from[0] || im->allow_from_override >= 0 || im->aliases_file[0]) {
		fputs("\n[sender]\n", out);
		put(out, "domain", im->domain);
		put(out, "from", im->from);
		put(out, "allow_from_override", im->allow_from_override < 0 ? "" :
		    im->allow_from_override ? "yes" : "no");
		put(out, "aliases_file", im->aliases_file);
	}
	if (im->nalias > 0)
		fputs("\n[aliases]\n", out);
	for (size_t i = 0; i < im->nalias; i++)
		put(out, im->alias[i].name, im->alias[i].value);
	if (im->mode[0] != '\0')
		fprintf(out, "\n[queue]\nmode = %s\n", im->mode);
	if (im->syslog >= 0 || im->log_file[0] != '\0') {
		fputs("\n[log]\n", out);
		put(out, "syslog", im->syslog < 0 ? "" : im->syslog ? "yes" : "no");
		put(out, "file", im->log_file);
	}
}

/* domain_line - [sender] domain from the first line of a file such as /etc/mailname */
static int domain_line(struct import *im, const char *text)
{
	char line[256];
	if (import_line(im, &text, line, sizeof line) != 0 || line[0] == '\0')
		return import_fail(im, "no domain on its first line");
	return import_set(im, im->domain, sizeof im->domain, "domain", line);
}

/* import_run - dispatch on the format name, read, settle, print */
enum import_outcome import_run(const char *format, const char *file, FILE *out, FILE *notes,
			       char *err, size_t errlen)
{
	static const struct {
		const char *name;
		enum import_outcome (*read)(struct import *im, const char *file, char *err, size_t errlen);
	} formats[] = {
		{ "msmtp", from_msmtp }, { "ssmtp", from_ssmtp }, { "nullmailer", from_nullmailer },
		{ "dma", from_dma }, { "postfix", from_postfix },
	};
	struct import im;
	const struct passwd *pw = getpwuid(getuid());
	size_t len = strcspn(format, ":");
	size_t i = 0;
	while (i < sizeof formats / sizeof formats[0] &&
	       (strlen(formats[i].name) != len || strncmp(format, formats[i].name, len) != 0))
		i++;
	if (i == sizeof formats / sizeof formats[0] || (format[len] == ':' && (i != 0 || format[len + 1] == '\0'))) {
		(void)buf_error(err, errlen, "unknown import format \"%s\" (msmtp[:ACCOUNT], ssmtp, nullmailer, "
				"dma or postfix)", format);
		return IMPORT_BAD_FORMAT;
	}
	import_init(&im, pw != NULL ? pw->pw_dir : NULL);
	im.select = format[len] == ':' ? format + len + 1 : NULL;
	enum import_outcome r = formats[i].read(&im, file, err, errlen);
	if (r == IMPORT_DONE && im.domain_file[0] != '\0' &&
	    parse_file(&im, im.domain_file, domain_line, false, err, errlen) != IMPORT_DONE) {
		import_note(&im, "%s: the domain is in %s, which cannot be read: set [sender] domain",
			    formats[i].name, im.domain_file);
	}
	if (r == IMPORT_DONE) {
		settle(&im, formats[i].name);
		print_conf(&im, out, format, im.source);
		fputs(buf_cstr(&im.notes), notes);
		if (fflush(out) != 0 || ferror(out)) {
			(void)buf_error(err, errlen, "cannot write the configuration: %s", strerror(errno));
			r = IMPORT_WRITE_ERROR;
		}
	}
	import_free(&im);
	return r;
}
