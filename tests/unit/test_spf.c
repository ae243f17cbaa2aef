/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for lib/spf: the record parser (RFC 7208 s.4.6.1, s.12), the
 * macro expander (s.7) and the evaluator (s.4, s.5, s.6) with its limits
 * (s.4.6.4), on tests/spf/unit.zone behind the test back end that makes
 * slow.example.test and tmp.example.test time out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "spf.h"
#include "../spf/testdns.h"

#define NOK (-1)

struct parse_case {
	const char *name, *record;
	int want;               /* 0 valid, NOK permerror */
};

static const struct parse_case parse_cases[] = {
	{ "bare version", "v=spf1", 0 },
	{ "version case-insensitive", "V=SpF1 -all", 0 },
	{ "trailing spaces", "v=spf1 -all   ", 0 },
	{ "two spaces between terms", "v=spf1 a  -all", 0 },
	{ "all qualifiers", "v=spf1 +a -mx ~ptr ?all", 0 },
	{ "ip4 plain", "v=spf1 ip4:192.0.2.1", 0 },
	{ "ip4 /0", "v=spf1 ip4:0.0.0.0/0", 0 },
	{ "ip4 /32", "v=spf1 ip4:192.0.2.1/32", 0 },
	{ "ip6 full", "v=spf1 ip6:2001:db8::1/128", 0 },
	{ "ip6 /0", "v=spf1 ip6:::/0", 0 },
	{ "ip6 v4-mapped", "v=spf1 ip6:::ffff:1.2.3.4", 0 },
	{ "a dual cidr", "v=spf1 a/24//64", 0 },
	{ "a only ip6 cidr", "v=spf1 a//0", 0 },
	{ "a domain and cidr", "v=spf1 a:mail.example.com/24", 0 },
	{ "mx domain dual cidr", "v=spf1 mx:example.com/30//126", 0 },
	{ "colon in domain", "v=spf1 a:foo:bar/baz.example.com", 0 },
	{ "dash toplabel", "v=spf1 a:foo.example.xn--zckzah", 0 },
	{ "trailing dot domain", "v=spf1 include:example.com.", 0 },
	{ "macro domain end", "v=spf1 exists:%{ir}.%{v}.%{d}", 0 },
	{ "macro escapes", "v=spf1 a:x%%y%_z%-w.example.com", 0 },
	{ "redirect", "v=spf1 redirect=_spf.example.com", 0 },
	{ "exp", "v=spf1 -all exp=explain.%{d}", 0 },
	{ "unknown modifier", "v=spf1 moo.cow-far_out=man:dog/cat -all", 0 },
	{ "unknown modifier empty value", "v=spf1 foo= -all", 0 },
	{ "unknown modifier with c macro", "v=spf1 foo=%{c} -all", 0 },
	{ "ptr with domain", "v=spf1 ptr:example.com", 0 },
	{ "exists delimiters", "v=spf1 exists:%{l2r+-}.user.%{d2}", 0 },
	{ "not version", "v=spf10", NOK },
	{ "no version", "spf1 -all", NOK },
	{ "unknown mechanism", "v=spf1 ip:10.0.0.1", NOK },
	{ "error after all", "v=spf1 -all moo", NOK },
	{ "all with dot", "v=spf1 -all.", NOK },
	{ "all with arg", "v=spf1 all:foo", NOK },
	{ "all with cidr", "v=spf1 all/8", NOK },
	{ "ip4 /33", "v=spf1 ip4:1.2.3.4/33", NOK },
	{ "ip4 leading zero cidr", "v=spf1 ip4:1.2.3.4/032", NOK },
	{ "ip4 leading zero octet", "v=spf1 ip4:1.2.3.04", NOK },
	{ "ip4 short", "v=spf1 ip4:1.2.3", NOK },
	{ "ip4 port", "v=spf1 ip4:1.2.3.4:8080", NOK },
	{ "ip4 dual cidr", "v=spf1 ip4:1.2.3.4//32", NOK },
	{ "ip4 bare", "v=spf1 ip4", NOK },
	{ "ip4 octet 256", "v=spf1 ip4:1.2.3.256", NOK },
	/* issue 9 item 14: the octet was summed into an int without a bound */
	{ "ip4 octet past INT_MAX", "v=spf1 ip4:99999999999 -all", NOK },
	{ "ip4 last octet past INT_MAX", "v=spf1 ip4:1.2.3.99999999999999999999",
	    NOK },
	{ "ip6 /129", "v=spf1 ip6:::1/129", NOK },
	{ "ip6 dual cidr", "v=spf1 ip6:::1//33", NOK },
	{ "ip6 bad", "v=spf1 ip6::CAFE::BABE", NOK },
	{ "a /33", "v=spf1 a/33", NOK },
	{ "a //129", "v=spf1 a//129", NOK },
	{ "a single slash ip6", "v=spf1 a/24/64", NOK },
	{ "a empty domain", "v=spf1 a:", NOK },
	{ "a only toplabel", "v=spf1 a:museum", NOK },
	{ "a only toplabel dot", "v=spf1 a:museum.", NOK },
	{ "a numeric toplabel", "v=spf1 a:111.222.33.44", NOK },
	{ "a dash start toplabel", "v=spf1 a:example.-com", NOK },
	{ "a port in toplabel", "v=spf1 a:example.com:8080", NOK },
	{ "ptr cidr", "v=spf1 ptr/0", NOK },
	{ "include no domain", "v=spf1 include", NOK },
	{ "include cidr", "v=spf1 include:example.com/24", NOK },
	{ "exists no domain", "v=spf1 exists", NOK },
	{ "redirect twice", "v=spf1 redirect=a.example redirect=b.example", NOK },
	{ "exp twice", "v=spf1 exp=a.example.com exp=b.example.com", NOK },
	{ "exp empty", "v=spf1 exp= -all", NOK },
	{ "redirect as mechanism", "v=spf1 redirect:example.com", NOK },
	{ "redirect bad domain", "v=spf1 redirect=-all", NOK },
	{ "modifier name digit", "v=spf1 1up=foo", NOK },
	{ "modifier empty name", "v=spf1 =all", NOK },
	{ "unknown modifier bad macro", "v=spf1 foo=%abc", NOK },
	{ "percent not escape", "v=spf1 exists:foo%.example.com", NOK },
	{ "parenthesis macro", "v=spf1 exists:%(ir).example.com", NOK },
	{ "unknown macro letter", "v=spf1 a:%{a}.example.com", NOK },
	{ "c macro outside exp", "v=spf1 exists:%{c}.example.com", NOK },
	{ "r macro in exp domain", "v=spf1 -all exp=%{r}.example.com", NOK },
	{ "zero digit transformer", "v=spf1 exists:%{d0}.example.com", NOK },
	{ "unterminated macro", "v=spf1 exists:%{d", NOK },
	{ "control char", "v=spf1 a:ctrl.example.com\rptr -all", NOK },
	{ "tab separator", "v=spf1\t-all", NOK },
	{ "non-ascii", "v=spf1 a:\xc3\xa9.example.com -all", NOK },
	{ "macro ends domain then dot", "v=spf1 a:%{d}.", NOK },
};

