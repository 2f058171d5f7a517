// SPDX-License-Identifier: BSD-2-Clause
#include "sign.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "atomic_file.h"
#include "digest.h"
#include "fdio.h"
#include "log.h"

/* An Ed25519 key PEM is a few hundred bytes: anything much larger is not
 * one, and is not worth reading into memory. */
#define MW_SIGN_MAX_PEM (16 * 1024)
#define MW_SIGN_RAW_PUB 32
#define MW_SIGN_RAW_SIG 64
#define MW_SIGN_B64_SIG (MW_SIGN_B64_LEN - 1)

struct mw_signer {
	EVP_PKEY *pkey;
	char key_id[MW_SIGN_KEY_ID_LEN];
	char *pub_pem; /* NUL-terminated */
	size_t pub_len;
};

struct mw_sign_pub {
	EVP_PKEY *pkey;
	char key_id[MW_SIGN_KEY_ID_LEN];
};

/* The most specific reason OpenSSL queued, and an empty queue after it so
 * that the next failure does not report this one. */
static void set_ssl_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	mw_set_err(err, errlen, "%s%s%s", what, reason ? ": " : "",
		   reason ? reason : "");
	ERR_clear_error();
}

/* A key file is never encrypted; without this, OpenSSL would prompt on the
 * terminal for a passphrase. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static int key_id_of(const EVP_PKEY *pkey, char id[MW_SIGN_KEY_ID_LEN])
{
	unsigned char raw[MW_SIGN_RAW_PUB];
	size_t rawlen = sizeof(raw);
	char hex[MW_SHA256_HEX];

	if (!EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) ||
	    rawlen != sizeof(raw) || mw_sha256_hex(raw, rawlen, hex))
		return -1;
	memcpy(id, hex, MW_SIGN_KEY_ID_LEN - 1);
	id[MW_SIGN_KEY_ID_LEN - 1] = '\0';
	return 0;
}

static int check_ed25519(const EVP_PKEY *pkey, const char *what, char *err,
			 size_t errlen)
{
	const char *type;

	if (EVP_PKEY_is_a(pkey, "ED25519"))
		return 0;
	type = EVP_PKEY_get0_type_name(pkey);
	mw_set_err(err, errlen, "%s: a key of type %s, not Ed25519", what,
		   type ? type : "non-Ed25519");
	return -1;
}

/*
 * Reads a whole regular file of at most MW_SIGN_MAX_PEM bytes into a
 * NUL-terminated buffer. With private set, the file must belong to the
 * daemon's user and be closed to everyone else: a key others can read
 * signs nothing an auditor should trust. *absent tells a file that does not
 * exist from one that cannot be used.
 */
static int read_pem(const char *path, bool private, bool *absent, char **out,
		    size_t *outlen, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len;
	ssize_t n;
	int fd;

	*absent = false;
	/* O_NONBLOCK: a FIFO planted in the key's place must not hang the
	 * daemon before fstat says it is no file. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		*absent = errno == ENOENT;
		mw_set_err(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st)) {
		mw_set_err(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		mw_set_err(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	if (private && st.st_uid != geteuid()) {
		mw_set_err(err, errlen,
			   "%s: owned by uid %u, not by uid %u that the "
			   "daemon runs as: chown it to the daemon's user",
			   path, (unsigned)st.st_uid, (unsigned)geteuid());
		goto fail;
	}
	if (private && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		mw_set_err(err, errlen,
			   "%s: open to group or others (mode %04o): the "
			   "signing key must be private; run chmod 600 %s",
			   path, (unsigned)(st.st_mode & 07777), path);
		goto fail;
	}
	if (st.st_size > MW_SIGN_MAX_PEM) {
		mw_set_err(err, errlen, "%s: larger than %d bytes", path,
			   MW_SIGN_MAX_PEM);
		goto fail;
	}
	/* One byte more than allowed, to notice a file that grew since. */
	buf = malloc(MW_SIGN_MAX_PEM + 2);
	if (!buf) {
		mw_set_err(err, errlen, "out of memory");
		goto fail;
	}
	n = mw_read_full(fd, buf, MW_SIGN_MAX_PEM + 1);
	if (n < 0) {
		mw_set_err(err, errlen, "%s: %s", path, strerror((int)-n));
		goto fail;
	}
	len = (size_t)n;
	if (len > MW_SIGN_MAX_PEM) {
		mw_set_err(err, errlen, "%s: larger than %d bytes", path,
			   MW_SIGN_MAX_PEM);
		goto fail;
	}
	buf[len] = '\0';
	close(fd);
	*out = buf;
	*outlen = len;
	return 0;
fail:
	if (buf) {
		OPENSSL_cleanse(buf, MW_SIGN_MAX_PEM + 2);
		free(buf);
	}
	close(fd);
	return -1;
}

