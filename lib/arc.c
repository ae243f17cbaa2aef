/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * arc: the per-message ARC verifier, RFC 8617 s.5.2.
 *
 * am_arc_headers() groups the sets (lib/arc_parse.c), parses each AMS and
 * AS, applies steps 2 and 3 (the newest cv=fail, the structure and the cv=
 * of every instance: none for i=1, pass after) and gives each parsable AMS
 * a body hasher, shared by those with the same c= body part and l= (all
 * ARC algorithms hash with SHA-256). am_arc_finish() then verifies the
 * newest AMS (step 4), every AS over the sets 1..i (step 6, s.5.1.1) and,
 * when those passed, the older AMSes for oldest-pass (step 5; the order
 * does not change the verdict, and a broken chain costs fewer lookups).
 * Keys are fetched once per selector and domain. See arc.h for the
 * choices made.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "arc.h"
#include "authres.h"

#define BH_MAX 8        /* distinct body hashes per message */

struct inst {
	struct am_arc_set pub;
	struct am_arc_sig ams, as;
	int ams_ok, as_ok;          /* parsed */
	struct am_buf why_ams, why_as;
	struct am_dkim_bh *bh;      /* shared, owned by struct am_arc */
	char *aar;
	char authserv[256];
};

struct keyent {
	char *sel, *dom;
	enum am_dkim_keystat st;
	struct am_dkim_key key;
	struct am_buf why;
};

struct am_arc {
	struct am_arc_conf conf;
	struct am_dns *dns;
	const struct am_hdrs *hdrs;
	struct am_arc_fields f[AM_ARC_MAX_INSTANCES + 1];
	struct inst *in;            /* in[1..n] */
	unsigned n;
	struct am_dkim_bh *bhs[BH_MAX];
	unsigned char bdig[BH_MAX][AM_DKIM_HASH_MAX];
	size_t bdlen[BH_MAX];
	uint64_t bclen[BH_MAX];
	size_t nbh;
	struct am_dkim_bh *seal_bh;
	struct keyent *keys;
	size_t nkeys, akeys;
	struct am_arc_result res;
	struct am_buf why;
	int decided, finished;
	unsigned newest_cv_fail;    /* i= of a newest AS with cv=fail, or 0 */
};

static const char *const cv_names[] = { "none", "pass", "fail", "temperror" };

const char *
am_arc_cv_name(enum am_arc_cv cv)
{
	return (unsigned)cv < 4 ? cv_names[cv] : "none";
}

struct am_arc *
am_arc_new(const struct am_arc_conf *conf, struct am_dns *dns)
{
	struct am_arc *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	if (conf != NULL)
		a->conf = *conf;
	if (a->conf.min_key_bits == 0)
		a->conf.min_key_bits = 1024;
	a->dns = dns;
	am_buf_init(&a->why, 512);
	a->res.reason = "";
	return a;
}

struct am_arc *
am_arc_free(struct am_arc *a)
{
	size_t i;

	if (a == NULL)
		return NULL;
	for (i = 1; a->in != NULL && i <= a->n; i++) {
		am_arc_sig_release(&a->in[i].ams);
		am_arc_sig_release(&a->in[i].as);
		am_buf_release(&a->in[i].why_ams);
		am_buf_release(&a->in[i].why_as);
		free(a->in[i].aar);
	}
	for (i = 0; i < a->nkeys; i++) {
		am_dkim_key_release(&a->keys[i].key);
		am_buf_release(&a->keys[i].why);
		free(a->keys[i].sel);
		free(a->keys[i].dom);
	}
	for (i = 0; i < a->nbh; i++)
		am_dkim_bh_free(a->bhs[i]);
	free(a->keys);
	free(a->in);
	am_buf_release(&a->why);
	free(a);
	return NULL;
}

/* Set the verdict with a formatted reason. */
static void __attribute__((format(printf, 3, 4)))
decide(struct am_arc *a, enum am_arc_cv cv, const char *fmt, ...)
{
	va_list ap;

	a->decided = 1;
	a->res.cv = cv;
	am_buf_reset(&a->why);
	va_start(ap, fmt);
	am_buf_vprintf(&a->why, fmt, ap);
	va_end(ap);
	a->res.reason = am_buf_str(&a->why);
}

static struct am_dkim_bh *
get_bh(struct am_arc *a, enum am_dkim_canon c, int64_t l)
{
	size_t i;

	for (i = 0; i < a->nbh; i++)
		if (am_dkim_bh_is(a->bhs[i], c, "sha256", l))
			return a->bhs[i];
	if (a->nbh >= BH_MAX ||
	    (a->bhs[a->nbh] = am_dkim_bh_new(c, "sha256", l)) == NULL)
		return NULL;
	return a->bhs[a->nbh++];
}

