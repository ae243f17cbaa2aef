/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for the DMARC record (lib/dmarc_record.c: the tag list,
 * p/sp/np, pct, and the rua=/ruf= URI lists) and, through am_dmarc_eval(),
 * the discovery walk (lib/dmarc_walk.c) on a fake DNS that answers every
 * _dmarc TXT query with the input. Input: the first byte picks the record
 * parser alone (even) or the evaluation (odd; bit 1 picks RFC 7489 mode
 * with a small public suffix list, bit 2 a two-string TXT answer split at
 * the middle); the rest is the TXT data. Run by run_fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dmarc.h"
#include "psl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fake {
	const char *txt;
	size_t len;
	int split;
};

static enum am_dns_status
fake_query(void *state, const char *name, int type,
    struct am_dns_answer **ans, struct am_buf *why)
{
	struct fake *f = state;
	struct am_dns_answer *a;
	size_t i, n = f->split ? 2 : 1, half = f->len / 2;

	(void)why;
	if (type != AM_DNS_T_TXT || strncmp(name, "_dmarc.", 7) != 0) {
		*ans = am_dns_answer_new(AM_DNS_NXDOMAIN, type, 0);
		return *ans != NULL ? AM_DNS_NXDOMAIN : AM_DNS_TEMPFAIL;
	}
	if ((a = am_dns_answer_new(AM_DNS_OK, type, n)) == NULL)
		return AM_DNS_TEMPFAIL;
	for (i = 0; i < n; i++) {
		const char *p = f->txt + (i ? half : 0);
		size_t len = f->split ? (i ? f->len - half : half) : f->len;

		a->rr[i].type = type;
		a->rr[i].ttl = 60;
		if ((a->rr[i].text = malloc(len + 1)) == NULL) {
			am_dns_answer_free(a);
			return AM_DNS_TEMPFAIL;
		}
		memcpy(a->rr[i].text, p, len);
		a->rr[i].text[len] = '\0';
		a->rr[i].textlen = len;
	}
	*ans = a;
	return AM_DNS_OK;
}

static const struct am_dns_backend fake_backend = {
	.name = "fuzz", .query = fake_query, .close = NULL,
};

static const char psl_text[] = "// ===BEGIN ICANN DOMAINS===\n"
    "com\nexample\n*.ck\n!www.ck\nco.uk\n"
    "// ===END ICANN DOMAINS===\n";

static void
run_eval(const char *txt, size_t len, unsigned flags)
{
	struct fake f = { txt, len, (flags & 4) != 0 };
	struct am_dmarc_conf conf = { AM_DMARC_RFC9989, NULL };
	struct am_dmarc_dkim dk[2] = {
		{ 1, "mail.example.com" }, { 0, "sub.a.b.example.com" },
	};
	struct am_dmarc_input in;
	struct am_dmarc_response r;
	struct am_buf why = AM_BUF_INIT(256), out = AM_BUF_INIT(1024);
	struct am_psl *psl = NULL;
	struct am_dns *d;

	if ((d = am_dns_new(&fake_backend, &f)) == NULL)
		return;
	if (flags & 2) {
		psl = am_psl_parse(psl_text, sizeof(psl_text) - 1, AM_PSL_ALL,
		    &why);
		conf.mode = AM_DMARC_RFC7489;
		conf.psl = psl;
	}
	memset(&in, 0, sizeof(in));
	in.from_status = AM_FROM_ONE;
	in.from_domain = "a.b.c.sub.a.b.example.com";
	in.spf = AM_SPF_PASS;
	in.spf_domain = "bounce.example.com";
	in.dkim = dk;
	in.ndkim = 2;
	in.sample = 50;
	am_dmarc_response_init(&r);
	(void)am_dmarc_eval(&conf, d, &in, &r);
	am_dmarc_authres(&r, 1, &out);
	am_dmarc_response_release(&r);
	am_psl_free(psl);
	am_dns_free(d);
	am_buf_release(&why);
	am_buf_release(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct am_dmarc_record rec;

	if (size == 0)
		return 0;
	if (data[0] & 1)
		run_eval((const char *)data + 1, size - 1, data[0]);
	else
		(void)am_dmarc_record_parse((const char *)data + 1, size - 1,
		    &rec);
	return 0;
}
