/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dns_ldns: the resolver back end: our own transport, with ldns building
 * and parsing the packets. See dns.h.
 *
 * Entry point: am_dns_ldns_new(). Servers ("127.0.0.1", "::1",
 * "127.0.0.1@5353", "[::1]@5353", else /etc/resolv.conf) are asked in order
 * until one gives a usable answer; each gets up to `retries` UDP tries of
 * timeout_ms. Queries ask for recursion, use no search list (RFC 1536) and
 * offer EDNS0 (RFC 6891) with a 1232-byte UDP size. A truncated UDP answer
 * is asked again by TCP (RFC 7766 s.5); one sent without EDNS0 is first
 * asked again over UDP with EDNS0 4096.
 *
 * Deadlines: a query has one total deadline, the earlier of the caller's
 * (struct am_dns_ctl) and nservers * retries * timeout_ms from its start;
 * a live deadline (ctl->live, the message's) set or moved earlier while the
 * query is in flight is seen within 100 ms.
 * Every wait -- a UDP try, the TCP connect, each TCP read and write -- is a
 * poll() on a nonblocking socket for the time left, so a server that
 * trickles a TCP answer byte by byte is cut at the deadline (ldns's own
 * resolver applied its timeout to each read, without a total).
 *
 * Spoofing (RFC 5452): each query has a random ID (arc4random) and goes
 * out on a fresh connected socket bound by the kernel to a random port; a
 * reply whose ID, QR bit, opcode or question (name, type, class) does not
 * match is ignored and the right one awaited until the deadline, so a
 * forged packet cannot turn a lookup into TEMPFAIL.
 *
 * Answers (RFC 1034 s.3.6.2, RFC 2308): CNAMEs are followed inside the
 * answer section and only records owned by the end of the chain count, so
 * unrelated records a server adds are ignored. NXDOMAIN comes from the
 * RCODE; NOERROR without records is NODATA; their TTL is the SOA's in the
 * authority section, min(SOA TTL, SOA MINIMUM) (RFC 2308 s.5), else 300.
 * Any other RCODE or a timeout is TEMPFAIL. The message size bounds the
 * record count (see AM_DNS_MAX_RRS); TXT data is capped at AM_DNS_MAX_TEXT.
 *
 * Thread safety: the state is read-only after am_dns_ldns_new() and each
 * query has its own sockets, so any number of threads may query at once.
 *
 * Also here: the ldns_rr to struct am_dns_rr conversion, shared with the
 * zone back end (dns_priv.h).
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "dns_priv.h"

#define CHAIN_MAX 16
#define MSG_MAX 65535
#define EDNS_DEFAULT 1232
#define EDNS_MAX 4096

struct server {
	struct sockaddr_storage sa;
	socklen_t salen;
	char label[80];         /* "127.0.0.1@5353", for reasons */
};

/* Read-only after am_dns_ldns_new(). */
struct lres {
	struct server *srv;
	size_t nsrv;
	unsigned timeout_ms;    /* one UDP try, one TCP exchange */
	unsigned tries;
	uint16_t edns;          /* 0: no EDNS0 at first */
};

/* One query being asked. */
struct query {
	const struct lres *l;
	const ldns_rdf *qname;
	int type;
	uint64_t end;           /* total deadline, CLOCK_MONOTONIC ms */
	const uint64_t *live;   /* the caller's movable deadline, or NULL */
	unsigned ignored;       /* replies that did not match, ignored */
	uint8_t *buf;           /* MSG_MAX bytes for replies */
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
		/* cannot come from a real message; a guard */
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

/* Turn a matching reply into a status and answer. */
static enum am_dns_status
interpret(const ldns_pkt *p, const ldns_rdf *qname, int type,
    const struct server *s, struct am_dns_answer **ans, struct am_buf *why)
{
	const ldns_rdf *end;
	ldns_lookup_table *rc;
	uint32_t ttl = UINT32_MAX;

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

/* ---- the transport ---- */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The query's deadline now: its own, or the caller's live one if earlier. */
static uint64_t
query_end(const struct query *q)
{
	uint64_t live = 0;

	if (q->live != NULL)
		live = __atomic_load_n(q->live, __ATOMIC_ACQUIRE);
	return live != 0 && live < q->end ? live : q->end;
}

/*
 * Wait for ev on fd until end (or the query's deadline); 1 ready, 0 time
 * is up, -1 error. With a live deadline, wake every 100 ms to look at it.
 */
static int
wait_fd(const struct query *q, int fd, short ev, uint64_t end)
{
	struct pollfd pfd = { .fd = fd, .events = ev };
	uint64_t now, e, slice;
	int r;

	for (;;) {
		e = query_end(q) < end ? query_end(q) : end;
		if ((now = now_ms()) >= e)
			return 0;
		slice = q->live != NULL ? 100 : 60000;
		r = poll(&pfd, 1, (int)(e - now > slice ? slice : e - now));
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* The query in wire form with a new random ID. */
static int
query_wire(const struct query *q, uint16_t edns, uint16_t *id,
    uint8_t **wire, size_t *len)
{
	ldns_pkt *p;
	ldns_status ls;

	p = ldns_pkt_query_new(ldns_rdf_clone(q->qname), (ldns_rr_type)q->type,
	    LDNS_RR_CLASS_IN, LDNS_RD);
	if (p == NULL)
		return -1;
	*id = (uint16_t)arc4random();
	ldns_pkt_set_id(p, *id);
	if (edns != 0)
		ldns_pkt_set_edns_udp_size(p, edns);
	ls = ldns_pkt2wire(wire, p, len);
	ldns_pkt_free(p);
	return ls == LDNS_STATUS_OK ? 0 : -1;
}

/*
 * The reply in buf if it answers our query (RFC 5452 s.9.1: ID, a response
 * to a standard query, the same single question), else NULL.
 */
static ldns_pkt *
reply_for(const struct query *q, uint16_t id, const uint8_t *buf, size_t n)
{
	const ldns_rr *rq;
	ldns_pkt *p;

	if (n < LDNS_HEADER_SIZE || ldns_wire2pkt(&p, buf, n) != LDNS_STATUS_OK)
		return NULL;
	if (ldns_pkt_id(p) == id && ldns_pkt_qr(p) &&
	    ldns_pkt_get_opcode(p) == LDNS_PACKET_QUERY &&
	    ldns_rr_list_rr_count(ldns_pkt_question(p)) == 1) {
		rq = ldns_rr_list_rr(ldns_pkt_question(p), 0);
		if ((int)ldns_rr_get_type(rq) == q->type &&
		    ldns_rr_get_class(rq) == LDNS_RR_CLASS_IN &&
		    ldns_dname_compare(ldns_rr_owner(rq), q->qname) == 0)
			return p;
	}
	ldns_pkt_free(p);
	return NULL;
}

/* A nonblocking socket connected (or connecting) to s; -1 with why. */
static int
open_socket(const struct server *s, int type, struct am_buf *why)
{
	int fd;

	fd = socket(s->sa.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		am_buf_setf(why, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&s->sa, s->salen) != 0 &&
	    errno != EINPROGRESS) {
		am_buf_setf(why, "connect to %s: %s", s->label, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * One UDP try until end: 1 with *p on a matching reply, 0 when time ran
 * out, -1 (with why) on a network error.
 */
static int
udp_try(struct query *q, const struct server *s, uint16_t edns,
    uint64_t end, ldns_pkt **p, struct am_buf *why)
{
	uint8_t *wire = NULL;
	size_t len;
	uint16_t id;
	ssize_t n;
	int fd, r = -1;

	if ((fd = open_socket(s, SOCK_DGRAM, why)) < 0)
		return -1;
	if (query_wire(q, edns, &id, &wire, &len) != 0)
		am_buf_setf(why, "cannot build the query");
	else if (send(fd, wire, len, 0) != (ssize_t)len)
		am_buf_setf(why, "send to %s: %s", s->label, strerror(errno));
	else
		for (;;) {
			if ((r = wait_fd(q, fd, POLLIN, end)) <= 0)
				break;
			n = recv(fd, q->buf, MSG_MAX, 0);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n < 0) {
				am_buf_setf(why, "%s: %s", s->label,
				    strerror(errno));
				r = -1;
				break;
			}
			if ((*p = reply_for(q, id, q->buf, (size_t)n)) != NULL)
				break;
			q->ignored++;
		}
	free(wire);
	close(fd);
	return r;
}

/* Write all of buf to fd before end; 0, or -1 (time out or error). */
static int
write_all(const struct query *q, int fd, const uint8_t *buf, size_t len,
    uint64_t end)
{
	ssize_t n;

	while (len > 0) {
		if (wait_fd(q, fd, POLLOUT, end) <= 0)
			return -1;
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read exactly len bytes before end; 1, 0 (time out), -1 (error, EOF). */
static int
read_all(const struct query *q, int fd, uint8_t *buf, size_t len,
    uint64_t end)
{
	ssize_t n;
	int r;

	while (len > 0) {
		if ((r = wait_fd(q, fd, POLLIN, end)) <= 0)
			return r;
		n = recv(fd, buf, len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 1;
}

/*
 * The query over TCP (RFC 1035 s.4.2.2 framing, RFC 7766), everything
 * before end: 1 with *p, 0 when time ran out, -1 with why.
 */
static int
tcp_try(struct query *q, const struct server *s, uint16_t edns,
    uint64_t end, ldns_pkt **p, struct am_buf *why)
{
	uint8_t *wire = NULL, *msg = NULL;
	size_t len, n;
	uint16_t id;
	int fd, r = -1;

	if ((fd = open_socket(s, SOCK_STREAM, why)) < 0)
		return -1;
	if (query_wire(q, edns, &id, &wire, &len) != 0 ||
	    (msg = malloc(len + 2)) == NULL) {
		am_buf_setf(why, "cannot build the query");
		goto done;
	}
	msg[0] = (uint8_t)(len >> 8);
	msg[1] = (uint8_t)len;
	memcpy(msg + 2, wire, len);
	if (write_all(q, fd, msg, len + 2, end) != 0) {
		r = now_ms() >= end || now_ms() >= query_end(q) ? 0 : -1;
		am_buf_setf(why, "TCP to %s: cannot send", s->label);
		goto done;
	}
	/* replies to other IDs or questions are skipped, as over UDP */
	while ((r = read_all(q, fd, q->buf, 2, end)) == 1) {
		n = (size_t)q->buf[0] << 8 | q->buf[1];
		if ((r = read_all(q, fd, q->buf, n, end)) != 1)
			break;
		if ((*p = reply_for(q, id, q->buf, n)) != NULL)
			break;
		q->ignored++;
	}
	if (r < 0)
		am_buf_setf(why, "TCP to %s: connection failed", s->label);
done:
	free(wire);
	free(msg);
	close(fd);
	return r;
}

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/*
 * One exchange with s until end: UDP, again with EDNS0 4096 when a reply
 * without it was truncated, then TCP. As udp_try().
 */
static int
exchange(struct query *q, const struct server *s, uint64_t end,
    ldns_pkt **p, struct am_buf *why)
{
	uint16_t edns = q->l->edns;
	int r;

	for (;;) {
		if ((r = udp_try(q, s, edns, end, p, why)) != 1 ||
		    !ldns_pkt_tc(*p))
			return r;
		ldns_pkt_free(*p);
		*p = NULL;
		if (edns != 0)
			break;
		edns = EDNS_MAX;
	}
	return tcp_try(q, s, edns, min_u64(now_ms() + q->l->timeout_ms,
	    query_end(q)), p, why);
}

/* Ask one server, up to its tries, before the query's deadline. */
static enum am_dns_status
ask(struct query *q, const struct server *s, struct am_dns_answer **ans,
    struct am_buf *why)
{
	enum am_dns_status st;
	ldns_pkt *p = NULL;
	unsigned t;
	int r = 0;

	for (t = 0; t < q->l->tries && now_ms() < query_end(q); t++) {
		r = exchange(q, s, min_u64(now_ms() + q->l->timeout_ms,
		    query_end(q)), &p, why);
		if (r != 0)
			break;
	}
	if (r == 1) {
		st = interpret(p, q->qname, q->type, s, ans, why);
		ldns_pkt_free(p);
		return st;
	}
	if (r == 0 && q->ignored > 0)
		am_buf_setf(why, "no answer from %s (%u replies that did not "
		    "match the query ignored)", s->label, q->ignored);
	else if (r == 0)
		am_buf_setf(why, "no answer from %s", s->label);
	return AM_DNS_TEMPFAIL;
}

static enum am_dns_status
lres_query_ctl(void *state, const char *name, int type,
    struct am_dns_ctl *ctl, struct am_dns_answer **ans, struct am_buf *why)
{
	struct lres *l = state;
	unsigned char wire[AM_DNS_WIRE_MAX];
	enum am_dns_status st = AM_DNS_TEMPFAIL;
	struct am_buf fails = AM_BUF_INIT(512);
	struct query q = { .l = l, .type = type, .live = ctl->live };
	ldns_rdf *qname;
	size_t i, n;

	q.end = now_ms() + (uint64_t)l->nsrv * l->tries * l->timeout_ms;
	if (ctl->deadline != 0)
		q.end = min_u64(q.end, ctl->deadline);
	if ((n = am_dns_name_wire(name, wire)) == 0 ||
	    (qname = ldns_dname_new_frm_data((uint16_t)n, wire)) == NULL) {
		am_buf_setf(why, "cannot encode query name");
		return AM_DNS_TEMPFAIL;
	}
	q.qname = qname;
	if ((q.buf = malloc(MSG_MAX)) == NULL) {
		ldns_rdf_deep_free(qname);
		am_buf_setf(why, "out of memory");
		return AM_DNS_TEMPFAIL;
	}
	for (i = 0; i < l->nsrv && st == AM_DNS_TEMPFAIL &&
	    now_ms() < query_end(&q); i++) {
		am_buf_reset(&fails);
		q.ignored = 0;
		st = ask(&q, &l->srv[i], ans, &fails);
	}
	if (st == AM_DNS_TEMPFAIL)
		am_buf_setf(why, "%s", fails.len > 0 ? am_buf_str(&fails) :
		    "lookup deadline passed");
	if (st == AM_DNS_TEMPFAIL && ((ctl->deadline != 0 &&
	    now_ms() >= ctl->deadline) || (q.end != query_end(&q) &&
	    now_ms() >= query_end(&q))))
		ctl->timed_out = 1;
	free(q.buf);
	ldns_rdf_deep_free(qname);
	am_buf_release(&fails);
	return st;
}

static enum am_dns_status
lres_query(void *state, const char *name, int type,
    struct am_dns_answer **ans, struct am_buf *why)
{
	struct am_dns_ctl ctl = { 0, NULL, 0, 0 };

	return lres_query_ctl(state, name, type, &ctl, ans, why);
}

static void
lres_close(void *state)
{
	struct lres *l = state;

	if (l == NULL)
		return;
	free(l->srv);
	free(l);
}

static const struct am_dns_backend lres_backend = {
	.name = "ldns",
	.query = lres_query,
	.close = lres_close,
	.query_ctl = lres_query_ctl,
};

/* ---- set up ---- */

/* Fill s from a binary address of family af and a port. */
static void
server_set(struct server *s, int af, const void *bin, unsigned port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&s->sa;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&s->sa;
	char host[INET6_ADDRSTRLEN];

	memset(&s->sa, 0, sizeof(s->sa));
	if (af == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, bin, 4);
		s->salen = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		memcpy(&sin6->sin6_addr, bin, 16);
		s->salen = sizeof(*sin6);
	}
	inet_ntop(af, bin, host, sizeof(host));
	snprintf(s->label, sizeof(s->label), "%s@%u", host, port);
}

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
		server_set(s, AF_INET, bin, (unsigned)port);
	else if (inet_pton(AF_INET6, host, bin) == 1)
		server_set(s, AF_INET6, bin, (unsigned)port);
	else
		goto bad;
	return 0;
bad:
	am_buf_setf(why, "bad DNS server address \"%s\"", spec);
	return -1;
}

/* Servers from /etc/resolv.conf (ldns reads it), port 53. */
static int
servers_from_resolv_conf(struct lres *l, struct am_buf *why)
{
	ldns_resolver *r = NULL;
	ldns_rdf **ns;
	size_t i, n;

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
	for (i = 0; i < n; i++) {
		if (ldns_rdf_get_type(ns[i]) == LDNS_RDF_TYPE_A &&
		    ldns_rdf_size(ns[i]) == 4)
			server_set(&l->srv[l->nsrv++], AF_INET,
			    ldns_rdf_data(ns[i]), 53);
		else if (ldns_rdf_get_type(ns[i]) == LDNS_RDF_TYPE_AAAA &&
		    ldns_rdf_size(ns[i]) == 16)
			server_set(&l->srv[l->nsrv++], AF_INET6,
			    ldns_rdf_data(ns[i]), 53);
	}
	ldns_resolver_deep_free(r);
	if (l->nsrv == 0) {
		am_buf_setf(why, "no usable nameserver in /etc/resolv.conf");
		return -1;
	}
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

	l->timeout_ms = ms;
	l->tries = tries > 10 ? 10 : tries;
	if (edns < 512)
		edns = 0;
	l->edns = edns > EDNS_MAX ? EDNS_MAX : (uint16_t)edns;
}

struct am_dns *
am_dns_ldns_new(const struct am_dns_ldns_opts *o, struct am_buf *why)
{
	struct am_dns *d;
	struct lres *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	timing_from_opts(l, o);
	if (servers_from_opts(l, o, why) != 0) {
		lres_close(l);
		return NULL;
	}
	if ((d = am_dns_new(&lres_backend, l)) == NULL)
		lres_close(l);
	return d;
}
