/* envelope - sender, recipients, address checks and alias expansion; see envelope.h */
#include "envelope.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "rfc5322.h"

#define ENVELOPE_ADDR_MAX 254		/* RFC 5321 4.5.3.1.3: 256 with the brackets */
#define ENVELOPE_ALIAS_DEPTH 8
#define ENVELOPE_ALIASES_FILE_MAX (4 * 1024 * 1024)

struct alias_entry {
	char *name;		/* as written before the colon, quotes removed */
	char *targets;		/* the value, continuation lines joined */
};

/* the aliases(5) file, read on first need */
struct envelope_aliases {
	struct alias_entry *v;
	size_t n;
	size_t cap;
};

/* one walk through the alias graph */
struct expansion {
	struct envelope *e;
	int (*fn)(void *ctx, const char *addr);
	void *ctx;
	const char *path[ENVELOPE_ALIAS_DEPTH + 1];	/* the names being expanded */
	char *err;
	size_t errlen;
};

/* one level of that walk, for the rfc5322 callback */
struct level {
	struct expansion *x;
	size_t depth;
	bool use_default;
	const char *alias;	/* the name whose targets these are */
};

static int expand_addr(struct expansion *x, const char *addr, size_t depth, bool use_default);

/* envelope_init - empty envelope; sender NULL until envelope_set_sender */
void envelope_init(struct envelope *e, const struct conf *c)
{
	memset(e, 0, sizeof(*e));
	e->conf = c;
}

/* aliases_free - release the file's entries */
static void aliases_free(struct envelope_aliases *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].name);
		free(a->v[i].targets);
	}
	free(a->v);
	free(a);
}

/* envelope_free - release every string the envelope owns */
void envelope_free(struct envelope *e)
{
	free(e->sender);
	for (size_t i = 0; i < e->nrcpt; i++)
		free(e->rcpt[i]);
	free(e->rcpt);
	free(e->notify);
	free(e->ret);
	free(e->envid);
	aliases_free(e->aliases);
	memset(e, 0, sizeof(*e));
}

/* quoted_end - index just past the quoted string that opens addr, or 0 */
static size_t quoted_end(const char *addr, size_t len)
{
	if (len == 0 || addr[0] != '"')
		return 0;
	for (size_t i = 1; i < len; i++) {
		if (addr[i] == '\\')
			i++;
		else if (addr[i] == '"')
			return i + 1;
	}
	return 0;
}

/* find_at - the unquoted '@' of addr, or NULL: a bare local name has none */
static const char *find_at(const char *addr)
{
	size_t q = quoted_end(addr, strlen(addr));
	return strchr(addr + q, '@');
}

/* check_bytes - control characters and 8-bit bytes, named */
static int check_bytes(const char *addr, size_t len, char *err, size_t errlen)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)addr[i];
		if (c == '\r')
			return buf_error(err, errlen, "address contains a carriage return");
		if (c == '\n')
			return buf_error(err, errlen, "address contains a line feed");
		if (c == '\0')
			return buf_error(err, errlen, "address contains a NUL byte");
		if (c < 0x20 || c == 0x7f)
			return buf_error(err, errlen, "address contains the control character 0x%02x", c);
		if (c >= 0x80)
			return buf_error(err, errlen,
				   "non-ASCII address needs SMTPUTF8, which relaymail does not use");
	}
	return 0;
}

