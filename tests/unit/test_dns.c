/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_dns: the DNS layer without a network (lib/dns.c, dns_zone.c,
 * dns_cache.c); test_dns_ldns.c tests the resolver against nsd.
 *
 * - name checks (RFC 1035 s.2.3.4 lengths, empty labels), answer refs;
 * - the zone back end on the files in tests/unit/dns/ (dns_util.c's case
 *   table), bad zone files with file:line, a 20000-name zone;
 * - an example of a test-only wrapping back end ("flaky": some (name,
 *   type) pairs time out), as the SPF conformance runner needs;
 * - the cache: hits, expiry on an injected clock, negative caching and its
 *   cap, TEMPFAIL not cached, LRU eviction, 8 threads;
 * - the per-message layer (dns_msg.c) over a back end on a fake clock:
 *   failures remembered, the message deadline, one query shared by two
 *   threads, the trace.
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
#include <unistd.h>

#include "dns_util.h"

/* ---- a test-only wrapping back end: some (name, type) pairs time out ---- */

struct flaky {
	struct am_dns *inner;
	const char *const *names;  /* these names, with types[i], fail */
	const int *types;
	size_t n;
	unsigned long calls;
};

static enum am_dns_status
flaky_query(void *state, const char *name, int type,
    struct am_dns_answer **ans, struct am_buf *why)
{
	struct flaky *f = state;
	size_t i;

	__atomic_add_fetch(&f->calls, 1, __ATOMIC_RELAXED);
	for (i = 0; i < f->n; i++)
		if (f->types[i] == type && strcasecmp(f->names[i], name) == 0) {
			am_buf_setf(why, "timeout (test) for %s", name);
			return AM_DNS_TEMPFAIL;
		}
	return am_dns_query(f->inner, name, type, ans, why);
}

static void
flaky_close(void *state)
{
	struct flaky *f = state;

	am_dns_free(f->inner);
	free(f);
}

static const struct am_dns_backend flaky_backend = {
	.name = "flaky",
	.query = flaky_query,
	.close = flaky_close,
};

static const char *const flaky_names[] = { "www.example.test" };
static const int flaky_types[] = { AM_DNS_T_A };

static struct am_dns *
flaky_new(struct am_dns *inner, struct flaky **fp)
{
	struct flaky *f = calloc(1, sizeof(*f));

	f->inner = inner;
	f->names = flaky_names;
	f->types = flaky_types;
	f->n = 1;
	*fp = f;
	return am_dns_new(&flaky_backend, f);
}

/* ---- name checks ---- */

static char *
repeat(char c, size_t n, const char *tail)
{
	char *s = malloc(n + strlen(tail) + 1);

	memset(s, c, n);
	strcpy(s + n, tail);
	return s;
}

/* A name of exactly len octets: labels of 63, dot separated. */
static char *
name_of_len(size_t len)
{
	char *s = malloc(len + 1);
	size_t i;

	for (i = 0; i < len; i++)
		s[i] = (i % 64 == 63) ? '.' : 'a';
	if (s[len - 1] == '.')
		s[len - 1] = 'b';
	s[len] = '\0';
	return s;
}

static void
test_name_check(void **state)
{
	struct {
		const char *name;
		char *qname;
		int want;
	} c[] = {
		{"63-octet label", repeat('a', 63, ".test"), 0},
		{"64-octet label", repeat('a', 64, ".test"), -1},
		{"64-octet last label", repeat('a', 64, ""), -1},
		{"empty label", strdup("a..test"), -1},
		{"leading dot", strdup(".a.test"), -1},
		{"empty name", strdup(""), -1},
		{"root only", strdup("."), -1},
		{"trailing dot", strdup("a.test."), 0},
		{"two trailing dots", strdup("a.test.."), -1},
		{"single label", strdup("localhost"), 0},
		{"253 octets", name_of_len(253), 0},
		{"254 octets", name_of_len(254), -1},
		{"253 octets and a dot", NULL, 0},
	};
	struct am_buf why = AM_BUF_INIT(256);
	size_t i, n = sizeof(c) / sizeof(c[0]);
	int bad = 0, got;
	char *t;

	(void)state;
	t = name_of_len(253);
	c[n - 1].qname = realloc(t, 255);
	strcat(c[n - 1].qname, ".");
	for (i = 0; i < n; i++) {
		am_buf_reset(&why);
		got = am_dns_name_check(c[i].qname, &why);
		if (got != c[i].want || (got != 0 && why.len == 0)) {
			print_error("FAIL %s: got %d (%s) expected %d\n",
			    c[i].name, got, am_buf_str(&why), c[i].want);
			bad++;
		}
		free(c[i].qname);
	}
	am_buf_release(&why);
	assert_int_equal(bad, 0);
}

