/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for what is written from the verdict record besides the
 * header and the text line: the Prometheus page (lib/stats.c) and the JSON
 * log object (lib/msg_verdict_json.c).
 *
 * Verdicts come from whole messages through the engine over
 * tests/unit/msg/football.zone (RFC 8463's signed message), and from
 * records built by hand where a field must hold bytes no parser would
 * pass on. Each JSON case is named; every object is also parsed by
 * python3's json module (strict UTF-8, no raw control characters, the
 * documented key set), and a failing case prints its name and object.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

#include "msg.h"
#include "stats.h"
#include "../dkim/testmsg.h"

#define SIGNED \
"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n" \
" d=football.example.com; i=@football.example.com;\r\n" \
" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n" \
" subject : date : message-id : from : subject : date;\r\n" \
" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n" \
" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n" \
" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n" \
"From: Joe SixPack <joe@football.example.com>\r\n" \
"To: Suzie Q <suzie@shopping.example.net>\r\n" \
"Subject: Is dinner ready?\r\n" \
"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n" \
"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n" \
"\r\nHi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n"

/* The keys of every object, as authmilter.conf(5) documents them. */
#define JSON_KEYS "queue_id action reply judged skip_reason client_ip helo " \
	"mail_from dmarc spf spf_helo arc arc_seal removed_forged " \
	"policy_reason limit dkim dkim_not_listed dkim_not_verified"

static struct am_dns *dns;

static int
setup(void **state)
{
	const char *path = AM_TOP_SRCDIR "/tests/unit/msg/football.zone";
	struct am_buf why = AM_BUF_INIT(512);

	(void)state;
	dns = am_dns_zone_new(&path, 1, &why);
	if (dns == NULL)
		printf("zone: %s\n", am_buf_str(&why));
	am_buf_release(&why);
	return dns == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	dns = am_dns_free(dns);
	return 0;
}

/* A message through a new engine; the engine comes back in *e. */
static struct am_msg *
run_msg(struct am_engine **e, struct am_config **conf,
    const struct am_envelope *env, const char *text, const char *max_sigs)
{
	struct am_buf why = AM_BUF_INIT(256);
	struct am_hdrs h;
	struct am_msg *m;
	size_t off, i;

	*conf = am_config_new();
	assert_non_null(*conf);
	assert_int_equal(am_config_set(*conf, "AuthservID", "mx.example.test",
	    "test", 1, &why), 0);
	assert_int_equal(am_config_set(*conf, "LookupThreads", "0", "test", 2,
	    &why), 0);
	assert_int_equal(am_config_set(*conf, "DKIMMaxSignatures", max_sigs,
	    "test", 3, &why), 0);
	assert_int_equal(am_config_set(*conf, "DMARCEnforce", "yes", "test", 4,
	    &why), 0);
	*e = am_engine_new(*conf, dns, &why);
	assert_non_null(*e);
	am_hdrs_init(&h, 100000, 64 << 20);
	assert_int_equal(am_test_msg_split(text, strlen(text), &h, &off), 0);
	m = am_msg_new(*e, env);
	assert_non_null(m);
	for (i = 0; i < h.n; i++)
		am_msg_header(m, h.v[i].name, h.v[i].value, h.v[i].vlen);
	am_msg_end_headers(m);
	am_msg_body(m, text + off, strlen(text) - off);
	(void)am_msg_finish(m);
	am_hdrs_release(&h);
	am_buf_release(&why);
	return m;
}

static void
done_msg(struct am_msg *m, struct am_engine *e, struct am_config *conf)
{
	am_msg_free(m);
	am_engine_free(e);
	am_config_free(conf);
}

/* ---- the Prometheus page ---- */

