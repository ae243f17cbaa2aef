/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dns_ldns: the resolver back end, on ldns. See dns.h.
 *
 * Entry point: am_dns_ldns_new(). Each configured server ("127.0.0.1",
 * "::1", "127.0.0.1@5353", "[::1]@5353") gets its own ldns_resolver,
 * because ldns keeps one port per resolver; servers are asked in order
 * until one gives a usable answer. Each resolver has the timeout and try
 * count of the options, recursion desired, no search list (RFC 1536), EDNS0
 * (RFC 6891) with a 1232-byte UDP size, and TCP when an answer comes
 * truncated (RFC 7766 s.5, ldns_resolver_set_fallback; a query sent without
 * EDNS0 is first retried over UDP with EDNS0 4096, ldns's own fallback).
 *
 * Thread safety: an ldns_resolver is not thread safe, so the back end keeps
 * a pool of resolver sets behind one mutex. A query borrows a set, uses it
 * without the lock and gives it back; sets are made on first need (at most
 * POOL_MAX; more concurrent queries wait) and reused, so a query costs no
 * resolver setup.
 *
 * Answers (RFC 1034 s.3.6.2, RFC 2308): CNAMEs are followed inside the
 * answer section and only records owned by the end of the chain count, so
 * unrelated records a server adds are ignored. NXDOMAIN comes from the
 * RCODE; NOERROR without records is NODATA; their TTL is the SOA's in the
 * authority section, min(SOA TTL, SOA MINIMUM) (RFC 2308 s.5), else 300.
 * Any other RCODE, a timeout, or a reply that does not match the question
 * is TEMPFAIL. Answers are capped (AM_DNS_MAX_RRS records, AM_DNS_MAX_TEXT
 * bytes of TXT); a bigger one is TEMPFAIL.
 *
 * Also here: the ldns_rr to struct am_dns_rr conversion, shared with the
 * zone back end (dns_priv.h).
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "dns_priv.h"

#define POOL_MAX 64
#define CHAIN_MAX 16
#define EDNS_DEFAULT 1232
#define EDNS_MAX 4096

struct server {
	ldns_rdf *addr;
	uint16_t port;
	char label[80];         /* "127.0.0.1@5353", for reasons */
};

struct slot {
	ldns_resolver **res;    /* one per server */
	struct slot *next;
};

struct lres {
	struct server *srv;
	size_t nsrv;
	struct timeval timeout;
	uint8_t tries;
	uint16_t edns;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct slot *free;      /* idle sets */
	size_t made;            /* sets in existence */
};

/* ---- record conversion (shared with dns_zone.c) ---- */

char *
am_dns_rdf_name(const ldns_rdf *d)
{
	const uint8_t *w;
	size_t n, i, len, o;
	char *s;

	if (d == NULL || ldns_rdf_get_type(d) != LDNS_RDF_TYPE_DNAME)
		return NULL;
	w = ldns_rdf_data(d);
	n = ldns_rdf_size(d);
	if ((s = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0, o = 0; i < n && w[i] != 0; i += len + 1) {
		len = w[i];
		if (i + 1 + len > n || memchr(w + i + 1, '.', len) != NULL ||
		    memchr(w + i + 1, '\0', len) != NULL) {
			free(s);
			return NULL;
		}
		if (o > 0)
			s[o++] = '.';
		memcpy(s + o, w + i + 1, len);
		o += len;
	}
	s[o] = '\0';
	for (i = 0; i < o; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] += 32;
	return s;
}

/* Concatenate the character-strings of a TXT record (RFC 7208 s.3.3). */
static int
txt_from_ldns(struct am_dns_rr *out, const ldns_rr *rr, size_t *budget)
{
	size_t i, total, n;
	const ldns_rdf *f;

	total = 0;
	for (i = 0; i < ldns_rr_rd_count(rr); i++)
		total += ldns_rdf_size(ldns_rr_rdf(rr, i));
	if (total > *budget)
		return -2;
	if ((out->text = malloc(total + 1)) == NULL)
		return -2;
	out->textlen = 0;
	for (i = 0; i < ldns_rr_rd_count(rr); i++) {
		f = ldns_rr_rdf(rr, i);
		/* an LDNS_RDF_TYPE_STR is its length octet plus the data */
		if (ldns_rdf_size(f) < 1)
			continue;
		n = ldns_rdf_data(f)[0];
		if (n > ldns_rdf_size(f) - 1)
			n = ldns_rdf_size(f) - 1;
		memcpy(out->text + out->textlen, ldns_rdf_data(f) + 1, n);
		out->textlen += n;
	}
	out->text[out->textlen] = '\0';
	*budget -= total;
	return 0;
}

/* Copy an A/AAAA address; -1 if the rdata has the wrong size. */
static int
addr_from_ldns(struct am_dns_rr *out, const ldns_rr *rr, size_t len)
{
	const ldns_rdf *f = ldns_rr_rdf(rr, 0);

	if (f == NULL || ldns_rdf_size(f) != len)
		return -1;
	memcpy(out->addr, ldns_rdf_data(f), len);
	return 0;
}

/* The name in rdata field i as literal text. */
static int
name_from_ldns(struct am_dns_rr *out, const ldns_rr *rr, size_t i)
{
	if (ldns_rr_rd_count(rr) <= i)
		return -1;
	if ((out->text = am_dns_rdf_name(ldns_rr_rdf(rr, i))) == NULL)
		return -1;
	out->textlen = strlen(out->text);
	return 0;
}

int
am_dns_rr_from_ldns(struct am_dns_rr *out, const ldns_rr *rr, size_t *budget)
{
	const ldns_rdf *f;

	memset(out, 0, sizeof(*out));
	out->type = (int)ldns_rr_get_type(rr);
	out->ttl = ldns_rr_ttl(rr);
	switch (out->type) {
	case AM_DNS_T_A:
		return addr_from_ldns(out, rr, 4);
	case AM_DNS_T_AAAA:
		return addr_from_ldns(out, rr, 16);
	case AM_DNS_T_TXT:
		return txt_from_ldns(out, rr, budget);
	case AM_DNS_T_MX:
		f = ldns_rr_rdf(rr, 0);
		if (f == NULL || ldns_rdf_size(f) != 2)
			return -1;
		out->pref = ldns_rdf2native_int16(f);
		return name_from_ldns(out, rr, 1);
	case AM_DNS_T_PTR:
	case AM_DNS_T_CNAME:
	case LDNS_RR_TYPE_NS:
		return name_from_ldns(out, rr, 0);
	}
	return 0;
}

/* ---- answers from packets ---- */

/* The CNAME owned by name in the answer section, or NULL. */
static const ldns_rr *
cname_of(const ldns_rr_list *an, const ldns_rdf *name)
{
	const ldns_rr *rr;
	size_t i;

	for (i = 0; i < ldns_rr_list_rr_count(an); i++) {
		rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME &&
		    ldns_rr_rd_count(rr) == 1 &&
		    ldns_dname_compare(ldns_rr_owner(rr), name) == 0)
			return rr;
	}
	return NULL;
}

/* Follow CNAMEs from qname inside the answer section; NULL on a loop. */
static const ldns_rdf *
chain_end(const ldns_rr_list *an, const ldns_rdf *qname, int type,
    uint32_t *ttl)
{
	const ldns_rdf *cur = qname;
	const ldns_rr *rr;
	size_t hops;

	if (type == AM_DNS_T_CNAME)
		return cur;
	for (hops = 0; hops <= CHAIN_MAX; hops++) {
		if ((rr = cname_of(an, cur)) == NULL)
			return cur;
		if (ldns_rr_ttl(rr) < *ttl)
			*ttl = ldns_rr_ttl(rr);
		cur = ldns_rr_rdf(rr, 0);
	}
	return NULL;
}

/* 1 if rr is a record of type at owner. */
static int
wanted(const ldns_rr *rr, const ldns_rdf *owner, int type)
{
	return (int)ldns_rr_get_type(rr) == type &&
	    ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
	    ldns_dname_compare(ldns_rr_owner(rr), owner) == 0;
}

/* Negative TTL from the SOA in the authority section (RFC 2308 s.5). */
static uint32_t
neg_ttl(const ldns_pkt *p)
{
	const ldns_rr_list *ns = ldns_pkt_authority(p);
	const ldns_rr *rr;
	uint32_t ttl, min;
	size_t i;

	for (i = 0; i < ldns_rr_list_rr_count(ns); i++) {
		rr = ldns_rr_list_rr(ns, i);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA ||
		    ldns_rr_rd_count(rr) < 7)
			continue;
		ttl = ldns_rr_ttl(rr);
		min = ldns_rdf2native_int32(ldns_rr_rdf(rr, 6));
		return ttl < min ? ttl : min;
	}
	return AM_DNS_NEG_TTL_DEFAULT;
}

