/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for the engine (lib/msg*.c, lib/policy.c): whole messages
 * through am_msg_new .. am_msg_finish over a zone file (RFC 8463's signed
 * message and keys, tests/unit/msg/football.zone), checking the verdict
 * record and what is written from it -- the A-R header and the log line.
 * Each case is a named message builder plus the configuration it runs
 * under; a failing case prints its name, the header and the log line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <pthread.h>
#include <time.h>

#include "authres.h"
#include "msg.h"
#include "../dkim/testmsg.h"

#define SIGS \
"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n" \
" d=football.example.com; i=@football.example.com;\r\n" \
" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n" \
" subject : date : message-id : from : subject : date;\r\n" \
" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n" \
" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n" \
" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
#define HDRS \
"To: Suzie Q <suzie@shopping.example.net>\r\n" \
"Subject: Is dinner ready?\r\n" \
"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n" \
"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
#define FROM "From: Joe SixPack <joe@football.example.com>\r\n"
#define BODY \
"\r\nHi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n"

/* A junk signature that fails (no key): d=junk<i>.example. */
static void
junk_sigs(struct am_buf *b, int n, const char *extra)
{
	int i;

	for (i = 0; i < n; i++)
		am_buf_printf(b, "DKIM-Signature: v=1; a=rsa-sha256; d=junk%d.example;"
		    " s=sel%s; h=from; bh=AAAA; b=BBBB%d\r\n", i, extra, i);
}

/* The message of each case, built into b (CRLF line ends). */
static void
build(const char *name, struct am_buf *b)
{
	struct am_buf big = AM_BUF_INIT(4 << 20);
	int i;

	if (strcmp(name, "junk16+aligned") == 0)
		junk_sigs(b, 16, "");
	else if (strcmp(name, "junk30+aligned") == 0)
		junk_sigs(b, 30, "");
	else if (strcmp(name, "long i=") == 0) {
		for (i = 0; i < 7000; i++)
			am_buf_addc(&big, 'x');
		for (i = 0; i < 3; i++)
			am_buf_printf(b, "DKIM-Signature: v=1; a=rsa-sha256; "
			    "d=football.example.com; i=%s@football.example.com; s=nokey; "
			    "h=from; bh=AAAA; b=CCCC%d\r\n", am_buf_str(&big), i);
	} else if (strcmp(name, "long selectors") == 0) {
		for (i = 0; i < 60; i++)
			am_buf_addc(&big, 's');
		for (i = 0; i < 10; i++)
			am_buf_printf(b, "DKIM-Signature: v=1; a=rsa-sha256; "
			    "d=a%d.%s.%s.%s.example; s=%s; h=from; bh=AAAA; b=DDDD%d\r\n",
			    i, am_buf_str(&big), am_buf_str(&big), am_buf_str(&big),
			    am_buf_str(&big), i);
	} else if (strcmp(name, "1001 fields") == 0) {
		for (i = 0; i < 1001; i++)
			am_buf_printf(b, "X-Filler-%d: %d\r\n", i, i);
	} else if (strcmp(name, "1 MB field") == 0) {
		am_buf_adds(b, "X-Big: ");
		for (i = 0; i < (1 << 20) + 10; i++)
			am_buf_addc(b, 'x');
		am_buf_adds(b, "\r\n");
	} else if (strcmp(name, "forged A-R, trailing dot") == 0)
		am_buf_adds(b, "Authentication-Results: MX.Example.Test.; dmarc=pass\r\n"
		    "Authentication-Results: \"mx.example.test.\"; spf=pass\r\n"
		    "Authentication-Results: mx.example.test.evil; spf=pass\r\n");
	if (strncmp(name, "unsigned", 8) != 0)
		am_buf_adds(b, SIGS);
	if (strcmp(name, "no From") != 0)
		am_buf_adds(b, FROM);
	am_buf_adds(b, HDRS BODY);
	am_buf_release(&big);
}

