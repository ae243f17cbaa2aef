/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_fo: whether a DMARC record's fo= asks for a failure report
 * (RFC 9989 s.4.7 "fo", RFC 9991 s.2). See am_report_fo_wants() in
 * report.h. Pure: no DNS, no state.
 *
 * fo= is a ':' separated list; each known value adds a reason to report,
 * unknown values are ignored (RFC 9989: "unknown values ... MUST be
 * ignored"), and a list with no known value means the default, "0".
 */
#include <string.h>

#include "report.h"

/* One fo value (len bytes at v, blanks trimmed) against the results. */
static int
value_wants(const char *v, size_t len, const struct am_report_fo_input *in,
    int *known)
{
	while (len > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (len != 1)
		return 0;
	switch (*v) {
	case '0':
		*known = 1;
		return !in->dkim_aligned_pass && !in->spf_aligned_pass;
	case '1':
		*known = 1;
		return !in->dkim_aligned_pass || !in->spf_aligned_pass;
	case 'd':
	case 'D':
		*known = 1;
		return in->dkim_failed;
	case 's':
	case 'S':
		*known = 1;
		return in->spf_failed;
	}
	return 0;
}

int
am_report_fo_wants(const char *fo, const struct am_report_fo_input *in)
{
	const char *p = fo != NULL ? fo : "", *e;
	int known = 0, want = 0;

	if (in->dmarc_temperror)
		return 0;
	for (;;) {
		e = p + strcspn(p, ":");
		want |= value_wants(p, (size_t)(e - p), in, &known);
		if (*e == '\0')
			break;
		p = e + 1;
	}
	if (!known)
		want = !in->dkim_aligned_pass && !in->spf_aligned_pass;
	return want;
}
