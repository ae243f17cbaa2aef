/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for DMARC failure reports (RFC 9991): the fo= decision
 * (lib/report_fo.c, a table of named cases), the AFRF message writer
 * (lib/report_afrf.c: required fields, headers only, hostile header
 * content escaped, line lengths, the MIME structure), the failure part of
 * a row copy and of the queue (lib/report_row.c, lib/report_queue.c:
 * caps), the SQLite store's failure tables (lib/report_sqlite.c:
 * insert with the row, pending, sent once, the rate per destination,
 * purge, migration from schema version 1), and the engine's side
 * (lib/msg_report.c): which messages get a failure report and what it
 * holds, over tests/zones/auth.zone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "config.h"
#include "dns.h"
#include "msg.h"
#include "report.h"
#include "report_afrf.h"
#include "report_store.h"

/* ---- fo= ---- */

struct fo_case {
	const char *name;
	const char *fo;                  /* NULL: absent */
	struct am_report_fo_input in;    /* temperror, dkim_ok, spf_ok,
	                                    dkim_failed, spf_failed */
	int want;
};

static const struct fo_case fo_cases[] = {
	{ "absent, both fail", NULL, { 0, 0, 0, 0, 0 }, 1 },
	{ "absent, dkim passes", NULL, { 0, 1, 0, 1, 1 }, 0 },
	{ "0, both fail", "0", { 0, 0, 0, 1, 1 }, 1 },
	{ "0, spf passes aligned", "0", { 0, 0, 1, 1, 0 }, 0 },
	{ "1, spf passes, dkim not aligned", "1", { 0, 0, 1, 0, 0 }, 1 },
	{ "1, dkim passes, spf not aligned", "1", { 0, 1, 0, 0, 0 }, 1 },
	{ "1, both pass aligned", "1", { 0, 1, 1, 1, 1 }, 0 },
	{ "1, both fail", "1", { 0, 0, 0, 0, 0 }, 1 },
	{ "d, a signature failed, dmarc passes", "d", { 0, 1, 1, 1, 0 }, 1 },
	{ "d, no signature failed", "d", { 0, 0, 0, 0, 1 }, 0 },
	{ "s, spf failed, dmarc passes", "s", { 0, 1, 0, 0, 1 }, 1 },
	{ "s, spf did not fail", "s", { 0, 0, 0, 1, 0 }, 0 },
	{ "d:s, spf failed", "d:s", { 0, 1, 1, 0, 1 }, 1 },
	{ "0:d, dkim failed, spf aligned", "0:d", { 0, 0, 1, 1, 0 }, 1 },
	{ "1:d blanks", " 1 : d ", { 0, 1, 0, 0, 0 }, 1 },
	{ "upper case D", "D", { 0, 1, 1, 1, 0 }, 1 },
	{ "unknown only: the default 0", "x:yz", { 0, 0, 0, 0, 0 }, 1 },
	{ "unknown only, dkim passes", "x", { 0, 1, 0, 1, 1 }, 0 },
	{ "unknown ignored beside s", "q:s", { 0, 0, 0, 0, 0 }, 0 },
	{ "empty: the default", "", { 0, 0, 0, 0, 0 }, 1 },
	{ "temperror: never", "1:d:s", { 1, 0, 0, 1, 1 }, 0 },
	{ "10 is not 1", "10", { 0, 1, 0, 0, 0 }, 0 },
};

