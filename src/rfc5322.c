/* rfc5322 - header field names and address lists; see rfc5322.h */
#include "rfc5322.h"

#include <limits.h>
#include <string.h>

enum tok_kind { TOK_END, TOK_ATOM, TOK_QSTRING, TOK_DLIT, TOK_SPECIAL, TOK_ERROR };

struct token {
	enum tok_kind kind;
	size_t start;		/* offset of the token itself, after any CFWS */
	size_t off;		/* content: atom text, or between the delimiters */
	size_t n;
	char c;			/* the character of a TOK_SPECIAL */
	const char *why;	/* TOK_ERROR */
};

/* a lexer never looks at s[len] or beyond: values need not end in NUL */
struct lexer {
	const char *s;
	size_t len;
	size_t pos;
};

/* the addr-spec being built; one byte spare for the NUL */
struct out {
	char buf[RFC5322_ADDR_MAX + 1];
	size_t n;
	bool overflow;
};

/* is_wsp - white space between tokens; CR and LF only occur as folding */
static bool is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* is_atext - RFC 5322 atext, plus 8-bit bytes (RFC 6532 display names) */
static bool is_atext(unsigned char c)
{
	if (c >= 0x80)
		return true;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* is_ctl - a control byte that has no business outside quotes */
static bool is_ctl(unsigned char c)
{
	return (c < 0x20 && !is_wsp(c)) || c == 0x7f;
}

/* out_putc - append one byte, remembering an overflow instead of cutting */
static void out_putc(struct out *o, char c)
{
	if (o->n >= RFC5322_ADDR_MAX) {
		o->overflow = true;
		return;
	}
	o->buf[o->n++] = c;
}

/* skip_comment - past a (possibly nested) comment starting at s[pos] == '(' */
static const char *skip_comment(struct lexer *lx)
{
	size_t depth = 0;

	while (lx->pos < lx->len) {
		unsigned char c = (unsigned char)lx->s[lx->pos++];
		if (c == '\0')
			return "NUL byte in address list";
		if (c == '\\') {
			if (lx->pos >= lx->len)
				break;
			if (lx->s[lx->pos] == '\0')
				return "NUL byte in address list";
			lx->pos++;
		} else if (c == '(') {
			depth++;
		} else if (c == ')') {
			if (--depth == 0)
				return NULL;
		}
	}
	return "unbalanced parenthesis in comment";
}

static size_t fold_len(const char *s, size_t i, size_t end);

/*
 * skip_cfws - past white space, folding and comments. A CR or LF is only
 * accepted as folding (CRLF or LF, then white space) or at the very end:
 * a bare one could make one address look like two to a later reader.
 */
static const char *skip_cfws(struct lexer *lx)
{
	while (lx->pos < lx->len) {
		unsigned char c = (unsigned char)lx->s[lx->pos];
		if (c == '\r' || c == '\n') {
			size_t fold = fold_len(lx->s, lx->pos, lx->len);
			size_t rest = lx->len - lx->pos;
			bool at_end = (rest == 1 && c == '\n') ||
				      (rest == 2 && c == '\r' && lx->s[lx->pos + 1] == '\n');
			if (fold == 0 && !at_end)
				return "line break inside an address list";
			lx->pos += fold != 0 ? fold : rest;
		} else if (is_wsp(c)) {
			lx->pos++;
		} else if (c == '(') {
			const char *why = skip_comment(lx);
			if (why != NULL)
				return why;
		} else {
			break;
		}
	}
	return NULL;
}

/*
 * scan_delimited - past a quoted string or domain literal whose opening
 * delimiter is at pos; quoted-pairs may hide the closing one.
 */
static int scan_delimited(struct lexer *lx, char close, struct token *t)
{
	size_t i = lx->pos + 1;

	t->off = i;
	while (i < lx->len) {
		char c = lx->s[i];
		if (c == '\0')
			return -2;
		if (c == close) {
			t->n = i - t->off;
			lx->pos = i + 1;
			return 0;
		}
		if (close == ']' && c == '[')
			return -1;
		if (c == '\\') {
			if (i + 1 >= lx->len)
				return -1;
			if (lx->s[i + 1] == '\0')
				return -2;
			i++;
		}
		i++;
	}
	return -1;
}

/*
 * encoded_word_len - length of an RFC 2047 encoded word at p, or 0: it is
 * taken whole so that a comma some mailers leave inside it splits nothing.
 */
static size_t encoded_word_len(const char *p, size_t n)
{
	size_t i = 2, q = 0;

	if (n < 8 || p[0] != '=' || p[1] != '?')
		return 0;
	for (; i + 1 < n && i < 256; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c <= ' ' || c >= 0x7f || strchr("\"()<>[]\\", c) != NULL)
			return 0;
		if (c != '?')
			continue;
		if (q == 2 && p[i + 1] == '=')
			return i + 2;
		if (++q > 2)
			return 0;
	}
	return 0;
}

