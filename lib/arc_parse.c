/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * arc_parse: the ARC header fields of RFC 8617 and the structure of a
 * chain.
 *
 *   am_arc_instance()   i= of an AMS or AS (tag lists, RFC 6376 s.3.2 via
 *                       am_dkim_tags_parse()) and the "i=N;" that opens an
 *                       AAR (s.4.1.1); 1..50 (s.4.2.1)
 *   am_arc_sig_parse()  ARC-Message-Signature (s.4.1.2: DKIM-Signature
 *                       tags without v=, i= is the instance) and ARC-Seal
 *                       (s.4.1.3: i a b cv d s, t optional, no h=)
 *   am_arc_collect()    one AAR, AMS and AS per instance, 1..N without
 *                       gaps (s.4.2, s.5.2 step 3)
 *
 * The parsed signature fills a struct am_dkim_sigparams so that the DKIM
 * header hash and key checks (lib/dkim_verify.c) apply unchanged; its
 * identity is "@" d= (ARC has no AUID).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arc.h"

static const char *const kind_names[] = {
	"ARC-Authentication-Results", "ARC-Message-Signature", "ARC-Seal",
};

int
am_arc_kind_of(const struct am_hdr *f)
{
	int k;

	for (k = 0; k < 3; k++)
		if (am_hdr_is(f, kind_names[k]))
			return k;
	return -1;
}

static int
is_fws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* 1*2DIGIT without a leading zero, 1..50; -1 otherwise. */
static int
parse_inst(const char *s, size_t len)
{
	unsigned v = 0;
	size_t i;

	if (len == 0 || len > 2 || s[0] == '0')
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v >= 1 && v <= AM_ARC_MAX_INSTANCES ? (int)v : -1;
}

/* AAR: [FWS] "i" [FWS] "=" [FWS] 1*2DIGIT [FWS] ";" */
static int
aar_instance(const char *s, size_t len, unsigned *inst, struct am_buf *why)
{
	size_t i = 0, d;
	int v;

	while (i < len && is_fws((unsigned char)s[i]))
		i++;
	if (i >= len || s[i] != 'i') {
		am_buf_setf(why, "AAR does not start with i=");
		return -1;
	}
	for (i++; i < len && is_fws((unsigned char)s[i]); i++)
		;
	if (i >= len || s[i] != '=') {
		am_buf_setf(why, "AAR does not start with i=");
		return -1;
	}
	for (i++; i < len && is_fws((unsigned char)s[i]); i++)
		;
	for (d = i; i < len && isdigit((unsigned char)s[i]); i++)
		;
	if ((v = parse_inst(s + d, i - d)) < 0) {
		am_buf_setf(why, "AAR i= is not 1..50");
		return -1;
	}
	while (i < len && is_fws((unsigned char)s[i]))
		i++;
	if (i >= len || s[i] != ';') {
		am_buf_setf(why, "AAR i= is not followed by ';'");
		return -1;
	}
	*inst = (unsigned)v;
	return 0;
}

int
am_arc_instance(enum am_arc_kind kind, const char *value, size_t len,
    unsigned *inst, struct am_buf *why)
{
	struct am_dkim_tag tg[AM_DKIM_TAGS_MAX];
	const struct am_dkim_tag *t;
	size_t n;
	int v;

	if (kind == AM_ARC_K_AAR)
		return aar_instance(value, len, inst, why);
	if (am_dkim_tags_parse(value, len, tg, AM_DKIM_TAGS_MAX, &n, why) != 0)
		return -1;
	if ((t = am_dkim_tag_find(tg, n, "i")) == NULL) {
		am_buf_setf(why, "no i= tag");
		return -1;
	}
	if ((v = parse_inst(t->val, t->vlen)) < 0) {
		am_buf_setf(why, "i= is not 1..50");
		return -1;
	}
	*inst = (unsigned)v;
	return 0;
}

/* ---- AMS and AS ---- */


static int
parse_b64(const struct am_dkim_tag *t, unsigned char *out, size_t max,
    size_t *olen, const char *tag, struct am_buf *why)
{
	long n = am_dkim_base64(t->val, t->vlen, out, max);

	if (n <= 0) {
		am_buf_setf(why, "%s= is empty or not base64", tag);
		return -1;
	}
	*olen = (size_t)n;
	return 0;
}

