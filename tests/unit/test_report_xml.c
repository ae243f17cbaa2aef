/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for lib/report_xml.c: escaping (a named case table), the
 * Report-ID, and whole reports written from a real SQLite store in a
 * temporary directory -- grouping, counts, the 100-signature cap,
 * streaming, and hostile strings. Every report a test writes is checked
 * by `xmllint --noout --schema rfc9990.xsd` (the RFC 9990 Appendix A
 * schema from $AM_CORPUS/dmarc-reports); a missing xmllint or schema fails
 * the test.
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

#include "report.h"
#include "report_store.h"
#include "report_xml.h"
#include "report_util.h"

#define DAY 86400
#define T0 (1700000000 - 1700000000 % DAY)

/* ---- escaping ---- */

struct esc_case {
	const char *name;
	const char *in;
	const char *want;
};

#define FFFD "\xEF\xBF\xBD"

static const struct esc_case esc_cases[] = {
	{ "plain", "example.com", "example.com" },
	{ "metacharacters", "<a href=\"x\">&'", "&lt;a href=&quot;x&quot;&gt;&amp;&apos;" },
	{ "tab lf cr as references", "a\tb\nc\rd", "a&#9;b&#10;c&#13;d" },
	{ "C0 control", "a\x01" "b\x1f", "a" FFFD "b" FFFD },
	{ "DEL and C1", "a\x7f" "b\xc2\x85", "a" FFFD "b" FFFD },
	{ "two-byte UTF-8 kept", "caf\xc3\xa9", "caf\xc3\xa9" },
	{ "four-byte UTF-8 kept", "\xf0\x9f\x93\xa7", "\xf0\x9f\x93\xa7" },
	{ "lone continuation byte", "a\x80z", "a" FFFD "z" },
	{ "invalid lead byte", "\xff\xfe", FFFD FFFD },
	{ "overlong slash", "\xc0\xaf", FFFD FFFD },
	{ "overlong three-byte", "\xe0\x80\xaf", FFFD FFFD FFFD },
	{ "surrogate", "\xed\xa0\x80", FFFD FFFD FFFD },
	{ "beyond U+10FFFF", "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD },
	{ "truncated sequence", "ab\xe2\x82", "ab" FFFD FFFD },
	{ "U+FFFE noncharacter", "\xef\xbf\xbe", FFFD },
	{ "empty", "", "" },
};

static void
test_escape(void **state)
{
	struct am_buf b = AM_BUF_INIT(1024);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(esc_cases) / sizeof(esc_cases[0]); i++) {
		am_buf_reset(&b);
		am_report_xml_escape(&b, esc_cases[i].in);
		if (strcmp(am_buf_str(&b), esc_cases[i].want) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", esc_cases[i].name,
			    am_buf_str(&b), esc_cases[i].want);
	}
	am_buf_release(&b);
}

static void
test_report_id(void **state)
{
	char a[AM_REPORT_ID_LEN + 1], b[AM_REPORT_ID_LEN + 1];
	size_t i;

	(void)state;
	am_report_id("mx.example.net", "example.com", T0, T0 + DAY - 1, a);
	am_report_id("mx.example.net", "example.com", T0, T0 + DAY - 1, b);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), AM_REPORT_ID_LEN);
	for (i = 0; i < AM_REPORT_ID_LEN; i++)
		assert_non_null(strchr("0123456789abcdef", a[i]));
	am_report_id("mx.example.net", "example.org", T0, T0 + DAY - 1, b);
	assert_string_not_equal(a, b);
	am_report_id("mx.example.net", "example.com", T0 + DAY, T0 + 2 * DAY - 1, b);
	assert_string_not_equal(a, b);
}

/* ---- reports ---- */

struct fixture {
	struct tmpdb t;
	char xml[128];
	struct am_report_store *s;
	unsigned writes;          /* calls of the output sink */
	FILE *fp;
};

static void
fx_open(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	tmpdb_new(&f->t, "rxml");
	snprintf(f->xml, sizeof(f->xml), "%s/report.xml", f->t.dir);
	f->s = store_open_ok(f->t.spec);
}