/* A bad name never reaches the back end, and d->queries does not move. */
static void
test_badname_not_sent(void **state)
{
	struct am_dns *d;
	struct flaky *f;
	struct am_dns_answer *a;
	char *n64 = repeat('x', 64, ".example.test");

	(void)state;
	d = flaky_new(zone_open(), &f);
	assert_null(ask(d, n64, AM_DNS_T_A, AM_DNS_BADNAME));
	assert_null(ask(d, "", AM_DNS_T_TXT, AM_DNS_BADNAME));
	assert_null(ask(d, "www.example.test", 0, AM_DNS_BADNAME));
	assert_null(ask(d, "www.example.test", 65536, AM_DNS_BADNAME));
	/* why may be NULL */
	assert_int_equal(am_dns_query(d, "a..b", AM_DNS_T_A, &a, NULL),
	    AM_DNS_BADNAME);
	assert_int_equal(f->calls, 0);
	assert_int_equal(d->queries, 0);
	assert_int_equal(am_dns_query(d, "www.example.test", AM_DNS_T_A, &a,
	    NULL), AM_DNS_TEMPFAIL);
	assert_int_equal(am_dns_query(d, "loop1.example.test", AM_DNS_T_A,
	    &a, NULL), AM_DNS_TEMPFAIL);
	assert_int_equal(f->calls, 2);
	f->calls = 0;
	d->queries = 0;
	a = ask(d, "mx1.example.test", AM_DNS_T_A, AM_DNS_OK);
	assert_int_equal(f->calls, 1);
	assert_int_equal(d->queries, 1);
	am_dns_answer_free(a);
	free(n64);
	am_dns_free(d);
}

static void
test_status_names(void **state)
{
	(void)state;
	assert_string_equal(am_dns_status_name(AM_DNS_OK), "ok");
	assert_string_equal(am_dns_status_name(AM_DNS_NODATA), "nodata");
	assert_string_equal(am_dns_status_name(AM_DNS_NXDOMAIN), "nxdomain");
	assert_string_equal(am_dns_status_name(AM_DNS_TEMPFAIL), "tempfail");
	assert_string_equal(am_dns_status_name(AM_DNS_BADNAME), "badname");
}

static void
test_answer_refs(void **state)
{
	struct am_dns_answer *a;

	(void)state;
	a = am_dns_answer_new(AM_DNS_OK, AM_DNS_T_TXT, 2);
	assert_non_null(a);
	assert_int_equal(a->count, 2);
	a->rr[0].text = strdup("x");
	assert_ptr_equal(am_dns_answer_ref(a), a);
	assert_int_equal(a->refs, 2);
	assert_null(am_dns_answer_free(a));
	assert_int_equal(a->refs, 1);
	assert_null(am_dns_answer_free(a));
	assert_null(am_dns_answer_free(NULL));
	assert_null(am_dns_free(NULL));
}

/* ---- zone back end ---- */

static void
test_zone_table(void **state)
{
	struct am_dns *d = zone_open();

	(void)state;
	assert_int_equal(run_table(d, ZONE, "zone"), 0);
	am_dns_free(d);
}


static void
test_zone_big_txt(void **state)
{
	struct am_dns *d = zone_open();
	struct am_dns_answer *a;

	(void)state;
	a = ask(d, "big.example.test", AM_DNS_T_TXT, AM_DNS_OK);
	check_big_txt(a);
	am_dns_answer_free(a);
	am_dns_free(d);
}

