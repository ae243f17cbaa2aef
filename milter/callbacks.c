/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * callbacks: the libmilter callbacks. See callbacks.h.
 *
 * libmilter runs each SMTP connection on its own thread; the per-connection
 * state (struct conn) hangs off the milter context and is touched only by
 * that thread.
 *
 * A message's am_msg is created at its first header (or at end of headers),
 * when Postfix and Sendmail have sent the DATA macros, {i} the queue id
 * among them, on the engine of the current configuration generation
 * (gen.h): the message holds a reference to it until it is freed, so a
 * reload or a stop never frees an engine under a message, and a message
 * is judged by one configuration from start to end.
 *
 * A message that cannot be judged (no memory for it, or the daemon is
 * stopping) is tempfailed at end of message (451 4.3.0): delivering it
 * unjudged would also keep any forged Authentication-Results header. That
 * state belongs to the message, not the connection: the next message on
 * the connection starts afresh. Nothing here decides anything else: the
 * verdict comes from lib/.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "callbacks.h"
#include "gen.h"
#include "log.h"
#include "stats.h"

struct conn {
	char client_ip[64];
	char *client_name;
	char *helo;
	char *mail_from;
	char *auth_user;
	char **rcpts;           /* RCPT TO of the current message */
	size_t nrcpts;
	struct am_msg *msg;
	struct am_gen *gen;     /* the generation msg runs on (a reference) */
	const char *unjudged;   /* why this message cannot be judged (it is
	                           tempfailed), or NULL */
	struct timespec t0;     /* the message's first callback (MAIL FROM) */
	unsigned long nr;       /* SMFIP_NR_* steps the MTA agreed to */
	int leadspc;            /* SMFIP_HDR_LEADSPC agreed: values carry
	                           the space after the colon, both ways */
};

static struct conn *
conn_of(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

/* The reply for a step: none at all when the MTA agreed to SMFIP_NR_*. */
static sfsistat
cont(const struct conn *c, unsigned long nr_flag)
{
	return c != NULL && (c->nr & nr_flag) != 0 ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static void
replace(char **slot, const char *value)
{
	free(*slot);
	*slot = value != NULL ? strdup(value) : NULL;
}

/* Forget the current message, keep the connection. */
static void
msg_reset(struct conn *c)
{
	size_t i;

	for (i = 0; i < c->nrcpts; i++)
		free(c->rcpts[i]);
	free(c->rcpts);
	c->rcpts = NULL;
	c->nrcpts = 0;
	c->msg = am_msg_free(c->msg);
	am_gen_release(c->gen);
	c->gen = NULL;
	c->unjudged = NULL;
	replace(&c->mail_from, NULL);
	replace(&c->auth_user, NULL);
}

static sfsistat
cb_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	struct conn *c = conn_of(ctx);
	const char *ip;

	if (c == NULL && (c = calloc(1, sizeof(*c))) == NULL) {
		log_error("out of memory at connect; its messages are tempfailed");
		return SMFIS_TEMPFAIL;
	}
	if (sa != NULL && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)sa)->sin_addr,
		    c->client_ip, sizeof(c->client_ip));
	else if (sa != NULL && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)sa)->sin6_addr,
		    c->client_ip, sizeof(c->client_ip));
	else if ((ip = smfi_getsymval(ctx, "{client_addr}")) != NULL)
		snprintf(c->client_ip, sizeof(c->client_ip), "%s", ip);
	c->client_name = hostname != NULL ? strdup(hostname) : NULL;
	smfi_setpriv(ctx, c);
	return cont(c, SMFIP_NR_CONN);
}

static sfsistat
cb_helo(SMFICTX *ctx, char *helo)
{
	struct conn *c = conn_of(ctx);

	if (c != NULL)
		replace(&c->helo, helo);
	return cont(c, SMFIP_NR_HELO);
}

static sfsistat
cb_envfrom(SMFICTX *ctx, char **argv)
{
	struct conn *c = conn_of(ctx);

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	msg_reset(c);
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	replace(&c->mail_from, argv[0]);
	replace(&c->auth_user, smfi_getsymval(ctx, "{auth_authen}"));
	return cont(c, SMFIP_NR_MAIL);
}

/* A recipient: kept for the engine (IgnoreRecipients, reports), at most
 * AM_MSG_RCPT_MAX; the MTA does not wait for this reply. */
