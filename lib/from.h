/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * from: the author domains of a message, from its From header field.
 *
 * DMARC (RFC 9989 s.5.3.1) needs exactly one Author Domain: the domain of
 * the address(es) in the single RFC5322.From field. This module parses the
 * field value by RFC 5322 s.3.4 (mailbox, name-addr, angle-addr, addr-spec,
 * group) and s.3.2 (quoted strings, quoted-pairs, nested comments, folding
 * white space), with the obsolete forms of s.4.4 (obs-route, CFWS around
 * dots, empty list elements) and UTF-8 (RFC 6532) in words and domains.
 * Each domain is converted to lower-case A-labels by lib/idna (IDNA2008
 * with UTS #46 mapping, RFC 8616 s.6), so every spelling of one domain is
 * one string; a domain that cannot be converted is AM_FROM_BAD.
 * Encoded words (RFC 2047) in display names are atoms and are left alone.
 *
 * It never picks one address out of several silently: the caller gets every
 * distinct domain and a status saying whether they agree. Anything it cannot
 * parse is AM_FROM_BAD with a reason. Input size, address count, domain
 * count and comment depth are capped (AM_FROM_MAX_*).
 *
 * Entry points: am_from_parse() for one field value, am_from_parse_hdrs()
 * for a whole header (several From fields are an error, RFC 5322 s.3.6).
 * No state is kept between calls; safe on any number of threads.
 */
#ifndef AM_FROM_H
#define AM_FROM_H

#include <stddef.h>

#include "buf.h"
#include "dns.h"
#include "hdr.h"

#define AM_FROM_MAX_LEN     16384 /* bytes of field value we parse */
#define AM_FROM_MAX_ADDRS   64    /* mailboxes in one From field */
#define AM_FROM_MAX_DOMAINS 8     /* distinct domains we keep */
#define AM_FROM_MAX_DEPTH   32    /* comment nesting */

enum am_from_status {
	AM_FROM_NONE,       /* no From field at all */
	AM_FROM_ONE,        /* one mailbox: domain[0] is the Author Domain */
	AM_FROM_MULTI_SAME, /* several mailboxes, all in domain[0] */
	AM_FROM_MULTI_DIFF, /* several mailboxes in different domains
	                       (domain[0..ndomains-1]) */
	AM_FROM_BAD,        /* unparsable, no mailbox, a domain literal or an
	                       invalid domain, over a cap, or several From
	                       fields: why says which */
};

struct am_from {
	enum am_from_status status;
	size_t nfields;       /* From fields seen (am_from_parse_hdrs) */
	size_t naddrs;        /* mailboxes found */
	size_t ndomains;      /* distinct domains in domain[] */
	/* lower-case A-labels (lib/idna), no trailing dot */
	char domain[AM_FROM_MAX_DOMAINS][AM_DNS_NAME_MAX + 1];
};

/*
 * Parse one From field value (the bytes after the colon, folding CRLFs
 * included) of len bytes into out. Returns out->status; on AM_FROM_BAD why
 * (may be NULL) says what is wrong.
 */
enum am_from_status am_from_parse(const char *value, size_t len,
    struct am_from *out, struct am_buf *why);

/*
 * Find every From field in h and parse it: none is AM_FROM_NONE, more than
 * one is AM_FROM_BAD ("2 From fields"). Returns out->status.
 */
enum am_from_status am_from_parse_hdrs(const struct am_hdrs *h,
    struct am_from *out, struct am_buf *why);

/* Name of a status, for logs ("none", "one", "multi_same", ...). */
const char *am_from_status_name(enum am_from_status st);

#endif