static void
test_zone_bad_files(void **state)
{
	static const struct {
		const char *name, *file, *want;
	} c[] = {
		{"bad address", "bad-syntax.zone", "bad-syntax.zone:4: "},
		{"unknown type", "bad-type.zone", "bad-type.zone:3: "},
		{"$INCLUDE", "bad-include.zone",
		    "bad-include.zone:3: $INCLUDE is not supported"},
		{"missing file", "no-such.zone", "no-such.zone: No such file"},
	};
	struct am_buf why = AM_BUF_INIT(1024);
	char path[1024];
	const char *paths[1] = { path };
	const char *w, *at;
	size_t i;
	int bad = 0;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		am_buf_reset(&why);
		zpath(path, sizeof(path), c[i].file);
		if (am_dns_zone_new(paths, 1, &why) != NULL) {
			print_error("FAIL %s: loaded\n", c[i].name);
			bad++;
			continue;
		}
		w = am_buf_str(&why);
		at = strstr(w, c[i].file);
		if (at == NULL || strncmp(at, c[i].want, strlen(c[i].want))) {
			print_error("FAIL %s: got \"%s\" expected \"...%s\"\n",
			    c[i].name, w, c[i].want);
			bad++;
		}
	}
	am_buf_release(&why);
	assert_int_equal(bad, 0);
}

/* 20000 names load and answer quickly. */
static void
test_zone_many_names(void **state)
{
	char path[] = "/tmp/am-test-dns-XXXXXX";
	const char *paths[1] = { path };
	struct am_buf why = AM_BUF_INIT(1024);
	struct am_dns_answer *a;
	struct am_dns *d;
	char name[64];
	FILE *fp;
	int fd, i;
	clock_t t0;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	fp = fdopen(fd, "w");
	fprintf(fp, "$ORIGIN big.test.\n@ 60 IN SOA ns h 1 2 3 4 5\n");
	for (i = 0; i < 20000; i++)
		fprintf(fp, "h%d.s%d 60 IN A 10.%d.%d.%d\n", i, i % 100,
		    i >> 16, (i >> 8) & 255, i & 255);
	fprintf(fp, "dup 60 IN A 10.9.9.9\ndup 70 IN A 10.9.9.9\n");
	for (i = 0; i < 300; i++)
		fprintf(fp, "wide 60 IN A 10.8.%d.%d\n", i >> 8, i & 255);
	fclose(fp);
	t0 = clock();
	d = am_dns_zone_new(paths, 1, &why);
	unlink(path);
	assert_non_null(d);
	for (i = 0; i < 20000; i += 7) {
		snprintf(name, sizeof(name), "H%d.s%d.big.test", i, i % 100);
		a = ask(d, name, AM_DNS_T_A, AM_DNS_OK);
		assert_int_equal(a->rr[0].addr[3], i & 255);
		am_dns_answer_free(a);
	}
	am_dns_answer_free(ask(d, "s42.big.test", AM_DNS_T_A,
	    AM_DNS_NODATA));
	am_dns_answer_free(ask(d, "s100.big.test", AM_DNS_T_A,
	    AM_DNS_NXDOMAIN));
	a = ask(d, "dup.big.test", AM_DNS_T_A, AM_DNS_OK);
	assert_int_equal(a->count, 1);
	am_dns_answer_free(a);
	/* 300 records at one name: a normal answer (issue 9 item 16) */
	a = ask(d, "wide.big.test", AM_DNS_T_A, AM_DNS_OK);
	assert_int_equal(a->count, 300);
	am_dns_answer_free(a);
	print_message("20000 names: load and 2858 lookups in %.0f ms CPU\n",
	    (double)(clock() - t0) * 1000 / CLOCKS_PER_SEC);
	am_dns_free(d);
	am_buf_release(&why);
}

static void
test_flaky_wrapper(void **state)
{
	struct am_dns *d;
	struct flaky *f;
	struct am_buf why = AM_BUF_INIT(256);
	struct am_dns_answer *a = NULL;

	(void)state;
	d = flaky_new(zone_open(), &f);
	assert_int_equal(am_dns_query(d, "WWW.example.test", AM_DNS_T_A, &a,
	    &why), AM_DNS_TEMPFAIL);
	assert_null(a);
	assert_non_null(strstr(am_buf_str(&why), "timeout"));
	am_dns_answer_free(ask(d, "www.example.test", AM_DNS_T_AAAA,
	    AM_DNS_OK));
	am_buf_release(&why);
	am_dns_free(d);
}

/* ---- cache ---- */

struct fclock {
	time_t t;
};

static time_t
fclock_now(void *arg)
{
	return __atomic_load_n(&((struct fclock *)arg)->t, __ATOMIC_RELAXED);
}