static void
test_fo(void **state)
{
	size_t i;
	int bad = 0, got;

	(void)state;
	for (i = 0; i < sizeof(fo_cases) / sizeof(fo_cases[0]); i++) {
		const struct fo_case *c = &fo_cases[i];
		got = am_report_fo_wants(c->fo, &c->in);
		if (got != c->want) {
			printf("fo case \"%s\": got %d, want %d\n", c->name, got,
			    c->want);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* ---- the AFRF writer ---- */

/* The message for e (token "abc123"), as a string the caller frees. */
static char *
afrf(const struct am_report_failure_entry *e, const char *spf_dns)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_afrf a;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	memset(&a, 0, sizeof(a));
	a.from = "dmarc-reports@example.test";
	a.to = "ruf@rcpt.test";
	a.submitter = "example.test";
	a.user_agent = "authmilter/test";
	a.token = "abc123";
	a.spf_dns = spf_dns;
	a.now = 1700000000;
	a.e = e;
	assert_non_null(f = open_memstream(&text, &len));
	if (am_report_afrf_write(&a, f, &why) != 0)
		fail_msg("afrf: %s", am_buf_str(&why));
	fclose(f);
	am_buf_release(&why);
	return text;
}

static void
entry_init(struct am_report_failure_entry *e, const char *headers)
{
	memset(e, 0, sizeof(*e));
	e->id = 42;
	e->time = 1699999000;
	e->source_ip = "192.0.2.99";
	e->policy_domain = "fail.auth.test";
	e->header_from = "fail.auth.test";
	e->mail_from = "u@fail.auth.test";
	e->ruf = "mailto:ruf@rcpt.test\n";
	e->fo = "1";
	e->identity_alignment = "dkim, spf";
	e->delivery_result = "delivered";
	e->dkim_domain = "fail.auth.test";
	e->dkim_selector = "sel";
	e->dkim_identity = "@fail.auth.test";
	e->spf_domain = "fail.auth.test";
	e->authres = "mx.example.test;\n\tspf=fail smtp.mailfrom=fail.auth.test;"
	    "\n\tdmarc=fail header.from=fail.auth.test";
	e->headers = headers;
}

/* The text between "\n\n" after the part whose Content-Type is ct and
 * the next boundary line, into out. */
static void
part(const char *msg, const char *ct, char *out, size_t size)
{
	const char *p = strstr(msg, ct), *b, *e;

	out[0] = '\0';
	if (p == NULL || (b = strstr(p, "\n\n")) == NULL)
		return;
	b += 2;
	if ((e = strstr(b, "\n--=_am_fail_42_abc123")) == NULL)
		return;
	snprintf(out, size, "%.*s", (int)(e - b), b);
}

/* No line over 998 bytes (RFC 5322 s.2.1.1), no CR, no NUL, 7-bit. */
static void
assert_wire_safe(const char *msg)
{
	size_t line = 0, max = 0;
	const unsigned char *p;

	for (p = (const unsigned char *)msg; *p != '\0'; p++) {
		assert_true(*p != '\r');
		assert_true(*p < 0x80);
		if (*p == '\n') {
			line = 0;
			continue;
		}
		assert_true(*p >= 0x20 || *p == '\t');
		if (++line > max)
			max = line;
	}
	if (max > 998)
		fail_msg("a line of %zu bytes", max);
}

static void
test_afrf_fields(void **state)
{
	struct am_report_failure_entry e;
	static const char *const want[] = {
		"Feedback-Type: auth-failure\n", "User-Agent: authmilter/test\n",
		"Version: 1\n", "Auth-Failure: dmarc\n",
		"Authentication-Results: mx.example.test;\n\tspf=fail "
		    "smtp.mailfrom=fail.auth.test;\n\tdmarc=fail header.from=",
		"Identity-Alignment: dkim, spf\n", "Delivery-Result: delivered\n",
		"DKIM-Domain: fail.auth.test\n", "DKIM-Identity: @fail.auth.test\n",
		"DKIM-Selector: sel\n",
		"SPF-DNS: txt : fail.auth.test : \"v=spf1 -all\"\n",
		"Original-Mail-From: <u@fail.auth.test>\n",
		"Arrival-Date: Tue, 14 Nov 2023 21:56:40 +0000\n",
		"Source-IP: 192.0.2.99\n", "Reported-Domain: fail.auth.test\n",
	};
	char fb[4096], hd[4096], *m;
	size_t i;

	(void)state;
	entry_init(&e, "Received: from x\r\n\tby y\r\n"
	    "From: <u@fail.auth.test>\r\nSubject: hi\r\n");
	m = afrf(&e, "txt : fail.auth.test : \"v=spf1 -all\"");
	assert_non_null(strstr(m, "\nContent-Type: multipart/report;"
	    " report-type=feedback-report;\n boundary=\"=_am_fail_42_abc123\"\n"));
	assert_non_null(strstr(m, "\nMIME-Version: 1.0\n"));
	assert_non_null(strstr(m, "\nTo: ruf@rcpt.test\n"));
	assert_non_null(strstr(m, "From: dmarc-reports@example.test\n"));
	assert_non_null(strstr(m, "\nMessage-ID: <fail.42.abc123@example.test>\n"));
	part(m, "Content-Type: message/feedback-report", fb, sizeof(fb));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(fb, want[i]) == NULL)
			fail_msg("feedback part lacks \"%s\":\n%s", want[i], fb);
	/* the headers, as they came, and nothing after them */
	part(m, "Content-Type: text/rfc822-headers", hd, sizeof(hd));
	assert_non_null(strstr(m, "Content-Transfer-Encoding: 7bit\n\nReceived"));
	assert_string_equal(hd, "Received: from x\n\tby y\n"
	    "From: <u@fail.auth.test>\nSubject: hi\n");
	assert_non_null(strstr(m, "\n--=_am_fail_42_abc123--\n"));
	assert_null(strstr(m, "message/rfc822"));
	assert_wire_safe(m);
	free(m);
}

static void
test_afrf_optional_fields(void **state)
{
	struct am_report_failure_entry e;
	char fb[4096], *m;

	(void)state;
	entry_init(&e, "Subject: x\r\n");
	e.dkim_domain = e.dkim_selector = e.dkim_identity = NULL;
	e.mail_from = "";
	e.identity_alignment = "none";
	m = afrf(&e, NULL);
	part(m, "Content-Type: message/feedback-report", fb, sizeof(fb));
	assert_null(strstr(fb, "DKIM-"));
	assert_null(strstr(fb, "SPF-DNS"));
	assert_non_null(strstr(fb, "Original-Mail-From: <>\n"));
	assert_non_null(strstr(fb, "Identity-Alignment: none\n"));
	free(m);
}

/* Hostile input: nothing of it may end a field, a part or the message. */
static void
test_afrf_hostile(void **state)
{
	struct am_buf h = AM_BUF_INIT(1 << 20);
	struct am_report_failure_entry e;
	char fb[8192], *m, *hd;
	const char *p;
	int i, parts = 0;

	(void)state;
	am_buf_adds(&h, "Subject: =?utf-8?q?x?= caf\xc3\xa9 \x01\x7f\r\n");
	am_buf_adds(&h, "X-Bare: a\rb\r\n");
	am_buf_adds(&h, "--=_am_fail_42_abc12: not the boundary\r\n");
	am_buf_adds(&h, "X-Long: ");
	for (i = 0; i < 3000; i++)
		am_buf_addc(&h, 'a' + i % 26);
	am_buf_adds(&h, "\r\nX-Trail: blank at the end \r\n");
	entry_init(&e, am_buf_str(&h));
	e.header_from = "evil.test\nBcc: victim@x";
	e.source_ip = "1.2.3.4\r\nX-Injected: 1";
	e.mail_from = "a\n@b";
	e.dkim_selector = "s\r\n\r\n--x";
	e.dkim_identity = "i\xff\n";
	e.identity_alignment = "dkim\nX: y";
	e.delivery_result = "delivered\n";
	e.authres = "mx;\r\n\r\nspf=fail\n\n\nX-Injected: 2\n";
	m = afrf(&e, NULL);
	assert_wire_safe(m);
	/* no injected field starts a line anywhere */
	assert_null(strstr(m, "\nBcc:"));
	assert_null(strstr(m, "\nX-Injected:"));
	assert_null(strstr(m, "\n\nspf=fail"));
	part(m, "Content-Type: message/feedback-report", fb, sizeof(fb));
	assert_non_null(strstr(fb, "Reported-Domain: invalid\n"));
	assert_non_null(strstr(fb, "Source-IP: invalid\n"));
	assert_non_null(strstr(fb, "Original-Mail-From: <invalid>\n"));
	assert_non_null(strstr(fb, "DKIM-Selector: invalid\n"));
	assert_non_null(strstr(fb, "Identity-Alignment: none\n"));
	assert_non_null(strstr(fb, "Delivery-Result: other\n"));
	assert_non_null(strstr(fb, "Authentication-Results: mx;\n\tspf=fail\n"
	    "\tX-Injected: 2\n"));
	/* the header block went quoted-printable */
	assert_non_null(strstr(m, "Content-Type: text/rfc822-headers\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n"));
	hd = strstr(m, "quoted-printable\n\n");
	assert_non_null(strstr(hd, "caf=C3=A9 =01=7F\n"));
	assert_non_null(strstr(hd, "X-Bare: a=0Db\n"));
	assert_non_null(strstr(hd, "X-Trail: blank at the end=20\n"));
	/* exactly three parts: the boundary lines are the writer's own */
	for (p = m; (p = strstr(p, "\n--=_am_fail_42_abc123")) != NULL; p++)
		parts++;
	assert_int_equal(parts, 4);   /* three parts and the close */
	free(m);
	am_buf_release(&h);
}

static void
test_afrf_refuses_boundary(void **state)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_failure_entry e;
	struct am_report_afrf a;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	entry_init(&e, "X: --=_am_fail_42_abc123\r\n");
	memset(&a, 0, sizeof(a));
	a.from = "r@example.test";
	a.to = "ruf@rcpt.test";
	a.token = "abc123";
	a.e = &e;
	assert_non_null(f = open_memstream(&text, &len));
	assert_int_equal(am_report_afrf_write(&a, f, &why), -1);
	assert_non_null(strstr(am_buf_str(&why), "boundary"));
	fclose(f);
	free(text);
	am_buf_release(&why);
}

