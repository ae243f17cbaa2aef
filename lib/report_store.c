/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_store: the text encoding of list columns and the UTF-8 checks
 * every store and the XML writer share. See report_store.h. (Opening a
 * store by its ReportStore scheme is report_open.c, so this file links
 * without any database library, e.g. into the fuzz target.)
 */
#include <stdlib.h>
#include <string.h>

#include "report_store.h"

void
am_report_enc_field(struct am_buf *out, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '%')
			am_buf_adds(out, "%25");
		else if (*s == '\t')
			am_buf_adds(out, "%09");
		else if (*s == '\n')
			am_buf_adds(out, "%0A");
		else
			am_buf_addc(out, *s);
	}
}

void
am_report_enc_dkim(struct am_buf *out, const struct am_report_row *r)
{
	size_t i;

	for (i = 0; i < r->ndkim; i++) {
		am_report_enc_field(out, r->dkim[i].domain);
		am_buf_addc(out, '\t');
		am_report_enc_field(out, r->dkim[i].selector);
		am_buf_addc(out, '\t');
		am_buf_adds(out, am_report_dkim_result_name(r->dkim[i].result));
		am_buf_addc(out, '\t');
		am_report_enc_field(out, r->dkim[i].human);
		am_buf_addc(out, '\n');
	}
}

void
am_report_enc_reasons(struct am_buf *out, const struct am_report_row *r)
{
	size_t i;

	for (i = 0; i < r->nreasons; i++) {
		am_buf_adds(out, am_report_override_name(r->reasons[i].type));
		am_buf_addc(out, '\t');
		am_report_enc_field(out, r->reasons[i].comment);
		am_buf_addc(out, '\n');
	}
}

void
am_report_enc_uris(struct am_buf *out, const char *const *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		am_report_enc_field(out, v[i]);
		am_buf_addc(out, '\n');
	}
}

size_t
am_report_utf8_seq(const unsigned char *p, unsigned *cp)
{
	unsigned c = p[0], n, i, min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF)
		n = 2, min = 0x80, c &= 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, min = 0x800, c &= 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, min = 0x10000, c &= 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return n;
}

const char *
am_report_utf8_clean(const char *s, struct am_buf *tmp)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned cp;
	size_t n;

	for (; *p != '\0'; p += n)
		if ((n = am_report_utf8_seq(p, &cp)) == 0)
			break;
	if (*p == '\0')
		return s;
	am_buf_reset(tmp);
	am_buf_add(tmp, s, (size_t)((const char *)p - s));
	while (*p != '\0') {
		if ((n = am_report_utf8_seq(p, &cp)) == 0) {
			am_buf_adds(tmp, "\xEF\xBF\xBD");
			p++;
		} else {
			am_buf_add(tmp, p, n);
			p += n;
		}
	}
	return am_buf_str(tmp);
}

size_t
am_report_dec_item(const char **pos, struct am_buf *scratch,
    const char **f, size_t max)
{
	const char *p = *pos, *d;
	size_t n = 0;
	int hi, lo;

	if (p == NULL || *p == '\0' || max == 0)
		return 0;
	am_buf_reset(scratch);
	for (; *p != '\0' && *p != '\n'; p++) {
		if (*p == '\t') {
			am_buf_add(scratch, "", 1);
		} else if (*p == '%' && (hi = am_buf_hexval(p[1])) >= 0 &&
		    (lo = am_buf_hexval(p[2])) >= 0) {
			am_buf_addc(scratch, hi * 16 + lo);
			p += 2;
		} else {
			am_buf_addc(scratch, *p);
		}
	}
	*pos = *p == '\n' ? p + 1 : p;
	/* fields are NUL separated in scratch now; point at each */
	am_buf_add(scratch, "", 0);
	d = am_buf_str(scratch);
	while (n < max) {
		f[n++] = d;
		d += strlen(d);
		if (d >= am_buf_str(scratch) + scratch->len)
			break;
		d++;
	}
	return n;
}
