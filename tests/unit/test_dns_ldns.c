/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_dns_ldns: the resolver back end (lib/dns_ldns.c) against real
 * servers on loopback.
 *
 * - nsd (started with tests/lib/nsd.sh) serving tests/unit/dns/: the case
 *   table of dns_util.c, REFUSED, IPv6, a timeout against a UDP socket that
 *   never answers, fail-over, TCP after a truncated UDP answer, 8 threads;
 * - a fake server in a thread that sends crafted replies: unrelated
 *   records, CNAME chains with extras, odd RCODEs, SOA negative TTLs,
 *   mismatched ids and questions, oversized answers.
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

#include "dns_util.h"

/* ---- the ldns back end, against nsd on loopback ---- */

struct nsdenv {
	char dir[64];
	int port;
	char live[64];          /* "127.0.0.1@PORT" */
};

static int
nsd_group_setup(void **state)
{
	struct nsdenv *e = calloc(1, sizeof(*e));
	char z1[1024], z2[1024], cmd[4096], line[64] = "";
	FILE *fp;

	strcpy(e->dir, "/tmp/am-test-dns-nsd-XXXXXX");
	if (mkdtemp(e->dir) == NULL)
		return -1;
	zpath(z1, sizeof(z1), "example.test.zone");
	zpath(z2, sizeof(z2), "2.0.192.in-addr.arpa.zone");
	/* if this test dies, nsd still goes away after NSD_LIFETIME seconds */
	snprintf(cmd, sizeof(cmd), "NSD_LIFETIME=300 bash -c "
	    "'. \"$0\" && nsd_start \"$1\" "
	    "\"$2\" \"$3\"' '%s/tests/lib/nsd.sh' '%s' '%s' '%s'", srcdir(),
	    e->dir, z1, z2);
	if ((fp = popen(cmd, "r")) == NULL)
		return -1;
	if (fgets(line, sizeof(line), fp) == NULL)
		line[0] = '\0';
	if (pclose(fp) != 0 || (e->port = atoi(line)) <= 0) {
		print_error("nsd did not start (is nsd installed?)\n");
		return -1;
	}
	snprintf(e->live, sizeof(e->live), "127.0.0.1@%d", e->port);
	print_message("nsd on port %d (%s)\n", e->port, e->dir);
	*state = e;
	return 0;
}

static int
nsd_group_teardown(void **state)
{
	struct nsdenv *e = *state;
	char cmd[4096];
	int rc;

	if (e == NULL)
		return 0;
	snprintf(cmd, sizeof(cmd), "bash -c '. \"$0\" && nsd_stop \"$1\"' "
	    "'%s/tests/lib/nsd.sh' '%s' && rm -rf '%s'", srcdir(), e->dir,
	    e->dir);
	rc = system(cmd);
	free(e);
	return rc == 0 ? 0 : -1;
}

static struct am_dns *
ldns_open(const char *const *servers, size_t n, unsigned timeout_ms,
    unsigned edns)
{
	struct am_dns_ldns_opts o = {
		.servers = servers, .nservers = n, .timeout_ms = timeout_ms,
		.retries = 1, .edns_size = edns,
	};
	struct am_buf why = AM_BUF_INIT(512);
	struct am_dns *d;

	if ((d = am_dns_ldns_new(&o, &why)) == NULL)
		print_error("am_dns_ldns_new: %s\n", am_buf_str(&why));
	am_buf_release(&why);
	assert_non_null(d);
	return d;
}

/* A UDP socket on loopback that nobody reads: queries to it time out. */
static int
dead_socket(char *spec, size_t n)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int s;

	assert_true((s = socket(AF_INET, SOCK_DGRAM, 0)) >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &len), 0);
	snprintf(spec, n, "127.0.0.1@%u", ntohs(sin.sin_port));
	return s;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
test_ldns_table(void **state)
{
	struct nsdenv *e = *state;
	const char *sv[1] = { e->live };
	struct am_dns *d = ldns_open(sv, 1, 2000, 0);

	assert_int_equal(run_table(d, NSD, "ldns+nsd"), 0);
	am_dns_free(d);
}

static void
test_ldns_refused_why(void **state)
{
	struct nsdenv *e = *state;
	const char *sv[1] = { e->live };
	struct am_dns *d = ldns_open(sv, 1, 2000, 0);
	struct am_buf why = AM_BUF_INIT(512), want = AM_BUF_INIT(128);
	struct am_dns_answer *a = NULL;

	am_buf_printf(&want, "REFUSED from %s", e->live);
	assert_int_equal(am_dns_query(d, "www.example.org", AM_DNS_T_TXT, &a,
	    &why), AM_DNS_TEMPFAIL);
	assert_null(a);
	assert_string_equal(am_buf_str(&why), am_buf_str(&want));
	am_buf_release(&why);
	am_buf_release(&want);
	am_dns_free(d);
}

