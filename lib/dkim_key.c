/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dkim_key: DKIM public key records (RFC 6376 s.3.6.1, RFC 8463 s.4) and
 * the public key operation (RFC 6376 s.3.3, RFC 8463 s.3) through OpenSSL 3.
 *
 * Tags: v (must be DKIM1 when present; its position is not enforced, as
 * deployed records put it anywhere), h (colon list; must allow the
 * signature's hash), k (rsa, the default, or ed25519), n (ignored),
 * p (base64; empty means revoked), s (must hold "*" or "email"),
 * t (flags y and s; others ignored). Unknown tags are ignored (g= of
 * RFC 4871 included).
 * RSA keys may be SubjectPublicKeyInfo (as s.3.6.1 says) or a bare PKCS#1
 * RSAPublicKey (deployed by some signers); Ed25519 keys are the raw 32
 * octets (RFC 8463 s.4), anything else is refused.
 * am_dkim_key_fetch(): TXT at SELECTOR._domainkey.DOMAIN; NXDOMAIN and
 * NODATA are "no key", a DNS failure is temporary; of several records the
 * first one that parses is used.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "dkim_int.h"

/* Does the colon list val[0..n) hold word (case-insensitive)? */
static int
list_has(const char *val, size_t n, const char *word)
{
	const char *p = val, *end = val + n, *e, *a, *z;
	size_t wl = strlen(word);

	while (p <= end) {
		if ((e = memchr(p, ':', (size_t)(end - p))) == NULL)
			e = end;
		for (a = p; a < e && strchr(" \t\r\n", *a); a++)
			;
		for (z = e; z > a && strchr(" \t\r\n", z[-1]); z--)
			;
		if ((size_t)(z - a) == wl && strncasecmp(a, word, wl) == 0)
			return 1;
		p = e + 1;
	}
	return 0;
}

static int
tag_eq(const struct am_dkim_tag *t, const char *s)
{
	return t->vlen == strlen(s) && strncasecmp(t->val, s, t->vlen) == 0;
}

/* One DER element of tag at *p (< end): its contents; advances *p. */
static int
der_elem(const unsigned char **p, const unsigned char *end, unsigned char tag,
    const unsigned char **c, size_t *clen)
{
	const unsigned char *q = *p;
	size_t len = 0, k;

	if (end - q < 2 || *q++ != tag)
		return -1;
	if (*q < 0x80)
		len = *q++;
	else {
		k = *q++ & 0x7f;
		if (k == 0 || k > 3 || (size_t)(end - q) < k)
			return -1;
		while (k-- > 0)
			len = len << 8 | *q++;
	}
	if ((size_t)(end - q) < len)
		return -1;
	*c = q;
	*clen = len;
	*p = q + len;
	return 0;
}

/* RSAPublicKey (RFC 8017 A.1.1): SEQUENCE { INTEGER n, INTEGER e }. */
static int
der_rsa_public(const unsigned char *p, const unsigned char *end,
    const unsigned char **n, size_t *nlen, const unsigned char **e, size_t *elen)
{
	const unsigned char *seq;
	size_t slen;

	if (der_elem(&p, end, 0x30, &seq, &slen) != 0 || p != end)
		return -1;
	end = seq + slen;
	if (der_elem(&seq, end, 0x02, n, nlen) != 0 ||
	    der_elem(&seq, end, 0x02, e, elen) != 0 || seq != end ||
	    *nlen == 0 || *elen == 0 || ((*n)[0] & 0x80) || ((*e)[0] & 0x80))
		return -1;
	return 0;
}

/*
 * SubjectPublicKeyInfo with rsaEncryption (RFC 5280 s.4.1.2.7, RFC 8017
 * A.1): the RSAPublicKey inside its BIT STRING.
 */
static int
der_spki_rsa(const unsigned char *p, const unsigned char *end,
    const unsigned char **n, size_t *nlen, const unsigned char **e, size_t *elen)
{
	static const unsigned char rsa_oid[] =
	    { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
	const unsigned char *seq, *alg, *oid, *bits;
	size_t slen, alen, olen, blen;

	if (der_elem(&p, end, 0x30, &seq, &slen) != 0 || p != end)
		return -1;
	end = seq + slen;
	if (der_elem(&seq, end, 0x30, &alg, &alen) != 0 ||
	    der_elem(&alg, alg + alen, 0x06, &oid, &olen) != 0 ||
	    olen != sizeof(rsa_oid) || memcmp(oid, rsa_oid, olen) != 0 ||
	    der_elem(&seq, end, 0x03, &bits, &blen) != 0 || seq != end ||
	    blen < 1 || bits[0] != 0)
		return -1;
	return der_rsa_public(bits + 1, bits + blen, n, nlen, e, elen);
}

/*
 * An RSA public key from SubjectPublicKeyInfo or bare RSAPublicKey DER.
 * The DER is read here and the key built with EVP_PKEY_fromdata():
 * OpenSSL 3's generic decoders (d2i_PUBKEY) cost about 150 us per key,
 * seven times the signature check itself.
 */
static EVP_PKEY *
load_rsa(const unsigned char *der, size_t len)
{
	const unsigned char *n, *e;
	size_t nlen, elen;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *k = NULL;
	BIGNUM *bn = NULL, *be = NULL;

	if (der_spki_rsa(der, der + len, &n, &nlen, &e, &elen) != 0 &&
	    der_rsa_public(der, der + len, &n, &nlen, &e, &elen) != 0)
		return NULL;
	if ((bn = BN_bin2bn(n, (int)nlen, NULL)) == NULL ||
	    (be = BN_bin2bn(e, (int)elen, NULL)) == NULL ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		k = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return k;
}

/*
 * The decoded-key cache: a direct-mapped table from (type, key bytes) to
 * the EVP_PKEY made of them, shared by all threads under one mutex. A
 * sender's key is decoded once, not once per message; EVP_PKEY objects are
 * reference counted and may be used by several threads at once for
 * verification.
 */
struct kc_slot {
	uint64_t h;
	int type;
	size_t len;
	unsigned char *der;
	EVP_PKEY *pk;
	unsigned bits;
};

struct am_dkim_keycache {
	pthread_mutex_t mu;
	struct kc_slot *v;
	size_t n;
};

struct am_dkim_keycache *
am_dkim_keycache_new(size_t n)
{
	struct am_dkim_keycache *c;

	if (n == 0 || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->v = calloc(n, sizeof(*c->v))) == NULL) {
		free(c);
		return NULL;
	}
	c->n = n;
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

static void
kc_clear(struct kc_slot *sl)
{
	EVP_PKEY_free(sl->pk);
	free(sl->der);
	memset(sl, 0, sizeof(*sl));
}

struct am_dkim_keycache *
am_dkim_keycache_free(struct am_dkim_keycache *c)
{
	size_t i;

	if (c == NULL)
		return NULL;
	for (i = 0; i < c->n; i++)
		kc_clear(&c->v[i]);
	pthread_mutex_destroy(&c->mu);
	free(c->v);
	free(c);
	return NULL;
}

static uint64_t
kc_hash(int type, const unsigned char *der, size_t len)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)type;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ der[i]) * 1099511628211ULL;
	return h;
}

