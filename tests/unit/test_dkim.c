/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for the DKIM verifier (lib/dkim.c, lib/dkim_verify.c): the
 * RFC 8463 A.3 message (Ed25519 and RSA signatures) with its A.2 keys from
 * an in-test DNS back end, mutated in named ways; and signatures made here
 * with an Ed25519 key generated at test time, for l=, x=, t=s, over-signed
 * headers and the limits. Each case lists the result per signature.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "dkim_int.h"
#include "../dkim/testmsg.h"

#define RFC8463_SIGS \
"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n" \
" d=football.example.com; i=@football.example.com;\r\n" \
" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n" \
" subject : date : message-id : from : subject : date;\r\n" \
" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n" \
" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n" \
" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n" \
"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n" \
" d=football.example.com; i=@football.example.com;\r\n" \
" q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n" \
" date : message-id : from : subject : date;\r\n" \
" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n" \
" b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n" \
" DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n" \
" dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
#define RFC8463_HDRS \
"From: Joe SixPack <joe@football.example.com>\r\n" \
"To: Suzie Q <suzie@shopping.example.net>\r\n" \
"Subject: Is dinner ready?\r\n" \
"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n" \
"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
#define RFC8463_BODY \
"\r\nHi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n"

#define ED_KEY "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define RSA_P "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6" \
	"Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8u" \
	"BsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTI" \
	"KT+l/K4w3QIDAQAB"

/* ---- in-test DNS: a small table the cases fill in ---- */

struct zone {
	const char *name[8], *txt[8];
	const char *tempfail;
};

static enum am_dns_status
zq(void *state, const char *name, int type, struct am_dns_answer **ans,
    struct am_buf *why)
{
	const struct zone *z = state;
	size_t i;

	if (z->tempfail != NULL && strcmp(z->tempfail, name) == 0) {
		am_buf_setf(why, "timeout");
		return AM_DNS_TEMPFAIL;
	}
	for (i = 0; i < 8 && z->name[i] != NULL; i++)
		if (strcmp(z->name[i], name) == 0) {
			*ans = am_dns_answer_new(AM_DNS_OK, type, 1);
			(*ans)->rr[0].type = AM_DNS_T_TXT;
			(*ans)->rr[0].text = strdup(z->txt[i]);
			(*ans)->rr[0].textlen = strlen(z->txt[i]);
			return AM_DNS_OK;
		}
	*ans = am_dns_answer_new(AM_DNS_NXDOMAIN, type, 0);
	return AM_DNS_NXDOMAIN;
}

static const struct am_dns_backend zbe = { .name = "t", .query = zq };

/* Set: run() adds " d=... i=... s=..." (the names as reported) to each. */
static int show_ids;

/* Verify msg; render "result(reason),result..." into out. */
static void
run(const char *msg, const struct zone *z, const struct am_dkim_conf *conf,
    char *out, size_t size, size_t chunk)
{
	struct am_dns *dns = am_dns_new(&zbe, (void *)z);
	struct am_hdrs h;
	struct am_dkim *d;
	size_t off, len = strlen(msg), i, o = 0, n;
	const struct am_dkim_sig *s;

	am_hdrs_init(&h, 200, 1 << 20);
	am_test_msg_split(msg, len, &h, &off);
	d = am_dkim_new(conf, dns);
	am_dkim_headers(d, &h);
	for (; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		am_dkim_body(d, (const unsigned char *)msg + off, n);
	}
	am_dkim_finish(d);
	out[0] = '\0';
	for (i = 0; i < am_dkim_count(d) && o < size; i++) {
		s = am_dkim_sig(d, i);
		o += (size_t)snprintf(out + o, size - o, "%s%s%s%s%s", i ? "," : "",
		    am_dkim_result_name(s->result), *s->reason ? "(" : "",
		    s->reason, *s->reason ? ")" : "");
		if (show_ids && o < size)
			o += (size_t)snprintf(out + o, size - o, " d=%s i=%s s=%s",
			    s->domain, s->identity, s->selector);
	}
	assert_null(am_dkim_sig(d, i));
	am_dkim_free(d);
	am_hdrs_release(&h);
	am_dns_free(dns);
}

