/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for lib/net: address parsing, v4-mapped, CIDR matching. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "net.h"

struct match_case {
	const char *name, *list, *addr;
	int want;
};

static const struct match_case match_cases[] = {
	{ "v4 in /8", "127.0.0.0/8", "127.1.2.3", 1 },
	{ "v4 outside /8", "127.0.0.0/8", "128.0.0.1", 0 },
	{ "v4 /32 exact", "192.0.2.1", "192.0.2.1", 1 },
	{ "v4 /32 other", "192.0.2.1", "192.0.2.2", 0 },
	{ "v4 /0 matches all", "0.0.0.0/0", "203.0.113.9", 1 },
	{ "v4 /0 not v6", "0.0.0.0/0", "2001:db8::1", 0 },
	{ "v4 /25 boundary in", "192.0.2.0/25", "192.0.2.127", 1 },
	{ "v4 /25 boundary out", "192.0.2.0/25", "192.0.2.128", 0 },
	{ "host bits cleared", "192.0.2.77/24", "192.0.2.1", 1 },
	{ "v6 /32", "2001:db8::/32", "2001:db8:ffff::1", 1 },
	{ "v6 /32 out", "2001:db8::/32", "2001:db9::1", 0 },
	{ "v6 ::1", "::1", "::1", 1 },
	{ "mapped client as v4", "192.0.2.0/24", "::ffff:192.0.2.5", 1 },
	{ "mapped network as v4", "::ffff:192.0.2.0/120", "192.0.2.5", 1 },
	{ "list second item", "10.0.0.0/8, 192.0.2.0/24 2001:db8::/32", "2001:db8::5", 1 },
	{ "empty list", "", "192.0.2.1", 0 },
};

static void
test_match(void **state)
{
	size_t i;
	int failed = 0;

	(void)state;
	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		const struct match_case *c = &match_cases[i];
		struct am_cidrlist l = { NULL, 0 };
		struct am_buf why = AM_BUF_INIT(256);
		struct am_addr a;
		int got;

		assert_int_equal(am_cidrlist_parse(&l, c->list, &why), 0);
		assert_int_equal(am_addr_parse(&a, c->addr), 0);
		got = am_cidrlist_match(&l, &a);
		if (got != c->want) {
			printf("FAIL %s: %s in %s: got %d, want %d\n", c->name,
			    c->addr, c->list, got, c->want);
			failed++;
		}
		am_cidrlist_clear(&l);
		am_buf_release(&why);
	}
	assert_int_equal(failed, 0);
}

static const struct { const char *name, *text; } bad_cidrs[] = {
	{ "prefix too long v4", "192.0.2.0/33" },
	{ "prefix too long v6", "2001:db8::/129" },
	{ "not an address", "example.com" },
	{ "negative prefix", "192.0.2.0/-1" },
	{ "empty prefix", "192.0.2.0/" },
	{ "junk after prefix", "192.0.2.0/24x" },
	{ "octet out of range", "192.0.2.256" },
};

static void
test_bad(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cidrs) / sizeof(bad_cidrs[0]); i++) {
		struct am_cidrlist l = { NULL, 0 };
		struct am_buf why = AM_BUF_INIT(256);
		int r = am_cidrlist_parse(&l, bad_cidrs[i].text, &why);

		if (r == 0 || why.len == 0)
			printf("FAIL %s: \"%s\" accepted\n", bad_cidrs[i].name,
			    bad_cidrs[i].text);
		assert_int_equal(r, -1);
		assert_true(why.len > 0);
		am_cidrlist_clear(&l);
		am_buf_release(&why);
	}
}

static void
test_format(void **state)
{
	struct am_addr a;
	char out[64];

	(void)state;
	assert_int_equal(am_addr_parse(&a, "::ffff:10.1.2.3"), 0);
	assert_string_equal(am_addr_format(&a, out, sizeof(out)), "10.1.2.3");
	assert_int_equal(am_addr_parse(&a, "2001:DB8::1"), 0);
	assert_string_equal(am_addr_format(&a, out, sizeof(out)), "2001:db8::1");
	assert_int_equal(am_addr_parse(&a, "1.2.3"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
