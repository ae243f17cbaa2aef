/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for lib/report_pgsql.c against a real PostgreSQL server,
 * started by tests/report/test_report_pgsql.sh (initdb in a temporary
 * directory, unix socket only), which passes its URI in AM_PG_SPEC: the
 * schema and its version, migrations racing from two connections, two
 * reporters (two daemons) writing one database and one report covering
 * both, rows surviving a reconnect, marking sent, purging, invalid UTF-8,
 * recovery after the server drops the connection, and failure reports
 * (RFC 9991): recorded by two daemons, sent once, one rate per
 * destination for the whole fleet, purged.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <libpq-fe.h>

#include "report.h"
#include "report_store.h"
#include "report_xml.h"

#define DAY 86400
#define T0 (1700000000 - 1700000000 % DAY)
#define FLEET_DAY (T0 + 3 * DAY)     /* after what other tests purge */

static const char *
spec(void)
{
	const char *s = getenv("AM_PG_SPEC");

	if (s == NULL || *s == '\0')
		fail_msg("AM_PG_SPEC is not set: run tests/report/test_report_pgsql.sh");
	return s;
}

/* Run sql on a side connection (as an administrator would). */
static void
side_exec(const char *sql)
{
	PGconn *c = PQconnectdb(spec());
	PGresult *r;

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("side connection: %s", PQerrorMessage(c));
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

static struct am_report_store *
open_ok(void)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_store *s = am_report_store_open(spec(), &why);

	if (s == NULL)
		fail_msg("open: %s", am_buf_str(&why));
	am_buf_release(&why);
	return s;
}

static void
row_init(struct am_report_row *r, int64_t t, const char *ip, const char *dom)
{
	memset(r, 0, sizeof(*r));
	r->time = t;
	r->source_ip = ip;
	r->policy_domain = dom;
	r->header_from = dom;
	r->envelope_from = dom;
	r->p = AM_REPORT_P_REJECT;
	r->adkim = r->aspf = 'r';
	r->testing = 'n';
	r->dmarc = r->dkim_aligned = AM_REPORT_DMARC_PASS;
	r->disposition = AM_REPORT_DISP_PASS;
	r->spf_domain = dom;
	r->spf_result = AM_REPORT_SPF_PASS;
}

static int
insert1(struct am_report_store *s, const struct am_report_row *r,
    struct am_buf *why)
{
	struct am_report_row *c = am_report_row_copy(r);
	int rc;

	assert_non_null(c);
	rc = s->ops->insert(s->state, &c, 1, why);
	am_report_row_free(c);
	return rc;
}

struct counts {
	size_t n;
	uint64_t total;
};

static int
count_period(void *arg, const struct am_report_period *p)
{
	struct counts *c = arg;

	c->n++;
	c->total += p->count;
	return 0;
}

static struct counts
periods(struct am_report_store *s, const char *dom)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct counts c = { 0, 0 };

	if (s->ops->periods(s->state, DAY, T0 + 10 * DAY, dom, count_period,
	    &c, &why) != 0)
		fail_msg("periods: %s", am_buf_str(&why));
	am_buf_release(&why);
	return c;
}

static void
test_schema(void **state)
{
	struct am_report_store *s;

	(void)state;
	s = open_ok();
	assert_int_equal(s->ops->version(s->state), AM_REPORT_SCHEMA_VERSION);
	am_report_store_close(s);
	/* a second open finds the schema current and changes nothing */
	s = open_ok();
	assert_int_equal(s->ops->version(s->state), AM_REPORT_SCHEMA_VERSION);
	am_report_store_close(s);
}

static void *
opener(void *arg)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_store *s = am_report_store_open(arg, &why);

	if (s == NULL)
		fprintf(stderr, "racing open: %s\n", am_buf_str(&why));
	am_buf_release(&why);
	return s;
}

/* Daemons starting together on an empty database migrate it once. */
static void
test_migration_race(void **state)
{
	char race[1024];
	pthread_t t[4];
	void *s[4];
	int i;

	(void)state;
	side_exec("DROP DATABASE IF EXISTS am_race");
	side_exec("CREATE DATABASE am_race");
	/* the same server, database am_race */
	snprintf(race, sizeof(race), "%s&dbname=am_race", spec());
	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, opener, race);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], &s[i]);
	for (i = 0; i < 4; i++) {
		assert_non_null(s[i]);
		assert_int_equal(((struct am_report_store *)s[i])->ops->version(
		    ((struct am_report_store *)s[i])->state),
		    AM_REPORT_SCHEMA_VERSION);
		am_report_store_close(s[i]);
	}
}

struct daemon {
	const char *ip;
	int n;
	struct am_report_stats st;
};

