/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * run_suite: runs SPF conformance manifests (from suite2manifest.py)
 * against lib/spf on zone files (am_dns_zone_new) with test timeouts.
 *
 *   run_suite KNOWN-FAILURES MANIFEST...
 *
 * A test passes when the result is one of the expected ones and, when an
 * explanation is expected, the result is fail with exactly that
 * explanation (the default explanation is "DEFAULT"). Prints per-scenario
 * and per-suite counts. Exit status 1 when a test fails that is not in
 * KNOWN-FAILURES, or when a listed test passes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "manifest.h"
#include "spf.h"
#include "testdns.h"

struct run {
	const char *suite;
	struct am_dns *dns;
	struct testdns *rules;
	int pass, total, spass, stotal, known, bad;
	struct mf_known *k;
	size_t nk;
	char scenario[256];
};

/* Record one test outcome against the known failures. */
static void
outcome(struct run *r, const char *id, int ok, const char *detail)
{
	struct mf_known *kf = mf_known_find(r->k, r->nk, r->suite, id);

	r->stotal++;
	r->spass += ok;
	if (kf != NULL)
		kf->seen = 1;
	if (ok && kf != NULL) {
		printf("UNEXPECTED PASS %s:%s (listed: %s)\n", r->suite, id,
		    kf->reason);
		r->bad++;
	} else if (!ok && kf != NULL) {
		printf("known failure %s:%s: %s\n   %s\n", r->suite, id,
		    kf->reason, detail);
		r->known++;
	} else if (!ok) {
		printf("FAIL %s:%s: %s\n", r->suite, id, detail);
		r->bad++;
	}
}

static enum am_spf_result
run_check(struct run *r, const char *mode, struct am_spf_request *q,
    struct am_spf_response *resp)
{
	enum am_spf_result res;

	if (strcmp(mode, "stalwart") != 0)
		return am_spf_mailfrom(r->dns, q, resp);
	q->receiver = "localdomain.org";
	res = am_spf_helo(r->dns, q, resp);
	if (res != AM_SPF_PASS || *q->sender == '\0')
		return res;
	return am_spf_mailfrom(r->dns, q, resp);
}

/* test ID MODE HOST HELO MAILFROM RESULTS EXP */
static void
do_test(struct run *r, const struct mf_line *l)
{
	struct am_spf_request q;
	struct am_spf_response resp;
	const char *want = mf_field(l, 6), *exp = mf_field(l, 7);
	char detail[2048];
	int ok;

	memset(&q, 0, sizeof(q));
	if (am_addr_parse(&q.ip, mf_field(l, 3)) != 0) {
		outcome(r, mf_field(l, 1), 0, "bad host address in test");
		return;
	}
	q.helo = mf_field(l, 4);
	q.sender = mf_field(l, 5);
	q.default_exp = "DEFAULT";
	am_spf_response_init(&resp);
	run_check(r, mf_field(l, 2), &q, &resp);
	ok = mf_list_has(want, am_spf_result_name(resp.result));
	if (ok && exp[0] == '=')
		ok = resp.result == AM_SPF_FAIL &&
		    strcmp(am_buf_str(&resp.explanation), exp + 1) == 0;
	snprintf(detail, sizeof(detail), "got %s (%s) exp '%s'; want %s%s%s%s",
	    am_spf_result_name(resp.result), am_buf_str(&resp.reason),
	    am_buf_str(&resp.explanation), want, exp[0] ? " exp '" : "",
	    exp[0] ? exp + 1 : "", exp[0] ? "'" : "");
	outcome(r, mf_field(l, 1), ok, detail);
	am_spf_response_release(&resp);
}