/* A cached key for (type, der) with a reference for the caller, or NULL. */
static EVP_PKEY *
kc_get(struct am_dkim_keycache *c, uint64_t h, int type,
    const unsigned char *der, size_t len, unsigned *bits)
{
	struct kc_slot *sl;
	EVP_PKEY *pk = NULL;

	if (c == NULL)
		return NULL;
	pthread_mutex_lock(&c->mu);
	sl = &c->v[h % c->n];
	if (sl->pk != NULL && sl->h == h && sl->type == type && sl->len == len &&
	    memcmp(sl->der, der, len) == 0 && EVP_PKEY_up_ref(sl->pk) == 1) {
		pk = sl->pk;
		*bits = sl->bits;
	}
	pthread_mutex_unlock(&c->mu);
	return pk;
}

/* Keep (another reference to) pk for (type, der). */
static void
kc_put(struct am_dkim_keycache *c, uint64_t h, int type,
    const unsigned char *der, size_t len, EVP_PKEY *pk, unsigned bits)
{
	struct kc_slot *sl;
	unsigned char *copy;

	if (c == NULL || (copy = malloc(len)) == NULL)
		return;
	memcpy(copy, der, len);
	if (EVP_PKEY_up_ref(pk) != 1) {
		free(copy);
		return;
	}
	pthread_mutex_lock(&c->mu);
	sl = &c->v[h % c->n];
	kc_clear(sl);
	sl->h = h;
	sl->type = type;
	sl->len = len;
	sl->der = copy;
	sl->pk = pk;
	sl->bits = bits;
	pthread_mutex_unlock(&c->mu);
}

static enum am_dkim_keystat
load_key(struct am_dkim_key *key, const struct am_dkim_tag *p,
    struct am_dkim_keycache *cache, struct am_buf *why)
{
	uint64_t h;
	unsigned char der[AM_DKIM_KEY_MAX];
	long n;

