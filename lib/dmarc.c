/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dmarc: evaluation, alignment, policy and the A-R text. See dmarc.h.
 *
 * RFC 9989 s.5.3: one Author Domain (s.5.3.1, converted to A-labels by
 * lib/idna, RFC 8616 s.6; identifiers too),
 * policy discovery (s.4.10.1, in dmarc_walk.c), identifier alignment
 * (s.4.4: strict is equality, relaxed is equal Organizational Domains),
 * pass when any aligned identifier passed (s.5.3.5), and the policy: p for
 * the policy domain itself, else np when the Author Domain does not exist
 * (NXDOMAIN, s.3.2.13 and A.4) and sp otherwise, each falling back to p;
 * t=y lowers it one step (s.4.7). In RFC 7489 mode pct= samples instead
 * (RFC 7489 s.6.6.4: a message not sampled gets the next less strict
 * policy).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmarc_int.h"
#include "idna.h"

void
am_dmarc_response_init(struct am_dmarc_response *r)
{
	memset(r, 0, sizeof(*r));
	am_buf_init(&r->why, 512);
}

void
am_dmarc_response_release(struct am_dmarc_response *r)
{
	am_buf_release(&r->why);
}

int
am_dmarc_library_init(void)
{
	return 0;
}

/* Reset the output part of res, keeping its buffer. */
static void
reset(struct am_dmarc_response *res, int mode)
{
	struct am_buf why = res->why;

	memset(res, 0, sizeof(*res));
	res->why = why;
	am_buf_reset(&res->why);
	res->mode = mode;
	res->policy_tag = "";
}

static enum am_dmarc_result
finish(struct am_dmarc_response *res, const struct dmarc_ctx *ctx,
    enum am_dmarc_result r)
{
	res->result = r;
	res->queries = ctx->queries;
	return r;
}

/* Author Domain checks of s.5.3.1; 0 when there is exactly one. */
static int
author(const struct am_dmarc_input *in, struct am_dmarc_response *res)
{
	switch (in->from_status) {
	case AM_FROM_NONE:
		am_buf_setf(&res->why, "no From field");
		return -1;
	case AM_FROM_BAD:
		am_buf_setf(&res->why, "unusable From field");
		return -1;
	case AM_FROM_MULTI_DIFF:
		am_buf_setf(&res->why, "From has several author domains");
		return -1;
	default:
		break;
	}
	if (in->from_domain == NULL || am_idna_to_ascii(in->from_domain,
	    res->from_domain, &res->why) != AM_IDNA_OK ||
	    am_dns_name_check(res->from_domain, &res->why) != 0) {
		char why[128];

		snprintf(why, sizeof(why), "%s", in->from_domain == NULL ?
		    "none" : am_buf_str(&res->why));
		res->from_domain[0] = '\0';
		am_buf_setf(&res->why, "invalid author domain (%s)", why);
		return -1;
	}
	return 0;
}

/* The Author Domain's Organizational Domain, computed once. */
static int
author_org(struct dmarc_ctx *ctx, struct am_dmarc_response *res)
{
	if (res->org_domain[0] != '\0')
		return ORG_OK;
	return dmarc_org(ctx, res->from_domain, res->org_domain);
}

/* An identifier in A-label form (lib/idna: any case, U-labels, one
 * trailing dot); 0 or -1. */
static int
ident_ascii(const char *ident, char *out)
{
	return am_idna_to_ascii(ident, out, NULL) == AM_IDNA_OK ? 0 : -1;
}

/*
 * Does identifier a (A-labels) align with the Author Domain in mode
 * ('r'/'s')? 1 or 0; ORG_TEMPFAIL when a walk failed.
 */
static int
aligned(struct dmarc_ctx *ctx, struct am_dmarc_response *res,
    const char *a, char mode)
{
	char org[AM_DNS_NAME_MAX + 1];
	int r;

	if (strcmp(a, res->from_domain) == 0)
		return 1;
	if (mode == 's')
		return 0;
	if ((r = author_org(ctx, res)) != ORG_OK)
		return r == ORG_TEMPFAIL ? r : 0;
	/* org(a) is a suffix of a: it can only match below the author's */
	if (!dmarc_under(a, res->org_domain))
		return 0;
	if ((r = dmarc_org(ctx, a, org)) != ORG_OK)
		return r == ORG_TEMPFAIL ? r : 0;
	return strcmp(org, res->org_domain) == 0;
}

/*
 * A temporary error for identifier a (A-labels or not) matters when a
 * could align: a retry that passes would pass DMARC. 1 yes, 0 no,
 * ORG_TEMPFAIL when the walk to know failed (that matters too).
 */
