/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hostile_rows STORE DOMAIN TIME: records two rows for policy DOMAIN at
 * TIME through the recording path the daemon's writer uses
 * (am_report_row_copy, then the store's insert), filled with what Postfix
 * refuses to carry and so tests/e2e/test_reports_dest.sh cannot send as
 * mail: XML metacharacters and control characters in the From, envelope
 * and SPF domains and the source IP, 1,000-byte names, invalid UTF-8, and
 * a rua of 2,000 URIs (10 not mailto). Prints nothing; exits 0 when both
 * rows are stored, 1 with the reason otherwise.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "report_store.h"

#define NURI 2000

static char *
long_name(int fill, const char *tail)
{
	char *s = malloc(1001 + strlen(tail));
	int i;

	if (s == NULL)
		exit(1);
	for (i = 0; i < 1000; i++)
		s[i] = i % 50 == 7 ? '\x01' : i % 50 == 9 ? '<' :
		    i % 50 == 11 ? '&' : (char)fill;
	strcpy(s + 1000, tail);
	return s;
}

int
main(int argc, char **argv)
{
	static char uribuf[NURI][64];
	const char *uris[NURI];
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_store *st;
	struct am_report_row r[2], *c[2] = { NULL, NULL };
	struct am_report_dkim d[3];
	struct am_report_override_reason ovr[1];
	char *big_from, *big_sel, *big_spf;
	int i, rc = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: hostile_rows STORE DOMAIN TIME\n");
		return 2;
	}
	for (i = 0; i < NURI; i++) {
		snprintf(uribuf[i], sizeof(uribuf[i]), i < 10 ?
		    "https://h%d.example/x" : "mailto:r%d@%s", i, argv[2]);
		uris[i] = uribuf[i];
	}
	big_from = long_name('f', ".example");
	big_sel = long_name('s', "");
	big_spf = long_name('p', ".example");
	memset(r, 0, sizeof(r));
	r[0].time = strtoll(argv[3], NULL, 10);
	r[0].source_ip = "192.0.2.1\"><x>";
	r[0].policy_domain = argv[2];
	r[0].header_from = "ev<il>&\"'.example\x02\x7f";
	r[0].envelope_from = big_from;
	r[0].envelope_to = "\xff\xfe" "to.example";
	r[0].p = AM_REPORT_P_NONE;
	r[0].adkim = r[0].aspf = 'r';
	r[0].testing = 'n';
	r[0].fo = "0:1<d>";
	r[0].rua = uris;
	r[0].nrua = NURI;
	d[0] = (struct am_report_dkim){ big_from, big_sel, AM_REPORT_DKIM_FAIL,
	    big_sel, 0 };
	d[1] = (struct am_report_dkim){ "]]>", "<sel>&'\"\x1b[0m",
	    AM_REPORT_DKIM_PERMERROR, "line1\nline2\r", 0 };
	d[2] = (struct am_report_dkim){ "ok.example", "s\x01", AM_REPORT_DKIM_PASS,
	    "</human_result><script>", 1 };
	r[0].dkim = d;
	r[0].ndkim = 3;
	ovr[0] = (struct am_report_override_reason){ AM_REPORT_OVR_LOCAL_POLICY,
	    "<!-- x --> ]]> &amp;" };
	r[0].reasons = ovr;
	r[0].nreasons = 1;
	r[0].spf_domain = big_spf;
	r[0].spf_human = "<![CDATA[x]]>";
	r[1] = r[0];
	r[1].source_ip = "2001:db8::<&>";
	r[1].header_from = long_name('h', ".example");
	if ((st = am_report_store_open(argv[1], &why)) == NULL) {
		fprintf(stderr, "hostile_rows: %s\n", am_buf_str(&why));
		return 1;
	}
	for (i = 0; i < 2 && rc == 0; i++)
		if ((c[i] = am_report_row_copy(&r[i])) == NULL)
			rc = -1;
	if (rc == 0 && st->ops->insert(st->state, c, 2, &why) != 0)
		rc = -1;
	if (rc != 0)
		fprintf(stderr, "hostile_rows: %s\n", why.len > 0 ?
		    am_buf_str(&why) : "out of memory");
	for (i = 0; i < 2; i++)
		am_report_row_free(c[i]);
	am_report_store_close(st);
	am_buf_release(&why);
	free(big_from);
	free(big_sel);
	free(big_spf);
	free((void *)(uintptr_t)r[1].header_from);
	return rc == 0 ? 0 : 1;
}
