/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * spf: entry points of the SPF module (RFC 7208). See spf.h.
 *
 * The identities (s.2.3 HELO, s.2.4 MAIL FROM: a null reverse-path is
 * checked as postmaster@HELO), the <sender> with "postmaster" for a missing
 * local part (s.4.3), the validated names of the client shared by the ptr
 * mechanism and %{p} (s.5.5: the first 10 PTR names, each kept when one of
 * its A/AAAA records is the client), and responses. A <domain>, %{o} or
 * %{h} with U-labels is used as its A-labels (RFC 8616 s.4, lib/idna).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "idna.h"
#include "spf_int.h"

#define REASON_MAX 512

void
spf_ctx_init(struct spf_ctx *c, struct am_dns *dns,
    const struct am_spf_request *req, struct am_spf_response *r)
{
	const char *s = req->sender != NULL ? req->sender : "";
	const char *at = strrchr(s, '@');
	const char *helo = req->helo != NULL ? req->helo : "";
	char a[AM_DNS_NAME_MAX + 1];
	char *p;

	memset(c, 0, sizeof(*c) - sizeof(c->valid));
	c->dns = dns;
	c->req = req;
	c->r = r;
	if (*s == '\0')
		snprintf(c->sender, sizeof(c->sender), "postmaster@%s", helo);
	else if (at == NULL || at == s)
		snprintf(c->sender, sizeof(c->sender), "postmaster%s%s",
		    at == NULL ? "@" : "", s);
	else
		snprintf(c->sender, sizeof(c->sender), "%s", s);
	p = strrchr(c->sender, '@');
	c->local_len = p != NULL ? (size_t)(p - c->sender) : strlen(c->sender);
	c->local_8bit = !am_idna_is_ascii(c->sender, c->local_len);
	/* RFC 8616: %{o} and %{h} of an IDN expand to A-labels. */
	if (p != NULL && !am_idna_is_ascii(p + 1, strlen(p + 1)) &&
	    am_idna_to_ascii(p + 1, a, NULL) == AM_IDNA_OK)
		snprintf(p + 1, sizeof(c->sender) - c->local_len - 1, "%s", a);
	c->helo = helo;
	if (!am_idna_is_ascii(helo, strlen(helo)) &&
	    am_idna_to_ascii(helo, c->helo_a, NULL) == AM_IDNA_OK)
		c->helo = c->helo_a;
}

void
spf_rev_name(const struct am_addr *a, char *out, size_t len, int upper)
{
	const char *hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t o = 0;
	int i;

	if (a->family != AF_INET6) {
		snprintf(out, len, "%u.%u.%u.%u.in-addr.arpa", a->b[3],
		    a->b[2], a->b[1], a->b[0]);
		return;
	}
	for (i = 15; i >= 0 && o + 4 < len; i--) {
		out[o++] = hex[a->b[i] & 15];
		out[o++] = '.';
		out[o++] = hex[a->b[i] >> 4];
		out[o++] = '.';
	}
	snprintf(out + o, len - o, "ip6.arpa");
}

int
spf_name_under(const char *name, const char *parent)
{
	size_t n = strlen(name), p = strlen(parent);

	if (p > 0 && parent[p - 1] == '.')
		p--;
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n < p || strncasecmp(name + n - p, parent, p) != 0)
		return 0;
	return n == p || (p > 0 && name[n - p - 1] == '.') || p == 0;
}

/* 1 when name has an A/AAAA record equal to the client. */
static int
name_validates(struct spf_ctx *c, const char *name)
{
	int v6 = c->req->ip.family == AF_INET6;
	struct am_dns_answer *ans;
	struct am_addr a;
	size_t i;
	int ok = 0;

	if (am_dns_query(c->dns, name, v6 ? AM_DNS_T_AAAA : AM_DNS_T_A, &ans,
	    NULL) != AM_DNS_OK) {
		am_dns_answer_free(ans);
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.family = v6 ? AF_INET6 : AF_INET;
	for (i = 0; i < ans->count && !ok; i++) {
		if (ans->rr[i].type != ans->type)
			continue;
		memcpy(a.b, ans->rr[i].addr, v6 ? 16 : 4);
		ok = am_addr_match(&a, &c->req->ip, v6 ? 128 : 32);
	}
	am_dns_answer_free(ans);
	return ok;
}

void
spf_ptr_validate(struct spf_ctx *c)
{
	char rev[80];
	struct am_dns_answer *ans;
	const char *name;
	size_t i, seen = 0;

	if (c->ptr_done)
		return;
	c->ptr_done = 1;
	c->nvalid = 0;
	c->ptr_status = AM_DNS_TEMPFAIL;
	if (c->dns == NULL)
		return;
	spf_rev_name(&c->req->ip, rev, sizeof(rev), 0);
	c->ptr_status = am_dns_query(c->dns, rev, AM_DNS_T_PTR, &ans, NULL);
	if (c->ptr_status == AM_DNS_OK && ans->count == 0)
		c->ptr_status = AM_DNS_NODATA;
	for (i = 0; c->ptr_status == AM_DNS_OK && i < ans->count &&
	    seen < SPF_MAX_PTR; i++) {
		if (ans->rr[i].type != AM_DNS_T_PTR || ans->rr[i].text == NULL)
			continue;
		seen++;
		name = ans->rr[i].text;
		if (strlen(name) <= AM_DNS_NAME_MAX && name_validates(c, name))
			snprintf(c->valid[c->nvalid++], sizeof(c->valid[0]),
			    "%s", name);
	}
	am_dns_answer_free(ans);
}

static void
lower_copy(char *out, size_t len, const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i];
	out[i] = '\0';
}

