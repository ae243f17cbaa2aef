/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report: DMARC aggregate reporting (RFC 9990), the daemon's side.
 *
 * One struct am_report_row per message whose DMARC evaluation found a
 * policy record: what RFC 9990 s.2.1 asks a report to carry (identifiers,
 * the policy as published, the disposition applied with every override
 * reason, each DKIM result and the SPF result). The engine fills one from
 * its verdict record and hands it to am_report_submit(), which copies it
 * (every string capped, see the AM_REPORT_*_MAX limits) into a bounded
 * queue; a writer thread commits the queue in batches to a store back end
 * (report_store.h). A full queue or a failing store drops rows and counts
 * them; neither ever blocks the caller or changes a verdict.
 *
 * Files:
 *   report_row.c    row copy/free, names of the enum values (the XML words)
 *   report_queue.c  the bounded queue, the writer thread, drop counters
 *   report_open.c   am_reporter_open(): store + reporter in one call
 *   report_fo.c     am_report_fo_wants(): does fo= ask for a failure
 *                   report (RFC 9991)
 * and, for authmilter-report: report_store.h (stores), report_xml.h (the
 * XML), report_dest.h (rua/ruf URIs, external destination verification),
 * report_afrf.h (the failure report message, RFC 6591).
 *
 * A row may carry a failure report (struct am_report_failure: the header
 * block and what RFC 9991 s.4 adds); it is stored with the row, in the
 * same transaction, for authmilter-report to send.
 *
 * The enums below are the value sets of the RFC 9990 Appendix A schema, not
 * the engine's own enums, so the row (and the store) stay stable when the
 * engine changes; the engine maps its verdict onto them.
 */
#ifndef AM_REPORT_H
#define AM_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Caps applied by am_report_row_copy(); longer strings are cut. */
#define AM_REPORT_DOMAIN_MAX    253   /* any domain (RFC 1035 s.2.3.4) */
#define AM_REPORT_IP_MAX        45    /* textual IPv6 with IPv4 tail */
#define AM_REPORT_SELECTOR_MAX  64
#define AM_REPORT_REASON_MAX    1024  /* human_result, override comments */
#define AM_REPORT_FO_MAX        32
#define AM_REPORT_URI_COUNT     32    /* rua/ruf URIs kept ... */
#define AM_REPORT_URI_BYTES     8192  /* ... and their bytes in total */
#define AM_REPORT_DKIM_MAX      100   /* signatures per row (RFC 9990 s.2.1.2) */
#define AM_REPORT_REASONS_MAX   8     /* override reasons per row */
#define AM_REPORT_HEADERS_MAX   65536 /* a failure report's header block */
#define AM_REPORT_AUTHRES_MAX   8192  /* our Authentication-Results value */
#define AM_REPORT_ADDRESS_MAX   512   /* MAIL FROM address */

/* p, sp, np as published (DispositionType); UNSET: tag absent. */
enum am_report_policy {
	AM_REPORT_P_UNSET,
	AM_REPORT_P_NONE,
	AM_REPORT_P_QUARANTINE,
	AM_REPORT_P_REJECT,
};

/* What was done to the message (ActionDispositionType). */
enum am_report_disposition {
	AM_REPORT_DISP_NONE,       /* no action: failed, policy none/lowered */
	AM_REPORT_DISP_PASS,       /* passed DMARC under an enforcing policy */
	AM_REPORT_DISP_QUARANTINE,
	AM_REPORT_DISP_REJECT,
};

/* The DMARC result and the aligned DKIM/SPF results (DMARCResultType). */
enum am_report_dmarc {
	AM_REPORT_DMARC_FAIL,
	AM_REPORT_DMARC_PASS,
};