#define BRIS "brisbane._domainkey.football.example.com"
#define TEST "test._domainkey.football.example.com"

struct rfc_case {
	const char *name;
	const char *msg;
	struct zone z;
	struct am_dkim_conf conf;
	const char *want;
};

static const struct rfc_case rfc_cases[] = {
	{ "rfc8463 both pass", RFC8463_SIGS RFC8463_HDRS RFC8463_BODY,
	    { { BRIS, TEST }, { ED_KEY, "v=DKIM1; k=rsa; p=" RSA_P }, NULL },
	    { 0, 0, 0, NULL }, "pass,pass" },
	{ "body changed", RFC8463_SIGS RFC8463_HDRS RFC8463_BODY "x\r\n",
	    { { BRIS, TEST }, { ED_KEY, "p=" RSA_P }, NULL }, { 0, 0, 0, NULL },
	    "fail(body hash mismatch),fail(body hash mismatch)" },
	{ "trailing empty lines added", RFC8463_SIGS RFC8463_HDRS RFC8463_BODY
	    "\r\n \r\n", { { BRIS, TEST }, { ED_KEY, "p=" RSA_P }, NULL },
	    { 0, 0, 0, NULL }, "pass,pass" },
	{ "signed header changed", RFC8463_SIGS RFC8463_HDRS "Subject: x\r\n"
	    RFC8463_BODY, { { BRIS, TEST }, { ED_KEY, "p=" RSA_P }, NULL },
	    { 0, 0, 0, NULL }, "fail(signature did not verify),"
	    "fail(signature did not verify)" },
	{ "unsigned header added", RFC8463_SIGS RFC8463_HDRS "X-New: 1\r\n"
	    RFC8463_BODY, { { BRIS, TEST }, { ED_KEY, "p=" RSA_P }, NULL },
	    { 0, 0, 0, NULL }, "pass,pass" },
	{ "relaxed header refolding", RFC8463_SIGS
	    "From:   Joe SixPack\r\n\t<joe@football.example.com>  \r\n"
	    "To: Suzie Q <suzie@shopping.example.net>\r\n"
	    "SUBJECT: Is dinner ready?\r\n"
	    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
	    RFC8463_BODY, { { BRIS, TEST }, { ED_KEY, "p=" RSA_P }, NULL },
	    { 0, 0, 0, NULL }, "pass,pass" },
	{ "ed25519 key missing", RFC8463_SIGS RFC8463_HDRS RFC8463_BODY,
	    { { TEST }, { "p=" RSA_P }, NULL }, { 0, 0, 0, NULL },
	    "permerror(no key),pass" },
	{ "rsa key lookup fails", RFC8463_SIGS RFC8463_HDRS RFC8463_BODY,
	    { { BRIS, TEST }, { ED_KEY, "p=" RSA_P }, TEST }, { 0, 0, 0, NULL },
	    "pass,temperror(key lookup failed: timeout)" },
	{ "rsa key too short for 2048", RFC8463_SIGS RFC8463_HDRS RFC8463_BODY,
	    { { BRIS, TEST }, { ED_KEY, "p=" RSA_P }, NULL }, { 2048, 0, 0, NULL },
	    "pass,policy(key too short (1024 bits))" },
	{ "max_signatures 1", RFC8463_SIGS RFC8463_HDRS RFC8463_BODY,
	    { { BRIS, TEST }, { ED_KEY, "p=" RSA_P }, NULL }, { 0, 1, 0, NULL },
	    "pass,policy(too many signatures)" },
	{ "rsa key revoked", RFC8463_SIGS RFC8463_HDRS RFC8463_BODY,
	    { { BRIS, TEST }, { ED_KEY, "v=DKIM1; p=" }, NULL }, { 0, 0, 0, NULL },
	    "pass,permerror(key revoked)" },
	{ "key h=sha1", RFC8463_SIGS RFC8463_HDRS RFC8463_BODY,
	    { { BRIS, TEST }, { ED_KEY, "h=sha1; p=" RSA_P }, NULL },
	    { 0, 0, 0, NULL }, "pass,permerror(key h= does not allow sha256)" },
	{ "key type mismatch", RFC8463_SIGS RFC8463_HDRS RFC8463_BODY,
	    { { BRIS, TEST }, { "p=" RSA_P, "p=" RSA_P }, NULL }, { 0, 0, 0, NULL },
	    "permerror(key type does not match a=ed25519-sha256),pass" },
	{ "t=s with i=@d", RFC8463_SIGS RFC8463_HDRS RFC8463_BODY,
	    { { BRIS, TEST }, { ED_KEY "; t=s", "p=" RSA_P }, NULL },
	    { 0, 0, 0, NULL }, "pass,pass" },
	{ "malformed third signature", RFC8463_SIGS "DKIM-Signature: synerr\r\n"
	    RFC8463_HDRS RFC8463_BODY, { { BRIS, TEST }, { ED_KEY, "p=" RSA_P },
	    NULL }, { 0, 0, 0, NULL }, "pass,pass,permerror(tag \"synerr\" has no '=')" },
	{ "rsa-sha1", "DKIM-Signature: v=1; a=rsa-sha1; d=e.com; s=s; h=from;"
	    " bh=AAAA; b=AAAA\r\nFrom: a@e.com\r\n\r\nx\r\n", { { NULL }, { NULL },
	    NULL }, { 0, 0, 0, NULL }, "policy(rsa-sha1 not accepted (RFC 8301))" },
	{ "expired", "DKIM-Signature: v=1; a=rsa-sha256; d=e.com; s=s; h=from;"
	    " x=1000; bh=AAAA; b=AAAA\r\nFrom: a@e.com\r\n\r\nx\r\n", { { NULL },
	    { NULL }, NULL }, { 0, 0, 2000, NULL }, "permerror(signature expired)" },
	{ "no signature", RFC8463_HDRS RFC8463_BODY, { { NULL }, { NULL },
	    NULL }, { 0, 0, 0, NULL }, "" },
};

