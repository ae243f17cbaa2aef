/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * gen: generations of the configuration and their users. See gen.h.
 *
 * State covered by `lock`: the current generation, the retired ones (a
 * list), each one's reference count, `stopping` (no new references).
 * `idle` is signalled when the last reference of any generation goes while
 * stopping. `closed` (no more decisions logged) has its own `log_lock`, so
 * that writing a log line never holds up a message starting elsewhere.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "gen.h"
#include "report.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct am_gen *current;
static struct am_gen *retired;
static unsigned long generations;
static unsigned held;             /* references over all generations */
static int stopping, closed;
static void (*retired_idle)(void);

struct am_gen *
am_gen_new(struct am_config *conf, int own_conf, struct am_dns *dns,
    struct am_engine *engine)
{
	struct am_gen *g;

	if ((g = calloc(1, sizeof(*g))) == NULL) {
		am_engine_free(engine);
		am_dns_free(dns);
		if (own_conf)
			am_config_free(conf);
		return NULL;
	}
	g->conf = conf;
	g->own_conf = own_conf;
	g->dns = dns;
	g->engine = engine;
	return g;
}

void
am_gen_set_reporter(struct am_gen *g, struct am_reporter *rep)
{
	g->reporter = rep;
	am_engine_set_reporter(g->engine, rep);
}

struct am_gen *
am_gen_free(struct am_gen *g)
{
	if (g == NULL)
		return NULL;
	/* rows queued are committed first; no message uses g any more */
	am_reporter_free(g->reporter);
	am_engine_free(g->engine);
	am_dns_free(g->dns);
	if (g->own_conf)
		am_config_free(g->conf);
	free(g);
	return NULL;
}

void
am_gen_install(struct am_gen *g, void (*notify)(void))
{
	pthread_mutex_lock(&lock);
	g->nr = ++generations;
	if (current != NULL) {
		current->next = retired;
		retired = current;
	}
	current = g;
	retired_idle = notify;
	pthread_mutex_unlock(&lock);
}

struct am_gen *
am_gen_current(void)
{
	struct am_gen *g;

	pthread_mutex_lock(&lock);
	g = current;
	pthread_mutex_unlock(&lock);
	return g;
}

struct am_gen *
am_gen_acquire(void)
{
	struct am_gen *g = NULL;

	pthread_mutex_lock(&lock);
	if (!stopping && current != NULL) {
		g = current;
		g->refs++;
		held++;
	}
	pthread_mutex_unlock(&lock);
	return g;
}

void
am_gen_release(struct am_gen *g)
{
	void (*notify)(void) = NULL;

	if (g == NULL)
		return;
	pthread_mutex_lock(&lock);
	g->refs--;
	held--;
	if (g->refs == 0 && g != current)
		notify = retired_idle;
	if (held == 0 && stopping)
		pthread_cond_broadcast(&idle);
	pthread_mutex_unlock(&lock);
	/* The main thread frees it: engine teardown joins lookup threads. */
	if (notify != NULL)
		notify();
}

void
am_gen_reap(void)
{
	struct am_gen **pp, *g, *dead = NULL;

	pthread_mutex_lock(&lock);
	for (pp = &retired; (g = *pp) != NULL; ) {
		if (g->refs == 0) {
			*pp = g->next;
			g->next = dead;
			dead = g;
		} else
			pp = &g->next;
	}
	pthread_mutex_unlock(&lock);
	while ((g = dead) != NULL) {
		dead = g->next;
		am_gen_free(g);
	}
}

unsigned
am_gen_stop(unsigned ms)
{
	struct timespec until;
	unsigned left;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&lock);
	stopping = 1;
	while (held > 0)
		if (pthread_cond_timedwait(&idle, &lock, &until) == ETIMEDOUT)
			break;
	left = held;
	pthread_mutex_unlock(&lock);
	return left;
}

int
am_gen_log_begin(void)
{
	pthread_mutex_lock(&log_lock);
	if (!closed)
		return 1;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

void
am_gen_log_end(void)
{
	pthread_mutex_unlock(&log_lock);
}

void
am_gen_close(void)
{
	pthread_mutex_lock(&log_lock);
	closed = 1;
	pthread_mutex_unlock(&log_lock);
}

void
am_gen_shutdown(void)
{
	struct am_gen *g;

	pthread_mutex_lock(&lock);
	g = current;
	current = NULL;
	if (g != NULL) {
		g->next = retired;
		retired = g;
	}
	pthread_mutex_unlock(&lock);
	am_gen_reap();
}