/* Over-long values (a damaged or hand-edited store) stay within lines. */
static void
test_afrf_long_values(void **state)
{
	struct am_buf big = AM_BUF_INIT(1 << 16);
	struct am_report_failure_entry e;
	char *m;
	int i;

	(void)state;
	for (i = 0; i < 5000; i++)
		am_buf_addc(&big, 'a' + i % 26);
	entry_init(&e, "Subject: x\r\n");
	e.authres = am_buf_str(&big);
	e.mail_from = am_buf_str(&big);
	e.dkim_identity = am_buf_str(&big);
	m = afrf(&e, am_buf_str(&big));
	assert_wire_safe(m);
	assert_non_null(strstr(m, "\nAuthentication-Results: abcd"));
	assert_non_null(strstr(m, "\n\tqrst"));   /* folded after 900 */
	free(m);
	am_buf_release(&big);
}

/* ---- the row copy and the queue ---- */

static void
row_init(struct am_report_row *r, struct am_report_failure *f,
    const char *const *ruf)
{
	memset(r, 0, sizeof(*r));
	memset(f, 0, sizeof(*f));
	r->time = 1700000000;
	r->source_ip = "192.0.2.99";
	r->policy_domain = "fail.auth.test";
	r->header_from = "fail.auth.test";
	r->envelope_from = "fail.auth.test";
	r->adkim = r->aspf = 'r';
	r->testing = 'n';
	r->fo = "1";
	r->ruf = ruf;
	r->nruf = 1;
	r->spf_domain = "fail.auth.test";
	f->mail_from = "u@fail.auth.test";
	f->identity_alignment = "dkim, spf";
	f->delivery_result = "delivered";
	f->authres = "mx.example.test; dmarc=fail";
	f->headers = "Subject: x\r\n";
	r->failure = f;
}