static void
test_rfc8463_table(void **state)
{
	static const size_t chunks[] = { 1, 3, 4096 };
	char got[1024];
	size_t i, k;
	int bad = 0;

	(void)state;
	for (i = 0; i < sizeof(rfc_cases) / sizeof(rfc_cases[0]); i++)
		for (k = 0; k < 3; k++) {
			const struct rfc_case *c = &rfc_cases[i];
			run(c->msg, &c->z, &c->conf, got, sizeof(got), chunks[k]);
			if (strcmp(got, c->want) != 0) {
				print_error("case \"%s\" (chunk %zu): got \"%s\", "
				    "expected \"%s\"\n", c->name, chunks[k], got,
				    c->want);
				bad++;
			}
		}
	assert_int_equal(bad, 0);
}

/* ---- signatures made here (Ed25519 key generated at test time) ---- */

static EVP_PKEY *edkey;
static char edrec[128];

static int
setup_key(void **state)
{
	unsigned char pub[32], b64[64];
	size_t n = sizeof(pub);

	(void)state;
	edkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (edkey == NULL || EVP_PKEY_get_raw_public_key(edkey, pub, &n) != 1)
		return -1;
	EVP_EncodeBlock(b64, pub, 32);
	snprintf(edrec, sizeof(edrec), "k=ed25519; p=%s", b64);
	return 0;
}

static int
teardown_key(void **state)
{
	(void)state;
	EVP_PKEY_free(edkey);
	return 0;
}

/*
 * Sign msg (headers CRLF, empty line, body) with tags (everything but bh=
 * and b=) and return the new message with the DKIM-Signature on top.
 */
