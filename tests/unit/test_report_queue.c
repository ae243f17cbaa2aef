/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for lib/report_row.c and lib/report_queue.c: capped row
 * copies, and the bounded queue with its writer thread.
 *
 * The stores here are fakes (a sink that records, one that fails, one that
 * blocks until the test opens a gate): the queue's contract is about what
 * it does when the store misbehaves, which a real database cannot be made
 * to do on cue. The SQLite store has its own test on a real file.
 * No test depends on timing: the blocking sink is released by the test,
 * and the flush interval is set far beyond any test's run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "report.h"

/* ---- row copies ---- */

static char *
repeat(int c, size_t n)
{
	char *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void
base_row(struct am_report_row *r)
{
	memset(r, 0, sizeof(*r));
	r->time = 1700000000;
	r->source_ip = "192.0.2.1";
	r->policy_domain = "example.com";
	r->header_from = "example.com";
	r->envelope_from = "example.com";
	r->p = AM_REPORT_P_REJECT;
	r->adkim = r->aspf = 'r';
	r->testing = 'n';
}

struct cap_case {
	const char *name;
	size_t in_len;        /* bytes of 'a' put in the field */
	size_t want_len;      /* bytes kept */
	int field;            /* 0 header_from, 1 selector, 2 human, 3 ip */
};

static const struct cap_case cap_cases[] = {
	{ "1000-byte From domain cut to 253", 1000, AM_REPORT_DOMAIN_MAX, 0 },
	{ "253-byte From domain kept", 253, 253, 0 },
	{ "1000-byte selector cut to 64", 1000, AM_REPORT_SELECTOR_MAX, 1 },
	{ "5000-byte reason cut to 1024", 5000, AM_REPORT_REASON_MAX, 2 },
	{ "1000-byte IP cut to 45", 1000, AM_REPORT_IP_MAX, 3 },
};

static void
test_row_caps(void **state)
{
	struct am_report_row r, *c;
	struct am_report_dkim d = { "example.com", "s1", AM_REPORT_DKIM_PASS,
	    NULL, 1 };
	size_t i, got;
	char *s;

	(void)state;
	for (i = 0; i < sizeof(cap_cases) / sizeof(cap_cases[0]); i++) {
		const struct cap_case *k = &cap_cases[i];
		base_row(&r);
		s = repeat('a', k->in_len);
		r.dkim = &d;
		r.ndkim = 1;
		d.selector = "s1";
		d.human = NULL;
		if (k->field == 0)
			r.header_from = s;
		else if (k->field == 1)
			d.selector = s;
		else if (k->field == 2)
			d.human = s;
		else
			r.source_ip = s;
		c = am_report_row_copy(&r);
		assert_non_null(c);
		got = strlen(k->field == 0 ? c->header_from : k->field == 1 ?
		    c->dkim[0].selector : k->field == 2 ? c->dkim[0].human :
		    c->source_ip);
		if (got != k->want_len)
			fail_msg("%s: kept %zu bytes, want %zu", k->name, got,
			    k->want_len);
		am_report_row_free(c);
		free(s);
	}
}

/* A cut never splits a UTF-8 sequence. */
static void
test_row_utf8_cut(void **state)
{
	struct am_report_row r, *c;
	char s[300];
	size_t i;

	(void)state;
	base_row(&r);
	/* 252 ASCII bytes then "é" (2 bytes): the cap falls inside it */
	memset(s, 'a', 252);
	strcpy(s + 252, "\xc3\xa9zz");
	r.header_from = s;
	c = am_report_row_copy(&r);
	assert_non_null(c);
	assert_int_equal(strlen(c->header_from), 252);
	for (i = 0; i < 252; i++)
		assert_int_equal(c->header_from[i], 'a');
	am_report_row_free(c);
}

static void
test_row_uris(void **state)
{
	struct am_report_row r, *c;
	const char *uris[40];
	char *big[3];
	size_t i;

	(void)state;
	base_row(&r);
	for (i = 0; i < 40; i++)
		uris[i] = "mailto:d@example.com";
	r.rua = uris;
	r.nrua = 40;
	c = am_report_row_copy(&r);
	assert_non_null(c);
	assert_int_equal(c->nrua, AM_REPORT_URI_COUNT);
	assert_string_equal(c->rua[31], "mailto:d@example.com");
	am_report_row_free(c);

	/* three 3000-byte URIs: the third would pass 8 KB and is left out */
	for (i = 0; i < 3; i++) {
		big[i] = repeat('u', 3000);
		uris[i] = big[i];
	}
	r.ruf = uris;
	r.nruf = 3;
	r.rua = NULL;
	r.nrua = 0;
	c = am_report_row_copy(&r);
	assert_non_null(c);
	assert_int_equal(c->nruf, 2);
	assert_int_equal(strlen(c->ruf[1]), 3000);
	assert_int_equal(c->nrua, 0);
	am_report_row_free(c);
	for (i = 0; i < 3; i++)
		free(big[i]);
}

/* 150 signatures: 100 kept, in RFC 9990 s.2.1.2 preference order. */
static void
test_row_dkim_order(void **state)
{
	struct am_report_row r, *c;
	struct am_report_dkim d[150];
	size_t i;

	(void)state;
	base_row(&r);
	r.header_from = "mail.example.com";
	for (i = 0; i < 150; i++) {
		d[i].domain = "other.example";
		d[i].selector = "s";
		d[i].result = AM_REPORT_DKIM_FAIL;
		d[i].human = NULL;
		d[i].aligned = 0;
	}
	d[120].result = AM_REPORT_DKIM_PASS;       /* unaligned pass: 3rd */
	d[130].result = AM_REPORT_DKIM_PASS;       /* relaxed: 2nd */
	d[130].domain = "example.com";
	d[130].aligned = 1;
	d[140].result = AM_REPORT_DKIM_PASS;       /* strict: 1st */
	d[140].domain = "MAIL.example.com";
	d[140].aligned = 1;
	r.dkim = d;
	r.ndkim = 150;
	c = am_report_row_copy(&r);
	assert_non_null(c);
	assert_int_equal(c->ndkim, AM_REPORT_DKIM_MAX);
	assert_string_equal(c->dkim[0].domain, "MAIL.example.com");
	assert_string_equal(c->dkim[1].domain, "example.com");
	assert_int_equal(c->dkim[2].result, AM_REPORT_DKIM_PASS);
	assert_int_equal(c->dkim[3].result, AM_REPORT_DKIM_FAIL);
	am_report_row_free(c);
}

static void
test_row_required(void **state)
{
	struct am_report_row r;

	(void)state;
	base_row(&r);
	r.policy_domain = NULL;
	assert_null(am_report_row_copy(&r));
	base_row(&r);
	r.source_ip = NULL;
	assert_null(am_report_row_copy(&r));
	assert_null(am_report_row_copy(NULL));
	assert_null(am_report_row_free(NULL));
}

/* ---- fake stores ---- */

struct fake {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fail;             /* insert() returns -1 */
	int gated;            /* insert() waits until open */
	int open;
	int inside;           /* insert() is waiting at the gate */
	size_t rows;
	size_t batches[64];
	size_t nbatches;
	char first_domain[300];
	int closed;           /* close() was called (fake_closing_sink) */
};

static int
fake_insert(void *state, struct am_report_row *const *rows, size_t n,
    struct am_buf *why)
{
	struct fake *f = state;
	int rc = 0;

	pthread_mutex_lock(&f->mu);
	if (f->gated) {
		f->inside = 1;
		pthread_cond_broadcast(&f->cv);
		while (!f->open)
			pthread_cond_wait(&f->cv, &f->mu);
		f->inside = 0;
	}
	if (f->fail) {
		am_buf_setf(why, "disk full");
		rc = -1;
	} else {
		if (f->rows == 0 && n > 0)
			snprintf(f->first_domain, sizeof(f->first_domain), "%s",
			    rows[0]->policy_domain);
		f->rows += n;
		if (f->nbatches < 64)
			f->batches[f->nbatches++] = n;
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static const struct am_report_sink fake_sink = { "fake", fake_insert, NULL };

static void
fake_close(void *state)
{
	struct fake *f = state;

	pthread_mutex_lock(&f->mu);
	f->closed = 1;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

static const struct am_report_sink fake_closing_sink = {
	"fake", fake_insert, fake_close
};

static void
fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
}

static void
fake_wait_inside(struct fake *f)
{
	pthread_mutex_lock(&f->mu);
	while (!f->inside)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
}

static void
fake_open(struct fake *f)
{
	pthread_mutex_lock(&f->mu);
	f->open = 1;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

struct warnings {
	int n;
	char last[512];
	int64_t clock;
};

static void
record_warn(void *arg, const char *msg)
{
	struct warnings *w = arg;

	w->n++;
	snprintf(w->last, sizeof(w->last), "%s", msg);
}

static int64_t
test_clock(void *arg)
{
	return ((struct warnings *)arg)->clock;
}

static struct am_reporter_opts
opts(size_t qmax, size_t bmax, struct warnings *w)
{
	struct am_reporter_opts o;

	memset(&o, 0, sizeof(o));
	o.queue_max = qmax;
	o.batch_max = bmax;
	o.flush_ms = 3600000;        /* never: the tests flush */
	o.warn = record_warn;
	o.warn_arg = w;
	o.now = test_clock;
	o.now_arg = w;
	return o;
}

/* ---- queue ---- */

/* Rows reach the store as copies: the caller's strings may go away. */
static void
test_queue_commits_copies(void **state)
{
	struct warnings w = { 0, "", 1000 };
	struct am_reporter_opts o = opts(100, 10, &w);
	struct am_report_stats st;
	struct am_reporter *r;
	struct am_report_row row;
	struct fake f;
	char dom[32];
	int i;

	(void)state;
	fake_init(&f);
	r = am_reporter_new(&fake_sink, &f, &o, NULL);
	assert_non_null(r);
	for (i = 0; i < 25; i++) {
		base_row(&row);
		snprintf(dom, sizeof(dom), "d%d.example", i);
		row.policy_domain = dom;
		assert_int_equal(am_report_submit(r, &row), 0);
		memset(dom, 'X', sizeof(dom) - 1);
	}
	am_reporter_flush(r);
	am_reporter_stats(r, &st);
	assert_int_equal(st.submitted, 25);
	assert_int_equal(st.committed, 25);
	assert_int_equal(st.dropped_full + st.dropped_store + st.dropped_copy, 0);
	assert_int_equal(f.rows, 25);
	assert_string_equal(f.first_domain, "d0.example");
	/* batch_max 10, flush interval never reached: 10, 10, then 5 */
	assert_int_equal(f.nbatches, 3);
	assert_int_equal(f.batches[0], 10);
	assert_int_equal(f.batches[1], 10);
	assert_int_equal(f.batches[2], 5);
	assert_int_equal(w.n, 0);
	am_reporter_free(r);
}

/*
 * A store that hangs: the caller never waits. The writer is stuck inside
 * insert() with one row; 4 more fill the ring; the next ones are dropped
 * and counted, and am_report_submit() returns at once (were it to wait,
 * this test would hang, not pass).
 */
static void
test_queue_full_drops(void **state)
{
	struct warnings w = { 0, "", 1000 };
	struct am_reporter_opts o = opts(4, 1, &w);
	struct am_report_stats st;
	struct am_reporter *r;
	struct am_report_row row;
	struct fake f;
	int i;

	(void)state;
	fake_init(&f);
	f.gated = 1;
	r = am_reporter_new(&fake_sink, &f, &o, NULL);
	base_row(&row);
	assert_int_equal(am_report_submit(r, &row), 0);
	fake_wait_inside(&f);
	for (i = 0; i < 4; i++)
		assert_int_equal(am_report_submit(r, &row), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(am_report_submit(r, &row), -1);
	am_reporter_stats(r, &st);
	assert_int_equal(st.dropped_full, 3);
	/* one warning for the first drop; the rest wait for the interval */
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.last, "dropped 1 rows (queue full)"));
	fake_open(&f);
	am_reporter_flush(r);
	am_reporter_stats(r, &st);
	assert_int_equal(st.committed, 5);
	assert_int_equal(st.submitted, 8);
	am_reporter_free(r);
}

/* The dropped callback (the daemon's metrics): every drop, told. */
static void
count_dropped(void *arg, uint64_t n)
{
	__atomic_add_fetch((uint64_t *)arg, n, __ATOMIC_RELAXED);
}

/* A failing store: rows dropped and counted, warnings once a minute. */
static void
test_queue_store_fails(void **state)
{
	struct warnings w = { 0, "", 1000 };
	struct am_reporter_opts o = opts(100, 5, &w);
	uint64_t told = 0;
	struct am_report_stats st;
	struct am_reporter *r;
	struct am_report_row row;
	struct fake f;
	int i;

	(void)state;
	fake_init(&f);
	f.fail = 1;
	o.dropped = count_dropped;
	o.dropped_arg = &told;
	r = am_reporter_new(&fake_sink, &f, &o, NULL);
	base_row(&row);
	for (i = 0; i < 5; i++)
		assert_int_equal(am_report_submit(r, &row), 0);
	am_reporter_flush(r);
	am_reporter_stats(r, &st);
	assert_int_equal(st.dropped_store, 5);
	assert_int_equal(st.committed, 0);
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.last, "5 rows (store fake failed: disk full)"));

	/* 30 s later: more drops, no second warning yet */
	w.clock += 30;
	for (i = 0; i < 3; i++)
		am_report_submit(r, &row);
	am_reporter_flush(r);
	assert_int_equal(w.n, 1);
	/* a minute after the first: the warning counts both batches' rows */
	w.clock += 30;
	for (i = 0; i < 2; i++)
		am_report_submit(r, &row);
	am_reporter_flush(r);
	assert_int_equal(w.n, 2);
	assert_non_null(strstr(w.last, "5 rows (store fake failed"));

	/* the store recovers: rows are committed again */
	pthread_mutex_lock(&f.mu);
	f.fail = 0;
	pthread_mutex_unlock(&f.mu);
	am_report_submit(r, &row);
	am_reporter_flush(r);
	am_reporter_stats(r, &st);
	assert_int_equal(st.committed, 1);
	assert_int_equal(st.dropped_store, 10);
	assert_int_equal(__atomic_load_n(&told, __ATOMIC_RELAXED), 10);
	am_reporter_free(r);
}

/* Reporting off (no reporter) and bad rows: dropped, never a crash. */
static void
test_queue_off_and_bad(void **state)
{
	struct warnings w = { 0, "", 1000 };
	struct am_reporter_opts o = opts(10, 5, &w);
	struct am_report_stats st;
	struct am_reporter *r;
	struct am_report_row row;
	struct fake f;

	(void)state;
	base_row(&row);
	assert_int_equal(am_report_submit(NULL, &row), -1);
	fake_init(&f);
	r = am_reporter_new(&fake_sink, &f, &o, NULL);
	row.header_from = NULL;
	assert_int_equal(am_report_submit(r, &row), -1);
	am_reporter_stats(r, &st);
	assert_int_equal(st.dropped_copy, 1);
	assert_null(am_reporter_free(r));
	assert_null(am_reporter_free(NULL));
}

/* Freeing the reporter commits what is queued. */
static void
test_queue_free_drains(void **state)
{
	struct warnings w = { 0, "", 1000 };
	struct am_reporter_opts o = opts(100, 50, &w);
	struct am_reporter *r;
	struct am_report_row row;
	struct fake f;
	int i;

	(void)state;
	fake_init(&f);
	r = am_reporter_new(&fake_sink, &f, &o, NULL);
	base_row(&row);
	for (i = 0; i < 7; i++)
		am_report_submit(r, &row);
	am_reporter_free(r);
	assert_int_equal(f.rows, 7);
}

/* The writer thread is named am-report (top -H, tests/bench/run-bench). */
static void
test_queue_thread_name(void **state)
{
	struct warnings w = { 0, "", 1000 };
	struct am_reporter_opts o = opts(100, 50, &w);
	struct am_reporter *r;
	struct dirent *de;
	struct fake f;
	char path[300], name[32];
	int found = 0;
	FILE *fp;
	DIR *d;

	(void)state;
	fake_init(&f);
	r = am_reporter_new(&fake_sink, &f, &o, NULL);
	assert_non_null(r);
	assert_non_null(d = opendir("/proc/self/task"));
	while (!found && (de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
		    de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		found = fgets(name, sizeof(name), fp) != NULL &&
		    strcmp(name, "am-report\n") == 0;
		fclose(fp);
	}
	closedir(d);
	am_reporter_free(r);
	if (!found)
		fail_msg("no thread named am-report in /proc/self/task");
/*
 * A store that hangs at stop: am_reporter_free() gives up after drain_ms
 * and returns while the writer is still inside insert() (before, it waited
 * for the store for ever: this test hung until alarm() failed it). The
 * queued rows are dropped, counted and named in one warning; the batch in
 * the store's hands is left to the writer, which frees the reporter and
 * closes the sink once the store lets go.
 */
static void
test_queue_free_gives_up(void **state)
{
	struct warnings w = { 0, "", 1000 };
	struct am_reporter_opts o = opts(100, 1, &w);
	struct am_reporter *r;
	struct am_report_row row;
	uint64_t dropped = 0;
	struct fake f;
	int i, inside;

	(void)state;
	fake_init(&f);
	f.gated = 1;
	o.drain_ms = 50;
	o.dropped = count_dropped;
	o.dropped_arg = &dropped;
	r = am_reporter_new(&fake_closing_sink, &f, &o, NULL);
	assert_non_null(r);
	base_row(&row);
	for (i = 0; i < 3; i++)
		assert_int_equal(am_report_submit(r, &row), 0);
	fake_wait_inside(&f);
	assert_null(am_reporter_free(r));
	pthread_mutex_lock(&f.mu);
	inside = f.inside;
	pthread_mutex_unlock(&f.mu);
	assert_int_equal(inside, 1);         /* returned while the store hangs */
	assert_int_equal(dropped, 2);
	assert_int_equal(w.n, 1);
	if (strstr(w.last, "3 rows not written at stop: 2 queued (dropped), "
	    "1 in a batch the store fake has not answered") == NULL)
		fail_msg("warning: %s", w.last);
	fake_open(&f);
	pthread_mutex_lock(&f.mu);
	while (!f.closed)
		pthread_cond_wait(&f.cv, &f.mu);
	pthread_mutex_unlock(&f.mu);
	assert_int_equal(f.rows, 1);         /* the batch it had, committed */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_row_caps),
		cmocka_unit_test(test_row_utf8_cut),
		cmocka_unit_test(test_row_uris),
		cmocka_unit_test(test_row_dkim_order),
		cmocka_unit_test(test_row_required),
		cmocka_unit_test(test_queue_commits_copies),
		cmocka_unit_test(test_queue_full_drops),
		cmocka_unit_test(test_queue_store_fails),
		cmocka_unit_test(test_queue_off_and_bad),
		cmocka_unit_test(test_queue_free_drains),
		cmocka_unit_test(test_queue_thread_name),
		cmocka_unit_test(test_queue_free_gives_up),
	};

	/* a hang (a caller blocked by the store) fails instead of stalling */
	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
