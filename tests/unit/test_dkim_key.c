/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for lib/dkim_key.c: key record parsing (RFC 6376 s.3.6.1,
 * RFC 8463 s.4) and key fetching through an in-test DNS back end (NXDOMAIN,
 * NODATA, TEMPFAIL, several records). Tables of named cases.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <cmocka.h>

#include "dkim_int.h"

/* RFC 8463 A.2 keys; a bare PKCS#1 RSAPublicKey from stalwart 002. */
#define RSA1024 "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6" \
	"Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8u" \
	"BsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTI" \
	"KT+l/K4w3QIDAQAB"
#define PKCS1 "MIGJAoGBALVI635dLK4cJJAH3Lx6upo3X/Lm1tQz3mezcWTA3BUBnyIsdnRf57aD" \
	"5BtNmhPrYYDlWlzw3UgnKisIxktkk5+iMQMlFtAS10JB8L3YadXNJY+JBcbeSi5TgJe4" \
	"WFzNgW95FWDAuSTRXSWZfA/8xjflbTLDx0euFZOM7C4T0GwLAgMBAAE="
#define ED "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define ED_SPKI "MCowBQYDK2VwAyEA3SUqa9UbfciWkk7tlcJ9P1VD5pXAasg0JUn/OgjVbKE="

struct key_case {
	const char *name;
	const char *rec;
	const char *want;  /* "rsa BITS", "ed25519", or a reason substring */
	int testing, strict, has_h, h256;
};

static const struct key_case key_cases[] = {
	{ "rsa spki", "v=DKIM1; k=rsa; p=" RSA1024, "rsa 1024", 0, 0, 0, 0 },
	{ "k defaults to rsa", "p=" RSA1024, "rsa 1024", 0, 0, 0, 0 },
	{ "rsa pkcs1", "v=DKIM1; p=" PKCS1, "rsa 1024", 0, 0, 0, 0 },
	{ "folded p", "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs"
	    "5V6NpP3idY6 Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutA"
	    "CDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2"
	    "EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB", "rsa 1024", 0, 0, 0, 0 },
	{ "ed25519", "v=DKIM1; k=ed25519; p=" ED, "ed25519", 0, 0, 0, 0 },
	{ "flags y and s", "t=y:s; p=" RSA1024, "rsa 1024", 1, 1, 0, 0 },
	{ "unknown flag", "t=y:x; p=" RSA1024, "rsa 1024", 1, 0, 0, 0 },
	{ "h=sha256", "h=sha1:sha256; p=" RSA1024, "rsa 1024", 0, 0, 1, 1 },
	{ "h=sha1 only", "h=sha1; p=" RSA1024, "rsa 1024", 0, 0, 1, 0 },
	{ "s=email", "s=email:web; p=" RSA1024, "rsa 1024", 0, 0, 0, 0 },
	{ "s=*", "s=*; p=" RSA1024, "rsa 1024", 0, 0, 0, 0 },
	{ "g= and n= ignored", "g=*; n=hello%20world; p=" RSA1024,
	    "rsa 1024", 0, 0, 0, 0 },
	{ "trailing semicolon", "v=DKIM1; p=" RSA1024 "; ", "rsa 1024", 0, 0,
	    0, 0 },
	{ "revoked", "v=DKIM1; k=rsa; p=", "revoked", 0, 0, 0, 0 },
	{ "no p", "v=DKIM1; k=rsa", "no p=", 0, 0, 0, 0 },
	{ "empty record", "", "no p=", 0, 0, 0, 0 },
	{ "v=DKIM3", "v=DKIM3; p=" RSA1024, "version", 0, 0, 0, 0 },
	{ "v with colon", "v=DKIM1: p=" RSA1024, "", 0, 0, 0, 0 },
	{ "k=foobar", "k=foobar; p=" RSA1024, "key type", 0, 0, 0, 0 },
	{ "s=chat", "s=chat; p=" RSA1024, "service type", 0, 0, 0, 0 },
	{ "syntax error", "k=rsa; t; p=" RSA1024, "in key record", 0, 0, 0, 0 },
	{ "duplicate p", "p=" RSA1024 "; p=" RSA1024, "duplicate", 0, 0, 0, 0 },
	{ "p not base64", "p=###", "not base64", 0, 0, 0, 0 },
	{ "p garbage der", "p=aGVsbG8gd29ybGQ=", "not a valid rsa", 0, 0, 0, 0 },
	{ "ed25519 spki wrapped", "k=ed25519; p=" ED_SPKI, "not a valid ed25519",
	    0, 0, 0, 0 },
	{ "ed25519 key as rsa", "k=rsa; p=" ED, "not a valid rsa", 0, 0, 0, 0 },
	{ "rsa key as ed25519", "k=ed25519; p=" RSA1024, "not a valid ed25519",
	    0, 0, 0, 0 },
	{ "literal quotes", "\"\"", "in key record", 0, 0, 0, 0 },
};

