/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dmarc_walk: finding DMARC records and Organizational Domains.
 *
 * RFC 9989 s.4.10 DNS Tree Walk: query _dmarc.<name>; then, while no record
 * with psd=y or psd=n has been found, the parent names -- jumping straight
 * to the last seven labels for a name of eight or more, so at most eight
 * queries. At each name, TXT records not starting with v=DMARC1 are
 * discarded and several DMARC records count as none (steps 2 and 6).
 *
 * The Organizational Domain (s.4.10.2) is chosen among the names where the
 * walk found a record, longest first: a psd=n name; else the name one label
 * below a psd=y name (other than the start); else the shortest name with a
 * record; else the start name itself.
 *
 * Policy discovery (s.4.10.1): the Author Domain's record, else its
 * Organizational Domain's, else its Public Suffix Domain's (the psd=y
 * record). Intermediate records between the Author Domain and the
 * Organizational Domain are not used, as the RFC's list of locations says.
 *
 * RFC 7489 mode (s.3.2, s.6.6.3): _dmarc.<author>, then _dmarc.<org> with
 * the org from the public suffix list; a name that is itself a public
 * suffix is its own Organizational Domain.
 *
 * A TEMPFAIL anywhere the walk had to ask is ORG_TEMPFAIL: a record there
 * could have changed the answer. Names too long for "_dmarc." (BADNAME)
 * have no record.
 */
#include <stdio.h>
#include <string.h>

#include "dmarc_int.h"

struct walk {
	const struct dmarc_lookup *found[AM_DMARC_WALK_MAX];
	int labels[AM_DMARC_WALK_MAX];
	size_t n;
};

void
dmarc_ctx_init(struct dmarc_ctx *ctx, const struct am_dmarc_conf *conf,
    struct am_dns *dns, struct am_buf *why)
{
	ctx->conf = conf;
	ctx->dns = dns;
	ctx->why = why;
	ctx->queries = 0;
	ctx->n = 0;
}

int
dmarc_under(const char *d, const char *parent)
{
	size_t dl = strlen(d), pl = strlen(parent);

	if (dl == pl)
		return strcmp(d, parent) == 0;
	return dl > pl && d[dl - pl - 1] == '.' &&
	    strcmp(d + dl - pl, parent) == 0;
}

/* Keep the DMARC records of a TXT answer. */
static void
classify(struct dmarc_lookup *l, const struct am_dns_answer *ans)
{
	struct am_dmarc_record rec;
	size_t i, n = 0;

	for (i = 0; i < ans->count; i++) {
		if (ans->rr[i].type != AM_DNS_T_TXT || ans->rr[i].text == NULL)
			continue;
		if (am_dmarc_record_parse(ans->rr[i].text, ans->rr[i].textlen,
		    &rec) && n++ == 0)
			l->rec = rec;
	}
	l->found = n == 1;
	l->several = n > 1;
}

const struct dmarc_lookup *
dmarc_fetch(struct dmarc_ctx *ctx, const char *domain)
{
	struct am_dns_answer *ans = NULL;
	struct dmarc_lookup *l;
	char qname[AM_DNS_NAME_MAX + 8];
	size_t i;

	for (i = 0; i < ctx->n; i++)
		if (strcmp(ctx->memo[i].name, domain) == 0)
			return &ctx->memo[i];
	if (ctx->n == AM_DMARC_QUERY_MAX || strlen(domain) > AM_DNS_NAME_MAX)
		return NULL;
	l = &ctx->memo[ctx->n++];
	memset(l, 0, sizeof(*l));
	memcpy(l->name, domain, strlen(domain) + 1);
	snprintf(qname, sizeof(qname), "_dmarc.%s", domain);
	l->st = am_dns_query(ctx->dns, qname, AM_DNS_T_TXT, &ans, ctx->why);
	if (l->st != AM_DNS_BADNAME)
		ctx->queries++;
	if (l->st == AM_DNS_TEMPFAIL && ctx->why != NULL)
		am_buf_printf(ctx->why, " (%s TXT)", qname);
	if (l->st == AM_DNS_OK && ans != NULL)
		classify(l, ans);
	am_dns_answer_free(ans);
	return l;
}

static int
count_labels(const char *d)
{
	int n = 1;

	for (; *d != '\0'; d++)
		n += *d == '.';
	return n;
}

/* The suffix of d with k labels (k <= labels of d). */
static const char *
suffix(const char *d, int k)
{
	int skip = count_labels(d) - k;

	while (skip-- > 0)
		d = strchr(d, '.') + 1;
	return d;
}