static void
test_parse(void **state)
{
	size_t i;
	int failed = 0;

	(void)state;
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct am_buf why = AM_BUF_INIT(256);
		int got = am_spf_record_check(c->record, strlen(c->record),
		    &why);

		if (got != c->want) {
			printf("FAIL %s: '%s': got %d (%s), want %d\n", c->name,
			    c->record, got, am_buf_str(&why), c->want);
			failed++;
		} else if (got != 0 && why.len == 0) {
			printf("FAIL %s: no reason\n", c->name);
			failed++;
		}
		am_buf_release(&why);
	}
	assert_int_equal(failed, 0);
}

/* The NUL inside a TXT record is a syntax error too. */
static void
test_parse_nul(void **state)
{
	struct am_buf why = AM_BUF_INIT(256);

	(void)state;
	assert_int_equal(am_spf_record_check("v=spf1 a:foo.example.com\0",
	    25, &why), -1);
	assert_non_null(strstr(am_buf_str(&why), "control"));
	/* No reason buffer: still an answer. */
	assert_int_equal(am_spf_record_check("v=spf1 a:", 9, NULL), -1);
	assert_int_equal(am_spf_record_check("v=spf1 a", 8, NULL), 0);
	am_buf_release(&why);
}

struct macro_case {
	const char *name, *spec, *ip, *sender, *domain;
	int exp;
	const char *want;       /* NULL: syntax error */
};

#define SND "strong-bad@email.example.com"
#define DOM "email.example.com"