#define FILLER "X-Filler: 0123456789012345678901234567890123456789\r\n" \
	"\tfolded 0123456789\r\n"

static void
test_copy_caps_headers(void **state)
{
	static const char *const ruf[] = { "mailto:ruf@rcpt.test" };
	struct am_buf h = AM_BUF_INIT(2 * AM_REPORT_HEADERS_MAX);
	struct am_report_failure f;
	struct am_report_row r, *c;
	size_t n;

	(void)state;
	row_init(&r, &f, ruf);
	/* equal fields with a folded line: the cut falls between fields */
	while (h.len < AM_REPORT_HEADERS_MAX + 500)
		am_buf_adds(&h, FILLER);
	f.headers = am_buf_str(&h);
	assert_non_null(c = am_report_row_copy(&r));
	assert_non_null(c->failure);
	n = strlen(c->failure->headers);
	assert_true(n <= AM_REPORT_HEADERS_MAX);
	assert_true(n > AM_REPORT_HEADERS_MAX - 200);
	assert_memory_equal(c->failure->headers + n - 2, "\r\n", 2);
	assert_int_equal(n % strlen(FILLER), 0);
	assert_string_equal(c->failure->identity_alignment, "dkim, spf");
	assert_ptr_not_equal(c->failure->headers, f.headers);
	am_report_row_free(c);
	/* no failure: none copied */
	r.failure = NULL;
	assert_non_null(c = am_report_row_copy(&r));
	assert_null(c->failure);
	am_report_row_free(c);
	am_buf_release(&h);
}

struct counting {
	size_t rows, failures;
};

static int
count_insert(void *state, struct am_report_row *const *rows, size_t n,
    struct am_buf *why)
{
	struct counting *k = state;
	size_t i;

	(void)why;
	for (i = 0; i < n; i++) {
		k->rows++;
		k->failures += rows[i]->failure != NULL;
	}
	return 0;
}

static const struct am_report_sink count_sink = { "count", count_insert, NULL };

static void
keep_warning(void *arg, const char *msg)
{
	snprintf(arg, 512, "%s", msg);
}

