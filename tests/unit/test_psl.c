/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_psl: the public suffix list (lib/psl.c).
 *
 * - a small list in memory: normal, multi-label, wildcard and exception
 *   rules, the ICANN and PRIVATE sections and their selection;
 * - Punycode (RFC 3492 s.7.1 samples and the list's IDN names);
 * - Debian's list: named org-domain cases, then the list project's own
 *   test vectors ($AM_CORPUS/dmarc/psl/test_psl.txt) run whole, with the
 *   pass count printed, and the same vectors through libopendmarc's
 *   opendmarc_get_tld() for comparison (printed, not asserted: it is not
 *   what we use).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <opendmarc/dmarc.h>

#include "amconfig.h"
#include "psl.h"

/* Exported by libopendmarc 1.4.2 but missing from its header. */
int opendmarc_get_tld(u_char *domain, u_char *tld, size_t tld_len);

#ifndef AM_DEFAULT_PSL
#define AM_DEFAULT_PSL "/usr/share/publicsuffix/public_suffix_list.dat"
#endif

struct ocase {
	const char *name;
	const char *domain;
	const char *org;     /* NULL: a public suffix / invalid */
};

static const char small_list[] =
    "// comment\n"
    "// ===BEGIN ICANN DOMAINS===\n"
    "com\n"
    "uk\n"
    "co.uk\n"
    "*.ck\n"
    "!www.ck\n"
    "jp\n"
    "*.kobe.jp\n"
    "!city.kobe.jp\n"
    "\xe5\x85\xac\xe5\x8f\xb8.cn\n"	/* 公司.cn */
    "cn\n"
    "// ===END ICANN DOMAINS===\n"
    "// ===BEGIN PRIVATE DOMAINS===\n"
    "blogspot.com\n"
    "  github.io   trailing words are ignored\n"
    "// ===END PRIVATE DOMAINS===\n";

static const struct ocase small_all[] = {
	{ "tld", "com", NULL },
	{ "registrable", "example.com", "example.com" },
	{ "deep", "a.b.c.example.com", "example.com" },
	{ "case", "WWW.Example.COM", "example.com" },
	{ "multi-label suffix", "www.example.co.uk", "example.co.uk" },
	{ "multi-label suffix itself", "co.uk", NULL },
	{ "wildcard: suffix", "test.ck", NULL },
	{ "wildcard: below", "a.b.test.ck", "b.test.ck" },
	{ "exception", "www.ck", "www.ck" },
	{ "below exception", "a.www.ck", "www.ck" },
	{ "wildcard 3 labels", "x.y.kobe.jp", "x.y.kobe.jp" },
	{ "exception 3 labels", "www.city.kobe.jp", "city.kobe.jp" },
	{ "private suffix", "foo.blogspot.com", "foo.blogspot.com" },
	{ "private suffix itself", "blogspot.com", NULL },
	{ "private rule with words", "me.github.io", "me.github.io" },
	{ "unlisted tld", "a.b.example", "b.example" },
	{ "unlisted tld alone", "example", NULL },
	{ "unicode rule", "www.\xe9\xa3\x9f\xe7\x8b\xae.\xe5\x85\xac\xe5\x8f"
	  "\xb8.cn", "\xe9\xa3\x9f\xe7\x8b\xae.\xe5\x85\xac\xe5\x8f\xb8.cn" },
	{ "A-label of unicode rule", "www.xn--85x722f.xn--55qx5d.cn",
	  "xn--85x722f.xn--55qx5d.cn" },
	{ "A-label suffix itself", "xn--55qx5d.cn", NULL },
	{ "leading dot", ".example.com", NULL },
	{ "trailing dot", "example.com.", NULL },
	{ "empty label", "a..example.com", NULL },
	{ "empty", "", NULL },
};

static const struct ocase small_icann[] = {
	{ "private rule dropped", "foo.blogspot.com", "blogspot.com" },
	{ "icann rule kept", "www.example.co.uk", "example.co.uk" },
};

static const struct ocase debian[] = {
	{ "gov.uk", "www.example.gov.uk", "example.gov.uk" },
	{ "private suffix service.gov.uk", "www.service.gov.uk",
	  "www.service.gov.uk" },
	{ "com.au", "mail.example.com.au", "example.com.au" },
	{ "k12 state", "www.test.k12.ak.us", "test.k12.ak.us" },
	{ "amazonaws private", "x.s3.amazonaws.com", "x.s3.amazonaws.com" },
	{ "co.jp", "a.example.co.jp", "example.co.jp" },
	{ "org", "lists.ietf.org", "ietf.org" },
};

static int
run_cases(const struct am_psl *psl, const struct ocase *c, size_t n,
    const char *table)
{
	char out[256];
	size_t i;
	int bad = 0, r;

	for (i = 0; i < n; i++) {
		r = am_psl_org_domain(psl, c[i].domain, out, sizeof(out));
		if ((c[i].org == NULL) != (r != 0) ||
		    (r == 0 && strcmp(out, c[i].org) != 0)) {
			printf("FAIL %s/%s: %s: got %s, want %s\n", table,
			    c[i].name, c[i].domain, r ? "null" : out,
			    c[i].org ? c[i].org : "null");
			bad++;
		}
	}
	return bad;
}

static void
test_small(void **state)
{
	struct am_buf why = AM_BUF_INIT(256);
	struct am_psl *psl;
	int bad;

	(void)state;
	psl = am_psl_parse(small_list, strlen(small_list), AM_PSL_ALL, &why);
	assert_non_null(psl);
	assert_int_equal(am_psl_count(psl), 12);
	bad = run_cases(psl, small_all, sizeof(small_all) /
	    sizeof(small_all[0]), "all");
	psl = am_psl_free(psl);
	psl = am_psl_parse(small_list, strlen(small_list), AM_PSL_ICANN, &why);
	assert_non_null(psl);
	bad += run_cases(psl, small_icann, sizeof(small_icann) /
	    sizeof(small_icann[0]), "icann");
	psl = am_psl_free(psl);
	assert_null(am_psl_parse("// nothing\n", 11, AM_PSL_ALL, &why));
	assert_string_equal(am_buf_str(&why), "no rule in public suffix list");
	assert_null(am_psl_load("/nonexistent/psl.dat", AM_PSL_ALL, &why));
	am_buf_release(&why);
	assert_int_equal(bad, 0);
}

static void
test_punycode(void **state)
{
	static const struct {
		const char *in, *out;
	} c[] = {
		{ "b\xc3\xbc" "cher.example", "xn--bcher-kva.example" },
		{ "\xe5\x85\xac\xe5\x8f\xb8.cn", "xn--55qx5d.cn" },
		{ "\xe9\xa3\x9f\xe7\x8b\xae", "xn--85x722f" },
		{ "\xe4\xb8\xad\xe5\x9b\xbd", "xn--fiqs8s" },
		/* RFC 3492 s.7.1 (L) Japanese, "3<nen>B<gumi><kinpachi><sensei>" */
		{ "3\xe5\xb9\xb4" "B\xe7\xb5\x84\xe9\x87\x91\xe5\x85\xab\xe5\x85"
		  "\x88\xe7\x94\x9f", "xn--3b-ww4c5e180e575a65lsy2b" },
		{ "MiXeD.Example", "mixed.example" },
	};
	char out[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		assert_int_equal(am_psl_to_ascii(c[i].in, out, sizeof(out)), 0);
		if (strcmp(out, c[i].out) != 0)
			printf("FAIL punycode %s: got %s\n", c[i].out, out);
		assert_string_equal(out, c[i].out);
	}
	assert_int_equal(am_psl_to_ascii("\xff.example", out, sizeof(out)), -1);
	assert_int_equal(am_psl_to_ascii("\xc3.example", out, sizeof(out)), -1);
	assert_int_equal(am_psl_to_ascii("a..b", out, sizeof(out)), -1);
	assert_int_equal(am_psl_to_ascii("example.com", out, 5), -1);
}

/* Parse "checkPublicSuffix('in', 'out');" (either may be null). */
static int
vector(char *line, char **in, char **out)
{
	char *p = strstr(line, "checkPublicSuffix(");
	char *f[2];
	int i;

	if (p == NULL || strncmp(line, "//", 2) == 0)
		return 0;
	p += strlen("checkPublicSuffix(");
	for (i = 0; i < 2; i++) {
		p += strspn(p, " ,");
		if (strncmp(p, "null", 4) == 0) {
			f[i] = NULL;
			p += 4;
			continue;
		}
		if (*p++ != '\'')
			return 0;
		f[i] = p;
		if ((p = strchr(p, '\'')) == NULL)
			return 0;
		*p++ = '\0';
	}
	*in = f[0];
	*out = f[1];
	return 1;
}

/*
 * libopendmarc's answer for the same vector (global state: tests only).
 * It answers a public suffix with the name itself; that counts as null.
 */
static int
opendmarc_ok(const char *in, const char *want)
{
	u_char buf[256] = "";

	if (in == NULL || opendmarc_get_tld((u_char *)in, buf,
	    sizeof(buf)) != 0)
		return want == NULL;
	if (want == NULL)
		return strcasecmp((char *)buf, in) == 0 || buf[0] == '\0';
	return strcmp((char *)buf, want) == 0;
}

static void
test_corpus(void **state)
{
	struct am_buf why = AM_BUF_INIT(256);
	const char *corpus = getenv("AM_CORPUS");
	char path[1024], line[1024], out[256], *in, *want;
	int n = 0, pass = 0, od = 0, r;
	struct am_psl *psl;
	FILE *fp;

	(void)state;
	psl = am_psl_load(AM_DEFAULT_PSL, AM_PSL_ALL, &why);
	if (psl == NULL)
		printf("FAIL loading %s: %s\n", AM_DEFAULT_PSL,
		    am_buf_str(&why));
	assert_non_null(psl);
	assert_int_equal(run_cases(psl, debian, sizeof(debian) /
	    sizeof(debian[0]), "debian"), 0);
	snprintf(path, sizeof(path), "%s/dmarc/psl/test_psl.txt",
	    corpus ? corpus : AM_TOP_SRCDIR "/../shared/corpus");
	fp = fopen(path, "r");
	assert_non_null(fp);
	opendmarc_tld_read_file((char *)AM_DEFAULT_PSL, "//", "*.", "!");
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (!vector(line, &in, &want))
			continue;
		n++;
		r = in != NULL ? am_psl_org_domain(psl, in, out, sizeof(out))
		    : -1;
		if ((want == NULL) == (r != 0) &&
		    (r != 0 || strcmp(out, want) == 0))
			pass++;
		else
			printf("FAIL test_psl %s: got %s, want %s\n",
			    in ? in : "null", r ? "null" : out,
			    want ? want : "null");
		od += opendmarc_ok(in, want);
	}
	fclose(fp);
	opendmarc_tld_shutdown();
	printf("test_psl.txt: %d/%d pass (libopendmarc opendmarc_get_tld: "
	    "%d/%d)\n", pass, n, od, n);
	am_psl_free(psl);
	am_buf_release(&why);
	assert_int_equal(n, 78);
	assert_int_equal(pass, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small),
		cmocka_unit_test(test_punycode),
		cmocka_unit_test(test_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
