/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for the resolver back end (lib/dns_ldns.c): raw DNS
 * reply bytes, as a hostile server would send them, go through ldns's
 * packet parser and our conversion into a struct am_dns_answer (reply
 * matching, CNAME chains, RCODEs, negative TTLs from the SOA, the record
 * and TXT caps, names with odd labels). The back end is the real one,
 * asking a server on 127.0.0.1 that this target runs in a thread: it
 * answers every UDP query, and every TCP query after a truncated reply,
 * with the input.
 *
 * Input: the first byte picks the type asked (bits 1-3) and how the reply
 * is made (bit 0): 1 = the input's 12-byte header with the query's ID and
 * QDCOUNT 1, QR set and opcode QUERY, then the query's question, then the
 * rest of the input (the answer, authority and additional sections); 0 =
 * the input as it is, with only the query's ID written over its first two
 * bytes. Each reply is followed by a matching NXDOMAIN, which the back end
 * reads only when it ignored the first (unparsable, or not an answer to
 * its query: RFC 5452). Run by run_fuzz.sh.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define QNAME "x.fuzz.example"
#define REPLY_MAX 65535

static const int types[8] = {
	AM_DNS_T_A, AM_DNS_T_AAAA, AM_DNS_T_TXT, AM_DNS_T_MX,
	AM_DNS_T_PTR, AM_DNS_T_CNAME, 2 /* NS */, 99 /* SPF */,
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint8_t input[REPLY_MAX];
static size_t input_len;
static int udp_fd = -1, tcp_fd = -1;
static struct am_dns *dns;

/* Length of the question section of query q (after the header), or 0. */
static size_t
question_len(const uint8_t *q, size_t n)
{
	size_t i = 12;

	while (i < n && q[i] != 0)
		i += (size_t)q[i] + 1;
	return i + 5 <= n ? i + 5 - 12 : 0;
}

/* The reply to query q[0..qn) into out; returns its length. */
static size_t
make_reply(const uint8_t *q, size_t qn, uint8_t *out)
{
	size_t n, ql;

	pthread_mutex_lock(&mu);
	n = input_len;
	if (n > 0 && (input[0] & 1) && n >= 13 &&
	    (ql = question_len(q, qn)) > 0 && n - 13 + 12 + ql <= REPLY_MAX) {
		memcpy(out, input + 1, 12);
		out[2] = (uint8_t)((out[2] | 0x80) & ~0x78); /* QR, QUERY */
		out[4] = 0;
		out[5] = 1;
		memcpy(out + 12, q + 12, ql);
		memcpy(out + 12 + ql, input + 13, n - 13);
		n = n - 13 + 12 + ql;
	} else if (n > 0) {
		memcpy(out, input + 1, --n);
	}
	pthread_mutex_unlock(&mu);
	if (n >= 2 && qn >= 2)
		memcpy(out, q, 2);
	return n;
}

/*
 * After each reply, which the back end ignores when it does not parse or
 * does not match its query (RFC 5452), a plain NXDOMAIN that does, so that
 * it need not wait for its timeout: the query's header and question with QR and
 * RCODE 3 set and no other records. Its length, or 0.
 */
static size_t
make_fallback(const uint8_t *q, size_t qn, uint8_t *out)
{
	size_t ql;

	if ((ql = question_len(q, qn)) == 0)
		return 0;
	memcpy(out, q, 12 + ql);
	out[2] = (uint8_t)((q[2] & 0x79) | 0x80);
	out[3] = 0x83;
	memset(out + 6, 0, 6);
	return 12 + ql;
}

/* Read exactly n bytes from a TCP peer; 0 or -1. */
static int
read_full(int fd, uint8_t *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		if ((r = read(fd, p, n)) <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void
serve_tcp(uint8_t *q, uint8_t *out)
{
	struct timeval tv = { 1, 0 };
	size_t qn, n;
	int fd;

	if ((fd = accept(tcp_fd, NULL, NULL)) < 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (read_full(fd, q, 2) == 0 &&
	    read_full(fd, q, qn = (size_t)q[0] << 8 | q[1]) == 0) {
		n = make_reply(q, qn, out + 2);
		out[0] = (uint8_t)(n >> 8);
		out[1] = (uint8_t)n;
		(void)!write(fd, out, n + 2);
		if ((n = make_fallback(q, qn, out + 2)) > 0) {
			out[0] = (uint8_t)(n >> 8);
			out[1] = (uint8_t)n;
			(void)!write(fd, out, n + 2);
		}
	}
	close(fd);
}

static void *
server(void *arg)
{
	static uint8_t q[REPLY_MAX], out[REPLY_MAX + 2];
	struct pollfd pfd[2] = { { udp_fd, POLLIN, 0 }, { tcp_fd, POLLIN, 0 } };
	struct sockaddr_storage from;
	socklen_t fl;
	ssize_t qn;
	size_t n;

	(void)arg;
	for (;;) {
		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			fl = sizeof(from);
			qn = recvfrom(udp_fd, q, sizeof(q), 0,
			    (struct sockaddr *)&from, &fl);
			if (qn > 0 && (n = make_reply(q, (size_t)qn, out)) > 0)
				(void)sendto(udp_fd, out, n, 0,
				    (struct sockaddr *)&from, fl);
			if (qn > 0 && (n = make_fallback(q, (size_t)qn,
			    out)) > 0)
				(void)sendto(udp_fd, out, n, 0,
				    (struct sockaddr *)&from, fl);
		}
		if (pfd[1].revents & POLLIN)
			serve_tcp(q, out);
	}
	return NULL;
}

/* UDP and TCP sockets on one free port of 127.0.0.1; the port or 0. */
static unsigned
listen_both(void)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int tries, one = 1;

	for (tries = 0; tries < 20; tries++) {
		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		udp_fd = socket(AF_INET, SOCK_DGRAM, 0);
		tcp_fd = socket(AF_INET, SOCK_STREAM, 0);
		(void)setsockopt(tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
		if (bind(udp_fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		    getsockname(udp_fd, (struct sockaddr *)&a, &al) == 0 &&
		    bind(tcp_fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		    listen(tcp_fd, 8) == 0)
			return ntohs(a.sin_port);
		close(udp_fd);
		close(tcp_fd);
	}
	return 0;
}

static void
setup(void)
{
	static char spec[64];
	static const char *servers[1] = { spec };
	struct am_dns_ldns_opts o;
	struct am_buf why = AM_BUF_INIT(256);
	pthread_t t;
	unsigned port;

	if ((port = listen_both()) == 0 ||
	    pthread_create(&t, NULL, server, NULL) != 0)
		abort();
	snprintf(spec, sizeof(spec), "127.0.0.1@%u", port);
	memset(&o, 0, sizeof(o));
	o.servers = servers;
	o.nservers = 1;
	o.timeout_ms = 200;
	o.retries = 1;
	if ((dns = am_dns_ldns_new(&o, &why)) == NULL) {
		fprintf(stderr, "fuzz_dns: %s\n", am_buf_str(&why));
		abort();
	}
	am_buf_release(&why);
}

/* Every record of a usable answer is well formed. */
static void
check_answer(const struct am_dns_answer *a, enum am_dns_status st, int type)
{
	size_t i;

	if (a->status != st || a->type != type ||
	    (st == AM_DNS_OK && a->count == 0) ||
	    (st != AM_DNS_OK && a->count != 0))
		__builtin_trap();
	for (i = 0; i < a->count; i++) {
		if (a->rr[i].type != type)
			__builtin_trap();
		if (a->rr[i].text != NULL &&
		    a->rr[i].text[a->rr[i].textlen] != '\0')
			__builtin_trap();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct am_buf why = AM_BUF_INIT(256);
	struct am_dns_answer *ans = NULL;
	enum am_dns_status st;
	int type;

	if (size == 0 || size > REPLY_MAX)
		return 0;
	if (dns == NULL)
		setup();
	pthread_mutex_lock(&mu);
	memcpy(input, data, size);
	input_len = size;
	pthread_mutex_unlock(&mu);
	type = types[(data[0] >> 1) & 7];
	st = am_dns_query(dns, QNAME, type, &ans, &why);
	if (ans != NULL)
		check_answer(ans, st, type);
	else if (st != AM_DNS_TEMPFAIL)
		__builtin_trap();
	am_dns_answer_free(ans);
	am_buf_release(&why);
	return 0;
}