/* macro ID IP SENDER DOMAIN SPEC EXPECTED CASE */
static void
do_macro(struct run *r, const struct mf_line *l)
{
	struct am_spf_request q;
	struct am_buf out = AM_BUF_INIT(AM_SPF_EXPAND_MAX);
	struct am_buf why = AM_BUF_INIT(256);
	const char *spec = mf_field(l, 5), *want = mf_field(l, 6);
	char detail[1024];
	int ok;

	memset(&q, 0, sizeof(q));
	(void)am_addr_parse(&q.ip, mf_field(l, 2));
	q.sender = mf_field(l, 3);
	ok = am_spf_macro_expand(NULL, spec, strlen(spec), &q, mf_field(l, 4),
	    0, &out, &why) == 0;
	ok = ok && (strcmp(mf_field(l, 7), "i") == 0 ?
	    strcasecmp(am_buf_str(&out), want) :
	    strcmp(am_buf_str(&out), want)) == 0;
	snprintf(detail, sizeof(detail), "%s: got '%s'%s%s, want '%s'", spec,
	    am_buf_str(&out), why.len ? " error " : "", am_buf_str(&why), want);
	outcome(r, mf_field(l, 1), ok, detail);
	am_buf_release(&out);
	am_buf_release(&why);
}

static int
do_zone(struct run *r, const char *path)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_dns *z;

	r->dns = am_dns_free(r->dns);
	r->rules = NULL;
	if ((z = am_dns_zone_new(&path, 1, &why)) == NULL) {
		printf("FAIL %s: zone %s: %s\n", r->suite, path,
		    am_buf_str(&why));
		r->bad++;
	} else
		r->dns = testdns_new(z, &r->rules);
	am_buf_release(&why);
	return r->dns != NULL ? 0 : -1;
}

static void
end_scenario(struct run *r)
{
	if (r->stotal > 0)
		printf("  %-52.52s %3d/%d\n", r->scenario, r->spass, r->stotal);
	r->pass += r->spass;
	r->total += r->stotal;
	r->spass = r->stotal = 0;
	r->dns = am_dns_free(r->dns);
	r->rules = NULL;
}

static void
do_line(struct run *r, const struct mf_line *l, char *suite, size_t slen)
{
	const char *k = l->f[0];

	if (strcmp(k, "suite") == 0) {
		snprintf(suite, slen, "%s", mf_field(l, 1));
		r->suite = suite;
	} else if (strcmp(k, "scenario") == 0)
		snprintf(r->scenario, sizeof(r->scenario), "%s",
		    mf_field(l, 1));
	else if (strcmp(k, "zone") == 0)
		(void)do_zone(r, mf_field(l, 1));
	else if (strcmp(k, "tmo") == 0 && r->rules != NULL)
		testdns_timeout(r->rules, mf_field(l, 1), mf_field(l, 2));
	else if (strcmp(k, "errsub") == 0 && r->rules != NULL)
		testdns_errsub(r->rules, mf_field(l, 1));
	else if (strcmp(k, "test") == 0 && r->dns != NULL)
		do_test(r, l);
	else if (strcmp(k, "macro") == 0)
		do_macro(r, l);
	else if (strcmp(k, "end") == 0)
		end_scenario(r);
}

static void
run_manifest(struct run *r, const char *path)
{
	struct mf_line l;
	char suite[128] = "?";
	FILE *fp;

	memset(&l, 0, sizeof(l));
	r->suite = suite;
	r->pass = r->total = r->known = 0;
	if ((fp = fopen(path, "r")) == NULL) {
		printf("FAIL cannot open %s\n", path);
		r->bad++;
		return;
	}
	while (mf_next(fp, &l) == 0)
		do_line(r, &l, suite, sizeof(suite));
	end_scenario(r);
	mf_clear(&l);
	fclose(fp);
	printf("%s: %d/%d passed", suite, r->pass, r->total);
	if (r->known > 0)
		printf(" (%d known failures, listed in known-failures)",
		    r->known);
	printf("\n\n");
}

int
main(int argc, char **argv)
{
	struct run r;
	int i;

	if (argc < 3) {
		fprintf(stderr, "usage: run_suite KNOWN-FAILURES MANIFEST...\n");
		return 2;
	}
	memset(&r, 0, sizeof(r));
	r.k = mf_known_load(argv[1], &r.nk);
	for (i = 2; i < argc; i++)
		run_manifest(&r, argv[i]);
	for (size_t j = 0; j < r.nk; j++)
		if (!r.k[j].seen) {
			printf("STALE known-failures entry %s (no such test)\n",
			    r.k[j].key);
			r.bad++;
		}
	mf_known_free(r.k, r.nk);
	if (r.bad > 0)
		printf("%d unexpected results\n", r.bad);
	return r.bad > 0 ? 1 : 0;
}
