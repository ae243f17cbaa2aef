/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * policy: results + configuration -> overrides, then what happens to the
 * message.
 *
 * Two steps, called in this order by the engine:
 *
 * am_policy_override() -- the one writer of a DMARC override. A message
 * that fails DMARC with disposition reject or quarantine gets disposition
 * none, with the first reason that applies (RFC 9990 PolicyOverrideType):
 *   trusted_forwarder  the client is in DMARCTrustedForwarders;
 *   mailing_list       a trusted ARC sealer vouches for the From domain
 *                      (ARCTrustedSealers, found by the caller);
 *   local_policy       the From (or organizational) domain is in
 *                      DMARCIgnoreDomains; or every recipient is in
 *                      IgnoreRecipients (postmaster@, abuse@: RFC 9989
 *                      asks that reports of abuse reach them; only when
 *                      all are, or a spammer would add postmaster to
 *                      escape the reject for everyone else); or monitor
 *                      mode (DMARCEnforce no), which reports what was
 *                      done: none.
 * (The evaluator itself records t=y as policy_test_mode and RFC 7489 pct
 * as sampled_out.)
 *
 * am_policy_decide() -- a pure function of the results and the
 * configuration; the first rule that applies:
 *   1. A header cap (MaxHeaders, MaxHeaderBytes) was hit and DMARC is on:
 *      the message cannot be judged; with DMARCEnforce yes it is refused
 *      with 552 5.3.4 (RFC 3463: message too big for system), a permanent
 *      answer that is true -- a tempfail would only be retried into the
 *      same limit, and accepting it would let any sender escape its
 *      domain's p=reject by adding header fields.
 *   2. From missing or ambiguous (no From, several From fields, one with
 *      addresses in different domains, or unparsable): DMARC has no single
 *      Author Domain (permerror); rejected with 550 5.7.1 when
 *      DMARCRejectMultiFrom and DMARCEnforce.
 *   3. DMARC temperror -- the evaluator's result when a DNS failure could
 *      have changed the outcome (the record lookup, or an SPF or DKIM
 *      temperror for a domain that aligns with the From domain): 451 4.7.1
 *      when TempFailOnDNSError and DMARCEnforce, else accepted with the
 *      temperror in the header. A temperror that could not have changed
 *      the outcome never reaches here: the evaluator's fail stands.
 *   4. DMARC fail with disposition reject: 550 5.7.1 DMARCRejectText;
 *      quarantine: the MTA's quarantine.
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
	const char *limit_exceeded;    /* the header cap hit, or NULL */
	int arc_vouched;               /* a trusted ARC sealer vouches */
	int rcpts_ignored;             /* every recipient is ignored */
};

struct am_policy_out {
	int action;                    /* enum am_action of msg.h */
	const char *rcode, *xcode;     /* static strings; NULL for accept */
	struct am_buf text;            /* SMTP reply text */
	const char *reason;            /* short reason for the log, "" */
};

/* Initialise / release an output. */
void am_policy_out_init(struct am_policy_out *o);
void am_policy_out_release(struct am_policy_out *o);

/* 1 when dmarc is a failure an override could lower. */
int am_policy_may_override(const struct am_dmarc_response *dmarc);

/*
 * The override step: records the override (if any) in dmarc; returns a
 * short note on a local_policy override's cause ("IgnoreRecipients",
 * "DMARCIgnoreDomains", "monitor mode") or "".
 */
const char *am_policy_override(const struct am_policy_in *in,
    struct am_dmarc_response *dmarc);

/* The decision; dmarc is NULL when DMARC was not evaluated. */
void am_policy_decide(const struct am_policy_in *in,
    const struct am_dmarc_response *dmarc, struct am_policy_out *out);

#endif