	if ((n = am_dkim_base64(p->val, p->vlen, der, sizeof(der))) < 0) {
		am_buf_setf(why, "key p= is not base64");
		return AM_DKIM_KEY_PERM;
	}
	if (n == 0) {
		am_buf_setf(why, "key revoked");
		return AM_DKIM_KEY_PERM;
	}
	h = kc_hash((int)key->type, der, (size_t)n);
	if ((key->pkey = kc_get(cache, h, (int)key->type, der, (size_t)n,
	    &key->bits)) != NULL)
		return AM_DKIM_KEY_OK;
	if (key->type == AM_DKIM_K_ED25519) {
		if (n == 32)
			key->pkey = EVP_PKEY_new_raw_public_key(
			    EVP_PKEY_ED25519, NULL, der, 32);
		key->bits = 256;
	} else if ((key->pkey = load_rsa(der, (size_t)n)) != NULL)
		key->bits = (unsigned)EVP_PKEY_get_bits(key->pkey);
	if (key->pkey == NULL) {
		am_buf_setf(why, "key p= is not a valid %s public key",
		    key->type == AM_DKIM_K_ED25519 ? "ed25519" : "rsa");
		return AM_DKIM_KEY_PERM;
	}
	kc_put(cache, h, (int)key->type, der, (size_t)n, key->pkey, key->bits);
	return AM_DKIM_KEY_OK;
}

/* The tags besides p=: v, k, h, s, t. */
static enum am_dkim_keystat
key_tags(struct am_dkim_key *key, const struct am_dkim_tag *tg, size_t n,
    struct am_buf *why)
{
	const struct am_dkim_tag *t;

	if ((t = am_dkim_tag_find(tg, n, "v")) != NULL && !tag_eq(t, "DKIM1")) {
		am_buf_setf(why, "key record version is not DKIM1");
		return AM_DKIM_KEY_PERM;
	}
	if ((t = am_dkim_tag_find(tg, n, "k")) != NULL) {
		if (tag_eq(t, "ed25519"))
			key->type = AM_DKIM_K_ED25519;
		else if (!tag_eq(t, "rsa")) {
			am_buf_setf(why, "unsupported key type k=%.*s",
			    (int)(t->vlen > 20 ? 20 : t->vlen), t->val);
			return AM_DKIM_KEY_PERM;
		}
	}
	if ((t = am_dkim_tag_find(tg, n, "h")) != NULL) {
		key->has_h = 1;
		key->h_sha256 = list_has(t->val, t->vlen, "sha256");
		key->h_sha1 = list_has(t->val, t->vlen, "sha1");
	}
	if ((t = am_dkim_tag_find(tg, n, "s")) != NULL &&
	    !list_has(t->val, t->vlen, "*") &&
	    !list_has(t->val, t->vlen, "email")) {
		am_buf_setf(why, "key service type is not email");
		return AM_DKIM_KEY_PERM;
	}
	if ((t = am_dkim_tag_find(tg, n, "t")) != NULL) {
		key->testing = list_has(t->val, t->vlen, "y");
		key->strict = list_has(t->val, t->vlen, "s");
	}
	return AM_DKIM_KEY_OK;
}

enum am_dkim_keystat
am_dkim_key_parse(const char *txt, size_t len, struct am_dkim_key *key,
    struct am_buf *why)
{
	return am_dkim_key_parse_cached(NULL, txt, len, key, why);
}

enum am_dkim_keystat
am_dkim_key_parse_cached(struct am_dkim_keycache *cache, const char *txt,
    size_t len, struct am_dkim_key *key, struct am_buf *why)
{
	struct am_dkim_tag tg[AM_DKIM_TAGS_MAX];
	const struct am_dkim_tag *p;
	size_t n;

	memset(key, 0, sizeof(*key));
	if (len > AM_DKIM_KEY_MAX) {
		am_buf_setf(why, "key record over %d bytes", AM_DKIM_KEY_MAX);
		return AM_DKIM_KEY_PERM;
	}
	if (am_dkim_tags_parse(txt, len, tg, AM_DKIM_TAGS_MAX, &n, why) != 0) {
		if (why != NULL)
			am_buf_printf(why, " in key record");
		return AM_DKIM_KEY_PERM;
	}
	if (key_tags(key, tg, n, why) != AM_DKIM_KEY_OK)
		return AM_DKIM_KEY_PERM;
	if ((p = am_dkim_tag_find(tg, n, "p")) == NULL) {
		am_buf_setf(why, "key record has no p=");
		return AM_DKIM_KEY_PERM;
	}
	return load_key(key, p, cache, why);
}

