/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * msg_verdict_json: the decision log line as one JSON object (RFC 8259),
 * written from the verdict record alone, for LogFormat json.
 *
 * Entry point: am_verdict_json() (msg.h). The names are stable (documented
 * in authmilter.conf(5)); an absent check is null, never left out:
 *
 *   {"queue_id":"3F2A1","action":"reject","reply":"550 5.7.1 ...",
 *    "judged":true,"skip_reason":null,"client_ip":"192.0.2.1",
 *    "helo":"mx.example","mail_from":"a@example.org",
 *    "dmarc":{"result":"fail","policy":"reject","disposition":"reject",
 *             "override":null,"override_note":null,"from":"example.org",
 *             "reason":"..."},
 *    "spf":{"result":"fail","identity":"mailfrom","domain":"example.org",
 *           "reason":"-all"},
 *    "spf_helo":null,"arc":{"result":"none","count":0,"reason":""},
 *    "arc_seal":null,"removed_forged":0,"policy_reason":"...",
 *    "limit":null,
 *    "dkim":[{"result":"fail","domain":"example.org","selector":"s1",
 *             "b":"AbCdEfGh","l":false,"reason":"body hash mismatch"}],
 *    "dkim_not_listed":0,"dkim_not_verified":0}
 *
 * Strings are escaped per RFC 8259 s.7: '"' and '\' with a backslash,
 * control characters (and DEL) as \u00XX; bytes that are not well-formed
 * UTF-8 (RFC 3629 s.4: no overlong forms, no surrogates, nothing past
 * U+10FFFF) become \ufffd. Each string is capped (a reason at 300 bytes of
 * input, a domain at 255), never cut inside a UTF-8 sequence. DKIM results
 * come last, the one that made DMARC pass first, and are listed while the
 * object stays under AM_VERDICT_JSON_MAX; the rest are counted in
 * dkim_not_listed.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "msg_int.h"

/* Caps on the input bytes of one string. */
#define CAP_NAME 255
#define CAP_REASON 300
/* Room kept for the closing fields after the DKIM list. */
#define TAIL_ROOM 96

/* Length of the well-formed UTF-8 sequence at s (n bytes left), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* s as a JSON string (quotes included), at most cap bytes of it; NULL: null. */
static void
jstr(struct am_buf *out, const char *s, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, len;

	if (s == NULL) {
		am_buf_adds(out, "null");
		return;
	}
	n = strlen(s);
	if (n > cap)
		n = cap;
	am_buf_addc(out, '"');
	while (n > 0) {
		if (*p == '"' || *p == '\\') {
			am_buf_addc(out, '\\');
			am_buf_addc(out, *p);
		} else if (*p < 0x20 || *p == 0x7f)
			am_buf_printf(out, "\\u%04x", *p);
		else if ((len = utf8_len(p, n)) == 0) {
			/* a sequence cut by the cap counts as ill-formed too */
			am_buf_adds(out, "\\ufffd");
		} else {
			am_buf_add(out, p, len);
			p += len;
			n -= len;
			continue;
		}
		p++;
		n--;
	}
	am_buf_addc(out, '"');
}

/* ,"key": */
static void
jkey(struct am_buf *out, const char *key)
{
	am_buf_printf(out, "%s\"%s\":", out->len > 1 ? "," : "", key);
}

static void
jfield(struct am_buf *out, const char *key, const char *s, size_t cap)
{
	jkey(out, key);
	jstr(out, s, cap);
}

/* "reply": the SMTP reply, "550 5.7.1 text", or null on accept. */
static void
j_reply(struct am_buf *out, const struct am_verdict *v)
{
	struct am_buf r = AM_BUF_INIT(1024);

	jkey(out, "reply");
	if (v->smtp_rcode == NULL) {
		am_buf_adds(out, "null");
		return;
	}
	am_buf_printf(&r, "%s %s %s", v->smtp_rcode,
	    v->smtp_xcode != NULL ? v->smtp_xcode : "",
	    v->smtp_text != NULL ? v->smtp_text : "");
	jstr(out, am_buf_str(&r), CAP_REASON);
	am_buf_release(&r);
}

