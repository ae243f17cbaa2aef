/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dns: the one DNS interface of authmilter.
 *
 * Every lookup of the project (SPF, DKIM keys, DMARC records) goes through
 * am_dns_query(). A struct am_dns is a back end plus its state, like
 * Postfix's dict or OpenSMTPD's table_backend:
 *
 *   dns_ldns.c   real resolver (ldns builds and parses packets; our own
 *                transport): nameservers "ip", "ip@port" or
 *                "[ip6]@port", timeout, retries, EDNS0, TCP on
 *                truncation; one loop thread owns every socket
 *   dns_cache.c  a layer over another am_dns: TTL cache with negative
 *                caching, shared by all threads (one mutex); one query
 *                in flight per name, whoever asks it
 *   dns_msg.c    a layer for one message over the shared stack: remembers
 *                every answer and failure for the message, shares a query
 *                in flight between threads, enforces the message's
 *                deadline, keeps a trace of the queries for the log and
 *                submits am_dns_prefetch() hints without waiting
 *   dns_zone.c   answers from master zone files (ldns parser); for tests and
 *                for the --check command with a local zone
 *
 * Answers are immutable and reference counted, so the cache can hand the
 * same answer to many threads; release each one with am_dns_answer_free().
 *
 * Names are literal: each '.' separates labels, there are no backslash
 * escapes, comparisons ignore ASCII case. Names in answers (MX, PTR, CNAME
 * targets) come back the same way; a record whose target has a '.' or NUL
 * inside a label is dropped.
 *
 * Writing a back end (e.g. a test wrapper that makes some names time out):
 * fill a struct am_dns_backend, call am_dns_new(&be, state), and forward to
 * an inner struct am_dns with am_dns_query(); see tests/unit/test_dns.c.
 *
 * Deadlines: am_dns_query_until() gives one query an absolute deadline in
 * milliseconds on am_dns_clock(d); layers pass it down, the resolver cuts
 * its UDP tries and TCP reads at it, and a query asked after it is
 * TEMPFAIL at once. Every query also has the resolver's own total bound.
 *
 * Thread safety: am_dns_query() may be called from any number of threads at
 * once on the same struct am_dns; each back end says how it ensures that.
 *
 * Data flow of lookups (issue 12). Who submits: the session thread (checks
 * at end of message), the pool threads of LookupThreads (the SPF
 * evaluation started at MAIL, the early DKIM key and DMARC jobs), and the
 * message layer itself for prefetch hints (SPF's speculative lookups,
 * the names an MX or PTR answer brings, and -- through the message's
 * answer observer, am_dns_msg_set_observer -- the macro-free targets of
 * an SPF record a hint brought, before any evaluation parses it; and
 * _dmarc of the SPF identity's domain, hinted at MAIL by msg.c). A
 * blocking query goes message layer -> cache -> resolver: the message
 * layer reuses the message's own answers and joins its own queries in
 * flight; the cache
 * answers hits and otherwise joins or starts the one query in flight for
 * (name, type) -- two sessions needing a name share it; the resolver
 * queues it for its loop thread. Who owns sockets: only that loop thread
 * (dns_ldns.c): nonblocking sockets, one poll() over all of them, at most
 * max_inflight (256) queries on the wire, each a small state machine (UDP
 * tries per server, EDNS0 retry, TCP after truncation) with its own total
 * deadline. Who waits: the asking thread, on its own condition variable,
 * until its own deadline (the caller's, or the message's MessageTimeout,
 * which may move); when the last waiter of a query leaves, the query is
 * cancelled. A prefetch hint waits for nothing (am_dns_submit): when the
 * answer is in, the loop thread stores it in the cache, then settles the
 * message's entry, where the evaluation that asks next finds it. So the
 * number of lookups in flight is bounded by the cap, not by threads; a
 * message's latency is the depth of its dependency chain in round trips.
 * A stack without an asynchronous transport (zone files, test back ends)
 * answers blocking queries inline and runs hints on the pool as before.
 */
#ifndef AM_DNS_H
#define AM_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

/* RR types we ask for. */
#define AM_DNS_T_A      1
#define AM_DNS_T_CNAME  5
#define AM_DNS_T_PTR   12
#define AM_DNS_T_MX    15
#define AM_DNS_T_TXT   16
#define AM_DNS_T_AAAA  28

/* Longest name we accept (RFC 1035 s.2.3.4), in presentation form. */
#define AM_DNS_NAME_MAX 253

enum am_dns_status {
	AM_DNS_OK,        /* at least one record of the asked type */
	AM_DNS_NODATA,    /* the name exists, but has no record of that type */
	AM_DNS_NXDOMAIN,  /* the name does not exist (RCODE 3) */
	AM_DNS_TEMPFAIL,  /* timeout, SERVFAIL, other RCODE, network error:
	                     the answer may differ later (SPF temperror) */
	AM_DNS_BADNAME,   /* the query name itself is invalid (empty label,
	                     label over 63 octets, name over 253), or the
	                     type is not 1..65535: no query was sent */
};

struct am_dns_rr {
	int type;             /* AM_DNS_T_* */
	uint32_t ttl;
	uint16_t pref;        /* MX preference */
	unsigned char addr[16]; /* A: 4 bytes, AAAA: 16 bytes */
	char *text;           /* TXT: character-strings concatenated (RFC 7208
	                         s.3.3, RFC 6376 s.3.6.2.2), NUL terminated;
	                         MX exchange, PTR and CNAME target: lower
	                         case, no trailing dot */
	size_t textlen;       /* bytes in text (TXT data may hold NULs) */
};

struct am_dns_answer {
	enum am_dns_status status;
	int type;             /* type asked for */
	uint32_t ttl;         /* how long the whole answer may be cached:
	                         least RR TTL, or the negative TTL */
	size_t count;         /* records of the asked type (CNAMEs followed) */
	struct am_dns_rr *rr;
	int refs;             /* owned by dns.c; use am_dns_answer_ref/_free */
};

/* Per-query controls passed down the layers, and what they report back. */
struct am_dns_ctl {
	uint64_t deadline;    /* in: give up (TEMPFAIL) at this time, ms on
	                         am_dns_clock(); 0: no deadline but the
	                         back end's own */
	const uint64_t *live; /* in: NULL, or a deadline (as above; 0: none)
	                         that may be set or moved earlier while the
	                         query is in flight; read atomically; the
	                         message layer's MessageTimeout */
	int from_cache;       /* out: 1 when a cache layer had the answer */
	int timed_out;        /* out: 1 when the query is TEMPFAIL because a
	                         deadline (the caller's or the message's)
	                         passed, not because of an answer */
};

/*
 * An asynchronous request (am_dns_submit): memory of the submitter, which
 * must keep it until done has been called or am_dns_cancel() returned.
 */
struct am_dns_req {
	/* in: called once, on another thread (the resolver's), when the
	 * result is in; it takes over ans */
	void (*done)(struct am_dns_req *r);
	void *arg;                /* in: for done */
	enum am_dns_status status; /* out, as am_dns_query() */
	struct am_dns_answer *ans; /* out: a reference, or NULL */
	int from_cache;           /* out: the cache layer had it at once */
	int timed_out;            /* out: as in struct am_dns_ctl */
	char why[200];            /* out: on TEMPFAIL */
	/* owned by the layer the request was submitted to */
	struct am_dns_req *next;
	void *link;
	int state;
};

struct am_dns_backend {
	const char *name;
	/*
	 * Look up (name, type). name is in presentation form without a
	 * trailing dot. On AM_DNS_OK/NODATA/NXDOMAIN set *ans to a new
	 * answer (refs 1); on failure leave *ans NULL and fill why.
	 */
	enum am_dns_status (*query)(void *state, const char *name, int type,
	    struct am_dns_answer **ans, struct am_buf *why);
	/* Free state. */
	void (*close)(void *state);
	/*
	 * Optional: 1 when (name, type) can be answered now without asking
	 * the network (a live cache entry, an in-memory zone). NULL: never.
	 */
	int (*cached)(void *state, const char *name, int type);
	/*
	 * Optional: query with controls (deadline in, cache hit out); when
	 * set it is used instead of query. Layers forward ctl to the inner
	 * am_dns with am_dns_query_ctl().
	 */
	enum am_dns_status (*query_ctl)(void *state, const char *name,
	    int type, struct am_dns_ctl *ctl, struct am_dns_answer **ans,
	    struct am_buf *why);
	/*
	 * Optional: the clock deadlines are measured on, in milliseconds;
	 * layers forward to their inner am_dns, so a test back end at the
	 * bottom can bring a fake clock. NULL: CLOCK_MONOTONIC.
	 */
	uint64_t (*clock)(void *state);
	/*
	 * Optional: start looking up (name, type) in the background, and
	 * when the answer is in, the type follow (0: none) of each name it
	 * holds (MX exchanges, PTR targets). A hint only: the result is
	 * kept for a later query, nothing is returned. NULL: no-op.
	 */
	void (*prefetch)(void *state, const char *name, int type,
	    int follow);
	/*
	 * Optional: start (name, type) without waiting (am_dns_submit);
	 * 0 when r was taken (r->done will be called, or r cancelled), -1
	 * when this stack cannot do it now (no asynchronous transport
	 * below, a cache hit, out of memory): ask with query instead.
	 */
	int (*submit)(void *state, const char *name, int type,
	    const struct am_dns_ctl *ctl, struct am_dns_req *r);
	/*
	 * With submit: once it returns, r->done is not running and will
	 * not be called (if it has not been already).
	 */
	void (*cancel)(void *state, struct am_dns_req *r);
};

struct am_dns {
	const struct am_dns_backend *be;
	void *state;
	/* Statistics, updated atomically: queries asked of this layer. */
	unsigned long queries;
};

/* Wrap a back end and its state (taken over) into a new am_dns. */
struct am_dns *am_dns_new(const struct am_dns_backend *be, void *state);
/* Close the back end and free d; returns NULL. NULL is a no-op. */
struct am_dns *am_dns_free(struct am_dns *d);

/*
 * Look up (name, type) through d. A trailing dot on name is ignored; the
 * name is checked (AM_DNS_BADNAME) before any back end sees it.
 * On success-like statuses (OK, NODATA, NXDOMAIN) *ans is an answer the
 * caller must release with am_dns_answer_free(); on TEMPFAIL/BADNAME *ans is
 * NULL and why (may be NULL) says what went wrong.
 */
enum am_dns_status am_dns_query(struct am_dns *d, const char *name, int type,
    struct am_dns_answer **ans, struct am_buf *why);

/*
 * am_dns_query() with an absolute deadline (ms on am_dns_clock(d); 0: none):
 * a query asked at or after it is TEMPFAIL ("lookup deadline passed")
 * without reaching the back end; one in flight gives up at it.
 */
enum am_dns_status am_dns_query_until(struct am_dns *d, const char *name,
    int type, uint64_t deadline, struct am_dns_answer **ans,
    struct am_buf *why);

/* am_dns_query() with controls: deadline in, cache hit and time out out
 * (ctl may not be NULL; the out fields are reset first). */
enum am_dns_status am_dns_query_ctl(struct am_dns *d, const char *name,
    int type, struct am_dns_ctl *ctl, struct am_dns_answer **ans,
    struct am_buf *why);

/* Now, in milliseconds, on the clock of d's deadlines. */
uint64_t am_dns_clock(struct am_dns *d);

/*
 * 1 when d can answer (name, type) right away, without a network round
 * trip: the engine then skips handing the lookup to another thread, which
 * costs more than a cache hit.
 */
int am_dns_cached(struct am_dns *d, const char *name, int type);

/*
 * Speculative lookup: a hint that (name, type) will probably be asked
 * soon, and, when follow is not 0, (exchange or target, follow) for each
 * name of its MX or PTR answer (at most 10). A back end that can (the
 * message layer: submitted to the resolver's loop, or run on its pool,
 * am_dns_msg_set_jobs) starts it at once and keeps the result for the
 * query that comes; the others do nothing. Never changes an answer; bad
 * names are ignored.
 */
void am_dns_prefetch(struct am_dns *d, const char *name, int type,
    int follow);

/*
 * Asynchronous lookup: start (name, type) and return at once; r->done is
 * called on the resolver's thread with the result (which then lands in
 * any cache layer on the way, as a query's would). Returns 0 when taken,
 * -1 when d cannot do it (no asynchronous transport under d, a cache hit,
 * a bad name): use am_dns_query() then. ctl: deadline and live (may be
 * NULL); the out fields are in r. r->done must not call am_dns_cancel()
 * or free the stack; it may submit again.
 */
int am_dns_submit(struct am_dns *d, const char *name, int type,
    const struct am_dns_ctl *ctl, struct am_dns_req *r);
/* Withdraw a submitted r: on return r->done is not running and will not
 * be called, unless it was called already. */
void am_dns_cancel(struct am_dns *d, struct am_dns_req *r);

/* Check a query name: 0 if it can be asked, -1 (with why) if not. */
int am_dns_name_check(const char *name, struct am_buf *why);

/* Allocate an answer with room for n records (zeroed, refs 1). */
struct am_dns_answer *am_dns_answer_new(enum am_dns_status st, int type,
    size_t n);
/* Take another reference to a; returns a. */
struct am_dns_answer *am_dns_answer_ref(struct am_dns_answer *a);
/* Drop a reference; frees at zero. Returns NULL. NULL is a no-op. */
struct am_dns_answer *am_dns_answer_free(struct am_dns_answer *a);

/* Name of a status, for logs ("ok", "nodata", "nxdomain", ...). */
const char *am_dns_status_name(enum am_dns_status st);

/* ---- back ends ---- */

struct am_dns_ldns_opts {
	const char *const *servers; /* "127.0.0.1", "::1", "127.0.0.1@5353",
	                               "[::1]@5353"; asked in order until one
	                               answers; NULL/empty list: the
	                               nameservers of /etc/resolv.conf */
	size_t nservers;
	unsigned timeout_ms;       /* per try; default 5000 */
	unsigned retries;          /* tries per server; default 2 */
	unsigned max_inflight;     /* queries on the wire at once, at most;
	                              more wait their turn (0: 256) */
	unsigned edns_size;        /* EDNS0 UDP payload size advertised;
	                              0: 1232 (DNS flag day 2020), capped at
	                              4096; AM_DNS_EDNS_OFF: no EDNS0 at
	                              first; a truncated answer is asked
	                              again with EDNS0 4096, then by TCP */
};

#define AM_DNS_EDNS_OFF 1

/*
 * A resolver back end; NULL with why on error (bad server address). A
 * query takes at most nservers * retries * timeout_ms in all, TCP
 * included, and no longer than the caller's deadline. SERVFAIL, REFUSED,
 * other RCODEs and timeouts are TEMPFAIL with a why such as "SERVFAIL
 * from 127.0.0.1@5353". Replies whose ID or question do not match the
 * query are ignored (RFC 5452 s.9.1) and the right one is awaited.
 */
struct am_dns *am_dns_ldns_new(const struct am_dns_ldns_opts *o,
    struct am_buf *why);

/*
 * A zone-file back end: each path is a master file (RFC 1035 s.5) with
 * absolute or $ORIGIN-relative owner names. Names absent from every file are
 * NXDOMAIN, names with other types only are NODATA, CNAMEs are followed
 * (up to 8). NULL with why ("file:line: ...") on a parse error.
 */
struct am_dns *am_dns_zone_new(const char *const *paths, size_t npaths,
    struct am_buf *why);

/*
 * A caching layer over inner (taken over, also on failure): positive
 * answers for their TTL (at most a day), NXDOMAIN/NODATA for the negative
 * TTL (capped at neg_ttl_max seconds; 0: no negative caching), TEMPFAIL is
 * not cached. At most max_entries answers (0: 10000; least recently used
 * dropped). A hit returns the stored answer, whose ttl is the one received.
 * Thread safe (one mutex, not held while inner is asked). NULL on out of
 * memory.
 */
struct am_dns *am_dns_cache_new(struct am_dns *inner, size_t max_entries,
    uint32_t neg_ttl_max);

/*
 * Replace the clock of a cache made by am_dns_cache_new() (for tests):
 * now(arg) returns the current time in seconds, on any scale that only
 * moves forward. The default is CLOCK_MONOTONIC. Call before the cache is
 * shared between threads. No-op if d is not a cache.
 */
void am_dns_cache_set_clock(struct am_dns *d, time_t (*now)(void *),
    void *arg);

/*
 * A layer for one message over shared (not taken over; must outlive the
 * layer). Thread safe: the session thread and pool threads may ask at once.
 * - Every result is remembered for the life of the layer: a name that
 *   failed (TEMPFAIL) is not asked again, an answer is reused; two threads
 *   asking the same name at once share one query.
 * - am_dns_msg_set_deadline(): from then on a query past the deadline is
 *   TEMPFAIL ("message deadline passed") at once, and one sent is given at
 *   most the time left.
 * - Each query asked of the layer is traced (am_dns_msg_trace()).
 * NULL on out of memory.
 */
struct am_dns *am_dns_msg_new(struct am_dns *shared);

struct am_jobs;
/*
 * Let the message layer d run am_dns_prefetch() hints as jobs of pool
 * (not taken over; must outlive d) when the stack below cannot take them
 * asynchronously (am_dns_submit); with the resolver below, hints are
 * submitted and need no pool. At most AM_DNS_PREFETCH_MAX hints are
 * started per message, follow-ups included; more are dropped. The layer
 * cancels or waits for them when freed, after making those in flight give
 * up (as at the message deadline). Without either, hints are dropped.
 * Call before the layer is shared between threads. No-op if d is not a
 * message layer.
 */
void am_dns_msg_set_jobs(struct am_dns *d, struct am_jobs *pool);

#define AM_DNS_PREFETCH_MAX 40

/*
 * An observer of the answers hints bring: fn(arg, d, name, type, a) is
 * called once for each hint of d whose answer is OK, after the message's
 * entry is settled, on the thread that settled it (the resolver's loop
 * thread, or a pool thread) and with no lock of the layer held. It may
 * call am_dns_prefetch(d, ...) (those hints count toward the same
 * AM_DNS_PREFETCH_MAX); it must not wait (no am_dns_query) and must not
 * keep a (its own am_dns_answer_ref may). It lets the user of the layer
 * hint what an answer leads to before anyone parses it (msg.c: the
 * targets of an SPF record). One under way when the layer is freed is
 * waited for (its hints are dropped), so arg must outlive the layer.
 * Set before the layer is shared between threads. No-op if d is not a
 * message layer.
 */
typedef void am_dns_msg_observer(void *arg, struct am_dns *d,
    const char *name, int type, const struct am_dns_answer *a);
void am_dns_msg_set_observer(struct am_dns *d, am_dns_msg_observer *fn,
    void *arg);

/* The message's deadline, ms on am_dns_clock(d); 0: none; 1: now (the
 * message is being freed). Lookups in flight see it within 100 ms. No-op
 * if d is not a message layer. */
void am_dns_msg_set_deadline(struct am_dns *d, uint64_t deadline);

/* Where a traced answer came from. */
enum am_dns_source {
	AM_DNS_SRC_WIRE,      /* asked of the network (a cache miss) */
	AM_DNS_SRC_CACHE,     /* the shared cache had it */
	AM_DNS_SRC_MESSAGE,   /* asked before for this message: reused */
	AM_DNS_SRC_SHARED,    /* another thread's query in flight, awaited */
	AM_DNS_SRC_DEADLINE,  /* not asked: the message deadline had passed */
};

/* One query of a message, as traced. */
struct am_dns_trace {
	const char *name;     /* as asked, without trailing dot */
	int type;
	enum am_dns_status status;
	uint32_t ttl;         /* of the answer; 0 on TEMPFAIL */
	size_t count;         /* records */
	enum am_dns_source source;
	unsigned ms;          /* time the query took */
	const char *why;      /* on TEMPFAIL, else "" */
};

/* At most this many queries are traced per message; more are counted. */
#define AM_DNS_TRACE_MAX 256

/*
 * Call fn for each traced query, in order; returns how many were not
 * traced (over AM_DNS_TRACE_MAX). Call when no query is in flight.
 */
size_t am_dns_msg_trace(struct am_dns *d,
    void (*fn)(const struct am_dns_trace *t, void *arg), void *arg);

/* "wire", "cache", "message", "shared", "deadline". */
const char *am_dns_source_name(enum am_dns_source s);
/* "A", "TXT", ... or "TYPE65" for others. */
const char *am_dns_type_name(int type, char *buf, size_t len);

#endif