static void
test_ldns_ipv6(void **state)
{
	struct nsdenv *e = *state;
	char spec[64];
	const char *sv[1] = { spec };
	struct am_dns *d;
	struct am_dns_answer *a;

	snprintf(spec, sizeof(spec), "[::1]@%d", e->port);
	d = ldns_open(sv, 1, 2000, 0);
	a = ask(d, "mx1.example.test", AM_DNS_T_A, AM_DNS_OK);
	assert_int_equal(a->rr[0].addr[3], 25);
	am_dns_answer_free(a);
	am_dns_free(d);
}

static void
test_ldns_timeout(void **state)
{
	char dead[64];
	const char *sv[1] = { dead };
	struct am_buf why = AM_BUF_INIT(512);
	struct am_dns_answer *a = NULL;
	struct am_dns *d;
	char buf[512];
	double t0, dt;
	int s;

	(void)state;
	s = dead_socket(dead, sizeof(dead));
	d = ldns_open(sv, 1, 300, 0);
	t0 = now_s();
	assert_int_equal(am_dns_query(d, "www.example.test", AM_DNS_T_A, &a,
	    &why), AM_DNS_TEMPFAIL);
	dt = now_s() - t0;
	print_message("timeout after %.3f s: %s\n", dt, am_buf_str(&why));
	assert_null(a);
	assert_true(dt >= 0.25 && dt < 1.5);
	assert_non_null(strstr(am_buf_str(&why), dead));
	/* the server is asked again next time (ldns alone would shun it) */
	while (recv(s, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		continue;
	assert_int_equal(am_dns_query(d, "www.example.test", AM_DNS_T_A, &a,
	    &why), AM_DNS_TEMPFAIL);
	assert_true(recv(s, buf, sizeof(buf), MSG_DONTWAIT) > 0);
	am_buf_release(&why);
	am_dns_free(d);
	close(s);
}

static void
test_ldns_failover(void **state)
{
	struct nsdenv *e = *state;
	char dead[64];
	const char *sv[2] = { dead, e->live };
	struct am_dns_answer *a;
	struct am_dns *d;
	int s;

	s = dead_socket(dead, sizeof(dead));
	d = ldns_open(sv, 2, 200, 0);
	a = ask(d, "example.test", AM_DNS_T_TXT, AM_DNS_OK);
	assert_int_equal(a->count, 1);
	am_dns_answer_free(a);
	am_dns_free(d);
	close(s);
}

/*
 * Without EDNS0 nsd must truncate the 2000-byte TXT over UDP. (The fake
 * server below proves the TCP path itself: its UDP answers are always
 * truncated.)
 */
static void
assert_udp_truncates(const struct nsdenv *e)
{
	ldns_resolver *r = ldns_resolver_new();
	ldns_rdf *ns = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, "127.0.0.1");
	ldns_rdf *q = ldns_dname_new_frm_str("big.example.test.");
	ldns_pkt *p = NULL;

	ldns_resolver_push_nameserver(r, ns);
	ldns_resolver_set_port(r, (uint16_t)e->port);
	ldns_resolver_set_fallback(r, false);
	ldns_resolver_set_igntc(r, true);
	ldns_resolver_set_usevc(r, false);
	ldns_resolver_set_edns_udp_size(r, 0);
	assert_int_equal(ldns_resolver_send(&p, r, q, LDNS_RR_TYPE_TXT,
	    LDNS_RR_CLASS_IN, LDNS_RD), LDNS_STATUS_OK);
	assert_non_null(p);
	assert_true(ldns_pkt_tc(p));
	ldns_pkt_free(p);
	ldns_rdf_deep_free(q);
	ldns_rdf_deep_free(ns);
	ldns_resolver_deep_free(r);
}

static void
test_ldns_tcp_fallback(void **state)
{
	struct nsdenv *e = *state;
	const char *sv[1] = { e->live };
	struct am_dns_answer *a;
	struct am_dns *d;

	assert_udp_truncates(e);
	/* no EDNS0: truncated, then ldns asks with EDNS0 4096 */
	d = ldns_open(sv, 1, 2000, AM_DNS_EDNS_OFF);
	a = ask(d, "big.example.test", AM_DNS_T_TXT, AM_DNS_OK);
	check_big_txt(a);
	am_dns_answer_free(a);
	am_dns_free(d);
	/* the default 1232-byte EDNS0 size: truncated, then TCP */
	d = ldns_open(sv, 1, 2000, 0);
	a = ask(d, "big.example.test", AM_DNS_T_TXT, AM_DNS_OK);
	check_big_txt(a);
	am_dns_answer_free(a);
	am_dns_free(d);
}

static void
test_ldns_server_specs(void **state)
{
	static const struct {
		const char *spec;
		int ok;
	} c[] = {
		{"127.0.0.1", 1}, {"::1", 1}, {"127.0.0.1@5353", 1},
		{"[::1]@5353", 1}, {"[::1]", 1}, {"::1@53", 1},
		{"[127.0.0.1]", 0}, {"[::1", 0}, {"1.2.3.4@0", 0},
		{"1.2.3.4@65536", 0}, {"1.2.3.4@", 0}, {"1.2.3.4@53x", 0},
		{"ns.example.test", 0}, {"", 0}, {"1.2.3.4.5", 0},
	};
	struct am_dns_ldns_opts o = { .nservers = 1 };
	struct am_buf why = AM_BUF_INIT(256);
	struct am_dns *d;
	size_t i;
	int bad = 0;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		o.servers = &c[i].spec;
		am_buf_reset(&why);
		d = am_dns_ldns_new(&o, &why);
		if ((d != NULL) != c[i].ok || (d == NULL && why.len == 0)) {
			print_error("FAIL server \"%s\": got %s (%s)\n",
			    c[i].spec, d ? "accepted" : "refused",
			    am_buf_str(&why));
			bad++;
		}
		am_dns_free(d);
	}
	am_buf_release(&why);
	assert_int_equal(bad, 0);
}

