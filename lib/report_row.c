/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_row: deep, capped copies of struct am_report_row and the RFC 9990
 * Appendix A words for its enums. See report.h.
 *
 * A copy is one struct plus separately allocated strings and arrays; the
 * const pointers of the struct then point at memory the copy owns, which
 * am_report_row_free() releases (casting the const away, as it alone may).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "report.h"

/* Free a string or array a copy owns. */
static void
release(const void *p)
{
	free((void *)(uintptr_t)p);
}

/*
 * A copy of s cut to at most max bytes, never inside a UTF-8 sequence.
 * NULL stays NULL (*err untouched); out of memory sets *err.
 */
static const char *
dup_cap(const char *s, size_t max, int *err)
{
	size_t n;
	char *d;

	if (s == NULL)
		return NULL;
	n = strnlen(s, max + 1);
	if (n > max) {
		n = max;
		/* back off over continuation bytes to a sequence start */
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	if ((d = malloc(n + 1)) == NULL) {
		*err = 1;
		return NULL;
	}
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* Copy a URI list within AM_REPORT_URI_COUNT and AM_REPORT_URI_BYTES. */
static const char *const *
dup_uris(const char *const *v, size_t n, size_t *nout, int *err)
{
	const char **out;
	size_t i, k = 0, bytes = 0, len;

	*nout = 0;
	if (v == NULL || n == 0)
		return NULL;
	if (n > AM_REPORT_URI_COUNT)
		n = AM_REPORT_URI_COUNT;
	if ((out = calloc(n, sizeof(*out))) == NULL) {
		*err = 1;
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (v[i] == NULL)
			continue;
		len = strnlen(v[i], AM_REPORT_URI_BYTES + 1);
		/* a URI that does not fit whole is left out, never cut */
		if (len > AM_REPORT_URI_BYTES - bytes)
			break;
		if ((out[k] = dup_cap(v[i], len, err)) == NULL)
			break;
		bytes += len;
		k++;
	}
	*nout = k;
	return out;
}

/* RFC 9990 s.2.1.2 preference class of a signature: lower comes first. */
static int
dkim_class(const struct am_report_dkim *d, const char *from)
{
	if (d->result != AM_REPORT_DKIM_PASS)
		return 3;
	if (d->aligned && d->domain != NULL && strcasecmp(d->domain, from) == 0)
		return 0;
	return d->aligned ? 1 : 2;
}

/* Copy at most AM_REPORT_DKIM_MAX signatures, preferred ones first. */
static const struct am_report_dkim *
dup_dkim(const struct am_report_row *row, size_t *nout, int *err)
{
	struct am_report_dkim *out;
	const struct am_report_dkim *d;
	size_t i, k = 0, max;
	int cls;

	*nout = 0;
	if (row->dkim == NULL || row->ndkim == 0)
		return NULL;
	max = row->ndkim < AM_REPORT_DKIM_MAX ? row->ndkim : AM_REPORT_DKIM_MAX;
	if ((out = calloc(max, sizeof(*out))) == NULL) {
		*err = 1;
		return NULL;
	}
	for (cls = 0; cls < 4 && k < max; cls++) {
		for (i = 0; i < row->ndkim && k < max; i++) {
			d = &row->dkim[i];
			if (dkim_class(d, row->header_from) != cls)
				continue;
			out[k].domain = dup_cap(d->domain != NULL ? d->domain : "",
			    AM_REPORT_DOMAIN_MAX, err);
			out[k].selector = dup_cap(d->selector != NULL ?
			    d->selector : "", AM_REPORT_SELECTOR_MAX, err);
			out[k].human = dup_cap(d->human, AM_REPORT_REASON_MAX, err);
			out[k].result = d->result;
			out[k].aligned = d->aligned;
			k++;
		}
	}
	*nout = k;
	return out;
}

/* Copy at most AM_REPORT_REASONS_MAX override reasons. */
static const struct am_report_override_reason *
dup_reasons(const struct am_report_row *row, size_t *nout, int *err)
{
	struct am_report_override_reason *out;
	size_t i, n;

	*nout = 0;
	if (row->reasons == NULL || row->nreasons == 0)
		return NULL;
	n = row->nreasons < AM_REPORT_REASONS_MAX ? row->nreasons :
	    AM_REPORT_REASONS_MAX;
	if ((out = calloc(n, sizeof(*out))) == NULL) {
		*err = 1;
		return NULL;
	}
	for (i = 0; i < n; i++) {
		out[i].type = row->reasons[i].type;
		out[i].comment = dup_cap(row->reasons[i].comment,
		    AM_REPORT_REASON_MAX, err);
	}
	*nout = n;
	return out;
}

/* Copy a failure report; the header block is cut at a field boundary. */
static const struct am_report_failure *
dup_failure(const struct am_report_failure *f, int *err)
{
	struct am_report_failure *c;
	const char *h = f->headers != NULL ? f->headers : "";
	size_t n = strnlen(h, AM_REPORT_HEADERS_MAX + 1);

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		*err = 1;
		return NULL;
	}
	if (n > AM_REPORT_HEADERS_MAX) {
		/* back to the end of the last whole field that fits */
		n = AM_REPORT_HEADERS_MAX;
		while (n > 0 && !(h[n - 1] == '\n' && h[n] != ' ' &&
		    h[n] != '\t'))
			n--;
	}
	c->mail_from = dup_cap(f->mail_from != NULL ? f->mail_from : "",
	    AM_REPORT_ADDRESS_MAX, err);
	c->identity_alignment = dup_cap(f->identity_alignment != NULL ?
	    f->identity_alignment : "none", 32, err);
	c->delivery_result = dup_cap(f->delivery_result != NULL ?
	    f->delivery_result : "other", 32, err);
	c->dkim_domain = dup_cap(f->dkim_domain, AM_REPORT_DOMAIN_MAX, err);
	c->dkim_selector = dup_cap(f->dkim_selector, AM_REPORT_SELECTOR_MAX, err);
	c->dkim_identity = dup_cap(f->dkim_identity, AM_REPORT_ADDRESS_MAX, err);
	c->authres = dup_cap(f->authres != NULL ? f->authres : "",
	    AM_REPORT_AUTHRES_MAX, err);
	c->headers = dup_cap(h, n, err);
	return c;
}

static void
failure_free(const struct am_report_failure *f)
{
	if (f == NULL)
		return;
	release(f->mail_from);
	release(f->identity_alignment);
	release(f->delivery_result);
	release(f->dkim_domain);
	release(f->dkim_selector);
	release(f->dkim_identity);
	release(f->authres);
	release(f->headers);
	release(f);
}

struct am_report_row *
am_report_row_strip_failure(struct am_report_row *c)
{
	if (c != NULL) {
		failure_free(c->failure);
		c->failure = NULL;
	}
	return c;
}

struct am_report_row *
am_report_row_copy(const struct am_report_row *row)
{
	struct am_report_row *c;
	int err = 0;

	if (row == NULL || row->source_ip == NULL ||
	    row->policy_domain == NULL || row->header_from == NULL)
		return NULL;
	if ((c = malloc(sizeof(*c))) == NULL)
		return NULL;
	*c = *row;
	c->rua = c->ruf = NULL;
	c->dkim = NULL;
	c->reasons = NULL;
	c->failure = NULL;
	c->source_ip = dup_cap(row->source_ip, AM_REPORT_IP_MAX, &err);
	c->policy_domain = dup_cap(row->policy_domain, AM_REPORT_DOMAIN_MAX, &err);
	c->header_from = dup_cap(row->header_from, AM_REPORT_DOMAIN_MAX, &err);
	c->envelope_from = dup_cap(row->envelope_from, AM_REPORT_DOMAIN_MAX, &err);
	c->envelope_to = dup_cap(row->envelope_to, AM_REPORT_DOMAIN_MAX, &err);
	c->fo = dup_cap(row->fo, AM_REPORT_FO_MAX, &err);
	c->spf_domain = dup_cap(row->spf_domain, AM_REPORT_DOMAIN_MAX, &err);
	c->spf_human = dup_cap(row->spf_human, AM_REPORT_REASON_MAX, &err);
	c->rua = dup_uris(row->rua, row->nrua, &c->nrua, &err);
	c->ruf = dup_uris(row->ruf, row->nruf, &c->nruf, &err);
	c->dkim = dup_dkim(row, &c->ndkim, &err);
	c->reasons = dup_reasons(row, &c->nreasons, &err);
	if (row->failure != NULL)
		c->failure = dup_failure(row->failure, &err);
	if (err || c->source_ip == NULL || c->policy_domain == NULL ||
	    c->header_from == NULL)
		return am_report_row_free(c);
	return c;
}

struct am_report_row *
am_report_row_free(struct am_report_row *c)
{
	size_t i;

	if (c == NULL)
		return NULL;
	release(c->source_ip);
	release(c->policy_domain);
	release(c->header_from);
	release(c->envelope_from);
	release(c->envelope_to);
	release(c->fo);
	release(c->spf_domain);
	release(c->spf_human);
	for (i = 0; c->rua != NULL && i < c->nrua; i++)
		release(c->rua[i]);
	release(c->rua);
	for (i = 0; c->ruf != NULL && i < c->nruf; i++)
		release(c->ruf[i]);
	release(c->ruf);
	for (i = 0; c->dkim != NULL && i < c->ndkim; i++) {
		release(c->dkim[i].domain);
		release(c->dkim[i].selector);
		release(c->dkim[i].human);
	}
	release(c->dkim);
	for (i = 0; c->reasons != NULL && i < c->nreasons; i++)
		release(c->reasons[i].comment);
	release(c->reasons);
	failure_free(c->failure);
	free(c);
	return NULL;
}

/* ---- names ---- */

#define NAME(tab, v) ((unsigned)(v) < sizeof(tab) / sizeof(tab[0]) ? \
	tab[(unsigned)(v)] : tab[0])

