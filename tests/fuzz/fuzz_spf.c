/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for lib/spf: the record parser (am_spf_record_check),
 * the macro expander (am_spf_macro_expand, domain-spec and explanation
 * contexts) and the whole evaluator (am_spf_check_host) on a fake DNS that
 * answers every TXT query with the input record, so that includes,
 * redirects and the s.4.6.4 limits are exercised.
 *
 * Input: first byte selects the mode (low 2 bits) and the client family
 * (bit 2); the rest is the record or "macro-string\nsender".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spf.h"

struct fake {
	const char *txt;
	size_t len;
};

static enum am_dns_status
fake_query(void *state, const char *name, int type,
    struct am_dns_answer **ans, struct am_buf *why)
{
	struct fake *f = state;
	struct am_dns_answer *a;

	(void)name;
	(void)why;
	if (type == AM_DNS_T_AAAA || type == AM_DNS_T_CNAME) {
		*ans = am_dns_answer_new(AM_DNS_NODATA, type, 0);
		return *ans != NULL ? AM_DNS_NODATA : AM_DNS_TEMPFAIL;
	}
	if ((a = am_dns_answer_new(AM_DNS_OK, type, 1)) == NULL)
		return AM_DNS_TEMPFAIL;
	a->rr[0].type = type;
	if (type == AM_DNS_T_TXT) {
		a->rr[0].text = malloc(f->len + 1);
		if (a->rr[0].text != NULL) {
			memcpy(a->rr[0].text, f->txt, f->len);
			a->rr[0].text[f->len] = '\0';
			a->rr[0].textlen = f->len;
		}
	} else if (type == AM_DNS_T_MX || type == AM_DNS_T_PTR)
		a->rr[0].text = strdup("mx.example.com");
	else
		memcpy(a->rr[0].addr, "\xc0\x00\x02\x01", 4);
	if (type != AM_DNS_T_A && a->rr[0].text == NULL) {
		am_dns_answer_free(a);
		return AM_DNS_TEMPFAIL;
	}
	*ans = a;
	return AM_DNS_OK;
}

static const struct am_dns_backend fake_backend = {
	.name = "fuzz", .query = fake_query, .close = NULL,
};

static void
run_eval(struct am_spf_request *q, const char *rec, size_t len)
{
	struct fake f = { rec, len };
	struct am_dns *d = am_dns_new(&fake_backend, &f);
	struct am_spf_response r;

	if (d == NULL)
		return;
	am_spf_response_init(&r);
	(void)am_spf_check_host(d, q, "example.com", &r);
	am_spf_response_release(&r);
	am_dns_free(d);
}

static void
run_macro(struct am_spf_request *q, const char *s, size_t len, int exp)
{
	struct am_buf out = AM_BUF_INIT(AM_SPF_EXPAND_MAX);
	struct am_buf why = AM_BUF_INIT(256);
	const char *nl = memchr(s, '\n', len);
	char *sender = NULL;

	if (nl != NULL) {
		sender = strndup(nl + 1, len - (size_t)(nl + 1 - s));
		q->sender = sender;
		len = (size_t)(nl - s);
	}
	(void)am_spf_macro_expand(NULL, s, len, q, "email.example.com", exp,
	    &out, &why);
	free(sender);
	am_buf_release(&out);
	am_buf_release(&why);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct am_spf_request q;
	struct am_buf why = AM_BUF_INIT(256);
	const char *s = (const char *)data + 1;
	size_t n = size - 1;

	if (size < 1)
		return 0;
	memset(&q, 0, sizeof(q));
	(void)am_addr_parse(&q.ip, (data[0] & 4) ? "2001:db8::cb01" :
	    "192.0.2.3");
	q.helo = "mail.example.org";
	q.sender = "strong-bad@email.example.com";
	q.receiver = "mx.example.net";
	q.default_exp = "See %{S} %{c}";
	q.now = 1;
	switch (data[0] & 3) {
	case 0:
		(void)am_spf_record_check(s, n, &why);
		break;
	case 1:
	case 2:
		run_macro(&q, s, n, (data[0] & 3) == 2);
		break;
	case 3:
		run_eval(&q, s, n);
		break;
	}
	am_buf_release(&why);
	return 0;
}
