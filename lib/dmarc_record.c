/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dmarc_record: one DMARC Policy Record (RFC 9989 s.4.7, ABNF s.4.8).
 *
 * The record is a tag list: "v=DMARC1" first (tag name case-insensitive,
 * value case-sensitive), then "name=value" pairs separated by ";" with WSP
 * around separators. Unknown tags are ignored; a known tag with a bad value
 * falls back to its default (s.4.8: "syntax errors ... discarded in favor
 * of default values"), except p/sp/np, where s.4.10.1 applies: a missing or
 * bad p=, or a bad sp=/np=, gives p=none when rua= lists a valid URI, and
 * otherwise no DMARC processing at all. A repeated tag keeps its first
 * value. Bytes outside %x20-7E in a value make that value bad.
 *
 * Written here rather than taken from libopendmarc 1.4.2; dmarc.h says why.
 */
#include <string.h>

#include "dmarc.h"

#define T_P     0x001
#define T_SP    0x002
#define T_NP    0x004
#define T_ADKIM 0x008
#define T_ASPF  0x010
#define T_PSD   0x020
#define T_T     0x040
#define T_PCT   0x080
#define T_RUA   0x100
#define T_RUF   0x200
#define T_FO    0x400

struct span {
	const char *s;
	size_t n;
};

struct pstate {
	struct am_dmarc_record *rec;
	unsigned seen;
	int bad_policy;   /* p= bad, or sp=/np= present and bad */
};

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void
trim(struct span *v)
{
	while (v->n > 0 && is_wsp(v->s[0])) {
		v->s++;
		v->n--;
	}
	while (v->n > 0 && is_wsp(v->s[v->n - 1]))
		v->n--;
}

/* Case-insensitive equality of a span with a lower-case word. */
static int
is(const struct span *v, const char *word)
{
	size_t i;

	if (v->n != strlen(word))
		return 0;
	for (i = 0; i < v->n; i++) {
		int c = (unsigned char)v->s[i];

		if (c >= 'A' && c <= 'Z')
			c += 32;
		if (c != word[i])
			return 0;
	}
	return 1;
}

static enum am_dmarc_policy
policy_value(const struct span *v)
{
	if (is(v, "none"))
		return AM_DMARC_P_NONE;
	if (is(v, "quarantine"))
		return AM_DMARC_P_QUARANTINE;
	if (is(v, "reject"))
		return AM_DMARC_P_REJECT;
	return AM_DMARC_P_UNSET;
}

/* One letter out of `allowed` (lower case), or 0. */
static char
letter_value(const struct span *v, const char *allowed)
{
	int c;

	if (v->n != 1)
		return 0;
	c = (unsigned char)v->s[0];
	if (c >= 'A' && c <= 'Z')
		c += 32;
	return (c != 0 && strchr(allowed, c) != NULL) ? (char)c : 0;
}

/* pct: 1*3DIGIT, 0..100; -1 when bad. */
static int
pct_value(const struct span *v)
{
	int n = 0;
	size_t i;

	if (v->n == 0 || v->n > 3)
		return -1;
	for (i = 0; i < v->n; i++) {
		if (v->s[i] < '0' || v->s[i] > '9')
			return -1;
		n = n * 10 + (v->s[i] - '0');
	}
	return n <= 100 ? n : -1;
}

/* One URI of a dmarc-urilist: scheme ":" something (RFC 3986 s.3.1). */
static int
uri_ok(struct span u)
{
	size_t i;

	trim(&u);
	for (i = 0; i < u.n && u.s[i] != '!'; i++)
		;
	u.n = i;	/* obs-dmarc-report-size is ignored */
	if (u.n < 3 || !is_alpha((unsigned char)u.s[0]))
		return 0;
	for (i = 1; i < u.n && u.s[i] != ':'; i++)
		if (!is_alpha((unsigned char)u.s[i]) &&
		    !(u.s[i] >= '0' && u.s[i] <= '9') &&
		    strchr("+-.", u.s[i]) == NULL)
			return 0;
	return i < u.n - 1;
}

/* 1 when the comma-separated list holds a valid URI. */
static int
urilist_ok(const struct span *v)
{
	struct span u;
	size_t i, start = 0;

	for (i = 0; i <= v->n; i++) {
		if (i < v->n && v->s[i] != ',')
			continue;
		u.s = v->s + start;
		u.n = i - start;
		if (uri_ok(u))
			return 1;
		start = i + 1;
	}
	return 0;
}

static void
set_policy(struct pstate *ps, const struct span *v, enum am_dmarc_policy *dst)
{
	if ((*dst = policy_value(v)) == AM_DMARC_P_UNSET)
		ps->bad_policy = 1;
}

/*
 * Keep a value as published in out (size n): whole when it fits, else cut
 * after the last sep (a URI list keeps whole URIs), else nothing.
 */
static void
keep(char *out, size_t n, const struct span *v, char sep)
{
	size_t len = v->n;

	if (len >= n) {
		for (len = n - 1; len > 0 && v->s[len] != sep; len--)
			;
		if (sep == 0)
			len = 0;
	}
	memcpy(out, v->s, len);
	out[len] = '\0';
}

/* Store one tag's value. */
static void
tag(struct pstate *ps, const struct span *name, const struct span *v)
{
	static const struct {
		const char *name;
		unsigned bit;
	} tags[] = {
		{ "p", T_P }, { "sp", T_SP }, { "np", T_NP },
		{ "adkim", T_ADKIM }, { "aspf", T_ASPF }, { "psd", T_PSD },
		{ "t", T_T }, { "pct", T_PCT }, { "rua", T_RUA },
		{ "ruf", T_RUF }, { "fo", T_FO },
	};
	struct am_dmarc_record *r = ps->rec;
	unsigned bit = 0;
	size_t i;
	char c;
	int n;

	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (is(name, tags[i].name))
			bit = tags[i].bit;
	if (bit == 0 || (ps->seen & bit))
		return;		/* unknown tags are ignored; first one wins */
	ps->seen |= bit;
	switch (bit) {
	case T_P:
		set_policy(ps, v, &r->p);
		break;
	case T_SP:
		set_policy(ps, v, &r->sp);
		break;
	case T_NP:
		set_policy(ps, v, &r->np);
		break;
	case T_ADKIM:
	case T_ASPF:
		if ((c = letter_value(v, "rs")) != 0)
			*(bit == T_ADKIM ? &r->adkim : &r->aspf) = c;
		break;
	case T_PSD:
		if ((c = letter_value(v, "ynu")) != 0)
			r->psd = c;
		break;
	case T_T:
		if ((c = letter_value(v, "yn")) != 0)
			r->t = c;
		break;
	case T_PCT:
		if ((n = pct_value(v)) >= 0)
			r->pct = n;
		break;
	case T_FO:
		keep(r->fo, sizeof(r->fo), v, 0);
		break;
	default:
		*(bit == T_RUA ? &r->has_rua : &r->has_ruf) = urilist_ok(v);
		keep(bit == T_RUA ? r->rua : r->ruf, sizeof(r->rua), v, ',');
		break;
	}
}

/* Split one "name = value" element and store it; bad syntax is ignored. */
static void
element(struct pstate *ps, struct span e)
{
	struct span name, v;
	size_t i;

	trim(&e);
	for (i = 0; i < e.n && is_alpha((unsigned char)e.s[i]); i++)
		;
	name.s = e.s;
	name.n = i;
	while (i < e.n && is_wsp(e.s[i]))
		i++;
	if (name.n == 0 || i == e.n || e.s[i] != '=')
		return;
	v.s = e.s + i + 1;
	v.n = e.n - i - 1;
	trim(&v);
	for (i = 0; i < v.n; i++)
		if ((unsigned char)v.s[i] < 0x20 || (unsigned char)v.s[i] > 0x7e)
			v.n = 0;	/* not a dmarc-value: bad value */
	tag(ps, &name, &v);
}

/* "v" equals "DMARC1" then end or a separator; bytes used, or 0. */
static size_t
version(const char *s, size_t len)
{
	size_t i = 1;

	if (len < 8 || (s[0] != 'v' && s[0] != 'V'))
		return 0;
	while (i < len && is_wsp(s[i]))
		i++;
	if (i == len || s[i++] != '=')
		return 0;
	while (i < len && is_wsp(s[i]))
		i++;
	if (len - i < 6 || memcmp(s + i, "DMARC1", 6) != 0)
		return 0;
	i += 6;
	while (i < len && is_wsp(s[i]))
		i++;
	if (i < len && s[i] != ';')
		return 0;
	return i;
}

static void
defaults(struct am_dmarc_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->usable = 1;
	rec->p = rec->sp = rec->np = AM_DMARC_P_UNSET;
	rec->adkim = rec->aspf = 'r';
	rec->psd = 'u';
	rec->t = 'n';
	rec->pct = 100;
}

int
am_dmarc_record_parse(const char *txt, size_t len, struct am_dmarc_record *rec)
{
	struct pstate ps;
	struct span e;
	size_t i, start;

	defaults(rec);
	if ((start = version(txt, len)) == 0)
		return 0;
	ps.rec = rec;
	ps.seen = 0;
	ps.bad_policy = 0;
	for (i = start; i <= len; i++) {
		if (i < len && txt[i] != ';')
			continue;
		e.s = txt + start;
		e.n = i - start;
		element(&ps, e);
		start = i + 1;
	}
	if (rec->p == AM_DMARC_P_UNSET || ps.bad_policy) {
		rec->p_invalid = 1;
		rec->p = AM_DMARC_P_NONE;
		rec->sp = rec->np = AM_DMARC_P_UNSET;
		rec->usable = rec->has_rua;
	}
	return 1;
}
