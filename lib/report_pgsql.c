/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_pgsql: the fleet report store (ReportStore postgresql://...),
 * through libpq.
 *
 * Several daemons (one per MX host) insert into one database, so one
 * report covers the whole fleet. The schema is db/schema-postgresql.sql,
 * compiled in (report_schema_pgsql.c is generated from it) and migrated
 * under a transaction-level advisory lock, so daemons starting together
 * apply each migration once. Statements are prepared per connection; a
 * lost connection is reset before the next operation. A session the
 * server ended while we were idle (a server restart) is found dead only by
 * the next batch: that batch is tried once more on a new session, as none
 * of it was committed (a batch whose COMMIT was sent is never tried again:
 * it may have been committed; it is dropped and counted by the queue). Groups are read in
 * libpq's single-row mode, so a report streams here too. Text columns
 * are UTF-8: invalid bytes are sent as U+FFFD (the XML writer would
 * write them so anyway), so one hostile row cannot fail a batch.
 *
 * Thread safety: see report_store.h (one thread at a time).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "report_store.h"

extern const char am_report_pgsql_schema[];    /* report_schema_pgsql.c */

#define MIGRATE_LOCK "8471029384"   /* pg_advisory_xact_lock key */
#define SEND_LOCK "8471029385"      /* pg_try_advisory_lock: report runs */
#define NPARAM 26

static const struct {
	const char *name, *sql;
	int nparams;
} stmts[] = {
	{ "am_insert", "INSERT INTO report_row (time, source_ip, policy_domain,"
	    " header_from, envelope_from, envelope_to, p, sp, np, adkim, aspf,"
	    " testing, fo, discovery, rua, ruf, dmarc, dkim_aligned,"
	    " spf_aligned, disposition, reasons, dkim, spf_domain, spf_scope,"
	    " spf_result, spf_human) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
	    " $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,"
	    " $22, $23, $24, $25, $26)", NPARAM },
	{ "am_periods", "SELECT policy_domain, (time / $1) * $1 AS b, count(*)"
	    " FROM report_row r WHERE time < $2 AND ($3::text IS NULL OR"
	    " policy_domain = $3) AND NOT EXISTS (SELECT 1 FROM report_sent s"
	    " WHERE s.policy_domain = r.policy_domain AND s.period_begin <="
	    " r.time AND r.time <= s.period_end) GROUP BY policy_domain, b"
	    " ORDER BY policy_domain, b", 3 },
	{ "am_published", "SELECT policy_domain, p, sp, np, adkim, aspf,"
	    " testing, discovery, fo, rua, ruf FROM report_row WHERE"
	    " policy_domain = $1 AND time BETWEEN $2 AND $3"
	    " ORDER BY time DESC, id DESC LIMIT 1", 3 },
	{ "am_groups", "SELECT count(*), source_ip, disposition, dkim_aligned,"
	    " spf_aligned, reasons, header_from, envelope_from, envelope_to,"
	    " dkim, spf_domain, spf_scope, spf_result, spf_human FROM report_row"
	    " WHERE policy_domain = $1 AND time BETWEEN $2 AND $3"
	    " GROUP BY source_ip, disposition, dkim_aligned, spf_aligned,"
	    " reasons, header_from, envelope_from, envelope_to, dkim,"
	    " spf_domain, spf_scope, spf_result, spf_human"
	    " ORDER BY header_from, source_ip", 3 },
	{ "am_sent_add", "INSERT INTO report_sent (policy_domain, period_begin,"
	    " period_end, report_id, sent_at) SELECT $1::text, $2::bigint,"
	    " $3::bigint, $4::text, $5::bigint WHERE"
	    " NOT EXISTS (SELECT 1 FROM report_sent WHERE policy_domain = $1"
	    " AND period_begin <= $3 AND $2 <= period_end)"
	    " ON CONFLICT DO NOTHING", 5 },
	/* not when the domain has AM_REPORT_FAIL_PENDING unsent already */
	{ "am_fail_add", "INSERT INTO failure_report (time, source_ip,"
	    " policy_domain, header_from, mail_from, ruf, fo,"
	    " identity_alignment, delivery_result, dkim_domain, dkim_selector,"
	    " dkim_identity, spf_domain, authres, headers) SELECT $1::bigint,"
	    " $2::text, $3::text, $4::text, $5::text, $6::text, $7::text,"
	    " $8::text, $9::text, $10::text, $11::text, $12::text, $13::text,"
	    " $14::text, $15::text WHERE (SELECT count(*) FROM failure_report"
	    " WHERE policy_domain = $3::text AND sent_at IS NULL) < $16::bigint",
	    16 },
	{ "am_fail_ids", "SELECT id FROM failure_report WHERE sent_at IS NULL"
	    " ORDER BY id LIMIT $1", 1 },
	{ "am_fail_get", "SELECT id, time, source_ip, policy_domain,"
	    " header_from, mail_from, ruf, fo, identity_alignment,"
	    " delivery_result, dkim_domain, dkim_selector, dkim_identity,"
	    " spf_domain, authres, headers FROM failure_report WHERE id = $1",
	    1 },
	/* settled: the header block is not kept any longer */
	{ "am_fail_done", "UPDATE failure_report SET sent_at = $2, headers = ''"
	    " WHERE id = $1 AND sent_at IS NULL", 2 },
	/* one statement: a row comes back only when a slot was taken */
	{ "am_fail_rate", "INSERT INTO failure_rate (destination, hour, count)"
	    " VALUES ($1, $2, 1) ON CONFLICT (destination, hour) DO UPDATE"
	    " SET count = failure_rate.count + 1 WHERE failure_rate.count < $3"
	    " RETURNING count", 3 },
};

enum { PG_FAIL_ADD = 5, PG_FAIL_IDS, PG_FAIL_GET, PG_FAIL_DONE, PG_FAIL_RATE };

#define NSTMT (sizeof(stmts) / sizeof(stmts[0]))

struct pg_store {
	PGconn *conn;
	int prepared;              /* statements exist on this connection */
	int locked;                /* holds SEND_LOCK */
	int version;
	PGresult *published;       /* kept for am_report_published strings */
	PGresult *failure;         /* kept for fail_get's strings */
	struct am_buf enc[4], clean[NPARAM];
};

static int
pg_fail(struct pg_store *s, const char *what, PGresult *res,
    struct am_buf *why)
{
	const char *msg = res != NULL ? PQresultErrorMessage(res) : "";

	if (*msg == '\0')
		msg = PQerrorMessage(s->conn);
	am_buf_setf(why, "postgresql: %s: %.*s", what,
	    (int)strcspn(msg, "\n"), msg);
	PQclear(res);
	return -1;
}

/* Run sql without parameters; 0 when it succeeded. */
static int
pg_exec(struct pg_store *s, const char *sql, struct am_buf *why)
{
	PGresult *res = PQexec(s->conn, sql);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return pg_fail(s, sql, res, why);
	PQclear(res);
	return 0;
}

static void
pg_rollback(struct pg_store *s)
{
	PQclear(PQexec(s->conn, "ROLLBACK"));
}

static int
read_version(struct pg_store *s, int *out, struct am_buf *why)
{
	PGresult *res;

	*out = 0;
	res = PQexec(s->conn, "SELECT to_regclass('schema_version') IS NOT NULL");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return pg_fail(s, "schema", res, why);
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		PQclear(res);
		return 0;
	}
	PQclear(res);
	res = PQexec(s->conn, "SELECT max(version) FROM schema_version");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return pg_fail(s, "schema_version", res, why);
	*out = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* Apply the missing migrations, one transaction each, under the lock. */
static int
migrate(struct pg_store *s, struct am_buf *why)
{
	static const char mark[] = "\n-- migration ";
	const char *p, *next, *body;
	char upd[80], *text;
	int n;

	for (p = strstr(am_report_pgsql_schema, mark); p != NULL; p = next) {
		n = atoi(p + sizeof(mark) - 1);
		body = strchr(p + 1, '\n');
		next = strstr(p + 1, mark);
		if (body == NULL)
			break;
		if (pg_exec(s, "BEGIN", why) != 0 ||
		    pg_exec(s, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")",
		    why) != 0 || read_version(s, &s->version, why) != 0)
			goto err;
		if (s->version > AM_REPORT_SCHEMA_VERSION) {
			am_buf_setf(why, "postgresql: the schema is version %d, "
			    "newer than this program's %d", s->version,
			    AM_REPORT_SCHEMA_VERSION);
			goto err;
		}
		if (n <= s->version) {
			pg_rollback(s);
			continue;
		}
		text = strndup(body, next != NULL ? (size_t)(next - body) :
		    strlen(body));
		snprintf(upd, sizeof(upd), "UPDATE schema_version SET version"
		    " = %d", n);
		if (text == NULL || pg_exec(s, text, why) != 0 ||
		    pg_exec(s, upd, why) != 0 || pg_exec(s, "COMMIT", why) != 0) {
			free(text);
			goto err;
		}
		free(text);
		s->version = n;
	}
	if (read_version(s, &s->version, why) != 0)
		return -1;
	if (s->version != AM_REPORT_SCHEMA_VERSION) {
		am_buf_setf(why, "postgresql: the schema is version %d, this "
		    "program's is %d", s->version, AM_REPORT_SCHEMA_VERSION);
		return -1;
	}
	return 0;
err:
	pg_rollback(s);
	return -1;
}

/* A working connection with the statements prepared; -1 with why. */
static int
ready(struct pg_store *s, struct am_buf *why)
{
	PGresult *res;
	size_t i;

	if (PQstatus(s->conn) != CONNECTION_OK) {
		PQreset(s->conn);
		s->prepared = 0;
		if (PQstatus(s->conn) != CONNECTION_OK)
			return pg_fail(s, "connection", NULL, why);
		/* a new session: the open's settings again */
		if (pg_exec(s, "SET client_encoding = 'UTF8'", why) != 0)
			return -1;
	}
	for (i = 0; !s->prepared && i < NSTMT; i++) {
		res = PQprepare(s->conn, stmts[i].name, stmts[i].sql,
		    stmts[i].nparams, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			return pg_fail(s, stmts[i].name, res, why);
		PQclear(res);
	}
	s->prepared = 1;
	return 0;
}

static PGresult *
run(struct pg_store *s, int stmt, int n, const char *const *v)
{
	return PQexecPrepared(s->conn, stmts[stmt].name, n, v, NULL, NULL, 0);
}

/* Text for a parameter: NULL stays NULL, the rest valid UTF-8. */
static const char *
txt(struct pg_store *s, int i, const char *v)
{
	return v == NULL ? NULL : am_report_utf8_clean(v, &s->clean[i]);
}

/*
 * The failure report of row r (RFC 9991) with the row's identifiers;
 * ruf is the row's encoded ruf list. The parameter buffers of the row
 * are reused: every value is taken before any is cleaned again.
 */
static int
insert_failure(struct pg_store *s, const struct am_report_row *r,
    const char *ruf, struct am_buf *why)
{
	const struct am_report_failure *f = r->failure;
	const char *v[16];
	char t[32], cap[32];
	PGresult *res;

	snprintf(t, sizeof(t), "%lld", (long long)r->time);
	v[0] = t;
	v[1] = txt(s, 1, r->source_ip);
	v[2] = txt(s, 2, r->policy_domain);
	v[3] = txt(s, 3, r->header_from);
	v[4] = txt(s, 4, f->mail_from != NULL ? f->mail_from : "");
	v[5] = ruf;                          /* cleaned in clean[15] */
	v[6] = txt(s, 12, r->fo);
	v[7] = txt(s, 7, f->identity_alignment != NULL ?
	    f->identity_alignment : "none");
	v[8] = txt(s, 8, f->delivery_result != NULL ? f->delivery_result :
	    "other");
	v[9] = txt(s, 9, f->dkim_domain);
	v[10] = txt(s, 10, f->dkim_selector);
	v[11] = txt(s, 11, f->dkim_identity);
	v[12] = txt(s, 22, r->spf_domain);
	v[13] = txt(s, 13, f->authres != NULL ? f->authres : "");
	v[14] = txt(s, 14, f->headers != NULL ? f->headers : "");
	snprintf(cap, sizeof(cap), "%d", AM_REPORT_FAIL_PENDING);
	v[15] = cap;
	res = run(s, PG_FAIL_ADD, 16, v);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return pg_fail(s, "insert failure report", res, why);
	PQclear(res);
	return 0;
}

static int
insert_one(struct pg_store *s, const struct am_report_row *r,
    struct am_buf *why)
{
	const char *v[NPARAM];
	char t[32], adkim[2] = { r->adkim, 0 }, aspf[2] = { r->aspf, 0 };
	char testing[2] = { r->testing, 0 };
	PGresult *res;
	int i;

	for (i = 0; i < 4; i++)
		am_buf_reset(&s->enc[i]);
	am_report_enc_uris(&s->enc[0], r->rua, r->nrua);
	am_report_enc_uris(&s->enc[1], r->ruf, r->nruf);
	am_report_enc_reasons(&s->enc[2], r);
	am_report_enc_dkim(&s->enc[3], r);
	snprintf(t, sizeof(t), "%lld", (long long)r->time);
	v[0] = t;
	v[1] = txt(s, 1, r->source_ip);
	v[2] = txt(s, 2, r->policy_domain);
	v[3] = txt(s, 3, r->header_from);
	v[4] = txt(s, 4, r->envelope_from);
	v[5] = txt(s, 5, r->envelope_to);
	v[6] = am_report_policy_name(r->p);
	v[7] = am_report_policy_name(r->sp);
	v[8] = am_report_policy_name(r->np);
	v[9] = adkim;
	v[10] = aspf;
	v[11] = testing;
	v[12] = txt(s, 12, r->fo);
	v[13] = am_report_discovery_name(r->discovery);
	v[14] = txt(s, 14, am_buf_str(&s->enc[0]));
	v[15] = txt(s, 15, am_buf_str(&s->enc[1]));
	v[16] = am_report_dmarc_name(r->dmarc);
	v[17] = am_report_dmarc_name(r->dkim_aligned);
	v[18] = am_report_dmarc_name(r->spf_aligned);
	v[19] = am_report_disposition_name(r->disposition);
	v[20] = txt(s, 20, am_buf_str(&s->enc[2]));
	v[21] = txt(s, 21, am_buf_str(&s->enc[3]));
	v[22] = txt(s, 22, r->spf_domain);
	v[23] = r->spf_domain != NULL ? am_report_scope_name(r->spf_scope) : NULL;
	v[24] = r->spf_domain != NULL ?
	    am_report_spf_result_name(r->spf_result) : NULL;
	v[25] = txt(s, 25, r->spf_human);
	for (i = 0; i < 4; i++)
		if (s->enc[i].truncated) {
			am_buf_setf(why, "postgresql: encoded list over %zu bytes",
			    s->enc[i].cap);
			return -1;
		}
	res = run(s, 0, NPARAM, v);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return pg_fail(s, "insert", res, why);
	PQclear(res);
	if (r->failure != NULL && r->nruf > 0)
		return insert_failure(s, r, v[15], why);
	return 0;
}

/* One batch in one transaction; *committing once COMMIT was sent. */
static int
insert_batch(struct pg_store *s, struct am_report_row *const *rows, size_t n,
    int *committing, struct am_buf *why)
{
	size_t i;

	*committing = 0;
	if (ready(s, why) != 0 || pg_exec(s, "BEGIN", why) != 0)
		return -1;
	for (i = 0; i < n; i++)
		if (insert_one(s, rows[i], why) != 0)
			goto err;
	*committing = 1;
	if (pg_exec(s, "COMMIT", why) != 0)
		goto err;
	return 0;
err:
	pg_rollback(s);
	return -1;
}

static int
pg_insert(void *state, struct am_report_row *const *rows, size_t n,
    struct am_buf *why)
{
	struct pg_store *s = state;
	int was_ok = PQstatus(s->conn) == CONNECTION_OK, committing;

	if (insert_batch(s, rows, n, &committing, why) == 0)
		return 0;
	/* a session that died while idle (not one we just reset) */
	if (!was_ok || committing || PQstatus(s->conn) == CONNECTION_OK)
		return -1;
	am_buf_reset(why);
	return insert_batch(s, rows, n, &committing, why);
}

static int
pg_periods(void *state, int64_t period, int64_t now, const char *domain,
    am_report_period_cb cb, void *arg, struct am_buf *why)
{
	struct pg_store *s = state;
	struct am_report_period p;
	char len[32], closed[32];
	const char *v[3] = { len, closed, domain };
	PGresult *res;
	int i, rc = 0;

	if (period <= 0) {
		am_buf_setf(why, "bad period %lld", (long long)period);
		return -1;
	}
	if (ready(s, why) != 0)
		return -1;
	snprintf(len, sizeof(len), "%lld", (long long)period);
	snprintf(closed, sizeof(closed), "%lld", (long long)(now - now % period));
	/* one row per domain and period, not per message: fits in memory */
	res = run(s, 1, 3, v);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return pg_fail(s, "periods", res, why);
	for (i = 0; i < PQntuples(res) && rc == 0; i++) {
		p.domain = PQgetvalue(res, i, 0);
		p.begin = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		p.end = p.begin + period - 1;
		p.count = strtoull(PQgetvalue(res, i, 2), NULL, 10);
		rc = cb(arg, &p);
	}
	PQclear(res);
	return rc;
}

/* Column c of row 0, NULL for SQL NULL. */
static const char *
val(PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

static int
pg_published(void *state, const char *domain, int64_t begin, int64_t end,
    struct am_report_published *out, struct am_buf *why)
{
	struct pg_store *s = state;
	char b[32], e[32];
	const char *v[3] = { domain, b, e };

	PQclear(s->published);
	s->published = NULL;
	if (ready(s, why) != 0)
		return -1;
	snprintf(b, sizeof(b), "%lld", (long long)begin);
	snprintf(e, sizeof(e), "%lld", (long long)end);
	s->published = run(s, 2, 3, v);
	if (PQresultStatus(s->published) != PGRES_TUPLES_OK) {
		pg_fail(s, "published", s->published, why);
		s->published = NULL;
		return -1;
	}
	if (PQntuples(s->published) == 0)
		return 1;
	out->domain = val(s->published, 0, 0);
	out->p = val(s->published, 0, 1);
	out->sp = val(s->published, 0, 2);
	out->np = val(s->published, 0, 3);
	out->adkim = val(s->published, 0, 4);
	out->aspf = val(s->published, 0, 5);
	out->testing = val(s->published, 0, 6);
	out->discovery = val(s->published, 0, 7);
	out->fo = val(s->published, 0, 8);
	out->rua = val(s->published, 0, 9);
	out->ruf = val(s->published, 0, 10);
	return 0;
}

static int
group_cb(PGresult *res, am_report_group_cb cb, void *arg)
{
	struct am_report_group g;

	g.count = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	g.source_ip = val(res, 0, 1);
	g.disposition = val(res, 0, 2);
	g.dkim_aligned = val(res, 0, 3);
	g.spf_aligned = val(res, 0, 4);
	g.reasons = val(res, 0, 5);
	g.header_from = val(res, 0, 6);
	g.envelope_from = val(res, 0, 7);
	g.envelope_to = val(res, 0, 8);
	g.dkim = val(res, 0, 9);
	g.spf_domain = val(res, 0, 10);
	g.spf_scope = val(res, 0, 11);
	g.spf_result = val(res, 0, 12);
	g.spf_human = val(res, 0, 13);
	return cb(arg, &g);
}

static int
pg_groups(void *state, const char *domain, int64_t begin, int64_t end,
    am_report_group_cb cb, void *arg, struct am_buf *why)
{
	struct pg_store *s = state;
	char b[32], e[32];
	const char *v[3] = { domain, b, e };
	PGresult *res;
	int rc = 0, err = 0;

	if (ready(s, why) != 0)
		return -1;
	snprintf(b, sizeof(b), "%lld", (long long)begin);
	snprintf(e, sizeof(e), "%lld", (long long)end);
	if (!PQsendQueryPrepared(s->conn, stmts[3].name, 3, v, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(s->conn))
		return pg_fail(s, "groups", NULL, why);
	/* one row per PGresult: memory does not grow with the groups */
	while ((res = PQgetResult(s->conn)) != NULL) {
		switch (PQresultStatus(res)) {
		case PGRES_SINGLE_TUPLE:
			if (rc == 0 && !err)
				rc = group_cb(res, cb, arg);
			break;
		case PGRES_TUPLES_OK:
			break;
		default:
			if (!err)
				am_buf_setf(why, "postgresql: groups: %.*s",
				    (int)strcspn(PQresultErrorMessage(res), "\n"),
				    PQresultErrorMessage(res));
			err = 1;
		}
		PQclear(res);
	}
	return err ? -1 : rc;
}

static int
pg_mark_sent(void *state, const char *domain, int64_t begin, int64_t end,
    const char *report_id, int64_t now, struct am_buf *why)
{
	struct pg_store *s = state;
	char b[32], e[32], t[32];
	const char *v[5] = { domain, b, e, report_id, t };
	PGresult *res;
	int added;

	if (ready(s, why) != 0)
		return -1;
	snprintf(b, sizeof(b), "%lld", (long long)begin);
	snprintf(e, sizeof(e), "%lld", (long long)end);
	snprintf(t, sizeof(t), "%lld", (long long)now);
	/* one statement: its own transaction */
	res = run(s, 4, 5, v);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return pg_fail(s, "mark sent", res, why);
	added = atoi(PQcmdTuples(res));
	PQclear(res);
	return added == 1 ? 0 : 1;
}

static int
pg_purge(void *state, int64_t before, uint64_t *deleted, struct am_buf *why)
{
	struct pg_store *s = state;
	char b[32];
	const char *v[1] = { b };
	PGresult *res;

	*deleted = 0;
	if (ready(s, why) != 0 || pg_exec(s, "BEGIN", why) != 0)
		return -1;
	snprintf(b, sizeof(b), "%lld", (long long)before);
	res = PQexecParams(s->conn, "DELETE FROM report_row WHERE time < $1",
	    1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		goto err;
	*deleted = strtoull(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	res = PQexecParams(s->conn, "DELETE FROM report_sent WHERE period_end"
	    " < $1", 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		goto err;
	PQclear(res);
	res = PQexecParams(s->conn, "DELETE FROM failure_report WHERE time"
	    " < $1", 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		goto err;
	*deleted += strtoull(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	res = PQexecParams(s->conn, "DELETE FROM failure_rate WHERE hour"
	    " < $1", 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		goto err;
	PQclear(res);
	if (pg_exec(s, "COMMIT", why) != 0) {
		pg_rollback(s);
		return -1;
	}
	return 0;
err:
	pg_fail(s, "purge", res, why);
	pg_rollback(s);
	return -1;
}

static int
pg_fail_pending(void *state, int64_t *ids, size_t max, size_t *n,
    struct am_buf *why)
{
	struct pg_store *s = state;
	char m[32];
	const char *v[1] = { m };
	PGresult *res;
	int i, rows;

	*n = 0;
	if (ready(s, why) != 0)
		return -1;
	snprintf(m, sizeof(m), "%zu", max);
	res = run(s, PG_FAIL_IDS, 1, v);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return pg_fail(s, "select failure reports", res, why);
	rows = PQntuples(res);
	for (i = 0; i < rows && *n < max; i++)
		ids[(*n)++] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
	PQclear(res);
	return 0;
}

static int
pg_fail_get(void *state, int64_t id, struct am_report_failure_entry *out,
    struct am_buf *why)
{
	struct pg_store *s = state;
	char b[32];
	const char *v[1] = { b };
	PGresult *res;

	PQclear(s->failure);
	s->failure = NULL;
	if (ready(s, why) != 0)
		return -1;
	snprintf(b, sizeof(b), "%lld", (long long)id);
	res = run(s, PG_FAIL_GET, 1, v);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return pg_fail(s, "select failure report", res, why);
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 1;
	}
	s->failure = res;
	out->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	out->time = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	out->source_ip = val(res, 0, 2);
	out->policy_domain = val(res, 0, 3);
	out->header_from = val(res, 0, 4);
	out->mail_from = val(res, 0, 5);
	out->ruf = val(res, 0, 6);
	out->fo = val(res, 0, 7);
	out->identity_alignment = val(res, 0, 8);
	out->delivery_result = val(res, 0, 9);
	out->dkim_domain = val(res, 0, 10);
	out->dkim_selector = val(res, 0, 11);
	out->dkim_identity = val(res, 0, 12);
	out->spf_domain = val(res, 0, 13);
	out->authres = val(res, 0, 14);
	out->headers = val(res, 0, 15);
	return 0;
}

static int
pg_fail_done(void *state, int64_t id, int64_t now, struct am_buf *why)
{
	struct pg_store *s = state;
	char b[32], t[32];
	const char *v[2] = { b, t };
	PGresult *res;
	int changed;

	if (ready(s, why) != 0)
		return -1;
	snprintf(b, sizeof(b), "%lld", (long long)id);
	snprintf(t, sizeof(t), "%lld", (long long)now);
	res = run(s, PG_FAIL_DONE, 2, v);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return pg_fail(s, "mark failure report", res, why);
	changed = atoi(PQcmdTuples(res));
	PQclear(res);
	return changed == 1 ? 0 : 1;
}

static int
pg_fail_rate(void *state, const char *dest, int64_t hour, unsigned limit,
    struct am_buf *why)
{
	struct pg_store *s = state;
	char h[32], l[32];
	const char *v[3];
	PGresult *res;
	int taken;

	if (limit == 0)
		return 1;
	if (ready(s, why) != 0)
		return -1;
	snprintf(h, sizeof(h), "%lld", (long long)hour);
	snprintf(l, sizeof(l), "%u", limit);
	v[0] = txt(s, 0, dest);
	v[1] = h;
	v[2] = l;
	res = run(s, PG_FAIL_RATE, 3, v);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return pg_fail(s, "failure report rate", res, why);
	taken = PQntuples(res) == 1;
	PQclear(res);
	return taken ? 0 : 1;
}

static int
pg_lock(void *state, struct am_buf *why)
{
	struct pg_store *s = state;
	PGresult *res;
	int got;

	if (ready(s, why) != 0)
		return -1;
	res = PQexec(s->conn, "SELECT pg_try_advisory_lock(" SEND_LOCK ")");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return pg_fail(s, "lock", res, why);
	got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	s->locked |= got;
	return got ? 0 : 1;
}

static int
pg_version(void *state)
{
	return ((struct pg_store *)state)->version;
}

static void
pg_close(void *state)
{
	struct pg_store *s = state;
	int i;

	if (s == NULL)
		return;
	PQclear(s->published);
	PQclear(s->failure);
	/* release it now: the server ends the session only later */
	if (s->locked && PQstatus(s->conn) == CONNECTION_OK)
		PQclear(PQexec(s->conn, "SELECT pg_advisory_unlock(" SEND_LOCK ")"));
	PQfinish(s->conn);
	for (i = 0; i < 4; i++)
		am_buf_release(&s->enc[i]);
	for (i = 0; i < NPARAM; i++)
		am_buf_release(&s->clean[i]);
	free(s);
}

static const struct am_report_store_ops pgsql_ops = {
	.name = "postgresql",
	.insert = pg_insert,
	.periods = pg_periods,
	.published = pg_published,
	.groups = pg_groups,
	.mark_sent = pg_mark_sent,
	.fail_pending = pg_fail_pending,
	.fail_get = pg_fail_get,
	.fail_done = pg_fail_done,
	.fail_rate = pg_fail_rate,
	.purge = pg_purge,
	.lock = pg_lock,
	.version = pg_version,
	.close = pg_close,
};

int
am_report_pgsql_away(const char *conninfo)
{
	PGPing p = PQping(conninfo);

	return p == PQPING_NO_RESPONSE || p == PQPING_REJECT;
}

struct am_report_store *
am_report_pgsql_open(const char *conninfo, struct am_buf *why)
{
	struct pg_store *s;
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
	for (i = 0; i < NPARAM; i++)
		am_buf_init(&s->clean[i], 256 * 1024);
	s->conn = PQconnectdb(conninfo);
	if (PQstatus(s->conn) != CONNECTION_OK) {
		pg_fail(s, "connect", NULL, why);
		goto err;
	}
	if (pg_exec(s, "SET client_encoding = 'UTF8'", why) != 0 ||
	    migrate(s, why) != 0 || ready(s, why) != 0)
		goto err;
	store->ops = &pgsql_ops;
	store->state = s;
	store->sink.name = pgsql_ops.name;
	store->sink.insert = pg_insert;
	return store;
err:
	pg_close(s);
	free(store);
	return NULL;
}
