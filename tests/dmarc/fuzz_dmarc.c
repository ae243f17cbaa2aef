/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_dmarc: libFuzzer target for the DMARC module's parsers of hostile
 * text: the From field parser (am_from_parse), the DMARC record parser
 * (am_dmarc_record_parse) and the A-label conversion (am_psl_to_ascii).
 * Run for a bounded time by tests/dmarc/run_fuzz_dmarc.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dmarc.h"
#include "from.h"
#include "psl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct am_buf why = AM_BUF_INIT(256);
	struct am_dmarc_record rec;
	struct am_from f;
	char out[AM_DNS_NAME_MAX + 1], *s;

	memset(&f, 0, sizeof(f));
	(void)am_from_parse((const char *)data, size, &f, &why);
	(void)am_dmarc_record_parse((const char *)data, size, &rec);
	if ((s = malloc(size + 1)) != NULL) {
		memcpy(s, data, size);
		s[size] = '\0';
		(void)am_psl_to_ascii(s, out, sizeof(out));
		free(s);
	}
	am_buf_release(&why);
	return 0;
}