/* envelope_check_bytes - the wire-safety check of len bytes that may hold a NUL */
int envelope_check_bytes(const char *addr, size_t len, bool null_ok, char *err, size_t errlen)
{
	if (len == 0)
		return null_ok ? 0 : buf_error(err, errlen, "empty address");
	if (check_bytes(addr, len, err, errlen) < 0)
		return -1;
	if (len > ENVELOPE_ADDR_MAX)
		return buf_error(err, errlen, "address longer than 254 bytes");
	if (addr[0] == '-')
		return buf_error(err, errlen, "address starts with '-'");
	size_t q = quoted_end(addr, len);
	if (addr[0] == '"' && q == 0)
		return buf_error(err, errlen, "address has an unbalanced quote");
	size_t ats = 0, at = 0;
	for (size_t i = 0; i < len; i++) {
		if (addr[i] == '<' || addr[i] == '>')
			return buf_error(err, errlen, "address contains '%s'", addr[i] == '<' ? "<" : ">");
		if (i < q)
			continue;
		if (addr[i] == ' ' || addr[i] == '\t')
			return buf_error(err, errlen, "address contains white space");
		if (addr[i] == '@') {
			ats++;
			at = i;
		}
	}
	if (ats > 1)
		return buf_error(err, errlen, "address has more than one '@'");
	if (ats == 1 && at == 0)
		return buf_error(err, errlen, "address has an empty local part");
	if (ats == 1 && at + 1 == len)
		return buf_error(err, errlen, "address has an empty domain");
	return 0;
}

/* envelope_check_addr - the wire-safety check of a C string */
int envelope_check_addr(const char *addr, bool null_ok, char *err, size_t errlen)
{
	if (addr == NULL)
		addr = "";
	return envelope_check_bytes(addr, strlen(addr), null_ok, err, errlen);
}

/* envelope_complete - a bare local name gets [sender] domain */
char *envelope_complete(const struct conf *c, const char *addr)
{
	const char *domain = c != NULL ? c->sender.domain : NULL;

	if (addr[0] == '\0' || find_at(addr) != NULL || domain == NULL || domain[0] == '\0')
		return strdup(addr);
	size_t n = strlen(addr) + 1 + strlen(domain) + 1;
	char *p = malloc(n);
	if (p == NULL)
		return NULL;
	int r = snprintf(p, n, "%s@%s", addr, domain);
	if (r < 0 || (size_t)r >= n) {
		free(p);
		errno = EINVAL;
		return NULL;
	}
	return p;
}

/* envelope_set_sender - "<>", "", "<addr>", "addr" or a bare name */
int envelope_set_sender(struct envelope *e, const char *addr, char *err, size_t errlen)
{
	char *inner = NULL, *done;
	size_t len = strlen(addr);

	if (len >= 2 && addr[0] == '<' && addr[len - 1] == '>') {
		inner = strndup(addr + 1, len - 2);
		if (inner == NULL)
			return buf_error(err, errlen, "out of memory");
		addr = inner;
	}
	if (envelope_check_addr(addr, true, err, errlen) < 0) {
		free(inner);
		return -1;
	}
	done = envelope_complete(e->conf, addr);
	free(inner);
	if (done == NULL)
		return buf_error(err, errlen, "out of memory");
	if (envelope_check_addr(done, true, err, errlen) < 0) {
		free(done);
		return -1;
	}
	free(e->sender);
	e->sender = done;
	return 0;
}

/* push_rcpt - add one checked address unless it is already there */
static int push_rcpt(void *ctx, const char *addr, char *err, size_t errlen)
{
	struct envelope *e = ctx;

	for (size_t i = 0; i < e->nrcpt; i++)
		if (strcasecmp(e->rcpt[i], addr) == 0)
			return 0;
	if (e->nrcpt >= ENVELOPE_MAX_RCPT)
		return buf_error(err, errlen, "more than %d recipients", ENVELOPE_MAX_RCPT);
	if (e->nrcpt == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;
		char **v = realloc(e->rcpt, cap * sizeof(*v));
		if (v == NULL)
			return buf_error(err, errlen, "out of memory");
		e->rcpt = v;
		e->cap = cap;
	}
	e->rcpt[e->nrcpt] = strdup(addr);
	if (e->rcpt[e->nrcpt] == NULL)
		return buf_error(err, errlen, "out of memory");
	e->nrcpt++;
	return 0;
}

/* aliases_add - keep one entry of the file; the first of a name wins at lookup */
static int aliases_add(struct envelope_aliases *a, const char *name, size_t namelen,
		       const struct buf *value)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 32;
		struct alias_entry *v = realloc(a->v, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		a->v = v;
		a->cap = cap;
	}
	/* "name" may be quoted in aliases(5) */
	if (namelen >= 2 && name[0] == '"' && name[namelen - 1] == '"') {
		name++;
		namelen -= 2;
	}
	char *n = strndup(name, namelen);
	char *t = strdup(buf_cstr(value));
	if (n == NULL || t == NULL) {
		free(n);
		free(t);
		return -1;
	}
	a->v[a->n].name = n;
	a->v[a->n].targets = t;
	a->n++;
	return 0;
}

