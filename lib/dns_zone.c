/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dns_zone: answers from master zone files (RFC 1035 s.5). See dns.h.
 *
 * Entry point: am_dns_zone_new(). Each file is read record by record with
 * ldns_rr_new_frm_fp_l(), so files need no SOA; $ORIGIN and $TTL work, the
 * initial origin is the root, $INCLUDE is refused. A parse error is
 * reported as "path:line: message".
 *
 * The records go into a hash table keyed by the lower-cased wire form of
 * the owner, so names are case-insensitive (RFC 4343) and lookups cost one
 * hash. Every ancestor of an owner, up to its zone apex (the nearest SOA
 * owner above it) or else up to its top-level label, exists as an empty
 * non-terminal (RFC 8020): asking for it is NODATA, not NXDOMAIN.
 *
 * An absent name is answered by the wildcard "*" under its closest
 * encloser, if there is one (RFC 4592 s.3.3.1; empty non-terminals count as
 * existing, so they block wildcards below them as in the DNS).
 *
 * Answers: A, AAAA, MX, PTR, TXT (character-strings concatenated, any
 * octets), CNAME and NS records are returned with the TTL from the file;
 * other types only make their owner exist. CNAMEs are followed up to 8
 * times (RFC 1034 s.3.6.2); a longer chain or a loop is TEMPFAIL. SOA
 * records are not answers; they give the negative TTL of names below them,
 * min(SOA TTL, MINIMUM) (RFC 2308 s.5), else 300.
 *
 * Thread safety: the table is immutable once loaded; any number of threads
 * may query it at once without locks.
 *
 * Tests that need a failing server wrap this back end with their own
 * struct am_dns_backend (see tests/unit/test_dns.c); the production back
 * end has no such switch.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "dns_priv.h"

#define ZONE_CNAME_MAX 8

struct znode {
	struct znode *next;       /* hash chain */
	struct znode *all;        /* every node, in insertion order */
	struct am_dns_rr *rr;
	size_t nrr, cap;
	int soa;                  /* an SOA is owned here */
	uint32_t neg_ttl;         /* from that SOA */
	size_t klen;
	unsigned char key[];      /* lower-cased wire name */
};

struct zone {
	struct znode **tab;
	size_t mask;              /* buckets - 1 */
	size_t n;
	struct znode *all;
};

/* ---- the table ---- */

static struct znode *
find(const struct zone *z, const unsigned char *key, size_t klen)
{
	struct znode *n;

	n = z->tab[am_dns_hash(key, klen, AM_DNS_HASH_INIT) & z->mask];
	for (; n != NULL; n = n->next)
		if (n->klen == klen && memcmp(n->key, key, klen) == 0)
			return n;
	return NULL;
}

/* Double the buckets when the table holds more nodes than buckets. */
static int
grow(struct zone *z)
{
	struct znode **tab, *n;
	size_t size = (z->mask + 1) * 2;
	uint32_t h;

	if ((tab = calloc(size, sizeof(*tab))) == NULL)
		return -1;
	for (n = z->all; n != NULL; n = n->all) {
		h = am_dns_hash(n->key, n->klen, AM_DNS_HASH_INIT);
		n->next = tab[h & (size - 1)];
		tab[h & (size - 1)] = n;
	}
	free(z->tab);
	z->tab = tab;
	z->mask = size - 1;
	return 0;
}

/* The node for key, made (empty) if absent; NULL on out of memory. */
static struct znode *
node_get(struct zone *z, const unsigned char *key, size_t klen)
{
	struct znode *n;
	uint32_t h;

	if ((n = find(z, key, klen)) != NULL)
		return n;
	if (z->n >= z->mask + 1 && grow(z) != 0)
		return NULL;
	if ((n = calloc(1, sizeof(*n) + klen)) == NULL)
		return NULL;
	memcpy(n->key, key, klen);
	n->klen = klen;
	h = am_dns_hash(key, klen, AM_DNS_HASH_INIT);
	n->next = z->tab[h & z->mask];
	z->tab[h & z->mask] = n;
	n->all = z->all;
	z->all = n;
	z->n++;
	return n;
}

