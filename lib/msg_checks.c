/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * msg_checks: the SPF, DKIM and DMARC steps of am_msg_finish(), the
 * override step and the decision. The checks fill the verdict record and
 * nothing else; the override step is the only writer of the DMARC
 * override; the decision is policy.c's pure function. The header and the
 * log line are written afterwards from the record (msg_verdict.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idna.h"
#include "msg_int.h"

/* The SPF request for this message. */
static void
spf_request(const struct am_msg *m, struct am_spf_request *req)
{
	memset(req, 0, sizeof(*req));
	req->ip = m->addr;
	req->helo = m->helo;
	req->sender = m->mail_from;
	req->receiver = m->receiver;
	req->default_exp = NULL;
	req->now = 0;
}

/* 1 when SPF is to be evaluated for this message. */
int
am_msg_spf_wanted(const struct am_msg *m)
{
	return m->e->conf->spf_mode != AM_SPFMODE_OFF && m->have_addr &&
	    m->v.skip_reason == NULL;
}

/* The SPF lookups (a job): the identities SPFMode asks for. */
void
am_msg_spf_job(void *arg)
{
	struct am_msg *m = arg;
	struct am_spf_request req;
	int null_sender = m->mail_from[0] == '\0';

	spf_request(m, &req);
	am_spf_mailfrom(m->e->dns, &req, &m->v.spf_mailfrom);
	m->v.spf_mailfrom_done = 1;
	if (m->e->conf->spf_mode == AM_SPFMODE_HELO_MAILFROM && !null_sender &&
	    m->helo != NULL && m->helo[0] != '\0') {
		am_spf_helo(m->e->dns, &req, &m->v.spf_helo);
		m->v.spf_helo_done = 1;
	}
}

/* The SPF results (after the job has run). */
void
am_msg_run_spf(struct am_msg *m)
{
	if (m->e->conf->spf_mode == AM_SPFMODE_OFF)
		return;
	if (!m->have_addr) {
		m->v.spf_none_reason = "no client IP address";
		return;
	}
	if (m->spf_async)
		am_jobs_wait(m->e->jobs, &m->spf_job);
	else if (am_msg_spf_wanted(m))
		am_msg_spf_job(m);
}

/* Verify the message's DKIM signatures. */
void
am_msg_run_dkim(struct am_msg *m)
{
	if (m->dkim == NULL || m->hdr_overflow)
		return;
	if (!m->headers_done)
		am_msg_end_headers(m);
	am_msg_wait_early(m);
	am_dkim_finish(m->dkim);
	m->v.dkim = m->dkim;
}

/*
 * The DKIM verdicts as DMARC wants them: every signature, as the header
 * reports them (v has room for am_dkim_count()).
 */
static size_t
dmarc_dkim_input(const struct am_msg *m, struct am_dmarc_dkim *v)
{
	size_t i, n = m->v.dkim != NULL ? am_dkim_count(m->v.dkim) : 0;

	for (i = 0; i < n; i++) {
		const struct am_dkim_sig *s = am_dkim_sig(m->v.dkim, i);
		v[i].pass = s->result == AM_DKIM_PASS;
		v[i].temperror = s->result == AM_DKIM_TEMPERROR;
		v[i].domain = s->domain;
	}
	return n;
}

/* Evaluate DMARC for the message's From domain. */
void
am_msg_run_dmarc(struct am_msg *m)
{
	struct am_dmarc_dkim *dk = NULL;
	struct am_dmarc_input in;
	size_t n;

	if (m->e->conf->dmarc_mode == AM_DMARCMODE_OFF)
		return;
	memset(&in, 0, sizeof(in));
	am_msg_wait_early(m);
	am_msg_parse_from(m);
	if (m->hdr_overflow) {
		/* The From field may be among the fields not kept. */
		m->dmarc.result = AM_DMARC_PERMERROR;
		am_buf_setf(&m->dmarc.why, "header limits exceeded: %s",
		    m->v.limit_exceeded);
		m->dmarc_done = 1;
		m->v.dmarc = &m->dmarc;
		return;
	}
	in.from_status = m->from.status;
	if (in.from_status == AM_FROM_ONE || in.from_status == AM_FROM_MULTI_SAME)
		in.from_domain = m->from.domain[0];
	in.spf = AM_SPF_NONE;
	if (m->v.spf_mailfrom_done) {
		in.spf = m->v.spf_mailfrom.result;
		in.spf_domain = m->v.spf_mailfrom.domain;
	}
	n = m->v.dkim != NULL ? am_dkim_count(m->v.dkim) : 0;
	if (n > 0 && (dk = calloc(n, sizeof(*dk))) == NULL)
		n = 0;
	in.ndkim = n > 0 ? dmarc_dkim_input(m, dk) : 0;
	in.dkim = dk;
	in.sample = arc4random_uniform(100);
	am_dmarc_eval(&m->e->dmarc, m->e->dns, &in, &m->dmarc);
	if (dk == NULL && m->v.dkim != NULL && am_dkim_count(m->v.dkim) > 0) {
		m->dmarc.result = AM_DMARC_TEMPERROR;
		am_buf_setf(&m->dmarc.why, "out of memory");
	}
	if (m->dmarc.why.len == 0 && m->from_why.len > 0)
		am_buf_setf(&m->dmarc.why, "%s", am_buf_str(&m->from_why));
	else if (in.from_status == AM_FROM_BAD && m->from_why.len > 0)
		am_buf_printf(&m->dmarc.why, ": %s", am_buf_str(&m->from_why));
	free(dk);
	m->dmarc_done = 1;
	m->v.dmarc = &m->dmarc;
}

/* The policy's view of the message. */
static void
policy_in(const struct am_msg *m, struct am_policy_in *in)
{
	memset(in, 0, sizeof(*in));
	in->conf = m->e->conf;
	in->client = m->have_addr ? &m->addr : NULL;
	in->helo = m->helo;
	in->from_status = m->dmarc_done ? m->from.status : AM_FROM_ONE;
	in->dmarc_done = m->dmarc_done;
	in->limit_exceeded = m->v.limit_exceeded;
	in->rcpts_ignored = m->v.rcpts_ignored;
}

/*
 * The override step: a trusted forwarder, a trusted ARC sealer that vouches
 * for the From domain, an ignored domain, or monitor mode lowers the
 * disposition of a failing message (RFC 9990 PolicyOverrideType).
 */
void
am_msg_apply_overrides(struct am_msg *m)
{
	struct am_policy_in in;
	const char *note;

	if (!m->dmarc_done)
		return;
	policy_in(m, &in);
	if (am_policy_may_override(&m->dmarc))
		in.arc_vouched = am_msg_arc_vouches(m, &m->override_note);
	note = am_policy_override(&in, &m->dmarc);
	if (m->dmarc.override != AM_DMARC_OVR_MAILING_LIST)
		am_buf_reset(&m->override_note);
	/* IgnoreRecipients is said in the header: the mailbox owner sees why */
	if (strcmp(note, "IgnoreRecipients") == 0)
		am_buf_setf(&m->override_note, "%s", note);
	m->v.override_note = am_buf_str(&m->override_note);
}

/* The decision, from the results and the configuration. */
void
am_msg_decide(struct am_msg *m)
{
	struct am_policy_in in;

	policy_in(m, &in);
	am_policy_decide(&in, m->dmarc_done ? &m->dmarc : NULL, &m->pol);
	m->v.action = m->pol.action;
	m->v.smtp_rcode = m->pol.rcode;
	m->v.smtp_xcode = m->pol.xcode;
	m->v.smtp_text = m->pol.text.len ? am_buf_str(&m->pol.text) : NULL;
	m->v.policy_reason = m->pol.reason;
}
