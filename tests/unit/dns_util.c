/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dns_util: helpers shared by the DNS tests. See dns_util.h.
 *
 * The case table describes tests/unit/dns/example.test.zone and
 * 2.0.192.in-addr.arpa.zone (nosoa.zone for ZONE-only cases); the same
 * answers must come from dns_zone.c and from nsd through dns_ldns.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_util.h"

struct qcase {
	const char *name;
	const char *qname;
	int type;
	enum am_dns_status st;
	const char *rrs;        /* rendered, sorted, " | " between; NULL: any */
	long ttl;               /* -1: any */
	int where;
};

static const struct qcase qcases[] = {
	{"A, two records", "www.example.test", AM_DNS_T_A, AM_DNS_OK,
	    "192.0.2.1 | 192.0.2.2", 300, BOTH},
	{"AAAA", "www.example.test", AM_DNS_T_AAAA, AM_DNS_OK,
	    "2001:db8::1", 3600, BOTH},
	{"MX targets lower-cased, no dot", "example.test", AM_DNS_T_MX,
	    AM_DNS_OK, "10 mx1.example.test | 20 mx2.example.test", 3600, BOTH},
	{"TXT strings concatenated", "example.test", AM_DNS_T_TXT, AM_DNS_OK,
	    "v=spf1 ip4:192.0.2.0/24 -all", 3600, BOTH},
	{"TXT with NUL, 0xff, quote, backslash", "bin.example.test",
	    AM_DNS_T_TXT, AM_DNS_OK, "a\\000b\\255\"q\\092", -1, BOTH},
	{"TXT UTF-8 from \\DDD", "utf8.example.test", AM_DNS_T_TXT, AM_DNS_OK,
	    "h\\195\\169llo w\\195\\182rld", -1, BOTH},
	{"TXT raw UTF-8", "utf8raw.example.test", AM_DNS_T_TXT, AM_DNS_OK,
	    "h\\195\\169llo w\\195\\182rld", -1, BOTH},
	{"CNAME followed, least TTL", "alias.example.test", AM_DNS_T_A,
	    AM_DNS_OK, "192.0.2.1 | 192.0.2.2", 300, BOTH},
	{"CNAME chain of 2, mixed case", "alias2.example.test", AM_DNS_T_A,
	    AM_DNS_OK, "192.0.2.1 | 192.0.2.2", 300, BOTH},
	{"CNAME chain of 8", "hop8.example.test", AM_DNS_T_A, AM_DNS_OK,
	    "192.0.2.1 | 192.0.2.2", 300, BOTH},
	{"CNAME chain of 9 is too long", "hop9.example.test", AM_DNS_T_A,
	    AM_DNS_TEMPFAIL, NULL, -1, ZONE},
	{"CNAME chain of 9 from a server", "hop9.example.test", AM_DNS_T_A,
	    AM_DNS_OK, "192.0.2.1 | 192.0.2.2", 300, NSD},
	{"CNAME loop", "loop1.example.test", AM_DNS_T_A, AM_DNS_TEMPFAIL,
	    NULL, -1, BOTH},
	{"CNAME asked for itself", "alias.example.test", AM_DNS_T_CNAME,
	    AM_DNS_OK, "www.example.test", 3600, BOTH},
	{"dangling CNAME", "dangling.example.test", AM_DNS_T_A,
	    AM_DNS_NXDOMAIN, "", -1, BOTH},
	{"NXDOMAIN, TTL from SOA", "nope.example.test", AM_DNS_T_A,
	    AM_DNS_NXDOMAIN, "", 120, BOTH},
	{"NODATA: only TXT there", "onlytxt.example.test", AM_DNS_T_A,
	    AM_DNS_NODATA, "", 120, BOTH},
	{"NODATA: only SRV there", "srv.example.test", AM_DNS_T_A,
	    AM_DNS_NODATA, "", 120, BOTH},
	{"empty non-terminal", "b.c.example.test", AM_DNS_T_TXT,
	    AM_DNS_NODATA, "", -1, BOTH},
	{"empty non-terminal, 2 up", "c.example.test", AM_DNS_T_A,
	    AM_DNS_NODATA, "", -1, BOTH},
	{"the leaf under the ENT", "a.b.c.example.test", AM_DNS_T_TXT,
	    AM_DNS_OK, "deep", -1, BOTH},
	{"below a leaf", "x.www.example.test", AM_DNS_T_A, AM_DNS_NXDOMAIN,
	    "", -1, BOTH},
	{"upper-case query", "WWW.EXAMPLE.TEST", AM_DNS_T_A, AM_DNS_OK,
	    "192.0.2.1 | 192.0.2.2", -1, BOTH},
	{"mixed-case owner", "mixed.Example.test", AM_DNS_T_A, AM_DNS_OK,
	    "192.0.2.9", -1, BOTH},
	{"trailing dot", "www.example.test.", AM_DNS_T_A, AM_DNS_OK,
	    "192.0.2.1 | 192.0.2.2", -1, BOTH},
	{"PTR", "1.2.0.192.in-addr.arpa", AM_DNS_T_PTR, AM_DNS_OK,
	    "www.example.test", 86400, BOTH},
	{"two PTRs, lower-cased", "2.2.0.192.in-addr.arpa", AM_DNS_T_PTR,
	    AM_DNS_OK, "alias.example.test | www.example.test", -1, BOTH},
	{"reverse NXDOMAIN, its SOA's TTL", "9.2.0.192.in-addr.arpa",
	    AM_DNS_T_PTR, AM_DNS_NXDOMAIN, "", 60, BOTH},
	{"outside every zone", "www.example.org", AM_DNS_T_A,
	    AM_DNS_NXDOMAIN, "", 300, ZONE},
	{"outside every zone: REFUSED", "www.example.org", AM_DNS_T_A,
	    AM_DNS_TEMPFAIL, NULL, -1, NSD},
	{"file without SOA", "HOST.other.test", AM_DNS_T_A, AM_DNS_OK,
	    "198.51.100.7", 60, ZONE},
	{"no SOA: default negative TTL", "nx.other.test", AM_DNS_T_A,
	    AM_DNS_NXDOMAIN, "", 300, ZONE},
	{"no SOA: parent is an ENT", "other.test", AM_DNS_T_A,
	    AM_DNS_NODATA, "", -1, ZONE},
	{"wildcard", "x.wild.example.test", AM_DNS_T_TXT, AM_DNS_OK,
	    "wildcard", 3600, BOTH},
	{"wildcard, two labels down", "y.X.wild.example.test", AM_DNS_T_TXT,
	    AM_DNS_OK, "wildcard", 3600, BOTH},
	{"wildcard, other type: NODATA", "x.wild.example.test", AM_DNS_T_A,
	    AM_DNS_NODATA, "", 120, BOTH},
	{"wildcard parent is an ENT", "wild.example.test", AM_DNS_T_TXT,
	    AM_DNS_NODATA, "", -1, BOTH},
	{"an ENT blocks the wildcard", "b.sub.wild.example.test",
	    AM_DNS_T_TXT, AM_DNS_NXDOMAIN, "", 120, BOTH},
	{"bad name: empty label", "a..example.test", AM_DNS_T_A,
	    AM_DNS_BADNAME, NULL, -1, BOTH},
};