/* 1 if n already holds a record equal to rr (TTL aside). */
static int
node_has(const struct znode *n, const struct am_dns_rr *rr)
{
	const struct am_dns_rr *o;
	size_t i;

	for (i = 0; i < n->nrr; i++) {
		o = &n->rr[i];
		if (o->type == rr->type && o->pref == rr->pref &&
		    memcmp(o->addr, rr->addr, sizeof(o->addr)) == 0 &&
		    o->textlen == rr->textlen && (o->text == NULL ||
		    memcmp(o->text, rr->text, o->textlen) == 0))
			return 1;
	}
	return 0;
}

/* Add a copy of rr (taking its text) unless an equal one is there. */
static int
node_add(struct znode *n, struct am_dns_rr *rr)
{
	struct am_dns_rr *v;
	size_t cap;

	if (node_has(n, rr)) {
		free(rr->text);
		return 0;
	}
	if (n->nrr == n->cap) {
		cap = n->cap ? n->cap * 2 : 2;
		if ((v = realloc(n->rr, cap * sizeof(*v))) == NULL)
			return -1;
		n->rr = v;
		n->cap = cap;
	}
	n->rr[n->nrr++] = *rr;
	return 0;
}

/* Make every ancestor of every owner exist, up to its apex. */
static int
add_empty_nonterminals(struct zone *z)
{
	struct znode *n, *first = z->all;
	const unsigned char *k;
	size_t klen;

	for (n = first; n != NULL; n = n->all) {
		if (n->soa)
			continue;
		k = n->key;
		klen = n->klen;
		while (k[0] != 0) {
			klen -= k[0] + 1;
			k += k[0] + 1;
			/* stop below the root, and where others went on */
			if (k[0] == 0 || find(z, k, klen) != NULL)
				break;
			if (node_get(z, k, klen) == NULL)
				return -1;
		}
	}
	return 0;
}

static void
zone_close(void *state)
{
	struct zone *z = state;
	struct znode *n, *next;
	size_t i;

	if (z == NULL)
		return;
	for (n = z->all; n != NULL; n = next) {
		next = n->all;
		for (i = 0; i < n->nrr; i++)
			free(n->rr[i].text);
		free(n->rr);
		free(n);
	}
	free(z->tab);
	free(z);
}

/* ---- loading ---- */

/* Lower-cased copy of a dname's wire form into key. */
static size_t
key_of(const ldns_rdf *d, unsigned char *key)
{
	size_t i, n = ldns_rdf_size(d);
	const uint8_t *w = ldns_rdf_data(d);

	if (n > AM_DNS_WIRE_MAX)
		return 0;
	/* length octets are at most 63, below 'A': lowering all is safe */
	for (i = 0; i < n; i++)
		key[i] = (w[i] >= 'A' && w[i] <= 'Z') ? w[i] + 32 : w[i];
	return n;
}

static int
zone_add_rr(struct zone *z, const ldns_rr *rr)
{
	unsigned char key[AM_DNS_WIRE_MAX];
	struct am_dns_rr r;
	struct znode *n;
	size_t klen, budget = AM_DNS_MAX_TEXT;
	uint32_t min;

	if ((klen = key_of(ldns_rr_owner(rr), key)) == 0 ||
	    (n = node_get(z, key, klen)) == NULL)
		return -1;
	if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA) {
		min = ldns_rr_rd_count(rr) >= 7 ?
		    ldns_rdf2native_int32(ldns_rr_rdf(rr, 6)) : 0;
		n->soa = 1;
		n->neg_ttl = min < ldns_rr_ttl(rr) ? min : ldns_rr_ttl(rr);
		return 0;
	}
	if (am_dns_rr_from_ldns(&r, rr, &budget) != 0)
		return -1;
	if (node_add(n, &r) != 0) {
		free(r.text);
		return -1;
	}
	return 0;
}

