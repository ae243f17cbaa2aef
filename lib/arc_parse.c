/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * arc_parse: the ARC header fields of RFC 8617 and the structure of a
 * chain.
 *
 *   am_arc_instance()   i= of an AMS or AS (tag lists, RFC 6376 s.3.2 via
 *                       am_dkim_tags_parse()) and the "i=N;" that opens an
 *                       AAR (s.4.1.1); 1..50 (s.4.2.1)
 *   am_arc_sig_parse()  ARC-Message-Signature (s.4.1.2) and ARC-Seal
 *                       (s.4.1.3): the DKIM-Signature parser of
 *                       lib/dkim_sig.c with ARC's rules
 *                       (am_dkim_sig_parse_kind()), then the instance and
 *                       cv=, which are ARC's own
 *   am_arc_collect()    one AAR, AMS and AS per instance, 1..N without
 *                       gaps (s.4.2, s.5.2 step 3)
 *
 * The parsed signature fills a struct am_dkim_sigparams so that the DKIM
 * header hash and key checks (lib/dkim_verify.c) apply unchanged; its
 * identity is "@" d= (ARC has no AUID). RFC 8617 s.4.1.2 gives the AMS
 * the DKIM-Signature's semantics, so its c=, l=, q=, t= and x= are read
 * and checked as DKIM's are.
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

/* cv= of an ARC-Seal (s.4.1.3): none, pass or fail, any case. */
static int
parse_cv(const struct am_dkim_tag *t, enum am_arc_cv *cv, struct am_buf *why)
{
	if (am_dkim_tag_is(t, "none"))
		*cv = AM_ARC_NONE;
	else if (am_dkim_tag_is(t, "pass"))
		*cv = AM_ARC_PASS;
	else if (am_dkim_tag_is(t, "fail"))
		*cv = AM_ARC_FAIL;
	else {
		am_buf_setf(why, "bad cv= value");
		return -1;
	}
	return 0;
}

int
am_arc_sig_parse(enum am_arc_kind kind, const char *value, size_t len,
    struct am_arc_sig *sig, struct am_buf *why)
{
	struct am_dkim_tag tg[AM_DKIM_TAGS_MAX];
	const struct am_dkim_tag *t;
	size_t n;
	int v;

	memset(sig, 0, sizeof(*sig));
	if (am_dkim_sig_parse_kind(kind == AM_ARC_K_AS ? AM_DKIM_SIGKIND_AS :
	    AM_DKIM_SIGKIND_AMS, value, len, &sig->sp, tg, &n, why) != 0)
		return -1;
	t = am_dkim_tag_find(tg, n, "i");
	if ((v = parse_inst(t->val, t->vlen)) < 0) {
		am_buf_setf(why, "i= is not 1..50");
		return -1;
	}
	sig->instance = (unsigned)v;
	if (kind == AM_ARC_K_AS &&
	    parse_cv(am_dkim_tag_find(tg, n, "cv"), &sig->cv, why) != 0)
		return -1;
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
