/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dns_answer: DNS replies and records into struct am_dns_answer, for the
 * resolver (dns_ldns.c) and the zone back end (dns_zone.c). See
 * dns_priv.h.
 *
 * Entry points: am_dns_answer_from_pkt() (a reply that matched its query),
 * am_dns_rr_from_ldns() and am_dns_rdf_name() (one record, one name).
 *
 * Answers (RFC 1034 s.3.6.2, RFC 2308): CNAMEs are followed inside the
 * answer section and only records owned by the end of the chain count, so
 * unrelated records a server adds are ignored. NXDOMAIN comes from the
 * RCODE; NOERROR without records is NODATA; their TTL is the SOA's in the
 * authority section, min(SOA TTL, SOA MINIMUM) (RFC 2308 s.5), else 300.
 * Any other RCODE or a timeout is TEMPFAIL. The message size bounds the
 * record count (see AM_DNS_MAX_RRS); TXT data is capped at AM_DNS_MAX_TEXT.
 *
 * Thread safety: pure functions of their arguments.
 */
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "dns_priv.h"

#define CHAIN_MAX 16

/* ---- record conversion (shared with dns_zone.c) ---- */

char *
am_dns_rdf_name(const ldns_rdf *d)
{
	const uint8_t *w;
	size_t n, i, len, o;
	char *s;

	if (d == NULL || ldns_rdf_get_type(d) != LDNS_RDF_TYPE_DNAME)
		return NULL;
	w = ldns_rdf_data(d);
	n = ldns_rdf_size(d);
	if ((s = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0, o = 0; i < n && w[i] != 0; i += len + 1) {
		len = w[i];
		if (i + 1 + len > n || memchr(w + i + 1, '.', len) != NULL ||
		    memchr(w + i + 1, '\0', len) != NULL) {
			free(s);
			return NULL;
		}
		if (o > 0)
			s[o++] = '.';
		memcpy(s + o, w + i + 1, len);
		o += len;
	}
	s[o] = '\0';
	for (i = 0; i < o; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] += 32;
	return s;
}

/* Concatenate the character-strings of a TXT record (RFC 7208 s.3.3). */
static int
txt_from_ldns(struct am_dns_rr *out, const ldns_rr *rr, size_t *budget)
{
	size_t i, total, n;
	const ldns_rdf *f;

	total = 0;
	for (i = 0; i < ldns_rr_rd_count(rr); i++)
		total += ldns_rdf_size(ldns_rr_rdf(rr, i));
	if (total > *budget)
		return -2;
	if ((out->text = malloc(total + 1)) == NULL)
		return -2;
	out->textlen = 0;
	for (i = 0; i < ldns_rr_rd_count(rr); i++) {
		f = ldns_rr_rdf(rr, i);
		/* an LDNS_RDF_TYPE_STR is its length octet plus the data */
		if (ldns_rdf_size(f) < 1)
			continue;
		n = ldns_rdf_data(f)[0];
		if (n > ldns_rdf_size(f) - 1)
			n = ldns_rdf_size(f) - 1;
		memcpy(out->text + out->textlen, ldns_rdf_data(f) + 1, n);
		out->textlen += n;
	}
	out->text[out->textlen] = '\0';
	*budget -= total;
	return 0;
}

/* Copy an A/AAAA address; -1 if the rdata has the wrong size. */
static int
addr_from_ldns(struct am_dns_rr *out, const ldns_rr *rr, size_t len)
{
	const ldns_rdf *f = ldns_rr_rdf(rr, 0);

	if (f == NULL || ldns_rdf_size(f) != len)
		return -1;
	memcpy(out->addr, ldns_rdf_data(f), len);
	return 0;
}

/* The name in rdata field i as literal text. */
static int
name_from_ldns(struct am_dns_rr *out, const ldns_rr *rr, size_t i)
{
	if (ldns_rr_rd_count(rr) <= i)
		return -1;
	if ((out->text = am_dns_rdf_name(ldns_rr_rdf(rr, i))) == NULL)
		return -1;
	out->textlen = strlen(out->text);
	return 0;
}

int
am_dns_rr_from_ldns(struct am_dns_rr *out, const ldns_rr *rr, size_t *budget)
{
	const ldns_rdf *f;

	memset(out, 0, sizeof(*out));
	out->type = (int)ldns_rr_get_type(rr);
	out->ttl = ldns_rr_ttl(rr);
	switch (out->type) {
	case AM_DNS_T_A:
		return addr_from_ldns(out, rr, 4);
	case AM_DNS_T_AAAA:
		return addr_from_ldns(out, rr, 16);
	case AM_DNS_T_TXT:
		return txt_from_ldns(out, rr, budget);
	case AM_DNS_T_MX:
		f = ldns_rr_rdf(rr, 0);
		if (f == NULL || ldns_rdf_size(f) != 2)
			return -1;
		out->pref = ldns_rdf2native_int16(f);
		return name_from_ldns(out, rr, 1);
	case AM_DNS_T_PTR:
	case AM_DNS_T_CNAME:
	case LDNS_RR_TYPE_NS:
		return name_from_ldns(out, rr, 0);
	}
	return 0;
}

/* ---- answers from packets ---- */

/* The CNAME owned by name in the answer section, or NULL. */
static const ldns_rr *
cname_of(const ldns_rr_list *an, const ldns_rdf *name)
{
	const ldns_rr *rr;
	size_t i;

	for (i = 0; i < ldns_rr_list_rr_count(an); i++) {
		rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME &&
		    ldns_rr_rd_count(rr) == 1 &&
		    ldns_dname_compare(ldns_rr_owner(rr), name) == 0)
			return rr;
	}
	return NULL;
}

