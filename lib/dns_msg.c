/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dns_msg: the DNS layer of one message, over the shared (cached) stack.
 * See dns.h.
 *
 * Entry points: am_dns_msg_new(), am_dns_msg_set_deadline(),
 * am_dns_msg_trace(). The engine makes one per message (am_msg_new) and
 * every lookup of that message -- the early SPF and prefetch jobs on pool
 * threads and the session thread at end of message -- goes through it.
 *
 * - Memory of the message: each (name, type) is asked of the shared stack
 *   once; its result, TEMPFAIL included, is kept until the message ends.
 *   The shared cache does not keep failures (a fixed server must be seen
 *   by the next message), so without this a name that never answers would
 *   cost a full timeout again in each check that needs it (RFC 7208
 *   s.4.6.4 asks to bound that work; RFC 2308 s.7.1 allows remembering a
 *   server failure briefly). At most ENTRY_MAX names are remembered.
 * - A second thread asking a name that is in flight waits for that query
 *   (until its own deadline) instead of sending another.
 * - The message deadline (MessageTimeout): once passed, a query is
 *   TEMPFAIL at once ("message deadline passed"); one in flight gets at
 *   most the time left, even if it was sent before the deadline was set
 *   (passed down as ctl->live, which the resolver looks at while it waits).
 * - The trace: every query asked of the layer, with where its answer came
 *   from, for the debug log (at most AM_DNS_TRACE_MAX).
 * - Prefetch (am_dns_prefetch): a hint gets an entry in flight and is
 *   submitted to the shared stack (am_dns_submit) without a thread
 *   waiting for it; its done, on the resolver's thread, settles the entry
 *   as a query would, so the evaluation that asks the name next shares it
 *   in flight or reuses it. Only when the stack below has no asynchronous
 *   transport (zone files, test back ends) does a hint become a job of
 *   the pool (am_dns_msg_set_jobs) that asks as a query would. An MX
 *   or PTR answer's names are then hinted with the follow type. At most
 *   AM_DNS_PREFETCH_MAX hints per message, in a fixed array of the layer;
 *   a name the shared cache holds, asked, or already hinted is skipped.
 *   Hints cost no lookup of the callers' limits and change no answer: a
 *   prefetch is only ever an earlier copy of the query that follows.
 * - The observer (am_dns_msg_set_observer): each answer a hint brings is
 *   shown to it once settled, outside the lock, on the thread that
 *   settled it (the resolver's loop, or a pool thread), so that the user
 *   of the layer can hint what that answer will lead to (SPF: the targets
 *   of a record) before an evaluation parses it. The layer knows nothing
 *   of what the answers mean.
 *
 * Thread safety: one mutex guards the entries and the trace; it is not held
 * while the shared stack is asked. Waiters sleep on one condition variable.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dns.h"
#include "dns_priv.h"
#include "jobs.h"

#define ENTRY_MAX 1024
#define WHY_MAX 200
/* Names of one answer hinted with the follow type (RFC 7208 s.4.6.4
 * looks at no more than 10 MX or PTR names). */
#define FOLLOW_MAX 10

struct mentry {
	struct mentry *next;
	int type;
	int done;                 /* the query has come back */
	int timed_out;            /* it failed at a deadline */
	enum am_dns_status st;
	struct am_dns_answer *ans; /* a reference, on OK/NODATA/NXDOMAIN */
	char why[WHY_MAX];        /* on TEMPFAIL */
	size_t klen;
	unsigned char key[AM_DNS_WIRE_MAX];
};

struct tentry {
	char name[AM_DNS_NAME_MAX + 1];
	int type;
	enum am_dns_status st;
	uint32_t ttl;
	size_t count;
	enum am_dns_source src;
	unsigned ms;
	char why[WHY_MAX];
};

struct dmsg;

/*
 * A prefetch hint: submitted to the shared stack (async: its done runs on
 * the resolver's thread and settles e), or run as a job of the pool when
 * the stack below cannot take it without a thread.
 */
struct pjob {
	struct am_job job;
	struct am_dns_req req;    /* async */
	struct mentry *e;         /* async: the entry it settles */
	uint64_t t0;              /* async: when it was submitted */
	int async;
	struct dmsg *m;
	int type;
	int follow;               /* type to hint for each name of the answer */
	char name[AM_DNS_NAME_MAX + 1];
};

struct dmsg {
	struct am_dns *shared;
	struct am_jobs *pool;     /* NULL: hints are dropped; set before the
	                             layer is shared */
	pthread_mutex_t mu;
	pthread_cond_t cv;        /* an entry became done */
	uint64_t deadline;        /* 0: none; written atomically under mu,
	                             read atomically by queries in flight */
	struct mentry *entries;
	size_t nentries;
	struct tentry *trace;     /* at most AM_DNS_TRACE_MAX */
	size_t ntrace, cap, dropped;
	int closing;              /* under mu: no more hints */
	size_t npj;               /* under mu: hints started */
	struct pjob pj[AM_DNS_PREFETCH_MAX]; /* under mu until submitted */
	am_dns_msg_observer *observe; /* set before the layer is shared */
	void *observe_arg;
	struct am_dns *self;      /* the struct am_dns of this layer */
};

/* Under the lock: the entry of (key, type), or NULL. */
static struct mentry *
find(struct dmsg *m, const unsigned char *key, size_t klen, int type)
{
	struct mentry *e;

	for (e = m->entries; e != NULL; e = e->next)
		if (e->type == type && e->klen == klen &&
		    memcmp(e->key, key, klen) == 0)
			return e;
	return NULL;
}

/* Under the lock: record one query in the trace. */
static void
trace(struct dmsg *m, const char *name, int type, enum am_dns_status st,
    const struct am_dns_answer *a, enum am_dns_source src, uint64_t t0,
    const char *why)
{
	struct tentry *t;
	size_t cap;

	if (m->ntrace == m->cap) {
		/* grown as needed: most messages make a handful of queries */
		cap = m->cap == 0 ? 16 : m->cap * 2;
		if (m->cap >= AM_DNS_TRACE_MAX || (t = realloc(m->trace,
		    cap * sizeof(*t))) == NULL) {
			m->dropped++;
			return;
		}
		m->trace = t;
		m->cap = cap;
	}
	t = &m->trace[m->ntrace++];
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->type = type;
	t->st = st;
	t->ttl = a != NULL ? a->ttl : 0;
	t->count = a != NULL ? a->count : 0;
	t->src = src;
	t->ms = (unsigned)(am_dns_clock(m->shared) - t0);
	snprintf(t->why, sizeof(t->why), "%s", st == AM_DNS_TEMPFAIL &&
	    why != NULL ? why : "");
}

/* Under the lock: the result of a done entry, traced as src. */
static enum am_dns_status
reuse(struct dmsg *m, const struct mentry *e, const char *name,
    enum am_dns_source src, uint64_t t0, struct am_dns_ctl *ctl,
    struct am_dns_answer **ans, struct am_buf *why)
{
	*ans = am_dns_answer_ref(e->ans);
	ctl->timed_out = e->timed_out;
	if (e->st == AM_DNS_TEMPFAIL)
		am_buf_setf(why, "%s", e->why);
	trace(m, name, e->type, e->st, e->ans, src, t0, e->why);
	return e->st;
}

static uint64_t
earlier(uint64_t a, uint64_t b)
{
	if (a == 0 || (b != 0 && b < a))
		return b;
	return a;
}

/*
 * Under the lock: wait until e is done or the time is up (the caller's
 * deadline, or the message's, which may be set meanwhile); 1 if done.
 */
static int
await(struct dmsg *m, struct mentry *e, uint64_t mine)
{
	struct timespec ts;
	uint64_t left, now, until;

	while (!e->done) {
		until = earlier(mine, m->deadline);
		if (until == 0) {
			pthread_cond_wait(&m->cv, &m->mu);
			continue;
		}
		if ((now = am_dns_clock(m->shared)) >= until)
			return 0;
		/* the layer's clock may be a test's; sleep in real time */
		left = until - now;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)(left / 1000);
		ts.tv_nsec += (long)(left % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&m->cv, &m->mu, &ts);
	}
	return 1;
}