static const struct macro_case macro_cases[] = {
	{ "s", "%{s}", "192.0.2.3", SND, DOM, 0, SND },
	{ "l", "%{l}", "192.0.2.3", SND, DOM, 0, "strong-bad" },
	{ "o", "%{o}", "192.0.2.3", SND, DOM, 0, DOM },
	{ "d2", "%{d2}", "192.0.2.3", SND, DOM, 0, "example.com" },
	{ "d big digit", "%{d99999999999}", "192.0.2.3", SND, DOM, 0, DOM },
	{ "dr", "%{dr}", "192.0.2.3", SND, DOM, 0, "com.example.email" },
	{ "d2r", "%{d2r}", "192.0.2.3", SND, DOM, 0, "example.email" },
	{ "l-", "%{l-}", "192.0.2.3", SND, DOM, 0, "strong.bad" },
	{ "lr-", "%{lr-}", "192.0.2.3", SND, DOM, 0, "bad.strong" },
	{ "l1r-", "%{l1r-}", "192.0.2.3", SND, DOM, 0, "strong" },
	{ "l100r-", "%{l100r-}", "192.0.2.3", SND, DOM, 0, "bad.strong" },
	{ "multi delim", "%{l2r+-}", "192.0.2.3", "foo-bar+zip+quux@x.example",
	    "x.example", 0, "bar.foo" },
	{ "no local part", "%{l}", "192.0.2.3", "@example.net", "example.net",
	    0, "postmaster" },
	{ "null sender", "%{s}", "192.0.2.3", "", "x.example", 0,
	    "postmaster@" },
	{ "ir v4", "%{ir}.%{v}", "192.0.2.3", SND, DOM, 0, "3.2.0.192.in-addr" },
	{ "i v6", "%{i}", "2001:db8::cb01", SND, DOM, 0,
	    "2.0.0.1.0.D.B.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.C.B.0.1" },
	{ "v ip6", "%{v}", "2001:db8::1", SND, DOM, 0, "ip6" },
	{ "mapped is v4", "%{i}", "::ffff:192.0.2.3", SND, DOM, 0, "192.0.2.3" },
	{ "escapes", "a%%b%_c%-d", "192.0.2.3", SND, DOM, 0, "a%b c%20d" },
	{ "url escape", "%{L}", "192.0.2.3", "~jack&jill=up-a_b3.c@x.example",
	    "x.example", 1, "~jack%26jill%3Dup-a_b3.c" },
	{ "c in exp", "%{c}", "2001:db8::1", SND, DOM, 1, "2001:db8::1" },
	{ "r default", "%{r}", "192.0.2.3", SND, DOM, 1, "unknown" },
	{ "t in exp", "%{t}", "192.0.2.3", SND, DOM, 1, "1700000000" },
	{ "p without dns", "%{p}", "192.0.2.3", SND, DOM, 0, "unknown" },
	{ "spaces in exp", "a b  c", "192.0.2.3", SND, DOM, 1, "a b  c" },
	{ "trailing dot domain", "%{d}.", "192.0.2.3", SND, DOM, 0, DOM },
	{ "trailing dot exp kept", "x.", "192.0.2.3", SND, DOM, 1, "x." },
	{ "c outside exp", "%{c}", "192.0.2.3", SND, DOM, 0, NULL },
	{ "t outside exp", "%{t}", "192.0.2.3", SND, DOM, 0, NULL },
	{ "space outside exp", "a b", "192.0.2.3", SND, DOM, 0, NULL },
	{ "zero digits", "%{d0}", "192.0.2.3", SND, DOM, 0, NULL },
	{ "bad letter", "%{x}", "192.0.2.3", SND, DOM, 1, NULL },
	{ "lone percent", "%", "192.0.2.3", SND, DOM, 0, NULL },
	{ "percent letter", "%a", "192.0.2.3", SND, DOM, 0, NULL },
	{ "unterminated", "%{d", "192.0.2.3", SND, DOM, 0, NULL },
	{ "bad delimiter", "%{d2r*}", "192.0.2.3", SND, DOM, 0, NULL },
	{ "r twice", "%{drr}", "192.0.2.3", SND, DOM, 0, NULL },
	{ "non-ascii exp", "\xef\xbb\xbfx", "192.0.2.3", SND, DOM, 1, NULL },
};

