/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for lib/arc*.c: the instance of each ARC field (RFC 8617
 * s.4.1.1, s.4.2.1), AMS / AS parsing (s.4.1.2, s.4.1.3), grouping into
 * sets and the chain structure rules (s.5.2 steps 2-3), and a seal /
 * verify round trip with a generated key served from a zone file
 * (oldest-pass, tampering, the key file mode check). Tables of named
 * cases; a failing case prints its name with what it got and expected.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "arc.h"

#define B64 "AAAA"
#define BH "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8="
#define AS_TAIL " a=rsa-sha256; d=example.org; s=sel; b=" B64
#define AMS_TAIL " a=rsa-sha256; d=example.org; s=sel; bh=" BH "; b=" B64

/* ---- instances ---- */

struct inst_case {
	const char *name;
	enum am_arc_kind kind;
	const char *in;
	int want;            /* instance, or -1 */
};

static const struct inst_case inst_cases[] = {
	{ "AAR plain", AM_ARC_K_AAR, "i=1; example.org; spf=pass", 1 },
	{ "AAR FWS around", AM_ARC_K_AAR, " i = 12 ;\r\n\texample.org", 12 },
	{ "AAR i=50", AM_ARC_K_AAR, "i=50; x", 50 },
	{ "AAR i=51", AM_ARC_K_AAR, "i=51; x", -1 },
	{ "AAR i=0", AM_ARC_K_AAR, "i=0; x", -1 },
	{ "AAR leading zero", AM_ARC_K_AAR, "i=01; x", -1 },
	{ "AAR not a number", AM_ARC_K_AAR, "i=squanch; x", -1 },
	{ "AAR no semicolon", AM_ARC_K_AAR, "i=1 example.org;", -1 },
	{ "AAR i= not first", AM_ARC_K_AAR, "example.org; i=1;", -1 },
	{ "AAR empty", AM_ARC_K_AAR, "", -1 },
	{ "AMS i= first", AM_ARC_K_AMS, "i=3; a=rsa-sha256", 3 },
	{ "AS i= last", AM_ARC_K_AS, "a=x; cv=none; i=50", 50 },
	{ "AS no i=", AM_ARC_K_AS, "a=x; cv=none", -1 },
	{ "AS i= twice", AM_ARC_K_AS, "i=1; i=2", -1 },
	{ "AS I= upper case", AM_ARC_K_AS, "I=1; a=x", -1 },
	{ "AMS i=a", AM_ARC_K_AMS, "i=a; a=x", -1 },
	{ "AMS i= empty", AM_ARC_K_AMS, "i=; a=x", -1 },
	{ "AMS tag list broken", AM_ARC_K_AMS, "i=1;; a=x", -1 },
};

static void
test_instance_table(void **state)
{
	struct am_buf why = AM_BUF_INIT(200);
	unsigned inst;
	size_t i;
	int r, got, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(inst_cases) / sizeof(inst_cases[0]); i++) {
		const struct inst_case *c = &inst_cases[i];
		inst = 0;
		r = am_arc_instance(c->kind, c->in, strlen(c->in), &inst, &why);
		got = r == 0 ? (int)inst : -1;
		if (got != c->want) {
			print_error("case \"%s\": got %d (%s), expected %d\n",
			    c->name, got, am_buf_str(&why), c->want);
			bad++;
		}
	}
	am_buf_release(&why);
	assert_int_equal(bad, 0);
}

/* ---- AMS and AS ---- */

struct sig_case {
	const char *name;
	enum am_arc_kind kind;
	const char *in;
	const char *err;     /* substring of why, or NULL: parses */
	int nh;              /* AMS: names in h= */
	int relaxed;         /* header canonicalization is relaxed */
	enum am_arc_cv cv;   /* AS */
};

