/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_idna: lib/idna, any spelling of a domain to lower-case A-labels
 * (RFC 8616, IDNA2008 + UTS #46 non-transitional through libidn2).
 *
 * One table of named cases (input -> status, output, reason, whether
 * libidn2 may be called). libidn2's idn2_lookup_u8 is wrapped at link time
 * (-Wl,--wrap) to count calls, so the ASCII fast path is checked to make
 * none.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <idn2.h>

#include "config.h"
#include "idna.h"

static unsigned idn2_calls;

int __real_idn2_lookup_u8(const uint8_t *src, uint8_t **out, int flags);
int __wrap_idn2_lookup_u8(const uint8_t *src, uint8_t **out, int flags);

int
__wrap_idn2_lookup_u8(const uint8_t *src, uint8_t **out, int flags)
{
	idn2_calls++;
	return __real_idn2_lookup_u8(src, out, flags);
}

#define OK  AM_IDNA_OK
#define BAD AM_IDNA_BAD

/* U+00FC (u with diaeresis) and its decomposition u + U+0308. */
#define UE    "\xc3\xbc"
#define UE_UP "\xc3\x9c"
#define NFD_U "u\xcc\x88"
#define NFD_UP "U\xcc\x88"
#define L63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define CJK20 "\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad" \
	"\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad" \
	"\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad" \
	"\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad"
#define CJK20_A "xn--fiqaaaaaaaaaaaaaaaaaaa"

struct icase {
	const char *name;
	const char *in;
	enum am_idna_status st;
	const char *out;      /* OK: the A-label form */
	const char *why;      /* BAD: substring of the reason */
	int ascii;            /* 1: must not call libidn2; 0 and OK: must
	                         (which shows the counting works) */
};

static const struct icase cases[] = {
	{ "ascii lower", "example.com", OK, "example.com", NULL, 1 },
	{ "ascii mixed case", "ExAmPle.COM", OK, "example.com", NULL, 1 },
	{ "ascii trailing dot", "Example.com.", OK, "example.com", NULL, 1 },
	{ "ascii underscore kept", "_dmarc.Example.com", OK,
	  "_dmarc.example.com", NULL, 1 },
	{ "mixed case A-label", "XN--BCHER-KVA.Test", OK,
	  "xn--bcher-kva.test", NULL, 1 },
	{ "U-label NFC", "b" UE "cher.test", OK, "xn--bcher-kva.test", NULL, 0 },
	{ "upper-case U-label", "B" UE_UP "CHER.test", OK,
	  "xn--bcher-kva.test", NULL, 0 },
	{ "NFD U-label", "b" NFD_U "cher.test", OK, "xn--bcher-kva.test",
	  NULL, 0 },
	{ "NFD upper case", "B" NFD_UP "CHER.TEST", OK, "xn--bcher-kva.test",
	  NULL, 0 },
	{ "U-label trailing dot", "b" UE "cher.test.", OK,
	  "xn--bcher-kva.test", NULL, 0 },
	{ "A-label and U-label", "XN--BCHER-KVA.b" UE "cher.Test", OK,
	  "xn--bcher-kva.xn--bcher-kva.test", NULL, 0 },
	{ "underscore label beside U-label", "_dmarc.b" UE "cher.test", OK,
	  "_dmarc.xn--bcher-kva.test", NULL, 0 },
	{ "sharp s non-transitional", "fa\xc3\x9f.de", OK, "xn--fa-hia.de",
	  NULL, 0 },
	{ "ideographic full stop", "b" UE "cher\xe3\x80\x82test", OK,
	  "xn--bcher-kva.test", NULL, 0 },
	{ "UTF-8 over 253 bytes, A-labels under",
	  CJK20 "." CJK20 "." CJK20 "." CJK20 "." CJK20 ".test", OK,
	  CJK20_A "." CJK20_A "." CJK20_A "." CJK20_A "." CJK20_A ".test",
	  NULL, 0 },
	{ "disallowed code point", "\xe2\x98\x83.test", BAD, "",
	  "disallowed", 0 },
	{ "label over 63 after conversion",
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  UE UE UE ".test", BAD, "", "", 0 },
	{ "ascii label over 63", L63 "a.test", BAD, "", "63", 1 },
	{ "ascii name over 253", L63 "." L63 "." L63 "." L63 ".test", BAD, "",
	  "253", 1 },
	{ "empty", "", BAD, "", "empty", 1 },
	{ "root only", ".", BAD, "", "empty", 1 },
	{ "ascii empty label", "example..com", BAD, "", "empty label", 1 },
	{ "ascii leading dot", ".example.com", BAD, "", "empty label", 1 },
	{ "two trailing dots", "example.com..", BAD, "", "empty label", 1 },
	{ "U-label empty label", "b" UE "cher..test", BAD, "", "empty label",
	  0 },
	{ "invalid UTF-8", "\xff.test", BAD, "", "encoding", 0 },
	{ "ZWJ without context", "a\xe2\x80\x8d.test", BAD, "", "context", 0 },
	{ "leading hyphen beside U-label", "-b" UE "cher.test", BAD, "",
	  "hyphen", 0 },
};

static void
test_table(void **state)
{
	char out[AM_DNS_NAME_MAX + 1];
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct icase *c = &cases[i];
		struct am_buf why = AM_BUF_INIT(256);
		enum am_idna_status st;
		unsigned calls = idn2_calls;

		memset(out, 'x', sizeof(out));
		st = am_idna_to_ascii(c->in, out, &why);
		if (st != c->st || strcmp(out, c->out) != 0 ||
		    (c->why != NULL && strstr(am_buf_str(&why), c->why) == NULL) ||
		    (st == BAD && am_buf_str(&why)[0] == '\0') ||
		    (c->ascii && idn2_calls != calls) ||
		    (!c->ascii && st == OK && idn2_calls == calls)) {
			printf("FAIL %s: got %d [%s] (%s) libidn2 calls %u, "
			    "want %d [%s] (%s)%s\n", c->name, st, out,
			    am_buf_str(&why), idn2_calls - calls, c->st, c->out,
			    c->why ? c->why : "", c->ascii ? " without libidn2" : "");
			bad++;
		}
		am_buf_release(&why);
	}
	printf("idna table: %zu/%zu cases pass\n",
	    sizeof(cases) / sizeof(cases[0]) - bad,
	    sizeof(cases) / sizeof(cases[0]));
	assert_int_equal(bad, 0);
}

