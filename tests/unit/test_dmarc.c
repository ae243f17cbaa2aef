/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_dmarc: DMARC records, discovery, alignment and policy (lib/dmarc*.c).
 *
 * - the record parser: a table of TXT strings (RFC 9989 s.4.7, s.4.8,
 *   s.4.10.1), and libopendmarc 1.4.2 as a second opinion on the p, sp,
 *   pct, adkim and aspf of well-formed records;
 * - evaluation: a table of named cases over tests/dmarc/walk.zone (loaded
 *   with am_dns_zone_new) behind a test back end that fails some names
 *   (TEMPFAIL) and counts queries: tree walks (deep names, psd=y, psd=n,
 *   records at several levels), RFC 7489 mode with the PSL, alignment
 *   modes, p/sp/np (NXDOMAIN vs NODATA), t=y and pct;
 * - the A-R text and the public am_dmarc_org_domain().
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <opendmarc/dmarc.h>

#include "amconfig.h"
#include "dmarc.h"

#ifndef AM_DEFAULT_PSL
#define AM_DEFAULT_PSL "/usr/share/publicsuffix/public_suffix_list.dat"
#endif

/* ---- records ---- */

struct rcase {
	const char *name;
	const char *txt;
	int dmarc, usable;
	enum am_dmarc_policy p, sp, np;
	const char *flags;   /* adkim aspf psd t, e.g. "rruN" (t upper) */
	int pct;
};

#define UN AM_DMARC_P_UNSET
#define NO AM_DMARC_P_NONE
#define QU AM_DMARC_P_QUARANTINE
#define RE AM_DMARC_P_REJECT

static const struct rcase records[] = {
	{ "minimal", "v=DMARC1; p=reject", 1, 1, RE, UN, UN, "rrun", 100 },
	{ "all tags", "v=DMARC1; p=quarantine; sp=none; np=reject; "
	  "adkim=s; aspf=s; psd=n; t=y; pct=50; rua=mailto:a@b.example; "
	  "ruf=mailto:c@d.example; fo=1", 1, 1, QU, NO, RE, "ssny", 50 },
	{ "spaces", "v = DMARC1 ;p = none ; sp=reject  ;", 1, 1, NO, RE, UN,
	  "rrun", 100 },
	{ "upper-case tag and value", "V=DMARC1; P=REJECT; ADKIM=S", 1, 1,
	  RE, UN, UN, "srun", 100 },
	{ "version value case", "v=dmarc1; p=reject", 0, 0, UN, UN, UN,
	  "rrun", 100 },
	{ "v not first", "p=reject; v=DMARC1", 0, 0, UN, UN, UN, "rrun", 100 },
	{ "leading space", " v=DMARC1; p=reject", 0, 0, UN, UN, UN, "rrun",
	  100 },
	{ "DMARC10", "v=DMARC10; p=reject", 0, 0, UN, UN, UN, "rrun", 100 },
	{ "spf record", "v=spf1 -all", 0, 0, UN, UN, UN, "rrun", 100 },
	{ "empty", "", 0, 0, UN, UN, UN, "rrun", 100 },
	{ "version only", "v=DMARC1", 1, 0, NO, UN, UN, "rrun", 100 },
	{ "no p, rua", "v=DMARC1; rua=mailto:x@y.example", 1, 1, NO, UN, UN,
	  "rrun", 100 },
	{ "bad p, no rua", "v=DMARC1; p=bogus", 1, 0, NO, UN, UN, "rrun",
	  100 },
	{ "bad sp, rua", "v=DMARC1; p=reject; sp=x; rua=mailto:a@b.c", 1, 1,
	  NO, UN, UN, "rrun", 100 },
	{ "bad np, no rua", "v=DMARC1; p=reject; np=", 1, 0, NO, UN, UN,
	  "rrun", 100 },
	{ "rua without scheme", "v=DMARC1; rua=a@b.example", 1, 0, NO, UN,
	  UN, "rrun", 100 },
	{ "rua second valid", "v=DMARC1; rua=bad, mailto:a@b.example!10m",
	  1, 1, NO, UN, UN, "rrun", 100 },
	{ "bad adkim defaults", "v=DMARC1; p=none; adkim=x; aspf=strict", 1,
	  1, NO, UN, UN, "rrun", 100 },
	{ "bad psd and t default", "v=DMARC1; p=none; psd=maybe; t=1", 1, 1,
	  NO, UN, UN, "rrun", 100 },
	{ "bad pct defaults", "v=DMARC1; p=none; pct=200", 1, 1, NO, UN, UN,
	  "rrun", 100 },
	{ "pct 0", "v=DMARC1; p=reject; pct=0", 1, 1, RE, UN, UN, "rrun", 0 },
	{ "first tag wins", "v=DMARC1; p=none; p=reject", 1, 1, NO, UN, UN,
	  "rrun", 100 },
	{ "unknown tags ignored", "v=DMARC1; p=reject; foo=bar; rf=afrf; "
	  "ri=86400", 1, 1, RE, UN, UN, "rrun", 100 },
	{ "garbage element ignored", "v=DMARC1; p=reject; ;;; =x; y", 1, 1,
	  RE, UN, UN, "rrun", 100 },
	{ "control byte in value", "v=DMARC1; p=re\x01ject; rua=mailto:a@b",
	  1, 1, NO, UN, UN, "rrun", 100 },
	{ "psd y", "v=DMARC1; p=reject; psd=y", 1, 1, RE, UN, UN, "rryn",
	  100 },
	{ "psd u", "v=DMARC1; p=reject; psd=u", 1, 1, RE, UN, UN, "rrun",
	  100 },
};