/* A cache over the zone files; *inner is the zone layer, for counting. */
static struct am_dns *
cache_open(size_t max, uint32_t neg_max, struct am_dns **inner,
    struct fclock *clk)
{
	struct am_dns *d;

	*inner = zone_open();
	d = am_dns_cache_new(*inner, max, neg_max);
	assert_non_null(d);
	if (clk != NULL)
		am_dns_cache_set_clock(d, fclock_now, clk);
	return d;
}

/* Ask through the cache; assert how many queries reached the inner layer. */
static void
cask(struct am_dns *d, struct am_dns *inner, const char *name, int type,
    enum am_dns_status st, unsigned long inner_queries)
{
	am_dns_answer_free(ask(d, name, type, st));
	if (inner->queries != inner_queries)
		fail_msg("%s/%d: inner layer saw %lu queries, expected %lu",
		    name, type, inner->queries, inner_queries);
}

static void
test_cache_hit(void **state)
{
	struct am_dns *inner, *d = cache_open(100, 3600, &inner, NULL);
	struct am_dns_answer *a, *b;

	(void)state;
	a = ask(d, "www.example.test", AM_DNS_T_A, AM_DNS_OK);
	b = ask(d, "www.example.test", AM_DNS_T_A, AM_DNS_OK);
	assert_ptr_equal(a, b);
	assert_int_equal(inner->queries, 1);
	cask(d, inner, "WWW.Example.TEST.", AM_DNS_T_A, AM_DNS_OK, 1);
	cask(d, inner, "www.example.test", AM_DNS_T_AAAA, AM_DNS_OK, 2);
	cask(d, inner, "www.example.test", AM_DNS_T_AAAA, AM_DNS_OK, 2);
	assert_int_equal(d->queries, 5);
	am_dns_answer_free(a);
	am_dns_answer_free(b);
	am_dns_free(d);
}

/* A layer that forwards to the zone but cannot answer without "the network". */
static enum am_dns_status
remote_query(void *state, const char *name, int type,
    struct am_dns_answer **ans, struct am_buf *why)
{
	return am_dns_query(state, name, type, ans, why);
}

static void
remote_close(void *state)
{
	am_dns_free(state);
}

static const struct am_dns_backend remote_backend = {
	.name = "remote", .query = remote_query, .close = remote_close,
};

static void
test_cache_cached(void **state)
{
	struct fclock clk = { 1000 };
	struct am_dns *zone = zone_open(), *remote, *d;

	(void)state;
	/* The zone back end answers from memory. */
	assert_int_equal(am_dns_cached(zone, "www.example.test", AM_DNS_T_A), 1);
	remote = am_dns_new(&remote_backend, zone);
	assert_int_equal(am_dns_cached(remote, "www.example.test", AM_DNS_T_A), 0);
	d = am_dns_cache_new(remote, 100, 3600);
	am_dns_cache_set_clock(d, fclock_now, &clk);
	assert_int_equal(am_dns_cached(d, "www.example.test", AM_DNS_T_A), 0);
	am_dns_answer_free(ask(d, "www.example.test", AM_DNS_T_A, AM_DNS_OK));
	assert_int_equal(am_dns_cached(d, "WWW.example.test.", AM_DNS_T_A), 1);
	assert_int_equal(am_dns_cached(d, "www.example.test", AM_DNS_T_AAAA), 0);
	clk.t = 1300;           /* TTL 300: expired */
	assert_int_equal(am_dns_cached(d, "www.example.test", AM_DNS_T_A), 0);
	assert_int_equal(am_dns_cached(d, "bad..name", AM_DNS_T_A), 0);
	am_dns_free(d);
}

static void
test_cache_expiry(void **state)
{
	struct fclock clk = { 1000 };
	struct am_dns *inner, *d = cache_open(100, 3600, &inner, &clk);

	(void)state;
	cask(d, inner, "www.example.test", AM_DNS_T_A, AM_DNS_OK, 1);
	clk.t = 1299;           /* TTL 300 */
	cask(d, inner, "www.example.test", AM_DNS_T_A, AM_DNS_OK, 1);
	clk.t = 1300;
	cask(d, inner, "www.example.test", AM_DNS_T_A, AM_DNS_OK, 2);
	clk.t = 1599;
	cask(d, inner, "www.example.test", AM_DNS_T_A, AM_DNS_OK, 2);
	clk.t = 1600;
	cask(d, inner, "www.example.test", AM_DNS_T_A, AM_DNS_OK, 3);
	am_dns_free(d);
}

