/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_queue: the bounded queue between the message threads and the
 * report store, and the one writer thread that drains it. See report.h.
 *
 * am_report_submit() copies the row before taking the lock, then holds the
 * lock only to put a pointer into a ring of queue_max slots: a full ring
 * drops the row (counted), so a slow or dead store never delays a message.
 * Rows carrying a failure report (a header block of up to 64 KiB) are
 * capped apart, at fail_max in the ring: past it a row is queued without
 * its failure report (counted as dropped_failure), so the queue's memory
 * stays bounded by queue_max small rows plus fail_max header blocks.
 * The writer takes up to batch_max rows out under the lock and calls the
 * sink's insert() without it; it wakes when a batch is full, when flush_ms
 * have passed since it last committed, or when asked to flush or stop. A
 * batch the store refuses is dropped and counted. Warnings about drops are
 * rate-limited (warn_interval) and say how many rows were lost since the
 * previous warning and why.
 *
 * am_reporter_free() drains the queue, but waits at most drain_ms for a
 * store that does not answer (a server that hangs, not one that refuses:
 * a refusing store fails each batch at once): then the rows still queued
 * are dropped, counted and named in one warning, and the writer thread is
 * left to itself (abandoned); it frees the reporter and closes the sink if
 * the store ever lets go of it, and otherwise ends with the process. So a
 * stop never waits for the store for longer than drain_ms.
 *
 * Locking: one mutex (mu) guards every field below it in struct
 * am_reporter; the sink is called by the writer thread only.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report.h"

struct am_reporter {
	const struct am_report_sink *sink;  /* set at creation */
	void *state;
	struct am_reporter_opts o;          /* defaults filled in */
	struct am_report_row **batch;       /* writer thread only */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t wake;                /* writer: work, flush or stop */
	pthread_cond_t done;                /* flushers: a batch finished */
	/* covered by mu */
	struct am_report_row **ring;
	size_t head, count;
	uint64_t taken;                     /* rows the writer took out */
	uint64_t finished;                  /* ... and committed or dropped */
	uint64_t enqueued;                  /* rows ever put in the ring */
	size_t fail_queued;                 /* rows in the ring with a
	                                       failure report */
	int flush_wanted, stop;
	int abandoned;                      /* free gave up: the writer frees */
	struct am_report_stats st;
	uint64_t warned_full, warned_store; /* drop counts at the last warning */
	uint64_t warned_failure;
	int64_t warned_at;                  /* 0: never warned */
	char last_error[256];               /* the store's last why */
};

static int64_t
mono_now(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/*
 * With mu held: when drops happened since the last warning and the
 * interval has passed, format a warning into msg and return 1.
 */
static int
warning_due(struct am_reporter *r, char *msg, size_t size)
{
	uint64_t full = r->st.dropped_full - r->warned_full;
	uint64_t store = r->st.dropped_store - r->warned_store;
	uint64_t failure = r->st.dropped_failure - r->warned_failure;
	int64_t now;

	if (r->o.warn == NULL || (full == 0 && store == 0 && failure == 0))
		return 0;
	now = r->o.now(r->o.now_arg);
	if (r->warned_at != 0 && now - r->warned_at < (int64_t)r->o.warn_interval)
		return 0;
	r->warned_at = now != 0 ? now : 1;
	if (full == 0 && store == 0) {
		/* rows kept, their failure reports (header blocks) not */
		r->warned_failure = r->st.dropped_failure;
		snprintf(msg, size, "report: dropped %llu failure reports (%zu "
		    "already queued)", (unsigned long long)failure,
		    r->o.fail_max);
		return 1;
	}
	r->warned_full = r->st.dropped_full;
	r->warned_store = r->st.dropped_store;
	if (store > 0)
		snprintf(msg, size, "report: dropped %llu rows (queue full), "
		    "%llu rows (store %s failed: %s)", (unsigned long long)full,
		    (unsigned long long)store, r->sink->name, r->last_error);
	else
		snprintf(msg, size, "report: dropped %llu rows (queue full)",
		    (unsigned long long)full);
	return 1;
}

/* Take up to batch_max rows out of the ring (mu held). */
static size_t
take_batch(struct am_reporter *r, struct am_report_row **batch)
{
	size_t n = 0;

	while (r->count > 0 && n < r->o.batch_max) {
		if (r->ring[r->head]->failure != NULL)
			r->fail_queued--;
		batch[n++] = r->ring[r->head];
		r->ring[r->head] = NULL;
		r->head = (r->head + 1) % r->o.queue_max;
		r->count--;
	}
	r->taken += n;
	return n;
}

/* Commit one batch (called without mu), count it, warn if due. */
static void
commit_batch(struct am_reporter *r, struct am_report_row **batch, size_t n)
{
	struct am_buf why = AM_BUF_INIT(255);
	char msg[512];
	int rc, warn;
	size_t i;

	rc = r->sink->insert(r->state, batch, n, &why);
	for (i = 0; i < n; i++)
		batch[i] = am_report_row_free(batch[i]);
	pthread_mutex_lock(&r->mu);
	if (rc == 0) {
		r->st.committed += n;
		r->st.batches++;
	} else {
		r->st.dropped_store += n;
		snprintf(r->last_error, sizeof(r->last_error), "%s",
		    why.len > 0 ? am_buf_str(&why) : "unknown error");
	}
	warn = warning_due(r, msg, sizeof(msg));
	pthread_mutex_unlock(&r->mu);
	am_buf_release(&why);
	if (rc != 0 && r->o.dropped != NULL)
		r->o.dropped(r->o.dropped_arg, n);
	if (warn)
		r->o.warn(r->o.warn_arg, msg);
	/* finished only now, so a flush returns after the warning is out */
	pthread_mutex_lock(&r->mu);
	r->finished += n;
	pthread_cond_broadcast(&r->done);
	pthread_mutex_unlock(&r->mu);
}

/* Wait (mu held) until a batch is due: full, timed out, flush or stop. */
static void
wait_for_work(struct am_reporter *r)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += r->o.flush_ms / 1000;
	until.tv_nsec += (long)(r->o.flush_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!r->stop && !r->flush_wanted && r->count < r->o.batch_max)
		if (pthread_cond_timedwait(&r->wake, &r->mu, &until) == ETIMEDOUT)
			break;
}