/* lex_next - the next token; comments and white space are skipped */
static void lex_next(struct lexer *lx, struct token *t)
{
	const char *why = skip_cfws(lx);

	t->start = lx->pos;
	t->off = lx->pos;
	t->n = 0;
	t->why = NULL;
	if (why != NULL) {
		t->kind = TOK_ERROR;
		t->why = why;
		lx->pos = lx->len;	/* every later call sees the end */
		return;
	}
	if (lx->pos >= lx->len) {
		t->kind = TOK_END;
		return;
	}
	unsigned char c = (unsigned char)lx->s[lx->pos];
	if (c == '"' || c == '[') {
		t->kind = c == '"' ? TOK_QSTRING : TOK_DLIT;
		int r = scan_delimited(lx, c == '"' ? '"' : ']', t);
		if (r < 0) {
			t->kind = TOK_ERROR;
			t->why = r == -2 ? "NUL byte in address list"
			       : c == '"' ? "unbalanced quote in address list"
					  : "unbalanced '[' in address list";
			lx->pos = lx->len;
		}
		return;
	}
	if (is_atext(c)) {
		size_t ew = encoded_word_len(lx->s + lx->pos, lx->len - lx->pos);
		if (ew > 0) {
			lx->pos += ew;
		} else {
			while (lx->pos < lx->len && is_atext((unsigned char)lx->s[lx->pos]))
				lx->pos++;
		}
		t->kind = TOK_ATOM;
		t->n = lx->pos - t->off;
		return;
	}
	t->kind = TOK_ERROR;
	if (c == '\0')
		t->why = "NUL byte in address list";
	else if (is_ctl(c))
		t->why = "control character in address list";
	else if (c == ')')
		t->why = "unbalanced parenthesis in comment";
	else if (c == ']')
		t->why = "unbalanced ']' in address list";
	else if (c == '\\')
		t->why = "backslash outside a quoted string";
	else {
		t->kind = TOK_SPECIAL;
		t->c = (char)c;
		lx->pos++;
		return;
	}
	lx->pos = lx->len;
}

/* fold_len - length of CRLF or LF followed by white space starts at s[i] */
static size_t fold_len(const char *s, size_t i, size_t end)
{
	size_t k = i;

	if (k < end && s[k] == '\r')
		k++;
	if (k < end && s[k] == '\n' && k + 1 < end && (s[k + 1] == ' ' || s[k + 1] == '\t'))
		return k + 1 - i;
	return 0;
}

/*
 * put_qcontent - the meaning of a quoted string: quoted-pairs undone and
 * folding removed; a stray CR or LF is kept so the envelope check sees it.
 */
static void put_qcontent(struct out *o, const char *s, size_t off, size_t n, bool escape)
{
	size_t i = off, end = off + n;

	while (i < end) {
		size_t f = fold_len(s, i, end);
		if (f > 0) {
			i += f;
			continue;
		}
		char c = s[i];
		if (c == '\\' && i + 1 < end)
			c = s[++i];
		if (escape && (c == '"' || c == '\\'))
			out_putc(o, '\\');
		out_putc(o, c);
		i++;
	}
}

/* is_dot_atom - text made of atext runs joined by single dots */
static bool is_dot_atom(const char *p, size_t n)
{
	if (n == 0 || p[0] == '.' || p[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '.') {
			if (p[i + 1] == '.')
				return false;
		} else if (!is_atext((unsigned char)p[i]) || (unsigned char)p[i] >= 0x80) {
			return false;
		}
	}
	return true;
}

/* atom_is_plain - an atom that is atext all through (not an odd encoded word) */
static bool atom_is_plain(const char *s, const struct token *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (!is_atext((unsigned char)s[t->off + i]))
			return false;
	return true;
}