static void
test_cache_negative(void **state)
{
	struct fclock clk = { 0 };
	struct am_dns *inner, *d;

	(void)state;
	/* capped: the SOA says 120, neg_ttl_max 60 wins */
	d = cache_open(100, 60, &inner, &clk);
	cask(d, inner, "nope.example.test", AM_DNS_T_A, AM_DNS_NXDOMAIN, 1);
	cask(d, inner, "onlytxt.example.test", AM_DNS_T_A, AM_DNS_NODATA, 2);
	clk.t = 59;
	cask(d, inner, "nope.example.test", AM_DNS_T_A, AM_DNS_NXDOMAIN, 2);
	cask(d, inner, "onlytxt.example.test", AM_DNS_T_A, AM_DNS_NODATA, 2);
	clk.t = 60;
	cask(d, inner, "nope.example.test", AM_DNS_T_A, AM_DNS_NXDOMAIN, 3);
	cask(d, inner, "onlytxt.example.test", AM_DNS_T_A, AM_DNS_NODATA, 4);
	d = am_dns_free(d);
	/* not capped: the SOA's 120 */
	clk.t = 0;
	d = cache_open(100, 3600, &inner, &clk);
	cask(d, inner, "nope.example.test", AM_DNS_T_A, AM_DNS_NXDOMAIN, 1);
	clk.t = 119;
	cask(d, inner, "nope.example.test", AM_DNS_T_A, AM_DNS_NXDOMAIN, 1);
	clk.t = 120;
	cask(d, inner, "nope.example.test", AM_DNS_T_A, AM_DNS_NXDOMAIN, 2);
	d = am_dns_free(d);
	/* neg_ttl_max 0: no negative caching at all */
	d = cache_open(100, 0, &inner, &clk);
	cask(d, inner, "nope.example.test", AM_DNS_T_A, AM_DNS_NXDOMAIN, 1);
	cask(d, inner, "nope.example.test", AM_DNS_T_A, AM_DNS_NXDOMAIN, 2);
	am_dns_free(d);
}

static void
test_cache_tempfail(void **state)
{
	struct am_dns *inner, *d;
	struct flaky *f;

	(void)state;
	d = cache_open(100, 3600, &inner, NULL);
	cask(d, inner, "loop1.example.test", AM_DNS_T_A, AM_DNS_TEMPFAIL, 1);
	cask(d, inner, "loop1.example.test", AM_DNS_T_A, AM_DNS_TEMPFAIL, 2);
	am_dns_free(d);
	/* the same through the test wrapper's timeouts */
	inner = flaky_new(zone_open(), &f);
	d = am_dns_cache_new(inner, 100, 3600);
	cask(d, inner, "www.example.test", AM_DNS_T_A, AM_DNS_TEMPFAIL, 1);
	cask(d, inner, "www.example.test", AM_DNS_T_A, AM_DNS_TEMPFAIL, 2);
	cask(d, inner, "www.example.test", AM_DNS_T_AAAA, AM_DNS_OK, 3);
	cask(d, inner, "www.example.test", AM_DNS_T_AAAA, AM_DNS_OK, 3);
	assert_int_equal(f->calls, 3);
	am_dns_free(d);
}

static void
test_cache_lru(void **state)
{
	struct am_dns *inner, *d = cache_open(2, 3600, &inner, NULL);

	(void)state;
	cask(d, inner, "www.example.test", AM_DNS_T_A, AM_DNS_OK, 1);     /* a */
	cask(d, inner, "www.example.test", AM_DNS_T_AAAA, AM_DNS_OK, 2);  /* b */
	cask(d, inner, "www.example.test", AM_DNS_T_A, AM_DNS_OK, 2);     /* a */
	cask(d, inner, "example.test", AM_DNS_T_MX, AM_DNS_OK, 3);    /* c, -b */
	cask(d, inner, "www.example.test", AM_DNS_T_A, AM_DNS_OK, 3);     /* a */
	cask(d, inner, "www.example.test", AM_DNS_T_AAAA, AM_DNS_OK, 4);  /* -c */
	cask(d, inner, "www.example.test", AM_DNS_T_A, AM_DNS_OK, 4);     /* a */
	cask(d, inner, "example.test", AM_DNS_T_MX, AM_DNS_OK, 5);
	am_dns_free(d);
}

