// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "sign.h"

/* ---- helpers ---- */

/* Up to two state_dirs per test; removed with what they hold by sg_cleanup. */
static char sg_dirs[2][64];

static void sg_rmdir(char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (!dir[0])
		return;
	d = opendir(dir);
	if (d) {
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, ".."))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
	dir[0] = '\0';
}

static void sg_cleanup(void)
{
	sg_rmdir(sg_dirs[0]);
	sg_rmdir(sg_dirs[1]);
}

static const char *sg_mkdir(int i)
{
	snprintf(sg_dirs[i], sizeof(sg_dirs[i]), "/tmp/mw-sign-XXXXXX");
	cr_assert_not_null(mkdtemp(sg_dirs[i]));
	return sg_dirs[i];
}

static const char *sg_path(const char *dir, const char *name)
{
	static char paths[4][PATH_MAX];
	static int next;
	char *p = paths[next++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", dir, name);
	return p;
}

static struct mw_signer *sg_open(const char *dir)
{
	struct mw_signer *s = NULL;
	char err[1024] = "";

	cr_assert_eq(mw_signer_open(&s, dir, err, sizeof(err)), 0, "%s", err);
	cr_assert_not_null(s);
	return s;
}

/* Opening dir fails; the reason is left in err. */
static void sg_open_fails(const char *dir, char *err, size_t errlen)
{
	struct mw_signer *s = NULL;

	err[0] = '\0';
	cr_assert_eq(mw_signer_open(&s, dir, err, errlen), -1);
	cr_assert_null(s);
	cr_assert_neq(err[0], '\0');
}

static struct mw_sign_pub *sg_pub(const char *dir)
{
	struct mw_sign_pub *p = NULL;
	char err[1024] = "";

	cr_assert_eq(mw_sign_pub_load(&p, sg_path(dir, MW_SIGN_PUB_FILE), err,
				      sizeof(err)),
		     0, "%s", err);
	cr_assert_not_null(p);
	return p;
}

static bool sg_exists(const char *path)
{
	struct stat st;

	return !lstat(path, &st);
}

static mode_t sg_mode(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "%s", path);
	cr_assert(S_ISREG(st.st_mode), "%s", path);
	return st.st_mode & 07777;
}

static void sg_write(const char *path, const void *data, size_t len,
		     mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	cr_assert_geq(fd, 0, "%s", path);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
}

/* The whole file, NUL-terminated; free it. */
static char *sg_read(const char *path)
{
	char *buf = calloc(1, 65536);
	int fd = open(path, O_RDONLY);
	ssize_t n;

	cr_assert_not_null(buf);
	cr_assert_geq(fd, 0, "%s", path);
	n = read(fd, buf, 65535);
	cr_assert_geq(n, 0);
	close(fd);
	return buf;
}

/* A PEM of a freshly generated key of another type ("EC" or "RSA"). */
static char *sg_other_pem(const char *type, bool private)
{
	EVP_PKEY *pkey =
		!strcmp(type, "EC")
			? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
			: EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out;
	long len;

	cr_assert_not_null(pkey);
	cr_assert_not_null(bio);
	if (private)
		cr_assert_eq(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0,
						      NULL, NULL),
			     1);
	else
		cr_assert_eq(PEM_write_bio_PUBKEY(bio, pkey), 1);
	len = BIO_get_mem_data(bio, &data);
	cr_assert_gt(len, 0);
	out = strndup(data, (size_t)len);
	cr_assert_not_null(out);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return out;
}