/* ---- helpers ---- */

const char *
srcdir(void)
{
	const char *s = getenv("AM_TOP_SRCDIR");

	return s != NULL ? s : AM_TOP_SRCDIR;
}

void
zpath(char *out, size_t n, const char *file)
{
	snprintf(out, n, "%s/tests/unit/dns/%s", srcdir(), file);
}

/* Octets, with non-printables and backslash as \DDD. */
static void
render_text(struct am_buf *b, const char *s, size_t n)
{
	size_t i;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e || c == '\\')
			am_buf_printf(b, "\\%03u", c);
		else
			am_buf_addc(b, c);
	}
}

static void
render_rr(struct am_buf *b, const struct am_dns_rr *r)
{
	char ip[64];

	switch (r->type) {
	case AM_DNS_T_A:
		am_buf_adds(b, inet_ntop(AF_INET, r->addr, ip, sizeof(ip)));
		break;
	case AM_DNS_T_AAAA:
		am_buf_adds(b, inet_ntop(AF_INET6, r->addr, ip, sizeof(ip)));
		break;
	case AM_DNS_T_MX:
		am_buf_printf(b, "%u ", r->pref);
		render_text(b, r->text, r->textlen);
		break;
	default:
		if (r->text != NULL)
			render_text(b, r->text, r->textlen);
		break;
	}
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* All records, rendered and sorted, into out. */
void
render(const struct am_dns_answer *a, struct am_buf *out)
{
	struct am_buf one = AM_BUF_INIT(70000);
	char **v;
	size_t i;

	am_buf_reset(out);
	if (a == NULL || a->count == 0)
		return;
	v = calloc(a->count, sizeof(*v));
	for (i = 0; i < a->count; i++) {
		am_buf_reset(&one);
		render_rr(&one, &a->rr[i]);
		v[i] = strdup(am_buf_str(&one));
	}
	qsort(v, a->count, sizeof(*v), cmpstr);
	for (i = 0; i < a->count; i++) {
		am_buf_printf(out, "%s%s", i ? " | " : "", v[i]);
		free(v[i]);
	}
	free(v);
	am_buf_release(&one);
}

/* Run one case on d; 0 if it passed, else print why and return 1. */
static int
run_case(struct am_dns *d, const struct qcase *c, const char *be)
{
	struct am_buf why = AM_BUF_INIT(1024), got = AM_BUF_INIT(70000);
	struct am_dns_answer *a = NULL;
	enum am_dns_status st;
	int bad = 0;

	st = am_dns_query(d, c->qname, c->type, &a, &why);
	render(a, &got);
	if (st != c->st || (c->rrs != NULL && strcmp(am_buf_str(&got),
	    c->rrs) != 0) || (c->ttl >= 0 && (a == NULL ||
	    a->ttl != (uint32_t)c->ttl))) {
		print_error("FAIL [%s] %s: %s %d\n  got      %s \"%s\" ttl %ld"
		    " (%s)\n  expected %s \"%s\" ttl %ld\n", be, c->name,
		    c->qname, c->type, am_dns_status_name(st),
		    am_buf_str(&got), a ? (long)a->ttl : -1L,
		    am_buf_str(&why), am_dns_status_name(c->st),
		    c->rrs ? c->rrs : "*", c->ttl);
		bad = 1;
	}
	if ((st == AM_DNS_TEMPFAIL || st == AM_DNS_BADNAME) &&
	    (a != NULL || why.len == 0)) {
		print_error("FAIL [%s] %s: failure without reason or with an "
		    "answer\n", be, c->name);
		bad = 1;
	}
	am_dns_answer_free(a);
	am_buf_release(&why);
	am_buf_release(&got);
	return bad;
}

int
run_table(struct am_dns *d, int where, const char *be)
{
	size_t i;
	int bad = 0, ran = 0;

	for (i = 0; i < sizeof(qcases) / sizeof(qcases[0]); i++) {
		if ((qcases[i].where & where) == 0)
			continue;
		bad += run_case(d, &qcases[i], be);
		ran++;
	}
	print_message("[%s] %d cases, %d failed\n", be, ran, bad);
	return bad;
}

struct am_dns *
zone_open(void)
{
	char p[3][1024];
	const char *paths[3] = { p[0], p[1], p[2] };
	struct am_buf why = AM_BUF_INIT(1024);
	struct am_dns *d;

	zpath(p[0], sizeof(p[0]), "example.test.zone");
	zpath(p[1], sizeof(p[1]), "2.0.192.in-addr.arpa.zone");
	zpath(p[2], sizeof(p[2]), "nosoa.zone");
	d = am_dns_zone_new(paths, 3, &why);
	if (d == NULL)
		print_error("zone load: %s\n", am_buf_str(&why));
	am_buf_release(&why);
	assert_non_null(d);
	return d;
}

/* Ask (name, type), expect st; returns the answer (caller frees). */
struct am_dns_answer *
ask(struct am_dns *d, const char *name, int type, enum am_dns_status st)
{
	struct am_buf why = AM_BUF_INIT(1024);
	struct am_dns_answer *a = NULL;
	enum am_dns_status got;

	got = am_dns_query(d, name, type, &a, &why);
	if (got != st)
		print_error("%s/%d: got %s (%s), expected %s\n", name, type,
		    am_dns_status_name(got), am_buf_str(&why),
		    am_dns_status_name(st));
	am_buf_release(&why);
	assert_int_equal(got, st);
	return a;
}

/* The 2000-byte TXT record (eight 250-octet strings). */
void
check_big_txt(const struct am_dns_answer *a)
{
	size_t i;

	assert_non_null(a);
	assert_int_equal(a->count, 1);
	assert_int_equal(a->rr[0].textlen, 2000);
	for (i = 0; i < 2000; i++)
		if (a->rr[0].text[i] != 'a' + (char)(i / 250))
			fail_msg("big TXT: byte %zu is '%c'", i,
			    a->rr[0].text[i]);
	assert_int_equal(a->rr[0].text[2000], '\0');
}

static const struct {
	const char *name;
	int type;
	enum am_dns_status st;
	const char *rrs;
} tcases[] = {
	{"www.example.test", AM_DNS_T_A, AM_DNS_OK, "192.0.2.1 | 192.0.2.2"},
	{"www.example.test", AM_DNS_T_AAAA, AM_DNS_OK, "2001:db8::1"},
	{"example.test", AM_DNS_T_MX, AM_DNS_OK,
	    "10 mx1.example.test | 20 mx2.example.test"},
	{"example.test", AM_DNS_T_TXT, AM_DNS_OK,
	    "v=spf1 ip4:192.0.2.0/24 -all"},
	{"alias2.example.test", AM_DNS_T_A, AM_DNS_OK,
	    "192.0.2.1 | 192.0.2.2"},
	{"nope.example.test", AM_DNS_T_TXT, AM_DNS_NXDOMAIN, ""},
	{"onlytxt.example.test", AM_DNS_T_MX, AM_DNS_NODATA, ""},
	{"1.2.0.192.in-addr.arpa", AM_DNS_T_PTR, AM_DNS_OK,
	    "www.example.test"},
	{"loop2.example.test", AM_DNS_T_A, AM_DNS_TEMPFAIL, ""},
};
#define NTCASES (sizeof(tcases) / sizeof(tcases[0]))

struct worker {
	struct am_dns *d;
	int id, iters, errors;
	pthread_t t;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct am_buf why = AM_BUF_INIT(512), got = AM_BUF_INIT(4096);
	struct am_dns_answer *a;
	enum am_dns_status st;
	size_t k;
	int i;

	for (i = 0; i < w->iters; i++) {
		k = (size_t)(i * 7 + w->id) % NTCASES;
		st = am_dns_query(w->d, tcases[k].name, tcases[k].type, &a,
		    &why);
		render(a, &got);
		if (st != tcases[k].st ||
		    strcmp(am_buf_str(&got), tcases[k].rrs) != 0) {
			if (w->errors++ < 3)
				print_error("thread %d: %s/%d got %s \"%s\" "
				    "(%s)\n", w->id, tcases[k].name,
				    tcases[k].type, am_dns_status_name(st),
				    am_buf_str(&got), am_buf_str(&why));
		}
		am_dns_answer_free(a);
	}
	am_buf_release(&why);
	am_buf_release(&got);
	return NULL;
}

/* 8 threads, iters queries each, all answers checked. */
void
run_threads(struct am_dns *d, int iters)
{
	struct worker w[8];
	int i, errors = 0;

	for (i = 0; i < 8; i++) {
		w[i].d = d;
		w[i].id = i;
		w[i].iters = iters;
		w[i].errors = 0;
		assert_int_equal(pthread_create(&w[i].t, NULL, worker_run,
		    &w[i]), 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(w[i].t, NULL);
		errors += w[i].errors;
	}
	assert_int_equal(errors, 0);
	assert_int_equal(d->queries, 8UL * (unsigned long)iters);
}
