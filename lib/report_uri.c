/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_uri: rua mailto URIs (RFC 9990 s.3.5.2; RFC 6068 mailto; the
 * RFC 7489 s.6.2 "!size" suffix, ignored). See report_dest.h. Pure: no
 * DNS, no state, so it is also a fuzz target (tests/fuzz/fuzz_report.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "report_dest.h"

#define AM_REPORT_SPLIT_MAX 64

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* RFC 5322 atext (dot-atom local parts, no quoting). */
static int
is_atext(int c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* A host name: LDH labels (and '_') of 1..63 bytes, at most 253 in all. */
static int
is_host(const char *h)
{
	size_t label = 0, n = strlen(h);

	if (n == 0 || n > AM_DNS_NAME_MAX || h[0] == '.' || h[n - 1] == '.')
		return 0;
	for (; *h != '\0'; h++) {
		if (*h == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if (isalnum((unsigned char)*h) || *h == '-' || *h == '_') {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return 1;
}

/* A dot-atom local part of at most 64 bytes. */
static int
is_local(const char *s, size_t n)
{
	size_t i;

	/* a leading '-' would read as an option to a careless sendmail */
	if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' : !is_atext((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

int
am_report_rua_mailto(const char *uri, char addr[AM_REPORT_ADDR_MAX],
    char host[AM_DNS_NAME_MAX + 1], struct am_buf *why)
{
	char dec[AM_REPORT_ADDR_MAX];
	const char *p, *end, *bang, *at;
	size_t n = 0, i;
	int hi, lo;

	while (isspace((unsigned char)*uri))
		uri++;
	if (strncasecmp(uri, "mailto:", 7) != 0) {
		am_buf_setf(why, "not a mailto URI");
		return -1;
	}
	p = uri + 7;
	end = p + strcspn(p, "?");
	/* "!" 1*DIGIT [k/m/g/t] at the end: RFC 7489's size limit, ignored */
	if ((bang = memchr(p, '!', (size_t)(end - p))) != NULL)
		end = bang;
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	for (; p < end; p++) {
		if (n + 1 >= sizeof(dec)) {
			am_buf_setf(why, "address too long");
			return -1;
		}
		if (*p == '%' && end - p >= 3 && (hi = hexval(p[1])) >= 0 &&
		    (lo = hexval(p[2])) >= 0) {
			dec[n++] = (char)(hi * 16 + lo);
			p += 2;
		} else {
			dec[n++] = *p;
		}
	}
	dec[n] = '\0';
	if ((at = strrchr(dec, '@')) == NULL || !is_local(dec, (size_t)(at - dec))
	    || strlen(dec) != n || !is_host(at + 1)) {
		am_buf_setf(why, "not a usable mail address");
		return -1;
	}
	for (i = 0; at[1 + i] != '\0'; i++)
		host[i] = (char)tolower((unsigned char)at[1 + i]);
	host[i] = '\0';
	snprintf(addr, AM_REPORT_ADDR_MAX, "%.*s@%s", (int)(at - dec), dec, host);
	return 0;
}


size_t
am_report_uri_split(const char *value, struct am_buf *scratch,
    const char **v, size_t max)
{
	size_t n = 0, len, k, off[AM_REPORT_SPLIT_MAX];
	const char *p = value, *e;

	am_buf_reset(scratch);
	if (max > AM_REPORT_SPLIT_MAX)
		max = AM_REPORT_SPLIT_MAX;
	while (p != NULL && *p != '\0' && n < max) {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		e = p + strcspn(p, ",");
		len = (size_t)(e - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len > 0) {
			off[n++] = scratch->len;
			if (am_buf_add(scratch, p, len) != 0 ||
			    am_buf_add(scratch, "", 1) != 0) {
				n--;     /* cut by the cap: leave it out */
				break;
			}
		}
		p = e;
	}
	/* pointers only now: the buffer may have moved while growing */
	for (k = 0; k < n; k++)
		v[k] = scratch->data + off[k];
	return n;
}
