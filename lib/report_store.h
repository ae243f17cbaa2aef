/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_store: where report rows are kept between the daemon, which
 * writes them (through report.h's queue), and authmilter-report, which
 * reads them per policy domain and period, marks periods sent and purges.
 *
 * Back ends plug in through struct am_report_store_ops, like lib/dns.h's
 * back ends:
 *   report_sqlite.c  "sqlite:/path", the embedded default
 *   report_pgsql.c   "postgresql://...", one database for a fleet
 * am_report_store_open() (report_open.c) picks one by the ReportStore
 * scheme and creates or migrates the schema (db/schema-sqlite.sql,
 * db/schema-postgresql.sql, versioned by their "-- migration N" sections
 * and the schema_version table). report_store.c holds what all share: the
 * list encoding below and the UTF-8 checks.
 *
 * Grouping is the store's job (SQL GROUP BY), so a report streams: rows of
 * a policy domain are grouped per (source IP, disposition, aligned DKIM and
 * SPF results, override reasons, identifiers, DKIM and SPF results), each
 * group handed to a callback as it is read, and memory does not grow with
 * the number of rows.
 *
 * Lists (DKIM results, override reasons, URIs) are kept as one text
 * column each, in the encoding am_report_enc_*() write: items end with
 * '\n', fields inside an item are separated by '\t', and '%', '\t', '\n'
 * inside a field are written %25, %09, %0A. The same results give the same
 * text, so GROUP BY can compare them.
 *
 * Thread safety: one store is used by one thread at a time (the writer
 * thread in the daemon, the main thread in the tool).
 */
#ifndef AM_REPORT_STORE_H
#define AM_REPORT_STORE_H

#include <stdint.h>

#include "buf.h"
#include "report.h"

/* A policy domain with rows in a closed period nobody has reported yet. */
struct am_report_period {
	const char *domain;
	int64_t begin, end;            /* seconds, end inclusive */
	uint64_t count;                /* messages */
};

/* One <record> of a report: count messages with identical results. */
struct am_report_group {
	uint64_t count;
	const char *source_ip;
	const char *disposition;       /* ActionDispositionType word */
	const char *dkim_aligned;      /* "pass" / "fail" */
	const char *spf_aligned;
	const char *reasons;           /* encoded: type \t comment \n ... */
	const char *header_from;
	const char *envelope_from;     /* NULL: unknown; "": null path */
	const char *envelope_to;       /* NULL: unknown */
	const char *dkim;              /* encoded: d \t s \t result \t human \n */
	const char *spf_domain;        /* NULL: no SPF result */
	const char *spf_scope;
	const char *spf_result;
	const char *spf_human;         /* NULL or "" : none */
};

/* The policy as published, as last seen in a period (RFC 9990 s.2.1). */
struct am_report_published {
	const char *domain;
	const char *p, *sp, *np;       /* "" when absent */
	const char *adkim, *aspf, *testing, *discovery, *fo;
	const char *rua, *ruf;         /* encoded URI lists */
};

/*
 * A recorded failure report (RFC 9991) as authmilter-report reads it:
 * the row's identifiers and struct am_report_failure's fields.
 */
struct am_report_failure_entry {
	int64_t id, time;
	const char *source_ip, *policy_domain, *header_from;
	const char *mail_from;         /* "" for a null reverse-path */
	const char *ruf;               /* encoded URI list */
	const char *fo;                /* NULL: absent */
	const char *identity_alignment, *delivery_result;
	const char *dkim_domain, *dkim_selector, *dkim_identity; /* NULL */
	const char *spf_domain;        /* NULL: SPF not evaluated */
	const char *authres, *headers;
};

/* Callbacks return 0 to go on, nonzero to stop (then returned). */
typedef int (*am_report_period_cb)(void *arg, const struct am_report_period *p);
typedef int (*am_report_group_cb)(void *arg, const struct am_report_group *g);

struct am_report_store_ops {
	const char *name;
	/* Commit n rows in one transaction: 0, or -1 with why. */
	int (*insert)(void *state, struct am_report_row *const *rows, size_t n,
	    struct am_buf *why);
	/*
	 * Each (policy domain, period) with rows, period seconds long and
	 * aligned on multiples of it (UTC days for 86400), ended at or before
	 * now, whose rows no sent report covers; domain NULL: all domains.
	 * Ordered by domain, then begin. 0, -1 with why, or cb's nonzero.
	 */
	int (*periods)(void *state, int64_t period, int64_t now,
	    const char *domain, am_report_period_cb cb, void *arg,
	    struct am_buf *why);
	/*
	 * The policy of the latest row of domain in [begin, end] into *out,
	 * whose strings stay valid until the next call on the store: 0; 1
	 * when there is no row; -1 with why.
	 */
	int (*published)(void *state, const char *domain, int64_t begin,
	    int64_t end, struct am_report_published *out, struct am_buf *why);
	/* Each group of domain's rows in [begin, end], streamed to cb. */
	int (*groups)(void *state, const char *domain, int64_t begin,
	    int64_t end, am_report_group_cb cb, void *arg, struct am_buf *why);
	/*
	 * Record that the report for domain [begin, end] with report_id was
	 * sent at now, in one transaction: 0; 1 when a sent report already
	 * covers it (nothing changed); -1 with why.
	 */
	int (*mark_sent)(void *state, const char *domain, int64_t begin,
	    int64_t end, const char *report_id, int64_t now, struct am_buf *why);
	/*
	 * Failure reports (RFC 9991). insert() stores a row's failure
	 * report with it, in the same transaction -- unless its policy
	 * domain has AM_REPORT_FAIL_PENDING unsent ones already (a flood of
	 * forged mail must not fill the disk with header blocks the rate
	 * limit would drop anyway); then only the row is stored.
	 * fail_pending: the ids of unsent failure reports, oldest first, at
	 * most max, into ids and *n: 0 or -1 with why.
	 */
	int (*fail_pending)(void *state, int64_t *ids, size_t max, size_t *n,
	    struct am_buf *why);
	/* The entry id into *out, strings valid until the next call on the
	 * store: 0; 1 when there is none; -1 with why. */
	int (*fail_get)(void *state, int64_t id,
	    struct am_report_failure_entry *out, struct am_buf *why);
	/* Mark entry id sent (or settled) at now, and empty its header
	 * block (not kept past need): 0; 1 when it already was; -1 with
	 * why. One statement, so one transaction. */
	int (*fail_done)(void *state, int64_t id, int64_t now,
	    struct am_buf *why);
	/*
	 * Take one of the limit reports destination dest may get in the
	 * hour beginning at hour (a counter in the store, so the hosts of a
	 * fleet share it): 0 taken; 1 the limit is reached; -1 with why.
	 */
	int (*fail_rate)(void *state, const char *dest, int64_t hour,
	    unsigned limit, struct am_buf *why);
	/* Delete rows, sent marks, failure reports and rate counters older
	 * than before: 0 or -1 with why; *deleted counts rows. */
	int (*purge)(void *state, int64_t before, uint64_t *deleted,
	    struct am_buf *why);
	/*
	 * Take the lock that keeps sending runs apart (held until close):
	 * 0 taken, 1 another run holds it, -1 with why. SQLite: flock on
	 * PATH.lock; PostgreSQL: a session advisory lock, so runs on
	 * different hosts of a fleet do not overlap either.
	 */
	int (*lock)(void *state, struct am_buf *why);
	/* The schema version the store is at. */
	int (*version)(void *state);
	void (*close)(void *state);
};

struct am_report_store {
	const struct am_report_store_ops *ops;
	void *state;
	struct am_report_sink sink;        /* ops->name, ops->insert: hand
	                                      &store->sink, store->state to
	                                      am_reporter_new() */
};

/*
 * Open the store named by spec ("sqlite:/var/lib/authmilter/reports.db"),
 * creating or migrating its schema. NULL with why on error (unknown
 * scheme, cannot open, schema newer than this program).
 */
struct am_report_store *am_report_store_open(const char *spec,
    struct am_buf *why);
/* Close and free; returns NULL. NULL is a no-op. */
struct am_report_store *am_report_store_close(struct am_report_store *s);

/* SQLite back end (report_sqlite.c): path of the database file. */
struct am_report_store *am_report_sqlite_open(const char *path,
    struct am_buf *why);

/* Unsent failure reports kept per policy domain (see insert). */
#define AM_REPORT_FAIL_PENDING 1000

/* The schema version this program writes (highest migration). */
#define AM_REPORT_SCHEMA_VERSION 2

/* PostgreSQL back end (report_pgsql.c): a libpq connection URI. */
struct am_report_store *am_report_pgsql_open(const char *conninfo,
    struct am_buf *why);
/*
 * 1 when the server of conninfo does not answer at all or refuses
 * connections for now (PQping: down, starting, shutting down); 0 when it
 * answers or conninfo itself is bad. Tells a store that is away from one
 * that is misconfigured.
 */
int am_report_pgsql_away(const char *conninfo);

/* ---- UTF-8 (report_store.c) ---- */

/*
 * Length (1-4) of the valid UTF-8 sequence at p, with its code point in
 * *cp; 0 when p does not start one (overlong, surrogate, > U+10FFFF).
 */
size_t am_report_utf8_seq(const unsigned char *p, unsigned *cp);
/*
 * s when it is valid UTF-8; else a copy in tmp with each bad byte
 * replaced by U+FFFD (for stores whose text columns must be UTF-8).
 */
const char *am_report_utf8_clean(const char *s, struct am_buf *tmp);

/* ---- the list encoding (report_store.c) ---- */

/* Append field s to out with '%', '\t', '\n' escaped. */
void am_report_enc_field(struct am_buf *out, const char *s);
/* Encoded DKIM results, override reasons and URI lists of a row. */
void am_report_enc_dkim(struct am_buf *out, const struct am_report_row *r);
void am_report_enc_reasons(struct am_buf *out, const struct am_report_row *r);
void am_report_enc_uris(struct am_buf *out, const char *const *v, size_t n);

/*
 * Walk an encoded list: *pos starts at the list; each call decodes the
 * next item's fields into f[0..max-1] (unescaped, NUL terminated, into
 * scratch, reset first) and returns the number of fields, 0 at the end.
 */
size_t am_report_dec_item(const char **pos, struct am_buf *scratch,
    const char **f, size_t max);

#endif