static const struct sig_case sig_cases[] = {
	{ "AMS minimal", AM_ARC_K_AMS, "i=1; h=from:to;" AMS_TAIL, NULL,
	    2, 0, 0 },
	{ "AMS c=relaxed/relaxed", AM_ARC_K_AMS,
	    "i=2; c=relaxed/relaxed; h=from;" AMS_TAIL, NULL, 1, 1, 0 },
	{ "AMS h= empty", AM_ARC_K_AMS, "i=1; h=;" AMS_TAIL, NULL, 0, 0, 0 },
	{ "AMS h= empty name", AM_ARC_K_AMS, "i=1; h=from::to;" AMS_TAIL,
	    NULL, 2, 0, 0 },
	{ "AMS h= FWS", AM_ARC_K_AMS, "i=1; h= from :\r\n to ;" AMS_TAIL,
	    NULL, 2, 0, 0 },
	{ "AMS h= names ARC-Seal", AM_ARC_K_AMS,
	    "i=1; h=from:ARC-Seal;" AMS_TAIL, "ARC-Seal", 0, 0, 0 },
	{ "AMS no h=", AM_ARC_K_AMS, "i=1;" AMS_TAIL, "missing h=", 0, 0, 0 },
	{ "AMS no bh=", AM_ARC_K_AMS,
	    "i=1; h=from; a=rsa-sha256; d=e.org; s=s; b=" B64, "missing bh=",
	    0, 0, 0 },
	{ "AMS unknown a=", AM_ARC_K_AMS,
	    "i=1; h=from; a=rsa-md5; d=e.org; s=s; bh=" BH "; b=" B64,
	    "unsupported algorithm", 0, 0, 0 },
	{ "AMS bad c=", AM_ARC_K_AMS, "i=1; c=fancy; h=from;" AMS_TAIL,
	    "canonicalization", 0, 0, 0 },
	{ "AMS bh= not base64", AM_ARC_K_AMS,
	    "i=1; h=from; a=rsa-sha256; d=e.org; s=s; bh=%%; b=" B64,
	    "bh= is empty", 0, 0, 0 },
	{ "AMS d= empty", AM_ARC_K_AMS,
	    "i=1; h=from; a=rsa-sha256; d=; s=s; bh=" BH "; b=" B64,
	    "bad d=", 0, 0, 0 },
	{ "AMS s= empty", AM_ARC_K_AMS,
	    "i=1; h=from; a=rsa-sha256; d=e.org; s=; bh=" BH "; b=" B64,
	    "bad s=", 0, 0, 0 },
	{ "AMS t= not a number", AM_ARC_K_AMS, "i=1; h=from; t=x;" AMS_TAIL,
	    "bad t=", 0, 0, 0 },
	/* the DKIM-Signature parser with ARC's rules (RFC 8617 s.4.1.2) */
	{ "AMS v= ignored", AM_ARC_K_AMS, "i=1; v=2; h=from;" AMS_TAIL, NULL,
	    1, 0, 0 },
	{ "AMS x= before t=", AM_ARC_K_AMS, "i=1; h=from; t=200; x=100;"
	    AMS_TAIL, "x= is not after t=", 0, 0, 0 },
	{ "AMS q=http", AM_ARC_K_AMS, "i=1; h=from; q=http;" AMS_TAIL,
	    "query method", 0, 0, 0 },
	{ "AMS l= not a number", AM_ARC_K_AMS, "i=1; h=from; l=x;" AMS_TAIL,
	    "bad l=", 0, 0, 0 },
	{ "AMS no i=", AM_ARC_K_AMS, "h=from;" AMS_TAIL, "missing i=", 0, 0,
	    0 },
	{ "AMS over 8 KiB", AM_ARC_K_AMS, NULL, "signature over", 0, 0, 0 },
	{ "AS l= and x= are not its tags", AM_ARC_K_AS,
	    "i=1; cv=none; l=x; x=1; t=5;" AS_TAIL, NULL, 0, 1, AM_ARC_NONE },
	{ "AS c= is not its tag", AM_ARC_K_AS,
	    "i=1; cv=none; c=simple/simple;" AS_TAIL, NULL, 0, 1, AM_ARC_NONE },
	{ "AS cv=none", AM_ARC_K_AS, "i=1; cv=none;" AS_TAIL, NULL, 0, 1,
	    AM_ARC_NONE },
	{ "AS cv=Pass any case", AM_ARC_K_AS, "i=2; cv=Pass;" AS_TAIL, NULL,
	    0, 1, AM_ARC_PASS },
	{ "AS cv=fail", AM_ARC_K_AS, "i=3; cv=fail; t=12345;" AS_TAIL, NULL,
	    0, 1, AM_ARC_FAIL },
	{ "AS no cv=", AM_ARC_K_AS, "i=1;" AS_TAIL, "missing cv=", 0, 0, 0 },
	{ "AS cv= empty", AM_ARC_K_AS, "i=1; cv=;" AS_TAIL, "bad cv=", 0, 0,
	    0 },
	{ "AS cv=maybe", AM_ARC_K_AS, "i=1; cv=maybe;" AS_TAIL, "bad cv=", 0,
	    0, 0 },
	{ "AS with h=", AM_ARC_K_AS, "i=1; cv=none; h=from;" AS_TAIL,
	    "h= in an ARC-Seal", 0, 0, 0 },
	{ "AS b= empty", AM_ARC_K_AS,
	    "i=1; cv=none; a=rsa-sha256; d=e.org; s=s; b=", "b= is empty", 0,
	    0, 0 },
	{ "AS no a=", AM_ARC_K_AS, "i=1; cv=none; d=e.org; s=s; b=" B64,
	    "missing a=", 0, 0, 0 },
	{ "AS t= empty", AM_ARC_K_AS, "i=1; cv=none; t=;" AS_TAIL, "bad t=",
	    0, 0, 0 },
	{ "AS duplicate tag", AM_ARC_K_AS, "i=1; cv=none; s=x;" AS_TAIL,
	    "duplicate", 0, 0, 0 },
	{ "AS i=51", AM_ARC_K_AS, "i=51; cv=none;" AS_TAIL, "1..50", 0, 0,
	    0 },
};

