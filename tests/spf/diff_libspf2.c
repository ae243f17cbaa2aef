/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * diff_libspf2: differential test of lib/spf against libspf2 on the valid
 * records of the official suite (tests whose expected result is neither
 * permerror nor temperror).
 *
 *   diff_libspf2 MANIFEST
 *
 * Both evaluate each test on the same data: ours on the zone file behind
 * the test timeout back end, libspf2 on an SPF_dns_zone filled from the
 * manifest's rr/tmo lines. Prints how many agree and lists every
 * difference with a category. A difference is explained when our result
 * is one the suite accepts and libspf2's is not (a libspf2 bug; the
 * category names which one), or when both are acceptable. The program
 * fails on any other difference: one where libspf2 is right and we are
 * wrong, or neither is right.
 */
#define _GNU_SOURCE 1
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <spf2/spf.h>
#include <spf2/spf_dns_zone.h>

#include "manifest.h"
#include "spf.h"
#include "testdns.h"

struct diff {
	struct am_dns *dns;          /* ours */
	struct testdns *rules;
	SPF_dns_server_t *zone;      /* libspf2's */
	SPF_server_t *srv;
	int valid, agree, explained, unexplained;
	char scenario[256];
};

static const char *
spf2_name(SPF_result_t r)
{
	switch (r) {
	case SPF_RESULT_NEUTRAL: return "neutral";
	case SPF_RESULT_PASS: return "pass";
	case SPF_RESULT_FAIL: return "fail";
	case SPF_RESULT_SOFTFAIL: return "softfail";
	case SPF_RESULT_NONE: return "none";
	case SPF_RESULT_TEMPERROR: return "temperror";
	case SPF_RESULT_PERMERROR: return "permerror";
	default: return "invalid";
	}
}

static void
scenario_free(struct diff *d)
{
	if (d->srv != NULL)
		SPF_server_free(d->srv);
	if (d->zone != NULL)
		SPF_dns_free(d->zone);
	d->srv = NULL;
	d->zone = NULL;
	d->dns = am_dns_free(d->dns);
	d->rules = NULL;
}

static void
scenario_new(struct diff *d, const char *zonefile)
{
	struct am_buf why = AM_BUF_INIT(256);
	SPF_response_t *err = NULL;
	struct am_dns *z;

	scenario_free(d);
	if ((z = am_dns_zone_new(&zonefile, 1, &why)) != NULL)
		d->dns = testdns_new(z, &d->rules);
	else
		printf("zone %s: %s\n", zonefile, am_buf_str(&why));
	d->zone = SPF_dns_zone_new(NULL, "suite", 0);
	d->srv = SPF_server_new_dns(d->zone, 0);
	SPF_server_set_explanation(d->srv, "DEFAULT", &err);
	if (err != NULL)
		SPF_response_free(err);
	am_buf_release(&why);
}

static ns_type
spf2_type(const char *t)
{
	switch (testdns_type(t)) {
	case AM_DNS_T_A: return ns_t_a;
	case AM_DNS_T_AAAA: return ns_t_aaaa;
	case AM_DNS_T_MX: return ns_t_mx;
	case AM_DNS_T_PTR: return ns_t_ptr;
	case AM_DNS_T_TXT: return ns_t_txt;
	}
	return ns_t_invalid;    /* CNAME: SPF_dns_zone has none */
}

/* tmo NAME ANSWERED: libspf2 gets TRY_AGAIN for the other types. */
static void
add_timeout(struct diff *d, const char *name, const char *answered)
{
	static const char *const all[] = { "A", "AAAA", "MX", "PTR", "TXT" };
	size_t i;

	testdns_timeout(d->rules, name, answered);
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!mf_list_has(answered, all[i]))
			SPF_dns_zone_add_str(d->zone, name, spf2_type(all[i]),
			    TRY_AGAIN, NULL);
}

static void
add_rr(struct diff *d, const char *name, const char *type, const char *data)
{
	ns_type t = spf2_type(type);

	if (t != ns_t_invalid)
		(void)SPF_dns_zone_add_str(d->zone, name, t, NETDB_SUCCESS,
		    data);
}

/* libspf2's result and explanation for one test. */
static SPF_result_t
run_spf2(struct diff *d, const char *host, const char *helo,
    const char *from, char *exp, size_t explen)
{
	SPF_request_t *q = SPF_request_new(d->srv);
	SPF_response_t *r = NULL;
	SPF_result_t res = SPF_RESULT_INVALID;
	const char *e;

	exp[0] = '\0';
	if (strchr(host, ':') != NULL)
		SPF_request_set_ipv6_str(q, host);
	else
		SPF_request_set_ipv4_str(q, host);
	SPF_request_set_helo_dom(q, helo);
	if (*from != '\0')
		SPF_request_set_env_from(q, from);
	SPF_request_query_mailfrom(q, &r);
	if (r != NULL) {
		res = SPF_response_result(r);
		if ((e = SPF_response_get_explanation(r)) != NULL)
			snprintf(exp, explen, "%s", e);
		SPF_response_free(r);
	}
	SPF_request_free(q);
	return res;
}

/* Tests whose cause the generic rules below would misname. */
static const struct {
	const char *id, *why;
} causes[] = {
	{ "modifier-charset-good", "unknown-modifier names with '.' '-' '_' "
	    "rejected (s.12 name)" },
	{ "redirect-after-mechanisms2", "unknown-modifier names with '.' '-' "
	    "'_' rejected (s.12 name)" },
	{ "redirect-after-mechanisms1", "redirect not ignored when 'all' "
	    "matches first (s.6.1)" },
	{ "a-nxdomain", "/0 or dual-cidr prefixes rejected" },
	{ "mx-nxdomain", "/0 or dual-cidr prefixes rejected" },
	{ "ptr-limit", "PTR names beyond 10 give permerror instead of being "
	    "ignored (s.4.6.4)" },
	{ "cname-aliasing", "test harness: SPF_dns_zone cannot hold CNAME "
	    "records, so libspf2 sees no record at the alias" },
};