/* The writer is held off by a long flush time and a big batch, so the
 * rows wait in the queue: past fail_max they lose their failure part. */
static void
test_queue_caps_failures(void **state)
{
	static const char *const ruf[] = { "mailto:ruf@rcpt.test" };
	struct am_report_failure f;
	struct am_report_row r;
	struct am_reporter_opts o;
	struct am_report_stats st;
	struct am_reporter *rep;
	struct counting k = { 0, 0 };
	char warned[512] = "";
	int i;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.warn = keep_warning;
	o.warn_arg = warned;
	o.queue_max = 100;
	o.batch_max = 100;
	o.flush_ms = 3600 * 1000;
	o.fail_max = 3;
	assert_non_null(rep = am_reporter_new(&count_sink, &k, &o, NULL));
	row_init(&r, &f, ruf);
	for (i = 0; i < 10; i++)
		assert_int_equal(am_report_submit(rep, &r), 0);
	am_reporter_flush(rep);
	am_reporter_stats(rep, &st);
	/* all rows kept; the failure parts beyond the cap dropped, counted */
	assert_int_equal(k.rows, 10);
	assert_int_equal(k.failures, 3);
	assert_int_equal(st.dropped_failure, 7);
	assert_int_equal(st.committed, 10);
	assert_string_equal(warned, "report: dropped 1 failure reports "
	    "(3 already queued)");
	am_reporter_free(rep);
}

/* ---- the SQLite store ---- */

struct tmpdb {
	char dir[64], path[128], spec[160];
};

static void
tmpdb_new(struct tmpdb *t)
{
	strcpy(t->dir, "/tmp/am-test-fail-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/reports.db", t->dir);
	snprintf(t->spec, sizeof(t->spec), "sqlite:%s", t->path);
}

static void
tmpdb_free(struct tmpdb *t)
{
	char p[200];

	snprintf(p, sizeof(p), "%s-wal", t->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", t->path);
	unlink(p);
	unlink(t->path);
	rmdir(t->dir);
}

static struct am_report_store *
open_ok(struct tmpdb *t)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_store *s = am_report_store_open(t->spec, &why);

	if (s == NULL)
		fail_msg("open: %s", am_buf_str(&why));
	am_buf_release(&why);
	return s;
}

static void
insert_ok(struct am_report_store *s, struct am_report_row *r)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_row *c = am_report_row_copy(r);

	assert_non_null(c);
	if (s->ops->insert(s->state, &c, 1, &why) != 0)
		fail_msg("insert: %s", am_buf_str(&why));
	am_report_row_free(c);
	am_buf_release(&why);
}