static void
j_spf(struct am_buf *out, const char *key, const struct am_spf_response *r,
    const char *none_reason)
{
	jkey(out, key);
	if (r == NULL && none_reason == NULL) {
		am_buf_adds(out, "null");
		return;
	}
	am_buf_adds(out, "{\"result\":");
	jstr(out, r != NULL ? am_spf_result_name(r->result) : "none", CAP_NAME);
	am_buf_adds(out, ",\"identity\":");
	jstr(out, r != NULL ? r->identity : NULL, CAP_NAME);
	am_buf_adds(out, ",\"domain\":");
	jstr(out, r != NULL ? r->domain : NULL, CAP_NAME);
	am_buf_adds(out, ",\"reason\":");
	jstr(out, r != NULL ? am_buf_str(&r->reason) : none_reason, CAP_REASON);
	am_buf_addc(out, '}');
}

static void
j_dmarc(struct am_buf *out, const struct am_verdict *v)
{
	const struct am_dmarc_response *d = v->dmarc;
	enum am_dmarc_policy dis;

	jkey(out, "dmarc");
	if (d == NULL) {
		am_buf_adds(out, "null");
		return;
	}
	dis = d->disposition == AM_DMARC_P_UNSET ? AM_DMARC_P_NONE : d->disposition;
	am_buf_adds(out, "{\"result\":");
	jstr(out, am_dmarc_result_name(d->result), CAP_NAME);
	am_buf_adds(out, ",\"policy\":");
	jstr(out, d->have_record ? am_dmarc_policy_name(d->rec.p) : NULL, CAP_NAME);
	am_buf_adds(out, ",\"disposition\":");
	jstr(out, d->have_record ? am_dmarc_policy_name(dis) : NULL, CAP_NAME);
	am_buf_adds(out, ",\"override\":");
	jstr(out, d->override != AM_DMARC_OVR_NONE ?
	    am_dmarc_override_name(d->override) : NULL, CAP_NAME);
	am_buf_adds(out, ",\"override_note\":");
	jstr(out, v->override_note != NULL && v->override_note[0] != '\0' ?
	    v->override_note : NULL, CAP_REASON);
	am_buf_adds(out, ",\"from\":");
	jstr(out, d->from_domain[0] != '\0' ? d->from_domain : NULL, CAP_NAME);
	am_buf_adds(out, ",\"reason\":");
	jstr(out, d->result != AM_DMARC_PASS && d->why.len > 0 ?
	    am_buf_str(&d->why) : NULL, CAP_REASON);
	am_buf_addc(out, '}');
}

static void
j_arc(struct am_buf *out, const struct am_verdict *v)
{
	jkey(out, "arc");
	if (v->arc == NULL) {
		am_buf_adds(out, "null");
		return;
	}
	am_buf_adds(out, "{\"result\":");
	jstr(out, am_arc_cv_name(v->arc->cv), CAP_NAME);
	am_buf_printf(out, ",\"count\":%u,\"reason\":", v->arc->count);
	jstr(out, v->arc->reason, CAP_REASON);
	am_buf_addc(out, '}');
}

static void
j_dkim_one(struct am_buf *out, const struct am_dkim_sig *s)
{
	am_buf_adds(out, "{\"result\":");
	jstr(out, am_dkim_result_name(s->result), CAP_NAME);
	am_buf_adds(out, ",\"domain\":");
	jstr(out, s->domain, CAP_NAME);
	am_buf_adds(out, ",\"selector\":");
	jstr(out, s->selector, CAP_NAME);
	am_buf_adds(out, ",\"b\":");
	jstr(out, s->b_prefix, CAP_NAME);
	am_buf_printf(out, ",\"l\":%s,\"reason\":", s->uses_l ? "true" : "false");
	jstr(out, s->reason, CAP_REASON);
	am_buf_addc(out, '}');
}