static const char *const req_ams[] = { "i", "a", "b", "bh", "d", "h", "s" };
static const char *const req_as[] = { "i", "a", "b", "cv", "d", "s" };

static int
check_required(enum am_arc_kind kind, const struct am_dkim_tag *tg, size_t n,
    struct am_buf *why)
{
	const char *const *req = kind == AM_ARC_K_AMS ? req_ams : req_as;
	size_t k, nr = kind == AM_ARC_K_AMS ? 7 : 6;

	for (k = 0; k < nr; k++)
		if (am_dkim_tag_find(tg, n, req[k]) == NULL) {
			am_buf_setf(why, "missing %s= tag", req[k]);
			return -1;
		}
	if (kind == AM_ARC_K_AS && am_dkim_tag_find(tg, n, "h") != NULL) {
		am_buf_setf(why, "h= in an ARC-Seal");
		return -1;
	}
	return 0;
}

/* i=, d=, s=, the identity, cv= and t=. */
static int
parse_ids(enum am_arc_kind kind, struct am_arc_sig *sig,
    const struct am_dkim_tag *tg, size_t n, struct am_buf *why)
{
	struct am_dkim_sigparams *sp = &sig->sp;
	const struct am_dkim_tag *d = am_dkim_tag_find(tg, n, "d"),
	    *s = am_dkim_tag_find(tg, n, "s"), *t;
	int v;

	if ((v = parse_inst(am_dkim_tag_find(tg, n, "i")->val,
	    am_dkim_tag_find(tg, n, "i")->vlen)) < 0) {
		am_buf_setf(why, "i= is not 1..50");
		return -1;
	}
	sig->instance = (unsigned)v;
	if (!am_dkim_name_ok(d->val, d->vlen) || !am_dkim_name_ok(s->val, s->vlen)) {
		am_buf_setf(why, "bad %s= value", am_dkim_name_ok(d->val, d->vlen) ?
		    "s" : "d");
		return -1;
	}
	if ((sp->domain = am_dkim_dupn(d->val, d->vlen, 1)) == NULL ||
	    (sp->selector = am_dkim_dupn(s->val, s->vlen, 0)) == NULL ||
	    (sp->identity = malloc(d->vlen + 2)) == NULL)
		return -1;
	sp->identity[0] = '@';
	strcpy(sp->identity + 1, sp->domain);
	if ((t = am_dkim_tag_find(tg, n, "t")) != NULL) {
		if (am_dkim_tag_num(t, &sp->t) != 0) {
			am_buf_setf(why, "bad t= value");
			return -1;
		}
		sp->has_t = 1;
	}
	if (kind != AM_ARC_K_AS)
		return 0;
	t = am_dkim_tag_find(tg, n, "cv");
	if (am_dkim_tag_is(t, "none"))
		sig->cv = AM_ARC_NONE;
	else if (am_dkim_tag_is(t, "pass"))
		sig->cv = AM_ARC_PASS;
	else if (am_dkim_tag_is(t, "fail"))
		sig->cv = AM_ARC_FAIL;
	else {
		am_buf_setf(why, "bad cv= value");
		return -1;
	}
	return 0;
}

/* The AMS-only tags: bh=, c=, h=, l=. */
static int
parse_ams(struct am_dkim_sigparams *sp, const struct am_dkim_tag *tg,
    size_t n, struct am_buf *why)
{
	const struct am_dkim_tag *t;

	if (parse_b64(am_dkim_tag_find(tg, n, "bh"), sp->bh, AM_DKIM_HASH_MAX,
	    &sp->bhlen, "bh", why) != 0)
		return -1;
	sp->hcanon = sp->bcanon = AM_DKIM_SIMPLE;
	if ((t = am_dkim_tag_find(tg, n, "c")) != NULL &&
	    am_dkim_tag_canon(sp, t, why) != 0)
		return -1;
	if (am_dkim_tag_h(sp, am_dkim_tag_find(tg, n, "h"), 1, why) != 0)
		return -1;
	if ((t = am_dkim_tag_find(tg, n, "l")) != NULL) {
		if (am_dkim_tag_num(t, &sp->l) != 0) {
			am_buf_setf(why, "bad l= value");
			return -1;
		}
		sp->has_l = 1;
	}
	return 0;
}