static int
temp_matters(struct dmarc_ctx *ctx, struct am_dmarc_response *res,
    const char *ident, char mode, const char *what)
{
	char a[AM_DNS_NAME_MAX + 1];
	int r;

	if (ident_ascii(ident, a) != 0)
		return 0;
	if ((r = aligned(ctx, res, a, mode)) == 0)
		return 0;
	am_buf_setf(&res->why, "%s temperror for aligned domain %s", what, a);
	return r;
}

/*
 * Check SPF and every passing DKIM signature; 1 pass, 0 fail, <0 temp.
 * Nothing aligned passed: an SPF or DKIM temperror for a domain that
 * could align makes the result temperror; for any other domain the fail
 * stands (DESIGN: "temperror exactly when it could have changed the
 * outcome").
 */
static int
alignment(struct dmarc_ctx *ctx, const struct am_dmarc_input *in,
    struct am_dmarc_response *res)
{
	char a[AM_DNS_NAME_MAX + 1];
	int r, temp = 0;
	size_t i;

	if (in->spf == AM_SPF_PASS && ident_ascii(in->spf_domain, a) == 0) {
		r = aligned(ctx, res, a, res->rec.aspf);
		res->spf_aligned = r == 1;
		temp |= r < 0;
	}
	for (i = 0; i < in->ndkim; i++) {
		if (!in->dkim[i].pass || res->dkim_aligned ||
		    ident_ascii(in->dkim[i].domain, a) != 0)
			continue;
		r = aligned(ctx, res, a, res->rec.adkim);
		if (r == 1) {
			res->dkim_aligned = 1;
			memcpy(res->dkim_domain, a, strlen(a) + 1);
		}
		temp |= r < 0;
	}
	if (res->spf_aligned || res->dkim_aligned)
		return 1;
	if (temp)
		return -1;
	if (in->spf == AM_SPF_TEMPERROR &&
	    temp_matters(ctx, res, in->spf_domain, res->rec.aspf, "SPF") != 0)
		return -1;
	for (i = 0; i < in->ndkim; i++)
		if (in->dkim[i].temperror && temp_matters(ctx, res,
		    in->dkim[i].domain, res->rec.adkim, "DKIM") != 0)
			return -1;
	return 0;
}

/* 1 when the Author Domain does not exist (NXDOMAIN), 0, or -1 (temp). */
static int
nonexistent(struct dmarc_ctx *ctx, struct am_dmarc_response *res)
{
	struct am_dns_answer *ans = NULL;
	enum am_dns_status st;

	st = am_dns_query(ctx->dns, res->from_domain, AM_DNS_T_A, &ans,
	    &res->why);
	ctx->queries++;
	am_dns_answer_free(ans);
	if (st == AM_DNS_TEMPFAIL) {
		am_buf_printf(&res->why, " (%s A)", res->from_domain);
		return -1;
	}
	return st == AM_DNS_NXDOMAIN;
}

/* Choose p, sp or np (s.4.10.1); -1 when the existence test failed. */
static int
choose_policy(struct dmarc_ctx *ctx, struct am_dmarc_response *res)
{
	const struct am_dmarc_record *rec = &res->rec;
	enum am_dmarc_policy sub;
	int nx;

	res->policy = rec->p;
	res->policy_tag = "p";
	if (strcmp(res->policy_domain, res->from_domain) == 0)
		return 0;
	sub = rec->sp != AM_DMARC_P_UNSET ? rec->sp : rec->p;
	if (rec->np != AM_DMARC_P_UNSET && rec->np != sub) {
		if ((nx = nonexistent(ctx, res)) < 0)
			return -1;
		if (nx) {
			res->policy = rec->np;
			res->policy_tag = "np";
			return 0;
		}
	}
	if (rec->sp != AM_DMARC_P_UNSET) {
		res->policy = rec->sp;
		res->policy_tag = "sp";
	}
	return 0;
}

/* One step less strict: reject -> quarantine -> none. */
static enum am_dmarc_policy
lower(enum am_dmarc_policy p)
{
	return p == AM_DMARC_P_REJECT ? AM_DMARC_P_QUARANTINE :
	    AM_DMARC_P_NONE;
}

/* The disposition of a failed message: t=y (RFC 9989) or pct (7489). */
static void
dispose(struct am_dmarc_response *res, unsigned sample)
{
	res->disposition = res->policy;
	if (res->policy == AM_DMARC_P_NONE)
		return;
	if (res->mode == AM_DMARC_RFC9989 && res->rec.t == 'y') {
		res->disposition = lower(res->policy);
		res->override = AM_DMARC_OVR_TEST_MODE;
	} else if (res->mode == AM_DMARC_RFC7489 &&
	    sample >= (unsigned)res->rec.pct) {
		res->disposition = lower(res->policy);
		res->override = AM_DMARC_OVR_SAMPLED_OUT;
	}
}

