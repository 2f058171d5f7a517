/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Ed25519 signing of audit checkpoints (OpenSSL 3).
 *
 * The daemon's key is generated on first start under state_dir:
 *   audit-key.pem      the private key, PKCS#8 PEM, mode 0600
 *   audit-key.pub.pem  the public key, SubjectPublicKeyInfo PEM, 0644
 * Signatures travel as standard base64 (88 characters with padding). A
 * key is named by its key id: the first 16 lowercase hex digits of the
 * SHA-256 of the raw 32-byte public key.
 */
#ifndef MW_SIGN_H
#define MW_SIGN_H

#include <stdbool.h>
#include <stddef.h>

#define MW_SIGN_KEY_FILE "audit-key.pem"
#define MW_SIGN_PUB_FILE "audit-key.pub.pem"
#define MW_SIGN_KEY_ID_LEN 17 /* 16 hex digits and NUL */
#define MW_SIGN_B64_LEN 89 /* base64 of 64 bytes and NUL */

struct mw_signer;
struct mw_sign_pub;

/*
 * Loads state_dir/audit-key.pem, or generates it (and the public file) when
 * neither exists. A private key without its public file gets the public
 * file rewritten; a public file without the private key is an error (the
 * key was lost: say so rather than start a new identity silently).
 * The private key must be an unencrypted Ed25519 key owned by the effective
 * uid with no group or other permission bits; it is never replaced when it
 * is refused. A public file that holds another key is rewritten, warned.
 */
int mw_signer_open(struct mw_signer **out, const char *state_dir, char *err,
		   size_t errlen);
void mw_signer_free(struct mw_signer *s);
/*
 * Signs msg; writes the base64 signature (NUL-terminated). 0 or -1 (sig
 * is then empty).
 */
int mw_signer_sign(const struct mw_signer *s, const void *msg, size_t len,
		   char sig[MW_SIGN_B64_LEN]);
const char *mw_signer_key_id(const struct mw_signer *s);
/* Whether sig is this key's signature of msg (mw_sign_pub_verify). */
bool mw_signer_verify(const struct mw_signer *s, const void *msg, size_t len,
		      const char *sig);
/* The public key as PEM (NUL-terminated); the length, or -1. */
int mw_signer_public_pem(const struct mw_signer *s, char *out, size_t outlen);

/* A public key from a PEM file, or from PEM text (len bytes). */
int mw_sign_pub_load(struct mw_sign_pub **out, const char *path, char *err,
		     size_t errlen);
/* The same, also giving the file's text (*pem, NUL-terminated, *len bytes;
 * free() it) as it was read and parsed. */
int mw_sign_pub_load_pem(struct mw_sign_pub **out, const char *path, char **pem,
			 size_t *len, char *err, size_t errlen);
int mw_sign_pub_from_pem(struct mw_sign_pub **out, const char *pem, size_t len,
			 char *err, size_t errlen);
void mw_sign_pub_free(struct mw_sign_pub *p);
const char *mw_sign_pub_key_id(const struct mw_sign_pub *p);
/*
 * True when sig (base64) is a valid signature of msg by this key. Only the
 * canonical 88-character spelling is accepted; NULL or malformed input of
 * any kind is false.
 */
bool mw_sign_pub_verify(const struct mw_sign_pub *p, const void *msg,
			size_t len, const char *sig);

#endif