static void
test_ldns_threads(void **state)
{
	struct nsdenv *e = *state;
	const char *sv[1] = { e->live };
	struct am_dns *inner, *d;

	d = ldns_open(sv, 1, 2000, 0);
	run_threads(d, 100);
	am_dns_free(d);
	inner = ldns_open(sv, 1, 2000, 0);
	d = am_dns_cache_new(inner, 4, 3600);
	run_threads(d, 500);
	print_message("8 threads, cache of 4 over nsd: %lu of %lu sent\n",
	    inner->queries, d->queries);
	am_dns_free(d);
}

/* ---- a fake server with crafted replies ---- */

#define BAD_ID       1      /* reply with another id */
#define BAD_QUESTION 2      /* reply to another question */
#define MANY         4      /* 300 A records */
#define TC_UDP       8      /* over UDP: TC=1 and no records; TCP: all */
#define THEN_GOOD   16      /* the BAD_* reply first, then the right one */
#define MANY_TXT    32      /* 300 non-SPF TXT records besides an[] */
#define TRICKLE     64      /* TCP: the reply one byte per 100 ms */

struct fcase {
	const char *name;
	const char *qname;
	int type;
	int rcode;
	int flags;              /* BAD_*, MANY */
	const char *an[5];      /* answer section, master file lines */
	const char *ns[2];      /* authority section */
	enum am_dns_status st;
	const char *rrs;        /* rendered, sorted; NULL: any */
	long ttl;               /* -1: any */
	const char *why;        /* in the reason; "%s" is the server */
};

