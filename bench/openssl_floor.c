/*
 * openssl_floor - the least any OpenSSL client pays before its first byte
 * of TLS: the libraries loaded and bound, OpenSSL initialised as
 * relaymail's crypto_init does, one client context and one connection
 * object. No socket, no handshake, nothing freed (as relaymail at exit).
 * bench/run.py runs it beside W1: its CPU time is the part of relaymail's
 * that no change to relaymail can remove while it uses the system OpenSSL.
 */
#include <openssl/ssl.h>

int main(void)
{
	if (OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_SSL_STRINGS | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS |
				     OPENSSL_INIT_NO_ADD_ALL_CIPHERS | OPENSSL_INIT_NO_ATEXIT,
			     NULL) != 1)
		return 1;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		return 1;
	return SSL_new(ctx) != NULL ? 0 : 1;
}
