/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_send: hand one mail message to the mail system, for
 * authmilter-report (aggregate reports, RFC 9990 s.3.5.2, and failure
 * reports, RFC 9991).
 *
 *   am_report_deliver()  the message written by a callback, to one
 *                        recipient, with the given envelope sender:
 *                        through a sendmail-compatible command (no shell,
 *                        argv + "-f FROM -- RCPT", success is exit 0),
 *                        or, when ReportSMTPHost is set, over SMTP to
 *                        that host (report_smtp.c: success is 250 after
 *                        the message's final dot)
 *
 * The message is produced by the caller's writer, so each transport
 * streams it and no report is held in memory whole (SMTP writes it to a
 * temporary file first, so a failing writer never opens a session).
 */
#ifndef AM_REPORT_SEND_H
#define AM_REPORT_SEND_H

#include <stdio.h>

#include "buf.h"

/* Writes the whole message (LF line ends) to out; 0, or -1 with why. */
typedef int (*am_report_writer)(void *arg, FILE *out, struct am_buf *why);

struct am_report_transport {
	const char *sendmail;      /* ReportSendmail: command line */
	const char *smtp_host;     /* ReportSMTPHost; NULL or "": sendmail */
	unsigned smtp_timeout_ms;  /* ReportSMTPTimeout, per step; 0: 60 s */
	const char *helo;          /* EHLO name (ReportSubmitter) */
};

/*
 * Deliver the message that write(arg, ...) produces to rcpt, envelope
 * sender from. 0 when the transport accepted it; -1 with why otherwise
 * (the caller keeps the report and retries on its next run).
 */
int am_report_deliver(const struct am_report_transport *t, const char *from,
    const char *rcpt, am_report_writer write, void *arg, struct am_buf *why);

/*
 * Parse ReportSMTPHost: "host", "host:port", "[address]" or
 * "[address]:port" (port 25 when left out) into host and port; 0, or -1
 * with why.
 */
int am_report_smtp_hostport(const char *spec, char *host, size_t hostsz,
    char *port, size_t portsz, struct am_buf *why);

/*
 * The SMTP transport (report_smtp.c): msg, read from its current
 * position, to rcpt over SMTP to t->smtp_host. 0 when the server took the
 * message (250 after the final dot); -1 with why (the step and the
 * server's reply, printable) otherwise.
 */
int am_report_smtp_send(const struct am_report_transport *t,
    const char *from, const char *rcpt, FILE *msg, struct am_buf *why);

#endif
