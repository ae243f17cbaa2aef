/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * policy: results + configuration -> what happens to the message.
 * See policy.h for the order of decisions.
 */
#include <string.h>

#include "msg.h"
#include "policy.h"

void
am_policy_out_init(struct am_policy_out *o)
{
	memset(o, 0, sizeof(*o));
	o->action = AM_ACTION_ACCEPT;
	am_buf_init(&o->text, 512);
	o->reason = "";
}

void
am_policy_out_release(struct am_policy_out *o)
{
	am_buf_release(&o->text);
}

/* The reject text with %d replaced by the domain and %% by %. */
static void
reject_text(struct am_buf *out, const char *tmpl, const char *domain)
{
	const char *p;

	for (p = tmpl; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'd') {
			am_buf_adds(out, domain);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			am_buf_addc(out, '%');
			p++;
		} else
			am_buf_addc(out, (unsigned char)*p);
	}
}

static void
set_reply(struct am_policy_out *o, int action, const char *rcode,
    const char *xcode, const char *reason)
{
	o->action = action;
	o->rcode = rcode;
	o->xcode = xcode;
	o->reason = reason;
}

int
am_policy_may_override(const struct am_dmarc_response *d)
{
	return d->result == AM_DMARC_FAIL && (d->disposition ==
	    AM_DMARC_P_REJECT || d->disposition == AM_DMARC_P_QUARANTINE);
}

/* The override that applies to a failing message, if any; *note says
 * what caused a local_policy one. */
static enum am_dmarc_override
override_reason(const struct am_policy_in *in, const struct am_dmarc_response *d,
    const char **note)
{
	const struct am_config *c = in->conf;

	*note = "";
	if (am_hostlist_match(&c->dmarc_trusted_forwarders, in->client, in->helo))
		return AM_DMARC_OVR_TRUSTED_FORWARDER;
	if (in->arc_vouched)
		return AM_DMARC_OVR_MAILING_LIST;
	if (am_strlist_has(&c->dmarc_ignore_domains, d->from_domain) ||
	    (d->org_domain[0] != '\0' &&
	    am_strlist_has(&c->dmarc_ignore_domains, d->org_domain))) {
		*note = "DMARCIgnoreDomains";
		return AM_DMARC_OVR_LOCAL_POLICY;
	}
	if (in->rcpts_ignored) {
		*note = "IgnoreRecipients";
		return AM_DMARC_OVR_LOCAL_POLICY;
	}
	if (!c->dmarc_enforce) {
		*note = "monitor mode";
		return AM_DMARC_OVR_LOCAL_POLICY;
	}
	return AM_DMARC_OVR_NONE;
}

const char *
am_policy_override(const struct am_policy_in *in, struct am_dmarc_response *d)
{
	enum am_dmarc_override ovr;
	const char *note = "";

	if (!in->dmarc_done || !am_policy_may_override(d))
		return "";
	if ((ovr = override_reason(in, d, &note)) != AM_DMARC_OVR_NONE)
		am_dmarc_override(d, ovr, AM_DMARC_P_NONE);
	return note;
}

/* The reason an overridden failure was let through, for the log. */
static const char *
override_log(const struct am_policy_in *in, const struct am_dmarc_response *d)
{
	if (d->override == AM_DMARC_OVR_LOCAL_POLICY && !in->conf->dmarc_enforce)
		return "monitor mode (DMARCEnforce no)";
	if (d->override == AM_DMARC_OVR_LOCAL_POLICY && in->rcpts_ignored)
		return "local_policy (IgnoreRecipients)";
	return am_dmarc_override_name(d->override);
}

/* Rule 4 of policy.h: a failing message. */
static void
decide_fail(const struct am_policy_in *in, const struct am_dmarc_response *d,
    struct am_policy_out *o)
{
	if (d->disposition == AM_DMARC_P_QUARANTINE && in->conf->dmarc_enforce) {
		set_reply(o, AM_ACTION_QUARANTINE, NULL, NULL, "dmarc quarantine");
		am_buf_printf(&o->text, "DMARC policy of %s: quarantine", d->from_domain);
		return;
	}
	if (d->disposition == AM_DMARC_P_REJECT && in->conf->dmarc_enforce) {
		set_reply(o, AM_ACTION_REJECT, "550", "5.7.1", "dmarc reject");
		reject_text(&o->text, in->conf->dmarc_reject_text, d->from_domain);
		return;
	}
	if (d->override != AM_DMARC_OVR_NONE && d->override !=
	    AM_DMARC_OVR_TEST_MODE && d->override != AM_DMARC_OVR_SAMPLED_OUT)
		o->reason = override_log(in, d);
}

/* Rule 1 of policy.h: over our own header limits. */
static void
decide_limits(const struct am_policy_in *in, struct am_policy_out *o)
{
	if (strcmp(in->limit_exceeded, "out of memory") == 0) {
		/* Our failure, not the sender's: never deliver unjudged. */
		set_reply(o, AM_ACTION_TEMPFAIL, "451", "4.3.0", "out of memory");
		am_buf_adds(&o->text, "Temporary local problem; try again later");
		return;
	}
	if (!in->conf->dmarc_enforce) {
		o->reason = "header limits exceeded (DMARCEnforce no)";
		return;
	}
	set_reply(o, AM_ACTION_REJECT, "552", "5.3.4", "header limits exceeded");
	am_buf_printf(&o->text, "Message header exceeds local limits (%s)",
	    in->limit_exceeded);
}

void
am_policy_decide(const struct am_policy_in *in, const struct am_dmarc_response *d,
    struct am_policy_out *o)
{
	const struct am_config *c = in->conf;
	int ambiguous;

	if (!in->dmarc_done || d == NULL)
		return;
	if (in->limit_exceeded != NULL) {
		decide_limits(in, o);
		return;
	}
	ambiguous = in->from_status == AM_FROM_MULTI_DIFF ||
	    in->from_status == AM_FROM_BAD || in->from_status == AM_FROM_NONE;
	if (ambiguous && c->dmarc_reject_multi_from) {
		if (!c->dmarc_enforce) {
			o->reason = "no single author domain (DMARCEnforce no)";
			return;
		}
		set_reply(o, AM_ACTION_REJECT, "550", "5.7.1", "no single author domain");
		am_buf_adds(&o->text, in->from_status == AM_FROM_NONE ?
		    "Message rejected: it has no From header field" :
		    "Message rejected: the From header field must name exactly one author domain");
		return;
	}
	if (d->result == AM_DMARC_TEMPERROR) {
		if (c->tempfail_on_dns_error && c->dmarc_enforce) {
			set_reply(o, AM_ACTION_TEMPFAIL, "451", "4.7.1", "dns temperror");
			am_buf_printf(&o->text, "Temporary DNS failure evaluating DMARC for %s; "
			    "try again later", d->from_domain);
			return;
		}
		o->reason = "dmarc temperror";
		return;
	}
	if (d->result == AM_DMARC_FAIL)
		decide_fail(in, d, o);
}
