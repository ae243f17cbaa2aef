/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_store: opening a store by its ReportStore scheme, and the text
 * encoding of list columns. See report_store.h.
 */
#include <stdlib.h>
#include <string.h>

#include "report_store.h"

struct am_report_store *
am_report_store_open(const char *spec, struct am_buf *why)
{
	if (spec == NULL || *spec == '\0') {
		am_buf_setf(why, "no ReportStore given");
		return NULL;
	}
	if (strncmp(spec, "sqlite:", 7) == 0)
		return am_report_sqlite_open(spec + 7, why);
	if (strncmp(spec, "postgresql://", 13) == 0 ||
	    strncmp(spec, "postgres://", 11) == 0)
		return am_report_pgsql_open(spec, why);
	am_buf_setf(why, "\"%s\": unknown store (want sqlite:/path or "
	    "postgresql://...)", spec);
	return NULL;
}

struct am_report_store *
am_report_store_close(struct am_report_store *s)
{
	if (s == NULL)
		return NULL;
	s->ops->close(s->state);
	free(s);
	return NULL;
}

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

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
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
		} else if (*p == '%' && (hi = hexval(p[1])) >= 0 &&
		    (lo = hexval(p[2])) >= 0) {
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

/* The reporter's sink over a whole store, which it then owns. */
static int
owned_insert(void *state, struct am_report_row *const *rows, size_t n,
    struct am_buf *why)
{
	struct am_report_store *s = state;

	return s->ops->insert(s->state, rows, n, why);
}

static void
owned_close(void *state)
{
	am_report_store_close(state);
}

static const struct am_report_sink owned_sink = {
	"ReportStore", owned_insert, owned_close
};

struct am_reporter *
am_reporter_open(const char *spec, const struct am_reporter_opts *o,
    struct am_buf *why)
{
	struct am_report_store *s;
	struct am_reporter *r;

	if ((s = am_report_store_open(spec, why)) == NULL)
		return NULL;
	if ((r = am_reporter_new(&owned_sink, s, o, why)) == NULL)
		am_report_store_close(s);
	return r;
}
