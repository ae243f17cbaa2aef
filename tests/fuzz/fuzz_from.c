/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for lib/from.c, the From field parser (RFC 5322 s.3.4,
 * s.4.4, RFC 6532), and the A-label conversion of the domains it finds
 * (am_psl_to_ascii, as DMARC does next). Input: the first byte picks one
 * field value (am_from_parse) or a whole header block (am_from_parse_hdrs,
 * see fuzz_hdrs.h); the rest is the text. Run by run_fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "from.h"
#include "psl.h"
#include "fuzz_hdrs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct am_buf why = AM_BUF_INIT(256);
	struct am_hdrs h;
	struct am_from f;
	char out[AM_DNS_NAME_MAX + 1];
	size_t i;

	if (size == 0)
		return 0;
	memset(&f, 0, sizeof(f));
	if (data[0] & 1) {
		/* small caps, so that inputs reach them */
		am_hdrs_init(&h, 20, 2048);
		fuzz_hdrs_fill(&h, (const char *)data + 1, size - 1);
		(void)am_from_parse_hdrs(&h, &f, &why);
		am_hdrs_release(&h);
	} else
		(void)am_from_parse((const char *)data + 1, size - 1, &f, &why);
	(void)am_from_status_name(f.status);
	for (i = 0; i < f.ndomains && i < AM_FROM_MAX_DOMAINS; i++) {
		/* a domain is NUL terminated and fits its slot */
		if (memchr(f.domain[i], '\0', sizeof(f.domain[i])) == NULL)
			__builtin_trap();
		(void)am_psl_to_ascii(f.domain[i], out, sizeof(out));
	}
	am_buf_release(&why);
	return 0;
}
