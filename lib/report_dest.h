/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_dest: where an aggregate report may go (RFC 9990 s.3.5, s.4).
 *
 *   am_report_rua_mailto()  (report_uri.c)
 *                           one rua URI -> a mail address we can hand to
 *                           sendmail, or refusal: only mailto URIs
 *                           (s.3.5.2); the obsolete "!size" suffix
 *                           (RFC 7489 s.6.2) is dropped; hfields after
 *                           '?' are ignored; the address must be a plain
 *                           dot-atom local part at a host name
 *   am_report_dest_verify() (report_dest.c)
 *                           external destination verification (s.4): a
 *                           destination outside the policy domain's
 *                           Organizational Domain needs a TXT record
 *                           starting v=DMARC1 at
 *                           <policy-domain>._report._dmarc.<host>; a
 *                           rua= in that record replaces the address when
 *                           its host is the same, and forbids reporting
 *                           when it names another host
 *
 * Organizational Domains come from am_dmarc_org_domain() (the DNS Tree
 * Walk of RFC 9989, or the PSL in RFC 7489 mode), and every query goes
 * through lib/dns.h. No state: any thread may call these.
 */
#ifndef AM_REPORT_DEST_H
#define AM_REPORT_DEST_H

#include <stddef.h>

#include "buf.h"
#include "dmarc.h"
#include "dns.h"

#define AM_REPORT_ADDR_MAX 320   /* 64 local + '@' + 253 domain + NUL */

/*
 * Parse uri. Returns 0 with the address in addr (local@host, host in
 * lower case) and its host in host (AM_DNS_NAME_MAX + 1 bytes); -1 with
 * why when the URI is not mailto or its address is not usable.
 */
int am_report_rua_mailto(const char *uri, char addr[AM_REPORT_ADDR_MAX],
    char host[AM_DNS_NAME_MAX + 1], struct am_buf *why);

/*
 * Split a rua= or ruf= tag value ("mailto:a@x, mailto:b@y!10m") at its
 * commas (RFC 9989 s.4.7: URIs separated by ',' with optional WSP) into
 * at most max URIs, trimmed, copied into scratch (reset first); v[i]
 * point into scratch, valid until it changes. Empty items are skipped.
 * Returns the number of URIs (those beyond max are not counted). For
 * filling struct am_report_row's rua/ruf from a DMARC record.
 */
size_t am_report_uri_split(const char *value, struct am_buf *scratch,
    const char **v, size_t max);

enum am_report_dest {
	AM_REPORT_DEST_OK,        /* send to addr (maybe replaced, see above) */
	AM_REPORT_DEST_REFUSED,   /* no authorization (or a foreign override):
	                             never send to it */
	AM_REPORT_DEST_TEMPFAIL,  /* DNS failed: try again on a later run */
};

/*
 * Decide whether the report for policy_domain may go to addr/host (from
 * am_report_rua_mailto()). On AM_REPORT_DEST_OK addr may have been
 * replaced by the destination's own rua= (same host). why says why on
 * REFUSED and TEMPFAIL.
 */
enum am_report_dest am_report_dest_verify(const struct am_dmarc_conf *conf,
    struct am_dns *dns, const char *policy_domain,
    char addr[AM_REPORT_ADDR_MAX], const char *host, struct am_buf *why);

/*
 * The same for a failure report (RFC 9991 s.5): the destination's own
 * ruf= (not rua=) may replace addr.
 */
enum am_report_dest am_report_dest_verify_ruf(const struct am_dmarc_conf *conf,
    struct am_dns *dns, const char *policy_domain,
    char addr[AM_REPORT_ADDR_MAX], const char *host, struct am_buf *why);

#endif
