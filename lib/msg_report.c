/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * msg_report: the DMARC aggregate report row (RFC 9990 s.2.1) of a message,
 * written from its verdict record and handed to the engine's reporter.
 *
 * A row is recorded for every message whose DMARC evaluation found a
 * policy record. The schema knows only pass and fail: a temperror with a
 * record is recorded as fail with disposition none and the override
 * reason "other" saying temperror, so a report shows that mail from that
 * source could not be judged rather than hiding it. The disposition is what
 * was done: pass under an enforcing policy, else the disposition after the
 * overrides (none, quarantine, reject). DKIM results are the ones the
 * header reports; envelope_to is the first recipient's domain.
 *
 * With FailureReports on, a row whose record lists ruf URIs (and is not a
 * PSD's, psd=y: RFC 9991 s.2) carries a failure report when fo= asks for
 * one (report_fo.c): the identity alignment (RFC 9991 s.4), the delivery
 * result, the first failing DKIM signature of an aligned d= (RFC 9991
 * s.4: DKIM-Domain, -Identity, -Selector), our Authentication-Results
 * value, and the header block as received -- whole fields, at most
 * AM_REPORT_HEADERS_MAX bytes, never the body (RFC 9991 s.7: privacy).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "msg_int.h"
#include "report.h"
#include "report_dest.h"

struct row_space {
	struct am_report_row row;
	struct am_report_failure fail;
	struct am_buf headers;
	char identity[16];
	const struct am_dkim_sig *fail_sig; /* first failing aligned d= */
	struct am_report_dkim *dkim;
	struct am_report_override_reason reasons[2];
	const char *rua[AM_REPORT_URI_COUNT], *ruf[AM_REPORT_URI_COUNT];
	struct am_buf rua_buf, ruf_buf;
};

static enum am_report_policy
policy(enum am_dmarc_policy p)
{
	switch (p) {
	case AM_DMARC_P_NONE:
		return AM_REPORT_P_NONE;
	case AM_DMARC_P_QUARANTINE:
		return AM_REPORT_P_QUARANTINE;
	case AM_DMARC_P_REJECT:
		return AM_REPORT_P_REJECT;
	case AM_DMARC_P_UNSET:
		break;
	}
	return AM_REPORT_P_UNSET;
}

static enum am_report_spf_result
spf_result(enum am_spf_result r)
{
	switch (r) {
	case AM_SPF_PASS:
		return AM_REPORT_SPF_PASS;
	case AM_SPF_FAIL:
		return AM_REPORT_SPF_FAIL;
	case AM_SPF_SOFTFAIL:
		return AM_REPORT_SPF_SOFTFAIL;
	case AM_SPF_NEUTRAL:
		return AM_REPORT_SPF_NEUTRAL;
	case AM_SPF_TEMPERROR:
		return AM_REPORT_SPF_TEMPERROR;
	case AM_SPF_PERMERROR:
		return AM_REPORT_SPF_PERMERROR;
	case AM_SPF_NONE:
		break;
	}
	return AM_REPORT_SPF_NONE;
}

static enum am_report_dkim_result
dkim_result(enum am_dkim_result r)
{
	switch (r) {
	case AM_DKIM_PASS:
		return AM_REPORT_DKIM_PASS;
	case AM_DKIM_FAIL:
		return AM_REPORT_DKIM_FAIL;
	case AM_DKIM_POLICY:
		return AM_REPORT_DKIM_POLICY;
	case AM_DKIM_NEUTRAL:
		return AM_REPORT_DKIM_NEUTRAL;
	case AM_DKIM_TEMPERROR:
		return AM_REPORT_DKIM_TEMPERROR;
	case AM_DKIM_PERMERROR:
		return AM_REPORT_DKIM_PERMERROR;
	case AM_DKIM_NONE:
		break;
	}
	return AM_REPORT_DKIM_NONE;
}

/* The override reasons of the response (one, and temperror as "other"). */
static size_t
reasons(const struct am_verdict *v, struct am_report_override_reason *r)
{
	const struct am_dmarc_response *d = v->dmarc;
	const char *note = v->override_note[0] != '\0' ? v->override_note : NULL;
	size_t n = 0;

	switch (d->override) {
	case AM_DMARC_OVR_NONE:
		break;
	case AM_DMARC_OVR_SAMPLED_OUT:
		r[n++].type = AM_REPORT_OVR_SAMPLED_OUT;
		break;
	case AM_DMARC_OVR_TEST_MODE:
		r[n++].type = AM_REPORT_OVR_POLICY_TEST_MODE;
		break;
	case AM_DMARC_OVR_TRUSTED_FORWARDER:
		r[n++].type = AM_REPORT_OVR_TRUSTED_FORWARDER;
		break;
	case AM_DMARC_OVR_MAILING_LIST:
		r[n].comment = note;
		r[n++].type = AM_REPORT_OVR_MAILING_LIST;
		break;
	case AM_DMARC_OVR_LOCAL_POLICY:
		r[n].comment = note;
		r[n++].type = AM_REPORT_OVR_LOCAL_POLICY;
		break;
	}
	if (d->result == AM_DMARC_TEMPERROR) {
		r[n].type = AM_REPORT_OVR_OTHER;
		r[n++].comment = "temperror";
	}
	return n;
}

/* What was done (ActionDispositionType). */
static enum am_report_disposition
disposition(const struct am_verdict *v)
{
	const struct am_dmarc_response *d = v->dmarc;

	if (d->result == AM_DMARC_PASS)
		return d->policy == AM_DMARC_P_QUARANTINE || d->policy ==
		    AM_DMARC_P_REJECT || d->rec.p == AM_DMARC_P_QUARANTINE ||
		    d->rec.p == AM_DMARC_P_REJECT ? AM_REPORT_DISP_PASS :
		    AM_REPORT_DISP_NONE;
	if (d->result != AM_DMARC_FAIL)
		return AM_REPORT_DISP_NONE;
	if (v->action == AM_ACTION_REJECT && d->disposition == AM_DMARC_P_REJECT)
		return AM_REPORT_DISP_REJECT;
	if (v->action == AM_ACTION_QUARANTINE &&
	    d->disposition == AM_DMARC_P_QUARANTINE)
		return AM_REPORT_DISP_QUARANTINE;
	return AM_REPORT_DISP_NONE;
}

/* The domain of an address ("" for none), pointing into addr. */
static const char *
domain_of(const char *addr)
{
	const char *at = addr != NULL ? strrchr(addr, '@') : NULL;

	return at != NULL ? at + 1 : "";
}

/*
 * d= aligns with the From domain: equal, or (adkim=r) inside the same
 * Organizational Domain when the evaluation found one.
 */
static int
relaxed_aligned(const struct am_dmarc_response *d, const char *dom)
{
	const char *org = d->org_domain;
	size_t n = strlen(dom), k = strlen(org);

	if (strcasecmp(dom, d->from_domain) == 0)
		return 1;
	if (d->rec.adkim == 's' || k == 0 || n < k)
		return 0;
	return strcasecmp(dom + n - k, org) == 0 &&
	    (n == k || dom[n - k - 1] == '.');
}

/* The DKIM results as the header reports them. */
static void
fill_dkim(const struct am_verdict *v, struct row_space *s)
{
	size_t i, n = v->dkim != NULL ? am_dkim_count(v->dkim) : 0;
	const struct am_dmarc_response *d = v->dmarc;

	if (n == 0 || (s->dkim = calloc(n, sizeof(*s->dkim))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		const struct am_dkim_sig *g = am_dkim_sig(v->dkim, i);
		struct am_report_dkim *k = &s->dkim[s->row.ndkim];
		if (g->domain[0] == '\0')
			continue;
		k->domain = g->domain;
		k->selector = g->selector;
		k->result = dkim_result(g->result);
		k->human = g->reason[0] != '\0' ? g->reason : NULL;
		k->aligned = strcasecmp(g->domain, d->from_domain) == 0 ||
		    (d->dkim_aligned && strcasecmp(g->domain, d->dkim_domain) == 0);
		if (s->fail_sig == NULL && (g->result == AM_DKIM_FAIL ||
		    g->result == AM_DKIM_PERMERROR) &&
		    relaxed_aligned(d, g->domain))
			s->fail_sig = g;
		s->row.ndkim++;
	}
	s->row.dkim = s->dkim;
}

/* Fill s from the verdict; 0, or -1 when no row applies. */
static int
fill(const struct am_verdict *v, struct row_space *s, char *rcpt_dom,
    size_t rcpt_dom_size)
{
	const struct am_dmarc_response *d = v->dmarc;
	struct am_report_row *r = &s->row;
	const char *rd;

	if (d == NULL || !d->have_record || v->client_ip == NULL)
		return -1;
	r->time = (int64_t)time(NULL);
	r->source_ip = v->client_ip;
	r->policy_domain = d->policy_domain;
	r->header_from = d->from_domain;
	r->envelope_from = v->mail_from[0] == '\0' ? "" : domain_of(v->mail_from);
	if (v->nrcpts > 0 && *(rd = domain_of(v->rcpts[0])) != '\0') {
		snprintf(rcpt_dom, rcpt_dom_size, "%.*s", (int)strcspn(rd, ">"), rd);
		r->envelope_to = rcpt_dom;
	}
	r->p = policy(d->rec.p);
	r->sp = policy(d->rec.sp);
	r->np = policy(d->rec.np);
	r->adkim = d->rec.adkim;
	r->aspf = d->rec.aspf;
	r->testing = d->rec.t;
	r->fo = d->rec.fo[0] != '\0' ? d->rec.fo : NULL;
	r->discovery = d->mode == AM_DMARC_RFC7489 ? AM_REPORT_DISC_PSL :
	    AM_REPORT_DISC_TREEWALK;
	r->nrua = am_report_uri_split(d->rec.rua, &s->rua_buf, s->rua,
	    AM_REPORT_URI_COUNT);
	r->rua = s->rua;
	r->nruf = am_report_uri_split(d->rec.ruf, &s->ruf_buf, s->ruf,
	    AM_REPORT_URI_COUNT);
	r->ruf = s->ruf;
	r->dmarc = d->result == AM_DMARC_PASS ? AM_REPORT_DMARC_PASS :
	    AM_REPORT_DMARC_FAIL;
	r->dkim_aligned = d->dkim_aligned ? AM_REPORT_DMARC_PASS : AM_REPORT_DMARC_FAIL;
	r->spf_aligned = d->spf_aligned ? AM_REPORT_DMARC_PASS : AM_REPORT_DMARC_FAIL;
	r->disposition = disposition(v);
	r->nreasons = reasons(v, s->reasons);
	r->reasons = s->reasons;
	fill_dkim(v, s);
	if (v->spf_mailfrom_done) {
		r->spf_domain = v->spf_mailfrom.domain;
		r->spf_scope = v->mail_from[0] == '\0' ? AM_REPORT_SCOPE_HELO :
		    AM_REPORT_SCOPE_MFROM;
		r->spf_result = spf_result(v->spf_mailfrom.result);
		r->spf_human = am_buf_str(&v->spf_mailfrom.reason);
	}
	return 0;
}

/* RFC 6591 Delivery-Result of the action taken. */
static const char *
delivery_result(enum am_action a)
{
	switch (a) {
	case AM_ACTION_ACCEPT:
		return "delivered";
	case AM_ACTION_REJECT:
		return "reject";
	case AM_ACTION_QUARANTINE:
		/* the MTA's hold queue: kept from the recipient */
		return "policy";
	case AM_ACTION_TEMPFAIL:
		break;
	}
	return "other";
}

/* The inputs of the fo= decision (report_fo.c) from the verdict. */
static void
fo_input(const struct am_verdict *v, struct am_report_fo_input *in)
{
	const struct am_dmarc_response *d = v->dmarc;
	size_t i, n = v->dkim != NULL ? am_dkim_count(v->dkim) : 0;
	enum am_spf_result sr = v->spf_mailfrom.result;

	memset(in, 0, sizeof(*in));
	in->dmarc_temperror = d->result != AM_DMARC_PASS &&
	    d->result != AM_DMARC_FAIL;
	in->dkim_aligned_pass = d->dkim_aligned;
	in->spf_aligned_pass = d->spf_aligned;
	for (i = 0; i < n; i++) {
		enum am_dkim_result r = am_dkim_sig(v->dkim, i)->result;
		if (r == AM_DKIM_FAIL || r == AM_DKIM_PERMERROR)
			in->dkim_failed = 1;
	}
	in->spf_failed = v->spf_mailfrom_done && (sr == AM_SPF_FAIL ||
	    sr == AM_SPF_SOFTFAIL || sr == AM_SPF_PERMERROR);
}

/* The header block as received, whole fields up to the cap. */
static void
header_block(const struct am_msg *m, struct am_buf *out)
{
	const struct am_hdr *f;
	size_t i;

	for (i = 0; i < m->hdrs.n; i++) {
		f = &m->hdrs.v[i];
		if (out->len + f->namelen + 1 + f->vlen + 2 > AM_REPORT_HEADERS_MAX)
			break;
		am_buf_add(out, f->name, f->namelen);
		am_buf_addc(out, ':');
		am_buf_add(out, f->value, f->vlen);
		am_buf_adds(out, "\r\n");
	}
}

/*
 * The failure report of the row (RFC 9991), when FailureReports is on,
 * the record lists ruf URIs and is not a PSD's (s.2: ruf of psd=y records
 * is not considered), and fo= asks for one.
 */
static void
fill_failure(const struct am_msg *m, struct row_space *s)
{
	const struct am_verdict *v = &m->v;
	const struct am_dmarc_response *d = v->dmarc;
	struct am_report_failure *f = &s->fail;
	struct am_report_fo_input in;

	if (!m->e->conf->failure_reports || s->row.nruf == 0 ||
	    d->rec.psd == 'y')
		return;
	fo_input(v, &in);
	if (!am_report_fo_wants(d->rec.fo, &in))
		return;
	/* s.4: the mechanisms that failed to authenticate an aligned
	   identity, "none" when none did */
	snprintf(s->identity, sizeof(s->identity), "%s%s%s",
	    d->dkim_aligned ? "" : "dkim",
	    !d->dkim_aligned && !d->spf_aligned ? ", " : "",
	    d->spf_aligned ? "" : "spf");
	f->identity_alignment = s->identity[0] != '\0' ? s->identity : "none";
	f->mail_from = v->mail_from;
	f->delivery_result = delivery_result(v->action);
	if (s->fail_sig != NULL) {
		f->dkim_domain = s->fail_sig->domain;
		f->dkim_selector = s->fail_sig->selector;
		f->dkim_identity = s->fail_sig->identity;
	}
	f->authres = v->authres != NULL ? v->authres : "";
	header_block(m, &s->headers);
	f->headers = am_buf_str(&s->headers);
	s->row.failure = f;
}

void
am_msg_write_report(struct am_msg *m)
{
	struct row_space s;
	char rcpt_dom[AM_DNS_NAME_MAX + 1];

	if (m->e->reporter == NULL || !m->v.judged)
		return;
	memset(&s, 0, sizeof(s));
	am_buf_init(&s.rua_buf, AM_REPORT_URI_BYTES);
	am_buf_init(&s.ruf_buf, AM_REPORT_URI_BYTES);
	am_buf_init(&s.headers, AM_REPORT_HEADERS_MAX);
	if (fill(&m->v, &s, rcpt_dom, sizeof(rcpt_dom)) == 0) {
		fill_failure(m, &s);
		m->v.report_queued = am_report_submit(m->e->reporter, &s.row) == 0;
	}
	free(s.dkim);
	am_buf_release(&s.headers);
	am_buf_release(&s.rua_buf);
	am_buf_release(&s.ruf_buf);
}
