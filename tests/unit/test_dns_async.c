/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_dns_async: the resolver's one loop thread (lib/dns_ldns.c) under
 * concurrency, against a fake server on loopback that holds its answers
 * and counts the queries it holds at once (issue 12: "concurrency not
 * bounded by a thread count").
 *
 * - 64 prefetch hints of 4 messages, a pool of 2 threads: every one is in
 *   flight at the same time (the server saw 64 at once), where a pool
 *   thread per round trip gave 2;
 * - the cap on queries on the wire (max_inflight 4): the server never
 *   holds more than 4, and all 16 are answered;
 * - a TCP answer trickled a byte at a time does not hold up a UDP answer
 *   to another name: the loop never blocks on one socket;
 * - two callers of the shared cache asking one name at once: one query;
 * - a caller whose deadline passes leaves the query (the last one cancels
 *   it), and a message freed with hints in flight withdraws them, with a
 *   server that never answers.
 *
 * The assertions are on what the server saw and on the order of events,
 * never on elapsed time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "dns.h"
#include "jobs.h"
#include "stats.h"

#define HELD_MAX 256

/* A query held by the server. */
struct held {
	struct sockaddr_storage from;
	socklen_t flen;
	unsigned char buf[512];
	size_t n;
};

struct hold {
	int s, ls;                /* UDP, TCP listener (same port) */
	char spec[64];
	size_t release_at;        /* answer all once this many are held */
	unsigned hold_ms;         /* ... or when the first waited this long */
	int stop;                 /* atomic */
	pthread_t tu, tt;
	/* written by the server threads, read after they stop or atomically */
	size_t peak;              /* most queries held at once */
	size_t answered;
	size_t tcp_accepted;      /* atomic */
	size_t names_asked;       /* queries of "same.fake.test" */
	struct held q[HELD_MAX];
	size_t nq;
};

static uint64_t
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The reply to query buf: TC over UDP for "tc." names, else an A or TXT. */
static uint8_t *
reply(const unsigned char *buf, size_t n, int tcp, size_t *wlen)
{
	ldns_pkt *q, *r;
	ldns_rr *qrr, *rr = NULL;
	uint8_t *wire = NULL;
	char *owner;
	char line[300];
	int tc;

	if (ldns_wire2pkt(&q, buf, n) != LDNS_STATUS_OK)
		return NULL;
	qrr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	owner = ldns_rdf2str(ldns_rr_owner(qrr));
	tc = !tcp && strncmp(owner, "tc.", 3) == 0;
	r = ldns_pkt_new();
	ldns_pkt_set_id(r, ldns_pkt_id(q));
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_rd(r, ldns_pkt_rd(q));
	ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, ldns_rr_clone(qrr));
	if (tc)
		ldns_pkt_set_tc(r, true);
	else {
		if (ldns_rr_get_type(qrr) == LDNS_RR_TYPE_TXT)
			snprintf(line, sizeof(line), "%s 60 IN TXT \"v=spf1 "
			    "-all, answered slowly by TCP\"", owner);
		else
			snprintf(line, sizeof(line), "%s 60 IN A 192.0.2.1",
			    owner);
		if (ldns_rr_new_frm_str(&rr, line, 60, NULL, NULL) ==
		    LDNS_STATUS_OK)
			ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, rr);
	}
	if (ldns_pkt2wire(&wire, r, wlen) != LDNS_STATUS_OK)
		wire = NULL;
	free(owner);
	ldns_pkt_free(q);
	ldns_pkt_free(r);
	return wire;
}

static void
answer_all(struct hold *h)
{
	uint8_t *wire;
	size_t i, wlen;

	for (i = 0; i < h->nq; i++) {
		if ((wire = reply(h->q[i].buf, h->q[i].n, 0, &wlen)) == NULL)
			continue;
		sendto(h->s, wire, wlen, 0, (struct sockaddr *)&h->q[i].from,
		    h->q[i].flen);
		free(wire);
		__atomic_add_fetch(&h->answered, 1, __ATOMIC_RELEASE);
	}
	h->nq = 0;
}

/* UDP: hold each query until release_at are held or the first is
 * hold_ms old; then answer them all. */
