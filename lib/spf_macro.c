/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * spf_macro: macro-strings of RFC 7208 s.7.
 *
 *   macro-expand = ( "%{" macro-letter transformers *delimiter "}" )
 *                  / "%%" / "%_" / "%-"
 *
 * Letters s l o d i p h v everywhere, c r t only in explanations (s.7.2);
 * a DIGIT transformer must be nonzero (s.7.3); an uppercase letter is
 * URL-escaped after transformation (s.7.3: all but unreserved characters).
 * %{i} of an IPv6 client is its 32 nibbles, dot separated (s.7.3), written
 * in upper case as the reference implementation (pyspf) and the official
 * test suite do; DNS names compare case-insensitively.
 *
 * Output is bounded: values are cut at AM_SPF_EXPAND_MAX bytes, an
 * explanation at AM_SPF_EXPAND_MAX. A domain-spec keeps only the right
 * end of its expansion while it is built, then loses one trailing dot and
 * whole labels from the left until it is at most 253 octets (s.7.3), so
 * a long expansion costs no more memory than a short one.
 *
 * A target name (spf_target_expand) is what DNS is asked: a term using
 * %{s} or %{l} of a non-ASCII local part matches nothing (RFC 8616 s.4),
 * and non-ASCII bytes left in a name are converted to A-labels, or the
 * term is a permerror; raw UTF-8 is never queried.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "idna.h"
#include "spf_int.h"

enum tok_kind { TOK_LIT, TOK_MACRO };

struct mtok {
	enum tok_kind kind;
	size_t len;               /* bytes of the source consumed */
	const char *lit;          /* TOK_LIT: text to emit */
	size_t litlen;
	int letter;               /* TOK_MACRO: lower-case letter */
	int upper;                /* URL-escape the value */
	unsigned digits;          /* 0: all parts */
	int reverse;
	char delims[8];           /* NUL terminated; "" means "." */
};

/* Where a domain-spec keeps its expansion: enough for 253 octets plus a
 * trailing dot plus the dot before the first kept label. */
#define TAIL_KEEP (AM_DNS_NAME_MAX + 3)

struct sink {
	struct am_buf *b;
	size_t limit;             /* most bytes kept in b */
	int tail;                 /* keep the right end only */
};

static int
macro_error(struct am_buf *why, const char *what, const char *s, size_t n)
{
	int q = n > 40 ? 40 : (int)n;

	am_buf_setf(why, "bad macro '%.*s': %s", q, s, what);
	return -1;
}

static int
is_delim(int c)
{
	return c != '\0' && strchr(".-+,/_=", c) != NULL;
}

/* Parse "%{" letter *DIGIT [ "r" ] *delimiter "}" at s (s[0..1] = "%{"). */
static int
macro_braces(const char *s, size_t n, int mode, struct mtok *t,
    struct am_buf *why)
{
	size_t i = 2, nd = 0;
	int c;

	if (i >= n)
		return macro_error(why, "unterminated", s, n);
	c = (unsigned char)s[i++];
	t->upper = c >= 'A' && c <= 'Z';
	t->letter = t->upper ? c + ('a' - 'A') : c;
	if (t->letter == 0 || strchr("slodiphcrtv", t->letter) == NULL)
		return macro_error(why, "unknown macro letter", s, n);
	if (mode == SPF_MX_DOMAIN && strchr("crt", t->letter) != NULL)
		return macro_error(why, "letter allowed only in exp text", s, n);
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		if (t->digits < 100000)
			t->digits = t->digits * 10 + (unsigned)(s[i] - '0');
	if (i > 3 && t->digits == 0)
		return macro_error(why, "zero parts", s, n);
	if (i < n && (s[i] == 'r' || s[i] == 'R')) {
		t->reverse = 1;
		i++;
	}
	for (; i < n && is_delim((unsigned char)s[i]); i++)
		if (nd < sizeof(t->delims) - 1 && !strchr(t->delims, s[i]))
			t->delims[nd++] = s[i];
	if (i >= n || s[i] != '}')
		return macro_error(why, "bad transformer or delimiter", s, n);
	t->kind = TOK_MACRO;
	t->len = i + 1;
	return 0;
}

