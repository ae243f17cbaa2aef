/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * msg: the verification engine's front door. See msg.h.
 *
 * A message collects its header fields (bounded by MaxHeaders and
 * MaxHeaderBytes), notes which Authentication-Results fields claim our
 * authserv-id (RFC 8601 s.5: they are forged, since we have not seen the
 * message before), and at the end runs the checks the configuration asks
 * for and turns their results into one A-R header value, an action and a
 * log line.
 */
#include <sys/socket.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "authres.h"
#include "dkim.h"
#include "dmarc.h"
#include "from.h"
#include "policy.h"
#include "psl.h"
#include "hdr.h"
#include "jobs.h"
#include "msg.h"
#include "net.h"

struct am_engine {
	const struct am_config *conf;
	struct am_dns *dns;
	struct am_psl *psl;         /* RFC 7489 mode only; read-only */
	struct am_dmarc_conf dmarc;
	struct am_jobs *jobs;       /* early lookups (LookupThreads) */
	char hostname[256];
};

/* Names whose records are fetched at end of header, ahead of need. */
#define PREFETCH_MAX 12

struct am_msg {
	struct am_engine *e;
	char *queue_id, *client_ip, *helo, *mail_from, *auth_user;
	char *authserv_id, *receiver;
	struct am_addr addr;
	int have_addr;
	struct am_hdrs hdrs;
	struct am_dkim *dkim;       /* NULL when DKIMMode is off */
	size_t ar_seen;             /* A-R fields seen so far */
	int hdr_overflow;           /* a header cap was hit */
	int headers_done;
	int finished;
	struct am_authres ar;
	struct am_from from;
	struct am_dmarc_response dmarc;
	int dmarc_done;
	int dkim_temperror;
	int from_parsed;
	struct am_buf from_why;
	struct am_job spf_job, prefetch_job;
	char *prefetch[PREFETCH_MAX];   /* "sel._domainkey.d" TXT names */
	size_t nprefetch;
	char *prefetch_from;            /* From domain for DMARC discovery */
	struct am_policy_out pol;
	struct am_verdict v;
};

struct am_engine *
am_engine_new(const struct am_config *conf, struct am_dns *dns, struct am_buf *why)
{
	struct am_engine *e;

	if ((e = calloc(1, sizeof(*e))) == NULL) {
		am_buf_setf(why, "out of memory");
		return NULL;
	}
	e->conf = conf;
	e->dns = dns;
	if (conf->dmarc_mode == AM_DMARCMODE_RFC7489) {
		struct am_buf pwhy = AM_BUF_INIT(512);
		e->psl = am_psl_load(conf->public_suffix_list, AM_PSL_ALL, &pwhy);
		if (e->psl == NULL) {
			am_buf_setf(why, "PublicSuffixList %s: %s", conf->public_suffix_list,
			    am_buf_str(&pwhy));
			am_buf_release(&pwhy);
			free(e);
			return NULL;
		}
		am_buf_release(&pwhy);
	}
	e->dmarc.mode = conf->dmarc_mode == AM_DMARCMODE_RFC7489 ?
	    AM_DMARC_RFC7489 : AM_DMARC_RFC9989;
	e->dmarc.psl = e->psl;
	if ((e->jobs = am_jobs_new(conf->lookup_threads)) == NULL) {
		am_buf_setf(why, "cannot start %u lookup threads", conf->lookup_threads);
		am_psl_free(e->psl);
		free(e);
		return NULL;
	}
	if (gethostname(e->hostname, sizeof(e->hostname) - 1) != 0)
		strcpy(e->hostname, "localhost");
	return e;
}

struct am_engine *
am_engine_free(struct am_engine *e)
{
	if (e == NULL)
		return NULL;
	am_jobs_free(e->jobs);
	am_psl_free(e->psl);
	free(e);
	return NULL;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

/* MAIL FROM without angle brackets; "" for the null reverse-path. */
static char *
bare_address(const char *s)
{
	size_t n;

	if (s == NULL)
		return strdup("");
	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		s++;
		n -= 2;
	}
	return strndup(s, n);
}

static const char *skip_reason(const struct am_msg *m);
static int spf_wanted(const struct am_msg *m);
static void spf_job(void *arg);

