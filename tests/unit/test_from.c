/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_from: the From field parser (lib/from.c), RFC 5322 s.3.4 and s.4.4.
 *
 * One table of named cases (value -> status, domains, reason), then the
 * generated hostile inputs (deep comments, huge fields, many addresses,
 * NULs) and the whole-header helper (several From fields).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "from.h"

#define ONE   AM_FROM_ONE
#define SAME  AM_FROM_MULTI_SAME
#define DIFF  AM_FROM_MULTI_DIFF
#define BAD   AM_FROM_BAD

/* Twenty U+4E2D: 60 bytes of UTF-8, a 26-octet A-label. */
#define CJK20 "\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad" \
	"\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad" \
	"\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad" \
	"\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad" \
	"\xe4\xb8\xad"
#define CJK20_A "xn--fiqaaaaaaaaaaaaaaaaaaa"

struct fcase {
	const char *name;
	const char *value;
	enum am_from_status st;
	const char *domains;  /* comma separated, in order of appearance */
	const char *why;      /* substring of the reason, for BAD */
};

static const struct fcase cases[] = {
	{ "bare addr-spec", "user@example.com", ONE, "example.com", NULL },
	{ "leading space", " user@example.com", ONE, "example.com", NULL },
	{ "upper-case domain", "user@EXAMPLE.Com", ONE, "example.com", NULL },
	{ "angle addr", "<user@example.com>", ONE, "example.com", NULL },
	{ "display name", "John Doe <john@example.com>", ONE,
	  "example.com", NULL },
	{ "quoted display name", "\"Doe, John\" <john@example.com>", ONE,
	  "example.com", NULL },
	{ "quoted name with @ and <", "\"evil@attacker.com <x@y.z>\" "
	  "<john@example.com>", ONE, "example.com", NULL },
	{ "quoted-pair in name", "\"a \\\" b\" <a@example.com>", ONE,
	  "example.com", NULL },
	{ "comment after", "user@example.com (Some Body)", ONE,
	  "example.com", NULL },
	{ "comment with @", "(evil@attacker.com) user@example.com", ONE,
	  "example.com", NULL },
	{ "nested comments", "user@example.com (a (b (c) d) e)", ONE,
	  "example.com", NULL },
	{ "comment with quoted paren", "(a \\) b) user@example.com", ONE,
	  "example.com", NULL },
	{ "comment between local and @", "user(x)@(y)example.com", ONE,
	  "example.com", NULL },
	{ "folded", "John\r\n Doe\r\n\t<john@example.com>", ONE,
	  "example.com", NULL },
	{ "quoted local part", "\"john doe\"@example.com", ONE,
	  "example.com", NULL },
	{ "dotted local part", "john.q.doe@example.com", ONE,
	  "example.com", NULL },
	{ "obs-local-part CFWS", "john . doe @ example . com", ONE,
	  "example.com", NULL },
	{ "obs-route", "<@relay.example.net,@b.example:user@example.com>",
	  ONE, "example.com", NULL },
	{ "encoded word name", "=?utf-8?q?J=C3=B6rg?= <j@example.de>", ONE,
	  "example.de", NULL },
	{ "encoded word b", "=?UTF-8?B?SsO2cmc=?= <j@example.de>", ONE,
	  "example.de", NULL },
	{ "UTF-8 display name", "J\xc3\xb6rg <j@example.de>", ONE,
	  "example.de", NULL },
	{ "IDN domain", "j@b\xc3\xbc" "cher.example", ONE,
	  "xn--bcher-kva.example", NULL },
	/* RFC 8616 s.6: every spelling of one IDN is one Author Domain */
	{ "IDN upper-case U-label", "alice@B\xc3\x9c" "CHER.test", ONE,
	  "xn--bcher-kva.test", NULL },
	{ "IDN NFD U-label", "alice@bu\xcc\x88" "cher.test", ONE,
	  "xn--bcher-kva.test", NULL },
	{ "IDN NFD upper case", "<alice@BU\xcc\x88" "CHER.TEST>", ONE,
	  "xn--bcher-kva.test", NULL },
	{ "IDN mixed case A-label", "alice@XN--BCHER-KVA.Test", ONE,
	  "xn--bcher-kva.test", NULL },
	{ "IDN U-label and A-label same", "a@B\xc3\x9c" "CHER.test, "
	  "b@xn--bcher-kva.test", SAME, "xn--bcher-kva.test", NULL },
	{ "IDN UTF-8 over 253 bytes", "a@" CJK20 "." CJK20 "." CJK20 "."
	  CJK20 "." CJK20 ".test", ONE, CJK20_A "." CJK20_A "." CJK20_A "."
	  CJK20_A "." CJK20_A ".test", NULL },
	{ "IDN disallowed code point", "a@\xe2\x98\x83.test", BAD, "",
	  "invalid domain (IDNA2008: " },
	{ "IDN label over 63 after conversion", "a@aaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xbc\xc3\xbc\xc3\xbc.test", BAD,
	  "", "invalid domain" },
	{ "IDN invalid UTF-8", "a@b\xff.test", BAD, "", "invalid domain" },
	{ "A-label domain", "j@xn--bcher-kva.example", ONE,
	  "xn--bcher-kva.example", NULL },
	{ "two same domain", "a@example.com, b@EXAMPLE.com", SAME,
	  "example.com", NULL },
	{ "two different", "a@example.com, b@example.net", DIFF,
	  "example.com,example.net", NULL },
	{ "subdomain differs", "a@example.com, b@mail.example.com", DIFF,
	  "example.com,mail.example.com", NULL },
	{ "empty list elements", ", a@example.com,, ", ONE, "example.com",
	  NULL },
	{ "group with members", "team: a@example.com, b@example.com;", SAME,
	  "example.com", NULL },
	{ "group then mailbox", "g: a@example.org; , b@example.net", DIFF,
	  "example.org,example.net", NULL },
	{ "underscore label", "a@mail_relay.example.com", ONE,
	  "mail_relay.example.com", NULL },
	{ "empty group", "undisclosed-recipients:;", BAD, "", "no mailbox" },
	{ "empty", "", BAD, "", "no mailbox" },
	{ "only spaces", "   \r\n  ", BAD, "", "no mailbox" },
	{ "only comment", "(nobody)", BAD, "", "no mailbox" },
	{ "no at", "user", BAD, "", "without @" },
	{ "name no at", "John Doe", BAD, "", "without @" },
	{ "empty domain", "user@", BAD, "", "empty domain label" },
	{ "empty local", "@example.com", BAD, "", "bad local-part" },
	{ "trailing dot", "user@example.com.", BAD, "", "empty domain label" },
	{ "double dot", "user@example..com", BAD, "", "empty domain label" },
	{ "space in local", "john doe@example.com", BAD, "", "local-part" },
	{ "domain literal", "user@[192.0.2.1]", BAD, "", "domain literal" },
	{ "ipv6 literal", "<user@[IPv6:2001:db8::1]>", BAD, "",
	  "domain literal" },
	{ "unterminated quote", "\"John <john@example.com>", BAD, "",
	  "unterminated quoted" },
	{ "unterminated comment", "john@example.com (oops", BAD, "",
	  "unterminated comment" },
	{ "unterminated angle", "John <john@example.com", BAD, "",
	  "expected '>'" },
	{ "empty angle", "<>", BAD, "", "empty angle" },
	{ "unterminated group", "g: a@example.com", BAD, "",
	  "unterminated group" },
	{ "nested group", "g: h: a@example.com;;", BAD, "", "group inside" },
	{ "group without name", ": a@example.com;", BAD, "",
	  "group without a name" },
	{ "two at", "a@b@example.com", BAD, "", "unexpected character" },
	{ "bang in domain", "a@exa!mple.com", BAD, "", "invalid character" },
	{ "garbage after angle", "<a@example.com> x", BAD, "",
	  "unexpected character after" },
	{ "missing comma", "a@example.com b@example.net", BAD, "",
	  "unexpected character after" },
	{ "quoted-pair at end", "\"abc\\", BAD, "", "unterminated quoted" },
	{ "comment quoted-pair at end", "a@example.com (x\\", BAD, "",
	  "unterminated comment" },
	{ "control char", "a@exam\x01ple.com", BAD, "", "byte 0x01" },
	{ "label over 63", "a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaa.com", BAD, "", "over 63" },
};

