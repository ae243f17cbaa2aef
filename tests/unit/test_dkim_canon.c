/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for lib/dkim_canon.c: header canonicalization (RFC 6376
 * s.3.4.1, s.3.4.2) and the streaming body hasher (s.3.4.3, s.3.4.4,
 * erratum 3192, l=). Body cases are fed whole, split at every position i,
 * and split at every pair (i, j); every digest must equal the one-shot
 * digest and the known answer. Random bodies are compared with a naive
 * line-by-line model of the RFC text under random splits.
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

struct hdr_case {
	const char *name;
	int relaxed;
	const char *fname, *value;
	const char *want;
};

static const struct hdr_case hdr_cases[] = {
	{ "rfc6376 3.4.5 A simple", 0, "A", " X", "A: X\r\n" },
	{ "rfc6376 3.4.5 B simple", 0, "B ", " Y\t\r\n\tZ  ", "B : Y\t\r\n\tZ  \r\n" },
	{ "rfc6376 3.4.5 A relaxed", 1, "A", " X", "a:X\r\n" },
	{ "rfc6376 3.4.5 B relaxed", 1, "B ", " Y\t\r\n\tZ  ", "b:Y Z\r\n" },
	{ "relaxed lower-cases name only", 1, "SUBJECT", " Hello WORLD",
	    "subject:Hello WORLD\r\n" },
	{ "relaxed empty value", 1, "X-Empty", "", "x-empty:\r\n" },
	{ "relaxed only WSP", 1, "X", " \t \r\n ", "x:\r\n" },
	{ "relaxed inner runs", 1, "To", "  a \t\t b\r\n  c ", "to:a b c\r\n" },
	{ "relaxed tab before colon", 1, "Name\t", "v", "name:v\r\n" },
	{ "simple keeps everything", 0, "sUbJ", "\t x  ", "sUbJ:\t x  \r\n" },
	/* s.3.4.2 unfolds CRLF only: a line ending CR CR LF keeps one CR. */
	{ "relaxed fold after bare CR keeps the CR", 1, "Subject",
	    " a\r\r\n b", "subject:a\r b\r\n" },
	{ "relaxed WSP before CR CR LF fold", 1, "X", " a \r\r\n\tb",
	    "x:a \r b\r\n" },
	{ "relaxed bare CR inside a line", 1, "X", " a\rb", "x:a\rb\r\n" },
	{ "relaxed bare LF inside a line", 1, "X", " a\nb", "x:a\nb\r\n" },
	{ "relaxed bare CR at the end is not WSP", 1, "X", " a \r", "x:a \r\r\n" },
	{ "relaxed CR CR LF fold then WSP only", 1, "X", " a\r\r\n ",
	    "x:a\r\r\n" },
	{ "simple keeps CR CR LF", 0, "Subject", " a\r\r\n b",
	    "Subject: a\r\r\n b\r\n" },
};

static void
test_header_table(void **state)
{
	struct am_buf out = AM_BUF_INIT(1024);
	size_t i;
	int bad = 0;

	(void)state;
	for (i = 0; i < sizeof(hdr_cases) / sizeof(hdr_cases[0]); i++) {
		const struct hdr_case *c = &hdr_cases[i];
		am_buf_reset(&out);
		am_dkim_canon_header(c->relaxed ? AM_DKIM_RELAXED :
		    AM_DKIM_SIMPLE, c->fname, strlen(c->fname), c->value,
		    strlen(c->value), 1, &out);
		if (strcmp(am_buf_str(&out), c->want) != 0) {
			print_error("case \"%s\": got \"%s\", expected \"%s\"\n",
			    c->name, am_buf_str(&out), c->want);
			bad++;
		}
	}
	am_buf_reset(&out);
	am_dkim_canon_header(AM_DKIM_RELAXED, "A", 1, " x ", 3, 0, &out);
	assert_string_equal(am_buf_str(&out), "a:x");
	am_buf_release(&out);
	assert_int_equal(bad, 0);
}

