/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * msg_verdict: the Authentication-Results header (RFC 8601 s.2.7, RFC 6008
 * header.b) and the decision log line, both written from the verdict
 * record alone.
 *
 * The header never loses a result: spf, arc and dmarc are always written.
 * It is kept under AM_AUTHRES_MAX bytes by capping each value (authres.c)
 * and by listing DKIM results only while they fit -- the signature that
 * made DMARC pass first -- and summarising the rest in one entry:
 *   dkim=policy (4 more results not listed: 1 fail, 3 neutral)
 * The log line starts with the action and the DMARC result; DKIM results
 * come last, listed while they fit in AM_MSG_LOG_MAX and then counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "idna.h"
#include "msg_int.h"

/* Room kept at the end of the header for the DKIM summary. */
#define SUMMARY_ROOM 128

/* The HELO name as reported: RFC 8616, one with U-labels is shown as the
 * A-labels SPF checked. */
static const char *
helo_shown(const struct am_verdict *v, const struct am_spf_response *r)
{
	const char *h = v->helo != NULL ? v->helo : "";

	if (!am_idna_is_ascii(h, strlen(h)) && r != NULL && r->domain[0] != '\0')
		return r->domain;
	return h;
}

/* One spf= entry. */
static void
ar_spf(struct am_authres *ar, const struct am_verdict *v,
    const struct am_spf_response *r, int helo)
{
	am_authres_method(ar, "spf", am_spf_result_name(r->result),
	    am_buf_str(&r->reason));
	if (helo)
		am_authres_prop(ar, "smtp.helo", helo_shown(v, r));
	else
		am_authres_prop(ar, "smtp.mailfrom", r->domain);
}

/* The SPF entries; with a null reverse-path the MAIL FROM check was the
 * HELO identity. */
static void
ar_spf_all(struct am_authres *ar, const struct am_verdict *v)
{
	if (v->spf_none_reason != NULL)
		am_authres_method(ar, "spf", "none", v->spf_none_reason);
	if (v->spf_mailfrom_done)
		ar_spf(ar, v, &v->spf_mailfrom, v->mail_from[0] == '\0');
	if (v->spf_helo_done)
		ar_spf(ar, v, &v->spf_helo, 1);
}

/* One dkim= entry (RFC 8601 s.2.7.1, RFC 6008). */
static void
ar_dkim(struct am_authres *ar, const struct am_dkim_sig *s)
{
	am_authres_method(ar, "dkim", am_dkim_result_name(s->result), s->reason);
	if (s->domain[0] != '\0')
		am_authres_prop(ar, "header.d", s->domain);
	if (s->identity[0] != '\0')
		am_authres_prop(ar, "header.i", s->identity);
	if (s->selector[0] != '\0')
		am_authres_prop(ar, "header.s", s->selector);
	if (s->algorithm[0] != '\0')
		am_authres_prop(ar, "header.a", s->algorithm);
	if (s->b_prefix[0] != '\0')
		am_authres_prop(ar, "header.b", s->b_prefix);
}

/* The comment of the dmarc= result: policy properties, as large receivers
 * write. */
static void
dmarc_comment(const struct am_verdict *v, struct am_buf *c)
{
	const struct am_dmarc_response *d = v->dmarc;

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
		if (v->override_note[0] != '\0')
			am_buf_printf(c, " %s", v->override_note);
	}
	if (d->result != AM_DMARC_PASS && d->why.len > 0)
		am_buf_printf(c, "%s%s", c->len ? "; " : "", am_buf_str(&d->why));
}

/* The arc= and dmarc= entries. */
static void
ar_tail(struct am_authres *ar, const struct am_verdict *v)
{
	const struct am_dmarc_response *d = v->dmarc;
	struct am_buf c = AM_BUF_INIT(1024);
	char n[16];

	if (v->arc != NULL) {
		am_authres_method(ar, "arc", am_arc_cv_name(v->arc->cv), v->arc->reason);
		if (v->client_ip != NULL)
			am_authres_prop(ar, "smtp.remote-ip", v->client_ip);
		if (v->arc->cv == AM_ARC_PASS && v->arc->oldest_pass > 0) {
			snprintf(n, sizeof(n), "%u", v->arc->oldest_pass);
			am_authres_prop(ar, "header.oldest-pass", n);
		}
	}
	if (d == NULL)
		return;
	dmarc_comment(v, &c);
	am_authres_method(ar, "dmarc", am_dmarc_result_name(d->result), am_buf_str(&c));
	if (d->from_domain[0] != '\0')
		am_authres_prop(ar, "header.from", d->from_domain);
	if (d->result == AM_DMARC_FAIL && d->have_record)
		am_authres_prop(ar, "policy.dmarc", am_dmarc_policy_name(
		    d->disposition == AM_DMARC_P_UNSET ? AM_DMARC_P_NONE : d->disposition));
	am_buf_release(&c);
}