/* The libspf2 bug a test shows, from what it exercises. */
static const char *
category(const struct mf_line *l, int results_equal)
{
	const char *id = mf_field(l, 1), *host = mf_field(l, 3);
	size_t i;

	for (i = 0; i < sizeof(causes) / sizeof(causes[0]); i++)
		if (strcmp(causes[i].id, id) == 0)
			return causes[i].why;
	if (results_equal)
		return "explanation expansion broken";
	if (strcasestr(host, "::ffff:") != NULL || strstr(id, "ip4mapped"))
		return "IPv4-mapped clients mishandled";
	if (strstr(id, "-0") != NULL || strstr(id, "cidr"))
		return "/0 or dual-cidr prefixes rejected";
	if (strstr(id, "label") != NULL)
		return "over-long labels";
	if (strstr(id, "exp") != NULL || mf_field(l, 7)[0] == '=')
		return "explanation expansion broken";
	if (strstr(id, "limit") != NULL || strstr(id, "void") != NULL)
		return "processing limits";
	return "other libspf2 deviation from RFC 7208 (we match the suite)";
}

/* test ID MODE HOST HELO MAILFROM RESULTS EXP */
static void
do_test(struct diff *d, const struct mf_line *l)
{
	struct am_spf_request q;
	struct am_spf_response r;
	const char *want = mf_field(l, 6), *exp = mf_field(l, 7), *ours, *cat;
	char theirs_exp[1024];
	int ours_ok, theirs_ok, same;
	SPF_result_t theirs;

	if (mf_list_has(want, "permerror") || mf_list_has(want, "temperror"))
		return;
	d->valid++;
	memset(&q, 0, sizeof(q));
	(void)am_addr_parse(&q.ip, mf_field(l, 3));
	q.helo = mf_field(l, 4);
	q.sender = mf_field(l, 5);
	q.default_exp = "DEFAULT";
	am_spf_response_init(&r);
	ours = am_spf_result_name(am_spf_mailfrom(d->dns, &q, &r));
	theirs = run_spf2(d, mf_field(l, 3), q.helo, q.sender, theirs_exp,
	    sizeof(theirs_exp));
	same = strcmp(ours, spf2_name(theirs)) == 0;
	ours_ok = mf_list_has(want, ours) && (exp[0] != '=' ||
	    strcmp(am_buf_str(&r.explanation), exp + 1) == 0);
	theirs_ok = mf_list_has(want, spf2_name(theirs)) && (exp[0] != '=' ||
	    strcmp(theirs_exp, exp + 1) == 0);
	if (same && (exp[0] != '=' || ours_ok == theirs_ok)) {
		d->agree++;
		am_spf_response_release(&r);
		return;
	}
	if (ours_ok && theirs_ok)
		cat = "both acceptable to the suite";
	else if (ours_ok)
		cat = category(l, same);
	else
		cat = "UNEXPLAINED (we differ from the suite)";
	printf("  %-28s ours %s%s%s%s libspf2 %s%s%s%s: %s\n", mf_field(l, 1),
	    ours, exp[0] ? " '" : "", exp[0] ? am_buf_str(&r.explanation) : "",
	    exp[0] ? "'" : "", spf2_name(theirs), exp[0] ? " '" : "",
	    exp[0] ? theirs_exp : "", exp[0] ? "'" : "", cat);
	if (ours_ok)
		d->explained++;
	else
		d->unexplained++;
	am_spf_response_release(&r);
}

static void
do_line(struct diff *d, const struct mf_line *l)
{
	const char *k = l->f[0];

	if (strcmp(k, "zone") == 0)
		scenario_new(d, mf_field(l, 1));
	else if (strcmp(k, "tmo") == 0 && d->rules != NULL)
		add_timeout(d, mf_field(l, 1), mf_field(l, 2));
	else if (strcmp(k, "rr") == 0 && d->zone != NULL)
		add_rr(d, mf_field(l, 1), mf_field(l, 2), mf_field(l, 3));
	else if (strcmp(k, "test") == 0 && d->dns != NULL)
		do_test(d, l);
	else if (strcmp(k, "end") == 0)
		scenario_free(d);
}

int
main(int argc, char **argv)
{
	struct mf_line l;
	struct diff d;
	FILE *fp;

	if (argc != 2 || (fp = fopen(argv[1], "r")) == NULL) {
		fprintf(stderr, "usage: diff_libspf2 MANIFEST\n");
		return 2;
	}
	memset(&d, 0, sizeof(d));
	memset(&l, 0, sizeof(l));
	printf("differences (ours vs libspf2 %d.%d.%d):\n",
	    SPF_LIB_VERSION_MAJOR, SPF_LIB_VERSION_MINOR, SPF_LIB_VERSION_PATCH);
	while (mf_next(fp, &l) == 0)
		do_line(&d, &l);
	scenario_free(&d);
	mf_clear(&l);
	fclose(fp);
	printf("libspf2 differential: %d tests with valid records, %d agree, "
	    "%d differ (%d explained by libspf2 bugs, %d unexplained)\n",
	    d.valid, d.agree, d.explained + d.unexplained, d.explained,
	    d.unexplained);
	return d.unexplained > 0 ? 1 : 0;
}
