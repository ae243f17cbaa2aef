/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_sqlite: the embedded report store (ReportStore sqlite:PATH).
 *
 * One database file in WAL mode, so the report tool reads while the
 * daemon's writer thread commits; synchronous=NORMAL (a power cut may lose
 * the last batches, never corrupt the file). The schema is
 * db/schema-sqlite.sql, compiled in (report_schema_sqlite.c is generated
 * from it) and applied migration by migration, each in one transaction
 * with its schema_version update. Statements used per batch or per report
 * are prepared once at open. A batch insert is one transaction.
 *
 * Thread safety: see report_store.h (one thread at a time).
 */
#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "report_store.h"

extern const char am_report_sqlite_schema[];   /* report_schema_sqlite.c */

enum { ST_INSERT, ST_PERIODS, ST_PERIODS_DOM, ST_PUBLISHED, ST_GROUPS,
	ST_SENT_CHECK, ST_SENT_ADD, ST_FAIL_ADD, ST_FAIL_IDS, ST_FAIL_GET,
	ST_FAIL_DONE, ST_FAIL_RATE, ST_COUNT };

static const char *const stmt_sql[ST_COUNT] = {
	[ST_INSERT] = "INSERT INTO report_row (time, source_ip, policy_domain,"
	    " header_from, envelope_from, envelope_to, p, sp, np, adkim, aspf,"
	    " testing, fo, discovery, rua, ruf, dmarc, dkim_aligned,"
	    " spf_aligned, disposition, reasons, dkim, spf_domain, spf_scope,"
	    " spf_result, spf_human) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
	    " ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21,"
	    " ?22, ?23, ?24, ?25, ?26)",
#define PERIODS_SQL(where) \
	"SELECT policy_domain, (time / ?1) * ?1 AS b, count(*) FROM report_row r" \
	" WHERE time < ?2 " where " AND NOT EXISTS (SELECT 1 FROM report_sent s" \
	" WHERE s.policy_domain = r.policy_domain AND s.period_begin <= r.time" \
	" AND r.time <= s.period_end) GROUP BY policy_domain, b" \
	" ORDER BY policy_domain, b"
	[ST_PERIODS] = PERIODS_SQL(""),
	[ST_PERIODS_DOM] = PERIODS_SQL("AND policy_domain = ?3"),
	[ST_PUBLISHED] = "SELECT policy_domain, p, sp, np, adkim, aspf, testing,"
	    " discovery, fo, rua, ruf FROM report_row WHERE policy_domain = ?1"
	    " AND time BETWEEN ?2 AND ?3 ORDER BY time DESC, id DESC LIMIT 1",
	/* the group key is every column a <record> shows */
	[ST_GROUPS] = "SELECT count(*), source_ip, disposition, dkim_aligned,"
	    " spf_aligned, reasons, header_from, envelope_from, envelope_to,"
	    " dkim, spf_domain, spf_scope, spf_result, spf_human FROM report_row"
	    " WHERE policy_domain = ?1 AND time BETWEEN ?2 AND ?3"
	    " GROUP BY source_ip, disposition, dkim_aligned, spf_aligned,"
	    " reasons, header_from, envelope_from, envelope_to, dkim,"
	    " spf_domain, spf_scope, spf_result, spf_human"
	    " ORDER BY header_from, source_ip",
	[ST_SENT_CHECK] = "SELECT 1 FROM report_sent WHERE policy_domain = ?1"
	    " AND period_begin <= ?3 AND ?2 <= period_end",
	[ST_SENT_ADD] = "INSERT INTO report_sent (policy_domain, period_begin,"
	    " period_end, report_id, sent_at) VALUES (?1, ?2, ?3, ?4, ?5)",
	/* not when the domain has AM_REPORT_FAIL_PENDING unsent already */
	[ST_FAIL_ADD] = "INSERT INTO failure_report (time, source_ip,"
	    " policy_domain, header_from, mail_from, ruf, fo,"
	    " identity_alignment, delivery_result, dkim_domain, dkim_selector,"
	    " dkim_identity, spf_domain, authres, headers) SELECT ?1, ?2, ?3,"
	    " ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15 WHERE"
	    " (SELECT count(*) FROM failure_report WHERE policy_domain = ?3"
	    " AND sent_at IS NULL) < ?16",
	[ST_FAIL_IDS] = "SELECT id FROM failure_report WHERE sent_at IS NULL"
	    " ORDER BY id LIMIT ?1",
	[ST_FAIL_GET] = "SELECT id, time, source_ip, policy_domain,"
	    " header_from, mail_from, ruf, fo, identity_alignment,"
	    " delivery_result, dkim_domain, dkim_selector, dkim_identity,"
	    " spf_domain, authres, headers FROM failure_report WHERE id = ?1",
	/* settled: the header block is not kept any longer */
	[ST_FAIL_DONE] = "UPDATE failure_report SET sent_at = ?2, headers = ''"
	    " WHERE id = ?1 AND sent_at IS NULL",
	/* one statement: a row comes back only when a slot was taken */
	[ST_FAIL_RATE] = "INSERT INTO failure_rate (destination, hour, count)"
	    " VALUES (?1, ?2, 1) ON CONFLICT (destination, hour) DO UPDATE"
	    " SET count = count + 1 WHERE count < ?3 RETURNING count",
};

