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

#include "msg_int.h"


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
	if (am_msg_arc_engine_init(e, why) != 0)
		return am_engine_free(e);
	if ((e->keycache = am_dkim_keycache_new(KEYCACHE_SLOTS)) == NULL) {
		am_buf_setf(why, "out of memory");
		return am_engine_free(e);
	}
	if ((e->jobs = am_jobs_new(conf->lookup_threads)) == NULL) {
		am_buf_setf(why, "cannot start %u lookup threads", conf->lookup_threads);
		return am_engine_free(e);
	}
	if (gethostname(e->hostname, sizeof(e->hostname) - 1) != 0)
		strcpy(e->hostname, "localhost");
	return e;
}

void
am_engine_set_reporter(struct am_engine *e, struct am_reporter *rep)
{
	e->reporter = rep;
}

struct am_engine *
am_engine_free(struct am_engine *e)
{
	if (e == NULL)
		return NULL;
	am_jobs_free(e->jobs);
	am_dkim_keycache_free(e->keycache);
	am_msg_arc_engine_free(e);
	am_psl_free(e->psl);
	free(e);
	return NULL;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

/*
 * MAIL FROM as the MTA records it: without angle brackets and without the
 * white space some clients put in ("marc@ example.com"), which Postfix and
 * Sendmail drop when they parse the path; "" for the null reverse-path.
 */
static char *
bare_address(const char *s)
{
	size_t n, i, o = 0;
	char *out;
	int quoted = 0;

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
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '"')
			quoted = !quoted;
		if (!quoted && isspace((unsigned char)s[i]))
			continue;
		out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

static const char *skip_reason(const struct am_msg *m);

/* Keep the recipients; note whether every one is in IgnoreRecipients. */
static int
copy_rcpts(struct am_msg *m, const struct am_envelope *env)
{
	size_t i, n = env->nrcpts < AM_MSG_RCPT_MAX ? env->nrcpts : AM_MSG_RCPT_MAX;
	int all = n > 0;

	if (n == 0)
		return 0;
	if ((m->v.rcpts = calloc(n, sizeof(*m->v.rcpts))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if ((m->v.rcpts[i] = strdup(env->rcpts[i])) == NULL)
			return -1;
		m->v.nrcpts++;
		all &= am_rcpt_ignored(&m->e->conf->ignore_recipients, env->rcpts[i]);
	}
	/* recipients past the cap were not looked at: not all ignored */
	m->v.rcpts_ignored = all && env->nrcpts <= AM_MSG_RCPT_MAX;
	return 0;
}

/*
 * The SPF records the job asks first, hinted to the resolver: in flight at
 * once even when every pool thread is busy (a hint holds no thread).
 */
static void
spf_hint(struct am_msg *m)
{
	const char *at = strrchr(m->mail_from, '@');
	int null_sender = m->mail_from[0] == '\0';

	if (!null_sender && at != NULL)
		am_dns_prefetch(m->dns, at + 1, AM_DNS_T_TXT, 0);
	if (m->helo != NULL && m->helo[0] != '\0' && (null_sender ||
	    m->e->conf->spf_mode == AM_SPFMODE_HELO_MAILFROM))
		am_dns_prefetch(m->dns, m->helo, AM_DNS_T_TXT, 0);
}

/*
 * The DMARC record of the SPF identity's domain (RFC 9989 tree walk: its
 * first name): asked only at the end, when relaxed alignment needs the
 * organizational domain of an SPF pass, so hinted now, as the From
 * domain's is when From arrives. Cached names are skipped by the layer.
 */
static void
dmarc_spf_hint(struct am_msg *m)
{
	const char *at = strrchr(m->mail_from, '@');
	const char *dom = m->mail_from[0] != '\0' ? (at != NULL ? at + 1 :
	    NULL) : m->helo;
	char q[AM_DNS_NAME_MAX + 16];

	if (m->e->conf->dmarc_mode == AM_DMARCMODE_OFF || dom == NULL ||
	    dom[0] == '\0' || strlen(dom) > AM_DNS_NAME_MAX)
		return;
	snprintf(q, sizeof(q), "_dmarc.%s", dom);
	am_dns_prefetch(m->dns, q, AM_DNS_T_TXT, 0);
}

/* A hint's answer is in (dns_msg.c's observer; the resolver's thread): an
 * SPF record's lookups are hinted before the evaluation parses it. */
static void
answer_seen(void *arg, struct am_dns *d, const char *name, int type,
    const struct am_dns_answer *a)
{
	const struct am_msg *m = arg;

	if (type == AM_DNS_T_TXT)
		am_spf_prefetch_answer(d, &m->addr, name, a);
}

/* 1 when the SPF records SPF will ask for first are in the cache. */
static int
spf_cached(const struct am_msg *m)
{
	const char *at = strrchr(m->mail_from, '@');
	const char *dom = m->mail_from[0] != '\0' && at != NULL ? at + 1 : m->helo;

	if (dom == NULL || !am_dns_cached(m->dns, dom, AM_DNS_T_TXT))
		return 0;
	if (m->e->conf->spf_mode == AM_SPFMODE_HELO_MAILFROM && m->helo != NULL &&
	    m->helo[0] != '\0' && !am_dns_cached(m->dns, m->helo, AM_DNS_T_TXT))
		return 0;
	return 1;
}

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
	    m->receiver == NULL || (m->dns = am_dns_msg_new(e->dns)) == NULL)
		return am_msg_free(m);
	/* SPF hints its record's lookups to run on the pool (dns_msg.c) */
	if (e->conf->lookup_threads > 0)
		am_dns_msg_set_jobs(m->dns, e->jobs);
	if (m->client_ip != NULL && am_addr_parse(&m->addr, m->client_ip) == 0)
		m->have_addr = 1;
	if (copy_rcpts(m, env) != 0)
		return am_msg_free(m);
	am_buf_init(&m->from_why, 256);
	am_hdrs_init(&m->hdrs, e->conf->max_headers, e->conf->max_header_bytes);
	m->v.skip_reason = skip_reason(m);
	if (e->conf->dkim_mode && m->v.skip_reason == NULL) {
		struct am_dkim_conf dc = { e->conf->dkim_min_key_bits,
		    e->conf->dkim_max_signatures, 0, e->keycache };
		if ((m->dkim = am_dkim_new(&dc, m->dns)) == NULL)
			return am_msg_free(m);
	}
	if (am_msg_arc_new(m) != 0)
		return am_msg_free(m);
	am_buf_init(&m->override_note, 256);
	am_buf_init(&m->seal_note, 256);
	am_buf_init(&m->v.log, AM_MSG_LOG_MAX);
	am_spf_response_init(&m->v.spf_mailfrom);
	am_spf_response_init(&m->v.spf_helo);
	am_dmarc_response_init(&m->dmarc);
	am_policy_out_init(&m->pol);
	m->v.authserv_id = m->authserv_id;
	m->v.ar_rename = e->conf->forged_headers == AM_FORGED_RENAME;
	m->v.queue_id = m->queue_id;
	m->v.client_ip = m->client_ip;
	m->v.helo = m->helo;
	m->v.mail_from = m->mail_from;
	/*
	 * SPF needs only the envelope: start it now, so that its lookups
	 * overlap the DATA phase -- unless its record is cached, when handing
	 * it to another thread costs more than doing it at the end.
	 */
	if (am_msg_spf_wanted(m))
		am_dns_msg_set_observer(m->dns, answer_seen, m);
	if (am_msg_spf_wanted(m) && !spf_cached(m)) {
		spf_hint(m);
		am_jobs_submit(m->e->jobs, &m->spf_job, am_msg_spf_job, m);
		m->spf_async = 1;
	}
	if (am_msg_spf_wanted(m))
		dmarc_spf_hint(m);
	return m;
}

