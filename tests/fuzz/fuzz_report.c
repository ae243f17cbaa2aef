/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for the report code that reads hostile text: the rua
 * URI parser and splitter (lib/report_uri.c), the XML escaper (lib/report_xml.c), the
 * list decoder and the UTF-8 cleaner (lib/report_store.c). Besides not
 * crashing, it checks what the callers rely on: an accepted address is a
 * plain local@host with no byte a command line or header could misread,
 * escaped text is valid UTF-8 with no raw '<' or '&' and no control
 * character, and cleaned text is valid UTF-8. Run by run_fuzz_report.sh
 * for a bounded time in make check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report_dest.h"
#include "report_store.h"
#include "report_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned cp;
	size_t n;

	for (; *p != '\0'; p += n)
		if ((n = am_report_utf8_seq(p, &cp)) == 0)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char addr[AM_REPORT_ADDR_MAX], host[AM_DNS_NAME_MAX + 1];
	struct am_buf out = AM_BUF_INIT(1 << 20), tmp = AM_BUF_INIT(1 << 20);
	const char *f[4], *pos, *s, *uris[32];
	char *in;
	size_t i;

	if ((in = malloc(size + 1)) == NULL)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (am_report_rua_mailto(in, addr, host, NULL) == 0) {
		if (addr[0] == '-' || strchr(addr, '@') == NULL ||
		    strcmp(strrchr(addr, '@') + 1, host) != 0)
			abort();
		for (i = 0; addr[i] != '\0'; i++)
			if ((unsigned char)addr[i] <= ' ' ||
			    (unsigned char)addr[i] >= 0x7f ||
			    strchr("<>\"(),;:[]\\", addr[i]) != NULL)
				abort();
	}
	am_report_xml_escape(&out, in);
	check_utf8(am_buf_str(&out));
	for (s = am_buf_str(&out); *s != '\0'; s++)
		if (*s == '<' || (unsigned char)*s < ' ' ||
		    (*s == '&' && strncmp(s, "&amp;", 5) != 0 &&
		    strncmp(s, "&lt;", 4) != 0 && strncmp(s, "&gt;", 4) != 0 &&
		    strncmp(s, "&quot;", 6) != 0 && strncmp(s, "&apos;", 6) != 0 &&
		    strncmp(s, "&#", 2) != 0))
			abort();
	check_utf8(am_report_utf8_clean(in, &tmp));
	for (i = am_report_uri_split(in, &tmp, uris, 32); i > 0; i--)
		if (strchr(uris[i - 1], ',') != NULL || *uris[i - 1] == '\0')
			abort();
	for (pos = in; am_report_dec_item(&pos, &tmp, f, 4) > 0;)
		;
	am_buf_release(&out);
	am_buf_release(&tmp);
	free(in);
	return 0;
}