struct am_msg *
am_msg_new(struct am_engine *e, const struct am_envelope *env)
{
	struct am_msg *m;
	const char *id;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->e = e;
	id = e->conf->authserv_id[0] != '\0' ? e->conf->authserv_id :
	    env->authserv_id != NULL && env->authserv_id[0] != '\0' ?
	    env->authserv_id : e->hostname;
	m->queue_id = strdup(env->queue_id != NULL ? env->queue_id : "NOQUEUE");
	m->client_ip = dup_or_null(env->client_ip);
	m->helo = dup_or_null(env->helo);
	m->mail_from = bare_address(env->mail_from);
	m->auth_user = dup_or_null(env->auth_user);
	m->authserv_id = strdup(id);
	m->receiver = strdup(env->receiver != NULL ? env->receiver : id);
	if (m->queue_id == NULL || m->mail_from == NULL || m->authserv_id == NULL ||
	    m->receiver == NULL)
		return am_msg_free(m);
	if (m->client_ip != NULL && am_addr_parse(&m->addr, m->client_ip) == 0)
		m->have_addr = 1;
	am_buf_init(&m->from_why, 256);
	am_hdrs_init(&m->hdrs, e->conf->max_headers, e->conf->max_header_bytes);
	m->v.skip_reason = skip_reason(m);
	if (e->conf->dkim_mode && m->v.skip_reason == NULL) {
		struct am_dkim_conf dc = { e->conf->dkim_min_key_bits,
		    e->conf->dkim_max_signatures, 0 };
		if ((m->dkim = am_dkim_new(&dc, e->dns)) == NULL)
			return am_msg_free(m);
	}
	am_buf_init(&m->v.log, 2048);
	am_spf_response_init(&m->v.spf_mailfrom);
	am_spf_response_init(&m->v.spf_helo);
	am_dmarc_response_init(&m->dmarc);
	am_policy_out_init(&m->pol);
	m->v.authserv_id = m->authserv_id;
	/* SPF needs only the envelope: start it now, it overlaps the DATA phase. */
	if (spf_wanted(m))
		am_jobs_submit(m->e->jobs, &m->spf_job, spf_job, m);
	return m;
}

/* 1 when id is our authserv-id or one of the configured aliases. */
static int
is_our_id(const struct am_msg *m, const char *id)
{
	const struct am_strlist *al = &m->e->conf->authserv_aliases;
	size_t i;

	if (strcasecmp(id, m->authserv_id) == 0)
		return 1;
	for (i = 0; i < al->n; i++)
		if (strcasecmp(id, al->v[i]) == 0)
			return 1;
	return 0;
}

/* Remember A-R field number ar_seen for removal when it claims our id. */
static void
note_authres(struct am_msg *m, const char *value)
{
	char id[256];
	size_t *v;

	m->ar_seen++;
	if (am_authres_id(value, id, sizeof(id)) != 0 || !is_our_id(m, id))
		return;
	v = realloc(m->v.ar_remove, (m->v.nar_remove + 1) * sizeof(*v));
	if (v == NULL)
		return;
	m->v.ar_remove = v;
	m->v.ar_remove[m->v.nar_remove++] = m->ar_seen;
}

void
am_msg_header(struct am_msg *m, const char *name, const char *value, size_t vlen)
{
	if (strcasecmp(name, "Authentication-Results") == 0) {
		char *tmp = strndup(value, vlen);
		if (tmp != NULL)
			note_authres(m, tmp);
		free(tmp);
	}
	if (am_hdrs_add(&m->hdrs, name, value, vlen) != AM_HDR_OK)
		m->hdr_overflow = 1;
}

