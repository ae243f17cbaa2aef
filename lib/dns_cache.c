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
 * Two threads missing on the same name both ask; the later answer wins.
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

struct cache {
	struct am_dns *inner;
	pthread_mutex_t mu;
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
