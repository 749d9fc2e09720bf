/* sendmail - front end and the one table of exit statuses; see sendmail.h */
#include "sendmail.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "bs.h"
#include "check.h"
#include "conf.h"
#include "deliver.h"
#include "envelope.h"
#include "import.h"
#include "log.h"
#include "mailq.h"
#include "queue.h"
#include "runner.h"
#include "submit.h"
#include "tls.h"

#define RELAYMAIL_VERSION "0.1.0"

/*
 * clean_environment - run set-id: nothing the caller put in the
 * environment reaches us or a library, except what we read ourselves
 * (RELAYMAIL_CONFIG, which drops the privilege when it is honoured) and TZ
 * (glibc refuses a TZ file outside its zone directory in a set-id program).
 */
static void clean_environment(void)
{
	static const char *const keep[] = { "RELAYMAIL_CONFIG", "TZ" };
	char *saved[sizeof keep / sizeof keep[0]];
	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
		const char *v = getenv(keep[i]);
		saved[i] = v != NULL ? strdup(v) : NULL;
		if (v != NULL && saved[i] == NULL)
			_exit(EX_OSERR);
	}
	if (clearenv() != 0)
		_exit(EX_OSERR);
	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
		if (saved[i] != NULL && setenv(keep[i], saved[i], 1) < 0)
			_exit(EX_OSERR);
		free(saved[i]);
	}
	if (setenv("PATH", "/usr/bin:/bin", 1) < 0)
		_exit(EX_OSERR);
}

/* entry_hygiene - fds 0-2 open, private umask, clean environment, no core dumps, no SIGPIPE */
static void entry_hygiene(void)
{
	struct stat st;
	for (int fd = 0; fd <= 2; fd++) {
		if (fstat(fd, &st) < 0 && errno == EBADF) {
			int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
			if (n < 0 || n != fd)
				_exit(EX_OSERR);
		}
	}
	umask(077);
	/* AT_SECURE: the kernel says set-id (or file capabilities) */
	if (getauxval(AT_SECURE) != 0 || getegid() != getgid() || geteuid() != getuid())
		clean_environment();
	/* a secret may be in memory later: never let it reach a core file */
	struct rlimit none = { 0, 0 };
	(void)setrlimit(RLIMIT_CORE, &none);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	signal(SIGPIPE, SIG_IGN);
}