/* What went wrong with one record, for "path:line: ..." */
static const char *
load_error(ldns_status st)
{
	if (st == LDNS_STATUS_SYNTAX_INCLUDE)
		return "$INCLUDE is not supported";
	return ldns_get_errorstr_by_id(st);
}

static int
zone_load_fp(struct zone *z, FILE *fp, const char *path, struct am_buf *why)
{
	ldns_rdf *origin, *prev = NULL;
	uint32_t ttl = 3600;
	ldns_status st;
	ldns_rr *rr;
	int line = 0, rc = 0;

	origin = ldns_dname_new_frm_str(".");
	while (rc == 0 && !feof(fp)) {
		rr = NULL;
		st = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &origin, &prev, &line);
		if (st == LDNS_STATUS_OK) {
			if (zone_add_rr(z, rr) != 0) {
				am_buf_setf(why, "%s:%d: record cannot be "
				    "stored", path, line);
				rc = -1;
			}
			ldns_rr_free(rr);
		} else if (st != LDNS_STATUS_SYNTAX_EMPTY &&
		    st != LDNS_STATUS_SYNTAX_TTL &&
		    st != LDNS_STATUS_SYNTAX_ORIGIN) {
			am_buf_setf(why, "%s:%d: %s", path, line,
			    load_error(st));
			rc = -1;
		}
	}
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	return rc;
}