static int
sig_ok(const struct sig_case *c, int r, const struct am_arc_sig *s,
    const char *why)
{
	if (c->err != NULL)
		return r != 0 && strstr(why, c->err) != NULL;
	if (r != 0 || (s->sp.hcanon == AM_DKIM_RELAXED) != c->relaxed)
		return 0;
	if (c->kind == AM_ARC_K_AS)
		return s->cv == c->cv && s->sp.nh == 0;
	return (int)s->sp.nh == c->nh && s->sp.bhlen == 32;
}

static void
test_sig_table(void **state)
{
	struct am_buf why = AM_BUF_INIT(200);
	struct am_arc_sig s;
	char big[AM_DKIM_SIG_MAX + 200];
	size_t i;
	int r, bad = 0;

	(void)state;
	/* in == NULL: an AMS just over AM_DKIM_SIG_MAX bytes */
	snprintf(big, sizeof(big), "i=1; h=from; z=%0*d;" AMS_TAIL,
	    AM_DKIM_SIG_MAX, 0);
	for (i = 0; i < sizeof(sig_cases) / sizeof(sig_cases[0]); i++) {
		const struct sig_case *c = &sig_cases[i];
		const char *in = c->in != NULL ? c->in : big;
		r = am_arc_sig_parse(c->kind, in, strlen(in), &s, &why);
		if (!sig_ok(c, r, &s, am_buf_str(&why))) {
			print_error("case \"%s\": got r=%d nh=%zu cv=%d "
			    "why=\"%s\", expected %s\n", c->name, r, s.sp.nh,
			    (int)s.cv, am_buf_str(&why),
			    c->err ? c->err : "success");
			bad++;
		}
		am_arc_sig_release(&s);
	}
	am_buf_release(&why);
	assert_int_equal(bad, 0);
}

/* ---- sets and chain structure ---- */

struct field {
	const char *name, *value;
};

#define AAR(i) { "ARC-Authentication-Results", "i=" #i "; mx.example.org; spf=pass" }
#define AMS(i) { "ARC-Message-Signature", "i=" #i "; h=from;" AMS_TAIL }
#define AS(i, cv) { "ARC-Seal", "i=" #i "; cv=" #cv ";" AS_TAIL }
#define FROM { "From", " a@example.org" }

struct chain_case {
	const char *name;
	struct field f[10];
	int collect;         /* am_arc_collect() result */
	unsigned n;          /* its *n */
	enum am_arc_cv cv;   /* am_arc verdict after the headers */
	const char *reason;  /* substring of the reason, or NULL: "" */
};