static void *
udp_run(void *arg)
{
	struct hold *h = arg;
	struct pollfd pfd = { .fd = h->s, .events = POLLIN };
	uint64_t first = 0;
	struct held *x;
	ssize_t n;

	while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) {
		if (poll(&pfd, 1, 10) > 0 && h->nq < HELD_MAX) {
			x = &h->q[h->nq];
			x->flen = sizeof(x->from);
			n = recvfrom(h->s, x->buf, sizeof(x->buf), 0,
			    (struct sockaddr *)&x->from, &x->flen);
			if (n > 0) {
				x->n = (size_t)n;
				if (memmem(x->buf, x->n, "\4same\4fake", 10))
					__atomic_add_fetch(&h->names_asked, 1,
					    __ATOMIC_RELEASE);
				if (h->nq++ == 0)
					first = ms_now();
				if (h->nq > __atomic_load_n(&h->peak,
				    __ATOMIC_ACQUIRE))
					__atomic_store_n(&h->peak, h->nq,
					    __ATOMIC_RELEASE);
			}
		}
		if (h->nq > 0 && (h->nq >= h->release_at ||
		    ms_now() - first >= h->hold_ms))
			answer_all(h);
	}
	return NULL;
}

/* TCP: read one framed query, send the answer one byte per 100 ms. */
static void *
tcp_run(void *arg)
{
	struct hold *h = arg;
	struct pollfd pfd = { .fd = h->ls, .events = POLLIN };
	struct timeval tv = { 1, 0 };
	unsigned char len[2], buf[512], *all;
	uint8_t *wire;
	size_t n, wlen, i;
	int c;

	while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) {
		if (poll(&pfd, 1, 20) <= 0 || (c = accept(h->ls, NULL,
		    NULL)) < 0)
			continue;
		__atomic_add_fetch(&h->tcp_accepted, 1, __ATOMIC_RELEASE);
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (recv(c, len, 2, MSG_WAITALL) == 2 &&
		    (n = (size_t)(len[0] << 8 | len[1])) <= sizeof(buf) &&
		    recv(c, buf, n, MSG_WAITALL) == (ssize_t)n &&
		    (wire = reply(buf, n, 1, &wlen)) != NULL) {
			all = malloc(wlen + 2);
			all[0] = (unsigned char)(wlen >> 8);
			all[1] = (unsigned char)wlen;
			memcpy(all + 2, wire, wlen);
			/* bounded: stops when told to or the client leaves */
			for (i = 0; i < wlen + 2; i++) {
				if (__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)
				    || send(c, all + i, 1, MSG_NOSIGNAL) != 1)
					break;
				usleep(100000);
			}
			free(all);
			free(wire);
		}
		close(c);
	}
	return NULL;
}

static void
hold_start(struct hold *h, size_t release_at, unsigned hold_ms)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	int try, one = 1;

	memset(h, 0, sizeof(*h));
	h->release_at = release_at;
	h->hold_ms = hold_ms;
	for (try = 0; try < 10; try++) {
		assert_true((h->s = socket(AF_INET, SOCK_DGRAM, 0)) >= 0);
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(h->s, (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
		assert_int_equal(getsockname(h->s, (struct sockaddr *)&sin,
		    &slen), 0);
		h->ls = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(h->ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(h->ls, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		    listen(h->ls, 8) == 0)
			break;
		close(h->ls);
		close(h->s);
	}
	assert_true(try < 10);
	snprintf(h->spec, sizeof(h->spec), "127.0.0.1@%u",
	    ntohs(sin.sin_port));
	assert_int_equal(pthread_create(&h->tu, NULL, udp_run, h), 0);
	assert_int_equal(pthread_create(&h->tt, NULL, tcp_run, h), 0);
}

static void
hold_stop(struct hold *h)
{
	__atomic_store_n(&h->stop, 1, __ATOMIC_RELEASE);
	pthread_join(h->tu, NULL);
	pthread_join(h->tt, NULL);
	close(h->s);
	close(h->ls);
}

/* The resolver alone, asking h only. */
static struct am_dns *
resolver_open(struct hold *h, unsigned max_inflight, unsigned timeout_ms)
{
	const char *sv[1] = { h->spec };
	struct am_dns_ldns_opts o = { .servers = sv, .nservers = 1,
	    .timeout_ms = timeout_ms, .retries = 1,
	    .max_inflight = max_inflight };
	struct am_buf why = AM_BUF_INIT(256);
	struct am_dns *d;

	d = am_dns_ldns_new(&o, &why);
	am_buf_release(&why);
	assert_non_null(d);
	return d;
}

/* A cache over the resolver, asking h only. */
static struct am_dns *
stack_open(struct hold *h, unsigned max_inflight, unsigned timeout_ms)
{
	struct am_dns *d;

	assert_non_null(d = am_dns_cache_new(resolver_open(h, max_inflight,
	    timeout_ms), 1000, 3600));
	return d;
}

/* Hint n names of each of nm messages, then ask each: all OK. */
static void
hint_and_ask(struct am_dns *shared, struct am_jobs *pool, size_t nm,
    size_t n)
{
	struct am_dns *m[8];
	struct am_dns_answer *a;
	char name[64];
	size_t i, k;

	assert_true(nm <= 8);
	for (k = 0; k < nm; k++) {
		assert_non_null(m[k] = am_dns_msg_new(shared));
		am_dns_msg_set_jobs(m[k], pool);
		for (i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "n%zu.m%zu.fake.test", i,
			    k);
			am_dns_prefetch(m[k], name, AM_DNS_T_A, 0);
		}
	}
	for (k = 0; k < nm; k++) {
		for (i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "n%zu.m%zu.fake.test", i,
			    k);
			a = NULL;
			assert_int_equal(am_dns_query(m[k], name, AM_DNS_T_A,
			    &a, NULL), AM_DNS_OK);
			am_dns_answer_free(a);
		}
		am_dns_free(m[k]);
	}
}

