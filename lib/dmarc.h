/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dmarc: Domain-based Message Authentication, Reporting and Conformance,
 * RFC 9989 (DMARCbis), with an RFC 7489 mode.
 *
 * Entry points:
 *   am_dmarc_record_parse()  one TXT record (RFC 9989 s.4.7, s.4.8)
 *   am_dmarc_org_domain()    the Organizational Domain of a name, by the
 *                            DNS Tree Walk (RFC 9989 s.4.10, s.4.10.2) or
 *                            the public suffix list (RFC 7489 s.3.2)
 *   am_dmarc_eval()          policy discovery (s.4.10.1), identifier
 *                            alignment (s.4.4, s.3.2.10), the result
 *                            (s.5.3.5) and the policy to apply: p, sp, np
 *                            (s.3.2.13, A.4), t (s.4.7), RFC 7489 pct
 *   am_dmarc_override()      the caller's local override of a disposition
 *   am_dmarc_authres()       the RFC 8601 "dmarc=" result text
 *
 * All DNS goes through lib/dns (TXT at _dmarc.<name>, and one A query for
 * the np= existence test). Records are parsed here, not by libopendmarc:
 * libopendmarc 1.4.2 ignores np=, psd= and t=, and (measured) accepts
 * "v=dmarc1" and a v= tag that is not first, rejects a whole record for
 * one bad adkim=/pct= value, and treats a record without p= but with rua=
 * as an error -- each contrary to RFC 9989 s.4.7, s.4.8 and s.4.10.1 (and
 * RFC 7489 s.6.3, s.6.6.3). The test suite keeps libopendmarc as a second
 * opinion on well-formed records.
 *
 * The module keeps no state between calls and no globals: any number of
 * threads may call it at once (the am_dns and am_psl it is given are
 * thread safe).
 */
#ifndef AM_DMARC_H
#define AM_DMARC_H

#include <stddef.h>

#include "buf.h"
#include "dns.h"
#include "from.h"
#include "psl.h"
#include "spf.h"

/* Discovery mode. */
#define AM_DMARC_RFC9989 0   /* DNS Tree Walk; psd, np, t; no pct */
#define AM_DMARC_RFC7489 1   /* _dmarc.FROM then _dmarc.ORG by the PSL;
                                pct; np honoured (RFC 9091) */

#define AM_DMARC_WALK_MAX   8   /* queries in one tree walk (s.4.10) */
#define AM_DMARC_QUERY_MAX  40  /* DNS queries in one evaluation */
#define AM_DMARC_URIS_MAX   1024 /* bytes of rua= or ruf= kept */

enum am_dmarc_result {
	AM_DMARC_NONE,      /* no DMARC record applies (or the record has no
	                       valid p= and no rua=, s.4.10.1): DMARC does
	                       not apply to the message */
	AM_DMARC_PASS,      /* an SPF or DKIM identifier passed and aligns */
	AM_DMARC_FAIL,      /* a record applies and nothing aligned */
	AM_DMARC_TEMPERROR, /* a DNS query needed for the result failed, or
	                       nothing aligned passed while an SPF or DKIM
	                       temperror was for an aligned domain: a retry
	                       may pass (s.5.3.6). A temperror for a domain
	                       that cannot align does not change a fail. */
	AM_DMARC_PERMERROR, /* no single Author Domain: From absent, broken,
	                       several fields or several domains (s.5.3.1) */
};

enum am_dmarc_policy {
	AM_DMARC_P_UNSET,   /* tag absent (or invalid) */
	AM_DMARC_P_NONE,
	AM_DMARC_P_QUARANTINE,
	AM_DMARC_P_REJECT,
};

enum am_dmarc_override {
	AM_DMARC_OVR_NONE,              /* the policy was applied as is */
	AM_DMARC_OVR_SAMPLED_OUT,       /* RFC 7489 pct: not selected */
	AM_DMARC_OVR_TEST_MODE,         /* RFC 9989 t=y lowered it */
	AM_DMARC_OVR_TRUSTED_FORWARDER, /* set by the caller */
	AM_DMARC_OVR_MAILING_LIST,      /* set by the caller */
	AM_DMARC_OVR_LOCAL_POLICY,      /* set by the caller */
};

/* One parsed record. Absent or invalid optional tags have their default. */
struct am_dmarc_record {
	int usable;                /* 0: no valid p= (or a bad sp=/np=) and
	                              no valid rua=: apply no DMARC (s.4.10.1) */
	int p_invalid;             /* p= missing/invalid, sp=/np= invalid,
	                              acted on as p=none since rua= is valid */
	enum am_dmarc_policy p, sp, np;   /* sp, np: UNSET when absent */
	char adkim, aspf;          /* 'r' or 's' */
	char psd;                  /* 'y', 'n' or 'u' */
	char t;                    /* 'y' or 'n' */
	int pct;                   /* 0..100 (RFC 7489 only) */
	int has_rua, has_ruf;      /* a syntactically valid URI is listed */
	/* As published, for reports (RFC 9990): the rua= and ruf= values
	 * (cut after the last whole URI that fits) and fo=; "" when absent. */
	char rua[AM_DMARC_URIS_MAX], ruf[AM_DMARC_URIS_MAX];
	char fo[16];
};

