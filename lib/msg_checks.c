/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * msg_checks: the SPF, DKIM and DMARC steps of am_msg_finish() and the
 * policy decision; each step reports its results as Authentication-Results
 * entries (RFC 8601 s.2.7, RFC 6008 header.b) and log words.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	req->timeout_ms = m->e->conf->spf_timeout_ms;
}

/* Add one spf= result to the header and the log line. */
static void
report_spf(struct am_msg *m, const struct am_spf_response *r, int helo)
{
	const char *res = am_spf_result_name(r->result);

	am_authres_method(&m->ar, "spf", res, am_buf_str(&r->reason));
	if (helo)
		am_authres_prop(&m->ar, "smtp.helo", m->helo != NULL ? m->helo : "");
	else
		am_authres_prop(&m->ar, "smtp.mailfrom", r->domain);
	am_buf_printf(&m->v.log, " spf%s=%s (%s) %s=%s", helo ? "-helo" : "",
	    res, am_buf_str(&r->reason), helo ? "helo" : "mailfrom",
	    helo ? (m->helo != NULL ? m->helo : "") : r->domain);
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
	am_spf_mailfrom(m->dns, &req, &m->v.spf_mailfrom);
	m->v.spf_mailfrom_done = 1;
	if (m->e->conf->spf_mode == AM_SPFMODE_HELO_MAILFROM && !null_sender &&
	    m->helo != NULL && m->helo[0] != '\0') {
		am_spf_helo(m->dns, &req, &m->v.spf_helo);
		m->v.spf_helo_done = 1;
	}
}

/* Report the SPF results (after the job has run). */
void
am_msg_run_spf(struct am_msg *m)
{
	if (m->e->conf->spf_mode == AM_SPFMODE_OFF)
		return;
	if (!m->have_addr) {
		am_authres_method(&m->ar, "spf", "none", "no client IP address");
		am_buf_adds(&m->v.log, " spf=none (no client IP address)");
		return;
	}
	if (m->spf_async)
		am_jobs_wait(m->e->jobs, &m->spf_job);
	else if (am_msg_spf_wanted(m))
		am_msg_spf_job(m);
	/* With a null reverse-path the MAIL FROM check was the HELO identity. */
	if (m->v.spf_mailfrom_done)
		report_spf(m, &m->v.spf_mailfrom, m->mail_from[0] == '\0');
	if (m->v.spf_helo_done)
		report_spf(m, &m->v.spf_helo, 1);
}

/* Add one dkim= result per signature (RFC 8601 s.2.7.1, RFC 6008). */
static void
report_dkim_sig(struct am_msg *m, const struct am_dkim_sig *s)
{
	const char *res = am_dkim_result_name(s->result);

	am_authres_method(&m->ar, "dkim", res, s->reason);
	if (s->domain[0] != '\0')
		am_authres_prop(&m->ar, "header.d", s->domain);
	if (s->identity[0] != '\0')
		am_authres_prop(&m->ar, "header.i", s->identity);
	if (s->selector[0] != '\0')
		am_authres_prop(&m->ar, "header.s", s->selector);
	if (s->algorithm[0] != '\0')
		am_authres_prop(&m->ar, "header.a", s->algorithm);
	if (s->b_prefix[0] != '\0')
		am_authres_prop(&m->ar, "header.b", s->b_prefix);
	am_buf_printf(&m->v.log, " dkim=%s", res);
	if (s->reason[0] != '\0')
		am_buf_printf(&m->v.log, " (%s)", s->reason);
	am_buf_printf(&m->v.log, " d=%s s=%s b=%s%s", s->domain, s->selector,
	    s->b_prefix, s->uses_l ? " l=used (unsigned content may follow)" : "");
}

/* Verify the message's DKIM signatures and report them. */
void
am_msg_run_dkim(struct am_msg *m)
{
	size_t i, n;

	if (m->dkim == NULL)
		return;
	if (m->hdr_overflow) {
		am_authres_method(&m->ar, "dkim", "permerror", "header limits exceeded");
		am_buf_adds(&m->v.log, " dkim=permerror (header limits exceeded)");
		return;
	}
	if (!m->headers_done)
		am_msg_end_headers(m);
	am_jobs_wait(m->e->jobs, &m->prefetch_job);
	am_dkim_finish(m->dkim);
	m->v.dkim = m->dkim;
	if ((n = am_dkim_count(m->dkim)) == 0) {
		am_authres_method(&m->ar, "dkim", "none", NULL);
		am_buf_adds(&m->v.log, " dkim=none");
		return;
	}
	/* Signatures past DKIMMaxSignatures were not verified: one entry says so. */
	for (i = 0; i < n && i < m->e->conf->dkim_max_signatures; i++)
		report_dkim_sig(m, am_dkim_sig(m->dkim, i));
	if (n > i) {
		char c[96];
		snprintf(c, sizeof(c), "%zu more signatures not verified (DKIMMaxSignatures %u)",
		    n - i, m->e->conf->dkim_max_signatures);
		am_authres_method(&m->ar, "dkim", "policy", c);
		am_buf_printf(&m->v.log, " dkim=policy (%s)", c);
	}
}

/* The DKIM verdicts as DMARC wants them (at most AM_DMARC_DKIM_MAX). */
static size_t
dmarc_dkim_input(const struct am_msg *m, struct am_dmarc_dkim *v, int *temperror)
{
	size_t i, n = m->v.dkim != NULL ? am_dkim_count(m->v.dkim) : 0;

	*temperror = 0;
	if (n > AM_DMARC_DKIM_MAX)
		n = AM_DMARC_DKIM_MAX;
	for (i = 0; i < n; i++) {
		const struct am_dkim_sig *s = am_dkim_sig(m->v.dkim, i);
		v[i].pass = s->result == AM_DKIM_PASS;
		v[i].domain = s->domain;
		if (s->result == AM_DKIM_TEMPERROR)
			*temperror = 1;
	}
	return n;
}