/*
 * 64 lookups hinted by 4 messages with a pool of 2 threads: the server
 * holds every query until it has 64 (or one waited 1 s) and must have
 * seen all 64 at once. A pool thread per round trip shows 2 here.
 */
static void
test_async_64_in_flight(void **state)
{
	struct am_jobs *pool;
	struct am_dns *d;
	struct hold h;

	(void)state;
	hold_start(&h, 64, 1000);
	assert_non_null(pool = am_jobs_new(2));
	d = stack_open(&h, 0, 30000);
	hint_and_ask(d, pool, 4, 16);
	am_dns_free(d);
	am_jobs_free(pool);
	hold_stop(&h);
	print_message("64 hints, pool of 2: at most %zu queries held at once "
	    "by the server, %zu answered\n", h.peak, h.answered);
	assert_int_equal(h.peak, 64);
	assert_int_equal(h.answered, 64);
}

/* max_inflight 4: the server never holds more than 4 of 16 queries. */
static void
test_async_cap(void **state)
{
	struct am_jobs *pool;
	struct am_dns *d;
	struct hold h;

	(void)state;
	hold_start(&h, 16, 200);
	assert_non_null(pool = am_jobs_new(2));
	d = stack_open(&h, 4, 30000);
	hint_and_ask(d, pool, 1, 16);
	am_dns_free(d);
	am_jobs_free(pool);
	hold_stop(&h);
	print_message("cap 4, 16 hints: at most %zu held at once, %zu "
	    "answered\n", h.peak, h.answered);
	assert_int_equal(h.peak, 4);
	assert_int_equal(h.answered, 16);
}

static void
note_done(struct am_dns_req *r)
{
	__atomic_store_n((int *)r->arg, 1, __ATOMIC_RELEASE);
	am_dns_answer_free(r->ans);
}

/*
 * A TCP answer trickled one byte per 100 ms (several seconds) is in
 * flight while another name is asked over UDP: the UDP answer comes
 * back first, with the TCP query still going.
 */
static void
test_async_slow_tcp(void **state)
{
	struct am_dns_answer *a = NULL;
	struct am_dns_req r;
	struct am_dns *d;
	struct hold h;
	int done = 0, i;

	(void)state;
	hold_start(&h, 1, 0);
	d = stack_open(&h, 0, 20000);
	memset(&r, 0, sizeof(r));
	r.done = note_done;
	r.arg = &done;
	assert_int_equal(am_dns_submit(d, "tc.fake.test", AM_DNS_T_TXT, NULL,
	    &r), 0);
	/* wait (bounded) until the slow answer has begun over TCP */
	for (i = 0; i < 500 && __atomic_load_n(&h.tcp_accepted,
	    __ATOMIC_ACQUIRE) == 0; i++)
		usleep(10000);
	assert_true(i < 500);
	assert_int_equal(am_dns_query(d, "fast.fake.test", AM_DNS_T_A, &a,
	    NULL), AM_DNS_OK);
	am_dns_answer_free(a);
	print_message("UDP answer in while the TCP one trickles: TCP done %d\n",
	    __atomic_load_n(&done, __ATOMIC_ACQUIRE));
	assert_int_equal(__atomic_load_n(&done, __ATOMIC_ACQUIRE), 0);
	am_dns_cancel(d, &r);
	am_dns_free(d);
	hold_stop(&h);
}

struct asker {
	struct am_dns *d;
	enum am_dns_status st;
};

static void *
ask_same(void *arg)
{
	struct asker *k = arg;
	struct am_dns_answer *a = NULL;

	k->st = am_dns_query(k->d, "same.fake.test", AM_DNS_T_A, &a, NULL);
	am_dns_answer_free(a);
	return NULL;
}