static void
test_records(void **state)
{
	struct am_dmarc_record r;
	size_t i, bad = 0, n = sizeof(records) / sizeof(records[0]);
	char flags[5];
	int d;

	(void)state;
	for (i = 0; i < n; i++) {
		const struct rcase *c = &records[i];

		d = am_dmarc_record_parse(c->txt, strlen(c->txt), &r);
		snprintf(flags, sizeof(flags), "%c%c%c%c", r.adkim, r.aspf,
		    r.psd, r.t);
		if (d != c->dmarc || (d && (r.usable != c->usable ||
		    r.p != c->p || r.sp != c->sp || r.np != c->np ||
		    strcmp(flags, c->flags) != 0 || r.pct != c->pct))) {
			printf("FAIL record %s: got dmarc=%d usable=%d p=%d "
			    "sp=%d np=%d %s pct=%d, want %d %d %d %d %d %s "
			    "%d\n", c->name, d, r.usable, r.p, r.sp, r.np,
			    flags, r.pct, c->dmarc, c->usable, c->p, c->sp,
			    c->np, c->flags, c->pct);
			bad++;
		}
	}
	printf("record table: %zu/%zu pass\n", n - bad, n);
	assert_int_equal(bad, 0);
}

/* Map libopendmarc's p/sp letters to ours. */
static enum am_dmarc_policy
od_policy(int c)
{
	return c == DMARC_RECORD_P_NONE ? NO : c == DMARC_RECORD_P_QUARANTINE ?
	    QU : c == DMARC_RECORD_P_REJECT ? RE : UN;
}

/* libopendmarc agrees with us on well-formed records. */
static void
test_records_opendmarc(void **state)
{
	static const char *const good[] = {
		"v=DMARC1; p=reject",
		"v=DMARC1; p=none; sp=quarantine; adkim=s",
		"v=DMARC1; p=quarantine; aspf=s; pct=20",
		"v=DMARC1; p=reject; sp=none; pct=0; rua=mailto:a@b.example",
		"v=DMARC1;p=none;np=reject;psd=y;t=y",
	};
	OPENDMARC_LIB_T lib;
	struct am_dmarc_record r;
	DMARC_POLICY_T *pctx;
	int p, sp, pct, adkim, aspf;
	size_t i, agree = 0, n = sizeof(good) / sizeof(good[0]);

	(void)state;
	memset(&lib, 0, sizeof(lib));
	lib.tld_type = OPENDMARC_TLD_TYPE_NONE;
	assert_int_equal(opendmarc_policy_library_init(&lib), 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(am_dmarc_record_parse(good[i],
		    strlen(good[i]), &r), 1);
		pctx = opendmarc_policy_connect_init((u_char *)"192.0.2.1", 0);
		assert_non_null(pctx);
		assert_int_equal(opendmarc_policy_store_dmarc(pctx,
		    (u_char *)good[i], (u_char *)"example.com", NULL), 0);
		opendmarc_policy_fetch_p(pctx, &p);
		opendmarc_policy_fetch_sp(pctx, &sp);
		opendmarc_policy_fetch_pct(pctx, &pct);
		opendmarc_policy_fetch_adkim(pctx, &adkim);
		opendmarc_policy_fetch_aspf(pctx, &aspf);
		if (od_policy(p) == r.p && od_policy(sp) == r.sp &&
		    pct == r.pct && adkim == r.adkim && aspf == r.aspf)
			agree++;
		else
			printf("FAIL opendmarc disagrees on \"%s\"\n", good[i]);
		opendmarc_policy_connect_shutdown(pctx);
	}
	opendmarc_policy_library_shutdown(&lib);
	printf("libopendmarc agrees on %zu/%zu well-formed records\n", agree,
	    n);
	assert_int_equal(agree, n);
}

/* ---- a test back end: the zone, some names failing, queries logged ---- */

static const char *const failing[] = {
	"_dmarc.flaky.example", "nx.np.example", "_dmarc.bad.example.com",
};

struct tb {
	struct am_dns *zone;
	char log[2048];
};