static void
test_macro(void **state)
{
	size_t i;
	int failed = 0;

	(void)state;
	for (i = 0; i < sizeof(macro_cases) / sizeof(macro_cases[0]); i++) {
		const struct macro_case *c = &macro_cases[i];
		struct am_buf out = AM_BUF_INIT(AM_SPF_EXPAND_MAX);
		struct am_buf why = AM_BUF_INIT(256);
		struct am_spf_request q;
		int r;

		memset(&q, 0, sizeof(q));
		assert_int_equal(am_addr_parse(&q.ip, c->ip), 0);
		q.sender = c->sender;
		q.now = 1700000000;
		r = am_spf_macro_expand(NULL, c->spec, strlen(c->spec), &q,
		    c->domain, c->exp, &out, &why);
		if (c->want == NULL ? r == 0 :
		    (r != 0 || strcmp(am_buf_str(&out), c->want) != 0)) {
			printf("FAIL %s: '%s': got %d '%s' (%s), want '%s'\n",
			    c->name, c->spec, r, am_buf_str(&out),
			    am_buf_str(&why), c->want ? c->want : "(error)");
			failed++;
		}
		am_buf_release(&out);
		am_buf_release(&why);
	}
	assert_int_equal(failed, 0);
}

/* s.7.3: over 253 octets, labels go from the left; memory stays bounded. */
static void
test_macro_truncation(void **state)
{
	char sender[1100], spec[4000], *full, *p;
	struct am_buf out = AM_BUF_INIT(AM_SPF_EXPAND_MAX);
	struct am_buf why = AM_BUF_INIT(256);
	struct am_spf_request q;
	size_t i, n;

	(void)state;
	memset(&q, 0, sizeof(q));
	assert_int_equal(am_addr_parse(&q.ip, "192.0.2.3"), 0);
	memset(sender, 0, sizeof(sender));
	for (i = 0; i < 1000; i += 10)
		memcpy(sender + i, "abcdefghi.", 10);
	memcpy(sender + 1000, "x@e.example", 11);
	q.sender = sender;
	spec[0] = '\0';
	for (i = 0; i < 300; i++)
		strcat(spec, "%{l}.");
	strcat(spec, "end.example");
	assert_int_equal(am_spf_macro_expand(NULL, spec, strlen(spec), &q,
	    "e.example", 0, &out, &why), 0);
	/* The reference: the whole expansion, then drop labels. */
	full = malloc(300 * 1002 + 20);
	assert_non_null(full);
	full[0] = '\0';
	for (i = 0, n = 0; i < 300; i++) {
		memcpy(full + n, sender, 1001);
		n += 1001;
		full[n++] = '.';
	}
	strcpy(full + n, "end.example");
	for (p = full; strlen(p) > 253; p = strchr(p, '.') + 1)
		;
	assert_string_equal(am_buf_str(&out), p);
	free(full);
	/* An explanation is cut at the cap instead. */
	assert_int_equal(am_spf_macro_expand(NULL, spec, strlen(spec), &q,
	    "e.example", 1, &out, &why), 0);
	assert_int_equal(out.len, AM_SPF_EXPAND_MAX);
	am_buf_release(&out);
	am_buf_release(&why);
}

struct eval_case {
	const char *name, *ip, *sender, *helo;
	enum am_spf_result want;
	const char *reason;     /* substring of the reason, or NULL */
	const char *exp;        /* expected explanation, or NULL */
};

#define R(x) AM_SPF_##x

