/* auth - SASL client mechanisms for SMTP AUTH; see auth.h */
#include "auth.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"

#define SCRAM_ITER_MAX 1000000u	/* a hostile server must not make us spin for minutes */
#define AUTH_ROUNDS_MAX 6	/* challenges answered before giving up */
#define AUTH_LINE_MAX 16384	/* one base64 response line */

static int step_plain(struct auth_client *c, const unsigned char *in, size_t n, struct buf *out);
static int step_login(struct auth_client *c, const unsigned char *in, size_t n, struct buf *out);
static int step_cram(struct auth_client *c, const unsigned char *in, size_t n, struct buf *out);
static int step_scram(struct auth_client *c, const unsigned char *in, size_t n, struct buf *out);
static int step_xoauth2(struct auth_client *c, const unsigned char *in, size_t n, struct buf *out);
static int step_oauthbearer(struct auth_client *c, const unsigned char *in, size_t n,
			    struct buf *out);

static const struct auth_mech auth_mechs[] = {
	{ "SCRAM-SHA-256", CONF_MECH_SCRAM_SHA_256, 4, true, step_scram },
	/* under TLS, PLAIN with its initial response beats CRAM-MD5: one round
	 * trip instead of two, and no MD5 or password kept in clear by the
	 * server (RFC 8314 era); without TLS, conf allows AUTH only to a port
	 * where only root listens, so the same order holds there */
	{ "PLAIN", CONF_MECH_PLAIN, 3, true, step_plain },
	{ "CRAM-MD5", CONF_MECH_CRAM_MD5, 2, false, step_cram },
	{ "LOGIN", CONF_MECH_LOGIN, 1, false, step_login },
	{ "XOAUTH2", CONF_MECH_XOAUTH2, 0, true, step_xoauth2 },
	{ "OAUTHBEARER", CONF_MECH_OAUTHBEARER, 0, true, step_oauthbearer },
};
#define AUTH_NMECHS (sizeof auth_mechs / sizeof auth_mechs[0])

/* set_error - record why the exchange failed (our own words only) */
static int set_error(struct auth_client *c, const char *what)
{
	int r = snprintf(c->error, sizeof c->error, "%s: %s", c->mech->name, what);
	if (r < 0 || (size_t)r >= sizeof c->error)
		c->error[sizeof c->error - 1] = '\0';
	return -1;
}

/* auth_mech_by_name - table lookup by the name the server announces */
const struct auth_mech *auth_mech_by_name(const char *name, size_t n)
{
	for (size_t i = 0; i < AUTH_NMECHS; i++)
		if (strlen(auth_mechs[i].name) == n && strncasecmp(auth_mechs[i].name, name, n) == 0)
			return &auth_mechs[i];
	return NULL;
}

/* auth_mech_by_conf - table lookup by configured value */
const struct auth_mech *auth_mech_by_conf(enum conf_mech m)
{
	for (size_t i = 0; i < AUTH_NMECHS; i++)
		if (auth_mechs[i].mech == m)
			return &auth_mechs[i];
	return NULL;
}

/* auth_parse_offer - mask of the implemented mechanisms named in list */
unsigned auth_parse_offer(const char *list, size_t n)
{
	unsigned mask = 0;
	size_t i = 0;
	while (i < n) {
		while (i < n && isspace((unsigned char)list[i]))
			i++;
		size_t start = i;
		while (i < n && !isspace((unsigned char)list[i]))
			i++;
		const struct auth_mech *m = auth_mech_by_name(list + start, i - start);
		if (m != NULL)
			mask |= 1u << m->mech;
	}
	return mask;
}

/* auth_choose - wanted if offered; auto: the best offered */
const struct auth_mech *auth_choose(enum conf_mech wanted, unsigned offered, char *err,
				    size_t errlen)
{
	const struct auth_mech *best = NULL;
	int r;
	if (wanted != CONF_MECH_AUTO) {
		const struct auth_mech *m = auth_mech_by_conf(wanted);
		if (m != NULL && (offered & (1u << m->mech)))
			return m;
		r = snprintf(err, errlen, "smarthost does not offer AUTH %s",
			     m != NULL ? m->name : "(no mechanism)");
		if (r < 0 || (size_t)r >= errlen)
			err[errlen - 1] = '\0';
		return NULL;
	}
	for (size_t i = 0; i < AUTH_NMECHS; i++) {
		const struct auth_mech *m = &auth_mechs[i];
		if (m->rank == 0 || !(offered & (1u << m->mech)))
			continue;
		if (best == NULL || m->rank > best->rank)
			best = m;
	}
	if (best != NULL)
		return best;
	r = snprintf(err, errlen, "smarthost offers no AUTH mechanism that relaymail supports");
	if (r < 0 || (size_t)r >= errlen)
		err[errlen - 1] = '\0';
	return NULL;
}