static void *
daemon_run(void *arg)
{
	struct daemon *d = arg;
	struct am_buf why = AM_BUF_INIT(512);
	struct am_reporter *r = am_reporter_open(spec(), NULL, &why);
	struct am_report_row row;
	int i;

	if (r == NULL) {
		fprintf(stderr, "reporter: %s\n", am_buf_str(&why));
		return NULL;
	}
	for (i = 0; i < d->n; i++) {
		row_init(&row, FLEET_DAY + i, d->ip, "fleet.example");
		am_report_submit(r, &row);
	}
	am_reporter_flush(r);
	am_reporter_stats(r, &d->st);
	am_reporter_free(r);
	am_buf_release(&why);
	return d;
}

static int
xml_to_file(void *arg, const void *p, size_t n)
{
	return fwrite(p, 1, n, arg) == n ? 0 : -1;
}

/* Two daemons write one database; one report covers both. */
static void
test_two_daemons_one_report(void **state)
{
	struct daemon d[2] = { { "192.0.2.1", 700, { 0 } },
	    { "2001:db8::1", 500, { 0 } } };
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_store *s;
	struct am_report_meta m;
	char id[AM_REPORT_ID_LEN + 1], path[] = "/tmp/am-test-pg-XXXXXX";
	char cmd[1024], out[64] = "";
	pthread_t t[2];
	void *res;
	FILE *fp;
	int i, fd;

	(void)state;
	for (i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, daemon_run, &d[i]);
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], &res);
		assert_non_null(res);
		assert_int_equal(d[i].st.committed, (uint64_t)d[i].n);
	}
	s = open_ok();
	assert_int_equal(periods(s, "fleet.example").total, 1200);
	am_report_id("mx.example.net", "fleet.example", FLEET_DAY,
	    FLEET_DAY + DAY - 1, id);
	memset(&m, 0, sizeof(m));
	m.org_name = "Fleet";
	m.email = "r@example.net";
	m.report_id = id;
	m.begin = FLEET_DAY;
	m.end = FLEET_DAY + DAY - 1;
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(fp = fdopen(fd, "w"));
	if (am_report_xml_write(s, &m, "fleet.example", xml_to_file, fp, &why) != 0)
		fail_msg("report: %s", am_buf_str(&why));
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "xmllint --noout --schema '%s/dmarc-reports/"
	    "rfc9990.xsd' %s && xmllint --xpath \"concat(sum(//*[local-name()="
	    "'count']), ' ', count(//*[local-name()='record']))\" %s",
	    getenv("AM_CORPUS"), path, path);
	assert_non_null(fp = popen(cmd, "r"));
	if (fgets(out, sizeof(out), fp) == NULL)
		out[0] = '\0';
	assert_int_equal(pclose(fp), 0);
	out[strcspn(out, "\n")] = '\0';
	assert_string_equal(out, "1200 2");
	unlink(path);
	am_report_store_close(s);
	am_buf_release(&why);
}

static void
test_mark_sent_purge_utf8(void **state)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_store *s = open_ok();
	struct am_report_row r;
	uint64_t del;

	(void)state;
	row_init(&r, T0 + 5, "192.0.2.5", "sent.example");
	r.envelope_to = "bad\xff\xfeutf8.example";
	assert_int_equal(insert1(s, &r, &why), 0);
	row_init(&r, T0 + DAY + 5, "192.0.2.5", "sent.example");
	assert_int_equal(insert1(s, &r, &why), 0);
	assert_int_equal(periods(s, "sent.example").n, 2);
	assert_int_equal(s->ops->mark_sent(s->state, "sent.example", T0,
	    T0 + DAY - 1, "id1", T0 + DAY, &why), 0);
	assert_int_equal(s->ops->mark_sent(s->state, "sent.example", T0,
	    T0 + DAY - 1, "id1", T0 + DAY, &why), 1);
	am_report_store_close(s);
	s = open_ok();
	assert_int_equal(periods(s, "sent.example").n, 1);
	assert_int_equal(s->ops->purge(s->state, T0 + DAY, &del, &why), 0);
	assert_true(del >= 1);
	am_report_store_close(s);
	am_buf_release(&why);
}

/* Sending runs on different hosts exclude each other (advisory lock). */
static void
test_lock(void **state)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_store *a = open_ok(), *b = open_ok();

	(void)state;
	assert_int_equal(a->ops->lock(a->state, &why), 0);
	assert_int_equal(b->ops->lock(b->state, &why), 1);
	am_report_store_close(a);
	assert_int_equal(b->ops->lock(b->state, &why), 0);
	am_report_store_close(b);
	am_buf_release(&why);
}

/*
 * The server drops the connection while the store is idle (a server
 * restart): the next batch finds the session dead and is written on a new
 * one, not dropped (it was: the first batch after a restart was lost).
 */