/*
 * put_local - the local part made of the words and dots in [from, to):
 * written as it stands when that is valid, else as one quoted string, so
 * that "john.doe"@x becomes john.doe@x while "john doe"@x keeps its quotes.
 */
static const char *put_local(const char *s, size_t from, size_t to, struct out *o)
{
	struct lexer lx = { s, to, from };
	struct token t;
	size_t mark = o->n;
	bool quoted = false, plain = true, words = false;

	for (lex_next(&lx, &t); t.kind != TOK_END; lex_next(&lx, &t)) {
		if (t.kind == TOK_QSTRING) {
			quoted = true;
			put_qcontent(o, s, t.off, t.n, false);
		} else if (t.kind == TOK_ATOM) {
			plain = plain && atom_is_plain(s, &t);
			put_qcontent(o, s, t.off, t.n, false);
		} else {
			out_putc(o, '.');
		}
		words = words || t.kind != TOK_SPECIAL;
	}
	if (!words)
		return "address has no local part";
	if (o->overflow || (plain && !quoted) || is_dot_atom(o->buf + mark, o->n - mark))
		return NULL;
	o->n = mark;
	out_putc(o, '"');
	lx.pos = from;
	for (lex_next(&lx, &t); t.kind != TOK_END; lex_next(&lx, &t)) {
		if (t.kind == TOK_SPECIAL)
			out_putc(o, '.');
		else
			put_qcontent(o, s, t.off, t.n, true);
	}
	out_putc(o, '"');
	return NULL;
}

/* put_domain - dot-separated atoms, or a domain literal without its white space */
static const char *put_domain(struct lexer *lx, struct out *o)
{
	struct token t;
	bool want_atom = true, any = false;

	for (lex_next(lx, &t); t.kind != TOK_END; lex_next(lx, &t)) {
		if (t.kind == TOK_SPECIAL && t.c == '@')
			return "address has more than one '@'";
		if (t.kind == TOK_DLIT && !any) {
			out_putc(o, '[');
			for (size_t i = 0; i < t.n; i++)
				if (!is_wsp((unsigned char)lx->s[t.off + i]))
					out_putc(o, lx->s[t.off + i]);
			out_putc(o, ']');
			lex_next(lx, &t);
			return t.kind == TOK_END ? NULL : "unexpected text after a domain literal";
		}
		if (t.kind == TOK_QSTRING || t.kind == TOK_DLIT)
			return "unexpected text in the domain of an address";
		if ((t.kind == TOK_ATOM) != want_atom)
			return want_atom ? "empty label in the domain of an address"
					 : "unexpected text after address (display name without <>?)";
		if (t.kind == TOK_ATOM) {
			for (size_t i = 0; i < t.n; i++)
				out_putc(o, lx->s[t.off + i]);
		} else {
			out_putc(o, '.');
		}
		want_atom = !want_atom;
		any = true;
	}
	if (!any)
		return "address has an empty domain";
	return want_atom ? "domain of an address ends with '.'" : NULL;
}

/*
 * put_addr_spec - the addr-spec written in [from, to) into o: local part,
 * then '@' and the domain when there is one (a bare local name has none).
 */
static const char *put_addr_spec(const char *s, size_t from, size_t to, struct out *o)
{
	struct lexer lx = { s, to, from };
	struct token t;
	bool last_word = false;
	const char *why;

	for (lex_next(&lx, &t); t.kind != TOK_END; lex_next(&lx, &t)) {
		bool word = t.kind == TOK_ATOM || t.kind == TOK_QSTRING;
		if (t.kind == TOK_ERROR)
			return t.why;
		if (t.kind == TOK_SPECIAL && t.c == '@')
			break;
		if (t.kind == TOK_DLIT || (t.kind == TOK_SPECIAL && t.c != '.'))
			return "unexpected character in address";
		if (word && last_word)
			return "two words in an address (display name without <>?)";
		last_word = word;
	}
	why = put_local(s, from, t.start, o);
	if (why != NULL || t.kind == TOK_END)
		return why;
	out_putc(o, '@');
	return put_domain(&lx, o);
}

/*
 * put_angle - the address inside <...> at [from, to): an obsolete source
 * route "@a,@b:" in front is dropped (RFC 5322 4.4).
 */
