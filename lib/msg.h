/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * msg: the verification engine's front door.
 *
 * The milter and the --check command drive the same calls, so what the check
 * command says about a message is what the daemon does with it:
 *
 *   e = am_engine_new(conf, dns)          once; shared by all threads
 *   m = am_msg_new(e, &envelope)          per message
 *   am_msg_header(m, name, value, len)*   each header field, in order
 *   am_msg_end_headers(m)
 *   am_msg_body(m, buf, len)*             body chunks (CRLF line ends)
 *   v = am_msg_finish(m)                  the verdict (owned by m)
 *   m = am_msg_free(m)
 *
 * The engine never sees a socket or a milter context. Memory per message
 * is bounded by the configuration's header caps; the body is never held.
 */
#ifndef AM_MSG_H
#define AM_MSG_H

#include <stddef.h>

#include "arc.h"
#include "buf.h"
#include "config.h"
#include "dkim.h"
#include "dmarc.h"
#include "dns.h"
#include "spf.h"

struct am_engine;
struct am_msg;

/* What the MTA told us about the SMTP transaction. */
struct am_envelope {
	const char *queue_id;     /* for log lines; may be NULL */
	const char *client_ip;    /* textual; NULL or unparsable: not judged
	                             by SPF (result none, reason given) */
	const char *client_name;  /* reverse name, may be NULL */
	const char *helo;         /* HELO/EHLO argument, may be NULL */
	const char *mail_from;    /* MAIL FROM address, with or without <>;
	                             "" or "<>" = null reverse-path */
	const char *auth_user;    /* SMTP AUTH user ({auth_authen}), or NULL */
	const char *authserv_id;  /* used when the config has no AuthservID
	                             (the MTA's j macro); NULL: host name */
	const char *receiver;     /* our host name for SPF %{r}; may be NULL */
	const char *const *rcpts; /* RCPT TO addresses (with or without <>);
	                             the first AM_MSG_RCPT_MAX are kept */
	size_t nrcpts;
};

/* Recipients a message keeps (Postfix's smtpd_recipient_limit default). */
#define AM_MSG_RCPT_MAX 1000

enum am_action {
	AM_ACTION_ACCEPT,      /* deliver, with our header */
	AM_ACTION_REJECT,      /* 5xx */
	AM_ACTION_QUARANTINE,  /* deliver to the MTA's quarantine (hold) */
	AM_ACTION_TEMPFAIL,    /* 4xx */
};

/*
 * The verdict record: everything decided about one message, filled by
 * am_msg_finish() in three steps -- checks (results), overrides, decision
 * (action) -- and then read, never changed, by every writer of output: the
 * Authentication-Results header, the log line, and the daemon's report row
 * and metrics. Pointers stay valid until am_msg_free().
 */
struct am_verdict {
	/* the transaction */
	const char *queue_id;       /* "NOQUEUE" when unknown */
	const char *client_ip;      /* NULL when unknown */
	const char *helo;           /* may be NULL */
	const char *mail_from;      /* bare address; "" for <> */
	char **rcpts;               /* RCPT TO addresses as the MTA gave them */
	size_t nrcpts;              /* kept (at most AM_MSG_RCPT_MAX) */
	int rcpts_ignored;          /* every recipient is in IgnoreRecipients */
	int judged;                 /* 0: trusted or authenticated, no checks */
	const char *skip_reason;    /* why not judged ("trusted network") */
	const char *limit_exceeded; /* a header cap was hit: which, or NULL */

	/* results of the checks */
	struct am_spf_response spf_mailfrom; /* valid when spf_mailfrom_done */
	struct am_spf_response spf_helo;     /* valid when spf_helo_done */
	int spf_mailfrom_done, spf_helo_done;
	const char *spf_none_reason; /* SPF on but not run ("no client IP") */
	const struct am_dkim *dkim; /* per-signature verdicts (am_dkim_count,
	                               am_dkim_sig); NULL when not verified */
	const struct am_arc_result *arc; /* NULL when ARC was not checked */
	const struct am_dmarc_response *dmarc; /* NULL when not evaluated;
	                               its override and disposition are
	                               final after the override step */
	const char *override_note;  /* more on the override ("arc=pass as=2
	                               d=list.example"), or "" */