/* Compare got with the expected comma-separated list. */
static int
domains_match(const struct am_from *f, const char *want, char *got,
    size_t gotsz)
{
	size_t i, o = 0;

	got[0] = '\0';
	for (i = 0; i < f->ndomains; i++)
		o += (size_t)snprintf(got + o, gotsz - o, "%s%s",
		    i ? "," : "", f->domain[i]);
	return strcmp(got, want) == 0;
}

static void
test_table(void **state)
{
	struct am_buf why = AM_BUF_INIT(256);
	struct am_from f;
	char got[2048];
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct fcase *c = &cases[i];
		enum am_from_status st;

		am_buf_reset(&why);
		memset(&f, 0, sizeof(f));
		st = am_from_parse(c->value, strlen(c->value), &f, &why);
		if (st != c->st || !domains_match(&f, c->domains, got,
		    sizeof(got)) || (c->why != NULL &&
		    strstr(am_buf_str(&why), c->why) == NULL)) {
			printf("FAIL %s: got %s [%s] (%s), want %s [%s] (%s)\n",
			    c->name, am_from_status_name(st), got,
			    am_buf_str(&why), am_from_status_name(c->st),
			    c->domains, c->why ? c->why : "");
			bad++;
		}
	}
	printf("from table: %zu/%zu cases pass\n",
	    sizeof(cases) / sizeof(cases[0]) - bad,
	    sizeof(cases) / sizeof(cases[0]));
	am_buf_release(&why);
	assert_int_equal(bad, 0);
}

/* Parse a generated value; check status and reason. */
static void
check_gen(const char *name, const char *v, size_t len,
    enum am_from_status want, const char *why_sub)
{
	struct am_buf why = AM_BUF_INIT(256);
	struct am_from f;
	enum am_from_status st;
	int ok;

