/*
 * rfc5322 - pure parsing of RFC 5322 header fields and address lists.
 * No I/O, no allocation beyond the caller's buffers: a fuzz target.
 *
 * Understands folding, display names, quoted strings (with commas and
 * escaped characters), comments (nested), angle addresses, obsolete source
 * routes, groups ("undisclosed-recipients:;", "team: a@x, b@y;"), and the
 * broken forms real mailers write (missing '>', stray commas, bare names).
 */
#ifndef RELAYMAIL_RFC5322_H
#define RELAYMAIL_RFC5322_H

#include <stdbool.h>
#include <stddef.h>

/* longest address handed to the callback (RFC 5321 path limit is 256) */
#define RFC5322_ADDR_MAX 998

/*
 * rfc5322_field_name - length of the field name at the start of line (the
 * bytes before ':', printable ASCII 33..126 but ':', whitespace allowed only
 * between the name and the colon), or 0 when line does not start a field.
 */
size_t rfc5322_field_name(const char *line, size_t len);

/* rfc5322_name_is - case-insensitive comparison of a field name */
bool rfc5322_name_is(const char *name, size_t namelen, const char *want);

/*
 * rfc5322_parse_addresses - walk the address list in value (a field body,
 * possibly folded with CRLF or LF followed by white space) and call
 * fn(ctx, addr) once per mailbox, with addr the bare addr-spec as it goes
 * into MAIL FROM/RCPT TO: comments, display names, angle brackets and
 * white space outside quoted strings removed; a quoted local part kept
 * quoted only when it needs to be. A mailbox without '@' (a local name
 * such as "root") is passed as it is. Group names and empty groups yield
 * nothing.
 *
 * Tolerated: empty items and stray commas, ';' outside a group, a group
 * without its ';', anything after a complete <...> (ignored), RFC 2047
 * encoded words in display names (taken whole, commas and all), 8-bit
 * display names. An unquoted Outlook "Doe, John <j@x>" yields "Doe" and
 * "j@x". Refused (-1): words around an address without <> ("John a@x",
 * "a@x junk"), more than one '@', an empty local part or domain label,
 * control characters or NUL outside quoted strings, NUL anywhere.
 *
 * Result: the number of addresses found; -1 when the list is malformed
 * beyond recovery (unbalanced quote or angle bracket, address longer than
 * RFC5322_ADDR_MAX), *why then naming the problem (static text); -2 when
 * fn returned -1, which stops the walk.
 */
int rfc5322_parse_addresses(const char *value, size_t len,
			    int (*fn)(void *ctx, const char *addr), void *ctx,
			    const char **why);

/*
 * rfc5322_bare_addresses - find the mailboxes of an address list that are
 * bare local names ("root", "root (Cron Daemon)", "Cron <root>") and call
 * fn(ctx, offset) for each, in increasing order, with the offset into
 * value where "@domain" completes it (after the name, before any comment
 * or '>'). Display names, comments and white space are left alone, so a
 * caller can rewrite the field by inserting text at those offsets.
 * Result: the number of offsets reported, -1 when the list is malformed
 * (*why says why), -2 when fn returned -1.
 */
int rfc5322_bare_addresses(const char *value, size_t len,
			   int (*fn)(void *ctx, size_t offset), void *ctx, const char **why);

#endif