	/* the decision */
	enum am_action action;
	const char *smtp_rcode;     /* "550" etc., NULL for accept */
	const char *smtp_xcode;     /* "5.7.1" etc. */
	const char *smtp_text;
	const char *policy_reason;  /* short reason for the log, or "" */

	/* output written from the above */
	const char *authres;        /* value of the A-R header to add at the top,
	                               NULL when none is added */
	const char *authserv_id;    /* the id used */
	size_t *ar_remove;          /* indexes (1-based, among header fields
	                               named Authentication-Results) to remove */
	char **ar_remove_value;     /* their values; an entry is NULL when it
	                               was not kept (over MaxHeaderBytes) */
	size_t nar_remove;
	int ar_rename;              /* ForgedHeaders rename: add each removed
	                               value as X-Original-Authentication-Results */
	const char *arc_seal;       /* our new ARC set (values, "\n\t" folded) */
	const char *arc_message_signature; /* to insert at the top in this */
	const char *arc_authres;    /* order, ARC-Seal first; NULL: none */
	const char *arc_seal_note;  /* "i=2 cv=pass", "none (why)", or NULL */
	struct am_buf log;          /* one-line summary without the queue id,
	                               the action first */
	int report_queued;          /* a DMARC report row was queued */
};

/*
 * A new engine over conf and dns (neither taken over; both must outlive the
 * engine). Thread safe afterwards: messages on many threads at once.
 * NULL with why on error.
 */
struct am_engine *am_engine_new(const struct am_config *conf, struct am_dns *dns,
    struct am_buf *why);
/*
 * Record a DMARC report row for every judged message with a policy record
 * through rep (not taken over; must outlive the engine), or stop with NULL.
 * Call before messages start.
 */
struct am_reporter;
void am_engine_set_reporter(struct am_engine *e, struct am_reporter *rep);
/* Free the engine; returns NULL. */
struct am_engine *am_engine_free(struct am_engine *e);

/* Start a message; the envelope strings are copied. NULL if out of memory. */
struct am_msg *am_msg_new(struct am_engine *e, const struct am_envelope *env);
/*
 * One header field: name, and the raw value after the colon (leading space
 * kept, LF or CRLF line breaks). Over the caps the field is not stored and
 * the message is marked (a permerror for checks that need the headers).
 */
void am_msg_header(struct am_msg *m, const char *name, const char *value,
    size_t vlen);
/* All header fields have arrived. */
void am_msg_end_headers(struct am_msg *m);
/* A body chunk (CRLF line ends). */
void am_msg_body(struct am_msg *m, const void *buf, size_t len);
/*
 * Run the checks; the verdict stays valid until am_msg_free(). From here
 * the checks have MessageTimeout: past it, lookups are TEMPFAIL at once.
 */
const struct am_verdict *am_msg_finish(struct am_msg *m);
/*
 * Each DNS query the message made (name, type, status, TTL, cache or
 * wire), in order, for the debug log; call after am_msg_finish(). Returns
 * how many were not traced (over AM_DNS_TRACE_MAX).
 */
size_t am_msg_dns_trace(struct am_msg *m,
    void (*fn)(const struct am_dns_trace *t, void *arg), void *arg);
/* Free the message; returns NULL. NULL is a no-op. */
struct am_msg *am_msg_free(struct am_msg *m);

/* "accept", "reject", ... */
const char *am_action_name(enum am_action a);

/* The configuration the message is judged by (its engine's). */
const struct am_config *am_msg_config(const struct am_msg *m);

/* Soft cap of am_verdict_json()'s object: DKIM results past it are counted. */
#define AM_VERDICT_JSON_MAX 8192
/*
 * Append the verdict as one JSON object (no newline) to out, the fields of
 * the log line under stable names (msg_verdict_json.c, authmilter.conf(5)
 * LogFormat). Strings are escaped per RFC 8259, ill-formed UTF-8 replaced
 * by U+FFFD. 0, or -1 when out was truncated (nothing or a cut object was
 * appended: do not log it).
 */
int am_verdict_json(const struct am_verdict *v, struct am_buf *out);

#endif