/* Parse the records of a TXT answer: the first good one wins. */
static enum am_dkim_keystat
pick_record(const struct am_dns_answer *a, struct am_dkim_keycache *cache,
    struct am_dkim_key *key, struct am_buf *why)
{
	struct am_buf first = AM_BUF_INIT(200);
	size_t i;

	for (i = 0; i < a->count; i++) {
		if (am_dkim_key_parse_cached(cache, a->rr[i].text,
		    a->rr[i].textlen, key, why) == AM_DKIM_KEY_OK) {
			am_buf_release(&first);
			return AM_DKIM_KEY_OK;
		}
		if (i == 0)
			am_buf_adds(&first, am_buf_str(why));
	}
	am_buf_setf(why, "%s", a->count ? am_buf_str(&first) : "no key");
	am_buf_release(&first);
	return AM_DKIM_KEY_PERM;
}

enum am_dkim_keystat
am_dkim_key_fetch(struct am_dns *dns, const char *selector,
    const char *domain, struct am_dkim_key *key, struct am_buf *why)
{
	return am_dkim_key_fetch_cached(dns, NULL, selector, domain, key, why);
}

enum am_dkim_keystat
am_dkim_key_fetch_cached(struct am_dns *dns, struct am_dkim_keycache *cache,
    const char *selector, const char *domain, struct am_dkim_key *key,
    struct am_buf *why)
{
	struct am_dns_answer *a = NULL;
	struct am_buf name = AM_BUF_INIT(AM_DNS_NAME_MAX + 16);
	struct am_buf dwhy = AM_BUF_INIT(200);
	enum am_dns_status st;
	enum am_dkim_keystat ks;

	memset(key, 0, sizeof(*key));
	am_buf_printf(&name, "%s._domainkey.%s", selector, domain);
	st = name.truncated ? AM_DNS_BADNAME :
	    am_dns_query(dns, am_buf_str(&name), AM_DNS_T_TXT, &a, &dwhy);
	if (st == AM_DNS_OK)
		ks = pick_record(a, cache, key, why);
	else if (st == AM_DNS_TEMPFAIL) {
		am_buf_setf(why, "key lookup failed: %s", am_buf_str(&dwhy));
		ks = AM_DKIM_KEY_TEMP;
	} else {
		am_buf_setf(why, "no key");
		ks = AM_DKIM_KEY_PERM;
	}
	am_dns_answer_free(a);
	am_buf_release(&name);
	am_buf_release(&dwhy);
	return ks;
}

void
am_dkim_key_release(struct am_dkim_key *key)
{
	EVP_PKEY_free(key->pkey);
	memset(key, 0, sizeof(*key));
}

static int
verify_rsa(EVP_PKEY *pk, const EVP_MD *md, const unsigned char *digest,
    size_t dlen, const unsigned char *sig, size_t slen)
{
	EVP_PKEY_CTX *c;
	int ok = 0;

	if ((c = EVP_PKEY_CTX_new(pk, NULL)) == NULL)
		return 0;
	if (EVP_PKEY_verify_init(c) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(c, md) == 1)
		ok = EVP_PKEY_verify(c, sig, slen, digest, dlen) == 1;
	EVP_PKEY_CTX_free(c);
	return ok;
}

static int
verify_ed25519(EVP_PKEY *pk, const unsigned char *digest, size_t dlen,
    const unsigned char *sig, size_t slen)
{
	EVP_MD_CTX *c;
	int ok = 0;

	if ((c = EVP_MD_CTX_new()) == NULL)
		return 0;
	if (EVP_DigestVerifyInit(c, NULL, NULL, NULL, pk) == 1)
		ok = EVP_DigestVerify(c, sig, slen, digest, dlen) == 1;
	EVP_MD_CTX_free(c);
	return ok;
}

int
am_dkim_pk_verify(const struct am_dkim_key *key, enum am_dkim_alg alg,
    const unsigned char *digest, size_t dlen, const unsigned char *sig,
    size_t slen)
{
	if (key->pkey == NULL)
		return 0;
	if (alg == AM_DKIM_ED25519_SHA256)
		return key->type == AM_DKIM_K_ED25519 &&
		    verify_ed25519(key->pkey, digest, dlen, sig, slen);
	if (key->type != AM_DKIM_K_RSA)
		return 0;
	return verify_rsa(key->pkey, alg == AM_DKIM_RSA_SHA1 ? EVP_sha1() :
	    EVP_sha256(), digest, dlen, sig, slen);
}