/* Digest of body fed in pieces cut at cuts[0..ncuts) (ascending). */
static size_t
stream(enum am_dkim_canon c, const char *md, int64_t l, const char *body,
    size_t len, const size_t *cuts, size_t ncuts, unsigned char *out)
{
	struct am_dkim_bh *bh = am_dkim_bh_new(c, md, l);
	size_t k, prev = 0, n;

	assert_non_null(bh);
	for (k = 0; k <= ncuts; k++) {
		size_t at = k < ncuts ? cuts[k] : len;
		am_dkim_bh_update(bh, (const unsigned char *)body + prev,
		    at - prev);
		prev = at;
	}
	n = am_dkim_bh_final(bh, out, NULL);
	am_dkim_bh_free(bh);
	return n;
}

static void
b64(const unsigned char *d, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, d, (int)n);
}

struct body_case {
	const char *name;
	int relaxed;
	const char *md;
	int64_t l;
	const char *body;
	const char *canon;   /* expected canonical body, or NULL */
	const char *bh;      /* expected base64 digest, or NULL */
};

#define TRICKY "a  b\t\r\n\r\n \r\nc \r\r\n x\r\n\r\n \t \r\n"

static const struct body_case body_cases[] = {
	{ "rfc6376 3.4.5 relaxed", 1, "sha256", -1, " C \r\nD \t E\r\n\r\n\r\n",
	    " C\r\nD E\r\n", NULL },
	{ "rfc6376 3.4.5 simple", 0, "sha256", -1, " C \r\nD \t E\r\n\r\n\r\n",
	    " C \r\nD \t E\r\n", NULL },
	{ "empty body relaxed", 1, "sha256", -1, "", "",
	    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" },
	{ "empty body simple", 0, "sha256", -1, "", "\r\n",
	    "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=" },
	{ "empty lines relaxed sha256", 1, "sha256", -1, "\r\n\r\n\r\n\r\n\r\n",
	    "", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" },
	{ "empty lines relaxed sha1", 1, "sha1", -1, "\r\n\r\n\r\n\r\n\r\n",
	    "", "2jmj7l5rSw0yVb/vlWAYkK/YBwk=" },
	{ "empty lines simple sha256", 0, "sha256", -1, "\r\n\r\n\r\n\r\n\r\n",
	    "\r\n", "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=" },
	{ "empty lines simple sha1", 0, "sha1", -1, "\r\n\r\n\r\n\r\n\r\n",
	    "\r\n", "uoq1oCgLlTqpdDX/iUbLy7J1Wic=" },
	{ "l=20 relaxed", 1, "sha256", 20, "tere tere\r\n \r\nvana kere\r\n\r\n",
	    "tere tere\r\n\r\nvana ke", "RzjCRSQ7oLyYPj0LF/Mi40PvYYf2dtQxQrSgh6WeSUQ=" },
	{ "l=20 simple", 0, "sha256", 20, "tere tere\r\n \r\nvana kere\r\n\r\n",
	    "tere tere\r\n \r\nvana k", "J8tF8/M8X2PLBc/YVY64O+9jaSUEi9VMWKtt85CIHSc=" },
	{ "l=0", 0, "sha256", 0, "abc\r\n", "",
	    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" },
	{ "rfc8463 body relaxed", 1, "sha256", -1,
	    "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n",
	    NULL, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=" },
	{ "rfc6376 body simple", 0, "sha256", -1,
	    "Hi.\r\n\r\nWe lost the game. Are you hungry yet?\r\n\r\nJoe.\r\n\r\n",
	    NULL, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=" },
	{ "no final CRLF relaxed", 1, "sha256", -1, "abc  \t", "abc\r\n", NULL },
	{ "no final CRLF simple", 0, "sha256", -1, "abc  \t", "abc  \t\r\n", NULL },
	{ "final bare CR relaxed", 1, "sha256", -1, "abc\r", "abc\r\r\n", NULL },
	{ "final bare CR simple", 0, "sha256", -1, "a\r\n\r", "a\r\n\r\r\n", NULL },
	{ "bare LF is content", 1, "sha256", -1, "a\n\nb \n", "a\n\nb \n\r\n", NULL },
	{ "WSP-only lines at end relaxed", 1, "sha256", -1, "x\r\n \r\n\t\r\n",
	    "x\r\n", NULL },
	{ "WSP-only lines at end simple", 0, "sha256", -1, "x\r\n \r\n\t\r\n",
	    "x\r\n \r\n\t\r\n", NULL },
	{ "leading WSP kept as one SP", 1, "sha256", -1, " \t a\r\n", " a\r\n",
	    NULL },
	{ "tricky relaxed", 1, "sha256", -1, TRICKY,
	    "a b\r\n\r\n\r\nc \r\r\n x\r\n", NULL },
	{ "tricky simple", 0, "sha256", -1, TRICKY, TRICKY, NULL },
	{ "tricky relaxed l=9", 1, "sha256", 9, TRICKY, "a b\r\n\r\n\r\n", NULL },
	{ "tricky simple l=9", 0, "sha256", 9, TRICKY, "a  b\t\r\n\r\n", NULL },
	{ "l beyond body relaxed", 1, "sha256", 1000, "ab\r\n", "ab\r\n", NULL },
	/* A bare CR is an octet of its line (s.3.4.3, s.3.4.4): WSP before
	 * it is inside the line, WSP after it ends the line. */
	{ "CR CR LF relaxed", 1, "sha256", -1, "a \r\r\nb\r\n",
	    "a \r\r\nb\r\n", NULL },
	{ "CR CR LF simple", 0, "sha256", -1, "a \r\r\nb\r\n",
	    "a \r\r\nb\r\n", NULL },
	{ "WSP after bare CR relaxed", 1, "sha256", -1, "a\r \t\r\n",
	    "a\r\r\n", NULL },
	{ "bare CR line at end relaxed", 1, "sha256", -1, "a\r\n\r\r\n\r\n",
	    "a\r\n\r\r\n", NULL },
	{ "bare CR line at end simple", 0, "sha256", -1, "a\r\n\r\r\n\r\n",
	    "a\r\n\r\r\n", NULL },
};

static int
check_digest(const struct body_case *c, const unsigned char *got, size_t n,
    const unsigned char *want, size_t wn, const char *how)
{
	char g[100], w[100];

	if (n == wn && memcmp(got, want, n) == 0)
		return 0;
	b64(got, n, g);
	b64(want, wn, w);
	print_error("case \"%s\" (%s): got %s, expected %s\n", c->name, how, g, w);
	return 1;
}

/* The expected digest of a case, from its canonical text or its bh. */
static size_t
expected(const struct body_case *c, unsigned char *out)
{
	unsigned int n = 0;
	unsigned char tmp[128];
	long r;

	if (c->canon != NULL) {
		EVP_Digest(c->canon, strlen(c->canon), out, &n,
		    strcmp(c->md, "sha1") ? EVP_sha256() : EVP_sha1(), NULL);
		if (c->bh != NULL) {
			r = am_dkim_base64(c->bh, strlen(c->bh), tmp, sizeof(tmp));
			assert_int_equal(r, n);
			assert_memory_equal(tmp, out, n);
		}
		return n;
	}
	return (size_t)am_dkim_base64(c->bh, strlen(c->bh), out, 64);
}

static void
test_body_table(void **state)
{
	unsigned char want[64], one[64], got[64];
	size_t i, a, b, len, wn, n1, n, cuts[2];
	int bad = 0;
	char how[64];

	(void)state;
	for (i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
		const struct body_case *c = &body_cases[i];
		enum am_dkim_canon cn = c->relaxed ? AM_DKIM_RELAXED :
		    AM_DKIM_SIMPLE;
		len = strlen(c->body);
		wn = expected(c, want);
		n1 = stream(cn, c->md, c->l, c->body, len, NULL, 0, one);
		bad += check_digest(c, one, n1, want, wn, "one shot");
		for (a = 0; a <= len; a++) {
			cuts[0] = a;
			n = stream(cn, c->md, c->l, c->body, len, cuts, 1, got);
			snprintf(how, sizeof(how), "split at %zu", a);
			bad += check_digest(c, got, n, one, n1, how);
			for (b = a; b <= len; b++) {
				cuts[1] = b;
				n = stream(cn, c->md, c->l, c->body, len, cuts, 2,
				    got);
				snprintf(how, sizeof(how), "split at %zu,%zu", a, b);
				bad += check_digest(c, got, n, one, n1, how);
			}
		}
	}
	assert_int_equal(bad, 0);
}

/* The RFC text read literally, on a whole body; returns a malloc'd string. */
static char *
naive(int relaxed, const char *body, size_t len, size_t *outlen)
{
	char *o = malloc(len + 3);
	size_t i = 0, n = 0, ls;

	while (i < len) {
		ls = n;
		while (i < len && !(body[i] == '\r' && i + 1 < len &&
		    body[i + 1] == '\n')) {
			int ws = body[i] == ' ' || body[i] == '\t';
			if (relaxed && ws) {
				while (i < len && (body[i] == ' ' || body[i] == '\t'))
					i++;
				o[n++] = ' ';
				continue;
			}
			o[n++] = body[i++];
		}
		if (relaxed)
			while (n > ls && o[n - 1] == ' ')
				n--;
		if (i < len) {
			o[n++] = '\r';
			o[n++] = '\n';
			i += 2;
		}
	}
	while (n >= 2 && o[n - 2] == '\r' && o[n - 1] == '\n')
		n -= 2;
	if (n > 0 || !relaxed) {
		o[n++] = '\r';
		o[n++] = '\n';
	}
	*outlen = n;
	return o;
}

static void
test_body_random(void **state)
{
	static const char alpha[] = "ab \t\r\n\r\n";
	unsigned char want[64], got[64];
	char body[48], *cn;
	size_t len, k, cuts[3], nc, wn, n;
	unsigned seed = 12345;
	int iter, relaxed, bad = 0;
	int64_t l;

	(void)state;
	for (iter = 0; iter < 20000 && bad < 5; iter++) {
		seed = seed * 1103515245u + 12345u;
		len = (seed >> 16) % sizeof(body);
		for (k = 0; k < len; k++) {
			seed = seed * 1103515245u + 12345u;
			body[k] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
		}
		relaxed = iter & 1;
		cn = naive(relaxed, body, len, &wn);
		l = (iter % 3 == 0) ? (int64_t)((seed >> 8) % (wn + 1)) : -1;
		if (l >= 0)
			wn = (size_t)l;
		EVP_Digest(cn, wn, want, NULL, EVP_sha256(), NULL);
		for (nc = 0; nc < 3; nc++) {
			seed = seed * 1103515245u + 12345u;
			cuts[nc] = len ? (seed >> 16) % (len + 1) : 0;
			if (nc > 0 && cuts[nc] < cuts[nc - 1])
				cuts[nc] = cuts[nc - 1];
		}
		n = stream(relaxed ? AM_DKIM_RELAXED : AM_DKIM_SIMPLE, "sha256",
		    l, body, len, cuts, 3, got);
		if (n != 32 || memcmp(got, want, 32) != 0) {
			print_error("random case %d (%s, l=%lld, len %zu, cuts "
			    "%zu %zu %zu): digest differs from the naive model "
			    "\"%.*s\"\n", iter, relaxed ? "relaxed" : "simple",
			    (long long)l, len, cuts[0], cuts[1], cuts[2],
			    (int)wn, cn);
			bad++;
		}
		free(cn);
	}
	assert_int_equal(bad, 0);
}

static void
test_body_params(void **state)
{
	struct am_dkim_bh *bh;
	unsigned char out[64];
	uint64_t clen;

	(void)state;
	assert_null(am_dkim_bh_new(AM_DKIM_SIMPLE, "md5", -1));
	bh = am_dkim_bh_new(AM_DKIM_RELAXED, "sha256", 10);
	assert_true(am_dkim_bh_is(bh, AM_DKIM_RELAXED, "sha256", 10));
	assert_false(am_dkim_bh_is(bh, AM_DKIM_RELAXED, "sha256", -1));
	assert_false(am_dkim_bh_is(bh, AM_DKIM_SIMPLE, "sha256", 10));
	am_dkim_bh_update(bh, (const unsigned char *)"abc\r\n", 5);
	assert_int_equal(am_dkim_bh_final(bh, out, &clen), 32);
	assert_int_equal(clen, 5);	/* l=10 exceeds this body */
	am_dkim_bh_free(bh);
	assert_null(am_dkim_bh_free(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_table),
		cmocka_unit_test(test_body_table),
		cmocka_unit_test(test_body_random),
		cmocka_unit_test(test_body_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
