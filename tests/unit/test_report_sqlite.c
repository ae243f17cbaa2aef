/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for lib/report_sqlite.c and lib/report_store.c on a real
 * SQLite file in a temporary directory: schema creation and version check,
 * batch insert, rows surviving a reopen, closed periods only, grouping,
 * marking sent, purging, and the list encoding round trip.
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
#include "report_util.h"

#define DAY 86400
#define T0 (1700000000 - 1700000000 % DAY)   /* a UTC midnight */

struct plist {
	size_t n;
	char dom[8][64];
	int64_t begin[8];
	uint64_t count[8];
};

static int
collect_period(void *arg, const struct am_report_period *p)
{
	struct plist *l = arg;

	if (l->n < 8) {
		snprintf(l->dom[l->n], 64, "%s", p->domain);
		l->begin[l->n] = p->begin;
		l->count[l->n] = p->count;
		assert_int_equal(p->end, p->begin + DAY - 1);
	}
	l->n++;
	return 0;
}

static void
periods(struct am_report_store *s, int64_t now, const char *dom,
    struct plist *l)
{
	struct am_buf why = AM_BUF_INIT(512);

	memset(l, 0, sizeof(*l));
	if (s->ops->periods(s->state, DAY, now, dom, collect_period, l, &why) != 0)
		fail_msg("periods: %s", am_buf_str(&why));
	am_buf_release(&why);
}

static int
db_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1,
	    &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

static void
test_schema_version(void **state)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_store *s;
	struct tmpdb t;
	sqlite3 *db;
	char *mode = NULL;
	sqlite3_stmt *st;

	(void)state;
	tmpdb_new(&t, "report");
	s = store_open_ok(t.spec);
	assert_int_equal(s->ops->version(s->state), AM_REPORT_SCHEMA_VERSION);
	am_report_store_close(s);
	assert_int_equal(db_version(t.path), AM_REPORT_SCHEMA_VERSION);

	/* WAL mode is a property of the file: check it from outside */
	assert_int_equal(sqlite3_open(t.path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	mode = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	assert_string_equal(mode, "wal");
	free(mode);

	/* reopening an up-to-date store changes nothing */
	s = store_open_ok(t.spec);
	am_report_store_close(s);
	assert_int_equal(db_version(t.path), AM_REPORT_SCHEMA_VERSION);

	/* a store written by a newer program is refused, not touched */
	assert_int_equal(sqlite3_exec(db, "UPDATE schema_version SET version"
	    " = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_null(am_report_store_open(t.spec, &why));
	assert_non_null(strstr(am_buf_str(&why), "version 99, newer"));
	assert_int_equal(db_version(t.path), 99);

	am_buf_reset(&why);
	assert_null(am_report_store_open("mysql://x", &why));
	assert_non_null(strstr(am_buf_str(&why), "unknown store"));
	am_buf_release(&why);
	tmpdb_free(&t);
}

/* Committed rows survive closing and reopening; open periods are not listed. */
static void
test_reopen_keeps_rows(void **state)
{
	struct am_report_row rows[5];
	struct am_report_store *s;
	struct plist l;
	struct tmpdb t;

	(void)state;
	tmpdb_new(&t, "report");
	s = store_open_ok(t.spec);
	report_row_init(&rows[0], T0 + 10, "192.0.2.1", "a.example");
	report_row_init(&rows[1], T0 + 20, "192.0.2.1", "a.example");
	report_row_init(&rows[2], T0 + DAY + 5, "192.0.2.1", "a.example");
	report_row_init(&rows[3], T0 + 30, "2001:db8::1", "b.example");
	report_row_init(&rows[4], T0 + 2 * DAY + 1, "192.0.2.9", "b.example");
	store_insert_ok(s, rows, 5);
	am_report_store_close(s);

	s = store_open_ok(t.spec);
	/* now = during day 2: days 0 and 1 are closed, day 2 is open */
	periods(s, T0 + 2 * DAY + 100, NULL, &l);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.dom[0], "a.example");
	assert_int_equal(l.begin[0], T0);
	assert_int_equal(l.count[0], 2);
	assert_string_equal(l.dom[1], "a.example");
	assert_int_equal(l.begin[1], T0 + DAY);
	assert_string_equal(l.dom[2], "b.example");
	assert_int_equal(l.count[2], 1);
	/* one domain only */
	periods(s, T0 + 3 * DAY, "b.example", &l);
	assert_int_equal(l.n, 2);
	am_report_store_close(s);
	tmpdb_free(&t);
}

/* Through the queue: every submitted row is in the file after a reopen. */
static void
test_queue_to_sqlite(void **state)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_store *s;
	struct am_reporter *r;
	struct am_report_row row;
	struct am_report_stats st;
	struct plist l;
	struct tmpdb t;
	int i;

	(void)state;
	tmpdb_new(&t, "report");
	s = store_open_ok(t.spec);
	r = am_reporter_new(&s->sink, s->state, NULL, &why);
	assert_non_null(r);
	for (i = 0; i < 1200; i++) {
		report_row_init(&row, T0 + i, "192.0.2.1", "q.example");
		assert_int_equal(am_report_submit(r, &row), 0);
	}
	am_reporter_flush(r);
	am_reporter_stats(r, &st);
	assert_int_equal(st.committed, 1200);
	/* batches of at most 500 rows */
	assert_true(st.batches >= 3);
	am_reporter_free(r);
	am_report_store_close(s);
	s = store_open_ok(t.spec);
	periods(s, T0 + DAY, NULL, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.count[0], 1200);
	am_report_store_close(s);
	am_buf_release(&why);
	tmpdb_free(&t);
}

/* am_reporter_open(): the daemon's one call; the reporter owns the store. */
static void
test_reporter_open(void **state)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_store *s;
	struct am_reporter *r;
	struct am_report_row row;
	struct plist l;
	struct tmpdb t;
	int i;

	(void)state;
	tmpdb_new(&t, "report");
	assert_null(am_reporter_open("nosuch:/x", NULL, &why));
	assert_non_null(strstr(am_buf_str(&why), "unknown store"));
	r = am_reporter_open(t.spec, NULL, &why);
	if (r == NULL)
		fail_msg("am_reporter_open: %s", am_buf_str(&why));
	for (i = 0; i < 10; i++) {
		report_row_init(&row, T0 + i, "192.0.2.1", "o.example");
		assert_int_equal(am_report_submit(r, &row), 0);
	}
	/* frees the reporter, commits the queue and closes the store */
	assert_null(am_reporter_free(r));
	s = store_open_ok(t.spec);
	periods(s, T0 + DAY, NULL, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.count[0], 10);
	am_report_store_close(s);
	am_buf_release(&why);
	tmpdb_free(&t);
}

