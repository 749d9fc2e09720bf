/*
 * tlslib - the OpenSSL half of the program, kept in a private shared
 * object (relaymail-tls.so: tls, tlssess, crypto) that the program
 * opens with dlopen(3) the first time it needs TLS or a cryptographic
 * primitive. Linked in, libssl and libcrypto were loaded and bound by
 * every call, and a submission that only queues (-odq, -odb, mode =
 * queue or background) never uses them: the dynamic linker's work was
 * 92 % of its 4.0 M instructions.
 *
 * In the program, tlslib.c defines every function of tls.h and crypto.h
 * that the rest of the program calls, each forwarding to the library's
 * table (struct tlslib_table, exported as TLSLIB_SYMBOL by
 * tlslib_table.c); the unit tests and fuzz targets link tls.c and
 * crypto.c directly instead. The library's path is fixed when the
 * program is built (RELAYMAIL_TLS_LIB: the build tree for ./sendmail,
 * PKGLIBDIR for the installed copy), never taken from the environment:
 * the installed program is set-group-id.
 */
#ifndef RELAYMAIL_TLSLIB_H
#define RELAYMAIL_TLSLIB_H

#include <stddef.h>

#include "crypto.h"
#include "tls.h"

#define TLSLIB_SYMBOL "relaymail_tls_table"
#define TLSLIB_VERSION 2	/* raised whenever struct tlslib_table or a type it passes changes */

struct tlslib_table {
	unsigned version;	/* TLSLIB_VERSION of the library's build */
	size_t size;		/* sizeof (struct tlslib_table) there */
	__typeof__(tls_new) *tls_new;
	__typeof__(tls_handshake) *tls_handshake;
	__typeof__(tls_read) *tls_read;
	__typeof__(tls_write) *tls_write;
	__typeof__(tls_pending) *tls_pending;
	__typeof__(tls_error) *tls_error;
	__typeof__(tls_describe) *tls_describe;
	__typeof__(tls_check_settings) *tls_check_settings;
	__typeof__(tls_free) *tls_free;
	__typeof__(crypto_base64_encode) *crypto_base64_encode;
	__typeof__(crypto_base64_decode) *crypto_base64_decode;
	__typeof__(crypto_hex) *crypto_hex;
	__typeof__(crypto_hmac) *crypto_hmac;
	__typeof__(crypto_sha256) *crypto_sha256;
	__typeof__(crypto_pbkdf2_sha256) *crypto_pbkdf2_sha256;
	__typeof__(crypto_random) *crypto_random;
};

#endif