static const struct chain_case chain_cases[] = {
	{ "no ARC fields", { FROM }, 0, 0, AM_ARC_NONE, NULL },
	{ "i=1 cv=pass", { AS(1, pass), AMS(1), AAR(1), FROM }, 0, 1,
	    AM_ARC_FAIL, "ARC-Seal i=1 has cv=pass" },
	{ "i=2 cv=none", { AS(2, none), AMS(2), AAR(2), AS(1, none), AMS(1),
	    AAR(1), FROM }, 0, 2, AM_ARC_FAIL, "ARC-Seal i=2 has cv=none" },
	{ "newest cv=fail", { AS(2, fail), AMS(2), AAR(2), AS(1, none),
	    AMS(1), AAR(1) }, 0, 2, AM_ARC_FAIL, "i=2 says cv=fail" },
	{ "older cv=fail", { AS(3, pass), AMS(3), AAR(3), AS(2, fail),
	    AMS(2), AAR(2), AS(1, none), AMS(1), AAR(1) }, 0, 3, AM_ARC_FAIL,
	    "ARC-Seal i=2 has cv=fail" },
	{ "sets in any order", { AAR(1), AS(2, none), AMS(1), AAR(2),
	    AS(1, pass), AMS(2) }, 0, 2, AM_ARC_FAIL, "i=2 has cv=none" },
	{ "duplicate AS", { AS(1, none), AS(1, none), AMS(1), AAR(1) }, -1, 1,
	    AM_ARC_FAIL, "two ARC-Seal fields with i=1" },
	{ "duplicate AAR", { AS(1, none), AMS(1), AAR(1), AAR(1) }, -1, 1,
	    AM_ARC_FAIL, "two ARC-Authentication-Results fields" },
	{ "missing AMS", { AS(1, none), AAR(1) }, -1, 1, AM_ARC_FAIL,
	    "instance 1 has no ARC-Message-Signature" },
	{ "missing AAR", { AS(1, none), AMS(1) }, -1, 1, AM_ARC_FAIL,
	    "instance 1 has no ARC-Authentication-Results" },
	{ "gap at i=2", { AS(3, pass), AMS(3), AAR(3), AS(1, none), AMS(1),
	    AAR(1) }, -1, 3, AM_ARC_FAIL, "instance 2 has no" },
	{ "only i=2", { AS(2, pass), AMS(2), AAR(2) }, -1, 2, AM_ARC_FAIL,
	    "instance 1 has no" },
	{ "unreadable AS i=", { { "ARC-Seal", "i=blorp; cv=none;" AS_TAIL },
	    AMS(1), AAR(1) }, -1, 1, AM_ARC_FAIL, "ARC-Seal: i= is not" },
	{ "AAR without i=", { AS(1, none), AMS(1),
	    { "ARC-Authentication-Results", "mx.example.org; i=1; x=y" } },
	    -1, 1, AM_ARC_FAIL, "does not start with i=" },
	{ "i=51", { { "ARC-Seal", "i=51; cv=pass;" AS_TAIL } }, -1, 0,
	    AM_ARC_FAIL, "1..50" },
	{ "AS b= broken", { { "ARC-Seal", "i=1; cv=none; a=rsa-sha256; "
	    "d=e.org; s=s; b=!!" }, AMS(1), AAR(1) }, 0, 1, AM_ARC_FAIL,
	    "ARC-Seal i=1: b= is empty or not base64" },
};

static void
fill(struct am_hdrs *h, const struct field *f)
{
	size_t k;

	am_hdrs_init(h, 100, 100000);
	for (k = 0; k < 10 && f[k].name != NULL; k++)
		assert_int_equal(am_hdrs_add(h, f[k].name, f[k].value,
		    strlen(f[k].value)), AM_HDR_OK);
}

static int
chain_ok(const struct chain_case *c, int r, unsigned n,
    const struct am_arc_result *res)
{
	if (r != c->collect || n != c->n || res->cv != c->cv)
		return 0;
	return c->reason == NULL ? res->reason[0] == '\0' :
	    strstr(res->reason, c->reason) != NULL;
}

