/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for lib/dkim_tag.c and lib/dkim_sig.c: tag-list syntax
 * (RFC 6376 s.3.2), base64 with FWS, and DKIM-Signature parsing
 * (s.3.5, s.6.1.1). Tables of named cases; a failing case prints its name
 * with what it got and what it expected.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <cmocka.h>

#include "dkim_int.h"

struct tag_case {
	const char *name;
	const char *in;
	const char *want;   /* tags rendered "n=v|n=v", or NULL: error */
};

static const struct tag_case tag_cases[] = {
	{ "simple pair", "a=b", "a=b" },
	{ "two tags", "a=b; c=d", "a=b|c=d" },
	{ "trailing semicolon", "a=b;", "a=b" },
	{ "trailing semicolon and FWS", "a=b; \r\n ", "a=b" },
	{ "FWS around everything", " a \t= \r\n b c \r\n\t; d=e", "a=b c|d=e" },
	{ "empty value", "p=; k=rsa", "p=|k=rsa" },
	{ "empty list", "", "" },
	{ "only FWS", " \r\n ", "" },
	{ "underscore and digit in name", "x_1=2", "x_1=2" },
	{ "value with equals", "b=abc==", "b=abc==" },
	{ "8-bit value", "n=caf\xc3\xa9", "n=caf\xc3\xa9" },
	{ "duplicate tag", "a=1; a=2", NULL },
	{ "duplicate after FWS", "v=1; a=x;\r\n v=1", NULL },
	{ "no equals", "k=rsa; t; p=x", NULL },
	{ "empty element", "a=b;;c=d", NULL },
	{ "name starts with digit", "1a=b", NULL },
	{ "name with dash", "a-b=c", NULL },
	{ "control char in value", "a=b\001c", NULL },
	{ "lone semicolon", ";", NULL },
	{ "name only at end", "a=b; c", NULL },
};

static void
render(const struct am_dkim_tag *t, size_t n, char *out, size_t size)
{
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < n && o < size; i++)
		o += (size_t)snprintf(out + o, size - o, "%s%.*s=%.*s",
		    i ? "|" : "", (int)t[i].nlen, t[i].name, (int)t[i].vlen,
		    t[i].val);
}

static void
test_tag_table(void **state)
{
	struct am_dkim_tag tags[AM_DKIM_TAGS_MAX];
	struct am_buf why = AM_BUF_INIT(200);
	char got[512];
	size_t i, n;
	int r, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(tag_cases) / sizeof(tag_cases[0]); i++) {
		const struct tag_case *c = &tag_cases[i];
		r = am_dkim_tags_parse(c->in, strlen(c->in), tags,
		    AM_DKIM_TAGS_MAX, &n, &why);
		if (r == 0)
			render(tags, n, got, sizeof(got));
		else
			snprintf(got, sizeof(got), "error: %s", am_buf_str(&why));
		if (c->want == NULL ? r == 0 : (r != 0 || strcmp(got, c->want))) {
			print_error("case \"%s\": got \"%s\", expected \"%s\"\n",
			    c->name, got, c->want ? c->want : "an error");
			bad++;
		}
	}
	am_buf_release(&why);
	assert_int_equal(bad, 0);
}

static void
test_tag_raw_offsets(void **state)
{
	struct am_dkim_tag t[4];
	const char *s = "a=1; b= xy \r\n ; c=3";
	size_t n;

	(void)state;
	assert_int_equal(am_dkim_tags_parse(s, strlen(s), t, 4, &n, NULL), 0);
	assert_int_equal(n, 3);
	assert_int_equal(t[1].raw_start, 7);
	assert_int_equal(s[t[1].raw_end], ';');
	assert_int_equal(t[2].raw_end, strlen(s));
	assert_non_null(am_dkim_tag_find(t, n, "c"));
	assert_null(am_dkim_tag_find(t, n, "bh"));
	assert_int_equal(am_dkim_tags_parse("a=1;b=2;c=3", 11, t, 2, &n,
	    NULL), -1);
}

