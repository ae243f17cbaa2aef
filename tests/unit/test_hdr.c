/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for lib/hdr: the header list's caps and CRLF copies. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <cmocka.h>

#include "hdr.h"

struct add_case {
	const char *name;
	size_t max_bytes;
	const char *values[4];          /* added in turn as "X: value" */
	enum am_hdr_status want[4];
	size_t want_bytes;
};

/* Bytes are counted as stored: a bare LF becomes CRLF (one byte more). */
static const struct add_case add_cases[] = {
	{ "fits", 20, { "abc", "def" }, { AM_HDR_OK, AM_HDR_OK }, 8 },
	{ "second over the cap", 8, { "abc", "defgh" },
	    { AM_HDR_OK, AM_HDR_TOO_BIG }, 4 },
	{ "CRLF kept as is", 6, { "a\r\n b" }, { AM_HDR_OK }, 6 },
	/* 5 bytes given, 7 stored: over a cap of 6 */
	{ "bare LFs grow past the cap", 6, { "a\n\n b" }, { AM_HDR_TOO_BIG },
	    0 },
	/* once over, the cap was lost: every later field got in */
	{ "cap holds after growth", 12, { "a\n\n\n\n\n b", "cd", "ef" },
	    { AM_HDR_TOO_BIG, AM_HDR_OK, AM_HDR_OK }, 6 },
};

static void
test_add_caps(void **state)
{
	const struct add_case *c;
	struct am_hdrs h;
	enum am_hdr_status st;
	size_t i, k;
	int bad = 0;

	(void)state;
	for (i = 0; i < sizeof(add_cases) / sizeof(add_cases[0]); i++) {
		c = &add_cases[i];
		am_hdrs_init(&h, 100, c->max_bytes);
		for (k = 0; k < 4 && c->values[k] != NULL; k++) {
			st = am_hdrs_add(&h, "X", c->values[k],
			    strlen(c->values[k]));
			if (st != c->want[k]) {
				printf("%s: field %zu: got status %d, want %d\n",
				    c->name, k, (int)st, (int)c->want[k]);
				bad++;
			}
		}
		if (h.bytes != c->want_bytes || h.bytes > h.max_bytes) {
			printf("%s: got %zu bytes held, want %zu (cap %zu)\n",
			    c->name, h.bytes, c->want_bytes, h.max_bytes);
			bad++;
		}
		am_hdrs_release(&h);
	}
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
