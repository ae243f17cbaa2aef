/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_util: store set-up shared by the report unit tests. See
 * report_util.h.
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

#include "report_util.h"

void
tmpdb_new(struct tmpdb *t, const char *name)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/am-test-%s-XXXXXX", name);
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/reports.db", t->dir);
	snprintf(t->spec, sizeof(t->spec), "sqlite:%s", t->path);
}

void
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

struct am_report_store *
store_open_ok(const char *spec)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_store *s = am_report_store_open(spec, &why);

	if (s == NULL)
		fail_msg("open %s: %s", spec, am_buf_str(&why));
	am_buf_release(&why);
	return s;
}

int
store_insert(struct am_report_store *s, const struct am_report_row *rows,
    size_t n, struct am_buf *why)
{
	struct am_report_row **c = calloc(n, sizeof(*c));
	size_t i;
	int rc;

	assert_non_null(c);
	for (i = 0; i < n; i++)
		assert_non_null(c[i] = am_report_row_copy(&rows[i]));
	rc = s->ops->insert(s->state, c, n, why);
	for (i = 0; i < n; i++)
		am_report_row_free(c[i]);
	free(c);
	return rc;
}

void
store_insert_ok(struct am_report_store *s, const struct am_report_row *rows,
    size_t n)
{
	struct am_buf why = AM_BUF_INIT(512);

	if (store_insert(s, rows, n, &why) != 0)
		fail_msg("insert: %s", am_buf_str(&why));
	am_buf_release(&why);
}

void
report_row_init(struct am_report_row *r, int64_t t, const char *ip,
    const char *dom)
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
	r->dmarc = AM_REPORT_DMARC_PASS;
	r->dkim_aligned = AM_REPORT_DMARC_PASS;
	r->disposition = AM_REPORT_DISP_PASS;
	r->spf_domain = dom;
	r->spf_result = AM_REPORT_SPF_PASS;
}