static const struct eval_case eval_cases[] = {
	{ "ip4 pass", "192.0.2.10", "u@pass.example.test", "h.example", R(PASS),
	    "matched ip4:192.0.2.0/25", NULL },
	{ "ip4 fail default exp", "192.0.2.200", "u@pass.example.test",
	    "h.example", R(FAIL), "matched -all", "DEFAULT" },
	{ "v4-mapped client", "::ffff:192.0.2.10", "u@pass.example.test",
	    "h.example", R(PASS), NULL, NULL },
	{ "upper case record", "192.0.2.10", "u@upper.example.test",
	    "h.example", R(PASS), NULL, NULL },
	{ "mx pass", "192.0.2.10", "u@mx.example.test", "h.example", R(PASS),
	    "matched mx", NULL },
	{ "mx ip6 pass", "2001:db8::10", "u@mx.example.test", "h.example",
	    R(PASS), NULL, NULL },
	{ "a dual cidr v4", "192.0.2.77", "u@a.example.test", "h.example",
	    R(PASS), NULL, NULL },
	{ "a dual cidr v6", "2001:db8::ffff", "u@a.example.test", "h.example",
	    R(PASS), NULL, NULL },
	{ "a dual cidr v6 out", "2001:db8:1::1", "u@a.example.test",
	    "h.example", R(FAIL), NULL, NULL },
	{ "include pass", "192.0.2.10", "u@incl.example.test", "h.example",
	    R(PASS), "matched include:pass.example.test", NULL },
	{ "include fail is no match", "192.0.2.200", "u@incl.example.test",
	    "h.example", R(SOFTFAIL), NULL, NULL },
	{ "include temperror", "192.0.2.10", "u@inctmp.example.test",
	    "h.example", R(TEMPERROR), "include:slow.example.test", NULL },
	{ "include none", "192.0.2.10", "u@incnone.example.test", "h.example",
	    R(PERMERROR), "no SPF record", NULL },
	{ "redirect", "192.0.2.10", "u@redir.example.test", "h.example",
	    R(PASS), NULL, NULL },
	{ "redirect none", "192.0.2.10", "u@redirnone.example.test",
	    "h.example", R(PERMERROR), "redirect=nothing.example.test", NULL },
	{ "exp expanded", "192.0.2.99", "joe@exp.example.test", "h.example",
	    R(FAIL), NULL, "192.0.2.99 may not send for exp.example.test (joe)" },
	{ "exp p macro", "192.0.2.10", "joe@pexp.example.test", "h.example",
	    R(FAIL), NULL, "from mail.example.test" },
	{ "exp p unknown", "192.0.2.99", "joe@pexp.example.test", "h.example",
	    R(FAIL), NULL, "from unknown" },
	{ "two voids ok", "192.0.2.10", "u@void2.example.test", "h.example",
	    R(FAIL), NULL, NULL },
	{ "third void", "192.0.2.10", "u@void.example.test", "h.example",
	    R(PERMERROR), "void lookup limit exceeded", NULL },
	{ "10 terms ok", "192.0.2.10", "u@lim10.example.test", "h.example",
	    R(FAIL), NULL, NULL },
	{ "11 terms", "192.0.2.10", "u@lim11.example.test", "h.example",
	    R(PERMERROR), "DNS lookup limit exceeded", NULL },
	{ "include shares count", "192.0.2.10", "u@limi.example.test",
	    "h.example", R(PERMERROR), "DNS lookup limit exceeded", NULL },
	{ "ptr pass", "192.0.2.10", "u@ptr.example.test", "h.example", R(PASS),
	    NULL, NULL },
	{ "ptr no ptr record", "192.0.2.99", "u@ptr.example.test", "h.example",
	    R(FAIL), NULL, NULL },
	{ "exists pass", "192.0.2.10", "u@exists.example.test", "h.example",
	    R(PASS), NULL, NULL },
	{ "exists fail", "192.0.2.11", "u@exists.example.test", "h.example",
	    R(FAIL), NULL, NULL },
	{ "two records", "192.0.2.10", "u@two.example.test", "h.example",
	    R(PERMERROR), "2 SPF records", NULL },
	{ "syntax error", "192.0.2.10", "u@bad.example.test", "h.example",
	    R(PERMERROR), "syntax error at 'ip4:192.0.2.1/33'", NULL },
	{ "no record", "192.0.2.10", "u@norec.example.test", "h.example",
	    R(NONE), "no SPF record", NULL },
	{ "nxdomain", "192.0.2.10", "u@nothing.example.test", "h.example",
	    R(NONE), NULL, NULL },
	{ "eleven mx", "192.0.2.10", "u@mx11.example.test", "h.example",
	    R(PERMERROR), "more than 10 MX", NULL },
	{ "txt timeout", "192.0.2.10", "u@tmp.example.test", "h.example",
	    R(TEMPERROR), "DNS error", NULL },
	{ "a timeout", "192.0.2.10", "u@atmp.example.test", "h.example",
	    R(TEMPERROR), "temperror", NULL },
	{ "ptr timeout is no match", "192.0.2.10", "u@ptrtmp.example.test",
	    "h.example", R(FAIL), NULL, NULL },
	{ "long label via macro", "192.0.2.10",
	    "a123456789012345678901234567890123456789012345678901234567890123"
	    "@long.example.test", "h.example", R(FAIL), NULL, NULL },
	{ "qualifiers", "192.0.2.10", "u@soft.example.test", "h.example",
	    R(NEUTRAL), NULL, NULL },
	{ "softfail", "192.0.2.11", "u@soft.example.test", "h.example",
	    R(SOFTFAIL), NULL, NULL },
	{ "null sender uses helo", "192.0.2.10", "", "mail.example.test",
	    R(PASS), NULL, NULL },
	{ "single label", "192.0.2.10", "u@localhost", "h.example", R(NONE),
	    "invalid domain", NULL },
	{ "domain literal", "192.0.2.10", "u@[192.0.2.10]", "h.example",
	    R(NONE), NULL, NULL },
	{ "empty label", "192.0.2.10", "u@a..example.test", "h.example",
	    R(NONE), NULL, NULL },
	/* RFC 8616 s.4: U-labels are checked as A-labels, never queried raw */
	{ "IDN U-label sender", "192.0.2.10", "u@b\xc3\xbc" "cher.example.test",
	    "h.example", R(PASS), "matched ip4:192.0.2.10", NULL },
	{ "IDN upper-case U-label -all", "192.0.2.99",
	    "u@B\xc3\x9c" "CHER.example.test", "h.example", R(FAIL),
	    "matched -all", NULL },
	{ "IDN NFD U-label", "192.0.2.10", "u@bu\xcc\x88" "cher.example.test",
	    "h.example", R(PASS), NULL, NULL },
	{ "IDN trailing dot", "192.0.2.10", "u@b\xc3\xbc" "cher.example.test.",
	    "h.example", R(PASS), NULL, NULL },
	{ "IDN mixed case A-label", "192.0.2.99",
	    "u@XN--BCHER-KVA.example.test", "h.example", R(FAIL), NULL, NULL },
	{ "IDN disallowed code point", "192.0.2.10",
	    "u@\xe2\x98\x83.example.test", "h.example", R(NONE),
	    "not a valid IDN", NULL },
	{ "IDN label over 63 after conversion", "192.0.2.10",
	    "u@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "\xc3\xbc\xc3\xbc\xc3\xbc.example.test", "h.example", R(NONE),
	    "not a valid IDN", NULL },
	{ "IDN null sender U-label HELO", "192.0.2.10", "",
	    "b\xc3\xbc" "cher.example.test", R(PASS), NULL, NULL },
	{ "non-ASCII %{l} matches nothing", "192.0.2.10",
	    "j\xc3\xb6hn@local8.example.test", "h.example", R(FAIL),
	    "matched -all", NULL },
	{ "non-ASCII %{l} in redirect", "192.0.2.10",
	    "j\xc3\xb6hn@redir8.example.test", "h.example", R(PERMERROR),
	    "RFC 8616", NULL },
	{ "%{o} of an IDN is A-labels", "192.0.2.10",
	    "u@m\xc3\xbcller.example.test", "h.example", R(PASS),
	    "matched exists", NULL },
	{ "%{h} of an IDN HELO is A-labels", "192.0.2.10",
	    "u@hexp.example.test", "h\xc3\xa9Lo.example.test", R(PASS),
	    "matched exists", NULL },
	{ "%{h} not an IDN: permerror", "192.0.2.10", "u@hexp.example.test",
	    "\xe2\x98\x83.example.test", R(PERMERROR), "not a valid IDN",
	    NULL },
};