static void
test_store_failures(void **state)
{
	static const char *const ruf[] = { "mailto:ruf@rcpt.test" };
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_failure f;
	struct am_report_failure_entry e;
	struct am_report_row r;
	struct am_report_store *s;
	struct tmpdb t;
	int64_t ids[8];
	uint64_t purged;
	size_t n;
	int i;

	(void)state;
	tmpdb_new(&t);
	s = open_ok(&t);
	row_init(&r, &f, ruf);
	f.headers = "Subject: caf\xc3\xa9\r\nX-Bad: \xff\r\n";
	insert_ok(s, &r);
	r.failure = NULL;              /* a row without a failure report */
	insert_ok(s, &r);
	r.failure = &f;
	r.time += 10;
	f.mail_from = "";
	insert_ok(s, &r);
	assert_int_equal(s->ops->fail_pending(s->state, ids, 8, &n, &why), 0);
	assert_int_equal(n, 2);
	assert_true(ids[0] < ids[1]);
	assert_int_equal(s->ops->fail_get(s->state, ids[0], &e, &why), 0);
	assert_int_equal(e.time, 1700000000);
	assert_string_equal(e.source_ip, "192.0.2.99");
	assert_string_equal(e.header_from, "fail.auth.test");
	assert_string_equal(e.mail_from, "u@fail.auth.test");
	assert_string_equal(e.ruf, "mailto:ruf@rcpt.test\n");
	assert_string_equal(e.fo, "1");
	assert_string_equal(e.identity_alignment, "dkim, spf");
	assert_string_equal(e.delivery_result, "delivered");
	assert_null(e.dkim_domain);
	assert_string_equal(e.spf_domain, "fail.auth.test");
	assert_string_equal(e.authres, "mx.example.test; dmarc=fail");
	assert_string_equal(e.headers, "Subject: caf\xc3\xa9\r\nX-Bad: \xff\r\n");
	assert_int_equal(s->ops->fail_get(s->state, ids[1], &e, &why), 0);
	assert_string_equal(e.mail_from, "");
	assert_int_equal(s->ops->fail_get(s->state, 999, &e, &why), 1);
	/* sent once; the header block is not kept after */
	assert_int_equal(s->ops->fail_done(s->state, ids[0], 1700000100, &why), 0);
	assert_int_equal(s->ops->fail_done(s->state, ids[0], 1700000200, &why), 1);
	assert_int_equal(s->ops->fail_get(s->state, ids[0], &e, &why), 0);
	assert_string_equal(e.headers, "");
	assert_string_equal(e.identity_alignment, "dkim, spf");
	assert_int_equal(s->ops->fail_pending(s->state, ids, 8, &n, &why), 0);
	assert_int_equal(n, 1);
	/* the rate: 3 per destination and hour, then refused; other hours
	   and destinations count apart */
	for (i = 0; i < 3; i++)
		assert_int_equal(s->ops->fail_rate(s->state, "ruf@rcpt.test",
		    3600, 3, &why), 0);
	assert_int_equal(s->ops->fail_rate(s->state, "ruf@rcpt.test", 3600, 3,
	    &why), 1);
	assert_int_equal(s->ops->fail_rate(s->state, "ruf@rcpt.test", 3600, 3,
	    &why), 1);
	assert_int_equal(s->ops->fail_rate(s->state, "other@rcpt.test", 3600,
	    3, &why), 0);
	assert_int_equal(s->ops->fail_rate(s->state, "ruf@rcpt.test", 7200, 3,
	    &why), 0);
	/* a reopened store keeps the count: another run of a fleet */
	s = am_report_store_close(s);
	s = open_ok(&t);
	assert_int_equal(s->ops->fail_rate(s->state, "ruf@rcpt.test", 3600, 3,
	    &why), 1);
	assert_int_equal(s->ops->fail_rate(s->state, "ruf@rcpt.test", 3600, 4,
	    &why), 0);
	/* purge: entries and counters before the time go */
	assert_int_equal(s->ops->purge(s->state, 1700000005, &purged, &why), 0);
	assert_int_equal(s->ops->fail_pending(s->state, ids, 8, &n, &why), 0);
	assert_int_equal(n, 1);
	assert_int_equal(s->ops->fail_get(s->state, ids[0], &e, &why), 0);
	assert_int_equal(e.time, 1700000010);
	assert_int_equal(s->ops->fail_rate(s->state, "ruf@rcpt.test", 3600, 1,
	    &why), 0);
	am_report_store_close(s);
	tmpdb_free(&t);
	am_buf_release(&why);
}

/* A flood for one domain: at most AM_REPORT_FAIL_PENDING unsent kept. */
static void
test_store_pending_cap(void **state)
{
	static const char *const ruf[] = { "mailto:ruf@rcpt.test" };
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_row **rows;
	struct am_report_failure f;
	struct am_report_row r;
	struct am_report_store *s;
	struct tmpdb t;
	int64_t *ids;
	size_t n, i, total = AM_REPORT_FAIL_PENDING + 5;

	(void)state;
	tmpdb_new(&t);
	s = open_ok(&t);
	row_init(&r, &f, ruf);
	assert_non_null(rows = calloc(total, sizeof(*rows)));
	assert_non_null(ids = calloc(total + 10, sizeof(*ids)));
	for (i = 0; i < total; i++)
		assert_non_null(rows[i] = am_report_row_copy(&r));
	if (s->ops->insert(s->state, rows, total, &why) != 0)
		fail_msg("insert: %s", am_buf_str(&why));
	assert_int_equal(s->ops->fail_pending(s->state, ids, total + 10, &n,
	    &why), 0);
	assert_int_equal(n, AM_REPORT_FAIL_PENDING);
	/* every row is kept all the same, and another domain is recorded */
	r.policy_domain = "other.test";
	insert_ok(s, &r);
	assert_int_equal(s->ops->fail_pending(s->state, ids, total + 10, &n,
	    &why), 0);
	assert_int_equal(n, AM_REPORT_FAIL_PENDING + 1);
	/* one settled: room for one more */
	assert_int_equal(s->ops->fail_done(s->state, ids[0], 1, &why), 0);
	r.policy_domain = "fail.auth.test";
	insert_ok(s, &r);
	insert_ok(s, &r);
	assert_int_equal(s->ops->fail_pending(s->state, ids, total + 10, &n,
	    &why), 0);
	assert_int_equal(n, AM_REPORT_FAIL_PENDING + 1);
	for (i = 0; i < total; i++)
		am_report_row_free(rows[i]);
	free(rows);
	free(ids);
	am_report_store_close(s);
	tmpdb_free(&t);
	am_buf_release(&why);
}

