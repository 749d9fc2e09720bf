/* tlssess - the server's certificate taken out of a saved session; see tlssess.h */
#include "tlssess.h"

#include <stdbool.h>
#include <stdint.h>

#define TAG_INTEGER 0x02
#define TAG_SEQUENCE 0x30
#define TAG_PEER 0xa3		/* [3] EXPLICIT: the server's certificate */
#define SESSION_VERSION 0x01	/* SSL_SESSION_ASN1_VERSION */

/* one DER element: where it starts, its tag, where its content is */
struct element {
	size_t start;
	unsigned char tag;
	size_t body;		/* offset of the content */
	size_t len;		/* content length */
};

/*
 * read_element - the element at der[at..end): one-byte tag, definite
 * minimal length, content inside end. 0, or -1 when malformed.
 */
static int read_element(const unsigned char *der, size_t at, size_t end, struct element *e)
{
	if (end - at < 2 || (der[at] & 0x1f) == 0x1f)
		return -1;	/* no room for a header, or a multi-byte tag */
	e->start = at;
	e->tag = der[at];
	unsigned char first = der[at + 1];
	size_t pos = at + 2;
	if (first < 0x80) {
		e->len = first;
	} else {
		size_t count = first & 0x7f;
		/* 0x80 is the indefinite form (not DER); sizes beyond 4 octets are not sessions */
		if (count == 0 || count > 4 || end - pos < count || der[pos] == 0)
			return -1;
		e->len = 0;
		for (size_t i = 0; i < count; i++)
			e->len = e->len << 8 | der[pos + i];
		pos += count;
		if (e->len < 0x80)
			return -1;	/* the short form was required */
	}
	if (e->len > end - pos)
		return -1;
	e->body = pos;
	return 0;
}

/* put_header - tag and minimal DER length of len into out */
static int put_header(struct buf *out, unsigned char tag, size_t len)
{
	unsigned char h[6];
	size_t n = 0;
	h[n++] = tag;
	if (len < 0x80) {
		h[n++] = (unsigned char)len;
	} else {
		size_t count = len > 0xffffff ? 4 : len > 0xffff ? 3 : len > 0xff ? 2 : 1;
		h[n++] = (unsigned char)(0x80 | count);
		for (size_t i = count; i > 0; i--)
			h[n++] = (unsigned char)(len >> (8 * (i - 1)));
	}
	return buf_append(out, h, n);
}

/*
 * find_peer - walk the SEQUENCE's elements: the first must be the version
 * INTEGER 1, exactly one must be [3]. 0 with *peer set, or -1.
 */
static int find_peer(const unsigned char *der, const struct element *seq, struct element *peer)
{
	size_t end = seq->body + seq->len;
	bool found = false;
	struct element e;
	for (size_t at = seq->body; at < end; at = e.body + e.len) {
		if (read_element(der, at, end, &e) < 0)
			return -1;
		if (at == seq->body &&
		    (e.tag != TAG_INTEGER || e.len != 1 || der[e.body] != SESSION_VERSION))
			return -1;
		if (e.tag == TAG_PEER) {
			if (found)
				return -1;
			*peer = e;
			found = true;
		}
	}
	return found ? 0 : -1;
}

/* tlssess_strip_peer - the session's DER without its [3] element */
int tlssess_strip_peer(const unsigned char *der, size_t n, struct buf *out)
{
	struct element seq, peer;
	if (der == NULL || read_element(der, 0, n, &seq) < 0 || seq.tag != TAG_SEQUENCE ||
	    seq.body + seq.len != n || find_peer(der, &seq, &peer) < 0)
		return -1;
	size_t peer_end = peer.body + peer.len;
	size_t saved = out->len;
	if (put_header(out, TAG_SEQUENCE, seq.len - (peer_end - peer.start)) < 0 ||
	    buf_append(out, der + seq.body, peer.start - seq.body) < 0 ||
	    buf_append(out, der + peer_end, n - peer_end) < 0) {
		if (out->data != NULL) {	/* a session holds its master key: wipe what came */
			wipe_memory(out->data + saved, out->len - saved);
			out->data[saved] = '\0';
		}
		out->len = saved;
		return -1;
	}
	return 0;
}
