/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_fail: authmilter-report's failure report sender (RFC 9991).
 *
 *   am_report_fail_send()   every pending entry of the store, as one AFRF
 *                           message (lib/report_afrf.h) per verified ruf
 *                           mailto address (RFC 9991 s.5: the external
 *                           destination verification of RFC 9990 s.4
 *                           with ruf=), within the rate per address and
 *                           hour (s.2: generators MUST rate-limit), through
 *                           am_report_deliver()
 *   am_report_fail_count()  how many entries are pending (--list)
 */
#ifndef AM_REPORT_FAIL_H
#define AM_REPORT_FAIL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "dmarc.h"
#include "dns.h"
#include "report_send.h"
#include "report_store.h"

/* Entries one run looks at; the rest wait for the next run. */
#define AM_REPORT_FAIL_BATCH 10000

struct am_report_fail_ctx {
	struct am_report_store *store;
	struct am_dns *dns;
	const struct am_dmarc_conf *dconf;
	const struct am_report_transport *transport;
	const char *from;          /* ReportEmail: From: and envelope sender */
	const char *submitter;     /* our domain */
	const char *user_agent;
	unsigned rate;             /* FailureReportRate: per address and hour */
	int64_t now;
	void (*warn)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
	/* results */
	unsigned sent;             /* messages handed to the transport */
	unsigned over_rate;        /* (entry, address) dropped over the rate */
	unsigned refused;          /* (entry, address) not mailto/authorized */
	unsigned kept;             /* entries kept for the next run */
	int failed;                /* the store failed */
};

/* Send what is pending; the counters above say how it went. */
void am_report_fail_send(struct am_report_fail_ctx *c);
/* The number of pending entries (at most AM_REPORT_FAIL_BATCH * 10). */
int am_report_fail_count(struct am_report_store *s, size_t *n,
    struct am_buf *why);

#endif
