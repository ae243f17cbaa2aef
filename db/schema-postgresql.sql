-- SPDX-License-Identifier: BSD-2-Clause
-- The report store, PostgreSQL (lib/report_pgsql.c; ReportStore
-- postgresql://...), for a fleet of MX hosts writing one database.
--
-- The same tables and columns as db/schema-sqlite.sql (see there). Each
-- "-- migration N" section takes the schema from version N-1 to N; the
-- program applies the missing ones in one transaction each, holding a
-- transaction-level advisory lock so daemons starting together do not
-- migrate twice, and refuses a database newer than it knows.

-- migration 1
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (0);
CREATE TABLE report_row (
	id BIGSERIAL PRIMARY KEY,
	time BIGINT NOT NULL,
	source_ip TEXT NOT NULL,
	policy_domain TEXT NOT NULL,
	header_from TEXT NOT NULL,
	envelope_from TEXT,
	envelope_to TEXT,
	p TEXT NOT NULL, sp TEXT NOT NULL, np TEXT NOT NULL,
	adkim TEXT NOT NULL, aspf TEXT NOT NULL, testing TEXT NOT NULL,
	fo TEXT,
	discovery TEXT NOT NULL,
	rua TEXT NOT NULL, ruf TEXT NOT NULL,
	dmarc TEXT NOT NULL,
	dkim_aligned TEXT NOT NULL, spf_aligned TEXT NOT NULL,
	disposition TEXT NOT NULL,
	reasons TEXT NOT NULL,
	dkim TEXT NOT NULL,
	spf_domain TEXT,
	spf_scope TEXT, spf_result TEXT, spf_human TEXT
);
CREATE INDEX report_row_domain_time ON report_row (policy_domain, time);
CREATE INDEX report_row_time ON report_row (time);
CREATE TABLE report_sent (
	policy_domain TEXT NOT NULL,
	period_begin BIGINT NOT NULL,
	period_end BIGINT NOT NULL,
	report_id TEXT NOT NULL,
	sent_at BIGINT NOT NULL,
	PRIMARY KEY (policy_domain, period_begin, period_end)
);

-- migration 2
CREATE TABLE failure_report (
	id BIGSERIAL PRIMARY KEY,
	time BIGINT NOT NULL,
	source_ip TEXT NOT NULL,
	policy_domain TEXT NOT NULL,
	header_from TEXT NOT NULL,
	mail_from TEXT NOT NULL,
	ruf TEXT NOT NULL,
	fo TEXT,
	identity_alignment TEXT NOT NULL,
	delivery_result TEXT NOT NULL,
	dkim_domain TEXT, dkim_selector TEXT, dkim_identity TEXT,
	spf_domain TEXT,
	authres TEXT NOT NULL,
	headers TEXT NOT NULL,
	sent_at BIGINT
);
CREATE INDEX failure_report_pending ON failure_report (sent_at, id);
CREATE INDEX failure_report_domain ON failure_report (policy_domain, sent_at);
CREATE INDEX failure_report_time ON failure_report (time);
CREATE TABLE failure_rate (
	destination TEXT NOT NULL,
	hour BIGINT NOT NULL,
	count INTEGER NOT NULL,
	PRIMARY KEY (destination, hour)
);