static void
fx_close(struct fixture *f)
{
	am_report_store_close(f->s);
	unlink(f->xml);
	tmpdb_free(&f->t);
}

static void
fx_insert(struct fixture *f, const struct am_report_row *rows, size_t n)
{
	size_t i;

	/* one transaction a row, as a daemon flushing often would */
	for (i = 0; i < n; i++)
		store_insert_ok(f->s, &rows[i], 1);
}

static int
to_file(void *arg, const void *p, size_t n)
{
	struct fixture *f = arg;

	f->writes++;
	return fwrite(p, 1, n, f->fp) == n ? 0 : -1;
}

/* Write domain's report for day 0 into f->xml; returns the rc. */
static int
fx_report(struct fixture *f, const char *domain)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_meta m;
	char id[AM_REPORT_ID_LEN + 1];
	int rc;

	am_report_id("mx.example.net", domain, T0, T0 + DAY - 1, id);
	memset(&m, 0, sizeof(m));
	m.org_name = "Example <Receiver> & Co";
	m.email = "dmarc-reports@example.net";
	m.report_id = id;
	m.generator = "authmilter test";
	m.begin = T0;
	m.end = T0 + DAY - 1;
	f->writes = 0;
	assert_non_null(f->fp = fopen(f->xml, "w"));
	rc = am_report_xml_write(f->s, &m, domain, to_file, f, &why);
	fclose(f->fp);
	if (rc < 0)
		fail_msg("report %s: %s", domain, am_buf_str(&why));
	am_buf_release(&why);
	return rc;
}

static const char *
corpus(void)
{
	const char *c = getenv("AM_CORPUS");

	return c != NULL && *c != '\0' ? c : AM_TOP_SRCDIR "/../shared/corpus";
}

/* xmllint --schema on the report; fails the test unless it validates. */
static void
validate(struct fixture *f)
{
	char cmd[512];
	int rc;

	snprintf(cmd, sizeof(cmd), "xmllint --noout --schema "
	    "'%s/dmarc-reports/rfc9990.xsd' '%s' 2>&1", corpus(), f->xml);
	rc = system(cmd);
	if (rc != 0)
		fail_msg("xmllint --schema rejects %s (rc %d)", f->xml, rc);
}

/* An XPath number of the report (xmllint --xpath). */
static long
xpath_num(struct fixture *f, const char *expr)
{
	char cmd[512], out[64] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "xmllint --xpath \"%s\" '%s'", expr, f->xml);
	assert_non_null(p = popen(cmd, "r"));
	if (fgets(out, sizeof(out), p) == NULL)
		out[0] = '\0';
	pclose(p);
	return atol(out);
}

static void
row_init(struct am_report_row *r, int64_t t, const char *ip,
    const char *from)
{
	memset(r, 0, sizeof(*r));
	r->time = t;
	r->source_ip = ip;
	r->policy_domain = "example.com";
	r->header_from = from;
	r->envelope_from = from;
	r->p = AM_REPORT_P_QUARANTINE;
	r->sp = AM_REPORT_P_NONE;
	r->adkim = r->aspf = 'r';
	r->testing = 'n';
	r->spf_domain = from;
}

/*
 * A known mix: 3 equal passes, 2 equal quarantines, a trusted-forwarder
 * override, a t=y message, a sampled-out one, an IPv6 client with a null
 * reverse-path and HELO SPF, a subdomain: 10 messages in 7 records. A row
 * of the next day and one of another policy domain stay out.
 */
