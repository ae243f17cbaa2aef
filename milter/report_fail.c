/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_fail: send the recorded failure reports (RFC 9991). See
 * report_fail.h.
 *
 * Per entry: its ruf URIs are decoded (mailto only, as for rua); each
 * address is verified (report_dest.c with ruf=); an authorized address
 * takes one slot of its hourly rate in the store -- a full hour drops
 * the report for that address (counted), it is never queued for later,
 * as RFC 9991 s.8.1 asks rate limits to discard; then the message is
 * written by am_report_afrf_write() straight into the transport. The
 * entry is marked sent when every address is settled; a DNS or transport
 * failure keeps it (the next run tries all of its addresses again, so a
 * report may arrive twice, never not at all while it is retained).
 *
 * SPF-DNS (RFC 9991 s.4, required for an SPF failure of an aligned
 * identifier) is the SPF record of the checked domain as it is at
 * sending time: the daemon does not keep record texts, and a report is
 * sent minutes after the message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "report_afrf.h"
#include "report_dest.h"
#include "report_fail.h"

/* An entry copied out of the store (its strings live until the next
 * store call). */
struct entry {
	struct am_report_failure_entry e;
	char *buf[16];
	size_t nbuf;
};

static const char *
keep(struct entry *x, const char *s)
{
	char *d;

	if (s == NULL || x->nbuf == sizeof(x->buf) / sizeof(x->buf[0]) ||
	    (d = strdup(s)) == NULL)
		return s == NULL ? NULL : "";
	x->buf[x->nbuf++] = d;
	return d;
}

static void
entry_copy(struct entry *x, const struct am_report_failure_entry *e)
{
	memset(x, 0, sizeof(*x));
	x->e.id = e->id;
	x->e.time = e->time;
	x->e.source_ip = keep(x, e->source_ip);
	x->e.policy_domain = keep(x, e->policy_domain);
	x->e.header_from = keep(x, e->header_from);
	x->e.mail_from = keep(x, e->mail_from);
	x->e.ruf = keep(x, e->ruf);
	x->e.fo = keep(x, e->fo);
	x->e.identity_alignment = keep(x, e->identity_alignment);
	x->e.delivery_result = keep(x, e->delivery_result);
	x->e.dkim_domain = keep(x, e->dkim_domain);
	x->e.dkim_selector = keep(x, e->dkim_selector);
	x->e.dkim_identity = keep(x, e->dkim_identity);
	x->e.spf_domain = keep(x, e->spf_domain);
	x->e.authres = keep(x, e->authres);
	x->e.headers = keep(x, e->headers);
}

static void
entry_free(struct entry *x)
{
	size_t i;

	for (i = 0; i < x->nbuf; i++)
		free(x->buf[i]);
	x->nbuf = 0;
}

/* A random token of 2 * n hex digits (the MIME boundary, Message-ID). */
static void
token(char *out, size_t n)
{
	unsigned char r[16];
	size_t i;

	if (n > sizeof(r))
		n = sizeof(r);
	if (RAND_bytes(r, (int)n) != 1)
		memset(r, 0, sizeof(r));
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
}

/* SPF-DNS of the entry's SPF domain, when SPF failed aligned: 0 or -1. */
static int
spf_dns(struct am_report_fail_ctx *c, const struct am_report_failure_entry *e,
    struct am_buf *out)
{
	struct am_dns_answer *ans = NULL;
	size_t i, k;
	const char *t;

	if (e->spf_domain == NULL || *e->spf_domain == '\0' ||
	    e->identity_alignment == NULL ||
	    strstr(e->identity_alignment, "spf") == NULL ||
	    am_dns_query(c->dns, e->spf_domain, AM_DNS_T_TXT, &ans, NULL) !=
	    AM_DNS_OK)
		goto none;
	for (i = 0; ans != NULL && i < ans->count; i++) {
		t = ans->rr[i].text;
		if (ans->rr[i].type != AM_DNS_T_TXT || t == NULL ||
		    strlen(t) != ans->rr[i].textlen ||
		    strncasecmp(t, "v=spf1", 6) != 0 ||
		    (t[6] != '\0' && t[6] != ' ') || ans->rr[i].textlen > 600)
			continue;
		am_buf_printf(out, "txt : %s : \"", e->spf_domain);
		for (k = 0; t[k] != '\0'; k++) {
			if (t[k] == '"' || t[k] == '\\')
				am_buf_addc(out, '\\');
			am_buf_addc(out, t[k]);
		}
		am_buf_addc(out, '"');
		am_dns_answer_free(ans);
		return 0;
	}
none:
	am_dns_answer_free(ans);
	return -1;
}

struct write_arg {
	const struct am_report_afrf *a;
};

static int
afrf_writer(void *arg, FILE *out, struct am_buf *why)
{
	struct write_arg *w = arg;

	return am_report_afrf_write(w->a, out, why);
}

/* Addresses an entry went to: one report per address, however often
 * (and in whatever spelling) the ruf list names it. */
struct seen {
	size_t n;
	char addr[AM_REPORT_URI_COUNT][AM_REPORT_ADDR_MAX];
};

static int
seen_before(struct seen *sn, const char *addr)
{
	size_t i;

	for (i = 0; i < sn->n; i++)
		if (strcmp(sn->addr[i], addr) == 0)
			return 1;
	if (sn->n < AM_REPORT_URI_COUNT)
		snprintf(sn->addr[sn->n++], AM_REPORT_ADDR_MAX, "%s", addr);
	return 0;
}