/* The AAR text after "i=N;" and its authserv-id. */
static void
setup_aar(struct inst *in, const struct am_hdr *f)
{
	const char *p = memchr(f->value, ';', f->vlen);
	size_t n;

	p = p ? p + 1 : f->value + f->vlen;
	n = (size_t)(f->value + f->vlen - p);
	while (n > 0 && strchr(" \t\r\n", *p))
		p++, n--;
	while (n > 0 && strchr(" \t\r\n", p[n - 1]))
		n--;
	if (n > AM_ARC_AAR_MAX)
		n = AM_ARC_AAR_MAX;
	if ((in->aar = malloc(n + 1)) != NULL) {
		memcpy(in->aar, p, n);
		in->aar[n] = '\0';
	}
	if (in->aar == NULL || am_authres_id(in->aar, in->authserv,
	    sizeof(in->authserv)) != 0)
		in->authserv[0] = '\0';
	in->pub.aar = in->aar ? in->aar : "";
	in->pub.authserv_id = in->authserv;
}

/* Parse instance i's fields and publish what they say. */
static void
setup_inst(struct am_arc *a, unsigned i)
{
	struct inst *in = &a->in[i];
	struct am_dkim_sigparams *sp = &in->ams.sp;
	int64_t l;

	in->pub.instance = i;
	am_buf_init(&in->why_ams, 256);
	am_buf_init(&in->why_as, 256);
	in->as_ok = am_arc_sig_parse(AM_ARC_K_AS, a->f[i].as->value,
	    a->f[i].as->vlen, &in->as, &in->why_as) == 0;
	in->ams_ok = am_arc_sig_parse(AM_ARC_K_AMS, a->f[i].ams->value,
	    a->f[i].ams->vlen, &in->ams, &in->why_ams) == 0;
	in->pub.cv = in->as_ok ? in->as.cv : AM_ARC_FAIL;
	in->pub.seal_domain = in->as.sp.domain ? in->as.sp.domain : "";
	in->pub.seal_selector = in->as.sp.selector ? in->as.sp.selector : "";
	in->pub.ams_domain = sp->domain ? sp->domain : "";
	setup_aar(in, a->f[i].aar);
	if (!in->ams_ok)
		return;
	l = sp->has_l ? (int64_t)(sp->l > INT64_MAX ? INT64_MAX : sp->l) : -1;
	if ((in->bh = get_bh(a, sp->bcanon, l)) == NULL)
		am_buf_setf(&in->why_ams, "too many body hashes");
}

/* Steps 2 and 3: the newest cv=, then every AS parses and says the right
 * cv=. 0 when the chain may go on to the signatures. */
static int
check_structure(struct am_arc *a)
{
	struct inst *in;
	unsigned i;

	in = &a->in[a->n];
	if (in->as_ok && in->as.cv == AM_ARC_FAIL) {
		decide(a, AM_ARC_FAIL, "ARC-Seal i=%u says cv=fail", a->n);
		return -1;
	}
	for (i = a->n; i >= 1; i--) {
		in = &a->in[i];
		if (!in->as_ok) {
			decide(a, AM_ARC_FAIL, "ARC-Seal i=%u: %s", i,
			    am_buf_str(&in->why_as));
			return -1;
		}
		if (in->as.cv != (i == 1 ? AM_ARC_NONE : AM_ARC_PASS)) {
			decide(a, AM_ARC_FAIL, "ARC-Seal i=%u has cv=%s", i,
			    am_arc_cv_name(in->as.cv));
			return -1;
		}
	}
	return 0;
}

/* 1 when ARC-Seal field f says cv=fail (the rest of it may be broken). */
static int
as_says_fail(const struct am_hdr *f)
{
	struct am_dkim_tag tg[AM_DKIM_TAGS_MAX];
	const struct am_dkim_tag *t;
	size_t n;

	if (am_dkim_tags_parse(f->value, f->vlen, tg, AM_DKIM_TAGS_MAX, &n,
	    NULL) != 0)
		return 0;
	t = am_dkim_tag_find(tg, n, "cv");
	return t != NULL && am_dkim_tag_is(t, "fail");
}

/*
 * The instance of the newest ARC-Seal (highest readable i=) when it says
 * cv=fail, else 0. Of two seals claiming that instance, either saying
 * fail counts. Structure does not matter: s.5.1 step 1 reads the most
 * recent AS as it is.
 */
