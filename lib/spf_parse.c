/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * spf_parse: the SPF record parser, RFC 7208 s.4.6.1 and the ABNF of s.12.
 *
 * The whole record is checked before anything is evaluated (s.4.6): any
 * syntax error anywhere is a permerror. Only printable ASCII and SP may
 * appear (s.3.1, s.4.6.1: terms are separated by SP only). Mechanism and
 * modifier names are case-insensitive (RFC 5234 literals). Modifier names
 * "redirect" and "exp" are never unknown modifiers, so "redirect=-all" is an
 * error, not an unknown modifier; each may appear once (s.6). Unknown
 * modifiers are skipped but their value must be a valid macro-string.
 * CIDR lengths follow the ABNF exactly: no leading zeros, ip4 0-32, ip6
 * 0-128. A domain-spec must end in a macro-expand or "." toplabel ["."]
 * (s.7.1).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spf_int.h"

/* Longest piece of a term we quote in a reason. */
#define QUOTE_MAX 64

static int
term_error(const struct spf_str *t, const char *what, struct am_buf *why)
{
	int n = t->n > QUOTE_MAX ? QUOTE_MAX : (int)t->n;
	char detail[128];

	/* what may be why's own text. */
	snprintf(detail, sizeof(detail), "%s", what);
	am_buf_setf(why, "syntax error at '%.*s%s': %s", n, t->p,
	    t->n > QUOTE_MAX ? "..." : "", detail);
	return -1;
}

static int
is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
int
spf_toplabel_ok(const char *p, size_t n)
{
	size_t i;
	int alpha = 0, dash = 0;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (p[i] == '-')
			dash = 1;
		else if (!is_alnum((unsigned char)p[i]))
			return 0;
		else if (!isdigit((unsigned char)p[i]))
			alpha = 1;
	}
	if (!dash)
		return alpha;
	return is_alnum((unsigned char)p[0]) && is_alnum((unsigned char)p[n - 1]);
}

/* Offset where the literal tail of a (syntactically valid) macro-string
 * begins: just after its last macro-expand. */
static size_t
literal_tail(const char *s, size_t n)
{
	size_t i = 0, tail = 0;

	while (i < n) {
		if (s[i] != '%') {
			i++;
			continue;
		}
		if (i + 1 < n && s[i + 1] == '{') {
			while (i < n && s[i] != '}')
				i++;
		} else
			i++;
		tail = ++i;
	}
	return tail;
}

/* domain-spec = macro-string domain-end;
 * domain-end = ( "." toplabel [ "." ] ) / macro-expand */
static int
domain_spec_check(const struct spf_str *t, const struct spf_str *d,
    struct am_buf *why)
{
	size_t tail, n, dot;

	if (d->n == 0)
		return term_error(t, "empty domain-spec", why);
	if (spf_macro_check(d->p, d->n, SPF_MX_DOMAIN, why) != 0)
		return term_error(t, am_buf_str(why), why);
	tail = literal_tail(d->p, d->n);
	if (tail == d->n)
		return 0;
	n = d->n;
	if (d->p[n - 1] == '.')
		n--;
	for (dot = n; dot > tail && d->p[dot - 1] != '.'; dot--)
		;
	if (dot == tail || !spf_toplabel_ok(d->p + dot, n - dot))
		return term_error(t, "domain-spec must end in a macro or "
		    "a valid top label", why);
	return 0;
}