struct am_dmarc_conf {
	int mode;                  /* AM_DMARC_RFC9989 or AM_DMARC_RFC7489 */
	const struct am_psl *psl;  /* required in RFC 7489 mode */
};

struct am_dmarc_dkim {
	int pass;                  /* nonzero: this signature verified */
	const char *domain;        /* its d= (any case) */
	int temperror;             /* nonzero: its check failed for a
	                              temporary reason (key lookup) */
};

struct am_dmarc_input {
	enum am_from_status from_status; /* from am_from_parse*() */
	const char *from_domain;   /* the Author Domain (ONE/MULTI_SAME), or
	                              one of several chosen by the caller */
	enum am_spf_result spf;    /* the MAIL FROM SPF result (temperror
	                              counts when its domain aligns) */
	const char *spf_domain;    /* the domain SPF checked: MAIL FROM's, or
	                              HELO's when MAIL FROM was null; NULL:
	                              none */
	const struct am_dmarc_dkim *dkim; /* every signature's verdict, as the
	                              header reports them (no cap here) */
	size_t ndkim;
	unsigned sample;           /* 0..99, uniformly random: RFC 7489 pct
	                              applies the policy when sample < pct */
};

struct am_dmarc_response {
	enum am_dmarc_result result;
	int mode;
	char from_domain[AM_DNS_NAME_MAX + 1];   /* header.from (A-labels) */
	char policy_domain[AM_DNS_NAME_MAX + 1]; /* where the record was */
	char org_domain[AM_DNS_NAME_MAX + 1];    /* the Author Domain's
	                                            Organizational Domain,
	                                            when it was needed */
	int have_record;
	struct am_dmarc_record rec;
	enum am_dmarc_policy policy;      /* p, sp or np: the one that
	                                     applies to this Author Domain */
	const char *policy_tag;           /* "p", "sp" or "np" */
	enum am_dmarc_policy disposition; /* what to do: NONE on pass; the
	                                     policy lowered by t/pct/override
	                                     on fail; UNSET with no record */
	enum am_dmarc_override override;
	int spf_aligned, dkim_aligned;
	char dkim_domain[AM_DNS_NAME_MAX + 1];   /* the aligned d= */
	unsigned queries;                 /* DNS queries asked */
	struct am_buf why;                /* reason for none/fail/errors */
};

/* Initialise a response (empty why buffer). */
void am_dmarc_response_init(struct am_dmarc_response *r);
/* Free a response's buffer. */
void am_dmarc_response_release(struct am_dmarc_response *r);

/*
 * Kept for the daemon's start-up sequence: nothing to initialise, as
 * libopendmarc is not used at run time (see above). Returns 0.
 */
int am_dmarc_library_init(void);

/*
 * Parse one TXT record of len bytes. Returns 1 when it is a DMARC record
 * (starts with v=DMARC1, s.4.7), filling rec; 0 when it is not one.
 */
int am_dmarc_record_parse(const char *txt, size_t len,
    struct am_dmarc_record *rec);

/*
 * Evaluate DMARC for the input; fills res (init'ed by the caller) and
 * returns res->result. Never fails otherwise: a configuration error (no
 * PSL in RFC 7489 mode) is a temperror with a reason.
 */
enum am_dmarc_result am_dmarc_eval(const struct am_dmarc_conf *conf,
    struct am_dns *dns, const struct am_dmarc_input *in,
    struct am_dmarc_response *res);

/*
 * The Organizational Domain of domain (lower case, A-labels) into out (size
 * AM_DNS_NAME_MAX + 1). Returns AM_DNS_OK, or AM_DNS_TEMPFAIL with why
 * when a tree-walk query failed. *queries is increased by the queries made.
 */
enum am_dns_status am_dmarc_org_domain(const struct am_dmarc_conf *conf,
    struct am_dns *dns, const char *domain, char *out, unsigned *queries,
    struct am_buf *why);

/* Record the caller's override of a failed message's disposition. */
void am_dmarc_override(struct am_dmarc_response *res,
    enum am_dmarc_override why, enum am_dmarc_policy disposition);

/*
 * Append the A-R resinfo for res to out, e.g.
 *   dmarc=fail (p=reject sp=none dis=quarantine) header.from=example.com
 * and, when policy_prop is nonzero, " policy.dmarc=quarantine".
 */
void am_dmarc_authres(const struct am_dmarc_response *res, int policy_prop,
    struct am_buf *out);

/* Names, for logs and A-R text. */
const char *am_dmarc_result_name(enum am_dmarc_result r);
const char *am_dmarc_policy_name(enum am_dmarc_policy p);
const char *am_dmarc_override_name(enum am_dmarc_override o);

#endif
