/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for lib/authres.c: the readers of Authentication-Results
 * and ARC-Authentication-Results values from hostile mail (am_authres_id,
 * which decides which A-R fields are forged and removed; am_authres_scan
 * and am_authres_item_prop, which read the ARC override's AAR results),
 * and the writer fed with hostile comments and values, read back by the
 * reader: a value the writer quoted must come back unchanged (RFC 8601
 * s.2.2, RFC 2045 quoted-string). Input: the whole value; the first byte
 * also sets the id buffer size. Run by run_fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authres.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Write "mx.example; dkim=pass (s) header.d=s" and read it back. */
static void
roundtrip(const char *s)
{
	struct am_authres ar;
	struct am_authres_item it[2];
	const char *v, *got;
	size_t i, n = strlen(s), nitems;
	int clean = n > 0 && n < sizeof(it[0].props[0].value);

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			clean = 0;
	am_authres_begin(&ar, "mx.example");
	am_authres_method(&ar, "dkim", "pass", s);
	am_authres_prop(&ar, "header.d", s);
	v = am_authres_end(&ar);
	nitems = am_authres_scan(v, it, 2);
	if (nitems != 1 || strcmp(it[0].method, "dkim") != 0 ||
	    strcmp(it[0].result, "pass") != 0)
		__builtin_trap();
	got = am_authres_item_prop(&it[0], "header.d");
	if (clean && (got == NULL || strcmp(got, s) != 0))
		__builtin_trap();
	am_authres_release(&ar);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct am_authres_item items[16];
	char id[256], *s;
	size_t i, n, idlen;

	if (size == 0 || (s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	idlen = data[0] % sizeof(id);
	if (am_authres_id(s, id, idlen) == 0 && strlen(id) >= idlen)
		__builtin_trap();
	(void)am_authres_id(s, id, sizeof(id));
	n = am_authres_scan(s, items, 16);
	for (i = 0; i < n; i++) {
		(void)am_authres_item_prop(&items[i], "header.d");
		(void)am_authres_item_prop(&items[i], "smtp.mailfrom");
	}
	roundtrip(s);
	free(s);
	return 0;
}
