/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for ARC (RFC 8617): a hostile header block and body go
 * through the set parser and chain rules (lib/arc_parse.c, lib/arc.c: i=,
 * the AMS/AS tag lists, cv=, the s.5.2 structure checks), the AAR reader,
 * key fetches on a fake DNS that gives every selector the same Ed25519
 * key (RFC 8463 s.A.2; fuzz_keydns.c), and then our own seal over that
 * chain (lib/arc_sign.c) with a throw-away Ed25519 key. Each field of the
 * block is also handed to am_arc_instance() and am_arc_sig_parse() directly.
 *
 * Input: a header block (see fuzz_hdrs.h), optionally followed by an empty
 * line and the body. Run by run_fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "arc.h"
#include "fuzz_hdrs.h"
#include "fuzz_keydns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Our sealing key, made once. */
static struct am_arc_key *
seal_key(void)
{
	static struct am_arc_key *key;
	struct am_buf why = AM_BUF_INIT(256);
	EVP_PKEY *pk;
	BIO *bio;
	char *pem;
	long n;

	if (key != NULL)
		return key;
	if ((pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL ||
	    (bio = BIO_new(BIO_s_mem())) == NULL)
		abort();
	if (PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (n = BIO_get_mem_data(bio, &pem)) <= 0 ||
	    (key = am_arc_key_from_pem(pem, (size_t)n, &why)) == NULL)
		abort();
	BIO_free(bio);
	EVP_PKEY_free(pk);
	am_buf_release(&why);
	return key;
}

/* Each ARC field through the building blocks, one by one. */
static void
parse_fields(const struct am_hdrs *h)
{
	struct am_buf why = AM_BUF_INIT(256);
	struct am_arc_sig sig;
	unsigned inst;
	size_t i;
	int kind;

	for (i = 0; i < h->n; i++) {
		if ((kind = am_arc_kind_of(&h->v[i])) < 0)
			continue;
		am_buf_reset(&why);
		if (am_arc_instance((enum am_arc_kind)kind, h->v[i].value,
		    h->v[i].vlen, &inst, &why) == 0 &&
		    (inst < 1 || inst > AM_ARC_MAX_INSTANCES))
			__builtin_trap();
		if (kind == AM_ARC_K_AAR)
			continue;
		(void)am_arc_sig_parse((enum am_arc_kind)kind, h->v[i].value,
		    h->v[i].vlen, &sig, &why);
		am_arc_sig_release(&sig);
	}
	am_buf_release(&why);
}

static void
verify_and_seal(const struct am_hdrs *h, const char *body, size_t blen)
{
	struct am_arc_conf conf = { 1024, 1 };
	struct am_arc_seal_params p;
	struct am_arc_sealed out;
	struct am_buf why = AM_BUF_INIT(256);
	const struct am_arc_result *r;
	struct am_dns *d;
	struct am_arc *a;
	unsigned i;

	if ((d = am_dns_new(&fuzz_keydns_backend, NULL)) == NULL)
		return;
	if ((a = am_arc_new(&conf, d)) == NULL) {
		am_dns_free(d);
		return;
	}
	am_arc_headers(a, h);
	am_arc_body(a, (const unsigned char *)body, blen);
	am_arc_finish(a);
	r = am_arc_result(a);
	for (i = 1; r->cv != AM_ARC_NONE && i <= r->count; i++)
		(void)am_arc_set(a, i);
	memset(&p, 0, sizeof(p));
	p.domain = "seal.example";
	p.selector = "s1";
	p.key = seal_key();
	p.authserv_id = "mx.example";
	p.results = "arc=pass; spf=pass smtp.mailfrom=a.example";
	p.now = 1700000000;
	memset(&out, 0, sizeof(out));
	if (am_arc_seal(a, &p, &out, &why) == AM_ARC_SEALED)
		am_arc_sealed_release(&out);
	am_arc_free(a);
	am_dns_free(d);
	am_buf_release(&why);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *sep;
	size_t hlen = size, blen = 0;
	struct am_hdrs h;

	if ((sep = memmem(s, size, "\n\n", 2)) != NULL ||
	    (sep = memmem(s, size, "\n\r\n", 3)) != NULL) {
		hlen = (size_t)(sep - s) + 1;
		blen = size - hlen - (sep[1] == '\r' ? 2 : 1);
	}
	am_hdrs_init(&h, 1000, 1 << 20);
	fuzz_hdrs_fill(&h, s, hlen);
	parse_fields(&h);
	verify_and_seal(&h, s + size - blen, blen);
	am_hdrs_release(&h);
	return 0;
}