/* What each thread asks, and the first record's rendering it expects. */

static void
test_cache_threads(void **state)
{
	struct am_dns *inner, *d;

	(void)state;
	/* room for all: mostly hits */
	d = cache_open(100, 3600, &inner, NULL);
	run_threads(d, 5000);
	print_message("8 threads, room for all: %lu of %lu reached the zone\n",
	    inner->queries, d->queries);
	/* loop2 (1 in 9) is TEMPFAIL, never cached; the rest hit */
	assert_true(inner->queries < d->queries / 9 + 200);
	am_dns_free(d);
	/* room for 3 of 9: constant eviction */
	d = cache_open(3, 3600, &inner, NULL);
	run_threads(d, 5000);
	print_message("8 threads, room for 3: %lu of %lu reached the zone\n",
	    inner->queries, d->queries);
	am_dns_free(d);
}


/* ---- the per-message layer ---- */

/*
 * A back end on a fake clock: each query takes step ms of it; names equal
 * to fail time out; with gate set, a query waits for the test to open it.
 */
struct tick {
	struct am_dns *inner;
	uint64_t now, step;
	unsigned long calls;
	uint64_t last_deadline;   /* ctl->deadline of the last query */
	const char *fail;
	int gate, entered, open;  /* atomics */
};

static enum am_dns_status
tick_query_ctl(void *state, const char *name, int type, struct am_dns_ctl *ctl,
    struct am_dns_answer **ans, struct am_buf *why)
{
	struct tick *t = state;

	__atomic_add_fetch(&t->calls, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&t->entered, 1, __ATOMIC_SEQ_CST);
	t->last_deadline = ctl->deadline;
	while (t->gate && !__atomic_load_n(&t->open, __ATOMIC_SEQ_CST))
		usleep(1000);
	__atomic_add_fetch(&t->now, t->step, __ATOMIC_SEQ_CST);
	if (t->fail != NULL && strcasecmp(name, t->fail) == 0) {
		am_buf_setf(why, "no answer from 192.0.2.53@53 (test)");
		return AM_DNS_TEMPFAIL;
	}
	return am_dns_query(t->inner, name, type, ans, why);
}

static enum am_dns_status
tick_query(void *state, const char *name, int type,
    struct am_dns_answer **ans, struct am_buf *why)
{
	struct am_dns_ctl ctl = { 0, NULL, 0, 0 };

	return tick_query_ctl(state, name, type, &ctl, ans, why);
}

static uint64_t
tick_clock(void *state)
{
	return __atomic_load_n(&((struct tick *)state)->now, __ATOMIC_SEQ_CST);
}

static void
tick_close(void *state)
{
	am_dns_free(((struct tick *)state)->inner);
}

static const struct am_dns_backend tick_backend = {
	.name = "tick", .query = tick_query, .close = tick_close,
	.query_ctl = tick_query_ctl, .clock = tick_clock,
};

/* The shared stack of the engine (cache over tick over the zone). */
static struct am_dns *
tick_stack(struct tick *t, uint64_t step, const char *fail)
{
	memset(t, 0, sizeof(*t));
	t->inner = zone_open();
	t->now = 1000000;
	t->step = step;
	t->fail = fail;
	return am_dns_cache_new(am_dns_new(&tick_backend, t), 100, 3600);
}

/* Ask and check the status; the answer is dropped. */
static void
mask(struct am_dns *d, const char *name, int type, enum am_dns_status want,
    const char *why_has)
{
	struct am_buf why = AM_BUF_INIT(256);
	struct am_dns_answer *a = NULL;
	enum am_dns_status st;

	st = am_dns_query(d, name, type, &a, &why);
	if (st != want || (why_has != NULL &&
	    strstr(am_buf_str(&why), why_has) == NULL))
		fail_msg("%s: got %s (%s), want %s (%s)", name,
		    am_dns_status_name(st), am_buf_str(&why),
		    am_dns_status_name(want), why_has ? why_has : "");
	am_dns_answer_free(a);
	am_buf_release(&why);
}

/* The trace rendered as "name/TYPE/status/source" joined by " | ". */
static void
trace_line(const struct am_dns_trace *t, void *arg)
{
	struct am_buf *out = arg;
	char tb[16];

	am_buf_printf(out, "%s%s/%s/%s/%s", out->len > 0 ? " | " : "",
	    t->name, am_dns_type_name(t->type, tb, sizeof(tb)),
	    am_dns_status_name(t->status), am_dns_source_name(t->source));
}