/* Why the disposition differs from the policy (PolicyOverrideType). */
enum am_report_override {
	AM_REPORT_OVR_LOCAL_POLICY,
	AM_REPORT_OVR_MAILING_LIST,      /* the ARC override */
	AM_REPORT_OVR_OTHER,             /* say what in the comment */
	AM_REPORT_OVR_POLICY_TEST_MODE,  /* t=y */
	AM_REPORT_OVR_TRUSTED_FORWARDER,
	AM_REPORT_OVR_SAMPLED_OUT,       /* RFC 7489 pct: written as "other"
	                                    with the comment "sampled_out" */
};

/* A DKIM result (RFC 8601 s.2.7.1, DKIMResultType). */
enum am_report_dkim_result {
	AM_REPORT_DKIM_NONE,
	AM_REPORT_DKIM_PASS,
	AM_REPORT_DKIM_FAIL,
	AM_REPORT_DKIM_POLICY,
	AM_REPORT_DKIM_NEUTRAL,
	AM_REPORT_DKIM_TEMPERROR,
	AM_REPORT_DKIM_PERMERROR,
};

/* An SPF result (RFC 8601 s.2.7.2, SPFResultType). */
enum am_report_spf_result {
	AM_REPORT_SPF_NONE,
	AM_REPORT_SPF_PASS,
	AM_REPORT_SPF_FAIL,
	AM_REPORT_SPF_SOFTFAIL,
	AM_REPORT_SPF_POLICY,
	AM_REPORT_SPF_NEUTRAL,
	AM_REPORT_SPF_TEMPERROR,
	AM_REPORT_SPF_PERMERROR,
};

/* Identity SPF checked: MAIL FROM, or HELO for a null reverse-path. */
enum am_report_spf_scope { AM_REPORT_SCOPE_MFROM, AM_REPORT_SCOPE_HELO };

/* How the policy record was found (DiscoveryType). */
enum am_report_discovery { AM_REPORT_DISC_TREEWALK, AM_REPORT_DISC_PSL };

/*
 * A failure report (RFC 9991) to record with the row: what the AFRF
 * message (RFC 6591) of authmilter-report needs beyond the row's own
 * fields (time, source_ip, policy_domain, header_from, ruf, fo,
 * spf_domain). Only the header block is kept, never the body.
 */
struct am_report_failure {
	const char *mail_from;         /* MAIL FROM address; "" for <> */
	const char *identity_alignment; /* RFC 9991 s.4: "dkim, spf" or
	                                  "none" */
	const char *delivery_result;   /* RFC 6591: delivered, spam, policy,
	                                  reject, other */
	/* the first failing DKIM signature of an aligned d=; NULL: none */
	const char *dkim_domain, *dkim_selector, *dkim_identity;
	const char *authres;           /* our Authentication-Results value */
	const char *headers;           /* "Name:value" fields as received,
	                                  CRLF line ends, whole fields only,
	                                  at most AM_REPORT_HEADERS_MAX */
};

/*
 * Whether fo= (RFC 9989 s.4.7: a ':' list of 0, 1, d, s; absent or
 * without a known value: "0") asks for a failure report:
 *   0  no mechanism produced an aligned pass (DMARC fail),
 *   1  some mechanism did not produce an aligned pass,
 *   d  some DKIM signature failed evaluation, aligned or not,
 *   s  SPF failed evaluation, aligned or not.
 * A DMARC temperror asks for nothing (the result is not known). Pure.
 */
struct am_report_fo_input {
	int dmarc_temperror;           /* the DMARC result was temperror */
	int dkim_aligned_pass, spf_aligned_pass;
	int dkim_failed;               /* a signature: fail or permerror */
	int spf_failed;                /* SPF: fail, softfail or permerror */
};
int am_report_fo_wants(const char *fo, const struct am_report_fo_input *in);

struct am_report_override_reason {
	enum am_report_override type;
	const char *comment;           /* NULL: none */
};

struct am_report_dkim {
	const char *domain;            /* d= */
	const char *selector;          /* s= */
	enum am_report_dkim_result result;
	const char *human;             /* reason ("body hash mismatch"); NULL */
	int aligned;                   /* nonzero: d= aligns with the From
	                                  domain (relaxed or strict) */
};