/* An NXDOMAIN or NODATA answer. */
static enum am_dns_status
negative(enum am_dns_status st, const ldns_pkt *p, int type, uint32_t ttl,
    struct am_dns_answer **ans)
{
	uint32_t n = neg_ttl(p);

	if ((*ans = am_dns_answer_new(st, type, 0)) == NULL)
		return AM_DNS_TEMPFAIL;
	(*ans)->ttl = n < ttl ? n : ttl;
	return st;
}

/* Copy the wanted records of a NOERROR reply into a new answer. */
static enum am_dns_status
positive(const ldns_pkt *p, const ldns_rdf *owner, int type, uint32_t ttl,
    struct am_dns_answer **ans, struct am_buf *why)
{
	const ldns_rr_list *an = ldns_pkt_answer(p);
	size_t i, n, budget = AM_DNS_MAX_TEXT;
	struct am_dns_answer *a;
	int r;

	for (i = 0, n = 0; i < ldns_rr_list_rr_count(an); i++)
		n += wanted(ldns_rr_list_rr(an, i), owner, type);
	if (n == 0)
		return negative(AM_DNS_NODATA, p, type, ttl, ans);
	if (n > AM_DNS_MAX_RRS) {
		am_buf_setf(why, "DNS answer too large (%zu records)", n);
		return AM_DNS_TEMPFAIL;
	}
	if ((a = am_dns_answer_new(AM_DNS_OK, type, n)) == NULL)
		return AM_DNS_TEMPFAIL;
	for (i = 0, n = 0; i < ldns_rr_list_rr_count(an); i++) {
		if (!wanted(ldns_rr_list_rr(an, i), owner, type))
			continue;
		r = am_dns_rr_from_ldns(&a->rr[n], ldns_rr_list_rr(an, i),
		    &budget);
		if (r == -2) {
			a->count = n + 1;
			am_dns_answer_free(a);
			am_buf_setf(why, "DNS answer too large (TXT data)");
			return AM_DNS_TEMPFAIL;
		}
		if (r == 0 && a->rr[n].ttl < ttl)
			ttl = a->rr[n].ttl;
		n += (r == 0);
	}
	a->count = n;
	a->ttl = ttl;
	if (n == 0) {
		am_dns_answer_free(a);
		return negative(AM_DNS_NODATA, p, type, ttl, ans);
	}
	*ans = a;
	return AM_DNS_OK;
}

