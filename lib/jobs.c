/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * jobs: a small pool of threads that run checks early (LookupThreads).
 * See jobs.h. Jobs submit their lookups to the resolver and wait for the
 * answers; no socket is owned here.
 */
#include <signal.h>
#include <stdlib.h>

#include "jobs.h"

enum { JOB_IDLE, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct am_jobs {
	pthread_mutex_t mu;
	pthread_cond_t work;      /* a job was queued, or stop */
	pthread_cond_t done;      /* some job finished */
	struct am_job *head, *tail;
	int stop;
	unsigned n;
	pthread_t *threads;
};

/* Take the first queued job; caller holds the mutex. */
static struct am_job *
dequeue(struct am_jobs *p)
{
	struct am_job *j = p->head;

	if (j != NULL) {
		p->head = j->next;
		if (p->head == NULL)
			p->tail = NULL;
		j->next = NULL;
	}
	return j;
}

/* Remove j from the queue; caller holds the mutex. */
static void
unqueue(struct am_jobs *p, struct am_job *j)
{
	struct am_job **pp, *prev = NULL;

	for (pp = &p->head; *pp != NULL; prev = *pp, pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			if (p->tail == j)
				p->tail = prev;
			j->next = NULL;
			return;
		}
}

static void *
worker(void *arg)
{
	struct am_jobs *p = arg;
	struct am_job *j;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->head == NULL)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->stop)
			break;
		j = dequeue(p);
		j->state = JOB_RUNNING;
		pthread_mutex_unlock(&p->mu);
		j->fn(j->arg);
		pthread_mutex_lock(&p->mu);
		j->state = JOB_DONE;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct am_jobs *
am_jobs_new(unsigned n)
{
	struct am_jobs *p;
	sigset_t all, old;
	unsigned i;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	if (n > 0 && (p->threads = calloc(n, sizeof(*p->threads))) == NULL)
		return am_jobs_free(p);
	/*
	 * The workers inherit a full signal mask: signals are the daemon's
	 * business (libmilter waits for SIGTERM in its own thread), and a
	 * worker that took one would end the process uncleanly.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < n; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
			break;
		p->n++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return p;
}

struct am_jobs *
am_jobs_free(struct am_jobs *p)
{
	unsigned i;

	if (p == NULL)
		return NULL;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->n; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	free(p);
	return NULL;
}

void
am_jobs_submit(struct am_jobs *p, struct am_job *j, void (*fn)(void *), void *arg)
{
	j->fn = fn;
	j->arg = arg;
	j->next = NULL;
	if (p == NULL || p->n == 0) {
		j->state = JOB_QUEUED;   /* run by am_jobs_wait */
		return;
	}
	pthread_mutex_lock(&p->mu);
	j->state = JOB_QUEUED;
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

void
am_jobs_wait(struct am_jobs *p, struct am_job *j)
{
	int run_here = 0;

	if (p == NULL || p->n == 0) {
		/* No threads: the job was never shared; run it now. */
		if (j->state == JOB_QUEUED) {
			j->fn(j->arg);
			j->state = JOB_DONE;
		}
		return;
	}
	pthread_mutex_lock(&p->mu);
	if (j->state == JOB_IDLE) {
		pthread_mutex_unlock(&p->mu);
		return;
	}
	if (j->state == JOB_QUEUED) {
		unqueue(p, j);
		j->state = JOB_RUNNING;
		run_here = 1;
	}
	while (!run_here && j->state != JOB_DONE)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
	if (run_here) {
		j->fn(j->arg);
		pthread_mutex_lock(&p->mu);
		j->state = JOB_DONE;
		pthread_mutex_unlock(&p->mu);
	}
}

void
am_jobs_cancel(struct am_jobs *p, struct am_job *j)
{
	if (p == NULL || p->n == 0) {
		j->state = JOB_DONE;    /* never shared: nothing runs it */
		return;
	}
	pthread_mutex_lock(&p->mu);
	if (j->state == JOB_QUEUED) {
		unqueue(p, j);
		j->state = JOB_DONE;
	}
	while (j->state == JOB_RUNNING)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}