struct mcase {
	const char *name;
	unsigned max_sigs;          /* DKIMMaxSignatures */
	const char *action;
	const char *rcode;          /* NULL: none */
	const char *ar_has[3];      /* substrings of the A-R header */
	const char *log_has[2];     /* substrings of the log line */
	size_t nremove;
	const char *rcpts[3];       /* RCPT TO; IgnoreRecipients is postmaster@ */
};

static const struct mcase mcases[] = {
	{ "plain", 10, "accept", NULL,
	  { "dkim=pass header.d=football.example.com", "dmarc=pass", "arc=none" },
	  { "action=accept dmarc=pass", NULL }, 0, { NULL, NULL, NULL } },
	/* item 6: DMARC acts on exactly what the header reports */
	{ "junk16+aligned", 100, "accept", NULL,
	  { "dkim=pass header.d=football.example.com", "dmarc=pass", NULL },
	  { "action=accept dmarc=pass", NULL }, 0, { NULL, NULL, NULL } },
	{ "junk30+aligned", 10, "accept", NULL,
	  { "dkim=pass header.d=football.example.com", "dmarc=pass",
	    "dkim=policy (11 more signatures not verified" },
	  { "action=accept dmarc=pass", NULL }, 0, { NULL, NULL, NULL } },
	/* item 3: results never dropped from the header or the log */
	{ "long i=", 10, "accept", NULL,
	  { "arc=none", "dmarc=pass", "dkim=permerror" },
	  { "action=accept dmarc=pass", NULL }, 0, { NULL, NULL, NULL } },
	{ "long selectors", 10, "accept", NULL,
	  { "arc=none", "dmarc=pass", "dkim=pass header.d=football.example.com" },
	  { "action=accept dmarc=pass", "dkim+=" }, 0, { NULL, NULL, NULL } },
	/* item 5: our own limits, and a missing From */
	{ "1001 fields", 10, "reject", "552",
	  { "dmarc=permerror (header limits exceeded: MaxHeaders)",
	    "dkim=permerror (header limits exceeded)", NULL },
	  { "action=reject dmarc=permerror", "limit=MaxHeaders" }, 0, { NULL, NULL, NULL } },
	{ "1 MB field", 10, "reject", "552",
	  { "dmarc=permerror (header limits exceeded: MaxHeaderBytes)", NULL, NULL },
	  { "action=reject", "limit=MaxHeaderBytes" }, 0, { NULL, NULL, NULL } },
	{ "no From", 10, "reject", "550",
	  { "dmarc=permerror (no From field)", NULL, NULL },
	  { "action=reject dmarc=permerror", "no single author domain" }, 0, { NULL, NULL, NULL } },
	/* item 7: authserv-ids compared as domain names */
	{ "forged A-R, trailing dot", 10, "accept", NULL,
	  { "dmarc=pass", NULL, NULL }, { "removed=2 forged A-R", NULL }, 2, { NULL, NULL, NULL } },
	/* IgnoreRecipients: only when every recipient is ignored */
	{ "unsigned", 10, "reject", "550", { "dmarc=fail (p=reject dis=reject;",
	  NULL, NULL }, { "action=reject dmarc=fail", NULL }, 0,
	  { "<user@example.net>", NULL, NULL } },
	{ "unsigned, to postmaster", 10, "accept", NULL,
	  { "dmarc=fail (p=reject dis=none reason=local_policy IgnoreRecipients;",
	  NULL, NULL }, { "policy=\"local_policy (IgnoreRecipients)\"", NULL }, 0,
	  { "<Postmaster@example.net>", "postmaster@other.example", NULL } },
	{ "unsigned, to postmaster and a user", 10, "reject", "550",
	  { "dmarc=fail (p=reject dis=reject;", NULL, NULL }, { NULL, NULL }, 0,
	  { "<postmaster@example.net>", "<user@example.net>", NULL } },
};

struct fixture {
	struct am_dns *dns;
};

