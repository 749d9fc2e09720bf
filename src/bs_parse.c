/* bs_parse - -bs command lines and MAIL parameters; see bs_parse.h */
#include "bs_parse.h"

#include <string.h>
#include <strings.h>

/* the verbs, in the order of enum bs_verb after BS_CMD_BAD */
static const char *const verbs[] = {
	"", "HELO", "EHLO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "VRFY", "QUIT",
};

/* parse_path - "FROM:<addr> params" or "FROM:addr params" into cmd */
static void parse_path(const char *arg, size_t n, const char *kw, struct bs_command *cmd)
{
	size_t kwlen = strlen(kw), i;
	cmd->path_ok = false;
	if (n < kwlen || strncasecmp(arg, kw, kwlen) != 0)
		return;
	for (i = kwlen; i < n && arg[i] == ' '; i++)
		;
	size_t start = i, end, next;
	if (i < n && arg[i] == '<') {
		const char *gt = memchr(arg + i, '>', n - i);
		if (gt == NULL)
			return;
		start = i + 1;
		end = (size_t)(gt - arg);
		next = end + 1;
	} else {
		for (end = i; end < n && arg[end] != ' '; end++)
			;
		next = end;
	}
	while (next < n && arg[next] == ' ')
		next++;
	cmd->path_ok = true;
	cmd->addr = arg + start;
	cmd->addrlen = end - start;
	cmd->params = arg + next;
	cmd->paramslen = n - next;
}

/* bad_command - refuse the line with this reply */
static int bad_command(struct bs_command *cmd, const char *why)
{
	cmd->verb = BS_CMD_BAD;
	cmd->reply = why;
	return -1;
}

/* bs_parse_command - one command line, as read, into its parts */
int bs_parse_command(const char *line, size_t len, struct bs_command *cmd)
{
	memset(cmd, 0, sizeof *cmd);
	cmd->arg = line;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	/* a CR, LF or NUL inside a command could smuggle another one */
	for (size_t i = 0; i < len; i++)
		if (line[i] == '\r' || line[i] == '\n' || line[i] == '\0')
			return bad_command(cmd, "500 5.5.2 bad character in command");
	for (size_t v = BS_CMD_HELO; v < sizeof verbs / sizeof verbs[0]; v++) {
		if (len < 4 || strncasecmp(line, verbs[v], 4) != 0 || (len > 4 && line[4] != ' '))
			continue;
		cmd->verb = (enum bs_verb)v;
		cmd->arg = line + 4 + (len > 4);
		cmd->arglen = len - 4 - (len > 4);
		if ((cmd->verb == BS_CMD_HELO || cmd->verb == BS_CMD_EHLO) && cmd->arglen == 0)
			return bad_command(cmd, "501 5.5.4 syntax: EHLO hostname");
		if (cmd->verb == BS_CMD_MAIL)
			parse_path(cmd->arg, cmd->arglen, "FROM:", cmd);
		else if (cmd->verb == BS_CMD_RCPT)
			parse_path(cmd->arg, cmd->arglen, "TO:", cmd);
		return 0;
	}
	return bad_command(cmd, "500 5.5.2 command not recognized");
}

/* mail_param - one MAIL parameter we take: SIZE= (up to max) or BODY= */
static const char *mail_param(const char *p, size_t n, unsigned long long max, bool *body8)
{
	if (n > 5 && strncasecmp(p, "SIZE=", 5) == 0) {
		unsigned long long v = 0;
		for (size_t i = 5; i < n; i++) {
			if (p[i] < '0' || p[i] > '9' || v > BS_SIZE_MAX)
				return "501 5.5.4 bad SIZE parameter";
			v = v * 10 + (unsigned)(p[i] - '0');
		}
		return v > max ? "552 5.3.4 message too big" : NULL;
	}
	if (n == 13 && strncasecmp(p, "BODY=8BITMIME", n) == 0) {
		*body8 = true;
		return NULL;
	}
	if (n == 9 && strncasecmp(p, "BODY=7BIT", n) == 0)
		return NULL;
	return "555 5.5.4 unsupported MAIL parameter";
}

/* bs_parse_mail_params - every MAIL parameter, space separated */
const char *bs_parse_mail_params(const char *p, size_t n, unsigned long long max, bool *body8)
{
	if (max > BS_SIZE_MAX)
		max = BS_SIZE_MAX;
	size_t i = 0;
	while (i < n) {
		size_t k = 0;
		while (i + k < n && p[i + k] != ' ')
			k++;
		const char *bad = k > 0 ? mail_param(p + i, k, max, body8) : NULL;
		if (bad != NULL) {
			*body8 = false;
			return bad;
		}
		i += k;
		while (i < n && p[i] == ' ')
			i++;
	}
	return NULL;
}
