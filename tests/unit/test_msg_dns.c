/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_msg_dns: the engine's use of the per-message DNS layer (lib/msg.c
 * with lib/dns_msg.c): MessageTimeout, and the queries of a message as the
 * debug log shows them (am_msg_dns_trace).
 *
 * The engine runs over tests/spf/unit.zone behind a back end on a fake
 * clock where every query takes 3 s, with no lookup threads, so every
 * lookup happens at end of message in a known order; and over the resolver
 * against a loopback socket that never answers, for a message freed while
 * its early lookup waits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "dns.h"
#include "msg.h"

struct tick {
	struct am_dns *inner;
	uint64_t now, step;
	unsigned long calls;
};

static enum am_dns_status
tick_query(void *state, const char *name, int type,
    struct am_dns_answer **ans, struct am_buf *why)
{
	struct tick *t = state;

	t->now += t->step;
	t->calls++;
	return am_dns_query(t->inner, name, type, ans, why);
}

static uint64_t
tick_clock(void *state)
{
	return ((struct tick *)state)->now;
}

static void
tick_close(void *state)
{
	am_dns_free(((struct tick *)state)->inner);
}

static const struct am_dns_backend tick_backend = {
	.name = "tick", .query = tick_query, .close = tick_close,
	.clock = tick_clock,
};

static struct am_dns *
tick_open(struct tick *t, uint64_t step)
{
	const char *top = getenv("AM_TOP_SRCDIR");
	struct am_buf why = AM_BUF_INIT(256);
	char path[1024];
	const char *p = path;

	snprintf(path, sizeof(path), "%s/tests/spf/unit.zone",
	    top != NULL ? top : AM_TOP_SRCDIR);
	memset(t, 0, sizeof(*t));
	t->inner = am_dns_zone_new(&p, 1, &why);
	assert_non_null(t->inner);
	t->now = 1000000;
	t->step = step;
	am_buf_release(&why);
	return am_dns_new(&tick_backend, t);
}

static void
set(struct am_config *c, const char *k, const char *v)
{
	struct am_buf why = AM_BUF_INIT(256);

	if (am_config_set(c, k, v, "test", 1, &why) != 0)
		fail_msg("%s %s: %s", k, v, am_buf_str(&why));
	am_buf_release(&why);
}

static void
trace_line(const struct am_dns_trace *t, void *arg)
{
	struct am_buf *out = arg;
	char tb[16];

	am_buf_printf(out, "%s%s/%s/%s/%s", out->len > 0 ? " | " : "",
	    t->name, am_dns_type_name(t->type, tb, sizeof(tb)),
	    am_dns_status_name(t->status), am_dns_source_name(t->source));
}

/* One message from pass.example.test, signed by it; returns its A-R. */
static char *
run_message(struct am_engine *e, struct am_buf *trace)
{
	static const char *const hdr[][2] = {
		{ "DKIM-Signature", "v=1; a=rsa-sha256; d=pass.example.test; "
		    "s=sel; h=from; bh=AAAA; b=BBBB" },
		{ "From", "<u@pass.example.test>" },
		{ "Subject", "deadline" },
	};
	struct am_envelope env = { .queue_id = "Q1",
	    .client_ip = "192.0.2.10", .helo = "mail.example.test",
	    .mail_from = "<u@pass.example.test>", .receiver = "mx.test" };
	const struct am_verdict *v;
	struct am_msg *m;
	char *ar;
	size_t i;

	assert_non_null(m = am_msg_new(e, &env));
	for (i = 0; i < 3; i++)
		am_msg_header(m, hdr[i][0], hdr[i][1], strlen(hdr[i][1]));
	am_msg_end_headers(m);
	am_msg_body(m, "hello\r\n", 7);
	v = am_msg_finish(m);
	assert_non_null(v->authres);
	ar = strdup(v->authres);
	assert_int_equal(am_msg_dns_trace(m, trace_line, trace), 0);
	am_msg_free(m);
	return ar;
}

