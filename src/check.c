/* check - sendmail --check, the smarthost as a delivery would see it; see check.h */
#include "check.h"

#include <stdbool.h>
#include <stdio.h>

#include "auth.h"
#include "buf.h"
#include "deliver.h"
#include "log.h"
#include "smtp.h"

#define CHECK_REPORT_MAX (256 * 1024)	/* greeting, EHLO lines, certificate chain */

/* auth_line - which mechanism a delivery would pick, from the offer and the config */
static void auth_line(const struct conf *c, const struct smtp_ext *e, FILE *out)
{
	char err[256];
	if (c->auth.user == NULL || c->auth.mechanism == CONF_MECH_NONE) {
		fprintf(out, "AUTH: none (no [auth] user configured, or mechanism = none)\n");
		return;
	}
	const struct auth_mech *m = auth_choose(c->auth.mechanism, e->auth, err, sizeof err);
	if (m == NULL)
		fprintf(out, "AUTH: no usable mechanism: %s\n", err);
	else
		fprintf(out, "AUTH: would use %s (mechanism = %s; not authenticated by --check)\n",
			m->name, conf_mech_name(c->auth.mechanism));
}

/* report_trace - the wire lines to the -v transcript, the report text into the buffer */
static void report_trace(void *ctx, enum log_trace_kind kind, const char *text, size_t n)
{
	if (kind == LOG_TRACE_REPORT)
		(void)buf_append(ctx, text, n);
	else
		log_trace_wire(NULL, kind, text, n);
}

/* check_run - connect, greet, start TLS, report, QUIT */
int check_run(const struct conf *c, FILE *out)
{
	static const char *const tls_names[] = {
		[CONF_TLS_STARTTLS] = "starttls", [CONF_TLS_IMPLICIT] = "tls (implicit)",
		[CONF_TLS_NONE] = "none",
	};
	struct buf report;
	struct smtp_reply why;
	buf_init(&report, CHECK_REPORT_MAX);
	struct smtp_params cfg;
	deliver_smtp_params(c, &cfg);
	cfg.mechanism = CONF_MECH_NONE;	/* no AUTH, no secret */
	cfg.user = NULL;
	cfg.trace = (struct log_trace){ report_trace, &report };
	cfg.tls_settings.trace = cfg.trace;	/* the handshake's report too */
	fprintf(out, "smarthost: %s port %u, tls = %s, tls_verify = %s\n", c->smarthost.host,
		c->smarthost.port, tls_names[c->smarthost.tls], c->smarthost.tls_verify ? "yes" : "no");
	struct smtp_session *s = smtp_open(&cfg, &why);
	if (s != NULL)
		fprintf(out, "connected to %s\n", smtp_peer(s));
	fputs(buf_cstr(&report), out);
	buf_free(&report);
	if (s == NULL) {
		if (why.code != 0)
			fprintf(out, "check failed: %d %s\n", why.code, why.text);
		else
			fprintf(out, "check failed: %s\n", why.text);
		return -1;
	}
	if (c->smarthost.tls == CONF_TLS_NONE)
		fprintf(out, "TLS: none (tls = none)\n");
	auth_line(c, smtp_extensions(s), out);
	smtp_close(s);
	fprintf(out, "check ok\n");
	return 0;
}