static void
test_label_escape(void **state)
{
	static const struct {
		const char *name, *in, *want;
	} cases[] = {
		{ "plain", "pass", "pass" },
		{ "backslash", "a\\b", "a\\\\b" },
		{ "quote", "say \"hi\"", "say \\\"hi\\\"" },
		{ "line feed", "a\nb", "a\\nb" },
		{ "all three", "\\\"\n", "\\\\\\\"\\n" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct am_buf b = AM_BUF_INIT(256);
		am_stats_label(&b, cases[i].in);
		if (strcmp(am_buf_str(&b), cases[i].want) != 0)
			fail_msg("%s: got [%s] want [%s]", cases[i].name,
			    am_buf_str(&b), cases[i].want);
		am_buf_release(&b);
	}
}

/* The value of the sample line that starts with "name " in page; -1 if none. */
static double
sample(const char *page, const char *name)
{
	const char *p = page;
	size_t n = strlen(name);

	while ((p = strstr(p, name)) != NULL) {
		if ((p == page || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return -1;
}

/* Every line is a comment ("# HELP"/"# TYPE", one TYPE per family) or
 * "name{labels} value" with a name of [a-z_] and a number. */
static void
check_syntax(const char *page)
{
	const char *l = page, *nl;
	char name[128], types[8192] = " ";
	size_t n;

	for (; *l != '\0'; l = nl + 1) {
		assert_non_null(nl = strchr(l, '\n'));
		if (strncmp(l, "# HELP ", 7) == 0)
			continue;
		if (strncmp(l, "# TYPE ", 7) == 0) {
			n = strcspn(l + 7, " ");
			assert_true(n < sizeof(name) - 2);
			snprintf(name, sizeof(name), " %.*s ", (int)n, l + 7);
			if (strstr(types, name) != NULL)
				fail_msg("TYPE twice: %s", name);
			strncat(types, name + 1, sizeof(types) - strlen(types) - 1);
			continue;
		}
		n = strspn(l, "abcdefghijklmnopqrstuvwxyz_");
		assert_true(n > 0);
		if (l[n] == '{')
			n += strcspn(l + n, "}") + 1;
		if (l[n] != ' ' || strspn(l + n + 1, "0123456789.e+") !=
		    (size_t)(nl - l - n - 1))
			fail_msg("bad sample line: %.*s", (int)(nl - l), l);
	}
}

/* Buckets of the duration histogram never decrease; +Inf is the count. */
static void
check_histogram(const char *page, double want_count, double want_sum)
{
	const char *name = "authmilter_message_duration_seconds_bucket{le=\"";
	const char *p = page;
	double prev = 0, v = 0;
	int nb = 0, inf = 0;

	while ((p = strstr(p, name)) != NULL) {
		p += strlen(name);
		inf = strncmp(p, "+Inf\"", 5) == 0;
		v = strtod(strchr(p, ' ') + 1, NULL);
		if (v < prev)
			fail_msg("bucket le=%.8s is %g, below the previous %g", p, v, prev);
		prev = v;
		nb++;
	}
	assert_true(nb >= 10);
	assert_true(inf);  /* the last bucket is +Inf */
	assert_true(v == want_count);
	assert_true(sample(page, "authmilter_message_duration_seconds_count") == want_count);
	assert_true(sample(page, "authmilter_message_duration_seconds_sum") > want_sum - 1e-5);
	assert_true(sample(page, "authmilter_message_duration_seconds_sum") < want_sum + 1e-5);
}

static void
test_page(void **state)
{
	struct am_envelope env = { "QID", "192.0.2.1", NULL, "mail.example.net",
	    "joe@football.example.com", NULL, NULL, NULL, NULL, 0 };
	struct am_buf page = AM_BUF_INIT(AM_STATS_PAGE_MAX);
	struct am_verdict skipped;
	struct am_config *conf;
	struct am_engine *e;
	struct am_msg *m;
	const char *p;

	(void)state;
	am_stats_reset();
	/* a signed message: dkim pass, spf fail (-all), dmarc pass */
	m = run_msg(&e, &conf, &env, SIGNED, "10");
	am_stats_verdict(am_msg_finish(m), 0.0004);
	done_msg(m, e, conf);
	/* not judged (a trusted client) */
	memset(&skipped, 0, sizeof(skipped));
	skipped.action = AM_ACTION_ACCEPT;
	skipped.skip_reason = "trusted network";
	am_stats_verdict(&skipped, 0.003);
	skipped.action = AM_ACTION_TEMPFAIL;
	am_stats_verdict(&skipped, 20);  /* past the last bound: +Inf only */
	am_stats_reload();
	am_stats_count(AM_STATS_DNS_LOOKUP);
	am_stats_count(AM_STATS_DNS_LOOKUP);
	am_stats_count(AM_STATS_DNS_CACHE_HIT);
	assert_int_equal(am_stats_write(&page), 0);
	p = am_buf_str(&page);
	check_syntax(p);
	check_histogram(p, 3, 20.0034);
#define HAS(name, v) do { if (sample(p, name) != (v)) \
	fail_msg("%s: got %g want %g\n%s", name, sample(p, name), (double)(v), p); } while (0)
	HAS("authmilter_messages_total{action=\"accept\"}", 2);
	HAS("authmilter_messages_total{action=\"tempfail\"}", 1);
	HAS("authmilter_messages_total{action=\"reject\"}", 0);
	HAS("authmilter_messages_not_judged_total", 2);
	HAS("authmilter_results_total{method=\"dkim\",result=\"pass\"}", 1);
	HAS("authmilter_results_total{method=\"dmarc\",result=\"pass\"}", 1);
	HAS("authmilter_results_total{method=\"spf\",result=\"fail\"}", 1);
	HAS("authmilter_results_total{method=\"spf_helo\",result=\"none\"}", 1);
	HAS("authmilter_results_total{method=\"arc\",result=\"none\"}", 1);
	HAS("authmilter_reloads_total", 1);
	HAS("authmilter_dns_lookups_total", 2);
	HAS("authmilter_dns_cache_hits_total", 1);
	HAS("authmilter_dns_shared_total", 0);
	HAS("authmilter_log_dropped_total", 0);
	HAS("authmilter_report_dropped_total", 0);
	HAS("authmilter_messages_unchecked_total", 0);
	assert_non_null(strstr(p, "# TYPE authmilter_message_duration_seconds histogram\n"));
	assert_non_null(strstr(p, "# TYPE authmilter_messages_total counter\n"));
	am_buf_release(&page);
}

/* ---- the JSON object ---- */

/* Every object written, one a line, for python3 to parse at the end. */
static FILE *json_out;
static char json_path[] = "/tmp/test_stats_json.XXXXXX";
static int json_n;

/* The object of v; checks that it was written, holds each of has[] and
 * not hasnot (may be NULL). */
static int
check_json(const char *name, const struct am_verdict *v, const char *const *has,
    size_t nhas, const char *hasnot)
{
	struct am_buf j = AM_BUF_INIT(AM_VERDICT_JSON_MAX + 65536);
	size_t i;
	int ok = 1;

	ok &= am_verdict_json(v, &j) == 0;
	ok &= j.len > 2 && j.data[0] == '{' && j.data[j.len - 1] == '}';
	ok &= j.len <= AM_VERDICT_JSON_MAX;
	for (i = 0; ok && i < nhas; i++)
		ok &= has[i] == NULL || strstr(am_buf_str(&j), has[i]) != NULL;
	ok &= hasnot == NULL || strstr(am_buf_str(&j), hasnot) == NULL;
	if (!ok)
		printf("FAIL %s: %zu bytes\n  %s\n", name, j.len, am_buf_str(&j));
	fprintf(json_out, "%s\n", am_buf_str(&j));
	json_n++;
	am_buf_release(&j);
	return ok;
}

struct jcase {
	const char *name;
	const char *helo, *mail_from;
	const char *text;         /* the message, or NULL: SIGNED */
	const char *max_sigs;
	const char *has[4];
};

/* A DKIM-Signature with a hostile selector and domain, then SIGNED. */
#define HOSTILE_SIG \
	"DKIM-Signature: v=1; a=rsa-sha256; d=j\"nk\\.ex\xff" "ample; " \
	"s=s\x01" "el\xc3\xa9; h=from; bh=AAAA; b=BBBB\r\n" SIGNED

static const struct jcase jcases[] = {
	{ "plain signed message", "mail.example.net", "joe@football.example.com",
	  NULL, "10", { "\"queue_id\":\"QID\",\"action\":\"accept\"",
	  "\"dkim\":[{\"result\":\"pass\",\"domain\":\"football.example.com\","
	  "\"selector\":\"brisbane\"", "\"dmarc\":{\"result\":\"pass\"",
	  "\"spf\":{\"result\":\"fail\",\"identity\":\"mailfrom\"" } },
	{ "quotes and backslashes", "mx\"\\x.example", "a@football.example.com",
	  NULL, "10", { "\"helo\":\"mx\\\"\\\\x.example\"", NULL, NULL, NULL } },
	{ "control characters", "a\x01" "b\tc\x7f" "d\x1f", "a@football.example.com",
	  NULL, "10", { "\"helo\":\"a\\u0001b\\u0009c\\u007fd\\u001f\"", NULL,
	  NULL, NULL } },
	{ "latin-1 byte", "caf\xe9.example", "a@football.example.com", NULL, "10",
	  { "\"helo\":\"caf\\ufffd.example\"", NULL, NULL, NULL } },
	{ "valid UTF-8 kept", "caf\xc3\xa9.example", "a@football.example.com",
	  NULL, "10", { "\"helo\":\"caf\xc3\xa9.example\"", NULL, NULL, NULL } },
	{ "overlong and surrogate", "a\xc0\xaf" "b\xed\xa0\x80" "c\xf4\x90\x80\x80",
	  "a@football.example.com", NULL, "10",
	  { "\"helo\":\"a\\ufffd\\ufffdb\\ufffd\\ufffd\\ufffdc\\ufffd\\ufffd\\ufffd\\ufffd\"",
	  NULL, NULL, NULL } },
	{ "cut sequence at the end", "x\xe2\x82", "a@football.example.com", NULL,
	  "10", { "\"helo\":\"x\\ufffd\\ufffd\"", NULL, NULL, NULL } },
	{ "hostile DKIM signature", "mail.example.net", "joe@football.example.com",
	  HOSTILE_SIG, "10", { "\"dkim\":[{", "\"dkim_not_listed\":0", NULL,
	  NULL } },
	{ "hostile mail from", "mail.example.net", "\"a\\\"b\xff\n\"@exa\x02mple",
	  NULL, "10", { "\"mail_from\":\"", NULL, NULL, NULL } },
};

/* Messages with many signatures: the object stays under its cap. */
static void
many_sigs(struct am_buf *b, int n)
{
	int i, k;

	for (i = 0; i < n; i++) {
		am_buf_printf(b, "DKIM-Signature: v=1; a=rsa-sha256; d=junk%d.", i);
		for (k = 0; k < 3; k++)
			am_buf_adds(b, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz.");
		am_buf_printf(b, "example; s=sel%d; h=from; bh=AAAA; b=BBBB%d\r\n", i, i);
	}
	am_buf_adds(b, SIGNED);
}

/* Listed + not listed + not verified = every signature of the verdict. */
static int
dkim_all_counted(const struct am_verdict *v)
{
	struct am_buf j = AM_BUF_INIT(AM_VERDICT_JSON_MAX + 65536);
	const char *p;
	size_t listed = 0, more, skipped;
	int ok;

	assert_int_equal(am_verdict_json(v, &j), 0);
	assert_non_null(p = strstr(am_buf_str(&j), "\"dkim\":["));
	while ((p = strstr(p + 1, "{\"result\":")) != NULL)
		listed++;
	more = strtoul(strstr(am_buf_str(&j), "\"dkim_not_listed\":") + 18, NULL, 10);
	skipped = strtoul(strstr(am_buf_str(&j), "\"dkim_not_verified\":") + 20, NULL, 10);
	ok = listed + more + skipped == am_dkim_count(v->dkim) && skipped > 0;
	if (!ok)
		printf("FAIL dkim counts: %zu listed + %zu + %zu not verified, of %zu\n",
		    listed, more, skipped, am_dkim_count(v->dkim));
	am_buf_release(&j);
	return ok;
}

static int
run_jcase(const struct jcase *c)
{
	struct am_envelope env = { "QID", "192.0.2.1", NULL, c->helo,
	    c->mail_from, NULL, NULL, NULL, NULL, 0 };
	struct am_config *conf;
	struct am_engine *e;
	struct am_msg *m;
	int ok;

	m = run_msg(&e, &conf, &env, c->text != NULL ? c->text : SIGNED, c->max_sigs);
	ok = check_json(c->name, am_msg_finish(m), c->has, 4, NULL);
	done_msg(m, e, conf);
	return ok;
}

/* Fields only a hand-made record can fill with such bytes. */
static int
run_handmade(void)
{
	static const char *const has[] = {
		"\"judged\":true,\"skip_reason\":null",
		"\"reason\":\"line\\u000abreak \\\"q\\\" \\\\ \\ufffd\"",
		"\"from\":\"ex\\ufffdample.org\"",
		"\"policy_reason\":\"p=reject \\\"x\\\"\"",
	};
	static const char *const has_skip[] = {
		"\"judged\":false,\"skip_reason\":\"trusted network\"",
		"\"dmarc\":null,\"spf\":null,\"spf_helo\":null,\"arc\":null",
		"\"dkim\":null", "\"reply\":null",
	};
	struct am_dmarc_response d;
	struct am_verdict v;
	int ok;

	memset(&v, 0, sizeof(v));
	v.queue_id = "Q\"1";
	v.client_ip = "192.0.2.1";
	v.mail_from = "";
	v.judged = 1;
	v.action = AM_ACTION_REJECT;
	v.smtp_rcode = "550";
	v.smtp_xcode = "5.7.1";
	v.smtp_text = "Rejected by \"policy\"";
	v.policy_reason = "p=reject \"x\"";
	v.override_note = "";
	am_spf_response_init(&v.spf_mailfrom);
	v.spf_mailfrom_done = 1;
	v.spf_mailfrom.result = AM_SPF_FAIL;
	snprintf(v.spf_mailfrom.identity, sizeof(v.spf_mailfrom.identity), "helo");
	snprintf(v.spf_mailfrom.domain, sizeof(v.spf_mailfrom.domain), "ex\x80.org");
	am_buf_adds(&v.spf_mailfrom.reason, "line\nbreak \"q\" \\ \xfe");
	am_dmarc_response_init(&d);
	d.result = AM_DMARC_FAIL;
	d.have_record = 1;
	snprintf(d.from_domain, sizeof(d.from_domain), "ex\xa0" "ample.org");
	am_buf_adds(&d.why, "no aligned \"identifier\"");
	v.dmarc = &d;
	ok = check_json("hand-made hostile fields", &v, has, 4, NULL);
	am_dmarc_response_release(&d);
	am_spf_response_release(&v.spf_mailfrom);

	memset(&v, 0, sizeof(v));
	v.queue_id = "NOQUEUE";
	v.mail_from = "a@b";
	v.skip_reason = "trusted network";
	ok &= check_json("not judged", &v, has_skip, 4, NULL);
	return ok;
}

static void
test_json(void **state)
{
	static const char *const has_many[] = { "\"dkim_not_verified\":",
		"\"dkim\":[{\"result\":\"pass\",\"domain\":\"football.example.com\"",
		"\"selector\":\"sel0\"" };
	struct am_envelope env = { "QID", "192.0.2.1", NULL, "mail.example.net",
	    "joe@football.example.com", NULL, NULL, NULL, NULL, 0 };
	struct am_buf text = AM_BUF_INIT(1 << 20), cmd = AM_BUF_INIT(8192);
	struct am_config *conf;
	struct am_engine *e;
	struct am_msg *m;
	char line[256] = "";
	size_t i, failed = 0;
	FILE *py;
	int fd;

	(void)state;
	assert_true((fd = mkstemp(json_path)) >= 0);
	assert_non_null(json_out = fdopen(fd, "w"));
	for (i = 0; i < sizeof(jcases) / sizeof(jcases[0]); i++)
		failed += !run_jcase(&jcases[i]);
	failed += !run_handmade();
	/* 100 of 121 signatures verified, the rest not; the list is cut
	 * after the one that made DMARC pass */
	many_sigs(&text, 120);
	m = run_msg(&e, &conf, &env, am_buf_str(&text), "100");
	failed += !check_json("120 signatures", am_msg_finish(m), has_many, 3,
	    "\"dkim_not_listed\":0,");
	failed += !dkim_all_counted(am_msg_finish(m));
	done_msg(m, e, conf);
	fclose(json_out);
	assert_int_equal(failed, 0);

	/* python3: strict UTF-8, strict JSON, the documented keys, one a line */
	am_buf_printf(&cmd, "python3 -c '"
	    "import json, sys\n"
	    "keys = set(sys.argv[2].split())\n"
	    "n = 0\n"
	    "for raw in open(sys.argv[1], \"rb\").read().split(b\"\\n\")[:-1]:\n"
	    "    s = raw.decode(\"utf-8\")\n"
	    "    o = json.loads(s)\n"
	    "    assert set(o) == keys, sorted(set(o) ^ keys)\n"
	    "    assert all(k in (\"result\", \"domain\", \"selector\", \"b\", \"l\", \"reason\") for d in o[\"dkim\"] or [] for k in d)\n"
	    "    n += 1\n"
	    "print(\"parsed\", n)\n"
	    "' %s '%s' 2>&1", json_path, JSON_KEYS);
	assert_non_null(py = popen(am_buf_str(&cmd), "r"));
	if (fgets(line, sizeof(line), py) == NULL)
		line[0] = '\0';
	pclose(py);
	unlink(json_path);
	snprintf((char *)cmd.data, cmd.size, "parsed %d\n", json_n);
	if (strcmp(line, cmd.data) != 0)
		fail_msg("python3 says: %s (want %s)", line, cmd.data);
	am_buf_release(&text);
	am_buf_release(&cmd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_escape),
		cmocka_unit_test(test_page),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