/*
 * A domain with non-ASCII bytes as A-labels into r->domain; one that
 * cannot be converted is none, as any malformed domain (RFC 7208 s.4.3).
 */
static int
alabels(const char *domain, struct am_spf_response *r)
{
	char a[AM_DNS_NAME_MAX + 1];
	struct am_buf why = AM_BUF_INIT(128);
	int ret = 0;

	r->dns_terms = r->void_lookups = 0;
	if (am_idna_to_ascii(domain, a, &why) == AM_IDNA_OK)
		snprintf(r->domain, sizeof(r->domain), "%s", a);
	else {
		am_buf_setf(&r->reason, "invalid domain: not a valid IDN (%s)",
		    am_buf_str(&why));
		r->result = AM_SPF_NONE;
		ret = -1;
	}
	am_buf_release(&why);
	return ret;
}

enum am_spf_result
am_spf_check_host(struct am_dns *dns, const struct am_spf_request *req,
    const char *domain, struct am_spf_response *r)
{
	struct spf_ctx *c;

	am_buf_reset(&r->reason);
	am_buf_reset(&r->explanation);
	lower_copy(r->domain, sizeof(r->domain), domain);
	/* RFC 8616 s.4: a domain with U-labels is checked as its A-labels. */
	if (!am_idna_is_ascii(domain, strlen(domain))) {
		if (alabels(domain, r) != 0)
			return r->result;
		domain = r->domain;
	}
	if ((c = malloc(sizeof(*c))) == NULL) {
		am_buf_setf(&r->reason, "out of memory");
		return r->result = AM_SPF_TEMPERROR;
	}
	spf_ctx_init(c, dns, req, r);
	r->result = spf_check_host(c, domain, 0, 0);
	r->dns_terms = c->terms;
	r->void_lookups = c->voids;
	if (r->result != AM_SPF_FAIL)
		am_buf_reset(&r->explanation);
	free(c);
	return r->result;
}

/* check_host() of the HELO name with postmaster@HELO, reported as id. */
static enum am_spf_result
helo_check(struct am_dns *dns, const struct am_spf_request *req,
    struct am_spf_response *r, const char *id)
{
	struct am_spf_request q = *req;

	snprintf(r->identity, sizeof(r->identity), "%s", id);
	q.sender = "";
	if (req->helo == NULL || *req->helo == '\0') {
		am_buf_reset(&r->explanation);
		am_buf_setf(&r->reason, "no HELO name");
		r->domain[0] = '\0';
		return r->result = AM_SPF_NONE;
	}
	return am_spf_check_host(dns, &q, req->helo, r);
}

enum am_spf_result
am_spf_mailfrom(struct am_dns *dns, const struct am_spf_request *req,
    struct am_spf_response *r)
{
	const char *s = req->sender != NULL ? req->sender : "";
	const char *at = strrchr(s, '@');

	/* s.2.4: a null reverse-path is checked as postmaster@HELO. */
	if (*s == '\0')
		return helo_check(dns, req, r, "mailfrom");
	snprintf(r->identity, sizeof(r->identity), "mailfrom");
	return am_spf_check_host(dns, req, at != NULL ? at + 1 : s, r);
}

enum am_spf_result
am_spf_helo(struct am_dns *dns, const struct am_spf_request *req,
    struct am_spf_response *r)
{
	return helo_check(dns, req, r, "helo");
}

void
am_spf_response_init(struct am_spf_response *r)
{
	memset(r, 0, sizeof(*r));
	r->result = AM_SPF_NONE;
	am_buf_init(&r->reason, REASON_MAX);
	am_buf_init(&r->explanation, AM_SPF_EXPAND_MAX);
}

void
am_spf_response_release(struct am_spf_response *r)
{
	am_buf_release(&r->reason);
	am_buf_release(&r->explanation);
}

const char *
am_spf_result_name(enum am_spf_result r)
{
	switch (r) {
	case AM_SPF_NONE: return "none";
	case AM_SPF_NEUTRAL: return "neutral";
	case AM_SPF_PASS: return "pass";
	case AM_SPF_FAIL: return "fail";
	case AM_SPF_SOFTFAIL: return "softfail";
	case AM_SPF_TEMPERROR: return "temperror";
	case AM_SPF_PERMERROR: return "permerror";
	}
	return "unknown";
}
