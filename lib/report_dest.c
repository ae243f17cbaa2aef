/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_dest: external destination verification (RFC 9990 s.4). See
 * report_dest.h. The rua URI parser is report_uri.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "report_dest.h"

/*
 * The value of tag in a tag=value list ("v=DMARC1; rua=..."), into out;
 * 0 when found.
 */
static int
tag_value(const char *txt, const char *tag, char *out, size_t outsz)
{
	size_t tl = strlen(tag), n;
	const char *p = txt, *e;

	while (*p != '\0') {
		while (*p == ';' || isspace((unsigned char)*p))
			p++;
		e = p + strcspn(p, ";");
		if (strncasecmp(p, tag, tl) == 0) {
			const char *q = p + tl;
			while (q < e && isspace((unsigned char)*q))
				q++;
			if (q < e && *q == '=') {
				q++;
				while (q < e && isspace((unsigned char)*q))
					q++;
				n = (size_t)(e - q);
				while (n > 0 && isspace((unsigned char)q[n - 1]))
					n--;
				snprintf(out, outsz, "%.*s", (int)n, q);
				return 0;
			}
		}
		p = e;
	}
	return -1;
}

/*
 * s.4 step 9: the destination's rua= (ruf= for failure reports) may
 * replace addr, only with a URI at the same host. 0: addr kept or
 * replaced; -1: a foreign host is named.
 */
static int
apply_override(const char *txt, const char *tag,
    char addr[AM_REPORT_ADDR_MAX], const char *host, struct am_buf *why)
{
	char list[1024], a[AM_REPORT_ADDR_MAX], h[AM_DNS_NAME_MAX + 1];
	char *uri, *save = NULL;
	int replaced = 0;

	if (tag_value(txt, tag, list, sizeof(list)) != 0)
		return 0;
	for (uri = strtok_r(list, ",", &save); uri != NULL;
	    uri = strtok_r(NULL, ",", &save)) {
		if (am_report_rua_mailto(uri, a, h, NULL) != 0)
			continue;
		if (strcmp(h, host) != 0) {
			am_buf_setf(why, "the record at the destination names "
			    "another host (%s)", h);
			return -1;
		}
		if (!replaced) {
			memcpy(addr, a, AM_REPORT_ADDR_MAX);
			replaced = 1;
		}
	}
	return 0;
}

static enum am_report_dest
verify(const struct am_dmarc_conf *conf, struct am_dns *dns,
    const char *policy_domain, char addr[AM_REPORT_ADDR_MAX],
    const char *host, const char *tag, struct am_buf *why)
{
	char org_p[AM_DNS_NAME_MAX + 1], org_h[AM_DNS_NAME_MAX + 1];
	char name[2 * AM_DNS_NAME_MAX + 32];
	struct am_dmarc_record rec;
	struct am_dns_answer *ans = NULL;
	enum am_dns_status st;
	unsigned queries = 0;
	size_t i;
	int ok = 0;

	if (am_dmarc_org_domain(conf, dns, policy_domain, org_p, &queries,
	    why) != AM_DNS_OK ||
	    am_dmarc_org_domain(conf, dns, host, org_h, &queries, why) !=
	    AM_DNS_OK)
		return AM_REPORT_DEST_TEMPFAIL;
	if (strcasecmp(org_p, org_h) == 0)
		return AM_REPORT_DEST_OK;
	/* steps 1-4: the name, refused if over DNS limits */
	if ((size_t)snprintf(name, sizeof(name), "%s._report._dmarc.%s",
	    policy_domain, host) >= sizeof(name) ||
	    am_dns_name_check(name, NULL) != 0) {
		am_buf_setf(why, "%s._report._dmarc.%s is not a valid name",
		    policy_domain, host);
		return AM_REPORT_DEST_REFUSED;
	}
	st = am_dns_query(dns, name, AM_DNS_T_TXT, &ans, why);
	if (st == AM_DNS_TEMPFAIL)
		return AM_REPORT_DEST_TEMPFAIL;
	for (i = 0; ans != NULL && i < ans->count && !ok; i++) {
		const struct am_dns_rr *rr = &ans->rr[i];
		/* steps 6-8: v=DMARC1 first; the rest need not be a policy */
		if (rr->type != AM_DNS_T_TXT || rr->text == NULL ||
		    strlen(rr->text) != rr->textlen ||
		    am_dmarc_record_parse(rr->text, rr->textlen, &rec) != 1)
			continue;
		ok = 1;
		if (apply_override(rr->text, tag, addr, host, why) != 0) {
			am_dns_answer_free(ans);
			return AM_REPORT_DEST_REFUSED;
		}
	}
	am_dns_answer_free(ans);
	if (!ok) {
		am_buf_setf(why, "%s does not authorize reports for %s (no "
		    "v=DMARC1 record at %s)", host, policy_domain, name);
		return AM_REPORT_DEST_REFUSED;
	}
	return AM_REPORT_DEST_OK;
}

enum am_report_dest
am_report_dest_verify(const struct am_dmarc_conf *conf, struct am_dns *dns,
    const char *policy_domain, char addr[AM_REPORT_ADDR_MAX],
    const char *host, struct am_buf *why)
{
	return verify(conf, dns, policy_domain, addr, host, "rua", why);
}

/* RFC 9991 s.5: the same procedure with "ruf" where it says "rua". */
enum am_report_dest
am_report_dest_verify_ruf(const struct am_dmarc_conf *conf,
    struct am_dns *dns, const char *policy_domain,
    char addr[AM_REPORT_ADDR_MAX], const char *host, struct am_buf *why)
{
	return verify(conf, dns, policy_domain, addr, host, "ruf", why);
}