/* The token at s[0..n): a macro, an escape, or a run of literal bytes. */
static int
next_tok(const char *s, size_t n, int mode, struct mtok *t,
    struct am_buf *why)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	t->kind = TOK_LIT;
	if (s[0] == '%') {
		t->len = 2;
		t->lit = s + 1;
		t->litlen = 1;
		if (n >= 2 && s[1] == '{')
			return macro_braces(s, n, mode, t, why);
		if (n >= 2 && s[1] == '%')
			return 0;
		if (n >= 2 && s[1] == '_') {
			t->lit = " ";
			return 0;
		}
		if (n >= 2 && s[1] == '-') {
			t->lit = "%20";
			t->litlen = 3;
			return 0;
		}
		return macro_error(why, "'%' not followed by '{', '%', '_' "
		    "or '-'", s, n);
	}
	for (i = 0; i < n && s[i] != '%'; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e || (c == ' ' && mode != SPF_MX_EXPLAIN))
			return macro_error(why, "character not allowed", s + i,
			    n - i);
	}
	t->lit = s;
	t->litlen = t->len = i;
	return 0;
}

int
spf_macro_check(const char *s, size_t n, int mode, struct am_buf *why)
{
	struct mtok t;
	size_t i;

	for (i = 0; i < n; i += t.len)
		if (next_tok(s + i, n - i, mode, &t, why) != 0)
			return -1;
	return 0;
}

static void
sink_add(struct sink *k, const char *p, size_t n)
{
	struct am_buf *b = k->b;
	size_t keep;

	if (!k->tail || b->len + n <= k->limit) {
		if (n > k->limit - b->len) {
			n = k->limit - b->len;
			b->truncated = 1;
		}
		(void)am_buf_add(b, p, n);
		return;
	}
	/* Only the right end of a domain-spec can survive truncation. */
	if (n >= TAIL_KEEP) {
		am_buf_reset(b);
		(void)am_buf_add(b, p + n - TAIL_KEEP, TAIL_KEEP);
		return;
	}
	keep = TAIL_KEEP - n;
	if (b->len > keep) {
		memmove(b->data, b->data + b->len - keep, keep);
		b->len = keep;
		b->data[keep] = '\0';
	}
	(void)am_buf_add(b, p, n);
}

/* Split v on the delimiters, keep the right-hand parts, maybe reverse, and
 * join with "." into out (RFC 7208 s.7.3). */
static void
transform(const char *v, size_t n, const struct mtok *t, struct am_buf *out)
{
	const char *dl = t->delims[0] != '\0' ? t->delims : ".";
	size_t i, np = 1, k, seen, end, start;

	for (i = 0; i < n; i++)
		np += strchr(dl, v[i]) != NULL && v[i] != '\0';
	k = (t->digits > 0 && t->digits < np) ? t->digits : np;
	if (!t->reverse) {
		/* Parts np-k .. np-1: the substring after delimiter np-k. */
		for (i = 0, seen = 0; i < n && seen < np - k; i++)
			seen += strchr(dl, v[i]) != NULL && v[i] != '\0';
		for (; i < n; i++)
			am_buf_addc(out, strchr(dl, v[i]) && v[i] ? '.' : v[i]);
		return;
	}
	/* Reversed: parts k-1 .. 0, i.e. the first k parts read backwards. */
	for (end = 0, seen = 0; end < n; end++)
		if (strchr(dl, v[end]) != NULL && v[end] != '\0' && ++seen == k)
			break;
	while (1) {
		for (start = end; start > 0 && !(strchr(dl, v[start - 1]) &&
		    v[start - 1] != '\0'); start--)
			;
		am_buf_add(out, v + start, end - start);
		if (start == 0)
			break;
		am_buf_addc(out, '.');
		end = start - 1;
	}
}