/* 1 if reply answers query (same id, a response, same question). */
static int
matches(const ldns_pkt *q, const ldns_pkt *r)
{
	const ldns_rr *qq, *rq;

	if (ldns_pkt_id(q) != ldns_pkt_id(r) || !ldns_pkt_qr(r) ||
	    ldns_rr_list_rr_count(ldns_pkt_question(r)) != 1)
		return 0;
	qq = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	rq = ldns_rr_list_rr(ldns_pkt_question(r), 0);
	return ldns_rr_get_type(qq) == ldns_rr_get_type(rq) &&
	    ldns_dname_compare(ldns_rr_owner(qq), ldns_rr_owner(rq)) == 0;
}

/* Turn one server's reply into a status and answer. */
static enum am_dns_status
interpret(const ldns_pkt *q, const ldns_pkt *p, const ldns_rdf *qname,
    int type, const struct server *s, struct am_dns_answer **ans,
    struct am_buf *why)
{
	const ldns_rdf *end;
	ldns_lookup_table *rc;
	uint32_t ttl = UINT32_MAX;

	if (!matches(q, p)) {
		am_buf_setf(why, "reply from %s does not match the query",
		    s->label);
		return AM_DNS_TEMPFAIL;
	}
	if (ldns_pkt_tc(p)) {
		/* only if TCP too gave a truncated reply: do not trust it */
		am_buf_setf(why, "truncated answer from %s", s->label);
		return AM_DNS_TEMPFAIL;
	}
	if ((end = chain_end(ldns_pkt_answer(p), qname, type, &ttl)) == NULL) {
		am_buf_setf(why, "CNAME chain too long from %s", s->label);
		return AM_DNS_TEMPFAIL;
	}
	switch (ldns_pkt_get_rcode(p)) {
	case LDNS_RCODE_NOERROR:
		return positive(p, end, type, ttl, ans, why);
	case LDNS_RCODE_NXDOMAIN:
		return negative(AM_DNS_NXDOMAIN, p, type, ttl, ans);
	default:
		rc = ldns_lookup_by_id(ldns_rcodes, ldns_pkt_get_rcode(p));
		if (rc != NULL)
			am_buf_setf(why, "%s from %s", rc->name, s->label);
		else
			am_buf_setf(why, "RCODE %d from %s",
			    (int)ldns_pkt_get_rcode(p), s->label);
		return AM_DNS_TEMPFAIL;
	}
}

