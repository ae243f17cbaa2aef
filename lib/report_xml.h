/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_xml: RFC 9990 aggregate report XML (namespace
 * urn:ietf:params:xml:ns:dmarc-2.0, Appendix A schema), streamed.
 *
 * am_report_xml_write() writes one report -- one policy domain, one period
 * (RFC 9990 s.2.1: "each report MUST contain data for only one Policy
 * Domain") -- reading the store's groups one at a time and writing each
 * <record> as it comes, so memory does not grow with the number of rows.
 * The published policy is the last one seen in the period (s.2.1: "SHOULD
 * note only the final configuration observed").
 *
 * Every string from the store is escaped (am_report_xml_escape()): the
 * output is well-formed UTF-8 XML whatever the rows hold. Values the
 * schema restricts to a word list are checked against it: an optional
 * element with a value outside it is left out, a required one gets the
 * neutral word ("none", "fail"). At most AM_REPORT_DKIM_MAX <dkim>
 * results are written per record (s.2.1.2).
 *
 * The Report-ID (am_report_id()) is derived from the submitter, domain and
 * period, so a re-sent report carries the same ID and file name (s.3.5.2:
 * "MUST use the same filename"); it is 32 hex digits, valid both as the
 * filename's unique-id (1*(ALPHA / DIGIT)) and as ridtxt.
 */
#ifndef AM_REPORT_XML_H
#define AM_REPORT_XML_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "report_store.h"

#define AM_REPORT_ID_LEN 32

struct am_report_meta {
	const char *org_name;          /* ReportOrgName */
	const char *email;             /* ReportEmail */
	const char *extra_contact;     /* NULL: left out */
	const char *report_id;         /* am_report_id() */
	const char *generator;         /* NULL: left out */
	int64_t begin, end;            /* the period, end inclusive */
};

/* Output sink: write n bytes; 0, or -1 (the write stops). */
typedef int (*am_report_out)(void *arg, const void *p, size_t n);

/*
 * Write the report of domain for m's period from store s to out.
 * Returns 0; 1 when the period has no rows for domain (nothing written);
 * -1 with why on a store or output error (the output is then incomplete
 * and must be thrown away).
 */
int am_report_xml_write(struct am_report_store *s,
    const struct am_report_meta *m, const char *domain, am_report_out out,
    void *arg, struct am_buf *why);

/*
 * Append s to out escaped for XML 1.0 character data: & < > " ' as entity
 * references, TAB LF CR as character references, other C0 and C1 controls,
 * DEL, U+FFFE, U+FFFF and every byte that is not part of valid UTF-8
 * (overlong forms, surrogates, beyond U+10FFFF) as U+FFFD.
 */
void am_report_xml_escape(struct am_buf *out, const char *s);

/*
 * The Report-ID of submitter's report for domain and [begin, end]: 32
 * lower-case hex digits (SHA-256 prefix) and a NUL into out.
 */
void am_report_id(const char *submitter, const char *domain, int64_t begin,
    int64_t end, char out[AM_REPORT_ID_LEN + 1]);

#endif