/* An early job: a key record, or a DMARC record and the tree walk. */
static void
early_job(void *arg)
{
	struct am_early *x = arg;
	struct am_dns *dns = x->m->dns;
	struct am_dns_answer *a = NULL;
	char name[sizeof(x->name) + 8], org[AM_DNS_NAME_MAX + 1];
	struct am_buf why = AM_BUF_INIT(512);
	unsigned q = 0;

	if (!x->dmarc) {
		(void)am_dns_query(dns, x->name, AM_DNS_T_TXT, &a, NULL);
		am_dns_answer_free(a);
		return;
	}
	snprintf(name, sizeof(name), "_dmarc.%s", x->name);
	(void)am_dns_query(dns, name, AM_DNS_T_TXT, &a, NULL);
	am_dns_answer_free(a);
	/* The organizational domain's record: the RFC 9989 tree walk itself. */
	(void)am_dmarc_org_domain(&x->m->e->dmarc, dns, x->name, org, &q, &why);
	am_buf_release(&why);
}

/* Start an early lookup of name (a TXT name, or a From domain). */
static void
start_early(struct am_msg *m, const char *name, int dmarc)
{
	struct am_early *x;
	char q[AM_DNS_NAME_MAX + 16];

	if (strlen(name) > AM_DNS_NAME_MAX || (dmarc ? m->nearly ==
	    PREFETCH_MAX : m->nkeyhints == PREFETCH_MAX - 1))
		return;
	snprintf(q, sizeof(q), "%s%s", dmarc ? "_dmarc." : "", name);
	if (am_dns_cached(m->dns, q, AM_DNS_T_TXT))
		return;
	/* the first query is a hint: in flight now, whether or not a pool
	 * thread is free (a key needs nothing more) */
	am_dns_prefetch(m->dns, q, AM_DNS_T_TXT, 0);
	if (!dmarc) {
		m->nkeyhints++;
		return;
	}
	x = &m->early[m->nearly++];
	x->m = m;
	x->dmarc = dmarc;
	memcpy(x->name, name, strlen(name) + 1);
	am_jobs_submit(m->e->jobs, &x->job, early_job, x);
}