/* Bytes a dkim= entry takes. */
static size_t
dkim_len(const struct am_dkim_sig *s)
{
	struct am_authres scratch;
	size_t n;

	am_authres_begin(&scratch, "");
	ar_dkim(&scratch, s);
	n = scratch.out.len;
	am_authres_release(&scratch);
	return n;
}

/* Index of the signature that made DMARC pass, or (size_t)-1. */
static size_t
dmarc_sig(const struct am_verdict *v, size_t n)
{
	size_t i;

	if (v->dmarc == NULL || !v->dmarc->dkim_aligned)
		return (size_t)-1;
	for (i = 0; i < n; i++) {
		const struct am_dkim_sig *s = am_dkim_sig(v->dkim, i);
		if (s->result == AM_DKIM_PASS &&
		    strcasecmp(s->domain, v->dmarc->dkim_domain) == 0)
			return i;
	}
	return (size_t)-1;
}

/* Counts by result of the signatures not listed, as "1 fail, 3 neutral". */
static void
summary(const struct am_verdict *v, const char *shown, size_t n,
    int unverified, struct am_buf *out)
{
	unsigned cnt[AM_DKIM_PERMERROR + 1] = { 0 };
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		const struct am_dkim_sig *s = am_dkim_sig(v->dkim, i);
		if (!shown[i] && (s->unverified != 0) == unverified)
			cnt[s->result]++;
	}
	for (r = 0; r <= AM_DKIM_PERMERROR; r++)
		if (cnt[r] > 0)
			am_buf_printf(out, "%s%u %s", out->len ? ", " : "", cnt[r],
			    am_dkim_result_name((enum am_dkim_result)r));
}

/* The dkim= entries that fit in room bytes; the rest summarised. */
static void
ar_dkim_all(struct am_authres *ar, const struct am_verdict *v, size_t room)
{
	size_t i, n = am_dkim_count(v->dkim), first, used = 0, hidden = 0, skipped = 0;
	struct am_buf c = AM_BUF_INIT(256);
	char *shown;

	if (n == 0) {
		am_authres_method(ar, "dkim", "none", NULL);
		return;
	}
	if ((shown = calloc(n, 1)) == NULL)
		return;
	first = dmarc_sig(v, n);
	if (first != (size_t)-1) {
		shown[first] = 1;
		used = dkim_len(am_dkim_sig(v->dkim, first));
	}
	for (i = 0; i < n; i++) {
		const struct am_dkim_sig *s = am_dkim_sig(v->dkim, i);
		size_t len;
		if (s->unverified) {
			skipped++;
			continue;
		}
		if (i == first)
			continue;
		if (used + (len = dkim_len(s)) <= room) {
			shown[i] = 1;
			used += len;
		} else
			hidden++;
	}
	for (i = 0; i < n; i++)
		if (shown[i])
			ar_dkim(ar, am_dkim_sig(v->dkim, i));
	if (hidden > 0) {
		am_buf_printf(&c, "%zu more results not listed: ", hidden);
		summary(v, shown, n, 0, &c);
		am_authres_method(ar, "dkim", "policy", am_buf_str(&c));
	}
	if (skipped > 0) {
		am_buf_reset(&c);
		am_buf_printf(&c, "%zu more signatures not verified (DKIMMaxSignatures)",
		    skipped);
		am_authres_method(ar, "dkim", "policy", am_buf_str(&c));
	}
	am_buf_release(&c);
	free(shown);
}

void
am_msg_write_authres(struct am_msg *m)
{
	const struct am_verdict *v = &m->v;
	struct am_authres tail;
	size_t room;

	am_authres_begin(&m->ar, m->authserv_id);
	ar_spf_all(&m->ar, v);
	if (m->dkim != NULL && m->hdr_overflow)
		am_authres_method(&m->ar, "dkim", "permerror", "header limits exceeded");
	else if (v->dkim != NULL) {
		am_authres_begin(&tail, "");
		ar_tail(&tail, v);
		room = AM_AUTHRES_MAX > m->ar.out.len + tail.out.len + SUMMARY_ROOM * 2 ?
		    AM_AUTHRES_MAX - m->ar.out.len - tail.out.len - SUMMARY_ROOM * 2 : 0;
		am_authres_release(&tail);
		ar_dkim_all(&m->ar, v, room);
	}
	ar_tail(&m->ar, v);
	m->v.authres = am_authres_end(&m->ar);
}

/* ---- the log line ---- */