/* trim - the bounds of p[0..n) without surrounding white space */
static const char *trim(const char *p, size_t *n)
{
	while (*n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		(*n)--;
	}
	while (*n > 0 && (p[*n - 1] == ' ' || p[*n - 1] == '\t' || p[*n - 1] == '\r'))
		(*n)--;
	return p;
}

/*
 * aliases_parse - aliases(5): "name: target, target", lines starting with
 * white space continue the entry, '#' lines and empty lines are skipped,
 * lines without a colon are ignored as other MTAs ignore them. -1: ENOMEM.
 */
static int aliases_parse(struct envelope_aliases *a, const char *s, size_t len)
{
	struct buf value;
	const char *name = NULL;
	size_t namelen = 0, pos = 0;
	int r = 0;

	buf_init(&value, ENVELOPE_ALIASES_FILE_MAX);
	while (pos < len && r == 0) {
		const char *nl = memchr(s + pos, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - (s + pos)) : len - pos;
		const char *line = s + pos;
		pos += n + (nl != NULL);
		if (n > 0 && (line[0] == ' ' || line[0] == '\t')) {
			line = trim(line, &n);
			if (name != NULL && n > 0)
				r = buf_putc(&value, ' ') < 0 || buf_append(&value, line, n) < 0 ? -1 : 0;
			continue;
		}
		line = trim(line, &n);
		if (n == 0 || line[0] == '#')
			continue;
		if (name != NULL && aliases_add(a, name, namelen, &value) < 0)
			r = -1;
		buf_reset(&value);
		const char *colon = memchr(line, ':', n);
		name = NULL;
		if (colon == NULL || colon == line)
			continue;
		namelen = (size_t)(colon - line);
		name = trim(line, &namelen);
		size_t vlen = n - (size_t)(colon + 1 - line);
		const char *v = trim(colon + 1, &vlen);
		if (buf_append(&value, v, vlen) < 0)
			r = -1;
	}
	if (r == 0 && name != NULL && aliases_add(a, name, namelen, &value) < 0)
		r = -1;
	buf_free(&value);
	return r;
}

/* aliases_read - the whole file into b; -1 with errno */
static int aliases_read(FILE *f, struct buf *b)
{
	char chunk[8192];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(b, chunk, n) < 0)
			return -1;
	return ferror(f) ? -1 : 0;
}

/* aliases_load - read aliases_file once; a missing file is an empty one */
static int aliases_load(struct envelope *e, char *err, size_t errlen)
{
	const char *path = e->conf != NULL ? e->conf->sender.aliases_file : NULL;
	struct envelope_aliases *a;
	struct buf b;

	if (e->aliases != NULL)
		return 0;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return buf_error(err, errlen, "out of memory");
	if (path == NULL || path[0] == '\0') {
		e->aliases = a;
		return 0;
	}
	FILE *f = fopen(path, "re");
	if (f == NULL && (errno == ENOENT || errno == ENOTDIR)) {
		e->aliases = a;
		return 0;
	}
	buf_init(&b, ENVELOPE_ALIASES_FILE_MAX);
	int r = f == NULL ? -1 : aliases_read(f, &b);
	int saved = errno;
	if (f != NULL)
		fclose(f);
	if (r == 0)
		r = aliases_parse(a, b.data != NULL ? b.data : "", b.len);
	buf_free(&b);
	if (r < 0) {
		aliases_free(a);
		return buf_error(err, errlen, "cannot read the aliases file %s: %s", path,
			   saved == E2BIG ? "larger than 4 MiB" : strerror(saved));
	}
	e->aliases = a;
	return 0;
}