/*
 * One message. A row the caller fills may point anywhere (its strings are
 * borrowed; NULL means absent/unknown); am_report_row_copy() makes a row
 * that owns capped copies of everything, freed by am_report_row_free().
 */
struct am_report_row {
	int64_t time;                  /* seconds since the epoch, UTC */
	const char *source_ip;         /* the SMTP client, textual */
	const char *policy_domain;     /* where the DMARC record was found */
	const char *header_from;       /* RFC5322.From domain */
	const char *envelope_from;     /* MAIL FROM domain; "" for a null
	                                  reverse-path; NULL unknown */
	const char *envelope_to;       /* RCPT TO domain; NULL unknown */
	/* the policy as published */
	enum am_report_policy p, sp, np;
	char adkim, aspf;              /* 'r' or 's' */
	char testing;                  /* 'y' or 'n' (t=) */
	const char *fo;                /* fo= as published; NULL: absent */
	enum am_report_discovery discovery;
	const char *const *rua;        /* the rua URIs, in record order */
	size_t nrua;
	const char *const *ruf;
	size_t nruf;
	/* the evaluation */
	enum am_report_dmarc dmarc;    /* the DMARC result */
	enum am_report_dmarc dkim_aligned, spf_aligned;
	enum am_report_disposition disposition;
	const struct am_report_override_reason *reasons;
	size_t nreasons;
	const struct am_report_dkim *dkim;
	size_t ndkim;
	/* the SPF result; spf_domain NULL: SPF was not evaluated */
	const char *spf_domain;
	enum am_report_spf_scope spf_scope;
	enum am_report_spf_result spf_result;
	const char *spf_human;
	/* a failure report to send to the ruf URIs; NULL: none */
	const struct am_report_failure *failure;
};

/*
 * A deep copy of row with every string capped (cut at the caps above),
 * at most AM_REPORT_URI_COUNT URIs and AM_REPORT_URI_BYTES bytes per URI
 * list, at most AM_REPORT_REASONS_MAX reasons, and at most
 * AM_REPORT_DKIM_MAX signatures chosen in the order RFC 9990 s.2.1.2
 * prefers (pass with d= equal to the From domain, other aligned passes,
 * other passes, the rest; stable within each class). NULL on out of memory or
 * when a required field (source_ip, policy_domain, header_from) is NULL.
 */
struct am_report_row *am_report_row_copy(const struct am_report_row *row);
/* Free the failure report of a copied row (the row stays); returns c. */
struct am_report_row *am_report_row_strip_failure(struct am_report_row *c);
/* Free a row made by am_report_row_copy(); returns NULL. NULL is a no-op. */
struct am_report_row *am_report_row_free(struct am_report_row *row);

/* The RFC 9990 schema words for each value. */
const char *am_report_policy_name(enum am_report_policy p);     /* "" unset */
const char *am_report_disposition_name(enum am_report_disposition d);
const char *am_report_dmarc_name(enum am_report_dmarc r);
const char *am_report_override_name(enum am_report_override o);
const char *am_report_dkim_result_name(enum am_report_dkim_result r);
const char *am_report_spf_result_name(enum am_report_spf_result r);
const char *am_report_scope_name(enum am_report_spf_scope s);
const char *am_report_discovery_name(enum am_report_discovery d);

/* ---- the queue and its writer thread (report_queue.c) ---- */

/*
 * A store as the writer thread sees it (report_store.h has the whole
 * interface). insert() commits the n rows in one transaction: 0, or -1
 * with why (then none of them is kept). It runs on the writer thread only.
 */
struct am_report_sink {
	const char *name;
	int (*insert)(void *state, struct am_report_row *const *rows, size_t n,
	    struct am_buf *why);
	/* Optional: am_reporter_free() calls it last, after the writer
	   stopped, to release state. NULL: state is the caller's. */
	void (*close)(void *state);
};