/* The comment of the dmarc= result: policy properties, as large receivers write. */
static void
dmarc_comment(const struct am_dmarc_response *d, const struct am_buf *note,
    struct am_buf *c)
{
	if (d->have_record) {
		am_buf_printf(c, "p=%s", am_dmarc_policy_name(d->rec.p));
		if (d->rec.sp != AM_DMARC_P_UNSET)
			am_buf_printf(c, " sp=%s", am_dmarc_policy_name(d->rec.sp));
		if (d->rec.np != AM_DMARC_P_UNSET)
			am_buf_printf(c, " np=%s", am_dmarc_policy_name(d->rec.np));
		am_buf_printf(c, " dis=%s", am_dmarc_policy_name(
		    d->disposition == AM_DMARC_P_UNSET ? AM_DMARC_P_NONE : d->disposition));
		if (d->override != AM_DMARC_OVR_NONE)
			am_buf_printf(c, " reason=%s", am_dmarc_override_name(d->override));
		if (note->len > 0)
			am_buf_printf(c, " %s", am_buf_str(note));
	}
	if (d->result != AM_DMARC_PASS && d->why.len > 0)
		am_buf_printf(c, "%s%s", c->len ? "; " : "", am_buf_str(&d->why));
}

/* Add the dmarc= result to the header and the log line. */
static void
report_dmarc(struct am_msg *m)
{
	const struct am_dmarc_response *d = &m->dmarc;
	struct am_buf c = AM_BUF_INIT(512);
	const char *res = am_dmarc_result_name(d->result);

	dmarc_comment(d, &m->override_note, &c);
	am_authres_method(&m->ar, "dmarc", res, am_buf_str(&c));
	if (d->from_domain[0] != '\0')
		am_authres_prop(&m->ar, "header.from", d->from_domain);
	if (d->result == AM_DMARC_FAIL && d->have_record)
		am_authres_prop(&m->ar, "policy.dmarc", am_dmarc_policy_name(
		    d->disposition == AM_DMARC_P_UNSET ? AM_DMARC_P_NONE : d->disposition));
	am_buf_printf(&m->v.log, " dmarc=%s (%s) from=%s", res, am_buf_str(&c),
	    d->from_domain[0] != '\0' ? d->from_domain : "-");
	am_buf_release(&c);
}

/* Evaluate DMARC for the message's From domain. */
void
am_msg_run_dmarc(struct am_msg *m)
{
	struct am_dmarc_dkim dk[AM_DMARC_DKIM_MAX];
	struct am_dmarc_input in;
	struct am_buf why = AM_BUF_INIT(256);
	int dkim_temp;

	if (m->e->conf->dmarc_mode == AM_DMARCMODE_OFF)
		return;
	memset(&in, 0, sizeof(in));
	am_jobs_wait(m->e->jobs, &m->prefetch_job);
	am_msg_parse_from(m);
	in.from_status = m->from.status;
	if (m->from_why.len > 0)
		am_buf_setf(&why, "%s", am_buf_str(&m->from_why));
	if (in.from_status == AM_FROM_ONE || in.from_status == AM_FROM_MULTI_SAME)
		in.from_domain = m->from.domain[0];
	in.spf = AM_SPF_NONE;
	if (m->v.spf_mailfrom_done) {
		in.spf = m->v.spf_mailfrom.result;
		in.spf_domain = m->v.spf_mailfrom.domain;
	}
	in.ndkim = dmarc_dkim_input(m, dk, &dkim_temp);
	in.dkim = dk;
	in.sample = arc4random_uniform(100);
	am_dmarc_eval(&m->e->dmarc, m->dns, &in, &m->dmarc);
	if (m->hdr_overflow)
		am_buf_setf(&m->dmarc.why, "header limits exceeded");
	else if (m->dmarc.why.len == 0 && why.len > 0)
		am_buf_setf(&m->dmarc.why, "%s", am_buf_str(&why));
	m->dmarc_done = 1;
	m->dkim_temperror = dkim_temp;
	am_buf_release(&why);
}

/* Apply the configuration's policy to the results. */
void
am_msg_run_policy(struct am_msg *m)
{
	struct am_policy_in in;

	memset(&in, 0, sizeof(in));
	in.conf = m->e->conf;
	in.client = m->have_addr ? &m->addr : NULL;
	in.helo = m->helo;
	in.from_status = m->dmarc_done ? m->from.status : AM_FROM_ONE;
	in.dmarc_done = m->dmarc_done;
	in.spf_temperror = m->v.spf_mailfrom_done &&
	    m->v.spf_mailfrom.result == AM_SPF_TEMPERROR;
	in.dkim_temperror = m->dkim_temperror;
	(void)am_msg_arc_override(m);
	am_policy_decide(&in, &m->dmarc, &m->pol);
	m->v.action = m->pol.action;
	m->v.smtp_rcode = m->pol.rcode;
	m->v.smtp_xcode = m->pol.xcode;
	m->v.smtp_text = m->pol.text.len ? am_buf_str(&m->pol.text) : NULL;
	if (m->dmarc_done)
		report_dmarc(m);
	if (m->pol.reason[0] != '\0')
		am_buf_printf(&m->v.log, " policy=\"%s\"", m->pol.reason);
}