/* Follow CNAMEs from qname inside the answer section; NULL on a loop. */
static const ldns_rdf *
chain_end(const ldns_rr_list *an, const ldns_rdf *qname, int type,
    uint32_t *ttl)
{
	const ldns_rdf *cur = qname;
	const ldns_rr *rr;
	size_t hops;

	if (type == AM_DNS_T_CNAME)
		return cur;
	for (hops = 0; hops <= CHAIN_MAX; hops++) {
		if ((rr = cname_of(an, cur)) == NULL)
			return cur;
		if (ldns_rr_ttl(rr) < *ttl)
			*ttl = ldns_rr_ttl(rr);
		cur = ldns_rr_rdf(rr, 0);
	}
	return NULL;
}

/* 1 if rr is a record of type at owner. */
static int
wanted(const ldns_rr *rr, const ldns_rdf *owner, int type)
{
	return (int)ldns_rr_get_type(rr) == type &&
	    ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
	    ldns_dname_compare(ldns_rr_owner(rr), owner) == 0;
}

/* Negative TTL from the SOA in the authority section (RFC 2308 s.5). */
static uint32_t
neg_ttl(const ldns_pkt *p)
{
	const ldns_rr_list *ns = ldns_pkt_authority(p);
	const ldns_rr *rr;
	uint32_t ttl, min;
	size_t i;

	for (i = 0; i < ldns_rr_list_rr_count(ns); i++) {
		rr = ldns_rr_list_rr(ns, i);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA ||
		    ldns_rr_rd_count(rr) < 7)
			continue;
		ttl = ldns_rr_ttl(rr);
		min = ldns_rdf2native_int32(ldns_rr_rdf(rr, 6));
		return ttl < min ? ttl : min;
	}
	return AM_DNS_NEG_TTL_DEFAULT;
}

/* An NXDOMAIN or NODATA answer. */
static enum am_dns_status
negative(enum am_dns_status st, const ldns_pkt *p, int type, uint32_t ttl,
    struct am_dns_answer **ans)
{
	uint32_t n = neg_ttl(p);

	if ((*ans = am_dns_answer_new(st, type, 0)) == NULL)
		return AM_DNS_TEMPFAIL;
	(*ans)->ttl = n < ttl ? n : ttl;
	return st;
}

/* Copy the wanted records of a NOERROR reply into a new answer. */
static enum am_dns_status
positive(const ldns_pkt *p, const ldns_rdf *owner, int type, uint32_t ttl,
    struct am_dns_answer **ans, struct am_buf *why)
{
	const ldns_rr_list *an = ldns_pkt_answer(p);
	size_t i, n, budget = AM_DNS_MAX_TEXT;
	struct am_dns_answer *a;
	int r;

	for (i = 0, n = 0; i < ldns_rr_list_rr_count(an); i++)
		n += wanted(ldns_rr_list_rr(an, i), owner, type);
	if (n == 0)
		return negative(AM_DNS_NODATA, p, type, ttl, ans);
	if (n > AM_DNS_MAX_RRS) {
		/* cannot come from a real message; a guard */
		am_buf_setf(why, "DNS answer too large (%zu records)", n);
		return AM_DNS_TEMPFAIL;
	}
	if ((a = am_dns_answer_new(AM_DNS_OK, type, n)) == NULL)
		return AM_DNS_TEMPFAIL;
	for (i = 0, n = 0; i < ldns_rr_list_rr_count(an); i++) {
		if (!wanted(ldns_rr_list_rr(an, i), owner, type))
			continue;
		r = am_dns_rr_from_ldns(&a->rr[n], ldns_rr_list_rr(an, i),
		    &budget);
		if (r == -2) {
			a->count = n + 1;
			am_dns_answer_free(a);
			am_buf_setf(why, "DNS answer too large (TXT data)");
			return AM_DNS_TEMPFAIL;
		}
		if (r == 0 && a->rr[n].ttl < ttl)
			ttl = a->rr[n].ttl;
		n += (r == 0);
	}
	a->count = n;
	a->ttl = ttl;
	if (n == 0) {
		am_dns_answer_free(a);
		return negative(AM_DNS_NODATA, p, type, ttl, ans);
	}
	*ans = a;
	return AM_DNS_OK;
}

/* Turn a matching reply into a status and answer. */
enum am_dns_status
am_dns_answer_from_pkt(const ldns_pkt *p, const ldns_rdf *qname, int type,
    const char *from, struct am_dns_answer **ans, struct am_buf *why)
{
	const ldns_rdf *end;
	ldns_lookup_table *rc;
	uint32_t ttl = UINT32_MAX;

	if (ldns_pkt_tc(p)) {
		/* only if TCP too gave a truncated reply: do not trust it */
		am_buf_setf(why, "truncated answer from %s", from);
		return AM_DNS_TEMPFAIL;
	}
	if ((end = chain_end(ldns_pkt_answer(p), qname, type, &ttl)) == NULL) {
		am_buf_setf(why, "CNAME chain too long from %s", from);
		return AM_DNS_TEMPFAIL;
	}
	switch (ldns_pkt_get_rcode(p)) {
	case LDNS_RCODE_NOERROR:
		return positive(p, end, type, ttl, ans, why);
	case LDNS_RCODE_NXDOMAIN:
		return negative(AM_DNS_NXDOMAIN, p, type, ttl, ans);
	default:
		rc = ldns_lookup_by_id(ldns_rcodes, ldns_pkt_get_rcode(p));
		if (rc != NULL)
			am_buf_setf(why, "%s from %s", rc->name, from);
		else
			am_buf_setf(why, "RCODE %d from %s",
			    (int)ldns_pkt_get_rcode(p), from);
		return AM_DNS_TEMPFAIL;
	}
}
