/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * stats_http: the daemon's metrics server (StatsSocket): Prometheus text
 * format on GET /metrics, from lib/stats.c.
 *
 *   h = am_stats_http_open(conf->stats_socket)   before detaching: binds
 *   am_stats_http_start(h)                       after the fork: the thread
 *   h = am_stats_http_stop(h)                    at exit
 *
 * Each takes NULL (no StatsSocket) as a no-op. Start-up errors are fatal.
 */
#ifndef AM_STATS_HTTP_H
#define AM_STATS_HTTP_H

struct am_stats_http;

/*
 * Bind and listen on spec ("inet:PORT[@HOST]", "inet6:PORT[@HOST]", HOST
 * may be "[IPv6]"); NULL when spec is NULL or "". Fatal when it cannot.
 */
struct am_stats_http *am_stats_http_open(const char *spec);
/* Start serving on a thread of its own, which blocks every signal. */
void am_stats_http_start(struct am_stats_http *h);
/* Stop the thread, close every socket and free h; returns NULL. */
struct am_stats_http *am_stats_http_stop(struct am_stats_http *h);

#endif
