/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for lib/jobs: jobs run once, by a worker or by the waiter;
 * a pool of 0 threads runs them inline; cancel drops a job no thread took.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include "jobs.h"

struct counter {
	int runs;
	int sleep_us;
	int started;
};

static void
count(void *arg)
{
	struct counter *c = arg;

	__atomic_store_n(&c->started, 1, __ATOMIC_SEQ_CST);
	if (c->sleep_us > 0)
		usleep((useconds_t)c->sleep_us);
	__atomic_add_fetch(&c->runs, 1, __ATOMIC_SEQ_CST);
}

static void
test_pool_runs_each_once(void **state)
{
	struct am_jobs *p = am_jobs_new(3);
	struct am_job j[200];
	struct counter c[200];
	int i;

	(void)state;
	assert_non_null(p);
	for (i = 0; i < 200; i++) {
		c[i].runs = c[i].started = 0;
		c[i].sleep_us = i % 7 == 0 ? 200 : 0;
		j[i].state = 0;
		am_jobs_submit(p, &j[i], count, &c[i]);
	}
	for (i = 0; i < 200; i++)
		am_jobs_wait(p, &j[i]);
	for (i = 0; i < 200; i++)
		assert_int_equal(c[i].runs, 1);
	/* Waiting again runs nothing. */
	am_jobs_wait(p, &j[0]);
	assert_int_equal(c[0].runs, 1);
	assert_null(am_jobs_free(p));
}

static void
test_inline_pool(void **state)
{
	struct am_jobs *p = am_jobs_new(0);
	struct counter c = { 0, 0, 0 }, d = { 0, 0, 0 };
	struct am_job j = { 0 }, k = { 0 }, idle = { 0 };

	(void)state;
	assert_non_null(p);
	am_jobs_submit(p, &j, count, &c);
	assert_int_equal(c.runs, 0);        /* nothing runs it but the waiter */
	am_jobs_wait(p, &j);
	assert_int_equal(c.runs, 1);
	am_jobs_submit(p, &k, count, &d);
	am_jobs_cancel(p, &k);              /* dropped, never run */
	am_jobs_wait(p, &k);
	assert_int_equal(d.runs, 0);
	am_jobs_wait(p, &idle);             /* never submitted: no-op */
	am_jobs_cancel(p, &idle);
	assert_null(am_jobs_free(p));
	assert_null(am_jobs_free(NULL));
}

static void
test_cancel_waits_for_running(void **state)
{
	struct am_jobs *p = am_jobs_new(1);
	struct counter slow = { 0, 50000, 0 }, fast = { 0, 0, 0 };
	struct am_job a = { 0 }, b = { 0 };
	int i;

	(void)state;
	assert_non_null(p);
	am_jobs_submit(p, &a, count, &slow);
	am_jobs_submit(p, &b, count, &fast);
	/* Until the one worker is inside a (bounded: 10 s). */
	for (i = 0; i < 10000 && !__atomic_load_n(&slow.started, __ATOMIC_SEQ_CST); i++)
		usleep(1000);
	assert_true(slow.started);
	am_jobs_cancel(p, &b);              /* b still queued: dropped */
	am_jobs_cancel(p, &a);              /* a running: waits for it */
	assert_int_equal(slow.runs, 1);
	assert_int_equal(fast.runs, 0);
	assert_null(am_jobs_free(p));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_runs_each_once),
		cmocka_unit_test(test_inline_pool),
		cmocka_unit_test(test_cancel_waits_for_running),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
