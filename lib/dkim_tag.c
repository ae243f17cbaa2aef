/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dkim_tag: the tag=value lists of DKIM signatures and key records
 * (RFC 6376 s.3.2), and base64 with folding white space (s.2.4).
 *
 * The parser does not copy: each tag points into the text. Tag names follow
 * the ABNF exactly (ALPHA *(ALPHA / DIGIT / "_")); values may hold VALCHAR
 * and folding white space, and also 8-bit octets (seen in the wild in z=
 * and n=). A bare CR or LF is taken as white space, since key records and
 * header values reach us already unfolded or CRLF-folded. Duplicate tags
 * are an error (s.3.2 "Tags with duplicate names MUST NOT occur").
 */
#include <string.h>

#include "dkim_int.h"

static int
is_fws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_namechar(int c)
{
	return is_alpha(c) || (c >= '0' && c <= '9') || c == '_';
}

/* VALCHAR, FWS, or an 8-bit octet. */
static int
is_valbyte(int c)
{
	return (c >= 0x21 && c <= 0x7e && c != ';') || is_fws(c) || c >= 0x80;
}

static size_t
skip_fws(const char *s, size_t len, size_t i)
{
	while (i < len && is_fws((unsigned char)s[i]))
		i++;
	return i;
}

/* Parse one tag-spec at s[*ip]; leaves *ip at the ';' or at len. */
static int
parse_one(const char *s, size_t len, size_t *ip, struct am_dkim_tag *t,
    struct am_buf *why)
{
	size_t i = *ip, v;

	if (!is_alpha((unsigned char)s[i])) {
		am_buf_setf(why, "bad tag name at offset %zu", i);
		return -1;
	}
	t->name = s + i;
	while (i < len && is_namechar((unsigned char)s[i]))
		i++;
	t->nlen = (size_t)(s + i - t->name);
	i = skip_fws(s, len, i);
	if (i >= len || s[i] != '=') {
		am_buf_setf(why, "tag \"%.*s\" has no '='", (int)t->nlen,
		    t->name);
		return -1;
	}
	t->raw_start = ++i;
	i = skip_fws(s, len, i);
	t->val = s + i;
	while (i < len && s[i] != ';') {
		if (!is_valbyte((unsigned char)s[i])) {
			am_buf_setf(why, "bad character 0x%02x in tag \"%.*s\"",
			    (unsigned char)s[i], (int)t->nlen, t->name);
			return -1;
		}
		i++;
	}
	t->raw_end = i;
	v = i;
	while (v > (size_t)(t->val - s) && is_fws((unsigned char)s[v - 1]))
		v--;
	t->vlen = v - (size_t)(t->val - s);
	*ip = i;
	return 0;
}

static int
is_dup(const struct am_dkim_tag *tags, size_t n, const struct am_dkim_tag *t)
{
	size_t k;

	for (k = 0; k < n; k++)
		if (tags[k].nlen == t->nlen &&
		    memcmp(tags[k].name, t->name, t->nlen) == 0)
			return 1;
	return 0;
}

int
am_dkim_tags_parse(const char *s, size_t len, struct am_dkim_tag *tags,
    size_t max, size_t *n, struct am_buf *why)
{
	struct am_dkim_tag t;
	size_t i = 0;

	*n = 0;
	for (;;) {
		i = skip_fws(s, len, i);
		if (i >= len)
			return 0;
		if (parse_one(s, len, &i, &t, why) != 0)
			return -1;
		if (is_dup(tags, *n, &t)) {
			am_buf_setf(why, "duplicate tag \"%.*s\"",
			    (int)t.nlen, t.name);
			return -1;
		}
		if (*n >= max) {
			am_buf_setf(why, "more than %zu tags", max);
			return -1;
		}
		tags[(*n)++] = t;
		if (i < len)
			i++;	/* the ';' */
	}
}

const struct am_dkim_tag *
am_dkim_tag_find(const struct am_dkim_tag *tags, size_t n, const char *name)
{
	size_t k, nl = strlen(name);

	for (k = 0; k < n; k++)
		if (tags[k].nlen == nl && memcmp(tags[k].name, name, nl) == 0)
			return &tags[k];
	return NULL;
}

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Append the 8-bit groups of acc (nbits of it) to out. */
static int
b64_put(unsigned char *out, size_t max, size_t *o, unsigned acc, int nbits)
{
	while (nbits >= 8) {
		if (*o >= max)
			return -1;
		nbits -= 8;
		out[(*o)++] = (unsigned char)(acc >> nbits);
	}
	return 0;
}

long
am_dkim_base64(const char *s, size_t len, unsigned char *out, size_t max)
{
	unsigned acc = 0;
	size_t i, o = 0, nch = 0, pad = 0;
	int v, nbits = 0;

	for (i = 0; i < len; i++) {
		int c = (unsigned char)s[i];
		if (is_fws(c))
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (v = b64val(c)) < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		nbits += 6;
		nch++;
		if (b64_put(out, max, &o, acc, nbits) != 0)
			return -1;
		nbits %= 8;
		acc &= (1u << nbits) - 1;
	}
	/* Padding is optional, but a lone sextet or excess '=' is wrong. */
	if (nch % 4 == 1 || pad > 2 || (pad > 0 && (nch + pad) % 4 != 0))
		return -1;
	return (long)o;
}