/* Sending runs exclude each other through the store's lock. */
static void
test_lock(void **state)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_store *a, *b;
	struct tmpdb t;
	char p[200];

	(void)state;
	tmpdb_new(&t, "report");
	a = store_open_ok(t.spec);
	b = store_open_ok(t.spec);
	assert_int_equal(a->ops->lock(a->state, &why), 0);
	assert_int_equal(b->ops->lock(b->state, &why), 1);
	am_report_store_close(a);
	assert_int_equal(b->ops->lock(b->state, &why), 0);
	am_report_store_close(b);
	snprintf(p, sizeof(p), "%s.lock", t.path);
	unlink(p);
	am_buf_release(&why);
	tmpdb_free(&t);
}

struct glist {
	size_t n;
	uint64_t count[8];
	char ip[8][64];
	char dkim[8][512];
};

static int
collect_group(void *arg, const struct am_report_group *g)
{
	struct glist *l = arg;

	if (l->n < 8) {
		l->count[l->n] = g->count;
		snprintf(l->ip[l->n], 64, "%s", g->source_ip);
		snprintf(l->dkim[l->n], 512, "%s", g->dkim);
	}
	l->n++;
	return 0;
}

/* Same results group together; a different DKIM human result splits. */
static void
test_groups_and_encoding(void **state)
{
	struct am_buf why = AM_BUF_INIT(512), scratch = AM_BUF_INIT(4096);
	struct am_report_dkim d1 = { "g.example", "sel\t1", AM_REPORT_DKIM_FAIL,
	    "bad%\nhash", 1 };
	struct am_report_dkim d2 = { "g.example", "sel\t1", AM_REPORT_DKIM_FAIL,
	    "other", 1 };
	struct am_report_row rows[4];
	struct am_report_store *s;
	struct glist l;
	struct tmpdb t;
	const char *pos, *f[4];

	(void)state;
	tmpdb_new(&t, "report");
	s = store_open_ok(t.spec);
	report_row_init(&rows[0], T0 + 1, "192.0.2.1", "g.example");
	rows[0].dkim = &d1;
	rows[0].ndkim = 1;
	rows[1] = rows[0];
	rows[1].time = T0 + 2;
	rows[2] = rows[0];
	rows[2].dkim = &d2;
	report_row_init(&rows[3], T0 + 3, "192.0.2.2", "g.example");
	store_insert_ok(s, rows, 4);
	memset(&l, 0, sizeof(l));
	assert_int_equal(s->ops->groups(s->state, "g.example", T0, T0 + DAY - 1,
	    collect_group, &l, &why), 0);
	assert_int_equal(l.n, 3);
	/* ordered by header_from, source_ip: the pair of equal rows first */
	assert_true((l.count[0] == 2 && l.count[1] == 1) ||
	    (l.count[0] == 1 && l.count[1] == 2));
	assert_string_equal(l.ip[2], "192.0.2.2");
	/* the encoded DKIM list decodes to the original, tab and all */
	pos = l.count[0] == 2 ? l.dkim[0] : l.dkim[1];
	assert_int_equal(am_report_dec_item(&pos, &scratch, f, 4), 4);
	assert_string_equal(f[0], "g.example");
	assert_string_equal(f[1], "sel\t1");
	assert_string_equal(f[2], "fail");
	assert_string_equal(f[3], "bad%\nhash");
	assert_int_equal(am_report_dec_item(&pos, &scratch, f, 4), 0);
	am_report_store_close(s);
	am_buf_release(&why);
	am_buf_release(&scratch);
	tmpdb_free(&t);
}