int
am_arc_sig_parse(enum am_arc_kind kind, const char *value, size_t len,
    struct am_arc_sig *sig, struct am_buf *why)
{
	struct am_dkim_tag tg[AM_DKIM_TAGS_MAX];
	struct am_dkim_sigparams *sp = &sig->sp;
	const struct am_dkim_tag *b;
	size_t n, i, k = 0;

	memset(sig, 0, sizeof(*sig));
	am_buf_setf(why, "out of memory");
	if (len > AM_DKIM_SIG_MAX) {
		am_buf_setf(why, "field over %d bytes", AM_DKIM_SIG_MAX);
		return -1;
	}
	if (am_dkim_tags_parse(value, len, tg, AM_DKIM_TAGS_MAX, &n, why) != 0 ||
	    check_required(kind, tg, n, why) != 0 ||
	    parse_ids(kind, sig, tg, n, why) != 0 ||
	    am_dkim_tag_alg(sp, am_dkim_tag_find(tg, n, "a"), why) != 0)
		return -1;
	b = am_dkim_tag_find(tg, n, "b");
	for (i = 0; i < b->vlen && k < 8; i++)
		if (!is_fws((unsigned char)b->val[i]))
			sp->b_prefix[k++] = b->val[i];
	if (parse_b64(b, sp->b, AM_DKIM_B_MAX, &sp->blen, "b", why) != 0)
		return -1;
	if (kind == AM_ARC_K_AS)
		sp->hcanon = sp->bcanon = AM_DKIM_RELAXED;
	else if (parse_ams(sp, tg, n, why) != 0)
		return -1;
	am_buf_reset(why);
	return 0;
}

void
am_arc_sig_release(struct am_arc_sig *sig)
{
	am_dkim_sig_release(&sig->sp);
	memset(sig, 0, sizeof(*sig));
}

/* ---- chain structure ---- */

/* Put field f of kind k, instance i into sets; -1 on a duplicate. */
static int
place(struct am_arc_fields *sets, int k, unsigned i, const struct am_hdr *f,
    struct am_buf *why)
{
	const struct am_hdr **slot = k == AM_ARC_K_AAR ? &sets[i].aar :
	    k == AM_ARC_K_AMS ? &sets[i].ams : &sets[i].as;

	if (*slot != NULL) {
		am_buf_setf(why, "two %s fields with i=%u", kind_names[k], i);
		return -1;
	}
	*slot = f;
	return 0;
}

/* The highest instance any ARC field claims (also unparsable ones). */
static unsigned
max_claimed(const struct am_hdrs *hdrs)
{
	unsigned m = 0, i;
	size_t k;
	int kind;

	for (k = 0; k < hdrs->n; k++) {
		if ((kind = am_arc_kind_of(&hdrs->v[k])) < 0)
			continue;
		if (am_arc_instance(kind, hdrs->v[k].value, hdrs->v[k].vlen,
		    &i, NULL) == 0 && i > m)
			m = i;
	}
	return m;
}

int
am_arc_collect(const struct am_hdrs *hdrs, struct am_arc_fields *sets,
    unsigned *n, struct am_buf *why)
{
	struct am_buf tmp = AM_BUF_INIT(200);
	unsigned i, max = 0;
	size_t k;
	int kind, r = 0;

	memset(sets, 0, (AM_ARC_MAX_INSTANCES + 1) * sizeof(*sets));
	*n = 0;
	for (k = 0; k < hdrs->n && r == 0; k++) {
		const struct am_hdr *f = &hdrs->v[k];
		if ((kind = am_arc_kind_of(f)) < 0)
			continue;
		if (am_arc_instance(kind, f->value, f->vlen, &i, &tmp) != 0) {
			am_buf_setf(why, "%s: %s", kind_names[kind],
			    am_buf_str(&tmp));
			r = -1;
		} else if ((r = place(sets, kind, i, f, why)) == 0 && i > max)
			max = i;
	}
	am_buf_release(&tmp);
	if (r != 0) {
		*n = max_claimed(hdrs);
		return -1;
	}
	*n = max;
	for (i = 1; i <= max; i++) {
		if (sets[i].aar && sets[i].ams && sets[i].as)
			continue;
		am_buf_setf(why, "instance %u has no %s", i, !sets[i].aar ?
		    kind_names[0] : !sets[i].ams ? kind_names[1] :
		    kind_names[2]);
		return -1;
	}
	return 0;
}