static char *
sign(const char *tags, const char *msg)
{
	struct am_buf v = AM_BUF_INIT(8192), out = AM_BUF_INIT(1 << 20);
	struct am_dkim_sigparams sp;
	struct am_dkim_bh *bh;
	struct am_hdrs h;
	unsigned char dig[64], bhd[64], sig[64], b64[128];
	size_t off, siglen = sizeof(sig), n;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	am_hdrs_init(&h, 100, 1 << 20);
	am_test_msg_split(msg, strlen(msg), &h, &off);
	am_buf_printf(&v, "%s; bh=AAAA; b=AAAA", tags);
	assert_int_equal(am_dkim_sig_parse(v.data, v.len, &sp, NULL), 0);
	bh = am_dkim_bh_new(sp.bcanon, "sha256", sp.has_l ? (int64_t)sp.l : -1);
	am_dkim_bh_update(bh, (const unsigned char *)msg + off, strlen(msg) - off);
	n = am_dkim_bh_final(bh, bhd, NULL);
	am_dkim_bh_free(bh);
	EVP_EncodeBlock(b64, bhd, (int)n);
	am_buf_reset(&v);
	am_buf_printf(&v, " %s;\r\n bh=%s; b=", tags, b64);
	am_hdrs_add(&h, "DKIM-Signature", v.data, v.len);
	n = am_dkim_hash_headers(&sp, &h, &h.v[h.n - 1], dig);
	assert_int_equal(EVP_DigestSignInit(c, NULL, NULL, NULL, edkey), 1);
	assert_int_equal(EVP_DigestSign(c, sig, &siglen, dig, n), 1);
	EVP_EncodeBlock(b64, sig, (int)siglen);
	am_buf_printf(&out, "DKIM-Signature:%s%s\r\n%s", v.data, b64, msg);
	EVP_MD_CTX_free(c);
	am_dkim_sig_release(&sp);
	am_hdrs_release(&h);
	am_buf_release(&v);
	return am_buf_steal(&out);
}

#define MSG "From: a@e.com\r\nTo: b@f.net\r\nSubject: hi\r\n\r\nline 1\r\n\r\n"

struct own_case {
	const char *name;
	const char *tags;
	const char *before, *after;  /* text added before / after the message */
	const char *keyextra;        /* appended to the key record */
	time_t now;
	const char *want;
};

static const struct own_case own_cases[] = {
	{ "plain", "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=e.com; s=k;"
	    " h=from:to:subject", "", "", "", 0, "pass" },
	{ "simple/simple", "v=1; a=ed25519-sha256; d=e.com; s=k; h=from:to",
	    "", "", "", 0, "pass" },
	{ "simple/simple body appended", "v=1; a=ed25519-sha256; d=e.com;"
	    " s=k; h=from:to", "", "more\r\n", "", 0,
	    "fail(body hash mismatch)" },
	{ "l= with text appended", "v=1; a=ed25519-sha256; c=relaxed/relaxed;"
	    " d=e.com; s=k; l=8; h=from", "", "appended\r\n", "", 0, "pass" },
	{ "l= beyond body", "v=1; a=ed25519-sha256; d=e.com; s=k; l=500;"
	    " h=from", "", "", "", 0, "permerror(l= exceeds body length)" },
	{ "over-signed absent header", "v=1; a=ed25519-sha256; d=e.com; s=k;"
	    " h=from:reply-to:from", "", "", "", 0, "pass" },
	{ "x= in the future", "v=1; a=ed25519-sha256; d=e.com; s=k; t=100;"
	    " x=3000; h=from", "", "", "", 2000, "pass" },
	{ "x= passed", "v=1; a=ed25519-sha256; d=e.com; s=k; t=100; x=1000;"
	    " h=from", "", "", "", 2000, "permerror(signature expired)" },
	{ "t=s with i= subdomain", "v=1; a=ed25519-sha256; d=e.com;"
	    " i=a@sub.e.com; s=k; h=from", "", "", "; t=s", 0,
	    "permerror(key t=s forbids an i= subdomain)" },
	{ "i= subdomain without t=s", "v=1; a=ed25519-sha256; d=e.com;"
	    " i=a@sub.e.com; s=k; h=from", "", "", "; t=y", 0, "pass" },
};

