/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * spf_eval: check_host() of RFC 7208 s.4 and the modifiers of s.6.
 *
 *   s.4.3    an initial <domain> that is malformed or single-label: none
 *   s.4.4    TXT lookup; a DNS failure is temperror, no answer is none
 *   s.4.5    record selection: "v=spf1" then SP or end (case-insensitive);
 *            none -> none, more than one -> permerror
 *   s.4.6    the record is parsed whole before evaluation
 *   s.4.6.4  10 DNS-querying terms (include, a, mx, ptr, exists, redirect)
 *            over the whole evaluation: includes do not restart the count
 *   s.4.7    no match and no redirect: neutral
 *   s.6.1    redirect after all mechanisms; no record there: permerror,
 *            and so is a target that is no name (RFC 8616 s.4: %{s} or
 *            %{l} of a non-ASCII local part, or an invalid IDN)
 *   s.6.2    exp on fail only, never from an included record; DNS errors,
 *            no or several TXT records, or a bad explain-string give the
 *            default explanation
 *
 * Prefetch: once a record is parsed, the lookups its terms will need are
 * hinted to the DNS layer (am_dns_prefetch), which may start them at once
 * on other threads; evaluation then goes strictly left to right as s.4.6
 * says and finds them answered or in flight. Hints are not lookups of
 * s.4.6.4: only what the evaluation asks is counted, as without them, and
 * their results are what the evaluation's own query would get (the
 * message layer remembers each name once). A target whose domain-spec
 * uses %{p} is not hinted (its value needs lookups of its own), nor more
 * than SPF_MAX_PREFETCH per record.
 *
 * Earlier still (am_spf_prefetch_answer): a record a hint brought, before
 * the evaluation reaches it, has its macro-free targets hinted the same
 * way, called by the message's DNS layer as the answer arrives; so each
 * level of an include chain is asked one round trip after its parent's
 * answer, not when the evaluation gets there.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "spf_int.h"

/* Hints per record: the term limit's worth. */
#define SPF_MAX_PREFETCH SPF_MAX_DNS_TERMS

/* Deeper than the term limit allows; a guard only. */
#define MAX_DEPTH (SPF_MAX_DNS_TERMS + 2)