/* Free r and what it owns; the writer thread is gone or is the caller. */
static void
destroy(struct am_reporter *r)
{
	size_t i;

	for (i = 0; i < r->o.queue_max; i++)
		am_report_row_free(r->ring[i]);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->wake);
	pthread_cond_destroy(&r->done);
	free(r->ring);
	free(r->batch);
	if (r->sink->close != NULL)
		r->sink->close(r->state);
	free(r);
}

static void *
writer(void *arg)
{
	struct am_reporter *r = arg;
	size_t n;
	int abandoned;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		wait_for_work(r);
		if (r->count == 0) {
			r->flush_wanted = 0;
			pthread_cond_broadcast(&r->done);
			if (r->stop)
				break;
			continue;
		}
		n = take_batch(r, r->batch);
		pthread_mutex_unlock(&r->mu);
		commit_batch(r, r->batch, n);
		pthread_mutex_lock(&r->mu);
	}
	abandoned = r->abandoned;
	pthread_mutex_unlock(&r->mu);
	/* am_reporter_free() gave up on us and returned: ours to free */
	if (abandoned)
		destroy(r);
	return NULL;
}

struct am_reporter *
am_reporter_new(const struct am_report_sink *sink, void *state,
    const struct am_reporter_opts *o, struct am_buf *why)
{
	struct am_reporter *r;
	int err;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto nomem;
	r->sink = sink;
	r->state = state;
	if (o != NULL)
		r->o = *o;
	r->o.queue_max = r->o.queue_max ? r->o.queue_max : 10000;
	r->o.batch_max = r->o.batch_max ? r->o.batch_max : 500;
	r->o.flush_ms = r->o.flush_ms ? r->o.flush_ms : 1000;
	r->o.warn_interval = r->o.warn_interval ? r->o.warn_interval : 60;
	r->o.fail_max = r->o.fail_max ? r->o.fail_max : 100;
	r->o.drain_ms = r->o.drain_ms ? r->o.drain_ms : 5000;
	if (r->o.now == NULL)
		r->o.now = mono_now;
	if ((r->ring = calloc(r->o.queue_max, sizeof(*r->ring))) == NULL ||
	    (r->batch = calloc(r->o.batch_max, sizeof(*r->batch))) == NULL)
		goto nomem;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->wake, NULL);
	pthread_cond_init(&r->done, NULL);
	if ((err = pthread_create(&r->thread, NULL, writer, r)) != 0) {
		am_buf_setf(why, "report writer thread: %s", strerror(err));
		pthread_mutex_destroy(&r->mu);
		pthread_cond_destroy(&r->wake);
		pthread_cond_destroy(&r->done);
		free(r->ring);
		free(r->batch);
		free(r);
		return NULL;
	}
#ifdef __GLIBC__
	/* "am-report" in top -H, and for tests/bench/run-bench's writer CPU */
	(void)pthread_setname_np(r->thread, "am-report");
#endif
	return r;