static char *
own_message(const struct own_case *c)
{
	char *signed_msg = sign(c->tags, MSG), *full;
	size_t n = strlen(signed_msg) + strlen(c->after) + 1;

	full = malloc(n);
	snprintf(full, n, "%s%s", signed_msg, c->after);
	free(signed_msg);
	return full;
}

static void
test_own_table(void **state)
{
	struct zone z = { { "k._domainkey.e.com" }, { NULL }, NULL };
	struct am_dkim_conf conf = { 0, 0, 0, NULL };
	char got[512], rec[256], *msg;
	size_t i;
	int bad = 0;

	(void)state;
	for (i = 0; i < sizeof(own_cases) / sizeof(own_cases[0]); i++) {
		const struct own_case *c = &own_cases[i];
		snprintf(rec, sizeof(rec), "%s%s", edrec, c->keyextra);
		z.txt[0] = rec;
		conf.now = c->now;
		msg = own_message(c);
		run(msg, &z, &conf, got, sizeof(got), 7);
		if (strcmp(got, c->want) != 0) {
			print_error("case \"%s\": got \"%s\", expected \"%s\"\n",
			    c->name, got, c->want);
			bad++;
		}
		free(msg);
	}
	assert_int_equal(bad, 0);
}

static void
test_oversigned_added(void **state)
{
	struct zone z = { { "k._domainkey.e.com" }, { edrec }, NULL };
	char got[256], *msg, *mod;
	size_t n;

	(void)state;
	msg = sign("v=1; a=ed25519-sha256; d=e.com; s=k; h=from:reply-to", MSG);
	/* a Reply-To added after signing is now picked for h=reply-to */
	n = strlen(msg) + 32;
	mod = malloc(n);
	snprintf(mod, n, "Reply-To: x@y.z\r\n%s", msg);
	run(mod, &z, NULL, got, sizeof(got), 4096);
	assert_string_equal(got, "fail(signature did not verify)");
	run(msg, &z, NULL, got, sizeof(got), 4096);
	assert_string_equal(got, "pass");
	free(mod);
	free(msg);
}

/* ---- internationalised d=, i=, s= (RFC 8616 s.5) ---- */

#define UE    "\xc3\xbc"        /* U+00FC */
#define UE_UP "\xc3\x9c"        /* U+00DC */
#define NFD_U "u\xcc\x88"       /* u + U+0308 */
#define ED "v=1; a=ed25519-sha256; c=relaxed/relaxed; h=from:to; "

struct idn_case {
	const char *name;
	const char *tags;      /* signed with the test key */
	const char *want;      /* result and the names as reported */
};

/* Keys are published at A-labels only. */
static const struct idn_case idn_cases[] = {
	{ "U-label d=", ED "d=b" UE "cher.test; s=k", "pass "
	    "d=xn--bcher-kva.test i=@xn--bcher-kva.test s=k" },
	{ "upper-case U-label d=", ED "d=B" UE_UP "CHER.test; s=k", "pass "
	    "d=xn--bcher-kva.test i=@xn--bcher-kva.test s=k" },
	{ "NFD U-label d=", ED "d=b" NFD_U "cher.test; s=k", "pass "
	    "d=xn--bcher-kva.test i=@xn--bcher-kva.test s=k" },
	{ "mixed case A-label d=", ED "d=XN--BCHER-KVA.test; s=k", "pass "
	    "d=xn--bcher-kva.test i=@xn--bcher-kva.test s=k" },
	{ "U-label i= with A-label d=", ED "d=xn--bcher-kva.test; "
	    "i=alice@B" UE_UP "CHER.test; s=k", "pass d=xn--bcher-kva.test "
	    "i=alice@xn--bcher-kva.test s=k" },
	{ "i= subdomain in U-labels", ED "d=b" UE "cher.test; "
	    "i=@Mail.b" NFD_U "cher.test; s=k", "pass d=xn--bcher-kva.test "
	    "i=@mail.xn--bcher-kva.test s=k" },
	{ "i= trailing dot", ED "d=b" UE "cher.test; i=a@b" UE "cher.test.; "
	    "s=k", "pass d=xn--bcher-kva.test i=a@xn--bcher-kva.test s=k" },
	{ "U-label s=", ED "d=b" UE "cher.test; s=schl" UE "ssel", "pass "
	    "d=xn--bcher-kva.test i=@xn--bcher-kva.test s=xn--schlssel-95a" },
};