static void
log_spf(struct am_buf *l, const struct am_verdict *v,
    const struct am_spf_response *r, int helo)
{
	am_buf_printf(l, " spf%s=%s (%.160s) %s=%s", helo ? "-helo" : "",
	    am_spf_result_name(r->result), am_buf_str(&r->reason),
	    helo ? "helo" : "mailfrom", helo ? helo_shown(v, r) : r->domain);
}

static void
log_dmarc(struct am_buf *l, const struct am_verdict *v)
{
	struct am_buf c = AM_BUF_INIT(512);

	dmarc_comment(v, &c);
	am_buf_printf(l, " dmarc=%s (%.400s) from=%s",
	    am_dmarc_result_name(v->dmarc->result), am_buf_str(&c),
	    v->dmarc->from_domain[0] != '\0' ? v->dmarc->from_domain : "-");
	am_buf_release(&c);
}

/* One DKIM result's log words. */
static void
log_dkim_one(struct am_buf *b, const struct am_dkim_sig *s)
{
	am_buf_printf(b, " dkim=%s", am_dkim_result_name(s->result));
	if (s->reason[0] != '\0')
		am_buf_printf(b, " (%.160s)", s->reason);
	am_buf_printf(b, " d=%s s=%.64s b=%s%s", s->domain, s->selector,
	    s->b_prefix, s->uses_l ? " l=used (unsigned content may follow)" : "");
}

/* DKIM results while they fit in the log line; then a count. */
static void
log_dkim(struct am_buf *l, const struct am_msg *m)
{
	const struct am_verdict *v = &m->v;
	struct am_buf one = AM_BUF_INIT(1024);
	size_t i, n, more = 0, skipped = 0;

	if (m->dkim != NULL && m->hdr_overflow) {
		am_buf_adds(l, " dkim=permerror (header limits exceeded)");
		return;
	}
	if (v->dkim == NULL)
		return;
	if ((n = am_dkim_count(v->dkim)) == 0) {
		am_buf_adds(l, " dkim=none");
		return;
	}
	for (i = 0; i < n; i++) {
		const struct am_dkim_sig *s = am_dkim_sig(v->dkim, i);
		if (s->unverified) {
			skipped++;
			continue;
		}
		am_buf_reset(&one);
		log_dkim_one(&one, s);
		if (more == 0 && l->len + one.len + 128 < AM_MSG_LOG_MAX)
			am_buf_add(l, one.data, one.len);
		else
			more++;
	}
	if (more > 0)
		am_buf_printf(l, " dkim+=%zu more", more);
	if (skipped > 0)
		am_buf_printf(l, " dkim=policy (%zu not verified: DKIMMaxSignatures)",
		    skipped);
	am_buf_release(&one);
}

void
am_msg_write_log(struct am_msg *m)
{
	const struct am_verdict *v = &m->v;
	struct am_buf *l = &m->v.log;

	am_buf_printf(l, "action=%s", am_action_name(v->action));
	if (!v->judged) {
		am_buf_printf(l, " not judged (%s) client=%s", v->skip_reason,
		    v->client_ip != NULL ? v->client_ip : "unknown");
		if (v->nar_remove > 0)
			am_buf_printf(l, " removed=%zu forged A-R", v->nar_remove);
		return;
	}
	if (v->dmarc != NULL)
		log_dmarc(l, v);
	if (v->policy_reason[0] != '\0')
		am_buf_printf(l, " policy=\"%s\"", v->policy_reason);
	if (v->limit_exceeded != NULL)
		am_buf_printf(l, " limit=%s", v->limit_exceeded);
	am_buf_printf(l, " client=%s", v->client_ip != NULL ? v->client_ip : "unknown");
	if (v->spf_none_reason != NULL)
		am_buf_printf(l, " spf=none (%s)", v->spf_none_reason);
	if (v->spf_mailfrom_done)
		log_spf(l, v, &v->spf_mailfrom, v->mail_from[0] == '\0');
	if (v->spf_helo_done)
		log_spf(l, v, &v->spf_helo, 1);
	if (v->arc != NULL) {
		am_buf_printf(l, " arc=%s", am_arc_cv_name(v->arc->cv));
		if (v->arc->count > 0)
			am_buf_printf(l, " (i=%u%s%.160s)", v->arc->count,
			    v->arc->reason[0] != '\0' ? " " : "", v->arc->reason);
	}
	if (v->arc_seal_note != NULL)
		am_buf_printf(l, " arc-seal=%s", v->arc_seal_note);
	if (v->nar_remove > 0)
		am_buf_printf(l, " removed=%zu forged A-R", v->nar_remove);
	log_dkim(l, m);
}
