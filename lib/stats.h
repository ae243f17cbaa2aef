/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * stats: the daemon's counters, written out in the Prometheus text
 * exposition format (version 0.0.4).
 *
 * The counters are the one piece of process-wide state in lib/: they only
 * ever go up, every update is one relaxed atomic add (no lock, any thread),
 * and they outlive a reload, as Prometheus expects of a counter. No socket
 * here: the daemon's HTTP server (milter/stats_http.c) calls
 * am_stats_write() for each scrape.
 *
 * Who writes what:
 *   am_stats_verdict()  the session thread, once per judged or unjudged
 *                       message, from the verdict record alone (never from
 *                       our header): messages by action, results by method
 *                       and value, the time per message
 *   am_stats_count()    dns_cache.c (lookups, hits, queries sent on, their
 *                       temporary failures), the reload code (reloads),
 *                       the decision log and the report queue (drops),
 *                       the callbacks (a message tempfailed unchecked)
 *
 * Metrics (all counters end in _total; label values are fixed words):
 *   authmilter_messages_total{action}          accept reject quarantine tempfail
 *   authmilter_messages_not_judged_total       trusted or authenticated
 *   authmilter_results_total{method,result}    method: spf (MAIL FROM),
 *                                              spf_helo, dkim (one per
 *                                              signature), dmarc, arc
 *   authmilter_message_duration_seconds        histogram: first callback of
 *                                              the message to end of message
 *   authmilter_dns_lookups_total, _cache_hits_total, _queries_total,
 *   authmilter_dns_shared_total (joined a query in flight),
 *   authmilter_dns_tempfail_total              through the cache layer
 *   authmilter_reloads_total, authmilter_log_dropped_total,
 *   authmilter_report_dropped_total, authmilter_messages_unchecked_total
 */
#ifndef AM_STATS_H
#define AM_STATS_H

#include "buf.h"
#include "msg.h"

/* Counters other modules bump with am_stats_count(). */
enum am_stats_counter {
	AM_STATS_DNS_LOOKUP,     /* a lookup asked of the DNS cache layer */
	AM_STATS_DNS_CACHE_HIT,  /* ... answered from the cache */
	AM_STATS_DNS_QUERY,      /* ... sent on to the resolver */
	AM_STATS_DNS_SHARED,     /* ... joined a query already in flight
	                            (lookups = hits + queries + shared) */
	AM_STATS_DNS_TEMPFAIL,   /* ... and that failed for now: timeout,
	                            SERVFAIL, other RCODE, network error */
	AM_STATS_RELOAD,         /* a configuration reload took effect */
	AM_STATS_LOG_DROP,       /* a decision log record was dropped */
	AM_STATS_REPORT_DROP,    /* a report queue record was dropped */
	AM_STATS_UNCHECKED,      /* a message tempfailed without a verdict
	                            (out of memory, daemon stopping) */
	AM_STATS_NCOUNTERS
};

/* Longest page am_stats_write() produces. */
#define AM_STATS_PAGE_MAX 65536

/*
 * Count one message from its verdict record; seconds is the time from the
 * message's first callback to its end. Any thread.
 */
void am_stats_verdict(const struct am_verdict *v, double seconds);
/* Add one to counter c. Any thread. */
void am_stats_count(enum am_stats_counter c);
/* Add n to counter c. Any thread. */
void am_stats_add(enum am_stats_counter c, unsigned long long n);
/* A reload took effect (am_stats_count(AM_STATS_RELOAD)). */
void am_stats_reload(void);
/* Current value of counter c (for tests and logs). */
unsigned long long am_stats_get(enum am_stats_counter c);
/*
 * Append the whole page, text exposition format 0.0.4, to out (which
 * should hold AM_STATS_PAGE_MAX bytes); 0, or -1 when out was truncated.
 * Reads each counter once; counters updated meanwhile may or may not show.
 */
int am_stats_write(struct am_buf *out);
/*
 * Append s as a label value, escaped as the text format requires
 * (backslash, double quote and line feed get a backslash; RFC-free:
 * Prometheus "Exposition formats"), without the quotes.
 */
void am_stats_label(struct am_buf *out, const char *s);
/* Set every counter to zero (tests only; not while others update). */
void am_stats_reset(void);

#endif