static int
zone_load(struct zone *z, const char *path, struct am_buf *why)
{
	FILE *fp;
	int rc;

	if ((fp = fopen(path, "r")) == NULL) {
		am_buf_setf(why, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = zone_load_fp(z, fp, path, why);
	if (rc == 0 && ferror(fp)) {
		am_buf_setf(why, "%s: read error", path);
		rc = -1;
	}
	fclose(fp);
	return rc;
}

/* ---- queries ---- */

/* Negative TTL: the SOA at or above key, else the default. */
static uint32_t
zone_neg_ttl(const struct zone *z, const unsigned char *k, size_t klen)
{
	const struct znode *n;

	for (;;) {
		if ((n = find(z, k, klen)) != NULL && n->soa)
			return n->neg_ttl;
		if (k[0] == 0)
			return AM_DNS_NEG_TTL_DEFAULT;
		klen -= k[0] + 1;
		k += k[0] + 1;
	}
}

/*
 * The wildcard that answers for an absent key: "*" under its closest
 * encloser, the nearest ancestor that exists (RFC 4592 s.3.3.1); NULL if
 * there is none.
 */
static const struct znode *
find_wildcard(const struct zone *z, const unsigned char *k, size_t klen)
{
	unsigned char w[AM_DNS_WIRE_MAX];

	while (k[0] != 0) {
		klen -= k[0] + 1;
		k += k[0] + 1;
		if (k[0] != 0 && find(z, k, klen) == NULL)
			continue;
		if (klen + 2 > AM_DNS_WIRE_MAX)
			return NULL;
		w[0] = 1;
		w[1] = '*';
		memcpy(w + 2, k, klen);
		return find(z, w, klen + 2);
	}
	return NULL;
}

static const struct am_dns_rr *
node_cname(const struct znode *n)
{
	size_t i;

	for (i = 0; i < n->nrr; i++)
		if (n->rr[i].type == AM_DNS_T_CNAME)
			return &n->rr[i];
	return NULL;
}

/* Copy the records of type at n into a new answer; OK or NODATA. */
static enum am_dns_status
node_answer(const struct znode *n, int type, uint32_t ttl,
    uint32_t neg, struct am_dns_answer **ans, struct am_buf *why)
{
	struct am_dns_answer *a;
	const struct am_dns_rr *r;
	size_t i, cnt = 0;

	for (i = 0; i < n->nrr; i++)
		cnt += n->rr[i].type == type;
	if (cnt > AM_DNS_MAX_RRS) {
		am_buf_setf(why, "DNS answer too large (%zu records)", cnt);
		return AM_DNS_TEMPFAIL;
	}
	a = am_dns_answer_new(cnt ? AM_DNS_OK : AM_DNS_NODATA, type, cnt);
	if (a == NULL)
		return AM_DNS_TEMPFAIL;
	for (i = 0, cnt = 0; i < n->nrr; i++) {
		if ((r = &n->rr[i])->type != type)
			continue;
		a->rr[cnt] = *r;
		if (r->ttl < ttl)
			ttl = r->ttl;
		if (r->text != NULL &&
		    (a->rr[cnt].text = malloc(r->textlen + 1)) != NULL)
			memcpy(a->rr[cnt].text, r->text, r->textlen + 1);
		else if (r->text != NULL) {
			a->count = cnt;
			am_dns_answer_free(a);
			return AM_DNS_TEMPFAIL;
		}
		cnt++;
	}
	a->ttl = cnt ? ttl : (neg < ttl ? neg : ttl);
	*ans = a;
	return a->status;
}

static enum am_dns_status
zone_query(void *state, const char *name, int type,
    struct am_dns_answer **ans, struct am_buf *why)
{
	const struct zone *z = state;
	unsigned char key[AM_DNS_WIRE_MAX];
	const struct am_dns_rr *c;
	const struct znode *n;
	uint32_t ttl = UINT32_MAX;
	size_t klen, hops;

	if ((klen = am_dns_name_wire(name, key)) == 0)
		return AM_DNS_TEMPFAIL;
	for (hops = 0;; hops++) {
		if ((n = find(z, key, klen)) == NULL &&
		    (n = find_wildcard(z, key, klen)) == NULL) {
			*ans = am_dns_answer_new(AM_DNS_NXDOMAIN, type, 0);
			if (*ans == NULL)
				return AM_DNS_TEMPFAIL;
			(*ans)->ttl = zone_neg_ttl(z, key, klen);
			if (ttl < (*ans)->ttl)
				(*ans)->ttl = ttl;
			return AM_DNS_NXDOMAIN;
		}
		if (type == AM_DNS_T_CNAME || (c = node_cname(n)) == NULL)
			break;
		if (hops == ZONE_CNAME_MAX ||
		    (klen = am_dns_name_wire(c->text, key)) == 0) {
			am_buf_setf(why, "CNAME chain from %s longer than %d "
			    "or looping", name, ZONE_CNAME_MAX);
			return AM_DNS_TEMPFAIL;
		}
		if (c->ttl < ttl)
			ttl = c->ttl;
	}
	return node_answer(n, type, ttl, zone_neg_ttl(z, key, klen), ans,
	    why);
}

/* Everything a zone holds is in memory. */
static int
zone_cached(void *state, const char *name, int type)
{
	(void)state;
	(void)name;
	(void)type;
	return 1;
}

static const struct am_dns_backend zone_backend = {
	.name = "zone",
	.query = zone_query,
	.close = zone_close,
	.cached = zone_cached,
};

struct am_dns *
am_dns_zone_new(const char *const *paths, size_t npaths, struct am_buf *why)
{
	struct am_dns *d;
	struct zone *z;
	size_t i;

	if ((z = calloc(1, sizeof(*z))) == NULL ||
	    (z->tab = calloc(1024, sizeof(*z->tab))) == NULL) {
		free(z);
		am_buf_setf(why, "out of memory");
		return NULL;
	}
	z->mask = 1023;
	for (i = 0; i < npaths; i++)
		if (zone_load(z, paths[i], why) != 0) {
			zone_close(z);
			return NULL;
		}
	if (add_empty_nonterminals(z) != 0 ||
	    (d = am_dns_new(&zone_backend, z)) == NULL) {
		am_buf_setf(why, "out of memory");
		zone_close(z);
		return NULL;
	}
	return d;
}