/* Flips one bit of the decoded signature and encodes it again. */
static void sg_flip(const char *sig, int bit, char out[MW_SIGN_B64_LEN])
{
	unsigned char raw[66];

	cr_assert_eq(EVP_DecodeBlock(raw, (const unsigned char *)sig, 88), 66);
	raw[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	cr_assert_eq(EVP_EncodeBlock((unsigned char *)out, raw, 64), 88);
}

static const char sg_msg[] = "checkpoint 42 0123456789abcdef";

/* ---- generation and loading ---- */

Test(sign, generate_creates_both_files, .fini = sg_cleanup)
{
	const char *dir = sg_mkdir(0);
	struct mw_signer *s;
	char pem[1024];
	char *file;
	int n;

	s = sg_open(dir);
	cr_assert_eq(sg_mode(sg_path(dir, MW_SIGN_KEY_FILE)), 0600);
	cr_assert_eq(sg_mode(sg_path(dir, MW_SIGN_PUB_FILE)), 0644);
	cr_assert_not(sg_exists(sg_path(dir, MW_SIGN_KEY_FILE ".tmp")));
	cr_assert_not(sg_exists(sg_path(dir, MW_SIGN_PUB_FILE ".tmp")));

	file = sg_read(sg_path(dir, MW_SIGN_KEY_FILE));
	cr_assert_not_null(strstr(file, "-----BEGIN PRIVATE KEY-----"));
	free(file);

	/* The public file is what mw_signer_public_pem gives. */
	n = mw_signer_public_pem(s, pem, sizeof(pem));
	cr_assert_gt(n, 0);
	cr_assert_eq((size_t)n, strlen(pem));
	cr_assert_not_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
	file = sg_read(sg_path(dir, MW_SIGN_PUB_FILE));
	cr_assert_str_eq(file, pem);
	free(file);
	mw_signer_free(s);
}

Test(sign, generation_ignores_a_stale_temporary_file, .fini = sg_cleanup)
{
	const char *dir = sg_mkdir(0);
	struct mw_signer *s;

	/* As a crash mid-write would leave it, and readable by others. */
	sg_write(sg_path(dir, MW_SIGN_KEY_FILE ".tmp"), "half a k", 8, 0644);
	s = sg_open(dir);
	cr_assert_eq(sg_mode(sg_path(dir, MW_SIGN_KEY_FILE)), 0600);
	cr_assert_not(sg_exists(sg_path(dir, MW_SIGN_KEY_FILE ".tmp")));
	mw_signer_free(s);
}

Test(sign, generation_does_not_depend_on_the_umask, .fini = sg_cleanup)
{
	const char *dir = sg_mkdir(0);
	struct mw_signer *s;
	mode_t old = umask(0077);

	s = sg_open(dir);
	umask(old);
	cr_assert_eq(sg_mode(sg_path(dir, MW_SIGN_PUB_FILE)), 0644);
	cr_assert_eq(sg_mode(sg_path(dir, MW_SIGN_KEY_FILE)), 0600);
	mw_signer_free(s);
}

Test(sign, reopen_loads_the_same_key, .fini = sg_cleanup)
{
	const char *dir = sg_mkdir(0);
	char id[MW_SIGN_KEY_ID_LEN], sig[MW_SIGN_B64_LEN];
	char sig2[MW_SIGN_B64_LEN];
	struct mw_signer *s;
	struct mw_sign_pub *p;

	s = sg_open(dir);
	snprintf(id, sizeof(id), "%s", mw_signer_key_id(s));
	cr_assert_eq(mw_signer_sign(s, sg_msg, strlen(sg_msg), sig), 0);
	mw_signer_free(s);

	s = sg_open(dir);
	cr_assert_str_eq(mw_signer_key_id(s), id);
	/* Ed25519 is deterministic: the same key signs the same bytes. */
	cr_assert_eq(mw_signer_sign(s, sg_msg, strlen(sg_msg), sig2), 0);
	cr_assert_str_eq(sig2, sig);
	mw_signer_free(s);

	p = sg_pub(dir);
	cr_assert_str_eq(mw_sign_pub_key_id(p), id);
	cr_assert(mw_sign_pub_verify(p, sg_msg, strlen(sg_msg), sig));
	mw_sign_pub_free(p);
}

Test(sign, public_file_is_rewritten_when_missing, .fini = sg_cleanup)
{
	const char *dir = sg_mkdir(0);
	const char *pub = sg_path(dir, MW_SIGN_PUB_FILE);
	struct mw_signer *s;
	char *before, *after;

	s = sg_open(dir);
	mw_signer_free(s);
	before = sg_read(pub);
	cr_assert_eq(unlink(pub), 0);

	s = sg_open(dir);
	cr_assert_eq(sg_mode(pub), 0644);
	after = sg_read(pub);
	cr_assert_str_eq(after, before);
	free(before);
	free(after);
	mw_signer_free(s);
}

Test(sign, public_file_is_rewritten_when_it_does_not_match, .fini = sg_cleanup)
{
	const char *a = sg_mkdir(0), *b = sg_mkdir(1);
	struct mw_signer *sa, *sb;
	struct mw_sign_pub *p;
	char *other, *garbage = "-----BEGIN PUBLIC KEY-----\nAAAA\n";

	sa = sg_open(a);
	sb = sg_open(b);
	cr_assert_str_neq(mw_signer_key_id(sa), mw_signer_key_id(sb));
	mw_signer_free(sa);

	/* Another key's public file... */
	other = sg_read(sg_path(b, MW_SIGN_PUB_FILE));
	sg_write(sg_path(a, MW_SIGN_PUB_FILE), other, strlen(other), 0644);
	free(other);
	sa = sg_open(a);
	p = sg_pub(a);
	cr_assert_str_eq(mw_sign_pub_key_id(p), mw_signer_key_id(sa));
	mw_sign_pub_free(p);
	mw_signer_free(sa);

	/* ...or one that is no key at all, or of another type. */
	sg_write(sg_path(a, MW_SIGN_PUB_FILE), garbage, strlen(garbage), 0600);
	sa = sg_open(a);
	cr_assert_eq(sg_mode(sg_path(a, MW_SIGN_PUB_FILE)), 0644);
	p = sg_pub(a);
	cr_assert_str_eq(mw_sign_pub_key_id(p), mw_signer_key_id(sa));
	mw_sign_pub_free(p);
	mw_signer_free(sa);

	other = sg_other_pem("EC", false);
	sg_write(sg_path(a, MW_SIGN_PUB_FILE), other, strlen(other), 0644);
	free(other);
	sa = sg_open(a);
	p = sg_pub(a);
	cr_assert_str_eq(mw_sign_pub_key_id(p), mw_signer_key_id(sa));
	mw_sign_pub_free(p);
	mw_signer_free(sa);
	mw_signer_free(sb);
}

Test(sign, a_public_key_without_its_private_key_is_an_error, .fini = sg_cleanup)
{
	const char *dir = sg_mkdir(0);
	const char *key = sg_path(dir, MW_SIGN_KEY_FILE);
	struct mw_signer *s;
	char err[1024];
	char *before, *after;

	s = sg_open(dir);
	mw_signer_free(s);
	before = sg_read(sg_path(dir, MW_SIGN_PUB_FILE));
	cr_assert_eq(unlink(key), 0);

	sg_open_fails(dir, err, sizeof(err));
	cr_assert_not_null(strstr(err, "missing"), "%s", err);
	cr_assert_not_null(strstr(err, key), "%s", err);
	cr_assert_not_null(strstr(err, MW_SIGN_PUB_FILE), "%s", err);
	/* No new identity was made behind the operator's back. */
	cr_assert_not(sg_exists(key));
	after = sg_read(sg_path(dir, MW_SIGN_PUB_FILE));
	cr_assert_str_eq(after, before);
	free(before);
	free(after);
}

Test(sign, a_private_key_open_to_others_is_refused, .fini = sg_cleanup)
{
	static const mode_t modes[] = { 0640, 0604, 0620, 0644, 0610 };
	const char *dir = sg_mkdir(0);
	const char *key = sg_path(dir, MW_SIGN_KEY_FILE);
	struct mw_signer *s;
	char err[1024];

	s = sg_open(dir);
	mw_signer_free(s);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		cr_assert_eq(chmod(key, modes[i]), 0);
		sg_open_fails(dir, err, sizeof(err));
		cr_assert_not_null(strstr(err, key), "%s", err);
		cr_assert_not_null(strstr(err, "chmod 600"), "%s", err);
	}
	/* Nothing was replaced: the fix is the operator's. */
	cr_assert_eq(sg_mode(key), 0610);
	cr_assert_eq(chmod(key, 0400), 0);
	s = sg_open(dir);
	mw_signer_free(s);
}

