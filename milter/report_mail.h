/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_mail: the report as a mail message (RFC 9990 s.3.5.2), for
 * authmilter-report.
 *
 *   am_report_gz_*    the XML, gzip-compressed as it is written, into a
 *                     temporary file (memory does not grow with the report)
 *   am_report_mail_write()  the MIME message: a text/plain note and the
 *                     application/gzip part named
 *                     receiver!policy-domain!begin!end!unique-id.xml.gz,
 *                     Subject "Report Domain: D Submitter: S Report-ID: ID"
 *                     (folded), the same Report-ID as the XML's report_id
 *                     and the file name's unique-id
 *   am_report_mail_send()   that message through a transport
 *                     (report_send.h)
 */
#ifndef AM_REPORT_MAIL_H
#define AM_REPORT_MAIL_H

#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "report_send.h"

struct am_report_gz;

/* A gzip stream into a new temporary file; NULL with why. */
struct am_report_gz *am_report_gz_new(struct am_buf *why);
/* am_report_out callback: compress n bytes. */
int am_report_gz_write(void *gz, const void *p, size_t n);
/*
 * Finish the stream; returns the file rewound (owned by gz until
 * am_report_gz_free()), NULL with why on error.
 */
FILE *am_report_gz_finish(struct am_report_gz *gz, struct am_buf *why);
/* Close the file and free; returns NULL. */
struct am_report_gz *am_report_gz_free(struct am_report_gz *gz);

struct am_report_mail {
	const char *from;          /* ReportEmail */
	const char *submitter;     /* ReportSubmitter */
	const char *domain;        /* the policy domain */
	const char *report_id;
	int64_t begin, end;
	int64_t now;               /* Date: */
};

/* The attachment's file name (s.3.5.2 ABNF) into out. */
void am_report_filename(const struct am_report_mail *m, struct am_buf *out);

/* Write the message for rcpt with the gzip file gz (rewound) to out. */
int am_report_mail_write(const struct am_report_mail *m, FILE *gz,
    const char *rcpt, FILE *out, struct am_buf *why);

/*
 * Mail the message for rcpt with the gzip file gz through t (envelope
 * sender m->from). 0 when the transport accepted it; -1 with why.
 */
int am_report_mail_send(const struct am_report_transport *t,
    const struct am_report_mail *m, FILE *gz, const char *rcpt,
    struct am_buf *why);

#endif