/* drop_privileges - give up any set-id privilege for good (group first, while we may) */
static int drop_privileges(void)
{
	gid_t g = getgid(), rg, eg, sg;
	uid_t u = getuid(), ru, eu, su;
	if (setresgid(g, g, g) < 0 || setresuid(u, u, u) < 0)
		return -1;
	if (getresgid(&rg, &eg, &sg) < 0 || getresuid(&ru, &eu, &su) < 0)
		return -1;
	if (rg != g || eg != g || sg != g || ru != u || eu != u || su != u) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/*
 * load_conf - conf_load, then the cipher lists, which only the TLS module
 * can judge (the configuration itself is plain data); 0, or -1 with err
 */
static int load_conf(const char *path, struct conf *c, char *err, size_t errlen)
{
	if (conf_load(path, c, err, errlen) < 0)
		return -1;
	if (tls_check_settings(path, c->smarthost.tls_ciphers, c->smarthost.tls_ciphersuites,
			       err, errlen) == 0)
		return 0;
	conf_free(c);
	return -1;
}

/* config_path - -C, then RELAYMAIL_CONFIG, then the default; caller's choice drops privileges */
static const char *config_path(const struct options *o, int *status)
{
	const char *path = o->config;
	if (path == NULL)
		path = getenv("RELAYMAIL_CONFIG");
	if (path == NULL || *path == '\0')
		return CONF_DEFAULT_PATH;
	if (getuid() != 0 && drop_privileges() < 0) {
		log_error("cannot drop privileges: %s", strerror(errno));
		*status = EX_OSERR;
		return NULL;
	}
	return path;
}

/* mode_import - --import=FORMAT [FILE], without privileges: it reads the caller's files */
static int mode_import(const struct options *o)
{
	static const int status[] = {
		[IMPORT_DONE] = EX_OK, [IMPORT_BAD_FORMAT] = EX_USAGE, [IMPORT_NO_INPUT] = EX_NOINPUT,
		[IMPORT_UNUSABLE] = EX_CONFIG, [IMPORT_WRITE_ERROR] = EX_IOERR,
	};
	char err[1024];
	if (drop_privileges() < 0) {
		log_error("cannot drop privileges: %s", strerror(errno));
		return EX_OSERR;
	}
	if (o->nrcpt > 1) {
		log_error("--import reads one file (or nullmailer's directory), not %d", o->nrcpt);
		return EX_USAGE;
	}
	enum import_outcome r = import_run(o->import, o->nrcpt == 1 ? o->rcpt[0] : NULL, stdout, stderr,
					   err, sizeof err);
	if (r != IMPORT_DONE)
		log_error("%s", err);
	return status[r];
}

/* usage - --help text */
static void usage(void)
{
	fputs("usage: sendmail [-t] [-i] [-f sender] [-F name] [-C config] [-odi|-odb|-odq] [-v] [--] recipient...\n"
	      "       sendmail -bp | mailq [--json]      list the queue\n"
	      "       sendmail -q [-qINTERVAL] [-qIid] [-qRdomain]   deliver the queue\n"
	      "       sendmail --runner                 deliver what is due, as a background\n"
	      "                                         submission's queue runner does\n"
	      "       sendmail -bv recipient...         show what recipients expand to\n"
	      "       sendmail -bi | newaliases         accepted, does nothing\n"
	      "       sendmail --check                  connect to the smarthost, show its TLS\n"
	      "                                         certificates and AUTH choice; send nothing\n"
	      "       sendmail --import=FORMAT [FILE]   print msmtp's, ssmtp's, nullmailer's, dma's or\n"
	      "                                         Postfix's settings as a relaymail.conf\n"
	      "Relays mail to the smarthost configured in " CONF_DEFAULT_PATH "; see sendmail(8).\n",
	      stdout);
}

/* open_queue - the spool, or EX_CANTCREAT with a message */
static int open_queue(const struct conf *c, struct queue **q, bool create)
{
	char err[512];
	if ((*q = queue_open(c->queue.dir, create, err, sizeof err)) == NULL) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}

/* mode_list - -bp / mailq */
static int mode_list(const struct conf *c, const struct options *o)
{
	struct queue *q;
	char err[512];
	if (access(c->queue.dir, F_OK) < 0 && errno == ENOENT) {
		if (o->json)
			return EX_OK;
		puts("Mail queue is empty");
		return EX_OK;
	}
	if (open_queue(c, &q, false) < 0)
		return EX_NOPERM;
	int r = mailq_print(q, stdout, o->json, err, sizeof err);
	queue_close(q);
	if (r < 0) {
		log_error("%s", err);
		return EX_OSERR;
	}
	return fflush(stdout) == 0 ? EX_OK : EX_OSERR;
}

/* print_expansion - -bv callback: one line per final address */
static int print_expansion(void *ctx, const char *addr)
{
	const struct conf *c = ctx;
	printf("%s... deliverable: mailer relay, host %s, user %s\n", addr, c->smarthost.host, addr);
	return 0;
}

/* mode_verify - -bv: what each recipient argument expands to */
static int mode_verify(const struct conf *c, const struct options *o)
{
	struct envelope env;
	char err[256];
	int status = EX_OK;
	if (o->nrcpt == 0) {
		log_error("-bv needs at least one recipient");
		return EX_USAGE;
	}
	envelope_init(&env, c);
	for (int i = 0; i < o->nrcpt; i++) {
		if (envelope_expand(&env, o->rcpt[i], print_expansion, (void *)c, err, sizeof err) < 0) {
			char safe[512];
			log_printable(o->rcpt[i], strlen(o->rcpt[i]), safe, sizeof safe);
			printf("%s... %s\n", safe, err);
			status = EX_USAGE;
		}
	}
	envelope_free(&env);
	return status;
}

/* mode_queue_run - -q once, or every -qINTERVAL until killed */
static int mode_queue_run(const struct conf *c, const struct options *o)
{
	struct queue *q;
	struct deliver_select sel = {
		.force = o->queue_interval == 0,
		.id = o->queue_id,
		.domain = o->queue_domain,
	};
	int status = EX_OK;
	for (;;) {
		/* nothing held between runs: no idle connection, no open spool */
		if (open_queue(c, &q, true) < 0) {
			status = EX_CANTCREAT;
		} else {
			struct deliver *d = deliver_new(c, q);
			if (d == NULL || deliver_queue(d, &sel) < 0)
				status = EX_OSERR;
			deliver_free(d);
			queue_close(q);
		}
		if (o->queue_interval == 0)
			break;
		sleep(o->queue_interval);
	}
	return status;
}

/* mode_runner - --runner: the queue runner in the foreground (root: every user's mail) */
static int mode_runner(const struct conf *c)
{
	struct queue *q;
	if (open_queue(c, &q, true) < 0)
		return EX_CANTCREAT;
	int r = runner_run(c, q);
	queue_close(q);
	return r < 0 ? EX_OSERR : EX_OK;
}

/* exit status of a submission that could not be queued */
static int submit_status(enum submit_result r)
{
	switch (r) {
	case SUBMIT_OK:
		return EX_OK;
	case SUBMIT_USAGE:
		return EX_USAGE;
	case SUBMIT_BAD_MESSAGE:
		return EX_DATAERR;
	case SUBMIT_READ_ERROR:
		return EX_OSERR;
	case SUBMIT_CANT_QUEUE:
	case SUBMIT_TOO_BIG:
		return EX_CANTCREAT;
	}
	return EX_SOFTWARE;
}

/*
 * report_sync - a synchronous attempt's outcome: the exit status, and what
 * the caller reads. queued: the message is durably in the queue now (it
 * was pending during the attempt, and committed only if not delivered).
 */
static int report_sync(const char *id, const struct deliver_report *rep, bool queued)
{
	char why[SMTP_TEXT_MAX + 32];
	deliver_describe(&rep->reason, why, sizeof why);
	if (rep->tx_rejected) {
		log_error("message %s refused by the smarthost: %s", id, why);
		return EX_UNAVAILABLE;
	}
	if (rep->rejected > 0) {
		if (rep->rejected > 1)
			log_error("recipient <%s> and %u more refused by the smarthost: %s", rep->refused,
				  rep->rejected - 1, why);
		else
			log_error("recipient <%s> refused by the smarthost: %s", rep->refused, why);
		return EX_NOUSER;
	}
	if (rep->deferred > 0 && !queued) {
		log_error("delivery deferred and the message could not be queued: %s", why);
		return EX_CANTCREAT;
	}
	if (rep->deferred > 0)
		log_info("delivery deferred, message queued as %s: %s", id, why);
	return EX_OK;
}

/* delivery_mode - -odi/-odb/-odq, else [queue] mode */
static enum conf_queue_mode delivery_mode(const struct conf *c, const struct options *o)
{
	switch (o->delivery) {
	case OPTIONS_DELIVERY_SYNC:
		return CONF_MODE_SYNC;
	case OPTIONS_DELIVERY_BACKGROUND:
		return CONF_MODE_BACKGROUND;
	case OPTIONS_DELIVERY_QUEUE:
		return CONF_MODE_QUEUE;
	default:
		return c->queue.mode;
	}
}

/* mode_smtp - -bs: the SMTP dialogue on stdin/stdout */
static int mode_smtp(const struct conf *c, const struct options *o)
{
	struct queue *q;
	static const enum bs_delivery how[] = {
		[CONF_MODE_SYNC] = BS_DELIVER_SYNC,
		[CONF_MODE_BACKGROUND] = BS_DELIVER_BACKGROUND,
		[CONF_MODE_QUEUE] = BS_DELIVER_QUEUE,
	};
	if (open_queue(c, &q, true) < 0) {
		fputs("421 4.3.0 mail system unavailable: cannot open the queue\r\n", stdout);
		return EX_CANTCREAT;
	}
	int r = bs_serve(c, q, how[delivery_mode(c, o)]);
	queue_close(q);
	return r < 0 ? EX_OSERR : EX_OK;
}

/* mode_deliver - -bm: queue the message, then deliver as the mode says */
static int mode_deliver(const struct conf *c, const struct options *o)
{
	struct queue *q;
	struct queue_msg m;
	char err[512];
	struct submit_request req = {
		.fd = 0, .sender = o->sender, .rcpt = o->rcpt, .nrcpt = o->nrcpt,
		.from_headers = o->from_headers, .dot_ends = o->dot_ends,
		.full_name = o->full_name,
		.body_8bit = o->body != NULL && strcmp(o->body, "8BITMIME") == 0,
		.notify = o->notify[0] ? o->notify : NULL, .ret = o->ret, .envid = o->envid,
	};
	if (o->nrcpt == 0 && !o->from_headers) {
		log_error("no recipients: give one or use -t");
		return EX_USAGE;
	}
	if (open_queue(c, &q, true) < 0)
		return EX_CANTCREAT;
	enum conf_queue_mode mode = delivery_mode(c, o);
	/* a sync send tries first: a message delivered at once costs no fsync */
	req.commit_later = mode == CONF_MODE_SYNC;
	enum submit_result sr = submit_message(c, q, &req, &m, err, sizeof err);
	if (sr != SUBMIT_OK) {
		log_error("%s", err);
		queue_close(q);
		return submit_status(sr);
	}
	int status = EX_OK;
	if (mode == CONF_MODE_QUEUE) {
		log_event("%s: from=<%s>, size=%llu, nrcpt=%zu (queued)", m.id, m.sender, m.size, m.nrcpt);
		queue_release(&m);
	} else if (mode == CONF_MODE_BACKGROUND) {
		(void)runner_hand_off(c, q, &m);	/* queued either way */
	} else {
		struct deliver *d = deliver_new(c, q);
		struct deliver_report rep;
		char id[QUEUE_ID_LEN + 1];
		memcpy(id, m.id, sizeof id);
		if (d == NULL) {
			if (queue_keep(q, &m, err, sizeof err) < 0) {
				log_error("%s", err);
				status = EX_CANTCREAT;
			} else {
				log_info("message queued as %s (out of memory for delivery)", id);
			}
			queue_release(&m);
		} else {
			deliver_set_last(d);
			(void)deliver_message(d, &m, DELIVER_BOUNCE_NEVER, &rep);
			status = report_sync(id, &rep, rep.deferred > 0 && queue_holds(q, id));
		}
		deliver_free(d);
	}
	queue_close(q);
	return status;
}

/* sendmail_main - parse, configure, run the mode; the exit status */
int sendmail_main(int argc, char **argv, enum options_mode mode)
{
	struct options o;
	struct conf c;
	char err[1024];
	int status = EX_OK;
	const char *name = mode == OPTIONS_LIST ? "mailq"
			   : mode == OPTIONS_NEWALIASES ? "newaliases" : "sendmail";
	entry_hygiene();
	log_init(name, false);
	char **rcpt = calloc((size_t)argc + 1, sizeof *rcpt);
	if (rcpt == NULL) {
		log_error("out of memory");
		return EX_OSERR;
	}
	if (options_parse(argc, argv, mode, rcpt, &o, err, sizeof err) < 0) {
		log_error("%s", err);
		free(rcpt);
		return EX_USAGE;
	}
	log_init(name, o.verbose);
	switch (o.mode) {
	case OPTIONS_VERSION:
		printf("relaymail %s\n", RELAYMAIL_VERSION);
		free(rcpt);
		return EX_OK;
	case OPTIONS_HELP:
		usage();
		free(rcpt);
		return EX_OK;
	case OPTIONS_NEWALIASES:
		free(rcpt);
		return EX_OK;	/* aliases are read as they are: nothing to rebuild */
	case OPTIONS_IMPORT:
		status = mode_import(&o);
		free(rcpt);
		return status;
	default:
		break;
	}
	const char *path = config_path(&o, &status);
	if (path == NULL) {
		free(rcpt);
		return status;
	}
	if (load_conf(path, &c, err, sizeof err) < 0) {
		log_error("%s", err);
		free(rcpt);
		return EX_CONFIG;
	}
	log_open(c.log.syslog, c.log.file);
	switch (o.mode) {
	case OPTIONS_LIST:
		status = mode_list(&c, &o);
		break;
	case OPTIONS_VERIFY:
		status = mode_verify(&c, &o);
		break;
	case OPTIONS_QUEUE_RUN:
		status = mode_queue_run(&c, &o);
		break;
	case OPTIONS_RUNNER:
		status = mode_runner(&c);
		break;
	case OPTIONS_SMTP:
		status = mode_smtp(&c, &o);
		break;
	case OPTIONS_CHECK:
		status = check_run(&c, stdout) == 0 ? EX_OK : EX_UNAVAILABLE;
		break;
	default:
		status = mode_deliver(&c, &o);
		break;
	}
	conf_free(&c);
	free(rcpt);
	return status;
}
