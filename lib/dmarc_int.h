/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dmarc_int: what dmarc.c and dmarc_walk.c share; not a public interface.
 *
 * One struct dmarc_ctx lives on the stack for one evaluation. It remembers
 * every _dmarc lookup made, so the Author Domain's walk and the walks for
 * SPF and DKIM identifiers ask each name once, and it caps the queries of
 * the evaluation at AM_DMARC_QUERY_MAX.
 */
#ifndef AM_DMARC_INT_H
#define AM_DMARC_INT_H

#include "dmarc.h"

struct dmarc_lookup {
	char name[AM_DNS_NAME_MAX + 1];  /* the domain (without _dmarc.) */
	enum am_dns_status st;           /* TEMPFAIL, or OK/NODATA/... */
	int found;                       /* exactly one DMARC record */
	int several;                     /* several: all discarded */
	struct am_dmarc_record rec;
};

struct dmarc_ctx {
	const struct am_dmarc_conf *conf;
	struct am_dns *dns;
	struct am_buf *why;              /* reason of the last failure */
	unsigned queries;
	size_t n;
	struct dmarc_lookup memo[AM_DMARC_QUERY_MAX];
};

/* Results of dmarc_org(). */
#define ORG_OK       0
#define ORG_TEMPFAIL (-1)   /* a needed query failed */
#define ORG_CAPPED   (-2)   /* the evaluation's query cap was reached */

/* Set up ctx for one evaluation. */
void dmarc_ctx_init(struct dmarc_ctx *ctx, const struct am_dmarc_conf *conf,
    struct am_dns *dns, struct am_buf *why);

/* The _dmarc lookup of domain (memoised); NULL when capped. */
const struct dmarc_lookup *dmarc_fetch(struct dmarc_ctx *ctx,
    const char *domain);

/* The Organizational Domain of domain into out (AM_DNS_NAME_MAX + 1). */
int dmarc_org(struct dmarc_ctx *ctx, const char *domain, char *out);

/*
 * Policy discovery for the Author Domain from (s.4.10.1, or RFC 7489
 * s.6.6.3): ORG_OK with *rec NULL when no record applies; ORG_TEMPFAIL on a
 * DNS failure. On a record, policy_domain is where it was found, and org
 * (when the walk computed it, else "") the Author Domain's Organizational
 * Domain.
 */
int dmarc_discover(struct dmarc_ctx *ctx, const char *from,
    const struct dmarc_lookup **rec, char *policy_domain, char *org);

/* 1 when d equals parent or is below it (both lower case). */
int dmarc_under(const char *d, const char *parent);

#endif
