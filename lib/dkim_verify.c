/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dkim_verify: the header hash of one signature (RFC 6376 s.3.7, s.5.4.2)
 * and its verification against a key and a body hash (s.6.1.2, s.6.1.3,
 * RFC 8301 s.3, RFC 8463 s.3). Works on any header list and any signature
 * field, so ARC-Message-Signature (RFC 8617 s.4.1.2) can use it as is.
 *
 * Header selection: each name of h= takes the bottom-most instance of that
 * field not taken yet; a name with no instance left contributes nothing
 * (over-signing). The signature field itself is never selected by h=.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "dkim_int.h"

/* Header name equality, ignoring case and WSP before the colon. */
static int
name_is(const struct am_hdr *f, const char *name)
{
	size_t n = f->namelen, nl = strlen(name);

	while (n > 0 && (f->name[n - 1] == ' ' || f->name[n - 1] == '\t'))
		n--;
	return n == nl && strncasecmp(f->name, name, n) == 0;
}

/* Add the signature field with its b= value removed, without CRLF. */
static int
add_sigfield(const struct am_dkim_sigparams *sp, const struct am_hdr *sigf,
    struct am_buf *out)
{
	struct am_dkim_tag tg[AM_DKIM_TAGS_MAX];
	const struct am_dkim_tag *b;
	struct am_buf v = AM_BUF_INIT(AM_DKIM_SIG_MAX);
	size_t n;
	int r;

	if (am_dkim_tags_parse(sigf->value, sigf->vlen, tg, AM_DKIM_TAGS_MAX,
	    &n, NULL) != 0 || (b = am_dkim_tag_find(tg, n, "b")) == NULL)
		return -1;
	am_buf_add(&v, sigf->value, b->raw_start);
	am_buf_add(&v, sigf->value + b->raw_end, sigf->vlen - b->raw_end);
	r = am_dkim_canon_header(sp->hcanon, sigf->name, sigf->namelen,
	    am_buf_str(&v), v.len, 0, out);
	am_buf_release(&v);
	return r;
}

/* Canonicalize one field into tmp and hash it. */
static int
hash_field(EVP_MD_CTX *c, enum am_dkim_canon canon, const struct am_hdr *f,
    struct am_buf *tmp)
{
	am_buf_reset(tmp);
	if (am_dkim_canon_header(canon, f->name, f->namelen, f->value,
	    f->vlen, 1, tmp) != 0)
		return -1;
	return EVP_DigestUpdate(c, tmp->data, tmp->len) == 1 ? 0 : -1;
}

static int
hash_selected(EVP_MD_CTX *c, const struct am_dkim_sigparams *sp,
    const struct am_hdrs *hdrs, const struct am_hdr *sigf,
    struct am_buf *tmp)
{
	unsigned char *used;
	size_t i, k;
	int r = 0;

	if ((used = calloc(hdrs->n + 1, 1)) == NULL)
		return -1;
	for (i = 0; i < hdrs->n; i++)
		if (&hdrs->v[i] == sigf)
			used[i] = 1;
	for (k = 0; k < sp->nh && r == 0; k++) {
		for (i = hdrs->n; i-- > 0;)
			if (!used[i] && name_is(&hdrs->v[i], sp->h[k]))
				break;
		if (i == (size_t)-1)
			continue;
		used[i] = 1;
		r = hash_field(c, sp->hcanon, &hdrs->v[i], tmp);
	}
	free(used);
	return r;
}

size_t
am_dkim_hash_headers(const struct am_dkim_sigparams *sp,
    const struct am_hdrs *hdrs, const struct am_hdr *sigf,
    unsigned char *out)
{
	struct am_buf tmp = AM_BUF_INIT(4 * 1024 * 1024);
	EVP_MD_CTX *c;
	unsigned int len = 0;
	int r = -1;

	if ((c = EVP_MD_CTX_new()) == NULL)
		return 0;
	if (EVP_DigestInit_ex(c, sp->alg == AM_DKIM_RSA_SHA1 ? EVP_sha1() :
	    EVP_sha256(), NULL) == 1 &&
	    hash_selected(c, sp, hdrs, sigf, &tmp) == 0) {
		am_buf_reset(&tmp);
		if (add_sigfield(sp, sigf, &tmp) == 0 &&
		    EVP_DigestUpdate(c, tmp.data, tmp.len) == 1 &&
		    EVP_DigestFinal_ex(c, out, &len) == 1)
			r = 0;
	}
	EVP_MD_CTX_free(c);
	am_buf_release(&tmp);
	return r == 0 ? len : 0;
}

/* The key's own restrictions: type, h=, t=s. */
static enum am_dkim_result
key_allows(const struct am_dkim_sigparams *sp, const struct am_dkim_key *key,
    struct am_buf *why)
{
	const char *at;

	if ((sp->alg == AM_DKIM_ED25519_SHA256) !=
	    (key->type == AM_DKIM_K_ED25519)) {
		am_buf_setf(why, "key type does not match a=%s", sp->algname);
		return AM_DKIM_PERMERROR;
	}
	if (key->has_h && !(sp->alg == AM_DKIM_RSA_SHA1 ? key->h_sha1 :
	    key->h_sha256)) {
		am_buf_setf(why, "key h= does not allow %s",
		    am_dkim_alg_hash(sp->alg));
		return AM_DKIM_PERMERROR;
	}
	at = strrchr(sp->identity, '@');
	if (key->strict && at != NULL && strcasecmp(at + 1, sp->domain) != 0) {
		am_buf_setf(why, "key t=s forbids an i= subdomain");
		return AM_DKIM_PERMERROR;
	}
	return AM_DKIM_PASS;
}

enum am_dkim_result
am_dkim_verify_sig(const struct am_dkim_sigparams *sp,
    const struct am_dkim_key *key, unsigned min_key_bits,
    const struct am_hdrs *hdrs, const struct am_hdr *sigf,
    const unsigned char *bh, size_t bhlen, struct am_buf *why)
{
	unsigned char dig[AM_DKIM_HASH_MAX];
	size_t dlen;
	enum am_dkim_result r;

	if ((r = key_allows(sp, key, why)) != AM_DKIM_PASS)
		return r;
	if (sp->alg == AM_DKIM_RSA_SHA1) {
		am_buf_setf(why, "rsa-sha1 not accepted (RFC 8301)");
		return AM_DKIM_POLICY;
	}
	if (key->type == AM_DKIM_K_RSA && key->bits < min_key_bits) {
		am_buf_setf(why, "key too short (%u bits)", key->bits);
		return AM_DKIM_POLICY;
	}
	if (bhlen != sp->bhlen || memcmp(bh, sp->bh, bhlen) != 0) {
		am_buf_setf(why, "body hash mismatch");
		return AM_DKIM_FAIL;
	}
	if ((dlen = am_dkim_hash_headers(sp, hdrs, sigf, dig)) == 0) {
		am_buf_setf(why, "cannot hash the header");
		return AM_DKIM_PERMERROR;
	}
	if (!am_dkim_pk_verify(key, sp->alg, dig, dlen, sp->b, sp->blen)) {
		am_buf_setf(why, "signature did not verify");
		return AM_DKIM_FAIL;
	}
	return AM_DKIM_PASS;
}