static void
test_reconnect(void **state)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_store *s = open_ok();
	struct am_report_row r;
	struct counts before, after;

	(void)state;
	before = periods(s, "re.example");
	side_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
	    " WHERE pid <> pg_backend_pid() AND datname = current_database()");
	row_init(&r, T0 + 9, "192.0.2.9", "re.example");
	if (insert1(s, &r, &why) != 0)
		fail_msg("the first batch after the session died: %s",
		    am_buf_str(&why));
	after = periods(s, "re.example");
	assert_int_equal(after.total, before.total + 1);
	am_report_store_close(s);
	am_buf_release(&why);
}

/* Failure reports: two daemons record, two senders share the rate. */
static void
test_failures(void **state)
{
	static const char *const ruf[] = { "mailto:ruf@fleet.example" };
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_store *a = open_ok(), *b = open_ok();
	struct am_report_failure f;
	struct am_report_failure_entry e;
	struct am_report_row r;
	/* before every other test's rows, which the purges here keep */
	int64_t ids[8], t = T0 - 20 * DAY;
	uint64_t del;
	size_t n;

	(void)state;
	row_init(&r, t, "192.0.2.7", "fail.example");
	memset(&f, 0, sizeof(f));
	r.ruf = ruf;
	r.nruf = 1;
	r.fo = "1";
	f.mail_from = "u@fail.example";
	f.identity_alignment = "dkim";
	f.delivery_result = "delivered";
	f.dkim_domain = "fail.example";
	f.dkim_selector = "s1";
	f.dkim_identity = "@fail.example";
	f.authres = "mx.fleet.example; dmarc=pass";
	f.headers = "Subject: bad \xff\xfe utf-8\r\n";
	r.failure = &f;
	assert_int_equal(insert1(a, &r, &why), 0);
	r.time = t + 1;
	assert_int_equal(insert1(b, &r, &why), 0);
	r.failure = NULL;
	assert_int_equal(insert1(b, &r, &why), 0);
	assert_int_equal(a->ops->fail_pending(a->state, ids, 8, &n, &why), 0);
	assert_int_equal(n, 2);
	assert_int_equal(a->ops->fail_get(a->state, ids[0], &e, &why), 0);
	assert_int_equal(e.time, t);
	assert_string_equal(e.ruf, "mailto:ruf@fleet.example\n");
	assert_string_equal(e.dkim_selector, "s1");
	assert_string_equal(e.identity_alignment, "dkim");
	assert_string_equal(e.headers, "Subject: bad \xef\xbf\xbd\xef\xbf\xbd"
	    " utf-8\r\n");
	assert_int_equal(a->ops->fail_get(a->state, -1, &e, &why), 1);
	/* sent once, whichever host marks it */
	assert_int_equal(a->ops->fail_done(a->state, ids[0], t + 60, &why), 0);
	assert_int_equal(b->ops->fail_done(b->state, ids[0], t + 61, &why), 1);
	assert_int_equal(b->ops->fail_get(b->state, ids[0], &e, &why), 0);
	assert_string_equal(e.headers, "");
	assert_int_equal(b->ops->fail_pending(b->state, ids, 8, &n, &why), 0);
	assert_int_equal(n, 1);
	/* one rate for the fleet: 2 per hour, whichever host sends */
	assert_int_equal(a->ops->fail_rate(a->state, "ruf@fleet.example", t,
	    2, &why), 0);
	assert_int_equal(b->ops->fail_rate(b->state, "ruf@fleet.example", t,
	    2, &why), 0);
	assert_int_equal(a->ops->fail_rate(a->state, "ruf@fleet.example", t,
	    2, &why), 1);
	assert_int_equal(b->ops->fail_rate(b->state, "ruf@fleet.example",
	    t + 3600, 2, &why), 0);
	/* purge */
	assert_int_equal(a->ops->purge(a->state, t + 1, &del, &why), 0);
	assert_int_equal(a->ops->fail_pending(a->state, ids, 8, &n, &why), 0);
	assert_int_equal(n, 1);
	assert_int_equal(a->ops->purge(a->state, t + 2, &del, &why), 0);
	assert_int_equal(a->ops->fail_pending(a->state, ids, 8, &n, &why), 0);
	assert_int_equal(n, 0);
	assert_int_equal(a->ops->fail_rate(a->state, "ruf@fleet.example", t,
	    1, &why), 0);
	am_report_store_close(a);
	am_report_store_close(b);
	am_buf_release(&why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema),
		cmocka_unit_test(test_migration_race),
		cmocka_unit_test(test_two_daemons_one_report),
		cmocka_unit_test(test_mark_sent_purge_utf8),
		cmocka_unit_test(test_lock),
		cmocka_unit_test(test_reconnect),
		cmocka_unit_test(test_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