static enum am_spf_result
verdict(struct spf_ctx *c, enum am_spf_result res, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum am_spf_result
verdict(struct spf_ctx *c, enum am_spf_result res, const char *fmt, ...)
{
	va_list ap;

	if (c->r != NULL) {
		am_buf_reset(&c->r->reason);
		va_start(ap, fmt);
		(void)am_buf_vprintf(&c->r->reason, fmt, ap);
		va_end(ap);
	}
	return res;
}

/* s.4.3: a fully qualified, multi-label name of visible ASCII whose last
 * label is a toplabel. */
static int
domain_ok(const char *d)
{
	size_t n = strlen(d), i, dot;

	if (am_dns_name_check(d, NULL) != 0)
		return 0;
	if (n > 0 && d[n - 1] == '.')
		n--;
	for (i = 0; i < n; i++)
		if ((unsigned char)d[i] <= 0x20 || (unsigned char)d[i] > 0x7e)
			return 0;
	for (dot = n; dot > 0 && d[dot - 1] != '.'; dot--)
		;
	return dot > 0 && spf_toplabel_ok(d + dot, n - dot);
}

static int
is_spf1(const struct am_dns_rr *rr)
{
	return rr->type == AM_DNS_T_TXT && rr->textlen >= 6 &&
	    strncasecmp(rr->text, "v=spf1", 6) == 0 &&
	    (rr->textlen == 6 || rr->text[6] == ' ');
}

/* s.4.4, s.4.5: the one SPF record of domain into *rec (in *ans). */
static enum am_spf_result
record_lookup(struct spf_ctx *c, const char *domain,
    struct am_dns_answer **ans, const struct am_dns_rr **rec)
{
	struct am_buf why = AM_BUF_INIT(256);
	enum am_dns_status st;
	enum am_spf_result res = AM_SPF_NEUTRAL;
	size_t i, n = 0;

	st = spf_query(c, domain, AM_DNS_T_TXT, ans, &why);
	if (st == AM_DNS_TEMPFAIL)
		res = verdict(c, AM_SPF_TEMPERROR, "DNS error looking up "
		    "TXT of %s (%s)", domain, am_buf_str(&why));
	else if (st == AM_DNS_BADNAME)
		res = verdict(c, AM_SPF_NONE, "invalid domain '%s' (%s)",
		    domain, am_buf_str(&why));
	for (i = 0; st == AM_DNS_OK && i < (*ans)->count; i++)
		if (is_spf1(&(*ans)->rr[i])) {
			*rec = &(*ans)->rr[i];
			n++;
		}
	if (res == AM_SPF_NEUTRAL && n == 0)
		res = verdict(c, AM_SPF_NONE, "no SPF record at %s", domain);
	else if (n > 1)
		res = verdict(c, AM_SPF_PERMERROR, "%zu SPF records at %s", n,
		    domain);
	am_buf_release(&why);
	return res;
}

/* The explanation for a fail of rec at domain (s.6.2) into r->explanation. */
static void
explain(struct spf_ctx *c, const struct spf_record *rec, const char *domain)
{
	struct am_buf name = AM_BUF_INIT(AM_SPF_EXPAND_MAX);
	struct am_buf why = AM_BUF_INIT(256);
	struct am_dns_answer *ans = NULL;
	struct am_buf *out = &c->r->explanation;
	const char *d = c->req->default_exp;
	int done = 0;

	if (rec->exp.n > 0 && spf_target_expand(c, rec->exp.p, rec->exp.n,
	    domain, &name, &why) == SPF_TGT_OK &&
	    am_dns_query_until(c->dns, am_buf_str(&name), AM_DNS_T_TXT,
	    c->deadline, &ans, &why) == AM_DNS_OK && ans->count == 1 &&
	    ans->rr[0].type == AM_DNS_T_TXT)
		done = spf_macro_expand(c, ans->rr[0].text, ans->rr[0].textlen,
		    domain, SPF_MX_EXPLAIN, out, &why) == 0;
	if (!done && d != NULL && spf_macro_expand(c, d, strlen(d), domain,
	    SPF_MX_EXPLAIN, out, &why) != 0) {
		am_buf_reset(out);
		(void)am_buf_adds(out, d);
	} else if (!done && d == NULL)
		am_buf_reset(out);
	am_dns_answer_free(ans);
	am_buf_release(&name);
	am_buf_release(&why);
}

static int
dns_term(enum spf_mech m)
{
	return m == SPF_M_INCLUDE || m == SPF_M_A || m == SPF_M_MX ||
	    m == SPF_M_PTR || m == SPF_M_EXISTS;
}

static enum am_spf_result
term_limit(struct spf_ctx *c, const struct spf_str *t)
{
	return verdict(c, AM_SPF_PERMERROR, "DNS lookup limit exceeded at "
	    "'%.*s' (more than %d terms)", t->n > 64 ? 64 : (int)t->n, t->p,
	    SPF_MAX_DNS_TERMS);
}

/* s.6.1: no mechanism matched and rec has a redirect. */
static enum am_spf_result
redirect(struct spf_ctx *c, const struct spf_record *rec, const char *domain,
    int depth, int in_include)
{
	struct am_buf target = AM_BUF_INIT(AM_SPF_EXPAND_MAX);
	struct am_buf why = AM_BUF_INIT(256);
	const struct spf_str *t = &rec->redirect;
	enum am_spf_result res;

	if (++c->terms > SPF_MAX_DNS_TERMS)
		res = term_limit(c, t);
	else if (spf_target_expand(c, t->p, t->n, domain, &target, &why) !=
	    SPF_TGT_OK)
		res = verdict(c, AM_SPF_PERMERROR, "redirect=%.*s: %s",
		    (int)t->n, t->p, am_buf_str(&why));
	else if ((res = spf_check_host(c, am_buf_str(&target), depth + 1,
	    in_include)) == AM_SPF_NONE)
		res = verdict(c, AM_SPF_PERMERROR, "redirect=%s: no SPF record",
		    am_buf_str(&target));
	am_buf_release(&target);
	am_buf_release(&why);
	return res;
}

/* 1 when the domain-spec uses %{p} (either case): not known in advance. */
static int
uses_p(const struct spf_str *s)
{
	size_t i;

	for (i = 0; i + 2 < s->n; i++)
		if (s->p[i] == '%' && s->p[i + 1] == '{' &&
		    (s->p[i + 2] == 'p' || s->p[i + 2] == 'P'))
			return 1;
	return 0;
}

/* Hint the lookup of a term's target (spec, or domain when empty); with
 * literal, only a spec without macros (no evaluation state at hand). */
static void
hint(struct spf_ctx *c, const struct spf_str *spec, const char *domain,
    int type, int follow, unsigned *n, int literal)
{
	struct am_buf name = AM_BUF_INIT(AM_SPF_EXPAND_MAX);
	struct am_buf why = AM_BUF_INIT(256);
	const char *target = domain;

	if (*n >= SPF_MAX_PREFETCH || (literal && spec->n > 0 &&
	    memchr(spec->p, '%', spec->n) != NULL))
		return;
	if (spec->n > 0)
		target = !uses_p(spec) && spf_target_expand(c, spec->p,
		    spec->n, domain, &name, &why) == SPF_TGT_OK ?
		    am_buf_str(&name) : NULL;
	if (target != NULL) {
		am_dns_prefetch(c->dns, target, type, follow);
		(*n)++;
	}
	am_buf_release(&name);
	am_buf_release(&why);
}

/*
 * Hint the lookups rec's terms will need: TXT of include and redirect
 * targets, the client's address family of a (and of mx exchanges, ptr
 * names), MX, A of exists, and the client's PTR.
 */
static void
prefetch(struct spf_ctx *c, const struct spf_record *rec, const char *domain,
    int literal)
{
	int at = c->req->ip.family == AF_INET6 ? AM_DNS_T_AAAA : AM_DNS_T_A;
	const struct spf_term *t;
	char rev[80];
	unsigned n = 0;
	size_t i;

	for (i = 0; i < rec->nterms; i++) {
		t = &rec->terms[i];
		switch (t->mech) {
		case SPF_M_INCLUDE:
			hint(c, &t->spec, domain, AM_DNS_T_TXT, 0, &n, literal);
			break;
		case SPF_M_A:
			hint(c, &t->spec, domain, at, 0, &n, literal);
			break;
		case SPF_M_MX:
			hint(c, &t->spec, domain, AM_DNS_T_MX, at, &n,
			    literal);
			break;
		case SPF_M_EXISTS:
			hint(c, &t->spec, domain, AM_DNS_T_A, 0, &n, literal);
			break;
		case SPF_M_PTR:
			if (c->ptr_done || n >= SPF_MAX_PREFETCH)
				break;
			spf_rev_name(&c->req->ip, rev, sizeof(rev), 0);
			am_dns_prefetch(c->dns, rev, AM_DNS_T_PTR, at);
			n++;
			break;
		default:
			break;
		}
	}
	if (rec->redirect.n > 0)
		hint(c, &rec->redirect, domain, AM_DNS_T_TXT, 0, &n,
		    literal);
}

/* Evaluate a parsed record for domain (s.4.6, s.4.7). */
static enum am_spf_result
evaluate(struct spf_ctx *c, const struct spf_record *rec, const char *domain,
    int depth, int in_include)
{
	const struct spf_term *t;
	size_t i;

	for (i = 0; i < rec->nterms; i++) {
		t = &rec->terms[i];
		if (dns_term(t->mech) && ++c->terms > SPF_MAX_DNS_TERMS)
			return term_limit(c, &t->text);
		switch (spf_mech_eval(c, t, domain, depth)) {
		case SPF_NOMATCH:
			continue;
		case SPF_ETEMP:
			return AM_SPF_TEMPERROR;
		case SPF_EPERM:
			return AM_SPF_PERMERROR;
		case SPF_MATCH:
			break;
		}
		verdict(c, t->qual, "matched %.*s", t->text.n > 64 ? 64 :
		    (int)t->text.n, t->text.p);
		if (t->qual == AM_SPF_FAIL && !in_include && c->r != NULL)
			explain(c, rec, domain);
		return t->qual;
	}
	if (rec->redirect.n > 0)
		return redirect(c, rec, domain, depth, in_include);
	return verdict(c, AM_SPF_NEUTRAL, "no mechanism matched");
}

enum am_spf_result
spf_check_host(struct spf_ctx *c, const char *domain, int depth,
    int in_include)
{
	struct am_buf why = AM_BUF_INIT(256);
	struct am_dns_answer *ans = NULL;
	const struct am_dns_rr *rr = NULL;
	struct spf_record rec;
	enum am_spf_result res;

	if (depth == 0 && !domain_ok(domain))
		return verdict(c, AM_SPF_NONE, "invalid domain '%.*s'", 64,
		    domain);
	if (depth > MAX_DEPTH)
		return verdict(c, AM_SPF_PERMERROR, "nested too deeply");
	res = record_lookup(c, domain, &ans, &rr);
	if (res == AM_SPF_NEUTRAL) {
		if (spf_record_parse(rr->text, rr->textlen, &rec, &why) != 0)
			res = verdict(c, AM_SPF_PERMERROR, "%s",
			    am_buf_str(&why));
		else {
			if (c->dns != NULL)
				prefetch(c, &rec, domain, 0);
			res = evaluate(c, &rec, domain, depth, in_include);
			spf_record_clear(&rec);
		}
	}
	am_dns_answer_free(ans);
	am_buf_release(&why);
	return res;
}

void
am_spf_prefetch_answer(struct am_dns *dns, const struct am_addr *ip,
    const char *domain, const struct am_dns_answer *a)
{
	struct am_spf_request req;
	struct spf_record rec;
	struct spf_ctx c;
	struct am_buf why = AM_BUF_INIT(256);
	const struct am_dns_rr *rr = NULL;
	size_t i, n = 0;
	int bad;

	if (dns == NULL || ip == NULL || a == NULL || a->type != AM_DNS_T_TXT ||
	    a->status != AM_DNS_OK || !domain_ok(domain))
		return;
	for (i = 0; i < a->count; i++)
		if (is_spf1(&a->rr[i])) {
			rr = &a->rr[i];
			n++;
		}
	/* s.4.5: none, or several (permerror), leads nowhere */
	if (n != 1)
		return;
	bad = spf_record_parse(rr->text, rr->textlen, &rec, &why);
	am_buf_release(&why);
	if (bad)
		return;
	/* no sender, no HELO: a target that needs them is left out */
	memset(&req, 0, sizeof(req));
	req.ip = *ip;
	memset(&c, 0, sizeof(c));
	c.dns = dns;
	c.req = &req;
	prefetch(&c, &rec, domain, 1);
	spf_record_clear(&rec);
}
