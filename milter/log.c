/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * log: the daemon's log, to syslog or standard error. See log.h.
 *
 * The settings below are written once by am_log_init() before any thread
 * starts and only read afterwards, except the level, which a reload
 * changes (am_log_set_level(): an atomic store).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "msg.h"

static int log_syslog;
static int log_level = AM_LOGLEVEL_INFO;
static const char *log_ident = "authmilter";

/* In the order of SyslogFacility's words in config.c. */
static const int facilities[] = { LOG_MAIL, LOG_DAEMON, LOG_USER, LOG_LOCAL0,
	LOG_LOCAL1, LOG_LOCAL2, LOG_LOCAL3, LOG_LOCAL4, LOG_LOCAL5, LOG_LOCAL6,
	LOG_LOCAL7 };

void
am_log_init(const char *ident, int use_syslog, int facility, int level)
{
	log_ident = ident;
	log_level = level;
	log_syslog = use_syslog;
	if (!use_syslog)
		return;
	if (facility < 0 || (size_t)facility >= sizeof(facilities) / sizeof(facilities[0]))
		facility = 0;
	openlog(ident, LOG_PID | LOG_NDELAY, facilities[facility]);
}

void
am_log_set_level(int level)
{
	__atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

int
am_log_enabled(int level)
{
	return level <= __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

static void
vlog(int level, int prio, const char *fmt, va_list ap, const char *err)
{
	char msg[4096];
	static const char *const names[] = { "error", "warning", "info", "debug" };
	time_t now;
	struct tm tm;
	char ts[32];

	if (!am_log_enabled(level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_syslog) {
		if (err != NULL)
			syslog(prio, "%s: %s", msg, err);
		else
			syslog(prio, "%s", msg);
		return;
	}
	now = time(NULL);
	localtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s %s[%s]: %s%s%s\n", ts, log_ident, names[level], msg,
	    err != NULL ? ": " : "", err != NULL ? err : "");
}

#define LOGFN(fn, level, prio, witherr)                         \
void                                                            \
fn(const char *fmt, ...)                                        \
{                                                               \
	va_list ap;                                             \
	char ebuf[128];                                         \
	const char *e = NULL;                                   \
	if (witherr)                                            \
		e = strerror_r(errno, ebuf, sizeof(ebuf));      \
	va_start(ap, fmt);                                      \
	vlog(level, prio, fmt, ap, e);                          \
	va_end(ap);                                             \
}

LOGFN(log_error, AM_LOGLEVEL_ERROR, LOG_ERR, 0)
LOGFN(log_warn, AM_LOGLEVEL_WARNING, LOG_WARNING, 1)
LOGFN(log_warnx, AM_LOGLEVEL_WARNING, LOG_WARNING, 0)
LOGFN(log_info, AM_LOGLEVEL_INFO, LOG_INFO, 0)
LOGFN(log_debug, AM_LOGLEVEL_DEBUG, LOG_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(AM_LOGLEVEL_ERROR, LOG_ERR, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

/* One traced query as a debug line. */
static void
dns_trace_line(const struct am_dns_trace *t, void *arg)
{
	char tb[16];

	log_debug("%s dns %s/%s %s ttl=%u records=%zu %s %ums%s%s%s",
	    (const char *)arg, t->name, am_dns_type_name(t->type, tb,
	    sizeof(tb)), am_dns_status_name(t->status), (unsigned)t->ttl,
	    t->count, am_dns_source_name(t->source), t->ms,
	    t->why[0] != '\0' ? " (" : "", t->why, t->why[0] != '\0' ? ")" : "");
}

void
am_log_dns_trace(const char *qid, struct am_msg *m)
{
	size_t dropped;

	if (!am_log_enabled(AM_LOGLEVEL_DEBUG) || m == NULL)
		return;
	dropped = am_msg_dns_trace(m, dns_trace_line, (void *)qid);
	if (dropped > 0)
		log_debug("%s dns %zu more queries not traced", qid, dropped);
}