/* Ask one server through resolver r. */
static enum am_dns_status
ask(ldns_resolver *r, const struct server *s, const ldns_rdf *qname,
    int type, struct am_dns_answer **ans, struct am_buf *why)
{
	ldns_pkt *q = NULL, *p = NULL;
	enum am_dns_status st;
	ldns_status ls;

	/* ldns shuns a server for good after one timeout; we retry it */
	ldns_resolver_set_nameserver_rtt(r, 0, LDNS_RESOLV_RTT_MIN);
	ls = ldns_resolver_prepare_query_pkt(&q, r, qname, (ldns_rr_type)type,
	    LDNS_RR_CLASS_IN, LDNS_RD);
	if (ls == LDNS_STATUS_OK)
		ls = ldns_resolver_send_pkt(&p, r, q);
	if (ls != LDNS_STATUS_OK || p == NULL) {
		am_buf_setf(why, "no answer from %s (%s)", s->label,
		    ldns_get_errorstr_by_id(ls));
		st = AM_DNS_TEMPFAIL;
	} else
		st = interpret(q, p, qname, type, s, ans, why);
	ldns_pkt_free(q);
	ldns_pkt_free(p);
	return st;
}

/* ---- the resolver pool ---- */

/* A resolver for one server. */
static ldns_resolver *
resolver_new(const struct lres *l, const struct server *s)
{
	ldns_resolver *r;

	if ((r = ldns_resolver_new()) == NULL)
		return NULL;
	if (ldns_resolver_push_nameserver(r, s->addr) != LDNS_STATUS_OK) {
		ldns_resolver_deep_free(r);
		return NULL;
	}
	ldns_resolver_set_port(r, s->port);
	ldns_resolver_set_timeout(r, l->timeout);
	ldns_resolver_set_retry(r, l->tries);
	ldns_resolver_set_retrans(r, 0);
	ldns_resolver_set_recursive(r, true);
	ldns_resolver_set_defnames(r, false);
	ldns_resolver_set_dnsrch(r, false);
	ldns_resolver_set_random(r, false);
	ldns_resolver_set_fallback(r, true);
	ldns_resolver_set_igntc(r, false);
	ldns_resolver_set_edns_udp_size(r, l->edns);
	return r;
}

static void
slot_free(const struct lres *l, struct slot *sl)
{
	size_t i;

	for (i = 0; i < l->nsrv; i++)
		if (sl->res[i] != NULL)
			ldns_resolver_deep_free(sl->res[i]);
	free(sl->res);
	free(sl);
}