struct am_reporter_opts {
	size_t queue_max;       /* rows waiting; 0: 10000 */
	size_t batch_max;       /* rows per transaction; 0: 500 */
	unsigned flush_ms;      /* longest a queued row waits; 0: 1000 */
	/*
	 * Called (on the writer or a submitting thread, never with a lock
	 * held) with a one-line warning about dropped rows, at most once per
	 * warn_interval seconds (0: 60). NULL: no warnings.
	 */
	void (*warn)(void *arg, const char *msg);
	void *warn_arg;
	/* Called with every number of rows dropped (queue full, store failed,
	 * copy failed), with no lock held, from any thread; NULL: not told.
	 * For the daemon's metrics. */
	void (*dropped)(void *arg, uint64_t n);
	void *dropped_arg;
	unsigned warn_interval;
	/* rows carrying a failure report (up to AM_REPORT_HEADERS_MAX
	 * bytes each) in the queue at once; past it the row is queued
	 * without its failure report (counted). 0: 100 */
	size_t fail_max;
	/*
	 * Longest am_reporter_free() waits for the store to take the queued
	 * rows (0: 5000 ms); after it, they are dropped, counted and warned
	 * about, so a hung store cannot hold up a stop.
	 */
	unsigned drain_ms;
	/* Clock for the warning rate limit; NULL: CLOCK_MONOTONIC seconds. */
	int64_t (*now)(void *arg);
	void *now_arg;
};

struct am_report_stats {
	uint64_t submitted;     /* rows handed to am_report_submit() */
	uint64_t committed;     /* rows the store committed */
	uint64_t dropped_full;  /* rows dropped: queue full */
	uint64_t dropped_store; /* rows dropped: the store failed */
	uint64_t dropped_copy;  /* rows dropped: out of memory / bad row */
	uint64_t batches;       /* insert() calls that succeeded */
	uint64_t dropped_failure; /* failure reports left off their row:
	                           fail_max of them were queued already */
};

struct am_reporter;

/*
 * Start a writer thread that feeds sink (sink and state are not owned and
 * must outlive the reporter). NULL with why when the thread cannot start.
 */
struct am_reporter *am_reporter_new(const struct am_report_sink *sink,
    void *state, const struct am_reporter_opts *o, struct am_buf *why);
/*
 * Queue a copy of row (see am_report_row_copy()) for the store. Never
 * waits for the store: returns 0 when queued, -1 when the row was dropped
 * (queue full, bad row, out of memory, or r NULL: reporting off) -- the
 * drop is counted; the caller need not do anything about it. Any thread.
 */
int am_report_submit(struct am_reporter *r, const struct am_report_row *row);
/*
 * Wait until every row queued before the call is committed or dropped
 * (shutdown, tests). Do not call from a warn callback.
 */
void am_reporter_flush(struct am_reporter *r);
/* Counters so far (a consistent snapshot); all 0 for r NULL. */
void am_reporter_stats(struct am_reporter *r, struct am_report_stats *out);
/*
 * Drain the queue (at most drain_ms), stop the writer thread, free r;
 * returns NULL. NULL is a no-op. When the store does not answer within
 * drain_ms, the queued rows are dropped (counted, one warning) and the
 * writer thread, stuck in the store, frees r itself if it ever returns.
 */
struct am_reporter *am_reporter_free(struct am_reporter *r);

/*
 * What the daemon calls at start (report_store.c): open the store named
 * by spec (ReportStore, e.g. "sqlite:/var/lib/authmilter/reports.db"),
 * creating or migrating its schema, and start a reporter that owns it
 * (am_reporter_free() closes it). NULL with why on error.
 */
struct am_reporter *am_reporter_open(const char *spec,
    const struct am_reporter_opts *o, struct am_buf *why);

#endif
