/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * idna: domains to lower-case A-labels. See idna.h.
 *
 * The U-label path is idn2_lookup_u8() with IDN2_NONTRANSITIONAL (UTS #46
 * non-transitional mapping, then IDNA2008 RFC 5891 s.5.4 and s.5.5 checks)
 * and IDN2_NFC_INPUT (NFD input is composed first). libidn2's own length
 * limit is 255 with the root; ours is the DNS one, checked on the result.
 */
#include <string.h>

#include <idn2.h>

#include "idna.h"

int
am_idna_is_ascii(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

static enum am_idna_status
bad(char *out, struct am_buf *why, const char *what)
{
	out[0] = '\0';
	am_buf_setf(why, "%s", what);
	return AM_IDNA_BAD;
}

/* The DNS shape of a converted name of n octets (no trailing dot). */
static enum am_idna_status
shape(char *out, size_t n, struct am_buf *why)
{
	size_t i, label = 0;

	if (n > AM_DNS_NAME_MAX)
		return bad(out, why, "domain longer than 253 octets");
	for (i = 0; i <= n; i++) {
		if (i < n && out[i] != '.') {
			if (++label > 63)
				return bad(out, why, "label over 63 octets");
			continue;
		}
		if (label == 0)
			return bad(out, why, "empty label");
		label = 0;
	}
	return AM_IDNA_OK;
}

/* Length of in without one trailing dot; 0 for "" and ".". */
static size_t
trimmed_len(const char *in)
{
	size_t n = strlen(in);

	if (n > 0 && in[n - 1] == '.')
		n--;
	return n;
}

/* The fast path: ASCII lower-cased, no libidn2. */
static enum am_idna_status
from_ascii(const char *in, size_t n, char *out, struct am_buf *why)
{
	size_t i;

	if (n > AM_DNS_NAME_MAX)
		return bad(out, why, "domain longer than 253 octets");
	for (i = 0; i < n; i++)
		out[i] = (in[i] >= 'A' && in[i] <= 'Z') ? in[i] + 32 : in[i];
	out[n] = '\0';
	return shape(out, n, why);
}

/* The U-label path through libidn2. */
static enum am_idna_status
from_utf8(const char *in, size_t n, char *out, struct am_buf *why)
{
	char copy[AM_IDNA_IN_MAX + 1];
	enum am_idna_status st;
	uint8_t *res = NULL;
	size_t len;
	int rc;

	if (n > AM_IDNA_IN_MAX)
		return bad(out, why, "domain longer than 1024 bytes");
	memcpy(copy, in, n);
	copy[n] = '\0';
	if (copy[0] == '.' || copy[n - 1] == '.' || strstr(copy, "..") != NULL)
		return bad(out, why, "empty label");
	rc = idn2_lookup_u8((const uint8_t *)copy, &res,
	    IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
	if (rc != IDN2_OK) {
		idn2_free(res);
		out[0] = '\0';
		am_buf_setf(why, "IDNA2008: %s", idn2_strerror(rc));
		return AM_IDNA_BAD;
	}
	len = strlen((const char *)res);
	if (len > 0 && res[len - 1] == '.')
		len--;	/* a full stop mapped to the root (U+3002 at the end) */
	if (len > AM_DNS_NAME_MAX) {
		idn2_free(res);
		return bad(out, why, "domain longer than 253 octets as "
		    "A-labels");
	}
	/* libidn2 maps to lower case; ASCII letters are folded again so
	 * that the result is canonical whatever it passed through. */
	st = from_ascii((const char *)res, len, out, why);
	idn2_free(res);
	return st;
}

enum am_idna_status
am_idna_to_ascii(const char *in, char out[AM_DNS_NAME_MAX + 1],
    struct am_buf *why)
{
	size_t n;

	if (in == NULL || (n = trimmed_len(in)) == 0)
		return bad(out, why, "empty domain");
	if (am_idna_is_ascii(in, n))
		return from_ascii(in, n, out, why);
	return from_utf8(in, n, out, why);
}

int
am_idna_equal(const char *a, const char *b)
{
	char x[AM_DNS_NAME_MAX + 1], y[AM_DNS_NAME_MAX + 1];

	return am_idna_to_ascii(a, x, NULL) == AM_IDNA_OK &&
	    am_idna_to_ascii(b, y, NULL) == AM_IDNA_OK && strcmp(x, y) == 0;
}