static struct slot *
slot_new(const struct lres *l)
{
	struct slot *sl;
	size_t i;

	if ((sl = calloc(1, sizeof(*sl))) == NULL)
		return NULL;
	if ((sl->res = calloc(l->nsrv, sizeof(*sl->res))) == NULL) {
		free(sl);
		return NULL;
	}
	for (i = 0; i < l->nsrv; i++)
		if ((sl->res[i] = resolver_new(l, &l->srv[i])) == NULL) {
			slot_free(l, sl);
			return NULL;
		}
	return sl;
}

/* Borrow an idle set, making one if there are fewer than POOL_MAX. */
static struct slot *
borrow(struct lres *l)
{
	struct slot *sl;
	int make = 0;

	pthread_mutex_lock(&l->mu);
	while (l->free == NULL && l->made >= POOL_MAX)
		pthread_cond_wait(&l->cv, &l->mu);
	if ((sl = l->free) != NULL)
		l->free = sl->next;
	else {
		l->made++;
		make = 1;
	}
	pthread_mutex_unlock(&l->mu);
	if (make && (sl = slot_new(l)) == NULL) {
		pthread_mutex_lock(&l->mu);
		l->made--;
		pthread_cond_signal(&l->cv);
		pthread_mutex_unlock(&l->mu);
	}
	return sl;
}

static void
give_back(struct lres *l, struct slot *sl)
{
	pthread_mutex_lock(&l->mu);
	sl->next = l->free;
	l->free = sl;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

static enum am_dns_status
lres_query(void *state, const char *name, int type,
    struct am_dns_answer **ans, struct am_buf *why)
{
	struct lres *l = state;
	unsigned char wire[AM_DNS_WIRE_MAX];
	enum am_dns_status st = AM_DNS_TEMPFAIL;
	struct am_buf fails = AM_BUF_INIT(512);
	ldns_rdf *qname;
	struct slot *sl;
	size_t i, n;

	if ((n = am_dns_name_wire(name, wire)) == 0 ||
	    (qname = ldns_dname_new_frm_data((uint16_t)n, wire)) == NULL) {
		am_buf_setf(why, "cannot encode query name");
		return AM_DNS_TEMPFAIL;
	}
	if ((sl = borrow(l)) == NULL) {
		ldns_rdf_deep_free(qname);
		am_buf_setf(why, "cannot make a resolver: out of memory");
		return AM_DNS_TEMPFAIL;
	}
	for (i = 0; i < l->nsrv && st == AM_DNS_TEMPFAIL; i++) {
		am_buf_reset(&fails);
		st = ask(sl->res[i], &l->srv[i], qname, type, ans, &fails);
	}
	give_back(l, sl);
	ldns_rdf_deep_free(qname);
	if (st == AM_DNS_TEMPFAIL)
		am_buf_setf(why, "%s", am_buf_str(&fails));
	am_buf_release(&fails);
	return st;
}

static void
lres_close(void *state)
{
	struct lres *l = state;
	struct slot *sl;
	size_t i;

	if (l == NULL)
		return;
	while ((sl = l->free) != NULL) {
		l->free = sl->next;
		slot_free(l, sl);
	}
	for (i = 0; i < l->nsrv; i++)
		ldns_rdf_deep_free(l->srv[i].addr);
	free(l->srv);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l);
}

static const struct am_dns_backend lres_backend = {
	.name = "ldns",
	.query = lres_query,
	.close = lres_close,
};

/* ---- set up ---- */

