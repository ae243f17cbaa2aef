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
 * Every wait -- a UDP try, the TCP connect, each TCP read and write -- is
 * the loop's poll() on a nonblocking socket, cut at the time left, so a
 * server that trickles a TCP answer byte by byte is cut at the deadline
 * (ldns's own resolver applied its timeout to each read, without a total)
 * and holds up no other query.
 *
 * Spoofing (RFC 5452): each query has a random ID (arc4random) and goes
 * out on a fresh connected socket bound by the kernel to a random port; a
 * reply whose ID, QR bit, opcode or question (name, type, class) does not
 * match is ignored and the right one awaited until the deadline, so a
 * forged packet cannot turn a lookup into TEMPFAIL.
 *
 * Replies become answers in dns_answer.c (am_dns_answer_from_pkt).
 *
 * The loop: one thread (started at the first query, signals blocked) owns
 * every socket. A query is submitted (lres_submit, from any thread: the
 * cache layer, or lres_query_ctl for a blocking caller, which then waits
 * on a condition variable) into a FIFO; the loop takes up to max_inflight
 * (256 by default) onto the wire, polls all their sockets at once and
 * steps each query's state machine (UDP try -> EDNS0 retry -> TCP
 * connect, write, read length, read message) as far as its socket allows
 * without blocking, so a server trickling a TCP answer costs one pollfd,
 * nothing more. Memory: a query is ~200 bytes plus, over TCP only, its
 * reply (at most 64 KiB); UDP replies land in one loop-owned buffer. When
 * a query ends the loop calls its request's done (not under any lock);
 * am_dns_cancel() withdraws a request and waits for a done in progress.
 *
 * Thread safety: servers and options are read-only after
 * am_dns_ldns_new(); the waiting list, each query's request pointer and
 * the `calling' mark are under one mutex; everything else of a query
 * belongs to the loop thread.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "dns_priv.h"

#define MSG_MAX 65535
#define EDNS_DEFAULT 1232
#define EDNS_MAX 4096
#define INFLIGHT_DEFAULT 256
#define INFLIGHT_MAX 4096

struct server {
	struct sockaddr_storage sa;
	socklen_t salen;
	char label[80];         /* "127.0.0.1@5353", for reasons */
};

enum phase { PH_IDLE, PH_UDP, PH_TCP_OUT, PH_TCP_LEN, PH_TCP_MSG };

/* One query. The loop thread alone touches the fields below "loop". */
struct query {
	struct query *next;       /* waiting list: under lres.mu */
	struct am_dns_req *req;   /* under lres.mu; NULL: cancelled */
	int active;               /* under lres.mu: in act[], not waiting */
	ldns_rdf *qname;          /* read-only after submit */
	int type;
	uint64_t end;             /* total deadline, CLOCK_MONOTONIC ms */
	uint64_t caller;          /* the caller's deadline; 0: none */
	const uint64_t *live;     /* the caller's movable deadline, or NULL;
	                             read under lres.mu (a cancel clears it) */
	/* loop */
	uint64_t live_now;        /* *live as last read, each turn of the loop */
	int has_live;             /* live was given (set at submit) */
	size_t srv;               /* the server being asked */
	unsigned tries;           /* UDP tries made of it */
	uint16_t edns;
	uint16_t id;
	enum phase ph;
	int fd;                   /* -1 in PH_IDLE */
	uint64_t step_end;        /* end of this try (UDP) or of TCP */
	unsigned ignored;         /* replies that did not match, ignored */
	uint8_t *out;             /* TCP: the framed query */
	size_t outlen, outoff;
	uint8_t len[2];           /* TCP: the length of the reply */
	uint8_t *in;              /* TCP: the reply, need bytes */
	size_t have, need;
	struct am_buf fails;      /* why the current server failed */
	int finished, timed_out;
	enum am_dns_status st;
	struct am_dns_answer *ans;
};

struct lres {
	/* read-only after am_dns_ldns_new() */
	struct server *srv;
	size_t nsrv;
	unsigned timeout_ms;      /* one UDP try, one TCP exchange */
	unsigned tries;
	uint16_t edns;            /* 0: no EDNS0 at first */
	size_t max_act;           /* queries on the wire at once */
	pthread_mutex_t mu;
	pthread_cond_t cv;        /* calling went back to NULL */
	pthread_cond_t scv;       /* a blocking query's answer is in */
	/* under mu */
	struct query *wait_head, *wait_tail; /* submitted, not started */
	struct am_dns_req *calling; /* whose done runs now */
	int stop, running;
	pthread_t thread;
	int wake[2];              /* a pipe: submit and cancel wake the loop */
	/* the loop thread's own */
	struct query **act;       /* max_act: on the wire */
	size_t nact;
	struct pollfd *pfd;       /* max_act + 1 */
	size_t *pidx;             /* pfd[i] is act[pidx[i]] */
	uint8_t *rbuf;            /* MSG_MAX: UDP replies */
};

/* ---- the transport: one thread owns every socket ---- */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The query's deadline now: its own, or the caller's live one if earlier. */
static uint64_t
query_end(const struct query *q)
{
	uint64_t live = q->live_now;

	return live != 0 && live < q->end ? live : q->end;
}

/* Under the lock: read the live deadlines of the queries on the wire (a
 * cancelled query's owner may be gone: its pointer is cleared first). */
static void
read_live(struct lres *l)
{
	size_t i;

	for (i = 0; i < l->nact; i++)
		if (l->act[i]->live != NULL)
			l->act[i]->live_now = __atomic_load_n(l->act[i]->live,
			    __ATOMIC_ACQUIRE);
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
reply_for(const struct query *q, const uint8_t *buf, size_t n)
{
	const ldns_rr *rq;
	ldns_pkt *p;

	if (n < LDNS_HEADER_SIZE || ldns_wire2pkt(&p, buf, n) != LDNS_STATUS_OK)
		return NULL;
	if (ldns_pkt_id(p) == q->id && ldns_pkt_qr(p) &&
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

static void
close_fd(struct query *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	free(q->out);
	free(q->in);
	q->out = q->in = NULL;
	q->ph = PH_IDLE;
}

static void server_begin(struct lres *l, struct query *q);
static void try_begin(struct lres *l, struct query *q);

/* The query is over: st, with why (q->fails) on TEMPFAIL. */
static void
finish(struct query *q, enum am_dns_status st)
{
	uint64_t now = now_ms();

	close_fd(q);
	q->st = st;
	q->finished = 1;
	if (st != AM_DNS_TEMPFAIL)
		return;
	if (q->fails.len == 0)
		am_buf_setf(&q->fails, "lookup deadline passed");
	if ((q->caller != 0 && now >= q->caller) ||
	    (q->end != query_end(q) && now >= query_end(q)))
		q->timed_out = 1;
}

/* The current server is done with (error or no answer): the next one. */
static void
server_next(struct lres *l, struct query *q)
{
	close_fd(q);
	if (++q->srv < l->nsrv && now_ms() < query_end(q))
		server_begin(l, q);
	else
		finish(q, AM_DNS_TEMPFAIL);
}

/* A try ran out of time: try again, or give the server up. */
static void
try_timeout(struct lres *l, struct query *q)
{
	close_fd(q);
	try_begin(l, q);
}

/* A matching reply: interpret it; TEMPFAIL (SERVFAIL ...) asks the next. */
static void
got_reply(struct lres *l, struct query *q, ldns_pkt *p)
{
	enum am_dns_status st;

	am_buf_reset(&q->fails);
	st = am_dns_answer_from_pkt(p, q->qname, q->type, l->srv[q->srv].label,
	    &q->ans, &q->fails);
	ldns_pkt_free(p);
	if (st != AM_DNS_TEMPFAIL)
		finish(q, st);
	else
		server_next(l, q);
}

/* Send the query over UDP on a fresh socket (a new random port). */
static void
udp_begin(struct lres *l, struct query *q)
{
	const struct server *s = &l->srv[q->srv];
	uint8_t *wire = NULL;
	size_t len;

	close_fd(q);
	if ((q->fd = open_socket(s, SOCK_DGRAM, &q->fails)) < 0) {
		server_next(l, q);
		return;
	}
	if (query_wire(q, q->edns, &q->id, &wire, &len) != 0)
		am_buf_setf(&q->fails, "cannot build the query");
	else if (send(q->fd, wire, len, 0) != (ssize_t)len)
		am_buf_setf(&q->fails, "send to %s: %s", s->label,
		    strerror(errno));
	else
		q->ph = PH_UDP;
	free(wire);
	if (q->ph != PH_UDP)
		server_next(l, q);
}

/* Ask by TCP (RFC 7766 s.5) after a truncated UDP answer. */
static void
tcp_begin(struct lres *l, struct query *q)
{
	const struct server *s = &l->srv[q->srv];
	uint8_t *wire = NULL;
	size_t len;

	close_fd(q);
	q->step_end = min_u64(now_ms() + l->timeout_ms, query_end(q));
	if ((q->fd = open_socket(s, SOCK_STREAM, &q->fails)) < 0) {
		server_next(l, q);
		return;
	}
	if (query_wire(q, q->edns, &q->id, &wire, &len) != 0 ||
	    (q->out = malloc(len + 2)) == NULL) {
		free(wire);
		am_buf_setf(&q->fails, "cannot build the query");
		server_next(l, q);
		return;
	}
	q->out[0] = (uint8_t)(len >> 8);
	q->out[1] = (uint8_t)len;
	memcpy(q->out + 2, wire, len);
	free(wire);
	q->outlen = len + 2;
	q->outoff = 0;
	q->ph = PH_TCP_OUT;
}

/* The next UDP try of the current server, or the next server. */
static void
try_begin(struct lres *l, struct query *q)
{
	const struct server *s = &l->srv[q->srv];
	uint64_t now = now_ms();

	if (q->tries >= l->tries || now >= query_end(q)) {
		if (q->ignored > 0)
			am_buf_setf(&q->fails, "no answer from %s (%u replies "
			    "that did not match the query ignored)", s->label,
			    q->ignored);
		else
			am_buf_setf(&q->fails, "no answer from %s", s->label);
		server_next(l, q);
		return;
	}
	q->tries++;
	q->edns = l->edns;
	q->step_end = min_u64(now + l->timeout_ms, query_end(q));
	udp_begin(l, q);
}

static void
server_begin(struct lres *l, struct query *q)
{
	q->tries = 0;
	q->ignored = 0;
	am_buf_reset(&q->fails);
	try_begin(l, q);
}

/* UDP readable: every datagram waiting; the first match ends the try. */
static void
udp_ready(struct lres *l, struct query *q)
{
	ldns_pkt *p;
	ssize_t n;

	for (;;) {
		n = recv(q->fd, l->rbuf, MSG_MAX, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			am_buf_setf(&q->fails, "%s: %s", l->srv[q->srv].label,
			    strerror(errno));
			server_next(l, q);
			return;
		}
		if ((p = reply_for(q, l->rbuf, (size_t)n)) == NULL) {
			q->ignored++;
			continue;
		}
		if (!ldns_pkt_tc(p)) {
			got_reply(l, q, p);
			return;
		}
		/* truncated: again with EDNS0 4096 if it had none, else TCP */
		ldns_pkt_free(p);
		if (q->edns != 0)
			tcp_begin(l, q);
		else {
			q->edns = EDNS_MAX;
			udp_begin(l, q);
		}
		return;
	}
}

/* TCP writable: as much of the framed query as the socket takes. */
static void
tcp_write(struct lres *l, struct query *q)
{
	ssize_t n;

	n = send(q->fd, q->out + q->outoff, q->outlen - q->outoff,
	    MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		am_buf_setf(&q->fails, "TCP to %s: cannot send",
		    l->srv[q->srv].label);
		server_next(l, q);
		return;
	}
	if ((q->outoff += (size_t)n) < q->outlen)
		return;
	q->ph = PH_TCP_LEN;
	q->have = 0;
	q->need = 2;
}

/* TCP readable: what has come of the length or the message, no more. */
static void
tcp_read(struct lres *l, struct query *q)
{
	uint8_t *dst = q->ph == PH_TCP_LEN ? q->len : q->in;
	ldns_pkt *p;
	ssize_t n;

	n = recv(q->fd, dst + q->have, q->need - q->have, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		am_buf_setf(&q->fails, "TCP to %s: connection failed",
		    l->srv[q->srv].label);
		server_next(l, q);
		return;
	}
	if ((q->have += (size_t)n) < q->need)
		return;
	if (q->ph == PH_TCP_LEN) {
		q->need = (size_t)q->len[0] << 8 | q->len[1];
		q->have = 0;
		free(q->in);
		if ((q->in = malloc(q->need + 1)) == NULL) {
			am_buf_setf(&q->fails, "out of memory");
			server_next(l, q);
			return;
		}
		q->ph = PH_TCP_MSG;
		if (q->need > 0)
			return;
	}
	/* replies to other IDs or questions are skipped, as over UDP */
	if ((p = reply_for(q, q->in, q->need)) != NULL) {
		got_reply(l, q, p);
		return;
	}
	q->ignored++;
	q->ph = PH_TCP_LEN;
	q->have = 0;
	q->need = 2;
}

/* Start a query the loop has just taken on. */
static void
query_start(struct lres *l, struct query *q)
{
	q->srv = 0;
	if (now_ms() >= query_end(q))
		finish(q, AM_DNS_TEMPFAIL);
	else
		server_begin(l, q);
}

/* Poll events of the query's phase. */
static short
query_events(const struct query *q)
{
	switch (q->ph) {
	case PH_UDP:
	case PH_TCP_LEN:
	case PH_TCP_MSG:
		return POLLIN;
	case PH_TCP_OUT:
		return POLLOUT;
	default:
		return 0;
	}
}

/* Act on what poll said of q's socket, then on its clock. */
static void
query_step(struct lres *l, struct query *q, short rev)
{
	if (rev != 0) {
		if (q->ph == PH_UDP)
			udp_ready(l, q);
		else if (q->ph == PH_TCP_OUT)
			tcp_write(l, q);
		else if (q->ph == PH_TCP_LEN || q->ph == PH_TCP_MSG)
			tcp_read(l, q);
	}
	if (!q->finished && q->ph != PH_IDLE &&
	    now_ms() >= min_u64(q->step_end, query_end(q)))
		try_timeout(l, q);
}

static struct query *
query_free(struct query *q)
{
	close_fd(q);
	am_dns_answer_free(q->ans);
	am_buf_release(&q->fails);
	ldns_rdf_deep_free(q->qname);
	free(q);
	return NULL;
}

/* Tell the submitter (unless it cancelled) and free q. Loop thread. */
static void
deliver(struct lres *l, struct query *q)
{
	struct am_dns_req *r;

	pthread_mutex_lock(&l->mu);
	if ((r = q->req) != NULL) {
		r->link = NULL;
		l->calling = r;
	}
	pthread_mutex_unlock(&l->mu);
	if (r != NULL) {
		r->status = q->st;
		r->ans = q->ans;
		q->ans = NULL;
		r->timed_out = q->timed_out;
		snprintf(r->why, sizeof(r->why), "%s", q->st ==
		    AM_DNS_TEMPFAIL ? am_buf_str(&q->fails) : "");
		/* r may be gone once done returns: not touched again */
		r->done(r);
		pthread_mutex_lock(&l->mu);
		l->calling = NULL;
		pthread_cond_broadcast(&l->cv);
		pthread_mutex_unlock(&l->mu);
	}
	query_free(q);
}

/* Under the lock: take waiting queries on, up to the cap. */
static void
admit(struct lres *l, struct query **fresh, size_t *nfresh)
{
	struct query *q;

	while (l->wait_head != NULL && l->nact < l->max_act) {
		q = l->wait_head;
		if ((l->wait_head = q->next) == NULL)
			l->wait_tail = NULL;
		q->next = NULL;
		q->active = 1;
		l->act[l->nact++] = q;
		fresh[(*nfresh)++] = q;
	}
}

/*
 * Under the lock: take out the waiting queries whose deadline has passed
 * (the cap held them back that long), for the loop to fail at once.
 */
static struct query *
expire_waiting(struct lres *l)
{
	struct query **pp = &l->wait_head, *q, *out = NULL;
	uint64_t now = now_ms();

	l->wait_tail = NULL;
	while ((q = *pp) != NULL) {
		if (q->live != NULL)
			q->live_now = __atomic_load_n(q->live,
			    __ATOMIC_ACQUIRE);
		if (now < query_end(q)) {
			l->wait_tail = q;
			pp = &q->next;
			continue;
		}
		*pp = q->next;
		q->next = out;
		out = q;
	}
	return out;
}

/* The poll timeout: the nearest deadline; 100 ms with a live one, or
 * with queries waiting for room (their deadlines run too). */
static int
next_wake(const struct lres *l, int waiting)
{
	uint64_t now = now_ms(), t = now + (waiting ? 100 : 60000), e;
	size_t i;

	for (i = 0; i < l->nact; i++) {
		e = min_u64(l->act[i]->step_end, query_end(l->act[i]));
		/* a live deadline may move: look at it again in 100 ms */
		if (l->act[i]->has_live)
			e = min_u64(e, now + 100);
		t = min_u64(t, e);
	}
	return t > now ? (int)(t - now) : 0;
}

/* Drop the finished and cancelled queries from act, delivering results. */
static void
reap(struct lres *l)
{
	struct query *q;
	size_t i = 0;
	int gone;

	while (i < l->nact) {
		q = l->act[i];
		pthread_mutex_lock(&l->mu);
		gone = q->req == NULL;
		if (gone || q->finished) {
			l->act[i] = l->act[--l->nact];
			q->active = 0;
		}
		pthread_mutex_unlock(&l->mu);
		if (gone)
			query_free(q);
		else if (q->finished)
			deliver(l, q);
		else
			i++;
	}
}

static void *
loop(void *arg)
{
	struct lres *l = arg;
	struct query **fresh, *q, *late;
	size_t nfresh, i, n;
	char drain[64];
	int stop, waiting;

	fresh = calloc(l->max_act, sizeof(*fresh));
	for (;;) {
		nfresh = 0;
		pthread_mutex_lock(&l->mu);
		stop = l->stop;
		if (fresh != NULL)
			admit(l, fresh, &nfresh);
		read_live(l);
		late = expire_waiting(l);
		waiting = l->wait_head != NULL;
		pthread_mutex_unlock(&l->mu);
		while ((q = late) != NULL) {
			late = q->next;
			finish(q, AM_DNS_TEMPFAIL);
			deliver(l, q);
		}
		for (i = 0; i < nfresh; i++)
			query_start(l, fresh[i]);
		if (stop) {
			for (i = 0; i < l->nact; i++) {
				am_buf_setf(&l->act[i]->fails,
				    "resolver shut down");
				finish(l->act[i], AM_DNS_TEMPFAIL);
			}
			reap(l);
			pthread_mutex_lock(&l->mu);
			q = l->wait_head;
			pthread_mutex_unlock(&l->mu);
			if (q == NULL)
				break;
			continue;
		}
		reap(l);
		l->pfd[0].fd = l->wake[0];
		l->pfd[0].events = POLLIN;
		for (i = 0, n = 1; i < l->nact; i++) {
			l->pfd[n].fd = l->act[i]->fd;
			l->pfd[n].events = query_events(l->act[i]);
			l->pfd[n].revents = 0;
			l->pidx[n++] = i;
		}
		if (poll(l->pfd, n, next_wake(l, waiting)) < 0 && errno != EINTR)
			usleep(1000);
		if (l->pfd[0].revents & POLLIN)
			while (read(l->wake[0], drain, sizeof(drain)) > 0)
				;
		for (i = 1; i < n; i++) {
			q = l->act[l->pidx[i]];
			if (!q->finished)
				query_step(l, q, l->pfd[i].revents);
		}
		reap(l);
	}
	free(fresh);
	return NULL;
}

/* Wake the loop (a query came or went). */
static void
wake(struct lres *l)
{
	char c = 1;

	if (l->wake[1] >= 0)
		(void)write(l->wake[1], &c, 1);
}

/* Under the lock: the loop thread, started at the first query (so that a
 * daemon that forks after reading its configuration still has it). */
static int
loop_start(struct lres *l)
{
	sigset_t all, old;
	int r;

	if (l->running)
		return 0;
	if (pipe2(l->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
		l->wake[0] = l->wake[1] = -1;
		return -1;
	}
	/* as the pool's threads: signals are the daemon's business */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&l->thread, NULL, loop, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		close(l->wake[0]);
		close(l->wake[1]);
		l->wake[0] = l->wake[1] = -1;
		return -1;
	}
	l->running = 1;
	return 0;
}

static int
lres_submit(void *state, const char *name, int type,
    const struct am_dns_ctl *ctl, struct am_dns_req *r)
{
	struct lres *l = state;
	unsigned char wire[AM_DNS_WIRE_MAX];
	struct query *q;
	size_t n;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return -1;
	q->fd = -1;
	q->type = type;
	q->live = ctl->live;
	q->has_live = ctl->live != NULL;
	q->caller = ctl->deadline;
	q->end = now_ms() + (uint64_t)l->nsrv * l->tries * l->timeout_ms;
	if (ctl->deadline != 0)
		q->end = min_u64(q->end, ctl->deadline);
	am_buf_init(&q->fails, 256);
	if ((n = am_dns_name_wire(name, wire)) == 0 ||
	    (q->qname = ldns_dname_new_frm_data((uint16_t)n, wire)) == NULL) {
		query_free(q);
		return -1;
	}
	pthread_mutex_lock(&l->mu);
	if (l->stop || loop_start(l) != 0) {
		pthread_mutex_unlock(&l->mu);
		query_free(q);
		return -1;
	}
	q->req = r;
	r->link = q;
	if (l->wait_tail != NULL)
		l->wait_tail->next = q;
	else
		l->wait_head = q;
	l->wait_tail = q;
	pthread_mutex_unlock(&l->mu);
	wake(l);
	return 0;
}

static void
lres_cancel(void *state, struct am_dns_req *r)
{
	struct lres *l = state;
	struct query *q, **pp, *drop = NULL;

	pthread_mutex_lock(&l->mu);
	if ((q = r->link) != NULL) {
		r->link = NULL;
		q->req = NULL;
		q->live = NULL;
		if (!q->active) {
			/* not started: no socket yet, nobody else has it */
			for (pp = &l->wait_head; *pp != NULL; pp = &(*pp)->next)
				if (*pp == q) {
					*pp = q->next;
					break;
				}
			l->wait_tail = NULL;
			for (pp = &l->wait_head; *pp != NULL; pp = &(*pp)->next)
				l->wait_tail = *pp;
			drop = q;
		}
	}
	while (l->calling == r)
		pthread_cond_wait(&l->cv, &l->mu);
	pthread_mutex_unlock(&l->mu);
	if (drop != NULL)
		query_free(drop);
	else
		wake(l);
}

/* The blocking query of a thread: its own request, awaited. */
struct sync_wait {
	struct lres *l;
	int done;                 /* under l->mu */
};

static void
sync_done(struct am_dns_req *r)
{
	struct sync_wait *w = r->arg;
	struct lres *l = w->l;

	pthread_mutex_lock(&l->mu);
	w->done = 1;
	pthread_cond_broadcast(&l->scv);
	pthread_mutex_unlock(&l->mu);
}

static enum am_dns_status
lres_query_ctl(void *state, const char *name, int type,
    struct am_dns_ctl *ctl, struct am_dns_answer **ans, struct am_buf *why)
{
	struct lres *l = state;
	struct sync_wait w = { l, 0 };
	struct am_dns_req r;

	memset(&r, 0, sizeof(r));
	r.done = sync_done;
	r.arg = &w;
	if (lres_submit(l, name, type, ctl, &r) != 0) {
		am_buf_setf(why, "cannot start the query");
		return AM_DNS_TEMPFAIL;
	}
	/* the loop answers every query by its deadline, at the latest */
	pthread_mutex_lock(&l->mu);
	while (!w.done)
		pthread_cond_wait(&l->scv, &l->mu);
	pthread_mutex_unlock(&l->mu);
	*ans = r.ans;
	ctl->timed_out = r.timed_out;
	if (r.status == AM_DNS_TEMPFAIL)
		am_buf_setf(why, "%s", r.why);
	return r.status;
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
	int running;

	if (l == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = 1;
	running = l->running;
	pthread_mutex_unlock(&l->mu);
	if (running) {
		wake(l);
		pthread_join(l->thread, NULL);
		close(l->wake[0]);
		close(l->wake[1]);
	}
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	pthread_cond_destroy(&l->scv);
	free(l->act);
	free(l->pfd);
	free(l->pidx);
	free(l->rbuf);
	free(l->srv);
	free(l);
}

static const struct am_dns_backend lres_backend = {
	.name = "ldns",
	.query = lres_query,
	.close = lres_close,
	.query_ctl = lres_query_ctl,
	.submit = lres_submit,
	.cancel = lres_cancel,
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
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	pthread_cond_init(&l->scv, NULL);
	l->wake[0] = l->wake[1] = -1;
	timing_from_opts(l, o);
	l->max_act = o != NULL && o->max_inflight ? o->max_inflight :
	    INFLIGHT_DEFAULT;
	if (l->max_act > INFLIGHT_MAX)
		l->max_act = INFLIGHT_MAX;
	if ((l->act = calloc(l->max_act, sizeof(*l->act))) == NULL ||
	    (l->pfd = calloc(l->max_act + 1, sizeof(*l->pfd))) == NULL ||
	    (l->pidx = calloc(l->max_act + 1, sizeof(*l->pidx))) == NULL ||
	    (l->rbuf = malloc(MSG_MAX)) == NULL) {
		lres_close(l);
		return NULL;
	}
	if (servers_from_opts(l, o, why) != 0) {
		lres_close(l);
		return NULL;
	}
	if ((d = am_dns_new(&lres_backend, l)) == NULL)
		lres_close(l);
	return d;
}