/* The prefetch job: key and policy records into the shared cache. */
static void
prefetch_job(void *arg)
{
	struct am_msg *m = arg;
	struct am_dns_answer *a;
	char name[AM_DNS_NAME_MAX + 16], org[AM_DNS_NAME_MAX + 1];
	struct am_buf why = AM_BUF_INIT(512);
	unsigned q = 0;
	size_t i;

	for (i = 0; i < m->nprefetch; i++) {
		a = NULL;
		(void)am_dns_query(m->e->dns, m->prefetch[i], AM_DNS_T_TXT, &a, NULL);
		am_dns_answer_free(a);
	}
	if (m->prefetch_from == NULL)
		return;
	a = NULL;
	snprintf(name, sizeof(name), "_dmarc.%s", m->prefetch_from);
	(void)am_dns_query(m->e->dns, name, AM_DNS_T_TXT, &a, NULL);
	am_dns_answer_free(a);
	/* The organizational domain's record: the RFC 9989 tree walk itself. */
	(void)am_dmarc_org_domain(&m->e->dmarc, m->e->dns, m->prefetch_from,
	    org, &q, &why);
	am_buf_release(&why);
}

/* Parse From once (for DMARC and its prefetch). */
static void
parse_from(struct am_msg *m)
{
	if (m->from_parsed)
		return;
	m->from_parsed = 1;
	if (m->hdr_overflow)
		m->from.status = AM_FROM_BAD;
	else
		m->from.status = am_from_parse_hdrs(&m->hdrs, &m->from, &m->from_why);
}

/* Collect the names to look up early and start the prefetch job. */
static void
start_prefetch(struct am_msg *m)
{
	const struct am_dkim_sig *sig;
	char name[AM_DNS_NAME_MAX + 16];
	size_t i, n;

	if (m->e->conf->dns_cache_size == 0 || m->v.skip_reason != NULL)
		return;     /* without a cache, an early answer would be lost */
	n = m->dkim != NULL ? am_dkim_count(m->dkim) : 0;
	for (i = 0; i < n && m->nprefetch < PREFETCH_MAX &&
	    i < m->e->conf->dkim_max_signatures; i++) {
		sig = am_dkim_sig(m->dkim, i);
		if (sig->selector[0] == '\0' || sig->domain[0] == '\0')
			continue;
		snprintf(name, sizeof(name), "%s._domainkey.%s", sig->selector, sig->domain);
		if ((m->prefetch[m->nprefetch] = strdup(name)) != NULL)
			m->nprefetch++;
	}
	if (m->e->conf->dmarc_mode != AM_DMARCMODE_OFF) {
		parse_from(m);
		if (m->from.status == AM_FROM_ONE || m->from.status == AM_FROM_MULTI_SAME)
			m->prefetch_from = strdup(m->from.domain[0]);
	}
	if (m->nprefetch > 0 || m->prefetch_from != NULL)
		am_jobs_submit(m->e->jobs, &m->prefetch_job, prefetch_job, m);
}

void
am_msg_end_headers(struct am_msg *m)
{
	if (m->headers_done)
		return;
	m->headers_done = 1;
	/* Over the header caps the signed fields may be missing: no verdict. */
	if (m->dkim != NULL && !m->hdr_overflow)
		am_dkim_headers(m->dkim, &m->hdrs);
	start_prefetch(m);
}

void
am_msg_body(struct am_msg *m, const void *buf, size_t len)
{
	if (!m->headers_done)
		am_msg_end_headers(m);
	if (m->dkim != NULL && !m->hdr_overflow)
		am_dkim_body(m->dkim, buf, len);
}

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
static int
spf_wanted(const struct am_msg *m)
{
	return m->e->conf->spf_mode != AM_SPFMODE_OFF && m->have_addr &&
	    m->v.skip_reason == NULL;
}

/* The SPF lookups (a job): the identities SPFMode asks for. */
static void
spf_job(void *arg)
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