static enum am_dns_status
tb_query(void *state, const char *name, int type,
    struct am_dns_answer **ans, struct am_buf *why)
{
	struct tb *t = state;
	size_t i, l = strlen(t->log);

	snprintf(t->log + l, sizeof(t->log) - l, "%s%s", l ? " " : "", name);
	for (i = 0; i < sizeof(failing) / sizeof(failing[0]); i++)
		if (strcasecmp(name, failing[i]) == 0) {
			am_buf_setf(why, "timeout");
			return AM_DNS_TEMPFAIL;
		}
	return am_dns_query(t->zone, name, type, ans, why);
}

static void
tb_close(void *state)
{
	struct tb *t = state;

	am_dns_free(t->zone);
	free(t);
}

static const struct am_dns_backend tb_backend = {
	.name = "dmarc-test", .query = tb_query, .close = tb_close,
};

struct fixture {
	struct am_dns *dns;
	struct tb *tb;
	struct am_psl *psl;
};

static int
setup(void **state)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *path = AM_TOP_SRCDIR "/tests/dmarc/walk.zone";

	if (fx == NULL || (fx->tb = calloc(1, sizeof(*fx->tb))) == NULL)
		return -1;
	fx->tb->zone = am_dns_zone_new(&path, 1, &why);
	if (fx->tb->zone == NULL) {
		printf("zone: %s\n", am_buf_str(&why));
		return -1;
	}
	fx->dns = am_dns_new(&tb_backend, fx->tb);
	fx->psl = am_psl_load(AM_DEFAULT_PSL, AM_PSL_ALL, &why);
	am_buf_release(&why);
	*state = fx;
	return fx->psl != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	am_dns_free(fx->dns);
	am_psl_free(fx->psl);
	free(fx);
	return 0;
}

/* ---- evaluation cases ---- */

#define M9 AM_DMARC_RFC9989
#define M7 AM_DMARC_RFC7489

struct dcase {
	const char *name;
	int mode;
	enum am_from_status fst;
	const char *from;
	enum am_spf_result spf;
	const char *spf_domain;
	const char *dkim;            /* "pass:d fail:d ..." */
	unsigned sample;
	enum am_dmarc_result want;
	const char *policy_domain;   /* NULL: not checked */
	enum am_dmarc_policy dis;
	enum am_dmarc_override ovr;
	const char *aligned;         /* "spf", "dkim", "both", "-"; NULL */
	int queries;                 /* -1: not checked */
	const char *why;             /* substring; NULL: not checked */
};

#define ONE AM_FROM_ONE
#define PASS AM_SPF_PASS
#define SNONE AM_SPF_NONE
#define R_NONE AM_DMARC_NONE
#define R_PASS AM_DMARC_PASS
#define R_FAIL AM_DMARC_FAIL
#define R_TEMP AM_DMARC_TEMPERROR
#define R_PERM AM_DMARC_PERMERROR
#define O_NONE AM_DMARC_OVR_NONE
#define O_TEST AM_DMARC_OVR_TEST_MODE
#define O_SAMP AM_DMARC_OVR_SAMPLED_OUT