static void
url_escape(const struct am_buf *in, struct sink *k)
{
	const char *hex = "0123456789ABCDEF";
	char e[3];
	size_t i;

	for (i = 0; i < in->len; i++) {
		unsigned char c = (unsigned char)in->data[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c) != NULL) {
			sink_add(k, (const char *)&in->data[i], 1);
			continue;
		}
		e[0] = '%';
		e[1] = hex[c >> 4];
		e[2] = hex[c & 15];
		sink_add(k, e, 3);
	}
}

/* The client address as %{i} shows it: dotted quad or dotted nibbles. */
static void
ip_dotted(const struct am_addr *a, char *out, size_t len)
{
	const char *hex = "0123456789ABCDEF";
	size_t i, o = 0;

	if (a->family != AF_INET6) {
		snprintf(out, len, "%u.%u.%u.%u", a->b[0], a->b[1], a->b[2],
		    a->b[3]);
		return;
	}
	for (i = 0; i < 16 && o + 4 < len; i++) {
		out[o++] = hex[a->b[i] >> 4];
		out[o++] = '.';
		out[o++] = hex[a->b[i] & 15];
		out[o++] = '.';
	}
	out[o > 0 ? o - 1 : 0] = '\0';
}

/* %{p}: the validated name, preferring <domain>, then its subdomains. */
static const char *
p_value(struct spf_ctx *c, const char *domain)
{
	size_t i;

	if (c->dns == NULL)
		return "unknown";
	spf_ptr_validate(c);
	for (i = 0; i < c->nvalid; i++)
		if (strcasecmp(c->valid[i], domain) == 0)
			return c->valid[i];
	for (i = 0; i < c->nvalid; i++)
		if (spf_name_under(c->valid[i], domain))
			return c->valid[i];
	return c->nvalid > 0 ? c->valid[0] : "unknown";
}

/* The value of a macro letter; tmp holds computed ones. */
static const char *
letter_value(struct spf_ctx *c, int letter, const char *domain, char *tmp,
    size_t tmplen)
{
	const struct am_spf_request *q = c->req;

	switch (letter) {
	case 's': return c->sender;
	case 'l':
		snprintf(tmp, tmplen, "%.*s", (int)c->local_len, c->sender);
		return tmp;
	case 'o':
		return c->sender[c->local_len] == '@' ?
		    c->sender + c->local_len + 1 : "";
	case 'd': return domain;
	case 'i': ip_dotted(&q->ip, tmp, tmplen); return tmp;
	case 'p': return p_value(c, domain);
	case 'v': return q->ip.family == AF_INET6 ? "ip6" : "in-addr";
	case 'h': return c->helo != NULL ? c->helo : "";
	case 'c': return am_addr_format(&q->ip, tmp, tmplen);
	case 'r': return q->receiver != NULL ? q->receiver : "unknown";
	case 't':
		snprintf(tmp, tmplen, "%lld", (long long)(q->now != 0 ?
		    q->now : time(NULL)));
		return tmp;
	}
	return "";
}

static void
expand_macro(struct spf_ctx *c, const struct mtok *t, const char *domain,
    struct sink *k)
{
	char tmp[SPF_SENDER_MAX + 1];
	struct am_buf v = AM_BUF_INIT(AM_SPF_EXPAND_MAX);
	const char *val;
	size_t n;

	val = letter_value(c, t->letter, domain, tmp, sizeof(tmp));
	n = strlen(val);
	if (n > AM_SPF_EXPAND_MAX)
		n = AM_SPF_EXPAND_MAX;
	transform(val, n, t, &v);
	if (t->upper)
		url_escape(&v, k);
	else
		sink_add(k, am_buf_str(&v), v.len);
	am_buf_release(&v);
}