struct b64_case {
	const char *name;
	const char *in;
	long want;          /* decoded length, -1 for an error */
	const char *bytes;
};

static const struct b64_case b64_cases[] = {
	{ "plain", "aGVsbG8=", 5, "hello" },
	{ "folded", "aGVs\r\n bG8=", 5, "hello" },
	{ "no padding", "aGVsbG8", 5, "hello" },
	{ "two pad", "aGk=", 2, "hi" },
	{ "empty", "", 0, "" },
	{ "bad char", "aGV*bG8=", -1, NULL },
	{ "data after pad", "aGk=aGk=", -1, NULL },
	{ "lone sextet", "aGVsb", -1, NULL },
	{ "three pad", "aG===", -1, NULL },
};

static void
test_base64_table(void **state)
{
	unsigned char out[64];
	size_t i;
	long r;
	int bad = 0;

	(void)state;
	for (i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
		const struct b64_case *c = &b64_cases[i];
		r = am_dkim_base64(c->in, strlen(c->in), out, sizeof(out));
		if (r != c->want || (r > 0 && memcmp(out, c->bytes,
		    (size_t)r) != 0)) {
			print_error("case \"%s\": got %ld, expected %ld\n",
			    c->name, r, c->want);
			bad++;
		}
	}
	assert_int_equal(am_dkim_base64("aGVsbG8=", 8, out, 4), -1);
	assert_int_equal(bad, 0);
}

#define GOOD_TAIL "; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA"

struct sig_case {
	const char *name;
	const char *in;
	const char *want;   /* "OK" plus checks below, or a reason substring */
	const char *domain, *identity;
	int bcanon_relaxed, hcanon_relaxed;
	long long l;        /* -1: no l= */
};