Test(sign, a_private_key_of_another_user_is_refused, .fini = sg_cleanup)
{
	const char *dir = sg_mkdir(0);
	const char *key = sg_path(dir, MW_SIGN_KEY_FILE);
	struct mw_signer *s;
	char err[1024];

	if (geteuid() != 0)
		cr_skip_test("needs root to give the key away");
	s = sg_open(dir);
	mw_signer_free(s);
	cr_assert_eq(chown(key, 65534, (gid_t)-1), 0);
	sg_open_fails(dir, err, sizeof(err));
	cr_assert_not_null(strstr(err, key), "%s", err);
	cr_assert_not_null(strstr(err, "chown"), "%s", err);
}

Test(sign, a_private_key_not_ed25519_is_refused, .fini = sg_cleanup)
{
	static const char *const types[] = { "EC", "RSA" };
	const char *dir = sg_mkdir(0);
	const char *key = sg_path(dir, MW_SIGN_KEY_FILE);
	char err[1024];
	char *pem;

	for (size_t i = 0; i < 2; i++) {
		pem = sg_other_pem(types[i], true);
		sg_write(key, pem, strlen(pem), 0600);
		free(pem);
		sg_open_fails(dir, err, sizeof(err));
		cr_assert_not_null(strstr(err, "Ed25519"), "%s", err);
		cr_assert_not_null(strstr(err, types[i]), "%s", err);
		cr_assert_not_null(strstr(err, key), "%s", err);
		/* And the public file was not made for it. */
		cr_assert_not(sg_exists(sg_path(dir, MW_SIGN_PUB_FILE)));
	}
}

