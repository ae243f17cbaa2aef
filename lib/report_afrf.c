/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_afrf: the failure report message (RFC 9991 s.4, RFC 6591,
 * RFC 5965, RFC 6522 multipart/report, RFC 2045 s.6.7 quoted-printable).
 * See report_afrf.h.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "report_afrf.h"

#define LINE_MAX_BYTES 998   /* RFC 5322 s.2.1.1 */
#define QP_LINE 76           /* RFC 2045 s.6.7 rule (5) */

/*
 * Printable ASCII or blank: everything else in a one-line field is '?';
 * cut at LINE_VALUE_MAX (the values are capped long before: this keeps
 * lines within RFC 5322 whatever the store holds).
 */
#define LINE_VALUE_MAX 950

static void
put_line(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	size_t n;

	for (n = 0; *p != '\0' && n < LINE_VALUE_MAX; p++, n++)
		fputc((*p >= 0x20 && *p < 0x7f) || *p == '\t' ? *p : '?', out);
}

/*
 * A folded value: line breaks kept (as LF), each followed by a blank; a
 * line that would pass FOLD_AT bytes is broken there (only hostile or
 * damaged text has such lines: ours are folded per result).
 */
#define FOLD_AT 900

static void
put_folded(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	size_t col = 0;

	for (; *p != '\0'; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n') {
			/* no empty continuation lines, no line ending a field early */
			while (p[1] == '\r' || p[1] == '\n')
				p++;
			if (p[1] == '\0')
				break;
			fputc('\n', out);
			col = 0;
			if (p[1] != ' ' && p[1] != '\t') {
				fputc('\t', out);
				col = 1;
			}
			continue;
		}
		if (++col > FOLD_AT) {
			fputs("\n\t", out);
			col = 2;
		}
		fputc((*p >= 0x20 && *p < 0x7f) || *p == '\t' ? *p : '?', out);
	}
}

/* s when it is made of chars only (and not empty), else alt. */
static const char *
only(const char *s, const char *chars, const char *alt)
{
	const char *p;

	if (s == NULL || *s == '\0' || strlen(s) > 320)
		return alt;
	for (p = s; *p != '\0'; p++)
		if (strchr(chars, *p) == NULL)
			return alt;
	return s;
}

#define DOMAIN_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" \
	"0123456789-._"
#define IP_CHARS "0123456789abcdefABCDEF:."

static void
date822(int64_t t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	strftime(out, size, "%a, %d %b %Y %H:%M:%S +0000", gmtime_r(&tt, &tm));
}

/* The header block needs quoted-printable: 8-bit, controls, long lines. */
static int
needs_qp(const char *h)
{
	const unsigned char *p = (const unsigned char *)h;
	size_t line = 0;

	for (; *p != '\0'; p++) {
		if (*p == '\n') {
			line = 0;
			continue;
		}
		if (*p == '\r' && p[1] == '\n')
			continue;
		if (*p >= 0x7f || (*p < 0x20 && *p != '\t'))
			return 1;
		if (++line > LINE_MAX_BYTES)
			return 1;
	}
	return 0;
}

/* The header block with LF line ends, as it is (7bit). */
static void
put_plain(FILE *out, const char *h)
{
	for (; *h != '\0'; h++)
		if (!(*h == '\r' && h[1] == '\n'))
			fputc(*h, out);
}

/* The header block quoted-printable, LF (or CRLF) as the line breaks. */
static void
put_qp(FILE *out, const char *h)
{
	const unsigned char *p = (const unsigned char *)h;
	size_t col = 0;
	int enc, w;

	for (; *p != '\0'; p++) {
		if (*p == '\n' || (*p == '\r' && p[1] == '\n')) {
			if (*p == '\r')
				p++;
			fputc('\n', out);
			col = 0;
			continue;
		}
		/* a blank before a line break must be encoded (rule 3) */
		enc = *p == '=' || *p >= 0x7f || (*p < 0x20 && *p != '\t') ||
		    ((*p == ' ' || *p == '\t') && (p[1] == '\0' ||
		    p[1] == '\n' || p[1] == '\r'));
		w = enc ? 3 : 1;
		if (col + (size_t)w > QP_LINE - 1) {
			fputs("=\n", out);      /* soft line break */
			col = 0;
		}
		if (enc)
			fprintf(out, "=%02X", *p);
		else
			fputc(*p, out);
		col += (size_t)w;
	}
}

