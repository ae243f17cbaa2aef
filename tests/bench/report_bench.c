/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_bench: report generation at scale (run by hand, not a test).
 *
 *   report_bench ROWS DOMAINS DBFILE
 *
 * Inserts ROWS report rows spread over DOMAINS policy domains (50 source
 * IPs each, a mix of pass/fail, two DKIM results per row) into a new
 * SQLite store in batches of 500, then writes the XML report of every
 * domain for the day (am_report_xml_write, output counted and dropped).
 * Prints the time of each phase and the peak resident set size after
 * each: run it with 100000 and 1000000 rows to see that the generation's
 * memory does not grow with the row count (each report streams).
 * ROWS 0 keeps DBFILE as it is and only generates, so the peak RSS is
 * the generation's alone.
 *
 *   report_bench --submit ROWS [DBFILE]
 *
 * The daemon's side: ROWS am_report_submit() calls from one thread into a
 * reporter whose store discards (no DBFILE) or is a new SQLite file;
 * prints the wall time per call and the process CPU per row (the writer
 * thread's inserts included), i.e. what reporting adds per message.
 */
#include <sys/resource.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report.h"
#include "report_store.h"
#include "report_xml.h"

#define DAY 86400
#define T0 (1700000000 - 1700000000 % DAY)

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
maxrss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static int
count_out(void *arg, const void *p, size_t n)
{
	(void)p;
	*(unsigned long long *)arg += n;
	return 0;
}

static int
discard(void *state, struct am_report_row *const *rows, size_t n,
    struct am_buf *why)
{
	(void)state;
	(void)rows;
	(void)n;
	(void)why;
	return 0;
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* --submit: cost of am_report_submit() and of the writer per row. */
static int
submit_bench(unsigned long long rows, const char *db)
{
	static const struct am_report_sink null_sink = { "discard", discard,
	    NULL };
	static const char *const rua[] = { "mailto:dmarc@example.com" };
	struct am_buf why = AM_BUF_INIT(512);
	struct am_reporter_opts o;
	struct am_report_stats st;
	struct am_reporter *r;
	struct am_report_row row;
	struct am_report_dkim d[2];
	char spec[4200];
	unsigned long long i;
	double t, c;

	memset(&o, 0, sizeof(o));
	o.queue_max = 100000;
	if (db != NULL) {
		unlink(db);
		snprintf(spec, sizeof(spec), "sqlite:%s", db);
		r = am_reporter_open(spec, &o, &why);
	} else {
		r = am_reporter_new(&null_sink, NULL, &o, &why);
	}
	if (r == NULL)
		return fprintf(stderr, "%s\n", am_buf_str(&why)), 1;
	memset(&row, 0, sizeof(row));
	row.source_ip = "2001:db8:1234::25";
	row.policy_domain = row.header_from = row.envelope_from = "example.com";
	row.envelope_to = "mx.example.net";
	row.p = AM_REPORT_P_REJECT;
	row.adkim = row.aspf = 'r';
	row.testing = 'n';
	row.rua = rua;
	row.nrua = 1;
	d[0] = (struct am_report_dkim){ "example.com", "s2026",
	    AM_REPORT_DKIM_PASS, NULL, 1 };
	d[1] = (struct am_report_dkim){ "esp.example", "k1",
	    AM_REPORT_DKIM_FAIL, "body hash mismatch", 0 };
	row.dkim = d;
	row.ndkim = 2;
	row.spf_domain = "example.com";
	row.spf_result = AM_REPORT_SPF_PASS;
	t = now_s();
	c = cpu_s();
	for (i = 0; i < rows; i++) {
		row.time = T0 + (int64_t)(i % DAY);
		am_report_submit(r, &row);
	}
	printf("submit: %.2f us per call (wall, caller thread)\n",
	    (now_s() - t) * 1e6 / (double)rows);
	am_reporter_flush(r);
	am_reporter_stats(r, &st);
	printf("%s: %llu committed, %llu dropped (queue full), %.2f us CPU "
	    "per row in all threads, %.1f s wall\n", db != NULL ? "sqlite" :
	    "discard", (unsigned long long)st.committed,
	    (unsigned long long)st.dropped_full, (cpu_s() - c) * 1e6 /
	    (double)rows, now_s() - t);
	am_reporter_free(r);
	am_buf_release(&why);
	return 0;
}

int
main(int argc, char **argv)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_row r, *batch[500];
	struct am_report_dkim d[2];
	struct am_report_store *s;
	struct am_report_meta m;
	unsigned long long rows, ndom, i, bytes = 0;
	char spec[4200], dom[64], ip[32], id[AM_REPORT_ID_LEN + 1];
	size_t n = 0;
	double t;

	if (argc >= 3 && strcmp(argv[1], "--submit") == 0)
		return submit_bench(strtoull(argv[2], NULL, 10),
		    argc > 3 ? argv[3] : NULL);
	if (argc != 4)
		return fprintf(stderr, "usage: report_bench ROWS DOMAINS DBFILE\n"
		    "       report_bench --submit ROWS [DBFILE]\n"), 2;
	rows = strtoull(argv[1], NULL, 10);
	ndom = strtoull(argv[2], NULL, 10);
	if (rows > 0)
		unlink(argv[3]);
	snprintf(spec, sizeof(spec), "sqlite:%s", argv[3]);
	if ((s = am_report_store_open(spec, &why)) == NULL)
		return fprintf(stderr, "%s\n", am_buf_str(&why)), 1;
	t = now_s();
	for (i = 0; i < rows; i++) {
		snprintf(dom, sizeof(dom), "d%llu.example", i % ndom);
		snprintf(ip, sizeof(ip), "192.0.2.%llu", (i / ndom) % 50);
		memset(&r, 0, sizeof(r));
		r.time = T0 + (int64_t)(i % DAY);
		r.source_ip = ip;
		r.policy_domain = r.header_from = r.envelope_from = dom;
		r.p = AM_REPORT_P_REJECT;
		r.adkim = r.aspf = 'r';
		r.testing = 'n';
		r.dmarc = r.dkim_aligned = (i % 7) ? AM_REPORT_DMARC_PASS :
		    AM_REPORT_DMARC_FAIL;
		r.disposition = (i % 7) ? AM_REPORT_DISP_PASS :
		    AM_REPORT_DISP_REJECT;
		d[0] = (struct am_report_dkim){ dom, "s2026", (i % 7) ?
		    AM_REPORT_DKIM_PASS : AM_REPORT_DKIM_FAIL, NULL, 1 };
		d[1] = (struct am_report_dkim){ "esp.example", "k1",
		    AM_REPORT_DKIM_PASS, NULL, 0 };
		r.dkim = d;
		r.ndkim = 2;
		r.spf_domain = dom;
		r.spf_result = AM_REPORT_SPF_PASS;
		batch[n++] = am_report_row_copy(&r);
		if (n == 500 || i + 1 == rows) {
			if (s->ops->insert(s->state, batch, n, &why) != 0)
				return fprintf(stderr, "%s\n", am_buf_str(&why)), 1;
			while (n > 0)
				am_report_row_free(batch[--n]);
		}
	}
	printf("insert: %llu rows in %.1f s (%.0f rows/s), max RSS %ld KB\n",
	    rows, now_s() - t, (double)rows / (now_s() - t), maxrss_kb());
	t = now_s();
	memset(&m, 0, sizeof(m));
	m.org_name = "bench";
	m.email = "r@example.net";
	m.report_id = id;
	m.begin = T0;
	m.end = T0 + DAY - 1;
	for (i = 0; i < ndom; i++) {
		snprintf(dom, sizeof(dom), "d%llu.example", i);
		am_report_id("mx.example.net", dom, m.begin, m.end, id);
		if (am_report_xml_write(s, &m, dom, count_out, &bytes, &why) != 0)
			return fprintf(stderr, "%s: %s\n", dom, am_buf_str(&why)), 1;
	}
	printf("reports: %llu domains in %.1f s, %llu bytes of XML, "
	    "max RSS %ld KB\n", ndom, now_s() - t, bytes, maxrss_kb());
	am_report_store_close(s);
	am_buf_release(&why);
	return 0;
}