static const struct fcase fcases[] = {
	{"records of other owners ignored", "a.fake.test", AM_DNS_T_A, 0, 0,
	    {"a.fake.test. 60 IN A 192.0.2.1", "evil.test. 60 IN A 6.6.6.6",
	    "a.fake.test. 60 IN TXT \"x\"", "A.FAKE.test. 90 IN A 192.0.2.3"},
	    {NULL}, AM_DNS_OK, "192.0.2.1 | 192.0.2.3", 60, NULL},
	{"CNAME chain, data only at its end", "c.fake.test", AM_DNS_T_A, 0, 0,
	    {"c.fake.test. 100 IN CNAME t.fake.test.",
	    "c.fake.test. 60 IN A 6.6.6.6", "t.fake.test. 50 IN A 192.0.2.2",
	    "evil.test. 60 IN A 6.6.6.7"},
	    {NULL}, AM_DNS_OK, "192.0.2.2", 50, NULL},
	{"CNAME chain, TTL of the CNAME", "c.fake.test", AM_DNS_T_A, 0, 0,
	    {"c.fake.test. 20 IN CNAME t.fake.test.",
	    "t.fake.test. 50 IN A 192.0.2.2"},
	    {NULL}, AM_DNS_OK, "192.0.2.2", 20, NULL},
	{"CNAME without target data: NODATA", "c.fake.test", AM_DNS_T_A, 0,
	    0, {"c.fake.test. 100 IN CNAME t.fake.test."}, {NULL},
	    AM_DNS_NODATA, "", 100, NULL},
	{"CNAME loop in the answer", "c.fake.test", AM_DNS_T_A, 0, 0,
	    {"c.fake.test. 100 IN CNAME t.fake.test.",
	    "t.fake.test. 100 IN CNAME c.fake.test."}, {NULL},
	    AM_DNS_TEMPFAIL, NULL, -1, "CNAME chain too long from %s"},
	{"SERVFAIL", "a.fake.test", AM_DNS_T_TXT, 2, 0, {NULL}, {NULL},
	    AM_DNS_TEMPFAIL, NULL, -1, "SERVFAIL from %s"},
	{"YXDOMAIN", "a.fake.test", AM_DNS_T_TXT, 6, 0, {NULL}, {NULL},
	    AM_DNS_TEMPFAIL, NULL, -1, "YXDOMAIN from %s"},
	{"NXDOMAIN: SOA TTL below MINIMUM", "n.fake.test", AM_DNS_T_TXT, 3,
	    0, {NULL}, {"fake.test. 30 IN SOA ns h 1 2 3 4 600"},
	    AM_DNS_NXDOMAIN, "", 30, NULL},
	{"NODATA: MINIMUM below SOA TTL", "a.fake.test", AM_DNS_T_MX, 0, 0,
	    {NULL}, {"fake.test. 900 IN SOA ns h 1 2 3 4 45"},
	    AM_DNS_NODATA, "", 45, NULL},
	{"NODATA without SOA: 300", "a.fake.test", AM_DNS_T_MX, 0, 0,
	    {NULL}, {NULL}, AM_DNS_NODATA, "", 300, NULL},
	{"NODATA: only other types", "a.fake.test", AM_DNS_T_AAAA, 0, 0,
	    {"a.fake.test. 60 IN A 192.0.2.1"}, {NULL}, AM_DNS_NODATA, "",
	    300, NULL},
	/* RFC 5452: a reply that does not match is ignored, not an error */
	{"only a reply with another id: ignored, then no answer",
	    "a.fake.test", AM_DNS_T_A, 0, BAD_ID,
	    {"a.fake.test. 60 IN A 192.0.2.1"}, {NULL}, AM_DNS_TEMPFAIL, NULL,
	    -1, "no answer from %s (1 replies that did not match"},
	{"only a reply to another question: ignored", "a.fake.test",
	    AM_DNS_T_A, 0, BAD_QUESTION, {"a.fake.test. 60 IN A 192.0.2.1"},
	    {NULL}, AM_DNS_TEMPFAIL, NULL, -1, "did not match"},
	{"wrong id first, then the right reply", "a.fake.test", AM_DNS_T_A,
	    0, BAD_ID | THEN_GOOD, {"a.fake.test. 60 IN A 192.0.2.1"}, {NULL},
	    AM_DNS_OK, "192.0.2.1", 60, NULL},
	{"other question first, then the right reply", "a.fake.test",
	    AM_DNS_T_A, 0, BAD_QUESTION | THEN_GOOD,
	    {"a.fake.test. 60 IN A 192.0.2.1"}, {NULL}, AM_DNS_OK,
	    "192.0.2.1", 60, NULL},
	{"wrong id first over TCP, then the right reply", "a.fake.test",
	    AM_DNS_T_TXT, 0, TC_UDP | BAD_ID | THEN_GOOD,
	    {"a.fake.test. 60 IN TXT \"over tcp\""}, {NULL}, AM_DNS_OK,
	    "over tcp", 60, NULL},
	/* the message size bounds the count; no smaller cap (item 16) */
	{"300 records: all of them", "m.fake.test", AM_DNS_T_A, 0, MANY,
	    {NULL}, {NULL}, AM_DNS_OK, NULL, 60, NULL},
	{"300 TXT records and one SPF record", "m.fake.test", AM_DNS_T_TXT,
	    0, MANY_TXT, {"m.fake.test. 60 IN TXT \"v=spf1 -all\""}, {NULL},
	    AM_DNS_OK, NULL, 60, NULL},
	{"MX target with a dot in a label skipped", "a.fake.test",
	    AM_DNS_T_MX, 0, 0, {"a.fake.test. 60 IN MX 10 b\\.ad.test.",
	    "a.fake.test. 60 IN MX 20 Good.Test."}, {NULL}, AM_DNS_OK,
	    "20 good.test", 60, NULL},
	{"TXT: several strings, one record each", "a.fake.test",
	    AM_DNS_T_TXT, 0, 0, {"a.fake.test. 60 IN TXT \"v=spf1\" \" -all\"",
	    "a.fake.test. 60 IN TXT \"\""}, {NULL}, AM_DNS_OK,
	    " | v=spf1 -all", 60, NULL},
	{"truncated over UDP: the answer comes by TCP", "a.fake.test",
	    AM_DNS_T_TXT, 0, TC_UDP, {"a.fake.test. 60 IN TXT \"over tcp\""},
	    {NULL}, AM_DNS_OK, "over tcp", 60, NULL},
	{"truncated NXDOMAIN: the TCP answer", "n.fake.test", AM_DNS_T_A, 3,
	    TC_UDP, {NULL}, {"fake.test. 30 IN SOA ns h 1 2 3 4 600"},
	    AM_DNS_NXDOMAIN, "", 30, NULL},
	/* keep last: test_ldns_tcp_trickle runs it alone */
	{"TCP reply trickled one byte per 100 ms: cut at the deadline",
	    "a.fake.test", AM_DNS_T_TXT, 0, TC_UDP | TRICKLE,
	    {"a.fake.test. 60 IN TXT \"slowly, very slowly\""}, {NULL},
	    AM_DNS_TEMPFAIL, NULL, -1, "no answer from %s"},
};
#define NFCASES (sizeof(fcases) / sizeof(fcases[0]))