/* Under the lock: a new in-flight entry, or NULL (over the cap). */
static struct mentry *
entry_new(struct dmsg *m, const unsigned char *key, size_t klen, int type)
{
	struct mentry *e;

	if (m->nentries >= ENTRY_MAX || (e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	memcpy(e->key, key, klen);
	e->klen = klen;
	e->type = type;
	e->next = m->entries;
	m->entries = e;
	m->nentries++;
	return e;
}

/* Ask the shared stack and, under the lock again, settle e and trace. */
static enum am_dns_status
ask_shared(struct dmsg *m, struct mentry *e, const char *name, int type,
    uint64_t until, uint64_t t0, struct am_dns_ctl *ctl,
    struct am_dns_answer **ans, struct am_buf *why)
{
	struct am_dns_ctl sub = { until, &m->deadline, 0, 0 };
	enum am_dns_status st;

	pthread_mutex_unlock(&m->mu);
	st = am_dns_query_ctl(m->shared, name, type, &sub, ans, why);
	pthread_mutex_lock(&m->mu);
	ctl->from_cache = sub.from_cache;
	ctl->timed_out = sub.timed_out;
	if (e != NULL) {
		e->timed_out = sub.timed_out;
		e->st = st;
		e->ans = am_dns_answer_ref(*ans);
		snprintf(e->why, sizeof(e->why), "%s", am_buf_str(why));
		e->done = 1;
		pthread_cond_broadcast(&m->cv);
	}
	trace(m, name, type, st, *ans, sub.from_cache ? AM_DNS_SRC_CACHE :
	    AM_DNS_SRC_WIRE, t0, am_buf_str(why));
	return st;
}

static enum am_dns_status
msg_query_ctl(void *state, const char *name, int type, struct am_dns_ctl *ctl,
    struct am_dns_answer **ans, struct am_buf *why)
{
	struct dmsg *m = state;
	unsigned char key[AM_DNS_WIRE_MAX];
	struct am_buf mine = AM_BUF_INIT(WHY_MAX);
	enum am_dns_status st;
	struct mentry *e;
	uint64_t t0, until;
	size_t klen;

	if ((klen = am_dns_name_wire(name, key)) == 0)
		return am_dns_query_ctl(m->shared, name, type, ctl, ans, why);
	if (why == NULL)
		why = &mine;    /* the reason is kept for the trace */
	t0 = am_dns_clock(m->shared);
	pthread_mutex_lock(&m->mu);
	until = earlier(ctl->deadline, m->deadline);
	if (m->deadline != 0 && t0 >= m->deadline) {
		am_buf_setf(why, "message deadline passed");
		ctl->timed_out = 1;
		trace(m, name, type, AM_DNS_TEMPFAIL, NULL,
		    AM_DNS_SRC_DEADLINE, t0, "message deadline passed");
		st = AM_DNS_TEMPFAIL;
	} else if ((e = find(m, key, klen, type)) != NULL && e->done)
		st = reuse(m, e, name, AM_DNS_SRC_MESSAGE, t0, ctl, ans, why);
	else if (e != NULL && await(m, e, ctl->deadline))
		st = reuse(m, e, name, AM_DNS_SRC_SHARED, t0, ctl, ans, why);
	else if (e != NULL) {
		am_buf_setf(why, "deadline passed waiting for a lookup in "
		    "flight");
		ctl->timed_out = 1;
		trace(m, name, type, AM_DNS_TEMPFAIL, NULL,
		    AM_DNS_SRC_SHARED, t0, am_buf_str(why));
		st = AM_DNS_TEMPFAIL;
	} else
		st = ask_shared(m, entry_new(m, key, klen, type), name, type,
		    until, t0, ctl, ans, why);
	pthread_mutex_unlock(&m->mu);
	am_buf_release(&mine);
	return st;
}

static enum am_dns_status
msg_query(void *state, const char *name, int type, struct am_dns_answer **ans,
    struct am_buf *why)
{
	struct am_dns_ctl ctl = { 0, NULL, 0, 0 };

	return msg_query_ctl(state, name, type, &ctl, ans, why);
}

/* Answered for this message already, or by the shared stack at once. */
static int
msg_cached(void *state, const char *name, int type)
{
	struct dmsg *m = state;
	unsigned char key[AM_DNS_WIRE_MAX];
	struct mentry *e;
	size_t klen;
	int hit = 0;

	if ((klen = am_dns_name_wire(name, key)) != 0) {
		pthread_mutex_lock(&m->mu);
		hit = (e = find(m, key, klen, type)) != NULL && e->done;
		pthread_mutex_unlock(&m->mu);
	}
	return hit || am_dns_cached(m->shared, name, type);
}

static void msg_prefetch(void *state, const char *name, int type, int follow);

/* Hint the follow type of the names in a (MX exchanges, PTR targets). */
static void
follow_names(struct dmsg *m, const struct am_dns_answer *a, int follow)
{
	size_t i, n = 0;

	for (i = 0; i < a->count && n < FOLLOW_MAX; i++) {
		if ((a->rr[i].type != AM_DNS_T_MX && a->rr[i].type !=
		    AM_DNS_T_PTR) || a->rr[i].text == NULL)
			continue;
		n++;
		if (am_dns_name_check(a->rr[i].text, NULL) == 0)
			msg_prefetch(m, a->rr[i].text, follow, 0);
	}
}

/* The job of a hint: ask as a query would, unless someone already has. */
static void
prefetch_run(void *arg)
{
	struct pjob *p = arg;
	struct dmsg *m = p->m;
	struct am_buf why = AM_BUF_INIT(WHY_MAX);
	struct am_dns_ctl ctl = { 0, NULL, 0, 0 };
	struct am_dns_answer *ans = NULL;
	enum am_dns_status st = AM_DNS_TEMPFAIL;
	unsigned char key[AM_DNS_WIRE_MAX];
	struct mentry *e;
	uint64_t t0;
	size_t klen;

	if ((klen = am_dns_name_wire(p->name, key)) == 0)
		return;
	t0 = am_dns_clock(m->shared);
	pthread_mutex_lock(&m->mu);
	if (m->closing || (m->deadline != 0 && t0 >= m->deadline))
		;
	else if ((e = find(m, key, klen, p->type)) != NULL) {
		/* asked by the evaluation meanwhile: its names are wanted */
		if (p->follow != 0 && await(m, e, 0) && (st = e->st) ==
		    AM_DNS_OK)
			ans = am_dns_answer_ref(e->ans);
	} else if ((e = entry_new(m, key, klen, p->type)) != NULL)
		st = ask_shared(m, e, p->name, p->type, m->deadline, t0,
		    &ctl, &ans, &why);
	pthread_mutex_unlock(&m->mu);
	if (st == AM_DNS_OK && ans != NULL && p->follow != 0)
		follow_names(m, ans, p->follow);
	if (st == AM_DNS_OK && ans != NULL && m->observe != NULL)
		m->observe(m->observe_arg, m->self, p->name, p->type, ans);
	am_dns_answer_free(ans);
	am_buf_release(&why);
}

/* The answer of a submitted hint is in (resolver's thread): settle its
 * entry as ask_shared() would, and hint the names it holds. */
static void
prefetch_done(struct am_dns_req *r)
{
	struct pjob *p = r->arg;
	struct dmsg *m = p->m;
	struct mentry *e = p->e;
	struct am_dns_answer *follow = NULL, *seen = NULL;

	pthread_mutex_lock(&m->mu);
	e->st = r->status;
	e->ans = r->ans;
	e->timed_out = r->timed_out;
	snprintf(e->why, sizeof(e->why), "%s", r->why);
	e->done = 1;
	pthread_cond_broadcast(&m->cv);
	trace(m, p->name, p->type, e->st, e->ans, r->from_cache ?
	    AM_DNS_SRC_CACHE : AM_DNS_SRC_WIRE, p->t0, e->why);
	if (e->st == AM_DNS_OK && p->follow != 0 && !m->closing)
		follow = am_dns_answer_ref(e->ans);
	if (e->st == AM_DNS_OK && m->observe != NULL && !m->closing)
		seen = am_dns_answer_ref(e->ans);
	pthread_mutex_unlock(&m->mu);
	if (follow != NULL)
		follow_names(m, follow, p->follow);
	if (seen != NULL)
		m->observe(m->observe_arg, m->self, p->name, p->type, seen);
	am_dns_answer_free(follow);
	am_dns_answer_free(seen);
}

/* Under the lock: submit hint p with a new entry for it; 0 if taken. */
static int
prefetch_submit(struct dmsg *m, struct pjob *p, const unsigned char *key,
    size_t klen)
{
	struct am_dns_ctl ctl = { 0, &m->deadline, 0, 0 };

	if ((p->e = entry_new(m, key, klen, p->type)) == NULL)
		return -1;
	p->t0 = am_dns_clock(m->shared);
	p->req.done = prefetch_done;
	p->req.arg = p;
	if (am_dns_submit(m->shared, p->name, p->type, &ctl, &p->req) == 0)
		return 0;
	/* entry_new put it first */
	m->entries = p->e->next;
	m->nentries--;
	free(p->e);
	p->e = NULL;
	return -1;
}

/* Under the lock: 1 when (name, type) was hinted already. */
static int
hinted(const struct dmsg *m, const char *name, int type)
{
	size_t i;

	for (i = 0; i < m->npj; i++)
		if (m->pj[i].type == type &&
		    strcasecmp(m->pj[i].name, name) == 0)
			return 1;
	return 0;
}

static void
msg_prefetch(void *state, const char *name, int type, int follow)
{
	struct dmsg *m = state;
	unsigned char key[AM_DNS_WIRE_MAX];
	struct pjob *p;
	size_t klen;

	if ((klen = am_dns_name_wire(name, key)) == 0 ||
	    strlen(name) > AM_DNS_NAME_MAX)
		return;
	/* an answer at hand needs no thread (its names are likely at hand
	 * too: a warm cache must not pay a hand-off per term) */
	if (am_dns_cached(m->shared, name, type))
		return;
	pthread_mutex_lock(&m->mu);
	if (!m->closing && m->npj < AM_DNS_PREFETCH_MAX &&
	    (m->deadline == 0 || am_dns_clock(m->shared) < m->deadline) &&
	    find(m, key, klen, type) == NULL && !hinted(m, name, type)) {
		p = &m->pj[m->npj];
		p->m = m;
		p->type = type;
		p->follow = follow;
		snprintf(p->name, sizeof(p->name), "%s", name);
		/* under mu, so that msg_close sees every hint it must cancel;
		 * without an asynchronous stack, a pool thread asks */
		if ((p->async = prefetch_submit(m, p, key, klen) == 0))
			m->npj++;
		else if (m->pool != NULL) {
			m->npj++;
			am_jobs_submit(m->pool, &p->job, prefetch_run, p);
		}
	}
	pthread_mutex_unlock(&m->mu);
}

static uint64_t
msg_clock(void *state)
{
	return am_dns_clock(((struct dmsg *)state)->shared);
}

static void
msg_close(void *state)
{
	struct dmsg *m = state;
	struct mentry *e;
	size_t i;

	if (m == NULL)
		return;
	/* hints in flight give up now; those not started never run */
	pthread_mutex_lock(&m->mu);
	m->closing = 1;
	__atomic_store_n(&m->deadline, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
	for (i = 0; i < m->npj; i++)
		if (m->pj[i].async)
			am_dns_cancel(m->shared, &m->pj[i].req);
		else
			am_jobs_cancel(m->pool, &m->pj[i].job);
	while ((e = m->entries) != NULL) {
		m->entries = e->next;
		am_dns_answer_free(e->ans);
		free(e);
	}
	free(m->trace);
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cv);
	free(m);
}

static const struct am_dns_backend msg_backend = {
	.name = "message",
	.query = msg_query,
	.close = msg_close,
	.cached = msg_cached,
	.query_ctl = msg_query_ctl,
	.clock = msg_clock,
	.prefetch = msg_prefetch,
};

struct am_dns *
am_dns_msg_new(struct am_dns *shared)
{
	pthread_condattr_t ca;
	struct am_dns *d;
	struct dmsg *m;

	if (shared == NULL || (m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->shared = shared;
	pthread_mutex_init(&m->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((d = am_dns_new(&msg_backend, m)) == NULL)
		msg_close(m);
	else
		m->self = d;
	return d;
}

void
am_dns_msg_set_observer(struct am_dns *d, am_dns_msg_observer *fn,
    void *arg)
{
	struct dmsg *m;

	if (d == NULL || d->be != &msg_backend)
		return;
	m = d->state;
	pthread_mutex_lock(&m->mu);
	m->observe = fn;
	m->observe_arg = arg;
	pthread_mutex_unlock(&m->mu);
}

void
am_dns_msg_set_jobs(struct am_dns *d, struct am_jobs *pool)
{
	if (d != NULL && d->be == &msg_backend)
		((struct dmsg *)d->state)->pool = pool;
}

void
am_dns_msg_set_deadline(struct am_dns *d, uint64_t deadline)
{
	struct dmsg *m;

	if (d == NULL || d->be != &msg_backend)
		return;
	m = d->state;
	pthread_mutex_lock(&m->mu);
	/* atomic: queries in flight read it without the lock (ctl->live) */
	__atomic_store_n(&m->deadline, deadline, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

size_t
am_dns_msg_trace(struct am_dns *d,
    void (*fn)(const struct am_dns_trace *t, void *arg), void *arg)
{
	struct am_dns_trace t;
	const struct tentry *e;
	struct dmsg *m;
	size_t i, dropped;

	if (d == NULL || d->be != &msg_backend)
		return 0;
	m = d->state;
	pthread_mutex_lock(&m->mu);
	for (i = 0; i < m->ntrace; i++) {
		e = &m->trace[i];
		t.name = e->name;
		t.type = e->type;
		t.status = e->st;
		t.ttl = e->ttl;
		t.count = e->count;
		t.source = e->src;
		t.ms = e->ms;
		t.why = e->why;
		fn(&t, arg);
	}
	dropped = m->dropped;
	pthread_mutex_unlock(&m->mu);
	return dropped;
}