static void
test_report_mix(void **state)
{
	static const struct am_report_dkim pass = { "example.com", "s1",
	    AM_REPORT_DKIM_PASS, NULL, 1 };
	static const struct am_report_dkim bad[2] = {
		{ "example.com", "s1", AM_REPORT_DKIM_FAIL, "body hash mismatch", 1 },
		{ "esp.example", "k2", AM_REPORT_DKIM_PASS, NULL, 0 },
	};
	static const struct am_report_override_reason tf[] = {
		{ AM_REPORT_OVR_TRUSTED_FORWARDER, "fwd.example" } };
	static const struct am_report_override_reason tm[] = {
		{ AM_REPORT_OVR_POLICY_TEST_MODE, NULL } };
	static const struct am_report_override_reason so[] = {
		{ AM_REPORT_OVR_SAMPLED_OUT, NULL } };
	static const char *const rua[] = { "mailto:agg@example.com" };
	struct am_report_row r[12];
	struct fixture f;
	int i;

	(void)state;
	fx_open(&f);
	for (i = 0; i < 12; i++)
		row_init(&r[i], T0 + 100 + i, "192.0.2.10", "example.com");
	for (i = 0; i < 3; i++) {
		r[i].dmarc = r[i].dkim_aligned = r[i].spf_aligned = AM_REPORT_DMARC_PASS;
		r[i].disposition = AM_REPORT_DISP_PASS;
		r[i].dkim = &pass;
		r[i].ndkim = 1;
		r[i].spf_result = AM_REPORT_SPF_PASS;
		r[i].rua = rua;
		r[i].nrua = 1;
	}
	for (i = 3; i < 5; i++) {
		r[i].source_ip = "198.51.100.7";
		r[i].disposition = AM_REPORT_DISP_QUARANTINE;
		r[i].dkim = bad;
		r[i].ndkim = 2;
		r[i].spf_result = AM_REPORT_SPF_FAIL;
	}
	r[5].reasons = tf;
	r[5].nreasons = 1;
	r[6].reasons = tm;
	r[6].nreasons = 1;
	r[6].testing = 'y';
	r[7].reasons = so;
	r[7].nreasons = 1;
	r[8].source_ip = "2001:db8::25";
	r[8].envelope_from = "";
	r[8].spf_domain = "helo.example";
	r[8].spf_scope = AM_REPORT_SCOPE_HELO;
	r[8].spf_result = AM_REPORT_SPF_NONE;
	r[8].envelope_to = "rcpt.example";
	r[9].header_from = "sub.example.com";
	r[10].time = T0 + DAY + 5;                     /* next day */
	r[11].policy_domain = "other.example";         /* other report */
	fx_insert(&f, r, 12);

	assert_int_equal(fx_report(&f, "example.com"), 0);
	validate(&f);
	assert_int_equal(xpath_num(&f, "sum(//*[local-name()='count'])"), 10);
	assert_int_equal(xpath_num(&f, "count(//*[local-name()='record'])"), 7);
	assert_int_equal(xpath_num(&f, "count(//*[local-name()='reason'])"), 3);
	assert_int_equal(xpath_num(&f,
	    "count(//*[local-name()='spf']/*[local-name()='scope'])"), 6);
	/* the sink saw the head, each record, the tail: it streamed */
	assert_true(f.writes >= 7 + 2);
	/* a domain with no rows in the period: nothing written, rc 1 */
	assert_int_equal(fx_report(&f, "none.example"), 1);
	fx_close(&f);
}

/* Hostile strings through the row copy: escaped or capped, still valid. */
static void
test_report_hostile_rows(void **state)
{
	struct am_report_dkim d[3];
	struct am_report_override_reason why[1];
	struct am_report_row r;
	struct fixture f;
	char *big = malloc(1001);

	(void)state;
	memset(big, 'x', 1000);
	big[1000] = '\0';
	big[10] = '<';
	big[20] = '\x01';
	big[30] = '&';
	fx_open(&f);
	row_init(&r, T0 + 1, "192.0.2.1\"><x>", "ev<il>&\"'.example\x02\x7f");
	r.envelope_from = big;
	r.envelope_to = "\xff\xfe" "to.example";
	d[0] = (struct am_report_dkim){ big, big, AM_REPORT_DKIM_FAIL, big, 0 };
	d[1] = (struct am_report_dkim){ "]]>", "<sel>&'\"\x1b[0m",
	    AM_REPORT_DKIM_PERMERROR, "line1\nline2\r\x00", 0 };
	d[2] = (struct am_report_dkim){ "ok.example", "s", AM_REPORT_DKIM_PASS,
	    "</human_result><script>", 1 };
	r.dkim = d;
	r.ndkim = 3;
	why[0] = (struct am_report_override_reason){ AM_REPORT_OVR_LOCAL_POLICY,
	    "<!-- comment --> &amp;" };
	r.reasons = why;
	r.nreasons = 1;
	r.spf_human = "<![CDATA[x]]>";
	r.fo = "0:1<d>";
	fx_insert(&f, &r, 1);
	assert_int_equal(fx_report(&f, "example.com"), 0);
	validate(&f);
	assert_int_equal(xpath_num(&f, "count(//*[local-name()='dkim']"
	    "/*[local-name()='domain'])"), 3);
	assert_int_equal(xpath_num(&f, "string-length(//*[local-name()="
	    "'envelope_from'])"), AM_REPORT_DOMAIN_MAX);
	fx_close(&f);
	free(big);
}