struct fake {
	int s;                  /* UDP */
	int ls;                 /* TCP, listening on the same port */
	char spec[64];
	size_t cur;             /* index into fcases, atomic */
	int stop;               /* atomic */
	pthread_t t;
};

static void
push(ldns_pkt *p, ldns_pkt_section sec, const char *line)
{
	ldns_rr *rr = NULL;

	if (ldns_rr_new_frm_str(&rr, line, 3600, NULL, NULL) != LDNS_STATUS_OK)
		fail_msg("fake server: cannot parse \"%s\"", line);
	ldns_pkt_push_rr(p, sec, rr);
}

/* The crafted reply to q for case c. */
static ldns_pkt *
fake_reply(const ldns_pkt *q, const struct fcase *c, int tcp, int bad)
{
	ldns_pkt *r = ldns_pkt_new();
	ldns_rr *qrr;
	char line[128];
	size_t i;

	ldns_pkt_set_id(r, ldns_pkt_id(q) + ((bad & BAD_ID) ? 1 : 0));
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_aa(r, true);
	ldns_pkt_set_rd(r, ldns_pkt_rd(q));
	ldns_pkt_set_rcode(r, (uint8_t)c->rcode);
	if (bad & BAD_QUESTION)
		ldns_rr_new_question_frm_str(&qrr, "other.test. IN A", NULL,
		    NULL);
	else
		qrr = ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(q), 0));
	ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, qrr);
	if ((c->flags & TC_UDP) && !tcp) {
		ldns_pkt_set_tc(r, true);
		return r;
	}
	for (i = 0; i < 5 && c->an[i] != NULL; i++)
		push(r, LDNS_SECTION_ANSWER, c->an[i]);
	for (i = 0; i < 2 && c->ns[i] != NULL; i++)
		push(r, LDNS_SECTION_AUTHORITY, c->ns[i]);
	for (i = 0; (c->flags & MANY) && i < 300; i++) {
		snprintf(line, sizeof(line), "m.fake.test. 60 IN A 10.0.%zu.%zu",
		    i / 256, i % 256);
		push(r, LDNS_SECTION_ANSWER, line);
	}
	for (i = 0; (c->flags & MANY_TXT) && i < 300; i++) {
		snprintf(line, sizeof(line), "m.fake.test. 60 IN TXT "
		    "\"site-verification=%zu\"", i);
		push(r, LDNS_SECTION_ANSWER, line);
	}
	return r;
}

/*
 * Wire form of the reply to the query in buf, for the current case; bad:
 * with the case's BAD_* flags applied.
 */