/*
 * Issue 9 item 10: a domain that never answers, asked by the early-lookup
 * thread and again by the session thread. Each lookup takes 10 s (the
 * default DNSTimeout 5 s times DNSRetries 2).
 */
static void
test_msg_remembers_tempfail(void **state)
{
	const char *names[2] = { "sel._domainkey.example.test",
	    "_dmarc.example.test" };
	struct am_dns *shared, *d;
	struct tick t;
	int pass, i;
	uint64_t t0;

	(void)state;
	/* without the layer (as before): each name costs its timeout twice */
	shared = tick_stack(&t, 10000, NULL);
	for (pass = 0, t0 = t.now; pass < 2; pass++)
		for (i = 0; i < 2; i++) {
			t.fail = names[i];
			mask(shared, names[i], AM_DNS_T_TXT, AM_DNS_TEMPFAIL,
			    "no answer");
		}
	print_message("cache only: %lu queries, %.0f s\n", t.calls,
	    (double)(t.now - t0) / 1000);
	assert_int_equal(t.calls, 4);
	am_dns_free(shared);
	/* with it: asked once each, the second time answered at once */
	shared = tick_stack(&t, 10000, NULL);
	d = am_dns_msg_new(shared);
	for (pass = 0, t0 = t.now; pass < 2; pass++)
		for (i = 0; i < 2; i++) {
			t.fail = names[i];
			mask(d, names[i], AM_DNS_T_TXT, AM_DNS_TEMPFAIL,
			    "no answer from 192.0.2.53@53");
		}
	print_message("message layer: %lu queries, %.0f s\n", t.calls,
	    (double)(t.now - t0) / 1000);
	assert_int_equal(t.calls, 2);
	/* a new message asks again: failures are not cached across */
	d = am_dns_free(d);
	d = am_dns_msg_new(shared);
	t.fail = names[0];
	mask(d, names[0], AM_DNS_T_TXT, AM_DNS_TEMPFAIL, NULL);
	assert_int_equal(t.calls, 3);
	am_dns_free(d);
	am_dns_free(shared);
}

static void
test_msg_deadline(void **state)
{
	struct am_buf tr = AM_BUF_INIT(1024);
	struct am_dns *shared, *d;
	struct tick t;
	uint64_t dl;

	(void)state;
	shared = tick_stack(&t, 600, NULL);
	d = am_dns_msg_new(shared);
	assert_non_null(d);
	dl = am_dns_clock(d) + 1000;
	am_dns_msg_set_deadline(d, dl);
	mask(d, "www.example.test", AM_DNS_T_A, AM_DNS_OK, NULL);
	/* the query in flight was given the message deadline */
	assert_true(t.last_deadline == dl);
	mask(d, "www.example.test", AM_DNS_T_AAAA, AM_DNS_OK, NULL);
	assert_int_equal(t.calls, 2);
	/* 1200 ms used of 1000: everything fails at once, nothing is sent */
	mask(d, "example.test", AM_DNS_T_MX, AM_DNS_TEMPFAIL,
	    "message deadline passed");
	mask(d, "www.example.test", AM_DNS_T_A, AM_DNS_TEMPFAIL,
	    "message deadline passed");
	assert_int_equal(t.calls, 2);
	assert_int_equal(am_dns_msg_trace(d, trace_line, &tr), 0);
	assert_string_equal(am_buf_str(&tr), "www.example.test/A/ok/wire | "
	    "www.example.test/AAAA/ok/wire | example.test/MX/tempfail/deadline"
	    " | www.example.test/A/tempfail/deadline");
	am_buf_release(&tr);
	am_dns_free(d);
	am_dns_free(shared);
}

struct asker {
	struct am_dns *d;
	enum am_dns_status st;
	pthread_t th;
};

static void *
asker_run(void *arg)
{
	struct asker *k = arg;
	struct am_dns_answer *a = NULL;

	k->st = am_dns_query(k->d, "www.example.test", AM_DNS_T_A, &a, NULL);
	am_dns_answer_free(a);
	return NULL;
}