static const struct dcase dcases[] = {
	/* policy at the Organizational Domain: p, sp, np */
	{ "p: pass by spf", M9, ONE, "example.com", PASS, "example.com", "",
	  0, R_PASS, "example.com", NO, O_NONE, "spf", 1, NULL },
	{ "p: fail", M9, ONE, "example.com", SNONE, NULL, "", 0, R_FAIL,
	  "example.com", RE, O_NONE, "-", 1, "no aligned" },
	{ "sp: existing subdomain", M9, ONE, "mail.example.com", SNONE, NULL,
	  "", 0, R_FAIL, "example.com", QU, O_NONE, "-", -1, NULL },
	{ "sp: subdomain with TXT only (NODATA)", M9, ONE,
	  "txtonly.example.com", SNONE, NULL, "", 0, R_FAIL, "example.com",
	  QU, O_NONE, "-", -1, NULL },
	{ "np: NXDOMAIN subdomain", M9, ONE, "nx.example.com", SNONE, NULL,
	  "", 0, R_FAIL, "example.com", NO, O_NONE, "-", -1, NULL },
	{ "np: NXDOMAIN, np=quarantine", M9, ONE, "other.np.example", SNONE,
	  NULL, "", 0, R_FAIL, "np.example", QU, O_NONE, "-", -1, NULL },
	/* alignment */
	{ "relaxed dkim: subdomain d=", M9, ONE, "example.com", SNONE, NULL,
	  "pass:a.b.example.com", 0, R_PASS, "example.com", NO, O_NONE,
	  "dkim", -1, NULL },
	{ "relaxed spf: parent domain", M9, ONE, "mail.example.com", PASS,
	  "example.com", "", 0, R_PASS, "example.com", NO, O_NONE, "spf", -1,
	  NULL },
	{ "both aligned", M9, ONE, "example.com", PASS, "mail.example.com",
	  "pass:EXAMPLE.COM", 0, R_PASS, NULL, NO, O_NONE, "both", -1, NULL },
	{ "dkim fail does not align", M9, ONE, "example.com", SNONE, NULL,
	  "fail:example.com", 0, R_FAIL, NULL, RE, O_NONE, "-", -1, NULL },
	{ "unrelated d=: no walk for it", M9, ONE, "example.com", SNONE, NULL,
	  "pass:example.net pass:evil.example", 0, R_FAIL, NULL, RE, O_NONE,
	  "-", 2, NULL },
	{ "spf softfail does not align", M9, ONE, "example.com",
	  AM_SPF_SOFTFAIL, "example.com", "", 0, R_FAIL, NULL, RE, O_NONE,
	  "-", -1, NULL },
	{ "second dkim aligns", M9, ONE, "example.com", SNONE, NULL,
	  "pass:example.org fail:example.com pass:x.example.com", 0, R_PASS,
	  NULL, NO, O_NONE, "dkim", -1, NULL },
	{ "d= with a trailing dot", M9, ONE, "example.com", SNONE, NULL,
	  "pass:example.com.", 0, R_PASS, NULL, NO, O_NONE, "dkim", 1, NULL },
	{ "empty SPF domain", M9, ONE, "example.com", PASS, "", "", 0, R_FAIL,
	  NULL, RE, O_NONE, "-", -1, NULL },
	{ "strict dkim: subdomain fails", M9, ONE, "strict.example", SNONE,
	  NULL, "pass:mail.strict.example", 0, R_FAIL, "strict.example", RE,
	  O_NONE, "-", 1, NULL },
	{ "strict spf: equal, any case", M9, ONE, "strict.example", PASS,
	  "STRICT.Example", "", 0, R_PASS, NULL, NO, O_NONE, "spf", 1, NULL },
	/* tree walk */
	{ "several levels: shortest is org", M9, ONE, "a.sub.multi.example",
	  SNONE, NULL, "", 0, R_FAIL, "multi.example", RE, O_NONE, "-", 4,
	  NULL },
	{ "several levels: own record", M9, ONE, "sub.multi.example", SNONE,
	  NULL, "", 0, R_FAIL, "sub.multi.example", NO, O_NONE, "-", 1, NULL },
	{ "several levels: d= at org aligns", M9, ONE, "sub.multi.example",
	  SNONE, NULL, "pass:multi.example", 0, R_PASS, NULL, NO, O_NONE,
	  "dkim", 3, NULL },
	{ "psd=n: department is org", M9, ONE, "x.dept.corp.example", SNONE,
	  NULL, "", 0, R_FAIL, "dept.corp.example", QU, O_NONE, "-", 2, NULL },
	{ "psd=n: apex d= not aligned", M9, ONE, "x.dept.corp.example",
	  SNONE, NULL, "pass:corp.example", 0, R_FAIL, NULL, QU, O_NONE, "-",
	  -1, NULL },
	{ "psd=n: sibling d= aligned", M9, ONE, "x.dept.corp.example", SNONE,
	  NULL, "pass:y.dept.corp.example", 0, R_PASS, NULL, NO, O_NONE,
	  "dkim", -1, NULL },
	{ "B.4.3: spf aligned, dkim not", M9, ONE, "giant.bank.example", PASS,
	  "mail.giant.bank.example", "pass:mail.mega.bank.example", 0, R_PASS,
	  "giant.bank.example", NO, O_NONE, "spf", -1, NULL },
	{ "B.4.3: dkim alone not aligned", M9, ONE, "giant.bank.example",
	  SNONE, NULL, "pass:mail.mega.bank.example", 0, R_FAIL,
	  "giant.bank.example", NO, O_NONE, "-", -1, NULL },
	{ "psd=y: PSD policy, np", M9, ONE, "x.mega.bank.example", SNONE,
	  NULL, "", 0, R_FAIL, "bank.example", RE, O_NONE, "-", 4, NULL },
	{ "psd=y: PSD policy, sp", M9, ONE, "mail.mega.bank.example", SNONE,
	  NULL, "", 0, R_FAIL, "bank.example", QU, O_NONE, "-", 4, NULL },
	{ "psd=y at the Author Domain", M9, ONE, "psdself.example", SNONE,
	  NULL, "pass:a.psdself.example", 0, R_FAIL, "psdself.example", QU,
	  O_NONE, "-", 2, NULL },
	{ "deep name: 8 queries", M9, ONE,
	  "a.b.c.d.e.f.g.h.i.j.k.deep.example", SNONE, NULL, "", 0, R_FAIL,
	  "deep.example", RE, O_NONE, "-", 8, NULL },
	{ "deep name: relaxed d= under org", M9, ONE,
	  "a.b.c.d.e.f.g.h.i.j.k.deep.example", SNONE, NULL,
	  "pass:deep.example", 0, R_PASS, "deep.example", NO, O_NONE, "dkim",
	  8, NULL },
	{ "no record anywhere", M9, ONE, "nothing.example", PASS,
	  "nothing.example", "", 0, R_NONE, "", UN, O_NONE, NULL, 2,
	  "no DMARC record" },
	/* record selection */
	{ "two records: none", M9, ONE, "two.example", SNONE, NULL, "", 0,
	  R_NONE, "", UN, O_NONE, NULL, 2, "several DMARC records" },
	{ "other TXT ignored", M9, ONE, "mixed.example", SNONE, NULL, "", 0,
	  R_FAIL, "mixed.example", QU, O_NONE, "-", 1, NULL },
	{ "v= not first: none", M9, ONE, "notfirst.example", SNONE, NULL, "",
	  0, R_NONE, "", UN, O_NONE, NULL, -1, NULL },
	{ "v=dmarc1: none", M9, ONE, "lower.example", SNONE, NULL, "", 0,
	  R_NONE, "", UN, O_NONE, NULL, -1, NULL },
	{ "strings concatenated", M9, ONE, "split.example", SNONE, NULL, "", 0,
	  R_FAIL, "split.example", RE, O_NONE, "-", 1, NULL },
	{ "record through CNAME", M9, ONE, "cname.example", SNONE, NULL, "", 0,
	  R_FAIL, "cname.example", RE, O_NONE, "-", 1, NULL },
	{ "no p, no rua: not applied", M9, ONE, "norua.example", SNONE, NULL,
	  "", 0, R_NONE, "norua.example", UN, O_NONE, NULL, 1, "no valid p=" },
	{ "no p, rua: p=none", M9, ONE, "rua.example", SNONE, NULL, "", 0,
	  R_FAIL, "rua.example", NO, O_NONE, "-", 1, NULL },
	/* t= and pct= */
	{ "t=y: reject -> quarantine", M9, ONE, "testing.example", SNONE,
	  NULL, "", 0, R_FAIL, NULL, QU, O_TEST, "-", -1, NULL },
	{ "t=y: quarantine -> none", M9, ONE, "testq.example", SNONE, NULL,
	  "", 0, R_FAIL, NULL, NO, O_TEST, "-", -1, NULL },
	{ "t=y ignored in 7489 mode", M7, ONE, "testing.example", SNONE, NULL,
	  "", 0, R_FAIL, NULL, RE, O_NONE, "-", -1, NULL },
	{ "pct=30, sample 29: applied", M7, ONE, "pct.example", SNONE, NULL,
	  "", 29, R_FAIL, NULL, RE, O_NONE, "-", -1, NULL },
	{ "pct=30, sample 30: sampled out", M7, ONE, "pct.example", SNONE,
	  NULL, "", 30, R_FAIL, NULL, QU, O_SAMP, "-", -1, NULL },
	{ "pct ignored in 9989 mode", M9, ONE, "pct.example", SNONE, NULL, "",
	  99, R_FAIL, NULL, RE, O_NONE, "-", -1, NULL },
	/* temperrors count only for a domain that could align */
	{ "spf temperror, aligned domain: temperror", M9, ONE, "example.com",
	  AM_SPF_TEMPERROR, "mail.example.com", "", 0, R_TEMP, NULL, UN,
	  O_NONE, "-", -1, "SPF temperror for aligned domain" },
	{ "spf temperror, unaligned domain: fail stands", M9, ONE,
	  "example.com", AM_SPF_TEMPERROR, "spammer.example", "", 0, R_FAIL,
	  NULL, RE, O_NONE, "-", -1, "no aligned" },
	{ "spf temperror, strict aspf, subdomain: fail stands", M9, ONE,
	  "strict.example", AM_SPF_TEMPERROR, "mail.strict.example", "", 0,
	  R_FAIL, NULL, RE, O_NONE, "-", -1, NULL },
	{ "dkim temperror, aligned d=: temperror", M9, ONE, "example.com",
	  SNONE, NULL, "fail:evil.example temperror:EXAMPLE.com", 0, R_TEMP,
	  NULL, UN, O_NONE, "-", -1, "DKIM temperror for aligned domain" },
	{ "dkim temperror, unaligned d=: fail stands", M9, ONE, "example.com",
	  SNONE, NULL, "temperror:example.net", 0, R_FAIL, NULL, RE, O_NONE,
	  "-", -1, NULL },
	{ "temperrors do not matter once aligned dkim passed", M9, ONE,
	  "example.com", AM_SPF_TEMPERROR, "example.com",
	  "temperror:example.com pass:example.com", 0, R_PASS, NULL, NO,
	  O_NONE, "dkim", -1, NULL },
	{ "17th signature passes: all are read", M9, ONE, "example.com", SNONE,
	  NULL, "fail:a.example fail:a.example fail:a.example fail:a.example "
	  "fail:a.example fail:a.example fail:a.example fail:a.example "
	  "fail:a.example fail:a.example fail:a.example fail:a.example "
	  "fail:a.example fail:a.example fail:a.example fail:a.example "
	  "pass:example.com", 0, R_PASS, NULL, NO, O_NONE, "dkim", -1, NULL },
	/* several records at the Author Domain */
	{ "7489: several records end discovery", M7, ONE, "dup.example.com",
	  SNONE, NULL, "", 0, R_NONE, "", UN, O_NONE, NULL, 1,
	  "several DMARC records" },
	{ "9989: several records, the walk goes on", M9, ONE, "dup.example.com",
	  SNONE, NULL, "", 0, R_FAIL, "example.com", QU, O_NONE, "-", -1, NULL },
	/* RFC 7489 mode */
	{ "7489: co.uk org by PSL, sp", M7, ONE, "mail.example.co.uk", SNONE,
	  NULL, "", 0, R_FAIL, "example.co.uk", NO, O_NONE, "-", 2, NULL },
	{ "9989: co.uk org by walk, sp", M9, ONE, "mail.example.co.uk", SNONE,
	  NULL, "", 0, R_FAIL, "example.co.uk", NO, O_NONE, "-", 4, NULL },
	{ "7489: psd=n not honoured", M7, ONE, "x.dept.corp.example", SNONE,
	  NULL, "", 0, R_FAIL, "corp.example", RE, O_NONE, "-", 2, NULL },
	{ "7489: intermediate record skipped", M7, ONE, "a.sub.multi.example",
	  SNONE, NULL, "", 0, R_FAIL, "multi.example", RE, O_NONE, "-", 2,
	  NULL },
	{ "7489: relaxed by PSL", M7, ONE, "mail.example.com", SNONE, NULL,
	  "pass:example.com", 0, R_PASS, "example.com", NO, O_NONE, "dkim", 2,
	  NULL },
	{ "7489: np honoured", M7, ONE, "nx.example.com", SNONE, NULL, "", 0,
	  R_FAIL, "example.com", NO, O_NONE, "-", 3, NULL },
	/* DNS failures */
	{ "tempfail at the Author Domain", M9, ONE, "flaky.example", PASS,
	  "flaky.example", "", 0, R_TEMP, "", UN, O_NONE, NULL, -1,
	  "timeout" },
	{ "tempfail up the walk", M9, ONE, "a.flaky.example", SNONE, NULL, "",
	  0, R_TEMP, "", UN, O_NONE, NULL, 2, "_dmarc.flaky.example" },
	{ "tempfail in the existence test", M9, ONE, "nx.np.example", SNONE,
	  NULL, "", 0, R_TEMP, "np.example", UN, O_NONE, NULL, -1,
	  "nx.np.example A" },
	{ "tempfail in a d= walk", M9, ONE, "example.com", SNONE, NULL,
	  "pass:x.bad.example.com", 0, R_TEMP, NULL, UN, O_NONE, NULL, -1,
	  NULL },
	{ "tempfail in a d= walk, spf aligned", M9, ONE, "example.com", PASS,
	  "example.com", "pass:x.bad.example.com", 0, R_PASS, NULL, NO,
	  O_NONE, "spf", -1, NULL },
	/* Author Domain */
	{ "no From", M9, AM_FROM_NONE, NULL, PASS, "example.com", "", 0,
	  R_PERM, "", UN, O_NONE, NULL, 0, "no From" },
	{ "bad From", M9, AM_FROM_BAD, NULL, PASS, "example.com", "", 0,
	  R_PERM, "", UN, O_NONE, NULL, 0, "unusable" },
	{ "several author domains", M9, AM_FROM_MULTI_DIFF, "example.com",
	  PASS, "example.com", "", 0, R_PERM, "", UN, O_NONE, NULL, 0,
	  "several" },
	{ "several mailboxes, one domain", M9, AM_FROM_MULTI_SAME,
	  "example.com", PASS, "example.com", "", 0, R_PASS, "example.com",
	  NO, O_NONE, "spf", 1, NULL },
	{ "U-label author domain", M9, ONE, "b\xc3\xbc" "cher.example", SNONE,
	  NULL, "", 0, R_NONE, "", UN, O_NONE, NULL, 2, NULL },
	{ "invalid author domain", M9, ONE, "a..example", SNONE, NULL, "", 0,
	  R_PERM, "", UN, O_NONE, NULL, 0, "invalid author" },
};

