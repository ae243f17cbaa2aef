/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for lib/from.c, the From field parser (RFC 5322 s.3.4,
 * s.4.4, RFC 6532), and lib/idna.c, which turns each domain it finds into
 * lower-case A-labels (RFC 8616). Input: the first byte picks one field
 * value (am_from_parse; bits 0-1 = 00), a whole header block
 * (am_from_parse_hdrs, see fuzz_hdrs.h; 01) or a domain for
 * am_idna_to_ascii alone (1x); the rest is the text. Properties: every
 * domain found is already in canonical form (converting it again gives it
 * back), and so is every conversion's output. Run by run_fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "from.h"
#include "idna.h"
#include "fuzz_hdrs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* in must convert to itself. */
static void
check_canonical(const char *in)
{
	char out[AM_DNS_NAME_MAX + 1];

	if (am_idna_to_ascii(in, out, NULL) != AM_IDNA_OK ||
	    strcmp(in, out) != 0 || !am_idna_equal(in, out))
		__builtin_trap();
}

static void
run_idna(const char *s, size_t n)
{
	struct am_buf why = AM_BUF_INIT(256);
	char out[AM_DNS_NAME_MAX + 1], *in;

	if ((in = malloc(n + 1)) == NULL)
		return;
	memcpy(in, s, n);
	in[n] = '\0';
	if (am_idna_to_ascii(in, out, &why) == AM_IDNA_OK)
		check_canonical(out);
	(void)am_idna_is_ascii(s, n);
	free(in);
	am_buf_release(&why);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct am_buf why = AM_BUF_INIT(256);
	struct am_hdrs h;
	struct am_from f;
	size_t i;

	if (size == 0)
		return 0;
	if (data[0] & 2) {
		run_idna((const char *)data + 1, size - 1);
		return 0;
	}
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
		check_canonical(f.domain[i]);
	}
	am_buf_release(&why);
	return 0;
}