static uint8_t *
fake_answer(struct fake *f, const unsigned char *buf, size_t n, int tcp,
    int bad, size_t *wlen)
{
	ldns_pkt *q, *r;
	uint8_t *wire = NULL;
	const struct fcase *c;

	if (ldns_wire2pkt(&q, buf, n) != LDNS_STATUS_OK)
		return NULL;
	c = &fcases[__atomic_load_n(&f->cur, __ATOMIC_ACQUIRE)];
	r = fake_reply(q, c, tcp, bad ? c->flags : 0);
	if (ldns_pkt2wire(&wire, r, wlen) != LDNS_STATUS_OK)
		wire = NULL;
	ldns_pkt_free(q);
	ldns_pkt_free(r);
	return wire;
}

/* The flags of the current case. */
static int
fake_flags(struct fake *f)
{
	return fcases[__atomic_load_n(&f->cur, __ATOMIC_ACQUIRE)].flags;
}

/* Send the reply (bad or good) to buf; 0 if sent. */
static int
fake_send_udp(struct fake *f, const unsigned char *buf, size_t n, int bad,
    const struct sockaddr_storage *from, socklen_t flen)
{
	uint8_t *wire;
	size_t wlen;

	if ((wire = fake_answer(f, buf, n, 0, bad, &wlen)) == NULL)
		return -1;
	sendto(f->s, wire, wlen, 0, (const struct sockaddr *)from, flen);
	free(wire);
	return 0;
}

static void
fake_udp(struct fake *f)
{
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	unsigned char buf[4096];
	int fl = fake_flags(f);
	ssize_t n;

	n = recvfrom(f->s, buf, sizeof(buf), 0, (struct sockaddr *)&from,
	    &flen);
	if (n <= 0)
		return;
	/* the BAD_* flags apply to the TCP reply when UDP only truncates */
	if (fl & TC_UDP)
		fake_send_udp(f, buf, (size_t)n, 0, &from, flen);
	else if (fake_send_udp(f, buf, (size_t)n, 1, &from, flen) == 0 &&
	    (fl & THEN_GOOD))
		fake_send_udp(f, buf, (size_t)n, 0, &from, flen);
}

/* Send a framed message, one byte per 100 ms if the case says so. */
static int
fake_send_tcp(struct fake *f, int c, const uint8_t *wire, size_t wlen)
{
	unsigned char len[2] = { (unsigned char)(wlen >> 8),
	    (unsigned char)wlen };
	size_t i;

	if (!(fake_flags(f) & TRICKLE))
		return send(c, len, 2, MSG_NOSIGNAL) == 2 &&
		    send(c, wire, wlen, MSG_NOSIGNAL) == (ssize_t)wlen ? 0 : -1;
	/* bounded: stops when the client hangs up, or at 2 bytes + wlen */
	for (i = 0; i < wlen + 2; i++) {
		if (__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE) ||
		    send(c, i < 2 ? &len[i] : &wire[i - 2], 1, MSG_NOSIGNAL) != 1)
			return -1;
		usleep(100000);
	}
	return 0;
}

/* One query on one TCP connection (RFC 1035 s.4.2.2 framing). */
static void
fake_tcp(struct fake *f)
{
	struct timeval tv = { 1, 0 };
	unsigned char buf[4096], len[2];
	uint8_t *wire;
	size_t wlen, n;
	int c;

	if ((c = accept(f->ls, NULL, NULL)) < 0)
		return;
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (recv(c, len, 2, MSG_WAITALL) == 2 &&
	    (n = (size_t)(len[0] << 8 | len[1])) <= sizeof(buf) &&
	    recv(c, buf, n, MSG_WAITALL) == (ssize_t)n &&
	    (wire = fake_answer(f, buf, n, 1, 1, &wlen)) != NULL) {
		if (fake_send_tcp(f, c, wire, wlen) == 0 &&
		    (fake_flags(f) & THEN_GOOD)) {
			free(wire);
			if ((wire = fake_answer(f, buf, n, 1, 0, &wlen)) != NULL)
				fake_send_tcp(f, c, wire, wlen);
		}
		free(wire);
	}
	close(c);
}

/* Answer each query with the current case, until told to stop. */
static void *
fake_run(void *arg)
{
	struct fake *f = arg;
	struct pollfd pfd[2] = {
		{ .fd = f->s, .events = POLLIN },
		{ .fd = f->ls, .events = POLLIN },
	};

	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
		if (poll(pfd, 2, 50) <= 0)
			continue;
		if (pfd[0].revents & POLLIN)
			fake_udp(f);
		if (pfd[1].revents & POLLIN)
			fake_tcp(f);
	}
	return NULL;
}