/* Report the SPF results (after the job has run). */
static void
run_spf(struct am_msg *m)
{
	if (m->e->conf->spf_mode == AM_SPFMODE_OFF)
		return;
	if (!m->have_addr) {
		am_authres_method(&m->ar, "spf", "none", "no client IP address");
		am_buf_adds(&m->v.log, " spf=none (no client IP address)");
		return;
	}
	am_jobs_wait(m->e->jobs, &m->spf_job);
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
static void
run_dkim(struct am_msg *m)
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
	for (i = 0; i < n; i++)
		report_dkim_sig(m, am_dkim_sig(m->dkim, i));
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
dmarc_comment(const struct am_dmarc_response *d, struct am_buf *c)
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

	dmarc_comment(d, &c);
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
static void
run_dmarc(struct am_msg *m)
{
	struct am_dmarc_dkim dk[AM_DMARC_DKIM_MAX];
	struct am_dmarc_input in;
	struct am_buf why = AM_BUF_INIT(256);
	int dkim_temp;

	if (m->e->conf->dmarc_mode == AM_DMARCMODE_OFF)
		return;
	memset(&in, 0, sizeof(in));
	am_jobs_wait(m->e->jobs, &m->prefetch_job);
	parse_from(m);
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
	am_dmarc_eval(&m->e->dmarc, m->e->dns, &in, &m->dmarc);
	if (m->hdr_overflow)
		am_buf_setf(&m->dmarc.why, "header limits exceeded");
	else if (m->dmarc.why.len == 0 && why.len > 0)
		am_buf_setf(&m->dmarc.why, "%s", am_buf_str(&why));
	m->dmarc_done = 1;
	m->dkim_temperror = dkim_temp;
	am_buf_release(&why);
}

/* Apply the configuration's policy to the results. */
static void
run_policy(struct am_msg *m)
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

/* Mail that is not judged: trusted networks, authenticated submitters. */
static const char *
skip_reason(const struct am_msg *m)
{
	const struct am_config *c = m->e->conf;

	if (m->have_addr && am_cidrlist_match(&c->trusted_networks, &m->addr))
		return "trusted network";
	if (c->skip_authenticated && m->auth_user != NULL && m->auth_user[0] != '\0')
		return "authenticated sender";
	return NULL;
}

const struct am_verdict *
am_msg_finish(struct am_msg *m)
{
	if (m->finished)
		return &m->v;
	m->finished = 1;
	m->v.action = AM_ACTION_ACCEPT;
	if (m->v.skip_reason != NULL) {
		m->v.judged = 0;
		am_buf_printf(&m->v.log, "not judged (%s) client=%s",
		    m->v.skip_reason, m->client_ip != NULL ? m->client_ip : "unknown");
	} else {
		m->v.judged = 1;
		am_buf_printf(&m->v.log, "client=%s",
		    m->client_ip != NULL ? m->client_ip : "unknown");
		am_authres_begin(&m->ar, m->authserv_id);
		run_spf(m);
		run_dkim(m);
		run_dmarc(m);
		run_policy(m);
		m->v.authres = am_authres_end(&m->ar);
	}
	if (m->v.nar_remove > 0)
		am_buf_printf(&m->v.log, " removed=%zu forged A-R", m->v.nar_remove);
	am_buf_printf(&m->v.log, " action=%s", am_action_name(m->v.action));
	return &m->v;
}

struct am_msg *
am_msg_free(struct am_msg *m)
{
	size_t i;

	if (m == NULL)
		return NULL;
	/* A job may still be using the message (an aborted transaction). */
	am_jobs_wait(m->e->jobs, &m->spf_job);
	am_jobs_wait(m->e->jobs, &m->prefetch_job);
	for (i = 0; i < m->nprefetch; i++)
		free(m->prefetch[i]);
	free(m->prefetch_from);
	am_buf_release(&m->from_why);
	free(m->queue_id);
	free(m->client_ip);
	free(m->helo);
	free(m->mail_from);
	free(m->auth_user);
	free(m->authserv_id);
	free(m->receiver);
	am_hdrs_release(&m->hdrs);
	am_dkim_free(m->dkim);
	if (m->v.authres != NULL)
		am_authres_release(&m->ar);
	free(m->v.ar_remove);
	am_spf_response_release(&m->v.spf_mailfrom);
	am_spf_response_release(&m->v.spf_helo);
	am_dmarc_response_release(&m->dmarc);
	am_policy_out_release(&m->pol);
	am_buf_release(&m->v.log);
	free(m);
	return NULL;
}

const char *
am_action_name(enum am_action a)
{
	switch (a) {
	case AM_ACTION_ACCEPT:
		return "accept";
	case AM_ACTION_REJECT:
		return "reject";
	case AM_ACTION_QUARANTINE:
		return "quarantine";
	case AM_ACTION_TEMPFAIL:
		return "tempfail";
	}
	return "accept";
}
