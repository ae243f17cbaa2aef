/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dkim_sig: the one parser from a tag list to a signature, for the
 * DKIM-Signature (RFC 6376 s.3.5) and ARC's two signatures, which reuse its
 * syntax and semantics (RFC 8617 s.4.1.2, s.4.1.3). am_dkim_sig_parse_kind()
 * makes the checks of s.6.1.1 that need no key: required tags; known a=
 * and c=; x= after t=; q= offers dns/txt. Kind by kind:
 *   DKIM-Signature  requires v a b bh d h s; v=1; i= (the AUID, default
 *                   "@" d=) within d=, subdomains allowed; h= names From
 *   ARC-Message-    requires i a b bh d h s; v= is ignored; i= is the
 *   Signature       instance (s.4.2.1), left to the caller, and the
 *                   identity is "@" d=; h= may hold empty names, must not
 *                   name ARC-Seal and need not name From
 *   ARC-Seal        requires i a b cv d s (cv= left to the caller); no h=
 *                   allowed; bh=, c=, l=, q= and x= are not its tags and are
 *                   ignored: relaxed header canonicalization (s.5.1.1)
 * d=, s= and the i= domain may be U-labels (RFC 8616 s.5) and are kept as
 * lower-case A-labels (lib/idna); the signed header itself is hashed as it
 * is. Unknown tags are ignored. Every problem is reported through why and
 * makes the signature permerror (the caller decides). Expiry needs the
 * clock and is checked by the DKIM driver.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim_int.h"
#include "idna.h"