/* s.7.3: drop one trailing dot, then labels from the left down to 253. */
static void
domain_finish(struct am_buf *b)
{
	size_t i;

	if (b->len > 0 && b->data[b->len - 1] == '.')
		b->data[--b->len] = '\0';
	for (i = 0; b->len - i > AM_DNS_NAME_MAX; i++) {
		while (i < b->len && b->data[i] != '.')
			i++;
		if (i >= b->len)
			return;
	}
	if (i > 0) {
		memmove(b->data, b->data + i, b->len - i + 1);
		b->len -= i;
	}
}

int
spf_macro_expand(struct spf_ctx *c, const char *s, size_t n,
    const char *domain, int mode, struct am_buf *out, struct am_buf *why)
{
	struct sink k = { out, AM_SPF_EXPAND_MAX, mode == SPF_MX_DOMAIN };
	struct mtok t;
	size_t i;

	am_buf_reset(out);
	if (out->cap < k.limit)
		k.limit = out->cap;
	if (k.limit < TAIL_KEEP)
		k.tail = 0;
	for (i = 0; i < n; i += t.len) {
		if (next_tok(s + i, n - i, mode, &t, why) != 0)
			return -1;
		if (t.kind == TOK_LIT)
			sink_add(&k, t.lit, t.litlen);
		else
			expand_macro(c, &t, domain, &k);
	}
	if (mode == SPF_MX_DOMAIN)
		domain_finish(out);
	return 0;
}

/* 1 when the domain-spec s uses %{s} or %{l} (either case). */
static int
uses_local(const char *s, size_t n)
{
	struct mtok t;
	size_t i;

	for (i = 0; i < n; i += t.len) {
		if (next_tok(s + i, n - i, SPF_MX_DOMAIN, &t, NULL) != 0)
			return 0;
		if (t.kind == TOK_MACRO && (t.letter == 's' || t.letter == 'l'))
			return 1;
	}
	return 0;
}

enum spf_target
spf_target_expand(struct spf_ctx *c, const char *s, size_t n,
    const char *domain, struct am_buf *out, struct am_buf *why)
{
	char a[AM_DNS_NAME_MAX + 1];
	struct am_buf w = AM_BUF_INIT(128);
	enum spf_target r = SPF_TGT_OK;

	if (c->local_8bit && uses_local(s, n)) {
		am_buf_setf(why, "%%{s} or %%{l} of a non-ASCII local part "
		    "(RFC 8616 s.4)");
		return SPF_TGT_LOCAL;
	}
	if (spf_macro_expand(c, s, n, domain, SPF_MX_DOMAIN, out, why) != 0)
		return SPF_TGT_BAD;
	if (am_idna_is_ascii(out->data, out->len))
		return SPF_TGT_OK;
	/* RFC 8616 s.4: names are looked up as A-labels, never raw UTF-8. */
	if (am_idna_to_ascii(am_buf_str(out), a, &w) != AM_IDNA_OK) {
		am_buf_setf(why, "target name is not a valid IDN (%s)",
		    am_buf_str(&w));
		r = SPF_TGT_BAD;
	} else {
		am_buf_reset(out);
		(void)am_buf_adds(out, a);
	}
	am_buf_release(&w);
	return r;
}

int
am_spf_macro_expand(struct am_dns *dns, const char *spec, size_t len,
    const struct am_spf_request *req, const char *domain, int exp,
    struct am_buf *out, struct am_buf *why)
{
	struct spf_ctx *c;
	int r;

	/* The context holds the sender and up to ten PTR names. */
	if ((c = malloc(sizeof(*c))) == NULL) {
		am_buf_setf(why, "out of memory");
		return -1;
	}
	spf_ctx_init(c, dns, req, NULL);
	r = spf_macro_expand(c, spec, len, domain, exp ? SPF_MX_EXPLAIN :
	    SPF_MX_DOMAIN, out, why);
	free(c);
	return r;
}