Test(sign, a_damaged_private_key_is_refused, .fini = sg_cleanup)
{
	const char *dir = sg_mkdir(0);
	const char *key = sg_path(dir, MW_SIGN_KEY_FILE);
	static const char junk[] = "-----BEGIN PRIVATE KEY-----\nnope\n";
	char err[1024], *big;

	sg_write(key, junk, strlen(junk), 0600);
	sg_open_fails(dir, err, sizeof(err));
	cr_assert_not_null(strstr(err, key), "%s", err);

	sg_write(key, "", 0, 0600);
	sg_open_fails(dir, err, sizeof(err));
	cr_assert_not_null(strstr(err, "empty"), "%s", err);

	big = malloc(20000);
	cr_assert_not_null(big);
	memset(big, 'A', 20000);
	sg_write(key, big, 20000, 0600);
	free(big);
	sg_open_fails(dir, err, sizeof(err));
	cr_assert_not_null(strstr(err, "larger than"), "%s", err);

	/* Never replaced by a new key. */
	cr_assert_eq(unlink(key), 0);
	cr_assert_eq(mkdir(key, 0700), 0);
	sg_open_fails(dir, err, sizeof(err));
	cr_assert_not_null(strstr(err, "not a regular file"), "%s", err);
	cr_assert_eq(rmdir(key), 0);
}

Test(sign, a_missing_state_dir_is_an_error, .fini = sg_cleanup)
{
	char dir[PATH_MAX], err[1024];

	snprintf(dir, sizeof(dir), "%s/no/such/dir", sg_mkdir(0));
	sg_open_fails(dir, err, sizeof(err));
}