/*
 * MessageTimeout 5 s, 3 s a query: the MAIL FROM record (3 s) and the HELO
 * record (6 s) are asked; everything after is temperror at once, never
 * asked, and the message still gets its header.
 */
static void
test_message_timeout(void **state)
{
	struct am_buf why = AM_BUF_INIT(256), tr = AM_BUF_INIT(4096);
	struct am_config *c;
	struct am_engine *e;
	struct am_dns *d;
	struct tick t;
	char *ar;

	(void)state;
	assert_non_null(c = am_config_new());
	set(c, "LookupThreads", "0");
	set(c, "MessageTimeout", "5s");
	set(c, "AuthservID", "mx.test");
	d = tick_open(&t, 3000);
	assert_non_null(e = am_engine_new(c, d, &why));
	ar = run_message(e, &tr);
	print_message("A-R: %s\ntrace: %s\n%lu queries, %.0f s\n", ar,
	    am_buf_str(&tr), t.calls, (double)(t.now - 1000000) / 1000);
	assert_non_null(strstr(ar, "spf=pass"));
	assert_non_null(strstr(ar, "spf=temperror (evaluation stopped: "
	    "message deadline passed)"));
	assert_non_null(strstr(ar, "dkim=temperror"));
	assert_non_null(strstr(ar, "dmarc=temperror"));
	assert_int_equal(t.calls, 2);
	assert_non_null(strstr(am_buf_str(&tr),
	    "pass.example.test/TXT/ok/wire | mail.example.test/TXT/ok/wire | "
	    "mail.example.test/A/tempfail/deadline"));
	free(ar);
	am_engine_free(e);
	am_dns_free(d);
	am_config_free(c);
	am_buf_release(&why);
	am_buf_release(&tr);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * An aborted transaction: the message is freed while its SPF lookup (on a
 * pool thread) waits for a server that never answers, 30 s a try. Freeing
 * must not wait for that. Hang check only (the bound is 10 times what it
 * takes).
 */
static void
test_free_while_in_flight(void **state)
{
	struct am_buf why = AM_BUF_INIT(256);
	struct am_envelope env = { .queue_id = "Q2",
	    .client_ip = "192.0.2.10", .helo = "mail.example.test",
	    .mail_from = "<u@pass.example.test>" };
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char spec[64];
	const char *sv[1] = { spec };
	struct am_dns_ldns_opts o = { .servers = sv, .nservers = 1,
	    .timeout_ms = 30000, .retries = 1 };
	struct am_config *c;
	struct am_engine *e;
	struct am_msg *m;
	struct am_dns *d;
	char byte[1];
	double t0, dt;
	int s, i;

	(void)state;
	assert_true((s = socket(AF_INET, SOCK_DGRAM, 0)) >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &len), 0);
	snprintf(spec, sizeof(spec), "127.0.0.1@%u", ntohs(sin.sin_port));
	assert_non_null(c = am_config_new());
	set(c, "LookupThreads", "1");
	assert_non_null(d = am_dns_ldns_new(&o, &why));
	assert_non_null(e = am_engine_new(c, d, &why));
	assert_non_null(m = am_msg_new(e, &env));
	/* the SPF job is on the pool thread; wait until its query is out */
	for (i = 0; i < 5000 && recv(s, byte, 1, MSG_DONTWAIT | MSG_PEEK) < 0;
	    i++)
		usleep(1000);
	assert_true(i < 5000);
	t0 = now_s();
	am_msg_free(m);
	dt = now_s() - t0;
	print_message("message freed %.3f s after its lookup went out\n", dt);
	assert_true(dt < 3.0);
	am_engine_free(e);
	am_dns_free(d);
	am_config_free(c);
	am_buf_release(&why);
	close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_timeout),
		cmocka_unit_test(test_free_while_in_flight),
	};

	return cmocka_run_group_tests_name("msg_dns", tests, NULL, NULL);
}