static void free_pem(char *buf)
{
	if (!buf)
		return;
	OPENSSL_cleanse(buf, strlen(buf));
	free(buf);
}

/* Parses SubjectPublicKeyInfo PEM; what names the source in errors. */
static EVP_PKEY *parse_pub(const char *pem, size_t len, const char *what,
			   char *err, size_t errlen)
{
	EVP_PKEY *pkey = NULL;
	BIO *bio;

	if (!pem || !len) {
		mw_set_err(err, errlen, "%s: empty", what);
		return NULL;
	}
	if (len > MW_SIGN_MAX_PEM) {
		mw_set_err(err, errlen, "%s: larger than %d bytes", what,
			   MW_SIGN_MAX_PEM);
		return NULL;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		mw_set_err(err, errlen, "out of memory");
		return NULL;
	}
	pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (!pkey) {
		char msg[PATH_MAX + 64];

		snprintf(msg, sizeof(msg),
			 "%s: not a PEM public key (BEGIN PUBLIC KEY)", what);
		set_ssl_err(err, errlen, msg);
		return NULL;
	}
	if (check_ed25519(pkey, what, err, errlen)) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey;
}

static int pub_new(struct mw_sign_pub **out, EVP_PKEY *pkey, char *err,
		   size_t errlen)
{
	struct mw_sign_pub *p;

	if (!pkey)
		return -1;
	p = calloc(1, sizeof(*p));
	if (!p) {
		mw_set_err(err, errlen, "out of memory");
		EVP_PKEY_free(pkey);
		return -1;
	}
	p->pkey = pkey;
	if (key_id_of(pkey, p->key_id)) {
		set_ssl_err(err, errlen, "cannot compute the key id");
		mw_sign_pub_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

int mw_sign_pub_from_pem(struct mw_sign_pub **out, const char *pem, size_t len,
			 char *err, size_t errlen)
{
	return pub_new(out, parse_pub(pem, len, "public key", err, errlen), err,
		       errlen);
}

int mw_sign_pub_load_pem(struct mw_sign_pub **out, const char *path, char **pem,
			 size_t *len, char *err, size_t errlen)
{
	EVP_PKEY *pkey;
	bool absent;

	*out = NULL;
	*pem = NULL;
	if (read_pem(path, false, &absent, pem, len, err, errlen))
		return -1;
	pkey = parse_pub(*pem, *len, path, err, errlen);
	if (pub_new(out, pkey, err, errlen)) {
		free(*pem);
		*pem = NULL;
		return -1;
	}
	return 0;
}

int mw_sign_pub_load(struct mw_sign_pub **out, const char *path, char *err,
		     size_t errlen)
{
	size_t len;
	char *pem;

	if (mw_sign_pub_load_pem(out, path, &pem, &len, err, errlen))
		return -1;
	free(pem);
	return 0;
}

void mw_sign_pub_free(struct mw_sign_pub *p)
{
	if (!p)
		return;
	EVP_PKEY_free(p->pkey);
	free(p);
}

const char *mw_sign_pub_key_id(const struct mw_sign_pub *p)
{
	return p->key_id;
}

static bool is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/*
 * Only the one canonical spelling of a signature is accepted: EVP_DecodeBlock
 * skips blanks, ignores the padding and the spare bits of the last digit, so
 * several strings would otherwise verify as the same signature, and an
 * auditor comparing checkpoints as text would see two.
 */
static int decode_sig(const char *sig, unsigned char raw[MW_SIGN_RAW_SIG])
{
	/* EVP_DecodeBlock writes whole 3-byte groups: 66 bytes for 64. */
	unsigned char buf[(MW_SIGN_B64_SIG / 4) * 3];
	unsigned char again[MW_SIGN_B64_LEN];
	int i;

	if (!sig || strnlen(sig, MW_SIGN_B64_LEN) != MW_SIGN_B64_SIG)
		return -1;
	for (i = 0; i < MW_SIGN_B64_SIG - 2; i++)
		if (!is_b64(sig[i]))
			return -1;
	if (sig[MW_SIGN_B64_SIG - 2] != '=' || sig[MW_SIGN_B64_SIG - 1] != '=')
		return -1;
	if (EVP_DecodeBlock(buf, (const unsigned char *)sig, MW_SIGN_B64_SIG) !=
	    (int)sizeof(buf))
		return -1;
	memcpy(raw, buf, MW_SIGN_RAW_SIG);
	if (EVP_EncodeBlock(again, raw, MW_SIGN_RAW_SIG) != MW_SIGN_B64_SIG ||
	    memcmp(again, sig, MW_SIGN_B64_SIG))
		return -1;
	return 0;
}

static bool verify_with(EVP_PKEY *pkey, const void *msg, size_t len,
			const char *sig)
{
	unsigned char raw[MW_SIGN_RAW_SIG];
	EVP_MD_CTX *ctx;
	bool ok = false;

	if (!pkey || (!msg && len) || decode_sig(sig, raw))
		return false;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return false;
	/* Ed25519 hashes the message itself: no digest, one-shot only. */
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
	    EVP_DigestVerify(ctx, raw, sizeof(raw),
			     msg ? msg : (const void *)"", len) == 1)
		ok = true;
	EVP_MD_CTX_free(ctx);
	/* A forged signature is an answer, not an error to report later. */
	ERR_clear_error();
	return ok;
}

bool mw_sign_pub_verify(const struct mw_sign_pub *p, const void *msg,
			size_t len, const char *sig)
{
	return p && verify_with(p->pkey, msg, len, sig);
}

bool mw_signer_verify(const struct mw_signer *s, const void *msg, size_t len,
		      const char *sig)
{
	return s && verify_with(s->pkey, msg, len, sig);
}

/* The PEM of pkey, private (PKCS#8) or public (SubjectPublicKeyInfo), into
 * a NUL-terminated buffer to free with free_pem. */
static char *pem_of(EVP_PKEY *pkey, bool private, size_t *outlen)
{
	/* Secure memory: the private key is wiped when the BIO is freed. */
	BIO *bio = BIO_new(BIO_s_secmem());
	char *data, *out = NULL;
	long len;
	int ok;

	if (!bio)
		return NULL;
	if (private)
		ok = PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL,
					      NULL);
	else
		ok = PEM_write_bio_PUBKEY(bio, pkey);
	len = BIO_get_mem_data(bio, &data);
	if (ok && len > 0) {
		out = malloc((size_t)len + 1);
		if (out) {
			memcpy(out, data, (size_t)len);
			out[len] = '\0';
			*outlen = (size_t)len;
		}
	}
	BIO_free(bio);
	return out;
}

