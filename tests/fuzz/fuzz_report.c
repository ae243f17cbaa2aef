/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for the report code that reads hostile text: the rua
 * URI parser and splitter (lib/report_uri.c), the XML escaper (lib/report_xml.c), the
 * list decoder and the UTF-8 cleaner (lib/report_store.c). Besides not
 * crashing, it checks what the callers rely on: an accepted address is a
 * plain local@host with no byte a command line or header could misread,
 * escaped text is valid UTF-8 with no raw '<' or '&' and no control
 * character, and cleaned text is valid UTF-8. The failure report writer
 * (lib/report_afrf.c) gets the input as every field it prints: its
 * message must stay 7-bit, free of CR and NUL, with lines of at most 998
 * bytes and exactly its own MIME boundaries. Run by run_fuzz_report.sh
 * for a bounded time in make check.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_afrf.h"
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

/* The AFRF message with every field from in; abort when it is unsafe. */
static void
check_afrf(const char *in)
{
	struct am_report_failure_entry e;
	struct am_report_afrf a;
	const char *bnd = "\n--=_am_fail_7_f00d";
	char *text = NULL;
	const char *p;
	size_t len = 0, line = 0, n = 0;
	FILE *f;
	int rc;

	memset(&e, 0, sizeof(e));
	e.id = 7;
	e.source_ip = e.policy_domain = e.header_from = e.mail_from = in;
	e.identity_alignment = e.delivery_result = e.dkim_domain = in;
	e.dkim_selector = e.dkim_identity = e.authres = e.headers = in;
	memset(&a, 0, sizeof(a));
	a.from = a.to = a.submitter = a.user_agent = a.spf_dns = in;
	a.token = "f00d";
	a.e = &e;
	if ((f = open_memstream(&text, &len)) == NULL)
		return;
	rc = am_report_afrf_write(&a, f, NULL);
	fclose(f);
	for (p = text; rc == 0 && p < text + len; p++) {
		if (*p == '\0' || *p == '\r' || (unsigned char)*p >= 0x80)
			abort();
		line = *p == '\n' ? 0 : line + 1;
		if (line > 998)
			abort();
	}
	/* three parts and the close, whatever the input holds */
	for (p = text; rc == 0 && (p = strstr(p, bnd)) != NULL; p++)
		n++;
	if (rc == 0 && n != 4)
		abort();
	free(text);
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
	check_afrf(in);
	am_buf_release(&out);
	am_buf_release(&tmp);
	free(in);
	return 0;
}