/* A UDP and a TCP socket on the same loopback port. */
static void
fake_open(struct fake *f)
{
	struct sockaddr_in sin;
	int try, one = 1;

	for (try = 0; try < 10; try++) {
		f->s = dead_socket(f->spec, sizeof(f->spec));
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons((uint16_t)atoi(strchr(f->spec, '@') + 1));
		f->ls = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(f->ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(f->ls, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		    listen(f->ls, 8) == 0)
			return;
		close(f->ls);
		close(f->s);
	}
	fail_msg("no free port for the fake server");
}

/* Run one case; 0 if it passed, else print why and return 1. */
static int
run_fcase(struct am_dns *d, struct fake *f, size_t k)
{
	const struct fcase *c = &fcases[k];
	struct am_buf why = AM_BUF_INIT(512), got = AM_BUF_INIT(4096);
	struct am_buf want = AM_BUF_INIT(256);
	struct am_dns_answer *a = NULL;
	enum am_dns_status st;
	int bad;

	__atomic_store_n(&f->cur, k, __ATOMIC_RELEASE);
	st = am_dns_query(d, c->qname, c->type, &a, &why);
	render(a, &got);
	if (c->why != NULL)
		am_buf_printf(&want, c->why, f->spec);
	bad = st != c->st ||
	    (c->rrs != NULL && strcmp(am_buf_str(&got), c->rrs) != 0) ||
	    (c->ttl >= 0 && (a == NULL || a->ttl != (uint32_t)c->ttl)) ||
	    (c->why != NULL && strstr(am_buf_str(&why), want.data) == NULL) ||
	    ((c->flags & MANY) && (a == NULL || a->count != 300)) ||
	    ((c->flags & MANY_TXT) && (a == NULL || a->count != 301));
	if (bad)
		print_error("FAIL [fake] %s\n  got      %s \"%s\" ttl %ld (%s)\n"
		    "  expected %s \"%s\" ttl %ld (%s)\n", c->name,
		    am_dns_status_name(st), am_buf_str(&got),
		    a ? (long)a->ttl : -1L, am_buf_str(&why),
		    am_dns_status_name(c->st), c->rrs ? c->rrs : "*", c->ttl,
		    c->why ? want.data : "*");
	am_dns_answer_free(a);
	am_buf_release(&why);
	am_buf_release(&got);
	am_buf_release(&want);
	return bad;
}

static void
test_ldns_crafted_replies(void **state)
{
	struct fake f = { .cur = 0 };
	const char *sv[1] = { f.spec };
	struct am_dns *d;
	size_t k;
	int bad = 0;

	(void)state;
	fake_open(&f);
	assert_int_equal(pthread_create(&f.t, NULL, fake_run, &f), 0);
	d = ldns_open(sv, 1, 1000, 0);
	for (k = 0; k < NFCASES - 1; k++)
		bad += run_fcase(d, &f, k);
	d = am_dns_free(d);
	/* again without EDNS0 (ldns then retries with it, then TCP) */
	d = ldns_open(sv, 1, 1000, AM_DNS_EDNS_OFF);
	for (k = 0; k < NFCASES - 1; k++)
		bad += run_fcase(d, &f, k);
	print_message("[fake] %zu cases twice, %d failed\n", NFCASES, bad);
	__atomic_store_n(&f.stop, 1, __ATOMIC_RELEASE);
	pthread_join(f.t, NULL);
	close(f.s);
	close(f.ls);
	am_dns_free(d);
	assert_int_equal(bad, 0);
}

/*
 * A server that trickles its TCP answer (about 60 bytes, 6 s) must not
 * hold a query past its total deadline: 300 ms, one try. The bound asserted
 * is a hang check (10 times the deadline), not a speed requirement.
 */
static void
test_ldns_tcp_trickle(void **state)
{
	struct fake f = { .cur = NFCASES - 1 };
	const char *sv[1] = { f.spec };
	struct am_buf why = AM_BUF_INIT(512);
	struct am_dns_answer *a = NULL;
	enum am_dns_status st;
	struct am_dns *d;
	double t0, dt;

	(void)state;
	fake_open(&f);
	assert_int_equal(pthread_create(&f.t, NULL, fake_run, &f), 0);
	d = ldns_open(sv, 1, 300, 0);
	t0 = now_s();
	st = am_dns_query(d, "a.fake.test", AM_DNS_T_TXT, &a, &why);
	dt = now_s() - t0;
	print_message("[fake] trickled TCP reply: %s after %.3f s (%s)\n",
	    am_dns_status_name(st), dt, am_buf_str(&why));
	__atomic_store_n(&f.stop, 1, __ATOMIC_RELEASE);
	pthread_join(f.t, NULL);
	close(f.s);
	close(f.ls);
	am_dns_free(d);
	assert_int_equal(st, AM_DNS_TEMPFAIL);
	assert_null(a);
	assert_true(dt < 3.0);
	am_buf_release(&why);
}

/* A caller's deadline shorter than the resolver's own bound is kept. */
static void
test_ldns_caller_deadline(void **state)
{
	char dead[64];
	const char *sv[1] = { dead };
	struct am_buf why = AM_BUF_INIT(512);
	struct am_dns_answer *a = NULL;
	enum am_dns_status st;
	struct am_dns *d;
	double t0, dt;
	int s;

	(void)state;
	s = dead_socket(dead, sizeof(dead));
	d = ldns_open(sv, 1, 30000, 0);
	t0 = now_s();
	st = am_dns_query_until(d, "www.example.test", AM_DNS_T_A,
	    am_dns_clock(d) + 200, &a, &why);
	dt = now_s() - t0;
	print_message("30 s timeout, 200 ms deadline: %s after %.3f s\n",
	    am_dns_status_name(st), dt);
	assert_int_equal(st, AM_DNS_TEMPFAIL);
	assert_true(dt < 2.0);
	/* a deadline already passed: not sent at all */
	am_buf_reset(&why);
	assert_int_equal(am_dns_query_until(d, "www.example.test", AM_DNS_T_A,
	    am_dns_clock(d) - 1, &a, &why), AM_DNS_TEMPFAIL);
	assert_string_equal(am_buf_str(&why), "lookup deadline passed");
	am_buf_release(&why);
	am_dns_free(d);
	close(s);
}

struct inflight {
	struct am_dns *d;
	enum am_dns_status st;
	struct am_dns_ctl ctl;
};

static void *
inflight_run(void *arg)
{
	struct inflight *k = arg;
	struct am_dns_answer *a = NULL;

	k->st = am_dns_query_ctl(k->d, "www.example.test", AM_DNS_T_A,
	    &k->ctl, &a, NULL);
	am_dns_answer_free(a);
	return NULL;
}

/*
 * MessageTimeout set while a lookup is in flight (the engine sets it at
 * end of message, when the early lookups may be waiting): the lookup gives
 * up at it, not at its own 30 s bound. Hang check only: 10 times the time.
 */
static void
test_ldns_message_deadline_in_flight(void **state)
{
	char dead[64];
	const char *sv[1] = { dead };
	struct inflight k;
	struct am_dns *shared;
	pthread_t th;
	double t0, dt;
	int s;

	(void)state;
	s = dead_socket(dead, sizeof(dead));
	shared = ldns_open(sv, 1, 30000, 0);
	memset(&k, 0, sizeof(k));
	k.d = am_dns_msg_new(shared);
	t0 = now_s();
	assert_int_equal(pthread_create(&th, NULL, inflight_run, &k), 0);
	usleep(100000);
	am_dns_msg_set_deadline(k.d, am_dns_clock(k.d) + 200);
	pthread_join(th, NULL);
	dt = now_s() - t0;
	print_message("deadline set 100 ms into a 30 s lookup: %s after "
	    "%.3f s\n", am_dns_status_name(k.st), dt);
	assert_int_equal(k.st, AM_DNS_TEMPFAIL);
	assert_int_equal(k.ctl.timed_out, 1);
	assert_true(dt < 3.0);
	am_dns_free(k.d);
	am_dns_free(shared);
	close(s);
}

int
main(void)
{
	const struct CMUnitTest server[] = {
		cmocka_unit_test(test_ldns_server_specs),
		cmocka_unit_test(test_ldns_table),
		cmocka_unit_test(test_ldns_refused_why),
		cmocka_unit_test(test_ldns_ipv6),
		cmocka_unit_test(test_ldns_timeout),
		cmocka_unit_test(test_ldns_failover),
		cmocka_unit_test(test_ldns_tcp_fallback),
		cmocka_unit_test(test_ldns_threads),
	};
	const struct CMUnitTest fake[] = {
		cmocka_unit_test(test_ldns_crafted_replies),
		cmocka_unit_test(test_ldns_tcp_trickle),
		cmocka_unit_test(test_ldns_caller_deadline),
		cmocka_unit_test(test_ldns_message_deadline_in_flight),
	};
	int fails;

	fails = cmocka_run_group_tests_name("dns_ldns_fake", fake, NULL, NULL);
	fails += cmocka_run_group_tests_name("dns_ldns_nsd", server,
	    nsd_group_setup, nsd_group_teardown);
	return fails != 0;
}
