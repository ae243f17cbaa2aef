/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * gen: generations of the daemon's configuration, and who is using which.
 *
 * A generation is one loaded configuration with the DNS stack and the
 * engine built from it (keys, public suffix list, trusted lists). The
 * daemon has one current generation; a reload builds a new one and
 * installs it, and the old one is retired: messages that started on it
 * finish on it, and it is freed once the last of them lets go. So no
 * message is ever judged by half of one configuration and half of another.
 *
 *   g = am_gen_new(conf, 1, dns, e)  wrap what main.c built (takes it)
 *   am_gen_install(g)                make it current (main thread)
 *   g = am_gen_acquire()             a message starts: a reference
 *   am_gen_release(g)                the message is freed
 *   am_gen_reap()                    free retired, unused ones (main thread)
 *   n = am_gen_stop(ms)              refuse new messages, wait for the rest
 *   am_gen_shutdown()                free everything (nobody uses it)
 *
 * Decisions are logged between am_gen_log_begin() and am_gen_log_end(), so
 * that none can be logged after am_gen_close() (the "stopped" line).
 *
 * Thread use: install, reap, stop, close and shutdown run on the main
 * thread only; acquire, release and the log pair on any thread. One mutex
 * covers the current pointer, the retired list, every reference count and
 * the stopping flag; another the closed flag.
 */
#ifndef AM_GEN_H
#define AM_GEN_H

#include "config.h"
#include "dns.h"
#include "msg.h"

struct am_gen {
	struct am_config *conf;     /* owned unless own_conf is 0 */
	int own_conf;
	struct am_dns *dns;         /* owned */
	struct am_engine *engine;   /* owned; uses conf and dns */
	struct am_reporter *reporter; /* owned; DMARC report rows, or NULL */
	unsigned long nr;           /* 1, 2, ...: set by am_gen_install() */
	unsigned refs;              /* messages using it; covered by the lock */
	struct am_gen *next;        /* retired list; covered by the lock */
};

/*
 * A generation of conf, dns and the engine built on them, taking ownership
 * of dns and engine, and of conf when own_conf (also on error). NULL only
 * when out of memory.
 */
struct am_gen *am_gen_new(struct am_config *conf, int own_conf,
    struct am_dns *dns, struct am_engine *engine);
/* Give g a reporter (taken over) that its engine records rows through. */
void am_gen_set_reporter(struct am_gen *g, struct am_reporter *rep);
/* Free g and what it owns; returns NULL. Only when no message uses it. */
struct am_gen *am_gen_free(struct am_gen *g);

/*
 * Make g current; the previous one is retired (freed by am_gen_reap()
 * once unused). notify, when not NULL, is called (from any thread, with
 * no lock held) when a retired generation loses its last user.
 */
void am_gen_install(struct am_gen *g, void (*notify)(void));
/* The current generation (main thread only; NULL before the first). */
struct am_gen *am_gen_current(void);
/* A reference to the current generation; NULL once stopping. */
struct am_gen *am_gen_acquire(void);
/* Drop a reference; NULL is a no-op. */
void am_gen_release(struct am_gen *g);
/* Free the retired generations no message uses any more. */
void am_gen_reap(void);
/*
 * Refuse new messages (am_gen_acquire() returns NULL from now on) and wait
 * up to ms milliseconds for the references held to be released. Returns
 * the number still held (0: every message in flight has finished).
 */
unsigned am_gen_stop(unsigned ms);
/*
 * Around logging a decision: 1 (and hold the lock until am_gen_log_end())
 * when the daemon has not been closed, 0 (nothing held) once it has.
 */
int am_gen_log_begin(void);
void am_gen_log_end(void);
/* No decision is logged after this returns. */
void am_gen_close(void);
/* Free every generation; only after am_gen_stop() returned 0. */
void am_gen_shutdown(void);

#endif