static sfsistat
cb_envrcpt(SMFICTX *ctx, char **argv)
{
	struct conn *c = conn_of(ctx);
	char **v;

	if (c == NULL || argv[0] == NULL || c->nrcpts >= AM_MSG_RCPT_MAX + 1)
		return cont(c, SMFIP_NR_RCPT);
	if ((v = realloc(c->rcpts, (c->nrcpts + 1) * sizeof(*v))) != NULL) {
		c->rcpts = v;
		if ((v[c->nrcpts] = strdup(argv[0])) != NULL)
			c->nrcpts++;
	}
	return cont(c, SMFIP_NR_RCPT);
}

/* Create the message on first need, with the DATA-time macros. */
static struct am_msg *
msg_of(SMFICTX *ctx, struct conn *c)
{
	struct am_envelope env;

	if (c->msg != NULL || c->unjudged != NULL)
		return c->msg;
	memset(&env, 0, sizeof(env));
	env.queue_id = smfi_getsymval(ctx, "i");
	env.client_ip = c->client_ip[0] != '\0' ? c->client_ip : NULL;
	env.client_name = c->client_name;
	env.helo = c->helo;
	env.mail_from = c->mail_from;
	env.auth_user = c->auth_user;
	if (env.auth_user == NULL)
		env.auth_user = smfi_getsymval(ctx, "{auth_authen}");
	env.authserv_id = smfi_getsymval(ctx, "j");
	env.receiver = env.authserv_id;
	env.rcpts = (const char *const *)c->rcpts;
	env.nrcpts = c->nrcpts;
	if ((c->gen = am_gen_acquire()) == NULL) {
		c->unjudged = "authmilter is stopping";
		return NULL;
	}
	if ((c->msg = am_msg_new(c->gen->engine, &env)) == NULL) {
		log_error("%s: out of memory; the message will be tempfailed",
		    env.queue_id != NULL ? env.queue_id : "NOQUEUE");
		am_gen_release(c->gen);
		c->gen = NULL;
		c->unjudged = "out of memory";
	}
	return c->msg;
}

static sfsistat
cb_header(SMFICTX *ctx, char *name, char *value)
{
	struct conn *c = conn_of(ctx);
	struct am_msg *m;

	if (c != NULL && (m = msg_of(ctx, c)) != NULL)
		am_msg_header(m, name, value, strlen(value));
	return cont(c, SMFIP_NR_HDR);
}

static sfsistat
cb_eoh(SMFICTX *ctx)
{
	struct conn *c = conn_of(ctx);
	struct am_msg *m;

	if (c != NULL && (m = msg_of(ctx, c)) != NULL)
		am_msg_end_headers(m);
	return cont(c, SMFIP_NR_EOH);
}

static sfsistat
cb_body(SMFICTX *ctx, unsigned char *buf, size_t len)
{
	struct conn *c = conn_of(ctx);

	if (c != NULL && c->msg != NULL)
		am_msg_body(c->msg, buf, len);
	return cont(c, SMFIP_NR_BODY);
}

/* Insert one field at the top; the value gets the leading space if agreed. */
static void
insert_top(SMFICTX *ctx, const struct conn *c, const char *name,
    const char *value, const char *qid)
{
	char *v;

	/* With SMFIP_HDR_LEADSPC the MTA copies our value verbatim after the colon. */
	if (asprintf(&v, "%s%s", c->leadspc ? " " : "", value) < 0) {
		log_error("%s: out of memory adding %s", qid, name);
		return;
	}
	if (smfi_insheader(ctx, 0, (char *)name, v) != MI_SUCCESS)
		log_warnx("%s: could not add %s", qid, name);
	free(v);
}

/*
 * Apply the verdict's header changes: forged A-R out; ours, and our ARC
 * set above it, in at the top (each insert goes above the previous one).
 */
static void
edit_headers(SMFICTX *ctx, const struct conn *c, const struct am_verdict *v,
    const char *qid)
{
	size_t i;

	/* From the last to the first, so earlier indexes do not shift. */
	for (i = v->nar_remove; i > 0; i--)
		if (smfi_chgheader(ctx, "Authentication-Results",
		    (int)v->ar_remove[i - 1], NULL) != MI_SUCCESS)
			log_warnx("%s: could not remove Authentication-Results #%zu",
			    qid, v->ar_remove[i - 1]);
	/* ForgedHeaders rename: a trace for the postmaster, under a name no
	 * reader takes for a result of ours (values keep their own spacing). */
	for (i = 0; v->ar_rename && i < v->nar_remove; i++)
		if (v->ar_remove_value[i] != NULL && smfi_addheader(ctx,
		    "X-Original-Authentication-Results", v->ar_remove_value[i]) !=
		    MI_SUCCESS)
			log_warnx("%s: could not add X-Original-Authentication-Results",
			    qid);
	if (v->authres != NULL)
		insert_top(ctx, c, "Authentication-Results", v->authres, qid);
	if (v->arc_seal == NULL)
		return;
	insert_top(ctx, c, "ARC-Authentication-Results", v->arc_authres, qid);
	insert_top(ctx, c, "ARC-Message-Signature", v->arc_message_signature, qid);
	insert_top(ctx, c, "ARC-Seal", v->arc_seal, qid);
}