/*
 * Rows written around the copy (a tampered or foreign store): 1,000-byte
 * names with controls and bad UTF-8, words outside the schema's lists, 150
 * DKIM results. The report still validates and has 100 <dkim> at most.
 */
static void
test_report_hostile_store(void **state)
{
	struct am_buf dk = AM_BUF_INIT(1024 * 1024), name = AM_BUF_INIT(4096);
	sqlite3 *db;
	sqlite3_stmt *st;
	struct fixture f;
	int i;

	(void)state;
	fx_open(&f);
	for (i = 0; i < 1000; i++)
		am_buf_addc(&name, i % 7 == 0 ? 0x01 : i % 5 == 0 ? 0xC3 : '<');
	for (i = 0; i < 150; i++)
		am_buf_printf(&dk, "d%d.example\t%s\t%s\t\n", i, am_buf_str(&name),
		    i % 2 ? "pass" : "bogus");
	assert_int_equal(sqlite3_open(f.t.path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO report_row (time,"
	    " source_ip, policy_domain, header_from, envelope_from, p, sp, np,"
	    " adkim, aspf, testing, fo, discovery, rua, ruf, dmarc,"
	    " dkim_aligned, spf_aligned, disposition, reasons, dkim, spf_domain,"
	    " spf_scope, spf_result) VALUES (?1, ?2, 'example.com', ?2, ?2,"
	    " 'maybe', 'x', '', 'q', 's', 'y', ?2, 'dns', '', '', 'fail',"
	    " 'perhaps', 'fail', 'drop', 'hacked\t<x>\n', ?3, ?2, 'helo',"
	    " 'weird')", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, T0 + 7);
	sqlite3_bind_text(st, 2, am_buf_str(&name), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, am_buf_str(&dk), -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);

	assert_int_equal(fx_report(&f, "example.com"), 0);
	validate(&f);
	assert_int_equal(xpath_num(&f, "count(//*[local-name()='auth_results']"
	    "/*[local-name()='dkim'])"), AM_REPORT_DKIM_MAX);
	/* the unknown override word became type other with it as comment */
	assert_int_equal(xpath_num(&f, "count(//*[local-name()='type'])"), 1);
	fx_close(&f);
	am_buf_release(&dk);
	am_buf_release(&name);
}

/* Each record goes to the sink as it is read: one call per record. */
static void
test_report_streams(void **state)
{
	struct am_report_row r;
	struct fixture f;
	char ip[32];
	int i;

	(void)state;
	fx_open(&f);
	for (i = 0; i < 300; i++) {
		snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 250, i % 250);
		row_init(&r, T0 + i, ip, "example.com");
		fx_insert(&f, &r, 1);
	}
	assert_int_equal(fx_report(&f, "example.com"), 0);
	validate(&f);
	assert_int_equal(xpath_num(&f, "count(//*[local-name()='record'])"), 300);
	assert_int_equal(f.writes, 300 + 2);
	fx_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_report_id),
		cmocka_unit_test(test_report_mix),
		cmocka_unit_test(test_report_hostile_rows),
		cmocka_unit_test(test_report_hostile_store),
		cmocka_unit_test(test_report_streams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