/* Fill dkim[] from "pass:d fail:d"; returns the count. */
static size_t
dkim_list(const char *spec, char *buf, size_t bufsz,
    struct am_dmarc_dkim *dkim, size_t max)
{
	size_t n = 0;
	char *tok, *save = NULL;

	snprintf(buf, bufsz, "%s", spec);
	for (tok = strtok_r(buf, " ", &save); tok != NULL && n < max;
	    tok = strtok_r(NULL, " ", &save)) {
		dkim[n].pass = strncmp(tok, "pass:", 5) == 0;
		dkim[n].temperror = strncmp(tok, "temperror:", 10) == 0;
		dkim[n].domain = strchr(tok, ':') + 1;
		n++;
	}
	return n;
}

static const char *
aligned_name(const struct am_dmarc_response *r)
{
	if (r->spf_aligned && r->dkim_aligned)
		return "both";
	return r->spf_aligned ? "spf" : r->dkim_aligned ? "dkim" : "-";
}

/* Run one case; 1 when it passes (a failure prints why). */
static int
run_dcase(struct fixture *fx, const struct dcase *c)
{
	struct am_dmarc_conf conf = { c->mode, fx->psl };
	struct am_dmarc_dkim dkim[32];
	struct am_dmarc_input in;
	struct am_dmarc_response r;
	char buf[1024];
	int ok;

	memset(&in, 0, sizeof(in));
	in.from_status = c->fst;
	in.from_domain = c->from;
	in.spf = c->spf;
	in.spf_domain = c->spf_domain;
	in.ndkim = dkim_list(c->dkim, buf, sizeof(buf), dkim, 32);
	in.dkim = dkim;
	in.sample = c->sample;
	fx->tb->log[0] = '\0';
	am_dmarc_response_init(&r);
	am_dmarc_eval(&conf, fx->dns, &in, &r);
	ok = r.result == c->want && r.disposition == c->dis &&
	    r.override == c->ovr &&
	    (c->policy_domain == NULL ||
	    strcmp(r.policy_domain, c->policy_domain) == 0) &&
	    (c->aligned == NULL || strcmp(aligned_name(&r), c->aligned) == 0) &&
	    (c->queries < 0 || r.queries == (unsigned)c->queries) &&
	    (c->why == NULL || strstr(am_buf_str(&r.why), c->why) != NULL);
	if (!ok)
		printf("FAIL %s: got %s policy_domain=%s dis=%s ovr=%s "
		    "aligned=%s queries=%u why=\"%s\" [%s]; want %s %s %s %s "
		    "%s %d \"%s\"\n", c->name, am_dmarc_result_name(r.result),
		    r.policy_domain, am_dmarc_policy_name(r.disposition),
		    am_dmarc_override_name(r.override), aligned_name(&r),
		    r.queries, am_buf_str(&r.why), fx->tb->log,
		    am_dmarc_result_name(c->want),
		    c->policy_domain ? c->policy_domain : "*",
		    am_dmarc_policy_name(c->dis), am_dmarc_override_name(c->ovr),
		    c->aligned ? c->aligned : "*", c->queries,
		    c->why ? c->why : "*");
	am_dmarc_response_release(&r);
	return ok;
}