/* ---- key id ---- */

Test(sign, key_id_is_sha256_of_the_raw_public_key, .fini = sg_cleanup)
{
	const char *dir = sg_mkdir(0);
	unsigned char raw[64], md[EVP_MAX_MD_SIZE];
	size_t rawlen = sizeof(raw);
	unsigned int mdlen = 0;
	char hex[MW_SIGN_KEY_ID_LEN];
	struct mw_signer *s;
	struct mw_sign_pub *p;
	EVP_PKEY *pkey;
	const char *id;
	BIO *bio;
	FILE *f;

	s = sg_open(dir);
	id = mw_signer_key_id(s);
	cr_assert_eq(strlen(id), 16);
	cr_assert_eq(strspn(id, "0123456789abcdef"), 16, "%s", id);

	f = fopen(sg_path(dir, MW_SIGN_PUB_FILE), "r");
	cr_assert_not_null(f);
	bio = BIO_new_fp(f, BIO_CLOSE);
	cr_assert_not_null(bio);
	pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	cr_assert_not_null(pkey);
	cr_assert_eq(EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen), 1);
	cr_assert_eq(rawlen, 32);
	EVP_PKEY_free(pkey);
	cr_assert_eq(EVP_Digest(raw, rawlen, md, &mdlen, EVP_sha256(), NULL),
		     1);
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	cr_assert_str_eq(id, hex);

	p = sg_pub(dir);
	cr_assert_str_eq(mw_sign_pub_key_id(p), hex);
	mw_sign_pub_free(p);
	mw_signer_free(s);
}

/* ---- signing and verifying ---- */