/* A period marked sent is never listed again, nor marked twice; purge. */
static void
test_mark_sent_and_purge(void **state)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_row rows[3];
	struct am_report_store *s;
	struct plist l;
	struct tmpdb t;
	uint64_t del;

	(void)state;
	tmpdb_new(&t, "report");
	s = store_open_ok(t.spec);
	report_row_init(&rows[0], T0 + 1, "192.0.2.1", "m.example");
	report_row_init(&rows[1], T0 + DAY + 1, "192.0.2.1", "m.example");
	report_row_init(&rows[2], T0 + 2 * DAY + 1, "192.0.2.1", "m.example");
	store_insert_ok(s, rows, 3);
	assert_int_equal(s->ops->mark_sent(s->state, "m.example", T0,
	    T0 + DAY - 1, "r1", T0 + DAY, &why), 0);
	assert_int_equal(s->ops->mark_sent(s->state, "m.example", T0,
	    T0 + DAY - 1, "r1", T0 + DAY, &why), 1);
	am_report_store_close(s);
	s = store_open_ok(t.spec);
	periods(s, T0 + 3 * DAY, NULL, &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.begin[0], T0 + DAY);
	/* an hourly run over a sent day finds nothing in it either */
	assert_int_equal(s->ops->mark_sent(s->state, "m.example", T0 + 3600,
	    T0 + 7199, "r2", T0 + DAY, &why), 1);
	assert_int_equal(s->ops->purge(s->state, T0 + 2 * DAY, &del, &why), 0);
	assert_int_equal(del, 2);
	periods(s, T0 + 3 * DAY, NULL, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.begin[0], T0 + 2 * DAY);
	am_report_store_close(s);
	am_buf_release(&why);
	tmpdb_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema_version),
		cmocka_unit_test(test_reopen_keeps_rows),
		cmocka_unit_test(test_queue_to_sqlite),
		cmocka_unit_test(test_reporter_open),
		cmocka_unit_test(test_lock),
		cmocka_unit_test(test_groups_and_encoding),
		cmocka_unit_test(test_mark_sent_and_purge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