/* auth_client_init - fresh exchange; the SCRAM nonce is made now */
int auth_client_init(struct auth_client *c, const struct auth_mech *m, const char *user,
		     const char *secret, const char *host, unsigned port)
{
	unsigned char raw[AUTH_NONCE_LEN * 3 / 4];
	struct buf b;
	memset(c, 0, sizeof *c);
	c->mech = m;
	c->user = user;
	c->secret = secret;
	c->host = host;
	c->port = port;
	buf_init(&c->auth_message, 4096);
	buf_init(&b, AUTH_NONCE_LEN);
	if (crypto_random(raw, sizeof raw) < 0 || crypto_base64_encode(raw, sizeof raw, &b) < 0 ||
	    b.len != AUTH_NONCE_LEN) {
		buf_free(&b);
		return set_error(c, "cannot make a random nonce");
	}
	memcpy(c->nonce, b.data, AUTH_NONCE_LEN + 1);
	buf_free(&b);
	return 0;
}

/* auth_client_step - dispatch to the mechanism, counting rounds */
int auth_client_step(struct auth_client *c, const unsigned char *in, size_t n, struct buf *out)
{
	if (in == NULL && (!c->mech->initial || c->round != 0))
		return set_error(c, "no initial response");
	if (c->round > AUTH_ROUNDS_MAX)
		return set_error(c, "too many challenges");
	int r = c->mech->step(c, in, n, out);
	c->round++;
	return r;
}

/* step_plain - "\0user\0secret" (RFC 4616, empty authzid) */
static int step_plain(struct auth_client *c, const unsigned char *in, size_t n, struct buf *out)
{
	(void)in;
	(void)n;
	if (c->round != 0)
		return set_error(c, "unexpected challenge");
	if (buf_putc(out, '\0') < 0 || buf_puts(out, c->user) < 0 || buf_putc(out, '\0') < 0 ||
	    buf_puts(out, c->secret) < 0)
		return set_error(c, "credentials too long");
	return 0;
}

/* step_login - user, then password, whatever the prompts say */
static int step_login(struct auth_client *c, const unsigned char *in, size_t n, struct buf *out)
{
	(void)in;
	(void)n;
	if (c->round > 1)
		return set_error(c, "unexpected challenge");
	if (buf_puts(out, c->round == 0 ? c->user : c->secret) < 0)
		return set_error(c, "credentials too long");
	return 0;
}

/* step_cram - "user hex(HMAC-MD5(secret, challenge))" (RFC 2195) */
static int step_cram(struct auth_client *c, const unsigned char *in, size_t n, struct buf *out)
{
	unsigned char mac[64];
	size_t maclen = 0;
	if (c->round != 0)
		return set_error(c, "unexpected challenge");
	if (n == 0)
		return set_error(c, "empty challenge");
	int r = crypto_hmac("md5", c->secret, strlen(c->secret), in, n, mac, &maclen);
	if (r == 0 && (buf_puts(out, c->user) < 0 || buf_putc(out, ' ') < 0 ||
		       crypto_hex(mac, maclen, out) < 0))
		r = -1;
	wipe_memory(mac, sizeof mac);
	return r < 0 ? set_error(c, "cannot compute the response") : 0;
}