static unsigned
scan_newest_cv_fail(const struct am_hdrs *hdrs)
{
	unsigned i, max = 0;
	size_t k;
	int fail = 0;

	for (k = 0; k < hdrs->n; k++) {
		if (am_arc_kind_of(&hdrs->v[k]) != AM_ARC_K_AS ||
		    am_arc_instance(AM_ARC_K_AS, hdrs->v[k].value,
		    hdrs->v[k].vlen, &i, NULL) != 0 || i < max)
			continue;
		if (i > max)
			fail = 0;
		max = i;
		fail |= as_says_fail(&hdrs->v[k]);
	}
	return fail ? max : 0;
}

void
am_arc_headers(struct am_arc *a, const struct am_hdrs *hdrs)
{
	struct am_buf tmp = AM_BUF_INIT(256);
	unsigned i;

	if (a->hdrs != NULL)
		return;
	a->hdrs = hdrs;
	if (a->conf.seal)
		a->seal_bh = get_bh(a, AM_DKIM_RELAXED, -1);
	a->newest_cv_fail = scan_newest_cv_fail(hdrs);
	if (am_arc_collect(hdrs, a->f, &a->n, &tmp) != 0) {
		a->res.count = a->n;
		a->n = 0;
		decide(a, AM_ARC_FAIL, "broken chain: %s", am_buf_str(&tmp));
		am_buf_release(&tmp);
		return;
	}
	am_buf_release(&tmp);
	a->res.count = a->n;
	if (a->n == 0) {
		a->decided = 1;
		return;
	}
	if ((a->in = calloc(a->n + 1, sizeof(*a->in))) == NULL) {
		a->n = 0;
		decide(a, AM_ARC_TEMPERROR, "out of memory");
		return;
	}
	for (i = a->n; i >= 1; i--)
		setup_inst(a, i);
	(void)check_structure(a);
}

void
am_arc_body(struct am_arc *a, const unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < a->nbh; i++)
		am_dkim_bh_update(a->bhs[i], buf, len);
}

/* ---- keys and signatures ---- */

/* The key for (sel, dom), fetched once per message. */
static struct keyent *
get_key(struct am_arc *a, const char *sel, const char *dom)
{
	struct keyent *k, *nk;
	size_t i;

	for (i = 0; i < a->nkeys; i++)
		if (strcmp(a->keys[i].sel, sel) == 0 &&
		    strcmp(a->keys[i].dom, dom) == 0)
			return &a->keys[i];
	if (a->nkeys == a->akeys) {
		nk = realloc(a->keys, (a->akeys + 4) * sizeof(*nk));
		if (nk == NULL)
			return NULL;
		a->keys = nk;
		a->akeys += 4;
	}
	k = &a->keys[a->nkeys];
	memset(k, 0, sizeof(*k));
	am_buf_init(&k->why, 256);
	k->sel = strdup(sel);
	k->dom = strdup(dom);
	if (k->sel == NULL || k->dom == NULL) {
		free(k->sel);
		free(k->dom);
		return NULL;
	}
	a->nkeys++;
	k->st = am_dkim_key_fetch(a->dns, sel, dom, &k->key, &k->why);
	return k;
}

/* Key lookup for a signature: PASS, or TEMPERROR / PERMERROR with why. */
static enum am_dkim_result
sig_key(struct am_arc *a, const struct am_arc_sig *s, struct keyent **kp,
    struct am_buf *why)
{
	struct keyent *k = get_key(a, s->sp.selector, s->sp.domain);

	*kp = k;
	if (k == NULL) {
		am_buf_setf(why, "out of memory");
		return AM_DKIM_TEMPERROR;
	}
	if (k->st == AM_DKIM_KEY_OK)
		return AM_DKIM_PASS;
	am_buf_setf(why, "%s", am_buf_str(&k->why));
	return k->st == AM_DKIM_KEY_TEMP ? AM_DKIM_TEMPERROR :
	    AM_DKIM_PERMERROR;
}

/* Step 4/5: instance i's AMS over the message as received. */
static enum am_dkim_result
verify_ams(struct am_arc *a, unsigned i, struct am_buf *why)
{
	struct inst *in = &a->in[i];
	const struct am_dkim_sigparams *sp = &in->ams.sp;
	struct keyent *k;
	enum am_dkim_result r;
	size_t b;

	if (!in->ams_ok || in->bh == NULL) {
		am_buf_setf(why, "%s", am_buf_str(&in->why_ams));
		return AM_DKIM_PERMERROR;
	}
	for (b = 0; b < a->nbh && a->bhs[b] != in->bh; b++)
		;
	if (a->bdlen[b] == 0) {
		am_buf_setf(why, "body hash failed");
		return AM_DKIM_TEMPERROR;
	}
	if (sp->has_l && sp->l > a->bclen[b]) {
		am_buf_setf(why, "l= exceeds body length");
		return AM_DKIM_PERMERROR;
	}
	if ((r = sig_key(a, &in->ams, &k, why)) != AM_DKIM_PASS)
		return r;
	return am_dkim_verify_sig(sp, &k->key, a->conf.min_key_bits, a->hdrs,
	    a->f[i].ams, a->bdig[b], a->bdlen[b], why);
}