static void
test_eval(void **state)
{
	struct fixture *fx = *state;
	size_t i, pass = 0, n = sizeof(dcases) / sizeof(dcases[0]);

	for (i = 0; i < n; i++)
		pass += run_dcase(fx, &dcases[i]);
	printf("dmarc eval table: %zu/%zu pass\n", pass, n);
	assert_int_equal(pass, n);
}

/* The deep walk asks exactly the names of RFC 9989 s.4.10. */
static void
test_walk_names(void **state)
{
	struct fixture *fx = *state;
	struct am_dmarc_conf conf = { AM_DMARC_RFC9989, NULL };
	struct am_buf why = AM_BUF_INIT(256);
	char org[AM_DNS_NAME_MAX + 1];
	unsigned q = 0;

	fx->tb->log[0] = '\0';
	assert_int_equal(am_dmarc_org_domain(&conf, fx->dns,
	    "A.b.c.d.e.f.g.h.i.j.mail.example.com", org, &q, &why), AM_DNS_OK);
	assert_string_equal(org, "example.com");
	assert_string_equal(fx->tb->log,
	    "_dmarc.a.b.c.d.e.f.g.h.i.j.mail.example.com "
	    "_dmarc.g.h.i.j.mail.example.com _dmarc.h.i.j.mail.example.com "
	    "_dmarc.i.j.mail.example.com _dmarc.j.mail.example.com "
	    "_dmarc.mail.example.com _dmarc.example.com _dmarc.com");
	assert_int_equal(q, 8);
	/* a name of exactly 8 labels: its parent has 7, as usual */
	q = 0;
	assert_int_equal(am_dmarc_org_domain(&conf, fx->dns,
	    "b.c.d.e.f.g.corp.example", org, &q, &why), AM_DNS_OK);
	assert_string_equal(org, "corp.example");
	assert_int_equal(q, 8);
	/* psd=n stops the walk */
	q = 0;
	assert_int_equal(am_dmarc_org_domain(&conf, fx->dns,
	    "a.b.dept.corp.example", org, &q, &why), AM_DNS_OK);
	assert_string_equal(org, "dept.corp.example");
	assert_int_equal(q, 3);
	/* no record at all: the name is its own org */
	assert_int_equal(am_dmarc_org_domain(&conf, fx->dns,
	    "a.nothing.example", org, &q, &why), AM_DNS_OK);
	assert_string_equal(org, "a.nothing.example");
	assert_int_equal(am_dmarc_org_domain(&conf, fx->dns,
	    "a.flaky.example", org, &q, &why), AM_DNS_TEMPFAIL);
	conf.mode = AM_DMARC_RFC7489;
	conf.psl = fx->psl;
	q = 0;
	assert_int_equal(am_dmarc_org_domain(&conf, fx->dns,
	    "a.b.example.co.uk", org, &q, &why), AM_DNS_OK);
	assert_string_equal(org, "example.co.uk");
	assert_int_equal(q, 0);
	am_buf_release(&why);
}

