/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * from: the author domains of a From field. See from.h.
 *
 * A recursive-descent parser over the raw value with a cursor; comments are
 * skipped iteratively (depth counted, capped), so no input makes it recurse
 * deeper than group -> mailbox. RFC 5322 s.3.2.2 (CFWS), s.3.2.3 (atom),
 * s.3.2.4 (quoted-string), s.3.4 (address syntax), s.3.4.1 (domain
 * literal), s.4.4 (obs-route, obs-local-part, obs-domain, obs-mbox-list).
 * Domains are kept as lower-case A-labels (lib/idna, RFC 8616 s.6).
 */
#include <stdio.h>
#include <string.h>

#include "from.h"
#include "idna.h"

struct parser {
	const unsigned char *p, *end;
	struct am_from *out;
	struct am_buf *why;
	int in_group;
};

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* atext of RFC 5322 s.3.2.3, plus UTF-8 bytes (RFC 6532 s.3.2). */
static int
is_atext(int c)
{
	if (c >= 0x80)
		return 1;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int
peek(const struct parser *ps)
{
	return ps->p < ps->end ? *ps->p : -1;
}

/* Describe the character at the cursor for a reason. */
static int
fail(struct parser *ps, const char *what)
{
	int c = peek(ps);

	if (c < 0)
		am_buf_setf(ps->why, "%s at end of field", what);
	else if (c > ' ' && c < 0x7f)
		am_buf_setf(ps->why, "%s at '%c'", what, c);
	else
		am_buf_setf(ps->why, "%s at byte 0x%02x", what, c);
	return -1;
}

/* Skip one comment, the cursor on its '('; nested and quoted-pairs. */
static int
skip_comment(struct parser *ps)
{
	int depth = 0;

	while (ps->p < ps->end) {
		int c = *ps->p++;

		if (c == '(') {
			if (++depth > AM_FROM_MAX_DEPTH) {
				am_buf_setf(ps->why, "comments nested deeper "
				    "than %d", AM_FROM_MAX_DEPTH);
				return -1;
			}
		} else if (c == ')') {
			if (--depth == 0)
				return 0;
		} else if (c == '\\') {
			if (ps->p == ps->end)
				break;
			ps->p++;
		}
	}
	am_buf_setf(ps->why, "unterminated comment");
	return -1;
}

/* Skip CFWS (folding white space and comments). */
static int
skip_cfws(struct parser *ps)
{
	for (;;) {
		while (ps->p < ps->end && is_wsp(*ps->p))
			ps->p++;
		if (peek(ps) != '(')
			return 0;
		if (skip_comment(ps) != 0)
			return -1;
	}
}

/* Skip a quoted-string, the cursor on its opening DQUOTE. */
static int
skip_quoted(struct parser *ps)
{
	ps->p++;
	while (ps->p < ps->end) {
		int c = *ps->p++;

		if (c == '"')
			return 0;
		if (c == '\\') {
			if (ps->p == ps->end)
				break;
			ps->p++;
		}
	}
	am_buf_setf(ps->why, "unterminated quoted string");
	return -1;
}

static void
skip_atom(struct parser *ps)
{
	while (ps->p < ps->end && is_atext(*ps->p))
		ps->p++;
}

/* Skip a domain literal "[...]", the cursor on '['. */
static int
skip_literal(struct parser *ps)
{
	while (ps->p < ps->end) {
		int c = *ps->p++;

		if (c == ']')
			return 0;
		if (c == '\\' && ps->p < ps->end)
			ps->p++;
	}
	am_buf_setf(ps->why, "unterminated domain literal");
	return -1;
}

/* A DNS name's byte: letter, digit, hyphen, underscore or UTF-8. */
static int
is_name_char(int c)
{
	return c >= 0x80 || c == '-' || c == '_' ||
	    (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Check a lower-cased domain: labels of 1..63 name bytes, 253 in all. */
static int
domain_check(struct parser *ps, const char *d, size_t len)
{
	size_t i, lab = 0;

	if (len > AM_DNS_NAME_MAX) {
		am_buf_setf(ps->why, "domain longer than %d bytes",
		    AM_DNS_NAME_MAX);
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (d[i] == '.') {
			lab = 0;
			continue;
		}
		if (!is_name_char((unsigned char)d[i])) {
			am_buf_setf(ps->why, "invalid character in domain "
			    "\"%s\"", d);
			return -1;
		}
		if (++lab > 63) {
			am_buf_setf(ps->why, "domain label over 63 bytes");
			return -1;
		}
	}
	return 0;
}

/* Append the atom at the cursor, lower-cased, to d (size AM_IDNA_IN_MAX+2). */
static int
copy_atom(struct parser *ps, char *d, size_t *len)
{
	const unsigned char *s = ps->p;

	skip_atom(ps);
	if (ps->p == s)
		return fail(ps, "empty domain label");
	for (; s < ps->p; s++) {
		if (*len > AM_IDNA_IN_MAX)
			continue;	/* too long; to_alabels says so */
		d[(*len)++] = (*s >= 'A' && *s <= 'Z') ? *s + 32 : *s;
	}
	return 0;
}

/*
 * The domain as read (raw, len bytes) to lower-case A-labels in d
 * (RFC 8616 s.6: the Author Domain is looked up and compared as A-labels,
 * whatever case or normalisation its U-labels were written in).
 */
static int
to_alabels(struct parser *ps, const char *raw, size_t len, char *d)
{
	struct am_buf w = AM_BUF_INIT(128);
	int r = 0;

	if (len > AM_IDNA_IN_MAX) {
		am_buf_setf(ps->why, "domain longer than %d bytes",
		    AM_IDNA_IN_MAX);
		return -1;
	}
	if (am_idna_to_ascii(raw, d, &w) != AM_IDNA_OK) {
		am_buf_setf(ps->why, "invalid domain (%s)", am_buf_str(&w));
		r = -1;
	}
	am_buf_release(&w);
	return r == 0 ? domain_check(ps, d, strlen(d)) : r;
}

/*
 * Read a domain (dot-atom or obs-domain with CFWS around dots) into d
 * (AM_DNS_NAME_MAX + 1 bytes) as lower-case A-labels; a domain literal is
 * an error, as it has no DNS name to check.
 */
static int
read_domain(struct parser *ps, char *d)
{
	char raw[AM_IDNA_IN_MAX + 2];
	size_t len = 0;

	if (skip_cfws(ps) != 0)
		return -1;
	if (peek(ps) == '[') {
		if (skip_literal(ps) != 0)
			return -1;
		am_buf_setf(ps->why, "domain literal: no domain name");
		return -1;
	}
	for (;;) {
		if (copy_atom(ps, raw, &len) != 0)
			return -1;
		if (skip_cfws(ps) != 0)
			return -1;
		if (peek(ps) != '.')
			break;
		ps->p++;
		if (len <= AM_IDNA_IN_MAX)
			raw[len++] = '.';
		if (skip_cfws(ps) != 0)
			return -1;
	}
	raw[len > AM_IDNA_IN_MAX ? AM_IDNA_IN_MAX + 1 : len] = '\0';
	return to_alabels(ps, raw, len, d);
}

/* Record one mailbox's domain. */
static int
add_domain(struct parser *ps, const char *d)
{
	struct am_from *o = ps->out;
	size_t i;

	if (++o->naddrs > AM_FROM_MAX_ADDRS) {
		am_buf_setf(ps->why, "more than %d addresses",
		    AM_FROM_MAX_ADDRS);
		return -1;
	}
	for (i = 0; i < o->ndomains; i++)
		if (strcmp(o->domain[i], d) == 0)
			return 0;
	if (o->ndomains == AM_FROM_MAX_DOMAINS) {
		am_buf_setf(ps->why, "more than %d domains",
		    AM_FROM_MAX_DOMAINS);
		return -1;
	}
	memcpy(o->domain[o->ndomains++], d, strlen(d) + 1);
	return 0;
}

/* Read "@" domain and record it; the cursor on '@'. */
static int
at_domain(struct parser *ps)
{
	char d[AM_DNS_NAME_MAX + 1];

	ps->p++;
	if (read_domain(ps, d) != 0)
		return -1;
	return add_domain(ps, d);
}

/*
 * Skip words and dots (a phrase, or a local-part). *local is set when they
 * form word *("." word), a valid (obs-)local-part. Returns the word count.
 */
static int
skip_words(struct parser *ps, int *local)
{
	int words = 0, dot = 0, c;

	*local = 1;
	for (;;) {
		c = peek(ps);
		if (c == '"' || (c >= 0 && is_atext(c))) {
			if (words > 0 && !dot)
				*local = 0;
			if (c == '"' && skip_quoted(ps) != 0)
				return -1;
			if (c != '"')
				skip_atom(ps);
			words++;
			dot = 0;
		} else if (c == '.') {
			if (words == 0 || dot)
				*local = 0;
			dot = 1;
			ps->p++;
		} else
			break;
		if (skip_cfws(ps) != 0)
			return -1;
	}
	if (dot)
		*local = 0;
	return words;
}

/* Skip an obs-route "@a,@b:" inside an angle-addr. */
static int
skip_route(struct parser *ps)
{
	char d[AM_DNS_NAME_MAX + 1];

	while (peek(ps) == '@' || peek(ps) == ',') {
		if (*ps->p++ == '@' && read_domain(ps, d) != 0)
			return -1;
		if (skip_cfws(ps) != 0)
			return -1;
	}
	if (peek(ps) != ':')
		return fail(ps, "bad route in angle address");
	ps->p++;
	return skip_cfws(ps);
}

/* An angle-addr, the cursor after '<'. */
static int
angle_addr(struct parser *ps)
{
	int local, words;

	if (skip_cfws(ps) != 0)
		return -1;
	if (peek(ps) == '>')
		return fail(ps, "empty angle address");
	if (peek(ps) == '@' && skip_route(ps) != 0)
		return -1;
	if ((words = skip_words(ps, &local)) < 0)
		return -1;
	if (words == 0 || !local)
		return fail(ps, "bad local-part");
	if (peek(ps) != '@')
		return fail(ps, "address without @");
	if (at_domain(ps) != 0)
		return -1;
	if (peek(ps) != '>')
		return fail(ps, "expected '>'");
	ps->p++;
	return 0;
}

static int address(struct parser *ps);

/* A group's mailbox list up to ';', the cursor after ':'. */
static int
group(struct parser *ps)
{
	ps->in_group = 1;
	for (;;) {
		if (skip_cfws(ps) != 0)
			return -1;
		if (peek(ps) < 0)
			return fail(ps, "unterminated group");
		if (peek(ps) == ';')
			break;
		if (peek(ps) == ',') {
			ps->p++;
			continue;
		}
		if (address(ps) != 0 || skip_cfws(ps) != 0)
			return -1;
		if (peek(ps) >= 0 && peek(ps) != ',' && peek(ps) != ';')
			return fail(ps, "unexpected character in group");
	}
	ps->p++;
	ps->in_group = 0;
	return 0;
}

/* One address: mailbox (name-addr or addr-spec) or group. */
static int
address(struct parser *ps)
{
	int local, words;

	if ((words = skip_words(ps, &local)) < 0)
		return -1;
	switch (peek(ps)) {
	case '<':
		ps->p++;
		return angle_addr(ps);
	case ':':
		if (ps->in_group)
			return fail(ps, "group inside a group");
		if (words == 0)
			return fail(ps, "group without a name");
		ps->p++;
		return group(ps);
	case '@':
		if (words == 0 || !local)
			return fail(ps, "bad local-part");
		return at_domain(ps);
	default:
		return fail(ps, words ? "address without @" :
		    "unexpected character");
	}
}

/* The address-list of the whole field. */
static int
address_list(struct parser *ps)
{
	for (;;) {
		if (skip_cfws(ps) != 0)
			return -1;
		if (peek(ps) < 0)
			return 0;
		if (peek(ps) == ',') {
			ps->p++;
			continue;
		}
		if (address(ps) != 0 || skip_cfws(ps) != 0)
			return -1;
		if (peek(ps) < 0)
			return 0;
		if (peek(ps) != ',')
			return fail(ps, "unexpected character after address");
		ps->p++;
	}
}

static enum am_from_status
set_status(struct am_from *out, enum am_from_status st)
{
	out->status = st;
	return st;
}

enum am_from_status
am_from_parse(const char *value, size_t len, struct am_from *out,
    struct am_buf *why)
{
	struct parser ps;
	size_t nf = out->nfields;

	memset(out, 0, sizeof(*out));
	out->nfields = nf;
	if (len > AM_FROM_MAX_LEN) {
		am_buf_setf(why, "From field longer than %d bytes",
		    AM_FROM_MAX_LEN);
		return set_status(out, AM_FROM_BAD);
	}
	if (memchr(value, '\0', len) != NULL) {
		am_buf_setf(why, "NUL byte in From field");
		return set_status(out, AM_FROM_BAD);
	}
	ps.p = (const unsigned char *)value;
	ps.end = ps.p + len;
	ps.out = out;
	ps.why = why;
	ps.in_group = 0;
	if (address_list(&ps) != 0) {
		out->ndomains = 0;
		return set_status(out, AM_FROM_BAD);
	}
	if (out->naddrs == 0) {
		am_buf_setf(why, "no mailbox in From field");
		return set_status(out, AM_FROM_BAD);
	}
	if (out->naddrs == 1)
		return set_status(out, AM_FROM_ONE);
	return set_status(out, out->ndomains == 1 ? AM_FROM_MULTI_SAME :
	    AM_FROM_MULTI_DIFF);
}

enum am_from_status
am_from_parse_hdrs(const struct am_hdrs *h, struct am_from *out,
    struct am_buf *why)
{
	const struct am_hdr *one = NULL;
	size_t i, n = 0;

	for (i = 0; i < h->n; i++)
		if (am_hdr_is(&h->v[i], "From")) {
			one = &h->v[i];
			n++;
		}
	memset(out, 0, sizeof(*out));
	out->nfields = n;
	if (n == 0) {
		am_buf_setf(why, "no From field");
		return set_status(out, AM_FROM_NONE);
	}
	if (n > 1) {
		am_buf_setf(why, "%zu From fields", n);
		return set_status(out, AM_FROM_BAD);
	}
	return am_from_parse(one->value, one->vlen, out, why);
}

const char *
am_from_status_name(enum am_from_status st)
{
	switch (st) {
	case AM_FROM_NONE:
		return "none";
	case AM_FROM_ONE:
		return "one";
	case AM_FROM_MULTI_SAME:
		return "multi_same";
	case AM_FROM_MULTI_DIFF:
		return "multi_diff";
	case AM_FROM_BAD:
		return "bad";
	}
	return "unknown";
}