/* Ask one walk target; 1 to stop, 0 to go on, or ORG_* on failure. */
static int
step(struct dmarc_ctx *ctx, const char *target, struct walk *w)
{
	const struct dmarc_lookup *l = dmarc_fetch(ctx, target);

	if (l == NULL)
		return ORG_CAPPED;
	if (l->st == AM_DNS_TEMPFAIL)
		return ORG_TEMPFAIL;
	if (!l->found)
		return 0;
	w->found[w->n] = l;
	w->labels[w->n++] = count_labels(target);
	return l->rec.psd == 'y' || l->rec.psd == 'n';
}

/* The DNS Tree Walk from start (s.4.10 steps 1-7). */
static int
tree_walk(struct dmarc_ctx *ctx, const char *start, struct walk *w)
{
	int k, x = count_labels(start), r;

	w->n = 0;
	if ((r = step(ctx, start, w)) != 0)
		return r < 0 ? r : ORG_OK;
	for (k = x - 1 < 7 ? x - 1 : 7; k >= 1; k--)
		if ((r = step(ctx, suffix(start, k), w)) != 0)
			return r < 0 ? r : ORG_OK;
	return ORG_OK;
}

/* s.4.10.2 selection; out gets the Organizational Domain. */
static void
select_org(const char *start, const struct walk *w, char *out)
{
	const char *org = start;
	size_t i;

	for (i = 0; i < w->n; i++) {
		const struct dmarc_lookup *l = w->found[i];

		if (l->rec.psd == 'n') {
			org = l->name;
			break;
		}
		if (l->rec.psd == 'y' && strcmp(l->name, start) != 0) {
			org = suffix(start, w->labels[i] + 1);
			break;
		}
		org = l->name;	/* the shortest so far */
	}
	memcpy(out, org, strlen(org) + 1);
}

/* RFC 7489 s.3.2: PSL org domain, or the name itself if it is a suffix. */
static void
psl_org(const struct dmarc_ctx *ctx, const char *domain, char *out)
{
	if (ctx->conf->psl == NULL || am_psl_org_domain(ctx->conf->psl,
	    domain, out, AM_DNS_NAME_MAX + 1) != 0)
		memcpy(out, domain, strlen(domain) + 1);
}

int
dmarc_org(struct dmarc_ctx *ctx, const char *domain, char *out)
{
	struct walk w;
	int r;

	if (ctx->conf->mode == AM_DMARC_RFC7489) {
		psl_org(ctx, domain, out);
		return ORG_OK;
	}
	if ((r = tree_walk(ctx, domain, &w)) != ORG_OK)
		return r;
	select_org(domain, &w, out);
	return ORG_OK;
}

static int
discover_7489(struct dmarc_ctx *ctx, const char *from,
    const struct dmarc_lookup **rec, char *policy_domain, char *org)
{
	const struct dmarc_lookup *l;

	psl_org(ctx, from, org);
	if (strcmp(org, from) == 0)
		return ORG_OK;
	if ((l = dmarc_fetch(ctx, org)) == NULL)
		return ORG_CAPPED;
	if (l->st == AM_DNS_TEMPFAIL)
		return ORG_TEMPFAIL;
	if (l->found) {
		*rec = l;
		memcpy(policy_domain, org, strlen(org) + 1);
	}
	return ORG_OK;
}

/* The walk's record for the Organizational Domain, else the PSD's. */
static const struct dmarc_lookup *
walk_policy(const struct walk *w, const char *org)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (strcmp(w->found[i]->name, org) == 0)
			return w->found[i];
	for (i = 0; i < w->n; i++)
		if (w->found[i]->rec.psd == 'y')
			return w->found[i];
	return NULL;
}

int
dmarc_discover(struct dmarc_ctx *ctx, const char *from,
    const struct dmarc_lookup **rec, char *policy_domain, char *org)
{
	const struct dmarc_lookup *l;
	struct walk w;
	int r;

	*rec = NULL;
	org[0] = policy_domain[0] = '\0';
	if ((l = dmarc_fetch(ctx, from)) == NULL)
		return ORG_CAPPED;
	if (l->st == AM_DNS_TEMPFAIL)
		return ORG_TEMPFAIL;
	if (l->found) {
		*rec = l;
		memcpy(policy_domain, from, strlen(from) + 1);
		return ORG_OK;
	}
	/* RFC 7489 s.6.6.3: several records at the Author Domain leave a set
	 * that is not empty, so step 3 does not look further, and step 5
	 * ends discovery: DMARC does not apply. */
	if (ctx->conf->mode == AM_DMARC_RFC7489 && l->several)
		return ORG_OK;
	if (ctx->conf->mode == AM_DMARC_RFC7489)
		return discover_7489(ctx, from, rec, policy_domain, org);
	if ((r = tree_walk(ctx, from, &w)) != ORG_OK)
		return r;
	select_org(from, &w, org);
	if ((*rec = walk_policy(&w, org)) != NULL)
		memcpy(policy_domain, (*rec)->name, strlen((*rec)->name) + 1);
	return ORG_OK;
}
