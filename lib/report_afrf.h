/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_afrf: a DMARC failure report (RFC 9991) as a mail message in
 * the Authentication Failure Reporting format (RFC 6591, an ARF report of
 * RFC 5965), for authmilter-report.
 *
 *   am_report_afrf_write()  the whole message: multipart/report;
 *                           report-type=feedback-report with
 *                           1. text/plain, a note for people,
 *                           2. message/feedback-report: Feedback-Type:
 *                              auth-failure, User-Agent, Version: 1,
 *                              Auth-Failure: dmarc (RFC 9991 s.4 item 3),
 *                              Authentication-Results (ours),
 *                              Identity-Alignment (s.4, required),
 *                              Delivery-Result, DKIM-Domain/-Identity/
 *                              -Selector and SPF-DNS when known,
 *                              Original-Mail-From, Arrival-Date,
 *                              Source-IP, Reported-Domain,
 *                           3. text/rfc822-headers: the header block only
 *                              (no body is ever recorded: RFC 9991
 *                              appendix A, s.7 privacy).
 *
 * Every value comes from a message a stranger sent, so nothing reaches
 * the output unchecked: single-line fields keep printable ASCII only
 * (anything else becomes '?'), the folded ones keep their folding and
 * get a blank after every line break, domains and IPs that are not made
 * of their own characters are replaced, and the header block is sent
 * quoted-printable (lines of at most 76 characters, 7-bit) whenever it
 * holds 8-bit bytes, control characters or lines over 998 bytes
 * (RFC 5322 s.2.1.1). The MIME boundary holds a token the caller draws at
 * random, and the writer refuses a message whose header block contains
 * it. Lines end in LF (for a sendmail-compatible command).
 */
#ifndef AM_REPORT_AFRF_H
#define AM_REPORT_AFRF_H

#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "report_store.h"

struct am_report_afrf {
	const char *from;          /* ReportEmail */
	const char *to;            /* the destination address */
	const char *submitter;     /* our domain (Message-ID) */
	const char *user_agent;    /* "authmilter/1.0" */
	const char *token;         /* random [0-9a-z]+ for the boundary and
	                              the Message-ID */
	const char *spf_dns;       /* SPF-DNS value ("txt : d : \"v=spf1 ..\""),
	                              NULL: not known */
	int64_t now;               /* Date: */
	const struct am_report_failure_entry *e;
};

/* Write the report to out: 0, or -1 with why. */
int am_report_afrf_write(const struct am_report_afrf *a, FILE *out,
    struct am_buf *why);

#endif