/* Index of the signature that made DMARC pass, or n. */
static size_t
aligned_sig(const struct am_verdict *v, size_t n)
{
	size_t i;

	if (v->dmarc == NULL || !v->dmarc->dkim_aligned)
		return n;
	for (i = 0; i < n; i++) {
		const struct am_dkim_sig *s = am_dkim_sig(v->dkim, i);
		if (s->result == AM_DKIM_PASS && !s->unverified &&
		    strcasecmp(s->domain, v->dmarc->dkim_domain) == 0)
			return i;
	}
	return n;
}

/* Append signature s to the list if it fits; 0 if it did not. */
static int
j_dkim_add(struct am_buf *out, const struct am_dkim_sig *s, size_t *listed)
{
	struct am_buf one = AM_BUF_INIT(16384);
	int fits;

	j_dkim_one(&one, s);
	fits = out->len + one.len + 1 + TAIL_ROOM < AM_VERDICT_JSON_MAX;
	if (fits) {
		if ((*listed)++ > 0)
			am_buf_addc(out, ',');
		am_buf_add(out, one.data, one.len);
	}
	am_buf_release(&one);
	return fits;
}

/* The DKIM list -- the signature that made DMARC pass first, as in the
 * header -- while it fits, then the counts. */
static void
j_dkim(struct am_buf *out, const struct am_verdict *v)
{
	size_t i, n, first, listed = 0, more = 0, skipped = 0;

	jkey(out, "dkim");
	if (v->dkim == NULL) {
		am_buf_adds(out, "null,\"dkim_not_listed\":0,\"dkim_not_verified\":0");
		return;
	}
	am_buf_addc(out, '[');
	n = am_dkim_count(v->dkim);
	if ((first = aligned_sig(v, n)) < n)
		more += !j_dkim_add(out, am_dkim_sig(v->dkim, first), &listed);
	for (i = 0; i < n; i++) {
		const struct am_dkim_sig *s = am_dkim_sig(v->dkim, i);
		if (s->unverified)
			skipped++;
		else if (i != first && (more > 0 || !j_dkim_add(out, s, &listed)))
			more++;
	}
	am_buf_printf(out, "],\"dkim_not_listed\":%zu,\"dkim_not_verified\":%zu",
	    more, skipped);
}

int
am_verdict_json(const struct am_verdict *v, struct am_buf *out)
{
	/* Room for every capped string escaped at 6 bytes per byte. */
	struct am_buf j = AM_BUF_INIT(AM_VERDICT_JSON_MAX + 40960);

	am_buf_addc(&j, '{');
	jfield(&j, "queue_id", v->queue_id, CAP_NAME);
	jfield(&j, "action", am_action_name(v->action), CAP_NAME);
	j_reply(&j, v);
	jkey(&j, "judged");
	am_buf_adds(&j, v->judged ? "true" : "false");
	jfield(&j, "skip_reason", v->judged ? NULL : v->skip_reason, CAP_REASON);
	jfield(&j, "client_ip", v->client_ip, CAP_NAME);
	jfield(&j, "helo", v->helo, CAP_NAME);
	jfield(&j, "mail_from", v->mail_from, CAP_REASON);
	j_dmarc(&j, v);
	j_spf(&j, "spf", v->spf_mailfrom_done ? &v->spf_mailfrom : NULL,
	    v->spf_none_reason);
	j_spf(&j, "spf_helo", v->spf_helo_done ? &v->spf_helo : NULL, NULL);
	j_arc(&j, v);
	jfield(&j, "arc_seal", v->arc_seal_note, CAP_REASON);
	jkey(&j, "removed_forged");
	am_buf_printf(&j, "%zu", v->nar_remove);
	jfield(&j, "policy_reason", v->policy_reason != NULL &&
	    v->policy_reason[0] != '\0' ? v->policy_reason : NULL, CAP_REASON);
	jfield(&j, "limit", v->limit_exceeded, CAP_NAME);
	j_dkim(&j, v);
	am_buf_addc(&j, '}');
	if (j.truncated) {
		am_buf_release(&j);
		return -1;
	}
	am_buf_add(out, j.data, j.len);
	am_buf_release(&j);
	return out->truncated ? -1 : 0;
}
