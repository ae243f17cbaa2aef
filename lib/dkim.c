/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dkim: the per-message DKIM verifier (RFC 6376 s.6). The building blocks
 * it drives are in the other dkim_*.c files (map in dkim_int.h): each
 * field is parsed by am_dkim_sig_parse() (dkim_sig.c), its body hashed by
 * am_dkim_bh_*() (dkim_canon.c) and the signature checked by
 * am_dkim_verify_sig() (dkim_verify.c) with a key from
 * am_dkim_key_fetch_cached() (dkim_key.c).
 *
 * am_dkim_headers() parses every DKIM-Signature and gives each one that
 * can be verified a body hasher, shared by signatures with the same body
 * canonicalization, hash and l= (so at most max_signatures hashers run);
 * it also applies what needs this verifier's configuration: the clock
 * (x=) and the signature cap. am_dkim_finish() fetches the keys and
 * decides. See dkim.h for the results chosen where the RFCs leave room.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "dkim_int.h"

struct dsig {
	struct am_dkim_sig pub;
	struct am_dkim_sigparams sp;
	const struct am_hdr *field;
	struct am_dkim_bh *bh;      /* shared, owned by struct am_dkim */
	struct am_buf why;
};

struct am_dkim {
	struct am_dkim_conf conf;
	struct am_dns *dns;
	const struct am_hdrs *hdrs;
	struct dsig *sigs;
	size_t n;
	struct am_dkim_bh **bhs;
	size_t nbh;
	int finished;
	char prefer[AM_DNS_NAME_MAX + 1]; /* the From domain, lower case */
};

static const char *const result_names[] = {
	"none", "pass", "fail", "policy", "neutral", "temperror", "permerror",
};

const char *
am_dkim_result_name(enum am_dkim_result r)
{
	if ((unsigned)r >= sizeof(result_names) / sizeof(result_names[0]))
		return "none";
	return result_names[r];
}

struct am_dkim *
am_dkim_new(const struct am_dkim_conf *conf, struct am_dns *dns)
{
	struct am_dkim *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if (conf != NULL)
		d->conf = *conf;
	if (d->conf.min_key_bits == 0)
		d->conf.min_key_bits = 1024;
	if (d->conf.max_signatures == 0)
		d->conf.max_signatures = 10;
	if (d->conf.now == 0)
		d->conf.now = time(NULL);
	d->dns = dns;
	return d;
}

struct am_dkim *
am_dkim_free(struct am_dkim *d)
{
	size_t i;

	if (d == NULL)
		return NULL;
	for (i = 0; i < d->n; i++) {
		am_dkim_sig_release(&d->sigs[i].sp);
		am_buf_release(&d->sigs[i].why);
	}
	for (i = 0; i < d->nbh; i++)
		am_dkim_bh_free(d->bhs[i]);
	free(d->bhs);
	free(d->sigs);
	free(d);
	return NULL;
}

/* Point the public strings at what the parse produced. */
static void
publish(struct dsig *s)
{
	const struct am_dkim_sigparams *sp = &s->sp;

	s->pub.domain = sp->domain ? sp->domain : "";
	s->pub.selector = sp->selector ? sp->selector : "";
	s->pub.identity = sp->identity ? sp->identity : "";
	s->pub.algorithm = sp->algname ? sp->algname : "";
	memcpy(s->pub.b_prefix, sp->b_prefix, sizeof(s->pub.b_prefix));
	s->pub.uses_l = sp->has_l;
	s->pub.reason = am_buf_str(&s->why);
}

static void
set_result(struct dsig *s, enum am_dkim_result r, const char *reason)
{
	s->pub.result = r;
	if (reason != NULL)
		am_buf_setf(&s->why, "%s", reason);
	s->pub.reason = am_buf_str(&s->why);
}

/* The body hasher for s: an existing one with the same parameters or a
 * new one. NULL when out of memory. */
