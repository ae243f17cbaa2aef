/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for lib/report_dest.c: rua mailto URIs (a named case table)
 * and external destination verification (RFC 9990 s.4) over
 * tests/zones/report.zone through the zone back end of lib/dns.h, plus a
 * back end that fails every query (TEMPFAIL).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "report_dest.h"

struct uri_case {
	const char *name;
	const char *uri;
	const char *addr;     /* NULL: refused */
	const char *host;
};

static const struct uri_case uri_cases[] = {
	{ "plain", "mailto:dmarc@example.com", "dmarc@example.com", "example.com" },
	{ "scheme and host case", "MAILTO:Dmarc@Example.COM", "Dmarc@example.com", "example.com" },
	{ "size suffix ignored", "mailto:dmarc@example.com!10m", "dmarc@example.com", "example.com" },
	{ "bare size suffix", "mailto:dmarc@example.com!10", "dmarc@example.com", "example.com" },
	{ "hfields ignored", "mailto:dmarc@example.com?subject=x", "dmarc@example.com", "example.com" },
	{ "percent-encoded", "mailto:%64marc@example.com", "dmarc@example.com", "example.com" },
	{ "surrounding space", "  mailto:d@example.com ", "d@example.com", "example.com" },
	{ "https refused", "https://example.com/dmarc", NULL, NULL },
	{ "empty mailto", "mailto:", NULL, NULL },
	{ "two at signs", "mailto:a@b@example.com", NULL, NULL },
	{ "encoded at sign", "mailto:a%40b@example.com", NULL, NULL },
	{ "space in local part", "mailto:a b@example.com", NULL, NULL },
	{ "newline in host", "mailto:a@exa%0Ample.com", NULL, NULL },
	{ "address literal", "mailto:a@[192.0.2.1]", NULL, NULL },
	{ "leading dash", "mailto:-oQ/tmp/x@example.com", NULL, NULL },
	{ "quoted local part", "mailto:%22a%22@example.com", NULL, NULL },
	{ "host label over 63",
	  "mailto:a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
	  NULL, NULL },
	{ "angle brackets", "mailto:<a@example.com>", NULL, NULL },
	/* hfields never add recipients or header fields (RFC 6068 s.2) */
	{ "bcc and cc hfields ignored",
	  "mailto:a@example.com?bcc=evil@x.example&cc=b@y.example",
	  "a@example.com", "example.com" },
	{ "encoded CRLF in an hfield ignored",
	  "mailto:a@example.com?subject=x%0D%0ABcc:%20evil@x.example",
	  "a@example.com", "example.com" },
	{ "encoded CRLF in the address refused",
	  "mailto:a@example.com%0D%0ABcc:evil@x.example", NULL, NULL },
	{ "encoded CRLF in the local part refused",
	  "mailto:a%0D%0ARCPT%20TO:%3Cevil@x.example%3E@example.com", NULL,
	  NULL },
	{ "encoded NUL refused", "mailto:a%00b@example.com", NULL, NULL },
	{ "empty address, to= hfield not used",
	  "mailto:?to=evil@x.example", NULL, NULL },
	{ "null path refused", "mailto:<>", NULL, NULL },
};

static void
test_mailto(void **state)
{
	char addr[AM_REPORT_ADDR_MAX], host[AM_DNS_NAME_MAX + 1];
	struct am_buf why = AM_BUF_INIT(256);
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(uri_cases) / sizeof(uri_cases[0]); i++) {
		const struct uri_case *c = &uri_cases[i];
		rc = am_report_rua_mailto(c->uri, addr, host, &why);
		if (c->addr == NULL && rc == 0)
			fail_msg("%s: accepted as %s, want refused", c->name, addr);
		if (c->addr != NULL && (rc != 0 || strcmp(addr, c->addr) != 0 ||
		    strcmp(host, c->host) != 0))
			fail_msg("%s: got %s (%s) host %s, want %s host %s", c->name,
			    rc == 0 ? addr : "refused", am_buf_str(&why),
			    rc == 0 ? host : "-", c->addr, c->host);
	}
	am_buf_release(&why);
}

/* A 100,000-byte URI is refused without overflowing anything. */
static void
test_mailto_huge(void **state)
{
	char addr[AM_REPORT_ADDR_MAX], host[AM_DNS_NAME_MAX + 1];
	size_t n = 100000;
	char *uri = malloc(n + 1);

	(void)state;
	memcpy(uri, "mailto:", 7);
	memset(uri + 7, 'a', n - 7);
	uri[n] = '\0';
	uri[n / 2] = '@';
	assert_int_equal(am_report_rua_mailto(uri, addr, host, NULL), -1);
	free(uri);
}

