/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_util: the store set-up the report unit tests share
 * (test_report_sqlite.c, test_report_fail.c, test_report_pgsql.c,
 * test_report_xml.c): a SQLite database in a fresh temporary directory,
 * opening a store that must open, inserting copies of rows as the queue
 * would hand them, and the plain aggregate row most cases start from.
 * Failures end the test with a message (cmocka's fail_msg). Include
 * after <cmocka.h>.
 */
#ifndef AM_TEST_REPORT_UTIL_H
#define AM_TEST_REPORT_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "report.h"
#include "report_store.h"

/* A database file in its own directory under /tmp, and its store spec. */
struct tmpdb {
	char dir[64], path[128], spec[160];
};

/* Make /tmp/am-test-NAME-XXXXXX; path is reports.db in it. */
void tmpdb_new(struct tmpdb *t, const char *name);
/* Remove the database, its -wal and -shm files and the directory. */
void tmpdb_free(struct tmpdb *t);
/* am_report_store_open(spec); a failure fails the test with its reason. */
struct am_report_store *store_open_ok(const char *spec);
/*
 * Insert copies of rows[0..n-1] in one batch through the store's insert:
 * its return value, with why.
 */
int store_insert(struct am_report_store *s, const struct am_report_row *rows,
    size_t n, struct am_buf *why);
/* store_insert(), which must succeed. */
void store_insert_ok(struct am_report_store *s,
    const struct am_report_row *rows, size_t n);
/*
 * An aggregate row at time t from ip for dom (From, MAIL FROM and SPF
 * domain too): p=reject, adkim=aspf=r, t=n, DMARC and DKIM aligned pass,
 * SPF pass, disposition pass; no lists, no failure report.
 */
void report_row_init(struct am_report_row *r, int64_t t, const char *ip,
    const char *dom);

#endif