static void
test_idn_table(void **state)
{
	struct zone z = { { "k._domainkey.xn--bcher-kva.test",
	    "xn--schlssel-95a._domainkey.xn--bcher-kva.test" },
	    { edrec, edrec }, NULL };
	char got[512], *msg;
	size_t i;
	int bad = 0;

	(void)state;
	show_ids = 1;
	for (i = 0; i < sizeof(idn_cases) / sizeof(idn_cases[0]); i++) {
		const struct idn_case *c = &idn_cases[i];

		msg = sign(c->tags, MSG);
		run(msg, &z, NULL, got, sizeof(got), 4096);
		if (strcmp(got, c->want) != 0) {
			print_error("case \"%s\": got \"%s\", expected \"%s\"\n",
			    c->name, got, c->want);
			bad++;
		}
		free(msg);
	}
	show_ids = 0;
	assert_int_equal(bad, 0);
}

/* Names that are no IDN: permerror with the reason, no key lookup (the
 * only key name answers temperror). */
static void
test_idn_invalid(void **state)
{
	static const struct { const char *name, *ids, *want; } bad_names[] = {
		{ "disallowed code point", "d=\xe2\x98\x83.test; s=k",
		    "permerror(bad d= value (IDNA2008: " },
		{ "label over 63 after conversion", "d=aaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaa" UE UE UE ".test; s=k",
		    "permerror(bad d= value (IDNA2008: " },
		{ "invalid UTF-8", "d=b\xff.test; s=k",
		    "permerror(bad d= value (IDNA2008: " },
		{ "trailing dot", "d=b" UE "cher.test.; s=k",
		    "permerror(bad d= value)" },
		{ "selector not an IDN", "d=b" UE "cher.test; s=\xe2\x98\x83",
		    "permerror(bad s= value (IDNA2008: " },
		{ "i= in another domain", "d=b" UE "cher.test; "
		    "i=a@b" UE "cher.test.evil; s=k",
		    "permerror(i= domain is not d= or below it)" },
		{ "i= not an IDN", "d=b" UE "cher.test; i=a@\xe2\x98\x83.b" UE
		    "cher.test; s=k", "permerror(bad i= domain (IDNA2008: " },
	};
	struct zone z = { { NULL }, { NULL }, "k._domainkey.xn--bcher-kva.test" };
	char msg[512], got[256];
	size_t i;
	int bad = 0;

	(void)state;
	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		snprintf(msg, sizeof(msg), "DKIM-Signature: v=1; a=rsa-sha256; "
		    "%s; h=from; bh=AAAA; b=AAAA\r\n%s", bad_names[i].ids, MSG);
		run(msg, &z, NULL, got, sizeof(got), 4096);
		if (strncmp(got, bad_names[i].want, strlen(bad_names[i].want))) {
			print_error("case \"%s\": got \"%s\", expected \"%s...\"\n",
			    bad_names[i].name, got, bad_names[i].want);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

static void
test_result_names(void **state)
{
	(void)state;
	assert_string_equal(am_dkim_result_name(AM_DKIM_PASS), "pass");
	assert_string_equal(am_dkim_result_name(AM_DKIM_PERMERROR), "permerror");
	assert_string_equal(am_dkim_result_name((enum am_dkim_result)99), "none");
	assert_null(am_dkim_free(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8463_table),
		cmocka_unit_test(test_own_table),
		cmocka_unit_test(test_oversigned_added),
		cmocka_unit_test(test_idn_table),
		cmocka_unit_test(test_idn_invalid),
		cmocka_unit_test(test_result_names),
	};

	return cmocka_run_group_tests(tests, setup_key, teardown_key);
}