/* alias_lookup - the targets of name: [aliases] first, then the file; NULL if none */
static int alias_lookup(struct expansion *x, const char *name, const char **targets)
{
	const struct conf *c = x->e->conf;

	*targets = NULL;
	for (size_t i = 0; c != NULL && i < c->aliases.n; i++) {
		if (strcasecmp(c->aliases.v[i].name, name) == 0) {
			*targets = c->aliases.v[i].targets;
			return 0;
		}
	}
	if (aliases_load(x->e, x->err, x->errlen) < 0)
		return -1;
	for (size_t i = 0; i < x->e->aliases->n; i++) {
		if (strcasecmp(x->e->aliases->v[i].name, name) == 0) {
			*targets = x->e->aliases->v[i].targets;
			return 0;
		}
	}
	return 0;
}

/* next_target - the next comma-separated piece of s, commas in quotes and comments kept */
static bool next_target(const char *s, size_t *pos, const char **start, size_t *len)
{
	size_t i = *pos, depth = 0;
	bool quoted = false;

	if (s[i] == '\0')
		return false;
	for (; s[i] != '\0' && (quoted || depth > 0 || s[i] != ','); i++) {
		if (s[i] == '\\' && s[i + 1] != '\0')
			i++;
		else if (s[i] == '"')
			quoted = !quoted;
		else if (!quoted && s[i] == '(')
			depth++;
		else if (!quoted && s[i] == ')' && depth > 0)
			depth--;
	}
	*len = i - *pos;
	*start = trim(s + *pos, len);
	*pos = s[i] == ',' ? i + 1 : i;
	return true;
}

/* is_local_delivery - a pipe, file or include target: the smarthost cannot take it */
static bool is_local_delivery(const char *p, size_t n)
{
	if (n > 0 && p[0] == '"') {
		p++;
		n--;
	}
	return (n > 0 && (p[0] == '|' || p[0] == '/'))
	       || (n >= 9 && strncasecmp(p, ":include:", 9) == 0);
}

/*
 * unquote_whole - a target quoted as a whole in aliases(5) ("a@x") is the
 * text inside; anything else is kept as written. malloc'd, NULL on ENOMEM.
 */
static char *unquote_whole(const char *p, size_t n)
{
	if (n < 2 || quoted_end(p, n) != n)
		return strndup(p, n);
	char *out = malloc(n);
	size_t k = 0;
	if (out == NULL)
		return NULL;
	for (size_t i = 1; i + 1 < n; i++) {
		if (p[i] == '\\' && i + 2 < n)
			i++;
		out[k++] = p[i];
	}
	out[k] = '\0';
	return out;
}

/* deliver - hand one final address to the envelope or the caller */
static int deliver(struct expansion *x, const char *addr)
{
	if (x->fn == NULL)
		return push_rcpt(x->e, addr, x->err, x->errlen);
	if (x->fn(x->ctx, addr) < 0)
		return buf_error(x->err, x->errlen, "expansion stopped at %s", addr);
	return 0;
}

/* deliver_completed - name@domain, checked again since the domain adds length */
static int deliver_completed(struct expansion *x, const char *name)
{
	char *full = envelope_complete(x->e->conf, name);
	int r;

	if (full == NULL)
		return buf_error(x->err, x->errlen, "out of memory");
	r = envelope_check_addr(full, false, x->err, x->errlen);
	if (r == 0)
		r = deliver(x, full);
	free(full);
	return r;
}

/* level_addr - rfc5322 callback: one address of an alias value */
static int level_addr(void *ctx, const char *addr)
{
	struct level *l = ctx;
	struct expansion *x = l->x;

	if (expand_addr(x, addr, l->depth + 1, l->use_default) == 0)
		return 0;
	/* say which alias held the bad target: alias values are untrusted */
	char inner[256];
	if (snprintf(inner, sizeof(inner), "%s", x->errlen > 0 ? x->err : "") < 0)
		inner[0] = '\0';
	buf_error(x->err, x->errlen, "alias %s: %s", l->alias, inner);
	return -1;
}

/*
 * expand_targets - every target of alias name, at depth; *used is how many
 * targets could go to the smarthost (pipes, files and includes cannot).
 */
