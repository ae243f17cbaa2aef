/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_store: the text encoding of list columns and the UTF-8 checks
 * every store and the XML writer share, and what the stores share of a
 * row: its column values for the INSERTs (am_report_enc_row(),
 * am_report_enc_failure()) and the SELECTs' columns back into structs
 * (am_report_dec_*()). The SQL and the driver calls (typed binds, UTF-8
 * cleaning, result handles) stay in each store. See report_store.h.
 * (Opening a store by its ReportStore scheme is report_open.c, so this
 * file links without any database library, e.g. into the fuzz target.)
 */
#include <stdio.h>
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

void
am_report_enc_init(struct am_report_enc *e)
{
	int i;

	memset(e, 0, sizeof(*e));
	for (i = 0; i < 4; i++)
		am_buf_init(&e->list[i], 64 * 1024);
}

void
am_report_enc_release(struct am_report_enc *e)
{
	int i;

	for (i = 0; i < 4; i++)
		am_buf_release(&e->list[i]);
}

int
am_report_enc_row(struct am_report_enc *e, const struct am_report_row *r,
    const char **v, const char *store, struct am_buf *why)
{
	int i;

	for (i = 0; i < 4; i++)
		am_buf_reset(&e->list[i]);
	am_report_enc_uris(&e->list[0], r->rua, r->nrua);
	am_report_enc_uris(&e->list[1], r->ruf, r->nruf);
	am_report_enc_reasons(&e->list[2], r);
	am_report_enc_dkim(&e->list[3], r);
	for (i = 0; i < 4; i++)
		if (e->list[i].truncated) {
			am_buf_setf(why, "%s: encoded list over %zu bytes",
			    store, e->list[i].cap);
			return -1;
		}
	snprintf(e->time, sizeof(e->time), "%lld", (long long)r->time);
	e->adkim[0] = r->adkim;
	e->aspf[0] = r->aspf;
	e->testing[0] = r->testing;
	v[0] = e->time;
	v[1] = r->source_ip;
	v[2] = r->policy_domain;
	v[3] = r->header_from;
	v[4] = r->envelope_from;
	v[5] = r->envelope_to;
	v[6] = am_report_policy_name(r->p);
	v[7] = am_report_policy_name(r->sp);
	v[8] = am_report_policy_name(r->np);
	v[9] = e->adkim;
	v[10] = e->aspf;
	v[11] = e->testing;
	v[12] = r->fo;
	v[13] = am_report_discovery_name(r->discovery);
	v[14] = am_buf_str(&e->list[0]);
	v[15] = am_buf_str(&e->list[1]);
	v[16] = am_report_dmarc_name(r->dmarc);
	v[17] = am_report_dmarc_name(r->dkim_aligned);
	v[18] = am_report_dmarc_name(r->spf_aligned);
	v[19] = am_report_disposition_name(r->disposition);
	v[20] = am_buf_str(&e->list[2]);
	v[21] = am_buf_str(&e->list[3]);
	v[22] = r->spf_domain;
	v[23] = r->spf_domain != NULL ? am_report_scope_name(r->spf_scope) :
	    NULL;
	v[24] = r->spf_domain != NULL ?
	    am_report_spf_result_name(r->spf_result) : NULL;
	v[25] = r->spf_human;
	return 0;
}

void
am_report_enc_failure(struct am_report_enc *e, const struct am_report_row *r,
    const char **v)
{
	const struct am_report_failure *f = r->failure;

	snprintf(e->cap, sizeof(e->cap), "%d", AM_REPORT_FAIL_PENDING);
	v[0] = e->time;
	v[1] = r->source_ip;
	v[2] = r->policy_domain;
	v[3] = r->header_from;
	v[4] = f->mail_from != NULL ? f->mail_from : "";
	v[5] = am_buf_str(&e->list[1]);
	v[6] = r->fo;
	v[7] = f->identity_alignment != NULL ? f->identity_alignment : "none";
	v[8] = f->delivery_result != NULL ? f->delivery_result : "other";
	v[9] = f->dkim_domain;
	v[10] = f->dkim_selector;
	v[11] = f->dkim_identity;
	v[12] = r->spf_domain;
	v[13] = f->authres != NULL ? f->authres : "";
	v[14] = f->headers != NULL ? f->headers : "";
	v[15] = e->cap;
}

void
am_report_dec_published(struct am_report_published *out,
    am_report_col_fn col, void *res)
{
	out->domain = col(res, 0);
	out->p = col(res, 1);
	out->sp = col(res, 2);
	out->np = col(res, 3);
	out->adkim = col(res, 4);
	out->aspf = col(res, 5);
	out->testing = col(res, 6);
	out->discovery = col(res, 7);
	out->fo = col(res, 8);
	out->rua = col(res, 9);
	out->ruf = col(res, 10);
}

void
am_report_dec_group(struct am_report_group *g, am_report_col_fn col,
    void *res)
{
	g->source_ip = col(res, 1);
	g->disposition = col(res, 2);
	g->dkim_aligned = col(res, 3);
	g->spf_aligned = col(res, 4);
	g->reasons = col(res, 5);
	g->header_from = col(res, 6);
	g->envelope_from = col(res, 7);
	g->envelope_to = col(res, 8);
	g->dkim = col(res, 9);
	g->spf_domain = col(res, 10);
	g->spf_scope = col(res, 11);
	g->spf_result = col(res, 12);
	g->spf_human = col(res, 13);
}

void
am_report_dec_failure(struct am_report_failure_entry *out,
    am_report_col_fn col, void *res)
{
	out->source_ip = col(res, 2);
	out->policy_domain = col(res, 3);
	out->header_from = col(res, 4);
	out->mail_from = col(res, 5);
	out->ruf = col(res, 6);
	out->fo = col(res, 7);
	out->identity_alignment = col(res, 8);
	out->delivery_result = col(res, 9);
	out->dkim_domain = col(res, 10);
	out->dkim_selector = col(res, 11);
	out->dkim_identity = col(res, 12);
	out->spf_domain = col(res, 13);
	out->authres = col(res, 14);
	out->headers = col(res, 15);
}
