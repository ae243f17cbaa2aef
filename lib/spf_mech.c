/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * spf_mech: the mechanisms of RFC 7208 s.5.
 *
 *   all, ip4, ip6   no DNS (s.5.1, s.5.6); an IPv4 client (IPv4-mapped
 *                   ones included, struct am_addr stores them as IPv4)
 *                   never matches ip6 (s.5)
 *   a, mx           A or AAAA by the client's family, dual CIDR (s.5.3,
 *                   s.5.4); more than 10 MX names is a permerror (s.4.6.4)
 *   ptr             the validated names of the client (s.5.5): the first
 *                   10 PTR names whose A/AAAA include the client; DNS
 *                   errors make no match
 *   exists          an A lookup whatever the client's family (s.5.7)
 *   include         the recursive check_host() and the s.5.2 table
 *
 * Void lookups (NXDOMAIN, or an answer with no records) of a, mx, ptr and
 * exists count against the limit of 2 (s.4.6.4); address lookups of MX
 * and PTR names do not. A DNS failure is temperror (s.5: "the mechanism
 * stops and the topmost check_host() returns temperror"), except in ptr.
 * A target name that cannot be queried (label over 63 octets, empty label:
 * AM_DNS_BADNAME) matches nothing, by analogy with s.4.3 (the suite allows
 * fail or permerror there). A target with non-ASCII bytes is converted to
 * A-labels, or is a permerror when it cannot be; a term using %{s} or %{l}
 * of a non-ASCII local part matches nothing (RFC 8616 s.4).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "spf_int.h"

#define WHY_MAX 256

static enum spf_match
mech_error(struct spf_ctx *c, const struct spf_term *t, enum spf_match m,
    const char *what)
{
	int n = t->text.n > 64 ? 64 : (int)t->text.n;
	char detail[WHY_MAX];

	/* what may be the reason buffer's own text. */
	snprintf(detail, sizeof(detail), "%s", what);
	if (c->r != NULL)
		am_buf_setf(&c->r->reason, "%.*s: %s", n, t->text.p, detail);
	return m;
}

static enum spf_match
void_lookup(struct spf_ctx *c, const struct spf_term *t)
{
	if (++c->voids > SPF_MAX_VOID)
		return mech_error(c, t, SPF_EPERM, "void lookup limit exceeded");
	return SPF_NOMATCH;
}

static enum spf_match
dns_failed(struct spf_ctx *c, const struct spf_term *t, struct am_buf *why)
{
	char msg[WHY_MAX];

	snprintf(msg, sizeof(msg), "temperror (%s)", am_buf_str(why));
	return mech_error(c, t, SPF_ETEMP, msg);
}

static int
addr_type(const struct spf_ctx *c)
{
	return c->req->ip.family == AF_INET6 ? AM_DNS_T_AAAA : AM_DNS_T_A;
}

/* 1 when an address of ans lies in the client's network of length prefix. */
static int
addrs_match(const struct spf_ctx *c, const struct am_dns_answer *ans,
    int prefix)
{
	struct am_addr a;
	size_t i;

	memset(&a, 0, sizeof(a));
	for (i = 0; i < ans->count; i++) {
		if (ans->rr[i].type != ans->type)
			continue;
		a.family = ans->type == AM_DNS_T_AAAA ? AF_INET6 : AF_INET;
		memcpy(a.b, ans->rr[i].addr, a.family == AF_INET6 ? 16 : 4);
		if (am_addr_match(&a, &c->req->ip, prefix))
			return 1;
	}
	return 0;
}

static int
prefix_of(const struct spf_ctx *c, const struct spf_term *t)
{
	return c->req->ip.family == AF_INET6 ? t->cidr6 : t->cidr4;
}

/* The lookup every DNS mechanism starts with. OK: *ans is set. */
static enum spf_match
first_query(struct spf_ctx *c, const struct spf_term *t, const char *name,
    int type, struct am_dns_answer **ans)
{
	struct am_buf why = AM_BUF_INIT(WHY_MAX);
	enum am_dns_status st;
	enum spf_match m = SPF_MATCH;

	st = am_dns_query(c->dns, name, type, ans, &why);
	if (st == AM_DNS_OK && (*ans)->count == 0)
		st = AM_DNS_NODATA;
	switch (st) {
	case AM_DNS_OK:
		break;
	case AM_DNS_NODATA:
	case AM_DNS_NXDOMAIN:
		m = void_lookup(c, t);
		break;
	case AM_DNS_BADNAME:
		m = SPF_NOMATCH;
		break;
	case AM_DNS_TEMPFAIL:
		m = dns_failed(c, t, &why);
		break;
	}
	if (m != SPF_MATCH)
		*ans = am_dns_answer_free(*ans);
	am_buf_release(&why);
	return m;
}

static enum spf_match
mech_a(struct spf_ctx *c, const struct spf_term *t, const char *target)
{
	struct am_dns_answer *ans;
	enum spf_match m;

	if ((m = first_query(c, t, target, addr_type(c), &ans)) != SPF_MATCH)
		return m;
	m = addrs_match(c, ans, prefix_of(c, t)) ? SPF_MATCH : SPF_NOMATCH;
	am_dns_answer_free(ans);
	return m;
}

/* One exchange of an MX answer. */
static enum spf_match
mx_host(struct spf_ctx *c, const struct spf_term *t, const char *host)
{
	struct am_buf why = AM_BUF_INIT(WHY_MAX);
	struct am_dns_answer *ans;
	enum am_dns_status st;
	enum spf_match m = SPF_NOMATCH;

	st = am_dns_query(c->dns, host, addr_type(c), &ans, &why);
	if (st == AM_DNS_TEMPFAIL)
		m = dns_failed(c, t, &why);
	else if (st == AM_DNS_OK && addrs_match(c, ans, prefix_of(c, t)))
		m = SPF_MATCH;
	am_dns_answer_free(ans);
	am_buf_release(&why);
	return m;
}

static enum spf_match
mech_mx(struct spf_ctx *c, const struct spf_term *t, const char *target)
{
	struct am_dns_answer *ans;
	enum spf_match m;
	size_t i, n = 0;

	if ((m = first_query(c, t, target, AM_DNS_T_MX, &ans)) != SPF_MATCH)
		return m;
	for (i = 0; i < ans->count; i++)
		n += ans->rr[i].type == AM_DNS_T_MX;
	if (n > SPF_MAX_MX) {
		am_dns_answer_free(ans);
		return mech_error(c, t, SPF_EPERM, "more than 10 MX records");
	}
	m = SPF_NOMATCH;
	for (i = 0; i < ans->count && m == SPF_NOMATCH; i++)
		if (ans->rr[i].type == AM_DNS_T_MX && ans->rr[i].text != NULL)
			m = mx_host(c, t, ans->rr[i].text);
	am_dns_answer_free(ans);
	return m;
}

static enum spf_match
mech_ptr(struct spf_ctx *c, const struct spf_term *t, const char *target)
{
	size_t i;

	spf_ptr_validate(c);
	if (c->ptr_status == AM_DNS_NXDOMAIN || c->ptr_status == AM_DNS_NODATA)
		return void_lookup(c, t);
	for (i = 0; i < c->nvalid; i++)
		if (spf_name_under(c->valid[i], target))
			return SPF_MATCH;
	return SPF_NOMATCH;
}

static enum spf_match
mech_exists(struct spf_ctx *c, const struct spf_term *t, const char *target)
{
	struct am_dns_answer *ans;
	enum spf_match m;

	if ((m = first_query(c, t, target, AM_DNS_T_A, &ans)) != SPF_MATCH)
		return m;
	am_dns_answer_free(ans);
	return SPF_MATCH;
}

/* include: s.5.2's table of the recursive result. */
static enum spf_match
mech_include(struct spf_ctx *c, const struct spf_term *t, const char *target,
    int depth)
{
	switch (spf_check_host(c, target, depth + 1, 1)) {
	case AM_SPF_PASS:
		return SPF_MATCH;
	case AM_SPF_FAIL:
	case AM_SPF_SOFTFAIL:
	case AM_SPF_NEUTRAL:
		return SPF_NOMATCH;
	case AM_SPF_TEMPERROR:
		return mech_error(c, t, SPF_ETEMP, c->r != NULL ?
		    am_buf_str(&c->r->reason) : "temperror");
	case AM_SPF_NONE:
		return mech_error(c, t, SPF_EPERM, "no SPF record");
	case AM_SPF_PERMERROR:
		break;
	}
	return mech_error(c, t, SPF_EPERM, c->r != NULL ?
	    am_buf_str(&c->r->reason) : "permerror");
}

enum spf_match
spf_mech_eval(struct spf_ctx *c, const struct spf_term *t, const char *domain,
    int depth)
{
	struct am_buf target = AM_BUF_INIT(AM_SPF_EXPAND_MAX);
	struct am_buf why = AM_BUF_INIT(WHY_MAX);
	enum spf_match m = SPF_NOMATCH;
	const char *name = domain;
	int skip = 0;

	if (t->mech == SPF_M_ALL)
		return SPF_MATCH;
	if (t->mech == SPF_M_IP4 || t->mech == SPF_M_IP6)
		return am_addr_match(&t->net, &c->req->ip, t->prefix) ?
		    SPF_MATCH : SPF_NOMATCH;
	if (t->spec.n > 0) {
		switch (spf_target_expand(c, t->spec.p, t->spec.n, domain,
		    &target, &why)) {
		case SPF_TGT_OK:
			break;
		case SPF_TGT_LOCAL:
			skip = 1;	/* matches nothing, no lookup */
			break;
		case SPF_TGT_BAD:
			m = mech_error(c, t, SPF_EPERM, am_buf_str(&why));
			break;
		}
		name = am_buf_str(&target);
	}
	if (m == SPF_NOMATCH && !skip) {
		switch (t->mech) {
		case SPF_M_A: m = mech_a(c, t, name); break;
		case SPF_M_MX: m = mech_mx(c, t, name); break;
		case SPF_M_PTR: m = mech_ptr(c, t, name); break;
		case SPF_M_EXISTS: m = mech_exists(c, t, name); break;
		case SPF_M_INCLUDE: m = mech_include(c, t, name, depth); break;
		default: break;
		}
	}
	am_buf_release(&target);
	am_buf_release(&why);
	return m;
}
