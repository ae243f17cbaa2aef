/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * jobs: a small pool of threads that run lookups early.
 *
 * The engine starts work as soon as its inputs are known -- SPF when the
 * envelope is, DKIM key and DMARC record lookups at the end of the header
 * -- so that DNS round trips overlap each other and the body transfer
 * instead of adding up at end of message.
 *
 * A job is a function and an argument in memory the caller owns (it lives
 * in the per-message struct). am_jobs_wait() makes sure the job has run:
 * a job no thread has taken yet is run right there by the caller, so a busy
 * pool never makes a message slower than doing the work inline, and a pool
 * of 0 threads is simply inline execution.
 *
 * The jobs are checks (the SPF evaluation, early DKIM/DMARC lookups), not
 * round trips: their queries go to the resolver's own loop thread
 * (dns_ldns.c), which keeps any number of them in flight, so this pool
 * bounds how many checks run early at once, not how many lookups do.
 *
 * Thread safety: one mutex guards the queue and the job states.
 */
#ifndef AM_JOBS_H
#define AM_JOBS_H

#include <pthread.h>

struct am_job {
	void (*fn)(void *arg);
	void *arg;
	int state;               /* owned by jobs.c */
	struct am_job *next;     /* owned by jobs.c */
};

struct am_jobs;

/* A pool of n threads (0: every job runs inline in am_jobs_wait). */
struct am_jobs *am_jobs_new(unsigned n);
/* Stop the threads (queued jobs are left to their waiters); returns NULL. */
struct am_jobs *am_jobs_free(struct am_jobs *p);
/* Queue job j (fn and arg set by the caller). p NULL: run at wait. */
void am_jobs_submit(struct am_jobs *p, struct am_job *j, void (*fn)(void *),
    void *arg);
/* Return once j has run (running it here if no thread has taken it). */
void am_jobs_wait(struct am_jobs *p, struct am_job *j);
/* Return once j is not running: a job no thread has taken is dropped. */
void am_jobs_cancel(struct am_jobs *p, struct am_job *j);

#endif