/* The A-R text for several results. */
static void
test_authres(void **state)
{
	static const struct {
		const char *from;
		int policy_prop;
		const char *want;
	} c[] = {
		{ "example.com", 0, "dmarc=pass (p=reject sp=quarantine "
		  "np=none dis=none) header.from=example.com" },
		{ "mail.example.com", 1, "dmarc=fail (p=reject sp=quarantine "
		  "np=none dis=quarantine) header.from=mail.example.com "
		  "policy.dmarc=quarantine" },
		{ "testing.example", 0, "dmarc=fail (p=reject sp=reject t=y "
		  "dis=quarantine override=policy_test_mode) "
		  "header.from=testing.example" },
		{ "nothing.example", 1, "dmarc=none header.from=nothing.example" },
		{ "flaky.example", 1, "dmarc=temperror (timeout "
		  "\\(_dmarc.flaky.example TXT\\)) header.from=flaky.example" },
	};
	struct fixture *fx = *state;
	struct am_dmarc_conf conf = { AM_DMARC_RFC9989, fx->psl };
	struct am_dmarc_dkim dkim = { 1, "example.com", 0 };
	struct am_buf out = AM_BUF_INIT(1024);
	struct am_dmarc_input in;
	struct am_dmarc_response r;
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		memset(&in, 0, sizeof(in));
		in.from_status = AM_FROM_ONE;
		in.from_domain = c[i].from;
		in.dkim = &dkim;
		in.ndkim = i == 0;
		am_dmarc_response_init(&r);
		am_dmarc_eval(&conf, fx->dns, &in, &r);
		am_buf_reset(&out);
		am_dmarc_authres(&r, c[i].policy_prop, &out);
		if (strcmp(am_buf_str(&out), c[i].want) != 0)
			printf("FAIL authres %s: got \"%s\"\n", c[i].from,
			    am_buf_str(&out));
		assert_string_equal(am_buf_str(&out), c[i].want);
		if (i == 1) {
			am_dmarc_override(&r, AM_DMARC_OVR_TRUSTED_FORWARDER,
			    AM_DMARC_P_NONE);
			am_buf_reset(&out);
			am_dmarc_authres(&r, 0, &out);
			assert_string_equal(am_buf_str(&out), "dmarc=fail "
			    "(p=reject sp=quarantine np=none dis=none "
			    "override=trusted_forwarder) "
			    "header.from=mail.example.com");
		}
		am_dmarc_response_release(&r);
	}
	/* permerror: no From */
	memset(&in, 0, sizeof(in));
	am_dmarc_response_init(&r);
	am_dmarc_eval(&conf, fx->dns, &in, &r);
	am_buf_reset(&out);
	am_dmarc_authres(&r, 0, &out);
	assert_string_equal(am_buf_str(&out), "dmarc=permerror (no From "
	    "field)");
	am_dmarc_response_release(&r);
	am_buf_release(&out);
}

/* RFC 7489 mode without a list is a configuration error, not a crash. */
static void
test_no_psl(void **state)
{
	struct fixture *fx = *state;
	struct am_dmarc_conf conf = { AM_DMARC_RFC7489, NULL };
	struct am_dmarc_input in;
	struct am_dmarc_response r;

	memset(&in, 0, sizeof(in));
	in.from_status = AM_FROM_ONE;
	in.from_domain = "example.com";
	am_dmarc_response_init(&r);
	assert_int_equal(am_dmarc_eval(&conf, fx->dns, &in, &r),
	    AM_DMARC_TEMPERROR);
	assert_string_equal(am_buf_str(&r.why),
	    "no public suffix list configured");
	am_dmarc_response_release(&r);
	assert_int_equal(am_dmarc_library_init(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_records_opendmarc),
		cmocka_unit_test(test_eval),
		cmocka_unit_test(test_walk_names),
		cmocka_unit_test(test_authres),
		cmocka_unit_test(test_no_psl),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