static const char *put_angle(const char *s, size_t from, size_t to, struct out *o)
{
	struct lexer lx = { s, to, from };
	struct token t;

	lex_next(&lx, &t);
	if (t.kind == TOK_SPECIAL && t.c == '@') {
		while (!(t.kind == TOK_SPECIAL && t.c == ':')) {
			if (t.kind == TOK_END || t.kind == TOK_ERROR)
				return "source route without ':' in angle address";
			lex_next(&lx, &t);
		}
		from = lx.pos;
	} else if (t.kind == TOK_END) {
		return NULL;	/* "<>": nothing to deliver to */
	}
	return put_addr_spec(s, from, to, o);
}

struct item {
	size_t start;		/* where the current mailbox began */
	bool words;		/* it has some token */
	bool in_angle;
	bool angle_done;
	size_t a_start, a_end;	/* inside the angle brackets */
};

/* item_reset - start a new mailbox at pos */
static void item_reset(struct item *it, size_t pos)
{
	memset(it, 0, sizeof(*it));
	it->start = pos;
}

/* item_emit - format the finished mailbox and hand it over: 1, 0 (empty), -1, -2 */
static int item_emit(const char *s, const struct item *it, size_t end,
		     int (*fn)(void *ctx, const char *addr), void *ctx, const char **why)
{
	struct out o;

	o.n = 0;
	o.overflow = false;
	if (it->angle_done)
		*why = put_angle(s, it->a_start, it->a_end, &o);
	else if (it->words)
		*why = put_addr_spec(s, it->start, end, &o);
	else
		return 0;
	if (*why == NULL && o.overflow)
		*why = "address longer than 998 bytes";
	if (*why != NULL)
		return -1;
	if (o.n == 0)
		return 0;
	o.buf[o.n] = '\0';
	return fn(ctx, o.buf) < 0 ? -2 : 1;
}

/* in_angle_token - a token between '<' and '>': 0 to go on, -1 on error */
static int in_angle_token(struct item *it, const struct token *t, const char **why)
{
	if (t->kind == TOK_END) {
		*why = "missing '>' in address list";
		return -1;
	}
	if (t->kind == TOK_SPECIAL && t->c == '<') {
		*why = "'<' inside an angle address";
		return -1;
	}
	if (t->kind == TOK_SPECIAL && t->c == '>') {
		it->in_angle = false;
		it->angle_done = true;
		it->a_end = t->start;
	}
	return 0;
}

/* rfc5322_parse_addresses - walk mailboxes and groups, one callback per address */
int rfc5322_parse_addresses(const char *value, size_t len,
			    int (*fn)(void *ctx, const char *addr), void *ctx,
			    const char **why)
{
	struct lexer lx = { value, len, 0 };
	struct item it;
	struct token t;
	const char *dummy = NULL;
	int count = 0;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	item_reset(&it, 0);
	for (;;) {
		lex_next(&lx, &t);
		if (t.kind == TOK_ERROR) {
			*why = t.why;
			return -1;
		}
		if (it.in_angle) {
			if (in_angle_token(&it, &t, why) < 0)
				return -1;
			continue;
		}
		char c = t.kind == TOK_SPECIAL ? t.c : '\0';
		if (t.kind == TOK_END || c == ',' || c == ';') {
			int r = item_emit(value, &it, t.start, fn, ctx, why);
			if (r < 0)
				return r;
			if (count == INT_MAX) {
				*why = "too many addresses in list";
				return -1;
			}
			count += r;
			if (t.kind == TOK_END)
				return count;
			item_reset(&it, lx.pos);
		} else if (c == ':' && !it.angle_done) {
			/* a group: its display name delivers nowhere */
			item_reset(&it, lx.pos);
		} else if (c == '<') {
			if (it.angle_done) {
				*why = "two angle addresses in one mailbox";
				return -1;
			}
			it.in_angle = true;
			it.a_start = lx.pos;
		} else if (c == '>') {
			*why = "'>' without '<' in address list";
			return -1;
		} else {
			/* text after <...> is ignored: the address is not in doubt */
			it.words = true;
		}
	}
}