struct sqlite_store {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	int version;
	int lockfd;                /* PATH.lock, -1 until sq_lock() */
	char *path;
	struct am_buf enc[4];      /* encoded lists of the row being bound */
};

static int
fail(struct sqlite_store *s, const char *what, struct am_buf *why)
{
	am_buf_setf(why, "sqlite: %s: %s", what, sqlite3_errmsg(s->db));
	return -1;
}

static int
exec(struct sqlite_store *s, const char *sql, struct am_buf *why)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return fail(s, sql, why);
	return 0;
}

/* The version in schema_version; 0 when the table does not exist. */
static int
read_version(struct sqlite_store *s, int *out, struct am_buf *why)
{
	sqlite3_stmt *st;
	int rc;

	*out = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master"
	    " WHERE type = 'table' AND name = 'schema_version'", -1, &st,
	    NULL) != SQLITE_OK)
		return fail(s, "schema", why);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_int(st, 0) == 1) {
		sqlite3_finalize(st);
		if (sqlite3_prepare_v2(s->db, "SELECT max(version) FROM"
		    " schema_version", -1, &st, NULL) != SQLITE_OK)
			return fail(s, "schema_version", why);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			*out = sqlite3_column_int(st, 0);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 :
	    fail(s, "schema_version", why);
}

/* Apply migration n (its SQL is len bytes at sql) in one transaction. */
static int
apply_migration(struct sqlite_store *s, int n, const char *sql, size_t len,
    struct am_buf *why)
{
	char *text, upd[80];

	if ((text = strndup(sql, len)) == NULL) {
		am_buf_setf(why, "out of memory");
		return -1;
	}
	snprintf(upd, sizeof(upd), "UPDATE schema_version SET version = %d", n);
	if (exec(s, "BEGIN IMMEDIATE", why) != 0)
		goto err;
	if (exec(s, text, why) != 0 || exec(s, upd, why) != 0 ||
	    exec(s, "COMMIT", why) != 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		goto err;
	}
	free(text);
	return 0;
err:
	free(text);
	return -1;
}