static const struct sig_case sig_cases[] = {
	{ "minimal", "v=1; a=rsa-sha256; d=Example.COM; s=sel; h=from"
	    GOOD_TAIL, "OK", "example.com", "@example.com", 0, 0, -1 },
	{ "c=relaxed means relaxed/simple", "v=1; a=rsa-sha256; c=relaxed;"
	    " d=e.com; s=s; h=from" GOOD_TAIL, "OK", "e.com", "@e.com", 0, 1,
	    -1 },
	{ "c=simple/relaxed", "v=1; a=ed25519-sha256; c=simple/relaxed;"
	    " d=e.com; s=s; h=from:to" GOOD_TAIL, "OK", "e.com", "@e.com", 1,
	    0, -1 },
	{ "i= subdomain and l=", "v=1; a=rsa-sha256; d=e.com; i=joe@Sub.E.com;"
	    " s=s; l=1234; h=from" GOOD_TAIL, "OK", "e.com", "joe@sub.e.com",
	    0, 0, 1234 },
	{ "i= quoted-printable", "v=1; a=rsa-sha256; d=e.com; i=a=3Db@e.com;"
	    " s=s; h=from" GOOD_TAIL, "OK", "e.com", "a=b@e.com", 0, 0, -1 },
	{ "h= with FWS and case", "v=1; a=rsa-sha256; d=e.com; s=s;"
	    " h=To :\r\n FROM : subject" GOOD_TAIL, "OK", "e.com", "@e.com",
	    0, 0, -1 },
	{ "unknown tag ignored", "v=1; a=rsa-sha256; d=e.com; s=s; h=from;"
	    " zz=top" GOOD_TAIL, "OK", "e.com", "@e.com", 0, 0, -1 },
	{ "q=dns/txt", "v=1; a=rsa-sha256; q=dns/txt; d=e.com; s=s; h=from"
	    GOOD_TAIL, "OK", "e.com", "@e.com", 0, 0, -1 },
	{ "x after t", "v=1; a=rsa-sha256; t=100; x=200; d=e.com; s=s; h=from"
	    GOOD_TAIL, "OK", "e.com", "@e.com", 0, 0, -1 },
	{ "missing v", "a=rsa-sha256; d=e.com; s=s; h=from" GOOD_TAIL,
	    "missing v=", NULL, NULL, 0, 0, 0 },
	{ "v=2", "v=2; a=rsa-sha256; d=e.com; s=s; h=from" GOOD_TAIL,
	    "version", NULL, NULL, 0, 0, 0 },
	{ "missing d", "v=1; a=rsa-sha256; s=s; h=from" GOOD_TAIL,
	    "missing d=", NULL, NULL, 0, 0, 0 },
	{ "missing bh", "v=1; a=rsa-sha256; d=e.com; s=s; h=from; b=AAAA",
	    "missing bh=", NULL, NULL, 0, 0, 0 },
	{ "h without from", "v=1; a=rsa-sha256; d=e.com; s=s; h=to:subject"
	    GOOD_TAIL, "From field not signed", NULL, NULL, 0, 0, 0 },
	{ "h empty element", "v=1; a=rsa-sha256; d=e.com; s=s; h=from::to"
	    GOOD_TAIL, "bad field name", NULL, NULL, 0, 0, 0 },
	{ "i= other domain", "v=1; a=rsa-sha256; d=e.com; i=a@xe.com; s=s;"
	    " h=from" GOOD_TAIL, "i= domain", NULL, NULL, 0, 0, 0 },
	{ "i= parent domain", "v=1; a=rsa-sha256; d=sub.e.com; i=a@e.com;"
	    " s=s; h=from" GOOD_TAIL, "i= domain", NULL, NULL, 0, 0, 0 },
	{ "i= without @", "v=1; a=rsa-sha256; d=e.com; i=e.com; s=s; h=from"
	    GOOD_TAIL, "no '@'", NULL, NULL, 0, 0, 0 },
	{ "x before t", "v=1; a=rsa-sha256; t=200; x=100; d=e.com; s=s;"
	    " h=from" GOOD_TAIL, "x= is not after t=", NULL, NULL, 0, 0, 0 },
	{ "x equals t", "v=1; a=rsa-sha256; t=200; x=200; d=e.com; s=s;"
	    " h=from" GOOD_TAIL, "x= is not after t=", NULL, NULL, 0, 0, 0 },
	{ "unknown algorithm", "v=1; a=rsa-md5; d=e.com; s=s; h=from"
	    GOOD_TAIL, "unsupported algorithm", NULL, NULL, 0, 0, 0 },
	{ "unknown canon", "v=1; a=rsa-sha256; c=future; d=e.com; s=s;"
	    " h=from" GOOD_TAIL, "canonicalization", NULL, NULL, 0, 0, 0 },
	{ "unknown body canon", "v=1; a=rsa-sha256; c=simple/x; d=e.com;"
	    " s=s; h=from" GOOD_TAIL, "canonicalization", NULL, NULL, 0, 0,
	    0 },
	{ "q=http", "v=1; a=rsa-sha256; q=http; d=e.com; s=s; h=from"
	    GOOD_TAIL, "query method", NULL, NULL, 0, 0, 0 },
	{ "l not a number", "v=1; a=rsa-sha256; l=12a; d=e.com; s=s; h=from"
	    GOOD_TAIL, "bad l=", NULL, NULL, 0, 0, 0 },
	{ "l overflow", "v=1; a=rsa-sha256; l=99999999999999999999999;"
	    " d=e.com; s=s; h=from" GOOD_TAIL, "bad l=", NULL, NULL, 0, 0, 0 },
	{ "b not base64", "v=1; a=rsa-sha256; d=e.com; s=s; h=from;"
	    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=@@",
	    "b= is empty", NULL, NULL, 0, 0, 0 },
	{ "b empty", "v=1; a=rsa-sha256; d=e.com; s=s; h=from;"
	    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=",
	    "b= is empty", NULL, NULL, 0, 0, 0 },
	{ "duplicate tag", "v=1; v=1; a=rsa-sha256; d=e.com; s=s; h=from"
	    GOOD_TAIL, "duplicate", NULL, NULL, 0, 0, 0 },
	{ "bad domain", "v=1; a=rsa-sha256; d=e..com; s=s; h=from"
	    GOOD_TAIL, "bad d=", NULL, NULL, 0, 0, 0 },
	{ "bad selector", "v=1; a=rsa-sha256; d=e.com; s=a/b; h=from"
	    GOOD_TAIL, "bad s=", NULL, NULL, 0, 0, 0 },
	{ "syntax error", "synerr", "has no '='", NULL, NULL, 0, 0, 0 },
};