/* put_saslname - user with ',' and '=' escaped (RFC 5802 saslname) */
static int put_saslname(struct buf *out, const char *user)
{
	for (const char *p = user; *p != '\0'; p++) {
		int r = *p == ',' ? buf_puts(out, "=2C")
			: *p == '=' ? buf_puts(out, "=3D") : buf_putc(out, *p);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* scram_attr - value of attribute key in a "k=v,k=v" message, or NULL */
static const char *scram_attr(const char *msg, char key, size_t *len)
{
	const char *p = msg;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		if (end - p >= 2 && p[0] == key && p[1] == '=') {
			*len = (size_t)(end - p - 2);
			return p + 2;
		}
		p = *end == ',' ? end + 1 : end;
	}
	return NULL;
}

/* scram_keys - ClientProof and the expected ServerSignature from the salt */
static int scram_keys(struct auth_client *c, const unsigned char *salt, size_t saltlen,
		      unsigned iter, unsigned char proof[32])
{
	unsigned char salted[32] = { 0 }, ckey[32] = { 0 }, stored[32] = { 0 }, csig[32] = { 0 },
		      skey[32] = { 0 };
	size_t l1 = 0, l2 = 0, l3 = 0, l4 = 0;
	const char *am = buf_cstr(&c->auth_message);
	size_t amlen = c->auth_message.len;
	int r = crypto_pbkdf2_sha256(c->secret, strlen(c->secret), salt, saltlen, iter,
				     salted, sizeof salted);
	if (r == 0)
		r = crypto_hmac("sha256", salted, 32, "Client Key", 10, ckey, &l1);
	if (r == 0)
		r = crypto_sha256(ckey, 32, stored);
	if (r == 0)
		r = crypto_hmac("sha256", stored, 32, am, amlen, csig, &l2);
	if (r == 0)
		r = crypto_hmac("sha256", salted, 32, "Server Key", 10, skey, &l3);
	if (r == 0)
		r = crypto_hmac("sha256", skey, 32, am, amlen, c->server_sig, &l4);
	if (r == 0 && (l1 != 32 || l2 != 32 || l3 != 32 || l4 != 32))
		r = -1;
	for (size_t i = 0; r == 0 && i < 32; i++)
		proof[i] = ckey[i] ^ csig[i];
	wipe_memory(salted, sizeof salted);
	wipe_memory(ckey, sizeof ckey);
	wipe_memory(stored, sizeof stored);
	wipe_memory(csig, sizeof csig);
	wipe_memory(skey, sizeof skey);
	return r;
}

/* scram_final - client-final-message answering server-first (in) */
static int scram_final(struct auth_client *c, const char *first, struct buf *out)
{
	size_t rlen = 0, slen = 0, ilen = 0, nlen = strlen(c->nonce);
	const char *rv = scram_attr(first, 'r', &rlen), *sv = scram_attr(first, 's', &slen);
	const char *iv = scram_attr(first, 'i', &ilen);
	unsigned long iter = 0;
	unsigned char proof[32];
	struct buf salt;
	if (first[0] == 'm' || rv == NULL || sv == NULL || iv == NULL || ilen == 0 || ilen > 9)
		return set_error(c, "malformed server-first-message");
	if (rlen <= nlen || memcmp(rv, c->nonce, nlen) != 0)
		return set_error(c, "server nonce does not extend ours");
	for (size_t i = 0; i < ilen; i++) {
		if (!isdigit((unsigned char)iv[i]))
			return set_error(c, "malformed iteration count");
		iter = iter * 10 + (unsigned long)(iv[i] - '0');
	}
	if (iter == 0 || iter > SCRAM_ITER_MAX)
		return set_error(c, "unacceptable iteration count");
	buf_init(&salt, 1024);
	if (crypto_base64_decode(sv, slen, &salt) < 0 || salt.len == 0) {
		buf_free(&salt);
		return set_error(c, "malformed salt");
	}
	size_t mark = out->len;
	int r = buf_printf(&c->auth_message, ",%s,c=biws,r=%.*s", first, (int)rlen, rv);
	if (r == 0)
		r = scram_keys(c, (const unsigned char *)salt.data, salt.len, (unsigned)iter, proof);
	if (r == 0)
		r = buf_printf(out, "c=biws,r=%.*s,p=", (int)rlen, rv);
	if (r == 0)
		r = crypto_base64_encode(proof, sizeof proof, out);
	wipe_memory(proof, sizeof proof);
	buf_free(&salt);
	if (r < 0) {
		wipe_memory(out->data + mark, out->len - mark);
		out->len = mark;
		return set_error(c, "cannot compute the client proof");
	}
	return 0;
}

/* scram_verify - check "v=ServerSignature" of server-final (RFC 5802 3) */
static int scram_verify(struct auth_client *c, const char *final, size_t n)
{
	struct buf sig;
	unsigned char diff = 0;
	if (n >= 2 && final[0] == 'e' && final[1] == '=') {
		char why[64];
		size_t k = 0;
		/* auth links without log.c: show the server's words printable here */
		for (size_t i = 2; i < n && k < sizeof why - 1; i++, k++)
			why[k] = final[i] >= 0x20 && final[i] < 0x7f ? final[i] : '?';
		why[k] = '\0';
		char msg[AUTH_ERROR_MAX];
		int r = snprintf(msg, sizeof msg, "server refused: %s", why);
		return set_error(c, r < 0 ? "server refused" : msg);
	}
	if (n < 2 || final[0] != 'v' || final[1] != '=')
		return set_error(c, "malformed server-final-message");
	size_t end = 2;
	while (end < n && final[end] != ',')
		end++;
	buf_init(&sig, 64);
	if (crypto_base64_decode(final + 2, end - 2, &sig) < 0 || sig.len != 32) {
		buf_free(&sig);
		return set_error(c, "malformed server signature");
	}
	for (size_t i = 0; i < 32; i++)
		diff |= (unsigned char)(sig.data[i] ^ (char)c->server_sig[i]);
	buf_free(&sig);
	if (diff != 0)
		return set_error(c, "wrong server signature: the server does not know the password");
	c->verified = true;
	return 0;
}

/* step_scram - client-first, client-final, then the empty answer to server-final */
static int step_scram(struct auth_client *c, const unsigned char *in, size_t n, struct buf *out)
{
	if (c->round == 0) {
		size_t mark = c->auth_message.len;
		if (buf_puts(&c->auth_message, "n=") < 0 ||
		    put_saslname(&c->auth_message, c->user) < 0 ||
		    buf_printf(&c->auth_message, ",r=%s", c->nonce) < 0 ||
		    buf_puts(out, "n,,") < 0 ||
		    buf_append(out, c->auth_message.data + mark, c->auth_message.len - mark) < 0)
			return set_error(c, "user name too long");
		return 0;
	}
	if (c->round == 1) {
		char first[1024];
		if (n == 0 || n >= sizeof first || memchr(in, '\0', n) != NULL)
			return set_error(c, "malformed server-first-message");
		memcpy(first, in, n);
		first[n] = '\0';
		return scram_final(c, first, out);
	}
	if (c->round == 2 && !c->verified)
		return scram_verify(c, (const char *)in, n);
	return set_error(c, "unexpected challenge");
}

/* step_xoauth2 - Google's format; an error challenge gets the empty answer */
static int step_xoauth2(struct auth_client *c, const unsigned char *in, size_t n, struct buf *out)
{
	(void)in;
	(void)n;
	if (c->round == 1)
		return 0;	/* the server then ends the exchange with its 5xx */
	if (c->round != 0)
		return set_error(c, "unexpected challenge");
	if (buf_printf(out, "user=%s\001auth=Bearer %s\001\001", c->user, c->secret) < 0)
		return set_error(c, "token too long");
	return 0;
}

/* step_oauthbearer - RFC 7628 client response; an error gets the lone %x01 */
static int step_oauthbearer(struct auth_client *c, const unsigned char *in, size_t n,
			    struct buf *out)
{
	(void)in;
	(void)n;
	if (c->round == 1)
		return buf_putc(out, '\001') < 0 ? set_error(c, "out of memory") : 0;
	if (c->round != 0)
		return set_error(c, "unexpected challenge");
	int r = buf_puts(out, "n,a=") < 0 || put_saslname(out, c->user) < 0 ? -1 : 0;
	if (r == 0 && c->host != NULL)
		r = buf_printf(out, ",\001host=%s\001port=%u", c->host, c->port);
	else if (r == 0)
		r = buf_puts(out, ",");
	if (r == 0)
		r = buf_printf(out, "\001auth=Bearer %s\001\001", c->secret);
	return r < 0 ? set_error(c, "token too long") : 0;
}

/* auth_client_success - a 235 is only trusted once SCRAM proved the server */
int auth_client_success(struct auth_client *c, const char *b64, size_t n)
{
	struct buf final;
	if (c->mech->mech != CONF_MECH_SCRAM_SHA_256 || c->verified)
		return 0;
	if (c->round < 2 || n == 0)
		return set_error(c, "server accepted us without proving it knows the password");
	buf_init(&final, 1024);
	int r = crypto_base64_decode(b64, n, &final);
	r = r < 0 ? set_error(c, "malformed server-final-message")
		  : scram_verify(c, buf_cstr(&final), final.len);
	buf_free(&final);
	return r;
}

/* auth_client_wipe - drop the exchange's state */
void auth_client_wipe(struct auth_client *c)
{
	buf_wipe(&c->auth_message);
	wipe_memory(c->server_sig, sizeof c->server_sig);
	wipe_memory(c->nonce, sizeof c->nonce);
	c->secret = NULL;
}

/* send_response - one base64 line (after prefix), shown redacted, then wiped */
static int send_response(const struct auth_wire *w, const char *prefix, const struct buf *raw)
{
	struct buf line;
	char shown[64];
	int n = snprintf(shown, sizeof shown, "%s%s", prefix,
			 raw->len > 0 || *prefix != '\0' ? "<redacted>" : "");
	if (n < 0 || (size_t)n >= sizeof shown)
		return -1;
	buf_init(&line, AUTH_LINE_MAX);
	int r = buf_puts(&line, prefix);
	if (r == 0 && *prefix != '\0' && raw->len == 0)
		r = buf_putc(&line, '=');	/* RFC 4954: an empty initial response */
	if (r == 0)
		r = crypto_base64_encode(raw->data != NULL ? raw->data : "", raw->len, &line);
	if (r == 0)
		r = w->send(w->ctx, buf_cstr(&line), line.len, shown);
	buf_wipe(&line);
	return r;
}

/* cancel - our side failed: "*" ends the exchange (RFC 4954), the 501 is read */
static enum auth_outcome cancel(const struct auth_wire *w)
{
	int code;
	const char *text;
	size_t n;
	if (w->send(w->ctx, "*", 1, NULL) < 0 || w->reply(w->ctx, &code, &text, &n) < 0)
		return AUTH_LOST;
	return AUTH_FAILED;
}

/* answer - the response to one 334 challenge (base64 text, n bytes) */
static enum auth_outcome answer(struct auth_client *c, const struct auth_wire *w,
				const char *text, size_t n)
{
	struct buf chal, raw;
	buf_init(&chal, AUTH_LINE_MAX);
	buf_init(&raw, AUTH_LINE_MAX);
	int r = crypto_base64_decode(text, n, &chal);
	if (r < 0)
		set_error(c, "malformed challenge from the server");
	else
		r = auth_client_step(c, (const unsigned char *)buf_cstr(&chal), chal.len, &raw);
	buf_wipe(&chal);
	if (r == 0 && send_response(w, "", &raw) < 0) {
		buf_wipe(&raw);
		return AUTH_LOST;
	}
	buf_wipe(&raw);
	return r < 0 ? cancel(w) : AUTH_OK;
}

/* success - a 235: past an enhanced code, SCRAM's server-final may follow */
static enum auth_outcome success(struct auth_client *c, const char *text, size_t n)
{
	size_t i = 0;
	if (n > 0 && isdigit((unsigned char)text[0]) && memchr(text, '.', n) != NULL) {
		while (i < n && text[i] != ' ')
			i++;	/* "2.7.0" */
		while (i < n && text[i] == ' ')
			i++;
	}
	size_t end = i;
	while (end < n && text[end] != ' ')
		end++;
	return auth_client_success(c, text + i, end - i) < 0 ? AUTH_FAILED : AUTH_OK;
}

/* auth_run - AUTH, then challenges and responses until the server decides */
enum auth_outcome auth_run(struct auth_client *c, const struct auth_wire *w)
{
	char prefix[64];
	int n = snprintf(prefix, sizeof prefix, "AUTH %s%s", c->mech->name,
			 c->mech->initial ? " " : "");
	if (n < 0 || (size_t)n >= sizeof prefix) {
		set_error(c, "mechanism name too long");
		return AUTH_FAILED;
	}
	if (c->mech->initial) {
		struct buf raw;
		buf_init(&raw, AUTH_LINE_MAX);
		int r = auth_client_step(c, NULL, 0, &raw);
		if (r == 0 && send_response(w, prefix, &raw) < 0)
			r = 1;
		buf_wipe(&raw);
		if (r != 0)
			return r < 0 ? AUTH_FAILED : AUTH_LOST;
	} else if (w->send(w->ctx, prefix, (size_t)n, NULL) < 0) {
		return AUTH_LOST;
	}
	for (unsigned round = 0;; round++) {
		int code;
		const char *text;
		size_t len;
		if (w->reply(w->ctx, &code, &text, &len) < 0)
			return AUTH_LOST;
		if (code == 235)
			return success(c, text, len);
		if (code != 334)
			return AUTH_REFUSED;
		if (round >= AUTH_ROUNDS_MAX) {
			set_error(c, "too many challenges");
			return cancel(w);
		}
		enum auth_outcome o = answer(c, w, text, len);
		if (o != AUTH_OK)
			return o;
	}
}