static struct am_dns *
unit_dns(void)
{
	const char *top = getenv("AM_TOP_SRCDIR");
	char path[1024];
	const char *p = path;
	struct am_buf why = AM_BUF_INIT(256);
	struct testdns *rules;
	struct am_dns *z, *d;

	snprintf(path, sizeof(path), "%s/tests/spf/unit.zone",
	    top != NULL ? top : AM_TOP_SRCDIR);
	z = am_dns_zone_new(&p, 1, &why);
	if (z == NULL)
		printf("zone %s: %s\n", path, am_buf_str(&why));
	assert_non_null(z);
	assert_non_null(d = testdns_new(z, &rules));
	testdns_timeout(rules, "slow.example.test", "");
	testdns_timeout(rules, "tmp.example.test", "");
	/* raw UTF-8 (here U+00C0..U+00FF) must never reach DNS */
	testdns_errsub(rules, "\xc3");
	am_buf_release(&why);
	return d;
}

static int
eval_one(struct am_dns *d, const struct eval_case *c)
{
	struct am_spf_request q;
	struct am_spf_response r;
	int bad;

	memset(&q, 0, sizeof(q));
	assert_int_equal(am_addr_parse(&q.ip, c->ip), 0);
	q.sender = c->sender;
	q.helo = c->helo;
	q.default_exp = "DEFAULT";
	am_spf_response_init(&r);
	am_spf_mailfrom(d, &q, &r);
	bad = r.result != c->want ||
	    (c->reason && !strstr(am_buf_str(&r.reason), c->reason)) ||
	    (c->exp && strcmp(am_buf_str(&r.explanation), c->exp) != 0);
	if (bad)
		printf("FAIL %s: got %s (%s) exp '%s', want %s (%s) exp '%s'\n",
		    c->name, am_spf_result_name(r.result),
		    am_buf_str(&r.reason), am_buf_str(&r.explanation),
		    am_spf_result_name(c->want), c->reason ? c->reason : "",
		    c->exp ? c->exp : "");
	am_spf_response_release(&r);
	return bad;
}