/* Converting in place (in == out) works on both paths. */
static void
test_in_place(void **state)
{
	char buf[AM_DNS_NAME_MAX + 1];

	(void)state;
	snprintf(buf, sizeof(buf), "Mail.Example.COM.");
	assert_int_equal(am_idna_to_ascii(buf, buf, NULL), OK);
	assert_string_equal(buf, "mail.example.com");
	snprintf(buf, sizeof(buf), "MAIL.B" UE_UP "CHER.test");
	assert_int_equal(am_idna_to_ascii(buf, buf, NULL), OK);
	assert_string_equal(buf, "mail.xn--bcher-kva.test");
}

/* An input longer than AM_IDNA_IN_MAX is refused before libidn2. */
static void
test_long_input(void **state)
{
	char in[AM_IDNA_IN_MAX + 64], out[AM_DNS_NAME_MAX + 1];
	struct am_buf why = AM_BUF_INIT(256);
	size_t i;

	(void)state;
	for (i = 0; i + 2 < sizeof(in); i += 2)
		memcpy(in + i, UE, 2);
	in[i] = '\0';
	assert_int_equal(am_idna_to_ascii(in, out, &why), BAD);
	assert_string_equal(out, "");
	assert_non_null(strstr(am_buf_str(&why), "longer than 1024"));
	am_buf_release(&why);
}

/* Domains compared as domain names: am_idna_equal and the config lists
 * (DMARCIgnoreDomains, ARCTrustedSealers) that use it. */
static void
test_equal(void **state)
{
	static const struct { const char *a, *b; int want; } eq[] = {
		{ "example.com", "EXAMPLE.com.", 1 },
		{ "b" UE "cher.test", "XN--BCHER-KVA.test", 1 },
		{ "B" NFD_UP "CHER.test", "b" UE "cher.test.", 1 },
		{ "b" UE "cher.test", "bucher.test", 0 },
		{ "example.com", "example.co", 0 },
		{ "\xe2\x98\x83.test", "\xe2\x98\x83.test", 0 },
		{ "", "", 0 },
	};
	char *v[] = { "B" UE_UP "CHER.test", "Example.NET." };
	struct am_strlist l = { v, 2 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(eq) / sizeof(eq[0]); i++) {
		if (am_idna_equal(eq[i].a, eq[i].b) != eq[i].want)
			printf("FAIL equal %zu: %s vs %s\n", i, eq[i].a, eq[i].b);
		assert_int_equal(am_idna_equal(eq[i].a, eq[i].b), eq[i].want);
	}
	assert_true(am_strlist_has(&l, "xn--bcher-kva.test"));
	assert_true(am_strlist_has(&l, "b" NFD_U "cher.test"));
	assert_true(am_strlist_has(&l, "example.net"));
	assert_false(am_strlist_has(&l, "example.com"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_in_place),
		cmocka_unit_test(test_long_input),
		cmocka_unit_test(test_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
