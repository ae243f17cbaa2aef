-- SPDX-License-Identifier: BSD-2-Clause
-- The report store, SQLite (lib/report_sqlite.c; ReportStore sqlite:PATH).
--
-- Each "-- migration N" section takes the schema from version N-1 to N.
-- The program applies, in one transaction each, the sections above the
-- version in schema_version, and refuses a database newer than it knows.
-- Never edit a released section: add a new one.
--
-- report_row: one row per message whose DMARC evaluation found a policy
-- record (struct am_report_row). Result columns hold the RFC 9990 schema
-- words; list columns (dkim, reasons, rua, ruf) the encoding of
-- lib/report_store.h, so equal results are equal text for GROUP BY.
-- report_sent: the periods reported, one row per (domain, period).

-- migration 1
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (0);
CREATE TABLE report_row (
	id INTEGER PRIMARY KEY,
	time INTEGER NOT NULL,          -- seconds since the epoch, UTC
	source_ip TEXT NOT NULL,
	policy_domain TEXT NOT NULL,
	header_from TEXT NOT NULL,
	envelope_from TEXT,             -- NULL unknown, '' null reverse-path
	envelope_to TEXT,               -- NULL unknown
	p TEXT NOT NULL, sp TEXT NOT NULL, np TEXT NOT NULL,  -- '' absent
	adkim TEXT NOT NULL, aspf TEXT NOT NULL, testing TEXT NOT NULL,
	fo TEXT,
	discovery TEXT NOT NULL,        -- psl or treewalk
	rua TEXT NOT NULL, ruf TEXT NOT NULL,
	dmarc TEXT NOT NULL,            -- pass or fail
	dkim_aligned TEXT NOT NULL, spf_aligned TEXT NOT NULL,
	disposition TEXT NOT NULL,      -- none, pass, quarantine, reject
	reasons TEXT NOT NULL,
	dkim TEXT NOT NULL,
	spf_domain TEXT,                -- NULL: SPF not evaluated
	spf_scope TEXT, spf_result TEXT, spf_human TEXT
);
CREATE INDEX report_row_domain_time ON report_row (policy_domain, time);
CREATE INDEX report_row_time ON report_row (time);
CREATE TABLE report_sent (
	policy_domain TEXT NOT NULL,
	period_begin INTEGER NOT NULL,
	period_end INTEGER NOT NULL,    -- inclusive
	report_id TEXT NOT NULL,
	sent_at INTEGER NOT NULL,
	PRIMARY KEY (policy_domain, period_begin, period_end)
);

-- migration 2
-- failure_report: one row per failure report (RFC 9991) the daemon
-- recorded (FailureReports yes); the header block only, never a body,
-- and emptied once the report is settled. sent_at NULL: authmilter-report
-- has not settled it yet; at most AM_REPORT_FAIL_PENDING (report_store.h)
-- of those per policy domain are kept, the rest are not inserted.
-- failure_rate: reports per destination address per hour
-- (FailureReportRate), shared by every sender of the store.
CREATE TABLE failure_report (
	id INTEGER PRIMARY KEY,
	time INTEGER NOT NULL,
	source_ip TEXT NOT NULL,
	policy_domain TEXT NOT NULL,
	header_from TEXT NOT NULL,
	mail_from TEXT NOT NULL,        -- '' null reverse-path
	ruf TEXT NOT NULL,              -- encoded URI list
	fo TEXT,
	identity_alignment TEXT NOT NULL,
	delivery_result TEXT NOT NULL,
	dkim_domain TEXT, dkim_selector TEXT, dkim_identity TEXT,
	spf_domain TEXT,
	authres TEXT NOT NULL,
	headers TEXT NOT NULL,
	sent_at INTEGER
);
CREATE INDEX failure_report_pending ON failure_report (sent_at, id);
CREATE INDEX failure_report_domain ON failure_report (policy_domain, sent_at);
CREATE INDEX failure_report_time ON failure_report (time);
CREATE TABLE failure_rate (
	destination TEXT NOT NULL,
	hour INTEGER NOT NULL,          -- first second of the hour
	count INTEGER NOT NULL,
	PRIMARY KEY (destination, hour)
);