static int expand_targets(struct expansion *x, const char *name, const char *targets,
			  size_t depth, bool use_default, size_t *used)
{
	struct level l = { x, depth, use_default, name };
	const char *p, *why = NULL;
	size_t pos = 0, n;

	*used = 0;
	if (depth >= ENVELOPE_ALIAS_DEPTH)
		return buf_error(x->err, x->errlen, "aliases nest deeper than 8 levels at %s", name);
	x->path[depth] = name;
	while (next_target(targets, &pos, &p, &n)) {
		if (n == 0 || is_local_delivery(p, n))
			continue;
		char *inner = unquote_whole(p, n);
		if (inner == NULL)
			return buf_error(x->err, x->errlen, "out of memory");
		int r = rfc5322_parse_addresses(inner, strlen(inner), level_addr, &l, &why);
		free(inner);
		if (r == -1)
			return buf_error(x->err, x->errlen, "alias %s: %s", name, why);
		if (r < 0)
			return -1;
		*used += (size_t)r;
	}
	return 0;
}

/*
 * expand_addr - addr at depth: an address with a domain is final; a bare
 * name goes through [aliases], the file and default, else gets the domain.
 * A name already being expanded above is a loop and ends as name@domain.
 */
static int expand_addr(struct expansion *x, const char *addr, size_t depth, bool use_default)
{
	const char *targets;
	size_t used = 0;

	if (envelope_check_addr(addr, false, x->err, x->errlen) < 0)
		return -1;
	if (find_at(addr) != NULL)
		return deliver(x, addr);
	for (size_t i = 0; i < depth; i++)
		if (strcasecmp(x->path[i], addr) == 0)
			return deliver_completed(x, addr);
	if (alias_lookup(x, addr, &targets) < 0)
		return -1;
	if (targets != NULL && expand_targets(x, addr, targets, depth, use_default, &used) < 0)
		return -1;
	if (used > 0)
		return 0;
	const char *def = x->e->conf != NULL ? x->e->conf->aliases.default_target : NULL;
	if (use_default && def != NULL && def[0] != '\0') {
		/* the default's own bare names are not sent to the default again */
		if (expand_targets(x, addr, def, depth, false, &used) < 0)
			return -1;
		if (used > 0)
			return 0;
	}
	return deliver_completed(x, addr);
}

/* envelope_add_rcpt - check, expand and add one recipient */
int envelope_add_rcpt(struct envelope *e, const char *addr, char *err, size_t errlen)
{
	struct expansion x = { .e = e, .err = err, .errlen = errlen };

	return expand_addr(&x, addr, 0, true);
}

/* list_addr - rfc5322 callback: one address of a command-line list */
static int list_addr(void *ctx, const char *addr)
{
	return expand_addr(ctx, addr, 0, true);
}

/* expand_list - every address of a comma-separated argument through x */
static int expand_list(struct expansion *x, const char *list)
{
	const char *why = NULL;
	size_t len = strlen(list);

	/* the raw argument first: a CR or LF must not vanish as folding */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)list[i];
		if (c < 0x80 && c != '\t' && check_bytes(list + i, 1, x->err, x->errlen) < 0)
			return -1;
	}
	int r = rfc5322_parse_addresses(list, len, list_addr, x, &why);
	if (r == -1)
		return buf_error(x->err, x->errlen, "bad address list: %s", why);
	return r < 0 ? -1 : 0;
}

/* envelope_add_list - "a@x, b@y" or "root,admin" from the command line */
int envelope_add_list(struct envelope *e, const char *list, char *err, size_t errlen)
{
	struct expansion x = { .e = e, .err = err, .errlen = errlen };

	return expand_list(&x, list);
}

/* envelope_expand - what an argument expands to, for -bv; lists are split too */
int envelope_expand(struct envelope *e, const char *name,
		    int (*fn)(void *ctx, const char *addr), void *ctx,
		    char *err, size_t errlen)
{
	struct expansion x = { .e = e, .fn = fn, .ctx = ctx, .err = err, .errlen = errlen };

	return expand_list(&x, name);
}