/*
 * Set the SMTP reply. libmilter reads the text as a printf-style format
 * (a literal '%' must be "%%"), and the text may hold a From domain.
 */
static void
set_reply(SMFICTX *ctx, const struct am_verdict *v, const char *qid)
{
	const char *t = v->smtp_text != NULL ? v->smtp_text : "";
	char *esc, *o;

	if ((esc = malloc(2 * strlen(t) + 1)) == NULL) {
		log_error("%s: out of memory setting the SMTP reply", qid);
		return;
	}
	for (o = esc; *t != '\0'; t++) {
		if (*t == '%')
			*o++ = '%';
		*o++ = *t;
	}
	*o = '\0';
	if (smfi_setreply(ctx, (char *)v->smtp_rcode, (char *)v->smtp_xcode,
	    esc) != MI_SUCCESS)
		log_warnx("%s: could not set the SMTP reply", qid);
	free(esc);
}

/* Turn the verdict's action into the milter reply. */
static sfsistat
reply(SMFICTX *ctx, const struct am_verdict *v, const char *qid)
{
	switch (v->action) {
	case AM_ACTION_ACCEPT:
		return SMFIS_CONTINUE;
	case AM_ACTION_QUARANTINE:
		if (smfi_quarantine(ctx, (char *)(v->smtp_text != NULL ?
		    v->smtp_text : "authmilter policy")) != MI_SUCCESS)
			log_warnx("%s: quarantine request failed", qid);
		return SMFIS_CONTINUE;
	case AM_ACTION_REJECT:
	case AM_ACTION_TEMPFAIL:
		if (v->smtp_rcode != NULL)
			set_reply(ctx, v, qid);
		return v->action == AM_ACTION_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
	}
	return SMFIS_CONTINUE;
}

/*
 * A message we could not judge: 451, never delivered unjudged with forged
 * headers kept. Logged like a decision (none is logged once closed).
 */
static sfsistat
tempfail_unjudged(SMFICTX *ctx, const char *why, const char *qid)
{
	if (smfi_setreply(ctx, "451", "4.3.0",
	    "Message could not be checked, try again later") != MI_SUCCESS)
		log_warnx("%s: could not set the SMTP reply", qid);
	am_stats_count(AM_STATS_UNCHECKED);
	if (am_gen_log_begin()) {
		log_info("%s action=tempfail not checked (%s)", qid, why);
		am_gen_log_end();
	}
	return SMFIS_TEMPFAIL;
}

