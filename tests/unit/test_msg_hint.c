/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_msg_hint: what a message has in flight before its SPF evaluation
 * runs (issue 12). lib/msg.c hints the SPF records at MAIL; as each
 * record's answer arrives, the message layer's observer (lib/dns_msg.c)
 * lets lib/spf_eval.c hint the record's macro-free targets, so an include
 * chain is asked one level per round trip without waiting for the
 * evaluation; and _dmarc of the SPF identity's domain is hinted at MAIL.
 *
 * The engine runs with LookupThreads 0, so the SPF evaluation runs only at
 * end of message; below it, tests/spf/hint.zone behind a back end that
 * takes submitted queries asynchronously (one worker thread) and logs
 * every name asked. After am_msg_new the test waits (at most 5 s) until
 * the case's names have been asked and the back end is idle, then looks
 * at the log: what was asked before end of message. Without the observer
 * only the first records are asked; the evaluation at the end still gives
 * the case's result.
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

#include "config.h"
#include "dns.h"
#include "msg.h"

#define LOG_MAX 64

struct fake {
	struct am_dns *inner;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t worker;
	int stop;
	struct am_dns_req *head, *tail; /* submitted, not started */
	struct am_dns_req *running;
	char *names[LOG_MAX];      /* "name/TYPE" in the order asked */
	size_t nlog;
};

/* Under the lock. */
static void
log_name(struct fake *f, const char *name, int type)
{
	char tb[16], line[AM_DNS_NAME_MAX + 24];

	snprintf(line, sizeof(line), "%s/%s", name,
	    am_dns_type_name(type, tb, sizeof(tb)));
	if (f->nlog < LOG_MAX)
		f->names[f->nlog++] = strdup(line);
}