nomem:
	am_buf_setf(why, "out of memory");
	if (r != NULL) {
		free(r->ring);
		free(r->batch);
	}
	free(r);
	return NULL;
}

int
am_report_submit(struct am_reporter *r, const struct am_report_row *row)
{
	struct am_report_row *c;
	char msg[512];
	int warn = 0, rc = 0;

	if (r == NULL)
		return -1;
	c = am_report_row_copy(row);
	pthread_mutex_lock(&r->mu);
	r->st.submitted++;
	if (c == NULL) {
		r->st.dropped_copy++;
		rc = -1;
	} else if (r->count == r->o.queue_max || r->stop) {
		r->st.dropped_full++;
		warn = warning_due(r, msg, sizeof(msg));
		rc = -1;
	} else {
		/* the header blocks are what is big: their number is capped */
		if (c->failure != NULL && r->fail_queued >= r->o.fail_max) {
			am_report_row_strip_failure(c);
			r->st.dropped_failure++;
			warn = warning_due(r, msg, sizeof(msg));
		} else if (c->failure != NULL) {
			r->fail_queued++;
		}
		r->ring[(r->head + r->count) % r->o.queue_max] = c;
		r->count++;
		r->enqueued++;
		c = NULL;
		if (r->count == r->o.batch_max)
			pthread_cond_signal(&r->wake);
	}
	pthread_mutex_unlock(&r->mu);
	am_report_row_free(c);
	if (rc != 0 && r->o.dropped != NULL)
		r->o.dropped(r->o.dropped_arg, 1);
	if (warn)
		r->o.warn(r->o.warn_arg, msg);
	return rc;
}

void
am_reporter_flush(struct am_reporter *r)
{
	uint64_t target;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	target = r->enqueued;
	while (r->finished < target) {
		r->flush_wanted = 1;
		pthread_cond_signal(&r->wake);
		pthread_cond_wait(&r->done, &r->mu);
	}
	pthread_mutex_unlock(&r->mu);
}

void
am_reporter_stats(struct am_reporter *r, struct am_report_stats *out)
{
	if (r == NULL) {
		memset(out, 0, sizeof(*out));
		return;
	}
	pthread_mutex_lock(&r->mu);
	*out = r->st;
	pthread_mutex_unlock(&r->mu);
}

/*
 * Wait (mu held) until every row queued so far is finished, or until
 * drain_ms have passed; 0 when drained.
 */
static int
drain(struct am_reporter *r)
{
	struct timespec until;
	uint64_t target = r->enqueued;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += r->o.drain_ms / 1000;
	until.tv_nsec += (long)(r->o.drain_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (r->finished < target) {
		r->flush_wanted = 1;
		pthread_cond_signal(&r->wake);
		if (pthread_cond_timedwait(&r->done, &r->mu, &until) == ETIMEDOUT)
			return r->finished < target ? -1 : 0;
	}
	return 0;
}

/*
 * With mu held, after drain() gave up: drop the queued rows, count them,
 * and format the warning; the number dropped.
 */
static uint64_t
abandon(struct am_reporter *r, char *msg, size_t size)
{
	uint64_t queued = r->count, busy = r->taken - r->finished;

	while (r->count > 0) {
		r->ring[r->head] = am_report_row_free(r->ring[r->head]);
		r->head = (r->head + 1) % r->o.queue_max;
		r->count--;
	}
	r->st.dropped_store += queued;
	r->abandoned = 1;
	snprintf(msg, size, "report: %llu rows not written at stop: %llu "
	    "queued (dropped), %llu in a batch the store %s has not answered "
	    "for %u ms", (unsigned long long)(queued + busy),
	    (unsigned long long)queued, (unsigned long long)busy,
	    r->sink->name, r->o.drain_ms);
	return queued;
}

struct am_reporter *
am_reporter_free(struct am_reporter *r)
{
	struct am_reporter_opts o;
	char msg[512];
	uint64_t dropped;

	if (r == NULL)
		return NULL;
	pthread_mutex_lock(&r->mu);
	r->stop = 1;                 /* no more rows in */
	if (drain(r) != 0) {
		/* from the unlock on, the writer may free r at any time */
		o = r->o;
		dropped = abandon(r, msg, sizeof(msg));
		pthread_detach(r->thread);
		pthread_cond_signal(&r->wake);
		pthread_mutex_unlock(&r->mu);
		if (dropped > 0 && o.dropped != NULL)
			o.dropped(o.dropped_arg, dropped);
		if (o.warn != NULL)
			o.warn(o.warn_arg, msg);
		return NULL;
	}
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	destroy(r);
	return NULL;
}
