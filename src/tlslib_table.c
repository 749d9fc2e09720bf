/* tlslib_table - what relaymail-tls.so offers the program; see tlslib.h */
#include "tlslib.h"

/* the one symbol the library exports (src/tlslib.map) */
extern const struct tlslib_table relaymail_tls_table;

const struct tlslib_table relaymail_tls_table = {
	.version = TLSLIB_VERSION,
	.size = sizeof(struct tlslib_table),
	.tls_new = tls_new,
	.tls_handshake = tls_handshake,
	.tls_read = tls_read,
	.tls_write = tls_write,
	.tls_pending = tls_pending,
	.tls_error = tls_error,
	.tls_describe = tls_describe,
	.tls_check_settings = tls_check_settings,
	.tls_free = tls_free,
	.crypto_base64_encode = crypto_base64_encode,
	.crypto_base64_decode = crypto_base64_decode,
	.crypto_hex = crypto_hex,
	.crypto_hmac = crypto_hmac,
	.crypto_sha256 = crypto_sha256,
	.crypto_pbkdf2_sha256 = crypto_pbkdf2_sha256,
	.crypto_random = crypto_random,
};