/* Seconds since t0 (0 when t0 was never set). */
static double
seconds_since(const struct timespec *t0)
{
	struct timespec t;

	if (t0->tv_sec == 0 && t0->tv_nsec == 0)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The decision's log line: text (queue id, then the verdict) or JSON. */
static void
log_decision(const char *qid, const struct am_verdict *v, int format)
{
	struct am_buf j = AM_BUF_INIT(AM_VERDICT_JSON_MAX + 40960);

	if (format == AM_LOGFORMAT_JSON && am_verdict_json(v, &j) == 0)
		log_info("%s", am_buf_str(&j));
	else
		log_info("%s %s", qid, am_buf_str(&v->log));
	am_buf_release(&j);
}

static sfsistat
cb_eom(SMFICTX *ctx)
{
	struct conn *c = conn_of(ctx);
	const struct am_verdict *v;
	const char *qid;
	struct am_msg *m;
	sfsistat r;

	if ((qid = smfi_getsymval(ctx, "i")) == NULL)
		qid = "NOQUEUE";
	if (c == NULL)
		return tempfail_unjudged(ctx, "out of memory", qid);
	if ((m = msg_of(ctx, c)) == NULL) {
		r = tempfail_unjudged(ctx, c->unjudged, qid);
		msg_reset(c);
		return r;
	}
	v = am_msg_finish(m);
	edit_headers(ctx, c, v, qid);
	r = reply(ctx, v, qid);
	am_stats_verdict(v, seconds_since(&c->t0));
	if (am_gen_log_begin()) {
		log_decision(qid, v, am_msg_config(m)->log_format);
		am_log_dns_trace(qid, m);
		am_gen_log_end();
	} else
		r = tempfail_unjudged(ctx, "authmilter stopped", qid);
	msg_reset(c);
	return r;
}

/*
 * DATA is always answered (never SMFIP_NODATA or SMFIP_NR_DATA), though the
 * reply never varies. Postfix's smtpd(8) buffers the steps that want no
 * reply (ABORT, MAIL, the RCPT and DATA macros) and flushes them when it
 * hands the milter socket to cleanup(8), which at once writes the header
 * block. Over TCP that second small write waits under Nagle (Postfix sets
 * no TCP_NODELAY) until we acknowledge the first, and our ACK is a delayed
 * one (Linux delays it up to 40 ms on a connection where we just replied):
 * 40 ms per message. Our reply to DATA carries the ACK, and smtpd waits
 * for it before the handoff. Cost: one round trip per message. Unix
 * sockets have no Nagle and never stalled.
 */
static sfsistat
cb_data(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat
cb_abort(SMFICTX *ctx)
{
	struct conn *c = conn_of(ctx);

	if (c != NULL)
		msg_reset(c);
	return SMFIS_CONTINUE;
}

static sfsistat
cb_close(SMFICTX *ctx)
{
	struct conn *c = conn_of(ctx);

	if (c == NULL)
		return SMFIS_CONTINUE;
	msg_reset(c);
	free(c->client_name);
	free(c->helo);
	free(c);
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

/*
 * Steps whose reply never varies: with these flags the MTA does not wait
 * for one (the connection is always judged at end of message; nothing is
 * refused at connect, MAIL, or header time).
 */
#define NR_STEPS (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | \
	SMFIP_NR_RCPT | SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY)

static sfsistat
cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	unsigned long want = f1 & SMFIP_HDR_LEADSPC;
	struct conn *c;

	(void)f2;
	(void)f3;
	*pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE |
	    SMFIF_SETSYMLIST);
	/* Steps we never use; skipping them saves a round trip each. RCPT
	 * is used (IgnoreRecipients, reports), without a reply; DATA is not
	 * skipped: see cb_data(). */
	want |= f1 & SMFIP_NOUNKNOWN;
	/* Replies we never vary: the MTA need not wait for them. */
	want |= f1 & NR_STEPS;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return SMFIS_REJECT;
	c->nr = want & NR_STEPS;
	c->leadspc = (f1 & SMFIP_HDR_LEADSPC) != 0;
	smfi_setpriv(ctx, c);
	if ((f1 & SMFIP_HDR_LEADSPC) == 0)
		log_warnx("MTA does not offer SMFIP_HDR_LEADSPC: header white space "
		    "after the colon is lost");
	*pf1 = want;
	*pf2 = *pf3 = 0;
	if ((*pf0 & SMFIF_SETSYMLIST) != 0) {
		smfi_setsymlist(ctx, SMFIM_CONNECT, "j {client_addr} {daemon_name}");
		smfi_setsymlist(ctx, SMFIM_ENVFROM, "i {auth_authen} {mail_addr}");
		smfi_setsymlist(ctx, SMFIM_ENVRCPT, "{rcpt_addr}");
		smfi_setsymlist(ctx, SMFIM_EOH, "i j {auth_authen}");
		smfi_setsymlist(ctx, SMFIM_EOM, "i j");
	}
	return SMFIS_CONTINUE;
}

static struct smfiDesc desc = {
	.xxfi_name = "authmilter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE,
	.xxfi_connect = cb_connect,
	.xxfi_helo = cb_helo,
	.xxfi_envfrom = cb_envfrom,
	.xxfi_envrcpt = cb_envrcpt,
	.xxfi_header = cb_header,
	.xxfi_eoh = cb_eoh,
	.xxfi_body = cb_body,
	.xxfi_data = cb_data,
	.xxfi_eom = cb_eom,
	.xxfi_abort = cb_abort,
	.xxfi_close = cb_close,
	.xxfi_negotiate = cb_negotiate,
};

struct smfiDesc *
am_callbacks_desc(void)
{
	return &desc;
}