/* 8 threads ask one name of the shared cache at once: one query. */
static void
test_async_shared_query(void **state)
{
	struct asker k[8];
	pthread_t t[8];
	struct am_dns *d;
	struct hold h;
	size_t i;

	(void)state;
	/* held until all 8 could have asked: 1 s (the release is the
	 * server's; only the count is asserted) */
	hold_start(&h, 8, 1000);
	d = stack_open(&h, 0, 30000);
	am_stats_reset();
	for (i = 0; i < 8; i++) {
		k[i].d = d;
		assert_int_equal(pthread_create(&t[i], NULL, ask_same, &k[i]),
		    0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(k[i].st, AM_DNS_OK);
	}
	am_dns_free(d);
	hold_stop(&h);
	print_message("8 threads, one name: %zu queries\n", h.names_asked);
	assert_int_equal(h.names_asked, 1);
	/* the metrics add up: 8 lookups, 1 query, 7 joined it */
	assert_int_equal(am_stats_get(AM_STATS_DNS_LOOKUP), 8);
	assert_int_equal(am_stats_get(AM_STATS_DNS_QUERY), 1);
	assert_int_equal(am_stats_get(AM_STATS_DNS_SHARED), 7);
}

/*
 * A server that never answers (it holds every query for a minute): a
 * caller's deadline ends its wait ("lookup deadline passed") and, as the
 * last waiter, cancels the query; a message layer freed with 5 hints in
 * flight cancels them. Run under ASan/TSan this covers the cancel paths.
 */
static void
test_async_leave_and_cancel(void **state)
{
	struct am_buf why = AM_BUF_INIT(256);
	struct am_dns_answer *a = NULL;
	struct am_dns *d, *m;
	struct hold h;
	char name[64];
	size_t i;

	(void)state;
	hold_start(&h, HELD_MAX, 60000);
	d = stack_open(&h, 0, 30000);
	assert_int_equal(am_dns_query_until(d, "gone.fake.test", AM_DNS_T_A,
	    am_dns_clock(d) + 200, &a, &why), AM_DNS_TEMPFAIL);
	assert_string_equal(am_buf_str(&why), "lookup deadline passed");
	assert_non_null(m = am_dns_msg_new(d));
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "h%zu.fake.test", i);
		am_dns_prefetch(m, name, AM_DNS_T_TXT, AM_DNS_T_A);
	}
	/* bounded wait until the server holds the 5 hints too */
	for (i = 0; i < 500 && __atomic_load_n(&h.peak, __ATOMIC_ACQUIRE) < 6;
	    i++)
		usleep(10000);
	am_dns_free(m);
	am_dns_free(d);
	hold_stop(&h);
	print_message("silent server: %zu queries held, none answered\n",
	    h.peak);
	assert_int_equal(h.peak, 6);
	assert_int_equal(h.answered, 0);
	am_buf_release(&why);
}

/*
 * A query kept waiting by the cap (max_inflight 1, the one slot held by a
 * query the server never answers) still ends at its deadline: TEMPFAIL
 * while the other is in flight, and it never reached the server.
 */
static void
test_async_deadline_while_queued(void **state)
{
	struct am_buf why = AM_BUF_INIT(256);
	struct am_dns_answer *a = NULL;
	struct am_dns_req r;
	struct am_dns *d;
	struct hold h;
	int done = 0, i;

	(void)state;
	hold_start(&h, HELD_MAX, 60000);
	d = resolver_open(&h, 1, 30000);
	memset(&r, 0, sizeof(r));
	r.done = note_done;
	r.arg = &done;
	assert_int_equal(am_dns_submit(d, "slot.fake.test", AM_DNS_T_A, NULL,
	    &r), 0);
	for (i = 0; i < 500 && __atomic_load_n(&h.peak, __ATOMIC_ACQUIRE) < 1;
	    i++)
		usleep(10000);
	assert_int_equal(am_dns_query_until(d, "queued.fake.test", AM_DNS_T_A,
	    am_dns_clock(d) + 200, &a, &why), AM_DNS_TEMPFAIL);
	print_message("queued behind the cap: %s; the slot's query done %d\n",
	    am_buf_str(&why), __atomic_load_n(&done, __ATOMIC_ACQUIRE));
	assert_string_equal(am_buf_str(&why), "lookup deadline passed");
	assert_int_equal(__atomic_load_n(&done, __ATOMIC_ACQUIRE), 0);
	am_dns_cancel(d, &r);
	am_dns_free(d);
	hold_stop(&h);
	assert_int_equal(h.peak, 1);
	am_buf_release(&why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_async_64_in_flight),
		cmocka_unit_test(test_async_cap),
		cmocka_unit_test(test_async_slow_tcp),
		cmocka_unit_test(test_async_shared_query),
		cmocka_unit_test(test_async_leave_and_cancel),
		cmocka_unit_test(test_async_deadline_while_queued),
	};

	return cmocka_run_group_tests_name("dns_async", tests, NULL, NULL);
}