size_t
am_arc_seal_digest(const struct am_hdr *const *fields, size_t n,
    unsigned char *out)
{
	struct am_dkim_tag tg[AM_DKIM_TAGS_MAX];
	const struct am_dkim_tag *b;
	const struct am_hdr *last;
	struct am_buf tmp = AM_BUF_INIT(2 * AM_DKIM_SIG_MAX);
	EVP_MD_CTX *c;
	unsigned int len = 0;
	size_t k, nt;
	int r = 0;

	if (n == 0 || (c = EVP_MD_CTX_new()) == NULL)
		return 0;
	last = fields[n - 1];
	if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    am_dkim_tags_parse(last->value, last->vlen, tg, AM_DKIM_TAGS_MAX,
	    &nt, NULL) != 0 || (b = am_dkim_tag_find(tg, nt, "b")) == NULL)
		r = -1;
	for (k = 0; r == 0 && k + 1 < n; k++) {
		am_buf_reset(&tmp);
		if (am_dkim_canon_header(AM_DKIM_RELAXED, fields[k]->name,
		    fields[k]->namelen, fields[k]->value, fields[k]->vlen, 1,
		    &tmp) != 0 || EVP_DigestUpdate(c, tmp.data, tmp.len) != 1)
			r = -1;
	}
	if (r == 0) {
		struct am_buf v = AM_BUF_INIT(AM_DKIM_SIG_MAX);
		am_buf_add(&v, last->value, b->raw_start);
		am_buf_add(&v, last->value + b->raw_end, last->vlen - b->raw_end);
		am_buf_reset(&tmp);
		if (v.truncated || am_dkim_canon_header(AM_DKIM_RELAXED,
		    last->name, last->namelen, am_buf_str(&v), v.len, 0,
		    &tmp) != 0 || EVP_DigestUpdate(c, tmp.data, tmp.len) != 1 ||
		    EVP_DigestFinal_ex(c, out, &len) != 1)
			r = -1;
		am_buf_release(&v);
	}
	EVP_MD_CTX_free(c);
	am_buf_release(&tmp);
	return r == 0 ? len : 0;
}

/* The key may make this AS signature: type, h=, size, no rsa-sha1. */
static enum am_dkim_result
as_key_ok(const struct am_arc_sig *s, const struct am_dkim_key *key,
    unsigned min_bits, struct am_buf *why)
{
	if (s->sp.alg == AM_DKIM_RSA_SHA1) {
		am_buf_setf(why, "rsa-sha1 not accepted (RFC 8301)");
		return AM_DKIM_POLICY;
	}
	if ((s->sp.alg == AM_DKIM_ED25519_SHA256) !=
	    (key->type == AM_DKIM_K_ED25519)) {
		am_buf_setf(why, "key type does not match a=%s",
		    s->sp.algname);
		return AM_DKIM_PERMERROR;
	}
	if (key->has_h && !key->h_sha256) {
		am_buf_setf(why, "key h= does not allow sha256");
		return AM_DKIM_PERMERROR;
	}
	if (key->type == AM_DKIM_K_RSA && key->bits < min_bits) {
		am_buf_setf(why, "key too short (%u bits)", key->bits);
		return AM_DKIM_POLICY;
	}
	return AM_DKIM_PASS;
}

/* Step 6: instance i's AS over the sets 1..i. */
static enum am_dkim_result
verify_as(struct am_arc *a, unsigned i, struct am_buf *why)
{
	const struct am_hdr *fl[3 * AM_ARC_MAX_INSTANCES];
	unsigned char dig[AM_DKIM_HASH_MAX];
	struct inst *in = &a->in[i];
	struct keyent *k;
	enum am_dkim_result r;
	size_t dlen;
	unsigned j;

	if ((r = sig_key(a, &in->as, &k, why)) != AM_DKIM_PASS)
		return r;
	if ((r = as_key_ok(&in->as, &k->key, a->conf.min_key_bits, why)) !=
	    AM_DKIM_PASS)
		return r;
	for (j = 1; j <= i; j++) {
		fl[3 * (j - 1)] = a->f[j].aar;
		fl[3 * (j - 1) + 1] = a->f[j].ams;
		fl[3 * (j - 1) + 2] = a->f[j].as;
	}
	if ((dlen = am_arc_seal_digest(fl, 3 * i, dig)) == 0) {
		am_buf_setf(why, "cannot hash the chain");
		return AM_DKIM_PERMERROR;
	}
	if (!am_dkim_pk_verify(&k->key, in->as.sp.alg, dig, dlen,
	    in->as.sp.b, in->as.sp.blen)) {
		am_buf_setf(why, "signature did not verify");
		return AM_DKIM_FAIL;
	}
	return AM_DKIM_PASS;
}