static int
key_ok(const struct key_case *c, enum am_dkim_keystat st,
    const struct am_dkim_key *k, const char *why)
{
	char got[32];

	if (strncmp(c->want, "rsa ", 4) != 0 && strcmp(c->want, "ed25519"))
		return st == AM_DKIM_KEY_PERM && strstr(why, c->want) != NULL;
	if (st != AM_DKIM_KEY_OK)
		return 0;
	if (k->type == AM_DKIM_K_RSA)
		snprintf(got, sizeof(got), "rsa %u", k->bits);
	else
		snprintf(got, sizeof(got), "ed25519");
	return strcmp(got, c->want) == 0 && k->testing == c->testing &&
	    k->strict == c->strict && k->has_h == c->has_h &&
	    k->h_sha256 == c->h256;
}

static void
test_key_table(void **state)
{
	struct am_dkim_key k;
	struct am_buf why = AM_BUF_INIT(200);
	enum am_dkim_keystat st;
	size_t i;
	int bad = 0;

	(void)state;
	for (i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++) {
		const struct key_case *c = &key_cases[i];
		am_buf_reset(&why);
		st = am_dkim_key_parse(c->rec, strlen(c->rec), &k, &why);
		if (!key_ok(c, st, &k, am_buf_str(&why))) {
			print_error("case \"%s\": got status %d bits %u why "
			    "\"%s\", expected \"%s\"\n", c->name, (int)st,
			    k.bits, am_buf_str(&why), c->want);
			bad++;
		}
		am_dkim_key_release(&k);
	}
	am_buf_release(&why);
	assert_int_equal(bad, 0);
}

/* ---- in-test DNS back end ---- */

struct fake_rec {
	const char *name;
	enum am_dns_status st;
	const char *txt[3];
};

static const struct fake_rec fake[] = {
	{ "good._domainkey.e.com", AM_DNS_OK, { "v=DKIM1; p=" ED_SPKI,
	    "v=DKIM1; k=ed25519; p=" ED, NULL } },
	{ "bad2._domainkey.e.com", AM_DNS_OK, { "v=DKIM3; p=" RSA1024,
	    "k=foo", NULL } },
	{ "nodata._domainkey.e.com", AM_DNS_NODATA, { NULL } },
	{ "slow._domainkey.e.com", AM_DNS_TEMPFAIL, { NULL } },
};

static enum am_dns_status
fake_query(void *state, const char *name, int type, struct am_dns_answer **ans,
    struct am_buf *why)
{
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(fake) / sizeof(fake[0]); i++) {
		if (strcmp(fake[i].name, name) != 0)
			continue;
		if (fake[i].st == AM_DNS_TEMPFAIL) {
			am_buf_setf(why, "timeout");
			return AM_DNS_TEMPFAIL;
		}
		for (n = 0; fake[i].txt[n] != NULL; n++)
			;
		*ans = am_dns_answer_new(fake[i].st, type, n);
		for (n = 0; fake[i].txt[n] != NULL; n++) {
			(*ans)->rr[n].type = AM_DNS_T_TXT;
			(*ans)->rr[n].text = strdup(fake[i].txt[n]);
			(*ans)->rr[n].textlen = strlen(fake[i].txt[n]);
		}
		return fake[i].st;
	}
	*ans = am_dns_answer_new(AM_DNS_NXDOMAIN, type, 0);
	return AM_DNS_NXDOMAIN;
}

