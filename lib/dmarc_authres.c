/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dmarc_authres: names of DMARC values and the Authentication-Results text
 * of a DMARC result (RFC 8601 s.2.7.1 "dmarc" method, RFC 9989 s.9.1).
 *
 * The policy properties go in a comment, as large receivers write them:
 *   dmarc=fail (p=reject sp=quarantine dis=quarantine) header.from=ex.com
 * Errors carry their reason in the comment instead. Comment text is made
 * safe for ctext: "(", ")" and "\" are quoted, control bytes dropped.
 */
#include <string.h>

#include "dmarc.h"

const char *
am_dmarc_result_name(enum am_dmarc_result r)
{
	switch (r) {
	case AM_DMARC_NONE:
		return "none";
	case AM_DMARC_PASS:
		return "pass";
	case AM_DMARC_FAIL:
		return "fail";
	case AM_DMARC_TEMPERROR:
		return "temperror";
	case AM_DMARC_PERMERROR:
		return "permerror";
	}
	return "unknown";
}

const char *
am_dmarc_policy_name(enum am_dmarc_policy p)
{
	switch (p) {
	case AM_DMARC_P_UNSET:
		return "unset";
	case AM_DMARC_P_NONE:
		return "none";
	case AM_DMARC_P_QUARANTINE:
		return "quarantine";
	case AM_DMARC_P_REJECT:
		return "reject";
	}
	return "unknown";
}

/* Names of RFC 9990 PolicyOverrideType values where there is one. */
const char *
am_dmarc_override_name(enum am_dmarc_override o)
{
	switch (o) {
	case AM_DMARC_OVR_NONE:
		return "none";
	case AM_DMARC_OVR_SAMPLED_OUT:
		return "sampled_out";
	case AM_DMARC_OVR_TEST_MODE:
		return "policy_test_mode";
	case AM_DMARC_OVR_TRUSTED_FORWARDER:
		return "trusted_forwarder";
	case AM_DMARC_OVR_MAILING_LIST:
		return "mailing_list";
	case AM_DMARC_OVR_LOCAL_POLICY:
		return "local_policy";
	}
	return "unknown";
}

/* Append s as comment text. */
static void
add_ctext(struct am_buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			continue;
		if (c == '(' || c == ')' || c == '\\')
			am_buf_addc(out, '\\');
		am_buf_addc(out, c);
	}
}

/* "(p=reject sp=reject dis=none)" */
static void
policy_comment(const struct am_dmarc_response *res, struct am_buf *out)
{
	const struct am_dmarc_record *r = &res->rec;

	am_buf_printf(out, " (p=%s sp=%s", am_dmarc_policy_name(r->p),
	    am_dmarc_policy_name(r->sp != AM_DMARC_P_UNSET ? r->sp : r->p));
	if (r->np != AM_DMARC_P_UNSET)
		am_buf_printf(out, " np=%s", am_dmarc_policy_name(r->np));
	if (res->mode == AM_DMARC_RFC9989 && r->t == 'y')
		am_buf_adds(out, " t=y");
	am_buf_printf(out, " dis=%s", am_dmarc_policy_name(res->disposition));
	if (res->override != AM_DMARC_OVR_NONE)
		am_buf_printf(out, " override=%s",
		    am_dmarc_override_name(res->override));
	am_buf_addc(out, ')');
}

void
am_dmarc_authres(const struct am_dmarc_response *res, int policy_prop,
    struct am_buf *out)
{
	int decided = res->result == AM_DMARC_PASS ||
	    res->result == AM_DMARC_FAIL;

	am_buf_printf(out, "dmarc=%s", am_dmarc_result_name(res->result));
	if (decided)
		policy_comment(res, out);
	else if (res->why.len > 0 && res->result != AM_DMARC_NONE) {
		am_buf_adds(out, " (");
		add_ctext(out, am_buf_str(&res->why));
		am_buf_addc(out, ')');
	}
	if (res->from_domain[0] != '\0')
		am_buf_printf(out, " header.from=%s", res->from_domain);
	if (policy_prop && decided)
		am_buf_printf(out, " policy.dmarc=%s",
		    am_dmarc_policy_name(res->disposition));
}