static void *
work(void *arg)
{
	struct fake *f = arg;
	struct am_buf why = AM_BUF_INIT(200);
	struct am_dns_req *r;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		while (!f->stop && f->head == NULL)
			pthread_cond_wait(&f->cv, &f->mu);
		if (f->stop)
			break;
		r = f->head;
		if ((f->head = r->next) == NULL)
			f->tail = NULL;
		f->running = r;
		pthread_mutex_unlock(&f->mu);
		am_buf_reset(&why);
		r->ans = NULL;
		r->status = am_dns_query(f->inner, (const char *)r->link,
		    r->state, &r->ans, &why);
		snprintf(r->why, sizeof(r->why), "%s", am_buf_str(&why));
		free(r->link);
		r->done(r);
		pthread_mutex_lock(&f->mu);
		f->running = NULL;
		pthread_cond_broadcast(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
	am_buf_release(&why);
	return NULL;
}

static enum am_dns_status
fake_query(void *state, const char *name, int type,
    struct am_dns_answer **ans, struct am_buf *why)
{
	struct fake *f = state;

	pthread_mutex_lock(&f->mu);
	log_name(f, name, type);
	pthread_mutex_unlock(&f->mu);
	return am_dns_query(f->inner, name, type, ans, why);
}

static int
fake_submit(void *state, const char *name, int type,
    const struct am_dns_ctl *ctl, struct am_dns_req *r)
{
	struct fake *f = state;

	(void)ctl;
	if ((r->link = strdup(name)) == NULL)
		return -1;
	r->state = type;
	r->next = NULL;
	r->from_cache = r->timed_out = 0;
	pthread_mutex_lock(&f->mu);
	log_name(f, name, type);
	if (f->tail != NULL)
		f->tail->next = r;
	else
		f->head = r;
	f->tail = r;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static void
fake_cancel(void *state, struct am_dns_req *r)
{
	struct fake *f = state;
	struct am_dns_req **p;

	pthread_mutex_lock(&f->mu);
	for (p = &f->head; *p != NULL; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			free(r->link);
			break;
		}
	for (f->tail = f->head; f->tail != NULL && f->tail->next != NULL;
	    f->tail = f->tail->next)
		;
	while (f->running == r)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
}

static void
fake_close(void *state)
{
	struct fake *f = state;
	size_t i;

	pthread_mutex_lock(&f->mu);
	f->stop = 1;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->worker, NULL);
	for (i = 0; i < f->nlog; i++)
		free(f->names[i]);
	am_dns_free(f->inner);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
}

static const struct am_dns_backend fake_backend = {
	.name = "fake-async", .query = fake_query, .close = fake_close,
	.submit = fake_submit, .cancel = fake_cancel,
};

static struct am_dns *
fake_open(struct fake *f)
{
	const char *top = getenv("AM_TOP_SRCDIR");
	struct am_buf why = AM_BUF_INIT(256);
	char path[1024];
	const char *p = path;

	snprintf(path, sizeof(path), "%s/tests/spf/hint.zone",
	    top != NULL ? top : AM_TOP_SRCDIR);
	memset(f, 0, sizeof(*f));
	f->inner = am_dns_zone_new(&p, 1, &why);
	assert_non_null(f->inner);
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	assert_int_equal(pthread_create(&f->worker, NULL, work, f), 0);
	am_buf_release(&why);
	return am_dns_new(&fake_backend, f);
}

/* Under the lock: the index of "name/TYPE" in the log, or -1. */
static int
asked(const struct fake *f, const char *line)
{
	size_t i;

	for (i = 0; i < f->nlog; i++)
		if (strcasecmp(f->names[i], line) == 0)
			return (int)i;
	return -1;
}

struct hint_case {
	const char *name;
	const char *mail_from;
	const char *helo;
	const char *const before[6]; /* asked before end of message */
	const char *const not_before[2]; /* not asked before it */
	const char *ar;              /* in the A-R at the end */
};

static const struct hint_case cases[] = {
	{ "include chain: each level hinted as its parent's answer is in",
	  "<u@bounce.d1.hint.test>", "other.hint.test",
	  { "bounce.d1.hint.test/TXT", "d1.hint.test/TXT",
	    "_spf.d1.hint.test/TXT" }, { NULL },
	  "spf=pass (matched include:d1.hint.test) "
	  "smtp.mailfrom=bounce.d1.hint.test" },
	{ "_dmarc of the MAIL FROM domain hinted at MAIL",
	  "<u@bounce.d1.hint.test>", "other.hint.test",
	  { "_dmarc.bounce.d1.hint.test/TXT" }, { NULL },
	  "dmarc=pass" },
	{ "null sender: the HELO record's a, and _dmarc of the HELO name",
	  "<>", "helo.hint.test",
	  { "helo.hint.test/TXT", "helo.hint.test/A",
	    "_dmarc.helo.hint.test/TXT" }, { NULL },
	  "spf=pass (matched a)" },
	{ "a target with a macro waits for the evaluation",
	  "<u@mac.hint.test>", "other.hint.test",
	  { "mac.hint.test/TXT", "lit.hint.test/TXT" },
	  { "192.0.2.3.ex.hint.test/A" },
	  "spf=pass (matched include:lit.hint.test) "
	  "smtp.mailfrom=mac.hint.test" },
};

static void
set(struct am_config *c, const char *k, const char *v)
{
	struct am_buf why = AM_BUF_INIT(256);

	if (am_config_set(c, k, v, "test", 1, &why) != 0)
		fail_msg("%s %s: %s", k, v, am_buf_str(&why));
	am_buf_release(&why);
}

/* Wait (at most 5 s) until every name of c->before is asked and the back
 * end is idle; 1 if so. */
static int
settle(struct fake *f, const struct hint_case *c)
{
	struct timespec ts = { 0, 2000000 };
	int i, all;
	unsigned n;

	for (n = 0; n < 2500; n++) {
		pthread_mutex_lock(&f->mu);
		all = f->head == NULL && f->running == NULL;
		for (i = 0; all && c->before[i] != NULL; i++)
			all = asked(f, c->before[i]) >= 0;
		pthread_mutex_unlock(&f->mu);
		if (all)
			return 1;
		nanosleep(&ts, NULL);
	}
	return 0;
}

static void
run_case(const struct hint_case *c)
{
	struct am_buf why = AM_BUF_INIT(256);
	struct am_envelope env = { .queue_id = "Q1",
	    .client_ip = "192.0.2.3", .receiver = "mx.test" };
	const char *from = "<u@d1.hint.test>";
	const struct am_verdict *v;
	struct am_config *conf;
	struct am_engine *e;
	struct am_dns *d;
	struct am_msg *m;
	struct fake f;
	int i, ok;

	env.helo = c->helo;
	env.mail_from = c->mail_from;
	assert_non_null(conf = am_config_new());
	set(conf, "LookupThreads", "0");
	set(conf, "AuthservID", "mx.test");
	d = fake_open(&f);
	assert_non_null(e = am_engine_new(conf, d, &why));
	assert_non_null(m = am_msg_new(e, &env));
	ok = settle(&f, c);
	pthread_mutex_lock(&f.mu);
	for (i = 0; i < (int)f.nlog; i++)
		print_message("%s: before end of message: %s\n", c->name,
		    f.names[i]);
	for (i = 0; c->before[i] != NULL; i++)
		if (asked(&f, c->before[i]) < 0)
			fail_msg("%s: %s not asked before end of message",
			    c->name, c->before[i]);
	for (i = 0; c->not_before[i] != NULL; i++)
		if (asked(&f, c->not_before[i]) >= 0)
			fail_msg("%s: %s asked before end of message",
			    c->name, c->not_before[i]);
	pthread_mutex_unlock(&f.mu);
	assert_true(ok);
	am_msg_header(m, "From", from, strlen(from));
	am_msg_end_headers(m);
	am_msg_body(m, "hello\r\n", 7);
	v = am_msg_finish(m);
	assert_non_null(v->authres);
	if (strstr(v->authres, c->ar) == NULL)
		fail_msg("%s: no \"%s\" in %s", c->name, c->ar, v->authres);
	am_msg_free(m);
	am_engine_free(e);
	am_dns_free(d);
	am_config_free(conf);
	am_buf_release(&why);
}

static void
test_hint_cases(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hint_cases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
