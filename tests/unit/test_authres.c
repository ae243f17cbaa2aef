/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for lib/authres: building A-R values (RFC 8601 syntax,
 * escaping hostile text) and recognising the authserv-id of existing ones.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "authres.h"

static void
test_build(void **state)
{
	struct am_authres ar;

	(void)state;
	am_authres_begin(&ar, "mx.example.net");
	am_authres_method(&ar, "spf", "pass", "matched ip4:192.0.2.0/24");
	am_authres_prop(&ar, "smtp.mailfrom", "example.com");
	am_authres_method(&ar, "spf", "none", NULL);
	am_authres_prop(&ar, "smtp.helo", "mail.example.com");
	assert_string_equal(am_authres_end(&ar),
	    "mx.example.net;\n\tspf=pass (matched ip4:192.0.2.0/24) smtp.mailfrom=example.com;\n"
	    "\tspf=none smtp.helo=mail.example.com");
	am_authres_release(&ar);
}

static void
test_none(void **state)
{
	struct am_authres ar;

	(void)state;
	am_authres_begin(&ar, "mx");
	assert_string_equal(am_authres_end(&ar), "mx; none");
	am_authres_release(&ar);
}

static void
test_hostile(void **state)
{
	struct am_authres ar;

	(void)state;
	am_authres_begin(&ar, "mx");
	am_authres_method(&ar, "spf", "permerror", "bad (record)\\ \r\n here");
	am_authres_prop(&ar, "smtp.mailfrom", "a b\"c;d");
	assert_string_equal(am_authres_end(&ar),
	    "mx;\n\tspf=permerror (bad \\(record\\)\\\\ ?? here) smtp.mailfrom=\"a b\\\"c;d\"");
	am_authres_release(&ar);
}

static const struct { const char *name, *value, *want; } id_cases[] = {
	{ "plain", " mx.example.net; spf=pass", "mx.example.net" },
	{ "no space", "mx.example.net;spf=pass", "mx.example.net" },
	{ "version", " mx.example.net 1; spf=pass", "mx.example.net" },
	{ "leading comment", " (forged) mx.example.net; none", "mx.example.net" },
	{ "nested comment", " (a (b) c) mx; none", "mx" },
	{ "quoted", " \"mx.example.net\"; none", "mx.example.net" },
	{ "folded", "\r\n\tmx.example.net;\r\n\tspf=pass", "mx.example.net" },
	{ "only id", " mx.example.net", "mx.example.net" },
	{ "empty", "   ", NULL },
	{ "unterminated quote", " \"mx", NULL },
};

static void
test_id(void **state)
{
	size_t i;
	char id[64];
	int failed = 0;

	(void)state;
	for (i = 0; i < sizeof(id_cases) / sizeof(id_cases[0]); i++) {
		int r = am_authres_id(id_cases[i].value, id, sizeof(id));
		const char *want = id_cases[i].want;

		if ((want == NULL && r == 0) || (want != NULL &&
		    (r != 0 || strcmp(id, want) != 0))) {
			printf("FAIL %s: got %s, want %s\n", id_cases[i].name,
			    r == 0 ? id : "(none)", want != NULL ? want : "(none)");
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

static void
test_scan(void **state)
{
	struct am_authres_item it[8];
	size_t n;

	(void)state;
	n = am_authres_scan(" lists.example.org; (comment; with semicolon)\r\n"
	    "\tdkim=pass (good sig) header.d=Example.COM header.s=\"sel;1\";\n"
	    "\tspf=softfail smtp.mailfrom=bounce@list.example.org;\n"
	    "\tDMARC/1=Pass header.from=example.com; arc=none", it, 8);
	assert_int_equal(n, 4);
	assert_string_equal(it[0].method, "dkim");
	assert_string_equal(it[0].result, "pass");
	assert_string_equal(am_authres_item_prop(&it[0], "header.d"), "Example.COM");
	assert_string_equal(am_authres_item_prop(&it[0], "header.s"), "sel;1");
	assert_null(am_authres_item_prop(&it[0], "header.i"));
	assert_string_equal(it[1].method, "spf");
	assert_string_equal(am_authres_item_prop(&it[1], "smtp.mailfrom"),
	    "bounce@list.example.org");
	assert_string_equal(it[2].method, "dmarc");
	assert_string_equal(it[2].result, "pass");
	assert_string_equal(it[3].method, "arc");
	/* "none" alone, and hostile input, give nothing. */
	assert_int_equal(am_authres_scan(" mx; none", it, 8), 0);
	assert_int_equal(am_authres_scan(" mx; ((((", it, 8), 0);
	assert_int_equal(am_authres_scan("", it, 8), 0);
	n = am_authres_scan(" mx; a=b; c=d; e=f", it, 2);
	assert_int_equal(n, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_id),
		cmocka_unit_test(test_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