static int
sig_case_ok(const struct sig_case *c, int r, const struct am_dkim_sigparams *sp,
    const char *why)
{
	if (strcmp(c->want, "OK") != 0)
		return r != 0 && strstr(why, c->want) != NULL;
	return r == 0 && strcmp(sp->domain, c->domain) == 0 &&
	    strcmp(sp->identity, c->identity) == 0 &&
	    (sp->bcanon == AM_DKIM_RELAXED) == c->bcanon_relaxed &&
	    (sp->hcanon == AM_DKIM_RELAXED) == c->hcanon_relaxed &&
	    (c->l < 0 ? !sp->has_l : sp->has_l && sp->l == (uint64_t)c->l);
}

static void
test_sig_table(void **state)
{
	struct am_dkim_sigparams sp;
	struct am_buf why = AM_BUF_INIT(200);
	size_t i;
	int r, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(sig_cases) / sizeof(sig_cases[0]); i++) {
		const struct sig_case *c = &sig_cases[i];
		r = am_dkim_sig_parse(c->in, strlen(c->in), &sp, &why);
		if (!sig_case_ok(c, r, &sp, am_buf_str(&why))) {
			print_error("case \"%s\": got r=%d d=%s i=%s why=\"%s\","
			    " expected %s\n", c->name, r,
			    sp.domain ? sp.domain : "-",
			    sp.identity ? sp.identity : "-", am_buf_str(&why),
			    c->want);
			bad++;
		}
		am_dkim_sig_release(&sp);
	}
	am_buf_release(&why);
	assert_int_equal(bad, 0);
}

static void
test_sig_limits(void **state)
{
	struct am_dkim_sigparams sp;
	struct am_buf why = AM_BUF_INIT(200), s = AM_BUF_INIT(64 * 1024);
	int i;

	(void)state;
	/* h= with 65 names */
	am_buf_adds(&s, "v=1; a=rsa-sha256; d=e.com; s=s; h=from");
	for (i = 0; i < AM_DKIM_H_MAX; i++)
		am_buf_adds(&s, ":to");
	am_buf_adds(&s, GOOD_TAIL);
	assert_int_equal(am_dkim_sig_parse(s.data, s.len, &sp, &why), -1);
	assert_non_null(strstr(am_buf_str(&why), "names in h="));
	am_dkim_sig_release(&sp);
	/* a signature over 8 KiB */
	am_buf_reset(&s);
	am_buf_adds(&s, "v=1; a=rsa-sha256; d=e.com; s=s; h=from; z=");
	for (i = 0; i < AM_DKIM_SIG_MAX; i++)
		am_buf_addc(&s, 'x');
	am_buf_adds(&s, GOOD_TAIL);
	assert_int_equal(am_dkim_sig_parse(s.data, s.len, &sp, &why), -1);
	assert_non_null(strstr(am_buf_str(&why), "over"));
	am_dkim_sig_release(&sp);
	/* b= over 2 KiB decoded */
	am_buf_reset(&s);
	am_buf_adds(&s, "v=1; a=rsa-sha256; d=e.com; s=s; h=from;"
	    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=");
	for (i = 0; i < AM_DKIM_B_MAX / 3 * 4 + 8; i++)
		am_buf_addc(&s, 'A');
	assert_int_equal(am_dkim_sig_parse(s.data, s.len, &sp, &why), -1);
	am_dkim_sig_release(&sp);
	am_buf_release(&s);
	am_buf_release(&why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tag_table),
		cmocka_unit_test(test_tag_raw_offsets),
		cmocka_unit_test(test_base64_table),
		cmocka_unit_test(test_sig_table),
		cmocka_unit_test(test_sig_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
