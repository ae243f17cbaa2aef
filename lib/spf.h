/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * spf: the Sender Policy Framework, RFC 7208, on lib/dns.
 *
 * Entry points:
 *   am_spf_check_host()  check_host() of RFC 7208 s.4 for one identity
 *   am_spf_mailfrom()    the MAIL FROM identity (s.2.4; null reverse-path
 *                        checks postmaster@HELO)
 *   am_spf_helo()        the HELO identity (s.2.3)
 *   am_spf_record_check() the record parser alone (s.4.6.1, s.12 ABNF)
 *   am_spf_macro_expand() the macro expander alone (s.7)
 *
 * Every syntax error anywhere in a record is permerror before any term is
 * evaluated (s.4.6). Limits of s.4.6.4: 10 DNS-querying terms across
 * include/redirect, 2 void lookups, 10 MX and 10 PTR names, and the
 * elapsed time of one evaluation (timeout_ms, on am_dns_clock()): a lookup
 * is given only the time left, and once a lookup fails at that deadline
 * (or the message's) the result is temperror whatever the record says --
 * a ptr or mx that merely did not match in time must not turn into -all. Macro output is
 * bounded (AM_SPF_EXPAND_MAX). The module keeps no state between calls and
 * is safe on any number of threads.
 */
#ifndef AM_SPF_H
#define AM_SPF_H

#include <time.h>

#include "buf.h"
#include "dns.h"
#include "net.h"

enum am_spf_result {
	AM_SPF_NONE,       /* no SPF record, or no valid domain to check */
	AM_SPF_NEUTRAL,    /* the record makes no assertion (?, or no match) */
	AM_SPF_PASS,       /* the client is authorized */
	AM_SPF_FAIL,       /* the client is explicitly not authorized */
	AM_SPF_SOFTFAIL,   /* probably not authorized (~) */
	AM_SPF_TEMPERROR,  /* a transient DNS error: retry may succeed */
	AM_SPF_PERMERROR,  /* the sender's record is broken: needs a fix */
};

/* Longest expansion of one domain-spec or explanation we produce. */
#define AM_SPF_EXPAND_MAX 2048

struct am_spf_request {
	struct am_addr ip;        /* the SMTP client */
	const char *helo;         /* HELO/EHLO name as given; may be NULL */
	const char *sender;       /* MAIL FROM address without <>; "" for the
	                             null reverse-path */
	const char *receiver;     /* our host name, for %{r}; NULL: "unknown" */
	const char *default_exp;  /* explanation when the record has no exp=
	                             (or it fails); NULL: none */
	time_t now;               /* for %{t}; 0: time(NULL) */
	unsigned timeout_ms;      /* longest one check_host() may take, its
	                             lookups included (s.4.6.4: at least
	                             20 s); past it the result is temperror;
	                             0: AM_SPF_TIMEOUT_DEFAULT */
};

/* RFC 7208 s.4.6.4: "at least 20 seconds" before giving up. */
#define AM_SPF_TIMEOUT_DEFAULT 20000

struct am_spf_response {
	enum am_spf_result result;
	char domain[AM_DNS_NAME_MAX + 1]; /* the <domain> checked (lower case) */
	char identity[16];        /* "mailfrom" or "helo" */
	struct am_buf reason;     /* short reason: the matching mechanism, or
	                             the error ("include:x: no record") */
	struct am_buf explanation;/* expanded exp= text (on fail only) */
	unsigned dns_terms;       /* DNS-querying terms evaluated */
	unsigned void_lookups;
};

/* Initialise a response (buffers empty). */
void am_spf_response_init(struct am_spf_response *r);
/* Free a response's buffers. */
void am_spf_response_release(struct am_spf_response *r);

/*
 * check_host(ip, domain, sender) for the request's client; fills r.
 * Returns r->result.
 */
enum am_spf_result am_spf_check_host(struct am_dns *dns,
    const struct am_spf_request *req, const char *domain,
    struct am_spf_response *r);

/* The MAIL FROM identity: domain of sender, or postmaster@helo when null. */
enum am_spf_result am_spf_mailfrom(struct am_dns *dns,
    const struct am_spf_request *req, struct am_spf_response *r);

/* The HELO identity: check_host for the HELO name with postmaster@helo. */
enum am_spf_result am_spf_helo(struct am_dns *dns,
    const struct am_spf_request *req, struct am_spf_response *r);

/*
 * a is a TXT answer for domain, which a hint brought before any
 * evaluation asked it (dns_msg.c's observer). If it holds exactly one SPF
 * record that parses, hint its terms' lookups (am_dns_prefetch on dns,
 * the message's layer) for a client of ip's family, as the evaluator
 * does once it parses the record -- but only targets without macros
 * (their values need the evaluation's state), at most the term limit's
 * worth per record. Hints are not lookups of s.4.6.4 and change no
 * result. Cheap when a is not SPF (a DKIM key, a DMARC record); does not
 * wait: safe on the resolver's thread.
 */
void am_spf_prefetch_answer(struct am_dns *dns, const struct am_addr *ip,
    const char *domain, const struct am_dns_answer *a);

/* "pass", "fail", ... as in RFC 8601. */
const char *am_spf_result_name(enum am_spf_result r);

/*
 * Parse an SPF record text ("v=spf1 ..."). 0 if it is a syntactically
 * valid record, -1 with the reason in why (permerror; why may be NULL).
 * The evaluator uses the same parser before evaluation.
 */
int am_spf_record_check(const char *record, size_t len, struct am_buf *why);

/*
 * Expand a macro-string (s.7.1). exp nonzero: explanation context, where
 * %{c} %{r} %{t} are allowed and literal text may contain spaces; zero: a
 * domain-spec, whose result loses a trailing dot and is cut from the left
 * to 253 octets (s.7.3). domain is the current <domain>. dns is used only
 * for %{p} (NULL: %{p} is "unknown"). Output into out, reset first
 * (capped at AM_SPF_EXPAND_MAX and at out's cap). 0, or -1 with why
 * (syntax error: permerror).
 */
int am_spf_macro_expand(struct am_dns *dns, const char *spec, size_t len,
    const struct am_spf_request *req, const char *domain, int exp,
    struct am_buf *out, struct am_buf *why);

#endif
