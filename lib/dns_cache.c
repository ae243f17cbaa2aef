/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dns_cache: a TTL cache layered over another struct am_dns. See dns.h.
 *
 * Entry points: am_dns_cache_new(), am_dns_cache_set_clock(). Answers are
 * kept by (lower-cased name, type) in a hash table with a least recently
 * used list: positive answers for their TTL (at most a day), NXDOMAIN and
 * NODATA for min(their TTL, neg_ttl_max) (RFC 2308 s.5), TEMPFAIL never
 * (RFC 2308 s.7 allows it, but a cached failure would outlive a fixed
 * server). A TTL of 0 is not cached (RFC 1035 s.3.2.1). Past max_entries
 * the least recently used answer is dropped.
 *
 * A hit hands out another reference to the stored answer; its ttl field is
 * the TTL as it was received, not what is left.
 *
 * Thread safety: one mutex guards the table and list; it is never held
 * while the inner back end is asked, so a slow lookup does not block hits.
 *
 * Queries in flight: with an asynchronous inner back end (dns_ldns.c),
 * a miss joins the query in flight for (name, type) or starts one (struct
 * pend, under the mutex), so that two sessions needing one name share one
 * query. The query goes below with no deadline of a caller; each waiter
 * keeps its own (a blocking caller sleeps on its own condition variable
 * until then) and the last to leave cancels the query. When it is back,
 * on the resolver's thread, the answer is stored, blocking waiters are
 * woken and submitted ones (am_dns_submit: the message layer's hints)
 * get their done, outside the mutex. Without an asynchronous inner back
 * end, two threads missing on the same name both ask.
 * A query's deadline (struct am_dns_ctl) goes to the inner back end; a hit
 * sets ctl->from_cache for the per-message trace.
 *
 * Each lookup is counted in stats.h: asked, hit, sent on to the inner back
 * end, and TEMPFAIL from it (the daemon's DNS metrics).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "dns_priv.h"
#include "stats.h"

#define CACHE_TTL_MAX 86400
#define CACHE_DEFAULT_ENTRIES 10000

struct centry {
	struct centry *hnext;             /* hash chain */
	struct centry *newer, *older;     /* LRU list */
	struct am_dns_answer *ans;
	time_t expires;
	uint32_t hash;
	int type;
	size_t klen;
	unsigned char key[];              /* lower-cased wire name */
};

struct cache;

/*
 * A query in flight below the cache: every caller that misses on its name
 * meanwhile waits on it (RFC 5452 s.5 also asks not to send the same
 * question twice at once). Only with an asynchronous inner back end.
 */
struct pend {
	struct pend *next;                /* c->pend; under mu */
	struct am_dns_req ireq;           /* the query to inner */
	struct cache *c;
	struct am_dns_req *waiters;       /* under mu */
	int abandoned;                    /* under mu: nobody waits, the
	                                     canceller frees it */
	uint32_t hash;
	int type;
	size_t klen;
	unsigned char key[AM_DNS_WIRE_MAX];
};

/* The state of a waiter (am_dns_req.state) in the cache. */
enum { W_WAITING = 1, W_CALLING, W_DONE };

struct cache {
	struct am_dns *inner;
	pthread_mutex_t mu;
	pthread_cond_t called;            /* a done callback returned */
	struct pend *pend;                /* in flight; under mu */
	struct centry **tab;
	size_t mask;
	struct centry *newest, *oldest;
	size_t n, max;
	uint32_t neg_max;
	time_t (*now)(void *);
	void *now_arg;
};

static time_t
monotonic_now(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static uint32_t
key_hash(const unsigned char *key, size_t klen, int type)
{
	unsigned char t[2] = { (unsigned char)(type >> 8), (unsigned char)type };

	return am_dns_hash(t, 2, am_dns_hash(key, klen, AM_DNS_HASH_INIT));
}

/* The entry's slot in its hash chain. */
static struct centry **
slot_of(struct cache *c, uint32_t h, const unsigned char *key, size_t klen,
    int type)
{
	struct centry **pp;

	for (pp = &c->tab[h & c->mask]; *pp != NULL; pp = &(*pp)->hnext)
		if ((*pp)->hash == h && (*pp)->type == type &&
		    (*pp)->klen == klen && memcmp((*pp)->key, key, klen) == 0)
			break;
	return pp;
}

static void
lru_unlink(struct cache *c, struct centry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void
lru_push(struct cache *c, struct centry *e)
{
	e->older = c->newest;
	e->newer = NULL;
	if (c->newest != NULL)
		c->newest->newer = e;
	c->newest = e;
	if (c->oldest == NULL)
		c->oldest = e;
}

/* Unlink and free the entry at *pp. */
static void
entry_drop(struct cache *c, struct centry **pp)
{
	struct centry *e = *pp;

	*pp = e->hnext;
	lru_unlink(c, e);
	am_dns_answer_free(e->ans);
	free(e);
	c->n--;
}

static void
evict_oldest(struct cache *c)
{
	struct centry *e = c->oldest;

	entry_drop(c, slot_of(c, e->hash, e->key, e->klen, e->type));
}

/* Under the lock: a live answer for the key, or NULL. */
static struct am_dns_answer *
lookup(struct cache *c, uint32_t h, const unsigned char *key, size_t klen,
    int type)
{
	struct centry **pp = slot_of(c, h, key, klen, type);

	if (*pp == NULL)
		return NULL;
	if (c->now(c->now_arg) >= (*pp)->expires) {
		entry_drop(c, pp);
		return NULL;
	}
	lru_unlink(c, *pp);
	lru_push(c, *pp);
	return am_dns_answer_ref((*pp)->ans);
}

/* Under the lock: store a (another reference) for ttl seconds. */
static void
store(struct cache *c, uint32_t h, const unsigned char *key, size_t klen,
    int type, struct am_dns_answer *a, uint32_t ttl)
{
	struct centry **pp = slot_of(c, h, key, klen, type);
	struct centry *e;

	if (*pp != NULL)
		entry_drop(c, pp);
	if ((e = calloc(1, sizeof(*e) + klen)) == NULL)
		return;
	memcpy(e->key, key, klen);
	e->klen = klen;
	e->hash = h;
	e->type = type;
	e->ans = am_dns_answer_ref(a);
	e->expires = c->now(c->now_arg) + (time_t)ttl;
	e->hnext = c->tab[h & c->mask];
	c->tab[h & c->mask] = e;
	lru_push(c, e);
	if (++c->n > c->max)
		evict_oldest(c);
}

/* How long an answer may stay; 0 means not at all. */
static uint32_t
keep_for(const struct cache *c, enum am_dns_status st,
    const struct am_dns_answer *a)
{
	switch (st) {
	case AM_DNS_OK:
		return a->ttl < CACHE_TTL_MAX ? a->ttl : CACHE_TTL_MAX;
	case AM_DNS_NODATA:
	case AM_DNS_NXDOMAIN:
		return a->ttl < c->neg_max ? a->ttl : c->neg_max;
	default:
		return 0;
	}
}

/* Under the lock: the query in flight for the key, or NULL. */
static struct pend *
pend_find(struct cache *c, uint32_t h, const unsigned char *key, size_t klen,
    int type)
{
	struct pend *p;

	for (p = c->pend; p != NULL; p = p->next)
		if (p->hash == h && p->type == type && p->klen == klen &&
		    memcmp(p->key, key, klen) == 0)
			return p;
	return NULL;
}

/* Under the lock: take p out of the in-flight list. */
static void
pend_unlink(struct cache *c, struct pend *p)
{
	struct pend **pp;

	for (pp = &c->pend; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			return;
		}
}

/* Under the lock: take w off p's waiters; 1 if it was there. */
static int
waiter_unlink(struct pend *p, struct am_dns_req *w)
{
	struct am_dns_req **pp;

	for (pp = &p->waiters; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			w->next = NULL;
			return 1;
		}
	return 0;
}

/* Give one waiter the result (its own reference and reason). */
static void
waiter_fill(struct am_dns_req *w, const struct am_dns_req *r)
{
	w->status = r->status;
	w->ans = am_dns_answer_ref(r->ans);
	w->timed_out = r->timed_out;
	w->from_cache = 0;
	snprintf(w->why, sizeof(w->why), "%s", r->why);
}

/*
 * The inner query of p is back (on the resolver's thread): store the
 * answer, wake the blocking waiters, call the others' done.
 */
static void
pend_done(struct am_dns_req *r)
{
	struct pend *p = r->arg;
	struct cache *c = p->c;
	struct am_dns_req *w, *call = NULL;
	uint32_t ttl;

	pthread_mutex_lock(&c->mu);
	if (p->abandoned) {
		/* cancelled meanwhile: the canceller frees p */
		pthread_mutex_unlock(&c->mu);
		am_dns_answer_free(r->ans);
		r->ans = NULL;
		return;
	}
	pend_unlink(c, p);
	if (r->status == AM_DNS_TEMPFAIL)
		am_stats_count(AM_STATS_DNS_TEMPFAIL);
	if (r->ans != NULL && (ttl = keep_for(c, r->status, r->ans)) > 0)
		store(c, p->hash, p->key, p->klen, p->type, r->ans, ttl);
	while ((w = p->waiters) != NULL) {
		p->waiters = w->next;
		w->link = NULL;
		waiter_fill(w, r);
		if (w->done == NULL) {
			/* a blocking caller: arg is its condition variable */
			w->state = W_DONE;
			pthread_cond_signal(w->arg);
		} else {
			w->state = W_CALLING;
			w->next = call;
			call = w;
		}
	}
	pthread_mutex_unlock(&c->mu);
	am_dns_answer_free(r->ans);
	free(p);
	while ((w = call) != NULL) {
		call = w->next;
		w->done(w);
		pthread_mutex_lock(&c->mu);
		w->state = W_DONE;
		pthread_cond_broadcast(&c->called);
		pthread_mutex_unlock(&c->mu);
	}
}

/*
 * Under the lock: add w to the query in flight for the key, starting one
 * if there is none (*start set: the caller submits it once unlocked).
 */
static struct pend *
pend_join(struct cache *c, uint32_t h, const unsigned char *key, size_t klen,
    int type, struct am_dns_req *w, struct pend **start)
{
	struct pend *p;

	*start = NULL;
	if ((p = pend_find(c, h, key, klen, type)) == NULL) {
		if ((p = calloc(1, sizeof(*p))) == NULL)
			return NULL;
		p->c = c;
		p->hash = h;
		p->type = type;
		p->klen = klen;
		memcpy(p->key, key, klen);
		p->ireq.done = pend_done;
		p->ireq.arg = p;
		p->next = c->pend;
		c->pend = p;
		*start = p;
		am_stats_count(AM_STATS_DNS_QUERY);
	} else {
		am_stats_count(AM_STATS_DNS_SHARED);
	}
	w->next = p->waiters;
	p->waiters = w;
	w->link = p;
	w->state = W_WAITING;
	return p;
}

/* Submit a new in-flight query to inner; on failure its waiters get
 * TEMPFAIL (blocking ones only: the caller of cache_submit undoes its
 * own). Unlocked. */
static int
pend_submit(struct cache *c, struct pend *p, const char *name)
{
	struct am_dns_ctl none = { 0, NULL, 0, 0 };
	struct am_dns_req *w;

	/* no deadline of a caller: each waiter keeps its own, and the last
	 * to leave cancels the query */
	if (am_dns_submit(c->inner, name, p->type, &none, &p->ireq) == 0)
		return 0;
	pthread_mutex_lock(&c->mu);
	pend_unlink(c, p);
	while ((w = p->waiters) != NULL) {
		p->waiters = w->next;
		w->link = NULL;
		w->status = AM_DNS_TEMPFAIL;
		snprintf(w->why, sizeof(w->why), "cannot start the query");
		w->state = W_DONE;
		if (w->done == NULL)
			pthread_cond_signal(w->arg);
	}
	pthread_mutex_unlock(&c->mu);
	free(p);
	return -1;
}

/* Under the lock: w leaves p; the last to leave abandons it (returned:
 * cancel it once unlocked, then free it). */
static struct pend *
pend_leave(struct cache *c, struct pend *p, struct am_dns_req *w)
{
	if (!waiter_unlink(p, w))
		return NULL;
	w->link = NULL;
	w->state = W_DONE;
	if (p->waiters != NULL)
		return NULL;
	pend_unlink(c, p);
	p->abandoned = 1;
	return p;
}

static void
pend_cancel(struct cache *c, struct pend *p)
{
	if (p != NULL) {
		am_dns_cancel(c->inner, &p->ireq);
		am_dns_answer_free(p->ireq.ans);
		free(p);
	}
}

static uint64_t
earlier(uint64_t a, uint64_t b)
{
	if (a == 0 || (b != 0 && b < a))
		return b;
	return a;
}

/*
 * Under the lock: wait for w until it is done or the caller's deadline
 * (ctl->deadline, ctl->live, on the inner clock) passes; 1 if done.
 */
static int
wait_for(struct cache *c, struct am_dns_req *w, pthread_cond_t *cv,
    const struct am_dns_ctl *ctl)
{
	struct timespec ts;
	uint64_t until, now, left;

	while (w->state != W_DONE) {
		until = ctl->deadline;
		if (ctl->live != NULL)
			until = earlier(until, __atomic_load_n(ctl->live,
			    __ATOMIC_ACQUIRE));
		now = am_dns_clock(c->inner);
		if (until != 0 && now >= until)
			return 0;
		/* a live deadline may move: look again every 100 ms */
		left = until == 0 ? 60000 : until - now;
		if (ctl->live != NULL && left > 100)
			left = 100;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)(left / 1000);
		ts.tv_nsec += (long)(left % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(cv, &c->mu, &ts);
	}
	return 1;
}

/*
 * A miss with an asynchronous inner back end: join or start the query in
 * flight for the name and wait for it, until the caller's deadline.
 */
static enum am_dns_status
miss_async(struct cache *c, const char *name, int type, uint32_t h,
    const unsigned char *key, size_t klen, struct am_dns_ctl *ctl,
    struct am_dns_answer **ans, struct am_buf *why)
{
	struct am_dns_req w;
	struct pend *p, *start, *drop = NULL;
	pthread_condattr_t ca;
	pthread_cond_t cv;

	memset(&w, 0, sizeof(w));
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &ca);
	pthread_condattr_destroy(&ca);
	w.arg = &cv;
	w.status = AM_DNS_TEMPFAIL;
	pthread_mutex_lock(&c->mu);
	if ((*ans = lookup(c, h, key, klen, type)) != NULL) {
		/* answered while we were not looking */
		pthread_mutex_unlock(&c->mu);
		am_stats_count(AM_STATS_DNS_CACHE_HIT);
		pthread_cond_destroy(&cv);
		ctl->from_cache = 1;
		return (*ans)->status;
	}
	p = pend_join(c, h, key, klen, type, &w, &start);
	pthread_mutex_unlock(&c->mu);
	if (p == NULL) {
		pthread_cond_destroy(&cv);
		am_buf_setf(why, "out of memory");
		return AM_DNS_TEMPFAIL;
	}
	if (start != NULL)
		(void)pend_submit(c, start, name);
	pthread_mutex_lock(&c->mu);
	if (!wait_for(c, &w, &cv, ctl)) {
		/* not done: still one of the waiters of its query */
		drop = w.link != NULL ? pend_leave(c, w.link, &w) : NULL;
		w.status = AM_DNS_TEMPFAIL;
		w.timed_out = 1;
		snprintf(w.why, sizeof(w.why), "lookup deadline passed");
	}
	pthread_mutex_unlock(&c->mu);
	pend_cancel(c, drop);
	pthread_cond_destroy(&cv);
	*ans = w.ans;
	ctl->timed_out = w.timed_out;
	if (w.status == AM_DNS_TEMPFAIL)
		am_buf_setf(why, "%s", w.why);
	return w.status;
}

static enum am_dns_status
cache_query_ctl(void *state, const char *name, int type,
    struct am_dns_ctl *ctl, struct am_dns_answer **ans, struct am_buf *why)
{
	struct cache *c = state;
	unsigned char key[AM_DNS_WIRE_MAX];
	enum am_dns_status st;
	size_t klen;
	uint32_t h, ttl;

	if ((klen = am_dns_name_wire(name, key)) == 0)
		return am_dns_query_ctl(c->inner, name, type, ctl, ans, why);
	h = key_hash(key, klen, type);
	pthread_mutex_lock(&c->mu);
	*ans = lookup(c, h, key, klen, type);
	pthread_mutex_unlock(&c->mu);
	am_stats_count(AM_STATS_DNS_LOOKUP);
	if (*ans != NULL) {
		am_stats_count(AM_STATS_DNS_CACHE_HIT);
		ctl->from_cache = 1;
		return (*ans)->status;
	}
	if (c->inner->be->submit != NULL)
		return miss_async(c, name, type, h, key, klen, ctl, ans, why);
	am_stats_count(AM_STATS_DNS_QUERY);
	st = am_dns_query_ctl(c->inner, name, type, ctl, ans, why);
	if (st == AM_DNS_TEMPFAIL)
		am_stats_count(AM_STATS_DNS_TEMPFAIL);
	if (*ans != NULL && (ttl = keep_for(c, st, *ans)) > 0) {
		pthread_mutex_lock(&c->mu);
		store(c, h, key, klen, type, *ans, ttl);
		pthread_mutex_unlock(&c->mu);
	}
	return st;
}

static enum am_dns_status
cache_query(void *state, const char *name, int type,
    struct am_dns_answer **ans, struct am_buf *why)
{
	struct am_dns_ctl ctl = { 0, NULL, 0, 0 };

	return cache_query_ctl(state, name, type, &ctl, ans, why);
}

/* Deadlines are on the inner back end's clock. */
static uint64_t
cache_clock(void *state)
{
	return am_dns_clock(((struct cache *)state)->inner);
}

/* A live entry, or the inner back end's own answer without the network. */
static int
cache_cached(void *state, const char *name, int type)
{
	struct cache *c = state;
	unsigned char key[AM_DNS_WIRE_MAX];
	struct centry **pp;
	size_t klen;
	uint32_t h;
	int hit;

	if ((klen = am_dns_name_wire(name, key)) == 0)
		return 0;
	h = key_hash(key, klen, type);
	pthread_mutex_lock(&c->mu);
	pp = slot_of(c, h, key, klen, type);
	hit = *pp != NULL && c->now(c->now_arg) < (*pp)->expires;
	pthread_mutex_unlock(&c->mu);
	return hit || am_dns_cached(c->inner, name, type);
}

/* Asynchronous: a hit or an inner back end without it is -1 (ask). */
static int
cache_submit(void *state, const char *name, int type,
    const struct am_dns_ctl *ctl, struct am_dns_req *r)
{
	struct cache *c = state;
	unsigned char key[AM_DNS_WIRE_MAX];
	struct am_dns_answer *a;
	struct pend *p, *start;
	size_t klen;
	uint32_t h;

	(void)ctl;
	if (c->inner->be->submit == NULL || r->done == NULL ||
	    (klen = am_dns_name_wire(name, key)) == 0)
		return -1;
	h = key_hash(key, klen, type);
	pthread_mutex_lock(&c->mu);
	if ((a = lookup(c, h, key, klen, type)) != NULL) {
		pthread_mutex_unlock(&c->mu);
		am_dns_answer_free(a);
		return -1;
	}
	am_stats_count(AM_STATS_DNS_LOOKUP);
	p = pend_join(c, h, key, klen, type, r, &start);
	pthread_mutex_unlock(&c->mu);
	if (p == NULL)
		return -1;
	if (start != NULL && pend_submit(c, start, name) != 0)
		return -1;      /* r was its only waiter, now unlinked */
	return 0;
}

static void
cache_cancel(void *state, struct am_dns_req *r)
{
	struct cache *c = state;
	struct pend *drop = NULL;

	pthread_mutex_lock(&c->mu);
	if (r->link != NULL)
		drop = pend_leave(c, r->link, r);
	while (r->state == W_CALLING)
		pthread_cond_wait(&c->called, &c->mu);
	pthread_mutex_unlock(&c->mu);
	pend_cancel(c, drop);
}

static void
cache_close(void *state)
{
	struct cache *c = state;

	if (c == NULL)
		return;
	while (c->oldest != NULL)
		evict_oldest(c);
	am_dns_free(c->inner);
	free(c->tab);
	pthread_cond_destroy(&c->called);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static const struct am_dns_backend cache_backend = {
	.name = "cache",
	.query = cache_query,
	.close = cache_close,
	.cached = cache_cached,
	.query_ctl = cache_query_ctl,
	.clock = cache_clock,
	.submit = cache_submit,
	.cancel = cache_cancel,
};

struct am_dns *
am_dns_cache_new(struct am_dns *inner, size_t max_entries,
    uint32_t neg_ttl_max)
{
	struct am_dns *d;
	struct cache *c;
	size_t buckets = 16;

	if (inner == NULL || (c = calloc(1, sizeof(*c))) == NULL) {
		am_dns_free(inner);
		return NULL;
	}
	c->max = max_entries ? max_entries : CACHE_DEFAULT_ENTRIES;
	while (buckets < c->max && buckets < (1u << 24))
		buckets *= 2;
	if ((c->tab = calloc(buckets, sizeof(*c->tab))) == NULL) {
		free(c);
		am_dns_free(inner);
		return NULL;
	}
	c->mask = buckets - 1;
	c->inner = inner;
	c->neg_max = neg_ttl_max;
	c->now = monotonic_now;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->called, NULL);
	if ((d = am_dns_new(&cache_backend, c)) == NULL)
		cache_close(c);
	return d;
}

void
am_dns_cache_set_clock(struct am_dns *d, time_t (*now)(void *), void *arg)
{
	struct cache *c;

	if (d == NULL || d->be != &cache_backend || now == NULL)
		return;
	c = d->state;
	pthread_mutex_lock(&c->mu);
	c->now = now;
	c->now_arg = arg;
	pthread_mutex_unlock(&c->mu);
}