/* 1 when early lookups are worth starting for this message. */
static int
early_wanted(const struct am_msg *m)
{
	/* the message's own DNS layer keeps the answers, cache or not */
	return m->v.skip_reason == NULL && !m->hdr_overflow;
}

/* A DKIM-Signature has arrived: start its key lookup (one slot is kept
 * for the From domain). */
static void
early_dkim(struct am_msg *m, const char *value, size_t vlen)
{
	struct am_dkim_sigparams sp;
	struct am_buf why = AM_BUF_INIT(256);
	char name[AM_DNS_NAME_MAX + 16];

	if (m->dkim == NULL || m->nkeyhints + 1 >= PREFETCH_MAX)
		return;
	memset(&sp, 0, sizeof(sp));
	if (am_dkim_sig_parse(value, vlen, &sp, &why) == 0 && sp.selector != NULL &&
	    sp.domain != NULL && snprintf(name, sizeof(name), "%s._domainkey.%s",
	    sp.selector, sp.domain) < (int)sizeof(name))
		start_early(m, name, 0);
	am_dkim_sig_release(&sp);
	am_buf_release(&why);
}

/* The first From field has arrived: start its DMARC discovery. */
static void
early_from(struct am_msg *m, const char *value, size_t vlen)
{
	struct am_from f;

	if (m->early_from || m->e->conf->dmarc_mode == AM_DMARCMODE_OFF)
		return;
	m->early_from = 1;
	if (am_from_parse(value, vlen, &f, NULL) == AM_FROM_ONE ||
	    f.status == AM_FROM_MULTI_SAME)
		start_early(m, f.domain[0], 1);
}

void
am_msg_wait_early(struct am_msg *m)
{
	size_t i;

	for (i = 0; i < m->nearly; i++)
		am_jobs_wait(m->e->jobs, &m->early[i].job);
}

/* 1 when domain names a and b are the same: ASCII case and one trailing
 * dot ignored. */
static int
same_name(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	if (na > 0 && a[na - 1] == '.')
		na--;
	if (nb > 0 && b[nb - 1] == '.')
		nb--;
	return na == nb && strncasecmp(a, b, na) == 0;
}

/* 1 when id is our authserv-id or one of the configured aliases, compared
 * as domain names (a forger's "mx.example." is ours too). */
static int
is_our_id(const struct am_msg *m, const char *id)
{
	const struct am_strlist *al = &m->e->conf->authserv_aliases;
	size_t i;

	if (same_name(id, m->authserv_id))
		return 1;
	for (i = 0; i < al->n; i++)
		if (same_name(id, al->v[i]))
			return 1;
	return 0;
}

/*
 * Remember A-R field number ar_seen for removal when it claims our id, with
 * its value for ForgedHeaders rename while the values kept stay within
 * MaxHeaderBytes.
 */
static void
note_authres(struct am_msg *m, const char *value, size_t vlen)
{
	char id[256];
	size_t *v;
	char **vv;

	m->ar_seen++;
	if (am_authres_id(value, id, sizeof(id)) != 0 || !is_our_id(m, id))
		return;
	v = realloc(m->v.ar_remove, (m->v.nar_remove + 1) * sizeof(*v));
	if (v == NULL)
		return;
	m->v.ar_remove = v;
	vv = realloc(m->v.ar_remove_value, (m->v.nar_remove + 1) * sizeof(*vv));
	if (vv == NULL)
		return;
	m->v.ar_remove_value = vv;
	vv[m->v.nar_remove] = NULL;
	if (m->v.ar_rename && m->ar_kept + vlen <= m->e->conf->max_header_bytes &&
	    (vv[m->v.nar_remove] = strdup(value)) != NULL)
		m->ar_kept += vlen;
	m->v.ar_remove[m->v.nar_remove++] = m->ar_seen;
}

void
am_msg_header(struct am_msg *m, const char *name, const char *value, size_t vlen)
{
	if (strcasecmp(name, "Authentication-Results") == 0) {
		char *tmp = strndup(value, vlen);
		if (tmp != NULL)
			note_authres(m, tmp, vlen);
		free(tmp);
	}
	switch (am_hdrs_add(&m->hdrs, name, value, vlen)) {
	case AM_HDR_OK:
		if (!early_wanted(m))
			return;
		if (strcasecmp(name, "DKIM-Signature") == 0)
			early_dkim(m, value, vlen);
		else if (strcasecmp(name, "From") == 0)
			early_from(m, value, vlen);
		return;
	case AM_HDR_TOO_MANY:
		m->v.limit_exceeded = "MaxHeaders";
		break;
	case AM_HDR_TOO_BIG:
		m->v.limit_exceeded = "MaxHeaderBytes";
		break;
	case AM_HDR_NOMEM:
		m->v.limit_exceeded = "out of memory";
		break;
	}
	m->hdr_overflow = 1;
}