static int
setup(void **state)
{
	static struct fixture fx;
	const char *path = AM_TOP_SRCDIR "/tests/unit/msg/football.zone";
	struct am_buf why = AM_BUF_INIT(512);

	fx.dns = am_dns_zone_new(&path, 1, &why);
	if (fx.dns == NULL)
		printf("zone: %s\n", am_buf_str(&why));
	assert_non_null(fx.dns);
	am_buf_release(&why);
	*state = &fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	am_dns_free(fx->dns);
	return 0;
}

/* A configuration for case c. */
static struct am_config *
conf_for(const struct mcase *c)
{
	struct am_config *conf = am_config_new();
	struct am_buf why = AM_BUF_INIT(256);
	char n[16];

	assert_non_null(conf);
	snprintf(n, sizeof(n), "%u", c->max_sigs);
	assert_int_equal(am_config_set(conf, "AuthservID", "mx.example.test",
	    "test", 1, &why), 0);
	assert_int_equal(am_config_set(conf, "DKIMMaxSignatures", n, "test", 2,
	    &why), 0);
	assert_int_equal(am_config_set(conf, "DMARCEnforce", "yes", "test", 3,
	    &why), 0);
	assert_int_equal(am_config_set(conf, "LookupThreads", "0", "test", 4,
	    &why), 0);
	assert_int_equal(am_config_set(conf, "IgnoreRecipients", "postmaster@",
	    "test", 5, &why), 0);
	am_buf_release(&why);
	return conf;
}

/* Feed the message of case c through a new engine; check the verdict. */
static int
run_case(struct fixture *fx, const struct mcase *c)
{
	struct am_config *conf = conf_for(c);
	struct am_buf why = AM_BUF_INIT(256), msg = AM_BUF_INIT(8 << 20);
	struct am_envelope env = { "QID", "192.0.2.1", NULL, "mail.example.net",
	    "joe@football.example.com", NULL, NULL, NULL, NULL, 0 };
	struct am_engine *e;
	struct am_hdrs h;
	struct am_msg *m;
	const struct am_verdict *v;
	size_t off, i;
	int ok = 1;

	for (env.nrcpts = 0; env.nrcpts < 3 && c->rcpts[env.nrcpts] != NULL;
	    env.nrcpts++)
		;
	env.rcpts = c->rcpts;
	e = am_engine_new(conf, fx->dns, &why);
	assert_non_null(e);
	build(c->name, &msg);
	am_hdrs_init(&h, 100000, 64 << 20);
	assert_int_equal(am_test_msg_split(am_buf_str(&msg), msg.len, &h, &off), 0);
	m = am_msg_new(e, &env);
	assert_non_null(m);
	for (i = 0; i < h.n; i++)
		am_msg_header(m, h.v[i].name, h.v[i].value, h.v[i].vlen);
	am_msg_end_headers(m);
	am_msg_body(m, am_buf_str(&msg) + off, msg.len - off);
	v = am_msg_finish(m);
	ok &= strcmp(am_action_name(v->action), c->action) == 0;
	ok &= c->rcode == NULL ? v->smtp_rcode == NULL :
	    v->smtp_rcode != NULL && strcmp(v->smtp_rcode, c->rcode) == 0;
	ok &= v->authres != NULL && strlen(v->authres) <= AM_AUTHRES_MAX;
	for (i = 0; ok && i < 3; i++)
		ok &= c->ar_has[i] == NULL || strstr(v->authres, c->ar_has[i]) != NULL;
	for (i = 0; ok && i < 2; i++)
		ok &= c->log_has[i] == NULL ||
		    strstr(am_buf_str(&v->log), c->log_has[i]) != NULL;
	ok &= strncmp(am_buf_str(&v->log), "action=", 7) == 0;
	ok &= !v->log.truncated;
	ok &= v->nar_remove == c->nremove;
	if (!ok)
		printf("FAIL %s: action %s %s %s\n  header (%zu bytes): %.3000s\n"
		    "  log: %s\n  removed %zu\n", c->name, am_action_name(v->action),
		    v->smtp_rcode ? v->smtp_rcode : "-", v->smtp_text ? v->smtp_text : "",
		    v->authres ? strlen(v->authres) : 0, v->authres ? v->authres : "-",
		    am_buf_str(&v->log), v->nar_remove);
	am_msg_free(m);
	am_hdrs_release(&h);
	am_engine_free(e);
	am_config_free(conf);
	am_buf_release(&msg);
	am_buf_release(&why);
	return ok;
}

