/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * log: the daemon's log, to syslog or standard error.
 *
 * Levels: error, warning (recovered), info (one line per decision), debug.
 * log_warn() appends strerror(errno); log_warnx() does not. Safe from any
 * thread: syslog(3) is, and stderr lines are written with one fprintf under
 * the stream lock. am_log_init() is called once at startup, before threads.
 */
#ifndef AM_LOG_H
#define AM_LOG_H

/* Start logging: to syslog when use_syslog (SyslogFacility index), else stderr. */
void am_log_init(const char *ident, int use_syslog, int facility, int level);
/* Change the level (enum am_log_level). */
void am_log_set_level(int level);
/* 1 when messages of level would be written. */
int am_log_enabled(int level);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
struct am_msg;
/*
 * At LogLevel debug, one line per DNS query of message m, after its
 * decision line: "QID dns NAME/TYPE STATUS ttl=N records=N SOURCE Nms
 * (why)" -- so an administrator can see why a verdict came out as it did.
 */
void am_log_dns_trace(const char *qid, struct am_msg *m);
/* Log at error level and exit(1): startup only, never per message. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
