/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * policy: results + configuration -> what happens to the message.
 *
 * Input: the DMARC response (with its disposition after t= and pct), the
 * From status, whether SPF or DKIM had a temporary error, the client's
 * address and HELO name. Output: the action, the SMTP reply for reject and
 * tempfail, and the local override (if any) recorded in the DMARC response
 * with its RFC 7489 reason, so that the A-R header and the log show it.
 *
 * Order of decisions:
 *   1. DMARCEnforce no: never reject, quarantine or tempfail (monitor);
 *      a failure's disposition is reported as none, reason local_policy.
 *   2. From missing or ambiguous (several From fields, or one with
 *      addresses in different domains): reject when DMARCRejectMultiFrom.
 *   3. temperror, or a fail that a temporary SPF/DKIM error may have
 *      caused: tempfail (451 4.7.1) when TempFailOnDNSError, else accept.
 *   4. fail with disposition reject/quarantine: overridden to none for a
 *      client in DMARCTrustedForwarders (trusted_forwarder) or a From (or
 *      organizational) domain in DMARCIgnoreDomains (local_policy);
 *      otherwise reject (550 5.7.1 DMARCRejectText) or quarantine.
 */
#ifndef AM_POLICY_H
#define AM_POLICY_H

#include "config.h"
#include "dmarc.h"
#include "net.h"

struct am_policy_in {
	const struct am_config *conf;
	const struct am_addr *client;  /* NULL when unknown */
	const char *helo;              /* may be NULL */
	enum am_from_status from_status;
	int dmarc_done;                /* DMARC was evaluated */
	int spf_temperror;             /* the MAIL FROM SPF result */
	int dkim_temperror;            /* a signature had a temperror */
};

struct am_policy_out {
	int action;                    /* enum am_action of msg.h */
	const char *rcode, *xcode;     /* static strings; NULL for accept */
	struct am_buf text;            /* SMTP reply text */
	const char *reason;            /* short reason for the log */
};

/* Initialise / release an output. */
void am_policy_out_init(struct am_policy_out *o);
void am_policy_out_release(struct am_policy_out *o);

/* Decide; may record an override in dmarc (when dmarc_done). */
void am_policy_decide(const struct am_policy_in *in,
    struct am_dmarc_response *dmarc, struct am_policy_out *out);

#endif
