/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for the DKIM parsers of hostile input: the first byte
 * picks the DKIM-Signature parser (lib/dkim_sig.c, with the tag-list parser
 * of lib/dkim_tag.c under it) or the key record parser (lib/dkim_key.c,
 * which also decodes base64 and hands DER to OpenSSL). Run by
 * run_fuzz_dkim.sh for a bounded time in make check.
 */
#include <stddef.h>
#include <stdint.h>

#include "dkim_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct am_dkim_sigparams sp;
	struct am_dkim_key key;
	struct am_buf why = AM_BUF_INIT(256);

	if (size == 0)
		return 0;
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