static void
test_chain_table(void **state)
{
	struct am_arc_fields sets[AM_ARC_MAX_INSTANCES + 1];
	struct am_buf why = AM_BUF_INIT(200);
	const struct am_arc_result *res;
	struct am_hdrs h;
	struct am_arc *a;
	unsigned n;
	size_t i;
	int r, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(chain_cases) / sizeof(chain_cases[0]); i++) {
		const struct chain_case *c = &chain_cases[i];
		fill(&h, c->f);
		r = am_arc_collect(&h, sets, &n, &why);
		/* no DNS: each case is decided before any key is needed */
		assert_non_null(a = am_arc_new(NULL, NULL));
		am_arc_headers(a, &h);
		am_arc_finish(a);
		res = am_arc_result(a);
		if (!chain_ok(c, r, n, res)) {
			print_error("case \"%s\": got collect=%d n=%u (%s) "
			    "cv=%s reason=\"%s\", expected collect=%d n=%u "
			    "cv=%s reason~\"%s\"\n", c->name, r, n,
			    am_buf_str(&why), am_arc_cv_name(res->cv),
			    res->reason, c->collect, c->n,
			    am_arc_cv_name(c->cv), c->reason ? c->reason : "");
			bad++;
		}
		am_arc_free(a);
		am_hdrs_release(&h);
	}
	am_buf_release(&why);
	assert_int_equal(bad, 0);
}

/* ---- seal / verify round trip ---- */

struct rt {
	char zone[64];
	struct am_dns *dns;
	struct am_arc_key *key;
	char *pem;
};

