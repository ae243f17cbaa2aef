/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_send: hand one mail message to the mail system, for
 * authmilter-report (aggregate reports, RFC 9990 s.3.5.2, and failure
 * reports, RFC 9991).
 *
 *   am_report_deliver()  the message written by a callback, to one
 *                        recipient, with the given envelope sender:
 *                        through a sendmail-compatible command (no shell,
 *                        argv + "-f FROM -- RCPT", success is exit 0)
 *
 * The message is produced by the caller's writer, so each transport
 * streams it and no report is held in memory whole.
 */
#ifndef AM_REPORT_SEND_H
#define AM_REPORT_SEND_H

#include <stdio.h>

#include "buf.h"

/* Writes the whole message (LF line ends) to out; 0, or -1 with why. */
typedef int (*am_report_writer)(void *arg, FILE *out, struct am_buf *why);

struct am_report_transport {
	const char *sendmail;      /* ReportSendmail: command line */
};

/*
 * Deliver the message that write(arg, ...) produces to rcpt, envelope
 * sender from. 0 when the transport accepted it; -1 with why otherwise
 * (the caller keeps the report and retries on its next run).
 */
int am_report_deliver(const struct am_report_transport *t, const char *from,
    const char *rcpt, am_report_writer write, void *arg, struct am_buf *why);

#endif