static void
test_uri_split(void **state)
{
	struct am_buf scratch = AM_BUF_INIT(8192);
	const char *v[40];
	struct am_buf big = AM_BUF_INIT(100000);
	size_t n, i;

	(void)state;
	n = am_report_uri_split(" mailto:a@x.example ,mailto:b@y.example!10m,,"
	    "\tmailto:c@z.example\t", &scratch, v, 40);
	assert_int_equal(n, 3);
	assert_string_equal(v[0], "mailto:a@x.example");
	assert_string_equal(v[1], "mailto:b@y.example!10m");
	assert_string_equal(v[2], "mailto:c@z.example");
	assert_int_equal(am_report_uri_split("", &scratch, v, 40), 0);
	assert_int_equal(am_report_uri_split(" , ,", &scratch, v, 40), 0);
	/* thousands of URIs: at most max kept, within the scratch cap */
	for (i = 0; i < 5000; i++)
		am_buf_printf(&big, "mailto:r%zu@example.com,", i);
	n = am_report_uri_split(am_buf_str(&big), &scratch, v, 32);
	assert_int_equal(n, 32);
	assert_string_equal(v[31], "mailto:r31@example.com");
	am_buf_release(&big);
	am_buf_release(&scratch);
}

struct dest_case {
	const char *name;
	const char *uri;
	enum am_report_dest want;
	const char *addr;     /* the address afterwards (OK only) */
};

static const struct dest_case dest_cases[] = {
	{ "same organization", "mailto:dmarc@reports.sender.example",
	  AM_REPORT_DEST_OK, "dmarc@reports.sender.example" },
	{ "external, authorized", "mailto:agg@rep.example",
	  AM_REPORT_DEST_OK, "agg@rep.example" },
	{ "external, wildcard", "mailto:agg@wild.example",
	  AM_REPORT_DEST_OK, "agg@wild.example" },
	{ "external, no record", "mailto:agg@noauth.example",
	  AM_REPORT_DEST_REFUSED, NULL },
	{ "external, v=DMARC1 not first", "mailto:agg@bad.example",
	  AM_REPORT_DEST_REFUSED, NULL },
	{ "override on the same host", "mailto:old@ovr.example",
	  AM_REPORT_DEST_OK, "agg@ovr.example" },
	{ "override naming another host", "mailto:x@fwd.example",
	  AM_REPORT_DEST_REFUSED, NULL },
};

static struct am_dns *
zone_dns(void)
{
	static const char *path = AM_TOP_SRCDIR "/tests/zones/report.zone";
	struct am_buf why = AM_BUF_INIT(512);
	struct am_dns *d = am_dns_zone_new(&path, 1, &why);

	if (d == NULL)
		fail_msg("zone: %s", am_buf_str(&why));
	am_buf_release(&why);
	return d;
}

static void
test_verify(void **state)
{
	struct am_dmarc_conf conf = { AM_DMARC_RFC9989, NULL };
	char addr[AM_REPORT_ADDR_MAX], host[AM_DNS_NAME_MAX + 1];
	struct am_buf why = AM_BUF_INIT(512);
	struct am_dns *dns = zone_dns();
	enum am_report_dest got;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dest_cases) / sizeof(dest_cases[0]); i++) {
		const struct dest_case *c = &dest_cases[i];
		assert_int_equal(am_report_rua_mailto(c->uri, addr, host, NULL), 0);
		am_buf_reset(&why);
		got = am_report_dest_verify(&conf, dns, "sender.example", addr,
		    host, &why);
		if (got != c->want)
			fail_msg("%s: got %d (%s), want %d", c->name, (int)got,
			    am_buf_str(&why), (int)c->want);
		if (c->addr != NULL && strcmp(addr, c->addr) != 0)
			fail_msg("%s: address %s, want %s", c->name, addr, c->addr);
	}
	am_dns_free(dns);
	am_buf_release(&why);
}

static enum am_dns_status
fail_query(void *state, const char *name, int type,
    struct am_dns_answer **ans, struct am_buf *why)
{
	(void)state;
	(void)type;
	*ans = NULL;
	am_buf_setf(why, "SERVFAIL for %s", name);
	return AM_DNS_TEMPFAIL;
}

static void
fail_close(void *state)
{
	(void)state;
}

/* DNS trouble is never a refusal: the report waits for a later run. */
static void
test_verify_tempfail(void **state)
{
	static const struct am_dns_backend be = { .name = "fail",
	    .query = fail_query, .close = fail_close };
	struct am_dmarc_conf conf = { AM_DMARC_RFC9989, NULL };
	char addr[AM_REPORT_ADDR_MAX] = "agg@rep.example";
	struct am_dns *dns = am_dns_new(&be, NULL);

	(void)state;
	assert_int_equal(am_report_dest_verify(&conf, dns, "sender.example",
	    addr, "rep.example", NULL), AM_REPORT_DEST_TEMPFAIL);
	am_dns_free(dns);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mailto),
		cmocka_unit_test(test_mailto_huge),
		cmocka_unit_test(test_uri_split),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_verify_tempfail),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