/* rfc5322_field_name - length of the field name that starts line, or 0 */
size_t rfc5322_field_name(const char *line, size_t len)
{
	size_t n = 0, i;

	while (n < len && line[n] != ':' && (unsigned char)line[n] >= 33
	       && (unsigned char)line[n] <= 126)
		n++;
	if (n == 0)
		return 0;
	/* obsolete syntax allows white space before the colon (RFC 5322 4.5) */
	for (i = n; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	return i < len && line[i] == ':' ? n : 0;
}

/* ascii_lower - tolower without the locale */
static unsigned char ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* rfc5322_name_is - field names compare without regard to ASCII case */
bool rfc5322_name_is(const char *name, size_t namelen, const char *want)
{
	size_t i;

	for (i = 0; i < namelen; i++) {
		if (want[i] == '\0'
		    || ascii_lower((unsigned char)name[i]) != ascii_lower((unsigned char)want[i]))
			return false;
	}
	return want[i] == '\0';
}

/* one mailbox as rfc5322_bare_addresses sees it */
struct bare {
	bool in_angle, angle_done;
	bool at;		/* an '@' in the address part */
	bool name;		/* some address text (outside <> or inside it) */
	bool plain;		/* outside <>: one run of atoms, quoted strings and dots */
	size_t end;		/* just past the last token of the address text */
	size_t prev_end;	/* just past the previous token, to see white space */
};

/* token_end - the offset just past token t */
static size_t token_end(const struct token *t)
{
	if (t->kind == TOK_QSTRING || t->kind == TOK_DLIT)
		return t->off + t->n + 1;
	if (t->kind == TOK_SPECIAL)
		return t->start + 1;
	return t->off + t->n;
}

/* bare_token - account for one token of a mailbox */
static void bare_token(struct bare *b, const struct token *t)
{
	bool word = t->kind == TOK_ATOM || t->kind == TOK_QSTRING;
	bool dot = t->kind == TOK_SPECIAL && t->c == '.';
	bool at = t->kind == TOK_SPECIAL && t->c == '@';
	if (b->in_angle) {
		if (t->kind == TOK_SPECIAL && t->c == ':') {
			b->at = false;	/* the end of an obsolete route */
			b->name = false;
		} else if (t->kind == TOK_SPECIAL && t->c == '>') {
			b->in_angle = false;
			b->angle_done = true;
			b->end = t->start;
		} else {
			b->at = b->at || at;
			b->name = b->name || word;
		}
		return;
	}
	if (b->angle_done)
		return;		/* text after <...> changes nothing */
	if (b->name && t->start != b->prev_end)
		b->plain = false;	/* two words: a phrase, not a local name */
	if (!b->name)
		b->plain = true;
	b->at = b->at || at;
	b->plain = b->plain && (word || dot);
	b->name = true;
	b->end = token_end(t);
	b->prev_end = b->end;
}

/* bare_done - report the mailbox's completion point, if it is a bare name */
static int bare_done(const struct bare *b, int (*fn)(void *ctx, size_t offset), void *ctx)
{
	bool bare = b->angle_done ? b->name && !b->at : b->name && b->plain && !b->at;
	if (!bare)
		return 0;
	return fn(ctx, b->end) < 0 ? -2 : 1;
}

/* rfc5322_bare_addresses - where each bare local name needs its domain */
int rfc5322_bare_addresses(const char *value, size_t len,
			   int (*fn)(void *ctx, size_t offset), void *ctx, const char **why)
{
	struct lexer lx = { value, len, 0 };
	struct bare b;
	struct token t;
	const char *dummy = NULL;
	int count = 0;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	memset(&b, 0, sizeof b);
	for (;;) {
		lex_next(&lx, &t);
		if (t.kind == TOK_ERROR) {
			*why = t.why;
			return -1;
		}
		char c = t.kind == TOK_SPECIAL ? t.c : '\0';
		if (!b.in_angle && (t.kind == TOK_END || c == ',' || c == ';' ||
				    (c == ':' && !b.angle_done))) {
			int r = c == ':' ? 0 : bare_done(&b, fn, ctx);
			if (r < 0)
				return r;
			count += r;
			if (t.kind == TOK_END)
				return count;
			memset(&b, 0, sizeof b);
		} else if (!b.in_angle && c == '<' && !b.angle_done) {
			memset(&b, 0, sizeof b);	/* what came before was a display name */
			b.in_angle = true;
		} else if (b.in_angle && t.kind == TOK_END) {
			*why = "missing '>' in address list";
			return -1;
		} else {
			bare_token(&b, &t);
		}
	}
}