static void
test_eval(void **state)
{
	struct am_dns *d = unit_dns();
	size_t i;
	int failed = 0;

	(void)state;
	for (i = 0; i < sizeof(eval_cases) / sizeof(eval_cases[0]); i++)
		failed += eval_one(d, &eval_cases[i]);
	am_dns_free(d);
	assert_int_equal(failed, 0);
}

/* Identities, counters and the response fields. */
static void
test_identities(void **state)
{
	struct am_dns *d = unit_dns();
	struct am_spf_request q;
	struct am_spf_response r;

	(void)state;
	memset(&q, 0, sizeof(q));
	assert_int_equal(am_addr_parse(&q.ip, "192.0.2.10"), 0);
	q.helo = "MAIL.example.test";
	q.sender = "u@limi.example.test";
	am_spf_response_init(&r);
	assert_int_equal(am_spf_helo(d, &q, &r), AM_SPF_PASS);
	assert_string_equal(r.identity, "helo");
	assert_string_equal(r.domain, "mail.example.test");
	assert_int_equal(r.dns_terms, 1);
	assert_int_equal(am_spf_mailfrom(d, &q, &r), AM_SPF_PERMERROR);
	assert_string_equal(r.identity, "mailfrom");
	assert_string_equal(r.domain, "limi.example.test");
	assert_int_equal(r.dns_terms, 11);
	q.sender = "";
	assert_int_equal(am_spf_mailfrom(d, &q, &r), AM_SPF_PASS);
	assert_string_equal(r.identity, "mailfrom");
	q.helo = NULL;
	assert_int_equal(am_spf_helo(d, &q, &r), AM_SPF_NONE);
	q.sender = "u@void.example.test";
	assert_int_equal(am_spf_mailfrom(d, &q, &r), AM_SPF_PERMERROR);
	assert_int_equal(r.void_lookups, 3);
	am_spf_response_release(&r);
	am_dns_free(d);
}

/* The <domain> an IDN sender or HELO is reported as: its A-labels. */
static void
test_idn_domain(void **state)
{
	struct am_dns *d = unit_dns();
	struct am_spf_request q;
	struct am_spf_response r;

	(void)state;
	memset(&q, 0, sizeof(q));
	assert_int_equal(am_addr_parse(&q.ip, "192.0.2.10"), 0);
	q.helo = "B\xc3\x9c" "CHER.example.test";
	q.sender = "alice@BU\xcc\x88" "CHER.example.test";
	am_spf_response_init(&r);
	assert_int_equal(am_spf_mailfrom(d, &q, &r), AM_SPF_PASS);
	assert_string_equal(r.domain, "xn--bcher-kva.example.test");
	assert_int_equal(am_spf_helo(d, &q, &r), AM_SPF_PASS);
	assert_string_equal(r.domain, "xn--bcher-kva.example.test");
	am_spf_response_release(&r);
	am_dns_free(d);
}

/* ---- issue 9: the s.4.6.4 time limit (item 10), big TXT sets (item 16) ---- */

/* A back end on a fake clock over tests/spf/limits.zone: each query takes
 * step ms of that clock. */
struct slowclock {
	struct am_dns *inner;
	uint64_t now, step;
	unsigned long calls;
};

static enum am_dns_status
slow_query(void *state, const char *name, int type,
    struct am_dns_answer **ans, struct am_buf *why)
{
	struct slowclock *s = state;

	s->now += s->step;
	s->calls++;
	return am_dns_query(s->inner, name, type, ans, why);
}

static uint64_t
slow_clock(void *state)
{
	return ((struct slowclock *)state)->now;
}

static void
slow_close(void *state)
{
	am_dns_free(((struct slowclock *)state)->inner);
}

static const struct am_dns_backend slow_backend = {
	.name = "slowclock", .query = slow_query, .close = slow_close,
	.clock = slow_clock,
};

