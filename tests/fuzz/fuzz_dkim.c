/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for the DKIM parsers of hostile input: the first byte
 * picks the DKIM-Signature parser (lib/dkim_sig.c, with the tag-list parser
 * of lib/dkim_tag.c under it; low bits 01), the key record parser
 * (lib/dkim_key.c, which also decodes base64 and hands DER to OpenSSL; 00)
 * or a whole message (bit 1 set): a header block (see fuzz_hdrs.h), an
 * empty line and the body through the verifier (lib/dkim.c: header and
 * body canonicalization, l=, h= selection, key fetch on a fake DNS that
 * gives every selector the same Ed25519 key, RFC 8463 s.A.2: fuzz_keydns.c).
 * Run by run_fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dkim.h"
#include "dkim_int.h"
#include "fuzz_hdrs.h"
#include "fuzz_keydns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A whole message through the verifier. */
static void
verify_message(const char *s, size_t size)
{
	struct am_dkim_conf conf = { 1024, 10, 1700000000, NULL };
	const char *sep;
	size_t hlen = size, blen = 0, i;
	struct am_hdrs h;
	struct am_dns *d;
	struct am_dkim *k;

	if ((sep = memmem(s, size, "\n\n", 2)) != NULL ||
	    (sep = memmem(s, size, "\n\r\n", 3)) != NULL) {
		hlen = (size_t)(sep - s) + 1;
		blen = size - hlen - (sep[1] == '\r' ? 2 : 1);
	}
	if ((d = am_dns_new(&fuzz_keydns_backend, NULL)) == NULL)
		return;
	if ((k = am_dkim_new(&conf, d)) != NULL) {
		am_hdrs_init(&h, 1000, 1 << 20);
		fuzz_hdrs_fill(&h, s, hlen);
		am_dkim_headers(k, &h);
		/* in two chunks, split where the body's first byte says */
		i = blen > 0 ? (unsigned char)s[size - blen] % (blen + 1) : 0;
		am_dkim_body(k, (const unsigned char *)s + size - blen, i);
		am_dkim_body(k, (const unsigned char *)s + size - blen + i,
		    blen - i);
		am_dkim_finish(k);
		for (i = 0; i < am_dkim_count(k); i++)
			if (am_dkim_sig(k, i) == NULL)
				__builtin_trap();
		am_dkim_free(k);
		am_hdrs_release(&h);
	}
	am_dns_free(d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct am_dkim_sigparams sp;
	struct am_dkim_key key;
	struct am_buf why = AM_BUF_INIT(256);

	if (size == 0)
		return 0;
	if (data[0] & 2) {
		verify_message((const char *)data + 1, size - 1);
		return 0;
	}
	if (data[0] & 1) {
		(void)am_dkim_sig_parse((const char *)data + 1, size - 1, &sp,
		    &why);
		am_dkim_sig_release(&sp);
	} else {
		(void)am_dkim_key_parse((const char *)data + 1, size - 1, &key,
		    &why);
		am_dkim_key_release(&key);
	}
	am_buf_release(&why);
	return 0;
}