static struct am_dkim_bh *
get_bh(struct am_dkim *d, const struct am_dkim_sigparams *sp)
{
	const char *md = am_dkim_alg_hash(sp->alg);
	int64_t l = sp->has_l ? (int64_t)(sp->l > INT64_MAX ? INT64_MAX :
	    sp->l) : -1;
	size_t i;

	for (i = 0; i < d->nbh; i++)
		if (am_dkim_bh_is(d->bhs[i], sp->bcanon, md, l))
			return d->bhs[i];
	if ((d->bhs[d->nbh] = am_dkim_bh_new(sp->bcanon, md, l)) == NULL)
		return NULL;
	return d->bhs[d->nbh++];
}

void
am_dkim_prefer(struct am_dkim *d, const char *domain)
{
	size_t i;

	for (i = 0; domain != NULL && domain[i] != '\0' && i < AM_DNS_NAME_MAX; i++)
		d->prefer[i] = (char)tolower((unsigned char)domain[i]);
	d->prefer[i] = '\0';
	if (i > 0 && d->prefer[i - 1] == '.')
		d->prefer[i - 1] = '\0';
}

/* The last two labels of a (the whole name when it has fewer). */
static const char *
last_two(const char *a)
{
	const char *p = a + strlen(a);
	int dots = 0;

	while (p > a) {
		if (*--p == '.' && ++dots == 2)
			return p + 1;
	}
	return a;
}

/*
 * 2 when d= is the preferred domain, 1 when it shares its last two labels
 * (it may align under relaxed alignment), else 0.
 */
static int
rank(const struct am_dkim *d, const struct am_dkim_sigparams *sp)
{
	char dom[AM_DNS_NAME_MAX + 2];
	size_t n;

	if (d->prefer[0] == '\0' || sp->domain == NULL ||
	    (n = strlen(sp->domain)) == 0 || n > AM_DNS_NAME_MAX)
		return 0;
	memcpy(dom, sp->domain, n + 1);
	if (dom[n - 1] == '.')
		dom[n - 1] = '\0';
	if (strcasecmp(dom, d->prefer) == 0)
		return 2;
	return strcasecmp(last_two(dom), last_two(d->prefer)) == 0;
}

/* Parse one signature field and decide whether it is worth verifying. */
static void
setup_sig(struct am_dkim *d, struct dsig *s, int in_budget)
{
	if (!in_budget) {
		set_result(s, AM_DKIM_POLICY, "too many signatures");
		s->pub.unverified = 1;
	} else if (s->sp.alg == AM_DKIM_RSA_SHA1)
		set_result(s, AM_DKIM_POLICY, "rsa-sha1 not accepted (RFC 8301)");
	else if (s->sp.has_x && s->sp.x < (uint64_t)d->conf.now)
		set_result(s, AM_DKIM_PERMERROR, "signature expired");
	else if ((s->bh = get_bh(d, &s->sp)) == NULL)
		set_result(s, AM_DKIM_TEMPERROR, "out of memory");
	publish(s);
}

/*
 * Parse every signature, then give the max_signatures verification slots
 * to the parsable ones, those that may align with the From domain first.
 */
static void
setup_all(struct am_dkim *d)
{
	size_t i, slots = d->conf.max_signatures;
	int want;

	for (i = 0; i < d->n; i++) {
		struct dsig *s = &d->sigs[i];
		am_buf_init(&s->why, 256);
		if (am_dkim_sig_parse(s->field->value, s->field->vlen, &s->sp,
		    &s->why) != 0) {
			s->pub.result = AM_DKIM_PERMERROR;
			s->bh = NULL;
			publish(s);
		}
	}
	for (want = 2; want >= 0; want--) {
		for (i = 0; i < d->n; i++) {
			struct dsig *s = &d->sigs[i];
			if (s->pub.result == AM_DKIM_PERMERROR || s->pub.domain != NULL)
				continue;
			if (rank(d, &s->sp) != want)
				continue;
			setup_sig(d, s, slots > 0);
			if (slots > 0)
				slots--;
		}
	}
}