/* Parse From once (for DMARC). */
void
am_msg_parse_from(struct am_msg *m)
{
	if (m->from_parsed)
		return;
	m->from_parsed = 1;
	if (m->hdr_overflow)
		m->from.status = AM_FROM_BAD;
	else
		m->from.status = am_from_parse_hdrs(&m->hdrs, &m->from, &m->from_why);
}

void
am_msg_end_headers(struct am_msg *m)
{
	if (m->headers_done)
		return;
	m->headers_done = 1;
	/* Over the header caps the signed fields may be missing: no verdict. */
	if (m->dkim != NULL && !m->hdr_overflow) {
		if (m->e->conf->dmarc_mode != AM_DMARCMODE_OFF) {
			am_msg_parse_from(m);
			if (m->from.status == AM_FROM_ONE ||
			    m->from.status == AM_FROM_MULTI_SAME)
				am_dkim_prefer(m->dkim, m->from.domain[0]);
		}
		am_dkim_headers(m->dkim, &m->hdrs);
	}
	if (m->arc != NULL && !m->hdr_overflow)
		am_arc_headers(m->arc, &m->hdrs);
}

void
am_msg_body(struct am_msg *m, const void *buf, size_t len)
{
	if (!m->headers_done)
		am_msg_end_headers(m);
	if (m->dkim != NULL && !m->hdr_overflow)
		am_dkim_body(m->dkim, buf, len);
	if (m->arc != NULL && !m->hdr_overflow)
		am_arc_body(m->arc, buf, len);
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

/*
 * Checks, overrides, decision: one verdict record; then the header and the
 * log line are written from it.
 */
const struct am_verdict *
am_msg_finish(struct am_msg *m)
{
	if (m->finished)
		return &m->v;
	m->finished = 1;
	if (m->e->conf->message_timeout_ms > 0)
		am_dns_msg_set_deadline(m->dns, am_dns_clock(m->dns) +
		    m->e->conf->message_timeout_ms);
	m->v.action = AM_ACTION_ACCEPT;
	m->v.policy_reason = "";
	m->v.override_note = "";
	m->v.judged = m->v.skip_reason == NULL;
	if (m->v.judged) {
		am_msg_run_spf(m);
		am_msg_run_dkim(m);
		am_msg_run_arc(m);
		am_msg_run_dmarc(m);
		am_msg_apply_overrides(m);
		am_msg_decide(m);
		am_msg_write_authres(m);
		am_msg_arc_seal(m);
	}
	am_msg_write_log(m);
	am_msg_write_report(m);
	return &m->v;
}

struct am_msg *
am_msg_free(struct am_msg *m)
{
	size_t i;

	if (m == NULL)
		return NULL;
	/* A job may still be using the message (an aborted transaction):
	 * its lookups in flight give up now instead of at their deadline. */
	am_dns_msg_set_deadline(m->dns, 1);
	am_jobs_cancel(m->e->jobs, &m->spf_job);
	for (i = 0; i < m->nearly; i++)
		am_jobs_cancel(m->e->jobs, &m->early[i].job);
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
	am_arc_free(m->arc);
	am_arc_sealed_release(&m->sealed);
	am_buf_release(&m->override_note);
	am_buf_release(&m->seal_note);
	if (m->v.authres != NULL)
		am_authres_release(&m->ar);
	for (i = 0; i < m->v.nar_remove && m->v.ar_remove_value != NULL; i++)
		free(m->v.ar_remove_value[i]);
	free(m->v.ar_remove_value);
	free(m->v.ar_remove);
	for (i = 0; i < m->v.nrcpts; i++)
		free(m->v.rcpts[i]);
	free(m->v.rcpts);
	am_spf_response_release(&m->v.spf_mailfrom);
	am_spf_response_release(&m->v.spf_helo);
	am_dmarc_response_release(&m->dmarc);
	am_policy_out_release(&m->pol);
	am_buf_release(&m->v.log);
	am_dns_free(m->dns);
	free(m);
	return NULL;
}

size_t
am_msg_dns_trace(struct am_msg *m,
    void (*fn)(const struct am_dns_trace *t, void *arg), void *arg)
{
	return am_dns_msg_trace(m->dns, fn, arg);
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

const struct am_config *
am_msg_config(const struct am_msg *m)
{
	return m->e->conf;
}