static void
test_msg_cases(void **state)
{
	size_t i, failed = 0;

	for (i = 0; i < sizeof(mcases) / sizeof(mcases[0]); i++)
		failed += !run_case(*state, &mcases[i]);
	assert_int_equal(failed, 0);
}

/* ---- early lookups: started when their field arrives ---- */

/* A back end over the zone that records the names asked, for a waiter. */
struct watch {
	struct am_dns *inner;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char seen[2048];
};

static enum am_dns_status
watch_query(void *state, const char *name, int type,
    struct am_dns_answer **ans, struct am_buf *why)
{
	struct watch *w = state;
	size_t l;

	pthread_mutex_lock(&w->mu);
	l = strlen(w->seen);
	snprintf(w->seen + l, sizeof(w->seen) - l, " %s", name);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return am_dns_query(w->inner, name, type, ans, why);
}

static const struct am_dns_backend watch_be = { .name = "watch",
	.query = watch_query };

/* Wait (at most 30 s: a hang bound, not a timing check) until name is seen. */
static int
watch_wait(struct watch *w, const char *name)
{
	struct timespec until;
	int found;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 30;
	pthread_mutex_lock(&w->mu);
	while (!(found = strstr(w->seen, name) != NULL) &&
	    pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0)
		;
	found = strstr(w->seen, name) != NULL;
	pthread_mutex_unlock(&w->mu);
	return found;
}

/*
 * The DKIM key is asked for when its DKIM-Signature field has arrived and
 * the DMARC record when the From field has -- before the end of the header
 * (issue 12: start lookups as early as the protocol allows).
 */
static void
test_early_lookups(void **state)
{
	struct fixture *fx = *state;
	static struct watch w = { NULL, PTHREAD_MUTEX_INITIALIZER,
	    PTHREAD_COND_INITIALIZER, "" };
	static const struct mcase c = { "plain", 10, "accept", NULL,
	    { NULL, NULL, NULL }, { NULL, NULL }, 0, { NULL, NULL, NULL } };
	struct am_envelope env = { "QID", "192.0.2.1", NULL, "mail.example.net",
	    "joe@football.example.com", NULL, NULL, NULL, NULL, 0 };
	struct am_config *conf = conf_for(&c);
	struct am_buf why = AM_BUF_INIT(256);
	struct am_dns *dns;
	struct am_engine *e;
	struct am_msg *m;
	const char *from = " Joe SixPack <joe@football.example.com>";
	const char *sig = " v=1; a=ed25519-sha256; d=football.example.com; "
	    "s=brisbane; h=from; bh=AAAA; b=AAAA";

	w.inner = fx->dns;
	dns = am_dns_new(&watch_be, &w);
	assert_int_equal(am_config_set(conf, "LookupThreads", "2", "test", 6,
	    &why), 0);
	e = am_engine_new(conf, dns, &why);
	assert_non_null(e);
	m = am_msg_new(e, &env);
	assert_non_null(m);
	am_msg_header(m, "DKIM-Signature", sig, strlen(sig));
	assert_true(watch_wait(&w, "brisbane._domainkey.football.example.com"));
	am_msg_header(m, "From", from, strlen(from));
	assert_true(watch_wait(&w, "_dmarc.football.example.com"));
	am_msg_free(m);
	am_engine_free(e);
	am_dns_free(dns);	/* no close: the zone stays the fixture's */
	am_config_free(conf);
	am_buf_release(&why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_cases),
		cmocka_unit_test(test_early_lookups),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