void
am_dkim_headers(struct am_dkim *d, const struct am_hdrs *hdrs)
{
	size_t i, k = 0;

	if (d->sigs != NULL)
		return;
	d->hdrs = hdrs;
	for (i = 0; i < hdrs->n; i++)
		if (am_hdr_is(&hdrs->v[i], "DKIM-Signature"))
			k++;
	if (k == 0)
		return;
	d->sigs = calloc(k, sizeof(*d->sigs));
	d->bhs = calloc(d->conf.max_signatures, sizeof(*d->bhs));
	if (d->sigs == NULL || d->bhs == NULL)
		return;
	for (i = 0; i < hdrs->n; i++) {
		if (!am_hdr_is(&hdrs->v[i], "DKIM-Signature"))
			continue;
		d->sigs[d->n++].field = &hdrs->v[i];
	}
	setup_all(d);
}

void
am_dkim_body(struct am_dkim *d, const unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < d->nbh; i++)
		am_dkim_bh_update(d->bhs[i], buf, len);
}

/* Key lookup and verification of one signature whose body hash is done. */
static void
check_sig(struct am_dkim *d, struct dsig *s, const unsigned char *bh,
    size_t bhlen, uint64_t canonlen)
{
	struct am_dkim_key key;
	enum am_dkim_keystat ks;
	enum am_dkim_result r;

	if (s->sp.has_l && s->sp.l > canonlen) {
		set_result(s, AM_DKIM_PERMERROR, "l= exceeds body length");
		return;
	}
	ks = am_dkim_key_fetch_cached(d->dns, d->conf.keycache, s->sp.selector,
	    s->sp.domain, &key, &s->why);
	if (ks != AM_DKIM_KEY_OK) {
		set_result(s, ks == AM_DKIM_KEY_TEMP ? AM_DKIM_TEMPERROR :
		    AM_DKIM_PERMERROR, NULL);
		am_dkim_key_release(&key);
		return;
	}
	s->pub.key_bits = key.bits;
	r = am_dkim_verify_sig(&s->sp, &key, d->conf.min_key_bits, d->hdrs,
	    s->field, bh, bhlen, &s->why);
	if (r == AM_DKIM_PASS)
		am_buf_reset(&s->why);
	set_result(s, r, NULL);
	am_dkim_key_release(&key);
}

void
am_dkim_finish(struct am_dkim *d)
{
	unsigned char (*dig)[AM_DKIM_HASH_MAX];
	uint64_t *clen;
	size_t *dlen, i, k;

	if (d->finished || d->n == 0)
		return;
	d->finished = 1;
	dig = calloc(d->nbh + 1, sizeof(*dig));
	clen = calloc(d->nbh + 1, sizeof(*clen));
	dlen = calloc(d->nbh + 1, sizeof(*dlen));
	for (i = 0; dig && clen && dlen && i < d->nbh; i++)
		dlen[i] = am_dkim_bh_final(d->bhs[i], dig[i], &clen[i]);
	for (i = 0; i < d->n; i++) {
		struct dsig *s = &d->sigs[i];
		if (s->bh == NULL)
			continue;
		for (k = 0; k < d->nbh && d->bhs[k] != s->bh; k++)
			;
		if (!dig || !clen || !dlen || dlen[k] == 0)
			set_result(s, AM_DKIM_TEMPERROR, "body hash failed");
		else
			check_sig(d, s, dig[k], dlen[k], clen[k]);
	}
	free(dig);
	free(clen);
	free(dlen);
}

size_t
am_dkim_count(const struct am_dkim *d)
{
	return d->n;
}

const struct am_dkim_sig *
am_dkim_sig(const struct am_dkim *d, size_t i)
{
	return i < d->n ? &d->sigs[i].pub : NULL;
}