/* One address of an entry: 0 settled, -1 to retry on the next run. */
static int
send_to(struct am_report_fail_ctx *c, const struct am_report_failure_entry *e,
    const char *uri, const char *spf, struct seen *sn)
{
	char addr[AM_REPORT_ADDR_MAX], host[AM_DNS_NAME_MAX + 1], tok[33];
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_afrf a;
	struct write_arg w = { &a };
	int rc = 0, r;

	if (am_report_rua_mailto(uri, addr, host, &why) != 0) {
		c->warn("%s: ruf %s skipped: %s", e->policy_domain, uri,
		    am_buf_str(&why));
		c->refused++;
		goto out;
	}
	if (seen_before(sn, addr))
		goto out;
	switch (am_report_dest_verify_ruf(c->dconf, c->dns, e->policy_domain,
	    addr, host, &why)) {
	case AM_REPORT_DEST_OK:
		break;
	case AM_REPORT_DEST_REFUSED:
		c->warn("%s: ruf %s refused: %s", e->policy_domain, uri,
		    am_buf_str(&why));
		c->refused++;
		goto out;
	case AM_REPORT_DEST_TEMPFAIL:
		c->warn("%s: ruf %s: %s (will retry)", e->policy_domain, uri,
		    am_buf_str(&why));
		rc = -1;
		goto out;
	}
	if ((r = c->store->ops->fail_rate(c->store->state, addr, c->now -
	    c->now % 3600, c->rate, &why)) != 0) {
		if (r < 0) {
			c->warn("%s", am_buf_str(&why));
			c->failed = 1;
			rc = -1;
		} else {
			c->over_rate++;
		}
		goto out;
	}
	token(tok, 16);
	memset(&a, 0, sizeof(a));
	a.from = c->from;
	a.to = addr;
	a.submitter = c->submitter;
	a.user_agent = c->user_agent;
	a.token = tok;
	a.spf_dns = spf;
	a.now = c->now;
	a.e = e;
	if (am_report_deliver(c->transport, c->from, addr, afrf_writer, &w,
	    &why) != 0) {
		c->warn("failure report %lld to %s: %s (will retry)",
		    (long long)e->id, addr, am_buf_str(&why));
		rc = -1;
	} else {
		printf("sent failure report %lld for %s to %s\n",
		    (long long)e->id, e->header_from, addr);
		c->sent++;
	}
out:
	am_buf_release(&why);
	return rc;
}

/* One entry to all of its addresses; marked sent when all are settled. */
static void
send_entry(struct am_report_fail_ctx *c, struct entry *x)
{
	struct am_buf scratch = AM_BUF_INIT(16384), why = AM_BUF_INIT(512);
	struct am_buf spf = AM_BUF_INIT(2048);
	const char *pos, *f[1];
	struct seen *sn;
	int ok = 1;

	if ((sn = calloc(1, sizeof(*sn))) == NULL) {
		c->kept++;
		return;
	}
	spf_dns(c, &x->e, &spf);
	for (pos = x->e.ruf; am_report_dec_item(&pos, &scratch, f, 1) > 0;)
		if (send_to(c, &x->e, f[0], spf.len > 0 && !spf.truncated ?
		    am_buf_str(&spf) : NULL, sn) != 0)
			ok = 0;
	free(sn);
	if (ok && c->store->ops->fail_done(c->store->state, x->e.id, c->now,
	    &why) < 0) {
		c->warn("%s", am_buf_str(&why));
		c->failed = 1;
		ok = 0;
	}
	if (!ok)
		c->kept++;
	am_buf_release(&scratch);
	am_buf_release(&why);
	am_buf_release(&spf);
}

void
am_report_fail_send(struct am_report_fail_ctx *c)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_failure_entry e;
	struct entry x;
	int64_t *ids;
	size_t n = 0, i;
	int rc;

	if ((ids = calloc(AM_REPORT_FAIL_BATCH, sizeof(*ids))) == NULL) {
		c->warn("out of memory");
		c->failed = 1;
		return;
	}
	if (c->store->ops->fail_pending(c->store->state, ids,
	    AM_REPORT_FAIL_BATCH, &n, &why) != 0) {
		c->warn("failure reports: %s", am_buf_str(&why));
		c->failed = 1;
	}
	for (i = 0; i < n; i++) {
		rc = c->store->ops->fail_get(c->store->state, ids[i], &e, &why);
		if (rc != 0) {
			if (rc < 0) {
				c->warn("failure report %lld: %s",
				    (long long)ids[i], am_buf_str(&why));
				c->failed = 1;
			}
			continue;
		}
		entry_copy(&x, &e);
		send_entry(c, &x);
		entry_free(&x);
	}
	free(ids);
	am_buf_release(&why);
}

int
am_report_fail_count(struct am_report_store *s, size_t *n, struct am_buf *why)
{
	size_t max = AM_REPORT_FAIL_BATCH * 10;
	int64_t *ids;
	int rc;

	*n = 0;
	if ((ids = calloc(max, sizeof(*ids))) == NULL) {
		am_buf_setf(why, "out of memory");
		return -1;
	}
	rc = s->ops->fail_pending(s->state, ids, max, n, why);
	free(ids);
	return rc;
}
