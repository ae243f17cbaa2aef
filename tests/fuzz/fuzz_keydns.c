/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_keydns: one Ed25519 key (RFC 8463 s.A.2) for every DKIM selector,
 * NXDOMAIN for anything else. See fuzz_keydns.h.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_keydns.h"

static const char key_txt[] = "v=DKIM1; k=ed25519; "
    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

/* The key record for a TXT query of a selector, else NXDOMAIN. */
static enum am_dns_status
key_query(void *state, const char *name, int type,
    struct am_dns_answer **ans, struct am_buf *why)
{
	struct am_dns_answer *a;

	(void)state;
	(void)why;
	if (type != AM_DNS_T_TXT || strstr(name, "._domainkey.") == NULL) {
		*ans = am_dns_answer_new(AM_DNS_NXDOMAIN, type, 0);
		return *ans != NULL ? AM_DNS_NXDOMAIN : AM_DNS_TEMPFAIL;
	}
	if ((a = am_dns_answer_new(AM_DNS_OK, type, 1)) == NULL)
		return AM_DNS_TEMPFAIL;
	a->rr[0].type = type;
	a->rr[0].ttl = 60;
	if ((a->rr[0].text = strdup(key_txt)) == NULL) {
		am_dns_answer_free(a);
		return AM_DNS_TEMPFAIL;
	}
	a->rr[0].textlen = sizeof(key_txt) - 1;
	*ans = a;
	return AM_DNS_OK;
}

const struct am_dns_backend fuzz_keydns_backend = {
	.name = "fuzz", .query = key_query, .close = NULL,
};
