/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for lib/buf: capped appends, formatting, truncation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <cmocka.h>

#include "buf.h"

static void
test_append_and_cap(void **state)
{
	struct am_buf b = AM_BUF_INIT(8);

	(void)state;
	assert_int_equal(am_buf_adds(&b, "abcd"), 0);
	assert_string_equal(am_buf_str(&b), "abcd");
	assert_int_equal(am_buf_adds(&b, "efghij"), -1);
	assert_string_equal(am_buf_str(&b), "abcdefgh");
	assert_true(b.truncated);
	assert_int_equal(b.len, 8);
	am_buf_release(&b);
	assert_string_equal(am_buf_str(&b), "");
}

static void
test_printf_long(void **state)
{
	struct am_buf b = AM_BUF_INIT(10000);
	char big[1000];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(am_buf_printf(&b, "%s-%d", big, 42), 0);
	assert_int_equal(b.len, 999 + 3);
	assert_string_equal(am_buf_str(&b) + 999, "-42");
	am_buf_setf(&b, "r=%s", "ok");
	assert_string_equal(am_buf_str(&b), "r=ok");
	am_buf_setf(NULL, "ignored");
	am_buf_release(&b);
}

static void
test_steal(void **state)
{
	struct am_buf b = AM_BUF_INIT(100);
	char *s;

	(void)state;
	s = am_buf_steal(&b);
	assert_string_equal(s, "");
	free(s);
	am_buf_adds(&b, "hello");
	s = am_buf_steal(&b);
	assert_string_equal(s, "hello");
	assert_int_equal(b.len, 0);
	free(s);
}

/* am_buf_hexval: every digit of both cases, and the bytes around them. */
static void
test_hexval(void **state)
{
	static const struct {
		const char *name;
		int c, want;
	} cases[] = {
		{ "digit 0", '0', 0 },
		{ "digit 9", '9', 9 },
		{ "upper A", 'A', 10 },
		{ "upper F", 'F', 15 },
		{ "lower a", 'a', 10 },
		{ "lower f", 'f', 15 },
		{ "before 0", '/', -1 },
		{ "after 9", ':', -1 },
		{ "upper G", 'G', -1 },
		{ "lower g", 'g', -1 },
		{ "before A", '@', -1 },
		{ "before a", '`', -1 },
		{ "NUL", '\0', -1 },
		{ "high byte", 0xC1, -1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = am_buf_hexval(cases[i].c);
		if (got != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].name, got,
			    cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_and_cap),
		cmocka_unit_test(test_printf_long),
		cmocka_unit_test(test_steal),
		cmocka_unit_test(test_hexval),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