static struct am_dns *
limits_dns(struct slowclock *s, uint64_t step)
{
	const char *top = getenv("AM_TOP_SRCDIR");
	char path[1024];
	const char *p = path;
	struct am_buf why = AM_BUF_INIT(256);

	snprintf(path, sizeof(path), "%s/tests/spf/limits.zone",
	    top != NULL ? top : AM_TOP_SRCDIR);
	memset(s, 0, sizeof(*s));
	s->inner = am_dns_zone_new(&p, 1, &why);
	if (s->inner == NULL)
		printf("zone %s: %s\n", path, am_buf_str(&why));
	assert_non_null(s->inner);
	s->step = step;
	s->now = 1000000;
	am_buf_release(&why);
	return am_dns_new(&slow_backend, s);
}

struct limit_case {
	const char *name, *sender;
	uint64_t step;            /* fake ms per lookup */
	unsigned timeout_ms;      /* 0: the default, 20 s */
	enum am_spf_result want;
	const char *reason;
	unsigned long max_calls;  /* lookups at most */
};

static const struct limit_case limit_cases[] = {
	/* 111 lookups of 4.5 s would be 500 s: stop after 20 s */
	{ "ten mx of ten hosts, 4.5 s a lookup: 20 s bound",
	    "u@tree.example.test", 4500, 0, R(TEMPERROR),
	    "SPF evaluation time limit of 20 s passed", 5 },
	/* what it cost before the bound: all 111 lookups, 499.5 s */
	{ "same tree under a 1 h bound: fail after all 111 lookups",
	    "u@tree.example.test", 4500, 3600000, R(FAIL), "matched -all",
	    111 },
	/* the ptr's validating A lookup is cut: no match, but not -all */
	{ "ptr cut by the bound is temperror, not -all",
	    "u@ptrtree.example.test", 4500, 8000, R(TEMPERROR),
	    "evaluation stopped", 3 },
	{ "300 non-SPF TXT records beside the SPF record",
	    "u@many.example.test", 1, 0, R(PASS), "matched ip4", 1 },
};

static void
test_eval_limits(void **state)
{
	const struct limit_case *c;
	struct am_spf_request q;
	struct am_spf_response r;
	struct slowclock s;
	struct am_dns *d;
	size_t i;
	int bad = 0;

	(void)state;
	for (i = 0; i < sizeof(limit_cases) / sizeof(limit_cases[0]); i++) {
		c = &limit_cases[i];
		d = limits_dns(&s, c->step);
		memset(&q, 0, sizeof(q));
		assert_int_equal(am_addr_parse(&q.ip, "192.0.2.10"), 0);
		q.sender = c->sender;
		q.helo = "h.example";
		q.timeout_ms = c->timeout_ms;
		am_spf_response_init(&r);
		am_spf_mailfrom(d, &q, &r);
		printf("%s: %s (%s), %lu lookups, %.1f s\n", c->name,
		    am_spf_result_name(r.result), am_buf_str(&r.reason),
		    s.calls, (double)(s.now - 1000000) / 1000);
		if (r.result != c->want || s.calls > c->max_calls ||
		    strstr(am_buf_str(&r.reason), c->reason) == NULL) {
			printf("FAIL %s: want %s (%s), at most %lu lookups\n",
			    c->name, am_spf_result_name(c->want), c->reason,
			    c->max_calls);
			bad++;
		}
		am_spf_response_release(&r);
		am_dns_free(d);
	}
	assert_int_equal(bad, 0);
}

static void
test_result_names(void **state)
{
	(void)state;
	assert_string_equal(am_spf_result_name(AM_SPF_NONE), "none");
	assert_string_equal(am_spf_result_name(AM_SPF_NEUTRAL), "neutral");
	assert_string_equal(am_spf_result_name(AM_SPF_PASS), "pass");
	assert_string_equal(am_spf_result_name(AM_SPF_FAIL), "fail");
	assert_string_equal(am_spf_result_name(AM_SPF_SOFTFAIL), "softfail");
	assert_string_equal(am_spf_result_name(AM_SPF_TEMPERROR), "temperror");
	assert_string_equal(am_spf_result_name(AM_SPF_PERMERROR), "permerror");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_nul),
		cmocka_unit_test(test_macro),
		cmocka_unit_test(test_macro_truncation),
		cmocka_unit_test(test_eval),
		cmocka_unit_test(test_identities),
		cmocka_unit_test(test_idn_domain),
		cmocka_unit_test(test_eval_limits),
		cmocka_unit_test(test_result_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