/* Copy n bytes into a new lower-cased (lower != 0) string. */
char *
am_dkim_dupn(const char *s, size_t n, int lower)
{
	char *p;
	size_t i;

	if ((p = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		p[i] = lower ? (char)tolower((unsigned char)s[i]) : s[i];
	p[n] = '\0';
	return p;
}

int
am_dkim_tag_is(const struct am_dkim_tag *t, const char *s)
{
	return t->vlen == strlen(s) && strncasecmp(t->val, s, t->vlen) == 0;
}

/* Domain or selector: dot-separated labels of letters, digits, '-', '_'. */
int
am_dkim_name_ok(const char *s, size_t n)
{
	size_t i, label = 0;

	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (label == 0 || label > 63)
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return 0;
		label++;
	}
	return 1;
}

char *
am_dkim_name_dup(const char *s, size_t n, int lower, struct am_buf *why)
{
	char in[AM_IDNA_IN_MAX + 1], a[AM_DNS_NAME_MAX + 1];

	if (am_idna_is_ascii(s, n))
		return am_dkim_name_ok(s, n) ? am_dkim_dupn(s, n, lower) : NULL;
	/* no trailing dot: d= and s= are dot-atoms (RFC 6376 s.3.5) */
	if (n > AM_IDNA_IN_MAX || s[n - 1] == '.' || memchr(s, '\0', n))
		return NULL;
	memcpy(in, s, n);
	in[n] = '\0';
	if (am_idna_to_ascii(in, a, why) != AM_IDNA_OK ||
	    !am_dkim_name_ok(a, strlen(a)))
		return NULL;
	return am_dkim_dupn(a, strlen(a), 0);
}

/* 1*DIGIT, at most 20 digits, into *out (no overflow). */
int
am_dkim_tag_num(const struct am_dkim_tag *t, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (t->vlen == 0 || t->vlen > 19)
		return -1;
	for (i = 0; i < t->vlen; i++) {
		if (!isdigit((unsigned char)t->val[i]))
			return -1;
		v = v * 10 + (uint64_t)(t->val[i] - '0');
	}
	*out = v;
	return 0;
}

/* a= into sp->alg and sp->algname. */
static int
tag_alg(struct am_dkim_sigparams *sp, const struct am_dkim_tag *t,
    struct am_buf *why)
{
	if ((sp->algname = am_dkim_dupn(t->val, t->vlen, 1)) == NULL)
		return -1;
	if (strcmp(sp->algname, "rsa-sha256") == 0)
		sp->alg = AM_DKIM_RSA_SHA256;
	else if (strcmp(sp->algname, "ed25519-sha256") == 0)
		sp->alg = AM_DKIM_ED25519_SHA256;
	else if (strcmp(sp->algname, "rsa-sha1") == 0)
		sp->alg = AM_DKIM_RSA_SHA1;
	else {
		am_buf_setf(why, "unsupported algorithm a=%.40s", sp->algname);
		return -1;
	}
	return 0;
}

static int
canon_word(const char *s, size_t n, enum am_dkim_canon *c)
{
	if (n == 6 && strncasecmp(s, "simple", 6) == 0)
		*c = AM_DKIM_SIMPLE;
	else if (n == 7 && strncasecmp(s, "relaxed", 7) == 0)
		*c = AM_DKIM_RELAXED;
	else
		return -1;
	return 0;
}

/* c= into sp->hcanon and sp->bcanon. */
static int
tag_canon(struct am_dkim_sigparams *sp, const struct am_dkim_tag *t,
    struct am_buf *why)
{
	const char *slash = memchr(t->val, '/', t->vlen);
	size_t n1 = slash ? (size_t)(slash - t->val) : t->vlen;

	sp->bcanon = AM_DKIM_SIMPLE;
	if (canon_word(t->val, n1, &sp->hcanon) != 0 || (slash != NULL &&
	    canon_word(slash + 1, t->vlen - n1 - 1, &sp->bcanon) != 0)) {
		am_buf_setf(why, "unsupported canonicalization c=%.*s",
		    (int)(t->vlen > 40 ? 40 : t->vlen), t->val);
		return -1;
	}
	return 0;
}

/*
 * h=: colon separated field names with FWS around them (RFC 6376 s.3.5).
 * DKIM (arc 0): no empty name, From must be named. ARC's AMS (arc 1,
 * RFC 8617 s.4.1.2): empty names name nothing (the ARC test suite expects
 * that), and ARC-Seal must not be named.
 */
static int
tag_h(struct am_dkim_sigparams *sp, const struct am_dkim_tag *t, int arc,
    struct am_buf *why)
{
	const char *p = t->val, *end = t->val + t->vlen, *e, *a, *z;
	int from = 0;

	if ((sp->h = calloc(AM_DKIM_H_MAX, sizeof(*sp->h))) == NULL)
		return -1;
	while (p <= end) {
		if ((e = memchr(p, ':', (size_t)(end - p))) == NULL)
			e = end;
		for (a = p; a < e && strchr(" \t\r\n", *a); a++)
			;
		for (z = e; z > a && strchr(" \t\r\n", z[-1]); z--)
			;
		p = e + 1;
		if (a == z && arc)
			continue;
		if (a == z || memchr(a, ' ', (size_t)(z - a)) != NULL ||
		    memchr(a, '\t', (size_t)(z - a)) != NULL) {
			am_buf_setf(why, "bad field name in h=");
			return -1;
		}
		if (arc && z - a == 8 && strncasecmp(a, "arc-seal", 8) == 0) {
			am_buf_setf(why, "h= names ARC-Seal");
			return -1;
		}
		if (sp->nh >= AM_DKIM_H_MAX) {
			am_buf_setf(why, "more than %d names in h=",
			    AM_DKIM_H_MAX);
			return -1;
		}
		if ((sp->h[sp->nh++] = am_dkim_dupn(a, (size_t)(z - a), 0)) == NULL)
			return -1;
		if (z - a == 4 && strncasecmp(a, "from", 4) == 0)
			from = 1;
	}
	if (!from && !arc) {
		am_buf_setf(why, "From field not signed");
		return -1;
	}
	return 0;
}

/*
 * The i= domain at `at` (in sp->identity) compared with d= as a domain name
 * (any case, U-labels, a trailing dot: RFC 8616 s.5) and rewritten as
 * lower-case A-labels; 0, or -1 with why.
 */
static int
identity_domain(struct am_dkim_sigparams *sp, char *at, struct am_buf *why)
{
	char a[AM_DNS_NAME_MAX + 1], *id;
	size_t dl = strlen(sp->domain), il, local = (size_t)(at - sp->identity);
	struct am_buf iw = AM_BUF_INIT(128);

	if (am_idna_to_ascii(at, a, &iw) != AM_IDNA_OK) {
		am_buf_setf(why, "bad i= domain (%s)", am_buf_str(&iw));
		am_buf_release(&iw);
		return -1;
	}
	am_buf_release(&iw);
	il = strlen(a);
	if (!(il == dl || (il > dl && a[il - dl - 1] == '.')) ||
	    strcmp(a + il - dl, sp->domain) != 0) {
		am_buf_setf(why, "i= domain is not d= or below it");
		return -1;
	}
	if ((id = malloc(local + il + 1)) == NULL)
		return -1;
	memcpy(id, sp->identity, local);
	memcpy(id + local, a, il + 1);
	free(sp->identity);
	sp->identity = id;
	return 0;
}

/* i=: dkim-quoted-printable (s.2.11) decoded; its domain must be d= or
 * below it. */
static int
parse_i(struct am_dkim_sigparams *sp, const struct am_dkim_tag *t,
    struct am_buf *why)
{
	char *o, *at;
	size_t i;
	int h1, h2;

	if ((o = sp->identity = malloc(t->vlen + 1)) == NULL)
		return -1;
	for (i = 0; i < t->vlen; i++) {
		if (strchr(" \t\r\n", t->val[i]))
			continue;
		if (t->val[i] == '=' && i + 2 < t->vlen &&
		    (h1 = am_buf_hexval(t->val[i + 1])) >= 0 &&
		    (h2 = am_buf_hexval(t->val[i + 2])) >= 0) {
			*o++ = (char)(h1 * 16 + h2);
			i += 2;
			continue;
		}
		*o++ = t->val[i];
	}
	*o = '\0';
	if ((at = strrchr(sp->identity, '@')) == NULL) {
		am_buf_setf(why, "i= has no '@'");
		return -1;
	}
	return identity_domain(sp, at + 1, why);
}

static int
parse_b(struct am_dkim_sigparams *sp, const struct am_dkim_tag *b,
    const struct am_dkim_tag *bh, struct am_buf *why)
{
	long n;
	size_t i, k = 0;

	for (i = 0; i < b->vlen && k < 8; i++)
		if (!strchr(" \t\r\n", b->val[i]))
			sp->b_prefix[k++] = b->val[i];
	sp->b_prefix[k] = '\0';
	if ((n = am_dkim_base64(b->val, b->vlen, sp->b, AM_DKIM_B_MAX)) <= 0) {
		am_buf_setf(why, "b= is empty or not base64, or over %d bytes",
		    AM_DKIM_B_MAX);
		return -1;
	}
	sp->blen = (size_t)n;
	if (bh == NULL)
		return 0;
	n = am_dkim_base64(bh->val, bh->vlen, sp->bh, AM_DKIM_HASH_MAX);
	if (n <= 0) {
		am_buf_setf(why, "bh= is empty or not base64");
		return -1;
	}
	sp->bhlen = (size_t)n;
	return 0;
}

/* The tags whose values need nothing but copying or a number (an
 * ARC-Seal has no l= and no x=). */
static int
parse_simple_tags(struct am_dkim_sigparams *sp, const struct am_dkim_tag *tg,
    size_t n, int seal, struct am_buf *why)
{
	const struct am_dkim_tag *t;

	if (!seal && (t = am_dkim_tag_find(tg, n, "l")) != NULL) {
		if (am_dkim_tag_num(t, &sp->l) != 0) {
			am_buf_setf(why, "bad l= value");
			return -1;
		}
		sp->has_l = 1;
	}
	if ((t = am_dkim_tag_find(tg, n, "t")) != NULL) {
		if (am_dkim_tag_num(t, &sp->t) != 0) {
			am_buf_setf(why, "bad t= value");
			return -1;
		}
		sp->has_t = 1;
	}
	if (!seal && (t = am_dkim_tag_find(tg, n, "x")) != NULL) {
		if (am_dkim_tag_num(t, &sp->x) != 0) {
			am_buf_setf(why, "bad x= value");
			return -1;
		}
		sp->has_x = 1;
	}
	if (sp->has_t && sp->has_x && sp->x <= sp->t) {
		am_buf_setf(why, "x= is not after t=");
		return -1;
	}
	return 0;
}

/* q=: a colon separated list that must offer dns/txt. */
static int
parse_q(const struct am_dkim_tag *t, struct am_buf *why)
{
	const char *p = t->val, *end = t->val + t->vlen, *e;

	while (p < end) {
		if ((e = memchr(p, ':', (size_t)(end - p))) == NULL)
			e = end;
		while (p < e && strchr(" \t\r\n", *p))
			p++;
		if (e - p >= 7 && strncasecmp(p, "dns/txt", 7) == 0 &&
		    (e - p == 7 || strchr(" \t\r\n", p[7])))
			return 0;
		p = e + 1;
	}
	am_buf_setf(why, "unsupported query method q=%.*s",
	    (int)(t->vlen > 40 ? 40 : t->vlen), t->val);
	return -1;
}

/* h=, c= and q=, which an ARC-Seal does not have: it signs no message
 * fields, and its header canonicalization is relaxed (RFC 8617 s.5.1.1). */
static int
parse_msg_tags(enum am_dkim_sigkind kind, struct am_dkim_sigparams *sp,
    const struct am_dkim_tag *tg, size_t n, struct am_buf *why)
{
	const struct am_dkim_tag *t;

	if (kind == AM_DKIM_SIGKIND_AS) {
		if (am_dkim_tag_find(tg, n, "h") != NULL) {
			am_buf_setf(why, "h= in an ARC-Seal");
			return -1;
		}
		sp->hcanon = sp->bcanon = AM_DKIM_RELAXED;
		return 0;
	}
	if (tag_h(sp, am_dkim_tag_find(tg, n, "h"),
	    kind == AM_DKIM_SIGKIND_AMS, why) != 0)
		return -1;
	if ((t = am_dkim_tag_find(tg, n, "c")) != NULL &&
	    tag_canon(sp, t, why) != 0)
		return -1;
	if ((t = am_dkim_tag_find(tg, n, "q")) != NULL && parse_q(t, why) != 0)
		return -1;
	return 0;
}

/* Required tags of each enum am_dkim_sigkind, in the order checked. */
static const char *const required[][8] = {
	{ "v", "a", "b", "bh", "d", "h", "s", NULL },
	{ "i", "a", "b", "bh", "d", "h", "s", NULL },
	{ "i", "a", "b", "cv", "d", "s", NULL },
};

static int
parse_ids(enum am_dkim_sigkind kind, struct am_dkim_sigparams *sp,
    const struct am_dkim_tag *tg, size_t n, struct am_buf *why)
{
	const struct am_dkim_tag *d, *s, *t;
	struct am_buf iw = AM_BUF_INIT(128);
	size_t k;

	d = am_dkim_tag_find(tg, n, "d");
	s = am_dkim_tag_find(tg, n, "s");
	if (d != NULL)
		sp->domain = am_dkim_name_dup(d->val, d->vlen, 1, &iw);
	if (s != NULL)
		sp->selector = am_dkim_name_dup(s->val, s->vlen, 0, &iw);
	for (k = 0; required[kind][k] != NULL; k++)
		if (am_dkim_tag_find(tg, n, required[kind][k]) == NULL) {
			am_buf_setf(why, "missing %s= tag", required[kind][k]);
			am_buf_release(&iw);
			return -1;
		}
	if (sp->domain == NULL || sp->selector == NULL) {
		am_buf_setf(why, "bad %s= value%s%s%s", sp->domain ? "s" : "d",
		    iw.len ? " (" : "", am_buf_str(&iw), iw.len ? ")" : "");
		am_buf_release(&iw);
		return -1;
	}
	am_buf_release(&iw);
	if (kind == AM_DKIM_SIGKIND_DKIM &&
	    !am_dkim_tag_is(am_dkim_tag_find(tg, n, "v"), "1")) {
		am_buf_setf(why, "unsupported version (v= is not 1)");
		return -1;
	}
	/* ARC's i= is the instance: no AUID, the identity is "@" d=. */
	if (kind == AM_DKIM_SIGKIND_DKIM &&
	    (t = am_dkim_tag_find(tg, n, "i")) != NULL)
		return parse_i(sp, t, why);
	if ((sp->identity = malloc(strlen(sp->domain) + 2)) == NULL)
		return -1;
	sp->identity[0] = '@';
	strcpy(sp->identity + 1, sp->domain);
	return 0;
}

int
am_dkim_sig_parse_kind(enum am_dkim_sigkind kind, const char *value,
    size_t len, struct am_dkim_sigparams *sp, struct am_dkim_tag *tg,
    size_t *ntg, struct am_buf *why)
{
	struct am_dkim_tag own[AM_DKIM_TAGS_MAX];
	int seal = kind == AM_DKIM_SIGKIND_AS;
	size_t n;

	memset(sp, 0, sizeof(*sp));
	am_buf_setf(why, "out of memory");
	if (tg == NULL)
		tg = own;
	if (ntg == NULL)
		ntg = &n;
	*ntg = 0;
	if (len > AM_DKIM_SIG_MAX) {
		am_buf_setf(why, "signature over %d bytes", AM_DKIM_SIG_MAX);
		return -1;
	}
	if (am_dkim_tags_parse(value, len, tg, AM_DKIM_TAGS_MAX, ntg, why) != 0)
		return -1;
	n = *ntg;
	if (parse_ids(kind, sp, tg, n, why) != 0)
		return -1;
	if (tag_alg(sp, am_dkim_tag_find(tg, n, "a"), why) != 0)
		return -1;
	if (parse_b(sp, am_dkim_tag_find(tg, n, "b"),
	    seal ? NULL : am_dkim_tag_find(tg, n, "bh"), why) != 0)
		return -1;
	if (parse_msg_tags(kind, sp, tg, n, why) != 0)
		return -1;
	if (parse_simple_tags(sp, tg, n, seal, why) != 0)
		return -1;
	if (why != NULL)
		am_buf_reset(why);
	return 0;
}

int
am_dkim_sig_parse(const char *value, size_t len, struct am_dkim_sigparams *sp,
    struct am_buf *why)
{
	return am_dkim_sig_parse_kind(AM_DKIM_SIGKIND_DKIM, value, len, sp,
	    NULL, NULL, why);
}

void
am_dkim_sig_release(struct am_dkim_sigparams *sp)
{
	size_t i;

	if (sp->h != NULL)
		for (i = 0; i < sp->nh; i++)
			free(sp->h[i]);
	free(sp->h);
	free(sp->algname);
	free(sp->domain);
	free(sp->selector);
	free(sp->identity);
	memset(sp, 0, sizeof(*sp));
}

const char *
am_dkim_alg_hash(enum am_dkim_alg alg)
{
	return alg == AM_DKIM_RSA_SHA1 ? "sha1" : "sha256";
}