/* A store at schema version 1 (before failure reports) is migrated. */
static void
test_store_migrates_v1(void **state)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_store *s;
	struct tmpdb t;
	int64_t ids[2];
	size_t n;
	sqlite3 *db;

	(void)state;
	tmpdb_new(&t);
	am_report_store_close(open_ok(&t));
	assert_int_equal(sqlite3_open(t.path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE failure_report;"
	    " DROP TABLE failure_rate; UPDATE schema_version SET version = 1",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	s = open_ok(&t);
	assert_int_equal(s->ops->version(s->state), AM_REPORT_SCHEMA_VERSION);
	assert_int_equal(AM_REPORT_SCHEMA_VERSION, 2);
	assert_int_equal(s->ops->fail_pending(s->state, ids, 2, &n, &why), 0);
	assert_int_equal(n, 0);
	am_report_store_close(s);
	tmpdb_free(&t);
	am_buf_release(&why);
}

/* ---- the engine: which messages get one, and what it holds ---- */

struct captured {
	size_t rows, failures;
	char identity[32], delivery[32], mail_from[64], dkim[64];
	char headers[1024];
};

static int
capture_insert(void *state, struct am_report_row *const *rows, size_t n,
    struct am_buf *why)
{
	struct captured *k = state;
	const struct am_report_failure *f;
	size_t i;

	(void)why;
	for (i = 0; i < n; i++) {
		k->rows++;
		if ((f = rows[i]->failure) == NULL)
			continue;
		k->failures++;
		snprintf(k->identity, sizeof(k->identity), "%s",
		    f->identity_alignment);
		snprintf(k->delivery, sizeof(k->delivery), "%s",
		    f->delivery_result);
		snprintf(k->mail_from, sizeof(k->mail_from), "%s", f->mail_from);
		snprintf(k->dkim, sizeof(k->dkim), "%s/%s",
		    f->dkim_domain != NULL ? f->dkim_domain : "-",
		    f->dkim_selector != NULL ? f->dkim_selector : "-");
		snprintf(k->headers, sizeof(k->headers), "%s", f->headers);
	}
	return 0;
}

static const struct am_report_sink capture_sink = {
	"capture", capture_insert, NULL
};

struct ecase {
	const char *name;
	const char *domain;        /* From and MAIL FROM domain */
	const char *ip;            /* 192.0.2.10 passes SPF, .99 fails */
	int on;                    /* FailureReports */
	const char *sig_selector;  /* a signature of d=domain (no key), or NULL */
	int want;                  /* a failure report */
	const char *identity;      /* its Identity-Alignment */
	const char *dkim;          /* its DKIM-Domain/-Selector */
};

static const struct ecase ecases[] = {
	{ "fo=1, DMARC fail", "failrep.auth.test", "192.0.2.99", 1, NULL, 1,
	  "dkim, spf", "-/-" },
	{ "fo=1, SPF aligned pass, no DKIM", "failrep.auth.test", "192.0.2.10",
	  1, NULL, 1, "dkim", "-/-" },
	{ "fo=1, failing aligned signature", "failrep.auth.test", "192.0.2.99",
	  1, "nokey", 1, "dkim, spf", "failrep.auth.test/nokey" },
	{ "FailureReports no", "failrep.auth.test", "192.0.2.99", 0, NULL, 0,
	  NULL, NULL },
	{ "no ruf", "rep.auth.test", "192.0.2.99", 1, NULL, 0, NULL, NULL },
	{ "no fo (0), DMARC fail", "failfo0.auth.test", "192.0.2.99", 1, NULL,
	  1, "dkim, spf", "-/-" },
	{ "no fo (0), DMARC pass", "failfo0.auth.test", "192.0.2.10", 1, NULL,
	  0, NULL, NULL },
	{ "psd=y: ruf not considered", "failpsd.auth.test", "192.0.2.99", 1,
	  NULL, 0, NULL, NULL },
};

/* Run case c through an engine with a capturing reporter. */
static int
run_ecase(struct am_dns *dns, const struct ecase *c)
{
	struct am_buf why = AM_BUF_INIT(512), v = AM_BUF_INIT(1024);
	struct captured k;
	struct am_config *conf = am_config_new();
	struct am_reporter *rep;
	struct am_engine *e;
	struct am_msg *m;
	char from[128];
	const char *rcpts[1] = { "<rcpt@rcpt.test>" };
	struct am_envelope env = { "QID", c->ip, NULL, "client.e2e.test",
	    from, NULL, NULL, NULL, rcpts, 1 };
	int ok = 1;

	memset(&k, 0, sizeof(k));
	snprintf(from, sizeof(from), "u@%s", c->domain);
	assert_int_equal(am_config_set(conf, "AuthservID", "mx.example.test",
	    "test", 1, &why), 0);
	assert_int_equal(am_config_set(conf, "LookupThreads", "0", "test", 2,
	    &why), 0);
	assert_int_equal(am_config_set(conf, "ARCMode", "off", "test", 3,
	    &why), 0);
	assert_int_equal(am_config_set(conf, "FailureReports", c->on ? "yes" :
	    "no", "test", 4, &why), 0);
	assert_non_null(e = am_engine_new(conf, dns, &why));
	assert_non_null(rep = am_reporter_new(&capture_sink, &k, NULL, &why));
	am_engine_set_reporter(e, rep);
	assert_non_null(m = am_msg_new(e, &env));
	if (c->sig_selector != NULL) {
		am_buf_printf(&v, " v=1; a=rsa-sha256; d=%s; s=%s; h=from;"
		    " bh=AAAA; b=BBBB", c->domain, c->sig_selector);
		am_msg_header(m, "DKIM-Signature", am_buf_str(&v), v.len);
	}
	am_buf_reset(&v);
	am_buf_printf(&v, " <u@%s>", c->domain);
	am_msg_header(m, "From", am_buf_str(&v), v.len);
	am_msg_header(m, "Subject", " engine\r\n\tfolded", 16);
	am_msg_end_headers(m);
	am_msg_body(m, "secret body\r\n", 13);
	am_msg_finish(m);
	am_reporter_flush(rep);
	ok &= k.rows == 1 && k.failures == (size_t)c->want;
	if (ok && c->want) {
		ok &= strcmp(k.identity, c->identity) == 0;
		ok &= strcmp(k.dkim, c->dkim) == 0;
		ok &= strcmp(k.delivery, "delivered") == 0;
		ok &= strcmp(k.mail_from, from) == 0;
		ok &= strstr(k.headers, "Subject: engine\r\n\tfolded\r\n") !=
		    NULL;
		ok &= strstr(k.headers, "From: <u@") != NULL;
		ok &= strstr(k.headers, "secret") == NULL;
	}
	if (!ok)
		printf("FAIL %s: rows %zu failures %zu (want %d) identity \"%s\""
		    " dkim %s delivery %s mail_from %s\n  headers: %s\n",
		    c->name, k.rows, k.failures, c->want, k.identity, k.dkim,
		    k.delivery, k.mail_from, k.headers);
	am_msg_free(m);
	am_reporter_free(rep);
	am_engine_free(e);
	am_config_free(conf);
	am_buf_release(&why);
	am_buf_release(&v);
	return ok;
}

static void
test_engine(void **state)
{
	const char *path = AM_TOP_SRCDIR "/tests/zones/auth.zone";
	struct am_buf why = AM_BUF_INIT(512);
	struct am_dns *dns = am_dns_zone_new(&path, 1, &why);
	size_t i, failed = 0;

	(void)state;
	if (dns == NULL)
		fail_msg("zone: %s", am_buf_str(&why));
	for (i = 0; i < sizeof(ecases) / sizeof(ecases[0]); i++)
		failed += !run_ecase(dns, &ecases[i]);
	assert_int_equal(failed, 0);
	am_dns_free(dns);
	am_buf_release(&why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fo),
		cmocka_unit_test(test_afrf_fields),
		cmocka_unit_test(test_afrf_optional_fields),
		cmocka_unit_test(test_afrf_hostile),
		cmocka_unit_test(test_afrf_refuses_boundary),
		cmocka_unit_test(test_afrf_long_values),
		cmocka_unit_test(test_copy_caps_headers),
		cmocka_unit_test(test_queue_caps_failures),
		cmocka_unit_test(test_store_failures),
		cmocka_unit_test(test_store_pending_cap),
		cmocka_unit_test(test_store_migrates_v1),
		cmocka_unit_test(test_engine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