static void
feedback_part(const struct am_report_afrf *a, FILE *out)
{
	const struct am_report_failure_entry *e = a->e;
	char date[64];

	date822(e->time, date, sizeof(date));
	fputs("Feedback-Type: auth-failure\n", out);
	fputs("User-Agent: ", out);
	put_line(out, a->user_agent);
	fputs("\nVersion: 1\nAuth-Failure: dmarc\n", out);
	if (e->authres != NULL && *e->authres != '\0') {
		fputs("Authentication-Results: ", out);
		put_folded(out, e->authres);
		fputc('\n', out);
	}
	fputs("Identity-Alignment: ", out);
	put_line(out, only(e->identity_alignment, "dkimspfnoe, ", "none"));
	fputs("\nDelivery-Result: ", out);
	put_line(out, only(e->delivery_result, "abcdefghijklmnopqrstuvwxyz",
	    "other"));
	fputc('\n', out);
	if (e->dkim_domain != NULL && *e->dkim_domain != '\0') {
		fputs("DKIM-Domain: ", out);
		put_line(out, only(e->dkim_domain, DOMAIN_CHARS, "invalid"));
		fputs("\nDKIM-Identity: ", out);
		put_line(out, e->dkim_identity != NULL && *e->dkim_identity !=
		    '\0' ? e->dkim_identity : "@");
		fputs("\nDKIM-Selector: ", out);
		put_line(out, only(e->dkim_selector, DOMAIN_CHARS, "invalid"));
		fputc('\n', out);
	}
	if (a->spf_dns != NULL) {
		fputs("SPF-DNS: ", out);
		put_line(out, a->spf_dns);
		fputc('\n', out);
	}
	fputs("Original-Mail-From: <", out);
	put_line(out, only(e->mail_from, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~.@",
	    *e->mail_from == '\0' ? "" : "invalid"));
	fprintf(out, ">\nArrival-Date: %s\nSource-IP: ", date);
	put_line(out, only(e->source_ip, IP_CHARS, "invalid"));
	fputs("\nReported-Domain: ", out);
	put_line(out, only(e->header_from, DOMAIN_CHARS, "invalid"));
	fputc('\n', out);
}

int
am_report_afrf_write(const struct am_report_afrf *a, FILE *out,
    struct am_buf *why)
{
	const struct am_report_failure_entry *e = a->e;
	const char *from_dom = only(e->header_from, DOMAIN_CHARS, "(invalid)");
	const char *ip = only(e->source_ip, IP_CHARS, "(invalid)");
	const char *headers = e->headers != NULL ? e->headers : "";
	char date[64], arrived[64], bnd[128];
	int qp = needs_qp(headers);

	snprintf(bnd, sizeof(bnd), "=_am_fail_%lld_%s", (long long)e->id,
	    only(a->token, "0123456789abcdefghijklmnopqrstuvwxyz", "0"));
	if (strstr(headers, bnd) != NULL ||
	    (e->authres != NULL && strstr(e->authres, bnd) != NULL)) {
		am_buf_setf(why, "failure report %lld: its content holds the "
		    "MIME boundary", (long long)e->id);
		return -1;
	}
	date822(a->now, date, sizeof(date));
	date822(e->time, arrived, sizeof(arrived));
	fputs("From: ", out);
	put_line(out, a->from);
	fputs("\nTo: ", out);
	put_line(out, a->to);
	fprintf(out, "\nSubject: DMARC failure report for %s from %s\n",
	    from_dom, ip);
	fprintf(out, "Date: %s\n", date);
	fprintf(out, "Message-ID: <fail.%lld.", (long long)e->id);
	put_line(out, only(a->token, "0123456789abcdefghijklmnopqrstuvwxyz", "0"));
	fputc('@', out);
	put_line(out, only(a->submitter, DOMAIN_CHARS, "invalid"));
	fputs(">\nAuto-Submitted: auto-generated\nMIME-Version: 1.0\n", out);
	fprintf(out, "Content-Type: multipart/report;"
	    " report-type=feedback-report;\n boundary=\"%s\"\n\n", bnd);
	fprintf(out, "--%s\nContent-Type: text/plain; charset=us-ascii\n"
	    "Content-Transfer-Encoding: 7bit\n\n"
	    "This is a DMARC failure report (RFC 9991) for a message\n"
	    "with From domain %s received from %s\non %s.\n"
	    "Its header fields follow; its body is not included.\n\n",
	    bnd, from_dom, ip, arrived);
	fprintf(out, "--%s\nContent-Type: message/feedback-report\n"
	    "Content-Transfer-Encoding: 7bit\n\n", bnd);
	feedback_part(a, out);
	fprintf(out, "\n--%s\nContent-Type: text/rfc822-headers\n"
	    "Content-Transfer-Encoding: %s\n\n", bnd,
	    qp ? "quoted-printable" : "7bit");
	if (qp)
		put_qp(out, headers);
	else
		put_plain(out, headers);
	fprintf(out, "\n--%s--\n", bnd);
	if (fflush(out) != 0 || ferror(out)) {
		am_buf_setf(why, "writing the failure report failed");
		return -1;
	}
	return 0;
}