static int load_private(struct mw_signer *s, const char *path, bool *absent,
			char *err, size_t errlen)
{
	BIO *bio = NULL;
	char *pem = NULL;
	size_t len;
	int rc = -1;

	if (read_pem(path, true, absent, &pem, &len, err, errlen))
		return -1;
	if (!len) {
		mw_set_err(err, errlen, "%s: empty", path);
		goto out;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		mw_set_err(err, errlen, "out of memory");
		goto out;
	}
	s->pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (!s->pkey) {
		char msg[PATH_MAX + 64];

		snprintf(msg, sizeof(msg),
			 "%s: not an unencrypted PEM private key", path);
		set_ssl_err(err, errlen, msg);
		goto out;
	}
	if (check_ed25519(s->pkey, path, err, errlen))
		goto out;
	rc = 0;
out:
	BIO_free(bio);
	free_pem(pem);
	return rc;
}

/*
 * The private key first, then the public file: a crash in between leaves a
 * key without its public file, which the next start rewrites; the other
 * order would leave a public key that looks like a lost private one.
 */
static int generate(struct mw_signer *s, const char *state_dir, char *err,
		    size_t errlen)
{
	char *pem;
	size_t len;
	int rc;

	s->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!s->pkey) {
		set_ssl_err(err, errlen, "cannot generate an Ed25519 key");
		return -1;
	}
	pem = pem_of(s->pkey, true, &len);
	if (!pem) {
		set_ssl_err(err, errlen, "cannot encode the private key");
		return -1;
	}
	rc = mw_write_atomic(state_dir, MW_SIGN_KEY_FILE, pem, len, 0600, err,
			     errlen);
	free_pem(pem);
	return rc;
}

/* The public file must match the key: a stale one would make auditors
 * reject every checkpoint, or trust a key that is not the daemon's. */
