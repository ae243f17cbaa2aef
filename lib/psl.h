/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * psl: the Public Suffix List, for RFC 7489 s.3.2 Organizational Domains.
 *
 * Loads the list in its published format (publicsuffix.org, Debian's
 * /usr/share/publicsuffix/public_suffix_list.dat): one rule per line,
 * "//" comments, "*." wildcard rules, "!" exception rules, the ICANN and
 * PRIVATE sections marked by "===BEGIN ICANN DOMAINS===" comments. Each rule
 * is kept in its Unicode form and its A-label form (RFC 3492 Punycode), so
 * a name matches whichever form it is given in, as the list's own test
 * vectors require.
 *
 * The matching algorithm is the list's own (publicsuffix.org "Algorithm"):
 * the prevailing rule is the exception rule if one matches, otherwise the
 * matching rule with most labels, otherwise "*"; the Organizational Domain
 * is the public suffix plus one label.
 *
 * A struct am_psl is immutable once loaded: any number of threads may look
 * names up at once. No globals (unlike libopendmarc's opendmarc_tld_*).
 */
#ifndef AM_PSL_H
#define AM_PSL_H

#include <stddef.h>

#include "buf.h"

#define AM_PSL_ICANN    0x1  /* rules of the ICANN section */
#define AM_PSL_PRIVATE  0x2  /* rules of the PRIVATE section */
#define AM_PSL_ALL      (AM_PSL_ICANN | AM_PSL_PRIVATE)

#define AM_PSL_MAX_FILE (16u * 1024 * 1024) /* bytes of list we read */

struct am_psl;

/*
 * Load the list at path, keeping the rules of the sections in `sections`
 * (AM_PSL_* bits). NULL with why on error (cannot read, too big, no rule).
 */
struct am_psl *am_psl_load(const char *path, int sections,
    struct am_buf *why);

/* The same from len bytes of list text in memory (for tests). */
struct am_psl *am_psl_parse(const char *text, size_t len, int sections,
    struct am_buf *why);

/* Free psl; returns NULL. NULL is a no-op. */
struct am_psl *am_psl_free(struct am_psl *psl);

/* Number of rules loaded (each rule once, whatever its forms). */
size_t am_psl_count(const struct am_psl *psl);

/*
 * The Organizational Domain (registrable domain) of domain into out (size
 * outsz): 0 on success; -1 when domain is itself a public suffix, or is
 * empty, has an empty label (".example.com") or does not fit. ASCII
 * letters are compared case-insensitively; out is lower case.
 */
int am_psl_org_domain(const struct am_psl *psl, const char *domain,
    char *out, size_t outsz);

/*
 * Convert a UTF-8 domain name to its A-label form (RFC 5890 s.2.3.2.1):
 * ASCII labels are lower-cased, other labels become "xn--" + Punycode.
 * No Unicode normalisation or case mapping (IDNA2008 mapping) is done: it
 * serves the list's own rules, which are written in that form. Names from
 * mail go through lib/idna (am_idna_to_ascii) instead.
 * Returns 0, or -1 on invalid UTF-8 or a result longer than outsz-1 or a
 * label over 63 bytes.
 */
int am_psl_to_ascii(const char *in, char *out, size_t outsz);

#endif
