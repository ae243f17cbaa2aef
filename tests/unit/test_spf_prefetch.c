/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_spf_prefetch: SPF resolves its tree in parallel and evaluates in
 * order (issue 12). lib/spf_eval.c hints each parsed record's lookups to
 * the message layer (lib/dns_msg.c), which runs them on a lookup pool.
 *
 * The layer sits over tests/spf/prefetch.zone behind a gate back end:
 * queries of the case's gated names block until `need` of them are in
 * flight at once, or until the case's failing name has been asked (it
 * answers TEMPFAIL), and it records the most gated queries ever in
 * flight. A gate that never opens is released after 3 s, so a run without
 * prefetch ends (and fails the assertions) instead of hanging. Each case
 * runs with the pool and again without (no prefetch, gate open): result,
 * reason, DNS terms and void lookups must be the same.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dns.h"
#include "jobs.h"
#include "spf.h"

#define GATED_MAX 4

struct gate {
	struct am_dns *inner;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const char *const *gated;  /* names whose queries wait */
	unsigned need;             /* open when this many wait at once */
	const char *fail;          /* TEMPFAIL for this name; opens the gate */
	int open;
	unsigned inflight, max;    /* gated queries waiting, most at once */
	unsigned failed;           /* queries of fail */
};

static int
is_gated(const struct gate *g, const char *name)
{
	size_t i;

	for (i = 0; g->gated != NULL && g->gated[i] != NULL; i++)
		if (strcasecmp(g->gated[i], name) == 0)
			return 1;
	return 0;
}

/* Under the lock: wait until the gate opens (at most 3 s: then open it). */
static void
wait_open(struct gate *g)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 3;
	while (!g->open && g->inflight < g->need)
		if (pthread_cond_timedwait(&g->cv, &g->mu, &ts) != 0)
			break;
	g->open = 1;
	pthread_cond_broadcast(&g->cv);
}

static enum am_dns_status
gate_query(void *state, const char *name, int type,
    struct am_dns_answer **ans, struct am_buf *why)
{
	struct gate *g = state;

	pthread_mutex_lock(&g->mu);
	if (g->fail != NULL && strcasecmp(name, g->fail) == 0) {
		g->failed++;
		g->open = 1;
		pthread_cond_broadcast(&g->cv);
		pthread_mutex_unlock(&g->mu);
		am_buf_setf(why, "SERVFAIL from the test");
		return AM_DNS_TEMPFAIL;
	}
	if (is_gated(g, name)) {
		g->inflight++;
		if (g->inflight > g->max)
			g->max = g->inflight;
		pthread_cond_broadcast(&g->cv);
		wait_open(g);
		g->inflight--;
	}
	pthread_mutex_unlock(&g->mu);
	return am_dns_query(g->inner, name, type, ans, why);
}

static void
gate_close(void *state)
{
	struct gate *g = state;

	am_dns_free(g->inner);
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
}

static const struct am_dns_backend gate_backend = {
	.name = "gate", .query = gate_query, .close = gate_close,
};

static struct am_dns *
gate_new(struct gate *g)
{
	const char *top = getenv("AM_TOP_SRCDIR");
	struct am_buf why = AM_BUF_INIT(256);
	char path[1024];
	const char *p = path;

	snprintf(path, sizeof(path), "%s/tests/spf/prefetch.zone",
	    top != NULL ? top : AM_TOP_SRCDIR);
	g->inner = am_dns_zone_new(&p, 1, &why);
	if (g->inner == NULL)
		fail_msg("zone %s: %s", path, am_buf_str(&why));
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	am_buf_release(&why);
	return am_dns_new(&gate_backend, g);
}

struct pf_case {
	const char *name;
	const char *domain;
	const char *gated[GATED_MAX];
	unsigned need;            /* gated queries in flight at once, at least */
	const char *fail;         /* a name the evaluation never reaches */
	enum am_spf_result want;
	unsigned terms;           /* DNS terms the evaluation counts */
};

static const struct pf_case cases[] = {
	{ "three includes: TXT of all three in flight at once",
	    "three.pf.test", { "a.pf.test", "b.pf.test", "c.pf.test", NULL },
	    3, NULL, AM_SPF_PASS, 3 },
	{ "mx: the exchanges' A queries in flight at once",
	    "mx.pf.test", { "m1.pf.test", "m2.pf.test", "m3.pf.test", NULL },
	    3, NULL, AM_SPF_PASS, 1 },
	{ "a speculative TEMPFAIL after the matching term changes nothing",
	    "early.pf.test", { "c.pf.test", NULL },
	    99, "bad.pf.test", AM_SPF_PASS, 1 },
};

struct outcome {
	enum am_spf_result result;
	char reason[256];
	unsigned terms, voids;
	unsigned max, failed;
};

/* check_host() of c through a message layer; pool NULL: no prefetch. */
static void
run(const struct pf_case *c, struct am_jobs *pool, struct outcome *o)
{
	struct am_spf_request q;
	struct am_spf_response r;
	struct am_dns *shared, *d;
	struct gate g;

	memset(&g, 0, sizeof(g));
	g.gated = c->gated;
	g.need = c->need;
	g.fail = c->fail;
	g.open = pool == NULL;
	assert_non_null(shared = gate_new(&g));
	assert_non_null(d = am_dns_msg_new(shared));
	am_dns_msg_set_jobs(d, pool);
	memset(&q, 0, sizeof(q));
	assert_int_equal(am_addr_parse(&q.ip, "192.0.2.3"), 0);
	q.sender = "u@example.test";
	q.helo = "h.example.test";
	am_spf_response_init(&r);
	o->result = am_spf_check_host(d, &q, c->domain, &r);
	snprintf(o->reason, sizeof(o->reason), "%s", am_buf_str(&r.reason));
	o->terms = r.dns_terms;
	o->voids = r.void_lookups;
	am_spf_response_release(&r);
	am_dns_free(d);         /* waits for the hints still running */
	o->max = g.max;
	o->failed = g.failed;
	am_dns_free(shared);
}

static void
test_prefetch_cases(void **state)
{
	struct outcome with, without;
	const struct pf_case *c;
	struct am_jobs *pool;
	size_t i;
	int bad = 0;

	(void)state;
	assert_non_null(pool = am_jobs_new(4));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = &cases[i];
		run(c, NULL, &without);
		run(c, pool, &with);
		print_message("%s: %s (%s) %u terms; most in flight %u, "
		    "failed %u; without prefetch %s (%s) %u terms\n", c->name,
		    am_spf_result_name(with.result), with.reason, with.terms,
		    with.max, with.failed, am_spf_result_name(without.result),
		    without.reason, without.terms);
		if (with.result != c->want || without.result != c->want ||
		    strcmp(with.reason, without.reason) != 0 ||
		    with.terms != c->terms || without.terms != c->terms ||
		    with.voids != without.voids ||
		    (c->fail == NULL && with.max < c->need) ||
		    (c->fail != NULL && with.failed != 1)) {
			print_message("FAIL %s: want %s, %u terms, %u in "
			    "flight%s\n", c->name, am_spf_result_name(c->want),
			    c->terms, c->need, c->fail != NULL ?
			    ", the failing name asked once" : "");
			bad++;
		}
	}
	am_jobs_free(pool);
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefetch_cases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