/* Bring the schema up to AM_REPORT_SCHEMA_VERSION. */
static int
migrate(struct sqlite_store *s, struct am_buf *why)
{
	static const char mark[] = "\n-- migration ";
	const char *p, *next, *body;
	int n;

	if (read_version(s, &s->version, why) != 0)
		return -1;
	if (s->version > AM_REPORT_SCHEMA_VERSION) {
		am_buf_setf(why, "sqlite: the schema is version %d, newer than "
		    "this program's %d", s->version, AM_REPORT_SCHEMA_VERSION);
		return -1;
	}
	for (p = strstr(am_report_sqlite_schema, mark); p != NULL; p = next) {
		n = atoi(p + sizeof(mark) - 1);
		body = strchr(p + 1, '\n');
		next = strstr(p + 1, mark);
		if (body == NULL || n <= s->version)
			continue;
		if (apply_migration(s, n, body, next != NULL ?
		    (size_t)(next - body) : strlen(body), why) != 0)
			return -1;
		s->version = n;
	}
	if (s->version != AM_REPORT_SCHEMA_VERSION) {
		am_buf_setf(why, "sqlite: schema at version %d, want %d",
		    s->version, AM_REPORT_SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

/* Bind text, or NULL for a NULL pointer. */
static void
bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

static void
bind_char(sqlite3_stmt *st, int i, char c)
{
	char v[2] = { c, '\0' };

	sqlite3_bind_text(st, i, v, c != '\0' ? 1 : 0, SQLITE_TRANSIENT);
}

static int insert_failure(struct sqlite_store *s,
    const struct am_report_row *r, struct am_buf *why);

static int
insert_one(struct sqlite_store *s, const struct am_report_row *r,
    struct am_buf *why)
{
	sqlite3_stmt *st = s->st[ST_INSERT];
	int i;

	for (i = 0; i < 4; i++)
		am_buf_reset(&s->enc[i]);
	am_report_enc_uris(&s->enc[0], r->rua, r->nrua);
	am_report_enc_uris(&s->enc[1], r->ruf, r->nruf);
	am_report_enc_reasons(&s->enc[2], r);
	am_report_enc_dkim(&s->enc[3], r);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	sqlite3_bind_int64(st, 1, r->time);
	bind_text(st, 2, r->source_ip);
	bind_text(st, 3, r->policy_domain);
	bind_text(st, 4, r->header_from);
	bind_text(st, 5, r->envelope_from);
	bind_text(st, 6, r->envelope_to);
	bind_text(st, 7, am_report_policy_name(r->p));
	bind_text(st, 8, am_report_policy_name(r->sp));
	bind_text(st, 9, am_report_policy_name(r->np));
	bind_char(st, 10, r->adkim);
	bind_char(st, 11, r->aspf);
	bind_char(st, 12, r->testing);
	bind_text(st, 13, r->fo);
	bind_text(st, 14, am_report_discovery_name(r->discovery));
	bind_text(st, 15, am_buf_str(&s->enc[0]));
	bind_text(st, 16, am_buf_str(&s->enc[1]));
	bind_text(st, 21, am_buf_str(&s->enc[2]));
	bind_text(st, 22, am_buf_str(&s->enc[3]));
	bind_text(st, 17, am_report_dmarc_name(r->dmarc));
	bind_text(st, 18, am_report_dmarc_name(r->dkim_aligned));
	bind_text(st, 19, am_report_dmarc_name(r->spf_aligned));
	bind_text(st, 20, am_report_disposition_name(r->disposition));
	bind_text(st, 23, r->spf_domain);
	bind_text(st, 24, r->spf_domain != NULL ?
	    am_report_scope_name(r->spf_scope) : NULL);
	bind_text(st, 25, r->spf_domain != NULL ?
	    am_report_spf_result_name(r->spf_result) : NULL);
	bind_text(st, 26, r->spf_human);
	for (i = 0; i < 4; i++)
		if (s->enc[i].truncated) {
			am_buf_setf(why, "sqlite: encoded list over %zu bytes",
			    s->enc[i].cap);
			return -1;
		}
	if (sqlite3_step(st) != SQLITE_DONE)
		return fail(s, "insert", why);
	if (r->failure != NULL && r->nruf > 0)
		return insert_failure(s, r, why);
	return 0;
}

/* The failure report of row r (RFC 9991), with the row's identifiers. */
static int
insert_failure(struct sqlite_store *s, const struct am_report_row *r,
    struct am_buf *why)
{
	const struct am_report_failure *f = r->failure;
	sqlite3_stmt *st = s->st[ST_FAIL_ADD];

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	sqlite3_bind_int64(st, 1, r->time);
	bind_text(st, 2, r->source_ip);
	bind_text(st, 3, r->policy_domain);
	bind_text(st, 4, r->header_from);
	bind_text(st, 5, f->mail_from != NULL ? f->mail_from : "");
	bind_text(st, 6, am_buf_str(&s->enc[1]));   /* ruf, encoded above */
	bind_text(st, 7, r->fo);
	bind_text(st, 8, f->identity_alignment != NULL ?
	    f->identity_alignment : "none");
	bind_text(st, 9, f->delivery_result != NULL ? f->delivery_result :
	    "other");
	bind_text(st, 10, f->dkim_domain);
	bind_text(st, 11, f->dkim_selector);
	bind_text(st, 12, f->dkim_identity);
	bind_text(st, 13, r->spf_domain);
	bind_text(st, 14, f->authres != NULL ? f->authres : "");
	bind_text(st, 15, f->headers != NULL ? f->headers : "");
	sqlite3_bind_int64(st, 16, AM_REPORT_FAIL_PENDING);
	if (sqlite3_step(st) != SQLITE_DONE)
		return fail(s, "insert failure report", why);
	return 0;
}

static int
sq_insert(void *state, struct am_report_row *const *rows, size_t n,
    struct am_buf *why)
{
	struct sqlite_store *s = state;
	size_t i;

	sqlite3_reset(s->st[ST_PUBLISHED]);   /* end its read */
	if (exec(s, "BEGIN IMMEDIATE", why) != 0)
		return -1;
	for (i = 0; i < n; i++)
		if (insert_one(s, rows[i], why) != 0)
			goto err;
	if (exec(s, "COMMIT", why) != 0)
		goto err;
	return 0;
err:
	sqlite3_reset(s->st[ST_INSERT]);
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static const char *
col(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* Step st to its end; SQLITE_DONE, or cb's nonzero, or -1 with why. */
static int
step_all(struct sqlite_store *s, sqlite3_stmt *st,
    int (*row)(sqlite3_stmt *, void *), void *arg, struct am_buf *why)
{
	int rc, r;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((r = row(st, arg)) != 0) {
			sqlite3_reset(st);
			return r;
		}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return fail(s, "select", why);
	return 0;
}

struct period_arg {
	int64_t len;
	am_report_period_cb cb;
	void *arg;
};

static int
period_row(sqlite3_stmt *st, void *arg)
{
	struct period_arg *a = arg;
	struct am_report_period p;

	p.domain = col(st, 0);
	p.begin = sqlite3_column_int64(st, 1);
	p.end = p.begin + a->len - 1;
	p.count = (uint64_t)sqlite3_column_int64(st, 2);
	return a->cb(a->arg, &p);
}

static int
sq_periods(void *state, int64_t period, int64_t now, const char *domain,
    am_report_period_cb cb, void *arg, struct am_buf *why)
{
	struct sqlite_store *s = state;
	struct period_arg a = { period, cb, arg };
	sqlite3_stmt *st = s->st[domain != NULL ? ST_PERIODS_DOM : ST_PERIODS];

	if (period <= 0) {
		am_buf_setf(why, "bad period %lld", (long long)period);
		return -1;
	}
	sqlite3_bind_int64(st, 1, period);
	/* the first second of the open period: rows before it are closed */
	sqlite3_bind_int64(st, 2, now - now % period);
	if (domain != NULL)
		sqlite3_bind_text(st, 3, domain, -1, SQLITE_TRANSIENT);
	return step_all(s, st, period_row, &a, why);
}

static int
sq_published(void *state, const char *domain, int64_t begin, int64_t end,
    struct am_report_published *out, struct am_buf *why)
{
	struct sqlite_store *s = state;
	sqlite3_stmt *st = s->st[ST_PUBLISHED];
	int rc;

	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, begin);
	sqlite3_bind_int64(st, 3, end);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return 1;
	if (rc != SQLITE_ROW)
		return fail(s, "select policy", why);
	/* the row stays current (strings valid) until the next reset */
	out->domain = col(st, 0);
	out->p = col(st, 1);
	out->sp = col(st, 2);
	out->np = col(st, 3);
	out->adkim = col(st, 4);
	out->aspf = col(st, 5);
	out->testing = col(st, 6);
	out->discovery = col(st, 7);
	out->fo = col(st, 8);
	out->rua = col(st, 9);
	out->ruf = col(st, 10);
	return 0;
}

struct group_arg {
	am_report_group_cb cb;
	void *arg;
};

static int
group_row(sqlite3_stmt *st, void *arg)
{
	struct group_arg *a = arg;
	struct am_report_group g;

	g.count = (uint64_t)sqlite3_column_int64(st, 0);
	g.source_ip = col(st, 1);
	g.disposition = col(st, 2);
	g.dkim_aligned = col(st, 3);
	g.spf_aligned = col(st, 4);
	g.reasons = col(st, 5);
	g.header_from = col(st, 6);
	g.envelope_from = col(st, 7);
	g.envelope_to = col(st, 8);
	g.dkim = col(st, 9);
	g.spf_domain = col(st, 10);
	g.spf_scope = col(st, 11);
	g.spf_result = col(st, 12);
	g.spf_human = col(st, 13);
	return a->cb(a->arg, &g);
}

static int
sq_groups(void *state, const char *domain, int64_t begin, int64_t end,
    am_report_group_cb cb, void *arg, struct am_buf *why)
{
	struct sqlite_store *s = state;
	struct group_arg a = { cb, arg };
	sqlite3_stmt *st = s->st[ST_GROUPS];

	sqlite3_bind_text(st, 1, domain, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, begin);
	sqlite3_bind_int64(st, 3, end);
	return step_all(s, st, group_row, &a, why);
}

static int
sq_mark_sent(void *state, const char *domain, int64_t begin, int64_t end,
    const char *report_id, int64_t now, struct am_buf *why)
{
	struct sqlite_store *s = state;
	sqlite3_stmt *chk = s->st[ST_SENT_CHECK], *add = s->st[ST_SENT_ADD];
	int rc;

	sqlite3_reset(s->st[ST_PUBLISHED]);   /* end its read */
	if (exec(s, "BEGIN IMMEDIATE", why) != 0)
		return -1;
	sqlite3_bind_text(chk, 1, domain, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(chk, 2, begin);
	sqlite3_bind_int64(chk, 3, end);
	rc = sqlite3_step(chk);
	sqlite3_reset(chk);
	if (rc == SQLITE_ROW) {
		exec(s, "ROLLBACK", why);
		return 1;
	}
	if (rc != SQLITE_DONE)
		goto err;
	sqlite3_bind_text(add, 1, domain, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(add, 2, begin);
	sqlite3_bind_int64(add, 3, end);
	sqlite3_bind_text(add, 4, report_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(add, 5, now);
	rc = sqlite3_step(add);
	sqlite3_reset(add);
	if (rc != SQLITE_DONE || exec(s, "COMMIT", why) != 0)
		goto err;
	return 0;
err:
	fail(s, "mark sent", why);
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int
sq_purge(void *state, int64_t before, uint64_t *deleted, struct am_buf *why)
{
	struct sqlite_store *s = state;
	char sql[160];

	*deleted = 0;
	sqlite3_reset(s->st[ST_PUBLISHED]);   /* end its read */
	if (exec(s, "BEGIN IMMEDIATE", why) != 0)
		return -1;
	snprintf(sql, sizeof(sql), "DELETE FROM report_row WHERE time < %lld",
	    (long long)before);
	if (exec(s, sql, why) != 0)
		goto err;
	*deleted = (uint64_t)sqlite3_changes(s->db);
	snprintf(sql, sizeof(sql), "DELETE FROM report_sent WHERE period_end"
	    " < %lld", (long long)before);
	if (exec(s, sql, why) != 0)
		goto err;
	snprintf(sql, sizeof(sql), "DELETE FROM failure_report WHERE time"
	    " < %lld", (long long)before);
	if (exec(s, sql, why) != 0)
		goto err;
	*deleted += (uint64_t)sqlite3_changes(s->db);
	snprintf(sql, sizeof(sql), "DELETE FROM failure_rate WHERE hour"
	    " < %lld", (long long)before);
	if (exec(s, sql, why) != 0 || exec(s, "COMMIT", why) != 0)
		goto err;
	return 0;
err:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int
sq_fail_pending(void *state, int64_t *ids, size_t max, size_t *n,
    struct am_buf *why)
{
	struct sqlite_store *s = state;
	sqlite3_stmt *st = s->st[ST_FAIL_IDS];
	int rc;

	*n = 0;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max)
		ids[(*n)++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(s, "select failure reports", why);
	return 0;
}

static int
sq_fail_get(void *state, int64_t id, struct am_report_failure_entry *out,
    struct am_buf *why)
{
	struct sqlite_store *s = state;
	sqlite3_stmt *st = s->st[ST_FAIL_GET];
	int rc;

	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return 1;
	if (rc != SQLITE_ROW)
		return fail(s, "select failure report", why);
	/* the row stays current (strings valid) until the next reset */
	out->id = sqlite3_column_int64(st, 0);
	out->time = sqlite3_column_int64(st, 1);
	out->source_ip = col(st, 2);
	out->policy_domain = col(st, 3);
	out->header_from = col(st, 4);
	out->mail_from = col(st, 5);
	out->ruf = col(st, 6);
	out->fo = col(st, 7);
	out->identity_alignment = col(st, 8);
	out->delivery_result = col(st, 9);
	out->dkim_domain = col(st, 10);
	out->dkim_selector = col(st, 11);
	out->dkim_identity = col(st, 12);
	out->spf_domain = col(st, 13);
	out->authres = col(st, 14);
	out->headers = col(st, 15);
	return 0;
}

static int
sq_fail_done(void *state, int64_t id, int64_t now, struct am_buf *why)
{
	struct sqlite_store *s = state;
	sqlite3_stmt *st = s->st[ST_FAIL_DONE];
	int rc;

	sqlite3_reset(s->st[ST_FAIL_GET]);   /* end its read */
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return fail(s, "mark failure report", why);
	return sqlite3_changes(s->db) == 1 ? 0 : 1;
}

static int
sq_fail_rate(void *state, const char *dest, int64_t hour, unsigned limit,
    struct am_buf *why)
{
	struct sqlite_store *s = state;
	sqlite3_stmt *st = s->st[ST_FAIL_RATE];
	int rc;

	if (limit == 0)
		return 1;
	sqlite3_reset(s->st[ST_FAIL_GET]);   /* end its read */
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, dest, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, hour);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return 1;
	return fail(s, "failure report rate", why);
}

static int
sq_lock(void *state, struct am_buf *why)
{
	struct sqlite_store *s = state;
	char lp[4200];

	if (s->lockfd >= 0)
		return 0;
	snprintf(lp, sizeof(lp), "%s.lock", s->path);
	if ((s->lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		am_buf_setf(why, "%s: %s", lp, strerror(errno));
		return -1;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
		close(s->lockfd);
		s->lockfd = -1;
		return 1;
	}
	return 0;
}

static int
sq_version(void *state)
{
	return ((struct sqlite_store *)state)->version;
}

static void
sq_close(void *state)
{
	struct sqlite_store *s = state;
	int i;

	if (s == NULL)
		return;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	for (i = 0; i < 4; i++)
		am_buf_release(&s->enc[i]);
	sqlite3_close(s->db);
	if (s->lockfd >= 0)
		close(s->lockfd);
	free(s->path);
	free(s);
}

static const struct am_report_store_ops sqlite_ops = {
	.name = "sqlite",
	.insert = sq_insert,
	.periods = sq_periods,
	.published = sq_published,
	.groups = sq_groups,
	.mark_sent = sq_mark_sent,
	.fail_pending = sq_fail_pending,
	.fail_get = sq_fail_get,
	.fail_done = sq_fail_done,
	.fail_rate = sq_fail_rate,
	.purge = sq_purge,
	.lock = sq_lock,
	.version = sq_version,
	.close = sq_close,
};

struct am_report_store *
am_report_sqlite_open(const char *path, struct am_buf *why)
{
	struct sqlite_store *s;
	struct am_report_store *store;
	int i;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (store = calloc(1, sizeof(*store))) == NULL) {
		free(s);
		am_buf_setf(why, "out of memory");
		return NULL;
	}
	for (i = 0; i < 4; i++)
		am_buf_init(&s->enc[i], 64 * 1024);
	s->lockfd = -1;
	if ((s->path = strdup(path)) == NULL) {
		am_buf_setf(why, "out of memory");
		goto err;
	}
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		am_buf_setf(why, "sqlite: %s: %s", path, s->db != NULL ?
		    sqlite3_errmsg(s->db) : "cannot open");
		goto err;
	}
	/* a writer waits this long for the report tool's transaction */
	sqlite3_busy_timeout(s->db, 5000);
	if (exec(s, "PRAGMA journal_mode = WAL", why) != 0 ||
	    exec(s, "PRAGMA synchronous = NORMAL", why) != 0 ||
	    migrate(s, why) != 0)
		goto err;
	for (i = 0; i < ST_COUNT; i++)
		if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK) {
			fail(s, stmt_sql[i], why);
			goto err;
		}
	store->ops = &sqlite_ops;
	store->state = s;
	store->sink.name = sqlite_ops.name;
	store->sink.insert = sq_insert;
	return store;
err:
	sq_close(s);
	free(store);
	return NULL;
}