/* A prefix length: "0" / %x31-39 0*(maxdig-1)DIGIT, at most max. */
static int
cidr_value(const char *p, size_t n, int max, int *out)
{
	size_t i;
	int v = 0;

	if (n == 0 || n > 3 || (p[0] == '0' && n > 1))
		return -1;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* Digits at the end of p[0..*n) preceded by '/': strip "/digits", set
 * the digit slice. 1 if found. */
static int
strip_slash_num(const char *p, size_t *n, struct spf_str *num)
{
	size_t e = *n, b = e;

	while (b > 0 && isdigit((unsigned char)p[b - 1]))
		b--;
	if (b == e || b == 0 || p[b - 1] != '/')
		return 0;
	num->p = p + b;
	num->n = e - b;
	*n = b - 1;
	return 1;
}

/* Split [ip4-cidr-length] [ "/" ip6-cidr-length ] off the end of s. */
static int
dual_cidr(struct spf_term *t, struct spf_str *s, struct am_buf *why)
{
	struct spf_str v4 = { NULL, 0 }, v6 = { NULL, 0 }, num;
	size_t n = s->n;

	if (strip_slash_num(s->p, &n, &num)) {
		if (n > 0 && s->p[n - 1] == '/') {
			v6 = num;
			n--;
			if (strip_slash_num(s->p, &n, &num))
				v4 = num;
		} else
			v4 = num;
	}
	s->n = n;
	if (v4.p != NULL && cidr_value(v4.p, v4.n, 32, &t->cidr4) != 0)
		return term_error(&t->text, "bad IPv4 prefix length", why);
	if (v6.p != NULL && cidr_value(v6.p, v6.n, 128, &t->cidr6) != 0)
		return term_error(&t->text, "bad IPv6 prefix length", why);
	return 0;
}

/* qnum "." qnum "." qnum "." qnum, each 0-255 without leading zeros. */
static int
ip4_network(const char *p, size_t n, struct am_addr *a)
{
	size_t i = 0, start;
	int part, v;

	for (part = 0; part < 4; part++) {
		if (part > 0 && (i >= n || p[i++] != '.'))
			return -1;
		start = i;
		/* sum at most 4 digits: more are refused below anyway */
		for (v = 0; i < n && isdigit((unsigned char)p[i]); i++)
			if (i - start < 4)
				v = v * 10 + (p[i] - '0');
		if (i == start || i - start > 3 || v > 255 ||
		    (p[start] == '0' && i - start > 1))
			return -1;
		a->b[part] = (unsigned char)v;
	}
	a->family = AF_INET;
	return i == n ? 0 : -1;
}

/* ip6-network as RFC 4291 s.2.2; kept as IPv6 even when v4-mapped. */
static int
ip6_network(const char *p, size_t n, struct am_addr *a)
{
	char tmp[64];

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET6, tmp, a->b) != 1)
		return -1;
	a->family = AF_INET6;
	return 0;
}

/* ip4: / ip6: followed by network [ "/" cidr ]. */
static int
ip_mech(struct spf_term *t, struct spf_str *arg, struct am_buf *why)
{
	struct spf_str num;
	size_t n = arg->n;
	int v6 = t->mech == SPF_M_IP6, max = v6 ? 128 : 32, r;

	t->prefix = max;
	if (strip_slash_num(arg->p, &n, &num) &&
	    cidr_value(num.p, num.n, max, &t->prefix) != 0)
		return term_error(&t->text, "bad prefix length", why);
	r = v6 ? ip6_network(arg->p, n, &t->net) :
	    ip4_network(arg->p, n, &t->net);
	if (r != 0)
		return term_error(&t->text, v6 ? "bad IPv6 network" :
		    "bad IPv4 network", why);
	return 0;
}

static const struct {
	const char *name;
	enum spf_mech mech;
} mechs[] = {
	{ "all", SPF_M_ALL }, { "include", SPF_M_INCLUDE }, { "a", SPF_M_A },
	{ "mx", SPF_M_MX }, { "ptr", SPF_M_PTR }, { "ip4", SPF_M_IP4 },
	{ "ip6", SPF_M_IP6 }, { "exists", SPF_M_EXISTS },
};

/* The mechanism's argument after its name: "", ":..." or "/...". */
static int
mech_args(struct spf_term *t, struct spf_str arg, struct am_buf *why)
{
	int colon = arg.n > 0 && arg.p[0] == ':';
	enum spf_mech m = t->mech;

	if (colon) {
		arg.p++;
		arg.n--;
	}
	if (m == SPF_M_ALL)
		return arg.n == 0 && !colon ? 0 :
		    term_error(&t->text, "\"all\" takes no argument", why);
	if (m == SPF_M_IP4 || m == SPF_M_IP6)
		return colon ? ip_mech(t, &arg, why) :
		    term_error(&t->text, "missing network", why);
	if ((m == SPF_M_A || m == SPF_M_MX) && dual_cidr(t, &arg, why) != 0)
		return -1;
	if (!colon && arg.n > 0)
		return term_error(&t->text, "unexpected argument", why);
	if (!colon && (m == SPF_M_INCLUDE || m == SPF_M_EXISTS))
		return term_error(&t->text, "missing domain-spec", why);
	if (colon) {
		t->spec = arg;
		return domain_spec_check(&t->text, &arg, why);
	}
	return 0;
}

static int
directive(struct spf_term *t, struct spf_str s, struct am_buf *why)
{
	size_t i, n;

	t->text = s;
	t->qual = AM_SPF_PASS;
	t->cidr4 = 32;
	t->cidr6 = 128;
	if (strchr("+-~?", s.p[0]) != NULL) {
		if (s.p[0] == '-')
			t->qual = AM_SPF_FAIL;
		else if (s.p[0] == '~')
			t->qual = AM_SPF_SOFTFAIL;
		else if (s.p[0] == '?')
			t->qual = AM_SPF_NEUTRAL;
		s.p++;
		s.n--;
	}
	for (n = 0; n < s.n && is_alnum((unsigned char)s.p[n]); n++)
		;
	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		if (strlen(mechs[i].name) != n ||
		    strncasecmp(mechs[i].name, s.p, n) != 0)
			continue;
		t->mech = mechs[i].mech;
		s.p += n;
		s.n -= n;
		return mech_args(t, s, why);
	}
	return term_error(&t->text, "unknown mechanism", why);
}