/* Two threads asking the same name at once send one query. */
static void
test_msg_shared_inflight(void **state)
{
	struct am_buf tr = AM_BUF_INIT(1024);
	struct asker k[2];
	struct am_dns *shared, *d;
	struct tick t;
	int i;

	(void)state;
	shared = tick_stack(&t, 1, NULL);
	t.gate = 1;
	d = am_dns_msg_new(shared);
	k[0].d = k[1].d = d;
	assert_int_equal(pthread_create(&k[0].th, NULL, asker_run, &k[0]), 0);
	while (!__atomic_load_n(&t.entered, __ATOMIC_SEQ_CST))
		usleep(1000);
	assert_int_equal(pthread_create(&k[1].th, NULL, asker_run, &k[1]), 0);
	usleep(50000);          /* let it wait; if it is late it reuses */
	__atomic_store_n(&t.open, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < 2; i++) {
		pthread_join(k[i].th, NULL);
		assert_int_equal(k[i].st, AM_DNS_OK);
	}
	assert_int_equal(t.calls, 1);
	am_dns_msg_trace(d, trace_line, &tr);
	print_message("two threads: %s\n", am_buf_str(&tr));
	assert_non_null(strstr(am_buf_str(&tr), "www.example.test/A/ok/wire"));
	am_buf_release(&tr);
	am_dns_free(d);
	am_dns_free(shared);
}

/* The trace says where each answer came from. */
static void
test_msg_trace(void **state)
{
	struct am_buf tr = AM_BUF_INIT(1 << 16);
	struct am_dns *shared, *d;
	struct tick t;
	char name[64];
	int i;

	(void)state;
	shared = tick_stack(&t, 1, "slow.example.test");
	d = am_dns_msg_new(shared);
	mask(d, "www.example.test", AM_DNS_T_A, AM_DNS_OK, NULL);
	mask(d, "www.example.test", AM_DNS_T_A, AM_DNS_OK, NULL);
	mask(d, "nothing.example.test", AM_DNS_T_A, AM_DNS_NXDOMAIN, NULL);
	mask(d, "slow.example.test", AM_DNS_T_TXT, AM_DNS_TEMPFAIL, NULL);
	d = am_dns_free(d);
	d = am_dns_msg_new(shared);     /* the next message */
	mask(d, "www.example.test", AM_DNS_T_A, AM_DNS_OK, NULL);
	assert_int_equal(am_dns_cached(d, "www.example.test", AM_DNS_T_A), 1);
	am_dns_msg_trace(d, trace_line, &tr);
	assert_string_equal(am_buf_str(&tr), "www.example.test/A/ok/cache");
	assert_int_equal(t.calls, 3);
	d = am_dns_free(d);
	/* at most AM_DNS_TRACE_MAX lines; the rest are counted */
	d = am_dns_msg_new(shared);
	for (i = 0; i < AM_DNS_TRACE_MAX + 44; i++) {
		snprintf(name, sizeof(name), "n%d.example.test", i);
		am_dns_answer_free(ask(d, name, AM_DNS_T_A, AM_DNS_NXDOMAIN));
	}
	am_buf_reset(&tr);
	assert_int_equal(am_dns_msg_trace(d, trace_line, &tr), 44);
	am_buf_release(&tr);
	am_dns_free(d);
	am_dns_free(shared);
}

int
main(void)
{
	const struct CMUnitTest local[] = {
		cmocka_unit_test(test_name_check),
		cmocka_unit_test(test_badname_not_sent),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_answer_refs),
		cmocka_unit_test(test_zone_table),
		cmocka_unit_test(test_zone_big_txt),
		cmocka_unit_test(test_zone_bad_files),
		cmocka_unit_test(test_zone_many_names),
		cmocka_unit_test(test_flaky_wrapper),
		cmocka_unit_test(test_cache_hit),
		cmocka_unit_test(test_cache_expiry),
		cmocka_unit_test(test_cache_cached),
		cmocka_unit_test(test_cache_negative),
		cmocka_unit_test(test_cache_tempfail),
		cmocka_unit_test(test_cache_lru),
		cmocka_unit_test(test_cache_threads),
		cmocka_unit_test(test_msg_remembers_tempfail),
		cmocka_unit_test(test_msg_deadline),
		cmocka_unit_test(test_msg_shared_inflight),
		cmocka_unit_test(test_msg_trace),
	};
	int fails;

	fails = cmocka_run_group_tests_name("dns", local, NULL, NULL);
	return fails != 0;
}