/* ---- the verdict ---- */

/* Step 4: the newest AMS; 0 when it passed. */
static int
check_newest(struct am_arc *a, struct am_buf *why)
{
	enum am_dkim_result r = verify_ams(a, a->n, why);

	a->in[a->n].pub.ams_pass = r == AM_DKIM_PASS;
	if (r == AM_DKIM_PASS)
		return 0;
	decide(a, r == AM_DKIM_TEMPERROR ? AM_ARC_TEMPERROR : AM_ARC_FAIL,
	    "ARC-Message-Signature i=%u: %s", a->n, am_buf_str(why));
	return -1;
}

/* Step 5, on a chain that passed: the older AMSes down to the first one
 * that does not verify (those below it are not checked). */
static void
oldest_pass(struct am_arc *a, struct am_buf *why)
{
	unsigned i;

	for (i = a->n - 1; i >= 1; i--) {
		a->in[i].pub.ams_pass = verify_ams(a, i, why) == AM_DKIM_PASS;
		if (!a->in[i].pub.ams_pass) {
			a->res.oldest_pass = i + 1;
			return;
		}
	}
}

/* Step 6: every AS; a failure wins over a temporary error. */
static void
check_as(struct am_arc *a, struct am_buf *why)
{
	enum am_dkim_result r;
	unsigned i, temp = 0;

	for (i = a->n; i >= 1; i--) {
		r = verify_as(a, i, why);
		a->in[i].pub.as_pass = r == AM_DKIM_PASS;
		if (r == AM_DKIM_TEMPERROR && temp == 0)
			temp = i;
		else if (r != AM_DKIM_PASS && r != AM_DKIM_TEMPERROR) {
			decide(a, AM_ARC_FAIL, "ARC-Seal i=%u: %s", i,
			    am_buf_str(why));
			return;
		}
	}
	if (temp != 0)
		decide(a, AM_ARC_TEMPERROR, "ARC-Seal i=%u: key lookup failed",
		    temp);
	else
		decide(a, AM_ARC_PASS, "%s", "");
}

void
am_arc_finish(struct am_arc *a)
{
	struct am_buf why = AM_BUF_INIT(512);
	size_t b;

	if (a->finished || a->hdrs == NULL)
		return;
	a->finished = 1;
	for (b = 0; b < a->nbh; b++)
		a->bdlen[b] = am_dkim_bh_final(a->bhs[b], a->bdig[b],
		    &a->bclen[b]);
	/* the seals before the older AMSes: a broken chain costs no
	 * oldest-pass lookups */
	if (!a->decided && check_newest(a, &why) == 0) {
		check_as(a, &why);
		if (a->res.cv == AM_ARC_PASS)
			oldest_pass(a, &why);
	}
	am_buf_release(&why);
}

const struct am_arc_result *
am_arc_result(const struct am_arc *a)
{
	return &a->res;
}

const struct am_arc_set *
am_arc_set(const struct am_arc *a, unsigned i)
{
	return i >= 1 && i <= a->n && a->in != NULL ? &a->in[i].pub : NULL;
}

/* ---- for am_arc_seal() ---- */

const struct am_hdrs *
am_arc_hdrs(const struct am_arc *a)
{
	return a->hdrs;
}

const struct am_arc_fields *
am_arc_fields(const struct am_arc *a, unsigned i)
{
	return i >= 1 && i <= a->n ? &a->f[i] : NULL;
}

unsigned
am_arc_newest_cv_fail(const struct am_arc *a)
{
	return a->newest_cv_fail;
}

size_t
am_arc_seal_bh(const struct am_arc *a, unsigned char *out)
{
	size_t b;

	if (!a->finished || a->seal_bh == NULL)
		return 0;
	for (b = 0; b < a->nbh && a->bhs[b] != a->seal_bh; b++)
		;
	memcpy(out, a->bdig[b], a->bdlen[b]);
	return a->bdlen[b];
}