/* Length of a modifier name at s (ALPHA *( ALPHA / DIGIT / - _ . ))
 * followed by '=', or 0 when s is not a modifier. */
static size_t
modifier_name(struct spf_str s)
{
	size_t n;

	if (s.n == 0 || !isalpha((unsigned char)s.p[0]))
		return 0;
	for (n = 1; n < s.n; n++)
		if (!is_alnum((unsigned char)s.p[n]) && s.p[n] != '-' &&
		    s.p[n] != '_' && s.p[n] != '.')
			break;
	return n < s.n && s.p[n] == '=' ? n : 0;
}

static int
modifier(struct spf_record *rec, struct spf_str s, size_t nlen,
    struct am_buf *why)
{
	struct spf_str v = { s.p + nlen + 1, s.n - nlen - 1 }, *slot = NULL;

	if (nlen == 8 && strncasecmp(s.p, "redirect", 8) == 0)
		slot = &rec->redirect;
	else if (nlen == 3 && strncasecmp(s.p, "exp", 3) == 0)
		slot = &rec->exp;
	if (slot == NULL) {
		if (spf_macro_check(v.p, v.n, SPF_MX_UNKNOWN, why) != 0)
			return term_error(&s, am_buf_str(why), why);
		return 0;
	}
	if (slot->p != NULL)
		return term_error(&s, "modifier given twice", why);
	if (domain_spec_check(&s, &v, why) != 0)
		return -1;
	*slot = v;
	return 0;
}

static int
term(struct spf_record *rec, struct spf_str s, struct am_buf *why)
{
	size_t nlen = modifier_name(s);

	if (nlen > 0)
		return modifier(rec, s, nlen, why);
	memset(&rec->terms[rec->nterms], 0, sizeof(rec->terms[0]));
	if (directive(&rec->terms[rec->nterms], s, why) != 0)
		return -1;
	rec->nterms++;
	return 0;
}

/* Every byte is printable ASCII or SP. */
static int
ascii_check(const char *text, size_t len, struct am_buf *why)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c < 0x20 || c > 0x7e) {
			am_buf_setf(why, "syntax error: %s 0x%02x at "
			    "offset %zu", c > 0x7e ? "non-ASCII byte" :
			    "control character", c, i);
			return -1;
		}
	}
	return 0;
}

static int
version_check(const char *text, size_t len, struct am_buf *why)
{
	if (len < 6 || strncasecmp(text, "v=spf1", 6) != 0 ||
	    (len > 6 && text[6] != ' ')) {
		am_buf_setf(why, "not an SPF record (no \"v=spf1\")");
		return -1;
	}
	return 0;
}

int
spf_record_parse(const char *text, size_t len, struct spf_record *rec,
    struct am_buf *why)
{
	size_t i, start, count = 0;
	struct spf_str s;

	memset(rec, 0, sizeof(*rec));
	if (ascii_check(text, len, why) != 0 ||
	    version_check(text, len, why) != 0)
		return -1;
	for (i = 6; i < len; i++)
		if (text[i] == ' ' && i + 1 < len && text[i + 1] != ' ')
			count++;
	if (count > 0 && (rec->terms = calloc(count,
	    sizeof(rec->terms[0]))) == NULL) {
		am_buf_setf(why, "out of memory");
		return -1;
	}
	for (i = 6; i < len; i = start) {
		while (i < len && text[i] == ' ')
			i++;
		for (start = i; start < len && text[start] != ' '; start++)
			;
		if (start == i)
			break;
		s.p = text + i;
		s.n = start - i;
		if (term(rec, s, why) != 0) {
			spf_record_clear(rec);
			return -1;
		}
	}
	return 0;
}

void
spf_record_clear(struct spf_record *rec)
{
	free(rec->terms);
	memset(rec, 0, sizeof(*rec));
}

int
am_spf_record_check(const char *record, size_t len, struct am_buf *why)
{
	struct am_buf tmp = AM_BUF_INIT(256);
	struct spf_record rec;
	int r = -1;

	/* The parser quotes earlier reasons, so it needs a buffer. */
	if (spf_record_parse(record, len, &rec, why != NULL ? why : &tmp) == 0) {
		spf_record_clear(&rec);
		r = 0;
	}
	am_buf_release(&tmp);
	return r;
}