/* Parse "ip", "ip@port", "[ip6]" or "[ip6]@port" into s. */
static int
server_parse(struct server *s, const char *spec, struct am_buf *why)
{
	char host[64], *at, *end;
	unsigned char bin[16];
	unsigned long port = 53;
	size_t hl;

	if (strlen(spec) >= sizeof(host))
		goto bad;
	strcpy(host, spec);
	if ((at = strrchr(host, '@')) != NULL) {
		*at++ = '\0';
		port = strtoul(at, &end, 10);
		if (*at == '\0' || *end != '\0' || port == 0 || port > 65535)
			goto bad;
	}
	hl = strlen(host);
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
		if (inet_pton(AF_INET6, host, bin) != 1)
			goto bad;
	}
	if (inet_pton(AF_INET, host, bin) == 1)
		s->addr = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, host);
	else if (inet_pton(AF_INET6, host, bin) == 1)
		s->addr = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_AAAA, host);
	else
		goto bad;
	s->port = (uint16_t)port;
	snprintf(s->label, sizeof(s->label), "%s@%lu", host, port);
	return s->addr != NULL ? 0 : -1;
bad:
	am_buf_setf(why, "bad DNS server address \"%s\"", spec);
	return -1;
}

/* Servers from /etc/resolv.conf, port 53. */
static int
servers_from_resolv_conf(struct lres *l, struct am_buf *why)
{
	ldns_resolver *r = NULL;
	ldns_rdf **ns;
	size_t i, n;
	char *txt;

	if (ldns_resolver_new_frm_file(&r, NULL) != LDNS_STATUS_OK ||
	    (n = ldns_resolver_nameserver_count(r)) == 0) {
		if (r != NULL)
			ldns_resolver_deep_free(r);
		am_buf_setf(why, "no nameserver in /etc/resolv.conf");
		return -1;
	}
	if ((l->srv = calloc(n, sizeof(*l->srv))) == NULL) {
		ldns_resolver_deep_free(r);
		return -1;
	}
	ns = ldns_resolver_nameservers(r);
	for (i = 0; i < n; i++, l->nsrv++) {
		l->srv[i].addr = ldns_rdf_clone(ns[i]);
		l->srv[i].port = 53;
		txt = ldns_rdf2str(ns[i]);
		snprintf(l->srv[i].label, sizeof(l->srv[i].label), "%s@53",
		    txt != NULL ? txt : "?");
		free(txt);
	}
	ldns_resolver_deep_free(r);
	return 0;
}

static int
servers_from_opts(struct lres *l, const struct am_dns_ldns_opts *o,
    struct am_buf *why)
{
	size_t i;

	if (o == NULL || o->servers == NULL || o->nservers == 0)
		return servers_from_resolv_conf(l, why);
	if ((l->srv = calloc(o->nservers, sizeof(*l->srv))) == NULL)
		return -1;
	for (i = 0; i < o->nservers; i++, l->nsrv++)
		if (server_parse(&l->srv[i], o->servers[i], why) != 0)
			return -1;
	return 0;
}

static void
timing_from_opts(struct lres *l, const struct am_dns_ldns_opts *o)
{
	unsigned ms = o != NULL && o->timeout_ms ? o->timeout_ms : 5000;
	unsigned tries = o != NULL && o->retries ? o->retries : 2;
	unsigned edns = o != NULL && o->edns_size ? o->edns_size : EDNS_DEFAULT;

	l->timeout.tv_sec = ms / 1000;
	l->timeout.tv_usec = (ms % 1000) * 1000;
	l->tries = tries > 10 ? 10 : (uint8_t)tries;
	if (edns < 512)
		edns = 0;
	l->edns = edns > EDNS_MAX ? EDNS_MAX : (uint16_t)edns;
}

struct am_dns *
am_dns_ldns_new(const struct am_dns_ldns_opts *o, struct am_buf *why)
{
	struct am_dns *d;
	struct lres *l;
	struct slot *sl;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	timing_from_opts(l, o);
	if (servers_from_opts(l, o, why) != 0) {
		lres_close(l);
		return NULL;
	}
	/* One set up front, so that a broken setup fails here. */
	if ((sl = slot_new(l)) == NULL) {
		am_buf_setf(why, "cannot make an ldns resolver");
		lres_close(l);
		return NULL;
	}
	l->made = 1;
	give_back(l, sl);
	if ((d = am_dns_new(&lres_backend, l)) == NULL)
		lres_close(l);
	return d;
}