const char *
am_report_policy_name(enum am_report_policy p)
{
	static const char *const t[] = { "", "none", "quarantine", "reject" };
	return NAME(t, p);
}

const char *
am_report_disposition_name(enum am_report_disposition d)
{
	static const char *const t[] = { "none", "pass", "quarantine", "reject" };
	return NAME(t, d);
}

const char *
am_report_dmarc_name(enum am_report_dmarc r)
{
	static const char *const t[] = { "fail", "pass" };
	return NAME(t, r);
}

const char *
am_report_override_name(enum am_report_override o)
{
	static const char *const t[] = { "local_policy", "mailing_list",
	    "other", "policy_test_mode", "trusted_forwarder", "sampled_out" };
	return NAME(t, o);
}

const char *
am_report_dkim_result_name(enum am_report_dkim_result r)
{
	static const char *const t[] = { "none", "pass", "fail", "policy",
	    "neutral", "temperror", "permerror" };
	return NAME(t, r);
}

const char *
am_report_spf_result_name(enum am_report_spf_result r)
{
	static const char *const t[] = { "none", "pass", "fail", "softfail",
	    "policy", "neutral", "temperror", "permerror" };
	return NAME(t, r);
}

const char *
am_report_scope_name(enum am_report_spf_scope s)
{
	static const char *const t[] = { "mfrom", "helo" };
	return NAME(t, s);
}

const char *
am_report_discovery_name(enum am_report_discovery d)
{
	static const char *const t[] = { "treewalk", "psl" };
	return NAME(t, d);
}