static int sync_public(struct mw_signer *s, const char *state_dir,
		       const char *path, char *err, size_t errlen)
{
	char why[PATH_MAX + 128] = "", id[MW_SIGN_KEY_ID_LEN];
	EVP_PKEY *pkey;
	bool absent;
	char *pem;
	size_t len;

	if (read_pem(path, false, &absent, &pem, &len, why, sizeof(why))) {
		if (absent)
			log_info("audit signing key %s: writing its missing "
				 "public key %s",
				 s->key_id, path);
		else
			log_warn("audit signing key %s: %s; rewriting it",
				 s->key_id, why);
		goto write;
	}
	pkey = parse_pub(pem, len, path, why, sizeof(why));
	free_pem(pem);
	if (pkey && !key_id_of(pkey, id)) {
		if (EVP_PKEY_eq(pkey, s->pkey) == 1) {
			EVP_PKEY_free(pkey);
			return 0;
		}
		snprintf(why, sizeof(why), "%s holds another key, %s", path,
			 id);
	} else if (!why[0]) {
		snprintf(why, sizeof(why), "%s: unusable public key", path);
	}
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	log_warn("audit signing key %s: %s; rewriting it", s->key_id, why);
write:
	return mw_write_atomic(state_dir, MW_SIGN_PUB_FILE, s->pub_pem,
			       s->pub_len, 0644, err, errlen);
}

int mw_signer_open(struct mw_signer **out, const char *state_dir, char *err,
		   size_t errlen)
{
	char key[PATH_MAX], pub[PATH_MAX];
	struct mw_signer *s;
	struct stat st;
	bool absent = false, fresh = false;
	int n, m;

	s = calloc(1, sizeof(*s));
	if (!s) {
		mw_set_err(err, errlen, "out of memory");
		return -1;
	}
	n = snprintf(key, sizeof(key), "%s/%s", state_dir, MW_SIGN_KEY_FILE);
	m = snprintf(pub, sizeof(pub), "%s/%s", state_dir, MW_SIGN_PUB_FILE);
	if (n < 0 || (size_t)n >= sizeof(key) || m < 0 ||
	    (size_t)m >= sizeof(pub)) {
		mw_set_err(err, errlen, "state_dir path too long");
		goto fail;
	}
	if (load_private(s, key, &absent, err, errlen)) {
		if (!absent)
			goto fail;
		if (!lstat(pub, &st)) {
			/* A new key would be a new identity: every checkpoint
			 * signed so far would stop verifying against the
			 * public key auditors hold. */
			mw_set_err(err, errlen,
				   "the audit signing key %s is missing; its "
				   "public key %s still exists: restore the "
				   "key, or move the public key away to start "
				   "a new key",
				   key, pub);
			goto fail;
		}
		if (errno != ENOENT) {
			mw_set_err(err, errlen, "%s: %s", pub, strerror(errno));
			goto fail;
		}
		if (generate(s, state_dir, err, errlen))
			goto fail;
		fresh = true;
	}
	if (key_id_of(s->pkey, s->key_id)) {
		set_ssl_err(err, errlen, "cannot compute the key id");
		goto fail;
	}
	s->pub_pem = pem_of(s->pkey, false, &s->pub_len);
	if (!s->pub_pem) {
		set_ssl_err(err, errlen, "cannot encode the public key");
		goto fail;
	}
	if (fresh) {
		if (mw_write_atomic(state_dir, MW_SIGN_PUB_FILE, s->pub_pem,
				    s->pub_len, 0644, err, errlen))
			goto fail;
		log_info("generated the audit signing key %s in %s", s->key_id,
			 key);
	} else if (sync_public(s, state_dir, pub, err, errlen)) {
		goto fail;
	}
	*out = s;
	return 0;
fail:
	mw_signer_free(s);
	return -1;
}

void mw_signer_free(struct mw_signer *s)
{
	if (!s)
		return;
	EVP_PKEY_free(s->pkey);
	free(s->pub_pem);
	free(s);
}

int mw_signer_sign(const struct mw_signer *s, const void *msg, size_t len,
		   char sig[MW_SIGN_B64_LEN])
{
	unsigned char raw[MW_SIGN_RAW_SIG];
	size_t rawlen = sizeof(raw);
	EVP_MD_CTX *ctx;
	int rc = -1;

	if (!sig)
		return -1;
	sig[0] = '\0';
	if (!s || !s->pkey || (!msg && len))
		return -1;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -1;
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, s->pkey) == 1 &&
	    EVP_DigestSign(ctx, raw, &rawlen, msg ? msg : (const void *)"",
			   len) == 1 &&
	    rawlen == sizeof(raw) &&
	    EVP_EncodeBlock((unsigned char *)sig, raw, sizeof(raw)) ==
		    MW_SIGN_B64_SIG)
		rc = 0;
	else
		sig[0] = '\0';
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

const char *mw_signer_key_id(const struct mw_signer *s)
{
	return s->key_id;
}

int mw_signer_public_pem(const struct mw_signer *s, char *out, size_t outlen)
{
	if (!outlen)
		return -1;
	if (s->pub_len >= outlen) {
		out[0] = '\0';
		return -1;
	}
	memcpy(out, s->pub_pem, s->pub_len + 1);
	return (int)s->pub_len;
}