Test(sign, sign_verify_round_trip, .fini = sg_cleanup)
{
	const char *dir = sg_mkdir(0);
	char sig[MW_SIGN_B64_LEN], pem[1024];
	struct mw_signer *s;
	struct mw_sign_pub *p = NULL;
	char err[256] = "";
	int n;

	s = sg_open(dir);
	cr_assert_eq(mw_signer_sign(s, sg_msg, strlen(sg_msg), sig), 0);
	cr_assert_eq(strlen(sig), 88);
	cr_assert_str_eq(sig + 86, "==");

	/* The public key as the daemon hands it out. */
	n = mw_signer_public_pem(s, pem, sizeof(pem));
	cr_assert_gt(n, 0);
	cr_assert_eq(mw_sign_pub_from_pem(&p, pem, (size_t)n, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_str_eq(mw_sign_pub_key_id(p), mw_signer_key_id(s));
	cr_assert(mw_sign_pub_verify(p, sg_msg, strlen(sg_msg), sig));

	/* Binary messages, and the empty one. */
	cr_assert_eq(mw_signer_sign(s, "a\0b", 3, sig), 0);
	cr_assert(mw_sign_pub_verify(p, "a\0b", 3, sig));
	cr_assert_not(mw_sign_pub_verify(p, "a", 1, sig));
	cr_assert_eq(mw_signer_sign(s, NULL, 0, sig), 0);
	cr_assert(mw_sign_pub_verify(p, NULL, 0, sig));
	cr_assert(mw_sign_pub_verify(p, "", 0, sig));
	cr_assert_eq(mw_signer_sign(s, NULL, 1, sig), -1);
	cr_assert_str_eq(sig, "");

	mw_sign_pub_free(p);
	mw_signer_free(s);
}

Test(sign, public_pem_needs_room, .fini = sg_cleanup)
{
	const char *dir = sg_mkdir(0);
	struct mw_signer *s;
	char pem[1024];
	int n;

	s = sg_open(dir);
	n = mw_signer_public_pem(s, pem, sizeof(pem));
	cr_assert_gt(n, 0);
	cr_assert_eq(mw_signer_public_pem(s, pem, (size_t)n), -1);
	cr_assert_str_eq(pem, "");
	cr_assert_eq(mw_signer_public_pem(s, pem, (size_t)n + 1), n);
	cr_assert_eq(mw_signer_public_pem(s, pem, 0), -1);
	mw_signer_free(s);
}

Test(sign, a_modified_message_fails, .fini = sg_cleanup)
{
	const char *dir = sg_mkdir(0);
	char sig[MW_SIGN_B64_LEN], msg[sizeof(sg_msg)];
	struct mw_signer *s;
	struct mw_sign_pub *p;
	size_t len = strlen(sg_msg);

	s = sg_open(dir);
	p = sg_pub(dir);
	cr_assert_eq(mw_signer_sign(s, sg_msg, len, sig), 0);
	for (size_t i = 0; i < len; i++) {
		memcpy(msg, sg_msg, sizeof(msg));
		msg[i] ^= 0x01;
		cr_assert_not(mw_sign_pub_verify(p, msg, len, sig), "byte %zu",
			      i);
	}
	cr_assert_not(mw_sign_pub_verify(p, sg_msg, len - 1, sig));
	cr_assert_not(mw_sign_pub_verify(p, sg_msg, len + 1, sig));
	cr_assert_not(mw_sign_pub_verify(p, NULL, len, sig));
	cr_assert_not(mw_sign_pub_verify(p, NULL, 0, sig));
	mw_sign_pub_free(p);
	mw_signer_free(s);
}

Test(sign, a_modified_signature_fails, .fini = sg_cleanup)
{
	const char *dir = sg_mkdir(0);
	char sig[MW_SIGN_B64_LEN], bad[MW_SIGN_B64_LEN];
	struct mw_signer *s;
	struct mw_sign_pub *p;
	size_t len = strlen(sg_msg);

	s = sg_open(dir);
	p = sg_pub(dir);
	cr_assert_eq(mw_signer_sign(s, sg_msg, len, sig), 0);
	/* Decoding and encoding unchanged gives the same, valid string. */
	sg_flip(sig, 0, bad);
	sg_flip(bad, 0, bad);
	cr_assert_str_eq(bad, sig);
	cr_assert(mw_sign_pub_verify(p, sg_msg, len, bad));
	for (int bit = 0; bit < 512; bit++) {
		sg_flip(sig, bit, bad);
		cr_assert_not(mw_sign_pub_verify(p, sg_msg, len, bad), "bit %d",
			      bit);
	}
	mw_sign_pub_free(p);
	mw_signer_free(s);
}

Test(sign, a_signature_of_the_wrong_length_fails, .fini = sg_cleanup)
{
	const char *dir = sg_mkdir(0);
	char sig[MW_SIGN_B64_LEN], bad[256];
	struct mw_signer *s;
	struct mw_sign_pub *p;
	size_t len = strlen(sg_msg);

	s = sg_open(dir);
	p = sg_pub(dir);
	cr_assert_eq(mw_signer_sign(s, sg_msg, len, sig), 0);

	cr_assert_not(mw_sign_pub_verify(p, sg_msg, len, NULL));
	cr_assert_not(mw_sign_pub_verify(p, sg_msg, len, ""));
	cr_assert_not(mw_sign_pub_verify(NULL, sg_msg, len, sig));
	/* Cut short, at and before the padding. */
	for (size_t cut = 0; cut < 88; cut++) {
		snprintf(bad, sizeof(bad), "%.*s", (int)cut, sig);
		cr_assert_not(mw_sign_pub_verify(p, sg_msg, len, bad), "%zu",
			      cut);
	}
	/* Longer, however it is extended. */
	snprintf(bad, sizeof(bad), "%s=", sig);
	cr_assert_not(mw_sign_pub_verify(p, sg_msg, len, bad));
	snprintf(bad, sizeof(bad), "%s\n", sig);
	cr_assert_not(mw_sign_pub_verify(p, sg_msg, len, bad));
	snprintf(bad, sizeof(bad), "%sAAAA", sig);
	cr_assert_not(mw_sign_pub_verify(p, sg_msg, len, bad));
	snprintf(bad, sizeof(bad), "%s%s", sig, sig);
	cr_assert_not(mw_sign_pub_verify(p, sg_msg, len, bad));
	/* 66 bytes would also be 88 characters, without padding. */
	snprintf(bad, sizeof(bad), "%.86sAA", sig);
	cr_assert_not(mw_sign_pub_verify(p, sg_msg, len, bad));
	mw_sign_pub_free(p);
	mw_signer_free(s);
}

Test(sign, garbage_base64_fails, .fini = sg_cleanup)
{
	static const char bytes[] = "*-_ .\n\t\"\\=\x80\xff";
	const char *dir = sg_mkdir(0);
	char sig[MW_SIGN_B64_LEN], bad[MW_SIGN_B64_LEN];
	unsigned char raw[66], raw2[66];
	struct mw_signer *s;
	struct mw_sign_pub *p;
	size_t len = strlen(sg_msg);

	s = sg_open(dir);
	p = sg_pub(dir);
	cr_assert_eq(mw_signer_sign(s, sg_msg, len, sig), 0);
	/* Every non-base64 byte, at the start, the middle and the end. */
	for (size_t b = 0; b < sizeof(bytes) - 1; b++) {
		for (size_t at = 0; at < 86; at += 17) {
			memcpy(bad, sig, sizeof(bad));
			bad[at] = bytes[b];
			cr_assert_not(mw_sign_pub_verify(p, sg_msg, len, bad),
				      "byte %02x at %zu",
				      (unsigned char)bytes[b], at);
		}
	}
	memset(bad, '=', 88);
	bad[88] = '\0';
	cr_assert_not(mw_sign_pub_verify(p, sg_msg, len, bad));
	memset(bad, 'A', 86);
	cr_assert_not(mw_sign_pub_verify(p, sg_msg, len, bad));
	/* The same bytes spelt another way: the spare low bits of the last
	 * digit set (A, Q, g, w carry none). EVP_DecodeBlock takes it as the
	 * same signature; verify does not. */
	memcpy(bad, sig, sizeof(bad));
	cr_assert(strchr("AQgw", bad[85]), "%c", bad[85]);
	bad[85]++;
	cr_assert_eq(EVP_DecodeBlock(raw, (const unsigned char *)sig, 88), 66);
	cr_assert_eq(EVP_DecodeBlock(raw2, (const unsigned char *)bad, 88), 66);
	cr_assert_eq(memcmp(raw, raw2, 64), 0);
	cr_assert_not(mw_sign_pub_verify(p, sg_msg, len, bad));
	mw_sign_pub_free(p);
	mw_signer_free(s);
}

Test(sign, another_key_fails, .fini = sg_cleanup)
{
	const char *a = sg_mkdir(0), *b = sg_mkdir(1);
	char sig[MW_SIGN_B64_LEN];
	struct mw_signer *sa;
	struct mw_sign_pub *pa, *pb;
	size_t len = strlen(sg_msg);

	sa = sg_open(a);
	mw_signer_free(sg_open(b));
	pa = sg_pub(a);
	pb = sg_pub(b);
	cr_assert_str_neq(mw_sign_pub_key_id(pa), mw_sign_pub_key_id(pb));
	cr_assert_eq(mw_signer_sign(sa, sg_msg, len, sig), 0);
	cr_assert(mw_sign_pub_verify(pa, sg_msg, len, sig));
	cr_assert_not(mw_sign_pub_verify(pb, sg_msg, len, sig));
	mw_sign_pub_free(pa);
	mw_sign_pub_free(pb);
	mw_signer_free(sa);
}

/* ---- public keys from outside ---- */

Test(sign, only_ed25519_public_keys_are_accepted, .fini = sg_cleanup)
{
	static const char *const types[] = { "EC", "RSA" };
	const char *dir = sg_mkdir(0);
	struct mw_sign_pub *p = NULL;
	struct mw_signer *s;
	char err[1024], *pem;

	for (size_t i = 0; i < 2; i++) {
		pem = sg_other_pem(types[i], false);
		err[0] = '\0';
		cr_assert_eq(mw_sign_pub_from_pem(&p, pem, strlen(pem), err,
						  sizeof(err)),
			     -1);
		cr_assert_null(p);
		cr_assert_not_null(strstr(err, "Ed25519"), "%s", err);

		/* And from a file: the error names it. */
		sg_write(sg_path(dir, "other.pem"), pem, strlen(pem), 0644);
		free(pem);
		cr_assert_eq(mw_sign_pub_load(&p, sg_path(dir, "other.pem"),
					      err, sizeof(err)),
			     -1);
		cr_assert_null(p);
		cr_assert_not_null(strstr(err, "other.pem"), "%s", err);
		cr_assert_not_null(strstr(err, types[i]), "%s", err);
	}

	/* A private key is not a public key, even an Ed25519 one. */
	s = sg_open(dir);
	pem = sg_read(sg_path(dir, MW_SIGN_KEY_FILE));
	cr_assert_eq(
		mw_sign_pub_from_pem(&p, pem, strlen(pem), err, sizeof(err)),
		-1);
	cr_assert_null(p);
	free(pem);
	mw_signer_free(s);
}

Test(sign, bad_public_pem_is_refused, .fini = sg_cleanup)
{
	static const char *const bad[] = {
		"",
		"hello",
		"-----BEGIN PUBLIC KEY-----\n",
		"-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
		"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n"
		"-----END PUBLIC KEY-----\n",
	};
	const char *dir = sg_mkdir(0);
	struct mw_sign_pub *p = NULL;
	struct mw_signer *s;
	char err[1024], pem[1024], *big;
	int n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(mw_sign_pub_from_pem(&p, bad[i], strlen(bad[i]),
						  err, sizeof(err)),
			     -1, "%s", bad[i]);
		cr_assert_null(p);
		cr_assert_neq(err[0], '\0');
	}
	cr_assert_eq(mw_sign_pub_from_pem(&p, NULL, 0, err, sizeof(err)), -1);

	/* A valid key behind 20 KiB of comment is still too much to read. */
	s = sg_open(dir);
	n = mw_signer_public_pem(s, pem, sizeof(pem));
	cr_assert_gt(n, 0);
	big = malloc(20000 + (size_t)n);
	cr_assert_not_null(big);
	memset(big, '#', 20000);
	big[19999] = '\n';
	memcpy(big + 20000, pem, (size_t)n);
	cr_assert_eq(mw_sign_pub_from_pem(&p, big, 20000 + (size_t)n, err,
					  sizeof(err)),
		     -1);
	cr_assert_not_null(strstr(err, "larger than"), "%s", err);
	sg_write(sg_path(dir, "big.pem"), big, 20000 + (size_t)n, 0644);
	free(big);
	cr_assert_eq(
		mw_sign_pub_load(&p, sg_path(dir, "big.pem"), err, sizeof(err)),
		-1);
	cr_assert_not_null(strstr(err, "larger than"), "%s", err);

	/* The same PEM alone is fine; a missing file is not. */
	cr_assert_eq(mw_sign_pub_from_pem(&p, pem, (size_t)n, err, sizeof(err)),
		     0, "%s", err);
	mw_sign_pub_free(p);
	p = NULL;
	cr_assert_eq(mw_sign_pub_load(&p, sg_path(dir, "nope.pem"), err,
				      sizeof(err)),
		     -1);
	cr_assert_not_null(strstr(err, "nope.pem"), "%s", err);
	mw_signer_free(s);
}