static const struct am_dns_backend fake_be = {
	.name = "fake", .query = fake_query, .close = NULL,
};

struct fetch_case {
	const char *name, *selector;
	enum am_dkim_keystat want;
	const char *why;
};

static const struct fetch_case fetch_cases[] = {
	{ "second record parses", "good", AM_DKIM_KEY_OK, "" },
	{ "no record parses: first error", "bad2", AM_DKIM_KEY_PERM, "DKIM1" },
	{ "nxdomain", "none", AM_DKIM_KEY_PERM, "no key" },
	{ "nodata", "nodata", AM_DKIM_KEY_PERM, "no key" },
	{ "tempfail", "slow", AM_DKIM_KEY_TEMP, "timeout" },
	{ "bad name", "a..b", AM_DKIM_KEY_PERM, "no key" },
};

static void
test_key_fetch(void **state)
{
	struct am_dns *dns = am_dns_new(&fake_be, NULL);
	struct am_buf why = AM_BUF_INIT(200);
	struct am_dkim_key k;
	enum am_dkim_keystat st;
	size_t i;
	int bad = 0;

	(void)state;
	for (i = 0; i < sizeof(fetch_cases) / sizeof(fetch_cases[0]); i++) {
		const struct fetch_case *c = &fetch_cases[i];
		am_buf_reset(&why);
		st = am_dkim_key_fetch(dns, c->selector, "e.com", &k, &why);
		if (st != c->want || strstr(am_buf_str(&why), c->why) == NULL) {
			print_error("case \"%s\": got %d \"%s\", expected %d "
			    "\"%s\"\n", c->name, (int)st, am_buf_str(&why),
			    (int)c->want, c->why);
			bad++;
		}
		am_dkim_key_release(&k);
	}
	am_dns_free(dns);
	am_buf_release(&why);
	assert_int_equal(bad, 0);
}

/* The decoded-key cache: a hit is the same key; other keys, even in one
 * slot, are not confused; errors are not cached. */
static void
test_key_cache(void **state)
{
	static const char *const recs[] = { "p=" RSA1024, "v=DKIM1; p=" PKCS1,
	    "k=ed25519; p=" ED };
	struct am_dkim_keycache *c = am_dkim_keycache_new(1);  /* one slot */
	struct am_buf why = AM_BUF_INIT(256);
	struct am_dkim_key a, b;
	size_t i;

	(void)state;
	assert_non_null(c);
	for (i = 0; i < 3; i++) {
		const char *r = recs[i];
		assert_int_equal(am_dkim_key_parse_cached(c, r, strlen(r), &a, &why),
		    AM_DKIM_KEY_OK);
		assert_int_equal(am_dkim_key_parse_cached(c, r, strlen(r), &b, &why),
		    AM_DKIM_KEY_OK);
		assert_ptr_equal(a.pkey, b.pkey);       /* decoded once */
		assert_int_equal(a.bits, b.bits);
		assert_int_equal(a.type, b.type);
		am_dkim_key_release(&a);
		am_dkim_key_release(&b);
	}
	/* The slot now holds the Ed25519 key: the RSA one decodes anew. */
	assert_int_equal(am_dkim_key_parse_cached(c, recs[0], strlen(recs[0]), &a,
	    &why), AM_DKIM_KEY_OK);
	assert_int_equal(a.bits, 1024);
	assert_int_equal(a.type, AM_DKIM_K_RSA);
	am_dkim_key_release(&a);
	assert_int_equal(am_dkim_key_parse_cached(c, "p=AAAA", 6, &a, &why),
	    AM_DKIM_KEY_PERM);
	am_dkim_key_release(&a);
	assert_null(am_dkim_keycache_free(c));
	assert_null(am_dkim_keycache_free(NULL));
	assert_null(am_dkim_keycache_new(0));
	am_buf_release(&why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_table),
		cmocka_unit_test(test_key_fetch),
		cmocka_unit_test(test_key_cache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