/* No record applies: say why. */
static enum am_dmarc_result
no_record(struct dmarc_ctx *ctx, struct am_dmarc_response *res)
{
	size_t i;

	for (i = 0; i < ctx->n; i++)
		if (ctx->memo[i].several) {
			am_buf_setf(&res->why, "several DMARC records at "
			    "_dmarc.%s", ctx->memo[i].name);
			return finish(res, ctx, AM_DMARC_NONE);
		}
	am_buf_setf(&res->why, "no DMARC record");
	return finish(res, ctx, AM_DMARC_NONE);
}

/* Policy discovery into res; returns a final result, or -1 to go on. */
static int
discover(struct dmarc_ctx *ctx, struct am_dmarc_response *res)
{
	const struct dmarc_lookup *l;
	int r;

	r = dmarc_discover(ctx, res->from_domain, &l, res->policy_domain,
	    res->org_domain);
	if (r == ORG_TEMPFAIL)
		return finish(res, ctx, AM_DMARC_TEMPERROR);
	if (r != ORG_OK || l == NULL)
		return no_record(ctx, res);
	res->have_record = 1;
	res->rec = l->rec;
	if (!res->rec.usable) {
		am_buf_setf(&res->why, "record at _dmarc.%s has no valid p= "
		    "and no valid rua=", res->policy_domain);
		return finish(res, ctx, AM_DMARC_NONE);
	}
	return -1;
}

/* The evaluation proper, once the context is set up. */
static enum am_dmarc_result
eval(struct dmarc_ctx *ctx, const struct am_dmarc_input *in,
    struct am_dmarc_response *res)
{
	int r;

	if (author(in, res) != 0)
		return finish(res, ctx, AM_DMARC_PERMERROR);
	if (ctx->conf->mode == AM_DMARC_RFC7489 && ctx->conf->psl == NULL) {
		am_buf_setf(&res->why, "no public suffix list configured");
		return finish(res, ctx, AM_DMARC_TEMPERROR);
	}
	if ((r = discover(ctx, res)) >= 0)
		return (enum am_dmarc_result)r;
	if ((r = alignment(ctx, in, res)) > 0) {
		am_buf_reset(&res->why);	/* a failed walk did not matter */
		res->disposition = AM_DMARC_P_NONE;
		return finish(res, ctx, AM_DMARC_PASS);
	}
	if (r < 0)
		return finish(res, ctx, AM_DMARC_TEMPERROR);
	am_buf_setf(&res->why, "no aligned identifier passed");
	if (choose_policy(ctx, res) != 0)
		return finish(res, ctx, AM_DMARC_TEMPERROR);
	dispose(res, in->sample);
	return finish(res, ctx, AM_DMARC_FAIL);
}

enum am_dmarc_result
am_dmarc_eval(const struct am_dmarc_conf *conf, struct am_dns *dns,
    const struct am_dmarc_input *in, struct am_dmarc_response *res)
{
	struct dmarc_ctx *ctx;
	enum am_dmarc_result r;

	reset(res, conf->mode);
	/* the memo is large: keep it off small thread stacks */
	if ((ctx = malloc(sizeof(*ctx))) == NULL) {
		am_buf_setf(&res->why, "out of memory");
		res->result = AM_DMARC_TEMPERROR;
		return res->result;
	}
	dmarc_ctx_init(ctx, conf, dns, &res->why);
	r = eval(ctx, in, res);
	free(ctx);
	return r;
}

enum am_dns_status
am_dmarc_org_domain(const struct am_dmarc_conf *conf, struct am_dns *dns,
    const char *domain, char *out, unsigned *queries, struct am_buf *why)
{
	struct dmarc_ctx *ctx;
	char a[AM_DNS_NAME_MAX + 1];
	int r;

	if (am_idna_to_ascii(domain, a, why) != AM_IDNA_OK)
		return AM_DNS_BADNAME;
	/* the memo is large: keep it off small thread stacks */
	if ((ctx = malloc(sizeof(*ctx))) == NULL) {
		am_buf_setf(why, "out of memory");
		return AM_DNS_TEMPFAIL;
	}
	dmarc_ctx_init(ctx, conf, dns, why);
	r = dmarc_org(ctx, a, out);
	*queries += ctx->queries;
	free(ctx);
	return r == ORG_OK ? AM_DNS_OK : AM_DNS_TEMPFAIL;
}

void
am_dmarc_override(struct am_dmarc_response *res, enum am_dmarc_override why,
    enum am_dmarc_policy disposition)
{
	res->override = why;
	res->disposition = disposition;
}