	memset(&f, 0, sizeof(f));
	st = am_from_parse(v, len, &f, &why);
	ok = st == want && (!why_sub || strstr(am_buf_str(&why), why_sub));
	if (!ok)
		printf("FAIL %s: got %s (%s), want %s (%s)\n", name,
		    am_from_status_name(st), am_buf_str(&why),
		    am_from_status_name(want), why_sub ? why_sub : "");
	am_buf_release(&why);
	assert_true(ok);
}

static void
test_hostile(void **state)
{
	size_t i, n = 10000, o = 0;
	char *v = malloc(4 * AM_FROM_MAX_LEN);

	(void)state;
	assert_non_null(v);
	/* 10k nested comments, closed: too deep */
	for (i = 0; i < n; i++)
		v[o++] = '(';
	for (i = 0; i < n; i++)
		v[o++] = ')';
	memcpy(v + o, " a@example.com", 14);
	check_gen("10k nested comments", v, o + 14, BAD, "longer than");
	/* 8k nested comments fit the size cap: too deep */
	for (o = 0, i = 0; i < 8000; i++)
		v[o++] = '(';
	for (i = 0; i < 8000; i++)
		v[o++] = ')';
	memcpy(v + o, " a@example.com", 14);
	check_gen("8k nested comments", v, o + 14, BAD, "nested deeper");
	for (o = 0; o < n; o++)
		v[o] = '(';
	/* the same, unterminated */
	check_gen("10k open comments", v, n, BAD, "nested deeper");
	/* nesting at the cap is fine */
	o = 0;
	for (i = 0; i < AM_FROM_MAX_DEPTH; i++)
		v[o++] = '(';
	for (i = 0; i < AM_FROM_MAX_DEPTH; i++)
		v[o++] = ')';
	memcpy(v + o, "a@example.com", 13);
	check_gen("comments at depth cap", v, o + 13, ONE, NULL);
	/* huge field */
	memset(v, 'a', 2 * AM_FROM_MAX_LEN);
	memcpy(v + 2 * AM_FROM_MAX_LEN - 12, "@example.com", 12);
	check_gen("huge field", v, 2 * AM_FROM_MAX_LEN, BAD, "longer than");
	/* NUL inside */
	check_gen("NUL in local part", "a\0b@example.com", 15, BAD, "NUL");
	check_gen("NUL after domain", "a@example.com\0@evil.com", 23, BAD,
	    "NUL");
	/* many addresses of one domain: over the cap */
	for (o = 0, i = 0; i < AM_FROM_MAX_ADDRS + 1; i++)
		o += (size_t)sprintf(v + o, "%su%zu@example.com", i ? "," : "",
		    i);
	check_gen("too many addresses", v, o, BAD, "more than");
	/* many domains */
	for (o = 0, i = 0; i < AM_FROM_MAX_DOMAINS + 1; i++)
		o += (size_t)sprintf(v + o, "%su@d%zu.example", i ? "," : "",
		    i);
	check_gen("too many domains", v, o, BAD, "domains");
	/* AM_FROM_MAX_ADDRS in one domain is still fine */
	for (o = 0, i = 0; i < AM_FROM_MAX_ADDRS; i++)
		o += (size_t)sprintf(v + o, "%su%zu@example.com", i ? "," : "",
		    i);
	check_gen("addresses at cap", v, o, SAME, NULL);
	/* long domain over 253 bytes */
	for (o = 0, v[o++] = 'a', v[o++] = '@', i = 0; i < 60; i++)
		o += (size_t)sprintf(v + o, "abcd.");
	o += (size_t)sprintf(v + o, "com");
	check_gen("domain over 253", v, o, BAD, "longer than 253");
	/* a field of only quotes and backslashes */
	memset(v, '"', 5001);
	check_gen("many quotes", v, 5001, BAD, NULL);
	memset(v, '\\', 5000);
	check_gen("many backslashes", v, 5000, BAD, NULL);
	free(v);
}

static void
test_hdrs(void **state)
{
	struct am_buf why = AM_BUF_INIT(256);
	struct am_hdrs h;
	struct am_from f;

	(void)state;
	am_hdrs_init(&h, 100, 100000);
	assert_int_equal(am_from_parse_hdrs(&h, &f, &why), AM_FROM_NONE);
	am_hdrs_add(&h, "Subject", " hi", 3);
	am_hdrs_add(&h, "from", " A <a@Example.com>", 18);
	assert_int_equal(am_from_parse_hdrs(&h, &f, &why), AM_FROM_ONE);
	assert_string_equal(f.domain[0], "example.com");
	assert_int_equal(f.nfields, 1);
	am_hdrs_add(&h, "FROM", " b@example.net", 14);
	assert_int_equal(am_from_parse_hdrs(&h, &f, &why), AM_FROM_BAD);
	assert_int_equal(f.nfields, 2);
	assert_string_equal(am_buf_str(&why), "2 From fields");
	am_hdrs_release(&h);
	am_buf_release(&why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_hdrs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
