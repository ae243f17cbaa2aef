/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_hdrs: turn fuzz input into a header list for the targets that read
 * whole headers (fuzz_from, fuzz_arc). The input is a header block as an
 * MTA would hand it over: "Name: value" fields, a line starting with a
 * space or tab continues the previous field; a line without a colon is
 * skipped. Values keep their folding line breaks. The list's caps must
 * hold after every add (lib/hdr.c).
 */
#ifndef AM_FUZZ_HDRS_H
#define AM_FUZZ_HDRS_H

#include <string.h>

#include "hdr.h"

/* Length of the field starting at p (through its last continuation
 * line's LF, or the end of input). */
static size_t
fuzz_field_len(const char *p, size_t n)
{
	size_t i = 0;
	const char *nl;

	for (;;) {
		nl = memchr(p + i, '\n', n - i);
		if (nl == NULL)
			return n;
		i = (size_t)(nl - p) + 1;
		if (i >= n || (p[i] != ' ' && p[i] != '\t'))
			return i;
	}
}

/* Add every field of p[0..n) to h (initialised by the caller). */
static void
fuzz_hdrs_fill(struct am_hdrs *h, const char *p, size_t n)
{
	char name[256];
	const char *colon;
	size_t len, nl, vlen;

	while (n > 0) {
		len = fuzz_field_len(p, n);
		colon = memchr(p, ':', len);
		if (colon != NULL && (nl = (size_t)(colon - p)) > 0 &&
		    nl < sizeof(name) && memchr(p, '\0', nl) == NULL) {
			memcpy(name, p, nl);
			name[nl] = '\0';
			vlen = len - nl - 1;
			/* the MTA gives the value without the final line break */
			if (vlen > 0 && colon[vlen] == '\n')
				vlen--;
			if (vlen > 0 && colon[vlen] == '\r')
				vlen--;
			(void)am_hdrs_add(h, name, colon + 1, vlen);
			/* the caps hold whatever was added */
			if (h->bytes > h->max_bytes || h->n > h->max_count)
				__builtin_trap();
		}
		p += len;
		n -= len;
	}
}

#endif