/* A new RSA key, its PEM text and a zone with its public key. */
static void
rt_setup(struct rt *t)
{
	struct am_buf why = AM_BUF_INIT(200);
	unsigned char *der = NULL, b64[1024];
	const char *zp;
	EVP_PKEY *pk;
	BIO *bio;
	FILE *f;
	char *p;
	long n;
	int fd, dl;

	assert_non_null(pk = EVP_RSA_gen(1024));
	assert_non_null(bio = BIO_new(BIO_s_mem()));
	assert_int_equal(PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0,
	    NULL, NULL), 1);
	n = BIO_get_mem_data(bio, &p);
	assert_non_null(t->pem = strndup(p, (size_t)n));
	BIO_free(bio);
	assert_true((dl = i2d_PUBKEY(pk, &der)) > 0);
	EVP_EncodeBlock(b64, der, dl);
	OPENSSL_free(der);
	EVP_PKEY_free(pk);
	strcpy(t->zone, "/tmp/test_arc.XXXXXX");
	assert_true((fd = mkstemp(t->zone)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fprintf(f, "sel._domainkey.example.test. 300 IN TXT "
	    "\"v=DKIM1; k=rsa; p=%s\"\n", b64);
	fclose(f);
	zp = t->zone;
	assert_non_null(t->dns = am_dns_zone_new(&zp, 1, &why));
	assert_non_null(t->key = am_arc_key_from_pem(t->pem, strlen(t->pem),
	    &why));
	am_buf_release(&why);
}

static const char body[] = "Hello\r\n\r\n";

/* Verify hdrs (+ body); seal it when out != NULL. The verdict's cv. */
static enum am_arc_cv
rt_run_h(struct rt *t, const struct am_hdrs *h, struct am_arc_sealed *out,
    struct am_arc_result *res, const char *const *names, size_t nnames)
{
	struct am_arc_conf conf = { 0, 1 };
	struct am_arc_seal_params p = { "example.test", "sel", t->key,
	    "mx.example.test", "spf=pass smtp.mailfrom=a@example.org", NULL,
	    0, 1700000000 };
	struct am_buf why = AM_BUF_INIT(200);
	struct am_arc *a;

	p.sign_headers = names;
	p.nsign = nnames;
	assert_non_null(a = am_arc_new(&conf, t->dns));
	am_arc_headers(a, h);
	am_arc_body(a, (const unsigned char *)body, 3);
	am_arc_body(a, (const unsigned char *)body + 3, sizeof(body) - 4);
	am_arc_finish(a);
	*res = *am_arc_result(a);
	res->reason = "";
	if (out != NULL && am_arc_seal(a, &p, out, &why) != AM_ARC_SEALED)
		fail_msg("seal: %s", am_buf_str(&why));
	am_arc_free(a);
	am_buf_release(&why);
	return res->cv;
}

static enum am_arc_cv
rt_run(struct rt *t, const struct am_hdrs *h, struct am_arc_sealed *out,
    struct am_arc_result *res)
{
	return rt_run_h(t, h, out, res, NULL, 0);
}

/* hdrs with the sealed set on top. */
static void
prepend(struct am_hdrs *dst, const struct am_arc_sealed *s,
    const struct am_hdrs *src)
{
	size_t k;

	am_hdrs_init(dst, 100, 100000);
	am_hdrs_add(dst, "ARC-Seal", s->as, strlen(s->as));
	am_hdrs_add(dst, "ARC-Message-Signature", s->ams, strlen(s->ams));
	am_hdrs_add(dst, "ARC-Authentication-Results", s->aar,
	    strlen(s->aar));
	for (k = 0; k < src->n; k++)
		am_hdrs_add(dst, src->v[k].name, src->v[k].value,
		    src->v[k].vlen);
}

static void
test_round_trip(void **state)
{
	static const struct field base[] = { { "From", " a@example.org" },
	    { "To", " b@example.test" }, { "Subject", " round trip" },
	    { NULL, NULL } };
	struct am_arc_result res;
	struct am_arc_sealed s1, s2;
	struct am_hdrs h0, h1, h2;
	struct rt t;

	(void)state;
	rt_setup(&t);
	fill(&h0, base);
	assert_int_equal(rt_run(&t, &h0, &s1, &res), AM_ARC_NONE);
	assert_int_equal(s1.instance, 1);
	assert_non_null(strstr(s1.as, "cv=none"));
	assert_non_null(strstr(s1.aar, "i=1; mx.example.test; spf=pass"));
	prepend(&h1, &s1, &h0);
	assert_int_equal(rt_run(&t, &h1, &s2, &res), AM_ARC_PASS);
	assert_int_equal(res.count, 1);
	assert_int_equal(res.oldest_pass, 0);
	assert_int_equal(s2.instance, 2);
	assert_non_null(strstr(s2.as, "cv=pass"));
	prepend(&h2, &s2, &h1);
	assert_int_equal(rt_run(&t, &h2, NULL, &res), AM_ARC_PASS);
	assert_int_equal(res.count, 2);
	/* To is signed by both AMSes; a changed To breaks the newest */
	free(h2.v[h2.n - 2].value);
	h2.v[h2.n - 2].value = strdup(" c@example.test");
	h2.v[h2.n - 2].vlen = strlen(h2.v[h2.n - 2].value);
	assert_int_equal(rt_run(&t, &h2, NULL, &res), AM_ARC_FAIL);
	am_arc_sealed_release(&s1);
	am_arc_sealed_release(&s2);
	am_hdrs_release(&h0);
	am_hdrs_release(&h1);
	am_hdrs_release(&h2);
	am_arc_key_free(t.key);
	am_dns_free(t.dns);
	unlink(t.zone);
	free(t.pem);
}

/* An older AMS that fails lowers nothing but oldest-pass (s.5.2 step 5). */
static void
test_oldest_pass(void **state)
{
	static const struct field base[] = { { "From", " a@example.org" },
	    { "Subject", " oldest pass" }, { NULL, NULL } };
	static const char *const from_only[] = { "from" };
	struct am_arc_result res;
	struct am_arc_sealed s1, s2;
	struct am_hdrs h0, h1, h2;
	struct rt t;

	(void)state;
	rt_setup(&t);
	fill(&h0, base);
	rt_run(&t, &h0, &s1, &res);
	prepend(&h1, &s1, &h0);
	/* i=2 signs From only; then a changed Subject breaks i=1's AMS */
	assert_int_equal(rt_run_h(&t, &h1, &s2, &res, from_only, 1),
	    AM_ARC_PASS);
	prepend(&h2, &s2, &h1);
	assert_int_equal(rt_run(&t, &h2, NULL, &res), AM_ARC_PASS);
	assert_int_equal(res.oldest_pass, 0);
	free(h2.v[h2.n - 1].value);
	h2.v[h2.n - 1].value = strdup(" changed");
	h2.v[h2.n - 1].vlen = 8;
	assert_int_equal(rt_run(&t, &h2, NULL, &res), AM_ARC_PASS);
	assert_int_equal(res.count, 2);
	assert_int_equal(res.oldest_pass, 2);
	am_arc_sealed_release(&s1);
	am_arc_sealed_release(&s2);
	am_hdrs_release(&h0);
	am_hdrs_release(&h1);
	am_hdrs_release(&h2);
	am_arc_key_free(t.key);
	am_dns_free(t.dns);
	unlink(t.zone);
	free(t.pem);
}

/* Seal hdrs; the status, with *out filled on AM_ARC_SEALED. */
static enum am_arc_seal_status
rt_seal(struct rt *t, const struct am_hdrs *h, struct am_arc_sealed *out,
    struct am_buf *why)
{
	struct am_arc_conf conf = { 0, 1 };
	struct am_arc_seal_params p = { "example.test", "sel", t->key,
	    "mx.example.test", "arc=fail", NULL, 0, 1700000000 };
	enum am_arc_seal_status st;
	struct am_arc *a;

	assert_non_null(a = am_arc_new(&conf, t->dns));
	am_arc_headers(a, h);
	am_arc_body(a, (const unsigned char *)body, sizeof(body) - 1);
	am_arc_finish(a);
	st = am_arc_seal(a, &p, out, why);
	am_arc_free(a);
	return st;
}

/* 1 when the AS of s verifies over s's own three fields alone (s.5.1.2). */
static int
own_set_only(struct rt *t, const struct am_arc_sealed *s)
{
	struct am_buf why = AM_BUF_INIT(200);
	struct am_hdrs h;
	const struct am_hdr *fl[3];
	struct am_arc_sig sig;
	struct am_dkim_key key;
	unsigned char dig[AM_DKIM_HASH_MAX];
	size_t dlen;
	int ok;

	am_hdrs_init(&h, 10, 100000);
	am_hdrs_add(&h, "ARC-Authentication-Results", s->aar, strlen(s->aar));
	am_hdrs_add(&h, "ARC-Message-Signature", s->ams, strlen(s->ams));
	am_hdrs_add(&h, "ARC-Seal", s->as, strlen(s->as));
	fl[0] = &h.v[0], fl[1] = &h.v[1], fl[2] = &h.v[2];
	assert_int_equal(am_arc_sig_parse(AM_ARC_K_AS, h.v[2].value,
	    h.v[2].vlen, &sig, &why), 0);
	assert_int_equal(am_dkim_key_fetch(t->dns, "sel", "example.test",
	    &key, &why), AM_DKIM_KEY_OK);
	assert_true((dlen = am_arc_seal_digest(fl, 3, dig)) > 0);
	ok = am_dkim_pk_verify(&key, sig.sp.alg, dig, dlen, sig.sp.b,
	    sig.sp.blen);
	am_dkim_key_release(&key);
	am_arc_sig_release(&sig);
	am_hdrs_release(&h);
	am_buf_release(&why);
	return ok;
}

/*
 * Sealing after a cv=fail (RFC 8617 s.5.1, arc.h): no seal when the newest
 * AS says cv=fail; when a later hop sealed on with cv=pass, our seal says
 * cv=fail and covers our own set only.
 */
static void
test_seal_after_cv_fail(void **state)
{
	static const struct field base[] = { { "From", " a@example.org" },
	    { "Subject", " cv=fail" }, { NULL, NULL } };
	/* i=3 by a sealer that ignored the cv=fail of i=2 (its signatures
	 * do not matter: s.5.2 step 3 fails the chain before them) */
	static const struct field later[] = { AS(3, pass), AMS(3), AAR(3),
	    { NULL, NULL } };
	struct am_buf why = AM_BUF_INIT(200);
	struct am_arc_result res;
	struct am_arc_sealed s1, s2, s4, none;
	struct am_hdrs h0, h1, h2, h3, h4, top;
	struct rt t;
	size_t k;

	(void)state;
	rt_setup(&t);
	fill(&h0, base);
	rt_run(&t, &h0, &s1, &res);
	prepend(&h1, &s1, &h0);
	free(h1.v[h1.n - 1].value);
	h1.v[h1.n - 1].value = strdup(" changed");
	h1.v[h1.n - 1].vlen = 8;
	assert_int_equal(rt_run(&t, &h1, &s2, &res), AM_ARC_FAIL);
	assert_int_equal(s2.cv, AM_ARC_FAIL);
	assert_true(own_set_only(&t, &s2));
	prepend(&h2, &s2, &h1);
	/* the newest AS says cv=fail: no new set (s.5.1 step 1) */
	assert_int_equal(rt_seal(&t, &h2, &none, &why), AM_ARC_NOSEAL);
	assert_non_null(strstr(am_buf_str(&why),
	    "the newest ARC-Seal (i=2) says cv=fail"));
	/* a later cv=pass on top: we seal i=4 cv=fail over our set only */
	fill(&top, later);
	am_hdrs_init(&h3, 100, 100000);
	for (k = 0; k < top.n; k++)
		am_hdrs_add(&h3, top.v[k].name, top.v[k].value, top.v[k].vlen);
	for (k = 0; k < h2.n; k++)
		am_hdrs_add(&h3, h2.v[k].name, h2.v[k].value, h2.v[k].vlen);
	if (rt_seal(&t, &h3, &s4, &why) != AM_ARC_SEALED)
		fail_msg("no seal over i=3 cv=pass: %s", am_buf_str(&why));
	assert_int_equal(s4.instance, 4);
	assert_int_equal(s4.cv, AM_ARC_FAIL);
	assert_non_null(strstr(s4.as, "cv=fail"));
	assert_true(own_set_only(&t, &s4));
	/* ... and that ends the chain for everyone after us */
	prepend(&h4, &s4, &h3);
	assert_int_equal(rt_seal(&t, &h4, &none, &why), AM_ARC_NOSEAL);
	assert_non_null(strstr(am_buf_str(&why), "(i=4) says cv=fail"));
	am_arc_sealed_release(&s1);
	am_arc_sealed_release(&s2);
	am_arc_sealed_release(&s4);
	am_hdrs_release(&h0);
	am_hdrs_release(&h1);
	am_hdrs_release(&h2);
	am_hdrs_release(&h3);
	am_hdrs_release(&h4);
	am_hdrs_release(&top);
	am_buf_release(&why);
	am_arc_key_free(t.key);
	am_dns_free(t.dns);
	unlink(t.zone);
	free(t.pem);
}

static void
test_key_file_mode(void **state)
{
	struct am_buf why = AM_BUF_INIT(300);
	struct am_arc_key *k;
	struct rt t;
	char path[] = "/tmp/test_arc_key.XXXXXX";
	int fd;

	(void)state;
	rt_setup(&t);
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, t.pem, strlen(t.pem)),
	    (ssize_t)strlen(t.pem));
	close(fd);
	chmod(path, 0644);
	assert_null(am_arc_key_load(path, &why));
	assert_non_null(strstr(am_buf_str(&why),
	    ": mode 0644 is world-readable; chmod 600 it"));
	chmod(path, 0660);
	assert_null(am_arc_key_load(path, &why));
	assert_non_null(strstr(am_buf_str(&why),
	    ": mode 0660 is group-writable; chmod 600 it"));
	chmod(path, 0640);
	assert_non_null(k = am_arc_key_load(path, &why));
	assert_string_equal(am_arc_key_alg(k), "rsa-sha256");
	am_arc_key_free(k);
	/* a FIFO with no writer: refused at once (alarm: a hang fails) */
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(10);
	assert_null(am_arc_key_load(path, &why));
	alarm(0);
	assert_non_null(strstr(am_buf_str(&why), ": not a regular file"));
	assert_null(am_arc_key_load("/nonexistent/key.pem", &why));
	assert_null(am_arc_key_from_pem("junk", 4, &why));
	unlink(path);
	am_arc_key_free(t.key);
	am_dns_free(t.dns);
	unlink(t.zone);
	free(t.pem);
	am_buf_release(&why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_instance_table),
		cmocka_unit_test(test_sig_table),
		cmocka_unit_test(test_chain_table),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_oldest_pass),
		cmocka_unit_test(test_seal_after_cv_fail),
		cmocka_unit_test(test_key_file_mode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
